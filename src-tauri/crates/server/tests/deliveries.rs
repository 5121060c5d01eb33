//! What is kept of each delivery: odd bodies stored byte for byte (broken JSON, non-UTF-8, empty, `[]`,
//! unknown event and tag, a trailing newline, CRLF), whatever the verdict; the peer, forwarding headers
//! and every header in order; and deduplication on `event_id` (a repeat is stored, flagged, answered
//! like the original and changes nothing; an invalid attempt never blocks a later valid one).

mod common;

use common::*;
use serde_json::{json, Value};

async fn detail(t: &TestEngine, event_id_or_latest: Option<&str>) -> Value {
    let id = match event_id_or_latest {
        Some(eid) => t.deliveries_for_event(eid).await[0]["id"].as_i64().unwrap(),
        None => t.latest_delivery().await["id"].as_i64().unwrap(),
    };
    t.delivery(id).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn odd_bodies_are_stored_byte_for_byte() {
    let t = start(Some(SECRET)).await;
    let unknown = serde_json::to_vec(&json!({
        "event": "parcel_teleported", "event_id": event_id(), "ts": 1_700_000_000,
        "msg": {"id": "odd-unknown", "tracking_number": "TELE1", "slug": "starfleet",
                "tag": "Teleported", "subtag": "Teleported_042", "checkpoints": []}
    }))
    .unwrap();
    let mut trailing_newline = FIXTURE.to_vec();
    trailing_newline.extend_from_slice(b"\n");
    let crlf = String::from_utf8(FIXTURE.to_vec()).unwrap().replace('\n', "\r\n").into_bytes();
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("broken JSON", b"{\"event\": \"tracking_update\", \"msg\": {\"tag\": ".to_vec()),
        ("non-UTF-8", b"\xff\xfe\x00binary\x80\x81 \xc3\x28 {\"event\":1}".to_vec()),
        ("empty", Vec::new()),
        ("empty array", b"[]".to_vec()),
        ("JSON string", b"\"tracking_update\"".to_vec()),
        ("unknown event and tag", unknown),
        ("trailing newline", trailing_newline),
        ("CRLF line endings", crlf),
        ("NUL bytes and unicode", "{\"a\":\"\u{0}é☃\u{1F4E6}\"}\u{0}".as_bytes().to_vec()),
    ];
    for (what, body) in &cases {
        // Signed properly: verified, answered 200, kept exactly.
        let r = t.post_signed(body, SECRET).await;
        assert_eq!(r.status, 200, "{what}: {}", r.text());
        let d = detail(&t, None).await;
        assert_eq!(d["verdict"], "valid", "{what}");
        assert_same_bytes(&b64decode(d["body_base64"].as_str().unwrap()), body, what);
        assert_eq!(d["size"], body.len() as i64, "{what}");
        assert_eq!(d["body_truncated"], false, "{what}");
        // Unsigned: answered 401 and kept exactly all the same.
        let r = t.post(body, &[]).await;
        assert_eq!(r.status, 401, "{what}");
        let d = detail(&t, None).await;
        assert_eq!(d["verdict"], "missing", "{what}");
        assert_same_bytes(&b64decode(d["body_base64"].as_str().unwrap()), body, what);
    }
    assert_eq!(t.delivery_count().await, cases.len() * 2);

    // What could be parsed was; what could not says why.
    let broken = t.get_json("/api/deliveries?limit=500").await["items"].as_array().unwrap().clone();
    let last_of = |i: usize| &broken[broken.len() - 1 - 2 * i];
    let d = t.delivery(last_of(0)["id"].as_i64().unwrap()).await;
    assert!(d["parse_error"].as_str().unwrap().contains("not JSON"), "{d}");
    assert!(d["projection"].as_str().unwrap().contains("not an AfterShip envelope"), "{d}");
    let d = t.delivery(last_of(3)["id"].as_i64().unwrap()).await;
    assert!(d["parse_error"].as_str().unwrap().contains("not an object"), "{d}");
    let unknown = last_of(5);
    assert_eq!(unknown["event"], "parcel_teleported");
    assert_eq!(unknown["tag"], "Teleported");
    assert_eq!(unknown["slug"], "starfleet");
    let sid = unknown["shipment_id"].as_i64().expect("an unknown tag still projects");
    let s = t.shipment(sid).await;
    assert_eq!(s["tag"], "Teleported");
    assert_eq!(s["subtag"], "Teleported_042");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_compressed_body_is_kept_as_received_not_decompressed() {
    let t = start(Some(SECRET)).await;
    // The gzip header and some deflate bytes: whatever they are, they are kept and hashed as sent.
    let gz: Vec<u8> = [
        &[0x1f, 0x8b, 0x08, 0x00, 0, 0, 0, 0, 0x00, 0x03][..],
        b"\xcb\x48\xcd\xc9\xc9\x07\x00\x86\xa6\x10\x36\x05\x00\x00\x00",
    ]
    .concat();
    let sig = sign(SECRET, &gz);
    let r = t.post(&gz, &[("Content-Encoding", "gzip"), ("aftership-hmac-sha256", &sig)]).await;
    assert_eq!(r.status, 200, "{}", r.text());
    let d = detail(&t, None).await;
    assert_eq!(d["verdict"], "valid", "the signature covers the bytes as received");
    assert_same_bytes(&b64decode(d["body_base64"].as_str().unwrap()), &gz, "gzip body");
    // Signed over the uncompressed text instead: the diagnosis points at the encoding.
    let sig = sign(SECRET, b"hello");
    assert_eq!(
        t.post(&gz, &[("Content-Encoding", "gzip"), ("aftership-hmac-sha256", &sig)]).await.status,
        401
    );
    let d = detail(&t, None).await;
    assert!(d["signature"]["diagnosis"].as_str().unwrap().contains("compressed"), "{d}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn peer_forwarding_headers_and_all_headers_in_order_are_kept() {
    let t = start(Some(SECRET)).await;
    let sig = sign(SECRET, FIXTURE);
    let r = t
        .post(
            FIXTURE,
            &[
                ("X-Zeta", "1"),
                ("Aftership-Hmac-Sha256", &sig),
                ("X-Alpha", "2"),
                ("User-Agent", "AfterShipTrackingWebhook/4.0.0"),
                ("X-Forwarded-For", "104.154.18.15, 10.0.0.1"),
                ("CF-Connecting-IP", "34.122.118.39"),
                ("X-Mid", "3"),
            ],
        )
        .await;
    assert_eq!(r.status, 200);
    let d = detail(&t, None).await;
    assert_eq!(d["method"], "POST");
    assert_eq!(d["path"], "/webhooks/aftership");
    assert!(d["peer"].as_str().unwrap().starts_with("127.0.0.1:"), "{d}");
    assert_eq!(d["forwarded_for"], "104.154.18.15, 10.0.0.1");
    assert_eq!(d["cf_connecting_ip"], "34.122.118.39");
    let names: Vec<String> = d["headers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h[0].as_str().unwrap().to_ascii_lowercase())
        .collect();
    let pos = |n: &str| names.iter().position(|x| x == n).unwrap_or_else(|| panic!("{n} kept: {names:?}"));
    assert!(pos("x-zeta") < pos("aftership-hmac-sha256"));
    assert!(pos("aftership-hmac-sha256") < pos("x-alpha"));
    assert!(pos("x-alpha") < pos("user-agent"));
    assert!(pos("cf-connecting-ip") < pos("x-mid"));
    assert!(d["headers"].as_array().unwrap().iter().any(|h| h[1] == sig), "values kept");
    // received_at is RFC 3339 UTC with milliseconds.
    let at = d["received_at"].as_str().unwrap();
    assert!(at.ends_with('Z') && at.len() == 24, "{at}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_repeat_of_an_accepted_event_is_flagged_answered_200_and_changes_nothing() {
    let t = start(Some(SECRET)).await;
    let mut events = t.engine().subscribe();
    let (eid, body) = update(
        "dup1",
        "InTransit",
        "2021-01-14T10:41:24+00:00",
        vec![checkpoint("2021-01-14T00:52:00", "InTransit", "Departed")],
    );
    assert_eq!(t.post_signed(&body, SECRET).await.status, 200);
    let first = t.deliveries_for_event(&eid).await[0].clone();
    let sid = first["shipment_id"].as_i64().unwrap();
    let before = t.shipment(sid).await;
    let _ = events.recv().await.unwrap();

    // The identical retry.
    let r = t.post_signed(&body, SECRET).await;
    assert_eq!(r.status, 200, "answered like the original so AfterShip stops retrying");
    // A repeat of the same event id with different, newer content (validly signed): still a duplicate.
    let (_, other) = update(
        "dup1",
        "Delivered",
        "2021-01-20T10:00:00+00:00",
        vec![checkpoint("2021-01-20T09:00:00", "Delivered", "Delivered")],
    );
    let mut v: Value = serde_json::from_slice(&other).unwrap();
    v["event_id"] = json!(eid);
    let other = serde_json::to_vec(&v).unwrap();
    assert_eq!(t.post_signed(&other, SECRET).await.status, 200);

    let items = t.deliveries_for_event(&eid).await;
    assert_eq!(items.len(), 3, "every attempt is stored");
    assert_eq!(items[2]["duplicate"], false);
    for repeat in &items[..2] {
        assert_eq!(repeat["duplicate"], true);
        assert_eq!(repeat["status"], 200);
        let d = t.delivery(repeat["id"].as_i64().unwrap()).await;
        assert_eq!(d["duplicate_of"], first["id"]);
        assert!(d["projection"].as_str().unwrap().contains("duplicate"), "{d}");
    }
    let after = t.shipment(sid).await;
    assert_eq!(after["tag"], "InTransit");
    assert_eq!(after["updated_at"], before["updated_at"]);
    assert_eq!(after["checkpoints"], before["checkpoints"]);
    assert_eq!(t.shipments().await.len(), 1);
    // The engine reports both repeats without a shipment change.
    for _ in 0..2 {
        let ev = events.recv().await.unwrap();
        assert!(ev.duplicate_of.is_some());
        assert!(ev.shipment.is_none());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_invalid_attempt_does_not_block_a_later_valid_one_with_the_same_event_id() {
    let t = start(Some(SECRET)).await;
    let (eid, body) = update("dup2", "OutForDelivery", "2021-01-14T10:41:24+00:00", vec![]);
    assert_eq!(t.post(&body, &[("aftership-hmac-sha256", &sign("stale-secret", &body))]).await.status, 401);
    assert_eq!(t.post(&body, &[]).await.status, 401);
    assert!(t.shipments().await.is_empty());
    let r = t.post_signed(&body, SECRET).await;
    assert_eq!(r.status, 200);
    let items = t.deliveries_for_event(&eid).await;
    assert_eq!(items.len(), 3);
    assert_eq!(items[0]["verdict"], "valid");
    assert_eq!(items[0]["duplicate"], false, "the first valid attempt is the original");
    let s = t.shipments().await;
    assert_eq!(s.len(), 1);
    assert_eq!(s[0]["tag"], "OutForDelivery");

    // A later forged attempt of that accepted event is answered 401 and changes nothing either.
    let (_, forged) = update("dup2", "Delivered", "2021-02-01T00:00:00+00:00", vec![]);
    let mut v: Value = serde_json::from_slice(&forged).unwrap();
    v["event_id"] = json!(eid);
    let forged = serde_json::to_vec(&v).unwrap();
    assert_eq!(t.post(&forged, &[("aftership-hmac-sha256", &sign("attacker", &forged))]).await.status, 401);
    assert_eq!(t.shipments().await[0]["tag"], "OutForDelivery");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_repeats_of_one_event_are_stored_once_as_original() {
    let t = start(Some(SECRET)).await;
    let (eid, body) = update("dup3", "InTransit", "2021-01-14T10:41:24+00:00", vec![]);
    let mut tasks = Vec::new();
    for _ in 0..16 {
        let (receiver, path, body) = (t.receiver, t.webhook_path.clone(), body.clone());
        tasks.push(tokio::spawn(async move {
            let sig = sign(SECRET, &body);
            request(receiver, "POST", &path, &[("aftership-hmac-sha256", &sig)], &body).await.status
        }));
    }
    for task in tasks {
        assert_eq!(task.await.unwrap(), 200);
    }
    let items = t.deliveries_for_event(&eid).await;
    assert_eq!(items.len(), 16);
    assert_eq!(items.iter().filter(|i| i["duplicate"] == false).count(), 1, "exactly one original");
    assert_eq!(t.shipments().await.len(), 1);
}
