//! Frames the client sends (docs/protocol.md §3, §4).

use super::{Message, Originator};
use serde::Serialize;

/// A client → server frame: `{"type": …, "payload": …}`. Frames are serialized as soon as they
/// are built, so the size difference between variants costs nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "type", content = "payload")]
pub enum Outbound {
    /// `message.send`.
    #[serde(rename = "message.send")]
    MessageSend(Message),
    /// Keepalive `{"type":"ping"}`.
    #[serde(rename = "ping")]
    Ping,
    /// `thread.noticed`: the user has seen the thread.
    #[serde(rename = "thread.noticed", rename_all = "camelCase")]
    ThreadNoticed {
        /// The thread seen.
        thread_id: String,
    },
    /// `activity.user.typing`: the user is typing.
    #[serde(rename = "activity.user.typing", rename_all = "camelCase")]
    UserTyping {
        /// The project's clientId.
        client_id: String,
        /// The thread typed in.
        thread_id: String,
        /// Who is typing.
        originator: Originator,
    },
}

impl Outbound {
    /// The frame as JSON text, ready for the socket.
    pub fn to_json(&self) -> String {
        frame_json(self)
    }

    /// The `message.send` frame of a message as JSON text, the same as
    /// `Outbound::MessageSend(message.clone()).to_json()` without the clone.
    pub fn message_send_json(message: &Message) -> String {
        #[derive(Serialize)]
        struct MessageSend<'a> {
            #[serde(rename = "type")]
            kind: &'static str,
            payload: &'a Message,
        }
        frame_json(&MessageSend {
            kind: "message.send",
            payload: message,
        })
    }
}

fn frame_json(frame: &impl Serialize) -> String {
    // Serializing these types cannot fail: every map key is a string.
    serde_json::to_string(frame)
        .unwrap_or_else(|e| format!("{{\"type\":\"invalid\",\"error\":\"{e}\"}}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_borrowed_message_send_is_the_same_frame() {
        let message = Message::text("hi").thread("t").trace(5);
        assert_eq!(
            Outbound::message_send_json(&message),
            Outbound::MessageSend(message).to_json()
        );
    }
}
