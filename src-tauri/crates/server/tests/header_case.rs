//! Headers are kept as they arrived on the wire: each name in the case it was sent, in the order
//! sent, a repeated header at each of its places; over raw TCP on one keep-alive connection (a
//! chunked delivery, a health check and a delivery pipelined behind it), into a real SQLite file and
//! back through the inspector API. The signature header is still found whatever its case.

mod common;

use std::net::SocketAddr;
use std::time::Duration;

use common::*;
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const SECRET: &str = "header-case-secret";

/// Reads `count` answers (each with a content-length body) from `stream`; their statuses.
async fn read_answers(stream: &mut TcpStream, count: usize) -> Vec<u16> {
    let mut buf = Vec::new();
    let mut statuses = Vec::new();
    let mut chunk = [0u8; 8192];
    let read = async {
        loop {
            // Take every complete answer at the start of the buffer.
            while let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                let head = String::from_utf8_lossy(&buf[..end]).to_ascii_lowercase();
                let length: usize = head
                    .lines()
                    .find_map(|l| l.strip_prefix("content-length:"))
                    .map_or(0, |v| v.trim().parse().unwrap());
                if buf.len() < end + 4 + length {
                    break;
                }
                statuses.push(head[9..12].parse().unwrap());
                buf.drain(..end + 4 + length);
            }
            if statuses.len() == count {
                return;
            }
            let n = stream.read(&mut chunk).await.unwrap();
            assert!(n > 0, "the connection closed after {} answers", statuses.len());
            buf.extend_from_slice(&chunk[..n]);
        }
    };
    tokio::time::timeout(Duration::from_secs(60), read).await.expect("answers within 60 s");
    statuses
}

fn lines(headers: &[(&str, &str)]) -> String {
    headers.iter().map(|(n, v)| format!("{n}: {v}\r\n")).collect()
}

fn stored_headers(delivery: &Value) -> Vec<(String, String)> {
    serde_json::from_value(delivery["headers"].clone()).unwrap()
}

fn owned(headers: &[(&str, &str)]) -> Vec<(String, String)> {
    headers.iter().map(|(n, v)| (n.to_string(), v.to_string())).collect()
}

#[tokio::test]
async fn headers_are_stored_and_shown_as_they_arrived() {
    let mut t = start(Some(SECRET)).await;
    let addr: SocketAddr = t.receiver;
    let path = t.webhook_path.clone();
    let host = addr.to_string();

    // 1. Chunked, the signature in title case after the body's own headers.
    let first_body = sample(&event_id(), "HC-CHUNKED");
    let first_sig = sign(SECRET, &first_body);
    let first: Vec<(&str, &str)> = vec![
        ("Host", &host),
        ("User-Agent", "AfterShipTrackingWebhook/4.0.0 (+https://www.aftership.com)"),
        ("X-Trace", "first"),
        ("Content-Type", "application/json"),
        ("Transfer-Encoding", "chunked"),
        ("x-trace", "second"),
        ("Aftership-Hmac-Sha256", &first_sig),
    ];
    let (a, b) = first_body.split_at(first_body.len() / 2);
    let mut bytes = format!("POST {path} HTTP/1.1\r\n{}\r\n", lines(&first)).into_bytes();
    for part in [a, b] {
        bytes.extend_from_slice(format!("{:x};note=1\r\n", part.len()).as_bytes());
        bytes.extend_from_slice(part);
        bytes.extend_from_slice(b"\r\n");
    }
    bytes.extend_from_slice(b"0\r\nX-Trailer: end\r\n\r\n");

    // 2. A health check, 3. a delivery with content-length, sent together (pipelined): repeated
    // names interleaved, odd cases, the signature twice in two spellings.
    let third_body = sample(&event_id(), "HC-LENGTH");
    let third_sig = sign(SECRET, &third_body);
    let length = third_body.len().to_string();
    let third: Vec<(&str, &str)> = vec![
        ("aftership-hmac-sha256", &third_sig),
        ("X-CUSTOM", "one"),
        ("content-TYPE", "application/json"),
        ("Content-Length", &length),
        ("x-custom", "two"),
        ("Aftership-Hmac-Sha256", &third_sig),
        ("HOST", &host),
        ("X-Custom", "three"),
        ("as-webhook-version", "2026-07"),
    ];
    let mut pipelined = format!("GET /healthz HTTP/1.1\r\nHost: {host}\r\nX-Probe: Yes\r\n\r\n").into_bytes();
    pipelined.extend_from_slice(format!("POST {path} HTTP/1.1\r\n{}\r\n", lines(&third)).as_bytes());
    pipelined.extend_from_slice(&third_body);

    let mut stream = TcpStream::connect(addr).await.unwrap();
    stream.write_all(&bytes).await.unwrap();
    assert_eq!(read_answers(&mut stream, 1).await, [200]);
    stream.write_all(&pipelined).await.unwrap();
    assert_eq!(read_answers(&mut stream, 2).await, [200, 200]);

    let page = t.get_json("/api/deliveries?limit=10").await;
    let items = page["items"].as_array().unwrap();
    assert_eq!(items.len(), 2, "{page}");
    let newest = t.delivery(items[0]["id"].as_i64().unwrap()).await;
    let oldest = t.delivery(items[1]["id"].as_i64().unwrap()).await;

    assert_eq!(stored_headers(&oldest), owned(&first), "the chunked delivery's headers");
    assert_eq!(oldest["verdict"], "valid", "the title-case signature header is found: {oldest}");
    assert_same_bytes(&b64decode(oldest["body_base64"].as_str().unwrap()), &first_body, "the chunked body");

    assert_eq!(stored_headers(&newest), owned(&third), "the pipelined delivery's headers");
    assert_eq!(newest["verdict"], "valid", "{newest}");
    assert_same_bytes(&b64decode(newest["body_base64"].as_str().unwrap()), &third_body, "the body");

    t.shutdown().await;
}

#[tokio::test]
async fn a_signature_header_in_any_case_is_verified() {
    let mut t = start(Some(SECRET)).await;
    let host = t.receiver.to_string();
    for (spelling, sig, verdict, status) in [
        ("AFTERSHIP-HMAC-SHA256", None, "valid", 200),
        ("aftership-Hmac-sha256", Some("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="), "invalid", 401),
    ] {
        let body = sample(&event_id(), "HC-CASE");
        let signature = sig.map_or_else(|| sign(SECRET, &body), str::to_owned);
        let mut bytes = format!(
            "POST {} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n{spelling}: {signature}\r\nContent-Length: {}\r\n\r\n",
            t.webhook_path,
            body.len()
        )
        .into_bytes();
        bytes.extend_from_slice(&body);
        let resp = raw_exchange(t.receiver, &bytes).await;
        assert_eq!(resp.status, status, "{spelling}");
        let stored = t.delivery(t.latest_delivery().await["id"].as_i64().unwrap()).await;
        assert_eq!(stored["verdict"], verdict, "{spelling}: {stored}");
        assert!(stored_headers(&stored).iter().any(|(n, v)| n == spelling && *v == signature), "{stored}");
    }
    t.shutdown().await;
}

/// A server on loopback that answers 200 to one request and hands over its header lines as sent.
async fn capture_one() -> (SocketAddr, tokio::sync::oneshot::Receiver<Vec<(String, String)>>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (tx, rx) = tokio::sync::oneshot::channel();
    tokio::spawn(async move {
        let (mut s, _) = listener.accept().await.unwrap();
        let mut buf = Vec::new();
        let mut chunk = [0u8; 8192];
        let end = loop {
            let n = s.read(&mut chunk).await.unwrap();
            assert!(n > 0, "the replay closed before its head");
            buf.extend_from_slice(&chunk[..n]);
            if let Some(p) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                break p;
            }
        };
        let head = String::from_utf8(buf[..end].to_vec()).unwrap();
        let lines = head.split("\r\n").skip(1).map(|l| {
            let (n, v) = l.split_once(':').unwrap();
            (n.to_owned(), v.trim().to_owned())
        });
        tx.send(lines.collect()).unwrap();
        let _ = s.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n").await;
    });
    (addr, rx)
}

#[tokio::test]
async fn replay_says_which_header_lines_it_sent() {
    let mut t = start(Some(SECRET)).await;
    let host = t.receiver.to_string();
    let body = sample(&event_id(), "HC-REPLAY");
    let sig = sign(SECRET, &body);
    let length = body.len().to_string();
    let received: Vec<(&str, &str)> = vec![
        ("Host", &host),
        ("X-Custom", "one"),
        ("Aftership-Hmac-Sha256", &sig),
        ("Content-Type", "application/json"),
        ("x-CUSTOM", "two"),
        ("Content-Length", &length),
        ("As-Webhook-Version", "2026-07"),
    ];
    let mut bytes = format!("POST {} HTTP/1.1\r\n{}\r\n", t.webhook_path, lines(&received)).into_bytes();
    bytes.extend_from_slice(&body);
    assert_eq!(raw_exchange(t.receiver, &bytes).await.status, 200);
    let id = t.latest_delivery().await["id"].as_i64().unwrap();
    let kept: Vec<(&str, &str)> = received
        .iter()
        .copied()
        .filter(|(n, _)| !n.eq_ignore_ascii_case("host") && !n.eq_ignore_ascii_case("content-length"))
        .collect();

    // Copy as curl (a dry run): the lines as received, case and places kept (curl sends them so).
    let url = format!("http://{host}{}", t.webhook_path);
    let dry = t
        .api(
            "POST",
            &format!("/api/deliveries/{id}/replay"),
            Some(&serde_json::json!({"to": url, "dry_run": true})),
        )
        .await;
    assert_eq!(dry.status, 200, "{}", dry.text());
    assert_eq!(stored_headers_of(&dry.json()["sent_headers"]), owned(&kept));

    // A replay: the answer names exactly the lines the capture server read, in its order.
    let (cap, seen) = capture_one().await;
    let to = format!("http://{cap}/hook");
    let sent =
        t.api("POST", &format!("/api/deliveries/{id}/replay"), Some(&serde_json::json!({"to": to}))).await;
    assert_eq!(sent.status, 200, "{}", sent.text());
    let answered = stored_headers_of(&sent.json()["sent_headers"]);
    let on_the_wire: Vec<(String, String)> = seen
        .await
        .unwrap()
        .into_iter()
        .filter(|(n, _)| !["host", "content-length", "accept"].contains(&n.as_str()))
        .collect();
    assert_eq!(answered, on_the_wire, "sent_headers are what the target read");
    let lowercased_grouped = owned(&[
        ("x-custom", "one"),
        ("x-custom", "two"),
        ("aftership-hmac-sha256", &sig),
        ("content-type", "application/json"),
        ("as-webhook-version", "2026-07"),
    ]);
    assert_eq!(on_the_wire, lowercased_grouped);
    t.shutdown().await;
}

fn stored_headers_of(v: &Value) -> Vec<(String, String)> {
    serde_json::from_value(v.clone()).unwrap()
}
