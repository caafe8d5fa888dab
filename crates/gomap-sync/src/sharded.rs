//! [`ShardedMap`]: a power-of-two number of `gomap::HashMap` shards, each
//! behind its own `RwLock`.
//!
//! # Invariants
//!
//! - A key lives in exactly one shard, picked by the `log2(shards)` bits of
//!   its hash just below the top byte (bits `56 - log2(shards)..56`): clear
//!   of the top byte, which the shard map uses for its tophash, and of the
//!   low bits, which pick its bucket.
//! - **Lock order.** An operation holds either one shard lock, or all of
//!   them, taken in ascending shard index and released after the last one is
//!   taken. Nothing holds one shard's lock while waiting for another except
//!   the all-shards operations, which all wait in the same order: no two
//!   operations of one map can deadlock each other.
//! - The all-shards operations (`clear`, `take`, `take_shards`, `reset`,
//!   `read_all`, `iter`, `mem_stats`, `shard_stats`, `Clone`, `Debug`) see or
//!   change the whole map at one instant: a writer holding every write lock
//!   excludes every reader, so no reader sees part of a clear.
//! - A thread must not call a method of the map while it holds a guard of the
//!   same map (`Ref`, `RefMut`, `ReadAll`) or from inside a closure the map
//!   runs under a lock (`update`, `retain`): the locks are not reentrant, and
//!   a waiting writer blocks new readers (parking_lot's fair `RwLock`).

use std::borrow::Borrow;
use std::fmt;
use std::hash::{BuildHasher, Hash};
use std::ops::{Deref, DerefMut};
use std::sync::Arc;

use gomap::hash_map::Entry;
use gomap::{DefaultHashBuilder, HashMap, MemStats, Migration, ShrinkPolicy};

use crate::sync::{ReadGuard, RwLock, WriteGuard};

/// Shards at most: 2^16. More shards than this buys nothing but memory.
pub const MAX_SHARDS: usize = 1 << 16;

/// One shard on its own cache lines, so two threads writing neighbouring
/// shards' lock words do not share a line.
#[repr(align(128))]
struct Shard<K, V, S>(RwLock<HashMap<K, V, S>>);

/// A concurrent hash map: `gomap::HashMap` shards, each behind a
/// parking_lot `RwLock`.
///
/// Every shard gives memory back as it empties (`ShrinkPolicy::Auto`) and
/// reports its bytes; [`mem_stats`](Self::mem_stats) sums them.
/// [`clear`](Self::clear) and [`take`](Self::take) hold every shard's write
/// lock at once, so a reader — [`iter`](Self::iter), [`read_all`](Self::read_all)
/// — sees all of the map or none of it, never half (readers iterating
/// while another thread clears shard by shard see a mix).
///
/// # Lock order
///
/// Single-key operations hold one shard lock. Whole-map operations take every
/// shard's lock in ascending shard order and then release them, so no two
/// operations can deadlock. Do not call the map from a thread that holds one
/// of its guards, or from the closures of [`update`](Self::update) and
/// [`retain`](Self::retain): the locks are not reentrant.
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
    shards: Box<[Shard<K, V, S>]>,
    /// `hash >> shift & mask` is the shard of a hash.
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
    /// An empty map that hashes with `hasher`.
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
        Observed {
            map: self,
            index,
            shard: self.shards[index].0.write(),
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

    /// Entries, summed shard by shard. Concurrent writes may land in shards
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

    /// The pairs of the whole map at one instant, cloned under every read
    /// lock; the locks are released before the iterator is returned.
    ///
    /// With a concurrent [`clear`](Self::clear), the snapshot holds either
    /// everything from before the clear or only what was written after it.
    pub fn iter(&self) -> std::vec::IntoIter<(K, V)>
    where
        K: Clone,
        V: Clone,
    {
        let view = self.read_all();
        let mut pairs = Vec::with_capacity(view.len());
        pairs.extend(view.iter().map(|(k, v)| (k.clone(), v.clone())));
        pairs.into_iter()
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
                let empty = HashMap::with_hasher(shard.hasher().clone())
                    .with_shrink_policy(shard.shrink_policy());
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

    /// Sets every shard's shrink policy.
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

    /// Consumes the map, returning its shards.
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
    fn index_of<Q: Hash + ?Sized>(&self, key: &Q) -> usize {
        (self.hasher.hash_one(key) >> self.shift) as usize & self.mask
    }

    fn shard_of<Q: Hash + ?Sized>(&self, key: &Q) -> &RwLock<HashMap<K, V, S>> {
        &self.shards[self.index_of(key)].0
    }

    /// Runs a write on the key's shard under its write lock, then tells the
    /// observer.
    #[inline]
    fn write<Q: Hash + ?Sized, R>(&self, key: &Q, f: impl FnOnce(&mut HashMap<K, V, S>) -> R) -> R {
        f(&mut self.write_shard(self.index_of(key)))
    }

    /// Inserts a pair; returns the old value of the key, if any.
    pub fn insert(&self, key: K, value: V) -> Option<V> {
        self.write_shard(self.index_of(&key)).insert(key, value)
    }

    /// Removes a key; returns its value, if it was there.
    pub fn remove<Q>(&self, key: &Q) -> Option<V>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.write(key, |shard| shard.remove(key))
    }

    /// Removes a key; returns the stored key and its value, if it was there.
    pub fn remove_entry<Q>(&self, key: &Q) -> Option<(K, V)>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.write(key, |shard| shard.remove_entry(key))
    }

    /// Whether the key is in the map.
    pub fn contains_key<Q>(&self, key: &Q) -> bool
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.shard_of(key).read().contains_key(key)
    }

    /// A clone of the key's value, taken under its shard's read lock.
    pub fn get_cloned<Q>(&self, key: &Q) -> Option<V>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
        V: Clone,
    {
        self.shard_of(key).read().get(key).cloned()
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
    pub fn update<R>(&self, key: K, f: impl FnOnce(Entry<'_, K, V, S>) -> R) -> R {
        f(self.write_shard(self.index_of(&key)).entry(key))
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
            let mut shard = Observed {
                map: self,
                index,
                shard: guard,
            };
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
        for shard in shards {
            merged.extend(shard);
        }
        merged
    }
}

#[cfg(not(loom))]
impl<K: Eq + Hash, V, S: BuildHasher> ShardedMap<K, V, S> {
    /// The key's value behind its shard's read lock: the shard's writers
    /// wait until the guard is dropped.
    ///
    /// # Deadlocks
    ///
    /// Do not call the map again while holding the guard. Unlike dashmap's,
    /// this map's `clear`, `reset`, `take` and `read_all` hold every shard's
    /// lock at once (that is what makes them atomic): if one of them is
    /// waiting for this guard's shard while holding others, and this thread
    /// then asks for one of those, neither goes on. Copy the value out
    /// ([`get_cloned`](Self::get_cloned)) or use [`update`](Self::update)
    /// when more work follows.
    ///
    /// ```
    /// let map: gomap_sync::ShardedMap<String, u32> = gomap_sync::ShardedMap::new();
    /// map.insert("a".to_string(), 1);
    /// assert_eq!(*map.get("a").unwrap(), 1);
    /// ```
    pub fn get<Q>(&self, key: &Q) -> Option<Ref<'_, V>>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        ReadGuard::try_map(self.shard_of(key).read(), |shard| shard.get(key))
            .ok()
            .map(Ref)
    }

    /// The key's value behind its shard's write lock. The guard must not
    /// be held while calling the map again (see [`get`](Self::get)).
    ///
    /// ```
    /// let map: gomap_sync::ShardedMap<u32, u32> = gomap_sync::ShardedMap::new();
    /// map.insert(1, 1);
    /// *map.get_mut(&1).unwrap() += 1;
    /// assert_eq!(map.get_cloned(&1), Some(2));
    /// ```
    pub fn get_mut<Q>(&self, key: &Q) -> Option<RefMut<'_, V>>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let index = self.index_of(key);
        WriteGuard::try_map(self.shards[index].0.write(), |shard| shard.get_mut(key))
            .ok()
            .map(|guard| RefMut {
                guard: Some(guard),
                map: self,
                index,
            })
    }
}

/// Tells a map's observer about one shard again (for [`RefMut`], which
/// does not know the map's key and hasher types).
#[cfg(not(loom))]
trait Reobserve {
    fn reobserve(&self, index: usize);
}

#[cfg(not(loom))]
impl<K, V, S> Reobserve for ShardedMap<K, V, S> {
    fn reobserve(&self, index: usize) {
        if self.observer.is_some() {
            let shard = self.shards[index].0.write();
            self.observe(index, &shard);
        }
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

/// A value of a [`ShardedMap`] behind its shard's read lock.
#[cfg(not(loom))]
pub struct Ref<'a, V>(parking_lot::MappedRwLockReadGuard<'a, V>);

#[cfg(not(loom))]
impl<V> Deref for Ref<'_, V> {
    type Target = V;
    fn deref(&self) -> &V {
        &self.0
    }
}

#[cfg(not(loom))]
impl<V: fmt::Debug> fmt::Debug for Ref<'_, V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        (**self).fmt(f)
    }
}

/// A value of a [`ShardedMap`] behind its shard's write lock. When it is
/// dropped, the map's observer (if any) is told about the shard again,
/// under its lock: a value that grew in place is seen (its owned bytes,
/// when the map keeps them).
#[cfg(not(loom))]
pub struct RefMut<'a, V> {
    /// `Some` until dropped.
    guard: Option<parking_lot::MappedRwLockWriteGuard<'a, V>>,
    map: &'a dyn Reobserve,
    index: usize,
}

#[cfg(not(loom))]
impl<V> Deref for RefMut<'_, V> {
    type Target = V;
    fn deref(&self) -> &V {
        self.guard.as_ref().expect("a live guard")
    }
}

#[cfg(not(loom))]
impl<V> DerefMut for RefMut<'_, V> {
    fn deref_mut(&mut self) -> &mut V {
        self.guard.as_mut().expect("a live guard")
    }
}

#[cfg(not(loom))]
impl<V> Drop for RefMut<'_, V> {
    fn drop(&mut self) {
        // Release the shard, then take it again to observe it: the mapped
        // guard no longer reaches the shard itself.
        drop(self.guard.take());
        self.map.reobserve(self.index);
    }
}

#[cfg(not(loom))]
impl<V: fmt::Debug> fmt::Debug for RefMut<'_, V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        (**self).fmt(f)
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
            let i = self.index_of(&k);
            let shard = self.shards[i].0.get_mut();
            shard.insert(k, v);
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
