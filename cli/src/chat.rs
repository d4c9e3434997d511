//! `flowai chat`: talk to a bot from the terminal, the way a person tries one out.
//!
//! Type a line and the bot's reply is shown, rendered from its responses: text, and quick
//! replies and buttons as numbered choices (type the number to pick one). Commands:
//! `/event NAME`, `/history`, `/help`, `/quit` (`//text` sends `/text`). The connection state
//! and the other server events are one-line notices starting with `* `.
//!
//! Without a terminal (stdin piped) every line is echoed as `you: …` and the chat waits for
//! the reply to each message (at most `--reply-timeout` seconds) before reading the next line,
//! so a script of lines plays a whole conversation. It ends with status 0 at end of input or
//! `/quit`, and with an error when the connection closes for good.

use super::exit::Failed;
use super::target::TargetArgs;
use crossbeam_channel::{select, Receiver, RecvTimeoutError};
use flowai_socket::protocol::{Reply, Response};
use flowai_socket::{
    Attachment, Client, Config, Event, HistoryEntry, Message, Originator, TraceId,
};
use serde_json::Value;
use std::io::{BufRead, IsTerminal, Write};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Longest wait for the first `connected` notice before reading input.
const CONNECTED_NOTICE_WAIT: Duration = Duration::from_secs(5);

/// Flags of `flowai chat`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// The threadId to chat in (default: the state file's, else a new SDK-style id).
    #[arg(long, env = "FLOWAI_THREAD_ID")]
    thread: Option<String>,
    /// Keep threadId, sessionId and secret in this file, to continue the chat next time.
    #[arg(long, env = "FLOWAI_STATE_FILE")]
    state_file: Option<PathBuf>,
    /// Your name as the bot sees it.
    #[arg(long, default_value = "Anonymous")]
    name: String,
    /// Seconds to wait for the bot's reply before reading the next line.
    #[arg(long, default_value_t = 15)]
    reply_timeout: u64,
    #[command(flatten)]
    target: TargetArgs,
}

/// Runs the command.
pub fn run(args: Args) -> Result<(), Box<dyn std::error::Error>> {
    let target = args.target.resolve()?;
    let config = configure(target.config, &args);
    let client = Arc::new(Client::connect(config)?);
    let interactive = std::io::stdin().is_terminal();
    let mut chat = Chat {
        events: pump_events(client.clone()),
        lines: read_lines(),
        client,
        out: std::io::stdout(),
        interactive,
        reply_timeout: Duration::from_secs(args.reply_timeout),
        waiting: None,
        choices: Vec::new(),
        connected_once: false,
        prompt_shown: false,
    };
    if interactive {
        chat.say("* type a message, a number to pick a choice, or /help");
    }
    let result = chat.run();
    chat.client.close()?;
    drop(target.emulator);
    result
}

fn configure(mut config: Config, args: &Args) -> Config {
    if let Some(thread) = &args.thread {
        config = config.thread_id(thread);
    }
    if let Some(path) = &args.state_file {
        config = config.state_file(path);
    }
    config.originator(Originator::new(&args.name))
}

/// Forwards the client's events to a channel (ends when the client stops).
fn pump_events(client: Arc<Client>) -> Receiver<Event> {
    let (tx, rx) = crossbeam_channel::unbounded();
    std::thread::spawn(move || {
        while let Ok(event) = client.recv() {
            if tx.send(event).is_err() {
                break;
            }
        }
    });
    rx
}

/// Reads stdin lines into a channel (disconnected at end of input).
fn read_lines() -> Receiver<String> {
    let (tx, rx) = crossbeam_channel::unbounded();
    std::thread::spawn(move || {
        for line in std::io::stdin().lock().lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    rx
}

/// A numbered choice from a reply: a quick reply or a button.
#[derive(Debug, Clone, PartialEq)]
struct Choice {
    label: String,
    kind: String,
    value: String,
}

/// What a line typed by the user asks for.
#[derive(Debug, PartialEq)]
enum Input {
    Nothing,
    Quit,
    Help,
    History,
    Event(String),
    Pick(usize),
    Text(String),
    Unknown(String),
}

fn parse_input(line: &str, choices: usize) -> Input {
    let line = line.trim();
    if line.is_empty() {
        return Input::Nothing;
    }
    if let Some(text) = line.strip_prefix("//") {
        return Input::Text(format!("/{text}"));
    }
    if let Some(command) = line.strip_prefix('/') {
        let (name, rest) = command
            .split_once(char::is_whitespace)
            .unwrap_or((command, ""));
        return match name {
            "quit" | "exit" => Input::Quit,
            "help" => Input::Help,
            "history" => Input::History,
            "event" => Input::Event(rest.trim().to_string()),
            _ => Input::Unknown(name.to_string()),
        };
    }
    match line.parse::<usize>() {
        Ok(n) if (1..=choices).contains(&n) => Input::Pick(n - 1),
        _ => Input::Text(line.to_string()),
    }
}

/// Why the chat loop should stop.
enum Stop {
    Quit,
    Closed(String),
}

struct Chat {
    client: Arc<Client>,
    events: Receiver<Event>,
    lines: Receiver<String>,
    out: std::io::Stdout,
    interactive: bool,
    reply_timeout: Duration,
    /// The message whose reply is awaited, and until when.
    waiting: Option<(TraceId, Instant)>,
    choices: Vec<Choice>,
    connected_once: bool,
    /// The `> ` prompt is on screen (interactive only): output first clears that line.
    prompt_shown: bool,
}

impl Chat {
    fn run(&mut self) -> Result<(), Box<dyn std::error::Error>> {
        let mut step = self.await_connected(CONNECTED_NOTICE_WAIT);
        loop {
            match step {
                None => {}
                Some(Stop::Quit) => return Ok(()),
                Some(Stop::Closed(reason)) => {
                    return Err(Failed::network(format!("connection closed: {reason}")))
                }
            }
            step = match self.waiting {
                Some((_, deadline)) => self.wait_for_reply(deadline),
                None => self.idle(),
            };
        }
    }

    /// Shows events until the first `Connected` (it comes from the I/O thread just after
    /// `connect` returns), so the transcript starts with the connection notice.
    fn await_connected(&mut self, limit: Duration) -> Option<Stop> {
        let deadline = Instant::now() + limit;
        while !self.connected_once {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.events.recv_timeout(left) {
                Ok(event) => {
                    if let Some(stop) = self.on_event(event) {
                        return Some(stop);
                    }
                }
                Err(RecvTimeoutError::Timeout) => return None,
                Err(RecvTimeoutError::Disconnected) => {
                    return Some(Stop::Closed("the client stopped".into()))
                }
            }
        }
        None
    }

    /// Waits for the reply (or the deadline), showing events as they come.
    fn wait_for_reply(&mut self, deadline: Instant) -> Option<Stop> {
        let left = deadline.saturating_duration_since(Instant::now());
        select! {
            recv(self.events) -> event => match event {
                Ok(event) => self.on_event(event),
                Err(_) => Some(Stop::Closed("the client stopped".into())),
            },
            default(left) => {
                self.waiting = None;
                self.say(&format!("* no reply within {} s", self.reply_timeout.as_secs()));
                None
            }
        }
    }

    /// Waits for a line or an event; events already there are shown before the next line.
    fn idle(&mut self) -> Option<Stop> {
        if let Ok(event) = self.events.try_recv() {
            return self.on_event(event);
        }
        self.prompt();
        select! {
            recv(self.events) -> event => match event {
                Ok(event) => self.on_event(event),
                Err(_) => Some(Stop::Closed("the client stopped".into())),
            },
            recv(self.lines) -> line => match line {
                Ok(line) => self.on_line(&line),
                Err(_) => Some(Stop::Quit),
            },
        }
    }

    fn prompt(&mut self) {
        if self.interactive && !self.prompt_shown {
            let _ = write!(self.out, "> ");
            let _ = self.out.flush();
            self.prompt_shown = true;
        }
    }

    fn say(&mut self, text: &str) {
        let mut out = self.out.lock();
        if std::mem::take(&mut self.prompt_shown) {
            // Carriage return and erase line: the notice replaces the prompt, shown again after.
            let _ = write!(out, "\r\x1b[2K");
        }
        let _ = writeln!(out, "{text}");
        let _ = out.flush();
    }

    fn on_line(&mut self, line: &str) -> Option<Stop> {
        self.prompt_shown = false;
        let input = parse_input(line, self.choices.len());
        if !self.interactive && input != Input::Nothing {
            self.say(&format!("you: {}", line.trim()));
        }
        match input {
            Input::Nothing => None,
            Input::Quit => Some(Stop::Quit),
            Input::Help => {
                self.help();
                None
            }
            Input::History => {
                self.history();
                None
            }
            Input::Event(name) if name.is_empty() => {
                self.say("* usage: /event NAME");
                None
            }
            Input::Event(name) => self.send(Message::event(name)),
            Input::Pick(i) => {
                let choice = self.choices[i].clone();
                self.pick(&choice)
            }
            Input::Text(text) => self.send(Message::text(text)),
            Input::Unknown(name) => {
                self.say(&format!("* unknown command /{name} (try /help)"));
                None
            }
        }
    }

    fn help(&mut self) {
        for line in [
            "* type a message and press enter; a number picks one of the bot's choices",
            "* /event NAME   trigger an event",
            "* /history      show this thread's past messages",
            "* /quit         leave (end of input does too)",
            "* //text        send a message that starts with /",
        ] {
            self.say(line);
        }
    }

    fn pick(&mut self, choice: &Choice) -> Option<Stop> {
        match choice.kind.as_str() {
            "event" => {
                let event = if choice.value.is_empty() {
                    &choice.label
                } else {
                    &choice.value
                };
                self.send(Message::text(&choice.label).with_attachment(Attachment::event(event)))
            }
            "url" | "webview" | "phone" | "link" => {
                self.say(&format!("* open {}", choice.value));
                None
            }
            _ => self.send(Message::text(&choice.label)),
        }
    }

    fn send(&mut self, message: Message) -> Option<Stop> {
        match self.client.send(message) {
            Ok(trace) => self.waiting = Some((trace, Instant::now() + self.reply_timeout)),
            Err(e) if e.is_final() => return Some(Stop::Closed(e.to_string())),
            Err(e) => self.say(&format!("* not sent: {e}")),
        }
        None
    }

    fn history(&mut self) {
        match self.client.history("") {
            Ok(history) => {
                let n = history.entries.len();
                self.say(&format!("* history of {} ({n} entries)", history.thread_id));
                for entry in &history.entries {
                    self.say(&format!("  {}", history_line(entry)));
                }
            }
            Err(e) => self.say(&format!("* history unavailable: {e}")),
        }
    }

    fn on_event(&mut self, event: Event) -> Option<Stop> {
        let ends_wait = match &event {
            Event::Reply(reply) | Event::ActivitiesCreated(reply) => {
                self.show_reply(reply);
                let _ = self.client.noticed("", false);
                true
            }
            Event::ServerError { .. } | Event::Interruption(_) => true,
            Event::NotDelivered { trace_id } => self.waiting.is_some_and(|(t, _)| t == *trace_id),
            _ => false,
        };
        if let Some(text) = self.notice(&event) {
            self.say(&text);
        }
        if ends_wait {
            self.waiting = None;
        }
        match event {
            Event::Closed { reason } => Some(Stop::Closed(reason)),
            _ => None,
        }
    }

    /// The one-line notice for an event, if it gets one.
    fn notice(&mut self, event: &Event) -> Option<String> {
        Some(match event {
            Event::Connected { session_id } if !self.connected_once => {
                self.connected_once = true;
                format!(
                    "* connected (thread {}, session {session_id})",
                    self.client.thread_id()
                )
            }
            Event::Connected { .. } => "* reconnected".into(),
            Event::Disconnected { reason } => format!("* disconnected: {reason}"),
            Event::Reconnecting { attempt, delay } => {
                format!(
                    "* reconnecting (attempt {attempt}, in {} ms)",
                    delay.as_millis()
                )
            }
            Event::AgentTyping(_) => "* agent is typing...".into(),
            Event::Interruption(_) => "* conversation interrupted (a human took over)".into(),
            Event::ServerError { message } => format!("* error from the server: {message}"),
            Event::ProtocolError { error, .. } => format!("* bad frame from the server: {error}"),
            Event::SecretGenerated { .. } => "* new secret received".into(),
            Event::NotDelivered { trace_id } => {
                format!("* message {trace_id} may not have been delivered")
            }
            Event::Closed { reason } => format!("* connection closed: {reason}"),
            Event::Unknown(v) => {
                format!("* unknown event {}", v.get("type").unwrap_or(&Value::Null))
            }
            _ => return None,
        })
    }

    fn show_reply(&mut self, reply: &Reply) {
        let (lines, choices) = render_reply(reply);
        let sender = reply.sender_name().unwrap_or("bot").to_string();
        for line in lines {
            self.say(&format!("{sender}: {line}"));
        }
        for (i, choice) in choices.iter().enumerate() {
            self.say(&format!("  {}. {}", i + 1, choice.label));
        }
        self.choices = choices;
    }
}

/// The text lines and the numbered choices of a reply.
fn render_reply(reply: &Reply) -> (Vec<String>, Vec<Choice>) {
    let mut lines = Vec::new();
    let mut choices = Vec::new();
    for message in &reply.messages {
        let before = lines.len();
        for response in &message.responses {
            render_response(response, &mut lines, &mut choices);
        }
        if lines.len() == before {
            lines.extend(message.fallback.clone().filter(|f| !f.is_empty()));
        }
    }
    lines.dedup();
    (lines, choices)
}

fn text_of(v: &Value, key: &str) -> Option<String> {
    v.get(key)
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .map(String::from)
}

fn render_response(response: &Response, lines: &mut Vec<String>, choices: &mut Vec<Choice>) {
    let p = &response.payload;
    let line = match response.kind.as_str() {
        "image" | "video" | "audio" | "file" => {
            let url = text_of(p, "url").unwrap_or_default();
            Some(match text_of(p, "title") {
                Some(title) => format!("[{}] {title} {url}", response.kind),
                None => format!("[{}] {url}", response.kind),
            })
        }
        "location" => Some(format!(
            "[location] {} ({}, {})",
            text_of(p, "title").unwrap_or_default(),
            p.get("lat").unwrap_or(&Value::Null),
            p.get("long").unwrap_or(&Value::Null)
        )),
        _ => text_of(p, "text").or_else(|| card_line(p)),
    };
    lines.extend(line);
    for card in p
        .get("cards")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        lines.extend(card_line(card).map(|l| format!("- {l}")));
        choices.extend(choices_in(card, "buttons"));
    }
    choices.extend(choices_in(p, "buttons"));
    choices.extend(choices_in(p, "quickReplies"));
}

/// `title — subtitle` of a card-like payload.
fn card_line(p: &Value) -> Option<String> {
    match (text_of(p, "title"), text_of(p, "subtitle")) {
        (Some(t), Some(s)) => Some(format!("{t} - {s}")),
        (t, s) => t.or(s),
    }
}

fn choices_in(p: &Value, key: &str) -> Vec<Choice> {
    let items = p
        .get(key)
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default();
    items
        .iter()
        .filter_map(|item| {
            let label = text_of(item, "label").or_else(|| text_of(item, "title"))?;
            Some(Choice {
                kind: text_of(item, "type").unwrap_or_else(|| "text".into()),
                value: item.get("value").map(value_string).unwrap_or_default(),
                label,
            })
        })
        .collect()
}

fn value_string(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

/// `you: …`, `Echo Bot: …`, `you (file): …` for one history entry.
fn history_line(entry: &HistoryEntry) -> String {
    let text = entry.text().unwrap_or_else(|| format!("({})", entry.kind));
    if let Some(reply) = entry.reply() {
        return format!("{}: {text}", reply.sender_name().unwrap_or("bot"));
    }
    if let Some(Attachment::Event(event)) = entry.message().and_then(|m| m.attachment) {
        return format!("you: [event {}]", event.name);
    }
    match entry.kind.as_str() {
        "file.upload" => format!("you (file): {text}"),
        _ if entry.is_from_user() => format!("you: {text}"),
        _ => format!("{}: {text}", entry.kind),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn lines_become_inputs() {
        assert_eq!(parse_input("  ", 2), Input::Nothing);
        assert_eq!(parse_input("/quit", 0), Input::Quit);
        assert_eq!(
            parse_input("/event  MY EVENT ", 0),
            Input::Event("MY EVENT".into())
        );
        assert_eq!(parse_input("/history", 0), Input::History);
        assert_eq!(parse_input("/nope x", 0), Input::Unknown("nope".into()));
        assert_eq!(parse_input("//slash", 0), Input::Text("/slash".into()));
        assert_eq!(parse_input("2", 2), Input::Pick(1));
        assert_eq!(parse_input("3", 2), Input::Text("3".into()));
        assert_eq!(parse_input("0", 2), Input::Text("0".into()));
    }

    #[test]
    fn replies_render_text_and_numbered_choices() {
        let reply: Reply = serde_json::from_value(json!({
            "threadId": "t",
            "messages": [{
                "fallback": "Pick one",
                "responses": [
                    {"type": "text", "payload": {"text": "Pick one"}},
                    {"type": "buttons", "payload": {"text": "Pick one", "buttons": [
                        {"label": "Red", "type": "text", "value": "red"},
                        {"label": "Site", "type": "url", "value": "https://x"}]}},
                    {"type": "text", "payload": {"text": "Or", "quickReplies": [
                        {"label": "Help", "type": "event", "value": "HELP"}]}},
                    {"type": "image", "payload": {"url": "https://img"}},
                    {"type": "carousel", "payload": {"cards": [
                        {"title": "A", "subtitle": "first", "buttons": [{"label": "Take A", "type": "text"}]}]}}
                ]
            }, {"fallback": "only a fallback", "responses": [{"type": "custom", "payload": {}}]}]
        }))
        .unwrap();
        let (lines, choices) = render_reply(&reply);
        assert_eq!(
            lines,
            [
                "Pick one",
                "Or",
                "[image] https://img",
                "- A - first",
                "only a fallback"
            ]
        );
        let labels: Vec<_> = choices.iter().map(|c| c.label.as_str()).collect();
        assert_eq!(labels, ["Red", "Site", "Help", "Take A"]);
        assert_eq!(choices[2].kind, "event");
        assert_eq!(choices[2].value, "HELP");
    }
}
