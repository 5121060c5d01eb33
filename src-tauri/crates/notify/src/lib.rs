//! Desktop notifications for Shipwatch, without any GUI or D-Bus dependency.
//!
//! The engine side decides *what* to notify; the desktop decides *how* (a [`Notifier`]).
//!
//! - [`notification`]: [`Notification`] (with its [`Urgency`]), the [`Notifier`] trait and [`NotifyError`].
//! - [`alert`]: what a notification is about ([`Kind`]) and the engine clock's [`Alert`]s.
//! - [`text`]: summary and body wording ("Delivered · USPS"), courier names.
//! - [`policy`]: which stored deliveries may notify ([`policy::eligibility`], [`policy::delivery_alerts`]),
//!   the chosen alerts, quiet hours, pause.
//! - [`coalesce`]: bursts within a short window become one summary notification.
//! - [`log`]: a bounded record of every notification sent, suppressed, skipped or failed.
//! - [`runner`]: the task that consumes the engine's stored deliveries and alerts off the ingest
//!   path, holds what pause and quiet hours hold for one summary, and calls the notifier with a
//!   time limit.
//! - [`testing`]: notifiers for tests (recording, failing, hanging).

pub mod alert;
pub mod coalesce;
pub mod log;
pub mod notification;
pub mod policy;
pub mod runner;
pub mod testing;
pub mod text;

pub use alert::{Alert, Kind};
pub use coalesce::{Batch, Candidate, CoalesceConfig, Coalescer};
pub use log::{LogEntry, NotificationLog, Outcome};
pub use notification::{Notification, NotificationId, Notifier, NotifyError, Urgency};
pub use policy::{
    delivery_alerts, eligibility, eligibility_with, Alerts, Eligibility, Policy, QuietWindow, SkipReason,
};
pub use runner::{
    run, run_sources, CheckpointLookup, Clock, HeldKeeper, HeldRecord, RunnerConfig, SaveHeld, Sources,
    SystemClock,
};
