//! The developer's day (issue 20) on real SQLite files: a delivery is found by the body fields a
//! developer searches for (customer names and emails, destination, custom fields, note, courier),
//! the feed takes a received-time range through the received-time index, and each listed delivery
//! carries its forward state (so a reload shows it), with the forward queue's failing summary for
//! the status bar. Every query's plan is checked.

use rusqlite::Connection;
use serde_json::json;
use shipwatch_aftership::{parse_envelope, DeliveryVerdict, SecretSlot};
use shipwatch_api::{DeliveryQuery, ShipmentQuery};
use shipwatch_store::forwards::{self, AttemptOutcome};
use shipwatch_store::{queries, NewDelivery, Store, StoreError, StoredVerdict, WriterConfig};

/// 2026-12-08T00:00:00Z in Unix ms.
const DAY: i64 = 1_796_688_000_000;
const HOUR: i64 = 3_600_000;

fn delivery(body: Vec<u8>, at: i64, verdict: DeliveryVerdict) -> NewDelivery {
    NewDelivery {
        received_at_ms: at,
        peer: "127.0.0.1:50000".into(),
        forwarded_for: None,
        cf_connecting_ip: None,
        method: "POST".into(),
        path: "/webhooks/aftership".into(),
        headers: vec![("content-type".into(), "application/json".into())],
        body_size: body.len() as i64,
        envelope: parse_envelope(&body).ok(),
        body,
        body_truncated: false,
        status: if verdict.accepted() { 200 } else { 401 },
        verdict: StoredVerdict::Signature(verdict),
        parse_error: None,
        diagnosis: None,
    }
}

fn valid(body: Vec<u8>, at: i64) -> NewDelivery {
    delivery(body, at, DeliveryVerdict::Valid(SecretSlot::Current))
}

/// A legacy v4 update of shipment `n` (customer_name, emails, custom_fields, note), with `extra`
/// fields of `msg` set.
fn legacy(n: u64, extra: serde_json::Value) -> Vec<u8> {
    let mut msg = json!({
        "id": format!("{n:024x}"),
        "tracking_number": format!("9400TEST{n:08}"),
        "slug": "royal-mail",
        "title": format!("Order {n}"),
        "order_id": format!("ORD-{n}"),
        "tag": "InTransit",
        "subtag": "InTransit_002",
        "subtag_message": "Acceptance scan",
        "shipment_type": "Tracked 48",
        "customer_name": null,
        "emails": [],
        "custom_fields": {},
        "note": null,
        "last_updated_at": format!("2026-12-0{}T10:00:00+00:00", 1 + n % 7),
        "checkpoints": [{"checkpoint_time": "2026-12-01T09:00:00", "tag": "InTransit",
                         "message": "Item received", "location": "Swindon"}],
    });
    for (k, v) in extra.as_object().unwrap() {
        msg[k] = v.clone();
    }
    serde_json::to_vec_pretty(&json!({
        "event": "tracking_update",
        // Another update of the same shipment is another event.
        "event_id": format!("5e1a{n:04x}-{:04x}-4222-8333-444455556666", extra.to_string().len()),
        "is_tracking_first_tag": false,
        "ts": 1_796_000_000 + n,
        "msg": msg,
    }))
    .unwrap()
}

/// SQLite's plan for `sql` with `args`, its steps joined with "; ".
fn plan(conn: &Connection, sql: &str, args: &[rusqlite::types::Value]) -> String {
    conn.prepare(&format!("EXPLAIN QUERY PLAN {sql}"))
        .unwrap()
        .query_map(rusqlite::params_from_iter(args), |r| r.get::<_, String>(3))
        .unwrap()
        .collect::<rusqlite::Result<Vec<_>>>()
        .unwrap()
        .join("; ")
}

/// No step of `plan` reads a whole table (a `SCAN` of a table without an index).
fn assert_indexed(plan: &str) {
    for step in plan.split("; ") {
        let whole_table = step.starts_with("SCAN ")
            && !step.contains("USING")
            && !step.contains("VIRTUAL TABLE")
            && !step.starts_with("SCAN CONSTANT");
        assert!(!whole_table, "a full scan in: {plan}");
    }
}

fn open(dir: &std::path::Path) -> Store {
    Store::open(dir, WriterConfig { full_sync: false, ..WriterConfig::default() }).unwrap()
}

async fn found(store: &Store, q: &str) -> Vec<String> {
    let query = DeliveryQuery { q: Some(q.to_owned()), ..Default::default() };
    let page = store.read(move |c| queries::list_deliveries(c, &query)).await.unwrap();
    page.items.into_iter().map(|d| d.tracking_number.unwrap_or_default()).collect()
}

#[tokio::test]
async fn deliveries_are_found_by_the_body_fields_a_developer_searches_for() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    let bodies = [
        legacy(1, json!({"customer_name": "Grace Hopper", "emails": ["grace@navy.example"]})),
        legacy(
            2,
            json!({"custom_fields": {"warehouse": "Rotterdam-3", "priority": 42}, "note": "fragile lamp"}),
        ),
        legacy(3, json!({"destination_city": "Aberystwyth", "destination_postal_code": "SY23 3DB"})),
        legacy(4, json!({"smses": ["+447700900123"], "signed_by": "K. Wójcik"})),
    ];
    for (i, b) in bodies.into_iter().enumerate() {
        store.insert(valid(b, DAY + i as i64)).await.unwrap();
    }
    // The 2026-07 shape: customers[] in place of customer_name (the sample's Ada Lovelace).
    let versioned = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../aftership/tests/fixtures/2026-07-tracking-update.json"
    ))
    .unwrap();
    store.insert(valid(versioned, DAY + 10)).await.unwrap();

    assert_eq!(found(&store, "hopper").await, ["9400TEST00000001"], "a customer name, any case");
    assert_eq!(found(&store, "grace@navy").await, ["9400TEST00000001"], "an email");
    assert_eq!(found(&store, "Rotterdam").await, ["9400TEST00000002"], "a custom field's value");
    assert_eq!(found(&store, "fragile").await, ["9400TEST00000002"], "the note");
    assert_eq!(found(&store, "aberyst").await, ["9400TEST00000003"], "the destination city");
    assert_eq!(found(&store, "SY23 3DB").await, ["9400TEST00000003"], "the postal code");
    assert_eq!(found(&store, "7700900123").await, ["9400TEST00000004"], "a phone number for SMS");
    assert_eq!(found(&store, "wójcik").await, ["9400TEST00000004"], "who signed, folded case");
    assert_eq!(found(&store, "Royal Mail").await.len(), 4, "the courier's name, not only its slug");
    assert_eq!(found(&store, "Acceptance scan").await.len(), 4, "the subtag's message");
    assert_eq!(found(&store, "Ada Lovelace").await.len(), 1, "customers[].name (2025-01 onward)");
    assert_eq!(found(&store, "ada@example.com").await.len(), 1, "customers[].email");
    // The rest of a body is not indexed (a trigram index of every body would be gigabytes).
    assert!(found(&store, "Tracked 48").await.is_empty(), "shipment_type is not a search field");
    // Shipments are found the same way.
    let query = ShipmentQuery { q: Some("grace hopper".into()), ..Default::default() };
    let list = store.read(move |c| queries::list_shipments(c, &query)).await.unwrap();
    assert_eq!(list.items.len(), 1);

    // A delivery that failed verification changed no shipment: found by its tracking number, not
    // by its customer (its body is kept, never indexed).
    let forged = legacy(9, json!({"customer_name": "Mallory Forger"}));
    store.insert(delivery(forged, DAY + 20, DeliveryVerdict::Invalid)).await.unwrap();
    assert_eq!(found(&store, "9400TEST00000009").await, ["9400TEST00000009"]);
    assert!(found(&store, "Mallory").await.is_empty());

    // A later update's details replace the earlier ones.
    let moved =
        legacy(3, json!({"destination_city": "Llandudno", "last_updated_at": "2026-12-07T10:00:00+00:00"}));
    store.insert(valid(moved, DAY + 30)).await.unwrap();
    assert_eq!(found(&store, "Llandudno").await.len(), 2, "both deliveries of the shipment");
    assert!(found(&store, "Aberystwyth").await.is_empty());

    let path = store.path().to_owned();
    store.close();
    let conn = Connection::open(path).unwrap();
    let query = DeliveryQuery { q: Some("hopper".into()), ..Default::default() };
    let (sql, args, _) = queries::list_deliveries_sql(&conn, &query).unwrap();
    let p = plan(&conn, &sql, &args);
    assert!(p.contains("VIRTUAL TABLE INDEX") && p.contains("shipment_search"), "{p}");
    assert_indexed(&p);
}

async fn page(store: &Store, query: DeliveryQuery) -> (Vec<i64>, Option<String>) {
    let page = store.read(move |c| queries::list_deliveries(c, &query)).await.unwrap();
    (page.items.iter().map(|d| d.id).collect(), page.next)
}

#[tokio::test]
async fn the_feed_takes_a_received_time_range_through_its_index() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    // One delivery an hour from 2026-12-06T00:00Z for three days, every fifth one refused.
    let mut ids = Vec::new();
    for h in 0..72u64 {
        let at = DAY - 2 * 24 * HOUR + h as i64 * HOUR;
        let verdict =
            if h % 5 == 0 { DeliveryVerdict::Invalid } else { DeliveryVerdict::Valid(SecretSlot::Current) };
        ids.push((store.insert(delivery(legacy(100 + h, json!({})), at, verdict)).await.unwrap().id, at));
    }
    // A slow client's delivery: received earlier than the one stored before it.
    let late = store.insert(valid(legacy(500, json!({})), DAY + 90 * 60_000)).await.unwrap().id;
    let q = |since: Option<&str>, until: Option<&str>| DeliveryQuery {
        since: since.map(str::to_owned),
        until: until.map(str::to_owned),
        ..Default::default()
    };
    let in_range = |from: i64, to: i64| -> Vec<i64> {
        let mut v: Vec<(i64, i64)> = ids.iter().copied().filter(|(_, at)| (from..to).contains(at)).collect();
        v.push((late, DAY + 90 * 60_000));
        v.retain(|(_, at)| (from..to).contains(at));
        v.sort_by_key(|&(id, at)| std::cmp::Reverse((at, id)));
        v.into_iter().map(|(id, _)| id).collect()
    };

    // A date as `until` takes in that whole day; as `since`, from its start (UTC).
    let (day, next) = page(&store, q(Some("2026-12-08"), Some("2026-12-08"))).await;
    assert_eq!(day, in_range(DAY, DAY + 24 * HOUR), "newest received first");
    assert_eq!(day.len(), 25, "the 24 hourly ones and the slow client's");
    assert_eq!(next, None);
    // RFC 3339 with an offset: 2026-12-08T01:00+01:00 is midnight UTC.
    let (two_hours, _) =
        page(&store, q(Some("2026-12-08T01:00:00+01:00"), Some("2026-12-08T02:00:00Z"))).await;
    assert_eq!(two_hours, in_range(DAY, DAY + 2 * HOUR));
    assert_eq!(two_hours.len(), 3, "00:00, 01:00 and the slow one at 01:30");
    // Only one bound.
    assert_eq!(page(&store, q(Some("2026-12-08T20:00:00Z"), None)).await.0.len(), 4);
    assert_eq!(page(&store, q(None, Some("2026-12-06T03:00:00Z"))).await.0.len(), 3);
    // Paged: every page follows the last, none is lost or repeated.
    let mut all = Vec::new();
    let mut before = None;
    loop {
        let query = DeliveryQuery { limit: Some(7), before: before.clone(), ..q(Some("2026-12-06"), None) };
        let (ids, next) = page(&store, query).await;
        all.extend(ids);
        match next {
            Some(n) => before = Some(n),
            None => break,
        }
    }
    assert_eq!(all, in_range(DAY - 2 * 24 * HOUR, i64::MAX));
    // With the other filters.
    let failed =
        DeliveryQuery { verdict: Some("failed".into()), ..q(Some("2026-12-08"), Some("2026-12-08")) };
    assert_eq!(page(&store, failed).await.0.len(), 5, "hours 50, 55, 60, 65, 70");
    // Counted the same (export).
    let day_q = q(Some("2026-12-08"), Some("2026-12-08"));
    assert_eq!(store.read(move |c| queries::count_deliveries(c, &day_q)).await.unwrap(), 25);
    // Anything else is refused, saying what to write.
    let bad = q(Some("yesterday"), None);
    let err = store.read(move |c| queries::list_deliveries(c, &bad)).await.unwrap_err();
    assert!(
        matches!(&err, StoreError::BadQuery(m) if m.contains("since") && m.contains("RFC 3339")),
        "{err}"
    );

    let path = store.path().to_owned();
    store.close();
    let conn = Connection::open(path).unwrap();
    for query in [
        q(Some("2026-12-08"), Some("2026-12-08")),
        q(Some("2026-12-08"), None),
        DeliveryQuery { before: Some(late.to_string()), ..q(Some("2026-12-06"), None) },
        DeliveryQuery { tag: Some("InTransit".into()), ..q(Some("2026-12-08"), None) },
        DeliveryQuery { verdict: Some("valid".into()), ..q(None, Some("2026-12-08")) },
    ] {
        let (sql, args, _) = queries::list_deliveries_sql(&conn, &query).unwrap();
        let p = plan(&conn, &sql, &args);
        assert!(p.contains("deliveries_received_at"), "{query:?}: {p}");
        assert!(!p.contains("TEMP B-TREE"), "no sort: the index is read in order: {p}");
        assert_indexed(&p);
    }
    // A search, a failed verdict, a diagnosis: their own (small) index, by id, no sort.
    for query in [
        DeliveryQuery { q: Some("9400TEST".into()), ..q(Some("2026-12-08"), None) },
        DeliveryQuery { verdict: Some("failed".into()), ..q(None, Some("2026-12-08")) },
        DeliveryQuery { diagnosis: Some("wrong_secret".into()), ..q(Some("2026-12-06"), None) },
    ] {
        let (sql, args, _) = queries::list_deliveries_sql(&conn, &query).unwrap();
        let p = plan(&conn, &sql, &args);
        assert!(
            !p.contains("deliveries_received_at") && !p.contains("TEMP B-TREE FOR ORDER BY"),
            "{query:?}: {p}"
        );
        assert_indexed(&p);
    }
}

fn attempt(at_ms: i64, state: &'static str, status: Option<u16>, error: Option<&str>) -> AttemptOutcome {
    AttemptOutcome {
        at_ms,
        status,
        error: error.map(str::to_owned),
        round_trip_ms: Some(3),
        state,
        next_attempt_at_ms: (state == "retrying").then_some(at_ms + 1_000),
    }
}

#[tokio::test]
async fn each_listed_delivery_carries_its_forward_state_and_the_queue_says_when_it_keeps_failing() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    let before = store.insert(valid(legacy(1, json!({})), DAY)).await.unwrap().id;
    store.write(forwards::start_from_now).await.unwrap();
    let mut ids = Vec::new();
    for n in 2..=5 {
        ids.push(store.insert(valid(legacy(n, json!({})), DAY + n as i64)).await.unwrap().id);
    }
    let target = "http://127.0.0.1:9/hook";
    let queued = store.write(move |c| forwards::enqueue_new(c, target, false, DAY + 10)).await.unwrap();
    assert_eq!(queued, 4);
    assert_eq!(
        store.read(move |c| forwards::failing(c, DAY + 10)).await.unwrap(),
        None,
        "queued, not failed"
    );
    // Delivered, retrying (a long error), given up, still pending.
    let jobs = store.read(|c| forwards::due(c, DAY + 10, 10)).await.unwrap();
    let job = |d: i64| jobs.iter().find(|j| j.delivery_id == d).unwrap().id;
    let (ok, retrying, gave_up) = (job(ids[0]), job(ids[1]), job(ids[2]));
    let long = format!("connection refused (os error 111) {}", "x".repeat(300));
    let first = long.clone();
    store
        .write(move |c| {
            forwards::record_attempt(c, ok, &attempt(DAY + 11, "delivered", Some(204), None))?;
            forwards::record_attempt(
                c,
                gave_up,
                &attempt(DAY + 11, "gave_up", Some(500), Some("answered 500")),
            )?;
            forwards::record_attempt(c, retrying, &attempt(DAY + 11, "retrying", None, Some(&first)))
        })
        .await
        .unwrap();

    // A fresh list (what a reload asks for) carries each one's state.
    let list = store.read(|c| queries::list_deliveries(c, &DeliveryQuery::default())).await.unwrap();
    let fwd = |id: i64| list.items.iter().find(|d| d.id == id).unwrap().forward.clone();
    assert_eq!(fwd(before), None, "stored before forward mode: never forwarded");
    let delivered = fwd(ids[0]).unwrap();
    assert_eq!((delivered.state.as_str(), delivered.status, delivered.attempts), ("delivered", Some(204), 1));
    let r = fwd(ids[1]).unwrap();
    assert_eq!((r.state.as_str(), r.attempts, r.target.as_str()), ("retrying", 1, target));
    let error = r.error.unwrap();
    assert!(error.starts_with("connection refused") && error.ends_with('…'), "{error}");
    assert_eq!(error.chars().count(), forwards::SHORT_ERROR_CHARS + 1, "shortened in the list");
    assert!(r.next_attempt_at.is_some());
    assert_eq!(fwd(ids[2]).unwrap().state, "gave_up");
    let pending = fwd(ids[3]).unwrap();
    assert_eq!((pending.state.as_str(), pending.attempts), ("pending", 0));
    // The delivery page has it whole; a shipment's deliveries have it too.
    let id = ids[1];
    let record = store.read(move |c| queries::get_delivery(c, id)).await.unwrap();
    assert_eq!(record.item.forward.unwrap().error.as_deref(), Some(long.as_str()));
    let shipment = list.items.iter().find(|d| d.id == ids[1]).unwrap().shipment_id.unwrap();
    let detail = store.read(move |c| queries::get_shipment(c, shipment)).await.unwrap();
    assert_eq!(detail.deliveries[0].forward.as_ref().unwrap().state, "retrying");

    // Failing once, young: no warning. Three attempts: one, with the queue's size.
    assert_eq!(store.read(move |c| forwards::failing(c, DAY + 12)).await.unwrap(), None);
    for k in 0..2 {
        let at = DAY + 20 + k;
        let long = long.clone();
        store
            .write(move |c| {
                forwards::record_attempt(c, retrying, &attempt(at, "retrying", None, Some(&long)))
            })
            .await
            .unwrap();
    }
    let failing = store.read(move |c| forwards::failing(c, DAY + 30)).await.unwrap().unwrap();
    assert_eq!((failing.attempts, failing.queued, failing.since_ms), (3, 2, DAY + 10));
    let warning = failing.warning();
    assert!(
        warning.starts_with(
            "Forwarding to http://127.0.0.1:9/hook has failed since 2026-12-08 00:00:00 UTC: 2 deliveries queued (last error: connection refused"
        ),
        "{warning}"
    );
    // Or one attempt, five minutes old.
    let one = store.insert(valid(legacy(6, json!({})), DAY + 40)).await.unwrap().id;
    let fresh = store.write(move |c| forwards::enqueue_new(c, target, false, DAY + HOUR)).await.unwrap();
    assert_eq!(fresh, 1);
    store
        .write(move |c| {
            let f = c.query_row("SELECT id FROM forwards WHERE delivery_id = ?1", [one], |r| r.get(0))?;
            forwards::record_attempt(c, f, &attempt(DAY + HOUR, "retrying", Some(503), None))?;
            // The older one is delivered at last: the warning is about the one still failing.
            forwards::record_attempt(c, retrying, &attempt(DAY + HOUR, "delivered", Some(200), None))?;
            Ok(())
        })
        .await
        .unwrap();
    let now = DAY + HOUR + forwards::FAILING_AFTER_MS - 1;
    assert_eq!(store.read(move |c| forwards::failing(c, now)).await.unwrap(), None);
    let later = store.read(move |c| forwards::failing(c, now + 1)).await.unwrap().unwrap();
    assert_eq!((later.since_ms, later.queued), (DAY + HOUR, 2));
    assert!(
        later.warning().ends_with("2 deliveries queued (last error: answered 503)"),
        "{}",
        later.warning()
    );

    let path = store.path().to_owned();
    store.close();
    let conn = Connection::open(path).unwrap();
    let p = plan(&conn, forwards::LATEST_FOR_DELIVERY, &[1i64.into()]);
    assert!(p.contains("forwards_delivery") && !p.contains("TEMP B-TREE"), "{p}");
    let p = plan(&conn, forwards::QUEUE_SUMMARY, &[]);
    assert!(p.contains("COVERING INDEX forwards_due"), "only the queued entries of the index: {p}");
}
