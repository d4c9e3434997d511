//! The REST calls of the official SDK on the client's base URL (docs/protocol.md §7):
//! [`Client::history`], [`Client::unnoticed`], [`Client::merge`] and [`Client::upload`].
//!
//! Each call uses the client's transport (same TLS roots, proxy rules and cancel signal as
//! `socket.info`) and sends the `x-flowai-clientid`, `x-flowai-sessionid`,
//! `x-flowai-threadid` headers, plus `x-flowai-secret` when the thread's nonce is known.
//! A call is bounded as a whole — DNS, connect, proxy, TLS, request and answer — by the
//! config's `io_timeout` (an upload: `io_timeout` plus the file's size at 64 KiB/s), and
//! `close()` interrupts it ([`Error::AlreadyClosed`]). Redirects are not followed. Answers
//! are `{"status": "ok", "payload": …}`; an HTTP error status or a non-ok status becomes
//! [`Error::Rejected`] (400, 401–403, a redirect: final) or [`Error::Unavailable`] (5xx and
//! others). Every result keeps the raw JSON payload next to the typed fields.

use crate::client::Client;
use crate::config::Settings;
use crate::error::{Error, Result};
use crate::handshake::{read_flow_answer, RequestIds, Transport, MAX_ANSWER};
use crate::ids;
use crate::protocol::{Message, Reply};
use crate::transport::http::{self, Body, Request};
use crate::transport::url::encode_query_value;
use crate::transport::Target;
use serde_json::{json, Value};
use std::fs::File;
use std::io::{Cursor, Read};
use std::path::Path;
use std::time::Duration;

/// The past messages of a thread, from `thread.history`. Its `Debug` hides the nonces the
/// sent messages carried.
#[non_exhaustive]
#[derive(Clone, PartialEq)]
pub struct History {
    /// The thread they belong to.
    pub thread_id: String,
    /// The entries, oldest first.
    pub entries: Vec<HistoryEntry>,
    /// The answer's whole `payload`, as sent.
    pub raw: Value,
}

/// One entry of a thread's history: a frame-like `{"type": …, "payload": …}` object (a sent
/// `message.send`, a `message.received` reply, a `file.upload`, …), kept whole.
#[non_exhaustive]
#[derive(Clone, PartialEq)]
pub struct HistoryEntry {
    /// The entry's `type` (empty when it has none).
    pub kind: String,
    /// The entry as sent.
    pub raw: Value,
}

impl std::fmt::Debug for History {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("History")
            .field("thread_id", &self.thread_id)
            .field("entries", &self.entries)
            .finish_non_exhaustive()
    }
}

impl std::fmt::Debug for HistoryEntry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HistoryEntry")
            .field("kind", &self.kind)
            .field("raw", &crate::secret::JsonForDebug(&self.raw))
            .finish()
    }
}

impl HistoryEntry {
    fn new(raw: Value) -> Self {
        let kind = raw
            .get("type")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        HistoryEntry { kind, raw }
    }

    /// The entry's `payload` (the entry itself when it has none).
    pub fn payload(&self) -> &Value {
        self.raw.get("payload").unwrap_or(&self.raw)
    }

    /// True for what the user sent (`message.send`, `file.upload`).
    pub fn is_from_user(&self) -> bool {
        matches!(self.kind.as_str(), "message.send" | "file.upload")
    }

    /// The reply, for a `message.received` or `activities.created` entry.
    pub fn reply(&self) -> Option<Reply> {
        matches!(
            self.kind.as_str(),
            "message.received" | "activities.created"
        )
        .then(|| serde_json::from_value(self.payload().clone()).ok())
        .flatten()
    }

    /// The sent message, for a `message.send` entry.
    pub fn message(&self) -> Option<Message> {
        (self.kind == "message.send")
            .then(|| serde_json::from_value(self.payload().clone()).ok())
            .flatten()
    }

    /// A one-line text: the reply's fallbacks, the sent speech, or the uploaded file name.
    pub fn text(&self) -> Option<String> {
        if let Some(reply) = self.reply() {
            return Some(reply.text());
        }
        let p = self.payload();
        let field = |k: &str| p.get(k).and_then(Value::as_str).map(String::from);
        field("speech")
            .or_else(|| field("fileName"))
            .or_else(|| field("fallback"))
    }
}

impl History {
    fn from_payload(thread_id: &str, raw: Value) -> Self {
        let list = raw
            .get("history")
            .or_else(|| raw.get("messages"))
            .unwrap_or(&raw);
        let entries = list
            .as_array()
            .map(|a| a.iter().cloned().map(HistoryEntry::new).collect())
            .unwrap_or_default();
        let thread_id = raw
            .get("threadId")
            .and_then(Value::as_str)
            .unwrap_or(thread_id)
            .to_string();
        History {
            thread_id,
            entries,
            raw,
        }
    }
}

/// What `thread.upload` answered.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq)]
pub struct UploadResult {
    /// The stored file name, when the server says.
    pub file_name: Option<String>,
    /// The stored size in bytes, when the server says.
    pub size: Option<u64>,
    /// The answer's whole `payload`, as sent.
    pub raw: Value,
}

/// Least upload throughput assumed when bounding an upload: the whole upload may take the
/// I/O timeout plus the size at this rate (bytes per second).
const SLOWEST_UPLOAD_RATE: u64 = 64 * 1024;

fn ids_for<'a>(cfg: &'a Settings, thread_id: &'a str, secret: Option<&'a str>) -> RequestIds<'a> {
    RequestIds {
        client_id: &cfg.client_id,
        session_id: &cfg.session_id,
        thread_id,
        secret,
        ott: None,
    }
}

/// `{base}/thread.{what}[?query]` as a target.
fn rest_target(cfg: &Settings, what: &str, query: &str) -> Result<Target> {
    Target::parse(&format!("{}/thread.{what}{query}", cfg.base_url))
        .map_err(|e| Error::Config(format!("base URL: {e}")))
}

/// One REST exchange with the ids' headers plus `extra`, within `budget`; the Flow answer.
#[allow(clippy::too_many_arguments)]
fn call<'a>(
    transport: &Transport,
    method: &'static str,
    target: &'a Target,
    ids: &RequestIds<'a>,
    extra: Vec<(&'a str, &'a str)>,
    body: Body<'a>,
    budget: Duration,
    what: &str,
) -> Result<http::Response> {
    let mut headers = ids.headers();
    headers.extend(extra);
    let request = Request {
        method,
        target,
        headers,
        body,
    };
    http::exchange(
        transport,
        request,
        &transport.limit(budget),
        MAX_ANSWER,
        what,
    )
}

fn payload_of(mut body: Value) -> Value {
    body.get_mut("payload")
        .map(Value::take)
        .unwrap_or(Value::Null)
}

impl Client {
    fn thread_or_default<'a>(&'a self, thread_id: &'a str) -> &'a str {
        if thread_id.trim().is_empty() {
            self.thread_id()
        } else {
            thread_id
        }
    }

    /// `GET thread.<what>?clientId=…&threadId=…` with the headers; the answer's payload.
    fn rest_get(&self, what: &str, thread_id: &str) -> Result<Value> {
        let (transport, cfg) = self.rest_parts()?;
        let secret = self.secret(thread_id);
        let ids = ids_for(cfg, thread_id, secret.as_deref());
        let query = format!(
            "?clientId={}&threadId={}",
            encode_query_value(&cfg.client_id),
            encode_query_value(thread_id)
        );
        let target = rest_target(cfg, what, &query)?;
        let name = format!("thread.{what}");
        let response = call(
            transport,
            "GET",
            &target,
            &ids,
            Vec::new(),
            Body::Empty,
            cfg.io_timeout,
            &name,
        )?;
        read_flow_answer(response, &name).map(payload_of)
    }

    /// The past messages of a thread (`GET thread.history`); an empty `thread_id` means the
    /// configured one.
    pub fn history(&self, thread_id: &str) -> Result<History> {
        let thread_id = self.thread_or_default(thread_id);
        let payload = self.rest_get("history", thread_id)?;
        Ok(History::from_payload(thread_id, payload))
    }

    /// Whether the thread has messages the user has not seen (`GET thread.unnoticed`); an
    /// empty `thread_id` means the configured one. [`Client::noticed`] clears it.
    pub fn unnoticed(&self, thread_id: &str) -> Result<bool> {
        let payload = self.rest_get("unnoticed", self.thread_or_default(thread_id))?;
        match payload.get("unnoticed") {
            Some(Value::Bool(b)) => Ok(*b),
            Some(Value::Number(n)) => Ok(n.as_f64().is_some_and(|n| n != 0.0)),
            _ => Err(Error::Protocol(format!(
                "thread.unnoticed answer has no boolean payload.unnoticed: {payload}"
            ))),
        }
    }

    /// Merges threads (`POST thread.merger` with `{clientId, threadId, sessionId, mergerKey}`);
    /// an empty `thread_id` or `session_id` means the configured one.
    pub fn merge(&self, merger_key: &str, thread_id: &str, session_id: &str) -> Result<()> {
        if merger_key.trim().is_empty() {
            return Err(Error::InvalidArgument("merger key is empty".into()));
        }
        let (transport, cfg) = self.rest_parts()?;
        let thread_id = self.thread_or_default(thread_id);
        let session_id = if session_id.trim().is_empty() {
            &cfg.session_id
        } else {
            session_id
        };
        let secret = self.secret(thread_id);
        let ids = ids_for(cfg, thread_id, secret.as_deref());
        let body = json!({
            "clientId": cfg.client_id,
            "threadId": thread_id,
            "sessionId": session_id,
            "mergerKey": merger_key,
        });
        let body = body.to_string();
        let response = call(
            transport,
            "POST",
            &rest_target(cfg, "merger", "")?,
            &ids,
            vec![("Content-Type", "application/json")],
            Body::Bytes(body.as_bytes()),
            cfg.io_timeout,
            "thread.merger",
        )?;
        read_flow_answer(response, "thread.merger").map(drop)
    }

    /// Sends a file as an attachment (`POST thread.upload`, multipart/form-data with the parts
    /// `file` and `payload` = the message JSON with `clientId` and `sessionId`). The message
    /// is completed like [`Client::send`] completes one (threadId, originator, nonce; an empty
    /// speech becomes `file attachment`). The file is streamed from disk, never read whole
    /// into memory. A file the server finds too large (HTTP 413) is an [`Error::TooLarge`]
    /// (final) naming the file and its size; a file that cannot be read is an [`Error::Io`].
    pub fn upload(&self, path: impl AsRef<Path>, message: Message) -> Result<UploadResult> {
        let path = path.as_ref();
        let (transport, cfg) = self.rest_parts()?;
        let message = self.complete_upload_message(message)?;
        let secret = message.nonce.clone();
        let ids = ids_for(cfg, &message.thread_id, secret.as_deref());
        let mut body = MultipartFile::open(path, &upload_payload(cfg, &message))?;
        let length = body.content_length;
        let budget = cfg.io_timeout + Duration::from_secs(length / SLOWEST_UPLOAD_RATE);
        let response = call(
            transport,
            "POST",
            &rest_target(cfg, "upload", "")?,
            &ids,
            vec![("Content-Type", body.content_type.as_str())],
            Body::Stream(&mut body.reader, length),
            budget,
            "thread.upload",
        )?;
        if response.status == 413 {
            return Err(Error::TooLarge(format!(
                "the server refused file {} ({length} bytes with the form) with HTTP 413",
                path.display()
            )));
        }
        let payload = payload_of(read_flow_answer(response, "thread.upload")?);
        Ok(UploadResult {
            file_name: payload
                .get("fileName")
                .and_then(Value::as_str)
                .map(String::from),
            size: payload.get("size").and_then(Value::as_u64),
            raw: payload,
        })
    }

    fn complete_upload_message(&self, mut message: Message) -> Result<Message> {
        if message.thread_id.is_empty() {
            message.thread_id = self.thread_id().to_string();
        }
        if message.originator.is_none() {
            message.originator = Some(self.settings().originator().clone());
        }
        if message.speech.is_empty() {
            message.speech = "file attachment".into();
        }
        if message.nonce.is_none() {
            message.nonce = self.secret(&message.thread_id);
        }
        message.validate().map_err(Error::InvalidArgument)?;
        Ok(message)
    }
}

/// The `payload` part: the message JSON without attachment, with clientId and sessionId.
fn upload_payload(cfg: &Settings, message: &Message) -> String {
    let mut value = serde_json::to_value(message).unwrap_or_else(|_| json!({}));
    if let Some(obj) = value.as_object_mut() {
        obj.remove("attachment");
        obj.insert("clientId".into(), cfg.client_id.clone().into());
        obj.insert("sessionId".into(), cfg.session_id.clone().into());
    }
    value.to_string()
}

/// The body of an upload: part headers, the file, the closing parts.
type FormReader = std::io::Chain<std::io::Chain<Cursor<Vec<u8>>, Exact<File>>, Cursor<Vec<u8>>>;

/// A multipart/form-data body streamed as head bytes + the file + tail bytes, with its length
/// known in advance.
struct MultipartFile {
    content_type: String,
    content_length: u64,
    reader: FormReader,
}

impl MultipartFile {
    fn open(path: &Path, payload_json: &str) -> Result<MultipartFile> {
        let file = File::open(path)?;
        let meta = file.metadata()?;
        if !meta.is_file() {
            return Err(Error::InvalidArgument(format!(
                "{} is not a regular file",
                path.display()
            )));
        }
        let boundary = format!("flowai-{}", ids::random_hex());
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "file".into());
        let head = format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{}\"\r\n\
             Content-Type: {}\r\n\r\n",
            quote_filename(&name),
            content_type_for(&name)
        )
        .into_bytes();
        let tail = format!(
            "\r\n--{boundary}\r\nContent-Disposition: form-data; name=\"payload\"\r\n\
             Content-Type: application/json\r\n\r\n{payload_json}\r\n--{boundary}--\r\n"
        )
        .into_bytes();
        let content_length = head.len() as u64 + meta.len() + tail.len() as u64;
        let file = Exact {
            inner: file,
            left: meta.len(),
        };
        Ok(MultipartFile {
            content_type: format!("multipart/form-data; boundary={boundary}"),
            content_length,
            reader: Cursor::new(head).chain(file).chain(Cursor::new(tail)),
        })
    }
}

/// Reads exactly `left` bytes: a file that shrank while being sent is an error rather than a
/// body shorter than its Content-Length; one that grew is cut at the announced size.
struct Exact<R> {
    inner: R,
    left: u64,
}

impl<R: Read> Read for Exact<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.left == 0 {
            return Ok(0);
        }
        let max = buf
            .len()
            .min(usize::try_from(self.left).unwrap_or(usize::MAX));
        let n = self.inner.read(&mut buf[..max])?;
        if n == 0 {
            return Err(std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                "file shrank while being uploaded",
            ));
        }
        self.left -= n as u64;
        Ok(n)
    }
}

/// A file name fit for a quoted header parameter (as browsers do: quotes and line breaks
/// percent-encoded).
fn quote_filename(name: &str) -> String {
    name.replace('"', "%22")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

/// The media type of a file, by its extension.
fn content_type_for(name: &str) -> &'static str {
    let ext = name
        .rsplit_once('.')
        .map(|(_, e)| e.to_ascii_lowercase())
        .unwrap_or_default();
    match ext.as_str() {
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "gif" => "image/gif",
        "webp" => "image/webp",
        "svg" => "image/svg+xml",
        "pdf" => "application/pdf",
        "txt" | "log" => "text/plain",
        "csv" => "text/csv",
        "json" => "application/json",
        "mp3" => "audio/mpeg",
        "wav" => "audio/wav",
        "mp4" => "video/mp4",
        "zip" => "application/zip",
        _ => "application/octet-stream",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn multipart_body_has_the_announced_length_and_both_parts() {
        let path = std::env::temp_dir().join(format!("flowai-mp-{}.txt", ids::random_hex()));
        std::fs::write(&path, b"hello file").unwrap();
        let mut body = MultipartFile::open(&path, r#"{"threadId":"t"}"#).unwrap();
        let mut out = Vec::new();
        body.reader.read_to_end(&mut out).unwrap();
        std::fs::remove_file(&path).unwrap();
        assert_eq!(out.len() as u64, body.content_length);
        let text = String::from_utf8(out).unwrap();
        assert!(
            text.contains("name=\"file\"; filename=\"flowai-mp-"),
            "{text}"
        );
        assert!(text.contains("Content-Type: text/plain\r\n\r\nhello file\r\n--flowai-"));
        assert!(text.contains(
            "name=\"payload\"\r\nContent-Type: application/json\r\n\r\n{\"threadId\":\"t\"}"
        ));
        assert!(text.ends_with("--\r\n"));
    }

    #[test]
    fn a_shrinking_file_is_an_error() {
        let mut r = Exact {
            inner: Cursor::new(vec![1u8; 3]),
            left: 5,
        };
        let mut out = Vec::new();
        assert_eq!(
            r.read_to_end(&mut out).unwrap_err().kind(),
            std::io::ErrorKind::UnexpectedEof
        );
        let mut r = Exact {
            inner: Cursor::new(vec![1u8; 9]),
            left: 5,
        };
        let mut out = Vec::new();
        r.read_to_end(&mut out).unwrap();
        assert_eq!(out.len(), 5);
    }

    #[test]
    fn history_entries_and_texts() {
        let raw = json!({"threadId": "t", "history": [
            {"type": "message.send", "payload": {"threadId": "t", "speech": "hi"}},
            {"type": "message.received", "payload": {"threadId": "t", "messages": [{"fallback": "hello", "responses": []}]}},
            {"type": "file.upload", "payload": {"fileName": "a.png"}}
        ]});
        let h = History::from_payload("x", raw);
        assert_eq!(h.thread_id, "t");
        let texts: Vec<_> = h.entries.iter().map(|e| e.text().unwrap()).collect();
        assert_eq!(texts, ["hi", "hello", "a.png"]);
        assert!(h.entries[0].is_from_user() && !h.entries[1].is_from_user());
        assert_eq!(h.entries[0].message().unwrap().speech, "hi");
    }
}
