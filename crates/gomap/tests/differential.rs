//! Model-based tests: random operation sequences applied to gomap and to
//! `std::collections::HashMap`, compared after every step.
//!
//! Every step also checks, exactly:
//! * `mem_stats().allocated_bytes` against a counting allocator;
//! * the number of live values against `len()` (a double drop drives it
//!   below, a leak above);
//! * the full contents, through `iter()`.
//!
//! Sequences are long enough to grow, compact and shrink many times, so most
//! steps run in the middle of a migration.

// The model is std's own `extract_if` (Rust 1.88): the tests run on the
// current toolchain; the declared minimum version is the library's.
#![allow(clippy::incompatible_msrv)]

mod common;

use common::{cases, live_values, sized, ConstHash, Counted, CountingAlloc, SameTopByte};
use gomap::{DefaultHashBuilder, HashMap, ShrinkPolicy};
use proptest::prelude::*;
use std::collections::HashMap as StdMap;
use std::fmt::Debug;
use std::hash::{BuildHasher, Hash};

#[derive(Clone, Debug)]
enum Op {
    Insert(u16, u32),
    InsertRange(u16, u16),
    Remove(u16),
    RemoveRange(u16, u16),
    Get(u16),
    GetMut(u16, u32),
    OrInsert(u16, u32),
    AndModify(u16),
    EntryRemove(u16),
    Retain(u8),
    /// `extract_if` run to the end; the predicate also changes every value.
    ExtractIf(u8),
    /// `extract_if` advanced `n` times, then dropped.
    ExtractIfPartial(u8, u8),
    Clear,
    Reset,
    Drain(u8),
    IntoIterPartial(u8),
    Reserve(u16),
    TryReserveHuge,
    ShrinkToFit,
    ShrinkTo(u16),
    FinishMigration,
    CloneAndDropOriginal,
    SetPolicy(bool),
}

fn op(keys: u16) -> impl Strategy<Value = Op> {
    let k = 0..keys;
    // Under Miri, smaller ranges and reservations: every step is checked
    // by iterating the whole table.
    let range = 1..sized(400, 30) as u16;
    let room = 0..sized(u16::MAX as usize, 200) as u16;
    prop_oneof![
        30 => (k.clone(), any::<u32>()).prop_map(|(k, v)| Op::Insert(k, v)),
        4 => (k.clone(), range.clone()).prop_map(|(k, n)| Op::InsertRange(k, n)),
        20 => k.clone().prop_map(Op::Remove),
        4 => (k.clone(), range).prop_map(|(k, n)| Op::RemoveRange(k, n)),
        10 => k.clone().prop_map(Op::Get),
        4 => (k.clone(), any::<u32>()).prop_map(|(k, v)| Op::GetMut(k, v)),
        6 => (k.clone(), any::<u32>()).prop_map(|(k, v)| Op::OrInsert(k, v)),
        4 => k.clone().prop_map(Op::AndModify),
        4 => k.prop_map(Op::EntryRemove),
        2 => (1..5u8).prop_map(Op::Retain),
        2 => (1..5u8).prop_map(Op::ExtractIf),
        2 => (1..5u8, any::<u8>()).prop_map(|(m, n)| Op::ExtractIfPartial(m, n)),
        1 => Just(Op::Clear),
        1 => Just(Op::Reset),
        1 => any::<u8>().prop_map(Op::Drain),
        1 => any::<u8>().prop_map(Op::IntoIterPartial),
        2 => room.clone().prop_map(Op::Reserve),
        1 => Just(Op::TryReserveHuge),
        1 => Just(Op::ShrinkToFit),
        1 => room.prop_map(Op::ShrinkTo),
        1 => Just(Op::FinishMigration),
        1 => Just(Op::CloneAndDropOriginal),
        1 => any::<bool>().prop_map(Op::SetPolicy),
    ]
}

type Map<K, S> = HashMap<K, Counted, S, CountingAlloc>;

/// Apply `ops` to gomap and std, with keys made by `key`, checking every step.
fn run<K, S>(ops: &[Op], key: impl Fn(u16) -> K, hasher: S)
where
    K: Hash + Eq + Clone + Debug,
    S: BuildHasher + Clone,
{
    let base = live_values();
    let alloc = CountingAlloc::default();
    let mut map: Map<K, S> = HashMap::with_hasher_in(hasher, alloc.clone());
    let mut model: StdMap<K, u32> = StdMap::new();
    let mut seen = (0, map.allocator_calls());
    for op in ops {
        apply(op, &mut map, &mut model, &key, &alloc);
        check(&map, &model, &alloc, base);
        // Bytes never move without an allocator call being counted.
        let now = (map.mem_stats().allocated_bytes, map.allocator_calls());
        assert!(
            now.0 == seen.0 || now.1 != seen.1,
            "{op:?} moved allocated_bytes {} -> {} without counting an allocator call",
            seen.0,
            now.0
        );
        seen = now;
    }
    drop(map);
    assert_eq!(alloc.live(), 0, "memory left after drop");
    assert_eq!(live_values(), base, "values left after drop");
}

fn apply<K, S>(
    op: &Op,
    map: &mut Map<K, S>,
    model: &mut StdMap<K, u32>,
    key: &impl Fn(u16) -> K,
    alloc: &CountingAlloc,
) where
    K: Hash + Eq + Clone + Debug,
    S: BuildHasher + Clone,
{
    match *op {
        Op::Insert(k, v) => {
            let old = map.insert(key(k), Counted::new(v)).map(|c| c.0);
            assert_eq!(old, model.insert(key(k), v));
        }
        Op::InsertRange(start, n) => {
            for k in start..start.saturating_add(n) {
                map.insert(key(k), Counted::new(u32::from(k)));
                model.insert(key(k), u32::from(k));
            }
        }
        Op::Remove(k) => assert_eq!(map.remove(&key(k)).map(|c| c.0), model.remove(&key(k))),
        Op::RemoveRange(start, n) => {
            for k in start..start.saturating_add(n) {
                let removed = map.remove_entry(&key(k)).map(|(k, c)| (k, c.0));
                assert_eq!(removed, model.remove_entry(&key(k)));
            }
        }
        Op::Get(k) => {
            assert_eq!(map.get(&key(k)).map(|c| c.0), model.get(&key(k)).copied());
            assert_eq!(map.contains_key(&key(k)), model.contains_key(&key(k)));
            let kv = map.get_key_value(&key(k)).map(|(k, c)| (k.clone(), c.0));
            assert_eq!(
                kv,
                model.get_key_value(&key(k)).map(|(k, v)| (k.clone(), *v))
            );
        }
        Op::GetMut(k, v) => {
            if let Some(c) = map.get_mut(&key(k)) {
                c.0 = v;
            }
            if let Some(m) = model.get_mut(&key(k)) {
                *m = v;
            }
        }
        Op::OrInsert(k, v) => {
            let got = map.entry(key(k)).or_insert_with(|| Counted::new(v)).0;
            assert_eq!(got, *model.entry(key(k)).or_insert(v));
        }
        Op::AndModify(k) => {
            map.entry(key(k)).and_modify(|c| c.0 = c.0.wrapping_add(1));
            model.entry(key(k)).and_modify(|v| *v = v.wrapping_add(1));
        }
        Op::EntryRemove(k) => {
            let ours = match map.entry(key(k)) {
                gomap::Entry::Occupied(e) => Some(e.remove_entry()).map(|(k, c)| (k, c.0)),
                gomap::Entry::Vacant(e) => {
                    assert_eq!(e.key(), &key(k));
                    None
                }
            };
            let theirs = match model.entry(key(k)) {
                std::collections::hash_map::Entry::Occupied(e) => Some(e.remove_entry()),
                std::collections::hash_map::Entry::Vacant(_) => None,
            };
            assert_eq!(ours, theirs);
        }
        Op::Retain(m) => {
            let m = u32::from(m);
            map.retain(|_, c| c.0 % m != 0);
            model.retain(|_, v| *v % m != 0);
        }
        Op::ExtractIf(m) => {
            let m = u32::from(m);
            let mut ours: Vec<(K, u32)> = map
                .extract_if(|_, c| {
                    c.0 = c.0.wrapping_add(1);
                    c.0 % m == 0
                })
                .map(|(k, c)| (k, c.0))
                .collect();
            model.values_mut().for_each(|v| *v = v.wrapping_add(1));
            let theirs: StdMap<K, u32> = model.extract_if(|_, v| *v % m == 0).collect();
            assert_eq!(ours.len(), theirs.len());
            for (k, v) in ours.drain(..) {
                assert_eq!(theirs.get(&k), Some(&v), "extracted {k:?} twice or wrongly");
            }
        }
        Op::ExtractIfPartial(m, n) => {
            let m = u32::from(m);
            let mut extract = map.extract_if(|_, c| c.0 % m == 0);
            let mut taken = 0;
            for (k, c) in extract.by_ref().take(usize::from(n)) {
                assert_eq!(c.0 % m, 0, "{k:?} does not match");
                assert_eq!(model.remove(&k), Some(c.0));
                taken += 1;
            }
            drop(extract);
            if taken < usize::from(n) {
                assert!(
                    model.values().all(|v| v % m != 0),
                    "a match was left behind"
                );
            }
        }
        Op::Clear => {
            map.clear();
            model.clear();
        }
        Op::Reset => {
            map.reset();
            model.clear();
            assert_eq!(map.mem_stats().allocated_bytes, 0);
        }
        Op::Drain(n) => {
            let mut drain = map.drain();
            assert_eq!(drain.len(), model.len());
            for (k, c) in drain.by_ref().take(usize::from(n)) {
                assert_eq!(model.remove(&k), Some(c.0));
            }
            drop(drain);
            model.clear();
        }
        Op::IntoIterPartial(n) => {
            let hasher = map.hasher().clone();
            let policy = map.shrink_policy();
            let owned = std::mem::replace(map, HashMap::with_hasher_in(hasher, alloc.clone()));
            map.set_shrink_policy(policy);
            let mut iter = owned.into_iter();
            for (k, c) in iter.by_ref().take(usize::from(n)) {
                assert_eq!(model.remove(&k), Some(c.0));
            }
            assert_eq!(iter.len(), model.len());
            model.clear();
        }
        Op::Reserve(n) => {
            map.reserve(usize::from(n));
            assert!(map.capacity() >= map.len() + usize::from(n));
        }
        Op::TryReserveHuge => {
            let before = map.mem_stats();
            assert!(map.try_reserve(usize::MAX / 2).is_err());
            assert!(map.try_reserve(usize::MAX).is_err());
            assert_eq!(
                map.mem_stats(),
                before,
                "failed try_reserve changed the map"
            );
        }
        Op::ShrinkToFit => {
            map.shrink_to_fit();
            assert_eq!(map.mem_stats().migration, None);
            if map.is_empty() {
                assert_eq!(map.mem_stats().allocated_bytes, 0);
            }
        }
        Op::ShrinkTo(n) => {
            // Room for the entries and for `n`, as far as there was room for
            // `n` before (shrink_to never grows), with no migration left.
            let before = map.capacity();
            map.shrink_to(usize::from(n));
            assert!(map.capacity() >= map.len());
            assert!(map.capacity() >= usize::from(n).min(before));
            assert_eq!(map.mem_stats().migration, None);
        }
        Op::FinishMigration => {
            map.finish_migration();
            assert_eq!(map.mem_stats().migration, None);
        }
        Op::CloneAndDropOriginal => {
            let copy = map.clone();
            assert_eq!(copy.mem_stats(), map.mem_stats());
            *map = copy; // the original is dropped here, maybe mid-migration
        }
        Op::SetPolicy(auto) => map.set_shrink_policy(if auto {
            ShrinkPolicy::Auto
        } else {
            ShrinkPolicy::Never
        }),
    }
}

fn check<K, S>(map: &Map<K, S>, model: &StdMap<K, u32>, alloc: &CountingAlloc, base: isize)
where
    K: Hash + Eq + Clone + Debug,
    S: BuildHasher,
{
    let stats = map.mem_stats();
    assert_eq!(map.len(), model.len());
    assert_eq!(stats.len, model.len());
    assert_eq!(
        stats.allocated_bytes,
        alloc.live(),
        "allocated_bytes vs allocator: {stats:?}"
    );
    assert_eq!(
        live_values() - base,
        model.len() as isize,
        "values alive vs len"
    );
    let ours: StdMap<K, u32> = map.iter().map(|(k, c)| (k.clone(), c.0)).collect();
    assert_eq!(map.iter().len(), model.len());
    assert_eq!(&ours, model);
    if let Some(m) = stats.migration {
        assert!(m.evacuated < m.total && stats.old_buckets == m.total);
    } else {
        assert_eq!(stats.old_buckets, 0);
    }
}

/// Up to `max_len` operations (a twentieth under Miri) on `keys` keys.
fn ops(keys: u16, max_len: usize) -> impl Strategy<Value = Vec<Op>> {
    prop::collection::vec(op(keys), 1..sized(max_len, max_len / 20))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(cases(64)))]

    #[test]
    fn u64_keys_small_key_space(ops in ops(24, 200)) {
        run(&ops, u64::from, DefaultHashBuilder::default());
    }

    #[test]
    fn u64_keys_large_key_space(ops in ops(3000, 300)) {
        run(&ops, u64::from, DefaultHashBuilder::default());
    }

    #[test]
    fn string_keys(ops in ops(1500, 200)) {
        run(&ops, |k| format!("key-{k}"), DefaultHashBuilder::default());
    }

    #[test]
    fn u8_keys_split_layout(ops in ops(300, 200)) {
        // (u8, Counted) has padding, so keys and values are stored apart.
        run(&ops, |k| k as u8, DefaultHashBuilder::default());
    }

    #[test]
    fn all_hashes_equal(ops in ops(200, 120)) {
        run(&ops, u64::from, ConstHash);
    }

    #[test]
    fn all_top_bytes_equal(ops in ops(1000, 200)) {
        run(&ops, u64::from, SameTopByte);
    }

    #[test]
    fn zero_sized_keys(ops in ops(4, 100)) {
        run(&ops, |_| (), DefaultHashBuilder::default());
    }
}

/// Zero-sized keys and values together: no body bytes at all.
#[test]
fn zero_sized_keys_and_values() {
    let alloc = CountingAlloc::default();
    let mut map: HashMap<(), (), _, _> = HashMap::new_in(alloc.clone());
    assert_eq!(map.insert((), ()), None);
    assert_eq!(map.insert((), ()), Some(()));
    assert_eq!(map.len(), 1);
    assert_eq!(map.mem_stats().allocated_bytes, alloc.live());
    assert_eq!(map.iter().count(), 1);
    assert_eq!(map.remove(&()), Some(()));
    assert!(map.is_empty());
    drop(map);
    assert_eq!(alloc.live(), 0);
}
