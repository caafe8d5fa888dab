//! The sampler's idle maintenance: a sample finishes, a bounded step at a
//! time, the migrations a `GovernedSharded`'s last writes left running —
//! never waiting for a held shard, never keeping a dropped map alive, and
//! surviving a `Hash` that panics.

use std::hash::{Hash, Hasher};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
use std::sync::mpsc;
use std::time::Duration;

use gomap_govern::{Governed, GovernedSharded, Registry, RegistryConfig, SamplerState};

/// More samples than any migration below needs at the default budget.
const SAMPLES: usize = 1_000;

/// A map of 100 000 entries of which `retain` kept 100: every shard is
/// left mid-shrink by that last write.
fn left_mid_shrink(registry: &Registry, name: &str, shards: usize) -> GovernedSharded<u64, u64> {
    let map: GovernedSharded<u64, u64> = GovernedSharded::builder(name)
        .registry(registry)
        .shard_amount(shards)
        .build();
    for i in 0..100_000 {
        map.insert(i, i);
    }
    map.retain(|&k, _| k < 100);
    assert!(map.shard_stats().iter().all(|s| s.migration.is_some()));
    map
}

/// Samples until the map's published figures say no migration runs (at
/// most [`SAMPLES`] times); returns how many samples that took.
fn sample_until_settled(registry: &Registry, map: &GovernedSharded<u64, u64>) -> usize {
    (1..=SAMPLES)
        .find(|_| {
            registry.sample();
            map.report().figures.migration_total == 0
        })
        .expect("the samples finish the migration")
}

/// The published figures agree with the map, and show one array per shard.
fn assert_settled(registry: &Registry, map: &GovernedSharded<u64, u64>) {
    let stats = map.mem_stats();
    assert!(stats.migration.is_none());
    assert_eq!(stats.old_buckets, 0);
    let figures = map.report().figures;
    assert_eq!(
        (
            figures.old_buckets,
            figures.migration_total,
            figures.migration_evacuated
        ),
        (0, 0, 0)
    );
    assert_eq!(figures.allocated_bytes, stats.allocated_bytes as u64);
    assert_eq!(figures.buckets, stats.buckets as u64);
    let listed = registry.maps();
    let listed = listed.iter().find(|m| m.id == map.report().id).unwrap();
    assert_eq!(listed.figures, figures);
}

#[test]
fn samples_finish_a_shrink_an_idle_sharded_map_was_left_in() {
    let registry = Registry::new();
    let map = left_mid_shrink(&registry, "idle", 4);
    let before = map.report().figures;
    assert!(before.old_buckets > 0 && before.migration_total > 0);

    sample_until_settled(&registry, &map);

    assert_settled(&registry, &map);
    assert!(map.report().figures.allocated_bytes < before.allocated_bytes);
    assert_eq!(map.len(), 100);
    assert!((0..100).all(|k| map.get_cloned(&k) == Some(k)));
}

#[test]
fn samples_finish_a_grow_an_idle_sharded_map_was_left_in() {
    let registry = Registry::new();
    let map: GovernedSharded<u64, u64> = GovernedSharded::builder("grown")
        .registry(&registry)
        .shard_amount(1)
        .build();
    // Insert until a grow of a table too big to finish at once starts,
    // then stop writing.
    let mut next = 0u64;
    while next < 10_000 || map.mem_stats().migration.is_none() {
        map.insert(next, next);
        next += 1;
    }
    let grow = map.mem_stats().migration.unwrap();
    assert!(grow.evacuated < grow.total);

    let samples = sample_until_settled(&registry, &map);

    assert!(samples > 1, "one sample's step is bounded");
    assert_settled(&registry, &map);
    assert_eq!(map.len() as u64, next);
}

#[test]
fn a_held_shard_is_passed_over_and_finished_once_it_is_free() {
    let registry = Registry::new();
    let map = left_mid_shrink(&registry, "held", 4);
    let old_buckets: Vec<u64> = map
        .shard_stats()
        .iter()
        .map(|s| s.old_buckets as u64)
        .collect();

    let (held_tx, held) = mpsc::channel();
    let (release, release_rx) = mpsc::channel::<()>();
    std::thread::scope(|s| {
        let map = &map;
        let holder = s.spawn(move || {
            let guard = map.get_mut(&7).unwrap();
            held_tx.send(()).unwrap();
            // Only a sampler that waited for this shard would keep us here
            // past the release; the timeout turns that hang into a failure.
            let released = release_rx.recv_timeout(Duration::from_secs(60)).is_ok();
            drop(guard);
            released
        });
        held.recv().unwrap();
        for _ in 0..SAMPLES {
            registry.sample();
        }
        // Every other shard finished: what still migrates is one shard's.
        let figures = map.report().figures;
        assert!(figures.migration_total > 0);
        assert!(old_buckets.contains(&figures.old_buckets));
        release.send(()).unwrap();
        assert!(holder.join().unwrap(), "the samples never waited");
    });

    sample_until_settled(&registry, &map);
    assert_settled(&registry, &map);
}

#[test]
fn a_dropped_map_is_skipped() {
    let registry = Registry::new();
    let map = left_mid_shrink(&registry, "dropped", 4);
    let kept = left_mid_shrink(&registry, "kept", 4);
    drop(map);

    sample_until_settled(&registry, &kept);

    let names: Vec<String> = registry.maps().into_iter().map(|m| m.name).collect();
    assert_eq!(names, ["kept"]);
    assert_settled(&registry, &kept);
}

#[test]
fn a_zero_maintenance_budget_turns_it_off() {
    let registry = Registry::with_config(RegistryConfig {
        maintenance_budget: 0,
        ..RegistryConfig::default()
    });
    let map = left_mid_shrink(&registry, "unmaintained", 4);
    let before = map.report().figures;

    for _ in 0..10 {
        registry.sample();
    }

    assert_eq!(map.report().figures, before);
    assert!(map.mem_stats().migration.is_some());
}

#[test]
fn a_plain_governed_map_is_out_of_the_samplers_reach() {
    let registry = Registry::new();
    let mut map: Governed<u64, u64> = Governed::builder("owned").registry(&registry).build();
    for i in 0..100_000 {
        map.insert(i, i);
    }
    map.retain(|&k, _| k < 100);
    assert!(map.mem_stats().migration.is_some());

    for _ in 0..10 {
        registry.sample();
    }

    // Its owner's idle time finishes it.
    assert!(map.mem_stats().migration.is_some());
    while map.step_migration(1024) {}
    assert_eq!(map.report().figures.old_buckets, 0);
}

/// Set while a [`Touchy`] key's `Hash` must panic.
static ARMED: AtomicBool = AtomicBool::new(false);
/// How many times a [`Touchy`] key's `Hash` panicked.
static PANICKED: AtomicUsize = AtomicUsize::new(0);

/// A key whose `Hash` panics while [`ARMED`] is set.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Touchy(u64);

impl Hash for Touchy {
    fn hash<H: Hasher>(&self, state: &mut H) {
        if ARMED.load(SeqCst) {
            PANICKED.fetch_add(1, SeqCst);
            panic!("a key's hash fails");
        }
        self.0.hash(state);
    }
}

#[test]
fn a_hash_that_panics_in_a_step_leaves_the_map_consistent_and_the_sample_going_on() {
    let registry = Registry::new();
    let touchy: GovernedSharded<Touchy, u64> = GovernedSharded::builder("touchy")
        .registry(&registry)
        .shard_amount(1)
        .build();
    for i in 0..100_000 {
        touchy.insert(Touchy(i), i);
    }
    touchy.retain(|k, _| k.0 < 100);
    assert!(touchy.mem_stats().migration.is_some());
    // Registered after `touchy`, so stepped after it in the same sample.
    let healthy = left_mid_shrink(&registry, "healthy", 4);
    let healthy_before = healthy.report().figures.migration_total;

    ARMED.store(true, SeqCst);
    registry.sample();
    ARMED.store(false, SeqCst);

    assert_eq!(PANICKED.load(SeqCst), 1);
    // The sample went on: the next map was stepped, and nothing counts as
    // a sampler panic.
    assert!(healthy.report().figures.migration_total < healthy_before);
    assert_eq!(registry.health().sampler_panics, 0);
    // The map is consistent: every key once, figures as the map is.
    assert_eq!(touchy.len(), 100);
    assert!((0..100).all(|k| touchy.get_cloned(&Touchy(k)) == Some(k)));
    let stats = touchy.mem_stats();
    let figures = touchy.report().figures;
    assert_eq!(figures.len, 100);
    assert_eq!(figures.allocated_bytes, stats.allocated_bytes as u64);
    assert_eq!(figures.old_buckets, stats.old_buckets as u64);

    // The sampler steps it no more (its `Hash` would panic every time),
    // but samples and the map's owner go on.
    for _ in 0..10 {
        registry.sample();
    }
    assert!(touchy.mem_stats().migration.is_some());
    assert_eq!(PANICKED.load(SeqCst), 1);
    let sampler = registry.start_sampler(Duration::from_millis(1)).unwrap();
    assert_eq!(registry.health().sampler, SamplerState::Running);
    sampler.stop().unwrap();
    while touchy.step_migrations(1024) > 0 {}
    assert_eq!(touchy.report().figures.old_buckets, 0);
}
