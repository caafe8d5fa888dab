//! [`ShardedSet`]: a concurrent set, a [`ShardedMap`] of `T → ()`.
//!
//! Every method takes the same locks as its map twin: one shard's lock for
//! a key's operation, every shard's lock at once for
//! [`clear`](ShardedSet::clear) and [`iter`](ShardedSet::iter), one shard at
//! a time for [`retain`](ShardedSet::retain).

use std::borrow::Borrow;
use std::fmt;
use std::hash::{BuildHasher, Hash};

use gomap::{DefaultHashBuilder, MemStats};

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
    map: ShardedMap<T, (), S>,
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

    /// The elements of the whole set at one instant, cloned under every
    /// shard's read lock (released before this returns).
    pub fn iter(&self) -> impl Iterator<Item = T>
    where
        T: Clone,
    {
        self.map.iter().map(|(k, ())| k)
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

impl<T: fmt::Debug + Clone, S> fmt::Debug for ShardedSet<T, S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_set().entries(self.iter()).finish()
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
