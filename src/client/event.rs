//! What a client hands its user: one [`Event`] per server frame or connection change.

use crate::protocol::{Delivered, Inbound, Reply, TraceId};
use crate::secret::{JsonForDebug, TextForDebug, REDACTED};
use serde_json::{json, Value};
use std::fmt;
use std::time::Duration;

/// Something that happened on a client, in the order it happened.
///
/// Its `Debug` never shows a secret: the one of `SecretGenerated` and a nonce echoed in a
/// payload print as `***`.
#[derive(Clone, PartialEq, strum::EnumDiscriminants)]
#[strum_discriminants(
    name(EventKind),
    vis(pub(crate)),
    derive(strum::IntoStaticStr, strum::EnumIter),
    strum(serialize_all = "snake_case"),
    doc = "The kind of an [`Event`], without its data: derived from `Event` itself, so the \
           variants cannot drift apart. Its name (`agent_typing`) is [`Event::name`]; the C \
           kinds are mapped from it."
)]
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
    /// This many events were not queued because the queue was full (`max_queued_events` or
    /// `max_queued_bytes`): they came where this event stands, between the one before it
    /// and the one after it. Acknowledgements among them still took effect
    /// (`wait_delivered` saw them); replies among them can be read back with
    /// [`Client::history`](crate::Client::history).
    Overflow {
        /// How many events were not queued.
        dropped: u64,
    },
}

impl fmt::Debug for Event {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let one = |f: &mut fmt::Formatter<'_>, name: &str, v: &dyn fmt::Debug| {
            f.debug_tuple(name).field(v).finish()
        };
        match self {
            Event::Connected { session_id } => f
                .debug_struct("Connected")
                .field("session_id", session_id)
                .finish(),
            Event::Delivered(d) => one(f, "Delivered", d),
            Event::ActivitiesDelivered(d) => one(f, "ActivitiesDelivered", d),
            Event::Reply(r) => one(f, "Reply", r),
            Event::ActivitiesCreated(r) => one(f, "ActivitiesCreated", r),
            Event::ServerError { message } => f
                .debug_struct("ServerError")
                .field("message", message)
                .finish(),
            Event::AgentTyping(p) => one(f, "AgentTyping", &JsonForDebug(p)),
            Event::SecretGenerated { .. } => f
                .debug_struct("SecretGenerated")
                .field("secret", &REDACTED)
                .finish(),
            Event::Interruption(p) => one(f, "Interruption", &JsonForDebug(p)),
            Event::ProtocolError { error, raw } => f
                .debug_struct("ProtocolError")
                .field("error", error)
                .field("raw", &TextForDebug(raw))
                .finish(),
            Event::Unknown(v) => one(f, "Unknown", &JsonForDebug(v)),
            Event::Disconnected { reason } => f
                .debug_struct("Disconnected")
                .field("reason", reason)
                .finish(),
            Event::Reconnecting { attempt, delay } => f
                .debug_struct("Reconnecting")
                .field("attempt", attempt)
                .field("delay", delay)
                .finish(),
            Event::NotDelivered { trace_id } => f
                .debug_struct("NotDelivered")
                .field("trace_id", trace_id)
                .finish(),
            Event::Pong => f.write_str("Pong"),
            Event::Closed { reason } => f.debug_struct("Closed").field("reason", reason).finish(),
            Event::Overflow { dropped } => f
                .debug_struct("Overflow")
                .field("dropped", dropped)
                .finish(),
        }
    }
}

impl Event {
    /// A short stable name: the variant's name in snake case (`connected`, `delivered`,
    /// `reply`, `server_error`, …).
    pub fn name(&self) -> &'static str {
        EventKind::from(self).into()
    }

    /// The event of a decoded server frame.
    pub(crate) fn from_inbound(inbound: Inbound) -> Event {
        match inbound {
            Inbound::Pong => Event::Pong,
            Inbound::Delivered {
                delivered,
                activities: true,
            } => Event::ActivitiesDelivered(delivered),
            Inbound::Delivered { delivered, .. } => Event::Delivered(delivered),
            Inbound::Reply {
                reply,
                activities: true,
            } => Event::ActivitiesCreated(reply),
            Inbound::Reply { reply, .. } => Event::Reply(reply),
            Inbound::AgentTyping(p) => Event::AgentTyping(p),
            Inbound::SecretGenerated(secret) => Event::SecretGenerated { secret },
            Inbound::Interruption(p) => Event::Interruption(p),
            Inbound::ServerError(message) => Event::ServerError { message },
            Inbound::Unknown(v) => Event::Unknown(v),
        }
    }

    /// The bytes of text the event holds, for the queue's byte budget (the events the I/O
    /// thread builds itself: connection changes, acknowledgements, secrets; server frames
    /// wait as text and are counted as such).
    pub(crate) fn text_bytes(&self) -> usize {
        match self {
            Event::Connected { session_id } => session_id.len(),
            Event::Delivered(d) | Event::ActivitiesDelivered(d) => {
                d.raw_payload.get().len() + d.thread_id.as_ref().map_or(0, String::len)
            }
            Event::ServerError { message: text }
            | Event::SecretGenerated { secret: text }
            | Event::Disconnected { reason: text }
            | Event::Closed { reason: text } => text.len(),
            Event::ProtocolError { error, raw } => error.len() + raw.len(),
            _ => 0,
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
            Event::Overflow { dropped } => Some(format!(
                "{dropped} events were not queued: the event queue was full"
            )),
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
            Event::Overflow { dropped } => json!({"type": "overflow", "dropped": dropped}),
        }
    }
}
