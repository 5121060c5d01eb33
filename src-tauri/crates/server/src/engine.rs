//! [`Engine`]: opens the data dir and the store, then runs the receiver and the inspector on one
//! tokio runtime. The desktop app and `shipwatch serve` both start exactly this.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use shipwatch_api::ReceiverState;
use shipwatch_store::StoredDelivery;
use tokio::sync::broadcast;

use crate::api::Api;
use crate::config::{ConfigError, EngineConfig};

/// Everything the engine tells its embedder (e.g. the desktop's notifier): each stored delivery with
/// what it did to its shipment. Sent after the commit.
pub type EngineEvent = Arc<StoredDelivery>;

#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error("cannot create or use the data directory {path}: {source}. Check its permissions, or choose another with --data-dir / SHIPWATCH_DATA_DIR")]
    DataDir { path: PathBuf, source: std::io::Error },
    #[error(transparent)]
    Store(#[from] shipwatch_store::StoreError),
    #[error("another Shipwatch{} is using the data directory {path}: two would split its shipments and miss duplicates. Stop the other one first (the desktop app or `shipwatch serve`), or choose another data directory with --data-dir / SHIPWATCH_DATA_DIR", .pid.map(|p| format!(" (process {p})")).unwrap_or_default())]
    DataDirInUse { path: PathBuf, pid: Option<u32> },
    #[error("cannot listen on {addr} for the {what}: {source}. {hint}")]
    Bind { what: &'static str, addr: String, source: std::io::Error, hint: String },
}

/// A running engine. Dropping it does not stop it: call [`Engine::shutdown`].
pub struct Engine {
    pub(crate) inner: Arc<crate::api::ApiInner>,
    pub(crate) tasks: crate::engine_impl::Tasks,
}

impl Engine {
    /// Opens the store and starts both listeners. A receiver that cannot listen (port in use) does
    /// not fail the start: [`Engine::receiver_state`] says why, so a window can show it. Store and
    /// data-dir problems do fail it, as does an inspector that cannot listen.
    pub async fn start(config: EngineConfig) -> Result<Engine, EngineError> {
        crate::engine_impl::start(config).await
    }

    /// The one API (the same calls the HTTP inspector answers).
    pub fn api(&self) -> Api {
        Api { inner: self.inner.clone() }
    }

    /// The store itself, beneath the API: for tests that must act on the writer's own connection
    /// (e.g. to make its commits fail). Embedders use [`Engine::api`].
    #[doc(hidden)]
    pub fn store(&self) -> &shipwatch_store::Store {
        &self.inner.store
    }

    /// Every stored delivery with its outcome, for notifications.
    pub fn subscribe(&self) -> broadcast::Receiver<EngineEvent> {
        self.inner.events.subscribe()
    }

    pub fn receiver_state(&self) -> ReceiverState {
        self.inner.receiver_state()
    }

    /// e.g. `http://127.0.0.1:8787/webhooks/aftership`, while listening.
    pub fn receiver_url(&self) -> Option<String> {
        self.inner.receiver_url()
    }

    /// e.g. `http://127.0.0.1:8788/?token=…`, when the HTTP inspector runs.
    pub fn inspector_url(&self) -> Option<String> {
        self.inner.inspector_url()
    }

    pub fn data_dir(&self) -> &Path {
        &self.inner.data_dir
    }

    /// Adds a warning shown in the status bar (e.g. "no notification server"); same text once.
    pub fn add_warning(&self, warning: impl Into<String>) {
        self.inner.add_warning(warning.into())
    }

    /// Runs one pass of the desk's clock now (late and stuck alerts, archiving, the digest) and says
    /// what it did; the clock also runs every minute on its own. For tests with a controlled clock.
    #[doc(hidden)]
    pub async fn run_clock(&self) -> crate::clock::ClockReport {
        crate::clock::pass(&self.inner).await
    }

    /// Stops accepting, lets in-flight deliveries commit and be answered, then stops the writer.
    pub async fn shutdown(self) {
        crate::engine_impl::shutdown(self).await
    }
}
