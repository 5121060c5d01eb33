//! The read side: delivery and shipment lists (newest first, cursor paging), details, counts.
//! Everything returns the API's own types so both transports serve them as they are.

use rusqlite::{params_from_iter, Connection, OptionalExtension, Row};
use shipwatch_api::{
    CheckpointItem, DeliveryItem, DeliveryQuery, DiagnosisCode, EstimateChange, Page, ShipmentItem,
    ShipmentList, ShipmentQuery, TagCount, Verdict,
};

use crate::{NewDelivery, Result, StoreError};

/// Default and largest page sizes.
pub const DEFAULT_LIMIT: u32 = 100;
pub const MAX_LIMIT: u32 = 500;

/// RFC 3339 UTC with milliseconds, e.g. `2026-11-23T16:05:00.123Z`.
///
/// Every delivery stored and listed formats one or two of these: years 1970-9999 are written by hand
/// (a fifth of the time crate's formatting); anything else goes through the time crate.
pub fn rfc3339_ms(ms: i64) -> String {
    const YEAR_10000_MS: i64 = 253_402_300_800_000;
    if !(0..YEAR_10000_MS).contains(&ms) {
        return rfc3339_ms_by_time(ms);
    }
    let (days, ms_of_day) = (ms / 86_400_000, ms % 86_400_000);
    // Days since 1970-01-01 to a civil date (Howard Hinnant's algorithm, for days >= 0).
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    let (hour, minute, second, milli) =
        (ms_of_day / 3_600_000, ms_of_day / 60_000 % 60, ms_of_day / 1000 % 60, ms_of_day % 1000);
    let mut out = [0u8; 24];
    let mut put = |at: usize, value: i64, width: usize| {
        let mut v = value;
        for i in (0..width).rev() {
            out[at + i] = b'0' + (v % 10) as u8;
            v /= 10;
        }
    };
    put(0, year, 4);
    put(5, month, 2);
    put(8, day, 2);
    put(11, hour, 2);
    put(14, minute, 2);
    put(17, second, 2);
    put(20, milli, 3);
    for (at, c) in [(4, b'-'), (7, b'-'), (10, b'T'), (13, b':'), (16, b':'), (19, b'.'), (23, b'Z')] {
        out[at] = c;
    }
    out.iter().map(|&b| char::from(b)).collect()
}

fn rfc3339_ms_by_time(ms: i64) -> String {
    let t = time::OffsetDateTime::from_unix_timestamp_nanos(ms as i128 * 1_000_000)
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
    let f = time::macros::format_description!(
        "[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z"
    );
    t.format(&f).unwrap_or_default()
}

pub fn verdict_from_str(s: &str) -> Verdict {
    match s {
        "valid" => Verdict::Valid,
        "invalid" => Verdict::Invalid,
        "missing" => Verdict::Missing,
        "malformed" => Verdict::Malformed,
        "unverified" => Verdict::Unverified,
        _ => Verdict::TooLarge,
    }
}

pub(crate) fn delivery_item_from_parts(
    id: i64,
    d: &NewDelivery,
    status: u16,
    duplicate: bool,
    shipment_id: Option<i64>,
    title: Option<String>,
) -> DeliveryItem {
    let env = d.envelope.as_ref();
    let msg = env.and_then(|e| e.msg.as_ref());
    DeliveryItem {
        id,
        received_at: rfc3339_ms(d.received_at_ms),
        event_id: env.and_then(|e| e.event_id.clone()),
        event: env.and_then(|e| e.event.as_ref()).map(|e| e.as_str().to_owned()),
        verdict: verdict_from_str(d.verdict.as_str()),
        status,
        duplicate,
        tracking_number: msg.and_then(|m| m.tracking_number.clone()),
        slug: msg.and_then(|m| m.slug.clone()),
        tag: msg.and_then(|m| m.tag.as_ref()).map(|t| t.as_str().to_owned()),
        order_id: msg.and_then(|m| m.order_id.clone()),
        shipment_id,
        size: d.body_size,
        title,
        courier: msg.and_then(|m| m.slug.as_deref()).map(courier_of),
        webhook_version: d.webhook_version().map(str::to_owned),
        test: d.is_test(),
        forward: None,
        diagnosis: d.diagnosis_code(),
    }
}

const ITEM_COLUMNS: &str =
    "id, received_at, event_id, event, verdict, status, duplicate_of, tracking_number, slug, tag,
     order_id, shipment_id, body_size, webhook_version, test,
     (SELECT title FROM shipments WHERE shipments.id = deliveries.shipment_id), diagnosis";
/// How many columns [`ITEM_COLUMNS`] has.
const ITEM_COLUMN_COUNT: usize = 17;

fn delivery_item(r: &Row<'_>) -> rusqlite::Result<DeliveryItem> {
    Ok(DeliveryItem {
        id: r.get(0)?,
        received_at: rfc3339_ms(r.get(1)?),
        event_id: r.get(2)?,
        event: r.get(3)?,
        verdict: verdict_from_str(&r.get::<_, String>(4)?),
        status: r.get(5)?,
        duplicate: r.get::<_, Option<i64>>(6)?.is_some(),
        tracking_number: r.get(7)?,
        slug: r.get(8)?,
        tag: r.get(9)?,
        order_id: r.get(10)?,
        shipment_id: r.get(11)?,
        size: r.get(12)?,
        courier: r.get::<_, Option<String>>(8)?.as_deref().map(courier_of),
        webhook_version: r.get(13)?,
        test: r.get(14)?,
        title: r.get(15)?,
        forward: None,
        // A code this version does not know (stored by a newer one) reads as none.
        diagnosis: r.get::<_, Option<String>>(16)?.as_deref().and_then(DiagnosisCode::parse),
    })
}

/// A `before` that is not a `next` this API handed out.
fn bad_cursor(before: &str) -> String {
    format!(
        "bad cursor {before:?}: pass back the `next` of the previous page unchanged, or leave `before` out for the first page"
    )
}

fn limit_of(limit: Option<u32>) -> u32 {
    limit.unwrap_or(DEFAULT_LIMIT).clamp(1, MAX_LIMIT)
}

/// The statement of [`list_deliveries`], its arguments and the page size (public for the
/// query-plan tests; a cursor is looked up here, so it takes the connection).
pub fn list_deliveries_sql(
    conn: &Connection,
    q: &DeliveryQuery,
) -> Result<(String, Vec<rusqlite::types::Value>, u32)> {
    let (conditions, mut args) = delivery_conditions(q)?;
    // A time range alone (or with a tag, a courier, a passing verdict) walks its index in the
    // list's order, newest received first, the other filters tested on the way: the planner would
    // rather take a tag's index and sort the whole of it. A search, a failed verdict or a
    // diagnosis finds few deliveries through its own index, walked by id as without a range, the
    // range tested on the way (measured at 250,000 stored: a range and `failed` took 54 ms through
    // the time index, a range and a common surname 76 ms sorting every match).
    let by_time = received_range(q)?.is_some() && !narrow_filter(q);
    let table = match by_time {
        true => "deliveries INDEXED BY deliveries_received_at",
        false => "deliveries",
    };
    let mut sql = format!("SELECT {ITEM_COLUMNS} FROM {table} WHERE {conditions}");
    if let Some(before) = q.before.as_deref().filter(|s| !s.is_empty()) {
        let id: i64 = before.parse().map_err(|_| StoreError::BadQuery(bad_cursor(before)))?;
        let received: Option<i64> = match by_time {
            true => conn
                .prepare_cached("SELECT received_at FROM deliveries WHERE id = ?1")?
                .query_row([id], |r| r.get(0))
                .optional()?,
            false => None,
        };
        match received {
            // After the cursor's row in (received_at, id) order, through the time index.
            Some(at) => {
                sql.push_str(" AND received_at <= ? AND (received_at < ? OR id < ?)");
                args.extend([at.into(), at.into(), id.into()]);
            }
            None => {
                sql.push_str(" AND id < ?");
                args.push(id.into());
            }
        }
    }
    let limit = limit_of(q.limit);
    let order = if by_time { "received_at DESC, id DESC" } else { "id DESC" };
    sql.push_str(&format!(" ORDER BY {order} LIMIT {}", limit + 1));
    Ok((sql, args, limit))
}

/// Newest first; `before` is the id cursor of the previous page. With a received-time range
/// (`since`/`until`) and no narrower filter the list walks `deliveries_received_at` backwards:
/// newest received first (ties by id), so that a range of an hour in a year of history reads that
/// hour only.
pub fn list_deliveries(conn: &Connection, q: &DeliveryQuery) -> Result<Page<DeliveryItem>> {
    let (sql, args, limit) = list_deliveries_sql(conn, q)?;
    let mut stmt = conn.prepare_cached(&sql)?;
    let mut items: Vec<DeliveryItem> =
        stmt.query_map(params_from_iter(args), delivery_item)?.collect::<rusqlite::Result<_>>()?;
    let next = if items.len() > limit as usize {
        items.truncate(limit as usize);
        items.last().map(|i| i.id.to_string())
    } else {
        None
    };
    crate::forwards::fill_list_items(conn, &mut items)?;
    Ok(Page { items, next })
}

/// A `since`/`until` value as Unix ms: RFC 3339 (any offset), or a date `YYYY-MM-DD` read as
/// its start in UTC, or (`end_of_day`, for `until`) the start of the next day, so that
/// `until=2026-12-08` takes in all of that day.
pub fn parse_time_bound(name: &str, value: &str, end_of_day: bool) -> Result<i64> {
    use time::format_description::well_known::Rfc3339;
    let v = value.trim();
    if let Ok(t) = time::OffsetDateTime::parse(v, &Rfc3339) {
        return Ok((t.unix_timestamp_nanos() / 1_000_000) as i64);
    }
    let day = time::macros::format_description!("[year]-[month]-[day]");
    if let Ok(d) = time::Date::parse(v, &day) {
        let d = if end_of_day { d.next_day().unwrap_or(d) } else { d };
        return Ok(d.midnight().assume_utc().unix_timestamp() * 1000);
    }
    Err(StoreError::BadQuery(format!(
        "bad {name} {value:?}: use RFC 3339 (2026-12-08T09:30:00Z, or with an offset such as +01:00) or a date (2026-12-08)"
    )))
}

/// Whether the query has a filter with a small index of its own (a search, a failed verdict, a
/// diagnosis), which a received-time range then only tests (see [`list_deliveries_sql`]).
fn narrow_filter(q: &DeliveryQuery) -> bool {
    let set = |v: &Option<String>| v.as_deref().is_some_and(|t| !t.trim().is_empty());
    set(&q.q)
        || set(&q.diagnosis)
        || matches!(q.verdict.as_deref(), Some("failed" | "invalid" | "missing" | "malformed" | "too_large"))
}

/// The received-time range of a query, `[since, until)` in Unix ms, when it has one.
pub fn received_range(q: &DeliveryQuery) -> Result<Option<(Option<i64>, Option<i64>)>> {
    let since = q.since.as_deref().filter(|s| !s.trim().is_empty());
    let until = q.until.as_deref().filter(|s| !s.trim().is_empty());
    if since.is_none() && until.is_none() {
        return Ok(None);
    }
    let since = since.map(|v| parse_time_bound("since", v, false)).transpose()?;
    let until = until.map(|v| parse_time_bound("until", v, true)).transpose()?;
    Ok(Some((since, until)))
}

/// Everything stored about one delivery.
#[derive(Clone, Debug)]
pub struct DeliveryRecord {
    pub item: DeliveryItem,
    pub method: String,
    pub path: String,
    pub peer: String,
    pub forwarded_for: Option<String>,
    pub cf_connecting_ip: Option<String>,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    pub body_truncated: bool,
    /// `current` / `previous` for a valid delivery.
    pub secret: Option<String>,
    pub parse_error: Option<String>,
    pub projection: Option<String>,
    pub duplicate_of: Option<i64>,
}

/// `Ok(())` when delivery `id` is stored, [`StoreError::NotFound`] otherwise.
pub fn delivery_exists(conn: &Connection, id: i64) -> Result<()> {
    match conn.prepare_cached("SELECT 1 FROM deliveries WHERE id = ?1")?.exists([id])? {
        true => Ok(()),
        false => Err(StoreError::NotFound),
    }
}

pub fn get_delivery(conn: &Connection, id: i64) -> Result<DeliveryRecord> {
    let (mut record, stored) = conn
        .prepare_cached(&format!(
            "SELECT {ITEM_COLUMNS}, method, path, peer, forwarded_for, cf_connecting_ip, body_truncated, secret,
                parse_error, projection, duplicate_of, headers, headers_codec, body, body_codec, dictionary_id
             FROM deliveries WHERE id = ?1"
        ))?
        .query_row([id], |r| {
            let record = DeliveryRecord {
                item: delivery_item(r)?,
                method: r.get(ITEM_COLUMN_COUNT)?,
                path: r.get(ITEM_COLUMN_COUNT + 1)?,
                peer: r.get(ITEM_COLUMN_COUNT + 2)?,
                forwarded_for: r.get(ITEM_COLUMN_COUNT + 3)?,
                cf_connecting_ip: r.get(ITEM_COLUMN_COUNT + 4)?,
                headers: Vec::new(),
                body: Vec::new(),
                body_truncated: r.get(ITEM_COLUMN_COUNT + 5)?,
                secret: r.get(ITEM_COLUMN_COUNT + 6)?,
                parse_error: r.get(ITEM_COLUMN_COUNT + 7)?,
                projection: r.get(ITEM_COLUMN_COUNT + 8)?,
                duplicate_of: r.get(ITEM_COLUMN_COUNT + 9)?,
            };
            Ok((record, crate::bodies::StoredBlobs::from_row(r, ITEM_COLUMN_COUNT + 10)?))
        })
        .optional()?
        .ok_or(StoreError::NotFound)?;
    let (headers, body) = stored.decode(conn)?;
    record.headers = serde_json::from_slice(&headers).unwrap_or_default();
    record.body = body;
    record.item.forward = crate::forwards::latest_for_delivery(conn, id)?;
    Ok(record)
}

/// The columns [`shipment_row`] reads, in its order; further columns of a query start at
/// [`SHIPMENT_COLUMN_COUNT`].
pub(crate) const SHIPMENT_COLUMNS: &str =
    "id, tracking_id, tracking_number, slug, title, order_id, tag, subtag, subtag_message,
     expected_delivery, last_location, updated_at, unverified, order_number, last_location_time,
     delivered_at, due, archived_at IS NOT NULL, test";

pub(crate) const SHIPMENT_COLUMN_COUNT: usize = 19;

pub(crate) fn shipment_row(r: &Row<'_>) -> rusqlite::Result<ShipmentItem> {
    Ok(ShipmentItem {
        id: r.get(0)?,
        tracking_id: r.get(1)?,
        tracking_number: r.get(2)?,
        slug: r.get(3)?,
        title: r.get(4)?,
        order_id: r.get(5)?,
        tag: r.get(6)?,
        subtag: r.get(7)?,
        subtag_message: r.get(8)?,
        expected_delivery: r.get(9)?,
        last_location: r.get(10)?,
        updated_at: rfc3339_ms(r.get(11)?),
        unverified: r.get(12)?,
        courier: r.get::<_, Option<String>>(3)?.as_deref().map(courier_of),
        order_number: r.get(13)?,
        last_scan_at: r.get::<_, Option<i64>>(14)?.map(rfc3339_ms),
        delivered_at: r.get::<_, Option<i64>>(15)?.map(rfc3339_ms),
        due: r.get(16)?,
        archived: r.get(17)?,
        test: r.get(18)?,
    })
}

/// The courier's display name of a slug (`FedEx` for `fedex`).
pub(crate) fn courier_of(slug: &str) -> String {
    shipwatch_aftership::courier_name(slug)
}

pub fn shipment_item(conn: &Connection, id: i64) -> Result<ShipmentItem> {
    conn.prepare_cached(&format!("SELECT {SHIPMENT_COLUMNS} FROM shipments WHERE id = ?1"))?
        .query_row([id], shipment_row)
        .optional()?
        .ok_or(StoreError::NotFound)
}

/// Most recently changed first; the cursor is `updated_at:id`.
pub fn list_shipments(conn: &Connection, q: &ShipmentQuery) -> Result<ShipmentList> {
    let page = list_shipments_page(conn, q)?;
    Ok(ShipmentList { items: page.items, next: page.next, counts: tag_counts(conn)? })
}

/// Shipments by tag, over all shipments, most first (kept by triggers: migration 8).
pub fn tag_counts(conn: &Connection) -> Result<Vec<TagCount>> {
    let mut stmt =
        conn.prepare_cached("SELECT tag, count FROM shipment_tags WHERE count > 0 ORDER BY count DESC, tag")?;
    let rows = stmt.query_map([], |r| Ok(TagCount { tag: r.get(0)?, count: r.get(1)? }))?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// A shipment's stored extras for its detail page.
#[derive(Clone, Debug)]
pub struct ShipmentRecord {
    pub item: ShipmentItem,
    pub courier_tracking_link: Option<String>,
    pub courier_redirect_link: Option<String>,
    pub estimated_delivery: Option<serde_json::Value>,
    /// Oldest first.
    pub checkpoints: Vec<CheckpointItem>,
    /// Newest first (at most 500).
    pub deliveries: Vec<DeliveryItem>,
    /// Every move of its estimated delivery, oldest first.
    pub estimate_history: Vec<EstimateChange>,
    /// `proof_of_delivery` as sent (2026-07), when sent.
    pub proof_of_delivery: Option<serde_json::Value>,
    pub signed_by: Option<String>,
}

pub fn get_shipment(conn: &Connection, id: i64) -> Result<ShipmentRecord> {
    let item = shipment_item(conn, id)?;
    type Extras = (Option<String>, Option<String>, Option<String>, Option<String>, Option<String>);
    let (ctl, crl, edd, pod, signed_by): Extras = conn
        .prepare_cached(
            "SELECT courier_tracking_link, courier_redirect_link, estimated_delivery, proof_of_delivery, signed_by
             FROM shipments WHERE id = ?1",
        )?
        .query_row([id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)))?;
    let checkpoints = crate::timeline::checkpoint_items(conn, id)?;
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {ITEM_COLUMNS} FROM deliveries WHERE shipment_id = ?1 ORDER BY id DESC LIMIT 500"
    ))?;
    let mut deliveries: Vec<DeliveryItem> =
        stmt.query_map([id], delivery_item)?.collect::<rusqlite::Result<_>>()?;
    crate::forwards::fill_list_items(conn, &mut deliveries)?;
    Ok(ShipmentRecord {
        item,
        courier_tracking_link: ctl,
        courier_redirect_link: crl,
        estimated_delivery: edd.and_then(|s| serde_json::from_str(&s).ok()),
        checkpoints,
        deliveries,
        estimate_history: estimate_history(conn, id)?,
        proof_of_delivery: pod.and_then(|s| serde_json::from_str(&s).ok()),
        signed_by,
    })
}

/// The query of [`estimate_history`] (served by `estimate_changes_shipment`; public for the
/// query-plan tests).
pub const ESTIMATE_HISTORY: &str =
    "SELECT received_at, delivery_id, previous, estimate, reason, later FROM estimate_changes
     WHERE shipment_id = ?1 ORDER BY id";

/// Every move of shipment `id`'s estimated delivery, oldest first.
pub fn estimate_history(conn: &Connection, id: i64) -> Result<Vec<EstimateChange>> {
    let mut stmt = conn.prepare_cached(ESTIMATE_HISTORY)?;
    let rows = stmt.query_map([id], |r| {
        Ok(EstimateChange {
            at: rfc3339_ms(r.get(0)?),
            // A delivery removed by retention leaves its change without one.
            delivery_id: r.get::<_, Option<i64>>(1)?.unwrap_or(0),
            previous: r.get(2)?,
            estimate: r.get(3)?,
            reason: r.get(4)?,
            later: r.get(5)?,
        })
    })?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// Counts for the status bar.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DeliveryCounts {
    pub total: i64,
    pub since: i64,
    pub failures_since: i64,
    pub last_received_at_ms: Option<i64>,
}

/// Totals, and deliveries / signature failures received at or after `since_ms` (from the start of
/// the quarter of an hour that holds it: local midnight always starts one).
///
/// Each figure comes from a counter its triggers keep (migration 8) or an index, never a scan of the
/// history: a day of a million deliveries adds up 96 rows.
pub fn delivery_counts(conn: &Connection, since_ms: i64) -> Result<DeliveryCounts> {
    let (total, last, since, failures): (i64, Option<i64>, i64, i64) = conn
        .prepare_cached(
            "SELECT (SELECT value FROM counters WHERE name = 'deliveries'),
                    (SELECT max(received_at) FROM deliveries),
                    coalesce(sum(deliveries), 0), coalesce(sum(failures), 0)
             FROM delivery_counts WHERE quarter >= ?1 / 900000",
        )?
        .query_row([since_ms], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))?;
    Ok(DeliveryCounts { total, since, failures_since: failures, last_received_at_ms: last })
}

/// The newest delivery with this event id.
pub fn find_delivery_by_event_id(conn: &Connection, event_id: &str) -> Result<Option<i64>> {
    Ok(conn
        .prepare_cached("SELECT id FROM deliveries WHERE event_id = ?1 ORDER BY id DESC LIMIT 1")?
        .query_row([event_id], |r| r.get(0))
        .optional()?)
}

// Read-only helpers for the developer tools (`shipwatch export`, `shipwatch stats`, `replay` while
// `serve` runs). They apply the same filters as `list_deliveries` / `list_shipments`.

/// Opens `shipwatch.db` in `data_dir` read-only, for tools that run beside the writer (the `serve`
/// process). Never creates the file or migrates it; a database of a newer Shipwatch is refused.
pub fn open_read_only(data_dir: &std::path::Path) -> Result<Connection> {
    let path = crate::db_path(data_dir);
    if !path.is_file() {
        return Err(StoreError::Open {
            path: path.clone(),
            source: rusqlite::Error::SqliteFailure(
                rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_CANTOPEN),
                Some(format!("no database at {}", path.display())),
            ),
        });
    }
    let conn = crate::conn::open_reader(&path)?;
    let found: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    let known = crate::migrations::latest_version();
    if found > known {
        return Err(StoreError::TooNew { path, found, known });
    }
    Ok(conn)
}

/// The condition "a failed delivery" (invalid, missing, malformed, too_large), written exactly as the
/// partial index `deliveries_failed` is, so SQLite uses that index for it.
pub const FAILED: &str = "verdict <> 'valid' AND verdict <> 'unverified'";

/// The WHERE conditions of `list_deliveries` except the cursor.
fn delivery_conditions(q: &DeliveryQuery) -> Result<(String, Vec<rusqlite::types::Value>)> {
    let mut sql = String::from("1=1");
    let mut args: Vec<rusqlite::types::Value> = Vec::new();
    match q.verdict.as_deref().filter(|s| !s.is_empty()) {
        None => {}
        Some("failed") => sql.push_str(&format!(" AND {FAILED}")),
        Some(v @ ("valid" | "unverified")) => {
            sql.push_str(" AND verdict = ?");
            args.push(v.to_owned().into());
        }
        Some(v @ ("invalid" | "missing" | "malformed" | "too_large")) => {
            sql.push_str(&format!(" AND {FAILED} AND verdict = ?"));
            args.push(v.to_owned().into());
        }
        Some(other) => {
            return Err(StoreError::BadQuery(format!(
                "unknown verdict {other:?}: use valid, invalid, missing, malformed, unverified, too_large or failed"
            )))
        }
    }
    if let Some(tag) = q.tag.as_deref().filter(|s| !s.is_empty()) {
        sql.push_str(" AND tag = ?");
        args.push(tag.to_owned().into());
    }
    if let Some(slug) = q.slug.as_deref().filter(|s| !s.is_empty()) {
        sql.push_str(" AND slug = ?");
        args.push(slug.to_owned().into());
    }
    if let Some(code) = q.diagnosis.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
        // Served by the partial index deliveries_diagnosis (`diagnosis = ?` implies NOT NULL).
        let Some(code) = shipwatch_aftership::DiagnosisCode::parse(code) else {
            let known: Vec<&str> =
                shipwatch_aftership::DiagnosisCode::ALL.iter().map(|c| c.as_str()).collect();
            return Err(StoreError::BadQuery(format!(
                "unknown diagnosis {code:?}: use one of {}",
                known.join(", ")
            )));
        };
        sql.push_str(" AND diagnosis = ?");
        args.push(code.as_str().to_owned().into());
    }
    if let Some((since, until)) = received_range(q)? {
        // Served by deliveries_received_at (list_deliveries orders by it), unless a narrower
        // filter's index serves the query: then only tested (`+` keeps the planner off the index).
        match narrow_filter(q) {
            true => sql.push_str(" AND +received_at >= ? AND +received_at < ?"),
            false => sql.push_str(" AND received_at >= ? AND received_at < ?"),
        }
        args.extend([since.unwrap_or(i64::MIN).into(), until.unwrap_or(i64::MAX).into()]);
    }
    if let Some(text) = q.q.as_deref().filter(|s| !s.trim().is_empty()) {
        // See search.rs: a delivery is found through its shipment (the shipments' indexes and the
        // full-text index), its event id, or, when it failed verification and so changed no
        // shipment, through the index of failed deliveries. Each branch is served by an index (a
        // UNION, so that SQLite does not give up on the indexes for a scan of the OR).
        sql.push_str(&format!(
            " AND id IN (
                SELECT id FROM deliveries WHERE shipment_id IN ({SHIPMENTS_FOUND})
                UNION SELECT id FROM deliveries WHERE event_id GLOB ?
                UNION SELECT id FROM deliveries WHERE event_id GLOB ?
                UNION SELECT id FROM deliveries WHERE {FAILED}
                    AND (tracking_number LIKE ? ESCAPE '\\' OR order_id LIKE ? ESCAPE '\\'))"
        ));
        let prefix = crate::search::like_prefix(text);
        args.extend(shipments_found_args(text));
        args.extend([
            crate::search::glob_prefix(text).into(),
            crate::search::glob_prefix(&text.to_lowercase()).into(),
            prefix.clone().into(),
            prefix.into(),
        ]);
    }
    Ok((sql, args))
}

/// SQLite's plan for the page `list_deliveries` reads for `q` (its steps joined with "; "), for the
/// query-plan tests.
pub fn list_deliveries_plan(conn: &Connection, q: &DeliveryQuery) -> Result<String> {
    let (sql, args, _) = list_deliveries_sql(conn, q)?;
    let mut stmt = conn.prepare(&format!("EXPLAIN QUERY PLAN {sql}"))?;
    let steps = stmt.query_map(params_from_iter(args), |r| r.get::<_, String>(3))?;
    Ok(steps.collect::<rusqlite::Result<Vec<_>>>()?.join("; "))
}

/// How many deliveries match the filters of `list_deliveries` (`limit` and `before` ignored).
pub fn count_deliveries(conn: &Connection, q: &DeliveryQuery) -> Result<i64> {
    let (conditions, args) = delivery_conditions(q)?;
    Ok(conn
        .prepare_cached(&format!("SELECT count(*) FROM deliveries WHERE {conditions}"))?
        .query_row(params_from_iter(args), |r| r.get(0))?)
}

/// The ids of the shipments a search text finds (see search.rs), with [`shipments_found_args`]:
/// a tracking number, order id, order number or title that starts with it (the NOCASE indexes), or
/// anything of the shipment that contains it (the full-text index).
const SHIPMENTS_FOUND: &str = "SELECT id FROM shipments WHERE tracking_number LIKE ? ESCAPE '\\'
    UNION SELECT id FROM shipments WHERE order_id LIKE ? ESCAPE '\\'
    UNION SELECT id FROM shipments WHERE order_number LIKE ? ESCAPE '\\'
    UNION SELECT id FROM shipments WHERE title LIKE ? ESCAPE '\\'
    UNION SELECT rowid FROM shipment_search WHERE shipment_search MATCH ?";

fn shipments_found_args(text: &str) -> [rusqlite::types::Value; 5] {
    let prefix = crate::search::like_prefix(text);
    [
        prefix.clone().into(),
        prefix.clone().into(),
        prefix.clone().into(),
        prefix.into(),
        crate::search::fts_phrase(text).into(),
    ]
}

/// The WHERE conditions of `list_shipments` except the cursor.
fn shipment_conditions(q: &ShipmentQuery) -> (String, Vec<rusqlite::types::Value>) {
    let mut sql = String::from("1=1");
    let mut args: Vec<rusqlite::types::Value> = Vec::new();
    if let Some(tag) = q.tag.as_deref().filter(|s| !s.is_empty()) {
        sql.push_str(" AND tag = ?");
        args.push(tag.to_owned().into());
    }
    if let Some(text) = q.q.as_deref().filter(|s| !s.trim().is_empty()) {
        sql.push_str(&format!(" AND id IN ({SHIPMENTS_FOUND})"));
        args.extend(shipments_found_args(text));
    }
    (sql, args)
}

/// How many shipments match the filters of `list_shipments` (`limit` and `before` ignored).
pub fn count_shipments(conn: &Connection, q: &ShipmentQuery) -> Result<i64> {
    let (conditions, args) = shipment_conditions(q);
    Ok(conn
        .prepare_cached(&format!("SELECT count(*) FROM shipments WHERE {conditions}"))?
        .query_row(params_from_iter(args), |r| r.get(0))?)
}

/// A page of `list_shipments` (same order, filters and cursor) without the counts by tag, for
/// walking every shipment page after page.
pub fn list_shipments_page(conn: &Connection, q: &ShipmentQuery) -> Result<Page<ShipmentItem>> {
    let (conditions, mut args) = shipment_conditions(q);
    let mut sql = format!("SELECT {SHIPMENT_COLUMNS} FROM shipments WHERE {conditions}");
    if let Some(before) = q.before.as_deref().filter(|s| !s.is_empty()) {
        let (u, i) = before
            .split_once(':')
            .and_then(|(u, i)| Some((u.parse::<i64>().ok()?, i.parse::<i64>().ok()?)))
            .ok_or_else(|| StoreError::BadQuery(bad_cursor(before)))?;
        sql.push_str(" AND (updated_at < ? OR (updated_at = ? AND id < ?))");
        args.extend([u.into(), u.into(), i.into()]);
    }
    let limit = limit_of(q.limit);
    sql.push_str(&format!(" ORDER BY updated_at DESC, id DESC LIMIT {}", limit + 1));
    let mut stmt = conn.prepare_cached(&sql)?;
    let mut rows: Vec<(ShipmentItem, i64)> = stmt
        .query_map(params_from_iter(args), |r| Ok((shipment_row(r)?, r.get::<_, i64>(11)?)))?
        .collect::<rusqlite::Result<_>>()?;
    let next = if rows.len() > limit as usize {
        rows.truncate(limit as usize);
        rows.last().map(|(s, u)| format!("{u}:{}", s.id))
    } else {
        None
    };
    Ok(Page { items: rows.into_iter().map(|(s, _)| s).collect(), next })
}

/// Deliveries by stored verdict (received at or after `since_ms` when given), most first.
pub fn verdict_counts(conn: &Connection, since_ms: Option<i64>) -> Result<Vec<(String, i64)>> {
    let mut stmt = conn.prepare_cached(
        "SELECT verdict, count(*) FROM deliveries WHERE received_at >= ?1 GROUP BY 1 ORDER BY 2 DESC, 1",
    )?;
    let rows = stmt.query_map([since_ms.unwrap_or(i64::MIN)], |r| Ok((r.get(0)?, r.get(1)?)))?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// The oldest and newest `received_at` (Unix ms), when there are deliveries.
pub fn delivery_time_range(conn: &Connection) -> Result<Option<(i64, i64)>> {
    let (first, last): (Option<i64>, Option<i64>) = conn
        .prepare_cached("SELECT min(received_at), max(received_at) FROM deliveries")?
        .query_row([], |r| Ok((r.get(0)?, r.get(1)?)))?;
    Ok(first.zip(last))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_has_milliseconds_and_z() {
        assert_eq!(rfc3339_ms(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(rfc3339_ms(1_700_000_000_123), "2023-11-14T22:13:20.123Z");
        assert_eq!(rfc3339_ms(-1), "1969-12-31T23:59:59.999Z");
    }

    #[test]
    fn rfc3339_by_hand_matches_the_time_crate() {
        // Leap days, the turn of centuries (2100 is not a leap year, 2000 is), the last millisecond
        // written by hand and the first one past it, and a spread of ordinary instants.
        let mut cases = vec![
            0,
            951_782_400_000,
            951_868_799_999,
            4_107_542_400_000,
            4_102_444_799_999,
            253_402_300_799_999,
            253_402_300_800_000,
            i64::MAX,
            i64::MIN,
        ];
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        for _ in 0..20_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            cases.push((x % 253_402_300_800_000) as i64);
        }
        for ms in cases {
            assert_eq!(rfc3339_ms(ms), rfc3339_ms_by_time(ms), "{ms}");
        }
    }
}

#[cfg(test)]
mod column_tests {
    #[test]
    fn shipment_column_count_matches_the_list() {
        assert_eq!(super::SHIPMENT_COLUMNS.split(',').count(), super::SHIPMENT_COLUMN_COUNT);
        assert_eq!(super::ITEM_COLUMNS.split(',').count(), super::ITEM_COLUMN_COUNT);
    }
}
