//! `Dispatcher`: the handler runs on its own thread for every event, `stop()` guarantees no
//! further calls once it returns, and stopping from inside the handler does not deadlock.

use crate::common;

use flowai_emulator::{Emulator, EmulatorConfig};
use flowai_socket::{Client, Config, Dispatcher, Event, Message};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::time::Duration;

fn connect(emulator: &Emulator) -> Arc<Client> {
    let config = Config::new("dispatcher-test")
        .base_url(emulator.base_url())
        .thread_id("jane.doe");
    Arc::new(Client::connect(config).expect("connect"))
}

#[test]
fn handler_runs_on_its_own_thread_and_stop_is_final() {
    common::fail_after(Duration::from_secs(120), || {
        let emulator = Emulator::start(EmulatorConfig::default()).expect("emulator");
        let client = connect(&emulator);
        let calls = Arc::new(AtomicUsize::new(0));
        let (tx, rx) = mpsc::channel();
        let counter = calls.clone();
        let main_thread = std::thread::current().id();
        let dispatcher = Dispatcher::start(client.clone(), move |event| {
            assert_ne!(std::thread::current().id(), main_thread);
            assert_eq!(std::thread::current().name(), Some("flowai-dispatch"));
            counter.fetch_add(1, Ordering::SeqCst);
            if let Event::Reply(reply) = event {
                let _ = tx.send(reply.text());
            }
        });
        client.send(Message::event("MY EVENT")).expect("send");
        let text = rx.recv_timeout(Duration::from_secs(10)).expect("a reply");
        assert_eq!(text, "Event MY EVENT received");

        dispatcher.stop();
        let after_stop = calls.load(Ordering::SeqCst);
        client.send(Message::text("more")).expect("send");
        client.flush(Duration::from_secs(10)).expect("flush");
        std::thread::sleep(Duration::from_millis(300));
        assert_eq!(
            calls.load(Ordering::SeqCst),
            after_stop,
            "called after stop()"
        );
        // The events the dispatcher did not take are still there for recv.
        let next = client.recv_timeout(Duration::from_secs(5)).expect("recv");
        assert!(next.is_some());
        client.close().expect("close");
        emulator.stop();
    });
}

#[test]
fn stop_from_inside_the_handler_does_not_deadlock() {
    common::fail_after(Duration::from_secs(120), || {
        let emulator = Emulator::start(EmulatorConfig::default()).expect("emulator");
        let client = connect(&emulator);
        let slot: Arc<Mutex<Option<Dispatcher>>> = Arc::new(Mutex::new(None));
        let calls = Arc::new(AtomicUsize::new(0));
        let (tx, rx) = mpsc::channel();
        let (inner_slot, counter) = (slot.clone(), calls.clone());
        let mut guard = slot.lock().unwrap();
        *guard = Some(Dispatcher::start(client.clone(), move |_event| {
            counter.fetch_add(1, Ordering::SeqCst);
            let me = inner_slot.lock().unwrap().take();
            if let Some(me) = me {
                assert!(me.is_current_thread());
                me.stop(); // must return at once: no join on its own thread
                let _ = tx.send(());
            }
        }));
        drop(guard);
        // The first event (Connected) makes the handler stop itself.
        rx.recv_timeout(Duration::from_secs(10))
            .expect("handler stopped itself");
        client.send(Message::text("after")).expect("send");
        client.flush(Duration::from_secs(10)).expect("flush");
        std::thread::sleep(Duration::from_millis(300));
        assert_eq!(
            calls.load(Ordering::SeqCst),
            1,
            "called after stopping itself"
        );
        client.close().expect("close");
        emulator.stop();
    });
}

#[test]
fn dispatcher_ends_after_the_client_closes() {
    common::fail_after(Duration::from_secs(120), || {
        let emulator = Emulator::start(EmulatorConfig::default()).expect("emulator");
        let client = connect(&emulator);
        let dispatcher = Dispatcher::start(client.clone(), |_event| {});
        client.close().expect("close");
        // Dropping (like stop) joins the thread, which has ended or ends promptly.
        let started = std::time::Instant::now();
        drop(dispatcher);
        assert!(started.elapsed() < Duration::from_secs(2));
        emulator.stop();
    });
}

#[test]
fn stopping_and_restarting_dispatchers_loses_no_event() {
    common::fail_after(Duration::from_secs(120), || {
        let emulator = Emulator::start(EmulatorConfig::default()).expect("emulator");
        let client = connect(&emulator);
        let traces: Vec<_> = (0..1000)
            .map(|i| client.send(Message::text(format!("m{i}"))).expect("send"))
            .collect();
        let seen = Arc::new(Mutex::new(Vec::new()));
        for _ in 0..20 {
            let seen = seen.clone();
            let dispatcher = Dispatcher::start(client.clone(), move |event| {
                seen.lock().unwrap().push(event.clone());
            });
            std::thread::sleep(Duration::from_millis(2));
            dispatcher.stop();
        }
        let mut events = seen.lock().unwrap().clone();
        while let Some(event) = client
            .recv_timeout(Duration::from_millis(500))
            .expect("recv")
        {
            events.push(event);
        }
        let acked: std::collections::HashSet<_> =
            events.iter().filter_map(Event::trace_id).collect();
        let replies = events
            .iter()
            .filter(|e| matches!(e, Event::Reply(_)))
            .count();
        assert_eq!(
            acked.len(),
            traces.len(),
            "every ack reached a handler or recv"
        );
        assert_eq!(
            replies,
            traces.len(),
            "every reply reached a handler or recv"
        );
    });
}
