// The body of `std_api.rs`: std's API only. Included by a module that
// brings `HashMap`, `HashSet`, `Entry`, `RandomState`, `hash_map` and
// `hash_set` into scope, from std or from gomap.

use std::cell::Cell;
use std::hash::{BuildHasher, Hash, Hasher};
use std::iter::FusedIterator;
use std::panic::{self, AssertUnwindSafe, RefUnwindSafe, UnwindSafe};

/// A word counter that takes std's entry type by its two-parameter name.
fn count_into(entry: Entry<'_, String, usize>) -> usize {
    let count = entry.or_insert(0);
    *count += 1;
    *count
}

fn word_counts(text: &str) -> HashMap<String, usize> {
    let mut counts = HashMap::new();
    for word in text.split_whitespace() {
        count_into(counts.entry(word.to_string()));
    }
    counts
}

#[test]
fn entry_named_with_two_type_parameters_counts_words() {
    let counts = word_counts("the cat saw the other cat and the dog");
    assert_eq!(counts["the"], 3);
    assert_eq!(counts.get("cat"), Some(&2));
    assert_eq!(counts.get("bird"), None);
    assert_eq!(counts.len(), 6);
}

#[test]
fn entry_api_covers_every_stable_method() {
    let mut map: HashMap<&str, Vec<u32>> = HashMap::new();
    map.entry("a").or_default().push(1);
    map.entry("a").or_insert_with(Vec::new).push(2);
    map.entry("b").or_insert_with_key(|k| vec![k.len() as u32]);
    map.entry("b").and_modify(|v| v.push(9)).or_default();
    assert_eq!(map["a"], [1, 2]);
    assert_eq!(map["b"], [1, 9]);
    assert_eq!(map.entry("z").key(), &"z");

    match map.entry("a") {
        Entry::Occupied(mut o) => {
            assert_eq!(o.key(), &"a");
            o.get_mut().push(3);
            assert_eq!(o.get(), &[1, 2, 3]);
            assert_eq!(o.insert(vec![7]), [1, 2, 3]);
            o.into_mut().push(8);
        }
        Entry::Vacant(_) => unreachable!("a is present"),
    }
    assert_eq!(map["a"], [7, 8]);
    match map.entry("c") {
        Entry::Vacant(v) => {
            assert_eq!(v.key(), &"c");
            let o = v.insert_entry(vec![5]);
            assert_eq!(o.remove_entry(), ("c", vec![5]));
        }
        Entry::Occupied(_) => unreachable!("c is absent"),
    }
    match map.entry("d") {
        Entry::Vacant(v) => assert_eq!(v.into_key(), "d"),
        Entry::Occupied(_) => unreachable!("d is absent"),
    }
    let o = map.entry("e").insert_entry(vec![4]);
    assert_eq!(o.remove(), [4]);
    if let Entry::Vacant(v) = map.entry("f") {
        v.insert(vec![6]).push(6);
    }
    assert_eq!(map["f"], [6, 6]);
    assert_eq!(map.len(), 3);
}

#[test]
fn with_hasher_takes_the_modules_random_state() {
    let state = RandomState::new();
    let mut map: HashMap<u64, &str, RandomState> = HashMap::with_hasher(state);
    map.insert(1, "one");
    let mut sized = HashMap::with_capacity_and_hasher(10, RandomState::new());
    sized.insert(2u64, "two");
    assert!(sized.capacity() >= 10);
    assert_eq!(map.get(&1), Some(&"one"));
    // The builder's hasher is the module's `DefaultHasher`.
    let mut hasher: hash_map::DefaultHasher = map.hasher().build_hasher();
    42u64.hash(&mut hasher);
    assert_eq!(hasher.finish(), map.hasher().hash_one(42u64));
    let mut fixed = hash_map::DefaultHasher::new();
    "key".hash(&mut fixed);
    let mut again = hash_map::DefaultHasher::default();
    "key".hash(&mut again);
    assert_eq!(fixed.finish(), again.finish());
    let _debug = format!("{:?} {:?}", RandomState::new(), fixed.clone());
}

#[test]
fn extract_if_removes_exactly_what_it_yields() {
    let mut map: HashMap<u32, u32> = (0..1000).map(|i| (i, i)).collect();
    let mut evens: Vec<u32> = map.extract_if(|k, _| k % 2 == 0).map(|(k, _)| k).collect();
    evens.sort_unstable();
    assert_eq!(evens, (0..1000).step_by(2).collect::<Vec<_>>());
    assert_eq!(map.len(), 500);
    assert!(map.keys().all(|k| k % 2 == 1));
}

#[test]
fn extract_if_dropped_early_keeps_what_it_did_not_reach() {
    let mut map: HashMap<u32, String> = (0..100).map(|i| (i, i.to_string())).collect();
    let taken: Vec<(u32, String)> = map.extract_if(|_, _| true).take(10).collect();
    assert_eq!(taken.len(), 10);
    assert_eq!(map.len(), 90);
    for (k, v) in &taken {
        assert!(!map.contains_key(k));
        assert_eq!(v, &k.to_string());
    }
    // An extractor never advanced removes nothing.
    drop(map.extract_if(|_, _| true));
    assert_eq!(map.len(), 90);
}

#[test]
fn extract_if_may_change_the_values_it_keeps() {
    let mut map: HashMap<u32, u32> = (0..50).map(|i| (i, i)).collect();
    let removed = map
        .extract_if(|_, v| {
            *v *= 10;
            *v >= 250
        })
        .count();
    assert_eq!(removed, 25);
    assert!(map.iter().all(|(k, v)| *v == k * 10));
}

#[test]
fn set_extract_if_removes_exactly_what_it_yields() {
    let mut set: HashSet<u32> = (0..100).collect();
    let mut small: Vec<u32> = set.extract_if(|v| *v < 10).collect();
    small.sort_unstable();
    assert_eq!(small, (0..10).collect::<Vec<_>>());
    assert_eq!(set.len(), 90);
    let iter: hash_set::ExtractIf<'_, u32, _> = set.extract_if(|_| false);
    assert_eq!(format!("{iter:?}"), "ExtractIf { .. }");
}

#[test]
fn get_disjoint_mut_hands_out_several_values() {
    let mut map: HashMap<String, u32> =
        [("a".to_string(), 1), ("b".to_string(), 2), ("c".to_string(), 3)].into();
    let [Some(a), Some(c), None] = map.get_disjoint_mut(["a", "c", "zzz"]) else {
        panic!("a and c are present, zzz is not")
    };
    std::mem::swap(a, c);
    assert_eq!((map["a"], map["c"]), (3, 1));
    // Two absent keys are no overlap.
    assert_eq!(map.get_disjoint_mut(["x", "x"]), [None, None]);
    // SAFETY: the keys do not overlap.
    let [b, d] = unsafe { map.get_disjoint_unchecked_mut(["b", "d"]) };
    *b.unwrap() += 40;
    assert!(d.is_none());
    assert_eq!(map["b"], 42);
}

#[test]
#[should_panic(expected = "duplicate keys found")]
fn get_disjoint_mut_panics_on_a_key_given_twice() {
    let mut map: HashMap<u32, u32> = HashMap::from([(1, 1), (2, 2)]);
    let _ = map.get_disjoint_mut([&1, &2, &1]);
}

#[test]
fn keys_zipped_with_values_pair_up() {
    let mut map: HashMap<u32, String> = (0..2000).map(|i| (i, format!("v{i}"))).collect();
    assert!(map.keys().zip(map.values()).all(|(k, v)| *v == format!("v{k}")));
    let keys: Vec<u32> = map.keys().copied().collect();
    let again: Vec<u32> = map.iter().map(|(k, _)| *k).collect();
    assert_eq!(keys, again);
    let lens: Vec<usize> = map.values_mut().map(|v| v.len()).collect();
    let keys_mut: Vec<u32> = map.iter_mut().map(|(k, _)| *k).collect();
    assert_eq!(keys_mut, keys);
    assert_eq!(lens.len(), keys.len());
    let owned: Vec<u32> = map.into_keys().collect();
    assert_eq!(owned, keys);
}

fn exact_and_fused<I: ExactSizeIterator + FusedIterator>(iter: I) -> usize {
    iter.len()
}

#[test]
fn every_iterator_has_stds_traits() {
    let mut map: HashMap<u8, u8> = HashMap::from([(1, 10), (2, 20)]);
    assert_eq!(exact_and_fused(map.iter()), 2);
    assert_eq!(exact_and_fused(map.keys()), 2);
    assert_eq!(exact_and_fused(map.values()), 2);
    assert_eq!(exact_and_fused(map.values_mut()), 2);
    assert_eq!(exact_and_fused(map.iter_mut()), 2);
    assert_eq!(exact_and_fused(map.clone().into_iter()), 2);
    assert_eq!(exact_and_fused(map.clone().into_keys()), 2);
    assert_eq!(exact_and_fused(map.clone().into_values()), 2);
    assert_eq!(exact_and_fused(map.clone().drain()), 2);
    let set: HashSet<u8> = HashSet::from([1, 2, 3]);
    assert_eq!(exact_and_fused(set.iter()), 3);
    assert_eq!(exact_and_fused(set.clone().into_iter()), 3);
    assert_eq!(exact_and_fused(set.clone().drain()), 3);

    let (iter, keys, values) = (map.iter(), map.keys(), map.values());
    assert_eq!(iter.clone().count() + keys.clone().count() + values.clone().count(), 6);
    let one: HashMap<u8, u8> = HashMap::from([(1, 10)]);
    assert_eq!(format!("{:?}", one.iter()), "[(1, 10)]");
    assert_eq!(format!("{:?}", one.keys()), "[1]");
    assert_eq!(format!("{:?}", one.values()), "[10]");
    assert_eq!(format!("{:?}", one.clone().into_iter()), "[(1, 10)]");
    assert_eq!(format!("{:?}", one.clone().into_keys()), "[1]");
    assert_eq!(format!("{:?}", one.clone().into_values()), "[10]");
    let mut two = one.clone();
    assert_eq!(format!("{:?}", two.iter_mut()), "[(1, 10)]");
    assert_eq!(format!("{:?}", two.values_mut()), "[10]");
    assert_eq!(format!("{:?}", two.drain()), "[(1, 10)]");
    assert_eq!(format!("{:?}", map.extract_if(|_, _| false)), "ExtractIf { .. }");
    let (a, b): (HashSet<u8>, HashSet<u8>) = ([1].into(), [1].into());
    assert_eq!(format!("{:?}", a.iter()), "[1]");
    assert_eq!(format!("{:?}", a.union(&b)), "[1]");
    assert_eq!(format!("{:?}", a.intersection(&b)), "[1]");
    assert_eq!(format!("{:?}", a.difference(&b)), "[]");
    assert_eq!(format!("{:?}", a.symmetric_difference(&b)), "[]");
    assert_eq!(a.union(&b).clone().count(), 1);
}

#[test]
fn every_iterator_std_defaults_is_empty() {
    assert_eq!(hash_map::Iter::<u8, u8>::default().next(), None);
    assert_eq!(hash_map::IterMut::<u8, u8>::default().next(), None);
    assert_eq!(hash_map::IntoIter::<u8, u8>::default().next(), None);
    assert_eq!(hash_map::Keys::<u8, u8>::default().len(), 0);
    assert_eq!(hash_map::Values::<u8, u8>::default().next(), None);
    assert_eq!(hash_map::ValuesMut::<u8, u8>::default().next(), None);
    assert_eq!(hash_map::IntoKeys::<u8, u8>::default().next(), None);
    assert_eq!(hash_map::IntoValues::<u8, u8>::default().next(), None);
    assert_eq!(hash_set::Iter::<u8>::default().next(), None);
    assert_eq!(hash_set::IntoIter::<String>::default().len(), 0);
    assert_eq!(format!("{:?}", hash_map::Iter::<u8, u8>::default()), "[]");
}

#[test]
fn extend_from_owned_and_borrowed_pairs() {
    let mut map: HashMap<u32, u32> = HashMap::new();
    map.extend([(1, 1), (2, 2)]);
    let other: HashMap<u32, u32> = HashMap::from([(3, 3)]);
    map.extend(&other); // (&K, &V) pairs
    map.extend(other.iter().map(|(k, v)| (k + 1, v + 1)));
    assert_eq!(map.len(), 4);
    let mut set: HashSet<u32> = HashSet::new();
    set.extend([1, 2]);
    set.extend(&[2, 3]); // &T
    assert_eq!(set.len(), 3);
}

#[test]
fn set_algebra_and_lookups() {
    let a: HashSet<u32> = HashSet::from([1, 2, 3, 4]);
    let b: HashSet<u32> = [3, 4, 5].into_iter().collect();
    assert_eq!(&a | &b, HashSet::from([1, 2, 3, 4, 5]));
    assert_eq!(&a & &b, HashSet::from([3, 4]));
    assert_eq!(&a ^ &b, HashSet::from([1, 2, 5]));
    assert_eq!(&a - &b, HashSet::from([1, 2]));
    assert_eq!(a.union(&b).count(), 5);
    assert_eq!(a.intersection(&b).count(), 2);
    assert_eq!(a.difference(&b).count(), 2);
    assert_eq!(a.symmetric_difference(&b).count(), 3);
    assert!(HashSet::from([3]).is_subset(&a));
    assert!(a.is_superset(&HashSet::from([1, 4])));
    assert!(a.is_disjoint(&HashSet::from([9, 10])));
    assert!(!a.is_disjoint(&b));

    let mut names: HashSet<String> = HashSet::new();
    assert!(names.insert("ann".to_string()));
    assert!(!names.insert("ann".to_string()));
    assert_eq!(names.get("ann").map(String::as_str), Some("ann"));
    assert!(names.contains("ann"));
    assert_eq!(names.replace("ann".to_string()), Some("ann".to_string()));
    assert_eq!(names.take("ann"), Some("ann".to_string()));
    assert!(!names.remove("ann"));
    names.insert("bob".to_string());
    names.retain(|n| n.starts_with('b'));
    assert_eq!(names.drain().collect::<Vec<_>>(), ["bob".to_string()]);
    assert!(names.is_empty());
}

#[test]
fn map_basics_as_std() {
    let mut map: HashMap<String, u32> = HashMap::with_capacity(4);
    assert!(map.capacity() >= 4 && map.is_empty());
    assert_eq!(map.insert("a".into(), 1), None);
    assert_eq!(map.insert("a".into(), 2), Some(2 - 1));
    map.insert("b".into(), 3);
    assert_eq!(map.get_key_value("a"), Some((&"a".to_string(), &2)));
    *map.get_mut("b").unwrap() += 1;
    assert_eq!(map.remove_entry("b"), Some(("b".to_string(), 4)));
    assert_eq!(map.remove("b"), None);
    map.try_reserve(100).expect("room for 100");
    map.reserve(10);
    map.shrink_to(0);
    map.shrink_to_fit();
    map.retain(|_, v| *v > 0);
    assert_eq!(map.len(), 1);
    let values: Vec<u32> = map.clone().into_values().collect();
    assert_eq!(values, [2]);
    map.clear();
    assert!(map.is_empty());
    let default: HashMap<u8, u8> = HashMap::default();
    assert_eq!(default, HashMap::new());
    assert_eq!(format!("{:?}", HashMap::from([(1, 2)])), "{1: 2}");
    assert_eq!(format!("{:?}", HashSet::from([7])), "{7}");
}

#[test]
fn clone_from_makes_an_equal_map() {
    let source: HashMap<u32, String> = (0..300).map(|i| (i, i.to_string())).collect();
    let mut same_size: HashMap<u32, String> = (1000..1300).map(|i| (i, i.to_string())).collect();
    same_size.clone_from(&source);
    assert_eq!(same_size, source);
    let mut small: HashMap<u32, String> = HashMap::from([(7, "x".to_string())]);
    small.clone_from(&source);
    assert_eq!(small, source);
    let mut empty = HashMap::new();
    empty.clone_from(&source);
    assert_eq!(empty, source);
    let mut set: HashSet<u32> = HashSet::from([1]);
    set.clone_from(&HashSet::from([2, 3]));
    assert_eq!(set, HashSet::from([2, 3]));
}

fn unwind_safe<T: UnwindSafe + RefUnwindSafe>(_: &T) {}

#[test]
fn a_shared_map_crosses_catch_unwind() {
    let map: HashMap<String, Vec<u8>> = HashMap::from([("k".to_string(), vec![1])]);
    let set: HashSet<u64> = HashSet::from([1]);
    // `&map` in a closure: the closure is `UnwindSafe` only if the map is
    // `RefUnwindSafe`.
    let len = panic::catch_unwind(|| map.len() + set.len()).expect("no panic");
    assert_eq!(len, 2);
    unwind_safe(&map);
    unwind_safe(&set);
    unwind_safe(&map.iter());
    unwind_safe(&map.keys());
    unwind_safe(&set.iter());
    let caught = panic::catch_unwind(|| {
        if map.contains_key("k") {
            panic!("planned");
        }
    });
    assert!(caught.is_err());
    assert_eq!(map["k"], [1]);
}

#[test]
fn a_panicking_extract_if_predicate_keeps_the_rest() {
    let mut map: HashMap<u32, u32> = (0..100).map(|i| (i, i)).collect();
    let seen = Cell::new(0);
    let result = panic::catch_unwind(AssertUnwindSafe(|| {
        map.extract_if(|_, _| {
            seen.set(seen.get() + 1);
            assert!(seen.get() < 30, "planned");
            seen.get() % 2 == 0
        })
        .count()
    }));
    assert!(result.is_err());
    assert_eq!(map.len(), 100 - 14);
    assert_eq!(map.iter().count(), map.len());
}

// Variance of the borrowing iterators, as std's (this only has to
// compile). The maps themselves, and so their owning iterators, are
// covariant in std but invariant in gomap: a gomap map may hold `fn(&K)`
// and `fn(&V)` (its owned-bytes measures), and shortening `K`'s lifetimes
// under such a function would be unsound.
#[allow(dead_code)]
fn borrowing_iterators_are_covariant<'new>(
    iter: hash_map::Iter<'_, &'static str, &'static str>,
    keys: hash_map::Keys<'_, &'static str, u8>,
    values: hash_map::Values<'_, u8, &'static str>,
    set: hash_set::Iter<'_, &'static str>,
) {
    let _: hash_map::Iter<'_, &'new str, &'new str> = iter;
    let _: hash_map::Keys<'_, &'new str, u8> = keys;
    let _: hash_map::Values<'_, u8, &'new str> = values;
    let _: hash_set::Iter<'_, &'new str> = set;
}
