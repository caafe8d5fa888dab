//! [`ShardedMap::entry`](super::ShardedMap::entry): dashmap's entry API.
//! An entry holds its shard's write lock from `entry` until it (or the
//! [`RefMut`] it turns into) is dropped; the map's observer is told about
//! the shard then, under the lock, also when user code panicked meanwhile.
//! An occupied entry is a [`RefMut`]: the guard and the pair's slot, the
//! pair left in place (see [`mapref`](super::mapref)).

use std::fmt;
use std::hash::{BuildHasher, Hash};

use gomap::DefaultHashBuilder;

use super::mapref::RefMut;
use super::Observed;

/// A key's place in a [`ShardedMap`](super::ShardedMap), under its
/// shard's write lock. Calling the same map from the thread that holds it
/// can deadlock, as with dashmap.
///
/// ```
/// let words: gomap_sync::ShardedMap<&str, u32> = gomap_sync::ShardedMap::new();
/// for w in ["a", "b", "a"] {
///     *words.entry(w).or_insert(0) += 1;
/// }
/// assert_eq!(words.get_cloned("a"), Some(2));
/// ```
pub enum Entry<'a, K: Eq + Hash, V, S: BuildHasher = DefaultHashBuilder> {
    /// The key is in the map.
    Occupied(OccupiedEntry<'a, K, V, S>),
    /// The key is not in the map.
    Vacant(VacantEntry<'a, K, V, S>),
}

/// An [`Entry`] whose key is in the map: the shard's write guard and the
/// pair's slot.
pub struct OccupiedEntry<'a, K: Eq + Hash, V, S: BuildHasher = DefaultHashBuilder> {
    lent: RefMut<'a, K, V, S>,
    /// The key `entry` was called with (equal to the stored one).
    key: K,
    /// The key's hash, the shard's own (so a write here hashes nothing).
    hash: u64,
}

/// An [`Entry`] whose key is not in the map.
pub struct VacantEntry<'a, K: Eq + Hash, V, S: BuildHasher = DefaultHashBuilder> {
    shard: Observed<'a, K, V, S>,
    key: K,
    /// The key's hash, the shard's own (so inserting hashes nothing).
    hash: u64,
}

impl<'a, K: Eq + Hash, V, S: BuildHasher> Entry<'a, K, V, S> {
    /// The entry for `key`, whose hash is `hash`, in the locked `shard`.
    pub(super) fn new(shard: Observed<'a, K, V, S>, hash: u64, key: K) -> Self {
        match shard.find_slot_hashed(hash, &key) {
            Some(slot) => Entry::Occupied(OccupiedEntry {
                lent: RefMut::new(shard, slot),
                key,
                hash,
            }),
            None => Entry::Vacant(VacantEntry { shard, key, hash }),
        }
    }

    /// Runs `f` on the value if the key is in the map.
    pub fn and_modify(mut self, f: impl FnOnce(&mut V)) -> Self {
        if let Entry::Occupied(entry) = &mut self {
            f(entry.get_mut());
        }
        self
    }

    /// The key: the stored one if occupied, else the one given to `entry`.
    pub fn key(&self) -> &K {
        match self {
            Entry::Occupied(entry) => entry.key(),
            Entry::Vacant(entry) => entry.key(),
        }
    }

    /// The key given to `entry`, giving up the entry (and its lock).
    pub fn into_key(self) -> K {
        match self {
            Entry::Occupied(entry) => entry.into_key(),
            Entry::Vacant(entry) => entry.into_key(),
        }
    }

    /// The value, inserting `V::default()` if the key is vacant.
    pub fn or_default(self) -> RefMut<'a, K, V, S>
    where
        V: Default,
    {
        self.or_insert_with(V::default)
    }

    /// The value, inserting `value` if the key is vacant.
    pub fn or_insert(self, value: V) -> RefMut<'a, K, V, S> {
        self.or_insert_with(|| value)
    }

    /// The value, inserting `value()` if the key is vacant (`value` runs
    /// under the shard's write lock).
    pub fn or_insert_with(self, value: impl FnOnce() -> V) -> RefMut<'a, K, V, S> {
        match self {
            Entry::Occupied(entry) => entry.into_ref(),
            Entry::Vacant(entry) => entry.insert(value()),
        }
    }

    /// The value, inserting what `value()` returns if the key is vacant;
    /// its error is returned instead (nothing inserted).
    ///
    /// ```
    /// let map: gomap_sync::ShardedMap<u32, u32> = gomap_sync::ShardedMap::new();
    /// let parsed = map.entry(1).or_try_insert_with(|| "x".parse::<u32>());
    /// assert!(parsed.is_err());
    /// assert!(!map.contains_key(&1));
    /// ```
    pub fn or_try_insert_with<E>(
        self,
        value: impl FnOnce() -> Result<V, E>,
    ) -> Result<RefMut<'a, K, V, S>, E> {
        match self {
            Entry::Occupied(entry) => Ok(entry.into_ref()),
            Entry::Vacant(entry) => Ok(entry.insert(value()?)),
        }
    }

    /// Sets the value (keeping the stored key if occupied).
    pub fn insert(self, value: V) -> RefMut<'a, K, V, S> {
        match self {
            Entry::Occupied(mut entry) => {
                entry.insert(value);
                entry.into_ref()
            }
            Entry::Vacant(entry) => entry.insert(value),
        }
    }

    /// Sets the value and returns the entry, now occupied.
    pub fn insert_entry(self, value: V) -> OccupiedEntry<'a, K, V, S>
    where
        K: Clone,
    {
        match self {
            Entry::Occupied(mut entry) => {
                entry.insert(value);
                entry
            }
            Entry::Vacant(entry) => entry.insert_entry(value),
        }
    }
}

impl<'a, K: Eq + Hash, V, S: BuildHasher> OccupiedEntry<'a, K, V, S> {
    /// The stored key.
    pub fn key(&self) -> &K {
        self.lent.key()
    }

    /// The key given to `entry`, giving up the entry.
    pub fn into_key(self) -> K {
        self.key
    }

    /// The value.
    pub fn get(&self) -> &V {
        self.lent.value()
    }

    /// The value, to change.
    pub fn get_mut(&mut self) -> &mut V {
        self.lent.value_mut()
    }

    /// Sets the value; returns the old one.
    pub fn insert(&mut self, value: V) -> V {
        self.lent.entry().insert(value)
    }

    /// The value as a [`RefMut`] that keeps the shard's lock.
    pub fn into_ref(self) -> RefMut<'a, K, V, S> {
        self.lent
    }

    /// Removes the entry; returns its value.
    pub fn remove(self) -> V {
        self.remove_entry().1
    }

    /// Removes the entry; returns the stored key and the value.
    pub fn remove_entry(self) -> (K, V) {
        self.lent.remove()
    }

    /// Replaces the stored key with the one given to `entry`, and the value
    /// with `value`; returns the old pair. (A removal and an insert: the
    /// map has no way to swap a stored key in place.)
    pub fn replace_entry(mut self, value: V) -> (K, V) {
        let old = self.lent.entry().remove_entry();
        self.lent.shard.insert_hashed(self.hash, self.key, value);
        old
    }
}

impl<'a, K: Eq + Hash, V, S: BuildHasher> VacantEntry<'a, K, V, S> {
    /// The key given to `entry`.
    pub fn key(&self) -> &K {
        &self.key
    }

    /// The key given to `entry`, giving up the entry.
    pub fn into_key(self) -> K {
        self.key
    }

    /// Inserts `value` under the key.
    pub fn insert(mut self, value: V) -> RefMut<'a, K, V, S> {
        let slot = (self.shard)
            .entry_hashed(self.hash, self.key)
            .insert_entry(value)
            .slot();
        RefMut::new(self.shard, slot)
    }

    /// Inserts `value` and returns the entry, now occupied.
    pub fn insert_entry(self, value: V) -> OccupiedEntry<'a, K, V, S>
    where
        K: Clone,
    {
        let (key, hash) = (self.key.clone(), self.hash);
        OccupiedEntry {
            key,
            hash,
            lent: self.insert(value),
        }
    }
}

impl<K: Eq + Hash + fmt::Debug, V: fmt::Debug, S: BuildHasher> fmt::Debug for Entry<'_, K, V, S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Entry::Occupied(entry) => f.debug_tuple("Occupied").field(entry).finish(),
            Entry::Vacant(entry) => f.debug_tuple("Vacant").field(entry).finish(),
        }
    }
}

impl<K: Eq + Hash + fmt::Debug, V: fmt::Debug, S: BuildHasher> fmt::Debug
    for OccupiedEntry<'_, K, V, S>
{
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OccupiedEntry")
            .field("key", self.key())
            .field("value", self.get())
            .finish()
    }
}

impl<K: Eq + Hash + fmt::Debug, V, S: BuildHasher> fmt::Debug for VacantEntry<'_, K, V, S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("VacantEntry").field(self.key()).finish()
    }
}
