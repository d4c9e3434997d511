//! Opening a connection: `socket.info` over HTTP(S) (docs/protocol.md §1), then the WebSocket
//! handshake on the single-use URL it returns, both on the client's [`Transport`] (DNS, TCP,
//! proxy tunnel, TLS; see the transport's docs for the deadline and cancellation). https/wss
//! verify certificates against the system roots plus any extra roots from the config.
//!
//! What is refused rather than followed: redirects (a 3xx is a final [`Error::Rejected`]
//! naming its `Location`, so the `x-flowai-*` headers never go anywhere else), and a `ws://`
//! endpoint from an `https://` `socket.info` or on another host (a final [`Error::Config`];
//! `allow_insecure(true)` accepts both).

use crate::config::Settings;
use crate::error::{Error, Result};
use crate::transport::http;
use crate::transport::url::encode_query_value;
use crate::transport::{Limit, Target};
use serde_json::Value;
use std::net::TcpStream;
use std::time::Duration;
use tungstenite::client::IntoClientRequest;
use tungstenite::protocol::WebSocketConfig;
use tungstenite::{HandshakeError, WebSocket};

pub use crate::transport::{Stream, Transport};

/// A connected WebSocket as the I/O thread drives it.
pub type Socket = WebSocket<Stream>;

/// What `socket.info` answered. Its `Debug` hides the secret and the endpoint's path (a
/// single-use URL is a credential for 60 seconds).
#[derive(Clone, PartialEq, Eq)]
pub struct SocketInfo {
    /// The single-use `ws://` or `wss://` URL, valid for 60 seconds.
    pub endpoint: String,
    /// The thread's nonce, when the project enables client nonces.
    pub secret: Option<String>,
}

/// The ids sent with `socket.info` and the REST calls, as query parameters and headers.
/// Its `Debug` hides the secret and the one-time token.
#[derive(Clone, Copy)]
pub struct RequestIds<'a> {
    /// The project's clientId.
    pub client_id: &'a str,
    /// The sessionId of this client.
    pub session_id: &'a str,
    /// The threadId.
    pub thread_id: &'a str,
    /// The thread's nonce, if known.
    pub secret: Option<&'a str>,
    /// A one-time token, if any.
    pub ott: Option<&'a str>,
}

impl std::fmt::Debug for SocketInfo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SocketInfo")
            .field("endpoint", &crate::secret::redact_url(&self.endpoint))
            .field("secret", &crate::secret::opt(&self.secret))
            .finish()
    }
}

impl std::fmt::Debug for RequestIds<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RequestIds")
            .field("client_id", &self.client_id)
            .field("session_id", &self.session_id)
            .field("thread_id", &self.thread_id)
            .field("secret", &crate::secret::opt(&self.secret))
            .field("ott", &crate::secret::opt(&self.ott))
            .finish()
    }
}

impl<'a> RequestIds<'a> {
    /// The `x-flowai-*` headers the official SDK sends, for the ids that are set.
    pub fn headers(&self) -> Vec<(&'static str, &'a str)> {
        let mut h = vec![
            ("x-flowai-clientid", self.client_id),
            ("x-flowai-sessionid", self.session_id),
            ("x-flowai-threadid", self.thread_id),
        ];
        if let Some(secret) = self.secret {
            h.push(("x-flowai-secret", secret));
        }
        if let Some(ott) = self.ott {
            h.push(("x-flowai-ott", ott));
        }
        h
    }
}

// The transport is a layer below the config (it knows nothing of `Settings`); making one
// from a config is the handshake's business, so this constructor lives here.
impl Transport {
    /// The transport for a config: TLS roots (the system's plus the config's), the proxy
    /// routes (the config's, or the environment's, read now), the insecure-transport rule.
    pub fn new(cfg: &Settings) -> Result<Transport> {
        Transport::with(cfg.root_certs_pem.clone(), &cfg.proxy, cfg.allow_insecure)
    }
}

/// Classifies a non-2xx HTTP status of `socket.info` or a REST call: 400 (bad clientId,
/// sessionId or configuration) and 401–403 (unauthorized, origin not whitelisted) are final
/// [`Error::Rejected`]; so is a redirect (3xx), which is never followed. Anything else —
/// every 5xx, 404, 429 — is [`Error::Unavailable`], worth retrying. (The official SDK also
/// treats 500 as final; this client retries it, like every 5xx, since a server error is the
/// server's to fix and usually passes.)
pub fn status_error(status: u16, message: String) -> Error {
    match status {
        // 3xx (a redirect), 400, 401-403.
        300..=403 => Error::Rejected { status, message },
        _ => Error::Unavailable { status, message },
    }
}

/// Reads a Flow JSON answer `{"status": "ok", "payload": …}` (status compared without case)
/// and returns the whole body; HTTP errors and non-ok statuses become classified errors, and
/// a redirect is refused with its target named.
pub(crate) fn read_flow_answer(response: http::Response, what: &str) -> Result<Value> {
    let status = response.status;
    let text = String::from_utf8_lossy(&response.body);
    if (300..400).contains(&status) {
        let to = response.location.as_deref().unwrap_or("(no Location)");
        return Err(status_error(
            status,
            format!(
                "{what}: redirected to {to}; redirects are not followed, so the x-flowai-* \
                 headers never reach another address: use that URL as the base URL"
            ),
        ));
    }
    let body: Option<Value> = serde_json::from_str(&text).ok();
    let message = body
        .as_ref()
        .and_then(|b| b.pointer("/payload/message").or_else(|| b.get("message")))
        .and_then(Value::as_str)
        .map(String::from)
        .unwrap_or_else(|| snippet(&text));
    if !(200..300).contains(&status) {
        return Err(status_error(status, format!("{what}: {message}")));
    }
    let body = body.ok_or_else(|| {
        Error::Protocol(format!(
            "{what} answered something that is not JSON: {}",
            snippet(&text)
        ))
    })?;
    let ok = body
        .get("status")
        .and_then(Value::as_str)
        .is_some_and(|s| s.eq_ignore_ascii_case("ok"));
    if !ok {
        return Err(Error::Rejected {
            status,
            message: format!("{what}: {message}"),
        });
    }
    Ok(body)
}

fn snippet(text: &str) -> String {
    let t: String = text.chars().take(120).collect();
    if t.is_empty() {
        "(empty body)".into()
    } else {
        t
    }
}

/// Largest JSON answer accepted from `socket.info` and the REST calls.
pub(crate) const MAX_ANSWER: usize = 4 << 20;

/// `GET {base}/socket.info?clientId=…&sessionId=…` with the `x-flowai-*` headers, within
/// `timeout` (a whole: DNS, connect, proxy, TLS, request and answer).
pub fn fetch_socket_info(
    transport: &Transport,
    cfg: &Settings,
    ids: RequestIds<'_>,
    timeout: Duration,
) -> Result<SocketInfo> {
    socket_info(transport, cfg, ids, &transport.limit(timeout))
}

/// [`fetch_socket_info`] within a limit shared with the rest of a connect.
pub(crate) fn socket_info(
    transport: &Transport,
    cfg: &Settings,
    ids: RequestIds<'_>,
    limit: &Limit,
) -> Result<SocketInfo> {
    let url = format!(
        "{}/socket.info?clientId={}&sessionId={}",
        cfg.base_url,
        encode_query_value(ids.client_id),
        encode_query_value(ids.session_id)
    );
    let target = Target::parse(&url).map_err(|e| Error::Config(format!("base URL: {e}")))?;
    log::debug!(
        "flowai: asking {}/socket.info for the WebSocket endpoint",
        crate::secret::redact_url(&cfg.base_url)
    );
    let request = http::Request {
        method: "GET",
        target: &target,
        headers: ids.headers(),
        body: http::Body::Empty,
    };
    let response = http::exchange(transport, request, limit, MAX_ANSWER, "socket.info")?;
    let body = read_flow_answer(response, "socket.info")?;
    let endpoint = body
        .pointer("/payload/endpoint")
        .and_then(Value::as_str)
        .ok_or_else(|| Error::Protocol("socket.info answer has no payload.endpoint".into()))?;
    if !(endpoint.starts_with("ws://") || endpoint.starts_with("wss://")) {
        return Err(Error::Protocol(format!(
            "socket.info endpoint is not a ws:// or wss:// URL: {}",
            snippet(&crate::secret::redact_url(endpoint))
        )));
    }
    check_endpoint(transport, &target, endpoint)?;
    Ok(SocketInfo {
        endpoint: endpoint.to_string(),
        secret: body.get("secret").and_then(Value::as_str).map(String::from),
    })
}

/// Refuses a `ws://` endpoint that would carry the nonce in clear: from an `https://`
/// `socket.info` (a downgrade), or to a host that is not this machine. Both are allowed with
/// `allow_insecure(true)`.
fn check_endpoint(transport: &Transport, base: &Target, endpoint: &str) -> Result<()> {
    let target = Target::parse(endpoint)
        .map_err(|e| Error::Protocol(format!("socket.info handed out a bad WebSocket URL: {e}")))?;
    if target.secure || transport.allow_insecure() {
        return Ok(());
    }
    if base.secure {
        return Err(Error::Config(format!(
            "socket.info over https handed out an unencrypted endpoint {}; refused (the nonce \
             would travel in clear). allow_insecure(true) accepts it",
            snippet(&crate::secret::redact_url(endpoint))
        )));
    }
    if !target.is_loopback() {
        return Err(Error::Config(format!(
            "socket.info handed out an unencrypted endpoint on another host ({}); refused: \
             ws:// is only for this machine unless allow_insecure(true)",
            snippet(&crate::secret::redact_url(endpoint))
        )));
    }
    Ok(())
}

/// Opens the WebSocket on a `socket.info` endpoint: TCP (through the proxy, if any), TLS for
/// wss (certificates checked), the upgrade with the optional `Origin` header, all within
/// `timeout`. Returns it with its stream non-blocking, for a poll loop.
pub fn connect_websocket(
    transport: &Transport,
    cfg: &Settings,
    endpoint: &str,
    timeout: Duration,
) -> Result<Socket> {
    websocket(transport, cfg, endpoint, &transport.limit(timeout))
}

/// [`connect_websocket`] within a limit shared with the rest of a connect.
pub(crate) fn websocket(
    transport: &Transport,
    cfg: &Settings,
    endpoint: &str,
    limit: &Limit,
) -> Result<Socket> {
    let mut request = endpoint.into_client_request().map_err(|e| {
        let url = crate::secret::redact_url(endpoint);
        Error::Protocol(format!("bad WebSocket URL {url}: {e}"))
    })?;
    log::debug!(
        "flowai: opening the WebSocket {}",
        crate::secret::redact_url(endpoint)
    );
    if let Some(origin) = &cfg.origin {
        let value = origin
            .parse()
            .map_err(|_| Error::Config(format!("origin {origin:?} is not a valid header value")))?;
        request.headers_mut().insert("Origin", value);
    }
    let target =
        Target::parse(endpoint).map_err(|e| Error::Protocol(format!("bad WebSocket URL: {e}")))?;
    let stream = transport.open(&target, limit)?;
    // tungstenite zero-fills its whole read buffer on each read: a small one keeps an idle
    // connection's resident memory small (128 KiB by default, 32 KiB with this).
    let ws_config = WebSocketConfig::default()
        .read_buffer_size(4096)
        .max_message_size(Some(cfg.max_message_size))
        .max_frame_size(Some(cfg.max_message_size));
    // The stream waits in poll itself (bounded by the limit), so the handshake never sees
    // WouldBlock; `Interrupted` is handled anyway, as an error.
    let (mut socket, _response) =
        tungstenite::client::client_with_config(request, stream, Some(ws_config)).map_err(|e| {
            match e {
                HandshakeError::Interrupted(_) => limit.explain(Error::Network(format!(
                    "WebSocket handshake with {} did not complete",
                    target.authority()
                ))),
                HandshakeError::Failure(e) => limit.explain(ws_error(e, limit.budget())),
            }
        })?;
    socket.get_mut().set_limit(None);
    Ok(socket)
}

/// The TCP stream under a socket, plain or TLS.
pub fn tcp_of(socket: &Socket) -> &TcpStream {
    socket.get_ref().tcp()
}

/// Turns a tungstenite failure into our error.
pub(crate) fn ws_error(e: tungstenite::Error, timeout: Duration) -> Error {
    use tungstenite::Error as W;
    match e {
        W::Http(response) => {
            let status = response.status().as_u16();
            Error::Unavailable {
                status,
                message: format!("WebSocket upgrade refused with HTTP {status}"),
            }
        }
        W::Io(e)
            if matches!(
                e.kind(),
                std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
            ) =>
        {
            Error::Timeout(timeout)
        }
        W::Io(e) => Error::Network(e.to_string()),
        W::Tls(e) => Error::Network(format!("TLS: {e}")),
        W::Capacity(e) => Error::Protocol(format!("frame too large: {e}")),
        W::ConnectionClosed | W::AlreadyClosed => Error::Network("connection closed".into()),
        other => Error::Protocol(other.to_string()),
    }
}
