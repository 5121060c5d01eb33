//! What a notification is, and the trait a desktop implements to show one.

use serde::{Deserialize, Serialize};

/// The id the notification server gave a shown notification (`org.freedesktop.Notifications`
/// answers a `u32`); notifiers that have none return 0.
pub type NotificationId = u32;

/// How insistent a notification is (the freedesktop `urgency` hint): critical for an exception or a
/// failed attempt (servers keep those on screen until dismissed).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Urgency {
    Low,
    #[default]
    Normal,
    Critical,
}

/// One notification to show.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Notification {
    /// One line, e.g. `Delivered · USPS` or `12 shipments updated: 9 delivered, 3 out for delivery`.
    pub summary: String,
    /// A few lines: the shipment title or order, tracking number, last location.
    pub body: String,
    /// The shipment to open when the user clicks it (none for a burst summary).
    pub shipment_id: Option<i64>,
    pub urgency: Urgency,
}

/// Why a notification could not be shown.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NotifyError {
    /// No session bus, or nothing owns `org.freedesktop.Notifications` on it.
    #[error("no notification server on the session bus: {0}")]
    NoServer(String),
    /// The server answered with an error.
    #[error("the notification server refused the notification: {0}")]
    Failed(String),
    /// The notifier did not answer within the time limit.
    #[error("the notification server did not answer within {0} ms")]
    TimedOut(u64),
}

impl NotifyError {
    /// The warning shown in the window's status bar for this kind of failure. The same kind always
    /// gives the same text (the engine shows one warning once).
    pub fn warning(&self) -> &'static str {
        match self {
            NotifyError::NoServer(_) => {
                "Notifications are not working: no notification server on the session bus (deliveries are still received and stored)"
            }
            NotifyError::Failed(_) => {
                "Notifications are not working: the notification server refused them (deliveries are still received and stored)"
            }
            NotifyError::TimedOut(_) => {
                "Notifications are not working: the notification server does not answer (deliveries are still received and stored)"
            }
        }
    }
}

/// Shows notifications. Called off the ingest path on a blocking thread, with a time limit, so an
/// implementation may block (e.g. a synchronous D-Bus call).
pub trait Notifier: Send + Sync + 'static {
    fn notify(&self, notification: &Notification) -> Result<NotificationId, NotifyError>;
}

impl<N: Notifier + ?Sized> Notifier for std::sync::Arc<N> {
    fn notify(&self, notification: &Notification) -> Result<NotificationId, NotifyError> {
        (**self).notify(notification)
    }
}
