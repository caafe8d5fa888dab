//! get-size2's `GetSize` for the map and the set (feature `get-size2`): the
//! table's bytes, exactly (`mem_stats().allocated_bytes`), plus what every
//! key and value owns, so a struct that derives `GetSize` and holds a gomap
//! map gets the right number.

use allocator_api2::alloc::Allocator;
use get_size2::{GetSize, GetSizeTracker};

use crate::{HashMap, HashSet};

impl<K: GetSize, V: GetSize, S, A: Allocator> GetSize for HashMap<K, V, S, A> {
    /// ```
    /// use get_size2::GetSize;
    ///
    /// let mut map: gomap::HashMap<u32, String> = gomap::HashMap::new();
    /// map.insert(1, "x".repeat(100));
    /// assert_eq!(map.get_heap_size(), map.mem_stats().allocated_bytes + 100);
    /// ```
    fn get_heap_size_with_tracker<T: GetSizeTracker>(&self, tracker: T) -> (usize, T) {
        self.iter().fold(
            (self.mem_stats().allocated_bytes, tracker),
            |(total, tracker), (key, value)| {
                let (key_bytes, tracker) = key.get_heap_size_with_tracker(tracker);
                let (value_bytes, tracker) = value.get_heap_size_with_tracker(tracker);
                (total + key_bytes + value_bytes, tracker)
            },
        )
    }
}

impl<T: GetSize, S, A: Allocator> GetSize for HashSet<T, S, A> {
    fn get_heap_size_with_tracker<Tr: GetSizeTracker>(&self, tracker: Tr) -> (usize, Tr) {
        self.iter().fold(
            (self.mem_stats().allocated_bytes, tracker),
            |(total, tracker), item| {
                let (bytes, tracker) = item.get_heap_size_with_tracker(tracker);
                (total + bytes, tracker)
            },
        )
    }
}
