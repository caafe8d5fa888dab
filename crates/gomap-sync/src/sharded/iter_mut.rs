//! [`ShardedMap::iter_mut`](super::ShardedMap::iter_mut): every pair,
//! shard by shard, each handed out under its shard's write lock.
//!
//! When the iterator reaches a shard it takes the shard's write lock and
//! gives the guard to a `gomap::hash_map::SlotLender`, which walks the
//! shard by slot and lends each pair out in place — its key shared, its
//! value mutable — as a [`RefMutMulti`] that keeps the guard alive. (A
//! guard lends one reference at a time; lending several at once, side by
//! side, is the `unsafe` that gomap keeps behind `SlotLender`'s safe API,
//! so this crate has none.) Nothing is moved: no pair leaves the shard.
//! The shard's lock is released — and the observer told about it — once
//! the iterator has left the shard and its last item is dropped.

use std::fmt;
use std::hash::{BuildHasher, Hash};
use std::ops::{Deref, DerefMut};

use gomap::hash_map::{LentSlot, SlotLender};
use gomap::DefaultHashBuilder;

use super::{Observed, ShardedMap};

/// A pair handed out by [`ShardedMap::iter_mut`](super::ShardedMap::iter_mut),
/// under its shard's write lock (the shard's guard, shared by the shard's
/// items, and the pair's slot); it derefs (mutably) to the value.
pub struct RefMutMulti<'a, K: Eq + Hash, V, S: BuildHasher = DefaultHashBuilder> {
    lent: LentSlot<Observed<'a, K, V, S>, K, V>,
}

impl<K: Eq + Hash, V, S: BuildHasher> RefMutMulti<'_, K, V, S> {
    /// The key as stored in the map.
    pub fn key(&self) -> &K {
        self.lent.key()
    }

    /// The value.
    pub fn value(&self) -> &V {
        self.lent.value()
    }

    /// The value, to change.
    pub fn value_mut(&mut self) -> &mut V {
        self.lent.value_mut()
    }

    /// The key and the value.
    pub fn pair(&self) -> (&K, &V) {
        self.lent.pair()
    }

    /// The key and the value, to change.
    pub fn pair_mut(&mut self) -> (&K, &mut V) {
        self.lent.pair_mut()
    }
}

impl<K: Eq + Hash, V, S: BuildHasher> Deref for RefMutMulti<'_, K, V, S> {
    type Target = V;
    fn deref(&self) -> &V {
        self.value()
    }
}

impl<K: Eq + Hash, V, S: BuildHasher> DerefMut for RefMutMulti<'_, K, V, S> {
    fn deref_mut(&mut self) -> &mut V {
        self.value_mut()
    }
}

impl<K: Eq + Hash + fmt::Debug, V: fmt::Debug, S: BuildHasher> fmt::Debug
    for RefMutMulti<'_, K, V, S>
{
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("RefMutMulti")
            .field(self.key())
            .field(self.value())
            .finish()
    }
}

/// One shard's pairs, lent out in place under its write lock.
pub(crate) struct ShardLender<'a, K: Eq + Hash, V, S: BuildHasher> {
    lender: SlotLender<Observed<'a, K, V, S>, K, V>,
}

/// Takes shard `index`'s write lock, to lend its pairs out.
pub(crate) fn lend_shard<K: Eq + Hash, V, S: BuildHasher>(
    map: &ShardedMap<K, V, S>,
    index: usize,
) -> ShardLender<'_, K, V, S> {
    ShardLender {
        lender: SlotLender::new(map.write_shard(index)),
    }
}

impl<'a, K: Eq + Hash, V, S: BuildHasher> Iterator for ShardLender<'a, K, V, S> {
    type Item = RefMutMulti<'a, K, V, S>;

    fn next(&mut self) -> Option<RefMutMulti<'a, K, V, S>> {
        let lent = self.lender.next()?;
        Some(RefMutMulti { lent })
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        self.lender.size_hint()
    }
}

/// The iterator of [`ShardedMap::iter_mut`](super::ShardedMap::iter_mut).
///
/// It write-locks one shard at a time, in shard order, and keeps that lock
/// while it is on the shard or any [`RefMutMulti`] of the shard lives.
/// Calling the same map from the thread that holds it or an item can
/// deadlock (as with dashmap).
pub struct IterMut<'a, K: Eq + Hash, V, S: BuildHasher = DefaultHashBuilder> {
    map: &'a ShardedMap<K, V, S>,
    next_shard: usize,
    /// The shard the iterator is on.
    current: Option<ShardLender<'a, K, V, S>>,
}

impl<'a, K: Eq + Hash, V, S: BuildHasher> IterMut<'a, K, V, S> {
    pub(super) fn new(map: &'a ShardedMap<K, V, S>) -> Self {
        IterMut {
            map,
            next_shard: 0,
            current: None,
        }
    }
}

impl<'a, K: Eq + Hash, V, S: BuildHasher> Iterator for IterMut<'a, K, V, S> {
    type Item = RefMutMulti<'a, K, V, S>;

    fn next(&mut self) -> Option<RefMutMulti<'a, K, V, S>> {
        loop {
            if let Some(item) = self.current.as_mut().and_then(Iterator::next) {
                return Some(item);
            }
            // Leave the shard: its lock goes once its items are dropped.
            self.current = None;
            if self.next_shard == self.map.shards.len() {
                return None;
            }
            self.current = Some(lend_shard(self.map, self.next_shard));
            self.next_shard += 1;
        }
    }
}
