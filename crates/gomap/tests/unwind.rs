//! Panicking `Hash`, `Eq`, `Clone` and `Drop` at a random point of a random
//! operation sequence: no double drop, no leak, no lost memory, and the map
//! stays usable and consistent after every panic.

mod common;

use common::{
    arm_panic, cases, disarm_panic, live_values, sized, tick, CountingAlloc, PanicKey, PanicValue,
};
use gomap::{DefaultHashBuilder, HashMap};
use proptest::prelude::*;
use std::panic::{self, AssertUnwindSafe};

type Map = HashMap<PanicKey, PanicValue, DefaultHashBuilder, CountingAlloc>;

#[derive(Clone, Debug)]
enum Op {
    Insert(u16),
    InsertRange(u16, u16),
    Remove(u16),
    Get(u16),
    Retain(u8),
    /// `extract_if` whose predicate may panic, advanced up to `n` times.
    ExtractIf(u8, u8),
    Clear,
    CloneAndDrop,
    Drain(u8),
    IntoIterPartial(u8),
    Reserve(u16),
    ShrinkToFit,
    FinishMigration,
}

fn op() -> impl Strategy<Value = Op> {
    // Under Miri, smaller ranges and reservations (every step is checked).
    let range = 1..sized(300, 30) as u16;
    let room = 0..sized(u16::MAX as usize, 300) as u16;
    prop_oneof![
        8 => (0..500u16).prop_map(Op::Insert),
        3 => (0..500u16, range).prop_map(|(k, n)| Op::InsertRange(k, n)),
        5 => (0..500u16).prop_map(Op::Remove),
        3 => (0..500u16).prop_map(Op::Get),
        1 => (2..5u8).prop_map(Op::Retain),
        2 => (2..5u8, any::<u8>()).prop_map(|(m, n)| Op::ExtractIf(m, n)),
        1 => Just(Op::Clear),
        1 => Just(Op::CloneAndDrop),
        1 => any::<u8>().prop_map(Op::Drain),
        1 => any::<u8>().prop_map(Op::IntoIterPartial),
        1 => room.prop_map(Op::Reserve),
        1 => Just(Op::ShrinkToFit),
        1 => Just(Op::FinishMigration),
    ]
}

fn apply(op: &Op, map: &mut Map, alloc: &CountingAlloc) {
    match *op {
        Op::Insert(k) => drop(map.insert(PanicKey(k), PanicValue::new(u32::from(k)))),
        Op::InsertRange(start, n) => {
            for k in start..start.saturating_add(n) {
                drop(map.insert(PanicKey(k), PanicValue::new(u32::from(k))));
            }
        }
        Op::Remove(k) => drop(map.remove(&PanicKey(k))),
        Op::Get(k) => {
            if let Some(v) = map.get(&PanicKey(k)) {
                assert_eq!(v.0 .0, u32::from(k));
            }
        }
        Op::Retain(m) => map.retain(|k, _| k.0 % u16::from(m) != 0),
        Op::ExtractIf(m, n) => map
            .extract_if(|k, _| {
                tick("extract_if predicate");
                k.0 % u16::from(m) == 0
            })
            .take(usize::from(n))
            .for_each(drop),
        Op::Clear => map.clear(),
        Op::CloneAndDrop => drop(map.clone()),
        Op::Drain(n) => map.drain().take(usize::from(n)).for_each(drop),
        Op::IntoIterPartial(n) => {
            let owned = std::mem::replace(map, HashMap::new_in(alloc.clone()));
            owned.into_iter().take(usize::from(n)).for_each(drop);
        }
        Op::Reserve(n) => map.reserve(usize::from(n)),
        Op::ShrinkToFit => map.shrink_to_fit(),
        Op::FinishMigration => map.finish_migration(),
    }
}

/// Everything that must hold whatever panicked, checked with panics off.
fn check_consistent(map: &Map, alloc: &CountingAlloc, base: isize) {
    assert_eq!(map.iter().count(), map.len());
    assert_eq!(map.mem_stats().allocated_bytes, alloc.live());
    assert_eq!(
        live_values() - base,
        map.len() as isize,
        "leak or double drop"
    );
    for (k, v) in map.iter() {
        assert_eq!(v.0 .0, u32::from(k.0));
        assert_eq!(
            map.get(k).map(|v| v.0 .0),
            Some(u32::from(k.0)),
            "{k:?} unreachable"
        );
    }
}

fn quiet_planned_panics() {
    let default = panic::take_hook();
    panic::set_hook(Box::new(move |info| {
        let planned = info
            .payload()
            .downcast_ref::<String>()
            .is_some_and(|s| s.starts_with("planned panic"));
        if !planned {
            default(info);
        }
    }));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(cases(128)))]

    #[test]
    fn panics_in_user_code_leave_the_map_sound(
        steps in prop::collection::vec((op(), 0..60u64), 1..sized(80, 20)),
        final_countdown in 0..40u64,
    ) {
        quiet_planned_panics();
        let base = live_values();
        let alloc = CountingAlloc::default();
        let mut map: Map = HashMap::new_in(alloc.clone());
        for (op, countdown) in &steps {
            arm_panic(*countdown);
            let _ = panic::catch_unwind(AssertUnwindSafe(|| apply(op, &mut map, &alloc)));
            disarm_panic();
            check_consistent(&map, &alloc, base);
        }
        // Dropping the map may panic too; the rest is still dropped.
        arm_panic(final_countdown);
        let _ = panic::catch_unwind(AssertUnwindSafe(move || drop(map)));
        disarm_panic();
        prop_assert_eq!(live_values(), base);
        prop_assert_eq!(alloc.live(), 0);
    }
}

#[test]
fn a_panicking_extract_if_predicate_keeps_every_entry_it_did_not_remove() {
    quiet_planned_panics();
    let base = live_values();
    let alloc = CountingAlloc::default();
    for at in [1u64, 7, 50, 150] {
        let mut map: Map = HashMap::new_in(alloc.clone());
        // Big enough to have overflow buckets, and filled on until a grow
        // is running.
        let mut k = 0u16;
        while k < sized(1500, 200) as u16 || map.mem_stats().migration.is_none() {
            map.insert(PanicKey(k), PanicValue::new(u32::from(k)));
            k += 1;
        }
        let before = map.len();
        let mut removed = 0;
        arm_panic(at);
        let result = panic::catch_unwind(AssertUnwindSafe(|| {
            for (k, v) in map.extract_if(|k, _| {
                tick("extract_if predicate");
                k.0 % 3 == 0
            }) {
                assert_eq!(v.0 .0, u32::from(k.0));
                removed += 1;
            }
        }));
        disarm_panic();
        assert!(result.is_err(), "the predicate panicked at call {at}");
        assert_eq!(map.len(), before - removed);
        check_consistent(&map, &alloc, base);
        drop(map);
        assert_eq!(live_values(), base);
        assert_eq!(alloc.live(), 0);
    }
}

#[test]
fn a_panicking_hash_during_evacuation_splits_a_bucket_safely() {
    quiet_planned_panics();
    let base = live_values();
    let alloc = CountingAlloc::default();
    let mut map: Map = HashMap::new_in(alloc.clone());
    let mut split = 0;
    for k in 0..sized(3000, 700) as u16 {
        // Panic in the hash of an entry being evacuated, mid-bucket.
        arm_panic(3);
        let r = panic::catch_unwind(AssertUnwindSafe(|| {
            map.insert(PanicKey(k), PanicValue::new(u32::from(k)))
        }));
        disarm_panic();
        if r.is_err() {
            split += usize::from(map.mem_stats().migration.is_some());
        }
        if k % 128 == 0 {
            check_consistent(&map, &alloc, base);
        }
    }
    check_consistent(&map, &alloc, base);
    assert!(split > 0, "no panic landed mid-migration");
    drop(map);
    assert_eq!(live_values(), base);
    assert_eq!(alloc.live(), 0);
}
