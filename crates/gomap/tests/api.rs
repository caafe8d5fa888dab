//! Hand-written checks of the public API and the edge cases the
//! model-based tests do not single out.

mod common;

use common::CountingAlloc;
use gomap::{
    DefaultHashBuilder, Entry, HashMap, HashSet, MigrationKind, ShrinkPolicy, TryReserveError,
};
use std::hash::{BuildHasherDefault, Hasher};

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

#[test]
fn new_and_with_capacity_zero_allocate_nothing() {
    let alloc = CountingAlloc::default();
    let map: HashMap<u64, u64, DefaultHashBuilder, _> = HashMap::new_in(alloc.clone());
    let other: HashMap<u64, u64, DefaultHashBuilder, _> =
        HashMap::with_capacity_in(0, alloc.clone());
    assert_eq!(alloc.live(), 0);
    assert_eq!((map.capacity(), other.capacity()), (0, 0));
    assert_eq!(map.mem_stats().allocated_bytes, 0);
}

#[test]
fn failed_try_reserve_leaves_the_map_unchanged() {
    let alloc = CountingAlloc::default();
    let mut map: HashMap<u64, u64, DefaultHashBuilder, _> = HashMap::new_in(alloc.clone());
    map.extend((0..1000).map(|i| (i, i)));
    let before = map.mem_stats();
    alloc.set_limit(Some(alloc.live() + 1024));
    let err = map.try_reserve(100_000).unwrap_err();
    assert!(matches!(err, TryReserveError::AllocError { .. }), "{err}");
    assert_eq!(map.mem_stats(), before);
    assert_eq!(map.len(), 1000);
    assert!((0..1000).all(|i| map[&i] == i));
    assert_eq!(
        map.try_reserve(usize::MAX),
        Err(TryReserveError::CapacityOverflow)
    );
    // Nor did the failed calls set a floor: the map still shrinks as it empties.
    alloc.set_limit(None);
    let buckets = map.mem_stats().buckets;
    for i in 0..990 {
        map.remove(&i);
    }
    map.finish_migration();
    assert!(map.mem_stats().buckets < buckets);
    map.try_reserve(100_000).unwrap();
    assert!(map.capacity() >= map.len() + 100_000);
    assert_eq!(map.mem_stats().allocated_bytes, alloc.live());
}

#[test]
fn clear_keeps_the_array_reset_frees_it_and_shrink_to_fit_after_clear_frees_it() {
    let alloc = CountingAlloc::default();
    let mut map: HashMap<u64, u64, DefaultHashBuilder, _> = HashMap::new_in(alloc.clone());
    map.extend((0..10_000).map(|i| (i, i)));
    map.finish_migration();
    let buckets = map.mem_stats().buckets;
    map.clear();
    let stats = map.mem_stats();
    assert_eq!(
        (stats.len, stats.buckets, stats.overflow_buckets),
        (0, buckets, 0)
    );
    assert_eq!(stats.allocated_bytes, alloc.live());
    map.shrink_to_fit();
    assert_eq!(alloc.live(), 0);
    map.extend((0..10_000).map(|i| (i, i)));
    map.reset();
    assert_eq!(
        (map.len(), alloc.live(), map.mem_stats().allocated_bytes),
        (0, 0, 0)
    );
    map.insert(1, 1); // still usable
    assert_eq!(map[&1], 1);
}

#[test]
fn lookups_borrow_like_std() {
    let mut map: HashMap<String, Vec<u8>> = HashMap::new();
    map.insert("alpha".to_string(), vec![1]);
    assert_eq!(map.get("alpha"), Some(&vec![1]));
    assert!(map.contains_key("alpha"));
    map.get_mut("alpha").unwrap().push(2);
    assert_eq!(map["alpha"], vec![1, 2]);
    assert_eq!(
        map.get_key_value("alpha").map(|(k, _)| k.as_str()),
        Some("alpha")
    );
    assert_eq!(
        map.remove_entry("alpha"),
        Some(("alpha".to_string(), vec![1, 2]))
    );
    assert_eq!(map.remove("alpha"), None);
}

#[test]
#[should_panic(expected = "no entry found for key")]
fn index_panics_on_a_missing_key() {
    let map: HashMap<u8, u8> = HashMap::new();
    let _ = map[&1];
}

#[test]
fn the_entry_api_matches_std() {
    let mut map: HashMap<&str, u32> = HashMap::new();
    *map.entry("a").or_insert(1) += 10;
    assert_eq!(map["a"], 11);
    assert_eq!(*map.entry("b").or_insert_with_key(|k| k.len() as u32), 1);
    assert_eq!(*map.entry("c").or_default(), 0);
    map.entry("a").and_modify(|v| *v *= 2).or_insert(0);
    assert_eq!(map["a"], 22);
    assert_eq!(map.entry("z").key(), &"z");
    match map.entry("z") {
        Entry::Vacant(v) => assert_eq!(v.into_key(), "z"),
        Entry::Occupied(_) => unreachable!(),
    }
    let mut occupied = map.entry("a").insert_entry(5);
    assert_eq!((occupied.key(), *occupied.get()), (&"a", 5));
    assert_eq!(occupied.insert(6), 5);
    *occupied.get_mut() += 1;
    assert_eq!(occupied.remove_entry(), ("a", 7));
    let e = map.entry("new").insert_entry(3);
    assert_eq!(*e.into_mut(), 3);
    if let Entry::Occupied(o) = map.entry("new") {
        assert_eq!(o.remove(), 3);
    }
    assert_eq!(map.len(), 2);
    assert!(format!("{:?}", map.entry("b")).contains("OccupiedEntry"));
}

#[test]
fn traits_match_std() {
    let a = HashMap::from([(1, 'a'), (2, 'b')]);
    let b: HashMap<i32, char> = [(2, 'b'), (1, 'a')].into_iter().collect();
    assert_eq!(a, b);
    assert_eq!(a.clone(), a);
    let mut c: HashMap<i32, char> = HashMap::default();
    c.extend(&a); // Extend<(&K, &V)>
    assert_eq!(c, a);
    assert_eq!(format!("{:?}", HashMap::from([(1, 2)])), "{1: 2}");
    let mut keys: Vec<i32> = a.clone().into_keys().collect();
    keys.sort_unstable();
    assert_eq!(keys, [1, 2]);
    let mut values: Vec<char> = a.clone().into_values().collect();
    values.sort_unstable();
    assert_eq!(values, ['a', 'b']);
    let mut m = a.clone();
    m.values_mut().for_each(|v| *v = v.to_ascii_uppercase());
    for (_, v) in &mut m {
        assert!(v.is_ascii_uppercase());
    }
    let owned: Vec<(i32, char)> = m.into_iter().collect();
    assert_eq!(owned.len(), 2);
}

/// 200 keys, inserted in the same order into a map with a fixed hasher: the
/// only thing that can differ between two such maps is the iteration seed.
fn same_keys_fixed_hasher() -> HashMap<u32, u32, BuildHasherDefault<FixedHasher>> {
    let mut map = HashMap::default();
    map.extend((0..200).map(|i| (i, i * 10)));
    map
}

#[derive(Default)]
struct FixedHasher(u64);

impl Hasher for FixedHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0 ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
        }
    }
}

#[test]
fn iteration_order_is_random_per_map_like_go() {
    let orders: HashSet<Vec<u32>> = (0..20)
        .map(|_| same_keys_fixed_hasher().keys().copied().collect())
        .collect();
    assert!(
        orders.len() > 1,
        "20 maps with the same keys and hasher, one order"
    );
    assert!(orders.iter().all(|o| o.len() == 200));
}

#[test]
fn iteration_order_is_stable_while_the_map_is_unchanged() {
    let mut map = same_keys_fixed_hasher();
    let order: Vec<u32> = map.keys().copied().collect();
    assert_eq!(map.iter().map(|(k, _)| *k).collect::<Vec<_>>(), order);
    assert_eq!(map.values().map(|v| v / 10).collect::<Vec<_>>(), order);
    assert_eq!(map.values_mut().map(|v| *v / 10).collect::<Vec<_>>(), order);
    assert_eq!(map.iter_mut().map(|(k, _)| *k).collect::<Vec<_>>(), order);
    assert!(map.keys().zip(map.values()).all(|(k, v)| *v == k * 10));
    let mut copy = map.clone(); // another map: its own order
    let copy_order: Vec<u32> = copy.keys().copied().collect();
    assert_eq!(copy.drain().map(|(k, _)| k).collect::<Vec<_>>(), copy_order);
    assert_eq!(map.into_iter().map(|(k, _)| k).collect::<Vec<_>>(), order);
}

#[test]
fn a_set_iterates_in_one_order_while_unchanged() {
    let set: gomap::HashSet<u32> = (0..500).collect();
    let first: Vec<u32> = set.iter().copied().collect();
    assert_eq!(set.iter().copied().collect::<Vec<_>>(), first);
    assert_eq!(set.into_iter().collect::<Vec<_>>(), first);
}

#[test]
fn shrink_policy_is_settable_and_never_keeps_the_peak() {
    let mut map: HashMap<u32, u32> = HashMap::new().with_shrink_policy(ShrinkPolicy::Never);
    assert_eq!(map.shrink_policy(), ShrinkPolicy::Never);
    map.extend((0..50_000).map(|i| (i, i)));
    map.finish_migration();
    let peak = map.mem_stats().buckets;
    for i in 0..50_000 {
        map.remove(&i);
    }
    assert_eq!(map.mem_stats().buckets, peak);
    map.set_shrink_policy(ShrinkPolicy::Auto);
    map.insert(1, 1);
    map.finish_migration();
    assert!(map.mem_stats().buckets < peak);
}

#[test]
fn set_api_matches_std() {
    let mut set: HashSet<String> = HashSet::new();
    assert!(set.insert("a".to_string()));
    assert!(!set.insert("a".to_string()));
    assert_eq!(set.replace("a".to_string()), Some("a".to_string()));
    assert_eq!(set.replace("b".to_string()), None);
    assert_eq!(set.get("b").map(String::as_str), Some("b"));
    assert_eq!(set.take("b"), Some("b".to_string()));
    assert!(set.remove("a"));
    assert!(set.is_empty());
    let a: HashSet<u8> = [1, 2, 3].into();
    let b: HashSet<u8> = [3, 4].into();
    assert_eq!(&a | &b, [1, 2, 3, 4].into());
    assert_eq!(&a & &b, [3].into());
    assert_eq!(&a ^ &b, [1, 2, 4].into());
    assert_eq!(&a - &b, [1, 2].into());
    assert!(!a.is_disjoint(&b) && a.is_disjoint(&[9].into()));
    let mut c = a.clone();
    c.retain(|x| x % 2 == 1);
    assert_eq!(c, [1, 3].into());
    let mut drained: Vec<u8> = c.drain().collect();
    drained.sort_unstable();
    assert_eq!((drained, c.len()), (vec![1, 3], 0));
    c.extend(&[7, 8]);
    assert_eq!(format!("{:?}", HashSet::from([5u8])), "{5}");
}

#[test]
fn extend_copies_borrowed_pairs_like_hashbrown() {
    let pairs = [(1u32, 'a'), (2, 'b')];
    let mut map: HashMap<u32, char> = HashMap::new();
    map.extend(&pairs); // `Extend<&(K, V)>`: hashbrown's, not std's
    map.extend(pairs.iter().map(|(k, v)| (k, v))); // `Extend<(&K, &V)>`
    assert_eq!(map, HashMap::from(pairs));
}

#[test]
fn the_default_hasher_is_a_newtype_named_as_stds() {
    use gomap::hash_map::{DefaultHasher, RandomState};
    use std::hash::BuildHasher;
    let state: DefaultHashBuilder = RandomState::new();
    let _: DefaultHasher = state.build_hasher();
    // Each builder has its own seed.
    let other = RandomState::new();
    assert_ne!(state.hash_one(7u64), other.hash_one(7u64));
    // The hasher's `new` is fixed: the same hash every time.
    let fixed = |x: u64| {
        let mut h = DefaultHasher::new();
        h.write_u64(x);
        h.finish()
    };
    assert_eq!(fixed(7), fixed(7));
    assert_ne!(fixed(7), fixed(8));
}

#[test]
fn a_shared_map_with_the_default_hasher_is_unwind_safe() {
    fn assert_ref_unwind_safe<T: std::panic::RefUnwindSafe + std::panic::UnwindSafe>() {}
    assert_ref_unwind_safe::<HashMap<String, Vec<u8>>>();
    assert_ref_unwind_safe::<&HashMap<u64, u64>>();
    assert_ref_unwind_safe::<HashSet<String>>();
    assert_ref_unwind_safe::<&HashSet<u64>>();
    assert_ref_unwind_safe::<DefaultHashBuilder>();
    // As std's: an owned map is `UnwindSafe` when its keys and values are,
    // even if they are not `RefUnwindSafe`.
    fn assert_unwind_safe<T: std::panic::UnwindSafe>() {}
    assert_unwind_safe::<HashMap<u32, std::cell::Cell<u32>>>();
    assert_unwind_safe::<gomap::hash_map::IntoIter<u32, std::cell::Cell<u32>>>();
}

/// A map in the middle of a migration of `kind`, and its keys.
fn mid_migration(kind: MigrationKind) -> HashMap<u64, u64> {
    let mut map: HashMap<u64, u64> = HashMap::new();
    let mut k = 0;
    while map.mem_stats().migration.is_none() || k < 5_000 {
        map.insert(k, k);
        k += 1;
    }
    if kind == MigrationKind::Shrink {
        map.finish_migration();
        map.retain(|k, _| k % 50 == 0); // starts a shrink, moves nothing
    }
    assert_eq!(map.mem_stats().migration.map(|m| m.kind), Some(kind));
    map
}

#[test]
fn extract_if_mid_migration_takes_every_match_once() {
    for kind in [MigrationKind::Grow, MigrationKind::Shrink] {
        let mut map = mid_migration(kind);
        let before: std::collections::HashMap<u64, u64> =
            map.iter().map(|(k, v)| (*k, *v)).collect();
        let mut taken: Vec<u64> = map.extract_if(|k, _| k % 3 == 0).map(|(k, _)| k).collect();
        taken.sort_unstable();
        let mut expected: Vec<u64> = before.keys().copied().filter(|k| k % 3 == 0).collect();
        expected.sort_unstable();
        assert_eq!(taken, expected, "{kind:?}");
        assert_eq!(map.len(), before.len() - expected.len());
        for (k, v) in &before {
            assert_eq!(map.get(k).is_some(), k % 3 != 0, "{kind:?} {k}");
            if k % 3 != 0 {
                assert_eq!(map[k], *v);
            }
        }
        map.finish_migration();
        assert_eq!(map.iter().count(), map.len());
    }
}

#[test]
fn get_disjoint_mut_finds_keys_in_either_array_mid_migration() {
    let mut map = mid_migration(MigrationKind::Grow);
    // A walk visits the old array first: the first keys are there, the
    // last ones (moved or inserted since the grow began) in the new one.
    let all: Vec<u64> = map.keys().copied().collect();
    let keys: Vec<u64> = all[..32]
        .iter()
        .chain(&all[all.len() - 32..])
        .copied()
        .collect();
    let refs: [&u64; 64] = std::array::from_fn(|i| &keys[i]);
    for v in map.get_disjoint_mut(refs).into_iter() {
        *v.expect("present") += 1_000_000;
    }
    assert!(keys.iter().all(|k| map[k] == k + 1_000_000));
}
