//! References into a [`ShardedMap`](super::ShardedMap): [`Ref`] and
//! [`RefMulti`] (a pair behind its shard's read lock), [`RefMut`] (a pair
//! behind its shard's write lock) and [`TryResult`].
//!
//! # A guard and a slot
//!
//! gomap-sync has no `unsafe`, so a reference cannot keep a lock guard and
//! raw pointers into what it guards, as dashmap's do. Each reference here
//! holds its shard's guard and the pair's [`Slot`] (its position in the
//! shard, from `gomap`), and reaches the key and the value through the
//! guard with `get_slot` on every access: one check of the position and
//! the chain's depth in links, no hashing, no key comparison. The guard
//! keeps the shard unchanged, so the slot keeps naming the same pair:
//!
//! - a read reference ([`Ref`], [`RefMulti`]) holds one read guard of its
//!   shard, mapped to the shard's [`SlotView`] (the shard without its
//!   hasher type, so the reference names only `K` and `V`); the items of
//!   one [`iter`](super::ShardedMap::iter) shard share that guard through
//!   an `Arc`.
//! - a write reference ([`RefMut`], an occupied entry) holds its shard's
//!   write guard; the pair stays where it is. A value lent as `&mut V`
//!   is measured again for the shard's owned bytes when the map next uses
//!   the shard, as with `gomap::HashMap::get_mut`; the observer, called
//!   as the guard is released, sees the figure with the change.

use std::fmt;
use std::hash::{BuildHasher, Hash};
use std::ops::{Deref, DerefMut};

#[cfg(not(loom))]
use std::sync::Arc;

use gomap::hash_map::Slot;
#[cfg(not(loom))]
use gomap::hash_map::SlotView;
use gomap::DefaultHashBuilder;

use super::Observed;

/// Why a reference's slot always holds its pair.
const HELD: &str = "a reference's guard keeps its shard unchanged: its slot holds the pair";

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

/// A shard's read guard, mapped to the shard's entries by slot.
#[cfg(not(loom))]
pub(super) type SlotGuard<'a, K, V> = parking_lot::MappedRwLockReadGuard<'a, SlotView<K, V>>;

/// A pair of a [`ShardedMap`](super::ShardedMap), behind its shard's read
/// lock: the shard's writers wait until it is dropped. Derefs to the value.
///
/// Holding it and calling a method of the same map that writes (or that
/// takes every shard's lock: `clear`, `take`, `read_all`, …) from the same
/// thread can deadlock, as with dashmap. So can taking a second guard of
/// the same shard (another `get`) while another thread waits to write to
/// it: the waiting writer goes first, and it waits for the first guard.
#[cfg(not(loom))]
pub struct Ref<'a, K, V> {
    shard: SlotGuard<'a, K, V>,
    /// Where the pair is in the shard.
    slot: Slot,
}

#[cfg(not(loom))]
impl<'a, K, V> Ref<'a, K, V> {
    pub(super) fn new(shard: SlotGuard<'a, K, V>, slot: Slot) -> Self {
        Ref { shard, slot }
    }

    /// The key as stored in the map.
    pub fn key(&self) -> &K {
        self.pair().0
    }

    /// The value.
    pub fn value(&self) -> &V {
        self.pair().1
    }

    /// The key and the value.
    pub fn pair(&self) -> (&K, &V) {
        self.shard.get_slot(self.slot).expect(HELD)
    }
}

#[cfg(not(loom))]
impl<K, V> Deref for Ref<'_, K, V> {
    type Target = V;
    fn deref(&self) -> &V {
        self.value()
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
/// like [`Ref`], it holds its shard's read lock until dropped — one read
/// guard, shared by every item of the shard. Derefs to the value.
#[cfg(not(loom))]
pub struct RefMulti<'a, K, V> {
    shard: Arc<SlotGuard<'a, K, V>>,
    slot: Slot,
}

#[cfg(not(loom))]
impl<'a, K, V> RefMulti<'a, K, V> {
    pub(super) fn new(shard: Arc<SlotGuard<'a, K, V>>, slot: Slot) -> Self {
        RefMulti { shard, slot }
    }

    /// The key as stored in the map.
    pub fn key(&self) -> &K {
        self.pair().0
    }

    /// The value.
    pub fn value(&self) -> &V {
        self.pair().1
    }

    /// The key and the value.
    pub fn pair(&self) -> (&K, &V) {
        self.shard.get_slot(self.slot).expect(HELD)
    }
}

#[cfg(not(loom))]
impl<K, V> Deref for RefMulti<'_, K, V> {
    type Target = V;
    fn deref(&self) -> &V {
        self.value()
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
/// It holds the shard's write guard and the pair's slot (see the [module
/// docs](self)); when it is dropped the map's observer is told about the
/// shard, still under its lock. Holding it and calling any method of the
/// same map from the same thread can deadlock, as with dashmap.
pub struct RefMut<'a, K: Eq + Hash, V, S: BuildHasher = DefaultHashBuilder> {
    pub(super) shard: Observed<'a, K, V, S>,
    /// Where the pair is in the shard.
    pub(super) slot: Slot,
}

impl<'a, K: Eq + Hash, V, S: BuildHasher> RefMut<'a, K, V, S> {
    pub(super) fn new(shard: Observed<'a, K, V, S>, slot: Slot) -> Self {
        RefMut { shard, slot }
    }

    /// The pair's entry in the shard, for the writes an occupied entry
    /// does (replace, remove).
    pub(super) fn entry(&mut self) -> gomap::hash_map::OccupiedEntry<'_, K, V, S> {
        self.shard.slot_entry(self.slot).expect(HELD)
    }

    /// Removes the pair from the shard.
    pub(super) fn remove(mut self) -> (K, V) {
        self.entry().remove_entry()
    }

    /// The key as stored in the map.
    pub fn key(&self) -> &K {
        self.pair().0
    }

    /// The value.
    pub fn value(&self) -> &V {
        self.pair().1
    }

    /// The value, to change.
    pub fn value_mut(&mut self) -> &mut V {
        self.pair_mut().1
    }

    /// The key and the value.
    pub fn pair(&self) -> (&K, &V) {
        self.shard.get_slot(self.slot).expect(HELD)
    }

    /// The key and the value, to change.
    pub fn pair_mut(&mut self) -> (&K, &mut V) {
        self.shard.get_slot_mut(self.slot).expect(HELD)
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
