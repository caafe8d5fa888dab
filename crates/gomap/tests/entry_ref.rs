//! `HashMap::entry_ref`: a `String`-keyed map looked up by `&str` makes an
//! owned key only when a vacant entry is filled; it finds keys in both
//! arrays of a migration and inserts during one; owned bytes and
//! `mem_stats` stay exact through every kind of entry write.

use std::borrow::Borrow;
use std::cell::Cell;
use std::collections::HashMap as StdMap;

use gomap::hash_map::{EntryRef, HashMap};

#[path = "common/thread_counting.rs"]
mod thread_counting;
use thread_counting::{calls, counted, live, ThreadCounting};

#[global_allocator]
static ALLOCATOR: ThreadCounting = ThreadCounting;

thread_local! {
    /// `Name::from(&str)` calls on this thread.
    static FROMS: Cell<usize> = const { Cell::new(0) };
}

fn froms() -> usize {
    FROMS.with(Cell::get)
}

/// A `String` key that counts how often it is made from a `&str`.
#[derive(Clone, PartialEq, Eq, Hash, Debug)]
struct Name(String);

impl From<&str> for Name {
    fn from(s: &str) -> Self {
        FROMS.with(|n| n.set(n.get() + 1));
        Name(s.to_owned())
    }
}

impl Borrow<str> for Name {
    fn borrow(&self) -> &str {
        &self.0
    }
}

const N: usize = if cfg!(miri) { 300 } else { 3_000 };

fn key(i: usize) -> String {
    format!("key-{i}")
}

/// A map of `Name`s grown one key at a time until it is mid-grow with
/// plenty left to move.
fn map_mid_grow() -> HashMap<Name, usize> {
    let mut map = HashMap::new();
    let mut i = 0;
    while !(map.len() > N / 3 && map.mem_stats().migration.is_some()) {
        map.insert(Name(key(i)), i);
        i += 1;
        assert!(i < 100 * N, "no migration left running");
    }
    map
}

#[test]
fn an_occupied_entry_makes_no_key_and_allocates_nothing() {
    let mut map: HashMap<Name, usize> = (0..N).map(|i| (Name(key(i)), i)).collect();
    let probes: Vec<String> = (0..N).map(key).collect();
    let (froms_before, calls_before) = (froms(), calls());
    counted(|| {
        for (i, k) in probes.iter().enumerate() {
            *map.entry_ref(k.as_str()).or_insert(0) += 1;
            map.entry_ref(k.as_str()).and_modify(|v| *v += 1);
            assert_eq!(*map.entry_ref(k.as_str()).or_default(), i + 2);
        }
    });
    assert_eq!(froms(), froms_before, "a key was made for a present entry");
    assert_eq!(calls(), calls_before, "the occupied path allocated");
}

#[test]
fn a_vacant_entry_makes_one_key_when_filled_and_none_when_not() {
    let mut map: HashMap<Name, usize> = HashMap::new();
    let before = froms();
    match map.entry_ref("absent") {
        EntryRef::Vacant(vacant) => assert_eq!(vacant.key(), "absent"),
        EntryRef::Occupied(_) => panic!("an empty map has no entries"),
    }
    map.entry_ref("absent").and_modify(|v| *v += 1);
    assert_eq!(froms(), before, "looking at a vacant entry made a key");
    assert!(map.is_empty());

    assert_eq!(*map.entry_ref("a").or_insert(1), 1);
    assert_eq!(*map.entry_ref("b").or_insert_with(|| 2), 2);
    assert_eq!(*map.entry_ref("c").or_insert_with_key(|k| k.len()), 1);
    assert_eq!(*map.entry_ref("d").or_default(), 0);
    let entry = map.entry_ref("e").insert_entry(5);
    assert_eq!(entry.key(), &Name("e".into()));
    assert_eq!(froms(), before + 5, "one key made per filled vacant entry");
    assert_eq!(map.entry_ref("a").key(), "a");
    assert_eq!(map.len(), 5);
    assert_eq!(map.get("e"), Some(&5));
}

#[test]
fn insert_entry_on_an_occupied_entry_replaces_the_value_and_keeps_the_key() {
    let mut map: HashMap<String, u32> = HashMap::new();
    map.insert("k".into(), 1);
    let entry = map.entry_ref("k").insert_entry(2);
    assert_eq!(entry.get(), &2);
    assert_eq!(map.len(), 1);
    assert_eq!(map["k"], 2);
}

#[test]
fn entry_ref_finds_keys_in_both_arrays_and_inserts_during_a_grow() {
    let mut map = map_mid_grow();
    let stats = map.mem_stats();
    assert!(stats.migration.is_some() && stats.old_buckets > 0);
    let mut model: StdMap<String, usize> = map.iter().map(|(k, &v)| (k.0.clone(), v)).collect();
    let present = map.len();
    let before = froms();
    for i in 0..present + N / 2 {
        let k = key(i);
        *map.entry_ref(k.as_str()).or_insert(0) += 1;
        *model.entry(k).or_insert(0) += 1;
    }
    // Only the new keys were made; every present one was found, wherever
    // the migration had it.
    assert_eq!(froms(), before + N / 2);
    assert_eq!(map.len(), model.len());
    for (k, v) in &model {
        assert_eq!(map.get(k.as_str()), Some(v), "key {k}");
    }
}

#[test]
fn entry_ref_works_during_a_shrink() {
    let mut map: HashMap<Name, usize> = (0..4 * N).map(|i| (Name(key(i)), i)).collect();
    map.finish_migration();
    map.retain(|_, v| *v % 16 == 0);
    assert!(
        map.mem_stats().migration.is_some(),
        "retain starts a shrink"
    );
    let mut model: StdMap<String, usize> = map.iter().map(|(k, &v)| (k.0.clone(), v)).collect();
    for i in 0..4 * N {
        let k = key(i);
        if i % 3 == 0 {
            *map.entry_ref(k.as_str()).or_default() += 1;
            *model.entry(k).or_default() += 1;
        } else if let EntryRef::Occupied(entry) = map.entry_ref(k.as_str()) {
            assert_eq!(entry.remove(), model.remove(&k).unwrap());
        }
    }
    assert_eq!(map.len(), model.len());
    for (k, v) in &model {
        assert_eq!(map.get(k.as_str()), Some(v), "key {k}");
    }
}

#[test]
fn owned_bytes_and_mem_stats_stay_exact_through_entry_ref() {
    let mut map: HashMap<String, Vec<u8>> = HashMap::new();
    map.track_owned_bytes(String::capacity, Vec::capacity);
    // The map's bytes and everything its keys and values own, counted by
    // the allocator since the map was empty.
    let start = live();
    let check = |map: &HashMap<String, Vec<u8>>, step: usize| {
        let stats = map.mem_stats();
        let held = (live() - start) as usize;
        assert_eq!(
            held,
            stats.allocated_bytes + map.owned_bytes().unwrap(),
            "step {step}: allocator against allocated_bytes + owned_bytes"
        );
        assert_eq!(stats.owned_bytes, map.owned_bytes().unwrap());
    };
    let probes: Vec<String> = (0..N).map(key).collect();
    let mut saw_migration = false;
    for (i, k) in probes.iter().enumerate() {
        counted(|| match i % 4 {
            0 => {
                map.entry_ref(k.as_str()).or_insert_with(|| vec![1; i % 50]);
            }
            1 => {
                map.entry_ref(k.as_str()).insert_entry(vec![2; 10]);
            }
            2 => {
                map.entry_ref(probes[i - 2].as_str())
                    .and_modify(|v| v.extend_from_slice(&[3; 70]))
                    .or_default();
            }
            _ => {
                let v = map.entry_ref(probes[i / 2].as_str()).or_default();
                v.push(4);
                v.shrink_to_fit();
            }
        });
        saw_migration |= map.mem_stats().migration.is_some();
        check(&map, i);
    }
    assert!(saw_migration, "the writes ran during a migration");
    counted(|| drop(map));
    assert_eq!(live(), start, "everything was given back");
}
