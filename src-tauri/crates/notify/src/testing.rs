//! Notifiers for tests: one that records what it was asked to show, one that always finds no
//! server, one that hangs.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use crate::notification::{Notification, NotificationId, Notifier, NotifyError};

/// Records every notification and answers ids 1, 2, 3...
#[derive(Debug, Default)]
pub struct RecordingNotifier {
    shown: Mutex<Vec<Notification>>,
}

impl RecordingNotifier {
    pub fn shown(&self) -> Vec<Notification> {
        self.shown.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

impl Notifier for RecordingNotifier {
    fn notify(&self, n: &Notification) -> Result<NotificationId, NotifyError> {
        let mut shown = self.shown.lock().unwrap_or_else(|e| e.into_inner());
        shown.push(n.clone());
        Ok(shown.len() as NotificationId)
    }
}

/// Fails like a session without a notification server.
#[derive(Debug, Default)]
pub struct FailingNotifier;

impl Notifier for FailingNotifier {
    fn notify(&self, _: &Notification) -> Result<NotificationId, NotifyError> {
        Err(NotifyError::NoServer(
            "org.freedesktop.Notifications was not provided by any .service files".into(),
        ))
    }
}

/// Blocks for a while on every call, like a server that never answers.
#[derive(Debug)]
pub struct HangingNotifier {
    delay: Duration,
    calls: AtomicU32,
}

impl HangingNotifier {
    pub fn new(delay: Duration) -> Self {
        HangingNotifier { delay, calls: AtomicU32::new(0) }
    }
    pub fn calls(&self) -> u32 {
        self.calls.load(Ordering::SeqCst)
    }
}

impl Notifier for HangingNotifier {
    fn notify(&self, _: &Notification) -> Result<NotificationId, NotifyError> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        std::thread::sleep(self.delay);
        Ok(0)
    }
}
