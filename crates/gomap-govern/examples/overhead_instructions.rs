//! Instructions per insert and per lookup, `Governed` against a bare
//! `gomap::HashMap`, for callgrind (repeatable where the clock is not):
//!
//! ```text
//! cargo build --release -p gomap-govern --example overhead_instructions
//! for f in bare_insert governed_insert bare_lookup governed_lookup; do
//!   valgrind --tool=callgrind --callgrind-out-file=/dev/null --collect-atstart=no \
//!     --toggle-collect="overhead_instructions::$f" \
//!     target/release/examples/overhead_instructions 2>&1 | grep Collected | sed "s/^/$f /"
//! done
//! ```
//! Divide by 100 000.
//!
//! With `--time` it instead times 31 alternating rounds of each and prints
//! the median of the per-round ratios (noise that lasts a round hits both):
//! `cargo run --release -p gomap-govern --example overhead_instructions -- --time`.

use std::hint::black_box;

use gomap_govern::{Governed, Registry, Watermarks};

const N: usize = 100_000;

#[path = "../../gomap/tests/common/keys.rs"]
mod keys;

#[inline(never)]
fn bare_insert(keys: &[u64]) -> gomap::HashMap<u64, u64> {
    let mut map = gomap::HashMap::with_capacity(N);
    for &k in keys {
        map.insert(k, k);
    }
    map
}

#[inline(never)]
fn governed_insert(keys: &[u64], registry: &Registry) -> Governed<u64, u64> {
    let mut map = Governed::builder("m")
        .registry(registry)
        .watermarks(Watermarks::bytes(1 << 40, 1 << 41, 1 << 42).unwrap())
        .capacity(N)
        .build();
    for &k in keys {
        map.insert(k, k);
    }
    map
}

#[inline(never)]
fn bare_lookup(map: &gomap::HashMap<u64, u64>, keys: &[u64]) -> u64 {
    keys.iter().filter_map(|k| map.get(black_box(k))).sum()
}

#[inline(never)]
fn governed_lookup(map: &Governed<u64, u64>, keys: &[u64]) -> u64 {
    keys.iter().filter_map(|k| map.get(black_box(k))).sum()
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn time(keys: &[u64]) {
    let registry = Registry::new();
    let (mut insert, mut lookup) = (Vec::new(), Vec::new());
    for _ in 0..31 {
        let t = std::time::Instant::now();
        let bare = black_box(bare_insert(keys));
        let bare_insert_time = t.elapsed().as_secs_f64();
        let t = std::time::Instant::now();
        let governed = black_box(governed_insert(keys, &registry));
        insert.push(t.elapsed().as_secs_f64() / bare_insert_time);
        let t = std::time::Instant::now();
        black_box(bare_lookup(&bare, keys));
        let bare_lookup_time = t.elapsed().as_secs_f64();
        let t = std::time::Instant::now();
        black_box(governed_lookup(&governed, keys));
        lookup.push(t.elapsed().as_secs_f64() / bare_lookup_time);
    }
    println!(
        "Governed / bare gomap, median of 31 rounds: insert {:.3}, lookup {:.3}",
        median(insert),
        median(lookup)
    );
}

fn main() {
    let keys = keys::keys(N, 7);
    if std::env::args().any(|a| a == "--time") {
        return time(&keys);
    }
    let registry = Registry::new();
    let bare = bare_insert(&keys);
    let governed = governed_insert(&keys, &registry);
    black_box((bare_lookup(&bare, &keys), governed_lookup(&governed, &keys)));
}
