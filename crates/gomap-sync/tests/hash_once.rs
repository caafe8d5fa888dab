//! A `ShardedMap` call hashes its key once: the shard and the bucket come
//! from the same hash (the shard's map gets it through its hash-given
//! methods). Counted with a key whose `Hash` counts its calls, in a map
//! reserved so that no migration rehashes anything.
#![cfg(not(loom))]

use gomap::DefaultHashBuilder;
use gomap_sync::ShardedMap;
use std::cell::Cell;
use std::hash::{Hash, Hasher};

thread_local! {
    static HASHES: Cell<usize> = const { Cell::new(0) };
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Key(u64);

impl Hash for Key {
    fn hash<H: Hasher>(&self, state: &mut H) {
        HASHES.with(|h| h.set(h.get() + 1));
        self.0.hash(state);
    }
}

/// How many times `f` hashed a key.
fn hashes(f: impl FnOnce()) -> usize {
    let before = HASHES.with(Cell::get);
    f();
    HASHES.with(Cell::get) - before
}

#[test]
fn every_keyed_call_hashes_once() {
    // Eight shards, whatever the machine: each reserves room for every key
    // the test puts in it, so no shard grows and rehashes.
    let map: ShardedMap<Key, u64> = ShardedMap::with_capacity_and_hasher_and_shard_amount(
        1000,
        DefaultHashBuilder::default(),
        8,
    );
    for k in 0..100 {
        assert_eq!(hashes(|| assert_eq!(map.insert(Key(k), k), None)), 1);
    }
    assert_eq!(hashes(|| assert_eq!(map.insert(Key(1), 10), Some(1))), 1);
    assert_eq!(hashes(|| assert!(map.contains_key(&Key(2)))), 1);
    assert_eq!(hashes(|| assert!(!map.contains_key(&Key(1000)))), 1);
    assert_eq!(hashes(|| assert_eq!(map.get_cloned(&Key(1)), Some(10))), 1);
    assert_eq!(hashes(|| assert_eq!(*map.get(&Key(3)).unwrap(), 3)), 1);
    assert_eq!(hashes(|| *map.get_mut(&Key(3)).unwrap() += 1), 1);
    assert!(map.try_get(&Key(3)).is_present());
    assert_eq!(hashes(|| assert!(map.try_get(&Key(3)).is_present())), 1);
    assert_eq!(hashes(|| assert!(map.try_get_mut(&Key(3)).is_present())), 1);
    assert_eq!(
        hashes(|| assert_eq!(map.view(&Key(3), |_, v| *v), Some(4))),
        1
    );
    // Entries: vacant then inserted, occupied and replaced.
    assert_eq!(hashes(|| *map.entry(Key(500)).or_insert(0) += 1), 1);
    assert_eq!(hashes(|| *map.entry(Key(500)).or_insert(0) += 1), 1);
    assert_eq!(
        hashes(|| drop(map.try_entry(Key(501)).unwrap().or_insert(1))),
        1
    );
    assert_eq!(hashes(|| map.update(Key(502), |e| *e.or_insert(0) += 1)), 1);
    assert_eq!(
        hashes(|| {
            let gomap_sync::sharded::Entry::Occupied(e) = map.entry(Key(500)) else {
                panic!("occupied");
            };
            assert_eq!(e.replace_entry(7), (Key(500), 2));
        }),
        1
    );
    assert_eq!(hashes(|| map.alter(&Key(500), |_, v| v + 1)), 1);
    assert_eq!(map.get_cloned(&Key(500)), Some(8));
    // Removals.
    assert_eq!(hashes(|| assert_eq!(map.remove(&Key(4)), Some(4))), 1);
    assert_eq!(
        hashes(|| assert_eq!(map.remove_entry(&Key(5)), Some((Key(5), 5)))),
        1
    );
    assert_eq!(
        hashes(|| assert_eq!(map.remove_if(&Key(6), |_, v| *v == 6), Some((Key(6), 6)))),
        1
    );
    let view = map.into_read_only();
    assert_eq!(hashes(|| assert_eq!(view.get(&Key(7)), Some(&7))), 1);
}
