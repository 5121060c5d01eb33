//! AfterShip status tags (`tag`): a closed list we know plus `Unknown` for whatever comes next.

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
}
