//! hashbrown's `entry_ref`: the Entry API looked up by a borrowed key, which
//! becomes an owned `K` only when a vacant entry is filled.
//!
//! The occupied case is the ordinary [`OccupiedEntry`]: once the key is
//! found, nothing about it depends on how it was looked up (hashbrown 0.15
//! and later do the same). The vacant case keeps the borrowed key, the hash
//! and the free slot the lookup found, exactly as [`VacantEntry`] keeps the
//! owned key: an insert through it may still grow the table or take its
//! share of a running migration, as any insert does.
//!
//! [`VacantEntry`]: super::VacantEntry

use super::entry::OccupiedEntry;
use super::{hasher_of, make_hash, HashMap};
use crate::raw::{RawEntry, RawVacant};
use crate::Equivalent;
use allocator_api2::alloc::{Allocator, Global};
use core::borrow::Borrow;
use core::fmt;
use core::hash::{BuildHasher, Hash};

/// A view into one key's place in a [`HashMap`], from
/// [`entry_ref`](HashMap::entry_ref): the key is borrowed, and turned into
/// an owned `K` (with `K: From<&Q>`) only if a vacant entry is filled.
pub enum EntryRef<'a, 'b, K, Q: ?Sized, V, S, A: Allocator = Global> {
    /// The key is in the map.
    Occupied(OccupiedEntry<'a, K, V, S, A>),
    /// The key is not in the map.
    Vacant(VacantEntryRef<'a, 'b, K, Q, V, S, A>),
}

/// An entry whose key is not in the map, holding the borrowed key.
pub struct VacantEntryRef<'a, 'b, K, Q: ?Sized, V, S, A: Allocator = Global> {
    raw: RawVacant<'a, K, V, A>,
    key: &'b Q,
    hash_builder: &'a S,
}

impl<K, V, S, A: Allocator> HashMap<K, V, S, A> {
    /// The entry for a borrowed `key`, for in-place reading, updating or
    /// inserting. Unlike [`entry`](HashMap::entry), no owned key is needed
    /// to look: `K::from(key)` is called only when a vacant entry is filled,
    /// so a `String`-keyed map looked up by `&str` allocates only for a new
    /// key.
    ///
    /// `K::from(key)` must hash and compare equal to `key`, as
    /// [`Equivalent`] already requires of any lookup key.
    ///
    /// ```
    /// use gomap::HashMap;
    ///
    /// let mut words: HashMap<String, usize> = HashMap::new();
    /// for w in "a b a c a".split(' ') {
    ///     // `w` is a `&str`: a `String` is made for the three new words only.
    ///     *words.entry_ref(w).or_insert(0) += 1;
    /// }
    /// assert_eq!(words["a"], 3);
    /// assert_eq!(words.len(), 3);
    /// ```
    #[inline]
    pub fn entry_ref<'a, 'b, Q>(&'a mut self, key: &'b Q) -> EntryRef<'a, 'b, K, Q, V, S, A>
    where
        K: Hash,
        Q: ?Sized + Hash + Equivalent<K>,
        S: BuildHasher,
    {
        let hash = make_hash(&self.hash_builder, key);
        let hash_builder = &self.hash_builder;
        match self
            .table
            .entry(hash, |k| key.equivalent(k), hasher_of(hash_builder))
        {
            RawEntry::Occupied(raw) => EntryRef::Occupied(OccupiedEntry::new(raw)),
            RawEntry::Vacant(raw) => EntryRef::Vacant(VacantEntryRef {
                raw,
                key,
                hash_builder,
            }),
        }
    }
}

impl<'a, 'b, K, Q, V, S, A> EntryRef<'a, 'b, K, Q, V, S, A>
where
    K: Hash + From<&'b Q>,
    Q: ?Sized,
    S: BuildHasher,
    A: Allocator,
{
    /// The value, inserting `default` if the key is absent.
    #[inline]
    pub fn or_insert(self, default: V) -> &'a mut V {
        match self {
            EntryRef::Occupied(entry) => entry.into_mut(),
            EntryRef::Vacant(entry) => entry.insert(default),
        }
    }

    /// The value, inserting `default()` if the key is absent.
    #[inline]
    pub fn or_insert_with<F: FnOnce() -> V>(self, default: F) -> &'a mut V {
        match self {
            EntryRef::Occupied(entry) => entry.into_mut(),
            EntryRef::Vacant(entry) => entry.insert(default()),
        }
    }

    /// The value, inserting `default(key)` if the key is absent (the
    /// borrowed key: no `K` is made before it is known to be needed).
    #[inline]
    pub fn or_insert_with_key<F: FnOnce(&Q) -> V>(self, default: F) -> &'a mut V {
        match self {
            EntryRef::Occupied(entry) => entry.into_mut(),
            EntryRef::Vacant(entry) => {
                let value = default(entry.key);
                entry.insert(value)
            }
        }
    }

    /// Set the value, inserting the key if absent, and keep the entry.
    ///
    /// ```
    /// let mut map: gomap::HashMap<String, u32> = gomap::HashMap::new();
    /// let entry = map.entry_ref("poneyland").insert_entry(37);
    /// assert_eq!(entry.key(), "poneyland");
    /// assert_eq!(map["poneyland"], 37);
    /// ```
    #[inline]
    pub fn insert_entry(self, value: V) -> OccupiedEntry<'a, K, V, S, A> {
        match self {
            EntryRef::Occupied(mut entry) => {
                entry.insert(value);
                entry
            }
            EntryRef::Vacant(entry) => entry.insert_entry(value),
        }
    }
}

impl<'a, 'b, K, Q, V, S, A> EntryRef<'a, 'b, K, Q, V, S, A>
where
    K: Hash + From<&'b Q>,
    Q: ?Sized,
    V: Default,
    S: BuildHasher,
    A: Allocator,
{
    /// The value, inserting `V::default()` if the key is absent.
    #[inline]
    pub fn or_default(self) -> &'a mut V {
        self.or_insert_with(V::default)
    }
}

impl<'a, 'b, K, Q: ?Sized, V, S, A: Allocator> EntryRef<'a, 'b, K, Q, V, S, A> {
    /// The entry's key: the stored one if present, else the borrowed one.
    #[inline]
    pub fn key(&self) -> &Q
    where
        K: Borrow<Q>,
    {
        match self {
            EntryRef::Occupied(entry) => entry.key().borrow(),
            EntryRef::Vacant(entry) => entry.key,
        }
    }

    /// Apply `f` to the value if the key is present.
    ///
    /// ```
    /// let mut map: gomap::HashMap<String, u32> = gomap::HashMap::new();
    /// map.entry_ref("a").and_modify(|v| *v += 1).or_insert(1);
    /// map.entry_ref("a").and_modify(|v| *v += 1).or_insert(1);
    /// assert_eq!(map["a"], 2);
    /// ```
    #[inline]
    pub fn and_modify<F: FnOnce(&mut V)>(self, f: F) -> Self {
        match self {
            EntryRef::Occupied(mut entry) => {
                f(entry.get_mut());
                EntryRef::Occupied(entry)
            }
            vacant => vacant,
        }
    }
}

impl<'a, 'b, K, Q: ?Sized, V, S, A: Allocator> VacantEntryRef<'a, 'b, K, Q, V, S, A> {
    /// The borrowed key that would be inserted.
    #[inline]
    pub fn key(&self) -> &'b Q {
        self.key
    }
}

impl<'a, 'b, K, Q, V, S, A> VacantEntryRef<'a, 'b, K, Q, V, S, A>
where
    K: Hash + From<&'b Q>,
    Q: ?Sized,
    S: BuildHasher,
    A: Allocator,
{
    /// Insert `K::from(key)` with `value`, returning the value mutably.
    #[inline]
    pub fn insert(self, value: V) -> &'a mut V {
        let hash_builder = self.hash_builder;
        self.raw
            .insert(K::from(self.key), value, hasher_of(hash_builder))
            .1
    }

    /// Insert `K::from(key)` with `value`, returning the occupied entry.
    #[inline]
    pub fn insert_entry(self, value: V) -> OccupiedEntry<'a, K, V, S, A> {
        let hash_builder = self.hash_builder;
        let raw = self
            .raw
            .insert_entry(K::from(self.key), value, hasher_of(hash_builder));
        OccupiedEntry::new(raw)
    }
}

impl<K, Q, V, S, A> fmt::Debug for EntryRef<'_, '_, K, Q, V, S, A>
where
    K: fmt::Debug,
    Q: ?Sized + fmt::Debug,
    V: fmt::Debug,
    A: Allocator,
{
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EntryRef::Occupied(entry) => f.debug_tuple("EntryRef").field(entry).finish(),
            EntryRef::Vacant(entry) => f.debug_tuple("EntryRef").field(entry).finish(),
        }
    }
}

impl<K, Q: ?Sized + fmt::Debug, V, S, A: Allocator> fmt::Debug
    for VacantEntryRef<'_, '_, K, Q, V, S, A>
{
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("VacantEntryRef").field(&self.key).finish()
    }
}
