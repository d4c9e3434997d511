//! Reconnecting: dropped connections, a restarted server, `socket.info` on every reconnect;
//! nothing lost.

#[path = "../common/mod.rs"]
mod common;

mod drops;
mod restart;
mod socket_info;
