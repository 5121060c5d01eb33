//! The tunnel supervisor. The user names a command (`cloudflared tunnel --url http://127.0.0.1:{port}`,
//! `ngrok http {port} --log stdout`, ...); Shipwatch runs it through `sh -c`, reads its output for the
//! first public `https://` origin it prints, restarts it with exponential backoff when it exits, and
//! keeps its last log lines for the UI. `{port}` is replaced by the receiver's port and `{url}` by the
//! receiver's local base URL.
//!
//! It does not retry what cannot work: a command whose program is not installed is not started at
//! all, and one that keeps exiting at once ([`SupervisorOptions::give_up_after`] runs in a row, or
//! once with the shell's "not found", 127) is given up on, with its last error line and what to do
//! ([`TunnelSnapshot::gave_up`]), until it is started again (new settings, or Restart).

#![forbid(unsafe_code)]

mod capture;
pub mod program;
pub mod public_url;

use std::collections::VecDeque;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};
use tokio::process::{Child, Command};
use tokio::sync::watch;

pub use capture::find_public_url;
pub use program::{check_program, install_advice, ProgramCheck};
pub use public_url::{validate_public_url, PublicUrlError, PublicUrlRules};

/// Lines of output kept.
pub const LOG_LINES: usize = 200;
/// First restart delay; doubles up to [`MAX_BACKOFF`].
pub const FIRST_BACKOFF: Duration = Duration::from_secs(1);
pub const MAX_BACKOFF: Duration = Duration::from_secs(60);
/// A run this long resets the backoff.
pub const STABLE_AFTER: Duration = Duration::from_secs(60);
/// A run that ends sooner than this without printing a public URL "exited at once".
pub const QUICK_EXIT: Duration = Duration::from_secs(10);
/// Runs in a row that exit at once before the supervisor gives up.
pub const GIVE_UP_AFTER: u32 = 5;

/// How the supervisor retries.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SupervisorOptions {
    /// First restart delay; doubles up to [`MAX_BACKOFF`].
    pub first_backoff: Duration,
    /// Give up after this many runs in a row that exited at once (at least 1).
    pub give_up_after: u32,
    /// A run shorter than this that printed no public URL exited "at once".
    pub quick_exit: Duration,
}

impl Default for SupervisorOptions {
    fn default() -> Self {
        SupervisorOptions {
            first_backoff: FIRST_BACKOFF,
            give_up_after: GIVE_UP_AFTER,
            quick_exit: QUICK_EXIT,
        }
    }
}

/// Why the supervisor stopped trying.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GaveUpKind {
    /// The command's program is not installed (not found on `PATH`, or the shell said "not found").
    ProgramNotFound,
    /// The command exited at once, [`SupervisorOptions::give_up_after`] times in a row.
    KeepsExiting,
}

/// The supervisor gave up: nothing runs until it is started again.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GaveUp {
    pub kind: GaveUpKind,
    /// The program, when known (`cloudflared`).
    pub program: Option<String>,
    /// The last line the command printed (stderr first), when it ran.
    pub last_error: Option<String>,
    /// What happened, in one sentence.
    pub message: String,
    /// What to do about it.
    pub advice: String,
}

/// Where the tunnel is in its life.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TunnelPhase {
    /// Started; no public URL seen yet.
    Starting,
    /// Running; `public_url` is set once it printed one.
    Running,
    /// Exited; restarting after a delay.
    Restarting { in_ms: u64 },
    /// Not running: stopped, or given up on ([`TunnelSnapshot::gave_up`] says why).
    Stopped,
}

/// A snapshot of the supervisor.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TunnelSnapshot {
    pub phase: TunnelPhase,
    /// The command as configured (with placeholders).
    pub command: String,
    /// The public URL of the current (or last) run.
    pub public_url: Option<String>,
    pub pid: Option<u32>,
    /// How many times it was restarted.
    pub restarts: u32,
    /// How the last run ended, e.g. "exited with status 1 after 3 s".
    pub last_exit: Option<String>,
    /// The last output lines, oldest first, prefixed `out:` or `err:`.
    pub log: Vec<String>,
    /// Set when the supervisor gave up (the phase is then `Stopped`).
    pub gave_up: Option<GaveUp>,
}

struct Shared {
    snapshot: TunnelSnapshot,
    log: VecDeque<String>,
    /// The current run's last stderr and stdout lines.
    last_err: Option<String>,
    last_out: Option<String>,
    /// The current run printed a public URL.
    printed_url: bool,
}

/// Runs the command until [`TunnelSupervisor::stop`].
pub struct TunnelSupervisor {
    shared: Arc<Mutex<Shared>>,
    url: watch::Receiver<Option<String>>,
    stop: watch::Sender<bool>,
    done: watch::Receiver<bool>,
    task: tokio::task::JoinHandle<()>,
}

/// The command line with `{port}` and `{url}` filled in.
pub fn expand_command(command: &str, port: u16, local_url: &str) -> String {
    command.replace("{port}", &port.to_string()).replace("{url}", local_url)
}

impl TunnelSupervisor {
    /// Starts supervising `command` (placeholders expanded with `port` / `local_url`).
    pub fn start(command: &str, port: u16, local_url: &str) -> TunnelSupervisor {
        Self::start_with(command, port, local_url, SupervisorOptions::default())
    }

    /// As [`start`](Self::start), with the first restart delay given (tests use a short one).
    pub fn start_with_backoff(
        command: &str,
        port: u16,
        local_url: &str,
        first_backoff: Duration,
    ) -> TunnelSupervisor {
        Self::start_with(command, port, local_url, SupervisorOptions { first_backoff, ..Default::default() })
    }

    /// As [`start`](Self::start), with the retry options given.
    pub fn start_with(
        command: &str,
        port: u16,
        local_url: &str,
        options: SupervisorOptions,
    ) -> TunnelSupervisor {
        let expanded = expand_command(command, port, local_url);
        let shared = Arc::new(Mutex::new(Shared {
            snapshot: TunnelSnapshot {
                phase: TunnelPhase::Starting,
                command: command.to_owned(),
                public_url: None,
                pid: None,
                restarts: 0,
                last_exit: None,
                log: Vec::new(),
                gave_up: None,
            },
            log: VecDeque::with_capacity(LOG_LINES),
            last_err: None,
            last_out: None,
            printed_url: false,
        }));
        let (url_tx, url_rx) = watch::channel(None);
        let (stop_tx, stop_rx) = watch::channel(false);
        let (done_tx, done_rx) = watch::channel(false);
        let task_shared = shared.clone();
        let task = tokio::spawn(async move {
            supervise(expanded, task_shared, url_tx, stop_rx, options).await;
            let _ = done_tx.send(true);
        });
        TunnelSupervisor { shared, url: url_rx, stop: stop_tx, done: done_rx, task }
    }

    pub fn snapshot(&self) -> TunnelSnapshot {
        let s = self.shared.lock().expect("tunnel state");
        let mut snap = s.snapshot.clone();
        snap.log = s.log.iter().cloned().collect();
        snap
    }

    /// Changes whenever a run prints its public URL.
    pub fn public_url(&self) -> watch::Receiver<Option<String>> {
        self.url.clone()
    }

    /// Returns once the supervisor ended on its own (it gave up; see [`TunnelSnapshot::gave_up`]).
    /// Never returns while it keeps the command running or restarts it.
    pub async fn ended(&self) {
        let mut done = self.done.clone();
        let _ = done.wait_for(|d| *d).await;
    }

    /// Stops the command (its whole process group) and the supervision.
    pub async fn stop(self) {
        let _ = self.stop.send(true);
        let _ = self.task.await;
    }
}

fn push_log(shared: &Mutex<Shared>, line: String) {
    let mut s = shared.lock().expect("tunnel state");
    if s.log.len() == LOG_LINES {
        s.log.pop_front();
    }
    s.log.push_back(line);
}

fn spawn_command(command: &str) -> std::io::Result<Child> {
    let mut cmd = Command::new("sh");
    cmd.arg("-c")
        .arg(command)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    #[cfg(unix)]
    cmd.process_group(0);
    cmd.spawn()
}

fn kill_group(child: &Child) {
    #[cfg(unix)]
    if let Some(pid) = child.id().and_then(|p| i32::try_from(p).ok()) {
        // The command runs in its own process group: end the tunnel agent too, not just `sh`.
        let _ = nix::sys::signal::killpg(nix::unistd::Pid::from_raw(pid), nix::sys::signal::Signal::SIGTERM);
    }
}

async fn read_lines<R: AsyncRead + Unpin>(
    reader: R,
    prefix: &'static str,
    shared: Arc<Mutex<Shared>>,
    url_tx: watch::Sender<Option<String>>,
) {
    let mut lines = BufReader::new(reader).lines();
    while let Ok(Some(line)) = lines.next_line().await {
        if let Some(url) = find_public_url(&line) {
            let mut s = shared.lock().expect("tunnel state");
            s.printed_url = true;
            if s.snapshot.public_url.as_deref() != Some(url.as_str())
                || s.snapshot.phase == TunnelPhase::Starting
            {
                tracing::info!(%url, "tunnel public URL");
                s.snapshot.public_url = Some(url.clone());
                s.snapshot.phase = TunnelPhase::Running;
                drop(s);
                let _ = url_tx.send(Some(url));
            }
        }
        if !line.trim().is_empty() {
            let mut s = shared.lock().expect("tunnel state");
            let last = if prefix == "err" { &mut s.last_err } else { &mut s.last_out };
            *last = Some(line.trim().to_owned());
        }
        push_log(&shared, format!("{prefix}: {line}"));
    }
}

/// Stops for good: the phase is `Stopped` and `gave_up` says why.
fn give_up(shared: &Mutex<Shared>, gave_up: GaveUp) {
    tracing::warn!(message = %gave_up.message, advice = %gave_up.advice, "tunnel command given up on");
    push_log(shared, format!("shipwatch: {} Not retrying: {}", gave_up.message, gave_up.advice));
    let mut s = shared.lock().expect("tunnel state");
    s.snapshot.phase = TunnelPhase::Stopped;
    s.snapshot.pid = None;
    s.snapshot.gave_up = Some(gave_up);
}

fn not_installed(program: &str) -> GaveUp {
    GaveUp {
        kind: GaveUpKind::ProgramNotFound,
        program: Some(program.to_owned()),
        last_error: None,
        message: format!(
            "{program} is not installed (it is not on PATH), so the tunnel command was not started."
        ),
        advice: install_advice(program),
    }
}

/// How one run ended.
struct RunEnd {
    outcome: String,
    /// The shell's "command not found" (126: found but not executable).
    not_found: bool,
    /// Ended before printing a URL, soon after it started (or never started).
    quick: bool,
}

async fn supervise(
    command: String,
    shared: Arc<Mutex<Shared>>,
    url_tx: watch::Sender<Option<String>>,
    mut stop: watch::Receiver<bool>,
    options: SupervisorOptions,
) {
    let program = match check_program(&command) {
        ProgramCheck::Missing { program } => {
            // Starting it could only print "not found"; say what to install instead.
            give_up(&shared, not_installed(&program));
            return;
        }
        ProgramCheck::Found { program, .. } => Some(program),
        ProgramCheck::Unknown => None,
    };
    let first_backoff = options.first_backoff;
    let mut backoff = first_backoff;
    let mut quick_in_row = 0u32;
    loop {
        let started = Instant::now();
        {
            let mut s = shared.lock().expect("tunnel state");
            s.last_err = None;
            s.last_out = None;
            s.printed_url = false;
        }
        let end = match spawn_command(&command) {
            Ok(mut child) => {
                {
                    let mut s = shared.lock().expect("tunnel state");
                    s.snapshot.pid = child.id();
                    s.snapshot.phase = TunnelPhase::Starting;
                }
                let out = child
                    .stdout
                    .take()
                    .map(|o| tokio::spawn(read_lines(o, "out", shared.clone(), url_tx.clone())));
                let err = child
                    .stderr
                    .take()
                    .map(|e| tokio::spawn(read_lines(e, "err", shared.clone(), url_tx.clone())));
                let status = tokio::select! {
                    s = child.wait() => Some(s),
                    _ = stop.changed() => None,
                };
                match status {
                    None => {
                        kill_group(&child);
                        let _ = tokio::time::timeout(Duration::from_secs(5), child.wait()).await;
                        let _ = child.kill().await;
                        let mut s = shared.lock().expect("tunnel state");
                        s.snapshot.phase = TunnelPhase::Stopped;
                        s.snapshot.pid = None;
                        return;
                    }
                    Some(status) => {
                        // Let the readers drain what the command printed last.
                        for h in [out, err].into_iter().flatten() {
                            let _ = tokio::time::timeout(Duration::from_secs(1), h).await;
                        }
                        let secs = started.elapsed().as_secs();
                        let printed_url = shared.lock().expect("tunnel state").printed_url;
                        let quick = started.elapsed() < options.quick_exit && !printed_url;
                        match status {
                            Ok(st) => RunEnd {
                                outcome: format!("exited with {st} after {secs} s"),
                                not_found: matches!(st.code(), Some(126 | 127)),
                                quick,
                            },
                            Err(e) => RunEnd {
                                outcome: format!("could not be waited for: {e}"),
                                not_found: false,
                                quick,
                            },
                        }
                    }
                }
            }
            Err(e) => RunEnd { outcome: format!("could not be started: {e}"), not_found: false, quick: true },
        };
        if started.elapsed() >= STABLE_AFTER {
            backoff = first_backoff;
        }
        quick_in_row = if end.quick { quick_in_row + 1 } else { 0 };
        let last_line = {
            let mut s = shared.lock().expect("tunnel state");
            s.snapshot.last_exit = Some(end.outcome.clone());
            s.snapshot.pid = None;
            s.last_err.clone().or_else(|| s.last_out.clone())
        };
        if end.quick && end.not_found {
            let name = program.clone().unwrap_or_else(|| "its program".to_owned());
            give_up(
                &shared,
                GaveUp {
                    kind: GaveUpKind::ProgramNotFound,
                    program: program.clone(),
                    message: format!(
                        "The tunnel command {}: the shell could not find or run {name}{}.",
                        end.outcome,
                        last_line.as_deref().map(|l| format!(" (\"{l}\")")).unwrap_or_default()
                    ),
                    advice: match &program {
                        Some(p) => install_advice(p),
                        None => "Check the command's spelling and that what it runs is installed; or run your tunnel yourself and choose \"I run the tunnel\" in Setup.".to_owned(),
                    },
                    last_error: last_line,
                },
            );
            return;
        }
        if quick_in_row >= options.give_up_after.max(1) {
            give_up(
                &shared,
                GaveUp {
                    kind: GaveUpKind::KeepsExiting,
                    program: program.clone(),
                    message: format!(
                        "The tunnel command exited at once {quick_in_row} times in a row (last: {}){}.",
                        end.outcome,
                        last_line.as_deref().map(|l| format!(", saying \"{l}\"")).unwrap_or_default()
                    ),
                    advice: "Fix the command (run it in a terminal to see why it stops), then save it again or press Restart; or run your tunnel yourself and choose \"I run the tunnel\" in Setup.".to_owned(),
                    last_error: last_line,
                },
            );
            return;
        }
        tracing::warn!(outcome = %end.outcome, delay_ms = backoff.as_millis() as u64, "tunnel command ended; restarting");
        push_log(
            &shared,
            format!(
                "shipwatch: the tunnel command {}; restarting in {} ms",
                end.outcome,
                backoff.as_millis()
            ),
        );
        shared.lock().expect("tunnel state").snapshot.phase =
            TunnelPhase::Restarting { in_ms: backoff.as_millis() as u64 };
        tokio::select! {
            _ = tokio::time::sleep(backoff) => {}
            _ = stop.changed() => {
                shared.lock().expect("tunnel state").snapshot.phase = TunnelPhase::Stopped;
                return;
            }
        }
        shared.lock().expect("tunnel state").snapshot.restarts += 1;
        backoff = (backoff * 2).min(MAX_BACKOFF);
    }
}
