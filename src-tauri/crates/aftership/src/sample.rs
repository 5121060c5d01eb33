//! AfterShip-shaped sample deliveries (legacy v4, like AfterShip's published sample) for tests, the
//! benchmark and "send a test delivery".

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
    event: &'static str,
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
                let (message, raw_tag) = scan_of(final_tag);
                let (subtag, subtag_message) = subtag_of(final_tag);
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
    let (subtag, subtag_message) = subtag_of(&opts.tag);
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
        event: "tracking_update",
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
