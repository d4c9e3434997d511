//! Fuzzes the inbound frame decoder: any text must decode to a frame or an error, never panic,
//! and a decoded frame must turn into a client event that serializes back to JSON.
#![no_main]

use flowai_socket::protocol::{decode, Inbound};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    match decode(&text) {
        Ok(Inbound::Reply { reply, .. }) => {
            let _ = reply.text();
            let _ = serde_json::to_string(&reply).expect("a decoded reply serializes");
        }
        Ok(Inbound::Unknown(v)) => assert!(v.get("type").is_some()),
        Ok(_) => {}
        Err(e) => assert!(!e.reason.is_empty()),
    }
});
