//! `flowai_client`: a connection to Flow. Connect, send, wait for delivery, receive events
//! (blocking or through a callback), close, free.

use super::config::flowai_config;
use super::event::flowai_event;
use super::guard::{
    arg, arg_bool, arg_str, free_unless_null, guard, ok, out, owned_string, to_c_string,
};
use super::message::flowai_message;
use super::result::{flowai_result, Failure};
use crate::{Client, Dispatcher, TraceId};
use std::ffi::{c_char, c_void, CString};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Opaque connection to Flow, from `flowai_client_connect`. Every `flowai_client_*` call
/// but `flowai_client_free` may run on it from any thread at the same time (see "Thread
/// safety" at the top). After `flowai_client_close` every call returns `FLOWAI_CLOSED`
/// (getters return their last values) until the client is freed.
pub struct flowai_client {
    client: Arc<Client>,
    closed: AtomicBool,
    dispatcher: Mutex<Option<Dispatcher>>,
    has_callback: AtomicBool,
    thread_id: CString,
    session_id: CString,
}

/// A function the library calls with each event of a client, on the client's dispatcher
/// thread (one per client, named `flowai-dispatch`), one call at a time, in order.
/// `user_data` is the pointer given to `flowai_client_set_callback`; `event` is borrowed for
/// the call only (do not free it; copy it with `flowai_event_copy` to keep it). The callback
/// may call any flowai function on its own client (`flowai_client_send`,
/// `flowai_client_set_callback(client, NULL, NULL)`, `flowai_client_close`: these do not wait
/// for the callback itself) except `flowai_client_free`. It should not block for long (events
/// wait meanwhile) and must not unwind (C++ exceptions, longjmp).
pub type flowai_event_callback =
    Option<unsafe extern "C" fn(user_data: *mut c_void, event: *const flowai_event)>;

/// The C callback and its pointer; the C side promises they may be used from the
/// dispatcher thread (see `flowai_client_set_callback`).
struct CCallback {
    function: unsafe extern "C" fn(*mut c_void, *const flowai_event),
    user_data: *mut c_void,
}

// SAFETY: the caller of `flowai_client_set_callback` states that the callback and its
// user_data may be used from the dispatcher thread.
unsafe impl Send for CCallback {}

impl CCallback {
    fn call(&self, event: &crate::Event) {
        let view = flowai_event::borrowed(event);
        // SAFETY: the C side registered this function for calls from the dispatcher thread.
        unsafe { (self.function)(self.user_data, &view) };
    }
}

impl flowai_client {
    fn open(&self) -> Result<&Client, Failure> {
        if self.closed.load(Ordering::Acquire) {
            return Err(Failure::new(
                flowai_result::FLOWAI_CLOSED,
                "client used after flowai_client_close",
            ));
        }
        Ok(&self.client)
    }

    /// Takes the dispatcher, if any, asking it to stop without waiting for it. The stop is
    /// requested under the lock so that a concurrent unregister from inside the callback also
    /// sees no further calls; the caller waits with `Dispatcher::stop` outside it, so a
    /// callback that takes the lock cannot deadlock.
    fn detach_dispatcher(&self) -> Option<Dispatcher> {
        let mut slot = self.dispatcher.lock().unwrap_or_else(|p| p.into_inner());
        self.has_callback.store(false, Ordering::Release);
        let old = slot.take();
        if let Some(d) = &old {
            d.request_stop();
        }
        old
    }

    /// Stops the dispatcher, if any, and waits for it (unless called from inside it).
    fn stop_dispatcher(&self) {
        if let Some(d) = self.detach_dispatcher() {
            d.stop();
        }
    }

    /// Closes: marks the handle closed, asks the dispatcher to stop, closes the client
    /// (which wakes every blocked call, a callback's too, with `FLOWAI_CLOSED`), and only
    /// then waits for the dispatcher, whose callback can no longer be blocked on this client.
    fn close(&self) -> Result<(), crate::Error> {
        self.closed.store(true, Ordering::Release);
        let dispatcher = self.detach_dispatcher();
        let closed = self.client.close();
        if let Some(d) = dispatcher {
            d.stop();
        }
        closed
    }
}

fn ms(v: u32) -> Duration {
    Duration::from_millis(u64::from(v))
}

/// Connects: validates the config, fetches `socket.info`, opens the WebSocket (all within
/// the connect timeout) and starts the client's I/O and keepalive threads. Blocks until
/// connected or failed. The config is copied: it may be freed or reused right after.
///
/// On success `*client_out` is a new client owned by the caller: close it with
/// `flowai_client_close` (optional) and free it with `flowai_client_free`. The first event
/// is `FLOWAI_EVENT_CONNECTED`. Failures: `FLOWAI_CONFIG`, `FLOWAI_REJECTED`,
/// `FLOWAI_UNAVAILABLE`, `FLOWAI_NETWORK`, `FLOWAI_TLS`, `FLOWAI_PROTOCOL`, `FLOWAI_TIMEOUT`.
#[no_mangle]
pub unsafe extern "C" fn flowai_client_connect(
    config: *const flowai_config,
    client_out: *mut *mut flowai_client,
) -> flowai_result {
    guard(|| {
        let config = arg(config, "config")?;
        let client_out = out(client_out, "client_out")?;
        let client = Client::connect(config.inner.clone())?;
        let handle = Box::new(flowai_client {
            thread_id: to_c_string(client.thread_id()),
            session_id: to_c_string(client.session_id()),
            client: Arc::new(client),
            closed: AtomicBool::new(false),
            dispatcher: Mutex::new(None),
            has_callback: AtomicBool::new(false),
        });
        client_out.write(Box::into_raw(handle));
        ok()
    })
}

/// Queues a copy of `message` for sending and returns at once (the I/O thread writes it).
/// An empty threadId and a missing originator are taken from the config, a traceId is
/// assigned when the message has none, and the thread's nonce is added when one is known.
/// While disconnected the message waits in the outbox and goes out after the reconnect.
///
/// `trace_id_out` may be NULL; otherwise it receives the message's traceId, to give to
/// `flowai_client_wait_delivered`. Failures: `FLOWAI_INVALID_ARGUMENT` (the server would
/// refuse the message), `FLOWAI_OUTBOX_FULL`, `FLOWAI_CLOSED`, `FLOWAI_CONNECTION_CLOSED`.
#[no_mangle]
pub unsafe extern "C" fn flowai_client_send(
    client: *const flowai_client,
    message: *const flowai_message,
    trace_id_out: *mut u64,
) -> flowai_result {
    guard(|| {
        let client = arg(client, "client")?;
        let message = arg(message, "message")?;
        let trace = client.open()?.send(message.inner.clone())?;
        if !trace_id_out.is_null() {
            trace_id_out.write(trace.0);
        }
        ok()
    })
}

/// Like `flowai_client_send`, with the message given as JSON text: either the
/// `message.send` payload object or the whole frame `{"type":"message.send","payload":{…}}`.
/// The JSON is parsed and checked before anything is sent: malformed JSON, another frame
/// type or a message the server would refuse give `FLOWAI_INVALID_ARGUMENT` and send
/// nothing. `trace_id_out` may be NULL.
#[no_mangle]
pub unsafe extern "C" fn flowai_client_send_json(
    client: *const flowai_client,
    json: *const c_char,
    trace_id_out: *mut u64,
) -> flowai_result {
    guard(|| {
        let client = arg(client, "client")?;
        let json = arg_str(json, "json")?;
        let trace = client.open()?.send_json(json)?;
        if !trace_id_out.is_null() {
            trace_id_out.write(trace.0);
        }
        ok()
    })
}

/// Blocks until the message with this traceId is acknowledged by `message.delivered`
/// (`FLOWAI_OK`), or `timeout_ms` passes (`FLOWAI_TIMEOUT`). Keeps waiting across
/// reconnects; returns `FLOWAI_OK` at once for a traceId that is not waiting (already
/// delivered, or never sent). `FLOWAI_NOT_DELIVERED` when the connection was lost with the
/// outbox off.
#[no_mangle]
pub unsafe extern "C" fn flowai_client_wait_delivered(
    client: *const flowai_client,
    trace_id: u64,
    timeout_ms: u32,
) -> flowai_result {
    guard(|| {
        let client = arg(client, "client")?;
        client
            .open()?
            .wait_delivered(TraceId(trace_id), ms(timeout_ms))?;
        ok()
    })
}

/// Blocks until every queued message is acknowledged (`FLOWAI_OK`) or `timeout_ms` passes
/// (`FLOWAI_TIMEOUT`).
#[no_mangle]
pub unsafe extern "C" fn flowai_client_flush(
    client: *const flowai_client,
    timeout_ms: u32,
) -> flowai_result {
    guard(|| {
        let client = arg(client, "client")?;
        client.open()?.flush(ms(timeout_ms))?;
        ok()
    })
}

/// Blocks up to `timeout_ms` for the next event (0 polls without blocking). On `FLOWAI_OK`,
/// `*event_out` is an event owned by the caller: free it with `flowai_event_free`.
/// `FLOWAI_TIMEOUT` when none came in time (`*event_out` untouched). After the client has
/// stopped for good, the events still queued come first (the last is
/// `FLOWAI_EVENT_CLOSED`), then `FLOWAI_CONNECTION_CLOSED`. `FLOWAI_INVALID_STATE` while a
/// callback is registered (the callback receives the events).
#[no_mangle]
pub unsafe extern "C" fn flowai_client_recv(
    client: *const flowai_client,
    timeout_ms: u32,
    event_out: *mut *mut flowai_event,
) -> flowai_result {
    guard(|| {
        let client = arg(client, "client")?;
        let event_out = out(event_out, "event_out")?;
        let c = client.open()?;
        if client.has_callback.load(Ordering::Acquire) {
            return Err(Failure::new(
                flowai_result::FLOWAI_INVALID_STATE,
                "flowai_client_recv while an event callback is registered",
            ));
        }
        match c.recv_timeout(ms(timeout_ms))? {
            Some(event) => {
                event_out.write(Box::into_raw(Box::new(flowai_event::owned(event))));
                ok()
            }
            None => Err(Failure::new(
                flowai_result::FLOWAI_TIMEOUT,
                format!("no event within {timeout_ms} ms"),
            )),
        }
    })
}

/// Registers `callback` to receive every event of this client on a dispatcher thread the
/// library starts (see `flowai_event_callback`), replacing any callback registered before.
/// While a callback is registered, `flowai_client_recv` returns `FLOWAI_INVALID_STATE`.
///
/// A NULL `callback` unregisters: when this call returns, the old callback is not running
/// (unless this is called from inside it) and will never be called again. `user_data` is
/// passed to every call and may be NULL; it must stay valid until the callback is
/// unregistered, replaced, or the client is closed or freed. Callable from any thread,
/// including from inside the callback (a callback replaced from inside itself finishes its
/// current call while the new one may already start).
#[no_mangle]
pub unsafe extern "C" fn flowai_client_set_callback(
    client: *const flowai_client,
    callback: flowai_event_callback,
    user_data: *mut c_void,
) -> flowai_result {
    guard(|| {
        let client = arg(client, "client")?;
        client.open()?;
        client.stop_dispatcher();
        let Some(function) = callback else {
            return ok();
        };
        let c_callback = CCallback {
            function,
            user_data,
        };
        let mut slot = client.dispatcher.lock().unwrap_or_else(|p| p.into_inner());
        // Other threads may have registered meanwhile: the latest registration wins. Their
        // dispatchers are stopped without holding the lock (their callbacks may take it).
        while let Some(racing) = slot.take() {
            racing.request_stop();
            drop(slot);
            racing.stop();
            slot = client.dispatcher.lock().unwrap_or_else(|p| p.into_inner());
        }
        // A close that ran meanwhile must not be followed by a new dispatcher.
        client.open()?;
        *slot = Some(Dispatcher::start(client.client.clone(), move |event| {
            c_callback.call(event)
        }));
        client.has_callback.store(true, Ordering::Release);
        ok()
    })
}

/// Tells the server the user has seen a thread (`thread.noticed`); `thread_id` `""` means
/// the configured thread. Throttled like the official SDK, at most one per thread every 5 s,
/// unless `instantly` is 1 (0 or 1; other values give `FLOWAI_INVALID_ARGUMENT`).
/// `queued_out` may be NULL; otherwise it receives 1 when a frame was queued, 0 when
/// throttled.
#[no_mangle]
pub unsafe extern "C" fn flowai_client_noticed(
    client: *const flowai_client,
    thread_id: *const c_char,
    instantly: i32,
    queued_out: *mut i32,
) -> flowai_result {
    guard(|| {
        let client = arg(client, "client")?;
        let thread_id = arg_str(thread_id, "thread_id")?;
        let instantly = arg_bool(instantly, "instantly")?;
        let queued = client.open()?.noticed(thread_id, instantly)?;
        if !queued_out.is_null() {
            queued_out.write(i32::from(queued));
        }
        ok()
    })
}

/// Tells the server the user is typing in the configured thread
/// (`activity.user.typing`, with the configured originator).
#[no_mangle]
pub unsafe extern "C" fn flowai_client_user_typing(client: *const flowai_client) -> flowai_result {
    guard(|| {
        let client = arg(client, "client")?;
        client.open()?.user_typing(None)?;
        ok()
    })
}

/// The nonce (secret) the client knows for a thread: from `flowai_config_set_secret`, the
/// state file, `socket.info` or the latest `secret.generated` frame. `thread_id` `""` means
/// the configured thread.
///
/// On `FLOWAI_OK`, `*secret_out` is an owned string (free it with `flowai_string_free`), or
/// NULL when no secret is known for that thread (projects without client nonces).
#[no_mangle]
pub unsafe extern "C" fn flowai_client_secret(
    client: *const flowai_client,
    thread_id: *const c_char,
    secret_out: *mut *mut c_char,
) -> flowai_result {
    guard(|| {
        let client = arg(client, "client")?;
        let thread_id = arg_str(thread_id, "thread_id")?;
        let secret_out = out(secret_out, "secret_out")?;
        let c = client.open()?;
        let thread_id = if thread_id.trim().is_empty() {
            c.thread_id()
        } else {
            thread_id
        };
        let secret = c.secret(thread_id);
        secret_out.write(secret.map_or(std::ptr::null_mut(), |s| owned_string(&s)));
        ok()
    })
}

/// The past messages of a thread (`GET thread.history`); `thread_id` `""` means the
/// configured thread. Blocks for the HTTP request, bounded by the config's I/O timeout.
///
/// On `FLOWAI_OK`, `*json_out` is the answer's payload as JSON text, as the server sent it
/// (`{"threadId": …, "history": [{"type": "message.send", "payload": {…}}, …]}`, oldest
/// first), owned by the caller: free it with `flowai_string_free`. Failures:
/// `FLOWAI_REJECTED` (e.g. 401 for a wrong secret), `FLOWAI_UNAVAILABLE`, `FLOWAI_NETWORK`,
/// `FLOWAI_TLS`, `FLOWAI_PROTOCOL`, `FLOWAI_TIMEOUT`, `FLOWAI_CLOSED`.
#[no_mangle]
pub unsafe extern "C" fn flowai_client_history(
    client: *const flowai_client,
    thread_id: *const c_char,
    json_out: *mut *mut c_char,
) -> flowai_result {
    guard(|| {
        let client = arg(client, "client")?;
        let thread_id = arg_str(thread_id, "thread_id")?;
        let json_out = out(json_out, "json_out")?;
        let history = client.open()?.history(thread_id)?;
        json_out.write(owned_string(&history.raw.to_string()));
        ok()
    })
}

/// Whether a thread has messages the user has not seen (`GET thread.unnoticed`);
/// `thread_id` `""` means the configured thread. `flowai_client_noticed` clears it. Blocks
/// for the HTTP request, bounded by the config's I/O timeout.
///
/// On `FLOWAI_OK`, `*unnoticed_out` is 1 (unseen messages) or 0. Failures as for
/// `flowai_client_history`.
#[no_mangle]
pub unsafe extern "C" fn flowai_client_unnoticed(
    client: *const flowai_client,
    thread_id: *const c_char,
    unnoticed_out: *mut i32,
) -> flowai_result {
    guard(|| {
        let client = arg(client, "client")?;
        let thread_id = arg_str(thread_id, "thread_id")?;
        let unnoticed_out = out(unnoticed_out, "unnoticed_out")?;
        let unnoticed = client.open()?.unnoticed(thread_id)?;
        unnoticed_out.write(i32::from(unnoticed));
        ok()
    })
}

/// Merges threads (`POST thread.merger` with clientId, threadId, sessionId and
/// `merger_key`). `thread_id` `""` and `session_id` `""` mean the configured ones; an empty
/// `merger_key` gives `FLOWAI_INVALID_ARGUMENT`. Blocks for the HTTP request, bounded by the
/// config's I/O timeout. Failures as for `flowai_client_history`.
#[no_mangle]
pub unsafe extern "C" fn flowai_client_merge(
    client: *const flowai_client,
    merger_key: *const c_char,
    thread_id: *const c_char,
    session_id: *const c_char,
) -> flowai_result {
    guard(|| {
        let client = arg(client, "client")?;
        let merger_key = arg_str(merger_key, "merger_key")?;
        let thread_id = arg_str(thread_id, "thread_id")?;
        let session_id = arg_str(session_id, "session_id")?;
        client.open()?.merge(merger_key, thread_id, session_id)?;
        ok()
    })
}

/// Sends the file at `path` as an attachment (`POST thread.upload`, multipart/form-data),
/// streamed from disk, never read whole into memory. `message` (copied; NULL allowed, for an
/// empty message) is completed like `flowai_client_send` completes one (threadId,
/// originator, nonce); an empty speech becomes `file attachment`. The bot's answer to the
/// file arrives as a normal `FLOWAI_EVENT_REPLY`. Blocks until the server answered, bounded
/// by the config's I/O timeout plus one second per 64 KiB of file.
///
/// `result_out` may be NULL; otherwise on `FLOWAI_OK` it receives the answer's payload as
/// JSON text (`{"fileName": …, "size": …}`), owned by the caller: free it with
/// `flowai_string_free`. Failures: `FLOWAI_TOO_LARGE` (HTTP 413: over the server's limit),
/// `FLOWAI_IO` (the file cannot be read), `FLOWAI_INVALID_ARGUMENT` (a message the server
/// would refuse), and those of `flowai_client_history`.
#[no_mangle]
pub unsafe extern "C" fn flowai_client_upload(
    client: *const flowai_client,
    path: *const c_char,
    message: *const flowai_message,
    result_out: *mut *mut c_char,
) -> flowai_result {
    guard(|| {
        let client = arg(client, "client")?;
        let path = arg_str(path, "path")?;
        let message = if message.is_null() {
            crate::Message::default()
        } else {
            arg(message, "message")?.inner.clone()
        };
        let result = client.open()?.upload(path, message)?;
        if !result_out.is_null() {
            result_out.write(owned_string(&result.raw.to_string()));
        }
        ok()
    })
}

/// 1 while the WebSocket is open, 0 otherwise (between reconnects, after close, NULL).
#[no_mangle]
pub unsafe extern "C" fn flowai_client_is_connected(client: *const flowai_client) -> i32 {
    guard(|| {
        let client = arg(client, "client")?;
        Ok(i32::from(
            !client.closed.load(Ordering::Acquire) && client.client.is_connected(),
        ))
    })
}

/// Number of messages waiting for their `message.delivered` (0 for NULL).
#[no_mangle]
pub unsafe extern "C" fn flowai_client_pending(client: *const flowai_client) -> usize {
    guard(|| Ok(arg(client, "client")?.client.pending()))
}

/// The client's default threadId. Owned by the client: valid until `flowai_client_free`.
/// NULL for NULL.
#[no_mangle]
pub unsafe extern "C" fn flowai_client_thread_id(client: *const flowai_client) -> *const c_char {
    guard(|| Ok(arg(client, "client")?.thread_id.as_ptr()))
}

/// The client's sessionId (kept across reconnects). Owned by the client: valid until
/// `flowai_client_free`. NULL for NULL.
#[no_mangle]
pub unsafe extern "C" fn flowai_client_session_id(client: *const flowai_client) -> *const c_char {
    guard(|| Ok(arg(client, "client")?.session_id.as_ptr()))
}

/// Closes the connection (a WebSocket close frame when connected), stops the callback (if
/// any: it is not called again once this returns, unless this runs inside it) and joins the
/// client's threads. First every call blocked on the client, on any thread and inside the
/// callback too (`flowai_client_recv`, `flowai_client_wait_delivered`,
/// `flowai_client_flush`), is woken and returns `FLOWAI_CLOSED`; then the threads are
/// joined. Callable from any thread, including from inside the callback; returns within
/// milliseconds whatever the keepalive interval or the timeouts of the blocked calls; does
/// not wait for unacknowledged messages (call `flowai_client_flush` first for that).
/// Idempotent: closing again returns `FLOWAI_OK`. Every other call on the client then
/// returns `FLOWAI_CLOSED`.
#[no_mangle]
pub unsafe extern "C" fn flowai_client_close(client: *const flowai_client) -> flowai_result {
    guard(|| {
        arg(client, "client")?.close()?;
        ok()
    })
}

/// Closes the client if still open and frees it. NULL is a no-op. Must not race with any
/// other call on the same client; the client pointer is invalid afterwards.
#[no_mangle]
pub unsafe extern "C" fn flowai_client_free(client: *mut flowai_client) {
    guard(|| {
        free_unless_null(client, |c| {
            let client = Box::from_raw(c);
            let _ = client.close();
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ptr;

    #[test]
    fn null_client_is_an_error_code() {
        unsafe {
            assert_eq!(
                flowai_client_close(ptr::null()),
                flowai_result::FLOWAI_NULL_ARGUMENT
            );
            assert_eq!(flowai_client_is_connected(ptr::null()), 0);
            assert!(flowai_client_thread_id(ptr::null()).is_null());
            flowai_client_free(ptr::null_mut());
        }
    }
}
