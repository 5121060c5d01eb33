//! The writer connection's VFS, `shipwatch-wal`: SQLite's own unix VFS, except that the frames of a
//! commit reach the WAL file in one write instead of two system calls per frame.
//!
//! SQLite writes each WAL frame as two `pwrite`s (its 24-byte header, then the page): a 2 KB delivery
//! takes two frames, so a commit of 20 deliveries made ~80 system calls, a tenth of all the CPU the
//! store used and most of the commit's time, during which the fsync thread waits. Here the writes to
//! the WAL are gathered in memory and written at once when SQLite syncs the WAL at the end of the
//! commit, before it makes the commit visible to any reader: the writer runs with
//! `synchronous=FULL`, so SQLite syncs the WAL at every commit. That sync only writes what was
//! gathered: the fsync itself is the store's sync thread's, which answers nobody before it
//! (`writer.rs`). Syncs SQLite needs for checkpoints (and for a WAL it starts over) are asked with
//! `SQLITE_SYNC_FULL` (`checkpoint_fullfsync`) and go to the disk as ever.
//!
//! Anything else the WAL file is asked (a read, its size, a truncation, closing it) first writes
//! what was gathered, and errors are SQLite's errors as usual: the commit fails. Files other than the
//! WAL are the unix VFS's, untouched. Readers and the checkpointer use the default VFS.

use std::ffi::{c_int, c_void, CStr};
use std::sync::OnceLock;

use rusqlite::ffi;

/// The name to open the writer's connection with.
pub(crate) const NAME: &CStr = c"shipwatch-wal";

/// Gathered frames are written once they reach this, even before the commit's sync.
const MAX_GATHERED: usize = 4 << 20;
/// The most one write hands the unix VFS: its `pwrite` takes at most 128 KiB - 1 bytes a call
/// (`seekAndWriteFd` masks the length to 17 bits).
const MAX_WRITE: usize = 64 << 10;

/// A WAL file: what SQLite sees (`base`, first), the unix VFS's file right after it in the same
/// allocation (`real`), and the writes gathered since the last flush.
#[repr(C)]
struct WalFile {
    base: ffi::sqlite3_file,
    real: *mut ffi::sqlite3_file,
    gathered: Vec<u8>,
    /// The file offset of `gathered[0]`.
    at: i64,
}

/// Where the unix VFS's file starts in an allocation of `szOsFile` bytes.
const REAL_AT: usize = std::mem::size_of::<WalFile>().next_multiple_of(16);

struct Vfs {
    ours: *mut ffi::sqlite3_vfs,
    real: *mut ffi::sqlite3_vfs,
}

// SAFETY: both pointers are to VFS structs that live as long as the process (the default VFS, and
// ours, leaked); SQLite's VFS functions are thread-safe.
unsafe impl Send for Vfs {}
unsafe impl Sync for Vfs {}

static VFS: OnceLock<Option<Vfs>> = OnceLock::new();

/// Registers the VFS (once). `false`: it could not be (no default VFS), and the writer opens its
/// connection with SQLite's own.
pub(crate) fn register() -> bool {
    VFS.get_or_init(|| {
        // SAFETY: sqlite3_vfs_find and sqlite3_vfs_register are thread-safe; the struct handed to
        // SQLite is leaked, so it outlives every connection.
        unsafe {
            let real = ffi::sqlite3_vfs_find(std::ptr::null());
            if real.is_null() {
                return None;
            }
            let mut vfs = *real;
            vfs.zName = NAME.as_ptr();
            vfs.pNext = std::ptr::null_mut();
            vfs.szOsFile = (REAL_AT + (*real).szOsFile as usize) as c_int;
            vfs.xOpen = Some(open);
            let ours = Box::into_raw(Box::new(vfs));
            if ffi::sqlite3_vfs_register(ours, 0) != ffi::SQLITE_OK {
                return None;
            }
            Some(Vfs { ours, real })
        }
    })
    .as_ref()
    .is_some_and(|v| !v.ours.is_null())
}

fn real_vfs() -> *mut ffi::sqlite3_vfs {
    VFS.get().and_then(|v| v.as_ref()).map(|v| v.real).expect("opened through the registered VFS")
}

unsafe extern "C" fn open(
    _vfs: *mut ffi::sqlite3_vfs,
    name: ffi::sqlite3_filename,
    file: *mut ffi::sqlite3_file,
    flags: c_int,
    out_flags: *mut c_int,
) -> c_int {
    let real = real_vfs();
    // SAFETY (whole function): SQLite hands us `file`, an allocation of our szOsFile bytes; the unix
    // VFS's xOpen is called on memory of at least its own szOsFile, 16-byte aligned.
    unsafe {
        let real_open = (*real).xOpen.expect("the unix VFS opens files");
        if flags & ffi::SQLITE_OPEN_WAL == 0 {
            // Not the WAL: the unix VFS's own file, in place, with its own methods.
            return real_open(real, name, file, flags, out_flags);
        }
        let inner = (file as *mut u8).add(REAL_AT) as *mut ffi::sqlite3_file;
        let rc = real_open(real, name, inner, flags, out_flags);
        if rc != ffi::SQLITE_OK {
            (*file).pMethods = std::ptr::null();
            return rc;
        }
        std::ptr::write(
            file as *mut WalFile,
            WalFile {
                base: ffi::sqlite3_file { pMethods: &METHODS },
                real: inner,
                gathered: Vec::new(),
                at: 0,
            },
        );
        ffi::SQLITE_OK
    }
}

static METHODS: ffi::sqlite3_io_methods = ffi::sqlite3_io_methods {
    iVersion: 3,
    xClose: Some(close),
    xRead: Some(read),
    xWrite: Some(write),
    xTruncate: Some(truncate),
    xSync: Some(sync),
    xFileSize: Some(file_size),
    xLock: Some(lock),
    xUnlock: Some(unlock),
    xCheckReservedLock: Some(check_reserved_lock),
    xFileControl: Some(file_control),
    xSectorSize: Some(sector_size),
    xDeviceCharacteristics: Some(device_characteristics),
    xShmMap: Some(shm_map),
    xShmLock: Some(shm_lock),
    xShmBarrier: Some(shm_barrier),
    xShmUnmap: Some(shm_unmap),
    xFetch: Some(fetch),
    xUnfetch: Some(unfetch),
};

/// The WAL file SQLite handed back to one of our methods.
///
/// # Safety
/// `file` must be a file opened by [`open`] with the WAL flag (its methods are [`METHODS`]).
unsafe fn wal<'a>(file: *mut ffi::sqlite3_file) -> &'a mut WalFile {
    unsafe { &mut *(file as *mut WalFile) }
}

/// The unix VFS's methods of the real file.
///
/// # Safety
/// As [`wal`].
unsafe fn real_methods(w: &WalFile) -> &ffi::sqlite3_io_methods {
    unsafe { &*(*w.real).pMethods }
}

impl WalFile {
    /// Writes what was gathered, in one write; an error is SQLite's to handle (the gathered frames
    /// are dropped: SQLite fails the commit, and frames of a commit that failed are never read).
    fn flush(&mut self) -> c_int {
        #[cfg(test)]
        if !self.gathered.is_empty()
            && tests::FAIL_NEXT_FLUSH.swap(false, std::sync::atomic::Ordering::SeqCst)
        {
            self.gathered.clear();
            return ffi::SQLITE_IOERR_WRITE;
        }
        let mut rc = ffi::SQLITE_OK;
        // SAFETY: `real` is the unix VFS's open file, used from this one (the writer's) thread.
        let write = unsafe { real_methods(self).xWrite.expect("files are written") };
        let mut at = self.at;
        for piece in self.gathered.chunks(MAX_WRITE) {
            #[cfg(test)]
            tests::WRITES.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            rc = unsafe { write(self.real, piece.as_ptr() as *const c_void, piece.len() as c_int, at) };
            if rc != ffi::SQLITE_OK {
                break;
            }
            at += piece.len() as i64;
        }
        self.gathered.clear();
        rc
    }
}

unsafe extern "C" fn close(file: *mut ffi::sqlite3_file) -> c_int {
    unsafe {
        let w = wal(file);
        let flushed = w.flush();
        let closed = real_methods(w).xClose.expect("files close")(w.real);
        std::ptr::drop_in_place(&mut w.gathered);
        if flushed != ffi::SQLITE_OK {
            flushed
        } else {
            closed
        }
    }
}

unsafe extern "C" fn write(file: *mut ffi::sqlite3_file, buf: *const c_void, amt: c_int, at: i64) -> c_int {
    unsafe {
        let w = wal(file);
        if !w.gathered.is_empty() && at != w.at + w.gathered.len() as i64 {
            let rc = w.flush();
            if rc != ffi::SQLITE_OK {
                return rc;
            }
        }
        if w.gathered.is_empty() {
            w.at = at;
        }
        w.gathered.extend_from_slice(std::slice::from_raw_parts(buf as *const u8, amt.max(0) as usize));
        if w.gathered.len() >= MAX_GATHERED {
            return w.flush();
        }
        ffi::SQLITE_OK
    }
}

unsafe extern "C" fn sync(file: *mut ffi::sqlite3_file, flags: c_int) -> c_int {
    unsafe {
        let w = wal(file);
        let rc = w.flush();
        if rc != ffi::SQLITE_OK {
            return rc;
        }
        if flags & 0x0f == ffi::SQLITE_SYNC_FULL {
            // A checkpoint's, or a WAL started over: to the disk now.
            return real_methods(w).xSync.expect("files sync")(w.real, flags);
        }
        // A commit's: the store's sync thread fsyncs the WAL before anyone is answered.
        ffi::SQLITE_OK
    }
}

/// Methods that read the file or act on it as a whole: what was gathered is written first.
macro_rules! flush_then {
    ($name:ident, $method:ident ( $($arg:ident : $ty:ty),* )) => {
        unsafe extern "C" fn $name(file: *mut ffi::sqlite3_file, $($arg: $ty),*) -> c_int {
            unsafe {
                let w = wal(file);
                let rc = w.flush();
                if rc != ffi::SQLITE_OK {
                    return rc;
                }
                real_methods(w).$method.expect(stringify!($method))(w.real, $($arg),*)
            }
        }
    };
}

/// Methods that do not touch the file's bytes: straight to the unix VFS.
macro_rules! forward {
    ($name:ident, $method:ident ( $($arg:ident : $ty:ty),* ) -> $ret:ty) => {
        unsafe extern "C" fn $name(file: *mut ffi::sqlite3_file, $($arg: $ty),*) -> $ret {
            unsafe {
                let w = wal(file);
                real_methods(w).$method.expect(stringify!($method))(w.real, $($arg),*)
            }
        }
    };
}

flush_then!(read, xRead(buf: *mut c_void, amt: c_int, at: i64));
flush_then!(truncate, xTruncate(size: i64));
flush_then!(file_size, xFileSize(size: *mut i64));
flush_then!(file_control, xFileControl(op: c_int, arg: *mut c_void));
flush_then!(fetch, xFetch(at: i64, amt: c_int, out: *mut *mut c_void));
forward!(lock, xLock(level: c_int) -> c_int);
forward!(unlock, xUnlock(level: c_int) -> c_int);
forward!(check_reserved_lock, xCheckReservedLock(out: *mut c_int) -> c_int);
forward!(sector_size, xSectorSize() -> c_int);
forward!(device_characteristics, xDeviceCharacteristics() -> c_int);
forward!(shm_map, xShmMap(page: c_int, size: c_int, extend: c_int, out: *mut *mut c_void) -> c_int);
forward!(shm_lock, xShmLock(offset: c_int, n: c_int, flags: c_int) -> c_int);
forward!(shm_unmap, xShmUnmap(delete: c_int) -> c_int);
forward!(unfetch, xUnfetch(at: i64, p: *mut c_void) -> c_int);

unsafe extern "C" fn shm_barrier(file: *mut ffi::sqlite3_file) {
    unsafe {
        let w = wal(file);
        if let Some(barrier) = real_methods(w).xShmBarrier {
            barrier(w.real);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
    use std::sync::Mutex;

    use rusqlite::{Connection, OpenFlags};

    /// Writes handed to the unix VFS by WAL files of this VFS (all tests of this module).
    pub(super) static WRITES: AtomicU64 = AtomicU64::new(0);
    /// Makes the next flush of gathered frames fail, as a full disk would.
    pub(super) static FAIL_NEXT_FLUSH: AtomicBool = AtomicBool::new(false);
    /// The counters are process-wide: the tests of this module take turns.
    static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

    /// A connection through the VFS, set up as the writer's (WAL, synchronous=FULL).
    fn writer(path: &std::path::Path) -> Connection {
        assert!(super::register());
        let conn =
            Connection::open_with_flags_and_vfs(path, OpenFlags::default(), super::NAME.to_str().unwrap())
                .unwrap();
        let mode: String = conn.query_row("PRAGMA journal_mode=WAL", [], |r| r.get(0)).unwrap();
        assert_eq!(mode, "wal");
        conn.execute_batch(
            "PRAGMA synchronous=FULL; PRAGMA checkpoint_fullfsync=ON; PRAGMA wal_autocheckpoint=0;
             CREATE TABLE IF NOT EXISTS t (id INTEGER PRIMARY KEY, body BLOB NOT NULL);",
        )
        .unwrap();
        conn
    }

    fn rows(path: &std::path::Path) -> i64 {
        Connection::open(path).unwrap().query_row("SELECT count(*) FROM t", [], |r| r.get(0)).unwrap()
    }

    fn insert(conn: &Connection, n: usize) {
        conn.execute_batch("BEGIN IMMEDIATE").unwrap();
        for _ in 0..n {
            conn.execute("INSERT INTO t (body) VALUES (?1)", [vec![7u8; 2_100]]).unwrap();
        }
    }

    #[test]
    fn a_commit_reaches_the_wal_in_a_few_writes_and_is_then_visible_to_others() {
        let _turn = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.db");
        let conn = writer(&path);
        let wal = dir.path().join("t.db-wal");

        // 20 rows of 2.1 KB: some 25 frames, 50 pwrites through SQLite's own VFS.
        let before = WRITES.load(Ordering::SeqCst);
        insert(&conn, 20);
        assert_eq!(WRITES.load(Ordering::SeqCst), before, "nothing is written before the commit");
        conn.execute_batch("COMMIT").unwrap();
        let writes = WRITES.load(Ordering::SeqCst) - before;
        let frames = (std::fs::metadata(&wal).unwrap().len() - 32) / 4120;
        assert!(frames >= 20, "{frames} frames");
        assert!((1..=3).contains(&writes), "{frames} frames took {writes} writes");

        // Another connection (SQLite's own VFS) sees the commit, and so does a copy of the files (a
        // crash right after the commit: the frames are in the file, not in our memory).
        assert_eq!(rows(&path), 20);
        let copy = tempfile::tempdir().unwrap();
        std::fs::copy(&path, copy.path().join("t.db")).unwrap();
        std::fs::copy(&wal, copy.path().join("t.db-wal")).unwrap();
        assert_eq!(rows(&copy.path().join("t.db")), 20);

        // More commits append after it, and the writer reads back what it wrote.
        for _ in 0..5 {
            insert(&conn, 7);
            conn.execute_batch("COMMIT").unwrap();
        }
        let n: i64 = conn.query_row("SELECT count(*) FROM t", [], |r| r.get(0)).unwrap();
        assert_eq!((n, rows(&path)), (55, 55));
        // A checkpoint copies every frame back, and a WAL started over keeps working.
        conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(())).unwrap();
        insert(&conn, 3);
        conn.execute_batch("COMMIT").unwrap();
        assert_eq!(rows(&path), 58);
        drop(conn);
        let ok: String =
            Connection::open(&path).unwrap().query_row("PRAGMA integrity_check", [], |r| r.get(0)).unwrap();
        assert_eq!(ok, "ok");
    }

    #[test]
    fn a_commit_larger_than_the_unix_vfs_writes_at_once_is_written_whole() {
        let _turn = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.db");
        let conn = writer(&path);
        // About 2.5 MB in one commit: many pieces of at most 64 KiB.
        insert(&conn, 1_200);
        conn.execute_batch("COMMIT").unwrap();
        assert_eq!(rows(&path), 1_200);
    }

    #[test]
    fn a_write_that_fails_fails_its_commit_and_nothing_of_it_is_seen() {
        let _turn = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.db");
        let conn = writer(&path);
        insert(&conn, 5);
        conn.execute_batch("COMMIT").unwrap();

        insert(&conn, 5);
        FAIL_NEXT_FLUSH.store(true, Ordering::SeqCst);
        let err = conn.execute_batch("COMMIT").unwrap_err();
        assert!(err.to_string().contains("disk I/O error"), "{err}");
        if !conn.is_autocommit() {
            conn.execute_batch("ROLLBACK").unwrap();
        }
        assert_eq!(rows(&path), 5, "the failed commit is not visible");
        let n: i64 = conn.query_row("SELECT count(*) FROM t", [], |r| r.get(0)).unwrap();
        assert_eq!(n, 5, "nor to the writer");

        // The next commit works, and the file holds exactly the committed rows.
        insert(&conn, 2);
        conn.execute_batch("COMMIT").unwrap();
        assert_eq!(rows(&path), 7);
        drop(conn);
        let ok: String =
            Connection::open(&path).unwrap().query_row("PRAGMA integrity_check", [], |r| r.get(0)).unwrap();
        assert_eq!(ok, "ok");
    }
}
