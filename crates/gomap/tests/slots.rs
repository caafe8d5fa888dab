//! Slot handles: `find_slot` + `get_slot` agree with `get`, a
//! `first_slot`/`next_slot` walk gives every entry exactly once, stale and
//! foreign slots give nothing or a real pair, `get_slot_mut` keeps owned
//! bytes exact and moves nothing — on maps in the middle of a grow and of
//! a shrink, checked after every step against std's map.

mod common;

use common::{cases, sized, ConstHash};
use gomap::hash_map::Slot;
use gomap::{HashMap, MigrationKind};
use proptest::prelude::*;
use std::collections::HashMap as StdMap;
use std::hash::BuildHasher;

type Map<S> = HashMap<u64, Vec<u8>, S>;

#[derive(Clone, Debug)]
enum Op {
    Insert(u64),
    Remove(u64),
    /// Push this many bytes into the key's value through `get_slot_mut`.
    Push(u64, u8),
    /// Replace the key's value through `slot_entry`.
    Replace(u64),
    /// Remove the key through `slot_entry`.
    SlotRemove(u64),
    Step,
}

fn op(keys: u64) -> impl Strategy<Value = Op> {
    prop_oneof![
        3 => (0..keys).prop_map(Op::Insert),
        3 => (0..keys).prop_map(Op::Remove),
        3 => (0..keys, 1..40u8).prop_map(|(k, n)| Op::Push(k, n)),
        1 => (0..keys).prop_map(Op::Replace),
        1 => (0..keys).prop_map(Op::SlotRemove),
        1 => Just(Op::Step),
    ]
}

/// A map of `fill` keys, owned bytes tracked, then keys removed from the
/// top until `keep_percent` are left or a shrink starts (so it is left
/// mid-shrink when the map is large enough that the shrink outlives the
/// write that starts it, as a grow does past ~200 entries).
fn build<S: BuildHasher>(
    hasher: S,
    fill: u64,
    keep_percent: u64,
) -> (Map<S>, StdMap<u64, Vec<u8>>) {
    let mut map = HashMap::with_hasher(hasher).with_owned_bytes(|_| 0, Vec::capacity);
    let mut model = StdMap::new();
    let mut k = 0;
    // Kept whole, the map is filled on until a grow is running (or past
    // `fill` if one already is), so the walk and slots meet two arrays.
    while k < fill
        || (keep_percent == 100
            && !map
                .mem_stats()
                .migration
                .is_some_and(|m| m.kind == MigrationKind::Grow))
    {
        map.insert(k, vec![k as u8]);
        model.insert(k, vec![k as u8]);
        k += 1;
    }
    for k in (fill * keep_percent / 100..fill).rev() {
        if map
            .mem_stats()
            .migration
            .is_some_and(|m| m.kind == MigrationKind::Shrink)
        {
            break;
        }
        map.remove(&k);
        model.remove(&k);
    }
    (map, model)
}

/// Every property of slots, on `map` as it is now.
fn check<S: BuildHasher>(
    map: &Map<S>,
    model: &StdMap<u64, Vec<u8>>,
    keys: u64,
    stale: &[Slot],
    foreign: &Map<ConstHash>,
) -> Result<(), TestCaseError> {
    for k in 0..keys {
        let found = map.find_slot(&k).map(|at| map.get_slot(at));
        let expected = model.get_key_value(&k);
        prop_assert_eq!(found, expected.map(Some), "key {}", k);
    }
    let mut walked = Vec::new();
    let mut at = map.first_slot();
    while let Some(slot) = at {
        let (k, _) = map.get_slot(slot).expect("a walk yields full slots");
        walked.push(*k);
        prop_assert!(walked.len() <= map.len(), "the walk repeats an entry");
        at = map.next_slot(slot);
    }
    walked.sort_unstable();
    let mut expected: Vec<u64> = model.keys().copied().collect();
    expected.sort_unstable();
    prop_assert_eq!(walked, expected);
    for &slot in stale {
        if let Some((k, v)) = map.get_slot(slot) {
            prop_assert_eq!(model.get(k), Some(v), "a stale slot gives a real pair");
        }
        if let Some((k, v)) = foreign.get_slot(slot) {
            prop_assert_eq!(
                foreign.get(k),
                Some(v),
                "a foreign slot gives its map's pair"
            );
        }
        if let Some(next) = map.next_slot(slot) {
            prop_assert!(
                map.get_slot(next).is_some(),
                "a walk from a stale slot yields full slots"
            );
        }
    }
    let owned: usize = model.values().map(Vec::capacity).sum();
    prop_assert_eq!(map.owned_bytes(), Some(owned));
    Ok(())
}

/// Applies `ops` to a map built by `build`, checking after every step;
/// each step's slots are kept to be checked as stale after the next.
fn run<S: BuildHasher>(
    hasher: S,
    fill: u64,
    keep_percent: u64,
    ops: Vec<Op>,
) -> Result<(), TestCaseError> {
    let keys = fill + 16;
    let (mut map, mut model) = build(hasher, fill, keep_percent);
    let foreign: Map<ConstHash> = (0..40).map(|k| (k, vec![1])).collect();
    let mut stale: Vec<Slot> = Vec::new();
    check(&map, &model, keys, &stale, &foreign)?;
    for op in ops {
        stale = (0..keys).filter_map(|k| map.find_slot(&k)).collect();
        match op {
            Op::Insert(k) => {
                prop_assert_eq!(map.insert(k, vec![0; 3]), model.insert(k, vec![0; 3]))
            }
            Op::Remove(k) => prop_assert_eq!(map.remove(&k), model.remove(&k)),
            Op::Push(k, n) => {
                let before = (map.mem_stats().migration, map.allocator_calls());
                if let Some(at) = map.find_slot(&k) {
                    let (key, value) = map.get_slot_mut(at).expect("just found");
                    prop_assert_eq!(*key, k);
                    value.extend(std::iter::repeat_n(7, n.into()));
                    model
                        .get_mut(&k)
                        .expect("in the model")
                        .extend(std::iter::repeat_n(7, n.into()));
                }
                prop_assert_eq!(
                    before,
                    (map.mem_stats().migration, map.allocator_calls()),
                    "get_slot_mut moved something"
                );
            }
            Op::Replace(k) => {
                let old = map
                    .find_slot(&k)
                    .map(|at| map.slot_entry(at).expect("just found").insert(vec![9; 20]));
                let expected = model.get_mut(&k).map(|v| std::mem::replace(v, vec![9; 20]));
                prop_assert_eq!(old, expected);
            }
            Op::SlotRemove(k) => {
                let removed = map
                    .find_slot(&k)
                    .map(|at| map.slot_entry(at).expect("just found").remove_entry());
                prop_assert_eq!(removed, model.remove_entry(&k));
            }
            Op::Step => {
                map.step_migration(4);
            }
        }
        check(&map, &model, keys, &stale, &foreign)?;
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(cases(32)))]

    /// Keep everything: the map is filled past a grow or two, then on until
    /// a grow is running (`build`).
    #[test]
    fn slots_agree_with_lookups_while_growing(
        fill in sized(210, 210) as u64..sized(1500, 215) as u64,
        ops in proptest::collection::vec(op(1600), 0..sized(80, 4)),
    ) {
        run(foldhash::fast::RandomState::default(), fill, 100, ops)?;
    }

    /// Remove most: the map is mid-shrink.
    #[test]
    fn slots_agree_with_lookups_while_shrinking(
        fill in sized(1200, 1000) as u64..sized(3000, 1001) as u64,
        keep in 5u64..25,
        ops in proptest::collection::vec(op(3100), 0..sized(80, 4)),
    ) {
        run(foldhash::fast::RandomState::default(), fill, keep, ops)?;
    }

    /// Every key in one chain: positions deep in an overflow chain.
    #[test]
    fn slots_agree_with_lookups_in_one_long_chain(
        fill in 1u64..sized(120, 30) as u64,
        keep in 10u64..100,
        ops in proptest::collection::vec(op(130), 0..sized(60, 4)),
    ) {
        run(ConstHash, fill, keep, ops)?;
    }
}

#[test]
fn a_walk_covers_both_arrays_in_the_middle_of_a_grow() {
    let (map, model) = build(foldhash::fast::RandomState::default(), 209, 100);
    let migration = map
        .mem_stats()
        .migration
        .expect("the 209th insert starts a grow");
    assert_eq!(migration.kind, MigrationKind::Grow);
    let mut seen = 0;
    let mut at = map.first_slot();
    while let Some(slot) = at {
        let (k, v) = map.get_slot(slot).unwrap();
        assert_eq!(model.get(k), Some(v));
        seen += 1;
        at = map.next_slot(slot);
    }
    assert_eq!(seen, model.len());
}

#[test]
fn find_slot_finds_keys_still_in_the_old_array_of_a_shrink() {
    let (map, model) = build(
        foldhash::fast::RandomState::default(),
        sized(3000, 1000) as u64,
        0,
    );
    let migration = map
        .mem_stats()
        .migration
        .expect("the removals started a shrink");
    assert_eq!(migration.kind, MigrationKind::Shrink);
    for (k, v) in &model {
        let at = map.find_slot(k).unwrap();
        assert_eq!(map.get_slot(at), Some((k, v)));
    }
}

#[test]
fn a_slot_from_the_entry_api_names_the_entry_without_a_lookup() {
    let mut map: HashMap<&str, u32> = HashMap::new();
    let inserted = map.entry("a").insert_entry(1).slot();
    let gomap::Entry::Occupied(found) = map.entry("a") else {
        panic!("just inserted")
    };
    assert_eq!(found.slot(), inserted);
    assert_eq!(map.find_slot("a"), Some(inserted));
    assert_eq!(map.get_slot(inserted), Some((&"a", &1)));
}

#[test]
fn reading_by_slot_moves_nothing_in_the_middle_of_a_migration() {
    let (mut map, _) = build(foldhash::fast::RandomState::default(), 209, 100);
    let before = map.mem_stats();
    let calls = map.allocator_calls();
    let mut at = map.first_slot();
    while let Some(slot) = at {
        map.get_slot_mut(slot).unwrap().1.push(1);
        at = map.next_slot(slot);
    }
    assert_eq!(map.mem_stats().migration, before.migration);
    assert_eq!(map.allocator_calls(), calls);
}

#[test]
fn a_slot_of_a_removed_entry_gives_nothing() {
    let mut map: HashMap<u32, u32> = (0..10).map(|k| (k, k)).collect();
    let at = map.find_slot(&3).unwrap();
    map.remove(&3);
    assert_eq!(map.get_slot(at).map(|(k, _)| *k), None);
    assert!(map.get_slot_mut(at).is_none());
    assert!(map.slot_entry(at).is_none());
}

#[test]
fn an_empty_map_has_no_slots_and_refuses_foreign_ones() {
    let full: HashMap<u32, u32> = (0..1000).map(|k| (k, k)).collect();
    let mut empty: HashMap<u32, u32> = HashMap::new();
    assert_eq!(empty.first_slot(), None);
    let mut at = full.first_slot();
    while let Some(slot) = at {
        assert_eq!(empty.get_slot(slot), None);
        assert!(empty.get_slot_mut(slot).is_none());
        assert_eq!(empty.next_slot(slot), None);
        at = full.next_slot(slot);
    }
}

#[test]
fn lent_slots_sit_side_by_side_and_edit_every_value_in_place() {
    use gomap::hash_map::SlotLender;
    let (mut map, mut model) = build(foldhash::fast::RandomState::default(), 209, 100);
    let before = (map.mem_stats().migration, map.allocator_calls());
    let mut lent: Vec<_> = SlotLender::new(&mut map).collect();
    assert_eq!(lent.len(), model.len(), "every entry lent once");
    for entry in &mut lent {
        let (k, v) = entry.pair_mut();
        assert_eq!(model.get(k), Some(&*v));
        v.push(b'+');
    }
    drop(lent);
    model.values_mut().for_each(|v| v.push(b'+'));
    assert_eq!(
        before,
        (map.mem_stats().migration, map.allocator_calls()),
        "lending moved something"
    );
    assert!(model.iter().all(|(k, v)| map.get(k) == Some(v)));
    let owned: usize = model.values().map(Vec::capacity).sum();
    assert_eq!(
        map.owned_bytes(),
        Some(owned),
        "owned bytes measured again after lending"
    );
}

/// An owner that records when it is dropped.
struct Owner<'a> {
    map: &'a mut HashMap<u32, u32>,
    dropped: &'a std::cell::Cell<bool>,
}

impl std::ops::Deref for Owner<'_> {
    type Target = HashMap<u32, u32>;
    fn deref(&self) -> &HashMap<u32, u32> {
        self.map
    }
}

impl std::ops::DerefMut for Owner<'_> {
    fn deref_mut(&mut self) -> &mut HashMap<u32, u32> {
        self.map
    }
}

impl Drop for Owner<'_> {
    fn drop(&mut self) {
        self.dropped.set(true);
    }
}

#[test]
fn the_owner_is_dropped_with_the_last_lent_slot() {
    use gomap::hash_map::SlotLender;
    let mut map: HashMap<u32, u32> = (0..20).map(|k| (k, k)).collect();
    let dropped = std::cell::Cell::new(false);
    let mut walk = SlotLender::new(Owner {
        map: &mut map,
        dropped: &dropped,
    });
    let (first, second) = (walk.next().unwrap(), walk.next().unwrap());
    drop(walk);
    drop(first);
    assert!(!dropped.get(), "a lent slot still holds the owner");
    assert_eq!(second.key(), second.value());
    drop(second);
    assert!(dropped.get());
}

#[test]
fn lent_slots_move_to_other_threads() {
    use gomap::hash_map::SlotLender;
    let n = sized(1000, 40) as u64;
    let mut map: HashMap<u64, u64> = (0..n).map(|k| (k, k)).collect();
    let mut left: Vec<_> = SlotLender::new(&mut map).collect();
    let right = left.split_off(left.len() / 2);
    std::thread::scope(|s| {
        for half in [left, right] {
            s.spawn(move || {
                for mut entry in half {
                    *entry.value_mut() += 1;
                }
            });
        }
    });
    assert!((0..n).all(|k| map[&k] == k + 1));
}

/// An owner that holds the map itself, not a reference to it.
struct Inline(HashMap<u32, u32>);

impl std::ops::Deref for Inline {
    type Target = HashMap<u32, u32>;
    fn deref(&self) -> &HashMap<u32, u32> {
        &self.0
    }
}

impl std::ops::DerefMut for Inline {
    fn deref_mut(&mut self) -> &mut HashMap<u32, u32> {
        &mut self.0
    }
}

#[test]
fn a_lender_may_own_the_map_itself() {
    use gomap::hash_map::SlotLender;
    let map: HashMap<u32, u32> = (0..50).map(|k| (k, k)).collect();
    let mut lent: Vec<_> = SlotLender::new(Inline(map)).collect();
    for entry in &mut lent {
        *entry.value_mut() += 1;
    }
    assert!(lent.iter().all(|entry| *entry.value() == entry.key() + 1));
}
