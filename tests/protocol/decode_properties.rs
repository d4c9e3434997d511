//! Property test of the inbound frame decoder: random bytes and random JSON never panic, and
//! every frame maps to exactly one kind of result: a decoded frame or a decode error.

use flowai_socket::protocol::{decode, Inbound};
use proptest::prelude::*;
use serde_json::{json, Value};

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(Value::from),
        ".{0,12}".prop_map(Value::from),
    ];
    leaf.prop_recursive(4, 64, 8, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::from),
            prop::collection::btree_map(".{0,8}", inner, 0..6)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

fn frame_type() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("pong".to_string()),
        Just("message.delivered".to_string()),
        Just("message.received".to_string()),
        Just("activities.created".to_string()),
        Just("activities.delivered".to_string()),
        Just("agent.typing".to_string()),
        Just("secret.generated".to_string()),
        Just("interruption.occurred".to_string()),
        Just("error".to_string()),
        "[a-z.]{1,20}",
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn random_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        let text = String::from_utf8_lossy(&bytes);
        let _ = decode(&text);
    }

    #[test]
    fn random_json_never_panics(value in json_value()) {
        let _ = decode(&value.to_string());
    }

    #[test]
    fn frames_with_known_types_and_random_bodies_decode_or_explain(
        kind in frame_type(), payload in json_value(), message in json_value()
    ) {
        let text = json!({"type": kind, "payload": payload, "message": message}).to_string();
        match decode(&text) {
            Ok(Inbound::Unknown(v)) => prop_assert_eq!(v["type"].as_str(), Some(kind.as_str())),
            Ok(_) => {}
            Err(e) => prop_assert!(!e.reason.is_empty()),
        }
    }
}
