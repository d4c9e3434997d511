//! Quickstart: the original Flow Socket API example, in blocking Rust.
//!
//! Connects, sends Jane Doe's `MY EVENT` event message, prints the `message.delivered`
//! acknowledgement and the bot's reply, and closes.
//!
//! ```text
//! cargo run --example quickstart                      # against an embedded local emulator
//! FLOWAI_CLIENT_ID=… cargo run --example quickstart   # against Flow (FLOWAI_BASE_URL optional)
//! ```

use flowai_emulator::{Emulator, EmulatorConfig};
use flowai_socket::protocol::Hours;
use flowai_socket::{Client, Config, Event, Message, Originator, Profile};
use std::time::{Duration, Instant};

/// The test message of the original example.
fn jane_doe_event() -> Message {
    let profile = Profile {
        full_name: Some("Jane Doe".into()),
        first_name: Some("Jane".into()),
        last_name: Some("Doe".into()),
        gender: Some("F".into()),
        locale: Some("en-US".into()),
        timezone: Some(Hours(-5.0)),
        country: Some("us".into()),
        email: Some("jane.doe@example.com".into()),
        picture: Some("https://en.wikipedia.org/wiki/File:YellowLabradorLooking_new.jpg".into()),
        ..Profile::default()
    };
    let jane = Originator::new("Jane Doe")
        .profile(profile)
        .meta("clientNumber", "12345")
        .meta("preference", "A,B,G");
    Message::event("MY EVENT")
        .thread("jane.doe")
        .originator(jane)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    // With no FLOWAI_CLIENT_ID, start the local emulator and talk to it instead.
    let (config, emulator) = match Config::from_env() {
        Some(config) => (config, None),
        None => {
            let emulator = Emulator::start(EmulatorConfig::default())?;
            println!(
                "No FLOWAI_CLIENT_ID set: using the local emulator at {}",
                emulator.base_url()
            );
            (
                Config::new("quickstart").base_url(emulator.base_url()),
                Some(emulator),
            )
        }
    };
    let client = Client::connect(config.thread_id("jane.doe"))?;
    let trace = client.send(jane_doe_event())?;
    println!("Sent event MY EVENT as Jane Doe (traceId {trace})");

    let deadline = Instant::now() + Duration::from_secs(15);
    let (mut acked, mut replied) = (false, false);
    while !(acked && replied) {
        let left = deadline.saturating_duration_since(Instant::now());
        match client.recv_timeout(left)? {
            None => return Err("no reply within 15 s".into()),
            Some(Event::Connected { session_id }) => println!("Connected (session {session_id})"),
            Some(Event::Delivered(d)) if d.trace_id == Some(trace) => {
                acked = true;
                println!(
                    "Delivered: traceId {trace} in thread {}",
                    d.thread_id.unwrap_or_default()
                );
            }
            Some(Event::Reply(reply)) => {
                replied = true;
                let from = reply.sender_name().unwrap_or("bot").to_string();
                println!("Reply from {from}: {}", reply.text());
            }
            Some(Event::Closed { reason }) => return Err(reason.into()),
            Some(other) => println!("Event: {}", other.to_json()),
        }
    }
    client.close()?;
    println!("Closed.");
    drop(emulator);
    Ok(())
}
