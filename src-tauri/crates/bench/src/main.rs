//! `shipwatch-bench`: the committed benchmark of issue 2 ("Performance").
//!
//! In one run it posts distinct signed deliveries (about 2 KB and about 17 KB) at concurrency 32 over
//! loopback HTTP/1.1 keep-alive to three targets, each a fresh child process with a fresh data dir:
//! `shipwatch serve` (verified, committed, projected), the durable reference (verify + append the raw
//! body to SQLite in group commits: the storage limit) and the HTTP reference (read the body, answer
//! 200: the HTTP limit). Then it runs shipwatch, and the durable reference for comparison, at a
//! steady 1,000 deliveries/s (open loop) for latency. It checks that every delivery answered 2xx was stored, prints a table with the ratios and
//! PASS/MISS against the targets, and exits non-zero only on errors (a non-2xx answer, a
//! delivery missing from storage, a target that failed or did not stop cleanly): the figures are
//! reported, not asserted.
//!
//! Modules: [`workload`] (the deliveries), [`client`] (the HTTP/1.1 client), [`load`] (closed and
//! open loops, latency), [`targets`] (the child processes and what they stored), [`reference`] (the
//! reference receivers, run through the hidden `reference` subcommand), [`report`] (table and JSON).

mod client;
mod load;
mod reference;
mod report;
mod targets;
mod workload;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};
use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::{Args, Parser, Subcommand};

use crate::load::Endpoint;
use crate::report::{CaseResult, Cost, Report, SteadyResult};
use crate::targets::{Programs, Target, TargetKind, Usage};
use crate::workload::{Batch, Deliveries, Size};

/// How long after its last scheduled delivery a steady run waits for a target that fell behind.
const STEADY_GRACE_S: u64 = 2;

#[derive(Parser)]
#[command(
    name = "shipwatch-bench",
    about = "Benchmark `shipwatch serve` against an HTTP-only and a durable-SQLite reference receiver",
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
    /// CI mode: 300 deliveries per case and 1 s steady runs (about 10 s in all)
    #[arg(long)]
    quick: bool,
    /// Deliveries per throughput case, generated before timing and each sent once [default: small
    /// 20000, large 8000; --quick: 300]
    #[arg(long, value_name = "N")]
    requests: Option<usize>,
    /// End each throughput case after this many seconds even if deliveries remain; 0: no limit
    /// [default: 15; --quick: 5]
    #[arg(long, value_name = "SECS")]
    duration: Option<f64>,
    /// Concurrent keep-alive connections of the throughput runs
    #[arg(long, default_value_t = 32, value_name = "N")]
    concurrency: usize,
    /// Unmeasured deliveries sent to each target before its run [default: 500; --quick: 64]
    #[arg(long, value_name = "N")]
    warmup: Option<usize>,
    /// Run the throughput cases this many times, interleaved, and report each target's best round
    /// (for a machine shared with other work)
    #[arg(long, default_value_t = 1, value_name = "N")]
    rounds: usize,
    /// Rate of the steady runs, deliveries/s (0 skips them)
    #[arg(long, default_value_t = 1000.0, value_name = "PER_S")]
    rate: f64,
    /// Seconds of each steady run [default: 5; --quick: 1]
    #[arg(long, value_name = "SECS")]
    steady_secs: Option<f64>,
    /// Targets of the steady runs (the latency target is shipwatch's; the durable reference
    /// shows what the disk's fsync allows)
    #[arg(long, value_enum, value_delimiter = ',', default_value = "durable,shipwatch")]
    steady_targets: Vec<TargetKind>,
    /// Targets of the throughput runs
    #[arg(long, value_enum, value_delimiter = ',', default_value = "durable,shipwatch,http")]
    targets: Vec<TargetKind>,
    /// Body sizes: small (~2 KB, 1 checkpoint), large (~17 KB, 42 checkpoints)
    #[arg(long, value_enum, value_delimiter = ',', default_value = "small,large")]
    sizes: Vec<Size>,
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
    pub requests_small: usize,
    pub requests_large: usize,
    pub duration_s: Option<f64>,
    pub concurrency: usize,
    pub warmup: usize,
    pub rounds: usize,
    pub rate: f64,
    pub steady_s: f64,
    pub client_threads: usize,
    pub shipwatch: PathBuf,
    pub work_dir: PathBuf,
    pub cpus: usize,
}

impl Settings {
    fn requests(&self, size: Size) -> usize {
        match size {
            Size::Small => self.requests_small,
            Size::Large => self.requests_large,
        }
    }
}

fn run(args: BenchArgs) -> Result<Report, String> {
    if args.concurrency == 0 {
        return Err("--concurrency must be at least 1".into());
    }
    let duration = args.duration.unwrap_or(if args.quick { 5.0 } else { 15.0 });
    if !(duration.is_finite() && duration >= 0.0) {
        return Err(format!("--duration must be a number of seconds (0: no limit), not {duration}"));
    }
    if !(args.rate.is_finite() && args.rate >= 0.0) {
        return Err(format!("--rate must be a number of deliveries per second (0 skips), not {}", args.rate));
    }
    let steady_s = args.steady_secs.unwrap_or(if args.quick { 1.0 } else { 5.0 });
    if !(steady_s.is_finite() && steady_s >= 0.0) {
        return Err(format!("--steady-secs must be a number of seconds, not {steady_s}"));
    }
    if args.requests == Some(0) {
        return Err("--requests must be at least 1".into());
    }
    let (sizes, kinds, steady_kinds) =
        (unique(&args.sizes), unique(&args.targets), unique(&args.steady_targets));

    let bench =
        std::env::current_exe().map_err(|e| format!("cannot find this benchmark's executable: {e}"))?;
    let shipwatch = resolve_shipwatch(args.shipwatch.as_deref(), &bench)?;
    let work_dir = args.work_dir.clone().unwrap_or_else(std::env::temp_dir);
    std::fs::create_dir_all(&work_dir)
        .map_err(|e| format!("cannot create --work-dir {}: {e}", work_dir.display()))?;
    let settings = Settings {
        quick: args.quick,
        requests_small: args.requests.unwrap_or(if args.quick { 300 } else { 20_000 }),
        requests_large: args.requests.unwrap_or(if args.quick { 300 } else { 8_000 }),
        duration_s: (duration > 0.0).then_some(duration),
        concurrency: args.concurrency,
        warmup: args.warmup.unwrap_or(if args.quick { 64 } else { 500 }),
        rounds: args.rounds.max(1),
        rate: args.rate,
        steady_s,
        client_threads: args.client_threads.max(1),
        shipwatch: shipwatch.clone(),
        work_dir: work_dir.clone(),
        cpus: std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1),
    };
    let secret: String = (0..32).map(|_| format!("{:02x}", rand::random::<u8>())).collect();
    let programs = Programs { shipwatch, bench: bench.clone(), secret: secret.clone(), work_dir };
    let run_id: u32 = rand::random();

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
    for &size in &sizes {
        let generating = Instant::now();
        let warmup = Arc::new(workload::generate(size, Batch::Warmup, run_id, settings.warmup, &secret));
        let measured =
            Arc::new(workload::generate(size, Batch::Measured, run_id, settings.requests(size), &secret));
        eprintln!(
            "generated {} + {} {} deliveries (mean {} bytes) in {:.1}s",
            warmup.len(),
            measured.len(),
            size.name(),
            measured.mean_bytes(),
            generating.elapsed().as_secs_f64()
        );
        for round in 1..=settings.rounds {
            for &kind in &kinds {
                let of = if settings.rounds > 1 { format!(" (round {round})") } else { String::new() };
                eprintln!("running {} / {}{of} ...", size.name(), kind.name());
                let case =
                    runtime.block_on(throughput_case(kind, round, &programs, &settings, &warmup, &measured));
                report.add_case(case);
            }
        }
    }
    if settings.rate > 0.0 && settings.steady_s > 0.0 {
        let count = (settings.rate * settings.steady_s).round().max(1.0) as usize;
        for &size in &sizes {
            let deliveries = Arc::new(workload::generate(size, Batch::Steady, run_id, count, &secret));
            let warmup = Arc::new(workload::generate(size, Batch::Warmup, run_id, settings.warmup, &secret));
            for &kind in &steady_kinds {
                eprintln!(
                    "running steady {}/s {} / {} for {:.0}s ...",
                    settings.rate,
                    size.name(),
                    kind.name(),
                    settings.steady_s
                );
                let steady = runtime.block_on(steady_case(kind, &programs, &settings, &warmup, &deliveries));
                report.add_steady(steady);
            }
        }
    }
    report.total_s = started.elapsed().as_secs_f64();
    report.finish();
    report.print();
    if let Some(path) = &args.json {
        report.write_json(path)?;
        println!("JSON written to {}", path.display());
    }
    Ok(report)
}

/// The values in the order given, each once.
fn unique<T: PartialEq + Copy>(values: &[T]) -> Vec<T> {
    let mut out: Vec<T> = Vec::with_capacity(values.len());
    for v in values {
        if !out.contains(v) {
            out.push(*v);
        }
    }
    out
}

/// Sends the warm-up deliveries, unmeasured. Returns how many were answered 2xx.
async fn warm_up(
    endpoint: &Endpoint,
    warmup: &Arc<Deliveries>,
    concurrency: usize,
    errors: &mut Vec<String>,
) -> u64 {
    if warmup.len() == 0 {
        return 0;
    }
    match load::closed_loop(endpoint, warmup.clone(), concurrency, None).await {
        Ok(r) => {
            errors.extend(r.error_samples.iter().map(|e| format!("warm-up: {e}")));
            if r.errors > r.error_samples.len() {
                errors.push(format!("warm-up: {} errors in all", r.errors));
            }
            r.ok as u64
        }
        Err(e) => {
            errors.push(format!("warm-up: {e}"));
            0
        }
    }
}

/// One target, one size: start it fresh, warm it up, measure, check what it stored, stop it.
async fn throughput_case(
    kind: TargetKind,
    round: usize,
    programs: &Programs,
    settings: &Settings,
    warmup: &Arc<Deliveries>,
    measured: &Arc<Deliveries>,
) -> CaseResult {
    let mut case = CaseResult::new(kind, measured.size, round, measured.mean_bytes());
    let target = match Target::start(kind, programs) {
        Ok(t) => t,
        Err(e) => {
            case.problems.push(e);
            return case;
        }
    };
    let mut answered = warm_up(&target.endpoint, warmup, settings.concurrency, &mut case.problems).await;
    let limit = settings.duration_s.map(Duration::from_secs_f64);
    let before = (target.usage(), Usage::of("self"));
    match load::closed_loop(&target.endpoint, measured.clone(), settings.concurrency, limit).await {
        Ok(result) => {
            answered += result.ok as u64;
            case.set_result(&result);
            case.cost = Cost::between(before, (target.usage(), Usage::of("self")), result.ok);
        }
        Err(e) => case.problems.push(e),
    }
    finish_target(target, answered, &mut case.problems, &mut case.stored).await;
    case
}

/// Checks what the target stored against `answered` and stops it.
async fn finish_target(
    target: Target,
    answered: u64,
    problems: &mut Vec<String>,
    stored: &mut Option<targets::Stored>,
) {
    let kind = target.kind;
    if kind == TargetKind::Shipwatch {
        match target.check_shipwatch(answered).await {
            Ok(s) => {
                problems.extend(s.problems.iter().cloned());
                *stored = Some(s);
            }
            Err(e) => problems.push(e),
        }
    }
    match target.stop() {
        Ok(Some(s)) => {
            if kind == TargetKind::Durable && s.deliveries != answered {
                problems.push(format!(
                    "the durable reference answered 2xx to {answered} deliveries but stored {} rows",
                    s.deliveries
                ));
            }
            *stored = Some(s);
        }
        Ok(None) => {}
        Err(e) => problems.push(e),
    }
}

/// A target at a steady rate (open loop), fresh.
async fn steady_case(
    kind: TargetKind,
    programs: &Programs,
    settings: &Settings,
    warmup: &Arc<Deliveries>,
    deliveries: &Arc<Deliveries>,
) -> SteadyResult {
    let mut steady = SteadyResult::new(kind, deliveries.size, deliveries.mean_bytes(), settings.rate);
    let target = match Target::start(kind, programs) {
        Ok(t) => t,
        Err(e) => {
            steady.problems.push(e);
            return steady;
        }
    };
    let mut answered = warm_up(&target.endpoint, warmup, settings.concurrency, &mut steady.problems).await;
    let before = (target.usage(), Usage::of("self"));
    let grace = Duration::from_secs(STEADY_GRACE_S);
    match load::open_loop(&target.endpoint, deliveries.clone(), settings.rate, settings.concurrency, grace)
        .await
    {
        Ok(result) => {
            answered += result.ok as u64;
            steady.set_result(&result);
            steady.cost = Cost::between(before, (target.usage(), Usage::of("self")), result.ok);
        }
        Err(e) => steady.problems.push(e),
    }
    finish_target(target, answered, &mut steady.problems, &mut steady.stored).await;
    steady
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
