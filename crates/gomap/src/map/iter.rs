//! The map's iterators: thin wrappers over the raw table's, so every one of
//! them visits each entry exactly once, also mid-migration.

use crate::raw::{RawDrain, RawExtractIf, RawIntoIter, RawIter, RawIterMut};
use allocator_api2::alloc::{Allocator, Global};
use core::fmt;
use core::iter::FusedIterator;

/// Implements `Iterator` (with an exact `size_hint`), `ExactSizeIterator`
/// and `FusedIterator` for a wrapper whose field `inner` yields `$item`,
/// mapped through `$map`.
macro_rules! wrapper {
    ($name:ident<$($lt:lifetime,)? K, V $(, $a:ident)?>, $item:ty, $map:expr) => {
        impl<$($lt,)? K, V $(, $a: Allocator)?> Iterator for $name<$($lt,)? K, V $(, $a)?> {
            type Item = $item;

            #[inline]
            fn next(&mut self) -> Option<$item> {
                self.inner.next().map($map)
            }

            #[inline]
            fn fold<B, F: FnMut(B, $item) -> B>(self, init: B, mut f: F) -> B {
                let map = $map;
                self.inner.fold(init, move |acc, item| f(acc, map(item)))
            }

            fn size_hint(&self) -> (usize, Option<usize>) {
                self.inner.size_hint()
            }
        }

        impl<$($lt,)? K, V $(, $a: Allocator)?> ExactSizeIterator for $name<$($lt,)? K, V $(, $a)?> {}
        impl<$($lt,)? K, V $(, $a: Allocator)?> FusedIterator for $name<$($lt,)? K, V $(, $a)?> {}
    };
}

/// Shared references to a map's entries; from [`HashMap::iter`](super::HashMap::iter).
pub struct Iter<'a, K, V> {
    inner: RawIter<'a, K, V>,
}

impl<'a, K, V> Iter<'a, K, V> {
    pub(super) fn new(inner: RawIter<'a, K, V>) -> Self {
        Iter { inner }
    }
}

impl<K, V> Clone for Iter<'_, K, V> {
    fn clone(&self) -> Self {
        Iter {
            inner: self.inner.clone(),
        }
    }
}

wrapper!(Iter<'a, K, V>, (&'a K, &'a V), |kv| kv);

/// Mutable references to a map's values; from [`HashMap::iter_mut`](super::HashMap::iter_mut).
pub struct IterMut<'a, K, V> {
    inner: RawIterMut<'a, K, V>,
}

impl<'a, K, V> IterMut<'a, K, V> {
    pub(super) fn new(inner: RawIterMut<'a, K, V>) -> Self {
        IterMut { inner }
    }
}

wrapper!(IterMut<'a, K, V>, (&'a K, &'a mut V), |kv| kv);

/// A map's entries by value; from `HashMap::into_iter`.
pub struct IntoIter<K, V, A: Allocator = Global> {
    inner: RawIntoIter<K, V, A>,
}

impl<K, V, A: Allocator> IntoIter<K, V, A> {
    pub(super) fn new(inner: RawIntoIter<K, V, A>) -> Self {
        IntoIter { inner }
    }
}

wrapper!(IntoIter<K, V, A>, (K, V), |kv| kv);

/// A map's entries, removed; from [`HashMap::drain`](super::HashMap::drain).
pub struct Drain<'a, K, V, A: Allocator = Global> {
    inner: RawDrain<'a, K, V, A>,
}

impl<'a, K, V, A: Allocator> Drain<'a, K, V, A> {
    pub(super) fn new(inner: RawDrain<'a, K, V, A>) -> Self {
        Drain { inner }
    }
}

wrapper!(Drain<'a, K, V, A>, (K, V), |kv| kv);

/// A map's keys; from [`HashMap::keys`](super::HashMap::keys).
pub struct Keys<'a, K, V> {
    inner: Iter<'a, K, V>,
}

impl<'a, K, V> Keys<'a, K, V> {
    pub(super) fn new(inner: Iter<'a, K, V>) -> Self {
        Keys { inner }
    }
}

impl<K, V> Clone for Keys<'_, K, V> {
    fn clone(&self) -> Self {
        Keys {
            inner: self.inner.clone(),
        }
    }
}

wrapper!(Keys<'a, K, V>, &'a K, |(k, _)| k);

/// A map's values; from [`HashMap::values`](super::HashMap::values).
pub struct Values<'a, K, V> {
    inner: Iter<'a, K, V>,
}

impl<'a, K, V> Values<'a, K, V> {
    pub(super) fn new(inner: Iter<'a, K, V>) -> Self {
        Values { inner }
    }
}

impl<K, V> Clone for Values<'_, K, V> {
    fn clone(&self) -> Self {
        Values {
            inner: self.inner.clone(),
        }
    }
}

wrapper!(Values<'a, K, V>, &'a V, |(_, v)| v);

/// A map's values, mutably; from [`HashMap::values_mut`](super::HashMap::values_mut).
pub struct ValuesMut<'a, K, V> {
    inner: IterMut<'a, K, V>,
}

impl<'a, K, V> ValuesMut<'a, K, V> {
    pub(super) fn new(inner: IterMut<'a, K, V>) -> Self {
        ValuesMut { inner }
    }
}

wrapper!(ValuesMut<'a, K, V>, &'a mut V, |(_, v)| v);

/// A map's keys by value; from [`HashMap::into_keys`](super::HashMap::into_keys).
pub struct IntoKeys<K, V, A: Allocator = Global> {
    inner: IntoIter<K, V, A>,
}

impl<K, V, A: Allocator> IntoKeys<K, V, A> {
    pub(super) fn new(inner: IntoIter<K, V, A>) -> Self {
        IntoKeys { inner }
    }
}

wrapper!(IntoKeys<K, V, A>, K, |(k, _)| k);

/// A map's values by value; from [`HashMap::into_values`](super::HashMap::into_values).
pub struct IntoValues<K, V, A: Allocator = Global> {
    inner: IntoIter<K, V, A>,
}

impl<K, V, A: Allocator> IntoValues<K, V, A> {
    pub(super) fn new(inner: IntoIter<K, V, A>) -> Self {
        IntoValues { inner }
    }
}

wrapper!(IntoValues<K, V, A>, V, |(_, v)| v);

// Debug shows the entries not yet visited, as std's iterators do.
impl<K: fmt::Debug, V: fmt::Debug> fmt::Debug for Iter<'_, K, V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.clone()).finish()
    }
}

impl<K: fmt::Debug, V: fmt::Debug> fmt::Debug for IterMut<'_, K, V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.inner.rest()).finish()
    }
}

impl<K: fmt::Debug, V: fmt::Debug, A: Allocator> fmt::Debug for IntoIter<K, V, A> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.inner.rest()).finish()
    }
}

impl<K: fmt::Debug, V: fmt::Debug, A: Allocator> fmt::Debug for Drain<'_, K, V, A> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.inner.rest()).finish()
    }
}

impl<K: fmt::Debug, V> fmt::Debug for Keys<'_, K, V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.clone()).finish()
    }
}

impl<K, V: fmt::Debug> fmt::Debug for Values<'_, K, V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.clone()).finish()
    }
}

impl<K, V: fmt::Debug> fmt::Debug for ValuesMut<'_, K, V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list()
            .entries(self.inner.inner.rest().map(|(_, v)| v))
            .finish()
    }
}

impl<K, V: fmt::Debug, A: Allocator> fmt::Debug for IntoValues<K, V, A> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list()
            .entries(self.inner.inner.rest().map(|(_, v)| v))
            .finish()
    }
}

impl<K: fmt::Debug, V, A: Allocator> fmt::Debug for IntoKeys<K, V, A> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list()
            .entries(self.inner.inner.rest().map(|(k, _)| k))
            .finish()
    }
}

/// The entries a predicate picks, removed as the iterator is advanced; from
/// [`HashMap::extract_if`](super::HashMap::extract_if). Entries not reached
/// when it is dropped stay in the map.
#[must_use = "iterators are lazy and do nothing unless consumed; \
    use `retain` to remove and discard elements"]
pub struct ExtractIf<'a, K, V, F, A: Allocator = Global> {
    inner: RawExtractIf<'a, K, V, A>,
    pred: F,
}

impl<'a, K, V, F, A: Allocator> ExtractIf<'a, K, V, F, A> {
    pub(super) fn new(inner: RawExtractIf<'a, K, V, A>, pred: F) -> Self {
        ExtractIf { inner, pred }
    }
}

impl<K, V, F: FnMut(&K, &mut V) -> bool, A: Allocator> Iterator for ExtractIf<'_, K, V, F, A> {
    type Item = (K, V);

    #[inline]
    fn next(&mut self) -> Option<(K, V)> {
        self.inner.next_where(&mut self.pred)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (0, Some(self.inner.remaining()))
    }
}

impl<K, V, F: FnMut(&K, &mut V) -> bool, A: Allocator> FusedIterator for ExtractIf<'_, K, V, F, A> {}

impl<K: fmt::Debug, V: fmt::Debug, F, A: Allocator> fmt::Debug for ExtractIf<'_, K, V, F, A> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ExtractIf").finish_non_exhaustive()
    }
}

/// `Default` as std has it: an iterator over nothing.
macro_rules! default_empty {
    ($($name:ident<$($lt:lifetime,)? K, V $(, $a:ident)?> = $make:expr;)*) => {$(
        impl<$($lt,)? K, V $(, $a: Allocator + Default)?> Default for $name<$($lt,)? K, V $(, $a)?> {
            /// An empty iterator.
            fn default() -> Self {
                $make
            }
        }
    )*};
}

default_empty! {
    Iter<'a, K, V> = Iter::new(RawIter::default());
    IterMut<'a, K, V> = IterMut::new(RawIterMut::default());
    IntoIter<K, V, A> = IntoIter::new(RawIntoIter::default());
    Keys<'a, K, V> = Keys::new(Iter::default());
    Values<'a, K, V> = Values::new(Iter::default());
    ValuesMut<'a, K, V> = ValuesMut::new(IterMut::default());
    IntoKeys<K, V, A> = IntoKeys::new(IntoIter::default());
    IntoValues<K, V, A> = IntoValues::new(IntoIter::default());
}
