//! `ShardedMap::with_observer` sees every write, also one that panics in
//! user code halfway: the observer is what keeps a monitor's figures right.
#![cfg(not(loom))]

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::{Arc, Mutex};

use gomap_sync::ShardedMap;

/// A map whose observer records each shard's `len` as it last saw it.
fn observed_map() -> (ShardedMap<u64, String>, Arc<Mutex<Vec<usize>>>) {
    let map: ShardedMap<u64, String> = ShardedMap::with_shard_amount(4);
    let seen = Arc::new(Mutex::new(vec![0; map.shard_amount()]));
    let record = seen.clone();
    let map = map.with_observer(move |index, shard| record.lock().unwrap()[index] = shard.len());
    (map, seen)
}

fn observed_len(seen: &Mutex<Vec<usize>>) -> usize {
    seen.lock().unwrap().iter().sum()
}

#[test]
fn a_panicking_update_closure_is_still_observed() {
    let (map, seen) = observed_map();
    for k in 0..100 {
        map.insert(k, k.to_string());
    }
    let result = catch_unwind(AssertUnwindSafe(|| {
        map.update(1_000, |entry| {
            entry.or_insert_with(|| "new".into());
            panic!("user code fails after inserting");
        })
    }));
    assert!(result.is_err());
    assert_eq!(map.len(), 101);
    assert_eq!(observed_len(&seen), 101);
}

#[test]
fn a_panicking_retain_closure_is_still_observed() {
    let (map, seen) = observed_map();
    for k in 0..1_000 {
        map.insert(k, k.to_string());
    }
    let mut calls = 0;
    let result = catch_unwind(AssertUnwindSafe(|| {
        map.retain(|_, _| {
            calls += 1;
            assert!(calls < 600, "user code fails halfway");
            false
        })
    }));
    assert!(result.is_err());
    assert!(map.len() < 1_000);
    assert_eq!(observed_len(&seen), map.len());
}

#[test]
fn step_migrations_finishes_idle_shards_observed_and_passes_over_held_ones() {
    let map: ShardedMap<u64, u64> = ShardedMap::with_shard_amount(4);
    let seen = Arc::new(Mutex::new(vec![0; map.shard_amount()]));
    let record = seen.clone();
    let map = map.with_observer(move |index, shard| {
        record.lock().unwrap()[index] = shard.mem_stats().allocated_bytes;
    });
    for k in 0..200_000 {
        map.insert(k, k);
    }
    // Writes stop right after a retain: every shard is left mid-shrink.
    map.retain(|&k, _| k < 100);
    let migrating = |map: &ShardedMap<u64, u64>| {
        map.shard_stats()
            .iter()
            .filter(|s| s.migration.is_some())
            .count()
    };
    assert_eq!(migrating(&map), 4);
    {
        // A held shard lock is passed over, not waited for.
        let held = map.get(&7).expect("kept");
        let mut steps = 0;
        while map.step_migrations(1_000) > 0 {
            steps += 1;
            assert!(steps < 1_000, "idle shards never finished");
        }
        drop(held);
    }
    assert_eq!(migrating(&map), 1, "the held shard was stepped");
    while map.step_migrations(1_000) > 0 {}
    assert_eq!(migrating(&map), 0);
    assert_eq!(map.step_migrations(1_000), 0);
    let stats = map.shard_stats();
    let seen = seen.lock().unwrap().clone();
    for (index, s) in stats.iter().enumerate() {
        assert_eq!(s.old_buckets, 0);
        assert_eq!(seen[index], s.allocated_bytes, "shard {index} observed");
    }
    assert_eq!(map.len(), 100);
}
