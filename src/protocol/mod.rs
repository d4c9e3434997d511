//! Typed frames of the Flow Socket API (docs/protocol.md §2–§6). No I/O lives here.
//!
//! Outgoing frames are built from [`Message`] and [`Outbound`]; incoming text frames are
//! turned into [`Inbound`] by [`decode`]. Absent optional fields are omitted on the wire,
//! and every struct keeps fields it does not know in an `extra` map, so nothing the server
//! sends is ever dropped.

mod inbound;
mod message;
mod outbound;

pub use inbound::{
    decode, decode_control, DecodeError, Delivered, Inbound, Reply, ReplyMessage, Response,
};
pub use message::{
    Attachment, EventAttachment, Hours, Message, Metadata, Originator, Param, Profile, Role,
    TraceId,
};
pub use outbound::Outbound;

/// A JSON object as kept for unknown fields.
pub type JsonMap = serde_json::Map<String, serde_json::Value>;
