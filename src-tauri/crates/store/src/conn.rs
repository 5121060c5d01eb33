//! Opening connections with the settings every connection needs (WAL, busy timeout, foreign keys).

use std::path::Path;
use std::time::Duration;

use rusqlite::{Connection, OpenFlags};

use crate::{Result, StoreError};

/// How long a connection waits on a lock before giving up.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// The writer's connection. `full_sync`: fsync the WAL at every commit, so an acknowledged delivery
/// survives a power cut, not just a crash of the process.
pub(crate) fn open_writer(path: &Path, full_sync: bool) -> Result<Connection> {
    let open_err = |source| StoreError::Open { path: path.to_owned(), source };
    let conn = Connection::open(path).map_err(open_err)?;
    conn.busy_timeout(BUSY_TIMEOUT).map_err(open_err)?;
    // journal_mode returns a row; query it rather than execute.
    let mode: String = conn.query_row("PRAGMA journal_mode=WAL", [], |r| r.get(0)).map_err(open_err)?;
    if !mode.eq_ignore_ascii_case("wal") {
        tracing::warn!(%mode, "SQLite refused WAL mode; continuing with {mode}");
    }
    conn.execute_batch(if full_sync {
        "PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON;"
    } else {
        "PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON;"
    })
    .map_err(open_err)?;
    Ok(conn)
}

/// A read-only connection for queries.
pub(crate) fn open_reader(path: &Path) -> Result<Connection> {
    let open_err = |source| StoreError::Open { path: path.to_owned(), source };
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX | OpenFlags::SQLITE_OPEN_URI,
    )
    .map_err(open_err)?;
    conn.busy_timeout(BUSY_TIMEOUT).map_err(open_err)?;
    conn.execute_batch("PRAGMA foreign_keys=ON;").map_err(open_err)?;
    Ok(conn)
}
