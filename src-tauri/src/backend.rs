//! The engine as the desktop holds it: started in-process on the shared tokio runtime, or the
//! reason it could not start (shown in the window and the tray instead of exiting).

use std::sync::{Arc, Mutex};

use shipwatch_api::{ApiError, ApiErrorKind};
use shipwatch_notify::NotificationLog;
use shipwatch_server::{Api, Engine, EngineConfig, EngineError};

/// Managed Tauri state: what every command and the tray talk to.
pub struct Backend {
    api: Result<Api, String>,
    engine: Arc<Mutex<Option<Engine>>>,
    notifications: NotificationLog,
}

impl Backend {
    /// A running engine.
    pub fn running(engine: Engine) -> Backend {
        Self::running_with_log(engine, NotificationLog::default())
    }

    /// A running engine whose notifications record their decisions in `notifications`.
    pub fn running_with_log(engine: Engine, notifications: NotificationLog) -> Backend {
        Backend { api: Ok(engine.api()), engine: Arc::new(Mutex::new(Some(engine))), notifications }
    }

    /// An engine that could not start: every command answers `message`.
    pub fn failed(message: impl Into<String>) -> Backend {
        Backend {
            api: Err(message.into()),
            engine: Arc::new(Mutex::new(None)),
            notifications: NotificationLog::default(),
        }
    }

    /// The API, or an error saying why the engine is not running.
    pub fn api(&self) -> Result<&Api, ApiError> {
        self.api.as_ref().map_err(|why| ApiError {
            kind: ApiErrorKind::Internal,
            message: format!("Shipwatch could not start: {why}"),
        })
    }

    /// Why the engine could not start, if it could not.
    pub fn startup_error(&self) -> Option<&str> {
        self.api.as_ref().err().map(String::as_str)
    }

    pub fn notifications(&self) -> &NotificationLog {
        &self.notifications
    }

    /// Runs `f` on the engine while it runs (not after shutdown or a failed start).
    pub fn with_engine<T>(&self, f: impl FnOnce(&Engine) -> T) -> Option<T> {
        self.engine.lock().unwrap_or_else(|e| e.into_inner()).as_ref().map(f)
    }

    /// A cheap handle to add warnings from other tasks (e.g. the notifier).
    pub fn warnings(&self) -> WarningSink {
        WarningSink { engine: self.engine.clone() }
    }

    /// Takes the engine out for shutdown (once).
    pub fn take_engine(&self) -> Option<Engine> {
        self.engine.lock().unwrap_or_else(|e| e.into_inner()).take()
    }
}

/// Adds warnings to the engine's status bar while it runs.
#[derive(Clone)]
pub struct WarningSink {
    engine: Arc<Mutex<Option<Engine>>>,
}

impl WarningSink {
    pub fn add(&self, warning: &str) {
        if let Some(engine) = self.engine.lock().unwrap_or_else(|e| e.into_inner()).as_ref() {
            engine.add_warning(warning);
        }
    }
}

/// Starts the engine with the same defaults and environment as `shipwatch serve`. If only the
/// HTTP inspector cannot listen (the window does not need it), starts without it and says so.
pub async fn start_engine(config: EngineConfig) -> Result<Engine, EngineError> {
    match Engine::start(config.clone()).await {
        Err(EngineError::Bind { what, addr, source, hint }) if config.inspector != Some(false) => {
            tracing::warn!(%addr, error = %source, "{what} cannot listen; starting without it");
            let engine = Engine::start(EngineConfig { inspector: Some(false), ..config }).await?;
            engine.add_warning(format!(
                "The browser inspector could not listen on {addr} ({source}); the window works without it. {hint}"
            ));
            Ok(engine)
        }
        other => other,
    }
}
