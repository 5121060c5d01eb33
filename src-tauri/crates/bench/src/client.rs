//! A minimal HTTP/1.1 keep-alive client over one loopback TCP connection: it writes a request in one
//! buffer and reads the answer (Content-Length, chunked or until close). Kept this small so the load
//! generator spends as little of the shared CPU as possible, and the same client drives every target.

use std::fmt;
use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// A request that takes longer than this is an error (the targets answer in milliseconds).
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

#[derive(Debug)]
pub enum ClientError {
    Io(std::io::Error),
    Timeout,
    /// The server closed the connection before a whole answer arrived.
    Closed,
    Protocol(String),
}

impl fmt::Display for ClientError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ClientError::Io(e) => write!(f, "connection error: {e}"),
            ClientError::Timeout => write!(f, "no answer within {}s", REQUEST_TIMEOUT.as_secs()),
            ClientError::Closed => write!(f, "the server closed the connection before answering"),
            ClientError::Protocol(m) => write!(f, "bad HTTP answer: {m}"),
        }
    }
}

impl From<std::io::Error> for ClientError {
    fn from(e: std::io::Error) -> Self {
        ClientError::Io(e)
    }
}

/// An answer: the status and, when asked for, the body.
pub struct Answer {
    pub status: u16,
    pub body: Vec<u8>,
}

/// One keep-alive connection.
pub struct Conn {
    addr: SocketAddr,
    host: String,
    stream: TcpStream,
    /// Bytes read and not yet consumed: `buf[start..end]`.
    buf: Vec<u8>,
    start: usize,
    end: usize,
    /// The request being written (reused).
    out: Vec<u8>,
    /// The server said `Connection: close` (or closed): reconnect before the next request.
    closed: bool,
}

impl Conn {
    pub async fn connect(addr: SocketAddr) -> Result<Conn, ClientError> {
        let stream = tokio::time::timeout(REQUEST_TIMEOUT, TcpStream::connect(addr))
            .await
            .map_err(|_| ClientError::Timeout)??;
        stream.set_nodelay(true)?;
        Ok(Conn {
            addr,
            host: addr.to_string(),
            stream,
            buf: vec![0; 64 * 1024],
            start: 0,
            end: 0,
            out: Vec::with_capacity(32 * 1024),
            closed: false,
        })
    }

    /// Reopens the connection (after an error or a `Connection: close`).
    pub async fn reconnect(&mut self) -> Result<(), ClientError> {
        *self = Conn::connect(self.addr).await?;
        Ok(())
    }

    /// Sends one request and reads its answer; the body is kept only when `keep_body`.
    pub async fn request(
        &mut self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &[u8],
        keep_body: bool,
    ) -> Result<Answer, ClientError> {
        if self.closed {
            self.reconnect().await?;
        }
        match tokio::time::timeout(REQUEST_TIMEOUT, self.exchange(method, path, headers, body, keep_body))
            .await
        {
            Ok(Ok(answer)) => Ok(answer),
            Ok(Err(e)) => {
                self.closed = true;
                Err(e)
            }
            Err(_) => {
                self.closed = true;
                Err(ClientError::Timeout)
            }
        }
    }

    async fn exchange(
        &mut self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &[u8],
        keep_body: bool,
    ) -> Result<Answer, ClientError> {
        use std::io::Write as _;
        self.out.clear();
        // Writing into a Vec cannot fail.
        let _ = write!(self.out, "{method} {path} HTTP/1.1\r\nhost: {}\r\n", self.host);
        for (name, value) in headers {
            let _ = write!(self.out, "{name}: {value}\r\n");
        }
        if !body.is_empty() || method == "POST" {
            let _ = write!(self.out, "content-length: {}\r\n", body.len());
        }
        self.out.extend_from_slice(b"\r\n");
        self.out.extend_from_slice(body);
        self.stream.write_all(&self.out).await?;
        self.read_answer(keep_body).await
    }

    /// Reads more bytes into the buffer (growing it when full); `Closed` at EOF.
    async fn fill(&mut self) -> Result<(), ClientError> {
        if self.start > 0 && self.start == self.end {
            self.start = 0;
            self.end = 0;
        }
        if self.end == self.buf.len() {
            if self.start > 0 {
                self.buf.copy_within(self.start..self.end, 0);
                self.end -= self.start;
                self.start = 0;
            } else {
                self.buf.resize(self.buf.len() * 2, 0);
            }
        }
        let n = self.stream.read(&mut self.buf[self.end..]).await?;
        if n == 0 {
            return Err(ClientError::Closed);
        }
        self.end += n;
        Ok(())
    }

    async fn read_answer(&mut self, keep_body: bool) -> Result<Answer, ClientError> {
        // Status line and headers.
        let (status, head_len, length, chunked, close) = loop {
            let mut headers = [httparse::EMPTY_HEADER; 32];
            let mut response = httparse::Response::new(&mut headers);
            match response.parse(&self.buf[self.start..self.end]) {
                Ok(httparse::Status::Complete(n)) => {
                    let status = response.code.unwrap_or(0);
                    let mut length = None;
                    let mut chunked = false;
                    let mut close = response.version == Some(0);
                    for h in response.headers.iter() {
                        if h.name.eq_ignore_ascii_case("content-length") {
                            let text = std::str::from_utf8(h.value).unwrap_or("");
                            length = Some(text.trim().parse::<usize>().map_err(|_| {
                                ClientError::Protocol(format!("Content-Length {text:?} is not a number"))
                            })?);
                        } else if h.name.eq_ignore_ascii_case("transfer-encoding") {
                            chunked = std::str::from_utf8(h.value)
                                .map(|v| v.to_ascii_lowercase().contains("chunked"))
                                .unwrap_or(false);
                        } else if h.name.eq_ignore_ascii_case("connection") {
                            close = std::str::from_utf8(h.value)
                                .map(|v| v.eq_ignore_ascii_case("close"))
                                .unwrap_or(false);
                        }
                    }
                    break (status, n, length, chunked, close);
                }
                Ok(httparse::Status::Partial) => self.fill().await?,
                Err(e) => return Err(ClientError::Protocol(e.to_string())),
            }
        };
        self.start += head_len;
        let mut body = Vec::new();
        if (100..200).contains(&status) {
            return Err(ClientError::Protocol(format!("unexpected interim answer {status}")));
        }
        if chunked {
            self.read_chunked(keep_body.then_some(&mut body)).await?;
        } else if let Some(length) = length {
            self.read_exact_body(length, keep_body.then_some(&mut body)).await?;
        } else if status != 204 && status != 304 {
            // No length: the body runs until the server closes.
            loop {
                if keep_body {
                    body.extend_from_slice(&self.buf[self.start..self.end]);
                }
                self.start = self.end;
                match self.fill().await {
                    Ok(()) => {}
                    Err(ClientError::Closed) => break,
                    Err(e) => return Err(e),
                }
            }
            self.closed = true;
        }
        if close {
            self.closed = true;
        }
        Ok(Answer { status, body })
    }

    async fn read_exact_body(
        &mut self,
        mut length: usize,
        mut keep: Option<&mut Vec<u8>>,
    ) -> Result<(), ClientError> {
        loop {
            let available = (self.end - self.start).min(length);
            if let Some(body) = keep.as_deref_mut() {
                body.extend_from_slice(&self.buf[self.start..self.start + available]);
            }
            self.start += available;
            length -= available;
            if length == 0 {
                return Ok(());
            }
            self.fill().await?;
        }
    }

    /// The line up to CRLF (without it), consumed.
    async fn read_line(&mut self) -> Result<String, ClientError> {
        loop {
            if let Some(pos) = self.buf[self.start..self.end].windows(2).position(|w| w == b"\r\n") {
                let line = String::from_utf8_lossy(&self.buf[self.start..self.start + pos]).into_owned();
                self.start += pos + 2;
                return Ok(line);
            }
            if self.end - self.start > 8 * 1024 {
                return Err(ClientError::Protocol("chunk header line too long".into()));
            }
            self.fill().await?;
        }
    }

    async fn read_chunked(&mut self, mut keep: Option<&mut Vec<u8>>) -> Result<(), ClientError> {
        loop {
            let line = self.read_line().await?;
            let size_text = line.split(';').next().unwrap_or("").trim();
            let size = usize::from_str_radix(size_text, 16)
                .map_err(|_| ClientError::Protocol(format!("bad chunk size {size_text:?}")))?;
            if size == 0 {
                // Trailers, up to the empty line.
                while !self.read_line().await?.is_empty() {}
                return Ok(());
            }
            self.read_exact_body(size, keep.as_deref_mut()).await?;
            if !self.read_line().await?.is_empty() {
                return Err(ClientError::Protocol("chunk not followed by CRLF".into()));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::AsyncWriteExt;
    use tokio::net::TcpListener;

    /// A server that answers each request with the canned bytes, in turn, then keeps the connection.
    async fn canned(answers: Vec<&'static [u8]>) -> SocketAddr {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            let (mut s, _) = listener.accept().await.unwrap();
            let mut buf = vec![0u8; 65536];
            for answer in answers {
                let _ = s.read(&mut buf).await.unwrap();
                s.write_all(answer).await.unwrap();
            }
            tokio::time::sleep(Duration::from_secs(1)).await;
        });
        addr
    }

    #[tokio::test]
    async fn reads_length_chunked_and_keeps_alive() {
        let addr = canned(vec![
            b"HTTP/1.1 200 OK\r\ncontent-length: 11\r\n\r\n{\"ok\":true}",
            b"HTTP/1.1 401 Unauthorized\r\ntransfer-encoding: chunked\r\n\r\n3\r\nabc\r\n2;x=y\r\nde\r\n0\r\n\r\n",
            b"HTTP/1.1 503 Service Unavailable\r\ncontent-length: 0\r\n\r\n",
        ])
        .await;
        let mut conn = Conn::connect(addr).await.unwrap();
        let a = conn.request("POST", "/x", &[], b"{}", true).await.unwrap();
        assert_eq!((a.status, a.body.as_slice()), (200, &b"{\"ok\":true}"[..]));
        let a = conn.request("POST", "/x", &[], b"{}", true).await.unwrap();
        assert_eq!((a.status, a.body.as_slice()), (401, &b"abcde"[..]));
        let a = conn.request("GET", "/y", &[("authorization", "Bearer t")], b"", false).await.unwrap();
        assert_eq!(a.status, 503);
    }
}
