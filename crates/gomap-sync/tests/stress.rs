//! Real threads, bounded in count and in operations: no lost updates, every
//! value dropped exactly once, and readers iterating while a writer clears.
#![cfg(not(loom))]

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, AtomicIsize, AtomicUsize, Ordering};
use std::thread;

use gomap_sync::{ShardedMap, SyncMap};

const THREADS: u64 = 4;
const OPS: u64 = 20_000;

/// Values counted alive in a process-wide counter: created +1, dropped -1.
/// Each test binary's tests using it run one at a time (see `serial`).
static LIVE: AtomicIsize = AtomicIsize::new(0);
static SERIAL: parking_lot::Mutex<()> = parking_lot::Mutex::new(());

#[derive(Debug, PartialEq)]
struct Counted(u64);

impl Counted {
    fn new(v: u64) -> Self {
        LIVE.fetch_add(1, Ordering::Relaxed);
        Counted(v)
    }
}

impl Clone for Counted {
    fn clone(&self) -> Self {
        Counted::new(self.0)
    }
}

impl Drop for Counted {
    fn drop(&mut self) {
        LIVE.fetch_sub(1, Ordering::Relaxed);
    }
}

/// A small deterministic generator per thread.
fn rng(seed: u64) -> impl FnMut() -> u64 {
    let mut state = seed;
    move || {
        state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
}

#[test]
fn sharded_counters_lose_no_update() {
    let map: ShardedMap<u64, u64> = ShardedMap::with_shard_amount(4);
    thread::scope(|s| {
        for t in 0..THREADS {
            let map = &map;
            s.spawn(move || {
                let mut next = rng(t);
                for _ in 0..OPS {
                    // Half the keys through `update`, half through dashmap's
                    // entry API: both hold the shard's lock for the whole
                    // read-modify-write.
                    let key = next() % 64;
                    if key.is_multiple_of(2) {
                        map.update(key, |e| *e.or_insert(0) += 1);
                    } else {
                        *map.entry(key).or_insert(0) += 1;
                    }
                }
            });
        }
    });
    let total: u64 = map.iter().map(|r| *r).sum();
    assert_eq!(total, THREADS * OPS);
    // And per key: replay the generators.
    let mut expected = std::collections::HashMap::new();
    for t in 0..THREADS {
        let mut next = rng(t);
        for _ in 0..OPS {
            *expected.entry(next() % 64).or_insert(0) += 1;
        }
    }
    for (k, v) in expected {
        assert_eq!(map.get_cloned(&k), Some(v), "key {k}");
    }
}

#[test]
fn sharded_mixed_ops_drop_every_value_once() {
    let _serial = SERIAL.lock();
    let map: ShardedMap<u64, Counted> = ShardedMap::with_shard_amount(8);
    thread::scope(|s| {
        for t in 0..THREADS {
            let map = &map;
            s.spawn(move || {
                let mut next = rng(100 + t);
                for i in 0..OPS {
                    let r = next();
                    let key = r % 512;
                    match r >> 60 {
                        0..=5 => drop(map.insert(key, Counted::new(i))),
                        6..=8 => drop(map.remove(&key)),
                        9 => map.update(key, |e| {
                            e.or_insert_with(|| Counted::new(i));
                        }),
                        10 => match r & 7 {
                            0 => drop(map.get_cloned(&key)),
                            1 => map.entry(key).or_insert_with(|| Counted::new(i)).0 += 1,
                            2 => map.alter(&key, |_, v| Counted::new(v.0 + 1)),
                            3 => drop(map.remove_if(&key, |_, v| v.0 % 2 == 0)),
                            4 => {
                                if let Some(mut v) = map.get_mut(&key) {
                                    v.0 += 1;
                                }
                            }
                            5 => drop(map.get(&key).map(|r| r.0)),
                            6 if i % 500 == 0 => map.alter_all(|_, v| Counted::new(v.0 + 1)),
                            7 if i % 500 == 0 => map.iter_mut().for_each(|mut r| r.0 += 1),
                            _ => drop(map.try_get(&key).try_unwrap().map(|r| r.0)),
                        },
                        11 => map.retain(|k, _| k % 3 != 0),
                        12 if t == 0 && i % 1000 == 0 => map.clear(),
                        13 if t == 1 && i % 1000 == 0 => drop(map.take()),
                        14 if i % 2000 == 0 => map.shrink_to_fit(),
                        15 => drop(map.iter().count()),
                        _ => drop(map.read_all().iter().count()),
                    }
                }
            });
        }
    });
    assert_eq!(LIVE.load(Ordering::Relaxed), map.len() as isize);
    assert_eq!(map.mem_stats().len, map.len());
    drop(map);
    assert_eq!(LIVE.load(Ordering::Relaxed), 0);
}

#[test]
fn sync_map_compare_and_swap_counters_lose_no_update() {
    let map: SyncMap<u64, u64> = SyncMap::new();
    thread::scope(|s| {
        for t in 0..THREADS {
            let map = &map;
            s.spawn(move || {
                let mut next = rng(200 + t);
                for _ in 0..OPS {
                    let key = next() % 16;
                    loop {
                        let (current, _) = map.load_or_store(key, 0);
                        let current = *current;
                        if map.compare_and_swap(&key, &current, current + 1) {
                            break;
                        }
                    }
                }
            });
        }
    });
    let mut total = 0;
    map.range(|_, v| {
        total += v;
        true
    });
    assert_eq!(total, THREADS * OPS);
    assert_eq!(map.len(), 16);
}

#[test]
fn sync_map_mixed_ops_drop_every_value_once() {
    let _serial = SERIAL.lock();
    let map: SyncMap<u64, Counted> = SyncMap::new();
    thread::scope(|s| {
        for t in 0..THREADS {
            let map = &map;
            s.spawn(move || {
                let mut next = rng(300 + t);
                for i in 0..OPS {
                    let r = next();
                    // Mostly a small hot set (promoted, updated in place),
                    // sometimes new keys (dirty map, expunging).
                    let key = if r & 7 == 0 { r % 4096 } else { (r >> 3) % 32 };
                    match (r >> 58) & 15 {
                        0..=4 => drop(map.load(&key)),
                        5..=7 => {
                            map.store(key, Counted::new(i));
                        }
                        8 => drop(map.swap(key, Counted::new(i))),
                        9 => drop(map.load_or_store(key, Counted::new(i))),
                        10..=11 => drop(map.load_and_delete(&key)),
                        12 => map.delete(&key),
                        13 if i % 500 == 0 => map.clear(),
                        14 => {
                            let mut n = 0;
                            map.range(|_, _| {
                                n += 1;
                                n < 100
                            });
                        }
                        _ => {
                            if let Some(v) = map.load(&key) {
                                map.compare_and_delete(&key, &v);
                            }
                        }
                    }
                }
            });
        }
    });
    let mut live = 0;
    map.range(|_, _| {
        live += 1;
        true
    });
    assert_eq!(map.len(), live);
    assert_eq!(LIVE.load(Ordering::Relaxed), live as isize);
    drop(map);
    assert_eq!(LIVE.load(Ordering::Relaxed), 0);
}

/// A production case: readers iterate while a writer empties the
/// map. With `ShardedMap::clear` (every shard's write lock at once) each
/// snapshot a reader takes is the map between two clears: one generation's
/// values, and exactly the keys that generation had inserted so far (a
/// prefix of its insertion order) — never a map with some shards cleared and
/// others not.
#[test]
fn case_3_readers_iterating_while_a_writer_clears() {
    const KEYS: u64 = 256;
    const ROUNDS: u64 = 300;
    let map: ShardedMap<u64, u64> = ShardedMap::with_shard_amount(16);
    let done = AtomicBool::new(false);
    let snapshots = AtomicUsize::new(0);
    let start = std::sync::Barrier::new(3);
    thread::scope(|s| {
        s.spawn(|| {
            start.wait();
            for generation in 0..ROUNDS {
                for k in 0..KEYS {
                    map.insert(k, generation);
                }
                map.clear();
            }
            done.store(true, Ordering::Release);
        });
        for _ in 0..2 {
            s.spawn(|| {
                start.wait();
                loop {
                    // Snapshot first, then look at `done`: every reader
                    // takes at least one snapshot while the writer runs or
                    // right after.
                    let finished = done.load(Ordering::Acquire);
                    let snapshot: Vec<(u64, u64)> =
                        map.read_all().iter().map(|(k, g)| (*k, *g)).collect();
                    let keys: HashSet<u64> = snapshot.iter().map(|(k, _)| *k).collect();
                    let generations: HashSet<u64> = snapshot.iter().map(|(_, g)| *g).collect();
                    assert!(generations.len() <= 1, "two generations in one snapshot");
                    assert!(
                        (0..keys.len() as u64).all(|k| keys.contains(&k)),
                        "a snapshot with a hole: some shards cleared, others not"
                    );
                    snapshots.fetch_add(1, Ordering::Relaxed);
                    if finished {
                        break;
                    }
                }
            });
        }
    });
    assert!(snapshots.load(Ordering::Relaxed) > 0);
    assert!(map.is_empty());
}
