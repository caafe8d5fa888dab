//! What several of the lab's test files need.
#![allow(dead_code)]

use std::process::{Child, Command, Stdio};

/// A loopback port free right now.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// `gomap-lab serve` with `args` on `port`, its output piped.
pub fn spawn_serve(port: u16, args: &[&str]) -> Child {
    Command::new(env!("CARGO_BIN_EXE_gomap-lab"))
        .args(["serve", "--port", &port.to_string()])
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}
