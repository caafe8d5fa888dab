//! Per-operation tail latency: every single insert while growing an empty
//! map to N `u64` keys, then every single remove while emptying it, for
//! gomap and std's `HashMap` in the same run.
//!
//! std rehashes every entry at once at each doubling; gomap moves at most
//! two old buckets per write. For removals, std never shrinks by itself, so
//! its side calls `shrink_to_fit` whenever its load falls under a quarter
//! (what a std user must do by hand to give memory back); gomap shrinks
//! incrementally under `ShrinkPolicy::Auto`.
//!
//! `faults` counts the minor page faults of each phase (Linux): the first
//! touch of each fresh 4 KiB page of a new array. std takes all of its in
//! the inserts that rehash; gomap's arrive one page at a time, spread over
//! the writes that fill and migrate into the new array.
//!
//! `cargo run --release -p gomap --example latency -- [N]` (default 1e7).

use std::hint::black_box;
use std::time::Instant;

#[path = "../tests/common/keys.rs"]
mod keys;
use keys::keys;

/// Minor page faults of this process so far (Linux: field 10 of
/// `/proc/self/stat`); `None` where that cannot be read.
fn minor_faults() -> Option<u64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the command name, which is in parentheses and may hold
    // spaces: state is field 3, minflt field 10.
    let after = &stat[stat.rfind(')')? + 2..];
    after.split(' ').nth(7)?.parse().ok()
}

/// Each call of `op(i)`, for `i` in `0..n`, timed in nanoseconds; and the
/// minor page faults (first touches of fresh pages) the calls took.
fn time_each(n: usize, mut op: impl FnMut(usize)) -> (Vec<u64>, Option<u64>) {
    let mut out = Vec::with_capacity(n);
    let before = minor_faults();
    for i in 0..n {
        let start = Instant::now();
        op(i);
        out.push(start.elapsed().as_nanos() as u64);
    }
    let faults = minor_faults()
        .zip(before)
        .map(|(after, before)| after - before);
    (out, faults)
}

fn summary(name: &str, (mut ns, faults): (Vec<u64>, Option<u64>)) -> u64 {
    ns.sort_unstable();
    let at = |q: f64| ns[((ns.len() as f64 * q) as usize).min(ns.len() - 1)];
    let max = *ns.last().expect("timed something");
    let total: u64 = ns.iter().sum();
    println!(
        "| {name:<28} | {:>6} | {:>6} | {:>7} | {:>8} | {:>10} | {:>8.1} | {:>8} |",
        at(0.50),
        at(0.99),
        at(0.999),
        at(0.9999),
        max,
        total as f64 / 1e6,
        faults.map_or("n/a".to_string(), |f| f.to_string()),
    );
    max
}

fn main() {
    let n: usize = std::env::args()
        .nth(1)
        .map(|a| a.parse().expect("N must be a whole number"))
        .unwrap_or(10_000_000);
    let keys = keys(n, 0x1234_5678);
    println!("per-operation latency, ns, {n} u64 keys (total in ms)\n");
    println!("| map / phase                  |    p50 |    p99 |   p99.9 |  p99.99 |        max | total ms |   faults |");
    println!("|---|---:|---:|---:|---:|---:|---:|---:|");

    let mut std_map = std::collections::HashMap::new();
    let std_grow = summary(
        "std HashMap, insert",
        time_each(n, |i| {
            std_map.insert(keys[i], i as u64);
        }),
    );
    let std_shrinks = std::cell::Cell::new(0);
    let std_remove = summary(
        "std HashMap + shrink_to_fit, remove",
        time_each(n, |i| {
            black_box(std_map.remove(&keys[i]));
            if std_map.len() < std_map.capacity() / 4 {
                std_map.shrink_to_fit();
                std_shrinks.set(std_shrinks.get() + 1);
            }
        }),
    );
    drop(std_map);

    let mut go_map = gomap::HashMap::new();
    let go_grow = summary(
        "gomap, insert",
        time_each(n, |i| {
            go_map.insert(keys[i], i as u64);
        }),
    );
    let peak = go_map.mem_stats().allocated_bytes;
    let go_remove = summary(
        "gomap (Auto), remove",
        time_each(n, |i| {
            black_box(go_map.remove(&keys[i]));
        }),
    );
    let end = go_map.mem_stats();

    println!(
        "\nmax insert: std / gomap = {:.0}x; max remove: std / gomap = {:.0}x",
        std_grow as f64 / go_grow as f64,
        std_remove as f64 / go_remove as f64
    );
    println!(
        "std shrink_to_fit calls: {}; gomap bytes at peak {peak}, after emptying {} ({} buckets)",
        std_shrinks.get(),
        end.allocated_bytes,
        end.buckets
    );
}
