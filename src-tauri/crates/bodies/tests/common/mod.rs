//! Deterministic test data: AfterShip v4 `tracking_update` bodies shaped like
//! /work/shared/fixtures/aftership-v4-tracking-update.json (pretty-printed, 4-space indent, the
//! same fields in the same order), with varied couriers, tracking numbers, checkpoints and
//! messages; and pseudo-random bytes.

#![allow(dead_code)]

use std::fmt::Write;

/// xorshift64*: deterministic, no dependency.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// `0..n`
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n
    }

    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u64) as usize]
    }

    pub fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }

    pub fn digits(&mut self, n: usize) -> String {
        (0..n).map(|_| char::from(b'0' + self.below(10) as u8)).collect()
    }

    pub fn alnum(&mut self, n: usize, alphabet: &[u8]) -> String {
        (0..n).map(|_| char::from(*self.pick(alphabet))).collect()
    }

    pub fn bytes(&mut self, n: usize) -> Vec<u8> {
        let mut out = Vec::with_capacity(n + 8);
        while out.len() < n {
            out.extend_from_slice(&self.next_u64().to_le_bytes());
        }
        out.truncate(n);
        out
    }
}

const LOWER_ALNUM: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
const UPPER_ALNUM: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
const HEX: &[u8] = b"0123456789abcdef";

struct Place {
    city: &'static str,
    state: &'static str,
    zip: &'static str,
    country_iso3: &'static str,
    country_name: &'static str,
}

const PLACES: &[Place] = &[
    Place {
        city: "NORTH HAVEN",
        state: "CT",
        zip: "06473",
        country_iso3: "USA",
        country_name: "United States",
    },
    Place {
        city: "SPRINGFIELD",
        state: "MA",
        zip: "01101",
        country_iso3: "USA",
        country_name: "United States",
    },
    Place {
        city: "JERSEY CITY",
        state: "NJ",
        zip: "07097",
        country_iso3: "USA",
        country_name: "United States",
    },
    Place { city: "CHICAGO", state: "IL", zip: "60607", country_iso3: "USA", country_name: "United States" },
    Place { city: "MEMPHIS", state: "TN", zip: "38118", country_iso3: "USA", country_name: "United States" },
    Place {
        city: "LOUISVILLE",
        state: "KY",
        zip: "40209",
        country_iso3: "USA",
        country_name: "United States",
    },
    Place { city: "DALLAS", state: "TX", zip: "75261", country_iso3: "USA", country_name: "United States" },
    Place { city: "DENVER", state: "CO", zip: "80249", country_iso3: "USA", country_name: "United States" },
    Place { city: "SEATTLE", state: "WA", zip: "98108", country_iso3: "USA", country_name: "United States" },
    Place {
        city: "SAN FRANCISCO",
        state: "CA",
        zip: "94128",
        country_iso3: "USA",
        country_name: "United States",
    },
    Place { city: "ATLANTA", state: "GA", zip: "30320", country_iso3: "USA", country_name: "United States" },
    Place { city: "MIAMI", state: "FL", zip: "33122", country_iso3: "USA", country_name: "United States" },
    Place { city: "LEIPZIG", state: "SN", zip: "04435", country_iso3: "DEU", country_name: "Germany" },
    Place {
        city: "EAST MIDLANDS",
        state: "LEI",
        zip: "DE74 2SA",
        country_iso3: "GBR",
        country_name: "United Kingdom",
    },
    Place { city: "TORONTO", state: "ON", zip: "M5V 2T6", country_iso3: "CAN", country_name: "Canada" },
];

struct Courier {
    slug: &'static str,
    shipment_type: &'static str,
    link: &'static str,
}

const COURIERS: &[Courier] = &[
    Courier {
        slug: "usps",
        shipment_type: "Parcel Select",
        link: "https://tools.usps.com/go/TrackConfirmAction?tLabels=",
    },
    Courier {
        slug: "usps",
        shipment_type: "Priority Mail",
        link: "https://tools.usps.com/go/TrackConfirmAction?tLabels=",
    },
    Courier {
        slug: "ups",
        shipment_type: "UPS Ground",
        link: "https://www.ups.com/track?loc=en_US&tracknum=",
    },
    Courier {
        slug: "fedex",
        shipment_type: "FedEx Home Delivery",
        link: "https://www.fedex.com/fedextrack/?trknbr=",
    },
    Courier {
        slug: "dhl",
        shipment_type: "EXPRESS WORLDWIDE",
        link: "https://www.dhl.com/en/express/tracking.html?AWB=",
    },
    Courier {
        slug: "royal-mail",
        shipment_type: "Tracked 48",
        link: "https://www.royalmail.com/track-your-item#/tracking-results/",
    },
];

/// (tag, subtag, subtag_message, checkpoint messages, raw tags)
const STEPS: &[(&str, &str, &str, &[&str])] = &[
    (
        "InfoReceived",
        "InfoReceived_001",
        "Info Received",
        &[
            "Picked Up by Shipping Partner, USPS Awaiting Item",
            "Shipping Label Created, USPS Awaiting Item",
            "Shipment information sent to FedEx",
            "Order Processed: Ready for UPS",
            "The shipment has been processed in the parcel center",
        ],
    ),
    (
        "InTransit",
        "InTransit_001",
        "In Transit",
        &[
            "Departed Shipping Partner Facility, USPS Awaiting Item",
            "Arrived at USPS Regional Facility",
            "Departed USPS Regional Facility",
            "In Transit to Next Facility",
            "Arrived at Facility",
            "Departed from Facility",
            "Processed at UPS Facility",
            "At local FedEx facility",
            "Shipment picked up",
            "Processed at LEIPZIG - GERMANY",
            "Customs status updated",
        ],
    ),
    (
        "InTransit",
        "InTransit_007",
        "In Transit (Arrival scan)",
        &["Arrived at Post Office", "Arrived at Delivery Facility"],
    ),
    (
        "OutForDelivery",
        "OutForDelivery_001",
        "Out for Delivery",
        &[
            "Out for Delivery, Expected Delivery by 9:00pm",
            "On FedEx vehicle for delivery",
            "Out For Delivery Today",
        ],
    ),
    (
        "AttemptFail",
        "AttemptFail_001",
        "Failed Attempt",
        &[
            "Notice Left (No Authorized Recipient Available)",
            "The receiver was not available for delivery. We'll try again the next business day.",
        ],
    ),
    (
        "Exception",
        "Exception_004",
        "Delayed (Customs clearance)",
        &["Clearance event", "Shipment is on hold"],
    ),
    (
        "Delivered",
        "Delivered_001",
        "Delivered",
        &[
            "Delivered, In/At Mailbox",
            "Delivered, Front Door/Porch",
            "Delivered, Left with Individual",
            "DELIVERED",
        ],
    ),
];

const NAMES: &[&str] = &["Ada Lovelace", "Grace Hopper", "Alan Turing", "Edsger Dijkstra", "Barbara Liskov"];
const TITLES: &[&str] = &["Running shoes", "Coffee grinder", "Order #1042", "Birthday present", "Phone case"];

/// Days since 1970-01-01 to (year, month, day) (Howard Hinnant's civil_from_days).
fn civil(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

/// RFC 3339-ish times as AfterShip writes them.
fn time(unix: i64, offset: bool) -> String {
    let (y, mo, d) = civil(unix.div_euclid(86_400));
    let s = unix.rem_euclid(86_400);
    let base = format!("{y:04}-{mo:02}-{d:02}T{:02}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60);
    if offset {
        base + "+00:00"
    } else {
        base
    }
}

fn json_str(value: Option<&str>) -> String {
    match value {
        Some(v) => format!("\"{v}\""),
        None => "null".to_string(),
    }
}

fn tracking_number(rng: &mut Rng, slug: &str) -> String {
    match slug {
        "usps" => format!("9361{}", rng.digits(18)),
        "ups" => format!("1Z{}", rng.alnum(16, UPPER_ALNUM)),
        "fedex" => rng.digits(12),
        "dhl" => rng.digits(10),
        _ => format!("{}{}GB", rng.alnum(2, b"ABCDEFGHIJKLMNOPQRSTUVWXYZ"), rng.digits(9)),
    }
}

/// One pretty-printed AfterShip v4 `tracking_update` body; the same `seed` gives the same body.
pub fn aftership_body(seed: u64) -> Vec<u8> {
    let mut rng = Rng::new(seed);
    let courier = rng.pick(COURIERS);
    let slug = courier.slug;
    let number = tracking_number(&mut rng, slug);
    let id = rng.alnum(24, LOWER_ALNUM);
    let event_id = format!(
        "{}-{}-{}-{}-{}",
        rng.alnum(8, HEX),
        rng.alnum(4, HEX),
        rng.alnum(4, HEX),
        rng.alnum(4, HEX),
        rng.alnum(12, HEX)
    );
    let created = 1_600_000_000 + rng.below(150_000_000) as i64;
    let checkpoint_count = 1 + rng.below(14) as usize;

    // Checkpoints move forward through the steps, a few hours apart.
    let mut step = 0usize;
    let mut at = created + rng.below(36_000) as i64;
    let mut checkpoints = Vec::with_capacity(checkpoint_count);
    for i in 0..checkpoint_count {
        let remaining = checkpoint_count - i;
        if i > 0 {
            let max_step = STEPS.len() - 1;
            if remaining == 1 && rng.chance(40) {
                step = max_step;
            } else if rng.chance(35) && step < max_step - 1 {
                step += 1;
            }
        }
        at += 1_800 + rng.below(40_000) as i64;
        let place = rng.pick(PLACES);
        let (tag, subtag, subtag_message, messages) = STEPS[step];
        let message = *rng.pick(messages);
        let raw_tag = rng.digits(2);
        let with_country = place.country_iso3 != "USA" || rng.chance(30);
        let mut cp = String::new();
        write!(
            cp,
            r#"            {{
                "location": "{city}, {state}, {zip}",
                "country_name": {country_name},
                "country_iso3": {country_iso3},
                "state": "{state}",
                "city": "{city}",
                "zip": "{zip}",
                "message": "{message}",
                "coordinates": [],
                "tag": "{tag}",
                "subtag": "{subtag}",
                "subtag_message": "{subtag_message}",
                "created_at": "{created_at}",
                "checkpoint_time": "{checkpoint_time}",
                "slug": "{slug}",
                "raw_tag": "{raw_tag}"
            }}"#,
            city = place.city,
            state = place.state,
            zip = place.zip,
            country_name = json_str(with_country.then_some(place.country_name)),
            country_iso3 = json_str(with_country.then_some(place.country_iso3)),
            created_at = time(at + 600 + rng.below(3_000) as i64, true),
            checkpoint_time = time(at, false),
        )
        .unwrap();
        checkpoints.push(cp);
    }
    let (tag, subtag, subtag_message, _) = STEPS[step];
    let delivered = tag == "Delivered";
    let updated = at + 700;
    let order_id = rng.chance(40).then(|| format!("#{}", rng.digits(5)));
    let customer = rng.chance(30).then(|| *rng.pick(NAMES));
    let title = if rng.chance(70) { number.clone() } else { rng.pick(TITLES).to_string() };
    let emails = if rng.chance(25) {
        format!("[\n            \"customer{}@example.com\"\n        ]", rng.digits(3))
    } else {
        "[]".to_string()
    };
    let expected =
        (!delivered && rng.chance(50)).then(|| time(updated + 86_400 * (1 + rng.below(5) as i64), true));
    let country = if slug == "dhl" || slug == "royal-mail" { "GBR" } else { "USA" };

    let body = format!(
        r#"{{
    "event_id": "{event_id}",
    "event": "tracking_update",
    "is_tracking_first_tag": {first_tag},
    "msg": {{
        "id": "{id}",
        "tracking_number": "{number}",
        "title": "{title}",
        "note": null,
        "origin_country_iso3": "USA",
        "destination_country_iso3": "{country}",
        "courier_destination_country_iso3": "{country}",
        "shipment_package_count": {package_count},
        "active": {active},
        "order_id": {order_id},
        "order_id_path": null,
        "order_date": {order_date},
        "customer_name": {customer},
        "source": "{source}",
        "emails": {emails},
        "smses": [],
        "subscribed_smses": [],
        "subscribed_emails": [],
        "android": [],
        "ios": [],
        "return_to_sender": false,
        "custom_fields": {{}},
        "tag": "{tag}",
        "subtag": "{subtag}",
        "subtag_message": "{subtag_message}",
        "tracked_count": {tracked_count},
        "expected_delivery": {expected},
        "signed_by": {signed_by},
        "shipment_type": "{shipment_type}",
        "created_at": "{created_at}",
        "updated_at": "{updated_at}",
        "slug": "{slug}",
        "unique_token": "deprecated",
        "path": "deprecated",
        "shipment_weight": {weight},
        "shipment_weight_unit": {weight_unit},
        "delivery_time": {delivery_time},
        "last_mile_tracking_supported": {last_mile},
        "language": null,
        "shipment_pickup_date": "{pickup}",
        "shipment_delivery_date": {delivery_date},
        "last_updated_at": "{updated_at}",
        "checkpoints": [
{checkpoints}
        ],
        "order_promised_delivery_date": null,
        "delivery_type": null,
        "pickup_location": null,
        "pickup_note": null,
        "tracking_account_number": null,
        "tracking_origin_country": null,
        "tracking_destination_country": null,
        "tracking_key": null,
        "tracking_postal_code": null,
        "tracking_ship_date": null,
        "tracking_state": null,
        "courier_tracking_link": "{link}{number}",
        "first_attempted_at": null,
        "courier_redirect_link": "{link}{number}&ref=aftership"
    }},
    "ts": {ts}
}}"#,
        first_tag = rng.chance(50),
        package_count = if rng.chance(20) { "1" } else { "null" },
        active = !delivered,
        order_id = json_str(order_id.as_deref()),
        order_date = json_str(
            rng.chance(60).then(|| time(created - 86_400 * rng.below(10) as i64, false) + "Z").as_deref()
        ),
        customer = json_str(customer),
        source = if rng.chance(80) { "web" } else { "api" },
        tracked_count = 1 + rng.below(40),
        expected = json_str(expected.as_deref()),
        signed_by = json_str((delivered && rng.chance(30)).then_some("S SMITH")),
        shipment_type = courier.shipment_type,
        created_at = time(created, true),
        updated_at = time(updated, true),
        weight =
            if rng.chance(30) { format!("{}.{}", rng.below(20), rng.below(10)) } else { "null".to_string() },
        weight_unit = json_str(rng.chance(30).then_some("lb")),
        delivery_time = (updated - created) / 86_400,
        last_mile = rng.chance(50),
        pickup = time(created + 3_600, false),
        delivery_date = json_str(delivered.then(|| time(at, false)).as_deref()),
        checkpoints = checkpoints.join(",\n"),
        link = courier.link,
        ts = updated + 1,
    );
    body.into_bytes()
}

/// A delivery's request headers, one `name: value` a line, as the store might keep them.
pub fn aftership_headers(seed: u64, body_len: usize) -> Vec<u8> {
    let mut rng = Rng::new(seed ^ 0x5eed);
    let mac: String = rng.alnum(43, b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/");
    format!(
        "content-type: application/json\naccept: application/json\naccept-encoding: gzip\naftership-hmac-sha256: {mac}=\ncontent-length: {body_len}\nconnection: close\nuser-agent: aftership-webhook/1.0\nx-forwarded-for: 3.{}.{}.{}\n",
        rng.below(256),
        rng.below(256),
        rng.below(256)
    )
    .into_bytes()
}
