//! `Client::close` from any thread, including from inside a `Dispatcher` handler, first wakes
//! every call blocked on the client (they return `AlreadyClosed` at once), then joins; it
//! returns within 50 ms. The emulator holds acknowledgements back, so a wait for delivery
//! blocks for as long as its timeout.

use crate::common;

use flowai_emulator::Emulator;
use flowai_socket::{Client, Dispatcher, Error, Message};
use std::sync::mpsc;
use std::sync::Arc;
use std::time::{Duration, Instant};

const PROMPT: Duration = Duration::from_millis(50);

fn held_acks_client() -> (Emulator, Arc<Client>) {
    let emulator = common::emulator();
    emulator.faults().ack_delay(Duration::from_secs(30));
    let client = Client::connect(common::config_for(&emulator)).unwrap();
    (emulator, Arc::new(client))
}

#[test]
fn close_from_another_thread_wakes_a_handler_blocked_in_wait_delivered() {
    common::fail_after(Duration::from_secs(30), || {
        let (_emulator, client) = held_acks_client();
        let (blocked_tx, blocked) = mpsc::channel();
        let (result_tx, result) = mpsc::channel();
        let c = client.clone();
        let mut first = true;
        let dispatcher = Dispatcher::start(client.clone(), move |_event| {
            if !std::mem::take(&mut first) {
                return;
            }
            let trace = c.send(Message::text("held")).unwrap();
            blocked_tx.send(()).unwrap();
            let started = Instant::now();
            let r = c.wait_delivered(trace, Duration::from_secs(3600));
            result_tx.send((r, started.elapsed())).unwrap();
        });
        blocked.recv_timeout(Duration::from_secs(5)).unwrap();
        std::thread::sleep(Duration::from_millis(100)); // into the wait
        let started = Instant::now();
        client.close().unwrap();
        let took = started.elapsed();
        let (r, _) = result.recv_timeout(Duration::from_secs(5)).unwrap();
        assert!(matches!(r, Err(Error::AlreadyClosed)), "{r:?}");
        assert!(took <= PROMPT, "close took {took:?}");
        let started = Instant::now();
        dispatcher.stop();
        assert!(started.elapsed() <= PROMPT, "the handler was still blocked");
    });
}

#[test]
fn close_from_inside_a_handler_wakes_every_blocked_call() {
    common::fail_after(Duration::from_secs(30), || {
        let (_emulator, client) = held_acks_client();
        let trace = client.send(Message::text("held")).unwrap();
        let waiter = {
            let c = client.clone();
            std::thread::spawn(move || {
                let r = c.wait_delivered(trace, Duration::from_secs(3600));
                (r, Instant::now())
            })
        };
        let flusher = {
            let c = client.clone();
            std::thread::spawn(move || c.flush(Duration::from_secs(3600)))
        };
        std::thread::sleep(Duration::from_millis(100)); // both into their waits
        let (closed_tx, closed) = mpsc::channel();
        let c = client.clone();
        let _dispatcher = Dispatcher::start(client.clone(), move |_event| {
            let started = Instant::now();
            let r = c.close();
            let _ = closed_tx.send((r, started.elapsed(), Instant::now()));
        });
        let (r, took, closed_at) = closed.recv_timeout(Duration::from_secs(5)).unwrap();
        r.unwrap();
        assert!(took <= PROMPT, "close inside the handler took {took:?}");
        let (r, woken_at) = waiter.join().unwrap();
        assert!(matches!(r, Err(Error::AlreadyClosed)), "{r:?}");
        assert!(woken_at.saturating_duration_since(closed_at) <= PROMPT);
        let r = flusher.join().unwrap();
        assert!(matches!(r, Err(Error::AlreadyClosed)), "{r:?}");
    });
}

#[test]
fn close_wakes_a_blocked_recv_at_once() {
    common::fail_after(Duration::from_secs(30), || {
        let (_emulator, client) = held_acks_client();
        while client.try_recv().unwrap().is_some() {}
        let receiver = {
            let c = client.clone();
            std::thread::spawn(move || (c.recv_timeout(Duration::from_secs(3600)), Instant::now()))
        };
        std::thread::sleep(Duration::from_millis(100)); // into the wait
        let started = Instant::now();
        client.close().unwrap();
        let (r, woken_at) = receiver.join().unwrap();
        assert!(matches!(r, Err(Error::AlreadyClosed)), "{r:?}");
        assert!(
            woken_at.duration_since(started) <= PROMPT,
            "recv woke {:?} after close started",
            woken_at.duration_since(started)
        );
    });
}
