//! std's Entry API.

use super::hasher_of;
use crate::raw::{RawOccupied, RawVacant};
use crate::DefaultHashBuilder;
use allocator_api2::alloc::{Allocator, Global};
use core::fmt;
use core::hash::{BuildHasher, Hash};
use core::marker::PhantomData;

/// A view into one key's place in a [`HashMap`](super::HashMap), from
/// [`entry`](super::HashMap::entry). The hasher parameter `S` defaults to
/// the map's, so `Entry<'_, K, V>` names the entry of a `HashMap<K, V>`, as
/// with std.
///
/// ```
/// use gomap::hash_map::{Entry, HashMap};
///
/// fn bump(entry: Entry<'_, &str, u32>) {
///     *entry.or_insert(0) += 1;
/// }
/// let mut counts = HashMap::new();
/// bump(counts.entry("a"));
/// bump(counts.entry("a"));
/// assert_eq!(counts["a"], 2);
/// ```
pub enum Entry<'a, K, V, S = DefaultHashBuilder, A: Allocator = Global> {
    /// The key is in the map.
    Occupied(OccupiedEntry<'a, K, V, S, A>),
    /// The key is not in the map.
    Vacant(VacantEntry<'a, K, V, S, A>),
}

/// An entry whose key is in the map.
pub struct OccupiedEntry<'a, K, V, S = DefaultHashBuilder, A: Allocator = Global> {
    raw: RawOccupied<'a, K, V, A>,
    marker: PhantomData<&'a S>,
}

/// An entry whose key is not in the map, holding the key.
pub struct VacantEntry<'a, K, V, S = DefaultHashBuilder, A: Allocator = Global> {
    raw: RawVacant<'a, K, V, A>,
    key: K,
    hash_builder: &'a S,
}

impl<'a, K: Eq + Hash, V, S: BuildHasher, A: Allocator> Entry<'a, K, V, S, A> {
    /// The value, inserting `default` if the key is absent.
    #[inline]
    pub fn or_insert(self, default: V) -> &'a mut V {
        match self {
            Entry::Occupied(entry) => entry.into_mut(),
            Entry::Vacant(entry) => entry.insert(default),
        }
    }

    /// The value, inserting `default()` if the key is absent.
    #[inline]
    pub fn or_insert_with<F: FnOnce() -> V>(self, default: F) -> &'a mut V {
        match self {
            Entry::Occupied(entry) => entry.into_mut(),
            Entry::Vacant(entry) => entry.insert(default()),
        }
    }

    /// The value, inserting `default(&key)` if the key is absent.
    #[inline]
    pub fn or_insert_with_key<F: FnOnce(&K) -> V>(self, default: F) -> &'a mut V {
        match self {
            Entry::Occupied(entry) => entry.into_mut(),
            Entry::Vacant(entry) => {
                let value = default(entry.key());
                entry.insert(value)
            }
        }
    }

    /// The entry's key.
    #[inline]
    pub fn key(&self) -> &K {
        match self {
            Entry::Occupied(entry) => entry.key(),
            Entry::Vacant(entry) => entry.key(),
        }
    }

    /// Apply `f` to the value if the key is present.
    #[inline]
    pub fn and_modify<F: FnOnce(&mut V)>(self, f: F) -> Self {
        match self {
            Entry::Occupied(mut entry) => {
                f(entry.get_mut());
                Entry::Occupied(entry)
            }
            vacant => vacant,
        }
    }

    /// Set the value, inserting the key if absent, and keep the entry.
    #[inline]
    pub fn insert_entry(self, value: V) -> OccupiedEntry<'a, K, V, S, A> {
        match self {
            Entry::Occupied(mut entry) => {
                entry.insert(value);
                entry
            }
            Entry::Vacant(entry) => entry.insert_entry(value),
        }
    }
}

impl<'a, K: Eq + Hash, V: Default, S: BuildHasher, A: Allocator> Entry<'a, K, V, S, A> {
    /// The value, inserting `V::default()` if the key is absent.
    #[inline]
    pub fn or_default(self) -> &'a mut V {
        self.or_insert_with(V::default)
    }
}

impl<'a, K, V, S, A: Allocator> OccupiedEntry<'a, K, V, S, A> {
    #[inline]
    pub(super) fn new(raw: RawOccupied<'a, K, V, A>) -> Self {
        OccupiedEntry {
            raw,
            marker: PhantomData,
        }
    }

    /// The stored key.
    #[inline]
    pub fn key(&self) -> &K {
        self.raw.key()
    }

    /// The value.
    #[inline]
    pub fn get(&self) -> &V {
        self.raw.get()
    }

    /// The value, mutably, for as long as the entry.
    #[inline]
    pub fn get_mut(&mut self) -> &mut V {
        self.raw.get_mut()
    }

    /// The value, mutably, for as long as the map's borrow.
    #[inline]
    pub fn into_mut(self) -> &'a mut V {
        self.raw.into_mut()
    }

    /// Replace the value, returning the old one.
    #[inline]
    pub fn insert(&mut self, value: V) -> V {
        self.raw.replace_value(value)
    }

    /// Where the entry sits, for [`HashMap::get_slot`](super::HashMap::get_slot)
    /// and its kin once this entry's borrow ends — no second lookup. (After
    /// [`VacantEntry::insert_entry`], the slot of the entry just inserted.)
    ///
    /// ```
    /// let mut map = gomap::HashMap::new();
    /// let at = map.entry("a").insert_entry(1).slot();
    /// assert_eq!(map.get_slot(at), Some((&"a", &1)));
    /// ```
    #[inline]
    pub fn slot(&self) -> super::Slot {
        self.raw.slot()
    }

    /// Remove the entry, returning its value.
    #[inline]
    pub fn remove(self) -> V {
        self.remove_entry().1
    }

    /// Remove the entry, returning the stored key and the value.
    #[inline]
    pub fn remove_entry(self) -> (K, V) {
        self.raw.remove()
    }
}

impl<'a, K: Hash, V, S: BuildHasher, A: Allocator> VacantEntry<'a, K, V, S, A> {
    #[inline]
    pub(super) fn new(raw: RawVacant<'a, K, V, A>, key: K, hash_builder: &'a S) -> Self {
        VacantEntry {
            raw,
            key,
            hash_builder,
        }
    }

    /// The key that would be inserted.
    #[inline]
    pub fn key(&self) -> &K {
        &self.key
    }

    /// Take the key back.
    #[inline]
    pub fn into_key(self) -> K {
        self.key
    }

    /// Insert the key with `value`, returning the value mutably.
    #[inline]
    pub fn insert(self, value: V) -> &'a mut V {
        let hash_builder = self.hash_builder;
        self.raw.insert(self.key, value, hasher_of(hash_builder)).1
    }

    /// Insert, handing nothing out (`HashMap::insert`).
    #[inline]
    pub(super) fn insert_only(self, value: V) {
        let hash_builder = self.hash_builder;
        self.raw
            .insert_value(self.key, value, hasher_of(hash_builder));
    }

    /// Insert the key with `value`, returning the occupied entry.
    #[inline]
    pub fn insert_entry(self, value: V) -> OccupiedEntry<'a, K, V, S, A> {
        let hash_builder = self.hash_builder;
        let raw = self
            .raw
            .insert_entry(self.key, value, hasher_of(hash_builder));
        OccupiedEntry::new(raw)
    }
}

impl<K: fmt::Debug, V: fmt::Debug, S, A: Allocator> fmt::Debug for Entry<'_, K, V, S, A> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Entry::Occupied(entry) => f.debug_tuple("Entry").field(entry).finish(),
            Entry::Vacant(entry) => f.debug_tuple("Entry").field(entry).finish(),
        }
    }
}

impl<K: fmt::Debug, V: fmt::Debug, S, A: Allocator> fmt::Debug for OccupiedEntry<'_, K, V, S, A> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OccupiedEntry")
            .field("key", self.key())
            .field("value", self.get())
            .finish()
    }
}

impl<K: fmt::Debug, V, S, A: Allocator> fmt::Debug for VacantEntry<'_, K, V, S, A> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("VacantEntry").field(&self.key).finish()
    }
}
