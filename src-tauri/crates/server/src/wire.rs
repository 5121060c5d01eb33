//! The receiver's header lines as they arrived on the wire: each name in the case it was sent, in
//! the order sent, a repeated header at each of its places.
//!
//! hyper parses and serves every request; what it hands a handler is an `http::HeaderMap`, whose
//! names are lowercased and whose repeated names are grouped at their first place. hyper can record
//! the original case (`http1::Builder::preserve_header_case`), but only into a private extension
//! (`hyper::ext::HeaderCaseMap` is `pub(crate)`, hyperium/hyper#2695), and the original order only
//! under its unstable C API (`OriginalHeaderOrder`, `--cfg hyper_unstable_ffi`). So the receiver's
//! connections are read through a [`Tapped`] stream that keeps a copy of the bytes hyper reads, and
//! when hyper hands over a request its head is split into lines with `httparse` (the parser hyper
//! itself uses). The lines are kept only when they say exactly what hyper parsed (same method, path,
//! names case-insensitively and values, in hyper's per-name order); otherwise, and for the rest of
//! that connection, the receiver falls back to hyper's map. Bodies are skipped by the framing hyper
//! read them with (`content-length`, or chunked), so keep-alive and pipelined requests line up.

use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use axum::http::{header, HeaderMap, HeaderName, HeaderValue, Method, Uri};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// A request's header lines as received (name as sent, value), in order. Put in the request's
/// extensions by the receiver's listener; absent when they could not be told apart for sure.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WireHeaders(pub Vec<(String, String)>);

/// hyper's default limit of header lines per request.
const MAX_HEADERS: usize = 100;
/// Bytes kept while waiting for a head, a chunk-size line or trailers (hyper reads at most about
/// 400 KiB ahead); past it the tap gives up on the connection.
const MAX_PENDING: usize = 1024 * 1024;

/// Where the tap is in the connection's byte stream.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum At {
    /// At the start of a request head (not yet handed over by hyper).
    Head,
    /// Inside a `content-length` body: this many bytes still to skip.
    Body(u64),
    /// At a chunk-size line.
    ChunkSize,
    /// Inside a chunk: this many bytes still to skip.
    ChunkData(u64),
    /// At the CRLF after a chunk's data.
    ChunkEnd,
    /// After the last chunk: trailer lines up to an empty line.
    Trailers,
    /// Lost track (or gave up): nothing more is captured on this connection.
    Off,
}

/// The copy of one connection's bytes, from the start of the request hyper will hand over next.
#[derive(Debug)]
pub(crate) struct Tap {
    pending: Vec<u8>,
    at: At,
}

impl Tap {
    pub(crate) fn new() -> Tap {
        Tap { pending: Vec::new(), at: At::Head }
    }

    /// Bytes hyper has just read.
    fn feed(&mut self, bytes: &[u8]) {
        if self.at == At::Off {
            return;
        }
        self.pending.extend_from_slice(bytes);
        self.advance();
        if self.pending.len() > MAX_PENDING {
            self.off();
        }
    }

    fn off(&mut self) {
        self.at = At::Off;
        self.pending = Vec::new();
    }

    /// Skips what belongs to the body of the request last handed over, as far as it has arrived.
    fn advance(&mut self) {
        loop {
            match self.at {
                At::Head | At::Off => return,
                At::Body(left) | At::ChunkData(left) => {
                    let take = left.min(self.pending.len() as u64);
                    self.pending.drain(..take as usize);
                    let left = left - take;
                    self.at = match (self.at, left) {
                        (At::Body(_), 0) => At::Head,
                        (At::Body(_), _) => At::Body(left),
                        (_, 0) => At::ChunkEnd,
                        _ => At::ChunkData(left),
                    };
                    if left > 0 {
                        return;
                    }
                }
                At::ChunkSize => match httparse::parse_chunk_size(&self.pending) {
                    Ok(httparse::Status::Complete((used, size))) => {
                        self.pending.drain(..used);
                        self.at = if size == 0 { At::Trailers } else { At::ChunkData(size) };
                    }
                    Ok(httparse::Status::Partial) => return,
                    Err(_) => return self.off(),
                },
                At::ChunkEnd => {
                    if self.pending.len() < 2 {
                        return;
                    }
                    if &self.pending[..2] != b"\r\n" {
                        return self.off();
                    }
                    self.pending.drain(..2);
                    self.at = At::ChunkSize;
                }
                At::Trailers => {
                    let mut lines = [httparse::EMPTY_HEADER; MAX_HEADERS];
                    match httparse::parse_headers(&self.pending, &mut lines) {
                        Ok(httparse::Status::Complete((used, _))) => {
                            self.pending.drain(..used);
                            self.at = At::Head;
                        }
                        Ok(httparse::Status::Partial) => return,
                        Err(_) => return self.off(),
                    }
                }
            }
        }
    }

    /// The header lines of the request hyper has just parsed (`method`, `uri`, `headers`), when the
    /// copy holds exactly that head; then moves past it to its body.
    pub(crate) fn take_head(
        &mut self,
        method: &Method,
        uri: &Uri,
        headers: &HeaderMap,
    ) -> Option<WireHeaders> {
        if self.at != At::Head {
            self.off();
            return None;
        }
        let mut lines = [httparse::EMPTY_HEADER; MAX_HEADERS];
        let mut head = httparse::Request::new(&mut lines);
        let (used, wire) = match head.parse(&self.pending) {
            Ok(httparse::Status::Complete(used))
                if head.method == Some(method.as_str()) && head.path == Some(uri.to_string().as_str()) =>
            {
                let wire: Vec<(&str, &[u8])> = head.headers.iter().map(|h| (h.name, h.value)).collect();
                (used, wire)
            }
            _ => {
                self.off();
                return None;
            }
        };
        if !says_the_same(&wire, headers) {
            self.off();
            return None;
        }
        let lines =
            wire.iter().map(|(n, v)| ((*n).to_owned(), String::from_utf8_lossy(v).into_owned())).collect();
        self.pending.drain(..used);
        self.at = if headers.contains_key(header::TRANSFER_ENCODING) {
            At::ChunkSize
        } else {
            match headers
                .get(header::CONTENT_LENGTH)
                .map(|v| v.to_str().ok().and_then(|v| v.trim().parse().ok()))
            {
                None => At::Head,
                Some(Some(length)) => At::Body(length),
                Some(None) => At::Off,
            }
        };
        self.advance();
        Some(WireHeaders(lines))
    }
}

/// Whether the lines name the same headers with the same values as hyper's map.
fn says_the_same(wire: &[(&str, &[u8])], parsed: &HeaderMap) -> bool {
    let mut map = HeaderMap::with_capacity(wire.len());
    for (name, value) in wire {
        match (HeaderName::from_bytes(name.as_bytes()), HeaderValue::from_bytes(value)) {
            (Ok(name), Ok(value)) => {
                map.append(name, value);
            }
            _ => return false,
        }
    }
    map == *parsed
}

/// A connection's stream, optionally copying what is read from it into a [`Tap`].
pub(crate) struct Tapped<T> {
    io: T,
    tap: Option<Arc<Mutex<Tap>>>,
}

impl<T> Tapped<T> {
    pub(crate) fn new(io: T, tap: Option<Arc<Mutex<Tap>>>) -> Tapped<T> {
        Tapped { io, tap }
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for Tapped<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let read = Pin::new(&mut self.io).poll_read(cx, buf);
        if let (Poll::Ready(Ok(())), Some(tap)) = (&read, &self.tap) {
            tap.lock().expect("tap lock").feed(&buf.filled()[before..]);
        }
        read
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for Tapped<T> {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.io).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.io).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parsed(lines: &[(&str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (n, v) in lines {
            map.append(HeaderName::from_bytes(n.as_bytes()).unwrap(), HeaderValue::from_str(v).unwrap());
        }
        map
    }

    #[test]
    fn heads_line_up_across_bodies() {
        let post = Method::POST;
        let uri: Uri = "/w".parse().unwrap();
        let mut tap = Tap::new();
        // A chunked request with trailers, then one with content-length, fed in small pieces.
        let stream: &[u8] = b"POST /w HTTP/1.1\r\nX-A: 1\r\nTransfer-Encoding: chunked\r\n\r\n\
            3;ext=1\r\nabc\r\n0\r\nX-Trailer: t\r\n\r\n\
            POST /w HTTP/1.1\r\nx-b: 2\r\nContent-Length: 4\r\nX-B: 3\r\n\r\nbody";
        let first_head = stream.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
        tap.feed(&stream[..first_head]);
        let one = tap.take_head(&post, &uri, &parsed(&[("x-a", "1"), ("transfer-encoding", "chunked")]));
        assert_eq!(one.unwrap().0[0].0, "X-A");
        for byte in &stream[first_head..] {
            tap.feed(std::slice::from_ref(byte));
        }
        let two = tap.take_head(&post, &uri, &parsed(&[("x-b", "2"), ("x-b", "3"), ("content-length", "4")]));
        let names: Vec<String> = two.unwrap().0.into_iter().map(|(n, _)| n).collect();
        assert_eq!(names, ["x-b", "Content-Length", "X-B"]);
        assert_eq!(tap.at, At::Head);
        assert!(tap.pending.is_empty());
    }

    #[test]
    fn a_head_that_differs_from_hypers_is_not_used() {
        let mut tap = Tap::new();
        tap.feed(b"POST /w HTTP/1.1\r\nX-A: 1\r\n\r\n");
        assert_eq!(tap.take_head(&Method::POST, &"/w".parse().unwrap(), &parsed(&[("x-a", "2")])), None);
        tap.feed(b"POST /w HTTP/1.1\r\nX-A: 1\r\n\r\n");
        assert_eq!(tap.take_head(&Method::POST, &"/w".parse().unwrap(), &parsed(&[("x-a", "1")])), None);
    }
}
