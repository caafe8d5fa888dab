//! Hostile clients against `http::serve` (feature `http`): pipeliners that
//! never read, huge headers, crowds of idle connections, slow-loris
//! clients. Each must not stall anyone else, nor make the server grow
//! threads or memory, nor keep a dropped `Server` from returning.
//!
//! Its own test binary, so that its thread counts see no other test's
//! threads; its tests run one at a time (`SERIAL`). Every client talks to
//! 127.0.0.1 only, and every loop is bounded in count and time. Threads
//! and memory are read from `/proc/self` (Linux).
#![cfg(feature = "http")]

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::{mpsc, Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use gomap_govern::http::{self, Options};
use gomap_govern::{Governed, Registry};

static SERIAL: Mutex<()> = Mutex::new(());

fn serial() -> MutexGuard<'static, ()> {
    SERIAL
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn loopback() -> SocketAddr {
    "127.0.0.1:0".parse().unwrap()
}

/// A registry with one map, `sessions`, kept alive by the returned map.
fn registry_with_sessions() -> (Registry, Governed<u64, u64>) {
    let registry = Registry::new();
    let mut sessions: Governed<u64, u64> =
        Governed::builder("sessions").registry(&registry).build();
    sessions.extend((0..100).map(|i| (i, i)));
    (registry, sessions)
}

/// The status of `GET http://addr/metrics`, and its body.
fn scrape(addr: SocketAddr) -> Result<(u16, String), String> {
    let agent = ureq::AgentBuilder::new()
        .timeout(Duration::from_secs(10))
        .build();
    match agent.get(&format!("http://{addr}/metrics")).call() {
        Ok(r) => Ok((r.status(), r.into_string().map_err(|e| e.to_string())?)),
        Err(ureq::Error::Status(code, r)) => Ok((code, r.into_string().unwrap_or_default())),
        Err(e) => Err(e.to_string()),
    }
}

fn scrape_ok(addr: SocketAddr) -> String {
    match scrape(addr) {
        Ok((200, body)) => {
            assert!(body.contains("map=\"sessions\""), "{body}");
            body
        }
        other => panic!("scrape of {addr}: {other:?}"),
    }
}

/// Threads of this process now.
fn threads() -> usize {
    std::fs::read_dir("/proc/self/task").unwrap().count()
}

/// Resident memory of this process now, in bytes.
fn rss() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status.lines().find(|l| l.starts_with("VmRSS:")).unwrap();
    let kib: u64 = line.split_whitespace().nth(1).unwrap().parse().unwrap();
    kib * 1024
}

/// A raw connection whose reads and writes give up after 10 s.
fn connect(addr: SocketAddr) -> TcpStream {
    let stream = TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    stream
        .set_write_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    stream
}

const GET_METRICS: &[u8] = b"GET /metrics HTTP/1.1\r\nHost: gomap\r\n\r\n";

/// How a connection ended, seen by a client reading it to the end.
#[derive(Debug, PartialEq)]
enum End {
    /// EOF or reset: the server closed it.
    Closed,
    /// Still open after the wait.
    Open,
}

/// Reads (and throws away) until the server closes the connection or
/// `within` passes; also gives the bytes read.
fn read_to_close(stream: &mut TcpStream, within: Duration) -> (End, usize) {
    let deadline = Instant::now() + within;
    let mut buf = vec![0; 64 * 1024];
    let mut total = 0;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return (End::Open, total);
        }
        stream.set_read_timeout(Some(left)).unwrap();
        match stream.read(&mut buf) {
            Ok(0) => return (End::Closed, total),
            Ok(n) => total += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) =>
            {
                return (End::Open, total)
            }
            // Reset, aborted: closed with bytes of ours unread.
            Err(_) => return (End::Closed, total),
        }
    }
}

/// Reads one response on a keep-alive connection: its status and body.
fn read_response(reader: &mut BufReader<TcpStream>) -> io::Result<(u16, Vec<u8>)> {
    let mut line = String::new();
    reader.read_line(&mut line)?;
    let status: u16 = line
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| io::Error::other(format!("no status line: {line:?}")))?;
    let mut length = 0;
    for _ in 0..100 {
        line.clear();
        reader.read_line(&mut line)?;
        if line == "\r\n" {
            let mut body = vec![0; length];
            reader.read_exact(&mut body)?;
            return Ok((status, body));
        }
        if let Some((name, value)) = line.split_once(':') {
            if name.eq_ignore_ascii_case("content-length") {
                length = value.trim().parse().map_err(io::Error::other)?;
            }
        }
    }
    Err(io::Error::other("too many header lines"))
}

/// Runs `f` on a thread; the receiver gets its result.
fn in_thread<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> mpsc::Receiver<T> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(f());
    });
    rx
}

#[test]
fn a_pipeliner_that_never_reads_stalls_no_one_and_drop_still_returns() {
    let _serial = serial();
    let (registry, _sessions) = registry_with_sessions();
    let server = http::serve(&registry, loopback()).unwrap();
    let addr = server.addr();

    let mut hostile = connect(addr);
    let requests: Vec<u8> = GET_METRICS.repeat(5_000);
    let writer = {
        let mut hostile = hostile.try_clone().unwrap();
        // Blocks once the server stops reading (it cannot send the answers),
        // so on its own thread; ends when the server closes the connection.
        in_thread(move || hostile.write_all(&requests))
    };
    // Give the server time to fill the pipe (or the writer to finish: the
    // sockets' buffers may take all 5 000 requests).
    let written = writer.recv_timeout(Duration::from_millis(500)).ok();

    // Everyone else is served meanwhile.
    for _ in 0..5 {
        scrape_ok(addr);
    }

    let start = Instant::now();
    drop(server);
    let took = start.elapsed();
    assert!(
        took < Duration::from_secs(2),
        "dropping the server took {took:?}"
    );
    // The server's end is gone: the hostile client sees its connection end.
    assert_eq!(
        read_to_close(&mut hostile, Duration::from_secs(10)).0,
        End::Closed
    );
    if written.is_none() {
        writer
            .recv_timeout(Duration::from_secs(10))
            .expect("the writer ends once the connection is closed")
            .ok();
    }
}

#[test]
fn a_huge_header_gets_431_and_memory_stays_bounded() {
    let _serial = serial();
    let (registry, _sessions) = registry_with_sessions();
    let server = http::serve(&registry, loopback()).unwrap();
    let addr = server.addr();

    let mut request = b"GET /metrics HTTP/1.1\r\nHost: gomap\r\nX-Huge: ".to_vec();
    request.resize(request.len() + (1 << 20), b'a');
    request.extend_from_slice(b"\r\n\r\n");
    let request = Arc::new(request);
    let before = rss();
    for _ in 0..8 {
        let stream = connect(addr);
        let writer = {
            let mut stream = stream.try_clone().unwrap();
            let request = request.clone();
            // The server stops reading at 16 KiB: this write fails or
            // blocks until the server closes, so it is off this thread.
            in_thread(move || stream.write_all(&request))
        };
        let mut status = String::new();
        BufReader::new(stream).read_line(&mut status).unwrap();
        assert!(status.starts_with("HTTP/1.1 431 "), "{status:?}");
        // Done, whether the sockets' buffers took the whole megabyte or
        // the server's close cut it short.
        writer
            .recv_timeout(Duration::from_secs(10))
            .expect("the writer ends once the connection is closed")
            .ok();
    }
    let grew = rss().saturating_sub(before);
    assert!(grew < 64 << 20, "memory grew by {grew} bytes");

    // A big header under the cap is fine, and the server still serves.
    let agent = ureq::AgentBuilder::new()
        .timeout(Duration::from_secs(10))
        .build();
    let response = agent
        .get(&format!("http://{addr}/metrics"))
        .set("X-Big", &"b".repeat(8 * 1024))
        .call()
        .unwrap();
    assert_eq!(response.status(), 200);
    scrape_ok(addr);
}

#[test]
fn two_hundred_idle_connections_block_no_scrape_nor_add_threads() {
    let _serial = serial();
    let baseline = threads();
    let (registry, _sessions) = registry_with_sessions();
    // Long timeouts: the connections stay open through the test.
    let options = Options {
        header_read_timeout: Duration::from_secs(60),
        ..Options::default()
    };
    let server = http::serve_with(&registry, loopback(), options).unwrap();
    let addr = server.addr();

    let mut idle: Vec<TcpStream> = (0..200).map(|_| connect(addr)).collect();
    // Half of them start a request and stop.
    for stream in idle.iter_mut().step_by(2) {
        stream.write_all(b"GET /metrics HTTP/1.1\r\n").unwrap();
    }
    for _ in 0..5 {
        scrape_ok(addr);
        let now = threads();
        assert!(
            now <= baseline + 4,
            "{now} threads, {baseline} before serving"
        );
    }

    let start = Instant::now();
    drop(server);
    let took = start.elapsed();
    assert!(
        took < Duration::from_secs(2),
        "dropping the server took {took:?}"
    );
    let (end, _) = read_to_close(&mut idle[1], Duration::from_secs(10));
    assert_eq!(end, End::Closed);
}

#[test]
fn over_the_connection_cap_new_connections_get_503_until_one_closes() {
    let _serial = serial();
    let (registry, _sessions) = registry_with_sessions();
    let options = Options {
        max_connections: 2,
        header_read_timeout: Duration::from_secs(60),
        ..Options::default()
    };
    let server = http::serve_with(&registry, loopback(), options).unwrap();
    let addr = server.addr();

    // Accepted in order: these two take both slots.
    let first = connect(addr);
    let _second = connect(addr);
    let agent = ureq::AgentBuilder::new()
        .timeout(Duration::from_secs(10))
        .build();
    match agent.get(&format!("http://{addr}/metrics")).call() {
        Err(ureq::Error::Status(503, response)) => {
            assert_eq!(response.header("retry-after"), Some("1"));
        }
        other => panic!("expected 503, got {other:?}"),
    }

    // A slot frees when a connection closes.
    drop(first);
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        match scrape(addr) {
            Ok((200, _)) => break,
            Ok((503, _)) if Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(50))
            }
            other => panic!("scrape after a slot freed: {other:?}"),
        }
    }
}

#[test]
fn a_slow_loris_is_closed_after_the_header_timeout() {
    let _serial = serial();
    let (registry, _sessions) = registry_with_sessions();
    let options = Options {
        header_read_timeout: Duration::from_millis(500),
        ..Options::default()
    };
    let server = http::serve_with(&registry, loopback(), options).unwrap();
    let addr = server.addr();

    // A partial head, then nothing.
    let mut partial = connect(addr);
    partial
        .write_all(b"GET /metrics HTTP/1.1\r\nHost: go")
        .unwrap();
    let start = Instant::now();
    let (end, _) = read_to_close(&mut partial, Duration::from_secs(10));
    assert_eq!(end, End::Closed);
    assert!(
        start.elapsed() < Duration::from_secs(5),
        "{:?}",
        start.elapsed()
    );

    // Nothing at all.
    let mut silent = connect(addr);
    let start = Instant::now();
    assert_eq!(
        read_to_close(&mut silent, Duration::from_secs(10)).0,
        End::Closed
    );
    assert!(
        start.elapsed() < Duration::from_secs(5),
        "{:?}",
        start.elapsed()
    );

    // A byte every 100 ms: each read is quick, the head never whole.
    let mut trickle = connect(addr);
    let start = Instant::now();
    let trickler = {
        let mut trickle = trickle.try_clone().unwrap();
        in_thread(move || {
            trickle.write_all(b"GET /metrics HTTP/1.1\r\nX-Slow: ")?;
            for _ in 0..100 {
                trickle.write_all(b"a")?;
                std::thread::sleep(Duration::from_millis(100));
            }
            Ok::<(), io::Error>(())
        })
    };
    assert_eq!(
        read_to_close(&mut trickle, Duration::from_secs(10)).0,
        End::Closed
    );
    assert!(
        start.elapsed() < Duration::from_secs(5),
        "{:?}",
        start.elapsed()
    );
    trickler
        .recv_timeout(Duration::from_secs(15))
        .unwrap()
        .expect_err("the server closed the connection");

    scrape_ok(addr);
}

#[test]
fn idle_keep_alive_connections_live_by_their_own_timeout() {
    let _serial = serial();
    let (registry, _sessions) = registry_with_sessions();

    // Idle between requests for longer than the header timeout: still open.
    let options = Options {
        header_read_timeout: Duration::from_millis(300),
        keep_alive_timeout: Duration::from_secs(30),
        ..Options::default()
    };
    let server = http::serve_with(&registry, loopback(), options).unwrap();
    let stream = connect(server.addr());
    let mut writer = stream.try_clone().unwrap();
    let mut reader = BufReader::new(stream);
    for _ in 0..2 {
        writer.write_all(GET_METRICS).unwrap();
        let (status, body) = read_response(&mut reader).unwrap();
        assert_eq!(status, 200);
        assert!(String::from_utf8_lossy(&body).contains("map=\"sessions\""));
        std::thread::sleep(Duration::from_secs(1));
    }
    drop(server);

    // Past the keep-alive timeout: closed.
    let options = Options {
        keep_alive_timeout: Duration::from_millis(300),
        ..Options::default()
    };
    let server = http::serve_with(&registry, loopback(), options).unwrap();
    let mut stream = connect(server.addr());
    stream.write_all(GET_METRICS).unwrap();
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    assert_eq!(read_response(&mut reader).unwrap().0, 200);
    assert!(reader.buffer().is_empty());
    let start = Instant::now();
    assert_eq!(
        read_to_close(&mut stream, Duration::from_secs(10)).0,
        End::Closed
    );
    assert!(
        start.elapsed() < Duration::from_secs(5),
        "{:?}",
        start.elapsed()
    );
}

#[test]
fn a_client_that_never_reads_is_closed_after_the_write_timeout() {
    let _serial = serial();
    // Enough maps that the answers to the pipelined requests cannot all
    // sit in the sockets' buffers.
    let registry = Registry::new();
    let _maps: Vec<Governed<u64, u64>> = (0..300)
        .map(|i| {
            let mut map = Governed::builder(format!("map-{i}"))
                .registry(&registry)
                .build();
            map.insert(i, i);
            map
        })
        .collect();
    let page = http::render_metrics(&registry).len();
    let count = ((256 << 20) / page).clamp(16, 5_000);
    let options = Options {
        // One slot: while the hostile client holds it, scrapes get 503.
        max_connections: 1,
        write_timeout: Duration::from_millis(500),
        header_read_timeout: Duration::from_secs(60),
        keep_alive_timeout: Duration::from_secs(60),
        ..Options::default()
    };
    let server = http::serve_with(&registry, loopback(), options).unwrap();
    let addr = server.addr();

    let mut hostile = connect(addr);
    let writer = {
        let mut hostile = hostile.try_clone().unwrap();
        let requests = GET_METRICS.repeat(count);
        in_thread(move || hostile.write_all(&requests))
    };

    // The slot frees once the write timeout closes the hostile connection.
    let start = Instant::now();
    let deadline = start + Duration::from_secs(20);
    loop {
        match scrape(addr) {
            Ok((200, _)) => break,
            Ok((503, _)) if Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(100))
            }
            other => panic!("scrape while a client does not read: {other:?}"),
        }
    }
    // Closed before the server could answer every request.
    let (end, read) = read_to_close(&mut hostile, Duration::from_secs(10));
    assert_eq!(end, End::Closed);
    assert!(
        read < count * page,
        "read {read} bytes of {count} pages of {page}"
    );
    let _ = writer.recv_timeout(Duration::from_secs(10));
}

#[test]
fn bad_options_are_refused_with_invalid_input() {
    let _serial = serial();
    let registry = Registry::new();
    let bad = [
        Options {
            max_connections: 0,
            ..Options::default()
        },
        Options {
            header_read_timeout: Duration::ZERO,
            ..Options::default()
        },
        Options {
            keep_alive_timeout: Duration::ZERO,
            ..Options::default()
        },
        Options {
            write_timeout: Duration::ZERO,
            ..Options::default()
        },
        Options {
            max_connections: usize::MAX,
            ..Options::default()
        },
        Options {
            max_header_bytes: 0,
            ..Options::default()
        },
        Options {
            max_header_bytes: 8 * 1024 - 1,
            ..Options::default()
        },
    ];
    for options in bad {
        let err = http::serve_with(&registry, loopback(), options.clone())
            .err()
            .unwrap_or_else(|| panic!("{options:?} accepted"));
        assert_eq!(
            err.kind(),
            io::ErrorKind::InvalidInput,
            "{options:?}: {err}"
        );
        assert!(err.to_string().contains("http::Options::"), "{err}");
    }
    let err = http::serve_with(
        &registry,
        "192.0.2.1:0".parse().unwrap(),
        Options::default(),
    )
    .expect_err("not loopback");
    assert_eq!(err.kind(), io::ErrorKind::InvalidInput);
    // The smallest legal options serve.
    let tight = Options {
        max_connections: 1,
        header_read_timeout: Duration::from_millis(1),
        keep_alive_timeout: Duration::from_millis(1),
        write_timeout: Duration::from_millis(1),
        max_header_bytes: 8 * 1024,
        loopback_only: true,
    };
    drop(http::serve_with(&registry, loopback(), tight).unwrap());
    // And the largest: no deadline overflows.
    let (registry, _sessions) = registry_with_sessions();
    let loose = Options {
        max_connections: 1 << 20,
        header_read_timeout: Duration::MAX,
        keep_alive_timeout: Duration::MAX,
        write_timeout: Duration::MAX,
        max_header_bytes: usize::MAX,
        loopback_only: false,
    };
    let server = http::serve_with(&registry, loopback(), loose).unwrap();
    scrape_ok(server.addr());
}
