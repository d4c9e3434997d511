//! Servers that misbehave: bad `socket.info` answers, bad frames, a dead peer, a reset while the
//! client is not reading.

#[path = "../common/mod.rs"]
mod common;

mod bad_server_frames;
mod bad_socket_info;
mod dead_peer;
mod reset_while_not_reading;
