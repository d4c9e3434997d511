//! A small HTTP/1.1 client for `socket.info` and the REST calls: one request per connection
//! (`Connection: close`), the answer parsed with httparse (`Content-Length`, chunked, or up
//! to EOF), everything under one [`Limit`]. Redirects are never followed: a 3xx is returned
//! like any other status, with its `Location`, for the caller to refuse.

use super::io::Limit;
use super::url::Target;
use super::{Stream, Transport};
use crate::error::{Error, Result};
use std::io::{Read, Write};

/// Largest answer head accepted.
const MAX_HEAD: usize = 64 * 1024;

/// A request body.
pub(crate) enum Body<'a> {
    /// No body (GET).
    Empty,
    /// Bytes in memory.
    Bytes(&'a [u8]),
    /// A stream of exactly this many bytes.
    Stream(&'a mut dyn Read, u64),
}

/// One request.
pub(crate) struct Request<'a> {
    /// `GET` or `POST`.
    pub(crate) method: &'static str,
    /// Where it goes (the path with its query).
    pub(crate) target: &'a Target,
    /// Extra headers (`Host`, `User-Agent`, `Connection` and `Content-Length` are added).
    pub(crate) headers: Vec<(&'a str, &'a str)>,
    /// The body.
    pub(crate) body: Body<'a>,
}

/// An answer.
#[derive(Debug)]
pub(crate) struct Response {
    /// The HTTP status.
    pub(crate) status: u16,
    /// The `Location` header, if any (for refusing redirects with a useful message).
    pub(crate) location: Option<String>,
    /// The body.
    pub(crate) body: Vec<u8>,
}

/// A header value we may send: no control characters, so nothing can inject a header line.
fn check_header(name: &str, value: &str) -> Result<()> {
    if value.chars().any(|c| c.is_control() && c != '\t') {
        return Err(Error::InvalidArgument(format!(
            "the value of header {name} contains a control character (a line break?)"
        )));
    }
    Ok(())
}

/// Sends `request` and reads the answer (at most `max_body` bytes of body), all within
/// `limit`. `what` names the call in errors.
pub(crate) fn exchange(
    transport: &Transport,
    mut request: Request<'_>,
    limit: &Limit,
    max_body: usize,
    what: &str,
) -> Result<Response> {
    let target = request.target;
    let mut head = format!(
        "{} {} HTTP/1.1\r\nHost: {}\r\nUser-Agent: {}\r\nAccept: application/json\r\n\
         Connection: close\r\n",
        request.method,
        target.path,
        host_header(target),
        super::USER_AGENT
    );
    for (name, value) in &request.headers {
        check_header(name, value)?;
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    match &request.body {
        Body::Empty if request.method == "GET" => {}
        Body::Empty => head.push_str("Content-Length: 0\r\n"),
        Body::Bytes(b) => head.push_str(&format!("Content-Length: {}\r\n", b.len())),
        Body::Stream(_, n) => head.push_str(&format!("Content-Length: {n}\r\n")),
    }
    head.push_str("\r\n");
    let mut stream = transport.open(target, limit)?;
    let io_error = |e: std::io::Error| limit.explain(Error::Network(format!("{what}: {e}")));
    stream.write_all(head.as_bytes()).map_err(io_error)?;
    let sent = match &mut request.body {
        Body::Empty => Ok(()),
        Body::Bytes(b) => stream.write_all(b).map_err(Copy::Write),
        Body::Stream(reader, n) => copy_exact(*reader, &mut stream, *n),
    };
    match sent {
        Ok(()) => {}
        Err(Copy::Read(e)) => return Err(Error::Io(e)),
        // A server may answer (413) and stop reading before the body is all sent: its
        // answer says more than the broken pipe.
        Err(Copy::Write(e)) => {
            return read_response(&mut stream, limit, max_body, what).map_err(|_| io_error(e))
        }
    }
    read_response(&mut stream, limit, max_body, what)
}

/// `Host` value: the port only when it is not the scheme's default.
fn host_header(target: &Target) -> String {
    let default = if target.secure { 443 } else { 80 };
    if target.port == default {
        if target.host.contains(':') {
            format!("[{}]", target.host)
        } else {
            target.host.clone()
        }
    } else {
        target.authority()
    }
}

/// Why copying a body stopped.
enum Copy {
    /// The body could not be read (a file that shrank, a disk error).
    Read(std::io::Error),
    /// The connection failed.
    Write(std::io::Error),
}

/// Copies exactly `n` bytes from `reader` to the stream.
fn copy_exact(reader: &mut dyn Read, stream: &mut Stream, n: u64) -> std::result::Result<(), Copy> {
    let mut buf = vec![0u8; 64 * 1024];
    let mut left = n;
    while left > 0 {
        let want = buf.len().min(usize::try_from(left).unwrap_or(usize::MAX));
        let got = match reader.read(&mut buf[..want]) {
            Ok(0) => {
                return Err(Copy::Read(std::io::Error::new(
                    std::io::ErrorKind::UnexpectedEof,
                    "body shorter than announced",
                )))
            }
            Ok(got) => got,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(Copy::Read(e)),
        };
        stream.write_all(&buf[..got]).map_err(Copy::Write)?;
        left -= got as u64;
    }
    stream.flush().map_err(Copy::Write)
}

/// The bytes of an answer as they arrive: what was read past the head, then the stream.
struct Incoming<'s> {
    stream: &'s mut Stream,
    buf: Vec<u8>,
    pos: usize,
    eof: bool,
}

impl Incoming<'_> {
    /// Reads more into the buffer; false at EOF.
    fn fill(&mut self) -> std::io::Result<bool> {
        if self.eof {
            return Ok(false);
        }
        if self.pos > 0 && self.pos == self.buf.len() {
            self.buf.clear();
            self.pos = 0;
        }
        let mut chunk = [0u8; 8192];
        let n = self.stream.read(&mut chunk)?;
        self.eof = n == 0;
        self.buf.extend_from_slice(&chunk[..n]);
        Ok(n > 0)
    }

    fn available(&self) -> &[u8] {
        &self.buf[self.pos..]
    }

    /// Moves up to `n` buffered bytes into `out`; how many.
    fn take(&mut self, n: usize, out: &mut Vec<u8>) -> usize {
        let n = n.min(self.buf.len() - self.pos);
        out.extend_from_slice(&self.buf[self.pos..self.pos + n]);
        self.pos += n;
        n
    }

    /// One line ending in CRLF (without it).
    fn line(&mut self) -> std::io::Result<Vec<u8>> {
        loop {
            if let Some(i) = self.available().windows(2).position(|w| w == b"\r\n") {
                let mut line = Vec::new();
                self.take(i, &mut line);
                self.pos += 2;
                return Ok(line);
            }
            if self.available().len() > MAX_HEAD {
                return Err(std::io::Error::other("line too long"));
            }
            if !self.fill()? {
                return Err(std::io::ErrorKind::UnexpectedEof.into());
            }
        }
    }
}

/// Reads one answer (skipping `1xx` interim answers) and its body.
fn read_response(
    stream: &mut Stream,
    limit: &Limit,
    max_body: usize,
    what: &str,
) -> Result<Response> {
    let mut incoming = Incoming {
        stream,
        buf: Vec::with_capacity(8192),
        pos: 0,
        eof: false,
    };
    let io_error = |e: std::io::Error| limit.explain(Error::Network(format!("{what}: {e}")));
    loop {
        let (status, location, framing, used) = loop {
            let mut headers = [httparse::EMPTY_HEADER; 64];
            let mut response = httparse::Response::new(&mut headers);
            match response.parse(incoming.available()) {
                Ok(httparse::Status::Complete(used)) => {
                    let status = response.code.unwrap_or(0);
                    let find = |name: &str| {
                        response
                            .headers
                            .iter()
                            .find(|h| h.name.eq_ignore_ascii_case(name))
                            .map(|h| String::from_utf8_lossy(h.value).trim().to_string())
                    };
                    let framing = if find("transfer-encoding")
                        .is_some_and(|t| t.to_ascii_lowercase().contains("chunked"))
                    {
                        Framing::Chunked
                    } else if let Some(len) = find("content-length") {
                        Framing::Length(len.parse().map_err(|_| {
                            Error::Protocol(format!("{what}: bad Content-Length {len:?}"))
                        })?)
                    } else {
                        Framing::UntilClose
                    };
                    break (status, find("location"), framing, used);
                }
                Ok(httparse::Status::Partial) => {
                    if incoming.available().len() > MAX_HEAD {
                        return Err(Error::Protocol(format!(
                            "{what}: answer head over {MAX_HEAD} bytes"
                        )));
                    }
                    if !incoming.fill().map_err(io_error)? {
                        return Err(limit.explain(Error::Network(format!(
                            "{what}: the server closed the connection before answering"
                        ))));
                    }
                }
                Err(e) => {
                    return Err(Error::Protocol(format!(
                        "{what}: the answer is not HTTP ({e})"
                    )))
                }
            }
        };
        incoming.pos += used;
        if (100..200).contains(&status) {
            continue;
        }
        let no_body = status == 204 || status == 304;
        let body = if no_body {
            Vec::new()
        } else {
            read_body(&mut incoming, framing, max_body, what).map_err(|e| match e {
                BodyError::Io(e) => io_error(e),
                BodyError::Bad(e) => e,
            })?
        };
        return Ok(Response {
            status,
            location,
            body,
        });
    }
}

#[derive(Clone, Copy)]
enum Framing {
    Length(u64),
    Chunked,
    UntilClose,
}

enum BodyError {
    Io(std::io::Error),
    Bad(Error),
}

impl From<std::io::Error> for BodyError {
    fn from(e: std::io::Error) -> Self {
        BodyError::Io(e)
    }
}

fn read_body(
    incoming: &mut Incoming<'_>,
    framing: Framing,
    max_body: usize,
    what: &str,
) -> std::result::Result<Vec<u8>, BodyError> {
    let too_large = || {
        BodyError::Bad(Error::Protocol(format!(
            "{what}: answer larger than {max_body} bytes"
        )))
    };
    let mut body = Vec::new();
    // Reads exactly `n` more bytes into `body`.
    let exact = |incoming: &mut Incoming<'_>, body: &mut Vec<u8>, n: u64| {
        let mut left = n;
        while left > 0 {
            if incoming.available().is_empty() && !incoming.fill()? {
                return Err(BodyError::Io(std::io::ErrorKind::UnexpectedEof.into()));
            }
            let want = usize::try_from(left).unwrap_or(usize::MAX);
            left -= incoming.take(want, body) as u64;
        }
        Ok(())
    };
    match framing {
        Framing::Length(n) => {
            if n > max_body as u64 {
                return Err(too_large());
            }
            exact(incoming, &mut body, n)?;
        }
        Framing::UntilClose => loop {
            incoming.take(usize::MAX, &mut body);
            if body.len() > max_body {
                return Err(too_large());
            }
            if !incoming.fill()? {
                break;
            }
        },
        Framing::Chunked => loop {
            let line = incoming.line()?;
            let size = match httparse::parse_chunk_size(&[line.as_slice(), b"\r\n"].concat()) {
                Ok(httparse::Status::Complete((_, size))) => size,
                _ => {
                    return Err(BodyError::Bad(Error::Protocol(format!(
                        "{what}: bad chunk size line"
                    ))))
                }
            };
            if size == 0 {
                // Trailers up to the empty line.
                while !incoming.line()?.is_empty() {}
                break;
            }
            if body.len() as u64 + size > max_body as u64 {
                return Err(too_large());
            }
            exact(incoming, &mut body, size)?;
            if !incoming.line()?.is_empty() {
                return Err(BodyError::Bad(Error::Protocol(format!(
                    "{what}: chunk not followed by CRLF"
                ))));
            }
        },
    }
    Ok(body)
}
