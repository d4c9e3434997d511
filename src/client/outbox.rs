//! Messages waiting for their `message.delivered`, in send order.

use crate::error::{Error, Result};
use crate::protocol::{Message, Outbound, TraceId};
use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use tungstenite::Utf8Bytes;

/// How many not-delivered traceIds are remembered for `wait_delivered`.
const LOST_MEMORY: usize = 10_000;

/// The outbox: every `message.send` frame stays here until acknowledged. Frames before the
/// write cursor have been written on the current connection; a reconnect rewinds the cursor
/// (at-least-once) or forgets the written ones as lost (at-most-once).
/// What identifies a threadId in the outbox: a 64-bit hash, so that no message costs an
/// allocation for it (two threads of one client would need the same traceId in flight and
/// colliding hashes to be confused).
fn thread_key(thread_id: &str) -> u64 {
    use std::hash::{BuildHasher, BuildHasherDefault};
    BuildHasherDefault::<std::collections::hash_map::DefaultHasher>::default().hash_one(thread_id)
}

/// One waiting message: its traceId and threadId, its frame, and the message itself when the
/// client filled in the thread's nonce (so a re-send after a new secret carries the new one).
/// No `Debug`: frames carry nonces.
struct Entry {
    trace: TraceId,
    /// The threadId's [`thread_key`]: compared with the echoed one's.
    thread: u64,
    /// Shared with the writer without a copy: cloning it only counts a reference.
    frame: Utf8Bytes,
    nonced: Option<Box<Message>>,
}

pub(crate) struct Outbox {
    /// The client's configured threadId and its key: most messages and acknowledgements
    /// name it, and a comparison is cheaper than a hash.
    home: (Box<str>, u64),
    entries: BTreeMap<u64, Entry>,
    by_trace: HashMap<TraceId, u64>,
    next_seq: u64,
    cursor: u64,
    capacity: usize,
    resend: bool,
    lost: HashSet<TraceId>,
    lost_order: VecDeque<TraceId>,
}

impl Outbox {
    pub(crate) fn new(capacity: usize, resend: bool, home_thread: &str) -> Self {
        Outbox {
            home: (home_thread.into(), thread_key(home_thread)),
            entries: BTreeMap::new(),
            by_trace: HashMap::new(),
            next_seq: 0,
            cursor: 0,
            capacity,
            resend,
            lost: HashSet::new(),
            lost_order: VecDeque::new(),
        }
    }

    /// Queues a frame; refuses (never drops) when full or when the traceId is in flight.
    pub(crate) fn push(
        &mut self,
        trace: TraceId,
        thread: &str,
        frame: Utf8Bytes,
        nonced: Option<Box<Message>>,
    ) -> Result<()> {
        if self.entries.len() >= self.capacity {
            return Err(Error::OutboxFull(self.entries.len()));
        }
        if self.by_trace.contains_key(&trace) {
            return Err(Error::InvalidArgument(format!(
                "traceId {trace} is already waiting for delivery"
            )));
        }
        self.forget_lost(trace);
        let seq = self.next_seq;
        self.next_seq += 1;
        self.entries.insert(
            seq,
            Entry {
                trace,
                thread: self.key(thread),
                frame,
                nonced,
            },
        );
        self.by_trace.insert(trace, seq);
        Ok(())
    }

    /// Appends every frame not yet written on this connection to `out`, in order.
    pub(crate) fn take_unwritten(&mut self, out: &mut Vec<Utf8Bytes>) {
        out.extend(
            self.entries
                .range(self.cursor..)
                .map(|(_, e)| e.frame.clone()),
        );
        self.cursor = self.next_seq;
    }

    fn key(&self, thread: &str) -> u64 {
        if thread == &*self.home.0 {
            self.home.1
        } else {
            thread_key(thread)
        }
    }

    /// Records an acknowledgement of `trace` on `thread` (when the server echoed the
    /// threadId: an ack naming another thread is someone else's message with the same
    /// traceId). False when no such message was waiting.
    pub(crate) fn ack(&mut self, trace: TraceId, thread: Option<&str>) -> bool {
        use std::collections::btree_map::Entry as Slot;
        let Some(seq) = self.by_trace.remove(&trace) else {
            return false;
        };
        let key = thread.map(|t| self.key(t));
        match self.entries.entry(seq) {
            Slot::Occupied(e) if key.is_none_or(|k| e.get().thread == k) => {
                e.remove();
                true
            }
            _ => {
                // Someone else's message: ours is still waiting.
                self.by_trace.insert(trace, seq);
                false
            }
        }
    }

    /// After a lost connection: re-send everything (at-least-once), or give up on what was
    /// written (at-most-once) and return those traceIds.
    pub(crate) fn rewind(&mut self) -> Vec<TraceId> {
        let first_unwritten = self.cursor;
        self.cursor = 0;
        if self.resend {
            return Vec::new();
        }
        let written: Vec<u64> = self
            .entries
            .range(..first_unwritten)
            .map(|(s, _)| *s)
            .collect();
        let mut lost = Vec::with_capacity(written.len());
        for seq in written {
            if let Some(Entry { trace, .. }) = self.entries.remove(&seq) {
                self.by_trace.remove(&trace);
                self.remember_lost(trace);
                lost.push(trace);
            }
        }
        lost
    }

    /// Before a re-send: messages whose nonce the client filled in get the thread's current
    /// secret (a `secret.generated` may have replaced it since they were first written).
    pub(crate) fn refresh_nonces(&mut self, secrets: &HashMap<String, String>) {
        for entry in self.entries.values_mut() {
            let Some(message) = entry.nonced.as_mut() else {
                continue;
            };
            let current = secrets.get(&message.thread_id);
            if current.is_some() && current != message.nonce.as_ref() {
                message.nonce = current.cloned();
                entry.frame = Outbound::message_send_json(message).into();
            }
        }
    }

    pub(crate) fn is_pending(&self, trace: TraceId) -> bool {
        self.by_trace.contains_key(&trace)
    }

    pub(crate) fn was_lost(&self, trace: TraceId) -> bool {
        self.lost.contains(&trace)
    }

    pub(crate) fn len(&self) -> usize {
        self.entries.len()
    }

    fn remember_lost(&mut self, trace: TraceId) {
        if self.lost.insert(trace) {
            self.lost_order.push_back(trace);
        }
        while self.lost_order.len() > LOST_MEMORY {
            if let Some(old) = self.lost_order.pop_front() {
                self.lost.remove(&old);
            }
        }
    }

    fn forget_lost(&mut self, trace: TraceId) {
        if self.lost.remove(&trace) {
            self.lost_order.retain(|t| *t != trace);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frames(o: &mut Outbox) -> Vec<String> {
        let mut v = Vec::new();
        o.take_unwritten(&mut v);
        v.iter().map(|f| f.to_string()).collect()
    }

    #[test]
    fn at_least_once_resends_unacked_in_order() {
        let mut o = Outbox::new(10, true, "t");
        for i in 1..=3 {
            o.push(TraceId(i), "t", format!("m{i}").into(), None)
                .unwrap();
        }
        assert_eq!(frames(&mut o), ["m1", "m2", "m3"]);
        assert!(frames(&mut o).is_empty());
        assert!(o.ack(TraceId(2), Some("t")));
        assert!(!o.ack(TraceId(2), Some("t")));
        assert!(o.rewind().is_empty());
        assert_eq!(frames(&mut o), ["m1", "m3"]);
    }

    #[test]
    fn at_most_once_reports_written_as_lost_and_keeps_unwritten() {
        let mut o = Outbox::new(10, false, "t");
        o.push(TraceId(1), "t", "a".into(), None).unwrap();
        frames(&mut o);
        o.push(TraceId(2), "t", "b".into(), None).unwrap();
        assert_eq!(o.rewind(), [TraceId(1)]);
        assert!(o.was_lost(TraceId(1)));
        assert_eq!(frames(&mut o), ["b"]);
    }

    #[test]
    fn a_resent_message_carries_the_current_secret() {
        let mut o = Outbox::new(10, true, "t");
        let mut message = Message::text("hi").thread("t");
        message.nonce = Some("old".into());
        let frame = Outbound::message_send_json(&message);
        o.push(TraceId(1), "t", frame.into(), Some(Box::new(message)))
            .unwrap();
        o.push(TraceId(2), "t", "user-set nonce, kept".into(), None)
            .unwrap();
        assert!(frames(&mut o)[0].contains("\"nonce\":\"old\""));
        o.rewind();
        let secrets = HashMap::from([("t".to_string(), "new".to_string())]);
        o.refresh_nonces(&secrets);
        let again = frames(&mut o);
        assert!(again[0].contains("\"nonce\":\"new\""), "{}", again[0]);
        assert_eq!(again[1], "user-set nonce, kept");
    }

    #[test]
    fn an_ack_naming_another_thread_is_not_ours() {
        let mut o = Outbox::new(10, true, "t");
        o.push(TraceId(7), "mine", "m".into(), None).unwrap();
        assert!(!o.ack(TraceId(7), Some("theirs")));
        assert!(o.is_pending(TraceId(7)));
        assert!(o.ack(TraceId(7), Some("mine")));
        o.push(TraceId(8), "mine", "m".into(), None).unwrap();
        assert!(
            o.ack(TraceId(8), None),
            "an ack without a threadId matches on traceId"
        );
    }

    #[test]
    fn full_or_duplicate_is_refused_not_dropped() {
        let mut o = Outbox::new(1, true, "t");
        o.push(TraceId(1), "t", "a".into(), None).unwrap();
        assert!(matches!(
            o.push(TraceId(2), "t", "b".into(), None),
            Err(Error::OutboxFull(1))
        ));
        let mut o = Outbox::new(5, true, "t");
        o.push(TraceId(1), "t", "a".into(), None).unwrap();
        assert!(matches!(
            o.push(TraceId(1), "t", "b".into(), None),
            Err(Error::InvalidArgument(_))
        ));
        assert_eq!(o.len(), 1);
    }
}
