//! `flowai_config`: the settings of a client, built with setters before
//! `flowai_client_connect`. Values are checked when the client connects (`FLOWAI_CONFIG`).

use super::guard::{arg_bool, arg_mut, arg_str, free_unless_null, guard, ok, out};
use super::message::role_arg;
use super::result::{flowai_result, Failure};
use crate::config::Config;
use crate::SessionPolicy;
use std::ffi::c_char;
use std::time::Duration;

/// Opaque client settings. Create with `flowai_config_new`, free with `flowai_config_free`.
/// A config is not shared between threads while it is being changed; `flowai_client_connect`
/// copies it, so it may be freed or reused right after.
pub struct flowai_config {
    pub(crate) inner: Config,
}

impl flowai_config {
    fn update(&mut self, f: impl FnOnce(Config) -> Config) -> Result<flowai_result, Failure> {
        self.inner = f(self.inner.clone());
        ok()
    }
}

/// What a restart with a state file does with the sessionId, for
/// `flowai_config_set_session_policy`.
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[allow(non_camel_case_types)]
pub enum flowai_session_policy {
    /// Reuse the sessionId saved in the state file, as the official SDK does (the default).
    FLOWAI_SESSION_POLICY_KEEP = 0,
    /// A new random sessionId at every start (still kept across reconnects and saved).
    FLOWAI_SESSION_POLICY_RENEW = 1,
}

fn ms(v: u32) -> Duration {
    Duration::from_millis(u64::from(v))
}

/// Creates a configuration for this Flow clientId with every default: base URL
/// `https://sdk.flow.ai`, a random sessionId, a threadId made like the official SDK's,
/// keepalive every 25 s, pong timeout 10 s, connect timeout 10 s, 1 MiB frames, reconnect
/// with backoff 100 ms–20 s, outbox of 10,000 messages.
///
/// On success `*config_out` receives a new handle, owned by the caller: free it with
/// `flowai_config_free`.
#[no_mangle]
pub unsafe extern "C" fn flowai_config_new(
    client_id: *const c_char,
    config_out: *mut *mut flowai_config,
) -> flowai_result {
    guard(|| {
        let client_id = arg_str(client_id, "client_id")?;
        let config_out = out(config_out, "config_out")?;
        let handle = Box::new(flowai_config {
            inner: Config::new(client_id),
        });
        config_out.write(Box::into_raw(handle));
        ok()
    })
}

/// Frees a configuration. NULL is a no-op.
#[no_mangle]
pub unsafe extern "C" fn flowai_config_free(config: *mut flowai_config) {
    guard(|| free_unless_null(config, |c| drop(Box::from_raw(c))))
}

/// Sets the server base URL (`https://…`; `http://` for a local emulator). A trailing `/`
/// is removed.
#[no_mangle]
pub unsafe extern "C" fn flowai_config_set_base_url(
    config: *mut flowai_config,
    base_url: *const c_char,
) -> flowai_result {
    guard(|| {
        let config = arg_mut(config, "config")?;
        let base_url = arg_str(base_url, "base_url")?;
        config.update(|c| c.base_url(base_url))
    })
}

/// Sets the default threadId, used by messages that name none.
#[no_mangle]
pub unsafe extern "C" fn flowai_config_set_thread_id(
    config: *mut flowai_config,
    thread_id: *const c_char,
) -> flowai_result {
    guard(|| {
        let config = arg_mut(config, "config")?;
        let thread_id = arg_str(thread_id, "thread_id")?;
        config.update(|c| c.thread_id(thread_id))
    })
}

/// Sets the sessionId (kept across reconnects; default: random 32 hex characters).
#[no_mangle]
pub unsafe extern "C" fn flowai_config_set_session_id(
    config: *mut flowai_config,
    session_id: *const c_char,
) -> flowai_result {
    guard(|| {
        let config = arg_mut(config, "config")?;
        let session_id = arg_str(session_id, "session_id")?;
        config.update(|c| c.session_id(session_id))
    })
}

/// Sets the `Origin` header of the WebSocket handshake, for projects that whitelist domains.
#[no_mangle]
pub unsafe extern "C" fn flowai_config_set_origin(
    config: *mut flowai_config,
    origin: *const c_char,
) -> flowai_result {
    guard(|| {
        let config = arg_mut(config, "config")?;
        let origin = arg_str(origin, "origin")?;
        config.update(|c| c.origin(origin))
    })
}

/// Sets a one-time token, sent as `x-flowai-ott` with `socket.info` (the official SDK's
/// `ott` option).
#[no_mangle]
pub unsafe extern "C" fn flowai_config_set_ott(
    config: *mut flowai_config,
    ott: *const c_char,
) -> flowai_result {
    guard(|| {
        let config = arg_mut(config, "config")?;
        let ott = arg_str(ott, "ott")?;
        config.update(|c| c.ott(ott))
    })
}

/// Sets a nonce (secret) already known for the configured thread (projects with client
/// nonces; the client learns new ones from the server by itself).
#[no_mangle]
pub unsafe extern "C" fn flowai_config_set_secret(
    config: *mut flowai_config,
    secret: *const c_char,
) -> flowai_result {
    guard(|| {
        let config = arg_mut(config, "config")?;
        let secret = arg_str(secret, "secret")?;
        config.update(|c| c.secret(secret))
    })
}

/// Sets how often a keepalive `ping` is sent, in milliseconds; 0 turns keepalive off (the
/// server then closes the connection after 50 s without traffic). Default 25,000.
#[no_mangle]
pub unsafe extern "C" fn flowai_config_set_keepalive_ms(
    config: *mut flowai_config,
    interval_ms: u32,
) -> flowai_result {
    guard(|| {
        let config = arg_mut(config, "config")?;
        let every = (interval_ms > 0).then(|| ms(interval_ms));
        config.update(|c| c.keepalive_interval(every))
    })
}

/// Sets how long after a ping without any frame back the connection is declared dead and
/// reconnected, in milliseconds (default 10,000; must be above 0).
#[no_mangle]
pub unsafe extern "C" fn flowai_config_set_pong_timeout_ms(
    config: *mut flowai_config,
    timeout_ms: u32,
) -> flowai_result {
    guard(|| {
        let config = arg_mut(config, "config")?;
        config.update(|c| c.pong_timeout(ms(timeout_ms)))
    })
}

/// Sets the one deadline of a whole connect or reconnect, in milliseconds (default 10,000;
/// must be above 0): DNS, TCP, a proxy's `CONNECT`, TLS, `socket.info` and the WebSocket
/// upgrade together; a server that drip-feeds bytes cannot stretch it.
/// `flowai_client_connect` blocks at most about this long.
#[no_mangle]
pub unsafe extern "C" fn flowai_config_set_connect_timeout_ms(
    config: *mut flowai_config,
    timeout_ms: u32,
) -> flowai_result {
    guard(|| {
        let config = arg_mut(config, "config")?;
        config.update(|c| c.connect_timeout(ms(timeout_ms)))
    })
}

/// Sets the deadline of a whole REST call (history, unnoticed, merge; an upload gets this plus
/// its size at 64 KiB/s) and of a socket write that cannot progress, in milliseconds
/// (default 10,000; must be above 0).
#[no_mangle]
pub unsafe extern "C" fn flowai_config_set_io_timeout_ms(
    config: *mut flowai_config,
    timeout_ms: u32,
) -> flowai_result {
    guard(|| {
        let config = arg_mut(config, "config")?;
        config.update(|c| c.io_timeout(ms(timeout_ms)))
    })
}

/// Trusts one more root certificate (PEM text) besides the system's, for https and wss.
/// May be called several times. A certificate that does not parse fails the connect with
/// `FLOWAI_CONFIG`.
#[no_mangle]
pub unsafe extern "C" fn flowai_config_add_root_certificate_pem(
    config: *mut flowai_config,
    pem: *const c_char,
) -> flowai_result {
    guard(|| {
        let config = arg_mut(config, "config")?;
        let pem = arg_str(pem, "pem")?;
        config.update(|c| c.add_root_certificate_pem(pem))
    })
}

/// Sets the largest incoming frame in bytes (default 1 MiB, at least 1024); a larger frame
/// arrives as a `FLOWAI_EVENT_PROTOCOL_ERROR` event.
#[no_mangle]
pub unsafe extern "C" fn flowai_config_set_max_message_size(
    config: *mut flowai_config,
    bytes: usize,
) -> flowai_result {
    guard(|| {
        let config = arg_mut(config, "config")?;
        config.update(|c| c.max_message_size(bytes))
    })
}

/// Reconnect after an abnormal disconnect: 1 (default) or 0. Other values give
/// `FLOWAI_INVALID_ARGUMENT`.
#[no_mangle]
pub unsafe extern "C" fn flowai_config_set_reconnect(
    config: *mut flowai_config,
    on: i32,
) -> flowai_result {
    guard(|| {
        let config = arg_mut(config, "config")?;
        let on = arg_bool(on, "on")?;
        config.update(|c| c.reconnect(on))
    })
}

/// Hand each keepalive `pong` over as a `FLOWAI_EVENT_PONG` event: 1, or 0 (default: pongs
/// only keep the connection alive, so a loop that receives until a timeout still ends).
/// Other values give `FLOWAI_INVALID_ARGUMENT`.
#[no_mangle]
pub unsafe extern "C" fn flowai_config_set_pong_events(
    config: *mut flowai_config,
    on: i32,
) -> flowai_result {
    guard(|| {
        let config = arg_mut(config, "config")?;
        let on = arg_bool(on, "on")?;
        config.update(|c| c.pong_events(on))
    })
}

/// At-least-once delivery: 1 (default) keeps unacknowledged messages and re-sends them after
/// a reconnect; 0 is at-most-once (a lost message is reported as not delivered). Other
/// values give `FLOWAI_INVALID_ARGUMENT`.
#[no_mangle]
pub unsafe extern "C" fn flowai_config_set_outbox(
    config: *mut flowai_config,
    on: i32,
) -> flowai_result {
    guard(|| {
        let config = arg_mut(config, "config")?;
        let on = arg_bool(on, "on")?;
        config.update(|c| c.outbox(on))
    })
}

/// Sets the most messages waiting for delivery (default 10,000; above 0); beyond it
/// `flowai_client_send` fails with `FLOWAI_OUTBOX_FULL`.
#[no_mangle]
pub unsafe extern "C" fn flowai_config_set_max_outbox(
    config: *mut flowai_config,
    messages: usize,
) -> flowai_result {
    guard(|| {
        let config = arg_mut(config, "config")?;
        config.update(|c| c.max_outbox(messages))
    })
}

/// Sets the most events waiting to be received (default 10,000; above 0). The client keeps
/// reading when the queue is full (acknowledgements, pongs and the dead-peer check never wait
/// for you): an event that does not fit is counted instead of queued, and the count arrives
/// in its place as one `FLOWAI_EVENT_OVERFLOW`.
#[no_mangle]
pub unsafe extern "C" fn flowai_config_set_max_queued_events(
    config: *mut flowai_config,
    events: usize,
) -> flowai_result {
    guard(|| {
        let config = arg_mut(config, "config")?;
        config.update(|c| c.max_queued_events(events))
    })
}

/// Sets the most bytes held in events waiting to be received (default 64 MiB, at least the
/// max message size), counted on the text of the frames as received plus a small fixed size
/// per event. Beyond it events are counted, not queued, as with
/// `flowai_config_set_max_queued_events`.
#[no_mangle]
pub unsafe extern "C" fn flowai_config_set_max_queued_bytes(
    config: *mut flowai_config,
    bytes: usize,
) -> flowai_result {
    guard(|| {
        let config = arg_mut(config, "config")?;
        config.update(|c| c.max_queued_bytes(bytes))
    })
}

/// Sets the reconnect backoff: the first delay ceiling `min_ms` (default 100), the largest
/// delay `max_ms` (default 20,000; `0 < min_ms <= max_ms`), and `max_attempts` failed
/// attempts in a row before giving up (0, the default, retries for ever).
#[no_mangle]
pub unsafe extern "C" fn flowai_config_set_backoff(
    config: *mut flowai_config,
    min_ms: u32,
    max_ms: u32,
    max_attempts: u32,
) -> flowai_result {
    guard(|| {
        let config = arg_mut(config, "config")?;
        let backoff = crate::Backoff {
            min: ms(min_ms),
            max: ms(max_ms),
            max_attempts: (max_attempts > 0).then_some(max_attempts),
        };
        config.update(|c| c.backoff(backoff))
    })
}

/// Keeps threadId, sessionId and secret in this file across restarts, so a restarted
/// program continues the same conversation.
#[no_mangle]
pub unsafe extern "C" fn flowai_config_set_state_file(
    config: *mut flowai_config,
    path: *const c_char,
) -> flowai_result {
    guard(|| {
        let config = arg_mut(config, "config")?;
        let path = arg_str(path, "path")?;
        config.update(|c| c.state_file(path))
    })
}

/// Sets what a restart with a state file does with the sessionId: a `flowai_session_policy`
/// value, `FLOWAI_SESSION_POLICY_KEEP` (0, the default: reuse the saved one) or
/// `FLOWAI_SESSION_POLICY_RENEW` (1: a new one at every start). Other values give
/// `FLOWAI_INVALID_ARGUMENT`. Without a state file it changes nothing.
#[no_mangle]
pub unsafe extern "C" fn flowai_config_set_session_policy(
    config: *mut flowai_config,
    policy: u32,
) -> flowai_result {
    guard(|| {
        let config = arg_mut(config, "config")?;
        let policy = match policy {
            p if p == flowai_session_policy::FLOWAI_SESSION_POLICY_KEEP as u32 => {
                SessionPolicy::Keep
            }
            p if p == flowai_session_policy::FLOWAI_SESSION_POLICY_RENEW as u32 => {
                SessionPolicy::Renew
            }
            other => {
                return Err(Failure::new(
                    flowai_result::FLOWAI_INVALID_ARGUMENT,
                    format!("unknown flowai_session_policy {other}"),
                ))
            }
        };
        config.update(|c| c.session_policy(policy))
    })
}

/// Sets the display name of the default originator, used by messages, uploads and
/// `flowai_client_user_typing` that name none (default `Anonymous`).
#[no_mangle]
pub unsafe extern "C" fn flowai_config_set_originator_name(
    config: *mut flowai_config,
    name: *const c_char,
) -> flowai_result {
    guard(|| {
        let config = arg_mut(config, "config")?;
        let name = arg_str(name, "name")?;
        config.update(|c| {
            let mut originator = c.settings().originator().clone();
            originator.name = name.to_string();
            c.originator(originator)
        })
    })
}

/// Sets the role of the default originator: a `flowai_role` value (`FLOWAI_ROLE_EXTERNAL`,
/// the default, or `FLOWAI_ROLE_MODERATOR`). Other values give `FLOWAI_INVALID_ARGUMENT`.
#[no_mangle]
pub unsafe extern "C" fn flowai_config_set_originator_role(
    config: *mut flowai_config,
    role: u32,
) -> flowai_result {
    guard(|| {
        let config = arg_mut(config, "config")?;
        let role = role_arg(role)?;
        config.update(|c| {
            let mut originator = c.settings().originator().clone();
            originator.role = role;
            c.originator(originator)
        })
    })
}

/// Sends every connection (`socket.info`, REST calls, the WebSocket) through this HTTP proxy
/// with an HTTP `CONNECT` tunnel: `http://[user:password@]host[:port]` (Basic authentication
/// from the user and password; port 80 when none is given). It applies to every host,
/// loopback included, and the proxy environment variables are then ignored. Without this
/// call (and without `flowai_config_set_no_proxy`) the client follows `HTTPS_PROXY`,
/// `HTTP_PROXY`, `ALL_PROXY` and `NO_PROXY` (either case), except for loopback hosts. A URL
/// that does not parse (or is not `http://`) fails the connect with `FLOWAI_CONFIG`; a proxy
/// that answers 407 fails it with `FLOWAI_CONFIG` too (final).
#[no_mangle]
pub unsafe extern "C" fn flowai_config_set_proxy(
    config: *mut flowai_config,
    url: *const c_char,
) -> flowai_result {
    guard(|| {
        let config = arg_mut(config, "config")?;
        let url = arg_str(url, "url")?;
        config.update(|c| c.proxy(url))
    })
}

/// Connects directly, whatever the proxy environment variables say (undoes
/// `flowai_config_set_proxy`).
#[no_mangle]
pub unsafe extern "C" fn flowai_config_set_no_proxy(config: *mut flowai_config) -> flowai_result {
    guard(|| {
        let config = arg_mut(config, "config")?;
        config.update(|c| c.no_proxy())
    })
}

/// Allows unencrypted transport to other machines: 1, or 0 (the default). With 0 an
/// `http://` base URL for a host other than this machine (`localhost`, `127.0.0.0/8`, `::1`)
/// fails the connect with `FLOWAI_CONFIG`, and so does a `ws://` WebSocket endpoint handed
/// out by an `https://` `socket.info` or on another host, since the clientId, the nonce and
/// the messages would travel in clear. Other values give `FLOWAI_INVALID_ARGUMENT`.
#[no_mangle]
pub unsafe extern "C" fn flowai_config_set_allow_insecure(
    config: *mut flowai_config,
    on: i32,
) -> flowai_result {
    guard(|| {
        let config = arg_mut(config, "config")?;
        let on = arg_bool(on, "on")?;
        config.update(|c| c.allow_insecure(on))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::Role;
    use std::ptr;

    fn config() -> *mut flowai_config {
        let mut c = ptr::null_mut();
        let code = unsafe { flowai_config_new(c"id".as_ptr(), &mut c) };
        assert_eq!(code, flowai_result::FLOWAI_OK);
        c
    }

    #[test]
    fn ott_policy_and_originator_reach_the_config() {
        let c = config();
        unsafe {
            assert_eq!(
                flowai_config_set_ott(c, c"token".as_ptr()),
                flowai_result::FLOWAI_OK
            );
            assert_eq!(
                flowai_config_set_session_policy(c, 1),
                flowai_result::FLOWAI_OK
            );
            assert_eq!(
                flowai_config_set_session_policy(c, 2),
                flowai_result::FLOWAI_INVALID_ARGUMENT
            );
            assert_eq!(
                flowai_config_set_originator_name(c, c"Jane".as_ptr()),
                flowai_result::FLOWAI_OK
            );
            assert_eq!(
                flowai_config_set_originator_role(c, 1),
                flowai_result::FLOWAI_OK
            );
            assert_eq!(
                flowai_config_set_originator_role(c, 7),
                flowai_result::FLOWAI_INVALID_ARGUMENT
            );
            let inner = (*c).inner.settings();
            assert_eq!(inner.ott().map(|t| t.expose()), Some("token"));
            assert_eq!(inner.session_policy(), SessionPolicy::Renew);
            assert_eq!(inner.originator().name, "Jane");
            assert_eq!(inner.originator().role, Role::Moderator);
            flowai_config_free(c);
        }
    }

    #[test]
    fn proxy_and_insecure_settings_reach_the_config() {
        use crate::ProxySetting;
        let c = config();
        unsafe {
            let ok = flowai_result::FLOWAI_OK;
            assert_eq!(flowai_config_set_proxy(c, c"http://p:3128".as_ptr()), ok);
            assert_eq!(
                *(*c).inner.settings().proxy(),
                ProxySetting::Url("http://p:3128".into())
            );
            assert_eq!(flowai_config_set_no_proxy(c), ok);
            assert_eq!(*(*c).inner.settings().proxy(), ProxySetting::Off);
            assert_eq!(flowai_config_set_allow_insecure(c, 1), ok);
            assert!((*c).inner.settings().allow_insecure());
            assert_eq!(
                flowai_config_set_allow_insecure(c, 2),
                flowai_result::FLOWAI_INVALID_ARGUMENT
            );
            flowai_config_free(c);
        }
    }
}
