//! The engine's HTTP side and its lifecycle.
//!
//! - [`config`]: defaults (data dir, ports), env vars and the settings file.
//! - [`receiver`]: the tunnel-facing listener: `POST <webhook path>`, `GET /healthz`, nothing else.
//! - [`inspector`]: the loopback-only API (token + Host check), the SSE stream and the UI files.
//! - [`api`]: [`Api`], the one service both transports (HTTP here, Tauri IPC in the desktop) call.
//! - [`serve`]: the accept loop shared by both listeners (connection cap, timeouts, graceful stop).
//! - [`engine`]: [`Engine`], which opens the store and runs all of the above.
//! - [`clock`]: the desk's clock (late and stuck alerts, archiving, the digest), the notification
//!   task when the embedder shows notifications, the webhook version.
//! - `devtools` (replay, test events, self-test, re-verify) and `background` (forward mode, liveness,
//!   retention, the supervised tunnel): the developer tools.

pub mod api;
mod background;
pub mod clock;
pub mod config;
mod devtools;
pub mod engine;
mod engine_impl;
pub mod inspector;
pub mod receiver;
pub mod serve;
mod wire;

pub use api::Api;
pub use clock::{ClockReport, ClockSource, Notifications};
pub use config::{EngineConfig, Settings};
pub use engine::{Engine, EngineError, EngineEvent};

/// The tokio runtime the engine runs on: one async worker per core but one. The storage writer is a
/// thread of its own that every delivery waits for; with as many workers as cores it competes with
/// all of them (on 2 cores, with 2 workers, the writer, the fsync thread and the checkpointer).
/// Measured on 2 cores (tmpfs, so CPU-bound): one worker stores 2.1 KB deliveries 9% faster at 10%
/// less CPU each than two. `TOKIO_WORKER_THREADS` still decides when it is set.
pub fn engine_runtime(thread_name: &str) -> std::io::Result<tokio::runtime::Runtime> {
    let mut builder = tokio::runtime::Builder::new_multi_thread();
    builder.enable_all().thread_name(thread_name);
    if std::env::var_os("TOKIO_WORKER_THREADS").is_none() {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        builder.worker_threads(cores.saturating_sub(1).max(1));
    }
    builder.build()
}
