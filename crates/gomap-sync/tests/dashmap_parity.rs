//! dashmap's API, used as dashmap's users use it: the same calls, ported
//! mechanically, behave the same on `ShardedMap` and `ShardedSet`.
#![cfg(not(loom))]

use std::collections::HashMap as StdMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use gomap_sync::sharded::{Entry, TryResult};
use gomap_sync::{ShardedMap, ShardedSet};

#[test]
fn entry_counts_words_as_dashmap_does() {
    let counts: ShardedMap<&str, usize> = ShardedMap::new();
    let text = "the cat and the dog and the bird";
    std::thread::scope(|s| {
        for _ in 0..2 {
            s.spawn(|| {
                for word in text.split(' ') {
                    *counts.entry(word).or_insert(0) += 1;
                }
            });
        }
    });
    assert_eq!(counts.get_cloned("the"), Some(6));
    assert_eq!(counts.get_cloned("and"), Some(4));
    assert_eq!(counts.get_cloned("bird"), Some(2));
    assert_eq!(counts.len(), 5);
}

#[test]
fn entry_variants_report_the_stored_key_and_value() {
    let map: ShardedMap<String, u32> = ShardedMap::new();
    match map.entry("a".to_string()) {
        Entry::Vacant(v) => {
            assert_eq!(v.key(), "a");
            let r = v.insert(1);
            assert_eq!(r.pair(), (&"a".to_string(), &1));
        }
        Entry::Occupied(_) => panic!("empty map"),
    }
    match map.entry("a".to_string()) {
        Entry::Occupied(mut o) => {
            assert_eq!((o.key().as_str(), *o.get()), ("a", 1));
            assert_eq!(o.insert(2), 1);
            *o.get_mut() += 1;
        }
        Entry::Vacant(_) => panic!("inserted above"),
    }
    assert_eq!(map.get_cloned("a"), Some(3));
    map.entry("a".into()).and_modify(|v| *v *= 10).or_insert(0);
    map.entry("b".into()).and_modify(|v| *v *= 10).or_insert(7);
    assert_eq!(map.get_cloned("a"), Some(30));
    assert_eq!(map.get_cloned("b"), Some(7));
    assert_eq!(*map.entry("c".into()).or_default(), 0);
    assert_eq!(*map.entry("c".into()).or_insert_with(|| 9), 0);
    assert_eq!(map.entry("d".into()).insert(4).key(), "d");
    let o = map.entry("d".into()).insert_entry(5);
    assert_eq!(o.remove_entry(), ("d".to_string(), 5));
    assert!(!map.contains_key("d"));
    let failed: Result<_, &str> = map.entry("e".into()).or_try_insert_with(|| Err("no"));
    assert_eq!(failed.err(), Some("no"));
    assert!(!map.contains_key("e"));
    assert_eq!(map.entry("e".into()).into_key(), "e");
    if let Entry::Occupied(o) = map.entry("b".into()) {
        assert_eq!(o.remove(), 7);
    }
    assert_eq!(map.len(), 2);
}

#[test]
fn replace_entry_swaps_in_the_key_given_to_entry() {
    // Keys equal by `Eq` but told apart by a tag.
    #[derive(Debug)]
    struct Tagged(u32, &'static str);
    impl PartialEq for Tagged {
        fn eq(&self, other: &Self) -> bool {
            self.0 == other.0
        }
    }
    impl Eq for Tagged {}
    impl std::hash::Hash for Tagged {
        fn hash<H: std::hash::Hasher>(&self, h: &mut H) {
            self.0.hash(h);
        }
    }
    let map: ShardedMap<Tagged, u32> = ShardedMap::new();
    map.insert(Tagged(1, "old"), 10);
    let Entry::Occupied(o) = map.entry(Tagged(1, "new")) else {
        panic!("inserted above");
    };
    assert_eq!(o.key().1, "old");
    let (key, value) = o.replace_entry(20);
    assert_eq!((key.1, value), ("old", 10));
    let r = map.get(&Tagged(1, "")).unwrap();
    assert_eq!((r.key().1, *r), ("new", 20));
}

#[test]
fn alter_changes_one_value_and_alter_all_every_value() {
    let map: ShardedMap<u32, String> = (0..100).map(|i| (i, i.to_string())).collect();
    map.alter(&7, |k, v| format!("{v}+{k}"));
    map.alter(&1_000, |_, _| unreachable!("absent keys are not altered"));
    assert_eq!(map.get_cloned(&7).as_deref(), Some("7+7"));
    map.alter_all(|_, v| v + "!");
    assert_eq!(map.get_cloned(&7).as_deref(), Some("7+7!"));
    assert_eq!(map.get_cloned(&99).as_deref(), Some("99!"));
    assert_eq!(map.len(), 100);
}

#[test]
fn remove_if_removes_only_when_the_predicate_holds() {
    let map: ShardedMap<u32, u32> = (0..10).map(|i| (i, i * i)).collect();
    assert_eq!(map.remove_if(&3, |_, v| *v == 10), None);
    assert_eq!(map.remove_if(&3, |k, v| *v == k * k), Some((3, 9)));
    assert_eq!(map.remove_if(&3, |_, _| true), None);
    assert_eq!(
        map.remove_if_mut(&4, |_, v| {
            *v += 1;
            false
        }),
        None
    );
    assert_eq!(map.get_cloned(&4), Some(17), "the change stays");
    assert_eq!(map.remove_if_mut(&4, |_, v| *v == 17), Some((4, 17)));
    assert_eq!(map.len(), 8);
}

#[test]
fn view_reads_under_the_lock_without_a_guard() {
    let map: ShardedMap<u32, Vec<u8>> = ShardedMap::new();
    map.insert(1, vec![1, 2, 3]);
    assert_eq!(map.view(&1, |k, v| (*k, v.len())), Some((1, 3)));
    assert_eq!(map.view(&2, |_, v| v.len()), None);
}

#[test]
fn try_get_on_a_shard_this_thread_holds_is_locked_not_a_deadlock() {
    let map: ShardedMap<u32, u32> = ShardedMap::with_shard_amount(4);
    map.insert(1, 10);
    let held = map.get_mut(&1).unwrap();
    assert!(map.try_get(&1).is_locked());
    assert!(map.try_get_mut(&1).is_locked());
    assert!(map.try_entry(1).is_none());
    drop(held);
    assert_eq!(*map.try_get(&1).unwrap(), 10);
    assert!(map.try_get(&2).is_absent());
    assert!(map.try_get_mut(&2).is_absent());
    // A read guard blocks writers, not readers.
    let read = map.get(&1).unwrap();
    assert!(map.try_get(&1).is_present());
    assert!(matches!(map.try_get_mut(&1), TryResult::Locked));
    drop(read);
    *map.try_get_mut(&1).unwrap() += 1;
    assert_eq!(map.try_get(&1).try_unwrap().map(|r| *r), Some(11));
}

#[test]
fn refs_carry_the_stored_key() {
    let map: ShardedMap<String, u32> = ShardedMap::new();
    map.insert("k".into(), 1);
    {
        let r = map.get("k").unwrap();
        assert_eq!(r.pair(), (&"k".to_string(), &1));
        assert_eq!(r.value(), &1);
    }
    {
        let mut r = map.get_mut("k").unwrap();
        assert_eq!(r.key(), "k");
        *r.value_mut() += 1;
        let (k, v) = r.pair_mut();
        *v += k.len() as u32;
        assert_eq!(r.pair(), (&"k".to_string(), &3));
    }
    assert_eq!(map.get_cloned("k"), Some(3));
    assert_eq!(map.len(), 1);
}

/// A value type with neither `Clone` nor `Copy`.
#[derive(Debug, PartialEq)]
struct Opaque(u64);

#[test]
fn iter_needs_no_clone_and_visits_every_pair_once() {
    let map: ShardedMap<u64, Opaque> = ShardedMap::with_shard_amount(8);
    for i in 0..1_000 {
        map.insert(i, Opaque(i * 2));
    }
    let mut seen = StdMap::new();
    for r in map.iter() {
        assert!(
            seen.insert(*r.key(), r.value().0).is_none(),
            "visited twice"
        );
    }
    assert_eq!(seen.len(), 1_000);
    assert!(seen.iter().all(|(k, v)| *v == k * 2));
    // Items may outlive the iterator and sit side by side.
    let items: Vec<_> = map.iter().take(3).collect();
    assert_eq!(items.len(), 3);
}

#[test]
fn iter_mut_edits_every_value_in_place() {
    let map: ShardedMap<u64, Opaque> = ShardedMap::with_shard_amount(8);
    for i in 0..500 {
        map.insert(i, Opaque(i));
    }
    for mut r in map.iter_mut() {
        let (k, v) = r.pair_mut();
        v.0 += k;
    }
    assert_eq!(map.len(), 500);
    assert!(map.iter().all(|r| r.value().0 == r.key() * 2));
    // Stopping early puts every pair back.
    // (Iteration order is random per map, so the edited key is whichever
    // came first; key 0 already holds 0.)
    let mut it = map.iter_mut();
    let edited = {
        let mut first = it.next().unwrap();
        first.value_mut().0 = u64::MAX;
        *first.key()
    };
    drop(it);
    assert_eq!(map.len(), 500);
    assert!(map.iter().all(|r| if *r.key() == edited {
        r.value().0 == u64::MAX
    } else {
        r.value().0 == r.key() * 2
    }));
}

#[test]
fn into_read_only_reads_without_locks_and_gives_the_map_back() {
    let map: ShardedMap<u32, Opaque> = ShardedMap::with_shard_amount(4);
    for i in 0..50 {
        map.insert(i, Opaque(u64::from(i)));
    }
    let view = map.into_read_only();
    assert_eq!(view.len(), 50);
    assert!(!view.is_empty());
    assert!(view.capacity() >= 50);
    assert_eq!(view.get(&7), Some(&Opaque(7)));
    assert_eq!(view.get_key_value(&8), Some((&8, &Opaque(8))));
    assert!(view.contains_key(&49) && !view.contains_key(&50));
    assert_eq!(view.iter().count(), 50);
    assert_eq!(
        view.keys().map(|&k| u64::from(k)).sum::<u64>(),
        view.values().map(|v| v.0).sum()
    );
    assert_eq!(view.shards().len(), 4);
    // References from the view live as long as the view, with no guard.
    let refs: Vec<&Opaque> = (0..50).filter_map(|k| view.get(&k)).collect();
    assert_eq!(refs.len(), 50);
    let map = view.into_inner();
    map.insert(50, Opaque(50));
    assert_eq!(map.len(), 51);
    assert_eq!(map.shard_amount(), 4);
}

#[test]
fn into_inner_keeps_the_observer() {
    let calls = Arc::new(AtomicUsize::new(0));
    let seen = calls.clone();
    let map: ShardedMap<u32, u32> = ShardedMap::new().with_observer(move |_, _| {
        seen.fetch_add(1, Ordering::Relaxed);
    });
    let map = map.into_read_only().into_inner();
    map.insert(1, 1);
    assert_eq!(calls.load(Ordering::Relaxed), 1);
}

#[test]
fn reserve_makes_room_for_an_even_spread_and_try_reserve_reports_overflow() {
    let map: ShardedMap<u64, u64> = ShardedMap::with_shard_amount(8);
    map.reserve(10_000);
    let capacity = map.capacity();
    assert!(capacity >= 10_000);
    let buckets = |map: &ShardedMap<u64, u64>| -> Vec<usize> {
        map.shard_stats().iter().map(|s| s.buckets).collect()
    };
    let before = buckets(&map);
    for k in 0..10_000 {
        map.insert(k, k);
    }
    // (Overflow buckets may come, as in any chain; the arrays stay.)
    assert_eq!(buckets(&map), before, "a shard's bucket array grew");
    assert!(map.shard_stats().iter().all(|s| s.migration.is_none()));
    assert!(map.try_reserve(usize::MAX).is_err());
    assert!(map.try_reserve(100).is_ok());
    assert_eq!(map.len(), 10_000);
}

#[test]
fn sharded_set_refs_iterate_and_remove_if_as_dashset() {
    let set: ShardedSet<String> = ["a", "bb", "ccc"].iter().map(|s| s.to_string()).collect();
    assert_eq!(set.get("bb").map(|r| r.len()), Some(2));
    assert!(set.get("zz").is_none());
    let mut all: Vec<String> = set.iter().map(|r| r.key().clone()).collect();
    all.sort();
    assert_eq!(all, ["a", "bb", "ccc"]);
    assert_eq!(set.iter().map(|r| r.len()).sum::<usize>(), 6);
    assert_eq!(set.remove_if("a", |s| s.len() > 1), None);
    assert_eq!(
        set.remove_if("ccc", |s| s.len() > 1).as_deref(),
        Some("ccc")
    );
    set.reserve(100);
    assert!(set.capacity() >= 100);
    assert_eq!(set.len(), 2);
}
