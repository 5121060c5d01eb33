//! The engine's HTTP side and its lifecycle.
//!
//! - [`config`]: defaults (data dir, ports), env vars and the settings file.
//! - [`receiver`]: the tunnel-facing listener: `POST <webhook path>`, `GET /healthz`, nothing else.
//! - [`inspector`]: the loopback-only API (token + Host check), the SSE stream and the UI files.
//! - [`api`]: [`Api`], the one service both transports (HTTP here, Tauri IPC in the desktop) call.
//! - [`serve`]: the accept loop shared by both listeners (connection cap, timeouts, graceful stop).
//! - [`engine`]: [`Engine`], which opens the store and runs all of the above.
//! - `devtools` (replay, test events, self-test, re-verify) and `background` (forward mode, liveness,
//!   retention, the supervised tunnel): the developer tools.

pub mod api;
mod background;
pub mod config;
mod devtools;
pub mod engine;
mod engine_impl;
pub mod inspector;
pub mod receiver;
pub mod serve;

pub use api::Api;
pub use config::{EngineConfig, Settings};
pub use engine::{Engine, EngineError, EngineEvent};
