//! The parts of an `http(s)://` or `ws(s)://` URL the transport needs, and the loopback rule.

use std::net::IpAddr;
use tungstenite::http::Uri;

/// Where a request or a WebSocket goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Target {
    /// `https` or `wss`.
    pub(crate) secure: bool,
    /// The host name or address, without IPv6 brackets.
    pub(crate) host: String,
    /// The port (the scheme's default when the URL names none).
    pub(crate) port: u16,
    /// Path and query, at least `/`.
    pub(crate) path: String,
}

impl Target {
    /// Parses an `http`, `https`, `ws` or `wss` URL; the error says what is wrong.
    /// The URL in the error is redacted (a path may be a single-use token, a password may sit
    /// in the authority).
    pub(crate) fn parse(url: &str) -> Result<Target, String> {
        let shown = crate::secret::redact_url(url);
        let uri: Uri = url
            .parse()
            .map_err(|e| format!("{shown:?} is not a URL: {e}"))?;
        let secure = match uri.scheme_str() {
            Some("https") | Some("wss") => true,
            Some("http") | Some("ws") => false,
            _ => return Err(format!("{shown:?} is not an http(s):// or ws(s):// URL")),
        };
        let authority = uri.authority().map(|a| a.as_str()).unwrap_or_default();
        if authority.contains('@') {
            return Err(format!(
                "{shown:?} carries credentials, which are not supported"
            ));
        }
        let host = uri
            .host()
            .filter(|h| !h.is_empty())
            .ok_or_else(|| format!("{shown:?} has no host"))?;
        let host = host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_string();
        let port = uri.port_u16().unwrap_or(if secure { 443 } else { 80 });
        let path = uri
            .path_and_query()
            .map(|p| p.as_str())
            .filter(|p| p.starts_with('/'))
            .unwrap_or("/")
            .to_string();
        Ok(Target {
            secure,
            host,
            port,
            path,
        })
    }

    /// `host:port` as in a `Host` header or a `CONNECT` line (IPv6 in brackets).
    pub(crate) fn authority(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }

    /// True when the host is this machine (see [`is_loopback_host`]).
    pub(crate) fn is_loopback(&self) -> bool {
        is_loopback_host(&self.host)
    }
}

/// `localhost` (and `*.localhost`), `127.0.0.0/8` and `::1`, by name or literal address; a
/// name is never resolved to decide (DNS could answer anything).
pub(crate) fn is_loopback_host(host: &str) -> bool {
    let host = host
        .trim_start_matches('[')
        .trim_end_matches(']')
        .trim_end_matches('.')
        .to_ascii_lowercase();
    if host == "localhost" || host.ends_with(".localhost") {
        return true;
    }
    match host.parse::<IpAddr>() {
        Ok(IpAddr::V4(ip)) => ip.is_loopback(),
        Ok(IpAddr::V6(ip)) => {
            ip.is_loopback() || ip.to_ipv4_mapped().is_some_and(|v4| v4.is_loopback())
        }
        Err(_) => false,
    }
}

/// Percent-encodes a query value (everything but the RFC 3986 unreserved characters).
pub(crate) fn encode_query_value(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for b in value.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Decodes `%XX` escapes (of a proxy URL's user name and password); a malformed escape is
/// kept as it is.
pub(crate) fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (bytes[i], hex) {
            (b'%', Some(v)) => {
                out.push(v);
                i += 3;
            }
            (b, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_parts() {
        let t = Target::parse("https://sdk.flow.ai/socket.info?a=1").unwrap();
        assert_eq!(
            (t.secure, t.host.as_str(), t.port, t.path.as_str()),
            (true, "sdk.flow.ai", 443, "/socket.info?a=1")
        );
        let t = Target::parse("ws://[::1]:8080").unwrap();
        assert_eq!((t.secure, t.host.as_str(), t.port), (false, "::1", 8080));
        assert_eq!(t.path, "/");
        assert_eq!(t.authority(), "[::1]:8080");
        assert!(Target::parse("ftp://x").is_err());
        assert!(Target::parse("http://user:pw@x").is_err());
        assert!(Target::parse("http://").is_err());
    }

    #[test]
    fn loopback_by_name_and_address_only() {
        for h in [
            "localhost",
            "LOCALHOST.",
            "app.localhost",
            "127.0.0.1",
            "127.9.8.7",
            "::1",
            "[::1]",
            "::ffff:127.0.0.1",
        ] {
            assert!(is_loopback_host(h), "{h}");
        }
        for h in [
            "example.com",
            "10.0.0.1",
            "localhost.example",
            "::2",
            "0.0.0.0",
        ] {
            assert!(!is_loopback_host(h), "{h}");
        }
    }

    #[test]
    fn query_values_and_userinfo_round_trip() {
        assert_eq!(encode_query_value("a b|c~"), "a%20b%7Cc~");
        assert_eq!(percent_decode("p%40ss%3Aw%zz"), "p@ss:w%zz");
    }
}
