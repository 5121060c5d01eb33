//! AfterShip's 2025-2026 payloads (2025-01 to 2026-07): `order_number`, `customers[]`, ids of up to
//! 128 characters, `custom_fields: null`, checkpoint `postal_code`, `checkpoints[].hash`,
//! `proof_of_delivery`, `revise_reason`, a promised delivery date that may be a range, and the events
//! whose `msg` names the tracking only by slug and tracking number. The fixtures are modelled on
//! AfterShip's 2026-07 webhook shape.

use serde_json::json;
use shipwatch_aftership::dates::due_end_ms;
use shipwatch_aftership::{
    courier_name, parse_envelope, parse_envelope_lean, subtag_wording, Checkpoint, EventKind, Tag,
};

fn fixture(name: &str) -> Vec<u8> {
    let path = format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

#[test]
fn a_2026_07_tracking_update() {
    let env = parse_envelope(&fixture("2026-07-tracking-update.json")).unwrap();
    assert_eq!(env.event, Some(EventKind::TrackingUpdate));
    let msg = env.msg.unwrap();
    assert_eq!(msg.id.as_deref().map(str::len), Some(61), "an id that is not 32 hex characters");
    assert_eq!(msg.legacy_id, None);
    assert_eq!(msg.order_id.as_deref(), Some("5102938475"));
    assert_eq!(msg.order_number.as_deref(), Some("#1042"));
    assert_eq!(msg.customer_name.as_deref(), Some("Ada Lovelace"), "customers[0].name");
    assert_eq!(msg.tag, Some(Tag::InTransit));
    assert_eq!(msg.best_expected_delivery.as_deref(), Some("2026-12-03"));
    assert_eq!(msg.due.as_deref(), Some("2026-12-03"));
    assert_eq!(msg.order_promised_delivery_date.as_deref(), Some("2026-12-04"), "the range's end");
    assert_eq!(msg.revise_reason, None);
    assert_eq!(msg.proof_of_delivery, None, "null is no proof");
    assert_eq!(msg.signed_by, None);
    assert_eq!(msg.origin_country.as_deref(), Some("USA"));
    let [first, second] = &msg.checkpoints[..] else { panic!("two checkpoints: {:?}", msg.checkpoints) };
    assert_eq!(first.hash.as_deref(), Some("9a0c1e5d2b7f4c3a8e6d0b1f2a3c4d5e"));
    assert_eq!(first.postal_code, None);
    assert_eq!(second.postal_code.as_deref(), Some("38118"), "postal_code (2026-01)");
    assert_eq!(second.country.as_deref(), Some("USA"));
    // The lean parse digests the same identities.
    let lean = parse_envelope_lean(&fixture("2026-07-tracking-update.json")).unwrap().msg.unwrap();
    assert_eq!(lean.checkpoint_digest, msg.checkpoint_digest);
    assert_eq!(lean.checkpoint_digest.keys, [first.identity().key(), second.identity().key()]);
    assert_eq!(
        lean.checkpoint_digest.content_keys,
        [first.identity().content_key(), second.identity().content_key()]
    );
}

#[test]
fn a_2026_07_delivery_with_its_proof() {
    let msg = parse_envelope(&fixture("2026-07-tracking-update-delivered.json")).unwrap().msg.unwrap();
    assert_eq!(msg.tag, Some(Tag::Delivered));
    assert_eq!(msg.subtag.as_deref(), Some("Delivered_005"));
    assert_eq!(subtag_wording("Delivered_005"), Some("Delivered to neighbor"));
    assert_eq!(msg.signed_by.as_deref(), Some("J. NEIGHBOUR"));
    let pod = msg.proof_of_delivery.unwrap();
    assert_eq!(pod[0]["type"], "signature");
    assert_eq!(pod[1]["url"], "https://pod.example.com/794611223344/photo.jpg");
    assert_eq!(msg.revise_reason.as_deref(), Some("Weather delay"));
    assert_eq!(msg.due.as_deref(), Some("2026-12-05"), "latest_estimated_delivery first");
    assert_eq!(msg.checkpoints.last().unwrap().events, ["delivered_to_neighbor"]);
    // 2026-12-03T14:57:00-05:00, the Delivered checkpoint.
    assert_eq!(msg.checkpoint_digest.delivered_at, Some(1_796_327_820_000));
    let update = parse_envelope_lean(&fixture("2026-07-tracking-update.json")).unwrap().msg.unwrap();
    assert_eq!(update.checkpoint_digest.delivered_at, None);
}

#[test]
fn events_that_name_the_tracking_by_slug_and_tracking_number_only() {
    for (name, event) in [
        ("2026-07-edd-revise.json", EventKind::EddRevise),
        ("2026-07-tracking-pending-time.json", EventKind::TrackingPendingTime),
    ] {
        let env = parse_envelope(&fixture(name)).unwrap();
        assert_eq!(env.event, Some(event), "{name}");
        let msg = env.msg.unwrap();
        assert_eq!((msg.id, msg.legacy_id), (None, None), "{name}");
        assert_eq!(msg.slug.as_deref(), Some("fedex"));
        assert_eq!(msg.tracking_number.as_deref(), Some("794611223344"));
        assert_eq!(msg.tag, None);
        assert!(msg.checkpoints.is_empty());
        assert_eq!(msg.best_expected_delivery.as_deref(), Some("2026-12-05"));
        assert_eq!(msg.due.as_deref(), Some("2026-12-05"));
        assert!(msg.estimated_delivery.unwrap().get("aftership_estimated_delivery_date").is_some());
    }
}

#[test]
fn an_id_of_128_characters_and_null_custom_fields() {
    let id = "x".repeat(128);
    let body =
        json!({ "event": "tracking_update", "msg": { "id": id, "custom_fields": null, "tag": "Pending" } });
    let msg = parse_envelope(body.to_string().as_bytes()).unwrap().msg.unwrap();
    assert_eq!(msg.id.as_deref(), Some(id.as_str()));
    assert_eq!(msg.tag, Some(Tag::Pending));
}

#[test]
fn the_first_customer_with_a_name_is_the_customer() {
    let body = json!({ "msg": { "customers": [{ "name": null }, { "name": "Grace Hopper" }, { "name": "Other" }] } });
    let msg = parse_envelope(body.to_string().as_bytes()).unwrap().msg.unwrap();
    assert_eq!(msg.customer_name.as_deref(), Some("Grace Hopper"));
    // The legacy field still wins where it is sent.
    let body = json!({ "msg": { "customer_name": "Ada", "customers": [{ "name": "Grace" }] } });
    let msg = parse_envelope(body.to_string().as_bytes()).unwrap().msg.unwrap();
    assert_eq!(msg.customer_name.as_deref(), Some("Ada"));
}

#[test]
fn a_checkpoint_postal_code_as_zip_or_postal_code() {
    let body = json!({ "msg": { "checkpoints": [
        { "zip": "10001" }, { "postal_code": "M5V 2T6" }, { "zip": "", "postal_code": "75001" }
    ] } });
    let msg = parse_envelope(body.to_string().as_bytes()).unwrap().msg.unwrap();
    let codes: Vec<_> = msg.checkpoints.iter().map(|c| c.postal_code.as_deref()).collect();
    assert_eq!(codes, [Some("10001"), Some("M5V 2T6"), Some("75001")]);
}

#[test]
fn the_promised_date_as_a_date_or_a_range_of_any_shape() {
    let promised = |value: serde_json::Value| {
        let body = json!({ "msg": { "order_promised_delivery_date": value } });
        let msg = parse_envelope(body.to_string().as_bytes()).unwrap().msg.unwrap();
        (msg.order_promised_delivery_date, msg.due)
    };
    let both = |s: &str| (Some(s.to_owned()), Some(s.to_owned()));
    assert_eq!(promised(json!("2026-12-04")), both("2026-12-04"));
    assert_eq!(promised(json!("2026-12-04T18:00:00+01:00")), both("2026-12-04T18:00:00+01:00"));
    assert_eq!(promised(json!("2026-12-02 - 2026-12-04")), both("2026-12-04"));
    assert_eq!(promised(json!("2026-12-02/2026-12-04")), both("2026-12-04"));
    assert_eq!(promised(json!(["2026-12-02", "2026-12-04"])), both("2026-12-04"));
    assert_eq!(promised(json!({ "start": "2026-12-02", "end": "2026-12-04" })), both("2026-12-04"));
    assert_eq!(
        promised(
            json!({ "promised_delivery_date_min": "2026-12-02", "promised_delivery_date_max": "2026-12-04" })
        ),
        both("2026-12-04")
    );
    assert_eq!(promised(json!({ "min": "2026-12-02", "max": null })), both("2026-12-02"));
    assert_eq!(promised(json!(null)), (None, None));
    assert_eq!(promised(json!("")), (None, None));
    // An estimate comes before the promise.
    let body =
        json!({ "msg": { "order_promised_delivery_date": "2026-12-09", "expected_delivery": "2026-12-07" } });
    let msg = parse_envelope(body.to_string().as_bytes()).unwrap().msg.unwrap();
    assert_eq!(msg.due.as_deref(), Some("2026-12-07"));
    // An estimate with only a range is due at its end.
    let body = json!({ "msg": { "latest_estimated_delivery": {
        "datetime": null, "datetime_min": "2026-12-04T09:00:00-05:00", "datetime_max": "2026-12-04T18:00:00-05:00"
    } } });
    let msg = parse_envelope(body.to_string().as_bytes()).unwrap().msg.unwrap();
    assert_eq!(msg.due.as_deref(), Some("2026-12-04T18:00:00-05:00"));
    assert_eq!(due_end_ms(msg.due.as_deref().unwrap()), Some(1_796_425_200_000));
}

#[test]
fn a_checkpoint_hash_is_its_identity() {
    let checkpoint = Checkpoint {
        checkpoint_time: Some("2026-11-30T21:40:00-05:00".into()),
        message: Some("Departed FedEx hub".into()),
        hash: Some("4f1b2c3d".into()),
        ..Default::default()
    };
    let reworded = Checkpoint { message: Some("Departed FedEx hub in Memphis".into()), ..checkpoint.clone() };
    assert_eq!(checkpoint.identity().key(), reworded.identity().key(), "one hash, one checkpoint");
    assert_ne!(checkpoint.identity().content_key(), reworded.identity().content_key());
    let other = Checkpoint { hash: Some("4f1b2c3e".into()), ..checkpoint.clone() };
    assert_ne!(checkpoint.identity().key(), other.identity().key(), "the same words, two checkpoints");
    // Without a hash the identity is the content key, as stored before 2026-07.
    let unhashed = Checkpoint { hash: None, ..checkpoint.clone() };
    assert_eq!(unhashed.identity().key(), unhashed.identity().content_key());
    assert_eq!(unhashed.identity().content_key(), checkpoint.identity().content_key());
    assert_ne!(unhashed.identity().key(), checkpoint.identity().key());
}

#[test]
fn courier_names() {
    assert_eq!(courier_name("fedex"), "FedEx");
    assert_eq!(courier_name("dhl-express"), "DHL Express");
    assert_eq!(courier_name("some-local-post"), "SOME LOCAL POST");
}

#[test]
fn samples_of_2026_07_carry_checkpoint_hashes() {
    use shipwatch_aftership::sample::{versioned_body, SampleOptions};
    let mut opts = SampleOptions::new("e-1", "SWTEST0000000001", Tag::InTransit, 1_796_000_000);
    opts.checkpoints = 3;
    let hashes = |version: &str| {
        let msg = parse_envelope(&versioned_body(&opts, version)).unwrap().msg.unwrap();
        msg.checkpoints.iter().map(|c| c.hash.clone()).collect::<Vec<_>>()
    };
    let with = hashes("2026-07");
    assert_eq!(with.len(), 3);
    assert!(with.iter().all(|h| h.as_ref().is_some_and(|h| h.len() == 32)), "{with:?}");
    let mut distinct = with.clone();
    distinct.dedup();
    assert_eq!(distinct.len(), 3);
    assert_eq!(hashes("2026-07"), with, "the same checkpoint, the same hash");
    assert!(hashes("2026-01").iter().all(Option::is_none));
}
