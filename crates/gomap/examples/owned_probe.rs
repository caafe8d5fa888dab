//! A quick, noise-resistant measure of what keeping owned bytes costs:
//! `String → Vec<u8>` maps with and without
//! `track_owned_bytes(String::capacity, Vec::capacity)`, timed in
//! alternating rounds; prints the median of the per-round ratios
//! (tracked / untracked) per operation.
//!
//! `cargo run --release -p gomap --example owned_probe -- [n ...]`
//! (default 10000 100000).
//!
//! `-- --once tracked|untracked [n]` runs each operation once on one
//! variant, for callgrind (each operation is its own function):
//!
//! ```text
//! cargo build --release -p gomap --example owned_probe
//! for v in untracked tracked; do for f in insert overwrite overwrite_get_mut remove; do
//!   valgrind --tool=callgrind --callgrind-out-file=/dev/null --collect-atstart=no \
//!     --toggle-collect="owned_probe::op_$f" target/release/examples/owned_probe --once $v 100000 2>&1 \
//!     | grep Collected | sed "s/^/$v $f /"; done; done
//! ```

use std::hint::black_box;
use std::time::Instant;

#[path = "../tests/common/owned_inputs.rs"]
mod owned_inputs;
use owned_inputs::{map, pairs, Map};

type Pairs = Vec<(String, Vec<u8>)>;

#[inline(never)]
fn op_insert(m: &mut Map, input: Pairs) {
    for (k, v) in input {
        m.insert(k, v);
    }
}

/// Returns the old values, to be dropped after the clock stops.
#[inline(never)]
fn op_overwrite(m: &mut Map, input: Pairs) -> Vec<Vec<u8>> {
    let mut old = Vec::with_capacity(input.len());
    for (k, v) in input {
        if let Some(o) = m.insert(k, v) {
            old.push(o);
        }
    }
    old
}

/// Returns the old values, to be dropped after the clock stops.
#[inline(never)]
fn op_overwrite_get_mut(m: &mut Map, input: Pairs) -> Vec<Vec<u8>> {
    let mut old = Vec::with_capacity(input.len());
    for (k, v) in input {
        if let Some(slot) = m.get_mut(&k) {
            old.push(std::mem::replace(slot, v));
        }
    }
    old
}

/// Returns the removed values, to be dropped after the clock stops.
#[inline(never)]
fn op_remove(m: &mut Map, keys: &[String]) -> Vec<Vec<u8>> {
    let mut old = Vec::with_capacity(keys.len());
    for k in keys {
        if let Some(v) = m.remove(k) {
            old.push(v);
        }
    }
    old
}

const OPS: [&str; 4] = ["insert", "overwrite", "overwrite_get_mut", "remove"];

/// The inputs of one timing of one operation.
struct Inputs {
    input: Pairs,
    fresh: Pairs,
    keys: Vec<String>,
}

impl Inputs {
    fn new(n: usize) -> Self {
        let input = pairs(n, 1);
        let fresh = input
            .iter()
            .zip(pairs(n, 2))
            .map(|((k, _), (_, v))| (k.clone(), v))
            .collect();
        let keys = input.iter().map(|(k, _)| k.clone()).collect();
        Inputs { input, fresh, keys }
    }
}

/// Nanoseconds per entry for operation `op` on one variant, over `reps`
/// maps; inputs and full maps are built before the clock starts and what
/// the operation leaves is dropped after it stops.
fn time(op: usize, tracked: bool, inputs: &Inputs, full: &Map, reps: usize) -> f64 {
    let n = inputs.input.len();
    let mut maps: Vec<Map> = (0..reps)
        .map(|_| if op == 0 { map(tracked) } else { full.clone() })
        .collect();
    let mut work: Vec<Pairs> = (0..reps)
        .map(|_| match op {
            0 => inputs.input.clone(),
            1 | 2 => inputs.fresh.clone(),
            _ => Vec::new(),
        })
        .collect();
    let mut left = Vec::with_capacity(reps);
    let start = Instant::now();
    for (m, w) in maps.iter_mut().zip(work.drain(..)) {
        left.push(match op {
            0 => {
                op_insert(m, w);
                Vec::new()
            }
            1 => op_overwrite(m, w),
            2 => op_overwrite_get_mut(m, w),
            _ => op_remove(m, &inputs.keys),
        });
    }
    let ns = start.elapsed().as_nanos() as f64 / (reps * n) as f64;
    black_box((&maps, &left));
    ns
}

fn full(tracked: bool, input: &Pairs) -> Map {
    let mut m = map(tracked);
    for (k, v) in input {
        m.insert(k.clone(), v.clone());
    }
    m
}

fn once(tracked: bool, n: usize) {
    let inputs = Inputs::new(n);
    let mut m = map(tracked);
    op_insert(&mut m, inputs.input.clone());
    black_box(op_overwrite(&mut m, inputs.fresh.clone()));
    black_box(op_overwrite_get_mut(&mut m, inputs.input.clone()));
    black_box(op_remove(&mut m, &inputs.keys));
    println!(
        "{} n={n}: owned bytes at the end {:?}",
        if tracked { "tracked" } else { "untracked" },
        m.owned_bytes()
    );
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("--once") {
        let tracked = match args.get(1).map(String::as_str) {
            Some("tracked") => true,
            Some("untracked") => false,
            _ => panic!("--once tracked|untracked [n]"),
        };
        let n = args
            .get(2)
            .map_or(100_000, |a| a.parse().expect("n is a number"));
        once(tracked, n);
        return;
    }
    let sizes: Vec<usize> = args
        .iter()
        .map(|a| a.parse().expect("sizes are numbers"))
        .collect();
    let sizes = if sizes.is_empty() {
        vec![10_000, 100_000]
    } else {
        sizes
    };
    const ROUNDS: usize = 21;
    for n in sizes {
        let inputs = Inputs::new(n);
        let fulls = [full(false, &inputs.input), full(true, &inputs.input)];
        // About 200 000 entries per timing: several maps when n is small.
        let reps = (200_000 / n).clamp(1, 20);
        for (op, name) in OPS.iter().enumerate() {
            // Each round times both variants back to back, in alternating
            // order; the machine's speed drifts between rounds, so compare
            // within a round and take the median ratio.
            let (mut ratios, mut abs) = (Vec::new(), [0f64; 2]);
            for round in 0..ROUNDS {
                let order = if round % 2 == 0 {
                    [false, true]
                } else {
                    [true, false]
                };
                let mut ns = [0f64; 2];
                for tracked in order {
                    ns[tracked as usize] =
                        time(op, tracked, &inputs, &fulls[tracked as usize], reps);
                }
                ratios.push(ns[1] / ns[0]);
                abs[0] += ns[0] / ROUNDS as f64;
                abs[1] += ns[1] / ROUNDS as f64;
            }
            ratios.sort_by(f64::total_cmp);
            println!(
                "n={n:>7} {name:<18} tracked/untracked {:.3} (untracked {:.1} ns, tracked {:.1} ns per entry; quartiles {:.3}..{:.3})",
                ratios[ROUNDS / 2],
                abs[0],
                abs[1],
                ratios[ROUNDS / 4],
                ratios[3 * ROUNDS / 4]
            );
        }
    }
}
