//! The desk's clock and the engine's notifications: where "now" comes from ([`ClockSource`]: the
//! system clock and local time zone, or a test's), the task that every minute (and at start, so a
//! parcel that became late while Shipwatch was closed is noticed at once) hands the late and stuck
//! shipments not alerted yet to the notifications, archives delivered shipments, sends the daily
//! digest and tells the UI when the desk changed; the notification task itself when the embedder
//! gives a [`Notifications`]; and the webhook version of the newest valid delivery.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

use shipwatch_api::{AttentionKind, LiveEvent};
use shipwatch_notify::{
    Alert, HeldKeeper, HeldRecord, NotificationLog, Notifier, Policy, RunnerConfig, SaveHeld, Sources,
};
use shipwatch_store::desk::{self, AttentionRules, DeskClock};
use shipwatch_store::{meta, queries, StoredDelivery};
use tokio::sync::{mpsc, watch, Notify};

use crate::config::Settings;
use crate::engine_impl::ApiInner;

const DAY_MS: i64 = 86_400_000;
/// How often the clock looks at the desk.
pub const TICK: Duration = Duration::from_secs(60);
/// The meta key of what pause or quiet hours hold (JSON list of `HeldRecord`), kept across restarts.
const HELD: &str = "notify.held";
/// The meta key of the local day the last digest was sent for.
const DIGEST_DAY: &str = "desk.digest_day";
/// How long the status warns that the webhook version changed.
pub const VERSION_WARNING_DAYS: i64 = 7;
/// The meta key of the webhook version of the newest valid delivery (JSON [`VersionMemory`]).
const WEBHOOK_VERSION: &str = "desk.webhook_version";

/// Where the desk reads "now": the system clock with the local time zone's offset, or one a test
/// controls.
#[derive(Clone)]
pub struct ClockSource(Arc<dyn Fn() -> DeskClock + Send + Sync>);

impl ClockSource {
    pub fn new(now: impl Fn() -> DeskClock + Send + Sync + 'static) -> ClockSource {
        ClockSource(Arc::new(now))
    }

    /// The system clock; the offset is the local time zone's at that moment (`chrono::Local`).
    pub fn system() -> ClockSource {
        ClockSource::new(|| {
            let now = chrono::Local::now();
            DeskClock { now_ms: now.timestamp_millis(), utc_offset_s: now.offset().local_minus_utc() }
        })
    }

    pub fn now(&self) -> DeskClock {
        (self.0)()
    }
}

impl std::fmt::Debug for ClockSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ClockSource")
    }
}

/// Minutes since local midnight at `clock`.
pub fn local_minute(clock: DeskClock) -> u16 {
    let local_ms = clock.now_ms + i64::from(clock.utc_offset_s) * 1000;
    (local_ms.rem_euclid(DAY_MS) / 60_000) as u16
}

/// The local day (days since 1970-01-01) at `clock`, and its midnight in Unix ms.
fn local_day(clock: DeskClock) -> (i64, i64) {
    let offset_ms = i64::from(clock.utc_offset_s) * 1000;
    let day = (clock.now_ms + offset_ms).div_euclid(DAY_MS);
    (day, day * DAY_MS - offset_ms)
}

/// How the engine shows notifications: the desktop's notifier and the log its window reads.
#[derive(Clone)]
pub struct Notifications {
    pub notifier: Arc<dyn Notifier>,
    pub log: NotificationLog,
    pub runner: RunnerConfig,
}

impl Notifications {
    pub fn new(notifier: Arc<dyn Notifier>, log: NotificationLog) -> Notifications {
        Notifications { notifier, log, runner: RunnerConfig::default() }
    }
}

impl std::fmt::Debug for Notifications {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Notifications").field("runner", &self.runner).finish_non_exhaustive()
    }
}

/// What one pass of the clock did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ClockReport {
    /// Late and stuck alerts handed to the notifications.
    pub alerts: usize,
    /// Delivered shipments archived.
    pub archived: usize,
    /// The daily digest was sent.
    pub digest: bool,
}

/// The webhook version of the newest valid delivery and the one before it changed.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
struct VersionMemory {
    current: Option<String>,
    /// Set once a valid delivery came with another version than the one before it.
    previous: Option<String>,
    /// Unix ms of the first delivery with `current` after a change.
    since_ms: Option<i64>,
    /// A valid delivery was seen (a legacy one has no version).
    seen: bool,
}

/// The clock's state inside the engine.
pub(crate) struct DeskState {
    pub(crate) source: ClockSource,
    alerts: Option<mpsc::UnboundedSender<Alert>>,
    /// Wakes the notification task (settings changed, a clock tick): held notifications are
    /// shown as soon as nothing holds them.
    pub(crate) wake: Arc<Notify>,
    /// Asks the clock for a pass now.
    tick: Notify,
    /// One pass at a time (the task's and a test's), so an alert is never handed over twice.
    pass: tokio::sync::Mutex<()>,
    version: Mutex<VersionMemory>,
    /// Bumped whenever a delivery changes a shipment: the cached attention count is then stale.
    changes: AtomicU64,
    /// Bumped when the desk changes otherwise (archive, test data removed, the clock's pass): the
    /// next status recounts at once.
    desk_changes: AtomicU64,
    attention: Mutex<Option<AttentionCount>>,
}

/// The attention count the status last computed, and what it was computed for.
#[derive(Clone, Copy, Debug)]
struct AttentionCount {
    changes: u64,
    desk_changes: u64,
    /// The clock's minute: late and stuck change as time passes.
    minute: i64,
    rules: AttentionRules,
    count: i64,
    at: Instant,
}

/// Under a steady flow of deliveries (every one may change a shipment), the status recounts at
/// most this often: counting reads every open shipment that may need attention.
const RECOUNT_AT_MOST_EVERY: Duration = Duration::from_secs(1);

impl DeskState {
    /// The state, and the receiving end of the alerts when notifications are on.
    pub(crate) fn new(
        source: Option<ClockSource>,
        notifications: bool,
    ) -> (DeskState, Option<mpsc::UnboundedReceiver<Alert>>) {
        let (tx, rx) = if notifications {
            let (tx, rx) = mpsc::unbounded_channel();
            (Some(tx), Some(rx))
        } else {
            (None, None)
        };
        let state = DeskState {
            source: source.unwrap_or_else(ClockSource::system),
            alerts: tx,
            wake: Arc::new(Notify::new()),
            tick: Notify::new(),
            pass: tokio::sync::Mutex::new(()),
            version: Mutex::new(VersionMemory::default()),
            changes: AtomicU64::new(0),
            desk_changes: AtomicU64::new(0),
            attention: Mutex::new(None),
        };
        (state, rx)
    }

    pub(crate) fn now(&self) -> DeskClock {
        self.source.now()
    }

    /// A delivery changed a shipment (the attention count may have).
    pub(crate) fn shipment_changed(&self) {
        self.changes.fetch_add(1, Ordering::Relaxed);
    }

    /// The desk changed otherwise: archive, test data removed, the clock's pass.
    pub(crate) fn desk_changed(&self) {
        self.desk_changes.fetch_add(1, Ordering::Relaxed);
    }

    /// How many shipments need attention: the last count while, in the same minute under the same
    /// rules, nothing changed, or only deliveries did and the count is younger than
    /// [`RECOUNT_AT_MOST_EVERY`]; else `count()`.
    pub(crate) async fn attention_count<F, Fut, E>(
        &self,
        clock: DeskClock,
        rules: AttentionRules,
        count: F,
    ) -> Result<i64, E>
    where
        F: FnOnce() -> Fut,
        Fut: std::future::Future<Output = Result<i64, E>>,
    {
        let changes = self.changes.load(Ordering::Relaxed);
        let desk_changes = self.desk_changes.load(Ordering::Relaxed);
        let minute = clock.now_ms.div_euclid(60_000);
        let cached = *self.attention.lock().expect("attention lock");
        if let Some(c) = cached {
            let same_desk = c.desk_changes == desk_changes && c.minute == minute && c.rules == rules;
            if same_desk && (c.changes == changes || c.at.elapsed() < RECOUNT_AT_MOST_EVERY) {
                return Ok(c.count);
            }
        }
        let n = count().await?;
        *self.attention.lock().expect("attention lock") =
            Some(AttentionCount { changes, desk_changes, minute, rules, count: n, at: Instant::now() });
        Ok(n)
    }

    /// Notes the webhook version of a stored delivery (valid or unverified, not a retry, not test
    /// data); returns the memory to persist when it changed.
    fn note_version(&self, stored: &StoredDelivery) -> Option<VersionMemory> {
        if !stored.verdict.accepted() || stored.duplicate_of.is_some() || stored.item.test {
            return None;
        }
        let version = stored.item.webhook_version.clone().filter(|v| !v.trim().is_empty());
        let mut m = self.version.lock().expect("version lock");
        if m.seen && m.current == version {
            return None;
        }
        if m.seen {
            m.previous = m.current.take();
            m.since_ms = Some(self.now().now_ms);
        }
        m.current = version;
        m.seen = true;
        Some(m.clone())
    }

    pub(crate) fn webhook_version(&self) -> Option<String> {
        self.version.lock().expect("version lock").current.clone()
    }

    /// "AfterShip now sends webhook version 2026-07 (was 2025-07) since <time>: check the shape
    /// of your deliveries", for [`VERSION_WARNING_DAYS`] after a change.
    pub(crate) fn version_warning(&self) -> Option<String> {
        let m = self.version.lock().expect("version lock");
        let since = m.since_ms?;
        if self.now().now_ms - since > VERSION_WARNING_DAYS * DAY_MS {
            return None;
        }
        let name = |v: &Option<String>| v.clone().unwrap_or_else(|| "none (legacy v4)".into());
        Some(format!(
            "AfterShip now sends webhook version {} (was {}) since {}: check the shape of your deliveries",
            name(&m.current),
            name(&m.previous),
            queries::rfc3339_ms(since)
        ))
    }
}

/// The thresholds of the desk from the settings.
pub(crate) fn rules(s: &Settings) -> AttentionRules {
    AttentionRules {
        stuck_after_days: s.stuck_after_days,
        pickup_after_days: s.pickup_after_days,
        archive_after_days: s.archive_after_days,
    }
}

/// The notification policy from the settings.
pub(crate) fn policy(s: &Settings) -> Policy {
    Policy::from_settings(&s.notify_tags, s.quiet_hours.as_ref(), s.notifications_paused)
        .with_alerts(&s.alerts)
}

/// Minutes since midnight of `HH:MM`.
pub(crate) fn parse_hhmm(t: &str) -> Option<u16> {
    let (h, m) = t.trim().split_once(':')?;
    if h.len() != 2 || m.len() != 2 {
        return None;
    }
    let (h, m) = (h.parse::<u16>().ok()?, m.parse::<u16>().ok()?);
    (h < 24 && m < 60).then_some(h * 60 + m)
}

impl ApiInner {
    /// Remembers the webhook version of a stored delivery (in memory; in the database only when it
    /// changes).
    /// Cheap per delivery: a comparison under a lock; the clock is read only on a change.
    pub(crate) fn note_webhook_version(&self, stored: &StoredDelivery) {
        if let Some(memory) = self.desk.note_version(stored) {
            let Some(me) = self.me() else { return };
            tokio::spawn(async move {
                let json = serde_json::to_string(&memory).expect("serialises");
                if let Err(e) = me.store.write(move |c| meta::set(c, WEBHOOK_VERSION, &json)).await {
                    tracing::warn!(error = %e, "cannot remember the webhook version");
                }
            });
        }
    }

    /// Asks the clock for a pass now (e.g. the notifications just started listening).
    pub(crate) fn poke_clock(&self) {
        self.desk.tick.notify_one();
    }
}

/// Loads what the clock remembers across restarts.
pub(crate) async fn load(inner: &ApiInner) {
    match inner.store.read(|c| meta::get(c, WEBHOOK_VERSION)).await {
        Ok(Some(json)) => match serde_json::from_str::<VersionMemory>(&json) {
            Ok(m) => *inner.desk.version.lock().expect("version lock") = m,
            Err(e) => {
                tracing::warn!(error = %e, "the remembered webhook version does not parse; forgetting it")
            }
        },
        Ok(None) => {}
        Err(e) => tracing::warn!(error = %e, "cannot read the remembered webhook version"),
    }
}

/// The clock's task: a pass every [`TICK`] and whenever poked, until the engine stops. (The engine
/// runs the first pass itself before it starts this, so that start is when it is done.)
pub(crate) async fn run(inner: Arc<ApiInner>, mut stop: watch::Receiver<bool>) {
    loop {
        tokio::select! {
            _ = tokio::time::sleep(TICK) => {}
            _ = inner.desk.tick.notified() => {}
            _ = stop.changed() => return,
        }
        pass(&inner).await;
    }
}

/// One look at the desk: late and stuck alerts (only when notifications can show them: the
/// headless engine leaves them for the app), archiving, the digest, then a `desk` live event when
/// anything changed and a wake-up for the notifications (quiet hours may have ended).
pub(crate) async fn pass(inner: &ApiInner) -> ClockReport {
    let _one = inner.desk.pass.lock().await;
    let clock = inner.desk.now();
    let settings = inner.settings();
    let rules = rules(&settings);
    let mut report = ClockReport::default();
    if let Some(tx) = &inner.desk.alerts {
        let mut kinds = Vec::new();
        if settings.alerts.iter().any(|a| a == "late") {
            kinds.push(AttentionKind::Late);
        }
        if settings.alerts.iter().any(|a| a == "stuck") {
            kinds.push(AttentionKind::Stuck);
        }
        if !kinds.is_empty() {
            match inner.store.read(move |c| desk::due_alerts(c, clock, &rules, &kinds)).await {
                Ok(found) => {
                    let mut marks = Vec::new();
                    for a in found {
                        // Never for test data (the store leaves it out too).
                        if !a.shipment.test {
                            let _ = tx.send(Alert::Attention {
                                shipment: Box::new(a.shipment.clone()),
                                attention: a.attention.clone(),
                            });
                            report.alerts += 1;
                        }
                        marks.push((a.shipment.id, a.attention.kind));
                    }
                    if !marks.is_empty() {
                        let now = clock.now_ms;
                        let marked = inner
                            .store
                            .write(move |c| {
                                for (id, kind) in &marks {
                                    match desk::mark_alerted(c, *id, *kind, now) {
                                        Ok(()) | Err(shipwatch_store::StoreError::NotFound) => {}
                                        Err(e) => return Err(e),
                                    }
                                }
                                Ok(())
                            })
                            .await;
                        if let Err(e) = marked {
                            tracing::error!(error = %e, "cannot record the clock's alerts");
                        }
                    }
                }
                Err(e) => tracing::error!(error = %e, "the clock cannot read the desk"),
            }
        }
    }
    let before = clock.now_ms - i64::from(settings.archive_after_days) * DAY_MS;
    match inner.store.write(move |c| desk::archive_delivered(c, before)).await {
        Ok(n) => report.archived = n,
        Err(e) => tracing::error!(error = %e, "cannot archive delivered shipments"),
    }
    if inner.desk.alerts.is_some() {
        report.digest = digest(inner, &settings, clock, &rules).await;
    }
    if report.alerts > 0 || report.archived > 0 {
        inner.desk.desk_changed();
        tracing::info!(alerts = report.alerts, archived = report.archived, "the clock changed the desk");
        let _ = inner.live.send(LiveEvent::Desk);
    }
    inner.desk.wake.notify_one();
    report
}

/// The daily digest, once per local day at or after `digest_at`.
async fn digest(inner: &ApiInner, settings: &Settings, clock: DeskClock, rules: &AttentionRules) -> bool {
    let Some(at) = settings.digest_at.as_deref().and_then(parse_hhmm) else { return false };
    if local_minute(clock) < at {
        return false;
    }
    let Some(tx) = &inner.desk.alerts else { return false };
    let (today, midnight) = local_day(clock);
    let rules = *rules;
    let counted = inner
        .store
        .read(move |c| {
            if meta::get(c, DIGEST_DAY)?.and_then(|d| d.parse::<i64>().ok()) == Some(today) {
                return Ok(None);
            }
            let attention = desk::attention_count(c, clock, &rules)?;
            let delivered: i64 = c
                .prepare_cached(
                    "SELECT count(*) FROM shipments WHERE delivered_at >= ?1 AND delivered_at < ?2 AND test = 0",
                )?
                .query_row([midnight - DAY_MS, midnight], |r| r.get(0))?;
            Ok(Some((attention, delivered)))
        })
        .await;
    let (attention, delivered_yesterday) = match counted {
        Ok(Some(c)) => c,
        Ok(None) => return false,
        Err(e) => {
            tracing::error!(error = %e, "cannot count the digest");
            return false;
        }
    };
    if let Err(e) = inner.store.write(move |c| meta::set(c, DIGEST_DAY, &today.to_string())).await {
        tracing::error!(error = %e, "cannot record the digest");
        return false;
    }
    tx.send(Alert::Digest { attention, delivered_yesterday }).is_ok()
}

/// A notify-crate clock on the engine's: quiet hours follow the desk's clock.
struct NotifyClock(ClockSource);

impl shipwatch_notify::Clock for NotifyClock {
    fn local_minute(&self) -> u16 {
        local_minute(self.0.now())
    }
}

/// Starts the notification task: stored deliveries and the clock's alerts in, the notifier out;
/// what pause or quiet hours hold is kept in the database until it is shown. It holds the engine
/// weakly and ends when the engine stops.
pub(crate) async fn spawn_notifications(
    inner: &Arc<ApiInner>,
    notifications: Notifications,
    alerts: mpsc::UnboundedReceiver<Alert>,
) -> tokio::task::JoinHandle<()> {
    let weak: Weak<ApiInner> = Arc::downgrade(inner);
    let (w1, w2, w3, w4) = (weak.clone(), weak.clone(), weak.clone(), weak);
    let initial = match inner.store.read(|c| meta::get(c, HELD)).await {
        Ok(Some(json)) => serde_json::from_str::<Vec<HeldRecord>>(&json).unwrap_or_else(|e| {
            tracing::warn!(error = %e, "the held notifications do not parse; dropping them");
            Vec::new()
        }),
        Ok(None) => Vec::new(),
        Err(e) => {
            tracing::warn!(error = %e, "cannot read the held notifications");
            Vec::new()
        }
    };
    if !initial.is_empty() {
        tracing::info!(held = initial.len(), "notifications held before the restart are still held");
    }
    let save: SaveHeld = Arc::new(move |records: Vec<HeldRecord>| {
        let weak = w4.clone();
        Box::pin(async move {
            let Some(inner) = weak.upgrade() else { return };
            let json = serde_json::to_string(&records).expect("serialises");
            let saved = inner
                .store
                .write(
                    move |c| {
                        if records.is_empty() {
                            meta::delete(c, HELD)
                        } else {
                            meta::set(c, HELD, &json)
                        }
                    },
                )
                .await;
            if let Err(e) = saved {
                tracing::warn!(error = %e, "cannot keep the held notifications");
            }
        })
    });
    let sources = Sources {
        deliveries: inner.events.subscribe(),
        alerts: Some(alerts),
        wake: Some(inner.desk.wake.clone()),
        checkpoint_message: Some(Arc::new(move |shipment_id| {
            let inner = w1.upgrade()?;
            let items = inner
                .store
                .read_blocking(|c| shipwatch_store::timeline::checkpoint_items(c, shipment_id))
                .ok()?;
            items.into_iter().rev().find_map(|c| c.message.filter(|m| !m.trim().is_empty()))
        })),
        stop: Some(inner.stopping.subscribe()),
        held: Some(HeldKeeper { initial, save }),
    };
    let clock = Arc::new(NotifyClock(inner.desk.source.clone()));
    tokio::spawn(shipwatch_notify::run_sources(
        sources,
        notifications.notifier,
        move || w2.upgrade().map(|i| policy(&i.settings())).unwrap_or_default(),
        move |e| {
            if let Some(i) = w3.upgrade() {
                i.add_warning(e.warning().to_string());
            }
        },
        notifications.log,
        clock,
        notifications.runner,
    ))
}
