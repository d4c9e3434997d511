//! The `message.send` payload and its parts: originator, profile, metadata, attachments
//! (docs/protocol.md §4).

use super::JsonMap;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::Value;
use std::collections::BTreeMap;
use std::fmt;

/// The number that ties a `message.send` to its `message.delivered` acknowledgement. At most
/// [`TraceId::MAX`] (2^53 − 1): servers written in JavaScript read larger numbers rounded,
/// and the acknowledgement would then never match.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct TraceId(pub u64);

impl TraceId {
    /// The largest traceId a message may carry: 2^53 − 1 (9,007,199,254,740,991), the largest
    /// integer a JavaScript number holds exactly.
    pub const MAX: TraceId = TraceId((1 << 53) - 1);

    /// Checks that the traceId is at most [`TraceId::MAX`], with a clear error otherwise.
    pub fn check(self) -> Result<TraceId, String> {
        if self > TraceId::MAX {
            return Err(format!(
                "traceId {self} is above 2^53 - 1 ({}), the largest number a JavaScript \
                 server reads exactly: its acknowledgement would never match",
                TraceId::MAX
            ));
        }
        Ok(self)
    }
}

impl fmt::Display for TraceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// An offset from UTC in hours (`-5`, `5.5`); whole hours are written as integers.
#[derive(Debug, Clone, Copy, PartialEq, PartialOrd)]
pub struct Hours(pub f64);

impl Serialize for Hours {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let h = self.0;
        if h.fract() == 0.0 && h.abs() < 1e15 {
            s.serialize_i64(h as i64)
        } else {
            s.serialize_f64(h)
        }
    }
}

impl<'de> Deserialize<'de> for Hours {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        f64::deserialize(d).map(Hours)
    }
}

/// Who sends a message: `external` (an end user, the default) or `moderator`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// An end user (the SDK default).
    External,
    /// A moderator.
    Moderator,
    /// A role this library does not know, kept as sent.
    #[serde(untagged)]
    Other(String),
}

/// The profile of an originator; every field is optional and omitted when unset.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[allow(missing_docs)]
pub struct Profile {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub full_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_name: Option<String>,
    /// `M`, `F` or `U`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gender: Option<String>,
    /// For example `en-US`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub locale: Option<String>,
    /// Hours from UTC.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timezone: Option<Hours>,
    /// Two-letter country code, for example `us`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub country: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// URL of a picture.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub picture: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub location: Option<String>,
    /// Fields this library does not know, kept as they came.
    #[serde(flatten)]
    pub extra: JsonMap,
}

/// The sender of a message.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Originator {
    /// Display name (the SDK default is `Anonymous`).
    pub name: String,
    /// `external` or `moderator`.
    pub role: Role,
    /// Optional profile.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub profile: Option<Profile>,
    /// Free key/value pairs about the user.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub metadata: Option<JsonMap>,
    /// Fields this library does not know, kept as they came.
    #[serde(flatten)]
    pub extra: JsonMap,
}

impl Default for Originator {
    fn default() -> Self {
        Originator::new("Anonymous")
    }
}

impl Originator {
    /// An `external` originator with this name and nothing else.
    pub fn new(name: impl Into<String>) -> Self {
        Originator {
            name: name.into(),
            role: Role::External,
            profile: None,
            metadata: None,
            extra: JsonMap::new(),
        }
    }

    /// Sets the role.
    pub fn role(mut self, role: Role) -> Self {
        self.role = role;
        self
    }

    /// Sets the profile.
    pub fn profile(mut self, profile: Profile) -> Self {
        self.profile = Some(profile);
        self
    }

    /// Adds one metadata entry.
    pub fn meta(mut self, key: impl Into<String>, value: impl Into<Value>) -> Self {
        self.metadata
            .get_or_insert_with(JsonMap::new)
            .insert(key.into(), value.into());
        self
    }
}

/// One value of a parameter: `{"value": "Business class"}`, optionally with `match`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Param {
    /// The value.
    pub value: Value,
    /// The text it matched, if any.
    #[serde(rename = "match", skip_serializing_if = "Option::is_none")]
    pub matched: Option<String>,
    /// Fields this library does not know, kept as they came.
    #[serde(flatten)]
    pub extra: JsonMap,
}

/// Metadata of one message (not of the user).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Metadata {
    /// Language of the message, for example `en-US`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub language: Option<String>,
    /// Hours from UTC where the message was sent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timezone: Option<Hours>,
    /// Parameters: each a list of values.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub params: Option<BTreeMap<String, Vec<Param>>>,
    /// Legacy contexts (the SDK sends an empty list).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub contexts: Option<Vec<Value>>,
    /// Fields this library does not know (the SDK's `domain`, for one), kept as they came.
    #[serde(flatten)]
    pub extra: JsonMap,
}

/// The payload of an `event` attachment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EventAttachment {
    /// Name of the event, for example `MY EVENT`.
    pub name: String,
    /// Optional label shown to the user.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
    /// `OPENING` for an opening event.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub event_type: Option<String>,
    /// Fields this library does not know, kept as they came.
    #[serde(flatten)]
    pub extra: JsonMap,
}

/// An attachment of a `message.send`.
#[derive(Debug, Clone, PartialEq)]
pub enum Attachment {
    /// Triggers an event (`eventType: OPENING` for an opening event).
    Event(EventAttachment),
    /// Starts a flow by its immutable id.
    Flow {
        /// The flow's immutable id.
        flow_immutable_id: String,
    },
    /// Triggers a step by its id.
    Step {
        /// The step id.
        step_id: String,
    },
    /// Any other attachment, kept as `type` and raw `payload`.
    Other {
        /// The attachment type.
        kind: String,
        /// The raw payload.
        payload: Value,
    },
}

impl Attachment {
    /// An `event` attachment with this name.
    pub fn event(name: impl Into<String>) -> Self {
        Attachment::Event(EventAttachment {
            name: name.into(),
            label: None,
            event_type: None,
            extra: JsonMap::new(),
        })
    }

    /// An opening event (`eventType: OPENING`).
    pub fn opening_event(name: impl Into<String>) -> Self {
        match Attachment::event(name) {
            Attachment::Event(mut e) => {
                e.event_type = Some("OPENING".into());
                Attachment::Event(e)
            }
            other => other,
        }
    }

    /// A `flow` attachment.
    pub fn flow(flow_immutable_id: impl Into<String>) -> Self {
        Attachment::Flow {
            flow_immutable_id: flow_immutable_id.into(),
        }
    }

    /// A `step` attachment.
    pub fn step(step_id: impl Into<String>) -> Self {
        Attachment::Step {
            step_id: step_id.into(),
        }
    }

    /// The wire `type` of this attachment.
    pub fn kind(&self) -> &str {
        match self {
            Attachment::Event(_) => "event",
            Attachment::Flow { .. } => "flow",
            Attachment::Step { .. } => "step",
            Attachment::Other { kind, .. } => kind,
        }
    }
}

#[derive(Serialize, Deserialize)]
struct RawAttachment {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    payload: Value,
}

impl Serialize for Attachment {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let payload = match self {
            Attachment::Event(e) => serde_json::to_value(e),
            Attachment::Flow { flow_immutable_id } => {
                Ok(serde_json::json!({ "flowImmutableId": flow_immutable_id }))
            }
            Attachment::Step { step_id } => Ok(serde_json::json!({ "stepId": step_id })),
            Attachment::Other { payload, .. } => Ok(payload.clone()),
        }
        .map_err(serde::ser::Error::custom)?;
        RawAttachment {
            kind: self.kind().to_string(),
            payload,
        }
        .serialize(s)
    }
}

impl<'de> Deserialize<'de> for Attachment {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let raw = RawAttachment::deserialize(d)?;
        let field = |name: &str| {
            raw.payload
                .get(name)
                .and_then(Value::as_str)
                .map(String::from)
        };
        Ok(match raw.kind.as_str() {
            "event" => Attachment::Event(
                serde_json::from_value(raw.payload).map_err(serde::de::Error::custom)?,
            ),
            "flow" if raw.payload.as_object().is_some_and(|o| o.len() == 1) => {
                match field("flowImmutableId") {
                    Some(flow_immutable_id) => Attachment::Flow { flow_immutable_id },
                    None => Attachment::Other {
                        kind: raw.kind,
                        payload: raw.payload,
                    },
                }
            }
            "step" if raw.payload.as_object().is_some_and(|o| o.len() == 1) => {
                match field("stepId") {
                    Some(step_id) => Attachment::Step { step_id },
                    None => Attachment::Other {
                        kind: raw.kind,
                        payload: raw.payload,
                    },
                }
            }
            _ => Attachment::Other {
                kind: raw.kind,
                payload: raw.payload,
            },
        })
    }
}

/// The payload of a `message.send` frame.
///
/// ```
/// use flowai_socket::{Message, Originator};
/// let m = Message::text("Hi there!").thread("jane.doe").originator(Originator::new("Jane Doe"));
/// assert_eq!(m.speech, "Hi there!");
/// ```
///
/// Its `Debug` shows the nonce as `***`.
#[derive(Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Message {
    /// The user / channel / room key. Empty: the client's configured threadId is used.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub thread_id: String,
    /// Echoed back in `message.delivered`. None: the client assigns one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub trace_id: Option<TraceId>,
    /// The thread's secret when the project enables client nonces (the client fills it in).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub nonce: Option<String>,
    /// The text. With only an attachment, the SDK sends `"<type> attachment"`.
    #[serde(default)]
    pub speech: String,
    /// Who sends it. None: the client's default originator is used.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub originator: Option<Originator>,
    /// Language, timezone, params, contexts.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub metadata: Option<Metadata>,
    /// An event, flow or step attachment.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub attachment: Option<Attachment>,
    /// Fields this library does not know, kept as they came.
    #[serde(flatten)]
    pub extra: JsonMap,
}

impl fmt::Debug for Message {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Message")
            .field("thread_id", &self.thread_id)
            .field("trace_id", &self.trace_id)
            .field("nonce", &crate::secret::opt(&self.nonce))
            .field("speech", &self.speech)
            .field("originator", &self.originator)
            .field("metadata", &self.metadata)
            .field("attachment", &self.attachment)
            .field(
                "extra",
                &crate::secret::JsonForDebug(&Value::Object(self.extra.clone())),
            )
            .finish()
    }
}

impl Message {
    /// A message with this text.
    pub fn text(speech: impl Into<String>) -> Self {
        Message {
            speech: speech.into(),
            ..Message::default()
        }
    }

    /// A message carrying only an event; speech is `event attachment`, as the SDK sends.
    pub fn event(name: impl Into<String>) -> Self {
        Message::attachment_only(Attachment::event(name))
    }

    /// A message carrying only an attachment; speech is `"<type> attachment"`.
    pub fn attachment_only(attachment: Attachment) -> Self {
        Message {
            speech: format!("{} attachment", attachment.kind()),
            attachment: Some(attachment),
            ..Message::default()
        }
    }

    /// Sets the threadId.
    pub fn thread(mut self, thread_id: impl Into<String>) -> Self {
        self.thread_id = thread_id.into();
        self
    }

    /// Sets the traceId (otherwise the client assigns one). At most [`TraceId::MAX`]: a larger
    /// one is refused when the message is sent.
    pub fn trace(mut self, trace_id: u64) -> Self {
        self.trace_id = Some(TraceId(trace_id));
        self
    }

    /// Sets the originator.
    pub fn originator(mut self, originator: Originator) -> Self {
        self.originator = Some(originator);
        self
    }

    /// Sets the attachment.
    pub fn with_attachment(mut self, attachment: Attachment) -> Self {
        self.attachment = Some(attachment);
        self
    }

    /// Sets the metadata.
    pub fn metadata(mut self, metadata: Metadata) -> Self {
        self.metadata = Some(metadata);
        self
    }

    /// Checks what the server requires: a threadId, a speech (or an attachment), and a
    /// traceId (when set) of at most [`TraceId::MAX`].
    pub fn validate(&self) -> Result<(), String> {
        if self.thread_id.trim().is_empty() {
            return Err("message has an empty threadId".into());
        }
        if let Some(trace) = self.trace_id {
            trace.check()?;
        }
        if self.speech.is_empty() && self.attachment.is_none() {
            return Err("message has neither speech nor attachment".into());
        }
        Ok(())
    }
}
