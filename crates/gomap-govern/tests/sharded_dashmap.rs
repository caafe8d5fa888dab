//! `GovernedSharded`'s dashmap-style writes are governed: the figures
//! follow every one of them, and at red an entry that would insert a new
//! key is refused.

use gomap_govern::{GovernedSharded, Level, Registry, Watermarks};

fn at_red(registry: &Registry) -> GovernedSharded<u64, u64> {
    let map: GovernedSharded<u64, u64> = GovernedSharded::builder("red")
        .registry(registry)
        .watermarks(Watermarks::entries(10, 20, 30).unwrap())
        .build();
    for k in 0..30 {
        map.insert(k, k);
    }
    assert_eq!(map.level(), Level::Red);
    map
}

#[test]
fn try_entry_at_red_refuses_new_keys_and_serves_existing_ones() {
    let registry = Registry::new();
    let map = at_red(&registry);
    let refused = map.try_entry(1_000).unwrap_err();
    assert_eq!(refused.key, 1_000);
    assert!(!map.contains_key(&1_000));
    *map.try_entry(5).unwrap().or_insert(0) += 100;
    assert_eq!(map.get_cloned(&5), Some(105));
    assert_eq!(map.report().counters.refused_inserts, 1);
    assert_eq!(map.len(), 30);
    // `entry` always inserts, as `insert` does.
    *map.entry(1_000).or_insert(0) += 1;
    assert_eq!(map.report().figures.len, 31);
}

#[test]
fn the_figures_follow_every_dashmap_style_write() {
    let registry = Registry::new();
    let map: GovernedSharded<u64, u64> = GovernedSharded::builder("m").registry(&registry).build();
    let exact = |map: &GovernedSharded<u64, u64>| {
        let r = map.report();
        let stats = map.mem_stats();
        assert_eq!(r.figures.len, stats.len as u64);
        assert_eq!(r.figures.allocated_bytes, stats.allocated_bytes as u64);
    };
    for k in 0..1_000 {
        *map.entry(k).or_default() += k;
    }
    exact(&map);
    map.alter(&3, |_, v| v + 1);
    map.alter_all(|_, v| v * 2);
    assert_eq!(map.get_cloned(&3), Some(8));
    assert_eq!(map.remove_if(&4, |_, v| *v == 8), Some((4, 8)));
    assert_eq!(map.remove_if_mut(&5, |_, _| false), None);
    for mut r in map.iter_mut() {
        *r += 1;
    }
    exact(&map);
    map.reserve(100_000);
    assert!(map.capacity() >= 100_000);
    exact(&map);
    assert!(map.try_reserve(usize::MAX).is_err());
    assert_eq!(map.len(), 999);
    assert_eq!(map.iter().count(), 999);
    assert_eq!(map.view(&6, |_, v| *v), Some(13));
    assert!(map.try_get(&6).is_present());
    exact(&map);
}
