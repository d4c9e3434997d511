//! [`Dispatcher`]: hands every event of a client to a handler on a thread of its own, so a
//! slow handler never stalls the socket or the keepalive.

use super::{Client, Event};
use crossbeam_channel::{select, Receiver, Sender};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;

/// Runs a handler for each event of a [`Client`] on a dedicated thread (`flowai-dispatch`).
///
/// Events are taken from the same queue as [`Client::recv`], so while a dispatcher runs,
/// do not also call `recv` on that client (each event goes to only one of them). The thread
/// ends by itself after the client has stopped and every queued event was handed over. A
/// handler that panics ends the client like a final error: [`Event::Closed`] naming the
/// panic is queued (for `recv`), blocked calls return errors and `send` fails.
///
/// ```no_run
/// use flowai_socket::{Client, Config, Dispatcher};
/// use std::sync::Arc;
/// let client = Arc::new(Client::connect(Config::new("my-client-id"))?);
/// let dispatcher = Dispatcher::start(client.clone(), |event| println!("{}", event.name()));
/// // … send messages …
/// dispatcher.stop(); // from here on the handler is never called again
/// # Ok::<(), flowai_socket::Error>(())
/// ```
pub struct Dispatcher {
    stopping: Arc<AtomicBool>,
    wake: Sender<()>,
    thread: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for Dispatcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Dispatcher")
            .field("stopping", &self.stopping.load(Ordering::Relaxed))
            .finish_non_exhaustive()
    }
}

impl Dispatcher {
    /// Starts the thread; `handler` is called once per event, in order, on that thread.
    ///
    /// # Panics
    /// When the operating system cannot start a thread.
    pub fn start(client: Arc<Client>, handler: impl FnMut(&Event) + Send + 'static) -> Dispatcher {
        let stopping = Arc::new(AtomicBool::new(false));
        let (wake, woken) = crossbeam_channel::bounded(1);
        let flag = stopping.clone();
        let thread = std::thread::Builder::new()
            .name("flowai-dispatch".into())
            .spawn(move || run(&client, handler, &flag, &woken))
            .expect("cannot start the flowai dispatcher thread");
        Dispatcher {
            stopping,
            wake,
            thread: Some(thread),
        }
    }

    /// Asks the thread to stop without waiting for it: once a handler call in progress (if
    /// any) returns, the handler is not called again. [`Dispatcher::stop`] also waits.
    pub fn request_stop(&self) {
        self.stopping.store(true, Ordering::Release);
        let _ = self.wake.try_send(());
    }

    /// True when this is the dispatcher's own thread (that is, inside the handler).
    pub fn is_current_thread(&self) -> bool {
        self.thread
            .as_ref()
            .is_some_and(|t| t.thread().id() == std::thread::current().id())
    }

    /// Stops the dispatcher. When it returns, the handler is not running and will never be
    /// called again. Called from inside the handler it does not wait for itself (no
    /// deadlock): the call in progress is the last one.
    pub fn stop(mut self) {
        self.shut_down();
    }

    fn shut_down(&mut self) {
        self.request_stop();
        if let Some(thread) = self.thread.take() {
            if thread.thread().id() != std::thread::current().id() {
                // A panicking handler ended the thread early (and the client with it).
                let _ = thread.join();
            }
        }
    }
}

impl Drop for Dispatcher {
    fn drop(&mut self) {
        self.shut_down();
    }
}

fn run(
    client: &Client,
    mut handler: impl FnMut(&Event),
    stopping: &AtomicBool,
    woken: &Receiver<()>,
) {
    let shared = &client.shared;
    loop {
        if stopping.load(Ordering::Acquire) {
            return;
        }
        if let Some(event) = shared.take_carried() {
            if !call(client, &mut handler, &event) {
                return;
            }
            continue;
        }
        let event = select! {
            recv(woken) -> _ => return,
            recv(shared.events.receiver()) -> queued => match queued {
                Ok(queued) => shared.events.accept(queued),
                Err(_) => return,
            },
            // The client stopped: hand over what is still queued, then end.
            recv(shared.stopped_rx) -> _ => match shared.events.try_take() {
                Some(event) => event,
                None => return,
            },
        };
        if stopping.load(Ordering::Acquire) {
            // Stopped while taking it: keep it for `recv` or the next dispatcher.
            shared.carry(event);
            return;
        }
        if !call(client, &mut handler, &event) {
            return;
        }
    }
}

/// Calls the handler; a panic in it ends the client like a final error (an
/// [`Event::Closed`] naming the panic, every blocked call released) and this thread. False
/// after a panic.
fn call(client: &Client, handler: &mut impl FnMut(&Event), event: &Event) -> bool {
    match crate::error::catch_panic(|| handler(event)) {
        Ok(()) => true,
        Err(panic) => {
            client
                .shared
                .fail_after_panic("event handler (flowai-dispatch)", &panic);
            false
        }
    }
}
