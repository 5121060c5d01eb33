//! Helpers for the developer-tool tests: running the real `shipwatch` binary, a real `shipwatch
//! serve` child on loopback, raw HTTP posts, and a capture server that records request bytes.

#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::Duration;

pub const BIN: &str = env!("CARGO_BIN_EXE_shipwatch");

/// Env vars the binary reads, cleared so the developer's own settings never leak into a test.
const SHIPWATCH_VARS: [&str; 7] = [
    "SHIPWATCH_SECRET",
    "SHIPWATCH_PREVIOUS_SECRET",
    "SHIPWATCH_DATA_DIR",
    "SHIPWATCH_LISTEN",
    "SHIPWATCH_INSPECTOR_LISTEN",
    "SHIPWATCH_LOG",
    "RUST_LOG",
];

/// `shipwatch ARGS` with a clean environment plus `env`, no stdin unless given.
pub fn shipwatch(args: &[&str], env: &[(&str, &str)], stdin: Option<&[u8]>) -> Output {
    let mut cmd = Command::new(BIN);
    cmd.args(args);
    for var in SHIPWATCH_VARS {
        cmd.env_remove(var);
    }
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
    cmd.stdin(if stdin.is_some() { Stdio::piped() } else { Stdio::null() });
    let mut child = cmd.spawn().expect("run shipwatch");
    if let Some(input) = stdin {
        let mut pipe = child.stdin.take().unwrap();
        pipe.write_all(input).unwrap();
    }
    child.wait_with_output().expect("shipwatch output")
}

pub fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

pub fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Asserts the exit code, showing both streams when it differs.
#[track_caller]
pub fn assert_exit(out: &Output, code: i32) {
    assert_eq!(
        out.status.code(),
        Some(code),
        "exit status\n--- stdout\n{}\n--- stderr\n{}",
        stdout(out),
        stderr(out)
    );
}

/// A `shipwatch serve` child on loopback ports chosen by the OS, stopped with SIGTERM on drop.
pub struct Serve {
    child: Child,
    pub data_dir: PathBuf,
    pub receiver_url: String,
    pub receiver_addr: SocketAddr,
    log: PathBuf,
}

impl Serve {
    pub fn start(data_dir: &Path, secret: Option<&str>) -> Serve {
        std::fs::create_dir_all(data_dir).unwrap();
        let log = data_dir.with_extension("serve.log");
        let mut cmd = Command::new(BIN);
        cmd.args(["serve", "--data-dir"]).arg(data_dir).args([
            "--listen",
            "127.0.0.1:0",
            "--inspector-listen",
            "127.0.0.1:0",
        ]);
        for var in SHIPWATCH_VARS {
            cmd.env_remove(var);
        }
        if let Some(secret) = secret {
            cmd.env("SHIPWATCH_SECRET", secret);
        }
        cmd.stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::from(std::fs::File::create(&log).unwrap()));
        let mut child = cmd.spawn().expect("start shipwatch serve");
        let out = child.stdout.take().unwrap();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines().map_while(Result::ok) {
                if let Some(url) = line.strip_prefix("receiver: ") {
                    let _ = tx.send(url.to_owned());
                }
            }
        });
        let receiver_url = match rx.recv_timeout(Duration::from_secs(30)) {
            Ok(url) => url,
            Err(_) => {
                let _ = child.kill();
                panic!(
                    "serve printed no receiver line; log:\n{}",
                    std::fs::read_to_string(&log).unwrap_or_default()
                );
            }
        };
        let hostport = receiver_url.trim_start_matches("http://").split('/').next().unwrap();
        let receiver_addr: SocketAddr = hostport.parse().unwrap();
        Serve { child, data_dir: data_dir.to_owned(), receiver_url, receiver_addr, log }
    }

    pub fn data_dir_str(&self) -> &str {
        self.data_dir.to_str().unwrap()
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = Command::new("kill").arg("-TERM").arg(self.child.id().to_string()).status();
        for _ in 0..100 {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A request as it arrived, byte for byte.
#[derive(Debug)]
pub struct Captured {
    pub raw: Vec<u8>,
    pub request_line: String,
    /// In the order received, names as sent.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Captured {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    pub fn header_count(&self, name: &str) -> usize {
        self.headers.iter().filter(|(n, _)| n.eq_ignore_ascii_case(name)).count()
    }
}

/// A one-shot HTTP server on loopback that records the raw bytes of the first request and answers
/// `202 Accepted` with `x-capture: yes` and the body `captured`.
pub struct CaptureServer {
    pub url: String,
    rx: mpsc::Receiver<Captured>,
}

impl CaptureServer {
    pub fn start(path: &str) -> CaptureServer {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let (mut stream, _) = listener.accept().unwrap();
            stream.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
            let captured = read_request(&mut stream);
            let body = b"captured";
            let head = format!(
                "HTTP/1.1 202 Accepted\r\nContent-Type: text/plain\r\nX-Capture: yes\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                body.len()
            );
            stream.write_all(head.as_bytes()).unwrap();
            stream.write_all(body).unwrap();
            let _ = tx.send(captured);
        });
        CaptureServer { url: format!("http://{addr}{path}"), rx }
    }

    pub fn take(&self) -> Captured {
        self.rx.recv_timeout(Duration::from_secs(30)).expect("a request reached the capture server")
    }
}

/// Reads one HTTP/1.1 request with a Content-Length body.
fn read_request(stream: &mut TcpStream) -> Captured {
    let mut raw = Vec::new();
    let mut buf = [0u8; 8192];
    let head_end = loop {
        let n = stream.read(&mut buf).unwrap();
        assert!(n > 0, "connection closed before the headers ended");
        raw.extend_from_slice(&buf[..n]);
        if let Some(i) = raw.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
    };
    let head = String::from_utf8(raw[..head_end - 4].to_vec()).expect("ASCII head");
    let mut lines = head.split("\r\n");
    let request_line = lines.next().unwrap().to_owned();
    let headers: Vec<(String, String)> = lines
        .map(|l| {
            let (n, v) = l.split_once(':').expect("header line");
            (n.to_owned(), v.trim().to_owned())
        })
        .collect();
    let length: usize = headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case("content-length"))
        .map(|(_, v)| v.parse().unwrap())
        .unwrap_or(0);
    while raw.len() < head_end + length {
        let n = stream.read(&mut buf).unwrap();
        assert!(n > 0, "connection closed before the body ended");
        raw.extend_from_slice(&buf[..n]);
    }
    let body = raw[head_end..head_end + length].to_vec();
    Captured { raw, request_line, headers, body }
}

/// POSTs `body` with exactly these header lines to `addr` and returns the status code.
pub fn post_raw(addr: SocketAddr, path: &str, headers: &[(&str, &str)], body: &[u8]) -> u16 {
    let mut stream = TcpStream::connect(addr).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    let mut head = format!("POST {path} HTTP/1.1\r\nHost: {addr}\r\n");
    for (n, v) in headers {
        head.push_str(&format!("{n}: {v}\r\n"));
    }
    head.push_str(&format!("Content-Length: {}\r\nConnection: close\r\n\r\n", body.len()));
    stream.write_all(head.as_bytes()).unwrap();
    stream.write_all(body).unwrap();
    let mut response = Vec::new();
    stream.read_to_end(&mut response).unwrap();
    let text = String::from_utf8_lossy(&response);
    text.split_whitespace().nth(1).unwrap().parse().unwrap()
}

/// Parses NDJSON output.
pub fn ndjson(text: &str) -> Vec<serde_json::Value> {
    text.lines().filter(|l| !l.is_empty()).map(|l| serde_json::from_str(l).expect("a JSON line")).collect()
}
