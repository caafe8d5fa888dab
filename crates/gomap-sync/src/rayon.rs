//! Feature `rayon`: parallel iteration over [`ShardedMap`] and
//! [`ShardedSet`], parallel to the shards — one shard per task, each task
//! holding that shard's lock while it hands out the shard's items (as
//! dashmap's `rayon` module does) — and `ParallelExtend` /
//! `FromParallelIterator`, which insert from every rayon thread through
//! `&self` (each insert one shard lock, observed as any insert).
//!
//! The lock rules are the sequential iterators': an item of
//! [`par_iter`](ShardedMap::par_iter) holds its shard's read lock, an item
//! of [`par_iter_mut`](ShardedMap::par_iter_mut) its shard's write lock,
//! until dropped; calling the map from inside the closures of the same
//! parallel iteration can deadlock. Use the items inside the parallel
//! closures (`for_each`, `map`, `sum`, …): items collected past their task
//! hold their shards' locks in no particular order, and then an
//! all-shards operation on another thread (`clear`, `take`, `read_all`, …),
//! which holds the shards below the one it waits for, can block the tasks
//! still to run — a deadlock. Nested rayon work inside those closures can
//! deadlock too: while it waits, the worker may steal a task of another
//! parallel operation on the same map that needs the shard it holds, and
//! the locks are not reentrant. The feature turns on parking_lot's
//! `send_guard`, so an item (and the lock it holds) may be dropped on
//! another thread than the one that took it.
//!
//! ```
//! use rayon::prelude::*;
//! use gomap_sync::ShardedMap;
//!
//! let map: ShardedMap<u64, u64> = (0..1_000u64).into_par_iter().map(|k| (k, k)).collect();
//! map.par_iter_mut().for_each(|mut r| *r *= 2);
//! let sum: u64 = map.par_iter().map(|r| *r).sum();
//! assert_eq!(sum, 999 * 1_000);
//! ```

use std::hash::{BuildHasher, Hash};

use gomap::{DefaultHashBuilder, HashMap};
use rayon::iter::plumbing::UnindexedConsumer;
use rayon::iter::{FromParallelIterator, IntoParallelIterator, ParallelExtend, ParallelIterator};

use crate::sharded::{iter, iter_mut, RefMulti, RefMutMulti, Shard};
use crate::sharded_set;
use crate::{ShardedMap, ShardedSet};

/// The parallel iterator of [`ShardedMap::par_iter`]: every pair as a
/// [`RefMulti`], one shard per task.
#[cfg_attr(docsrs, doc(cfg(feature = "rayon")))]
pub struct Iter<'a, K, V, S = DefaultHashBuilder> {
    shards: &'a [Shard<K, V, S>],
}

#[cfg_attr(docsrs, doc(cfg(feature = "rayon")))]
impl<'a, K, V, S> ParallelIterator for Iter<'a, K, V, S>
where
    K: Eq + Hash + Send + Sync,
    V: Send + Sync,
    S: BuildHasher + Send + Sync,
{
    type Item = RefMulti<'a, K, V>;

    fn drive_unindexed<C: UnindexedConsumer<Self::Item>>(self, consumer: C) -> C::Result {
        self.shards
            .into_par_iter()
            .flat_map_iter(|shard| iter::shard_items(&shard.0))
            .drive_unindexed(consumer)
    }
}

/// The parallel iterator of [`ShardedMap::par_iter_mut`]: every pair as a
/// [`RefMutMulti`], one shard per task.
#[cfg_attr(docsrs, doc(cfg(feature = "rayon")))]
pub struct IterMut<'a, K, V, S = DefaultHashBuilder> {
    map: &'a ShardedMap<K, V, S>,
}

#[cfg_attr(docsrs, doc(cfg(feature = "rayon")))]
impl<'a, K, V, S> ParallelIterator for IterMut<'a, K, V, S>
where
    K: Eq + Hash + Send + Sync,
    V: Send + Sync,
    S: BuildHasher + Send + Sync,
{
    type Item = RefMutMulti<'a, K, V, S>;

    fn drive_unindexed<C: UnindexedConsumer<Self::Item>>(self, consumer: C) -> C::Result {
        let map = self.map;
        (0..map.shard_amount())
            .into_par_iter()
            .flat_map_iter(move |index| iter_mut::lend_shard(map, index))
            .drive_unindexed(consumer)
    }
}

/// The parallel iterator of `ShardedMap::into_par_iter`: every pair,
/// owned, one shard per task.
#[cfg_attr(docsrs, doc(cfg(feature = "rayon")))]
pub struct OwningIter<K, V, S = DefaultHashBuilder> {
    shards: Vec<HashMap<K, V, S>>,
}

#[cfg_attr(docsrs, doc(cfg(feature = "rayon")))]
impl<K: Send, V: Send, S: Send> ParallelIterator for OwningIter<K, V, S> {
    type Item = (K, V);

    fn drive_unindexed<C: UnindexedConsumer<Self::Item>>(self, consumer: C) -> C::Result {
        self.shards
            .into_par_iter()
            .flat_map_iter(|shard| shard)
            .drive_unindexed(consumer)
    }
}

#[cfg_attr(docsrs, doc(cfg(feature = "rayon")))]
impl<K, V, S> ShardedMap<K, V, S>
where
    K: Eq + Hash + Send + Sync,
    V: Send + Sync,
    S: BuildHasher + Send + Sync,
{
    /// Every pair in parallel, one shard per task; each item holds its
    /// shard's read lock until dropped (see the [module docs](self)).
    pub fn par_iter(&self) -> Iter<'_, K, V, S> {
        Iter {
            shards: &self.shards,
        }
    }

    /// Every pair in parallel under its shard's write lock, one shard per
    /// task, as [`iter_mut`](ShardedMap::iter_mut) does it (the shard's
    /// pairs lent out in place); each shard is observed when its last
    /// item is dropped.
    pub fn par_iter_mut(&self) -> IterMut<'_, K, V, S> {
        IterMut { map: self }
    }
}

#[cfg_attr(docsrs, doc(cfg(feature = "rayon")))]
impl<'a, K, V, S> IntoParallelIterator for &'a ShardedMap<K, V, S>
where
    K: Eq + Hash + Send + Sync,
    V: Send + Sync,
    S: BuildHasher + Send + Sync,
{
    type Iter = Iter<'a, K, V, S>;
    type Item = RefMulti<'a, K, V>;

    fn into_par_iter(self) -> Self::Iter {
        self.par_iter()
    }
}

#[cfg_attr(docsrs, doc(cfg(feature = "rayon")))]
impl<K: Send, V: Send, S: Send> IntoParallelIterator for ShardedMap<K, V, S> {
    type Iter = OwningIter<K, V, S>;
    type Item = (K, V);

    /// Every pair, owned; the map's locks are gone with it, so none is
    /// taken.
    fn into_par_iter(self) -> Self::Iter {
        OwningIter {
            shards: self.into_shards(),
        }
    }
}

#[cfg_attr(docsrs, doc(cfg(feature = "rayon")))]
impl<K, V, S> ParallelExtend<(K, V)> for &ShardedMap<K, V, S>
where
    K: Eq + Hash + Send + Sync,
    V: Send + Sync,
    S: BuildHasher + Send + Sync,
{
    /// Inserts from every rayon thread, one shard lock per insert.
    fn par_extend<I: IntoParallelIterator<Item = (K, V)>>(&mut self, pairs: I) {
        let map: &ShardedMap<K, V, S> = self;
        pairs.into_par_iter().for_each(move |(k, v)| {
            map.insert(k, v);
        });
    }
}

#[cfg_attr(docsrs, doc(cfg(feature = "rayon")))]
impl<K, V, S> ParallelExtend<(K, V)> for ShardedMap<K, V, S>
where
    K: Eq + Hash + Send + Sync,
    V: Send + Sync,
    S: BuildHasher + Send + Sync,
{
    /// As for `&ShardedMap`: inserts from every rayon thread, observed.
    fn par_extend<I: IntoParallelIterator<Item = (K, V)>>(&mut self, pairs: I) {
        (&*self).par_extend(pairs);
    }
}

#[cfg_attr(docsrs, doc(cfg(feature = "rayon")))]
impl<K, V, S> FromParallelIterator<(K, V)> for ShardedMap<K, V, S>
where
    K: Eq + Hash + Send + Sync,
    V: Send + Sync,
    S: BuildHasher + Clone + Default + Send + Sync,
{
    fn from_par_iter<I: IntoParallelIterator<Item = (K, V)>>(pairs: I) -> Self {
        let map = ShardedMap::with_hasher(S::default());
        (&map).par_extend(pairs);
        map
    }
}

/// The parallel iterator of [`ShardedSet::par_iter`]: every element as a
/// [`sharded_set::RefMulti`], one shard per task.
#[cfg_attr(docsrs, doc(cfg(feature = "rayon")))]
pub struct SetIter<'a, T, S = DefaultHashBuilder> {
    inner: Iter<'a, T, (), S>,
}

#[cfg_attr(docsrs, doc(cfg(feature = "rayon")))]
impl<'a, T, S> ParallelIterator for SetIter<'a, T, S>
where
    T: Eq + Hash + Send + Sync,
    S: BuildHasher + Send + Sync,
{
    type Item = sharded_set::RefMulti<'a, T>;

    fn drive_unindexed<C: UnindexedConsumer<Self::Item>>(self, consumer: C) -> C::Result {
        self.inner
            .map(sharded_set::RefMulti)
            .drive_unindexed(consumer)
    }
}

/// The parallel iterator of `ShardedSet::into_par_iter`: every element,
/// owned, one shard per task.
#[cfg_attr(docsrs, doc(cfg(feature = "rayon")))]
pub struct SetOwningIter<T, S = DefaultHashBuilder> {
    inner: OwningIter<T, (), S>,
}

#[cfg_attr(docsrs, doc(cfg(feature = "rayon")))]
impl<T: Send, S: Send> ParallelIterator for SetOwningIter<T, S> {
    type Item = T;

    fn drive_unindexed<C: UnindexedConsumer<T>>(self, consumer: C) -> C::Result {
        self.inner.map(|(k, ())| k).drive_unindexed(consumer)
    }
}

#[cfg_attr(docsrs, doc(cfg(feature = "rayon")))]
impl<T, S> ShardedSet<T, S>
where
    T: Eq + Hash + Send + Sync,
    S: BuildHasher + Send + Sync,
{
    /// Every element in parallel, one shard per task; each item holds its
    /// shard's read lock until dropped.
    ///
    /// ```
    /// use rayon::prelude::*;
    ///
    /// let set: gomap_sync::ShardedSet<u32> = (0..100u32).into_par_iter().collect();
    /// assert_eq!(set.par_iter().map(|r| *r).sum::<u32>(), 4950);
    /// ```
    pub fn par_iter(&self) -> SetIter<'_, T, S> {
        SetIter {
            inner: self.map.par_iter(),
        }
    }
}

#[cfg_attr(docsrs, doc(cfg(feature = "rayon")))]
impl<'a, T, S> IntoParallelIterator for &'a ShardedSet<T, S>
where
    T: Eq + Hash + Send + Sync,
    S: BuildHasher + Send + Sync,
{
    type Iter = SetIter<'a, T, S>;
    type Item = sharded_set::RefMulti<'a, T>;

    fn into_par_iter(self) -> Self::Iter {
        self.par_iter()
    }
}

#[cfg_attr(docsrs, doc(cfg(feature = "rayon")))]
impl<T: Send, S: Send> IntoParallelIterator for ShardedSet<T, S> {
    type Iter = SetOwningIter<T, S>;
    type Item = T;

    fn into_par_iter(self) -> Self::Iter {
        SetOwningIter {
            inner: self.map.into_par_iter(),
        }
    }
}

#[cfg_attr(docsrs, doc(cfg(feature = "rayon")))]
impl<T, S> ParallelExtend<T> for &ShardedSet<T, S>
where
    T: Eq + Hash + Send + Sync,
    S: BuildHasher + Send + Sync,
{
    /// Inserts from every rayon thread, one shard lock per insert.
    fn par_extend<I: IntoParallelIterator<Item = T>>(&mut self, elements: I) {
        let set: &ShardedSet<T, S> = self;
        elements.into_par_iter().for_each(move |element| {
            set.insert(element);
        });
    }
}

#[cfg_attr(docsrs, doc(cfg(feature = "rayon")))]
impl<T, S> ParallelExtend<T> for ShardedSet<T, S>
where
    T: Eq + Hash + Send + Sync,
    S: BuildHasher + Send + Sync,
{
    /// As for `&ShardedSet`.
    fn par_extend<I: IntoParallelIterator<Item = T>>(&mut self, elements: I) {
        (&*self).par_extend(elements);
    }
}

#[cfg_attr(docsrs, doc(cfg(feature = "rayon")))]
impl<T, S> FromParallelIterator<T> for ShardedSet<T, S>
where
    T: Eq + Hash + Send + Sync,
    S: BuildHasher + Clone + Default + Send + Sync,
{
    fn from_par_iter<I: IntoParallelIterator<Item = T>>(elements: I) -> Self {
        let set = ShardedSet::with_hasher(S::default());
        (&set).par_extend(elements);
        set
    }
}
