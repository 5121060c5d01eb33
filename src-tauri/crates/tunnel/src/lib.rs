//! The tunnel supervisor. The user names a command (`cloudflared tunnel --url http://127.0.0.1:{port}`,
//! `ngrok http {port} --log stdout`, ...); Shipwatch runs it through `sh -c`, reads its output for the
//! first public `https://` origin it prints, restarts it with exponential backoff when it exits, and
//! keeps its last log lines for the UI. `{port}` is replaced by the receiver's port and `{url}` by the
//! receiver's local base URL.

mod capture;

use std::collections::VecDeque;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};
use tokio::process::{Child, Command};
use tokio::sync::watch;

pub use capture::find_public_url;

/// Lines of output kept.
pub const LOG_LINES: usize = 200;
/// First restart delay; doubles up to [`MAX_BACKOFF`].
pub const FIRST_BACKOFF: Duration = Duration::from_secs(1);
pub const MAX_BACKOFF: Duration = Duration::from_secs(60);
/// A run this long resets the backoff.
pub const STABLE_AFTER: Duration = Duration::from_secs(60);

/// Where the tunnel is in its life.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TunnelPhase {
    /// Started; no public URL seen yet.
    Starting,
    /// Running; `public_url` is set once it printed one.
    Running,
    /// Exited; restarting after a delay.
    Restarting { in_ms: u64 },
    /// Could not be started at all (e.g. `sh` missing); retried like an exit.
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
}

struct Shared {
    snapshot: TunnelSnapshot,
    log: VecDeque<String>,
}

/// Runs the command until [`TunnelSupervisor::stop`].
pub struct TunnelSupervisor {
    shared: Arc<Mutex<Shared>>,
    url: watch::Receiver<Option<String>>,
    stop: watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
}

/// The command line with `{port}` and `{url}` filled in.
pub fn expand_command(command: &str, port: u16, local_url: &str) -> String {
    command.replace("{port}", &port.to_string()).replace("{url}", local_url)
}

impl TunnelSupervisor {
    /// Starts supervising `command` (placeholders expanded with `port` / `local_url`).
    pub fn start(command: &str, port: u16, local_url: &str) -> TunnelSupervisor {
        Self::start_with_backoff(command, port, local_url, FIRST_BACKOFF)
    }

    /// As [`start`](Self::start), with the first restart delay given (tests use a short one).
    pub fn start_with_backoff(
        command: &str,
        port: u16,
        local_url: &str,
        first_backoff: Duration,
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
            },
            log: VecDeque::with_capacity(LOG_LINES),
        }));
        let (url_tx, url_rx) = watch::channel(None);
        let (stop_tx, stop_rx) = watch::channel(false);
        let task = tokio::spawn(supervise(expanded, shared.clone(), url_tx, stop_rx, first_backoff));
        TunnelSupervisor { shared, url: url_rx, stop: stop_tx, task }
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
    if let Some(pid) = child.id() {
        // The command runs in its own process group: end the tunnel agent too, not just `sh`.
        unsafe {
            libc::kill(-(pid as i32), libc::SIGTERM);
        }
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
        push_log(&shared, format!("{prefix}: {line}"));
    }
}

async fn supervise(
    command: String,
    shared: Arc<Mutex<Shared>>,
    url_tx: watch::Sender<Option<String>>,
    mut stop: watch::Receiver<bool>,
    first_backoff: Duration,
) {
    let mut backoff = first_backoff;
    loop {
        let started = Instant::now();
        let outcome = match spawn_command(&command) {
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
                        match status {
                            Ok(st) => format!("exited with {st} after {secs} s"),
                            Err(e) => format!("could not be waited for: {e}"),
                        }
                    }
                }
            }
            Err(e) => format!("could not be started: {e}"),
        };
        if started.elapsed() >= STABLE_AFTER {
            backoff = first_backoff;
        }
        tracing::warn!(outcome = %outcome, delay_ms = backoff.as_millis() as u64, "tunnel command ended; restarting");
        push_log(
            &shared,
            format!("shipwatch: the tunnel command {outcome}; restarting in {} ms", backoff.as_millis()),
        );
        {
            let mut s = shared.lock().expect("tunnel state");
            s.snapshot.last_exit = Some(outcome);
            s.snapshot.pid = None;
            s.snapshot.phase = TunnelPhase::Restarting { in_ms: backoff.as_millis() as u64 };
        }
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
