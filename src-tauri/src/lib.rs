//! Shipwatch for the desktop: the engine runs in-process on one tokio runtime shared with Tauri;
//! the window shows the UI (`ui/dist`, embedded), which talks to the engine through Tauri commands
//! ([`commands`]) and the `live` event; a tray menu ([`tray`]) keeps it reachable when the window
//! is closed; native notifications ([`notifier`]) show what the engine's notification task (the
//! decisions of `shipwatch-notify`, the desk's clock) hands them.
//!
//! Start-up problems (data dir, database, settings file) never exit silently: the window shows
//! them ([`window`]) and the tray says so. A second launch focuses the running window.

pub mod backend;
pub mod commands;
pub mod live;
pub mod notifier;
pub mod tray;
pub mod window;

use std::sync::Arc;
use std::time::Duration;

use shipwatch_api::SettingsView;
use shipwatch_notify::NotificationLog;
use shipwatch_server::{EngineConfig, Notifications};
use tauri::{AppHandle, Manager, RunEvent, Runtime};
use tauri_plugin_autostart::AutoLaunchManager;

use crate::backend::Backend;

/// The argument autostart launches us with: start in the tray, window hidden.
pub const HIDDEN_ARG: &str = "--hidden";

/// Runs the app; returns the process exit code.
pub fn run() -> i32 {
    init_logging();
    let runtime = match shipwatch_server::engine_runtime("shipwatch") {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("shipwatch-desktop: cannot start the async runtime: {e}");
            return 1;
        }
    };
    tauri::async_runtime::set(runtime.handle().clone());

    let start_hidden = std::env::args().any(|a| a == HIDDEN_ARG);
    let app = tauri::Builder::default()
        .plugin(tauri_plugin_single_instance::init(|app, _argv, _cwd| {
            tracing::info!("another launch: focusing the window");
            window::show_main(app);
        }))
        .plugin(tauri_plugin_autostart::Builder::new().arg(HIDDEN_ARG).app_name("Shipwatch").build())
        .invoke_handler(commands::handler())
        .setup(move |app| {
            setup(app.handle(), start_hidden);
            Ok(())
        })
        .build(tauri::generate_context!());
    let app = match app {
        Ok(app) => app,
        Err(e) => {
            tracing::error!(error = %e, "cannot start the window system");
            eprintln!("shipwatch-desktop: cannot start: {e}");
            return 1;
        }
    };
    app.run(|app, event| match event {
        // The last window closing (it only hides) or a stray exit request: keep running in the tray;
        // only `quit` (code 0) ends the app.
        RunEvent::ExitRequested { code: None, api, .. } => api.prevent_exit(),
        RunEvent::Exit => {
            // Quit already shut the engine down; this covers other ways out.
            if let Some(engine) = app.try_state::<Backend>().and_then(|b| b.take_engine()) {
                tauri::async_runtime::block_on(async {
                    let _ = tokio::time::timeout(Duration::from_secs(5), engine.shutdown()).await;
                });
            }
        }
        _ => {}
    });
    drop(runtime);
    0
}

fn init_logging() {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_env("SHIPWATCH_LOG")
        .or_else(|_| EnvFilter::try_from_default_env())
        .unwrap_or_else(|_| EnvFilter::new("info"));
    use std::io::IsTerminal;
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(std::io::stderr)
        .try_init();
}

/// Starts the engine and everything around it. Never fails: problems are shown, not raised.
fn setup<R: Runtime>(app: &AppHandle<R>, start_hidden: bool) {
    // The engine runs the notifications (deliveries, the desk's clock, what pause held); the
    // desktop shows them.
    let log = NotificationLog::default();
    let data_dir = EngineConfig::default().resolve().ok().map(|r| r.data_dir);
    let notifier = Arc::new(notifier::DesktopNotifier::new(app.clone(), data_dir));
    let config =
        EngineConfig { notifications: Some(Notifications::new(notifier, log.clone())), ..Default::default() };
    let backend = match tauri::async_runtime::block_on(backend::start_engine(config)) {
        Ok(engine) => {
            match engine.receiver_url() {
                Some(url) => tracing::info!(%url, "receiving webhooks"),
                None => tracing::warn!(state = ?engine.receiver_state(), "the receiver is not listening"),
            }
            Backend::running_with_log(engine, log)
        }
        Err(e) => {
            tracing::error!(error = %e, "the engine could not start");
            Backend::failed(e.to_string())
        }
    };
    let running = backend.api().is_ok();
    let live_events = backend.api().ok().map(|api| api.subscribe_live());
    app.manage(backend);

    let refresh = Arc::new(tokio::sync::Notify::new());
    app.manage(live::TrayRefresh(refresh.clone()));
    if let Err(e) = tray::create(app) {
        // E.g. no tray host: the window still works.
        tracing::warn!(error = %e, "cannot create the tray icon");
    }
    // Hidden at login only when there is nothing wrong to show.
    let visible = !start_hidden || !running;
    if let Err(e) = window::create(app, visible) {
        tracing::error!(error = %e, "cannot create the window");
    }
    tauri::async_runtime::spawn(live::refresh_tray(app.clone(), refresh));
    if let Some(rx) = live_events {
        tauri::async_runtime::spawn(live::forward(app.clone(), rx));
    }
    if running {
        let settings = app.state::<Backend>().api().map(|a| a.settings().autostart).unwrap_or(false);
        sync_autostart(app, settings);
    }
    tauri::async_runtime::spawn(quit_on_signal(app.clone()));
}

/// After the settings changed (from the UI or the tray): start at login, the tray's check.
pub fn settings_changed<R: Runtime>(app: &AppHandle<R>, view: &SettingsView) {
    sync_autostart(app, view.autostart);
    if let Some(refresh) = app.try_state::<live::TrayRefresh>() {
        refresh.0.notify_one();
    }
}

/// Makes the login item match the `autostart` setting (touches nothing when they already agree).
fn sync_autostart<R: Runtime>(app: &AppHandle<R>, want: bool) {
    let Some(manager) = app.try_state::<AutoLaunchManager>() else { return };
    match manager.is_enabled() {
        Ok(enabled) if enabled == want => {}
        _ => {
            let result = if want { manager.enable() } else { manager.disable() };
            match result {
                Ok(()) => tracing::info!(enabled = want, "start at login updated"),
                Err(e) => tracing::warn!(error = %e, enabled = want, "cannot change start at login"),
            }
        }
    }
}

/// Graceful exit: stop accepting, let in-flight deliveries commit, then leave.
pub fn quit<R: Runtime>(app: &AppHandle<R>) {
    let app = app.clone();
    tauri::async_runtime::spawn(async move {
        let engine = app.try_state::<Backend>().and_then(|b| b.take_engine());
        if let Some(engine) = engine {
            tracing::info!("shutting down");
            if tokio::time::timeout(Duration::from_secs(10), engine.shutdown()).await.is_err() {
                tracing::warn!("the engine did not stop within 10 s; exiting anyway");
            }
        }
        app.exit(0);
    });
}

/// SIGTERM / SIGINT (e.g. logout, Ctrl-C in a terminal) quit gracefully too.
async fn quit_on_signal<R: Runtime>(app: AppHandle<R>) {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        let (Ok(mut term), Ok(mut int)) = (signal(SignalKind::terminate()), signal(SignalKind::interrupt()))
        else {
            return;
        };
        tokio::select! {
            _ = term.recv() => {}
            _ = int.recv() => {}
        }
        tracing::info!("signal received");
        quit(&app);
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
        quit(&app);
    }
}
