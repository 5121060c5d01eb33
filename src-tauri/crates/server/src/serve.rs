//! The accept loop both listeners use: at most `max_connections` open connections (the rest wait in
//! the kernel's backlog), a deadline for the request headers, HTTP/1.1 only, and a graceful stop that
//! lets in-flight requests finish (and so every delivery being stored is committed and answered).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::ConnectInfo;
use axum::Router;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::TcpListener;
use tokio::sync::{watch, Semaphore};
use tokio::task::JoinHandle;
use tower::Service;

use crate::config::Limits;

/// How long a graceful stop waits for in-flight requests before closing them.
pub const DRAIN_TIMEOUT: Duration = Duration::from_secs(15);

/// A running server; [`RunningServer::stop`] stops it gracefully.
pub struct RunningServer {
    pub addr: SocketAddr,
    stop: watch::Sender<bool>,
    task: JoinHandle<()>,
}

impl RunningServer {
    /// Stops accepting, waits for in-flight requests (at most [`DRAIN_TIMEOUT`]).
    pub async fn stop(self) {
        let _ = self.stop.send(true);
        let _ = self.task.await;
    }
}

/// Serves `router` on `listener` until stopped.
pub fn spawn(listener: TcpListener, router: Router, limits: &Limits, name: &'static str) -> RunningServer {
    let addr = listener.local_addr().expect("bound listener has an address");
    let (stop, mut stopped) = watch::channel(false);
    let permits = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    let header_timeout = limits.header_timeout;
    let task = tokio::spawn(async move {
        let graceful = GracefulShutdown::new();
        loop {
            // Wait for a free connection slot before accepting: excess clients queue in the backlog.
            let permit = tokio::select! {
                p = permits.clone().acquire_owned() => p.expect("semaphore never closed"),
                _ = stopped.changed() => break,
            };
            let (stream, peer) = tokio::select! {
                r = listener.accept() => match r {
                    Ok(x) => x,
                    Err(e) => {
                        // EMFILE and friends: back off instead of spinning.
                        tracing::warn!(server = name, error = %e, "accept failed");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                },
                _ = stopped.changed() => break,
            };
            let _ = stream.set_nodelay(true);
            let router = router.clone();
            let service = hyper::service::service_fn(move |mut req: hyper::Request<Incoming>| {
                req.extensions_mut().insert(ConnectInfo(peer));
                router.clone().call(req)
            });
            let conn = hyper::server::conn::http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(header_timeout)
                .keep_alive(true)
                .serve_connection(TokioIo::new(stream), service);
            let conn = graceful.watch(conn);
            tokio::spawn(async move {
                if let Err(e) = conn.await {
                    tracing::debug!(server = name, %peer, error = %e, "connection ended with an error");
                }
                drop(permit);
            });
        }
        drop(listener);
        tokio::select! {
            _ = graceful.shutdown() => tracing::debug!(server = name, "drained"),
            _ = tokio::time::sleep(DRAIN_TIMEOUT) => tracing::warn!(server = name, "gave up waiting for in-flight requests"),
        }
    });
    RunningServer { addr, stop, task }
}
