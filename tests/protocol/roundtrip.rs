//! Every frame of docs/protocol.md and the seed example survives decode → encode unchanged,
//! and every server frame decodes to the right kind with unknown fields kept.

use flowai_socket::protocol::{decode, Attachment, Inbound, Message, Outbound, Role};
use serde_json::{json, Value};

fn roundtrip_message(payload: Value) -> Message {
    let message: Message = serde_json::from_value(payload.clone()).expect("decodes");
    let again = serde_json::to_value(&message).expect("encodes");
    assert_eq!(
        again, payload,
        "message.send payload changed in a round trip"
    );
    message
}

#[test]
fn seed_message_roundtrips() {
    let payload = json!({
        "threadId": "jane.doe",
        "speech": "event attachment",
        "attachment": {"type": "event", "payload": {"name": "MY EVENT"}},
        "originator": {
            "name": "Jane Doe",
            "role": "external",
            "profile": {
                "fullName": "Jane Doe", "firstName": "Jane", "lastName": "Doe", "gender": "F",
                "locale": "en-US", "timezone": -5, "country": "us",
                "email": "jane.doe@example.com",
                "picture": "https://en.wikipedia.org/wiki/File:YellowLabradorLooking_new.jpg"
            },
            "metadata": {"clientNumber": "12345", "preference": "A,B,G"}
        }
    });
    let m = roundtrip_message(payload);
    assert!(matches!(m.attachment, Some(Attachment::Event(ref e)) if e.name == "MY EVENT"));
    assert_eq!(m.originator.unwrap().role, Role::External);
}

#[test]
fn protocol_md_message_send_roundtrips_with_all_fields() {
    let payload = json!({
        "threadId": "jane.doe",
        "traceId": 1111111111111u64,
        "nonce": "SECRET",
        "speech": "Hi there!",
        "originator": {
            "name": "Jane Doe", "role": "moderator",
            "profile": {"fullName": "Jane Doe", "timezone": 5.5, "description": "d",
                        "location": "l", "picture": "https://x/y.png", "custom": [1, 2]},
            "metadata": {"anything": {"nested": true}}
        },
        "metadata": {
            "language": "en-US", "timezone": -6,
            "params": {"seats": [{"value": "Business class"}, {"value": "Eco", "match": "eco"}]},
            "contexts": ["legacy"],
            "domain": {"realm": "browser", "title": "Shop"}
        },
        "attachment": {"type": "event", "payload": {"name": "MY EVENT", "label": "optional"}}
    });
    let m = roundtrip_message(payload);
    assert_eq!(m.trace_id.unwrap().0, 1111111111111);
    assert!(m.metadata.unwrap().extra.contains_key("domain"));
}

#[test]
fn attachment_kinds_roundtrip_and_unknown_kinds_are_kept() {
    for attachment in [
        json!({"type": "event", "payload": {"name": "HELLO", "eventType": "OPENING"}}),
        json!({"type": "flow", "payload": {"flowImmutableId": "f-1"}}),
        json!({"type": "step", "payload": {"stepId": "s-1"}}),
        json!({"type": "file", "payload": {"url": "https://x/f.pdf", "size": 3}}),
        json!({"type": "flow", "payload": {"flowImmutableId": "f-1", "extra": 1}}),
    ] {
        let payload = json!({"threadId": "t", "speech": "s", "attachment": attachment});
        roundtrip_message(payload);
    }
    let opening =
        serde_json::to_value(Message::attachment_only(Attachment::opening_event("HI"))).unwrap();
    assert_eq!(opening["attachment"]["payload"]["eventType"], "OPENING");
    assert_eq!(opening["speech"], "event attachment");
}

#[test]
fn absent_fields_are_omitted_not_null() {
    let text = Outbound::MessageSend(Message::text("hi").thread("t")).to_json();
    assert_eq!(
        text,
        r#"{"type":"message.send","payload":{"threadId":"t","speech":"hi"}}"#
    );
    assert!(!text.contains("null"));
}

#[test]
fn client_frames_have_the_documented_shape() {
    assert_eq!(Outbound::Ping.to_json(), r#"{"type":"ping"}"#);
    let noticed: Value = serde_json::from_str(
        &Outbound::ThreadNoticed {
            thread_id: "t".into(),
        }
        .to_json(),
    )
    .unwrap();
    assert_eq!(
        noticed,
        json!({"type": "thread.noticed", "payload": {"threadId": "t"}})
    );
    let typing: Value = serde_json::from_str(
        &Outbound::UserTyping {
            client_id: "c".into(),
            thread_id: "t".into(),
            originator: flowai_socket::Originator::new("Jane"),
        }
        .to_json(),
    )
    .unwrap();
    assert_eq!(
        typing,
        json!({"type": "activity.user.typing", "payload": {"clientId": "c", "threadId": "t",
               "originator": {"name": "Jane", "role": "external"}}})
    );
}

#[test]
fn server_frames_decode_to_their_kinds() {
    assert_eq!(decode(r#"{"type":"pong"}"#).unwrap(), Inbound::Pong);
    let delivered = decode(
        r#"{"type":"message.delivered","payload":{"threadId":"jane.doe","traceId":1111111111111,"speech":"x","metadata":{"language":"en"}}}"#,
    )
    .unwrap();
    match delivered {
        Inbound::Delivered {
            delivered,
            activities: false,
        } => {
            assert_eq!(delivered.trace_id.unwrap().0, 1111111111111);
            assert_eq!(delivered.payload()["metadata"]["language"], "en");
        }
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        decode(r#"{"type":"activities.delivered","payload":{"traceId":"42"}}"#).unwrap(),
        Inbound::Delivered { activities: true, delivered } if delivered.trace_id.unwrap().0 == 42
    ));
    assert_eq!(
        decode(r#"{"type":"secret.generated","message":{"secret":"s3"}}"#).unwrap(),
        Inbound::SecretGenerated("s3".into())
    );
    assert_eq!(
        decode(r#"{"type":"error","message":"Invalid nonce"}"#).unwrap(),
        Inbound::ServerError("Invalid nonce".into())
    );
    assert!(matches!(
        decode(r#"{"type":"agent.typing","payload":{"threadId":"t"}}"#).unwrap(),
        Inbound::AgentTyping(_)
    ));
    assert!(matches!(
        decode(r#"{"type":"interruption.occurred"}"#).unwrap(),
        Inbound::Interruption(Value::Null)
    ));
    let unknown = decode(r#"{"type":"brand.new","payload":{"a":1},"extra":true}"#).unwrap();
    assert_eq!(
        unknown,
        Inbound::Unknown(json!({"type": "brand.new", "payload": {"a": 1}, "extra": true}))
    );
}

#[test]
fn reply_keeps_every_field_and_unknown_response_types() {
    let payload = json!({
        "threadId": "jane.doe",
        "originator": {"userId": "flowai|bot", "name": "Bot", "role": "bot", "profile": {}},
        "messages": [{
            "fallback": "Hello Jane", "silent": false, "replyTo": "event attachment",
            "originator": {"name": "Bot"}, "actions": [],
            "responses": [
                {"type": "text", "payload": {"text": "Hello Jane"}, "delay": 0},
                {"type": "hologram", "payload": {"beam": "up"}, "delay": 1.5, "future": 1}
            ],
            "flow": {"flowId": "f", "title": "Greeting"}, "step": {"stepId": "s", "title": "Hi"},
            "params": {}, "intents": [], "contexts": [], "createdAt": "2026-11-25T00:00:00Z",
            "unknownField": {"kept": true}
        }],
        "somethingNew": 7
    });
    let frame = json!({"type": "message.received", "payload": payload});
    let Inbound::Reply {
        reply,
        activities: false,
    } = decode(&frame.to_string()).unwrap()
    else {
        panic!("not a reply")
    };
    assert_eq!(reply.text(), "Hello Jane");
    assert_eq!(reply.sender_name(), Some("Bot"));
    assert_eq!(reply.messages[0].responses[1].kind, "hologram");
    assert_eq!(
        serde_json::to_value(&reply).unwrap(),
        payload,
        "nothing dropped"
    );
}

#[test]
fn bad_frames_are_errors_never_panics() {
    for bad in [
        "",
        "not json",
        "{\"type\":",
        "[1,2]",
        "42",
        "{}",
        r#"{"type":7}"#,
        r#"{"type":"message.received","payload":{"messages":"nope"}}"#,
        r#"{"type":"message.received","payload":{"messages":[{"responses":[{"type":3}]}]}}"#,
        r#"{"type":"message.delivered","payload":"x"}"#,
        r#"{"type":"secret.generated","message":{}}"#,
    ] {
        let err = decode(bad).expect_err(bad);
        assert!(!err.reason.is_empty());
    }
}
