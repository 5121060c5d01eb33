//! The shipment projection seen from outside: out-of-order updates (a late older retry never overwrites
//! a newer state, its checkpoints are merged), `tag_first_seen` and `stale` as reported by
//! `Engine::subscribe()`, unsigned or wrongly signed "Delivered" never changing a shipment, unverified
//! mode building flagged shipments, the slug + tracking number fallback key, and the versioned payload.

mod common;

use common::*;
use serde_json::{json, Value};
use shipwatch_server::EngineEvent;
use std::time::Duration;

async fn next_event(rx: &mut tokio::sync::broadcast::Receiver<EngineEvent>) -> EngineEvent {
    tokio::time::timeout(Duration::from_secs(5), rx.recv())
        .await
        .expect("an engine event")
        .expect("not lagged")
}

fn messages(shipment: &Value) -> Vec<String> {
    shipment["checkpoints"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["message"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_older_retry_after_delivered_keeps_delivered_and_merges_its_checkpoints() {
    let t = start(Some(SECRET)).await;
    let mut rx = t.engine().subscribe();
    let a = checkpoint("2021-01-13T13:39:00", "InfoReceived", "A: label created");
    let b = checkpoint("2021-01-14T08:00:00", "InTransit", "B: departed facility");
    let c = checkpoint("2021-01-15T09:30:00", "Delivered", "C: delivered, front door");

    // 1. InTransit as of the 14th.
    let (_, first) = update("ooo1", "InTransit", "2021-01-14T09:00:00+00:00", vec![a.clone()]);
    assert_eq!(t.post_signed(&first, SECRET).await.status, 200);
    let ev = next_event(&mut rx).await;
    let change = ev.shipment.as_ref().unwrap();
    assert!(change.created && change.tag_first_seen && !change.stale);
    assert_eq!(change.tag.as_deref(), Some("InTransit"));
    let sid = change.shipment_id;

    // 2. Delivered as of the 15th.
    let (_, delivered) = update("ooo1", "Delivered", "2021-01-15T10:00:00+00:00", vec![a.clone(), c.clone()]);
    assert_eq!(t.post_signed(&delivered, SECRET).await.status, 200);
    let ev = next_event(&mut rx).await;
    let change = ev.shipment.as_ref().unwrap();
    assert!(!change.created && change.tag_first_seen && !change.stale);
    assert_eq!(change.previous_tag.as_deref(), Some("InTransit"));
    assert_eq!(change.tag.as_deref(), Some("Delivered"));

    // 3. A retry of an InTransit update from between the two arrives late (retries run for 68 h).
    let (late_eid, late) =
        update("ooo1", "InTransit", "2021-01-14T12:00:00+00:00", vec![a.clone(), b.clone()]);
    assert_eq!(t.post_signed(&late, SECRET).await.status, 200, "accepted: it is a valid delivery");
    let ev = next_event(&mut rx).await;
    let change = ev.shipment.as_ref().unwrap();
    assert!(change.stale, "older than the stored state");
    assert!(!change.tag_first_seen, "a late older update is never 'first'");
    assert_eq!(change.tag.as_deref(), Some("Delivered"));

    let s = t.shipment(sid).await;
    assert_eq!(s["tag"], "Delivered", "the newer state stays");
    assert_eq!(s["subtag"], "Delivered_001");
    assert_eq!(
        messages(&s),
        ["A: label created", "B: departed facility", "C: delivered, front door"],
        "union, oldest first"
    );
    let late_detail = t.delivery(t.deliveries_for_event(&late_eid).await[0]["id"].as_i64().unwrap()).await;
    assert!(late_detail["projection"].as_str().unwrap().starts_with("stale"), "{late_detail}");
    assert_eq!(
        s["deliveries"].as_array().unwrap().len(),
        3,
        "the shipment lists the deliveries that built it"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_older_update_arriving_first_is_superseded_and_never_first_when_late() {
    let t = start(Some(SECRET)).await;
    let mut rx = t.engine().subscribe();
    let (_, delivered) = update("ooo2", "Delivered", "2021-03-02T10:00:00+00:00", vec![]);
    assert_eq!(t.post_signed(&delivered, SECRET).await.status, 200);
    assert!(next_event(&mut rx).await.shipment.as_ref().unwrap().tag_first_seen);
    // OutForDelivery was never seen, but it is older: neither the state nor "first seen" changes.
    let (_, ofd) = update("ooo2", "OutForDelivery", "2021-03-02T07:00:00+00:00", vec![]);
    assert_eq!(t.post_signed(&ofd, SECRET).await.status, 200);
    let ev = next_event(&mut rx).await;
    let change = ev.shipment.as_ref().unwrap();
    assert!(change.stale && !change.tag_first_seen);
    assert_eq!(t.shipments().await[0]["tag"], "Delivered");
    // A newer Exception after Delivered is taken (order is by time, not by tag), and is first seen.
    let (_, exc) = update("ooo2", "Exception", "2021-03-03T10:00:00+00:00", vec![]);
    assert_eq!(t.post_signed(&exc, SECRET).await.status, 200);
    let ev = next_event(&mut rx).await;
    let change = ev.shipment.as_ref().unwrap();
    assert!(!change.stale && change.tag_first_seen);
    assert_eq!(t.shipments().await[0]["tag"], "Exception");
    // Back to Delivered later on: not first seen any more.
    let (_, again) = update("ooo2", "Delivered", "2021-03-04T10:00:00+00:00", vec![]);
    assert_eq!(t.post_signed(&again, SECRET).await.status, 200);
    let ev = next_event(&mut rx).await;
    assert!(!ev.shipment.as_ref().unwrap().tag_first_seen);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_the_same_update_time_and_ts_the_update_with_the_newer_checkpoint_wins_in_either_order() {
    // Both times tie (carriers and relays do send the same `updated_at`): the checkpoints say which
    // update is newer, so the answer does not depend on which one arrives first.
    let t = start(Some(SECRET)).await;
    let a = checkpoint("2021-01-13T13:39:00", "InfoReceived", "A: label created");
    let b = checkpoint("2021-01-14T08:00:00", "InTransit", "B: departed facility");
    let c = checkpoint("2021-01-17T09:30:00", "Delivered", "C: delivered, front door");
    let at = "2021-01-17T10:00:00+00:00";
    for (id, newer_first) in [("tie1", true), ("tie2", false)] {
        let (_, delivered) = update(id, "Delivered", at, vec![a.clone(), b.clone(), c.clone()]);
        let (_, in_transit) = update(id, "InTransit", at, vec![a.clone(), b.clone()]);
        let order = if newer_first { [&delivered, &in_transit] } else { [&in_transit, &delivered] };
        for body in order {
            assert_eq!(t.post_signed(body, SECRET).await.status, 200);
        }
        let s = t.shipments().await.into_iter().find(|s| s["tracking_id"] == id).expect("projected");
        assert_eq!(s["tag"], "Delivered", "{id}: newer first = {newer_first}: {s}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unsigned_or_wrongly_signed_delivered_never_changes_a_shipment() {
    let t = start(Some(SECRET)).await;
    let (_, first) = update(
        "forge",
        "InTransit",
        "2021-01-14T09:00:00+00:00",
        vec![checkpoint("2021-01-14T08:00:00", "InTransit", "departed")],
    );
    assert_eq!(t.post_signed(&first, SECRET).await.status, 200);
    let before = t.shipments().await[0].clone();
    let sid = before["id"].as_i64().unwrap();
    let detail_before = t.shipment(sid).await;

    let (_, forged) = update(
        "forge",
        "Delivered",
        "2021-01-20T09:00:00+00:00",
        vec![checkpoint("2021-01-20T08:00:00", "Delivered", "delivered (forged)")],
    );
    let bad: Vec<Vec<(&str, String)>> = vec![
        vec![],
        vec![("aftership-hmac-sha256", sign(OTHER_SECRET, &forged))],
        vec![("aftership-hmac-sha256", sign(SECRET, &first))], // a real signature of another body
        vec![("aftership-hmac-sha256", "not-a-signature".into())],
        vec![("aftership-hmac-sha256", NODE_FIXTURE_HEX_SIG.into())],
        vec![("x-aftership-hmac-sha256", sign(SECRET, &forged))], // right value, renamed header
    ];
    for headers in &bad {
        let h: Vec<(&str, &str)> = headers.iter().map(|(n, v)| (*n, v.as_str())).collect();
        assert_eq!(t.post(&forged, &h).await.status, 401, "{headers:?}");
    }
    let after = t.shipment(sid).await;
    assert_eq!(after, detail_before, "nothing about the shipment changed");
    assert_eq!(t.shipments().await.len(), 1);
    // A forged Delivered for an unknown shipment does not create one either.
    let (_, new_forged) = update("forge-new", "Delivered", "2021-01-20T09:00:00+00:00", vec![]);
    assert_eq!(t.post(&new_forged, &[]).await.status, 401);
    assert_eq!(t.shipments().await.len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unverified_mode_builds_flagged_shipments_until_a_secret_verifies_them() {
    let t = start(None).await;
    let (_, body) = update("unv", "InTransit", "2021-01-14T09:00:00+00:00", vec![]);
    // Signed by AfterShip with a secret Shipwatch does not know yet.
    assert_eq!(t.post_signed(&body, "some-secret").await.status, 200);
    let s = t.shipments().await;
    assert_eq!(s[0]["unverified"], true);
    assert_eq!(s[0]["tag"], "InTransit");
    // The user saves the secret; the next valid delivery makes the shipment verified.
    let r = t.api("PUT", "/api/settings", Some(&json!({"secret": "some-secret"}))).await;
    assert_eq!(r.status, 200);
    let (_, next) = update("unv", "OutForDelivery", "2021-01-15T09:00:00+00:00", vec![]);
    assert_eq!(t.post_signed(&next, "some-secret").await.status, 200);
    let s = t.shipments().await;
    assert_eq!(s[0]["unverified"], false);
    assert_eq!(s[0]["tag"], "OutForDelivery");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_tracking_id_shipments_are_keyed_by_slug_and_tracking_number() {
    let t = start(Some(SECRET)).await;
    let body = |slug: &str, tag: &str, at: &str| {
        fixture_with(|v| {
            v["event_id"] = json!(event_id());
            let m = v["msg"].as_object_mut().unwrap();
            m.remove("id");
            m.insert("slug".into(), json!(slug));
            m.insert("tracking_number".into(), json!("SAMENUMBER1"));
            m.insert("tag".into(), json!(tag));
            m.insert("updated_at".into(), json!(at));
            m.insert("last_updated_at".into(), json!(at));
        })
    };
    assert_eq!(t.post_signed(&body("usps", "InTransit", "2021-01-14T09:00:00Z"), SECRET).await.status, 200);
    assert_eq!(t.post_signed(&body("usps", "Delivered", "2021-01-15T09:00:00Z"), SECRET).await.status, 200);
    assert_eq!(t.post_signed(&body("dhl", "InTransit", "2021-01-14T09:00:00Z"), SECRET).await.status, 200);
    let s = t.get_json("/api/shipments?q=SAMENUMBER1").await["items"].as_array().unwrap().clone();
    assert_eq!(s.len(), 2, "one per courier: {s:?}");
    let usps = s.iter().find(|x| x["slug"] == "usps").unwrap();
    assert_eq!(usps["tag"], "Delivered");
    assert!(usps["tracking_id"].is_null());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_versioned_payload_projects_with_its_estimated_delivery() {
    let t = start(Some(SECRET)).await;
    let mut opts = shipwatch_aftership::sample::SampleOptions::new(
        event_id(),
        "VERSIONED123",
        shipwatch_aftership::Tag::OutForDelivery,
        1_700_000_000,
    );
    opts.order_id = Some("ORDER-778".into());
    let body = shipwatch_aftership::sample::versioned_body(&opts, "2025-07");
    let sig = sign(SECRET, &body);
    let r = t.post(&body, &[("aftership-hmac-sha256", &sig), ("as-webhook-version", "2025-07")]).await;
    assert_eq!(r.status, 200);
    let item = t.latest_delivery().await;
    assert_eq!(item["tracking_number"], "VERSIONED123");
    assert_eq!(item["order_id"], "ORDER-778");
    let s = t.shipment(item["shipment_id"].as_i64().unwrap()).await;
    assert_eq!(s["tag"], "OutForDelivery");
    assert_eq!(s["order_id"], "ORDER-778");
    assert!(s["estimated_delivery"].is_object(), "the EDD objects are kept: {s}");
    assert!(s["expected_delivery"].is_string(), "the best EDD is shown: {s}");
    assert!(!s["checkpoints"].as_array().unwrap().is_empty());
}
