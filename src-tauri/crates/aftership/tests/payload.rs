//! Parsing deliveries: AfterShip's published legacy v4 sample, a versioned (2023-10 onward) body, and
//! bodies that are broken or use unexpected types.

use serde_json::{json, Value};
use shipwatch_aftership::payload::checkpoint_coordinates;
use shipwatch_aftership::sample::{sample_body, versioned_body as sample_versioned_body, SampleOptions};
use shipwatch_aftership::{
    parse_envelope, parse_envelope_lean, Checkpoint, CheckpointDigest, Envelope, EventKind, PayloadError, Tag,
};

const FIXTURE: &[u8] = include_bytes!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../../tests/fixtures/aftership-v4-tracking-update.json"
));

fn parse_json(value: serde_json::Value) -> shipwatch_aftership::Envelope {
    parse_envelope(value.to_string().as_bytes()).expect("an object parses")
}

#[test]
fn fixture_envelope() {
    let envelope = parse_envelope(FIXTURE).unwrap();
    assert_eq!(envelope.event, Some(EventKind::TrackingUpdate));
    assert_eq!(envelope.event_id.as_deref(), Some("3f645f5e-530b-4062-8695-db6a64420af8"));
    assert_eq!(envelope.ts, Some(1_610_620_885));
    assert_eq!(envelope.is_tracking_first_tag, Some(true));
    assert!(envelope.msg.is_some());
}

#[test]
fn fixture_tracking() {
    let msg = parse_envelope(FIXTURE).unwrap().msg.unwrap();
    assert_eq!(msg.id.as_deref(), Some("grhrexm6t3hiwkjwq37jd003"));
    assert_eq!(msg.legacy_id, None);
    assert_eq!(msg.tracking_number.as_deref(), Some("9361289676091361892011"));
    assert_eq!(msg.slug.as_deref(), Some("usps"));
    assert_eq!(msg.title.as_deref(), Some("9361289676091361892011"));
    assert_eq!(msg.order_id, None);
    assert_eq!(msg.customer_name, None);
    assert_eq!(msg.tag, Some(Tag::InTransit));
    assert_eq!(msg.subtag.as_deref(), Some("InTransit_001"));
    assert_eq!(msg.subtag_message.as_deref(), Some("In Transit"));
    assert_eq!(msg.expected_delivery, None);
    assert_eq!(msg.best_expected_delivery, None);
    assert_eq!(msg.estimated_delivery, None);
    assert_eq!(msg.created_at.as_deref(), Some("2021-01-14T10:41:23+00:00"));
    assert_eq!(msg.updated_at.as_deref(), Some("2021-01-14T10:41:24+00:00"));
    assert_eq!(msg.last_updated_at.as_deref(), Some("2021-01-14T10:41:24+00:00"));
    assert_eq!(
        msg.courier_tracking_link.as_deref(),
        Some("https://tools.usps.com/go/TrackConfirmAction?tLabels=9361289676091361892011")
    );
    assert!(msg.courier_redirect_link.as_deref().unwrap().ends_with("tLabels=9361289676091361892011,"));
    assert_eq!(msg.signed_by, None);
    assert_eq!(msg.origin_country.as_deref(), Some("USA"));
    assert_eq!(msg.destination_country.as_deref(), Some("USA"));
    assert_eq!(msg.state_time_ms(), Some(1_610_620_884_000));
}

#[test]
fn fixture_checkpoints() {
    let checkpoints = parse_envelope(FIXTURE).unwrap().msg.unwrap().checkpoints;
    assert_eq!(checkpoints.len(), 2);
    let first = &checkpoints[0];
    assert_eq!(first.checkpoint_time.as_deref(), Some("2021-01-13T13:39:00"));
    assert_eq!(first.tag, Some(Tag::InfoReceived));
    assert_eq!(first.subtag.as_deref(), Some("InfoReceived_001"));
    assert_eq!(first.subtag_message.as_deref(), Some("Info Received"));
    assert_eq!(first.message.as_deref(), Some("Picked Up by Shipping Partner, USPS Awaiting Item"));
    assert_eq!(first.location.as_deref(), Some("NORTH HAVEN, CT, 06473"));
    assert_eq!(first.city.as_deref(), Some("NORTH HAVEN"));
    assert_eq!(first.state.as_deref(), Some("CT"));
    assert_eq!(first.postal_code.as_deref(), Some("06473"));
    assert_eq!(first.country, None);
    assert_eq!(first.slug.as_deref(), Some("usps"));
    assert_eq!(first.raw_tag.as_deref(), Some("80"));
    assert_eq!(first.created_at.as_deref(), Some("2021-01-14T10:41:24+00:00"));
    assert!(first.events.is_empty());

    let second = &checkpoints[1];
    assert_eq!(second.tag, Some(Tag::InTransit));
    assert_eq!(second.checkpoint_time.as_deref(), Some("2021-01-14T00:52:00"));
    assert_eq!(second.raw_tag.as_deref(), Some("82"));
}

/// A delivery in the versioned shape, written after AfterShip's 2025-07 tracking object.
fn versioned_body() -> serde_json::Value {
    serde_json::from_str(
        r##"{
        "event": "edd_revise",
        "event_id": "b4f7a3a4-1f0e-4b3e-9d7e-2a1c8e9f0d11",
        "is_tracking_first_tag": false,
        "ts": 1735732800,
        "msg": {
            "id": "4a9f2c7e1b3d4e5f8a6b7c8d9e0f1a2b",
            "legacy_id": "m4k2x8q9r1t5y7u3i6o0p2a4",
            "tracking_number": "1Z999AA10123456784",
            "slug": "ups",
            "title": "Winter boots",
            "order_id": "#1042",
            "customers": [
                { "role": null, "name": "", "email": "x@example.com" },
                { "role": "buyer", "name": "Ada Lovelace", "email": "ada@example.com" }
            ],
            "tag": "OutForDelivery",
            "subtag": "OutForDelivery_001",
            "subtag_message": "Out for Delivery",
            "expected_delivery": null,
            "courier_estimated_delivery_date": {
                "estimated_delivery_date": "2025-01-03",
                "estimated_delivery_date_min": null,
                "estimated_delivery_date_max": null
            },
            "aftership_estimated_delivery_date": {
                "estimated_delivery_date": "2025-01-02",
                "confidence_code": null,
                "estimated_delivery_date_min": "2025-01-02",
                "estimated_delivery_date_max": "2025-01-03"
            },
            "first_estimated_delivery": {
                "type": "specific",
                "source": "Carrier EDD",
                "datetime": "2025-01-04T17:00:00-05:00",
                "datetime_min": null,
                "datetime_max": null
            },
            "latest_estimated_delivery": {
                "type": "range",
                "source": "AfterShip EDD",
                "datetime": "2025-01-02T12:00:00-05:00",
                "datetime_min": "2025-01-02T09:00:00-05:00",
                "datetime_max": "2025-01-02T18:00:00-05:00"
            },
            "custom_estimated_delivery_date": null,
            "created_at": "2024-12-30T09:00:00+00:00",
            "updated_at": "2025-01-01T12:00:00+00:00",
            "last_updated_at": "",
            "origin_country_region": "USA",
            "destination_country_region": "CAN",
            "courier_tracking_link": "https://www.ups.com/track?tracknum=1Z999AA10123456784",
            "courier_redirect_link": "",
            "signed_by": "",
            "custom_fields": null,
            "checkpoints": [
                {
                    "checkpoint_time": "2024-12-31T08:15:00-05:00",
                    "tag": "InTransit",
                    "subtag": "InTransit_007",
                    "subtag_message": "Departure scan",
                    "message": "Departed from Facility",
                    "location": "Louisville, KY, US",
                    "city": "Louisville",
                    "state": "KY",
                    "postal_code": "40209",
                    "country_region": "USA",
                    "coordinate": { "latitude": 38.25, "longitude": -85.76 },
                    "slug": "ups",
                    "raw_tag": "I",
                    "created_at": "2024-12-31T13:20:00+00:00",
                    "events": []
                },
                {
                    "checkpoint_time": "",
                    "tag": "AttemptFail",
                    "subtag": "AttemptFail_001",
                    "subtag_message": "Failed Attempt",
                    "message": "Receiver not available",
                    "city": "Toronto",
                    "zip": "",
                    "postal_code": "M5V 2T6",
                    "country_region": "CAN",
                    "coordinate": null,
                    "events": [
                        { "code": "delivery_attempt_failed", "reason": { "code": "recipient_unavailable" } },
                        { "code": "held_by_customs", "reason": null },
                        { "reason": "no code" },
                        "not an object"
                    ]
                },
                "not an object",
                {
                    "checkpoint_time": "2025-01-01",
                    "tag": "OutForDelivery",
                    "message": "Out For Delivery Today"
                }
            ]
        }
    }"##,
    )
    .unwrap()
}

#[test]
fn versioned_envelope() {
    let envelope = parse_json(versioned_body());
    assert_eq!(envelope.event, Some(EventKind::EddRevise));
    assert_eq!(envelope.is_tracking_first_tag, Some(false));
    assert_eq!(envelope.ts, Some(1_735_732_800));
}

#[test]
fn versioned_tracking() {
    let msg = parse_json(versioned_body()).msg.unwrap();
    assert_eq!(msg.id.as_deref(), Some("4a9f2c7e1b3d4e5f8a6b7c8d9e0f1a2b"));
    assert_eq!(msg.legacy_id.as_deref(), Some("m4k2x8q9r1t5y7u3i6o0p2a4"));
    assert_eq!(msg.slug.as_deref(), Some("ups"));
    assert_eq!(msg.order_id.as_deref(), Some("#1042"));
    // The first customer with a name.
    assert_eq!(msg.customer_name.as_deref(), Some("Ada Lovelace"));
    assert_eq!(msg.tag, Some(Tag::OutForDelivery));
    assert_eq!(msg.expected_delivery, None);
    // latest_estimated_delivery wins over the other EDD objects.
    assert_eq!(msg.best_expected_delivery.as_deref(), Some("2025-01-02T12:00:00-05:00"));
    let edd = msg.estimated_delivery.as_ref().unwrap().as_object().unwrap();
    let mut keys: Vec<&str> = edd.keys().map(String::as_str).collect();
    keys.sort_unstable();
    assert_eq!(
        keys,
        [
            "aftership_estimated_delivery_date",
            "courier_estimated_delivery_date",
            "first_estimated_delivery",
            "latest_estimated_delivery"
        ]
    );
    assert_eq!(edd["aftership_estimated_delivery_date"]["estimated_delivery_date_max"], "2025-01-03");
    assert_eq!(msg.origin_country.as_deref(), Some("USA"));
    assert_eq!(msg.destination_country.as_deref(), Some("CAN"));
    // Empty strings are absent.
    assert_eq!(msg.last_updated_at, None);
    assert_eq!(msg.courier_redirect_link, None);
    assert_eq!(msg.signed_by, None);
    // So the state time falls back to updated_at.
    assert_eq!(msg.state_time_ms(), Some(1_735_732_800_000));
}

#[test]
fn versioned_checkpoints() {
    let checkpoints = parse_json(versioned_body()).msg.unwrap().checkpoints;
    // The string entry is skipped.
    assert_eq!(checkpoints.len(), 3);

    let departed = &checkpoints[0];
    assert_eq!(departed.checkpoint_time.as_deref(), Some("2024-12-31T08:15:00-05:00"));
    assert_eq!(departed.postal_code.as_deref(), Some("40209"));
    assert_eq!(departed.country.as_deref(), Some("USA"));
    assert_eq!(departed.subtag_message.as_deref(), Some("Departure scan"));
    assert!(departed.events.is_empty());

    let failed = &checkpoints[1];
    assert_eq!(failed.checkpoint_time, None);
    assert_eq!(failed.tag, Some(Tag::AttemptFail));
    // An empty `zip` gives way to `postal_code`.
    assert_eq!(failed.postal_code.as_deref(), Some("M5V 2T6"));
    assert_eq!(failed.country.as_deref(), Some("CAN"));
    assert_eq!(failed.location, None);
    assert_eq!(failed.events, ["delivery_attempt_failed", "held_by_customs"]);

    assert_eq!(checkpoints[2].checkpoint_time.as_deref(), Some("2025-01-01"));
    assert_eq!(checkpoints[2].tag, Some(Tag::OutForDelivery));
}

#[test]
fn coordinates_in_both_shapes() {
    let body = versioned_body();
    let checkpoints = body["msg"]["checkpoints"].as_array().unwrap();
    assert_eq!(checkpoint_coordinates(&checkpoints[0]), Some((38.25, -85.76)));
    assert_eq!(checkpoint_coordinates(&checkpoints[1]), None);
    assert_eq!(checkpoint_coordinates(&json!({ "coordinates": [51.5, "-0.12"] })), Some((51.5, -0.12)));
    assert_eq!(checkpoint_coordinates(&json!({ "coordinates": [] })), None);
    assert_eq!(
        checkpoint_coordinates(&json!({ "coordinate": null, "coordinates": [1.0, 2.0] })),
        Some((1.0, 2.0))
    );
    assert_eq!(checkpoint_coordinates(&json!({ "coordinates": [200.0, 2.0] })), None);
    let fixture: serde_json::Value = serde_json::from_slice(FIXTURE).unwrap();
    assert_eq!(checkpoint_coordinates(&fixture["msg"]["checkpoints"][0]), None);
}

#[test]
fn best_expected_delivery_order() {
    let with = |msg: serde_json::Value| parse_json(json!({ "msg": msg })).msg.unwrap().best_expected_delivery;
    let all = json!({
        "expected_delivery": "2025-01-01",
        "latest_estimated_delivery": { "datetime": "latest" },
        "aftership_estimated_delivery_date": { "estimated_delivery_date": "aftership" },
        "courier_estimated_delivery_date": { "estimated_delivery_date": "courier" },
        "first_estimated_delivery": { "datetime": "first" }
    });
    // The versioned EDD objects replace the legacy field (AfterShip's notes): they come first.
    assert_eq!(with(all.clone()).as_deref(), Some("latest"));
    let mut next = all;
    let order = [
        ("latest_estimated_delivery", "aftership"),
        ("aftership_estimated_delivery_date", "courier"),
        ("courier_estimated_delivery_date", "first"),
        ("first_estimated_delivery", "2025-01-01"),
    ];
    for (removed, expected) in order {
        next[removed] = serde_json::Value::Null;
        assert_eq!(with(next.clone()).as_deref(), Some(expected), "without {removed}");
    }
    next["expected_delivery"] = json!("");
    next["first_estimated_delivery"] = json!({ "datetime": "" });
    assert_eq!(with(next), None);
    // An object with a range and no single date shows the range, before the next object.
    let range = json!({
        "latest_estimated_delivery": { "type": "range", "datetime": null,
            "datetime_min": "2021-01-23", "datetime_max": "2021-01-25" },
        "aftership_estimated_delivery_date": { "estimated_delivery_date": "aftership" },
        "expected_delivery": "2021-01-30"
    });
    assert_eq!(with(range).as_deref(), Some("2021-01-23 – 2021-01-25"));
    let only_max = json!({ "aftership_estimated_delivery_date": {
        "estimated_delivery_date": null, "estimated_delivery_date_max": "2021-01-25" } });
    assert_eq!(with(only_max).as_deref(), Some("by 2021-01-25"));
    // A legacy expected_delivery is also kept raw.
    let legacy = parse_json(json!({ "msg": { "expected_delivery": "2021-01-16T00:00:00" } })).msg.unwrap();
    assert_eq!(legacy.expected_delivery.as_deref(), Some("2021-01-16T00:00:00"));
    assert_eq!(legacy.estimated_delivery, None);
}

#[test]
fn not_json_and_not_an_object() {
    assert!(matches!(parse_envelope(b"{\"event\": \"tracking_update\""), Err(PayloadError::NotJson(_))));
    assert!(matches!(parse_envelope(b""), Err(PayloadError::NotJson(_))));
    assert!(matches!(parse_envelope(&[0xff, 0xfe, b'{', b'}']), Err(PayloadError::NotJson(_))));
    // The reason names the cause a developer can act on.
    let reason = |body: &[u8]| match parse_envelope(body) {
        Ok(e) => panic!("{:?} parsed: {e:?}", String::from_utf8_lossy(body)),
        Err(e) => e.to_string(),
    };
    assert!(
        reason(b"\xEF\xBB\xBF{}").contains("byte-order mark (EF BB BF)"),
        "{}",
        reason(b"\xEF\xBB\xBF{}")
    );
    assert!(reason(&[0xff, 0xfe, b'{', 0, b'}', 0]).contains("UTF-16"));
    let bad_byte = reason(b"{\"msg\": {\"title\": \"caf\xe9\"}}");
    assert!(bad_byte.contains("byte 22 is not valid UTF-8"), "{bad_byte}");
    assert_eq!(parse_envelope(b"[]"), Err(PayloadError::NotAnObject));
    assert_eq!(parse_envelope(b"\"tracking_update\""), Err(PayloadError::NotAnObject));
    assert_eq!(parse_envelope(b"null"), Err(PayloadError::NotAnObject));
}

/// What is not JSON is refused wherever it is in the body, read or not, by both parses: serde_json
/// decides.
#[test]
fn anything_that_is_not_json_is_refused() {
    let deep = format!("{{\"a\": {}{}}}", "[".repeat(150), "]".repeat(150));
    for body in [
        &b""[..],
        b"   ",
        b"{",
        b"{\"a\": 1,}",
        b"{\"a\" 1}",
        b"{\"a\": 1} x",
        b"{\"a\": 01}",
        b"{\"a\": 1.}",
        b"{\"a\": -}",
        b"{\"a\": .5}",
        b"{\"a\": 1e}",
        b"{\"a\": 1e400}",
        b"{\"a\": tru}",
        b"{\"a\": nul}",
        b"{\"a\": [1 2]}",
        b"{\"a\": \"unterminated}",
        b"{\"a\": \"raw\ncontrol\"}",
        b"{\"a\": \"bad \\x escape\"}",
        b"{\"a\": \"short \\u12\"}",
        b"{\"a\": \"lone \\ud83d surrogate\"}",
        b"\xef\xbb\xbf{}",
        b"{'a': 1}",
        b"{\"event_id\": \"e-\xff\"}",
        b"{\"caf\xe9\": 1}",
        // Nesting deeper than serde_json's limit (128).
        deep.as_bytes(),
    ] {
        for parsed in [parse_envelope(body), parse_envelope_lean(body)] {
            assert!(
                matches!(parsed, Err(PayloadError::NotJson(_))),
                "{}: {parsed:?}",
                String::from_utf8_lossy(body)
            );
        }
    }
}

/// A body must be UTF-8 throughout, as serde_json reads it: a byte that is not is refused by both
/// parses, read or not, with its position.
#[test]
fn a_body_is_utf8_throughout() {
    for body in [
        &b"{\"event_id\": \"e-1\", \"note\": \"caf\xe9\", \"msg\": {\"tag\": \"Delivered\"}}"[..],
        b"{\"event_id\": \"e-1\", \"msg\": {\"checkpoints\": [{\"note\": \"caf\xe9\"}]}}",
        b"{\"event_id\": \"e-1\", \"msg\": {\"checkpoints\": [{\"state\": \"caf\xe9\"}]}}",
    ] {
        let at = body.iter().position(|&b| b == 0xe9).unwrap();
        for parsed in [parse_envelope(body), parse_envelope_lean(body)] {
            let reason = parsed.unwrap_err().to_string();
            assert!(reason.contains(&format!("byte {at} is not valid UTF-8")), "{reason}");
        }
    }
}

/// JSON objects however odd: what is read of them.
#[test]
fn odd_documents() {
    let parse = |body: &[u8]| {
        parse_envelope(body).unwrap_or_else(|e| panic!("{}: {e}", String::from_utf8_lossy(body)))
    };
    let empty = parse(b"{}");
    assert_eq!(parse(b" \r\n\t{ } \n"), empty);
    assert_eq!(parse(br#"{"msg": null}"#), empty);
    // Nesting within serde_json's limit, numbers of every form, strings with escapes: skipped.
    let shallow = format!("{{\"a\": {}{}}}", "[".repeat(50), "]".repeat(50));
    assert_eq!(parse(shallow.as_bytes()), empty);
    let skipped =
        br#"{"n": [0, -0, 0.5, 1E+2, 1e-2, -3.25E-7, 123456789012345678901234567890], "note": "\\\""}"#;
    assert_eq!(parse(skipped), empty);
    // Only the envelope's own fields are read, not the same names deeper down.
    let nested = parse(br#"{"event_id": "x", "other": {"event_id": "nested"}, "list": [[[]], {}]}"#);
    assert_eq!(nested.event_id.as_deref(), Some("x"));

    // Escapes are decoded, in values and in keys.
    let escaped = parse(br#"{"event": "\u0074racking_update", "event_id": "a\/b\n\u00e9 \ud83d\ude00"}"#);
    assert_eq!(escaped.event, Some(EventKind::TrackingUpdate));
    assert_eq!(escaped.event_id.as_deref(), Some("a/b\n\u{e9} \u{1f600}"));
    assert_eq!(parse(br#"{"\u0065vent_id": "an escaped key"}"#).event_id.as_deref(), Some("an escaped key"));

    // The number and the flag, from strings, floats and exponents.
    for (body, ts, flag) in [
        (r#"{"ts": "1700000000", "is_tracking_first_tag": "TRUE"}"#, 1_700_000_000, true),
        (r#"{"ts": 1.7e9, "is_tracking_first_tag": 1}"#, 1_700_000_000, true),
        (r#"{"ts": -12, "is_tracking_first_tag": 0.0}"#, -12, false),
        (r#"{"ts": 1e2, "is_tracking_first_tag": false}"#, 100, false),
    ] {
        let envelope = parse(body.as_bytes());
        assert_eq!((envelope.ts, envelope.is_tracking_first_tag), (Some(ts), Some(flag)), "{body}");
    }

    // An object where the checkpoint list should be: no checkpoints.
    let msg = parse(br#"{"msg": {"checkpoints": {}}}"#).msg.unwrap();
    assert!(msg.checkpoints.is_empty());
    assert_eq!(msg.checkpoint_digest, CheckpointDigest::default());
    // Items that are not objects are skipped; `events` that is not a list is no events.
    let msg = parse(br#"{"msg": {"checkpoints": [null, 1, {"events": {"code": "x"}}]}}"#).msg.unwrap();
    assert_eq!(msg.checkpoints, [Checkpoint::default()]);
    assert_eq!(msg.checkpoint_digest.keys.len(), 1);
    let events =
        br#"{"msg": {"checkpoints": [{"events": [{"code": "a"}, {"code": " "}, "b", {"code": "c"}]}]}}"#;
    assert_eq!(parse(events).msg.unwrap().checkpoints[0].events, ["a", "c"]);
    // A customer whose name is not text is passed over; an EDD that is not an object is kept as
    // sent but gives no date.
    let msg = parse(
        br#"{"msg": {"customers": [{"name": 1}, {"name": "Ann"}], "latest_estimated_delivery": "2026-01-01"}}"#,
    )
    .msg
    .unwrap();
    assert_eq!(msg.customer_name.as_deref(), Some("Ann"));
    assert_eq!(msg.best_expected_delivery, None);
    assert_eq!(msg.estimated_delivery, Some(json!({ "latest_estimated_delivery": "2026-01-01" })));
}

/// A key sent twice: the last one wins, at every level, in both parses.
#[test]
fn repeated_keys_the_last_one_wins() {
    let body =
        br#"{"event_id": "first", "event_id": "second", "msg": {"tag": "InTransit", "tag": "Delivered"}}"#;
    let envelope = parse_envelope(body).unwrap();
    assert_eq!(envelope.event_id.as_deref(), Some("second"));
    assert_eq!(envelope.msg.unwrap().tag, Some(Tag::Delivered));
    assert_eq!(parse_envelope(br#"{"msg": {"tag": "InTransit"}, "msg": 5}"#).unwrap().msg, None);

    let body = br#"{"msg": {
        "checkpoints": [{"message": "a", "location": "here", "message": "b"}],
        "customers": [{"name": "a", "name": "b"}],
        "first_estimated_delivery": {"datetime": "2026-02-01", "datetime": "2026-03-01"}
    }}"#;
    let msg = parse_envelope(body).unwrap().msg.unwrap();
    assert_eq!(msg.checkpoints[0].message.as_deref(), Some("b"));
    assert_eq!(msg.customer_name.as_deref(), Some("b"));
    assert_eq!(msg.best_expected_delivery.as_deref(), Some("2026-03-01"));
    let lean = parse_envelope_lean(body).unwrap().msg.unwrap();
    assert_eq!(lean.checkpoint_digest, msg.checkpoint_digest);
    assert_eq!(msg.checkpoint_digest.keys, [shipwatch_aftership::checkpoint_key(&msg.checkpoints[0])]);

    // A repeated key nobody reads changes nothing.
    let unread = br#"{"note": 1, "note": 2, "msg": {"other": [], "other": {}}}"#;
    assert_eq!(parse_envelope(unread).unwrap(), parse_envelope(br#"{"msg": {}}"#).unwrap());
}

/// Every place a value sits in `value`, as a pointer.
fn pointers(value: &Value, at: String, out: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            for (k, v) in map {
                let p = format!("{at}/{}", k.replace('~', "~0").replace('/', "~1"));
                out.push(p.clone());
                pointers(v, p, out);
            }
        }
        Value::Array(items) => {
            for (i, v) in items.iter().enumerate() {
                let p = format!("{at}/{i}");
                out.push(p.clone());
                pointers(v, p, out);
            }
        }
        _ => {}
    }
}

/// The lean parse reads every body as the full one but for the checkpoints, of which it keeps the
/// same digest: on the known bodies with each of their values replaced in turn by every JSON type
/// (and by strings the lenient readers interpret).
#[test]
fn the_lean_parse_is_the_full_one_without_the_checkpoints() {
    let mut opts = SampleOptions::new("e-1", "TN1", Tag::OutForDelivery, 1_700_000_000);
    opts.checkpoints = 3;
    let bodies = [
        FIXTURE.to_vec(),
        sample_body(&opts),
        sample_versioned_body(&opts, "2024-04"),
        sample_versioned_body(&opts, "2025-07"),
    ];
    let replacements = [
        json!(null),
        json!(true),
        json!(false),
        json!(0),
        json!(1),
        json!(-7),
        json!(1.9),
        json!(-0.0),
        json!(18446744073709551615u64),
        json!(1e300),
        json!("1"),
        json!("true"),
        json!("0"),
        json!(" 12.5 "),
        json!("   "),
        json!("tab\t\"escaped\" \u{e9} \u{1f600} back\\slash / \u{1}"),
        json!([]),
        json!([1, { "name": "n", "code": "c" }, "x"]),
        json!([{ "name": " " }, { "name": "second" }]),
        json!({}),
        json!({ "name": "n", "code": "c", "datetime": "2026-01-01", "estimated_delivery_date": " " }),
    ];
    let same = |body: &[u8]| {
        let full = parse_envelope(body).unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(body)));
        if let Some(msg) = &full.msg {
            let digest = CheckpointDigest::of(msg.checkpoints.iter().map(Checkpoint::identity));
            assert_eq!(msg.checkpoint_digest, digest, "{}", String::from_utf8_lossy(body));
        }
        let without_checkpoints = Envelope {
            msg: full.msg.map(|msg| shipwatch_aftership::Tracking { checkpoints: Vec::new(), ..msg }),
            ..full
        };
        assert_eq!(parse_envelope_lean(body), Ok(without_checkpoints), "{}", String::from_utf8_lossy(body));
    };
    let mut checked = 0;
    for body in &bodies {
        same(body);
        let tree: Value = serde_json::from_slice(body).unwrap();
        same(&serde_json::to_vec(&tree).unwrap());
        let mut at = Vec::new();
        pointers(&tree, String::new(), &mut at);
        for pointer in &at {
            for replacement in &replacements {
                let mut changed = tree.clone();
                *changed.pointer_mut(pointer).unwrap() = replacement.clone();
                same(changed.to_string().as_bytes());
                checked += 1;
            }
        }
    }
    assert!(checked > 1_000, "only {checked} variants checked");
}

#[test]
fn empty_object_is_all_none() {
    let envelope = parse_envelope(b"{}").unwrap();
    assert_eq!(envelope.event, None);
    assert_eq!(envelope.event_id, None);
    assert_eq!(envelope.ts, None);
    assert_eq!(envelope.is_tracking_first_tag, None);
    assert_eq!(envelope.msg, None);
}

#[test]
fn unknown_event_and_tags_are_kept() {
    let envelope = parse_json(json!({
        "event": "tracking_reopened",
        "msg": {
            "tag": "HeldAtCustoms",
            "checkpoints": [{ "tag": "Teleported", "events": [{ "code": "beamed_up" }] }]
        }
    }));
    assert_eq!(envelope.event, Some(EventKind::Unknown("tracking_reopened".into())));
    let msg = envelope.msg.unwrap();
    assert_eq!(msg.tag, Some(Tag::Unknown("HeldAtCustoms".into())));
    assert_eq!(msg.checkpoints[0].tag, Some(Tag::Unknown("Teleported".into())));
    assert_eq!(msg.checkpoints[0].events, ["beamed_up"]);
}

#[test]
fn event_kinds_round_trip() {
    for kind in [
        EventKind::TrackingUpdate,
        EventKind::EddRevise,
        EventKind::TrackingPendingTime,
        EventKind::Unknown("something_new".into()),
    ] {
        assert_eq!(EventKind::parse(kind.as_str()), kind);
    }
    assert_eq!(EventKind::TrackingPendingTime.as_str(), "tracking_pending_time");
    assert_eq!(EventKind::EddRevise.as_str(), "edd_revise");
}

#[test]
fn lenient_ts() {
    let ts = |value: serde_json::Value| parse_json(json!({ "ts": value })).ts;
    assert_eq!(ts(json!(1_610_620_885)), Some(1_610_620_885));
    assert_eq!(ts(json!("1610620885")), Some(1_610_620_885));
    assert_eq!(ts(json!(" 1610620885 ")), Some(1_610_620_885));
    assert_eq!(ts(json!(1_610_620_885.75)), Some(1_610_620_885));
    assert_eq!(ts(json!("1610620885.5")), Some(1_610_620_885));
    assert_eq!(ts(json!(1e300)), None);
    assert_eq!(ts(json!("soon")), None);
    assert_eq!(ts(json!(true)), None);
    assert_eq!(ts(json!(null)), None);
    assert_eq!(ts(json!([1])), None);
}

#[test]
fn lenient_first_tag_flag() {
    let flag = |value: serde_json::Value| {
        parse_json(json!({ "is_tracking_first_tag": value })).is_tracking_first_tag
    };
    assert_eq!(flag(json!(true)), Some(true));
    assert_eq!(flag(json!(false)), Some(false));
    assert_eq!(flag(json!("true")), Some(true));
    assert_eq!(flag(json!("TRUE")), Some(true));
    assert_eq!(flag(json!("false")), Some(false));
    assert_eq!(flag(json!(1)), Some(true));
    assert_eq!(flag(json!(0)), Some(false));
    assert_eq!(flag(json!("1")), Some(true));
    assert_eq!(flag(json!(2)), None);
    assert_eq!(flag(json!("yes")), None);
    assert_eq!(flag(json!(null)), None);
}

#[test]
fn wrong_types_become_none() {
    let envelope = parse_json(json!({
        "event": 7,
        "event_id": { "id": "x" },
        "msg": {
            "id": 123,
            "tracking_number": ["1Z"],
            "tag": false,
            "customer_name": 5,
            "customers": "Ada",
            "checkpoints": { "0": {} },
            "latest_estimated_delivery": "2025-01-01",
            "first_estimated_delivery": { "datetime": 20250101 }
        }
    }));
    assert_eq!(envelope.event, None);
    assert_eq!(envelope.event_id, None);
    let msg = envelope.msg.unwrap();
    assert_eq!(msg.id, None);
    assert_eq!(msg.tracking_number, None);
    assert_eq!(msg.tag, None);
    assert_eq!(msg.customer_name, None);
    assert!(msg.checkpoints.is_empty());
    assert_eq!(msg.best_expected_delivery, None);
    // Present and non-null objects are still kept as sent.
    assert!(msg.estimated_delivery.is_some());

    let not_an_object = parse_json(json!({ "msg": "tracking" }));
    assert_eq!(not_an_object.msg, None);
}

#[test]
fn state_time_prefers_last_updated_at() {
    let msg = parse_json(json!({ "msg": {
        "updated_at": "2021-01-14T10:41:24+00:00",
        "last_updated_at": "2021-01-15T00:00:00Z"
    }}))
    .msg
    .unwrap();
    assert_eq!(msg.state_time_ms(), Some(1_610_668_800_000));
    let unreadable = parse_json(json!({ "msg": {
        "updated_at": "2021-01-14T10:41:24+00:00",
        "last_updated_at": "yesterday"
    }}))
    .msg
    .unwrap();
    assert_eq!(unreadable.state_time_ms(), Some(1_610_620_884_000));
    assert_eq!(parse_json(json!({ "msg": {} })).msg.unwrap().state_time_ms(), None);
}
