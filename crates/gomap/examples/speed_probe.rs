//! A quick, noise-resistant speed comparison for development: gomap and
//! hashbrown (same foldhash, u64 → u64) timed in alternating rounds, and
//! per operation the median of the per-round ratios (gomap / hashbrown).
//! The machine's speed drifts between rounds, so the two maps are compared
//! within a round, back to back, the order flipped every round.
//!
//! `cargo run --release -p gomap --example speed_probe -- [n ...]`
//! (default 1000000; `--rounds R`, default 11).
//!
//! Operations, as the criterion grid (`benches/ops.rs`) has them: insert
//! growing from empty, insert into a reserved map, lookup hit and miss
//! (50 000 probes), remove a random tenth (`ShrinkPolicy::Never`), iterate
//! (sum of the values); then `clear` (against hashbrown's, which is std's
//! table) and `reset` (against hashbrown's `clear` + `shrink_to_fit`, what
//! a std user writes to give every byte back), per entry of the map.
use std::hint::black_box;
use std::time::Instant;

#[path = "../tests/common/keys.rs"]
mod keys;
use keys::keys;

type Go = gomap::HashMap<u64, u64>;
type Brown = hashbrown::HashMap<u64, u64, foldhash::fast::RandomState>;

/// One operation on both maps: each closure returns nanoseconds per op.
struct Op<'a> {
    name: &'static str,
    go: Box<dyn Fn() -> f64 + 'a>,
    brown: Box<dyn Fn() -> f64 + 'a>,
}

fn per_op(count: usize, f: impl FnOnce()) -> f64 {
    let start = Instant::now();
    f();
    start.elapsed().as_nanos() as f64 / count as f64
}

/// `f` run on `map` and timed per op; the map is dropped after the clock
/// stops, so freeing it is not counted.
fn timed<M>(mut map: M, count: usize, f: impl FnOnce(&mut M)) -> f64 {
    let t = per_op(count, || f(&mut map));
    drop(black_box(map));
    t
}

fn main() {
    let mut args = std::env::args().skip(1);
    let (mut sizes, mut rounds) = (Vec::new(), 11usize);
    while let Some(arg) = args.next() {
        if arg == "--rounds" {
            let r = args.next().and_then(|r| r.parse().ok());
            rounds = r
                .filter(|&r| r > 0)
                .expect("--rounds takes a number above 0");
        } else {
            sizes.push(arg.parse::<usize>().expect("sizes are numbers"));
        }
    }
    if sizes.is_empty() {
        sizes.push(1_000_000);
    }
    for n in sizes {
        probe(n, rounds);
    }
}

fn probe(n: usize, rounds: usize) {
    let present = keys(n, 1);
    let absent = keys(50_000.min(n * 4), 2);
    let hits: Vec<u64> = present
        .iter()
        .step_by((n / 50_000).max(1))
        .copied()
        .collect();
    let doomed: Vec<u64> = present.iter().step_by(10).copied().collect();
    let mut go_full: Go = Go::default();
    go_full.set_shrink_policy(gomap::ShrinkPolicy::Never);
    go_full.extend(present.iter().map(|&k| (k, k)));
    let brown_full: Brown = present.iter().map(|&k| (k, k)).collect();
    let (go_full, brown_full) = (&go_full, &brown_full);
    let (present, absent, hits, doomed) = (&present, &absent, &hits, &doomed);

    let ops: Vec<Op<'_>> = vec![
        Op {
            name: "insert_grow",
            go: Box::new(|| {
                timed(Go::default(), n, |m| {
                    present.iter().for_each(|&k| {
                        black_box(m.insert(k, k));
                    })
                })
            }),
            brown: Box::new(|| {
                timed(Brown::default(), n, |m| {
                    present.iter().for_each(|&k| {
                        black_box(m.insert(k, k));
                    })
                })
            }),
        },
        Op {
            name: "insert_reserved",
            go: Box::new(|| {
                timed(Go::with_capacity(n), n, |m| {
                    present.iter().for_each(|&k| {
                        black_box(m.insert(k, k));
                    })
                })
            }),
            brown: Box::new(|| {
                timed(
                    Brown::with_capacity_and_hasher(n, Default::default()),
                    n,
                    |m| {
                        present.iter().for_each(|&k| {
                            black_box(m.insert(k, k));
                        })
                    },
                )
            }),
        },
        lookups("hit", go_full, brown_full, hits),
        lookups("miss", go_full, brown_full, absent),
        Op {
            name: "remove",
            go: Box::new(|| {
                timed(go_full.clone(), doomed.len(), |m| {
                    doomed.iter().for_each(|k| {
                        black_box(m.remove(k));
                    })
                })
            }),
            brown: Box::new(|| {
                timed(brown_full.clone(), doomed.len(), |m| {
                    doomed.iter().for_each(|k| {
                        black_box(m.remove(k));
                    })
                })
            }),
        },
        Op {
            name: "clear",
            go: Box::new(|| timed(go_full.clone(), n, |m| m.clear())),
            brown: Box::new(|| timed(brown_full.clone(), n, |m| m.clear())),
        },
        // Every byte back: gomap's `reset` against what a hashbrown (or
        // std) user writes for it.
        Op {
            name: "reset",
            go: Box::new(|| timed(go_full.clone(), n, |m| m.reset())),
            brown: Box::new(|| {
                timed(brown_full.clone(), n, |m| {
                    m.clear();
                    m.shrink_to_fit();
                })
            }),
        },
        Op {
            name: "iterate",
            go: Box::new(|| {
                per_op(n, || {
                    black_box(go_full.values().sum::<u64>());
                })
            }),
            brown: Box::new(|| {
                per_op(n, || {
                    black_box(brown_full.values().sum::<u64>());
                })
            }),
        },
    ];
    println!("n = {n}, {rounds} rounds: gomap / hashbrown (median ratio; mean ns per op)");
    for op in &ops {
        let (mut ratios, mut go_ns, mut brown_ns) = (Vec::new(), 0.0, 0.0);
        for round in 0..rounds {
            let (g, b) = if round % 2 == 0 {
                let g = (op.go)();
                (g, (op.brown)())
            } else {
                let b = (op.brown)();
                ((op.go)(), b)
            };
            ratios.push(g / b);
            go_ns += g / rounds as f64;
            brown_ns += b / rounds as f64;
        }
        ratios.sort_by(f64::total_cmp);
        println!(
            "  {:<16} {:>5.2}   (gomap {:>6.1} ns, hashbrown {:>6.1} ns)",
            op.name,
            ratios[rounds / 2],
            go_ns,
            brown_ns
        );
    }
}

fn lookups<'a>(name: &'static str, go: &'a Go, brown: &'a Brown, probes: &'a [u64]) -> Op<'a> {
    Op {
        name,
        go: Box::new(move || {
            per_op(probes.len(), || {
                let mut acc = 0u64;
                for k in probes {
                    acc = acc.wrapping_add(go.get(black_box(k)).copied().unwrap_or(1));
                }
                black_box(acc);
            })
        }),
        brown: Box::new(move || {
            per_op(probes.len(), || {
                let mut acc = 0u64;
                for k in probes {
                    acc = acc.wrapping_add(brown.get(black_box(k)).copied().unwrap_or(1));
                }
                black_box(acc);
            })
        }),
    }
}
