//! The engine's lifecycle: a restart on the same data dir keeps deliveries, shipments, the token and
//! the settings; a graceful shutdown answers and commits the delivery in flight; a receiver port in
//! use leaves the engine up with the receiver `Failed` and a message saying what to do, and choosing
//! another address in Settings recovers without a restart.

mod common;

use std::time::Duration;

use common::*;
use serde_json::json;
use shipwatch_api::ReceiverState;
use shipwatch_server::config::Limits;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_keeps_deliveries_shipments_settings_and_the_token() {
    let tmp = tempfile::tempdir().unwrap();
    settings_with(Some(SECRET), None).save(tmp.path()).unwrap();
    let mut t = start_in(tmp.path(), Limits::default()).await;
    let (e1, b1) = update(
        "restart",
        "InTransit",
        "2021-01-14T09:00:00+00:00",
        vec![checkpoint("2021-01-14T08:00:00", "InTransit", "departed")],
    );
    let (e2, b2) = update(
        "restart",
        "Delivered",
        "2021-01-15T09:00:00+00:00",
        vec![checkpoint("2021-01-15T08:00:00", "Delivered", "delivered")],
    );
    assert_eq!(t.post_signed(&b1, SECRET).await.status, 200);
    assert_eq!(t.post_signed(&b2, SECRET).await.status, 200);
    assert_eq!(t.post(&b2, &[]).await.status, 401);
    let r = t.api("PUT", "/api/settings", Some(&json!({"public_url": "https://kept.example"}))).await;
    assert_eq!(r.status, 200);
    // The desk's clock archives the shipment delivered in 2021 at its next pass (the restart runs
    // one at start): let it run first, so both engines answer the same.
    t.engine().run_clock().await;
    let deliveries = t.get_json("/api/deliveries").await;
    let shipments = t.get_json("/api/shipments").await;
    assert_eq!(shipments["items"][0]["archived"], true, "{shipments}");
    let sid = shipments["items"][0]["id"].as_i64().unwrap();
    let shipment = t.shipment(sid).await;
    let token = t.token.clone();
    let detail = t.delivery(deliveries["items"][1]["id"].as_i64().unwrap()).await;
    t.shutdown().await;
    // Stopped means stopped.
    assert!(tokio::net::TcpStream::connect(t.receiver).await.is_err(), "receiver still listening");

    let t2 = start_in(tmp.path(), Limits::default()).await;
    assert_eq!(t2.token, token, "the same inspector token (bookmarked UI links keep working)");
    assert_eq!(t2.get_json("/api/deliveries").await, deliveries);
    assert_eq!(t2.get_json("/api/shipments").await, shipments);
    assert_eq!(t2.shipment(sid).await, shipment);
    assert_eq!(t2.delivery(detail["id"].as_i64().unwrap()).await, detail);
    assert_eq!(t2.get_json("/api/settings").await["public_url"], "https://kept.example");
    // Dedup spans restarts: AfterShip's retry of an event accepted before the restart is a duplicate.
    assert_eq!(t2.post_signed(&b1, SECRET).await.status, 200);
    let items = t2.deliveries_for_event(&e1).await;
    assert_eq!(items.len(), 2);
    assert_eq!(items[0]["duplicate"], true);
    assert_eq!(t2.shipments().await[0]["tag"], "Delivered");
    assert_eq!(t2.deliveries_for_event(&e2).await.len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_engine_on_the_same_data_dir_is_refused_until_the_first_stops() {
    // Two engines on one file would each keep their own shipment keys and duplicate filter: a
    // shipment split in two, a repeat stored as new. The second one refuses, naming the first.
    let dir = tempfile::tempdir().unwrap();
    let mut first = start_in(dir.path(), Default::default()).await;
    let config = || shipwatch_server::EngineConfig {
        data_dir: Some(dir.path().to_owned()),
        listen: Some("127.0.0.1:0".parse().unwrap()),
        inspector_listen: Some("127.0.0.1:0".parse().unwrap()),
        inspector: Some(true),
        limits: Default::default(),
        ..Default::default()
    };
    let err = match shipwatch_server::Engine::start(config()).await {
        Ok(_) => panic!("a second engine started on the same data dir"),
        Err(e) => e.to_string(),
    };
    assert!(err.contains("another Shipwatch"), "{err}");
    assert!(err.contains(&format!("(process {})", std::process::id())), "names the holder: {err}");
    assert!(err.contains("--data-dir"), "says what to do: {err}");
    assert_eq!(first.post_signed(FIXTURE, SECRET).await.status, 200, "the first one is unharmed");
    first.shutdown().await;
    let second = shipwatch_server::Engine::start(config()).await.expect("free once the first stopped");
    second.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_data_dir_moved_away_while_running_refuses_deliveries_and_says_so() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let mut t = start_in(&data, Default::default()).await;
    assert_eq!(t.post_signed(FIXTURE, SECRET).await.status, 200);
    assert_eq!(request(t.receiver, "GET", "/healthz", &[], b"").await.status, 200);
    std::fs::rename(&data, tmp.path().join("moved")).unwrap();
    let (_, body) = update("moved", "InTransit", "2021-01-14T09:00:00+00:00", vec![]);
    assert_eq!(t.post_signed(&body, SECRET).await.status, 503, "never a 200 for what cannot be kept");
    // Health checks and the inspector's status say so, not only the log.
    assert_eq!(request(t.receiver, "GET", "/healthz", &[], b"").await.status, 503);
    let status = t.get_json("/api/status").await;
    assert!(status["warnings"][0].as_str().unwrap().starts_with("Saving to disk failed"), "{status}");
    t.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_answers_and_commits_the_delivery_in_flight() {
    let mut t = start(Some(SECRET)).await;
    let (eid, body) = update("inflight", "InTransit", "2021-01-14T09:00:00+00:00", vec![]);
    let sig = sign(SECRET, &body);
    let mut stream = tokio::net::TcpStream::connect(t.receiver).await.unwrap();
    let head = format!(
        "POST {} HTTP/1.1\r\nHost: {}\r\naftership-hmac-sha256: {sig}\r\nContent-Length: {}\r\n\r\n",
        t.webhook_path,
        t.receiver,
        body.len()
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    let half = body.len() / 2;
    stream.write_all(&body[..half]).await.unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;

    // Stop while the delivery is half received.
    let engine = t.engine.take().unwrap();
    let stopping = tokio::spawn(async move { engine.shutdown().await });
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(!stopping.is_finished(), "shutdown waits for the delivery in flight");
    stream.write_all(&body[half..]).await.unwrap();
    let mut answer = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut answer)).await.unwrap().unwrap();
    let r = parse_response(answer);
    assert_eq!(r.status, 200, "{}", r.raw_text());
    tokio::time::timeout(Duration::from_secs(20), stopping).await.expect("shutdown finishes").unwrap();

    // It is on disk.
    let conn = rusqlite::Connection::open(t.db_path()).unwrap();
    let n: i64 = conn
        .query_row("SELECT count(*) FROM deliveries WHERE event_id = ?1 AND status = 200", [&eid], |r| {
            r.get(0)
        })
        .unwrap();
    assert_eq!(n, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_answers_every_request_already_sent_on_connections_not_yet_read() {
    // Clients that sent a whole request just before the stop: some connections are accepted but not
    // yet read, some still wait in the kernel's backlog. Each is answered (and stored) or, at worst,
    // never answered 2xx without being stored; none is closed unanswered.
    for round in 0..3 {
        let mut t = start(Some(SECRET)).await;
        let mut streams = Vec::new();
        let mut events = Vec::new();
        for i in 0..64 {
            let (eid, body) =
                update(&format!("stop{round}-{i}"), "InTransit", "2021-01-14T09:00:00+00:00", vec![]);
            let head = format!(
                "POST {} HTTP/1.1\r\nHost: {}\r\naftership-hmac-sha256: {}\r\nContent-Length: {}\r\n\r\n",
                t.webhook_path,
                t.receiver,
                sign(SECRET, &body),
                body.len()
            );
            let mut stream = tokio::net::TcpStream::connect(t.receiver).await.unwrap();
            stream.write_all(&[head.as_bytes(), &body[..]].concat()).await.unwrap();
            streams.push(stream);
            events.push(eid);
        }
        let engine = t.engine.take().unwrap();
        let stopping = tokio::spawn(async move { engine.shutdown().await });
        let mut answered = Vec::new();
        for (mut stream, eid) in streams.into_iter().zip(&events) {
            let mut answer = Vec::new();
            let _ =
                tokio::time::timeout(Duration::from_secs(20), stream.read_to_end(&mut answer)).await.unwrap();
            assert!(!answer.is_empty(), "round {round}: {eid} was closed without an answer");
            let r = parse_response(answer);
            assert_eq!(r.status, 200, "round {round}: {}", r.raw_text());
            answered.push(eid.clone());
        }
        tokio::time::timeout(Duration::from_secs(20), stopping).await.expect("shutdown finishes").unwrap();
        let conn = rusqlite::Connection::open(t.db_path()).unwrap();
        for eid in answered {
            let n: i64 = conn
                .query_row(
                    "SELECT count(*) FROM deliveries WHERE event_id = ?1 AND status = 200",
                    [&eid],
                    |r| r.get(0),
                )
                .unwrap();
            assert_eq!(n, 1, "round {round}: {eid} answered 200 and stored");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_is_prompt_with_a_live_event_stream_open() {
    // The UI keeps GET /api/stream open for ever: stopping must not wait for it to hang up.
    let mut t = start(Some(SECRET)).await;
    let mut sse = Sse::connect(&t).await;
    assert_eq!(t.post_signed(FIXTURE, SECRET).await.status, 200);
    assert!(sse.next_event(Duration::from_secs(5)).await.is_some());
    let started = std::time::Instant::now();
    tokio::time::timeout(Duration::from_secs(30), t.shutdown()).await.expect("shutdown finishes");
    let took = started.elapsed();
    println!("shutdown with an SSE client connected took {took:?}");
    assert!(took < Duration::from_secs(3), "shutdown waited {took:?} for the event stream");
    // The stream ended rather than being left dangling.
    let mut ended = false;
    for _ in 0..10 {
        if sse.next_event(Duration::from_secs(1)).await.is_none() {
            ended = true;
            break;
        }
    }
    assert!(ended, "the event stream ends when the engine stops");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_receiver_port_in_use_fails_softly_with_advice_and_recovers_from_settings() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let taken_addr = taken.local_addr().unwrap();
    let tmp = tempfile::tempdir().unwrap();
    settings_with(Some(SECRET), None).save(tmp.path()).unwrap();
    let config = shipwatch_server::EngineConfig {
        data_dir: Some(tmp.path().to_owned()),
        listen: Some(taken_addr),
        inspector_listen: Some("127.0.0.1:0".parse().unwrap()),
        ..Default::default()
    };
    let engine = shipwatch_server::Engine::start(config).await.expect("the engine still starts");
    match engine.receiver_state() {
        ReceiverState::Failed { addr, message } => {
            assert_eq!(addr, taken_addr.to_string());
            assert!(message.contains(&taken_addr.to_string()), "{message}");
            assert!(message.contains("Another program"), "{message}");
            assert!(
                message.contains("--listen") && message.contains("SHIPWATCH_LISTEN"),
                "says what to do: {message}"
            );
        }
        other => panic!("expected Failed, got {other:?}"),
    }
    assert!(engine.receiver_url().is_none());
    // The inspector runs, so the window or UI can show the problem.
    let (inspector, rest) = split_url(&engine.inspector_url().unwrap());
    let token = rest.trim_start_matches("/?token=").to_owned();
    let auth = format!("Bearer {token}");
    let status = request(inspector, "GET", "/api/status", &[("Authorization", &auth)], b"").await.json();
    assert_eq!(status["receiver"]["state"], "failed");
    assert!(status["receiver"]["message"].as_str().unwrap().contains("Another program"));
    // A test delivery cannot be sent and says why.
    let r = request(inspector, "POST", "/api/test-delivery", &[("Authorization", &auth)], b"").await;
    assert_eq!(r.status, 400);
    assert!(r.json()["error"].as_str().unwrap().contains("not listening"));

    // Choose another address in Settings: the receiver starts, no restart needed.
    let body = serde_json::to_vec(&json!({"listen": "127.0.0.1:0"})).unwrap();
    let r = request(
        inspector,
        "PUT",
        "/api/settings",
        &[("Authorization", &auth), ("Content-Type", "application/json")],
        &body,
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert!(
        matches!(engine.receiver_state(), ReceiverState::Listening { .. }),
        "{:?}",
        engine.receiver_state()
    );
    let (receiver, path) = split_url(&engine.receiver_url().unwrap());
    assert_ne!(receiver, taken_addr);
    let sig = sign(SECRET, FIXTURE);
    assert_eq!(
        request(receiver, "POST", &path, &[("aftership-hmac-sha256", &sig)], FIXTURE).await.status,
        200
    );

    // Moving a running receiver to an address in use is refused, and the receiver keeps running.
    let saved = std::fs::read(tmp.path().join("settings.json")).unwrap();
    let body = serde_json::to_vec(&json!({"listen": taken_addr.to_string()})).unwrap();
    let r = request(
        inspector,
        "PUT",
        "/api/settings",
        &[("Authorization", &auth), ("Content-Type", "application/json")],
        &body,
    )
    .await;
    assert_eq!(r.status, 400, "{}", r.text());
    assert!(r.json()["error"].as_str().unwrap().contains("Another program"), "{}", r.text());
    assert!(matches!(engine.receiver_state(), ReceiverState::Listening { .. }));
    assert_eq!(engine.receiver_url().map(|u| split_url(&u).0), Some(receiver));
    assert_eq!(request(receiver, "GET", "/healthz", &[], b"").await.status, 200, "still listening");
    assert_eq!(std::fs::read(tmp.path().join("settings.json")).unwrap(), saved, "nothing saved");
    engine.shutdown().await;
    drop(taken);
}
