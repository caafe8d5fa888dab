//! [`ShardedSet`]: a concurrent set, a [`ShardedMap`] of `T → ()`.
//!
//! Every method takes the same locks as its map twin: one shard's lock for
//! a key's operation, every shard's lock at once for
//! [`clear`](ShardedSet::clear) and `Debug`, one shard at
//! a time for [`retain`](ShardedSet::retain) and [`iter`](ShardedSet::iter).

use std::borrow::Borrow;
use std::fmt;
use std::hash::{BuildHasher, Hash};

#[cfg(not(loom))]
use std::ops::Deref;

use gomap::{DefaultHashBuilder, MemStats};

#[cfg(not(loom))]
use crate::sharded;
use crate::ShardedMap;

/// A concurrent hash set: `gomap::HashSet`'s API through `&self`, on a
/// [`ShardedMap`] whose values are `()`.
///
/// ```
/// use gomap_sync::ShardedSet;
///
/// let seen: ShardedSet<u64> = ShardedSet::new();
/// std::thread::scope(|s| {
///     for t in 0..4 {
///         let seen = &seen;
///         s.spawn(move || {
///             for i in 0..1_000 {
///                 seen.insert(i * 4 + t);
///             }
///         });
///     }
/// });
/// assert_eq!(seen.len(), 4_000);
/// assert!(seen.contains(&17));
/// ```
pub struct ShardedSet<T, S = DefaultHashBuilder> {
    pub(crate) map: ShardedMap<T, (), S>,
}

impl<T> ShardedSet<T, DefaultHashBuilder> {
    /// An empty set with the default number of shards and a random seed.
    pub fn new() -> Self {
        ShardedSet {
            map: ShardedMap::new(),
        }
    }

    /// An empty set with room for `capacity` elements spread over the shards.
    pub fn with_capacity(capacity: usize) -> Self {
        ShardedSet {
            map: ShardedMap::with_capacity(capacity),
        }
    }

    /// An empty set with `shard_amount` shards (rounded up to a power of two,
    /// clamped as [`ShardedMap::with_shard_amount`] does).
    pub fn with_shard_amount(shard_amount: usize) -> Self {
        ShardedSet {
            map: ShardedMap::with_shard_amount(shard_amount),
        }
    }
}

impl<T, S: BuildHasher + Clone> ShardedSet<T, S> {
    /// An empty set that hashes with `hasher`.
    pub fn with_hasher(hasher: S) -> Self {
        ShardedSet {
            map: ShardedMap::with_hasher(hasher),
        }
    }

    /// An empty set with room for `capacity` elements, hashing with `hasher`.
    pub fn with_capacity_and_hasher(capacity: usize, hasher: S) -> Self {
        ShardedSet {
            map: ShardedMap::with_capacity_and_hasher(capacity, hasher),
        }
    }
}

impl<T, S> ShardedSet<T, S> {
    /// Elements in the set (each shard counted under its own read lock, so
    /// under concurrent writes it is a figure of the recent past).
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// Whether the set is empty.
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// The number of shards.
    pub fn shard_amount(&self) -> usize {
        self.map.shard_amount()
    }

    /// The shards' memory, summed.
    pub fn mem_stats(&self) -> MemStats {
        self.map.mem_stats()
    }

    /// Drops every element, holding every shard's write lock at once: a
    /// concurrent reader sees all of the set or none of it. Shards keep
    /// their buckets, as `clear` does on the map.
    pub fn clear(&self) {
        self.map.clear();
    }

    /// Keeps the elements for which `f` returns `true`, one shard at a time.
    pub fn retain(&self, mut f: impl FnMut(&T) -> bool) {
        self.map.retain(|k, ()| f(k));
    }

    /// Elements the shards hold before any of them must grow, summed.
    pub fn capacity(&self) -> usize {
        self.map.capacity()
    }
}

impl<T: Eq + Hash, S: BuildHasher> ShardedSet<T, S> {
    /// Adds `value`; `false` if it was there already (the set keeps the one
    /// it had, as std's `HashSet::insert` does).
    pub fn insert(&self, value: T) -> bool {
        self.map.update(value, |entry| match entry {
            gomap::hash_map::Entry::Occupied(_) => false,
            gomap::hash_map::Entry::Vacant(slot) => {
                slot.insert(());
                true
            }
        })
    }

    /// Whether `value` is in the set.
    pub fn contains<Q>(&self, value: &Q) -> bool
    where
        T: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.map.contains_key(value)
    }

    /// Removes `value`, returning the element the set held.
    pub fn remove<Q>(&self, value: &Q) -> Option<T>
    where
        T: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.map.remove_entry(value).map(|(k, ())| k)
    }

    /// The element equal to `value`, behind its shard's read lock (held
    /// until the [`Ref`] is dropped; see [`ShardedMap::get`] for the
    /// deadlock rule).
    #[cfg(not(loom))]
    pub fn get<Q>(&self, value: &Q) -> Option<Ref<'_, T>>
    where
        T: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.map.get(value).map(Ref)
    }

    /// Every element, one shard at a time, without copying (no `Clone`
    /// bound): each item is a [`RefMulti`] holding its shard's read lock,
    /// as [`ShardedMap::iter`]'s items do. Not one instant of the whole set
    /// under a concurrent `clear`.
    ///
    /// ```
    /// let set: gomap_sync::ShardedSet<String> = ["a", "b"].iter().map(|s| s.to_string()).collect();
    /// let mut all: Vec<String> = set.iter().map(|r| r.key().clone()).collect();
    /// all.sort();
    /// assert_eq!(all, ["a", "b"]);
    /// ```
    #[cfg(not(loom))]
    pub fn iter(&self) -> Iter<'_, T, S> {
        Iter(self.map.iter())
    }

    /// Removes `value` if `f` returns `true` for the stored element (run
    /// under the shard's write lock); returns the removed element.
    ///
    /// ```
    /// let set: gomap_sync::ShardedSet<u32> = (0..4).collect();
    /// assert_eq!(set.remove_if(&3, |v| v % 2 == 0), None);
    /// assert_eq!(set.remove_if(&2, |v| v % 2 == 0), Some(2));
    /// ```
    pub fn remove_if<Q>(&self, value: &Q, f: impl FnOnce(&T) -> bool) -> Option<T>
    where
        T: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.map.remove_if(value, |k, ()| f(k)).map(|(k, ())| k)
    }

    /// Room for `additional` more elements, spread over the shards as
    /// [`ShardedMap::reserve`] does (and with its guarantee).
    pub fn reserve(&self, additional: usize) {
        self.map.reserve(additional);
    }

    /// Gives back what each shard holds beyond its elements, one shard at a
    /// time.
    pub fn shrink_to_fit(&self) {
        self.map.shrink_to_fit();
    }
}

impl<T> Default for ShardedSet<T, DefaultHashBuilder> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T: fmt::Debug, S> fmt::Debug for ShardedSet<T, S> {
    /// The whole set at one instant (every shard's read lock held).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_set()
            .entries(self.map.read_all().iter().map(|(k, ())| k))
            .finish()
    }
}

/// An element of a [`ShardedSet`] behind its shard's read lock (dashmap's
/// `setref::one::Ref`); derefs to the element.
#[cfg(not(loom))]
pub struct Ref<'a, T>(sharded::Ref<'a, T, ()>);

#[cfg(not(loom))]
impl<T> Ref<'_, T> {
    /// The element as stored.
    pub fn key(&self) -> &T {
        self.0.key()
    }
}

#[cfg(not(loom))]
impl<T> Deref for Ref<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        self.key()
    }
}

#[cfg(not(loom))]
impl<T: fmt::Debug> fmt::Debug for Ref<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.key().fmt(f)
    }
}

/// An element handed out by [`ShardedSet::iter`], holding its shard's read
/// lock until dropped (dashmap's `setref::multiple::RefMulti`); derefs to
/// the element.
#[cfg(not(loom))]
pub struct RefMulti<'a, T>(pub(crate) sharded::RefMulti<'a, T, ()>);

#[cfg(not(loom))]
impl<T> RefMulti<'_, T> {
    /// The element as stored.
    pub fn key(&self) -> &T {
        self.0.key()
    }
}

#[cfg(not(loom))]
impl<T> Deref for RefMulti<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        self.key()
    }
}

#[cfg(not(loom))]
impl<T: fmt::Debug> fmt::Debug for RefMulti<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.key().fmt(f)
    }
}

/// The iterator of [`ShardedSet::iter`]: one shard read-locked at a time,
/// as [`sharded::Iter`].
#[cfg(not(loom))]
pub struct Iter<'a, T, S = DefaultHashBuilder>(sharded::Iter<'a, T, (), S>);

#[cfg(not(loom))]
impl<'a, T: Eq + Hash, S: BuildHasher> Iterator for Iter<'a, T, S> {
    type Item = RefMulti<'a, T>;
    fn next(&mut self) -> Option<RefMulti<'a, T>> {
        self.0.next().map(RefMulti)
    }
}

impl<T: Eq + Hash, S: BuildHasher> Extend<T> for &ShardedSet<T, S> {
    fn extend<I: IntoIterator<Item = T>>(&mut self, iter: I) {
        for value in iter {
            self.insert(value);
        }
    }
}

impl<T: Eq + Hash, S: BuildHasher + Clone + Default> FromIterator<T> for ShardedSet<T, S> {
    fn from_iter<I: IntoIterator<Item = T>>(iter: I) -> Self {
        let set = ShardedSet::with_hasher(S::default());
        (&set).extend(iter);
        set
    }
}

#[cfg(feature = "serde")]
impl<T: serde::Serialize, S> serde::Serialize for ShardedSet<T, S> {
    /// A sequence, from a snapshot under every shard's read lock.
    fn serialize<Ser: serde::Serializer>(&self, serializer: Ser) -> Result<Ser::Ok, Ser::Error> {
        let view = self.map.read_all();
        serializer.collect_seq(view.iter().map(|(k, ())| k))
    }
}

#[cfg(feature = "serde")]
impl<'de, T, S> serde::Deserialize<'de> for ShardedSet<T, S>
where
    T: serde::Deserialize<'de> + Eq + Hash,
    S: BuildHasher + Clone + Default,
{
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let elements = gomap::HashSet::<T, S>::deserialize(deserializer)?;
        Ok(elements.into_iter().collect())
    }
}
