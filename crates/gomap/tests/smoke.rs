//! Hand-written edge cases the model-based tests do not single out.

use gomap::{HashMap, HashSet, MigrationKind};

#[test]
fn grows_incrementally_and_finds_everything_mid_migration() {
    let mut map = HashMap::new();
    let mut saw_migration = false;
    for i in 0..100_000u64 {
        map.insert(i, i * 2);
        if let Some(m) = map.mem_stats().migration {
            saw_migration = true;
            assert_eq!(m.kind, MigrationKind::Grow);
            // Reads during a migration see every key.
            assert_eq!(map.get(&(i / 2)), Some(&(i / 2 * 2)));
        }
    }
    assert!(saw_migration);
    assert_eq!(map.len(), 100_000);
    for i in 0..100_000u64 {
        assert_eq!(map[&i], i * 2);
    }
    assert_eq!(map.iter().count(), 100_000);
    let mut keys: Vec<u64> = map.keys().copied().collect();
    keys.sort_unstable();
    assert_eq!(keys, (0..100_000).collect::<Vec<_>>());
    for i in 0..100_000u64 {
        assert_eq!(map.remove(&i), Some(i * 2), "{i}");
    }
    assert!(map.is_empty());
}

#[test]
fn set_operations_match_std() {
    let a: HashSet<u32> = (0..100).collect();
    let b: HashSet<u32> = (50..150).collect();
    assert_eq!(a.intersection(&b).count(), 50);
    assert_eq!(a.union(&b).count(), 150);
    assert_eq!(a.difference(&b).count(), 50);
    assert_eq!(a.symmetric_difference(&b).count(), 100);
    assert!(!a.is_subset(&b));
    let c: HashSet<u32> = (60..70).collect();
    assert!(c.is_subset(&a) && a.is_superset(&c) && !c.is_disjoint(&b));
}
