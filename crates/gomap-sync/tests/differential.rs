//! Single-threaded operation sequences against `std::collections::HashMap`,
//! checked after every step.
#![cfg(not(loom))]

use std::collections::HashMap as StdMap;

use gomap_sync::sharded::Entry;
use gomap_sync::{ShardedMap, SyncMap};
use proptest::prelude::*;

#[derive(Clone, Debug)]
enum Op {
    Insert(u16, u32),
    Remove(u16),
    Get(u16),
    Update(u16),
    GetMut(u16),
    Retain(u16),
    Clear,
    Reset,
    Take,
    TakeShards,
    ShrinkToFit,
    Fill(u16, u16),
    EntryOrInsert(u16, u32),
    EntryAndModify(u16),
    EntryRemove(u16),
    EntryInsert(u16, u32),
    Alter(u16),
    AlterAll(u32),
    RemoveIf(u16, u32),
    RemoveIfMut(u16),
    IterMut(u16),
    View(u16),
    Reserve(u16),
}

fn op() -> impl Strategy<Value = Op> {
    let key = 0u16..600;
    prop_oneof![
        8 => (key.clone(), any::<u32>()).prop_map(|(k, v)| Op::Insert(k, v)),
        4 => key.clone().prop_map(Op::Remove),
        3 => key.clone().prop_map(Op::Get),
        3 => key.clone().prop_map(Op::Update),
        2 => key.clone().prop_map(Op::GetMut),
        1 => (1u16..8).prop_map(Op::Retain),
        1 => Just(Op::Clear),
        1 => Just(Op::Reset),
        1 => Just(Op::Take),
        1 => Just(Op::TakeShards),
        1 => Just(Op::ShrinkToFit),
        1 => (key.clone(), 0u16..400).prop_map(|(k, n)| Op::Fill(k, n)),
        3 => (key.clone(), any::<u32>()).prop_map(|(k, v)| Op::EntryOrInsert(k, v)),
        2 => key.clone().prop_map(Op::EntryAndModify),
        2 => key.clone().prop_map(Op::EntryRemove),
        2 => (key.clone(), any::<u32>()).prop_map(|(k, v)| Op::EntryInsert(k, v)),
        2 => key.clone().prop_map(Op::Alter),
        1 => any::<u32>().prop_map(Op::AlterAll),
        2 => (key.clone(), 1u32..4).prop_map(|(k, m)| Op::RemoveIf(k, m)),
        2 => key.clone().prop_map(Op::RemoveIfMut),
        1 => (1u16..8).prop_map(Op::IterMut),
        2 => key.clone().prop_map(Op::View),
        1 => (0u16..2000).prop_map(Op::Reserve),
    ]
}

fn check_sharded(map: &ShardedMap<u16, u32>, model: &StdMap<u16, u32>) {
    assert_eq!(map.len(), model.len());
    assert_eq!(map.is_empty(), model.is_empty());
    let got: StdMap<u16, u32> = map.iter().map(|r| (*r.key(), *r.value())).collect();
    let at_once: StdMap<u16, u32> = map.read_all().iter().map(|(k, v)| (*k, *v)).collect();
    assert_eq!(&at_once, model);
    assert_eq!(&got, model);
    let stats = map.mem_stats();
    assert_eq!(stats.len, model.len());
    let shards = map.shard_stats();
    assert_eq!(shards.len(), map.shard_amount());
    let view = map.read_all();
    for (shard, stats) in view.shards().zip(&shards) {
        assert_eq!(shard.len(), stats.len);
    }
}

proptest! {
    #[test]
    fn sharded_map_matches_std(shards in 1usize..10, ops in prop::collection::vec(op(), 1..120)) {
        let map: ShardedMap<u16, u32> = ShardedMap::with_shard_amount(shards);
        prop_assert!(map.shard_amount().is_power_of_two() && map.shard_amount() >= shards);
        let mut model = StdMap::new();
        for op in ops {
            match op {
                Op::Insert(k, v) => prop_assert_eq!(map.insert(k, v), model.insert(k, v)),
                Op::Remove(k) => prop_assert_eq!(map.remove(&k), model.remove(&k)),
                Op::Get(k) => {
                    prop_assert_eq!(map.get(&k).map(|v| *v), model.get(&k).copied());
                    prop_assert_eq!(map.get_cloned(&k), model.get(&k).copied());
                    prop_assert_eq!(map.contains_key(&k), model.contains_key(&k));
                }
                Op::Update(k) => {
                    let got = map.update(k, |e| {
                        let v = e.or_insert(7);
                        *v = v.wrapping_mul(3);
                        *v
                    });
                    let v = model.entry(k).or_insert(7);
                    *v = v.wrapping_mul(3);
                    prop_assert_eq!(got, *v);
                }
                Op::GetMut(k) => {
                    if let Some(mut v) = map.get_mut(&k) {
                        prop_assert_eq!(*v.key(), k);
                        *v += 1;
                    }
                    if let Some(v) = model.get_mut(&k) {
                        *v += 1;
                    }
                }
                Op::Retain(m) => {
                    map.retain(|k, v| {
                        *v ^= 1;
                        k % m != 0
                    });
                    model.retain(|k, v| {
                        *v ^= 1;
                        k % m != 0
                    });
                }
                Op::Clear => {
                    map.clear();
                    model.clear();
                }
                Op::Reset => {
                    map.reset();
                    model.clear();
                    prop_assert_eq!(map.mem_stats().allocated_bytes, 0);
                }
                Op::Take => {
                    let taken = map.take();
                    let expected = std::mem::take(&mut model);
                    prop_assert_eq!(taken.len(), expected.len());
                    prop_assert_eq!(taken.into_iter().collect::<StdMap<_, _>>(), expected);
                }
                Op::TakeShards => {
                    let taken = map.take_shards();
                    prop_assert_eq!(taken.len(), map.shard_amount());
                    let expected = std::mem::take(&mut model);
                    prop_assert_eq!(taken.into_iter().flatten().collect::<StdMap<_, _>>(), expected);
                }
                Op::ShrinkToFit => map.shrink_to_fit(),
                Op::Fill(start, n) => {
                    (&map).extend((start..start.saturating_add(n)).map(|k| (k, k as u32)));
                    model.extend((start..start.saturating_add(n)).map(|k| (k, k as u32)));
                }
                Op::EntryOrInsert(k, v) => {
                    let got = {
                        let mut r = map.entry(k).or_insert(v);
                        *r = r.wrapping_add(1);
                        prop_assert_eq!(*r.key(), k);
                        *r
                    };
                    let want = model.entry(k).or_insert(v);
                    *want = want.wrapping_add(1);
                    prop_assert_eq!(got, *want);
                }
                Op::EntryAndModify(k) => {
                    map.entry(k).and_modify(|v| *v ^= 0xff).or_default();
                    model.entry(k).and_modify(|v| *v ^= 0xff).or_default();
                }
                Op::EntryRemove(k) => {
                    let got = match map.entry(k) {
                        Entry::Occupied(o) => Some(o.remove_entry()),
                        Entry::Vacant(_) => None,
                    };
                    prop_assert_eq!(got, model.remove_entry(&k));
                }
                Op::EntryInsert(k, v) => {
                    drop(map.entry(k).insert(v));
                    model.insert(k, v);
                }
                Op::Alter(k) => {
                    map.alter(&k, |k, v| v.wrapping_mul(5) ^ u32::from(*k));
                    if let Some(v) = model.get_mut(&k) {
                        *v = v.wrapping_mul(5) ^ u32::from(k);
                    }
                }
                Op::AlterAll(x) => {
                    map.alter_all(|_, v| v ^ x);
                    model.values_mut().for_each(|v| *v ^= x);
                }
                Op::RemoveIf(k, m) => {
                    let want = if model.get(&k).is_some_and(|v| v % m == 0) {
                        model.remove_entry(&k)
                    } else {
                        None
                    };
                    prop_assert_eq!(map.remove_if(&k, |_, v| v % m == 0), want);
                }
                Op::RemoveIfMut(k) => {
                    let got = map.remove_if_mut(&k, |_, v| {
                        *v = v.wrapping_add(1);
                        *v % 2 == 0
                    });
                    let want = match model.get_mut(&k) {
                        Some(v) => {
                            *v = v.wrapping_add(1);
                            if *v % 2 == 0 { model.remove_entry(&k) } else { None }
                        }
                        None => None,
                    };
                    prop_assert_eq!(got, want);
                }
                Op::IterMut(m) => {
                    let mut visited = 0;
                    for mut r in map.iter_mut() {
                        visited += 1;
                        let (k, v) = r.pair_mut();
                        if k % m == 0 {
                            *v = v.wrapping_add(3);
                        }
                    }
                    prop_assert_eq!(visited, model.len());
                    for (k, v) in model.iter_mut() {
                        if k % m == 0 {
                            *v = v.wrapping_add(3);
                        }
                    }
                }
                Op::View(k) => {
                    prop_assert_eq!(map.view(&k, |key, v| (*key, *v)), model.get_key_value(&k).map(|(k, v)| (*k, *v)));
                    prop_assert_eq!(map.try_get(&k).try_unwrap().map(|r| (*r.key(), *r)), model.get_key_value(&k).map(|(k, v)| (*k, *v)));
                }
                Op::Reserve(n) => {
                    map.reserve(usize::from(n));
                    prop_assert!(map.capacity() >= model.len() + usize::from(n));
                }
            }
            check_sharded(&map, &model);
        }
        let cloned = map.clone();
        prop_assert_eq!(cloned.into_iter().collect::<StdMap<_, _>>(), model);
    }
}

#[derive(Clone, Debug)]
enum SyncOp {
    Store(u8, u32),
    Load(u8),
    LoadOrStore(u8, u32),
    LoadAndDelete(u8),
    Delete(u8),
    Swap(u8, u32),
    CompareAndSwap(u8, u32, u32),
    CompareAndDelete(u8, u32),
    Clear,
    Range(u8),
}

fn sync_op() -> impl Strategy<Value = SyncOp> {
    let key = 0u8..40;
    let value = 0u32..4;
    prop_oneof![
        4 => (key.clone(), value.clone()).prop_map(|(k, v)| SyncOp::Store(k, v)),
        6 => key.clone().prop_map(SyncOp::Load),
        2 => (key.clone(), value.clone()).prop_map(|(k, v)| SyncOp::LoadOrStore(k, v)),
        2 => key.clone().prop_map(SyncOp::LoadAndDelete),
        2 => key.clone().prop_map(SyncOp::Delete),
        2 => (key.clone(), value.clone()).prop_map(|(k, v)| SyncOp::Swap(k, v)),
        2 => (key.clone(), value.clone(), value.clone()).prop_map(|(k, o, n)| SyncOp::CompareAndSwap(k, o, n)),
        1 => (key.clone(), value).prop_map(|(k, o)| SyncOp::CompareAndDelete(k, o)),
        1 => Just(SyncOp::Clear),
        1 => (1u8..50).prop_map(SyncOp::Range),
    ]
}

proptest! {
    #[test]
    fn sync_map_matches_std(ops in prop::collection::vec(sync_op(), 1..200)) {
        let map: SyncMap<u8, u32> = SyncMap::new();
        let mut model = StdMap::new();
        for op in ops {
            match op {
                SyncOp::Store(k, v) => {
                    map.store(k, v);
                    model.insert(k, v);
                }
                SyncOp::Load(k) => prop_assert_eq!(map.load(&k).map(|v| *v), model.get(&k).copied()),
                SyncOp::LoadOrStore(k, v) => {
                    let (got, loaded) = map.load_or_store(k, v);
                    prop_assert_eq!(loaded, model.contains_key(&k));
                    prop_assert_eq!(*got, *model.entry(k).or_insert(v));
                }
                SyncOp::LoadAndDelete(k) => {
                    prop_assert_eq!(map.load_and_delete(&k).map(|v| *v), model.remove(&k));
                }
                SyncOp::Delete(k) => {
                    map.delete(&k);
                    model.remove(&k);
                }
                SyncOp::Swap(k, v) => prop_assert_eq!(map.swap(k, v).map(|v| *v), model.insert(k, v)),
                SyncOp::CompareAndSwap(k, old, new) => {
                    let expected = model.get(&k) == Some(&old);
                    prop_assert_eq!(map.compare_and_swap(&k, &old, new), expected);
                    if expected {
                        model.insert(k, new);
                    }
                }
                SyncOp::CompareAndDelete(k, old) => {
                    let expected = model.get(&k) == Some(&old);
                    prop_assert_eq!(map.compare_and_delete(&k, &old), expected);
                    if expected {
                        model.remove(&k);
                    }
                }
                SyncOp::Clear => {
                    map.clear();
                    model.clear();
                }
                SyncOp::Range(limit) => {
                    let mut seen = 0;
                    map.range(|k, v| {
                        assert_eq!(model.get(k), Some(v));
                        seen += 1;
                        seen < limit as usize
                    });
                    prop_assert_eq!(seen, model.len().min(limit as usize));
                }
            }
            prop_assert_eq!(map.len(), model.len());
            let stats = map.mem_stats();
            prop_assert_eq!(stats.len, model.len());
            prop_assert!(stats.read.len + stats.dirty.map_or(0, |d| d.len) >= model.len());
        }
        let mut all = StdMap::new();
        map.range(|k, v| {
            all.insert(*k, *v);
            true
        });
        prop_assert_eq!(all, model);
    }
}
