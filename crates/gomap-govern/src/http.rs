//! `/metrics` (Prometheus text exposition) and `/debug/maps` (JSON) over
//! HTTP/1.1, for a registry (feature `http`).
//!
//! ```no_run
//! use gomap_govern::{http, Registry};
//!
//! let server = http::serve(Registry::global(), "127.0.0.1:9464".parse().unwrap()).unwrap();
//! println!("scrape http://{}/metrics", server.addr());
//! // ... dropping `server` stops it.
//! ```
//!
//! # What it serves
//!
//! | request | answer |
//! |---|---|
//! | `GET /metrics` | every `gomap_*` series ([`render_metrics`]), `text/plain; version=0.0.4; charset=utf-8` |
//! | `GET /debug/maps` | `{ totals, health, maps, events }` ([`render_debug_json`]), `application/json` |
//! | `HEAD` of either | the same headers, no body |
//! | `GET`/`HEAD` of any other path | `404` and a one-line hint |
//! | any other method | `405` with `Allow: GET, HEAD` |
//!
//! Query strings are ignored. Pages are rendered fresh for each request, so
//! a dropped map's series disappear with it.
//!
//! # How it runs, and why no client can stall it
//!
//! [`serve`] starts one thread, `gomap-http`, that owns a single-threaded
//! tokio runtime running [hyper](https://docs.rs/hyper). Every connection
//! is its own task, so a slow or hostile client only ever holds up itself.
//! Rendering a page is CPU work, so it runs on the runtime's blocking pool,
//! capped at two threads (`gomap-http-render`): the server never uses more
//! than three threads whatever its clients do, and a burst of scrapes
//! queues for those two rather than starting threads.
//!
//! Every limit is an [`Options`] field; [`serve`] uses the defaults:
//!
//! - **Connections** ([`Options::max_connections`], 256): one more
//!   connection than that is answered `503 Service Unavailable`
//!   (`Retry-After: 1`, `Connection: close`) once its request head is in,
//!   and closed, all under one-second timeouts; up to 64 such refusals run
//!   at once, and beyond them a new connection is closed at once without a
//!   word. Open connections are never dropped to make room. 256 is far
//!   more than scrapers need (a Prometheus pair and someone with `curl`)
//!   and well under the usual limit of 1024 file descriptors.
//! - **Request heads** ([`Options::max_header_bytes`], 16 KiB): a request
//!   line plus headers that reach this size are answered `431 Request
//!   Header Fields Too Large` and the connection is closed (hyper's
//!   `max_buf_size`: hyper stops reading there). A scrape's head is a few
//!   hundred bytes; 16 KiB leaves room for what proxies add.
//! - **Header read timeout** ([`Options::header_read_timeout`], 5 s): a
//!   request head must arrive whole within this time of its first byte (of
//!   the connection's opening, for the first request), however it trickles
//!   in; otherwise the connection is closed. This stops slow-loris clients
//!   from holding connections; a real client sends its head at once, 5 s
//!   allows for a loaded machine.
//! - **Keep-alive idle timeout** ([`Options::keep_alive_timeout`], 30 s):
//!   after a response, the connection waits this long for the client's
//!   next request, then is closed. Longer than the common 15 s scrape
//!   interval, so Prometheus keeps its connection; short enough that an
//!   abandoned connection soon gives its slot back. (hyper's own header
//!   timeout would also cut idle connections, so the server keeps both
//!   deadlines itself, on the socket.)
//! - **Write timeout** ([`Options::write_timeout`], 10 s): a response the
//!   socket accepts no byte of for this long (a client that sends requests
//!   but never reads the answers) closes the connection. A reading client
//!   takes a page in milliseconds, and 10 s is Prometheus' default scrape
//!   timeout: a scraper stuck longer has given up.
//! - **Loopback only** ([`Options::loopback_only`], on): these pages tell a
//!   lot about a process, so by default only a loopback address may be
//!   served; put a proxy (with authentication) in front to publish them.
//!
//! Pipelined requests are answered one at a time, in order, so a
//! connection holds at most `max_header_bytes` of request and the one page
//! it is sending: the server's memory stays under `max_connections` times
//! (16 KiB plus a page) whatever its clients send.
//!
//! Dropping the [`Server`] stops accepting, aborts every connection whatever
//! state its client left it in, waits at most half a second for a page
//! being rendered, and joins the thread: it returns well within a second.
//!
//! # On a server of your own
//!
//! [`render_metrics`] and [`render_debug_json`] return the two bodies, to
//! mount on a router you already run (with its own limits); render them
//! off your async workers (`spawn_blocking`). The crate's
//! `examples/mount_on_axum.rs` mounts both on an axum router.

use std::convert::Infallible;
use std::fmt;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::thread::JoinHandle;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper::header::{self, HeaderValue};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use metrics_exporter_prometheus::PrometheusBuilder;
use serde::Serialize;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{oneshot, Semaphore};
use tokio::time::{sleep_until, Instant, Sleep};

use crate::registry::Registry;

/// The content type of `/metrics`: Prometheus text exposition 0.0.4.
const METRICS_CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";
/// Threads rendering pages at most (the runtime's blocking pool).
const RENDER_THREADS: usize = 2;
/// Connections over the cap being answered 503 at once, at most.
const MAX_REFUSING: usize = 64;
/// Each timeout of a refused connection, and its whole life twice that.
const REFUSE_TIMEOUT: Duration = Duration::from_secs(1);
/// How long dropping a [`Server`] waits for a page being rendered.
const SHUTDOWN_GRACE: Duration = Duration::from_millis(500);
/// The pause after an accept error such as running out of file descriptors.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(50);
/// The smallest `max_buf_size` hyper accepts.
const MIN_HEADER_BYTES: usize = 8 * 1024;
/// Longer timeouts are taken as this (a deadline must fit an `Instant`).
const MAX_TIMEOUT: Duration = Duration::from_secs(365 * 24 * 60 * 60);

/// The limits of a [`serve_with`] server. Build one with struct update
/// syntax: `Options { max_connections: 16, ..Options::default() }`.
///
/// [`serve_with`] refuses (with [`io::ErrorKind::InvalidInput`]) a zero
/// `max_connections`, a zero timeout, or `max_header_bytes` under 8 KiB.
/// A timeout over a year is taken as a year.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Options {
    /// Connections open at once, at most. Default 256. One more is
    /// answered `503 Service Unavailable` and closed (see the module docs);
    /// each connection holds a file descriptor, so keep this under the
    /// process's limit.
    pub max_connections: usize,
    /// Time for a request head to arrive whole, counted from its first byte
    /// (from the connection's opening for its first request); the
    /// connection is closed when it runs out. Default 5 s.
    pub header_read_timeout: Duration,
    /// Time a connection is kept open, after a response, waiting for the
    /// client's next request. Default 30 s.
    pub keep_alive_timeout: Duration,
    /// Time a response may wait for the socket to take a byte (a client
    /// that does not read); the connection is closed when it runs out.
    /// Default 10 s.
    pub write_timeout: Duration,
    /// Size of a request head (request line and headers) answered
    /// `431 Request Header Fields Too Large`: hyper's `max_buf_size`, so at
    /// least 8 KiB. Default 16 KiB.
    pub max_header_bytes: usize,
    /// Whether only loopback addresses may be served. Default `true`: these
    /// pages tell a lot about a process; publish them through a proxy with
    /// authentication rather than by turning this off.
    pub loopback_only: bool,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            max_connections: 256,
            header_read_timeout: Duration::from_secs(5),
            keep_alive_timeout: Duration::from_secs(30),
            write_timeout: Duration::from_secs(10),
            max_header_bytes: 16 * 1024,
            loopback_only: true,
        }
    }
}

fn invalid(message: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, message)
}

impl Options {
    fn check(&self, addr: SocketAddr) -> io::Result<()> {
        if self.loopback_only && !addr.ip().is_loopback() {
            return Err(invalid(format!(
                "gomap-govern serves on loopback addresses only, not {addr} \
                 (see http::Options::loopback_only)"
            )));
        }
        if self.max_connections == 0 || self.max_connections > Semaphore::MAX_PERMITS {
            return Err(invalid(format!(
                "http::Options::max_connections must be between 1 and {}, not {}",
                Semaphore::MAX_PERMITS,
                self.max_connections
            )));
        }
        for (name, value) in [
            ("header_read_timeout", self.header_read_timeout),
            ("keep_alive_timeout", self.keep_alive_timeout),
            ("write_timeout", self.write_timeout),
        ] {
            if value.is_zero() {
                return Err(invalid(format!("http::Options::{name} must not be zero")));
            }
        }
        if self.max_header_bytes < MIN_HEADER_BYTES {
            return Err(invalid(format!(
                "http::Options::max_header_bytes must be at least {MIN_HEADER_BYTES}, not {}",
                self.max_header_bytes
            )));
        }
        Ok(())
    }
}

/// A running server (see the module docs); dropping it stops it, within a
/// second whatever its clients are doing.
pub struct Server {
    addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl Server {
    /// The address it listens on (useful after binding port 0).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }
}

impl fmt::Debug for Server {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Server").field("addr", &self.addr).finish()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        // The thread's `block_on` returns when the sender goes, then it
        // drops the runtime, and with it the listener and every connection.
        drop(self.stop.take());
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Serves `registry` on `addr` with the default [`Options`]: see the module
/// docs for what it answers and its limits. `addr` must be a loopback
/// address; port 0 picks a free port (see [`Server::addr`]).
pub fn serve(registry: &Registry, addr: SocketAddr) -> io::Result<Server> {
    serve_with(registry, addr, Options::default())
}

/// Serves `registry` on `addr` within the limits of `options`. Fails with
/// [`io::ErrorKind::InvalidInput`] on options it cannot honour (see
/// [`Options`]) or a non-loopback `addr` while
/// [`Options::loopback_only`] is set, and with the operating system's error
/// when `addr` cannot be bound.
pub fn serve_with(registry: &Registry, addr: SocketAddr, options: Options) -> io::Result<Server> {
    options.check(addr)?;
    let listener = std::net::TcpListener::bind(addr)?;
    listener.set_nonblocking(true)?;
    let addr = listener.local_addr()?;
    let shared = Arc::new(Shared {
        registry: registry.clone(),
        open: Arc::new(Semaphore::new(options.max_connections)),
        refusing: Arc::new(Semaphore::new(MAX_REFUSING)),
        options,
    });
    // The runtime is built, run and dropped on the server's own thread: a
    // caller inside an async runtime (a `#[tokio::main]` service) must not
    // drop one, even on an error path. The thread reports whether it is up.
    let (stop, stopped) = oneshot::channel::<()>();
    let (ready, up) = std::sync::mpsc::sync_channel::<io::Result<()>>(1);
    let thread = std::thread::Builder::new()
        .name("gomap-http".into())
        .spawn(move || {
            let started = tokio::runtime::Builder::new_current_thread()
                .enable_io()
                .enable_time()
                .max_blocking_threads(RENDER_THREADS)
                .thread_name("gomap-http-render")
                .build()
                .and_then(|runtime| {
                    let listener = {
                        let _in_runtime = runtime.enter();
                        TcpListener::from_std(listener)
                    };
                    match listener {
                        Ok(listener) => Ok((runtime, listener)),
                        Err(e) => {
                            runtime.shutdown_background();
                            Err(e)
                        }
                    }
                });
            let (runtime, listener) = match started {
                Ok(up) => up,
                Err(e) => {
                    let _ = ready.send(Err(e));
                    return;
                }
            };
            let _ = ready.send(Ok(()));
            runtime.spawn(accept(listener, shared));
            // Until the `Server` drops its sender.
            let _ = runtime.block_on(stopped);
            // Drops every task (the listener, each connection) at its next
            // await point, which is now: none of them blocks.
            runtime.shutdown_timeout(SHUTDOWN_GRACE);
        })?;
    let server = Server {
        addr,
        stop: Some(stop),
        thread: Some(thread),
    };
    match up.recv() {
        Ok(Ok(())) => Ok(server),
        Ok(Err(e)) => Err(e),
        Err(_) => Err(io::Error::other(
            "the gomap-http thread ended while starting",
        )),
    }
}

/// The Prometheus text of every `gomap_*` series now: a fresh recorder
/// filled by [`Registry::export_metrics`], so a dropped map has no series.
/// Serve it as `text/plain; version=0.0.4; charset=utf-8`.
pub fn render_metrics(registry: &Registry) -> String {
    let recorder = PrometheusBuilder::new().build_recorder();
    metrics::with_local_recorder(&recorder, || registry.export_metrics());
    recorder.handle().render()
}

/// The JSON of `/debug/maps`: `{ "totals": ..., "health": ..., "maps":
/// [...], "events": [...] }` from [`Registry::totals`],
/// [`Registry::health`], [`Registry::maps`] and [`Registry::events`].
/// Serve it as `application/json`.
pub fn render_debug_json(registry: &Registry) -> String {
    #[derive(Serialize)]
    struct DebugMaps<T, H, M, E> {
        totals: T,
        health: H,
        maps: M,
        events: E,
    }
    let body = DebugMaps {
        totals: registry.totals(),
        health: registry.health(),
        maps: registry.maps(),
        events: registry.events(),
    };
    serde_json::to_string_pretty(&body).unwrap_or_else(|e| {
        serde_json::json!({ "error": format!("cannot encode the registry: {e}") }).to_string()
    })
}

/// What every connection task of one server shares.
struct Shared {
    registry: Registry,
    options: Options,
    /// One permit per open connection.
    open: Arc<Semaphore>,
    /// One permit per connection being answered 503.
    refusing: Arc<Semaphore>,
}

async fn accept(listener: TcpListener, shared: Arc<Shared>) {
    loop {
        let stream = match listener.accept().await {
            Ok((stream, _)) => stream,
            Err(e) => {
                if !matches!(
                    e.kind(),
                    io::ErrorKind::ConnectionAborted
                        | io::ErrorKind::ConnectionReset
                        | io::ErrorKind::Interrupted
                ) {
                    // Out of file descriptors, say: wait for some to close
                    // rather than spin.
                    tracing::debug!(error = %e, "gomap-http: accept failed");
                    tokio::time::sleep(ACCEPT_BACKOFF).await;
                }
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        if let Ok(permit) = shared.open.clone().try_acquire_owned() {
            let shared = shared.clone();
            tokio::spawn(async move {
                serve_connection(stream, &shared, false).await;
                drop(permit);
            });
        } else if let Ok(permit) = shared.refusing.clone().try_acquire_owned() {
            let shared = shared.clone();
            tokio::spawn(async move {
                let _ = tokio::time::timeout(
                    2 * REFUSE_TIMEOUT,
                    serve_connection(stream, &shared, true),
                )
                .await;
                drop(permit);
            });
        }
        // Else the stream drops here: closed without a word.
    }
}

/// Serves one connection until it closes, fails or times out; with
/// `refuse`, answers its one request 503.
async fn serve_connection(stream: TcpStream, shared: &Arc<Shared>, refuse: bool) {
    let options = &shared.options;
    let cap = if refuse { REFUSE_TIMEOUT } else { MAX_TIMEOUT };
    let limits = Limits {
        header: options.header_read_timeout.min(cap),
        keep_alive: options.keep_alive_timeout.min(cap),
        write: options.write_timeout.min(cap),
    };
    let requests = Arc::new(AtomicU64::new(0));
    let io = TokioIo::new(Guarded::new(stream, limits, requests.clone()));
    let service = service_fn(move |request: Request<hyper::body::Incoming>| {
        let answering = Answering::start(&requests);
        let registry = shared.registry.clone();
        async move {
            let response = if refuse {
                refused()
            } else {
                respond(registry, &request).await
            };
            drop(answering);
            Ok::<_, Infallible>(response)
        }
    });
    let result = http1::Builder::new()
        .keep_alive(!refuse)
        .max_buf_size(options.max_header_bytes)
        // `Guarded` keeps the header timeout: hyper's would also close
        // connections idle between requests.
        .header_read_timeout(None)
        .serve_connection(io, service)
        .await;
    if let Err(e) = result {
        tracing::debug!(error = %e, "gomap-http: connection closed");
    }
}

/// Counts a request as answered (odd counts) while it lives: [`Guarded`]
/// reads the count to know whether the connection is busy.
struct Answering(Arc<AtomicU64>);

impl Answering {
    fn start(requests: &Arc<AtomicU64>) -> Answering {
        requests.fetch_add(1, Relaxed);
        Answering(requests.clone())
    }
}

impl Drop for Answering {
    fn drop(&mut self) {
        self.0.fetch_add(1, Relaxed);
    }
}

fn text(status: StatusCode, body: impl Into<Bytes>) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(body.into()));
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    response
}

fn refused() -> Response<Full<Bytes>> {
    let mut response = text(
        StatusCode::SERVICE_UNAVAILABLE,
        "too many connections: try again later\n",
    );
    let headers = response.headers_mut();
    headers.insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
    headers.insert(header::CONNECTION, HeaderValue::from_static("close"));
    response
}

async fn respond(
    registry: Registry,
    request: &Request<hyper::body::Incoming>,
) -> Response<Full<Bytes>> {
    if request.method() != Method::GET && request.method() != Method::HEAD {
        let mut response = text(
            StatusCode::METHOD_NOT_ALLOWED,
            "method not allowed: only GET and HEAD\n",
        );
        response
            .headers_mut()
            .insert(header::ALLOW, HeaderValue::from_static("GET, HEAD"));
        return response;
    }
    let (render, content_type): (fn(&Registry) -> String, _) = match request.uri().path() {
        "/metrics" => (render_metrics, METRICS_CONTENT_TYPE),
        "/debug/maps" => (render_debug_json, "application/json"),
        _ => {
            return text(
                StatusCode::NOT_FOUND,
                "not found: try /metrics or /debug/maps\n",
            )
        }
    };
    // CPU work: on the (capped) blocking pool, not this connection thread.
    match tokio::task::spawn_blocking(move || render(&registry)).await {
        Ok(body) => {
            let mut response = Response::new(Full::new(Bytes::from(body)));
            response
                .headers_mut()
                .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
            response
        }
        Err(e) => text(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("cannot render the page: {e}\n"),
        ),
    }
}

/// The timeouts of one connection.
#[derive(Clone, Copy)]
struct Limits {
    header: Duration,
    keep_alive: Duration,
    write: Duration,
}

/// Where a connection is between requests, for its read deadline.
#[derive(Clone, Copy)]
enum Phase {
    /// Reading a request head: it must be whole by this deadline.
    Head(Instant),
    /// A request is being answered: no read deadline (hyper still reads,
    /// to see the client leave or take its next request).
    Busy {
        /// Whether bytes of a next request came meanwhile.
        early: bool,
    },
    /// Waiting for the next request until this deadline.
    Idle(Instant),
}

/// A connection's socket that enforces its deadlines: reads fail with
/// `TimedOut` once the header or keep-alive deadline passes (see
/// [`Phase`]), writes once the socket has taken no byte for the write
/// timeout. hyper then closes the connection.
struct Guarded {
    tcp: TcpStream,
    limits: Limits,
    /// Requests started and finished (odd while one is being answered).
    requests: Arc<AtomicU64>,
    seen: u64,
    phase: Phase,
    read_sleep: Pin<Box<Sleep>>,
    /// When a blocked write gives up.
    write_deadline: Option<Instant>,
    write_sleep: Pin<Box<Sleep>>,
}

impl Guarded {
    fn new(tcp: TcpStream, limits: Limits, requests: Arc<AtomicU64>) -> Guarded {
        let now = Instant::now();
        let head_deadline = now + limits.header;
        Guarded {
            tcp,
            limits,
            requests,
            seen: 0,
            phase: Phase::Head(head_deadline),
            read_sleep: Box::pin(sleep_until(head_deadline)),
            write_deadline: None,
            write_sleep: Box::pin(sleep_until(now + limits.write)),
        }
    }

    /// Follows the requests the service started and finished since.
    fn sync(&mut self) {
        let requests = self.requests.load(Relaxed);
        if requests == self.seen {
            return;
        }
        self.seen = requests;
        self.phase = if requests % 2 == 1 {
            Phase::Busy { early: false }
        } else {
            let now = Instant::now();
            match self.phase {
                // The next request has begun: its head has the header
                // timeout from now.
                Phase::Busy { early: true } => Phase::Head(now + self.limits.header),
                _ => Phase::Idle(now + self.limits.keep_alive),
            }
        };
    }

    fn wrote(&mut self) {
        self.write_deadline = None;
        if let Phase::Idle(_) = self.phase {
            // Still sending the last response: not idle yet.
            self.phase = Phase::Idle(Instant::now() + self.limits.keep_alive);
        }
    }

    fn write_blocked<T>(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<T>> {
        let write = self.limits.write;
        let deadline = *self
            .write_deadline
            .get_or_insert_with(|| Instant::now() + write);
        if expired(&mut self.write_sleep, deadline, cx) {
            Poll::Ready(Err(io::Error::new(
                io::ErrorKind::TimedOut,
                "the client took no byte of the response within the write timeout",
            )))
        } else {
            Poll::Pending
        }
    }

    fn after_write<T>(
        &mut self,
        cx: &mut Context<'_>,
        poll: Poll<io::Result<T>>,
    ) -> Poll<io::Result<T>> {
        let poll = match poll {
            Poll::Pending => self.write_blocked(cx),
            ready => {
                self.wrote();
                ready
            }
        };
        self.arm_read_deadline(cx);
        poll
    }

    /// Makes sure the task wakes at the read deadline. hyper polls the
    /// socket for the next request only when woken once it has sent a
    /// response, so the deadline must wake it even if no byte comes.
    fn arm_read_deadline(&mut self, cx: &mut Context<'_>) {
        if let Phase::Head(deadline) | Phase::Idle(deadline) = self.phase {
            if expired(&mut self.read_sleep, deadline, cx) {
                cx.waker().wake_by_ref();
            }
        }
    }
}

/// Whether `deadline` has passed; if not, wakes the task when it does.
fn expired(sleep: &mut Pin<Box<Sleep>>, deadline: Instant, cx: &mut Context<'_>) -> bool {
    if sleep.deadline() != deadline {
        sleep.as_mut().reset(deadline);
    }
    sleep.as_mut().poll(cx).is_ready()
}

impl AsyncRead for Guarded {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        this.sync();
        let before = buf.filled().len();
        match Pin::new(&mut this.tcp).poll_read(cx, buf) {
            Poll::Ready(Ok(())) => {
                if buf.filled().len() > before {
                    match this.phase {
                        Phase::Idle(_) => {
                            this.phase = Phase::Head(Instant::now() + this.limits.header)
                        }
                        Phase::Busy { .. } => this.phase = Phase::Busy { early: true },
                        Phase::Head(_) => {}
                    }
                }
                Poll::Ready(Ok(()))
            }
            Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
            Poll::Pending => {
                let (deadline, what) = match this.phase {
                    Phase::Busy { .. } => return Poll::Pending,
                    Phase::Head(deadline) => (
                        deadline,
                        "no whole request head within the header read timeout",
                    ),
                    Phase::Idle(deadline) => (deadline, "no request within the keep-alive timeout"),
                };
                if expired(&mut this.read_sleep, deadline, cx) {
                    Poll::Ready(Err(io::Error::new(io::ErrorKind::TimedOut, what)))
                } else {
                    Poll::Pending
                }
            }
        }
    }
}

impl AsyncWrite for Guarded {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        this.sync();
        let poll = Pin::new(&mut this.tcp).poll_write(cx, buf);
        this.after_write(cx, poll)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        this.sync();
        let poll = Pin::new(&mut this.tcp).poll_write_vectored(cx, bufs);
        this.after_write(cx, poll)
    }

    fn is_write_vectored(&self) -> bool {
        self.tcp.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let poll = Pin::new(&mut this.tcp).poll_flush(cx);
        this.after_write(cx, poll)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let poll = Pin::new(&mut this.tcp).poll_shutdown(cx);
        this.after_write(cx, poll)
    }
}
