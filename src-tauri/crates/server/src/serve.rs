//! The accept loop both listeners use: at most `max_connections` open connections (the rest wait in
//! the kernel's backlog), a deadline for the request headers, HTTP/1.1 only, and a graceful stop that
//! lets in-flight requests finish (and so every delivery being stored is committed and answered).

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::ConnectInfo;
use axum::Router;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, watch, OwnedSemaphorePermit, Semaphore};
use tokio::task::JoinHandle;
use tower::Service;

use crate::config::Limits;
pub use crate::wire::WireHeaders;
use crate::wire::{Tap, Tapped};

/// How long a graceful stop waits for in-flight requests before closing them.
pub const DRAIN_TIMEOUT: Duration = Duration::from_secs(15);

/// How long a connection keeps reading after the stop before it is asked to close (see
/// [`serve_until_stopped`]): an idle keep-alive connection closes this much later.
const READ_GRACE: Duration = Duration::from_millis(100);

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
    spawn_with(listener, router, limits, name, false)
}

/// Like [`spawn`], and each request carries its header lines as they arrived on the wire (case,
/// order, repeats in place) as a [`WireHeaders`] extension: the receiver's listener.
pub fn spawn_keeping_wire_headers(
    listener: TcpListener,
    router: Router,
    limits: &Limits,
    name: &'static str,
) -> RunningServer {
    spawn_with(listener, router, limits, name, true)
}

fn spawn_with(
    listener: TcpListener,
    router: Router,
    limits: &Limits,
    name: &'static str,
    wire_headers: bool,
) -> RunningServer {
    let addr = listener.local_addr().expect("bound listener has an address");
    let (stop, mut stopped) = watch::channel(false);
    let permits = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    let header_timeout = limits.header_timeout;
    let task = tokio::spawn(async move {
        // Every connection task holds a clone; `recv` returns `None` once all have ended.
        let (open, mut all_closed) = mpsc::channel::<()>(1);
        let for_connections = stopped.clone();
        let serve_one = |stream: TcpStream, peer: SocketAddr, permit: OwnedSemaphorePermit| {
            let _ = stream.set_nodelay(true);
            let router = router.clone();
            let tap = wire_headers.then(|| Arc::new(Mutex::new(Tap::new())));
            let stream = Tapped::new(stream, tap.clone());
            let service = hyper::service::service_fn(move |mut req: hyper::Request<Incoming>| {
                req.extensions_mut().insert(ConnectInfo(peer));
                if let Some(tap) = &tap {
                    let wire =
                        tap.lock().expect("tap lock").take_head(req.method(), req.uri(), req.headers());
                    if let Some(wire) = wire {
                        req.extensions_mut().insert(wire);
                    }
                }
                router.clone().call(req)
            });
            let conn = hyper::server::conn::http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(header_timeout)
                .keep_alive(true)
                .serve_connection(TokioIo::new(stream), service);
            let (stopping, open) = (for_connections.clone(), open.clone());
            tokio::spawn(async move {
                if let Err(e) = serve_until_stopped(conn, stopping).await {
                    tracing::debug!(server = name, %peer, error = %e, "connection ended with an error");
                }
                drop((permit, open));
            });
        };
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
            serve_one(stream, peer, permit);
        }
        // Connections the kernel has already completed are clients that sent (or are sending) a
        // request before the stop: take them too, while slots last, rather than reset them.
        // (Asked of the socket itself: the runtime's readiness may not have caught up with them.)
        if let Ok(listener) = listener.into_std() {
            while let Ok(permit) = permits.clone().try_acquire_owned() {
                let Ok((stream, peer)) = listener.accept() else { break };
                match stream.set_nonblocking(true).and_then(|()| TcpStream::from_std(stream)) {
                    Ok(stream) => serve_one(stream, peer, permit),
                    Err(e) => {
                        tracing::warn!(server = name, %peer, error = %e, "could not take a connection while stopping")
                    }
                }
            }
        }
        drop(open);
        tokio::select! {
            _ = all_closed.recv() => tracing::debug!(server = name, "drained"),
            _ = tokio::time::sleep(DRAIN_TIMEOUT) => tracing::warn!(server = name, "gave up waiting for in-flight requests"),
        }
    });
    RunningServer { addr, stop, task }
}

/// Runs one connection until it ends; once the server stops, lets it finish the request it has (or
/// whose bytes have already arrived) and closes it after the answer. hyper closes a connection at
/// once when asked to stop before it has read anything, and a connection accepted a moment before
/// the stop may not have been told yet that its socket is readable: so the connection runs on for
/// [`READ_GRACE`] first, and a request sitting unread in the socket is read, stored and answered
/// rather than dropped.
async fn serve_until_stopped<C>(conn: C, mut stopping: watch::Receiver<bool>) -> Result<(), hyper::Error>
where
    C: Future<Output = Result<(), hyper::Error>> + GracefulConnection,
{
    let mut conn = std::pin::pin!(conn);
    let stop = async move {
        let _ = stopping.wait_for(|stopped| *stopped).await;
    };
    tokio::select! {
        result = conn.as_mut() => return result,
        _ = stop => {}
    }
    if let Ok(result) = tokio::time::timeout(READ_GRACE, conn.as_mut()).await {
        return result;
    }
    conn.as_mut().graceful_shutdown();
    conn.await
}

/// The one thing [`serve_until_stopped`] needs of a connection besides polling it.
trait GracefulConnection {
    fn graceful_shutdown(self: Pin<&mut Self>);
}

impl<I, S, B> GracefulConnection for hyper::server::conn::http1::Connection<I, S>
where
    S: hyper::service::HttpService<Incoming, ResBody = B>,
    S::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    I: hyper::rt::Read + hyper::rt::Write + Unpin,
    B: hyper::body::Body + 'static,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    fn graceful_shutdown(self: Pin<&mut Self>) {
        hyper::server::conn::http1::Connection::graceful_shutdown(self)
    }
}
