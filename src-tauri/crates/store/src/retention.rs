//! Retention: deleting the oldest deliveries beyond an age or a database size, never one that set a
//! shipment's current state, never one that holds a shipment's timeline (its base, see
//! [`crate::timeline`]) and never one a kept duplicate points at: every shipment keeps its whole
//! timeline. Ids are never reused (AUTOINCREMENT), so a link or a live event naming a deleted
//! delivery never comes to mean another one. What belongs to a deleted delivery (its forwards) goes
//! with it by the schema's `ON DELETE CASCADE`.

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
     AND id NOT IN (SELECT duplicate_of FROM deliveries WHERE duplicate_of IS NOT NULL)";

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

/// Deletes the deliveries `select` lists (their forwards go with them: `ON DELETE CASCADE`).
fn delete_deliveries(conn: &Connection, select: &str, args: impl rusqlite::Params) -> Result<usize> {
    let ids: Vec<i64> =
        conn.prepare(select)?.query_map(args, |r| r.get(0))?.collect::<rusqlite::Result<_>>()?;
    let mut delete = conn.prepare_cached("DELETE FROM deliveries WHERE id = ?1")?;
    for id in &ids {
        delete.execute([id])?;
    }
    Ok(ids.len())
}
