//! Lookups and writes given the key's hash, computed once by the caller
//! (as hashbrown's `HashTable` and dashmap's `hash_usize` serve): what a
//! sharded map needs, which picks a shard from a key's hash and would
//! otherwise hash the key again inside the shard. The plain methods (`get`,
//! `insert`, `entry`, …) are these with the map's own hash. The contract on
//! `hash` is in [`HashMap`]'s docs, "Hash-given methods".

use super::{Entry, HashMap, OccupiedEntry, VacantEntry};
use crate::raw::{RawEntry, Slot};
use crate::Equivalent;
use allocator_api2::alloc::Allocator;
use core::hash::{BuildHasher, Hash};

impl<K: Eq + Hash, V, S: BuildHasher, A: Allocator> HashMap<K, V, S, A> {
    /// [`entry`](Self::entry) for a key whose hash is `hash` (see
    /// [the contract](HashMap#hash-given-methods)).
    ///
    /// ```
    /// use std::hash::BuildHasher;
    ///
    /// let mut counts: gomap::HashMap<&str, u32> = gomap::HashMap::new();
    /// let hash = counts.hasher().hash_one("a");
    /// *counts.entry_hashed(hash, "a").or_insert(0) += 1;
    /// assert_eq!(counts["a"], 1);
    /// ```
    #[inline]
    pub fn entry_hashed(&mut self, hash: u64, key: K) -> Entry<'_, K, V, S, A> {
        let hash_builder = &self.hash_builder;
        match self
            .table
            .entry(hash, |k| *k == key, Self::hasher_fn(hash_builder))
        {
            RawEntry::Occupied(raw) => Entry::Occupied(OccupiedEntry::new(raw)),
            RawEntry::Vacant(raw) => Entry::Vacant(VacantEntry::new(raw, key, hash_builder)),
        }
    }

    /// [`insert`](Self::insert) for a key whose hash is `hash` (see
    /// [the contract](HashMap#hash-given-methods)).
    ///
    /// ```
    /// use std::hash::BuildHasher;
    ///
    /// let mut map: gomap::HashMap<u64, char> = gomap::HashMap::new();
    /// let hash = map.hasher().hash_one(7u64);
    /// assert_eq!(map.insert_hashed(hash, 7, 'a'), None);
    /// assert_eq!(map.insert_hashed(hash, 7, 'b'), Some('a'));
    /// assert_eq!(map[&7], 'b');
    /// ```
    #[inline]
    pub fn insert_hashed(&mut self, hash: u64, key: K, value: V) -> Option<V> {
        match self.entry_hashed(hash, key) {
            Entry::Occupied(mut entry) => Some(entry.insert(value)),
            Entry::Vacant(entry) => {
                entry.insert_only(value);
                None
            }
        }
    }

    /// [`get_key_value`](Self::get_key_value) for a key whose hash is
    /// `hash` (see [the contract](HashMap#hash-given-methods)).
    ///
    /// ```
    /// use std::hash::BuildHasher;
    ///
    /// let map = gomap::HashMap::from([("a".to_string(), 1)]);
    /// let hash = map.hasher().hash_one("a");
    /// assert_eq!(map.get_key_value_hashed(hash, "a"), Some((&"a".to_string(), &1)));
    /// ```
    #[inline]
    pub fn get_key_value_hashed<Q: Equivalent<K> + ?Sized>(
        &self,
        hash: u64,
        key: &Q,
    ) -> Option<(&K, &V)> {
        self.table.get(hash, |k| key.equivalent(k))
    }

    /// [`get_mut`](Self::get_mut) for a key whose hash is `hash` (see
    /// [the contract](HashMap#hash-given-methods)).
    #[inline]
    pub fn get_mut_hashed<Q: Equivalent<K> + ?Sized>(
        &mut self,
        hash: u64,
        key: &Q,
    ) -> Option<&mut V> {
        self.table
            .get_mut(hash, |k| key.equivalent(k))
            .map(|(_, v)| v)
    }

    /// [`find_slot`](Self::find_slot) for a key whose hash is `hash` (see
    /// [the contract](HashMap#hash-given-methods)).
    #[inline]
    pub fn find_slot_hashed<Q: Equivalent<K> + ?Sized>(&self, hash: u64, key: &Q) -> Option<Slot> {
        self.table.find_slot(hash, |k| key.equivalent(k))
    }

    /// [`remove_entry`](Self::remove_entry) for a key whose hash is `hash`
    /// (see [the contract](HashMap#hash-given-methods)).
    ///
    /// ```
    /// use std::hash::BuildHasher;
    ///
    /// let mut map = gomap::HashMap::from([(1u32, 'a')]);
    /// let hash = map.hasher().hash_one(1u32);
    /// assert_eq!(map.remove_entry_hashed(hash, &1), Some((1, 'a')));
    /// assert!(map.is_empty());
    /// ```
    #[inline]
    pub fn remove_entry_hashed<Q: Equivalent<K> + ?Sized>(
        &mut self,
        hash: u64,
        key: &Q,
    ) -> Option<(K, V)> {
        let hasher = Self::hasher_fn(&self.hash_builder);
        self.table.remove(hash, |k| key.equivalent(k), hasher)
    }
}
