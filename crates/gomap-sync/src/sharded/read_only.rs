//! [`ReadOnlyView`]: a [`ShardedMap`] frozen for reading without locks.

use std::borrow::Borrow;
use std::fmt;
use std::hash::{BuildHasher, Hash};

use gomap::{DefaultHashBuilder, HashMap};

use super::{Shard, ShardedMap};
use crate::sync::RwLock;

/// A [`ShardedMap`] taken apart for reading: its shards without their
/// locks, so reads take no lock at all and hand out plain references.
/// Made by [`ShardedMap::into_read_only`]; [`into_inner`](Self::into_inner)
/// gives the map back (with its observer). As dashmap's `ReadOnlyView`.
///
/// ```
/// let map: gomap_sync::ShardedMap<u32, &str> = gomap_sync::ShardedMap::new();
/// map.insert(1, "one");
/// let view = map.into_read_only();
/// let one: &&str = view.get(&1).unwrap(); // a plain reference, no guard
/// assert_eq!((*one, view.len()), ("one", 1));
/// let map = view.into_inner();
/// map.insert(2, "two");
/// ```
pub struct ReadOnlyView<K, V, S = DefaultHashBuilder> {
    shards: Box<[HashMap<K, V, S>]>,
    /// What `into_inner` needs to rebuild the map.
    map: ShardedMap<K, V, S>,
}

impl<K, V, S> ReadOnlyView<K, V, S> {
    pub(super) fn new(mut map: ShardedMap<K, V, S>) -> Self {
        let shards = std::mem::take(&mut map.shards);
        let shards = shards
            .into_vec()
            .into_iter()
            .map(|s| s.0.into_inner())
            .collect();
        ReadOnlyView { shards, map }
    }

    /// The map again, locks and observer as before.
    pub fn into_inner(mut self) -> ShardedMap<K, V, S> {
        self.map.shards = std::mem::take(&mut self.shards)
            .into_vec()
            .into_iter()
            .map(|s| Shard(RwLock::new(s)))
            .collect();
        self.map
    }

    /// Entries.
    pub fn len(&self) -> usize {
        self.shards.iter().map(HashMap::len).sum()
    }

    /// Whether the map is empty.
    pub fn is_empty(&self) -> bool {
        self.shards.iter().all(HashMap::is_empty)
    }

    /// Entries the shards hold before any of them must grow, summed.
    pub fn capacity(&self) -> usize {
        self.shards.iter().map(HashMap::capacity).sum()
    }

    /// Every pair, shard by shard.
    pub fn iter(&self) -> impl Iterator<Item = (&K, &V)> + '_ {
        self.shards.iter().flat_map(HashMap::iter)
    }

    /// Every key, shard by shard.
    pub fn keys(&self) -> impl Iterator<Item = &K> + '_ {
        self.iter().map(|(k, _)| k)
    }

    /// Every value, in the order of [`keys`](Self::keys).
    pub fn values(&self) -> impl Iterator<Item = &V> + '_ {
        self.iter().map(|(_, v)| v)
    }

    /// The shards, in shard order.
    pub fn shards(&self) -> &[HashMap<K, V, S>] {
        &self.shards
    }
}

impl<K: Eq + Hash, V, S: BuildHasher> ReadOnlyView<K, V, S> {
    /// The key's hash and its shard.
    fn shard_of<Q: Hash + ?Sized>(&self, key: &Q) -> (u64, &HashMap<K, V, S>) {
        let (hash, index) = self.map.locate(key);
        (hash, &self.shards[index])
    }

    /// Whether the key is in the map.
    pub fn contains_key<Q>(&self, key: &Q) -> bool
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.get_key_value(key).is_some()
    }

    /// The key's value.
    pub fn get<Q>(&self, key: &Q) -> Option<&V>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.get_key_value(key).map(|(_, v)| v)
    }

    /// The stored key and its value.
    pub fn get_key_value<Q>(&self, key: &Q) -> Option<(&K, &V)>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let (hash, shard) = self.shard_of(key);
        shard.get_key_value_hashed(hash, key)
    }
}

impl<K: Clone, V: Clone, S: Clone> Clone for ReadOnlyView<K, V, S> {
    /// A copy without the observer (as the map's `Clone`).
    fn clone(&self) -> Self {
        ReadOnlyView {
            shards: self.shards.clone(),
            map: self.map.clone(),
        }
    }
}

impl<K: fmt::Debug, V: fmt::Debug, S> fmt::Debug for ReadOnlyView<K, V, S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(self.iter()).finish()
    }
}
