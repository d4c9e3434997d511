//! The event queue between the I/O thread and the user, bounded by count
//! (`max_queued_events`) and by bytes (`max_queued_bytes`).
//!
//! The I/O thread never stops reading for the user's sake: acknowledgements, pongs and new
//! secrets take effect as they arrive whatever the queue holds, so `wait_delivered`, the
//! dead-peer check and reconnects never wait for the user to take events. What the user is
//! handed is bounded instead: an event that does not fit is not queued but counted, and the
//! count is handed over in order as one [`Event::Overflow`] where the gap is: never a silent
//! drop, never unbounded growth.
//!
//! Server frames wait as the text that arrived and are decoded when taken, on the taker's
//! thread: a 1 MiB frame costs 1 MiB here, not the ~17 MiB of its JSON tree, and the budget
//! counts exactly what is held.

use super::event::Event;
use crate::protocol::decode;
use crossbeam_channel::{Receiver, Sender};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

/// Largest part of a bad frame kept in an [`Event::ProtocolError`].
const RAW_KEEP: usize = 64 * 1024;

/// One queued thing: a server frame still as text, or an event built by the client.
pub(crate) enum Item {
    /// A server frame as received; decoded into its event when taken.
    Frame(Box<str>),
    /// An event already built (connection changes, acknowledgements, pongs, secrets).
    Event(Event),
}

/// An item with the bytes it was counted as.
pub(crate) struct Queued {
    item: Item,
    cost: usize,
}

/// What one queued item costs beyond its text: the slot it takes in the queue.
const SLOT: usize = std::mem::size_of::<Queued>();

impl Item {
    /// The bytes this item holds: its text, plus the slot.
    fn cost(&self) -> usize {
        SLOT + match self {
            Item::Frame(text) => text.len(),
            Item::Event(event) => event.text_bytes(),
        }
    }
}

/// Events and bytes counted by one side of the queue, on a cache line of its own.
#[repr(align(64))]
#[derive(Default)]
struct Tally {
    events: AtomicUsize,
    bytes: AtomicUsize,
}

impl Tally {
    fn add(&self, events: usize, bytes: usize) {
        self.events.fetch_add(events, Ordering::AcqRel);
        self.bytes.fetch_add(bytes, Ordering::AcqRel);
    }

    fn get(&self) -> (usize, usize) {
        (
            self.events.load(Ordering::Acquire),
            self.bytes.load(Ordering::Acquire),
        )
    }
}

/// The queue and its counters. What it holds is what was pushed minus what was taken; each
/// tally is written by one side only, and the pushing side keeps the last taken tally it
/// read next to its own, reading the taker's again only when that stale view (which can only
/// overstate what is held) says an event does not fit. So an event that fits costs no
/// cache-line transfer between the I/O thread and the taker.
pub(crate) struct EventQueue {
    tx: Sender<Queued>,
    rx: Receiver<Queued>,
    pushed: Tally,
    /// The pusher's last view of `taken`.
    seen_taken: Tally,
    taken: Tally,
    dropped: AtomicU64,
    max_events: usize,
    max_bytes: usize,
}

impl EventQueue {
    pub(crate) fn new(max_events: usize, max_bytes: usize) -> Self {
        let (tx, rx) = crossbeam_channel::unbounded();
        EventQueue {
            tx,
            rx,
            pushed: Tally::default(),
            seen_taken: Tally::default(),
            taken: Tally::default(),
            dropped: AtomicU64::new(0),
            max_events,
            max_bytes,
        }
    }

    fn push(&self, item: Item, cost: usize) {
        self.pushed.add(1, cost);
        // The receiver lives in `self`, so sending cannot fail.
        let _ = self.tx.send(Queued { item, cost });
    }

    /// Queues the count of events not queued since the last report, if any, as one
    /// [`Event::Overflow`]. It costs nothing against the limits: there is at most one
    /// between any two other events.
    fn report_dropped(&self) {
        if let Some(dropped) = self.take_dropped() {
            self.push(Item::Event(Event::Overflow { dropped }), 0);
        }
    }

    /// The count of events dropped since the last report, reset to zero; `None` when none
    /// were (a plain load on the usual path).
    fn take_dropped(&self) -> Option<u64> {
        if self.dropped.load(Ordering::Acquire) == 0 {
            return None;
        }
        Some(self.dropped.swap(0, Ordering::AcqRel)).filter(|n| *n > 0)
    }

    /// Whether `cost` more bytes in one more event stay within both limits, judged on the
    /// pusher's view of what was taken, first as last read, then (`fresh`) read again.
    fn fits(&self, cost: usize, fresh: bool) -> bool {
        if fresh {
            let (events, bytes) = self.taken.get();
            self.seen_taken.events.store(events, Ordering::Release);
            self.seen_taken.bytes.store(bytes, Ordering::Release);
        }
        let (pushed_events, pushed_bytes) = self.pushed.get();
        let (taken_events, taken_bytes) = self.seen_taken.get();
        pushed_events.saturating_sub(taken_events) < self.max_events
            && pushed_bytes.saturating_sub(taken_bytes) + cost <= self.max_bytes
    }

    /// Queues an item when it fits in both limits (an empty queue takes any one item), after
    /// the report of what was dropped before it; otherwise counts it as dropped. True when
    /// queued.
    pub(crate) fn offer(&self, item: Item) -> bool {
        let cost = item.cost();
        let fits = self.fits(cost, false) || self.fits(cost, true) || self.rx.is_empty();
        if fits {
            self.report_dropped();
            self.push(item, cost);
            return true;
        }
        self.dropped.fetch_add(1, Ordering::AcqRel);
        // The taker may have emptied the queue since the check: then it may already be
        // waiting for the next item, and the report goes in now rather than later.
        if self.rx.is_empty() {
            self.report_dropped();
        }
        false
    }

    /// Queues an item whatever the limits (the last event, [`Event::Closed`]).
    pub(crate) fn force(&self, item: Item) {
        self.report_dropped();
        let cost = item.cost();
        self.push(item, cost);
    }

    /// The receiving end, for `select!`; turn what it yields into an event with
    /// [`EventQueue::accept`].
    pub(crate) fn receiver(&self) -> &Receiver<Queued> {
        &self.rx
    }

    /// Takes one received item off the books and turns it into its event.
    pub(crate) fn accept(&self, queued: Queued) -> Event {
        self.taken.add(1, queued.cost);
        match queued.item {
            Item::Event(event) => event,
            Item::Frame(text) => event_of_frame(&text),
        }
    }

    /// The next event without blocking: a queued one, or, once the queue is empty, the
    /// report of events dropped since the last one.
    pub(crate) fn try_take(&self) -> Option<Event> {
        match self.rx.try_recv() {
            Ok(queued) => Some(self.accept(queued)),
            Err(_) => self
                .take_dropped()
                .map(|dropped| Event::Overflow { dropped }),
        }
    }

    /// Events waiting.
    pub(crate) fn len(&self) -> usize {
        self.held().0
    }

    /// Bytes held by the events waiting.
    pub(crate) fn bytes(&self) -> usize {
        self.held().1
    }

    /// Events and bytes waiting. `taken` is read first: it never passes `pushed` (an item
    /// is counted before it can be received), so the differences cannot underflow.
    fn held(&self) -> (usize, usize) {
        let (taken_events, taken_bytes) = self.taken.get();
        let (pushed_events, pushed_bytes) = self.pushed.get();
        (
            pushed_events.saturating_sub(taken_events),
            pushed_bytes.saturating_sub(taken_bytes),
        )
    }
}

/// The first `RAW_KEEP` bytes of a text, cut at a character boundary.
pub(crate) fn keep(raw: &str) -> String {
    let mut end = raw.len().min(RAW_KEEP);
    while !raw.is_char_boundary(end) {
        end -= 1;
    }
    raw[..end].to_string()
}

/// The event of a server frame: its decoded form, or a protocol error holding the frame.
fn event_of_frame(text: &str) -> Event {
    match decode(text) {
        Ok(inbound) => Event::from_inbound(inbound),
        Err(e) => Event::ProtocolError {
            error: e.reason,
            raw: keep(text),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(n: usize) -> Item {
        Item::Frame(format!(r#"{{"type":"agent.typing","payload":{{"n":{n}}}}}"#).into())
    }

    fn drain(q: &EventQueue) -> Vec<String> {
        std::iter::from_fn(|| q.try_take())
            .map(|e| match e {
                Event::Overflow { dropped } => format!("overflow {dropped}"),
                Event::AgentTyping(p) => format!("typing {}", p["n"]),
                other => other.name().to_string(),
            })
            .collect()
    }

    #[test]
    fn what_does_not_fit_is_counted_and_reported_in_place() {
        let q = EventQueue::new(2, 1 << 20);
        assert!(q.offer(frame(0)));
        assert!(q.offer(frame(1)));
        assert!(!q.offer(frame(2)));
        assert!(!q.offer(frame(3)));
        assert_eq!(q.len(), 2);
        assert_eq!(drain(&q), ["typing 0", "typing 1", "overflow 2"]);
        assert_eq!(q.bytes(), 0);
        assert!(q.offer(frame(4)));
        assert!(q.offer(frame(5)));
        assert!(!q.offer(frame(6)));
        assert_eq!(drain(&q)[..1], ["typing 4"]);
        // Room again: the report goes in before the next event.
        let q2 = EventQueue::new(1, 1 << 20);
        assert!(q2.offer(frame(0)));
        assert!(!q2.offer(frame(1)));
        assert_eq!(q2.try_take().map(|e| e.name()), Some("agent_typing"));
        assert!(q2.offer(frame(2)));
        assert_eq!(drain(&q2), ["overflow 1", "typing 2"]);
    }

    #[test]
    fn the_byte_budget_counts_the_text() {
        let big =
            || Item::Frame(format!("{{\"type\":\"x\",\"pad\":\"{}\"}}", "a".repeat(1000)).into());
        let one = big().cost();
        assert!(one > 1000);
        let q = EventQueue::new(1000, one * 3);
        let queued = (0..10).filter(|_| q.offer(big())).count();
        assert_eq!(queued, 3);
        assert_eq!(q.bytes(), one * 3);
        q.force(Item::Event(Event::Closed { reason: "r".into() }));
        assert_eq!(q.len(), 5, "the report and the closing event go in anyway");
        let names: Vec<_> = std::iter::from_fn(|| q.try_take())
            .map(|e| e.name())
            .collect();
        assert_eq!(
            names,
            ["unknown", "unknown", "unknown", "overflow", "closed"]
        );
        assert_eq!(q.bytes(), 0);
    }
}
