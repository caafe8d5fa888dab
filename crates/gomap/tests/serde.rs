//! Feature `serde`: round trips through serde_json, duplicate keys (the
//! last wins, as std), pre-sizing from a length the format gives, and a
//! hostile length that must not make us reserve without entries behind it.
#![cfg(feature = "serde")]

use std::alloc::Layout;
use std::cell::Cell;
use std::ptr::NonNull;

use gomap::{Allocator, Global, HashMap, HashSet};
use serde::de::value::{Error as ValueError, MapDeserializer, SeqDeserializer};
use serde::Deserialize;

#[test]
fn a_map_round_trips_through_json() {
    let map: HashMap<String, Vec<u32>> = (0..500)
        .map(|i| (format!("key-{i}"), vec![i, i * 2]))
        .collect();
    let json = serde_json::to_string(&map).unwrap();
    let back: HashMap<String, Vec<u32>> = serde_json::from_str(&json).unwrap();
    assert_eq!(back, map);
    // And as std reads it.
    let std: std::collections::HashMap<String, Vec<u32>> = serde_json::from_str(&json).unwrap();
    assert_eq!(std.len(), 500);
    assert!(std.iter().all(|(k, v)| map.get(k) == Some(v)));
}

#[test]
fn a_set_round_trips_through_json() {
    let set: HashSet<u64> = (0..1_000).map(|i| i * 7).collect();
    let json = serde_json::to_string(&set).unwrap();
    assert!(json.starts_with('['));
    let back: HashSet<u64> = serde_json::from_str(&json).unwrap();
    assert_eq!(back, set);
}

#[test]
fn a_duplicate_key_keeps_its_last_value_as_std_does() {
    let json = r#"{"a": 1, "b": 2, "a": 3}"#;
    let map: HashMap<String, u32> = serde_json::from_str(json).unwrap();
    let std: std::collections::HashMap<String, u32> = serde_json::from_str(json).unwrap();
    assert_eq!(map.len(), 2);
    assert_eq!(map["a"], 3);
    assert_eq!(map["a"], std["a"]);
    let set: HashSet<u8> = serde_json::from_str("[1, 2, 1]").unwrap();
    assert_eq!(set.len(), 2);
}

#[test]
fn bad_input_is_an_error_not_a_panic() {
    assert!(serde_json::from_str::<HashMap<String, u32>>(r#"{"a": "x"}"#).is_err());
    assert!(serde_json::from_str::<HashMap<String, u32>>("[1, 2]").is_err());
    assert!(serde_json::from_str::<HashSet<u32>>(r#"{"a": 1}"#).is_err());
}

thread_local! {
    static ALLOCATIONS: Cell<usize> = const { Cell::new(0) };
}

/// The global allocator, counting this thread's allocations.
#[derive(Clone, Copy, Default)]
struct Counting;

unsafe impl Allocator for Counting {
    fn allocate(&self, layout: Layout) -> Result<NonNull<[u8]>, allocator_api2::alloc::AllocError> {
        ALLOCATIONS.with(|n| n.set(n.get() + 1));
        Global.allocate(layout)
    }

    unsafe fn deallocate(&self, ptr: NonNull<u8>, layout: Layout) {
        // SAFETY: `ptr` came from `Global.allocate` with `layout`.
        unsafe { Global.deallocate(ptr, layout) }
    }
}

fn allocations(f: impl FnOnce()) -> usize {
    let before = ALLOCATIONS.with(Cell::get);
    f();
    ALLOCATIONS.with(Cell::get) - before
}

type Fixed = foldhash::fast::FixedState;
type Map = HashMap<u64, u64, Fixed, Counting>;

#[test]
fn a_length_the_format_gives_presizes_the_map() {
    const N: u64 = 20_000;
    let pairs = || (0..N).map(|k| (k, k));
    // MapDeserializer tells its exact length, as bincode or CBOR would.
    let mut presized = 0;
    let from_input = allocations(|| {
        let map = Map::deserialize(MapDeserializer::<_, ValueError>::new(pairs())).unwrap();
        assert_eq!(map.len(), N as usize);
        presized = map.capacity();
    });
    // The same entries into a map reserved up front, and into one that grows.
    let reserved = allocations(|| {
        let mut map = Map::with_capacity_and_hasher_in(N as usize, Fixed::default(), Counting);
        map.extend(pairs());
    });
    // (`filter` hides the length, so `extend` cannot reserve.)
    let grown = allocations(|| {
        let mut map = Map::with_hasher_in(Fixed::default(), Counting);
        map.extend(pairs().filter(|_| true));
    });
    assert!(presized >= N as usize);
    assert_eq!(
        from_input, reserved,
        "deserialising allocates as a reserved map does"
    );
    assert!(
        grown > reserved,
        "a growing map allocates more ({grown} vs {reserved})"
    );

    let set_allocs = allocations(|| {
        let set = HashSet::<u64, Fixed, Counting>::deserialize(
            SeqDeserializer::<_, ValueError>::new(0..N),
        )
        .unwrap();
        assert_eq!(set.len(), N as usize);
    });
    let set_grown = allocations(|| {
        let mut set = HashSet::<u64, Fixed, Counting>::with_hasher_in(Fixed::default(), Counting);
        set.extend((0..N).filter(|_| true));
    });
    assert!(set_allocs < set_grown);
}

/// A map access that claims a huge length and then yields nothing.
struct Liar;

impl<'de> serde::de::MapAccess<'de> for Liar {
    type Error = ValueError;
    fn next_key_seed<K: serde::de::DeserializeSeed<'de>>(
        &mut self,
        _: K,
    ) -> Result<Option<K::Value>, ValueError> {
        Ok(None)
    }
    fn next_value_seed<V: serde::de::DeserializeSeed<'de>>(
        &mut self,
        _: V,
    ) -> Result<V::Value, ValueError> {
        unreachable!("no key was given")
    }
    fn size_hint(&self) -> Option<usize> {
        Some(usize::MAX / 2)
    }
}

#[test]
fn a_hostile_length_reserves_a_bounded_table() {
    let map = Map::deserialize(serde::de::value::MapAccessDeserializer::new(Liar)).unwrap();
    assert!(map.is_empty());
    // At most about 1 MiB of entries reserved on the input's word.
    assert!(
        map.mem_stats().allocated_bytes <= 4 << 20,
        "{:?}",
        map.mem_stats()
    );
}
