//! The merchant's desk on real SQLite files, with shipments made by real deliveries as the receiver
//! stores them: checkpoint times give the courier's last scan, the time received when a shipment
//! was registered, `expected_delivery` its due date, a Delivered checkpoint when it was delivered, a
//! `tracking_pending_time` event that it stayed pending, `x-shipwatch-test` with a valid signature
//! test data. The clock is an argument: no test waits.

use std::sync::atomic::{AtomicU64, Ordering};

use serde_json::{json, Value};
use shipwatch_aftership::{parse_envelope, DeliveryVerdict, SecretSlot};
use shipwatch_api::{AttentionKind, ShipmentQuery};
use shipwatch_store::desk::{self, AttentionRules, DeskClock, DESK_ATTENTION_LIMIT, DESK_GROUP_LIMIT};
use shipwatch_store::{queries, NewDelivery, Store, StoreError, StoredVerdict, WriterConfig};

const DAY: i64 = 86_400_000;

/// Unix ms of an RFC 3339 instant.
fn ms(s: &str) -> i64 {
    let t = time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339).unwrap();
    (t.unix_timestamp_nanos() / 1_000_000) as i64
}

/// Monday 7 December 2026, noon UTC.
fn now() -> i64 {
    ms("2026-12-07T12:00:00Z")
}

fn clock(now_ms: i64) -> DeskClock {
    DeskClock { now_ms, utc_offset_s: 0 }
}

fn rules() -> AttentionRules {
    AttentionRules { stuck_after_days: 5, pickup_after_days: 3, archive_after_days: 3 }
}

static EVENT: AtomicU64 = AtomicU64::new(1);

/// A parcel as AfterShip reports it, sent as one delivery.
#[derive(Clone)]
struct Parcel {
    id: String,
    tag: String,
    subtag: Option<(String, String)>,
    /// The checkpoint time of its one checkpoint (none: no checkpoint).
    scan: Option<String>,
    due: Option<String>,
    event: &'static str,
    test: bool,
    unverified: bool,
    received: i64,
}

/// Parcel `id` with tag `tag`, scanned at `scan`, received at `received`.
fn parcel(id: &str, tag: &str, scan: Option<&str>, received: i64) -> Parcel {
    Parcel {
        id: id.to_owned(),
        tag: tag.to_owned(),
        subtag: None,
        scan: scan.map(str::to_owned),
        due: None,
        event: "tracking_update",
        test: false,
        unverified: false,
        received,
    }
}

impl Parcel {
    fn subtag(mut self, code: &str, message: &str) -> Self {
        self.subtag = Some((code.to_owned(), message.to_owned()));
        self
    }
    /// `expected_delivery`.
    fn due(mut self, due: &str) -> Self {
        self.due = Some(due.to_owned());
        self
    }
    /// A `tracking_pending_time` event.
    fn pending(mut self) -> Self {
        self.event = "tracking_pending_time";
        self
    }
    /// Sent by Shipwatch's test tools.
    fn test(mut self) -> Self {
        self.test = true;
        self
    }
    /// Received while no secret was configured.
    fn unverified(mut self) -> Self {
        self.unverified = true;
        self
    }

    fn body(&self) -> Vec<u8> {
        let n = EVENT.fetch_add(1, Ordering::Relaxed);
        let checkpoints: Vec<Value> = self
            .scan
            .iter()
            .map(|t| {
                json!({
                    "checkpoint_time": t,
                    "message": format!("Scanned {}", self.id),
                    "location": "Reno, NV",
                    "tag": self.tag,
                    "slug": "usps",
                })
            })
            .collect();
        serde_json::to_vec(&json!({
            "event": self.event,
            "event_id": format!("evt-desk-{n}"),
            "ts": 1_800_000_000 + n,
            "msg": {
                "id": self.id,
                "tracking_number": format!("TN{}", self.id),
                "slug": "usps",
                "title": format!("Order {}", self.id),
                "tag": self.tag,
                "subtag": self.subtag.as_ref().map(|s| &s.0),
                "subtag_message": self.subtag.as_ref().map(|s| &s.1),
                "expected_delivery": self.due,
                "last_updated_at": queries::rfc3339_ms(ms("2026-11-01T00:00:00Z") + n as i64 * 1000),
                "checkpoints": checkpoints,
            },
        }))
        .unwrap()
    }

    fn delivery(&self) -> NewDelivery {
        let mut d = delivery(self.body(), self.received);
        if self.test {
            d.headers.push((shipwatch_store::TEST_HEADER.to_owned(), "1".to_owned()));
        }
        if self.unverified {
            d.verdict = StoredVerdict::Signature(DeliveryVerdict::Unverified);
        }
        d
    }

    /// Stores it and returns its shipment.
    async fn send(&self, store: &Store) -> i64 {
        let d = store.insert(self.delivery()).await.unwrap();
        d.shipment.expect("projected").shipment_id
    }
}

fn delivery(body: Vec<u8>, received_at_ms: i64) -> NewDelivery {
    NewDelivery {
        received_at_ms,
        peer: "127.0.0.1:50000".into(),
        forwarded_for: None,
        cf_connecting_ip: None,
        method: "POST".into(),
        path: "/webhooks/aftership".into(),
        headers: vec![("content-type".into(), "application/json".into())],
        envelope: parse_envelope(&body).ok(),
        body_size: body.len() as i64,
        body,
        body_truncated: false,
        verdict: StoredVerdict::Signature(DeliveryVerdict::Valid(SecretSlot::Current)),
        status: 200,
        parse_error: None,
        diagnosis: None,
    }
}

fn open_store(dir: &tempfile::TempDir) -> Store {
    Store::open(dir.path(), WriterConfig { full_sync: false, ..WriterConfig::default() }).unwrap()
}

async fn archive(store: &Store, shipment: i64, at: i64) {
    store.write(move |c| desk::set_archived(c, shipment, true, at)).await.unwrap();
}

async fn read_desk(store: &Store, c: DeskClock) -> shipwatch_api::Desk {
    store.read(move |conn| desk::desk(conn, c, &rules())).await.unwrap()
}

fn ids(items: &[shipwatch_api::ShipmentItem]) -> Vec<i64> {
    items.iter().map(|s| s.id).collect()
}

#[tokio::test]
async fn each_kind_is_found_with_its_reason_and_listed_once_by_urgency() {
    let dir = tempfile::tempdir().unwrap();
    let store = open_store(&dir);
    let n = now();
    // The example: estimate Dec 3, last courier scan Dec 2, received on Dec 7.
    let late = parcel("late", "InTransit", Some("2026-12-02T09:00:00Z"), n - 3_600_000)
        .due("2026-12-03")
        .send(&store)
        .await;
    let late2 = parcel("late2", "InTransit", Some("2026-12-06T09:00:00Z"), n - 3 * DAY)
        .due("2026-12-05")
        .send(&store)
        .await;
    let exception = parcel("exc", "Exception", Some("2026-12-06T10:00:00Z"), n - DAY)
        .subtag("Exception_005", "Delayed (External factors)")
        .send(&store)
        .await;
    let failed = parcel("fail", "AttemptFail", Some("2026-12-07T08:00:00Z"), n - DAY)
        .subtag("AttemptFail_002", "Addressee not available")
        .send(&store)
        .await;
    let stuck = parcel("stuck", "InTransit", Some("2026-12-01T06:00:00Z"), n - 10 * DAY).send(&store).await;
    let never = parcel("never", "InfoReceived", None, n - 7 * DAY).send(&store).await;
    let pending = parcel("pending", "Pending", None, n - DAY).pending().send(&store).await;
    let pickup =
        parcel("pickup", "AvailableForPickup", Some("2026-12-03T11:00:00Z"), n - 4 * DAY).send(&store).await;
    // Waiting at the pickup point for a day only: nothing yet; past its due date: still not late.
    let pickup_new = parcel("pickup-new", "AvailableForPickup", Some("2026-12-06T13:00:00Z"), n - DAY)
        .due("2026-12-01")
        .send(&store)
        .await;
    let today = parcel("today", "OutForDelivery", Some("2026-12-07T07:00:00Z"), n - DAY)
        .due("2026-12-07")
        .send(&store)
        .await;
    let moving = parcel("moving", "InTransit", Some("2026-12-06T20:00:00Z"), n - DAY)
        .due("2026-12-09")
        .send(&store)
        .await;
    let older = parcel("older", "InTransit", Some("2026-12-05T20:00:00Z"), n - 2 * DAY).send(&store).await;
    let got = parcel("got", "Delivered", Some("2026-12-06T15:00:00Z"), n - DAY).send(&store).await;
    let _long_ago =
        parcel("long-ago", "Delivered", Some("2026-11-20T15:00:00Z"), n - 20 * DAY).send(&store).await;
    // Out of the desk: an archived exception, a test one, a delivered shipment that was late.
    let archived = parcel("archived", "Exception", Some("2026-12-06T10:00:00Z"), n - DAY).send(&store).await;
    archive(&store, archived, n).await;
    let test = parcel("test", "Exception", Some("2026-12-06T10:00:00Z"), n - DAY).test().send(&store).await;
    let late_but_delivered = parcel("lbd", "Delivered", Some("2026-12-05T10:00:00Z"), n - 3 * DAY)
        .due("2026-12-01")
        .send(&store)
        .await;

    let d = read_desk(&store, clock(n)).await;
    let listed: Vec<(i64, AttentionKind, String, Option<u32>)> = d
        .attention
        .iter()
        .map(|a| (a.shipment.id, a.attention.kind, a.attention.reason.clone(), a.attention.days))
        .collect();
    use AttentionKind::*;
    assert_eq!(
        listed,
        vec![
            (exception, Exception, "Delayed (External factors)".into(), None),
            (failed, FailedAttempt, "Delivery attempt failed: Addressee not available".into(), None),
            (late, Late, "4 days late (due Dec 3)".into(), Some(4)),
            (late2, Late, "2 days late (due Dec 5)".into(), Some(2)),
            (never, Stuck, "No courier scan since it was registered 7 days ago".into(), Some(7)),
            (stuck, Stuck, "No courier scan for 6 days".into(), Some(6)),
            (pending, Stuck, "Still pending after AfterShip's pending-time threshold".into(), Some(1)),
            (pickup, WaitingForPickup, "Waiting at the pickup point for 4 days".into(), Some(4)),
        ]
    );
    // Ages count from the checkpoint, not from when the delivery was received (an hour ago).
    assert_eq!(d.attention[2].attention.since.as_deref(), Some("2026-12-04T00:00:00.000Z"));
    assert_eq!(d.attention[5].attention.since.as_deref(), Some("2026-12-01T06:00:00.000Z"));
    // The late shipment is stuck too (no scan since Dec 2): listed once, under Late; its page says both.
    let all = store.read(move |c| desk::shipment_attention(c, late, clock(n), &rules())).await.unwrap();
    assert_eq!(all.iter().map(|a| a.kind).collect::<Vec<_>>(), vec![Late, Stuck]);
    assert_eq!(all[1].reason, "No courier scan for 5 days");
    for quiet in [archived, test, moving, late_but_delivered] {
        let none = store.read(move |c| desk::shipment_attention(c, quiet, clock(n), &rules())).await.unwrap();
        assert!(none.is_empty(), "{quiet}: {none:?}");
    }
    let missing = store.read(move |c| desk::shipment_attention(c, 9_999, clock(n), &rules())).await;
    assert!(matches!(missing, Err(StoreError::NotFound)), "{missing:?}");

    assert_eq!(ids(&d.arriving_today.items), vec![today]);
    assert_eq!(d.arriving_today.total, 1);
    // Newest scan first (the one waiting at a pickup point for a day only is among them).
    assert_eq!(ids(&d.in_transit.items), vec![moving, pickup_new, older]);
    assert_eq!(d.in_transit.total, 3);
    assert_eq!(ids(&d.delivered_recently.items), vec![got, late_but_delivered]);
    assert_eq!(d.delivered_recently.total, 2);
    assert_eq!(d.test_shipments, 1);
    assert_eq!(d.now, "2026-12-07T12:00:00.000Z");
    let count = store.read(move |c| desk::attention_count(c, clock(n), &rules())).await.unwrap();
    assert_eq!(count, 8);

    // The thresholds are the user's: stuck after 7 days, waiting after 5.
    let strict = AttentionRules { stuck_after_days: 7, pickup_after_days: 5, archive_after_days: 3 };
    let d = store.read(move |c| desk::desk(c, clock(n), &strict)).await.unwrap();
    let kinds: Vec<(i64, AttentionKind)> =
        d.attention.iter().map(|a| (a.shipment.id, a.attention.kind)).collect();
    assert_eq!(
        kinds,
        vec![
            (exception, Exception),
            (failed, FailedAttempt),
            (late, Late),
            (late2, Late),
            (never, Stuck),
            (pending, Stuck)
        ]
    );
    assert_eq!(ids(&d.in_transit.items), vec![moving, pickup_new, older, pickup, stuck]);
    store.close();
}

#[tokio::test]
async fn late_and_today_are_days_of_the_merchants_calendar() {
    let dir = tempfile::tempdir().unwrap();
    let store = open_store(&dir);
    let n = now();
    let dated = parcel("dated", "InTransit", Some("2026-12-03T09:00:00Z"), n - DAY)
        .due("2026-12-03")
        .send(&store)
        .await;
    let timed = parcel("timed", "InTransit", Some("2026-12-03T09:00:00Z"), n - DAY)
        .due("2026-12-03T18:00:00Z")
        .send(&store)
        .await;
    let kinds = |c: DeskClock| {
        let store = store.clone();
        async move {
            let d = read_desk(&store, c).await;
            let late: Vec<(i64, String)> =
                d.attention.iter().map(|a| (a.shipment.id, a.attention.reason.clone())).collect();
            (late, ids(&d.arriving_today.items))
        }
    };
    // Dec 3, 23:30 in Paris (UTC+1): both due today, the timed one already late.
    let paris_late_evening = DeskClock { now_ms: ms("2026-12-03T22:30:00Z"), utc_offset_s: 3_600 };
    assert_eq!(kinds(paris_late_evening).await, (vec![(timed, "Late (due today)".to_owned())], vec![dated]));
    // Ten minutes past midnight in Tokyo (UTC+9) it is Dec 4: a date-only due of Dec 3 is a day
    // late there, while in New York (UTC-5) the same instant is still the morning of Dec 3.
    let instant = ms("2026-12-03T15:10:00Z");
    let tokyo = DeskClock { now_ms: instant, utc_offset_s: 9 * 3_600 };
    assert_eq!(
        kinds(tokyo).await,
        (vec![(dated, "1 day late (due Dec 3)".to_owned())], vec![timed]),
        "the timed due is 03:00 on Dec 4 in Tokyo: due today, not yet late"
    );
    let new_york = DeskClock { now_ms: instant, utc_offset_s: -5 * 3_600 };
    // Both due today there, the one due at a time first.
    assert_eq!(kinds(new_york).await, (vec![], vec![timed, dated]));
    store.close();
}

#[tokio::test]
async fn the_clock_alerts_once_per_due_date_and_per_last_scan() {
    let dir = tempfile::tempdir().unwrap();
    let store = open_store(&dir);
    let n = now();
    let late_parcel =
        parcel("late", "InTransit", Some("2026-12-06T09:00:00Z"), n - 2 * DAY).due("2026-12-05");
    let late = late_parcel.send(&store).await;
    let stuck = parcel("stuck", "InTransit", Some("2026-12-01T06:00:00Z"), n - 10 * DAY).send(&store).await;
    // Unverified shipments alert too (the notifier says so); test and archived ones never.
    let unverified = parcel("unverified", "InTransit", Some("2026-12-01T07:00:00Z"), n - 10 * DAY)
        .unverified()
        .send(&store)
        .await;
    parcel("test", "InTransit", Some("2026-12-01T07:00:00Z"), n - 10 * DAY).test().send(&store).await;
    let archived =
        parcel("archived", "InTransit", Some("2026-12-01T07:00:00Z"), n - 10 * DAY).send(&store).await;
    archive(&store, archived, n - DAY).await;

    let both = [AttentionKind::Late, AttentionKind::Stuck];
    let alerts = |at: i64, kinds: Vec<AttentionKind>| {
        let store = store.clone();
        async move {
            store
                .read(move |c| desk::due_alerts(c, clock(at), &rules(), &kinds))
                .await
                .unwrap()
                .into_iter()
                .map(|a| (a.shipment.id, a.attention.kind))
                .collect::<Vec<_>>()
        }
    };
    let first = alerts(n, both.to_vec()).await;
    assert_eq!(
        first,
        vec![(late, AttentionKind::Late), (stuck, AttentionKind::Stuck), (unverified, AttentionKind::Stuck)]
    );
    assert_eq!(alerts(n, vec![AttentionKind::Late]).await, vec![(late, AttentionKind::Late)]);
    assert_eq!(alerts(n, vec![AttentionKind::Exception]).await, vec![]);
    // Asked again before it is marked: the same; marked: never again, however many ticks pass
    // (the app closed for days counts once).
    assert_eq!(alerts(n, both.to_vec()).await, first);
    for (id, kind) in first.clone() {
        store.write(move |c| desk::mark_alerted(c, id, kind, n)).await.unwrap();
    }
    for later in [n + 60_000, n + DAY, n + 3 * DAY] {
        assert_eq!(alerts(later, both.to_vec()).await, vec![], "at {later}");
    }
    // Days later the late one, scanned Dec 6, is stuck as well: a kind of its own, alerted once.
    assert_eq!(alerts(n + 9 * DAY, both.to_vec()).await, vec![(late, AttentionKind::Stuck)]);
    // A new estimate re-arms "late" (once it has passed too); a new scan re-arms "stuck" (once it
    // is old enough again).
    late_parcel.clone().due("2026-12-06").send(&store).await;
    assert_eq!(alerts(n, both.to_vec()).await, vec![(late, AttentionKind::Late)]);
    parcel("stuck", "InTransit", Some("2026-12-07T06:00:00Z"), n).send(&store).await;
    let (scan,): (Option<i64>,) = store
        .read(move |c| {
            Ok(c.query_row("SELECT last_location_time FROM shipments WHERE id = ?1", [stuck], |r| {
                Ok((r.get(0)?,))
            })?)
        })
        .await
        .unwrap();
    assert_eq!(scan, Some(ms("2026-12-07T06:00:00Z")), "the new delivery's checkpoint is the last scan");
    assert_eq!(alerts(n + DAY, both.to_vec()).await, vec![(late, AttentionKind::Late)]);
    assert_eq!(
        alerts(n + 5 * DAY, vec![AttentionKind::Stuck]).await,
        vec![(late, AttentionKind::Stuck), (stuck, AttentionKind::Stuck)],
        "five days after the new scan (and the late one, not marked stuck yet)"
    );
    // Only the clock's kinds can be marked, and only existing shipments.
    let bad = store.write(move |c| desk::mark_alerted(c, late, AttentionKind::Exception, n)).await;
    assert!(matches!(bad, Err(StoreError::BadQuery(_))), "{bad:?}");
    let missing = store.write(move |c| desk::mark_alerted(c, 9_999, AttentionKind::Late, n)).await;
    assert!(matches!(missing, Err(StoreError::NotFound)), "{missing:?}");
    store.close();
}

#[tokio::test]
async fn archived_shipments_leave_the_desk_and_stay_searchable() {
    let dir = tempfile::tempdir().unwrap();
    let store = open_store(&dir);
    let n = now();
    let exception = parcel("lost", "Exception", Some("2026-12-05T10:00:00Z"), n - 2 * DAY)
        .subtag("Exception_013", "Shipment lost")
        .send(&store)
        .await;
    let yesterday =
        parcel("yesterday", "Delivered", Some("2026-12-06T10:00:00Z"), n - DAY).send(&store).await;
    let last_week =
        parcel("last-week", "Delivered", Some("2026-11-30T10:00:00Z"), n - 8 * DAY).send(&store).await;
    let test = parcel("test-delivered", "Delivered", Some("2026-11-30T10:00:00Z"), n - 8 * DAY)
        .test()
        .send(&store)
        .await;

    let item = store.write(move |c| desk::set_archived(c, exception, true, n)).await.unwrap();
    assert_eq!(item.id, exception, "the item comes back");
    let d = read_desk(&store, clock(n)).await;
    assert!(d.attention.is_empty(), "{:?}", d.attention);
    let found = store
        .read(|c| queries::list_shipments(c, &ShipmentQuery { q: Some("lost".into()), ..Default::default() }))
        .await
        .unwrap();
    assert_eq!(ids(&found.items), vec![exception], "still found by what it holds");
    let archived_at: Option<i64> = store
        .read(move |c| {
            Ok(c.query_row("SELECT archived_at FROM shipments WHERE id = ?1", [exception], |r| r.get(0))?)
        })
        .await
        .unwrap();
    assert_eq!(archived_at, Some(n));
    store.write(move |c| desk::set_archived(c, exception, false, n + 1)).await.unwrap();
    assert_eq!(read_desk(&store, clock(n)).await.attention.len(), 1, "brought back");
    let missing = store.write(move |c| desk::set_archived(c, 9_999, true, n)).await;
    assert!(matches!(missing, Err(StoreError::NotFound)), "{missing:?}");

    // Delivered more than three days ago: archived by the clock (test shipments are left alone).
    assert_eq!(ids(&read_desk(&store, clock(n)).await.delivered_recently.items), vec![yesterday]);
    let archived = store.write(move |c| desk::archive_delivered(c, n - 3 * DAY)).await.unwrap();
    assert_eq!(archived, 1);
    assert_eq!(store.write(move |c| desk::archive_delivered(c, n - 3 * DAY)).await.unwrap(), 0, "once");
    let flags: Vec<(i64, bool)> = store
        .read(|c| {
            Ok(c.prepare("SELECT id, archived_at IS NOT NULL FROM shipments ORDER BY id")?
                .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
                .collect::<rusqlite::Result<_>>()?)
        })
        .await
        .unwrap();
    assert_eq!(flags, vec![(exception, false), (yesterday, false), (last_week, true), (test, false)]);
    // Two days later yesterday's goes too.
    assert_eq!(store.write(move |c| desk::archive_delivered(c, n + DAY - 3 * DAY)).await.unwrap(), 0);
    assert_eq!(store.write(move |c| desk::archive_delivered(c, n + 4 * DAY - 3 * DAY)).await.unwrap(), 1);
    let d = read_desk(&store, clock(n + 4 * DAY)).await;
    assert_eq!((d.delivered_recently.total, d.delivered_recently.items.len()), (0, 0));

    // Brought back by hand: back among the delivered, and the clock leaves it there.
    store.write(move |c| desk::set_archived(c, last_week, false, n + 4 * DAY)).await.unwrap();
    assert_eq!(store.write(move |c| desk::archive_delivered(c, n + 5 * DAY - 3 * DAY)).await.unwrap(), 0);
    let d = read_desk(&store, clock(n + 5 * DAY)).await;
    assert_eq!((ids(&d.delivered_recently.items), d.delivered_recently.total), (vec![last_week], 1));
    // Archived by hand again, it stays archived.
    archive(&store, last_week, n + 5 * DAY).await;
    assert!(read_desk(&store, clock(n + 5 * DAY)).await.delivered_recently.items.is_empty());
    store.close();
}

/// (table, count) of what a store holds.
async fn counts(store: &Store) -> Vec<(String, i64)> {
    store
        .read(|c| {
            let mut out = Vec::new();
            for table in ["shipments", "deliveries", "forwards", "estimate_changes", "shipment_search"] {
                let n: i64 = c.query_row(&format!("SELECT count(*) FROM {table}"), [], |r| r.get(0))?;
                out.push((table.to_owned(), n));
            }
            Ok(out)
        })
        .await
        .unwrap()
}

fn search(store: &Store, q: &str) -> Vec<Option<String>> {
    let query = ShipmentQuery { q: Some(q.to_owned()), ..Default::default() };
    store
        .read_blocking(|c| queries::list_shipments(c, &query))
        .unwrap()
        .items
        .into_iter()
        .map(|s| s.tracking_number)
        .collect()
}

#[tokio::test]
async fn removing_test_data_takes_test_deliveries_and_their_shipments_and_nothing_else() {
    let dir = tempfile::tempdir().unwrap();
    let store = open_store(&dir);
    let n = now();
    let real = parcel("real", "InTransit", Some("2026-12-06T10:00:00Z"), n - DAY)
        .due("2026-12-08")
        .send(&store)
        .await;
    parcel("real", "OutForDelivery", Some("2026-12-07T08:00:00Z"), n).due("2026-12-08").send(&store).await;
    // A test shipment of two deliveries (the second moves its estimate), one of them repeated
    // (AfterShip retries tests too).
    let t1 = parcel("swtest", "InTransit", Some("2026-12-06T10:00:00Z"), n - DAY).due("2026-12-01").test();
    let test = t1.send(&store).await;
    let t2 = parcel("swtest", "Exception", Some("2026-12-07T09:00:00Z"), n)
        .subtag("Exception_005", "Delayed (External factors)")
        .due("2026-12-03")
        .test()
        .delivery();
    let first = store.insert(t2.clone()).await.unwrap();
    let again = store.insert(t2).await.unwrap();
    assert_eq!(again.duplicate_of, Some(first.id));
    // A test delivery that changed a real shipment (its estimate too) without being what it rests
    // on (a later real one is): it goes, the shipment stays.
    parcel("real", "InTransit", Some("2026-12-07T09:00:00Z"), n + 2)
        .due("2026-12-09")
        .test()
        .send(&store)
        .await;
    parcel("real", "OutForDelivery", Some("2026-12-07T10:00:00Z"), n + 3)
        .due("2026-12-09")
        .send(&store)
        .await;
    let marks: Vec<(i64, bool)> = store
        .read(|c| {
            Ok(c.prepare("SELECT id, test FROM shipments ORDER BY id")?
                .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
                .collect::<rusqlite::Result<_>>()?)
        })
        .await
        .unwrap();
    assert_eq!(marks, vec![(real, false), (test, true)]);
    // A forward of a test delivery.
    let forwarded = first.id;
    store
        .write(move |c| {
            Ok(c.execute(
                "INSERT INTO forwards (delivery_id, target, state, next_attempt_at, created_at)
                 VALUES (?1, 'http://x', 'pending', 0, 0)",
                [forwarded],
            )?)
        })
        .await
        .unwrap();
    let before = counts(&store).await;
    assert_eq!(
        before,
        vec![
            ("shipments".to_owned(), 2),
            ("deliveries".to_owned(), 7),
            ("forwards".to_owned(), 1),
            ("estimate_changes".to_owned(), 2),
            ("shipment_search".to_owned(), 2)
        ]
    );
    assert_eq!(search(&store, "swtest"), vec![Some("TNswtest".to_owned())]);
    let tags_before = store.read(queries::tag_counts).await.unwrap();
    assert_eq!(read_desk(&store, clock(n)).await.test_shipments, 1);

    let removed = store.write(desk::remove_test_data).await.unwrap();
    assert_eq!((removed.shipments, removed.deliveries), (1, 4));
    assert_eq!(
        counts(&store).await,
        vec![
            ("shipments".to_owned(), 1),
            ("deliveries".to_owned(), 3),
            ("forwards".to_owned(), 0),
            ("estimate_changes".to_owned(), 0),
            ("shipment_search".to_owned(), 1)
        ]
    );
    assert!(search(&store, "swtest").is_empty(), "its search document went with it");
    assert_eq!(search(&store, "TNreal"), vec![Some("TNreal".to_owned())]);
    let detail = store.read(move |c| queries::get_shipment(c, real)).await.unwrap();
    assert_eq!(
        detail.checkpoints.len(),
        4,
        "the real shipment's timeline is whole: {:?}",
        detail.checkpoints
    );
    assert_eq!(detail.item.tag.as_deref(), Some("OutForDelivery"));
    assert_eq!(
        store.read(queries::tag_counts).await.unwrap(),
        tags_before,
        "test shipments were never counted"
    );
    let broken: i64 = store
        .read(|c| Ok(c.query_row("SELECT count(*) FROM pragma_foreign_key_check", [], |r| r.get(0))?))
        .await
        .unwrap();
    assert_eq!(broken, 0);
    assert_eq!(read_desk(&store, clock(n)).await.test_shipments, 0);
    let again = store.write(desk::remove_test_data).await.unwrap();
    assert_eq!((again.shipments, again.deliveries), (0, 0));
    // A new delivery of the removed test parcel makes a new shipment.
    parcel("swtest", "InTransit", Some("2026-12-07T11:00:00Z"), n + 5).send(&store).await;
    assert_eq!(search(&store, "swtest"), vec![Some("TNswtest".to_owned())]);
    store.close();
}

#[tokio::test]
async fn a_test_delivery_a_real_shipment_rests_on_is_kept() {
    let dir = tempfile::tempdir().unwrap();
    let store = open_store(&dir);
    let n = now();
    let real = parcel("real", "InTransit", Some("2026-12-06T10:00:00Z"), n - DAY).send(&store).await;
    parcel("real", "OutForDelivery", Some("2026-12-07T09:00:00Z"), n).test().send(&store).await;
    let removed = store.write(desk::remove_test_data).await.unwrap();
    assert_eq!((removed.shipments, removed.deliveries), (0, 0));
    let detail = store.read(move |c| queries::get_shipment(c, real)).await.unwrap();
    assert_eq!(detail.checkpoints.len(), 2);
    store.close();
}

#[tokio::test]
async fn every_query_of_the_desk_goes_through_an_index() {
    let dir = tempfile::tempdir().unwrap();
    let store = open_store(&dir);
    let plans = store.read(desk::query_plans).await.unwrap();
    let expect = [
        ("tagged", "SEARCH shipments USING INDEX shipments_tag (tag=?)"),
        ("due", "SEARCH shipments USING INDEX shipments_open_due (due_at<?)"),
        ("old scan", "SEARCH shipments USING INDEX shipments_open_scan (last_location_time<?)"),
        ("never scanned", "SEARCH shipments USING INDEX shipments_open_scan (last_location_time=?)"),
        ("pending", "SEARCH shipments USING INDEX shipments_open_pending (pending_since>?)"),
        ("in transit", "SCAN shipments USING INDEX shipments_open_scan"),
        ("in transit count", "SCAN shipments USING INDEX shipments_open_scan"),
        ("delivered", "SEARCH shipments USING INDEX shipments_delivered (delivered_at>?)"),
        ("delivered count", "SEARCH shipments USING INDEX shipments_delivered (delivered_at>?)"),
        ("test count", "SCAN shipments USING COVERING INDEX shipments_test"),
        ("by id", "SEARCH shipments USING INTEGER PRIMARY KEY (rowid=?)"),
        (
            "archive delivered",
            "SEARCH shipments USING INDEX shipments_delivered (delivered_at>? AND delivered_at<?)",
        ),
        ("test shipments", "SCAN shipments USING COVERING INDEX shipments_test"),
        ("test deliveries", "SCAN deliveries USING INDEX deliveries_test"),
        ("deliveries of a shipment", "SEARCH deliveries USING INDEX deliveries_shipment (shipment_id=?)"),
        ("what a shipment rests on", "SEARCH shipments USING INTEGER PRIMARY KEY (rowid=?)"),
        (
            "duplicates of a delivery",
            "SEARCH deliveries USING INDEX deliveries_duplicate_of (duplicate_of=?)",
        ),
        (
            "estimate changes of a delivery",
            "SEARCH estimate_changes USING COVERING INDEX estimate_changes_delivery (delivery_id=?)",
        ),
        ("delete a delivery", "SEARCH deliveries USING INTEGER PRIMARY KEY (rowid=?)"),
        ("delete a shipment", "SEARCH shipments USING INTEGER PRIMARY KEY (rowid=?)"),
    ];
    assert_eq!(plans.len(), expect.len(), "{plans:#?}");
    for ((name, plan), (want_name, want)) in plans.iter().zip(expect) {
        assert_eq!(*name, want_name);
        assert!(plan.starts_with(want), "{name}: {plan}");
        assert!(!plan.contains("TEMP B-TREE"), "{name} sorts: {plan}");
        // Every step of every plan through an index; a whole index is read only when it is a
        // partial one (the open shipments, the test ones).
        for step in plan.split("; ") {
            assert!(step.contains("INDEX") || step.contains("PRIMARY KEY"), "{name}: {step}");
            if step.starts_with("SCAN") {
                let partial = ["shipments_open_scan", "shipments_test", "deliveries_test"];
                assert!(partial.iter().any(|p| step.ends_with(p)), "{name}: {step}");
            }
        }
    }
    // Deleting a delivery or a shipment checks what refers to it (forwards, estimate changes,
    // deliveries repeating it or belonging to it) through indexes, never by reading a whole table:
    // those steps are in the plans above.
    let deletes: Vec<&String> =
        plans.iter().filter(|(name, _)| name.starts_with("delete")).map(|(_, plan)| plan).collect();
    for referrer in ["estimate_changes_delivery", "deliveries_duplicate_of", "forwards_delivery"] {
        assert!(deletes[0].contains(referrer), "{referrer}: {}", deletes[0]);
    }
    for referrer in ["estimate_changes_shipment", "deliveries_shipment"] {
        assert!(deletes[1].contains(referrer), "{referrer}: {}", deletes[1]);
    }
    store.close();
}

#[tokio::test]
async fn a_busy_merchants_desk_stays_right() {
    // A few thousand shipments in every state; the desk's figures against a count of what was made.
    let dir = tempfile::tempdir().unwrap();
    let store = open_store(&dir);
    let n = now();
    let (mut exceptions, mut late, mut stuck, mut today, mut moving, mut delivered_recently, mut tests) =
        (0, 0, 0, 0, 0, 0, 0);
    for i in 0..3_000i64 {
        let id = format!("bulk-{i}");
        let kind = i % 10;
        let scan_at = match kind {
            3 | 4 => n - (6 + i % 20) * DAY, // stuck
            _ => n - (i % 47) * 3_600_000,   // scanned within two days
        };
        let scan = queries::rfc3339_ms(scan_at);
        let tag = match kind {
            0 => "Exception",
            7 | 8 => "Delivered",
            _ => "InTransit",
        };
        let mut p = parcel(&id, tag, Some(&scan), n - DAY);
        match kind {
            0 => exceptions += 1,
            1 | 2 => {
                p = p.due(&format!("2026-12-0{}", 1 + i % 6)); // Dec 1 to Dec 6: late
                late += 1;
            }
            3 | 4 => stuck += 1,
            5 => {
                p = p.due("2026-12-07");
                today += 1;
            }
            7 | 8 => delivered_recently += 1,
            9 if i % 20 == 9 => {
                p = p.test();
                tests += 1;
            }
            _ => {
                p = p.due("2026-12-10");
                moving += 1;
            }
        }
        p.send(&store).await;
    }
    let d = read_desk(&store, clock(n)).await;
    // All are counted; the most urgent are listed (the exceptions outnumber the list).
    assert_eq!(d.attention_total as usize, exceptions + late + stuck);
    assert_eq!(d.attention.len(), DESK_ATTENTION_LIMIT);
    assert!(exceptions > DESK_ATTENTION_LIMIT);
    assert!(d.attention.iter().all(|a| a.attention.kind == AttentionKind::Exception));
    // The late and the stuck are all found (the clock's query).
    let late_and_stuck: Vec<AttentionKind> = {
        let all = store
            .read(move |c| {
                desk::due_alerts(c, clock(n), &rules(), &[AttentionKind::Late, AttentionKind::Stuck])
            })
            .await
            .unwrap();
        all.iter().map(|a| a.attention.kind).collect()
    };
    assert_eq!(late_and_stuck.iter().filter(|k| **k == AttentionKind::Late).count(), late);
    assert_eq!(late_and_stuck.iter().filter(|k| **k == AttentionKind::Stuck).count(), stuck);
    assert_eq!(d.arriving_today.total, today);
    assert_eq!(d.in_transit.total, moving);
    assert_eq!(d.delivered_recently.total, delivered_recently);
    assert_eq!(d.test_shipments, tests);
    for g in [&d.arriving_today, &d.in_transit, &d.delivered_recently] {
        assert_eq!(g.items.len(), DESK_GROUP_LIMIT);
    }
    // Sorted: kind, then days (most first), then id.
    for w in d.attention.windows(2) {
        let (a, b) = (&w[0], &w[1]);
        let key = |x: &shipwatch_api::AttentionItem| {
            (x.attention.kind, std::cmp::Reverse(x.attention.days), x.shipment.id)
        };
        assert!(key(a) < key(b), "{a:?} before {b:?}");
    }
    // In transit: newest scan first, none listed twice.
    let in_transit = ids(&d.in_transit.items);
    let unique: std::collections::HashSet<&i64> = in_transit.iter().collect();
    assert_eq!(unique.len(), in_transit.len());
    let listed: std::collections::HashSet<i64> = d.attention.iter().map(|a| a.shipment.id).collect();
    assert!(d.in_transit.items.iter().all(|s| !listed.contains(&s.id)));
    let count_now = store.read(move |c| desk::attention_count(c, clock(n), &rules())).await.unwrap();
    assert_eq!(count_now, d.attention_total);
    store.close();
}

#[tokio::test]
async fn shipments_delivered_before_the_desk_existed_count_as_delivered() {
    // A data dir written by the release before the store rewrite (schema 7): its delivered
    // shipments were stored without a delivery time. Migrated, they are delivered at their newest
    // checkpoint, so the desk never counts them late, stuck or in transit.
    let fixture = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../server/tests/fixtures/release-a504ba7/shipwatch.db");
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(&fixture, shipwatch_store::db_path(dir.path())).unwrap();
    let store = open_store(&dir);
    let rows: Vec<(i64, Option<i64>, Option<i64>)> = store
        .read(|c| {
            Ok(c.prepare("SELECT id, delivered_at, last_location_time FROM shipments WHERE tag = 'Delivered' ORDER BY id")?
                .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
                .collect::<rusqlite::Result<_>>()?)
        })
        .await
        .unwrap();
    assert_eq!(rows.iter().map(|r| r.0).collect::<Vec<_>>(), vec![1, 3, 7]);
    for (id, delivered_at, scan) in &rows {
        assert!(delivered_at.is_some() && delivered_at == scan, "{id}: {delivered_at:?} {scan:?}");
    }
    let newest_scan = rows.iter().filter_map(|r| r.2).max().unwrap();
    let keep_a_year = AttentionRules { archive_after_days: 365, ..rules() };
    let d = store.read(move |c| desk::desk(c, clock(newest_scan + DAY), &keep_a_year)).await.unwrap();
    assert_eq!(ids(&d.delivered_recently.items), vec![7, 3, 1]);
    let elsewhere: Vec<i64> =
        d.attention.iter().map(|a| a.shipment.id).chain(ids(&d.in_transit.items)).collect();
    assert!(elsewhere.iter().all(|id| ![1, 3, 7].contains(id)), "{elsewhere:?}");
    store.close();
}
