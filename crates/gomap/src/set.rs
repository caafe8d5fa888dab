//! [`HashSet`]: std's set API on a [`HashMap`] with `()` values.

#[cfg(feature = "rayon")]
pub mod rayon;

use crate::map::{self, Entry, HashMap};
use crate::raw::RawExtractIf;
use crate::{DefaultHashBuilder, Equivalent, MemStats, ShrinkPolicy, TryReserveError};
use allocator_api2::alloc::{Allocator, Global};
use core::fmt;
use core::hash::{BuildHasher, Hash};
use core::iter::{Chain, FusedIterator};
use core::ops::{BitAnd, BitOr, BitXor, Sub};

/// A hash set built on gomap's [`HashMap`], with std's API.
///
/// ```
/// use gomap::HashSet;
///
/// let a: HashSet<u32> = [1, 2, 3].into();
/// let b: HashSet<u32> = [2, 3, 4].into();
/// let both: HashSet<u32> = &a & &b;
/// assert_eq!(both, [2, 3].into());
/// assert!(a.contains(&1));
/// ```
pub struct HashSet<T, S = DefaultHashBuilder, A: Allocator = Global> {
    map: HashMap<T, (), S, A>,
}

impl<T> HashSet<T, DefaultHashBuilder> {
    /// An empty set; allocates nothing until the first insert.
    pub fn new() -> Self {
        HashSet {
            map: HashMap::new(),
        }
    }

    /// An empty set with room for `capacity` elements.
    pub fn with_capacity(capacity: usize) -> Self {
        HashSet {
            map: HashMap::with_capacity(capacity),
        }
    }
}

impl<T, A: Allocator> HashSet<T, DefaultHashBuilder, A> {
    /// An empty set allocating from `alloc`.
    pub fn new_in(alloc: A) -> Self {
        HashSet {
            map: HashMap::new_in(alloc),
        }
    }

    /// An empty set with room for `capacity` elements, allocating from `alloc`.
    pub fn with_capacity_in(capacity: usize, alloc: A) -> Self {
        HashSet {
            map: HashMap::with_capacity_in(capacity, alloc),
        }
    }
}

impl<T, S> HashSet<T, S> {
    /// An empty set hashing with `hasher`.
    pub const fn with_hasher(hasher: S) -> Self {
        HashSet {
            map: HashMap::with_hasher(hasher),
        }
    }

    /// An empty set with room for `capacity` elements, hashing with `hasher`.
    pub fn with_capacity_and_hasher(capacity: usize, hasher: S) -> Self {
        HashSet {
            map: HashMap::with_capacity_and_hasher(capacity, hasher),
        }
    }
}

impl<T, S, A: Allocator> HashSet<T, S, A> {
    /// An empty set hashing with `hasher`, allocating from `alloc`.
    pub const fn with_hasher_in(hasher: S, alloc: A) -> Self {
        HashSet {
            map: HashMap::with_hasher_in(hasher, alloc),
        }
    }

    /// An empty set with room for `capacity` elements, hashing with
    /// `hasher`, allocating from `alloc`.
    ///
    /// ```
    /// use gomap::{DefaultHashBuilder, Global, HashSet};
    ///
    /// let set: HashSet<u32> =
    ///     HashSet::with_capacity_and_hasher_in(100, DefaultHashBuilder::default(), Global);
    /// assert!(set.capacity() >= 100);
    /// ```
    pub fn with_capacity_and_hasher_in(capacity: usize, hasher: S, alloc: A) -> Self {
        HashSet {
            map: HashMap::with_capacity_and_hasher_in(capacity, hasher, alloc),
        }
    }

    /// Elements held before the bucket array must grow.
    pub fn capacity(&self) -> usize {
        self.map.capacity()
    }

    /// Every element, in the set's order: random per set, the same for
    /// every walk until the set is modified.
    pub fn iter(&self) -> Iter<'_, T> {
        Iter {
            inner: self.map.keys(),
        }
    }

    /// Number of elements.
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// Whether the set is empty.
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// Remove every element, handing them out; keeps the bucket array.
    pub fn drain(&mut self) -> Drain<'_, T, A> {
        Drain {
            inner: self.map.drain(),
        }
    }

    /// An iterator that removes and hands out every element for which
    /// `pred` returns true, as it is advanced; elements not reached when it
    /// is dropped stay (see [`HashMap::extract_if`]).
    ///
    /// ```
    /// let mut set: gomap::HashSet<u32> = (0..8).collect();
    /// let mut small: Vec<u32> = set.extract_if(|&v| v < 3).collect();
    /// small.sort();
    /// assert_eq!(small, [0, 1, 2]);
    /// assert_eq!(set.len(), 5);
    /// ```
    pub fn extract_if<F: FnMut(&T) -> bool>(&mut self, pred: F) -> ExtractIf<'_, T, F, A> {
        ExtractIf {
            inner: self.map.raw_extract_if(),
            pred,
        }
    }

    /// Keep the elements for which `f` returns true.
    pub fn retain<F: FnMut(&T) -> bool>(&mut self, mut f: F) {
        self.map.retain(|k, _| f(k));
    }

    /// Drop every element and keep the bucket array ([`HashMap::clear`]).
    pub fn clear(&mut self) {
        self.map.clear();
    }

    /// Drop every element and free every bucket now ([`HashMap::reset`]).
    pub fn reset(&mut self) {
        self.map.reset();
    }

    /// Keep the bytes the elements own on the heap, measured by `bytes`
    /// (see [`HashMap::track_owned_bytes`]).
    ///
    /// ```
    /// let mut names: gomap::HashSet<String> = gomap::HashSet::new();
    /// names.track_owned_bytes(String::capacity);
    /// names.insert("x".repeat(64));
    /// assert_eq!(names.owned_bytes(), Some(64));
    /// ```
    pub fn track_owned_bytes(&mut self, bytes: fn(&T) -> usize) {
        self.map.track_owned_bytes(bytes, |_| 0);
    }

    /// The bytes the elements own now, if the set keeps them.
    pub fn owned_bytes(&self) -> Option<usize> {
        self.map.owned_bytes()
    }

    /// The set's memory, exactly ([`HashMap::mem_stats`]).
    pub fn mem_stats(&self) -> MemStats {
        self.map.mem_stats()
    }

    /// The set's shrink policy.
    pub fn shrink_policy(&self) -> ShrinkPolicy {
        self.map.shrink_policy()
    }

    /// Set whether the set shrinks by itself as it empties.
    pub fn set_shrink_policy(&mut self, policy: ShrinkPolicy) {
        self.map.set_shrink_policy(policy);
    }

    /// Builder-style [`set_shrink_policy`](HashSet::set_shrink_policy).
    pub fn with_shrink_policy(mut self, policy: ShrinkPolicy) -> Self {
        self.set_shrink_policy(policy);
        self
    }

    /// The set's hasher.
    pub fn hasher(&self) -> &S {
        self.map.hasher()
    }

    /// The set's allocator.
    pub fn allocator(&self) -> &A {
        self.map.allocator()
    }
}

impl<T: Eq + Hash, S: BuildHasher, A: Allocator> HashSet<T, S, A> {
    /// Room for `additional` more elements ([`HashMap::reserve`]).
    pub fn reserve(&mut self, additional: usize) {
        self.map.reserve(additional);
    }

    /// [`reserve`](HashSet::reserve), returning an error instead; on error
    /// the set is unchanged.
    pub fn try_reserve(&mut self, additional: usize) -> Result<(), TryReserveError> {
        self.map.try_reserve(additional)
    }

    /// Smallest bucket array that holds the elements ([`HashMap::shrink_to_fit`]).
    pub fn shrink_to_fit(&mut self) {
        self.map.shrink_to_fit();
    }

    /// Shrink, keeping room for `min_capacity` elements.
    pub fn shrink_to(&mut self, min_capacity: usize) {
        self.map.shrink_to(min_capacity);
    }

    /// Complete a running migration now ([`HashMap::finish_migration`]).
    pub fn finish_migration(&mut self) {
        self.map.finish_migration();
    }

    /// Do a bounded piece of a running migration; returns whether one still
    /// runs ([`HashMap::step_migration`]).
    ///
    /// ```
    /// let mut set: gomap::HashSet<u64> = (0..100_000).collect();
    /// set.retain(|&k| k < 100);
    /// while set.step_migration(64) {}
    /// assert_eq!(set.mem_stats().migration, None);
    /// ```
    pub fn step_migration(&mut self, budget: usize) -> bool {
        self.map.step_migration(budget)
    }

    /// Elements in `self` but not in `other`.
    pub fn difference<'a>(&'a self, other: &'a Self) -> Difference<'a, T, S, A> {
        Difference {
            iter: self.iter(),
            other,
        }
    }

    /// Elements in exactly one of the two sets.
    pub fn symmetric_difference<'a>(&'a self, other: &'a Self) -> SymmetricDifference<'a, T, S, A> {
        SymmetricDifference {
            iter: self.difference(other).chain(other.difference(self)),
        }
    }

    /// Elements in both sets (walks the smaller one).
    pub fn intersection<'a>(&'a self, other: &'a Self) -> Intersection<'a, T, S, A> {
        let (small, large) = if self.len() <= other.len() {
            (self, other)
        } else {
            (other, self)
        };
        Intersection {
            iter: small.iter(),
            other: large,
        }
    }

    /// Elements in either set, each once.
    pub fn union<'a>(&'a self, other: &'a Self) -> Union<'a, T, S, A> {
        let (small, large) = if self.len() <= other.len() {
            (self, other)
        } else {
            (other, self)
        };
        Union {
            iter: large.iter().chain(small.difference(large)),
        }
    }

    /// Whether `value` is in the set.
    pub fn contains<Q: Hash + Equivalent<T> + ?Sized>(&self, value: &Q) -> bool {
        self.map.contains_key(value)
    }

    /// The stored element equal to `value`.
    pub fn get<Q: Hash + Equivalent<T> + ?Sized>(&self, value: &Q) -> Option<&T> {
        self.map.get_key_value(value).map(|(k, _)| k)
    }

    /// Whether the sets share no element.
    pub fn is_disjoint(&self, other: &Self) -> bool {
        self.intersection(other).next().is_none()
    }

    /// Whether every element of `self` is in `other`.
    pub fn is_subset(&self, other: &Self) -> bool {
        self.len() <= other.len() && self.iter().all(|v| other.contains(v))
    }

    /// Whether every element of `other` is in `self`.
    pub fn is_superset(&self, other: &Self) -> bool {
        other.is_subset(self)
    }

    /// Add `value`; returns whether it was new (an equal stored element is
    /// kept, as std does).
    pub fn insert(&mut self, value: T) -> bool {
        match self.map.entry(value) {
            Entry::Occupied(_) => false,
            Entry::Vacant(entry) => {
                entry.insert(());
                true
            }
        }
    }

    /// Add `value`, replacing and returning an equal stored element.
    pub fn replace(&mut self, value: T) -> Option<T> {
        self.map.replace_key(value, ())
    }

    /// Remove `value`; returns whether it was present.
    pub fn remove<Q: Hash + Equivalent<T> + ?Sized>(&mut self, value: &Q) -> bool {
        self.map.remove(value).is_some()
    }

    /// Remove and return the stored element equal to `value`.
    pub fn take<Q: Hash + Equivalent<T> + ?Sized>(&mut self, value: &Q) -> Option<T> {
        self.map.remove_entry(value).map(|(k, _)| k)
    }
}

impl<T, S: Default> Default for HashSet<T, S> {
    fn default() -> Self {
        HashSet {
            map: HashMap::default(),
        }
    }
}

impl<T: Clone, S: Clone, A: Allocator + Clone> Clone for HashSet<T, S, A> {
    fn clone(&self) -> Self {
        HashSet {
            map: self.map.clone(),
        }
    }

    /// Drops `self`'s elements, then clones `source`'s, reusing `self`'s
    /// bucket array when it has the right size ([`HashMap`]'s `clone_from`).
    fn clone_from(&mut self, source: &Self) {
        self.map.clone_from(&source.map);
    }
}

impl<T: fmt::Debug, S, A: Allocator> fmt::Debug for HashSet<T, S, A> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_set().entries(self.iter()).finish()
    }
}

impl<T: Eq + Hash, S: BuildHasher, A: Allocator> PartialEq for HashSet<T, S, A> {
    fn eq(&self, other: &Self) -> bool {
        self.len() == other.len() && self.is_subset(other)
    }
}

impl<T: Eq + Hash, S: BuildHasher, A: Allocator> Eq for HashSet<T, S, A> {}

impl<T: Eq + Hash, S: BuildHasher + Default> FromIterator<T> for HashSet<T, S> {
    fn from_iter<I: IntoIterator<Item = T>>(iter: I) -> Self {
        let mut set = Self::with_hasher(S::default());
        set.extend(iter);
        set
    }
}

impl<T: Eq + Hash, const N: usize> From<[T; N]> for HashSet<T> {
    fn from(values: [T; N]) -> Self {
        values.into_iter().collect()
    }
}

impl<T: Eq + Hash, S: BuildHasher, A: Allocator> Extend<T> for HashSet<T, S, A> {
    fn extend<I: IntoIterator<Item = T>>(&mut self, iter: I) {
        self.map.extend(iter.into_iter().map(|v| (v, ())));
    }
}

impl<'a, T: Eq + Hash + Copy + 'a, S: BuildHasher, A: Allocator> Extend<&'a T>
    for HashSet<T, S, A>
{
    fn extend<I: IntoIterator<Item = &'a T>>(&mut self, iter: I) {
        self.extend(iter.into_iter().copied());
    }
}

impl<'a, T, S, A: Allocator> IntoIterator for &'a HashSet<T, S, A> {
    type Item = &'a T;
    type IntoIter = Iter<'a, T>;

    fn into_iter(self) -> Iter<'a, T> {
        self.iter()
    }
}

impl<T, S, A: Allocator> IntoIterator for HashSet<T, S, A> {
    type Item = T;
    type IntoIter = IntoIter<T, A>;

    fn into_iter(self) -> IntoIter<T, A> {
        IntoIter {
            inner: self.map.into_keys(),
        }
    }
}

macro_rules! set_operator {
    ($trait:ident, $method:ident, $op:ident, $doc:literal) => {
        impl<T: Eq + Hash + Clone, S: BuildHasher + Default> $trait<&HashSet<T, S>>
            for &HashSet<T, S>
        {
            type Output = HashSet<T, S>;

            #[doc = $doc]
            fn $method(self, rhs: &HashSet<T, S>) -> HashSet<T, S> {
                self.$op(rhs).cloned().collect()
            }
        }
    };
}

set_operator!(BitOr, bitor, union, "The union, as a new set.");
set_operator!(
    BitAnd,
    bitand,
    intersection,
    "The intersection, as a new set."
);
set_operator!(
    BitXor,
    bitxor,
    symmetric_difference,
    "The symmetric difference, as a new set."
);
set_operator!(Sub, sub, difference, "The difference, as a new set.");

/// A set's elements; from [`HashSet::iter`].
pub struct Iter<'a, T> {
    inner: map::Keys<'a, T, ()>,
}

/// A set's elements by value; from `HashSet::into_iter`.
pub struct IntoIter<T, A: Allocator = Global> {
    inner: map::IntoKeys<T, (), A>,
}

/// A set's elements, removed; from [`HashSet::drain`].
pub struct Drain<'a, T, A: Allocator = Global> {
    inner: map::Drain<'a, T, (), A>,
}

/// The elements a predicate picks, removed as the iterator is advanced;
/// from [`HashSet::extract_if`]. Elements not reached when it is dropped
/// stay in the set.
#[must_use = "iterators are lazy and do nothing unless consumed; \
    use `retain` to remove and discard elements"]
pub struct ExtractIf<'a, T, F, A: Allocator = Global> {
    inner: RawExtractIf<'a, T, (), A>,
    pred: F,
}

impl<T, F: FnMut(&T) -> bool, A: Allocator> Iterator for ExtractIf<'_, T, F, A> {
    type Item = T;

    #[inline]
    fn next(&mut self) -> Option<T> {
        let pred = &mut self.pred;
        self.inner.next_where(&mut |k, _| pred(k)).map(|(k, ())| k)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (0, Some(self.inner.remaining()))
    }
}

impl<T, F: FnMut(&T) -> bool, A: Allocator> FusedIterator for ExtractIf<'_, T, F, A> {}

impl<T: fmt::Debug, F, A: Allocator> fmt::Debug for ExtractIf<'_, T, F, A> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ExtractIf").finish_non_exhaustive()
    }
}

impl<T> Default for Iter<'_, T> {
    /// An empty iterator.
    fn default() -> Self {
        Iter {
            inner: map::Keys::default(),
        }
    }
}

impl<T, A: Allocator + Default> Default for IntoIter<T, A> {
    /// An empty iterator.
    fn default() -> Self {
        IntoIter {
            inner: map::IntoKeys::default(),
        }
    }
}

/// Elements of one set not in another; from [`HashSet::difference`].
pub struct Difference<'a, T, S, A: Allocator = Global> {
    iter: Iter<'a, T>,
    other: &'a HashSet<T, S, A>,
}

/// Elements in exactly one of two sets; from [`HashSet::symmetric_difference`].
pub struct SymmetricDifference<'a, T, S, A: Allocator = Global> {
    iter: Chain<Difference<'a, T, S, A>, Difference<'a, T, S, A>>,
}

/// Elements in both of two sets; from [`HashSet::intersection`].
pub struct Intersection<'a, T, S, A: Allocator = Global> {
    iter: Iter<'a, T>,
    other: &'a HashSet<T, S, A>,
}

/// Elements in either of two sets; from [`HashSet::union`].
pub struct Union<'a, T, S, A: Allocator = Global> {
    iter: Chain<Iter<'a, T>, Difference<'a, T, S, A>>,
}

impl<'a, T> Iterator for Iter<'a, T> {
    type Item = &'a T;
    fn next(&mut self) -> Option<&'a T> {
        self.inner.next()
    }
    fn size_hint(&self) -> (usize, Option<usize>) {
        self.inner.size_hint()
    }
}

impl<T> Clone for Iter<'_, T> {
    fn clone(&self) -> Self {
        Iter {
            inner: self.inner.clone(),
        }
    }
}

impl<T, A: Allocator> Iterator for IntoIter<T, A> {
    type Item = T;
    fn next(&mut self) -> Option<T> {
        self.inner.next()
    }
    fn size_hint(&self) -> (usize, Option<usize>) {
        self.inner.size_hint()
    }
}

impl<T, A: Allocator> Iterator for Drain<'_, T, A> {
    type Item = T;
    fn next(&mut self) -> Option<T> {
        self.inner.next().map(|(k, _)| k)
    }
    fn size_hint(&self) -> (usize, Option<usize>) {
        self.inner.size_hint()
    }
}

impl<T> ExactSizeIterator for Iter<'_, T> {}
impl<T> FusedIterator for Iter<'_, T> {}
impl<T, A: Allocator> ExactSizeIterator for IntoIter<T, A> {}
impl<T, A: Allocator> FusedIterator for IntoIter<T, A> {}
impl<T, A: Allocator> ExactSizeIterator for Drain<'_, T, A> {}
impl<T, A: Allocator> FusedIterator for Drain<'_, T, A> {}

impl<'a, T: Eq + Hash, S: BuildHasher, A: Allocator> Iterator for Difference<'a, T, S, A> {
    type Item = &'a T;
    fn next(&mut self) -> Option<&'a T> {
        let other = self.other;
        self.iter.by_ref().find(|v| !other.contains(*v))
    }
    fn size_hint(&self) -> (usize, Option<usize>) {
        (0, self.iter.size_hint().1)
    }
}

impl<'a, T: Eq + Hash, S: BuildHasher, A: Allocator> Iterator for Intersection<'a, T, S, A> {
    type Item = &'a T;
    fn next(&mut self) -> Option<&'a T> {
        let other = self.other;
        self.iter.by_ref().find(|v| other.contains(*v))
    }
    fn size_hint(&self) -> (usize, Option<usize>) {
        (0, self.iter.size_hint().1)
    }
}

impl<'a, T: Eq + Hash, S: BuildHasher, A: Allocator> Iterator for SymmetricDifference<'a, T, S, A> {
    type Item = &'a T;
    fn next(&mut self) -> Option<&'a T> {
        self.iter.next()
    }
    fn size_hint(&self) -> (usize, Option<usize>) {
        self.iter.size_hint()
    }
}

impl<'a, T: Eq + Hash, S: BuildHasher, A: Allocator> Iterator for Union<'a, T, S, A> {
    type Item = &'a T;
    fn next(&mut self) -> Option<&'a T> {
        self.iter.next()
    }
    fn size_hint(&self) -> (usize, Option<usize>) {
        self.iter.size_hint()
    }
}

impl<T: Eq + Hash, S: BuildHasher, A: Allocator> FusedIterator for Difference<'_, T, S, A> {}
impl<T: Eq + Hash, S: BuildHasher, A: Allocator> FusedIterator for Intersection<'_, T, S, A> {}
impl<T: Eq + Hash, S: BuildHasher, A: Allocator> FusedIterator
    for SymmetricDifference<'_, T, S, A>
{
}
impl<T: Eq + Hash, S: BuildHasher, A: Allocator> FusedIterator for Union<'_, T, S, A> {}

impl<T, S, A: Allocator> Clone for Difference<'_, T, S, A> {
    fn clone(&self) -> Self {
        Difference {
            iter: self.iter.clone(),
            other: self.other,
        }
    }
}

impl<T, S, A: Allocator> Clone for Intersection<'_, T, S, A> {
    fn clone(&self) -> Self {
        Intersection {
            iter: self.iter.clone(),
            other: self.other,
        }
    }
}

impl<T, S, A: Allocator> Clone for SymmetricDifference<'_, T, S, A> {
    fn clone(&self) -> Self {
        SymmetricDifference {
            iter: self.iter.clone(),
        }
    }
}

impl<T, S, A: Allocator> Clone for Union<'_, T, S, A> {
    fn clone(&self) -> Self {
        Union {
            iter: self.iter.clone(),
        }
    }
}

macro_rules! debug_as_list {
    ($($t:ty => [$($bounds:tt)*]),* $(,)?) => {$(
        impl<$($bounds)*> fmt::Debug for $t {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.debug_list().entries(self.clone()).finish()
            }
        }
    )*};
}

debug_as_list!(
    Iter<'_, T> => [T: fmt::Debug],
    Difference<'_, T, S, A> => [T: fmt::Debug + Eq + Hash, S: BuildHasher, A: Allocator],
    Intersection<'_, T, S, A> => [T: fmt::Debug + Eq + Hash, S: BuildHasher, A: Allocator],
    SymmetricDifference<'_, T, S, A> => [T: fmt::Debug + Eq + Hash, S: BuildHasher, A: Allocator],
    Union<'_, T, S, A> => [T: fmt::Debug + Eq + Hash, S: BuildHasher, A: Allocator],
);

impl<T: fmt::Debug, A: Allocator> fmt::Debug for IntoIter<T, A> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.inner.fmt(f)
    }
}

impl<T: fmt::Debug, A: Allocator> fmt::Debug for Drain<'_, T, A> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.inner.fmt(f)
    }
}
