//! Upgrading a real user's data dir: the database and settings written by the release before the
//! plain store (`fixtures/release-a504ba7`, made by that release's own binary: see its README) are
//! opened by this engine, migrated, and give the same answers through the inspector API as that
//! release gave: every delivery (ids, headers in order, bodies byte for byte, verdicts, signature
//! reports), shipment (checkpoints in order, deliveries), forward and setting. Every field that
//! release answered is answered the same; fields added since may be added to the answers
//! ([`assert_answers_as_before`]).

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

/// Checks that `got` answers everything `before` (the previous release's answer) did, the same:
/// every field of an object (new fields may be added), every item of a list in order (no more, no
/// fewer), every other value equal. Panics with the path of the first difference.
fn assert_answers_as_before(got: &Value, before: &Value, what: &str) {
    if let Err(at) = answers_as_before(got, before, String::new()) {
        panic!("{what}: differs at {at}\nnow:    {got}\nbefore: {before}");
    }
}

fn answers_as_before(got: &Value, before: &Value, at: String) -> Result<(), String> {
    match (got, before) {
        (Value::Object(got), Value::Object(before)) => {
            for (key, was) in before {
                let at = format!("{at}/{key}");
                let Some(now) = got.get(key) else { return Err(format!("{at} (missing)")) };
                answers_as_before(now, was, at)?;
            }
            Ok(())
        }
        (Value::Array(got), Value::Array(before)) => {
            if got.len() != before.len() {
                return Err(format!("{at} ({} items, was {})", got.len(), before.len()));
            }
            for (i, (now, was)) in got.iter().zip(before).enumerate() {
                answers_as_before(now, was, format!("{at}/{i}"))?;
            }
            Ok(())
        }
        _ if got == before => Ok(()),
        _ => Err(format!("{at} ({got} was {before})")),
    }
}

#[test]
fn answers_compare_as_a_superset_of_what_was_answered() {
    use serde_json::json;
    let before = json!({ "a": 1, "list": [{ "x": "y" }], "none": null });
    assert_answers_as_before(
        &json!({ "a": 1, "list": [{ "x": "y", "new": true }], "none": null, "b": 2 }),
        &before,
        "ok",
    );
    for differs in [
        json!({ "list": [{ "x": "y" }], "none": null }),
        json!({ "a": 2, "list": [{ "x": "y" }], "none": null }),
        json!({ "a": 1, "list": [{ "x": "z" }], "none": null }),
        json!({ "a": 1, "list": [{ "x": "y" }, { "x": "y" }], "none": null }),
        json!({ "a": 1, "list": [{ "x": "y" }], "none": 0 }),
        json!({ "a": 1, "list": [], "none": null }),
    ] {
        assert!(answers_as_before(&differs, &before, String::new()).is_err(), "{differs}");
    }
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
    assert_answers_as_before(&t.get_json("/api/deliveries?limit=500").await, &deliveries, "deliveries");
    assert_answers_as_before(
        &t.get_json("/api/deliveries?verdict=failed&limit=500").await,
        &captured("deliveries-failed.json"),
        "failed deliveries",
    );
    let delivery_ids = ids(&deliveries);
    assert_eq!(delivery_ids.len(), 30, "the fixture's deliveries");
    for id in &delivery_ids {
        assert_answers_as_before(
            &t.get_json(&format!("/api/deliveries/{id}")).await,
            &captured(&format!("delivery-{id}.json")),
            &format!("delivery {id}"),
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
        assert_answers_as_before(&forwards, &expected, &format!("forwards of delivery {id}"));
    }

    let shipments = captured("shipments.json");
    assert_answers_as_before(&t.get_json("/api/shipments?limit=500").await, &shipments, "shipments");
    for id in ids(&shipments) {
        assert_answers_as_before(
            &t.get_json(&format!("/api/shipments/{id}")).await,
            &captured(&format!("shipment-{id}.json")),
            &format!("shipment {id}"),
        );
    }

    let mut settings = t.get_json("/api/settings").await;
    let mut expected = captured("settings.json");
    // The running receiver's address, not a setting.
    settings.as_object_mut().unwrap().remove("listen");
    expected.as_object_mut().unwrap().remove("listen");
    assert_answers_as_before(&settings, &expected, "settings");

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
