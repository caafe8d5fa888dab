//! Feature `rayon`: every parallel iterator of `HashMap` and `HashSet`
//! yields what its serial twin yields, each entry once — on settled maps,
//! maps in the middle of a grow and in the middle of a shrink (both bucket
//! arrays split across threads) — and the draining ones leak nothing and
//! drop nothing twice, even when the consumer panics or stops early.
#![cfg(feature = "rayon")]

mod common;

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use common::sized;
use gomap::{HashMap, HashSet, MigrationKind};
use rayon::prelude::*;

/// Entries in the test maps (a few hundred keep Miri's run short; a grow
/// with more than 128 entries left to move stays running after its write).
const N: usize = sized(20_000, 220);
/// Entries a shrinking map starts from; it keeps one in eight.
const SHRINK_FROM: u64 = sized(8 * 20_000, 4 * 220) as u64;

/// Runs `f` on a pool of four threads, more than the machine may have, so
/// the bucket ranges really are walked side by side.
fn on_pool<R: Send>(f: impl FnOnce() -> R + Send) -> R {
    rayon::ThreadPoolBuilder::new()
        .num_threads(4)
        .build()
        .expect("a rayon pool")
        .install(f)
}

fn kind(map: &HashMap<u64, u64>) -> Option<MigrationKind> {
    map.mem_stats().migration.map(|m| m.kind)
}

/// At least `N` entries, inserted one at a time, stopped while a grow runs.
fn mid_grow() -> HashMap<u64, u64> {
    let mut map = HashMap::new();
    let mut k = 0;
    while !(map.len() >= N && kind(&map) == Some(MigrationKind::Grow)) {
        map.insert(k, k * 3);
        k += 1;
    }
    map
}

/// A map that kept one entry in eight of `SHRINK_FROM`, stopped while its shrink
/// runs.
fn mid_shrink() -> HashMap<u64, u64> {
    let mut map: HashMap<u64, u64> = (0..SHRINK_FROM).map(|k| (k, k * 3)).collect();
    map.finish_migration();
    map.retain(|k, _| k % 8 == 0);
    assert_eq!(kind(&map), Some(MigrationKind::Shrink));
    assert!(map.mem_stats().old_buckets > 0);
    map
}

fn settled() -> HashMap<u64, u64> {
    let mut map: HashMap<u64, u64> = (0..N as u64).map(|k| (k, k * 3)).collect();
    map.finish_migration();
    assert_eq!(kind(&map), None);
    map
}

/// The three states every test runs on, named for its messages.
fn maps() -> [(&'static str, HashMap<u64, u64>); 3] {
    [
        ("settled", settled()),
        ("mid-grow", mid_grow()),
        ("mid-shrink", mid_shrink()),
    ]
}

/// A set in the state `maps` names, built as its map is (a grow starts at
/// a count of entries, so the same inserts reach the same state).
fn set_in(state: &str) -> HashSet<u64> {
    let mut set = HashSet::new();
    match state {
        "mid-grow" => {
            let mut k = 0;
            while !(set.len() >= N
                && set.mem_stats().migration.map(|m| m.kind) == Some(MigrationKind::Grow))
            {
                set.insert(k);
                k += 1;
            }
        }
        "mid-shrink" => {
            set.extend(0..SHRINK_FROM);
            set.finish_migration();
            set.retain(|k| k % 8 == 0);
        }
        _ => {
            set.extend(0..N as u64);
            set.finish_migration();
        }
    }
    set
}

fn sorted<T: Ord>(mut items: Vec<T>) -> Vec<T> {
    items.sort_unstable();
    items
}

#[test]
fn par_iter_yields_every_entry_once_as_iter_does() {
    for (state, map) in maps() {
        let serial = sorted(map.iter().collect::<Vec<_>>());
        let parallel = sorted(on_pool(|| map.par_iter().collect::<Vec<_>>()));
        assert_eq!(parallel.len(), map.len(), "{state}: count");
        assert_eq!(parallel, serial, "{state}");
        assert!(
            kind(&map).is_some() || state == "settled",
            "{state}: reads move nothing"
        );
    }
}

#[test]
fn par_keys_and_par_values_yield_what_keys_and_values_do() {
    for (state, map) in maps() {
        let keys = on_pool(|| map.par_keys().copied().collect::<Vec<_>>());
        assert_eq!(
            sorted(keys),
            sorted(map.keys().copied().collect()),
            "{state}"
        );
        let values = on_pool(|| map.par_values().copied().collect::<Vec<_>>());
        assert_eq!(
            sorted(values),
            sorted(map.values().copied().collect()),
            "{state}"
        );
        assert_eq!(
            on_pool(|| map.par_values().sum::<u64>()),
            map.values().sum::<u64>()
        );
    }
}

#[test]
fn par_iter_mut_and_par_values_mut_reach_every_value_once() {
    for (state, mut map) in maps() {
        let mut expected: Vec<(u64, u64)> = map.iter().map(|(&k, &v)| (k, v + k + 1)).collect();
        on_pool(|| (&mut map).into_par_iter().for_each(|(k, v)| *v += k));
        on_pool(|| map.par_values_mut().for_each(|v| *v += 1));
        assert_eq!(
            sorted(map.iter().map(|(&k, &v)| (k, v)).collect()),
            sorted(expected.clone()),
            "{state}"
        );
        // `par_iter_mut` comes with rayon's prelude.
        on_pool(|| map.par_iter_mut().for_each(|(_, v)| *v = 0));
        expected.iter_mut().for_each(|(_, v)| *v = 0);
        assert_eq!(
            sorted(map.iter().map(|(&k, &v)| (k, v)).collect()),
            sorted(expected),
            "{state}"
        );
    }
}

#[test]
fn into_par_iter_moves_every_entry_out_once() {
    for (state, map) in maps() {
        let serial = sorted(map.iter().map(|(&k, &v)| (k, v)).collect::<Vec<_>>());
        let parallel = sorted(on_pool(|| map.into_par_iter().collect::<Vec<_>>()));
        assert_eq!(parallel, serial, "{state}");
    }
}

#[test]
fn par_drain_empties_the_map_keeps_its_array_and_leaves_it_usable() {
    for (state, mut map) in maps() {
        let serial = sorted(map.iter().map(|(&k, &v)| (k, v)).collect::<Vec<_>>());
        let buckets = map.mem_stats().buckets;
        let drained = sorted(on_pool(|| map.par_drain().collect::<Vec<_>>()));
        assert_eq!(drained, serial, "{state}");
        let stats = map.mem_stats();
        assert_eq!((map.len(), stats.len), (0, 0), "{state}");
        assert_eq!(stats.migration, None, "{state}: the old array is freed");
        assert_eq!(stats.buckets, buckets, "{state}: the current array is kept");
        assert_eq!(map.iter().count(), 0, "{state}");
        map.insert(7, 8);
        assert_eq!(map.get(&7), Some(&8));
        assert_eq!(map.len(), 1);
    }
}

/// A value that counts its making and its drops.
struct Tracked {
    counts: Arc<Counts>,
}

#[derive(Default)]
struct Counts {
    made: AtomicUsize,
    dropped: AtomicUsize,
}

impl Tracked {
    fn new(counts: &Arc<Counts>) -> Self {
        counts.made.fetch_add(1, Ordering::Relaxed);
        Tracked {
            counts: Arc::clone(counts),
        }
    }
}

impl Drop for Tracked {
    fn drop(&mut self) {
        self.counts.dropped.fetch_add(1, Ordering::Relaxed);
    }
}

impl Counts {
    fn assert_all_dropped_once(&self, what: &str) {
        let made = self.made.load(Ordering::Relaxed);
        assert_eq!(
            self.dropped.load(Ordering::Relaxed),
            made,
            "{what}: made {made}"
        );
    }
}

const STATES: [&str; 3] = ["settled", "mid-grow", "mid-shrink"];

/// A map in `state` (as `maps()` makes them) of `Tracked` values.
fn tracked(state: &str, counts: &Arc<Counts>) -> HashMap<u64, Tracked> {
    let mut map: HashMap<u64, Tracked> = HashMap::new();
    match state {
        "settled" => {
            map.extend((0..N as u64).map(|k| (k, Tracked::new(counts))));
            map.finish_migration();
        }
        "mid-grow" => {
            let mut k = 0;
            while !(map.len() >= N
                && map.mem_stats().migration.map(|m| m.kind) == Some(MigrationKind::Grow))
            {
                map.insert(k, Tracked::new(counts));
                k += 1;
            }
        }
        _ => {
            map.extend((0..SHRINK_FROM).map(|k| (k, Tracked::new(counts))));
            map.finish_migration();
            map.retain(|k, _| k % 8 == 0);
            assert_eq!(
                map.mem_stats().migration.map(|m| m.kind),
                Some(MigrationKind::Shrink)
            );
        }
    }
    map
}

#[test]
fn a_panicking_par_drain_consumer_leaks_nothing_and_drops_nothing_twice() {
    for state in STATES {
        let counts = Arc::new(Counts::default());
        let mut map = tracked(state, &counts);
        let seen = AtomicUsize::new(0);
        let result = catch_unwind(AssertUnwindSafe(|| {
            on_pool(|| {
                map.par_drain().for_each(|(_, value)| {
                    if seen.fetch_add(1, Ordering::Relaxed) == 10 {
                        panic!("consumer gives up");
                    }
                    drop(value);
                })
            })
        }));
        assert!(result.is_err(), "{state}: the panic reaches the caller");
        assert!(map.is_empty(), "{state}");
        assert_eq!(map.mem_stats().migration, None, "{state}");
        map.insert(1, Tracked::new(&counts));
        assert_eq!(map.len(), 1);
        drop(map);
        counts.assert_all_dropped_once(state);
    }
}

#[test]
fn a_panicking_into_par_iter_consumer_leaks_nothing_and_drops_nothing_twice() {
    for state in STATES {
        let counts = Arc::new(Counts::default());
        let map = tracked(state, &counts);
        let seen = AtomicUsize::new(0);
        let result = catch_unwind(AssertUnwindSafe(|| {
            on_pool(|| {
                map.into_par_iter().for_each(|(_, value)| {
                    if seen.fetch_add(1, Ordering::Relaxed) == 10 {
                        panic!("consumer gives up");
                    }
                    drop(value);
                })
            })
        }));
        assert!(result.is_err(), "{state}: the panic reaches the caller");
        counts.assert_all_dropped_once(state);
    }
}

#[test]
fn a_drain_stopped_early_or_never_driven_drops_the_rest() {
    for state in STATES {
        let counts = Arc::new(Counts::default());
        let mut map = tracked(state, &counts);
        let found = on_pool(|| map.par_drain().find_any(|(k, _)| k % 2 == 0));
        assert!(found.is_some(), "{state}");
        drop(found);
        assert!(map.is_empty(), "{state}");
        map.insert(3, Tracked::new(&counts));
        drop(map.par_drain());
        assert!(map.is_empty(), "{state}: an undriven drain still empties");
        drop(map);
        counts.assert_all_dropped_once(state);
    }
    for state in STATES {
        let counts = Arc::new(Counts::default());
        let map = tracked(state, &counts);
        let taken = on_pool(|| map.into_par_iter().take_any(5).count());
        assert_eq!(taken, 5, "{state}");
        counts.assert_all_dropped_once(state);
    }
}

#[test]
fn par_iter_mut_keeps_owned_bytes_exact() {
    let mut map: HashMap<String, Vec<u8>> =
        (0..N).map(|i| (i.to_string(), vec![0; i % 7])).collect();
    map.track_owned_bytes(String::capacity, Vec::capacity);
    let truth = |map: &HashMap<String, Vec<u8>>| -> usize {
        map.iter().map(|(k, v)| k.capacity() + v.capacity()).sum()
    };
    assert_eq!(map.owned_bytes(), Some(truth(&map)));
    on_pool(|| {
        map.par_iter_mut().for_each(|(k, v)| {
            v.extend_from_slice(k.as_bytes());
            v.shrink_to_fit();
        })
    });
    assert_eq!(map.owned_bytes(), Some(truth(&map)), "read right after");
    map.insert("new".into(), vec![1; 100]);
    assert_eq!(map.owned_bytes(), Some(truth(&map)), "after the next write");
    on_pool(|| map.par_values_mut().for_each(Vec::clear));
    map.remove("0");
    assert_eq!(
        map.owned_bytes(),
        Some(truth(&map)),
        "values cleared in parallel"
    );
    map.par_drain().for_each(drop);
    assert_eq!(map.owned_bytes(), Some(0));
    assert_eq!(map.mem_stats().owned_bytes, 0);
}

#[test]
fn par_extend_and_collect_match_their_serial_twins() {
    // Duplicate keys: each key's value is the same, so the result does not
    // depend on which duplicate wins.
    let pairs: Vec<(u64, u64)> = (0..2 * N as u64)
        .map(|i| (i % N as u64, (i % N as u64) * 5))
        .collect();
    let serial: HashMap<u64, u64> = pairs.iter().copied().collect();
    let collected: HashMap<u64, u64> = on_pool(|| pairs.par_iter().copied().collect());
    assert_eq!(collected, serial);

    for (state, mut map) in maps() {
        let mut expected = map.clone();
        expected.extend(pairs.iter().copied());
        on_pool(|| map.par_extend(pairs.par_iter().copied()));
        assert_eq!(map, expected, "{state}: owned pairs");
    }
    for (state, mut map) in maps() {
        let mut expected = map.clone();
        expected.extend(pairs.iter().map(|(k, v)| (k, v)));
        on_pool(|| map.par_extend(pairs.par_iter().map(|(k, v)| (k, v))));
        assert_eq!(map, expected, "{state}: borrowed pairs");
    }
}

#[test]
fn set_parallel_iterators_match_their_serial_twins() {
    for (state, _) in maps() {
        let set = set_in(state);
        let other: HashSet<u64> = (0..N as u64).map(|k| k * 2).collect();
        let items = sorted(on_pool(|| set.par_iter().copied().collect::<Vec<_>>()));
        assert_eq!(
            items,
            sorted(set.iter().copied().collect()),
            "{state}: par_iter"
        );

        let ops: [(&str, Vec<u64>, Vec<u64>); 4] = [
            (
                "difference",
                on_pool(|| set.par_difference(&other).copied().collect()),
                set.difference(&other).copied().collect(),
            ),
            (
                "intersection",
                on_pool(|| set.par_intersection(&other).copied().collect()),
                set.intersection(&other).copied().collect(),
            ),
            (
                "symmetric_difference",
                on_pool(|| set.par_symmetric_difference(&other).copied().collect()),
                set.symmetric_difference(&other).copied().collect(),
            ),
            (
                "union",
                on_pool(|| set.par_union(&other).copied().collect()),
                set.union(&other).copied().collect(),
            ),
        ];
        for (op, parallel, serial) in ops {
            assert_eq!(sorted(parallel), sorted(serial), "{state}: {op}");
        }
        assert_eq!(set.par_is_disjoint(&other), set.is_disjoint(&other));
        assert_eq!(set.par_is_subset(&other), set.is_subset(&other));
        assert_eq!(set.par_is_superset(&set), set.is_superset(&set));
        assert!(set.par_eq(&set.clone()));
        assert!(!set.par_eq(&other));

        let mut extended = set.clone();
        let more: Vec<u64> = (N as u64..2 * N as u64).collect();
        on_pool(|| extended.par_extend(more.par_iter()));
        let mut expected = set.clone();
        expected.extend(more.iter());
        assert_eq!(extended, expected, "{state}: par_extend");
        let collected: HashSet<u64> = on_pool(|| more.par_iter().copied().collect());
        assert_eq!(
            collected,
            more.iter().copied().collect(),
            "{state}: collect"
        );

        let mut drained = set.clone();
        let out = sorted(on_pool(|| drained.par_drain().collect::<Vec<_>>()));
        assert_eq!(out, items, "{state}: par_drain");
        assert!(drained.is_empty());
        let owned = sorted(on_pool(|| set.into_par_iter().collect::<Vec<_>>()));
        assert_eq!(owned, items, "{state}: into_par_iter");
    }
}
