//! Small misbehaving servers over real sockets, for the transport tests: one that accepts and
//! never says a word, one whose connects hang (a full backlog), an HTTP front whose every
//! answer the test chooses (bytes, a drip feed, silence; or the emulator's own answer), a
//! WebSocket that accepts then drops, and TLS with a CA and certificates of the test's own.
#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// A listening server running a handler per connection on its own thread; it lives until
/// the test process ends.
pub struct Server {
    pub addr: SocketAddr,
    /// Connections accepted so far.
    pub accepted: Arc<AtomicUsize>,
}

impl Server {
    /// Runs `handler` for every connection accepted on a fresh 127.0.0.1 port.
    pub fn start(handler: impl Fn(TcpStream, usize) + Send + Sync + 'static) -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let accepted = Arc::new(AtomicUsize::new(0));
        let count = accepted.clone();
        let handler = Arc::new(handler);
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let n = count.fetch_add(1, Ordering::SeqCst);
                let handler = handler.clone();
                std::thread::spawn(move || handler(stream, n));
            }
        });
        Server { addr, accepted }
    }

    /// `host:port`.
    pub fn authority(&self) -> String {
        self.addr.to_string()
    }

    /// Waits up to `limit` until at least `n` connections were accepted.
    pub fn wait_accepted(&self, n: usize, limit: Duration) -> bool {
        let deadline = std::time::Instant::now() + limit;
        while std::time::Instant::now() < deadline {
            if self.accepted.load(Ordering::SeqCst) >= n {
                return true;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        false
    }
}

/// Holds every connection open for a minute, reading and discarding, never writing: a TLS
/// server that never answers the ClientHello, an HTTP server that never answers.
pub fn silent() -> Server {
    Server::start(|mut stream, _| {
        let _ = stream.set_read_timeout(Some(Duration::from_secs(60)));
        let mut buf = [0u8; 4096];
        while matches!(stream.read(&mut buf), Ok(n) if n > 0) {}
    })
}

/// Reads an HTTP request head; returns it as text (empty on EOF).
pub fn read_head(stream: &mut TcpStream) -> String {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        match stream.read(&mut byte) {
            Ok(1) => head.push(byte[0]),
            _ => break,
        }
    }
    String::from_utf8_lossy(&head).into_owned()
}

/// A complete HTTP answer with a JSON body.
pub fn http_json(status: u16, extra_headers: &str, body: &str) -> Vec<u8> {
    format!(
        "HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\
         Connection: close\r\n{extra_headers}\r\n{body}",
        body.len()
    )
    .into_bytes()
}

/// The `socket.info` answer `{"status":"ok","payload":{"endpoint": …}}`.
pub fn socket_info_ok(endpoint: &str) -> Vec<u8> {
    http_json(
        200,
        "",
        &format!(r#"{{"status":"ok","payload":{{"endpoint":"{endpoint}"}}}}"#),
    )
}

/// What a [`Front`] does with one request.
pub enum Answer {
    /// Write these bytes, then close.
    Bytes(Vec<u8>),
    /// Write these bytes one at a time, one every this long.
    Drip(Vec<u8>, Duration),
    /// Never answer (hold the connection for a minute).
    Stall,
}

/// An HTTP server for `socket.info` (and anything else) whose answer to the n-th request
/// (0-based; its head given too) the test chooses; it records every request head.
pub struct Front {
    pub server: Server,
    pub requests: Arc<Mutex<Vec<String>>>,
}

impl Front {
    pub fn start(plan: impl Fn(usize, &str) -> Answer + Send + Sync + 'static) -> Front {
        let requests = Arc::new(Mutex::new(Vec::new()));
        let seen = requests.clone();
        let server = Server::start(move |mut stream, n| {
            let head = read_head(&mut stream);
            seen.lock().unwrap().push(head.clone());
            match plan(n, &head) {
                Answer::Bytes(bytes) => {
                    let _ = stream.write_all(&bytes);
                    let _ = stream.flush();
                    std::thread::sleep(Duration::from_millis(50));
                }
                Answer::Drip(bytes, every) => {
                    for b in bytes {
                        if stream.write_all(&[b]).is_err() {
                            return;
                        }
                        std::thread::sleep(every);
                    }
                }
                Answer::Stall => std::thread::sleep(Duration::from_secs(60)),
            }
        });
        Front { server, requests }
    }

    /// A front for the emulator: `special` answers the requests it wants to (`Some`), the
    /// emulator answers the others.
    pub fn before(
        emulator: &flowai_emulator::Emulator,
        special: impl Fn(usize, &str) -> Option<Answer> + Send + Sync + 'static,
    ) -> Front {
        let addr = emulator
            .base_url()
            .trim_start_matches("http://")
            .to_string();
        Front::start(move |n, head| special(n, head).unwrap_or_else(|| forward(&addr, head)))
    }

    /// `http://127.0.0.1:PORT`.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.server.addr)
    }

    /// Request heads so far.
    pub fn heads(&self) -> Vec<String> {
        self.requests.lock().unwrap().clone()
    }
}

/// The emulator's own answer to the request `head` (for a front that misbehaves only on some
/// requests): the request is replayed to the emulator at `emulator_addr` as it came.
pub fn forward(emulator_addr: &str, head: &str) -> Answer {
    let mut upstream = TcpStream::connect(emulator_addr).unwrap();
    upstream.write_all(head.as_bytes()).unwrap();
    let mut answer = read_head(&mut upstream).into_bytes();
    let length = String::from_utf8_lossy(&answer)
        .lines()
        .filter_map(|l| l.split_once(':'))
        .find(|(k, _)| k.trim().eq_ignore_ascii_case("content-length"))
        .and_then(|(_, v)| v.trim().parse::<usize>().ok())
        .unwrap_or(0);
    let mut body = vec![0u8; length];
    upstream.read_exact(&mut body).unwrap();
    answer.extend(body);
    Answer::Bytes(answer)
}

/// A WebSocket server that accepts every upgrade, stays `hold`, then drops the connection
/// (so a client reconnects).
pub fn ws_then_drop(hold: Duration) -> Server {
    Server::start(move |stream, _| {
        if let Ok(ws) = tungstenite::accept(stream) {
            std::thread::sleep(hold);
            drop(ws);
        }
    })
}

/// A listening socket whose accept queue is full and never drained: a TCP connect to it
/// hangs (the kernel drops further SYNs), like a black-holed address, but deterministic.
pub struct Backlogged {
    pub addr: SocketAddr,
    _listener: socket2::Socket,
    _fillers: Vec<TcpStream>,
}

pub fn backlogged() -> Backlogged {
    use socket2::{Domain, Socket, Type};
    let listener = Socket::new(Domain::IPV4, Type::STREAM, None).unwrap();
    listener
        .bind(&"127.0.0.1:0".parse::<SocketAddr>().unwrap().into())
        .unwrap();
    listener.listen(0).unwrap();
    let addr = listener.local_addr().unwrap().as_socket().unwrap();
    // Fill the queue: connects that complete until one does not within 100 ms.
    let mut fillers = Vec::new();
    for _ in 0..8 {
        match TcpStream::connect_timeout(&addr, Duration::from_millis(100)) {
            Ok(s) => fillers.push(s),
            Err(_) => break,
        }
    }
    Backlogged {
        addr,
        _listener: listener,
        _fillers: fillers,
    }
}

/// A certificate for `cn` (and 127.0.0.1) signed by a CA of the test's own (made with the
/// `openssl` command): `(ca_pem, cert_pem, key_pem)`, valid for `days` days (negative: it
/// expired already). `None` when openssl is missing (a note is printed; under CI it fails).
pub fn ca_signed_certificate(days: i32, cn: &str) -> Option<(String, String, String)> {
    let ca = super::pki::TestCa::new("Flowai Test CA")?;
    let leaf = ca.sign(cn, &format!("DNS:{cn},IP:127.0.0.1"), days);
    Some((ca.cert, leaf.cert, leaf.key))
}

/// A TLS server with this identity that answers each connection with `handler` over TLS.
pub fn tls_server(
    cert_pem: &str,
    key_pem: &str,
    handler: impl Fn(native_tls::TlsStream<TcpStream>) + Send + Sync + 'static,
) -> Server {
    let identity = native_tls::Identity::from_pkcs8(cert_pem.as_bytes(), key_pem.as_bytes())
        .expect("test identity");
    let acceptor = Arc::new(native_tls::TlsAcceptor::new(identity).unwrap());
    Server::start(move |stream, _| {
        if let Ok(tls) = acceptor.accept(stream) {
            handler(tls);
        }
    })
}

/// How long a thread that `close()` has joined may still be listed in /proc/self/task: the
/// kernel clears the thread id (which ends `pthread_join`) a moment before it unlists the
/// task, and under load that moment is visible. A thread that was not joined stays far longer.
pub const REAP_GRACE: std::time::Duration = std::time::Duration::from_millis(200);

/// Waits up to [`REAP_GRACE`] for `gone` (e.g. "no client thread is listed") to hold; true
/// when it did.
pub fn reaped(gone: impl Fn() -> bool) -> bool {
    let start = std::time::Instant::now();
    while !gone() {
        if start.elapsed() >= REAP_GRACE {
            return false;
        }
        std::thread::sleep(std::time::Duration::from_millis(1));
    }
    true
}

/// Names of this process's threads that start with `flowai-` (from /proc/self/task).
pub fn flowai_threads() -> Vec<String> {
    let mut names = Vec::new();
    if let Ok(tasks) = std::fs::read_dir("/proc/self/task") {
        for task in tasks.flatten() {
            if let Ok(comm) = std::fs::read_to_string(task.path().join("comm")) {
                let comm = comm.trim().to_string();
                if comm.starts_with("flowai-") {
                    names.push(comm);
                }
            }
        }
    }
    names.sort();
    names
}
