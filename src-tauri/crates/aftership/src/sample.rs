//! AfterShip-shaped sample deliveries for tests, the benchmark and "send a test delivery": the legacy
//! v4 shape ([`sample_body`], like AfterShip's published sample) and the versioned shape
//! ([`versioned_body`], 2023-10 onward as of [`DEFAULT_WEBHOOK_VERSION`]), for any tag and subtag
//! ([`subtags_of`] lists the known ones).

use serde::Serialize;
use time::OffsetDateTime;

use crate::Tag;

/// Options for a sample delivery.
#[derive(Clone, Debug)]
pub struct SampleOptions {
    pub event_id: String,
    pub tracking_number: String,
    pub tag: crate::Tag,
    /// `msg.id`; default derived from the tracking number.
    pub tracking_id: Option<String>,
    pub slug: String,
    pub title: Option<String>,
    pub order_id: Option<String>,
    /// Unix seconds; also drives `updated_at`/`last_updated_at`.
    pub ts: i64,
    /// Number of checkpoints (at least 1; 0 counts as 1). Bodies carry every field of AfterShip's
    /// published sample, so 2 checkpoints give about 2.5 KB compact (that sample compacted is 2,551
    /// bytes) and each checkpoint adds about 0.36 KB: 40 give about 16.5 KB and
    /// [`SampleOptions::CHECKPOINTS_FOR_17_KB`] (42) about 17.3 KB, near the `Content-Length: 17676`
    /// of AfterShip's sample request.
    pub checkpoints: usize,
    /// `subtag` of the shipment and its last checkpoint; `None` = the tag's `_001`.
    pub subtag: Option<String>,
    /// `subtag_message`; `None` = AfterShip's wording for the subtag when known, else the tag's.
    pub subtag_message: Option<String>,
    /// The envelope's `event`; `None` = `tracking_update` (the only event legacy v4 sends).
    pub event: Option<crate::EventKind>,
}

impl SampleOptions {
    /// The checkpoint count that gives a body of about 17 KB.
    pub const CHECKPOINTS_FOR_17_KB: usize = 42;

    /// A USPS shipment with 2 checkpoints, the generated `msg.id`, `title` = the tracking number and
    /// no order id.
    pub fn new(event_id: impl Into<String>, tracking_number: impl Into<String>, tag: Tag, ts: i64) -> Self {
        SampleOptions {
            event_id: event_id.into(),
            tracking_number: tracking_number.into(),
            tag,
            tracking_id: None,
            slug: "usps".to_string(),
            title: None,
            order_id: None,
            ts,
            checkpoints: 2,
            subtag: None,
            subtag_message: None,
            event: None,
        }
    }
}

/// A compact JSON body for the options.
pub fn sample_body(opts: &SampleOptions) -> Vec<u8> {
    let envelope = build_envelope(opts);
    serde_json::to_vec(&envelope).expect("a sample body always serialises")
}

/// The envelope, field for field in the order of AfterShip's published sample.
#[derive(Serialize)]
struct SampleEnvelope {
    event_id: String,
    event: String,
    is_tracking_first_tag: bool,
    msg: SampleTracking,
    ts: i64,
}

#[derive(Serialize)]
struct SampleTracking {
    id: String,
    tracking_number: String,
    title: String,
    note: Option<String>,
    origin_country_iso3: &'static str,
    destination_country_iso3: &'static str,
    courier_destination_country_iso3: &'static str,
    shipment_package_count: Option<u32>,
    active: bool,
    order_id: Option<String>,
    order_id_path: Option<String>,
    order_date: String,
    customer_name: Option<String>,
    source: &'static str,
    emails: Vec<String>,
    smses: Vec<String>,
    subscribed_smses: Vec<String>,
    subscribed_emails: Vec<String>,
    android: Vec<String>,
    ios: Vec<String>,
    return_to_sender: bool,
    custom_fields: serde_json::Map<String, serde_json::Value>,
    tag: String,
    subtag: String,
    subtag_message: String,
    tracked_count: usize,
    expected_delivery: Option<String>,
    signed_by: Option<String>,
    shipment_type: &'static str,
    created_at: String,
    updated_at: String,
    slug: String,
    unique_token: &'static str,
    path: &'static str,
    shipment_weight: Option<f64>,
    shipment_weight_unit: Option<String>,
    delivery_time: i64,
    last_mile_tracking_supported: bool,
    language: Option<String>,
    shipment_pickup_date: Option<String>,
    shipment_delivery_date: Option<String>,
    last_updated_at: String,
    checkpoints: Vec<SampleCheckpoint>,
    order_promised_delivery_date: Option<String>,
    delivery_type: Option<String>,
    pickup_location: Option<String>,
    pickup_note: Option<String>,
    tracking_account_number: Option<String>,
    tracking_origin_country: Option<String>,
    tracking_destination_country: Option<String>,
    tracking_key: Option<String>,
    tracking_postal_code: Option<String>,
    tracking_ship_date: Option<String>,
    tracking_state: Option<String>,
    courier_tracking_link: String,
    first_attempted_at: Option<String>,
    courier_redirect_link: String,
}

#[derive(Serialize)]
struct SampleCheckpoint {
    location: String,
    country_name: Option<String>,
    country_iso3: Option<String>,
    state: &'static str,
    city: &'static str,
    zip: &'static str,
    message: String,
    coordinates: Vec<f64>,
    tag: String,
    subtag: String,
    subtag_message: String,
    created_at: String,
    checkpoint_time: String,
    slug: String,
    raw_tag: &'static str,
}

/// A place a parcel passes through: city, state, ZIP.
type Place = (&'static str, &'static str, &'static str);

const ORIGIN: Place = ("NORTH HAVEN", "CT", "06473");
const DESTINATION: Place = ("SAN FRANCISCO", "CA", "94107");
/// Facilities between origin and destination, visited in turn (and again from the start when there
/// are more checkpoints than facilities).
const FACILITIES: [Place; 10] = [
    ("HARTFORD", "CT", "06101"),
    ("SPRINGFIELD", "MA", "01152"),
    ("KEARNY", "NJ", "07032"),
    ("PHILADELPHIA", "PA", "19176"),
    ("PITTSBURGH", "PA", "15290"),
    ("COLUMBUS", "OH", "43218"),
    ("CHICAGO", "IL", "60607"),
    ("DENVER", "CO", "80266"),
    ("SALT LAKE CITY", "UT", "84199"),
    ("OAKLAND", "CA", "94615"),
];
/// In-transit scans: message, raw tag, subtag, subtag message.
const TRANSIT_SCANS: [(&str, &str, &str, &str); 6] = [
    ("Departed Shipping Partner Facility, USPS Awaiting Item", "82", "InTransit_001", "In Transit"),
    ("Arrived at USPS Regional Facility", "10", "InTransit_001", "In Transit"),
    ("Departed USPS Regional Facility", "L1", "InTransit_007", "Departure scan"),
    ("In Transit to Next Facility", "NT", "InTransit_001", "In Transit"),
    ("Arrived at USPS Facility", "07", "InTransit_001", "In Transit"),
    ("Departed USPS Facility", "EF", "InTransit_007", "Departure scan"),
];
/// Gaps between consecutive checkpoints, in seconds, used in turn.
const CHECKPOINT_GAPS: [i64; 4] = [13_260, 18_420, 8_340, 24_780];

/// `subtag` and `subtag_message` for a shipment at `tag`.
fn subtag_of(tag: &Tag) -> (String, String) {
    let (subtag, message) = match tag {
        Tag::Pending => ("Pending_001", "Pending"),
        Tag::InfoReceived => ("InfoReceived_001", "Info Received"),
        Tag::InTransit => ("InTransit_001", "In Transit"),
        Tag::OutForDelivery => ("OutForDelivery_001", "Out for Delivery"),
        Tag::AttemptFail => ("AttemptFail_001", "Failed Attempt"),
        Tag::Delivered => ("Delivered_001", "Delivered"),
        Tag::AvailableForPickup => ("AvailableForPickup_001", "Available for pickup"),
        Tag::Exception => ("Exception_001", "Exception"),
        Tag::Expired => ("Expired_001", "Expired"),
        Tag::Unknown(name) => return (format!("{name}_001"), name.clone()),
    };
    (subtag.to_string(), message.to_string())
}

/// What the courier says at a checkpoint that puts the shipment at `tag`: message and raw tag.
fn scan_of(tag: &Tag) -> (String, &'static str) {
    let (message, raw_tag) = match tag {
        Tag::Pending => ("Pre-Shipment Info Sent to USPS, USPS Awaiting Item", "MA"),
        Tag::InfoReceived => ("Picked Up by Shipping Partner, USPS Awaiting Item", "80"),
        Tag::InTransit => ("In Transit to Next Facility", "NT"),
        Tag::OutForDelivery => ("Out for Delivery", "OF"),
        Tag::AttemptFail => ("Notice Left (No Authorized Recipient Available)", "02"),
        Tag::Delivered => ("Delivered, In/At Mailbox", "01"),
        Tag::AvailableForPickup => ("Available for Pickup", "AP"),
        Tag::Exception => ("Delivery Exception, Animal Interference", "05"),
        Tag::Expired => ("Tracking Expired", "EX"),
        Tag::Unknown(name) => return (name.clone(), ""),
    };
    (message.to_string(), raw_tag)
}

/// Whether a shipment at `tag` has reached its destination town.
fn at_destination(tag: &Tag) -> bool {
    matches!(tag, Tag::OutForDelivery | Tag::AttemptFail | Tag::Delivered | Tag::AvailableForPickup)
}

fn build_checkpoints(opts: &SampleOptions) -> Vec<(i64, SampleCheckpoint)> {
    let count = opts.checkpoints.max(1);
    let ts = clamp_unix(opts.ts);
    // Times from the last (at ts) back to the first.
    let mut times = vec![ts; count];
    for i in (0..count - 1).rev() {
        times[i] = times[i + 1] - CHECKPOINT_GAPS[i % CHECKPOINT_GAPS.len()];
    }
    let final_tag = &opts.tag;
    let out_for_delivery_before_last = count >= 3 && matches!(final_tag, Tag::Delivered | Tag::AttemptFail);

    (0..count)
        .map(|i| {
            let time = times[i];
            let is_last = i == count - 1;
            let (tag, message, raw_tag, subtag, subtag_message, place) = if is_last {
                let (subtag, subtag_message) = chosen_subtag(opts);
                let (message, raw_tag) = scan_of_subtag(&subtag).unwrap_or_else(|| scan_of(final_tag));
                let place = if at_destination(final_tag) {
                    DESTINATION
                } else if count == 1 {
                    ORIGIN
                } else {
                    FACILITIES[(i - 1) % FACILITIES.len()]
                };
                (final_tag.clone(), message, raw_tag, subtag, subtag_message, place)
            } else if i == 0 || matches!(final_tag, Tag::Pending | Tag::InfoReceived) {
                let tag = if *final_tag == Tag::Pending { Tag::Pending } else { Tag::InfoReceived };
                let (message, raw_tag) = scan_of(&tag);
                let (subtag, subtag_message) = subtag_of(&tag);
                (tag, message, raw_tag, subtag, subtag_message, ORIGIN)
            } else if out_for_delivery_before_last && i == count - 2 {
                let tag = Tag::OutForDelivery;
                let (message, raw_tag) = scan_of(&tag);
                let (subtag, subtag_message) = subtag_of(&tag);
                (tag, message, raw_tag, subtag, subtag_message, DESTINATION)
            } else {
                let (message, raw_tag, subtag, subtag_message) = TRANSIT_SCANS[(i - 1) % TRANSIT_SCANS.len()];
                (
                    Tag::InTransit,
                    message.to_string(),
                    raw_tag,
                    subtag.to_string(),
                    subtag_message.to_string(),
                    FACILITIES[(i - 1) % FACILITIES.len()],
                )
            };
            let (city, state, zip) = place;
            let checkpoint = SampleCheckpoint {
                location: format!("{city}, {state}, {zip}"),
                country_name: None,
                country_iso3: None,
                state,
                city,
                zip,
                message,
                coordinates: Vec::new(),
                tag: tag.as_str().to_string(),
                subtag,
                subtag_message,
                // AfterShip records a checkpoint a little after it happens.
                created_at: rfc3339(ts.min(time + 1_800)),
                checkpoint_time: local_time(time),
                slug: opts.slug.clone(),
                raw_tag,
            };
            (time, checkpoint)
        })
        .collect()
}

fn build_envelope(opts: &SampleOptions) -> SampleEnvelope {
    let ts = clamp_unix(opts.ts);
    let checkpoints = build_checkpoints(opts);
    let first_time = checkpoints.first().map_or(ts, |(time, _)| *time);
    let created = first_time - 3_600;
    let pickup = checkpoints
        .iter()
        .find(|(_, checkpoint)| checkpoint.tag == Tag::InTransit.as_str())
        .map(|(time, _)| local_time(*time));
    let (subtag, subtag_message) = chosen_subtag(opts);
    let tracking_number = opts.tracking_number.clone();
    let (courier_tracking_link, courier_redirect_link) = if opts.slug == "usps" {
        (
            format!("https://tools.usps.com/go/TrackConfirmAction?tLabels={tracking_number}"),
            format!(
                "https://tools.usps.com/go/TrackConfirmAction?tRef=fullpage&tLc=2&text28777=&tLabels={tracking_number},"
            ),
        )
    } else {
        let link = format!(
            "https://track.aftership.com/trackings?courier={}&tracking-numbers={tracking_number}",
            opts.slug
        );
        (link.clone(), link)
    };

    SampleEnvelope {
        event_id: opts.event_id.clone(),
        event: event_name(opts),
        is_tracking_first_tag: true,
        msg: SampleTracking {
            id: opts.tracking_id.clone().unwrap_or_else(|| tracking_id_for(&tracking_number)),
            title: opts.title.clone().unwrap_or_else(|| tracking_number.clone()),
            tracking_number,
            note: None,
            origin_country_iso3: "USA",
            destination_country_iso3: "USA",
            courier_destination_country_iso3: "USA",
            shipment_package_count: None,
            active: !matches!(opts.tag, Tag::Delivered | Tag::Expired),
            order_id: opts.order_id.clone(),
            order_id_path: None,
            order_date: format!("{}Z", local_time(created - 86_400)),
            customer_name: None,
            source: "web",
            emails: Vec::new(),
            smses: Vec::new(),
            subscribed_smses: Vec::new(),
            subscribed_emails: Vec::new(),
            android: Vec::new(),
            ios: Vec::new(),
            return_to_sender: false,
            custom_fields: serde_json::Map::new(),
            tag: opts.tag.as_str().to_string(),
            subtag,
            subtag_message,
            tracked_count: checkpoints.len(),
            expected_delivery: None,
            signed_by: None,
            shipment_type: if opts.slug == "usps" { "Parcel Select" } else { "Parcel" },
            created_at: rfc3339(created),
            updated_at: rfc3339(ts),
            slug: opts.slug.clone(),
            unique_token: "deprecated",
            path: "deprecated",
            shipment_weight: None,
            shipment_weight_unit: None,
            delivery_time: (ts - created) / 86_400 + 1,
            last_mile_tracking_supported: true,
            language: None,
            shipment_pickup_date: pickup,
            shipment_delivery_date: (opts.tag == Tag::Delivered).then(|| local_time(ts)),
            last_updated_at: rfc3339(ts),
            checkpoints: checkpoints.into_iter().map(|(_, checkpoint)| checkpoint).collect(),
            order_promised_delivery_date: None,
            delivery_type: None,
            pickup_location: None,
            pickup_note: None,
            tracking_account_number: None,
            tracking_origin_country: None,
            tracking_destination_country: None,
            tracking_key: None,
            tracking_postal_code: None,
            tracking_ship_date: None,
            tracking_state: None,
            courier_tracking_link,
            first_attempted_at: (opts.tag == Tag::AttemptFail).then(|| rfc3339(ts)),
            courier_redirect_link,
        },
        ts: opts.ts,
    }
}

/// Keeps derived dates within four-digit years (and leaves room for the checkpoints before `ts`).
fn clamp_unix(ts: i64) -> i64 {
    ts.clamp(0, 253_402_300_799)
}

fn date_time(ts: i64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(clamp_unix(ts)).unwrap_or(OffsetDateTime::UNIX_EPOCH)
}

/// `YYYY-MM-DDTHH:MM:SS`, no zone, as AfterShip sends checkpoint times.
fn local_time(ts: i64) -> String {
    let t = date_time(ts);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    )
}

/// RFC 3339 in UTC with `+00:00`, as AfterShip sends `updated_at`.
fn rfc3339(ts: i64) -> String {
    format!("{}+00:00", local_time(ts))
}

/// A stable 24-character lowercase id (like AfterShip's legacy ids) for a tracking number.
fn tracking_id_for(tracking_number: &str) -> String {
    const ALPHABET: &[u8; 36] = b"abcdefghijklmnopqrstuvwxyz0123456789";
    // FNV-1a, then splitmix64 for each character.
    let mut state = tracking_number.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |hash, byte| {
        (hash ^ u64::from(byte)).wrapping_mul(0x0000_0100_0000_01b3)
    });
    (0..24)
        .map(|_| {
            state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
            let mut z = state;
            z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
            z ^= z >> 31;
            char::from(ALPHABET[(z % 36) as usize])
        })
        .collect()
}

/// The webhook version the versioned shape follows by default (`as-webhook-version`).
pub const DEFAULT_WEBHOOK_VERSION: &str = "2025-07";

/// Known subtags of a tag with their `subtag_message` (from [`crate::tags`]' table): AfterShip's
/// confirmed wording where there is one, a plain label otherwise. The tag's default (`_001`) comes
/// first; an unknown tag has none.
pub fn subtags_of(tag: &Tag) -> Vec<(&'static str, &'static str)> {
    crate::tags::subtags(tag).map(|s| (s.code, s.wording)).collect()
}

/// AfterShip's `subtag_message` for a known subtag (its confirmed wording, else a plain label).
pub fn subtag_message_of(subtag: &str) -> Option<&'static str> {
    crate::tags::known_subtag(subtag).map(|s| s.wording)
}

/// The shipment's `subtag` and `subtag_message` as asked, else the tag's defaults.
fn chosen_subtag(opts: &SampleOptions) -> (String, String) {
    let (default_subtag, default_message) = subtag_of(&opts.tag);
    let subtag = opts.subtag.clone().filter(|s| !s.trim().is_empty()).unwrap_or(default_subtag);
    let message = opts
        .subtag_message
        .clone()
        .or_else(|| subtag_message_of(&subtag).map(str::to_string))
        .unwrap_or(default_message);
    (subtag, message)
}

fn event_name(opts: &SampleOptions) -> String {
    opts.event.as_ref().map_or("tracking_update", |event| event.as_str()).to_string()
}

/// What the courier says for subtags that differ from their tag's usual scan: message, raw tag.
fn scan_of_subtag(subtag: &str) -> Option<(String, &'static str)> {
    let (message, raw_tag) = match subtag {
        "InTransit_007" => ("Departed USPS Regional Facility", "L1"),
        "Delivered_002" => ("Delivered, Individual Picked Up at Post Office", "01"),
        "Delivered_003" => ("Delivered, Left with Individual", "01"),
        "Delivered_004" => ("Delivered, Cash on Delivery Collected", "01"),
        "Delivered_005" => ("Delivered, Left with Neighbor", "01"),
        "AttemptFail_002" | "AttemptFail_003" => {
            ("Delivery Attempted - No Access to Delivery Location", "02")
        }
        "Exception_002" => ("Addressee Moved, Forwarding Expired", "09"),
        "Exception_003" => ("Refused by Addressee", "21"),
        "Exception_004" => ("Held in Customs", "CU"),
        "Exception_005" => ("Delayed: Severe Weather or Natural Disaster", "SW"),
        "Exception_006" => ("Held for Payment of Duties", "HP"),
        "Exception_007" => ("Insufficient Address", "04"),
        "Exception_010" => ("Return to Sender Processed", "RS"),
        "Exception_011" => ("Delivered to Original Sender", "RD"),
        "Exception_012" => ("Damaged Item", "DM"),
        "Exception_013" => ("Item Lost", "LO"),
        _ => return None,
    };
    Some((message.to_string(), raw_tag))
}

/// Checkpoint event codes (versioned `events[]`) and their reason, for subtags that carry one.
fn checkpoint_events_of(tag: &str, subtag: &str) -> Vec<VersionedCheckpointEvent> {
    let (code, reason) = match (tag, subtag) {
        (_, "Delivered_005") => ("delivered_to_neighbor", None),
        (_, "Exception_004") => ("held_by_customs", Some("customs_clearance")),
        ("AttemptFail", _) => ("delivery_attempt_failed", Some("recipient_not_available")),
        _ => return Vec::new(),
    };
    vec![VersionedCheckpointEvent {
        code: code.to_string(),
        reason: reason.map(|code| VersionedReason { code: code.to_string() }),
    }]
}

/// Latitude and longitude of the places checkpoints happen at.
fn coordinate_of(city: &str) -> Option<VersionedCoordinate> {
    let (latitude, longitude) = match city {
        "NORTH HAVEN" => (41.3909, -72.8596),
        "SAN FRANCISCO" => (37.7749, -122.4194),
        "HARTFORD" => (41.7658, -72.6734),
        "SPRINGFIELD" => (42.1015, -72.5898),
        "KEARNY" => (40.7684, -74.1454),
        "PHILADELPHIA" => (39.9526, -75.1652),
        "PITTSBURGH" => (40.4406, -79.9959),
        "COLUMBUS" => (39.9612, -82.9988),
        "CHICAGO" => (41.8781, -87.6298),
        "DENVER" => (39.7392, -104.9903),
        "SALT LAKE CITY" => (40.7608, -111.8910),
        "OAKLAND" => (37.8044, -122.2712),
        _ => return None,
    };
    Some(VersionedCoordinate { latitude, longitude })
}

/// A compact JSON body in the versioned shape of `version` (`YYYY-MM`, e.g.
/// [`DEFAULT_WEBHOOK_VERSION`]): `*_country_region`, a 32-hex `id` with the legacy one in `legacy_id`,
/// `customers[]`, the estimated-delivery objects instead of `expected_delivery`, checkpoint
/// `coordinate` objects (`coordinates` before 2024-04) and `events[]`, `custom_fields` null (from
/// 2025-07), checkpoint `postal_code` instead of `zip` (from 2026-01), checkpoint `hash` (from
/// 2026-07). The same shipment story as
/// [`sample_body`] for the same options. Send it with an `as-webhook-version: <version>` header.
pub fn versioned_body(opts: &SampleOptions, version: &str) -> Vec<u8> {
    let envelope = build_versioned_envelope(opts, version);
    serde_json::to_vec(&envelope).expect("a sample body always serialises")
}

#[derive(Serialize)]
struct VersionedEnvelope {
    event: String,
    event_id: String,
    is_tracking_first_tag: bool,
    msg: VersionedTracking,
    ts: i64,
}

#[derive(Serialize)]
struct VersionedTracking {
    id: String,
    legacy_id: String,
    created_at: String,
    updated_at: String,
    tracking_number: String,
    slug: String,
    active: bool,
    custom_fields: Option<serde_json::Map<String, serde_json::Value>>,
    transit_time: Option<i64>,
    origin_country_region: &'static str,
    origin_state: &'static str,
    origin_city: &'static str,
    origin_postal_code: &'static str,
    origin_raw_location: Option<String>,
    destination_country_region: &'static str,
    destination_state: &'static str,
    destination_city: &'static str,
    destination_postal_code: &'static str,
    destination_raw_location: Option<String>,
    courier_destination_country_region: &'static str,
    courier_estimated_delivery_date: Option<CourierEstimate>,
    note: Option<String>,
    order_id: Option<String>,
    order_id_path: Option<String>,
    order_date: String,
    order_number: Option<String>,
    shipment_package_count: Option<u32>,
    shipment_pickup_date: Option<String>,
    shipment_delivery_date: Option<String>,
    shipment_type: &'static str,
    shipment_weight: Option<serde_json::Value>,
    signed_by: Option<String>,
    source: &'static str,
    tag: String,
    subtag: String,
    subtag_message: String,
    title: String,
    tracked_count: usize,
    last_mile_tracking_supported: bool,
    language: Option<String>,
    return_to_sender: bool,
    order_promised_delivery_date: Option<String>,
    delivery_type: Option<String>,
    pickup_location: Option<String>,
    pickup_note: Option<String>,
    courier_tracking_link: String,
    first_attempted_at: Option<String>,
    courier_redirect_link: String,
    tracking_account_number: Option<String>,
    tracking_key: Option<String>,
    tracking_ship_date: Option<String>,
    on_time_status: Option<String>,
    on_time_difference: Option<i64>,
    order_tags: Vec<String>,
    aftership_estimated_delivery_date: Option<AfterShipEstimate>,
    custom_estimated_delivery_date: Option<serde_json::Value>,
    first_estimated_delivery: Option<EstimatedDelivery>,
    latest_estimated_delivery: Option<EstimatedDelivery>,
    shipment_tags: Vec<String>,
    courier_connection_id: Option<String>,
    location_id: Option<String>,
    shipping_method: Option<String>,
    failed_delivery_attempts: u32,
    signature_requirement: Option<String>,
    delivery_location_type: Option<String>,
    aftership_tracking_url: String,
    aftership_tracking_order_url: Option<String>,
    customers: Vec<Customer>,
    checkpoints: Vec<VersionedCheckpoint>,
}

#[derive(Serialize)]
struct CourierEstimate {
    estimated_delivery_date: String,
    estimated_delivery_date_min: Option<String>,
    estimated_delivery_date_max: Option<String>,
}

#[derive(Serialize)]
struct AfterShipEstimate {
    estimated_delivery_date: String,
    confidence_code: Option<f64>,
    estimated_delivery_date_min: String,
    estimated_delivery_date_max: String,
}

#[derive(Serialize)]
struct EstimatedDelivery {
    #[serde(rename = "type")]
    kind: &'static str,
    source: &'static str,
    datetime: String,
    datetime_min: Option<String>,
    datetime_max: Option<String>,
}

#[derive(Serialize)]
struct Customer {
    role: &'static str,
    name: String,
    phone_number: Option<String>,
    email: Option<String>,
    language: Option<String>,
}

#[derive(Serialize)]
struct VersionedCheckpoint {
    /// 2026-07 onward: AfterShip's identity of the checkpoint.
    #[serde(skip_serializing_if = "Option::is_none")]
    hash: Option<String>,
    created_at: String,
    slug: String,
    checkpoint_time: String,
    location: String,
    city: &'static str,
    state: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    zip: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    postal_code: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    coordinate: Option<Option<VersionedCoordinate>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    coordinates: Option<Vec<f64>>,
    country_region: &'static str,
    country_region_name: &'static str,
    message: String,
    tag: String,
    subtag: String,
    subtag_message: String,
    raw_tag: &'static str,
    events: Vec<VersionedCheckpointEvent>,
    source: &'static str,
}

#[derive(Serialize)]
struct VersionedCoordinate {
    latitude: f64,
    longitude: f64,
}

#[derive(Serialize)]
struct VersionedCheckpointEvent {
    code: String,
    reason: Option<VersionedReason>,
}

#[derive(Serialize)]
struct VersionedReason {
    code: String,
}

/// `YYYY-MM-DD` of a Unix time.
fn date_only(ts: i64) -> String {
    local_time(ts)[..10].to_string()
}

/// A stable 32-hex id (like the versioned ids) for a tracking number.
fn tracking_id_32_for(tracking_number: &str) -> String {
    let legacy = tracking_id_for(tracking_number);
    let mut state = legacy.bytes().fold(0x8422_2325_cbf2_9ce4_u64, |hash, byte| {
        (hash ^ u64::from(byte)).wrapping_mul(0x0000_0100_0000_01b3)
    });
    (0..2)
        .map(|_| {
            state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
            let mut z = state;
            z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
            format!("{:016x}", z ^ (z >> 31))
        })
        .collect()
}

fn build_versioned_envelope(opts: &SampleOptions, version: &str) -> VersionedEnvelope {
    // Versions are `YYYY-MM`: they compare as strings.
    let at_least = |since: &str| version >= since;
    let legacy = build_envelope(opts);
    let ts = clamp_unix(opts.ts);
    let msg = legacy.msg;
    let (city, state, zip) = DESTINATION;
    let (origin_city, origin_state, origin_zip) = ORIGIN;
    let finished = matches!(opts.tag, Tag::Delivered | Tag::Expired);
    let event = event_name(opts);

    // Estimated delivery: two days after the first scan; an `edd_revise` moves the latest one a day.
    let created = parse_created(&msg.created_at).unwrap_or(ts);
    let first_edd = created + 3 * 86_400;
    let latest_edd = if event == "edd_revise" { first_edd + 86_400 } else { first_edd };
    let edd = |kind: &'static str, source: &'static str, at: i64| EstimatedDelivery {
        kind,
        source,
        datetime: date_only(at),
        datetime_min: None,
        datetime_max: None,
    };
    let customer_name = "Ada Lovelace".to_string();

    let checkpoints = msg
        .checkpoints
        .into_iter()
        .map(|c| {
            let coordinate = coordinate_of(c.city);
            let events = checkpoint_events_of(&c.tag, &c.subtag);
            let hash = at_least("2026-07").then(|| {
                tracking_id_32_for(&format!("{}|{}|{}", opts.tracking_number, c.checkpoint_time, c.message))
            });
            VersionedCheckpoint {
                hash,
                created_at: c.created_at,
                slug: c.slug,
                checkpoint_time: c.checkpoint_time,
                location: c.location,
                city: c.city,
                state: c.state,
                zip: (!at_least("2026-01")).then_some(c.zip),
                postal_code: at_least("2026-01").then_some(c.zip),
                coordinate: at_least("2024-04").then_some(
                    coordinate
                        .as_ref()
                        .map(|c| VersionedCoordinate { latitude: c.latitude, longitude: c.longitude }),
                ),
                coordinates: (!at_least("2024-04"))
                    .then(|| coordinate.map(|c| vec![c.latitude, c.longitude]).unwrap_or_default()),
                country_region: "USA",
                country_region_name: "United States",
                message: c.message,
                tag: c.tag,
                subtag: c.subtag,
                subtag_message: c.subtag_message,
                raw_tag: c.raw_tag,
                events,
                source: "courier",
            }
        })
        .collect::<Vec<_>>();
    let failed_attempts = checkpoints.iter().filter(|c| c.tag == Tag::AttemptFail.as_str()).count() as u32;

    VersionedEnvelope {
        event,
        event_id: legacy.event_id,
        is_tracking_first_tag: legacy.is_tracking_first_tag,
        msg: VersionedTracking {
            id: tracking_id_32_for(&opts.tracking_number),
            legacy_id: msg.id,
            created_at: msg.created_at,
            updated_at: msg.updated_at,
            tracking_number: msg.tracking_number.clone(),
            slug: msg.slug,
            active: msg.active,
            custom_fields: (!at_least("2025-07")).then(serde_json::Map::new),
            transit_time: finished.then_some(msg.delivery_time),
            origin_country_region: "USA",
            origin_state,
            origin_city,
            origin_postal_code: origin_zip,
            origin_raw_location: None,
            destination_country_region: "USA",
            destination_state: state,
            destination_city: city,
            destination_postal_code: zip,
            destination_raw_location: None,
            courier_destination_country_region: "USA",
            courier_estimated_delivery_date: Some(CourierEstimate {
                estimated_delivery_date: date_only(latest_edd),
                estimated_delivery_date_min: None,
                estimated_delivery_date_max: None,
            }),
            note: None,
            order_id: msg.order_id.clone(),
            order_id_path: None,
            order_date: msg.order_date,
            order_number: msg.order_id,
            shipment_package_count: Some(1),
            shipment_pickup_date: msg.shipment_pickup_date,
            shipment_delivery_date: msg.shipment_delivery_date,
            shipment_type: msg.shipment_type,
            shipment_weight: None,
            signed_by: (opts.tag == Tag::Delivered).then(|| customer_name.clone()),
            source: "api",
            tag: msg.tag,
            subtag: msg.subtag,
            subtag_message: msg.subtag_message,
            title: msg.title,
            tracked_count: msg.tracked_count,
            last_mile_tracking_supported: true,
            language: None,
            return_to_sender: matches!(chosen_subtag(opts).0.as_str(), "Exception_010" | "Exception_011"),
            order_promised_delivery_date: None,
            delivery_type: None,
            pickup_location: None,
            pickup_note: None,
            courier_tracking_link: msg.courier_tracking_link,
            first_attempted_at: msg.first_attempted_at,
            courier_redirect_link: msg.courier_redirect_link,
            tracking_account_number: None,
            tracking_key: None,
            tracking_ship_date: None,
            on_time_status: None,
            on_time_difference: None,
            order_tags: Vec::new(),
            aftership_estimated_delivery_date: Some(AfterShipEstimate {
                estimated_delivery_date: date_only(latest_edd),
                confidence_code: None,
                estimated_delivery_date_min: date_only(latest_edd - 86_400),
                estimated_delivery_date_max: date_only(latest_edd + 86_400),
            }),
            custom_estimated_delivery_date: None,
            first_estimated_delivery: Some(edd("specific", "Courier EDD", first_edd)),
            latest_estimated_delivery: Some(edd("specific", "Courier EDD", latest_edd)),
            shipment_tags: Vec::new(),
            courier_connection_id: None,
            location_id: None,
            shipping_method: None,
            failed_delivery_attempts: failed_attempts,
            signature_requirement: None,
            delivery_location_type: None,
            aftership_tracking_url: format!(
                "https://track.aftership.com/trackings?courier={}&tracking-numbers={}",
                opts.slug, msg.tracking_number
            ),
            aftership_tracking_order_url: None,
            customers: vec![Customer {
                role: "buyer",
                name: customer_name,
                phone_number: None,
                email: Some("ada@example.com".into()),
                language: Some("en".into()),
            }],
            checkpoints,
        },
        ts: opts.ts,
    }
}

/// Unix seconds of an `rfc3339()` string made here.
fn parse_created(s: &str) -> Option<i64> {
    crate::dates::parse_lenient_ms(s).map(|ms| ms / 1000)
}
