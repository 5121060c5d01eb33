//! Sample deliveries for any subtag and in the versioned shape: the parser reads back what was asked.

use serde_json::Value;
use shipwatch_aftership::payload::checkpoint_coordinates;
use shipwatch_aftership::sample::{
    sample_body, subtag_message_of, subtags_of, versioned_body, SampleOptions, DEFAULT_WEBHOOK_VERSION,
};
use shipwatch_aftership::{parse_envelope, EventKind, Tag};

const TS: i64 = 1_751_371_200; // 2025-07-01T12:00:00Z

fn options(tag: Tag) -> SampleOptions {
    SampleOptions::new("5d0c1a7e-3b2f-4c8d-9e1a-7f6b5c4d3e2f", "9400111899223817584213", tag, TS)
}

#[test]
fn every_known_subtag_round_trips_in_both_shapes() {
    for tag in Tag::KNOWN {
        assert!(!subtags_of(&tag).is_empty(), "{tag}");
        assert_eq!(subtags_of(&tag)[0].0, format!("{}_001", tag.as_str()));
        for (subtag, message) in subtags_of(&tag) {
            assert_eq!(subtag_message_of(subtag), Some(message));
            for checkpoints in [1, 4] {
                let mut opts = options(tag.clone());
                opts.subtag = Some(subtag.to_string());
                opts.checkpoints = checkpoints;
                for body in [sample_body(&opts), versioned_body(&opts, DEFAULT_WEBHOOK_VERSION)] {
                    let msg = parse_envelope(&body).unwrap().msg.unwrap();
                    assert_eq!(msg.tag.as_ref(), Some(&tag));
                    assert_eq!(msg.subtag.as_deref(), Some(subtag));
                    assert_eq!(msg.subtag_message.as_deref(), Some(message));
                    let last = msg.checkpoints.last().unwrap();
                    assert_eq!(last.tag.as_ref(), Some(&tag));
                    assert_eq!(last.subtag.as_deref(), Some(subtag));
                    assert_eq!(msg.checkpoints.len(), checkpoints);
                }
            }
        }
    }
    assert!(subtags_of(&Tag::Unknown("HeldAtCustoms".into())).is_empty());
    assert_eq!(subtag_message_of("Delivered_099"), None);
}

#[test]
fn unknown_subtags_and_messages_are_sent_as_given() {
    let mut opts = options(Tag::Exception);
    opts.subtag = Some("Exception_099".into());
    let msg = parse_envelope(&versioned_body(&opts, "2025-07")).unwrap().msg.unwrap();
    assert_eq!(msg.subtag.as_deref(), Some("Exception_099"));
    assert_eq!(msg.subtag_message.as_deref(), Some("Exception"));
    opts.subtag_message = Some("Stuck behind a llama".into());
    let msg = parse_envelope(&sample_body(&opts)).unwrap().msg.unwrap();
    assert_eq!(msg.subtag_message.as_deref(), Some("Stuck behind a llama"));
}

#[test]
fn versioned_shape_parses_with_its_own_fields() {
    let mut opts = options(Tag::AttemptFail);
    opts.checkpoints = 5;
    opts.order_id = Some("#1042".into());
    let body = versioned_body(&opts, "2025-07");
    assert!(!body.contains(&b'\n'));
    let raw: Value = serde_json::from_slice(&body).unwrap();
    let raw_msg = &raw["msg"];
    for legacy_only in
        ["origin_country_iso3", "destination_country_iso3", "customer_name", "expected_delivery"]
    {
        assert!(raw_msg.get(legacy_only).is_none(), "{legacy_only} is legacy only");
    }
    assert!(raw_msg["custom_fields"].is_null(), "2025-07 made custom_fields null by default");
    assert_eq!(raw["event"], "tracking_update");

    let envelope = parse_envelope(&body).unwrap();
    assert_eq!(envelope.event, Some(EventKind::TrackingUpdate));
    assert_eq!(envelope.ts, Some(TS));
    let msg = envelope.msg.unwrap();
    let id = msg.id.clone().unwrap();
    assert_eq!(id.len(), 32);
    assert!(id.bytes().all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()));
    let legacy: Value = serde_json::from_slice(&sample_body(&opts)).unwrap();
    assert_eq!(msg.legacy_id.as_deref(), legacy["msg"]["id"].as_str());
    assert_eq!(msg.customer_name.as_deref(), Some("Ada Lovelace"));
    assert_eq!(msg.origin_country.as_deref(), Some("USA"));
    assert_eq!(msg.destination_country.as_deref(), Some("USA"));
    assert_eq!(msg.order_id.as_deref(), Some("#1042"));
    assert_eq!(msg.expected_delivery, None);
    let edd = msg.estimated_delivery.clone().unwrap();
    for key in [
        "latest_estimated_delivery",
        "aftership_estimated_delivery_date",
        "courier_estimated_delivery_date",
        "first_estimated_delivery",
    ] {
        assert!(edd.get(key).is_some(), "{key}");
    }
    assert_eq!(msg.best_expected_delivery.as_deref(), edd["latest_estimated_delivery"]["datetime"].as_str());
    // updated_at drives ordering (last_updated_at is deprecated in the versioned shape).
    assert_eq!(msg.state_time_ms(), Some(TS * 1000));

    // Checkpoints: region, postal code, coordinate objects and events.
    assert_eq!(msg.checkpoints.len(), 5);
    for (parsed, raw) in msg.checkpoints.iter().zip(raw_msg["checkpoints"].as_array().unwrap()) {
        assert_eq!(parsed.country.as_deref(), Some("USA"));
        assert!(parsed.postal_code.is_some());
        assert!(raw["coordinate"].is_object());
        assert!(checkpoint_coordinates(raw).is_some());
    }
    let last = msg.checkpoints.last().unwrap();
    assert_eq!(last.events, ["delivery_attempt_failed"]);
}

#[test]
fn version_decides_renamed_fields() {
    let opts = options(Tag::InTransit);
    let old: Value = serde_json::from_slice(&versioned_body(&opts, "2024-01")).unwrap();
    let checkpoint = &old["msg"]["checkpoints"][0];
    assert!(checkpoint["coordinates"].is_array() && checkpoint.get("coordinate").is_none());
    assert!(checkpoint["zip"].is_string() && checkpoint.get("postal_code").is_none());
    assert_eq!(old["msg"]["custom_fields"], serde_json::json!({}));
    assert!(checkpoint_coordinates(checkpoint).is_some());

    let new: Value = serde_json::from_slice(&versioned_body(&opts, "2026-01")).unwrap();
    let checkpoint = &new["msg"]["checkpoints"][0];
    assert!(checkpoint["postal_code"].is_string() && checkpoint.get("zip").is_none());
    let parsed = parse_envelope(&versioned_body(&opts, "2026-01")).unwrap().msg.unwrap();
    assert_eq!(parsed.checkpoints[0].postal_code.as_deref(), checkpoint["postal_code"].as_str());
}

#[test]
fn other_events_and_checkpoint_event_codes() {
    let mut opts = options(Tag::InTransit);
    opts.event = Some(EventKind::EddRevise);
    let body = versioned_body(&opts, "2025-07");
    let envelope = parse_envelope(&body).unwrap();
    assert_eq!(envelope.event, Some(EventKind::EddRevise));
    let edd = envelope.msg.unwrap().estimated_delivery.unwrap();
    assert_ne!(edd["latest_estimated_delivery"]["datetime"], edd["first_estimated_delivery"]["datetime"]);

    let mut opts = options(Tag::Delivered);
    opts.subtag = Some("Delivered_005".into());
    let msg = parse_envelope(&versioned_body(&opts, "2025-07")).unwrap().msg.unwrap();
    assert_eq!(msg.checkpoints.last().unwrap().events, ["delivered_to_neighbor"]);
    assert_eq!(msg.signed_by.as_deref(), Some("Ada Lovelace"));

    let mut opts = options(Tag::Exception);
    opts.subtag = Some("Exception_004".into());
    let msg = parse_envelope(&versioned_body(&opts, "2025-07")).unwrap().msg.unwrap();
    assert_eq!(msg.checkpoints.last().unwrap().events, ["held_by_customs"]);
}

#[test]
fn versioned_ids_are_stable_per_tracking_number() {
    let a = parse_envelope(&versioned_body(&options(Tag::InTransit), "2025-07")).unwrap().msg.unwrap();
    let b = parse_envelope(&versioned_body(&options(Tag::Delivered), "2025-07")).unwrap().msg.unwrap();
    assert_eq!(a.id, b.id);
    let mut other = options(Tag::InTransit);
    other.tracking_number = "1Z999AA10123456784".into();
    let c = parse_envelope(&versioned_body(&other, "2025-07")).unwrap().msg.unwrap();
    assert_ne!(a.id, c.id);
}
