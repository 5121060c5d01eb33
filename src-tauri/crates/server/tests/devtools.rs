//! The developer tools over the real engine: test events of any subtag and shape, replay (into our
//! own pipeline, and byte-exact to a capture server on loopback, re-signed or edited), the self-test
//! through a stand-in tunnel (a proxy on loopback: faithful, body-rewriting, 404, 502, a bystander),
//! forward mode against a target that is down then up (across a restart), re-verifying failed
//! deliveries, the supervised tunnel command, the "public URL changed" and "was offline" warnings,
//! and retention.

mod common;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::*;
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// One request as a stand-in server received it.
#[derive(Clone, Debug)]
struct Captured {
    head: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Captured {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
}

async fn read_request(stream: &mut TcpStream) -> Option<Captured> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 8192];
    let head_end = loop {
        let n = stream.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
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
        .filter_map(|l| l.split_once(':').map(|(n, v)| (n.trim().to_owned(), v.trim().to_owned())))
        .collect();
    let len: usize = headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case("content-length"))
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(0);
    while buf.len() < head_end + len {
        let n = stream.read(&mut chunk).await.ok()?;
        if n == 0 {
            break;
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    Some(Captured { head, headers, body: buf[head_end..].to_vec() })
}

async fn answer(stream: &mut TcpStream, status: u16, body: &str) {
    let r = format!(
        "HTTP/1.1 {status} X\r\nContent-Type: text/plain\r\nX-Capture: yes\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let _ = stream.write_all(r.as_bytes()).await;
    let _ = stream.shutdown().await;
}

/// A server on loopback that records each request and answers `status` (changeable).
struct CaptureServer {
    addr: SocketAddr,
    seen: Arc<Mutex<Vec<Captured>>>,
    status: Arc<Mutex<u16>>,
}

async fn capture_server(status: u16) -> CaptureServer {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let st = Arc::new(Mutex::new(status));
    let (seen2, st2) = (seen.clone(), st.clone());
    tokio::spawn(async move {
        while let Ok((mut s, _)) = listener.accept().await {
            let (seen, st) = (seen2.clone(), st2.clone());
            tokio::spawn(async move {
                if let Some(c) = read_request(&mut s).await {
                    seen.lock().unwrap().push(c);
                    let code = *st.lock().unwrap();
                    answer(&mut s, code, "captured").await;
                }
            });
        }
    });
    CaptureServer { addr, seen, status: st }
}

/// A stand-in tunnel: forwards to `target` (the receiver), optionally re-serialising the JSON body.
async fn proxy(target: SocketAddr, reserialise: bool) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut s, _)) = listener.accept().await {
            tokio::spawn(async move {
                let Some(c) = read_request(&mut s).await else { return };
                let path = c.head.split_whitespace().nth(1).unwrap_or("/").to_owned();
                let body = if reserialise {
                    serde_json::to_vec(&serde_json::from_slice::<Value>(&c.body).unwrap()).unwrap()
                } else {
                    c.body.clone()
                };
                let headers: Vec<(&str, &str)> = c
                    .headers
                    .iter()
                    .filter(|(n, _)| {
                        !["host", "content-length", "connection"].contains(&n.to_ascii_lowercase().as_str())
                    })
                    .map(|(n, v)| (n.as_str(), v.as_str()))
                    .collect();
                let r = request(target, "POST", &path, &headers, &body).await;
                answer(&mut s, r.status, &r.text()).await;
            });
        }
    });
    addr
}

async fn put_settings(t: &TestEngine, v: Value) -> Value {
    let r = t.api("PUT", "/api/settings", Some(&v)).await;
    assert_eq!(r.status, 200, "{}", r.text());
    r.json()
}

#[tokio::test]
async fn test_events_of_any_subtag_and_the_versioned_shape_are_stored_as_sent() {
    let t = start(Some("s3cret")).await;
    let r = t
        .api("POST", "/api/test-delivery", Some(&json!({"subtag": "Exception_004", "shape": "versioned"})))
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let res = r.json();
    assert_eq!(res["status"], 200);
    let d = t.delivery(res["delivery_id"].as_i64().expect("stored")).await;
    assert_eq!(d["verdict"], "valid");
    assert_eq!(d["tag"], "Exception");
    let headers = d["headers"].as_array().unwrap();
    assert!(headers.iter().any(|h| h[0] == "as-webhook-version"), "{headers:?}");
    let body: Value = serde_json::from_slice(&b64decode(d["body_base64"].as_str().unwrap())).unwrap();
    assert_eq!(body["msg"]["subtag"], "Exception_004");
    assert!(body["msg"]["legacy_id"].is_string(), "versioned shape");
    // A subtag of another tag is refused with a message.
    let bad = t
        .api("POST", "/api/test-delivery", Some(&json!({"tag": "InTransit", "subtag": "Delivered_001"})))
        .await;
    assert_eq!(bad.status, 400, "{}", bad.text());
    // To any URL.
    let cap = capture_server(202).await;
    let to = format!("http://{}/hook", cap.addr);
    let r = t.api("POST", "/api/test-delivery", Some(&json!({"tag": "Delivered", "to": to}))).await;
    assert_eq!(r.json()["status"], 202);
    let seen = cap.seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 1);
    let sig = seen[0].header("aftership-hmac-sha256").unwrap();
    assert_eq!(sig, sign("s3cret", &seen[0].body));
}

#[tokio::test]
async fn replay_into_shipwatch_and_byte_exact_to_a_capture_server() {
    let t = start(Some("s3cret")).await;
    let body = sample(&event_id(), "TNREPLAY1");
    assert_eq!(t.post_signed(&body, "s3cret").await.status, 200);
    let original = t.latest_delivery().await;
    let id = original["id"].as_i64().unwrap();

    // Into our own pipeline: verified again and stored as another attempt (a duplicate).
    let r = t.api("POST", &format!("/api/deliveries/{id}/replay"), Some(&json!({}))).await;
    assert_eq!(r.status, 200, "{}", r.text());
    let res = r.json();
    assert_eq!(res["status"], 200);
    let new_id = res["delivery_id"].as_i64().unwrap();
    assert!(new_id > id);
    let again = t.delivery(new_id).await;
    assert_eq!((again["verdict"].as_str(), again["duplicate"].as_bool()), (Some("valid"), Some(true)));

    // To a capture server: the exact bytes and the original signature.
    let cap = capture_server(200).await;
    let to = format!("http://{}/their/hook", cap.addr);
    let res = t.api("POST", &format!("/api/deliveries/{id}/replay"), Some(&json!({"to": to}))).await.json();
    assert_eq!(res["status"], 200);
    assert!(res["headers"].as_array().unwrap().iter().any(|h| h[0] == "x-capture"), "{res}");
    assert_eq!(res["body"], "captured");
    let seen = cap.seen.lock().unwrap().clone();
    assert_same_bytes(&seen[0].body, &body, "replayed body");
    assert_eq!(seen[0].header("aftership-hmac-sha256"), Some(sign("s3cret", &body).as_str()));
    assert!(seen[0].head.starts_with("POST /their/hook "));

    // Edited and re-signed: the new body with a signature that verifies.
    let edited = String::from_utf8(body.clone()).unwrap().replace("TNREPLAY1", "TNEDITED");
    let res = t
        .api(
            "POST",
            &format!("/api/deliveries/{id}/replay"),
            Some(&json!({"to": to, "body": edited, "resign": true})),
        )
        .await
        .json();
    assert_eq!(res["status"], 200, "{res}");
    let seen = cap.seen.lock().unwrap().clone();
    assert_eq!(seen[1].body, edited.as_bytes());
    assert_eq!(seen[1].header("aftership-hmac-sha256"), Some(sign("s3cret", edited.as_bytes()).as_str()));

    // A target that is down: the error names the hop; unknown ids are 404.
    let res = t
        .api("POST", &format!("/api/deliveries/{id}/replay"), Some(&json!({"to": "http://127.0.0.1:1/x"})))
        .await
        .json();
    assert!(res["status"].is_null());
    assert!(res["error"].as_str().unwrap().starts_with("connect:"), "{res}");
    assert_eq!(t.api("POST", "/api/deliveries/999999/replay", Some(&json!({}))).await.status, 404);
}

#[tokio::test]
async fn self_test_names_the_hop_that_failed() {
    // The stand-in tunnels below listen on loopback over http: allowed as the public URL only so.
    std::env::set_var("SHIPWATCH_ALLOW_LOOPBACK_PUBLIC_URL", "1");
    let t = start(Some("s3cret")).await;
    let hop = |v: &Value| v["hop"].as_str().unwrap().to_owned();

    // No public URL.
    let r = t.api("POST", "/api/self-test", None).await.json();
    assert_eq!(hop(&r), "no_public_url");
    let advice = r["advice"].as_str().unwrap();
    assert!(
        advice.contains(&format!("--url http://{}`", t.receiver)),
        "names this receiver's address: {advice}"
    );

    // A faithful tunnel: ok, byte-exact, valid.
    let good = proxy(t.receiver, false).await;
    put_settings(&t, json!({"public_url": format!("http://{good}")})).await;
    let r = t.api("POST", "/api/self-test", None).await.json();
    assert_eq!((hop(&r).as_str(), r["ok"].as_bool()), ("ok", Some(true)), "{r}");
    assert!(r["round_trip_ms"].as_u64().is_some());
    let arrived = t.delivery(r["delivery_id"].as_i64().unwrap()).await;
    assert_eq!(arrived["verdict"], "valid");

    // A tunnel that re-serialises the JSON.
    let rewriting = proxy(t.receiver, true).await;
    put_settings(&t, json!({"public_url": format!("http://{rewriting}")})).await;
    let r = t.api("POST", "/api/self-test", None).await.json();
    assert_eq!(hop(&r), "body_altered", "{r}");

    // Nothing listening; a tunnel that cannot reach us (502); a wrong path (404); a bystander (200).
    put_settings(&t, json!({"public_url": "http://127.0.0.1:1"})).await;
    assert_eq!(hop(&t.api("POST", "/api/self-test", None).await.json()), "connect");
    for (code, expected) in [(502u16, "tunnel_down"), (404, "wrong_path"), (200, "not_arrived")] {
        let s = capture_server(code).await;
        put_settings(&t, json!({"public_url": format!("http://{}", s.addr)})).await;
        assert_eq!(hop(&t.api("POST", "/api/self-test", None).await.json()), expected, "status {code}");
    }
}

#[tokio::test]
async fn forward_mode_retries_a_target_that_is_down_and_loses_nothing_across_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    settings_with(Some("s3cret"), None).save(dir.path()).unwrap();
    let mut t = start_in(dir.path(), Default::default()).await;
    let target = capture_server(503).await;
    put_settings(&t, json!({"forward_url": format!("http://{}/dev", target.addr)})).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    let body = sample(&event_id(), "TNFWD1");
    assert_eq!(t.post_signed(&body, "s3cret").await.status, 200);
    let forged = sample(&event_id(), "TNFWD2");
    assert_eq!(t.post_signed(&forged, "wrong").await.status, 401);
    let id = t.latest_delivery().await["id"].as_i64().unwrap() - 1;
    // It is tried and retried while the target answers 503.
    let mut attempts = Vec::new();
    for _ in 0..100 {
        attempts = t.get_json(&format!("/api/deliveries/{id}/forwards")).await.as_array().unwrap().clone();
        if attempts.first().is_some_and(|a| a["attempts"].as_u64() >= Some(1)) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(attempts.len(), 1, "{attempts:?}");
    assert_eq!(attempts[0]["state"], "retrying");
    assert_eq!(attempts[0]["status"], 503);
    // Restart with the target still down, then bring it up.
    t.shutdown().await;
    let t = start_in(dir.path(), Default::default()).await;
    *target.status.lock().unwrap() = 200;
    let mut state = String::new();
    for _ in 0..200 {
        let a = t.get_json(&format!("/api/deliveries/{id}/forwards")).await;
        state = a[0]["state"].as_str().unwrap().to_owned();
        if state == "delivered" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(state, "delivered");
    let r = t.api("GET", "/api/deliveries/999999/forwards", None).await;
    assert_eq!(r.status, 404, "an unknown delivery, not an empty list: {}", r.text());
    let seen = target.seen.lock().unwrap().clone();
    assert!(seen.len() >= 2, "tried while down, then delivered");
    assert!(seen.iter().all(|c| c.body == body), "only the valid delivery, byte-exact");
    assert_eq!(seen.last().unwrap().header("aftership-hmac-sha256"), Some(sign("s3cret", &body).as_str()));
}

#[tokio::test]
async fn reverify_failed_after_fixing_the_secret_builds_the_shipment() {
    let t = start(Some("typo")).await;
    let (_, body) = update(
        "trk-rv-1",
        "Delivered",
        "2026-01-02T10:00:00+00:00",
        vec![checkpoint("2026-01-02T09:00:00", "Delivered", "Delivered")],
    );
    assert_eq!(t.post_signed(&body, "real").await.status, 401);
    assert!(t.shipments().await.is_empty());
    put_settings(&t, json!({"secret": "real"})).await;
    let r = t.api("POST", "/api/reverify-failed", None).await.json();
    assert_eq!(
        (r["checked"].as_i64(), r["now_valid"].as_i64(), r["shipments_updated"].as_i64()),
        (Some(1), Some(1), Some(1))
    );
    let d = t.latest_delivery().await;
    assert_eq!(d["verdict"], "valid");
    let ships = t.shipments().await;
    assert_eq!(ships.len(), 1);
    assert_eq!(ships[0]["tag"], "Delivered");
}

#[tokio::test]
async fn a_tunnel_command_is_supervised_and_its_url_becomes_the_public_url() {
    let t = start(Some("s3cret")).await;
    put_settings(
        &t,
        json!({"tunnel_command": "echo 'your tunnel: https://fake-{port}.trycloudflare.com'; sleep 30"}),
    )
    .await;
    let mut status = Value::Null;
    for _ in 0..100 {
        status = t.get_json("/api/tunnel").await;
        if status["public_url"].is_string() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let expected = format!("https://fake-{}.trycloudflare.com", t.receiver.port());
    assert_eq!(status["state"], "running");
    assert_eq!(status["public_url"], expected.as_str());
    assert!(status["log"].as_array().unwrap().iter().any(|l| l.as_str().unwrap().contains("your tunnel")));
    let s = t.get_json("/api/status").await;
    assert_eq!(s["public_url"], expected.as_str());
    assert_eq!(s["public_webhook_url"], format!("{expected}/webhooks/aftership").as_str());
    // Turning it off stops it.
    put_settings(&t, json!({"tunnel_command": ""})).await;
    assert_eq!(t.get_json("/api/tunnel").await["state"], "off");
}

#[tokio::test]
async fn public_url_change_and_downtime_are_warned_about_loudly() {
    let dir = tempfile::tempdir().unwrap();
    settings_with(Some("s3cret"), None).save(dir.path()).unwrap();
    let mut t = start_in(dir.path(), Default::default()).await;
    put_settings(&t, json!({"public_url": "https://old.example.com"})).await;
    assert_eq!(t.post_signed(&sample(&event_id(), "TNW1"), "s3cret").await.status, 200);
    put_settings(&t, json!({"public_url": "https://new.example.com"})).await;
    let w = t.get_json("/api/status").await["warnings"].to_string();
    assert!(w.contains("public URL changed") && w.contains("https://old.example.com"), "{w}");
    // Down for a while: the last heartbeat is backdated to three hours ago.
    t.shutdown().await;
    let conn = rusqlite::Connection::open(dir.path().join("shipwatch.db")).unwrap();
    let three_hours_ago = (time::OffsetDateTime::now_utc().unix_timestamp() - 3 * 3600) * 1000;
    conn.execute("UPDATE meta SET value = ?1 WHERE key = 'receiver.alive_at'", [three_hours_ago.to_string()])
        .unwrap();
    drop(conn);
    let t = start_in(dir.path(), Default::default()).await;
    let w = t.get_json("/api/status").await["warnings"].to_string();
    assert!(w.contains("was not receiving") && w.contains("68 hours"), "{w}");
    assert!(w.contains("public URL changed"), "the URL warning survives the restart: {w}");
}

#[tokio::test]
async fn retention_deletes_old_deliveries_but_keeps_what_shipments_show() {
    let t = start(Some("s3cret")).await;
    for i in 0..5 {
        let (_, body) = update(
            "trk-ret",
            "InTransit",
            &format!("2026-01-0{}T10:00:00+00:00", i + 1),
            vec![checkpoint(&format!("2026-01-0{}T09:00:00", i + 1), "InTransit", "Moving")],
        );
        assert_eq!(t.post_signed(&body, "s3cret").await.status, 200);
        assert_eq!(t.post(b"junk", &[]).await.status, 401);
    }
    // Backdate everything by ten days.
    let conn = rusqlite::Connection::open(t.db_path()).unwrap();
    conn.execute("UPDATE deliveries SET received_at = received_at - 10 * 86400000", []).unwrap();
    drop(conn);
    put_settings(&t, json!({"retention_days": 7})).await;
    let mut left = 10;
    for _ in 0..100 {
        left = t.delivery_count().await;
        if left == 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(left, 1, "kept: the delivery that set the shipment's state");
    let ship = &t.shipments().await[0];
    let detail = t.shipment(ship["id"].as_i64().unwrap()).await;
    assert_eq!(detail["checkpoints"].as_array().unwrap().len(), 5, "the whole timeline is kept");
    let bad = t.api("PUT", "/api/settings", Some(&json!({"retention_days": 0}))).await;
    assert_eq!(bad.status, 400);
    // null clears (keep forever), as documented; absent leaves it alone.
    assert_eq!(put_settings(&t, json!({"retention_max_mb": 50})).await["retention_days"], 7);
    let v = put_settings(&t, json!({"retention_days": null, "quiet_hours": null})).await;
    assert!(v["retention_days"].is_null(), "{v}");
    assert_eq!(v["retention_max_mb"], 50);
}
