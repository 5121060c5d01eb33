//! Which stored deliveries may raise a notification, and when notifications are held.
//!
//! A delivery notifies only when all hold: its signature is valid (or unverified, accepted while no
//! secret is set: the text says so; never invalid, missing, malformed or too large), it is not
//! Shipwatch's own test data, not a retry of an accepted event, it was projected onto a shipment and
//! was not older than the stored state, and it moved the shipment into a tag the shipment never had
//! before that the user chose ([`eligibility`]), or it is an alert the user chose: an estimate
//! moved later ([`delivery_alerts`]). Quiet hours and pause then
//! hold what would have been shown, for one summary when they end.

use shipwatch_aftership::{DeliveryVerdict, Tag};
use shipwatch_api::{QuietHours, ShipmentItem};
use shipwatch_store::{StoredDelivery, StoredVerdict};

use crate::alert::Kind;
use crate::coalesce::Candidate;
use crate::text;

/// The alerts the user chose (setting `alerts`: `late`, `stuck`, `estimate_later`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Alerts {
    pub late: bool,
    pub stuck: bool,
    pub estimate_later: bool,
}

impl Default for Alerts {
    fn default() -> Self {
        Alerts { late: true, stuck: true, estimate_later: true }
    }
}

impl Alerts {
    /// The names every alert setting may hold.
    pub const NAMES: [&'static str; 3] = ["late", "stuck", "estimate_later"];

    /// From the setting's names (unknown ones ignored).
    pub fn from_names(names: &[String]) -> Alerts {
        let has = |n: &str| names.iter().any(|x| x.trim() == n);
        Alerts { late: has("late"), stuck: has("stuck"), estimate_later: has("estimate_later") }
    }
}

/// The user's notification settings, as the decision logic needs them.
#[derive(Clone, Debug, PartialEq)]
pub struct Policy {
    pub notify_tags: Vec<Tag>,
    pub quiet_hours: Option<QuietWindow>,
    pub paused: bool,
    pub alerts: Alerts,
}

impl Default for Policy {
    fn default() -> Self {
        Policy {
            notify_tags: Tag::default_notify(),
            quiet_hours: None,
            paused: false,
            alerts: Alerts::default(),
        }
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
            alerts: Alerts::default(),
        }
    }

    /// With the alerts chosen in the setting `alerts`.
    pub fn with_alerts(self, names: &[String]) -> Policy {
        Policy { alerts: Alerts::from_names(names), ..self }
    }

    /// What the window shows while notifications are held: `paused`, or `quiet hours until 07:00`.
    pub fn held_status(&self, local_minute: u16) -> Option<String> {
        if self.paused {
            return Some("paused".into());
        }
        match &self.quiet_hours {
            Some(w) if w.contains(local_minute) => {
                Some(format!("quiet hours until {:02}:{:02}", w.end / 60, w.end % 60))
            }
            _ => None,
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
    /// Not a valid signature (`invalid`, `missing`, `malformed`, `too_large`).
    Verdict(&'static str),
    /// Sent by Shipwatch's own test tools.
    Test,
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
            SkipReason::Test => f.write_str("test data never notifies"),
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

/// Why a stored delivery may not raise anything at all, whatever it is about.
fn blocked(d: &StoredDelivery) -> Option<SkipReason> {
    let verdict_ok = matches!(
        d.verdict,
        StoredVerdict::Signature(DeliveryVerdict::Valid(_))
            | StoredVerdict::Signature(DeliveryVerdict::Unverified)
    );
    if !verdict_ok {
        return Some(SkipReason::Verdict(d.verdict.as_str()));
    }
    if d.item.test || d.shipment.as_ref().is_some_and(|c| c.item.test) {
        return Some(SkipReason::Test);
    }
    if let Some(of) = d.duplicate_of {
        return Some(SkipReason::Duplicate { of });
    }
    let Some(change) = &d.shipment else {
        return Some(SkipReason::NotProjected);
    };
    if change.stale {
        return Some(SkipReason::Stale);
    }
    None
}

/// The shipment as the notification names it: flagged unverified when the delivery was.
fn shipment_of(d: &StoredDelivery) -> Option<ShipmentItem> {
    let change = d.shipment.as_ref()?;
    let mut s = change.item.clone();
    s.id = change.shipment_id;
    s.unverified |= change.unverified || d.verdict == StoredVerdict::Signature(DeliveryVerdict::Unverified);
    if s.slug.is_none() {
        s.slug = d.item.slug.clone();
    }
    Some(s)
}

/// Decides whether one stored delivery may notify under `policy`'s tag choice. (Quiet hours and
/// pause are applied later, at the time of showing.)
pub fn eligibility(d: &StoredDelivery, policy: &Policy) -> Eligibility {
    eligibility_with(d, policy, None)
}

/// [`eligibility`], with the courier's latest checkpoint message for the text.
pub fn eligibility_with(
    d: &StoredDelivery,
    policy: &Policy,
    checkpoint_message: Option<&str>,
) -> Eligibility {
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
    if let Some(reason) = blocked(d) {
        return skip(reason);
    }
    let change = d.shipment.as_ref().expect("blocked() checks it");
    if !change.tag_first_seen {
        return skip(SkipReason::AlreadySeen);
    }
    let shipment = shipment_of(d).expect("projected");
    Eligibility::Notify(Candidate {
        delivery_id: Some(d.id),
        shipment_id: change.shipment_id,
        kind: Kind::Tag(tag.clone()),
        notification: text::tag_notification(&tag, &shipment, checkpoint_message),
    })
}

/// The alerts a delivery raises besides its tag: its estimate moved later (`estimate_later`).
/// Nothing for deliveries [`eligibility`] would refuse for their signature, as test data, retries or
/// stale updates. (A `tracking_pending_time` event makes the shipment stuck: the engine's clock
/// raises that, once, like any stuck shipment.)
pub fn delivery_alerts(d: &StoredDelivery, policy: &Policy) -> Vec<Candidate> {
    if blocked(d).is_some() {
        return Vec::new();
    }
    let Some(shipment) = shipment_of(d) else { return Vec::new() };
    let mut out = Vec::new();
    let change = d.shipment.as_ref().expect("projected");
    if policy.alerts.estimate_later {
        if let Some(ec) = change.estimate_change.as_ref().filter(|c| c.later) {
            out.push(Candidate {
                delivery_id: Some(d.id),
                shipment_id: change.shipment_id,
                kind: Kind::EstimateLater,
                notification: text::estimate_notification(&shipment, ec),
            });
        }
    }
    out
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
                forward: None,
                diagnosis: None,
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
        assert_eq!(c.delivery_id, Some(1));
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
        // Unverified (accepted while no secret is set): notifies, and says so.
        let mut d = delivery(1, 1, "Delivered");
        d.verdict = StoredVerdict::Signature(DeliveryVerdict::Unverified);
        let c = notified(eligibility(&d, &p));
        assert!(c.notification.body.ends_with(crate::text::UNVERIFIED_LINE), "{}", c.notification.body);
        // A valid delivery's text carries no such line.
        let c = notified(eligibility(&delivery(1, 1, "Delivered"), &p));
        assert!(!c.notification.body.contains("Unverified"));
    }

    #[test]
    fn test_data_never_notifies_nor_alerts() {
        let p = Policy::default();
        let mut d = delivery(1, 1, "Exception");
        d.item.test = true;
        assert_eq!(skipped(eligibility(&d, &p)), SkipReason::Test);
        let mut d = delivery(1, 1, "Exception");
        d.shipment.as_mut().unwrap().item.test = true;
        assert_eq!(skipped(eligibility(&d, &p)), SkipReason::Test);
        d.shipment.as_mut().unwrap().estimate_change = Some(shipwatch_api::EstimateChange {
            at: "2026-12-04T10:00:00Z".into(),
            delivery_id: 1,
            previous: Some("2026-12-03".into()),
            estimate: Some("2026-12-06".into()),
            reason: None,
            later: true,
        });
        assert!(delivery_alerts(&d, &p).is_empty());
    }

    #[test]
    fn an_exception_says_why_and_is_critical() {
        let mut d = delivery(1, 7, "Exception");
        let s = &mut d.shipment.as_mut().unwrap().item;
        s.subtag = Some("Exception_005".into());
        s.subtag_message = Some("Delayed".into());
        let c = notified(eligibility_with(&d, &Policy::default(), Some("Shipment delayed by a storm")));
        assert_eq!(c.notification.summary, "Exception · USPS");
        assert_eq!(
            c.notification.body,
            "Delayed (External factors)\nCourier: Shipment delayed by a storm\nOrder #1007\nTracking TN0007\nLast seen: Brooklyn, NY"
        );
        assert_eq!(c.notification.urgency, crate::Urgency::Critical);
        // An unknown subtag: the payload's own message.
        let s = &mut d.shipment.as_mut().unwrap().item;
        s.subtag = Some("Exception_099".into());
        let c = notified(eligibility(&d, &Policy::default()));
        assert!(c.notification.body.starts_with("Delayed\n"), "{}", c.notification.body);
        let c = notified(eligibility(&delivery(1, 1, "AttemptFail"), &Policy::default()));
        assert_eq!(c.notification.urgency, crate::Urgency::Critical);
        let c = notified(eligibility(&delivery(1, 1, "Delivered"), &Policy::default()));
        assert_eq!(c.notification.urgency, crate::Urgency::Normal);
    }

    #[test]
    fn a_later_estimate_alerts_when_chosen() {
        let mut d = delivery(1, 7, "InTransit");
        d.item.event = Some("edd_revise".into());
        d.shipment.as_mut().unwrap().tag_first_seen = false;
        d.shipment.as_mut().unwrap().estimate_change = Some(shipwatch_api::EstimateChange {
            at: "2026-12-04T10:00:00Z".into(),
            delivery_id: 1,
            previous: Some("2026-12-03".into()),
            estimate: Some("2026-12-06T18:00:00-05:00".into()),
            reason: Some("Weather delay".into()),
            later: true,
        });
        let p = Policy::default();
        let alerts = delivery_alerts(&d, &p);
        assert_eq!(alerts.len(), 1);
        assert_eq!(alerts[0].kind, Kind::EstimateLater);
        assert_eq!(alerts[0].notification.summary, "Estimate moved later · USPS");
        assert_eq!(
            alerts[0].notification.body.lines().next(),
            Some("Estimate moved to Dec 6 (was Dec 3): Weather delay")
        );
        let off = Policy::default().with_alerts(&["late".into(), "stuck".into()]);
        assert!(delivery_alerts(&d, &off).is_empty());
        // Earlier: nothing.
        d.shipment.as_mut().unwrap().estimate_change.as_mut().unwrap().later = false;
        assert!(delivery_alerts(&d, &p).is_empty());

        d.shipment.as_mut().unwrap().estimate_change.as_mut().unwrap().later = true;
        // Forged or retried: nothing.
        d.verdict = StoredVerdict::Signature(DeliveryVerdict::Invalid);
        assert!(delivery_alerts(&d, &p).is_empty());
        d.verdict = StoredVerdict::Signature(DeliveryVerdict::Valid(SecretSlot::Current));
        d.duplicate_of = Some(1);
        assert!(delivery_alerts(&d, &p).is_empty());
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
        assert_eq!(paused.held_status(12 * 60).as_deref(), Some("paused"));
        let quiet = Policy { paused: false, ..paused };
        assert_eq!(quiet.held_status(23 * 60).as_deref(), Some("quiet hours until 07:00"));
        assert_eq!(quiet.held_status(12 * 60), None);
    }
}
