//! Shared by the test binaries that wait on a background thread.
#![allow(dead_code)]

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
