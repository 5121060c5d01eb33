//! Burst coalescing: notifications that arrive within a short window are held until the window
//! closes; then up to `max_individual` are shown one by one, more become one summary
//! ("12 shipments updated: 1 exception, 9 delivered, 2 out for delivery": what needs the merchant
//! first). The window opens with the first notification and does not slide, so nothing waits
//! longer than `window`. [`summarise`] also writes the one summary of what pause or quiet hours held.
//!
//! Time is passed in, never read, so tests control it.

use std::time::{Duration, Instant};

use crate::alert::Kind;
use crate::notification::{Notification, Urgency};
use crate::text;

/// How bursts are detected.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CoalesceConfig {
    /// How long after the first notification the batch is decided.
    pub window: Duration,
    /// A batch of at most this many is shown one by one; more become one summary.
    pub max_individual: usize,
}

impl Default for CoalesceConfig {
    fn default() -> Self {
        CoalesceConfig { window: Duration::from_secs(2), max_individual: 3 }
    }
}

/// A notification that a delivery (or the clock) earned, waiting for its window to close.
#[derive(Clone, Debug, PartialEq)]
pub struct Candidate {
    /// The delivery that earned it; none for the clock's alerts.
    pub delivery_id: Option<i64>,
    pub shipment_id: i64,
    pub kind: Kind,
    pub notification: Notification,
}

/// What to show when a window closes.
#[derive(Clone, Debug, PartialEq)]
pub enum Batch {
    /// Show each.
    Each(Vec<Candidate>),
    /// Show one summary instead of all the members.
    Summary { notification: Notification, members: Vec<Candidate> },
}

/// Collects candidates and decides, when their window closes, how to show them.
#[derive(Debug, Default)]
pub struct Coalescer {
    config: CoalesceConfig,
    pending: Vec<Candidate>,
    deadline: Option<Instant>,
}

impl Coalescer {
    pub fn new(config: CoalesceConfig) -> Self {
        Coalescer { config, pending: Vec::new(), deadline: None }
    }

    /// Adds a candidate; the first one of a batch opens the window.
    pub fn push(&mut self, candidate: Candidate, now: Instant) {
        if self.pending.is_empty() {
            self.deadline = Some(now + self.config.window);
        }
        self.pending.push(candidate);
    }

    /// When the open window closes, if one is open.
    pub fn deadline(&self) -> Option<Instant> {
        self.deadline
    }

    pub fn pending(&self) -> usize {
        self.pending.len()
    }

    /// The batch, if its window has closed by `now`.
    pub fn poll(&mut self, now: Instant) -> Option<Batch> {
        match self.deadline {
            Some(d) if now >= d => self.take(),
            _ => None,
        }
    }

    /// The batch now, whatever the window (e.g. on shutdown).
    pub fn take(&mut self) -> Option<Batch> {
        self.deadline = None;
        if self.pending.is_empty() {
            return None;
        }
        let members = std::mem::take(&mut self.pending);
        if members.len() <= self.config.max_individual {
            return Some(Batch::Each(members));
        }
        let notification = summarise(&members, text::burst_summary);
        Some(Batch::Summary { notification, members })
    }
}

/// One notification for many: shipments counted once each, by the newest kind they reached; what
/// needs the merchant (exceptions first) is counted and listed first. `title` writes the summary
/// line from the number of shipments and the ordered counts. Critical when any member is.
pub fn summarise(members: &[Candidate], title: impl Fn(usize, &[(Kind, usize)]) -> String) -> Notification {
    // Newest candidate per shipment, in order of first appearance.
    let mut latest: Vec<&Candidate> = Vec::new();
    for c in members {
        match latest.iter_mut().find(|l| l.shipment_id == c.shipment_id) {
            Some(slot) => *slot = c,
            None => latest.push(c),
        }
    }
    let mut counts: Vec<(Kind, usize)> = Vec::new();
    for c in &latest {
        match counts.iter_mut().find(|(k, _)| *k == c.kind) {
            Some((_, n)) => *n += 1,
            None => counts.push((c.kind.clone(), 1)),
        }
    }
    text::order_counts(&mut counts);
    // Listed: what needs the merchant first, then in order of arrival.
    latest.sort_by_key(|c| c.kind.urgency_rank().unwrap_or(u8::MAX));

    const LISTED: usize = 4;
    let mut lines: Vec<String> = latest
        .iter()
        .take(LISTED)
        .map(|c| {
            let first = c.notification.body.lines().next().unwrap_or_default();
            if first.is_empty() {
                c.notification.summary.clone()
            } else {
                format!("{} — {first}", c.notification.summary)
            }
        })
        .collect();
    if latest.len() > LISTED {
        lines.push(format!("and {} more", latest.len() - LISTED));
    }
    let urgency = members.iter().map(|c| c.notification.urgency).max().unwrap_or(Urgency::Normal);
    let single = latest.len() == 1;
    Notification {
        summary: title(latest.len(), &counts),
        body: lines.join("\n"),
        shipment_id: if single { Some(latest[0].shipment_id) } else { None },
        urgency,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use shipwatch_aftership::Tag;

    fn cand(delivery_id: i64, shipment_id: i64, tag: Tag) -> Candidate {
        let kind = Kind::Tag(tag.clone());
        Candidate {
            delivery_id: Some(delivery_id),
            shipment_id,
            notification: Notification {
                summary: text::summary(&tag, Some("usps")),
                body: format!("Order #{shipment_id}\nTracking TN{shipment_id}"),
                shipment_id: Some(shipment_id),
                urgency: text::urgency(&kind),
            },
            kind,
        }
    }

    #[test]
    fn a_single_notification_waits_for_the_window_then_is_shown_alone() {
        let t0 = Instant::now();
        let mut c = Coalescer::new(CoalesceConfig::default());
        assert_eq!(c.deadline(), None);
        c.push(cand(1, 1, Tag::Delivered), t0);
        assert_eq!(c.deadline(), Some(t0 + Duration::from_secs(2)));
        assert_eq!(c.poll(t0 + Duration::from_millis(1999)), None);
        let batch = c.poll(t0 + Duration::from_secs(2)).unwrap();
        assert_eq!(batch, Batch::Each(vec![cand(1, 1, Tag::Delivered)]));
        assert_eq!(c.deadline(), None);
        assert_eq!(c.poll(t0 + Duration::from_secs(10)), None);
    }

    #[test]
    fn up_to_three_in_a_window_are_shown_one_by_one() {
        let t0 = Instant::now();
        let mut c = Coalescer::new(CoalesceConfig::default());
        for i in 0..3 {
            c.push(cand(i, i, Tag::Delivered), t0 + Duration::from_millis(500 * i as u64));
        }
        match c.poll(t0 + Duration::from_secs(2)).unwrap() {
            Batch::Each(v) => assert_eq!(v.len(), 3),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_burst_becomes_one_summary() {
        let t0 = Instant::now();
        let mut c = Coalescer::new(CoalesceConfig::default());
        for i in 0..9 {
            c.push(cand(i, i, Tag::Delivered), t0 + Duration::from_millis(100 * i as u64));
        }
        for i in 9..12 {
            c.push(cand(i, i, Tag::OutForDelivery), t0 + Duration::from_millis(100 * i as u64));
        }
        let Some(Batch::Summary { notification, members }) = c.poll(t0 + Duration::from_secs(2)) else {
            panic!("expected a summary")
        };
        assert_eq!(members.len(), 12);
        assert_eq!(notification.summary, "12 shipments updated: 9 delivered, 3 out for delivery");
        assert_eq!(notification.shipment_id, None);
        let lines: Vec<&str> = notification.body.lines().collect();
        assert_eq!(lines.len(), 5);
        assert_eq!(lines[0], "Delivered · USPS — Order #0");
        assert_eq!(lines[4], "and 8 more");
    }

    #[test]
    fn the_window_does_not_slide_and_a_late_one_opens_the_next() {
        let t0 = Instant::now();
        let mut c = Coalescer::new(CoalesceConfig::default());
        for i in 0..3 {
            c.push(cand(i, i, Tag::Delivered), t0);
        }
        // Arrives just before the window closes: same batch, deadline unchanged.
        c.push(cand(3, 3, Tag::Exception), t0 + Duration::from_millis(1900));
        assert_eq!(c.deadline(), Some(t0 + Duration::from_secs(2)));
        assert!(matches!(c.poll(t0 + Duration::from_secs(2)), Some(Batch::Summary { .. })));
        // After it: a new window.
        let t1 = t0 + Duration::from_millis(2100);
        c.push(cand(4, 4, Tag::Delivered), t1);
        assert_eq!(c.deadline(), Some(t1 + Duration::from_secs(2)));
        assert!(matches!(c.poll(t1 + Duration::from_secs(2)), Some(Batch::Each(v)) if v.len() == 1));
    }

    #[test]
    fn a_shipment_counts_once_by_its_newest_tag() {
        let t0 = Instant::now();
        let mut c = Coalescer::new(CoalesceConfig { window: Duration::from_secs(1), max_individual: 2 });
        c.push(cand(1, 1, Tag::OutForDelivery), t0);
        c.push(cand(2, 2, Tag::OutForDelivery), t0);
        c.push(cand(3, 1, Tag::Delivered), t0);
        let Some(Batch::Summary { notification, members }) = c.take() else { panic!() };
        assert_eq!(members.len(), 3);
        // Ties sort in lifecycle order: out for delivery before delivered.
        assert_eq!(notification.summary, "2 shipments updated: 1 out for delivery, 1 delivered");
    }

    #[test]
    fn exceptions_come_first_in_a_burst_and_make_it_critical() {
        let t0 = Instant::now();
        let mut c = Coalescer::new(CoalesceConfig::default());
        for i in 0..5 {
            c.push(cand(i, i, Tag::Delivered), t0);
        }
        c.push(cand(5, 5, Tag::OutForDelivery), t0);
        c.push(cand(6, 6, Tag::Exception), t0);
        let Some(Batch::Summary { notification, .. }) = c.take() else { panic!() };
        assert_eq!(notification.summary, "7 shipments updated: 1 exception, 5 delivered, 1 out for delivery");
        assert_eq!(notification.body.lines().next(), Some("Exception · USPS — Order #6"));
        assert_eq!(notification.urgency, Urgency::Critical);
        // Without an exception: normal.
        let mut c = Coalescer::new(CoalesceConfig::default());
        for i in 0..5 {
            c.push(cand(i, i, Tag::Delivered), t0);
        }
        let Some(Batch::Summary { notification, .. }) = c.take() else { panic!() };
        assert_eq!(notification.urgency, Urgency::Normal);
    }

    #[test]
    fn take_flushes_early_and_empty_gives_nothing() {
        let t0 = Instant::now();
        let mut c = Coalescer::new(CoalesceConfig::default());
        assert_eq!(c.take(), None);
        c.push(cand(1, 1, Tag::Delivered), t0);
        assert_eq!(c.pending(), 1);
        assert!(matches!(c.take(), Some(Batch::Each(_))));
        assert_eq!(c.pending(), 0);
    }
}
