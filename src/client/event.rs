//! What a client hands its user: one [`Event`] per server frame or connection change.

use crate::protocol::{Delivered, Reply, TraceId};
use serde_json::{json, Value};
use std::time::Duration;

/// Something that happened on a client, in the order it happened.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Event {
    /// The WebSocket is open (first connect and every reconnect).
    Connected {
        /// The sessionId in use (kept across reconnects).
        session_id: String,
    },
    /// `message.delivered`: the platform has the message with this traceId.
    Delivered(Delivered),
    /// `activities.delivered`: the newer name of `message.delivered`.
    ActivitiesDelivered(Delivered),
    /// `message.received`: a reply from a bot or an agent.
    Reply(Reply),
    /// `activities.created`: the newer name of `message.received`.
    ActivitiesCreated(Reply),
    /// `error`: the server refused the last frame; the connection stays open.
    ServerError {
        /// The server's words.
        message: String,
    },
    /// `agent.typing` with its payload.
    AgentTyping(Value),
    /// `secret.generated`: a new nonce, already adopted by the client.
    SecretGenerated {
        /// The new secret.
        secret: String,
    },
    /// `interruption.occurred`: a human took over or the flow was interrupted.
    Interruption(Value),
    /// A frame that could not be decoded (not JSON, no type, wrong field types, binary,
    /// too large). It is reported, never dropped silently.
    ProtocolError {
        /// What was wrong.
        error: String,
        /// The frame as received (lossy UTF-8 for binary frames, cut at 64 KiB).
        raw: String,
    },
    /// A frame of a type this library does not know, kept whole.
    Unknown(Value),
    /// The connection was lost; a reconnect follows unless the client is closing.
    Disconnected {
        /// Why.
        reason: String,
    },
    /// A reconnect attempt will start after `delay`.
    Reconnecting {
        /// 1 for the first attempt after a disconnect.
        attempt: u32,
        /// The backoff before it.
        delay: Duration,
    },
    /// With the outbox off, this message was written but its acknowledgement never came
    /// before the connection was lost: it may or may not have arrived.
    NotDelivered {
        /// The message's traceId.
        trace_id: TraceId,
    },
    /// `pong`: the server answered a keepalive ping. Only with
    /// [`Config::pong_events`](crate::Config::pong_events).
    Pong,
    /// The client stopped for good (a final error, or reconnecting gave up). Last event.
    Closed {
        /// Why.
        reason: String,
    },
}

impl Event {
    /// A short stable name: `connected`, `delivered`, `reply`, `server_error`, …
    pub fn name(&self) -> &'static str {
        match self {
            Event::Connected { .. } => "connected",
            Event::Delivered(_) => "delivered",
            Event::ActivitiesDelivered(_) => "activities_delivered",
            Event::Reply(_) => "reply",
            Event::ActivitiesCreated(_) => "activities_created",
            Event::ServerError { .. } => "server_error",
            Event::AgentTyping(_) => "agent_typing",
            Event::SecretGenerated { .. } => "secret_generated",
            Event::Interruption(_) => "interruption",
            Event::ProtocolError { .. } => "protocol_error",
            Event::Unknown(_) => "unknown",
            Event::Disconnected { .. } => "disconnected",
            Event::Reconnecting { .. } => "reconnecting",
            Event::NotDelivered { .. } => "not_delivered",
            Event::Pong => "pong",
            Event::Closed { .. } => "closed",
        }
    }

    /// The threadId the event is about, where it has one.
    pub fn thread_id(&self) -> Option<&str> {
        match self {
            Event::Delivered(d) | Event::ActivitiesDelivered(d) => d.thread_id.as_deref(),
            Event::Reply(r) | Event::ActivitiesCreated(r) => Some(r.thread_id.as_str()),
            Event::AgentTyping(p) | Event::Interruption(p) => p.get("threadId")?.as_str(),
            _ => None,
        }
    }

    /// The traceId the event is about, where it has one.
    pub fn trace_id(&self) -> Option<TraceId> {
        match self {
            Event::Delivered(d) | Event::ActivitiesDelivered(d) => d.trace_id,
            Event::NotDelivered { trace_id } => Some(*trace_id),
            _ => None,
        }
    }

    /// The plain-text rendering: a reply's fallbacks, an error's message, a reason.
    pub fn text(&self) -> Option<String> {
        match self {
            Event::Reply(r) | Event::ActivitiesCreated(r) => Some(r.text()),
            Event::ServerError { message } => Some(message.clone()),
            Event::ProtocolError { error, .. } => Some(error.clone()),
            Event::Disconnected { reason } | Event::Closed { reason } => Some(reason.clone()),
            _ => None,
        }
    }

    /// The whole event as JSON: server events in their wire shape
    /// (`{"type": "message.received", "payload": …}`), connection events as
    /// `{"type": "connected", …}`.
    pub fn to_json(&self) -> Value {
        let frame = |kind: &str, payload: Value| json!({ "type": kind, "payload": payload });
        let reply = |r: &Reply| serde_json::to_value(r).unwrap_or(Value::Null);
        match self {
            Event::Connected { session_id } => {
                json!({"type": "connected", "sessionId": session_id})
            }
            Event::Delivered(d) => frame("message.delivered", d.payload()),
            Event::ActivitiesDelivered(d) => frame("activities.delivered", d.payload()),
            Event::Reply(r) => frame("message.received", reply(r)),
            Event::ActivitiesCreated(r) => frame("activities.created", reply(r)),
            Event::ServerError { message } => json!({"type": "error", "message": message}),
            Event::AgentTyping(p) => frame("agent.typing", p.clone()),
            Event::SecretGenerated { secret } => {
                json!({"type": "secret.generated", "message": {"secret": secret}})
            }
            Event::Interruption(p) => frame("interruption.occurred", p.clone()),
            Event::ProtocolError { error, raw } => {
                json!({"type": "protocol_error", "error": error, "raw": raw})
            }
            Event::Unknown(v) => v.clone(),
            Event::Disconnected { reason } => json!({"type": "disconnected", "reason": reason}),
            Event::Reconnecting { attempt, delay } => json!({
                "type": "reconnecting", "attempt": attempt, "delayMs": delay.as_millis() as u64
            }),
            Event::NotDelivered { trace_id } => {
                json!({"type": "not_delivered", "traceId": trace_id})
            }
            Event::Pong => json!({"type": "pong"}),
            Event::Closed { reason } => json!({"type": "closed", "reason": reason}),
        }
    }
}
