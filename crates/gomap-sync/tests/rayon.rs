//! Feature `rayon`: parallel iteration, extension and collection of the
//! sharded types give what their sequential twins give, and parallel
//! writes are observed.
#![cfg(all(feature = "rayon", not(loom)))]

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};

use gomap_sync::{ShardedMap, ShardedSet};
use rayon::prelude::*;

/// A value type with neither `Clone` nor `Copy`.
struct Opaque(u64);

#[test]
fn par_iter_visits_every_pair_once_without_clone() {
    let map: ShardedMap<u64, Opaque> = ShardedMap::with_shard_amount(16);
    for k in 0..5_000 {
        map.insert(k, Opaque(k * 3));
    }
    let seen: Vec<(u64, u64)> = map.par_iter().map(|r| (*r.key(), r.value().0)).collect();
    assert_eq!(seen.len(), 5_000);
    let seen: BTreeMap<u64, u64> = seen.into_iter().collect();
    assert_eq!(seen.len(), 5_000, "a pair visited twice");
    assert!(seen.iter().all(|(k, v)| *v == k * 3));
    let by_ref: u64 = (&map).into_par_iter().map(|r| r.value().0).sum();
    assert_eq!(by_ref, seen.values().sum::<u64>());
}

#[test]
fn par_iter_mut_edits_every_value_and_is_observed() {
    let map: ShardedMap<u64, Vec<u8>> = ShardedMap::with_shard_amount(8);
    let seen = Arc::new(Mutex::new(vec![0; map.shard_amount()]));
    let record = seen.clone();
    let map = map.with_observer(move |i, shard| {
        record.lock().unwrap()[i] = shard.values().map(Vec::len).sum::<usize>();
    });
    for k in 0..2_000 {
        map.insert(k, Vec::new());
    }
    map.par_iter_mut().for_each(|mut r| {
        let k = *r.key();
        r.value_mut().resize((k % 7) as usize, 0);
    });
    assert_eq!(map.len(), 2_000);
    let want: usize = (0..2_000u64).map(|k| (k % 7) as usize).sum();
    assert_eq!(map.iter().map(|r| r.len()).sum::<usize>(), want);
    assert_eq!(
        seen.lock().unwrap().iter().sum::<usize>(),
        want,
        "every shard observed after its edits"
    );
}

#[test]
fn into_par_iter_hands_out_every_pair_owned() {
    let map: ShardedMap<u64, String> = (0..3_000).map(|k| (k, k.to_string())).collect();
    let mut pairs: Vec<(u64, String)> = map.into_par_iter().collect();
    pairs.sort();
    assert_eq!(pairs.len(), 3_000);
    assert!(pairs.iter().all(|(k, v)| *v == k.to_string()));
}

#[test]
fn par_extend_and_collect_insert_every_pair_observed() {
    let map: ShardedMap<u64, u64> = (0..10_000u64).into_par_iter().map(|k| (k, k)).collect();
    assert_eq!(map.len(), 10_000);
    let seen = Arc::new(Mutex::new(vec![0; map.shard_amount()]));
    let record = seen.clone();
    let mut map = map.with_observer(move |i, shard| record.lock().unwrap()[i] = shard.len());
    (&map).par_extend((10_000..15_000u64).into_par_iter().map(|k| (k, k)));
    map.par_extend((15_000..20_000u64).into_par_iter().map(|k| (k, k)));
    // A key that comes again keeps one entry.
    map.par_extend((0..100u64).into_par_iter().map(|k| (k, 0)));
    assert_eq!(map.len(), 20_000);
    assert_eq!(seen.lock().unwrap().iter().sum::<usize>(), 20_000);
    assert_eq!(map.get_cloned(&50), Some(0));
    assert_eq!(map.get_cloned(&19_999), Some(19_999));
}

#[test]
fn sharded_set_parallel_items_match_the_sequential_ones() {
    let set: ShardedSet<u32> = (0..4_000u32).into_par_iter().map(|i| i % 1_000).collect();
    assert_eq!(set.len(), 1_000);
    let par: BTreeSet<u32> = set.par_iter().map(|r| *r).collect();
    let seq: BTreeSet<u32> = set.iter().map(|r| *r).collect();
    assert_eq!(par, seq);
    assert_eq!((&set).into_par_iter().count(), 1_000);
    let mut set = set;
    set.par_extend((1_000..2_000u32).into_par_iter());
    (&set).par_extend((0..10u32).into_par_iter());
    assert_eq!(set.len(), 2_000);
    let owned: BTreeSet<u32> = set.into_par_iter().collect();
    assert_eq!(owned, (0..2_000).collect());
}
