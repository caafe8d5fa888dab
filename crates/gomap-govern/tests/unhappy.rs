//! User code that panics or calls back into the registry: hooks, `update`
//! and `retain` closures, `Drop`. Nothing is left wedged or stale: after
//! every write the level follows the figures, the breaker opens as soon as
//! the map is under orange, a panic is caught, logged, counted and
//! recorded, and hooks may call any registry method.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use std::sync::Arc;
use std::time::Duration;

use gomap::ShrinkPolicy;
use gomap_govern::{
    EventKind, Governed, GovernedSharded, Hook, Level, Registry, RegistryConfig, SamplerState,
    Watermarks,
};

mod common;
use common::{eventually, finishes};

/// The level a map's published figures give, from scratch (no hysteresis
/// history): the level must be one that those figures allow.
fn level_allowed(marks: Watermarks, level: Level, value: u64) -> bool {
    marks.next_level(level, value) == level
}

fn hook_panics(registry: &Registry) -> Vec<(Hook, String)> {
    registry
        .events()
        .into_iter()
        .filter_map(|e| match e.kind {
            EventKind::HookPanicked { hook, message } => Some((hook, message)),
            _ => None,
        })
        .collect()
}

/// The issue this guards against: the level was set to red, the map shrank
/// under orange, and the hook panicked before the level was rechecked — so
/// `try_insert` refused new keys with the map nearly empty.
#[test]
fn a_panicking_on_orange_hook_leaves_no_stale_red() {
    let registry = Registry::new();
    let marks = Watermarks::bytes(64 << 10, 128 << 10, 256 << 10).unwrap();
    let calls = Arc::new(AtomicUsize::new(0));
    let seen = calls.clone();
    // Built with room far past red: the first write finds it at red, and
    // orange's shrink gives the room back.
    let mut map: Governed<u64, u64> = Governed::builder("big")
        .registry(&registry)
        .watermarks(marks)
        .capacity(100_000)
        .on_orange(move |_| {
            seen.fetch_add(1, Relaxed);
            panic!("the hook fails");
        })
        .build();
    map.insert(1, 1);
    assert_eq!(calls.load(Relaxed), 1);
    let bytes = map.report().figures.allocated_bytes;
    assert_eq!(bytes, map.mem_stats().allocated_bytes as u64);
    assert!(bytes < 64 << 10, "shrunk: {bytes}");
    assert_eq!(map.level(), Level::Green);
    assert!(map.try_insert(2, 2).is_ok(), "the breaker must be closed");

    let health = registry.health();
    assert_eq!(
        (health.on_orange_panics, health.on_total_orange_panics),
        (1, 0)
    );
    assert_eq!(
        hook_panics(&registry),
        [(Hook::OnOrange, "the hook fails".to_string())]
    );
    // The rise and the fall were recorded too.
    let levels: Vec<_> = registry
        .events()
        .iter()
        .filter_map(|e| e.level_change())
        .collect();
    assert_eq!(
        levels,
        [(Level::Green, Level::Red), (Level::Red, Level::Green)]
    );
}

#[test]
fn a_panicking_sharded_hook_leaves_no_stale_red() {
    let registry = Registry::new();
    let marks = Watermarks::entries(1_000, 2_000, 3_000).unwrap();
    let map: GovernedSharded<u64, u64> = GovernedSharded::builder("shared")
        .registry(&registry)
        .watermarks(marks)
        .on_orange(|_| panic!("the sharded hook fails"))
        .build();
    for k in 0..3_000 {
        map.insert(k, k);
    }
    assert_eq!(map.level(), Level::Red);
    assert_eq!(registry.health().on_orange_panics, 1);
    map.retain(|k, _| *k < 500);
    assert_eq!(map.level(), Level::Green);
    assert!(map.try_insert(10_000, 0).is_ok());
}

/// A panicking `update` closure: the write it made before panicking is
/// published and moves the level; orange's action (which runs user code)
/// waits for the next write.
#[test]
fn a_panicking_update_closure_still_publishes_and_moves_the_level() {
    let registry = Registry::new();
    let marks = Watermarks::entries(10, 20, 30).unwrap();
    let hooks = Arc::new(AtomicUsize::new(0));
    let seen = hooks.clone();
    let mut map: Governed<u64, u64> = Governed::builder("m")
        .registry(&registry)
        .watermarks(marks)
        .on_orange(move |_| {
            seen.fetch_add(1, Relaxed);
        })
        .build();
    map.extend((0..19).map(|k| (k, k)));
    assert_eq!(map.level(), Level::Yellow);
    let result = catch_unwind(AssertUnwindSafe(|| {
        map.update(19, |entry| {
            entry.or_insert(19);
            panic!("after inserting");
        })
    }));
    assert!(result.is_err());
    assert_eq!(map.report().figures.len, 20);
    assert_eq!(map.level(), Level::Orange);
    assert_eq!(hooks.load(Relaxed), 0, "no user code while unwinding");
    map.insert(100, 100);
    assert_eq!(hooks.load(Relaxed), 1, "the deferred orange action ran");
    assert_eq!(map.report().figures, {
        let s = map.mem_stats();
        gomap_govern::Figures {
            len: s.len as u64,
            allocated_bytes: s.allocated_bytes as u64,
            owned_bytes: s.owned_bytes as u64,
            buckets: s.buckets as u64,
            old_buckets: s.old_buckets as u64,
            overflow_buckets: s.overflow_buckets as u64,
            migration_evacuated: s.migration.map_or(0, |m| m.evacuated as u64),
            migration_total: s.migration.map_or(0, |m| m.total as u64),
        }
    });

    // Falling under orange inside a panicking closure opens the breaker.
    map.extend((200..230).map(|k| (k, k)));
    assert_eq!(map.level(), Level::Red);
    let _ = catch_unwind(AssertUnwindSafe(|| {
        map.retain(|k, _| {
            assert!(*k != 5, "fails halfway");
            false
        })
    }));
    let len = map.report().figures.len;
    assert_eq!(len, map.len() as u64);
    assert!(level_allowed(marks, map.level(), len));
    if len < 20 {
        assert!(map.try_insert(1_000, 0).is_ok());
    }
}

#[test]
fn a_panicking_sharded_update_closure_still_moves_the_level() {
    let registry = Registry::new();
    let marks = Watermarks::entries(10, 20, 30).unwrap();
    let map: GovernedSharded<u64, u64> = GovernedSharded::builder("s")
        .registry(&registry)
        .watermarks(marks)
        .build();
    for k in 0..29 {
        map.insert(k, k);
    }
    assert_eq!(map.level(), Level::Orange);
    let _ = catch_unwind(AssertUnwindSafe(|| {
        map.update(29, |entry| {
            entry.or_insert(29);
            panic!("after inserting");
        })
    }));
    assert_eq!(map.report().figures.len, 30);
    assert_eq!(map.level(), Level::Red);
    let _ = catch_unwind(AssertUnwindSafe(|| {
        map.update(0, |entry| {
            if let gomap::hash_map::Entry::Occupied(o) = entry {
                o.remove();
            }
            panic!("after removing");
        })
    }));
    map.retain(|k, _| *k < 5);
    assert_eq!(map.level(), Level::Green);
    assert!(map.try_insert(1_000, 0).is_ok());
}

/// A value whose `Drop` panics on cue.
struct Bomb(bool);

impl Drop for Bomb {
    fn drop(&mut self) {
        if self.0 && !std::thread::panicking() {
            panic!("a value's drop fails");
        }
    }
}

#[test]
fn a_panicking_drop_during_clear_still_publishes() {
    let registry = Registry::new();
    let mut map: Governed<u64, Bomb> = Governed::builder("bombs").registry(&registry).build();
    for k in 0..1_000 {
        map.insert(k, Bomb(k == 500));
    }
    assert!(catch_unwind(AssertUnwindSafe(|| map.clear())).is_err());
    assert_eq!(map.report().figures.len, map.len() as u64);
    assert_eq!(
        map.report().figures.allocated_bytes,
        map.mem_stats().allocated_bytes as u64
    );

    let sharded: GovernedSharded<u64, Bomb> = GovernedSharded::builder("sharded bombs")
        .registry(&registry)
        .build();
    for k in 0..1_000 {
        sharded.insert(k, Bomb(k == 500));
    }
    assert!(catch_unwind(AssertUnwindSafe(|| sharded.clear())).is_err());
    assert_eq!(sharded.report().figures.len, sharded.len() as u64);
    assert_eq!(
        sharded.report().figures.allocated_bytes,
        sharded.mem_stats().allocated_bytes as u64
    );
}

/// Hooks may call anything on the registry, including a sample from the
/// total's hook (which runs inside a sample).
#[test]
fn hooks_may_call_the_registry() {
    finishes("a total hook that samples", || {
        let registry = Registry::with_config(RegistryConfig {
            total_watermarks: Some(Watermarks::entries(10, 20, 30).unwrap()),
            ..RegistryConfig::default()
        });
        let calls = Arc::new(AtomicUsize::new(0));
        let seen = calls.clone();
        registry.on_total_orange(move |inside, _| {
            inside.sample();
            let _ = (
                inside.maps(),
                inside.totals(),
                inside.events(),
                inside.health(),
            );
            let _subscription = inside.subscribe();
            inside.export_metrics();
            seen.fetch_add(1, Relaxed);
        });
        let inside = registry.clone();
        let mut map: Governed<u64, u64> = Governed::builder("m")
            .registry(&registry)
            .watermarks(Watermarks::entries(5, 8, 1_000).unwrap())
            .on_orange(move |_| {
                inside.sample();
                let _ = (inside.maps(), inside.totals(), inside.health());
                // A hook may even make and fill another governed map.
                let mut other: Governed<u64, u64> = Governed::builder("made in a hook")
                    .registry(&inside)
                    .build();
                other.insert(1, 1);
            })
            .build();
        map.extend((0..25).map(|k| (k, k)));
        registry.sample();
        assert_eq!(calls.load(Relaxed), 1);
        assert_eq!(registry.totals().level, Level::Orange);
    });
}

#[test]
fn a_panicking_total_hook_does_not_stop_the_sampler() {
    let registry = Registry::with_config(RegistryConfig {
        total_watermarks: Some(Watermarks::entries(10, 20, 30).unwrap()),
        ..RegistryConfig::default()
    });
    registry.on_total_orange(|_, _| panic!("the total hook fails"));
    let mut map: Governed<u64, u64> = Governed::builder("m").registry(&registry).build();
    let sampler = registry.start_sampler(Duration::from_millis(1)).unwrap();
    assert_eq!(registry.health().sampler, SamplerState::Running);
    map.extend((0..25).map(|k| (k, k)));
    eventually("the total reaches orange", || {
        registry.totals().level == Level::Orange
    });
    eventually("the hook's panic is counted", || {
        registry.health().on_total_orange_panics == 1
    });
    // The sampler goes on: the total follows the map down.
    map.retain(|k, _| *k < 5);
    eventually("the total falls to green", || {
        registry.totals().level == Level::Green
    });
    assert_eq!(registry.health().sampler, SamplerState::Running);
    assert_eq!(
        hook_panics(&registry),
        [(Hook::OnTotalOrange, "the total hook fails".to_string())]
    );
    assert!(sampler.stop().is_ok());
    assert_eq!(registry.health().sampler, SamplerState::NotRunning);
}

/// The total's breaker: at red every map refuses new keys, and a map that
/// shrinks on the registry's request publishes and leaves it.
#[test]
fn a_map_under_orange_takes_new_keys_on_its_next_write() {
    let registry = Registry::new();
    let marks = Watermarks::bytes(16 << 10, 32 << 10, 64 << 10).unwrap();
    let mut map: Governed<u64, u64> = Governed::builder("never")
        .registry(&registry)
        .watermarks(marks)
        .build();
    map.set_shrink_policy(ShrinkPolicy::Never);
    for k in 0..20_000 {
        map.insert(k, k);
    }
    assert_eq!(map.level(), Level::Red);
    assert!(map.try_insert(1_000_000, 0).is_err());
    // Emptied under `Never`: still holds its peak, still red.
    map.retain(|_, _| false);
    assert_eq!(map.level(), Level::Red);
    // One write that gives the memory back opens the breaker at once.
    map.shrink_to_fit();
    assert_eq!(map.level(), Level::Green);
    assert!(map.try_insert(1_000_000, 0).is_ok());
}

/// Whatever the total hook captures is dropped with the registry: it is
/// handed the registry rather than holding it (which would keep both alive).
#[test]
fn a_registry_with_a_total_hook_is_freed() {
    struct Sentinel(Arc<AtomicUsize>);
    impl Drop for Sentinel {
        fn drop(&mut self) {
            self.0.fetch_add(1, Relaxed);
        }
    }
    let dropped = Arc::new(AtomicUsize::new(0));
    let registry = Registry::new();
    let sentinel = Sentinel(dropped.clone());
    registry.on_total_orange(move |registry, _| {
        let _ = (&sentinel, registry.maps());
    });
    let map: Governed<u64, u64> = Governed::builder("m").registry(&registry).build();
    drop(map);
    drop(registry);
    assert_eq!(
        dropped.load(Relaxed),
        1,
        "the hook (and the registry) leaked"
    );
}

/// A key whose `Hash` panics on the n-th call from when it is armed.
#[derive(PartialEq, Eq)]
struct Touchy(u64);

static HASHES_LEFT: std::sync::atomic::AtomicI64 = std::sync::atomic::AtomicI64::new(-1);

impl std::hash::Hash for Touchy {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        if HASHES_LEFT.fetch_sub(1, Relaxed) == 1 {
            panic!("hash fails during the shrink");
        }
        self.0.hash(state);
    }
}

/// Orange's shrink rehashes keys; when that panics, the hook still runs,
/// the figures and level follow the map, and the panic reaches the caller.
#[test]
fn a_hash_that_panics_in_orange_shrink_does_not_skip_the_hook() {
    let registry = Registry::new();
    let hooks = Arc::new(AtomicUsize::new(0));
    let seen = hooks.clone();
    let marks = Watermarks::bytes(64 << 10, 128 << 10, 256 << 10).unwrap();
    let mut map: Governed<Touchy, u64> = Governed::builder("touchy")
        .registry(&registry)
        .watermarks(marks)
        .capacity(100_000)
        .on_orange(move |_| {
            seen.fetch_add(1, Relaxed);
        })
        .build();
    // The insert hashes once; the shrink that orange starts hashes again.
    HASHES_LEFT.store(2, Relaxed);
    let result = catch_unwind(AssertUnwindSafe(|| map.insert(Touchy(1), 1)));
    HASHES_LEFT.store(-1, Relaxed);
    assert!(result.is_err(), "the shrink's panic reaches the caller");
    assert_eq!(hooks.load(Relaxed), 1, "the hook ran all the same");
    let figures = map.report().figures;
    assert_eq!(figures.len, map.len() as u64);
    assert_eq!(
        figures.allocated_bytes,
        map.mem_stats().allocated_bytes as u64
    );
    assert!(level_allowed(marks, map.level(), figures.allocated_bytes));
    // The map is usable and governed on.
    map.shrink_to_fit();
    assert!(level_allowed(
        marks,
        map.level(),
        map.report().figures.allocated_bytes
    ));
}

/// Two threads inserting and removing around the watermarks of one
/// sharded map: once they stop, the level is one the figures allow, and
/// the breaker is open whenever the map is under orange.
#[test]
fn sharded_levels_settle_on_the_figures_after_racing_writes() {
    let registry = Registry::new();
    let marks = Watermarks::entries(1_000, 2_000, 3_000).unwrap();
    let map: GovernedSharded<u64, u64> = GovernedSharded::builder("race")
        .registry(&registry)
        .watermarks(marks)
        .shard_amount(4)
        .build();
    for round in 0..20u64 {
        std::thread::scope(|s| {
            for t in 0..2u64 {
                let map = &map;
                s.spawn(move || {
                    let base = t << 40;
                    // Up through red, then down to a round-dependent level.
                    for i in 0..1_600 {
                        map.insert(base | i, i);
                    }
                    for i in 0..(1_600 - round * 75) {
                        map.remove(&(base | i));
                    }
                });
            }
        });
        let len = map.report().figures.len;
        assert_eq!(len, map.len() as u64);
        assert!(
            level_allowed(marks, map.level(), len),
            "round {round}: level {} with {len} entries",
            map.level()
        );
        if len < 2_000 {
            assert!(map.try_insert(u64::MAX, 0).is_ok(), "round {round}");
            map.remove(&u64::MAX);
        }
        map.retain(|_, _| false);
        assert_eq!(map.level(), Level::Green);
    }
}

/// A `tracing` subscriber that panics on every event.
struct PanickingLogger;

impl tracing::Subscriber for PanickingLogger {
    fn enabled(&self, _: &tracing::Metadata<'_>) -> bool {
        true
    }
    fn new_span(&self, _: &tracing::span::Attributes<'_>) -> tracing::span::Id {
        tracing::span::Id::from_u64(1)
    }
    fn record(&self, _: &tracing::span::Id, _: &tracing::span::Record<'_>) {}
    fn record_follows_from(&self, _: &tracing::span::Id, _: &tracing::span::Id) {}
    fn event(&self, _: &tracing::Event<'_>) {
        if !std::thread::panicking() {
            panic!("the logger fails");
        }
        // Logging while a panic unwinds would abort the process: the
        // test would never get here, so fail loudly in a way it notices.
        std::process::abort();
    }
    fn enter(&self, _: &tracing::span::Id) {}
    fn exit(&self, _: &tracing::span::Id) {}
}

/// No log line is written while a panic unwinds through a write (a
/// subscriber that panics there would abort the process): the level moves
/// at once, its report waits for the next write.
#[test]
fn no_log_line_while_a_write_unwinds() {
    let registry = Registry::new();
    let marks = Watermarks::entries(10, 20, 30).unwrap();
    let mut map: Governed<u64, u64> = Governed::builder("m")
        .registry(&registry)
        .watermarks(marks)
        .build();
    let sharded: GovernedSharded<u64, u64> = GovernedSharded::builder("s")
        .registry(&registry)
        .watermarks(marks)
        .build();
    map.extend((0..9).map(|k| (k, k)));
    for k in 0..9 {
        sharded.insert(k, k);
    }
    tracing::subscriber::with_default(PanickingLogger, || {
        let _ = catch_unwind(AssertUnwindSafe(|| {
            map.update(9, |entry| {
                entry.or_insert(9);
                panic!("after inserting");
            })
        }));
        let _ = catch_unwind(AssertUnwindSafe(|| {
            sharded.update(9, |entry| {
                entry.or_insert(9);
                panic!("after inserting");
            })
        }));
    });
    assert_eq!(
        (map.level(), sharded.level()),
        (Level::Yellow, Level::Yellow)
    );
    // Reported by the next write.
    map.insert(100, 100);
    sharded.insert(100, 100);
    let rises: Vec<_> = registry
        .events()
        .iter()
        .filter_map(|e| Some((e.map.clone()?, e.level_change()?)))
        .collect();
    assert_eq!(
        rises,
        [
            ("m".to_string(), (Level::Green, Level::Yellow)),
            ("s".to_string(), (Level::Green, Level::Yellow)),
        ]
    );
}
