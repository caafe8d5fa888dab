//! `ShardedSet` against std's `HashSet` on random operations, from several
//! threads at once, and its all-shards clear.

use std::collections::HashSet as StdSet;

use gomap_sync::ShardedSet;
use proptest::prelude::*;

#[derive(Clone, Debug)]
enum Op {
    Insert(u16),
    Remove(u16),
    Contains(u16),
    Retain(u16),
    Clear,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        6 => any::<u16>().prop_map(|k| Op::Insert(k % 512)),
        3 => any::<u16>().prop_map(|k| Op::Remove(k % 512)),
        3 => any::<u16>().prop_map(|k| Op::Contains(k % 512)),
        1 => (1..8u16).prop_map(Op::Retain),
        1 => Just(Op::Clear),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(if cfg!(miri) { 4 } else { 64 }))]
    #[test]
    fn behaves_as_std_hash_set(ops in prop::collection::vec(op(), 1..400)) {
        let set: ShardedSet<u16> = ShardedSet::with_shard_amount(4);
        let mut model = StdSet::new();
        for op in ops {
            match op {
                Op::Insert(k) => prop_assert_eq!(set.insert(k), model.insert(k)),
                Op::Remove(k) => prop_assert_eq!(set.remove(&k), model.take(&k)),
                Op::Contains(k) => prop_assert_eq!(set.contains(&k), model.contains(&k)),
                Op::Retain(m) => {
                    set.retain(|k| k % m != 0);
                    model.retain(|k| k % m != 0);
                }
                Op::Clear => {
                    set.clear();
                    model.clear();
                }
            }
            prop_assert_eq!(set.len(), model.len());
        }
        let mut got: Vec<u16> = set.iter().map(|r| *r).collect();
        got.sort_unstable();
        let mut want: Vec<u16> = model.into_iter().collect();
        want.sort_unstable();
        prop_assert_eq!(got, want);
    }
}

#[test]
fn threads_inserting_the_same_values_add_each_once() {
    let set: ShardedSet<u32> = ShardedSet::new();
    let added = std::sync::atomic::AtomicUsize::new(0);
    std::thread::scope(|s| {
        for _ in 0..4 {
            s.spawn(|| {
                for v in 0..2_000 {
                    if set.insert(v) {
                        added.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    }
                }
            });
        }
    });
    assert_eq!(set.len(), 2_000);
    assert_eq!(
        added.into_inner(),
        2_000,
        "exactly one insert of each value said it added it"
    );
}

#[test]
fn collect_extend_debug_and_memory() {
    let set: ShardedSet<String> = ["a", "b", "a"].iter().map(|s| s.to_string()).collect();
    assert_eq!(set.len(), 2);
    (&set).extend(["c".to_string()]);
    assert!(set.contains("c"));
    assert_eq!(set.remove("a").as_deref(), Some("a"));
    assert!(format!("{set:?}").contains("\"b\""));
    assert!(set.mem_stats().allocated_bytes > 0);
    set.clear();
    assert!(set.is_empty());
}

#[cfg(feature = "serde")]
#[test]
fn a_sharded_set_round_trips_through_json_as_a_sequence() {
    let set: ShardedSet<u32> = (0..300).collect();
    let json = serde_json::to_string(&set).unwrap();
    assert!(json.starts_with('['));
    let back: ShardedSet<u32> = serde_json::from_str(&json).unwrap();
    assert_eq!(back.len(), 300);
    assert!((0..300).all(|v| back.contains(&v)));
}
