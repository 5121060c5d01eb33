//! The webhook payload: the envelope (`event`, `event_id`, `is_tracking_first_tag`, `msg`, `ts`) and the
//! tracking object in both the legacy v4 and the versioned (2023-10 onward) shapes.
//!
//! One parser: serde_json reads the body into its tree ([`Value`]), then the fields Shipwatch uses
//! are read from the tree. serde_json decides what is JSON (UTF-8 throughout, numbers that fit an
//! `f64`, nesting no deeper than 128) and what a key sent twice means (the last one wins; a derived
//! `Deserialize` would refuse the body instead). Reading from the tree is lenient: a field of the
//! wrong type reads as absent, and so does blank text; an object where a list is expected reads as
//! an empty list and list items that are not objects are skipped; unknown fields are ignored, and
//! unknown values (an event, a tag) are kept as strings. Only a body that is not a JSON object fails.
//! [`parse_envelope_lean`] is the same parse keeping only the checkpoints' digest.

use serde_json::{Map, Value};

use crate::tags::Tag;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum PayloadError {
    #[error("the body is not JSON: {0}")]
    NotJson(String),
    #[error("the body is JSON but not an object")]
    NotAnObject,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum EventKind {
    TrackingUpdate,
    EddRevise,
    TrackingPendingTime,
    Unknown(String),
}

impl EventKind {
    pub fn parse(s: &str) -> EventKind {
        match s {
            "tracking_update" => EventKind::TrackingUpdate,
            "edd_revise" => EventKind::EddRevise,
            "tracking_pending_time" => EventKind::TrackingPendingTime,
            other => EventKind::Unknown(other.to_string()),
        }
    }
    pub fn as_str(&self) -> &str {
        match self {
            EventKind::TrackingUpdate => "tracking_update",
            EventKind::EddRevise => "edd_revise",
            EventKind::TrackingPendingTime => "tracking_pending_time",
            EventKind::Unknown(s) => s,
        }
    }
}

/// The envelope of a delivery.
#[derive(Clone, Debug, PartialEq)]
pub struct Envelope {
    pub event: Option<EventKind>,
    pub event_id: Option<String>,
    /// Unix seconds of the event.
    pub ts: Option<i64>,
    /// Lenient: `true`, `"true"`, `1` are all true.
    pub is_tracking_first_tag: Option<bool>,
    pub msg: Option<Tracking>,
}

/// The tracking object (`msg`).
#[derive(Clone, Debug, PartialEq, Default)]
pub struct Tracking {
    /// `msg.id` (legacy: 24 chars; versioned: 32 hex; 2025-04 onward: 0 to 128 characters).
    pub id: Option<String>,
    pub legacy_id: Option<String>,
    pub tracking_number: Option<String>,
    pub slug: Option<String>,
    pub title: Option<String>,
    pub order_id: Option<String>,
    /// `order_number` (2025 onward), beside `order_id`.
    pub order_number: Option<String>,
    /// Legacy `customer_name`, or the first `customers[].name` (2025-01 replaced the one by the other).
    pub customer_name: Option<String>,
    pub tag: Option<Tag>,
    pub subtag: Option<String>,
    pub subtag_message: Option<String>,
    /// Legacy `expected_delivery`, raw.
    pub expected_delivery: Option<String>,
    /// The best single expected-delivery string we can show: `latest_estimated_delivery.datetime`,
    /// else `aftership_estimated_delivery_date.estimated_delivery_date`, else
    /// `courier_estimated_delivery_date.estimated_delivery_date`, else `first_estimated_delivery.datetime`
    /// (each object's range, "min – max", when it has no single date), else the legacy
    /// `expected_delivery` they replace.
    pub best_expected_delivery: Option<String>,
    /// The versioned EDD objects as sent, keyed by their field names (only those present and non-null).
    pub estimated_delivery: Option<serde_json::Value>,
    /// `order_promised_delivery_date` as sent; of a range (2026-01 onward), its end.
    pub order_promised_delivery_date: Option<String>,
    /// The single date the shipment is due, for "late": the best estimate in
    /// [`Tracking::best_expected_delivery`]'s order, the end of its range when it has only a range
    /// (`YYYY-MM-DD` or a date-time, as sent), else `order_promised_delivery_date`.
    pub due: Option<String>,
    /// `latest_estimated_delivery.revise_reason` (2025-04 onward): why the estimate moved.
    pub revise_reason: Option<String>,
    pub created_at: Option<String>,
    pub updated_at: Option<String>,
    pub last_updated_at: Option<String>,
    pub courier_tracking_link: Option<String>,
    pub courier_redirect_link: Option<String>,
    pub signed_by: Option<String>,
    /// `proof_of_delivery` as sent (2026-07: a list of records, signature or photo), when not null.
    pub proof_of_delivery: Option<Value>,
    /// `origin_country_iso3` or `origin_country_region`.
    pub origin_country: Option<String>,
    pub destination_country: Option<String>,
    /// What a person may look the shipment up by besides its identifiers, each value once, in this
    /// order: `customer_name`, each of `customers[]`'s name, email and phone number, `emails[]`,
    /// `smses[]`, the destination's city, state, postal code and raw location (and the legacy
    /// `tracking_postal_code`), the values of `custom_fields` (strings and numbers), `note`,
    /// `subtag_message` and `signed_by`. At most [`SEARCH_DETAILS_MAX`] bytes in all.
    pub search_details: Vec<String>,
    /// Every checkpoint, in the order sent. Empty after [`parse_envelope_lean`], which keeps only
    /// [`Tracking::checkpoint_digest`].
    pub checkpoints: Vec<Checkpoint>,
    /// What the shipment projection needs of the checkpoints: their content keys and the latest.
    pub checkpoint_digest: CheckpointDigest,
}

/// What the shipment projection needs of a delivery's checkpoints, without the checkpoints.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct CheckpointDigest {
    /// [`checkpoint_key`] of each checkpoint, in the order sent: its identity.
    pub keys: Vec<i64>,
    /// When any checkpoint has a `hash`: [`CheckpointIdentity::content_key`] of each, in the same
    /// order (equal to its key where it has none), so that a timeline built from deliveries without
    /// hashes recognises the same checkpoints sent with one. Empty when none has a hash.
    pub content_keys: Vec<i64>,
    /// The most recent checkpoint.
    pub latest: Option<LatestCheckpoint>,
    /// Unix ms of the most recent `Delivered` checkpoint whose time parses: when it was delivered.
    pub delivered_at: Option<i64>,
}

/// The most recent checkpoint of a delivery, for a shipment's "last location": the one with the
/// latest time (the last of them on a tie), else the last one sent when none has a time.
#[derive(Clone, Debug, PartialEq)]
pub struct LatestCheckpoint {
    /// Unix ms of its `checkpoint_time`, when that parses.
    pub sort_time: Option<i64>,
    /// Its location, else "city country".
    pub place: Option<String>,
}

impl LatestCheckpoint {
    /// Whether this checkpoint is more recent than the stored one: a later time, or any time or
    /// place where the stored one has neither. Taking the latest over every delivery gives the
    /// same answer whatever order they arrive in, but for a tie in time, which the shipment
    /// projection gives to the update that is not stale.
    pub fn newer_than(&self, stored_time: Option<i64>, stored_place: Option<&str>) -> bool {
        match (self.sort_time, stored_time) {
            (Some(new), Some(old)) => new > old,
            (Some(_), None) => true,
            (None, Some(_)) => false,
            (None, None) => stored_place.is_none() && self.place.is_some(),
        }
    }
}

/// The fields of a checkpoint that identify and place it, as sent (blank ones as `None`).
#[derive(Clone, Copy, Debug, Default)]
pub struct CheckpointIdentity<'a> {
    pub checkpoint_time: Option<&'a str>,
    pub tag: Option<&'a str>,
    pub subtag: Option<&'a str>,
    pub message: Option<&'a str>,
    pub location: Option<&'a str>,
    pub city: Option<&'a str>,
    /// `country_iso3` or `country_region`.
    pub country: Option<&'a str>,
    /// `hash` (2026-07 onward): AfterShip's identity of the checkpoint.
    pub hash: Option<&'a str>,
}

impl CheckpointIdentity<'_> {
    /// The checkpoint's identity: of its `hash` when AfterShip sent one (2026-07: "can be used for
    /// deduplication"; the same checkpoint keeps it when the courier rewords it), else
    /// [`CheckpointIdentity::content_key`]. Stored: never change it.
    pub fn key(&self) -> i64 {
        match self.hash {
            Some(hash) => fnv1a(HASH_KEY_PREFIX.iter().copied().chain(hash.bytes())) as i64,
            None => self.content_key(),
        }
    }

    /// A stable 64-bit key for the checkpoint's content (FNV-1a of time, tag, subtag, message and
    /// location): the same checkpoint resent by a later delivery gets the same key. Stored: never
    /// change it.
    pub fn content_key(&self) -> i64 {
        let mut h: u64 = FNV_OFFSET;
        for (i, part) in
            [self.checkpoint_time, self.tag, self.subtag, self.message, self.location].into_iter().enumerate()
        {
            if i > 0 {
                h ^= u64::from(b'|');
                h = h.wrapping_mul(FNV_PRIME);
            }
            for b in part.unwrap_or("").bytes() {
                h ^= u64::from(b);
                h = h.wrapping_mul(FNV_PRIME);
            }
        }
        h as i64
    }

    /// Where it happened: the location, else "city country".
    pub fn place(&self) -> Option<String> {
        if let Some(l) = self.location {
            return Some(l.to_owned());
        }
        let joined = format!("{} {}", self.city.unwrap_or(""), self.country.unwrap_or(""));
        let trimmed = joined.trim();
        (!trimmed.is_empty()).then(|| trimmed.to_owned())
    }
}

const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
const FNV_PRIME: u64 = 0x0100_0000_01b3;
/// Put before a hash, so that a hash key never equals the content key of a checkpoint without one.
const HASH_KEY_PREFIX: &[u8] = b"\0hash\0";

fn fnv1a(bytes: impl IntoIterator<Item = u8>) -> u64 {
    bytes.into_iter().fold(FNV_OFFSET, |h, b| (h ^ u64::from(b)).wrapping_mul(FNV_PRIME))
}

impl Checkpoint {
    pub fn identity(&self) -> CheckpointIdentity<'_> {
        CheckpointIdentity {
            checkpoint_time: self.checkpoint_time.as_deref(),
            tag: self.tag.as_ref().map(Tag::as_str),
            subtag: self.subtag.as_deref(),
            message: self.message.as_deref(),
            location: self.location.as_deref(),
            city: self.city.as_deref(),
            country: self.country.as_deref(),
            hash: self.hash.as_deref(),
        }
    }
}

/// [`CheckpointIdentity::key`] of a checkpoint.
pub fn checkpoint_key(c: &Checkpoint) -> i64 {
    c.identity().key()
}

impl CheckpointDigest {
    /// Digests checkpoints given in the order sent.
    pub fn of<'a>(checkpoints: impl IntoIterator<Item = CheckpointIdentity<'a>>) -> CheckpointDigest {
        let mut keys = Vec::new();
        let mut content_keys = Vec::new();
        let mut latest_timed: Option<(i64, CheckpointIdentity<'a>)> = None;
        let mut delivered_at: Option<i64> = None;
        let mut last = None;
        for c in checkpoints {
            keys.push(c.key());
            content_keys.push(c.content_key());
            if let Some(t) = c.checkpoint_time.and_then(crate::dates::parse_lenient_ms) {
                if latest_timed.is_none_or(|(best, _)| t >= best) {
                    latest_timed = Some((t, c));
                }
                if c.tag == Some(Tag::Delivered.as_str()) && delivered_at.is_none_or(|d| t > d) {
                    delivered_at = Some(t);
                }
            }
            last = Some(c);
        }
        let latest = match latest_timed {
            Some((t, c)) => Some(LatestCheckpoint { sort_time: Some(t), place: c.place() }),
            None => last.map(|c| LatestCheckpoint { sort_time: None, place: c.place() }),
        };
        if content_keys == keys {
            content_keys = Vec::new();
        }
        CheckpointDigest { keys, content_keys, latest, delivered_at }
    }
}

/// One checkpoint.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct Checkpoint {
    pub checkpoint_time: Option<String>,
    pub tag: Option<Tag>,
    pub subtag: Option<String>,
    pub subtag_message: Option<String>,
    pub message: Option<String>,
    pub location: Option<String>,
    pub city: Option<String>,
    pub state: Option<String>,
    /// `zip` or `postal_code`.
    pub postal_code: Option<String>,
    /// `country_iso3` or `country_region`.
    pub country: Option<String>,
    pub slug: Option<String>,
    pub raw_tag: Option<String>,
    pub created_at: Option<String>,
    /// `events[].code`.
    pub events: Vec<String>,
    /// `hash` (2026-07 onward): AfterShip's identity of the checkpoint, see [`CheckpointIdentity::key`].
    pub hash: Option<String>,
}

impl Tracking {
    /// The most recent state time for ordering updates: `last_updated_at`, else `updated_at`, in ms.
    pub fn state_time_ms(&self) -> Option<i64> {
        self.last_updated_at
            .as_deref()
            .and_then(crate::dates::parse_lenient_ms)
            .or_else(|| self.updated_at.as_deref().and_then(crate::dates::parse_lenient_ms))
    }
}

/// The versioned estimated-delivery objects, in the order [`Tracking::best_expected_delivery`]
/// prefers them, each with the field that holds its date.
const ESTIMATED_DELIVERY_FIELDS: [(&str, &str); 4] = [
    ("latest_estimated_delivery", "datetime"),
    ("aftership_estimated_delivery_date", "estimated_delivery_date"),
    ("courier_estimated_delivery_date", "estimated_delivery_date"),
    ("first_estimated_delivery", "datetime"),
];

/// Why a body is not JSON, in the words that point at the cause: a byte-order mark or UTF-16 (what a
/// relay or an editor may add), bytes that are not UTF-8, else serde_json's own account.
fn not_json_reason(body: &[u8], err: &serde_json::Error) -> String {
    if body.starts_with(&[0xEF, 0xBB, 0xBF]) {
        return "it starts with a UTF-8 byte-order mark (EF BB BF), which JSON does not allow: something \
                between AfterShip and Shipwatch added it"
            .into();
    }
    if body.starts_with(&[0xFF, 0xFE]) || body.starts_with(&[0xFE, 0xFF]) {
        return "it is UTF-16 text (it starts with a UTF-16 byte-order mark); AfterShip sends UTF-8".into();
    }
    if let Err(bad) = std::str::from_utf8(body) {
        return format!("byte {} is not valid UTF-8 ({err})", bad.valid_up_to());
    }
    err.to_string()
}

/// The best single expected-delivery string to show, from the versioned EDD objects of `msg` (in
/// [`ESTIMATED_DELIVERY_FIELDS`]' order) before the legacy `expected_delivery` they replace. An object
/// with only a range shows it as "min – max" (or "from min", "by max").
fn best_expected_delivery(msg: &Map<String, Value>, legacy: Option<&str>) -> Option<String> {
    ESTIMATED_DELIVERY_FIELDS
        .iter()
        .find_map(|(object, field)| {
            let object = msg.get(*object)?;
            let date = |name: &str| object.get(name).and_then(non_blank);
            date(field).map(str::to_owned).or_else(|| {
                match (date(&format!("{field}_min")), date(&format!("{field}_max"))) {
                    (Some(min), Some(max)) => Some(format!("{min} – {max}")),
                    (Some(min), None) => Some(format!("from {min}")),
                    (None, Some(max)) => Some(format!("by {max}")),
                    (None, None) => None,
                }
            })
        })
        .or_else(|| legacy.map(str::to_owned))
}

/// The single date the shipment is due (see [`Tracking::due`]): the first estimate object with a
/// date (its end when it has only a range), else the legacy `expected_delivery`, else the order's
/// promised date.
fn due(msg: &Map<String, Value>, legacy: Option<&str>, promised: Option<&str>) -> Option<String> {
    ESTIMATED_DELIVERY_FIELDS
        .iter()
        .find_map(|(object, field)| {
            let object = msg.get(*object)?;
            let date = |name: &str| object.get(name).and_then(non_blank);
            date(field).or_else(|| date(&format!("{field}_max"))).or_else(|| date(&format!("{field}_min")))
        })
        .or(legacy)
        .or(promised)
        .map(|s| s.trim().to_owned())
}

/// The end of a date or a range of dates, as sent (2026-01 lets `order_promised_delivery_date` be
/// a range; its shape is not published, so each plausible one is read): a string (a range written
/// `A - B`, `A – B`, `A to B` or `A/B` gives B), a list (its last date) or an object (its `max`/`end`/
/// `to` field, else its `min`/`start`/`from` one, else its first date).
fn date_or_range_end(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => {
            let s = s.trim();
            let end = [" – ", " — ", " - ", " to ", "/"]
                .iter()
                .find_map(|sep| s.rsplit_once(sep).map(|(_, end)| end.trim()))
                .filter(|end| !end.is_empty())
                .unwrap_or(s);
            (!end.is_empty()).then(|| end.to_owned())
        }
        Value::Array(items) => items.iter().rev().find_map(date_or_range_end),
        Value::Object(map) => {
            let by_suffix = |suffixes: &[&str]| {
                map.iter()
                    .filter(|(k, _)| suffixes.iter().any(|s| k.ends_with(s)))
                    .find_map(|(_, v)| non_blank(v).map(|s| s.trim().to_owned()))
            };
            by_suffix(&["max", "end", "to"])
                .or_else(|| by_suffix(&["min", "start", "from"]))
                .or_else(|| map.values().find_map(|v| non_blank(v).map(|s| s.trim().to_owned())))
        }
        _ => None,
    }
}

/// Parses a raw body. Fails only when it is not a JSON object.
pub fn parse_envelope(body: &[u8]) -> Result<Envelope, PayloadError> {
    parse(body, true)
}

/// As [`parse_envelope`], but the checkpoints are only digested ([`Tracking::checkpoint_digest`]);
/// `msg.checkpoints` stays empty. What the receiver needs; the full checkpoints are read from the
/// stored body when someone looks at them.
pub fn parse_envelope_lean(body: &[u8]) -> Result<Envelope, PayloadError> {
    parse(body, false)
}

/// Reads `body` into serde_json's tree, then the envelope from the tree, keeping each checkpoint or
/// (`keep_checkpoints` false) only their digest.
fn parse(body: &[u8], keep_checkpoints: bool) -> Result<Envelope, PayloadError> {
    let value: Value =
        serde_json::from_slice(body).map_err(|err| PayloadError::NotJson(not_json_reason(body, &err)))?;
    let Value::Object(envelope) = value else {
        return Err(PayloadError::NotAnObject);
    };
    Ok(Envelope {
        event: str_of(&envelope, "event").map(EventKind::parse),
        event_id: text(&envelope, "event_id"),
        ts: envelope.get("ts").and_then(lenient_i64),
        is_tracking_first_tag: envelope.get("is_tracking_first_tag").and_then(lenient_bool),
        msg: envelope.get("msg").and_then(Value::as_object).map(|msg| parse_tracking(msg, keep_checkpoints)),
    })
}

/// Reads a checkpoint's coordinates, `coordinate` (2024-04 onward) or `coordinates` (before), as
/// `(latitude, longitude)`. Accepts `[lat, lng]` and `{ "latitude": .., "longitude": .. }` (numbers or
/// numeric strings); `None` for an empty array, `null` or anything else.
pub fn checkpoint_coordinates(checkpoint: &Value) -> Option<(f64, f64)> {
    let raw =
        checkpoint.get("coordinate").filter(|v| !v.is_null()).or_else(|| checkpoint.get("coordinates"))?;
    let (lat, lng) = match raw {
        Value::Array(pair) if pair.len() == 2 => (&pair[0], &pair[1]),
        Value::Object(map) => (map.get("latitude")?, map.get("longitude")?),
        _ => return None,
    };
    let (lat, lng) = (lenient_f64(lat)?, lenient_f64(lng)?);
    ((-90.0..=90.0).contains(&lat) && (-180.0..=180.0).contains(&lng)).then_some((lat, lng))
}

fn parse_tracking(msg: &Map<String, Value>, keep_checkpoints: bool) -> Tracking {
    let expected_delivery = text(msg, "expected_delivery");
    let best_expected_delivery = best_expected_delivery(msg, expected_delivery.as_deref());
    let estimated_delivery: Map<String, Value> = ESTIMATED_DELIVERY_FIELDS
        .iter()
        .filter_map(|(object, _)| {
            msg.get(*object).filter(|v| !v.is_null()).map(|v| (object.to_string(), v.clone()))
        })
        .collect();
    let order_promised_delivery_date = msg.get("order_promised_delivery_date").and_then(date_or_range_end);
    let due = due(msg, expected_delivery.as_deref(), order_promised_delivery_date.as_deref());
    let revise_reason = msg
        .get("latest_estimated_delivery")
        .and_then(Value::as_object)
        .and_then(|latest| text(latest, "revise_reason"));
    let proof_of_delivery = msg.get("proof_of_delivery").filter(|v| match v {
        Value::Null => false,
        Value::Array(a) => !a.is_empty(),
        Value::Object(o) => !o.is_empty(),
        Value::String(s) => !s.trim().is_empty(),
        _ => true,
    });
    let customer_name = text(msg, "customer_name")
        .or_else(|| objects(msg, "customers").find_map(|customer| text(customer, "name")));
    let checkpoints: Vec<&Map<String, Value>> = objects(msg, "checkpoints").collect();
    let checkpoint_digest = CheckpointDigest::of(checkpoints.iter().map(|c| checkpoint_identity(c)));
    let checkpoints =
        if keep_checkpoints { checkpoints.into_iter().map(parse_checkpoint).collect() } else { Vec::new() };
    Tracking {
        id: text(msg, "id"),
        legacy_id: text(msg, "legacy_id"),
        tracking_number: text(msg, "tracking_number"),
        slug: text(msg, "slug"),
        title: text(msg, "title"),
        order_id: text(msg, "order_id"),
        order_number: text(msg, "order_number"),
        customer_name,
        tag: str_of(msg, "tag").map(Tag::parse),
        subtag: text(msg, "subtag"),
        subtag_message: text(msg, "subtag_message"),
        expected_delivery,
        best_expected_delivery,
        estimated_delivery: (!estimated_delivery.is_empty()).then_some(Value::Object(estimated_delivery)),
        order_promised_delivery_date,
        due,
        revise_reason,
        created_at: text(msg, "created_at"),
        updated_at: text(msg, "updated_at"),
        last_updated_at: text(msg, "last_updated_at"),
        courier_tracking_link: text(msg, "courier_tracking_link"),
        courier_redirect_link: text(msg, "courier_redirect_link"),
        signed_by: text(msg, "signed_by"),
        proof_of_delivery: proof_of_delivery.cloned(),
        origin_country: text(msg, "origin_country_iso3").or_else(|| text(msg, "origin_country_region")),
        destination_country: text(msg, "destination_country_iso3")
            .or_else(|| text(msg, "destination_country_region")),
        search_details: search_details(msg),
        checkpoints,
        checkpoint_digest,
    }
}

/// The most [`Tracking::search_details`] keeps, in bytes (a `custom_fields` blob is not a search
/// document).
pub const SEARCH_DETAILS_MAX: usize = 2048;

fn search_details(msg: &Map<String, Value>) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut size = 0;
    let mut push = |value: Option<&str>| {
        let Some(v) = value.map(str::trim).filter(|v| !v.is_empty()) else { return };
        if size + v.len() <= SEARCH_DETAILS_MAX && !out.iter().any(|o| o == v) {
            size += v.len() + 1;
            out.push(v.to_owned());
        }
    };
    push(str_of(msg, "customer_name"));
    for customer in objects(msg, "customers") {
        for key in ["name", "email", "phone_number"] {
            push(str_of(customer, key));
        }
    }
    for key in ["emails", "smses"] {
        for v in msg.get(key).and_then(Value::as_array).into_iter().flatten() {
            push(non_blank(v));
        }
    }
    for key in [
        "destination_city",
        "destination_state",
        "destination_postal_code",
        "destination_raw_location",
        "tracking_postal_code",
    ] {
        push(str_of(msg, key));
    }
    for v in msg.get("custom_fields").and_then(Value::as_object).into_iter().flat_map(|m| m.values()) {
        match v {
            Value::Number(n) => push(Some(&n.to_string())),
            v => push(non_blank(v)),
        }
    }
    for key in ["note", "subtag_message", "signed_by"] {
        push(str_of(msg, key));
    }
    out
}

/// What identifies and places a checkpoint, borrowed from the tree: all the digest needs.
fn checkpoint_identity(checkpoint: &Map<String, Value>) -> CheckpointIdentity<'_> {
    CheckpointIdentity {
        checkpoint_time: str_of(checkpoint, "checkpoint_time"),
        tag: str_of(checkpoint, "tag"),
        subtag: str_of(checkpoint, "subtag"),
        message: str_of(checkpoint, "message"),
        location: str_of(checkpoint, "location"),
        city: str_of(checkpoint, "city"),
        country: str_of(checkpoint, "country_iso3").or_else(|| str_of(checkpoint, "country_region")),
        hash: str_of(checkpoint, "hash"),
    }
}

/// The whole of a checkpoint; what identifies it is read as for the digest.
fn parse_checkpoint(checkpoint: &Map<String, Value>) -> Checkpoint {
    let identity = checkpoint_identity(checkpoint);
    let owned = |s: Option<&str>| s.map(str::to_owned);
    Checkpoint {
        checkpoint_time: owned(identity.checkpoint_time),
        tag: identity.tag.map(Tag::parse),
        subtag: owned(identity.subtag),
        subtag_message: text(checkpoint, "subtag_message"),
        message: owned(identity.message),
        location: owned(identity.location),
        city: owned(identity.city),
        state: text(checkpoint, "state"),
        postal_code: text(checkpoint, "zip").or_else(|| text(checkpoint, "postal_code")),
        country: owned(identity.country),
        slug: text(checkpoint, "slug"),
        raw_tag: text(checkpoint, "raw_tag"),
        created_at: text(checkpoint, "created_at"),
        events: objects(checkpoint, "events").filter_map(|event| text(event, "code")).collect(),
        hash: owned(identity.hash),
    }
}

/// The objects of a list field, in order: items that are not objects are skipped, and anything but a
/// list reads as an empty one.
fn objects<'v>(object: &'v Map<String, Value>, key: &str) -> impl Iterator<Item = &'v Map<String, Value>> {
    object.get(key).and_then(Value::as_array).into_iter().flatten().filter_map(Value::as_object)
}

/// A string as sent; `None` when not a string, empty or only whitespace.
fn non_blank(value: &Value) -> Option<&str> {
    value.as_str().filter(|s| !s.trim().is_empty())
}

/// A string field of an object, read as [`non_blank`]; `None` also when absent.
fn str_of<'v>(object: &'v Map<String, Value>, key: &str) -> Option<&'v str> {
    object.get(key).and_then(non_blank)
}

/// [`str_of`], owned.
fn text(object: &Map<String, Value>, key: &str) -> Option<String> {
    str_of(object, key).map(str::to_owned)
}

/// An integer, a float (truncated) or a string holding either.
fn lenient_i64(value: &Value) -> Option<i64> {
    match value {
        Value::Number(n) => n.as_i64().or_else(|| n.as_f64().and_then(f64_to_i64)),
        Value::String(s) => {
            let s = s.trim();
            s.parse::<i64>().ok().or_else(|| s.parse::<f64>().ok().and_then(f64_to_i64))
        }
        _ => None,
    }
}

fn f64_to_i64(f: f64) -> Option<i64> {
    // The range check keeps `as` from saturating silently.
    (f.is_finite() && f.abs() < 9.0e15).then(|| f.trunc() as i64)
}

fn lenient_f64(value: &Value) -> Option<f64> {
    match value {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse::<f64>().ok(),
        _ => None,
    }
    .filter(|f| f.is_finite())
}

/// `true`/`false`, the strings `"true"`/`"false"` (any case, also `"1"`/`"0"`) and the numbers 1/0.
fn lenient_bool(value: &Value) -> Option<bool> {
    match value {
        Value::Bool(b) => Some(*b),
        Value::Number(n) => match n.as_f64() {
            Some(1.0) => Some(true),
            Some(0.0) => Some(false),
            _ => None,
        },
        Value::String(s) => {
            let s = s.trim();
            if s.eq_ignore_ascii_case("true") || s == "1" {
                Some(true)
            } else if s.eq_ignore_ascii_case("false") || s == "0" {
                Some(false)
            } else {
                None
            }
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at<'a>(time: Option<&'a str>, location: Option<&'a str>) -> CheckpointIdentity<'a> {
        CheckpointIdentity { checkpoint_time: time, location, message: location, ..Default::default() }
    }

    fn latest(checkpoints: &[CheckpointIdentity<'_>]) -> Option<LatestCheckpoint> {
        CheckpointDigest::of(checkpoints.iter().copied()).latest
    }

    fn ms(s: &str) -> i64 {
        crate::dates::parse_lenient_ms(s).unwrap()
    }

    #[test]
    fn the_latest_checkpoint_is_the_one_with_the_greatest_parsed_time() {
        let got = latest(&[
            at(Some("2026-01-01T09:00:00Z"), Some("first")),
            // Later as an instant, though it sorts first as text.
            at(Some("2026-01-01T23:00:00-05:00"), Some("latest")),
            at(Some("2026-01-02"), Some("midnight")),
            at(Some("not a time"), Some("unparsed")),
            at(None, Some("undated")),
            at(Some("2025-12-31T10:00:00"), Some("old")),
        ]);
        assert_eq!(
            got,
            Some(LatestCheckpoint {
                sort_time: Some(ms("2026-01-02T04:00:00Z")),
                place: Some("latest".into())
            })
        );
    }

    #[test]
    fn on_a_tie_the_latest_is_the_last_one_sent() {
        let got = latest(&[
            at(Some("2026-01-02T10:00:00Z"), Some("a")),
            at(Some("2026-01-02T12:00:00+02:00"), Some("b")),
            at(Some("2026-01-01T10:00:00Z"), Some("earlier")),
            at(None, Some("undated")),
        ]);
        assert_eq!(got.unwrap().place.as_deref(), Some("b"));
        let got = latest(&[
            at(Some("2026-01-02T12:00:00+02:00"), Some("b")),
            at(Some("2026-01-02T10:00:00Z"), Some("a")),
        ]);
        assert_eq!(
            got,
            Some(LatestCheckpoint { sort_time: Some(ms("2026-01-02T10:00:00Z")), place: Some("a".into()) })
        );
    }

    #[test]
    fn without_any_time_the_latest_is_the_last_checkpoint_sent() {
        let got =
            latest(&[at(None, Some("one")), at(Some("garbage"), Some("two")), at(Some(""), Some("three"))]);
        assert_eq!(got, Some(LatestCheckpoint { sort_time: None, place: Some("three".into()) }));
        // The last one decides even when it has no place.
        let got = latest(&[at(None, Some("one")), at(None, None)]);
        assert_eq!(got, Some(LatestCheckpoint { sort_time: None, place: None }));
        let empty = CheckpointDigest::of(std::iter::empty());
        assert_eq!(empty, CheckpointDigest::default());
    }

    #[test]
    fn the_digest_keeps_every_key_in_the_order_sent() {
        let list = [
            at(Some("2026-01-02"), Some("b")),
            at(Some("2026-01-01"), Some("a")),
            at(Some("2026-01-02"), Some("b")),
        ];
        let digest = CheckpointDigest::of(list.iter().copied());
        assert_eq!(digest.keys, [list[0].key(), list[1].key(), list[0].key()]);
        assert_ne!(list[0].key(), list[1].key());
    }

    #[test]
    fn the_place_is_the_location_else_city_and_country() {
        let place = |location, city, country| {
            CheckpointIdentity { location, city, country, ..Default::default() }.place()
        };
        assert_eq!(place(Some("Reno, NV"), Some("Reno"), Some("USA")).as_deref(), Some("Reno, NV"));
        assert_eq!(place(None, Some("Reno"), Some("USA")).as_deref(), Some("Reno USA"));
        assert_eq!(place(None, Some("Reno"), None).as_deref(), Some("Reno"));
        assert_eq!(place(None, None, Some("USA")).as_deref(), Some("USA"));
        assert_eq!(place(None, None, None), None);

        // A blank location as sent reads as absent, with or without the checkpoints, and the place
        // falls back.
        let body = serde_json::json!({ "msg": { "checkpoints": [
            { "checkpoint_time": "2026-01-01T09:00:00", "location": "  ", "city": "Reno", "country_iso3": "USA" },
            { "checkpoint_time": "2025-01-01T09:00:00", "location": "Older" },
        ] } })
        .to_string();
        let expected =
            LatestCheckpoint { sort_time: Some(ms("2026-01-01T09:00:00")), place: Some("Reno USA".into()) };
        let full = parse_envelope(body.as_bytes()).unwrap().msg.unwrap();
        assert_eq!(full.checkpoints[0].location, None);
        assert_eq!(full.checkpoint_digest.latest.as_ref(), Some(&expected));
        let lean = parse_envelope_lean(body.as_bytes()).unwrap().msg.unwrap();
        assert_eq!(lean.checkpoint_digest, full.checkpoint_digest);
        // `country_region` when there is no `country_iso3`.
        let body =
            br#"{"msg": {"checkpoints": [{"city": "Lyon", "country_region": "FRA", "location": ""}]}}"#;
        for parsed in [parse_envelope(body), parse_envelope_lean(body)] {
            let latest = parsed.unwrap().msg.unwrap().checkpoint_digest.latest.unwrap();
            assert_eq!(latest, LatestCheckpoint { sort_time: None, place: Some("Lyon FRA".into()) });
        }
    }

    #[test]
    fn newer_than_truth_table() {
        let timed =
            |t, place: Option<&str>| LatestCheckpoint { sort_time: Some(t), place: place.map(str::to_owned) };
        let untimed =
            |place: Option<&str>| LatestCheckpoint { sort_time: None, place: place.map(str::to_owned) };
        // Both timed: strictly later only.
        assert!(timed(2, Some("x")).newer_than(Some(1), Some("y")));
        assert!(!timed(1, Some("x")).newer_than(Some(1), Some("y")));
        assert!(!timed(0, Some("x")).newer_than(Some(1), Some("y")));
        // A time beats no time, whatever the places.
        assert!(timed(0, None).newer_than(None, Some("y")));
        assert!(timed(0, Some("x")).newer_than(None, None));
        // No time never beats a time.
        assert!(!untimed(Some("x")).newer_than(Some(1), None));
        assert!(!untimed(Some("x")).newer_than(Some(1), Some("y")));
        // Neither timed: only a place where there was none.
        assert!(untimed(Some("x")).newer_than(None, None));
        assert!(!untimed(Some("x")).newer_than(None, Some("y")));
        assert!(!untimed(None).newer_than(None, None));
        assert!(!untimed(None).newer_than(None, Some("y")));
    }

    #[test]
    fn newer_than_gives_the_same_result_in_any_order() {
        let candidates = [
            LatestCheckpoint { sort_time: Some(5), place: Some("five".into()) },
            LatestCheckpoint { sort_time: None, place: Some("undated".into()) },
            LatestCheckpoint { sort_time: Some(9), place: Some("nine".into()) },
            LatestCheckpoint { sort_time: Some(7), place: None },
        ];
        let orders = [[0, 1, 2, 3], [3, 2, 1, 0], [1, 3, 0, 2], [2, 0, 3, 1], [1, 0, 3, 2]];
        for order in orders {
            let (mut time, mut place): (Option<i64>, Option<String>) = (None, None);
            for i in order {
                let c = &candidates[i];
                if c.newer_than(time, place.as_deref()) {
                    (time, place) = (c.sort_time, c.place.clone());
                }
            }
            assert_eq!((time, place.as_deref()), (Some(9), Some("nine")), "order {order:?}");
        }
    }

    /// Keys are stored (timelines, and the fingerprints migrated from schema 2): a change of the
    /// hash would show every stored checkpoint twice. Values computed independently (FNV-1a 64 of
    /// `time|tag|subtag|message|location`, read as i64).
    #[test]
    fn checkpoint_keys_never_change() {
        let checkpoint = Checkpoint {
            checkpoint_time: Some("2026-01-01T09:00:00".into()),
            tag: Some(Tag::InTransit),
            subtag: Some("InTransit_002".into()),
            message: Some("Arrived at facility".into()),
            location: Some("Reno, NV".into()),
            city: Some("Reno".into()),
            country: Some("USA".into()),
            events: vec!["code".into()],
            ..Default::default()
        };
        assert_eq!(checkpoint_key(&checkpoint), 6_283_333_854_277_854_334);
        assert_eq!(checkpoint_key(&Checkpoint::default()), 3_797_361_530_617_367_077);
        let escaped =
            Checkpoint { message: Some("Arrived at Z\u{fc}rich \"Hub\"".into()), ..checkpoint.clone() };
        assert_eq!(checkpoint_key(&escaped), -4_655_933_247_702_054_239);

        // Only time, tag, subtag, message and location count.
        let elsewhere = Checkpoint {
            city: None,
            state: Some("NV".into()),
            country: Some("FRA".into()),
            events: vec![],
            slug: Some("ups".into()),
            ..checkpoint.clone()
        };
        assert_eq!(checkpoint_key(&elsewhere), checkpoint_key(&checkpoint));
        for changed in [
            Checkpoint { checkpoint_time: Some("2026-01-01T09:00:01".into()), ..checkpoint.clone() },
            Checkpoint { tag: Some(Tag::Delivered), ..checkpoint.clone() },
            Checkpoint { subtag: None, ..checkpoint.clone() },
            Checkpoint { message: Some("Arrived at facility.".into()), ..checkpoint.clone() },
            Checkpoint { location: None, ..checkpoint.clone() },
        ] {
            assert_ne!(checkpoint_key(&changed), checkpoint_key(&checkpoint), "{changed:?}");
        }
        // The separators keep a value from moving to the next field.
        let a = CheckpointIdentity { message: Some("ab"), location: None, ..Default::default() };
        let b = CheckpointIdentity { message: Some("a"), location: Some("b"), ..Default::default() };
        assert_ne!(a.key(), b.key());

        // The same key from a body, with or without the checkpoints (the escapes are decoded first).
        let body = serde_json::json!({ "msg": { "checkpoints": [{
            "checkpoint_time": "2026-01-01T09:00:00", "tag": "InTransit", "subtag": "InTransit_002",
            "message": "Arrived at Z\u{fc}rich \"Hub\"", "location": "Reno, NV", "city": "Elsewhere",
        }] } })
        .to_string();
        assert!(body.contains("\\\"Hub\\\""));
        let full = parse_envelope(body.as_bytes()).unwrap().msg.unwrap();
        assert_eq!(checkpoint_key(&full.checkpoints[0]), -4_655_933_247_702_054_239);
        assert_eq!(full.checkpoint_digest.keys, [-4_655_933_247_702_054_239]);
        let lean = parse_envelope_lean(body.as_bytes()).unwrap().msg.unwrap();
        assert_eq!(lean.checkpoint_digest.keys, [-4_655_933_247_702_054_239]);
    }
}
