//! The exit status of `flowai`: one per failure class, so a script can tell a typo from a
//! rejected clientId from an outage without reading the message.
//!
//! | status | class | when |
//! |---|---|---|
//! | 0 | success | |
//! | 1 | other | local I/O, the embedded emulator could not start, a benchmark check failed |
//! | 2 | usage | unknown flag, missing value (printed by the argument parser) |
//! | 3 | config | a setting or argument the library refuses (bad URL, empty threadId, …) |
//! | 4 | rejected | the server refused for good: HTTP 400/401/403 or a redirect on `socket.info`, a certificate that failed verification |
//! | 5 | network | refused, reset, DNS, timeouts, 5xx, a connection lost for good, no reply in time |
//! | 6 | protocol | the server does not speak the protocol (HTML, a bad frame, no endpoint) |

use flowai_socket::Error;
use std::process::ExitCode;

/// A failure class, which is the exit status (the table above says which failures each
/// class holds).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Class(u8);

impl Class {
    /// Anything that fits no other class.
    pub const OTHER: Class = Class(1);
    /// Bad command line.
    pub const USAGE: Class = Class(2);
    /// A setting or argument the library refuses.
    pub const CONFIG: Class = Class(3);
    /// The server (or its certificate) refused for good.
    pub const REJECTED: Class = Class(4);
    /// The network or the server failed for now, or time ran out.
    pub const NETWORK: Class = Class(5);
    /// The server answered something that is not the protocol.
    pub const PROTOCOL: Class = Class(6);
}

impl Class {
    /// The class of a library error.
    fn of_library(error: &Error) -> Class {
        match error {
            Error::Config(_) | Error::InvalidArgument(_) | Error::TooLarge(_) => Class::CONFIG,
            Error::Rejected { .. } | Error::Tls(_) => Class::REJECTED,
            Error::Unavailable { .. }
            | Error::Network(_)
            | Error::Timeout(_)
            | Error::OutboxFull(_)
            | Error::NotDelivered(_)
            | Error::ConnectionClosed(_)
            | Error::AlreadyClosed => Class::NETWORK,
            Error::Protocol(_) => Class::PROTOCOL,
            // Local files, and kinds a later library version adds.
            _ => Class::OTHER,
        }
    }

    /// The class of any error a command returned: the library's by its kind, the CLI's own
    /// [`Failed`] by the class it carries, anything else [`Class::OTHER`].
    pub fn of(error: &(dyn std::error::Error + 'static)) -> Class {
        if let Some(e) = error.downcast_ref::<Error>() {
            Class::of_library(e)
        } else if let Some(f) = error.downcast_ref::<Failed>() {
            f.class
        } else {
            Class::OTHER
        }
    }

    /// The process exit status.
    pub fn exit_code(self) -> ExitCode {
        ExitCode::from(self.0)
    }
}

/// A failure the CLI itself detects, with its class (e.g. no reply before `--timeout`).
#[derive(Debug)]
pub struct Failed {
    class: Class,
    message: String,
}

impl Failed {
    /// A failure of the network class: time ran out, or the connection ended for good.
    pub fn network(message: impl Into<String>) -> Box<dyn std::error::Error> {
        Box::new(Failed {
            class: Class::NETWORK,
            message: message.into(),
        })
    }
}

impl std::fmt::Display for Failed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Failed {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_class_has_its_documented_status() {
        let cases: [(Box<dyn std::error::Error>, u8); 6] = [
            (Box::new(Error::Config("x".into())), 3),
            (
                Box::new(Error::Rejected {
                    status: 401,
                    message: "no".into(),
                }),
                4,
            ),
            (Box::new(Error::Tls("expired".into())), 4),
            (Box::new(Error::Network("refused".into())), 5),
            (Box::new(Error::Protocol("html".into())), 6),
            (Failed::network("no reply"), 5),
        ];
        for (error, status) in cases {
            assert_eq!(Class::of(error.as_ref()).0, status, "{error}");
        }
        let other: Box<dyn std::error::Error> = "plain".into();
        assert_eq!(Class::of(other.as_ref()), Class::OTHER);
    }
}
