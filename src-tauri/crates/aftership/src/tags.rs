//! AfterShip status tags (`tag`): a closed list we know plus `Unknown` for whatever comes next; and
//! the known subtags (`subtag`) with AfterShip's wording ([`subtag_wording`]): one table, used by
//! notifications, the UI and the sample deliveries.

/// A shipment status tag. Parsing never fails: new values land in `Unknown`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Tag {
    Pending,
    InfoReceived,
    InTransit,
    OutForDelivery,
    AttemptFail,
    Delivered,
    AvailableForPickup,
    Exception,
    Expired,
    Unknown(String),
}

impl Tag {
    /// Every known tag, in the order a shipment usually goes through them.
    pub const KNOWN: [Tag; 9] = [
        Tag::Pending,
        Tag::InfoReceived,
        Tag::InTransit,
        Tag::OutForDelivery,
        Tag::AttemptFail,
        Tag::Delivered,
        Tag::AvailableForPickup,
        Tag::Exception,
        Tag::Expired,
    ];

    pub fn parse(s: &str) -> Tag {
        match s {
            "Pending" => Tag::Pending,
            "InfoReceived" => Tag::InfoReceived,
            "InTransit" => Tag::InTransit,
            "OutForDelivery" => Tag::OutForDelivery,
            "AttemptFail" => Tag::AttemptFail,
            "Delivered" => Tag::Delivered,
            "AvailableForPickup" => Tag::AvailableForPickup,
            "Exception" => Tag::Exception,
            "Expired" => Tag::Expired,
            other => Tag::Unknown(other.to_string()),
        }
    }
    /// The wire name, e.g. `OutForDelivery`.
    pub fn as_str(&self) -> &str {
        match self {
            Tag::Pending => "Pending",
            Tag::InfoReceived => "InfoReceived",
            Tag::InTransit => "InTransit",
            Tag::OutForDelivery => "OutForDelivery",
            Tag::AttemptFail => "AttemptFail",
            Tag::Delivered => "Delivered",
            Tag::AvailableForPickup => "AvailableForPickup",
            Tag::Exception => "Exception",
            Tag::Expired => "Expired",
            Tag::Unknown(s) => s,
        }
    }
    /// Words for people, e.g. `Out for delivery`.
    pub fn label(&self) -> String {
        match self {
            Tag::Pending => "Pending",
            Tag::InfoReceived => "Info received",
            Tag::InTransit => "In transit",
            Tag::OutForDelivery => "Out for delivery",
            Tag::AttemptFail => "Failed attempt",
            Tag::Delivered => "Delivered",
            Tag::AvailableForPickup => "Available for pickup",
            Tag::Exception => "Exception",
            Tag::Expired => "Expired",
            Tag::Unknown(s) => s,
        }
        .to_string()
    }
    /// The tags that notify by default: OutForDelivery, AvailableForPickup, Delivered, AttemptFail,
    /// Exception.
    pub fn default_notify() -> Vec<Tag> {
        vec![Tag::OutForDelivery, Tag::AvailableForPickup, Tag::Delivered, Tag::AttemptFail, Tag::Exception]
    }
}

/// A subtag Shipwatch knows: its code, the words to show and whether AfterShip's documentation
/// confirms them (otherwise they are a plain label: show the payload's `subtag_message` instead).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KnownSubtag {
    pub code: &'static str,
    pub wording: &'static str,
    pub confirmed: bool,
}

const fn confirmed(code: &'static str, wording: &'static str) -> KnownSubtag {
    KnownSubtag { code, wording, confirmed: true }
}

const fn label(code: &'static str, wording: &'static str) -> KnownSubtag {
    KnownSubtag { code, wording, confirmed: false }
}

/// Every known subtag, grouped by tag, each tag's default (`_001`) first. The confirmed wordings are
/// AfterShip's (2026-07 added Delivered_005, Exception_016 to _021 and InTransit_011 to _013).
const SUBTAGS: &[KnownSubtag] = &[
    label("Pending_001", "Pending"),
    label("Pending_002", "Pending"),
    label("Pending_003", "Pending"),
    label("Pending_004", "Pending"),
    label("Pending_005", "Pending"),
    label("Pending_006", "Pending"),
    label("InfoReceived_001", "Info Received"),
    label("InTransit_001", "In Transit"),
    label("InTransit_002", "In Transit"),
    label("InTransit_003", "In Transit"),
    label("InTransit_004", "In Transit"),
    label("InTransit_005", "In Transit"),
    label("InTransit_006", "In Transit"),
    confirmed("InTransit_007", "Departure scan"),
    label("InTransit_008", "In Transit"),
    label("InTransit_009", "In Transit"),
    label("InTransit_011", "In Transit"),
    label("InTransit_012", "In Transit"),
    label("InTransit_013", "In Transit"),
    label("OutForDelivery_001", "Out for Delivery"),
    label("OutForDelivery_003", "Out for Delivery"),
    label("OutForDelivery_004", "Out for Delivery"),
    confirmed("AttemptFail_001", "Failed Attempt"),
    label("AttemptFail_002", "Failed Attempt"),
    label("AttemptFail_003", "Failed Attempt"),
    confirmed("Delivered_001", "Delivered"),
    confirmed("Delivered_002", "Picked up by the customer"),
    confirmed("Delivered_003", "Sign by customer"),
    confirmed("Delivered_004", "Delivered and received cash on delivery"),
    confirmed("Delivered_005", "Delivered to neighbor"),
    confirmed("AvailableForPickup_001", "Available for pickup"),
    confirmed("Exception_001", "Exception"),
    confirmed("Exception_002", "Customer moved"),
    confirmed("Exception_003", "Customer refused delivery"),
    confirmed("Exception_004", "Delayed (Customs clearance)"),
    confirmed("Exception_005", "Delayed (External factors)"),
    confirmed("Exception_006", "Held for payment"),
    confirmed("Exception_007", "Incorrect Address"),
    confirmed("Exception_008", "Pick up missed"),
    confirmed("Exception_009", "Rejected by carrier"),
    confirmed("Exception_010", "Returning to sender"),
    confirmed("Exception_011", "Returned to sender"),
    confirmed("Exception_012", "Shipment damage"),
    confirmed("Exception_013", "Shipment lost"),
    confirmed("Exception_016", "Delayed (Processing issue)"),
    confirmed("Exception_017", "Delayed (Extreme weather)"),
    confirmed("Exception_018", "Incorrect/missing documents"),
    confirmed("Exception_019", "Delayed (Late flight)"),
    confirmed("Exception_020", "Shipment cancelled"),
    confirmed("Exception_021", "Shipment disposed"),
    label("Expired_001", "Expired"),
];

/// The known subtags of `tag`, its default (`_001`) first; none for an unknown tag.
pub fn subtags(tag: &Tag) -> impl Iterator<Item = &'static KnownSubtag> + '_ {
    SUBTAGS.iter().filter(move |s| !matches!(tag, Tag::Unknown(_)) && tag_of(s.code) == tag.as_str())
}

/// The tag part of a subtag code (`Exception` of `Exception_005`).
fn tag_of(subtag: &str) -> &str {
    subtag.split_once('_').map_or(subtag, |(tag, _)| tag)
}

/// A known subtag (any wording, confirmed or a label).
pub fn known_subtag(subtag: &str) -> Option<&'static KnownSubtag> {
    SUBTAGS.iter().find(|s| s.code == subtag)
}

/// AfterShip's confirmed wording of a subtag (`Exception_005` is "Delayed (External factors)");
/// `None` for a subtag whose wording no public source confirms, or an unknown one: show the
/// payload's `subtag_message` then.
pub fn subtag_wording(subtag: &str) -> Option<&'static str> {
    known_subtag(subtag.trim()).filter(|s| s.confirmed).map(|s| s.wording)
}

impl std::fmt::Display for Tag {
    /// The wire name.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_tags_round_trip() {
        for tag in Tag::KNOWN {
            assert_eq!(Tag::parse(tag.as_str()), tag);
            assert!(!matches!(Tag::parse(tag.as_str()), Tag::Unknown(_)));
        }
    }

    #[test]
    fn labels() {
        let labels: Vec<String> = Tag::KNOWN.iter().map(Tag::label).collect();
        assert_eq!(
            labels,
            [
                "Pending",
                "Info received",
                "In transit",
                "Out for delivery",
                "Failed attempt",
                "Delivered",
                "Available for pickup",
                "Exception",
                "Expired"
            ]
        );
    }

    #[test]
    fn unknown_tags_are_kept_verbatim() {
        let tag = Tag::parse("HeldAtCustoms");
        assert_eq!(tag, Tag::Unknown("HeldAtCustoms".into()));
        assert_eq!(tag.as_str(), "HeldAtCustoms");
        assert_eq!(tag.label(), "HeldAtCustoms");
        // Case matters on the wire: a differently cased tag is not the known one.
        assert_eq!(Tag::parse("delivered"), Tag::Unknown("delivered".into()));
        assert_eq!(Tag::parse(""), Tag::Unknown(String::new()));
    }

    #[test]
    fn default_notify_set() {
        let tags = Tag::default_notify();
        assert_eq!(tags.len(), 5);
        for tag in
            [Tag::OutForDelivery, Tag::AvailableForPickup, Tag::Delivered, Tag::AttemptFail, Tag::Exception]
        {
            assert!(tags.contains(&tag), "{tag} should notify by default");
        }
        assert!(!tags.contains(&Tag::InTransit));
        assert!(!tags.contains(&Tag::Pending));
    }

    #[test]
    fn confirmed_subtag_wordings() {
        assert_eq!(subtag_wording("Exception_005"), Some("Delayed (External factors)"));
        assert_eq!(subtag_wording("Delivered_005"), Some("Delivered to neighbor"));
        assert_eq!(subtag_wording("Exception_016"), Some("Delayed (Processing issue)"));
        assert_eq!(subtag_wording("Exception_021"), Some("Shipment disposed"));
        assert_eq!(subtag_wording(" AttemptFail_001 "), Some("Failed Attempt"));
        assert_eq!(subtag_wording("InTransit_007"), Some("Departure scan"));
        // Known, but no source confirms the words: the payload's subtag_message is shown instead.
        assert_eq!(subtag_wording("InTransit_001"), None);
        assert_eq!(subtag_wording("InTransit_012"), None);
        assert!(known_subtag("InTransit_012").is_some());
        assert_eq!(subtag_wording("Exception_014"), None);
        assert_eq!(subtag_wording("Nonsense"), None);
        for tag in Tag::KNOWN {
            let codes: Vec<&str> = subtags(&tag).map(|s| s.code).collect();
            assert_eq!(codes[0], format!("{}_001", tag.as_str()), "{tag}");
            assert!(codes.iter().all(|c| c.starts_with(&format!("{}_", tag.as_str()))));
        }
        assert_eq!(subtags(&Tag::Unknown("Pending".into())).count(), 0);
        assert_eq!(subtags(&Tag::Exception).count(), 19);
    }
}
