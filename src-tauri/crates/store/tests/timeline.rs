//! Shipment timelines on real SQLite files, fed the way the receiver feeds them (bodies parsed with
//! `parse_envelope`): AfterShip resending
//! every checkpoint, dropping one, a stale update arriving late with one nobody else has, retention
//! around timeline bases, the last location whatever order deliveries arrive in, and a database
//! migrated from per-checkpoint rows carrying on.

use std::sync::atomic::{AtomicU64, Ordering};

use rusqlite::Connection;
use serde_json::{json, Value};
use shipwatch_aftership::{parse_envelope, DeliveryVerdict, SecretSlot};
use shipwatch_api::{CheckpointItem, ShipmentQuery};
use shipwatch_store::{
    migrations, queries, retention, NewDelivery, Store, StoredDelivery, StoredVerdict, WriterConfig,
};

/// A checkpoint as AfterShip sends it (legacy v4 shape).
fn cp(time: Option<&str>, message: &str, location: Option<&str>) -> Value {
    json!({
        "slug": "usps",
        "city": "Reno",
        "created_at": "2026-01-05T00:00:00+00:00",
        "location": location,
        "country_name": "USA",
        "message": message,
        "country_iso3": "USA",
        "tag": "InTransit",
        "subtag": "InTransit_002",
        "subtag_message": "Acceptance scan",
        "checkpoint_time": time,
        "coordinates": [],
        "state": "NV",
        "zip": "89501",
        "raw_tag": "RT",
        "events": [{ "code": format!("code-{message}") }],
    })
}

/// Another checkpoint: city and country but no location.
fn cp_city(time: Option<&str>, message: &str, city: &str) -> Value {
    let mut c = cp(time, message, None);
    c["city"] = city.into();
    c
}

static EVENT: AtomicU64 = AtomicU64::new(1);

/// A tracking update of shipment `tracking_id` as of `last_updated_at` (`ts` follows it unless given).
fn body(tracking_id: &str, tag: &str, last_updated_at: &str, ts: i64, checkpoints: &[&Value]) -> Vec<u8> {
    serde_json::to_vec(&json!({
        "event": "tracking_update",
        "event_id": format!("evt-{}", EVENT.fetch_add(1, Ordering::Relaxed)),
        "ts": ts,
        "is_tracking_first_tag": false,
        "msg": {
            "id": tracking_id,
            "tracking_number": format!("TN-{tracking_id}"),
            "slug": "usps",
            "tag": tag,
            "last_updated_at": last_updated_at,
            "checkpoints": checkpoints,
        },
    }))
    .unwrap()
}

/// As the receiver builds it.
fn delivery(body: Vec<u8>) -> NewDelivery {
    let envelope = parse_envelope(&body).ok();
    NewDelivery {
        received_at_ms: 1_767_000_000_000 + EVENT.load(Ordering::Relaxed) as i64,
        peer: "127.0.0.1:50000".into(),
        forwarded_for: None,
        cf_connecting_ip: None,
        method: "POST".into(),
        path: "/webhooks/aftership".into(),
        headers: vec![("content-type".into(), "application/json".into())],
        body_size: body.len() as i64,
        body,
        body_truncated: false,
        verdict: StoredVerdict::Signature(DeliveryVerdict::Valid(SecretSlot::Current)),
        status: 200,
        envelope,
        parse_error: None,
        diagnosis: None,
    }
}

async fn send(store: &Store, body: Vec<u8>) -> StoredDelivery {
    store.insert(delivery(body)).await.expect("stored")
}

fn shipment_of(d: &StoredDelivery) -> i64 {
    d.shipment.as_ref().expect("projected").shipment_id
}

async fn checkpoints(store: &Store, shipment_id: i64) -> Vec<CheckpointItem> {
    store.read(move |c| queries::get_shipment(c, shipment_id)).await.unwrap().checkpoints
}

async fn messages(store: &Store, shipment_id: i64) -> Vec<String> {
    checkpoints(store, shipment_id).await.into_iter().map(|c| c.message.unwrap()).collect()
}

/// `(base delivery, extras)` of a shipment's timeline, as its row stores it.
async fn timeline_row(store: &Store, shipment_id: i64) -> (Option<i64>, String) {
    store
        .read(move |c| {
            Ok(c.query_row(
                "SELECT timeline_base_delivery_id, timeline_extras FROM shipments WHERE id = ?1",
                [shipment_id],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )?)
        })
        .await
        .unwrap()
}

/// The messages of the checkpoints held in a shipment's extras.
async fn extras_messages(store: &Store, shipment_id: i64) -> Vec<String> {
    let (_, extras) = timeline_row(store, shipment_id).await;
    let doc: Vec<Value> = serde_json::from_str(&extras).unwrap();
    doc.iter().map(|e| e["message"].as_str().unwrap().to_owned()).collect()
}

async fn delivery_ids(store: &Store) -> Vec<i64> {
    store
        .read(|c| {
            Ok(c.prepare("SELECT id FROM deliveries ORDER BY id")?
                .query_map([], |r| r.get(0))?
                .collect::<rusqlite::Result<Vec<i64>>>()?)
        })
        .await
        .unwrap()
}

#[tokio::test]
async fn resending_every_checkpoint_keeps_each_once_with_the_newest_delivery_as_base() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), WriterConfig::default()).unwrap();
    let c1 = cp(Some("2026-01-01T09:00:00"), "Shipment information received", Some("Louisville, KY"));
    // Escapes and non-ASCII: the digest (borrowed, lean parse) and the body (full parse) must agree.
    let c2 = cp(Some("2026-01-02T09:00:00+02:00"), "Arrived at \"Hub\" \u{2014} Z\u{fc}rich\n", Some("Reno"));
    let c3 = cp_city(Some("2026-01-03"), "Out for delivery", "Boise");

    let d1 = send(&store, body("resend", "InTransit", "2026-01-01T10:00:00+00:00", 100, &[&c1])).await;
    // AfterShip lists checkpoints in any order; the timeline orders them by time.
    let d2 = send(&store, body("resend", "InTransit", "2026-01-02T10:00:00+00:00", 200, &[&c2, &c1])).await;
    let d3 =
        send(&store, body("resend", "OutForDelivery", "2026-01-03T10:00:00+00:00", 300, &[&c1, &c2, &c3]))
            .await;
    let id = shipment_of(&d1);
    assert_eq!((shipment_of(&d2), shipment_of(&d3)), (id, id));
    assert!(d3.shipment.as_ref().is_some_and(|s| !s.stale && !s.created));

    let items = checkpoints(&store, id).await;
    let got: Vec<_> = items.iter().map(|c| c.message.clone().unwrap()).collect();
    assert_eq!(
        got,
        ["Shipment information received", "Arrived at \"Hub\" \u{2014} Z\u{fc}rich\n", "Out for delivery"]
    );
    // Every field as sent.
    assert_eq!(
        items[0],
        CheckpointItem {
            checkpoint_time: Some("2026-01-01T09:00:00".into()),
            tag: Some("InTransit".into()),
            subtag: Some("InTransit_002".into()),
            subtag_message: Some("Acceptance scan".into()),
            message: Some("Shipment information received".into()),
            location: Some("Louisville, KY".into()),
            city: Some("Reno".into()),
            state: Some("NV".into()),
            postal_code: Some("89501".into()),
            country: Some("USA".into()),
            slug: Some("usps".into()),
            events: vec!["code-Shipment information received".into()],
        }
    );
    assert_eq!((items[2].location.as_deref(), items[2].city.as_deref()), (None, Some("Boise")));

    assert_eq!(timeline_row(&store, id).await, (Some(d3.id), "[]".to_owned()));

    // The older deliveries hold nothing the timeline needs: retention may take them.
    assert_eq!(store.write(|c| retention::delete_oldest(c, 10)).await.unwrap(), 2);
    assert_eq!(delivery_ids(&store).await, [d3.id]);
    assert_eq!(checkpoints(&store, id).await, items);
    store.close();
}

#[tokio::test]
async fn a_checkpoint_aftership_drops_moves_to_the_extras_and_outlives_its_delivery() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), WriterConfig::default()).unwrap();
    let c1 = cp(Some("2026-01-01T09:00:00"), "Picked up", Some("Louisville"));
    let c2 = cp(Some("2026-01-02T09:00:00"), "Departed", Some("Reno"));
    let c3 = cp(Some("2026-01-03T09:00:00"), "Arrived", Some("Boise"));
    let d1 = send(&store, body("dropped", "InTransit", "2026-01-02T10:00:00+00:00", 100, &[&c1, &c2])).await;
    let id = shipment_of(&d1);
    assert_eq!(extras_messages(&store, id).await, Vec::<String>::new());
    let before_drop = checkpoints(&store, id).await;

    // The newer update no longer carries "Picked up".
    let d2 = send(&store, body("dropped", "InTransit", "2026-01-03T10:00:00+00:00", 200, &[&c2, &c3])).await;
    assert!(!d2.shipment.as_ref().unwrap().stale);
    assert_eq!(messages(&store, id).await, ["Picked up", "Departed", "Arrived"]);
    let (base, _) = timeline_row(&store, id).await;
    assert_eq!(base, Some(d2.id));
    assert_eq!(extras_messages(&store, id).await, ["Picked up"], "only what the new base lacks");
    let whole = checkpoints(&store, id).await;
    assert_eq!(whole[0], before_drop[0], "the dropped checkpoint keeps every field");

    // The delivery that carried it goes: nothing is lost.
    assert_eq!(store.write(|c| retention::delete_oldest(c, 10)).await.unwrap(), 1);
    assert_eq!(delivery_ids(&store).await, [d2.id]);
    assert_eq!(checkpoints(&store, id).await, whole);

    // A later update that carries it again takes it back out of the extras.
    let d3 =
        send(&store, body("dropped", "Delivered", "2026-01-04T10:00:00+00:00", 300, &[&c1, &c2, &c3])).await;
    assert_eq!(timeline_row(&store, id).await, (Some(d3.id), "[]".to_owned()));
    assert_eq!(checkpoints(&store, id).await, whole);
    store.close();
}

#[tokio::test]
async fn a_stale_delivery_adds_its_new_checkpoints_without_moving_the_state_or_the_base() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), WriterConfig::default()).unwrap();
    let c1 = cp(Some("2026-01-01T09:00:00"), "Picked up", Some("Louisville"));
    let c2 = cp(Some("2026-01-02T09:00:00"), "Sorted", Some("Memphis"));
    let c3 = cp(Some("2026-01-03T09:00:00"), "Out for delivery", Some("Boise"));
    let c4 = cp(Some("2026-01-04T09:00:00"), "Delivered", Some("Boise"));

    let newer =
        send(&store, body("late", "OutForDelivery", "2026-01-03T10:00:00+00:00", 300, &[&c1, &c3])).await;
    let id = shipment_of(&newer);
    // An older update arrives late, with a checkpoint the newer one does not carry.
    let late = send(&store, body("late", "InTransit", "2026-01-02T10:00:00+00:00", 200, &[&c1, &c2])).await;
    let change = late.shipment.as_ref().unwrap();
    assert!(change.stale);
    assert!(change.changed, "a new checkpoint merged");
    assert_eq!(change.tag.as_deref(), Some("OutForDelivery"));
    assert!(!change.tag_first_seen);
    assert_eq!(messages(&store, id).await, ["Picked up", "Sorted", "Out for delivery"]);
    assert_eq!(timeline_row(&store, id).await.0, Some(newer.id), "the base stays the newer delivery");
    assert_eq!(extras_messages(&store, id).await, ["Sorted"]);
    let item = store.read(move |c| queries::shipment_item(c, id)).await.unwrap();
    assert_eq!(item.tag.as_deref(), Some("OutForDelivery"));
    assert_eq!(item.last_location.as_deref(), Some("Boise"));

    // Same state time, older ts: stale too; it brings nothing new, so nothing changes.
    let extras_before = timeline_row(&store, id).await;
    let again = send(&store, body("late", "InTransit", "2026-01-03T10:00:00+00:00", 299, &[&c2, &c1])).await;
    assert!(again.shipment.as_ref().unwrap().stale);
    assert!(!again.shipment.as_ref().unwrap().changed, "nothing for the UI to redraw");
    assert_eq!(timeline_row(&store, id).await, extras_before);

    // The stale deliveries are not bases; the newer one is the state and the base.
    assert_eq!(store.write(|c| retention::delete_oldest(c, 10)).await.unwrap(), 2);
    assert_eq!(delivery_ids(&store).await, [newer.id]);
    assert_eq!(messages(&store, id).await, ["Picked up", "Sorted", "Out for delivery"]);

    // A newer update that does not carry the late checkpoint either: it stays in the extras.
    let last =
        send(&store, body("late", "Delivered", "2026-01-04T10:00:00+00:00", 400, &[&c1, &c3, &c4])).await;
    assert!(!last.shipment.as_ref().unwrap().stale);
    assert_eq!(timeline_row(&store, id).await.0, Some(last.id));
    assert_eq!(extras_messages(&store, id).await, ["Sorted"]);
    assert_eq!(messages(&store, id).await, ["Picked up", "Sorted", "Out for delivery", "Delivered"]);
    let item = store.read(move |c| queries::shipment_item(c, id)).await.unwrap();
    assert_eq!(item.tag.as_deref(), Some("Delivered"));
    store.close();
}

#[tokio::test]
async fn retention_never_deletes_a_timeline_base() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), WriterConfig::default()).unwrap();
    let c1 = cp(Some("2026-01-01T09:00:00"), "Picked up", Some("Louisville"));
    let c2 = cp(Some("2025-12-31T09:00:00"), "Label created", None);

    // 1. The base is an older delivery: the newer one (the state) carries no checkpoints.
    let base = send(&store, body("kept", "InTransit", "2026-01-01T10:00:00+00:00", 100, &[&c1])).await;
    let id = shipment_of(&base);
    let state = send(&store, body("kept", "OutForDelivery", "2026-01-02T10:00:00+00:00", 200, &[])).await;
    assert!(!state.shipment.as_ref().unwrap().stale);
    assert_eq!(timeline_row(&store, id).await.0, Some(base.id));

    // 2. The base is a stale delivery: the shipment was created without checkpoints, then an older
    // update with checkpoints came late.
    let created = send(&store, body("kept-2", "Delivered", "2026-01-05T10:00:00+00:00", 500, &[])).await;
    let id2 = shipment_of(&created);
    let stale =
        send(&store, body("kept-2", "InTransit", "2026-01-01T10:00:00+00:00", 100, &[&c2, &c1])).await;
    assert!(stale.shipment.as_ref().unwrap().stale);
    assert_eq!(timeline_row(&store, id2).await.0, Some(stale.id));

    // Plus deliveries nothing needs.
    let mut junk = Vec::new();
    for _ in 0..5 {
        let d = delivery(b"not json".to_vec());
        assert!(d.envelope.is_none());
        junk.push(store.insert(d).await.unwrap().id);
    }

    let deleted = store.write(|c| retention::delete_oldest(c, 100)).await.unwrap();
    assert_eq!(deleted, junk.len(), "every delivery nothing needs");
    let mut kept = vec![base.id, state.id, created.id, stale.id];
    kept.sort_unstable();
    assert_eq!(delivery_ids(&store).await, kept);
    assert_eq!(store.write(|c| retention::delete_older_than(c, i64::MAX, 100)).await.unwrap(), 0);
    assert_eq!(messages(&store, id).await, ["Picked up"]);
    assert_eq!(messages(&store, id2).await, ["Label created", "Picked up"]);
    store.close();
}

#[tokio::test]
async fn the_last_location_is_the_latest_checkpoint_whatever_the_arrival_order() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), WriterConfig::default()).unwrap();
    let reno = cp(Some("2026-01-01T09:00:00"), "Departed", Some("Reno"));
    let boise = cp(Some("2026-01-02T09:00:00"), "Arrived", Some("Boise"));
    // The latest checkpoint has no location: "city country". Only the middle update carries it.
    let slc = cp_city(Some("2026-01-03T09:00:00Z"), "Sorted", "Salt Lake City");
    let undated = cp(None, "Note from the carrier", Some("Nowhere"));
    // (state time, checkpoints) of three updates; the newest state lacks the latest checkpoint.
    let updates: [(&str, i64, Vec<&Value>); 3] = [
        ("2026-01-01T10:00:00+00:00", 100, vec![&reno]),
        ("2026-01-03T10:00:00+00:00", 300, vec![&reno, &slc]),
        ("2026-01-04T10:00:00+00:00", 400, vec![&undated, &reno, &boise]),
    ];
    let orders = [[0, 1, 2], [0, 2, 1], [1, 0, 2], [1, 2, 0], [2, 0, 1], [2, 1, 0]];
    for (n, order) in orders.iter().enumerate() {
        let tracking_id = format!("order-{n}");
        let mut id = None;
        for &i in order {
            let (state_time, ts, cps) = &updates[i];
            let d = send(&store, body(&tracking_id, "InTransit", state_time, *ts, cps)).await;
            id = Some(shipment_of(&d));
        }
        let id = id.unwrap();
        let item = store.read(move |c| queries::shipment_item(c, id)).await.unwrap();
        assert_eq!(item.last_location.as_deref(), Some("Salt Lake City USA"), "arrival order {order:?}");
        let list = store
            .read(move |c| {
                queries::list_shipments(
                    c,
                    &ShipmentQuery { q: Some(format!("TN-order-{n}")), ..Default::default() },
                )
            })
            .await
            .unwrap();
        assert_eq!(list.items.len(), 1);
        assert_eq!(
            list.items[0].last_location.as_deref(),
            Some("Salt Lake City USA"),
            "arrival order {order:?}"
        );
        assert_eq!(
            messages(&store, id).await,
            ["Departed", "Arrived", "Sorted", "Note from the carrier"],
            "arrival order {order:?}"
        );
    }
    store.close();
}

/// Carriers often send only a date: a new checkpoint can share the latest time. The update that
/// carries it is the newer one, and the new checkpoint comes last in it and in the timeline: it is
/// the last location, whichever update arrives first. (Names chosen so that the alphabet would pick
/// the other one.)
#[tokio::test]
async fn on_a_tie_in_time_the_newer_update_gives_the_last_location_in_either_order() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), WriterConfig::default()).unwrap();
    let first = cp(Some("2026-01-02"), "Arrived", Some("Zurich"));
    let then = cp(Some("2026-01-02"), "Departed", Some("Aarau"));
    let older = ("2026-01-02T10:00:00+00:00", 100, vec![&first]);
    let newer = ("2026-01-02T18:00:00+00:00", 200, vec![&first, &then]);
    for (n, order) in [[&older, &newer], [&newer, &older]].iter().enumerate() {
        let tracking_id = format!("tie-{n}");
        let mut id = 0;
        for (state_time, ts, cps) in order.iter() {
            id = shipment_of(&send(&store, body(&tracking_id, "InTransit", state_time, *ts, cps)).await);
        }
        assert_eq!(messages(&store, id).await, ["Arrived", "Departed"]);
        let item = store.read(move |c| queries::shipment_item(c, id)).await.unwrap();
        assert_eq!(item.last_location.as_deref(), Some("Aarau"), "arrival order {n}");
    }
    store.close();
}

#[tokio::test]
async fn a_shipment_migrated_from_checkpoint_rows_carries_on_without_duplicates() {
    let dir = tempfile::tempdir().unwrap();
    let path = shipwatch_store::db_path(dir.path());
    let c1 = cp(Some("2026-01-01T09:00:00"), "Picked up", Some("Louisville"));
    let c2 = cp_city(Some("2026-01-02T09:00:00"), "Departed \"Hub\"", "Reno");
    let c3 = cp(Some("2026-01-03T09:00:00"), "Arrived", Some("Boise"));
    let old_body = body("migrated", "InTransit", "2026-01-02T10:00:00+00:00", 200, &[&c1, &c2]);
    {
        // What schema 2 held after that delivery: its checkpoints copied into rows, keyed the same way.
        let conn = Connection::open(&path).unwrap();
        conn.execute_batch(migrations::MIGRATIONS[0]).unwrap();
        conn.execute_batch(migrations::MIGRATIONS[1]).unwrap();
        conn.pragma_update(None, "user_version", 2).unwrap();
        conn.execute(
            "INSERT INTO shipments (id, key, tracking_id, tracking_number, slug, tag, last_location, state_time,
                state_ts, state_delivery_id, tags_seen, created_at, updated_at)
             VALUES (1, 'id:migrated', 'migrated', 'TN-migrated', 'usps', 'InTransit', 'Reno USA', ?1, 200, 1,
                ',InTransit,', 1000, 1000)",
            [shipwatch_aftership::dates::parse_lenient_ms("2026-01-02T10:00:00+00:00")],
        )
        .unwrap();
        conn.execute(
            "INSERT INTO deliveries (id, received_at, peer, method, path, headers, body, body_size, verdict, secret,
                status, event, tracking_id, shipment_id)
             VALUES (1, 1000, '127.0.0.1:1', 'POST', '/webhooks/aftership', '[]', ?1, ?2, 'valid', 'current', 200,
                'tracking_update', 'migrated', 1)",
            rusqlite::params![old_body, old_body.len() as i64],
        )
        .unwrap();
        let full = parse_envelope(&old_body).unwrap().msg.unwrap();
        for c in &full.checkpoints {
            conn.execute(
                "INSERT INTO checkpoints (shipment_id, fingerprint, sort_time, checkpoint_time, tag, subtag,
                    subtag_message, message, location, city, state, postal_code, country, slug, events,
                    first_delivery_id)
                 VALUES (1, ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, 1)",
                rusqlite::params![
                    shipwatch_aftership::checkpoint_key(c),
                    c.checkpoint_time.as_deref().and_then(shipwatch_aftership::dates::parse_lenient_ms),
                    c.checkpoint_time,
                    c.tag.as_ref().map(|t| t.as_str()),
                    c.subtag,
                    c.subtag_message,
                    c.message,
                    c.location,
                    c.city,
                    c.state,
                    c.postal_code,
                    c.country,
                    c.slug,
                    serde_json::to_string(&c.events).unwrap(),
                ],
            )
            .unwrap();
        }
    }

    let store = Store::open(dir.path(), WriterConfig::default()).unwrap();
    let migrated = checkpoints(&store, 1).await;
    assert_eq!(migrated.len(), 2);
    assert_eq!(migrated[1].message.as_deref(), Some("Departed \"Hub\""));
    assert_eq!(migrated[1].events, ["code-Departed \"Hub\""]);

    // AfterShip resends both with a new one: each is kept once, and the new delivery holds them all.
    let next =
        send(&store, body("migrated", "InTransit", "2026-01-03T10:00:00+00:00", 300, &[&c1, &c2, &c3])).await;
    assert_eq!(shipment_of(&next), 1);
    let now = checkpoints(&store, 1).await;
    assert_eq!(&now[..2], &migrated[..], "the migrated checkpoints read the same from the new base");
    assert_eq!(now[2].message.as_deref(), Some("Arrived"));
    assert_eq!(now.len(), 3);
    assert_eq!(timeline_row(&store, 1).await, (Some(next.id), "[]".to_owned()));
    let item = store.read(|c| queries::shipment_item(c, 1)).await.unwrap();
    assert_eq!(item.last_location.as_deref(), Some("Boise"));

    // A stale update with only migrated checkpoints adds nothing.
    send(&store, body("migrated", "InTransit", "2026-01-01T10:00:00+00:00", 100, &[&c1])).await;
    assert_eq!(checkpoints(&store, 1).await, now);
    assert_eq!(item.last_location, store.read(|c| queries::shipment_item(c, 1)).await.unwrap().last_location);
    store.close();
}
