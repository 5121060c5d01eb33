//! The targets as child processes: `shipwatch serve` and the two references, each started fresh on
//! 127.0.0.1:0 with a fresh data dir, found through the addresses they print, checked after the run
//! (what each one stored) and stopped with SIGTERM (a clean exit is part of the check).

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde::Serialize;

use crate::client::Conn;
use crate::load::Endpoint;
use crate::reference::{self, WEBHOOK_PATH};

/// How long a target may take to start listening, and to stop after SIGTERM.
const START_TIMEOUT: Duration = Duration::from_secs(30);
const STOP_TIMEOUT: Duration = Duration::from_secs(30);

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, clap::ValueEnum, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum TargetKind {
    /// `shipwatch serve`: verified, committed and projected.
    Shipwatch,
    /// Verify + append the raw body to SQLite in group commits: the storage limit.
    Durable,
    /// Read the body, answer 200: the HTTP limit.
    Http,
}

impl TargetKind {
    pub fn name(self) -> &'static str {
        match self {
            TargetKind::Shipwatch => "shipwatch",
            TargetKind::Durable => "durable",
            TargetKind::Http => "http",
        }
    }
}

/// What to run for each target.
pub struct Programs {
    pub shipwatch: PathBuf,
    /// This benchmark's own executable (for the references).
    pub bench: PathBuf,
    pub secret: String,
    /// Where the fresh data dirs go.
    pub work_dir: PathBuf,
}

/// A running target.
pub struct Target {
    pub kind: TargetKind,
    pub endpoint: Endpoint,
    /// Shipwatch only: the inspector's address.
    inspector: Option<SocketAddr>,
    child: Child,
    /// Holds the data dir (`data/`) and the child's stderr (`stderr.log`); removed on drop.
    dir: tempfile::TempDir,
    /// Drains the child's stdout to the end, so a late `println!` never hits a closed pipe.
    stdout: Option<std::thread::JoinHandle<()>>,
}

impl Target {
    pub fn start(kind: TargetKind, programs: &Programs) -> Result<Target, String> {
        let dir = tempfile::Builder::new()
            .prefix(&format!("shipwatch-bench-{}-", kind.name()))
            .tempdir_in(&programs.work_dir)
            .map_err(|e| format!("cannot create a data dir in {}: {e}", programs.work_dir.display()))?;
        let data_dir = dir.path().join("data");
        std::fs::create_dir_all(&data_dir)
            .map_err(|e| format!("cannot create {}: {e}", data_dir.display()))?;
        let stderr_path = dir.path().join("stderr.log");
        let stderr = std::fs::File::create(&stderr_path)
            .map_err(|e| format!("cannot create {}: {e}", stderr_path.display()))?;

        let mut command = match kind {
            TargetKind::Shipwatch => {
                let mut c = Command::new(&programs.shipwatch);
                c.arg("serve").arg("--data-dir").arg(&data_dir);
                c.args(["--listen", "127.0.0.1:0", "--inspector-listen", "127.0.0.1:0"]);
                c
            }
            TargetKind::Durable | TargetKind::Http => {
                let mut c = Command::new(&programs.bench);
                let which = if kind == TargetKind::Durable { "durable" } else { "http" };
                c.args(["reference", which, "--listen", "127.0.0.1:0", "--data-dir"]).arg(&data_dir);
                c
            }
        };
        // Secrets only through the environment; nothing inherited may change the targets.
        for var in [
            "SHIPWATCH_PREVIOUS_SECRET",
            "SHIPWATCH_DATA_DIR",
            "SHIPWATCH_LISTEN",
            "SHIPWATCH_INSPECTOR_LISTEN",
        ] {
            command.env_remove(var);
        }
        command.env("SHIPWATCH_SECRET", &programs.secret);
        command.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::from(stderr));
        let program = command.get_program().to_string_lossy().into_owned();
        let mut child = command.spawn().map_err(|e| format!("cannot start {program}: {e}"))?;

        let (lines_tx, lines) = mpsc::channel::<String>();
        let stdout = child.stdout.take().map(|out| {
            std::thread::spawn(move || {
                for line in BufReader::new(out).lines() {
                    let Ok(line) = line else { break };
                    // Nobody listens after start-up; keep reading anyway.
                    let _ = lines_tx.send(line);
                }
            })
        });

        let mut target = Target {
            kind,
            endpoint: Endpoint {
                addr: SocketAddr::from(([127, 0, 0, 1], 0)),
                path: WEBHOOK_PATH.to_string(),
            },
            inspector: None,
            child,
            dir,
            stdout,
        };
        let mut receiver = None;
        let deadline = Instant::now() + START_TIMEOUT;
        while receiver.is_none() || (kind == TargetKind::Shipwatch && target.inspector.is_none()) {
            let left = deadline.saturating_duration_since(Instant::now());
            match lines.recv_timeout(left) {
                Ok(line) => {
                    if let Some(url) = line.strip_prefix("receiver: ") {
                        receiver =
                            Some(parse_url(url).map_err(|e| format!("{program} printed {line:?}: {e}"))?);
                    } else if let Some(url) = line.strip_prefix("inspector: ") {
                        target.inspector =
                            Some(parse_url(url).map_err(|e| format!("{program} printed {line:?}: {e}"))?.0);
                    }
                }
                Err(mpsc::RecvTimeoutError::Timeout) => {
                    let _ = target.child.kill();
                    return Err(format!(
                        "{program} did not print its addresses within {}s{}",
                        START_TIMEOUT.as_secs(),
                        target.stderr_tail()
                    ));
                }
                Err(mpsc::RecvTimeoutError::Disconnected) => {
                    let status = target.child.wait().map(|s| s.to_string()).unwrap_or_default();
                    return Err(format!(
                        "{program} exited ({status}) before listening{}",
                        target.stderr_tail()
                    ));
                }
            }
        }
        if let Some((addr, path)) = receiver {
            target.endpoint = Endpoint { addr, path };
        }
        Ok(target)
    }

    /// The child's CPU time and disk writes so far (Linux `/proc`; `None` elsewhere).
    pub fn usage(&self) -> Option<Usage> {
        Usage::of(&self.child.id().to_string())
    }

    pub fn data_dir(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    /// The last lines the child wrote to stderr, as a suffix for an error message.
    fn stderr_tail(&self) -> String {
        let text = std::fs::read_to_string(self.dir.path().join("stderr.log")).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        if lines.is_empty() {
            return String::new();
        }
        format!("; its stderr ends with:\n    {}", lines[lines.len().saturating_sub(10)..].join("\n    "))
    }

    /// Shipwatch only, while it runs: what its inspector API says was stored. Returns mismatches.
    pub async fn check_shipwatch(&self, answered: u64) -> Result<Stored, String> {
        let inspector = self.inspector.ok_or("shipwatch did not print an inspector address")?;
        let token_path = self.data_dir().join("inspector-token");
        let token = std::fs::read_to_string(&token_path)
            .map_err(|e| format!("cannot read the inspector token {}: {e}", token_path.display()))?;
        let bearer = format!("Bearer {}", token.trim());
        let mut conn =
            Conn::connect(inspector).await.map_err(|e| format!("cannot reach the inspector: {e}"))?;
        let status = get_json(&mut conn, &bearer, "/api/status").await?;
        let shipments = get_json(&mut conn, &bearer, "/api/shipments?limit=1").await?;
        let number = |v: &serde_json::Value, field: &str| -> Result<u64, String> {
            v.get(field)
                .and_then(|x| x.as_u64())
                .ok_or_else(|| format!("/api/status has no number {field:?}"))
        };
        let deliveries = number(&status, "deliveries_total")?;
        let failures = number(&status, "failures_today")?;
        let secret_configured = status.get("secret_configured").and_then(|v| v.as_bool()) == Some(true);
        let projected = shipments
            .get("counts")
            .and_then(|c| c.as_array())
            .map(|counts| counts.iter().filter_map(|c| c.get("count").and_then(|n| n.as_u64())).sum::<u64>())
            .ok_or("/api/shipments has no \"counts\"")?;
        let mut problems = Vec::new();
        if !secret_configured {
            problems.push("shipwatch says no secret is configured: deliveries were not verified".to_string());
        }
        if deliveries != answered {
            problems.push(format!("shipwatch answered 2xx to {answered} deliveries but stored {deliveries}"));
        }
        if failures != 0 {
            problems.push(format!("shipwatch counts {failures} failed verifications"));
        }
        if projected != answered {
            problems.push(format!(
                "{answered} distinct tracking numbers sent but shipwatch has {projected} shipments"
            ));
        }
        Ok(Stored { deliveries, bytes: None, shipments: Some(projected), problems })
    }

    /// Stops the target with SIGTERM and waits for it; then, for the durable reference, counts what
    /// it stored. A target that does not exit cleanly is a problem.
    pub fn stop(mut self) -> Result<Option<Stored>, String> {
        let name = self.kind.name();
        terminate(&mut self.child);
        let status = wait_for(&mut self.child, STOP_TIMEOUT);
        if let Some(handle) = self.stdout.take() {
            let _ = handle.join();
        }
        match status {
            Some(s) if s.success() => {}
            Some(s) => return Err(format!("{name} exited with {s} after SIGTERM{}", self.stderr_tail())),
            None => {
                let _ = self.child.kill();
                let _ = self.child.wait();
                return Err(format!(
                    "{name} did not stop within {}s of SIGTERM; killed",
                    STOP_TIMEOUT.as_secs()
                ));
            }
        }
        if self.kind == TargetKind::Durable {
            let (rows, bytes) = reference::durable_stored(&self.data_dir())?;
            return Ok(Some(Stored {
                deliveries: rows,
                bytes: Some(bytes),
                shipments: None,
                problems: Vec::new(),
            }));
        }
        Ok(None)
    }
}

impl Drop for Target {
    fn drop(&mut self) {
        // Only after an early error: never leave a child running.
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// CPU time and bytes written to storage by a process, from `/proc` (Linux only), with its CPU time
/// by thread name (e.g. `shipwatch-writer`, `tokio-runtime-w`): which thread limits throughput.
#[derive(Clone, Debug, Default)]
pub struct Usage {
    pub cpu_s: f64,
    pub write_bytes: u64,
    pub threads_cpu_s: BTreeMap<String, f64>,
    /// The whole machine's CPU ticks so far, and those stolen by the hypervisor (`/proc/stat`): on a
    /// virtual machine, how much of the time its CPUs were not its own.
    pub machine_ticks: u64,
    pub stolen_ticks: u64,
}

/// All CPU ticks of the machine and the stolen ones, from the `cpu` line of `/proc/stat`.
fn machine_ticks() -> (u64, u64) {
    let stat = std::fs::read_to_string("/proc/stat").unwrap_or_default();
    let ticks: Vec<u64> = stat
        .lines()
        .find_map(|l| l.strip_prefix("cpu "))
        .map(|l| l.split_whitespace().filter_map(|v| v.parse().ok()).collect())
        .unwrap_or_default();
    // user nice system idle iowait irq softirq steal (guest time is already in user).
    (ticks.iter().take(8).sum(), ticks.get(7).copied().unwrap_or(0))
}

/// utime + stime of a `/proc/.../stat` line, in seconds.
fn stat_cpu_s(stat: &str) -> Option<f64> {
    // Fields after the command name (which may hold spaces) start at field 3 (state);
    // utime and stime are fields 14 and 15.
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    let ticks = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
    Some(ticks as f64 / clock_ticks_per_s())
}

impl Usage {
    /// `pid` is a number or `self`.
    pub fn of(pid: &str) -> Option<Usage> {
        let cpu_s = stat_cpu_s(&std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?)?;
        let io = std::fs::read_to_string(format!("/proc/{pid}/io")).unwrap_or_default();
        let write_bytes = io
            .lines()
            .find_map(|l| l.strip_prefix("write_bytes:"))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(0);
        let mut threads_cpu_s = BTreeMap::new();
        if let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) {
            for task in tasks.flatten() {
                let path = task.path();
                let name = std::fs::read_to_string(path.join("comm")).unwrap_or_default().trim().to_string();
                if let Some(cpu) =
                    std::fs::read_to_string(path.join("stat")).ok().and_then(|s| stat_cpu_s(&s))
                {
                    *threads_cpu_s.entry(name).or_insert(0.0) += cpu;
                }
            }
        }
        let (machine_ticks, stolen_ticks) = machine_ticks();
        Some(Usage { cpu_s, write_bytes, threads_cpu_s, machine_ticks, stolen_ticks })
    }

    /// What happened between `self` (earlier) and `later`. (A thread that ended in between is
    /// missing from the breakdown; the process total still counts it.)
    pub fn until(&self, later: &Usage) -> Usage {
        let threads_cpu_s = later
            .threads_cpu_s
            .iter()
            .map(|(name, cpu)| {
                (name.clone(), (cpu - self.threads_cpu_s.get(name).copied().unwrap_or(0.0)).max(0.0))
            })
            .collect();
        Usage {
            cpu_s: (later.cpu_s - self.cpu_s).max(0.0),
            write_bytes: later.write_bytes.saturating_sub(self.write_bytes),
            threads_cpu_s,
            machine_ticks: later.machine_ticks.saturating_sub(self.machine_ticks),
            stolen_ticks: later.stolen_ticks.saturating_sub(self.stolen_ticks),
        }
    }
}

#[cfg(unix)]
fn clock_ticks_per_s() -> f64 {
    // SAFETY: sysconf only reads a configuration value.
    let ticks = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if ticks > 0 {
        ticks as f64
    } else {
        100.0
    }
}

#[cfg(not(unix))]
fn clock_ticks_per_s() -> f64 {
    100.0
}

/// What a target stored, as it reports it.
#[derive(Clone, Debug, Serialize)]
pub struct Stored {
    pub deliveries: u64,
    /// Durable reference: body bytes stored.
    pub bytes: Option<u64>,
    /// Shipwatch: shipments projected.
    pub shipments: Option<u64>,
    #[serde(skip)]
    pub problems: Vec<String>,
}

async fn get_json(conn: &mut Conn, bearer: &str, path: &str) -> Result<serde_json::Value, String> {
    let answer = conn
        .request("GET", path, &[("authorization", bearer), ("accept", "application/json")], b"", true)
        .await
        .map_err(|e| format!("GET {path} on the inspector: {e}"))?;
    if answer.status != 200 {
        return Err(format!(
            "GET {path} on the inspector answered {}: {}",
            answer.status,
            String::from_utf8_lossy(&answer.body)
        ));
    }
    serde_json::from_slice(&answer.body).map_err(|e| format!("GET {path}: the answer is not JSON: {e}"))
}

/// `http://127.0.0.1:PORT/path?query` → (address, path).
fn parse_url(url: &str) -> Result<(SocketAddr, String), String> {
    let rest = url.trim().strip_prefix("http://").ok_or("not an http:// URL")?;
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    let addr: SocketAddr = authority.parse().map_err(|e| format!("{authority:?} is not an address: {e}"))?;
    let path = path.split('?').next().unwrap_or("/").to_string();
    Ok((addr, path))
}

#[cfg(unix)]
fn terminate(child: &mut Child) {
    let Ok(pid) = libc::pid_t::try_from(child.id()) else {
        let _ = child.kill();
        return;
    };
    // SAFETY: kill(2) on the pid of our own child, which we have not waited for yet.
    if unsafe { libc::kill(pid, libc::SIGTERM) } != 0 {
        let _ = child.kill();
    }
}

#[cfg(not(unix))]
fn terminate(child: &mut Child) {
    let _ = child.kill();
}

fn wait_for(child: &mut Child, timeout: Duration) -> Option<ExitStatus> {
    let deadline = Instant::now() + timeout;
    loop {
        match child.try_wait() {
            Ok(Some(status)) => return Some(status),
            Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(20)),
            _ => return None,
        }
    }
}

/// Whether `path` looks like a debug build's output (`…/debug/…`).
pub fn is_debug_build(path: &Path) -> bool {
    path.components().any(|c| c.as_os_str() == "debug")
}

#[cfg(test)]
mod tests {
    use super::parse_url;

    #[test]
    fn parses_printed_urls() {
        let (addr, path) = parse_url("http://127.0.0.1:4242/webhooks/aftership").unwrap();
        assert_eq!((addr.port(), path.as_str()), (4242, "/webhooks/aftership"));
        let (addr, path) = parse_url("http://127.0.0.1:9/?token=abc").unwrap();
        assert_eq!((addr.port(), path.as_str()), (9, "/"));
        assert!(parse_url("https://x/").is_err());
    }
}
