//! The price of governance: `Governed` against a bare `gomap::HashMap` on
//! insert and lookup (`u64 → u64`, 100 000 keys), in the same run.
//!
//! ```text
//! cargo bench -p gomap-govern --bench overhead
//! ```
//! Targets (issue 5): insert ≤ 10 % slower, lookup ≤ 3 %.

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use gomap_govern::{Governed, Registry, Watermarks};

const N: usize = 100_000;

#[path = "../../gomap/tests/common/keys.rs"]
mod keys;

fn governed(registry: &Registry) -> Governed<u64, u64> {
    // Watermarks far away: the level check runs on every write, the
    // actions never.
    Governed::builder("bench")
        .registry(registry)
        .watermarks(Watermarks::bytes(1 << 40, 1 << 41, 1 << 42).unwrap())
        .capacity(N)
        .build()
}

fn bench(c: &mut Criterion) {
    let keys = keys::keys(N, 0x1234_5678);
    let registry = Registry::new();

    let mut group = c.benchmark_group("governed_insert");
    group.throughput(Throughput::Elements(N as u64));
    group.bench_function("gomap", |b| {
        b.iter_batched_ref(
            || gomap::HashMap::<u64, u64>::with_capacity(N),
            |map| {
                for &k in &keys {
                    map.insert(k, k);
                }
            },
            BatchSize::LargeInput,
        )
    });
    group.bench_function("governed", |b| {
        b.iter_batched_ref(
            || governed(&registry),
            |map| {
                for &k in &keys {
                    map.insert(k, k);
                }
            },
            BatchSize::LargeInput,
        )
    });
    group.finish();

    let mut bare = gomap::HashMap::<u64, u64>::with_capacity(N);
    let mut gov = governed(&registry);
    for &k in &keys {
        bare.insert(k, k);
        gov.insert(k, k);
    }
    let mut group = c.benchmark_group("governed_lookup");
    group.throughput(Throughput::Elements(N as u64));
    group.bench_function("gomap", |b| {
        b.iter(|| {
            keys.iter()
                .filter_map(|k| bare.get(black_box(k)))
                .sum::<u64>()
        })
    });
    group.bench_function("governed", |b| {
        b.iter(|| {
            keys.iter()
                .filter_map(|k| gov.get(black_box(k)))
                .sum::<u64>()
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
