//! Retention: deleting the oldest deliveries beyond an age or a database size, never one that set a
//! shipment's current state, never one that holds a shipment's timeline (its base, see
//! [`crate::timeline`]) and never one a kept duplicate points at: every shipment keeps its whole
//! timeline. Nor the newest delivery: SQLite gives a new row the largest id plus one, so deleting the
//! newest would hand its id to the next delivery, and a link or a live event naming that id would
//! then mean another delivery.

use rusqlite::{params, Connection};

use crate::Result;

/// Bytes of live data in the database (pages in use × page size).
pub fn live_bytes(conn: &Connection) -> Result<u64> {
    let (pages, free, size): (i64, i64, i64) = conn.query_row(
        "SELECT (SELECT page_count FROM pragma_page_count), (SELECT freelist_count FROM pragma_freelist_count),
                (SELECT page_size FROM pragma_page_size)",
        [],
        |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
    )?;
    Ok(((pages - free).max(0) * size) as u64)
}

const DELETABLE: &str =
    "id NOT IN (SELECT state_delivery_id FROM shipments WHERE state_delivery_id IS NOT NULL)
     AND id NOT IN (SELECT timeline_base_delivery_id FROM shipments WHERE timeline_base_delivery_id IS NOT NULL)
     AND id NOT IN (SELECT duplicate_of FROM deliveries WHERE duplicate_of IS NOT NULL)
     AND id < (SELECT max(id) FROM deliveries)";

/// Deletes up to `limit` deliveries received before `cutoff_ms`, oldest first. Returns how many.
pub fn delete_older_than(conn: &Connection, cutoff_ms: i64, limit: usize) -> Result<usize> {
    delete_deliveries(
        conn,
        &format!("SELECT id FROM deliveries WHERE received_at < ?1 AND {DELETABLE} ORDER BY id LIMIT ?2"),
        params![cutoff_ms, limit as i64],
    )
}

/// Deletes up to `limit` of the oldest deletable deliveries. Returns how many.
pub fn delete_oldest(conn: &Connection, limit: usize) -> Result<usize> {
    delete_deliveries(
        conn,
        &format!("SELECT id FROM deliveries WHERE {DELETABLE} ORDER BY id LIMIT ?1"),
        params![limit as i64],
    )
}

/// Deletes the deliveries `select` lists, with the rows that belong to them (their event key, their
/// forwards). Explicitly, not by the schema's `ON DELETE CASCADE`: retention runs on the writer's
/// connection, which does not enforce foreign keys (`conn.rs`).
fn delete_deliveries(conn: &Connection, select: &str, args: impl rusqlite::Params) -> Result<usize> {
    let ids: Vec<i64> =
        conn.prepare(select)?.query_map(args, |r| r.get(0))?.collect::<rusqlite::Result<_>>()?;
    let mut events = conn.prepare_cached("DELETE FROM delivery_events WHERE delivery_id = ?1")?;
    let mut forwards = conn.prepare_cached("DELETE FROM forwards WHERE delivery_id = ?1")?;
    let mut deliveries = conn.prepare_cached("DELETE FROM deliveries WHERE id = ?1")?;
    for id in &ids {
        events.execute([id])?;
        forwards.execute([id])?;
        deliveries.execute([id])?;
    }
    Ok(ids.len())
}
