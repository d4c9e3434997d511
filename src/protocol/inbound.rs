//! Frames the server sends, and the decoder that never panics (docs/protocol.md §6).

use super::{JsonMap, TraceId};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use serde_json::Value;
use std::borrow::Cow;
use std::fmt;

/// `message.delivered` (or `activities.delivered`): the platform has the message.
///
/// The echoed payload is kept as raw JSON text and parsed only when asked for
/// ([`Delivered::payload`]): acknowledgements are the hottest frames, and most users need only
/// the traceId. Its `Debug` shows the payload with the echoed nonce as `***`.
#[derive(Clone)]
pub struct Delivered {
    /// The traceId echoed back, when the payload had a numeric one.
    pub trace_id: Option<TraceId>,
    /// The threadId echoed back.
    pub thread_id: Option<String>,
    /// The whole echoed payload, as received (the SDK reads `metadata` from it).
    pub raw_payload: Box<RawValue>,
}

impl Delivered {
    /// The echoed payload, parsed.
    pub fn payload(&self) -> Value {
        serde_json::from_str(self.raw_payload.get()).unwrap_or(Value::Null)
    }
}

impl fmt::Debug for Delivered {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Delivered")
            .field("trace_id", &self.trace_id)
            .field("thread_id", &self.thread_id)
            .field(
                "raw_payload",
                &crate::secret::TextForDebug(self.raw_payload.get()),
            )
            .finish()
    }
}

impl PartialEq for Delivered {
    fn eq(&self, other: &Self) -> bool {
        self.trace_id == other.trace_id
            && self.thread_id == other.thread_id
            && self.raw_payload.get() == other.raw_payload.get()
    }
}

/// One response inside a reply message: text, card, buttons, image, …
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Response {
    /// `text`, `card`, `buttons`, `image`, …
    #[serde(rename = "type", default)]
    pub kind: String,
    /// Free JSON, depends on the type.
    #[serde(default)]
    pub payload: Value,
    /// Seconds to wait before showing it, as sent (see [`Response::delay_secs`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delay: Option<serde_json::Number>,
    /// Fields this library does not know, kept as they came.
    #[serde(flatten)]
    pub extra: JsonMap,
}

impl Response {
    /// The delay in seconds, when given.
    pub fn delay_secs(&self) -> Option<f64> {
        self.delay.as_ref()?.as_f64()
    }

    /// The response's own text (`payload.text`), when it has one.
    pub fn text(&self) -> Option<&str> {
        self.payload.get("text")?.as_str()
    }
}

/// One message of a reply.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ReplyMessage {
    /// Plain-text rendering of the whole message.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fallback: Option<String>,
    /// Whether it should be shown silently.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub silent: Option<bool>,
    /// What it answers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reply_to: Option<Value>,
    /// The rich responses.
    #[serde(default)]
    pub responses: Vec<Response>,
    /// The flow it came from (`flowId`, `title`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub flow: Option<Value>,
    /// The step it came from (`stepId`, `title`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub step: Option<Value>,
    /// Fields kept raw: originator, actions, params, intents, contexts, createdAt, and unknowns.
    #[serde(flatten)]
    pub extra: JsonMap,
}

/// `message.received` (or `activities.created`): a reply from a bot or an agent.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Reply {
    /// The thread replied in.
    #[serde(default)]
    pub thread_id: String,
    /// Who replied (`userId`, `name`, `role`, `profile`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub originator: Option<Value>,
    /// The messages of the reply.
    #[serde(default)]
    pub messages: Vec<ReplyMessage>,
    /// Fields this library does not know, kept as they came.
    #[serde(flatten)]
    pub extra: JsonMap,
}

impl Reply {
    /// The plain-text fallbacks of all messages, one per line.
    pub fn text(&self) -> String {
        let lines: Vec<&str> = self
            .messages
            .iter()
            .filter_map(|m| m.fallback.as_deref())
            .collect();
        lines.join("\n")
    }

    /// The name of who replied, when given.
    pub fn sender_name(&self) -> Option<&str> {
        self.originator.as_ref()?.get("name")?.as_str()
    }
}

/// A decoded server → client frame.
#[derive(Debug, Clone, PartialEq)]
pub enum Inbound {
    /// Answer to a ping.
    Pong,
    /// `message.delivered`, or `activities.delivered` when `activities` is true.
    Delivered {
        /// The acknowledgement.
        delivered: Delivered,
        /// True for the newer `activities.delivered` name.
        activities: bool,
    },
    /// `message.received`, or `activities.created` when `activities` is true.
    Reply {
        /// The reply.
        reply: Reply,
        /// True for the newer `activities.created` name.
        activities: bool,
    },
    /// `agent.typing` with its payload.
    AgentTyping(Value),
    /// `secret.generated`: a new nonce.
    SecretGenerated(String),
    /// `interruption.occurred` with its payload (may be null).
    Interruption(Value),
    /// `error`: the last frame was refused; the connection stays open.
    ServerError(String),
    /// A frame of a type this library does not know, kept whole.
    Unknown(Value),
}

/// Why an incoming frame could not be decoded. The raw text is kept for the user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecodeError {
    /// What was wrong.
    pub reason: String,
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.reason)
    }
}

impl std::error::Error for DecodeError {}

fn bad(reason: impl Into<String>) -> DecodeError {
    DecodeError {
        reason: reason.into(),
    }
}

fn trace_of(payload: &Value) -> Option<TraceId> {
    match payload.get("traceId")? {
        Value::Number(n) => n.as_u64().map(TraceId),
        Value::String(s) => s.parse().ok().map(TraceId),
        _ => None,
    }
}

/// The envelope of a frame, borrowed from the text without building a JSON tree.
#[derive(Deserialize)]
struct Envelope<'a> {
    #[serde(rename = "type", borrow)]
    kind: Cow<'a, str>,
    #[serde(borrow, default)]
    payload: Option<&'a RawValue>,
}

/// The fields of an acknowledgement the client needs at once.
#[derive(Deserialize)]
struct AckFields<'a> {
    #[serde(rename = "traceId", borrow, default)]
    trace_id: Option<&'a RawValue>,
    #[serde(rename = "threadId", default)]
    thread_id: Option<String>,
}

fn trace_of_raw(raw: &RawValue) -> Option<TraceId> {
    let text = raw.get().trim_matches('"');
    text.parse().ok().map(TraceId)
}

/// The hot path: acknowledgements, pongs and replies decoded straight from the text.
/// `None` hands the frame to the general decoder (which also words every error).
fn decode_common(text: &str) -> Option<Inbound> {
    decode_envelope(serde_json::from_str(text).ok()?)
}

/// [`decode_common`] once the envelope is parsed.
fn decode_envelope(env: Envelope<'_>) -> Option<Inbound> {
    let activities = env.kind.starts_with("activities.");
    match env.kind.as_ref() {
        "pong" => Some(Inbound::Pong),
        "message.delivered" | "activities.delivered" => {
            let raw = env.payload.filter(|p| p.get().starts_with('{'))?;
            let ack: AckFields<'_> = serde_json::from_str(raw.get()).ok()?;
            let delivered = Delivered {
                trace_id: ack.trace_id.and_then(trace_of_raw),
                thread_id: ack.thread_id,
                raw_payload: raw.to_owned(),
            };
            Some(Inbound::Delivered {
                delivered,
                activities,
            })
        }
        "message.received" | "activities.created" => {
            let reply = serde_json::from_str(env.payload?.get()).ok()?;
            Some(Inbound::Reply { reply, activities })
        }
        _ => None,
    }
}

/// Decodes one text frame. Every input gives an [`Inbound`] or a [`DecodeError`]; none panics.
pub fn decode(text: &str) -> Result<Inbound, DecodeError> {
    decode_common(text).map_or_else(|| decode_general(text), Ok)
}

/// Decodes the frames a client must act on as they arrive, whoever reads its events: pongs,
/// acknowledgements and new secrets. `None` for every other frame (replies, errors, unknown
/// types, undecodable text): those can wait as text until they are taken, and are decoded
/// then with [`decode`]. Only the envelope of such a frame is parsed here.
pub fn decode_control(text: &str) -> Option<Inbound> {
    let env: Envelope<'_> = serde_json::from_str(text).ok()?;
    match env.kind.as_ref() {
        "pong" | "message.delivered" | "activities.delivered" => {
            decode_envelope(env).or_else(|| decode_general(text).ok())
        }
        "secret.generated" => decode_general(text).ok(),
        _ => None,
    }
}

/// Decodes any frame through a JSON tree, keeping unknown frames whole.
fn decode_general(text: &str) -> Result<Inbound, DecodeError> {
    let frame: Value =
        serde_json::from_str(text).map_err(|e| bad(format!("frame is not valid JSON: {e}")))?;
    let Value::Object(mut obj) = frame else {
        return Err(bad("frame is not a JSON object"));
    };
    let kind = match obj.get("type") {
        Some(Value::String(s)) => s.clone(),
        Some(_) => return Err(bad("frame `type` is not a string")),
        None => return Err(bad("frame has no `type`")),
    };
    let had_payload = obj.contains_key("payload");
    let payload = obj.remove("payload").unwrap_or(Value::Null);
    let activities = kind.starts_with("activities.");
    match kind.as_str() {
        "pong" => Ok(Inbound::Pong),
        "message.delivered" | "activities.delivered" => {
            if !payload.is_object() {
                return Err(bad(format!("`{kind}` payload is not an object")));
            }
            let delivered = Delivered {
                trace_id: trace_of(&payload),
                thread_id: payload
                    .get("threadId")
                    .and_then(Value::as_str)
                    .map(String::from),
                raw_payload: serde_json::value::to_raw_value(&payload)
                    .map_err(|e| bad(format!("`{kind}` payload: {e}")))?,
            };
            Ok(Inbound::Delivered {
                delivered,
                activities,
            })
        }
        "message.received" | "activities.created" => {
            let reply = serde_json::from_value(payload)
                .map_err(|e| bad(format!("`{kind}` payload has a wrong shape: {e}")))?;
            Ok(Inbound::Reply { reply, activities })
        }
        "agent.typing" => Ok(Inbound::AgentTyping(payload)),
        "interruption.occurred" => Ok(Inbound::Interruption(payload)),
        "secret.generated" => {
            let secret = obj
                .get("message")
                .and_then(|m| m.get("secret"))
                .or_else(|| payload.get("secret"))
                .and_then(Value::as_str)
                .ok_or_else(|| bad("`secret.generated` has no string `message.secret`"))?;
            Ok(Inbound::SecretGenerated(secret.to_string()))
        }
        "error" => {
            let message = match obj.get("message") {
                Some(Value::String(s)) => s.clone(),
                Some(other) => other.to_string(),
                None => payload
                    .get("message")
                    .and_then(Value::as_str)
                    .unwrap_or("server error without a message")
                    .to_string(),
            };
            Ok(Inbound::ServerError(message))
        }
        _ => {
            if had_payload {
                obj.insert("payload".into(), payload);
            }
            Ok(Inbound::Unknown(Value::Object(obj)))
        }
    }
}
