//! The notification task: consumes the engine's stored deliveries (a broadcast channel, so ingest
//! never waits for it), decides with [`crate::policy`], coalesces with [`crate::coalesce`], and
//! calls the [`Notifier`] on a blocking thread with a time limit. A notifier that fails, hangs or
//! panics is recorded and reported through `on_failure`; it never stops the task.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use shipwatch_store::StoredDelivery;
use tokio::sync::{broadcast, mpsc, watch, Notify};

use crate::alert::{Alert, Kind};
use crate::coalesce::{summarise, Batch, Candidate, CoalesceConfig, Coalescer};
use crate::log::{LogEntry, NotificationLog, Outcome};
use crate::notification::{Notification, NotificationId, Notifier, NotifyError, Urgency};
use crate::policy::{delivery_alerts, eligibility, eligibility_with, Eligibility, Policy};
use crate::text;

/// Where the task reads time from (tests substitute local time for quiet hours).
pub trait Clock: Send + Sync + 'static {
    /// Monotonic now; the task sleeps on tokio's clock until these instants.
    fn now(&self) -> Instant {
        Instant::now()
    }
    /// Minutes since local midnight (0..1440).
    fn local_minute(&self) -> u16;
    /// RFC 3339 UTC for log entries.
    fn utc_rfc3339(&self) -> String {
        chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
    }
}

/// The machine's clock and time zone.
#[derive(Clone, Copy, Debug, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn local_minute(&self) -> u16 {
        use chrono::Timelike;
        let t = chrono::Local::now();
        (t.hour() * 60 + t.minute()) as u16
    }
}

/// Tuning of the task.
#[derive(Clone, Copy, Debug)]
pub struct RunnerConfig {
    pub coalesce: CoalesceConfig,
    /// Longest wait for the notifier to answer one notification.
    pub notify_timeout: Duration,
}

impl Default for RunnerConfig {
    fn default() -> Self {
        RunnerConfig { coalesce: CoalesceConfig::default(), notify_timeout: Duration::from_secs(5) }
    }
}

/// Looks up the courier's latest checkpoint message of a shipment (blocking: called on a blocking
/// thread), for the "why" of a notification.
pub type CheckpointLookup = Arc<dyn Fn(i64) -> Option<String> + Send + Sync>;

/// A held notification as kept across restarts (what pause or quiet hours held is shown when they
/// end, even after Shipwatch was quit in between).
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct HeldRecord {
    pub delivery_id: Option<i64>,
    pub shipment_id: i64,
    /// [`Kind::as_str`].
    pub kind: String,
    pub summary: String,
    pub body: String,
    pub urgency: Urgency,
    /// Held by pause (else by quiet hours).
    pub paused: bool,
}

/// Saves the held notifications (all of them, each time they change; empty once shown).
pub type SaveHeld = Arc<dyn Fn(Vec<HeldRecord>) -> Pin<Box<dyn Future<Output = ()> + Send>> + Send + Sync>;

/// Where held notifications live across restarts.
pub struct HeldKeeper {
    /// What the last run held.
    pub initial: Vec<HeldRecord>,
    pub save: SaveHeld,
}

/// What the task listens to besides the stored deliveries.
pub struct Sources {
    pub deliveries: broadcast::Receiver<Arc<StoredDelivery>>,
    /// The engine's clock: late and stuck shipments, the daily digest.
    pub alerts: Option<mpsc::UnboundedReceiver<Alert>>,
    /// Poked when the settings change and on every clock tick: what pause or quiet hours held is
    /// shown as soon as they end.
    pub wake: Option<Arc<Notify>>,
    pub checkpoint_message: Option<CheckpointLookup>,
    /// Ends the task (after showing what waits for its window) once it turns true, for an engine
    /// that owns the task and the deliveries' channel alike.
    pub stop: Option<watch::Receiver<bool>>,
    /// Keeps what is held across restarts.
    pub held: Option<HeldKeeper>,
}

impl Sources {
    /// Only the stored deliveries.
    pub fn deliveries(deliveries: broadcast::Receiver<Arc<StoredDelivery>>) -> Sources {
        Sources { deliveries, alerts: None, wake: None, checkpoint_message: None, stop: None, held: None }
    }
}

/// Runs until `events` closes (the engine stopped), then shows what is still waiting and returns.
/// Only the stored deliveries: see [`run_sources`] for the clock's alerts.
///
/// - `policy` is asked for the current settings at each delivery and again when a batch is shown
///   (so pausing during a burst holds it).
/// - `on_failure` is called on every notifier failure (e.g. to show a warning in the window).
pub async fn run<P, F>(
    events: broadcast::Receiver<Arc<StoredDelivery>>,
    notifier: Arc<dyn Notifier>,
    policy: P,
    on_failure: F,
    log: NotificationLog,
    clock: Arc<dyn Clock>,
    config: RunnerConfig,
) where
    P: Fn() -> Policy + Send + Sync + 'static,
    F: Fn(&NotifyError) + Send + Sync + 'static,
{
    run_sources(Sources::deliveries(events), notifier, policy, on_failure, log, clock, config).await
}

/// [`run`] with the clock's alerts, a wake-up and the checkpoint lookup. What pause or quiet hours
/// hold is kept and shown as one summary ("While paused: 1 exception, 3 delivered") at the first
/// delivery, alert or wake-up after they end.
pub async fn run_sources<P, F>(
    sources: Sources,
    notifier: Arc<dyn Notifier>,
    policy: P,
    on_failure: F,
    log: NotificationLog,
    clock: Arc<dyn Clock>,
    config: RunnerConfig,
) where
    P: Fn() -> Policy + Send + Sync + 'static,
    F: Fn(&NotifyError) + Send + Sync + 'static,
{
    let Sources { mut deliveries, mut alerts, wake, checkpoint_message, mut stop, held } = sources;
    let (initial, save_held) = match held {
        Some(k) => (k.initial, Some(k.save)),
        None => (Vec::new(), None),
    };
    let mut task = Task {
        notifier,
        on_failure: Box::new(on_failure),
        log,
        clock,
        config,
        coalescer: Coalescer::new(config.coalesce),
        busy: Arc::new(AtomicBool::new(false)),
        held_paused: initial.iter().any(|r| r.paused),
        held: initial.into_iter().map(from_record).collect(),
        held_dirty: false,
        save_held,
        checkpoint_message,
    };
    loop {
        let deadline = task.coalescer.deadline();
        let mut alerts_closed = false;
        tokio::select! {
            received = deliveries.recv() => match received {
                Ok(delivery) => task.consider(&delivery, &policy()).await,
                Err(broadcast::error::RecvError::Lagged(missed)) => {
                    tracing::warn!(missed, "notifications fell behind the deliveries");
                    task.record(LogEntry::new(
                        Outcome::Failed,
                        format!("fell behind: {missed} deliveries were not considered for notifications"),
                    ));
                }
                Err(broadcast::error::RecvError::Closed) => break,
            },
            alert = next_alert(&mut alerts) => match alert {
                Some(alert) => task.alert(alert, &policy()).await,
                None => alerts_closed = true,
            },
            () = woken(wake.as_deref()) => {}
            () = stopped(&mut stop) => break,
            () = sleep_until(deadline), if deadline.is_some() => {
                let now = task.clock.now();
                if let Some(batch) = task.coalescer.poll(now) {
                    task.show(batch, &policy()).await;
                }
            }
        }
        if alerts_closed {
            alerts = None;
        }
        task.release_held(&policy()).await;
        task.save_held().await;
    }
    if let Some(batch) = task.coalescer.take() {
        task.show(batch, &policy()).await;
    }
    task.save_held().await;
    if !task.held.is_empty() {
        tracing::info!(
            held = task.held.len(),
            "notifications still held when the engine stopped (kept for the next start)"
        );
    }
    tracing::debug!("notification task stopped");
}

async fn next_alert(alerts: &mut Option<mpsc::UnboundedReceiver<Alert>>) -> Option<Alert> {
    match alerts {
        Some(rx) => rx.recv().await,
        None => std::future::pending().await,
    }
}

async fn stopped(stop: &mut Option<watch::Receiver<bool>>) {
    match stop {
        Some(rx) => {
            if rx.wait_for(|s| *s).await.is_err() {
                // The sender is gone: the engine is gone too.
            }
        }
        None => std::future::pending().await,
    }
}

async fn woken(wake: Option<&Notify>) {
    match wake {
        Some(n) => n.notified().await,
        None => std::future::pending().await,
    }
}

async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(d) => tokio::time::sleep_until(tokio::time::Instant::from_std(d)).await,
        None => std::future::pending().await,
    }
}

/// Held notifications kept for the summary (more are counted in the log only).
const MAX_HELD: usize = 1000;

struct Task {
    notifier: Arc<dyn Notifier>,
    on_failure: Box<dyn Fn(&NotifyError) + Send + Sync>,
    log: NotificationLog,
    clock: Arc<dyn Clock>,
    config: RunnerConfig,
    coalescer: Coalescer,
    /// A notify call is still running (e.g. hung past its time limit): don't start another.
    busy: Arc<AtomicBool>,
    /// What pause or quiet hours held, oldest first, for one summary when they end.
    held: Vec<Candidate>,
    /// Something was held by pause (not only quiet hours): the summary says "While paused".
    held_paused: bool,
    /// `held` changed since it was last saved.
    held_dirty: bool,
    save_held: Option<SaveHeld>,
    checkpoint_message: Option<CheckpointLookup>,
}

impl Task {
    fn record(&self, mut entry: LogEntry) {
        entry.at = self.clock.utc_rfc3339();
        self.log.push(entry);
    }

    async fn consider(&mut self, delivery: &StoredDelivery, policy: &Policy) {
        match eligibility(delivery, policy) {
            Eligibility::Ignore => {}
            Eligibility::Skip { tag, reason } => {
                let mut e = LogEntry::new(Outcome::Skipped, reason.to_string());
                e.delivery_ids = vec![delivery.id];
                e.shipment_id =
                    delivery.shipment.as_ref().map(|s| s.shipment_id).or(delivery.item.shipment_id);
                e.tag = Some(tag.as_str().to_string());
                self.record(e);
            }
            Eligibility::Notify(candidate) => {
                let message = match &self.checkpoint_message {
                    Some(lookup) => {
                        let (lookup, id) = (lookup.clone(), candidate.shipment_id);
                        tokio::task::spawn_blocking(move || lookup(id)).await.ok().flatten()
                    }
                    None => None,
                };
                let candidate = match message {
                    Some(m) => match eligibility_with(delivery, policy, Some(&m)) {
                        Eligibility::Notify(c) => c,
                        _ => candidate,
                    },
                    None => candidate,
                };
                self.offer(candidate, policy);
            }
        }
        for candidate in delivery_alerts(delivery, policy) {
            self.offer(candidate, policy);
        }
    }

    async fn alert(&mut self, alert: Alert, policy: &Policy) {
        match alert {
            Alert::Attention { shipment, attention } => {
                let candidate = Candidate {
                    delivery_id: None,
                    shipment_id: shipment.id,
                    kind: Kind::of_attention(attention.kind),
                    notification: text::attention_notification(&shipment, &attention),
                };
                self.offer(candidate, policy);
            }
            Alert::Digest { attention, delivered_yesterday } => {
                let n = text::digest(attention, delivered_yesterday);
                let mut e = match policy.hold_reason(self.clock.local_minute()) {
                    Some(reason) => LogEntry::new(Outcome::Suppressed, format!("{reason}: no digest today")),
                    None => match self.send(&n).await {
                        Ok(id) => {
                            let mut e = LogEntry::new(Outcome::Sent, "daily digest");
                            e.notification_id = Some(id);
                            e
                        }
                        Err(err) => LogEntry::new(Outcome::Failed, err.to_string()),
                    },
                };
                e.tag = Some("digest".into());
                e.summary = Some(n.summary);
                e.body = Some(n.body);
                self.record(e);
            }
        }
    }

    /// Shows `candidate` after its window, or holds it while pause or quiet hours hold.
    fn offer(&mut self, candidate: Candidate, policy: &Policy) {
        match policy.hold_reason(self.clock.local_minute()) {
            Some(reason) => self.hold(candidate, reason, policy.paused),
            None => self.coalescer.push(candidate, self.clock.now()),
        }
    }

    fn hold(&mut self, candidate: Candidate, reason: String, paused: bool) {
        let kept = self.held.len() < MAX_HELD;
        let why = if kept {
            format!("{reason}: held for one summary when they end")
        } else {
            format!("{reason}: more than {MAX_HELD} held, left out of the summary")
        };
        self.record(candidate_entry(&candidate, Outcome::Suppressed, why));
        if kept {
            self.held_paused |= paused;
            self.held.push(candidate);
            self.held_dirty = true;
        }
    }

    async fn save_held(&mut self) {
        if !std::mem::take(&mut self.held_dirty) {
            return;
        }
        if let Some(save) = &self.save_held {
            let paused = self.held_paused;
            save(self.held.iter().map(|c| to_record(c, paused)).collect()).await;
        }
    }

    /// Once nothing holds them any more, what was held is shown as one summary.
    async fn release_held(&mut self, policy: &Policy) {
        if self.held.is_empty() || policy.hold_reason(self.clock.local_minute()).is_some() {
            return;
        }
        let members = std::mem::take(&mut self.held);
        let paused = std::mem::replace(&mut self.held_paused, false);
        self.held_dirty = true;
        let notification = summarise(&members, |_, counts| text::held_summary(paused, counts));
        let held = if paused { "held while paused" } else { "held during quiet hours" };
        let (outcome, reason, id) = match self.send(&notification).await {
            Ok(id) => (Outcome::Sent, format!("{} {held}, shown as one summary", members.len()), Some(id)),
            Err(err) => (Outcome::Failed, format!("{err}; {} {held}", members.len()), None),
        };
        let mut e = LogEntry::new(outcome, reason);
        e.delivery_ids = members.iter().filter_map(|c| c.delivery_id).collect();
        e.shipment_id = notification.shipment_id;
        e.summary = Some(notification.summary);
        e.body = Some(notification.body);
        e.notification_id = id;
        self.record(e);
    }

    async fn show(&mut self, batch: Batch, policy: &Policy) {
        let hold = policy.hold_reason(self.clock.local_minute());
        match batch {
            Batch::Each(candidates) => {
                for c in candidates {
                    if let Some(reason) = &hold {
                        self.hold(c, reason.clone(), policy.paused);
                        continue;
                    }
                    let result = self.send(&c.notification).await;
                    let mut e = match &result {
                        Ok(_) => candidate_entry(&c, Outcome::Sent, "shown"),
                        Err(err) => candidate_entry(&c, Outcome::Failed, err.to_string()),
                    };
                    e.notification_id = result.ok();
                    self.record(e);
                }
            }
            Batch::Summary { notification, members } => {
                if let Some(reason) = &hold {
                    for c in members {
                        self.hold(c, reason.clone(), policy.paused);
                    }
                    return;
                }
                let burst = format!(
                    "{} notifications within {} ms shown as one summary",
                    members.len(),
                    self.config.coalesce.window.as_millis()
                );
                let (outcome, reason, id) = match self.send(&notification).await {
                    Ok(id) => (Outcome::Sent, burst, Some(id)),
                    Err(err) => (Outcome::Failed, format!("{err}; {burst}"), None),
                };
                let mut e = LogEntry::new(outcome, reason);
                e.delivery_ids = members.iter().filter_map(|c| c.delivery_id).collect();
                e.summary = Some(notification.summary);
                e.body = Some(notification.body);
                e.notification_id = id;
                self.record(e);
            }
        }
    }

    /// Calls the notifier on a blocking thread, bounded by the time limit.
    async fn send(&self, notification: &Notification) -> Result<NotificationId, NotifyError> {
        let timeout = self.config.notify_timeout;
        let result = if self.busy.swap(true, Ordering::AcqRel) {
            Err(NotifyError::TimedOut(timeout.as_millis() as u64))
        } else {
            let notifier = self.notifier.clone();
            let busy = self.busy.clone();
            let n = notification.clone();
            let call = tokio::task::spawn_blocking(move || {
                let r = notifier.notify(&n);
                busy.store(false, Ordering::Release);
                r
            });
            match tokio::time::timeout(timeout, call).await {
                Ok(Ok(r)) => r,
                Ok(Err(join)) => {
                    self.busy.store(false, Ordering::Release);
                    Err(NotifyError::Failed(format!("the notifier crashed: {join}")))
                }
                Err(_) => Err(NotifyError::TimedOut(timeout.as_millis() as u64)),
            }
        };
        if let Err(err) = &result {
            tracing::warn!(error = %err, "cannot show a notification");
            (self.on_failure)(err);
        }
        result
    }
}

fn to_record(c: &Candidate, paused: bool) -> HeldRecord {
    HeldRecord {
        delivery_id: c.delivery_id,
        shipment_id: c.shipment_id,
        kind: c.kind.as_str().to_string(),
        summary: c.notification.summary.clone(),
        body: c.notification.body.clone(),
        urgency: c.notification.urgency,
        paused,
    }
}

fn from_record(r: HeldRecord) -> Candidate {
    Candidate {
        delivery_id: r.delivery_id,
        shipment_id: r.shipment_id,
        kind: Kind::parse(&r.kind),
        notification: Notification {
            summary: r.summary,
            body: r.body,
            shipment_id: Some(r.shipment_id),
            urgency: r.urgency,
        },
    }
}

fn candidate_entry(c: &Candidate, outcome: Outcome, reason: impl Into<String>) -> LogEntry {
    let mut e = LogEntry::new(outcome, reason);
    e.delivery_ids = c.delivery_id.into_iter().collect();
    e.shipment_id = Some(c.shipment_id);
    e.tag = Some(c.kind.as_str().to_string());
    e.summary = Some(c.notification.summary.clone());
    e.body = Some(c.notification.body.clone());
    e
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::tests::delivery;
    use crate::testing::{FailingNotifier, HangingNotifier, RecordingNotifier};
    use shipwatch_api::QuietHours;
    use std::sync::atomic::AtomicU16;
    use std::sync::Mutex;

    struct TestClock {
        minute: AtomicU16,
    }
    impl Clock for TestClock {
        fn local_minute(&self) -> u16 {
            self.minute.load(Ordering::Relaxed)
        }
    }

    struct Harness {
        tx: broadcast::Sender<Arc<StoredDelivery>>,
        alerts: mpsc::UnboundedSender<Alert>,
        wake: Arc<Notify>,
        log: NotificationLog,
        policy: Arc<Mutex<Policy>>,
        clock: Arc<TestClock>,
        warnings: Arc<Mutex<Vec<String>>>,
        task: tokio::task::JoinHandle<()>,
    }

    fn start(notifier: Arc<dyn Notifier>, window_ms: u64, timeout_ms: u64) -> Harness {
        let (tx, rx) = broadcast::channel(64);
        let log = NotificationLog::default();
        let policy = Arc::new(Mutex::new(Policy::default()));
        let clock = Arc::new(TestClock { minute: AtomicU16::new(12 * 60) });
        let warnings = Arc::new(Mutex::new(Vec::new()));
        let config = RunnerConfig {
            coalesce: CoalesceConfig { window: Duration::from_millis(window_ms), max_individual: 3 },
            notify_timeout: Duration::from_millis(timeout_ms),
        };
        let (p, w) = (policy.clone(), warnings.clone());
        let (alerts, alerts_rx) = mpsc::unbounded_channel();
        let wake = Arc::new(Notify::new());
        let sources = Sources {
            deliveries: rx,
            alerts: Some(alerts_rx),
            wake: Some(wake.clone()),
            checkpoint_message: Some(Arc::new(|id| Some(format!("Courier note for shipment {id}")))),
            stop: None,
            held: None,
        };
        let task = tokio::spawn(run_sources(
            sources,
            notifier,
            move || p.lock().unwrap().clone(),
            move |e: &NotifyError| w.lock().unwrap().push(e.warning().to_string()),
            log.clone(),
            clock.clone(),
            config,
        ));
        Harness { tx, alerts, wake, log, policy, clock, warnings, task }
    }

    impl Harness {
        fn send(&self, d: StoredDelivery) {
            self.tx.send(Arc::new(d)).unwrap();
        }
        async fn stop(self) -> (NotificationLog, Vec<String>) {
            drop(self.tx);
            tokio::time::timeout(Duration::from_secs(10), self.task).await.unwrap().unwrap();
            (self.log, self.warnings.lock().unwrap().clone())
        }
    }

    async fn wait_for(log: &NotificationLog, n: usize) {
        for _ in 0..200 {
            if log.len() >= n {
                return;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!("expected {n} log entries, have {:?}", log.entries());
    }

    #[tokio::test]
    async fn one_valid_delivery_one_notification_retry_and_spoof_none() {
        let notifier = Arc::new(RecordingNotifier::default());
        let h = start(notifier.clone(), 50, 1000);
        h.send(delivery(1, 1, "Delivered"));
        let mut retry = delivery(2, 1, "Delivered");
        retry.duplicate_of = Some(1);
        h.send(retry);
        let mut spoof = delivery(3, 2, "Delivered");
        spoof.verdict =
            shipwatch_store::StoredVerdict::Signature(shipwatch_aftership::DeliveryVerdict::Missing);
        spoof.shipment = None;
        h.send(spoof);
        h.send(delivery(4, 3, "InTransit")); // not a chosen tag: not even recorded
        wait_for(&h.log, 3).await;
        tokio::time::sleep(Duration::from_millis(100)).await;
        let (log, warnings) = h.stop().await;
        let shown = notifier.shown();
        assert_eq!(shown.len(), 1, "{shown:?}");
        assert_eq!(shown[0].summary, "Delivered · USPS");
        assert!(shown[0].body.contains("TN0001"));
        let outcomes: Vec<(Outcome, Vec<i64>)> =
            log.entries().into_iter().map(|e| (e.outcome, e.delivery_ids)).collect();
        assert_eq!(
            outcomes,
            [(Outcome::Skipped, vec![2]), (Outcome::Skipped, vec![3]), (Outcome::Sent, vec![1])]
        );
        assert_eq!(log.entries()[2].notification_id, Some(1));
        assert!(warnings.is_empty());
    }

    #[tokio::test]
    async fn a_burst_is_one_summary() {
        let notifier = Arc::new(RecordingNotifier::default());
        let h = start(notifier.clone(), 200, 1000);
        for i in 0..9 {
            h.send(delivery(i, i, "Delivered"));
        }
        for i in 9..12 {
            h.send(delivery(i, i, "OutForDelivery"));
        }
        wait_for(&h.log, 1).await;
        let (log, _) = h.stop().await;
        let shown = notifier.shown();
        assert_eq!(shown.len(), 1);
        assert_eq!(shown[0].summary, "12 shipments updated: 9 delivered, 3 out for delivery");
        assert_eq!(log.entries()[0].delivery_ids.len(), 12);
    }

    #[tokio::test]
    async fn quiet_hours_and_pause_hold_but_record() {
        let notifier = Arc::new(RecordingNotifier::default());
        let h = start(notifier.clone(), 30, 1000);
        h.policy.lock().unwrap().quiet_hours =
            crate::policy::QuietWindow::parse(&QuietHours { start: "22:00".into(), end: "07:00".into() });
        h.clock.minute.store(23 * 60, Ordering::Relaxed);
        h.send(delivery(1, 1, "Delivered"));
        wait_for(&h.log, 1).await;
        h.clock.minute.store(12 * 60, Ordering::Relaxed);
        h.policy.lock().unwrap().paused = true;
        h.send(delivery(2, 2, "Exception"));
        wait_for(&h.log, 2).await;
        h.policy.lock().unwrap().paused = false;
        h.send(delivery(3, 3, "AttemptFail"));
        wait_for(&h.log, 3).await;
        wait_for(&h.log, 4).await;
        let (log, _) = h.stop().await;
        let e = log.entries();
        assert_eq!(
            (e[0].outcome, e[0].reason.as_str()),
            (Outcome::Suppressed, "quiet hours (22:00–07:00): held for one summary when they end")
        );
        assert_eq!(
            (e[1].outcome, e[1].reason.as_str()),
            (Outcome::Suppressed, "notifications are paused: held for one summary when they end")
        );
        // Resuming shows what was held as one summary, exceptions first, then the new one.
        assert_eq!((e[2].outcome, e[2].delivery_ids.clone()), (Outcome::Sent, vec![1, 2]));
        assert_eq!(e[3].outcome, Outcome::Sent);
        let shown = notifier.shown();
        assert_eq!(shown.len(), 2, "{shown:?}");
        assert_eq!(shown[0].summary, "While paused: 1 exception, 1 delivered");
        assert!(shown[0].body.starts_with("Exception · USPS"), "{}", shown[0].body);
        assert_eq!(shown[0].urgency, crate::Urgency::Critical);
        assert_eq!(shown[1].summary, "Failed attempt · USPS");
    }

    #[tokio::test]
    async fn what_pause_held_is_one_summary_when_it_ends_without_any_new_delivery() {
        let notifier = Arc::new(RecordingNotifier::default());
        let h = start(notifier.clone(), 30, 1000);
        h.policy.lock().unwrap().paused = true;
        for i in 1..=3 {
            h.send(delivery(i, i, "Delivered"));
        }
        h.send(delivery(4, 4, "Exception"));
        h.alerts
            .send(Alert::Attention {
                shipment: Box::new(shipwatch_api::ShipmentItem {
                    id: 9,
                    slug: Some("ups".into()),
                    tracking_number: Some("1Z9".into()),
                    ..Default::default()
                }),
                attention: shipwatch_api::Attention {
                    kind: shipwatch_api::AttentionKind::Late,
                    reason: "2 days late (due Dec 3)".into(),
                    days: Some(2),
                    since: None,
                },
            })
            .unwrap();
        wait_for(&h.log, 5).await;
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert!(notifier.shown().is_empty(), "nothing is shown while paused");
        assert!(h.log.entries().iter().all(|e| e.outcome == Outcome::Suppressed));
        h.policy.lock().unwrap().paused = false;
        h.wake.notify_one();
        wait_for(&h.log, 6).await;
        let (log, _) = h.stop().await;
        let shown = notifier.shown();
        assert_eq!(shown.len(), 1, "{shown:?}");
        assert_eq!(shown[0].summary, "While paused: 1 exception, 1 late, 3 delivered");
        let lines: Vec<&str> = shown[0].body.lines().collect();
        assert!(lines[0].starts_with("Exception · USPS — "), "{lines:?}");
        assert_eq!(lines[1], "Late · UPS — 2 days late (due Dec 3)");
        assert_eq!(lines.last(), Some(&"and 1 more"));
        assert_eq!(log.entries()[5].delivery_ids, vec![1, 2, 3, 4]);
    }

    #[tokio::test]
    async fn the_courier_message_and_the_digest() {
        let notifier = Arc::new(RecordingNotifier::default());
        let h = start(notifier.clone(), 30, 1000);
        h.send(delivery(1, 5, "Exception"));
        wait_for(&h.log, 1).await;
        h.alerts.send(Alert::Digest { attention: 3, delivered_yesterday: 12 }).unwrap();
        wait_for(&h.log, 2).await;
        let (_, _) = h.stop().await;
        let shown = notifier.shown();
        assert_eq!(shown[0].body.lines().next(), Some("Courier: Courier note for shipment 5"));
        assert_eq!(shown[1].summary, "3 need attention, 12 delivered yesterday");
    }

    #[tokio::test]
    async fn pausing_during_the_window_holds_the_batch() {
        let notifier = Arc::new(RecordingNotifier::default());
        let h = start(notifier.clone(), 150, 1000);
        h.send(delivery(1, 1, "Delivered"));
        tokio::time::sleep(Duration::from_millis(20)).await;
        h.policy.lock().unwrap().paused = true;
        wait_for(&h.log, 1).await;
        let (log, _) = h.stop().await;
        assert_eq!(log.entries()[0].outcome, Outcome::Suppressed);
        assert!(notifier.shown().is_empty());
    }

    #[tokio::test]
    async fn no_server_is_recorded_warned_and_the_task_goes_on() {
        let h = start(Arc::new(FailingNotifier), 20, 1000);
        h.send(delivery(1, 1, "Delivered"));
        wait_for(&h.log, 1).await;
        h.send(delivery(2, 2, "Delivered"));
        wait_for(&h.log, 2).await;
        let (log, warnings) = h.stop().await;
        assert!(log.entries().iter().all(|e| e.outcome == Outcome::Failed));
        assert!(log.entries()[0].reason.contains("no notification server"), "{:?}", log.entries()[0]);
        assert_eq!(warnings.len(), 2);
        assert!(warnings[0].starts_with("Notifications are not working: no notification server"));
    }

    #[tokio::test]
    async fn a_hanging_server_times_out_and_is_not_called_again_while_hung() {
        let notifier = Arc::new(HangingNotifier::new(Duration::from_millis(600)));
        let h = start(notifier.clone(), 10, 100);
        h.send(delivery(1, 1, "Delivered"));
        wait_for(&h.log, 1).await;
        h.send(delivery(2, 2, "Delivered"));
        wait_for(&h.log, 2).await;
        let (log, warnings) = h.stop().await;
        let e = log.entries();
        assert!(e.iter().all(|e| e.outcome == Outcome::Failed), "{e:?}");
        assert!(e[0].reason.contains("did not answer"));
        assert_eq!(notifier.calls(), 1, "the second one must not pile up behind a hung call");
        assert!(warnings[0].contains("does not answer"));
    }

    #[tokio::test]
    async fn pending_batch_is_shown_when_the_engine_stops() {
        let notifier = Arc::new(RecordingNotifier::default());
        let h = start(notifier.clone(), 60_000, 1000);
        h.send(delivery(1, 1, "Delivered"));
        tokio::time::sleep(Duration::from_millis(20)).await;
        let (log, _) = h.stop().await;
        assert_eq!(notifier.shown().len(), 1);
        assert_eq!(log.entries()[0].outcome, Outcome::Sent);
    }
}
