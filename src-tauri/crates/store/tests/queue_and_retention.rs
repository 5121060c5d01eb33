//! The writer's generic jobs, the forward queue, re-verification of failed deliveries and retention,
//! on real SQLite files.

use shipwatch_aftership::sample::{sample_body, SampleOptions};
use shipwatch_aftership::{parse_envelope, sign, verify_signature, DeliveryVerdict, Secrets, Tag};
use shipwatch_store::forwards::{self, AttemptOutcome};
use shipwatch_store::{
    meta, projection, queries, retention, NewDelivery, Store, StoredVerdict, WriterConfig,
};

fn delivery(body: Vec<u8>, signature: Option<String>, secrets: &Secrets, at: i64) -> NewDelivery {
    let verdict = verify_signature(signature.as_deref(), &body, secrets);
    let mut headers = vec![("content-type".to_owned(), "application/json".to_owned())];
    if let Some(s) = signature {
        headers.push(("aftership-hmac-sha256".to_owned(), s));
    }
    NewDelivery {
        received_at_ms: at,
        peer: "127.0.0.1:1".into(),
        forwarded_for: None,
        cf_connecting_ip: None,
        method: "POST".into(),
        path: "/webhooks/aftership".into(),
        headers,
        envelope: parse_envelope(&body).ok(),
        body_size: body.len() as i64,
        body,
        body_truncated: false,
        verdict: StoredVerdict::Signature(verdict),
        status: if verdict.accepted() { 200 } else { 401 },
        parse_error: None,
        diagnosis: None,
    }
}

fn sample(event: &str, tn: &str, tag: Tag, ts: i64) -> Vec<u8> {
    sample_body(&SampleOptions::new(event, tn, tag, ts))
}

fn secrets(s: &str) -> Secrets {
    Secrets { current: Some(s.into()), previous: None }
}

#[tokio::test]
async fn write_jobs_commit_and_a_failing_one_rolls_back_alone() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), WriterConfig::default()).unwrap();
    store.write(|c| meta::set(c, "a", "1")).await.unwrap();
    let err = store
        .write(|c| {
            meta::set(c, "b", "2")?;
            Err::<(), _>(shipwatch_store::StoreError::BadQuery("no".into()))
        })
        .await;
    assert!(err.is_err());
    let (a, b) = store.read(|c| Ok((meta::get(c, "a")?, meta::get(c, "b")?))).await.unwrap();
    assert_eq!(a.as_deref(), Some("1"));
    assert_eq!(b, None, "the failed job's write was rolled back");
    // Maintenance runs between transactions.
    store.maintenance(|c| Ok(c.execute_batch("VACUUM")?)).await.unwrap();
}

#[tokio::test]
async fn forward_queue_takes_only_new_valid_non_duplicate_deliveries() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), WriterConfig::default()).unwrap();
    let s = secrets("k");
    let old = sample("e0", "T0", Tag::InTransit, 1_700_000_000);
    store.insert(delivery(old.clone(), Some(sign("k", &old)), &s, 1)).await.unwrap();
    // Turning forward mode on: history is not forwarded.
    assert_eq!(store.write(|c| forwards::enqueue_new(c, "http://x/hook", false, 10)).await.unwrap(), 0);
    let good = sample("e1", "T1", Tag::Delivered, 1_700_000_100);
    let bad = sample("e2", "T2", Tag::Delivered, 1_700_000_100);
    let a = store.insert(delivery(good.clone(), Some(sign("k", &good)), &s, 2)).await.unwrap();
    store.insert(delivery(good.clone(), Some(sign("k", &good)), &s, 3)).await.unwrap(); // duplicate
    store.insert(delivery(bad.clone(), Some(sign("wrong", &bad)), &s, 4)).await.unwrap();
    assert_eq!(store.write(|c| forwards::enqueue_new(c, "http://x/hook", false, 10)).await.unwrap(), 1);
    let due = store.read(|c| forwards::due(c, 10, 10)).await.unwrap();
    assert_eq!(due.len(), 1);
    assert_eq!(due[0].delivery_id, a.id);
    // A failed attempt schedules a retry; a later success ends it.
    let id = due[0].id;
    let retry = AttemptOutcome {
        at_ms: 10,
        status: Some(503),
        error: Some("target answered 503".into()),
        round_trip_ms: Some(3),
        state: "retrying",
        next_attempt_at_ms: Some(1_010),
    };
    let f = store.write(move |c| forwards::record_attempt(c, id, &retry)).await.unwrap();
    assert_eq!((f.state.as_str(), f.attempts, f.status), ("retrying", 1, Some(503)));
    assert!(store.read(|c| forwards::due(c, 500, 10)).await.unwrap().is_empty());
    assert_eq!(store.read(forwards::next_due_at).await.unwrap(), Some(1_010));
    let ok = AttemptOutcome {
        at_ms: 1_010,
        status: Some(200),
        error: None,
        round_trip_ms: Some(2),
        state: "delivered",
        next_attempt_at_ms: None,
    };
    store.write(move |c| forwards::record_attempt(c, id, &ok)).await.unwrap();
    let list = store.read(move |c| forwards::for_delivery(c, a.id)).await.unwrap();
    assert_eq!(list.len(), 1);
    assert_eq!((list[0].state.as_str(), list[0].attempts), ("delivered", 2));
    // With failing ones included, a later bad delivery is queued too.
    store.insert(delivery(bad.clone(), None, &s, 5)).await.unwrap();
    assert_eq!(store.write(|c| forwards::enqueue_new(c, "http://x/hook", true, 20)).await.unwrap(), 1);
    // What the writer wrote (shipments, a duplicate and its original, forwards) passes SQLite's own
    // check of every reference.
    let broken = store
        .read(|c| {
            Ok(c.query_row("SELECT count(*) FROM pragma_foreign_key_check", [], |r| r.get::<_, i64>(0))?)
        })
        .await
        .unwrap();
    assert_eq!(broken, 0);
}

#[tokio::test]
async fn reverify_failed_turns_deliveries_valid_and_projects_them_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), WriterConfig::default()).unwrap();
    let wrong = secrets("typo");
    let transit = sample("e1", "T1", Tag::InTransit, 1_700_000_000);
    let delivered = sample("e2", "T1", Tag::Delivered, 1_700_000_500);
    let forged = sample("e3", "T1", Tag::Exception, 1_700_001_000);
    store.insert(delivery(transit.clone(), Some(sign("real", &transit)), &wrong, 1)).await.unwrap();
    store.insert(delivery(delivered.clone(), Some(sign("real", &delivered)), &wrong, 2)).await.unwrap();
    store.insert(delivery(forged.clone(), Some(sign("attacker", &forged)), &wrong, 3)).await.unwrap();
    let shipments = store.read(|c| queries::list_shipments(c, &Default::default())).await.unwrap();
    assert!(shipments.items.is_empty(), "nothing failed may build a shipment");

    let (checked, changed) = store.write(|c| projection::reverify_failed(c, &secrets("real"))).await.unwrap();
    assert_eq!(checked, 3);
    assert_eq!(changed.len(), 2, "the forged one stays invalid");
    assert!(changed.iter().all(|d| d.verdict
        == StoredVerdict::Signature(DeliveryVerdict::Valid(shipwatch_aftership::SecretSlot::Current))));
    let last = changed[1].shipment.as_ref().unwrap();
    assert_eq!(last.tag.as_deref(), Some("Delivered"));
    assert!(last.tag_first_seen);
    let list = store.read(|c| queries::list_deliveries(c, &Default::default())).await.unwrap();
    let verdicts: Vec<_> = list.items.iter().map(|i| format!("{:?}", i.verdict)).collect();
    assert_eq!(verdicts, ["Invalid", "Valid", "Valid"]);
    // Running it again changes nothing.
    let (_, again) = store.write(|c| projection::reverify_failed(c, &secrets("real"))).await.unwrap();
    assert!(again.is_empty());
}

#[tokio::test]
async fn retention_keeps_what_shipments_need() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), WriterConfig::default()).unwrap();
    let s = secrets("k");
    // Forward mode on from the start, so the deliveries below are queued to be forwarded.
    assert_eq!(store.write(|c| forwards::enqueue_new(c, "http://x/hook", true, 10)).await.unwrap(), 0);
    // Ten updates of one shipment, the last one setting its state, plus ten garbage deliveries.
    let mut newest = 0;
    for i in 0..10 {
        let b = sample(&format!("e{i}"), "T1", Tag::InTransit, 1_700_000_000 + i);
        store.insert(delivery(b.clone(), Some(sign("k", &b)), &s, 1_000 + i)).await.unwrap();
        newest = store.insert(delivery(b"junk".to_vec(), None, &s, 1_000 + i)).await.unwrap().id;
    }
    assert_eq!(store.write(|c| forwards::enqueue_new(c, "http://x/hook", true, 10)).await.unwrap(), 20);
    let before = store.read(retention::live_bytes).await.unwrap();
    assert!(before > 0);
    let deleted = store.write(|c| retention::delete_older_than(c, 2_000, 1_000)).await.unwrap();
    assert_eq!(deleted, 19, "everything but the delivery that set the shipment's state");
    // The rows that belong to a deleted delivery go with it (the schema's cascade), and nothing is
    // left pointing at a delivery that is gone.
    let (queued, broken) = store
        .read(|c| {
            let n = |sql: &str| c.query_row(sql, [], |r| r.get::<_, i64>(0));
            Ok((n("SELECT count(*) FROM forwards")?, n("SELECT count(*) FROM pragma_foreign_key_check")?))
        })
        .await
        .unwrap();
    assert_eq!((queued, broken), (1, 0));
    let ship = store.read(|c| queries::list_shipments(c, &Default::default())).await.unwrap();
    let detail = store.read(move |c| queries::get_shipment(c, ship.items[0].id)).await.unwrap();
    assert!(!detail.checkpoints.is_empty(), "the timeline is kept");
    assert_eq!(detail.deliveries.len(), 1);
    assert_eq!(store.write(|c| retention::delete_oldest(c, 10)).await.unwrap(), 0);
    // Ids are never handed out twice (AUTOINCREMENT): the newest delivery is gone, and the next one
    // still gets a new id (a link or a live event naming an id always means the same delivery).
    let next = store.insert(delivery(b"after".to_vec(), None, &s, 3_000)).await.unwrap().id;
    assert!(next > newest, "{next} after {newest}");
}
