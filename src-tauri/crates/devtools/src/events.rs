//! Test events: AfterShip-shaped deliveries for any tag and subtag, in the legacy v4 shape or a
//! versioned one (`as-webhook-version: 2025-07` by default), with the headers AfterShip sends and the
//! `aftership-hmac-sha256` signature made with a given secret. The bodies come from
//! [`shipwatch_aftership::sample`], so the engine's parser reads back exactly what was asked for.

use std::str::FromStr;

use rand::Rng;
use shipwatch_aftership::sample::{sample_body, subtags_of, versioned_body, SampleOptions};
use shipwatch_aftership::{sign, EventKind, Tag, SIGNATURE_HEADER};

pub use shipwatch_aftership::sample::{subtag_message_of, DEFAULT_WEBHOOK_VERSION};

use crate::http::{OutgoingRequest, SendError, Sender, TargetResponse};
use crate::{DevtoolsError, Result};

/// The header a versioned webhook URL receives its version in.
pub const WEBHOOK_VERSION_HEADER: &str = "as-webhook-version";
/// The header that marks a delivery as Shipwatch's own test data (`x-shipwatch-test: 1`). The engine
/// believes it only on a validly signed delivery, and keeps such deliveries and their shipments out
/// of counts, the tray and the home page.
pub const TEST_HEADER: &str = "x-shipwatch-test";

/// The payload shape.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Shape {
    /// Legacy v4: `*_country_iso3`, `expected_delivery`, `customer_name`, no version header.
    #[default]
    V4,
    /// Versioned (2023-10 onward): `*_country_region`, 32-hex `id` + `legacy_id`, `customers[]`, the
    /// estimated-delivery objects, checkpoint `coordinate` and `events[]`, `as-webhook-version`.
    Versioned,
}

impl Shape {
    pub fn as_str(self) -> &'static str {
        match self {
            Shape::V4 => "v4",
            Shape::Versioned => "versioned",
        }
    }
}

impl FromStr for Shape {
    type Err = DevtoolsError;

    fn from_str(s: &str) -> Result<Shape> {
        match s.trim().to_ascii_lowercase().as_str() {
            "v4" | "legacy" => Ok(Shape::V4),
            "versioned" | "v2" | "new" => Ok(Shape::Versioned),
            other => Err(DevtoolsError::Invalid(format!("unknown shape {other:?}: use v4 or versioned"))),
        }
    }
}

/// What test delivery to build. Start from [`TestEvent::new`] and set what matters.
#[derive(Clone, Debug, PartialEq)]
pub struct TestEvent {
    pub tag: Tag,
    /// `None` = the tag's `_001`. Any string is sent as given (subtags are an open set).
    pub subtag: Option<String>,
    pub shape: Shape,
    /// `as-webhook-version` for [`Shape::Versioned`], `YYYY-MM`.
    pub version: String,
    /// `None` = `tracking_update`.
    pub event: Option<EventKind>,
    /// `None` = a random `SWTEST…` number.
    pub tracking_number: Option<String>,
    pub slug: String,
    pub title: Option<String>,
    pub order_id: Option<String>,
    /// At least 1.
    pub checkpoints: usize,
    /// Unix seconds; `None` = now.
    pub ts: Option<i64>,
    /// `None` = a random UUID v4.
    pub event_id: Option<String>,
}

impl TestEvent {
    /// A v4 `tracking_update` for `tag`, USPS, 2 checkpoints, random ids, now.
    pub fn new(tag: Tag) -> TestEvent {
        TestEvent {
            tag,
            subtag: None,
            shape: Shape::V4,
            version: DEFAULT_WEBHOOK_VERSION.to_owned(),
            event: None,
            tracking_number: None,
            slug: "usps".to_owned(),
            title: None,
            order_id: None,
            checkpoints: 2,
            ts: None,
            event_id: None,
        }
    }

    /// Checks the combination: a subtag must belong to the tag (`Delivered_001` is not an
    /// `InTransit` subtag), the version must look like `YYYY-MM`.
    pub fn validate(&self) -> Result<()> {
        if let Some(subtag) = self.subtag.as_deref() {
            let prefix = subtag.split_once('_').map_or(subtag, |(tag, _)| tag);
            if subtag.trim().is_empty() {
                return Err(DevtoolsError::Invalid(
                    "the subtag is empty: leave it out for the tag's default".into(),
                ));
            }
            if prefix != self.tag.as_str() {
                let known = known_subtags_text(&self.tag);
                return Err(DevtoolsError::Invalid(format!(
                    "{subtag} is not a subtag of {}: use one that starts with {}_{known}",
                    self.tag,
                    self.tag.as_str()
                )));
            }
        }
        let v = self.version.as_bytes();
        let version_ok =
            v.len() == 7 && v[4] == b'-' && v.iter().enumerate().all(|(i, b)| i == 4 || b.is_ascii_digit());
        if self.shape == Shape::Versioned && !version_ok {
            return Err(DevtoolsError::Invalid(format!(
                "webhook version {:?} is not like {DEFAULT_WEBHOOK_VERSION} (YYYY-MM)",
                self.version
            )));
        }
        Ok(())
    }
}

fn known_subtags_text(tag: &Tag) -> String {
    let known: Vec<&str> = subtags_of(tag).iter().map(|(s, _)| *s).collect();
    if known.is_empty() {
        String::new()
    } else {
        format!(" (known: {})", known.join(", "))
    }
}

/// The tag a subtag belongs to (`Delivered_005` → `Delivered`).
pub fn tag_of_subtag(subtag: &str) -> Tag {
    Tag::parse(subtag.split_once('_').map_or(subtag, |(tag, _)| tag))
}

/// A built test delivery, ready to send.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TestDelivery {
    pub event_id: String,
    pub tracking_number: String,
    /// `Content-Type`, `User-Agent`, `x-shipwatch-test: 1`, `as-webhook-version` (versioned only), and
    /// `aftership-hmac-sha256` when signed.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    pub signed: bool,
}

impl TestDelivery {
    /// The POST of this delivery to `url`.
    pub fn request(&self, url: &str) -> OutgoingRequest {
        OutgoingRequest {
            method: "POST".into(),
            url: url.to_owned(),
            headers: self.headers.clone(),
            body: self.body.clone(),
        }
    }
}

/// A random UUID v4, like AfterShip's `event_id`.
pub fn random_event_id() -> String {
    let mut b: [u8; 16] = rand::thread_rng().gen();
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let hex: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!("{}-{}-{}-{}-{}", &hex[0..8], &hex[8..12], &hex[12..16], &hex[16..20], &hex[20..32])
}

/// A random tracking number that says it is a test: `SWTEST` and 10 digits.
pub fn random_tracking_number() -> String {
    format!("SWTEST{:010}", rand::thread_rng().gen_range(0..10_000_000_000u64))
}

/// Builds the delivery; signs it when `secret` is given (an empty secret counts as none).
pub fn build(event: &TestEvent, secret: Option<&str>) -> Result<TestDelivery> {
    event.validate()?;
    let event_id = event.event_id.clone().unwrap_or_else(random_event_id);
    let tracking_number = event.tracking_number.clone().unwrap_or_else(random_tracking_number);
    let ts = event.ts.unwrap_or_else(|| time::OffsetDateTime::now_utc().unix_timestamp());
    let mut opts = SampleOptions::new(event_id.clone(), tracking_number.clone(), event.tag.clone(), ts);
    opts.slug = event.slug.clone();
    opts.title = event.title.clone();
    opts.order_id = event.order_id.clone();
    opts.checkpoints = event.checkpoints.max(1);
    opts.subtag = event.subtag.clone();
    opts.event = event.event.clone();
    let body = match event.shape {
        Shape::V4 => sample_body(&opts),
        Shape::Versioned => versioned_body(&opts, &event.version),
    };
    let mut headers = vec![
        ("Content-Type".to_owned(), "application/json".to_owned()),
        ("User-Agent".to_owned(), format!("Shipwatch/{} (test event)", env!("CARGO_PKG_VERSION"))),
        (TEST_HEADER.to_owned(), "1".to_owned()),
    ];
    if event.shape == Shape::Versioned {
        headers.push((WEBHOOK_VERSION_HEADER.to_owned(), event.version.clone()));
    }
    let secret = secret.filter(|s| !s.is_empty());
    if let Some(secret) = secret {
        headers.push((SIGNATURE_HEADER.to_owned(), sign(secret, &body)));
    }
    Ok(TestDelivery { event_id, tracking_number, headers, body, signed: secret.is_some() })
}

/// Posts a test delivery to `url`.
pub async fn send(sender: &Sender, url: &str, delivery: &TestDelivery) -> Result<TargetResponse, SendError> {
    sender.send(&delivery.request(url)).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use shipwatch_aftership::{parse_envelope, verify_signature, DeliveryVerdict, SecretSlot, Secrets};

    #[test]
    fn shapes_parse() {
        assert_eq!("v4".parse::<Shape>().unwrap(), Shape::V4);
        assert_eq!("Versioned".parse::<Shape>().unwrap(), Shape::Versioned);
        assert!("v5".parse::<Shape>().unwrap_err().to_string().contains("use v4 or versioned"));
    }

    #[test]
    fn uuid_v4() {
        let id = random_event_id();
        assert_eq!(id.len(), 36);
        assert_eq!(&id[14..15], "4");
        assert!(matches!(&id[19..20], "8" | "9" | "a" | "b"));
        assert_ne!(id, random_event_id());
        let tn = random_tracking_number();
        assert!(tn.starts_with("SWTEST") && tn.len() == 16, "{tn}");
    }

    #[test]
    fn signed_versioned_delivery() {
        let mut event = TestEvent::new(Tag::Delivered);
        event.subtag = Some("Delivered_005".into());
        event.shape = Shape::Versioned;
        event.tracking_number = Some("TN1".into());
        let delivery = build(&event, Some("s3cret")).unwrap();
        assert!(delivery.signed);
        let header = |name: &str| {
            delivery.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
        };
        assert_eq!(header("as-webhook-version"), Some(DEFAULT_WEBHOOK_VERSION));
        assert_eq!(header("x-shipwatch-test"), Some("1"));
        let secrets = Secrets { current: Some("s3cret".into()), previous: None };
        assert_eq!(
            verify_signature(header("aftership-hmac-sha256"), &delivery.body, &secrets),
            DeliveryVerdict::Valid(SecretSlot::Current)
        );
        let msg = parse_envelope(&delivery.body).unwrap().msg.unwrap();
        assert_eq!(msg.subtag.as_deref(), Some("Delivered_005"));
        assert_eq!(msg.tracking_number.as_deref(), Some("TN1"));
        assert_eq!(msg.id.unwrap().len(), 32);
    }

    #[test]
    fn unsigned_v4_has_no_version_header() {
        let delivery = build(&TestEvent::new(Tag::InTransit), None).unwrap();
        assert!(!delivery.signed);
        assert!(delivery.headers.iter().all(|(n, _)| n != "as-webhook-version" && n != SIGNATURE_HEADER));
        assert!(delivery.headers.iter().any(|(n, v)| n == TEST_HEADER && v == "1"), "test data, always");
        assert!(build(&TestEvent::new(Tag::InTransit), Some("")).unwrap().headers.len() == 3);
    }

    #[test]
    fn mismatched_subtag_and_bad_version_are_refused() {
        let mut event = TestEvent::new(Tag::InTransit);
        event.subtag = Some("Delivered_001".into());
        let err = build(&event, None).unwrap_err().to_string();
        assert!(err.contains("not a subtag of InTransit") && err.contains("InTransit_007"), "{err}");
        let mut event = TestEvent::new(Tag::InTransit);
        event.shape = Shape::Versioned;
        event.version = "2025-7".into();
        assert!(build(&event, None).unwrap_err().to_string().contains("YYYY-MM"));
        assert_eq!(tag_of_subtag("Exception_004"), Tag::Exception);
    }
}
