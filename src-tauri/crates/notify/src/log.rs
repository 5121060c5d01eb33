//! The record of every notification decision: sent, held (quiet hours, pause), skipped (not a
//! valid first-time tag) or failed, each with its reason. Kept in memory, bounded (oldest dropped
//! first); cheap to clone and share with whoever shows or persists it.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use serde::Serialize;

use crate::notification::NotificationId;

/// Entries kept by [`NotificationLog::default`].
pub const DEFAULT_CAPACITY: usize = 500;

/// What happened to a (would-be) notification.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Shown by the notification server.
    Sent,
    /// Would have been shown, but quiet hours or pause held it.
    Suppressed,
    /// A delivery about a chosen tag that must not notify (invalid signature, retry, stale, seen).
    Skipped,
    /// The notifier failed or timed out.
    Failed,
}

/// One decision. Serialises as JSON for the UI: `{seq, at, outcome, reason, delivery_ids,
/// shipment_id, tag, summary, body, notification_id}`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct LogEntry {
    /// Increases by one per entry, from 1.
    pub seq: u64,
    /// RFC 3339, UTC.
    pub at: String,
    pub outcome: Outcome,
    /// Why, in words ("quiet hours (22:00–07:00)", "retry of delivery 12", "shown", ...).
    pub reason: String,
    /// The deliveries this is about (several for a burst summary).
    pub delivery_ids: Vec<i64>,
    pub shipment_id: Option<i64>,
    pub tag: Option<String>,
    pub summary: Option<String>,
    pub body: Option<String>,
    /// The server's id, when shown.
    pub notification_id: Option<NotificationId>,
}

impl LogEntry {
    /// An entry with only its outcome and reason set (fill in the rest, then [`NotificationLog::push`]).
    pub fn new(outcome: Outcome, reason: impl Into<String>) -> LogEntry {
        LogEntry {
            seq: 0,
            at: String::new(),
            outcome,
            reason: reason.into(),
            delivery_ids: Vec::new(),
            shipment_id: None,
            tag: None,
            summary: None,
            body: None,
            notification_id: None,
        }
    }
}

#[derive(Debug)]
struct Inner {
    capacity: usize,
    next_seq: u64,
    entries: VecDeque<LogEntry>,
}

/// A bounded, shared, in-memory log of [`LogEntry`]s.
#[derive(Clone, Debug)]
pub struct NotificationLog {
    inner: Arc<Mutex<Inner>>,
}

impl Default for NotificationLog {
    fn default() -> Self {
        Self::with_capacity(DEFAULT_CAPACITY)
    }
}

impl NotificationLog {
    pub fn with_capacity(capacity: usize) -> Self {
        let capacity = capacity.max(1);
        NotificationLog {
            inner: Arc::new(Mutex::new(Inner {
                capacity,
                next_seq: 1,
                entries: VecDeque::with_capacity(capacity.min(64)),
            })),
        }
    }

    /// Appends an entry (its `seq` is assigned here) and returns that `seq`. Also traced.
    pub fn push(&self, mut entry: LogEntry) -> u64 {
        let mut inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        entry.seq = inner.next_seq;
        inner.next_seq += 1;
        tracing::info!(
            target: "shipwatch_notify",
            outcome = ?entry.outcome,
            reason = %entry.reason,
            deliveries = ?entry.delivery_ids,
            shipment = ?entry.shipment_id,
            summary = entry.summary.as_deref().unwrap_or(""),
            "notification"
        );
        if inner.entries.len() == inner.capacity {
            inner.entries.pop_front();
        }
        let seq = entry.seq;
        inner.entries.push_back(entry);
        seq
    }

    /// Every kept entry, oldest first.
    pub fn entries(&self) -> Vec<LogEntry> {
        let inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        inner.entries.iter().cloned().collect()
    }

    /// Kept entries with `seq > after`, oldest first (for polling or persisting incrementally).
    pub fn since(&self, after: u64) -> Vec<LogEntry> {
        let inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        inner.entries.iter().filter(|e| e.seq > after).cloned().collect()
    }

    pub fn len(&self) -> usize {
        self.inner.lock().unwrap_or_else(|e| e.into_inner()).entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounded_oldest_dropped_seq_keeps_counting() {
        let log = NotificationLog::with_capacity(3);
        for i in 0..5 {
            let seq = log.push(LogEntry::new(Outcome::Sent, format!("n{i}")));
            assert_eq!(seq, i + 1);
        }
        let entries = log.entries();
        assert_eq!(entries.len(), 3);
        assert_eq!(entries.iter().map(|e| e.seq).collect::<Vec<_>>(), [3, 4, 5]);
        assert_eq!(log.since(4).len(), 1);
        assert_eq!(log.since(0).len(), 3);
    }

    #[test]
    fn serialises_for_the_ui() {
        let log = NotificationLog::default();
        let mut e = LogEntry::new(Outcome::Suppressed, "notifications are paused");
        e.delivery_ids = vec![4];
        log.push(e);
        let json = serde_json::to_value(&log.entries()[0]).unwrap();
        assert_eq!(json["outcome"], "suppressed");
        assert_eq!(json["reason"], "notifications are paused");
        assert_eq!(json["delivery_ids"], serde_json::json!([4]));
        assert_eq!(json["seq"], 1);
    }
}
