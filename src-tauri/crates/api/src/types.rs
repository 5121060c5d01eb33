//! Request and response types of the inspector API, declared once here and exported to TypeScript
//! (`ui/src/generated/`) with ts-rs. Both transports (HTTP on loopback, Tauri IPC) speak exactly these.

use serde::{Deserialize, Deserializer, Serialize};
use ts_rs::TS;

/// For `Option<Option<T>>` fields of an update: absent → `None` (leave as is), `null` →
/// `Some(None)` (clear), a value → `Some(Some(v))`. Plain serde reads `null` as absent.
fn double_option<'de, T: Deserialize<'de>, D: Deserializer<'de>>(
    d: D,
) -> Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(d).map(Some)
}

/// The signature verdict of a delivery, as the API names it.
#[derive(Serialize, Deserialize, TS, Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[serde(rename_all = "snake_case")]
#[ts(export)]
pub enum Verdict {
    /// The header matches a configured secret.
    Valid,
    /// A header is present but matches no configured secret.
    Invalid,
    /// No `aftership-hmac-sha256` header.
    Missing,
    /// The header is not 32 bytes of standard base64.
    Malformed,
    /// No secret is configured, so nothing could be checked.
    Unverified,
    /// The body was over the size limit: answered 413 and kept truncated, never verified.
    TooLarge,
}

/// Which configured secret a valid delivery matched.
#[derive(Serialize, Deserialize, TS, Clone, Copy, Debug, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
#[ts(export)]
pub enum SecretSlot {
    Current,
    Previous,
}

/// Why a signature passed or failed, as a stable code: one per distinct explanation
/// `shipwatch_aftership::diagnose` gives (plus [`DiagnosisCode::TooLarge`], for a body never
/// verified). Stored with each delivery (`deliveries.diagnosis`), so its text must never change: add
/// codes, never rename them. Declared here, once, so the API and its TypeScript twin carry it.
#[derive(Serialize, Deserialize, TS, Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[serde(rename_all = "snake_case")]
#[ts(export)]
pub enum DiagnosisCode {
    /// Matches the current secret.
    ValidCurrent,
    /// Matches the previous secret: the rotation is not finished in AfterShip.
    ValidPrevious,
    /// Signed, but no secret is configured: accepted unverified.
    UnverifiedNoSecret,
    /// No `aftership-hmac-sha256` header, nor anything that looks like one.
    MissingHeader,
    /// An `as-signature-hmac-sha256` header: an AfterShip Returns or Warranty webhook.
    ReturnsOrWarrantyProduct,
    /// An `am-webhook-signature` header: AfterShip Shipping (ex-Postmen) or an old Returns account.
    ShippingProduct,
    /// A header named like ours but renamed on the way (`X-Aftership-Hmac-Sha256`, underscores).
    RenamedHeader,
    /// The header is present but empty.
    EmptyHeader,
    /// The header value is wrapped in quotes.
    QuotedHeader,
    /// The header value starts with `sha256=`, `hmac-sha256=` or `sha256:`.
    PrefixedHeader,
    /// The header is a hex digest, not base64.
    HexSignature,
    /// The header uses the base64url alphabet.
    Base64urlSignature,
    /// The header lacks its `=` padding.
    UnpaddedSignature,
    /// The header is base64 of something other than 32 bytes (another hash).
    WrongLength,
    /// The header is not base64 at all.
    NotBase64,
    /// Something added a newline at the end of the body.
    TrailingNewline,
    /// Something removed the newline that ended the body.
    MissingNewline,
    /// Something changed the body's LF line endings to CRLF.
    CrlfBody,
    /// Something changed the body's CRLF line endings to LF.
    LfBody,
    /// A proxy or framework re-serialised the JSON (another layout, key order or final newline).
    ReserialisedBody,
    /// The secret saved in Shipwatch has whitespace around it.
    SecretWhitespace,
    /// The sender keyed the HMAC with the hex- or base64-decoded secret.
    SecretDecoded,
    /// The body arrived empty.
    EmptyBody,
    /// The body arrived compressed (`Content-Encoding`).
    CompressedBody,
    /// No secret matches, and no likely change of body or secret explains it.
    WrongSecret,
    /// The body was over the size limit: answered 413, never verified.
    TooLarge,
}

impl DiagnosisCode {
    /// Every code, in the order of the explanations.
    pub const ALL: [DiagnosisCode; 26] = [
        DiagnosisCode::ValidCurrent,
        DiagnosisCode::ValidPrevious,
        DiagnosisCode::UnverifiedNoSecret,
        DiagnosisCode::MissingHeader,
        DiagnosisCode::ReturnsOrWarrantyProduct,
        DiagnosisCode::ShippingProduct,
        DiagnosisCode::RenamedHeader,
        DiagnosisCode::EmptyHeader,
        DiagnosisCode::QuotedHeader,
        DiagnosisCode::PrefixedHeader,
        DiagnosisCode::HexSignature,
        DiagnosisCode::Base64urlSignature,
        DiagnosisCode::UnpaddedSignature,
        DiagnosisCode::WrongLength,
        DiagnosisCode::NotBase64,
        DiagnosisCode::TrailingNewline,
        DiagnosisCode::MissingNewline,
        DiagnosisCode::CrlfBody,
        DiagnosisCode::LfBody,
        DiagnosisCode::ReserialisedBody,
        DiagnosisCode::SecretWhitespace,
        DiagnosisCode::SecretDecoded,
        DiagnosisCode::EmptyBody,
        DiagnosisCode::CompressedBody,
        DiagnosisCode::WrongSecret,
        DiagnosisCode::TooLarge,
    ];

    /// The stable snake_case code (`wrong_secret`), as stored, filtered on and exported.
    pub fn as_str(self) -> &'static str {
        match self {
            DiagnosisCode::ValidCurrent => "valid_current",
            DiagnosisCode::ValidPrevious => "valid_previous",
            DiagnosisCode::UnverifiedNoSecret => "unverified_no_secret",
            DiagnosisCode::MissingHeader => "missing_header",
            DiagnosisCode::ReturnsOrWarrantyProduct => "returns_or_warranty_product",
            DiagnosisCode::ShippingProduct => "shipping_product",
            DiagnosisCode::RenamedHeader => "renamed_header",
            DiagnosisCode::EmptyHeader => "empty_header",
            DiagnosisCode::QuotedHeader => "quoted_header",
            DiagnosisCode::PrefixedHeader => "prefixed_header",
            DiagnosisCode::HexSignature => "hex_signature",
            DiagnosisCode::Base64urlSignature => "base64url_signature",
            DiagnosisCode::UnpaddedSignature => "unpadded_signature",
            DiagnosisCode::WrongLength => "wrong_length",
            DiagnosisCode::NotBase64 => "not_base64",
            DiagnosisCode::TrailingNewline => "trailing_newline",
            DiagnosisCode::MissingNewline => "missing_newline",
            DiagnosisCode::CrlfBody => "crlf_body",
            DiagnosisCode::LfBody => "lf_body",
            DiagnosisCode::ReserialisedBody => "reserialised_body",
            DiagnosisCode::SecretWhitespace => "secret_whitespace",
            DiagnosisCode::SecretDecoded => "secret_decoded",
            DiagnosisCode::EmptyBody => "empty_body",
            DiagnosisCode::CompressedBody => "compressed_body",
            DiagnosisCode::WrongSecret => "wrong_secret",
            DiagnosisCode::TooLarge => "too_large",
        }
    }

    /// The code of `text` (as [`DiagnosisCode::as_str`] writes it); `None` for anything else.
    pub fn parse(text: &str) -> Option<DiagnosisCode> {
        DiagnosisCode::ALL.into_iter().find(|code| code.as_str() == text)
    }

    /// A few words for a list row or a terminal line ("wrong secret", "re-serialised body").
    pub fn label(self) -> &'static str {
        match self {
            DiagnosisCode::ValidCurrent => "current secret",
            DiagnosisCode::ValidPrevious => "previous secret",
            DiagnosisCode::UnverifiedNoSecret => "no secret set",
            DiagnosisCode::MissingHeader => "no signature header",
            DiagnosisCode::ReturnsOrWarrantyProduct => "Returns/Warranty webhook",
            DiagnosisCode::ShippingProduct => "Shipping webhook",
            DiagnosisCode::RenamedHeader => "renamed header",
            DiagnosisCode::EmptyHeader => "empty header",
            DiagnosisCode::QuotedHeader => "quoted header",
            DiagnosisCode::PrefixedHeader => "prefixed header",
            DiagnosisCode::HexSignature => "hex signature",
            DiagnosisCode::Base64urlSignature => "base64url signature",
            DiagnosisCode::UnpaddedSignature => "unpadded signature",
            DiagnosisCode::WrongLength => "not HMAC-SHA256",
            DiagnosisCode::NotBase64 => "not base64",
            DiagnosisCode::TrailingNewline => "trailing newline added",
            DiagnosisCode::MissingNewline => "final newline removed",
            DiagnosisCode::CrlfBody => "CRLF line endings",
            DiagnosisCode::LfBody => "LF line endings",
            DiagnosisCode::ReserialisedBody => "re-serialised body",
            DiagnosisCode::SecretWhitespace => "secret has whitespace",
            DiagnosisCode::SecretDecoded => "decoded secret",
            DiagnosisCode::EmptyBody => "empty body",
            DiagnosisCode::CompressedBody => "compressed body",
            DiagnosisCode::WrongSecret => "wrong secret",
            DiagnosisCode::TooLarge => "too large",
        }
    }
}

impl std::fmt::Display for DiagnosisCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One delivery in a list (the feed).
#[derive(Serialize, Deserialize, TS, Clone, Debug, PartialEq)]
#[ts(export)]
pub struct DeliveryItem {
    #[ts(type = "number")]
    pub id: i64,
    /// RFC 3339, UTC, millisecond precision.
    pub received_at: String,
    pub event_id: Option<String>,
    pub event: Option<String>,
    pub verdict: Verdict,
    /// The HTTP status we answered.
    pub status: u16,
    /// Another attempt of an event already accepted (same `event_id`).
    pub duplicate: bool,
    pub tracking_number: Option<String>,
    pub slug: Option<String>,
    pub tag: Option<String>,
    pub order_id: Option<String>,
    /// The shipment this delivery updated or belongs to, when it could be projected.
    #[ts(type = "number | null")]
    pub shipment_id: Option<i64>,
    /// Body size in bytes as received (for a too-large delivery: as declared or counted).
    #[ts(type = "number")]
    pub size: i64,
    /// The shipment's order title (`title`), when the delivery belongs to one.
    pub title: Option<String>,
    /// The courier's display name, from `slug`.
    pub courier: Option<String>,
    /// `as-webhook-version` as received (`2026-07`); absent on legacy v4 URLs.
    pub webhook_version: Option<String>,
    /// Sent by Shipwatch's own test tools (`x-shipwatch-test` header with a valid signature).
    pub test: bool,
    /// Why its signature passed or failed (`wrong_secret`, `hex_signature`, ...); absent for
    /// deliveries stored before diagnosis codes.
    #[serde(default)]
    pub diagnosis: Option<DiagnosisCode>,
    /// Forward mode: what became of forwarding this delivery (its newest forward), when it was
    /// queued for forwarding. Absent when it never was.
    #[serde(default)]
    pub forward: Option<ForwardAttempt>,
}

/// The signature panel of a delivery. `expected` is only ever sent to the local UI.
#[derive(Serialize, Deserialize, TS, Clone, Debug, PartialEq)]
#[ts(export)]
pub struct SignatureReport {
    pub verdict: Verdict,
    /// The `aftership-hmac-sha256` header as received.
    pub received: Option<String>,
    /// What the current secret gives for this body (absent when no secret is set).
    pub expected: Option<String>,
    /// Which secret matched.
    pub secret: Option<SecretSlot>,
    /// One sentence saying why it passed or failed, e.g. "the header is hex, not base64".
    pub diagnosis: String,
    /// What to do about it, when there is something to do.
    pub advice: Option<String>,
}

/// One delivery with everything we kept.
#[derive(Serialize, Deserialize, TS, Clone, Debug, PartialEq)]
#[ts(export)]
pub struct DeliveryDetail {
    #[serde(flatten)]
    pub item: DeliveryItem,
    /// The request line's method and path.
    pub method: String,
    pub path: String,
    /// The TCP peer (through a tunnel: the tunnel agent).
    pub peer: String,
    pub forwarded_for: Option<String>,
    pub cf_connecting_ip: Option<String>,
    /// All headers as they arrived, `[[name, value], ...]`: each name in the case it was sent, in the
    /// order sent, a name sent more than once at each of its places. Deliveries stored before
    /// Shipwatch kept them so (or whose head could not be told apart for sure) have names in lowercase
    /// and a repeated name's values together at its first place. Names are case-insensitive: look
    /// them up so.
    pub headers: Vec<(String, String)>,
    /// The body exactly as received (first 64 KiB for a too-large delivery).
    pub body_base64: String,
    pub body_truncated: bool,
    pub signature: SignatureReport,
    /// Why the body could not be read as an AfterShip envelope, if it could not.
    pub parse_error: Option<String>,
    /// What the delivery did to its shipment ("updated", "stale: older than the stored state", ...).
    pub projection: Option<String>,
    /// For a duplicate: the id of the first accepted delivery of the same event.
    #[ts(type = "number | null")]
    pub duplicate_of: Option<i64>,
}

/// A page of results, newest first. Pass `next` back as `before` to get the following page.
#[derive(Serialize, Deserialize, TS, Clone, Debug, PartialEq)]
#[ts(export, concrete(T = DeliveryItem))]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next: Option<String>,
}

/// A page size as given: any whole number, negative or huge, is taken and clamped by the query
/// (docs/api.md promises clamping rather than an error for values outside 1..=500).
fn lenient_limit<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u32>, D::Error> {
    /// A number (JSON, Tauri IPC) or the text of one (a query string).
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Given {
        Number(i64),
        Text(String),
    }
    let clamp = |n: i64| n.clamp(0, i64::from(u32::MAX)) as u32;
    match Option::<Given>::deserialize(d)? {
        None => Ok(None),
        Some(Given::Number(n)) => Ok(Some(clamp(n))),
        Some(Given::Text(t)) => {
            let t = t.trim();
            let digits = t.strip_prefix('-').unwrap_or(t);
            if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
                return Err(serde::de::Error::custom(format!(
                    "limit must be a whole number (1 to 500), not {t:?}"
                )));
            }
            // Too many digits for an i64 is still just "too large" (or too small): clamped.
            Ok(Some(t.parse::<i64>().map(clamp).unwrap_or(if t.starts_with('-') { 0 } else { u32::MAX })))
        }
    }
}

/// Filters of `GET /api/deliveries`.
#[derive(Serialize, Deserialize, TS, Clone, Debug, Default, PartialEq)]
#[ts(export)]
pub struct DeliveryQuery {
    /// One verdict, or `failed` for invalid + missing + malformed + too_large.
    #[ts(optional)]
    pub verdict: Option<String>,
    /// Search: the shipment's tracking number, order id or title (prefix), or (substring) those,
    /// its checkpoints and the body fields a person looks it up by (customer names and emails,
    /// destination, custom fields, note, ...); an event id (prefix). See docs/api.md.
    #[ts(optional)]
    pub q: Option<String>,
    #[ts(optional)]
    pub tag: Option<String>,
    /// Courier slug.
    #[ts(optional)]
    pub slug: Option<String>,
    /// 1..=500, default 100; values outside (negative ones too) are clamped.
    #[ts(optional)]
    #[serde(default, deserialize_with = "lenient_limit")]
    pub limit: Option<u32>,
    /// Cursor from a previous page's `next`.
    #[ts(optional)]
    pub before: Option<String>,
    /// A diagnosis code (`wrong_secret`, `hex_signature`, ...: see `DiagnosisCode`).
    #[ts(optional)]
    pub diagnosis: Option<String>,
    /// Received at or after: RFC 3339 (`2026-12-08T09:00:00Z`, any offset) or a date
    /// (`2026-12-08`, its start in UTC).
    #[ts(optional)]
    pub since: Option<String>,
    /// Received before: RFC 3339 or a date (a date includes that whole day, UTC).
    #[ts(optional)]
    pub until: Option<String>,
}

/// One checkpoint of a shipment's timeline.
#[derive(Serialize, Deserialize, TS, Clone, Debug, PartialEq)]
#[ts(export)]
pub struct CheckpointItem {
    /// As sent: empty, a date, a local date-time or one with an offset.
    pub checkpoint_time: Option<String>,
    pub tag: Option<String>,
    pub subtag: Option<String>,
    pub subtag_message: Option<String>,
    pub message: Option<String>,
    pub location: Option<String>,
    pub city: Option<String>,
    pub state: Option<String>,
    pub postal_code: Option<String>,
    pub country: Option<String>,
    pub slug: Option<String>,
    /// Checkpoint event codes (`delivery_attempt_failed`, ...), when sent.
    pub events: Vec<String>,
}

/// One shipment in a list.
#[derive(Serialize, Deserialize, TS, Clone, Debug, PartialEq, Default)]
#[ts(export)]
pub struct ShipmentItem {
    #[ts(type = "number")]
    pub id: i64,
    /// AfterShip's tracking id (`msg.id`), when sent.
    pub tracking_id: Option<String>,
    pub tracking_number: Option<String>,
    pub slug: Option<String>,
    pub title: Option<String>,
    pub order_id: Option<String>,
    pub tag: Option<String>,
    pub subtag: Option<String>,
    pub subtag_message: Option<String>,
    /// The best expected delivery we know, as sent (legacy `expected_delivery` or an EDD object's date).
    pub expected_delivery: Option<String>,
    /// Location of the latest checkpoint.
    pub last_location: Option<String>,
    /// RFC 3339: when a delivery last changed this shipment.
    pub updated_at: String,
    /// Built from unverified deliveries (no secret was configured).
    pub unverified: bool,
    /// The courier's display name (`DHL Express` for `dhl-express`; the slug when unknown).
    pub courier: Option<String>,
    /// The order number of 2025+ payloads (`order_number`), beside `order_id`.
    pub order_number: Option<String>,
    /// RFC 3339: the courier's newest checkpoint time (its last scan), when a checkpoint had one.
    /// Ages ("no scan for 6 days") count from here, never from when Shipwatch received a delivery.
    pub last_scan_at: Option<String>,
    /// RFC 3339: when the shipment was delivered (its Delivered checkpoint, else the delivery that
    /// first said Delivered).
    pub delivered_at: Option<String>,
    /// The date the shipment is due, as used for "late" (the latest estimate, else the order's
    /// promised date): `YYYY-MM-DD` or RFC 3339.
    pub due: Option<String>,
    /// Archived: out of the home page, still listed and searchable.
    pub archived: bool,
    /// Made by a Shipwatch test delivery: left out of counts, the tray and the home page.
    pub test: bool,
}

/// Why a shipment needs the merchant, most urgent first.
#[derive(Serialize, Deserialize, TS, Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[serde(rename_all = "snake_case")]
#[ts(export)]
pub enum AttentionKind {
    /// Tag Exception (the reason is the subtag's wording or the courier's message).
    Exception,
    /// Tag AttemptFail.
    FailedAttempt,
    /// Past its due date and not delivered.
    Late,
    /// No courier scan for the configured number of days (or a `tracking_pending_time` event).
    Stuck,
    /// Tag AvailableForPickup for the configured number of days.
    WaitingForPickup,
}

/// One reason a shipment needs attention, as shown ("2 days late", "Delayed (External factors)").
#[derive(Serialize, Deserialize, TS, Clone, Debug, PartialEq)]
#[ts(export)]
pub struct Attention {
    pub kind: AttentionKind,
    /// A short sentence for the merchant: "Delayed (External factors)", "2 days late (due Dec 3)",
    /// "No courier scan for 6 days", "Waiting at the pickup point for 4 days".
    pub reason: String,
    /// Days late / without a scan / waiting, when the kind counts days.
    pub days: Option<u32>,
    /// RFC 3339: since when (the checkpoint or due date it counts from), when known.
    pub since: Option<String>,
}

/// A shipment on the home page with what it needs.
#[derive(Serialize, Deserialize, TS, Clone, Debug, PartialEq)]
#[ts(export)]
pub struct AttentionItem {
    pub attention: Attention,
    pub shipment: ShipmentItem,
}

/// One group of the home page below "Needs attention" (at most `DESK_GROUP_LIMIT` items; `total`
/// says how many there are).
#[derive(Serialize, Deserialize, TS, Clone, Debug, PartialEq)]
#[ts(export)]
pub struct DeskGroup {
    pub items: Vec<ShipmentItem>,
    #[ts(type = "number")]
    pub total: i64,
}

/// `GET /api/desk`: the merchant's home page. Test shipments and archived ones are left out.
#[derive(Serialize, Deserialize, TS, Clone, Debug, PartialEq)]
#[ts(export)]
pub struct Desk {
    /// Sorted by urgency: kind (exception first), then days (most first); the most urgent
    /// `DESK_ATTENTION_LIMIT` (200) of them.
    pub attention: Vec<AttentionItem>,
    /// How many need attention in all (`attention` may hold fewer).
    #[ts(type = "number")]
    pub attention_total: i64,
    /// Due today (local date) and not delivered.
    pub arriving_today: DeskGroup,
    /// Not delivered, not in `attention` nor `arriving_today`, newest scan first.
    pub in_transit: DeskGroup,
    /// Delivered and not archived (they archive themselves after `archive_after_days`), newest first.
    pub delivered_recently: DeskGroup,
    /// Test shipments left out of the page (removable with `DELETE /api/test-data`).
    #[ts(type = "number")]
    pub test_shipments: i64,
    /// RFC 3339: the clock the ages were counted on.
    pub now: String,
}

/// An estimated delivery that moved (an `edd_revise` event or a tracking update with a new estimate).
#[derive(Serialize, Deserialize, TS, Clone, Debug, PartialEq)]
#[ts(export)]
pub struct EstimateChange {
    /// RFC 3339: when the delivery that moved it was received.
    pub at: String,
    #[ts(type = "number")]
    pub delivery_id: i64,
    /// The estimate before and after, as sent (`YYYY-MM-DD` or RFC 3339).
    pub previous: Option<String>,
    pub estimate: Option<String>,
    /// `revise_reason` when AfterShip gave one.
    pub reason: Option<String>,
    /// The estimate moved to a later date.
    pub later: bool,
}

/// `DELETE /api/test-data`: what was removed.
#[derive(Serialize, Deserialize, TS, Clone, Debug, PartialEq)]
#[ts(export)]
pub struct TestDataRemoved {
    #[ts(type = "number")]
    pub shipments: i64,
    #[ts(type = "number")]
    pub deliveries: i64,
}

/// `POST /api/shipments/{id}/archive`.
#[derive(Serialize, Deserialize, TS, Clone, Debug, PartialEq)]
#[ts(export)]
pub struct ArchiveRequest {
    pub archived: bool,
}

/// Filters of `GET /api/shipments`.
#[derive(Serialize, Deserialize, TS, Clone, Debug, Default, PartialEq)]
#[ts(export)]
pub struct ShipmentQuery {
    #[ts(optional)]
    pub tag: Option<String>,
    /// Matches tracking number, order id, title.
    #[ts(optional)]
    pub q: Option<String>,
    /// As in [`DeliveryQuery::limit`].
    #[ts(optional)]
    #[serde(default, deserialize_with = "lenient_limit")]
    pub limit: Option<u32>,
    #[ts(optional)]
    pub before: Option<String>,
}

/// How many shipments have a tag.
#[derive(Serialize, Deserialize, TS, Clone, Debug, PartialEq)]
#[ts(export)]
pub struct TagCount {
    pub tag: String,
    #[ts(type = "number")]
    pub count: i64,
}

/// `GET /api/shipments`: a page plus the counts by tag (over all shipments, not the filter).
#[derive(Serialize, Deserialize, TS, Clone, Debug, PartialEq)]
#[ts(export)]
pub struct ShipmentList {
    pub items: Vec<ShipmentItem>,
    pub next: Option<String>,
    pub counts: Vec<TagCount>,
}

/// A shipment with its timeline and the deliveries that built it.
#[derive(Serialize, Deserialize, TS, Clone, Debug, PartialEq)]
#[ts(export)]
pub struct ShipmentDetail {
    #[serde(flatten)]
    pub shipment: ShipmentItem,
    pub courier_tracking_link: Option<String>,
    pub courier_redirect_link: Option<String>,
    /// The versioned estimated-delivery objects as sent (`aftership_estimated_delivery_date`, ...).
    #[ts(type = "Record<string, unknown> | null")]
    pub estimated_delivery: Option<serde_json::Value>,
    /// Oldest first.
    pub checkpoints: Vec<CheckpointItem>,
    /// Newest first.
    pub deliveries: Vec<DeliveryItem>,
    /// What it needs now, most urgent first (empty when nothing).
    pub attention: Vec<Attention>,
    /// Every move of its estimated delivery, oldest first.
    pub estimate_history: Vec<EstimateChange>,
    /// `proof_of_delivery` as sent (2026-07: signed by, photo links), when sent.
    #[ts(type = "Record<string, unknown> | null")]
    pub proof_of_delivery: Option<serde_json::Value>,
    pub signed_by: Option<String>,
}

/// Live events pushed to the UI (SSE `event:` name / Tauri event name = the variant, snake_case).
#[derive(Serialize, Deserialize, TS, Clone, Debug, PartialEq)]
#[serde(tag = "type", rename_all = "snake_case")]
#[ts(export)]
pub enum LiveEvent {
    /// A delivery was stored (whatever its verdict).
    Delivery { delivery: DeliveryItem },
    /// A shipment changed because of a delivery.
    Shipment { shipment: ShipmentItem },
    /// An attempt at forwarding a delivery (forward mode).
    Forward { forward: ForwardAttempt },
    /// The home page changed without a delivery (the clock found a late or stuck shipment, a
    /// shipment was archived, test data was removed): refetch `GET /api/desk`.
    Desk,
    /// The client fell behind and missed events: refetch.
    Lagged {
        #[ts(type = "number")]
        missed: u64,
    },
}

/// Receiver (tunnel-facing listener) state.
#[derive(Serialize, Deserialize, TS, Clone, Debug, PartialEq)]
#[serde(tag = "state", rename_all = "snake_case")]
#[ts(export)]
pub enum ReceiverState {
    Listening {
        addr: String,
    },
    /// Could not listen, e.g. the port is in use; `message` says what to do.
    Failed {
        addr: String,
        message: String,
    },
    Stopped,
}

/// `GET /api/status`: what the status bar shows.
#[derive(Serialize, Deserialize, TS, Clone, Debug, PartialEq)]
#[ts(export)]
pub struct Status {
    pub version: String,
    pub receiver: ReceiverState,
    /// The path AfterShip must POST to, e.g. `/webhooks/aftership`.
    pub webhook_path: String,
    /// e.g. `http://127.0.0.1:8787/webhooks/aftership`.
    pub local_webhook_url: Option<String>,
    /// The user's public tunnel base URL, when set.
    pub public_url: Option<String>,
    /// `public_url` + `webhook_path`: what to paste into AfterShip.
    pub public_webhook_url: Option<String>,
    pub data_dir: String,
    pub secret_configured: bool,
    pub previous_secret_configured: bool,
    #[ts(type = "number")]
    pub deliveries_today: i64,
    #[ts(type = "number")]
    pub failures_today: i64,
    #[ts(type = "number")]
    pub deliveries_total: i64,
    /// RFC 3339 of the newest delivery, if any.
    pub last_delivery_at: Option<String>,
    /// Warnings to show (no notification server, ...).
    pub warnings: Vec<String>,
    /// Why notifications are held right now ("paused", "quiet hours until 07:00"), when they are.
    pub notifications_held: Option<String>,
    /// Shipments that need attention now (the home page's first section; test ones left out).
    #[ts(type = "number")]
    pub attention_count: i64,
    /// The `as-webhook-version` of the newest valid delivery (absent: legacy v4 or none yet).
    pub webhook_version: Option<String>,
}

/// Quiet hours, local time, `HH:MM`. An interval that wraps midnight (22:00–07:00) is fine.
#[derive(Serialize, Deserialize, TS, Clone, Debug, PartialEq, Eq)]
#[ts(export)]
pub struct QuietHours {
    pub start: String,
    pub end: String,
}

/// Settings as shown to the UI: secrets are masked, never sent.
#[derive(Serialize, Deserialize, TS, Clone, Debug, PartialEq)]
#[ts(export)]
pub struct SettingsView {
    pub secret_set: bool,
    /// e.g. `••••a1b2` (the last four characters), when set; just `••••` for a secret of 8
    /// characters or fewer, where four would give away half of it.
    pub secret_hint: Option<String>,
    pub previous_secret_set: bool,
    pub previous_secret_hint: Option<String>,
    /// `SHIPWATCH_SECRET` overrides the current secret of the settings file.
    pub secrets_from_env: bool,
    pub listen: String,
    pub webhook_path: String,
    #[ts(type = "number")]
    pub body_limit: u64,
    pub notify_tags: Vec<String>,
    pub quiet_hours: Option<QuietHours>,
    pub notifications_paused: bool,
    pub autostart: bool,
    pub public_url: Option<String>,
    pub tunnel_command: Option<String>,
    /// `SHIPWATCH_PREVIOUS_SECRET` overrides the previous secret of the settings file.
    pub previous_secret_from_env: bool,
    /// Forward mode: valid deliveries are sent on to this URL (absent = off).
    pub forward_url: Option<String>,
    /// Forward failing deliveries too.
    pub forward_failing: bool,
    /// Keep deliveries this many days (absent = forever).
    pub retention_days: Option<u32>,
    /// Keep the database under this many MB (absent = no limit).
    #[ts(type = "number | null")]
    pub retention_max_mb: Option<u64>,
    /// A shipment with no courier scan for this many days is stuck (default 5).
    pub stuck_after_days: u32,
    /// A shipment waiting at a pickup point this many days needs attention (default 3).
    pub pickup_after_days: u32,
    /// Delivered shipments leave the home page after this many days (default 3).
    pub archive_after_days: u32,
    /// Alerts the clock and events raise: any of `late`, `stuck`, `estimate_later` (default all).
    pub alerts: Vec<String>,
    /// Local `HH:MM` of a daily digest notification ("3 need attention, 12 delivered yesterday");
    /// absent: no digest.
    pub digest_at: Option<String>,
}

/// A change of settings: absent fields stay as they are. For secrets, `""` clears. A field this
/// version does not know is refused (400), so a typo never looks like a saved setting.
#[derive(Serialize, Deserialize, TS, Clone, Debug, Default, PartialEq)]
#[serde(deny_unknown_fields)]
#[ts(export)]
pub struct SettingsUpdate {
    #[ts(optional)]
    pub secret: Option<String>,
    #[ts(optional)]
    pub previous_secret: Option<String>,
    #[ts(optional)]
    pub listen: Option<String>,
    #[ts(optional)]
    pub webhook_path: Option<String>,
    #[ts(optional)]
    #[ts(type = "number | null")]
    pub body_limit: Option<u64>,
    #[ts(optional)]
    pub notify_tags: Option<Vec<String>>,
    /// `null` clears quiet hours.
    #[serde(default, deserialize_with = "double_option")]
    #[ts(optional)]
    pub quiet_hours: Option<Option<QuietHours>>,
    #[ts(optional)]
    pub notifications_paused: Option<bool>,
    #[ts(optional)]
    pub autostart: Option<bool>,
    /// `""` clears.
    #[ts(optional)]
    pub public_url: Option<String>,
    /// `""` clears.
    #[ts(optional)]
    pub tunnel_command: Option<String>,
    /// `""` turns forward mode off.
    #[ts(optional)]
    pub forward_url: Option<String>,
    #[ts(optional)]
    pub forward_failing: Option<bool>,
    /// `null` keeps deliveries forever.
    #[serde(default, deserialize_with = "double_option")]
    #[ts(optional)]
    pub retention_days: Option<Option<u32>>,
    /// `null` removes the size limit (at least 10 when set).
    #[serde(default, deserialize_with = "double_option")]
    #[ts(optional, type = "number | null")]
    pub retention_max_mb: Option<Option<u64>>,
    /// 1 to 365.
    #[ts(optional)]
    pub stuck_after_days: Option<u32>,
    /// 1 to 365.
    #[ts(optional)]
    pub pickup_after_days: Option<u32>,
    /// 1 to 365.
    #[ts(optional)]
    pub archive_after_days: Option<u32>,
    #[ts(optional)]
    pub alerts: Option<Vec<String>>,
    /// `null` turns the digest off.
    #[serde(default, deserialize_with = "double_option")]
    #[ts(optional)]
    pub digest_at: Option<Option<String>>,
}

/// `POST /api/deliveries/{id}/reverify`: check a stored delivery against a secret typed in the UI.
#[derive(Serialize, Deserialize, TS, Clone, Debug, PartialEq)]
#[ts(export)]
pub struct ReverifyRequest {
    pub secret: String,
}

/// `POST /api/test-delivery`: sign a sample delivery with the current secret and post it to our own
/// receiver, as AfterShip would.
#[derive(Serialize, Deserialize, TS, Clone, Debug, Default, PartialEq)]
#[ts(export)]
pub struct TestDeliveryRequest {
    /// Tag of the sample (default `InTransit`).
    #[ts(optional)]
    pub tag: Option<String>,
    /// Subtag (default: the tag's `_001`).
    #[ts(optional)]
    pub subtag: Option<String>,
    /// `v4` (legacy, default) or `versioned` (2025-07 shape, with `as-webhook-version`).
    #[ts(optional)]
    pub shape: Option<String>,
    /// Any URL to post to instead of our own receiver.
    #[ts(optional)]
    pub to: Option<String>,
}

#[derive(Serialize, Deserialize, TS, Clone, Debug, PartialEq)]
#[ts(export)]
pub struct TestDeliveryResult {
    /// The status our receiver answered.
    pub status: u16,
    /// The stored delivery, when it was stored.
    #[ts(type = "number | null")]
    pub delivery_id: Option<i64>,
    pub event_id: String,
    pub tracking_number: String,
}

/// Error body of every API call: `{"error": "..."}` with a message that says what to do.
#[derive(Serialize, Deserialize, TS, Clone, Debug, PartialEq)]
#[ts(export)]
pub struct ApiErrorBody {
    pub error: String,
}

/// `GET /api/tunnel`: the supervised tunnel command, when one is configured.
#[derive(Serialize, Deserialize, TS, Clone, Debug, PartialEq)]
#[ts(export)]
pub struct TunnelStatus {
    /// `off` (no command set), `starting`, `running`, `restarting`, `stopped`.
    pub state: String,
    pub command: Option<String>,
    /// The public URL the command printed (its current or last run).
    pub public_url: Option<String>,
    pub pid: Option<u32>,
    pub restarts: u32,
    /// How the last run ended.
    pub last_exit: Option<String>,
    /// Its last output lines, oldest first.
    pub log: Vec<String>,
    /// Set when Shipwatch stopped trying (state `stopped`): it waits for the settings to change or
    /// Restart.
    pub stopped_reason: Option<TunnelStop>,
}

/// Why the tunnel command is no longer retried.
#[derive(Serialize, Deserialize, TS, Clone, Copy, Debug, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
#[ts(export)]
pub enum TunnelStopCode {
    /// Its program is not installed: it was not started (or the shell said "not found").
    ProgramNotFound,
    /// It exited at once several times in a row.
    KeepsExiting,
}

/// What stopped the tunnel command for good, and what to do.
#[derive(Serialize, Deserialize, TS, Clone, Debug, PartialEq, Eq)]
#[ts(export)]
pub struct TunnelStop {
    pub code: TunnelStopCode,
    /// The program the command runs, when known (`cloudflared`).
    pub program: Option<String>,
    /// The last line it printed (stderr first), when it ran.
    pub last_error: Option<String>,
    /// What happened, in one sentence.
    pub message: String,
    /// What to do: what to install, or how to find out why it stops.
    pub advice: String,
}

/// Which hop a self-test through the tunnel stopped at.
#[derive(Serialize, Deserialize, TS, Clone, Copy, Debug, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
#[ts(export)]
pub enum SelfTestHop {
    /// Arrived byte-exact with a valid signature.
    Ok,
    /// No public URL is set and no tunnel printed one.
    NoPublicUrl,
    /// The tunnel's hostname does not resolve.
    Dns,
    /// Nothing answers at the public address.
    Connect,
    /// The TLS handshake failed.
    Tls,
    /// No answer in time.
    Timeout,
    /// The tunnel answered but could not reach Shipwatch (502/503/504 from the tunnel).
    TunnelDown,
    /// Something answered 404: the tunnel points at the wrong port or the path is wrong.
    WrongPath,
    /// Our receiver answered, but not 200 (e.g. 401: the signature failed on the way).
    Rejected,
    /// 200, but no delivery with that event id reached our receiver (something else answered).
    NotArrived,
    /// It arrived, but its body was changed on the way (a proxy re-wrote it).
    BodyAltered,
}

/// `POST /api/self-test`: a signed sample sent through the public URL and looked for on arrival.
#[derive(Serialize, Deserialize, TS, Clone, Debug, PartialEq)]
#[ts(export)]
pub struct SelfTestResult {
    pub ok: bool,
    pub hop: SelfTestHop,
    /// What happened, in one sentence.
    pub message: String,
    /// What to do about it.
    pub advice: Option<String>,
    /// The URL posted to.
    pub url: Option<String>,
    pub status: Option<u16>,
    #[ts(type = "number | null")]
    pub round_trip_ms: Option<u64>,
    /// The delivery as stored, when it arrived.
    #[ts(type = "number | null")]
    pub delivery_id: Option<i64>,
}

/// Which signature a replay carries.
#[derive(Serialize, Deserialize, TS, Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[serde(rename_all = "snake_case")]
#[ts(export)]
pub enum SignWith {
    /// The `aftership-hmac-sha256` header as received (none if there was none): reproduces the
    /// original verdict; it no longer matches an edited body.
    #[default]
    Original,
    /// Re-signed with the current secret set in Shipwatch.
    Current,
    /// Re-signed with the previous secret (rotation).
    Previous,
    /// Re-signed with the secret given in `secret`.
    Typed,
}

/// `POST /api/deliveries/{id}/replay`: send a stored delivery again.
#[derive(Serialize, Deserialize, TS, Clone, Default, PartialEq)]
#[ts(export)]
pub struct ReplayRequest {
    /// A URL to send it to; absent = into Shipwatch's own pipeline (re-verify, re-project, stored as a
    /// new delivery).
    #[ts(optional)]
    pub to: Option<String>,
    /// Older form of `sign_with: "current"` (re-signs with the current secret, else the previous
    /// one); `sign_with` wins when both are given.
    #[ts(optional)]
    pub resign: Option<bool>,
    /// Which signature to send; default `original` (the header as received).
    #[ts(optional)]
    pub sign_with: Option<SignWith>,
    /// The secret for `sign_with: "typed"`, as typed (its literal UTF-8 bytes). Used once by the
    /// local engine to sign: never stored, logged or sent back.
    #[ts(optional)]
    pub secret: Option<String>,
    /// An edited body (UTF-8) to send instead of the stored one; usually with a re-signing `sign_with`.
    #[ts(optional)]
    pub body: Option<String>,
    /// Prepare the request without sending it: the answer's `sent_headers` are what would be sent
    /// (with the signature for `sign_with`), e.g. for "copy as curl". Nothing is sent or stored.
    #[ts(optional)]
    pub dry_run: Option<bool>,
}

impl std::fmt::Debug for ReplayRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReplayRequest")
            .field("to", &self.to)
            .field("resign", &self.resign)
            .field("sign_with", &self.sign_with)
            .field("secret", &self.secret.as_ref().map(|_| "<set>"))
            .field("body", &self.body.as_ref().map(String::len))
            .field("dry_run", &self.dry_run)
            .finish()
    }
}

/// What the target answered to a replay.
#[derive(Serialize, Deserialize, TS, Clone, Debug, PartialEq)]
#[ts(export)]
pub struct ReplayResult {
    pub target: String,
    pub status: Option<u16>,
    pub headers: Vec<(String, String)>,
    /// The response body (UTF-8, lossy; at most 1 MiB).
    pub body: String,
    #[ts(type = "number")]
    pub round_trip_ms: u64,
    /// Why it could not be sent (which hop failed), when it could not.
    pub error: Option<String>,
    /// The new delivery, when replayed into our own receiver.
    #[ts(type = "number | null")]
    pub delivery_id: Option<i64>,
    /// The request's headers as sent (or, for a dry run, as they would be), in the received order:
    /// the original ones minus `host`, `content-length` and hop-by-hop headers, with the signature
    /// header re-computed for `sign_with` (only ever answered to the local UI). A dry run (copy as
    /// curl) gives them in the case and places received; a replay as its HTTP client wrote them:
    /// names in lowercase, a repeated name's values together at its first place.
    #[serde(default)]
    pub sent_headers: Vec<(String, String)>,
    /// Which signature was sent.
    #[serde(default)]
    pub signed_with: SignWith,
    /// The body sent differs from the stored one.
    #[serde(default)]
    pub body_edited: bool,
    /// The body was edited but sent with the original signature, which no longer matches it.
    #[serde(default)]
    pub signature_stale: bool,
    /// Only prepared (`dry_run`): nothing was sent.
    #[serde(default)]
    pub dry_run: bool,
}

/// `POST /api/reverify-failed`: check every failed delivery again with the secrets set now.
#[derive(Serialize, Deserialize, TS, Clone, Debug, PartialEq)]
#[ts(export)]
pub struct ReverifyFailedResult {
    #[ts(type = "number")]
    pub checked: i64,
    /// Now valid: their verdict is updated and they were projected onto shipments.
    #[ts(type = "number")]
    pub now_valid: i64,
    #[ts(type = "number")]
    pub shipments_updated: i64,
}

/// One attempt (or the pending state) of forwarding a delivery to the developer's URL.
#[derive(Serialize, Deserialize, TS, Clone, Debug, PartialEq)]
#[ts(export)]
pub struct ForwardAttempt {
    #[ts(type = "number")]
    pub delivery_id: i64,
    pub target: String,
    /// `pending` (queued), `retrying` (failed, will retry), `delivered` (2xx), `gave_up`.
    pub state: String,
    pub attempts: u32,
    /// The target's last status, when it answered.
    pub status: Option<u16>,
    /// Why the last attempt failed, when it failed.
    pub error: Option<String>,
    /// RFC 3339 of the last attempt.
    pub last_attempt_at: Option<String>,
    /// RFC 3339 of the next retry (`retrying` only).
    pub next_attempt_at: Option<String>,
    #[ts(type = "number | null")]
    pub round_trip_ms: Option<u64>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_update_tells_null_from_absent() {
        let absent: SettingsUpdate = serde_json::from_str("{}").unwrap();
        assert_eq!((absent.quiet_hours, absent.retention_days, absent.retention_max_mb), (None, None, None));
        let cleared: SettingsUpdate = serde_json::from_str(
            r#"{"quiet_hours": null, "retention_days": null, "retention_max_mb": null}"#,
        )
        .unwrap();
        assert_eq!(
            (cleared.quiet_hours, cleared.retention_days, cleared.retention_max_mb),
            (Some(None), Some(None), Some(None))
        );
        let set: SettingsUpdate = serde_json::from_str(r#"{"retention_days": 30}"#).unwrap();
        assert_eq!(set.retention_days, Some(Some(30)));
    }
}
