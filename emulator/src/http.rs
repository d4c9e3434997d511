//! The HTTP side: request parsing, `socket.info`, the REST calls and the WebSocket upgrade.

use std::io::{self, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use super::stream::Stream;
use super::{inc, lock, util, ws, Inner, SocketInfoRequest};

/// Largest request head accepted.
const MAX_HEAD: usize = 16 * 1024;
/// Largest body accepted by the endpoints other than `thread.upload`.
const MAX_BODY: usize = 1 << 20;
/// Blocking I/O timeout of HTTP requests.
const IO_TIMEOUT: Duration = Duration::from_secs(10);

/// A parsed request head.
struct Request {
    method: String,
    path: String,
    query: Vec<(String, String)>,
    headers: Vec<(String, String)>,
}

impl Request {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    fn query(&self, name: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// A non-empty query parameter, else a header (`"null"` and empty mean unset).
    fn id(&self, query: &str, header: &str) -> Option<String> {
        if let Some(v) = self.query(query).filter(|v| !v.is_empty()) {
            return Some(v.to_string());
        }
        self.header(header)
            .map(str::trim)
            .filter(|v| !v.is_empty() && *v != "null" && *v != "undefined")
            .map(str::to_string)
    }
}

/// A response to write.
struct Response {
    status: u16,
    content_type: String,
    body: String,
}

fn json_resp(status: u16, v: &Value) -> Response {
    Response {
        status,
        content_type: "application/json".into(),
        body: v.to_string(),
    }
}

fn error_resp(status: u16, message: &str) -> Response {
    json_resp(
        status,
        &json!({"status": "error", "payload": {"message": message}}),
    )
}

fn ok_resp(payload: Value) -> Response {
    json_resp(200, &json!({"status": "ok", "payload": payload}))
}

fn reason(status: u16) -> &'static str {
    match status {
        100 => "Continue",
        101 => "Switching Protocols",
        200 => "OK",
        400 => "Bad Request",
        401 => "Unauthorized",
        402 => "Payment Required",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        411 => "Length Required",
        413 => "Payload Too Large",
        429 => "Too Many Requests",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        _ => "Status",
    }
}

fn write_resp(s: &mut Stream, r: &Response) -> io::Result<()> {
    let head = format!(
        "HTTP/1.1 {} {}\r\nContent-Type: {}\r\nContent-Length: {}\r\nConnection: close\r\nAccess-Control-Allow-Origin: *\r\n\r\n",
        r.status,
        reason(r.status),
        r.content_type,
        r.body.len()
    );
    let mut out = head.into_bytes();
    out.extend_from_slice(r.body.as_bytes());
    s.write_all(&out)?;
    s.flush()
}

/// Closes after a response; reads and discards what the client still sends for a while so
/// that it sees the response instead of a reset.
fn finish(mut s: Stream, linger: Duration, max: usize) {
    if let Stream::Tls(t) = &mut s {
        let _ = t.shutdown();
    }
    let _ = s.tcp().shutdown(Shutdown::Write);
    let deadline = Instant::now() + linger;
    let mut buf = [0u8; 16 * 1024];
    let mut total = 0;
    while total < max {
        let now = Instant::now();
        if now >= deadline {
            break;
        }
        let _ = s.tcp().set_read_timeout(Some(deadline - now));
        match s.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => total += n,
        }
    }
}

/// Serves one accepted connection: one HTTP request, or a WebSocket.
pub(crate) fn serve(inner: &Arc<Inner>, id: u64, tcp: TcpStream) {
    let _ = tcp.set_read_timeout(Some(IO_TIMEOUT));
    let _ = tcp.set_write_timeout(Some(IO_TIMEOUT));
    if inner.is_shutdown() {
        return;
    }
    let mut stream = match &inner.tls {
        None => Stream::Plain(tcp),
        Some(acc) => match acc.accept(tcp) {
            Ok(t) => Stream::Tls(Box::new(t)),
            Err(e) => {
                log::debug!("emulator: TLS handshake failed: {e}");
                return;
            }
        },
    };
    let (req, leftover) = match read_head(&mut stream) {
        Ok(Ok(x)) => x,
        Ok(Err(resp)) => {
            let _ = write_resp(&mut stream, &resp);
            finish(stream, Duration::from_millis(200), 1 << 20);
            return;
        }
        Err(_) => return,
    };
    let upgrade = req
        .header("upgrade")
        .is_some_and(|u| u.trim().eq_ignore_ascii_case("websocket"));
    if upgrade {
        ws_upgrade(inner, id, stream, req, leftover);
        return;
    }
    let path = format!("/{}", req.path.trim_start_matches('/'));
    let is_upload = path == "/thread.upload";
    let limit = if is_upload {
        inner.cfg.max_upload_bytes
    } else {
        MAX_BODY
    };
    // too large by Content-Length: answer 413 without reading it
    let clen = req
        .header("content-length")
        .and_then(|v| v.trim().parse::<u64>().ok());
    if is_upload {
        inc(&inner.counters.rest_requests);
    }
    if clen.is_some_and(|n| n > limit as u64) {
        let _ = write_resp(&mut stream, &error_resp(413, "Payload too large"));
        finish(stream, Duration::from_secs(2), 64 << 20);
        return;
    }
    if req
        .header("expect")
        .is_some_and(|e| e.eq_ignore_ascii_case("100-continue"))
    {
        let _ = stream.write_all(b"HTTP/1.1 100 Continue\r\n\r\n");
    }
    let body = match read_body(&mut stream, &req, leftover, clen, limit) {
        Ok(Ok(b)) => b,
        Ok(Err(resp)) => {
            let _ = write_resp(&mut stream, &resp);
            finish(stream, Duration::from_secs(2), 64 << 20);
            return;
        }
        Err(_) => return,
    };
    let resp = route(inner, &req, &path, &body, is_upload);
    let _ = write_resp(&mut stream, &resp);
    finish(stream, Duration::from_millis(200), 1 << 20);
    inner.notify();
}

type HeadResult = io::Result<Result<(Request, Vec<u8>), Response>>;

fn read_head(s: &mut Stream) -> HeadResult {
    let mut buf: Vec<u8> = Vec::with_capacity(4096);
    let mut tmp = [0u8; 4096];
    loop {
        let n = s.read(&mut tmp)?;
        if n == 0 {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        buf.extend_from_slice(&tmp[..n]);
        let mut headers = [httparse::EMPTY_HEADER; 64];
        let mut r = httparse::Request::new(&mut headers);
        match r.parse(&buf) {
            Ok(httparse::Status::Complete(len)) => {
                if len > MAX_HEAD {
                    return Ok(Err(error_resp(431, "Request head too large")));
                }
                let target = r.path.unwrap_or("/");
                let (path, q) = target.split_once('?').unwrap_or((target, ""));
                let req = Request {
                    method: r.method.unwrap_or("GET").to_string(),
                    path: util::url_decode(path),
                    query: util::parse_query(q),
                    headers: r
                        .headers
                        .iter()
                        .map(|h| {
                            (
                                h.name.to_ascii_lowercase(),
                                String::from_utf8_lossy(h.value).into_owned(),
                            )
                        })
                        .collect(),
                };
                return Ok(Ok((req, buf[len..].to_vec())));
            }
            Ok(httparse::Status::Partial) => {
                if buf.len() > MAX_HEAD {
                    return Ok(Err(error_resp(431, "Request head too large")));
                }
            }
            Err(httparse::Error::TooManyHeaders) => {
                return Ok(Err(error_resp(431, "Too many headers")));
            }
            Err(e) => return Ok(Err(error_resp(400, &format!("Bad request: {e}")))),
        }
    }
}

type BodyResult = io::Result<Result<Vec<u8>, Response>>;

fn read_body(
    s: &mut Stream,
    req: &Request,
    mut have: Vec<u8>,
    clen: Option<u64>,
    limit: usize,
) -> BodyResult {
    let chunked = req
        .header("transfer-encoding")
        .is_some_and(|t| t.to_ascii_lowercase().contains("chunked"));
    if chunked {
        return read_chunked(s, have, limit);
    }
    let Some(n) = clen else {
        return Ok(Ok(Vec::new()));
    };
    let n = n as usize;
    let mut tmp = [0u8; 16 * 1024];
    while have.len() < n {
        let k = s.read(&mut tmp)?;
        if k == 0 {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        have.extend_from_slice(&tmp[..k]);
    }
    have.truncate(n);
    Ok(Ok(have))
}

fn read_chunked(s: &mut Stream, mut raw: Vec<u8>, limit: usize) -> BodyResult {
    let mut body = Vec::new();
    let mut pos = 0;
    let mut tmp = [0u8; 16 * 1024];
    // make sure raw[pos..] holds at least `want` bytes or a CRLF, reading more as needed
    loop {
        // chunk size line
        let line_end = loop {
            if let Some(i) = find(&raw[pos..], b"\r\n") {
                break pos + i;
            }
            if raw.len() - pos > 1024 {
                return Ok(Err(error_resp(400, "Bad chunk size line")));
            }
            let k = s.read(&mut tmp)?;
            if k == 0 {
                return Err(io::ErrorKind::UnexpectedEof.into());
            }
            raw.extend_from_slice(&tmp[..k]);
        };
        let line = String::from_utf8_lossy(&raw[pos..line_end]).into_owned();
        let size_str = line.split(';').next().unwrap_or("").trim();
        let Ok(size) = usize::from_str_radix(size_str, 16) else {
            return Ok(Err(error_resp(400, "Bad chunk size")));
        };
        pos = line_end + 2;
        if size == 0 {
            return Ok(Ok(body));
        }
        if body.len() + size > limit {
            return Ok(Err(error_resp(413, "Payload too large")));
        }
        while raw.len() < pos + size + 2 {
            let k = s.read(&mut tmp)?;
            if k == 0 {
                return Err(io::ErrorKind::UnexpectedEof.into());
            }
            raw.extend_from_slice(&tmp[..k]);
        }
        body.extend_from_slice(&raw[pos..pos + size]);
        pos += size + 2;
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    if needle.is_empty() || hay.len() < needle.len() {
        return None;
    }
    hay.windows(needle.len()).position(|w| w == needle)
}

fn route(inner: &Arc<Inner>, req: &Request, path: &str, body: &[u8], is_upload: bool) -> Response {
    let m = req.method.as_str();
    match path {
        "/socket.info" => {
            if m != "GET" {
                return error_resp(405, "Use GET");
            }
            socket_info(inner, req)
        }
        "/thread.history" | "/thread.unnoticed" | "/thread.merger" => {
            inc(&inner.counters.rest_requests);
            match (path, m) {
                ("/thread.history", "GET") => thread_history(inner, req),
                ("/thread.unnoticed", "GET") => thread_unnoticed(inner, req),
                ("/thread.merger", "POST") => thread_merger(inner, req, body),
                _ => error_resp(405, "Method not allowed"),
            }
        }
        "/thread.upload" if is_upload => {
            if m != "POST" {
                return error_resp(405, "Use POST");
            }
            thread_upload(inner, req, body)
        }
        _ => error_resp(404, &format!("Not found: {m} {path}")),
    }
}

fn socket_info(inner: &Arc<Inner>, req: &Request) -> Response {
    let c = &inner.counters;
    inc(&c.socket_info_requests);
    let info = SocketInfoRequest {
        client_id: req.id("clientId", "x-flowai-clientid"),
        session_id: req.id("sessionId", "x-flowai-sessionid"),
        thread_id: req.id("threadId", "x-flowai-threadid"),
        secret: req.id("secret", "x-flowai-secret"),
        ott: req.id("ott", "x-flowai-ott"),
        query: req.query.clone(),
        headers: req.headers.clone(),
    };
    *lock(&inner.last_socket_info) = Some(info.clone());
    if let Some((status, body, ct)) = lock(&inner.faults.socket_info_body).clone() {
        if status != 200 {
            inc(&c.socket_info_refused);
        }
        return Response {
            status,
            content_type: ct,
            body,
        };
    }
    if let Some(status) = inner.faults.take_refusal() {
        inc(&c.socket_info_refused);
        return error_resp(status, &format!("Refused by the emulator (HTTP {status})"));
    }
    let Some(client_id) = info.client_id.clone() else {
        inc(&c.socket_info_refused);
        return error_resp(400, "Invalid clientId");
    };
    if client_id == "unauthorized" {
        inc(&c.socket_info_refused);
        return error_resp(401, "Unauthorized: origin not whitelisted");
    }
    let endpoint = inner.mint_url(info.thread_id.clone(), &public_ws_base(inner, req));
    let mut v = json!({"status": "ok", "payload": {"endpoint": endpoint}});
    if inner.cfg.require_nonce {
        if let Some(t) = &info.thread_id {
            v["secret"] = Value::String(inner.ensure_secret(t));
        }
    }
    json_resp(200, &v)
}

/// The scheme and authority of the WebSocket URL for this `socket.info` request, so that a
/// client that came through a relay or TLS terminator goes back the same way: with an
/// `X-Forwarded-Host` header the URL names that host, with the scheme of `X-Forwarded-Proto`
/// (`https` → `wss`, `http` → `ws`, absent → what this server speaks). Without one (or with a
/// malformed one) it is the server's own address, whatever `Host` says.
fn public_ws_base(inner: &Inner, req: &Request) -> String {
    let own = inner.own_ws_base();
    let host = req
        .header("x-forwarded-host")
        .map(str::trim)
        .filter(|h| is_authority(h));
    let Some(host) = host else {
        return own;
    };
    let scheme = match req.header("x-forwarded-proto").map(str::trim) {
        Some(p) if p.eq_ignore_ascii_case("https") => "wss",
        Some(p) if p.eq_ignore_ascii_case("http") => "ws",
        _ if own.starts_with("wss:") => "wss",
        _ => "ws",
    };
    format!("{scheme}://{host}")
}

/// True for a plausible `host[:port]` (names, IPv4, bracketed IPv6): nothing that could turn
/// the URL into something else.
fn is_authority(h: &str) -> bool {
    !h.is_empty()
        && h.len() <= 255
        && h.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b".-_:[]".contains(&b))
}

/// threadId from query, then header.
fn thread_of(req: &Request) -> Option<String> {
    req.id("threadId", "x-flowai-threadid")
}

/// The nonce check of the REST calls: `Some(401)` when the secret is wrong.
fn check_secret(inner: &Inner, req: &Request, thread: &str) -> Option<Response> {
    if !inner.cfg.require_nonce {
        return None;
    }
    let sent = req.id("secret", "x-flowai-secret");
    let want = inner.secret_of(thread);
    if sent.is_some() && sent == want {
        None
    } else {
        Some(error_resp(401, "Invalid secret"))
    }
}

fn check_common(inner: &Inner, req: &Request) -> Result<String, Response> {
    if req.id("clientId", "x-flowai-clientid").is_none() {
        return Err(error_resp(400, "Invalid clientId"));
    }
    let Some(thread) = thread_of(req) else {
        return Err(error_resp(400, "Missing threadId"));
    };
    if let Some(r) = check_secret(inner, req, &thread) {
        return Err(r);
    }
    Ok(thread)
}

fn thread_history(inner: &Arc<Inner>, req: &Request) -> Response {
    let thread = match check_common(inner, req) {
        Ok(t) => t,
        Err(r) => return r,
    };
    let entries = lock(&inner.threads)
        .get(&thread)
        .map(|t| t.history.iter().cloned().collect::<Vec<_>>())
        .unwrap_or_default();
    let body = format!(
        r#"{{"status":"ok","payload":{{"threadId":{},"history":[{}]}}}}"#,
        util::json_str(&thread),
        entries.join(",")
    );
    Response {
        status: 200,
        content_type: "application/json".into(),
        body,
    }
}

fn thread_unnoticed(inner: &Arc<Inner>, req: &Request) -> Response {
    let thread = match check_common(inner, req) {
        Ok(t) => t,
        Err(r) => return r,
    };
    let unnoticed = lock(&inner.threads)
        .get(&thread)
        .is_some_and(|t| t.unnoticed);
    ok_resp(json!({"threadId": thread, "unnoticed": unnoticed}))
}

fn thread_merger(inner: &Arc<Inner>, req: &Request, body: &[u8]) -> Response {
    let v: Value = match serde_json::from_slice(body) {
        Ok(v) => v,
        Err(e) => return error_resp(400, &format!("Body must be JSON: {e}")),
    };
    let Some(obj) = v.as_object() else {
        return error_resp(400, "Body must be a JSON object");
    };
    for f in ["clientId", "threadId", "sessionId", "mergerKey"] {
        if obj.get(f).and_then(Value::as_str).is_none_or(str::is_empty) {
            return error_resp(400, &format!("Missing {f}"));
        }
    }
    let thread = obj["threadId"].as_str().unwrap_or_default();
    if let Some(r) = check_secret(inner, req, thread) {
        return r;
    }
    ok_resp(v.clone())
}

/// One part of a multipart body.
struct Part<'a> {
    name: String,
    filename: Option<String>,
    content_type: Option<String>,
    data: &'a [u8],
}

fn disposition_param(cd: &str, key: &str) -> Option<String> {
    cd.split(';').skip(1).find_map(|p| {
        let (k, v) = p.trim().split_once('=')?;
        if k.trim().eq_ignore_ascii_case(key) {
            Some(v.trim().trim_matches('"').to_string())
        } else {
            None
        }
    })
}

fn parse_multipart<'a>(body: &'a [u8], boundary: &str) -> Option<Vec<Part<'a>>> {
    let delim = format!("--{boundary}");
    let delim = delim.as_bytes();
    let mut pos = find(body, delim)? + delim.len();
    let mut parts = Vec::new();
    loop {
        if body[pos..].starts_with(b"--") {
            return Some(parts);
        }
        // skip the CRLF after the delimiter
        pos += find(&body[pos..], b"\r\n")? + 2;
        let head_end = pos + find(&body[pos..], b"\r\n\r\n")?;
        let head = String::from_utf8_lossy(&body[pos..head_end]).into_owned();
        let data_start = head_end + 4;
        let mut end_delim = b"\r\n".to_vec();
        end_delim.extend_from_slice(delim);
        let data_end = data_start + find(&body[data_start..], &end_delim)?;
        let mut name = String::new();
        let mut filename = None;
        let mut content_type = None;
        for line in head.split("\r\n") {
            let Some((k, v)) = line.split_once(':') else {
                continue;
            };
            if k.trim().eq_ignore_ascii_case("content-disposition") {
                name = disposition_param(v, "name").unwrap_or_default();
                filename = disposition_param(v, "filename");
            } else if k.trim().eq_ignore_ascii_case("content-type") {
                content_type = Some(v.trim().to_string());
            }
        }
        parts.push(Part {
            name,
            filename,
            content_type,
            data: &body[data_start..data_end],
        });
        pos = data_end + end_delim.len();
    }
}

fn thread_upload(inner: &Arc<Inner>, req: &Request, body: &[u8]) -> Response {
    let ct = req.header("content-type").unwrap_or("");
    if !ct.to_ascii_lowercase().starts_with("multipart/form-data") {
        return error_resp(400, "Expected multipart/form-data");
    }
    let Some(boundary) = disposition_param(ct, "boundary") else {
        return error_resp(400, "Missing multipart boundary");
    };
    let Some(parts) = parse_multipart(body, &boundary) else {
        return error_resp(400, "Malformed multipart body");
    };
    let Some(file) = parts.iter().find(|p| p.name == "file") else {
        return error_resp(400, "Missing part `file`");
    };
    let payload: Value = match parts.iter().find(|p| p.name == "payload") {
        None => return error_resp(400, "Missing part `payload`"),
        Some(p) => match serde_json::from_slice(p.data) {
            Ok(v @ Value::Object(_)) => v,
            _ => return error_resp(400, "Part `payload` must be a JSON object"),
        },
    };
    let from_payload = |k: &str| {
        payload
            .get(k)
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .map(str::to_string)
    };
    if from_payload("clientId")
        .or_else(|| req.id("clientId", "x-flowai-clientid"))
        .is_none()
    {
        return error_resp(400, "Invalid clientId");
    }
    let Some(thread) = from_payload("threadId").or_else(|| thread_of(req)) else {
        return error_resp(400, "Missing threadId");
    };
    if let Some(r) = check_secret(inner, req, &thread) {
        return r;
    }
    let file_name = file.filename.clone().unwrap_or_else(|| "file".to_string());
    let size = file.data.len();
    let entry = json!({"type": "file.upload", "payload": {
        "threadId": thread,
        "fileName": file_name,
        "size": size,
        "contentType": file.content_type,
        "payload": payload,
    }})
    .to_string();
    let speech = from_payload("speech").unwrap_or_default();
    let text = format!("Received file {file_name} ({size} bytes)");
    let reply = ws::reply_frame(
        "message.received",
        &thread,
        &speech,
        &text,
        &ws::text_response(&text),
    );
    let replied = inner.cfg.reply;
    {
        let mut th = lock(&inner.threads);
        if replied {
            Inner::record(&mut th, &thread, &[&entry, &reply], true);
        } else {
            Inner::record(&mut th, &thread, &[&entry], false);
        }
    }
    if replied {
        inner.push_to_thread(&thread, vec![(ws::Kind::Reply, reply)]);
    }
    ok_resp(json!({"fileName": file_name, "size": size}))
}

fn ws_upgrade(inner: &Arc<Inner>, id: u64, mut stream: Stream, req: Request, leftover: Vec<u8>) {
    *lock(&inner.last_origin) = req.header("origin").map(str::to_string);
    let reject = |stream: &mut Stream, status: u16, msg: &str| {
        inc(&inner.counters.ws_rejected);
        let _ = write_resp(stream, &error_resp(status, msg));
        inner.notify();
    };
    let path = format!("/{}", req.path.trim_start_matches('/'));
    let Some(token) = path.strip_prefix("/ws/") else {
        reject(&mut stream, 404, "No WebSocket here");
        return;
    };
    let Some(key) = req.header("sec-websocket-key").map(str::trim) else {
        reject(&mut stream, 400, "Missing Sec-WebSocket-Key");
        return;
    };
    if req.method != "GET" {
        reject(&mut stream, 400, "WebSocket upgrade needs GET");
        return;
    }
    let Some(thread) = inner.take_token(token) else {
        reject(
            &mut stream,
            403,
            "Unknown, used or expired socket URL: fetch a new one from socket.info",
        );
        return;
    };
    let accept = tungstenite::handshake::derive_accept_key(key.as_bytes());
    let resp = format!(
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: {accept}\r\n\r\n"
    );
    ws::run(inner, id, stream, resp.as_bytes(), leftover, thread);
}
