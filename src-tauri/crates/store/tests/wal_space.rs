//! The WAL's blocks kept written ahead of its frames (`wal_space.rs`), on real files: the space is
//! there and holds zeros, and a copy of the files taken while the store runs (what a crash leaves
//! behind) opens with every delivery that was acknowledged, frames intact.

use std::path::Path;
use std::time::{Duration, Instant};

use rusqlite::Connection;
use serde_json::json;
use shipwatch_aftership::{parse_envelope_lean, DeliveryVerdict, SecretSlot};
use shipwatch_store::{NewDelivery, Store, StoredVerdict, WriterConfig};

/// How far ahead of its frames the WAL is kept (`wal_space::AHEAD`).
const AHEAD: u64 = 16 << 20;

fn delivery(n: usize, padding: usize) -> NewDelivery {
    let body = serde_json::to_vec(&json!({
        "event": "tracking_update",
        "event_id": format!("wal-space-{n}"),
        "msg": { "id": format!("t{n}"), "tracking_number": format!("TN{n}"), "tag": "InTransit" },
        "note": "x".repeat(padding),
    }))
    .unwrap();
    NewDelivery {
        received_at_ms: 1_767_000_000_000 + n as i64,
        peer: "127.0.0.1:50000".into(),
        forwarded_for: None,
        cf_connecting_ip: None,
        method: "POST".into(),
        path: "/webhooks/aftership".into(),
        headers: vec![("content-type".into(), "application/json".into())],
        body_size: body.len() as i64,
        envelope: parse_envelope_lean(&body).ok(),
        body,
        body_truncated: false,
        verdict: StoredVerdict::Signature(DeliveryVerdict::Valid(SecretSlot::Current)),
        status: 200,
        parse_error: None,
    }
}

fn wal_of(db: &Path) -> std::path::PathBuf {
    db.with_file_name("shipwatch.db-wal")
}

/// Stores `count` deliveries, 32 at a time (the writer takes them in groups).
fn store_all(store: &Store, count: usize, padding: usize) {
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let mut tasks = tokio::task::JoinSet::new();
        for n in 0..count {
            let store = store.clone();
            tasks.spawn(async move { store.insert(delivery(n, padding)).await.map(|_| ()) });
            if tasks.len() >= 32 {
                tasks.join_next().await.unwrap().unwrap().unwrap();
            }
        }
        while let Some(done) = tasks.join_next().await {
            done.unwrap().unwrap();
        }
    });
}

/// Copies the database and its WAL as a crash would leave them (no -shm: SQLite rebuilds it) and
/// counts the deliveries SQLite recovers from the copy.
fn deliveries_in_a_copy(db: &Path) -> i64 {
    let copy = tempfile::tempdir().unwrap();
    let to = copy.path().join("shipwatch.db");
    std::fs::copy(db, &to).unwrap();
    std::fs::copy(wal_of(db), wal_of(&to)).unwrap();
    let conn = Connection::open(&to).unwrap();
    let ok: String = conn.query_row("PRAGMA integrity_check", [], |r| r.get(0)).unwrap();
    assert_eq!(ok, "ok");
    conn.query_row("SELECT count(*) FROM deliveries", [], |r| r.get(0)).unwrap()
}

fn wait_for(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn the_wal_is_kept_written_ahead_of_its_frames_with_zeros() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), WriterConfig::default()).unwrap();
    let db = store.path().to_owned();
    store_all(&store, 40, 0);
    let wal = wal_of(&db);
    wait_for("the WAL's space ahead", || std::fs::metadata(&wal).map(|m| m.len()).unwrap_or(0) >= AHEAD);
    let bytes = std::fs::read(&wal).unwrap();
    // 40 small deliveries take far less than a megabyte of frames; the rest is zeros.
    assert!(bytes[bytes.len() - (AHEAD as usize - (1 << 20))..].iter().all(|&b| b == 0));
    assert_eq!(deliveries_in_a_copy(&db), 40);
    store.close();
}

#[test]
fn a_store_written_while_its_wal_grows_ahead_loses_no_frame() {
    // About 40 MB of frames: the thread writes zeros ahead of the writer many times while it commits.
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), WriterConfig::default()).unwrap();
    let db = store.path().to_owned();
    store_all(&store, 600, 60_000);
    let wal_len = std::fs::metadata(wal_of(&db)).unwrap().len();
    assert!(wal_len > 40 << 20, "the WAL holds the frames and its space ahead: {wal_len} bytes");
    assert_eq!(deliveries_in_a_copy(&db), 600);
    store.close();
    // And after a clean stop, as SQLite leaves it.
    let conn = Connection::open(&db).unwrap();
    let n: i64 = conn.query_row("SELECT count(*) FROM deliveries", [], |r| r.get(0)).unwrap();
    assert_eq!(n, 600);
}

#[test]
fn a_store_without_fsyncs_writes_no_space_ahead() {
    // Throwaway stores (tests) sync nothing: nothing to gain, so no thread and no zeros.
    let dir = tempfile::tempdir().unwrap();
    let store =
        Store::open(dir.path(), WriterConfig { full_sync: false, ..WriterConfig::default() }).unwrap();
    let db = store.path().to_owned();
    store_all(&store, 40, 0);
    std::thread::sleep(Duration::from_millis(300));
    assert!(std::fs::metadata(wal_of(&db)).unwrap().len() < 1 << 20);
    store.close();
}
