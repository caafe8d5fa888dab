//! Slot handles on [`HashMap`]: find an entry's position once, then read or
//! write it again, or walk the map by position, without a lookup (as
//! hashbrown's `HashTable::find_bucket_index` and `get_bucket`). See
//! [`Slot`] for what a position stays valid for.

use super::{make_hash, HashMap, OccupiedEntry};
use crate::raw::{RawTable, Slot, SlotView};
use crate::Equivalent;
use allocator_api2::alloc::Allocator;
use core::hash::{BuildHasher, Hash};

impl<K: Eq + Hash, V, S: BuildHasher, A: Allocator> HashMap<K, V, S, A> {
    /// Where the entry for `key` sits, for [`get_slot`](Self::get_slot)
    /// and its kin: one lookup, moving nothing (no migration work, as
    /// [`get`](Self::get)).
    ///
    /// ```
    /// use gomap::HashMap;
    ///
    /// let mut map = HashMap::from([("a", 1), ("b", 2)]);
    /// let at = map.find_slot("a").unwrap();
    /// assert_eq!(map.get_slot(at), Some((&"a", &1)));
    /// *map.get_slot_mut(at).unwrap().1 += 10;
    /// assert_eq!(map["a"], 11);
    /// assert_eq!(map.find_slot("z"), None);
    /// ```
    pub fn find_slot<Q: Hash + Equivalent<K> + ?Sized>(&self, key: &Q) -> Option<Slot> {
        self.find_slot_hashed(make_hash(&self.hash_builder, key), key)
    }
}

impl<K, V, S, A: Allocator> HashMap<K, V, S, A> {
    /// The entry at `slot`, if that slot holds one now. O(1) plus the
    /// slot's depth in its overflow chain; moves nothing.
    ///
    /// The slot is checked against the map as it is now, so any `Slot` is
    /// safe to pass: one from another map, or one a write has made stale
    /// since it was found, gives `None` (no such bucket, a shorter chain,
    /// an empty slot) or whatever entry sits at that position now — maybe
    /// another key's. Only a map not written to since keeps a slot naming
    /// the same entry.
    pub fn get_slot(&self, slot: Slot) -> Option<(&K, &V)> {
        self.table.get_slot(slot)
    }

    /// The entry at `slot`, its value mutable; checked as in
    /// [`get_slot`](Self::get_slot). The value is lent like
    /// [`get_mut`](Self::get_mut)'s: owned bytes, when tracked, are
    /// measured again at the map's next use. Moves nothing.
    pub fn get_slot_mut(&mut self, slot: Slot) -> Option<(&K, &mut V)> {
        self.table.get_slot_mut(slot)
    }

    /// The occupied entry at `slot` (checked as in
    /// [`get_slot`](Self::get_slot)), for everything the Entry API does to
    /// an entry found: replace its value, remove it. Moves nothing until
    /// one of those writes.
    ///
    /// ```
    /// let mut map = gomap::HashMap::from([(1, 'a'), (2, 'b')]);
    /// let at = map.find_slot(&1).unwrap();
    /// assert_eq!(map.slot_entry(at).unwrap().remove(), 'a');
    /// assert_eq!(map.len(), 1);
    /// ```
    pub fn slot_entry(&mut self, slot: Slot) -> Option<OccupiedEntry<'_, K, V, S, A>> {
        self.table.slot_entry(slot).map(OccupiedEntry::new)
    }

    /// The first entry's slot, in an order of positions that
    /// [`next_slot`](Self::next_slot) continues: from the first slot and
    /// repeated `next_slot` calls, an unchanged map gives every entry
    /// exactly once (also in the middle of a migration). The order is
    /// fixed by where entries sit, not `iter`'s. Each call may pass over
    /// empty buckets: a whole walk costs what [`iter`](Self::iter) does.
    ///
    /// ```
    /// let map: gomap::HashMap<u32, u32> = (0..100).map(|i| (i, i)).collect();
    /// let mut sum = 0;
    /// let mut at = map.first_slot();
    /// while let Some(slot) = at {
    ///     sum += map.get_slot(slot).unwrap().1;
    ///     at = map.next_slot(slot);
    /// }
    /// assert_eq!(sum, 4950);
    /// ```
    pub fn first_slot(&self) -> Option<Slot> {
        self.table.next_slot(None)
    }

    /// The slot of the entry after the one at `after` (see
    /// [`first_slot`](Self::first_slot)). A stale `after` is safe: the walk
    /// resumes at the next position the map has now.
    pub fn next_slot(&self, after: Slot) -> Option<Slot> {
        self.table.next_slot(Some(after))
    }

    /// The map's entries by position, without the hasher type: a
    /// [`SlotView`] has [`get_slot`](SlotView::get_slot) and the walk, so
    /// a holder that cannot name `S` (a lock guard mapped to it, in a type
    /// generic over `K` and `V` only) can still read entries by [`Slot`].
    pub fn slot_view(&self) -> &SlotView<K, V, A> {
        SlotView::of(&self.table)
    }

    /// The raw table, for `SlotLender`, whose `unsafe` lives in `raw`.
    pub(crate) fn table_mut(&mut self) -> &mut RawTable<K, V, A> {
        &mut self.table
    }
}

impl<K, V, A: Allocator> SlotView<K, V, A> {
    /// Entries in the map.
    pub fn len(&self) -> usize {
        self.table.len()
    }

    /// Whether the map has no entry.
    pub fn is_empty(&self) -> bool {
        self.table.len() == 0
    }

    /// As [`HashMap::get_slot`].
    pub fn get_slot(&self, slot: Slot) -> Option<(&K, &V)> {
        self.table.get_slot(slot)
    }

    /// As [`HashMap::first_slot`].
    pub fn first_slot(&self) -> Option<Slot> {
        self.table.next_slot(None)
    }

    /// As [`HashMap::next_slot`].
    pub fn next_slot(&self, after: Slot) -> Option<Slot> {
        self.table.next_slot(Some(after))
    }
}
