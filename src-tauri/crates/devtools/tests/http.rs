//! The sender against real sockets on loopback: what the target receives, what we read back, and
//! which hop each failure is blamed on.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::mpsc;
use std::thread;
use std::time::Duration;

use shipwatch_aftership::{verify_signature, DeliveryVerdict, SecretSlot, Secrets, Tag};
use shipwatch_devtools::events::{self, Shape, TestEvent};
use shipwatch_devtools::{Hop, OutgoingRequest, SendError, SendOptions, Sender};

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap()
}

fn sender(timeout_ms: u64) -> Sender {
    Sender::new(SendOptions {
        timeout: Duration::from_millis(timeout_ms),
        connect_timeout: Duration::from_secs(5),
        max_response_body: 1024 * 1024,
    })
    .unwrap()
}

fn post(url: &str, headers: &[(&str, &str)], body: &[u8]) -> OutgoingRequest {
    OutgoingRequest {
        method: "POST".into(),
        url: url.into(),
        headers: headers.iter().map(|(n, v)| (n.to_string(), v.to_string())).collect(),
        body: body.to_vec(),
    }
}

/// A one-connection server: reads one request (head + Content-Length body), hands its raw bytes
/// over, and writes `answer`.
fn one_shot(answer: Vec<u8>) -> (SocketAddr, mpsc::Receiver<Vec<u8>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        let (mut stream, _) = listener.accept().unwrap();
        let raw = read_request(&mut stream);
        let _ = tx.send(raw);
        let _ = stream.write_all(&answer);
    });
    (addr, rx)
}

fn read_request(stream: &mut TcpStream) -> Vec<u8> {
    stream.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut raw = Vec::new();
    let mut buf = [0u8; 8192];
    loop {
        let n = stream.read(&mut buf).unwrap();
        if n == 0 {
            return raw;
        }
        raw.extend_from_slice(&buf[..n]);
        if let Some(end) = raw.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&raw[..end]).to_ascii_lowercase();
            let length: usize = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length:").map(|v| v.trim().parse().unwrap()))
                .unwrap_or(0);
            while raw.len() < end + 4 + length {
                let n = stream.read(&mut buf).unwrap();
                assert!(n > 0);
                raw.extend_from_slice(&buf[..n]);
            }
            return raw;
        }
    }
}

fn header_lines(raw: &[u8]) -> Vec<String> {
    let end = raw.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
    String::from_utf8(raw[..end].to_vec()).unwrap().split("\r\n").skip(1).map(str::to_owned).collect()
}

#[test]
fn sends_headers_in_order_and_the_body_byte_for_byte() {
    let answer = b"HTTP/1.1 201 Created\r\nX-B: 2\r\nX-A: 1\r\nContent-Length: 5\r\n\r\nhello".to_vec();
    let (addr, rx) = one_shot(answer);
    let body: &[u8] = b"{ \"x\" :\t1 }\r\n\xff";
    let headers = [
        ("Content-Type", "application/json"),
        ("Aftership-Hmac-Sha256", "sig="),
        ("X-First", "1"),
        ("user-agent", "AfterShipTrackingWebhook/4.0.0"),
        ("X-Last", "z"),
    ];
    let response = runtime()
        .block_on(sender(10_000).send(&post(&format!("http://{addr}/hook?a=1"), &headers, body)))
        .unwrap();
    let raw = rx.recv().unwrap();
    assert!(raw.starts_with(b"POST /hook?a=1 HTTP/1.1\r\n"));
    assert!(raw.ends_with(body));
    let lines = header_lines(&raw);
    let names: Vec<String> =
        lines.iter().map(|l| l.split(':').next().unwrap().to_ascii_lowercase()).collect();
    let ours: Vec<&str> = names
        .iter()
        .map(String::as_str)
        .filter(|n| !["host", "content-length", "accept"].contains(n))
        .collect();
    assert_eq!(
        ours,
        ["content-type", "aftership-hmac-sha256", "x-first", "user-agent", "x-last"],
        "{lines:?}"
    );
    assert!(lines.contains(&"aftership-hmac-sha256: sig=".to_string()), "{lines:?}");
    assert_eq!(names.iter().filter(|n| *n == "content-length").count(), 1);
    assert!(lines.contains(&format!("host: {addr}")), "{lines:?}");

    assert_eq!(response.status, 201);
    assert_eq!(response.reason.as_deref(), Some("Created"));
    assert_eq!(response.http_version, "HTTP/1.1");
    assert_eq!(response.body, b"hello");
    assert!(!response.body_truncated);
    let names: Vec<&str> = response.headers.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, ["x-b", "x-a", "content-length"]);
    assert_eq!(response.remote_addr, Some(addr));
    assert!(response.is_success() && response.error().is_none());
}

#[test]
fn the_answer_body_is_capped() {
    let big = vec![b'a'; 3 * 1024 * 1024];
    let mut answer = format!("HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n", big.len()).into_bytes();
    answer.extend_from_slice(&big);
    let (addr, _rx) = one_shot(answer);
    let response =
        runtime().block_on(sender(10_000).send(&post(&format!("http://{addr}/"), &[], b"{}"))).unwrap();
    assert_eq!(response.body.len(), 1024 * 1024);
    assert!(response.body_truncated);
}

#[test]
fn redirects_are_not_followed() {
    let answer =
        b"HTTP/1.1 308 Permanent Redirect\r\nLocation: https://example.com/new\r\nContent-Length: 0\r\n\r\n"
            .to_vec();
    let (addr, _rx) = one_shot(answer);
    let response =
        runtime().block_on(sender(10_000).send(&post(&format!("http://{addr}/"), &[], b"{}"))).unwrap();
    assert_eq!(response.status, 308);
    let err = response.error().unwrap();
    assert_eq!(err.hop(), Hop::Http);
    assert!(err.to_string().contains("redirects to https://example.com/new"), "{err}");
}

#[test]
fn refused_connections_blame_the_connect_hop() {
    let addr = {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap()
    };
    let err =
        runtime().block_on(sender(5_000).send(&post(&format!("http://{addr}/x"), &[], b"{}"))).unwrap_err();
    assert_eq!(err, SendError::ConnectionRefused { addr: addr.to_string() });
    assert_eq!(err.hop(), Hop::Connect);
    assert!(err.to_string().contains("nothing listens on that port"), "{err}");
}

#[test]
fn unresolvable_names_blame_dns() {
    let err = runtime()
        .block_on(sender(5_000).send(&post("https://no-such-tunnel.invalid/webhooks/aftership", &[], b"{}")))
        .unwrap_err();
    assert_eq!(err.hop(), Hop::Dns);
    assert_eq!(err.kind(), "dns");
    assert!(err.to_string().contains("no-such-tunnel.invalid"), "{err}");
}

#[test]
fn https_to_a_plain_http_port_blames_tls_and_says_use_http() {
    let answer = b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".to_vec();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    thread::spawn(move || {
        let (mut stream, _) = listener.accept().unwrap();
        let mut buf = [0u8; 1024];
        let _ = stream.read(&mut buf); // the ClientHello
        let _ = stream.write_all(&answer);
    });
    let err =
        runtime().block_on(sender(5_000).send(&post(&format!("https://{addr}/x"), &[], b"{}"))).unwrap_err();
    assert_eq!(err.hop(), Hop::Tls, "{err}");
    assert!(err.to_string().contains("use http://"), "{err}");
}

#[test]
fn a_silent_target_times_out_on_the_response_hop() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let (done_tx, done_rx) = mpsc::channel::<()>();
    thread::spawn(move || {
        let (mut stream, _) = listener.accept().unwrap();
        let _ = read_request(&mut stream);
        let _ = done_rx.recv_timeout(Duration::from_secs(10)); // hold the connection, say nothing
    });
    let err =
        runtime().block_on(sender(400).send(&post(&format!("http://{addr}/x"), &[], b"{}"))).unwrap_err();
    drop(done_tx);
    assert!(matches!(err, SendError::ResponseTimeout { timeout_ms: 400, .. }), "{err}");
    assert_eq!(err.hop(), Hop::Response);
}

#[test]
fn a_target_that_hangs_up_or_speaks_no_http_blames_the_response_hop() {
    for answer in [Vec::new(), b"SSH-2.0-OpenSSH_9.2\r\n".to_vec()] {
        let (addr, _rx) = one_shot(answer);
        let err = runtime()
            .block_on(sender(5_000).send(&post(&format!("http://{addr}/x"), &[], b"{}")))
            .unwrap_err();
        assert!(matches!(err, SendError::Protocol { .. }), "{err}");
        assert!(err.to_string().contains("did not answer in HTTP"), "{err}");
    }
}

#[test]
fn test_events_arrive_signed_with_their_version_header() {
    let (addr, rx) = one_shot(b"HTTP/1.1 200 OK\r\nContent-Length: 11\r\n\r\n{\"ok\":true}".to_vec());
    let mut event = TestEvent::new(Tag::AttemptFail);
    event.shape = Shape::Versioned;
    event.version = "2026-01".into();
    event.tracking_number = Some("EVT-1".into());
    let delivery = events::build(&event, Some("evt-secret")).unwrap();
    let response = runtime()
        .block_on(events::send(&sender(5_000), &format!("http://{addr}/webhooks/aftership"), &delivery))
        .unwrap();
    assert_eq!(response.status, 200);
    let raw = rx.recv().unwrap();
    let lines = header_lines(&raw);
    assert!(lines.contains(&"as-webhook-version: 2026-01".to_string()), "{lines:?}");
    let signature = lines.iter().find_map(|l| l.strip_prefix("aftership-hmac-sha256: ")).unwrap();
    let body = &raw[raw.len() - delivery.body.len()..];
    assert_eq!(body, delivery.body.as_slice());
    let secrets = Secrets { current: Some("evt-secret".into()), previous: None };
    assert_eq!(
        verify_signature(Some(signature), body, &secrets),
        DeliveryVerdict::Valid(SecretSlot::Current)
    );
    let msg = shipwatch_aftership::parse_envelope(body).unwrap().msg.unwrap();
    assert_eq!(msg.tracking_number.as_deref(), Some("EVT-1"));
    assert_eq!(msg.checkpoints.last().unwrap().events, ["delivery_attempt_failed"]);
}
