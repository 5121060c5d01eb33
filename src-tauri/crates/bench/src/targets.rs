//! The targets as child processes: `shipwatch serve` and the durable reference, each started on
//! 127.0.0.1:0 with a fresh data dir and found through the addresses it prints; stopped with SIGTERM
//! (a clean exit is part of the check) and, for shipwatch, started again on the same data dir (cold
//! start). Also what `/proc` says about them: CPU time, bytes written, memory; and the size of a data
//! dir. No `unsafe`: signals go through kill(1), the clock tick through getconf(1).

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde::Serialize;

use crate::load::Endpoint;
use crate::reference::{self, WEBHOOK_PATH};

/// How long a target may take to start listening, and to stop after SIGTERM.
const START_TIMEOUT: Duration = Duration::from_secs(30);
const STOP_TIMEOUT: Duration = Duration::from_secs(30);

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum TargetKind {
    /// `shipwatch serve`: verified, committed and projected.
    Shipwatch,
    /// Verify + append the raw body to SQLite in group commits: the storage limit.
    Durable,
}

impl TargetKind {
    pub fn name(self) -> &'static str {
        match self {
            TargetKind::Shipwatch => "shipwatch",
            TargetKind::Durable => "durable",
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
    pub inspector: Option<SocketAddr>,
    child: Child,
    /// Holds the data dir (`data/`) and the child's stderr (`stderr.log`); removed on drop.
    dir: tempfile::TempDir,
    /// Drains the child's stdout to the end, so a late `println!` never hits a closed pipe.
    stdout: Option<std::thread::JoinHandle<()>>,
    /// When the current process was spawned.
    pub spawned: Instant,
}

impl Target {
    /// Starts `kind` on a fresh data dir.
    pub fn start(kind: TargetKind, programs: &Programs) -> Result<Target, String> {
        let dir = tempfile::Builder::new()
            .prefix(&format!("shipwatch-bench-{}-", kind.name()))
            .tempdir_in(&programs.work_dir)
            .map_err(|e| format!("cannot create a data dir in {}: {e}", programs.work_dir.display()))?;
        let data_dir = dir.path().join("data");
        std::fs::create_dir_all(&data_dir)
            .map_err(|e| format!("cannot create {}: {e}", data_dir.display()))?;
        Target::spawn(kind, programs, dir)
    }

    /// Starts `kind` on the data dir in `dir` (fresh or left by an earlier process).
    fn spawn(kind: TargetKind, programs: &Programs, dir: tempfile::TempDir) -> Result<Target, String> {
        let data_dir = dir.path().join("data");
        let stderr_path = dir.path().join("stderr.log");
        let stderr = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&stderr_path)
            .map_err(|e| format!("cannot open {}: {e}", stderr_path.display()))?;

        let mut command = match kind {
            TargetKind::Shipwatch => {
                let mut c = Command::new(&programs.shipwatch);
                c.arg("serve").arg("--data-dir").arg(&data_dir);
                c.args(["--listen", "127.0.0.1:0", "--inspector-listen", "127.0.0.1:0"]);
                c
            }
            TargetKind::Durable => {
                let mut c = Command::new(&programs.bench);
                c.args(["reference", "durable", "--listen", "127.0.0.1:0", "--data-dir"]).arg(&data_dir);
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
        let spawned = Instant::now();
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
            spawned,
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

    /// The child's resident memory now and at its peak, bytes (`VmRSS`, `VmHWM`; Linux only).
    pub fn memory(&self) -> Option<(u64, u64)> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).ok()?;
        let field = |name: &str| -> Option<u64> {
            let line = status.lines().find_map(|l| l.strip_prefix(name))?;
            let kb: u64 = line.trim().trim_end_matches("kB").trim().parse().ok()?;
            Some(kb * 1024)
        };
        Some((field("VmRSS:")?, field("VmHWM:")?))
    }

    pub fn data_dir(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    /// The inspector token shipwatch wrote into its data dir.
    pub fn inspector_token(&self) -> Result<String, String> {
        let path = self.data_dir().join("inspector-token");
        std::fs::read_to_string(&path)
            .map(|t| t.trim().to_string())
            .map_err(|e| format!("cannot read the inspector token {}: {e}", path.display()))
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

    /// Sends SIGTERM and waits for a clean exit; anything else is an error (the child is killed).
    fn halt(&mut self) -> Result<(), String> {
        let name = self.kind.name();
        terminate(&mut self.child);
        let status = wait_for(&mut self.child, STOP_TIMEOUT);
        if let Some(handle) = self.stdout.take() {
            let _ = handle.join();
        }
        match status {
            Some(s) if s.success() => Ok(()),
            Some(s) => Err(format!("{name} exited with {s} after SIGTERM{}", self.stderr_tail())),
            None => {
                let _ = self.child.kill();
                let _ = self.child.wait();
                Err(format!("{name} did not stop within {}s of SIGTERM; killed", STOP_TIMEOUT.as_secs()))
            }
        }
    }

    /// Stops the target cleanly, then `between(data dir)` runs while nothing holds the data dir
    /// open, then the same program starts again on it. Returns what `between` returned.
    pub fn restart<T>(
        mut self,
        programs: &Programs,
        between: impl FnOnce(&Path) -> T,
    ) -> Result<(Target, T), String> {
        self.halt()?;
        let out = between(&self.data_dir());
        let kind = self.kind;
        let dir = self.take_dir()?;
        Ok((Target::spawn(kind, programs, dir)?, out))
    }

    /// Moves the data dir out of a stopped target (its `Drop` then has nothing to remove).
    fn take_dir(&mut self) -> Result<tempfile::TempDir, String> {
        let placeholder = tempfile::Builder::new()
            .prefix("shipwatch-bench-stopped-")
            .tempdir()
            .map_err(|e| format!("cannot create a temporary dir: {e}"))?;
        Ok(std::mem::replace(&mut self.dir, placeholder))
    }

    /// Stops the target with SIGTERM and waits for it; then, for the durable reference, counts what
    /// it stored. A target that does not exit cleanly is an error.
    pub fn stop(mut self) -> Result<Option<Stored>, String> {
        self.halt()?;
        if self.kind == TargetKind::Durable {
            let (rows, bytes) = reference::durable_stored(&self.data_dir())?;
            return Ok(Some(Stored { deliveries: rows, bytes: Some(bytes) }));
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

/// The size of every file under `dir`, bytes, largest first (paths relative to `dir`).
pub fn dir_sizes(dir: &Path) -> Vec<(String, u64)> {
    fn walk(root: &Path, dir: &Path, out: &mut Vec<(String, u64)>) {
        let Ok(entries) = std::fs::read_dir(dir) else { return };
        for entry in entries.flatten() {
            let path = entry.path();
            match entry.metadata() {
                Ok(m) if m.is_dir() => walk(root, &path, out),
                Ok(m) => {
                    let name = path.strip_prefix(root).unwrap_or(&path).display().to_string();
                    out.push((name, m.len()));
                }
                Err(_) => {}
            }
        }
    }
    let mut out = Vec::new();
    walk(dir, dir, &mut out);
    out.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    out
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

/// The kernel's clock tick (`/proc` CPU times are counted in it): `getconf CLK_TCK`, else 100 (what
/// Linux uses everywhere).
fn clock_ticks_per_s() -> f64 {
    static TICKS: std::sync::OnceLock<f64> = std::sync::OnceLock::new();
    *TICKS.get_or_init(|| {
        Command::new("getconf")
            .arg("CLK_TCK")
            .stderr(Stdio::null())
            .output()
            .ok()
            .and_then(|o| String::from_utf8(o.stdout).ok())
            .and_then(|t| t.trim().parse::<f64>().ok())
            .filter(|t| *t > 0.0)
            .unwrap_or(100.0)
    })
}

/// What the durable reference stored.
#[derive(Clone, Debug, Serialize)]
pub struct Stored {
    pub deliveries: u64,
    /// Body bytes stored.
    pub bytes: Option<u64>,
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

/// SIGTERM through kill(1) (std only knows SIGKILL); SIGKILL if that fails.
#[cfg(unix)]
fn terminate(child: &mut Child) {
    let sent = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .map(|s| s.success())
        .unwrap_or(false);
    if !sent {
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
