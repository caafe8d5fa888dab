//! [`ShardedMap::iter_mut`](super::ShardedMap::iter_mut): every pair,
//! shard by shard, each handed out under its shard's write lock.
//!
//! Without `unsafe`, a write guard lends out one reference, not one per
//! pair. So when the iterator reaches a shard it takes the shard's write
//! lock and drains its pairs out (the bucket array stays, with shrinking
//! paused); each [`RefMutMulti`] owns its pair and puts it back into the
//! shard when dropped, and the iterator puts back the pairs it did not hand
//! out. The shard's lock is released — and the observer told about it —
//! once the iterator has left the shard and its last item is dropped.

use std::fmt;
use std::hash::{BuildHasher, Hash};
use std::ops::{Deref, DerefMut};
use std::sync::Arc;

use gomap::{DefaultHashBuilder, ShrinkPolicy};

use super::{Observed, ShardedMap};
use crate::sync::Mutex;

/// One shard with its pairs lent out: its write guard, and the shrink
/// policy to restore when the last pair is back.
struct Lending<'a, K, V, S> {
    shard: Observed<'a, K, V, S>,
    policy: ShrinkPolicy,
}

impl<K, V, S> Drop for Lending<'_, K, V, S> {
    fn drop(&mut self) {
        // Before the guard (a field) is released and observed.
        self.shard.set_shrink_policy(self.policy);
    }
}

/// The shard, shared by its items (which, under the `rayon` feature, may
/// be dropped on other threads: hence `Arc` and a mutex, locked only to put
/// a pair back).
type Shared<'a, K, V, S> = Arc<Mutex<Lending<'a, K, V, S>>>;

/// A pair handed out by [`ShardedMap::iter_mut`](super::ShardedMap::iter_mut),
/// under its shard's write lock; it derefs (mutably) to the value. The
/// pair is back in the shard once this is dropped.
pub struct RefMutMulti<'a, K: Eq + Hash, V, S: BuildHasher = DefaultHashBuilder> {
    shard: Shared<'a, K, V, S>,
    /// `Some` until dropped.
    pair: Option<(K, V)>,
}

impl<K: Eq + Hash, V, S: BuildHasher> RefMutMulti<'_, K, V, S> {
    fn lent(&self) -> &(K, V) {
        self.pair
            .as_ref()
            .expect("an item holds its pair until dropped")
    }

    fn lent_mut(&mut self) -> &mut (K, V) {
        self.pair
            .as_mut()
            .expect("an item holds its pair until dropped")
    }

    /// The key as stored in the map.
    pub fn key(&self) -> &K {
        &self.lent().0
    }

    /// The value.
    pub fn value(&self) -> &V {
        &self.lent().1
    }

    /// The value, to change.
    pub fn value_mut(&mut self) -> &mut V {
        &mut self.lent_mut().1
    }

    /// The key and the value.
    pub fn pair(&self) -> (&K, &V) {
        let (k, v) = self.lent();
        (k, v)
    }

    /// The key and the value, to change.
    pub fn pair_mut(&mut self) -> (&K, &mut V) {
        let (k, v) = self.lent_mut();
        (k, v)
    }
}

impl<K: Eq + Hash, V, S: BuildHasher> Drop for RefMutMulti<'_, K, V, S> {
    fn drop(&mut self) {
        if let Some((key, value)) = self.pair.take() {
            self.shard.lock().shard.insert(key, value);
        }
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

/// One shard's pairs, drained out under its write lock and handed out as
/// items; those not handed out are put back when this is dropped.
pub(crate) struct ShardLender<'a, K: Eq + Hash, V, S: BuildHasher> {
    shard: Shared<'a, K, V, S>,
    rest: std::vec::IntoIter<(K, V)>,
}

/// Takes shard `index`'s write lock and drains its pairs out, to be lent.
pub(crate) fn lend_shard<K: Eq + Hash, V, S: BuildHasher>(
    map: &ShardedMap<K, V, S>,
    index: usize,
) -> ShardLender<'_, K, V, S> {
    let mut shard = map.write_shard(index);
    // Draining would arm a shrink that the pairs' return would then
    // fight; pause it until every pair is back.
    let policy = shard.shrink_policy();
    shard.set_shrink_policy(ShrinkPolicy::Never);
    let pairs: Vec<(K, V)> = shard.drain().collect();
    ShardLender {
        shard: Arc::new(Mutex::new(Lending { shard, policy })),
        rest: pairs.into_iter(),
    }
}

impl<'a, K: Eq + Hash, V, S: BuildHasher> Iterator for ShardLender<'a, K, V, S> {
    type Item = RefMutMulti<'a, K, V, S>;

    fn next(&mut self) -> Option<RefMutMulti<'a, K, V, S>> {
        let pair = self.rest.next()?;
        Some(RefMutMulti {
            shard: self.shard.clone(),
            pair: Some(pair),
        })
    }
}

impl<K: Eq + Hash, V, S: BuildHasher> Drop for ShardLender<'_, K, V, S> {
    fn drop(&mut self) {
        let mut lending = self.shard.lock();
        for (key, value) in self.rest.by_ref() {
            lending.shard.insert(key, value);
        }
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
