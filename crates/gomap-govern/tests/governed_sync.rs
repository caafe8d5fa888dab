//! `GovernedSyncMap`: a `SyncMap` in the registry. Its figures are its
//! `mem_stats` after every write — also after a storm of writes from many
//! threads, and after a write whose user code panicked —, its level follows
//! entries and bytes both ways, red refuses new keys, orange's hook runs
//! with no lock held and its panic is contained, and the registry forgets
//! the map when it drops.

use std::hash::{BuildHasherDefault, DefaultHasher};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::Relaxed};
use std::sync::{Arc, OnceLock};

use gomap_govern::{EventKind, Figures, GovernedSyncMap, Hook, Level, Registry, Watermarks};
use gomap_sync::SyncMapStats;

mod common;
use common::finishes;

/// What the figures must be for these stats: the live count, and both
/// tables' figures added up.
fn expected(stats: &SyncMapStats) -> Figures {
    let tables: Vec<_> = std::iter::once(&stats.read)
        .chain(stats.dirty.as_ref())
        .collect();
    let sum = |f: &dyn Fn(&gomap::MemStats) -> usize| tables.iter().map(|t| f(t) as u64).sum();
    Figures {
        len: stats.len as u64,
        allocated_bytes: sum(&|t| t.allocated_bytes),
        owned_bytes: 0,
        buckets: sum(&|t| t.buckets),
        old_buckets: sum(&|t| t.old_buckets),
        overflow_buckets: sum(&|t| t.overflow_buckets),
        migration_evacuated: sum(&|t| t.migration.map_or(0, |m| m.evacuated)),
        migration_total: sum(&|t| t.migration.map_or(0, |m| m.total)),
    }
}

fn assert_published<K, V, S: Clone>(map: &GovernedSyncMap<K, V, S>, what: &str) {
    assert_eq!(map.report().figures, expected(&map.mem_stats()), "{what}");
}

#[test]
fn the_registry_lists_a_sync_map_with_its_site_and_forgets_it_when_it_drops() {
    let registry = Registry::new();
    let builder = GovernedSyncMap::builder("flags").registry(&registry);
    // The site is where `build` is called.
    let (map, line): (GovernedSyncMap<u64, u64>, u32) = (builder.build(), line!());
    map.store(1, 1);
    let maps = registry.maps();
    assert_eq!(maps.len(), 1);
    assert_eq!((maps[0].name.as_str(), maps[0].kind), ("flags", "sync"));
    assert!(
        maps[0].site.starts_with(&format!("{}:{line}:", file!())),
        "{}",
        maps[0].site
    );
    assert_eq!(map.name(), "flags");
    assert_published(&map, "one store");
    drop(map);
    assert!(registry.maps().is_empty());
    assert_eq!(registry.totals().maps, 0);
}

#[test]
fn levels_rise_and_fall_with_entries() {
    let registry = Registry::new();
    let map: GovernedSyncMap<u64, u64> = GovernedSyncMap::builder("entries")
        .registry(&registry)
        .watermarks(Watermarks::entries(100, 200, 300).unwrap())
        .build();
    let mut seen = Vec::new();
    for k in 0..300 {
        map.store(k, k);
        if seen.last() != Some(&map.level()) {
            seen.push(map.level());
        }
        assert_eq!(map.report().figures.len, k + 1);
    }
    assert_eq!(
        seen,
        [Level::Green, Level::Yellow, Level::Orange, Level::Red]
    );
    for k in 0..300 {
        map.delete(&k);
    }
    assert_eq!(map.level(), Level::Green);
    assert_published(&map, "after the deletes");
    let changes: Vec<_> = registry
        .events()
        .iter()
        .filter_map(|e| e.level_change())
        .collect();
    assert_eq!(changes.first(), Some(&(Level::Green, Level::Yellow)));
    assert_eq!(changes.last().map(|c| c.1), Some(Level::Green));
}

#[test]
fn levels_rise_and_fall_with_bytes() {
    let registry = Registry::new();
    let map: GovernedSyncMap<u64, u64> = GovernedSyncMap::builder("bytes")
        .registry(&registry)
        .watermarks(Watermarks::bytes(4 << 10, 16 << 10, 64 << 10).unwrap())
        .build();
    let mut k = 0;
    while map.level() != Level::Red {
        map.store(k, k);
        assert_published(&map, "while filling");
        k += 1;
        assert!(k < 1_000_000, "never reached red");
    }
    assert!(map.report().figures.allocated_bytes >= 64 << 10);
    map.clear();
    assert_eq!(map.level(), Level::Green);
    assert_eq!(map.report().figures.allocated_bytes, 0);
    assert_eq!(map.report().counters.clears, 1);
    assert_published(&map, "after clear");
}

#[test]
fn red_refuses_new_keys_and_updates_existing_ones() {
    let registry = Registry::new();
    let map: GovernedSyncMap<u64, u64> = GovernedSyncMap::builder("breaker")
        .registry(&registry)
        .watermarks(Watermarks::entries(10, 20, 30).unwrap())
        .build();
    for k in 0..30 {
        assert!(map.try_store(k, k).is_ok());
    }
    assert_eq!(map.level(), Level::Red);
    let refused = map.try_store(99, 1).unwrap_err();
    assert_eq!((refused.key, refused.value), (99, 1));
    assert!(map.load(&99).is_none());
    assert!(map.try_store(5, 50).is_ok(), "existing keys still update");
    assert_eq!(*map.load(&5).unwrap(), 50);
    assert_eq!(map.report().counters.refused_inserts, 1);
    for k in 0..15 {
        map.delete(&k);
    }
    assert_eq!(map.level(), Level::Yellow);
    assert!(
        map.try_store(99, 1).is_ok(),
        "under orange the breaker closes"
    );
}

#[test]
fn figures_equal_mem_stats_once_a_write_storm_from_many_threads_ends() {
    let registry = Registry::new();
    let map: GovernedSyncMap<u64, u64> = GovernedSyncMap::builder("storm")
        .registry(&registry)
        .watermarks(Watermarks::entries(200, 400, 600).unwrap())
        .build();
    std::thread::scope(|s| {
        for t in 0..4u64 {
            let map = &map;
            s.spawn(move || {
                let mut x = t.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
                for i in 0..3_000u64 {
                    // xorshift: every thread its own sequence of keys.
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    let key = x % 800;
                    match i % 6 {
                        0 | 1 => map.store(key, i),
                        2 => map.delete(&key),
                        3 => drop(map.swap(key, i)),
                        4 => drop(map.load_or_store(key, i)),
                        _ => drop(map.compare_and_swap(&key, &i, i + 1)),
                    }
                }
            });
        }
    });
    assert_published(&map, "after the storm");
    let figures = map.report().figures;
    let marks = Watermarks::entries(200, 400, 600).unwrap();
    assert_eq!(
        marks.next_level(map.level(), figures.len),
        map.level(),
        "the level is one the figures allow"
    );
}

/// Table bytes of a bare `SyncMap`: both tables.
fn table_bytes<S: Clone>(map: &gomap_sync::SyncMap<u64, u64, S>) -> u64 {
    expected(&map.mem_stats()).allocated_bytes
}

/// A hasher with a fixed seed: a bare twin and a governed map holding the
/// same keys build the same tables.
type Fixed = BuildHasherDefault<DefaultHasher>;

#[test]
fn loads_that_promote_are_published_on_request() {
    let map: GovernedSyncMap<u64, u64> = GovernedSyncMap::builder("reads")
        .registry(&Registry::new())
        .build();
    (0..1_000).for_each(|k| map.store(k, k));
    map.range(|_, _| false); // one table: the read snapshot
    map.store(1_000, 0); // a new key: the dirty copy, a second table
    assert_published(&map, "two tables");
    while map.mem_stats().dirty.is_some() {
        assert!(map.load(&1_000).is_some()); // misses promote the copy
    }
    assert_ne!(
        map.report().figures,
        expected(&map.mem_stats()),
        "loads publish nothing"
    );
    map.publish();
    assert_published(&map, "after publish");
}

#[test]
fn a_red_left_stale_by_loads_never_refuses() {
    const N: u64 = 1_000;
    const MORE: u64 = 500;
    // The bytes of each step, measured on a bare twin doing what the
    // governed map will do (orange's promotion included).
    let twin: gomap_sync::SyncMap<u64, u64, Fixed> =
        gomap_sync::SyncMap::with_hasher(Fixed::default());
    let mut fill_peak = 0;
    for k in 0..N {
        twin.store(k, k);
        fill_peak = fill_peak.max(table_bytes(&twin));
    }
    twin.range(|_, _| false);
    let one = table_bytes(&twin);
    twin.store(N, 0);
    let two = table_bytes(&twin);
    twin.range(|_, _| false); // orange's action
    let promoted = table_bytes(&twin);
    for k in N + 1..=N + MORE {
        twin.store(k, k);
    }
    let grown_two = table_bytes(&twin);
    while twin.mem_stats().dirty.is_some() {
        assert!(twin.load(&(N + MORE)).is_some());
    }
    let grown_one = table_bytes(&twin);
    // Orange is reached only by the dirty copy of step two; red only by
    // the bigger copy of step three; back under orange with one table.
    let yellow = promoted / 2;
    let orange = fill_peak.max(promoted).max(grown_one) + 1;
    let red = two + 1;
    assert!(
        orange <= two && red <= grown_two,
        "{fill_peak} {one} {two} {promoted} {grown_two} {grown_one}"
    );

    let registry = Registry::new();
    let map: GovernedSyncMap<u64, u64, Fixed> = GovernedSyncMap::builder("stale")
        .registry(&registry)
        .watermarks(Watermarks::bytes(yellow, orange, red).unwrap())
        .build_with_hasher(Fixed::default());
    (0..N).for_each(|k| map.store(k, k));
    map.range(|_, _| false);
    assert!(map.level() < Level::Orange);
    map.store(N, 0);
    assert_eq!(
        map.level(),
        Level::Orange,
        "orange promoted, and stays in its band"
    );
    assert!(map.mem_stats().dirty.is_none());
    for k in N + 1..=N + MORE {
        map.store(k, k);
    }
    assert_eq!(map.level(), Level::Red);
    // Loads only: they promote the copy and free a table; no write
    // publishes that.
    while map.mem_stats().dirty.is_some() {
        assert!(map.load(&(N + MORE)).is_some());
    }
    assert_eq!(table_bytes_of(&map), grown_one);
    assert_eq!(map.level(), Level::Red, "stale until something publishes");
    assert!(
        map.try_store(N + MORE + 1, 0).is_ok(),
        "the breaker looks at fresh figures before it refuses"
    );
    assert_published(&map, "after try_store");
}

fn table_bytes_of<S: Clone>(map: &GovernedSyncMap<u64, u64, S>) -> u64 {
    expected(&map.mem_stats()).allocated_bytes
}

/// A value whose drop panics when armed.
struct Bomb(bool);

impl Drop for Bomb {
    fn drop(&mut self) {
        if self.0 && !std::thread::panicking() {
            panic!("the value's drop fails");
        }
    }
}

#[test]
fn a_write_whose_drop_panics_still_publishes_and_moves_the_level() {
    let registry = Registry::new();
    let map: Arc<GovernedSyncMap<u64, Bomb>> = Arc::new(
        GovernedSyncMap::builder("bombs")
            .registry(&registry)
            .watermarks(Watermarks::entries(100, 200, 300).unwrap())
            .build(),
    );
    for k in 0..300 {
        map.store(k, Bomb(k == 0));
    }
    assert_eq!(map.level(), Level::Red);
    for k in 1..=100 {
        map.delete(&k);
    }
    assert_eq!(map.level(), Level::Red, "red leaves only under orange");
    // The delete takes key 0 out, then its value's drop panics.
    let result = catch_unwind(AssertUnwindSafe(|| map.delete(&0)));
    assert!(result.is_err());
    assert_eq!(map.report().figures.len, 199);
    assert_eq!(
        map.level(),
        Level::Yellow,
        "the level followed the panicked write"
    );
    assert_published(&map, "after the panicked write");
    // Nothing is wedged: the next write goes through and reports the fall.
    let again = map.clone();
    finishes("a write after a panic", move || again.delete(&101));
    assert_eq!(map.report().figures.len, 198);
    let changes: Vec<_> = registry
        .events()
        .iter()
        .filter_map(|e| e.level_change())
        .collect();
    assert_eq!(changes.last(), Some(&(Level::Red, Level::Yellow)));
}

#[test]
fn orange_promotes_and_calls_the_hook_after_the_write_with_no_lock_held() {
    let registry = Registry::new();
    let slot: Arc<OnceLock<Arc<GovernedSyncMap<u64, u64>>>> = Arc::new(OnceLock::new());
    let inside = slot.clone();
    let calls = Arc::new(AtomicUsize::new(0));
    let counted = calls.clone();
    let map = Arc::new(
        GovernedSyncMap::builder("hooked")
            .registry(&registry)
            .watermarks(Watermarks::entries(10, 20, 30).unwrap())
            .on_orange(move |_| {
                counted.fetch_add(1, Relaxed);
                // Writing to the map itself deadlocks if any of its locks
                // were held. (Key 0 is in the snapshot: the store adds no
                // dirty map.)
                let map = inside.get().expect("set before the first write");
                map.store(0, 1_000);
                let _ = map.mem_stats();
            })
            .build(),
    );
    assert!(slot.set(map.clone()).is_ok());
    let writer = map.clone();
    finishes("stores past orange", move || {
        for k in 0..20 {
            writer.store(k, k);
        }
    });
    assert_eq!(calls.load(Relaxed), 1);
    assert!(
        map.mem_stats().dirty.is_none(),
        "orange promoted the dirty map"
    );
    assert_eq!(*map.load(&0).unwrap(), 1_000, "the hook's own store landed");
    assert_published(&map, "after orange");
}

#[test]
fn a_panicking_hook_is_contained() {
    let registry = Registry::new();
    let panicked = Arc::new(AtomicBool::new(false));
    let flag = panicked.clone();
    let map: GovernedSyncMap<u64, u64> = GovernedSyncMap::builder("fragile")
        .registry(&registry)
        .watermarks(Watermarks::entries(10, 20, 30).unwrap())
        .on_orange(move |_| {
            flag.store(true, Relaxed);
            panic!("the hook fails");
        })
        .build();
    for k in 0..30 {
        map.store(k, k); // the write that reaches orange returns normally
    }
    assert!(panicked.load(Relaxed));
    assert_eq!(map.level(), Level::Red);
    assert_eq!(registry.health().on_orange_panics, 1);
    let hook_panics: Vec<_> = registry
        .events()
        .into_iter()
        .filter_map(|e| match e.kind {
            EventKind::HookPanicked { hook, message } => Some((hook, message)),
            _ => None,
        })
        .collect();
    assert_eq!(
        hook_panics,
        [(Hook::OnOrange, "the hook fails".to_string())]
    );
    for k in 0..25 {
        map.delete(&k);
    }
    assert_eq!(map.level(), Level::Green);
    assert!(map.try_store(100, 0).is_ok(), "no stale red");
    assert_published(&map, "after the fall");
}
