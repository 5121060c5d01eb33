//! The merchant's desk at the engine level: a real engine on a temp data dir, real deliveries over
//! loopback HTTP, a recording notifier in place of D-Bus, and a clock the test sets. Late and stuck
//! are raised once each, again only when the estimate or the last scan moves, never for test data
//! nor for a shipment no valid delivery built; a parcel that became late while Shipwatch was closed
//! is noticed at start; what pause held is shown as one summary when it ends; the desk's settings
//! and endpoints; the webhook version.

mod common;

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use common::*;
use serde_json::{json, Value};
use shipwatch_notify::testing::RecordingNotifier;
use shipwatch_notify::{CoalesceConfig, Notification, NotificationLog, RunnerConfig, Urgency};
use shipwatch_server::{ClockSource, Engine, EngineConfig, Notifications};
use shipwatch_store::desk::DeskClock;

/// 2026-12-07T12:00:00Z.
const DEC_7_NOON: i64 = 1_796_644_800_000;
const DAY: i64 = 86_400_000;

struct Desk {
    t: TestEngine,
    now: Arc<AtomicI64>,
    shown: Arc<RecordingNotifier>,
    log: NotificationLog,
}

fn config(
    dir: &std::path::Path,
    now: &Arc<AtomicI64>,
    notifier: Option<(Arc<RecordingNotifier>, NotificationLog)>,
) -> EngineConfig {
    let clock = now.clone();
    EngineConfig {
        data_dir: Some(dir.to_owned()),
        listen: Some("127.0.0.1:0".parse().unwrap()),
        inspector_listen: Some("127.0.0.1:0".parse().unwrap()),
        inspector: Some(true),
        clock: Some(ClockSource::new(move || DeskClock {
            now_ms: clock.load(Ordering::SeqCst),
            utc_offset_s: 0,
        })),
        notifications: notifier.map(|(n, log)| Notifications {
            notifier: n,
            log,
            runner: RunnerConfig {
                coalesce: CoalesceConfig { window: Duration::from_millis(50), max_individual: 10 },
                ..Default::default()
            },
        }),
        ..Default::default()
    }
}

async fn engine_on(
    dir: &std::path::Path,
    now: &Arc<AtomicI64>,
    notifier: Option<(Arc<RecordingNotifier>, NotificationLog)>,
) -> TestEngine {
    wrap(Engine::start(config(dir, now, notifier)).await.expect("engine starts"), dir)
}

async fn start_desk(dir: &std::path::Path) -> Desk {
    start_desk_at(dir, DEC_7_NOON).await
}

async fn start_desk_at(dir: &std::path::Path, at: i64) -> Desk {
    let now = Arc::new(AtomicI64::new(at));
    let shown = Arc::new(RecordingNotifier::default());
    let log = NotificationLog::default();
    let t = engine_on(dir, &now, Some((shown.clone(), log.clone()))).await;
    Desk { t, now, shown, log }
}

fn save_settings(dir: &std::path::Path) {
    settings_with(Some(SECRET), None).save(dir).unwrap();
}

/// An in-transit update of shipment `id`, due `due` (legacy `expected_delivery`), whose newest
/// courier scan was at `scan`.
fn in_transit(id: &str, due: Option<&str>, scan: &str, updated_at: &str) -> Vec<u8> {
    let (_, body) =
        update(id, "InTransit", updated_at, vec![checkpoint(scan, "InTransit", "Departed USPS facility")]);
    let mut v: Value = serde_json::from_slice(&body).unwrap();
    v["msg"]["expected_delivery"] = json!(due);
    serde_json::to_vec_pretty(&v).unwrap()
}

async fn wait_shown(d: &Desk, n: usize) -> Vec<Notification> {
    for _ in 0..500 {
        let shown = d.shown.shown();
        if shown.len() >= n {
            return shown;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("expected {n} notifications, have {:?}; log {:?}", d.shown.shown(), d.log.entries());
}

async fn wait_log(d: &Desk, n: usize) {
    for _ in 0..500 {
        if d.log.len() >= n {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("expected {n} log entries, have {:?}", d.log.entries());
}

impl Desk {
    async fn clock(&self) -> shipwatch_server::ClockReport {
        self.t.engine().run_clock().await
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn late_and_stuck_are_raised_once_each_never_for_test_data_or_forgeries() {
    let tmp = tempfile::tempdir().unwrap();
    save_settings(tmp.path());
    let d = start_desk(tmp.path()).await;
    // Late: due Dec 3, scanned yesterday. Stuck: due later, no scan since Dec 1.
    let late = in_transit("late1", Some("2026-12-03"), "2026-12-06T10:00:00", "2026-12-06T10:05:00Z");
    let stuck = in_transit("stuck1", Some("2026-12-20"), "2026-12-01T09:00:00", "2026-12-01T09:05:00Z");
    // Test data (late and stuck alike), and a forgery of a late parcel.
    let test = in_transit("test1", Some("2026-12-01"), "2026-11-20T09:00:00", "2026-11-20T09:05:00Z");
    let forged = in_transit("forged1", Some("2026-12-01"), "2026-11-20T09:00:00", "2026-11-20T09:05:00Z");
    assert_eq!(d.t.post_signed(&late, SECRET).await.status, 200);
    assert_eq!(d.t.post_signed(&stuck, SECRET).await.status, 200);
    let sig = sign(SECRET, &test);
    assert_eq!(
        d.t.post(&test, &[("aftership-hmac-sha256", &sig), ("x-shipwatch-test", "1")]).await.status,
        200
    );
    assert_eq!(d.t.post_signed(&forged, OTHER_SECRET).await.status, 401);

    let report = d.clock().await;
    assert_eq!(report.alerts, 2, "late and stuck, not the test shipment nor the forgery");
    let shown = wait_shown(&d, 2).await;
    let late_n = shown.iter().find(|n| n.summary == "Late · USPS").expect("a late notification");
    let why = late_n.body.lines().next().unwrap();
    assert!(why.contains("days late") && why.contains("Dec 3"), "{}", late_n.body);
    assert!(late_n.body.contains("TNlate1"), "{}", late_n.body);
    let stuck_n = shown.iter().find(|n| n.summary == "Stuck · USPS").expect("a stuck notification");
    assert!(stuck_n.body.contains("No courier scan for 6 days"), "{}", stuck_n.body);
    assert!(stuck_n.body.contains("TNstuck1"), "{}", stuck_n.body);

    // Once: the next ticks raise nothing, however often they run.
    assert_eq!(d.clock().await.alerts, 0);
    d.now.fetch_add(DAY, Ordering::SeqCst);
    assert_eq!(d.clock().await.alerts, 0, "a day later, still the same due date and the same last scan");
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(d.shown.shown().len(), 2, "{:?}", d.shown.shown());

    // The status and the desk count them; test data left out.
    let status = d.t.get_json("/api/status").await;
    assert_eq!(status["attention_count"], 2, "{status}");
    assert_eq!(status["notifications_held"], Value::Null);
    let desk = d.t.get_json("/api/desk").await;
    let kinds: Vec<&str> = desk["attention"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["attention"]["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["late", "stuck"], "{desk}");
    assert_eq!(desk["test_shipments"], 1);

    // The status's count is kept between changes, and archiving one recounts at once.
    assert_eq!(d.t.get_json("/api/status").await["attention_count"], 2);
    let late_id = desk["attention"][0]["shipment"]["id"].as_i64().unwrap();
    let archived =
        d.t.api("POST", &format!("/api/shipments/{late_id}/archive"), Some(&json!({"archived": true}))).await;
    assert_eq!(archived.status, 200);
    assert_eq!(d.t.get_json("/api/status").await["attention_count"], 1, "archived: counted again at once");
    // A delivery that makes an exception is counted (at most a second later under a flow of them).
    let (_, exception) = update(
        "exc9",
        "Exception",
        "2026-12-07T09:05:00Z",
        vec![checkpoint("2026-12-07T09:00:00", "Exception", "Delayed (External factors)")],
    );
    assert_eq!(d.t.post_signed(&exception, SECRET).await.status, 200);
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert_eq!(d.t.get_json("/api/status").await["attention_count"], 2, "the exception");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_estimate_that_moves_later_notifies_and_rearms_late_a_new_scan_rearms_stuck() {
    let tmp = tempfile::tempdir().unwrap();
    save_settings(tmp.path());
    let d = start_desk(tmp.path()).await;
    let first = in_transit("move1", Some("2026-12-03"), "2026-12-01T10:00:00", "2026-12-01T10:05:00Z");
    assert_eq!(d.t.post_signed(&first, SECRET).await.status, 200);
    assert_eq!(d.clock().await.alerts, 2, "late and stuck");
    wait_shown(&d, 2).await;

    // The estimate moves to Dec 5 (still past): the update says so, and late is raised again.
    let moved = in_transit("move1", Some("2026-12-05"), "2026-12-01T10:00:00", "2026-12-06T08:00:00Z");
    assert_eq!(d.t.post_signed(&moved, SECRET).await.status, 200);
    let shown = wait_shown(&d, 3).await;
    assert_eq!(shown[2].summary, "Estimate moved later · USPS");
    assert_eq!(shown[2].body.lines().next(), Some("Estimate moved to Dec 5 (was Dec 3)"));
    assert_eq!(d.clock().await.alerts, 1, "late again, for the new due date; stuck not (same last scan)");
    let shown = wait_shown(&d, 4).await;
    assert_eq!(shown[3].summary, "Late · USPS");

    // A new courier scan re-arms stuck: nothing until it is old in its turn.
    let scanned = in_transit("move1", Some("2026-12-05"), "2026-12-07T09:00:00", "2026-12-07T09:05:00Z");
    assert_eq!(d.t.post_signed(&scanned, SECRET).await.status, 200);
    assert_eq!(d.clock().await.alerts, 0);
    d.now.fetch_add(6 * DAY, Ordering::SeqCst);
    assert_eq!(d.clock().await.alerts, 1, "no scan for 6 days since Dec 7");
    let shown = wait_shown(&d, 5).await;
    assert_eq!(shown[4].summary, "Stuck · USPS");

    // Alerts switched off: nothing more, even for a new due date.
    let r = d.t.api("PUT", "/api/settings", Some(&json!({"alerts": []}))).await;
    assert_eq!(r.status, 200, "{}", r.text());
    let again = in_transit("move1", Some("2026-12-09"), "2026-12-07T09:00:00", "2026-12-08T09:05:00Z");
    assert_eq!(d.t.post_signed(&again, SECRET).await.status, 200);
    assert_eq!(d.clock().await.alerts, 0);
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(d.shown.shown().len(), 5, "{:?}", d.shown.shown());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_parcel_that_became_late_while_shipwatch_was_closed_is_noticed_at_start() {
    let tmp = tempfile::tempdir().unwrap();
    save_settings(tmp.path());
    let now = Arc::new(AtomicI64::new(DEC_7_NOON - 5 * DAY));
    // The headless engine (no notifications) receives it while it is on time, and raises nothing.
    let mut headless = engine_on(tmp.path(), &now, None).await;
    let body = in_transit("closed1", Some("2026-12-03"), "2026-12-02T10:00:00", "2026-12-02T10:05:00Z");
    assert_eq!(headless.post_signed(&body, SECRET).await.status, 200);
    now.store(DEC_7_NOON, Ordering::SeqCst);
    assert_eq!(headless.engine().run_clock().await.alerts, 0, "no notifier: left for the app");
    headless.shutdown().await;

    // The app starts days later: its first tick finds it at once.
    let shown = Arc::new(RecordingNotifier::default());
    let log = NotificationLog::default();
    let t = engine_on(tmp.path(), &now, Some((shown.clone(), log.clone()))).await;
    let d = Desk { t, now, shown, log };
    let shown = wait_shown(&d, 1).await;
    assert_eq!(shown[0].summary, "Late · USPS");
    assert_eq!(d.clock().await.alerts, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn what_pause_held_is_one_summary_when_it_ends_and_the_status_says_so() {
    let tmp = tempfile::tempdir().unwrap();
    save_settings(tmp.path());
    let d = start_desk(tmp.path()).await;
    let r = d.t.api("PUT", "/api/settings", Some(&json!({"notifications_paused": true}))).await;
    assert_eq!(r.status, 200);
    assert_eq!(d.t.get_json("/api/status").await["notifications_held"], "paused");
    let (_, exception) = update(
        "exc1",
        "Exception",
        "2026-12-07T08:00:00Z",
        vec![checkpoint("2026-12-07T07:00:00", "Exception", "Weather delay at the hub")],
    );
    let mut v: Value = serde_json::from_slice(&exception).unwrap();
    v["msg"]["subtag"] = json!("Exception_005");
    v["msg"]["subtag_message"] = json!("Delayed");
    let exception = serde_json::to_vec_pretty(&v).unwrap();
    let (_, delivered) = update(
        "del1",
        "Delivered",
        "2026-12-07T09:00:00Z",
        vec![checkpoint("2026-12-07T08:30:00", "Delivered", "Delivered, Front Door")],
    );
    assert_eq!(d.t.post_signed(&exception, SECRET).await.status, 200);
    assert_eq!(d.t.post_signed(&delivered, SECRET).await.status, 200);
    wait_log(&d, 2).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(d.shown.shown().is_empty(), "paused: nothing shown, {:?}", d.shown.shown());

    let r = d.t.api("PUT", "/api/settings", Some(&json!({"notifications_paused": false}))).await;
    assert_eq!(r.status, 200);
    let shown = wait_shown(&d, 1).await;
    assert_eq!(shown.len(), 1, "{shown:?}");
    assert_eq!(shown[0].summary, "While paused: 1 exception, 1 delivered");
    let first = shown[0].body.lines().next().unwrap();
    assert_eq!(first, "Exception · USPS — Delayed (External factors)");
    assert_eq!(shown[0].urgency, Urgency::Critical);
    assert_eq!(d.t.get_json("/api/status").await["notifications_held"], Value::Null);

    // Unpaused, an exception says why, with the courier's message, and is critical.
    let (_, exception2) = update(
        "exc2",
        "Exception",
        "2026-12-07T10:00:00Z",
        vec![checkpoint("2026-12-07T09:50:00", "Exception", "Address not found")],
    );
    let mut v: Value = serde_json::from_slice(&exception2).unwrap();
    v["msg"]["subtag"] = json!("Exception_007");
    assert_eq!(d.t.post_signed(&serde_json::to_vec(&v).unwrap(), SECRET).await.status, 200);
    let shown = wait_shown(&d, 2).await;
    assert_eq!(shown[1].summary, "Exception · USPS");
    assert!(
        shown[1].body.starts_with("Incorrect Address\nCourier: Address not found\n"),
        "{}",
        shown[1].body
    );
    assert_eq!(shown[1].urgency, Urgency::Critical);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn desk_settings_are_validated_persisted_and_shown() {
    let t = start(Some(SECRET)).await;
    let s = t.get_json("/api/settings").await;
    assert_eq!(
        (&s["stuck_after_days"], &s["pickup_after_days"], &s["archive_after_days"], &s["digest_at"]),
        (&json!(5), &json!(3), &json!(3), &Value::Null)
    );
    assert_eq!(s["alerts"], json!(["late", "stuck", "estimate_later"]));
    for bad in [
        json!({"stuck_after_days": 0}),
        json!({"pickup_after_days": 366}),
        json!({"archive_after_days": 0}),
        json!({"alerts": ["late", "lost"]}),
        json!({"digest_at": "7pm"}),
        json!({"digest_at": "24:00"}),
    ] {
        let r = t.api("PUT", "/api/settings", Some(&bad)).await;
        assert_eq!(r.status, 400, "{bad}: {}", r.text());
        assert!(r.json()["error"].is_string());
    }
    let r = t
        .api(
            "PUT",
            "/api/settings",
            Some(&json!({"stuck_after_days": 7, "pickup_after_days": 2, "archive_after_days": 10, "alerts": ["stuck"], "digest_at": "08:30"})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let s = r.json();
    assert_eq!(
        (&s["stuck_after_days"], &s["archive_after_days"], &s["digest_at"]),
        (&json!(7), &json!(10), &json!("08:30"))
    );
    assert_eq!(s["alerts"], json!(["stuck"]));
    let file: Value = serde_json::from_slice(&std::fs::read(t.dir.join("settings.json")).unwrap()).unwrap();
    assert_eq!(
        (&file["stuck_after_days"], &file["pickup_after_days"], &file["digest_at"]),
        (&json!(7), &json!(2), &json!("08:30"))
    );
    let r = t.api("PUT", "/api/settings", Some(&json!({"digest_at": null}))).await;
    assert_eq!(r.json()["digest_at"], Value::Null);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn archive_and_remove_test_data_over_http_and_the_webhook_version_warning() {
    let t = start(Some(SECRET)).await;
    let (_, body) = update(
        "arch1",
        "Delivered",
        "2026-12-07T09:00:00Z",
        vec![checkpoint("2026-12-07T08:30:00", "Delivered", "Delivered")],
    );
    assert_eq!(
        t.post(&body, &[("aftership-hmac-sha256", &sign(SECRET, &body)), ("as-webhook-version", "2025-07")])
            .await
            .status,
        200
    );
    let id = t.shipments().await[0]["id"].as_i64().unwrap();
    let r = t.api("POST", &format!("/api/shipments/{id}/archive"), Some(&json!({"archived": true}))).await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["archived"], true);
    let r = t.api("POST", &format!("/api/shipments/{id}/archive"), Some(&json!({"archived": false}))).await;
    assert_eq!(r.json()["archived"], false);
    let r = t.api("POST", "/api/shipments/999999/archive", Some(&json!({"archived": true}))).await;
    assert_eq!(r.status, 404, "{}", r.text());
    let r = t.api("POST", &format!("/api/shipments/{id}/archive"), Some(&json!({"archive": 1}))).await;
    assert_eq!(r.status, 400, "{}", r.text());

    let status = t.get_json("/api/status").await;
    assert_eq!(status["webhook_version"], "2025-07");
    assert!(!status["warnings"].to_string().contains("webhook version"), "{status}");
    let (_, body) = update(
        "arch2",
        "InTransit",
        "2026-12-07T10:00:00Z",
        vec![checkpoint("2026-12-07T09:30:00", "InTransit", "Departed")],
    );
    assert_eq!(
        t.post(&body, &[("aftership-hmac-sha256", &sign(SECRET, &body)), ("as-webhook-version", "2026-07")])
            .await
            .status,
        200
    );
    let status = t.get_json("/api/status").await;
    assert_eq!(status["webhook_version"], "2026-07");
    let warnings = status["warnings"].to_string();
    assert!(
        warnings.contains("AfterShip now sends webhook version 2026-07 (was 2025-07) since "),
        "{warnings}"
    );
    assert!(warnings.contains("check the shape of your deliveries"), "{warnings}");
    // A forged one with another version changes nothing.
    let (_, body) = update("arch3", "InTransit", "2026-12-07T11:00:00Z", vec![]);
    assert_eq!(
        t.post(
            &body,
            &[("aftership-hmac-sha256", &sign(OTHER_SECRET, &body)), ("as-webhook-version", "2027-01")]
        )
        .await
        .status,
        401
    );
    assert_eq!(t.get_json("/api/status").await["webhook_version"], "2026-07");

    // Test data: marked by the header, removed in one call.
    let (_, body) = update("swtest1", "Delivered", "2026-12-07T09:00:00Z", vec![]);
    assert_eq!(
        t.post(&body, &[("aftership-hmac-sha256", &sign(SECRET, &body)), ("x-shipwatch-test", "1")])
            .await
            .status,
        200
    );
    let r = t.api("DELETE", "/api/test-data", None).await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json(), json!({"shipments": 1, "deliveries": 1}));
    assert_eq!(t.shipments().await.len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tracking_pending_time_event_is_one_stuck_alert_at_once() {
    let tmp = tempfile::tempdir().unwrap();
    save_settings(tmp.path());
    let d = start_desk(tmp.path()).await;
    // Registered yesterday, no scan: not stuck by days (5), but AfterShip says it stayed pending.
    let (_, body) = update("pend1", "Pending", "2026-12-06T12:00:00Z", vec![]);
    let mut v: Value = serde_json::from_slice(&body).unwrap();
    v["event"] = json!("tracking_pending_time");
    v["msg"]["created_at"] = json!("2026-12-06T12:00:00+00:00");
    assert_eq!(d.t.post_signed(&serde_json::to_vec(&v).unwrap(), SECRET).await.status, 200);
    let shown = wait_shown(&d, 1).await;
    assert_eq!(shown[0].summary, "Stuck · USPS");
    assert!(shown[0].body.starts_with("Still pending"), "{}", shown[0].body);
    assert_eq!(d.clock().await.alerts, 0, "raised once");
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(d.shown.shown().len(), 1, "{:?}", d.shown.shown());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_clock_archives_delivered_shipments_sends_the_digest_once_a_day_and_tells_the_ui() {
    let tmp = tempfile::tempdir().unwrap();
    let settings = shipwatch_server::Settings {
        digest_at: Some("08:00".into()),
        alerts: vec![],
        ..settings_with(Some(SECRET), None)
    };
    settings.save(tmp.path()).unwrap();
    // 06:00, before the digest (the clock's first pass runs at start).
    let d = start_desk_at(tmp.path(), DEC_7_NOON - 6 * 3_600_000).await;
    let (_, old) = update(
        "arch1",
        "Delivered",
        "2026-12-02T09:00:00Z",
        vec![checkpoint("2026-12-02T08:30:00", "Delivered", "Delivered")],
    );
    let (_, new) = update(
        "arch2",
        "Delivered",
        "2026-12-06T09:00:00Z",
        vec![checkpoint("2026-12-06T08:30:00", "Delivered", "Delivered")],
    );
    assert_eq!(d.t.post_signed(&old, SECRET).await.status, 200);
    assert_eq!(d.t.post_signed(&new, SECRET).await.status, 200);
    let mut sse = Sse::connect(&d.t).await;
    let report = d.clock().await;
    assert_eq!(
        (report.archived, report.digest),
        (1, false),
        "delivered Dec 2, 3 days kept; no digest before 08:00"
    );
    loop {
        let (name, _) = sse.next_event(Duration::from_secs(10)).await.expect("a desk event");
        if name == "desk" {
            break;
        }
    }
    let desk = d.t.get_json("/api/desk").await;
    assert_eq!(desk["delivered_recently"]["total"], 1, "{desk}");

    d.now.store(DEC_7_NOON - 3 * 3_600_000, Ordering::SeqCst); // 09:00
    assert!(d.clock().await.digest);
    let shown = wait_shown(&d, 1).await;
    assert_eq!(shown[0].summary, "0 need attention, 1 delivered yesterday");
    assert!(!d.clock().await.digest, "once a day");
    d.now.fetch_add(DAY, Ordering::SeqCst);
    assert!(d.clock().await.digest, "and again the next day");
    let shown = wait_shown(&d, 2).await;
    assert_eq!(shown[1].summary, "0 need attention, 0 delivered yesterday");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn what_pause_held_survives_a_restart_and_is_shown_when_pause_ends() {
    let tmp = tempfile::tempdir().unwrap();
    save_settings(tmp.path());
    let mut d = start_desk(tmp.path()).await;
    let r = d.t.api("PUT", "/api/settings", Some(&json!({"notifications_paused": true}))).await;
    assert_eq!(r.status, 200);
    let (_, exception) = update(
        "keep1",
        "Exception",
        "2026-12-07T08:00:00Z",
        vec![checkpoint("2026-12-07T07:00:00", "Exception", "Held at customs")],
    );
    assert_eq!(d.t.post_signed(&exception, SECRET).await.status, 200);
    wait_log(&d, 1).await;
    d.t.shutdown().await;
    assert!(d.shown.shown().is_empty());

    // The app is started again, still paused: nothing yet; resuming shows what the first one held.
    let shown = Arc::new(RecordingNotifier::default());
    let log = NotificationLog::default();
    let t = engine_on(tmp.path(), &d.now, Some((shown.clone(), log.clone()))).await;
    d = Desk { t, now: d.now.clone(), shown, log };
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(d.shown.shown().is_empty(), "{:?}", d.shown.shown());
    let r = d.t.api("PUT", "/api/settings", Some(&json!({"notifications_paused": false}))).await;
    assert_eq!(r.status, 200);
    let shown = wait_shown(&d, 1).await;
    assert_eq!(shown[0].summary, "While paused: 1 exception");
    assert!(shown[0].body.contains("Held at customs"), "{}", shown[0].body);
    assert_eq!(shown[0].urgency, Urgency::Critical);

    // Shown once: a third start has nothing held.
    d.t.shutdown().await;
    let shown = Arc::new(RecordingNotifier::default());
    let log = NotificationLog::default();
    let t = engine_on(tmp.path(), &d.now, Some((shown.clone(), log.clone()))).await;
    let r = t.api("PUT", "/api/settings", Some(&json!({"retention_days": 30}))).await;
    assert_eq!(r.status, 200);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(shown.shown().is_empty(), "{:?}", shown.shown());
}
