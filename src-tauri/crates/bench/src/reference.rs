//! The two reference receivers, run as child processes of the benchmark (hidden subcommand
//! `shipwatch-bench reference http|durable`) so that, like `shipwatch serve`, each target is its own
//! process with tokio's default multi-thread runtime and the same HTTP stack (hyper HTTP/1.1 under
//! axum, `TCP_NODELAY`, keep-alive).
//!
//! - `http`: reads the whole body and answers 200. Nothing is checked or kept: the HTTP limit.
//! - `durable`: reads the body, verifies its HMAC (the same `verify_signature` as Shipwatch), hands
//!   it to a single writer thread that appends raw bodies to SQLite (WAL, `synchronous=FULL`) in
//!   group commits, and answers 200 only after the commit: the storage limit.
//!
//! Both print `receiver: http://ADDR/webhooks/aftership` once listening and stop on SIGTERM/Ctrl-C.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::IntoResponse;
use axum::routing::post;
use axum::Router;
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use rusqlite::Connection;
use shipwatch_aftership::{verify_signature, Secrets, SIGNATURE_HEADER};
use tokio::net::TcpListener;
use tokio::sync::{mpsc, oneshot};
use tower::Service;

/// The path every target serves deliveries on.
pub const WEBHOOK_PATH: &str = "/webhooks/aftership";
/// The durable reference's database file, in its data dir.
pub const DURABLE_DB: &str = "durable.db";
/// Most bodies in one transaction, and the writer queue: the same as Shipwatch's writer defaults.
const MAX_BATCH: usize = 256;
const QUEUE: usize = 1024;

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Kind {
    Http,
    Durable,
}

/// Runs a reference until SIGTERM. `data_dir` is required for `durable`.
pub fn run(kind: Kind, listen: SocketAddr, data_dir: Option<PathBuf>) -> ExitCode {
    match run_inner(kind, listen, data_dir) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("shipwatch-bench reference: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run_inner(kind: Kind, listen: SocketAddr, data_dir: Option<PathBuf>) -> Result<(), String> {
    // Started before the runtime, joined after it is gone (when every sender has been dropped).
    let mut writer = None;
    let router = match kind {
        Kind::Http => Router::new().route(WEBHOOK_PATH, post(http_only)),
        Kind::Durable => {
            let secret = std::env::var("SHIPWATCH_SECRET")
                .ok()
                .filter(|s| !s.is_empty())
                .ok_or("the durable reference verifies signatures: set SHIPWATCH_SECRET")?;
            let dir = data_dir.ok_or("the durable reference needs --data-dir")?;
            let conn = open_db(&dir.join(DURABLE_DB))?;
            let (jobs, rx) = mpsc::channel::<Job>(QUEUE);
            writer = Some(
                std::thread::Builder::new()
                    .name("durable-writer".into())
                    .spawn(move || writer_loop(conn, rx))
                    .map_err(|e| format!("cannot start the writer thread: {e}"))?,
            );
            let state =
                Arc::new(Durable { secrets: Secrets { current: Some(secret), previous: None }, jobs });
            Router::new().route(WEBHOOK_PATH, post(durable)).with_state(state)
        }
    };
    // The same runtime as `shipwatch serve`: multi-thread, one worker per core.
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the tokio runtime: {e}"))?;
    let served = runtime.block_on(serve(listen, router));
    // Dropping the runtime drops the connection tasks and with them the writer's senders.
    drop(runtime);
    if let Some(writer) = writer {
        writer.join().map_err(|_| "the writer thread panicked".to_string())?;
    }
    served
}

async fn serve(listen: SocketAddr, router: Router) -> Result<(), String> {
    let listener = TcpListener::bind(listen).await.map_err(|e| format!("cannot listen on {listen}: {e}"))?;
    let addr = listener.local_addr().map_err(|e| format!("cannot read the listening address: {e}"))?;
    // Installed before announcing the address: the benchmark may signal as soon as it reads it.
    #[cfg(unix)]
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .map_err(|e| format!("cannot handle SIGTERM: {e}"))?;
    let stop = async move {
        #[cfg(unix)]
        tokio::select! {
            _ = term.recv() => {}
            _ = tokio::signal::ctrl_c() => {}
        }
        #[cfg(not(unix))]
        let _ = tokio::signal::ctrl_c().await;
    };
    tokio::pin!(stop);
    println!("receiver: http://{addr}{WEBHOOK_PATH}");
    loop {
        let (stream, _peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(x) => x,
                Err(e) => {
                    eprintln!("accept failed: {e}");
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                    continue;
                }
            },
            _ = &mut stop => break,
        };
        let _ = stream.set_nodelay(true);
        let router = router.clone();
        let service =
            hyper::service::service_fn(move |request: hyper::Request<Incoming>| router.clone().call(request));
        tokio::spawn(async move {
            let _ = hyper::server::conn::http1::Builder::new()
                .keep_alive(true)
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
    Ok(())
}

fn ok_json() -> impl IntoResponse {
    (StatusCode::OK, [(header::CONTENT_TYPE, "application/json")], r#"{"ok":true}"#)
}

/// The HTTP limit: the body is read (by the extractor) and dropped.
async fn http_only(body: Bytes) -> impl IntoResponse {
    std::hint::black_box(body.len());
    ok_json()
}

struct Durable {
    secrets: Secrets,
    jobs: mpsc::Sender<Job>,
}

struct Job {
    body: Bytes,
    done: oneshot::Sender<Result<(), String>>,
}

async fn durable(
    State(state): State<Arc<Durable>>,
    headers: HeaderMap,
    body: Bytes,
) -> axum::response::Response {
    let signature = headers.get(SIGNATURE_HEADER).and_then(|v| v.to_str().ok());
    if !verify_signature(signature, &body, &state.secrets).accepted() {
        return (StatusCode::UNAUTHORIZED, "signature verification failed").into_response();
    }
    let (done, committed) = oneshot::channel();
    if state.jobs.send(Job { body, done }).await.is_err() {
        return StatusCode::SERVICE_UNAVAILABLE.into_response();
    }
    match committed.await {
        Ok(Ok(())) => ok_json().into_response(),
        Ok(Err(e)) => {
            eprintln!("commit failed: {e}");
            StatusCode::SERVICE_UNAVAILABLE.into_response()
        }
        Err(_) => StatusCode::SERVICE_UNAVAILABLE.into_response(),
    }
}

fn open_db(path: &Path) -> Result<Connection, String> {
    let err = |e: rusqlite::Error| format!("cannot open {}: {e}", path.display());
    let conn = Connection::open(path).map_err(err)?;
    let mode: String = conn.query_row("PRAGMA journal_mode=WAL", [], |r| r.get(0)).map_err(err)?;
    if !mode.eq_ignore_ascii_case("wal") {
        return Err(format!("SQLite refused WAL mode for {} (got {mode})", path.display()));
    }
    conn.execute_batch(
        "PRAGMA synchronous=FULL;
         CREATE TABLE IF NOT EXISTS deliveries (
             id INTEGER PRIMARY KEY,
             received_at_ms INTEGER NOT NULL,
             body BLOB NOT NULL
         );",
    )
    .map_err(err)?;
    Ok(conn)
}

/// Takes the first waiting body, drains what else is queued (up to [`MAX_BATCH`]), appends them
/// all in one transaction, commits (one fsync of the WAL), then answers each.
fn writer_loop(mut conn: Connection, mut rx: mpsc::Receiver<Job>) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    while let Some(first) = rx.blocking_recv() {
        batch.push(first);
        while batch.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        let outcome = append(&mut conn, &batch).map_err(|e| e.to_string());
        for job in batch.drain(..) {
            let _ = job.done.send(outcome.clone());
        }
    }
}

fn append(conn: &mut Connection, batch: &[Job]) -> rusqlite::Result<()> {
    let now_ms = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or(0);
    let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    {
        let mut insert =
            tx.prepare_cached("INSERT INTO deliveries (received_at_ms, body) VALUES (?1, ?2)")?;
        for job in batch {
            insert.execute(rusqlite::params![now_ms, &job.body[..]])?;
        }
    }
    tx.commit()
}

/// What the durable reference stored: rows and body bytes. Read after it has stopped.
pub fn durable_stored(data_dir: &Path) -> Result<(u64, u64), String> {
    let path = data_dir.join(DURABLE_DB);
    let conn = Connection::open_with_flags(&path, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
        .map_err(|e| format!("cannot open {}: {e}", path.display()))?;
    conn.query_row("SELECT count(*), coalesce(sum(length(body)), 0) FROM deliveries", [], |r| {
        Ok((r.get::<_, i64>(0)? as u64, r.get::<_, i64>(1)? as u64))
    })
    .map_err(|e| format!("cannot count the rows of {}: {e}", path.display()))
}
