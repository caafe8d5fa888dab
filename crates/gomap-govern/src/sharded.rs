//! `GovernedSharded`: a `ShardedMap` the registry knows.
//!
//! Invariants:
//! - Every shard reports its figures under its own write lock, through the
//!   map's observer, also when the write panicked (`ShardedMap` observes as
//!   a panic unwinds through the lock). The cell's figures move only by
//!   these deltas, so concurrent shards never overwrite each other.
//! - After a shard moves the totals it rechecks the level against the
//!   totals as they are then, and again after each change it makes, so once
//!   writes stop the level is the one the figures give.
//! - User code never runs under a shard lock: a level change is only
//!   recorded there; its report (log line, snapshot, event) and orange's
//!   shrink and hook come after the write, once the lock is released. A
//!   write that panicked, or went through a guard (`get_mut`, `entry`,
//!   `try_entry`, `iter_mut`), is reported at the next write or sample, and
//!   its orange shrink and hook wait for the next write. Changes made by
//!   racing shards may be reported in either order.
//! - No path writes without governance: the map derefs to a [`ReadOnly`]
//!   view.
//! - The registry's sampler reaches the map only through the `Weak` its
//!   cell holds to the map's `Shared` state, and only to step migrations
//!   (`try_write` per shard, so it never waits): the owner's handle is the
//!   map's only strong one between two steps. Orange's shrink and hook
//!   stay with the map's writes.

use std::borrow::Borrow;
use std::fmt;
use std::hash::{BuildHasher, Hash};
use std::ops::Deref;
use std::panic::Location;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::{Arc, Weak};

use gomap::hash_map::Entry;
use gomap::{DefaultHashBuilder, HashMap, MemStats, ShrinkPolicy, TryReserveError};
use gomap_sync::sharded::{self, IterMut, ReadAll, Ref, RefMut, TryResult};
use gomap_sync::ShardedMap;

use crate::builder::ShardedBuilder;
use crate::cell::{Maintain, MapCell, MapReport};
use crate::error::Refused;
use crate::figures::{AtomicFigures, AtomicMigrations, Figures, Migrations};
use crate::level::Level;

/// One shard's figures and migration counts as last observed, written
/// only under that shard's write lock.
#[derive(Default)]
#[repr(align(128))]
struct ShardSlot {
    figures: AtomicFigures,
    migrations: AtomicMigrations,
}

/// What the observer shares with the map.
struct State {
    cell: Arc<MapCell>,
    slots: Box<[ShardSlot]>,
}

impl State {
    /// Called under shard `index`'s write lock after every write to it
    /// (also one that panicked): adds what changed in this shard to the
    /// cell's totals, then checks the level. Calls no user code and does not
    /// panic.
    fn observe<K, V, S>(&self, index: usize, shard: &HashMap<K, V, S>) {
        let slot = &self.slots[index];
        let new = Figures::of(&shard.mem_stats());
        let old = slot.figures.load();
        if new != old {
            slot.figures.store(&new);
            self.cell.figures.add_delta(&old, &new);
        }
        let migrations = Migrations::of(shard);
        let last = slot.migrations.load();
        if migrations != last {
            slot.migrations.store(&migrations);
            migrations.add_since(&last, &self.cell.counters);
        }
        if new != old {
            self.check_level();
        }
    }

    /// Moves the level until it is the one the totals give now. Under a
    /// shard's lock: the changes are reported (logged, recorded) after the
    /// lock is released, by the write's `after_write` or the next sample.
    /// The totals' deltas, the level's loads and its compare-and-swap are
    /// sequentially consistent, so of two shards racing, the one that moves
    /// the level last sees the other's delta and corrects the level.
    fn check_level(&self) {
        let Some(marks) = self.cell.watermarks else {
            return;
        };
        let mut from = self.cell.level();
        loop {
            let figures = self.cell.figures.load();
            let to = marks.next_level(from, figures.value(marks.measure()));
            if to == from {
                return;
            }
            match self.cell.move_level(from, to) {
                Ok(()) => {
                    self.cell.defer_report(from, to, &figures);
                    from = to;
                }
                Err(now) => from = now,
            }
        }
    }
}

/// A [`ShardedMap`] the registry knows: like [`Governed`](crate::Governed),
/// for maps shared between threads. Every shard reports its figures under
/// its own write lock (through [`ShardedMap::with_observer`]); the map's
/// totals are kept by atomic deltas, so no write takes another lock — but
/// every write that changes `len` adds to one shared counter, a cache line
/// all shards' writers touch.
///
/// Reads go through [`ReadOnly`] (`GovernedSharded` derefs to it); writes
/// go through the methods below. Orange's shrink and hook run after the
/// write that reached orange, once its shard lock is released; if that
/// write panicked, at the next write.
///
/// ```
/// use gomap_govern::{GovernedSharded, Registry};
///
/// let registry = Registry::new();
/// let sessions: GovernedSharded<u64, u64> =
///     GovernedSharded::builder("sessions").registry(&registry).build();
/// std::thread::scope(|s| {
///     for t in 0..2 {
///         let sessions = &sessions;
///         s.spawn(move || {
///             for i in 0..1000 {
///                 sessions.insert(t * 1000 + i, i);
///             }
///         });
///     }
/// });
/// assert_eq!(registry.maps()[0].figures.len, 2000);
/// assert_eq!(sessions.len(), 2000);
/// ```
pub struct GovernedSharded<K, V, S = DefaultHashBuilder> {
    shared: Arc<Shared<K, V, S>>,
}

/// The map and its state, shared with the registry's sampler by a `Weak`
/// (the map's cell holds it as its [`Maintain`]): the sampler steps idle
/// shards' migrations through it, and never keeps the map alive between
/// two steps.
struct Shared<K, V, S> {
    view: ReadOnly<K, V, S>,
    state: Arc<State>,
}

/// The sampler's step: the shards' observers publish the figures under
/// each shard's lock (also when a `Hash` panics); the level changes they
/// make are reported by the sample that called this (`flush`). Orange's
/// shrink and hook are left to the map's next write: a shrink would wait
/// for shard locks, and the hook is its owner's.
impl<K, V, S> Maintain for Shared<K, V, S>
where
    K: Eq + Hash + Send + Sync,
    V: Send + Sync,
    S: BuildHasher + Send + Sync,
{
    fn step(&self, budget: usize) -> usize {
        self.view.map.step_migrations(budget)
    }
}

/// The read half of a [`GovernedSharded`] map: every read of
/// [`ShardedMap`], and no write, so nothing changes the map behind its
/// governance.
///
/// ```
/// use gomap_govern::GovernedSharded;
///
/// let map: GovernedSharded<u32, &str> = GovernedSharded::new("names");
/// map.insert(1, "one");
/// let view: &gomap_govern::ReadOnly<u32, &str> = &map;
/// assert_eq!(view.get_cloned(&1), Some("one"));
/// assert_eq!(view.mem_stats().len, 1);
/// ```
///
/// Writing through the view does not compile:
///
/// ```compile_fail
/// let map: gomap_govern::GovernedSharded<u32, u32> = gomap_govern::GovernedSharded::new("m");
/// (*map).insert(1, 1); // no `insert` on `ReadOnly`
/// ```
pub struct ReadOnly<K, V, S = DefaultHashBuilder> {
    map: ShardedMap<K, V, S>,
}

impl<K, V, S> ReadOnly<K, V, S> {
    /// How many shards the map has.
    pub fn shard_amount(&self) -> usize {
        self.map.shard_amount()
    }

    /// The map's hasher.
    pub fn hasher(&self) -> &S {
        self.map.hasher()
    }

    /// Entries, summed shard by shard (see [`ShardedMap::len`]).
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// Whether every shard is empty.
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// Every shard's read lock: a view of the whole map at one instant
    /// (see [`ShardedMap::read_all`]).
    pub fn read_all(&self) -> ReadAll<'_, K, V, S> {
        self.map.read_all()
    }

    /// Entries the shards hold before any of them must grow, summed.
    pub fn capacity(&self) -> usize {
        self.map.capacity()
    }

    /// Memory of every shard, summed (see [`ShardedMap::mem_stats`]).
    pub fn mem_stats(&self) -> MemStats {
        self.map.mem_stats()
    }

    /// Memory of each shard, in shard order.
    pub fn shard_stats(&self) -> Vec<MemStats> {
        self.map.shard_stats()
    }
}

impl<K: Eq + Hash, V, S: BuildHasher> ReadOnly<K, V, S> {
    /// The key's value behind its shard's read lock (see
    /// [`ShardedMap::get`], and its deadlock note).
    pub fn get<Q>(&self, key: &Q) -> Option<Ref<'_, K, V>>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.map.get(key)
    }

    /// [`get`](Self::get) without waiting for a locked shard (see
    /// [`ShardedMap::try_get`]).
    pub fn try_get<Q>(&self, key: &Q) -> TryResult<Ref<'_, K, V>>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.map.try_get(key)
    }

    /// `f` on the key's pair under its shard's read lock (see
    /// [`ShardedMap::view`]).
    pub fn view<Q, R>(&self, key: &Q, f: impl FnOnce(&K, &V) -> R) -> Option<R>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.map.view(key, f)
    }

    /// Every pair, one shard read-locked at a time, nothing copied (see
    /// [`ShardedMap::iter`]).
    pub fn iter(&self) -> sharded::Iter<'_, K, V, S> {
        self.map.iter()
    }

    /// A clone of the key's value.
    pub fn get_cloned<Q>(&self, key: &Q) -> Option<V>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
        V: Clone,
    {
        self.map.get_cloned(key)
    }

    /// Whether the key is in the map.
    pub fn contains_key<Q>(&self, key: &Q) -> bool
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.map.contains_key(key)
    }
}

impl<K: fmt::Debug, V: fmt::Debug, S> fmt::Debug for ReadOnly<K, V, S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.map.fmt(f)
    }
}

impl GovernedSharded<(), ()> {
    /// Starts a builder for a map named `name`.
    pub fn builder(name: impl Into<String>) -> ShardedBuilder<'static> {
        ShardedBuilder::new(name.into())
    }
}

impl<K, V> GovernedSharded<K, V>
where
    K: Eq + Hash + Send + Sync + 'static,
    V: Send + Sync + 'static,
{
    /// A map named `name` in [`Registry::global`](crate::Registry::global),
    /// without watermarks; its creation site is the caller's.
    ///
    /// The bounds let the registry's sampler step the map's migrations
    /// when its writes stop part way through one (see
    /// [`Registry::sample`](crate::Registry::sample)): the map is shared
    /// with the sampler thread.
    #[track_caller]
    pub fn new(name: impl Into<String>) -> Self {
        GovernedSharded::builder(name).build()
    }

    pub(crate) fn with_cell(cell: Arc<MapCell>, capacity: usize, shard_amount: usize) -> Self {
        let map: ShardedMap<K, V> = ShardedMap::with_capacity_and_hasher_and_shard_amount(
            capacity,
            DefaultHashBuilder::default(),
            shard_amount,
        );
        let state = Arc::new(State {
            cell,
            slots: (0..map.shard_amount())
                .map(|_| ShardSlot::default())
                .collect(),
        });
        // The shards as built (`with_capacity` allocates); later figures
        // come from the observer.
        for (index, shard) in map.read_all().shards().enumerate() {
            state.observe(index, shard);
        }
        let observer = state.clone();
        let map = map.with_observer(move |index, shard| observer.observe(index, shard));
        let shared = Arc::new(Shared {
            view: ReadOnly { map },
            state,
        });
        let weak: Weak<Shared<K, V, DefaultHashBuilder>> = Arc::downgrade(&shared);
        let maintenance: Weak<dyn Maintain> = weak;
        shared.state.cell.set_maintenance(maintenance);
        GovernedSharded { shared }
    }
}

impl<K, V, S> Deref for GovernedSharded<K, V, S> {
    type Target = ReadOnly<K, V, S>;
    fn deref(&self) -> &ReadOnly<K, V, S> {
        &self.shared.view
    }
}

impl<K, V, S> fmt::Debug for GovernedSharded<K, V, S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GovernedSharded")
            .field("name", &self.shared.state.cell.name)
            .field("site", &self.shared.state.cell.site)
            .field("level", &self.level())
            .finish()
    }
}

impl<K, V, S> GovernedSharded<K, V, S> {
    /// The name given at construction.
    pub fn name(&self) -> &str {
        &self.shared.state.cell.name
    }

    /// Where the map was created.
    pub fn site(&self) -> &'static Location<'static> {
        self.shared.state.cell.site
    }

    /// The map's level now.
    pub fn level(&self) -> Level {
        self.shared.state.cell.level()
    }

    /// What the registry reports of this map.
    pub fn report(&self) -> MapReport {
        self.shared.state.cell.report()
    }

    /// Drops every entry at one instant (every shard's write lock held);
    /// counted in `clears`.
    pub fn clear(&self) {
        self.shared.state.cell.counters.clears.fetch_add(1, Relaxed);
        self.shared.view.map.clear();
    }

    /// Drops every entry and frees every bucket, at one instant; counted in
    /// `resets`.
    pub fn reset(&self)
    where
        S: Clone,
    {
        self.shared.state.cell.counters.resets.fetch_add(1, Relaxed);
        self.shared.view.map.reset();
    }

    /// Sets every shard's shrink policy.
    pub fn set_shrink_policy(&self, policy: ShrinkPolicy) {
        self.shared.view.map.set_shrink_policy(policy);
    }
}

impl<K: Eq + Hash, V, S: BuildHasher> GovernedSharded<K, V, S> {
    /// After a write, with no lock held: report the level changes its
    /// shards made, take orange's action, honour the registry's shrink
    /// request.
    /// (Orange's shrink: each shard is observed as it shrinks, so figures
    /// and level follow. See `MapCell::after_write`.)
    #[inline]
    fn after_write(&self) {
        self.shared
            .state
            .cell
            .after_write(|| self.shared.view.map.shrink_to_fit());
    }

    fn refusing(&self) -> bool {
        self.shared.state.cell.refusing()
    }

    /// Inserts a pair; returns the old value, if any (always inserts: shed
    /// load with [`try_insert`](Self::try_insert)).
    pub fn insert(&self, key: K, value: V) -> Option<V> {
        let old = self.shared.view.map.insert(key, value);
        self.after_write();
        old
    }

    /// Inserts unless the key is new and the map (or the registry total) is
    /// at red. (Between the check and the insert another thread may insert
    /// the same key; the breaker is a load shedder, not a hard limit.)
    pub fn try_insert(&self, key: K, value: V) -> Result<Option<V>, Refused<K, V>> {
        if self.refusing() && !self.shared.view.map.contains_key(&key) {
            return Err(Refused::count(&self.shared.state.cell, key, value));
        }
        Ok(self.insert(key, value))
    }

    /// Removes a key; returns its value.
    pub fn remove<Q: Hash + Eq + ?Sized>(&self, key: &Q) -> Option<V>
    where
        K: Borrow<Q>,
    {
        let old = self.shared.view.map.remove(key);
        self.after_write();
        old
    }

    /// Removes a key; returns the stored key and its value.
    pub fn remove_entry<Q: Hash + Eq + ?Sized>(&self, key: &Q) -> Option<(K, V)>
    where
        K: Borrow<Q>,
    {
        let old = self.shared.view.map.remove_entry(key);
        self.after_write();
        old
    }

    /// The key's pair behind its shard's write lock (see
    /// [`ShardedMap::get_mut`] and its deadlock note). The shard reports its
    /// figures when the guard is dropped; a level change that causes is
    /// reported at the next write or sample.
    pub fn get_mut<Q: Hash + Eq + ?Sized>(&self, key: &Q) -> Option<RefMut<'_, K, V, S>>
    where
        K: Borrow<Q>,
    {
        self.shared.view.map.get_mut(key)
    }

    /// The key's entry, under its shard's write lock (see
    /// [`ShardedMap::entry`]); a vacant one always inserts (as
    /// [`insert`](Self::insert) does: shed load with
    /// [`try_entry`](Self::try_entry)). The shard reports its figures when
    /// the entry (or the `RefMut` it became) is dropped; a level change that
    /// causes is reported at the next write or sample.
    pub fn entry(&self, key: K) -> sharded::Entry<'_, K, V, S> {
        self.shared.view.map.entry(key)
    }

    /// [`entry`](Self::entry), refused if the key is not in the map and the
    /// map (or the registry total) is at red: checked under the shard's
    /// write lock, so no other thread can insert the key in between. The
    /// refusal hands the key back (its `value` is `()`) and is counted as a
    /// refused insert.
    ///
    /// ```
    /// let map: gomap_govern::GovernedSharded<u32, u32> = gomap_govern::GovernedSharded::new("m");
    /// *map.try_entry(1).unwrap().or_insert(0) += 1;
    /// assert_eq!(map.get_cloned(&1), Some(1));
    /// ```
    pub fn try_entry(&self, key: K) -> Result<sharded::Entry<'_, K, V, S>, Refused<K, ()>> {
        let entry = self.shared.view.map.entry(key);
        if matches!(entry, sharded::Entry::Vacant(_)) && self.refusing() {
            let key = entry.into_key();
            return Err(Refused::count(&self.shared.state.cell, key, ()));
        }
        Ok(entry)
    }

    /// Every pair under its shard's write lock, one shard at a time (see
    /// [`ShardedMap::iter_mut`]); each shard reports its figures when its
    /// lock is released, a level change reported at the next write or
    /// sample.
    pub fn iter_mut(&self) -> IterMut<'_, K, V, S> {
        self.shared.view.map.iter_mut()
    }

    /// Removes the key if `f` says so (see [`ShardedMap::remove_if`]).
    pub fn remove_if<Q: Hash + Eq + ?Sized>(
        &self,
        key: &Q,
        f: impl FnOnce(&K, &V) -> bool,
    ) -> Option<(K, V)>
    where
        K: Borrow<Q>,
    {
        let removed = self.shared.view.map.remove_if(key, f);
        self.after_write();
        removed
    }

    /// Removes the key if `f`, which may change the value, says so (see
    /// [`ShardedMap::remove_if_mut`]).
    pub fn remove_if_mut<Q: Hash + Eq + ?Sized>(
        &self,
        key: &Q,
        f: impl FnOnce(&K, &mut V) -> bool,
    ) -> Option<(K, V)>
    where
        K: Borrow<Q>,
    {
        let removed = self.shared.view.map.remove_if_mut(key, f);
        self.after_write();
        removed
    }

    /// Replaces the key's value with `f(key, value)` (see
    /// [`ShardedMap::alter`]: if `f` panics the entry is gone, and the
    /// figures follow).
    pub fn alter<Q: Hash + Eq + ?Sized>(&self, key: &Q, f: impl FnOnce(&K, V) -> V)
    where
        K: Borrow<Q>,
    {
        self.shared.view.map.alter(key, f);
        self.after_write();
    }

    /// Replaces every value with `f(key, value)`, shard by shard (see
    /// [`ShardedMap::alter_all`]).
    pub fn alter_all(&self, f: impl FnMut(&K, V) -> V) {
        self.shared.view.map.alter_all(f);
        self.after_write();
    }

    /// Room for `additional` more entries, spread over the shards (see
    /// [`ShardedMap::reserve`]); not refused at red, as for `Governed`.
    pub fn reserve(&self, additional: usize) {
        self.shared.view.map.reserve(additional);
        self.after_write();
    }

    /// [`reserve`](Self::reserve), returning an error instead of panicking.
    pub fn try_reserve(&self, additional: usize) -> Result<(), TryReserveError> {
        let reserved = self.shared.view.map.try_reserve(additional);
        self.after_write();
        reserved
    }

    /// Read-modify-write of one key under its shard's write lock.
    pub fn update<R>(&self, key: K, f: impl FnOnce(Entry<'_, K, V, S>) -> R) -> R {
        let result = self.shared.view.map.update(key, f);
        self.after_write();
        result
    }

    /// Steps the migrations of idle shards, never waiting for a lock
    /// ([`ShardedMap::step_migrations`]); returns how many of the shards it
    /// stepped still migrate. The registry's sampler does this on every
    /// sample (see [`Registry::sample`](crate::Registry::sample)); call it
    /// yourself to finish sooner, or with a registry no sampler samples.
    pub fn step_migrations(&self, budget: usize) -> usize {
        let migrating = self.shared.view.map.step_migrations(budget);
        self.after_write();
        migrating
    }

    /// Keeps the entries for which `f` returns `true`, shard by shard.
    pub fn retain(&self, f: impl FnMut(&K, &mut V) -> bool) {
        self.shared.view.map.retain(f);
        self.after_write();
    }

    /// Keep the bytes keys and values own, in every shard (see
    /// `ShardedMap::track_owned_bytes`): published as `owned_bytes`, and
    /// what [`Measure::TotalBytes`](crate::Measure::TotalBytes) watermarks
    /// add to the tables' bytes. Values changed through `update` or a
    /// `get_mut` guard are measured again when the write ends.
    pub fn track_owned_bytes(&self, key_bytes: fn(&K) -> usize, value_bytes: fn(&V) -> usize) {
        self.shared
            .view
            .map
            .track_owned_bytes(key_bytes, value_bytes);
        self.after_write();
    }

    /// [`track_owned_bytes`](Self::track_owned_bytes) with get-size2's
    /// `GetSize::get_heap_size` (feature `get-size2`).
    #[cfg(feature = "get-size2")]
    pub fn track_owned_bytes_get_size(&self)
    where
        K: get_size2::GetSize,
        V: get_size2::GetSize,
    {
        self.track_owned_bytes(K::get_heap_size, V::get_heap_size);
    }

    /// Gives memory back in every shard now.
    pub fn shrink_to_fit(&self) {
        self.shared.view.map.shrink_to_fit();
        self.after_write();
    }
}

impl<K: Eq + Hash, V, S: BuildHasher> Extend<(K, V)> for &GovernedSharded<K, V, S> {
    fn extend<I: IntoIterator<Item = (K, V)>>(&mut self, iter: I) {
        for (key, value) in iter {
            self.insert(key, value);
        }
    }
}
