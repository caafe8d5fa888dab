//! The safe [`HashMap`]: std's API over the raw table.

mod entry;
mod entry_ref;
mod hashed;
mod hasher;
mod iter;
#[cfg(feature = "rayon")]
pub mod rayon;
mod slot;

pub use crate::raw::{LentSlot, Slot, SlotLender, SlotView};
pub use entry::{Entry, OccupiedEntry, VacantEntry};
pub use entry_ref::{EntryRef, VacantEntryRef};
pub use hasher::{DefaultHasher, RandomState};
pub use iter::{
    Drain, ExtractIf, IntoIter, IntoKeys, IntoValues, Iter, IterMut, Keys, Values, ValuesMut,
};

use crate::raw::{Floor, Measure, RawEntry, RawExtractIf, RawTable};
use crate::{
    DefaultHashBuilder, Equivalent, MemStats, MigrationKind, ShrinkPolicy, TryReserveError,
};
use allocator_api2::alloc::{Allocator, Global};
use core::fmt;
use core::hash::{BuildHasher, Hash};
use core::ops::Index;

/// A hash map built like Go's runtime map, with std's API.
///
/// Entries live in 8-slot buckets with one tophash byte per slot; a full
/// bucket chains an overflow bucket; at 6.5 entries per bucket the map moves
/// to twice as many buckets *incrementally* — each later write moves about
/// 16 entries, and finishes the move when little is left — so no insert
/// pays for rehashing the whole map. As it
/// empties, it moves to fewer buckets the same way (see [`ShrinkPolicy`]),
/// and [`mem_stats`](HashMap::mem_stats) says exactly how many bytes it holds.
///
/// Differences from `std::collections::HashMap` worth knowing:
/// * Iteration order is random per map, as in Go (each map starts its walks
///   at its own random bucket and slot), and, as with std, stable while the
///   map is not modified: every walk of an unchanged map — `iter`, `keys`,
///   `values`, `values_mut`, `iter_mut`, `into_iter`, `drain` — visits the
///   entries in the same order, so `keys()` zipped with `values()` pairs up.
///   Any write may change the order.
/// * [`capacity`](HashMap::capacity) counts entries before the bucket array
///   must grow; overflow buckets may still be allocated below it.
///
/// # Hash-given methods
///
/// `entry_hashed`, `insert_hashed`, `get_key_value_hashed`,
/// `get_mut_hashed`, `find_slot_hashed` and `remove_entry_hashed` take the
/// key's hash from the caller, who has it already — a sharded map picks
/// the shard from the same hash — so the key is hashed once. `hash` must
/// be what this map's hasher gives the key, `map.hasher().hash_one(&key)`,
/// or the same from a clone of that hasher. A wrong hash is a logic error,
/// like a key whose `Hash` changes while stored: a lookup may miss, an
/// insert may add a second entry equal to one it did not find, and a
/// lookup or removal may then find either of the two. It is never
/// undefined behaviour or a panic inside the map, every entry stays owned,
/// counted and dropped once, and a migration places a stored key by its
/// true hash when it moves it.
///
/// ```
/// use gomap::HashMap;
///
/// let mut stock = HashMap::new();
/// stock.insert("apples", 3);
/// *stock.entry("pears").or_insert(0) += 5;
/// assert_eq!(stock["apples"], 3);
/// assert_eq!(stock.remove("pears"), Some(5));
/// assert_eq!(stock.len(), 1);
/// ```
pub struct HashMap<K, V, S = DefaultHashBuilder, A: Allocator = Global> {
    hash_builder: S,
    table: RawTable<K, V, A>,
}

#[inline]
fn make_hash<Q: Hash + ?Sized, S: BuildHasher>(hash_builder: &S, key: &Q) -> u64 {
    hash_builder.hash_one(key)
}

/// The hash of a stored key, as the raw table asks for it when entries
/// move.
#[inline]
fn hasher_of<K: Hash, S: BuildHasher>(hash_builder: &S) -> impl Fn(&K) -> u64 + '_ {
    move |key: &K| make_hash(hash_builder, key)
}

impl<K, V> HashMap<K, V, DefaultHashBuilder> {
    /// An empty map. Allocates nothing until the first insert.
    ///
    /// ```
    /// let map: gomap::HashMap<u32, u32> = gomap::HashMap::new();
    /// assert_eq!(map.mem_stats().allocated_bytes, 0);
    /// ```
    pub fn new() -> Self {
        Self::with_hasher(DefaultHashBuilder::default())
    }

    /// An empty map that holds `capacity` entries before its bucket array
    /// grows, and never shrinks below that by itself.
    ///
    /// ```
    /// let map: gomap::HashMap<u32, u32> = gomap::HashMap::with_capacity(100);
    /// assert!(map.capacity() >= 100);
    /// ```
    pub fn with_capacity(capacity: usize) -> Self {
        Self::with_capacity_and_hasher(capacity, DefaultHashBuilder::default())
    }
}

impl<K, V, A: Allocator> HashMap<K, V, DefaultHashBuilder, A> {
    /// An empty map whose memory comes from `alloc`.
    ///
    /// ```
    /// use bumpalo::Bump;
    /// let arena = Bump::new();
    /// let mut map = gomap::HashMap::new_in(&arena);
    /// map.insert(1, "one");
    /// assert_eq!(map[&1], "one");
    /// ```
    pub fn new_in(alloc: A) -> Self {
        Self::with_hasher_in(DefaultHashBuilder::default(), alloc)
    }

    /// [`with_capacity`](HashMap::with_capacity) in `alloc`.
    pub fn with_capacity_in(capacity: usize, alloc: A) -> Self {
        Self::with_capacity_and_hasher_in(capacity, DefaultHashBuilder::default(), alloc)
    }
}

impl<K, V, S> HashMap<K, V, S> {
    /// An empty map using `hash_builder` to hash keys.
    ///
    /// ```
    /// use std::hash::RandomState;
    /// let mut map = gomap::HashMap::with_hasher(RandomState::new());
    /// map.insert(1, 2);
    /// ```
    pub const fn with_hasher(hash_builder: S) -> Self {
        HashMap {
            hash_builder,
            table: RawTable::new_in(Global),
        }
    }

    /// An empty map with room for `capacity` entries, hashing with
    /// `hash_builder`.
    pub fn with_capacity_and_hasher(capacity: usize, hash_builder: S) -> Self {
        Self::with_capacity_and_hasher_in(capacity, hash_builder, Global)
    }
}

impl<K, V, S, A: Allocator> HashMap<K, V, S, A> {
    /// An empty map hashing with `hash_builder`, allocating from `alloc`.
    pub const fn with_hasher_in(hash_builder: S, alloc: A) -> Self {
        HashMap {
            hash_builder,
            table: RawTable::new_in(alloc),
        }
    }

    /// An empty map with room for `capacity` entries, hashing with
    /// `hash_builder`, allocating from `alloc`.
    ///
    /// # Panics
    /// If the capacity overflows `usize` bytes; aborts through
    /// `handle_alloc_error` if the allocator fails (as std does).
    pub fn with_capacity_and_hasher_in(capacity: usize, hash_builder: S, alloc: A) -> Self {
        HashMap {
            hash_builder,
            table: RawTable::try_with_capacity_in(capacity, alloc).unwrap_or_else(|e| e.handle()),
        }
    }

    /// The map's hasher.
    pub fn hasher(&self) -> &S {
        &self.hash_builder
    }

    /// The map's allocator.
    pub fn allocator(&self) -> &A {
        self.table.allocator()
    }

    /// Entries the map holds before its bucket array must grow (6.5 per
    /// bucket). Overflow buckets may still be allocated below it.
    pub fn capacity(&self) -> usize {
        self.table.capacity()
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.table.len()
    }

    /// Whether the map has no entries.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The map's memory, exactly: buckets, overflow buckets, migration
    /// state and the bytes held from the allocator.
    ///
    /// ```
    /// let mut map = gomap::HashMap::new();
    /// map.extend((0u64..1000).map(|i| (i, i)));
    /// let stats = map.mem_stats();
    /// assert_eq!(stats.len, 1000);
    /// assert_eq!(stats.payload_bytes, 1000 * 16);
    /// assert!(stats.allocated_bytes >= stats.payload_bytes);
    /// ```
    #[inline]
    pub fn mem_stats(&self) -> MemStats {
        self.table.mem_stats()
    }

    /// Keep, from now on, the bytes keys and values own on the heap (a
    /// `String`'s text, a `Vec`'s buffer): `key_bytes` and `value_bytes`
    /// measure one key or value (their heap bytes only; the table counts
    /// `size_of`). The figure — [`owned_bytes`](Self::owned_bytes), and
    /// `mem_stats().owned_bytes` — is kept exact on every write at O(1)
    /// (measuring what the write adds or takes out), and entries are
    /// measured once now.
    ///
    /// A value handed out as `&mut V` (`get_mut`, `iter_mut`, `values_mut`,
    /// the entry API, `retain`) is measured again once that borrow has
    /// ended, so a `Vec` that grows in place is counted. The one thing it
    /// cannot see is a change made through interior mutability (a `RefCell`
    /// or `Mutex` inside a value) without a `&mut` from the map: that value
    /// counts at its size when last measured. Plain `fn`s keep the map
    /// `Send`/`Sync` and cost one indirect call per measure; with the
    /// `get-size2` feature, `track_owned_bytes_get_size`
    /// measures with `GetSize`. A measuring function that panics leaves the
    /// map consistent: the write it measured for is not made, or the value
    /// counts at its size when last measured.
    ///
    /// ```
    /// let mut cache: gomap::HashMap<u64, Vec<u8>> = gomap::HashMap::new();
    /// cache.track_owned_bytes(|_| 0, |v| v.capacity());
    /// cache.insert(1, Vec::with_capacity(1000));
    /// cache.get_mut(&1).unwrap().reserve_exact(3000);
    /// assert!(cache.owned_bytes() >= Some(3000));
    /// cache.remove(&1);
    /// assert_eq!(cache.mem_stats().owned_bytes, 0);
    /// ```
    pub fn track_owned_bytes(&mut self, key_bytes: fn(&K) -> usize, value_bytes: fn(&V) -> usize) {
        self.table.track_owned(Measure {
            key: key_bytes,
            value: value_bytes,
        });
    }

    /// Builder-style [`track_owned_bytes`](Self::track_owned_bytes).
    pub fn with_owned_bytes(
        mut self,
        key_bytes: fn(&K) -> usize,
        value_bytes: fn(&V) -> usize,
    ) -> Self {
        self.track_owned_bytes(key_bytes, value_bytes);
        self
    }

    /// [`track_owned_bytes`](Self::track_owned_bytes) with get-size2's
    /// `GetSize::get_heap_size` for keys and values (feature `get-size2`).
    #[cfg(feature = "get-size2")]
    pub fn track_owned_bytes_get_size(&mut self)
    where
        K: get_size2::GetSize,
        V: get_size2::GetSize,
    {
        self.track_owned_bytes(K::get_heap_size, V::get_heap_size);
    }

    /// The measuring functions the map keeps owned bytes with (given to
    /// [`track_owned_bytes`](Self::track_owned_bytes)), or `None` when it
    /// keeps none: to make another map, say an empty one that replaces
    /// this, measure the same way.
    ///
    /// ```
    /// use gomap::HashMap;
    ///
    /// let tracked: HashMap<u32, Vec<u8>> = HashMap::new().with_owned_bytes(|_| 0, Vec::capacity);
    /// let mut next: HashMap<u32, Vec<u8>> = HashMap::new();
    /// if let Some((key_bytes, value_bytes)) = tracked.owned_bytes_measures() {
    ///     next.track_owned_bytes(key_bytes, value_bytes);
    /// }
    /// next.insert(1, Vec::with_capacity(100));
    /// assert_eq!(next.owned_bytes(), Some(100));
    /// ```
    // The pair is `track_owned_bytes`'s two parameters, as they are written there.
    #[allow(clippy::type_complexity)]
    pub fn owned_bytes_measures(&self) -> Option<(fn(&K) -> usize, fn(&V) -> usize)> {
        self.table
            .owned_measure()
            .map(|measure| (measure.key, measure.value))
    }

    /// Stop keeping owned bytes.
    pub fn untrack_owned_bytes(&mut self) {
        self.table.untrack_owned();
    }

    /// The bytes keys and values own now, if the map keeps them (see
    /// [`track_owned_bytes`](Self::track_owned_bytes)).
    pub fn owned_bytes(&self) -> Option<usize> {
        self.table.owned_bytes()
    }

    /// How many migrations of each kind this map has started since it was
    /// made (a clone starts with its original's counts). Monitoring uses it
    /// to count grows and shrinks that start and finish between two looks.
    ///
    /// ```
    /// use gomap::{HashMap, MigrationKind};
    ///
    /// let mut map: HashMap<u32, u32> = HashMap::new();
    /// for i in 0..1000 {
    ///     map.insert(i, i);
    /// }
    /// assert!(map.migrations_started(MigrationKind::Grow) > 0);
    /// assert_eq!(map.migrations_started(MigrationKind::Shrink), 0);
    /// map.retain(|k, _| k % 100 == 0);
    /// assert_eq!(map.migrations_started(MigrationKind::Shrink), 1);
    /// ```
    pub fn migrations_started(&self, kind: MigrationKind) -> u64 {
        self.table.migrations_started(kind)
    }

    /// How many times this map has called its allocator (to allocate, free,
    /// or shrink a block in place; a clone starts from its original's
    /// count). `mem_stats().allocated_bytes` only moves when this does, so a
    /// monitor can compare it between two looks instead of computing the
    /// stats on every write.
    ///
    /// ```
    /// let mut map: gomap::HashMap<u32, u32> = gomap::HashMap::new();
    /// let before = map.allocator_calls();
    /// map.insert(1, 1); // the first bucket array
    /// assert!(map.allocator_calls() > before);
    /// ```
    #[inline]
    pub fn allocator_calls(&self) -> u64 {
        self.table.allocator_calls()
    }

    /// The map's shrink policy ([`ShrinkPolicy::Auto`] unless set).
    pub fn shrink_policy(&self) -> ShrinkPolicy {
        self.table.shrink_policy()
    }

    /// Set whether the map shrinks by itself as it empties.
    pub fn set_shrink_policy(&mut self, policy: ShrinkPolicy) {
        self.table.set_shrink_policy(policy);
    }

    /// Builder-style [`set_shrink_policy`](HashMap::set_shrink_policy).
    pub fn with_shrink_policy(mut self, policy: ShrinkPolicy) -> Self {
        self.set_shrink_policy(policy);
        self
    }

    /// Drop every entry and keep the bucket array (std's and Go's `clear`):
    /// refilling to the same size allocates nothing new. Overflow buckets
    /// and a running migration's old array are freed. Under
    /// [`ShrinkPolicy::Auto`] later writes shrink the array incrementally;
    /// use [`reset`](HashMap::reset) to free it now.
    ///
    /// ```
    /// let mut map: gomap::HashMap<u32, u32> = (0..1000).map(|i| (i, i)).collect();
    /// let buckets = map.mem_stats().buckets;
    /// map.clear();
    /// assert!(map.is_empty());
    /// assert_eq!(map.mem_stats().buckets, buckets);
    /// ```
    pub fn clear(&mut self) {
        self.table.clear();
    }

    /// Drop every entry **and** free every bucket now, like Go's
    /// `m = make(map[K]V)`. The map keeps its hasher and shrink policy and
    /// forgets any reserved capacity.
    ///
    /// ```
    /// let mut map: gomap::HashMap<u32, u32> = (0..1000).map(|i| (i, i)).collect();
    /// map.reset();
    /// assert_eq!(map.mem_stats().allocated_bytes, 0);
    /// ```
    pub fn reset(&mut self) {
        self.table.reset();
    }

    /// Keep only the entries for which `f` returns true. Removes in place;
    /// emptied overflow buckets are freed, and under `Auto` a shrink may
    /// start.
    ///
    /// ```
    /// let mut map: gomap::HashMap<u32, u32> = (0..10).map(|i| (i, i)).collect();
    /// map.retain(|k, _| k % 2 == 0);
    /// assert_eq!(map.len(), 5);
    /// ```
    pub fn retain<F: FnMut(&K, &mut V) -> bool>(&mut self, f: F) {
        self.table.retain(f);
    }

    /// Remove every entry, handing them out; the bucket array is kept, as
    /// with [`clear`](HashMap::clear). Entries not taken are dropped with
    /// the iterator. An iterator leaked with `mem::forget` leaves the
    /// entries it did not hand out in the map, and the map's owned bytes
    /// (if tracked) read as 0 until tracking is started again.
    pub fn drain(&mut self) -> Drain<'_, K, V, A> {
        Drain::new(self.table.drain())
    }

    /// An iterator that removes and hands out every entry for which `pred`
    /// returns true, as it is advanced. Entries it has not reached when it
    /// is dropped stay in the map, whatever `pred` would say; `pred` sees
    /// every entry once, and may change the values it keeps. Like
    /// [`retain`](HashMap::retain) it removes in place, frees emptied
    /// overflow buckets, and under [`ShrinkPolicy::Auto`] may start a
    /// shrink when it is dropped. If `pred` panics, the entries it has not
    /// reached stay and the map remains usable.
    ///
    /// ```
    /// use gomap::HashMap;
    ///
    /// let mut map: HashMap<u32, u32> = (0..8).map(|i| (i, i)).collect();
    /// let mut evens: Vec<u32> = map.extract_if(|k, _| k % 2 == 0).map(|(k, _)| k).collect();
    /// evens.sort();
    /// assert_eq!(evens, [0, 2, 4, 6]);
    /// assert_eq!(map.len(), 4);
    /// ```
    pub fn extract_if<F>(&mut self, pred: F) -> ExtractIf<'_, K, V, F, A>
    where
        F: FnMut(&K, &mut V) -> bool,
    {
        ExtractIf::new(self.table.extract_if(), pred)
    }

    /// The raw extractor, for the set's `extract_if` (whose predicate
    /// takes only the key).
    pub(crate) fn raw_extract_if(&mut self) -> RawExtractIf<'_, K, V, A> {
        self.table.extract_if()
    }

    /// Every `(&key, &value)`, in the map's order: random per map, the same
    /// for every walk until the map is modified.
    pub fn iter(&self) -> Iter<'_, K, V> {
        Iter::new(self.table.iter())
    }

    /// Every `(&key, &mut value)`.
    pub fn iter_mut(&mut self) -> IterMut<'_, K, V> {
        IterMut::new(self.table.iter_mut())
    }

    /// Every key.
    pub fn keys(&self) -> Keys<'_, K, V> {
        Keys::new(self.iter())
    }

    /// Every value.
    pub fn values(&self) -> Values<'_, K, V> {
        Values::new(self.iter())
    }

    /// Every value, mutably.
    pub fn values_mut(&mut self) -> ValuesMut<'_, K, V> {
        ValuesMut::new(self.iter_mut())
    }

    /// Every key, by value, consuming the map.
    pub fn into_keys(self) -> IntoKeys<K, V, A> {
        IntoKeys::new(self.into_iter())
    }

    /// Every value, by value, consuming the map.
    pub fn into_values(self) -> IntoValues<K, V, A> {
        IntoValues::new(self.into_iter())
    }
}

impl<K: Eq + Hash, V, S: BuildHasher, A: Allocator> HashMap<K, V, S, A> {
    #[inline]
    fn hasher_fn(hash_builder: &S) -> impl Fn(&K) -> u64 + '_ {
        hasher_of(hash_builder)
    }

    /// Room for a batch of about `hint` new pairs, as `extend` reserves
    /// it (like std: all of it into an empty map, half otherwise, since
    /// some keys are likely present already), without raising the floor
    /// automatic shrinking keeps to: a collected map may still shrink.
    fn reserve_for_batch(&mut self, hint: usize) {
        let reserve = if self.is_empty() {
            hint
        } else {
            hint.div_ceil(2)
        };
        let hasher = Self::hasher_fn(&self.hash_builder);
        if let Err(e) = self.table.try_reserve(reserve, Floor::Keep, hasher) {
            e.handle();
        }
    }

    /// Room for `additional` more entries before the bucket array grows;
    /// this capacity also becomes the floor automatic shrinking respects.
    /// A bigger array is allocated now and filled by later writes (a
    /// migration), so even a huge map does not stall here.
    ///
    /// # Panics
    /// If the capacity overflows; aborts if the allocator fails.
    pub fn reserve(&mut self, additional: usize) {
        if let Err(e) = self.try_reserve(additional) {
            e.handle();
        }
    }

    /// [`reserve`](HashMap::reserve), returning an error instead of
    /// panicking or aborting. On error the map is unchanged.
    ///
    /// ```
    /// let mut map: gomap::HashMap<u64, u64> = gomap::HashMap::new();
    /// assert!(map.try_reserve(usize::MAX).is_err());
    /// assert!(map.try_reserve(10).is_ok());
    /// ```
    pub fn try_reserve(&mut self, additional: usize) -> Result<(), TryReserveError> {
        self.table.try_reserve(
            additional,
            Floor::Raise,
            Self::hasher_fn(&self.hash_builder),
        )
    }

    /// Finish any migration and move to the smallest bucket array that
    /// holds the entries, without overflow buckets if one rebuild can do
    /// it; an empty map frees everything. Also lowers the reserved floor.
    pub fn shrink_to_fit(&mut self) {
        self.shrink_to(0);
    }

    /// Like [`shrink_to_fit`](HashMap::shrink_to_fit), keeping room for at
    /// least `min_capacity` entries.
    pub fn shrink_to(&mut self, min_capacity: usize) {
        self.table
            .shrink_to(min_capacity, Self::hasher_fn(&self.hash_builder));
    }

    /// Complete a running grow, compaction or shrink now, instead of over
    /// the next writes.
    ///
    /// ```
    /// let mut map: gomap::HashMap<u32, u32> = (0..100_000).map(|i| (i, i)).collect();
    /// map.finish_migration();
    /// assert_eq!(map.mem_stats().migration, None);
    /// ```
    pub fn finish_migration(&mut self) {
        self.table
            .finish_migration(Self::hasher_fn(&self.hash_builder));
    }

    /// Do a bounded piece of a running grow, compaction or shrink now: a
    /// maintenance step for an owner with idle time, so a map whose writes
    /// stopped part way through a migration does not keep two bucket
    /// arrays. Moves about `budget` entries (at least one step, finishing
    /// the old bucket it started on); passing over an empty old bucket
    /// costs 1/64 of an entry, so a step over a sparse array looks at up to
    /// `64 * budget` buckets. Returns whether a migration is still running:
    /// `false` means there is nothing left to do.
    ///
    /// Writes do this work on their own, a share per write; a migration
    /// whose remainder is small (at most 128 entries and 8 192 old buckets'
    /// worth) is finished by the write that gets there.
    ///
    /// ```
    /// use gomap::HashMap;
    ///
    /// let mut map: HashMap<u64, u64> = (0..100_000).map(|k| (k, k)).collect();
    /// map.retain(|&k, _| k < 1_000); // starts a shrink to a smaller array
    /// assert!(map.mem_stats().migration.is_some());
    /// while map.step_migration(256) {} // e.g. a little per idle tick
    /// assert!(map.mem_stats().migration.is_none());
    /// assert_eq!(map.mem_stats().old_buckets, 0);
    /// assert_eq!(map.len(), 1_000);
    /// ```
    pub fn step_migration(&mut self, budget: usize) -> bool {
        self.table
            .step_migration(budget, Self::hasher_fn(&self.hash_builder))
    }

    /// The entry for `key`, for in-place reading, updating or inserting.
    ///
    /// ```
    /// let mut words = gomap::HashMap::new();
    /// for w in "a b a c a".split(' ') {
    ///     *words.entry(w).or_insert(0) += 1;
    /// }
    /// assert_eq!(words["a"], 3);
    /// ```
    #[inline]
    pub fn entry(&mut self, key: K) -> Entry<'_, K, V, S, A> {
        self.entry_hashed(make_hash(&self.hash_builder, &key), key)
    }

    /// The value for `key`.
    #[inline]
    pub fn get<Q: Hash + Equivalent<K> + ?Sized>(&self, key: &Q) -> Option<&V> {
        self.get_key_value(key).map(|(_, v)| v)
    }

    /// The stored key and the value for `key`.
    #[inline]
    pub fn get_key_value<Q: Hash + Equivalent<K> + ?Sized>(&self, key: &Q) -> Option<(&K, &V)> {
        self.get_key_value_hashed(make_hash(&self.hash_builder, key), key)
    }

    /// The value for `key`, mutably.
    #[inline]
    pub fn get_mut<Q: Hash + Equivalent<K> + ?Sized>(&mut self, key: &Q) -> Option<&mut V> {
        self.get_mut_hashed(make_hash(&self.hash_builder, key), key)
    }

    /// Whether the map has `key`.
    #[inline]
    pub fn contains_key<Q: Hash + Equivalent<K> + ?Sized>(&self, key: &Q) -> bool {
        self.get_key_value(key).is_some()
    }

    /// Insert `value` for `key`, returning the old value if there was one
    /// (the stored key is kept, as std does).
    #[inline]
    pub fn insert(&mut self, key: K, value: V) -> Option<V> {
        self.insert_hashed(make_hash(&self.hash_builder, &key), key, value)
    }

    /// Insert `key`, or swap it for the equal stored key and return that
    /// one (for `HashSet::replace`).
    pub(crate) fn replace_key(&mut self, key: K, value: V) -> Option<K> {
        let hash = make_hash(&self.hash_builder, &key);
        let hasher = Self::hasher_fn(&self.hash_builder);
        match self.table.entry(hash, |k| *k == key, &hasher) {
            RawEntry::Occupied(mut raw) => Some(raw.replace_key(key)),
            RawEntry::Vacant(raw) => {
                raw.insert(key, value, &hasher);
                None
            }
        }
    }

    /// Remove `key`, returning its value.
    #[inline]
    pub fn remove<Q: Hash + Equivalent<K> + ?Sized>(&mut self, key: &Q) -> Option<V> {
        self.remove_entry(key).map(|(_, v)| v)
    }

    /// Remove `key`, returning the stored key and its value.
    #[inline]
    pub fn remove_entry<Q: Hash + Equivalent<K> + ?Sized>(&mut self, key: &Q) -> Option<(K, V)> {
        self.remove_entry_hashed(make_hash(&self.hash_builder, key), key)
    }

    /// Mutable references to the values of `N` keys at once; `None` for a
    /// key that is absent.
    ///
    /// On a map that tracks owned bytes
    /// ([`track_owned_bytes`](Self::track_owned_bytes)), the next use of
    /// the map measures every entry again, O(len), as after
    /// [`values_mut`](Self::values_mut): the loan of several values is not
    /// kept value by value.
    ///
    /// # Panics
    /// If two of the keys find the same entry (`"duplicate keys found"`,
    /// as std).
    ///
    /// ```
    /// use gomap::HashMap;
    ///
    /// let mut stock = HashMap::from([("apples".to_string(), 3), ("pears".to_string(), 5)]);
    /// let [Some(apples), Some(pears), None] = stock.get_disjoint_mut(["apples", "pears", "plums"])
    /// else {
    ///     panic!()
    /// };
    /// std::mem::swap(apples, pears);
    /// assert_eq!(stock["apples"], 5);
    /// ```
    ///
    /// ```should_panic
    /// let mut map = gomap::HashMap::from([(1, 'a')]);
    /// let _ = map.get_disjoint_mut([&1, &1]); // panics: duplicate keys found
    /// ```
    pub fn get_disjoint_mut<Q: Hash + Equivalent<K> + ?Sized, const N: usize>(
        &mut self,
        ks: [&Q; N],
    ) -> [Option<&mut V>; N] {
        let hashes = ks.map(|k| make_hash(&self.hash_builder, k));
        self.table
            .get_disjoint_mut(hashes, |i, k| ks[i].equivalent(k))
    }
}

impl<K, V, S: Default> Default for HashMap<K, V, S> {
    fn default() -> Self {
        Self::with_hasher(S::default())
    }
}

impl<K: Clone, V: Clone, S: Clone, A: Allocator + Clone> Clone for HashMap<K, V, S, A> {
    fn clone(&self) -> Self {
        HashMap {
            hash_builder: self.hash_builder.clone(),
            table: self.table.clone(),
        }
    }

    /// Makes `self` a copy of `source`: its entries are dropped first, then
    /// `source`'s cloned, reusing `self`'s bucket array when the two have
    /// the same shape.
    fn clone_from(&mut self, source: &Self) {
        self.hash_builder.clone_from(&source.hash_builder);
        self.table.clone_from(&source.table);
    }
}

impl<K: fmt::Debug, V: fmt::Debug, S, A: Allocator> fmt::Debug for HashMap<K, V, S, A> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(self.iter()).finish()
    }
}

impl<K: Eq + Hash, V: PartialEq, S: BuildHasher, A: Allocator> PartialEq for HashMap<K, V, S, A> {
    fn eq(&self, other: &Self) -> bool {
        self.len() == other.len()
            && self
                .iter()
                .all(|(k, v)| other.get(k).is_some_and(|ov| v == ov))
    }
}

impl<K: Eq + Hash, V: Eq, S: BuildHasher, A: Allocator> Eq for HashMap<K, V, S, A> {}

impl<K: Eq + Hash, Q: Hash + Equivalent<K> + ?Sized, V, S: BuildHasher, A: Allocator> Index<&Q>
    for HashMap<K, V, S, A>
{
    type Output = V;

    /// # Panics
    /// If the key is not in the map.
    fn index(&self, key: &Q) -> &V {
        self.get(key).expect("no entry found for key")
    }
}

impl<K: Eq + Hash, V, S: BuildHasher, A: Allocator> Extend<(K, V)> for HashMap<K, V, S, A> {
    fn extend<T: IntoIterator<Item = (K, V)>>(&mut self, iter: T) {
        let iter = iter.into_iter();
        self.reserve_for_batch(iter.size_hint().0);
        for (k, v) in iter {
            self.insert(k, v);
        }
    }
}

impl<'a, K: Eq + Hash + Copy, V: Copy, S: BuildHasher, A: Allocator> Extend<(&'a K, &'a V)>
    for HashMap<K, V, S, A>
{
    fn extend<T: IntoIterator<Item = (&'a K, &'a V)>>(&mut self, iter: T) {
        self.extend(iter.into_iter().map(|(&k, &v)| (k, v)));
    }
}

/// hashbrown's: extend with copies of borrowed pairs.
impl<'a, K: Eq + Hash + Copy, V: Copy, S: BuildHasher, A: Allocator> Extend<&'a (K, V)>
    for HashMap<K, V, S, A>
{
    fn extend<T: IntoIterator<Item = &'a (K, V)>>(&mut self, iter: T) {
        self.extend(iter.into_iter().copied());
    }
}

impl<K: Eq + Hash, V, S: BuildHasher + Default> FromIterator<(K, V)> for HashMap<K, V, S> {
    fn from_iter<T: IntoIterator<Item = (K, V)>>(iter: T) -> Self {
        let mut map = Self::with_hasher(S::default());
        map.extend(iter);
        map
    }
}

impl<K: Eq + Hash, V, const N: usize> From<[(K, V); N]> for HashMap<K, V> {
    /// ```
    /// let map = gomap::HashMap::from([(1, 2), (3, 4)]);
    /// assert_eq!(map[&3], 4);
    /// ```
    fn from(entries: [(K, V); N]) -> Self {
        entries.into_iter().collect()
    }
}

impl<'a, K, V, S, A: Allocator> IntoIterator for &'a HashMap<K, V, S, A> {
    type Item = (&'a K, &'a V);
    type IntoIter = Iter<'a, K, V>;

    fn into_iter(self) -> Iter<'a, K, V> {
        self.iter()
    }
}

impl<'a, K, V, S, A: Allocator> IntoIterator for &'a mut HashMap<K, V, S, A> {
    type Item = (&'a K, &'a mut V);
    type IntoIter = IterMut<'a, K, V>;

    fn into_iter(self) -> IterMut<'a, K, V> {
        self.iter_mut()
    }
}

impl<K, V, S, A: Allocator> IntoIterator for HashMap<K, V, S, A> {
    type Item = (K, V);
    type IntoIter = IntoIter<K, V, A>;

    fn into_iter(self) -> IntoIter<K, V, A> {
        IntoIter::new(self.table.into_iter())
    }
}
