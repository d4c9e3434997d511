//! `flowai send`: connect, send one message, print every event as a JSON line until the
//! bot's reply arrives or the timeout passes.

use super::exit::Failed;
use super::target::TargetArgs;
use flowai_socket::{Attachment, Client, Event, Message};
use std::time::{Duration, Instant};

/// Flags of `flowai send`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// The threadId to send in (default: a new SDK-style id).
    #[arg(long)]
    thread: Option<String>,
    /// The text to send.
    #[arg(long, default_value = "")]
    speech: String,
    /// Attach an event with this name (speech defaults to "event attachment").
    #[arg(long)]
    event: Option<String>,
    /// Seconds to wait for the reply.
    #[arg(long, default_value_t = 10)]
    timeout: u64,
    #[command(flatten)]
    target: TargetArgs,
}

/// Runs the command.
pub fn run(args: Args) -> Result<(), Box<dyn std::error::Error>> {
    let target = args.target.resolve()?;
    let mut config = target.config;
    if let Some(thread) = &args.thread {
        config = config.thread_id(thread);
    }
    let mut message = match &args.event {
        Some(name) => Message::event(name),
        None => Message::text(&args.speech),
    };
    if args.event.is_some() && !args.speech.is_empty() {
        message = Message::text(&args.speech)
            .with_attachment(Attachment::event(args.event.as_deref().unwrap_or_default()));
    }
    let client = Client::connect(config)?;
    let trace = client.send(message)?;
    let deadline = Instant::now() + Duration::from_secs(args.timeout);
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let Some(event) = client.recv_timeout(left)? else {
            return Err(Failed::network(format!(
                "no reply within {} s (traceId {trace})",
                args.timeout
            )));
        };
        println!("{}", event.to_json());
        match event {
            Event::Reply(_) | Event::ActivitiesCreated(_) => break,
            Event::Closed { reason } => return Err(Failed::network(reason)),
            _ => {}
        }
    }
    client.close()?;
    Ok(())
}
