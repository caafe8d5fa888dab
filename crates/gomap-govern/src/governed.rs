//! `Governed`: a `gomap::HashMap` with a name, a creation site, figures the
//! registry can read, and watermarks with actions.
//!
//! Invariant: after every write — also one that panicked in user code
//! (`Hash`, `Eq`, `Drop`, an `update` or `retain` closure) — the cell's
//! figures are the map's and its level is the one those figures give. Every
//! write goes through [`Governed::write`], whose guard publishes when the
//! write ends, by return or by unwinding. Actions that run user code
//! (orange's shrink, which hashes keys, the `on_orange` hook, and the log
//! line of a level change, which calls the `tracing` subscriber) never run
//! while a panic unwinds: they wait for the next write (or, for the report,
//! the next sample).

use std::borrow::Borrow;
use std::fmt;
use std::hash::{BuildHasher, Hash};
use std::ops::Deref;
use std::panic::{catch_unwind, resume_unwind, AssertUnwindSafe, Location};
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;

use gomap::hash_map::Entry;
use gomap::{DefaultHashBuilder, HashMap, ShrinkPolicy, TryReserveError};

use crate::builder::Builder;
use crate::cell::{MapCell, MapReport, MIGRATING, SHRINK_REQUEST};
use crate::error::Refused;
use crate::events::Event;
use crate::figures::{Figures, Migrations};
use crate::level::{Level, Measure};

/// A [`gomap::HashMap`] that the registry knows: a name, the place it was
/// created, figures published on every write (relaxed atomic stores, no
/// lock), and watermarks with actions.
///
/// Reads go straight to the map (`Governed` derefs to `&HashMap`); writes
/// go through the methods below, which publish the map's figures and check
/// its level. Levels (see [`Watermarks`](crate::Watermarks)): rising to
/// yellow logs a warning and keeps a stats snapshot; reaching orange shrinks
/// the map at once, rechecks the level, and calls the `on_orange` hook; at
/// red, [`try_insert`](Self::try_insert) refuses new keys (updates of
/// existing keys still work) until the map falls under orange. Every change
/// of level is an [`Event`] ([`Registry::subscribe`](crate::Registry::subscribe)).
///
/// ```
/// use gomap_govern::{Governed, Level, Registry, Watermarks};
///
/// let registry = Registry::new();
/// let mut cache: Governed<u64, u64> = Governed::builder("cache")
///     .registry(&registry)
///     .watermarks(Watermarks::entries(100, 200, 300).unwrap())
///     .build();
/// for k in 0..300 {
///     cache.insert(k, k);
/// }
/// assert_eq!(cache.level(), Level::Red);
/// assert!(cache.try_insert(1_000, 0).is_err()); // a new key: refused
/// assert!(cache.try_insert(1, 7).is_ok()); // an existing key: updated
/// cache.retain(|k, _| *k < 150);
/// assert_eq!(cache.level(), Level::Yellow);
/// assert!(cache.try_insert(1_000, 0).is_ok());
/// ```
pub struct Governed<K, V, S = DefaultHashBuilder> {
    map: HashMap<K, V, S>,
    cell: Arc<MapCell>,
    /// The band of the current level, in the watermarks' measure...
    low: u64,
    high: u64,
    /// ...and in entries, for the hot path: `len - len_low < len_span`
    /// (wrapping) inside the band; everything is inside when bytes are
    /// measured.
    len_low: u64,
    len_span: u64,
    /// `allocated_bytes` at the last full publish (the allocator-call count
    /// it goes with is `cell.seen_calls`).
    last_bytes: u64,
    /// What the watermarks measure (bytes without watermarks).
    measure: Measure,
    /// The map keeps owned bytes ([`track_owned_bytes`](Self::track_owned_bytes)):
    /// every write publishes them.
    owned_tracked: bool,
    /// The map's migration counts at the last publish.
    migrations: Migrations,
}

impl Governed<(), ()> {
    /// Starts a builder for a map named `name`.
    pub fn builder(name: impl Into<String>) -> Builder<'static> {
        Builder::new(name.into())
    }
}

impl<K, V> Governed<K, V> {
    /// A map named `name` in [`Registry::global`](crate::Registry::global),
    /// without watermarks; its creation site is the caller's.
    #[track_caller]
    pub fn new(name: impl Into<String>) -> Self {
        Governed::builder(name).build()
    }
}

impl<K, V, S> Deref for Governed<K, V, S> {
    type Target = HashMap<K, V, S>;
    fn deref(&self) -> &HashMap<K, V, S> {
        &self.map
    }
}

impl<K, V, S> fmt::Debug for Governed<K, V, S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Governed")
            .field("name", &self.cell.name)
            .field("site", &self.cell.site)
            .field("len", &self.map.len())
            .field("level", &self.level())
            .finish()
    }
}

impl<K, V, S> Governed<K, V, S> {
    pub(crate) fn with_cell(cell: Arc<MapCell>, capacity: usize, hasher: S) -> Self
    where
        S: BuildHasher,
    {
        let cell_measure = cell.measure();
        let mut governed = Governed {
            map: HashMap::with_capacity_and_hasher(capacity, hasher),
            cell,
            low: 0,
            high: u64::MAX,
            len_low: 0,
            len_span: u64::MAX,
            last_bytes: 0,
            measure: cell_measure,
            owned_tracked: false,
            migrations: Migrations::default(),
        };
        governed.set_band(Level::Green);
        // Figures now; `seen_calls` stays `MIGRATING`, so the first write
        // takes the slow path and checks the level (a map built with a large
        // capacity may start above a watermark).
        governed.publish_figures();
        governed
    }

    /// The name given at construction.
    pub fn name(&self) -> &str {
        &self.cell.name
    }

    /// Where the map was created.
    pub fn site(&self) -> &'static Location<'static> {
        self.cell.site
    }

    /// The map's level now.
    pub fn level(&self) -> Level {
        self.cell.level()
    }

    /// What the registry reports of this map.
    pub fn report(&self) -> MapReport {
        self.cell.report()
    }

    /// Whether `try_insert` refuses new keys now.
    fn refusing(&self) -> bool {
        self.cell.refusing()
    }

    /// Publishes every figure and counter. Returns whether the registry had
    /// asked for a shrink (the request is taken).
    #[inline(never)]
    fn publish_all(&mut self) -> bool {
        let seen = self.publish_figures();
        self.cell.seen_calls.swap(seen, Relaxed) == SHRINK_REQUEST
    }

    /// Publishes every figure and counter; returns the `seen_calls` value
    /// that goes with them (`MIGRATING` while a migration runs or an action
    /// is pending: no count matches it, so every write republishes).
    fn publish_figures(&mut self) -> u64 {
        let stats = self.map.mem_stats();
        self.cell.figures.store(&Figures::of(&stats));
        let migrations = Migrations::of(&self.map);
        migrations.add_since(&self.migrations, &self.cell.counters);
        self.migrations = migrations;
        self.last_bytes = stats.allocated_bytes as u64;
        if stats.migration.is_some() || self.cell.owes_work() {
            MIGRATING
        } else {
            self.map.allocator_calls()
        }
    }

    fn set_band(&mut self, level: Level) {
        (self.low, self.high) = self
            .cell
            .watermarks
            .map_or((0, u64::MAX), |w| w.band(level));
        (self.len_low, self.len_span) = if self.owned_tracked {
            // Every write goes to the slow path, whose light part publishes
            // the owned bytes (they move with every write).
            (0, 0)
        } else if self.measure == Measure::Entries {
            (self.low, self.high - self.low)
        } else {
            (0, u64::MAX)
        };
    }

    /// Sets the shrink policy.
    pub fn set_shrink_policy(&mut self, policy: ShrinkPolicy) {
        self.map.set_shrink_policy(policy);
    }

    /// The figure watermarks in `measure` look at, as last published.
    fn measured(&self) -> u64 {
        match self.measure {
            Measure::Entries => self.cell.figures.len.load(Relaxed),
            Measure::Bytes => self.last_bytes,
            Measure::TotalBytes => self.last_bytes + self.cell.figures.owned_bytes.load(Relaxed),
        }
    }
}

/// The value of a key of a [`Governed`] map, mutably: a write, published
/// (figures, owned bytes, level) when the guard drops. Derefs to `V`; each
/// deref looks the key up again (the map cannot change meanwhile: the guard
/// borrows it).
///
/// ```
/// let mut buffers: gomap_govern::Governed<u32, Vec<u8>> = gomap_govern::Governed::new("buffers");
/// buffers.track_owned_bytes(|_| 0, Vec::capacity);
/// buffers.insert(1, Vec::new());
/// buffers.get_mut(&1).unwrap().reserve_exact(4096);
/// assert!(buffers.report().figures.owned_bytes >= 4096);
/// ```
pub struct ValueMut<'a, 'q, K: Eq + Hash + Borrow<Q>, V, S: BuildHasher, Q: Hash + Eq + ?Sized> {
    map: &'a mut Governed<K, V, S>,
    key: &'q Q,
}

impl<K: Eq + Hash + Borrow<Q>, V, S: BuildHasher, Q: Hash + Eq + ?Sized> Deref
    for ValueMut<'_, '_, K, V, S, Q>
{
    type Target = V;
    fn deref(&self) -> &V {
        self.map.map.get(self.key).expect("the guard keeps the key")
    }
}

impl<K: Eq + Hash + Borrow<Q>, V, S: BuildHasher, Q: Hash + Eq + ?Sized> std::ops::DerefMut
    for ValueMut<'_, '_, K, V, S, Q>
{
    fn deref_mut(&mut self) -> &mut V {
        self.map
            .map
            .get_mut(self.key)
            .expect("the guard keeps the key")
    }
}

impl<K: Eq + Hash + Borrow<Q>, V, S: BuildHasher, Q: Hash + Eq + ?Sized> Drop
    for ValueMut<'_, '_, K, V, S, Q>
{
    fn drop(&mut self) {
        self.map.after_write();
    }
}

/// Publishes the map's figures and moves its level when dropped: at the
/// end of every write, whether it returned or unwound.
struct Publish<'a, K: Eq + Hash, V, S: BuildHasher>(&'a mut Governed<K, V, S>);

impl<K: Eq + Hash, V, S: BuildHasher> Drop for Publish<'_, K, V, S> {
    #[inline]
    fn drop(&mut self) {
        self.0.after_write();
    }
}

impl<K: Eq + Hash, V, S: BuildHasher> Governed<K, V, S> {
    /// Runs one write on the map; the figures and level follow it however
    /// it ends.
    #[inline]
    fn write<R>(&mut self, f: impl FnOnce(&mut HashMap<K, V, S>) -> R) -> R {
        let guard = Publish(self);
        f(&mut guard.0.map)
    }

    /// Inserts a pair; returns the old value of the key, if any. Always
    /// inserts, even at red: shed load with [`try_insert`](Self::try_insert).
    #[inline]
    pub fn insert(&mut self, key: K, value: V) -> Option<V> {
        self.write(|map| map.insert(key, value))
    }

    /// Inserts a pair unless the key is new and the map (or the registry
    /// total) is at red: the circuit breaker. Updating an existing key is
    /// always allowed.
    pub fn try_insert(&mut self, key: K, value: V) -> Result<Option<V>, Refused<K, V>> {
        if self.refusing() && !self.map.contains_key(&key) {
            return Err(Refused::count(&self.cell, key, value));
        }
        Ok(self.insert(key, value))
    }

    /// Removes a key; returns its value.
    #[inline]
    pub fn remove<Q: Hash + Eq + ?Sized>(&mut self, key: &Q) -> Option<V>
    where
        K: Borrow<Q>,
    {
        self.write(|map| map.remove(key))
    }

    /// The key's value, mutably, behind a guard that publishes the change
    /// (a value that grows in place moves the owned bytes) when it drops.
    pub fn get_mut<'a, 'q, Q: Hash + Eq + ?Sized>(
        &'a mut self,
        key: &'q Q,
    ) -> Option<ValueMut<'a, 'q, K, V, S, Q>>
    where
        K: Borrow<Q>,
    {
        self.map
            .contains_key(key)
            .then_some(ValueMut { map: self, key })
    }

    /// Runs `f` on the key's value, mutably, then publishes the change
    /// (one lookup; see [`get_mut`](Self::get_mut) for a guard).
    ///
    /// ```
    /// let mut counts: gomap_govern::Governed<&str, u64> = gomap_govern::Governed::new("counts");
    /// counts.insert("a", 1);
    /// assert_eq!(counts.modify("a", |n| { *n += 1; *n }), Some(2));
    /// assert_eq!(counts.modify("b", |n| *n), None);
    /// ```
    pub fn modify<Q: Hash + Eq + ?Sized, R>(
        &mut self,
        key: &Q,
        f: impl FnOnce(&mut V) -> R,
    ) -> Option<R>
    where
        K: Borrow<Q>,
    {
        self.write(|map| map.get_mut(key).map(f))
    }

    /// Removes a key; returns the stored key and its value.
    pub fn remove_entry<Q: Hash + Eq + ?Sized>(&mut self, key: &Q) -> Option<(K, V)>
    where
        K: Borrow<Q>,
    {
        self.write(|map| map.remove_entry(key))
    }

    /// Read-modify-write through the key's [`Entry`]; figures are published
    /// and the level checked after `f` returns — or panics.
    ///
    /// ```
    /// let mut hits: gomap_govern::Governed<&str, u64> = gomap_govern::Governed::new("hits");
    /// hits.update("/", |e| *e.or_insert(0) += 1);
    /// assert_eq!(hits.get("/"), Some(&1));
    /// ```
    pub fn update<R>(&mut self, key: K, f: impl FnOnce(Entry<'_, K, V, S>) -> R) -> R {
        self.write(|map| f(map.entry(key)))
    }

    /// Keeps the entries for which `f` returns `true`.
    pub fn retain(&mut self, f: impl FnMut(&K, &mut V) -> bool) {
        self.write(|map| map.retain(f));
    }

    /// Drops every entry, keeping the buckets (see `gomap::HashMap::clear`);
    /// counted in `clears`.
    pub fn clear(&mut self) {
        self.cell.counters.clears.fetch_add(1, Relaxed);
        self.write(HashMap::clear);
    }

    /// Drops every entry and frees every bucket now; counted in `resets`.
    pub fn reset(&mut self) {
        self.cell.counters.resets.fetch_add(1, Relaxed);
        self.write(HashMap::reset);
    }

    /// Takes the contents out, leaving an empty map (same hasher and
    /// policy); counted in `resets`.
    pub fn take(&mut self) -> HashMap<K, V, S>
    where
        S: Clone,
    {
        let empty = HashMap::with_hasher(self.map.hasher().clone())
            .with_shrink_policy(self.map.shrink_policy());
        let taken = std::mem::replace(&mut self.map, empty);
        // The old map's migrations since the last publish still count; the
        // new map's count from zero.
        Migrations::of(&taken).add_since(&self.migrations, &self.cell.counters);
        self.migrations = Migrations::default();
        self.cell.counters.resets.fetch_add(1, Relaxed);
        self.after_write();
        taken
    }

    /// Gives memory back now.
    pub fn shrink_to_fit(&mut self) {
        self.write(HashMap::shrink_to_fit);
    }

    /// Gives memory back now, keeping room for `min_capacity` entries.
    pub fn shrink_to(&mut self, min_capacity: usize) {
        self.write(|map| map.shrink_to(min_capacity));
    }

    /// Room for `additional` more entries.
    pub fn reserve(&mut self, additional: usize) {
        self.write(|map| map.reserve(additional));
    }

    /// Room for `additional` more entries, or an error with the map
    /// unchanged.
    pub fn try_reserve(&mut self, additional: usize) -> Result<(), TryReserveError> {
        self.write(|map| map.try_reserve(additional))
    }

    /// Completes a running migration now.
    pub fn finish_migration(&mut self) {
        self.write(HashMap::finish_migration);
    }

    /// Does `budget` entries' worth of a running migration now, for idle
    /// time ([`HashMap::step_migration`]); returns whether one still runs.
    ///
    /// The registry's sampler cannot do this for a `Governed` map (its
    /// writes are its owner's, through `&mut`; the sampler steps only
    /// [`GovernedSharded`](crate::GovernedSharded) maps): a map whose writes
    /// stop part way through a grow or shrink keeps both bucket arrays
    /// until you call this, say on an idle tick, until it returns `false`.
    pub fn step_migration(&mut self, budget: usize) -> bool {
        self.write(|map| map.step_migration(budget))
    }

    /// After every write: publish, then check the level and the registry's
    /// shrink request. The table's bytes move only with an allocator call
    /// (`allocator_calls`), so the common case is one relaxed store (`len`)
    /// and two comparisons: the slow path runs when the map called its
    /// allocator, during a migration (its progress is a figure), when an
    /// action is pending or the registry asks for a shrink (see
    /// `MapCell::seen_calls`), or when `len` leaves an entries band. A map
    /// that keeps owned bytes also stores them, and checks a total-bytes
    /// band.
    #[inline]
    fn after_write(&mut self) {
        let len = self.map.len() as u64;
        self.cell.figures.len.store(len, Relaxed);
        if self.map.allocator_calls() != self.cell.seen_calls.load(Relaxed)
            || len.wrapping_sub(self.len_low) >= self.len_span
        {
            self.after_write_slow();
        }
    }

    /// A map that keeps owned bytes comes here on every write: when its
    /// table's bytes did not move and its level band holds, publishing the
    /// owned bytes is all there is to do. Returns whether that was all.
    fn light_write(&mut self) -> bool {
        if self.map.allocator_calls() != self.cell.seen_calls.load(Relaxed) {
            return false;
        }
        let total_moved = self.publish_owned();
        let value = self.measured();
        !total_moved && self.low <= value && value < self.high
    }

    /// Stores the owned bytes; returns whether total bytes left their band.
    #[inline]
    fn publish_owned(&mut self) -> bool {
        let owned = self.map.owned_bytes().unwrap_or(0) as u64;
        self.cell.figures.owned_bytes.store(owned, Relaxed);
        self.measure == Measure::TotalBytes && {
            let total = self.last_bytes + owned;
            total < self.low || total >= self.high
        }
    }

    /// Keep the bytes keys and values own (see
    /// `gomap::HashMap::track_owned_bytes`): published on every write as
    /// `owned_bytes`, and what [`Measure::TotalBytes`] watermarks add to the
    /// table's bytes. `get_mut` hands out a guard for that reason: a value
    /// changed through it is measured again when the guard drops.
    ///
    /// ```
    /// use gomap_govern::{Governed, Level, Registry, Watermarks};
    ///
    /// let registry = Registry::new();
    /// let mut cache: Governed<u64, Vec<u8>> = Governed::builder("cache")
    ///     .registry(&registry)
    ///     .watermarks(Watermarks::total_bytes(1 << 20, 2 << 20, 4 << 20).unwrap())
    ///     .build();
    /// cache.track_owned_bytes(|_| 0, Vec::capacity);
    /// for k in 0..5 {
    ///     cache.insert(k, vec![0; 1 << 20]); // the table is tiny; the values are not
    /// }
    /// assert_eq!(cache.level(), Level::Red);
    /// assert!(cache.report().figures.owned_bytes >= 5 << 20);
    /// ```
    pub fn track_owned_bytes(&mut self, key_bytes: fn(&K) -> usize, value_bytes: fn(&V) -> usize) {
        self.owned_tracked = true;
        self.set_band(self.level());
        self.write(|map| map.track_owned_bytes(key_bytes, value_bytes));
    }

    /// [`track_owned_bytes`](Self::track_owned_bytes) with get-size2's
    /// `GetSize::get_heap_size` (feature `get-size2`).
    #[cfg(feature = "get-size2")]
    pub fn track_owned_bytes_get_size(&mut self)
    where
        K: get_size2::GetSize,
        V: get_size2::GetSize,
    {
        self.track_owned_bytes(K::get_heap_size, V::get_heap_size);
    }

    #[cold]
    #[inline(never)]
    fn after_write_slow(&mut self) {
        if self.owned_tracked && self.light_write() {
            return;
        }
        let shrink_requested = self.publish_all();
        if std::thread::panicking() {
            // No user code now (a shrink hashes keys; a log line calls the
            // `tracing` subscriber): keep the request for the next write.
            // The level below still follows the figures.
            if shrink_requested {
                self.cell.seen_calls.store(SHRINK_REQUEST, Relaxed);
            }
        } else {
            if shrink_requested {
                // Republishes and moves the level (nested write).
                self.shrink_to_fit();
            }
            // What a write that panicked left: its reports, orange's action.
            self.cell.flush();
            if let Some(event) = self.cell.take_orange() {
                self.orange_action(&event);
            }
        }
        if self.owned_tracked {
            self.publish_owned();
        }
        let value = self.measured();
        if value < self.low || value >= self.high {
            self.level_moved();
        }
    }

    /// The level band was left: move, and act.
    #[cold]
    #[inline(never)]
    fn level_moved(&mut self) {
        let Some(marks) = self.cell.watermarks else {
            return;
        };
        let from = self.cell.level();
        let figures = self.cell.figures.load();
        let to = marks.next_level(from, figures.value(marks.measure()));
        self.set_band(to);
        if to == from {
            return;
        }
        self.cell.store_level(to);
        if std::thread::panicking() {
            // Reported, and acted on, at the next write (or sample).
            self.cell.defer_report(from, to, &figures);
            self.cell.seen_calls.store(MIGRATING, Relaxed);
            return;
        }
        let event = self.cell.level_changed(from, to, &figures);
        if to >= Level::Orange && from < Level::Orange {
            self.orange_action(&event);
        }
    }

    /// Orange's action: give memory back now (the nested write republishes
    /// and moves the level again), then tell the user — also when the
    /// shrink panicked (a `Hash` that panics while rehashing), whose panic
    /// then goes on to the caller.
    fn orange_action(&mut self, event: &Event) {
        let shrunk = catch_unwind(AssertUnwindSafe(|| self.shrink_to_fit()));
        self.cell.call_hook(event);
        if let Err(panic) = shrunk {
            resume_unwind(panic);
        }
    }
}

impl<K: Eq + Hash, V, S: BuildHasher> Extend<(K, V)> for Governed<K, V, S> {
    fn extend<I: IntoIterator<Item = (K, V)>>(&mut self, iter: I) {
        self.write(|map| map.extend(iter));
    }
}
