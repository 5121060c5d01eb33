//! Keeps the WAL from growing without end under a sustained burst, and with it the cost of every
//! fsync.
//!
//! SQLite starts the WAL over (writes it again from its first frame) only when a write transaction
//! begins with every frame already copied into the database. The checkpointer thread copies in the
//! background, but while deliveries keep coming the writer always adds frames during its copy, so
//! under a burst the WAL never started over: 40,000 deliveries left 320 MB of WAL, and every fsync
//! of a growing file also wrote the file's size (the inode) and waited for it, a second write per
//! fsync. So the writer watches the WAL's length (SQLite's WAL hook reports it after each commit):
//! - every quarter of [`crate::WriterConfig::wal_restart_frames`] new frames it wakes the checkpointer,
//!   which copies them in the background while the writer goes on;
//! - past `wal_restart_frames` it runs a checkpoint itself between two transactions: it copies only
//!   what the checkpointer has not, and with every frame copied, its next transaction starts the WAL
//!   over (unless a reader still uses the old frames: then it tries again after its next commit).
//!
//! The checkpoints sync the WAL before copying it and the database after: what the sync thread
//! has not yet acknowledged is on disk before its pages move.

use std::ffi::{c_char, c_int, c_void};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;

use rusqlite::{ffi, Connection};

/// The writer's view of its WAL's length, and the checkpointer to wake.
pub(crate) struct WalLimit {
    frames: Arc<AtomicU32>,
    db: *mut ffi::sqlite3,
    checkpointer: std::sync::mpsc::Sender<()>,
    /// The length at which the checkpointer is next woken.
    next_nudge: u32,
    restart_frames: u32,
    nudge_frames: u32,
}

/// SQLite's WAL hook: records the WAL's length after each commit.
unsafe extern "C" fn record_frames(
    arg: *mut c_void,
    _db: *mut ffi::sqlite3,
    _name: *const c_char,
    frames: c_int,
) -> c_int {
    // SAFETY: `arg` is the `AtomicU32` of a `WalLimit`, which unregisters the hook before it drops.
    let count = unsafe { &*(arg as *const AtomicU32) };
    count.store(u32::try_from(frames).unwrap_or(0), Ordering::Relaxed);
    ffi::SQLITE_OK
}

impl WalLimit {
    /// Watches `conn`'s WAL, to start it over past `restart_frames`; `checkpointer` wakes the
    /// checkpointer thread.
    pub(crate) fn new(
        conn: &Connection,
        restart_frames: u32,
        checkpointer: std::sync::mpsc::Sender<()>,
    ) -> WalLimit {
        let frames = Arc::new(AtomicU32::new(0));
        // SAFETY: the handle is the writer's open connection; the hook's argument lives in `frames`,
        // which this struct keeps until `Drop` has unregistered the hook.
        let db = unsafe { conn.handle() };
        unsafe { ffi::sqlite3_wal_hook(db, Some(record_frames), Arc::as_ptr(&frames) as *mut c_void) };
        let restart_frames = restart_frames.max(4);
        let nudge_frames = restart_frames / 4;
        WalLimit { frames, db, checkpointer, next_nudge: nudge_frames, restart_frames, nudge_frames }
    }

    /// After a commit: wakes the checkpointer every quarter of `restart_frames` new frames, and past
    /// `restart_frames` copies the rest itself so that the next transaction starts the WAL over.
    pub(crate) fn after_commit(&mut self, conn: &Connection) {
        let frames = self.frames.load(Ordering::Relaxed);
        if frames < self.next_nudge.saturating_sub(self.nudge_frames) {
            // The WAL started over.
            self.next_nudge = self.nudge_frames;
        }
        if frames >= self.restart_frames {
            match conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |r| {
                Ok((r.get::<_, i64>(1)?, r.get::<_, i64>(2)?))
            }) {
                Ok((log, copied)) => tracing::trace!(log, copied, "checkpoint to start the WAL over"),
                Err(e) => tracing::warn!(error = %e, "WAL checkpoint failed"),
            }
            self.next_nudge = self.nudge_frames;
        } else if frames >= self.next_nudge {
            let _ = self.checkpointer.send(());
            self.next_nudge = frames + self.nudge_frames;
        }
    }
}

impl Drop for WalLimit {
    fn drop(&mut self) {
        // SAFETY: the connection is still open (the writer drops this first).
        unsafe { ffi::sqlite3_wal_hook(self.db, None, std::ptr::null_mut()) };
    }
}
