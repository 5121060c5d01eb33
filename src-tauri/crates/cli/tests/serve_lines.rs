//! `shipwatch serve` talks: one line per delivery (time, verdict, HTTP status, event, tracking
//! number, tag, the diagnosis's short label, the id), coloured on a terminal only (a real pty through
//! util-linux `script`; `NO_COLOR` turns it off), plain into a pipe; `--json` one object per delivery
//! on stdout (the banner on stderr); `--quiet` none. Over the real binary, real HTTP on loopback, a
//! real data dir; a valid, a wrong-secret and a hex-signature delivery each.

mod blocking_http;

use std::io::{BufRead, BufReader, Read};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use base64::Engine as _;
use blocking_http::try_http;
use serde_json::Value;

const SECRET: &str = "serve-lines-secret-5d1c";

/// How long anything may take before the test gives up (a failure, never a measurement).
const PATIENCE: Duration = Duration::from_secs(60);

struct Serve {
    child: Child,
    /// Every line of stdout (of the pty, under `script`), as it comes.
    lines: mpsc::Receiver<String>,
    stderr: std::sync::Arc<std::sync::Mutex<String>>,
    receiver: SocketAddr,
    path: String,
    inspector: Option<(SocketAddr, String)>,
}

fn strip_ansi(s: &str) -> String {
    let mut out = String::new();
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\x1b' {
            if chars.peek() == Some(&'[') {
                chars.next();
                for c in chars.by_ref() {
                    if c.is_ascii_alphabetic() {
                        break;
                    }
                }
            }
            continue;
        }
        out.push(c);
    }
    out
}

impl Serve {
    /// Starts `shipwatch serve ARGS` on free ports in `data`, through a pty when `pty`, and waits
    /// for its receiver's address (on stdout, or on stderr with --json).
    fn start(data: &Path, args: &[&str], envs: &[(&str, &str)], pty: bool) -> Serve {
        let bin = env!("CARGO_BIN_EXE_shipwatch");
        let mut serve_args: Vec<String> = vec![
            "serve".into(),
            "--data-dir".into(),
            data.display().to_string(),
            "--listen".into(),
            "127.0.0.1:0".into(),
            "--inspector-listen".into(),
            "127.0.0.1:0".into(),
        ];
        serve_args.extend(args.iter().map(|s| s.to_string()));
        let mut c = if pty {
            // util-linux script: the child's stdout is a terminal; what it writes comes out here.
            let line = std::iter::once(bin.to_owned()).chain(serve_args).collect::<Vec<_>>().join(" ");
            let mut c = Command::new("script");
            c.args(["--quiet", "--flush", "--return", "--command", &line, "/dev/null"]);
            c
        } else {
            let mut c = Command::new(bin);
            c.args(&serve_args);
            c
        };
        for var in [
            "SHIPWATCH_DATA_DIR",
            "SHIPWATCH_LISTEN",
            "SHIPWATCH_INSPECTOR_LISTEN",
            "SHIPWATCH_SECRET",
            "SHIPWATCH_PREVIOUS_SECRET",
            "SHIPWATCH_LOG",
            "RUST_LOG",
            "NO_COLOR",
            "CLICOLOR",
            "CLICOLOR_FORCE",
            "TERM",
        ] {
            c.env_remove(var);
        }
        c.env("SHIPWATCH_SECRET", SECRET).env("TERM", "xterm-256color");
        c.envs(envs.iter().copied());
        c.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped());
        let mut child = c.spawn().expect("spawn shipwatch serve");
        let (tx, lines) = mpsc::channel();
        let stdout = child.stdout.take().unwrap();
        let out_tx = tx.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                let _ = out_tx.send(line.trim_end_matches('\r').to_owned());
            }
        });
        // With --json the banner is on stderr: its receiver line is wanted from there too.
        let stderr = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
        let (err_tx, err_lines) = mpsc::channel::<String>();
        let mut err_pipe = child.stderr.take().unwrap();
        let keep = stderr.clone();
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            let mut pending = String::new();
            while let Ok(n) = err_pipe.read(&mut buf) {
                if n == 0 {
                    break;
                }
                let text = String::from_utf8_lossy(&buf[..n]).into_owned();
                keep.lock().unwrap().push_str(&text);
                pending.push_str(&text);
                while let Some(at) = pending.find('\n') {
                    let line: String = pending.drain(..=at).collect();
                    let _ = err_tx.send(line.trim_end().to_owned());
                }
            }
        });
        let deadline = Instant::now() + PATIENCE;
        let (mut url, mut inspector) = (None, None);
        let url = loop {
            let line =
                lines.recv_timeout(Duration::from_millis(50)).ok().or_else(|| err_lines.try_recv().ok());
            let line = line.as_deref().map(strip_ansi).unwrap_or_default();
            if let Some(rest) = line.strip_prefix("inspector: http://") {
                let (host, rest) = rest.split_at(rest.find('/').unwrap());
                let token = rest.strip_prefix("/?token=").unwrap().to_owned();
                inspector = Some((host.parse::<SocketAddr>().unwrap(), token));
            }
            if let Some(rest) = line.strip_prefix("receiver: ") {
                url = Some(rest.to_owned());
            }
            if let (Some(url), Some(_)) = (&url, &inspector) {
                break url.clone();
            }
            assert!(Instant::now() < deadline, "serve did not start: {}", stderr.lock().unwrap());
        };
        let rest = url.strip_prefix("http://").unwrap();
        let (host, path) = rest.split_at(rest.find('/').unwrap());
        let mut s =
            Serve { child, lines, stderr, receiver: host.parse().unwrap(), path: path.to_owned(), inspector };
        // The banner ends with "Press Ctrl-C to stop." (on stderr with --json: not waited for).
        if !args.contains(&"--json") {
            s.next_line_containing("Press Ctrl-C");
        }
        s
    }

    fn next_line(&mut self) -> String {
        self.lines
            .recv_timeout(PATIENCE)
            .unwrap_or_else(|_| panic!("no line; stderr: {}", self.stderr.lock().unwrap()))
    }

    fn next_line_containing(&mut self, needle: &str) -> String {
        loop {
            let line = self.next_line();
            if strip_ansi(&line).contains(needle) {
                return line;
            }
        }
    }

    fn post(&self, body: &[u8], signature: &str) -> u16 {
        try_http(self.receiver, "POST", &self.path, &[("aftership-hmac-sha256", signature)], body).unwrap().0
    }

    /// A valid, a wrong-secret and a hex-signature delivery, in that order, answered 200, 401, 401.
    fn post_three(&self) {
        let (valid, wrong, hexed) = (sample(1), sample(2), sample(3));
        assert_eq!(self.post(&valid, &shipwatch_aftership::sign(SECRET, &valid)), 200);
        assert_eq!(self.post(&wrong, &shipwatch_aftership::sign("not-the-secret", &wrong)), 401);
        assert_eq!(self.post(&hexed, &hex_signature(&hexed)), 401);
    }

    /// SIGTERM (to serve, or to `script` which passes the hang-up on), then all that is left.
    fn stop(mut self) -> (Vec<String>, String) {
        let _ = Command::new("kill").args(["-TERM", &self.child.id().to_string()]).status();
        let deadline = Instant::now() + PATIENCE;
        while self.child.try_wait().unwrap().is_none() {
            assert!(Instant::now() < deadline, "serve did not stop");
            std::thread::sleep(Duration::from_millis(20));
        }
        let rest: Vec<String> = self.lines.iter().collect();
        let stderr = self.stderr.lock().unwrap().clone();
        (rest, stderr)
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn tracking_number(n: u64) -> String {
    format!("1Z999AA1012345{n:04}")
}

fn sample(n: u64) -> Vec<u8> {
    let opts = shipwatch_aftership::sample::SampleOptions::new(
        format!("5e7ec11e-0000-4000-8000-{n:012x}"),
        tracking_number(n),
        shipwatch_aftership::Tag::InTransit,
        1_700_000_000 + n as i64,
    );
    shipwatch_aftership::sample::sample_body(&opts)
}

/// The right HMAC, written in hex instead of base64 (a common mistake of relays and scripts).
fn hex_signature(body: &[u8]) -> String {
    let raw =
        base64::engine::general_purpose::STANDARD.decode(shipwatch_aftership::sign(SECRET, body)).unwrap();
    raw.iter().map(|b| format!("{b:02x}")).collect()
}

/// Checks the three lines (ANSI stripped): time, status, verdict, event, tracking number, tag,
/// label, id, in that order.
fn assert_three_lines(lines: &[String]) {
    let expected = [
        ("200 valid", 1, "current secret", "#1"),
        ("401 invalid", 2, "wrong secret", "#2"),
        ("401 malformed", 3, "hex signature", "#3"),
    ];
    assert_eq!(lines.len(), 3, "{lines:#?}");
    for (line, (verdict, n, label, id)) in lines.iter().zip(expected) {
        let plain = strip_ansi(line);
        let words: Vec<&str> = plain.split_whitespace().collect();
        let time = words[0];
        assert!(
            time.len() == 8
                && time.chars().enumerate().all(|(i, c)| if i % 3 == 2 {
                    c == ':'
                } else {
                    c.is_ascii_digit()
                }),
            "a local HH:MM:SS first: {plain:?}"
        );
        let at = |needle: &str| plain.find(needle).unwrap_or_else(|| panic!("{needle:?} in {plain:?}"));
        let order =
            [at(verdict), at("tracking_update"), at(&tracking_number(n)), at("InTransit"), at(label), at(id)];
        assert!(order.windows(2).all(|w| w[0] < w[1]), "columns in order: {plain:?}");
        assert!(plain.ends_with(id), "{plain:?}");
    }
}

fn no_secret_in(text: &str, body_of: &[u64]) {
    assert!(!text.contains(SECRET), "the secret leaked: {text}");
    for n in body_of {
        let expected = shipwatch_aftership::sign(SECRET, &sample(*n));
        assert!(!text.contains(&expected), "an expected signature leaked: {text}");
    }
}

#[test]
fn a_pipe_gets_one_plain_line_per_delivery_with_its_reason() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = Serve::start(dir.path(), &[], &[], false);
    s.post_three();
    let lines = vec![s.next_line(), s.next_line(), s.next_line()];
    assert!(lines.iter().all(|l| !l.contains('\x1b')), "no colour into a pipe: {lines:?}");
    assert_three_lines(&lines);
    let (rest, stderr) = s.stop();
    assert!(rest.iter().any(|l| l == "stopped."), "{rest:?}");
    no_secret_in(&format!("{}\n{}\n{stderr}", lines.join("\n"), rest.join("\n")), &[2]);

    // The same codes in `shipwatch export`: a CSV column, a JSON field, and a filter.
    let export = |args: &[&str]| {
        let out = Command::new(env!("CARGO_BIN_EXE_shipwatch"))
            .arg("export")
            .arg("deliveries")
            .args(args)
            .arg("--data-dir")
            .arg(dir.path())
            .env_remove("SHIPWATCH_DATA_DIR")
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8(out.stdout).unwrap()
    };
    let csv = export(&["--format", "csv"]);
    let mut rows = csv.lines();
    let header: Vec<&str> = rows.next().unwrap().split(',').collect();
    let column = header.iter().position(|c| *c == "diagnosis").expect("a diagnosis column");
    let codes: Vec<String> = rows.map(|r| r.split(',').nth(column).unwrap().to_owned()).collect();
    assert_eq!(codes, ["hex_signature", "wrong_secret", "valid_current"], "{csv}");
    let wrong = export(&["--diagnosis", "wrong_secret"]);
    let objects: Vec<Value> = wrong.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(objects.len(), 1, "{wrong}");
    assert_eq!(
        (objects[0]["id"].as_i64(), objects[0]["diagnosis"].as_str()),
        (Some(2), Some("wrong_secret"))
    );
    let unknown = Command::new(env!("CARGO_BIN_EXE_shipwatch"))
        .args(["export", "deliveries", "--diagnosis", "wrong-secret", "--data-dir"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(!unknown.status.success());
    let said = String::from_utf8_lossy(&unknown.stderr);
    assert!(said.contains("unknown diagnosis") && said.contains("wrong_secret"), "{said}");
}

#[test]
fn a_terminal_gets_coloured_lines_unless_no_color_is_set() {
    for (envs, coloured) in [(&[][..], true), (&[("NO_COLOR", "1")][..], false)] {
        let dir = tempfile::tempdir().unwrap();
        let mut s = Serve::start(dir.path(), &[], envs, true);
        s.post_three();
        let lines =
            vec![s.next_line_containing("#1"), s.next_line_containing("#2"), s.next_line_containing("#3")];
        assert_eq!(lines.iter().all(|l| l.contains("\x1b[")), coloured, "{envs:?}: {lines:?}");
        if coloured {
            // Failures in red (31), the valid one in green (32).
            assert!(
                lines[0].contains("\x1b[32m") && lines[1].contains("31m") && lines[2].contains("31m"),
                "{lines:?}"
            );
        }
        assert_three_lines(&lines);
        s.stop();
    }
}

#[test]
fn json_prints_one_object_per_delivery_and_the_banner_on_stderr() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = Serve::start(dir.path(), &["--json"], &[], false);
    s.post_three();
    let objects: Vec<Value> = (0..3)
        .map(|_| {
            let line = s.next_line();
            serde_json::from_str(&line).unwrap_or_else(|e| panic!("not JSON ({e}): {line:?}"))
        })
        .collect();
    let expected = [
        (1, "valid", 200, "valid_current", "current secret"),
        (2, "invalid", 401, "wrong_secret", "wrong secret"),
        (3, "malformed", 401, "hex_signature", "hex signature"),
    ];
    for (o, (id, verdict, status, code, label)) in objects.iter().zip(expected) {
        assert_eq!(o["type"], "delivery", "{o}");
        assert_eq!(o["id"], id, "{o}");
        assert_eq!(o["verdict"], verdict, "{o}");
        assert_eq!(o["status"], status, "{o}");
        assert_eq!(o["diagnosis"], code, "{o}");
        assert_eq!(o["diagnosis_label"], label, "{o}");
        assert_eq!(o["event"], "tracking_update", "{o}");
        assert_eq!(o["tag"], "InTransit", "{o}");
        assert_eq!(o["tracking_number"], tracking_number(id), "{o}");
        assert!(o.get("expected").is_none() && o.get("secret").is_none(), "{o}");
    }
    let (rest, stderr) = s.stop();
    // stdout holds JSON lines only: the banner and the stop lines went to stderr.
    assert!(rest.iter().all(|l| serde_json::from_str::<Value>(l).is_ok()), "{rest:?}");
    assert!(stderr.contains("Press Ctrl-C to stop.") && stderr.contains("stopped."), "{stderr}");
    no_secret_in(
        &format!("{}\n{stderr}", objects.iter().map(Value::to_string).collect::<Vec<_>>().join("\n")),
        &[2],
    );
}

#[test]
fn quiet_prints_no_line_per_delivery() {
    let dir = tempfile::tempdir().unwrap();
    let s = Serve::start(dir.path(), &["--quiet"], &[], false);
    s.post_three();
    // All three are stored (answered after the commit); stopping prints what was left to print.
    let (rest, _) = s.stop();
    assert_eq!(rest, ["stopping: finishing in-flight deliveries…", "stopped."], "{rest:?}");
}

/// A forward target on loopback that answers each request 200 once it has read it whole.
fn forward_target() -> SocketAddr {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { return };
            let mut got = Vec::new();
            let mut buf = [0u8; 8192];
            while let Ok(n) = stream.read(&mut buf) {
                if n == 0 {
                    break;
                }
                got.extend_from_slice(&buf[..n]);
                if let Some(end) = got.windows(4).position(|w| w == b"\r\n\r\n") {
                    let head = String::from_utf8_lossy(&got[..end]).to_ascii_lowercase();
                    let length = head
                        .lines()
                        .find_map(|l| {
                            l.strip_prefix("content-length:").map(|v| v.trim().parse().unwrap_or(0))
                        })
                        .unwrap_or(0usize);
                    if got.len() >= end + 4 + length {
                        break;
                    }
                }
            }
            use std::io::Write as _;
            let _ = stream.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
        }
    });
    addr
}

#[test]
fn forward_mode_adds_a_line_per_forward_attempt() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = Serve::start(dir.path(), &[], &[], false);
    let target = forward_target();
    let (inspector, token) = s.inspector.clone().expect("an inspector line");
    let settings = format!(r#"{{"forward_url":"http://{target}/hook"}}"#);
    let auth = format!("Bearer {token}");
    let (status, answer) = try_http(
        inspector,
        "PUT",
        "/api/settings",
        &[("Authorization", &auth), ("Content-Type", "application/json")],
        settings.as_bytes(),
    )
    .unwrap();
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&answer));
    let body = sample(1);
    assert_eq!(s.post(&body, &shipwatch_aftership::sign(SECRET, &body)), 200);
    let delivery = strip_ansi(&s.next_line_containing("#1"));
    assert!(delivery.contains("200 valid") && delivery.contains("current secret"), "{delivery}");
    let forward = strip_ansi(&s.next_line_containing("↳"));
    assert!(forward.contains("↳ #1 forwarded: 200"), "{forward}");
    assert!(forward.ends_with(&format!("→ http://{target}/hook")), "{forward}");
    s.stop();
}
