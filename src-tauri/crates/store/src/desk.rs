//! The merchant's desk: which shipments need attention now (exception, failed attempt, late, stuck,
//! waiting for pickup), the home page's groups, the clock's alerts (each raised once per shipment and
//! kind), archiving, and removing test data. Ages count from the courier's checkpoint times and the
//! shipment's due date, never from when Shipwatch received a delivery.
//!
//! Every function takes the clock as an argument (`now_ms`), so tests control time.
//!
//! How each set is found (every query through an index, see [`query_plans`]): the tagged kinds
//! (Exception, AttemptFail, AvailableForPickup) through `shipments_tag`; late ones and those due
//! today through the range of `shipments_open_due` up to a little past now (the exact day is then
//! decided here, in the merchant's calendar); stuck ones through the range of `shipments_open_scan`
//! older than the threshold (and its `NULL` range: never scanned), and those AfterShip reported
//! pending through `shipments_open_pending`; the groups walk the partial indexes in their order and
//! stop at [`DESK_GROUP_LIMIT`]. Which kinds a shipment has is decided by one function
//! ([`shipment_attention`] and the desk agree by construction).
//!
//! Open shipments only: archived and test ones never need attention. A shipment waiting at a pickup
//! point is neither late nor stuck: it arrived, and waits for the customer (`WaitingForPickup`).

use std::collections::{BTreeMap, HashSet};

use rusqlite::{params, Connection, OptionalExtension, Row};
use shipwatch_api::{
    Attention, AttentionItem, AttentionKind, Desk, DeskGroup, ShipmentItem, TestDataRemoved,
};

use crate::queries::{rfc3339_ms, shipment_item, shipment_row, SHIPMENT_COLUMNS};
use crate::{Result, StoreError};

/// Most shipments listed in one group of the home page (`total` says how many there are).
pub const DESK_GROUP_LIMIT: usize = 100;

/// Most shipments listed under "Needs attention" (`attention_total` says how many there are): a
/// year of history can leave thousands of exceptions nobody archived, and the page shows the most
/// urgent.
pub const DESK_ATTENTION_LIMIT: usize = 200;

const DAY_MS: i64 = 86_400_000;

/// The user's thresholds (settings `stuck_after_days`, `pickup_after_days`, `archive_after_days`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AttentionRules {
    pub stuck_after_days: u32,
    pub pickup_after_days: u32,
    pub archive_after_days: u32,
}

impl Default for AttentionRules {
    fn default() -> Self {
        AttentionRules { stuck_after_days: 5, pickup_after_days: 3, archive_after_days: 3 }
    }
}

/// The clock: now, and the local day's bounds for "arriving today" and "delivered yesterday".
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DeskClock {
    pub now_ms: i64,
    /// The local time zone's offset from UTC at `now_ms`, in seconds (east positive).
    pub utc_offset_s: i32,
}

impl DeskClock {
    /// The local calendar day (days since 1970-01-01) that holds `ms`.
    fn local_day(&self, ms: i64) -> i64 {
        (ms + i64::from(self.utc_offset_s) * 1000).div_euclid(DAY_MS)
    }

    fn today(&self) -> i64 {
        self.local_day(self.now_ms)
    }
}

/// A late or stuck shipment the clock has not alerted about yet.
#[derive(Clone, Debug, PartialEq)]
pub struct ClockAlert {
    pub shipment: ShipmentItem,
    pub attention: shipwatch_api::Attention,
}

/// What the desk reads of a shipment to judge it (its list item is read only for those it lists).
const FACT_COLUMNS: &str = "id, tag, subtag, subtag_message, due, due_at, delivered_at, archived_at, test,
     pending_since, last_location_time, created_at, late_alerted_for, stuck_alerted_for";

/// "Open": what the partial indexes `shipments_open_due` and `shipments_open_scan` hold (written
/// as their WHERE is, so that SQLite uses them).
const OPEN: &str = "delivered_at IS NULL AND archived_at IS NULL AND test = 0";
/// What `shipments_delivered` holds.
const DELIVERED: &str = "delivered_at IS NOT NULL AND archived_at IS NULL AND test = 0";
/// Delivered since the archive delay began (`?1`), or brought back from the archive by hand.
const RECENT: &str = "(delivered_at >= ?1 OR kept_at IS NOT NULL)";

/// The queries the desk and the clock make, by name (for [`query_plans`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Query {
    /// ?1 = tag: Exception, AttemptFail, AvailableForPickup.
    Tagged,
    /// ?1 = a bound past now: late, and due today.
    Due,
    /// ?1 = the newest scan time that is stuck.
    OldScan,
    /// ?1 = the newest registration time that is stuck.
    NeverScanned,
    Pending,
    /// The open ones, newest scan first.
    InTransit,
    InTransitCount,
    /// ?1 = delivered since.
    Delivered,
    DeliveredCount,
    TestCount,
    ById,
}

impl Query {
    const ALL: [Query; 11] = [
        Query::Tagged,
        Query::Due,
        Query::OldScan,
        Query::NeverScanned,
        Query::Pending,
        Query::InTransit,
        Query::InTransitCount,
        Query::Delivered,
        Query::DeliveredCount,
        Query::TestCount,
        Query::ById,
    ];

    fn sql(self) -> String {
        let rows = |filter: &str| format!("SELECT {FACT_COLUMNS} FROM shipments WHERE {filter}");
        let items = |filter: &str| format!("SELECT {SHIPMENT_COLUMNS} FROM shipments WHERE {filter}");
        match self {
            Query::Tagged => rows("tag = ?1 AND archived_at IS NULL AND test = 0"),
            Query::Due => rows(&format!("{OPEN} AND due_at < ?1")),
            Query::OldScan => rows(&format!("{OPEN} AND last_location_time <= ?1")),
            Query::NeverScanned => {
                rows(&format!("{OPEN} AND last_location_time IS NULL AND created_at <= ?1"))
            }
            Query::Pending => rows(&format!("pending_since IS NOT NULL AND {OPEN}")),
            Query::InTransit => items(&format!("{OPEN} ORDER BY last_location_time DESC, id DESC")),
            Query::InTransitCount => format!("SELECT count(*) FROM shipments WHERE {OPEN}"),
            Query::Delivered => {
                items(&format!("{DELIVERED} AND {RECENT} ORDER BY delivered_at DESC, id DESC"))
            }
            Query::DeliveredCount => format!("SELECT count(*) FROM shipments WHERE {DELIVERED} AND {RECENT}"),
            Query::TestCount => "SELECT count(*) FROM shipments WHERE test = 1".to_owned(),
            Query::ById => rows("id = ?1"),
        }
    }

    fn name(self) -> &'static str {
        match self {
            Query::Tagged => "tagged",
            Query::Due => "due",
            Query::OldScan => "old scan",
            Query::NeverScanned => "never scanned",
            Query::Pending => "pending",
            Query::InTransit => "in transit",
            Query::InTransitCount => "in transit count",
            Query::Delivered => "delivered",
            Query::DeliveredCount => "delivered count",
            Query::TestCount => "test count",
            Query::ById => "by id",
        }
    }
}

/// The statements that change shipments and deliveries (archive, test data), by name.
const WRITES: [(&str, &str); 9] = [
    ("archive delivered", ARCHIVE_DELIVERED),
    ("test shipments", "SELECT id FROM shipments WHERE test = 1"),
    ("test deliveries", "SELECT id, event_id, shipment_id, duplicate_of FROM deliveries WHERE test = 1"),
    ("deliveries of a shipment", DELIVERIES_OF_SHIPMENT),
    ("what a shipment rests on", RESTS_ON),
    ("duplicates of a delivery", DUPLICATES_OF),
    ("estimate changes of a delivery", "DELETE FROM estimate_changes WHERE delivery_id = ?1"),
    ("delete a delivery", "DELETE FROM deliveries WHERE id = ?1"),
    ("delete a shipment", "DELETE FROM shipments WHERE id = ?1"),
];

const ARCHIVE_DELIVERED: &str = "UPDATE shipments SET archived_at = ?2
     WHERE delivered_at IS NOT NULL AND archived_at IS NULL AND test = 0 AND delivered_at < ?1
        AND kept_at IS NULL";
const DELIVERIES_OF_SHIPMENT: &str =
    "SELECT id, event_id, shipment_id, duplicate_of FROM deliveries WHERE shipment_id = ?1";
const RESTS_ON: &str =
    "SELECT 1 FROM shipments WHERE id = ?1 AND (state_delivery_id = ?2 OR timeline_base_delivery_id = ?2)";
const DUPLICATES_OF: &str = "SELECT id FROM deliveries WHERE event_id = ?1 AND duplicate_of = ?2";

/// SQLite's plan of every query this module makes, by name, with its steps joined by "; " (the
/// tests check that each is served by an index).
pub fn query_plans(conn: &Connection) -> Result<Vec<(&'static str, String)>> {
    let explain = |sql: &str| -> Result<String> {
        let mut stmt = conn.prepare(&format!("EXPLAIN QUERY PLAN {sql}"))?;
        let nulls = vec![rusqlite::types::Value::Null; stmt.parameter_count()];
        let steps = stmt
            .query_map(rusqlite::params_from_iter(nulls), |r| r.get::<_, String>(3))?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        Ok(steps.join("; "))
    };
    let mut plans = Vec::new();
    for q in Query::ALL {
        plans.push((q.name(), explain(&q.sql())?));
    }
    for (name, sql) in WRITES {
        plans.push((name, explain(sql)?));
    }
    Ok(plans)
}

/// A shipment as the desk judges it.
#[derive(Clone, Debug)]
struct Facts {
    id: i64,
    tag: Option<String>,
    subtag: Option<String>,
    subtag_message: Option<String>,
    due: Option<String>,
    due_at: Option<i64>,
    delivered_at: Option<i64>,
    archived_at: Option<i64>,
    test: bool,
    pending_since: Option<i64>,
    last_scan: Option<i64>,
    created_at: i64,
    late_alerted_for: Option<i64>,
    stuck_alerted_for: Option<i64>,
}

impl Facts {
    fn from_row(r: &Row<'_>) -> rusqlite::Result<Facts> {
        Ok(Facts {
            id: r.get(0)?,
            tag: r.get(1)?,
            subtag: r.get(2)?,
            subtag_message: r.get(3)?,
            due: r.get(4)?,
            due_at: r.get(5)?,
            delivered_at: r.get(6)?,
            archived_at: r.get(7)?,
            test: r.get(8)?,
            pending_since: r.get(9)?,
            last_scan: r.get(10)?,
            created_at: r.get(11)?,
            late_alerted_for: r.get(12)?,
            stuck_alerted_for: r.get(13)?,
        })
    }

    fn open(&self) -> bool {
        self.archived_at.is_none() && !self.test
    }

    fn tag(&self) -> Option<&str> {
        self.tag.as_deref()
    }

    /// Delivered (a shipment tagged Delivered before its delivery time was recorded counts too).
    fn delivered(&self) -> bool {
        self.delivered_at.is_some() || self.tag() == Some("Delivered")
    }

    /// The courier's last scan, else when the shipment was registered: what "stuck" counts from.
    fn scan_or_created(&self) -> i64 {
        self.last_scan.unwrap_or(self.created_at)
    }

    /// The local day the shipment is due: a date as sent is that day; an instant, the local day
    /// that holds it.
    fn due_day(&self, clock: &DeskClock) -> Option<i64> {
        match self.due.as_deref().and_then(date_only) {
            Some(day) => Some(day),
            None => self.due_at.map(|at| clock.local_day(at)),
        }
    }
}

/// Whole days from `since` to `now` (0 when `since` is later).
fn whole_days(now: i64, since: i64) -> i64 {
    (now - since).max(0) / DAY_MS
}

fn days_u32(days: i64) -> u32 {
    days.clamp(0, i64::from(u32::MAX)) as u32
}

fn plural(n: i64, one: &str) -> String {
    if n == 1 {
        format!("1 {one}")
    } else {
        format!("{n} {one}s")
    }
}

/// `YYYY-MM-DD` (and nothing else) as days since 1970-01-01.
fn date_only(s: &str) -> Option<i64> {
    let b = s.trim().as_bytes();
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    let num = |r: std::ops::Range<usize>| -> Option<i64> {
        b[r].iter().try_fold(0i64, |acc, &c| c.is_ascii_digit().then(|| acc * 10 + i64::from(c - b'0')))
    };
    let (y, m, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    if !(1..=12).contains(&m) || !(1..=31).contains(&d) {
        return None;
    }
    Some(days_from_civil(y, m, d))
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// (month, day) of a day since 1970-01-01.
fn month_day(days: i64) -> (usize, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    (month as usize, day)
}

/// "Dec 3".
fn short_date(days: i64) -> String {
    const MONTHS: [&str; 12] =
        ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
    let (m, d) = month_day(days);
    format!("{} {d}", MONTHS[m - 1])
}

/// The subtag's wording, else the payload's `subtag_message`.
fn subtag_reason(f: &Facts) -> Option<String> {
    let wording = f.subtag.as_deref().and_then(shipwatch_aftership::subtag_wording).map(str::to_owned);
    wording.or_else(|| f.subtag_message.clone().filter(|m| !m.trim().is_empty()).map(|m| m.trim().to_owned()))
}

/// Every reason `f` needs attention now, most urgent first (empty for an archived or test shipment).
fn assess(f: &Facts, clock: &DeskClock, rules: &AttentionRules) -> Vec<Attention> {
    let mut out = Vec::new();
    if !f.open() {
        return out;
    }
    let now = clock.now_ms;
    let tag = f.tag();
    let scan_since = rfc3339_ms(f.scan_or_created());
    let scan_days = whole_days(now, f.scan_or_created());
    let last_scan = f.last_scan.map(rfc3339_ms);
    if tag == Some("Exception") {
        out.push(Attention {
            kind: AttentionKind::Exception,
            reason: subtag_reason(f).unwrap_or_else(|| "Exception".to_owned()),
            days: None,
            since: last_scan.clone(),
        });
    }
    if tag == Some("AttemptFail") {
        let reason = match subtag_reason(f) {
            Some(why)
                if !why.eq_ignore_ascii_case("failed attempt")
                    && !why.eq_ignore_ascii_case("delivery attempt failed") =>
            {
                format!("Delivery attempt failed: {why}")
            }
            _ => "Delivery attempt failed".to_owned(),
        };
        out.push(Attention {
            kind: AttentionKind::FailedAttempt,
            reason,
            days: None,
            since: last_scan.clone(),
        });
    }
    let waiting = tag == Some("AvailableForPickup");
    if !f.delivered() && !waiting {
        if let Some(late) = lateness(f, clock) {
            out.push(late);
        }
        let pending = f.pending_since.is_some_and(|p| f.last_scan.is_none_or(|t| t < p));
        if pending || scan_days >= i64::from(rules.stuck_after_days) {
            let reason = if pending {
                "Still pending after AfterShip's pending-time threshold".to_owned()
            } else if f.last_scan.is_some() {
                format!("No courier scan for {}", plural(scan_days, "day"))
            } else {
                format!("No courier scan since it was registered {} ago", plural(scan_days, "day"))
            };
            out.push(Attention {
                kind: AttentionKind::Stuck,
                reason,
                days: Some(days_u32(scan_days)),
                since: Some(scan_since.clone()),
            });
        }
    }
    if waiting && scan_days >= i64::from(rules.pickup_after_days) {
        out.push(Attention {
            kind: AttentionKind::WaitingForPickup,
            reason: format!("Waiting at the pickup point for {}", plural(scan_days, "day")),
            days: Some(days_u32(scan_days)),
            since: Some(scan_since),
        });
    }
    out.sort_by_key(|a| a.kind);
    out
}

/// Late: past a due instant, or (a date as sent) from the local day after it; days counted in the
/// merchant's calendar.
fn lateness(f: &Facts, clock: &DeskClock) -> Option<Attention> {
    let due_day = f.due_day(clock)?;
    let today = clock.today();
    let late = match f.due.as_deref().and_then(date_only) {
        Some(_) => today > due_day,
        None => f.due_at.is_some_and(|at| clock.now_ms > at),
    };
    if !late {
        return None;
    }
    let days = today - due_day;
    let reason = if days <= 0 {
        "Late (due today)".to_owned()
    } else {
        format!("{} late (due {})", plural(days, "day"), short_date(due_day))
    };
    Some(Attention {
        kind: AttentionKind::Late,
        reason,
        days: Some(days_u32(days)),
        since: f.due_at.map(rfc3339_ms).or_else(|| f.due.clone()),
    })
}

/// Which candidate sets to read.
#[derive(Clone, Copy)]
struct Wanted {
    tagged: bool,
    late: bool,
    stuck: bool,
}

/// How far past now the due range reaches: a date as sent may be stored as any instant of its
/// day in any time zone (and "due today" is decided here, in the merchant's), so the range takes
/// two days more and the exact day is judged on each row.
const DUE_MARGIN_MS: i64 = 2 * DAY_MS;

/// The shipments that may need attention (a superset: [`assess`] decides), by id.
fn candidates(
    conn: &Connection,
    clock: &DeskClock,
    rules: &AttentionRules,
    wanted: Wanted,
) -> Result<BTreeMap<i64, Facts>> {
    let mut found = BTreeMap::new();
    let mut read = |q: Query, arg: Option<rusqlite::types::Value>| -> Result<()> {
        let mut stmt = conn.prepare_cached(&q.sql())?;
        let rows = match arg {
            Some(a) => stmt.query_map([a], Facts::from_row)?.collect::<rusqlite::Result<Vec<_>>>()?,
            None => stmt.query_map([], Facts::from_row)?.collect::<rusqlite::Result<Vec<_>>>()?,
        };
        for f in rows {
            found.entry(f.id).or_insert(f);
        }
        Ok(())
    };
    if wanted.tagged {
        for tag in ["Exception", "AttemptFail", "AvailableForPickup"] {
            read(Query::Tagged, Some(tag.to_owned().into()))?;
        }
    }
    if wanted.late {
        read(Query::Due, Some((clock.now_ms + DUE_MARGIN_MS).into()))?;
    }
    if wanted.stuck {
        let stuck_before = clock.now_ms - i64::from(rules.stuck_after_days) * DAY_MS;
        read(Query::OldScan, Some(stuck_before.into()))?;
        read(Query::NeverScanned, Some(stuck_before.into()))?;
        read(Query::Pending, None)?;
    }
    Ok(found)
}

/// The shipments that need attention now, each under its most urgent kind, sorted: kind, then days
/// (most first), then id.
fn attention_items<'a>(
    found: &'a BTreeMap<i64, Facts>,
    clock: &DeskClock,
    rules: &AttentionRules,
) -> Vec<(Attention, &'a Facts)> {
    let mut items: Vec<(Attention, &'a Facts)> =
        found.values().filter_map(|f| Some((assess(f, clock, rules).into_iter().next()?, f))).collect();
    items.sort_by_key(|(a, f)| urgency(a, f.id));
    items
}

/// The order of "Needs attention" and of the clock's alerts: kind, then days (most first), then id.
fn urgency(a: &Attention, id: i64) -> (AttentionKind, std::cmp::Reverse<u32>, i64) {
    (a.kind, std::cmp::Reverse(a.days.unwrap_or(0)), id)
}

const EVERYTHING: Wanted = Wanted { tagged: true, late: true, stuck: true };

/// The home page (test and archived shipments left out).
pub fn desk(conn: &Connection, clock: DeskClock, rules: &AttentionRules) -> Result<Desk> {
    let found = candidates(conn, &clock, rules, EVERYTHING)?;
    let attention = attention_items(&found, &clock, rules);
    let mut listed: HashSet<i64> = attention.iter().map(|(_, f)| f.id).collect();

    // Due today (the due range holds every one) and needing nothing: soonest first.
    let today = clock.today();
    let mut arriving: Vec<&Facts> = found
        .values()
        .filter(|f| f.open() && !f.delivered() && !listed.contains(&f.id) && f.due_day(&clock) == Some(today))
        .collect();
    arriving.sort_by_key(|f| (f.due_at, f.id));
    let arriving_today = DeskGroup {
        total: arriving.len() as i64,
        items: arriving
            .iter()
            .take(DESK_GROUP_LIMIT)
            .map(|f| shipment_item(conn, f.id))
            .collect::<Result<_>>()?,
    };
    listed.extend(arriving.iter().map(|f| f.id));
    let listed_facts: Vec<&Facts> =
        attention.iter().map(|(_, f)| *f).chain(arriving.iter().copied()).collect();

    // The other open ones, newest scan first: the index in its order, skipping those listed above.
    let open_listed = listed_facts.iter().filter(|f| f.delivered_at.is_none()).count() as i64;
    let open_total: i64 = conn.prepare_cached(&Query::InTransitCount.sql())?.query_row([], |r| r.get(0))?;
    let in_transit = DeskGroup {
        items: first_unlisted(conn, Query::InTransit, None, &listed)?,
        total: (open_total - open_listed).max(0),
    };

    // Delivered within the archive delay and not archived (the clock archives the older ones).
    let delivered_since = clock.now_ms - i64::from(rules.archive_after_days) * DAY_MS;
    let delivered_listed =
        listed_facts.iter().filter(|f| f.delivered_at.is_some_and(|d| d >= delivered_since)).count() as i64;
    let delivered_total: i64 =
        conn.prepare_cached(&Query::DeliveredCount.sql())?.query_row([delivered_since], |r| r.get(0))?;
    let delivered_recently = DeskGroup {
        items: first_unlisted(conn, Query::Delivered, Some(delivered_since), &listed)?,
        total: (delivered_total - delivered_listed).max(0),
    };

    let test_shipments: i64 = conn.prepare_cached(&Query::TestCount.sql())?.query_row([], |r| r.get(0))?;
    Ok(Desk {
        attention_total: attention.len() as i64,
        attention: attention
            .into_iter()
            .take(DESK_ATTENTION_LIMIT)
            .map(|(attention, f)| Ok(AttentionItem { attention, shipment: shipment_item(conn, f.id)? }))
            .collect::<Result<_>>()?,
        arriving_today,
        in_transit,
        delivered_recently,
        test_shipments,
        now: rfc3339_ms(clock.now_ms),
    })
}

/// The first [`DESK_GROUP_LIMIT`] rows of `q` (in its order) not in `listed`; rows are read one at
/// a time and no further than needed.
fn first_unlisted(
    conn: &Connection,
    q: Query,
    arg: Option<i64>,
    listed: &HashSet<i64>,
) -> Result<Vec<ShipmentItem>> {
    let mut stmt = conn.prepare_cached(&q.sql())?;
    let mut rows = match arg {
        Some(a) => stmt.query([a])?,
        None => stmt.query([])?,
    };
    let mut items = Vec::new();
    while let Some(r) = rows.next()? {
        let id: i64 = r.get(0)?;
        if listed.contains(&id) {
            continue;
        }
        items.push(shipment_row(r)?);
        if items.len() == DESK_GROUP_LIMIT {
            break;
        }
    }
    Ok(items)
}

/// How many shipments need attention now (the status bar and tray; test ones left out).
pub fn attention_count(conn: &Connection, clock: DeskClock, rules: &AttentionRules) -> Result<i64> {
    let found = candidates(conn, &clock, rules, EVERYTHING)?;
    Ok(found.values().filter(|f| !assess(f, &clock, rules).is_empty()).count() as i64)
}

/// What shipment `shipment_id` needs now, most urgent first (the shipment page; empty for an
/// archived or test shipment); `NotFound` when there is none.
pub fn shipment_attention(
    conn: &Connection,
    shipment_id: i64,
    clock: DeskClock,
    rules: &AttentionRules,
) -> Result<Vec<Attention>> {
    let f = conn
        .prepare_cached(&Query::ById.sql())?
        .query_row([shipment_id], Facts::from_row)
        .optional()?
        .ok_or(StoreError::NotFound)?;
    Ok(assess(&f, &clock, rules))
}

/// Late and stuck shipments (of `kinds`) not alerted yet for their current due date / last scan.
///
/// Late: alerted once per due date (`late_alerted_for` = the `due_at` it was raised for, so an
/// estimate that moves can alert again). Stuck: once per last scan (`stuck_alerted_for` = the scan,
/// or the registration time, it was raised for: a new scan re-arms it). However many ticks were
/// missed while the app was closed, each alerts once. Unverified shipments are included (the
/// notifier flags them). Sorted as the desk sorts.
pub fn due_alerts(
    conn: &Connection,
    clock: DeskClock,
    rules: &AttentionRules,
    kinds: &[AttentionKind],
) -> Result<Vec<ClockAlert>> {
    let (late, stuck) = (kinds.contains(&AttentionKind::Late), kinds.contains(&AttentionKind::Stuck));
    if !late && !stuck {
        return Ok(Vec::new());
    }
    let found = candidates(conn, &clock, rules, Wanted { tagged: false, late, stuck })?;
    let mut due: Vec<(Attention, i64)> = Vec::new();
    for f in found.values() {
        for a in assess(f, &clock, rules) {
            let unalerted = match a.kind {
                AttentionKind::Late => late && f.late_alerted_for != f.due_at,
                AttentionKind::Stuck => stuck && f.stuck_alerted_for != Some(f.scan_or_created()),
                _ => false,
            };
            if unalerted {
                due.push((a, f.id));
            }
        }
    }
    due.sort_by_key(|(a, i)| urgency(a, *i));
    due.into_iter()
        .map(|(attention, id)| Ok(ClockAlert { shipment: shipment_item(conn, id)?, attention }))
        .collect()
}

/// Records that the clock alerted about `shipment_id` for `kind`, so it alerts once (again only
/// after the due date or the last scan changes). Only `Late` and `Stuck` are the clock's
/// (`BadQuery` otherwise); `NotFound` when there is no such shipment.
pub fn mark_alerted(conn: &Connection, shipment_id: i64, kind: AttentionKind, _now_ms: i64) -> Result<()> {
    let sql = match kind {
        AttentionKind::Late => "UPDATE shipments SET late_alerted_for = due_at WHERE id = ?1",
        AttentionKind::Stuck => {
            "UPDATE shipments SET stuck_alerted_for = coalesce(last_location_time, created_at) WHERE id = ?1"
        }
        other => {
            return Err(StoreError::BadQuery(format!(
                "the clock alerts only late and stuck shipments, not {other:?}"
            )))
        }
    };
    match conn.prepare_cached(sql)?.execute([shipment_id])? {
        0 => Err(StoreError::NotFound),
        _ => Ok(()),
    }
}

/// Archives (or brings back) a shipment; `NotFound` when there is none. Archiving one already
/// archived keeps when it was. One brought back by hand stays on the desk among the delivered: the
/// clock's [`archive_delivered`] leaves it until it is archived by hand again.
pub fn set_archived(conn: &Connection, id: i64, archived: bool, now_ms: i64) -> Result<ShipmentItem> {
    let changed = conn
        .prepare_cached(
            "UPDATE shipments SET archived_at = CASE WHEN ?2 THEN coalesce(archived_at, ?3) END,
                kept_at = CASE WHEN ?2 THEN NULL ELSE coalesce(kept_at, ?3) END
             WHERE id = ?1",
        )?
        .execute(params![id, archived, now_ms])?;
    if changed == 0 {
        return Err(StoreError::NotFound);
    }
    crate::queries::shipment_item(conn, id)
}

/// Archives delivered shipments delivered before `before_ms`; returns how many. (Their
/// `archived_at` is `before_ms`: the cutoff they were archived under.) Test shipments are left as
/// they are: they are never on the desk.
pub fn archive_delivered(conn: &Connection, before_ms: i64) -> Result<usize> {
    Ok(conn.prepare_cached(ARCHIVE_DELIVERED)?.execute(params![before_ms, before_ms])?)
}

/// A delivery to delete: (id, event id, shipment, the delivery it repeats).
type DeliveryRef = (i64, Option<String>, Option<i64>, Option<i64>);

fn delivery_ref(r: &Row<'_>) -> rusqlite::Result<DeliveryRef> {
    Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
}

/// Deletes every test delivery and the shipments only test deliveries built.
///
/// Test deliveries are those marked test and every delivery of a test shipment; with them go their
/// forwards (the schema's cascade), the estimate changes they made, and the test shipments with
/// their estimate history and search documents. Kept, as retention keeps them: a test delivery a
/// real shipment's state or timeline rests on, one a kept delivery repeats (and then its shipment).
/// One savepoint: all of it or nothing.
pub fn remove_test_data(conn: &Connection) -> Result<TestDataRemoved> {
    conn.execute_batch("SAVEPOINT remove_test_data")?;
    match remove_test_data_in(conn) {
        Ok(removed) => {
            conn.execute_batch("RELEASE remove_test_data")?;
            Ok(removed)
        }
        Err(e) => {
            let _ = conn.execute_batch("ROLLBACK TO remove_test_data; RELEASE remove_test_data");
            Err(e)
        }
    }
}

fn remove_test_data_in(conn: &Connection) -> Result<TestDataRemoved> {
    crate::search::prepare_queue(conn)?;
    let mut shipments: HashSet<i64> = conn
        .prepare_cached("SELECT id FROM shipments WHERE test = 1")?
        .query_map([], |r| r.get(0))?
        .collect::<rusqlite::Result<_>>()?;
    let mut doomed: BTreeMap<i64, DeliveryRef> = BTreeMap::new();
    for d in conn
        .prepare_cached("SELECT id, event_id, shipment_id, duplicate_of FROM deliveries WHERE test = 1")?
        .query_map([], delivery_ref)?
    {
        let d = d?;
        doomed.insert(d.0, d);
    }
    {
        let mut of_shipment = conn.prepare_cached(DELIVERIES_OF_SHIPMENT)?;
        for s in &shipments {
            for d in of_shipment.query_map([s], delivery_ref)? {
                let d = d?;
                doomed.insert(d.0, d);
            }
        }
    }

    // What must stay: a delivery a real shipment rests on, one a kept delivery repeats; a test
    // shipment one of whose deliveries stays keeps all of them. Repeated until nothing moves
    // (duplicates point at their original directly, so this settles at once).
    let test_shipments = shipments.clone();
    let mut rests_on = conn.prepare_cached(RESTS_ON)?;
    let mut duplicates_of = conn.prepare_cached(DUPLICATES_OF)?;
    let mut keep: HashSet<i64> = HashSet::new();
    let mut repeats: BTreeMap<i64, Vec<i64>> = BTreeMap::new();
    for (id, event_id, shipment, _) in doomed.values() {
        if let Some(s) = shipment.filter(|s| !test_shipments.contains(s)) {
            if rests_on.exists(params![s, id])? {
                keep.insert(*id);
            }
        }
        if let Some(e) = event_id {
            let ids: Vec<i64> =
                duplicates_of.query_map(params![e, id], |r| r.get(0))?.collect::<rusqlite::Result<_>>()?;
            repeats.insert(*id, ids);
        }
    }
    loop {
        let before = (keep.len(), shipments.len());
        for (id, _, shipment, duplicate_of) in doomed.values() {
            if !keep.contains(id) {
                let shipment_stays =
                    shipment.is_some_and(|s| test_shipments.contains(&s) && !shipments.contains(&s));
                let repeated = repeats
                    .get(id)
                    .is_some_and(|ids| ids.iter().any(|r| !doomed.contains_key(r) || keep.contains(r)));
                if shipment_stays || repeated {
                    keep.insert(*id);
                }
            }
            if keep.contains(id) {
                if let Some(orig) = duplicate_of.filter(|o| doomed.contains_key(o)) {
                    keep.insert(orig);
                }
                if let Some(s) = shipment {
                    shipments.remove(s);
                }
            }
        }
        if (keep.len(), shipments.len()) == before {
            break;
        }
    }
    if !keep.is_empty() {
        tracing::info!(kept = keep.len(), "kept test deliveries that real shipments or deliveries rest on");
    }

    let mut changes = conn.prepare_cached("DELETE FROM estimate_changes WHERE delivery_id = ?1")?;
    let mut delete = conn.prepare_cached("DELETE FROM deliveries WHERE id = ?1")?;
    let mut deliveries = 0i64;
    // Newest first: a repeat goes before the delivery it repeats (which it refers to).
    for id in doomed.keys().rev().filter(|id| !keep.contains(id)) {
        changes.execute([id])?;
        deliveries += delete.execute([id])? as i64;
    }
    let mut search = conn.prepare_cached("DELETE FROM shipment_search WHERE rowid = ?1")?;
    let mut queued = conn.prepare_cached("DELETE FROM temp.search_pending WHERE shipment_id = ?1")?;
    let mut drop_shipment = conn.prepare_cached("DELETE FROM shipments WHERE id = ?1")?;
    let mut removed = 0i64;
    for s in &shipments {
        search.execute([s])?;
        queued.execute([s])?;
        removed += drop_shipment.execute([s])? as i64;
    }
    tracing::info!(shipments = removed, deliveries, "removed test data");
    Ok(TestDataRemoved { shipments: removed, deliveries })
}
