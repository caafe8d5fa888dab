//! gomap against `hashbrown` and `std::collections::HashMap`, in one run.
//!
//! Grid: operation × key type (`u64`, `String`) × size (1e3, 1e5, 1e6; 1e7
//! for `u64` lookups) × map. gomap's default hasher and hashbrown's are the
//! same (foldhash's seeded `fast::RandomState`), so gomap/hashbrown is a
//! same-hasher comparison; std uses its SipHash-1-3 default.
//!
//! `cargo bench -p gomap --bench ops`, then
//! `python3 scripts/bench_table.py` turns criterion's estimates into the
//! ratio table in README.md. Filter with e.g. `-- lookup_hit/u64`.

use criterion::{criterion_group, criterion_main, BatchSize, BenchmarkId, Criterion, Throughput};
use std::hint::black_box;
use std::time::Duration;

#[path = "../tests/common/keys.rs"]
mod keys;
use keys::keys;

/// The three maps behind one interface.
trait BenchMap<K> {
    const NAME: &'static str;
    fn new() -> Self;
    fn with_capacity(n: usize) -> Self;
    fn insert(&mut self, k: K, v: u64);
    fn get(&self, k: &K) -> Option<&u64>;
    fn remove(&mut self, k: &K) -> Option<u64>;
    fn sum(&self) -> u64;
}

macro_rules! bench_map {
    ($ty:ident, $name:literal) => {
        impl<K: std::hash::Hash + Eq> BenchMap<K> for $ty<K, u64> {
            const NAME: &'static str = $name;
            fn new() -> Self {
                $ty::default()
            }
            fn with_capacity(n: usize) -> Self {
                let mut m = $ty::default();
                m.reserve(n);
                m
            }
            #[inline]
            fn insert(&mut self, k: K, v: u64) {
                $ty::insert(self, k, v);
            }
            #[inline]
            fn get(&self, k: &K) -> Option<&u64> {
                $ty::get(self, k)
            }
            #[inline]
            fn remove(&mut self, k: &K) -> Option<u64> {
                $ty::remove(self, k)
            }
            fn sum(&self) -> u64 {
                self.values().fold(0, |a, v| a.wrapping_add(*v))
            }
        }
    };
}

type GoMap<K, V> = gomap::HashMap<K, V>;
type Brown<K, V> = hashbrown::HashMap<K, V>;
type Std<K, V> = std::collections::HashMap<K, V>;
bench_map!(GoMap, "gomap");
bench_map!(Brown, "hashbrown");
bench_map!(Std, "std");

trait Key: Clone + std::hash::Hash + Eq {
    const NAME: &'static str;
    fn make(x: u64) -> Self;
}

impl Key for u64 {
    const NAME: &'static str = "u64";
    fn make(x: u64) -> Self {
        x
    }
}

impl Key for String {
    const NAME: &'static str = "string";
    fn make(x: u64) -> Self {
        format!("{x:016x}")
    }
}

/// Lookups per timed iteration. Successive iterations continue through a
/// shuffled list of *all* keys, so a big map is probed all over (cold
/// cache, as in a real big map), not over a small hot set.
const LOOKUPS: usize = 10_000;

/// Fisher-Yates with splitmix64 numbers.
fn shuffled<T: Clone>(items: &[T], seed: u64) -> Vec<T> {
    let mut out = items.to_vec();
    let random = keys(out.len(), seed);
    for i in (1..out.len()).rev() {
        out.swap(i, (random[i] % (i as u64 + 1)) as usize);
    }
    out
}

fn filled<K: Key, M: BenchMap<K>>(present: &[K]) -> M {
    let mut m = M::new();
    for (i, k) in present.iter().enumerate() {
        m.insert(k.clone(), i as u64);
    }
    m
}

fn bench_one<K: Key, M: BenchMap<K>>(c: &mut Criterion, n: usize, ops: &[&str]) {
    let present: Vec<K> = keys(n, 1).into_iter().map(K::make).collect();
    let hits: Vec<K> = shuffled(&present, 3);
    let absent: Vec<K> = keys(n, 2).into_iter().map(K::make).collect();
    // Remove a random tenth: a steady-state remove, not an emptying (which
    // would measure gomap's shrinking against maps that never shrink; see
    // examples/latency.rs for that).
    let doomed: Vec<K> = hits[..n / 10].to_vec();
    let id = |op: &str| (format!("{op}/{}", K::NAME), BenchmarkId::new(M::NAME, n));
    let per_op = |group: &mut criterion::BenchmarkGroup<_>, count: usize| {
        group.throughput(Throughput::Elements(count as u64));
    };
    for &op in ops {
        let (group_name, bench_id) = id(op);
        let mut group = c.benchmark_group(group_name);
        if n >= 1_000_000 {
            group.sample_size(10);
        }
        match op {
            "insert_grow" => {
                per_op(&mut group, n);
                group.bench_function(bench_id, |b| {
                    b.iter_batched(
                        || present.clone(),
                        |ks| {
                            let mut m = M::new();
                            for (i, k) in ks.into_iter().enumerate() {
                                m.insert(k, i as u64);
                            }
                            m
                        },
                        BatchSize::PerIteration,
                    )
                });
            }
            "insert_reserved" => {
                per_op(&mut group, n);
                group.bench_function(bench_id, |b| {
                    b.iter_batched(
                        || (M::with_capacity(n), present.clone()),
                        |(mut m, ks)| {
                            for (i, k) in ks.into_iter().enumerate() {
                                m.insert(k, i as u64);
                            }
                            m
                        },
                        BatchSize::PerIteration,
                    )
                });
            }
            "lookup_hit" | "lookup_miss" => {
                let m: M = filled(&present);
                let probes = if op == "lookup_hit" { &hits } else { &absent };
                let per_iter = LOOKUPS.min(n);
                per_op(&mut group, per_iter);
                let mut at = 0;
                group.bench_function(bench_id, |b| {
                    b.iter(|| {
                        let mut found = 0u64;
                        for k in &probes[at..at + per_iter] {
                            if let Some(v) = m.get(black_box(k)) {
                                found = found.wrapping_add(*v);
                            }
                        }
                        at = (at + per_iter) % (n - per_iter + 1);
                        found
                    })
                });
            }
            "remove" => {
                per_op(&mut group, doomed.len());
                group.bench_function(bench_id, |b| {
                    b.iter_batched_ref(
                        || filled::<K, M>(&present),
                        |m| {
                            for k in &doomed {
                                black_box(m.remove(k));
                            }
                        },
                        BatchSize::PerIteration,
                    )
                });
            }
            "iterate" => {
                let m: M = filled(&present);
                per_op(&mut group, n);
                group.bench_function(bench_id, |b| b.iter(|| black_box(m.sum())));
            }
            other => unreachable!("unknown op {other}"),
        }
        group.finish();
    }
}

const ALL: &[&str] = &[
    "insert_grow",
    "insert_reserved",
    "lookup_hit",
    "lookup_miss",
    "remove",
    "iterate",
];

/// Per size and operation, the three maps run back to back, so the noise of
/// a shared machine hits their ratios as little as it can.
fn grid(c: &mut Criterion) {
    for n in [1_000, 100_000, 1_000_000] {
        for op in ALL {
            bench_one::<u64, GoMap<u64, u64>>(c, n, &[op]);
            bench_one::<u64, Brown<u64, u64>>(c, n, &[op]);
            bench_one::<u64, Std<u64, u64>>(c, n, &[op]);
            bench_one::<String, GoMap<String, u64>>(c, n, &[op]);
            bench_one::<String, Brown<String, u64>>(c, n, &[op]);
            bench_one::<String, Std<String, u64>>(c, n, &[op]);
        }
    }
    for op in ["lookup_hit", "lookup_miss"] {
        bench_one::<u64, GoMap<u64, u64>>(c, 10_000_000, &[op]);
        bench_one::<u64, Brown<u64, u64>>(c, 10_000_000, &[op]);
        bench_one::<u64, Std<u64, u64>>(c, 10_000_000, &[op]);
    }
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_millis(300))
        .measurement_time(Duration::from_secs(1))
        .sample_size(20);
    targets = grid
}
criterion_main!(benches);
