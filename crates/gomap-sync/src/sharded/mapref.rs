//! References into a [`ShardedMap`](super::ShardedMap): [`Ref`] and
//! [`RefMulti`] (a pair behind its shard's read lock), [`RefMut`] (a pair
//! behind its shard's write lock) and [`TryResult`].
//!
//! # Why two guards, and why a lent pair
//!
//! gomap-sync has no `unsafe`, and a lock guard can lend out only one
//! reference into what it guards. dashmap keeps a guard and raw pointers
//! to the key and the value; here:
//!
//! - a read reference holds **two** read guards of its shard, one mapped
//!   to the key and one to the value. The second is taken with
//!   `read_recursive`, which does not queue behind a waiting writer (that
//!   writer waits for the first guard: queueing would deadlock). Two lock
//!   counts and two lookups instead of one.
//! - a write reference holds its shard's write guard and the pair itself,
//!   **taken out** of the shard, and puts it back when it is released (also
//!   while a panic unwinds). No one else can see the shard meanwhile, so no
//!   one sees the pair missing. The cost is a removal and an insert instead
//!   of a lookup; the entry may take another slot of its chain (the
//!   shard's iteration order may change), and, as any removal may, the
//!   removal may begin a shrink the shard was due. If putting it back panics (a
//!   `Hash` or `Eq` that fails on a key it hashed before), the pair is
//!   dropped — and if that happens while unwinding, the process aborts.

use std::fmt;
use std::hash::{BuildHasher, Hash};
use std::ops::{Deref, DerefMut};

use gomap::DefaultHashBuilder;

use super::Observed;

/// The result of a lookup that does not wait for its shard's lock
/// ([`ShardedMap::try_get`](super::ShardedMap::try_get),
/// [`try_get_mut`](super::ShardedMap::try_get_mut)).
#[derive(Debug)]
pub enum TryResult<R> {
    /// The shard's lock was free and the key is in the map.
    Present(R),
    /// The shard's lock was free and the key is not in the map.
    Absent,
    /// The shard's lock was held (the key may or may not be in the map).
    Locked,
}

impl<R> TryResult<R> {
    /// Whether the key was found.
    pub fn is_present(&self) -> bool {
        matches!(self, TryResult::Present(_))
    }

    /// Whether the shard was free and the key not in it.
    pub fn is_absent(&self) -> bool {
        matches!(self, TryResult::Absent)
    }

    /// Whether the shard's lock was held.
    pub fn is_locked(&self) -> bool {
        matches!(self, TryResult::Locked)
    }

    /// The reference.
    ///
    /// # Panics
    /// If `self` is not [`Present`](TryResult::Present).
    #[track_caller]
    pub fn unwrap(self) -> R {
        match self {
            TryResult::Present(r) => r,
            TryResult::Absent => panic!("called `TryResult::unwrap()` on `Absent`"),
            TryResult::Locked => panic!("called `TryResult::unwrap()` on `Locked`"),
        }
    }

    /// The reference, if [`Present`](TryResult::Present).
    pub fn try_unwrap(self) -> Option<R> {
        match self {
            TryResult::Present(r) => Some(r),
            _ => None,
        }
    }
}

/// A key and its value, each behind a read guard of their shard.
#[cfg(not(loom))]
pub(super) struct ReadPair<'a, K, V> {
    pub(super) key: parking_lot::MappedRwLockReadGuard<'a, K>,
    pub(super) value: parking_lot::MappedRwLockReadGuard<'a, V>,
}

/// A pair of a [`ShardedMap`](super::ShardedMap), behind its shard's read
/// lock: the shard's writers wait until it is dropped. Derefs to the value.
///
/// Holding it and calling a method of the same map that writes (or that
/// takes every shard's lock: `clear`, `take`, `read_all`, …) from the same
/// thread can deadlock, as with dashmap.
#[cfg(not(loom))]
pub struct Ref<'a, K, V>(pub(super) ReadPair<'a, K, V>);

#[cfg(not(loom))]
impl<K, V> Ref<'_, K, V> {
    /// The key as stored in the map.
    pub fn key(&self) -> &K {
        &self.0.key
    }

    /// The value.
    pub fn value(&self) -> &V {
        &self.0.value
    }

    /// The key and the value.
    pub fn pair(&self) -> (&K, &V) {
        (&self.0.key, &self.0.value)
    }
}

#[cfg(not(loom))]
impl<K, V> Deref for Ref<'_, K, V> {
    type Target = V;
    fn deref(&self) -> &V {
        &self.0.value
    }
}

#[cfg(not(loom))]
impl<K: fmt::Debug, V: fmt::Debug> fmt::Debug for Ref<'_, K, V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Ref")
            .field(self.key())
            .field(self.value())
            .finish()
    }
}

/// A pair handed out by [`ShardedMap::iter`](super::ShardedMap::iter):
/// like [`Ref`], it holds its shard's read lock until dropped. Derefs to
/// the value.
#[cfg(not(loom))]
pub struct RefMulti<'a, K, V>(pub(super) ReadPair<'a, K, V>);

#[cfg(not(loom))]
impl<K, V> RefMulti<'_, K, V> {
    /// The key as stored in the map.
    pub fn key(&self) -> &K {
        &self.0.key
    }

    /// The value.
    pub fn value(&self) -> &V {
        &self.0.value
    }

    /// The key and the value.
    pub fn pair(&self) -> (&K, &V) {
        (&self.0.key, &self.0.value)
    }
}

#[cfg(not(loom))]
impl<K, V> Deref for RefMulti<'_, K, V> {
    type Target = V;
    fn deref(&self) -> &V {
        &self.0.value
    }
}

#[cfg(not(loom))]
impl<K: fmt::Debug, V: fmt::Debug> fmt::Debug for RefMulti<'_, K, V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("RefMulti")
            .field(self.key())
            .field(self.value())
            .finish()
    }
}

/// A pair of a [`ShardedMap`](super::ShardedMap) behind its shard's write
/// lock: every other user of the shard waits until it is dropped. Derefs
/// (mutably) to the value.
///
/// The pair is out of the shard while this lives and is put back when it
/// is dropped (see the [module docs](self)); then the map's observer is
/// told about the shard, still under its lock. Holding it and calling any
/// method of the same map from the same thread can deadlock, as with
/// dashmap.
pub struct RefMut<'a, K: Eq + Hash, V, S: BuildHasher = DefaultHashBuilder> {
    pub(super) shard: Observed<'a, K, V, S>,
    /// The lent pair: `Some` until it is put back (or kept out, by an
    /// entry's `remove`).
    pub(super) pair: Option<(K, V)>,
}

impl<'a, K: Eq + Hash, V, S: BuildHasher> RefMut<'a, K, V, S> {
    pub(super) fn lend(shard: Observed<'a, K, V, S>, key: K, value: V) -> Self {
        RefMut {
            shard,
            pair: Some((key, value)),
        }
    }

    fn lent(&self) -> &(K, V) {
        self.pair
            .as_ref()
            .expect("a RefMut holds its pair until dropped")
    }

    fn lent_mut(&mut self) -> &mut (K, V) {
        self.pair
            .as_mut()
            .expect("a RefMut holds its pair until dropped")
    }

    /// Keeps the pair out of the shard: it is not put back.
    pub(super) fn take(mut self) -> (K, V) {
        self.pair
            .take()
            .expect("a RefMut holds its pair until dropped")
    }

    /// Swaps the lent pair for `pair`, which is put back instead.
    pub(super) fn replace(&mut self, pair: (K, V)) -> (K, V) {
        std::mem::replace(self.lent_mut(), pair)
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

impl<K: Eq + Hash, V, S: BuildHasher> Drop for RefMut<'_, K, V, S> {
    fn drop(&mut self) {
        // Put the pair back; the shard's guard is released (and observed)
        // after this, as the field drops.
        if let Some((key, value)) = self.pair.take() {
            self.shard.insert(key, value);
        }
    }
}

impl<K: Eq + Hash, V, S: BuildHasher> Deref for RefMut<'_, K, V, S> {
    type Target = V;
    fn deref(&self) -> &V {
        self.value()
    }
}

impl<K: Eq + Hash, V, S: BuildHasher> DerefMut for RefMut<'_, K, V, S> {
    fn deref_mut(&mut self) -> &mut V {
        self.value_mut()
    }
}

impl<K: Eq + Hash + fmt::Debug, V: fmt::Debug, S: BuildHasher> fmt::Debug for RefMut<'_, K, V, S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("RefMut")
            .field(self.key())
            .field(self.value())
            .finish()
    }
}
