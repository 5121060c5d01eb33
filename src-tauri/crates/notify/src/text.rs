//! The words of a notification: "Delivered · USPS", why (the subtag's wording, the courier's
//! message, "2 days late", "Estimate moved to Dec 6 (was Dec 3)"), the shipment lines, the burst,
//! held and digest summaries.

use shipwatch_aftership::Tag;
use shipwatch_api::{Attention, EstimateChange, ShipmentItem};

use crate::alert::Kind;
use crate::notification::{Notification, Urgency};

/// The last line of a notification built from unverified deliveries.
pub const UNVERIFIED_LINE: &str = "Unverified: no webhook secret is set, so its signature was not checked";

/// A courier's display name: a known name for common slugs, else the slug in capitals with
/// dashes as spaces (`yodel-x` gives `YODEL X`). The table is the aftership crate's, shared with
/// the shipment lists.
pub fn courier_name(slug: &str) -> String {
    shipwatch_aftership::courier_name(slug)
}

/// `Delivered · USPS`, or just `Delivered` when the courier is unknown.
pub fn summary(tag: &Tag, slug: Option<&str>) -> String {
    match slug.map(str::trim).filter(|s| !s.is_empty()) {
        Some(slug) => format!("{} · {}", tag.label(), courier_name(slug)),
        None => tag.label(),
    }
}

/// What to call a shipment in one line: its title, else `Order <id>`, else its tracking number.
/// A title that is just the tracking number (AfterShip's default) counts as no title.
pub fn shipment_name(s: &ShipmentItem) -> Option<String> {
    let tn = non_empty(s.tracking_number.as_deref());
    if let Some(title) = non_empty(s.title.as_deref()) {
        if Some(title) != tn {
            return Some(title.to_string());
        }
    }
    if let Some(order) = non_empty(s.order_id.as_deref()) {
        return Some(format!("Order {order}"));
    }
    None
}

/// The body: the shipment's title or order, its tracking number and where it was last seen,
/// one per line, leaving out what is unknown.
pub fn body(s: &ShipmentItem) -> String {
    let mut lines = Vec::new();
    if let Some(name) = shipment_name(s) {
        lines.push(name);
    }
    if let Some(tn) = non_empty(s.tracking_number.as_deref()) {
        lines.push(format!("Tracking {tn}"));
    }
    if let Some(loc) = non_empty(s.last_location.as_deref()) {
        lines.push(format!("Last seen: {loc}"));
    }
    lines.join("\n")
}

/// Why a shipment is in its state, in AfterShip's words: the subtag's confirmed wording
/// ("Delayed (External factors)"), else the payload's `subtag_message`; nothing when that only
/// repeats the tag ("Delivered").
pub fn reason(s: &ShipmentItem) -> Option<String> {
    let wording = non_empty(s.subtag.as_deref()).and_then(shipwatch_aftership::subtag_wording);
    let text = wording.or_else(|| non_empty(s.subtag_message.as_deref()))?;
    let tag = non_empty(s.tag.as_deref()).map(|t| Tag::parse(t).label());
    if tag.is_some_and(|t| t.eq_ignore_ascii_case(text)) {
        return None;
    }
    Some(text.to_string())
}

/// Critical for an exception or a failed attempt, normal otherwise.
pub fn urgency(kind: &Kind) -> Urgency {
    match kind {
        Kind::Tag(Tag::Exception) | Kind::Tag(Tag::AttemptFail) => Urgency::Critical,
        _ => Urgency::Normal,
    }
}

fn courier_of(s: &ShipmentItem) -> Option<String> {
    non_empty(s.courier.as_deref())
        .map(str::to_string)
        .or_else(|| non_empty(s.slug.as_deref()).map(courier_name))
}

/// `<what> · <courier>`, or just `<what>`.
fn with_courier(what: &str, s: &ShipmentItem) -> String {
    match courier_of(s) {
        Some(c) => format!("{what} · {c}"),
        None => what.to_string(),
    }
}

/// `why` lines first, then the shipment's lines, then the unverified flag.
fn compose(why: Vec<String>, s: &ShipmentItem) -> String {
    let mut lines: Vec<String> = why.into_iter().filter(|l| !l.trim().is_empty()).collect();
    let rest = body(s);
    if !rest.is_empty() {
        lines.push(rest);
    }
    if s.unverified {
        lines.push(UNVERIFIED_LINE.into());
    }
    lines.join("\n")
}

/// A shipment that reached `tag`: "Exception · USPS" with the reason and the courier's latest
/// checkpoint message (`checkpoint_message`) before the shipment's lines.
pub fn tag_notification(tag: &Tag, s: &ShipmentItem, checkpoint_message: Option<&str>) -> Notification {
    let mut why = Vec::new();
    let reason = reason(s);
    if let Some(r) = &reason {
        why.push(r.clone());
    }
    if let Some(m) = non_empty(checkpoint_message) {
        if reason.as_deref().is_none_or(|r| !r.eq_ignore_ascii_case(m)) {
            why.push(format!("Courier: {m}"));
        }
    }
    let slug = s.slug.as_deref();
    let summary = match non_empty(s.courier.as_deref()) {
        Some(c) => format!("{} · {c}", tag.label()),
        None => summary(tag, slug),
    };
    Notification {
        summary,
        body: compose(why, s),
        shipment_id: Some(s.id),
        urgency: urgency(&Kind::Tag(tag.clone())),
    }
}

/// A clock alert: "Late · USPS" / "Stuck · USPS", the reason ("2 days late (due Dec 3)", "No
/// courier scan for 6 days") first.
pub fn attention_notification(s: &ShipmentItem, a: &Attention) -> Notification {
    let kind = Kind::of_attention(a.kind);
    let what = match &kind {
        Kind::Late => "Late".to_string(),
        Kind::Stuck => "Stuck".to_string(),
        Kind::EstimateLater => "Estimate moved later".to_string(),
        Kind::Tag(t) => t.label(),
    };
    Notification {
        summary: with_courier(&what, s),
        body: compose(vec![a.reason.clone()], s),
        shipment_id: Some(s.id),
        urgency: urgency(&kind),
    }
}

/// `Dec 6` for `2026-12-06` (or an RFC 3339 time on that day); anything else as sent.
pub fn short_date(d: &str) -> String {
    const MONTHS: [&str; 12] =
        ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
    let d = d.trim();
    let parsed = d.get(..10).and_then(|day| {
        let mut p = day.split('-');
        let (_y, m, dd) =
            (p.next()?.parse::<u16>().ok()?, p.next()?.parse::<usize>().ok()?, p.next()?.parse::<u8>().ok()?);
        (1..=12).contains(&m).then(|| format!("{} {dd}", MONTHS[m - 1]))
    });
    parsed.unwrap_or_else(|| d.to_string())
}

/// "Estimate moved to Dec 6 (was Dec 3): <reason>".
pub fn estimate_line(c: &EstimateChange) -> String {
    let to = c.estimate.as_deref().map(short_date).unwrap_or_else(|| "no date".into());
    let mut line = format!("Estimate moved to {to}");
    if let Some(was) = non_empty(c.previous.as_deref()) {
        line.push_str(&format!(" (was {})", short_date(was)));
    }
    if let Some(r) = non_empty(c.reason.as_deref()) {
        line.push_str(&format!(": {r}"));
    }
    line
}

/// An estimate that moved later.
pub fn estimate_notification(s: &ShipmentItem, c: &EstimateChange) -> Notification {
    Notification {
        summary: with_courier("Estimate moved later", s),
        body: compose(vec![estimate_line(c)], s),
        shipment_id: Some(s.id),
        urgency: Urgency::Normal,
    }
}

/// The daily digest: "3 need attention, 12 delivered yesterday".
pub fn digest(attention: i64, delivered_yesterday: i64) -> Notification {
    let need = if attention == 1 { "needs" } else { "need" };
    Notification {
        summary: format!("{attention} {need} attention, {delivered_yesterday} delivered yesterday"),
        body: if attention > 0 {
            "Open Shipwatch to see which parcels and why".into()
        } else {
            "Nothing needs you today".into()
        },
        shipment_id: None,
        urgency: Urgency::Low,
    }
}

/// `(kind, count)` pairs in the order a summary lists them: what needs the merchant first
/// (exceptions, failed attempts, late, stuck, later estimates), then the rest by count, ties in
/// the order a shipment goes through them.
pub fn order_counts(counts: &mut [(Kind, usize)]) {
    let rank = |k: &Kind| match k {
        Kind::Tag(t) => Tag::KNOWN.iter().position(|x| x == t).unwrap_or(usize::MAX),
        _ => usize::MAX,
    };
    counts.sort_by(|(ka, a), (kb, b)| {
        let (ua, ub) = (ka.urgency_rank().unwrap_or(u8::MAX), kb.urgency_rank().unwrap_or(u8::MAX));
        ua.cmp(&ub).then(b.cmp(a)).then(rank(ka).cmp(&rank(kb)))
    });
}

/// `1 exception, 3 delivered`.
pub fn count_words(counts: &[(Kind, usize)]) -> String {
    counts.iter().map(|(k, n)| format!("{n} {}", k.in_sentence())).collect::<Vec<_>>().join(", ")
}

/// `While paused: 1 exception, 3 delivered` (or `During quiet hours: ...`).
pub fn held_summary(paused: bool, counts: &[(Kind, usize)]) -> String {
    let when = if paused { "While paused" } else { "During quiet hours" };
    format!("{when}: {}", count_words(counts))
}

/// A tag's label as it reads inside a sentence: `out for delivery` (unknown tags verbatim).
pub fn label_in_sentence(tag: &Tag) -> String {
    match tag {
        Tag::Unknown(s) => s.clone(),
        known => known.label().to_lowercase(),
    }
}

/// `12 shipments updated: 1 exception, 9 delivered, 2 out for delivery` for a burst; `counts` are
/// (kind, count) pairs in [`order_counts`] order.
pub fn burst_summary(total: usize, counts: &[(Kind, usize)]) -> String {
    let noun = if total == 1 { "shipment" } else { "shipments" };
    if counts.is_empty() {
        format!("{total} {noun} updated")
    } else {
        format!("{total} {noun} updated: {}", count_words(counts))
    }
}

fn non_empty(s: Option<&str>) -> Option<&str> {
    s.map(str::trim).filter(|s| !s.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) fn shipment() -> ShipmentItem {
        ShipmentItem {
            id: 7,
            tracking_id: None,
            tracking_number: Some("9361289676091361892011".into()),
            slug: Some("usps".into()),
            title: Some("Blue mug".into()),
            order_id: Some("#1001".into()),
            tag: Some("Delivered".into()),
            subtag: None,
            subtag_message: None,
            expected_delivery: None,
            last_location: Some("Brooklyn, NY, USA".into()),
            updated_at: "2026-01-01T00:00:00Z".into(),
            unverified: false,
            ..Default::default()
        }
    }

    #[test]
    fn courier_names() {
        assert_eq!(courier_name("usps"), "USPS");
        assert_eq!(courier_name("fedex"), "FedEx");
        assert_eq!(courier_name("DHL"), "DHL");
        assert_eq!(courier_name("royal-mail"), "Royal Mail");
        assert_eq!(courier_name("yodel-x"), "YODEL X");
        assert_eq!(courier_name("acme"), "ACME");
    }

    #[test]
    fn summaries() {
        assert_eq!(summary(&Tag::Delivered, Some("usps")), "Delivered · USPS");
        assert_eq!(summary(&Tag::OutForDelivery, Some("fedex")), "Out for delivery · FedEx");
        assert_eq!(summary(&Tag::AttemptFail, None), "Failed attempt");
        assert_eq!(summary(&Tag::Exception, Some(" ")), "Exception");
    }

    #[test]
    fn body_uses_title_then_order_then_nothing() {
        let mut s = shipment();
        assert_eq!(body(&s), "Blue mug\nTracking 9361289676091361892011\nLast seen: Brooklyn, NY, USA");
        // AfterShip's default title is the tracking number: show the order instead.
        s.title = s.tracking_number.clone();
        assert_eq!(body(&s), "Order #1001\nTracking 9361289676091361892011\nLast seen: Brooklyn, NY, USA");
        s.order_id = None;
        s.last_location = Some("  ".into());
        assert_eq!(body(&s), "Tracking 9361289676091361892011");
    }

    #[test]
    fn burst_summaries() {
        assert_eq!(
            burst_summary(12, &[(Kind::Tag(Tag::Delivered), 9), (Kind::Tag(Tag::OutForDelivery), 3)]),
            "12 shipments updated: 9 delivered, 3 out for delivery"
        );
        assert_eq!(
            burst_summary(4, &[(Kind::Tag(Tag::Unknown("HeldAtCustoms".into())), 4)]),
            "4 shipments updated: 4 HeldAtCustoms"
        );
        assert_eq!(burst_summary(1, &[]), "1 shipment updated");
    }

    #[test]
    fn reasons_dates_digest_and_held_summaries() {
        let mut s = shipment();
        s.tag = Some("Delivered".into());
        s.subtag = Some("Delivered_001".into());
        assert_eq!(reason(&s), None, "a reason that only repeats the tag is left out");
        s.subtag = Some("Delivered_005".into());
        assert_eq!(reason(&s).as_deref(), Some("Delivered to neighbor"));
        s.subtag = None;
        s.subtag_message = Some("Left at the back door".into());
        assert_eq!(reason(&s).as_deref(), Some("Left at the back door"));

        assert_eq!(short_date("2026-12-06"), "Dec 6");
        assert_eq!(short_date("2026-01-03T18:00:00-05:00"), "Jan 3");
        assert_eq!(short_date("soon"), "soon");

        assert_eq!(digest(3, 12).summary, "3 need attention, 12 delivered yesterday");
        assert_eq!(digest(1, 0).summary, "1 needs attention, 0 delivered yesterday");

        let mut counts = vec![
            (Kind::Tag(Tag::Delivered), 3),
            (Kind::Stuck, 1),
            (Kind::Tag(Tag::OutForDelivery), 5),
            (Kind::Tag(Tag::Exception), 1),
        ];
        order_counts(&mut counts);
        assert_eq!(
            held_summary(true, &counts),
            "While paused: 1 exception, 1 stuck, 5 out for delivery, 3 delivered"
        );
        assert_eq!(held_summary(false, &counts[..1]), "During quiet hours: 1 exception");
    }

    #[test]
    fn unverified_shipments_are_flagged_and_the_courier_name_is_used() {
        let mut s = shipment();
        s.unverified = true;
        s.courier = Some("USPS Ground".into());
        let n = tag_notification(&Tag::Delivered, &s, Some("Delivered, In/At Mailbox"));
        assert_eq!(n.summary, "Delivered · USPS Ground");
        assert_eq!(
            n.body,
            format!("Courier: Delivered, In/At Mailbox\nBlue mug\nTracking 9361289676091361892011\nLast seen: Brooklyn, NY, USA\n{UNVERIFIED_LINE}")
        );
    }
}
