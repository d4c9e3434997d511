//! The client through its public Rust API against the emulator: connect, send, receive, close,
//! limits, the dispatcher, the quickstart example, secrets kept out of logs.

#[path = "../common/mod.rs"]
mod common;

mod bad_config;
mod close_behaviour;
mod close_during_waits;
mod close_from_handlers;
mod connect_handshake;
mod dispatcher;
mod keepalive;
mod limits;
mod quickstart;
mod secrets_redacted;
mod trace_matching;
mod untaken_events;
