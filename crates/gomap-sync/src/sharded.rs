//! [`ShardedMap`]: a power-of-two number of `gomap::HashMap` shards, each
//! behind its own `RwLock`.
//!
//! # Invariants
//!
//! - A key lives in exactly one shard, picked by the `log2(shards)` bits of
//!   its hash just below the top byte (bits `56 - log2(shards)..56`): clear
//!   of the top byte, which the shard map uses for its tophash, and of the
//!   low bits, which pick its bucket. The same hash goes to the shard's
//!   hash-given methods, so a keyed call hashes its key once; every shard
//!   holds a clone of the map's hasher, which therefore must hash as its
//!   clones do (std's and foldhash's `RandomState` do; a hasher whose
//!   clones differ makes lookups miss after a shard migrates, a logic
//!   error, never undefined behaviour). A reference (`Ref`, `RefMulti`,
//!   `RefMut`, an entry, an `iter_mut` item) holds its shard's guard and
//!   its pair's slot, the pair left in place: the guard keeps the shard
//!   unchanged, so the slot keeps naming the pair. (Only `alter` and
//!   `alter_all` take pairs out, under the write lock, to pass values by
//!   value, and put them back before the lock is released — but a pair
//!   whose closure panicked: that one is gone.)
//! - **Lock order.** An operation holds either one shard lock, or all of
//!   them, taken in ascending shard index and released after the last one is
//!   taken. Nothing holds one shard's lock while waiting for another except
//!   the all-shards operations and an iterator whose earlier items are still
//!   alive (`iter`, `iter_mut`: they move up the shards), which all wait in
//!   ascending order: no two operations of one map can deadlock each other.
//!   Under the `rayon` feature, items of a parallel iterator that are kept
//!   beyond their task (collected) hold their shards in no order: see the
//!   `rayon` module.
//! - The all-shards operations (`clear`, `take`, `take_shards`, `reset`,
//!   `read_all`, `mem_stats`, `shard_stats`, `Clone`, `Debug`) see or
//!   change the whole map at one instant: a writer holding every write lock
//!   excludes every reader, so no reader sees part of a clear. `iter` (like
//!   dashmap's) holds one shard at a time: it may see one shard before a
//!   clear and the next after it; `read_all` is the whole map at one instant.
//! - A thread must not call a method of the map while it holds a guard of the
//!   same map (`Ref`, `RefMut`, an `Entry`, an item of `iter`, `ReadAll`) or
//!   from inside a closure the map runs under a lock (`update`, `retain`,
//!   `alter`, `view`, …): the locks are not reentrant, and a waiting writer
//!   blocks new readers (parking_lot's fair `RwLock`). dashmap has the same
//!   rule.
//! - Every write through a key or a guard goes through an `Observed`
//!   guard, so the observer sees each written shard under its lock, also
//!   when user code panics; the exceptions are those
//!   [`ShardedMap::with_observer`] lists.

use std::borrow::Borrow;
use std::fmt;
use std::hash::{BuildHasher, Hash};
use std::ops::{Deref, DerefMut};
use std::sync::Arc;

use gomap::{DefaultHashBuilder, HashMap, MemStats, Migration, ShrinkPolicy, TryReserveError};

use crate::sync::{ReadGuard, RwLock, WriteGuard};

mod entry;
#[cfg(not(loom))]
pub(crate) mod iter;
pub mod mapref;
mod read_only;

pub use entry::{Entry, OccupiedEntry, VacantEntry};
#[cfg(not(loom))]
pub use iter::Iter;
pub use iter_mut::{IterMut, RefMutMulti};
#[cfg(not(loom))]
pub use mapref::{Ref, RefMulti};
pub use mapref::{RefMut, TryResult};
pub use read_only::ReadOnlyView;

pub(crate) mod iter_mut;

/// Shards at most: 2^16. More shards than this buys nothing but memory.
pub const MAX_SHARDS: usize = 1 << 16;

/// One shard on its own cache lines, so two threads writing neighbouring
/// shards' lock words do not share a line.
#[repr(align(128))]
pub(crate) struct Shard<K, V, S>(pub(crate) RwLock<HashMap<K, V, S>>);

/// A concurrent hash map: `gomap::HashMap` shards, each behind a
/// parking_lot `RwLock`.
///
/// Every shard gives memory back as it empties (`ShrinkPolicy::Auto`) and
/// reports its bytes; [`mem_stats`](Self::mem_stats) sums them.
/// [`clear`](Self::clear) and [`take`](Self::take) hold every shard's write
/// lock at once, so a reader of the whole map at one instant —
/// [`read_all`](Self::read_all), `Debug`, `Clone`, serde — sees all of it
/// or none of it, never half. ([`iter`](Self::iter) is dashmap's: one shard
/// at a time, so it may see some shards before a clear and others after.)
///
/// Its API is dashmap 6's where dashmap has the item ([`get`](Self::get)
/// and [`get_mut`](Self::get_mut) with keys, [`entry`](Self::entry),
/// [`try_get`](Self::try_get), [`alter`](Self::alter),
/// [`remove_if`](Self::remove_if), [`iter`](Self::iter),
/// [`iter_mut`](Self::iter_mut), [`into_read_only`](Self::into_read_only),
/// and rayon's traits under the `rayon` feature), written without `unsafe`:
/// a reference keeps its shard's guard and its pair's slot (see
/// [`mapref`]).
///
/// # Locks
///
/// A guard (a `Ref`, a `RefMut`, an entry, an item of `iter` or
/// `iter_mut`) holds its shard's lock guard and its pair's position in the
/// shard (a `gomap::hash_map::Slot`): the pair stays in place, and each
/// access reaches it through the guard without a lookup.
///
/// | method | locks | held until | lookups |
/// |---|---|---|---|
/// | `insert`, `remove`, `remove_entry`, `remove_if`, `remove_if_mut`, `alter`, `update` | the key's shard, write | it returns | one (`alter`: a removal and an insert) |
/// | `get_cloned`, `contains_key`, `view` | the key's shard, read | it returns | one |
/// | `get`, `try_get` ([`Ref`]) | the key's shard, read (one guard) | the `Ref` is dropped | one |
/// | `get_mut`, `try_get_mut` ([`RefMut`]), `entry`, `try_entry` ([`Entry`]) | the key's shard, write | the guard (or the `RefMut` an entry became) is dropped | one (a vacant entry's insert: one more) |
/// | `iter` ([`RefMulti`]) | one shard at a time, read (one guard a shard, shared by its items) | the iterator leaves the shard and its items are dropped | none: each shard walked by slot |
/// | `iter_mut` ([`RefMutMulti`]) | one shard at a time, write (one guard a shard, shared by its items) | the iterator leaves the shard and its items are dropped | none: each shard walked by slot |
/// | `len`, `is_empty`, `capacity`, `retain`, `alter_all`, `reserve`, `try_reserve`, `shrink_to_fit`, `set_shrink_policy`, `track_owned_bytes` | each shard in turn (read for the first three) | the shard is done | — (`alter_all`: each pair drained and inserted again) |
/// | `step_migrations` | each shard whose write lock is free now (never waits) | the shard is done | — |
/// | `read_all` ([`ReadAll`]) | every shard, read, at once | the view is dropped | — |
/// | `clear`, `reset`, `take`, `take_shards` | every shard, write, at once | it returns | — |
/// | `mem_stats`, `shard_stats`, `Debug`, `Clone`, serde | every shard, read, at once | it returns | — |
///
/// # Lock order and deadlocks
///
/// Single-key operations hold one shard lock. Whole-map operations take every
/// shard's lock in ascending shard order and then release them, so no two
/// operations can deadlock. The locks are not reentrant: a thread that
/// holds a guard of the map (`Ref`, `RefMut`, an entry, an item of `iter`
/// or `iter_mut`, `ReadAll`) and calls a method that writes to the same
/// map — or, from inside the closures of `update`, `retain`, `alter`,
/// `view`, … — can deadlock, as with dashmap. Worse than dashmap, the
/// all-shards operations hold several locks while waiting for the next: a
/// thread that holds any guard of the map must not call one of them, nor
/// take a second guard, while another thread may be running one (a read
/// guard is not safe either: a writer waiting for it blocks other readers).
/// [`try_get`](Self::try_get) and its kin never wait.
///
/// ```
/// use gomap_sync::ShardedMap;
/// use std::thread;
///
/// let hits: ShardedMap<&str, u64> = ShardedMap::new();
/// thread::scope(|s| {
///     for _ in 0..2 {
///         s.spawn(|| {
///             for _ in 0..1000 {
///                 hits.update("/index", |e| *e.or_insert(0) += 1);
///             }
///         });
///     }
/// });
/// assert_eq!(hits.get_cloned("/index"), Some(2000));
/// ```
pub struct ShardedMap<K, V, S = DefaultHashBuilder> {
    pub(crate) shards: Box<[Shard<K, V, S>]>,
    /// `hash >> shift & mask` is the shard of a hash: the bits just below
    /// the top byte. A shard's map takes its tophash from the top byte and
    /// its bucket from the low bits of the same hash, so neither is the
    /// same for every key of a shard.
    shift: u32,
    mask: usize,
    hasher: S,
    observer: Option<Observer<K, V, S>>,
}

/// See [`ShardedMap::with_observer`].
type Observer<K, V, S> = Arc<dyn Fn(usize, &HashMap<K, V, S>) + Send + Sync>;

/// The shard amount of `new`: the next power of two at or above four times
/// the available parallelism.
pub fn default_shard_amount() -> usize {
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    (threads * 4).next_power_of_two().min(MAX_SHARDS)
}

impl<K, V> ShardedMap<K, V, DefaultHashBuilder> {
    /// An empty map with [`default_shard_amount`] shards and a random seed.
    pub fn new() -> Self {
        Self::with_capacity_and_hasher(0, DefaultHashBuilder::default())
    }

    /// An empty map with room for `capacity` entries spread over the shards.
    pub fn with_capacity(capacity: usize) -> Self {
        Self::with_capacity_and_hasher(capacity, DefaultHashBuilder::default())
    }

    /// An empty map with `shard_amount` shards, rounded up to a power of two
    /// and clamped to `1..=`[`MAX_SHARDS`].
    ///
    /// ```
    /// let map: gomap_sync::ShardedMap<u32, u32> = gomap_sync::ShardedMap::with_shard_amount(5);
    /// assert_eq!(map.shard_amount(), 8);
    /// ```
    pub fn with_shard_amount(shard_amount: usize) -> Self {
        Self::with_capacity_and_hasher_and_shard_amount(
            0,
            DefaultHashBuilder::default(),
            shard_amount,
        )
    }
}

impl<K, V, S: BuildHasher + Clone> ShardedMap<K, V, S> {
    /// An empty map that hashes with `hasher`. Each shard gets a clone of
    /// it, and a key's shard and bucket come from one hash, so a clone
    /// must hash as the original does (as std's and foldhash's
    /// `RandomState` do).
    pub fn with_hasher(hasher: S) -> Self {
        Self::with_capacity_and_hasher(0, hasher)
    }

    /// An empty map with room for `capacity` entries that hashes with `hasher`.
    pub fn with_capacity_and_hasher(capacity: usize, hasher: S) -> Self {
        Self::with_capacity_and_hasher_and_shard_amount(capacity, hasher, default_shard_amount())
    }

    /// An empty map with room for `capacity` entries, hashing with `hasher`,
    /// with `shard_amount` shards rounded up to a power of two and clamped to
    /// `1..=`[`MAX_SHARDS`].
    pub fn with_capacity_and_hasher_and_shard_amount(
        capacity: usize,
        hasher: S,
        shard_amount: usize,
    ) -> Self {
        let amount = shard_amount.clamp(1, MAX_SHARDS).next_power_of_two();
        let per_shard = capacity.div_ceil(amount);
        let shards = (0..amount)
            .map(|_| {
                Shard(RwLock::new(HashMap::with_capacity_and_hasher(
                    per_shard,
                    hasher.clone(),
                )))
            })
            .collect();
        ShardedMap {
            shards,
            shift: 56 - amount.trailing_zeros(),
            mask: amount - 1,
            hasher,
            observer: None,
        }
    }
}

impl<K, V, S> ShardedMap<K, V, S> {
    /// Calls `observer` after every write to a shard, with the shard's index
    /// and the shard itself (read-only), while the shard's write lock is
    /// still held: a monitor sees each shard's [`MemStats`] exactly, without
    /// locking anything itself. (gomap-govern's `GovernedSharded` is built
    /// on this.) It is also called when a write panics in user code
    /// (`Hash`, `Eq`, `Drop`, an `update` or `retain` closure), as the panic
    /// unwinds through the shard's lock, so it sees every change to a
    /// shard's entries and table made through `&self` (a
    /// [`get_mut`](Self::get_mut) guard, once released, included). (Not
    /// observed: `set_shrink_policy`; and writes through `&mut self` —
    /// `Extend` of an owned map — whose panics skip it.) It must be
    /// quick, must not call the map, and must not panic (a panic while
    /// unwinding aborts the process). A clone of the map has no observer.
    ///
    /// ```
    /// use std::sync::atomic::{AtomicUsize, Ordering};
    /// use std::sync::Arc;
    ///
    /// let writes = Arc::new(AtomicUsize::new(0));
    /// let seen = writes.clone();
    /// let map: gomap_sync::ShardedMap<u32, u32> = gomap_sync::ShardedMap::new()
    ///     .with_observer(move |_shard, _stats| {
    ///         seen.fetch_add(1, Ordering::Relaxed);
    ///     });
    /// map.insert(1, 1);
    /// map.remove(&1);
    /// assert_eq!(writes.load(Ordering::Relaxed), 2);
    /// ```
    pub fn with_observer(
        mut self,
        observer: impl Fn(usize, &HashMap<K, V, S>) + Send + Sync + 'static,
    ) -> Self {
        self.observer = Some(Arc::new(observer));
        self
    }

    /// Tells the observer about shard `index`, under its write lock.
    #[inline]
    fn observe(&self, index: usize, shard: &HashMap<K, V, S>) {
        if let Some(observer) = &self.observer {
            observer(index, shard);
        }
    }

    /// Shard `index`'s write lock, observed when released.
    #[inline]
    fn write_shard(&self, index: usize) -> Observed<'_, K, V, S> {
        self.observed(index, self.shards[index].0.write())
    }

    /// Shard `index`'s write `guard`, observed when released.
    #[inline]
    fn observed<'a>(
        &'a self,
        index: usize,
        shard: WriteGuard<'a, HashMap<K, V, S>>,
    ) -> Observed<'a, K, V, S> {
        Observed {
            map: self,
            index,
            shard,
        }
    }

    /// How many shards the map has (a power of two).
    pub fn shard_amount(&self) -> usize {
        self.shards.len()
    }

    /// The map's hasher (each shard holds a clone).
    pub fn hasher(&self) -> &S {
        &self.hasher
    }

    /// Entries, summed shard by shard (each shard's read lock in turn, held
    /// while it is counted). Concurrent writes may land in shards
    /// already counted or not yet counted; [`read_all`](Self::read_all)
    /// gives an exact count at one instant.
    pub fn len(&self) -> usize {
        self.shards.iter().map(|s| s.0.read().len()).sum()
    }

    /// Whether every shard is empty (shard by shard, like [`len`](Self::len)).
    pub fn is_empty(&self) -> bool {
        self.shards.iter().all(|s| s.0.read().is_empty())
    }

    /// Every shard's read lock, taken in shard order: a view of the whole map
    /// at one instant. Writers wait until it is dropped.
    ///
    /// ```
    /// let map: gomap_sync::ShardedMap<u32, u32> = (0..10).map(|i| (i, i)).collect();
    /// let view = map.read_all();
    /// assert_eq!(view.len(), 10);
    /// assert_eq!(view.iter().map(|(_, v)| v).sum::<u32>(), 45);
    /// ```
    pub fn read_all(&self) -> ReadAll<'_, K, V, S> {
        ReadAll {
            guards: self.shards.iter().map(|s| s.0.read()).collect(),
        }
    }

    /// Every shard's write lock, taken in shard order; each is observed
    /// when released.
    fn write_all(&self) -> Vec<Observed<'_, K, V, S>> {
        (0..self.shards.len())
            .map(|i| self.write_shard(i))
            .collect()
    }

    /// Drops every entry; every shard keeps its buckets (like std's `clear`)
    /// and, under `ShrinkPolicy::Auto`, gives them back as later writes come.
    ///
    /// Holds every shard's write lock at once: a concurrent reader sees the
    /// whole map before the clear or none of it after.
    pub fn clear(&self) {
        for shard in self.write_all().iter_mut() {
            shard.clear();
        }
    }

    /// Drops every entry and releases every shard's buckets now (Go's
    /// `m = make(...)`): empty shards are swapped in under every write lock
    /// at once, and the old ones dropped after the locks are released.
    pub fn reset(&self)
    where
        S: Clone,
    {
        // The old entries are dropped after the locks are released.
        drop(self.take_shards());
    }

    /// Takes the whole contents out as one map per shard, swapping in empty
    /// shards under every write lock at once; the old shards are handed back
    /// after the locks are released.
    pub fn take_shards(&self) -> Vec<HashMap<K, V, S>>
    where
        S: Clone,
    {
        let mut guards = self.write_all();
        guards
            .iter_mut()
            .map(|shard| {
                let mut empty = HashMap::with_hasher(shard.hasher().clone())
                    .with_shrink_policy(shard.shrink_policy());
                // The empty shard keeps owned bytes as the old one did.
                if let Some((key_bytes, value_bytes)) = shard.owned_bytes_measures() {
                    empty.track_owned_bytes(key_bytes, value_bytes);
                }
                std::mem::replace(&mut **shard, empty)
            })
            .collect()
    }

    /// Memory of every shard, summed, read under every read lock at once.
    ///
    /// `migration` is `None` when no shard is migrating; otherwise it sums
    /// `evacuated` and `total` over the migrating shards and names the kind
    /// of the one with the most old buckets. [`shard_stats`](Self::shard_stats)
    /// has the detail.
    pub fn mem_stats(&self) -> MemStats {
        sum_stats(&self.shard_stats())
    }

    /// Memory of each shard, in shard order, read under every read lock at once.
    pub fn shard_stats(&self) -> Vec<MemStats> {
        self.read_all()
            .guards
            .iter()
            .map(|g| g.mem_stats())
            .collect()
    }

    /// Sets every shard's shrink policy (each shard's write lock in turn).
    pub fn set_shrink_policy(&self, policy: ShrinkPolicy) {
        for shard in self.shards.iter() {
            shard.0.write().set_shrink_policy(policy);
        }
    }

    /// Keep, in every shard, the bytes keys and values own on the heap (see
    /// `gomap::HashMap::track_owned_bytes`): `mem_stats().owned_bytes` sums
    /// them, and the observer sees them move. A value changed through
    /// [`update`](Self::update) or [`get_mut`](Self::get_mut) is measured
    /// again when that write ends.
    ///
    /// ```
    /// let map: gomap_sync::ShardedMap<u32, Vec<u8>> = gomap_sync::ShardedMap::new();
    /// map.track_owned_bytes(|_| 0, Vec::capacity);
    /// map.insert(1, Vec::with_capacity(100));
    /// map.update(1, |e| e.or_default().reserve_exact(400));
    /// assert!(map.mem_stats().owned_bytes >= 400);
    /// ```
    pub fn track_owned_bytes(&self, key_bytes: fn(&K) -> usize, value_bytes: fn(&V) -> usize) {
        for i in 0..self.shards.len() {
            self.write_shard(i)
                .track_owned_bytes(key_bytes, value_bytes);
        }
    }

    /// Keeps only the entries for which `f` returns `true`, shard by shard
    /// (each under its write lock while `f` runs on its entries).
    pub fn retain(&self, mut f: impl FnMut(&K, &mut V) -> bool) {
        for i in 0..self.shards.len() {
            self.write_shard(i).retain(&mut f);
        }
    }

    /// Consumes the map, returning its shards (no lock: the map is owned).
    pub fn into_shards(self) -> Vec<HashMap<K, V, S>> {
        self.shards
            .into_vec()
            .into_iter()
            .map(|s| s.0.into_inner())
            .collect()
    }
}

/// Sums shard statistics (see [`ShardedMap::mem_stats`]).
pub(crate) fn sum_stats(shards: &[MemStats]) -> MemStats {
    let mut sum = MemStats {
        len: 0,
        buckets: 0,
        old_buckets: 0,
        overflow_buckets: 0,
        bucket_size: shards.first().map_or(0, |s| s.bucket_size),
        allocated_bytes: 0,
        payload_bytes: 0,
        owned_bytes: 0,
        migration: None,
    };
    let mut largest = 0;
    for s in shards {
        sum.len += s.len;
        sum.buckets += s.buckets;
        sum.old_buckets += s.old_buckets;
        sum.overflow_buckets += s.overflow_buckets;
        sum.allocated_bytes += s.allocated_bytes;
        sum.payload_bytes += s.payload_bytes;
        sum.owned_bytes += s.owned_bytes;
        if let Some(m) = s.migration {
            let total = sum.migration.get_or_insert(Migration {
                kind: m.kind,
                evacuated: 0,
                total: 0,
            });
            total.evacuated += m.evacuated;
            total.total += m.total;
            if m.total > largest {
                largest = m.total;
                total.kind = m.kind;
            }
        }
    }
    sum
}

impl<K: Eq + Hash, V, S: BuildHasher> ShardedMap<K, V, S> {
    /// The key's hash and its shard's index. Every shard's map holds a
    /// clone of `hasher`, so this hash is the shard's own: handed to the
    /// shard's hash-given methods (`insert_hashed`, `find_slot_hashed`, …),
    /// a key is hashed once per call, not once for the shard and again for
    /// the bucket.
    #[inline]
    fn locate<Q: Hash + ?Sized>(&self, key: &Q) -> (u64, usize) {
        let hash = self.hasher.hash_one(key);
        (hash, (hash >> self.shift) as usize & self.mask)
    }

    /// The key's hash and its shard's lock.
    #[inline]
    fn shard_of<Q: Hash + ?Sized>(&self, key: &Q) -> (u64, &RwLock<HashMap<K, V, S>>) {
        let (hash, index) = self.locate(key);
        (hash, &self.shards[index].0)
    }

    /// Runs a write on the key's shard under its write lock, given the
    /// key's hash, then tells the observer.
    #[inline]
    fn write<Q: Hash + ?Sized, R>(
        &self,
        key: &Q,
        f: impl FnOnce(&mut HashMap<K, V, S>, u64) -> R,
    ) -> R {
        let (hash, index) = self.locate(key);
        f(&mut self.write_shard(index), hash)
    }

    /// Inserts a pair; returns the old value of the key, if any. Holds the
    /// key's shard's write lock while it inserts.
    pub fn insert(&self, key: K, value: V) -> Option<V> {
        let (hash, index) = self.locate(&key);
        self.write_shard(index).insert_hashed(hash, key, value)
    }

    /// Removes a key; returns its value, if it was there. Holds the key's
    /// shard's write lock while it removes (dashmap's `remove` returns the
    /// pair: that is [`remove_entry`](Self::remove_entry) here).
    pub fn remove<Q>(&self, key: &Q) -> Option<V>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.write(key, |shard, hash| shard.remove_entry_hashed(hash, key))
            .map(|(_, v)| v)
    }

    /// Removes a key; returns the stored key and its value, if it was there
    /// (the key's shard's write lock held while it removes).
    pub fn remove_entry<Q>(&self, key: &Q) -> Option<(K, V)>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.write(key, |shard, hash| shard.remove_entry_hashed(hash, key))
    }

    /// Whether the key is in the map (the key's shard's read lock held
    /// while it looks).
    pub fn contains_key<Q>(&self, key: &Q) -> bool
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let (hash, shard) = self.shard_of(key);
        shard.read().get_key_value_hashed(hash, key).is_some()
    }

    /// A clone of the key's value, taken under its shard's read lock.
    pub fn get_cloned<Q>(&self, key: &Q) -> Option<V>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
        V: Clone,
    {
        let (hash, shard) = self.shard_of(key);
        shard
            .read()
            .get_key_value_hashed(hash, key)
            .map(|(_, v)| v.clone())
    }

    /// Read-modify-write of one key under its shard's write lock: `f` gets
    /// the key's [`Entry`] (the full Entry API of `gomap::HashMap`) and its
    /// result is returned. Counters updated this way lose no increment.
    ///
    /// ```
    /// let map: gomap_sync::ShardedMap<&str, Vec<u32>> = gomap_sync::ShardedMap::new();
    /// map.update("a", |e| e.or_default().push(1));
    /// let len = map.update("a", |e| {
    ///     let v = e.or_default();
    ///     v.push(2);
    ///     v.len()
    /// });
    /// assert_eq!(len, 2);
    /// ```
    pub fn update<R>(&self, key: K, f: impl FnOnce(gomap::hash_map::Entry<'_, K, V, S>) -> R) -> R {
        let (hash, index) = self.locate(&key);
        f(self.write_shard(index).entry_hashed(hash, key))
    }

    /// The key's [`Entry`] (dashmap's entry API), holding the key's shard's
    /// write lock until the entry — or the [`RefMut`] it turns into — is
    /// dropped; the observer is told about the shard then. Finding the
    /// key is one lookup that moves nothing; inserting into a vacant entry
    /// is a second one (an insert; [`update`](Self::update) does a one-shot
    /// read-modify-write for one). Calling the map from the thread that
    /// holds the entry can deadlock, as with dashmap.
    ///
    /// ```
    /// let map: gomap_sync::ShardedMap<&str, Vec<u32>> = gomap_sync::ShardedMap::new();
    /// map.entry("a").or_default().push(1);
    /// map.entry("a").and_modify(|v| v.push(2)).or_default();
    /// assert_eq!(map.get_cloned("a"), Some(vec![1, 2]));
    /// ```
    pub fn entry(&self, key: K) -> Entry<'_, K, V, S> {
        let (hash, index) = self.locate(&key);
        Entry::new(self.write_shard(index), hash, key)
    }

    /// [`entry`](Self::entry) if the key's shard is not locked now; `None`
    /// (without waiting) if it is.
    pub fn try_entry(&self, key: K) -> Option<Entry<'_, K, V, S>> {
        let (hash, index) = self.locate(&key);
        let shard = self.shards[index].0.try_write()?;
        Some(Entry::new(self.observed(index, shard), hash, key))
    }

    /// The key's pair behind its shard's write lock, held until the
    /// [`RefMut`] is dropped (then the observer is told about the shard).
    /// One lookup; the pair stays in place (see [`mapref`]). Calling the
    /// map from the thread that holds the guard can deadlock, as with
    /// dashmap.
    ///
    /// ```
    /// let map: gomap_sync::ShardedMap<u32, u32> = gomap_sync::ShardedMap::new();
    /// map.insert(1, 1);
    /// *map.get_mut(&1).unwrap() += 1;
    /// assert_eq!(map.get_cloned(&1), Some(2));
    /// ```
    pub fn get_mut<Q>(&self, key: &Q) -> Option<RefMut<'_, K, V, S>>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let (hash, index) = self.locate(key);
        let shard = self.write_shard(index);
        let slot = shard.find_slot_hashed(hash, key)?;
        Some(RefMut::new(shard, slot))
    }

    /// [`get_mut`](Self::get_mut) without waiting: [`TryResult::Locked`] if
    /// the key's shard is locked now (by anyone, this thread included).
    pub fn try_get_mut<Q>(&self, key: &Q) -> TryResult<RefMut<'_, K, V, S>>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let (hash, index) = self.locate(key);
        let Some(shard) = self.shards[index].0.try_write() else {
            return TryResult::Locked;
        };
        let shard = self.observed(index, shard);
        match shard.find_slot_hashed(hash, key) {
            Some(slot) => TryResult::Present(RefMut::new(shard, slot)),
            None => TryResult::Absent,
        }
    }

    /// Removes the key if `f` returns `true` for its pair; returns the
    /// removed pair. `f` runs under the shard's write lock.
    ///
    /// ```
    /// let map: gomap_sync::ShardedMap<u32, u32> = (0..4).map(|i| (i, i)).collect();
    /// assert_eq!(map.remove_if(&2, |_, v| *v > 5), None);
    /// assert_eq!(map.remove_if(&3, |_, v| *v == 3), Some((3, 3)));
    /// ```
    pub fn remove_if<Q>(&self, key: &Q, f: impl FnOnce(&K, &V) -> bool) -> Option<(K, V)>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        // One lookup: the guard keeps the pair's slot; `pair` reads it
        // without lending the value.
        let lent = self.get_mut(key)?;
        let (k, v) = lent.pair();
        if f(k, v) {
            Some(lent.remove())
        } else {
            None
        }
    }

    /// [`remove_if`](Self::remove_if) whose `f` may change the value (the
    /// change stays if `f` returns `false`, or if `f` panics). Under the
    /// shard's write lock, as [`get_mut`](Self::get_mut).
    pub fn remove_if_mut<Q>(&self, key: &Q, f: impl FnOnce(&K, &mut V) -> bool) -> Option<(K, V)>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let mut lent = self.get_mut(key)?;
        let (k, v) = lent.pair_mut();
        if f(k, v) {
            Some(lent.remove())
        } else {
            None
        }
    }

    /// Replaces the key's value with `f(key, value)`, under the shard's
    /// write lock; nothing happens if the key is absent. The value moves
    /// into `f`: if `f` panics the entry is gone (dashmap aborts the
    /// process instead), and the observer still sees the shard.
    ///
    /// ```
    /// let map: gomap_sync::ShardedMap<&str, String> = gomap_sync::ShardedMap::new();
    /// map.insert("a", "x".into());
    /// map.alter("a", |_, v| v + "y");
    /// assert_eq!(map.get_cloned("a").as_deref(), Some("xy"));
    /// ```
    pub fn alter<Q>(&self, key: &Q, f: impl FnOnce(&K, V) -> V)
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.write(key, |shard, hash| {
            if let Some((k, v)) = shard.remove_entry_hashed(hash, key) {
                let v = f(&k, v);
                shard.insert_hashed(hash, k, v);
            }
        });
    }

    /// Replaces every value with `f(key, value)`, one shard at a time
    /// (under its write lock). Each shard's pairs are drained out (its
    /// bucket array kept, shrinking paused) and put back as they are
    /// altered. If `f` panics, the pair it was given is gone and the
    /// shard's other pairs are put back unaltered; later shards are not
    /// visited; every visited shard is observed.
    ///
    /// ```
    /// let map: gomap_sync::ShardedMap<u32, u32> = (0..10).map(|i| (i, i)).collect();
    /// map.alter_all(|k, v| v + k);
    /// assert_eq!(map.get_cloned(&7), Some(14));
    /// ```
    pub fn alter_all(&self, mut f: impl FnMut(&K, V) -> V) {
        for index in 0..self.shards.len() {
            let mut shard = self.write_shard(index);
            let policy = shard.shrink_policy();
            shard.set_shrink_policy(ShrinkPolicy::Never);
            let pairs: Vec<(K, V)> = shard.drain().collect();
            let mut refill = Refill {
                shard: &mut shard,
                policy,
                rest: pairs.into_iter(),
            };
            for (k, v) in refill.rest.by_ref() {
                let v = f(&k, v);
                refill.shard.insert(k, v);
            }
        }
    }

    /// `f(key, value)` for the key's pair, under its shard's read lock
    /// (held while `f` runs); `None` if the key is absent.
    ///
    /// ```
    /// let map: gomap_sync::ShardedMap<u32, String> = gomap_sync::ShardedMap::new();
    /// map.insert(1, "abc".into());
    /// assert_eq!(map.view(&1, |_, v| v.len()), Some(3));
    /// assert_eq!(map.view(&2, |_, v| v.len()), None);
    /// ```
    pub fn view<Q, R>(&self, key: &Q, f: impl FnOnce(&K, &V) -> R) -> Option<R>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let (hash, shard) = self.shard_of(key);
        let shard = shard.read();
        let (k, v) = shard.get_key_value_hashed(hash, key)?;
        Some(f(k, v))
    }

    /// Room for `additional` more entries, spread over the shards: each
    /// shard reserves `ceil(additional / shards)` plus three standard
    /// deviations of a random spread (`3 * sqrt` of that share), one shard
    /// lock at a time. So `additional` more inserts grow no shard as long
    /// as no shard gets more than that — which holds for the default hasher
    /// except by rare chance; a skewed hash (many keys in one shard) can
    /// still make a shard grow. (A grow is incremental: it stalls nothing.)
    /// The reserved room is also each shard's floor for automatic
    /// shrinking. Every shard is observed.
    ///
    /// # Panics
    /// If the capacity overflows; aborts if the allocator fails.
    ///
    /// ```
    /// let map: gomap_sync::ShardedMap<u64, u64> = gomap_sync::ShardedMap::with_shard_amount(4);
    /// map.reserve(1000);
    /// assert!(map.capacity() >= 1000);
    /// ```
    pub fn reserve(&self, additional: usize) {
        let per_shard = self.reserve_per_shard(additional);
        for index in 0..self.shards.len() {
            self.write_shard(index).reserve(per_shard);
        }
    }

    /// [`reserve`](Self::reserve), returning an error instead of panicking
    /// or aborting. On error, the shards before the failing one keep what
    /// they reserved (each shard is unchanged by its own failure).
    ///
    /// ```
    /// let map: gomap_sync::ShardedMap<u64, u64> = gomap_sync::ShardedMap::new();
    /// assert!(map.try_reserve(usize::MAX).is_err());
    /// assert!(map.try_reserve(100).is_ok());
    /// ```
    pub fn try_reserve(&self, additional: usize) -> Result<(), TryReserveError> {
        let per_shard = self.reserve_per_shard(additional);
        for index in 0..self.shards.len() {
            self.write_shard(index).try_reserve(per_shard)?;
        }
        Ok(())
    }

    /// A shard's part of `reserve(additional)`: its even share plus three
    /// standard deviations of the binomial spread (`sqrt` of the share),
    /// saturating so that an impossible request fails in the shard.
    fn reserve_per_shard(&self, additional: usize) -> usize {
        if additional == 0 {
            return 0;
        }
        let share = additional.div_ceil(self.shards.len());
        if self.shards.len() == 1 {
            return share;
        }
        share.saturating_add(3 * share.isqrt() + 1)
    }

    /// A maintenance step for idle time: every shard whose write lock is
    /// free right now and that is in the middle of a migration (a grow or
    /// a shrink its writes stopped part way through) does `budget` entries'
    /// worth of it ([`HashMap::step_migration`]). A shard whose lock is
    /// held is passed over — never waited for: its holder is a writer,
    /// which does its own share. Returns how many of the shards it stepped
    /// still migrate; call again (say, on the next idle tick) until 0.
    ///
    /// ```
    /// let map: gomap_sync::ShardedMap<u64, u64> = (0..100_000).map(|k| (k, k)).collect();
    /// map.retain(|&k, _| k < 100); // every shard starts a shrink
    /// assert!(map.shard_stats().iter().any(|s| s.migration.is_some()));
    /// while map.step_migrations(256) > 0 {}
    /// assert!(map.shard_stats().iter().all(|s| s.migration.is_none()));
    /// ```
    pub fn step_migrations(&self, budget: usize) -> usize {
        let mut migrating = 0;
        for (index, shard) in self.shards.iter().enumerate() {
            let Some(guard) = shard.0.try_write() else {
                continue;
            };
            if guard.mem_stats().migration.is_none() {
                continue;
            }
            let mut shard = self.observed(index, guard);
            migrating += usize::from(shard.step_migration(budget));
        }
        migrating
    }

    /// Gives memory back in every shard now (one shard lock at a time).
    pub fn shrink_to_fit(&self) {
        for i in 0..self.shards.len() {
            self.write_shard(i).shrink_to_fit();
        }
    }

    /// Takes the whole contents out as one map, swapping in empty shards
    /// under every write lock at once (see [`take_shards`](Self::take_shards));
    /// the shards are merged after the locks are released.
    ///
    /// ```
    /// let map: gomap_sync::ShardedMap<u32, u32> = (0..100).map(|i| (i, i)).collect();
    /// let old = map.take();
    /// assert_eq!((old.len(), map.len()), (100, 0));
    /// ```
    pub fn take(&self) -> HashMap<K, V, S>
    where
        S: Clone,
    {
        let shards = self.take_shards();
        let total = shards.iter().map(HashMap::len).sum();
        let mut merged = HashMap::with_capacity_and_hasher(total, self.hasher.clone());
        // The shards keep owned bytes alike (`track_owned_bytes` sets all).
        if let Some((key_bytes, value_bytes)) =
            shards.first().and_then(HashMap::owned_bytes_measures)
        {
            merged.track_owned_bytes(key_bytes, value_bytes);
        }
        for shard in shards {
            merged.extend(shard);
        }
        merged
    }
}

#[cfg(not(loom))]
impl<K: Eq + Hash, V, S: BuildHasher> ShardedMap<K, V, S> {
    /// The key's pair behind its shard's read lock, held until the [`Ref`]
    /// is dropped: the shard's writers wait meanwhile. (One lookup; the
    /// `Ref` keeps the pair's slot, see [`mapref`].)
    ///
    /// # Deadlocks
    ///
    /// Do not write to the map, or call its all-shards operations, from a
    /// thread that holds the guard, as with dashmap. Worse than dashmap,
    /// this map's `clear`, `reset`, `take` and `read_all` hold every
    /// shard's lock at once (that is what makes them atomic): if one of
    /// them is waiting for this guard's shard while holding others, and
    /// this thread then asks for one of those, neither goes on. Copy the
    /// value out ([`get_cloned`](Self::get_cloned), [`view`](Self::view))
    /// or use [`update`](Self::update) when more work follows.
    ///
    /// ```
    /// let map: gomap_sync::ShardedMap<String, u32> = gomap_sync::ShardedMap::new();
    /// map.insert("a".to_string(), 1);
    /// let r = map.get("a").unwrap();
    /// assert_eq!((r.key().as_str(), *r), ("a", 1));
    /// ```
    pub fn get<Q>(&self, key: &Q) -> Option<Ref<'_, K, V>>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let (hash, shard) = self.shard_of(key);
        let shard = shard.read();
        let slot = shard.find_slot_hashed(hash, key)?;
        Some(Ref::new(ReadGuard::map(shard, HashMap::slot_view), slot))
    }

    /// [`get`](Self::get) without waiting: [`TryResult::Locked`] if the
    /// key's shard is write-locked now (by anyone, this thread included —
    /// a [`RefMut`] or an entry it holds).
    ///
    /// ```
    /// use gomap_sync::sharded::TryResult;
    ///
    /// let map: gomap_sync::ShardedMap<u32, u32> = gomap_sync::ShardedMap::new();
    /// map.insert(1, 1);
    /// assert!(map.try_get(&1).is_present());
    /// let held = map.get_mut(&1).unwrap();
    /// assert!(matches!(map.try_get(&1), TryResult::Locked));
    /// drop(held);
    /// assert!(map.try_get(&2).is_absent());
    /// ```
    pub fn try_get<Q>(&self, key: &Q) -> TryResult<Ref<'_, K, V>>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let (hash, shard) = self.shard_of(key);
        let Some(shard) = shard.try_read() else {
            return TryResult::Locked;
        };
        match shard.find_slot_hashed(hash, key) {
            Some(slot) => {
                TryResult::Present(Ref::new(ReadGuard::map(shard, HashMap::slot_view), slot))
            }
            None => TryResult::Absent,
        }
    }

    /// Every pair, one shard at a time, without copying anything (no
    /// `Clone` bound): each item is a [`RefMulti`] holding its shard's read
    /// lock (see [`Iter`] for each lock's scope). Not one instant of the
    /// whole map: a concurrent [`clear`](Self::clear) may be seen in some
    /// shards and not others; [`read_all`](Self::read_all) is the map at one
    /// instant. Each shard is walked by slot under one read guard its
    /// items share (no lookup; see [`mapref`]).
    ///
    /// ```
    /// struct NotClone(u32);
    /// let map: gomap_sync::ShardedMap<u32, NotClone> = gomap_sync::ShardedMap::new();
    /// map.insert(1, NotClone(10));
    /// map.insert(2, NotClone(20));
    /// let sum: u32 = map.iter().map(|r| r.key() + r.value().0).sum();
    /// assert_eq!(sum, 33);
    /// ```
    pub fn iter(&self) -> Iter<'_, K, V, S> {
        Iter::new(self)
    }
}

impl<K: Eq + Hash, V, S: BuildHasher> ShardedMap<K, V, S> {
    /// Every pair, one shard at a time, each item a [`RefMutMulti`] under
    /// its shard's write lock; see [`IterMut`] for how (each shard walked
    /// by slot, its pairs lent out in place: no lookup, nothing moved) and
    /// for each lock's scope. Each shard is observed when its
    /// lock is released. Calling the map from the thread that holds the
    /// iterator or an item can deadlock, as with dashmap.
    ///
    /// ```
    /// let map: gomap_sync::ShardedMap<u32, u32> = (0..10).map(|i| (i, i)).collect();
    /// for mut r in map.iter_mut() {
    ///     *r *= 2;
    /// }
    /// assert_eq!(map.get_cloned(&4), Some(8));
    /// ```
    pub fn iter_mut(&self) -> IterMut<'_, K, V, S> {
        IterMut::new(self)
    }
}

impl<K, V, S> ShardedMap<K, V, S> {
    /// Entries the shards hold before any of them must grow, summed (each
    /// shard read under its own lock).
    pub fn capacity(&self) -> usize {
        self.shards.iter().map(|s| s.0.read().capacity()).sum()
    }

    /// The map without its locks, for reading only (see [`ReadOnlyView`]).
    ///
    /// ```
    /// let map: gomap_sync::ShardedMap<u32, u32> = (0..3).map(|i| (i, i)).collect();
    /// let view = map.into_read_only();
    /// assert_eq!(view.get(&2), Some(&2));
    /// assert_eq!(view.values().sum::<u32>(), 3);
    /// ```
    pub fn into_read_only(self) -> ReadOnlyView<K, V, S> {
        ReadOnlyView::new(self)
    }
}

/// Pairs drained out of a shard by [`ShardedMap::alter_all`], put back as
/// they are altered; if an alteration panics, the rest are put back
/// unaltered as the panic unwinds, and the shard's shrink policy restored.
struct Refill<'g, 'a, K: Eq + Hash, V, S: BuildHasher> {
    shard: &'g mut Observed<'a, K, V, S>,
    policy: ShrinkPolicy,
    rest: std::vec::IntoIter<(K, V)>,
}

impl<K: Eq + Hash, V, S: BuildHasher> Drop for Refill<'_, '_, K, V, S> {
    fn drop(&mut self) {
        for (k, v) in self.rest.by_ref() {
            self.shard.insert(k, v);
        }
        self.shard.set_shrink_policy(self.policy);
    }
}

/// A shard's write guard that tells the map's observer about the shard
/// when it is released — also while a panic in user code (`Hash`, `Eq`,
/// `Drop`, an `update` closure) unwinds through the write, so the observer
/// never misses a change.
struct Observed<'a, K, V, S> {
    map: &'a ShardedMap<K, V, S>,
    index: usize,
    shard: WriteGuard<'a, HashMap<K, V, S>>,
}

impl<K, V, S> Deref for Observed<'_, K, V, S> {
    type Target = HashMap<K, V, S>;
    fn deref(&self) -> &HashMap<K, V, S> {
        &self.shard
    }
}

impl<K, V, S> DerefMut for Observed<'_, K, V, S> {
    fn deref_mut(&mut self) -> &mut HashMap<K, V, S> {
        &mut self.shard
    }
}

impl<K, V, S> Drop for Observed<'_, K, V, S> {
    fn drop(&mut self) {
        self.map.observe(self.index, &self.shard);
    }
}

/// The whole [`ShardedMap`] at one instant: every shard's read lock, held
/// until this is dropped. See [`ShardedMap::read_all`].
pub struct ReadAll<'a, K, V, S> {
    guards: Vec<ReadGuard<'a, HashMap<K, V, S>>>,
}

impl<K, V, S> ReadAll<'_, K, V, S> {
    /// Entries of the whole map.
    pub fn len(&self) -> usize {
        self.guards.iter().map(|g| g.len()).sum()
    }

    /// Whether the whole map is empty.
    pub fn is_empty(&self) -> bool {
        self.guards.iter().all(|g| g.is_empty())
    }

    /// Every pair, shard by shard.
    pub fn iter(&self) -> impl Iterator<Item = (&K, &V)> + '_ {
        self.guards.iter().flat_map(|g| g.iter())
    }

    /// The shards themselves, in shard order.
    pub fn shards(&self) -> impl Iterator<Item = &HashMap<K, V, S>> + '_ {
        self.guards.iter().map(|g| &**g)
    }
}

impl<K: fmt::Debug, V: fmt::Debug, S> fmt::Debug for ReadAll<'_, K, V, S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(self.iter()).finish()
    }
}

impl<K, V> Default for ShardedMap<K, V, DefaultHashBuilder> {
    fn default() -> Self {
        Self::new()
    }
}

impl<K: fmt::Debug, V: fmt::Debug, S> fmt::Debug for ShardedMap<K, V, S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.read_all().fmt(f)
    }
}

impl<K: Clone, V: Clone, S: Clone> Clone for ShardedMap<K, V, S> {
    /// A copy of the whole map at one instant (every read lock held while
    /// copying).
    fn clone(&self) -> Self {
        let view = self.read_all();
        ShardedMap {
            shards: view
                .guards
                .iter()
                .map(|g| Shard(RwLock::new((**g).clone())))
                .collect(),
            shift: self.shift,
            mask: self.mask,
            hasher: self.hasher.clone(),
            // The observer watches this map, not its copies.
            observer: None,
        }
    }
}

impl<K: Eq + Hash, V, S: BuildHasher> Extend<(K, V)> for &ShardedMap<K, V, S> {
    fn extend<I: IntoIterator<Item = (K, V)>>(&mut self, iter: I) {
        for (k, v) in iter {
            self.insert(k, v);
        }
    }
}

impl<K: Eq + Hash, V, S: BuildHasher> Extend<(K, V)> for ShardedMap<K, V, S> {
    fn extend<I: IntoIterator<Item = (K, V)>>(&mut self, iter: I) {
        // `&mut self`: no other thread can hold a lock, so none is taken.
        for (k, v) in iter {
            let (hash, i) = self.locate(&k);
            let shard = self.shards[i].0.get_mut();
            shard.insert_hashed(hash, k, v);
            if let Some(observer) = &self.observer {
                observer(i, shard);
            }
        }
    }
}

impl<K: Eq + Hash, V, S: BuildHasher + Clone + Default> FromIterator<(K, V)>
    for ShardedMap<K, V, S>
{
    fn from_iter<I: IntoIterator<Item = (K, V)>>(iter: I) -> Self {
        let mut map = Self::with_hasher(S::default());
        map.extend(iter);
        map
    }
}

impl<K, V, S> IntoIterator for ShardedMap<K, V, S> {
    type Item = (K, V);
    type IntoIter = std::iter::Flatten<std::vec::IntoIter<HashMap<K, V, S>>>;

    fn into_iter(self) -> Self::IntoIter {
        self.into_shards().into_iter().flatten()
    }
}

#[cfg(all(feature = "get-size2", not(loom)))]
impl<K, V, S> get_size2::GetSize for ShardedMap<K, V, S>
where
    K: get_size2::GetSize,
    V: get_size2::GetSize,
{
    /// The shard array, plus every shard's table and what its entries own,
    /// read under every read lock at once.
    ///
    /// ```
    /// use get_size2::GetSize;
    ///
    /// let map: gomap_sync::ShardedMap<u32, String> = gomap_sync::ShardedMap::with_shard_amount(4);
    /// map.insert(1, "x".repeat(100));
    /// let tables = map.mem_stats().allocated_bytes;
    /// assert!(map.get_heap_size() >= tables + 100);
    /// ```
    fn get_heap_size_with_tracker<T: get_size2::GetSizeTracker>(&self, tracker: T) -> (usize, T) {
        let array = self.shards.len() * std::mem::size_of::<Shard<K, V, S>>();
        self.read_all()
            .shards()
            .fold((array, tracker), |(total, tracker), shard| {
                let (bytes, tracker) = shard.get_heap_size_with_tracker(tracker);
                (total + bytes, tracker)
            })
    }
}
