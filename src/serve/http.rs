//! The HTTP side of the server: accepting connections within a limit, hyper's HTTP/1.1 on
//! each with bounded heads and timeouts, the Host and Origin rules, and handing each
//! request to the computing pools with a flag that stops its work when the client leaves.

use super::{api, Limits, Pools, MAX_BODY, MAX_HEAD, MAX_HEADERS, MAX_URL};
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::{Bytes, Incoming};
use hyper::{Request, Response};
use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// Which `Host` values the server answers: the address it is bound to, and `localhost`.
#[derive(Clone, Debug)]
struct HostRule {
    port: u16,
    /// Bound to 0.0.0.0 or `::`: any IP address literal is this server.
    any_ip: bool,
    /// Host names and address literals accepted (lower case, IPv6 without brackets).
    names: Vec<String>,
}

impl HostRule {
    fn new(addr: SocketAddr, host: &str) -> HostRule {
        let mut names = vec!["localhost".to_string(), addr.ip().to_string()];
        if addr.ip().is_loopback() {
            names.extend(["127.0.0.1".to_string(), "::1".to_string()]);
        }
        let given = host.trim_start_matches('[').trim_end_matches(']').to_ascii_lowercase();
        if !given.is_empty() {
            names.push(given);
        }
        HostRule { port: addr.port(), any_ip: addr.ip().is_unspecified(), names }
    }

    /// Whether `authority` (`host`, `host:port`, `[v6]:port`) names this server.
    fn accepts(&self, authority: &str) -> bool {
        let a = authority.trim();
        let (host, port) = if let Some(rest) = a.strip_prefix('[') {
            match rest.split_once(']') {
                Some((h, tail)) => (h, tail.strip_prefix(':')),
                None => return false,
            }
        } else {
            match a.rsplit_once(':') {
                Some((h, p)) => (h, Some(p)),
                None => (a, None),
            }
        };
        let port_ok = match port {
            None => self.port == 80,
            Some(p) => p.len() <= 5 && p.bytes().all(|b| b.is_ascii_digit()) && p.parse::<u16>() == Ok(self.port),
        };
        let host = host.to_ascii_lowercase();
        let host = host.strip_suffix('.').unwrap_or(&host);
        port_ok && (self.names.iter().any(|n| n == host) || (self.any_ip && host.parse::<IpAddr>().is_ok()))
    }

    /// Whether `origin` (`http://host:port`, from an Origin or Referer header) is this
    /// server's own.
    fn same_origin(&self, origin: &str) -> bool {
        let Some(rest) = origin.strip_prefix("http://") else { return false };
        let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
        !authority.contains('@') && self.accepts(authority)
    }
}

/// The server: its rules, limits and pools.
pub(super) struct Server {
    rule: HostRule,
    limits: Limits,
    pools: Arc<Pools>,
    slots: Arc<tokio::sync::Semaphore>,
    stopped: Arc<AtomicBool>,
    /// Connections open now.
    pub(super) open: Arc<std::sync::atomic::AtomicUsize>,
}

/// A reply as hyper sends it.
type Answer = Response<Full<Bytes>>;

fn answer(reply: api::Reply, close: bool) -> Answer {
    let mut b = Response::builder()
        .status(reply.status)
        .header("Content-Type", reply.content_type)
        .header("Cache-Control", "no-store")
        .header("X-Content-Type-Options", "nosniff");
    if close {
        b = b.header("Connection", "close");
    }
    b.body(Full::new(Bytes::from(reply.body))).unwrap_or_else(|_| Response::new(Full::new(Bytes::new())))
}

/// Sets its flag when dropped: the future of a request is dropped when its client
/// disconnects (or the server ends), and the computation sees the flag and stops.
struct CancelOnDrop(Arc<AtomicBool>);

impl Drop for CancelOnDrop {
    fn drop(&mut self) {
        self.0.store(true, Ordering::SeqCst);
    }
}

impl Server {
    pub(super) fn new(
        addr: SocketAddr,
        host: &str,
        limits: Limits,
        pools: Arc<Pools>,
        stopped: Arc<AtomicBool>,
    ) -> Self {
        let slots = Arc::new(tokio::sync::Semaphore::new(limits.max_connections));
        let open = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        Server { rule: HostRule::new(addr, host), limits, pools, slots, stopped, open }
    }

    /// Accepts until `shutdown`, then lets the open connections finish (a few seconds at most).
    pub(super) async fn run(self, listener: tokio::net::TcpListener, shutdown: Arc<tokio::sync::Notify>) {
        let me = Arc::new(self);
        let (bye_tx, bye_rx) = tokio::sync::watch::channel(false);
        let mut last_complaint: Option<Instant> = None;
        loop {
            let accepted = tokio::select! {
                a = listener.accept() => a,
                _ = shutdown.notified() => break,
            };
            if me.stopped.load(Ordering::SeqCst) {
                break;
            }
            match accepted {
                Ok((stream, _)) => {
                    let _ = stream.set_nodelay(true);
                    match me.slots.clone().try_acquire_owned() {
                        Ok(permit) => {
                            let me = me.clone();
                            let bye = bye_rx.clone();
                            me.open.fetch_add(1, Ordering::SeqCst);
                            tokio::spawn(async move {
                                let open = me.open.clone();
                                me.connection(stream, bye).await;
                                open.fetch_sub(1, Ordering::SeqCst);
                                drop(permit);
                            });
                        }
                        Err(_) => refuse(stream, me.limits.max_connections),
                    }
                }
                Err(e) => {
                    // out of descriptors or memory: the connection waits in the backlog;
                    // try again shortly rather than give up listening
                    let now = Instant::now();
                    if last_complaint.is_none_or(|t| now.duration_since(t) > Duration::from_secs(10)) {
                        eprintln!("serve: cannot accept a connection ({e}); retrying");
                        last_complaint = Some(now);
                    }
                    if !matches!(e.kind(), std::io::ErrorKind::ConnectionAborted | std::io::ErrorKind::ConnectionReset)
                    {
                        tokio::time::sleep(Duration::from_millis(50)).await;
                    }
                }
            }
        }
        drop(listener);
        let _ = bye_tx.send(true);
        let all = me.limits.max_connections as u32;
        let _ = tokio::time::timeout(Duration::from_secs(5), me.slots.acquire_many(all)).await;
    }

    async fn connection(self: Arc<Self>, stream: tokio::net::TcpStream, mut bye: tokio::sync::watch::Receiver<bool>) {
        if let Some(version) = other_version(&stream, self.limits.head_timeout).await {
            let body = format!(
                "{{\"error\":\"{} is not supported: this server speaks HTTP/1.1 and HTTP/1.0\"}}",
                crate::limits::shorten(&version, 20).replace(['"', '\\'], "")
            );
            let msg = format!(
                "HTTP/1.1 505 HTTP Version Not Supported\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
            let mut io = Guarded::new(stream, self.limits.write_timeout);
            let _ = tokio::io::AsyncWriteExt::write_all(&mut io, msg.as_bytes()).await;
            let _ = tokio::io::AsyncWriteExt::shutdown(&mut io).await;
            return;
        }
        let io = hyper_util::rt::TokioIo::new(Guarded::new(stream, self.limits.write_timeout));
        let me = self.clone();
        let service = hyper::service::service_fn(move |req| {
            let me = me.clone();
            async move { Ok::<_, std::convert::Infallible>(me.respond(req).await) }
        });
        let mut builder = hyper::server::conn::http1::Builder::new();
        builder
            .timer(hyper_util::rt::TokioTimer::new())
            .header_read_timeout(self.limits.head_timeout)
            .max_buf_size(MAX_HEAD)
            .max_header_size(MAX_HEAD)
            .max_headers(MAX_HEADERS)
            .keep_alive(true);
        let conn = builder.serve_connection(io, service);
        tokio::pin!(conn);
        tokio::select! {
            _ = conn.as_mut() => return,
            _ = bye.wait_for(|b| *b) => {}
        }
        conn.as_mut().graceful_shutdown();
        let _ = tokio::time::timeout(Duration::from_secs(5), conn).await;
    }

    /// Checks the request's Host and Origin, reads its (small) body, and computes the answer.
    async fn respond(self: Arc<Self>, req: Request<Incoming>) -> Answer {
        let url = req.uri().path_and_query().map_or_else(|| req.uri().path().to_string(), |p| p.as_str().to_string());
        if url.len() > MAX_URL {
            return answer(api::Reply::error(414, format!("the request URL is longer than {MAX_URL} bytes")), true);
        }
        if let Some(refusal) = self.check_origin(&req, &url) {
            return answer(refusal, true);
        }
        let declared =
            req.headers().get(hyper::header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
        if declared.is_some_and(|n| n > MAX_BODY as u64) {
            return answer(too_large(), true);
        }
        let method = req.method().as_str().to_string();
        let body = Limited::new(req.into_body(), MAX_BODY);
        match tokio::time::timeout(self.limits.body_timeout, body.collect()).await {
            Err(_) => {
                let secs = self.limits.body_timeout.as_secs_f64();
                return answer(
                    api::Reply::error(408, format!("the request body did not arrive within {secs} s")),
                    true,
                );
            }
            Ok(Err(e)) if e.downcast_ref::<http_body_util::LengthLimitError>().is_some() => {
                return answer(too_large(), true)
            }
            Ok(Err(_)) => return answer(api::Reply::error(400, "the request body could not be read"), true),
            Ok(Ok(_)) => {}
        }
        let path = url.split('?').next().unwrap_or("");
        let heavy = matches!(path, "/api/map" | "/api/tune");
        let time = if heavy { self.limits.heavy_time } else { self.limits.light_time };
        let cancel = Arc::new(AtomicBool::new(false));
        let _guard = CancelOnDrop(cancel.clone());
        let pools = self.pools.clone();
        let flag = cancel.clone();
        let work = tokio::task::spawn_blocking(move || {
            pools.computing.fetch_add(1, Ordering::SeqCst);
            let out =
                std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| api::handle_in(&pools, &method, &url, &flag)));
            pools.computing.fetch_sub(1, Ordering::SeqCst);
            out
        });
        let reply = tokio::select! {
            done = work => match done {
                Ok(Ok(reply)) => reply,
                Ok(Err(p)) => {
                    let what = p
                        .downcast_ref::<String>()
                        .cloned()
                        .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
                        .unwrap_or_default();
                    api::Reply::error(500, format!("internal error: {}", what.lines().next().unwrap_or("")))
                }
                Err(_) => api::Reply::error(500, "internal error: the computation ended abnormally"),
            },
            _ = tokio::time::sleep(time) => {
                cancel.store(true, Ordering::SeqCst);
                api::Reply::error(503, format!(
                    "the answer took longer than {} s to compute and was abandoned: ask for fewer steps, starts or optimizers",
                    time.as_secs()
                ))
            }
        };
        answer(reply, false)
    }

    /// Refuses a request for another host (DNS rebinding) with 421, and an API request
    /// from another site's page with 403.
    fn check_origin(&self, req: &Request<Incoming>, url: &str) -> Option<api::Reply> {
        let header = |name: &str| req.headers().get(name).map(|v| v.to_str().unwrap_or("\u{fffd}").to_string());
        let host = header("host").or_else(|| req.uri().authority().map(|a| a.as_str().to_string()));
        if let Some(h) = host {
            if !self.rule.accepts(&h) {
                return Some(api::Reply::error(
                    421,
                    format!(
                        "this server answers only requests for the address it listens on (port {}) or localhost, not for '{}'",
                        self.rule.port,
                        crate::limits::shorten(&h, 80)
                    ),
                ));
            }
        }
        if !url.starts_with("/api/") {
            return None;
        }
        let cross = |what: &str, v: &str| {
            Some(api::Reply::error(
                403,
                format!(
                    "the API answers only the playground's own page: {what} '{}' is another site",
                    crate::limits::shorten(v, 80)
                ),
            ))
        };
        if let Some(site) = header("sec-fetch-site") {
            if !matches!(site.as_str(), "same-origin" | "none") {
                return cross("Sec-Fetch-Site", &site);
            }
        }
        if let Some(o) = header("origin") {
            if !self.rule.same_origin(&o) {
                return cross("Origin", &o);
            }
        }
        if let Some(r) = header("referer") {
            if !self.rule.same_origin(&r) {
                return cross("Referer", &r);
            }
        }
        None
    }
}

/// The HTTP version of a connection's first request line when it is neither 1.0 nor 1.1
/// (`HTTP/2.0`, or HTTP/2's preface), read without consuming it; `None` when it is one of
/// those, or the line has not arrived whole in one piece (hyper then judges it).
async fn other_version(stream: &tokio::net::TcpStream, wait: Duration) -> Option<String> {
    let mut buf = [0u8; 512];
    let n = tokio::time::timeout(wait, stream.peek(&mut buf)).await.ok()?.ok()?;
    let line = buf[..n].split(|&b| b == b'\n').next().filter(|_| buf[..n].contains(&b'\n'))?;
    let line = String::from_utf8_lossy(line);
    let version = line.trim_end_matches('\r').rsplit(' ').next()?.to_string();
    (version.starts_with("HTTP/") && version != "HTTP/1.1" && version != "HTTP/1.0").then_some(version)
}

fn too_large() -> api::Reply {
    api::Reply::error(413, format!("the request body is larger than {MAX_BODY} bytes"))
}

/// Answers a connection past the limit with 503 (if its buffer takes it at once) and closes it.
fn refuse(stream: tokio::net::TcpStream, limit: usize) {
    let body = format!("{{\"error\":\"busy: {limit} connections are open; try again shortly\"}}");
    let msg = format!(
        "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\nRetry-After: 1\r\n\r\n{body}",
        body.len()
    );
    let _ = stream.try_write(msg.as_bytes());
}

/// A socket whose writes fail with `TimedOut` when they make no progress for `timeout`.
struct Guarded<S> {
    inner: S,
    timeout: Duration,
    stall: Option<Pin<Box<tokio::time::Sleep>>>,
}

impl<S> Guarded<S> {
    fn new(inner: S, timeout: Duration) -> Self {
        Guarded { inner, timeout, stall: None }
    }

    /// After the inner write returned `Pending`: `Ready(Err)` once the stall lasted too long.
    fn stalled(&mut self, cx: &mut Context<'_>) -> Poll<std::io::Error> {
        let t = self.timeout;
        let sleep = self.stall.get_or_insert_with(|| Box::pin(tokio::time::sleep(t)));
        match sleep.as_mut().poll(cx) {
            Poll::Ready(()) => {
                Poll::Ready(std::io::Error::new(std::io::ErrorKind::TimedOut, "the client does not read the answer"))
            }
            Poll::Pending => Poll::Pending,
        }
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Guarded<S> {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Guarded<S> {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<std::io::Result<usize>> {
        match Pin::new(&mut self.inner).poll_write(cx, buf) {
            Poll::Ready(r) => {
                self.stall = None;
                Poll::Ready(r)
            }
            Poll::Pending => self.stalled(cx).map(Err),
        }
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        match Pin::new(&mut self.inner).poll_flush(cx) {
            Poll::Ready(r) => {
                self.stall = None;
                Poll::Ready(r)
            }
            Poll::Pending => self.stalled(cx).map(Err),
        }
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        match Pin::new(&mut self.inner).poll_shutdown(cx) {
            Poll::Ready(r) => Poll::Ready(r),
            Poll::Pending => self.stalled(cx).map(Err),
        }
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        match Pin::new(&mut self.inner).poll_write_vectored(cx, bufs) {
            Poll::Ready(r) => {
                self.stall = None;
                Poll::Ready(r)
            }
            Poll::Pending => self.stalled(cx).map(Err),
        }
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_rule_accepts_the_bound_address_and_localhost_only() {
        let r = HostRule::new("127.0.0.1:8080".parse().unwrap(), "127.0.0.1");
        for ok in ["127.0.0.1:8080", "localhost:8080", "LOCALHOST:8080", "[::1]:8080", "localhost.:8080"] {
            assert!(r.accepts(ok), "{ok}");
        }
        for bad in [
            "evil.example:8080",
            "127.0.0.1:8081",
            "127.0.0.1",
            "localhost:08080x",
            "127.0.0.1.evil.example:8080",
            "[::1",
            "",
            "localhost:99999999999",
        ] {
            assert!(!r.accepts(bad), "{bad}");
        }
        assert!(r.same_origin("http://localhost:8080"));
        assert!(r.same_origin("http://127.0.0.1:8080/?function=x"));
        assert!(!r.same_origin("http://evil.example:8080"));
        assert!(!r.same_origin("https://127.0.0.1:8080"));
        assert!(!r.same_origin("http://evil@127.0.0.1:8080"));
        assert!(!r.same_origin("null"));
        let any = HostRule::new("0.0.0.0:80".parse().unwrap(), "0.0.0.0");
        assert!(any.accepts("192.168.1.7") && any.accepts("[fe80::1]:80") && !any.accepts("rebind.example"));
    }
}
