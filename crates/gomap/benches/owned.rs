//! The cost of keeping owned bytes: `String → Vec<u8>` maps with and
//! without `track_owned_bytes(String::capacity, Vec::capacity)`.
//!
//! Keys are 16 to 32 bytes, values 64 to 512 bytes, all built before the
//! timed part (criterion's `iter_batched`: each batch gets fresh inputs and
//! a fresh map from the setup, and drops what the routine returns after
//! the clock stops). Operations, at N = 10^4 and 10^5:
//!
//! * `insert`: every pair into an empty map, which grows to N;
//! * `overwrite`: every key of a full map once, with a new value
//!   (`insert` of an existing key; the old value is dropped in the loop);
//! * `overwrite_get_mut`: the same through `get_mut` (a lent value,
//!   measured again at the next call);
//! * `remove`: every key of a full map.
//!
//! `cargo bench -p gomap --bench owned -- --sample-size 20`; the ratio per
//! operation is `tracked / untracked`. `examples/owned_probe.rs` measures
//! the same ratios in alternating rounds, which resists a noisy machine.

use criterion::{criterion_group, criterion_main, BatchSize, BenchmarkId, Criterion, Throughput};
use std::hint::black_box;
use std::time::Duration;

#[path = "../tests/common/owned_inputs.rs"]
mod owned_inputs;
use owned_inputs::{map, pairs, Map};

fn insert(c: &mut Criterion) {
    let mut group = c.benchmark_group("owned/insert");
    for n in [10_000, 100_000] {
        let input = pairs(n, 1);
        group.throughput(Throughput::Elements(n as u64));
        for tracked in [false, true] {
            group.bench_with_input(BenchmarkId::new(variant(tracked), n), &input, |b, input| {
                b.iter_batched(
                    || (map(tracked), input.clone()),
                    |(mut m, input)| {
                        for (k, v) in input {
                            m.insert(k, v);
                        }
                        m
                    },
                    BatchSize::PerIteration,
                );
            });
        }
    }
    group.finish();
}

/// The keys of `input` with the values of `fresh`: what an overwrite puts in.
fn same_keys_new_values(
    input: &[(String, Vec<u8>)],
    fresh: &[(String, Vec<u8>)],
) -> Vec<(String, Vec<u8>)> {
    input
        .iter()
        .zip(fresh)
        .map(|((k, _), (_, v))| (k.clone(), v.clone()))
        .collect()
}

fn overwrite(c: &mut Criterion) {
    let mut group = c.benchmark_group("owned/overwrite");
    for n in [10_000, 100_000] {
        let input = pairs(n, 1);
        let fresh = pairs(n, 2);
        group.throughput(Throughput::Elements(n as u64));
        for tracked in [false, true] {
            let full = full(tracked, &input);
            let new = same_keys_new_values(&input, &fresh);
            group.bench_with_input(BenchmarkId::new(variant(tracked), n), &new, |b, new| {
                b.iter_batched(
                    || (full.clone(), new.clone()),
                    |(mut m, new)| {
                        for (k, v) in new {
                            black_box(m.insert(k, v));
                        }
                        m
                    },
                    BatchSize::PerIteration,
                );
            });
        }
    }
    group.finish();
}

fn overwrite_get_mut(c: &mut Criterion) {
    let mut group = c.benchmark_group("owned/overwrite_get_mut");
    for n in [10_000, 100_000] {
        let input = pairs(n, 1);
        let fresh = pairs(n, 2);
        group.throughput(Throughput::Elements(n as u64));
        for tracked in [false, true] {
            let full = full(tracked, &input);
            let new = same_keys_new_values(&input, &fresh);
            group.bench_with_input(BenchmarkId::new(variant(tracked), n), &new, |b, new| {
                b.iter_batched(
                    || (full.clone(), new.clone()),
                    |(mut m, new)| {
                        for (k, v) in new {
                            if let Some(slot) = m.get_mut(&k) {
                                *slot = v;
                            }
                        }
                        m
                    },
                    BatchSize::PerIteration,
                );
            });
        }
    }
    group.finish();
}

fn remove(c: &mut Criterion) {
    let mut group = c.benchmark_group("owned/remove");
    for n in [10_000, 100_000] {
        let input = pairs(n, 1);
        let keys: Vec<String> = input.iter().map(|(k, _)| k.clone()).collect();
        group.throughput(Throughput::Elements(n as u64));
        for tracked in [false, true] {
            let full = full(tracked, &input);
            group.bench_with_input(BenchmarkId::new(variant(tracked), n), &keys, |b, keys| {
                b.iter_batched(
                    || full.clone(),
                    |mut m| {
                        for k in keys {
                            black_box(m.remove(k));
                        }
                        m
                    },
                    BatchSize::PerIteration,
                );
            });
        }
    }
    group.finish();
}

fn variant(tracked: bool) -> &'static str {
    if tracked {
        "tracked"
    } else {
        "untracked"
    }
}

fn full(tracked: bool, input: &[(String, Vec<u8>)]) -> Map {
    let mut m = map(tracked);
    for (k, v) in input {
        m.insert(k.clone(), v.clone());
    }
    m
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(3));
    targets = insert, overwrite, overwrite_get_mut, remove
}
criterion_main!(benches);
