//! The receiver under pressure: a burst of 2,000 distinct signed deliveries at concurrency 64 is all
//! answered 200 and all stored (group commit), slow clients that send headers and stall do not hold up
//! other deliveries, and the header and request timeouts cut such clients off without storing anything.

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use common::*;
use shipwatch_server::config::Limits;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::Semaphore;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_of_2000_deliveries_at_concurrency_64_is_all_answered_200_and_stored() {
    let t = start(Some(SECRET)).await;
    const N: usize = 2000;
    let bodies: Vec<(String, Vec<u8>, String)> = (0..N)
        .map(|i| {
            let eid = event_id();
            let body = sample(&eid, &format!("BURST{i:06}"));
            let sig = sign(SECRET, &body);
            (eid, body, sig)
        })
        .collect();
    let gate = Arc::new(Semaphore::new(64));
    let started = Instant::now();
    let mut tasks = Vec::with_capacity(N);
    for (_, body, sig) in bodies.clone() {
        let permit = gate.clone().acquire_owned().await.unwrap();
        let (receiver, path) = (t.receiver, t.webhook_path.clone());
        tasks.push(tokio::spawn(async move {
            let r = request(receiver, "POST", &path, &[("aftership-hmac-sha256", &sig)], &body).await;
            drop(permit);
            r.status
        }));
    }
    let mut statuses = Vec::with_capacity(N);
    for task in tasks {
        statuses.push(task.await.unwrap());
    }
    let elapsed = started.elapsed();
    println!("burst: {N} deliveries in {elapsed:?} ({:.0}/s, debug build)", N as f64 / elapsed.as_secs_f64());
    assert!(
        statuses.iter().all(|&s| s == 200),
        "not all 200: {:?}",
        statuses.iter().filter(|&&s| s != 200).take(5).collect::<Vec<_>>()
    );

    // Every one is on disk, once, valid, and projected.
    let conn = rusqlite::Connection::open(t.db_path()).unwrap();
    let (rows, distinct, valid, projected): (i64, i64, i64, i64) = conn
        .query_row(
            "SELECT count(*), count(DISTINCT event_id), sum(verdict = 'valid'), sum(shipment_id IS NOT NULL) FROM deliveries",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
        )
        .unwrap();
    assert_eq!((rows, distinct, valid, projected), (N as i64, N as i64, N as i64, N as i64));
    let mut stmt = conn.prepare("SELECT 1 FROM deliveries WHERE event_id = ?1").unwrap();
    for (eid, _, _) in &bodies {
        assert!(stmt.exists([eid]).unwrap(), "{eid} missing");
    }
    let shipments: i64 = conn.query_row("SELECT count(*) FROM shipments", [], |r| r.get(0)).unwrap();
    assert_eq!(shipments, N as i64);
}

/// Opens a connection and sends the head of a delivery (and maybe part of its body), then stalls.
async fn stalled_client(t: &TestEngine, partial_body: bool) -> TcpStream {
    let mut s = TcpStream::connect(t.receiver).await.unwrap();
    let head = format!(
        "POST {} HTTP/1.1\r\nHost: {}\r\nContent-Type: application/json\r\naftership-hmac-sha256: {}\r\nContent-Length: {}\r\n\r\n",
        t.webhook_path,
        t.receiver,
        NODE_FIXTURE_SIG,
        FIXTURE.len()
    );
    s.write_all(head.as_bytes()).await.unwrap();
    if partial_body {
        s.write_all(&FIXTURE[..100]).await.unwrap();
    }
    s
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_clients_that_stall_do_not_block_other_deliveries() {
    let t = start(Some(SECRET)).await;
    let mut stalled = Vec::new();
    for i in 0..20 {
        stalled.push(stalled_client(&t, i % 2 == 0).await);
    }
    // Also one that never finishes its headers.
    let mut half_head = TcpStream::connect(t.receiver).await.unwrap();
    half_head.write_all(b"POST /webhooks/aftership HTTP/1.1\r\nHost: x\r\nContent-Le").await.unwrap();

    let started = Instant::now();
    for i in 0..50 {
        let (_, body) = update(&format!("slow{i}"), "InTransit", "2021-01-14T09:00:00+00:00", vec![]);
        let r = tokio::time::timeout(Duration::from_secs(5), t.post_signed(&body, SECRET))
            .await
            .expect("not held up");
        assert_eq!(r.status, 200);
    }
    let elapsed = started.elapsed();
    println!("50 deliveries beside 21 stalled clients: {elapsed:?}");
    assert!(elapsed < Duration::from_secs(10), "{elapsed:?}");
    assert_eq!(t.delivery_count().await, 50, "the stalled ones are not stored (yet)");
    drop(stalled);
    drop(half_head);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stalled_clients_are_cut_off_by_the_timeouts_and_nothing_is_stored() {
    let tmp = tempfile::tempdir().unwrap();
    settings_with(Some(SECRET), None).save(tmp.path()).unwrap();
    let limits = Limits {
        header_timeout: Duration::from_millis(500),
        request_timeout: Duration::from_millis(1500),
        ..Limits::default()
    };
    let t = start_in(tmp.path(), limits).await;

    // Headers never finished: the connection is closed after the header timeout.
    let started = Instant::now();
    let mut half_head = TcpStream::connect(t.receiver).await.unwrap();
    half_head.write_all(b"POST /webhooks/aftership HTTP/1.1\r\nHost: x\r\n").await.unwrap();
    let mut buf = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(10), half_head.read_to_end(&mut buf))
        .await
        .expect("closed by the server");
    let header_cut = started.elapsed();

    // Body never finished: answered 408 after the request timeout.
    let started = Instant::now();
    let mut slow_body = stalled_client(&t, true).await;
    let mut answer = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), slow_body.read_to_end(&mut answer))
        .await
        .expect("answered")
        .ok();
    let body_cut = started.elapsed();
    println!("header timeout cut after {header_cut:?}, request timeout after {body_cut:?}");
    assert!(header_cut < Duration::from_secs(5), "{header_cut:?}");
    let r = parse_response(answer);
    assert_eq!(r.status, 408, "{}", r.raw_text());
    assert!(body_cut >= Duration::from_millis(1400) && body_cut < Duration::from_secs(5), "{body_cut:?}");
    assert_eq!(t.delivery_count().await, 0);
    // The receiver is fine afterwards.
    assert_eq!(t.post_signed(FIXTURE, SECRET).await.status, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_every_in_flight_slot_held_by_stalled_clients_a_delivery_waits_at_most_the_request_timeout() {
    let tmp = tempfile::tempdir().unwrap();
    settings_with(Some(SECRET), None).save(tmp.path()).unwrap();
    let limits = Limits { max_in_flight: 4, request_timeout: Duration::from_secs(3), ..Limits::default() };
    let t = start_in(tmp.path(), limits).await;
    let mut stalled = Vec::new();
    for _ in 0..4 {
        stalled.push(stalled_client(&t, true).await);
    }
    tokio::time::sleep(Duration::from_millis(1500)).await;
    // Every slot is held: this one waits for the stalled clients' request timeout (about 1.5 s from
    // now), then goes through well before its own.
    let started = Instant::now();
    let r = t.post_signed(FIXTURE, SECRET).await;
    let waited = started.elapsed();
    println!("a delivery behind {} stalled clients waited {waited:?}", stalled.len());
    assert_eq!(r.status, 200, "{}", r.text());
    assert!(waited < Duration::from_secs(3), "{waited:?}");
    assert_eq!(t.delivery_count().await, 1);
}
