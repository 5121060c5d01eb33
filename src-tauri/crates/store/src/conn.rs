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
    // Savepoint sub-journals stay in memory (a temp file per savepoint was most of the writer's I/O),
    // and WAL checkpoints run on their own thread ([`checkpointer`]) instead of stalling a commit.
    conn.execute_batch(if full_sync {
        "PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON; PRAGMA temp_store=MEMORY; PRAGMA wal_autocheckpoint=0;"
    } else {
        "PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON; PRAGMA temp_store=MEMORY; PRAGMA wal_autocheckpoint=0;"
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

/// Copies the WAL back into the database file every `every`, on its own connection, so commits never
/// wait for a checkpoint. PASSIVE: it never blocks the writer or readers; ends when `stop` drops.
pub(crate) fn checkpointer(path: &Path, every: Duration, stop: std::sync::mpsc::Receiver<()>) -> Result<()> {
    let conn = Connection::open(path).map_err(|source| StoreError::Open { path: path.to_owned(), source })?;
    conn.busy_timeout(BUSY_TIMEOUT)?;
    std::thread::Builder::new()
        .name("shipwatch-checkpoint".into())
        .spawn(move || {
            use std::sync::mpsc::RecvTimeoutError;
            let mut last_wal_pages = 0i64;
            while let Err(RecvTimeoutError::Timeout) = stop.recv_timeout(every) {
                match conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |r| r.get::<_, i64>(1)) {
                    Ok(pages) => {
                        // Once the writer is idle and everything is copied, start the WAL over.
                        if pages > 0 && pages == last_wal_pages {
                            let _ = conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()));
                        }
                        last_wal_pages = pages;
                    }
                    Err(e) => tracing::warn!(error = %e, "WAL checkpoint failed"),
                }
            }
            let _ = conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()));
        })
        .map_err(|e| StoreError::Open {
            path: path.to_owned(),
            source: rusqlite::Error::ToSqlConversionFailure(Box::new(e)),
        })?;
    Ok(())
}
