//! `shipwatch-bench`: the committed benchmark of issue 17 ("a busy merchant's year").
//!
//! It starts `shipwatch serve` on a fresh data dir and posts it a generated year of AfterShip
//! deliveries ([`workload`]: about 130,000 shipments, a million posts of about 5 KB, retries, late
//! updates and forged posts, deterministic by `--seed`) in time order, over loopback HTTP/1.1
//! keep-alive. At each checkpoint of `--stored` (deliveries already stored: 0, 250,000 and 1,000,000
//! by default) it measures, in this order:
//!
//! - the latency of every inspector view ([`views`]): the feed (first and next page), filtered by
//!   verdict and by tag, searched by tracking number, order id, substring and for nothing, the
//!   status, shipments by tag, shipment and delivery detail;
//! - ingest: the year's next posts (`--batch`) at full speed, and the same bodies posted to the
//!   durable reference (verify + append the raw body to SQLite in fsynced group commits: the storage
//!   limit) on an empty store, in the same run, for the ratio;
//! - a retry storm: the newest accepted events (`--retry-storm`) sent again, byte for byte;
//! - latency at a steady `--rate` (open loop, no coordinated omission);
//! - what shipwatch says it stored (every post answered must be there), its memory (`/proc`), then
//!   a clean stop, the data dir's size per delivery, and a restart on it: cold start is the time until
//!   `/api/status` answers.
//!
//! Between checkpoints it loads the year at full speed in chunks; that is ingest as the store grows,
//! reported too. The figures are compared with issue 17's targets and reported as PASS/MISS, never
//! asserted: the benchmark exits non-zero only on errors (a signed post not answered 2xx, a forged one
//! not answered 401, something answered but not stored, a view not answering, a target that fails).
//!
//! Modules: [`workload`] (the year), [`client`] (the HTTP/1.1 client), [`load`] (closed and open
//! loops), [`targets`] (the child processes, `/proc`), [`reference`] (the durable reference, run
//! through the hidden `reference` subcommand), [`views`] (the inspector API), [`report`] (verdicts,
//! tables, JSON).

mod client;
mod load;
mod reference;
mod report;
mod targets;
mod views;
mod workload;

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};
use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::{Args, Parser, Subcommand};

use crate::load::RunResult;
use crate::report::{Checkpoint, Cost, LoadChunk, Loading, Report, Run};
use crate::targets::{Programs, Target, TargetKind, Usage};
use crate::views::{Inspector, Terms};
use crate::workload::{Kind, Post, Rng, Year};

/// How long after its last scheduled delivery a steady run waits for a target that fell behind.
const STEADY_GRACE: Duration = Duration::from_secs(2);
/// How long a restarted shipwatch may take to answer `/api/status`.
const COLD_START_TIMEOUT: Duration = Duration::from_secs(120);

#[derive(Parser)]
#[command(
    name = "shipwatch-bench",
    about = "Benchmark `shipwatch serve` with a generated year of AfterShip deliveries, at 0, 250,000 and 1,000,000 stored",
    long_about = None,
    args_conflicts_with_subcommands = true
)]
struct Cli {
    #[command(flatten)]
    bench: BenchArgs,
    #[command(subcommand)]
    command: Option<Internal>,
}

#[derive(Subcommand)]
enum Internal {
    /// Runs a reference receiver (used by the benchmark itself).
    #[command(hide = true)]
    Reference {
        #[arg(value_enum)]
        kind: reference::Kind,
        #[arg(long, default_value = "127.0.0.1:0")]
        listen: SocketAddr,
        #[arg(long, value_name = "DIR")]
        data_dir: Option<PathBuf>,
    },
}

#[derive(Args, Clone)]
struct BenchArgs {
    /// CI mode: checkpoints 0 and 2,000, small batches, 1 s steady, 3 requests per view (well under
    /// a minute, even on debug builds); the figures mean nothing
    #[arg(long)]
    quick: bool,
    /// Deliveries stored at each checkpoint, ascending [default: 0,250000,1000000; --quick: 0,2000]
    #[arg(long, value_delimiter = ',', value_name = "N,N,...")]
    stored: Option<Vec<u64>>,
    /// Seed of the generated year (same seed, same bodies)
    #[arg(long, default_value_t = 1, value_name = "N")]
    seed: u64,
    /// Posts ingested (timed) at each checkpoint [default: 20000; --quick: 300]
    #[arg(long, value_name = "N")]
    batch: Option<usize>,
    /// Newest events sent again at each checkpoint [default: 1000; --quick: 100]
    #[arg(long, value_name = "N")]
    retry_storm: Option<usize>,
    /// Rate of the steady run, deliveries/s (0 skips it)
    #[arg(long, default_value_t = 1000.0, value_name = "PER_S")]
    rate: f64,
    /// Seconds of the steady run [default: 10; --quick: 1]
    #[arg(long, value_name = "SECS")]
    steady_secs: Option<f64>,
    /// Requests per inspector view (a view slower than 20 s in all gets fewer, at least 3)
    /// [default: 30; --quick: 3]
    #[arg(long, value_name = "N")]
    view_requests: Option<usize>,
    /// Posts per chunk while loading up to a checkpoint (rendered untimed, then posted)
    /// [default: 10000; --quick: 500]
    #[arg(long, value_name = "N")]
    chunk: Option<usize>,
    /// Concurrent keep-alive connections of the full-speed runs
    #[arg(long, default_value_t = 32, value_name = "N")]
    concurrency: usize,
    /// Skip the durable reference (no ingest ratio to it)
    #[arg(long)]
    no_reference: bool,
    /// The shipwatch binary [default: `shipwatch` next to this benchmark, built with cargo if missing]
    #[arg(long, value_name = "PATH")]
    shipwatch: Option<PathBuf>,
    /// Where the targets' fresh data dirs are created (use the disk you care about, not a tmpfs)
    /// [default: the system temp dir]
    #[arg(long, value_name = "DIR")]
    work_dir: Option<PathBuf>,
    /// Load-generator threads (1: a single-threaded runtime, leaving the other cores to the target)
    #[arg(long, default_value_t = 1, value_name = "N")]
    client_threads: usize,
    /// Also write the results as JSON to this file
    #[arg(long, value_name = "FILE")]
    json: Option<PathBuf>,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Some(Internal::Reference { kind, listen, data_dir }) => reference::run(kind, listen, data_dir),
        None => match run(cli.bench) {
            Ok(report) => {
                if report.errors.is_empty() {
                    ExitCode::SUCCESS
                } else {
                    ExitCode::FAILURE
                }
            }
            Err(e) => {
                eprintln!("shipwatch-bench: {e}");
                ExitCode::FAILURE
            }
        },
    }
}

/// The effective settings of a run.
#[derive(Clone, serde::Serialize)]
pub struct Settings {
    pub quick: bool,
    pub stored: Vec<u64>,
    pub seed: u64,
    pub batch: usize,
    pub retry_storm: usize,
    pub rate: f64,
    pub steady_s: f64,
    pub view_requests: usize,
    pub chunk: usize,
    pub concurrency: usize,
    pub reference: bool,
    pub client_threads: usize,
    pub shipwatch: PathBuf,
    /// Whether the run used a private copy of it (not for a script).
    pub shipwatch_copied: bool,
    /// When that binary was last written (UTC).
    pub shipwatch_built: Option<String>,
    pub work_dir: PathBuf,
    pub cpus: usize,
}

/// Copies the shipwatch binary into a fresh dir under `work_dir`; returns the dir (removed on drop),
/// the copy, and when the original was last written. A script (`#!`, e.g. one that runs shipwatch
/// under valgrind) is run where it is, not copied.
fn private_copy(
    shipwatch: &Path,
    work_dir: &Path,
) -> Result<(Option<tempfile::TempDir>, PathBuf, Option<String>), String> {
    let mut start = [0u8; 2];
    let script = std::fs::File::open(shipwatch)
        .and_then(|mut f| std::io::Read::read_exact(&mut f, &mut start))
        .map(|()| &start == b"#!")
        .unwrap_or(false);
    let (dir, copy) = if script {
        (None, shipwatch.to_path_buf())
    } else {
        let dir = tempfile::Builder::new()
            .prefix("shipwatch-bench-bin-")
            .tempdir_in(work_dir)
            .map_err(|e| format!("cannot create a dir in {}: {e}", work_dir.display()))?;
        let copy = dir.path().join(shipwatch.file_name().unwrap_or("shipwatch".as_ref()));
        std::fs::copy(shipwatch, &copy)
            .map_err(|e| format!("cannot copy {} to {}: {e}", shipwatch.display(), copy.display()))?;
        (Some(dir), copy)
    };
    let built = std::fs::metadata(shipwatch)
        .and_then(|m| m.modified())
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map(|d| workload::rfc3339(d.as_secs() as i64));
    Ok((dir, copy, built))
}

fn run(args: BenchArgs) -> Result<Report, String> {
    let quick = args.quick;
    if args.concurrency == 0 {
        return Err("--concurrency must be at least 1".into());
    }
    if !(args.rate.is_finite() && args.rate >= 0.0) {
        return Err(format!("--rate must be a number of deliveries per second (0 skips), not {}", args.rate));
    }
    let steady_s = args.steady_secs.unwrap_or(if quick { 1.0 } else { 10.0 });
    if !(steady_s.is_finite() && steady_s >= 0.0) {
        return Err(format!("--steady-secs must be a number of seconds, not {steady_s}"));
    }
    let mut stored =
        args.stored
            .clone()
            .unwrap_or_else(|| if quick { vec![0, 2_000] } else { vec![0, 250_000, 1_000_000] });
    stored.sort_unstable();
    stored.dedup();
    if stored.is_empty() {
        return Err("--stored needs at least one checkpoint".into());
    }
    let batch = args.batch.unwrap_or(if quick { 300 } else { 20_000 });
    let chunk = args.chunk.unwrap_or(if quick { 500 } else { 10_000 });
    if batch == 0 || chunk == 0 {
        return Err("--batch and --chunk must be at least 1".into());
    }

    let bench =
        std::env::current_exe().map_err(|e| format!("cannot find this benchmark's executable: {e}"))?;
    let shipwatch = resolve_shipwatch(args.shipwatch.as_deref(), &bench)?;
    let work_dir = args.work_dir.clone().unwrap_or_else(std::env::temp_dir);
    std::fs::create_dir_all(&work_dir)
        .map_err(|e| format!("cannot create --work-dir {}: {e}", work_dir.display()))?;
    // Every start of the run (cold starts too) runs a copy: a build that replaces the binary meanwhile
    // (the target dir is shared) cannot change what is measured halfway.
    let (bin_dir, shipwatch_copy, built) = private_copy(&shipwatch, &work_dir)?;
    let settings = Settings {
        quick,
        stored,
        seed: args.seed,
        batch,
        retry_storm: args.retry_storm.unwrap_or(if quick { 100 } else { 1_000 }),
        rate: args.rate,
        steady_s,
        view_requests: args.view_requests.unwrap_or(if quick { 3 } else { 30 }).max(1),
        chunk,
        concurrency: args.concurrency,
        reference: !args.no_reference,
        client_threads: args.client_threads.max(1),
        shipwatch: shipwatch.clone(),
        shipwatch_copied: bin_dir.is_some(),
        shipwatch_built: built,
        work_dir: work_dir.clone(),
        cpus: std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1),
    };
    // The webhook secret comes from the seed too: the same seed posts the same signed bytes.
    let mut secret_rng = Rng::new(args.seed ^ 0x5ec2_e75e_c2e7_5ec2);
    let secret = format!("{:016x}{:016x}", secret_rng.next_u64(), secret_rng.next_u64());
    let programs = Programs { shipwatch: shipwatch_copy, bench: bench.clone(), secret, work_dir };

    let mut report = Report::new(settings.clone());
    report.print_header(targets::is_debug_build(&bench));
    let runtime = if settings.client_threads <= 1 {
        tokio::runtime::Builder::new_current_thread().enable_all().build()
    } else {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(settings.client_threads)
            .enable_all()
            .build()
    }
    .map_err(|e| format!("cannot start the load generator's runtime: {e}"))?;

    let started = Instant::now();
    let mut history = History::new(settings.seed, settings.retry_storm);
    // On SIGINT/SIGTERM the run stops where it is: dropping it stops the targets and removes their
    // data dirs, and what was measured so far is still reported.
    let outcome = runtime.block_on(async {
        tokio::select! {
            result = bench_run(&settings, &programs, &mut report, &mut history) => result,
            signal = interrupted() => Err(format!("interrupted by {signal}; the figures above were measured before")),
        }
    });
    if let Err(e) = outcome {
        report.errors.push(e);
    }
    // A checkpoint cut short (interrupted, or a target that failed) still reports what it measured.
    if let Some(mut partial) = report.in_progress.take() {
        partial.partial = true;
        report.print_checkpoint(&partial);
        report.checkpoints.push(partial);
    }
    report.total_s = started.elapsed().as_secs_f64();
    drop(bin_dir);
    report.finish(history.year.counts);
    report.print_summary();
    if let Some(path) = &args.json {
        report.write_json(path)?;
        println!("JSON written to {}", path.display());
    }
    Ok(report)
}

/// Resolves on SIGINT or SIGTERM (never, if neither can be watched).
async fn interrupted() -> &'static str {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        let Ok(mut term) = signal(SignalKind::terminate()) else {
            return std::future::pending().await;
        };
        tokio::select! {
            _ = term.recv() => "SIGTERM",
            Ok(()) = tokio::signal::ctrl_c() => "SIGINT",
        }
    }
    #[cfg(not(unix))]
    {
        match tokio::signal::ctrl_c().await {
            Ok(()) => "Ctrl-C",
            Err(_) => std::future::pending().await,
        }
    }
}

/// What has been posted to shipwatch so far, and so what it must hold.
struct History {
    year: Year,
    seed: u64,
    /// Deliveries shipwatch must hold: every post answered (2xx, 401 and 413 are stored; a retry is
    /// stored as another attempt).
    stored: u64,
    /// By shipment index: a signed event of it was accepted.
    seen: Vec<bool>,
    /// Those shipments, in order: tracking number and order id (search terms).
    shipments: Vec<(String, Option<String>)>,
    /// The newest accepted new events, for the retry storm.
    recent: VecDeque<Post>,
    recent_cap: usize,
}

impl History {
    fn new(seed: u64, recent_cap: usize) -> History {
        History {
            year: Year::new(seed),
            seed,
            stored: 0,
            seen: Vec::new(),
            shipments: Vec::new(),
            recent: VecDeque::with_capacity(recent_cap + 1),
            recent_cap,
        }
    }

    /// Takes note of how each post was answered.
    fn record(&mut self, posts: &[Post], result: &RunResult) {
        for (post, &status) in posts.iter().zip(&result.statuses) {
            let accepted = (200..300).contains(&status);
            if accepted || status == 401 || status == 413 {
                self.stored += 1;
            }
            if accepted && post.kind.is_new_event() {
                let index = post.shipment.index as usize;
                if self.seen.len() <= index {
                    self.seen.resize(index + 1, false);
                }
                if !self.seen[index] {
                    self.seen[index] = true;
                    self.shipments
                        .push((post.shipment.tracking_number.clone(), post.shipment.order_id.clone()));
                }
                self.recent.push_back(post.clone());
                if self.recent.len() > self.recent_cap {
                    self.recent.pop_front();
                }
            }
        }
    }

    /// `n` stored shipments drawn at random (the same ones for the same seed and history).
    fn terms(&self, n: usize) -> Terms {
        let mut rng = Rng::new(self.seed ^ self.stored);
        let picks: Vec<&(String, Option<String>)> = if self.shipments.is_empty() {
            Vec::new()
        } else {
            (0..n).map(|_| &self.shipments[rng.below(self.shipments.len() as u64) as usize]).collect()
        };
        Terms {
            tracking_numbers: picks.iter().map(|s| s.0.clone()).collect(),
            order_ids: picks.iter().filter_map(|s| s.1.clone()).collect(),
        }
    }
}

/// Errors of a load run, prefixed with what it was.
fn run_errors(what: &str, result: &RunResult) -> Vec<String> {
    let mut out: Vec<String> = result.error_samples.iter().map(|e| format!("{what}: {e}")).collect();
    if result.errors > result.error_samples.len() {
        out.push(format!("{what}: {} errors in all", result.errors));
    }
    out
}

async fn bench_run(
    settings: &Settings,
    programs: &Programs,
    report: &mut Report,
    history: &mut History,
) -> Result<(), String> {
    let mut shipwatch = Target::start(TargetKind::Shipwatch, programs)?;
    for &asked in &settings.stored {
        if history.stored < asked {
            let loading =
                load_up_to(&shipwatch, settings, programs, history, asked, &mut report.errors).await?;
            report.print_loading(&loading);
            report.loading.push(loading);
        }
        let at = history.stored;
        let label = format!("at {} stored", report::thousands(at));
        let mut c = Checkpoint { asked, stored: at, ..Default::default() };
        eprintln!("{label}: views ...");
        let mut inspector = connect_inspector(&shipwatch).await?;
        let (views, errors) =
            views::measure(&mut inspector, &history.terms(settings.view_requests), settings.view_requests)
                .await;
        c.views = views;
        report.in_progress = Some(c.clone());
        report.errors.extend(errors.into_iter().map(|e| format!("{label}, views: {e}")));

        // Ingest: the year's next posts, to the durable reference (empty) and to shipwatch.
        let posts = history.year.take(settings.batch);
        let deliveries = Arc::new(workload::render_all(&posts, &programs.secret));
        if settings.reference {
            eprintln!("{label}: durable reference ...");
            c.durable = durable_run(programs, settings, &deliveries, &label, &mut report.errors).await;
        }
        eprintln!("{label}: ingest ...");
        let before = (shipwatch.usage(), Usage::of("self"));
        let result =
            load::closed_loop(&shipwatch.endpoint, deliveries.clone(), settings.concurrency, None).await?;
        let cost = Cost::between(before, (shipwatch.usage(), Usage::of("self")), result.ok);
        report.errors.extend(run_errors(&format!("{label}, ingest"), &result));
        history.record(&posts, &result);
        c.ingest = Some(Run::new(&result, posts.len(), deliveries.mean_bytes(), cost));
        report.in_progress = Some(c.clone());

        // The retry storm: the newest accepted events again, byte for byte.
        let storm: Vec<Post> =
            history.recent.iter().map(|p| Post { kind: Kind::Retry, ..p.clone() }).collect();
        if !storm.is_empty() {
            eprintln!("{label}: retry storm ...");
            let deliveries = Arc::new(workload::render_all(&storm, &programs.secret));
            let before = (shipwatch.usage(), Usage::of("self"));
            let result =
                load::closed_loop(&shipwatch.endpoint, deliveries.clone(), settings.concurrency, None)
                    .await?;
            let cost = Cost::between(before, (shipwatch.usage(), Usage::of("self")), result.ok);
            report.errors.extend(run_errors(&format!("{label}, retry storm"), &result));
            history.record(&storm, &result);
            c.retry_storm = Some(Run::new(&result, storm.len(), deliveries.mean_bytes(), cost));
            report.in_progress = Some(c.clone());
        }

        // Latency at a steady rate.
        if settings.rate > 0.0 && settings.steady_s > 0.0 {
            eprintln!("{label}: steady {:.0}/s ...", settings.rate);
            let n = (settings.rate * settings.steady_s).round().max(1.0) as usize;
            let posts = history.year.take(n);
            let deliveries = Arc::new(workload::render_all(&posts, &programs.secret));
            let before = (shipwatch.usage(), Usage::of("self"));
            let result = load::open_loop(
                &shipwatch.endpoint,
                deliveries.clone(),
                settings.rate,
                settings.concurrency,
                STEADY_GRACE,
            )
            .await?;
            let cost = Cost::between(before, (shipwatch.usage(), Usage::of("self")), result.ok);
            report.errors.extend(run_errors(&format!("{label}, steady"), &result));
            history.record(&posts, &result);
            c.steady = Some(Run::new(&result, posts.len(), deliveries.mean_bytes(), cost));
            report.in_progress = Some(c.clone());
        }

        // Everything answered must be stored.
        let count = inspector.count().await?;
        if !count.secret_configured {
            report
                .errors
                .push(format!("{label}: shipwatch says no secret is configured: nothing was verified"));
        }
        if count.deliveries != history.stored {
            report.errors.push(format!(
                "{label}: {} posts were answered (and so stored) but shipwatch holds {} deliveries",
                history.stored, count.deliveries
            ));
        }
        if count.shipments != history.shipments.len() as u64 {
            report.errors.push(format!(
                "{label}: events of {} shipments were accepted but shipwatch has {} shipments",
                history.shipments.len(),
                count.shipments
            ));
        }
        c.count = Some(count);
        c.stored_after = history.stored;
        if let Some((rss, peak)) = shipwatch.memory() {
            c.rss_bytes = Some(rss);
            c.peak_rss_bytes = Some(peak);
        }
        drop(inspector);

        // A clean stop, the data dir's size, and a cold start on it.
        eprintln!("{label}: restart ...");
        let (restarted, files) = shipwatch.restart(programs, targets::dir_sizes)?;
        shipwatch = restarted;
        c.disk_bytes = Some(files.iter().map(|f| f.1).sum());
        c.disk_files = files.into_iter().take(20).collect();
        let (cold, mut inspector) = wait_until_answering(&shipwatch).await?;
        c.cold_start_s = Some(cold.as_secs_f64());
        match inspector.get_json("/api/deliveries").await {
            Ok((_, elapsed)) => c.first_feed_after_restart_ms = Some(elapsed.as_secs_f64() * 1000.0),
            Err(e) => report.errors.push(format!("{label}, after the restart: {e}")),
        }
        report.in_progress = None;
        report.print_checkpoint(&c);
        report.checkpoints.push(c);
    }
    shipwatch.stop()?;
    Ok(())
}

async fn connect_inspector(target: &Target) -> Result<Inspector, String> {
    let addr = target.inspector.ok_or("shipwatch did not print an inspector address")?;
    Inspector::connect(addr, &target.inspector_token()?).await
}

/// Polls `/api/status` until it answers 200; returns the time since the process was spawned.
async fn wait_until_answering(target: &Target) -> Result<(Duration, Inspector), String> {
    let deadline = Instant::now() + COLD_START_TIMEOUT;
    let mut last = String::new();
    while Instant::now() < deadline {
        match connect_inspector(target).await {
            Ok(mut inspector) => match inspector.get("/api/status").await {
                Ok(got) if got.status == 200 => return Ok((target.spawned.elapsed(), inspector)),
                Ok(got) => last = format!("answered {}", got.status),
                Err(e) => last = e,
            },
            Err(e) => last = e,
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    Err(format!(
        "shipwatch did not answer /api/status within {}s of a restart: {last}",
        COLD_START_TIMEOUT.as_secs()
    ))
}

/// Posts the year at full speed, chunk by chunk, until shipwatch holds `to` deliveries.
async fn load_up_to(
    target: &Target,
    settings: &Settings,
    programs: &Programs,
    history: &mut History,
    to: u64,
    errors: &mut Vec<String>,
) -> Result<Loading, String> {
    let mut loading = Loading { from: history.stored, to, ..Default::default() };
    while history.stored < to {
        let n = settings.chunk.min((to - history.stored) as usize);
        let rendering = Instant::now();
        let posts = history.year.take(n);
        let deliveries = Arc::new(workload::render_all(&posts, &programs.secret));
        loading.rendering_seconds += rendering.elapsed().as_secs_f64();
        let result = load::closed_loop(&target.endpoint, deliveries, settings.concurrency, None).await?;
        let before = history.stored;
        errors.extend(run_errors(&format!("loading at {} stored", report::thousands(before)), &result));
        history.record(&posts, &result);
        if result.errors * 2 > n {
            return Err(format!(
                "loading stopped: {} of {n} posts failed at {} stored",
                result.errors,
                report::thousands(before)
            ));
        }
        let summary = result.summary();
        loading.seconds += summary.seconds;
        loading.chunks.push(LoadChunk {
            stored_before: before,
            posts: n,
            seconds: summary.seconds,
            deliveries_per_s: summary.deliveries_per_s,
            p99_ms: summary.p99_ms,
        });
        eprintln!(
            "loading: {} of {} stored ({:.0}/s, p99 {:.1} ms)",
            report::thousands(history.stored),
            report::thousands(to),
            summary.deliveries_per_s,
            summary.p99_ms
        );
    }
    loading.to = history.stored;
    Ok(loading)
}

/// The durable reference on a fresh, empty store with `deliveries`; checks what it stored.
async fn durable_run(
    programs: &Programs,
    settings: &Settings,
    deliveries: &Arc<workload::Deliveries>,
    label: &str,
    errors: &mut Vec<String>,
) -> Option<Run> {
    let what = format!("{label}, durable reference");
    let target = match Target::start(TargetKind::Durable, programs) {
        Ok(t) => t,
        Err(e) => {
            errors.push(format!("{what}: {e}"));
            return None;
        }
    };
    let before = (target.usage(), Usage::of("self"));
    let result =
        match load::closed_loop(&target.endpoint, deliveries.clone(), settings.concurrency, None).await {
            Ok(r) => r,
            Err(e) => {
                errors.push(format!("{what}: {e}"));
                return None;
            }
        };
    let cost = Cost::between(before, (target.usage(), Usage::of("self")), result.ok);
    errors.extend(run_errors(&what, &result));
    let accepted = result.statuses.iter().filter(|s| (200..300).contains(*s)).count() as u64;
    match target.stop() {
        Ok(Some(stored)) if stored.deliveries != accepted => errors.push(format!(
            "{what}: answered 2xx to {accepted} deliveries but stored {} rows",
            stored.deliveries
        )),
        Ok(_) => {}
        Err(e) => errors.push(format!("{what}: {e}")),
    }
    Some(Run::new(&result, deliveries.len(), deliveries.mean_bytes(), cost))
}

/// `--shipwatch`, else `shipwatch` next to this executable, else build it with cargo (same profile).
fn resolve_shipwatch(flag: Option<&Path>, bench: &Path) -> Result<PathBuf, String> {
    if let Some(path) = flag {
        return if path.is_file() {
            Ok(path.to_path_buf())
        } else {
            Err(format!("--shipwatch {}: no such file", path.display()))
        };
    }
    let dir = bench.parent().ok_or("this benchmark's executable has no directory")?;
    let candidate = dir.join(format!("shipwatch{}", std::env::consts::EXE_SUFFIX));
    if candidate.is_file() {
        return Ok(candidate);
    }
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../Cargo.toml");
    let release = !targets::is_debug_build(bench);
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut command = Command::new(cargo);
    command.args(["build", "--bin", "shipwatch", "--manifest-path"]).arg(&manifest);
    if release {
        command.arg("--release");
    }
    eprintln!(
        "no {} yet: building it (cargo build{} --bin shipwatch) ...",
        candidate.display(),
        if release { " --release" } else { "" }
    );
    let built = command.status().map(|s| s.success()).unwrap_or(false);
    if built && candidate.is_file() {
        Ok(candidate)
    } else {
        Err(format!(
            "no shipwatch binary at {} and building it failed; run `cargo build --release --bin shipwatch` \
             or pass --shipwatch PATH",
            candidate.display()
        ))
    }
}
