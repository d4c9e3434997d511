//! The one error type of the crate.

use std::time::Duration;

/// Everything that can go wrong. [`Error::is_final`] tells a failure that retrying cannot fix
/// (a bad clientId, an unauthorized origin, a certificate that fails verification) from one
/// worth retrying (a timeout, a reset, a DNS failure, a 5xx).
///
/// | class | variants | examples |
/// |---|---|---|
/// | final | `Config`, `InvalidArgument`, `TooLarge`, `Rejected`, `Tls`, `ConnectionClosed`, `AlreadyClosed` | bad config; `http://` to another host; proxy 407; HTTP 400/401–403 or a redirect from `socket.info`; certificate expired, for another host or from an unknown CA |
/// | retryable | `Unavailable`, `Protocol`, `Network`, `Timeout`, `OutboxFull`, `NotDelivered`, `Io` | every 5xx (500 too), 404, 429; refused, reset, EOF (also during TLS or the upgrade); DNS failures; any deadline passed |
///
/// The reconnect loop retries every retryable failure for as long as it is configured to;
/// a final one ends the client with `Event::Closed`.
#[derive(Debug, thiserror::Error, strum::EnumDiscriminants)]
#[strum_discriminants(
    name(ErrorKind),
    vis(pub(crate)),
    derive(strum::EnumIter),
    doc = "The kind of an [`Error`], without its details: derived from `Error` itself, so \
           the variants cannot drift apart. The C result codes are mapped from it."
)]
#[non_exhaustive]
pub enum Error {
    /// The configuration is not usable (empty clientId, bad URL, bad certificate, an
    /// `http://` base URL or a `ws://` endpoint to another machine without `allow_insecure`,
    /// a proxy that wants other credentials (HTTP 407), …).
    #[error("invalid configuration: {0}")]
    Config(String),
    /// A message or argument is not valid (empty threadId, invalid JSON, …).
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
    /// The server refused a request body as too large (HTTP 413: an upload over the
    /// project's size limit). Final: the same file is refused again; send a smaller one.
    #[error("too large: {0}")]
    TooLarge(String),
    /// The server refused for good: `socket.info` or a REST call answered 400 (bad clientId,
    /// sessionId or configuration), 401–403 (unauthorized, origin not whitelisted) or a
    /// redirect (3xx: never followed, the message names where it pointed), or a proxy
    /// refused to open a tunnel to the server (403). Not retried.
    #[error("rejected by the server (HTTP {status}): {message}")]
    Rejected {
        /// The HTTP status.
        status: u16,
        /// The server's words.
        message: String,
    },
    /// The server is unavailable for now (any 5xx, 500 included; 404, 429, a refused
    /// WebSocket upgrade, a proxy that cannot reach the server); worth retrying later.
    #[error("server unavailable (HTTP {status}): {message}")]
    Unavailable {
        /// The HTTP status.
        status: u16,
        /// The server's words.
        message: String,
    },
    /// The server answered something that is not the protocol (HTML, JSON without endpoint,
    /// an endpoint that is not ws/wss, a malformed frame).
    #[error("protocol error: {0}")]
    Protocol(String),
    /// A network failure: refused, reset, unreachable, DNS, EOF; also a TLS handshake that the
    /// network broke (reset or EOF before the certificate was checked). Retryable.
    #[error("network error: {0}")]
    Network(String),
    /// The server's certificate failed verification; the message says which check: expired
    /// (or not yet valid), hostname mismatch, unknown issuer (CA not trusted), or another
    /// verification failure. Not retried.
    #[error("TLS certificate verification failed: {0}")]
    Tls(String),
    /// A blocking call did not finish in time.
    #[error("timed out after {0:?}")]
    Timeout(Duration),
    /// The outbox is full: the message was NOT queued. Wait for deliveries and send again.
    #[error("outbox full ({0} messages waiting for delivery); message not queued")]
    OutboxFull(usize),
    /// The message was sent but its delivery can no longer be confirmed (connection lost with
    /// the outbox turned off).
    #[error("message {0} was not acknowledged before the connection was lost")]
    NotDelivered(u64),
    /// The client has stopped (closed by a final error or after the last reconnect attempt);
    /// there is nothing more to receive.
    #[error("connection closed: {0}")]
    ConnectionClosed(String),
    /// The client was used after `close()`.
    #[error("client already closed")]
    AlreadyClosed,
    /// A file could not be read or written (upload, state file).
    #[error("I/O error: {0}")]
    Io(#[from] std::io::Error),
}

impl ErrorKind {
    /// True when retrying cannot help: configuration, invalid arguments, too large,
    /// rejection, certificate verification, closed clients (the table on [`Error`]). The one
    /// list of final failures: `Error::is_final` and the C `flowai_result_is_final` read it.
    pub(crate) fn is_final(self) -> bool {
        matches!(
            self,
            ErrorKind::Config
                | ErrorKind::InvalidArgument
                | ErrorKind::TooLarge
                | ErrorKind::Rejected
                | ErrorKind::Tls
                | ErrorKind::ConnectionClosed
                | ErrorKind::AlreadyClosed
        )
    }
}

impl Error {
    /// True when retrying cannot help: configuration, invalid arguments, too large, rejection,
    /// certificate verification, closed clients (the table on [`Error`]).
    pub fn is_final(&self) -> bool {
        self.kind().is_final()
    }

    /// The kind of this error, without its details.
    pub(crate) fn kind(&self) -> ErrorKind {
        ErrorKind::from(self)
    }

    /// True when the same call may succeed later (the opposite of [`Error::is_final`]).
    pub fn is_retryable(&self) -> bool {
        !self.is_final()
    }
}

/// The text of a panic payload (a `&str` or `String` message, else "unknown panic").
pub(crate) fn panic_text(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "unknown panic".to_string()
    }
}

/// Runs `body`, catching a panic: `Err` carries its text. The payload is dropped under a
/// guard too (dropping one can itself panic).
pub(crate) fn catch_panic<T>(body: impl FnOnce() -> T) -> std::result::Result<T, String> {
    use std::panic::{catch_unwind, AssertUnwindSafe};
    catch_unwind(AssertUnwindSafe(body)).map_err(|payload| {
        let text = panic_text(payload.as_ref());
        let _ = catch_unwind(AssertUnwindSafe(move || drop(payload)));
        text
    })
}

/// The crate's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;
