//! What a notification is about ([`Kind`]: a tag a shipment reached, or an alert: late, stuck, a
//! later estimate) and what the engine's clock hands the notification task ([`Alert`]).

use shipwatch_aftership::Tag;
use shipwatch_api::{Attention, AttentionKind, ShipmentItem};

/// What one notification is about.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Kind {
    /// A shipment reached this tag for the first time.
    Tag(Tag),
    /// Past its due date (the clock).
    Late,
    /// No courier scan for the configured days (the clock), or a `tracking_pending_time` event.
    Stuck,
    /// An `edd_revise` (or an update) moved the estimated delivery later.
    EstimateLater,
}

impl Kind {
    /// From [`Kind::as_str`].
    pub fn parse(s: &str) -> Kind {
        match s {
            "late" => Kind::Late,
            "stuck" => Kind::Stuck,
            "estimate_later" => Kind::EstimateLater,
            tag => Kind::Tag(Tag::parse(tag)),
        }
    }

    /// The name kept in the notification log (`Exception`, `late`, `stuck`, `estimate_later`).
    pub fn as_str(&self) -> &str {
        match self {
            Kind::Tag(t) => t.as_str(),
            Kind::Late => "late",
            Kind::Stuck => "stuck",
            Kind::EstimateLater => "estimate_later",
        }
    }

    /// As counted in a summary: `3 delivered`, `1 exception`, `2 late`.
    pub fn in_sentence(&self) -> String {
        match self {
            Kind::Tag(t) => crate::text::label_in_sentence(t),
            Kind::Late => "late".into(),
            Kind::Stuck => "stuck".into(),
            Kind::EstimateLater => "with a later estimate".into(),
        }
    }

    /// Position among the kinds that need the merchant (exceptions first), `None` for the others
    /// (good news comes after, by how many).
    pub fn urgency_rank(&self) -> Option<u8> {
        match self {
            Kind::Tag(Tag::Exception) => Some(0),
            Kind::Tag(Tag::AttemptFail) => Some(1),
            Kind::Late => Some(2),
            Kind::Stuck => Some(3),
            Kind::EstimateLater => Some(4),
            Kind::Tag(_) => None,
        }
    }

    /// The kind of a clock alert.
    pub fn of_attention(kind: AttentionKind) -> Kind {
        match kind {
            AttentionKind::Exception => Kind::Tag(Tag::Exception),
            AttentionKind::FailedAttempt => Kind::Tag(Tag::AttemptFail),
            AttentionKind::Late => Kind::Late,
            AttentionKind::Stuck => Kind::Stuck,
            AttentionKind::WaitingForPickup => Kind::Tag(Tag::AvailableForPickup),
        }
    }
}

/// What the engine's clock hands the notification task.
#[derive(Clone, Debug, PartialEq)]
pub enum Alert {
    /// A shipment that became late or stuck (one per shipment and kind until its due date or last
    /// scan changes).
    Attention { shipment: Box<ShipmentItem>, attention: Attention },
    /// The daily digest at the user's `digest_at`.
    Digest { attention: i64, delivered_yesterday: i64 },
}
