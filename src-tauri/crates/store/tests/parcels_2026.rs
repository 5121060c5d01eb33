//! AfterShip's 2025-2026 payloads through the store, on real SQLite files (`Store::insert`): one
//! parcel is one shipment however an event names it (AfterShip's id, or slug + tracking number, in
//! either order and any case); what the merchant's desk reads is written (order number shown and
//! searched, the due date and when it ends, when it was delivered, the proof, pending since, every
//! move of the estimate); test marks need the header and a valid signature; each delivery keeps its
//! webhook version; checkpoint hashes merge timelines. Every new query is served by an index.

use rusqlite::Connection;
use serde_json::{json, Value};
use shipwatch_aftership::{parse_envelope, DeliveryVerdict, SecretSlot};
use shipwatch_api::{DeliveryQuery, ShipmentQuery};
use shipwatch_store::{queries, NewDelivery, Store, StoredDelivery, StoredVerdict, WriterConfig};

const UPDATE: &[u8] = include_bytes!("../../aftership/tests/fixtures/2026-07-tracking-update.json");
const EDD_REVISE: &[u8] = include_bytes!("../../aftership/tests/fixtures/2026-07-edd-revise.json");
const PENDING: &[u8] = include_bytes!("../../aftership/tests/fixtures/2026-07-tracking-pending-time.json");
const DELIVERED: &[u8] =
    include_bytes!("../../aftership/tests/fixtures/2026-07-tracking-update-delivered.json");

/// Unix ms: 2026-12-08T09:00:00Z, when the tests' deliveries are received.
const RECEIVED: i64 = 1_796_720_400_000;

fn valid() -> StoredVerdict {
    StoredVerdict::Signature(DeliveryVerdict::Valid(SecretSlot::Current))
}

fn delivery_with(body: &[u8], verdict: StoredVerdict, headers: &[(&str, &str)]) -> NewDelivery {
    let accepted = verdict.accepted();
    NewDelivery {
        received_at_ms: RECEIVED,
        peer: "127.0.0.1:50000".into(),
        forwarded_for: None,
        cf_connecting_ip: None,
        method: "POST".into(),
        path: "/webhooks/aftership".into(),
        headers: headers.iter().map(|(n, v)| (n.to_string(), v.to_string())).collect(),
        body_size: body.len() as i64,
        body: body.to_vec(),
        body_truncated: false,
        verdict,
        status: if accepted { 200 } else { 401 },
        envelope: parse_envelope(body).ok(),
        parse_error: None,
        diagnosis: None,
    }
}

/// A validly signed delivery of a 2026-07 URL.
fn delivery(body: &[u8]) -> NewDelivery {
    delivery_with(body, valid(), &[("Content-Type", "application/json"), ("as-webhook-version", "2026-07")])
}

/// `body` with `edit` applied to its JSON.
fn edited(body: &[u8], edit: impl FnOnce(&mut Value)) -> Vec<u8> {
    let mut v: Value = serde_json::from_slice(body).unwrap();
    edit(&mut v);
    serde_json::to_vec(&v).unwrap()
}

fn open() -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().unwrap();
    let store =
        Store::open(dir.path(), WriterConfig { full_sync: false, ..WriterConfig::default() }).unwrap();
    (dir, store)
}

async fn insert(store: &Store, d: NewDelivery) -> StoredDelivery {
    store.insert(d).await.unwrap()
}

fn shipment_count(store: &Store) -> i64 {
    store.read_blocking(|c| Ok(c.query_row("SELECT count(*) FROM shipments", [], |r| r.get(0))?)).unwrap()
}

/// A column of shipment `id`, straight from the database.
fn column<T: rusqlite::types::FromSql>(store: &Store, id: i64, column: &str) -> T {
    store
        .read_blocking(|c| {
            Ok(c.query_row(&format!("SELECT {column} FROM shipments WHERE id = ?1"), [id], |r| r.get(0))?)
        })
        .unwrap()
}

fn ms(s: &str) -> i64 {
    shipwatch_aftership::dates::parse_lenient_ms(s).unwrap()
}

#[tokio::test]
async fn events_naming_the_parcel_by_slug_and_tracking_number_update_its_shipment() {
    let (_dir, store) = open();
    let first = insert(&store, delivery(UPDATE)).await;
    let shipment = first.shipment.unwrap();
    assert!(shipment.created);
    let id = shipment.shipment_id;
    assert_eq!(shipment.item.due.as_deref(), Some("2026-12-03"));

    // edd_revise: no id, only slug + tracking number, a later estimate.
    let revise = insert(&store, delivery(EDD_REVISE)).await;
    let change = revise.shipment.unwrap();
    assert_eq!((change.shipment_id, change.created, change.stale), (id, false, false));
    assert_eq!(revise.item.shipment_id, Some(id));
    assert_eq!(shipment_count(&store), 1, "one parcel, one shipment");
    let moved = change.estimate_change.expect("the estimate moved");
    assert_eq!(
        (moved.previous.as_deref(), moved.estimate.as_deref()),
        (Some("2026-12-03"), Some("2026-12-05"))
    );
    assert!(moved.later);
    assert_eq!(moved.delivery_id, revise.id);
    // The event does not carry the state: the tag, subtag and identifiers stay.
    let item = &change.item;
    assert_eq!(item.tag.as_deref(), Some("InTransit"));
    assert_eq!(item.subtag.as_deref(), Some("InTransit_007"));
    assert_eq!(item.tracking_id.as_deref().map(str::len), Some(61));
    assert_eq!(item.order_number.as_deref(), Some("#1042"));
    assert_eq!(item.due.as_deref(), Some("2026-12-05"));
    assert_eq!(item.expected_delivery.as_deref(), Some("2026-12-05"));
    assert_eq!(column::<i64>(&store, id, "due_at"), ms("2026-12-06"), "the end of Dec 5");
    // The estimate objects it brings are merged into those the shipment had.
    let detail = store.read_blocking(move |c| queries::get_shipment(c, id)).unwrap();
    let edd = detail.estimated_delivery.unwrap();
    assert_eq!(edd["aftership_estimated_delivery_date"]["estimated_delivery_date"], "2026-12-05");
    assert_eq!(edd["courier_estimated_delivery_date"]["estimated_delivery_date"], "2026-12-03");

    // tracking_pending_time: the same shipment, and since when AfterShip says it stayed pending.
    let pending = insert(&store, delivery(PENDING)).await.shipment.unwrap();
    assert_eq!(pending.shipment_id, id);
    assert_eq!(pending.estimate_change, None, "the same estimate is no move");
    assert_eq!(column::<Option<i64>>(&store, id, "pending_since"), Some(RECEIVED));
    assert_eq!(shipment_count(&store), 1);

    // The delivered update: a newer checkpoint ends "pending", and the parcel is delivered at its
    // Delivered checkpoint, with its proof.
    let delivered = insert(&store, delivery(DELIVERED)).await.shipment.unwrap();
    assert_eq!(delivered.shipment_id, id);
    assert_eq!(column::<Option<i64>>(&store, id, "pending_since"), None);
    assert_eq!(column::<Option<i64>>(&store, id, "delivered_at"), Some(ms("2026-12-03T14:57:00-05:00")));
    assert_eq!(delivered.item.delivered_at.as_deref(), Some("2026-12-03T19:57:00.000Z"));
    assert_eq!(delivered.item.last_scan_at.as_deref(), Some("2026-12-03T19:57:00.000Z"));
    assert_eq!(delivered.estimate_change, None, "latest_estimated_delivery says Dec 5 too");
    let detail = store.read_blocking(move |c| queries::get_shipment(c, id)).unwrap();
    assert_eq!(detail.signed_by.as_deref(), Some("J. NEIGHBOUR"));
    assert_eq!(detail.proof_of_delivery.unwrap()[1]["type"], "photo");
    assert_eq!(detail.estimate_history.len(), 1);
    assert_eq!(detail.estimate_history[0], moved);
    assert_eq!(detail.deliveries.len(), 4);
    assert!(detail.deliveries.iter().all(|d| d.shipment_id == Some(id)));
    assert_eq!(shipment_count(&store), 1);
    store.close();
}

#[tokio::test]
async fn a_shipment_known_by_slug_and_tracking_number_takes_the_id_a_later_event_brings() {
    let (_dir, store) = open();
    // The edd_revise comes first (AfterShip's order is not guaranteed), with the slug in capitals.
    let first_body = edited(EDD_REVISE, |v| v["msg"]["slug"] = json!("FedEx"));
    let first = insert(&store, delivery(&first_body)).await.shipment.unwrap();
    assert!(first.created);
    let id = first.shipment_id;
    assert_eq!(first.item.tracking_id, None);
    assert_eq!(column::<String>(&store, id, "key"), "tn:FedEx:794611223344");
    // The first estimate of a new shipment is no move.
    assert_eq!(first.estimate_change, None);

    let update = insert(&store, delivery(UPDATE)).await.shipment.unwrap();
    assert_eq!((update.shipment_id, update.created), (id, false));
    assert_eq!(shipment_count(&store), 1, "one parcel, one shipment");
    let tracking_id = "trk_01JEV7QX4M8ZQ3N5T9K2W6R1YB-fedex-794611223344-shop-7f3a9c";
    assert_eq!(column::<String>(&store, id, "key"), format!("id:{tracking_id}"), "re-keyed by the id");
    assert_eq!(update.item.tracking_id.as_deref(), Some(tracking_id));
    // Its update is older than the revision (ts): the state stays as the revision left it.
    assert!(update.stale);
    assert_eq!(update.item.slug.as_deref(), Some("FedEx"));
    assert_eq!(update.item.courier.as_deref(), Some("FedEx"));
    assert_eq!(update.item.due.as_deref(), Some("2026-12-05"));

    // From now on the id finds it by key, and so do events naming it by number, in any case.
    insert(&store, delivery(DELIVERED)).await;
    let pending = edited(PENDING, |v| v["msg"]["slug"] = json!("FEDEX"));
    assert_eq!(insert(&store, delivery(&pending)).await.shipment.unwrap().shipment_id, id);
    assert_eq!(shipment_count(&store), 1);

    // Another id for the same number is another AfterShip tracking: another shipment.
    let other = edited(UPDATE, |v| {
        v["event_id"] = json!("6d1c8f0e-3b2a-4f5e-9c7d-1a2b3c4d5e99");
        v["msg"]["id"] = json!("another-tracking");
    });
    let other = insert(&store, delivery(&other)).await.shipment.unwrap();
    assert!(other.created);
    // And a number with another slug is another parcel.
    let elsewhere = edited(EDD_REVISE, |v| {
        v["event_id"] = json!("6d1c8f0e-3b2a-4f5e-9c7d-1a2b3c4d5e98");
        v["msg"]["slug"] = json!("ups");
    });
    assert!(insert(&store, delivery(&elsewhere)).await.shipment.unwrap().created);
    assert_eq!(shipment_count(&store), 3);
    store.close();
}

#[tokio::test]
async fn the_order_number_is_shown_and_searched() {
    let (_dir, store) = open();
    let id = insert(&store, delivery(UPDATE)).await.shipment.unwrap().shipment_id;
    let found = |q: &str| {
        let query = ShipmentQuery { q: Some(q.to_owned()), ..Default::default() };
        let list = store.read_blocking(move |c| queries::list_shipments(c, &query)).unwrap();
        list.items.iter().map(|s| (s.id, s.order_number.clone())).collect::<Vec<_>>()
    };
    let this = vec![(id, Some("#1042".to_owned()))];
    assert_eq!(found("#1042"), this, "by the whole order number");
    assert_eq!(found("#10"), this, "by its prefix");
    assert_eq!(found("1042"), this, "by a substring (full text)");
    assert_eq!(found("5102938475"), this, "by the order id, as before");
    assert!(found("#1043").is_empty());
    let deliveries = store
        .read_blocking(|c| {
            queries::list_deliveries(c, &DeliveryQuery { q: Some("#1042".into()), ..Default::default() })
        })
        .unwrap();
    assert_eq!(deliveries.items.len(), 1);
    // A later update that changes it: searched by the new one only.
    let renumbered = edited(DELIVERED, |v| v["msg"]["order_number"] = json!("SHOP-77"));
    insert(&store, delivery(&renumbered)).await;
    assert_eq!(found("shop-77"), vec![(id, Some("SHOP-77".to_owned()))]);
    assert!(found("#1042").is_empty());
    store.close();
}

#[tokio::test]
async fn every_move_of_the_estimate_is_kept_with_its_reason() {
    let (_dir, store) = open();
    let id = insert(&store, delivery(UPDATE)).await.shipment.unwrap().shipment_id;
    let later = insert(&store, delivery(EDD_REVISE)).await.shipment.unwrap().estimate_change.unwrap();
    assert!(later.later);
    // An earlier estimate, with AfterShip's reason (latest_estimated_delivery.revise_reason).
    let earlier_body = edited(EDD_REVISE, |v| {
        v["event_id"] = json!("6d1c8f0e-3b2a-4f5e-9c7d-1a2b3c4d5e10");
        v["ts"] = json!(1_796_200_000);
        v["msg"]["latest_estimated_delivery"] = json!({
            "type": "specific", "source": "Carrier EDD", "datetime": "2026-12-04T12:00:00-05:00",
            "datetime_min": null, "datetime_max": null, "revise_reason": "Moved up by the carrier"
        });
    });
    let earlier = insert(&store, delivery(&earlier_body)).await.shipment.unwrap().estimate_change.unwrap();
    assert_eq!(earlier.previous.as_deref(), Some("2026-12-05"));
    assert_eq!(earlier.estimate.as_deref(), Some("2026-12-04T12:00:00-05:00"));
    assert_eq!(earlier.reason.as_deref(), Some("Moved up by the carrier"));
    assert!(!earlier.later);
    assert_eq!(column::<i64>(&store, id, "due_at"), ms("2026-12-04T17:00:00Z"));
    // A tracking update with a new estimate moves it too.
    let update_body = edited(UPDATE, |v| {
        v["event_id"] = json!("6d1c8f0e-3b2a-4f5e-9c7d-1a2b3c4d5e11");
        v["ts"] = json!(1_796_210_000);
        v["msg"]["last_updated_at"] = json!("2026-12-02T11:00:00+00:00");
        v["msg"]["latest_estimated_delivery"]["datetime"] = json!("2026-12-07");
    });
    let by_update = insert(&store, delivery(&update_body)).await.shipment.unwrap().estimate_change.unwrap();
    assert_eq!((by_update.estimate.as_deref(), by_update.later), (Some("2026-12-07"), true));
    // A stale update (older than the state) never moves it, nor does the same date written otherwise.
    let stale = edited(UPDATE, |v| {
        v["event_id"] = json!("6d1c8f0e-3b2a-4f5e-9c7d-1a2b3c4d5e12");
        v["msg"]["latest_estimated_delivery"]["datetime"] = json!("2026-12-20");
    });
    let stale = insert(&store, delivery(&stale)).await.shipment.unwrap();
    assert!(stale.stale);
    assert_eq!(stale.estimate_change, None);
    let same = edited(&update_body, |v| {
        v["event_id"] = json!("6d1c8f0e-3b2a-4f5e-9c7d-1a2b3c4d5e13");
        v["ts"] = json!(1_796_220_000);
        v["msg"]["latest_estimated_delivery"]["datetime"] = json!("2026-12-08T00:00:00Z");
    });
    let same = insert(&store, delivery(&same)).await.shipment.unwrap();
    assert_eq!(same.estimate_change, None, "the end of Dec 7 is midnight UTC starting Dec 8");
    let history = store.read_blocking(move |c| queries::estimate_history(c, id)).unwrap();
    assert_eq!(history, [later, earlier, by_update]);
    store.close();
}

#[tokio::test]
async fn the_due_date_ends_at_the_end_of_its_day_or_at_its_time() {
    let (_dir, store) = open();
    let cases: [(Value, &str, i64); 5] = [
        (json!({ "expected_delivery": "2026-12-03" }), "2026-12-03", ms("2026-12-04T00:00:00Z")),
        (
            json!({ "latest_estimated_delivery": { "datetime": "2026-12-03T18:00:00+02:00" } }),
            "2026-12-03T18:00:00+02:00",
            ms("2026-12-03T16:00:00Z"),
        ),
        (
            json!({ "expected_delivery": "2026-12-03T18:00:00" }),
            "2026-12-03T18:00:00",
            ms("2026-12-03T18:00:00Z"),
        ),
        (
            json!({ "order_promised_delivery_date": "2026-12-01 - 2026-12-05" }),
            "2026-12-05",
            ms("2026-12-06T00:00:00Z"),
        ),
        (
            json!({ "aftership_estimated_delivery_date": {
                "estimated_delivery_date": null,
                "estimated_delivery_date_min": "2026-12-02",
                "estimated_delivery_date_max": "2026-12-04"
            } }),
            "2026-12-04",
            ms("2026-12-05T00:00:00Z"),
        ),
    ];
    for (n, (fields, due, due_at)) in cases.into_iter().enumerate() {
        let mut msg = json!({ "id": format!("due-{n}"), "tracking_number": format!("DUE{n}"), "slug": "ups", "tag": "InTransit" });
        msg.as_object_mut().unwrap().extend(fields.as_object().unwrap().clone());
        let body = json!({ "event": "tracking_update", "event_id": format!("due-event-{n}"), "ts": 1_796_000_000, "msg": msg });
        let change = insert(&store, delivery(body.to_string().as_bytes())).await.shipment.unwrap();
        assert_eq!(change.item.due.as_deref(), Some(due), "case {n}");
        assert_eq!(column::<i64>(&store, change.shipment_id, "due_at"), due_at, "case {n}: {due}");
    }
    store.close();
}

#[tokio::test]
async fn delivered_at_is_the_delivered_checkpoint_else_the_delivery_and_goes_when_the_tag_does() {
    let (_dir, store) = open();
    let body = |n: u32, tag: &str, checkpoints: Value| {
        json!({ "event": "tracking_update", "event_id": format!("d-{n}"), "ts": 1_796_000_000 + n,
            "msg": { "id": "parcel", "tracking_number": "D1", "slug": "dhl", "tag": tag, "checkpoints": checkpoints } })
        .to_string()
    };
    let id = insert(&store, delivery(body(1, "InTransit", json!([])).as_bytes()))
        .await
        .shipment
        .unwrap()
        .shipment_id;
    assert_eq!(column::<Option<i64>>(&store, id, "delivered_at"), None);
    // Delivered without a Delivered checkpoint: when the delivery saying so was received.
    let change = insert(&store, delivery(body(2, "Delivered", json!([])).as_bytes())).await.shipment.unwrap();
    assert_eq!(column::<Option<i64>>(&store, id, "delivered_at"), Some(RECEIVED));
    assert_eq!(change.item.delivered_at, Some(queries::rfc3339_ms(RECEIVED)));
    // With one: its time (the newest of them).
    let checkpoints = json!([
        { "checkpoint_time": "2026-12-01T10:00:00Z", "tag": "Delivered", "message": "first try" },
        { "checkpoint_time": "2026-12-02T10:00:00Z", "tag": "Delivered", "message": "delivered" },
        { "checkpoint_time": "2026-12-03T10:00:00Z", "tag": "InTransit", "message": "later scan" },
    ]);
    insert(&store, delivery(body(3, "Delivered", checkpoints).as_bytes())).await;
    assert_eq!(column::<Option<i64>>(&store, id, "delivered_at"), Some(ms("2026-12-02T10:00:00Z")));
    // A stale update that says otherwise changes nothing; a newer one that moves the tag clears it.
    let stale = insert(&store, delivery(body(0, "Exception", json!([])).as_bytes())).await.shipment.unwrap();
    assert!(stale.stale);
    assert_eq!(column::<Option<i64>>(&store, id, "delivered_at"), Some(ms("2026-12-02T10:00:00Z")));
    let back = insert(&store, delivery(body(4, "Exception", json!([])).as_bytes())).await.shipment.unwrap();
    assert_eq!(back.item.delivered_at, None);
    assert_eq!(column::<Option<i64>>(&store, id, "delivered_at"), None);
    store.close();
}

#[tokio::test]
async fn test_data_needs_the_header_and_a_valid_signature() {
    let (_dir, store) = open();
    let body = |n: u32| {
        json!({ "event": "tracking_update", "event_id": format!("t-{n}"), "ts": 1_796_000_000 + n,
            "msg": { "id": format!("test-{n}"), "tracking_number": format!("SHOP{n}"), "slug": "usps", "tag": "Delivered" } })
        .to_string()
    };
    let marked = [("Content-Type", "application/json"), ("X-Shipwatch-Test", "1")];
    let test = insert(&store, delivery_with(body(1).as_bytes(), valid(), &marked)).await;
    assert!(test.item.test);
    let shipment = test.shipment.unwrap();
    assert!(shipment.item.test);
    assert!(column::<bool>(&store, shipment.shipment_id, "test"));
    // Without a secret anything is taken, unverified: the header alone proves nothing.
    let unverified = StoredVerdict::Signature(DeliveryVerdict::Unverified);
    let real = insert(&store, delivery_with(body(2).as_bytes(), unverified, &marked)).await;
    assert!(!real.item.test);
    assert!(!real.shipment.unwrap().item.test);
    // A forged one is kept, and is no test data.
    let forged = insert(
        &store,
        delivery_with(body(3).as_bytes(), StoredVerdict::Signature(DeliveryVerdict::Invalid), &marked),
    )
    .await;
    assert!(!forged.item.test);
    let listed = store.read_blocking(|c| queries::list_deliveries(c, &DeliveryQuery::default())).unwrap();
    let tests: Vec<(i64, bool)> = listed.items.iter().map(|d| (d.id, d.test)).collect();
    assert_eq!(tests, [(forged.id, false), (real.id, false), (test.id, true)]);
    // The counts by tag leave the test shipment out.
    let counts = store.read_blocking(queries::tag_counts).unwrap();
    assert_eq!(counts.iter().map(|c| (c.tag.as_str(), c.count)).collect::<Vec<_>>(), [("Delivered", 1)]);
    // A real delivery for the test shipment's parcel makes it real.
    let again = edited(body(1).as_bytes(), |v| v["event_id"] = json!("t-1-real"));
    let now_real = insert(&store, delivery(&again)).await.shipment.unwrap();
    assert!(!now_real.item.test);
    assert!(!column::<bool>(&store, shipment.shipment_id, "test"));
    let counts = store.read_blocking(queries::tag_counts).unwrap();
    assert_eq!(counts.iter().map(|c| (c.tag.as_str(), c.count)).collect::<Vec<_>>(), [("Delivered", 2)]);
    store.close();
}

#[tokio::test]
async fn each_delivery_keeps_its_webhook_version_courier_and_title() {
    let (_dir, store) = open();
    let versioned = insert(&store, delivery(UPDATE)).await;
    assert_eq!(versioned.item.webhook_version.as_deref(), Some("2026-07"));
    assert_eq!(versioned.item.courier.as_deref(), Some("FedEx"));
    assert_eq!(versioned.item.title.as_deref(), Some("Linen duvet cover"));
    let legacy = delivery_with(
        include_bytes!("../../../../tests/fixtures/aftership-v4-tracking-update.json"),
        valid(),
        &[("Content-Type", "application/json")],
    );
    let legacy = insert(&store, legacy).await;
    assert_eq!(legacy.item.webhook_version, None, "legacy v4 sends no version");
    let older = delivery_with(EDD_REVISE, valid(), &[("AS-Webhook-Version", " 2025-07 ")]);
    let older = insert(&store, older).await;
    let listed = store.read_blocking(|c| queries::list_deliveries(c, &DeliveryQuery::default())).unwrap();
    let got: Vec<_> = listed
        .items
        .iter()
        .map(|d| (d.id, d.webhook_version.clone(), d.courier.clone(), d.title.clone()))
        .collect();
    assert_eq!(
        got,
        [
            (older.id, Some("2025-07".into()), Some("FedEx".into()), Some("Linen duvet cover".into())),
            (legacy.id, None, Some("USPS".into()), Some("9361289676091361892011".into())),
            (versioned.id, Some("2026-07".into()), Some("FedEx".into()), Some("Linen duvet cover".into())),
        ]
    );
    let record = store.read_blocking(move |c| queries::get_delivery(c, older.id)).unwrap();
    assert_eq!(record.item.webhook_version.as_deref(), Some("2025-07"));
    store.close();
}

#[tokio::test]
async fn checkpoint_hashes_merge_timelines() {
    let (_dir, store) = open();
    let id = insert(&store, delivery(UPDATE)).await.shipment.unwrap().shipment_id;
    insert(&store, delivery(DELIVERED)).await;
    let messages = |store: &Store| {
        let items = store.read_blocking(move |c| shipwatch_store::timeline::checkpoint_items(c, id)).unwrap();
        items.into_iter().map(|c| c.message.unwrap()).collect::<Vec<_>>()
    };
    // The Memphis scan was reworded with the same hash: kept once, in the newest words.
    assert_eq!(
        messages(&store),
        [
            "Shipment information sent to FedEx",
            "Departed FedEx hub in Memphis",
            "Delivered, left with neighbour"
        ]
    );
    // The older update arriving again late (stale, another event) adds nothing.
    let late = edited(UPDATE, |v| v["event_id"] = json!("6d1c8f0e-3b2a-4f5e-9c7d-1a2b3c4d5e20"));
    assert!(insert(&store, delivery(&late)).await.shipment.unwrap().stale);
    assert_eq!(messages(&store).len(), 3);
    store.close();

    // A URL moved to 2026-07: the same checkpoints without hashes, then with them, show once; and
    // back again.
    let (_dir, store) = open();
    let unhashed = |body: &[u8], event: &str| {
        edited(body, |v| {
            v["event_id"] = json!(event);
            for c in v["msg"]["checkpoints"].as_array_mut().unwrap() {
                c.as_object_mut().unwrap().remove("hash");
            }
        })
    };
    let id = insert(&store, delivery(&unhashed(UPDATE, "u-1"))).await.shipment.unwrap().shipment_id;
    insert(&store, delivery(DELIVERED)).await;
    let items = store.read_blocking(move |c| shipwatch_store::timeline::checkpoint_items(c, id)).unwrap();
    // The reworded scan is another checkpoint to a delivery that had no hash for it: kept as sent
    // (at one time, in the order they came: the newest update's first).
    let got: Vec<_> = items.iter().map(|c| c.message.clone().unwrap()).collect();
    assert_eq!(
        got,
        [
            "Shipment information sent to FedEx",
            "Departed FedEx hub in Memphis",
            "Departed FedEx hub",
            "Delivered, left with neighbour"
        ]
    );
    let later = edited(&unhashed(DELIVERED, "u-2"), |v| v["ts"] = json!(1_796_400_000));
    insert(&store, delivery(&later)).await;
    let items = store.read_blocking(move |c| shipwatch_store::timeline::checkpoint_items(c, id)).unwrap();
    assert_eq!(items.len(), 4, "{items:?}");
    store.close();
}

/// SQLite's plan for `sql`, its steps joined with "; ".
fn plan(conn: &Connection, sql: &str, args: &[&dyn rusqlite::ToSql]) -> String {
    conn.prepare(&format!("EXPLAIN QUERY PLAN {sql}"))
        .unwrap()
        .query_map(args, |r| r.get::<_, String>(3))
        .unwrap()
        .collect::<rusqlite::Result<Vec<_>>>()
        .unwrap()
        .join("; ")
}

#[tokio::test]
async fn the_new_queries_are_served_by_indexes() {
    let (_dir, store) = open();
    for body in [UPDATE, EDD_REVISE, PENDING, DELIVERED] {
        insert(&store, delivery(body)).await;
    }
    let conn = Connection::open(store.path()).unwrap();
    let by_number = format!("SELECT id {}", shipwatch_store::projection::BY_TRACKING_NUMBER);
    for (sql, args, needle) in [
        (by_number.as_str(), vec!["794611223344", "fedex", "1"], "shipments_tracking_number"),
        (by_number.as_str(), vec!["794611223344", "fedex", "0"], "shipments_tracking_number"),
        (queries::ESTIMATE_HISTORY, vec!["1"], "estimate_changes_shipment"),
        (
            "SELECT id FROM shipments WHERE order_number LIKE ?1 ESCAPE '\\'",
            vec!["#10%"],
            "shipments_order_number",
        ),
    ] {
        let args: Vec<&dyn rusqlite::ToSql> = args.iter().map(|a| a as &dyn rusqlite::ToSql).collect();
        let p = plan(&conn, sql, &args);
        let whole_table = p.split("; ").any(|step| step.starts_with("SCAN "));
        assert!(p.contains(needle) && !whole_table && !p.contains("TEMP B-TREE"), "{sql}: {p}");
    }
    // A delivery's title comes from its shipment by primary key.
    let p = plan(&conn, "SELECT (SELECT title FROM shipments WHERE shipments.id = deliveries.shipment_id) FROM deliveries WHERE id < ?1 ORDER BY id DESC LIMIT 101", &[&5]);
    assert!(p.contains("SEARCH shipments USING INTEGER PRIMARY KEY"), "{p}");
    store.close();
}
