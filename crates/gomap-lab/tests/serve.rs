//! `gomap-lab serve` next to a hostile client: one that pipelines requests
//! and never reads the replies must neither stop other scrapes nor keep the
//! process from ending after `--duration`. Loopback only, bounded loops.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

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
