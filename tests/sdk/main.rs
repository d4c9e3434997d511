//! What the official SDK does, done the same: ids and the state file, nonces, noticed and typing,
//! originator and one-time tokens, the REST calls, every server event.

#[path = "../common/mod.rs"]
mod common;

use flowai_socket::{Client, Event};
use std::time::Duration;

/// Receives until an event matches (10 s at most); returns it and the events before it.
pub(crate) fn until(
    client: &Client,
    _what: &str,
    pred: impl Fn(&Event) -> bool,
) -> (Event, Vec<Event>) {
    common::wait_event(client, Duration::from_secs(10), pred)
}

mod ids_state;
mod nonce;
mod noticed_typing;
mod origin_ott;
mod rest;
mod server_events;
