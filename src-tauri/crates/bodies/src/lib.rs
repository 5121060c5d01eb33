//! Compression of stored delivery bodies and headers.
//!
//! This crate owns how a delivery's bytes are turned into what the store keeps, and back: zstd
//! ([`zstd`] crate, libzstd), optionally with a dictionary trained from the user's own deliveries
//! ([`train`]). It knows nothing about SQLite; the store keeps, per stored blob, a *codec* column
//! (an `i64`, see [`Codec`]) beside the stored bytes, and keeps the dictionaries in a table as
//! [`Dictionary`] rows (`id`, `bytes`).
//!
//! # Codec column
//!
//! | column value | meaning                                                     |
//! |--------------|-------------------------------------------------------------|
//! | `0` ([`RAW`])  | stored as is                                              |
//! | `1` ([`ZSTD`]) | one zstd frame, no dictionary                             |
//! | `n >= 2`     | one zstd frame made with the dictionary whose id is `n - 1` |
//! | `n < 0`      | reserved; [`Decompressor::decompress`] refuses it           |
//!
//! So dictionary ids are positive (`1..=`[`MAX_DICTIONARY_ID`]), like SQLite rowids; dictionary 1
//! is codec 2. A dictionary, once rows refer to it, must be kept for as long as they do: the
//! [`Decompressor`] needs every dictionary any stored row names, while the [`Compressor`] uses
//! only the current one.
//!
//! # Frames
//!
//! Every frame records its decompressed size and a checksum of the content (4 bytes), so
//! [`Decompressor::decompress`] refuses a body that would decompress past its bound before
//! allocating for it, and detects corruption instead of handing back wrong bytes. A frame made
//! with a dictionary also records zstd's own id of that dictionary, so decompressing with a
//! different dictionary fails rather than producing garbage.
//!
//! # Thread safety
//!
//! [`Compressor`] and [`Decompressor`] are `Send + Sync` and take `&self`: share them in an `Arc`.
//! The prepared dictionaries are immutable and shared; zstd's per-call working state (a context)
//! is taken from a small pool, so concurrent calls do not wait for each other and a call does not
//! pay for allocating a context.
#![forbid(unsafe_code)]

use std::collections::HashMap;
use std::fmt;
use std::io;
use std::sync::{Mutex, PoisonError};

use zstd::dict::{DecoderDictionary, EncoderDictionary};
use zstd::zstd_safe::{self, zstd_sys::ZSTD_ErrorCode, CParameter, DCtx, DDict, ErrorCode};

/// Codec column value: stored as is.
pub const RAW: i64 = 0;
/// Codec column value: one zstd frame, no dictionary.
pub const ZSTD: i64 = 1;
/// The largest dictionary id the codec column can name (its codec is `i64::MAX`).
pub const MAX_DICTIONARY_ID: i64 = i64::MAX - 1;

/// The compression level to use. Measured on AfterShip-shaped bodies (`tests/figures.rs`, release
/// build, one core of a small machine, ~5 KB bodies, 64 KiB dictionary): level 3 compresses one in
/// about 11 µs to a mean of ~500 bytes; level 1 is no faster and 12% larger; level 9 takes ~80 µs
/// (7x) for ~21% less. Without a dictionary, level 3 takes ~28 µs and stores ~3x as much.
pub const DEFAULT_LEVEL: i32 = 3;
/// The dictionary size to train (`max_size` of [`train`]). On AfterShip-shaped bodies, 64 KiB
/// stores ~10% less than 16 KiB and the same as 112 KiB, which needs more samples.
pub const DEFAULT_DICTIONARY_SIZE: usize = 64 * 1024;
/// The fewest (non-empty) samples [`train`] accepts.
pub const MIN_SAMPLES: usize = 100;
/// [`train`] wants at least this many bytes of samples per byte of dictionary asked for: with
/// less, zstd still returns a dictionary, but a poor one (on AfterShip-shaped bodies, 5-7x gave
/// bodies ~75% larger than 10x and more did).
pub const MIN_SAMPLE_BYTES_PER_DICTIONARY_BYTE: usize = 10;
/// The most a body may decompress to, by default: the store's bodies are at most 1 MiB plus
/// headers, so this leaves a wide margin while refusing a decompression bomb.
pub const DEFAULT_MAX_DECOMPRESSED_SIZE: usize = 16 * 1024 * 1024;

/// Contexts kept for reuse by a [`Compressor`] or [`Decompressor`]; more concurrent calls than
/// this still work, they allocate a context and drop it after.
const POOL_SIZE: usize = 4;

/// Errors of this crate.
#[derive(Debug, thiserror::Error)]
pub enum BodiesError {
    /// The compression level is outside what zstd accepts.
    #[error("compression level {level} is outside zstd's range {min}..={max}")]
    InvalidLevel { level: i32, min: i32, max: i32 },
    /// A dictionary id the codec column cannot carry.
    #[error("dictionary id {0} is invalid: dictionary ids are 1..={MAX_DICTIONARY_ID}")]
    InvalidDictionaryId(i64),
    /// zstd could not prepare a dictionary from its bytes.
    #[error("dictionary {id} could not be prepared by zstd: {source}")]
    InvalidDictionary { id: i64, source: io::Error },
    /// A codec column value this crate does not know.
    #[error("unknown codec {0} (known: 0 raw, 1 zstd, n >= 2 zstd with dictionary n - 1)")]
    UnknownCodec(i64),
    /// The body names a dictionary the [`Decompressor`] was not given.
    #[error("the body was compressed with dictionary {0}, which is not loaded")]
    UnknownDictionary(i64),
    /// The body would decompress to more than the bound.
    #[error("the body decompresses to more than {limit} bytes; refused")]
    TooLarge { limit: usize },
    /// The stored bytes are not a valid zstd frame for this codec (corrupt, truncated, or made
    /// with another dictionary).
    #[error("the stored body could not be decompressed ({codec}): {source}")]
    Corrupt { codec: Codec, source: io::Error },
    /// zstd failed to compress (out of memory, in practice).
    #[error("compression failed: {0}")]
    Compress(io::Error),
    /// Not enough samples to train a dictionary.
    #[error("{got} samples are too few to train a dictionary; at least {needed} are needed")]
    TooFewSamples { got: usize, needed: usize },
    /// Not enough sample bytes for the dictionary size asked for.
    #[error(
        "{got} bytes of samples are too few to train a dictionary of {max_size} bytes; \
         at least {needed} are needed"
    )]
    TooLittleSampleData { got: usize, needed: usize, max_size: usize },
    /// zstd's trainer failed (for example: samples too small or too alike for the size asked).
    #[error("dictionary training failed: {0}")]
    Training(io::Error),
}

/// This crate's result type.
pub type Result<T, E = BodiesError> = std::result::Result<T, E>;

/// What a codec column value means; see the crate docs for the numbering.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Codec {
    /// Stored as is (column `0`).
    Raw,
    /// zstd without dictionary (column `1`).
    Zstd,
    /// zstd with the dictionary of this id (column `id + 1`).
    ZstdDict(i64),
}

impl Codec {
    /// The codec column value. Errs only for a `ZstdDict` id outside
    /// `1..=`[`MAX_DICTIONARY_ID`].
    pub fn to_column(self) -> Result<i64> {
        match self {
            Codec::Raw => Ok(RAW),
            Codec::Zstd => Ok(ZSTD),
            Codec::ZstdDict(id) => {
                check_dictionary_id(id)?;
                Ok(id + 1)
            }
        }
    }

    /// Reads a codec column value. Errs on a negative value.
    pub fn from_column(column: i64) -> Result<Codec> {
        match column {
            RAW => Ok(Codec::Raw),
            ZSTD => Ok(Codec::Zstd),
            n if n >= 2 => Ok(Codec::ZstdDict(n - 1)),
            n => Err(BodiesError::UnknownCodec(n)),
        }
    }

    /// The dictionary this codec needs, if any.
    pub fn dictionary_id(self) -> Option<i64> {
        match self {
            Codec::ZstdDict(id) => Some(id),
            Codec::Raw | Codec::Zstd => None,
        }
    }
}

impl fmt::Display for Codec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Codec::Raw => f.write_str("raw"),
            Codec::Zstd => f.write_str("zstd"),
            Codec::ZstdDict(id) => write!(f, "zstd with dictionary {id}"),
        }
    }
}

fn check_dictionary_id(id: i64) -> Result<()> {
    if (1..=MAX_DICTIONARY_ID).contains(&id) {
        Ok(())
    } else {
        Err(BodiesError::InvalidDictionaryId(id))
    }
}

/// A dictionary as stored in a table: its id (see the codec column) and the bytes [`train`]
/// returned.
#[derive(Clone, PartialEq, Eq)]
pub struct Dictionary {
    pub id: i64,
    pub bytes: Vec<u8>,
}

impl fmt::Debug for Dictionary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Dictionary").field("id", &self.id).field("len", &self.bytes.len()).finish()
    }
}

/// A small pool of reusable zstd contexts: a call takes one (or makes one when none is free) and
/// puts it back after, so concurrent calls never wait on each other's work.
struct Pool<T> {
    free: Mutex<Vec<T>>,
}

impl<T> Pool<T> {
    fn new() -> Self {
        Pool { free: Mutex::new(Vec::new()) }
    }

    fn take(&self) -> Option<T> {
        // Nothing panics while the lock is held, but a poisoned pool is still just a list.
        self.free.lock().unwrap_or_else(PoisonError::into_inner).pop()
    }

    fn give_back(&self, item: T) {
        let mut free = self.free.lock().unwrap_or_else(PoisonError::into_inner);
        if free.len() < POOL_SIZE {
            free.push(item);
        }
    }
}

/// Compresses bodies with the current dictionary, or without one.
pub struct Compressor {
    level: i32,
    dictionary: Option<(i64, EncoderDictionary<'static>)>,
    pool: Pool<zstd::bulk::Compressor<'static>>,
}

impl fmt::Debug for Compressor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Compressor")
            .field("level", &self.level)
            .field("dictionary_id", &self.dictionary_id())
            .finish()
    }
}

impl Compressor {
    /// A compressor at `level` (zstd's range, e.g. [`DEFAULT_LEVEL`]; `0` is zstd's default, 3),
    /// using `current` for every body when given. Errs on a level zstd does not accept, an
    /// invalid dictionary id, or bytes zstd cannot prepare as a dictionary.
    pub fn new(current: Option<&Dictionary>, level: i32) -> Result<Self> {
        let range = zstd::compression_level_range();
        if !range.contains(&level) {
            return Err(BodiesError::InvalidLevel { level, min: *range.start(), max: *range.end() });
        }
        let dictionary = match current {
            None => None,
            Some(dict) => {
                check_dictionary_id(dict.id)?;
                let prepared = EncoderDictionary::try_copy(&dict.bytes, level)
                    .map_err(|source| BodiesError::InvalidDictionary { id: dict.id, source })?;
                Some((dict.id, prepared))
            }
        };
        let compressor = Compressor { level, dictionary, pool: Pool::new() };
        // Make one context now: it checks the setup, and the first body does not pay for it.
        let context = compressor.new_context()?;
        compressor.pool.give_back(context);
        Ok(compressor)
    }

    fn new_context(&self) -> Result<zstd::bulk::Compressor<'static>> {
        let mut context = match &self.dictionary {
            Some((_, prepared)) => zstd::bulk::Compressor::with_prepared_dictionary(prepared),
            None => zstd::bulk::Compressor::new(self.level),
        }
        .map_err(BodiesError::Compress)?;
        context
            .set_parameter(CParameter::ChecksumFlag(true))
            .and_then(|()| context.set_parameter(CParameter::ContentSizeFlag(true)))
            .and_then(|()| context.set_parameter(CParameter::DictIdFlag(true)))
            .map_err(BodiesError::Compress)?;
        Ok(context)
    }

    /// Compresses `bytes`; returns (codec column value, stored bytes). Falls back to [`RAW`] (the
    /// bytes as they are) when compression does not make them smaller: empty and tiny bodies,
    /// random or already compressed binary.
    pub fn compress(&self, bytes: &[u8]) -> Result<(i64, Vec<u8>)> {
        if bytes.is_empty() {
            return Ok((RAW, Vec::new()));
        }
        let mut context = match self.pool.take() {
            Some(context) => context,
            None => self.new_context()?,
        };
        // A frame no smaller than the input is of no use, so that is all the room zstd gets;
        // running out of it means "store raw".
        let mut frame = Vec::with_capacity(bytes.len() - 1);
        let result = context.compress_to_buffer(bytes, &mut frame);
        // The context resets itself after a failed frame, so it is reusable either way.
        self.pool.give_back(context);
        match result {
            Ok(_) => {
                frame.shrink_to_fit();
                let codec = match &self.dictionary {
                    Some((id, _)) => id + 1,
                    None => ZSTD,
                };
                Ok((codec, frame))
            }
            Err(e) if is_dst_too_small(&e) => Ok((RAW, bytes.to_vec())),
            Err(e) => Err(BodiesError::Compress(e)),
        }
    }

    /// The id of the dictionary new bodies are compressed with, if any.
    pub fn dictionary_id(&self) -> Option<i64> {
        self.dictionary.as_ref().map(|(id, _)| *id)
    }

    /// The compression level.
    pub fn level(&self) -> i32 {
        self.level
    }
}

/// Decompresses bodies made with no dictionary or any of the dictionaries it was given.
pub struct Decompressor {
    dictionaries: HashMap<i64, DecoderDictionary<'static>>,
    max_size: usize,
    pool: Pool<DCtx<'static>>,
}

impl fmt::Debug for Decompressor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut ids: Vec<_> = self.dictionaries.keys().copied().collect();
        ids.sort_unstable();
        f.debug_struct("Decompressor")
            .field("dictionary_ids", &ids)
            .field("max_size", &self.max_size)
            .finish()
    }
}

impl Decompressor {
    /// A decompressor knowing `dicts`, refusing bodies over [`DEFAULT_MAX_DECOMPRESSED_SIZE`].
    pub fn new(dicts: impl IntoIterator<Item = Dictionary>) -> Result<Self> {
        let mut decompressor = Decompressor {
            dictionaries: HashMap::new(),
            max_size: DEFAULT_MAX_DECOMPRESSED_SIZE,
            pool: Pool::new(),
        };
        for dict in dicts {
            decompressor.add(&dict)?;
        }
        Ok(decompressor)
    }

    /// Sets the most a body may decompress to (default [`DEFAULT_MAX_DECOMPRESSED_SIZE`]).
    pub fn with_max_size(mut self, max_size: usize) -> Self {
        self.max_size = max_size;
        self
    }

    /// The most a body may decompress to.
    pub fn max_size(&self) -> usize {
        self.max_size
    }

    /// Adds (or replaces) a dictionary.
    pub fn add(&mut self, dict: &Dictionary) -> Result<()> {
        check_dictionary_id(dict.id)?;
        let prepared = DecoderDictionary::try_copy(&dict.bytes)
            .map_err(|source| BodiesError::InvalidDictionary { id: dict.id, source })?;
        self.dictionaries.insert(dict.id, prepared);
        Ok(())
    }

    /// Whether the dictionary `id` is loaded.
    pub fn has_dictionary(&self, id: i64) -> bool {
        self.dictionaries.contains_key(&id)
    }

    /// The exact original bytes of a body stored as (`codec`, `stored`). Errs, never panics, on
    /// an unknown codec or dictionary, corrupt or truncated data, data made with another
    /// dictionary, or a body that would decompress past [`Decompressor::max_size`].
    pub fn decompress(&self, codec: i64, stored: &[u8]) -> Result<Vec<u8>> {
        let codec = Codec::from_column(codec)?;
        let ddict = match codec {
            Codec::Raw => return Ok(stored.to_vec()),
            Codec::Zstd => None,
            Codec::ZstdDict(id) => {
                Some(self.dictionaries.get(&id).ok_or(BodiesError::UnknownDictionary(id))?.as_ddict())
            }
        };
        let corrupt = |source| BodiesError::Corrupt { codec, source };
        if stored.is_empty() {
            return Err(corrupt(io::Error::new(io::ErrorKind::UnexpectedEof, "no data")));
        }
        // Every frame this crate makes records its size: refuse a bomb before allocating for it,
        // and allocate exactly. A frame without a recorded size (not made here) gets the bound as
        // room, and fails when it needs more.
        let capacity = match zstd::bulk::Decompressor::upper_bound(stored) {
            Some(size) if size > self.max_size => return Err(BodiesError::TooLarge { limit: self.max_size }),
            Some(size) => size,
            None => self.max_size,
        };
        let mut out = Vec::new();
        out.try_reserve_exact(capacity).map_err(|_| corrupt(io::Error::from(io::ErrorKind::OutOfMemory)))?;
        let mut context = match self.pool.take() {
            Some(context) => context,
            None => DCtx::try_create().ok_or_else(|| corrupt(io::Error::from(io::ErrorKind::OutOfMemory)))?,
        };
        let result = decompress_with(&mut context, &mut out, stored, ddict);
        self.pool.give_back(context);
        match result {
            Ok(_) => Ok(out),
            // Only a frame without a recorded size can run out of room: it wanted more than the
            // bound.
            Err(code) if zstd_safe::is_error_kind(code, ZSTD_ErrorCode::ZSTD_error_dstSize_tooSmall) => {
                Err(BodiesError::TooLarge { limit: self.max_size })
            }
            Err(code) => Err(corrupt(zstd_code_error(code))),
        }
    }
}

fn decompress_with(
    context: &mut DCtx<'static>,
    out: &mut Vec<u8>,
    stored: &[u8],
    ddict: Option<&DDict<'static>>,
) -> Result<usize, ErrorCode> {
    match ddict {
        Some(ddict) => context.decompress_using_ddict(out, stored, ddict),
        None => context.decompress(out, stored),
    }
}

/// Whether a compression error (from the `zstd` crate) is zstd's "destination buffer too small".
fn is_dst_too_small(error: &io::Error) -> bool {
    error
        .get_ref()
        .and_then(|inner| inner.downcast_ref::<zstd::Error>())
        .is_some_and(|e| e.is(ZSTD_ErrorCode::ZSTD_error_dstSize_tooSmall))
}

/// A zstd error code (from `zstd_safe`) as an `io::Error` with zstd's message.
fn zstd_code_error(code: ErrorCode) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, zstd_safe::get_error_name(code))
}

/// Trains a dictionary from sample bodies with zstd's trainer (`zstd::dict::from_samples`);
/// `max_size` is the most it may be (e.g. [`DEFAULT_DICTIONARY_SIZE`]; the result may be
/// smaller).
///
/// Samples needed: at least [`MIN_SAMPLES`] non-empty ones, and at least
/// [`MIN_SAMPLE_BYTES_PER_DICTIONARY_BYTE`] times `max_size` bytes of them in all (640 KiB for the
/// default size: ~100 deliveries of 5-7 KB); otherwise this errs. More helps a little: on
/// AfterShip-shaped bodies, 200 to 2,000 samples all gave bodies within ~2% of each other, so a
/// few hundred recent deliveries (e.g. 500) are plenty. Errs too when zstd's trainer fails.
///
/// Training is CPU work (~0.3 s for 500 bodies of ~7 KB in a release build): keep it off the
/// writer and async threads (e.g. `spawn_blocking`).
pub fn train(samples: &[Vec<u8>], max_size: usize) -> Result<Vec<u8>> {
    let samples: Vec<&[u8]> = samples.iter().map(Vec::as_slice).filter(|s| !s.is_empty()).collect();
    if samples.len() < MIN_SAMPLES {
        return Err(BodiesError::TooFewSamples { got: samples.len(), needed: MIN_SAMPLES });
    }
    let total: usize = samples.iter().map(|s| s.len()).sum();
    let needed = max_size.saturating_mul(MIN_SAMPLE_BYTES_PER_DICTIONARY_BYTE);
    if total < needed {
        return Err(BodiesError::TooLittleSampleData { got: total, needed, max_size });
    }
    zstd::dict::from_samples(&samples, max_size).map_err(BodiesError::Training)
}
