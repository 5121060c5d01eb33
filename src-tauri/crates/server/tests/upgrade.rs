//! Upgrading a real user's data dir: the database and settings written by the release before the
//! plain store (`fixtures/release-a504ba7`, made by that release's own binary: see its README) are
//! opened by this engine, migrated, and give the same answers through the inspector API as that
//! release gave: every delivery (ids, headers in order, bodies byte for byte, verdicts, signature
//! reports), shipment (checkpoints in order, deliveries), forward and setting.

mod common;

use std::path::Path;

use common::*;
use serde_json::Value;
use shipwatch_server::config::Limits;

const FIXTURE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/release-a504ba7");

fn captured(name: &str) -> Value {
    let path = Path::new(FIXTURE).join("api").join(name);
    serde_json::from_slice(&std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display())))
        .unwrap()
}

/// The ids of a captured list.
fn ids(list: &Value) -> Vec<i64> {
    list["items"].as_array().unwrap().iter().map(|i| i["id"].as_i64().unwrap()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_data_dir_of_the_previous_release_is_migrated_with_everything_in_it() {
    let tmp = tempfile::tempdir().unwrap();
    for file in ["shipwatch.db", "settings.json"] {
        std::fs::copy(Path::new(FIXTURE).join(file), tmp.path().join(file)).unwrap();
    }
    let mut t = start_in(tmp.path(), Limits::default()).await;

    let deliveries = captured("deliveries.json");
    assert_eq!(t.get_json("/api/deliveries?limit=500").await, deliveries);
    assert_eq!(
        t.get_json("/api/deliveries?verdict=failed&limit=500").await,
        captured("deliveries-failed.json")
    );
    let delivery_ids = ids(&deliveries);
    assert_eq!(delivery_ids.len(), 30, "the fixture's deliveries");
    for id in &delivery_ids {
        assert_eq!(
            t.get_json(&format!("/api/deliveries/{id}")).await,
            captured(&format!("delivery-{id}.json"))
        );
        let forwards = t.get_json(&format!("/api/deliveries/{id}/forwards")).await;
        let mut expected = captured(&format!("delivery-{id}-forwards.json"));
        if *id == 28 {
            // Its forward was retrying, its next attempt long past: the forwarder this engine runs
            // may have tried it once more already (to a port where nothing listens).
            let attempts = forwards[0]["attempts"].as_i64().unwrap();
            assert!(attempts >= 8, "{forwards}");
            for field in [
                "attempts",
                "status",
                "error",
                "last_attempt_at",
                "next_attempt_at",
                "round_trip_ms",
                "state",
            ] {
                expected[0][field] = forwards[0][field].clone();
            }
        }
        assert_eq!(forwards, expected, "forwards of delivery {id}");
    }

    let shipments = captured("shipments.json");
    assert_eq!(t.get_json("/api/shipments?limit=500").await, shipments);
    for id in ids(&shipments) {
        assert_eq!(
            t.get_json(&format!("/api/shipments/{id}")).await,
            captured(&format!("shipment-{id}.json"))
        );
    }

    let mut settings = t.get_json("/api/settings").await;
    let mut expected = captured("settings.json");
    // The running receiver's address, not a setting.
    settings.as_object_mut().unwrap().remove("listen");
    expected.as_object_mut().unwrap().remove("listen");
    assert_eq!(settings, expected);

    // What the API does not show: the forward watermark (forward mode would otherwise send the
    // history again), and the counters the status bar reads, started from what was there.
    let conn = rusqlite::Connection::open(t.db_path()).unwrap();
    let watermark: String = conn
        .query_row("SELECT value FROM meta WHERE key = 'forward.last_delivery_id'", [], |r| r.get(0))
        .unwrap();
    assert_eq!(watermark, "30");
    let total: i64 =
        conn.query_row("SELECT value FROM counters WHERE name = 'deliveries'", [], |r| r.get(0)).unwrap();
    assert_eq!(total, 30);
    let version: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0)).unwrap();
    assert_eq!(version, shipwatch_store::migrations::latest_version());
    drop(conn);
    let status = t.get_json("/api/status").await;
    assert_eq!(status["deliveries_total"], 30, "{status}");

    // And it carries on: the next delivery gets the next id, never one of the old ones.
    let body = sample(&event_id(), "UPGRADE-1");
    assert_eq!(t.post_signed(&body, "fixture-secret").await.status, 200);
    assert_eq!(t.latest_delivery().await["id"], 31);
    t.shutdown().await;
}
