//! Owned bytes are exact: random operation sequences on a `String →
//! Vec<u8>` map (inserts, overwrites, pushes through `get_mut`, the entry
//! API and `iter_mut`, removes, retain, clear, reset, drain, migrations)
//! against std's `HashMap`; after every step, the bytes a counting global
//! allocator holds for the map and its contents equal
//! `allocated_bytes + owned_bytes`.
//!
//! The allocator counts per thread, and only while a test runs an operation
//! on the gomap map (the model's allocations are not counted), so tests may
//! run side by side.

use std::collections::HashMap as StdMap;

use gomap::HashMap;
use proptest::prelude::*;

#[path = "common/thread_counting.rs"]
mod thread_counting;
use thread_counting::{counted, live, ThreadCounting};

#[global_allocator]
static ALLOCATOR: ThreadCounting = ThreadCounting;

#[derive(Clone, Debug)]
enum Op {
    /// Insert (or overwrite) key `k` with a value of this capacity.
    Insert(u16, usize),
    /// Push bytes onto the value through `get_mut` (may reallocate).
    GetMutPush(u16, usize),
    /// `entry(k).or_default()` then push.
    EntryPush(u16, usize),
    /// `entry(k).and_modify(shrink_to_fit)`.
    EntryShrink(u16),
    /// Push one byte onto every value through `iter_mut`.
    IterMutPush,
    /// Truncate every value and shrink it through `values_mut`.
    ValuesMutShrink,
    Remove(u16),
    /// Keep keys with `k % m != 0`; grow the kept values by one.
    Retain(u16),
    /// `extract_if` to the end, taking keys with `k % m == 0`; the
    /// predicate grows every value by one byte first.
    ExtractIf(u16),
    /// Push bytes onto two values at once through `get_disjoint_mut`.
    DisjointPush(u16, u16, usize),
    Clear,
    Reset,
    /// Drain, taking every other pair out.
    Drain,
    ShrinkToFit,
    Reserve(u16),
}

fn op() -> impl Strategy<Value = Op> {
    let key = 0u16..400;
    prop_oneof![
        6 => (key.clone(), 0usize..200).prop_map(|(k, n)| Op::Insert(k, n)),
        3 => (key.clone(), 1usize..300).prop_map(|(k, n)| Op::GetMutPush(k, n)),
        2 => (key.clone(), 1usize..100).prop_map(|(k, n)| Op::EntryPush(k, n)),
        1 => key.clone().prop_map(Op::EntryShrink),
        1 => Just(Op::IterMutPush),
        1 => Just(Op::ValuesMutShrink),
        4 => key.clone().prop_map(Op::Remove),
        1 => (2u16..5).prop_map(Op::Retain),
        1 => (2u16..5).prop_map(Op::ExtractIf),
        2 => (key.clone(), key.clone(), 1usize..300).prop_map(|(a, b, n)| Op::DisjointPush(a, b, n)),
        1 => Just(Op::Clear),
        1 => Just(Op::Reset),
        1 => Just(Op::Drain),
        1 => Just(Op::ShrinkToFit),
        1 => (0u16..2000).prop_map(Op::Reserve),
    ]
}

/// A key whose text takes a few bytes more than its name (so keys own
/// bytes too).
fn key(k: u16) -> String {
    let mut s = String::with_capacity(8 + usize::from(k % 7));
    s.push_str(&format!("k{k}"));
    s
}

fn apply(map: &mut HashMap<String, Vec<u8>>, model: &mut StdMap<String, Vec<u8>>, op: &Op) {
    match *op {
        Op::Insert(k, n) => {
            model.insert(key(k), vec![1; n]);
            counted(|| {
                let mut value = Vec::with_capacity(n);
                value.resize(n, 1);
                map.insert(key(k), value);
            });
        }
        Op::GetMutPush(k, n) => {
            if let Some(v) = model.get_mut(&key(k)) {
                v.extend(std::iter::repeat_n(2, n));
            }
            let k = key(k);
            counted(|| {
                if let Some(v) = map.get_mut(&k) {
                    v.extend(std::iter::repeat_n(2, n));
                }
            });
        }
        Op::EntryPush(k, n) => {
            model
                .entry(key(k))
                .or_default()
                .extend(std::iter::repeat_n(3, n));
            counted(|| {
                map.entry(key(k))
                    .or_default()
                    .extend(std::iter::repeat_n(3, n))
            });
        }
        Op::EntryShrink(k) => {
            model.entry(key(k)).and_modify(|v| v.shrink_to_fit());
            counted(|| {
                let _ = map.entry(key(k)).and_modify(|v| v.shrink_to_fit());
            });
        }
        Op::IterMutPush => {
            model.values_mut().for_each(|v| v.push(4));
            counted(|| map.iter_mut().for_each(|(_, v)| v.push(4)));
        }
        Op::ValuesMutShrink => {
            for v in model.values_mut() {
                v.truncate(3);
                v.shrink_to_fit();
            }
            counted(|| {
                for v in map.values_mut() {
                    v.truncate(3);
                    v.shrink_to_fit();
                }
            });
        }
        Op::Remove(k) => {
            model.remove(&key(k));
            let k = key(k);
            counted(|| drop(map.remove(&k)));
        }
        Op::Retain(m) => {
            let keep = |k: &String| k[1..].parse::<u16>().unwrap() % m != 0;
            model.retain(|k, v| {
                v.push(5);
                keep(k)
            });
            counted(|| {
                map.retain(|k, v| {
                    v.push(5);
                    keep(k)
                })
            });
        }
        Op::ExtractIf(m) => {
            let take = |k: &String| k[1..].parse::<u16>().unwrap() % m == 0;
            model.values_mut().for_each(|v| v.push(6));
            model.retain(|k, _| !take(k));
            counted(|| {
                let taken: Vec<_> = map
                    .extract_if(|k, v| {
                        v.push(6);
                        take(k)
                    })
                    .collect();
                drop(taken);
            });
        }
        Op::DisjointPush(a, b, n) => {
            if a == b {
                return;
            }
            let (a, b) = (key(a), key(b));
            for k in [&a, &b] {
                if let Some(v) = model.get_mut(k) {
                    v.extend(std::iter::repeat_n(7, n));
                }
            }
            counted(|| {
                for v in map.get_disjoint_mut([&a, &b]).into_iter().flatten() {
                    v.extend(std::iter::repeat_n(7, n));
                }
            });
        }
        Op::Clear => {
            model.clear();
            counted(|| map.clear());
        }
        Op::Reset => {
            model.clear();
            counted(|| map.reset());
        }
        Op::Drain => {
            model.clear();
            counted(|| {
                let taken: Vec<_> = map.drain().step_by(2).collect();
                drop(taken);
            });
        }
        Op::ShrinkToFit => counted(|| map.shrink_to_fit()),
        Op::Reserve(n) => counted(|| map.reserve(usize::from(n))),
    }
}

fn check(map: &HashMap<String, Vec<u8>>, model: &StdMap<String, Vec<u8>>, base: isize) {
    assert_eq!(map.len(), model.len());
    for (k, v) in model {
        assert_eq!(map.get(k), Some(v), "{k}");
    }
    let stats = map.mem_stats();
    let owned: usize = map.iter().map(|(k, v)| k.capacity() + v.capacity()).sum();
    assert_eq!(stats.owned_bytes, owned, "owned bytes against a walk");
    assert_eq!(
        (live() - base) as usize,
        stats.allocated_bytes + stats.owned_bytes,
        "the allocator against allocated + owned ({stats:?})"
    );
}

/// Operations per case: fewer under Miri.
const MAX_OPS: usize = if cfg!(miri) { 60 } else { 300 };

fn cases() -> u32 {
    if cfg!(miri) {
        4
    } else {
        std::env::var("PROPTEST_CASES")
            .ok()
            .and_then(|n| n.parse().ok())
            .unwrap_or(64)
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(cases()))]

    #[test]
    fn owned_bytes_match_the_allocator_after_every_step(ops in proptest::collection::vec(op(), 1..MAX_OPS)) {
        let base = live();
        let mut map: HashMap<String, Vec<u8>> =
            counted(|| HashMap::new().with_owned_bytes(String::capacity, Vec::capacity));
        let mut model = StdMap::new();
        for op in &ops {
            apply(&mut map, &mut model, op);
            check(&map, &model, base);
        }
        counted(|| drop(map));
        prop_assert_eq!(live(), base);
    }
}

/// Tracking that starts on a full map measures what is there; a clone
/// keeps its own exact figure.
#[test]
fn tracking_starts_on_a_full_map_and_clones_keep_it() {
    let mut map: HashMap<u32, String> = (0..1_000)
        .map(|i| (i, "x".repeat(i as usize % 50)))
        .collect();
    assert_eq!(map.owned_bytes(), None);
    assert_eq!(map.mem_stats().owned_bytes, 0);
    map.track_owned_bytes(|_| 0, String::capacity);
    let expected: usize = map.values().map(String::capacity).sum();
    assert_eq!(map.owned_bytes(), Some(expected));
    map.get_mut(&7).unwrap().push_str(&"y".repeat(500));
    let copy = map.clone();
    let now: usize = map.values().map(String::capacity).sum();
    assert_eq!(map.owned_bytes(), Some(now));
    let copied: usize = copy.values().map(String::capacity).sum();
    assert_eq!(copy.owned_bytes(), Some(copied));
    map.untrack_owned_bytes();
    assert_eq!(map.owned_bytes(), None);
}

/// A measuring function that panics leaves the map consistent: the insert
/// it measured for is not made.
#[test]
fn a_panicking_measure_leaves_the_map_consistent() {
    fn picky(v: &String) -> usize {
        assert!(!v.starts_with("bad"), "cannot measure this one");
        v.capacity()
    }
    let mut map: HashMap<u32, String> = HashMap::new().with_owned_bytes(|_| 0, picky);
    map.insert(1, "good".into());
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        map.insert(2, "bad".into());
    }));
    assert!(result.is_err());
    assert_eq!(map.len(), 1);
    assert!(!map.contains_key(&2));
    assert_eq!(map.owned_bytes(), Some(4));
    map.insert(3, "fine".into());
    assert_eq!(map.owned_bytes(), Some(8));
}
