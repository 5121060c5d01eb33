//! Desktop notifications for Shipwatch, without any GUI or D-Bus dependency.
//!
//! The engine side decides *what* to notify; the desktop decides *how* (a [`Notifier`]).
//!
//! - [`notification`]: [`Notification`], the [`Notifier`] trait and [`NotifyError`].
//! - [`text`]: summary and body wording ("Delivered · USPS"), courier names.
//! - [`policy`]: which stored deliveries may notify ([`policy::eligibility`]), quiet hours, pause.
//! - [`coalesce`]: bursts within a short window become one summary notification.
//! - [`log`]: a bounded record of every notification sent, suppressed, skipped or failed.
//! - [`runner`]: the task that consumes the engine's stored deliveries off the ingest path and
//!   calls the notifier with a time limit.
//! - [`testing`]: notifiers for tests (recording, failing, hanging).

pub mod coalesce;
pub mod log;
pub mod notification;
pub mod policy;
pub mod runner;
pub mod testing;
pub mod text;

pub use coalesce::{Batch, Candidate, CoalesceConfig, Coalescer};
pub use log::{LogEntry, NotificationLog, Outcome};
pub use notification::{Notification, NotificationId, Notifier, NotifyError};
pub use policy::{eligibility, Eligibility, Policy, QuietWindow, SkipReason};
pub use runner::{run, Clock, RunnerConfig, SystemClock};
