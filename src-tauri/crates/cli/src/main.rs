//! `shipwatch`: the headless engine and, later, developer tools.
//!
//! `shipwatch serve` starts the receiver (what the tunnel exposes) and the loopback inspector (API +
//! UI), prints what to register in AfterShip, and stops cleanly on Ctrl-C or SIGTERM: in-flight
//! deliveries are committed and answered first.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use shipwatch_api::ReceiverState;
use shipwatch_server::{Engine, EngineConfig};

#[derive(Parser)]
#[command(name = "shipwatch", version, about = "Receive, verify and keep AfterShip webhooks", long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the receiver and the inspector until Ctrl-C.
    ///
    /// Secrets come from the settings file in the data dir or from SHIPWATCH_SECRET and
    /// SHIPWATCH_PREVIOUS_SECRET (never from the command line).
    ///
    /// Examples:
    ///   shipwatch serve
    ///   SHIPWATCH_SECRET=... shipwatch serve --listen 127.0.0.1:8080
    ///   shipwatch serve --data-dir /tmp/sw --listen 127.0.0.1:0 --inspector-listen 127.0.0.1:0
    #[command(verbatim_doc_comment)]
    Serve {
        /// Where the database, settings and token live [default: the platform's data dir]
        #[arg(long, env = "SHIPWATCH_DATA_DIR", value_name = "DIR")]
        data_dir: Option<PathBuf>,
        /// Receiver address (expose this through your tunnel) [default: 127.0.0.1:8787]
        #[arg(long, env = "SHIPWATCH_LISTEN", value_name = "ADDR")]
        listen: Option<SocketAddr>,
        /// Inspector address, loopback only [default: 127.0.0.1:8788]
        #[arg(long, env = "SHIPWATCH_INSPECTOR_LISTEN", value_name = "ADDR")]
        inspector_listen: Option<SocketAddr>,
    },
}

fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("SHIPWATCH_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn,shipwatch=info"));
    tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).init();
}

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

async fn serve(
    data_dir: Option<PathBuf>,
    listen: Option<SocketAddr>,
    inspector_listen: Option<SocketAddr>,
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
        eprintln!("shipwatch: {message}");
        engine.shutdown().await;
        return ExitCode::FAILURE;
    }
    let api = engine.api();
    let status = api.status().await.ok();
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
            println!("warning: no webhook secret set (SHIPWATCH_SECRET or the Setup page): deliveries are accepted unverified");
        }
    }
    println!("Press Ctrl-C to stop.");
    wait_for_stop_signal().await;
    println!("stopping: finishing in-flight deliveries…");
    engine.shutdown().await;
    println!("stopped.");
    ExitCode::SUCCESS
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging();
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("tokio runtime");
    match cli.command {
        Command::Serve { data_dir, listen, inspector_listen } => {
            runtime.block_on(serve(data_dir, listen, inspector_listen))
        }
    }
}
