//! Model checks of the concurrency protocols with loom: every interleaving
//! of the threads below (up to a preemption bound) is run.
//!
//! ```text
//! RUSTFLAGS="--cfg loom" CARGO_TARGET_DIR=target/loom \
//!     cargo test --release -p gomap-sync --test loom
//! ```
#![cfg(loom)]

use std::collections::BTreeMap;
use std::hash::BuildHasherDefault;
use std::sync::Arc;

use gomap_sync::{ShardedMap, SyncMap};
use loom::thread;

/// A fixed hasher, so every model run places keys in the same shards.
type Fixed = BuildHasherDefault<std::collections::hash_map::DefaultHasher>;

fn model(f: impl Fn() + Sync + Send + 'static) {
    let mut builder = loom::model::Builder::new();
    builder.preemption_bound = Some(3);
    builder.max_branches = 100_000;
    builder.check(f);
}

fn contents(map: &SyncMap<u32, u32, Fixed>) -> BTreeMap<u32, u32> {
    let mut out = BTreeMap::new();
    map.range(|k, v| {
        out.insert(*k, *v);
        true
    });
    out
}

/// A deleted entry in the read map races a new key: the new key's store
/// builds the dirty map and tries to expunge the entry while another thread
/// stores into it without the lock. Whichever wins, no store is lost.
#[test]
fn expunge_races_a_lock_free_store() {
    model(|| {
        let map = Arc::new(SyncMap::<u32, u32, Fixed>::with_hasher(Fixed::default()));
        map.store(1, 10);
        assert_eq!(map.load(&1).map(|v| *v), Some(10)); // a miss: promotes
        map.delete(&1); // the read map's entry is now deleted
        let revive = {
            let map = map.clone();
            thread::spawn(move || map.store(1, 11))
        };
        map.store(2, 20); // new key: builds the dirty map, expunging 1 if still deleted
        revive.join().unwrap();
        assert_eq!(map.load(&1).map(|v| *v), Some(11));
        assert_eq!(map.load(&2).map(|v| *v), Some(20));
        assert_eq!(map.len(), 2);
        assert_eq!(contents(&map), BTreeMap::from([(1, 11), (2, 20)]));
    });
}

/// Loads that miss promote the dirty map while another thread adds and
/// deletes keys: every completed store is visible to later loads, and the
/// live count matches the contents.
#[test]
fn promotion_during_stores_and_deletes() {
    model(|| {
        let map = Arc::new(SyncMap::<u32, u32, Fixed>::with_hasher(Fixed::default()));
        map.store(1, 10);
        let reader = {
            let map = map.clone();
            thread::spawn(move || {
                for _ in 0..2 {
                    assert_eq!(map.load(&1).map(|v| *v), Some(10));
                }
            })
        };
        map.store(2, 20);
        assert_eq!(map.load_or_store(2, 21).1, true);
        assert_eq!(map.load_and_delete(&2).map(|v| *v), Some(20));
        assert!(map.load(&2).is_none());
        reader.join().unwrap();
        assert_eq!(contents(&map), BTreeMap::from([(1, 10)]));
        assert_eq!(map.len(), 1);
    });
}

/// Updates of a promoted key race `compare_and_swap`: exactly one of two
/// compare-and-swaps from the same old value wins.
#[test]
fn compare_and_swap_has_one_winner() {
    model(|| {
        let map = Arc::new(SyncMap::<u32, u32, Fixed>::with_hasher(Fixed::default()));
        map.store(1, 0);
        map.load(&1); // promote
        let other = {
            let map = map.clone();
            thread::spawn(move || map.compare_and_swap(&1, &0, 1))
        };
        let mine = map.compare_and_swap(&1, &0, 2);
        let theirs = other.join().unwrap();
        assert!(mine ^ theirs);
        assert_eq!(map.load(&1).map(|v| *v), Some(if mine { 2 } else { 1 }));
    });
}

/// `clear` is one atomic step: a concurrent `range` sees everything or
/// nothing of what was there, and a store after the clear is kept.
#[test]
fn sync_map_clear_is_all_or_nothing() {
    model(|| {
        let map = Arc::new(SyncMap::<u32, u32, Fixed>::with_hasher(Fixed::default()));
        map.store(1, 10);
        map.store(2, 20);
        let reader = {
            let map = map.clone();
            thread::spawn(move || contents(&map))
        };
        map.clear();
        map.store(3, 30);
        let seen = reader.join().unwrap();
        let before = BTreeMap::from([(1, 10), (2, 20)]);
        assert!(
            seen == before || seen.is_empty() || seen == BTreeMap::from([(3, 30)]),
            "a reader saw part of a clear: {seen:?}"
        );
        assert_eq!(contents(&map), BTreeMap::from([(3, 30)]));
        assert_eq!(map.len(), 1);
    });
}

/// A delete racing a clear: the delete may land on the old generation's
/// entry after the clear, and must not make `len` of the new one go wrong.
#[test]
fn len_survives_a_delete_racing_a_clear() {
    model(|| {
        let map = Arc::new(SyncMap::<u32, u32, Fixed>::with_hasher(Fixed::default()));
        map.store(1, 10);
        map.load(&1); // promote
        let deleter = {
            let map = map.clone();
            thread::spawn(move || map.delete(&1))
        };
        map.clear();
        deleter.join().unwrap();
        assert_eq!(map.len(), 0);
        map.store(1, 11);
        assert_eq!(map.len(), 1);
        assert_eq!(contents(&map), BTreeMap::from([(1, 11)]));
    });
}

/// Two shards, a key in each; one thread clears and then inserts, another
/// inserts into a shard, a reader takes a snapshot. The reader never sees
/// one shard cleared and the other not, and the insert after the clear is
/// never lost.
#[test]
fn sharded_clear_is_all_or_nothing() {
    model(|| {
        let map = Arc::new(
            ShardedMap::<u32, u32, Fixed>::with_capacity_and_hasher_and_shard_amount(
                0,
                Fixed::default(),
                2,
            ),
        );
        // Keys in both shards.
        (&*map).extend((0..8).map(|k| (k, k)));
        let mut initial: Vec<(u32, u32)> = map.read_all().iter().map(|(k, v)| (*k, *v)).collect();
        assert!(map.read_all().shards().all(|s| !s.is_empty()));
        initial.sort();
        let after = 1000;
        let reader = {
            let map = map.clone();
            thread::spawn(move || {
                let mut seen: Vec<(u32, u32)> =
                    map.read_all().iter().map(|(k, v)| (*k, *v)).collect();
                seen.sort();
                seen
            })
        };
        let writer = {
            let map = map.clone();
            thread::spawn(move || {
                map.update(after + 1, |e| *e.or_insert(0) += 1);
            })
        };
        map.clear();
        map.insert(after, after);
        let seen = reader.join().unwrap();
        writer.join().unwrap();
        let old: Vec<_> = seen.iter().filter(|(k, _)| *k < after).copied().collect();
        assert!(
            old == initial || old.is_empty(),
            "a reader saw half a clear: {seen:?} (before: {initial:?})"
        );
        if old == initial {
            assert!(
                !seen.iter().any(|(k, _)| *k == after),
                "saw a post-clear insert with pre-clear data"
            );
        }
        assert_eq!(map.get_cloned(&after), Some(after));
    });
}
