//! Feature `serde`: a `ShardedMap` round-trips through serde_json as one
//! map, a duplicate key keeps its last value, and bad input is an error.
#![cfg(feature = "serde")]

use gomap_sync::ShardedMap;

#[test]
fn a_sharded_map_round_trips_through_json_as_one_map() {
    let map: ShardedMap<String, u64> = (0..2_000).map(|i| (format!("k{i}"), i)).collect();
    let json = serde_json::to_string(&map).unwrap();
    assert!(json.starts_with('{'));
    let back: ShardedMap<String, u64> = serde_json::from_str(&json).unwrap();
    assert_eq!(back.len(), 2_000);
    for i in 0..2_000u64 {
        assert_eq!(back.get_cloned(&format!("k{i}")), Some(i));
    }
    // Any map reads it: it is one JSON object.
    let std: std::collections::HashMap<String, u64> = serde_json::from_str(&json).unwrap();
    assert_eq!(std.len(), 2_000);
}

#[test]
fn a_duplicate_key_keeps_its_last_value_and_bad_input_is_an_error() {
    let map: ShardedMap<String, u32> = serde_json::from_str(r#"{"a": 1, "a": 2}"#).unwrap();
    assert_eq!(map.len(), 1);
    assert_eq!(map.get_cloned("a"), Some(2));
    assert!(serde_json::from_str::<ShardedMap<String, u32>>("[1]").is_err());
}
