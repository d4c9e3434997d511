//! A small HTTP `CONNECT` proxy with faults, for the proxy tests: it checks Basic
//! credentials (407 without the right ones), maps test host names to real addresses, records
//! every `CONNECT` target, and can answer a status, stall, reset or close instead of opening
//! the tunnel.
#![allow(dead_code)]

use super::servers::{read_head, Server};
use base64::Engine;
use std::collections::HashMap;
use std::io::Write;
use std::net::{Shutdown, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// What the proxy does with the next `CONNECT`s.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    /// Open the tunnel (the default).
    None,
    /// Answer this status and close.
    Status(u16),
    /// Read the request and never answer.
    Stall,
    /// Reset the connection (RST) after reading the request.
    Reset,
    /// Close the connection after reading the request.
    Close,
}

#[derive(Default)]
struct Settings {
    fault: Option<Fault>,
    /// The fault spares this many `CONNECT`s first.
    spare: usize,
    credentials: Option<String>,
    hosts: HashMap<String, String>,
}

/// The proxy; runs until the test process ends.
pub struct ConnectProxy {
    pub server: Server,
    settings: Arc<Mutex<Settings>>,
    targets: Arc<Mutex<Vec<String>>>,
}

impl ConnectProxy {
    pub fn start() -> ConnectProxy {
        let settings = Arc::new(Mutex::new(Settings::default()));
        let targets = Arc::new(Mutex::new(Vec::new()));
        let (s, t) = (settings.clone(), targets.clone());
        let server = Server::start(move |stream, _| serve(stream, &s, &t));
        ConnectProxy {
            server,
            settings,
            targets,
        }
    }

    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://{}", self.server.addr)
    }

    /// `http://user:password@127.0.0.1:PORT`.
    pub fn url_with(&self, user: &str, password: &str) -> String {
        format!("http://{user}:{password}@{}", self.server.addr)
    }

    /// From now on, tunnels need `Proxy-Authorization: Basic` for this user and password.
    pub fn require_credentials(&self, user: &str, password: &str) {
        self.settings.lock().unwrap().credentials = Some(format!("{user}:{password}"));
    }

    /// `CONNECT name:port` goes to `address:port` (names that only this proxy knows).
    pub fn map_host(&self, name: &str, address: &str) {
        let mut s = self.settings.lock().unwrap();
        s.hosts.insert(name.to_string(), address.to_string());
    }

    /// What to do with the following `CONNECT`s.
    pub fn set_fault(&self, fault: Fault) {
        self.set_fault_after(0, fault);
    }

    /// What to do with the `CONNECT`s after the first `spare` ones (counted from the start).
    pub fn set_fault_after(&self, spare: usize, fault: Fault) {
        let mut s = self.settings.lock().unwrap();
        s.fault = Some(fault);
        s.spare = spare;
    }

    /// Every `CONNECT` target so far, in order.
    pub fn targets(&self) -> Vec<String> {
        self.targets.lock().unwrap().clone()
    }
}

fn reset(stream: TcpStream) {
    let _ = socket2::SockRef::from(&stream).set_linger(Some(Duration::ZERO));
    drop(stream);
}

fn serve(mut client: TcpStream, settings: &Mutex<Settings>, targets: &Mutex<Vec<String>>) {
    let head = read_head(&mut client);
    let mut lines = head.lines();
    let request = lines.next().unwrap_or_default().to_string();
    let mut parts = request.split(' ');
    let (method, target) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
    if method != "CONNECT" {
        let _ = client.write_all(b"HTTP/1.1 405 Only CONNECT\r\nContent-Length: 0\r\n\r\n");
        return;
    }
    let count = {
        let mut t = targets.lock().unwrap();
        t.push(target.to_string());
        t.len()
    };
    let (fault, credentials, hosts) = {
        let s = settings.lock().unwrap();
        let fault = s.fault.clone().filter(|_| count > s.spare);
        (fault, s.credentials.clone(), s.hosts.clone())
    };
    if let Some(expected) = credentials {
        let want = format!(
            "basic {}",
            base64::engine::general_purpose::STANDARD.encode(expected)
        );
        let given = head
            .lines()
            .filter_map(|l| l.split_once(':'))
            .find(|(k, _)| k.trim().eq_ignore_ascii_case("proxy-authorization"))
            .map(|(_, v)| v.trim().to_ascii_lowercase());
        if given.as_deref() != Some(want.to_ascii_lowercase().as_str()) {
            let _ = client.write_all(
                b"HTTP/1.1 407 Proxy Authentication Required\r\n\
                  Proxy-Authenticate: Basic realm=\"test\"\r\nContent-Length: 0\r\n\r\n",
            );
            return;
        }
    }
    match fault.unwrap_or(Fault::None) {
        Fault::Status(code) => {
            let _ = write!(client, "HTTP/1.1 {code} Test\r\nContent-Length: 0\r\n\r\n");
            return;
        }
        Fault::Stall => {
            std::thread::sleep(Duration::from_secs(60));
            return;
        }
        Fault::Reset => return reset(client),
        Fault::Close => return,
        Fault::None => {}
    }
    let (host, port) = target.rsplit_once(':').unwrap_or((target, "80"));
    let host = host.trim_start_matches('[').trim_end_matches(']');
    let host = hosts.get(host).cloned().unwrap_or_else(|| host.to_string());
    let upstream = match TcpStream::connect((host.as_str(), port.parse().unwrap_or(80))) {
        Ok(u) => u,
        Err(_) => {
            let _ = client.write_all(b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n");
            return;
        }
    };
    if client
        .write_all(b"HTTP/1.1 200 Connection established\r\n\r\n")
        .is_err()
    {
        return;
    }
    relay(client, upstream);
}

/// Copies both ways until either side ends.
fn relay(a: TcpStream, b: TcpStream) {
    let (mut a_read, mut b_write) = (a.try_clone().unwrap(), b.try_clone().unwrap());
    let forward = std::thread::spawn(move || {
        let _ = std::io::copy(&mut a_read, &mut b_write);
        let _ = b_write.shutdown(Shutdown::Write);
    });
    let (mut b_read, mut a_write) = (b, a);
    let _ = std::io::copy(&mut b_read, &mut a_write);
    let _ = a_write.shutdown(Shutdown::Both);
    let _ = forward.join();
}

/// A real `tinyproxy` (Debian's package) on a free port of 127.0.0.1, with a config of the
/// test's own (any CONNECT port allowed) and its log in a scratch file; stopped on drop.
pub struct Tinyproxy {
    pub port: u16,
    child: std::process::Child,
    dir: std::path::PathBuf,
}

impl Tinyproxy {
    /// Starts it; `None` (after a note) when tinyproxy is not installed, a failure under CI.
    pub fn start() -> Option<Tinyproxy> {
        use std::process::{Command, Stdio};
        let installed = Command::new("tinyproxy")
            .arg("-v")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if !installed {
            let ci = std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "false" && v != "0");
            assert!(!ci, "tinyproxy is required on CI (.ci/run installs it)");
            eprintln!("note: tinyproxy not found; skipping the real-proxy test (apt-get install tinyproxy)");
            return None;
        }
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let dir =
            std::env::temp_dir().join(format!("flowai-tinyproxy-{}-{port}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let conf = dir.join("tinyproxy.conf");
        std::fs::write(
            &conf,
            format!(
                "Port {port}\nListen 127.0.0.1\nTimeout 60\nLogFile \"{}\"\nLogLevel Info\n\
                 MaxClients 100\nAllow 127.0.0.1\n",
                dir.join("tinyproxy.log").display()
            ),
        )
        .unwrap();
        let child = Command::new("tinyproxy")
            .arg("-d")
            .arg("-c")
            .arg(&conf)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("tinyproxy starts");
        let proxy = Tinyproxy { port, child, dir };
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                std::time::Instant::now() < deadline,
                "tinyproxy did not listen"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        Some(proxy)
    }

    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// The `CONNECT` targets in its log, in order.
    pub fn connects(&self) -> Vec<String> {
        std::fs::read_to_string(self.dir.join("tinyproxy.log"))
            .unwrap_or_default()
            .lines()
            .filter_map(|l| l.split_once("): CONNECT "))
            .map(|(_, rest)| rest.split(' ').next().unwrap_or_default().to_string())
            .collect()
    }
}

impl Drop for Tinyproxy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
