//! How a delivery's headers and body are kept: encoded by `shipwatch-bodies` (zstd, with a
//! dictionary trained from the user's own deliveries once there are enough of them) and decoded
//! back to the exact bytes received.
//!
//! - Encoding happens off the writer thread, in [`crate::Store::insert`], with the current
//!   dictionary ([`Bodies`]).
//! - Decoding needs the dictionary a row names. Dictionary ids are random, so one id names one
//!   dictionary in any database: every dictionary read is kept for the whole process, and any
//!   connection (the store's readers, a CLI's read-only one) decodes with them.
//! - Dictionaries live in the `dictionaries` table (migration 8), the newest being the current one.
//!   [`crate::Store::train_dictionary_if_due`] trains the first one from the first
//!   [`TRAIN_AFTER`] deliveries, and a new one every [`RETRAIN_EVERY`] deliveries after it (AfterShip
//!   changes its payloads from one webhook version to the next); rows keep naming the one they were
//!   written with, which is never deleted while they do (a foreign key).

use std::sync::{Arc, OnceLock, RwLock};

use rusqlite::{Connection, OptionalExtension};
use shipwatch_bodies::{Codec, Compressor, Decompressor, Dictionary};

use crate::{NewDelivery, Result, StoreError};

/// Deliveries stored before the first dictionary is trained (bodies are zstd-compressed without
/// one until then).
pub const TRAIN_AFTER: i64 = 1_000;
/// Deliveries stored between one dictionary and the next.
pub const RETRAIN_EVERY: i64 = 200_000;
/// How many of the newest deliveries a dictionary is trained from.
const SAMPLES: i64 = 500;

/// A delivery's headers and body as a row stores them.
#[derive(Clone, Debug)]
pub(crate) struct StoredBlobs {
    pub(crate) headers: Vec<u8>,
    pub(crate) headers_codec: i64,
    pub(crate) body: Vec<u8>,
    pub(crate) body_codec: i64,
    pub(crate) dictionary_id: Option<i64>,
}

impl StoredBlobs {
    /// Reads `headers, headers_codec, body, body_codec, dictionary_id` starting at column `at`.
    pub(crate) fn from_row(r: &rusqlite::Row<'_>, at: usize) -> rusqlite::Result<StoredBlobs> {
        Ok(StoredBlobs {
            headers: blob(r, at)?,
            headers_codec: r.get(at + 1)?,
            body: blob(r, at + 2)?,
            body_codec: r.get(at + 3)?,
            dictionary_id: r.get(at + 4)?,
        })
    }

    /// The headers (JSON) and the body, as received.
    pub(crate) fn decode(self, conn: &Connection) -> Result<(Vec<u8>, Vec<u8>)> {
        Ok((decode(conn, self.headers_codec, self.headers)?, decode(conn, self.body_codec, self.body)?))
    }
}

/// A BLOB column's bytes. A TEXT value is read as its bytes too (migration 8 casts the headers it
/// copies, which were text, to BLOB; a row written some other way still reads).
fn blob(r: &rusqlite::Row<'_>, at: usize) -> rusqlite::Result<Vec<u8>> {
    match r.get_ref(at)? {
        rusqlite::types::ValueRef::Blob(b) | rusqlite::types::ValueRef::Text(b) => Ok(b.to_vec()),
        rusqlite::types::ValueRef::Null => Ok(Vec::new()),
        other => Err(rusqlite::Error::InvalidColumnType(at, "headers/body".into(), other.data_type())),
    }
}

/// The encoder every insert uses: the current dictionary, swapped when a new one is trained.
pub(crate) struct Bodies {
    current: RwLock<Arc<Compressor>>,
}

impl Bodies {
    /// With the newest dictionary of the database, if any.
    pub(crate) fn load(conn: &Connection) -> Result<Bodies> {
        let newest: Option<(i64, Vec<u8>)> = conn
            .query_row(
                "SELECT id, bytes FROM dictionaries ORDER BY created_at DESC, id DESC LIMIT 1",
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?;
        let dict = newest.map(|(id, bytes)| Dictionary { id, bytes });
        Ok(Bodies { current: RwLock::new(Arc::new(compressor(dict.as_ref())?)) })
    }

    pub(crate) fn dictionary_id(&self) -> Option<i64> {
        self.current.read().expect("bodies lock").dictionary_id()
    }

    pub(crate) fn set_dictionary(&self, dict: &Dictionary) -> Result<()> {
        let next = Arc::new(compressor(Some(dict))?);
        *self.current.write().expect("bodies lock") = next;
        Ok(())
    }

    /// Encodes a delivery's headers (as JSON) and body.
    pub(crate) fn encode(&self, d: &NewDelivery) -> StoredBlobs {
        let compressor = self.current.read().expect("bodies lock").clone();
        let headers = serde_json::to_vec(&d.headers).expect("headers serialise");
        let (headers_codec, headers) = encode_one(&compressor, &headers);
        let (body_codec, body) = encode_one(&compressor, &d.body);
        let dictionary_id = [headers_codec, body_codec]
            .into_iter()
            .find_map(|c| Codec::from_column(c).ok().and_then(Codec::dictionary_id));
        StoredBlobs { headers, headers_codec, body, body_codec, dictionary_id }
    }
}

fn compressor(dict: Option<&Dictionary>) -> Result<Compressor> {
    Compressor::new(dict, shipwatch_bodies::DEFAULT_LEVEL).map_err(|e| StoreError::Codec(e.to_string()))
}

/// Compresses `bytes`, or keeps them as they are should compression fail (it only fails for want
/// of memory): a delivery is never refused over it.
fn encode_one(compressor: &Compressor, bytes: &[u8]) -> (i64, Vec<u8>) {
    match compressor.compress(bytes) {
        Ok(encoded) => encoded,
        Err(e) => {
            tracing::warn!(error = %e, "cannot compress a delivery; stored as received");
            (shipwatch_bodies::RAW, bytes.to_vec())
        }
    }
}

/// Every dictionary this process has read, by id.
fn decoder() -> &'static RwLock<Decompressor> {
    static DECODER: OnceLock<RwLock<Decompressor>> = OnceLock::new();
    DECODER.get_or_init(|| RwLock::new(Decompressor::new([]).expect("an empty decompressor")))
}

/// The bytes `stored` encodes with `codec`, reading its dictionary from `conn` the first time.
pub(crate) fn decode(conn: &Connection, codec: i64, stored: Vec<u8>) -> Result<Vec<u8>> {
    if codec == shipwatch_bodies::RAW {
        return Ok(stored);
    }
    let codec_err = |e: shipwatch_bodies::BodiesError| StoreError::Codec(e.to_string());
    if let Some(id) = Codec::from_column(codec).map_err(codec_err)?.dictionary_id() {
        let known = decoder().read().expect("decoder lock").has_dictionary(id);
        if !known {
            let bytes: Vec<u8> = conn
                .prepare_cached("SELECT bytes FROM dictionaries WHERE id = ?1")?
                .query_row([id], |r| r.get(0))
                .optional()?
                .ok_or_else(|| StoreError::Codec(format!("dictionary {id} is not in the database")))?;
            decoder().write().expect("decoder lock").add(&Dictionary { id, bytes }).map_err(codec_err)?;
        }
    }
    decoder().read().expect("decoder lock").decompress(codec, &stored).map_err(codec_err)
}

/// The body of delivery `id`, as received; `None` when there is no such delivery.
pub(crate) fn body_of(conn: &Connection, id: i64) -> Result<Option<Vec<u8>>> {
    let stored: Option<(i64, Vec<u8>)> = conn
        .prepare_cached("SELECT body_codec, body FROM deliveries WHERE id = ?1")?
        .query_row([id], |r| Ok((r.get(0)?, blob(r, 1)?)))
        .optional()?;
    stored.map(|(codec, body)| decode(conn, codec, body)).transpose()
}

/// Whether a dictionary is due: none yet and [`TRAIN_AFTER`] deliveries stored, or
/// [`RETRAIN_EVERY`] stored since the current one. Returns the samples to train it from (the newest
/// accepted deliveries' bodies, decoded).
pub(crate) fn samples_if_due(conn: &Connection, current: Option<i64>) -> Result<Option<Vec<Vec<u8>>>> {
    let since: i64 = match current {
        None => conn.query_row("SELECT value FROM counters WHERE name = 'deliveries'", [], |r| r.get(0))?,
        Some(id) => conn.query_row(
            "SELECT count(*) FROM deliveries WHERE received_at >= (SELECT created_at FROM dictionaries WHERE id = ?1)",
            [id],
            |r| r.get(0),
        )?,
    };
    let due = if current.is_none() { TRAIN_AFTER } else { RETRAIN_EVERY };
    if since < due {
        return Ok(None);
    }
    // Bodies, and the headers of a fifth of them: headers repeat from one delivery to the next
    // (names, the user agent, the host) but are too short to compress on their own.
    let rows: Vec<(i64, Vec<u8>, i64, Vec<u8>)> = conn
        .prepare(
            "SELECT body_codec, body, headers_codec, headers FROM deliveries
             WHERE verdict IN ('valid', 'unverified') AND duplicate_of IS NULL
             ORDER BY id DESC LIMIT ?1",
        )?
        .query_map([SAMPLES], |r| Ok((r.get(0)?, blob(r, 1)?, r.get(2)?, blob(r, 3)?)))?
        .collect::<rusqlite::Result<_>>()?;
    let samples: Vec<Vec<u8>> = rows
        .into_iter()
        .enumerate()
        .flat_map(|(i, (body_codec, body, headers_codec, headers))| {
            let headers = (i % 5 == 0).then_some((headers_codec, headers));
            std::iter::once((body_codec, body)).chain(headers)
        })
        .filter_map(|(codec, stored)| decode(conn, codec, stored).ok())
        .filter(|b| b.len() >= 64)
        .collect();
    Ok((samples.len() >= shipwatch_bodies::MIN_SAMPLES).then_some(samples))
}

/// A new dictionary id: random, positive.
pub(crate) fn new_dictionary_id() -> i64 {
    use std::hash::BuildHasher;
    let random = std::collections::hash_map::RandomState::new().hash_one(std::time::SystemTime::now());
    ((random >> 1) as i64).clamp(1, shipwatch_bodies::MAX_DICTIONARY_ID)
}
