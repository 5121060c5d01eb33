//! Which stored deliveries may raise a notification, and when notifications are held.
//!
//! A delivery notifies only when all hold: its signature is valid (never invalid, missing,
//! malformed, unverified or too large), it is not a retry of an accepted event, it was projected
//! onto a shipment and was not older than the stored state, it moved the shipment into a tag the
//! shipment never had before, and that tag is one the user chose. Quiet hours and pause then hold
//! (suppress, but record) what would have been shown.

use shipwatch_aftership::{DeliveryVerdict, Tag};
use shipwatch_api::QuietHours;
use shipwatch_store::{StoredDelivery, StoredVerdict};

use crate::coalesce::Candidate;
use crate::notification::Notification;
use crate::text;

/// The user's notification settings, as the decision logic needs them.
#[derive(Clone, Debug, PartialEq)]
pub struct Policy {
    pub notify_tags: Vec<Tag>,
    pub quiet_hours: Option<QuietWindow>,
    pub paused: bool,
}

impl Default for Policy {
    fn default() -> Self {
        Policy { notify_tags: Tag::default_notify(), quiet_hours: None, paused: false }
    }
}

impl Policy {
    /// From the persisted settings (`notify_tags`, `quiet_hours`, `notifications_paused`). Quiet
    /// hours that do not parse as `HH:MM` are ignored (with a warning in the log).
    pub fn from_settings(notify_tags: &[String], quiet_hours: Option<&QuietHours>, paused: bool) -> Policy {
        let quiet_hours = quiet_hours.and_then(|q| {
            let w = QuietWindow::parse(q);
            if w.is_none() {
                tracing::warn!(start = %q.start, end = %q.end, "quiet hours are not HH:MM; ignoring them");
            }
            w
        });
        Policy {
            notify_tags: notify_tags.iter().map(|t| Tag::parse(t.trim())).collect(),
            quiet_hours,
            paused,
        }
    }

    /// Why a notification would be held now (`local_minute`: minutes since local midnight), if it
    /// would. Pause wins over quiet hours.
    pub fn hold_reason(&self, local_minute: u16) -> Option<String> {
        if self.paused {
            return Some("notifications are paused".into());
        }
        match &self.quiet_hours {
            Some(w) if w.contains(local_minute) => Some(format!("quiet hours ({w})")),
            _ => None,
        }
    }
}

/// Quiet hours as minutes since local midnight, `[start, end)`. `start > end` wraps midnight
/// (22:00–07:00); `start == end` is empty.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct QuietWindow {
    pub start: u16,
    pub end: u16,
}

impl QuietWindow {
    pub fn parse(q: &QuietHours) -> Option<QuietWindow> {
        Some(QuietWindow { start: parse_hhmm(&q.start)?, end: parse_hhmm(&q.end)? })
    }

    pub fn contains(&self, minute: u16) -> bool {
        use std::cmp::Ordering::*;
        match self.start.cmp(&self.end) {
            Less => self.start <= minute && minute < self.end,
            Greater => minute >= self.start || minute < self.end,
            Equal => false,
        }
    }
}

impl std::fmt::Display for QuietWindow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:02}:{:02}–{:02}:{:02}", self.start / 60, self.start % 60, self.end / 60, self.end % 60)
    }
}

/// `HH:MM` (or `H:MM`, `HH:MM:SS`) to minutes since midnight; `24:00` is midnight.
fn parse_hhmm(s: &str) -> Option<u16> {
    let mut parts = s.trim().split(':');
    let h: u16 = parts.next()?.trim().parse().ok()?;
    let m: u16 = parts.next()?.trim().parse().ok()?;
    if let Some(sec) = parts.next() {
        sec.trim().parse::<u16>().ok().filter(|s| *s < 60)?;
    }
    if parts.next().is_some() || m >= 60 || h > 24 || (h == 24 && m != 0) {
        return None;
    }
    Some((h * 60 + m) % (24 * 60))
}

/// Why a delivery about a chosen tag did not notify.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SkipReason {
    /// Not a valid signature (`invalid`, `missing`, `malformed`, `unverified`, `too_large`).
    Verdict(&'static str),
    /// Another attempt of an event already accepted.
    Duplicate { of: i64 },
    /// It did not update a shipment (no usable tracking in it).
    NotProjected,
    /// Older than the stored state: its checkpoints were merged, the state kept.
    Stale,
    /// The shipment already had this tag before.
    AlreadySeen,
}

impl std::fmt::Display for SkipReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SkipReason::Verdict(v) => write!(f, "signature {v}: only valid deliveries notify"),
            SkipReason::Duplicate { of } => write!(f, "retry of delivery {of}"),
            SkipReason::NotProjected => f.write_str("did not update a shipment"),
            SkipReason::Stale => f.write_str("older than the shipment's stored state"),
            SkipReason::AlreadySeen => f.write_str("the shipment had this tag before"),
        }
    }
}

/// What a stored delivery means for notifications.
#[derive(Clone, Debug, PartialEq)]
pub enum Eligibility {
    /// Would notify (unless quiet hours or pause hold it).
    Notify(Candidate),
    /// About a chosen tag, but must not notify: recorded with the reason.
    Skip { tag: Tag, reason: SkipReason },
    /// Not about a chosen tag: nothing to record.
    Ignore,
}

/// Decides whether one stored delivery may notify under `policy`'s tag choice. (Quiet hours and
/// pause are applied later, at the time of showing.)
pub fn eligibility(d: &StoredDelivery, policy: &Policy) -> Eligibility {
    let tag_str = d
        .shipment
        .as_ref()
        .and_then(|s| s.tag.as_deref())
        .or(d.item.tag.as_deref())
        .map(str::trim)
        .filter(|t| !t.is_empty());
    let Some(tag) = tag_str.map(Tag::parse) else {
        return Eligibility::Ignore;
    };
    if !policy.notify_tags.contains(&tag) {
        return Eligibility::Ignore;
    }
    let skip = |reason| Eligibility::Skip { tag: tag.clone(), reason };
    if !matches!(d.verdict, StoredVerdict::Signature(DeliveryVerdict::Valid(_))) {
        return skip(SkipReason::Verdict(d.verdict.as_str()));
    }
    if let Some(of) = d.duplicate_of {
        return skip(SkipReason::Duplicate { of });
    }
    let Some(change) = &d.shipment else {
        return skip(SkipReason::NotProjected);
    };
    if change.stale {
        return skip(SkipReason::Stale);
    }
    if !change.tag_first_seen {
        return skip(SkipReason::AlreadySeen);
    }
    let shipment = &change.item;
    let slug = shipment.slug.as_deref().or(d.item.slug.as_deref());
    Eligibility::Notify(Candidate {
        delivery_id: d.id,
        shipment_id: change.shipment_id,
        tag: tag.clone(),
        notification: Notification {
            summary: text::summary(&tag, slug),
            body: text::body(shipment),
            shipment_id: Some(change.shipment_id),
        },
    })
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use shipwatch_aftership::SecretSlot;
    use shipwatch_api::{DeliveryItem, ShipmentItem, Verdict};
    use shipwatch_store::ShipmentChange;

    /// A valid delivery that moved shipment `shipment_id` into `tag` for the first time.
    pub(crate) fn delivery(id: i64, shipment_id: i64, tag: &str) -> StoredDelivery {
        let tn = format!("TN{shipment_id:04}");
        StoredDelivery {
            id,
            status: 200,
            duplicate_of: None,
            verdict: StoredVerdict::Signature(DeliveryVerdict::Valid(SecretSlot::Current)),
            item: DeliveryItem {
                id,
                received_at: "2026-01-01T00:00:00.000Z".into(),
                event_id: Some(format!("ev-{id}")),
                event: Some("tracking_update".into()),
                verdict: Verdict::Valid,
                status: 200,
                duplicate: false,
                tracking_number: Some(tn.clone()),
                slug: Some("usps".into()),
                tag: Some(tag.into()),
                order_id: None,
                shipment_id: Some(shipment_id),
                size: 1000,
                title: None,
                courier: None,
                webhook_version: None,
                test: false,
            },
            shipment: Some(ShipmentChange {
                shipment_id,
                created: false,
                previous_tag: Some("InTransit".into()),
                tag: Some(tag.into()),
                tag_first_seen: true,
                stale: false,
                unverified: false,
                changed: true,
                estimate_change: None,
                item: ShipmentItem {
                    id: shipment_id,
                    tracking_id: None,
                    tracking_number: Some(tn.clone()),
                    slug: Some("usps".into()),
                    title: Some(tn),
                    order_id: Some(format!("#{}", 1000 + shipment_id)),
                    tag: Some(tag.into()),
                    subtag: None,
                    subtag_message: None,
                    expected_delivery: None,
                    last_location: Some("Brooklyn, NY".into()),
                    updated_at: "2026-01-01T00:00:00Z".into(),
                    unverified: false,
                    ..Default::default()
                },
            }),
        }
    }

    fn notified(e: Eligibility) -> Candidate {
        match e {
            Eligibility::Notify(c) => c,
            other => panic!("expected a notification, got {other:?}"),
        }
    }

    fn skipped(e: Eligibility) -> SkipReason {
        match e {
            Eligibility::Skip { reason, .. } => reason,
            other => panic!("expected a skip, got {other:?}"),
        }
    }

    #[test]
    fn valid_first_delivered_notifies_with_text() {
        let c = notified(eligibility(&delivery(1, 7, "Delivered"), &Policy::default()));
        assert_eq!(c.shipment_id, 7);
        assert_eq!(c.delivery_id, 1);
        assert_eq!(c.notification.summary, "Delivered · USPS");
        assert_eq!(c.notification.body, "Order #1007\nTracking TN0007\nLast seen: Brooklyn, NY");
        assert_eq!(c.notification.shipment_id, Some(7));
    }

    #[test]
    fn every_default_tag_notifies_and_others_are_ignored() {
        for tag in ["OutForDelivery", "AvailableForPickup", "Delivered", "AttemptFail", "Exception"] {
            notified(eligibility(&delivery(1, 1, tag), &Policy::default()));
        }
        for tag in ["InTransit", "InfoReceived", "Pending", "Expired", "SomethingNew", ""] {
            assert_eq!(eligibility(&delivery(1, 1, tag), &Policy::default()), Eligibility::Ignore, "{tag}");
        }
    }

    #[test]
    fn user_tag_choice_is_honoured() {
        let policy = Policy::from_settings(&["InTransit".into()], None, false);
        notified(eligibility(&delivery(1, 1, "InTransit"), &policy));
        assert_eq!(eligibility(&delivery(1, 1, "Delivered"), &policy), Eligibility::Ignore);
        let none = Policy::from_settings(&[], None, false);
        assert_eq!(eligibility(&delivery(1, 1, "Delivered"), &none), Eligibility::Ignore);
    }

    #[test]
    fn only_valid_signatures_notify() {
        let p = Policy::default();
        for (verdict, name) in [
            (StoredVerdict::Signature(DeliveryVerdict::Invalid), "invalid"),
            (StoredVerdict::Signature(DeliveryVerdict::Missing), "missing"),
            (StoredVerdict::Signature(DeliveryVerdict::Malformed), "malformed"),
            (StoredVerdict::Signature(DeliveryVerdict::Unverified), "unverified"),
            (StoredVerdict::TooLarge, "too_large"),
        ] {
            let mut d = delivery(1, 1, "Delivered");
            d.verdict = verdict;
            // A rejected delivery is never projected; the reason must not depend on that.
            if !verdict.accepted() {
                d.shipment = None;
            }
            assert_eq!(skipped(eligibility(&d, &p)), SkipReason::Verdict(name));
        }
        let mut d = delivery(1, 1, "Delivered");
        d.verdict = StoredVerdict::Signature(DeliveryVerdict::Valid(SecretSlot::Previous));
        notified(eligibility(&d, &p));
    }

    #[test]
    fn retries_stale_and_seen_tags_never_notify() {
        let p = Policy::default();
        let mut d = delivery(2, 1, "Delivered");
        d.duplicate_of = Some(1);
        // Even if the store said "first seen" for it, a duplicate never notifies.
        assert_eq!(skipped(eligibility(&d, &p)), SkipReason::Duplicate { of: 1 });

        let mut d = delivery(3, 1, "Delivered");
        d.shipment.as_mut().unwrap().stale = true;
        assert_eq!(skipped(eligibility(&d, &p)), SkipReason::Stale);

        let mut d = delivery(4, 1, "Delivered");
        d.shipment.as_mut().unwrap().tag_first_seen = false;
        assert_eq!(skipped(eligibility(&d, &p)), SkipReason::AlreadySeen);

        let mut d = delivery(5, 1, "Delivered");
        d.shipment = None;
        assert_eq!(skipped(eligibility(&d, &p)), SkipReason::NotProjected);
    }

    #[test]
    fn stale_delivery_is_judged_by_the_shipment_tag() {
        // A late InTransit after Delivered: the shipment stays Delivered, nothing notifies.
        let mut d = delivery(6, 1, "InTransit");
        let change = d.shipment.as_mut().unwrap();
        change.tag = Some("Delivered".into());
        change.stale = true;
        change.tag_first_seen = false;
        assert_eq!(skipped(eligibility(&d, &Policy::default())), SkipReason::Stale);
    }

    #[test]
    fn quiet_hours_wrap_midnight() {
        let q = QuietWindow::parse(&QuietHours { start: "22:00".into(), end: "07:00".into() }).unwrap();
        assert_eq!(q, QuietWindow { start: 22 * 60, end: 7 * 60 });
        assert!(q.contains(22 * 60));
        assert!(q.contains(23 * 60 + 59));
        assert!(q.contains(0));
        assert!(q.contains(6 * 60 + 59));
        assert!(!q.contains(7 * 60));
        assert!(!q.contains(12 * 60));
        assert!(!q.contains(21 * 60 + 59));
        assert_eq!(q.to_string(), "22:00–07:00");
    }

    #[test]
    fn quiet_hours_within_a_day_and_empty() {
        let q = QuietWindow::parse(&QuietHours { start: "12:30".into(), end: "13:00".into() }).unwrap();
        assert!(!q.contains(12 * 60 + 29));
        assert!(q.contains(12 * 60 + 30));
        assert!(!q.contains(13 * 60));
        let empty = QuietWindow::parse(&QuietHours { start: "08:00".into(), end: "08:00".into() }).unwrap();
        assert!((0..24 * 60).all(|m| !empty.contains(m)));
        let to_midnight =
            QuietWindow::parse(&QuietHours { start: "20:00".into(), end: "24:00".into() }).unwrap();
        assert!(to_midnight.contains(23 * 60 + 59));
        assert!(!to_midnight.contains(0));
    }

    #[test]
    fn bad_quiet_hours_are_ignored() {
        for (s, e) in [("25:00", "07:00"), ("22:60", "07:00"), ("10pm", "7am"), ("", "07:00"), ("22", "07")] {
            assert_eq!(QuietWindow::parse(&QuietHours { start: s.into(), end: e.into() }), None, "{s}-{e}");
        }
        let p = Policy::from_settings(&[], Some(&QuietHours { start: "x".into(), end: "y".into() }), false);
        assert_eq!(p.quiet_hours, None);
        assert_eq!(p.hold_reason(0), None);
    }

    #[test]
    fn pause_and_quiet_hours_hold() {
        let q = QuietHours { start: "22:00".into(), end: "07:00".into() };
        let p = Policy::from_settings(&["Delivered".into()], Some(&q), false);
        assert_eq!(p.hold_reason(23 * 60).as_deref(), Some("quiet hours (22:00–07:00)"));
        assert_eq!(p.hold_reason(12 * 60), None);
        let paused = Policy { paused: true, ..p };
        assert_eq!(paused.hold_reason(12 * 60).as_deref(), Some("notifications are paused"));
        assert_eq!(paused.hold_reason(23 * 60).as_deref(), Some("notifications are paused"));
    }
}
