//! Governed maps, the registry, levels and their actions, trends, metrics.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use gomap_govern::{
    EventKind, Governed, GovernedSharded, Level, Measure, Registry, RegistryConfig, WatermarkError,
    Watermarks,
};

#[test]
fn bad_watermarks_are_rejected_with_a_clear_error() {
    assert_eq!(Watermarks::bytes(0, 1, 2), Err(WatermarkError::Zero));
    let err = Watermarks::entries(300, 200, 100).unwrap_err();
    assert_eq!(
        err.to_string(),
        "watermarks must increase: yellow < orange < red, got yellow=300, orange=200, red=100"
    );
    assert!(Watermarks::bytes(10, 10, 20).is_err());
    assert!(Watermarks::bytes(10, 20, 20).is_err());
    assert_eq!(
        Watermarks::bytes(1, 2, 3).unwrap().measure(),
        Measure::Bytes
    );
}

#[test]
fn levels_rise_at_once_and_fall_with_hysteresis() {
    let w = Watermarks::entries(100, 200, 300).unwrap();
    use Level::*;
    let path = [
        (Green, 99, Green),
        (Green, 100, Yellow),
        (Green, 300, Red),
        (Yellow, 95, Yellow), // inside 90 % of yellow
        (Yellow, 89, Green),
        (Orange, 150, Orange), // not under yellow yet
        (Orange, 99, Green),
        (Red, 250, Red), // red leaves only under orange
        (Red, 199, Yellow),
        (Yellow, 200, Orange),
    ];
    for (from, value, to) in path {
        assert_eq!(w.next_level(from, value), to, "{from} at {value}");
    }
}

#[test]
fn the_registry_knows_every_live_map_and_where_it_was_made() {
    let registry = Registry::new();
    let line = line!() + 1;
    let mut a: Governed<u64, u64> = Governed::builder("a").registry(&registry).build();
    let b: GovernedSharded<u64, u64> = GovernedSharded::builder("b").registry(&registry).build();
    a.extend((0..100).map(|i| (i, i)));
    b.insert(1, 1);
    let maps = registry.maps();
    assert_eq!(maps.len(), 2);
    assert_eq!((maps[0].name.as_str(), maps[0].kind), ("a", "map"));
    assert_eq!((maps[1].name.as_str(), maps[1].kind), ("b", "sharded"));
    assert!(
        maps[0].site.starts_with(&format!("{}:{line}:", file!())),
        "{}",
        maps[0].site
    );
    assert_eq!(maps[0].figures.len, 100);
    assert_eq!(
        maps[0].figures.allocated_bytes,
        a.mem_stats().allocated_bytes as u64
    );
    assert_eq!(maps[1].figures.len, 1);
    assert_eq!(
        maps[1].figures.allocated_bytes,
        b.mem_stats().allocated_bytes as u64
    );
    let totals = registry.totals();
    assert_eq!((totals.maps, totals.len), (2, 101));
    drop(a);
    assert_eq!(registry.maps().len(), 1);
    drop(b);
    assert!(registry.maps().is_empty());
    assert_eq!(registry.totals().allocated_bytes, 0);
}

/// After every kind of write, the published figures equal the map's own
/// `mem_stats` and the counters count what happened.
#[test]
fn figures_follow_every_write() {
    let registry = Registry::new();
    let mut map: Governed<u64, u64> = Governed::builder("m").registry(&registry).build();
    let check = |map: &Governed<u64, u64>| {
        let r = map.report();
        let s = map.mem_stats();
        assert_eq!(r.figures.len, s.len as u64);
        assert_eq!(r.figures.allocated_bytes, s.allocated_bytes as u64);
        assert_eq!(r.figures.buckets, s.buckets as u64);
        assert_eq!(r.figures.old_buckets, s.old_buckets as u64);
        assert_eq!(r.figures.overflow_buckets, s.overflow_buckets as u64);
        assert_eq!(
            r.figures.migration_total,
            s.migration.map_or(0, |m| m.total as u64)
        );
        r
    };
    for i in 0..10_000 {
        map.insert(i, i);
        if i % 97 == 0 {
            check(&map);
        }
    }
    assert!(check(&map).counters.grows > 0);
    for i in 0..9_900 {
        map.remove(&i);
        if i % 97 == 0 {
            check(&map);
        }
    }
    map.update(5, |e| *e.or_insert(0) += 1);
    check(&map);
    map.retain(|k, _| k % 2 == 0);
    check(&map);
    map.shrink_to_fit();
    assert!(check(&map).counters.shrinks > 0);
    map.clear();
    map.reserve(100);
    check(&map);
    map.reset();
    let r = check(&map);
    assert_eq!((r.counters.clears, r.counters.resets), (1, 1));
    assert_eq!(r.figures.allocated_bytes, 0);
}

#[test]
fn yellow_warns_and_keeps_a_snapshot_orange_shrinks_and_calls_the_hook() {
    let registry = Registry::new();
    let events = registry.subscribe();
    let hook_calls = Arc::new(AtomicUsize::new(0));
    let calls = hook_calls.clone();
    let mut map: Governed<u64, u64> = Governed::builder("cache")
        .registry(&registry)
        .watermarks(Watermarks::entries(1_000, 2_000, 1_000_000).unwrap())
        .on_orange(move |event| {
            assert_eq!(event.level_change().unwrap().1, Level::Orange);
            calls.fetch_add(1, Ordering::Relaxed);
        })
        .build();
    for i in 0..1_000 {
        map.insert(i, i);
    }
    assert_eq!(map.level(), Level::Yellow);
    let snapshot = map.report().last_snapshot.expect("a snapshot at yellow");
    assert_eq!(
        (snapshot.level, snapshot.figures.len),
        (Level::Yellow, 1_000)
    );
    // Empty most of it under `Never`, so only orange's action gives back.
    map.set_shrink_policy(gomap::ShrinkPolicy::Never);
    for i in 1_000..2_000 {
        map.insert(i, i);
    }
    assert_eq!(map.level(), Level::Orange);
    assert_eq!(hook_calls.load(Ordering::Relaxed), 1);
    assert!(map.report().counters.shrinks >= 1 || map.mem_stats().migration.is_none());
    let seen: Vec<(Level, Level)> = events.try_iter().filter_map(|e| e.level_change()).collect();
    assert_eq!(
        seen,
        [
            (Level::Green, Level::Yellow),
            (Level::Yellow, Level::Orange)
        ]
    );
    assert_eq!(registry.events().len(), 2);
    // Back under yellow: green again, an event, no more hook calls.
    map.retain(|k, _| *k < 100);
    assert_eq!(map.level(), Level::Green);
    assert_eq!(
        events
            .try_iter()
            .filter_map(|e| e.level_change())
            .map(|(_, to)| to)
            .collect::<Vec<_>>(),
        [Level::Green]
    );
    assert_eq!(hook_calls.load(Ordering::Relaxed), 1);
}

#[test]
fn orange_gives_memory_back_at_once() {
    let registry = Registry::new();
    // Bytes jump when a grow starts (old and new arrays are both held while
    // it runs): that is when a map crosses orange, and orange's
    // `shrink_to_fit` finishes the migration, freeing the old array now.
    let crossed_at = Arc::new(parking_lot::Mutex::new(None));
    let seen = crossed_at.clone();
    let mut map: Governed<u64, [u64; 8]> = Governed::builder("big")
        .registry(&registry)
        .watermarks(Watermarks::bytes(1 << 20, 1 << 21, 1 << 40).unwrap())
        .on_orange(move |e| {
            if let EventKind::Level { value, .. } = e.kind {
                *seen.lock() = Some(value);
            }
        })
        .build();
    let mut i = 0;
    while map.level() < Level::Orange {
        map.insert(i, [i; 8]);
        i += 1;
    }
    let crossed_at = crossed_at.lock().expect("the hook ran");
    let now = map.mem_stats();
    assert!(now.migration.is_none(), "the grow was finished");
    assert!(
        (now.allocated_bytes as u64) < crossed_at,
        "{} bytes after orange's action, {crossed_at} when it was crossed",
        now.allocated_bytes
    );
    assert_eq!(
        map.report().figures.allocated_bytes,
        now.allocated_bytes as u64
    );
}

#[test]
fn red_refuses_new_keys_until_under_orange_but_updates_go_on() {
    let registry = Registry::new();
    let mut map: Governed<u64, u64> = Governed::builder("sessions")
        .registry(&registry)
        .watermarks(Watermarks::entries(10, 20, 30).unwrap())
        .build();
    for i in 0..30 {
        assert!(map.try_insert(i, i).is_ok());
    }
    assert_eq!(map.level(), Level::Red);
    let refused = map.try_insert(99, 99).unwrap_err();
    assert_eq!((refused.key, refused.value), (99, 99));
    assert!(refused.to_string().contains("map 'sessions'"), "{refused}");
    assert_eq!(map.try_insert(3, 33).unwrap(), Some(3)); // existing key: fine
    assert_eq!(map.get(&3), Some(&33));
    // 25 entries: under red but not under orange, still refusing.
    for i in 0..5 {
        map.remove(&i);
    }
    assert_eq!(map.level(), Level::Red);
    assert!(map.try_insert(100, 0).is_err());
    map.remove(&5);
    map.remove(&6); // 23
    map.remove(&7);
    map.remove(&8); // 21
    map.remove(&9); // 20: not under orange
    assert!(map.try_insert(101, 0).is_err());
    map.remove(&10); // 19: under orange, at yellow
    assert_eq!(map.level(), Level::Yellow);
    assert_eq!(map.try_insert(102, 0).unwrap(), None);
    assert_eq!(map.report().counters.refused_inserts, 3);
}

#[test]
fn sharded_maps_have_levels_too() {
    let registry = Registry::new();
    let map: GovernedSharded<u64, u64> = GovernedSharded::builder("shared")
        .registry(&registry)
        .watermarks(Watermarks::entries(1_000, 2_000, 3_000).unwrap())
        .build();
    std::thread::scope(|s| {
        for t in 0..2 {
            let map = &map;
            s.spawn(move || {
                for i in 0..1_500u64 {
                    map.insert(t * 10_000 + i, i);
                }
            });
        }
    });
    assert_eq!(map.len(), 3_000);
    assert_eq!(map.level(), Level::Red);
    assert!(map.try_insert(999_999, 1).is_err());
    assert!(map.try_insert(5, 5).is_ok()); // key 5 exists
    let report = map.report();
    assert_eq!(report.figures.len, 3_000);
    assert_eq!(
        report.figures.allocated_bytes,
        map.mem_stats().allocated_bytes as u64
    );
    map.clear();
    assert_eq!(map.level(), Level::Green);
    assert_eq!(map.report().counters.clears, 1);
    assert_eq!(map.report().figures.len, 0);
}

#[test]
fn a_map_that_only_grows_is_a_suspected_leak() {
    let registry = Registry::with_config(RegistryConfig {
        window: 5,
        ..RegistryConfig::default()
    });
    let mut leaky: Governed<u64, u64> = Governed::builder("leaky").registry(&registry).build();
    let mut steady: Governed<u64, u64> = Governed::builder("steady").registry(&registry).build();
    let t0 = Instant::now();
    for minute in 0..5u64 {
        for i in 0..100 {
            leaky.insert(minute * 100 + i, i);
            steady.insert(i + minute % 2, i); // up and down
        }
        if minute % 2 == 1 {
            steady.remove(&0);
        }
        registry.sample_at(t0 + Duration::from_secs(60 * minute));
        let trend = registry.maps()[0].trend;
        assert_eq!(trend.suspected_leak, minute == 4, "after sample {minute}");
    }
    let maps = registry.maps();
    assert!(maps[0].trend.suspected_leak);
    assert!((maps[0].trend.len_per_second - 100.0 / 60.0).abs() < 1e-9);
    assert!(maps[0].trend.bytes_per_second > 0.0);
    assert!(!maps[1].trend.suspected_leak);
    assert_eq!(registry.totals().suspected_leaks, 1);
    // One shrinking sample ends the suspicion.
    leaky.retain(|k, _| k % 2 == 0);
    registry.sample_at(t0 + Duration::from_secs(300));
    assert!(!registry.maps()[0].trend.suspected_leak);
}

#[test]
fn registry_total_watermarks_ask_every_map_to_shrink_and_refuse() {
    let registry = Registry::with_config(RegistryConfig {
        total_watermarks: Some(Watermarks::entries(100, 200, 300).unwrap()),
        ..RegistryConfig::default()
    });
    let total_orange = Arc::new(AtomicUsize::new(0));
    let seen = total_orange.clone();
    registry.on_total_orange(move |_, e| {
        assert_eq!(e.map, None);
        seen.fetch_add(1, Ordering::Relaxed);
    });
    let mut a: Governed<u64, u64> = Governed::builder("a").registry(&registry).build();
    let mut b: Governed<u64, u64> = Governed::builder("b").registry(&registry).build();
    for i in 0..160 {
        a.insert(i, i);
        b.insert(i, i);
    }
    registry.sample();
    assert_eq!(registry.totals().level, Level::Red);
    assert_eq!(total_orange.load(Ordering::Relaxed), 1);
    assert!(a.try_insert(1_000, 0).is_err(), "the total is red");
    assert!(a.try_insert(1, 0).is_ok());
    for i in 0..150 {
        b.remove(&i);
    }
    registry.sample();
    assert_eq!(registry.totals().level, Level::Yellow);
    assert!(a.try_insert(1_000, 0).is_ok());
    let levels: Vec<Level> = registry
        .events()
        .iter()
        .filter(|e| e.map.is_none())
        .filter_map(|e| e.level_change())
        .map(|(_, to)| to)
        .collect();
    assert_eq!(levels, [Level::Red, Level::Yellow]);
}

#[test]
fn the_sampler_thread_samples_and_stops_when_dropped() {
    let registry = Registry::new();
    let mut map: Governed<u64, u64> = Governed::builder("m").registry(&registry).build();
    map.insert(1, 1);
    let sampler = registry.start_sampler(Duration::from_millis(1));
    // Bounded wait for the first samples, no timing asserted.
    let deadline = Instant::now() + Duration::from_secs(30);
    while registry.maps()[0].trend.samples < 2 {
        assert!(Instant::now() < deadline, "the sampler never sampled");
        std::thread::sleep(Duration::from_millis(1));
    }
    drop(sampler);
    let samples = registry.maps()[0].trend.samples;
    std::thread::sleep(Duration::from_millis(20));
    assert_eq!(registry.maps()[0].trend.samples, samples, "stopped");
}

#[test]
fn a_total_at_orange_makes_each_map_shrink_on_its_next_write() {
    let registry = Registry::with_config(RegistryConfig {
        total_watermarks: Some(Watermarks::entries(100, 200, 1_000).unwrap()),
        ..RegistryConfig::default()
    });
    // `a` emptied most of itself under `Never`: it still holds its peak.
    let mut a: Governed<u64, u64> = Governed::builder("a").registry(&registry).build();
    a.set_shrink_policy(gomap::ShrinkPolicy::Never);
    for i in 0..5_000 {
        a.insert(i, i);
    }
    a.retain(|k, _| *k < 50);
    let mut b: Governed<u64, u64> = Governed::builder("b").registry(&registry).build();
    for i in 0..200 {
        b.insert(i, i);
    }
    let held = a.mem_stats().allocated_bytes;
    let shrinks = a.report().counters.shrinks;
    registry.sample();
    assert_eq!(registry.totals().level, Level::Orange);
    assert_eq!(
        a.mem_stats().allocated_bytes,
        held,
        "nothing happens before a write"
    );
    a.insert(10_000, 0);
    assert_eq!(a.report().counters.shrinks, shrinks + 1);
    assert!(a.mem_stats().allocated_bytes * 10 < held);
    assert_eq!(
        a.report().figures.allocated_bytes,
        a.mem_stats().allocated_bytes as u64
    );
    // Taken once: the next write does not shrink again.
    a.insert(10_001, 0);
    assert_eq!(a.report().counters.shrinks, shrinks + 1);
}

/// A map at red by bytes (emptied under `Never`, so it still holds its
/// peak) that shrinks on the registry's request leaves red at once.
#[test]
fn a_requested_shrink_moves_the_level_too() {
    let registry = Registry::with_config(RegistryConfig {
        total_watermarks: Some(Watermarks::entries(10, 20, 1_000_000).unwrap()),
        ..RegistryConfig::default()
    });
    let mut map: Governed<u64, u64> = Governed::builder("m")
        .registry(&registry)
        .watermarks(Watermarks::bytes(100_000, 200_000, 400_000).unwrap())
        .build();
    map.set_shrink_policy(gomap::ShrinkPolicy::Never);
    for i in 0..100_000 {
        map.insert(i, i);
    }
    assert_eq!(map.level(), Level::Red);
    map.retain(|k, _| *k < 50);
    assert_eq!(map.level(), Level::Red, "Never: the bytes stay");
    registry.sample(); // 50 entries in all: the total is orange
    assert_eq!(registry.totals().level, Level::Orange);
    map.insert(1_000_000, 0); // honours the request: shrinks
    assert!(map.mem_stats().allocated_bytes < 100_000);
    assert_eq!(map.level(), Level::Green);
    assert!(map.try_insert(2_000_000, 0).is_ok());
}

/// A map built with room beyond its watermarks takes its level on its
/// first write, though that write allocates nothing — and orange's action
/// then gives the room back.
#[test]
fn a_map_built_big_takes_its_level_on_the_first_write() {
    let registry = Registry::new();
    let events = registry.subscribe();
    let mut map: Governed<u64, u64> = Governed::builder("big")
        .registry(&registry)
        .watermarks(Watermarks::bytes(1 << 16, 1 << 17, 1 << 18).unwrap())
        .capacity(100_000)
        .build();
    assert!(map.mem_stats().allocated_bytes >= 1 << 18);
    map.insert(1, 1);
    let seen: Vec<(Level, Level)> = events.try_iter().filter_map(|e| e.level_change()).collect();
    assert_eq!(
        seen,
        [(Level::Green, Level::Red), (Level::Red, Level::Green)]
    );
    assert!(map.mem_stats().allocated_bytes < 1 << 16);
}

/// `take` swaps in a fresh map; the published migration counts keep
/// counting from where they were.
#[test]
fn counters_never_go_backwards() {
    let registry = Registry::new();
    let mut map: Governed<u64, u64> = Governed::builder("m").registry(&registry).build();
    for i in 0..10_000 {
        map.insert(i, i);
    }
    let grows = map.report().counters.grows;
    assert!(grows > 0);
    drop(map.take());
    for i in 0..100 {
        map.insert(i, i);
    }
    assert!(map.report().counters.grows > grows);
    let sharded: GovernedSharded<u64, u64> =
        GovernedSharded::builder("s").registry(&registry).build();
    for i in 0..10_000 {
        sharded.insert(i, i);
    }
    let grows = sharded.report().counters.grows;
    sharded.reset();
    sharded.insert(1, 1);
    assert!(sharded.report().counters.grows >= grows);
    assert_eq!(sharded.report().figures.len, 1);
    assert_eq!(
        sharded.report().figures.allocated_bytes,
        sharded.mem_stats().allocated_bytes as u64
    );
}

/// Two threads writing different shards: the totals are the sum of the
/// shards once they are done (never one thread's stale view).
#[test]
fn sharded_totals_are_exact_after_concurrent_writes() {
    let registry = Registry::new();
    let map: GovernedSharded<u64, u64> = GovernedSharded::builder("s").registry(&registry).build();
    std::thread::scope(|s| {
        for t in 0..2u64 {
            let map = &map;
            s.spawn(move || {
                for i in 0..20_000 {
                    map.insert(t << 32 | i, i);
                    if i % 3 == 0 {
                        map.remove(&(t << 32 | (i / 2)));
                    }
                }
            });
        }
    });
    let stats = map.mem_stats();
    let r = map.report();
    assert_eq!(r.figures.len, stats.len as u64);
    assert_eq!(r.figures.allocated_bytes, stats.allocated_bytes as u64);
    assert_eq!(r.figures.buckets, stats.buckets as u64);
    assert_eq!(r.figures.overflow_buckets, stats.overflow_buckets as u64);
}

/// The sum of what keys and values own, by walking the map.
fn walked(map: &gomap::HashMap<String, Vec<u8>>) -> u64 {
    map.iter()
        .map(|(k, v)| (k.capacity() + v.capacity()) as u64)
        .sum()
}

/// A map of `String → Vec<u8>` whose table is small and whose values are
/// big: the owned bytes are published on every write, whatever the path
/// (insert, overwrite, `get_mut`'s guard, `modify`, `update`, `retain`,
/// remove, clear), and watermarks on total bytes see them.
#[test]
fn owned_bytes_are_published_and_total_bytes_set_the_level() {
    let registry = Registry::new();
    let marks = Watermarks::total_bytes(64 << 10, 256 << 10, 1 << 20).unwrap();
    let mut cache: Governed<String, Vec<u8>> = Governed::builder("cache")
        .registry(&registry)
        .watermarks(marks)
        .build();
    cache.track_owned_bytes(String::capacity, Vec::capacity);
    let figures = |c: &Governed<String, Vec<u8>>| c.report().figures;
    for i in 0..10 {
        cache.insert(format!("k{i}"), vec![0; 1 << 10]);
    }
    assert_eq!(figures(&cache).owned_bytes, walked(&cache));
    assert_eq!(cache.level(), Level::Green);
    cache.get_mut("k1").unwrap().reserve_exact(100 << 10);
    assert_eq!(figures(&cache).owned_bytes, walked(&cache));
    assert_eq!(cache.level(), Level::Yellow);
    cache.modify("k2", |v| v.resize(300 << 10, 1));
    assert_eq!(figures(&cache).owned_bytes, walked(&cache));
    assert_eq!(cache.level(), Level::Orange);
    cache.update("k3".into(), |e| e.or_default().resize(700 << 10, 2));
    assert_eq!(figures(&cache).owned_bytes, walked(&cache));
    assert_eq!(cache.level(), Level::Red);
    assert!(cache.try_insert("new".into(), Vec::new()).is_err());
    // The table alone is far under every watermark.
    assert!(figures(&cache).allocated_bytes < 64 << 10);
    cache.insert("k3".into(), Vec::new()); // overwrite: the big value goes
    assert_eq!(figures(&cache).owned_bytes, walked(&cache));
    assert_eq!(cache.level(), Level::Red, "k1 and k2 still hold 400 KiB");
    // Every value shrunk in place, k2 dropped: the breaker opens at once.
    cache.retain(|k, v| {
        v.shrink_to_fit();
        k != "k2"
    });
    assert_eq!(figures(&cache).owned_bytes, walked(&cache));
    assert_eq!(cache.level(), Level::Green);
    assert!(cache.try_insert("new".into(), Vec::new()).is_ok());
    cache.remove("k1");
    assert_eq!(figures(&cache).owned_bytes, walked(&cache));
    cache.clear();
    assert_eq!(figures(&cache).owned_bytes, 0);
    assert_eq!(registry.totals().owned_bytes, 0);
}

#[test]
fn sharded_owned_bytes_follow_update_and_get_mut() {
    let registry = Registry::new();
    let marks = Watermarks::total_bytes(64 << 10, 256 << 10, 1 << 20).unwrap();
    let map: GovernedSharded<u64, Vec<u8>> = GovernedSharded::builder("shared")
        .registry(&registry)
        .watermarks(marks)
        .build();
    map.track_owned_bytes(|_| 0, Vec::capacity);
    let owned = |m: &GovernedSharded<u64, Vec<u8>>| {
        m.read_all()
            .iter()
            .map(|(_, v)| v.capacity() as u64)
            .sum::<u64>()
    };
    for k in 0..8 {
        map.insert(k, vec![0; 1 << 10]);
    }
    assert_eq!(map.report().figures.owned_bytes, owned(&map));
    map.update(1, |e| e.or_default().reserve_exact(300 << 10));
    assert_eq!(map.report().figures.owned_bytes, owned(&map));
    assert_eq!(map.level(), Level::Orange);
    map.get_mut(&2).unwrap().reserve_exact(800 << 10);
    assert_eq!(map.report().figures.owned_bytes, owned(&map));
    assert_eq!(map.level(), Level::Red);
    map.remove(&2);
    map.remove(&1);
    assert_eq!(map.report().figures.owned_bytes, owned(&map));
    assert_eq!(map.level(), Level::Green);
    assert_eq!(
        registry.totals().owned_bytes,
        map.report().figures.owned_bytes
    );
}

#[test]
fn idle_maintenance_steps_finish_migrations_and_publish_their_figures() {
    let registry = Registry::new();
    let mut map: Governed<u64, u64> = Governed::builder("idle").registry(&registry).build();
    for i in 0..100_000 {
        map.insert(i, i);
    }
    // The last write leaves the map mid-shrink.
    map.retain(|&k, _| k < 100);
    assert!(map.report().figures.old_buckets > 0);
    while map.step_migration(256) {}
    let r = map.report();
    assert_eq!((r.figures.old_buckets, r.figures.migration_total), (0, 0));
    assert_eq!(
        r.figures.allocated_bytes,
        map.mem_stats().allocated_bytes as u64
    );

    let sharded: GovernedSharded<u64, u64> = GovernedSharded::builder("idle-sharded")
        .registry(&registry)
        .build();
    for i in 0..100_000 {
        sharded.insert(i, i);
    }
    sharded.retain(|&k, _| k < 100);
    assert!(sharded.report().figures.old_buckets > 0);
    while sharded.step_migrations(256) > 0 {}
    let r = sharded.report();
    assert_eq!(r.figures.old_buckets, 0);
    assert_eq!(
        r.figures.allocated_bytes,
        sharded.mem_stats().allocated_bytes as u64
    );
    assert_eq!(
        registry.totals().allocated_bytes,
        (map.mem_stats().allocated_bytes + sharded.mem_stats().allocated_bytes) as u64
    );
}
