//! Keeping secrets out of logs: the [`Secret`] wrapper and the redaction helpers used by every
//! `Debug` and `Display` of the crate that could show a nonce, a one-time token, a
//! credential or a single-use WebSocket URL.
//!
//! The rule: a value that lets someone act as the user (the thread's nonce, the `ott`, a
//! proxy password, the `socket.info` endpoint) is printed as `***`. Records logged by this
//! crate never contain one; see the README's *Logging* section for the dependencies.

use std::borrow::Cow;
use std::fmt;

/// What a redacted value prints as.
pub const REDACTED: &str = "***";

/// A value that must never appear in a log: its `Debug` and `Display` print `***`, so a
/// config or message printed with `{:?}` shows that a secret is set without showing it.
/// Read it with [`Secret::expose`] (or through `Deref` as a `&str`); note that
/// `to_string()` goes through `Display` and so gives `***` too.
///
/// ```
/// use flowai_socket::Secret;
/// let s = Secret::new("hunter2");
/// assert_eq!(format!("{s:?} {s}"), "*** ***");
/// assert_eq!(s.expose(), "hunter2");
/// ```
#[derive(Clone, Default, PartialEq, Eq, Hash)]
pub struct Secret(String);

impl Secret {
    /// Wraps a value.
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }

    /// The value itself, for the one place that must send it.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Unwraps the value.
    pub fn into_inner(self) -> String {
        self.0
    }
}

impl std::ops::Deref for Secret {
    type Target = str;

    fn deref(&self) -> &str {
        &self.0
    }
}

impl From<String> for Secret {
    fn from(value: String) -> Self {
        Secret(value)
    }
}

impl From<&str> for Secret {
    fn from(value: &str) -> Self {
        Secret(value.to_string())
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(REDACTED)
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(REDACTED)
    }
}

/// An optional secret for a `Debug` field: `Some(***)` or `None`.
pub(crate) fn opt<T>(value: &Option<T>) -> Option<&'static str> {
    value.as_ref().map(|_| REDACTED)
}

/// A URL fit for a message or a log: the scheme, the user name and the host and port are
/// kept; a password, the path and the query are replaced by `***`. Proxy URLs
/// (`http://user:pass@proxy:3128`) and single-use WebSocket endpoints
/// (`wss://host/ws/<token>`) both go through this.
///
/// ```
/// use flowai_socket::secret::redact_url;
/// assert_eq!(redact_url("http://me:pw@proxy:3128"), "http://me:***@proxy:3128");
/// assert_eq!(redact_url("wss://sdk.flow.ai/ws/abc?t=1"), "wss://sdk.flow.ai/***");
/// assert_eq!(redact_url("ws://127.0.0.1:9"), "ws://127.0.0.1:9");
/// ```
pub fn redact_url(url: &str) -> String {
    let (scheme, rest) = match url.split_once("://") {
        Some((scheme, rest)) => (Some(scheme), rest),
        None => (None, url),
    };
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(end);
    let authority = match authority.rsplit_once('@') {
        Some((user_info, host)) => match user_info.split_once(':') {
            Some((user, _password)) => format!("{user}:{REDACTED}@{host}"),
            None => format!("{user_info}@{host}"),
        },
        None => authority.to_string(),
    };
    let tail = if tail.is_empty() || tail == "/" {
        tail.to_string()
    } else {
        format!("/{REDACTED}")
    };
    match scheme {
        Some(scheme) => format!("{scheme}://{authority}{tail}"),
        None => format!("{authority}{tail}"),
    }
}

/// JSON object keys whose string values are secrets wherever they appear.
const SECRET_KEYS: &[&str] = &[
    "nonce",
    "secret",
    "ott",
    "password",
    "x-flowai-secret",
    "x-flowai-ott",
];

/// JSON text (valid or not) with the string value of every secret-bearing key (`nonce`,
/// `secret`, `ott`, …) replaced by `***`. Used by the `Debug` of echoed payloads and raw
/// frames, which may carry the thread's nonce. Borrows when there is nothing to hide.
pub fn redact_json(text: &str) -> Cow<'_, str> {
    let bytes = text.as_bytes();
    let mut out: Option<String> = None;
    let mut copied = 0; // bytes of `text` already in `out`
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] != b'"' {
            i += 1;
            continue;
        }
        let key_end = string_end(bytes, i);
        if key_end == bytes.len() && !text.ends_with('"') || key_end < i + 2 {
            break; // an unclosed string runs to the end: nothing after it to hide
        }
        let key = &text[i + 1..key_end - 1];
        i = key_end;
        if !SECRET_KEYS.iter().any(|k| k.eq_ignore_ascii_case(key)) {
            continue;
        }
        let mut j = skip_space(bytes, i);
        if bytes.get(j) != Some(&b':') {
            continue;
        }
        j = skip_space(bytes, j + 1);
        if bytes.get(j) != Some(&b'"') {
            continue;
        }
        let value_end = string_end(bytes, j);
        let out = out.get_or_insert_with(|| String::with_capacity(text.len()));
        out.push_str(&text[copied..=j]);
        out.push_str(REDACTED);
        out.push('"');
        copied = value_end;
        i = value_end;
    }
    match out {
        Some(mut out) => {
            out.push_str(&text[copied.min(text.len())..]);
            Cow::Owned(out)
        }
        None => Cow::Borrowed(text),
    }
}

/// Index just past the closing quote of the string starting at `start` (the text's end when
/// it is not closed).
fn string_end(bytes: &[u8], start: usize) -> usize {
    let mut k = start + 1;
    while k < bytes.len() {
        match bytes[k] {
            b'\\' => k += 2,
            b'"' => return k + 1,
            _ => k += 1,
        }
    }
    bytes.len()
}

fn skip_space(bytes: &[u8], mut k: usize) -> usize {
    while bytes.get(k).is_some_and(u8::is_ascii_whitespace) {
        k += 1;
    }
    k
}

/// A JSON value for a `Debug` field: its text with secrets redacted.
pub(crate) struct JsonForDebug<'a>(pub(crate) &'a serde_json::Value);

impl fmt::Debug for JsonForDebug<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&redact_json(&self.0.to_string()))
    }
}

/// Raw JSON text for a `Debug` field, with secrets redacted.
pub(crate) struct TextForDebug<'a>(pub(crate) &'a str);

impl fmt::Debug for TextForDebug<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&*redact_json(self.0), f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_secrets_are_hidden_wherever_they_are() {
        let text =
            r#"{"speech":"hi","nonce":"n1","originator":{"secret" : "s\"2"},"ott":5,"x":"nonce"}"#;
        let shown = redact_json(text);
        assert_eq!(
            shown,
            r#"{"speech":"hi","nonce":"***","originator":{"secret" : "***"},"ott":5,"x":"nonce"}"#
        );
        assert!(matches!(redact_json(r#"{"a":"b"}"#), Cow::Borrowed(_)));
        // Cut or broken text never panics and still hides what it can.
        assert_eq!(redact_json(r#"{"nonce":"abc"#), r#"{"nonce":"***""#);
        assert_eq!(redact_json(r#"{"nonce""#), r#"{"nonce""#);
        assert_eq!(redact_json("\"\\"), "\"\\");
    }

    #[test]
    fn urls_keep_only_where_they_point() {
        assert_eq!(redact_url("https://a.b/socket.info"), "https://a.b/***");
        assert_eq!(redact_url("http://u@h:1/"), "http://u@h:1/");
        assert_eq!(redact_url("socks5://u:p@h"), "socks5://u:***@h");
        assert_eq!(redact_url("no scheme/path"), "no scheme/***");
        assert_eq!(redact_url(""), "");
    }
}
