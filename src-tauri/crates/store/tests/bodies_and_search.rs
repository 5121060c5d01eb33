//! Stored bodies and search on real SQLite files: bodies and headers come back byte for byte
//! whatever codec stored them (zstd without a dictionary at first, then with one trained from the
//! deliveries, binary and non-JSON bodies included, and after a reopen); and the searches the UI
//! makes find what they should through the indexes and the FTS5 table, with the plans checked.

use std::sync::atomic::{AtomicU64, Ordering};

use rusqlite::Connection;
use serde_json::json;
use shipwatch_aftership::{parse_envelope, DeliveryVerdict, SecretSlot};
use shipwatch_api::{DeliveryQuery, ShipmentQuery};
use shipwatch_store::{bodies, queries, NewDelivery, Store, StoredVerdict, WriterConfig};

static N: AtomicU64 = AtomicU64::new(1);

/// An AfterShip-shaped, pretty-printed update of shipment `n` with `checkpoints` checkpoints.
fn body(n: u64, checkpoints: u64) -> Vec<u8> {
    let cps: Vec<_> = (0..checkpoints)
        .map(|i| {
            let message = ["Departed facility", "Arrived at sort facility", "In transit to next facility"]
                [i as usize % 3];
            let location = ["Memphis, TN", "Louisville, KY", "Indianapolis, IN"][(i + n) as usize % 3];
            json!({
                "checkpoint_time": format!("2026-01-{:02}T{:02}:00:00", 1 + i % 27, i % 24),
                "tag": "InTransit",
                "subtag": "InTransit_001",
                "message": message,
                "location": location,
                "slug": "ups",
            })
        })
        .collect();
    serde_json::to_vec_pretty(&json!({
        "event": "tracking_update",
        "event_id": format!("0b6a{n:04x}-5bd2-4b4e-9c7e-{checkpoints:012x}"),
        "is_tracking_first_tag": false,
        "ts": 1_767_000_000 + n * 60 + checkpoints,
        "msg": {
            "id": format!("{n:032x}"),
            "tracking_number": format!("1Z999AA1{n:010}"),
            "slug": "ups",
            "title": format!("Order #{n} — Café crème"),
            "order_id": format!("#{}", 1000 + n),
            "tag": "InTransit",
            "last_updated_at": format!("2026-01-{:02}T10:00:{:02}+00:00", 1 + checkpoints % 27, n % 60),
            "checkpoints": cps,
        },
    }))
    .unwrap()
}

/// Headers as AfterShip's deliveries come through a tunnel.
fn headers() -> Vec<(String, String)> {
    [
        ("Host", "shop-hooks.example.com"),
        ("User-Agent", "AfterShip-Webhook/2025-07"),
        ("Content-Length", "5120"),
        ("Accept-Encoding", "gzip"),
        ("Cf-Connecting-Ip", "35.190.44.12"),
        ("Content-Type", "application/json"),
        ("X-Forwarded-For", "35.190.44.12"),
        ("X-Forwarded-Proto", "https"),
        ("aftership-hmac-sha256", "Tm90IGEgcmVhbCBzaWduYXR1cmUsIGp1c3QgYnl0ZXM="),
    ]
    .into_iter()
    .map(|(n, v)| (n.to_owned(), v.to_owned()))
    .collect()
}

fn delivery(body: Vec<u8>) -> NewDelivery {
    NewDelivery {
        received_at_ms: 1_767_000_000_000 + N.fetch_add(1, Ordering::Relaxed) as i64,
        peer: "127.0.0.1:50000".into(),
        forwarded_for: None,
        cf_connecting_ip: None,
        method: "POST".into(),
        path: "/webhooks/aftership".into(),
        headers: headers(),
        body_size: body.len() as i64,
        envelope: parse_envelope(&body).ok(),
        body,
        body_truncated: false,
        verdict: StoredVerdict::Signature(DeliveryVerdict::Valid(SecretSlot::Current)),
        status: 200,
        parse_error: None,
        diagnosis: None,
    }
}

fn codecs(path: &std::path::Path, id: i64) -> (i64, i64, Option<i64>) {
    Connection::open(path)
        .unwrap()
        .query_row(
            "SELECT headers_codec, body_codec, dictionary_id FROM deliveries WHERE id = ?1",
            [id],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .unwrap()
}

#[tokio::test]
async fn bodies_come_back_byte_for_byte_before_and_after_a_dictionary_and_a_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let config = WriterConfig { full_sync: false, ..WriterConfig::default() };
    let store = Store::open(dir.path(), config.clone()).unwrap();
    let path = store.path().to_owned();
    assert_eq!(store.train_dictionary_if_due(1).await.unwrap(), None, "nothing to train from yet");

    let first = store.insert(delivery(body(1, 3))).await.unwrap();
    assert_eq!(codecs(&path, first.id).1, shipwatch_bodies::ZSTD, "zstd without a dictionary at first");
    // Not JSON, not UTF-8, with NUL bytes: kept as received (random bytes do not compress).
    let mut x = 0x9e37_79b9_7f4a_7c15u64;
    let binary: Vec<u8> = (0..4096)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 32) as u8
        })
        .chain([0, 0xff, 0xfe])
        .collect();
    let raw = store.insert(delivery(binary.clone())).await.unwrap();
    assert_eq!(codecs(&path, raw.id).1, shipwatch_bodies::RAW);

    let mut ids = vec![(first.id, body(1, 3)), (raw.id, binary)];
    for n in 2..=bodies::TRAIN_AFTER as u64 {
        let b = body(n, 1 + n % 12);
        let d = store.insert(delivery(b.clone())).await.unwrap();
        if n % 97 == 0 {
            ids.push((d.id, b));
        }
    }
    let dict = store.train_dictionary_if_due(2).await.unwrap().expect("a dictionary is due");
    assert_eq!(store.dictionary_id(), Some(dict));
    assert_eq!(store.train_dictionary_if_due(3).await.unwrap(), None, "one is enough for now");

    let after = body(5_000, 9);
    let with_dict = store.insert(delivery(after.clone())).await.unwrap();
    assert_eq!(codecs(&path, with_dict.id), (dict + 1, dict + 1, Some(dict)), "headers too");
    ids.push((with_dict.id, after.clone()));
    let plain_size: i64 = Connection::open(&path)
        .unwrap()
        .query_row("SELECT length(body) FROM deliveries WHERE id = ?1", [with_dict.id], |r| r.get(0))
        .unwrap();
    assert!((plain_size as usize) < after.len() / 4, "{plain_size} bytes stored for {}", after.len());

    let check = |store: &Store, ids: Vec<(i64, Vec<u8>)>| {
        let store = store.clone();
        async move {
            for (id, expected) in ids {
                let record = store.read(move |c| queries::get_delivery(c, id)).await.unwrap();
                assert_eq!(record.body, expected, "delivery {id}");
                assert_eq!(record.headers, headers());
            }
        }
    };
    check(&store, ids.clone()).await;
    store.close();

    // Reopened: the dictionary is read back, old and new rows decode, new ones use it.
    let store = Store::open(dir.path(), config).unwrap();
    assert_eq!(store.dictionary_id(), Some(dict));
    check(&store, ids).await;
    let next = store.insert(delivery(body(6_000, 4))).await.unwrap();
    assert_eq!(codecs(&path, next.id).2, Some(dict));
    // The schema keeps a dictionary that rows name.
    let conn = Connection::open(&path).unwrap();
    conn.pragma_update(None, "foreign_keys", true).unwrap();
    assert!(conn.execute("DELETE FROM dictionaries WHERE id = ?1", [dict]).is_err());
    store.close();
}

/// SQLite's plan for `sql` with `args`, its steps joined with "; ".
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
async fn searches_find_by_prefix_and_substring_through_indexes() {
    let dir = tempfile::tempdir().unwrap();
    let store =
        Store::open(dir.path(), WriterConfig { full_sync: false, ..WriterConfig::default() }).unwrap();
    for n in 1..=30 {
        store.insert(delivery(body(n, 2))).await.unwrap();
        store.insert(delivery(body(n, 3))).await.unwrap();
    }
    let deliveries = |q: &str| {
        let store = store.clone();
        let query = DeliveryQuery { q: Some(q.to_owned()), ..Default::default() };
        async move {
            let page = store.read(move |c| queries::list_deliveries(c, &query)).await.unwrap();
            page.items.iter().map(|d| d.tracking_number.clone().unwrap_or_default()).collect::<Vec<_>>()
        }
    };
    let shipments = |q: &str| {
        let store = store.clone();
        let query = ShipmentQuery { q: Some(q.to_owned()), ..Default::default() };
        async move {
            let list = store.read(move |c| queries::list_shipments(c, &query)).await.unwrap();
            list.items.iter().map(|s| s.order_id.clone().unwrap_or_default()).collect::<Vec<_>>()
        }
    };
    // Exact and prefix, any ASCII case: both updates of the shipment.
    assert_eq!(deliveries("1z999aa10000000007").await, ["1Z999AA10000000007", "1Z999AA10000000007"]);
    assert_eq!(deliveries("#1012").await.len(), 2);
    assert_eq!(deliveries("0b6a0003-").await.len(), 2, "an event id by its prefix");
    // Substrings: inside a tracking number, a checkpoint location, a title with non-ASCII in it.
    assert_eq!(deliveries("0000000021").await, ["1Z999AA10000000021", "1Z999AA10000000021"]);
    assert_eq!(shipments("CRÈME").await.len(), 30, "Unicode case folding by the trigram tokenizer");
    assert_eq!(shipments("dianapol").await.len(), 30, "a location of a checkpoint");
    assert_eq!(shipments("Order #17 ").await, ["#1017"]);
    assert!(deliveries("nothing like it").await.is_empty());
    // A forged delivery changed no shipment: it is found by its own tracking number all the same.
    let mut forged = delivery(body(500, 2));
    forged.verdict = StoredVerdict::Signature(DeliveryVerdict::Invalid);
    forged.status = 401;
    store.insert(forged).await.unwrap();
    assert_eq!(deliveries("1Z999AA10000000500").await, ["1Z999AA10000000500"]);
    assert!(shipments("1Z999AA10000000500").await.is_empty(), "and makes no shipment");
    // An order id that a later update of a shipment brings replaces the one it had.
    let mut later: serde_json::Value = serde_json::from_slice(&body(7, 4)).unwrap();
    later["msg"]["order_id"] = json!("LATE-ORDER-7");
    store.insert(delivery(serde_json::to_vec_pretty(&later).unwrap())).await.unwrap();
    assert_eq!(shipments("late-order").await, ["LATE-ORDER-7"]);
    assert_eq!(shipments("DER-7").await, ["LATE-ORDER-7"]);
    assert!(shipments("#1007").await.is_empty(), "the order id it had is gone");
    assert!(shipments("zz").await.is_empty());
    // Wildcards are text: `%` and `_` match only themselves.
    assert!(deliveries("1Z%").await.is_empty());
    assert!(deliveries("_Z").await.is_empty());

    // Every search and count the UI makes is served by an index.
    let conn = Connection::open(store.path()).unwrap();
    for (sql, needle) in [
        ("SELECT id FROM shipments WHERE tracking_number LIKE ?1 ESCAPE '\\'", "shipments_tracking_number"),
        ("SELECT id FROM shipments WHERE order_id LIKE ?1 ESCAPE '\\'", "shipments_order_id"),
        ("SELECT id FROM deliveries WHERE shipment_id IN (?1, 2)", "deliveries_shipment"),
        ("SELECT id FROM deliveries WHERE event_id GLOB ?1", "deliveries_event_id"),
        (
            "SELECT id FROM deliveries WHERE verdict <> 'valid' AND verdict <> 'unverified'
             AND (tracking_number LIKE ?1 ESCAPE '\\' OR order_id LIKE ?1 ESCAPE '\\')",
            "deliveries_failed",
        ),
        ("SELECT id FROM shipments WHERE title LIKE ?1 ESCAPE '\\'", "shipments_title"),
        ("SELECT rowid FROM shipment_search WHERE shipment_search MATCH ?1", "VIRTUAL TABLE"),
        ("SELECT id FROM deliveries WHERE tag = ?1 ORDER BY id DESC LIMIT 101", "deliveries_tag"),
        (
            "SELECT sum(deliveries), sum(failures) FROM delivery_counts WHERE quarter >= ?1",
            "INTEGER PRIMARY KEY",
        ),
        ("SELECT max(received_at) FROM deliveries WHERE received_at < ?1", "deliveries_received_at"),
        (
            "SELECT id FROM shipments WHERE tag = ?1 ORDER BY updated_at DESC, id DESC LIMIT 51",
            "shipments_tag",
        ),
    ] {
        let p = plan(&conn, sql, &[&"1Z9%"]);
        // A step "SCAN t" alone reads the whole table; the failed deliveries' partial index may be
        // read through (they are the few that failed).
        let whole_table = p.split("; ").any(|step| step == "SCAN deliveries" || step == "SCAN shipments");
        assert!(p.contains(needle) && !whole_table, "{sql}: {p}");
        assert!(!p.contains("TEMP B-TREE"), "{sql}: {p}");
    }
    store.close();
}

#[tokio::test]
async fn the_wal_stays_small_under_a_sustained_load() {
    // A checkpoint that runs beside a writer committing all the time never catches up, and the WAL
    // would grow by every page written (tens of KB a delivery here); SQLite's automatic checkpoint
    // after a commit starts it over instead.
    let dir = tempfile::tempdir().unwrap();
    let store =
        Store::open(dir.path(), WriterConfig { full_sync: false, ..WriterConfig::default() }).unwrap();
    let wal = store.path().with_extension("db-wal");
    let mut largest = 0;
    let tasks: Vec<_> = (0..4u64)
        .map(|t| {
            let store = store.clone();
            tokio::spawn(async move {
                for n in 0..500 {
                    store.insert(delivery(body(t * 10_000 + n, 1 + n % 12))).await.unwrap();
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap();
        largest = largest.max(std::fs::metadata(&wal).map(|m| m.len()).unwrap_or(0));
    }
    let pages: i64 = Connection::open(store.path())
        .unwrap()
        .query_row("SELECT page_count FROM pragma_page_count", [], |r| r.get(0))
        .unwrap();
    assert!(largest < 16 << 20, "the WAL reached {largest} bytes for a {} KB database", pages * 4);
    store.close();
}
