//! Forward mode as the feed sees it (issue 20), over the real engine: each delivery's forward state
//! comes with the list API, so a fresh list call (what a reload of the UI makes) shows it; the
//! status says when the forward target keeps failing (a loopback port that refuses connections),
//! since when and how many wait; and both clear once the target answers. Also the received-time
//! range of the list API and a search by a customer's name, over HTTP.

mod common;

use std::time::Duration;

use common::*;
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// A loopback address nothing listens on: connecting to it is refused.
async fn refusing_addr() -> std::net::SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    addr
}

/// A target on `addr` that answers 204 to everything.
async fn answering(addr: std::net::SocketAddr) {
    let listener = TcpListener::bind(addr).await.unwrap();
    tokio::spawn(async move {
        while let Ok((mut s, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut buf = vec![0u8; 65536];
                let mut got = Vec::new();
                // Read the head and the body it announces, then answer.
                loop {
                    let Ok(n) = s.read(&mut buf).await else { return };
                    if n == 0 {
                        return;
                    }
                    got.extend_from_slice(&buf[..n]);
                    if let Some(end) = got.windows(4).position(|w| w == b"\r\n\r\n") {
                        let head = String::from_utf8_lossy(&got[..end]).to_ascii_lowercase();
                        let len: usize = head
                            .lines()
                            .find_map(|l| l.strip_prefix("content-length:"))
                            .and_then(|v| v.trim().parse().ok())
                            .unwrap_or(0);
                        if got.len() >= end + 4 + len {
                            break;
                        }
                    }
                }
                let _ = s.write_all(b"HTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n").await;
            });
        }
    });
}

/// The list API's items, as a reload fetches them.
async fn listed(t: &TestEngine) -> Vec<Value> {
    t.get_json("/api/deliveries?limit=100").await["items"].as_array().unwrap().clone()
}

/// Polls (a fresh list call each time) until `done` holds, for at most `tries` × 100 ms.
async fn until_listed(t: &TestEngine, tries: usize, done: impl Fn(&[Value]) -> bool) -> Vec<Value> {
    let mut items = Vec::new();
    for _ in 0..tries {
        items = listed(t).await;
        if done(&items) {
            return items;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    items
}

fn forward_warning(status: &Value) -> Option<String> {
    status["warnings"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .find(|w| w.starts_with("Forwarding to "))
        .map(str::to_owned)
}

#[tokio::test]
async fn the_list_carries_each_forward_state_and_the_status_warns_while_the_target_refuses() {
    let t = start(Some("s3cret")).await;
    // Stored before forward mode: never forwarded, `forward` null.
    let before = sample(&event_id(), "TNFWD-BEFORE");
    assert_eq!(t.post_signed(&before, "s3cret").await.status, 200);
    let down = refusing_addr().await;
    let target = format!("http://{down}/hooks/aftership");
    let r = t.api("PUT", "/api/settings", Some(&json!({"forward_url": target}))).await;
    assert_eq!(r.status, 200, "{}", r.text());
    // The forwarder takes the watermark once it sees forward mode; wait for it to be set by
    // posting until a delivery gets queued.
    let mut posted = Vec::new();
    for i in 0..50 {
        let body = sample(&event_id(), &format!("TNFWD-{i}"));
        assert_eq!(t.post_signed(&body, "s3cret").await.status, 200);
        posted.push(format!("TNFWD-{i}"));
        let items = listed(&t).await;
        if items.iter().any(|d| !d["forward"].is_null()) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let forwarded: Vec<String> = listed(&t)
        .await
        .iter()
        .filter(|d| !d["forward"].is_null())
        .map(|d| d["tracking_number"].as_str().unwrap().to_owned())
        .collect();
    assert!(!forwarded.is_empty(), "a delivery was queued for forwarding");

    // Each queued one is tried and fails: the list (a reload) shows it retrying, with the error.
    let items = until_listed(&t, 100, |items| {
        items.iter().filter(|d| !d["forward"].is_null()).all(|d| d["forward"]["attempts"].as_u64() >= Some(1))
    })
    .await;
    for d in items.iter().filter(|d| !d["forward"].is_null()) {
        let f = &d["forward"];
        assert_eq!(f["state"], "retrying", "{f}");
        assert_eq!(f["target"], target.as_str());
        assert!(f["next_attempt_at"].is_string(), "{f}");
        let error = f["error"].as_str().unwrap();
        assert!(error.to_lowercase().contains("refused") || error.contains("connect"), "{error}");
        assert!(error.chars().count() <= 121, "shortened: {error}");
    }
    let first = items.iter().find(|d| d["tracking_number"] == "TNFWD-BEFORE").unwrap();
    assert!(first["forward"].is_null(), "stored before forward mode: {first}");

    // The oldest has failed three attempts (1 s, then 2 s apart): the status bar says so.
    let mut warning = None;
    for _ in 0..200 {
        warning = forward_warning(&t.get_json("/api/status").await);
        if warning.is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let warning = warning.expect("a warning once the oldest forward failed 3 attempts");
    let queued = forwarded.len();
    let expected_queue =
        if queued == 1 { "1 delivery queued".to_owned() } else { format!("{queued} deliveries queued") };
    assert!(warning.starts_with(&format!("Forwarding to {target} has failed since ")), "{warning}");
    assert!(warning.contains(&format!(" UTC: {expected_queue} (last error: ")), "{warning}");

    // The target comes up: the next attempts deliver, the list shows it, the warning goes.
    answering(down).await;
    let items = until_listed(&t, 150, |items| {
        items.iter().filter(|d| !d["forward"].is_null()).all(|d| d["forward"]["state"] == "delivered")
    })
    .await;
    for d in items.iter().filter(|d| !d["forward"].is_null()) {
        assert_eq!(d["forward"]["state"], "delivered", "{d}");
        assert_eq!(d["forward"]["status"], 204);
    }
    assert_eq!(forward_warning(&t.get_json("/api/status").await), None);
}

#[tokio::test]
async fn the_list_api_takes_a_received_time_range_and_finds_a_customer_by_name() {
    let t = start(Some("s3cret")).await;
    let body = fixture_with(|v| {
        v["event_id"] = json!(event_id());
        v["msg"]["customer_name"] = json!("Katherine Johnson");
        v["msg"]["emails"] = json!(["kj@langley.example"]);
    });
    assert_eq!(t.post_signed(&body, "s3cret").await.status, 200);
    let id = t.latest_delivery().await["id"].as_i64().unwrap();
    let ids = |v: Value| -> Vec<i64> {
        v["items"].as_array().unwrap().iter().map(|d| d["id"].as_i64().unwrap()).collect()
    };
    assert_eq!(ids(t.get_json("/api/deliveries?q=katherine%20johnson").await), [id]);
    assert_eq!(ids(t.get_json("/api/deliveries?q=langley.example").await), [id]);
    // Received today (a date takes in the whole day, UTC) but not before 2020 nor from 2100 on.
    let received = t.latest_delivery().await["received_at"].as_str().unwrap().to_owned();
    let day = &received[..10];
    assert_eq!(ids(t.get_json(&format!("/api/deliveries?since={day}&until={day}")).await), [id]);
    assert_eq!(ids(t.get_json("/api/deliveries?since=2100-01-01T00:00:00Z").await), Vec::<i64>::new());
    assert_eq!(ids(t.get_json("/api/deliveries?until=2020-01-01").await), Vec::<i64>::new());
    let offset = "2000-01-01T00:00:00%2B05:00";
    assert_eq!(ids(t.get_json(&format!("/api/deliveries?since={offset}")).await), [id]);
    let bad = t.api("GET", "/api/deliveries?since=last%20week", None).await;
    assert_eq!(bad.status, 400, "{}", bad.text());
    assert!(bad.json()["error"].as_str().unwrap().contains("RFC 3339"), "{}", bad.text());
}
