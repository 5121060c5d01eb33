//! The forward queue (forward mode): which deliveries go to the developer's URL, each attempt's
//! outcome, and what is due. Rows are written by the writer in the same transactions as the
//! watermark, so a crash never loses or doubles a queued forward.

use rusqlite::{params, Connection, OptionalExtension, Row};
use shipwatch_api::ForwardAttempt;

use crate::queries::rfc3339_ms;
use crate::{meta, Result};

/// A queued forward to attempt.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ForwardJob {
    pub id: i64,
    pub delivery_id: i64,
    pub target: String,
    pub attempts: u32,
    /// When it was queued (Unix ms).
    pub created_at_ms: i64,
}

/// The outcome of one attempt.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AttemptOutcome {
    pub at_ms: i64,
    pub status: Option<u16>,
    pub error: Option<String>,
    pub round_trip_ms: Option<u64>,
    /// `delivered`, `retrying` or `gave_up`.
    pub state: &'static str,
    /// When to try again (`retrying`).
    pub next_attempt_at_ms: Option<i64>,
}

/// Starts forwarding from the newest delivery on (history is not forwarded).
pub fn start_from_now(conn: &Connection) -> Result<()> {
    let max: i64 = conn.query_row("SELECT coalesce(max(id), 0) FROM deliveries", [], |r| r.get(0))?;
    meta::set(conn, meta::FORWARD_WATERMARK, &max.to_string())
}

/// Queues every delivery received since the watermark that forward mode takes (valid ones; failing
/// ones too with `include_failing`; never duplicates or truncated bodies) and moves the watermark.
/// Returns how many were queued.
pub fn enqueue_new(conn: &Connection, target: &str, include_failing: bool, now_ms: i64) -> Result<usize> {
    let watermark: i64 = match meta::get(conn, meta::FORWARD_WATERMARK)? {
        Some(v) => v.parse().unwrap_or(0),
        None => {
            start_from_now(conn)?;
            return Ok(0);
        }
    };
    let max: i64 = conn.query_row("SELECT coalesce(max(id), 0) FROM deliveries", [], |r| r.get(0))?;
    if max <= watermark {
        return Ok(0);
    }
    let n = conn
        .prepare_cached(
            "INSERT INTO forwards (delivery_id, target, state, next_attempt_at, created_at)
             SELECT id, ?1, 'pending', ?2, ?2 FROM deliveries
             WHERE id > ?3 AND id <= ?4 AND duplicate_of IS NULL AND body_truncated = 0
               AND (verdict IN ('valid', 'unverified')
                    OR (?5 AND verdict IN ('invalid', 'missing', 'malformed')))
             ORDER BY id",
        )?
        .execute(params![target, now_ms, watermark, max, include_failing])?;
    meta::set(conn, meta::FORWARD_WATERMARK, &max.to_string())?;
    Ok(n)
}

/// Forwards whose time has come, oldest first.
pub fn due(conn: &Connection, now_ms: i64, limit: usize) -> Result<Vec<ForwardJob>> {
    let mut stmt = conn.prepare_cached(
        "SELECT id, delivery_id, target, attempts, created_at FROM forwards
         WHERE state IN ('pending', 'retrying') AND next_attempt_at <= ?1
         ORDER BY next_attempt_at, id LIMIT ?2",
    )?;
    let rows = stmt.query_map(params![now_ms, limit as i64], |r| {
        Ok(ForwardJob {
            id: r.get(0)?,
            delivery_id: r.get(1)?,
            target: r.get(2)?,
            attempts: r.get(3)?,
            created_at_ms: r.get(4)?,
        })
    })?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// When the next queued forward is due, if any.
pub fn next_due_at(conn: &Connection) -> Result<Option<i64>> {
    Ok(conn.query_row(
        "SELECT min(next_attempt_at) FROM forwards WHERE state IN ('pending', 'retrying')",
        [],
        |r| r.get(0),
    )?)
}

/// Records an attempt and returns the forward as the UI shows it.
pub fn record_attempt(conn: &Connection, id: i64, o: &AttemptOutcome) -> Result<ForwardAttempt> {
    conn.prepare_cached(
        "UPDATE forwards SET attempts = attempts + 1, state = ?2, status = ?3, error = ?4, last_attempt_at = ?5,
            next_attempt_at = coalesce(?6, next_attempt_at), round_trip_ms = ?7
         WHERE id = ?1",
    )?
    .execute(params![id, o.state, o.status, o.error, o.at_ms, o.next_attempt_at_ms, o.round_trip_ms.map(|v| v as i64)])?;
    attempt(conn, id)
}

/// Gives up every queued forward (forward mode turned off), saying why.
pub fn cancel_queued(conn: &Connection, reason: &str) -> Result<usize> {
    Ok(conn
        .prepare_cached(
            "UPDATE forwards SET state = 'gave_up', error = ?1 WHERE state IN ('pending', 'retrying')",
        )?
        .execute([reason])?)
}

fn attempt_row(r: &Row<'_>) -> rusqlite::Result<ForwardAttempt> {
    let state: String = r.get(2)?;
    Ok(ForwardAttempt {
        delivery_id: r.get(0)?,
        target: r.get(1)?,
        attempts: r.get(3)?,
        status: r.get(4)?,
        error: r.get(5)?,
        last_attempt_at: r.get::<_, Option<i64>>(6)?.map(rfc3339_ms),
        next_attempt_at: if state == "retrying" { Some(rfc3339_ms(r.get(7)?)) } else { None },
        round_trip_ms: r.get::<_, Option<i64>>(8)?.map(|v| v as u64),
        state,
    })
}

const ATTEMPT_COLUMNS: &str =
    "delivery_id, target, state, attempts, status, error, last_attempt_at, next_attempt_at, round_trip_ms";

pub fn attempt(conn: &Connection, id: i64) -> Result<ForwardAttempt> {
    conn.prepare_cached(&format!("SELECT {ATTEMPT_COLUMNS} FROM forwards WHERE id = ?1"))?
        .query_row([id], attempt_row)
        .optional()?
        .ok_or(crate::StoreError::NotFound)
}

/// The forwards of one delivery, oldest first.
pub fn for_delivery(conn: &Connection, delivery_id: i64) -> Result<Vec<ForwardAttempt>> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {ATTEMPT_COLUMNS} FROM forwards WHERE delivery_id = ?1 ORDER BY id"
    ))?;
    let rows = stmt.query_map([delivery_id], attempt_row)?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// The query of [`latest_for_delivery`]: a delivery's newest forward, read through the index
/// `forwards_delivery` (public for the query-plan tests).
pub const LATEST_FOR_DELIVERY: &str =
    "SELECT delivery_id, target, state, attempts, status, error, last_attempt_at, next_attempt_at, round_trip_ms
     FROM forwards WHERE delivery_id = ?1 ORDER BY id DESC LIMIT 1";

/// How long an error may be in a list item (the delivery page shows it whole).
pub const SHORT_ERROR_CHARS: usize = 120;

/// `error` cut to [`SHORT_ERROR_CHARS`] characters (an ellipsis marks the cut).
pub fn short_error(error: &str) -> String {
    let error = error.trim();
    match error.char_indices().nth(SHORT_ERROR_CHARS) {
        Some((at, _)) => format!("{}…", error[..at].trim_end()),
        None => error.to_owned(),
    }
}

/// The newest forward of delivery `delivery_id`, if it was ever queued for forwarding.
pub fn latest_for_delivery(conn: &Connection, delivery_id: i64) -> Result<Option<ForwardAttempt>> {
    Ok(conn.prepare_cached(LATEST_FOR_DELIVERY)?.query_row([delivery_id], attempt_row).optional()?)
}

/// Sets `forward` of each listed delivery to its newest forward (its error shortened): one lookup
/// per item through `forwards_delivery`, none at all when nothing was ever forwarded.
pub fn fill_list_items(conn: &Connection, items: &mut [shipwatch_api::DeliveryItem]) -> Result<()> {
    if items.is_empty()
        || !conn
            .prepare_cached("SELECT EXISTS (SELECT 1 FROM forwards)")?
            .query_row([], |r| r.get::<_, bool>(0))?
    {
        return Ok(());
    }
    for item in items {
        item.forward = latest_for_delivery(conn, item.id)?.map(|mut f| {
            f.error = f.error.as_deref().map(short_error);
            f
        });
    }
    Ok(())
}

/// Forward mode's queue when its target keeps failing: the oldest queued forward that has failed,
/// and how many are queued.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Failing {
    pub target: String,
    /// When the oldest failing forward was queued (Unix ms): the target has failed since then.
    pub since_ms: i64,
    /// Its attempts so far.
    pub attempts: u32,
    /// Forwards waiting (pending or retrying), to every target.
    pub queued: i64,
    /// Why its last attempt failed, shortened.
    pub error: Option<String>,
    pub status: Option<u16>,
}

/// A failing forward is worth a warning after this many attempts…
pub const FAILING_AFTER_ATTEMPTS: u32 = 3;
/// …or this long after it was queued (ms).
pub const FAILING_AFTER_MS: i64 = 5 * 60 * 1000;

/// The query of [`failing`]: one pass over the queued entries of `forwards_due` (pending and
/// retrying; the delivered and given-up history is not read), giving their number and the oldest
/// that failed (ids follow the order forwards are queued in).
pub const QUEUE_SUMMARY: &str = "SELECT count(*), min(CASE WHEN state = 'retrying' THEN id END)
     FROM forwards WHERE state IN ('pending', 'retrying')";

/// The oldest queued forward that has failed and how many are queued, when it has failed for
/// [`FAILING_AFTER_ATTEMPTS`] attempts or [`FAILING_AFTER_MS`] (the status bar's warning); `None`
/// while the queue is empty or still young.
pub fn failing(conn: &Connection, now_ms: i64) -> Result<Option<Failing>> {
    let (queued, oldest): (i64, Option<i64>) =
        conn.prepare_cached(QUEUE_SUMMARY)?.query_row([], |r| Ok((r.get(0)?, r.get(1)?)))?;
    let Some(oldest) = oldest else { return Ok(None) };
    let found = conn
        .prepare_cached("SELECT target, created_at, attempts, error, status FROM forwards WHERE id = ?1")?
        .query_row([oldest], |r| {
            Ok(Failing {
                target: r.get(0)?,
                since_ms: r.get(1)?,
                attempts: r.get(2)?,
                queued,
                error: r.get::<_, Option<String>>(3)?.as_deref().map(short_error),
                status: r.get(4)?,
            })
        })
        .optional()?;
    Ok(found.filter(|f| f.attempts >= FAILING_AFTER_ATTEMPTS || now_ms - f.since_ms >= FAILING_AFTER_MS))
}

impl Failing {
    /// The status bar's warning: "Forwarding to … has failed since …: N deliveries queued (last
    /// error: …)".
    pub fn warning(&self) -> String {
        let stamp = rfc3339_ms(self.since_ms);
        let since = match (stamp.get(..10), stamp.get(11..19)) {
            (Some(day), Some(time)) => format!("{day} {time} UTC"),
            _ => stamp.clone(),
        };
        let queued = match self.queued {
            1 => "1 delivery queued".to_owned(),
            n => format!("{n} deliveries queued"),
        };
        let error = match (&self.error, self.status) {
            (Some(e), _) => e.clone(),
            (None, Some(status)) => format!("answered {status}"),
            (None, None) => "no answer".to_owned(),
        };
        format!("Forwarding to {} has failed since {since}: {queued} (last error: {error})", self.target)
    }
}
