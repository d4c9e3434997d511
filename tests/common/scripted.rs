//! A deliberately misbehaving Flow server for bad-input tests: answers `socket.info` with a
//! WebSocket URL on the same port, then plays a fixed script on each WebSocket connection.
#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::time::Duration;
use tungstenite::Message;

/// One step of a script.
#[derive(Clone)]
pub enum Step {
    /// A text frame.
    Text(String),
    /// A binary frame.
    Binary(Vec<u8>),
    /// Bytes written straight to the TCP stream (bypassing framing).
    Raw(Vec<u8>),
    /// Close the TCP connection without a close frame.
    Drop,
    /// Reset the TCP connection (RST: SO_LINGER with a zero timeout, then close).
    Reset,
    /// Keep the connection open for a while, reading whatever comes.
    Hold(Duration),
}

/// The server; runs until the test process ends.
pub struct Scripted {
    pub base_url: String,
}

fn answer_socket_info(mut stream: TcpStream, port: u16) {
    let mut buf = [0u8; 4096];
    let _ = stream.read(&mut buf);
    let body = format!(r#"{{"status":"ok","payload":{{"endpoint":"ws://127.0.0.1:{port}/ws"}}}}"#);
    let _ = write!(
        stream,
        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
}

fn play(stream: TcpStream, script: Vec<Step>) {
    let Ok(mut ws) = tungstenite::accept(stream) else {
        return;
    };
    for step in script {
        match step {
            Step::Text(t) => {
                let _ = ws.send(Message::text(t));
            }
            Step::Binary(b) => {
                let _ = ws.send(Message::binary(b));
            }
            Step::Raw(bytes) => {
                let _ = ws.get_mut().write_all(&bytes);
            }
            Step::Drop => return,
            Step::Reset => {
                use std::os::fd::AsRawFd;
                let linger = libc::linger {
                    l_onoff: 1,
                    l_linger: 0,
                };
                // SAFETY: setsockopt reads `linger` for the duration of the call only.
                unsafe {
                    libc::setsockopt(
                        ws.get_ref().as_raw_fd(),
                        libc::SOL_SOCKET,
                        libc::SO_LINGER,
                        &linger as *const libc::linger as *const libc::c_void,
                        std::mem::size_of::<libc::linger>() as libc::socklen_t,
                    );
                }
                return;
            }
            Step::Hold(d) => {
                let _ = ws.get_mut().set_read_timeout(Some(d));
                let _ = ws.read();
            }
        }
    }
    std::thread::sleep(Duration::from_secs(30));
}

impl Scripted {
    /// Starts the server; the n-th WebSocket connection plays `scripts[n]` (the last script
    /// repeats for later connections).
    pub fn start(scripts: Vec<Vec<Step>>) -> Scripted {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        std::thread::spawn(move || {
            let mut n = 0;
            for stream in listener.incoming().flatten() {
                let mut head = [0u8; 16];
                let len = stream.peek(&mut head).unwrap_or(0);
                if head[..len].starts_with(b"GET /socket.info") {
                    std::thread::spawn(move || answer_socket_info(stream, port));
                } else {
                    let script = scripts[n.min(scripts.len() - 1)].clone();
                    n += 1;
                    std::thread::spawn(move || play(stream, script));
                }
            }
        });
        Scripted {
            base_url: format!("http://127.0.0.1:{port}"),
        }
    }
}
