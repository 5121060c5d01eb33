//! Every status the receiver answers, over real HTTP: 200, 401, 413 (over the body limit, declared by
//! Content-Length or sent chunked: recorded as an attempt with the first 64 KiB), 404 and 405 for
//! anything but `POST <webhook path>` and `GET /healthz`, and 503 when storage fails (a failing insert,
//! a failing commit, a locked database) — never a 2xx for a delivery that is not on disk.

mod common;

use std::time::{Duration, Instant};

use common::*;
use serde_json::json;

/// A body whose every byte says where it is, so a truncation at the wrong place shows.
fn patterned(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i % 251) as u8).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn healthz_answers_ok() {
    let t = start(Some(SECRET)).await;
    let r = request(t.receiver, "GET", "/healthz", &[], b"").await;
    assert_eq!(r.status, 200);
    assert_eq!(r.text(), "ok");
    assert_eq!(t.delivery_count().await, 0, "a health check is not a delivery");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversize_body_with_content_length_is_413_and_recorded_with_first_64_kib() {
    let t = start(Some(SECRET)).await;
    let body = patterned(1536 * 1024); // over the default 1 MiB
    let sig = sign(SECRET, &body);
    let r = t.post(&body, &[("aftership-hmac-sha256", &sig), ("X-Probe", "cl")]).await;
    assert_eq!(r.status, 413, "{}", r.text());
    assert_eq!(r.json(), json!({"error": "payload too large"}));

    let item = t.latest_delivery().await;
    assert_eq!(item["verdict"], "too_large");
    assert_eq!(item["status"], 413);
    assert_eq!(item["size"], body.len() as i64, "the declared size");
    let d = t.delivery(item["id"].as_i64().unwrap()).await;
    assert_eq!(d["body_truncated"], true);
    assert_same_bytes(
        &b64decode(d["body_base64"].as_str().unwrap()),
        &body[..64 * 1024],
        "exactly the first 64 KiB",
    );
    assert!(
        d["headers"].as_array().unwrap().iter().any(|h| h[0] == "X-Probe" && h[1] == "cl"),
        "headers kept"
    );
    assert!(d["parse_error"].as_str().unwrap().contains("over the"), "{d}");
    // It is a failure in the feed's "failed" filter.
    let failed = t.get_json("/api/deliveries?verdict=failed").await;
    assert_eq!(failed["items"][0]["id"], item["id"]);
    let too_large = t.get_json("/api/deliveries?verdict=too_large").await;
    assert_eq!(too_large["items"].as_array().unwrap().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversize_with_expect_100_continue_is_413_at_once_without_inviting_the_body() {
    let t = start(Some(SECRET)).await;
    let head = format!(
        "POST {} HTTP/1.1\r\nHost: {}\r\nExpect: 100-continue\r\nContent-Length: 5000000\r\nX-Probe: expect\r\n\r\n",
        t.webhook_path, t.receiver
    );
    let mut stream = tokio::net::TcpStream::connect(t.receiver).await.unwrap();
    tokio::io::AsyncWriteExt::write_all(&mut stream, head.as_bytes()).await.unwrap();
    let mut first = vec![0u8; 64];
    let n = tokio::time::timeout(
        std::time::Duration::from_secs(5),
        tokio::io::AsyncReadExt::read(&mut stream, &mut first),
    )
    .await
    .expect("an answer without sending the body")
    .unwrap();
    let line = String::from_utf8_lossy(&first[..n]).to_string();
    assert!(line.starts_with("HTTP/1.1 413"), "413 first, no 100 Continue: {line:?}");
    let item = t.latest_delivery().await;
    assert_eq!((item["verdict"].as_str(), item["size"].as_i64()), (Some("too_large"), Some(5_000_000)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversize_chunked_body_is_413_and_recorded_with_first_64_kib() {
    let t = start(Some(SECRET)).await;
    let body = patterned(1200 * 1024);
    let chunks: Vec<&[u8]> = body.chunks(50_000).collect();
    let sig = sign(SECRET, &body);
    let r = post_chunked(t.receiver, &t.webhook_path, &[("aftership-hmac-sha256", &sig)], &chunks).await;
    assert_eq!(r.status, 413, "{}", r.text());
    let item = t.latest_delivery().await;
    assert_eq!(item["verdict"], "too_large");
    assert_eq!(item["status"], 413);
    assert!(item["size"].as_i64().unwrap() > 1024 * 1024, "counted past the limit: {item}");
    let d = t.delivery(item["id"].as_i64().unwrap()).await;
    assert_eq!(d["body_truncated"], true);
    assert_same_bytes(&b64decode(d["body_base64"].as_str().unwrap()), &body[..64 * 1024], "the first 64 KiB");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chunked_body_under_the_limit_is_verified_and_kept_whole() {
    let t = start(Some(SECRET)).await;
    let chunks: Vec<&[u8]> = FIXTURE.chunks(700).collect();
    let r =
        post_chunked(t.receiver, &t.webhook_path, &[("aftership-hmac-sha256", NODE_FIXTURE_SIG)], &chunks)
            .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let d = t.delivery(t.latest_delivery().await["id"].as_i64().unwrap()).await;
    assert_eq!(d["verdict"], "valid");
    assert_same_bytes(&b64decode(d["body_base64"].as_str().unwrap()), FIXTURE, "the chunked body");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_body_limit_setting_is_exact_at_the_boundary() {
    let mut s = settings_with(Some(SECRET), None);
    s.body_limit = 4096;
    let t = start_with(s).await;
    let at = patterned(4096);
    let r = t.post_signed(&at, SECRET).await;
    assert_eq!(r.status, 200, "a body of exactly the limit is taken");
    let over = patterned(4097);
    let r = t.post_signed(&over, SECRET).await;
    assert_eq!(r.status, 413);
    let d = t.delivery(t.latest_delivery().await["id"].as_i64().unwrap()).await;
    assert_same_bytes(
        &b64decode(d["body_base64"].as_str().unwrap()),
        &over,
        "under 64 KiB: all of it is kept",
    );
    // Raised through the API without a restart.
    let r = t.api("PUT", "/api/settings", Some(&json!({"body_limit": 8192}))).await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(t.post_signed(&over, SECRET).await.status, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn receiver_answers_404_and_405_and_stores_none_of_it() {
    let t = start(Some(SECRET)).await;
    let auth = format!("Bearer {}", t.token);
    let cases: &[(&str, &str, u16)] = &[
        ("GET", "/webhooks/aftership", 405),
        ("PUT", "/webhooks/aftership", 405),
        ("DELETE", "/webhooks/aftership", 405),
        ("POST", "/healthz", 405),
        ("GET", "/", 404),
        ("GET", "/index.html", 404),
        ("POST", "/webhooks/aftership/extra", 404),
        ("POST", "/webhooks/AfterShip", 404),
        ("POST", "/", 404),
        ("GET", "/api/status", 404),
        ("GET", "/api/deliveries", 404),
        ("GET", "/api/stream", 404),
        ("PUT", "/api/settings", 404),
        ("POST", "/api/test-delivery", 404),
    ];
    for &(method, path, want) in cases {
        let r = request(
            t.receiver,
            method,
            path,
            &[("Authorization", &auth)],
            if method == "GET" { b"" } else { FIXTURE },
        )
        .await;
        assert_eq!(r.status, want, "{method} {path}: {}", r.text());
        assert!(r.json()["error"].is_string(), "{method} {path}: JSON error body");
    }
    assert_eq!(t.delivery_count().await, 0);
}

/// Runs SQL on the engine's database through a connection of our own (what another process could do).
fn sql(t: &TestEngine, statements: &str) {
    let conn = rusqlite::Connection::open(t.db_path()).unwrap();
    conn.busy_timeout(Duration::from_secs(10)).unwrap();
    conn.execute_batch(statements).unwrap();
}

fn rows_with_event(t: &TestEngine, event_id: &str) -> i64 {
    let conn = rusqlite::Connection::open(t.db_path()).unwrap();
    conn.query_row("SELECT count(*) FROM deliveries WHERE event_id = ?1", [event_id], |r| r.get(0)).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_insert_is_answered_503_and_nothing_is_kept_then_the_retry_is_200() {
    let t = start(Some(SECRET)).await;
    let mut events = t.engine().subscribe();
    // The insert itself fails inside the writer (like a full disk or an I/O error would).
    sql(&t, "CREATE TRIGGER fail_inserts BEFORE INSERT ON deliveries BEGIN SELECT RAISE(ABORT, 'simulated storage failure'); END;");
    let (eid, body) = update("s503", "Delivered", "2021-01-15T10:00:00+00:00", vec![]);
    let r = t.post_signed(&body, SECRET).await;
    assert_eq!(r.status, 503, "{}", r.text());
    assert_eq!(r.json(), json!({"error": "temporarily unavailable"}));
    assert_eq!(rows_with_event(&t, &eid), 0, "nothing on disk for a 503");
    assert!(events.try_recv().is_err(), "nothing published for a delivery that was not stored");
    assert!(t.shipments().await.is_empty());
    // Invalid and missing deliveries need storage too: 503, not 401, when they cannot be kept.
    let r = t.post(&body, &[]).await;
    assert_eq!(r.status, 503);

    // Storage recovers: AfterShip's retry of the same event is accepted and is not a duplicate.
    sql(&t, "DROP TRIGGER fail_inserts;");
    let r = t.post_signed(&body, SECRET).await;
    assert_eq!(r.status, 200, "{}", r.text());
    let items = t.deliveries_for_event(&eid).await;
    assert_eq!(items.len(), 1);
    assert_eq!(items[0]["duplicate"], false);
    assert_eq!(t.shipments().await[0]["tag"], "Delivered");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_group_commit_answers_every_delivery_of_the_batch_503_and_keeps_none() {
    let t = start(Some(SECRET)).await;
    // Each insert succeeds on its own, but the transaction cannot commit (a deferred foreign key that
    // is violated): the whole group must be answered 503 and nothing of it may be on disk.
    sql(
        &t,
        "CREATE TABLE poison (d INTEGER REFERENCES deliveries(id) DEFERRABLE INITIALLY DEFERRED);
         CREATE TRIGGER poison_commit AFTER INSERT ON deliveries BEGIN INSERT INTO poison VALUES (-1); END;",
    );
    let bodies: Vec<(String, Vec<u8>)> = (0..24)
        .map(|i| {
            let eid = event_id();
            let body = sample(&eid, &format!("COMMIT{i:04}"));
            (eid, body)
        })
        .collect();
    let mut tasks = Vec::new();
    for (_, body) in bodies.clone() {
        let receiver = t.receiver;
        let path = t.webhook_path.clone();
        tasks.push(tokio::spawn(async move {
            let sig = sign(SECRET, &body);
            request(receiver, "POST", &path, &[("aftership-hmac-sha256", &sig)], &body).await.status
        }));
    }
    for task in tasks {
        assert_eq!(task.await.unwrap(), 503);
    }
    for (eid, _) in &bodies {
        assert_eq!(rows_with_event(&t, eid), 0);
    }
    assert_eq!(t.delivery_count().await, 0);

    // The writer is not left inside a broken transaction: once fixed, the retries are all stored.
    sql(&t, "DROP TRIGGER poison_commit; DROP TABLE poison;");
    for (eid, body) in &bodies {
        assert_eq!(t.post_signed(body, SECRET).await.status, 200);
        assert_eq!(rows_with_event(&t, eid), 1);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_database_locked_by_another_process_is_answered_503_not_200() {
    let t = start(Some(SECRET)).await;
    // Another connection holds the write lock longer than the writer's busy timeout.
    let lock = rusqlite::Connection::open(t.db_path()).unwrap();
    lock.execute_batch("BEGIN IMMEDIATE;").unwrap();
    let (eid, body) = update("locked", "InTransit", "2021-01-14T10:41:24+00:00", vec![]);
    let started = Instant::now();
    let r = t.post_signed(&body, SECRET).await;
    println!("locked database answered {} after {:?}", r.status, started.elapsed());
    assert_eq!(r.status, 503);
    lock.execute_batch("ROLLBACK;").unwrap();
    drop(lock);
    assert_eq!(rows_with_event(&t, &eid), 0);
    assert_eq!(t.post_signed(&body, SECRET).await.status, 200);
    assert_eq!(rows_with_event(&t, &eid), 1);
}
