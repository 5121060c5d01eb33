//! Opening connections with the settings every connection needs (WAL, busy timeout, foreign keys).

use std::path::Path;
use std::time::Duration;

use rusqlite::{Connection, OpenFlags};

use crate::{Result, StoreError};

/// How long a connection waits on a lock before giving up.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// The database holds every delivery (bodies with customers' names and addresses): readable by its
/// owner only (0600), like the settings and the token. A new file is created so before SQLite opens
/// it, which gives its WAL and shared-memory files the same mode; an older, wider one is narrowed.
pub(crate) fn make_private(path: &Path) -> Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
        let err = |source| StoreError::Private { path: path.to_owned(), source };
        match std::fs::metadata(path) {
            Ok(meta) if meta.permissions().mode() & 0o077 != 0 => {
                for file in [path.to_owned(), wal_path(path), beside(path, "-shm")] {
                    if file.exists() {
                        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600))
                            .map_err(err)?;
                    }
                }
            }
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                std::fs::OpenOptions::new()
                    .write(true)
                    .create_new(true)
                    .mode(0o600)
                    .open(path)
                    .map_err(err)?;
            }
            Err(e) => return Err(err(e)),
        }
    }
    Ok(())
}

/// The writer's connection, and whether it is in WAL mode.
///
/// Durability: in WAL mode the connection commits with `synchronous=NORMAL` (the commit writes its
/// frames to the WAL without waiting for the disk) and the writer's sync thread then fsyncs the WAL
/// file before anyone is answered (see [`crate::writer`]): the same guarantee as `synchronous=FULL`
/// (an acknowledged delivery survives a power cut, not just a crash of the process), but the next
/// group is written while the disk works on the previous one. `full_sync: false` skips that fsync
/// (tests and throwaway stores only). Without WAL, SQLite syncs at each commit itself.
pub(crate) fn open_writer(path: &Path, full_sync: bool) -> Result<(Connection, bool)> {
    let open_err = |source| StoreError::Open { path: path.to_owned(), source };
    let conn = Connection::open(path).map_err(open_err)?;
    conn.busy_timeout(BUSY_TIMEOUT).map_err(open_err)?;
    // journal_mode returns a row; query it rather than execute.
    let mode: String = conn.query_row("PRAGMA journal_mode=WAL", [], |r| r.get(0)).map_err(open_err)?;
    let wal = mode.eq_ignore_ascii_case("wal");
    if !wal {
        tracing::warn!(%mode, "SQLite refused WAL mode; continuing with {mode}");
    }
    let sync = if wal || !full_sync { "PRAGMA synchronous=NORMAL;" } else { "PRAGMA synchronous=FULL;" };
    conn.execute_batch(sync).map_err(open_err)?;
    // Savepoint sub-journals and the search queue stay in memory; a 16 MiB page cache holds the
    // b-trees' hot pages. The WAL is copied back by SQLite's own automatic checkpoint (every 1,000
    // pages, after a commit), which keeps it from growing under a sustained load (a checkpoint that
    // never catches up with a writer committing all the time lets the WAL grow without end), and by
    // [`checkpointer`] once the writer is idle.
    conn.execute_batch("PRAGMA foreign_keys=ON; PRAGMA temp_store=MEMORY; PRAGMA cache_size=-16384;")
        .map_err(open_err)?;
    crate::search::prepare_queue(&conn)?;
    Ok((conn, wal))
}

/// The WAL file of the database at `path`.
pub(crate) fn wal_path(path: &Path) -> std::path::PathBuf {
    beside(path, "-wal")
}

/// A file SQLite keeps beside the database: its name plus `suffix` (`-wal`, `-shm`).
fn beside(path: &Path, suffix: &str) -> std::path::PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(suffix);
    std::path::PathBuf::from(name)
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

/// Copies the WAL back into the database file every `every`, on its own connection (PASSIVE: it
/// never blocks the writer or readers), and starts it over once the writer is idle and when the
/// store closes, so that a quiet store is one file. Ends when `stop` drops.
pub(crate) fn checkpointer(
    path: &Path,
    every: Duration,
    stop: std::sync::mpsc::Receiver<()>,
) -> Result<std::thread::JoinHandle<()>> {
    let conn = Connection::open(path).map_err(|source| StoreError::Open { path: path.to_owned(), source })?;
    conn.busy_timeout(BUSY_TIMEOUT)?;
    // A checkpoint syncs the WAL before copying it and the database after: it never loses what the
    // writer's sync thread has acknowledged.
    conn.execute_batch("PRAGMA synchronous=FULL;")?;
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
            if let Err(e) = conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(())) {
                tracing::warn!(error = %e, "the WAL could not be copied into the database at stop");
            }
        })
        .map_err(|e| StoreError::Open {
            path: path.to_owned(),
            source: rusqlite::Error::ToSqlConversionFailure(Box::new(e)),
        })
}
