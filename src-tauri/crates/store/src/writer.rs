//! [`Store`]: the single writer thread and the pool of readers.
//!
//! Every write goes through one thread that owns the only read-write connection. It applies each
//! delivery (or notification) as it arrives to an open IMMEDIATE transaction, without a savepoint;
//! should one fail, the transaction is rolled back and its jobs run again with one savepoint each,
//! so one bad delivery cannot fail the others. Generic writes ([`Store::write`]) run in savepoints.
//!
//! A commit writes the group's frames to the WAL; a second thread (`shipwatch-sync`) then fsyncs the
//! WAL file and only then answers each caller, so a 2xx is never sent for a delivery that is not on
//! disk. The writer commits when that thread is free: while it fsyncs one group, the writer applies
//! the deliveries arriving meanwhile to the next, so the disk's latency and the writer's work overlap
//! instead of adding up, and each fsync is of one commit of everything that arrived.
//! If an fsync ever fails, that group is answered with an error and the store refuses every later
//! write ([`StoreError::DiskFailed`]): after a failed fsync the kernel may have dropped the pages, and
//! WAL recovery would stop at the gap, so nothing written after it could be promised either.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use rusqlite::Connection;
use tokio::sync::{mpsc, oneshot};

use crate::projection::Inserted;
use crate::{conn, migrations, NewDelivery, Result, StoreError, StoredDelivery};

/// Writer tuning.
#[derive(Clone, Debug)]
pub struct WriterConfig {
    /// fsync the WAL at each commit (`synchronous=FULL`): survives power loss, not just a crash.
    pub full_sync: bool,
    /// Most jobs in one transaction.
    pub max_batch: usize,
    /// Jobs that may wait for the writer; senders wait beyond that (backpressure, bounded memory).
    pub queue: usize,
}

impl Default for WriterConfig {
    fn default() -> Self {
        WriterConfig { full_sync: true, max_batch: 256, queue: 1024 }
    }
}

/// A notification decision to keep (sent, suppressed with its reason, or failed).
#[derive(Clone, Debug, PartialEq)]
pub struct NotificationRecord {
    pub created_at_ms: i64,
    pub shipment_id: Option<i64>,
    pub delivery_id: Option<i64>,
    pub tag: Option<String>,
    pub summary: String,
    pub body: String,
    /// `sent`, `suppressed` or `failed`.
    pub outcome: String,
    pub reason: Option<String>,
}

/// A write of any shape, run inside the batch transaction (in its own savepoint); true when it worked.
type ExecFn = Box<dyn FnOnce(&Connection) -> bool + Send>;
/// Told whether the batch that ran an [`ExecFn`] committed.
type FinishFn = Box<dyn FnOnce(bool) + Send>;
/// Work run by the writer outside any transaction (VACUUM, checkpoints).
type MaintenanceFn = Box<dyn FnOnce(&Connection) + Send>;

/// A delivery on its way to the writer, with what its caller prepared off the writer thread (the
/// writer is the one thread every delivery waits for: it only runs SQL).
pub(crate) struct PendingInsert {
    pub(crate) delivery: NewDelivery,
    /// The headers and the body as stored (encoded: [`crate::bodies`]).
    pub(crate) stored: crate::bodies::StoredBlobs,
}

/// The writer's answer to an insert: what it did, and the delivery handed back so that its memory
/// is freed by the caller, not by the writer.
struct InsertAnswer {
    result: Result<Inserted>,
    pending: Box<PendingInsert>,
}

enum Job {
    Insert(Box<PendingInsert>, oneshot::Sender<InsertAnswer>),
    Notification(Box<NotificationRecord>, oneshot::Sender<Result<i64>>),
    Exec(ExecFn, FinishFn),
    Maintenance(MaintenanceFn),
    /// From the sync thread: it has answered every group (the writer may commit the open one).
    Wake,
}

/// Handle to the database: cheap to clone.
#[derive(Clone)]
pub struct Store {
    jobs: mpsc::Sender<Job>,
    readers: Arc<ReaderPool>,
    path: Arc<PathBuf>,
    /// Set once an fsync of the WAL has failed: every write is refused from then on.
    disk_failed: Arc<AtomicBool>,
    writer: Arc<Mutex<Option<std::thread::JoinHandle<()>>>>,
    /// How headers and bodies are encoded (the current dictionary).
    bodies: Arc<crate::bodies::Bodies>,
}

impl Store {
    /// Opens (creating if needed) `shipwatch.db` in `data_dir`, applies migrations and starts the writer.
    pub fn open(data_dir: &Path, config: WriterConfig) -> Result<Store> {
        Self::open_file(&crate::db_path(data_dir), config)
    }

    /// Opens a database at an explicit path.
    pub fn open_file(path: &Path, config: WriterConfig) -> Result<Store> {
        conn::make_private(path)?;
        let (mut conn, wal) = conn::open_writer(path, config.full_sync)?;
        migrations::migrate(&mut conn, path)?;
        let bodies = Arc::new(crate::bodies::Bodies::load(&conn)?);
        // A reader up front proves the file is readable and primes the pool.
        let first_reader = conn::open_reader(path)?;
        let (stop_checkpoints, checkpoints_stopped) = std::sync::mpsc::channel::<()>();
        let checkpointer =
            conn::checkpointer(path, std::time::Duration::from_millis(500), checkpoints_stopped)?;
        let (tx, rx) = mpsc::channel(config.queue.max(1));
        let max_batch = config.max_batch.max(1);
        let thread_err = |e: std::io::Error| StoreError::Open {
            path: path.to_owned(),
            source: rusqlite::Error::ToSqlConversionFailure(Box::new(e)),
        };
        let disk_failed = Arc::new(AtomicBool::new(false));
        let (committed_tx, committed_rx) = std::sync::mpsc::sync_channel::<Vec<Outcome>>(config.queue.max(1));
        // Without WAL, SQLite syncs at each commit itself; `full_sync: false` never syncs.
        let wal_to_sync = (wal && config.full_sync).then(|| conn::wal_path(path));
        let failed = disk_failed.clone();
        let refusing = disk_failed.clone();
        let syncing = Arc::new(Syncing { groups: Default::default(), wake: tx.downgrade() });
        let answered = syncing.clone();
        let syncer = std::thread::Builder::new()
            .name("shipwatch-sync".into())
            .spawn(move || sync_loop(committed_rx, wal_to_sync, failed, &answered))
            .map_err(thread_err)?;
        let handle = std::thread::Builder::new()
            .name("shipwatch-writer".into())
            .spawn(move || {
                writer_loop(&conn, rx, max_batch, &committed_tx, &syncing, &disk_failed);
                // The sync thread answers what is still committed but not yet synced, then ends.
                drop(committed_tx);
                let _ = syncer.join();
                // Last, everything is copied into the database file and the WAL emptied: a store
                // closed cleanly is one file (a backup that copies only it misses nothing).
                drop(stop_checkpoints);
                let _ = checkpointer.join();
            })
            .map_err(thread_err)?;
        Ok(Store {
            jobs: tx,
            readers: Arc::new(ReaderPool { path: path.to_owned(), idle: Mutex::new(vec![first_reader]) }),
            path: Arc::new(path.to_owned()),
            disk_failed: refusing,
            writer: Arc::new(Mutex::new(Some(handle))),
            bodies,
        })
    }

    /// The dictionary new bodies are compressed with, once one is trained.
    pub fn dictionary_id(&self) -> Option<i64> {
        self.bodies.dictionary_id()
    }

    /// Trains a dictionary for the bodies when one is due ([`crate::bodies`]: the first after
    /// [`crate::bodies::TRAIN_AFTER`] deliveries, then one every [`crate::bodies::RETRAIN_EVERY`]),
    /// keeps it, and compresses the deliveries stored from then on with it. Returns its id, or
    /// `None` when none was due. Runs the training on a blocking thread, never on the writer.
    pub async fn train_dictionary_if_due(&self, now_ms: i64) -> Result<Option<i64>> {
        let current = self.bodies.dictionary_id();
        let Some(samples) = self.read(move |c| crate::bodies::samples_if_due(c, current)).await? else {
            return Ok(None);
        };
        let count = samples.len() as i64;
        let bytes = tokio::task::spawn_blocking(move || {
            shipwatch_bodies::train(&samples, shipwatch_bodies::DEFAULT_DICTIONARY_SIZE)
        })
        .await
        .map_err(|_| StoreError::WriterGone)?
        .map_err(|e| StoreError::Codec(e.to_string()))?;
        let dict = shipwatch_bodies::Dictionary { id: crate::bodies::new_dictionary_id(), bytes };
        let (id, stored) = (dict.id, dict.bytes.clone());
        self.write(move |c| {
            c.execute(
                "INSERT INTO dictionaries (id, created_at, samples, bytes) VALUES (?1, ?2, ?3, ?4)",
                rusqlite::params![id, now_ms, count, stored],
            )?;
            Ok(())
        })
        .await?;
        self.bodies.set_dictionary(&dict)?;
        tracing::info!(
            dictionary = id,
            samples = count,
            bytes = dict.bytes.len(),
            "trained a dictionary for stored bodies"
        );
        Ok(Some(id))
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// True once saving to disk has failed (an fsync, or the database's files gone): every delivery
    /// is refused with [`StoreError::DiskFailed`] until Shipwatch is restarted.
    pub fn disk_failed(&self) -> bool {
        self.disk_failed.load(Ordering::Acquire)
    }

    /// Stores a delivery (dedup, projection) and returns once it is committed to disk.
    pub async fn insert(&self, delivery: NewDelivery) -> Result<StoredDelivery> {
        let (tx, rx) = oneshot::channel();
        let stored = self.bodies.encode(&delivery);
        let pending = Box::new(PendingInsert { delivery, stored });
        self.jobs.send(Job::Insert(pending, tx)).await.map_err(|_| StoreError::WriterGone)?;
        let InsertAnswer { result, pending } = rx.await.map_err(|_| StoreError::WriterGone)?;
        let inserted = result?;
        let d = &pending.delivery;
        Ok(StoredDelivery {
            item: crate::queries::delivery_item_from_parts(
                inserted.id,
                d,
                inserted.status,
                inserted.duplicate_of.is_some(),
                inserted.shipment_id,
                inserted.shipment.as_ref().and_then(|s| s.item.title.clone()),
            ),
            id: inserted.id,
            status: inserted.status,
            duplicate_of: inserted.duplicate_of,
            verdict: d.verdict,
            shipment: inserted.shipment,
        })
    }

    /// Keeps a notification decision.
    pub async fn record_notification(&self, record: NotificationRecord) -> Result<i64> {
        let (tx, rx) = oneshot::channel();
        self.jobs.send(Job::Notification(Box::new(record), tx)).await.map_err(|_| StoreError::WriterGone)?;
        rx.await.map_err(|_| StoreError::WriterGone)?
    }

    /// Runs `f` on the writer, inside the current group's transaction and its own savepoint (an
    /// error rolls back what `f` wrote and nothing else). Returns `f`'s result once it is committed.
    pub async fn write<T, F>(&self, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T> + Send + 'static,
    {
        let (tx, rx) = oneshot::channel::<Result<T>>();
        let slot: Arc<Mutex<Option<Result<T>>>> = Arc::new(Mutex::new(None));
        let slot_in = slot.clone();
        let run: ExecFn = Box::new(move |conn| {
            let r = f(conn);
            let ok = r.is_ok();
            *slot_in.lock().expect("write slot") = Some(r);
            ok
        });
        let finish: FinishFn = Box::new(move |committed| {
            let r = slot.lock().expect("write slot").take().unwrap_or(Err(StoreError::WriterGone));
            let _ = tx.send(match r {
                Ok(_) if !committed => Err(StoreError::CommitFailed),
                r => r,
            });
        });
        self.jobs.send(Job::Exec(run, finish)).await.map_err(|_| StoreError::WriterGone)?;
        rx.await.map_err(|_| StoreError::WriterGone)?
    }

    /// Runs `f` on the writer between transactions (VACUUM, WAL checkpoints) and waits for it.
    pub async fn maintenance<T, F>(&self, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T> + Send + 'static,
    {
        let (tx, rx) = oneshot::channel::<Result<T>>();
        let job: MaintenanceFn = Box::new(move |conn| {
            let _ = tx.send(f(conn));
        });
        self.jobs.send(Job::Maintenance(job)).await.map_err(|_| StoreError::WriterGone)?;
        rx.await.map_err(|_| StoreError::WriterGone)?
    }

    /// Runs a read on a pooled read-only connection, off the async threads.
    pub async fn read<T, F>(&self, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T> + Send + 'static,
    {
        let pool = self.readers.clone();
        tokio::task::spawn_blocking(move || pool.with(f)).await.map_err(|_| StoreError::WriterGone)?
    }

    /// Runs a read on the calling thread (for CLI tools and tests outside a runtime).
    pub fn read_blocking<T>(&self, f: impl FnOnce(&Connection) -> Result<T>) -> Result<T> {
        self.readers.with(f)
    }

    /// Stops accepting jobs, lets the writer finish what is queued, and waits for it.
    /// Other clones of this handle keep the queue open until they are dropped.
    pub fn close(self) {
        let last = Arc::strong_count(&self.writer) == 1;
        let handle = if last { self.writer.lock().ok().and_then(|mut h| h.take()) } else { None };
        drop(self.jobs);
        if let Some(h) = handle {
            let _ = h.join();
        }
    }
}

struct ReaderPool {
    path: PathBuf,
    idle: Mutex<Vec<Connection>>,
}

impl ReaderPool {
    fn with<T>(&self, f: impl FnOnce(&Connection) -> Result<T>) -> Result<T> {
        let conn = match self.idle.lock().expect("reader pool").pop() {
            Some(c) => c,
            None => conn::open_reader(&self.path)?,
        };
        let out = f(&conn);
        let mut idle = self.idle.lock().expect("reader pool");
        if idle.len() < 8 {
            idle.push(conn);
        }
        out
    }
}

/// What the writer knows of the sync thread: how many committed groups it has not answered yet.
/// The writer keeps its transaction open while that is above zero, and the sync thread wakes it
/// ([`Job::Wake`]) when it drops to zero.
struct Syncing {
    groups: std::sync::atomic::AtomicUsize,
    /// The job queue, to wake the writer (weak: the queue still closes when every `Store` is gone).
    wake: mpsc::WeakSender<Job>,
}

impl Syncing {
    fn idle(&self) -> bool {
        self.groups.load(Ordering::Acquire) == 0
    }

    /// The sync thread is done with `n` groups.
    fn answered(&self, n: usize) {
        let before = self
            .groups
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |g| Some(g.saturating_sub(n)))
            .expect("the update always applies");
        if before <= n {
            if let Some(queue) = self.wake.upgrade() {
                // Full: the writer has jobs to take anyway, and looks again after each.
                let _ = queue.try_send(Job::Wake);
            }
        }
    }
}

/// The writer's side of the pipeline: the transaction it keeps open and where its groups go once
/// committed.
struct Writer<'a> {
    conn: &'a Connection,
    open: Option<OpenGroup>,
    committed: &'a std::sync::mpsc::SyncSender<Vec<Outcome>>,
    syncing: &'a Syncing,
    disk_failed: &'a AtomicBool,
}

/// The jobs of the open transaction, each applied without a savepoint, with what each did.
#[derive(Default)]
struct OpenGroup {
    jobs: Vec<Job>,
    results: Vec<FastResult>,
}

/// Takes jobs one at a time and applies each at once to an open transaction, which it commits when
/// the sync thread is free to fsync it (or the group is `max_batch` long). So a delivery's SQL runs
/// while the previous group's fsync is under way, and each fsync is of one commit holding every
/// delivery that arrived meanwhile: a commit rewrites each b-tree's last pages once, however many
/// deliveries it holds, so fewer, larger commits write fewer WAL frames for the same deliveries.
fn writer_loop(
    conn: &Connection,
    mut rx: mpsc::Receiver<Job>,
    max_batch: usize,
    committed: &std::sync::mpsc::SyncSender<Vec<Outcome>>,
    syncing: &Syncing,
    disk_failed: &AtomicBool,
) {
    let mut w = Writer { conn, open: None, committed, syncing, disk_failed };
    loop {
        let job = if w.open.is_some() && syncing.idle() {
            match rx.try_recv() {
                Ok(job) => Some(job),
                Err(mpsc::error::TryRecvError::Empty) => {
                    w.commit_open();
                    continue;
                }
                Err(mpsc::error::TryRecvError::Disconnected) => None,
            }
        } else {
            rx.blocking_recv()
        };
        let Some(job) = job else { break };
        match job {
            Job::Wake => {}
            Job::Insert(..) | Job::Notification(..) => {
                w.apply(job);
                if w.open.as_ref().is_some_and(|g| g.jobs.len() >= max_batch) {
                    w.commit_open();
                }
            }
            Job::Exec(..) => {
                w.commit_open();
                // With what else is queued (up to `max_batch`), in one transaction of savepoints.
                let mut batch = vec![job];
                let mut maintenance = None;
                while batch.len() < max_batch {
                    match rx.try_recv() {
                        Ok(Job::Wake) => {}
                        // Maintenance waits for the batch before it to commit.
                        Ok(Job::Maintenance(m)) => {
                            maintenance = Some(m);
                            break;
                        }
                        Ok(job) => batch.push(job),
                        Err(_) => break,
                    }
                }
                w.commit_with_savepoints(batch);
                // Maintenance runs outside any transaction.
                if let Some(m) = maintenance {
                    m(w.conn);
                }
            }
            Job::Maintenance(m) => {
                w.commit_open();
                m(w.conn);
            }
        }
    }
    w.commit_open();
    tracing::debug!("storage writer stopped");
}

impl Writer<'_> {
    /// Applies a delivery or a notification to the open transaction (beginning one if needed). If
    /// it fails, the transaction is rolled back and its jobs run again with a savepoint each, so the
    /// failure stays this job's own, and that is committed.
    fn apply(&mut self, job: Job) {
        if self.disk_failed.load(Ordering::Acquire) {
            fail_job_with(job, || StoreError::DiskFailed);
            return;
        }
        if self.open.is_none() {
            if let Err(e) = self.conn.execute_batch("BEGIN IMMEDIATE") {
                tracing::error!(error = %e, "cannot begin a write transaction");
                fail_job_with(job, || StoreError::Sqlite(clone_err(&e)));
                return;
            }
            self.open = Some(OpenGroup::default());
        }
        let group = self.open.as_mut().expect("opened above");
        let result = match &job {
            Job::Insert(pending, _) => {
                crate::projection::store_delivery(self.conn, pending).map(|d| FastResult::Insert(Box::new(d)))
            }
            Job::Notification(record, _) => {
                insert_notification(self.conn, record).map(FastResult::Notification)
            }
            Job::Exec(..) | Job::Maintenance(_) | Job::Wake => {
                unreachable!("only deliveries and notifications")
            }
        };
        match result {
            Ok(r) => {
                group.jobs.push(job);
                group.results.push(r);
            }
            Err(e) => {
                tracing::warn!(error = %e, "a write failed; running its group again job by job");
                let mut batch = self.open.take().expect("open").jobs;
                batch.push(job);
                if let Err(e) = self.conn.execute_batch("ROLLBACK") {
                    tracing::error!(error = %e, "cannot roll back a failed group");
                }
                self.commit_with_savepoints(batch);
            }
        }
    }

    /// Commits the open transaction, if any, and hands it to the sync thread.
    fn commit_open(&mut self) {
        let Some(group) = self.open.take() else { return };
        let committed = if self.disk_failed.load(Ordering::Acquire) {
            Err(StoreError::DiskFailed)
        } else {
            crate::search::flush(self.conn).and_then(|()| Ok(self.conn.execute_batch("COMMIT")?))
        };
        match committed {
            Ok(()) => {
                let outcomes = group
                    .jobs
                    .into_iter()
                    .zip(group.results)
                    .map(|(job, result)| match (job, result) {
                        (Job::Insert(pending, reply), FastResult::Insert(r)) => {
                            Outcome::Insert(reply, Box::new(InsertAnswer { result: Ok(*r), pending }))
                        }
                        (Job::Notification(_, reply), FastResult::Notification(r)) => {
                            Outcome::Notification(reply, Ok(r))
                        }
                        _ => unreachable!("results follow the group's jobs"),
                    })
                    .collect();
                self.hand_off(outcomes);
            }
            Err(e) => {
                if !matches!(e, StoreError::DiskFailed) {
                    tracing::error!(error = %e, "commit failed; the deliveries of this group are answered 503");
                }
                // A failed COMMIT may leave the transaction open: nothing of it may stay.
                if !self.conn.is_autocommit() {
                    let _ = self.conn.execute_batch("ROLLBACK");
                }
                for job in group.jobs {
                    fail_job_with(job, || clone_store_err(&e));
                }
            }
        }
    }

    /// Runs `batch` in one transaction with a savepoint per job, commits it and hands it off.
    fn commit_with_savepoints(&mut self, mut batch: Vec<Job>) {
        if self.disk_failed.load(Ordering::Acquire) {
            for job in batch.drain(..) {
                fail_job_with(job, || StoreError::DiskFailed);
            }
            return;
        }
        if let Some(outcomes) = commit_batch(self.conn, &mut batch) {
            self.hand_off(outcomes);
        }
    }

    /// Gives a committed group to the sync thread, which answers it once it is on disk.
    fn hand_off(&mut self, outcomes: Vec<Outcome>) {
        self.syncing.groups.fetch_add(1, Ordering::AcqRel);
        if let Err(unsent) = self.committed.send(outcomes) {
            // The sync thread is gone (it never exits first): nothing can be promised.
            self.syncing.groups.fetch_sub(1, Ordering::AcqRel);
            fail_outcomes(unsent.0, || StoreError::WriterGone);
        }
    }
}

enum Outcome {
    Insert(oneshot::Sender<InsertAnswer>, Box<InsertAnswer>),
    Notification(oneshot::Sender<Result<i64>>, Result<i64>),
    Exec(FinishFn),
}

/// One transaction for the whole batch, with one savepoint per job (so a failing job fails alone).
/// Returns the outcomes to answer once the commit is synced; if the transaction cannot begin or
/// commit, every caller gets the error at once (nothing of theirs is on disk) and `None` is returned.
/// A savepoint copies every page it touches: this is the path of the rare batch that holds a
/// generic write ([`Job::Exec`]) or a job that failed without one.
fn commit_batch(conn: &Connection, batch: &mut Vec<Job>) -> Option<Vec<Outcome>> {
    let mut outcomes = Vec::with_capacity(batch.len());
    let tx = match rusqlite::Transaction::new_unchecked(conn, rusqlite::TransactionBehavior::Immediate) {
        Ok(tx) => tx,
        Err(e) => {
            tracing::error!(error = %e, "cannot begin a write transaction");
            for job in batch.drain(..) {
                fail_job_with(job, || StoreError::Sqlite(clone_err(&e)));
            }
            return None;
        }
    };
    for job in batch.drain(..) {
        match job {
            Job::Insert(pending, reply) => {
                let result = in_savepoint(&tx, |sp| crate::projection::store_delivery(sp, &pending));
                outcomes.push(Outcome::Insert(reply, Box::new(InsertAnswer { result, pending })));
            }
            Job::Notification(record, reply) => {
                let r = in_savepoint(&tx, |sp| insert_notification(sp, &record));
                outcomes.push(Outcome::Notification(reply, r));
            }
            Job::Exec(run, finish) => {
                let _ = in_savepoint(&tx, |sp| if run(sp) { Ok(()) } else { Err(StoreError::CommitFailed) });
                outcomes.push(Outcome::Exec(finish));
            }
            Job::Wake => {}
            Job::Maintenance(_) => unreachable!("maintenance never joins a batch"),
        }
    }
    if let Err(e) = crate::search::flush(&tx).and_then(|()| Ok(tx.commit()?)) {
        tracing::error!(error = %e, "commit failed; the deliveries of this batch are answered 503");
        fail_outcomes(outcomes, || clone_store_err(&e));
        return None;
    }
    Some(outcomes)
}

/// Answers committed groups once the WAL holding them is on disk: it takes every group waiting, makes
/// one fsync for all of them, then answers. `wal: None` answers without syncing.
fn sync_loop(
    committed: std::sync::mpsc::Receiver<Vec<Outcome>>,
    wal: Option<PathBuf>,
    disk_failed: Arc<AtomicBool>,
    syncing: &Syncing,
) {
    let mut file: Option<WalFile> = None;
    while let Ok(first) = committed.recv() {
        let mut groups = vec![first];
        while let Ok(more) = committed.try_recv() {
            groups.push(more);
        }
        let synced = match &wal {
            Some(path) if !disk_failed.load(Ordering::Acquire) => sync_wal(&mut file, path),
            Some(_) => Err(std::io::Error::other("an earlier fsync failed")),
            None => Ok(()),
        };
        // The writer may commit its next group now, while these are answered.
        syncing.answered(groups.len());
        match synced {
            Ok(()) => {
                for outcomes in groups {
                    answer_outcomes(outcomes);
                }
            }
            Err(e) => {
                if !disk_failed.swap(true, Ordering::AcqRel) {
                    if e.kind() == std::io::ErrorKind::NotFound {
                        tracing::error!(
                            wal = %wal.as_deref().unwrap_or(Path::new("")).display(),
                            "the database's WAL is gone: its data directory was moved or deleted while Shipwatch ran; refusing every write from now on (answered 503, so AfterShip retries). Put the directory back or choose another, then restart Shipwatch"
                        );
                    } else {
                        tracing::error!(
                            error = %e,
                            "fsync of the database's WAL failed; refusing every write from now on (answered 503). Check the disk, then restart Shipwatch"
                        );
                    }
                }
                for outcomes in groups {
                    fail_outcomes(outcomes, || StoreError::DiskFailed);
                }
            }
        }
    }
}

/// The WAL file as the sync thread holds it open, with its inode to notice a replaced file.
struct WalFile {
    file: std::fs::File,
    #[cfg(unix)]
    inode: u64,
}

fn sync_wal(open: &mut Option<WalFile>, path: &Path) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        // SQLite keeps the WAL while the writer's connection is open; should it ever be replaced,
        // sync the file that is there now, not a stale handle.
        let inode = std::fs::metadata(path)?.ino();
        if open.as_ref().is_none_or(|w| w.inode != inode) {
            let file = std::fs::File::open(path)?;
            let inode = file.metadata()?.ino();
            *open = Some(WalFile { file, inode });
        }
    }
    #[cfg(not(unix))]
    {
        *open = Some(WalFile { file: std::fs::File::open(path)? });
    }
    open.as_ref().expect("opened above").file.sync_data()
}

fn answer_outcomes(outcomes: Vec<Outcome>) {
    for o in outcomes {
        match o {
            Outcome::Insert(reply, r) => {
                let _ = reply.send(*r);
            }
            Outcome::Notification(reply, r) => {
                let _ = reply.send(r);
            }
            Outcome::Exec(finish) => finish(true),
        }
    }
}

fn fail_outcomes(outcomes: Vec<Outcome>, error: impl Fn() -> StoreError) {
    for o in outcomes {
        match o {
            Outcome::Insert(reply, answer) => {
                let _ = reply.send(InsertAnswer { result: Err(error()), pending: answer.pending });
            }
            Outcome::Notification(reply, _) => {
                let _ = reply.send(Err(error()));
            }
            Outcome::Exec(finish) => finish(false),
        }
    }
}

enum FastResult {
    Insert(Box<Inserted>),
    Notification(i64),
}

fn in_savepoint<T>(tx: &rusqlite::Transaction<'_>, f: impl FnOnce(&Connection) -> Result<T>) -> Result<T> {
    tx.prepare_cached("SAVEPOINT job")?.execute([])?;
    match f(tx) {
        Ok(v) => {
            tx.prepare_cached("RELEASE job")?.execute([])?;
            Ok(v)
        }
        Err(e) => {
            tracing::error!(error = %e, "a write failed; rolled back on its own");
            tx.prepare_cached("ROLLBACK TO job")?.execute([])?;
            tx.prepare_cached("RELEASE job")?.execute([])?;
            Err(e)
        }
    }
}

fn insert_notification(conn: &Connection, r: &NotificationRecord) -> Result<i64> {
    conn.prepare_cached(
        "INSERT INTO notifications (created_at, shipment_id, delivery_id, tag, summary, body, outcome, reason)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
    )?
    .execute(rusqlite::params![
        r.created_at_ms, r.shipment_id, r.delivery_id, r.tag, r.summary, r.body, r.outcome, r.reason
    ])?;
    Ok(conn.last_insert_rowid())
}

fn clone_err(e: &rusqlite::Error) -> rusqlite::Error {
    match e {
        rusqlite::Error::SqliteFailure(code, msg) => rusqlite::Error::SqliteFailure(*code, msg.clone()),
        other => rusqlite::Error::InvalidParameterName(other.to_string()),
    }
}

fn fail_job_with(job: Job, error: impl Fn() -> StoreError) {
    match job {
        Job::Insert(pending, reply) => {
            let _ = reply.send(InsertAnswer { result: Err(error()), pending });
        }
        Job::Notification(_, reply) => {
            let _ = reply.send(Err(error()));
        }
        Job::Exec(_, finish) => finish(false),
        Job::Maintenance(m) => {
            // Not part of the failed transaction: it can still run.
            let _ = m;
        }
        Job::Wake => {}
    }
}

fn clone_store_err(e: &StoreError) -> StoreError {
    match e {
        StoreError::Sqlite(e) => StoreError::Sqlite(clone_err(e)),
        StoreError::DiskFailed => StoreError::DiskFailed,
        _ => StoreError::CommitFailed,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::mpsc as std_mpsc;
    use std::time::Duration;

    const WAIT: Duration = Duration::from_secs(10);

    /// A delivery as the writer holds it (its content does not matter to the sync thread).
    fn pending_insert() -> Box<PendingInsert> {
        Box::new(crate::test_delivery(b"{}".to_vec()))
    }

    /// A finish that reports whether its group was committed and synced.
    fn recorder() -> (FinishFn, std_mpsc::Receiver<bool>) {
        let (tx, rx) = std_mpsc::channel();
        (
            Box::new(move |ok| {
                let _ = tx.send(ok);
            }),
            rx,
        )
    }

    /// A running `sync_loop` for `wal`: the sender of committed groups, the flag, and the thread.
    fn syncer(
        wal: Option<PathBuf>,
    ) -> (std_mpsc::SyncSender<Vec<Outcome>>, Arc<AtomicBool>, std::thread::JoinHandle<()>) {
        let (tx, rx) = std_mpsc::sync_channel(8);
        let failed = Arc::new(AtomicBool::new(false));
        let flag = failed.clone();
        let (jobs, _) = mpsc::channel::<Job>(1);
        let syncing = Syncing { groups: Default::default(), wake: jobs.downgrade() };
        let handle = std::thread::spawn(move || sync_loop(rx, wal, flag, &syncing));
        (tx, failed, handle)
    }

    #[test]
    fn a_file_that_is_not_a_database_is_refused_with_advice_and_left_as_it_is() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("shipwatch.db");
        let garbage: Vec<u8> = (0..8192u32).map(|i| (i * 7 % 251) as u8).collect();
        std::fs::write(&path, &garbage).unwrap();
        let err = match Store::open_file(&path, WriterConfig::default()) {
            Ok(_) => panic!("opened a file that is not a database"),
            Err(e) => e.to_string(),
        };
        assert!(err.contains("not a Shipwatch database, or it is damaged"), "{err}");
        assert!(err.contains("--data-dir"), "{err}");
        assert_eq!(std::fs::read(&path).unwrap(), garbage, "left byte for byte");
    }

    #[test]
    fn the_database_is_created_private_and_an_older_wider_one_is_narrowed() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("private.db");
        let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        let store = Store::open_file(&path, WriterConfig::default()).unwrap();
        store.close();
        assert_eq!(mode(&path), 0o600);
        for f in [&path, &conn::wal_path(&path)] {
            if f.exists() {
                std::fs::set_permissions(f, std::fs::Permissions::from_mode(0o644)).unwrap();
            }
        }
        let store = Store::open_file(&path, WriterConfig::default()).unwrap();
        assert_eq!(mode(&path), 0o600, "narrowed on open");
        assert_eq!(mode(&conn::wal_path(&path)), 0o600, "the WAL too");
        store.close();
    }

    #[test]
    fn syncing_a_missing_wal_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("missing.db-wal");
        let mut open = None;
        assert!(sync_wal(&mut open, &path).is_err());
        assert!(open.is_none());
        // Once the file is there, it syncs and stays open for the next time.
        std::fs::write(&path, b"frames").unwrap();
        sync_wal(&mut open, &path).unwrap();
        assert!(open.is_some());
        sync_wal(&mut open, &path).unwrap();
        // Gone again: the error is not hidden by the handle still open.
        std::fs::remove_file(&path).unwrap();
        assert!(sync_wal(&mut open, &path).is_err());
    }

    #[test]
    fn a_synced_group_is_answered_with_its_results() {
        let dir = tempfile::tempdir().unwrap();
        let wal = dir.path().join("t.db-wal");
        std::fs::write(&wal, b"frames").unwrap();
        for wal in [Some(wal), None] {
            let (tx, failed, handle) = syncer(wal);
            let (finish, finished) = recorder();
            let (reply, answer) = oneshot::channel();
            tx.send(vec![Outcome::Exec(finish), Outcome::Notification(reply, Ok(7))]).unwrap();
            assert_eq!(finished.recv_timeout(WAIT), Ok(true));
            assert_eq!(answer.blocking_recv().unwrap().unwrap(), 7);
            assert!(!failed.load(Ordering::Acquire));
            drop(tx);
            handle.join().unwrap();
        }
    }

    #[test]
    fn a_failed_fsync_fails_its_group_poisons_the_store_and_refuses_later_groups() {
        let dir = tempfile::tempdir().unwrap();
        let wal = dir.path().join("t.db-wal");
        let (tx, failed, handle) = syncer(Some(wal.clone()));

        let (finish, finished) = recorder();
        let (insert_reply, insert_answer) = oneshot::channel();
        let (note_reply, note_answer) = oneshot::channel();
        tx.send(vec![
            Outcome::Exec(finish),
            // What the writer stored for them does not matter: it is not on disk.
            Outcome::Insert(
                insert_reply,
                Box::new(InsertAnswer { result: Err(StoreError::NotFound), pending: pending_insert() }),
            ),
            Outcome::Notification(note_reply, Ok(1)),
        ])
        .unwrap();
        assert_eq!(finished.recv_timeout(WAIT), Ok(false));
        assert!(matches!(insert_answer.blocking_recv().unwrap().result, Err(StoreError::DiskFailed)));
        assert!(matches!(note_answer.blocking_recv().unwrap(), Err(StoreError::DiskFailed)));
        assert!(failed.load(Ordering::Acquire), "the store is poisoned");

        // The WAL is there now and would sync, but nothing after a failed fsync can be promised.
        std::fs::write(&wal, b"frames").unwrap();
        let (finish, finished) = recorder();
        let (note_reply, note_answer) = oneshot::channel();
        tx.send(vec![Outcome::Exec(finish)]).unwrap();
        tx.send(vec![Outcome::Notification(note_reply, Ok(2))]).unwrap();
        assert_eq!(finished.recv_timeout(WAIT), Ok(false));
        assert!(matches!(note_answer.blocking_recv().unwrap(), Err(StoreError::DiskFailed)));
        assert!(failed.load(Ordering::Acquire));
        drop(tx);
        handle.join().unwrap();
    }

    fn record(summary: &str) -> Box<NotificationRecord> {
        Box::new(NotificationRecord {
            created_at_ms: 1,
            shipment_id: None,
            delivery_id: None,
            tag: None,
            summary: summary.into(),
            body: "b".into(),
            outcome: "sent".into(),
            reason: None,
        })
    }

    type Started = (
        tempfile::TempDir,
        mpsc::Sender<Job>,
        std_mpsc::Receiver<Vec<Outcome>>,
        Arc<Syncing>,
        std::thread::JoinHandle<()>,
    );

    /// A writer on a fresh database (`t.db`), with no sync thread: the test receives its groups.
    fn start_writer(disk_failed: bool) -> Started {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.db");
        let mut conn = Connection::open(&path).unwrap();
        migrations::migrate(&mut conn, &path).unwrap();
        crate::search::prepare_queue(&conn).unwrap();
        let (jobs, rx) = mpsc::channel(64);
        let (committed, committed_rx) = std_mpsc::sync_channel::<Vec<Outcome>>(8);
        let syncing = Arc::new(Syncing { groups: Default::default(), wake: jobs.downgrade() });
        let writer_syncing = syncing.clone();
        let writer = std::thread::spawn(move || {
            writer_loop(&conn, rx, 256, &committed, &writer_syncing, &AtomicBool::new(disk_failed));
        });
        (dir, jobs, committed_rx, syncing, writer)
    }

    /// The test plays the sync thread: it receives the committed groups and says when it is done.
    #[test]
    fn while_a_group_is_synced_the_next_one_collects_every_arrival_in_one_commit() {
        let (dir, jobs, committed_rx, syncing, writer) = start_writer(false);
        let path = dir.path().join("t.db");
        let notify = |summary: &str| {
            let (reply, answer) = oneshot::channel();
            jobs.blocking_send(Job::Notification(record(summary), reply)).unwrap();
            answer
        };

        // Nothing is being synced: the first one is committed alone, at once.
        let first = notify("first");
        let group = committed_rx.recv_timeout(WAIT).unwrap();
        assert_eq!(group.len(), 1);
        // While it is "synced", what arrives is applied but not committed...
        let later: Vec<_> = (0..5).map(|i| notify(&format!("later {i}"))).collect();
        assert!(
            committed_rx.recv_timeout(Duration::from_millis(300)).is_err(),
            "nothing committed meanwhile"
        );
        let uncommitted: i64 = Connection::open(&path)
            .unwrap()
            .query_row("SELECT count(*) FROM notifications", [], |r| r.get(0))
            .unwrap();
        assert_eq!(uncommitted, 1, "readers see only the first group");
        // ...until the sync thread is done: then all five go in one commit.
        syncing.answered(1);
        answer_outcomes(group);
        assert_eq!(first.blocking_recv().unwrap().unwrap(), 1);
        let group = committed_rx.recv_timeout(WAIT).unwrap();
        assert_eq!(group.len(), 5);
        syncing.answered(1);
        answer_outcomes(group);
        let ids: Vec<i64> = later.into_iter().map(|a| a.blocking_recv().unwrap().unwrap()).collect();
        assert_eq!(ids, [2, 3, 4, 5, 6]);
        drop(jobs);
        writer.join().unwrap();
    }

    #[test]
    fn the_writer_runs_nothing_once_the_disk_has_failed() {
        let (dir, jobs, committed_rx, _syncing, writer) = start_writer(true);
        let path = dir.path().join("t.db");

        let ran = Arc::new(AtomicBool::new(false));
        let ran_in = ran.clone();
        let (finish, finished) = recorder();
        let run: ExecFn = Box::new(move |c| {
            ran_in.store(true, Ordering::SeqCst);
            c.execute("INSERT INTO meta (key, value) VALUES ('k', 'v')", []).is_ok()
        });
        jobs.blocking_send(Job::Exec(run, finish)).unwrap();
        let (reply, answer) = oneshot::channel();
        jobs.blocking_send(Job::Notification(
            Box::new(NotificationRecord {
                created_at_ms: 1,
                shipment_id: None,
                delivery_id: None,
                tag: None,
                summary: "s".into(),
                body: "b".into(),
                outcome: "sent".into(),
                reason: None,
            }),
            reply,
        ))
        .unwrap();
        assert_eq!(finished.recv_timeout(WAIT), Ok(false));
        assert!(matches!(answer.blocking_recv().unwrap(), Err(StoreError::DiskFailed)));
        assert!(!ran.load(Ordering::SeqCst));
        drop(jobs);
        writer.join().unwrap();
        assert!(committed_rx.try_recv().is_err(), "nothing was committed");
        let conn = Connection::open(&path).unwrap();
        let rows: i64 = conn
            .query_row("SELECT (SELECT count(*) FROM meta) + (SELECT count(*) FROM notifications)", [], |r| {
                r.get(0)
            })
            .unwrap();
        assert_eq!(rows, 0);
    }
}
