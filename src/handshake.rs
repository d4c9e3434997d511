//! Opening a connection: `socket.info` over HTTP(S) (PROTOCOL.md §1), then the WebSocket
//! handshake on the single-use URL it returns. Both are blocking and bounded by the config's
//! connect timeout; https/wss verify certificates against the system roots plus any extra
//! roots from the config.

use crate::config::Config;
use crate::error::{Error, Result};
use serde_json::Value;
use std::net::{TcpStream, ToSocketAddrs};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tungstenite::client::IntoClientRequest;
use tungstenite::protocol::WebSocketConfig;
use tungstenite::stream::MaybeTlsStream;
use tungstenite::{Connector, HandshakeError, WebSocket};

/// A connected WebSocket as the I/O thread drives it.
pub type Socket = WebSocket<MaybeTlsStream<TcpStream>>;

/// What `socket.info` answered. Its `Debug` hides the secret and the endpoint's path (a
/// single-use URL is a credential for 60 seconds).
#[derive(Clone, PartialEq, Eq)]
pub struct SocketInfo {
    /// The single-use `ws://` or `wss://` URL, valid for 60 seconds.
    pub endpoint: String,
    /// The thread's nonce, when the project enables client nonces.
    pub secret: Option<String>,
}

/// The ids sent with `socket.info` and the REST calls, as query parameters and headers.
/// Its `Debug` hides the secret and the one-time token.
#[derive(Clone, Copy)]
pub struct Ids<'a> {
    /// The project's clientId.
    pub client_id: &'a str,
    /// The sessionId of this client.
    pub session_id: &'a str,
    /// The threadId.
    pub thread_id: &'a str,
    /// The thread's nonce, if known.
    pub secret: Option<&'a str>,
    /// A one-time token, if any.
    pub ott: Option<&'a str>,
}

impl std::fmt::Debug for SocketInfo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SocketInfo")
            .field("endpoint", &crate::secret::redact_url(&self.endpoint))
            .field("secret", &crate::secret::opt(&self.secret))
            .finish()
    }
}

impl std::fmt::Debug for Ids<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ids")
            .field("client_id", &self.client_id)
            .field("session_id", &self.session_id)
            .field("thread_id", &self.thread_id)
            .field("secret", &crate::secret::opt(&self.secret))
            .field("ott", &crate::secret::opt(&self.ott))
            .finish()
    }
}

impl<'a> Ids<'a> {
    /// The `x-flowai-*` headers the official SDK sends, for the ids that are set.
    pub fn headers(&self) -> Vec<(&'static str, &'a str)> {
        let mut h = vec![
            ("x-flowai-clientid", self.client_id),
            ("x-flowai-sessionid", self.session_id),
            ("x-flowai-threadid", self.thread_id),
        ];
        if let Some(secret) = self.secret {
            h.push(("x-flowai-secret", secret));
        }
        if let Some(ott) = self.ott {
            h.push(("x-flowai-ott", ott));
        }
        h
    }
}

/// Paths where Linux distributions keep the system's root certificate bundle.
const SYSTEM_BUNDLES: &[&str] = &[
    "/etc/ssl/certs/ca-certificates.crt",
    "/etc/pki/tls/certs/ca-bundle.crt",
    "/etc/ssl/ca-bundle.pem",
    "/etc/ssl/cert.pem",
];

fn system_root_bundle() -> Option<Vec<u8>> {
    let from_env = std::env::var_os("SSL_CERT_FILE").map(std::path::PathBuf::from);
    from_env
        .into_iter()
        .chain(SYSTEM_BUNDLES.iter().map(Into::into))
        .find_map(|p| std::fs::read(p).ok())
}

/// The HTTP agent for `socket.info` and REST calls: native TLS, timeouts from the config,
/// HTTP error statuses returned as responses so they can be classified.
pub fn http_agent(cfg: &Config) -> Result<ureq::Agent> {
    use ureq::tls::{parse_pem, PemItem, RootCerts, TlsConfig, TlsProvider};
    let roots = if cfg.root_certs_pem.is_empty() {
        RootCerts::PlatformVerifier
    } else {
        // native-tls in ureq takes either the platform roots or a specific list, so the
        // list is the system bundle plus the extra roots.
        let mut pem = system_root_bundle().unwrap_or_default();
        for extra in &cfg.root_certs_pem {
            pem.extend_from_slice(b"\n");
            pem.extend_from_slice(extra.as_bytes());
        }
        let certs: Vec<_> = parse_pem(&pem)
            .filter_map(|item| match item {
                Ok(PemItem::Certificate(c)) => Some(c.to_owned()),
                _ => None,
            })
            .collect();
        RootCerts::Specific(Arc::new(certs))
    };
    let tls = TlsConfig::builder()
        .provider(TlsProvider::NativeTls)
        .root_certs(roots)
        .build();
    let config = ureq::Agent::config_builder()
        .tls_config(tls)
        .timeout_connect(Some(cfg.connect_timeout))
        .timeout_recv_response(Some(cfg.io_timeout))
        .timeout_recv_body(Some(cfg.io_timeout))
        .http_status_as_error(false)
        .user_agent(concat!("flowai-socket/", env!("CARGO_PKG_VERSION")))
        .build();
    Ok(config.new_agent())
}

/// Turns a ureq failure into our error: timeouts, TLS and network told apart.
pub(crate) fn http_error(e: ureq::Error, timeout: Duration) -> Error {
    match e {
        ureq::Error::Timeout(_) => Error::Timeout(timeout),
        ureq::Error::Tls(m) => Error::Tls(m.to_string()),
        ureq::Error::NativeTls(e) => Error::Tls(e.to_string()),
        ureq::Error::BadUri(m) => Error::Config(format!("bad URL: {m}")),
        ureq::Error::BodyExceedsLimit(n) => {
            Error::Protocol(format!("answer larger than {n} bytes"))
        }
        ureq::Error::Io(e) if e.kind() == std::io::ErrorKind::TimedOut => Error::Timeout(timeout),
        other => Error::Network(other.to_string()),
    }
}

/// Classifies a non-2xx HTTP status the way the official SDK does: 400 and 500 are a bad
/// configuration, 401–403 unauthorized: both final; anything else is worth retrying.
pub fn status_error(status: u16, message: String) -> Error {
    match status {
        400 | 401 | 402 | 403 | 500 => Error::Rejected { status, message },
        _ => Error::Unavailable { status, message },
    }
}

/// Reads a Flow JSON answer `{"status": "ok", "payload": …}` (status compared without case)
/// and returns the whole body; HTTP errors and non-ok statuses become classified errors.
pub(crate) fn read_flow_answer(
    response: Result<ureq::http::Response<ureq::Body>, ureq::Error>,
    timeout: Duration,
    what: &str,
) -> Result<Value> {
    let mut response = response.map_err(|e| http_error(e, timeout))?;
    let status = response.status().as_u16();
    let text = response
        .body_mut()
        .with_config()
        .limit(4 << 20)
        .read_to_string()
        .map_err(|e| http_error(e, timeout))?;
    let body: Option<Value> = serde_json::from_str(&text).ok();
    let message = body
        .as_ref()
        .and_then(|b| b.pointer("/payload/message").or_else(|| b.get("message")))
        .and_then(Value::as_str)
        .map(String::from)
        .unwrap_or_else(|| snippet(&text));
    if !(200..300).contains(&status) {
        return Err(status_error(status, format!("{what}: {message}")));
    }
    let body = body.ok_or_else(|| {
        Error::Protocol(format!(
            "{what} answered something that is not JSON: {}",
            snippet(&text)
        ))
    })?;
    let ok = body
        .get("status")
        .and_then(Value::as_str)
        .is_some_and(|s| s.eq_ignore_ascii_case("ok"));
    if !ok {
        return Err(Error::Rejected {
            status,
            message: format!("{what}: {message}"),
        });
    }
    Ok(body)
}

fn snippet(text: &str) -> String {
    let t: String = text.chars().take(120).collect();
    if t.is_empty() {
        "(empty body)".into()
    } else {
        t
    }
}

/// `GET {base}/socket.info?clientId=…&sessionId=…` with the `x-flowai-*` headers, within
/// `timeout` (the client gives it what is left of its connect timeout).
pub fn fetch_socket_info(
    agent: &ureq::Agent,
    cfg: &Config,
    ids: Ids<'_>,
    timeout: Duration,
) -> Result<SocketInfo> {
    let url = format!("{}/socket.info", cfg.base_url);
    let mut request = agent
        .get(&url)
        .query("clientId", ids.client_id)
        .query("sessionId", ids.session_id)
        .config()
        .timeout_global(Some(timeout))
        .build();
    for (name, value) in ids.headers() {
        request = request.header(name, value);
    }
    let body = read_flow_answer(request.call(), timeout, "socket.info")?;
    let endpoint = body
        .pointer("/payload/endpoint")
        .and_then(Value::as_str)
        .ok_or_else(|| Error::Protocol("socket.info answer has no payload.endpoint".into()))?;
    if !(endpoint.starts_with("ws://") || endpoint.starts_with("wss://")) {
        return Err(Error::Protocol(format!(
            "socket.info endpoint is not a ws:// or wss:// URL: {}",
            snippet(&crate::secret::redact_url(endpoint))
        )));
    }
    Ok(SocketInfo {
        endpoint: endpoint.to_string(),
        secret: body.get("secret").and_then(Value::as_str).map(String::from),
    })
}

fn tls_connector(cfg: &Config) -> Result<native_tls::TlsConnector> {
    let mut builder = native_tls::TlsConnector::builder();
    for pem in &cfg.root_certs_pem {
        let cert = native_tls::Certificate::from_pem(pem.as_bytes())
            .map_err(|e| Error::Config(format!("extra root certificate is not valid PEM: {e}")))?;
        builder.add_root_certificate(cert);
    }
    builder
        .build()
        .map_err(|e| Error::Tls(format!("cannot set up TLS: {e}")))
}

fn tcp_connect(host: &str, port: u16, deadline: Instant, timeout: Duration) -> Result<TcpStream> {
    let addrs = (host, port)
        .to_socket_addrs()
        .map_err(|e| Error::Network(format!("cannot resolve {host}: {e}")))?;
    let mut last = Error::Network(format!("{host} has no address"));
    for addr in addrs {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(Error::Timeout(timeout));
        }
        match TcpStream::connect_timeout(&addr, left) {
            Ok(s) => return Ok(s),
            Err(e) if e.kind() == std::io::ErrorKind::TimedOut => last = Error::Timeout(timeout),
            Err(e) => last = Error::Network(format!("connect to {addr}: {e}")),
        }
    }
    Err(last)
}

/// Opens the WebSocket on a `socket.info` endpoint: TCP, TLS for wss (certificates checked),
/// the upgrade with the optional `Origin` header, all within `timeout`. Returns it switched to
/// non-blocking mode.
pub fn connect_websocket(cfg: &Config, endpoint: &str, timeout: Duration) -> Result<Socket> {
    let deadline = Instant::now() + timeout;
    let mut request = endpoint.into_client_request().map_err(|e| {
        let url = crate::secret::redact_url(endpoint);
        Error::Protocol(format!("bad WebSocket URL {url}: {e}"))
    })?;
    if let Some(origin) = &cfg.origin {
        let value = origin
            .parse()
            .map_err(|_| Error::Config(format!("origin {origin:?} is not a valid header value")))?;
        request.headers_mut().insert("Origin", value);
    }
    let uri = request.uri().clone();
    let secure = uri.scheme_str() == Some("wss");
    let host = uri
        .host()
        .ok_or_else(|| {
            let url = crate::secret::redact_url(endpoint);
            Error::Protocol(format!("WebSocket URL has no host: {url}"))
        })?
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_string();
    let port = uri.port_u16().unwrap_or(if secure { 443 } else { 80 });
    let tcp = tcp_connect(&host, port, deadline, timeout)?;
    let left = deadline
        .saturating_duration_since(Instant::now())
        .max(Duration::from_millis(1));
    tcp.set_nodelay(true)?;
    tcp.set_read_timeout(Some(left))?;
    tcp.set_write_timeout(Some(left))?;
    let connector = if secure {
        Connector::NativeTls(tls_connector(cfg)?)
    } else {
        Connector::Plain
    };
    // tungstenite zero-fills its whole read buffer on each read: a small one keeps an idle
    // connection's resident memory small (128 KiB by default, 32 KiB with this).
    let ws_config = WebSocketConfig::default()
        .read_buffer_size(4096)
        .max_message_size(Some(cfg.max_message_size))
        .max_frame_size(Some(cfg.max_message_size));
    let (socket, _response) =
        tungstenite::client_tls_with_config(request, tcp, Some(ws_config), Some(connector))
            .map_err(|e| match e {
                HandshakeError::Interrupted(_) => Error::Timeout(timeout),
                HandshakeError::Failure(e) => ws_error(e, timeout),
            })?;
    let tcp = tcp_of(&socket);
    tcp.set_read_timeout(None)?;
    tcp.set_write_timeout(None)?;
    tcp.set_nonblocking(true)?;
    Ok(socket)
}

/// The TCP stream under a socket, plain or TLS.
pub(crate) fn tcp_of(socket: &Socket) -> &TcpStream {
    match socket.get_ref() {
        MaybeTlsStream::NativeTls(tls) => tls.get_ref(),
        MaybeTlsStream::Plain(tcp) => tcp,
        // MaybeTlsStream is non-exhaustive; only the two above are enabled in this crate.
        _ => unreachable!("only plain and native-tls streams are enabled"),
    }
}

/// Turns a tungstenite failure into our error.
pub(crate) fn ws_error(e: tungstenite::Error, timeout: Duration) -> Error {
    use tungstenite::Error as W;
    match e {
        W::Tls(e) => Error::Tls(e.to_string()),
        W::Http(response) => {
            let status = response.status().as_u16();
            Error::Unavailable {
                status,
                message: format!("WebSocket upgrade refused with HTTP {status}"),
            }
        }
        W::Io(e)
            if matches!(
                e.kind(),
                std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
            ) =>
        {
            Error::Timeout(timeout)
        }
        W::Io(e) => Error::Network(e.to_string()),
        W::Capacity(e) => Error::Protocol(format!("frame too large: {e}")),
        W::ConnectionClosed | W::AlreadyClosed => Error::Network("connection closed".into()),
        other => Error::Protocol(other.to_string()),
    }
}
