//! Fuzzes the inbound frame decoders: any text must decode to a frame or an error, never panic,
//! and a decoded frame must turn into a client event that serializes back to JSON. The I/O
//! thread's fast path (`decode_control`, run on every frame as it arrives) must never panic
//! either, and must agree with the full decoder on the acknowledgements it picks out.
#![no_main]

use flowai_socket::protocol::{decode, decode_control, Inbound};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    if let Some(Inbound::Delivered { delivered, .. }) = decode_control(&text) {
        match decode(&text) {
            Ok(Inbound::Delivered {
                delivered: full, ..
            }) => {
                assert_eq!(delivered.trace_id, full.trace_id);
                assert_eq!(delivered.thread_id, full.thread_id);
            }
            other => panic!("decode_control saw an ack that decode did not: {other:?}"),
        }
    }
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
