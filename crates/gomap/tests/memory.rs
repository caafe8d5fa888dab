//! Giving memory back, asserted exactly with a counting allocator: the
//! 99 % removal, a sliding window, the hysteresis band (no thrash), and maps
//! in a bump arena.

mod common;

use bumpalo::Bump;
use common::keys::keys;
use common::CountingAlloc;
use gomap::{DefaultHashBuilder, HashMap, MemStats, ShrinkPolicy};

type Map = HashMap<u64, u64, DefaultHashBuilder, CountingAlloc>;

fn counted() -> (Map, CountingAlloc) {
    let alloc = CountingAlloc::default();
    (HashMap::new_in(alloc.clone()), alloc)
}

/// Bytes of a fresh map (grown insert by insert) holding `keys`.
fn fresh_bytes(keys: &[u64]) -> usize {
    let (mut fresh, alloc) = counted();
    fresh.extend(keys.iter().map(|&k| (k, k)));
    fresh.finish_migration();
    assert_eq!(fresh.mem_stats().allocated_bytes, alloc.live());
    alloc.live()
}

#[test]
fn removing_99_percent_gives_the_memory_back() {
    let all = keys(1_000_000, 1);
    let (mut map, alloc) = counted();
    for &k in &all {
        map.insert(k, k);
    }
    let peak = alloc.live();
    // Remove 99 % in random order (`all` is already scrambled).
    let (gone, kept) = all.split_at(990_000);
    for k in gone {
        assert!(map.remove(k).is_some());
        assert_eq!(map.mem_stats().allocated_bytes, alloc.live());
    }
    let after = alloc.live();
    let fresh = fresh_bytes(kept);
    println!(
        "peak {peak} B; after removing 99 %: {after} B = {:.2}x a fresh map holding the rest ({fresh} B); {:?}",
        after as f64 / fresh as f64,
        map.mem_stats()
    );
    assert!(after <= 2 * fresh, "{after} > 2 x {fresh}");
}

#[test]
fn extract_if_gives_the_memory_back_like_retain() {
    let all = keys(100_000, 3);
    let (mut map, alloc) = counted();
    map.extend(all.iter().map(|&k| (k, k)));
    map.finish_migration();
    let peak = alloc.live();
    // Take out 99 % through `extract_if`, half of it with an extractor
    // dropped part way (its overflow bucket and shrink bookkeeping are
    // the drop's).
    let kept: std::collections::HashSet<u64> = all[..1_000].iter().copied().collect();
    let first = map
        .extract_if(|k, _| !kept.contains(k))
        .take(50_000)
        .count();
    assert_eq!(first, 50_000);
    assert_eq!(map.mem_stats().allocated_bytes, alloc.live());
    let rest = map.extract_if(|k, _| !kept.contains(k)).count();
    assert_eq!(first + rest, 99_000);
    assert_eq!(map.mem_stats().allocated_bytes, alloc.live());
    assert!(
        map.mem_stats().migration.is_some(),
        "removing 99 % starts a shrink"
    );
    while map.step_migration(1024) {
        assert_eq!(map.mem_stats().allocated_bytes, alloc.live());
    }
    let after = alloc.live();
    let fresh = fresh_bytes(&all[..1_000]);
    assert!(after * 10 < peak, "{after} B of a {peak} B peak kept");
    assert!(after <= 2 * fresh, "{after} > 2 x {fresh}");
}

#[test]
fn never_keeps_the_peak_like_go() {
    let all = keys(100_000, 2);
    let (map, alloc) = counted();
    let mut map = map.with_shrink_policy(ShrinkPolicy::Never);
    map.extend(all.iter().map(|&k| (k, k)));
    map.finish_migration();
    let peak = alloc.live();
    for k in &all[..99_000] {
        map.remove(k);
    }
    let stats = map.mem_stats();
    assert_eq!(stats.allocated_bytes, alloc.live());
    assert!(alloc.live() * 2 > peak, "Never gave the bucket array back");
    assert_eq!(stats.migration, None);
}

#[test]
fn a_sliding_window_stays_flat() {
    const LIVE: usize = 100_000;
    let all = keys(LIVE + 1_000_000, 3);
    let (mut map, alloc) = counted();
    for &k in &all[..LIVE] {
        map.insert(k, k);
    }
    let warm = alloc.live();
    let mut highest = warm;
    for i in LIVE..all.len() {
        map.insert(all[i], 0);
        map.remove(&all[i - LIVE]);
        highest = highest.max(alloc.live());
        if i % 4096 == 0 {
            assert_eq!(map.mem_stats().allocated_bytes, alloc.live());
        }
    }
    let end = alloc.live();
    println!("after warm-up {warm} B, highest {highest} B, end {end} B");
    assert_eq!(map.len(), LIVE);
    assert!(end * 4 <= warm * 5, "end {end} > 1.25 x warm {warm}");
    assert!(highest <= 2 * warm, "highest {highest} > 2 x warm {warm}");
}

/// Migrations started by one write: a new `migration`, or a changed bucket
/// count (a tiny table can start and finish one in a single write).
fn started(before: &MemStats, after: &MemStats) -> usize {
    let new_migration = after.migration.is_some()
        && (before.migration.is_none()
            || before.migration.map(|m| (m.kind, m.total))
                != after.migration.map(|m| (m.kind, m.total))
            || after.migration.map(|m| m.evacuated) < before.migration.map(|m| m.evacuated));
    usize::from(new_migration || (after.migration.is_none() && before.buckets != after.buckets))
}

#[test]
fn no_thrash_at_any_grow_or_shrink_boundary() {
    let pool = keys(200_000, 4);
    for log2 in 1..=14u32 {
        let (mut map, _alloc) = counted();
        // Fill to exactly the grow threshold of 2^log2 buckets.
        let capacity = (13usize << log2) / 2;
        map.extend(pool[..capacity].iter().map(|&k| (k, k)));
        map.shrink_to_fit();
        assert_eq!(map.mem_stats().buckets, 1 << log2);
        // One key in and out, over and over, across the grow boundary.
        let mut count = 0;
        for round in 0..2_000 {
            let before = map.mem_stats();
            if round % 2 == 0 {
                map.insert(pool[capacity], 0);
            } else {
                map.remove(&pool[capacity]);
            }
            count += started(&before, &map.mem_stats());
        }
        assert_eq!(count, 1, "grow boundary of 2^{log2}: {count} migrations");

        // Down to just above the shrink threshold of 2^(log2+1) buckets,
        // then in and out across it.
        map.finish_migration();
        let shrink_at = ((13usize << (log2 + 1)) / 2).div_ceil(4);
        let mut live = map.len();
        while live > shrink_at {
            live -= 1;
            map.remove(&pool[live]);
        }
        map.finish_migration();
        let mut count = 0;
        for round in 0..2_000 {
            let before = map.mem_stats();
            if round % 2 == 0 {
                map.remove(&pool[live - 1]);
            } else {
                map.insert(pool[live - 1], 0);
            }
            count += started(&before, &map.mem_stats());
        }
        assert_eq!(
            count,
            1,
            "shrink boundary of 2^{}: {count} migrations",
            log2 + 1
        );

        // A random walk of the length around the shrink boundary, staying
        // inside the band: at most the one migration already counted.
        // (A quarter of the threshold either way keeps the walk inside the
        // band: a halving leaves room up to twice the threshold.)
        map.finish_migration();
        let mut count = 0;
        let reach = (shrink_at / 4).max(1);
        let steps = keys(4_000, u64::from(log2));
        for step in steps {
            let before = map.mem_stats();
            if step % 2 == 0 && live > shrink_at - reach {
                live -= 1;
                map.remove(&pool[live]);
            } else if live < shrink_at + reach {
                map.insert(pool[live], 0);
                live += 1;
            }
            count += started(&before, &map.mem_stats());
        }
        assert!(
            count <= 1,
            "random walk at 2^{}: {count} migrations",
            log2 + 1
        );
    }
}

#[test]
fn many_maps_in_one_arena_are_freed_with_it() {
    let arena = Bump::new();
    let mut maps: Vec<HashMap<u64, u64, DefaultHashBuilder, &Bump>> = Vec::new();
    for m in 0..50u64 {
        let mut map = HashMap::new_in(&arena);
        map.extend((0..1_000).map(|i| (i, i * m)));
        maps.push(map);
    }
    assert!(maps
        .iter()
        .enumerate()
        .all(|(m, map)| map[&7] == 7 * m as u64));
    let held: usize = maps.iter().map(|m| m.mem_stats().allocated_bytes).sum();
    assert!(held <= arena.allocated_bytes());
    drop(maps);
    drop(arena); // every map's memory goes back here, at once
}

#[test]
fn mem_stats_matches_what_the_arena_handed_out() {
    // One chunk big enough for everything, so the arena's used bytes are
    // exactly the map's blocks plus alignment padding.
    let arena = Bump::with_capacity(8 << 20);
    let before = arena.allocated_bytes() - arena.chunk_capacity();
    let mut map: HashMap<u64, u64, DefaultHashBuilder, &Bump> =
        HashMap::with_capacity_in(20_000, &arena);
    map.extend((0..20_000).map(|i| (i, i)));
    let used = arena.allocated_bytes() - arena.chunk_capacity() - before;
    let stats = map.mem_stats();
    assert_eq!(stats.migration, None);
    let blocks = 3 + stats.overflow_buckets;
    assert!(
        stats.allocated_bytes <= used && used <= stats.allocated_bytes + 16 * blocks,
        "arena used {used} B, map says {} B over {blocks} blocks",
        stats.allocated_bytes
    );
}

/// Filling a map after `reserve` (or `extend`, which reserves) never starts
/// a shrink: the room asked for stays until entries leave.
#[test]
fn filling_after_reserve_keeps_the_room() {
    let mut map: gomap::HashMap<u64, u64> = gomap::HashMap::new();
    map.reserve(10_000);
    let buckets = map.mem_stats().buckets;
    for i in 0..100 {
        map.insert(i, i);
        assert_eq!(
            map.mem_stats().migration,
            None,
            "insert {i} started a migration"
        );
    }
    assert_eq!(map.mem_stats().buckets, buckets);
    let mut extended: gomap::HashMap<u64, u64> = gomap::HashMap::new();
    extended.extend((0..1000).map(|i| (i, i)));
    assert_eq!(extended.migrations_started(gomap::MigrationKind::Shrink), 0);
    assert_eq!(extended.migrations_started(gomap::MigrationKind::Grow), 0);
    // Entries leaving re-arm the shrink.
    extended.retain(|k, _| *k < 10);
    assert_eq!(extended.migrations_started(gomap::MigrationKind::Shrink), 1);
}

/// `clear()` then `extend` with a few entries (a small reserve) still lets
/// the next writes give the peak array back.
#[test]
fn clear_then_small_extend_still_shrinks() {
    let mut map: gomap::HashMap<u64, u64> = gomap::HashMap::new();
    for i in 0..100_000 {
        map.insert(i, i);
    }
    let peak = map.mem_stats().buckets;
    map.clear();
    map.extend((0..10).map(|i| (i, i)));
    for i in 10..2_000 {
        map.insert(i, i);
        map.remove(&i);
    }
    let now = map.mem_stats();
    assert!(
        now.buckets * 64 < peak,
        "{} buckets left of {peak}",
        now.buckets
    );
    assert_eq!(map.len(), 10);
}

/// Removes keys until a shrink is running, and returns the map there: its
/// last write left it with two arrays.
fn left_mid_shrink(n: usize, seed: u64) -> (Map, CountingAlloc, Vec<u64>) {
    let all = keys(n, seed);
    let (mut map, alloc) = counted();
    map.extend(all.iter().map(|&k| (k, k)));
    map.finish_migration();
    let mut kept = all.clone();
    while map.mem_stats().migration.is_none() {
        let k = kept.pop().expect("a shrink starts before the map is empty");
        assert_eq!(map.remove(&k), Some(k));
    }
    assert!(map.mem_stats().old_buckets > 0);
    (map, alloc, kept)
}

#[test]
fn a_map_left_mid_shrink_holds_one_array_after_bounded_maintenance_steps() {
    const BUDGET: usize = 64;
    let (mut map, alloc, kept) = left_mid_shrink(100_000, 11);
    let start = map.mem_stats();
    // Each step does `BUDGET` entries' worth of work, an empty old bucket
    // costing 1/64 of an entry: the whole migration is at most this many.
    let bound = (start.len * 64 + start.old_buckets) / (64 * BUDGET) + 1;
    let mut steps = 0;
    while map.step_migration(BUDGET) {
        steps += 1;
        assert_eq!(map.mem_stats().allocated_bytes, alloc.live());
        assert!(steps <= bound, "still migrating after {steps} steps");
    }
    let done = map.mem_stats();
    assert_eq!((done.migration, done.old_buckets), (None, 0));
    assert!(done.buckets < start.old_buckets, "{start:?} -> {done:?}");
    assert_eq!(done.allocated_bytes, alloc.live());
    assert!(alloc.live() <= 2 * fresh_bytes(&kept), "{done:?}");
    assert!(kept.iter().all(|k| map.get(k) == Some(k)));
    assert_eq!(map.len(), kept.len());
    // Nothing left: a step is a no-op that says so.
    let calls = map.allocator_calls();
    assert!(!map.step_migration(BUDGET));
    assert_eq!(map.allocator_calls(), calls);
}

#[test]
fn a_shrink_of_a_small_map_ends_in_the_write_that_starts_it() {
    // A thousand entries or so: the whole shrink is within the small
    // remainder a write finishes (128 entries' worth of work after its own
    // share), so no write leaves this map with two arrays.
    for seed in 0..20 {
        let all = keys(1_000, 100 + seed);
        let (mut map, alloc) = counted();
        map.extend(all.iter().map(|&k| (k, k)));
        map.finish_migration();
        for (i, k) in all.iter().enumerate() {
            map.remove(k);
            let stats = map.mem_stats();
            assert_eq!(stats.allocated_bytes, alloc.live());
            if stats.len <= 140 {
                assert_eq!(stats.migration, None, "after {} removes", i + 1);
            }
        }
        assert!(map.migrations_started(gomap::MigrationKind::Shrink) > 0);
    }
}
