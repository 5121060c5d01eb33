//! The workload: a busy merchant's year of AfterShip deliveries, generated deterministically from a
//! seed, in the order the receiver gets them.
//!
//! About 130,000 shipments a year start at random (a Poisson process), each with a courier, a
//! tracking number in that courier's format, an order (`#1042`) and 4 to 12 updates. Each update is a
//! `tracking_update` carrying the whole tracking so far (every checkpoint, as AfterShip sends it), so
//! bodies grow from about 2.3 KB (Pending: no checkpoint yet) to about 9 KB (10 checkpoints, the
//! most a body carries), about 5 KB on average, pretty-printed like AfterShip's sample
//! (`tests/fixtures/aftership-v4-tracking-update.json`, field for field). Most shipments end
//! Delivered; a few fail an attempt first, are held in an exception, wait at a pickup point, or end
//! in an exception.
//!
//! [`Year`] yields the [`Post`]s in posting order, shipments interleaved: each update shortly after
//! its checkpoint; about 1% retries (the same body, `event_id` and signature again, 30 s to 8 min
//! later, as AfterShip retries); some late older updates (a new event posted after a newer update of
//! the same shipment); and a few forged posts (a body claiming Delivered, signed with the wrong
//! secret: the receiver must answer 401). The stream does not end after the year: shipments keep
//! starting at the same rate. Only the plan of each shipment is generated up front (cheap); bodies
//! are rendered and signed by [`render`] (on every core, before any timing).

use std::cmp::Ordering;
use std::collections::BinaryHeap;
use std::sync::Arc;

use bytes::Bytes;
use serde::Serialize;
use shipwatch_aftership::sign;

/// 2026-01-01T00:00:00Z: the year the workload describes.
pub const YEAR_START: i64 = 1_767_225_600;
const YEAR_S: f64 = 365.0 * 86_400.0;
/// Shipments started per year (with 4 to 12 updates each: about 1.04M posts).
pub const SHIPMENTS_PER_YEAR: f64 = 130_000.0;
/// The share of new events AfterShip sends again (the receiver did not answer in time).
pub const RETRY_CHANCE: f64 = 0.01;
/// The share of updates (neither a shipment's first nor its last) posted after the next one.
pub const LATE_CHANCE: f64 = 0.005;
/// The share of new events followed by a forged post about the same shipment.
pub const FORGED_CHANCE: f64 = 0.001;
/// The secret forged posts are signed with (never the receiver's).
const FORGER_SECRET: &str = "not-the-webhook-secret";
/// Most checkpoints a body carries (keeps the largest bodies near 9 KB).
const MAX_CHECKPOINTS: usize = 10;

/// SplitMix64: tiny, fast and the same on every platform and version, so a seed always gives the
/// same year.
#[derive(Clone, Debug)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (`n > 0`).
    pub fn below(&mut self, n: u64) -> u64 {
        ((u128::from(self.next_u64()) * u128::from(n)) >> 64) as u64
    }

    /// Uniform in `lo..=hi`.
    pub fn range(&mut self, lo: i64, hi: i64) -> i64 {
        lo + self.below((hi - lo + 1) as u64) as i64
    }

    /// Uniform in `[0, 1)`.
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    pub fn chance(&mut self, p: f64) -> bool {
        self.unit() < p
    }

    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u64) as usize]
    }

    /// A value picked by weight from `(weight, value)` pairs.
    pub fn weighted<'a, T>(&mut self, items: &'a [(u32, T)]) -> &'a T {
        let total: u64 = items.iter().map(|(w, _)| u64::from(*w)).sum();
        let mut x = self.below(total);
        for (w, value) in items {
            if x < u64::from(*w) {
                return value;
            }
            x -= u64::from(*w);
        }
        &items[items.len() - 1].1
    }

    /// A random UUID v4 (AfterShip's `event_id`).
    pub fn uuid(&mut self) -> String {
        let r = (u128::from(self.next_u64()) << 64) | u128::from(self.next_u64());
        let r = r & !(0xf << 76) & !(0x3 << 62) | (0x4 << 76) | (0x2 << 62);
        format!(
            "{:08x}-{:04x}-{:04x}-{:04x}-{:012x}",
            r >> 96,
            (r >> 80) & 0xffff,
            (r >> 64) & 0xffff,
            (r >> 48) & 0xffff,
            r & 0xffff_ffff_ffff
        )
    }

    fn alnum(&mut self, n: usize) -> String {
        const CHARS: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
        (0..n).map(|_| char::from(*self.pick(CHARS))).collect()
    }
}

/// A stable mix of a seed and a number, for independent per-shipment streams.
fn mix(seed: u64, n: u64) -> u64 {
    Rng::new(seed ^ n.wrapping_mul(0xd6e8_feb8_6659_fd93)).next_u64()
}

// ---------------------------------------------------------------------------------------------
// Places, couriers, scans.

/// Where a scan happens.
#[derive(Debug)]
pub struct Place {
    pub city: &'static str,
    pub state: Option<&'static str>,
    pub zip: &'static str,
    pub country: &'static str,
    /// Offset of local time from UTC, seconds (checkpoint times are local, without a zone).
    pub utc_offset_s: i64,
}

const fn place(
    city: &'static str,
    state: Option<&'static str>,
    zip: &'static str,
    country: &'static str,
    utc_offset_h: i64,
) -> Place {
    Place { city, state, zip, country, utc_offset_s: utc_offset_h * 3600 }
}

const USA: &[Place] = &[
    place("NORTH HAVEN", Some("CT"), "06473", "USA", -5),
    place("LOUISVILLE", Some("KY"), "40209", "USA", -5),
    place("MEMPHIS", Some("TN"), "38118", "USA", -6),
    place("CHICAGO", Some("IL"), "60666", "USA", -6),
    place("ONTARIO", Some("CA"), "91761", "USA", -8),
    place("DALLAS", Some("TX"), "75261", "USA", -6),
    place("NEWARK", Some("NJ"), "07114", "USA", -5),
    place("ATLANTA", Some("GA"), "30320", "USA", -5),
    place("SEATTLE", Some("WA"), "98108", "USA", -8),
    place("DENVER", Some("CO"), "80249", "USA", -7),
    place("BROOKLYN", Some("NY"), "11201", "USA", -5),
    place("AUSTIN", Some("TX"), "78701", "USA", -6),
];
const GBR: &[Place] = &[
    place("LONDON", None, "EC1A 1BB", "GBR", 0),
    place("MANCHESTER", None, "M1 1AE", "GBR", 0),
    place("BIRMINGHAM", None, "B1 1AA", "GBR", 0),
    place("GLASGOW", None, "G1 1XQ", "GBR", 0),
    place("BRISTOL", None, "BS1 4DJ", "GBR", 0),
    place("LEEDS", None, "LS1 1UR", "GBR", 0),
];
const DEU: &[Place] = &[
    place("Leipzig", None, "04435", "DEU", 1),
    place("Frankfurt am Main", None, "60549", "DEU", 1),
    place("Hamburg", None, "20457", "DEU", 1),
    place("Köln", None, "50667", "DEU", 1),
    place("München", None, "80331", "DEU", 1),
];
const FRA: &[Place] = &[
    place("Roissy-en-France", None, "95700", "FRA", 1),
    place("Lyon", None, "69002", "FRA", 1),
    place("Marseille", None, "13002", "FRA", 1),
];
const NLD: &[Place] = &[
    place("Amsterdam", None, "1012 JS", "NLD", 1),
    place("Utrecht", None, "3511 AX", "NLD", 1),
    place("Nieuwegein", None, "3439 LM", "NLD", 1),
];
const CAN: &[Place] = &[
    place("MISSISSAUGA", Some("ON"), "L5T 2Z4", "CAN", -5),
    place("MONTREAL", Some("QC"), "H4S 1A7", "CAN", -5),
    place("VANCOUVER", Some("BC"), "V6B 1A1", "CAN", -8),
];
const AUS: &[Place] = &[
    place("SYDNEY", Some("NSW"), "2000", "AUS", 10),
    place("MELBOURNE", Some("VIC"), "3000", "AUS", 10),
    place("BRISBANE", Some("QLD"), "4000", "AUS", 10),
];
const JPN: &[Place] =
    &[place("TOKYO", None, "100-0005", "JPN", 9), place("OSAKA", None, "530-0001", "JPN", 9)];

fn places_of(country: &str) -> &'static [Place] {
    match country {
        "USA" => USA,
        "GBR" => GBR,
        "DEU" => DEU,
        "FRA" => FRA,
        "NLD" => NLD,
        "CAN" => CAN,
        "AUS" => AUS,
        _ => JPN,
    }
}

/// How a courier numbers its parcels. Every format embeds a bijection of the shipment's index, so
/// no two shipments of a run share a tracking number.
#[derive(Debug, Clone, Copy)]
enum Format {
    /// `prefix` + `digits` digits.
    Digits { prefix: &'static str, digits: u32 },
    /// UPS: `1Z` + the shipper's account + service code + 8 digits.
    Ups,
    /// Universal Postal Union: two letters, 8 digits, a check digit, the country.
    Upu { suffix: &'static str },
}

#[derive(Debug)]
pub struct Courier {
    pub slug: &'static str,
    pub country: &'static str,
    format: Format,
    shipment_types: &'static [&'static str],
    /// Where to follow the parcel; `{}` is the tracking number.
    link: &'static str,
    /// Shipments that cross a border (the rest stay in the courier's country).
    international_pct: u32,
}

const COURIERS: &[(u32, Courier)] = &[
    (
        25,
        Courier {
            slug: "usps",
            country: "USA",
            format: Format::Digits { prefix: "9400111899", digits: 12 },
            shipment_types: &[
                "USPS Ground Advantage",
                "Priority Mail",
                "Parcel Select",
                "First-Class Package Service",
            ],
            link: "https://tools.usps.com/go/TrackConfirmAction?tLabels={}",
            international_pct: 0,
        },
    ),
    (
        20,
        Courier {
            slug: "ups",
            country: "USA",
            format: Format::Ups,
            shipment_types: &["UPS Ground", "UPS 2nd Day Air", "UPS Next Day Air Saver"],
            link: "https://www.ups.com/track?loc=en_US&tracknum={}",
            international_pct: 3,
        },
    ),
    (
        15,
        Courier {
            slug: "fedex",
            country: "USA",
            format: Format::Digits { prefix: "", digits: 12 },
            shipment_types: &["FedEx Ground", "FedEx Home Delivery", "FedEx 2Day"],
            link: "https://www.fedex.com/fedextrack/?trknbr={}",
            international_pct: 5,
        },
    ),
    (
        10,
        Courier {
            slug: "dhl",
            country: "DEU",
            format: Format::Digits { prefix: "", digits: 10 },
            shipment_types: &["EXPRESS WORLDWIDE", "EXPRESS 12:00"],
            link: "https://www.dhl.com/en/express/tracking.html?AWB={}&brand=DHL",
            international_pct: 80,
        },
    ),
    (
        10,
        Courier {
            slug: "royal-mail",
            country: "GBR",
            format: Format::Upu { suffix: "GB" },
            shipment_types: &["Tracked 24", "Tracked 48", "Special Delivery Guaranteed"],
            link: "https://www.royalmail.com/track-your-item#/tracking-results/{}",
            international_pct: 2,
        },
    ),
    (
        8,
        Courier {
            slug: "dpd",
            country: "DEU",
            format: Format::Digits { prefix: "0150", digits: 10 },
            shipment_types: &["DPD Classic", "DPD Predict"],
            link: "https://tracking.dpd.de/status/en_US/parcel/{}",
            international_pct: 15,
        },
    ),
    (
        4,
        Courier {
            slug: "canada-post",
            country: "CAN",
            format: Format::Digits { prefix: "7023", digits: 12 },
            shipment_types: &["Expedited Parcel", "Xpresspost"],
            link: "https://www.canadapost-postescanada.ca/track-reperage/en#/details/{}",
            international_pct: 0,
        },
    ),
    (
        4,
        Courier {
            slug: "postnl-3s",
            country: "NLD",
            format: Format::Digits { prefix: "3SBRVW", digits: 9 },
            shipment_types: &["Standard Shipment", "Mailbox parcel"],
            link: "https://postnl.nl/tracktrace/?B={}&P=&D=NL&T=C",
            international_pct: 10,
        },
    ),
    (
        2,
        Courier {
            slug: "colissimo",
            country: "FRA",
            format: Format::Digits { prefix: "6A", digits: 11 },
            shipment_types: &["Colissimo Domicile"],
            link: "https://www.laposte.fr/outils/suivre-vos-envois?code={}",
            international_pct: 5,
        },
    ),
    (
        2,
        Courier {
            slug: "australia-post",
            country: "AUS",
            format: Format::Digits { prefix: "33LNZ", digits: 10 },
            shipment_types: &["Parcel Post", "Express Post"],
            link: "https://auspost.com.au/mypost/track/#/details/{}",
            international_pct: 0,
        },
    ),
];

const DESTINATIONS: &[&str] = &["USA", "GBR", "DEU", "FRA", "NLD", "CAN", "AUS", "JPN"];

/// A scan: message and the courier's raw code.
type Scan = (&'static str, &'static str);

const INFO_SCANS: &[Scan] = &[
    ("Shipment information received", "IR"),
    ("Label created, awaiting item", "LC"),
    ("Electronic shipping notification received", "EN"),
    ("Shipment data transmitted by the sender", "DT"),
];
const TRANSIT_SCANS: &[(Scan, &str)] = &[
    (("Picked up", "PU"), "InTransit_002"),
    (("Departed facility", "DP"), "InTransit_007"),
    (("Arrived at sort facility", "AR"), "InTransit_003"),
    (("In transit to next facility", "IT"), "InTransit_001"),
    (("Processed at regional hub", "PR"), "InTransit_001"),
    (("Departed from origin hub", "DO"), "InTransit_007"),
    (("Arrived at destination hub", "AD"), "InTransit_003"),
    (("On the way to the delivery depot", "OW"), "InTransit_001"),
];
/// The first scan in the destination country of a parcel that crossed a border.
const CUSTOMS_SCAN: (Scan, &str) = (("Customs clearance completed", "CC"), "InTransit_001");
const OUT_SCANS: &[Scan] = &[("Out for delivery", "OD"), ("On vehicle for delivery", "OFD")];
const DELIVERED_SCANS: &[(Scan, &str, &str)] = &[
    (("Delivered, front door/porch", "DL"), "Delivered_001", "Delivered"),
    (("Delivered, in/at mailbox", "DL"), "Delivered_001", "Delivered"),
    (("Delivered, left with individual", "DL"), "Delivered_003", "Sign by customer"),
    (("Delivered to neighbour", "DN"), "Delivered_005", "Delivered to neighbor"),
];
const ATTEMPT_SCANS: &[Scan] = &[
    ("Delivery attempted - no access to delivery location", "NA"),
    ("Delivery attempted, recipient not available", "NH"),
];
const EXCEPTIONS: &[(Scan, &str, &str)] = &[
    (("Held by customs", "HC"), "Exception_004", "Delayed (Customs clearance)"),
    (("Delayed due to weather", "WX"), "Exception_017", "Delayed (Extreme weather)"),
    (("Address issue - delivery delayed", "AI"), "Exception_007", "Incorrect Address"),
    (("Package damaged in transit", "DM"), "Exception_012", "Shipment damage"),
    (("Return to sender", "RS"), "Exception_010", "Returning to sender"),
];
const PICKUP_SCAN: Scan = ("Available for pickup at access point", "AP");

const FIRST_NAMES: &[&str] =
    &["Ava", "Liam", "Noah", "Emma", "Olivia", "Lucas", "Mia", "Sofia", "Jonas", "Chloe", "Arjun", "Yuki"];
const LAST_NAMES: &[&str] =
    &["Smith", "Johnson", "Garcia", "Müller", "Martin", "Brown", "Dubois", "Jansen", "Tremblay", "Sato"];

// ---------------------------------------------------------------------------------------------
// The plan of a shipment.

/// One checkpoint of a shipment.
#[derive(Debug)]
pub struct Checkpoint {
    /// When it was scanned (UTC).
    pub at: i64,
    /// When AfterShip found it (the update that first carried it, less a second).
    pub found_at: i64,
    pub tag: &'static str,
    pub subtag: &'static str,
    pub subtag_message: &'static str,
    pub scan: Scan,
    pub place: &'static Place,
}

/// One update AfterShip sends: the tracking as it is after its last checkpoint.
#[derive(Debug)]
pub struct Update {
    /// When AfterShip sends it (`ts`, `updated_at`, `last_updated_at`).
    pub at: i64,
    pub event_id: String,
    /// How many of the shipment's checkpoints it carries (the first ones; none while Pending).
    pub checkpoints: usize,
    pub tag: &'static str,
    pub subtag: &'static str,
    pub subtag_message: &'static str,
    pub expected_delivery: Option<String>,
}

/// Everything about one shipment, drawn when it starts.
#[derive(Debug)]
pub struct Shipment {
    /// 0-based, in order of start.
    pub index: u32,
    pub tracking_id: String,
    pub tracking_number: String,
    pub courier: &'static Courier,
    pub title: String,
    pub order_id: Option<String>,
    pub customer_name: Option<String>,
    pub destination: &'static str,
    pub shipment_type: &'static str,
    pub created_at: i64,
    pub checkpoints: Vec<Checkpoint>,
    pub updates: Vec<Update>,
    pub signed_by: Option<&'static str>,
}

impl Shipment {
    /// The tag of update `u`.
    pub fn tag(&self, u: usize) -> &'static str {
        self.updates[u].tag
    }

    fn plan(seed: u64, index: u32, start: i64, number_salt: u64) -> Shipment {
        let mut rng = Rng::new(mix(seed, u64::from(index) + 1));
        let courier = rng.weighted(COURIERS);
        let tracking_number = tracking_number(courier, index, number_salt, &mut rng);
        let international = rng.below(100) < u64::from(courier.international_pct);
        let destination = if international {
            loop {
                let d = *rng.pick(DESTINATIONS);
                if d != courier.country {
                    break d;
                }
            }
        } else {
            courier.country
        };
        let (order_id, title) = if rng.chance(0.9) {
            let order = format!("#{}", 1001 + u64::from(index));
            (Some(order.clone()), order)
        } else {
            (None, tracking_number.clone())
        };
        let customer_name = (order_id.is_some() && rng.chance(0.7))
            .then(|| format!("{} {}", rng.pick(FIRST_NAMES), rng.pick(LAST_NAMES)));
        let shipment_type = *rng.pick(courier.shipment_types);

        let n = rng.range(4, 12) as usize;
        let story = Story::draw(&mut rng, n, international);
        let origin = places_of(courier.country);
        let dest = places_of(destination);
        let home = rng.pick(dest);
        let mut checkpoints: Vec<Checkpoint> = Vec::with_capacity(MAX_CHECKPOINTS);
        let mut updates: Vec<Update> = Vec::with_capacity(n);
        let mut scanned = start + rng.range(600, 7200);
        let mut expected: Option<i64> = None;
        for (u, step) in story.steps.iter().enumerate() {
            // Every step but Pending brings a checkpoint, within MAX_CHECKPOINTS: past it, an
            // in-transit update only revises the expected delivery. Now and then, while there is
            // room, an in-transit update brings a second scan.
            let to_come = story.steps[u..].iter().filter(|s| **s != Step::Pending).count();
            let room = MAX_CHECKPOINTS.saturating_sub(checkpoints.len());
            let revise_only = *step == Step::Transit && to_come > room;
            let extra = *step == Step::Transit && to_come < room && rng.chance(0.25);
            let gap = match step {
                Step::Pending | Step::Info => 0,
                Step::Transit if checkpoints.len() <= 1 => rng.range(6 * 3600, 36 * 3600),
                Step::Transit => rng.range(2 * 3600, 18 * 3600),
                Step::Resume => rng.range(24 * 3600, 96 * 3600),
                Step::Out => rng.range(6 * 3600, 20 * 3600),
                Step::Delivered | Step::PickedUp => rng.range(3600, 9 * 3600),
                Step::Attempt => rng.range(2 * 3600, 8 * 3600),
                Step::Exception(_) | Step::FinalException(_) => rng.range(12 * 3600, 72 * 3600),
                Step::Pickup => rng.range(3 * 3600, 20 * 3600),
            };
            if extra {
                let between = scanned + gap / 2;
                let ((scan, subtag), place) =
                    (*rng.pick(TRANSIT_SCANS), transit_place(&mut rng, checkpoints.len(), n, origin, dest));
                checkpoints.push(Checkpoint {
                    at: between,
                    found_at: 0,
                    tag: "InTransit",
                    subtag,
                    subtag_message: "In Transit",
                    scan,
                    place,
                });
            }
            scanned += gap;
            let (tag, subtag, subtag_message, sent) = match step {
                // Tracking created; the courier has not scanned anything yet.
                Step::Pending => ("Pending", "Pending_001", "Pending", start + rng.range(60, 300)),
                _ if revise_only => {
                    expected = expected.map(|e| e + 86_400);
                    let last = &checkpoints[checkpoints.len() - 1];
                    (last.tag, last.subtag, last.subtag_message, scanned + rng.range(120, 2700))
                }
                _ => {
                    let c = step.checkpoint(&mut rng, scanned, checkpoints.len(), n, origin, dest, home);
                    let fields = (c.tag, c.subtag, c.subtag_message);
                    checkpoints.push(c);
                    (fields.0, fields.1, fields.2, scanned + rng.range(120, 2700))
                }
            };
            for c in checkpoints.iter_mut().filter(|c| c.found_at == 0) {
                c.found_at = sent - 1;
            }
            if expected.is_none() && tag == "InTransit" {
                expected = Some(scanned + rng.range(2, 6) * 86_400);
            }
            if matches!(step, Step::Exception(_)) {
                expected = expected.map(|e| e.max(scanned) + 2 * 86_400);
            }
            let event_id = rng.uuid();
            updates.push(Update {
                at: sent,
                event_id,
                checkpoints: checkpoints.len(),
                tag,
                subtag,
                subtag_message,
                expected_delivery: expected.map(date),
            });
        }
        let delivered = matches!(story.steps.last(), Some(Step::Delivered) | Some(Step::PickedUp));
        let signed_by =
            (delivered && rng.chance(0.3)).then(|| *rng.pick(&["J SMITH", "M GARCIA", "FRONT DESK"]));
        Shipment {
            index,
            tracking_id: rng.alnum(24),
            tracking_number,
            courier,
            title,
            order_id,
            customer_name,
            destination,
            shipment_type,
            created_at: start,
            checkpoints,
            updates,
            signed_by,
        }
    }
}

/// Where an in-transit scan happens: the first half of the way in the origin country, the rest in
/// the destination's.
fn transit_place(
    rng: &mut Rng,
    at: usize,
    n: usize,
    origin: &'static [Place],
    dest: &'static [Place],
) -> &'static Place {
    if at < n / 2 {
        rng.pick(origin)
    } else {
        rng.pick(dest)
    }
}

/// What a shipment goes through, one step per update.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Step {
    Pending,
    Info,
    Transit,
    /// In transit again after an exception.
    Resume,
    Out,
    Attempt,
    Delivered,
    Pickup,
    PickedUp,
    Exception(usize),
    FinalException(usize),
}

struct Story {
    steps: Vec<Step>,
}

impl Story {
    /// `n` steps (4..=12): pending (half the time: AfterShip had the tracking before the courier
    /// scanned it), info received, in transit, out for delivery, delivered, with now and then a
    /// failed attempt, an exception on the way, a pickup point, or an exception at the end.
    fn draw(rng: &mut Rng, n: usize, international: bool) -> Story {
        let mut steps = vec![];
        let n = if rng.chance(0.5) {
            steps.push(Step::Pending);
            n - 1
        } else {
            n
        };
        let roll = rng.below(1000);
        steps.push(Step::Info);
        let transit = |steps: &mut Vec<Step>, k: usize| steps.extend(std::iter::repeat_n(Step::Transit, k));
        if roll < 30 && n >= 6 {
            // A failed attempt, then delivered the next day.
            transit(&mut steps, n - 5);
            steps.extend([Step::Out, Step::Attempt, Step::Out, Step::Delivered]);
        } else if roll < 50 && n >= 6 {
            // Held on the way (customs when it crosses a border, else weather), then delivered.
            let e = if international { rng.below(2) as usize } else { 1 };
            transit(&mut steps, n - 6);
            steps.extend([Step::Exception(e), Step::Resume, Step::Transit, Step::Out, Step::Delivered]);
        } else if roll < 75 {
            // Ends in an exception (address, damage, returned).
            transit(&mut steps, n - 2);
            steps.push(Step::FinalException(2 + rng.below(3) as usize));
        } else if roll < 95 {
            // Collected from a pickup point.
            transit(&mut steps, n - 3);
            steps.extend([Step::Pickup, Step::PickedUp]);
        } else {
            transit(&mut steps, n - 3);
            steps.extend([Step::Out, Step::Delivered]);
        }
        Story { steps }
    }
}

impl Step {
    #[allow(clippy::too_many_arguments)]
    fn checkpoint(
        self,
        rng: &mut Rng,
        at: i64,
        index: usize,
        n: usize,
        origin: &'static [Place],
        dest: &'static [Place],
        home: &'static Place,
    ) -> Checkpoint {
        let (tag, subtag, subtag_message, scan, place): (_, _, _, Scan, &'static Place) = match self {
            Step::Pending | Step::Info => {
                ("InfoReceived", "InfoReceived_001", "Info Received", *rng.pick(INFO_SCANS), rng.pick(origin))
            }
            Step::Transit | Step::Resume => {
                let crossed = !std::ptr::eq(origin, dest) && index == n / 2;
                let (scan, subtag) = if crossed { CUSTOMS_SCAN } else { *rng.pick(TRANSIT_SCANS) };
                ("InTransit", subtag, "In Transit", scan, transit_place(rng, index, n, origin, dest))
            }
            Step::Out => {
                ("OutForDelivery", "OutForDelivery_001", "Out For Delivery", *rng.pick(OUT_SCANS), home)
            }
            Step::Attempt => {
                ("AttemptFail", "AttemptFail_001", "Failed Attempt", *rng.pick(ATTEMPT_SCANS), home)
            }
            Step::Delivered => {
                let (scan, subtag, message) = *rng.pick(DELIVERED_SCANS);
                ("Delivered", subtag, message, scan, home)
            }
            Step::Pickup => {
                ("AvailableForPickup", "AvailableForPickup_001", "Available for pickup", PICKUP_SCAN, home)
            }
            Step::PickedUp => (
                "Delivered",
                "Delivered_002",
                "Picked up by the customer",
                ("Picked up by customer", "PC"),
                home,
            ),
            Step::Exception(e) | Step::FinalException(e) => {
                let (scan, subtag, message) = EXCEPTIONS[e];
                ("Exception", subtag, message, scan, transit_place(rng, index, n, origin, dest))
            }
        };
        Checkpoint { at, found_at: 0, tag, subtag, subtag_message, scan, place }
    }
}

/// The tracking number of shipment `index` at `courier`: unique in the run (an affine bijection of
/// the index, salted by the seed, in the courier's format).
fn tracking_number(courier: &Courier, index: u32, salt: u64, rng: &mut Rng) -> String {
    let unique = |digits: u32| -> String {
        let modulus = 10u64.pow(digits);
        // 7,919,230,947 is coprime with every power of ten: index -> value is one-to-one.
        let value = ((u128::from(index) * 7_919_230_947 + u128::from(salt)) % u128::from(modulus)) as u64;
        format!("{value:0width$}", width = digits as usize)
    };
    match courier.format {
        Format::Digits { prefix, digits } => format!("{prefix}{}", unique(digits)),
        Format::Ups => format!("1Z4A8W39{}{}", rng.pick(&["03", "02", "13"]), unique(8)),
        Format::Upu { suffix } => {
            let letters = rng.pick(&["QF", "JX", "TT", "RN"]);
            let digits = unique(8);
            let check: u32 = digits.bytes().map(|b| u32::from(b - b'0')).sum::<u32>() % 10;
            format!("{letters}{digits}{check}{suffix}")
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The stream of posts.

/// What a post is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    /// A new event, in its turn.
    New,
    /// A new event posted after a newer update of its shipment.
    Late,
    /// An event sent again: the same body, event id and signature.
    Retry,
    /// A body claiming Delivered, signed with the wrong secret.
    Forged,
}

impl Kind {
    /// A signed new event (the receiver must accept it and it counts towards its shipment).
    pub fn is_new_event(self) -> bool {
        matches!(self, Kind::New | Kind::Late)
    }
}

/// One request the receiver gets.
#[derive(Clone, Debug)]
pub struct Post {
    pub kind: Kind,
    pub shipment: Arc<Shipment>,
    /// Which update of the shipment the body is.
    pub update: usize,
    /// When it is posted (in the year's time).
    pub at: i64,
    /// Forged posts: their own event id.
    pub forged_event_id: Option<String>,
}

struct Pending {
    at: i64,
    seq: u64,
    post: Post,
}

impl PartialEq for Pending {
    fn eq(&self, other: &Self) -> bool {
        (self.at, self.seq) == (other.at, other.seq)
    }
}
impl Eq for Pending {}
impl PartialOrd for Pending {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Pending {
    /// Reversed: the earliest post is the greatest, for the max-heap.
    fn cmp(&self, other: &Self) -> Ordering {
        (other.at, other.seq).cmp(&(self.at, self.seq))
    }
}

/// Posts so far, by kind.
#[derive(Clone, Copy, Debug, Default, Serialize)]
pub struct Counts {
    pub new: u64,
    pub late: u64,
    pub retry: u64,
    pub forged: u64,
    pub shipments_started: u64,
}

impl Counts {
    pub fn posts(&self) -> u64 {
        self.new + self.late + self.retry + self.forged
    }
}

/// The year as an endless stream of posts in posting order (deterministic by seed).
pub struct Year {
    seed: u64,
    rng: Rng,
    number_salt: u64,
    next_index: u32,
    next_start: i64,
    mean_gap_s: f64,
    heap: BinaryHeap<Pending>,
    seq: u64,
    pub counts: Counts,
}

impl Year {
    pub fn new(seed: u64) -> Year {
        let mut rng = Rng::new(mix(seed, 0));
        let number_salt = rng.next_u64();
        let mean_gap_s = YEAR_S / SHIPMENTS_PER_YEAR;
        let mut year = Year {
            seed,
            rng,
            number_salt,
            next_index: 0,
            next_start: YEAR_START,
            mean_gap_s,
            heap: BinaryHeap::new(),
            seq: 0,
            counts: Counts::default(),
        };
        year.next_start += year.gap();
        year
    }

    fn gap(&mut self) -> i64 {
        (-(1.0 - self.rng.unit()).ln() * self.mean_gap_s).round() as i64
    }

    fn push(&mut self, post: Post) {
        self.seq += 1;
        self.heap.push(Pending { at: post.at, seq: self.seq, post });
    }

    /// Starts the next shipment and schedules its updates.
    fn admit(&mut self) {
        let shipment =
            Arc::new(Shipment::plan(self.seed, self.next_index, self.next_start, self.number_salt));
        self.next_index += 1;
        self.counts.shipments_started += 1;
        self.next_start += self.gap();
        let n = shipment.updates.len();
        let mut previous_late = false;
        for u in 0..n {
            let on_time = shipment.updates[u].at;
            // Never two late ones in a row: each arrives after the next update, which is on time.
            let late = u > 0 && u + 1 < n && !previous_late && self.rng.chance(LATE_CHANCE);
            let (kind, at) = if late {
                (Kind::Late, shipment.updates[u + 1].at + self.rng.range(600, 12 * 3600))
            } else {
                (Kind::New, on_time)
            };
            previous_late = late;
            self.push(Post { kind, shipment: shipment.clone(), update: u, at, forged_event_id: None });
        }
    }

    /// The next `n` posts.
    pub fn take(&mut self, n: usize) -> Vec<Post> {
        (0..n).map(|_| self.next_post()).collect()
    }

    pub fn next_post(&mut self) -> Post {
        while self.heap.peek().is_none_or(|p| self.next_start <= p.at) {
            self.admit();
        }
        // Never empty: the loop above admits until it holds a post.
        let post = self.heap.pop().map(|p| p.post).expect("the year always has a next post");
        match post.kind {
            Kind::New => self.counts.new += 1,
            Kind::Late => self.counts.late += 1,
            Kind::Retry => self.counts.retry += 1,
            Kind::Forged => self.counts.forged += 1,
        }
        if post.kind.is_new_event() {
            if self.rng.chance(RETRY_CHANCE) {
                // AfterShip's schedule: 30 s, 60 s, 120 s, ... after the attempt that failed.
                let delay = 30 << self.rng.below(5);
                self.push(Post { kind: Kind::Retry, at: post.at + delay, ..post.clone() });
            }
            if self.rng.chance(FORGED_CHANCE) {
                let forged_event_id = Some(self.rng.uuid());
                let at = post.at + self.rng.range(1, 600);
                self.push(Post { kind: Kind::Forged, at, forged_event_id, ..post.clone() });
            }
        }
        post
    }
}

// ---------------------------------------------------------------------------------------------
// Bodies.

/// What the receiver must answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Expect {
    /// 2xx.
    Accepted,
    /// 401 (and the delivery is stored all the same).
    Rejected,
}

/// One signed delivery, ready to send.
pub struct Delivery {
    pub body: Bytes,
    /// The `aftership-hmac-sha256` header value.
    pub signature: String,
    pub expect: Expect,
}

/// A batch of deliveries, rendered before timing.
pub struct Deliveries {
    pub items: Vec<Delivery>,
}

impl Deliveries {
    pub fn len(&self) -> usize {
        self.items.len()
    }

    pub fn total_bytes(&self) -> u64 {
        self.items.iter().map(|d| d.body.len() as u64).sum()
    }

    pub fn mean_bytes(&self) -> u64 {
        if self.items.is_empty() {
            0
        } else {
            self.total_bytes() / self.items.len() as u64
        }
    }
}

/// Renders and signs `posts`, on every core (CPU work done before timing).
pub fn render_all(posts: &[Post], secret: &str) -> Deliveries {
    let threads = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1).max(1);
    let per_thread = posts.len().div_ceil(threads).max(1);
    let mut items = Vec::with_capacity(posts.len());
    std::thread::scope(|scope| {
        let handles: Vec<_> = posts
            .chunks(per_thread)
            .map(|chunk| scope.spawn(move || chunk.iter().map(|p| render(p, secret)).collect::<Vec<_>>()))
            .collect();
        for handle in handles {
            // A renderer thread only panics if serialising a plain struct fails.
            items.extend(handle.join().expect("body renderer thread panicked"));
        }
    });
    Deliveries { items }
}

/// The body of `post`, signed (forged posts with the wrong secret).
pub fn render(post: &Post, secret: &str) -> Delivery {
    let body = body(post);
    let (signature, expect) = if post.kind == Kind::Forged {
        (sign(FORGER_SECRET, &body), Expect::Rejected)
    } else {
        (sign(secret, &body), Expect::Accepted)
    };
    Delivery { body: Bytes::from(body), signature, expect }
}

/// The pretty-printed JSON body of `post`, field for field in the order of AfterShip's sample.
pub fn body(post: &Post) -> Vec<u8> {
    let s = &*post.shipment;
    let u = &s.updates[post.update];
    let forged = post.kind == Kind::Forged;
    let (tag, subtag, subtag_message) = if forged {
        ("Delivered", "Delivered_001", "Delivered")
    } else {
        (u.tag, u.subtag, u.subtag_message)
    };
    let first_tag = post.update == 0 || s.tag(post.update - 1) != tag;
    let sent = if forged { post.at } else { u.at };
    let pickup = s.checkpoints[..u.checkpoints].iter().find(|c| c.tag == "InTransit");
    let delivered = s.checkpoints[..u.checkpoints]
        .last()
        .filter(|_| tag == "Delivered")
        .map(|last| local_time(last.at, last.place));
    let checkpoints: Vec<CheckpointJson> = s.checkpoints[..u.checkpoints]
        .iter()
        .map(|c| CheckpointJson {
            location: match c.place.state {
                Some(state) => format!("{}, {}, {}", c.place.city, state, c.place.zip),
                None => format!("{}, {}", c.place.city, c.place.zip),
            },
            country_name: None,
            country_iso3: Some(c.place.country),
            state: c.place.state,
            city: c.place.city,
            zip: c.place.zip,
            message: c.scan.0,
            coordinates: &[],
            tag: c.tag,
            subtag: c.subtag,
            subtag_message: c.subtag_message,
            created_at: rfc3339(c.found_at),
            checkpoint_time: local_time(c.at, c.place),
            slug: s.courier.slug,
            raw_tag: c.scan.1,
        })
        .collect();
    let link = s.courier.link.replace("{}", &s.tracking_number);
    let envelope = Envelope {
        event_id: post.forged_event_id.as_deref().unwrap_or(&u.event_id),
        event: "tracking_update",
        is_tracking_first_tag: first_tag,
        msg: Msg {
            id: &s.tracking_id,
            tracking_number: &s.tracking_number,
            title: &s.title,
            note: None,
            origin_country_iso3: s.courier.country,
            destination_country_iso3: s.destination,
            courier_destination_country_iso3: s.destination,
            shipment_package_count: None,
            active: tag != "Delivered",
            order_id: s.order_id.as_deref(),
            order_id_path: None,
            order_date: s.order_id.as_ref().map(|_| rfc3339_z(s.created_at - 3 * 3600)),
            customer_name: s.customer_name.as_deref(),
            source: if s.order_id.is_some() { "shopify" } else { "web" },
            emails: &[],
            smses: &[],
            subscribed_smses: &[],
            subscribed_emails: &[],
            android: &[],
            ios: &[],
            return_to_sender: subtag == "Exception_010",
            custom_fields: Empty {},
            tag,
            subtag,
            subtag_message,
            tracked_count: post.update + 1,
            expected_delivery: u.expected_delivery.as_deref(),
            signed_by: if tag == "Delivered" { s.signed_by } else { None },
            shipment_type: s.shipment_type,
            created_at: rfc3339(s.created_at),
            updated_at: rfc3339(sent),
            slug: s.courier.slug,
            unique_token: "deprecated",
            path: "deprecated",
            shipment_weight: None,
            shipment_weight_unit: None,
            delivery_time: ((sent - s.created_at) / 86_400 + 1) as u32,
            last_mile_tracking_supported: true,
            language: None,
            shipment_pickup_date: pickup.map(|c| local_time(c.at, c.place)),
            shipment_delivery_date: delivered,
            last_updated_at: rfc3339(sent),
            checkpoints,
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
            courier_tracking_link: &link,
            first_attempted_at: None,
            courier_redirect_link: &link,
        },
        ts: sent,
    };
    let mut out = Vec::with_capacity(1024 + 600 * u.checkpoints);
    let formatter = serde_json::ser::PrettyFormatter::with_indent(b"    ");
    let mut serializer = serde_json::Serializer::with_formatter(&mut out, formatter);
    // Serialising plain structs of strings and numbers into a Vec cannot fail.
    envelope.serialize(&mut serializer).expect("a body always serialises");
    out
}

#[derive(Serialize)]
struct Empty {}

#[derive(Serialize)]
struct Envelope<'a> {
    event_id: &'a str,
    event: &'static str,
    is_tracking_first_tag: bool,
    msg: Msg<'a>,
    ts: i64,
}

#[derive(Serialize)]
struct Msg<'a> {
    id: &'a str,
    tracking_number: &'a str,
    title: &'a str,
    note: Option<&'a str>,
    origin_country_iso3: &'a str,
    destination_country_iso3: &'a str,
    courier_destination_country_iso3: &'a str,
    shipment_package_count: Option<u32>,
    active: bool,
    order_id: Option<&'a str>,
    order_id_path: Option<&'a str>,
    order_date: Option<String>,
    customer_name: Option<&'a str>,
    source: &'a str,
    emails: &'a [&'a str],
    smses: &'a [&'a str],
    subscribed_smses: &'a [&'a str],
    subscribed_emails: &'a [&'a str],
    android: &'a [&'a str],
    ios: &'a [&'a str],
    return_to_sender: bool,
    custom_fields: Empty,
    tag: &'a str,
    subtag: &'a str,
    subtag_message: &'a str,
    tracked_count: usize,
    expected_delivery: Option<&'a str>,
    signed_by: Option<&'a str>,
    shipment_type: &'a str,
    created_at: String,
    updated_at: String,
    slug: &'a str,
    unique_token: &'a str,
    path: &'a str,
    shipment_weight: Option<f64>,
    shipment_weight_unit: Option<&'a str>,
    delivery_time: u32,
    last_mile_tracking_supported: bool,
    language: Option<&'a str>,
    shipment_pickup_date: Option<String>,
    shipment_delivery_date: Option<String>,
    last_updated_at: String,
    checkpoints: Vec<CheckpointJson<'a>>,
    order_promised_delivery_date: Option<&'a str>,
    delivery_type: Option<&'a str>,
    pickup_location: Option<&'a str>,
    pickup_note: Option<&'a str>,
    tracking_account_number: Option<&'a str>,
    tracking_origin_country: Option<&'a str>,
    tracking_destination_country: Option<&'a str>,
    tracking_key: Option<&'a str>,
    tracking_postal_code: Option<&'a str>,
    tracking_ship_date: Option<&'a str>,
    tracking_state: Option<&'a str>,
    courier_tracking_link: &'a str,
    first_attempted_at: Option<&'a str>,
    courier_redirect_link: &'a str,
}

#[derive(Serialize)]
struct CheckpointJson<'a> {
    location: String,
    country_name: Option<&'a str>,
    country_iso3: Option<&'a str>,
    state: Option<&'a str>,
    city: &'a str,
    zip: &'a str,
    message: &'a str,
    coordinates: &'a [f64],
    tag: &'a str,
    subtag: &'a str,
    subtag_message: &'a str,
    created_at: String,
    checkpoint_time: String,
    slug: &'a str,
    raw_tag: &'a str,
}

// ---------------------------------------------------------------------------------------------
// Dates (no dependency: the proleptic Gregorian calendar from days since 1970).

/// (year, month, day) of a count of days since 1970-01-01 (Howard Hinnant's `civil_from_days`).
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

fn date_time(t: i64) -> String {
    let (y, m, d) = civil(t.div_euclid(86_400));
    let s = t.rem_euclid(86_400);
    format!("{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60)
}

/// `2026-01-14T10:41:24+00:00`, as AfterShip writes its own times.
pub fn rfc3339(t: i64) -> String {
    date_time(t) + "+00:00"
}

fn rfc3339_z(t: i64) -> String {
    date_time(t) + "Z"
}

/// `2026-01-13T13:39:00`: a checkpoint's local time, without a zone, as couriers report it.
fn local_time(t: i64, place: &Place) -> String {
    date_time(t + place.utc_offset_s)
}

fn date(t: i64) -> String {
    date_time(t)[..10].to_string()
}

#[cfg(test)]
mod tests {
    use std::collections::{HashMap, HashSet};

    use super::*;

    #[test]
    fn dates_are_right() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00+00:00");
        assert_eq!(rfc3339(YEAR_START), "2026-01-01T00:00:00+00:00");
        assert_eq!(rfc3339(1_610_620_885), "2021-01-14T10:41:25+00:00");
        assert_eq!(date(YEAR_START + 59 * 86_400), "2026-03-01");
        assert_eq!(date(951_782_400), "2000-02-29");
    }

    #[test]
    fn the_same_seed_gives_the_same_year_and_another_seed_another() {
        let bodies = |seed| Year::new(seed).take(300).iter().map(body).collect::<Vec<_>>();
        let a = bodies(7);
        assert_eq!(a, bodies(7));
        assert_ne!(a, bodies(8));
    }

    #[test]
    fn posts_come_in_time_order_and_each_shipment_in_order_but_for_late_ones() {
        let mut year = Year::new(1);
        let posts = year.take(40_000);
        assert!(posts.windows(2).all(|w| w[0].at <= w[1].at));
        let mut newest: HashMap<u32, usize> = HashMap::new();
        let mut late = 0;
        for p in posts.iter().filter(|p| p.kind.is_new_event()) {
            let seen = newest.entry(p.shipment.index).or_insert(0);
            if p.kind == Kind::Late {
                assert!(p.update < *seen, "a late update comes after a newer one");
                late += 1;
            } else {
                assert!(p.update == 0 || p.update > *seen, "updates in order");
                *seen = p.update;
            }
        }
        assert!(late > 0);
        // The year: about 130,000 shipments, a little over 1M posts.
        let days = (posts.last().unwrap().at - YEAR_START) as f64 / 86_400.0;
        let per_year = posts.len() as f64 / days * 365.0;
        assert!((900_000.0..1_200_000.0).contains(&per_year), "{per_year:.0} posts a year");
    }

    #[test]
    fn shipments_have_4_to_12_updates_mostly_ending_delivered() {
        let mut year = Year::new(3);
        let posts = year.take(20_000);
        let shipments: HashMap<u32, Arc<Shipment>> =
            posts.iter().map(|p| (p.shipment.index, p.shipment.clone())).collect();
        let mut delivered = 0;
        let mut updates = 0;
        let mut tags = HashSet::new();
        for s in shipments.values() {
            let n = s.updates.len();
            assert!((4..=12).contains(&n), "{n} updates");
            updates += n;
            assert!(s.updates.windows(2).all(|w| w[0].at < w[1].at && w[0].checkpoints <= w[1].checkpoints));
            assert!(s.checkpoints.windows(2).all(|w| w[0].at < w[1].at));
            assert!(s.checkpoints.len() <= MAX_CHECKPOINTS);
            delivered += usize::from(s.tag(n - 1) == "Delivered");
            tags.extend((0..n).map(|u| s.tag(u)));
        }
        let mean = updates as f64 / shipments.len() as f64;
        assert!((7.5..8.5).contains(&mean), "{mean} updates on average");
        let share = delivered as f64 / shipments.len() as f64;
        assert!((0.9..0.99).contains(&share), "{share} delivered");
        for tag in ["InfoReceived", "InTransit", "OutForDelivery", "Delivered", "AttemptFail", "Exception"] {
            assert!(tags.contains(tag), "no {tag}");
        }
        let numbers: HashSet<&str> = shipments.values().map(|s| s.tracking_number.as_str()).collect();
        assert_eq!(numbers.len(), shipments.len(), "tracking numbers are unique");
    }

    #[test]
    fn about_one_percent_retries_of_recent_events_and_a_few_forged_posts() {
        let mut year = Year::new(5);
        let posts = year.take(60_000);
        let count = |k: Kind| posts.iter().filter(|p| p.kind == k).count() as f64;
        let retries = count(Kind::Retry) / posts.len() as f64;
        assert!((0.007..0.013).contains(&retries), "{retries} retries");
        assert!(count(Kind::Forged) >= 20.0 && count(Kind::Forged) < 150.0);
        assert!(count(Kind::Late) >= 100.0);
        // A retry is the same body and signature as the event it repeats, posted minutes later.
        let mut originals: HashMap<(u32, usize), &Post> = HashMap::new();
        for p in &posts {
            if p.kind.is_new_event() {
                originals.insert((p.shipment.index, p.update), p);
            }
        }
        for retry in posts.iter().filter(|p| p.kind == Kind::Retry).take(40) {
            let original = originals[&(retry.shipment.index, retry.update)];
            assert!((30..=480).contains(&(retry.at - original.at)));
            let (a, b) = (render(original, "s3cret"), render(retry, "s3cret"));
            assert_eq!((a.body, a.signature), (b.body, b.signature));
        }
        let forged = posts.iter().find(|p| p.kind == Kind::Forged).unwrap();
        let d = render(forged, "s3cret");
        assert_eq!(d.expect, Expect::Rejected);
        assert_ne!(d.signature, sign("s3cret", &d.body));
        let v: serde_json::Value = serde_json::from_slice(&d.body).unwrap();
        assert_eq!(v["msg"]["tag"], "Delivered");
    }

    #[test]
    fn bodies_are_aftership_shaped_2_to_9_kb_about_5_on_average() {
        // Past the year's first days, when few shipments have come far yet.
        let mut year = Year::new(11);
        let posts = year.take(34_000).split_off(30_000);
        let sizes: Vec<usize> = posts.iter().map(|p| body(p).len()).collect();
        let mean = sizes.iter().sum::<usize>() as f64 / sizes.len() as f64;
        let (min, max) = (*sizes.iter().min().unwrap(), *sizes.iter().max().unwrap());
        assert!((4_500.0..5_600.0).contains(&mean), "mean {mean}");
        assert!(min >= 2_000 && max <= 9_500, "{min}..{max}");

        // Same fields in the same order as AfterShip's sample, same 4-space indentation.
        let fixture = include_str!("../../../../tests/fixtures/aftership-v4-tracking-update.json");
        let ours = String::from_utf8(body(&posts[0])).unwrap();
        assert!(ours.starts_with("{\n    \"event_id\": \""), "{}", &ours[..40]);
        serde_json::from_str::<serde_json::Value>(&ours).unwrap();
        // The keys at each depth of indentation, in order, each once (checkpoints repeat theirs).
        let keys = |text: &str, indent: usize| {
            let mut out: Vec<String> = Vec::new();
            for line in text.lines() {
                let rest = &line[line.len() - line.trim_start().len()..];
                if line.len() - rest.len() == indent && rest.starts_with('"') {
                    let key = rest[1..].split('"').next().unwrap().to_string();
                    if !out.contains(&key) {
                        out.push(key);
                    }
                }
            }
            out
        };
        for indent in [4, 8, 16] {
            assert_eq!(keys(&ours, indent), keys(fixture, indent), "keys at indentation {indent}");
        }
        let signed = render(&posts[0], "s3cret");
        assert_eq!(signed.signature, sign("s3cret", &signed.body));
        assert_eq!(signed.expect, Expect::Accepted);
    }
}
