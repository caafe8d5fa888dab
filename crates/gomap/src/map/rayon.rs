//! Parallel iteration over a [`HashMap`] with rayon (feature `rayon`), as
//! hashbrown's `rayon` feature offers it.
//!
//! With `rayon::prelude::*` in scope, `map.par_iter()` and
//! `map.par_iter_mut()` (rayon's `IntoParallelRefIterator` and
//! `IntoParallelRefMutIterator`, from the `IntoParallelIterator` impls for
//! `&HashMap` and `&mut HashMap`) and `map.into_par_iter()` work as for a
//! `Vec`; [`par_keys`](HashMap::par_keys),
//! [`par_values`](HashMap::par_values),
//! [`par_values_mut`](HashMap::par_values_mut) and
//! [`par_drain`](HashMap::par_drain) are methods of the map. A map also
//! collects from a parallel iterator and extends from one (in parallel
//! into per-thread batches, then inserted on the calling thread).
//!
//! The bucket arrays are split across rayon's threads — both of them while
//! a grow or shrink is running — so every entry is visited exactly once,
//! as the serial iterators do. The order is unspecified.
//!
//! ```
//! use gomap::HashMap;
//! use rayon::prelude::*;
//!
//! let mut map: HashMap<u32, u64> = (0..10_000).map(|i| (i, u64::from(i))).collect();
//! let total: u64 = map.par_iter().map(|(_, v)| v).sum();
//! assert_eq!(total, (0..10_000u64).sum());
//! map.par_values_mut().for_each(|v| *v *= 2);
//! let doubled: HashMap<u32, u64> = map.into_par_iter().collect();
//! assert_eq!(doubled[&21], 42);
//! ```

#![cfg_attr(docsrs, doc(cfg(feature = "rayon")))]

use super::HashMap;
use crate::raw::{RawParDrain, RawParIter, RawParIterMut, RawTable};
use allocator_api2::alloc::{Allocator, Global};
use core::hash::{BuildHasher, Hash};
use rayon::iter::plumbing::UnindexedConsumer;
use rayon::iter::{FromParallelIterator, IntoParallelIterator, ParallelExtend, ParallelIterator};
use std::collections::LinkedList;
use std::vec::Vec;

/// A parallel iterator over a map's entries, as `(&K, &V)`: from
/// `par_iter()` (rayon's `IntoParallelRefIterator`).
#[cfg_attr(docsrs, doc(cfg(feature = "rayon")))]
pub struct ParIter<'a, K, V> {
    inner: RawParIter<'a, K, V>,
}

impl<K, V> Clone for ParIter<'_, K, V> {
    fn clone(&self) -> Self {
        ParIter {
            inner: self.inner.clone(),
        }
    }
}

impl<'a, K: Sync, V: Sync> ParallelIterator for ParIter<'a, K, V> {
    type Item = (&'a K, &'a V);

    fn drive_unindexed<C: UnindexedConsumer<Self::Item>>(self, consumer: C) -> C::Result {
        rayon::iter::plumbing::bridge_unindexed(self.inner, consumer)
    }
}

/// A parallel iterator over a map's keys, from
/// [`par_keys`](HashMap::par_keys).
#[cfg_attr(docsrs, doc(cfg(feature = "rayon")))]
pub struct ParKeys<'a, K, V> {
    inner: ParIter<'a, K, V>,
}

impl<K, V> Clone for ParKeys<'_, K, V> {
    fn clone(&self) -> Self {
        ParKeys {
            inner: self.inner.clone(),
        }
    }
}

impl<'a, K: Sync, V: Sync> ParallelIterator for ParKeys<'a, K, V> {
    type Item = &'a K;

    fn drive_unindexed<C: UnindexedConsumer<Self::Item>>(self, consumer: C) -> C::Result {
        self.inner.map(|(k, _)| k).drive_unindexed(consumer)
    }
}

/// A parallel iterator over a map's values, from
/// [`par_values`](HashMap::par_values).
#[cfg_attr(docsrs, doc(cfg(feature = "rayon")))]
pub struct ParValues<'a, K, V> {
    inner: ParIter<'a, K, V>,
}

impl<K, V> Clone for ParValues<'_, K, V> {
    fn clone(&self) -> Self {
        ParValues {
            inner: self.inner.clone(),
        }
    }
}

impl<'a, K: Sync, V: Sync> ParallelIterator for ParValues<'a, K, V> {
    type Item = &'a V;

    fn drive_unindexed<C: UnindexedConsumer<Self::Item>>(self, consumer: C) -> C::Result {
        self.inner.map(|(_, v)| v).drive_unindexed(consumer)
    }
}

/// A parallel iterator over a map's entries, as `(&K, &mut V)`: from
/// `par_iter_mut()` (rayon's `IntoParallelRefMutIterator`).
///
/// Owned bytes (see [`HashMap::track_owned_bytes`]) stay exact: every
/// value is measured again at the map's next write or
/// [`owned_bytes`](HashMap::owned_bytes) call, as after
/// [`iter_mut`](HashMap::iter_mut), so the threads never touch the figure.
#[cfg_attr(docsrs, doc(cfg(feature = "rayon")))]
pub struct ParIterMut<'a, K, V> {
    inner: RawParIterMut<'a, K, V>,
}

impl<'a, K: Sync, V: Send> ParallelIterator for ParIterMut<'a, K, V> {
    type Item = (&'a K, &'a mut V);

    fn drive_unindexed<C: UnindexedConsumer<Self::Item>>(self, consumer: C) -> C::Result {
        rayon::iter::plumbing::bridge_unindexed(self.inner, consumer)
    }
}

/// A parallel iterator over a map's values, mutably, from
/// [`par_values_mut`](HashMap::par_values_mut). Owned bytes stay exact, as
/// for [`ParIterMut`].
#[cfg_attr(docsrs, doc(cfg(feature = "rayon")))]
pub struct ParValuesMut<'a, K, V> {
    inner: ParIterMut<'a, K, V>,
}

impl<'a, K: Sync, V: Send> ParallelIterator for ParValuesMut<'a, K, V> {
    type Item = &'a mut V;

    fn drive_unindexed<C: UnindexedConsumer<Self::Item>>(self, consumer: C) -> C::Result {
        self.inner.map(|(_, v)| v).drive_unindexed(consumer)
    }
}

/// A parallel iterator moving every entry out of a map it owns: from
/// `into_par_iter()`. Entries a consumer stops short of (or leaves behind
/// when it panics) are dropped with the map's table.
#[cfg_attr(docsrs, doc(cfg(feature = "rayon")))]
pub struct IntoParIter<K, V, A: Allocator = Global> {
    table: RawTable<K, V, A>,
}

impl<K: Send, V: Send, A: Allocator + Send> ParallelIterator for IntoParIter<K, V, A> {
    type Item = (K, V);

    fn drive_unindexed<C: UnindexedConsumer<Self::Item>>(self, consumer: C) -> C::Result {
        let mut table = self.table;
        RawParDrain::consuming(&mut table).drive(consumer)
    }
}

/// A parallel iterator removing every entry of a map, from
/// [`par_drain`](HashMap::par_drain). The map keeps its bucket array, as
/// after [`drain`](HashMap::drain). When it is dropped — driven or not,
/// also while a consumer's panic unwinds — the entries not handed out are
/// dropped and the map is empty. Leaked with `mem::forget`, it leaves them
/// in the map, with its owned bytes (if tracked) read as 0 until tracking
/// is started again, as a leaked [`Drain`](crate::hash_map::Drain) does.
#[cfg_attr(docsrs, doc(cfg(feature = "rayon")))]
pub struct ParDrain<'a, K, V, A: Allocator = Global> {
    inner: RawParDrain<'a, K, V, A>,
}

impl<K: Send, V: Send, A: Allocator + Send> ParallelIterator for ParDrain<'_, K, V, A> {
    type Item = (K, V);

    fn drive_unindexed<C: UnindexedConsumer<Self::Item>>(self, consumer: C) -> C::Result {
        self.inner.drive(consumer)
    }
}

impl<K, V, A: Allocator> ParDrain<'_, K, V, A> {
    /// Entries still in the map.
    pub fn len(&self) -> usize {
        self.inner.len()
    }

    /// Whether the map is already empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl<K: Sync, V: Sync, S, A: Allocator> HashMap<K, V, S, A> {
    /// A parallel iterator over the keys.
    ///
    /// ```
    /// use rayon::prelude::*;
    ///
    /// let map: gomap::HashMap<u32, ()> = (1..=100).map(|k| (k, ())).collect();
    /// assert_eq!(map.par_keys().max(), Some(&100));
    /// ```
    #[cfg_attr(docsrs, doc(cfg(feature = "rayon")))]
    pub fn par_keys(&self) -> ParKeys<'_, K, V> {
        ParKeys {
            inner: self.into_par_iter(),
        }
    }

    /// A parallel iterator over the values.
    ///
    /// ```
    /// use rayon::prelude::*;
    ///
    /// let map: gomap::HashMap<u32, u32> = (1..=100).map(|k| (k, 2 * k)).collect();
    /// assert_eq!(map.par_values().sum::<u32>(), 10_100);
    /// ```
    #[cfg_attr(docsrs, doc(cfg(feature = "rayon")))]
    pub fn par_values(&self) -> ParValues<'_, K, V> {
        ParValues {
            inner: self.into_par_iter(),
        }
    }
}

impl<K: Sync, V: Send, S, A: Allocator> HashMap<K, V, S, A> {
    /// A parallel iterator over the values, mutably.
    ///
    /// ```
    /// use rayon::prelude::*;
    ///
    /// let mut map: gomap::HashMap<u32, u32> = (1..=100).map(|k| (k, k)).collect();
    /// map.par_values_mut().for_each(|v| *v += 1);
    /// assert_eq!(map[&100], 101);
    /// ```
    #[cfg_attr(docsrs, doc(cfg(feature = "rayon")))]
    pub fn par_values_mut(&mut self) -> ParValuesMut<'_, K, V> {
        ParValuesMut {
            inner: self.into_par_iter(),
        }
    }
}

impl<K: Send, V: Send, S, A: Allocator> HashMap<K, V, S, A> {
    /// Removes every entry, handing them out in parallel; the map keeps
    /// its bucket array (see [`ParDrain`]).
    ///
    /// ```
    /// use rayon::prelude::*;
    ///
    /// let mut map: gomap::HashMap<u32, u32> = (0..1_000).map(|k| (k, k)).collect();
    /// let mut drained: Vec<(u32, u32)> = map.par_drain().collect();
    /// drained.sort_unstable();
    /// assert_eq!(drained.len(), 1_000);
    /// assert!(map.is_empty());
    /// ```
    #[cfg_attr(docsrs, doc(cfg(feature = "rayon")))]
    pub fn par_drain(&mut self) -> ParDrain<'_, K, V, A> {
        ParDrain {
            inner: RawParDrain::new(&mut self.table),
        }
    }
}

#[cfg_attr(docsrs, doc(cfg(feature = "rayon")))]
impl<'a, K: Sync, V: Sync, S, A: Allocator> IntoParallelIterator for &'a HashMap<K, V, S, A> {
    type Item = (&'a K, &'a V);
    type Iter = ParIter<'a, K, V>;

    fn into_par_iter(self) -> ParIter<'a, K, V> {
        ParIter {
            inner: RawParIter::new(&self.table),
        }
    }
}

#[cfg_attr(docsrs, doc(cfg(feature = "rayon")))]
impl<'a, K: Sync, V: Send, S, A: Allocator> IntoParallelIterator for &'a mut HashMap<K, V, S, A> {
    type Item = (&'a K, &'a mut V);
    type Iter = ParIterMut<'a, K, V>;

    fn into_par_iter(self) -> ParIterMut<'a, K, V> {
        ParIterMut {
            inner: RawParIterMut::new(&mut self.table),
        }
    }
}

#[cfg_attr(docsrs, doc(cfg(feature = "rayon")))]
impl<K: Send, V: Send, S, A: Allocator + Send> IntoParallelIterator for HashMap<K, V, S, A> {
    type Item = (K, V);
    type Iter = IntoParIter<K, V, A>;

    fn into_par_iter(self) -> IntoParIter<K, V, A> {
        IntoParIter { table: self.table }
    }
}

/// Collects a parallel iterator into per-thread batches, in parallel.
fn collect_batches<T: Send>(items: impl ParallelIterator<Item = T>) -> (LinkedList<Vec<T>>, usize) {
    let batches = items
        .fold(Vec::new, |mut batch, item| {
            batch.push(item);
            batch
        })
        .map(|batch| LinkedList::from([batch]))
        .reduce(LinkedList::new, |mut left, mut right| {
            left.append(&mut right);
            left
        });
    let len = batches.iter().map(Vec::len).sum();
    (batches, len)
}

#[cfg_attr(docsrs, doc(cfg(feature = "rayon")))]
impl<K, V, S, A> ParallelExtend<(K, V)> for HashMap<K, V, S, A>
where
    K: Eq + Hash + Send,
    V: Send,
    S: BuildHasher,
    A: Allocator,
{
    /// Collects the items in parallel into per-thread batches, then
    /// inserts them on this thread (a map is written by one thread at a
    /// time). Room is reserved as [`Extend`] does: all of it into an empty
    /// map, half otherwise, without raising the shrink floor.
    fn par_extend<I: IntoParallelIterator<Item = (K, V)>>(&mut self, items: I) {
        let (batches, len) = collect_batches(items.into_par_iter());
        self.reserve_for_batch(len);
        for (k, v) in batches.into_iter().flatten() {
            self.insert(k, v);
        }
    }
}

#[cfg_attr(docsrs, doc(cfg(feature = "rayon")))]
impl<'a, K, V, S, A> ParallelExtend<(&'a K, &'a V)> for HashMap<K, V, S, A>
where
    K: Eq + Hash + Copy + Send + Sync,
    V: Copy + Send + Sync,
    S: BuildHasher,
    A: Allocator,
{
    /// As the owned `par_extend`, copying each pair.
    fn par_extend<I: IntoParallelIterator<Item = (&'a K, &'a V)>>(&mut self, items: I) {
        self.par_extend(items.into_par_iter().map(|(&k, &v)| (k, v)));
    }
}

#[cfg_attr(docsrs, doc(cfg(feature = "rayon")))]
impl<K, V, S> FromParallelIterator<(K, V)> for HashMap<K, V, S>
where
    K: Eq + Hash + Send,
    V: Send,
    S: BuildHasher + Default,
{
    /// A new map of the items, collected as
    /// [`par_extend`](ParallelExtend::par_extend) does (the last of equal
    /// keys in the batches' order wins).
    fn from_par_iter<I: IntoParallelIterator<Item = (K, V)>>(items: I) -> Self {
        let mut map = HashMap::with_hasher(S::default());
        map.par_extend(items);
        map
    }
}
