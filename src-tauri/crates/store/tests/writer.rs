//! The writer's groups on real SQLite files. A group of deliveries first runs in one transaction
//! without savepoints; when one of them fails, the whole transaction is rolled back and the group
//! runs again job by job (one savepoint each), so only the failing one is refused. And once an fsync
//! of the WAL has failed, every write is refused.
//!
//! To get a known group, the writer is held in a maintenance job while the jobs are queued (in a set
//! order), then released: it takes all of them as one group.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::Poll;

use rusqlite::Connection;
use serde_json::{json, Value};
use shipwatch_aftership::{parse_envelope, DeliveryVerdict, SecretSlot};
use shipwatch_store::{
    queries, NewDelivery, NotificationRecord, Store, StoreError, StoredVerdict, WriterConfig,
};

static N: AtomicU64 = AtomicU64::new(1);

fn cp(day: u32, message: &str) -> Value {
    json!({
        "checkpoint_time": format!("2026-01-{day:02}T09:00:00"),
        "tag": "InTransit",
        "message": message,
        "location": format!("Depot {day}"),
    })
}

/// An update of `tracking_id` on `day` with the given checkpoints.
fn delivery(event_id: &str, tracking_id: &str, day: u32, checkpoints: &[Value]) -> NewDelivery {
    delivery_tagged(event_id, tracking_id, "InTransit", day, checkpoints)
}

fn delivery_tagged(
    event_id: &str,
    tracking_id: &str,
    tag: &str,
    day: u32,
    checkpoints: &[Value],
) -> NewDelivery {
    let body = serde_json::to_vec(&json!({
        "event": "tracking_update",
        "event_id": event_id,
        "ts": 1_767_000_000 + i64::from(day) * 86_400,
        "msg": {
            "id": tracking_id,
            "tracking_number": format!("TN-{tracking_id}"),
            "slug": "usps",
            "tag": tag,
            "last_updated_at": format!("2026-01-{day:02}T10:00:00+00:00"),
            "checkpoints": checkpoints,
        },
    }))
    .unwrap();
    NewDelivery {
        received_at_ms: 1_767_000_000_000 + N.fetch_add(1, Ordering::Relaxed) as i64,
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
        verdict: StoredVerdict::Signature(DeliveryVerdict::Valid(SecretSlot::Current)),
        status: 200,
        parse_error: None,
        diagnosis: None,
    }
}

fn notification(summary: &str) -> NotificationRecord {
    NotificationRecord {
        created_at_ms: 1,
        shipment_id: None,
        delivery_id: None,
        tag: Some("InTransit".into()),
        summary: summary.into(),
        body: "b".into(),
        outcome: "sent".into(),
        reason: None,
    }
}

type Job<'a> = Pin<Box<dyn Future<Output = Result<i64, String>> + 'a>>;

/// Runs the futures together, polling them in the order given: each one's first poll (which queues
/// its job with the writer) comes before the next one's.
async fn join_in_order(mut futures: Vec<Job<'_>>) -> Vec<Result<i64, String>> {
    let mut done: Vec<Option<Result<i64, String>>> = futures.iter().map(|_| None).collect();
    std::future::poll_fn(|cx| {
        let mut pending = false;
        for (f, slot) in futures.iter_mut().zip(done.iter_mut()) {
            if slot.is_none() {
                match f.as_mut().poll(cx) {
                    Poll::Ready(r) => *slot = Some(r),
                    Poll::Pending => pending = true,
                }
            }
        }
        if pending {
            Poll::Pending
        } else {
            Poll::Ready(())
        }
    })
    .await;
    done.into_iter().map(Option::unwrap).collect()
}

/// `jobs` run as one group: the writer is held (a maintenance job waiting) until every job is queued.
async fn as_one_group<'a>(store: &'a Store, jobs: Vec<Job<'a>>) -> Vec<Result<i64, String>> {
    let (release, released) = std::sync::mpsc::channel::<()>();
    let mut all: Vec<Job<'a>> = vec![Box::pin(async move {
        store
            .maintenance(move |_| {
                released.recv().expect("released");
                Ok(0)
            })
            .await
            .map_err(|e| e.to_string())
    })];
    all.extend(jobs);
    all.push(Box::pin(async move {
        release.send(()).unwrap();
        Ok(0)
    }));
    let mut results = join_in_order(all).await;
    results.pop();
    results.remove(0).expect("maintenance");
    results
}

fn insert<'a>(store: &'a Store, d: NewDelivery) -> Job<'a> {
    Box::pin(async move { store.insert(d).await.map(|s| s.id).map_err(|e| e.to_string()) })
}

fn count(path: &std::path::Path, sql: &str) -> i64 {
    Connection::open(path).unwrap().query_row(sql, [], |r| r.get(0)).unwrap()
}

#[tokio::test]
async fn one_failing_delivery_of_a_group_is_refused_alone() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), WriterConfig::default()).unwrap();
    let path = store.path().to_owned();
    // A normal trigger, created from another connection on the same file.
    Connection::open(&path)
        .unwrap()
        .execute_batch(
            "CREATE TRIGGER fail_one BEFORE INSERT ON deliveries WHEN NEW.event_id = 'boom'
             BEGIN SELECT RAISE(ABORT, 'boom'); END;",
        )
        .unwrap();

    // 20 deliveries of 4 shipments, each update one day later with one more checkpoint; the 8th is
    // the newest of its shipment so far, with a checkpoint and a tag no other has, and fails.
    let mut jobs = Vec::new();
    let mut history: Vec<Vec<Value>> = vec![Vec::new(); 4];
    for i in 0..20u32 {
        let shipment = (i % 4) as usize;
        let day = i + 1;
        let boom = i == 7;
        let mut cps = history[shipment].clone();
        cps.push(cp(day, &format!("s{shipment} day {day}")));
        let (event_id, tag) =
            if boom { ("boom".to_owned(), "Delivered") } else { (format!("ok-{i}"), "InTransit") };
        jobs.push(insert(&store, delivery_tagged(&event_id, &format!("grp-{shipment}"), tag, day, &cps)));
        if !boom {
            history[shipment] = cps;
        }
        if i == 10 {
            jobs.push(Box::pin(async {
                store.record_notification(notification("in the group")).await.map_err(|e| e.to_string())
            }));
        }
    }
    let results = as_one_group(&store, jobs).await;
    assert_eq!(results.len(), 21);
    let (failed, ok): (Vec<_>, Vec<_>) = results.iter().enumerate().partition(|(_, r)| r.is_err());
    assert_eq!(failed.len(), 1, "{results:?}");
    assert_eq!(failed[0].0, 7);
    assert!(failed[0].1.as_ref().unwrap_err().contains("boom"), "{results:?}");
    assert_eq!(ok.len(), 20);

    // Everything else is on disk and readable, as if the failing one had never been sent.
    assert_eq!(count(&path, "SELECT count(*) FROM deliveries"), 19);
    assert_eq!(count(&path, "SELECT count(*) FROM deliveries WHERE event_id = 'boom'"), 0);
    assert_eq!(count(&path, "SELECT count(*) FROM notifications WHERE summary = 'in the group'"), 1);
    assert_eq!(count(&path, "SELECT count(*) FROM shipments"), 4);
    assert_eq!(count(&path, "SELECT count(*) FROM shipments WHERE tag != 'InTransit'"), 0);
    for (i, r) in results.iter().enumerate() {
        if i == 7 || i == 11 {
            continue; // the failing delivery; the notification
        }
        let id = *r.as_ref().unwrap();
        let d = store.read(move |c| queries::get_delivery(c, id)).await.unwrap();
        assert!(d.item.event_id.as_deref().is_some_and(|e| e.starts_with("ok-")));
        assert!(d.item.shipment_id.is_some());
    }
    let list = store.read(|c| queries::list_shipments(c, &Default::default())).await.unwrap();
    for item in &list.items {
        let id = item.id;
        let detail = store.read(move |c| queries::get_shipment(c, id)).await.unwrap();
        let messages: Vec<String> = detail.checkpoints.into_iter().map(|c| c.message.unwrap()).collect();
        let shipment =
            item.tracking_id.as_deref().unwrap().strip_prefix("grp-").unwrap().parse::<usize>().unwrap();
        let expected: Vec<String> =
            history[shipment].iter().map(|c| c["message"].as_str().unwrap().to_owned()).collect();
        assert_eq!(messages, expected, "shipment {shipment}");
        assert!(!messages.iter().any(|m| m == "s3 day 8"), "nothing of the failing delivery");
        assert_eq!(detail.deliveries.len(), if shipment == 3 { 4 } else { 5 });
    }

    // The writer carries on with the next group.
    let after = store.insert(delivery("after", "grp-0", 30, &[cp(30, "later")])).await.unwrap();
    assert!(after.shipment.as_ref().is_some_and(|s| !s.created && !s.stale));
    store.close();
}

#[tokio::test]
async fn a_group_with_a_generic_write_also_refuses_only_the_failing_delivery() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), WriterConfig::default()).unwrap();
    let path = store.path().to_owned();
    Connection::open(&path)
        .unwrap()
        .execute_batch(
            "CREATE TRIGGER fail_one BEFORE INSERT ON deliveries WHEN NEW.event_id = 'boom'
             BEGIN SELECT RAISE(ABORT, 'boom'); END;",
        )
        .unwrap();
    let jobs: Vec<Job<'_>> = vec![
        insert(&store, delivery("w-1", "w-a", 1, &[cp(1, "one")])),
        Box::pin(async {
            store
                .write(|c| shipwatch_store::meta::set(c, "written", "yes"))
                .await
                .map(|()| 0)
                .map_err(|e| e.to_string())
        }),
        insert(&store, delivery("boom", "w-b", 1, &[cp(1, "two")])),
        insert(&store, delivery("w-3", "w-a", 2, &[cp(1, "one"), cp(2, "three")])),
    ];
    let results = as_one_group(&store, jobs).await;
    assert!(results[0].is_ok() && results[1].is_ok() && results[3].is_ok(), "{results:?}");
    assert!(results[2].as_ref().is_err_and(|e| e.contains("boom")), "{results:?}");
    assert_eq!(count(&path, "SELECT count(*) FROM deliveries"), 2);
    assert_eq!(count(&path, "SELECT count(*) FROM meta WHERE key = 'written' AND value = 'yes'"), 1);
    assert_eq!(count(&path, "SELECT count(*) FROM shipments"), 1);
    store.close();
}

/// The sync thread finds the WAL gone (so it cannot fsync it): the delivery of that group is
/// answered with an error, and so is every later write.
#[cfg(unix)]
#[tokio::test]
async fn once_the_wal_cannot_be_synced_every_write_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), WriterConfig::default()).unwrap();
    let path = store.path().to_owned();
    store.insert(delivery("d-1", "sync", 1, &[cp(1, "one")])).await.expect("stored while the disk works");
    let wal = {
        let mut p = path.as_os_str().to_owned();
        p.push("-wal");
        std::path::PathBuf::from(p)
    };
    std::fs::remove_file(&wal).expect("the store runs in WAL mode");
    // In its place, a link to nowhere: nothing (say, the checkpointer's connection opening the WAL
    // for the first time) can create the file again.
    std::os::unix::fs::symlink(dir.path().join("no-such-dir").join("wal"), &wal).unwrap();

    let err = store.insert(delivery("d-2", "sync", 2, &[cp(2, "two")])).await.unwrap_err();
    assert!(matches!(err, StoreError::DiskFailed), "{err}");
    let err = store.insert(delivery("d-3", "sync", 3, &[cp(3, "three")])).await.unwrap_err();
    assert!(matches!(err, StoreError::DiskFailed), "{err}");
    let err = store.record_notification(notification("n")).await.unwrap_err();
    assert!(matches!(err, StoreError::DiskFailed), "{err}");
    // A generic write is refused too (its error does not say why: its closure never ran).
    let ran = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let ran_in = ran.clone();
    let r = store
        .write(move |c| {
            ran_in.store(true, Ordering::SeqCst);
            shipwatch_store::meta::set(c, "k", "v")
        })
        .await;
    assert!(r.is_err());
    assert!(!ran.load(Ordering::SeqCst), "nothing runs once the disk has failed");
    store.close();
}
