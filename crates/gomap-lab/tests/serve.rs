//! `gomap-lab serve` as a user meets it: it says what it serves and, when
//! it stops (after `--duration` or on SIGTERM), what happened, and exits 0;
//! a closed stdout does not make it panic; a hostile client (one that
//! pipelines requests and never reads the replies) neither stops other
//! scrapes nor keeps the process from ending. Loopback only, bounded waits.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

mod common;
use common::free_port;

/// One plain `GET /metrics`, read to the end: the status line.
fn scrape(port: u16) -> std::io::Result<String> {
    let mut stream = TcpStream::connect(("127.0.0.1", port))?;
    stream.set_read_timeout(Some(Duration::from_secs(30)))?;
    stream.write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")?;
    let mut body = String::new();
    stream.read_to_string(&mut body)?;
    Ok(body.lines().next().unwrap_or_default().to_string())
}

#[test]
fn serve_stops_after_its_duration_despite_a_client_that_never_reads() {
    let port = free_port();
    let mut child = Command::new(env!("CARGO_BIN_EXE_gomap-lab"))
        .args(["serve", "--port", &port.to_string(), "--duration", "6"])
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    while scrape(port).is_err() {
        assert!(Instant::now() < deadline, "serve never answered");
        std::thread::sleep(Duration::from_millis(100));
    }

    // Pipeline 5 000 scrapes and never read a byte of the answers.
    let mut hostile = TcpStream::connect(("127.0.0.1", port)).unwrap();
    hostile
        .set_write_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let request = b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n";
    for _ in 0..5_000 {
        if hostile.write_all(request).is_err() {
            break; // the server stopped reading us: fine
        }
    }

    // Another client is served meanwhile.
    assert_eq!(scrape(port).unwrap(), "HTTP/1.1 200 OK");

    // And the process ends by itself once its duration is up.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            assert!(status.success(), "{status}");
            break;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("serve did not stop after --duration with a hostile client connected");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    drop(hostile);
}

/// Waits for `child` to end, killing it after `secs`.
fn wait_at_most(child: &mut std::process::Child, secs: u64) -> std::process::ExitStatus {
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("serve did not end within {secs} s");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn read_all(pipe: Option<impl Read>) -> String {
    let mut text = String::new();
    if let Some(mut pipe) = pipe {
        pipe.read_to_string(&mut text).unwrap();
    }
    text
}

/// What `serve` prints when it starts and when it stops: the URLs, the
/// maps, how to start Prometheus, then the run's summary.
fn assert_says_what_it_serves_and_what_happened(out: &str, port: u16, config: &str) {
    for expected in [
        format!("http://127.0.0.1:{port}/metrics"),
        format!("http://127.0.0.1:{port}/debug/maps"),
        format!("prometheus --config.file={config}"),
        "stopped after".to_string(),
    ] {
        assert!(out.contains(&expected), "no {expected:?} in:\n{out}");
    }
    let summary = &out[out.find("stopped after").unwrap()..];
    for map in ["sessions", "request-contexts (leaks)", "batch"] {
        assert!(
            out[..out.len() - summary.len()].contains(map),
            "{map} not announced:\n{out}"
        );
        let line = summary
            .lines()
            .find(|l| l.trim_start().starts_with(map))
            .unwrap_or_else(|| panic!("{map} not in the summary:\n{out}"));
        assert!(line.contains("green") || line.contains("yellow"), "{line}");
    }
}

#[test]
fn serve_prints_what_it_serves_and_a_summary_when_its_duration_is_up() {
    let port = free_port();
    let mut child = common::spawn_serve(port, &["--duration", "2"]);
    let status = wait_at_most(&mut child, 60);
    let out = read_all(child.stdout.take());
    let err = read_all(child.stderr.take());
    assert!(status.success(), "{status}: {err}");
    assert_says_what_it_serves_and_what_happened(&out, port, "deploy/prometheus/prometheus.yml");
    assert!(out.contains("stopped after 2."), "{out}");
}

#[cfg(unix)]
#[test]
fn serve_stops_on_sigterm_with_its_summary_and_exit_status_0() {
    let port = free_port();
    let mut child = common::spawn_serve(port, &["--demo-fast"]);
    let deadline = Instant::now() + Duration::from_secs(60);
    while scrape(port).is_err() {
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("serve never answered");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let killed = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let status = wait_at_most(&mut child, 60);
    let out = read_all(child.stdout.take());
    let err = read_all(child.stderr.take());
    assert!(status.success(), "{status}: {err}");
    assert_says_what_it_serves_and_what_happened(
        &out,
        port,
        "deploy/prometheus/demo-fast/prometheus.yml",
    );
}

#[test]
fn serve_with_its_stdout_closed_does_not_panic() {
    let port = free_port();
    let mut child = common::spawn_serve(port, &["--duration", "2"]);
    // Like `serve | head -c 10`: the reader goes away at once.
    drop(child.stdout.take());
    let status = wait_at_most(&mut child, 60);
    let err = read_all(child.stderr.take());
    #[cfg(unix)]
    let sigpipe = std::os::unix::process::ExitStatusExt::signal(&status) == Some(13);
    #[cfg(not(unix))]
    let sigpipe = false;
    assert!(status.success() || sigpipe, "{status}: {err}");
    assert!(!err.contains("panicked"), "{err}");
}
