//! Helpers shared by the engine's integration tests: start a real [`Engine`] on a temp data dir with
//! loopback listeners on ephemeral ports, a tiny raw HTTP/1.1 client (so tests control every byte:
//! header case, chunked bodies, Host, stalls), signing, delivery bodies shaped like AfterShip's sample,
//! and a Server-Sent Events reader.

#![allow(dead_code)]

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use serde_json::{json, Value};
use shipwatch_server::config::Limits;
use shipwatch_server::{Engine, EngineConfig, Settings};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// AfterShip's published sample of a legacy v4 `tracking_update`, byte for byte.
pub const FIXTURE: &[u8] = include_bytes!("../../../../../tests/fixtures/aftership-v4-tracking-update.json");

/// The secret the aftership crate's Node-made signatures use.
pub const SECRET: &str = "shipwatch-test-secret-4f1c9a";
pub const OTHER_SECRET: &str = "another-secret-entirely-77d2e0";
/// `crypto.createHmac('sha256', SECRET).update(FIXTURE, 'utf8').digest('base64')`, computed with Node
/// (see `crates/aftership/tests/signature.rs`).
pub const NODE_FIXTURE_SIG: &str = "482CdaXmJqwcuSwdMUVYQeVjJWj/7uudLBIF/uPEWGc=";
/// The same over `JSON.stringify(JSON.parse(FIXTURE))`: what AfterShip signed when a proxy then
/// pretty-printed the body into FIXTURE.
pub const NODE_FIXTURE_STRINGIFIED_SIG: &str = "hp8icNqo/P1U35aF51FXrrlP7cC8NI5h1J8hKn0zdlk=";
/// The hex digest of the right HMAC (a common sender mistake).
pub const NODE_FIXTURE_HEX_SIG: &str = "e3cd8275a5e626ac1cb92c1d31455841e5632568ffeeeb9d2c1205fee3c45867";

pub const WEBHOOK_PATH: &str = "/webhooks/aftership";

pub fn sign(secret: &str, body: &[u8]) -> String {
    shipwatch_aftership::sign(secret, body)
}

/// A fresh UUID-v4-looking event id, unique within the test process.
pub fn event_id() -> String {
    static N: AtomicU64 = AtomicU64::new(0);
    let n = N.fetch_add(1, Ordering::Relaxed);
    let t = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos() as u64;
    let pid = std::process::id() as u64;
    format!(
        "{:08x}-{:04x}-4{:03x}-8{:03x}-{:012x}",
        (t >> 16) as u32,
        (t & 0xffff) as u16,
        (pid & 0xfff) as u16,
        (n >> 48) as u16 & 0xfff,
        n & 0xffff_ffff_ffff
    )
}

// ---------------------------------------------------------------------------------------------
// Engine
// ---------------------------------------------------------------------------------------------

/// A running engine on a temp data dir.
pub struct TestEngine {
    pub engine: Option<Engine>,
    pub dir: PathBuf,
    /// Keeps the temp dir alive (None when the caller owns the dir).
    _tmp: Option<tempfile::TempDir>,
    pub receiver: SocketAddr,
    pub webhook_path: String,
    pub inspector: SocketAddr,
    pub token: String,
}

pub fn settings_with(secret: Option<&str>, previous: Option<&str>) -> Settings {
    Settings {
        secret: secret.map(str::to_owned),
        previous_secret: previous.map(str::to_owned),
        ..Default::default()
    }
}

/// Starts an engine on a new temp dir with these secrets in its settings file.
pub async fn start(secret: Option<&str>) -> TestEngine {
    start_with(settings_with(secret, None)).await
}

pub async fn start_with(settings: Settings) -> TestEngine {
    let tmp = tempfile::tempdir().expect("temp dir");
    settings.save(tmp.path()).expect("save settings");
    let mut t = start_in(tmp.path(), Limits::default()).await;
    t._tmp = Some(tmp);
    t
}

/// Starts an engine on `dir` (whatever settings file it holds) with both listeners on 127.0.0.1:0.
pub async fn start_in(dir: &Path, limits: Limits) -> TestEngine {
    let config = EngineConfig {
        data_dir: Some(dir.to_owned()),
        listen: Some("127.0.0.1:0".parse().unwrap()),
        inspector_listen: Some("127.0.0.1:0".parse().unwrap()),
        inspector: Some(true),
        limits,
        ..Default::default()
    };
    let engine = Engine::start(config).await.expect("engine starts");
    wrap(engine, dir)
}

/// A started engine on `dir`, with both listeners up.
pub fn wrap(engine: Engine, dir: &Path) -> TestEngine {
    let receiver_url = engine.receiver_url().expect("receiver listening");
    let (receiver, webhook_path) = split_url(&receiver_url);
    let inspector_url = engine.inspector_url().expect("inspector listening");
    let (inspector, rest) = split_url(&inspector_url);
    let token = rest.strip_prefix("/?token=").expect("inspector URL carries the token").to_owned();
    TestEngine {
        engine: Some(engine),
        dir: dir.to_owned(),
        _tmp: None,
        receiver,
        webhook_path,
        inspector,
        token,
    }
}

/// `http://127.0.0.1:1234/path` → (addr, "/path").
pub fn split_url(url: &str) -> (SocketAddr, String) {
    let rest = url.strip_prefix("http://").expect("http URL");
    let (host, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    (host.parse().expect("socket address"), path.to_owned())
}

impl TestEngine {
    pub fn engine(&self) -> &Engine {
        self.engine.as_ref().expect("engine running")
    }

    pub async fn shutdown(&mut self) {
        if let Some(e) = self.engine.take() {
            e.shutdown().await;
        }
    }

    pub fn db_path(&self) -> PathBuf {
        self.dir.join("shipwatch.db")
    }

    /// POSTs `body` to the webhook path with these extra headers.
    pub async fn post(&self, body: &[u8], headers: &[(&str, &str)]) -> Resp {
        let mut h = vec![("Content-Type", "application/json")];
        h.extend_from_slice(headers);
        request(self.receiver, "POST", &self.webhook_path, &h, body).await
    }

    /// POSTs `body` signed with `secret` the way AfterShip does.
    pub async fn post_signed(&self, body: &[u8], secret: &str) -> Resp {
        let sig = sign(secret, body);
        self.post(body, &[("aftership-hmac-sha256", &sig)]).await
    }

    /// An inspector request with the token as a Bearer header and a loopback Host.
    pub async fn api(&self, method: &str, path: &str, body: Option<&Value>) -> Resp {
        let auth = format!("Bearer {}", self.token);
        let bytes = body.map(|b| serde_json::to_vec(b).unwrap()).unwrap_or_default();
        let mut h = vec![("Authorization", auth.as_str())];
        if body.is_some() {
            h.push(("Content-Type", "application/json"));
        }
        request(self.inspector, method, path, &h, &bytes).await
    }

    /// GET on the inspector API, asserting 200, as JSON.
    pub async fn get_json(&self, path: &str) -> Value {
        let r = self.api("GET", path, None).await;
        assert_eq!(r.status, 200, "GET {path}: {}", r.text());
        r.json()
    }

    pub async fn delivery(&self, id: i64) -> Value {
        self.get_json(&format!("/api/deliveries/{id}")).await
    }

    /// The deliveries whose event id contains `event_id`, newest first.
    pub async fn deliveries_for_event(&self, event_id: &str) -> Vec<Value> {
        let page = self.get_json(&format!("/api/deliveries?q={event_id}&limit=500")).await;
        page["items"].as_array().unwrap().clone()
    }

    /// The newest delivery (list item).
    pub async fn latest_delivery(&self) -> Value {
        let page = self.get_json("/api/deliveries?limit=1").await;
        page["items"][0].clone()
    }

    pub async fn delivery_count(&self) -> usize {
        let mut n = 0;
        let mut before: Option<String> = None;
        loop {
            let url = match &before {
                Some(b) => format!("/api/deliveries?limit=500&before={b}"),
                None => "/api/deliveries?limit=500".to_owned(),
            };
            let page = self.get_json(&url).await;
            n += page["items"].as_array().unwrap().len();
            match page["next"].as_str() {
                Some(b) => before = Some(b.to_owned()),
                None => return n,
            }
        }
    }

    pub async fn shipment(&self, id: i64) -> Value {
        self.get_json(&format!("/api/shipments/{id}")).await
    }

    pub async fn shipments(&self) -> Vec<Value> {
        self.get_json("/api/shipments?limit=500").await["items"].as_array().unwrap().clone()
    }
}

// ---------------------------------------------------------------------------------------------
// A raw HTTP/1.1 client
// ---------------------------------------------------------------------------------------------

#[derive(Clone, Debug)]
pub struct Resp {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    /// Everything the server sent, status line and headers included.
    pub raw: Vec<u8>,
}

impl Resp {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {:?}", String::from_utf8_lossy(&self.body)))
    }
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
    pub fn raw_text(&self) -> String {
        String::from_utf8_lossy(&self.raw).into_owned()
    }
}

/// Sends one request (Connection: close) and reads the whole answer. Adds `Host` (the address) unless
/// given, and `Content-Length` unless a `Content-Length` or `Transfer-Encoding` header is given. The
/// body is written while the answer is read, so a server that answers early (413) is seen.
pub async fn request(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Resp {
    let has = |name: &str| headers.iter().any(|(n, _)| n.eq_ignore_ascii_case(name));
    let mut head = format!("{method} {path} HTTP/1.1\r\n");
    if !has("host") {
        head.push_str(&format!("Host: {addr}\r\n"));
    }
    for (n, v) in headers {
        head.push_str(&format!("{n}: {v}\r\n"));
    }
    if !has("content-length") && !has("transfer-encoding") && (method != "GET" || !body.is_empty()) {
        head.push_str(&format!("Content-Length: {}\r\n", body.len()));
    }
    head.push_str("Connection: close\r\n\r\n");
    let mut bytes = head.into_bytes();
    bytes.extend_from_slice(body);
    raw_exchange(addr, &bytes).await
}

/// A POST whose body is sent with `Transfer-Encoding: chunked`, in these chunks.
pub async fn post_chunked(addr: SocketAddr, path: &str, headers: &[(&str, &str)], chunks: &[&[u8]]) -> Resp {
    let mut head = format!("POST {path} HTTP/1.1\r\nHost: {addr}\r\n");
    for (n, v) in headers {
        head.push_str(&format!("{n}: {v}\r\n"));
    }
    head.push_str("Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n");
    let mut bytes = head.into_bytes();
    for c in chunks {
        bytes.extend_from_slice(format!("{:x}\r\n", c.len()).as_bytes());
        bytes.extend_from_slice(c);
        bytes.extend_from_slice(b"\r\n");
    }
    bytes.extend_from_slice(b"0\r\n\r\n");
    raw_exchange(addr, &bytes).await
}

/// Writes `bytes` (concurrently with reading) and parses whatever answer comes back.
pub async fn raw_exchange(addr: SocketAddr, bytes: &[u8]) -> Resp {
    // Boxed: debug-build futures are large, and tests await many of them on the test thread's stack.
    Box::pin(raw_exchange_inner(addr, bytes)).await
}

async fn raw_exchange_inner(addr: SocketAddr, bytes: &[u8]) -> Resp {
    let stream = TcpStream::connect(addr).await.unwrap_or_else(|e| panic!("connect {addr}: {e}"));
    stream.set_nodelay(true).ok();
    let (mut rd, mut wr) = stream.into_split();
    let write = async move {
        // The server may answer and close before reading everything (413): that is fine.
        let _ = wr.write_all(bytes).await;
        let _ = wr.flush().await;
        wr // keep the write half open until the answer is read
    };
    let read = async move {
        let mut buf = Vec::new();
        let mut chunk = vec![0u8; 16 * 1024];
        loop {
            match rd.read(&mut chunk).await {
                Ok(0) => break,
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
                // A reset after the answer arrived (the server closed with unread body bytes).
                Err(_) if !buf.is_empty() => break,
                Err(e) => panic!("reading the answer from {addr}: {e}"),
            }
            if response_complete(&buf) {
                break;
            }
        }
        buf
    };
    let (_, raw) = tokio::time::timeout(Duration::from_secs(60), async { tokio::join!(write, read) })
        .await
        .expect("an answer within 60 s");
    parse_response(raw)
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// True once a full response (headers + Content-Length body, or the last chunk) is in `buf`.
fn response_complete(buf: &[u8]) -> bool {
    let Some(end) = find(buf, b"\r\n\r\n") else { return false };
    let head = String::from_utf8_lossy(&buf[..end]).to_ascii_lowercase();
    let body = &buf[end + 4..];
    if let Some(cl) = head.lines().find_map(|l| l.strip_prefix("content-length:")) {
        return body.len() >= cl.trim().parse::<usize>().unwrap_or(0);
    }
    if head.contains("transfer-encoding: chunked") {
        return body.ends_with(b"0\r\n\r\n");
    }
    false
}

pub fn parse_response(raw: Vec<u8>) -> Resp {
    let end = find(&raw, b"\r\n\r\n")
        .unwrap_or_else(|| panic!("no HTTP answer: {:?}", String::from_utf8_lossy(&raw)));
    let head = String::from_utf8_lossy(&raw[..end]).into_owned();
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap();
    let status: u16 =
        status_line.split_whitespace().nth(1).and_then(|s| s.parse().ok()).expect("status code");
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_owned(), v.trim().to_owned()))
        .collect();
    let mut body = raw[end + 4..].to_vec();
    let chunked = headers
        .iter()
        .any(|(n, v)| n.eq_ignore_ascii_case("transfer-encoding") && v.eq_ignore_ascii_case("chunked"));
    if chunked {
        body = dechunk(&body);
    }
    Resp { status, headers, body, raw }
}

fn dechunk(mut b: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(eol) = find(b, b"\r\n") {
        let size = usize::from_str_radix(String::from_utf8_lossy(&b[..eol]).trim(), 16).unwrap_or(0);
        if size == 0 {
            break;
        }
        let start = eol + 2;
        out.extend_from_slice(&b[start..(start + size).min(b.len())]);
        b = &b[(start + size + 2).min(b.len())..];
    }
    out
}

// ---------------------------------------------------------------------------------------------
// Delivery bodies
// ---------------------------------------------------------------------------------------------

/// The fixture as JSON, changed by `f`, pretty-printed (like the fixture).
pub fn fixture_with(f: impl FnOnce(&mut Value)) -> Vec<u8> {
    let mut v: Value = serde_json::from_slice(FIXTURE).unwrap();
    f(&mut v);
    serde_json::to_vec_pretty(&v).unwrap()
}

/// One checkpoint like the fixture's.
pub fn checkpoint(time: &str, tag: &str, message: &str) -> Value {
    json!({
        "location": "NORTH HAVEN, CT, 06473", "country_iso3": "USA", "state": "CT", "city": "NORTH HAVEN",
        "zip": "06473", "message": message, "coordinates": [], "tag": tag, "subtag": format!("{tag}_001"),
        "subtag_message": tag, "created_at": time, "checkpoint_time": time, "slug": "usps", "raw_tag": "82"
    })
}

/// A tracking update of shipment `tracking_id` to `tag` as of `updated_at` (RFC 3339), with these
/// checkpoints and a fresh event id (returned).
pub fn update(tracking_id: &str, tag: &str, updated_at: &str, checkpoints: Vec<Value>) -> (String, Vec<u8>) {
    let eid = event_id();
    let ts = time::OffsetDateTime::parse(updated_at, &time::format_description::well_known::Rfc3339)
        .map(|t| t.unix_timestamp())
        .unwrap_or(1_610_620_885);
    let body = fixture_with(|v| {
        v["event_id"] = json!(eid);
        v["ts"] = json!(ts);
        let m = &mut v["msg"];
        m["id"] = json!(tracking_id);
        m["tracking_number"] = json!(format!("TN{tracking_id}"));
        m["tag"] = json!(tag);
        m["subtag"] = json!(format!("{tag}_001"));
        m["subtag_message"] = json!(tag);
        m["updated_at"] = json!(updated_at);
        m["last_updated_at"] = json!(updated_at);
        m["checkpoints"] = Value::Array(checkpoints);
    });
    (eid, body)
}

/// A distinct small signed-able delivery (about 2.5 KB) for load tests.
pub fn sample(event_id: &str, tracking_number: &str) -> Vec<u8> {
    let opts = shipwatch_aftership::sample::SampleOptions::new(
        event_id,
        tracking_number,
        shipwatch_aftership::Tag::InTransit,
        1_700_000_000,
    );
    shipwatch_aftership::sample::sample_body(&opts)
}

/// Asserts two byte strings are equal, reporting sizes and the first difference instead of dumping them.
#[track_caller]
pub fn assert_same_bytes(actual: &[u8], expected: &[u8], what: &str) {
    if actual != expected {
        let at =
            actual.iter().zip(expected).position(|(a, b)| a != b).unwrap_or(actual.len().min(expected.len()));
        panic!(
            "{what}: {} bytes stored, {} expected; first difference at byte {at}",
            actual.len(),
            expected.len()
        );
    }
}

pub fn b64decode(s: &str) -> Vec<u8> {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.decode(s).expect("base64")
}

// ---------------------------------------------------------------------------------------------
// Server-Sent Events
// ---------------------------------------------------------------------------------------------

/// A connected `GET /api/stream`.
pub struct Sse {
    stream: TcpStream,
    buf: Vec<u8>,
}

impl Sse {
    pub async fn connect(t: &TestEngine) -> Sse {
        let mut stream = TcpStream::connect(t.inspector).await.unwrap();
        stream.set_nodelay(true).ok();
        let req = format!(
            "GET /api/stream HTTP/1.1\r\nHost: {}\r\nAuthorization: Bearer {}\r\nAccept: text/event-stream\r\n\r\n",
            t.inspector, t.token
        );
        stream.write_all(req.as_bytes()).await.unwrap();
        let mut sse = Sse { stream, buf: Vec::new() };
        // Wait for the response head.
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        while find(&sse.buf, b"\r\n\r\n").is_none() {
            sse.fill(deadline).await.expect("SSE response head");
        }
        let end = find(&sse.buf, b"\r\n\r\n").unwrap();
        let head = String::from_utf8_lossy(&sse.buf[..end]).to_ascii_lowercase();
        assert!(head.starts_with("http/1.1 200"), "SSE answer: {head}");
        assert!(head.contains("text/event-stream"), "SSE content type: {head}");
        sse.buf.drain(..end + 4);
        sse
    }

    async fn fill(&mut self, deadline: tokio::time::Instant) -> Option<()> {
        let mut chunk = vec![0u8; 8192];
        match tokio::time::timeout_at(deadline, self.stream.read(&mut chunk)).await {
            Ok(Ok(n)) if n > 0 => {
                self.buf.extend_from_slice(&chunk[..n]);
                Some(())
            }
            _ => None,
        }
    }

    /// The next event `(name, data as JSON)` within `timeout`. Chunk framing and comment lines are
    /// skipped; events are separated by a blank line.
    pub async fn next_event(&mut self, timeout: Duration) -> Option<(String, Value)> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            if let Some(ev) = self.take_event() {
                return Some(ev);
            }
            self.fill(deadline).await?;
        }
    }

    fn take_event(&mut self) -> Option<(String, Value)> {
        // The body is chunked: strip chunk-size lines lazily by looking only at event lines.
        let text = String::from_utf8_lossy(&self.buf).into_owned();
        let mut consumed = 0;
        let mut name = None;
        let mut data = String::new();
        for line in text.split_inclusive('\n') {
            if !line.ends_with('\n') {
                break;
            }
            consumed += line.len();
            let l = line.trim_end_matches(['\r', '\n']);
            if let Some(n) = l.strip_prefix("event:") {
                name = Some(n.trim().to_owned());
            } else if let Some(d) = l.strip_prefix("data:") {
                data.push_str(d.trim_start());
            } else if l.is_empty() && name.is_some() && !data.is_empty() {
                let ev = (name.take().unwrap(), serde_json::from_str(&data).expect("SSE data is JSON"));
                self.buf.drain(..consumed);
                return Some(ev);
            }
        }
        None
    }
}
