//! `flowai_message`: a `message.send` payload built with setters, sent by
//! `flowai_client_send`.

use super::guard::{arg, arg_mut, arg_str, free_unless_null, guard, ok, out, owned_string};
use super::result::{flowai_result, Failure};
use crate::protocol::{Attachment, Hours, JsonMap, Metadata, Originator, Param, Profile, Role};
use crate::Message;
use serde_json::Value;
use std::ffi::c_char;

/// Opaque message under construction. Create with `flowai_message_new`, free with
/// `flowai_message_free`. `flowai_client_send` copies it, so one message may be sent many
/// times and changed between sends. Not changed from two threads at once.
pub struct flowai_message {
    pub(crate) inner: Message,
}

/// Who sends a message (`originator.role`), for `flowai_message_set_originator_role`.
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[allow(non_camel_case_types)]
pub enum flowai_role {
    /// An end user (`external`, the default).
    FLOWAI_ROLE_EXTERNAL = 0,
    /// A moderator (`moderator`).
    FLOWAI_ROLE_MODERATOR = 1,
}

impl flowai_message {
    fn originator(&mut self) -> &mut Originator {
        self.inner
            .originator
            .get_or_insert_with(Originator::default)
    }

    fn profile(&mut self) -> &mut Profile {
        self.originator()
            .profile
            .get_or_insert_with(Profile::default)
    }

    fn metadata(&mut self) -> &mut Metadata {
        self.inner.metadata.get_or_insert_with(Metadata::default)
    }

    fn attach(&mut self, attachment: Attachment) -> Result<flowai_result, Failure> {
        if self.inner.speech.is_empty() {
            self.inner.speech = format!("{} attachment", attachment.kind());
        }
        self.inner.attachment = Some(attachment);
        ok()
    }
}

/// A `flowai_role` argument: an unknown value is `FLOWAI_INVALID_ARGUMENT`.
pub(crate) fn role_arg(role: u32) -> Result<Role, Failure> {
    match role {
        r if r == flowai_role::FLOWAI_ROLE_EXTERNAL as u32 => Ok(Role::External),
        r if r == flowai_role::FLOWAI_ROLE_MODERATOR as u32 => Ok(Role::Moderator),
        other => Err(Failure::new(
            flowai_result::FLOWAI_INVALID_ARGUMENT,
            format!("unknown flowai_role {other}"),
        )),
    }
}

fn hours(value: f64, name: &str) -> Result<Hours, Failure> {
    if value.is_finite() {
        Ok(Hours(value))
    } else {
        Err(Failure::new(
            flowai_result::FLOWAI_INVALID_ARGUMENT,
            format!("argument `{name}` must be a finite number of hours"),
        ))
    }
}

/// Creates an empty message (no threadId: the client's configured one is used; no
/// originator: the configured one is used; traceId assigned by the client). Owned by the
/// caller: free it with `flowai_message_free`. NULL only if the library failed internally.
#[no_mangle]
pub extern "C" fn flowai_message_new() -> *mut flowai_message {
    guard(|| {
        Ok(Box::into_raw(Box::new(flowai_message {
            inner: Message::default(),
        })))
    })
}

/// Frees a message. NULL is a no-op.
#[no_mangle]
pub unsafe extern "C" fn flowai_message_free(message: *mut flowai_message) {
    guard(|| free_unless_null(message, |m| drop(Box::from_raw(m))))
}

/// Sets the threadId (the user / channel / room key). `""` means the client's configured one.
#[no_mangle]
pub unsafe extern "C" fn flowai_message_set_thread_id(
    message: *mut flowai_message,
    thread_id: *const c_char,
) -> flowai_result {
    guard(|| {
        let message = arg_mut(message, "message")?;
        message.inner.thread_id = arg_str(thread_id, "thread_id")?.to_string();
        ok()
    })
}

/// Sets the traceId echoed back in the `message.delivered` acknowledgement. Without it the
/// client assigns a unique, increasing one (returned by `flowai_client_send`). At most
/// 2^53 - 1 (the largest integer a JavaScript server reads exactly): a larger one gives
/// `FLOWAI_INVALID_ARGUMENT` and leaves the message unchanged.
#[no_mangle]
pub unsafe extern "C" fn flowai_message_set_trace_id(
    message: *mut flowai_message,
    trace_id: u64,
) -> flowai_result {
    guard(|| {
        let message = arg_mut(message, "message")?;
        let trace = crate::TraceId(trace_id)
            .check()
            .map_err(|e| Failure::new(flowai_result::FLOWAI_INVALID_ARGUMENT, e))?;
        message.inner.trace_id = Some(trace);
        ok()
    })
}

/// Sets the text of the message. With only an attachment and no speech, the speech
/// `"<type> attachment"` is sent, as the official SDK does.
#[no_mangle]
pub unsafe extern "C" fn flowai_message_set_speech(
    message: *mut flowai_message,
    speech: *const c_char,
) -> flowai_result {
    guard(|| {
        let message = arg_mut(message, "message")?;
        message.inner.speech = arg_str(speech, "speech")?.to_string();
        ok()
    })
}

/// Sets the originator's display name (default `Anonymous`).
#[no_mangle]
pub unsafe extern "C" fn flowai_message_set_originator_name(
    message: *mut flowai_message,
    name: *const c_char,
) -> flowai_result {
    guard(|| {
        let message = arg_mut(message, "message")?;
        message.originator().name = arg_str(name, "name")?.to_string();
        ok()
    })
}

/// Sets the originator's role: a `flowai_role` value (`FLOWAI_ROLE_EXTERNAL`, the default,
/// or `FLOWAI_ROLE_MODERATOR`). Other values give `FLOWAI_INVALID_ARGUMENT`.
#[no_mangle]
pub unsafe extern "C" fn flowai_message_set_originator_role(
    message: *mut flowai_message,
    role: u32,
) -> flowai_result {
    guard(|| {
        let message = arg_mut(message, "message")?;
        message.originator().role = role_arg(role)?;
        ok()
    })
}

/// Sets one text field of `originator.profile`.
unsafe fn set_profile(
    message: *mut flowai_message,
    value: *const c_char,
    field: fn(&mut Profile) -> &mut Option<String>,
) -> Result<flowai_result, Failure> {
    let message = arg_mut(message, "message")?;
    let value = arg_str(value, "value")?.to_string();
    *field(message.profile()) = Some(value);
    ok()
}

/// Sets `originator.profile.fullName`.
#[no_mangle]
pub unsafe extern "C" fn flowai_message_set_profile_full_name(
    message: *mut flowai_message,
    value: *const c_char,
) -> flowai_result {
    guard(|| set_profile(message, value, |p| &mut p.full_name))
}

/// Sets `originator.profile.firstName`.
#[no_mangle]
pub unsafe extern "C" fn flowai_message_set_profile_first_name(
    message: *mut flowai_message,
    value: *const c_char,
) -> flowai_result {
    guard(|| set_profile(message, value, |p| &mut p.first_name))
}

/// Sets `originator.profile.lastName`.
#[no_mangle]
pub unsafe extern "C" fn flowai_message_set_profile_last_name(
    message: *mut flowai_message,
    value: *const c_char,
) -> flowai_result {
    guard(|| set_profile(message, value, |p| &mut p.last_name))
}

/// Sets `originator.profile.gender`: `"M"`, `"F"` or `"U"`.
#[no_mangle]
pub unsafe extern "C" fn flowai_message_set_profile_gender(
    message: *mut flowai_message,
    value: *const c_char,
) -> flowai_result {
    guard(|| set_profile(message, value, |p| &mut p.gender))
}

/// Sets `originator.profile.locale`, for example `"en-US"`.
#[no_mangle]
pub unsafe extern "C" fn flowai_message_set_profile_locale(
    message: *mut flowai_message,
    value: *const c_char,
) -> flowai_result {
    guard(|| set_profile(message, value, |p| &mut p.locale))
}

/// Sets `originator.profile.country`, a two-letter code such as `"us"`.
#[no_mangle]
pub unsafe extern "C" fn flowai_message_set_profile_country(
    message: *mut flowai_message,
    value: *const c_char,
) -> flowai_result {
    guard(|| set_profile(message, value, |p| &mut p.country))
}

/// Sets `originator.profile.email`.
#[no_mangle]
pub unsafe extern "C" fn flowai_message_set_profile_email(
    message: *mut flowai_message,
    value: *const c_char,
) -> flowai_result {
    guard(|| set_profile(message, value, |p| &mut p.email))
}

/// Sets `originator.profile.picture`, the URL of a picture.
#[no_mangle]
pub unsafe extern "C" fn flowai_message_set_profile_picture(
    message: *mut flowai_message,
    value: *const c_char,
) -> flowai_result {
    guard(|| set_profile(message, value, |p| &mut p.picture))
}

/// Sets `originator.profile.description`.
#[no_mangle]
pub unsafe extern "C" fn flowai_message_set_profile_description(
    message: *mut flowai_message,
    value: *const c_char,
) -> flowai_result {
    guard(|| set_profile(message, value, |p| &mut p.description))
}

/// Sets `originator.profile.location`.
#[no_mangle]
pub unsafe extern "C" fn flowai_message_set_profile_location(
    message: *mut flowai_message,
    value: *const c_char,
) -> flowai_result {
    guard(|| set_profile(message, value, |p| &mut p.location))
}

/// Sets `originator.profile.timezone` in hours from UTC (`-5`, `5.5`). NaN and infinities
/// give `FLOWAI_INVALID_ARGUMENT`.
#[no_mangle]
pub unsafe extern "C" fn flowai_message_set_profile_timezone(
    message: *mut flowai_message,
    hours_from_utc: f64,
) -> flowai_result {
    guard(|| {
        let message = arg_mut(message, "message")?;
        message.profile().timezone = Some(hours(hours_from_utc, "hours_from_utc")?);
        ok()
    })
}

/// Sets one `originator.metadata` entry to a string value (for example `clientNumber` =
/// `"12345"`); an existing key is replaced.
#[no_mangle]
pub unsafe extern "C" fn flowai_message_set_originator_metadata(
    message: *mut flowai_message,
    key: *const c_char,
    value: *const c_char,
) -> flowai_result {
    guard(|| {
        let message = arg_mut(message, "message")?;
        let key = arg_str(key, "key")?.to_string();
        let value = Value::String(arg_str(value, "value")?.to_string());
        message
            .originator()
            .metadata
            .get_or_insert_with(JsonMap::new)
            .insert(key, value);
        ok()
    })
}

/// Sets one `originator.metadata` entry to any JSON value given as text (`"42"`,
/// `"[1,2]"`, `"{\"a\":true}"`). Text that is not JSON gives `FLOWAI_INVALID_ARGUMENT`.
#[no_mangle]
pub unsafe extern "C" fn flowai_message_set_originator_metadata_json(
    message: *mut flowai_message,
    key: *const c_char,
    json_value: *const c_char,
) -> flowai_result {
    guard(|| {
        let message = arg_mut(message, "message")?;
        let key = arg_str(key, "key")?.to_string();
        let value: Value =
            serde_json::from_str(arg_str(json_value, "json_value")?).map_err(|e| {
                Failure::new(
                    flowai_result::FLOWAI_INVALID_ARGUMENT,
                    format!("`json_value` is not valid JSON: {e}"),
                )
            })?;
        message
            .originator()
            .metadata
            .get_or_insert_with(JsonMap::new)
            .insert(key, value);
        ok()
    })
}

/// Sets `metadata.language`, the language of this message (for example `"en-US"`).
#[no_mangle]
pub unsafe extern "C" fn flowai_message_set_language(
    message: *mut flowai_message,
    language: *const c_char,
) -> flowai_result {
    guard(|| {
        let message = arg_mut(message, "message")?;
        message.metadata().language = Some(arg_str(language, "language")?.to_string());
        ok()
    })
}

/// Sets `metadata.timezone`, hours from UTC where the message was sent. NaN and infinities
/// give `FLOWAI_INVALID_ARGUMENT`.
#[no_mangle]
pub unsafe extern "C" fn flowai_message_set_timezone(
    message: *mut flowai_message,
    hours_from_utc: f64,
) -> flowai_result {
    guard(|| {
        let message = arg_mut(message, "message")?;
        message.metadata().timezone = Some(hours(hours_from_utc, "hours_from_utc")?);
        ok()
    })
}

/// Adds one value to the parameter `name` in `metadata.params`
/// (`"params": {"seats": [{"value": "Business class"}]}`); call again to add more values.
#[no_mangle]
pub unsafe extern "C" fn flowai_message_add_param(
    message: *mut flowai_message,
    name: *const c_char,
    value: *const c_char,
) -> flowai_result {
    guard(|| {
        let message = arg_mut(message, "message")?;
        let name = arg_str(name, "name")?.to_string();
        let value = Value::String(arg_str(value, "value")?.to_string());
        message
            .metadata()
            .params
            .get_or_insert_with(Default::default)
            .entry(name)
            .or_default()
            .push(Param {
                value,
                matched: None,
                extra: JsonMap::new(),
            });
        ok()
    })
}

/// Attaches an event (`{"type": "event", "payload": {"name": …}}`), replacing any other
/// attachment. Without speech, the speech becomes `"event attachment"`.
#[no_mangle]
pub unsafe extern "C" fn flowai_message_set_event(
    message: *mut flowai_message,
    name: *const c_char,
) -> flowai_result {
    guard(|| {
        let message = arg_mut(message, "message")?;
        let name = arg_str(name, "name")?;
        message.attach(Attachment::event(name))
    })
}

/// Attaches an opening event (an event with `"eventType": "OPENING"`), replacing any other
/// attachment.
#[no_mangle]
pub unsafe extern "C" fn flowai_message_set_opening_event(
    message: *mut flowai_message,
    name: *const c_char,
) -> flowai_result {
    guard(|| {
        let message = arg_mut(message, "message")?;
        let name = arg_str(name, "name")?;
        message.attach(Attachment::opening_event(name))
    })
}

/// Sets the optional label of the event attachment. `FLOWAI_INVALID_STATE` when the message
/// has no event attachment yet.
#[no_mangle]
pub unsafe extern "C" fn flowai_message_set_event_label(
    message: *mut flowai_message,
    label: *const c_char,
) -> flowai_result {
    guard(|| {
        let message = arg_mut(message, "message")?;
        let label = arg_str(label, "label")?;
        match &mut message.inner.attachment {
            Some(Attachment::Event(event)) => {
                event.label = Some(label.to_string());
                ok()
            }
            _ => Err(Failure::new(
                flowai_result::FLOWAI_INVALID_STATE,
                "the message has no event attachment to label",
            )),
        }
    })
}

/// Attaches a flow by its immutable id (`{"type": "flow", …}`), replacing any other
/// attachment.
#[no_mangle]
pub unsafe extern "C" fn flowai_message_set_flow(
    message: *mut flowai_message,
    flow_immutable_id: *const c_char,
) -> flowai_result {
    guard(|| {
        let message = arg_mut(message, "message")?;
        let id = arg_str(flow_immutable_id, "flow_immutable_id")?;
        message.attach(Attachment::flow(id))
    })
}

/// Attaches a step by its id (`{"type": "step", …}`), replacing any other attachment.
#[no_mangle]
pub unsafe extern "C" fn flowai_message_set_step(
    message: *mut flowai_message,
    step_id: *const c_char,
) -> flowai_result {
    guard(|| {
        let message = arg_mut(message, "message")?;
        let id = arg_str(step_id, "step_id")?;
        message.attach(Attachment::step(id))
    })
}

/// Writes the message as it stands, as the JSON of a `message.send` payload (threadId,
/// originator and traceId only if set here; the client fills them in when sending). On
/// success `*json_out` is an owned string: free it with `flowai_string_free`.
#[no_mangle]
pub unsafe extern "C" fn flowai_message_to_json(
    message: *const flowai_message,
    json_out: *mut *mut c_char,
) -> flowai_result {
    guard(|| {
        let message = arg(message, "message")?;
        let json_out = out(json_out, "json_out")?;
        let json = serde_json::to_string(&message.inner)
            .map_err(|e| Failure::new(flowai_result::FLOWAI_INVALID_ARGUMENT, e.to_string()))?;
        json_out.write(owned_string(&json));
        ok()
    })
}
