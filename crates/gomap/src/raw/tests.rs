use super::*;
use allocator_api2::alloc::Global;
use core::hash::BuildHasher;

/// Old buckets that still hold something: what a write could move.
fn loaded_old_buckets<K, V>(table: &RawTable<K, V, Global>) -> Option<Vec<usize>> {
    let m = table.migration.as_ref()?;
    let loaded = (0..m.old.buckets())
        .filter(|&i| !m.old.is_evacuated(i))
        .filter(|&i| {
            let head = m.old.head::<K, V>(i);
            // SAFETY: not evacuated, so live.
            unsafe { head.tophash().match_full().any() || head.overflow::<K, V>().is_some() }
        })
        .collect();
    Some(loaded)
}

/// How many of `loaded` (old buckets that held entries) are evacuated now.
fn evacuated_since<K, V>(table: &RawTable<K, V, Global>, loaded: &[usize]) -> usize {
    table.migration.as_ref().map_or(loaded.len(), |m| {
        loaded.iter().filter(|&&i| m.old.is_evacuated(i)).count()
    })
}

#[test]
fn writes_move_at_most_two_loaded_old_buckets_in_grow_and_shrink() {
    let state = foldhash::fast::FixedState::with_seed(1);
    let hasher = |k: &u64| state.hash_one(k);
    let mut table = RawTable::<u64, u64, Global>::new_in(Global);
    let (mut grows, mut shrinks) = (0, 0);
    let step = |table: &mut RawTable<u64, u64, Global>, key: u64, insert: bool| {
        let before = loaded_old_buckets(table);
        let kind = table.migration.as_ref().map(|m| m.kind);
        let hash = hasher(&key);
        if insert {
            match table.entry(hash, |k| *k == key, hasher) {
                RawEntry::Vacant(v) => drop(v.insert(key, key, hasher)),
                RawEntry::Occupied(_) => panic!("{key} inserted twice"),
            }
        } else {
            assert_eq!(table.remove(hash, |k| *k == key, hasher), Some((key, key)));
        }
        if let Some(before) = before {
            let moved = evacuated_since(table, &before);
            assert!(
                moved <= 2,
                "{kind:?}: one write moved {moved} loaded buckets"
            );
        }
        kind
    };
    for key in 0..20_000 {
        grows += usize::from(step(&mut table, key, true) == Some(MigrationKind::Grow));
    }
    for key in 0..20_000 {
        shrinks += usize::from(step(&mut table, key, false) == Some(MigrationKind::Shrink));
    }
    assert!(
        grows > 1000 && shrinks > 1000,
        "grows {grows}, shrinks {shrinks}"
    );
    assert_eq!(table.len(), 0);
    assert!(
        table.current.log2 <= 1,
        "shrunk back to {} buckets",
        table.current.buckets()
    );
}

#[test]
fn reads_never_move_anything() {
    let state = foldhash::fast::FixedState::with_seed(2);
    let hasher = |k: &u64| state.hash_one(k);
    let mut table = RawTable::<u64, u64, Global>::new_in(Global);
    for key in 0..1000u64 {
        let hash = hasher(&key);
        if let RawEntry::Vacant(v) = table.entry(hash, |k| *k == key, hasher) {
            v.insert(key, key, hasher);
        }
        if table.migration.is_some() {
            let before = (loaded_old_buckets(&table), table.mem_stats());
            for probe in 0..=key + 10 {
                let found = table.get(hasher(&probe), |k| *k == probe).map(|(_, v)| *v);
                assert_eq!(found, (probe <= key).then_some(probe));
            }
            assert!(before == (loaded_old_buckets(&table), table.mem_stats()));
        }
    }
}

#[test]
fn capacity_follows_go_over_load_factor() {
    // Go: grow when count > 8 && count > 6.5 * 2^B.
    assert_eq!(capacity_of(0), 8);
    assert_eq!(capacity_of(1), 13);
    assert_eq!(capacity_of(2), 26);
    assert_eq!(capacity_of(10), 6656);
    assert_eq!(log2_for(0).unwrap(), 0);
    assert_eq!(log2_for(8).unwrap(), 0);
    assert_eq!(log2_for(9).unwrap(), 1);
    assert_eq!(log2_for(6657).unwrap(), 11);
    assert!(log2_for(usize::MAX).is_err());
}
