//! `ShardedMap`'s references hold their shard's guard and their pair's slot:
//! the pair stays where it is. So a `RefMut`, an entry or `iter_mut` moves
//! nothing (no shrink begun, the shard's order kept), `iter_mut`'s items
//! sit side by side, nothing is hashed when a guard is released (a key
//! whose `Hash` panics cannot abort the process), and owned bytes follow
//! values changed through a guard.
#![cfg(not(loom))]

use std::hash::{Hash, Hasher};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use gomap_sync::ShardedMap;

/// Keys in the order one walk of the whole map gives them.
fn order(map: &ShardedMap<u64, Vec<u8>>) -> Vec<u64> {
    map.read_all().iter().map(|(k, _)| *k).collect()
}

/// One shard holding exactly as many keys as keep it above its shrink
/// threshold: one removal more would start a shrink.
fn at_the_shrink_threshold() -> ShardedMap<u64, Vec<u8>> {
    let map: ShardedMap<u64, Vec<u8>> = ShardedMap::with_shard_amount(1);
    for k in 0..3_000 {
        map.insert(k, vec![1]);
    }
    // 3 000 entries fill 512 buckets (capacity 3 328); a shrink is due
    // below a quarter of that, 832 entries.
    for k in (832..3_000).rev() {
        map.remove(&k);
    }
    assert!(map.mem_stats().migration.is_none());
    map
}

#[test]
fn a_ref_mut_moves_nothing_and_begins_no_shrink() {
    let map = at_the_shrink_threshold();
    let before = (order(&map), map.mem_stats());
    map.get_mut(&5).unwrap().push(2);
    *map.entry(6).or_default() = vec![3];
    let after = map.mem_stats();
    assert_eq!(after.migration, None, "a RefMut began a shrink");
    assert_eq!(after.allocated_bytes, before.1.allocated_bytes);
    assert_eq!(order(&map), before.0);
    assert_eq!(map.get_cloned(&5), Some(vec![1, 2]));
}

#[test]
fn iter_mut_moves_no_pair() {
    let map = at_the_shrink_threshold();
    let before = (order(&map), map.mem_stats().allocated_bytes);
    for mut r in map.iter_mut() {
        r.push(9);
    }
    assert_eq!(order(&map), before.0, "iter_mut changed the shard's order");
    assert_eq!(map.mem_stats().allocated_bytes, before.1);
    assert!(map.iter().all(|r| *r.value() == [1, 9]));
}

#[test]
fn iter_mut_items_sit_side_by_side() {
    let map: ShardedMap<u64, u64> = ShardedMap::with_shard_amount(4);
    for k in 0..500 {
        map.insert(k, k);
    }
    let mut items: Vec<_> = map.iter_mut().collect();
    assert_eq!(items.len(), 500);
    for item in &mut items {
        *item.value_mut() += 1;
    }
    drop(items);
    assert!((0..500).all(|k| map.get_cloned(&k) == Some(k + 1)));
}

#[test]
fn owned_bytes_follow_values_changed_through_guards() {
    let map: ShardedMap<u64, Vec<u8>> = ShardedMap::with_shard_amount(2);
    map.track_owned_bytes(|_| 0, Vec::capacity);
    for k in 0..100 {
        map.insert(k, Vec::new());
    }
    map.get_mut(&1).unwrap().reserve_exact(1_000);
    map.entry(2).or_default().reserve_exact(2_000);
    for mut r in map.iter_mut() {
        r.reserve_exact(10);
    }
    let owned: usize = map.iter().map(|r| r.value().capacity()).sum();
    assert!(owned >= 3_000);
    assert_eq!(map.mem_stats().owned_bytes, owned);
}

static PANIC_ON_HASH: AtomicBool = AtomicBool::new(false);

/// A key whose `Hash` panics once `PANIC_ON_HASH` is set.
#[derive(PartialEq, Eq, Debug)]
struct TouchyKey(u64);

impl Hash for TouchyKey {
    fn hash<H: Hasher>(&self, state: &mut H) {
        assert!(!PANIC_ON_HASH.load(Ordering::Relaxed), "Hash fails");
        self.0.hash(state);
    }
}

#[test]
fn releasing_a_ref_mut_while_unwinding_hashes_nothing() {
    let seen = Arc::new(Mutex::new(0));
    let record = seen.clone();
    let map: ShardedMap<TouchyKey, u64> = ShardedMap::with_shard_amount(1)
        .with_observer(move |_, shard| *record.lock().unwrap() = shard.len());
    for k in 0..10 {
        map.insert(TouchyKey(k), k);
    }
    let result = catch_unwind(AssertUnwindSafe(|| {
        let mut r = map.get_mut(&TouchyKey(3)).unwrap();
        *r += 100;
        // Once the key has been found, its `Hash` fails: the guard's release
        // while this unwinds must not need it.
        PANIC_ON_HASH.store(true, Ordering::Relaxed);
        panic!("user code fails while holding the RefMut");
    }));
    let items: Vec<u64> = map.iter().map(|r| *r.value()).collect();
    PANIC_ON_HASH.store(false, Ordering::Relaxed);
    assert!(result.is_err());
    assert_eq!(items.len(), 10, "every pair still in the shard");
    assert!(items.contains(&103));
    assert_eq!(*seen.lock().unwrap(), 10, "the release was observed");
}
