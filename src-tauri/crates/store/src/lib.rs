//! Storage of deliveries and shipments in one SQLite file (`shipwatch.db` in the data dir).
//!
//! - [`migrations`]: the schema, embedded and applied on open.
//! - [`writer`]: the single writer thread; it commits deliveries in groups (one transaction, one
//!   fsync for many deliveries) and answers each caller only once its delivery is on disk.
//! - [`projection`]: how an accepted delivery changes its shipment (order-independent).
//! - [`timeline`]: a shipment's checkpoints, one document per shipment.
//! - [`queries`]: the read side (lists, details, counts) on separate read-only connections.
//! - [`search`]: how typed text finds deliveries and shipments (indexes, FTS5 trigram).
//! - [`bodies`]: headers and bodies stored compressed (zstd, a dictionary trained from the user's own
//!   deliveries) and read back byte for byte.
//! - [`forwards`], [`meta`], [`retention`]: the forward queue, small persistent facts, and deleting
//!   old deliveries.
#![forbid(unsafe_code)]

pub mod bodies;
pub mod desk;
pub mod forwards;
pub mod meta;
pub mod migrations;
pub mod projection;
pub mod queries;
pub mod retention;
pub mod search;
pub mod timeline;
pub mod writer;

mod conn;

use std::path::{Path, PathBuf};

pub use shipwatch_aftership::DiagnosisCode;
pub use shipwatch_aftership::SecretSlot;
use shipwatch_aftership::{DeliveryVerdict, Envelope};
pub use writer::{NotificationRecord, Store, WriterConfig};

/// The database file name inside the data dir.
pub const DB_FILE: &str = "shipwatch.db";

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("cannot open the database {path}: {source}. {}", open_advice(source))]
    Open { path: PathBuf, source: rusqlite::Error },
    #[error(
        "cannot make the database {path} private to you: {source}. Check the data directory's permissions"
    )]
    Private { path: PathBuf, source: std::io::Error },
    #[error("the database {path} was written by a newer Shipwatch (schema {found}, this one knows {known}); upgrade Shipwatch or use another --data-dir")]
    TooNew { path: PathBuf, found: i64, known: i64 },
    #[error("the database {path} could not be upgraded from schema {from} to {to}: {reason}. Nothing was changed; keep the file and report this")]
    Migration { path: PathBuf, from: i64, to: i64, reason: String },
    #[error("database error: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("a stored body cannot be decoded: {0}")]
    Codec(String),
    #[error("the storage writer has stopped")]
    WriterGone,
    #[error("not found")]
    NotFound,
    #[error("{0}")]
    BadQuery(String),
    #[error("the write was rolled back because its group could not be committed")]
    CommitFailed,
    #[error("a stored shipment timeline cannot be read: {0}")]
    CorruptTimeline(#[from] serde_json::Error),
    #[error("the disk failed to save the database (fsync failed); check the disk, then restart Shipwatch")]
    DiskFailed,
}

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// What to do when the database cannot be opened, by SQLite's reason.
fn open_advice(e: &rusqlite::Error) -> &'static str {
    use rusqlite::ErrorCode::*;
    match e.sqlite_error_code() {
        Some(NotADatabase) | Some(DatabaseCorrupt) => {
            "It is not a Shipwatch database, or it is damaged: Shipwatch leaves it as it is. Move it \
             aside (Shipwatch then starts a new one; `sqlite3 FILE .recover` may save what it holds) \
             or choose another data directory with --data-dir / SHIPWATCH_DATA_DIR"
        }
        Some(ReadOnly) | Some(CannotOpen) | Some(PermissionDenied) => {
            "Shipwatch must be able to write the data directory and the files in it: check their \
             owner and permissions, or choose another with --data-dir / SHIPWATCH_DATA_DIR"
        }
        Some(DatabaseBusy) | Some(DatabaseLocked) => {
            "Another program holds it locked: close it (an open `sqlite3` shell, say), then start again"
        }
        _ => "Check the file and the data directory, or choose another with --data-dir / SHIPWATCH_DATA_DIR",
    }
}

/// The verdict as stored: the signature verdict, or `TooLarge` for a body over the limit (never verified).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StoredVerdict {
    Signature(DeliveryVerdict),
    TooLarge,
}

impl StoredVerdict {
    pub fn as_str(self) -> &'static str {
        match self {
            StoredVerdict::Signature(v) => v.as_str(),
            StoredVerdict::TooLarge => "too_large",
        }
    }
    /// Allowed to update shipments and answered 200.
    pub fn accepted(self) -> bool {
        matches!(self, StoredVerdict::Signature(v) if v.accepted())
    }
}

/// A delivery as received, ready to be stored. Built by the receiver; parsing happens before the
/// writer so the writer only does SQL.
#[derive(Clone, Debug)]
pub struct NewDelivery {
    /// Unix milliseconds.
    pub received_at_ms: i64,
    pub peer: String,
    pub forwarded_for: Option<String>,
    pub cf_connecting_ip: Option<String>,
    pub method: String,
    pub path: String,
    /// In the order received.
    pub headers: Vec<(String, String)>,
    /// Exactly as received (the first 64 KiB when `body_truncated`).
    pub body: Vec<u8>,
    /// Bytes received (or declared by Content-Length when truncated).
    pub body_size: i64,
    pub body_truncated: bool,
    pub verdict: StoredVerdict,
    /// The status to answer if this is not a duplicate (200, 401 or 413).
    pub status: u16,
    /// The parsed envelope, when the body is a JSON object.
    pub envelope: Option<Envelope>,
    pub parse_error: Option<String>,
    /// Why the signature failed, as the receiver diagnosed it (`shipwatch_aftership::diagnosis_code`).
    /// `None` lets the store derive what needs no secret (valid, unverified, too large); a failed
    /// delivery without one is stored with none.
    pub diagnosis: Option<DiagnosisCode>,
}

/// The request header a versioned AfterShip webhook URL sends its version in (`2026-07`).
pub const WEBHOOK_VERSION_HEADER: &str = "as-webhook-version";
/// The request header Shipwatch's own test tools mark their deliveries with (`x-shipwatch-test: 1`).
pub const TEST_HEADER: &str = "x-shipwatch-test";

impl NewDelivery {
    /// A request header's value (the first of that name, any case), trimmed; `None` when absent or blank.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.trim())
            .filter(|v| !v.is_empty())
    }

    /// The diagnosis code stored with it: the receiver's, else what the verdict alone says.
    pub fn diagnosis_code(&self) -> Option<DiagnosisCode> {
        self.diagnosis.or(match self.verdict {
            StoredVerdict::Signature(DeliveryVerdict::Valid(SecretSlot::Current)) => {
                Some(DiagnosisCode::ValidCurrent)
            }
            StoredVerdict::Signature(DeliveryVerdict::Valid(SecretSlot::Previous)) => {
                Some(DiagnosisCode::ValidPrevious)
            }
            StoredVerdict::Signature(DeliveryVerdict::Unverified) => Some(DiagnosisCode::UnverifiedNoSecret),
            StoredVerdict::TooLarge => Some(DiagnosisCode::TooLarge),
            StoredVerdict::Signature(_) => None,
        })
    }

    /// `as-webhook-version` as received; absent on legacy v4 URLs.
    pub fn webhook_version(&self) -> Option<&str> {
        self.header(WEBHOOK_VERSION_HEADER)
    }

    /// Test data: the delivery carries [`TEST_HEADER`] (`1` or `true`) and a valid signature. Anyone
    /// can send the header, so an unsigned or forged delivery is never test data (nor is one taken
    /// unverified while no secret is set).
    pub fn is_test(&self) -> bool {
        let marked = self.header(TEST_HEADER).is_some_and(|v| v == "1" || v.eq_ignore_ascii_case("true"));
        marked && matches!(self.verdict, StoredVerdict::Signature(DeliveryVerdict::Valid(_)))
    }
}

/// What storing a delivery did.
#[derive(Clone, Debug)]
pub struct StoredDelivery {
    pub id: i64,
    /// The status answered (for a duplicate of an accepted delivery: that delivery's status).
    pub status: u16,
    pub duplicate_of: Option<i64>,
    pub verdict: StoredVerdict,
    /// The list item the UI shows.
    pub item: shipwatch_api::DeliveryItem,
    /// Set when the delivery was projected onto a shipment.
    pub shipment: Option<ShipmentChange>,
}

/// How an accepted delivery changed its shipment.
#[derive(Clone, Debug, PartialEq)]
pub struct ShipmentChange {
    pub shipment_id: i64,
    /// The shipment is new.
    pub created: bool,
    /// The tag before and after (equal when nothing changed or the update was stale).
    pub previous_tag: Option<String>,
    pub tag: Option<String>,
    /// The shipment has never had `tag` before this delivery (so a retry or a late older update is
    /// never "first").
    pub tag_first_seen: bool,
    /// The delivery was older than the stored state: its checkpoints were merged, the state kept.
    pub stale: bool,
    /// Built from unverified deliveries (no secret configured).
    pub unverified: bool,
    /// Something a user sees changed: false only for a stale update that brought no new checkpoint
    /// (nothing for the UI to redraw).
    pub changed: bool,
    /// The shipment after the change.
    pub item: shipwatch_api::ShipmentItem,
    /// The delivery moved the shipment's estimated delivery (recorded in its estimate history).
    pub estimate_change: Option<shipwatch_api::EstimateChange>,
}

/// Where the database lives in a data dir.
pub fn db_path(data_dir: &Path) -> PathBuf {
    data_dir.join(DB_FILE)
}

/// A delivery of `body` as the receiver would hand it over (valid signature, parsed), for tests.
#[cfg(test)]
pub(crate) fn test_delivery(body: Vec<u8>) -> writer::PendingInsert {
    let body_copy = body.clone();
    writer::PendingInsert {
        delivery: NewDelivery {
            received_at_ms: 1,
            peer: "127.0.0.1:1".into(),
            forwarded_for: None,
            cf_connecting_ip: None,
            method: "POST".into(),
            path: "/webhooks/aftership".into(),
            headers: Vec::new(),
            body_size: body.len() as i64,
            envelope: shipwatch_aftership::parse_envelope(&body).ok(),
            body,
            body_truncated: false,
            verdict: StoredVerdict::Signature(DeliveryVerdict::Valid(SecretSlot::Current)),
            status: 200,
            parse_error: None,
            diagnosis: None,
        },
        stored: bodies::StoredBlobs {
            headers: b"[]".to_vec(),
            headers_codec: shipwatch_bodies::RAW,
            body: body_copy,
            body_codec: shipwatch_bodies::RAW,
            dictionary_id: None,
        },
    }
}
