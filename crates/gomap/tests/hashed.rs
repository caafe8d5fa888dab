//! The hash-given methods (`insert_hashed`, `entry_hashed`,
//! `get_key_value_hashed`, `get_mut_hashed`, `find_slot_hashed`,
//! `remove_entry_hashed`): against std's `HashMap` through grows and shrinks,
//! mid-migration included; and what a wrong hash may and may not do: one
//! misplaced key followed through a grow, and random steps mixing true,
//! inverted and zero hashes with plain writes through grows, shrinks and
//! migrations, counted after every step.

mod common;

use common::{cases, live_values, sized, Counted, CountingAlloc};
use gomap::{DefaultHashBuilder, HashMap};
use proptest::prelude::*;
use std::hash::BuildHasher;

#[derive(Debug, Clone)]
enum Op {
    Insert(u16, u32),
    Entry(u16),
    Get(u16),
    GetMut(u16),
    Remove(u16),
}

fn op() -> impl Strategy<Value = Op> {
    // Keys from a small range, so hits, misses and overwrites all happen;
    // inserts outweigh removes at first (grows), then removes win (shrinks).
    prop_oneof![
        3 => (0..600u16, any::<u32>()).prop_map(|(k, v)| Op::Insert(k, v)),
        1 => (0..600u16).prop_map(Op::Entry),
        2 => (0..600u16).prop_map(Op::Get),
        1 => (0..600u16).prop_map(Op::GetMut),
        3 => (0..600u16).prop_map(Op::Remove),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(cases(64)))]

    #[test]
    fn hashed_methods_match_std(ops in proptest::collection::vec(op(), 0..sized(3000, 200))) {
        let mut map: HashMap<u16, u32> = HashMap::new();
        let mut model = std::collections::HashMap::new();
        for op in ops {
            match op {
                Op::Insert(k, v) => {
                    let hash = map.hasher().hash_one(k);
                    prop_assert_eq!(map.insert_hashed(hash, k, v), model.insert(k, v));
                }
                Op::Entry(k) => {
                    let hash = map.hasher().hash_one(k);
                    *map.entry_hashed(hash, k).or_insert(0) += 1;
                    *model.entry(k).or_insert(0) += 1;
                }
                Op::Get(k) => {
                    let hash = map.hasher().hash_one(k);
                    prop_assert_eq!(map.get_key_value_hashed(hash, &k), model.get_key_value(&k));
                    let found = map.find_slot_hashed(hash, &k).and_then(|s| map.get_slot(s));
                    prop_assert_eq!(found, model.get_key_value(&k));
                }
                Op::GetMut(k) => {
                    let hash = map.hasher().hash_one(k);
                    if let Some(v) = map.get_mut_hashed(hash, &k) {
                        *v = v.wrapping_mul(3);
                    }
                    if let Some(v) = model.get_mut(&k) {
                        *v = v.wrapping_mul(3);
                    }
                }
                Op::Remove(k) => {
                    let hash = map.hasher().hash_one(k);
                    prop_assert_eq!(map.remove_entry_hashed(hash, &k), model.remove_entry(&k));
                }
            }
            prop_assert_eq!(map.len(), model.len());
        }
        let mut got: Vec<_> = map.iter().map(|(&k, &v)| (k, v)).collect();
        got.sort_unstable();
        let mut want: Vec<_> = model.into_iter().collect();
        want.sort_unstable();
        prop_assert_eq!(got, want);
    }
}

/// A map left mid-grow by hashed inserts: every hashed lookup agrees with
/// the plain one, in both arrays.
#[test]
fn hashed_methods_mid_migration() {
    let mut map: HashMap<u64, u64> = HashMap::new();
    let mut k = 0u64;
    while map.mem_stats().migration.is_none() || k < 200 {
        let hash = map.hasher().hash_one(k);
        map.insert_hashed(hash, k, k);
        k += 1;
    }
    assert!(map.mem_stats().migration.is_some(), "mid-grow");
    for key in 0..k + 10 {
        let hash = map.hasher().hash_one(key);
        assert_eq!(
            map.get_key_value_hashed(hash, &key),
            map.get_key_value(&key)
        );
        assert_eq!(
            map.find_slot_hashed(hash, &key).is_some(),
            map.contains_key(&key)
        );
    }
    let hash = map.hasher().hash_one(3u64);
    assert_eq!(map.remove_entry_hashed(hash, &3), Some((3, 3)));
    assert!(!map.contains_key(&3));
}

/// A wrong hash is a logic error, not undefined behaviour: the key is
/// stored where a lookup by its true hash does not look, every entry stays
/// counted, owned and dropped once, `mem_stats` still matches the
/// allocator, and the next migration places the key by its true hash.
#[test]
fn a_wrong_hash_misplaces_but_never_breaks() {
    let alloc = CountingAlloc::default();
    let before = live_values();
    {
        let mut map: HashMap<u64, Counted, DefaultHashBuilder, CountingAlloc> =
            HashMap::with_capacity_in(64, alloc.clone());
        // Every bit inverted: another bucket (low bits) and another tophash
        // (top byte), so a lookup by the true hash cannot find it.
        let wrong = !map.hasher().hash_one(7u64);
        assert_eq!(map.insert_hashed(wrong, 7, Counted::new(7)), None);
        assert_eq!(map.len(), 1);
        assert_eq!(map.get(&7), None);
        assert_eq!(
            map.get_key_value_hashed(wrong, &7).map(|(k, _)| *k),
            Some(7)
        );
        // A second, correct insert of an equal key is a second entry.
        assert!(map.insert(7, Counted::new(8)).is_none());
        assert_eq!(map.len(), 2);
        assert_eq!(map.iter().filter(|(k, _)| **k == 7).count(), 2);
        assert_eq!(map.mem_stats().allocated_bytes, alloc.live());
        // Remove the correct one; grow the map so the misplaced entry moves.
        assert_eq!(map.remove(&7).map(|v| v.0), Some(8));
        for k in 100..100 + sized(2000, 200) as u64 {
            map.insert(k, Counted::new(0));
            assert_eq!(map.mem_stats().allocated_bytes, alloc.live());
        }
        map.finish_migration();
        assert_eq!(map.get(&7).map(|v| v.0), Some(7), "placed by its true hash");
        assert_eq!(live_values() - before, map.len() as isize);
    }
    assert_eq!(live_values(), before, "every value dropped once");
    assert_eq!(alloc.live(), 0);
}

/// Which hash a step hands to a hash-given method.
#[derive(Debug, Clone, Copy)]
enum Given {
    True,
    /// Every bit inverted: another bucket and another tophash.
    Inverted,
    Zero,
}

#[derive(Debug, Clone)]
enum Step {
    /// A plain insert: fills the map, so migrations start and run.
    Insert(u16),
    /// A plain remove: empties it, so shrinks start and run.
    Remove(u16),
    InsertHashed(u16, Given),
    EntryRemove(u16, Given),
    RemoveHashed(u16, Given),
    GetMutHashed(u16, Given),
    /// `find_slot_hashed`, then the slot read back and its entry removed.
    SlotRemove(u16, Given),
}

fn step() -> impl Strategy<Value = Step> {
    let given = prop_oneof![Just(Given::True), Just(Given::Inverted), Just(Given::Zero)];
    // Enough keys that the map grows past a thousand entries, where a
    // migration spans dozens of writes.
    let key = 0..1500u16;
    prop_oneof![
        6 => key.clone().prop_map(Step::Insert),
        2 => key.clone().prop_map(Step::Remove),
        2 => (key.clone(), given.clone()).prop_map(|(k, g)| Step::InsertHashed(k, g)),
        1 => (key.clone(), given.clone()).prop_map(|(k, g)| Step::EntryRemove(k, g)),
        1 => (key.clone(), given.clone()).prop_map(|(k, g)| Step::RemoveHashed(k, g)),
        1 => (key.clone(), given.clone()).prop_map(|(k, g)| Step::GetMutHashed(k, g)),
        1 => (key, given).prop_map(|(k, g)| Step::SlotRemove(k, g)),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(cases(48)))]

    /// Wrong hashes mixed with true ones, in every state a map passes
    /// through (growing, shrinking, mid-migration): whatever each call
    /// returns, every entry stays counted, owned and dropped once, and
    /// `mem_stats` matches a counting allocator after every step.
    #[test]
    fn wrong_hashes_break_nothing(steps in proptest::collection::vec(step(), 0..sized(3000, 150))) {
        let alloc = CountingAlloc::default();
        let before = live_values();
        {
            let mut map: HashMap<u16, Counted, DefaultHashBuilder, CountingAlloc> =
                HashMap::new_in(alloc.clone());
            let hash_of = |map: &HashMap<u16, Counted, DefaultHashBuilder, CountingAlloc>, k: u16, g: Given| {
                let h = map.hasher().hash_one(k);
                match g {
                    Given::True => h,
                    Given::Inverted => !h,
                    Given::Zero => 0,
                }
            };
            for step in steps {
                match step {
                    Step::Insert(k) => drop(map.insert(k, Counted::new(k.into()))),
                    Step::Remove(k) => drop(map.remove(&k)),
                    Step::InsertHashed(k, g) => {
                        let h = hash_of(&map, k, g);
                        drop(map.insert_hashed(h, k, Counted::new(k.into())));
                    }
                    Step::EntryRemove(k, g) => {
                        let h = hash_of(&map, k, g);
                        if let gomap::hash_map::Entry::Occupied(e) = map.entry_hashed(h, k) {
                            prop_assert_eq!(*e.key(), k);
                            drop(e.remove());
                        }
                    }
                    Step::RemoveHashed(k, g) => {
                        let h = hash_of(&map, k, g);
                        if let Some((key, _)) = map.remove_entry_hashed(h, &k) {
                            prop_assert_eq!(key, k);
                        }
                    }
                    Step::GetMutHashed(k, g) => {
                        let h = hash_of(&map, k, g);
                        if let Some(v) = map.get_mut_hashed(h, &k) {
                            v.0 = v.0.wrapping_add(1);
                        }
                    }
                    Step::SlotRemove(k, g) => {
                        let h = hash_of(&map, k, g);
                        if let Some(slot) = map.find_slot_hashed(h, &k) {
                            prop_assert_eq!(map.get_slot(slot).map(|(key, _)| *key), Some(k));
                            drop(map.slot_entry(slot).expect("a slot just found").remove());
                        }
                    }
                }
                prop_assert_eq!(map.iter().count(), map.len());
                prop_assert_eq!(live_values() - before, map.len() as isize);
                prop_assert_eq!(map.mem_stats().allocated_bytes, alloc.live());
            }
        }
        prop_assert_eq!(live_values(), before, "every value dropped once");
        prop_assert_eq!(alloc.live(), 0);
    }
}
