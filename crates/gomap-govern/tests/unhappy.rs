//! User code that panics or calls back into the registry: hooks, `update`
//! and `retain` closures, `Drop`. Nothing is left wedged or stale: after
//! every write the level follows the figures, the breaker opens as soon as
//! the map is under orange, a panic is caught, logged, counted and
//! recorded, and hooks may call any registry method.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use std::sync::{mpsc, Arc};
use std::time::Duration;

use gomap::ShrinkPolicy;
use gomap_govern::{
    EventKind, Governed, GovernedSharded, Hook, Level, Registry, RegistryConfig, SamplerState,
    Watermarks,
};

/// Runs `f` on its own thread and fails if it has not finished after a
/// minute: a deadlock detector, not a speed check.
fn finishes<T: Send + 'static>(what: &str, f: impl FnOnce() -> T + Send + 'static) -> T {
    let (tx, rx) = mpsc::channel();
    let thread = std::thread::spawn(move || {
        let _ = tx.send(f());
    });
    match rx.recv_timeout(Duration::from_secs(60)) {
        Ok(value) => {
            thread.join().unwrap();
            value
        }
        Err(mpsc::RecvTimeoutError::Disconnected) => {
            std::panic::resume_unwind(thread.join().unwrap_err())
        }
        Err(mpsc::RecvTimeoutError::Timeout) => {
            panic!("{what}: still running after a minute (deadlock?)")
        }
    }
}

/// Polls `ready` for up to a minute.
fn eventually(what: &str, ready: impl Fn() -> bool) {
    for _ in 0..6_000 {
        if ready() {
            return;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    panic!("{what}: not after a minute");
}

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
        let inside = registry.clone();
        let calls = Arc::new(AtomicUsize::new(0));
        let seen = calls.clone();
        registry.on_total_orange(move |_| {
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
    registry.on_total_orange(|_| panic!("the total hook fails"));
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
