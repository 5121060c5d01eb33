//! `shipwatch serve`: runs the engine headless until Ctrl-C or SIGTERM, printing what to register
//! in AfterShip. Its output lines (`receiver: URL`, `inspector: URL`, `data: DIR`, ...) are read by
//! tests and scripts: keep them stable.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use shipwatch_api::ReceiverState;
use shipwatch_server::{Engine, EngineConfig};

use crate::serve_output::Output;

async fn wait_for_stop_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .expect("SIGTERM handler");
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
}

pub async fn serve(
    data_dir: Option<PathBuf>,
    listen: Option<SocketAddr>,
    inspector_listen: Option<SocketAddr>,
    output: Output,
    local_offset: time::UtcOffset,
) -> ExitCode {
    let config = EngineConfig { data_dir, listen, inspector_listen, ..Default::default() };
    let engine = match Engine::start(config).await {
        Ok(e) => e,
        Err(e) => {
            eprintln!("shipwatch: {e}");
            return ExitCode::FAILURE;
        }
    };
    if let ReceiverState::Failed { message, .. } = engine.receiver_state() {
        // The engine has logged it already, unless the log filter hides its errors: say it once.
        if !tracing::enabled!(target: "shipwatch_server::engine_impl", tracing::Level::ERROR) {
            eprintln!("shipwatch: {message}");
        }
        engine.shutdown().await;
        return ExitCode::FAILURE;
    }
    let api = engine.api();
    // One line (or JSON object) per delivery from now on; subscribed before the address is printed,
    // so that nothing sent to it goes unreported.
    let (stop_printer, printer_stop) = tokio::sync::oneshot::channel();
    let printer = (output != Output::Quiet).then(|| {
        tokio::spawn(crate::serve_output::print_events(
            api.subscribe_live(),
            output,
            local_offset,
            printer_stop,
        ))
    });
    let status = api.status().await.ok();
    // With --json, stdout carries the JSON lines only: the banner goes to stderr.
    macro_rules! println {
        ($($arg:tt)*) => {
            if output == Output::Json { eprintln!($($arg)*) } else { std::println!($($arg)*) }
        };
    }
    println!("Shipwatch {} is running.", env!("CARGO_PKG_VERSION"));
    if let Some(url) = engine.receiver_url() {
        println!("receiver: {url}");
    }
    if let Some(url) = engine.inspector_url() {
        println!("inspector: {url}");
    }
    println!("data: {}", engine.data_dir().display());
    if let Some(s) = &status {
        match &s.public_webhook_url {
            Some(u) => println!("register in AfterShip: {u}"),
            None => println!(
                "next: expose the receiver with a tunnel (e.g. `cloudflared tunnel --url {}`) and register https://<tunnel host>{} in AfterShip → Settings → Notifications → Webhooks",
                engine.receiver_url().map(|u| u.trim_end_matches(&s.webhook_path).to_owned()).unwrap_or_default(),
                s.webhook_path
            ),
        }
        if !s.secret_configured {
            println!("warning: no webhook secret set (SHIPWATCH_SECRET or the Setup page): signed deliveries are accepted unverified, unsigned ones refused (401)");
        }
    }
    println!("Press Ctrl-C to stop.");
    wait_for_stop_signal().await;
    println!("stopping: finishing in-flight deliveries…");
    engine.shutdown().await;
    if let Some(printer) = printer {
        // The deliveries answered while stopping are printed, then the printer ends.
        let _ = stop_printer.send(());
        let _ = printer.await;
    }
    println!("stopped.");
    ExitCode::SUCCESS
}
