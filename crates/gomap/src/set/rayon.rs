//! Parallel iteration over a [`HashSet`] with rayon (feature `rayon`), as
//! hashbrown's `rayon` feature offers it: `par_iter()` and
//! `into_par_iter()` (with `rayon::prelude::*` in scope),
//! [`par_drain`](HashSet::par_drain), the set operations
//! ([`par_difference`](HashSet::par_difference) and its kin) and
//! predicates, collecting and extending. Built on the map's parallel
//! iterators, which split the bucket arrays across rayon's threads.
//!
//! ```
//! use gomap::HashSet;
//! use rayon::prelude::*;
//!
//! let evens: HashSet<u32> = (0..1_000).into_par_iter().filter(|n| n % 2 == 0).collect();
//! let small: HashSet<u32> = (0..10).collect();
//! assert_eq!(small.par_intersection(&evens).count(), 5);
//! assert_eq!(evens.par_iter().max(), Some(&998));
//! ```

#![cfg_attr(docsrs, doc(cfg(feature = "rayon")))]

use super::HashSet;
use crate::map::rayon as map;
use allocator_api2::alloc::{Allocator, Global};
use core::hash::{BuildHasher, Hash};
use rayon::iter::plumbing::UnindexedConsumer;
use rayon::iter::{
    FromParallelIterator, IntoParallelIterator, IntoParallelRefIterator, ParallelExtend,
    ParallelIterator,
};

/// A parallel iterator over a set's elements: from `par_iter()` (rayon's
/// `IntoParallelRefIterator`).
#[cfg_attr(docsrs, doc(cfg(feature = "rayon")))]
pub struct ParIter<'a, T> {
    inner: map::ParKeys<'a, T, ()>,
}

impl<T> Clone for ParIter<'_, T> {
    fn clone(&self) -> Self {
        ParIter {
            inner: self.inner.clone(),
        }
    }
}

impl<'a, T: Sync> ParallelIterator for ParIter<'a, T> {
    type Item = &'a T;

    fn drive_unindexed<C: UnindexedConsumer<Self::Item>>(self, consumer: C) -> C::Result {
        self.inner.drive_unindexed(consumer)
    }
}

/// A parallel iterator moving every element out of a set it owns: from
/// `into_par_iter()`.
#[cfg_attr(docsrs, doc(cfg(feature = "rayon")))]
pub struct IntoParIter<T, A: Allocator = Global> {
    inner: map::IntoParIter<T, (), A>,
}

impl<T: Send, A: Allocator + Send> ParallelIterator for IntoParIter<T, A> {
    type Item = T;

    fn drive_unindexed<C: UnindexedConsumer<Self::Item>>(self, consumer: C) -> C::Result {
        self.inner.map(|(t, ())| t).drive_unindexed(consumer)
    }
}

/// A parallel iterator removing every element of a set, from
/// [`par_drain`](HashSet::par_drain); as the map's
/// [`ParDrain`](crate::hash_map::rayon::ParDrain).
#[cfg_attr(docsrs, doc(cfg(feature = "rayon")))]
pub struct ParDrain<'a, T, A: Allocator = Global> {
    inner: map::ParDrain<'a, T, (), A>,
}

impl<T: Send, A: Allocator + Send> ParallelIterator for ParDrain<'_, T, A> {
    type Item = T;

    fn drive_unindexed<C: UnindexedConsumer<Self::Item>>(self, consumer: C) -> C::Result {
        self.inner.map(|(t, ())| t).drive_unindexed(consumer)
    }
}

/// The elements of one set that are not in another, in parallel: from
/// [`par_difference`](HashSet::par_difference).
#[cfg_attr(docsrs, doc(cfg(feature = "rayon")))]
pub struct ParDifference<'a, T, S, A: Allocator = Global> {
    a: &'a HashSet<T, S, A>,
    b: &'a HashSet<T, S, A>,
}

/// The elements in both sets, in parallel: from
/// [`par_intersection`](HashSet::par_intersection).
#[cfg_attr(docsrs, doc(cfg(feature = "rayon")))]
pub struct ParIntersection<'a, T, S, A: Allocator = Global> {
    a: &'a HashSet<T, S, A>,
    b: &'a HashSet<T, S, A>,
}

/// The elements in exactly one of two sets, in parallel: from
/// [`par_symmetric_difference`](HashSet::par_symmetric_difference).
#[cfg_attr(docsrs, doc(cfg(feature = "rayon")))]
pub struct ParSymmetricDifference<'a, T, S, A: Allocator = Global> {
    a: &'a HashSet<T, S, A>,
    b: &'a HashSet<T, S, A>,
}

/// The elements in either set, each once, in parallel: from
/// [`par_union`](HashSet::par_union).
#[cfg_attr(docsrs, doc(cfg(feature = "rayon")))]
pub struct ParUnion<'a, T, S, A: Allocator = Global> {
    a: &'a HashSet<T, S, A>,
    b: &'a HashSet<T, S, A>,
}

macro_rules! set_operation {
    ($name:ident, |$a:ident, $b:ident| $body:expr) => {
        impl<'a, T, S, A> ParallelIterator for $name<'a, T, S, A>
        where
            T: Eq + Hash + Sync,
            S: BuildHasher + Sync,
            A: Allocator + Sync,
        {
            type Item = &'a T;

            fn drive_unindexed<C: UnindexedConsumer<Self::Item>>(self, consumer: C) -> C::Result {
                let ($a, $b) = (self.a, self.b);
                $body.drive_unindexed(consumer)
            }
        }
    };
}

set_operation!(ParDifference, |a, b| a
    .par_iter()
    .filter(move |t| !b.contains(*t)));
set_operation!(ParIntersection, |a, b| a
    .par_iter()
    .filter(move |t| b.contains(*t)));
set_operation!(ParSymmetricDifference, |a, b| a
    .par_difference(b)
    .chain(b.par_difference(a)));
set_operation!(ParUnion, |a, b| a.par_iter().chain(b.par_difference(a)));

impl<T, S, A> HashSet<T, S, A>
where
    T: Eq + Hash + Sync,
    S: BuildHasher + Sync,
    A: Allocator + Sync,
{
    /// The elements of `self` not in `other`, in parallel.
    #[cfg_attr(docsrs, doc(cfg(feature = "rayon")))]
    pub fn par_difference<'a>(&'a self, other: &'a Self) -> ParDifference<'a, T, S, A> {
        ParDifference { a: self, b: other }
    }

    /// The elements in both sets, in parallel.
    #[cfg_attr(docsrs, doc(cfg(feature = "rayon")))]
    pub fn par_intersection<'a>(&'a self, other: &'a Self) -> ParIntersection<'a, T, S, A> {
        ParIntersection { a: self, b: other }
    }

    /// The elements in exactly one of the sets, in parallel.
    #[cfg_attr(docsrs, doc(cfg(feature = "rayon")))]
    pub fn par_symmetric_difference<'a>(
        &'a self,
        other: &'a Self,
    ) -> ParSymmetricDifference<'a, T, S, A> {
        ParSymmetricDifference { a: self, b: other }
    }

    /// The elements in either set, each once, in parallel.
    #[cfg_attr(docsrs, doc(cfg(feature = "rayon")))]
    pub fn par_union<'a>(&'a self, other: &'a Self) -> ParUnion<'a, T, S, A> {
        ParUnion { a: self, b: other }
    }

    /// Whether the sets share no element, checked in parallel.
    #[cfg_attr(docsrs, doc(cfg(feature = "rayon")))]
    pub fn par_is_disjoint(&self, other: &Self) -> bool {
        self.par_iter().all(|t| !other.contains(t))
    }

    /// Whether every element of `self` is in `other`, checked in parallel.
    #[cfg_attr(docsrs, doc(cfg(feature = "rayon")))]
    pub fn par_is_subset(&self, other: &Self) -> bool {
        self.len() <= other.len() && self.par_iter().all(|t| other.contains(t))
    }

    /// Whether every element of `other` is in `self`, checked in parallel.
    #[cfg_attr(docsrs, doc(cfg(feature = "rayon")))]
    pub fn par_is_superset(&self, other: &Self) -> bool {
        other.par_is_subset(self)
    }

    /// Whether the sets hold the same elements, checked in parallel.
    #[cfg_attr(docsrs, doc(cfg(feature = "rayon")))]
    pub fn par_eq(&self, other: &Self) -> bool {
        self.len() == other.len() && self.par_is_subset(other)
    }
}

impl<T: Send, S, A: Allocator> HashSet<T, S, A> {
    /// Removes every element, handing them out in parallel; the set keeps
    /// its bucket array.
    ///
    /// ```
    /// use rayon::prelude::*;
    ///
    /// let mut set: gomap::HashSet<u32> = (0..1_000).collect();
    /// assert_eq!(set.par_drain().count(), 1_000);
    /// assert!(set.is_empty());
    /// ```
    #[cfg_attr(docsrs, doc(cfg(feature = "rayon")))]
    pub fn par_drain(&mut self) -> ParDrain<'_, T, A> {
        ParDrain {
            inner: self.map.par_drain(),
        }
    }
}

#[cfg_attr(docsrs, doc(cfg(feature = "rayon")))]
impl<'a, T: Sync, S, A: Allocator> IntoParallelIterator for &'a HashSet<T, S, A> {
    type Item = &'a T;
    type Iter = ParIter<'a, T>;

    fn into_par_iter(self) -> ParIter<'a, T> {
        ParIter {
            inner: self.map.par_keys(),
        }
    }
}

#[cfg_attr(docsrs, doc(cfg(feature = "rayon")))]
impl<T: Send, S, A: Allocator + Send> IntoParallelIterator for HashSet<T, S, A> {
    type Item = T;
    type Iter = IntoParIter<T, A>;

    fn into_par_iter(self) -> IntoParIter<T, A> {
        IntoParIter {
            inner: self.map.into_par_iter(),
        }
    }
}

#[cfg_attr(docsrs, doc(cfg(feature = "rayon")))]
impl<T, S, A> ParallelExtend<T> for HashSet<T, S, A>
where
    T: Eq + Hash + Send,
    S: BuildHasher,
    A: Allocator,
{
    /// Collects in parallel into per-thread batches, then inserts on this
    /// thread, as the map's `par_extend` does.
    fn par_extend<I: IntoParallelIterator<Item = T>>(&mut self, items: I) {
        self.map.par_extend(items.into_par_iter().map(|t| (t, ())));
    }
}

#[cfg_attr(docsrs, doc(cfg(feature = "rayon")))]
impl<'a, T, S, A> ParallelExtend<&'a T> for HashSet<T, S, A>
where
    T: Eq + Hash + Copy + Send + Sync + 'a,
    S: BuildHasher,
    A: Allocator,
{
    /// As the owned `par_extend`, copying each element.
    fn par_extend<I: IntoParallelIterator<Item = &'a T>>(&mut self, items: I) {
        self.par_extend(items.into_par_iter().copied());
    }
}

#[cfg_attr(docsrs, doc(cfg(feature = "rayon")))]
impl<T, S> FromParallelIterator<T> for HashSet<T, S>
where
    T: Eq + Hash + Send,
    S: BuildHasher + Default,
{
    /// A new set of the items, collected as `par_extend` does.
    fn from_par_iter<I: IntoParallelIterator<Item = T>>(items: I) -> Self {
        let mut set = HashSet::with_hasher(S::default());
        set.par_extend(items);
        set
    }
}
