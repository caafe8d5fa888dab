//! `GovernedSet`: registered and watermarked like a governed map; its
//! level moves with every write, red refuses new elements, and the
//! registry sees it where it was built.

use gomap_govern::{GovernedSet, Level, Registry, Watermarks};

#[test]
fn a_governed_set_climbs_and_falls_with_its_elements() {
    let registry = Registry::new();
    let mut set: GovernedSet<u32> = GovernedSet::builder("ids")
        .registry(&registry)
        .watermarks(Watermarks::entries(10, 20, 30).unwrap())
        .build_set();
    let line = line!() - 1;
    assert_eq!(
        set.site().line(),
        line,
        "the site is where build_set was called"
    );
    assert_eq!(registry.maps().len(), 1);
    for v in 0..35 {
        assert!(set.insert(v));
    }
    assert!(!set.insert(3), "already there");
    assert_eq!(set.level(), Level::Red);
    let refused = set.try_insert(1_000).unwrap_err();
    assert_eq!(refused.key, 1_000, "the refused element comes back");
    assert!(
        !set.try_insert(3).unwrap(),
        "an element already there is not refused, nor added again"
    );
    set.retain(|v| *v < 5);
    assert_eq!(set.len(), 5);
    assert_eq!(set.level(), Level::Green);
    assert!(set.remove(&4));
    assert_eq!(set.take(&3), Some(3));
    let mut left: Vec<u32> = set.iter().copied().collect();
    left.sort_unstable();
    assert_eq!(left, [0, 1, 2]);
    set.reset();
    assert_eq!(set.mem_stats().allocated_bytes, 0);
    assert_eq!(registry.maps()[0].figures.len, 0);
}

#[test]
fn a_governed_set_counts_what_its_elements_own() {
    let registry = Registry::new();
    let mut set: GovernedSet<String> = GovernedSet::builder("names")
        .registry(&registry)
        .build_set();
    set.track_owned_bytes(String::capacity);
    set.insert(String::with_capacity(1_000));
    set.insert("x".repeat(10));
    let figures = set.report().figures;
    assert_eq!(figures.owned_bytes, 1_010);
    assert!(set.contains("xxxxxxxxxx"));
}
