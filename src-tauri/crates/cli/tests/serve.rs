//! `shipwatch serve` as a real child process: what it prints (receiver, inspector with its token, data
//! dir), the env vars it honours (SHIPWATCH_DATA_DIR / _LISTEN / _INSPECTOR_LISTEN / _SECRET /
//! _PREVIOUS_SECRET, which tests cannot set in-process), SIGTERM stopping it cleanly with exit 0 after
//! answering the delivery in flight, a port in use making it exit non-zero with what to do, and kill -9
//! under load losing no delivery that was answered 200.
//!
//! Helpers are in this file: it is the only test of the binary (the engine's own tests share
//! `crates/server/tests/common`).

mod blocking_http;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::time::{Duration, Instant};

use blocking_http::{parse, try_http};
use serde_json::Value;

const SECRET: &str = "serve-test-secret-2b7e41";

// ---------------------------------------------------------------------------------------------
// The child process
// ---------------------------------------------------------------------------------------------

struct Serve {
    /// Shared so a load worker can SIGKILL it the instant it sees a 200.
    child: Arc<Mutex<Child>>,
    stdout: Lines,
    stderr: Arc<Mutex<String>>,
    readers: Mutex<Readers>,
    receiver: SocketAddr,
    webhook_path: String,
    inspector: SocketAddr,
    token: String,
    data: PathBuf,
}

fn command(args: &[&str], envs: &[(&str, &str)]) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_shipwatch"));
    c.arg("serve").args(args);
    // Only what the test says: nothing leaks in from the environment running the tests.
    for var in [
        "SHIPWATCH_DATA_DIR",
        "SHIPWATCH_LISTEN",
        "SHIPWATCH_INSPECTOR_LISTEN",
        "SHIPWATCH_SECRET",
        "SHIPWATCH_PREVIOUS_SECRET",
    ] {
        c.env_remove(var);
    }
    c.envs(envs.iter().copied());
    c.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped());
    c
}

type Readers = Vec<std::thread::JoinHandle<()>>;
type Lines = Arc<Mutex<Vec<String>>>;

/// Reads the child's output in the background; join the readers to have all of it after the exit.
fn drain(child: &mut Child) -> (Lines, Arc<Mutex<String>>, mpsc::Receiver<String>, Readers) {
    let out = Arc::new(Mutex::new(Vec::new()));
    let err = Arc::new(Mutex::new(String::new()));
    let (tx, rx) = mpsc::channel();
    let stdout = child.stdout.take().unwrap();
    let o = out.clone();
    let out_reader = std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            o.lock().unwrap().push(line.clone());
            let _ = tx.send(line);
        }
    });
    let mut stderr = child.stderr.take().unwrap();
    let e = err.clone();
    let err_reader = std::thread::spawn(move || {
        let mut buf = [0u8; 4096];
        while let Ok(n) = stderr.read(&mut buf) {
            if n == 0 {
                break;
            }
            e.lock().unwrap().push_str(&String::from_utf8_lossy(&buf[..n]));
        }
    });
    (out, err, rx, vec![out_reader, err_reader])
}

fn split_url(url: &str) -> (SocketAddr, String) {
    let rest = url.strip_prefix("http://").expect("http URL");
    let (host, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    (host.parse().expect("socket address"), path.to_owned())
}

impl Serve {
    /// Starts `shipwatch serve` and waits for "Press Ctrl-C to stop."
    fn start(args: &[&str], envs: &[(&str, &str)]) -> Serve {
        let mut child = command(args, envs).spawn().expect("spawn shipwatch serve");
        let (stdout, stderr, rx, readers) = drain(&mut child);
        let deadline = Instant::now() + Duration::from_secs(30);
        let (mut receiver, mut inspector, mut data) = (None, None, None);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match rx.recv_timeout(left) {
                Ok(line) => {
                    if let Some(u) = line.strip_prefix("receiver: ") {
                        receiver = Some(split_url(u));
                    } else if let Some(u) = line.strip_prefix("inspector: ") {
                        inspector = Some(split_url(u));
                    } else if let Some(d) = line.strip_prefix("data: ") {
                        data = Some(PathBuf::from(d));
                    } else if line.starts_with("Press Ctrl-C") {
                        break;
                    }
                }
                Err(_) => {
                    let _ = child.kill();
                    panic!(
                        "serve did not start: stdout {:?} stderr {}",
                        stdout.lock().unwrap(),
                        stderr.lock().unwrap()
                    );
                }
            }
        }
        let (receiver, webhook_path) = receiver.expect("a receiver line");
        let (inspector, rest) = inspector.expect("an inspector line");
        let token = rest.strip_prefix("/?token=").expect("the inspector URL carries the token").to_owned();
        let child = Arc::new(Mutex::new(child));
        Serve {
            child,
            stdout,
            stderr,
            readers: Mutex::new(readers),
            receiver,
            webhook_path,
            inspector,
            token,
            data: data.expect("a data line"),
        }
    }

    fn sigterm(&self) {
        let pid = self.child.lock().unwrap().id();
        let ok = Command::new("kill").args(["-TERM", &pid.to_string()]).status().unwrap().success();
        assert!(ok, "kill -TERM");
    }

    /// Waits for the exit, taking the lock only to poll (a worker may need it to kill).
    fn wait(&self, timeout: Duration) -> ExitStatus {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = self.child.lock().unwrap().try_wait().unwrap() {
                return status;
            }
            if Instant::now() > deadline {
                let _ = self.child.lock().unwrap().kill();
                panic!("serve did not exit within {timeout:?}");
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    fn running(&self) -> bool {
        self.child.lock().unwrap().try_wait().unwrap().is_none()
    }

    fn output(&self) -> String {
        self.stdout.lock().unwrap().join("\n")
    }

    /// All of stdout, once the process has exited (waits for the readers to see EOF).
    fn final_output(&self) -> String {
        for r in self.readers.lock().unwrap().drain(..) {
            r.join().unwrap();
        }
        self.output()
    }

    fn post_signed(&self, body: &[u8], secret: &str) -> u16 {
        let sig = shipwatch_aftership::sign(secret, body);
        http(self.receiver, "POST", &self.webhook_path, &[("aftership-hmac-sha256", &sig)], body).0
    }

    fn api(&self, path: &str) -> Value {
        let auth = format!("Bearer {}", self.token);
        let (status, body) = http(self.inspector, "GET", path, &[("Authorization", &auth)], b"");
        assert_eq!(status, 200, "GET {path}: {}", String::from_utf8_lossy(&body));
        serde_json::from_slice(&body).unwrap()
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        if let Ok(mut c) = self.child.lock() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

fn wait_with_timeout(child: &mut Child, timeout: Duration) -> ExitStatus {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("the process did not exit within {timeout:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

// ---------------------------------------------------------------------------------------------
// A blocking HTTP/1.1 client
// ---------------------------------------------------------------------------------------------

fn http(addr: SocketAddr, method: &str, path: &str, headers: &[(&str, &str)], body: &[u8]) -> (u16, Vec<u8>) {
    try_http(addr, method, path, headers, body).unwrap_or_else(|e| panic!("{method} {path} on {addr}: {e}"))
}

fn event_id() -> String {
    static N: AtomicU64 = AtomicU64::new(0);
    let n = N.fetch_add(1, Ordering::Relaxed);
    format!("5e7ec11e-0000-4000-8{:03x}-{:012x}", std::process::id() & 0xfff, n)
}

fn sample(event_id: &str, n: u64) -> Vec<u8> {
    let opts = shipwatch_aftership::sample::SampleOptions::new(
        event_id,
        format!("KILL{n:08}"),
        shipwatch_aftership::Tag::InTransit,
        1_700_000_000,
    );
    shipwatch_aftership::sample::sample_body(&opts)
}

fn rows_with_event(db: &Path, event_id: &str) -> i64 {
    let conn = rusqlite::Connection::open(db).unwrap();
    conn.query_row("SELECT count(*) FROM deliveries WHERE event_id = ?1", [event_id], |r| r.get(0)).unwrap()
}

// ---------------------------------------------------------------------------------------------
// Tests
// ---------------------------------------------------------------------------------------------

#[test]
fn serve_prints_the_receiver_inspector_and_data_lines_and_stops_on_sigterm_with_exit_0() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("nested/data");
    let s = Serve::start(
        &[
            "--data-dir",
            data.to_str().unwrap(),
            "--listen",
            "127.0.0.1:0",
            "--inspector-listen",
            "127.0.0.1:0",
        ],
        &[],
    );
    let out = s.output();
    assert!(out.contains(&format!("receiver: http://{}/webhooks/aftership", s.receiver)), "{out}");
    assert!(out.contains(&format!("inspector: http://{}/?token=", s.inspector)), "{out}");
    assert_eq!(s.data, data, "{out}");
    assert!(data.join("shipwatch.db").is_file(), "the data dir is created with the database");
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = |f: &str| std::fs::metadata(data.join(f)).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode("shipwatch.db"), 0o600, "the deliveries are the user's alone");
        assert_eq!(mode("shipwatch.db-wal"), 0o600, "and so is the WAL SQLite made beside it");
        assert_eq!(mode("."), 0o700, "the data dir Shipwatch created too");
    }
    assert_eq!(std::fs::read_to_string(data.join("inspector-token")).unwrap().trim(), s.token);
    assert!(out.contains("warning: no webhook secret set"), "{out}");
    assert!(out.contains("register https://<tunnel host>/webhooks/aftership"), "{out}");
    // It really serves: health, the API with the printed token, the UI.
    assert_eq!(http(s.receiver, "GET", "/healthz", &[], b""), (200, b"ok".to_vec()));
    assert_eq!(s.api("/api/status")["data_dir"], data.display().to_string());
    assert_eq!(http(s.inspector, "GET", "/", &[], b"").0, 200);

    // The UI's live stream is open (it never ends by itself): the stop must not wait for it.
    let mut sse = TcpStream::connect(s.inspector).unwrap();
    write!(
        sse,
        "GET /api/stream HTTP/1.1\r\nHost: {}\r\nAuthorization: Bearer {}\r\n\r\n",
        s.inspector, s.token
    )
    .unwrap();
    let mut head = [0u8; 12];
    sse.read_exact(&mut head).unwrap();
    assert_eq!(&head, b"HTTP/1.1 200");

    let stopping = Instant::now();
    s.sigterm();
    let status = s.wait(Duration::from_secs(20));
    assert_eq!(status.code(), Some(0), "exit status {status:?}; stderr {}", s.stderr.lock().unwrap());
    assert!(stopping.elapsed() < Duration::from_secs(5), "SIGTERM took {:?}", stopping.elapsed());
    let out = s.final_output();
    assert!(out.contains("stopping: finishing in-flight deliveries") && out.ends_with("stopped."), "{out}");
    assert!(TcpStream::connect_timeout(&s.receiver, Duration::from_secs(1)).is_err(), "still listening");
}

#[test]
fn serve_honours_the_shipwatch_environment_variables() {
    let dir = tempfile::tempdir().unwrap();
    let (rp, ip) = (free_port(), free_port());
    let listen = format!("127.0.0.1:{rp}");
    let inspector_listen = format!("127.0.0.1:{ip}");
    let previous = "the-previous-secret-9c0d";
    let s = Serve::start(
        &[],
        &[
            ("SHIPWATCH_DATA_DIR", dir.path().to_str().unwrap()),
            ("SHIPWATCH_LISTEN", &listen),
            ("SHIPWATCH_INSPECTOR_LISTEN", &inspector_listen),
            ("SHIPWATCH_SECRET", SECRET),
            ("SHIPWATCH_PREVIOUS_SECRET", previous),
        ],
    );
    assert_eq!(s.receiver.port(), rp);
    assert_eq!(s.inspector.port(), ip);
    assert_eq!(s.data, dir.path());
    let out = s.output();
    assert!(!out.contains("no webhook secret"), "the env secret counts: {out}");
    assert!(!out.contains(SECRET) && !out.contains(previous), "secrets are never printed: {out}");

    // SHIPWATCH_SECRET verifies; SHIPWATCH_PREVIOUS_SECRET too, recorded as previous; others fail.
    let e1 = event_id();
    assert_eq!(s.post_signed(&sample(&e1, 1), SECRET), 200);
    let e2 = event_id();
    assert_eq!(s.post_signed(&sample(&e2, 2), previous), 200);
    assert_eq!(s.post_signed(&sample(&event_id(), 3), "wrong"), 401);
    let items = s.api(&format!("/api/deliveries?q={e2}"));
    let id = items["items"][0]["id"].as_i64().unwrap();
    let d = s.api(&format!("/api/deliveries/{id}"));
    assert_eq!(d["verdict"], "valid");
    assert_eq!(d["signature"]["secret"], "previous");
    let settings = s.api("/api/settings");
    assert_eq!(settings["secrets_from_env"], true);
    assert_eq!(settings["secret_set"], true);
    let raw = serde_json::to_string(&settings).unwrap();
    assert!(!raw.contains(SECRET) && !raw.contains(previous));
    // Env secrets are not written into the settings file.
    if let Ok(file) = std::fs::read_to_string(dir.path().join("settings.json")) {
        assert!(!file.contains(SECRET) && !file.contains(previous), "{file}");
    }
    s.sigterm();
    assert_eq!(s.wait(Duration::from_secs(20)).code(), Some(0));
    assert!(dir.path().join("shipwatch.db").is_file());
    assert_eq!(rows_with_event(&dir.path().join("shipwatch.db"), &e1), 1);
}

#[test]
fn flags_override_the_environment() {
    let dir = tempfile::tempdir().unwrap();
    let other = tempfile::tempdir().unwrap();
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let taken_addr = taken.local_addr().unwrap().to_string();
    let s = Serve::start(
        &[
            "--data-dir",
            dir.path().to_str().unwrap(),
            "--listen",
            "127.0.0.1:0",
            "--inspector-listen",
            "127.0.0.1:0",
        ],
        &[
            ("SHIPWATCH_DATA_DIR", other.path().to_str().unwrap()),
            ("SHIPWATCH_LISTEN", &taken_addr),
            ("SHIPWATCH_INSPECTOR_LISTEN", &taken_addr),
        ],
    );
    assert_eq!(s.data, dir.path());
    assert_ne!(s.receiver.to_string(), taken_addr);
    assert!(!other.path().join("shipwatch.db").exists());
}

#[test]
fn sigterm_answers_and_commits_the_delivery_in_flight_then_exits_0() {
    let dir = tempfile::tempdir().unwrap();
    let s = Serve::start(
        &[
            "--data-dir",
            dir.path().to_str().unwrap(),
            "--listen",
            "127.0.0.1:0",
            "--inspector-listen",
            "127.0.0.1:0",
        ],
        &[("SHIPWATCH_SECRET", SECRET)],
    );
    let eid = event_id();
    let body = sample(&eid, 7);
    let sig = shipwatch_aftership::sign(SECRET, &body);
    let mut conn = TcpStream::connect(s.receiver).unwrap();
    conn.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    let head = format!(
        "POST {} HTTP/1.1\r\nHost: {}\r\naftership-hmac-sha256: {sig}\r\nContent-Length: {}\r\n\r\n",
        s.webhook_path,
        s.receiver,
        body.len()
    );
    conn.write_all(head.as_bytes()).unwrap();
    conn.write_all(&body[..body.len() / 2]).unwrap();
    std::thread::sleep(Duration::from_millis(200));

    s.sigterm();
    std::thread::sleep(Duration::from_millis(400));
    assert!(s.running(), "serve must wait for the delivery in flight");
    conn.write_all(&body[body.len() / 2..]).unwrap();
    let mut raw = Vec::new();
    conn.read_to_end(&mut raw).unwrap();
    let (status, _) = parse(&raw).expect("an answer");
    assert_eq!(status, 200);
    assert_eq!(s.wait(Duration::from_secs(20)).code(), Some(0));
    assert_eq!(rows_with_event(&dir.path().join("shipwatch.db"), &eid), 1);
}

#[test]
fn serve_exits_non_zero_and_says_what_to_do_when_a_port_is_in_use() {
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    for (flag, hint) in [("--listen", "--listen"), ("--inspector-listen", "--inspector-listen")] {
        let dir = tempfile::tempdir().unwrap();
        let other = if flag == "--listen" { "--inspector-listen" } else { "--listen" };
        let mut child =
            command(&["--data-dir", dir.path().to_str().unwrap(), flag, &addr, other, "127.0.0.1:0"], &[])
                .spawn()
                .unwrap();
        let (stdout, stderr, _rx, readers) = drain(&mut child);
        let status = wait_with_timeout(&mut child, Duration::from_secs(30));
        for r in readers {
            r.join().unwrap();
        }
        let err = stderr.lock().unwrap().clone();
        assert!(!status.success(), "{flag}: exit {status:?}");
        assert!(err.contains(&addr), "{flag}: names the address: {err}");
        assert!(err.contains("Another program"), "{flag}: says why: {err}");
        assert!(err.contains(hint), "{flag}: says which option to change: {err}");
        assert!(
            !stdout.lock().unwrap().iter().any(|l| l.starts_with("Press Ctrl-C")),
            "{flag}: did not claim to run"
        );
    }
    drop(taken);
}

#[test]
fn kill_9_under_load_loses_no_acknowledged_delivery() {
    let dir = tempfile::tempdir().unwrap();
    let s = Serve::start(
        &[
            "--data-dir",
            dir.path().to_str().unwrap(),
            "--listen",
            "127.0.0.1:0",
            "--inspector-listen",
            "127.0.0.1:0",
        ],
        &[("SHIPWATCH_SECRET", SECRET)],
    );
    const KILL_AT: usize = 400;
    let acked = Arc::new(Mutex::new(Vec::<String>::new()));
    let sent = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let mut workers = Vec::new();
    for w in 0..32u64 {
        let (acked, sent, stop, child) = (acked.clone(), sent.clone(), stop.clone(), s.child.clone());
        let (receiver, path) = (s.receiver, s.webhook_path.clone());
        workers.push(std::thread::spawn(move || {
            let mut n = 0u64;
            while !stop.load(Ordering::Relaxed) {
                let eid = event_id();
                let body = sample(&eid, w * 1_000_000 + n);
                n += 1;
                let sig = shipwatch_aftership::sign(SECRET, &body);
                sent.fetch_add(1, Ordering::Relaxed);
                match try_http(receiver, "POST", &path, &[("aftership-hmac-sha256", &sig)], &body) {
                    Ok((200, _)) => {
                        let mut a = acked.lock().unwrap();
                        a.push(eid);
                        // kill -9 the instant a 200 arrives, with the other workers mid-request: a
                        // writer that answered before its commit was durable would lose this one.
                        if a.len() == KILL_AT {
                            child.lock().unwrap().kill().expect("SIGKILL");
                        }
                    }
                    Ok((status, _)) => panic!("unexpected status {status} under load"),
                    Err(_) => break, // the server is gone
                }
            }
        }));
    }
    // The load builds up until a worker kills the server mid-stream.
    let status = s.wait(Duration::from_secs(60));
    stop.store(true, Ordering::Relaxed);
    for w in workers {
        w.join().expect("worker");
    }
    {
        use std::os::unix::process::ExitStatusExt;
        assert_eq!(status.signal(), Some(9), "{status:?}");
    }
    let acked = acked.lock().unwrap().clone();
    let sent = sent.load(Ordering::Relaxed);
    assert!(acked.len() >= 100, "the load ran: {} acknowledged", acked.len());

    // Open the database as the next start would (WAL recovery) and look for every acknowledged event.
    let db = dir.path().join("shipwatch.db");
    let conn = rusqlite::Connection::open(&db).unwrap();
    let ok: String = conn.query_row("PRAGMA integrity_check", [], |r| r.get(0)).unwrap();
    assert_eq!(ok, "ok");
    let rows: i64 = conn.query_row("SELECT count(*) FROM deliveries", [], |r| r.get(0)).unwrap();
    let mut stmt = conn.prepare("SELECT status, verdict FROM deliveries WHERE event_id = ?1").unwrap();
    let mut lost = Vec::new();
    for eid in &acked {
        match stmt.query_row([eid], |r| Ok((r.get::<_, u16>(0)?, r.get::<_, String>(1)?))) {
            Ok((200, v)) if v == "valid" => {}
            other => lost.push((eid.clone(), format!("{other:?}"))),
        }
    }
    println!("kill -9 under load: {sent} sent, {} acknowledged, {rows} rows on disk", acked.len());
    assert!(lost.is_empty(), "{} acknowledged deliveries lost: {:?}", lost.len(), &lost[..lost.len().min(5)]);
    assert!(rows as usize >= acked.len());
    drop(stmt);
    drop(conn);

    // And a restart serves them.
    let s2 = Serve::start(
        &[
            "--data-dir",
            dir.path().to_str().unwrap(),
            "--listen",
            "127.0.0.1:0",
            "--inspector-listen",
            "127.0.0.1:0",
        ],
        &[("SHIPWATCH_SECRET", SECRET)],
    );
    assert_eq!(s2.api("/api/status")["deliveries_total"], rows);
    let probe = &acked[acked.len() / 2];
    assert_eq!(s2.api(&format!("/api/deliveries?q={probe}"))["items"].as_array().unwrap().len(), 1);
}

#[test]
fn bad_addresses_and_data_dirs_are_refused_with_what_to_do() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().to_str().unwrap();
    let run = |args: &[&str], envs: &[(&str, &str)]| {
        let out = command(args, envs).output().unwrap();
        (out.status.code(), String::from_utf8_lossy(&out.stderr).into_owned())
    };
    // Not an address: a usage error that shows the expected form, from a flag or from the env.
    for (args, envs) in [
        (vec!["--data-dir", data, "--listen", "notanaddress"], vec![]),
        (vec!["--data-dir", data], vec![("SHIPWATCH_LISTEN", "bad")]),
        (vec!["--data-dir", data, "--inspector-listen", "localhost"], vec![]),
    ] {
        let (code, err) = run(&args, &envs);
        assert_eq!(code, Some(2), "{args:?} {envs:?}: {err}");
        assert!(err.contains("expected IP:PORT such as 127.0.0.1:8787"), "{args:?}: {err}");
    }
    // The inspector serves the deliveries: it never listens beyond loopback.
    for addr in ["0.0.0.0:0", "[::]:0", "192.0.2.1:0"] {
        let (code, err) =
            run(&["--data-dir", data, "--listen", "127.0.0.1:0", "--inspector-listen", addr], &[]);
        assert_eq!(code, Some(1), "{addr}: {err}");
        assert!(err.contains("is not loopback") && err.contains("ssh -L"), "{addr}: {err}");
    }
    // A file where the data dir should be.
    let file = dir.path().join("a-file");
    std::fs::write(&file, b"x").unwrap();
    let (code, err) = run(&["--data-dir", file.to_str().unwrap()], &[]);
    assert_eq!(code, Some(1), "{err}");
    assert!(err.contains("is a file, not a directory"), "{err}");
}

#[test]
fn secrets_are_never_taken_from_the_command_line() {
    for flag in ["--secret", "--previous-secret", "--webhook-secret"] {
        let out = command(&[flag, "abc123"], &[]).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{flag} is a usage error: {out:?}");
        assert!(String::from_utf8_lossy(&out.stderr).contains("unexpected argument"), "{flag}: {out:?}");
    }
}

#[test]
fn serve_uses_the_receiver_address_saved_in_the_settings_file() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let settings = serde_json::json!({"listen": format!("127.0.0.1:{port}"), "secret": SECRET});
    std::fs::write(dir.path().join("settings.json"), serde_json::to_vec(&settings).unwrap()).unwrap();
    let s =
        Serve::start(&["--data-dir", dir.path().to_str().unwrap(), "--inspector-listen", "127.0.0.1:0"], &[]);
    assert_eq!(s.receiver.port(), port);
    assert!(!s.output().contains("no webhook secret"), "the file's secret counts");
    assert_eq!(s.post_signed(&sample(&event_id(), 9), SECRET), 200);
}
