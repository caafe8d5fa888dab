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

/// A map of keys `0..n` whose observer has seen every shard.
fn filled(n: u64) -> (ShardedMap<u64, String>, Arc<Mutex<Vec<usize>>>) {
    let (map, seen) = observed_map();
    for k in 0..n {
        map.insert(k, k.to_string());
    }
    (map, seen)
}

/// Runs `f`, which must panic, and checks the observer saw the map as it
/// is after the panic.
fn panics_observed(map: &ShardedMap<u64, String>, seen: &Mutex<Vec<usize>>, f: impl FnOnce()) {
    assert!(
        catch_unwind(AssertUnwindSafe(f)).is_err(),
        "user code was to panic"
    );
    assert_eq!(observed_len(seen), map.len());
}

#[test]
fn every_entry_write_is_observed_when_the_entry_is_released() {
    let (map, seen) = filled(10);
    *map.entry(100).or_insert_with(String::new) += "x";
    assert_eq!(observed_len(&seen), 11);
    map.entry(100).or_default().push('y');
    map.entry(101).insert("z".into());
    assert_eq!(observed_len(&seen), 12);
    if let gomap_sync::sharded::Entry::Occupied(o) = map.entry(101) {
        o.remove();
    }
    assert_eq!(observed_len(&seen), 11);
    drop(map.entry(102).insert_entry("w".into()));
    drop(map.try_entry(103).unwrap().or_default());
    assert_eq!(observed_len(&seen), 13);
    assert_eq!(observed_len(&seen), map.len());
}

#[test]
fn a_panic_while_holding_an_entry_or_a_ref_mut_is_still_observed() {
    let (map, seen) = filled(100);
    panics_observed(&map, &seen, || {
        map.entry(1_000)
            .and_modify(|_| unreachable!())
            .or_insert_with(|| "new".into());
        map.entry(1).and_modify(|v| {
            v.push('!');
            panic!("user code fails inside and_modify");
        });
    });
    assert_eq!(
        map.get_cloned(&1).as_deref(),
        Some("1!"),
        "the pair was put back"
    );
    panics_observed(&map, &seen, || {
        let mut v = map.entry(1_001).or_default();
        v.push('a');
        panic!("user code fails holding the RefMut");
    });
    assert_eq!(map.get_cloned(&1_001).as_deref(), Some("a"));
    panics_observed(&map, &seen, || {
        let _held = map.get_mut(&2).unwrap();
        panic!("user code fails holding get_mut's guard");
    });
    assert_eq!(map.len(), 102);
}

#[test]
fn a_panicking_alter_closure_is_still_observed() {
    let (map, seen) = filled(100);
    panics_observed(&map, &seen, || {
        map.alter(&5, |_, _| panic!("user code fails inside alter"));
    });
    assert!(
        !map.contains_key(&5),
        "the value moved into the closure is gone"
    );
    let mut calls = 0;
    panics_observed(&map, &seen, || {
        map.alter_all(|_, v| {
            calls += 1;
            assert!(calls < 50, "user code fails halfway through alter_all");
            v + "!"
        });
    });
    assert_eq!(map.len(), 98, "one more pair gone, every other put back");
    map.alter_all(|_, v| v);
    assert_eq!(observed_len(&seen), 98);
}

#[test]
fn a_panicking_iter_mut_is_still_observed_and_puts_every_pair_back() {
    let (map, seen) = filled(1_000);
    let mut visited = 0;
    panics_observed(&map, &seen, || {
        for mut r in map.iter_mut() {
            visited += 1;
            r.push('+');
            assert!(visited < 400, "user code fails halfway through iter_mut");
        }
    });
    assert_eq!(map.len(), 1_000);
    assert_eq!(map.iter().filter(|r| r.ends_with('+')).count(), 400);
    for mut r in map.iter_mut() {
        r.clear();
    }
    assert_eq!(observed_len(&seen), 1_000);
}

#[test]
fn remove_if_and_reserve_are_observed() {
    let (map, seen) = filled(100);
    map.remove_if(&1, |_, _| true);
    map.remove_if_mut(&2, |_, v| {
        v.push('x');
        true
    });
    assert_eq!(observed_len(&seen), 98);
    panics_observed(&map, &seen, || {
        map.remove_if_mut(&3, |_, _| panic!("user code fails inside remove_if_mut"));
    });
    assert!(map.contains_key(&3), "the pair was put back");
    // The observer sees the reserved bytes.
    let bytes = Arc::new(Mutex::new(vec![0; 4]));
    let record = bytes.clone();
    let map: ShardedMap<u64, u64> =
        ShardedMap::with_shard_amount(4).with_observer(move |i, shard| {
            record.lock().unwrap()[i] = shard.mem_stats().allocated_bytes
        });
    map.reserve(10_000);
    assert_eq!(
        bytes.lock().unwrap().iter().sum::<usize>(),
        map.mem_stats().allocated_bytes
    );
    assert!(map.mem_stats().allocated_bytes > 0);
}
