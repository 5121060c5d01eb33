//! Live updates: the engine's [`LiveEvent`]s go to the window as the Tauri event `live`, and poke
//! the tray, which refreshes at most every 500 ms (and every 15 s regardless, for settings changed
//! elsewhere).

use std::sync::Arc;
use std::time::Duration;

use shipwatch_api::LiveEvent;
use tauri::{AppHandle, Emitter, Manager, Runtime};
use tokio::sync::{broadcast, Notify};

/// The name of the Tauri event carrying each [`LiveEvent`].
pub const LIVE_EVENT: &str = "live";

/// Managed state: wakes the tray refresher.
pub struct TrayRefresh(pub Arc<Notify>);

/// Forwards every live event to the window until the engine stops.
pub async fn forward<R: Runtime>(app: AppHandle<R>, mut rx: broadcast::Receiver<LiveEvent>) {
    loop {
        let event = match rx.recv().await {
            Ok(event) => event,
            Err(broadcast::error::RecvError::Lagged(missed)) => LiveEvent::Lagged { missed },
            Err(broadcast::error::RecvError::Closed) => break,
        };
        if let Err(e) = app.emit(LIVE_EVENT, &event) {
            tracing::debug!(error = %e, "cannot emit a live event");
        }
        if let Some(refresh) = app.try_state::<TrayRefresh>() {
            refresh.0.notify_one();
        }
    }
}

/// Refreshes the tray when poked (debounced) and periodically.
pub async fn refresh_tray<R: Runtime>(app: AppHandle<R>, poke: Arc<Notify>) {
    const DEBOUNCE: Duration = Duration::from_millis(500);
    const EVERY: Duration = Duration::from_secs(15);
    loop {
        crate::tray::refresh(&app).await;
        tokio::select! {
            () = poke.notified() => tokio::time::sleep(DEBOUNCE).await,
            () = tokio::time::sleep(EVERY) => {}
        }
    }
}
