//! A `ShardedMap` that keeps owned bytes keeps them through the operations
//! that swap in fresh shards (`reset`, `take`, `take_shards`): the empty
//! shards measure as the old ones did.
#![cfg(not(loom))]

use gomap_sync::ShardedMap;

fn tracked() -> ShardedMap<u32, Vec<u8>> {
    let map = ShardedMap::with_shard_amount(4);
    map.track_owned_bytes(|_| 0, Vec::capacity);
    for k in 0..64 {
        map.insert(k, Vec::with_capacity(10));
    }
    assert_eq!(map.mem_stats().owned_bytes, 640);
    map
}

/// Owned bytes after inserting one value with 100 bytes of capacity.
fn owned_after_one_insert(map: &ShardedMap<u32, Vec<u8>>) -> usize {
    map.insert(1_000, Vec::with_capacity(100));
    map.mem_stats().owned_bytes
}

#[test]
fn reset_keeps_owned_bytes_tracking() {
    let map = tracked();
    map.reset();
    assert_eq!(map.mem_stats().owned_bytes, 0);
    assert_eq!(owned_after_one_insert(&map), 100);
}

#[test]
fn take_keeps_owned_bytes_tracking_on_both_sides() {
    let map = tracked();
    let old = map.take();
    assert_eq!(old.owned_bytes(), Some(640));
    assert_eq!(owned_after_one_insert(&map), 100);
}

#[test]
fn take_shards_keeps_owned_bytes_tracking_on_both_sides() {
    let map = tracked();
    let shards = map.take_shards();
    let taken: usize = shards
        .iter()
        .map(|shard| shard.owned_bytes().unwrap())
        .sum();
    assert_eq!(taken, 640);
    assert_eq!(owned_after_one_insert(&map), 100);
}
