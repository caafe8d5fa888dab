//! Shared by the test binaries that wait on a background thread, or run
//! work on one to catch a deadlock.
#![allow(dead_code)]

use std::sync::mpsc;
use std::time::Duration;

/// Polls `ready` for up to a minute; fails the test if it never holds.
pub fn eventually(what: &str, ready: impl Fn() -> bool) {
    for _ in 0..6_000 {
        if ready() {
            return;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    panic!("{what}: not after a minute");
}

/// Runs `f` on its own thread and fails if it has not finished after a
/// minute: a deadlock detector, not a speed check.
pub fn finishes<T: Send + 'static>(what: &str, f: impl FnOnce() -> T + Send + 'static) -> T {
    let (tx, rx) = mpsc::channel();
    let thread = std::thread::spawn(move || {
        let _ = tx.send(f());
    });
    match rx.recv_timeout(Duration::from_secs(60)) {
        Ok(value) => {
            thread.join().unwrap();
            value
        }
        Err(mpsc::RecvTimeoutError::Disconnected) => {
            std::panic::resume_unwind(thread.join().unwrap_err())
        }
        Err(mpsc::RecvTimeoutError::Timeout) => {
            panic!("{what}: still running after a minute (deadlock?)")
        }
    }
}
