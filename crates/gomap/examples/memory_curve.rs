//! Bytes held after each phase of removing 99 % of a million entries, for
//! gomap (`ShrinkPolicy::Auto` and `Never`), std's `HashMap` and hashbrown,
//! measured by a counting global allocator (not by the maps' own word).
//!
//! `cargo run --release -p gomap --example memory_curve -- [N]` (default 1e6).

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

#[path = "../tests/common/keys.rs"]
mod keys;
use keys::keys;

/// The system allocator, counting live bytes.
struct Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);

// SAFETY: forwards to `System`, only counting sizes.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LIVE.fetch_add(layout.size(), Ordering::Relaxed);
        unsafe { System.alloc(layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        LIVE.fetch_add(layout.size(), Ordering::Relaxed);
        unsafe { System.alloc_zeroed(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        LIVE.fetch_add(new_size, Ordering::Relaxed);
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// The four maps behind one interface.
trait Map {
    fn insert(&mut self, k: u64);
    fn remove(&mut self, k: u64);
    fn clear(&mut self);
    fn shrink_to_fit(&mut self);
}

macro_rules! map {
    ($t:ty) => {
        impl Map for $t {
            fn insert(&mut self, k: u64) {
                <$t>::insert(self, k, k);
            }
            fn remove(&mut self, k: u64) {
                <$t>::remove(self, &k);
            }
            fn clear(&mut self) {
                <$t>::clear(self);
            }
            fn shrink_to_fit(&mut self) {
                <$t>::shrink_to_fit(self);
            }
        }
    };
}
map!(gomap::HashMap<u64, u64>);
map!(std::collections::HashMap<u64, u64>);
map!(hashbrown::HashMap<u64, u64>);

const PHASES: [&str; 7] = [
    "inserted N",
    "removed 50 %",
    "removed 90 %",
    "removed 99 %",
    "+ N/100 more writes",
    "clear()",
    "shrink_to_fit()",
];

/// Bytes after each phase, for one map built by `make`.
fn curve(make: impl FnOnce() -> Box<dyn Map>, keys: &[u64]) -> Vec<usize> {
    let mut map = make();
    let mut out = Vec::with_capacity(PHASES.len());
    // From here on: the map's own bytes (not the box holding it).
    let base = LIVE.load(Ordering::Relaxed);
    let bytes = || LIVE.load(Ordering::Relaxed) - base;
    let n = keys.len();
    for &k in keys {
        map.insert(k);
    }
    out.push(bytes());
    let mut removed = 0;
    for upto in [n / 2, n * 9 / 10, n * 99 / 100] {
        for &k in &keys[removed..upto] {
            map.remove(k);
        }
        removed = upto;
        out.push(bytes());
    }
    // Ordinary writes go on (updates of the keys still there).
    for &k in keys[removed..].iter().cycle().take(n / 100) {
        map.insert(k);
    }
    out.push(bytes());
    map.clear();
    out.push(bytes());
    map.shrink_to_fit();
    out.push(bytes());
    drop(map);
    out
}

fn main() {
    let n: usize = std::env::args()
        .nth(1)
        .map(|a| a.parse().expect("N must be a whole number"))
        .unwrap_or(1_000_000);
    let keys = keys(n, 42);
    let curves = [
        (
            "gomap Auto",
            curve(|| Box::new(gomap::HashMap::<u64, u64>::new()), &keys),
        ),
        (
            "gomap Never",
            curve(
                || {
                    Box::new(
                        gomap::HashMap::<u64, u64>::new()
                            .with_shrink_policy(gomap::ShrinkPolicy::Never),
                    )
                },
                &keys,
            ),
        ),
        (
            "std HashMap",
            curve(
                || Box::new(std::collections::HashMap::<u64, u64>::new()),
                &keys,
            ),
        ),
        (
            "hashbrown",
            curve(|| Box::new(hashbrown::HashMap::<u64, u64>::new()), &keys),
        ),
    ];
    println!(
        "bytes held, {n} u64 -> u64 entries, removed in random order (counting global allocator)\n"
    );
    print!("| phase |");
    for (name, _) in &curves {
        print!(" {name} |");
    }
    println!("\n|---|{}", "---:|".repeat(curves.len()));
    for (i, phase) in PHASES.iter().enumerate() {
        print!("| {phase} |");
        for (_, bytes) in &curves {
            print!(" {} |", bytes[i]);
        }
        println!();
    }
}
