use super::migration::{FINISH_WORK, SKIPS_PER_ENTRY, WRITE_BUDGET};
use super::*;
use allocator_api2::alloc::Global;
use core::hash::BuildHasher;
use std::vec::Vec;

/// Keys for the tests below: fewer under Miri, which runs ~1000x slower.
const KEYS: u64 = if cfg!(miri) { 1_000 } else { 20_000 };

/// Old buckets that still hold something, with the entries of each chain,
/// highest index first (the cursor's order): what a write could move.
fn loaded_old_buckets<K, V>(table: &RawTable<K, V, Global>) -> Option<Vec<(usize, usize)>> {
    let m = table.migration.as_ref()?;
    let loaded = (0..m.old.buckets())
        .rev()
        .filter(|&i| !m.old.is_evacuated(i))
        .map(|i| {
            let mut bucket = Some(m.old.head::<K, V>(i));
            let mut entries = 0;
            while let Some(b) = bucket {
                // SAFETY: not evacuated, so it and its chain are live.
                unsafe {
                    entries += b.tophash().match_full().count_slots();
                    bucket = b.overflow::<K, V>();
                }
            }
            (i, entries)
        })
        .filter(|&(_, entries)| entries > 0)
        .collect();
    Some(loaded)
}

/// Of `loaded`, the entry counts of the buckets evacuated now (all of them
/// when the migration ended), in the cursor's order.
fn moved_since<K, V>(table: &RawTable<K, V, Global>, loaded: &[(usize, usize)]) -> Vec<usize> {
    loaded
        .iter()
        .filter(|&&(i, _)| {
            table
                .migration
                .as_ref()
                .is_none_or(|m| m.old.is_evacuated(i))
        })
        .map(|&(_, entries)| entries)
        .collect()
}

/// What each write of a long run of inserts then removes moved, per kind of
/// migration: `(kind, entries moved, the write ended the migration)`. Checks
/// after every write that no migration is left with a small remainder.
fn migration_writes(seed: u64) -> Vec<(MigrationKind, Vec<usize>, bool)> {
    let state = foldhash::fast::FixedState::with_seed(seed);
    let hasher = |k: &u64| state.hash_one(k);
    let mut table = RawTable::<u64, u64, Global>::new_in(Global);
    let mut writes = Vec::new();
    for (key, insert) in (0..KEYS)
        .map(|k| (k, true))
        .chain((0..KEYS).map(|k| (k, false)))
    {
        let before = loaded_old_buckets(&table);
        let kind = table.migration.as_ref().map(|m| m.kind);
        let started = table.started;
        let hash = hasher(&key);
        if insert {
            match table.entry(hash, |k| *k == key, hasher) {
                RawEntry::Vacant(v) => drop(v.insert(key, key, hasher)),
                RawEntry::Occupied(_) => panic!("{key} inserted twice"),
            }
        } else {
            assert_eq!(table.remove(hash, |k| *k == key, hasher), Some((key, key)));
        }
        if let (Some(kind), Some(before)) = (kind, before) {
            // A write that ended its migration and started the next one
            // moved every bucket of the first.
            let ended = table.migration.is_none()
                || [
                    MigrationKind::Grow,
                    MigrationKind::Compact,
                    MigrationKind::Shrink,
                ]
                .into_iter()
                .any(|k| table.started.get(k) != started.get(k));
            let moved = if ended {
                before.iter().map(|&(_, entries)| entries).collect()
            } else {
                moved_since(&table, &before)
            };
            writes.push((kind, moved, ended));
        }
        if let Some(m) = &table.migration {
            assert!(
                m.remaining_work() > FINISH_WORK,
                "a write left a migration with a small remainder: {} entries, cursor {}",
                m.old_len,
                m.cursor
            );
        }
    }
    assert_eq!(table.len(), 0);
    assert!(
        table.current.log2 <= 1,
        "shrunk back to {} buckets",
        table.current.buckets()
    );
    writes
}

#[test]
fn a_write_moves_its_budget_of_entries_and_finishes_small_remainders() {
    let writes = migration_writes(1);
    for kind in [MigrationKind::Grow, MigrationKind::Shrink] {
        let of_kind = writes.iter().filter(|(k, _, _)| *k == kind).count();
        assert!(of_kind as u64 > KEYS / 100, "{kind:?}: {of_kind} writes");
    }
    for (kind, moved, ended) in &writes {
        let total: usize = moved.iter().sum();
        let last = moved.last().copied().unwrap_or(0);
        if *ended {
            // Its budget, then at most the small remainder.
            let bound = WRITE_BUDGET + FINISH_WORK / SKIPS_PER_ENTRY + last;
            assert!(total <= bound, "{kind:?}: the ending write moved {total}");
        } else {
            // Every bucket but the last was started within the budget.
            assert!(
                total - last < WRITE_BUDGET,
                "{kind:?}: one write moved {moved:?}"
            );
        }
    }
}

#[test]
fn shrinks_move_as_many_entries_per_write_as_grows() {
    let writes = migration_writes(2);
    let per_write = |kind: MigrationKind| {
        let (entries, count) = writes
            .iter()
            .filter(|(k, _, ended)| *k == kind && !ended)
            .fold((0, 0), |(e, c), (_, moved, _)| {
                (e + moved.iter().sum::<usize>(), c + 1)
            });
        entries as f64 / count as f64
    };
    let (grow, shrink) = (
        per_write(MigrationKind::Grow),
        per_write(MigrationKind::Shrink),
    );
    assert!(
        shrink >= 0.75 * grow,
        "entries moved per write: grow {grow:.1}, shrink {shrink:.1}"
    );
}

#[test]
fn reads_never_move_anything() {
    let state = foldhash::fast::FixedState::with_seed(2);
    let hasher = |k: &u64| state.hash_one(k);
    let mut table = RawTable::<u64, u64, Global>::new_in(Global);
    for key in 0..if cfg!(miri) { 300 } else { 1_000 } {
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

/// `fold` visits exactly what `next` would: from the start and from the
/// middle of a walk, with and without a migration running (and overflow
/// chains, from colliding low hash bits).
#[test]
fn fold_matches_next() {
    let hasher = |k: &u64| k.wrapping_mul(0x9e37_79b9_7f4a_7c15) << 4;
    let mut table = RawTable::<u64, u64, Global>::new_in(Global);
    let mut migrating_seen = false;
    // Enough keys for grows with more to move than the small-remainder
    // rule finishes at once, under Miri too, where walks are checked
    // less often (each costs seconds there).
    let (keys, every) = if cfg!(miri) {
        (2_000, 997)
    } else {
        (KEYS / 4, 97)
    };
    for key in 0..keys {
        if let RawEntry::Vacant(v) = table.entry(hasher(&key), |k| *k == key, hasher) {
            v.insert(key, key * 3, hasher);
        }
        // Mid-migration: every 7th write, or under Miri the first one.
        let mid_migration = table.migration.is_some()
            && if cfg!(miri) {
                !migrating_seen
            } else {
                key % 7 == 0
            };
        if key % every != 0 && !mid_migration {
            continue;
        }
        migrating_seen |= table.migration.is_some();
        let by_next: Vec<(u64, u64)> = table.iter().map(|(k, v)| (*k, *v)).collect();
        let mut by_fold = Vec::new();
        table.iter().fold((), |(), (k, v)| by_fold.push((*k, *v)));
        let mut sorted = by_next.clone();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(sorted.len(), table.len());
        let skips: &[usize] = if cfg!(miri) {
            &[0, 7]
        } else {
            &[0, 1, 7, by_next.len() / 2]
        };
        for &skip in skips {
            let mut iter = table.iter();
            let mut seen: Vec<(u64, u64)> =
                iter.by_ref().take(skip).map(|(k, v)| (*k, *v)).collect();
            iter.fold((), |(), (k, v)| seen.push((*k, *v)));
            seen.sort_unstable();
            assert_eq!(seen, sorted);
        }
        by_fold.sort_unstable();
        assert_eq!(by_fold, sorted);
    }
    assert!(migrating_seen);
}
