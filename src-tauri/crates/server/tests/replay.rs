//! Replay's signing choices over the real engine (HTTP on loopback, a real SQLite file): the
//! header as received, the current, the previous or a typed secret; into our own receiver (which
//! verifies a previous-secret signature as "previous") and to a capture server on loopback; the dry
//! run "copy as curl" uses; a typed secret never comes back in an answer.

mod common;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use common::*;
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

const CURRENT: &str = "replay-current-secret";
const PREVIOUS: &str = "replay-previous-secret";
const TYPED: &str = "typed-only-here 7f3a";

/// One request a capture server received: its header lines as sent and its body.
struct Captured {
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Captured {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
}

/// A server on loopback that records each request and answers 200.
async fn capture_server() -> (SocketAddr, Arc<Mutex<Vec<Captured>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let seen2 = seen.clone();
    tokio::spawn(async move {
        while let Ok((mut s, _)) = listener.accept().await {
            let seen = seen2.clone();
            tokio::spawn(async move {
                let mut buf = Vec::new();
                let mut chunk = [0u8; 8192];
                let head_end = loop {
                    let Ok(n) = s.read(&mut chunk).await else { return };
                    if n == 0 {
                        return;
                    }
                    buf.extend_from_slice(&chunk[..n]);
                    if let Some(p) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                        break p + 4;
                    }
                };
                let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
                let headers: Vec<(String, String)> = head
                    .lines()
                    .skip(1)
                    .filter_map(|l| {
                        l.split_once(':').map(|(n, v)| (n.trim().to_owned(), v.trim().to_owned()))
                    })
                    .collect();
                let len: usize = headers
                    .iter()
                    .find(|(n, _)| n.eq_ignore_ascii_case("content-length"))
                    .and_then(|(_, v)| v.parse().ok())
                    .unwrap_or(0);
                while buf.len() < head_end + len {
                    match s.read(&mut chunk).await {
                        Ok(0) | Err(_) => break,
                        Ok(n) => buf.extend_from_slice(&chunk[..n]),
                    }
                }
                seen.lock().unwrap().push(Captured { headers, body: buf[head_end..].to_vec() });
                let _ = s
                    .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 8\r\nConnection: close\r\n\r\ncaptured")
                    .await;
                let _ = s.shutdown().await;
            });
        }
    });
    (addr, seen)
}

/// A body AfterShip might send, with spacing, escapes and key order no serialiser would produce.
fn odd_body(event_id: &str) -> Vec<u8> {
    format!(
        "{{ \"msg\":{{\"tracking_number\" : \"TNREPLAYSIGN\",\"slug\":\"usps\", \"tag\":\"InTransit\",\"title\":\"caf\\u00e9 \\/ \\\"q\\\"\",\"id\":\"rs1\",\"updated_at\":\"2026-07-01T10:00:00+00:00\"}},\"event\":\"tracking_update\",\r\n\t\"event_id\":\"{event_id}\", \"ts\" : 1782900000 , \"n\": 1.50e+2 }}"
    )
    .into_bytes()
}

async fn replay(t: &TestEngine, id: i64, v: Value) -> Resp {
    t.api("POST", &format!("/api/deliveries/{id}/replay"), Some(&v)).await
}

#[tokio::test]
async fn replay_signs_with_each_slot_or_a_typed_secret_and_keeps_bytes_unless_edited() {
    let t = start_with(settings_with(Some(CURRENT), Some(PREVIOUS))).await;
    let body = odd_body(&event_id());
    let sig = sign(CURRENT, &body);
    let headers = [
        ("User-Agent", "AfterShipTrackingWebhook/4.0.0"),
        ("aftership-hmac-sha256", sig.as_str()),
        ("as-webhook-version", "2026-07"),
    ];
    assert_eq!(t.post(&body, &headers).await.status, 200);
    let id = t.latest_delivery().await["id"].as_i64().unwrap();
    let (cap, seen) = capture_server().await;
    let to = format!("http://{cap}/hook");

    // Unedited, original signature: the exact bytes and the received header.
    let r = replay(&t, id, json!({"to": to})).await;
    assert_eq!(r.status, 200, "{}", r.text());
    let res = r.json();
    assert_eq!((res["signed_with"].as_str(), res["body_edited"].as_bool()), (Some("original"), Some(false)));
    {
        let seen = seen.lock().unwrap();
        assert_same_bytes(&seen[0].body, &body, "unedited replay");
        assert_eq!(seen[0].header("aftership-hmac-sha256"), Some(sign(CURRENT, &body).as_str()));
    }

    // Each slot re-signs the stored bytes so that the matching secret verifies them.
    for (slot, secret) in [("current", CURRENT), ("previous", PREVIOUS)] {
        let res = replay(&t, id, json!({"to": to, "sign_with": slot})).await.json();
        assert_eq!(res["signed_with"], slot, "{res}");
        let seen = seen.lock().unwrap();
        let last = seen.last().unwrap();
        assert_same_bytes(&last.body, &body, slot);
        assert_eq!(last.header("aftership-hmac-sha256"), Some(sign(secret, &body).as_str()), "{slot}");
    }

    // A typed secret: used as typed, never answered back.
    let edited = String::from_utf8(body.clone()).unwrap().replace("InTransit", "Delivered");
    let r = replay(&t, id, json!({"to": to, "sign_with": "typed", "secret": TYPED, "body": edited})).await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert!(!r.text().contains(TYPED), "the typed secret is never sent back: {}", r.text());
    let res = r.json();
    assert_eq!((res["signed_with"].as_str(), res["body_edited"].as_bool()), (Some("typed"), Some(true)));
    {
        let seen = seen.lock().unwrap();
        let last = seen.last().unwrap();
        assert_eq!(last.body, edited.as_bytes());
        assert_eq!(last.header("aftership-hmac-sha256"), Some(sign(TYPED, edited.as_bytes()).as_str()));
    }

    // Edited, original signature kept: sent stale (to reproduce a failure), and said so.
    let res = replay(&t, id, json!({"to": to, "body": edited, "sign_with": "original"})).await.json();
    assert_eq!(res["signature_stale"], true, "{res}");
    assert_eq!(
        seen.lock().unwrap().last().unwrap().header("aftership-hmac-sha256"),
        Some(sign(CURRENT, &body).as_str())
    );
    let sent_so_far = seen.lock().unwrap().len();
    assert_eq!(sent_so_far, 5);

    // Dry run: the headers that would be sent, in the received order, signed as chosen; nothing sent.
    let deliveries = t.delivery_count().await;
    let r = replay(
        &t,
        id,
        json!({"to": to, "sign_with": "typed", "secret": TYPED, "body": edited, "dry_run": true}),
    )
    .await;
    assert!(!r.text().contains(TYPED), "{}", r.text());
    let res = r.json();
    assert_eq!((res["dry_run"].as_bool(), res["status"].is_null()), (Some(true), true), "{res}");
    let names: Vec<&str> =
        res["sent_headers"].as_array().unwrap().iter().map(|h| h[0].as_str().unwrap()).collect();
    let stored = t.delivery(id).await;
    let received: Vec<&str> =
        stored["headers"].as_array().unwrap().iter().map(|h| h[0].as_str().unwrap()).collect();
    let expected: Vec<&str> = received
        .iter()
        .copied()
        .filter(|n| !["host", "content-length", "connection"].contains(&n.to_ascii_lowercase().as_str()))
        .collect();
    assert_eq!(names.len(), 4, "{names:?}");
    assert_eq!(names, expected, "received order, minus host, content-length and hop-by-hop");
    let sig = res["sent_headers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|h| h[0].as_str().unwrap().eq_ignore_ascii_case("aftership-hmac-sha256"));
    assert_eq!(sig.unwrap()[1], sign(TYPED, edited.as_bytes()));
    // Into our own receiver too: a dry run stores nothing.
    let res = replay(&t, id, json!({"sign_with": "previous", "dry_run": true})).await.json();
    assert_eq!(res["dry_run"], true);
    assert!(res["target"].as_str().unwrap().starts_with("http://127.0.0.1:"), "{res}");
    assert_eq!(seen.lock().unwrap().len(), sent_so_far);
    assert_eq!(t.delivery_count().await, deliveries);

    // Into our own receiver, edited and signed with the previous secret: verified as "previous".
    let edited_new_event = edited.replace(stored["event_id"].as_str().unwrap(), &event_id());
    let res = replay(&t, id, json!({"sign_with": "previous", "body": edited_new_event})).await.json();
    assert_eq!(res["status"], 200, "{res}");
    let again = t.delivery(res["delivery_id"].as_i64().unwrap()).await;
    assert_eq!(again["verdict"], "valid");
    assert_eq!(again["signature"]["secret"], "previous", "{}", again["signature"]);
    assert_eq!(b64decode(again["body_base64"].as_str().unwrap()), edited_new_event.as_bytes());
}

#[tokio::test]
async fn bad_signing_choices_are_refused_before_anything_is_sent() {
    let t = start(Some(CURRENT)).await; // no previous secret
    let body = odd_body(&event_id());
    assert_eq!(t.post_signed(&body, CURRENT).await.status, 200);
    let id = t.latest_delivery().await["id"].as_i64().unwrap();
    let (cap, seen) = capture_server().await;
    let to = format!("http://{cap}/hook");

    let r = replay(&t, id, json!({"to": to, "sign_with": "previous"})).await;
    assert_eq!(r.status, 400);
    assert!(r.text().contains("no previous secret is set"), "{}", r.text());
    for typed in
        [json!({"to": to, "sign_with": "typed"}), json!({"to": to, "sign_with": "typed", "secret": ""})]
    {
        let r = replay(&t, id, typed).await;
        assert_eq!(r.status, 400);
        assert!(r.text().contains("type the secret"), "{}", r.text());
    }
    // A secret given with another choice is refused, without repeating it.
    let r = replay(&t, id, json!({"to": to, "sign_with": "current", "secret": TYPED})).await;
    assert_eq!(r.status, 400);
    assert!(!r.text().contains(TYPED), "{}", r.text());
    let r = replay(&t, id, json!({"to": to, "sign_with": "somebody"})).await;
    assert_eq!(r.status, 400, "{}", r.text());
    assert!(seen.lock().unwrap().is_empty(), "nothing was sent");

    // The older `resign: true` still signs with the current secret.
    let res = replay(&t, id, json!({"to": to, "resign": true})).await.json();
    assert_eq!(res["signed_with"], "current", "{res}");
    assert_eq!(seen.lock().unwrap()[0].header("aftership-hmac-sha256"), Some(sign(CURRENT, &body).as_str()));
}
