//! The words of a notification: "Delivered · USPS", the shipment lines, the burst summary.

use shipwatch_aftership::Tag;
use shipwatch_api::ShipmentItem;

/// Courier slugs whose display name is not just the slug in capitals.
const COURIERS: &[(&str, &str)] = &[
    ("usps", "USPS"),
    ("ups", "UPS"),
    ("fedex", "FedEx"),
    ("fedex-freight", "FedEx Freight"),
    ("dhl", "DHL"),
    ("dhl-express", "DHL Express"),
    ("dhl-ecommerce", "DHL eCommerce"),
    ("dhl-germany", "DHL Germany"),
    ("deutsch-post", "Deutsche Post"),
    ("amazon", "Amazon"),
    ("amazon-shipping", "Amazon Shipping"),
    ("ontrac", "OnTrac"),
    ("lasership", "LaserShip"),
    ("royal-mail", "Royal Mail"),
    ("parcelforce", "Parcelforce"),
    ("evri", "Evri"),
    ("hermes", "Hermes"),
    ("yodel", "Yodel"),
    ("dpd", "DPD"),
    ("dpd-uk", "DPD UK"),
    ("gls", "GLS"),
    ("tnt", "TNT"),
    ("canada-post", "Canada Post"),
    ("purolator", "Purolator"),
    ("australia-post", "Australia Post"),
    ("new-zealand-post", "NZ Post"),
    ("postnl", "PostNL"),
    ("bpost", "bpost"),
    ("la-poste-colissimo", "Colissimo"),
    ("chronopost-france", "Chronopost"),
    ("poste-italiane", "Poste Italiane"),
    ("correos-spain", "Correos"),
    ("china-post", "China Post"),
    ("china-ems", "China EMS"),
    ("japan-post", "Japan Post"),
    ("sf-express", "SF Express"),
    ("yanwen", "Yanwen"),
    ("4px", "4PX"),
    ("cainiao", "Cainiao"),
];

/// A courier's display name: a known name for common slugs, else the slug in capitals with
/// dashes as spaces (`yodel-x` gives `YODEL X`).
pub fn courier_name(slug: &str) -> String {
    let slug = slug.trim();
    let lower = slug.to_ascii_lowercase();
    COURIERS
        .iter()
        .find(|(s, _)| *s == lower)
        .map(|(_, name)| (*name).to_string())
        .unwrap_or_else(|| slug.replace(['-', '_'], " ").to_uppercase())
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

/// A tag's label as it reads inside a sentence: `out for delivery` (unknown tags verbatim).
pub fn label_in_sentence(tag: &Tag) -> String {
    match tag {
        Tag::Unknown(s) => s.clone(),
        known => known.label().to_lowercase(),
    }
}

/// `12 shipments updated: 9 delivered, 3 out for delivery` for a burst; `counts` are (tag, count)
/// pairs, most frequent first.
pub fn burst_summary(total: usize, counts: &[(Tag, usize)]) -> String {
    let parts: Vec<String> =
        counts.iter().map(|(tag, n)| format!("{n} {}", label_in_sentence(tag))).collect();
    let noun = if total == 1 { "shipment" } else { "shipments" };
    if parts.is_empty() {
        format!("{total} {noun} updated")
    } else {
        format!("{total} {noun} updated: {}", parts.join(", "))
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
            burst_summary(12, &[(Tag::Delivered, 9), (Tag::OutForDelivery, 3)]),
            "12 shipments updated: 9 delivered, 3 out for delivery"
        );
        assert_eq!(
            burst_summary(4, &[(Tag::Unknown("HeldAtCustoms".into()), 4)]),
            "4 shipments updated: 4 HeldAtCustoms"
        );
        assert_eq!(burst_summary(1, &[]), "1 shipment updated");
    }
}
