//! Small facts kept across restarts in the `meta` table: when the receiver was last alive, which public
//! URL the last delivery came through, the forward-mode watermark.

use rusqlite::{Connection, OptionalExtension};

use crate::Result;

/// The receiver's last heartbeat (Unix ms).
pub const RECEIVER_ALIVE_AT: &str = "receiver.alive_at";
/// The public URL in effect when the last delivery arrived.
pub const LAST_DELIVERY_PUBLIC_URL: &str = "public_url.at_last_delivery";
/// The highest delivery id forward mode has looked at.
pub const FORWARD_WATERMARK: &str = "forward.last_delivery_id";

pub fn get(conn: &Connection, key: &str) -> Result<Option<String>> {
    Ok(conn
        .prepare_cached("SELECT value FROM meta WHERE key = ?1")?
        .query_row([key], |r| r.get(0))
        .optional()?)
}

pub fn set(conn: &Connection, key: &str, value: &str) -> Result<()> {
    conn.prepare_cached(
        "INSERT INTO meta (key, value) VALUES (?1, ?2) ON CONFLICT(key) DO UPDATE SET value = ?2",
    )?
    .execute([key, value])?;
    Ok(())
}

pub fn delete(conn: &Connection, key: &str) -> Result<()> {
    conn.prepare_cached("DELETE FROM meta WHERE key = ?1")?.execute([key])?;
    Ok(())
}
