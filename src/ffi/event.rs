//! `flowai_event`: one thing that happened on a client (a server frame or a connection
//! change), from `flowai_client_recv` or handed to the event callback.

use super::guard::{arg, guard, out, to_c_string, CReturn};
use super::result::{flowai_result, Failure};
use crate::client::EventKind;
use crate::Event;
use std::ffi::{c_char, CString};
use std::ptr;
use std::sync::OnceLock;
use strum::IntoEnumIterator;

/// The kind of an event, from `flowai_event_get_kind`: one value per kind of the Rust
/// `Event` (named alike: `Event::AgentTyping` is `FLOWAI_EVENT_AGENT_TYPING`, named
/// `"agent_typing"` by `flowai_event_name`). Values are never renumbered; new kinds are
/// added at the end, so treat an unknown value like `FLOWAI_EVENT_UNKNOWN`.
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, strum::IntoStaticStr, strum::EnumIter)]
#[allow(non_camel_case_types)]
pub enum flowai_event_kind {
    /// Not an event: `flowai_event_get_kind(NULL)`.
    FLOWAI_EVENT_INVALID = 0,
    /// The WebSocket is open (first connect and every reconnect).
    FLOWAI_EVENT_CONNECTED = 1,
    /// `message.delivered`: the platform has the message with this traceId.
    FLOWAI_EVENT_DELIVERED = 2,
    /// `activities.delivered`: the newer name of `message.delivered`.
    FLOWAI_EVENT_ACTIVITIES_DELIVERED = 3,
    /// `message.received`: a reply from a bot or an agent; `flowai_event_text` is its
    /// plain-text fallback.
    FLOWAI_EVENT_REPLY = 4,
    /// `activities.created`: the newer name of `message.received`.
    FLOWAI_EVENT_ACTIVITIES_CREATED = 5,
    /// `error`: the server refused the last frame; the connection stays open.
    FLOWAI_EVENT_SERVER_ERROR = 6,
    /// `agent.typing`.
    FLOWAI_EVENT_AGENT_TYPING = 7,
    /// `secret.generated`: a new nonce, already adopted by the client.
    FLOWAI_EVENT_SECRET_GENERATED = 8,
    /// `interruption.occurred`: a human took over or the flow was interrupted.
    FLOWAI_EVENT_INTERRUPTION = 9,
    /// A frame that could not be decoded; it is reported, never dropped.
    FLOWAI_EVENT_PROTOCOL_ERROR = 10,
    /// A frame of a type this library does not know, kept whole in the JSON.
    FLOWAI_EVENT_UNKNOWN = 11,
    /// The connection was lost; a reconnect follows unless the client is closing.
    FLOWAI_EVENT_DISCONNECTED = 12,
    /// A reconnect attempt will start after a backoff delay (see the JSON).
    FLOWAI_EVENT_RECONNECTING = 13,
    /// With the outbox off, this message's acknowledgement never came before the connection
    /// was lost: it may or may not have arrived.
    FLOWAI_EVENT_NOT_DELIVERED = 14,
    /// The client stopped for good (a final error, or reconnecting gave up). Last event.
    FLOWAI_EVENT_CLOSED = 15,
    /// `pong`: the server answered a keepalive ping (only with
    /// `flowai_config_set_pong_events`).
    FLOWAI_EVENT_PONG = 16,
    /// Events were not queued because the queue was full (`flowai_config_set_max_queued_events`
    /// or `flowai_config_set_max_queued_bytes`); `flowai_event_dropped` says how many. They
    /// came where this event stands. Acknowledgements among them still took effect
    /// (`flowai_client_wait_delivered` saw them); replies can be read back with
    /// `flowai_client_history`.
    FLOWAI_EVENT_OVERFLOW = 17,
}

enum Slot {
    Owned(Event),
    /// An event lent to a callback for the duration of the call.
    Borrowed(*const Event),
}

/// Opaque event. From `flowai_client_recv` (owned by the caller: free it with
/// `flowai_event_free`) or handed to a callback (borrowed for the call only: do not free
/// it and do not keep it; `flowai_event_copy` makes an owned copy). Strings returned by the
/// accessors are owned by the event and valid until it is freed (or the callback returns).
/// An event may be read from several threads at once.
pub struct flowai_event {
    slot: Slot,
    thread_id: OnceLock<Option<CString>>,
    text: OnceLock<Option<CString>>,
    json: OnceLock<CString>,
}

impl flowai_event {
    pub(crate) fn owned(event: Event) -> flowai_event {
        flowai_event::with(Slot::Owned(event))
    }

    /// A view of `event` for a callback; it must not outlive `event`.
    pub(crate) fn borrowed(event: &Event) -> flowai_event {
        flowai_event::with(Slot::Borrowed(event))
    }

    fn with(slot: Slot) -> flowai_event {
        flowai_event {
            slot,
            thread_id: OnceLock::new(),
            text: OnceLock::new(),
            json: OnceLock::new(),
        }
    }

    fn event(&self) -> &Event {
        match &self.slot {
            Slot::Owned(e) => e,
            // SAFETY: a borrowed event only exists during the callback, while the event it
            // points to lives on the dispatcher's stack.
            Slot::Borrowed(p) => unsafe { &**p },
        }
    }
}

impl CReturn for flowai_event_kind {
    fn on_failure(_: flowai_result) -> Self {
        flowai_event_kind::FLOWAI_EVENT_INVALID
    }
}

impl From<EventKind> for flowai_event_kind {
    /// The C kind of each Rust event kind: the one mapping (the compiler makes it total; a
    /// test checks that it pairs the variants of the same name).
    fn from(kind: EventKind) -> flowai_event_kind {
        use flowai_event_kind::*;
        match kind {
            EventKind::Connected => FLOWAI_EVENT_CONNECTED,
            EventKind::Delivered => FLOWAI_EVENT_DELIVERED,
            EventKind::ActivitiesDelivered => FLOWAI_EVENT_ACTIVITIES_DELIVERED,
            EventKind::Reply => FLOWAI_EVENT_REPLY,
            EventKind::ActivitiesCreated => FLOWAI_EVENT_ACTIVITIES_CREATED,
            EventKind::ServerError => FLOWAI_EVENT_SERVER_ERROR,
            EventKind::AgentTyping => FLOWAI_EVENT_AGENT_TYPING,
            EventKind::SecretGenerated => FLOWAI_EVENT_SECRET_GENERATED,
            EventKind::Interruption => FLOWAI_EVENT_INTERRUPTION,
            EventKind::ProtocolError => FLOWAI_EVENT_PROTOCOL_ERROR,
            EventKind::Unknown => FLOWAI_EVENT_UNKNOWN,
            EventKind::Disconnected => FLOWAI_EVENT_DISCONNECTED,
            EventKind::Reconnecting => FLOWAI_EVENT_RECONNECTING,
            EventKind::NotDelivered => FLOWAI_EVENT_NOT_DELIVERED,
            EventKind::Pong => FLOWAI_EVENT_PONG,
            EventKind::Closed => FLOWAI_EVENT_CLOSED,
            EventKind::Overflow => FLOWAI_EVENT_OVERFLOW,
        }
    }
}

/// The name of each event kind as a C string (`Event::name`, made once).
fn c_name(kind: EventKind) -> *const c_char {
    static NAMES: OnceLock<Vec<CString>> = OnceLock::new();
    let names = NAMES.get_or_init(|| EventKind::iter().map(|k| to_c_string(k.into())).collect());
    names[kind as usize].as_ptr()
}

fn opt_ptr(s: &Option<CString>) -> *const c_char {
    s.as_ref().map_or(ptr::null(), |c| c.as_ptr())
}

/// The kind of the event. `FLOWAI_EVENT_INVALID` (0) for NULL. (Named with `get_` because
/// `flowai_event_kind` is the name of its type.)
#[no_mangle]
pub unsafe extern "C" fn flowai_event_get_kind(event: *const flowai_event) -> flowai_event_kind {
    guard(|| Ok(EventKind::from(arg(event, "event")?.event()).into()))
}

/// A short stable name of the kind: `"connected"`, `"delivered"`, `"reply"`,
/// `"server_error"`, … (the kind's name in lower case without `FLOWAI_EVENT_`). Static
/// (never freed); NULL for a NULL event.
#[no_mangle]
pub unsafe extern "C" fn flowai_event_name(event: *const flowai_event) -> *const c_char {
    guard(|| Ok(c_name(arg(event, "event")?.event().into())))
}

/// The threadId the event is about (deliveries, replies, typing, interruptions), or NULL
/// when it has none (or `event` is NULL). Owned by the event.
#[no_mangle]
pub unsafe extern "C" fn flowai_event_thread_id(event: *const flowai_event) -> *const c_char {
    guard(|| {
        let event = arg(event, "event")?;
        let s = event
            .thread_id
            .get_or_init(|| event.event().thread_id().map(to_c_string));
        Ok(opt_ptr(s))
    })
}

/// The traceId the event is about (`FLOWAI_EVENT_DELIVERED`, `…_ACTIVITIES_DELIVERED`,
/// `…_NOT_DELIVERED`), or 0 when it has none (or `event` is NULL).
#[no_mangle]
pub unsafe extern "C" fn flowai_event_trace_id(event: *const flowai_event) -> u64 {
    guard(|| Ok(arg(event, "event")?.event().trace_id().map_or(0, |t| t.0)))
}

/// How many events were not queued, for `FLOWAI_EVENT_OVERFLOW`; 0 for every other kind
/// (and a NULL event).
#[no_mangle]
pub unsafe extern "C" fn flowai_event_dropped(event: *const flowai_event) -> u64 {
    guard(|| {
        Ok(match arg(event, "event")?.event() {
            Event::Overflow { dropped } => *dropped,
            _ => 0,
        })
    })
}

/// The plain text of the event: a reply's fallback texts (one line per message), a server
/// or protocol error's message, a disconnect or close reason. NULL for other kinds (and a
/// NULL event). Owned by the event.
#[no_mangle]
pub unsafe extern "C" fn flowai_event_text(event: *const flowai_event) -> *const c_char {
    guard(|| {
        let event = arg(event, "event")?;
        let s = event
            .text
            .get_or_init(|| event.event().text().as_deref().map(to_c_string));
        Ok(opt_ptr(s))
    })
}

/// The whole event as JSON text: server events in their wire shape
/// (`{"type":"message.received","payload":{…}}`), connection events as
/// `{"type":"connected",…}`. Never NULL for a valid event (NULL for a NULL event). Owned by
/// the event.
#[no_mangle]
pub unsafe extern "C" fn flowai_event_json(event: *const flowai_event) -> *const c_char {
    guard(|| {
        let event = arg(event, "event")?;
        let s = event
            .json
            .get_or_init(|| to_c_string(&event.event().to_json().to_string()));
        Ok(s.as_ptr())
    })
}

/// Makes an owned copy of an event (for keeping one handed to a callback). On success
/// `*copy_out` is owned by the caller: free it with `flowai_event_free`.
#[no_mangle]
pub unsafe extern "C" fn flowai_event_copy(
    event: *const flowai_event,
    copy_out: *mut *mut flowai_event,
) -> flowai_result {
    guard(|| {
        let event = arg(event, "event")?;
        let copy_out = out(copy_out, "copy_out")?;
        let copy = Box::new(flowai_event::owned(event.event().clone()));
        copy_out.write(Box::into_raw(copy));
        Ok(flowai_result::FLOWAI_OK)
    })
}

/// Frees an event from `flowai_client_recv` or `flowai_event_copy`. NULL is a no-op. An
/// event handed to a callback is not freed (the call is ignored; it is freed by the library).
#[no_mangle]
pub unsafe extern "C" fn flowai_event_free(event: *mut flowai_event) {
    guard(|| {
        if event.is_null() {
            return Ok(());
        }
        if let Slot::Borrowed(_) = (*event).slot {
            return Err(Failure::new(
                flowai_result::FLOWAI_INVALID_STATE,
                "flowai_event_free on an event lent to a callback; it was not freed",
            ));
        }
        drop(Box::from_raw(event));
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ffi::CStr;
    use std::time::Duration;

    #[test]
    fn names_and_kinds_match_the_rust_events() {
        let events = [
            Event::Connected {
                session_id: "s".into(),
            },
            Event::ServerError {
                message: "bad".into(),
            },
            Event::Reconnecting {
                attempt: 1,
                delay: Duration::from_millis(5),
            },
            Event::NotDelivered {
                trace_id: crate::TraceId(9),
            },
            Event::Closed { reason: "r".into() },
            Event::Unknown(serde_json::json!({"type": "x"})),
            Event::Overflow { dropped: 3 },
        ];
        for event in events {
            let handle = flowai_event::owned(event.clone());
            let name = unsafe { CStr::from_ptr(flowai_event_name(&handle)) };
            assert_eq!(name.to_str().unwrap(), event.name());
            let kind = unsafe { flowai_event_get_kind(&handle) };
            assert_eq!(kind, flowai_event_kind::from(EventKind::from(&event)));
            let json = unsafe { CStr::from_ptr(flowai_event_json(&handle)) };
            assert_eq!(json.to_str().unwrap(), event.to_json().to_string());
        }
        let trace = flowai_event::owned(Event::NotDelivered {
            trace_id: crate::TraceId(9),
        });
        assert_eq!(unsafe { flowai_event_trace_id(&trace) }, 9);
        assert_eq!(unsafe { flowai_event_dropped(&trace) }, 0);
        let overflow = flowai_event::owned(Event::Overflow { dropped: 3 });
        assert_eq!(unsafe { flowai_event_dropped(&overflow) }, 3);
        assert_eq!(
            unsafe { flowai_event_get_kind(ptr::null()) },
            flowai_event_kind::FLOWAI_EVENT_INVALID
        );
    }

    #[test]
    fn every_rust_kind_has_the_c_kind_of_its_name_and_back() {
        let mut paired = Vec::new();
        for kind in EventKind::iter() {
            let name: &str = kind.into();
            let c_kind = flowai_event_kind::from(kind);
            let variant: &str = c_kind.into();
            assert_eq!(variant, format!("FLOWAI_EVENT_{}", name.to_uppercase()));
            let named = unsafe { CStr::from_ptr(c_name(kind)) };
            assert_eq!(named.to_str().unwrap(), name);
            paired.push(c_kind);
        }
        let unpaired: Vec<_> = flowai_event_kind::iter()
            .filter(|k| !paired.contains(k))
            .collect();
        assert_eq!(unpaired, [flowai_event_kind::FLOWAI_EVENT_INVALID]);
    }
}
