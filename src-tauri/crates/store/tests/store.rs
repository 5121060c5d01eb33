//! The store on real SQLite files: reopening a database of the current schema version keeps its data
//! (whether written by the store or by plain SQL at that version) and migrates nothing again; the
//! group-committing writer stores many concurrent deliveries once each; one failing delivery in a group
//! does not fail the others; and a failed commit answers every caller of the group with an error and
//! leaves nothing on disk.

use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};

use rusqlite::Connection;
use shipwatch_aftership::{parse_envelope, DeliveryVerdict, SecretSlot};
use shipwatch_api::{DeliveryQuery, ShipmentQuery};
use shipwatch_store::{migrations, queries, NewDelivery, Store, StoredVerdict, WriterConfig};

const FIXTURE: &[u8] = include_bytes!("../../../../tests/fixtures/aftership-v4-tracking-update.json");

fn event_id() -> String {
    static N: AtomicU64 = AtomicU64::new(1);
    format!("00000000-0000-4000-8000-{:012x}", N.fetch_add(1, Ordering::Relaxed))
}

/// The fixture with another event id and tracking id.
fn body(event_id: &str, tracking_id: &str) -> Vec<u8> {
    let mut v: serde_json::Value = serde_json::from_slice(FIXTURE).unwrap();
    v["event_id"] = event_id.into();
    v["msg"]["id"] = tracking_id.into();
    serde_json::to_vec(&v).unwrap()
}

fn delivery(body: Vec<u8>, verdict: DeliveryVerdict) -> NewDelivery {
    let (envelope, parse_error) = match parse_envelope(&body) {
        Ok(e) => (Some(e), None),
        Err(e) => (None, Some(e.to_string())),
    };
    NewDelivery {
        received_at_ms: 1_700_000_000_000,
        peer: "127.0.0.1:50000".into(),
        forwarded_for: None,
        cf_connecting_ip: None,
        method: "POST".into(),
        path: "/webhooks/aftership".into(),
        headers: vec![("content-type".into(), "application/json".into())],
        body_size: body.len() as i64,
        body,
        body_truncated: false,
        verdict: StoredVerdict::Signature(verdict),
        status: if verdict.accepted() { 200 } else { 401 },
        envelope,
        parse_error,
        diagnosis: None,
    }
}

fn valid() -> DeliveryVerdict {
    DeliveryVerdict::Valid(SecretSlot::Current)
}

fn user_version(path: &Path) -> i64 {
    Connection::open(path).unwrap().query_row("PRAGMA user_version", [], |r| r.get(0)).unwrap()
}

fn count(path: &Path, sql: &str) -> i64 {
    Connection::open(path).unwrap().query_row(sql, [], |r| r.get(0)).unwrap()
}

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap()
}

#[test]
fn reopening_a_database_of_the_current_version_keeps_its_data() {
    let dir = tempfile::tempdir().unwrap();
    let rt = rt();
    let store = Store::open(dir.path(), WriterConfig::default()).unwrap();
    let (e1, e2) = (event_id(), event_id());
    let first = rt.block_on(store.insert(delivery(body(&e1, "reopen-1"), valid()))).unwrap();
    rt.block_on(store.insert(delivery(body(&e2, "reopen-2"), DeliveryVerdict::Invalid))).unwrap();
    rt.block_on(store.insert(delivery(b"\xff not json".to_vec(), DeliveryVerdict::Missing))).unwrap();
    let deliveries = store.read_blocking(|c| queries::list_deliveries(c, &DeliveryQuery::default())).unwrap();
    let shipments = store.read_blocking(|c| queries::list_shipments(c, &ShipmentQuery::default())).unwrap();
    let detail = store.read_blocking(|c| queries::get_delivery(c, first.id)).unwrap();
    store.close();

    let path = shipwatch_store::db_path(dir.path());
    // Closed cleanly, the store is one file: everything is in the database, the WAL is empty.
    let mut wal = path.clone().into_os_string();
    wal.push("-wal");
    let wal_len = std::fs::metadata(&wal).map(|m| m.len()).unwrap_or(0);
    assert_eq!(wal_len, 0, "the WAL after a clean close");
    assert_eq!(user_version(&path), migrations::latest_version());
    let schema_before = count(&path, "SELECT count(*) FROM sqlite_master");

    let store = Store::open(dir.path(), WriterConfig::default()).unwrap();
    assert_eq!(user_version(&path), migrations::latest_version(), "not migrated again");
    assert_eq!(count(&path, "SELECT count(*) FROM sqlite_master"), schema_before);
    assert_eq!(
        store.read_blocking(|c| queries::list_deliveries(c, &DeliveryQuery::default())).unwrap(),
        deliveries
    );
    assert_eq!(
        store.read_blocking(|c| queries::list_shipments(c, &ShipmentQuery::default())).unwrap(),
        shipments
    );
    let again = store.read_blocking(|c| queries::get_delivery(c, first.id)).unwrap();
    assert_eq!(again.body, detail.body);
    assert_eq!(again.headers, detail.headers);
    assert_eq!(again.item, detail.item);
    assert_eq!(deliveries.items.len(), 3);
    assert_eq!(shipments.items.len(), 1);
    // Dedup and ids carry on across the reopen.
    let repeat = rt.block_on(store.insert(delivery(body(&e1, "reopen-1"), valid()))).unwrap();
    assert_eq!(repeat.duplicate_of, Some(first.id));
    assert!(repeat.id > deliveries.items[0].id);
    store.close();
}

#[test]
fn a_current_version_database_written_by_plain_sql_opens_with_its_rows() {
    let dir = tempfile::tempdir().unwrap();
    let path = shipwatch_store::db_path(dir.path());
    {
        let mut conn = Connection::open(&path).unwrap();
        migrations::migrate(&mut conn, &path).unwrap();
        conn.execute_batch(
            "INSERT INTO shipments (id, key, tracking_number, slug, tag, tags_seen, created_at, updated_at)
                VALUES (7, 'id:older', 'OLD123', 'ups', 'Delivered', ',Delivered,', 1600000000000, 1600000000000);
             INSERT INTO deliveries (id, received_at, peer, method, path, headers, body, body_size, verdict,
                secret, status, event_id, tracking_number, slug, tag, shipment_id)
                VALUES (41, 1600000000000, '1.2.3.4:5', 'POST', '/webhooks/aftership', '[[\"a\",\"b\"]]',
                X'00FF7B7D', 4, 'valid', 'current', 200, 'older-event', 'OLD123', 'ups', 'Delivered', 7);",
        )
        .unwrap();
    }
    let version = user_version(&path);
    let store = Store::open(dir.path(), WriterConfig::default()).unwrap();
    assert_eq!(user_version(&path), version);
    let d = store.read_blocking(|c| queries::get_delivery(c, 41)).unwrap();
    assert_eq!(d.body, b"\x00\xff{}");
    assert_eq!(d.headers, vec![("a".to_owned(), "b".to_owned())]);
    assert_eq!(d.item.tracking_number.as_deref(), Some("OLD123"));
    let s = store.read_blocking(|c| queries::get_shipment(c, 7)).unwrap();
    assert_eq!(s.item.tag.as_deref(), Some("Delivered"));
    assert_eq!(s.deliveries.len(), 1);
    // A new delivery after the existing rows gets a new id.
    let rt = rt();
    let stored = rt.block_on(store.insert(delivery(body(&event_id(), "plain-sql"), valid()))).unwrap();
    assert!(stored.id > 41);
    store.close();
}

#[test]
fn the_writer_stores_many_concurrent_deliveries_once_each() {
    let dir = tempfile::tempdir().unwrap();
    let rt = rt();
    let store = Store::open(dir.path(), WriterConfig::default()).unwrap();
    let n = 600;
    let ids: Vec<i64> = rt.block_on(async {
        let tasks: Vec<_> = (0..n)
            .map(|i| {
                let store = store.clone();
                tokio::spawn(async move {
                    store.insert(delivery(body(&event_id(), &format!("many-{i}")), valid())).await
                })
            })
            .collect();
        let mut ids = Vec::new();
        for t in tasks {
            ids.push(t.await.unwrap().expect("stored").id);
        }
        ids
    });
    let mut sorted = ids.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!(sorted.len(), n, "distinct ids");
    let path = store.path().to_owned();
    store.close();
    assert_eq!(count(&path, "SELECT count(*) FROM deliveries"), n as i64);
    assert_eq!(count(&path, "SELECT count(*) FROM shipments"), n as i64);
}

#[test]
fn one_failing_delivery_does_not_fail_the_others_of_its_group() {
    let dir = tempfile::tempdir().unwrap();
    let rt = rt();
    let store = Store::open(dir.path(), WriterConfig::default()).unwrap();
    let path = store.path().to_owned();
    Connection::open(&path)
        .unwrap()
        .execute_batch(
            "CREATE TRIGGER poison BEFORE INSERT ON deliveries WHEN NEW.event_id LIKE 'poison-%'
             BEGIN SELECT RAISE(ABORT, 'poisoned'); END;",
        )
        .unwrap();
    let results: Vec<(bool, Result<i64, String>)> = rt.block_on(async {
        let tasks: Vec<_> = (0..100)
            .map(|i| {
                let store = store.clone();
                let poisoned = i % 10 == 3;
                let eid = if poisoned { format!("poison-{i}") } else { event_id() };
                tokio::spawn(async move {
                    let r = store.insert(delivery(body(&eid, &format!("group-{i}")), valid())).await;
                    (poisoned, r.map(|s| s.id).map_err(|e| e.to_string()))
                })
            })
            .collect();
        let mut out = Vec::new();
        for t in tasks {
            out.push(t.await.unwrap());
        }
        out
    });
    for (poisoned, r) in &results {
        assert_eq!(r.is_err(), *poisoned, "{r:?}");
    }
    store.close();
    assert_eq!(count(&path, "SELECT count(*) FROM deliveries"), 90);
    assert_eq!(count(&path, "SELECT count(*) FROM deliveries WHERE event_id LIKE 'poison-%'"), 0);
    assert_eq!(count(&path, "SELECT count(*) FROM shipments"), 90, "no half-projected delivery");
}

#[test]
fn a_failed_commit_fails_every_caller_of_the_group_and_keeps_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let rt = rt();
    let store = Store::open(dir.path(), WriterConfig::default()).unwrap();
    let path = store.path().to_owned();
    // A deferred foreign key broken by every delivery makes each COMMIT fail.
    let side = Connection::open(&path).unwrap();
    side.execute_batch(
        "CREATE TABLE poison (d INTEGER REFERENCES deliveries(id) DEFERRABLE INITIALLY DEFERRED);
         CREATE TRIGGER poison_commit AFTER INSERT ON deliveries BEGIN INSERT INTO poison VALUES (-1); END;",
    )
    .unwrap();
    let results: Vec<bool> = rt.block_on(async {
        let tasks: Vec<_> = (0..50)
            .map(|i| {
                let store = store.clone();
                tokio::spawn(async move {
                    store.insert(delivery(body(&event_id(), &format!("c-{i}")), valid())).await.is_ok()
                })
            })
            .collect();
        let mut out = Vec::new();
        for t in tasks {
            out.push(t.await.unwrap());
        }
        out
    });
    assert!(results.iter().all(|ok| !ok), "every caller of a failed commit gets an error");
    assert_eq!(count(&path, "SELECT count(*) FROM deliveries"), 0);
    // The writer recovers once the cause is gone.
    side.execute_batch("DROP TRIGGER poison_commit; DROP TABLE poison;").unwrap();
    rt.block_on(store.insert(delivery(body(&event_id(), "after"), valid()))).expect("stored after recovery");
    store.close();
    assert_eq!(count(&path, "SELECT count(*) FROM deliveries"), 1);
}

#[test]
fn todays_counts_come_from_quarter_hour_counters_kept_by_the_schema() {
    let dir = tempfile::tempdir().unwrap();
    let rt = rt();
    let store = Store::open(dir.path(), WriterConfig::default()).unwrap();
    let quarter = 900_000;
    let midnight = 1_700_000_000_000 / quarter * quarter;
    let at = |ms: i64, verdict: DeliveryVerdict| {
        let mut d = delivery(body(&event_id(), &format!("q{ms}")), verdict);
        d.received_at_ms = ms;
        rt.block_on(store.insert(d)).unwrap().id
    };
    at(midnight - 1, DeliveryVerdict::Invalid); // yesterday
    at(midnight, valid());
    let forged = at(midnight + 5 * quarter + 17, DeliveryVerdict::Invalid);
    at(midnight + 40 * quarter, DeliveryVerdict::Missing);
    at(midnight + 41 * quarter, valid());
    let counts = |since| store.read_blocking(move |c| queries::delivery_counts(c, since)).unwrap();
    let today = counts(midnight);
    assert_eq!((today.total, today.since, today.failures_since), (5, 4, 2));
    assert_eq!(today.last_received_at_ms, Some(midnight + 41 * quarter));
    // What changes a delivery's verdict or time, or deletes it, is counted again by the triggers.
    rt.block_on(store.write(move |c| {
        c.execute("UPDATE deliveries SET verdict = 'valid' WHERE id = ?1", [forged])?;
        c.execute(
            "UPDATE deliveries SET received_at = received_at - 86400000 WHERE received_at = ?1",
            [midnight],
        )?;
        c.execute("DELETE FROM deliveries WHERE received_at = ?1", [midnight + 41 * quarter])?;
        Ok(())
    }))
    .unwrap();
    let today = counts(midnight);
    assert_eq!((today.total, today.since, today.failures_since), (4, 2, 1));
    let by_scan: (i64, i64) = store
        .read_blocking(move |c| {
            Ok(c.query_row(
                "SELECT count(*), sum(verdict IN ('invalid', 'missing', 'malformed')) FROM deliveries
                 WHERE received_at >= ?1",
                [midnight],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )?)
        })
        .unwrap();
    assert_eq!(by_scan, (2, 1), "the counters agree with a scan");
    store.close();
}
