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
