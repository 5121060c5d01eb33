//! Sample deliveries: shaped like AfterShip's published sample, of the documented sizes, parsing back
//! to what was asked for.

use std::collections::BTreeSet;

use serde_json::Value;
use shipwatch_aftership::dates::parse_lenient_ms;
use shipwatch_aftership::sample::{sample_body, SampleOptions};
use shipwatch_aftership::{parse_envelope, sign, verify_signature, DeliveryVerdict, EventKind, Secrets, Tag};

const FIXTURE: &[u8] = include_bytes!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../../tests/fixtures/aftership-v4-tracking-update.json"
));

/// 2021-01-14T10:41:25Z, the fixture's `ts`.
const TS: i64 = 1_610_620_885;

fn options(tag: Tag) -> SampleOptions {
    SampleOptions::new("0b6f3c1e-8d2a-4f6b-9c3e-5a7d1e2f4b60", "9400111899223817584213", tag, TS)
}

fn keys(value: &Value) -> BTreeSet<String> {
    value.as_object().unwrap().keys().cloned().collect()
}

fn all_tags() -> Vec<Tag> {
    let mut tags = Tag::KNOWN.to_vec();
    tags.push(Tag::Unknown("HeldAtCustoms".into()));
    tags
}

#[test]
fn defaults() {
    let opts = options(Tag::InTransit);
    assert_eq!(opts.slug, "usps");
    assert_eq!(opts.checkpoints, 2);
    assert_eq!(opts.tracking_id, None);
    assert_eq!(opts.title, None);
    assert_eq!(opts.order_id, None);
    assert_eq!(opts.ts, TS);
}

#[test]
fn body_is_compact_and_has_every_field_of_the_fixture() {
    let body = sample_body(&options(Tag::InTransit));
    assert!(!body.contains(&b'\n'));
    assert!(!body.starts_with(b"{ "));
    let sample: Value = serde_json::from_slice(&body).unwrap();
    let fixture: Value = serde_json::from_slice(FIXTURE).unwrap();
    assert_eq!(keys(&sample), keys(&fixture));
    assert_eq!(keys(&sample["msg"]), keys(&fixture["msg"]));
    assert_eq!(keys(&sample["msg"]["checkpoints"][0]), keys(&fixture["msg"]["checkpoints"][0]));
    assert_eq!(sample["event"], "tracking_update");
    assert_eq!(sample["ts"], TS);
    // The same key order as the fixture.
    let text = String::from_utf8(body).unwrap();
    assert!(text.starts_with(r#"{"event_id":"0b6f3c1e-8d2a-4f6b-9c3e-5a7d1e2f4b60","event":"tracking_update","is_tracking_first_tag":true,"msg":{"id":""#));
    assert!(text.ends_with(&format!(r#""courier_redirect_link":"https://tools.usps.com/go/TrackConfirmAction?tRef=fullpage&tLc=2&text28777=&tLabels=9400111899223817584213,"}},"ts":{TS}}}"#)));
}

#[test]
fn sizes() {
    let mut opts = options(Tag::InTransit);
    let two = sample_body(&opts).len();
    // Like AfterShip's published sample compacted (2,551 bytes).
    assert!((2_000..=3_000).contains(&two), "2 checkpoints gave {two} bytes");

    opts.checkpoints = SampleOptions::CHECKPOINTS_FOR_17_KB;
    let seventeen = sample_body(&opts).len();
    assert!(
        (16_500..=17_900).contains(&seventeen),
        "{} checkpoints gave {seventeen} bytes",
        opts.checkpoints
    );

    opts.checkpoints = 40;
    let forty = sample_body(&opts).len();
    assert!((16_000..=17_500).contains(&forty), "40 checkpoints gave {forty} bytes");

    // Each checkpoint adds roughly the same amount.
    opts.checkpoints = 3;
    let three = sample_body(&opts).len();
    assert!((300..=450).contains(&(three - two)), "a checkpoint adds {} bytes", three - two);
}

#[test]
fn parses_back_with_the_requested_tag() {
    for tag in all_tags() {
        for checkpoints in [1, 2, 3, 7, 40] {
            let mut opts = options(tag.clone());
            opts.checkpoints = checkpoints;
            let envelope = parse_envelope(&sample_body(&opts)).unwrap();
            assert_eq!(envelope.event, Some(EventKind::TrackingUpdate));
            assert_eq!(envelope.event_id.as_deref(), Some(opts.event_id.as_str()));
            assert_eq!(envelope.ts, Some(TS));
            assert_eq!(envelope.is_tracking_first_tag, Some(true));

            let msg = envelope.msg.unwrap();
            assert_eq!(msg.tag.as_ref(), Some(&tag));
            assert_eq!(msg.tracking_number.as_deref(), Some("9400111899223817584213"));
            assert_eq!(msg.slug.as_deref(), Some("usps"));
            assert_eq!(msg.title.as_deref(), Some("9400111899223817584213"));
            assert_eq!(msg.checkpoints.len(), checkpoints);
            let last = msg.checkpoints.last().unwrap();
            assert_eq!(last.tag.as_ref(), Some(&tag), "{tag} x {checkpoints}");
            assert_eq!(last.subtag, msg.subtag);
            assert_eq!(last.subtag_message, msg.subtag_message);
            assert!(msg.subtag.as_deref().unwrap().starts_with(&format!("{}_", tag.as_str())));

            // Checkpoint times increase and end at ts; updated_at is ts.
            let times: Vec<i64> = msg
                .checkpoints
                .iter()
                .map(|c| parse_lenient_ms(c.checkpoint_time.as_deref().unwrap()).unwrap())
                .collect();
            assert!(times.windows(2).all(|w| w[0] < w[1]), "{times:?}");
            assert_eq!(*times.last().unwrap(), TS * 1000);
            assert_eq!(msg.updated_at.as_deref(), Some("2021-01-14T10:41:25+00:00"));
            assert_eq!(msg.last_updated_at.as_deref(), Some("2021-01-14T10:41:25+00:00"));
            assert_eq!(msg.state_time_ms(), Some(TS * 1000));
            for checkpoint in &msg.checkpoints {
                assert!(checkpoint.message.is_some());
                assert!(checkpoint.location.is_some());
                assert!(checkpoint.city.is_some());
                assert!(checkpoint.postal_code.is_some());
                let created = parse_lenient_ms(checkpoint.created_at.as_deref().unwrap()).unwrap();
                assert!(created <= TS * 1000);
            }
        }
    }
}

#[test]
fn delivered_subtag() {
    let msg = parse_envelope(&sample_body(&options(Tag::Delivered))).unwrap().msg.unwrap();
    assert_eq!(msg.subtag.as_deref(), Some("Delivered_001"));
    assert_eq!(msg.subtag_message.as_deref(), Some("Delivered"));
    assert_eq!(msg.checkpoints[0].tag, Some(Tag::InfoReceived));
}

#[test]
fn delivered_after_out_for_delivery() {
    let mut opts = options(Tag::Delivered);
    opts.checkpoints = 6;
    let msg = parse_envelope(&sample_body(&opts)).unwrap().msg.unwrap();
    let tags: Vec<Tag> = msg.checkpoints.iter().map(|c| c.tag.clone().unwrap()).collect();
    assert_eq!(
        tags,
        [
            Tag::InfoReceived,
            Tag::InTransit,
            Tag::InTransit,
            Tag::InTransit,
            Tag::OutForDelivery,
            Tag::Delivered
        ]
    );
}

#[test]
fn options_are_used() {
    let mut opts = options(Tag::Exception);
    opts.tracking_id = Some("custom-id".into());
    opts.slug = "fedex".into();
    opts.title = Some("Birthday \"present\" 🎁".into());
    opts.order_id = Some("#1001".into());
    let msg = parse_envelope(&sample_body(&opts)).unwrap().msg.unwrap();
    assert_eq!(msg.id.as_deref(), Some("custom-id"));
    assert_eq!(msg.slug.as_deref(), Some("fedex"));
    assert_eq!(msg.title.as_deref(), Some("Birthday \"present\" 🎁"));
    assert_eq!(msg.order_id.as_deref(), Some("#1001"));
    assert!(msg.checkpoints.iter().all(|c| c.slug.as_deref() == Some("fedex")));
}

#[test]
fn default_id_is_stable_and_like_afterships() {
    let a = parse_envelope(&sample_body(&options(Tag::InTransit))).unwrap().msg.unwrap();
    let b = parse_envelope(&sample_body(&options(Tag::Delivered))).unwrap().msg.unwrap();
    let id = a.id.unwrap();
    assert_eq!(id.len(), 24);
    assert!(id.bytes().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit()));
    assert_eq!(Some(id.clone()), b.id);
    let mut other = options(Tag::InTransit);
    other.tracking_number = "9400111899223817584214".into();
    let other_id = parse_envelope(&sample_body(&other)).unwrap().msg.unwrap().id.unwrap();
    assert_ne!(id, other_id);
}

#[test]
fn deterministic_and_signable() {
    let opts = options(Tag::OutForDelivery);
    let body = sample_body(&opts);
    assert_eq!(body, sample_body(&opts));
    let secrets = Secrets { current: Some("sample-secret-9a8b7c".into()), previous: None };
    let header = sign("sample-secret-9a8b7c", &body);
    assert!(verify_signature(Some(&header), &body, &secrets).accepted());
    assert_eq!(
        verify_signature(Some(&header), &body, &secrets),
        DeliveryVerdict::Valid(shipwatch_aftership::SecretSlot::Current)
    );
}

#[test]
fn zero_checkpoints_means_one_and_odd_ts_never_panics() {
    for ts in [0, -5, i64::MIN, i64::MAX, 4_102_444_800] {
        let mut opts = options(Tag::Pending);
        opts.checkpoints = 0;
        opts.ts = ts;
        let envelope = parse_envelope(&sample_body(&opts)).unwrap();
        assert_eq!(envelope.ts, Some(ts));
        assert_eq!(envelope.msg.unwrap().checkpoints.len(), 1);
    }
}
