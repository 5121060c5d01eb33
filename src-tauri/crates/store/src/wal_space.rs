//! Keeping the WAL file's disk blocks written ahead of SQLite's frames.
//!
//! Under a steady load the WAL only grows: the checkpointer copies frames back but never sees the
//! WAL whole, so SQLite does not start it over until the load stops. Appending to a file is the slow
//! way to write it: every fsync must also commit the file's new size and blocks to the filesystem's
//! journal, and the kernel takes a fresh page for every frame. Measured on the development VM, an
//! fsync after appending 40 KB took 2–10 times as long as one after overwriting 40 KB, for 2–3 times
//! the CPU. So, as PostgreSQL does with its WAL segments, a thread (`shipwatch-wal`) writes zeros past
//! the WAL's end and syncs them, in large pieces and off the path of any delivery, and the frames the
//! writer commits land on blocks that already exist: the fsync before each answer writes data only.
//!
//! Nothing of the database depends on it: SQLite reads a WAL from its header until the first frame
//! that is not valid, and a frame of zeros is not (nor are the old frames SQLite leaves when it starts
//! a WAL over). Zeros are only ever written past the end of the file, under [`WalSpace::writing`],
//! which the writer holds whenever SQLite may write to the WAL: they never land on a frame.

use std::os::unix::fs::FileExt;
use std::path::PathBuf;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{mpsc, Arc, Mutex, MutexGuard};

/// How far past the WAL's last frame its blocks are kept written.
const AHEAD: u64 = 16 << 20;
/// Zeros written per hold of the lock (the writer waits at most for one such write).
const PIECE: usize = 256 << 10;
/// The writer wakes the thread each time the WAL's end crosses a multiple of this.
const STEP: u64 = 1 << 20;
/// The WAL file's header, then per frame a header and a page (SQLite's WAL format).
const WAL_HEADER: u64 = 32;
const FRAME_HEADER: u64 = 24;

static ZEROS: [u8; PIECE] = [0; PIECE];

/// The writer's side: the lock it holds while SQLite writes, and what it tells the thread.
pub(crate) struct WalSpace {
    shared: Arc<Shared>,
    page_size: u64,
    frames: WalFrames,
    /// The last [`STEP`] of the WAL's end the thread was told of.
    told: u64,
    wake: Option<mpsc::SyncSender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

struct Shared {
    /// Held by the writer while SQLite may write to the WAL, and by the thread while it writes zeros.
    writing: Mutex<()>,
    /// Bytes of the WAL holding frames, after the writer's last commit.
    end: AtomicI64,
    wal: PathBuf,
}

impl WalSpace {
    /// Starts the thread for the WAL of `conn` (the writer's connection, in WAL mode).
    pub(crate) fn start(conn: &rusqlite::Connection, wal: PathBuf) -> std::io::Result<WalSpace> {
        let page_size: i64 =
            conn.query_row("PRAGMA page_size", [], |r| r.get(0)).map_err(std::io::Error::other)?;
        let shared = Arc::new(Shared { writing: Mutex::new(()), end: AtomicI64::new(0), wal });
        let (wake, woken) = mpsc::sync_channel::<()>(1);
        let thread_shared = shared.clone();
        let thread = std::thread::Builder::new()
            .name("shipwatch-wal".into())
            .spawn(move || keep_ahead(&thread_shared, &woken))?;
        // The thread first wakes at the first commit: an idle store keeps an empty WAL.
        Ok(WalSpace {
            shared,
            page_size: page_size as u64,
            frames: WalFrames::install(conn),
            told: u64::MAX,
            wake: Some(wake),
            thread: Some(thread),
        })
    }

    /// To hold while SQLite may write to the WAL (a transaction, maintenance).
    pub(crate) fn writing(&self) -> MutexGuard<'_, ()> {
        self.shared.writing.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// After a commit: wakes the thread when the WAL's end has moved to another [`STEP`].
    pub(crate) fn committed(&mut self) {
        let frames = self.frames.get().max(0) as u64;
        let end = WAL_HEADER + frames * (FRAME_HEADER + self.page_size);
        self.shared.end.store(end as i64, Ordering::Release);
        if end / STEP != self.told {
            self.told = end / STEP;
            if let Some(wake) = &self.wake {
                // Full: the thread has a wake-up pending already.
                let _ = wake.try_send(());
            }
        }
    }

    /// Stops the thread and removes the hook (before the connection closes).
    pub(crate) fn stop(mut self, conn: &rusqlite::Connection) {
        drop(self.wake.take());
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
        self.frames.remove(conn);
    }
}

/// The thread: on each wake-up, writes zeros past the end of the WAL file until it reaches
/// [`AHEAD`] past the last frame, then syncs them. Ends when the writer drops its sender.
fn keep_ahead(shared: &Shared, woken: &mpsc::Receiver<()>) {
    while woken.recv().is_ok() {
        if let Err(e) = extend(shared) {
            // Only speed is lost: SQLite appends to the file itself.
            tracing::debug!(error = %e, "could not write the WAL's space ahead");
        }
    }
}

fn extend(shared: &Shared) -> std::io::Result<()> {
    // Never created here: SQLite owns the file (it exists while the writer's connection is open).
    let file = std::fs::OpenOptions::new().write(true).open(&shared.wal)?;
    let mut wrote = false;
    loop {
        let wanted = shared.end.load(Ordering::Acquire).max(0) as u64 + AHEAD;
        let _writing = shared.writing.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        // Under the lock SQLite writes nothing: the file ends where its last write ended.
        let len = file.metadata()?.len();
        if len >= wanted {
            break;
        }
        file.write_all_at(&ZEROS, len)?;
        wrote = true;
    }
    if wrote {
        file.sync_data()?;
    }
    Ok(())
}

/// How many frames the writer's WAL holds, as SQLite reports after each commit (`sqlite3_wal_hook`).
/// The counter is never freed (eight bytes per store opened), so the hook can never outlive it.
struct WalFrames {
    frames: &'static AtomicI64,
}

unsafe extern "C" fn record_wal_frames(
    arg: *mut std::os::raw::c_void,
    _db: *mut rusqlite::ffi::sqlite3,
    _name: *const std::os::raw::c_char,
    frames: std::os::raw::c_int,
) -> std::os::raw::c_int {
    // SAFETY: `arg` is the leaked (never freed) `AtomicI64` of the `WalFrames` that installed this hook.
    let counter = unsafe { &*(arg as *const AtomicI64) };
    counter.store(i64::from(frames), Ordering::Relaxed);
    rusqlite::ffi::SQLITE_OK
}

impl WalFrames {
    /// Installs the hook on `conn` (the writer's connection; it must not have another WAL hook, and
    /// it replaces SQLite's automatic checkpoints, which the writer has off anyway).
    fn install(conn: &rusqlite::Connection) -> WalFrames {
        let frames: &'static AtomicI64 = Box::leak(Box::new(AtomicI64::new(0)));
        // SAFETY: the handle is the live connection's; the counter lives as long as the process.
        unsafe {
            rusqlite::ffi::sqlite3_wal_hook(
                conn.handle(),
                Some(record_wal_frames),
                frames as *const AtomicI64 as *mut std::os::raw::c_void,
            );
        }
        WalFrames { frames }
    }

    /// Frames in the WAL after the last commit.
    fn get(&self) -> i64 {
        self.frames.load(Ordering::Relaxed)
    }

    /// Removes the hook from `conn`.
    fn remove(self, conn: &rusqlite::Connection) {
        // SAFETY: the handle is the live connection's.
        unsafe {
            rusqlite::ffi::sqlite3_wal_hook(conn.handle(), None, std::ptr::null_mut());
        }
    }
}
