//! Stats of a data dir: deliveries by verdict (all time and today), shipments by tag, the size of
//! the database. Read-only: safe while `serve` writes.

use std::path::{Path, PathBuf};

use rusqlite::Connection;
use shipwatch_api::TagCount;
use shipwatch_store::queries;

use crate::Result;

/// Verdicts answered 401/413: what `verdict=failed` selects.
pub const FAILED_VERDICTS: [&str; 4] = ["invalid", "missing", "malformed", "too_large"];

#[derive(Clone, Debug, PartialEq)]
pub struct Stats {
    pub data_dir: PathBuf,
    pub database: PathBuf,
    /// The database file with its WAL and shared-memory files.
    pub database_bytes: u64,
    pub deliveries_total: i64,
    /// Received at or after `today_start_ms`.
    pub deliveries_today: i64,
    /// `(verdict, count)`, most first.
    pub verdicts: Vec<(String, i64)>,
    pub verdicts_today: Vec<(String, i64)>,
    pub failed_total: i64,
    pub failed_today: i64,
    /// Shipments other than test ones (what `shipments_by_tag` adds up).
    pub shipments_total: i64,
    pub shipments_by_tag: Vec<TagCount>,
    /// Shipments made by Shipwatch's test tools, left out of the counts by tag.
    pub shipments_test: i64,
    /// Unix ms of the oldest and newest delivery.
    pub first_delivery_ms: Option<i64>,
    pub last_delivery_ms: Option<i64>,
}

/// Reads the stats; "today" starts at `today_start_ms` (see [`local_midnight_ms`]).
pub fn collect(conn: &Connection, data_dir: &Path, today_start_ms: i64) -> Result<Stats> {
    let verdicts = queries::verdict_counts(conn, None)?;
    let verdicts_today = queries::verdict_counts(conn, Some(today_start_ms))?;
    let failed = |counts: &[(String, i64)]| {
        counts.iter().filter(|(v, _)| FAILED_VERDICTS.contains(&v.as_str())).map(|(_, n)| n).sum::<i64>()
    };
    let shipments_by_tag = queries::tag_counts(conn)?;
    let shipments_test: i64 = conn
        .query_row("SELECT count(*) FROM shipments WHERE test = 1", [], |r| r.get(0))
        .map_err(shipwatch_store::StoreError::from)?;
    let range = queries::delivery_time_range(conn)?;
    let database = shipwatch_store::db_path(data_dir);
    let database_bytes = ["", "-wal", "-shm"]
        .iter()
        .filter_map(|suffix| {
            let mut name = database.clone().into_os_string();
            name.push(suffix);
            std::fs::metadata(PathBuf::from(name)).ok().map(|m| m.len())
        })
        .sum();
    Ok(Stats {
        data_dir: data_dir.to_owned(),
        database,
        database_bytes,
        deliveries_total: verdicts.iter().map(|(_, n)| n).sum(),
        deliveries_today: verdicts_today.iter().map(|(_, n)| n).sum(),
        failed_total: failed(&verdicts),
        failed_today: failed(&verdicts_today),
        verdicts,
        verdicts_today,
        shipments_total: shipments_by_tag.iter().map(|t| t.count).sum(),
        shipments_by_tag,
        shipments_test,
        first_delivery_ms: range.map(|(first, _)| first),
        last_delivery_ms: range.map(|(_, last)| last),
    })
}

/// Unix ms of the last midnight at `offset` before `now`.
pub fn local_midnight_ms(now: time::OffsetDateTime, offset: time::UtcOffset) -> i64 {
    let local = now.to_offset(offset);
    let midnight = local.replace_time(time::Time::MIDNIGHT);
    (midnight.unix_timestamp_nanos() / 1_000_000) as i64
}

/// `1.2 MiB`, `512 B`.
pub fn human_bytes(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes} B")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn midnight() {
        let now = time::macros::datetime!(2025-07-01 01:30 UTC);
        assert_eq!(local_midnight_ms(now, time::UtcOffset::UTC), 1_751_328_000_000);
        // At UTC+02:00 it is 03:30 on July 1st: midnight was at 22:00 UTC the day before.
        let plus2 = time::UtcOffset::from_hms(2, 0, 0).unwrap();
        assert_eq!(local_midnight_ms(now, plus2), 1_751_328_000_000 - 2 * 3_600_000);
    }

    #[test]
    fn sizes() {
        assert_eq!(human_bytes(512), "512 B");
        assert_eq!(human_bytes(1536), "1.5 KiB");
        assert_eq!(human_bytes(3 * 1024 * 1024), "3.0 MiB");
    }
}
