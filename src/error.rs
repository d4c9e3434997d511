//! The one error type of the crate.

use std::time::Duration;

/// Everything that can go wrong. [`Error::is_final`] tells a failure that retrying cannot fix
/// (a bad clientId, an unauthorized origin) from one worth retrying (a timeout, a 503).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The configuration is not usable (empty clientId, bad URL, bad certificate, …).
    #[error("invalid configuration: {0}")]
    Config(String),
    /// A message or argument is not valid (empty threadId, invalid JSON, …).
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
    /// The server refused a request body as too large (HTTP 413: an upload over the
    /// project's size limit). Final: the same file is refused again; send a smaller one.
    #[error("too large: {0}")]
    TooLarge(String),
    /// The server refused for good: `socket.info` answered 400/500 (bad clientId, sessionId or
    /// configuration) or 401–403 (unauthorized, origin not whitelisted). Not retried.
    #[error("rejected by the server (HTTP {status}): {message}")]
    Rejected {
        /// The HTTP status.
        status: u16,
        /// The server's words.
        message: String,
    },
    /// The server is unavailable for now (another 5xx, 429, …); worth retrying later.
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
    /// A network failure: refused, reset, unreachable, DNS. Retryable.
    #[error("network error: {0}")]
    Network(String),
    /// TLS failed (certificate not trusted, handshake failure). Not retried.
    #[error("TLS error: {0}")]
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

impl Error {
    /// True when retrying cannot help: configuration, invalid arguments, too large, rejection,
    /// TLS, closed clients.
    pub fn is_final(&self) -> bool {
        matches!(
            self,
            Error::Config(_)
                | Error::InvalidArgument(_)
                | Error::TooLarge(_)
                | Error::Rejected { .. }
                | Error::Tls(_)
                | Error::ConnectionClosed(_)
                | Error::AlreadyClosed
        )
    }

    /// True when the same call may succeed later (the opposite of [`Error::is_final`]).
    pub fn is_retryable(&self) -> bool {
        !self.is_final()
    }
}

/// The crate's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;
