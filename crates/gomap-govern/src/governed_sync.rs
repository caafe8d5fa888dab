//! `GovernedSyncMap`: a `gomap_sync::SyncMap` (Go's `sync.Map`) the
//! registry knows.
//!
//! Invariants:
//! - The figures are those of [`SyncMap::mem_stats`]: `len` is its live
//!   count, and the table figures are the read snapshot's and the dirty
//!   map's added together (both hold the same entries, so both tables are
//!   the map's memory). Entries and values live in their own small
//!   allocations that `mem_stats` does not count, and neither do the
//!   figures; `owned_bytes` is 0, and the migration counters stay 0 (a
//!   `SyncMap` replaces its tables wholesale and does not count their
//!   migrations).
//! - **Publishing is serialised by one mutex per map, `publishing`.** Every
//!   write, once it has landed (by return or while its panic unwinds),
//!   takes it, reads `mem_stats`, stores the figures and moves the level.
//!   A publish thus sees every write that finished before it took the
//!   mutex, and the last publish comes after the last write: once writes
//!   stop, the figures are the map's and the level the one they give.
//!   The alternatives do not fit: a `SyncMap` has no observer (as
//!   `ShardedMap` has) to hand down deltas from under its own lock, and
//!   re-reading until two reads agree can spin for as long as a write storm
//!   lasts. The mutex is held for one `mem_stats` (two `MemStats`, O(1)),
//!   a few atomic stores and no user code.
//! - The cost: `mem_stats` takes the `SyncMap`'s own mutex, so every write
//!   through a `GovernedSyncMap` takes it once — also a store to a key the
//!   snapshot holds, which a bare `SyncMap` does without a lock. Loads stay
//!   lock-free. `SyncMap` is for read-mostly data; for write-heavy maps use
//!   [`GovernedSharded`](crate::GovernedSharded).
//! - A load can promote the dirty map (Go's miss counting), which frees the
//!   old snapshot's table: bytes can only fall that way, and the figures
//!   show it at the next write, [`GovernedSyncMap::range`] or
//!   [`GovernedSyncMap::publish`]. Before refusing a key at red,
//!   `try_store` publishes afresh, so a stale red never refuses.
//! - User code never runs under a lock we hold: a change of level is
//!   recorded under `publishing` and reported (log line, snapshot, event)
//!   after it is released; orange's action (a promotion: one table
//!   instead of two) and hook come after the write, with no lock held —
//!   or at the next write, if the write panicked.
//! - No path writes without governance: the map derefs to a
//!   [`SyncReadOnly`] view, which loads and reads stats only.

use std::borrow::Borrow;
use std::fmt;
use std::hash::{BuildHasher, Hash};
use std::ops::Deref;
use std::panic::Location;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;

use gomap::DefaultHashBuilder;
use gomap_sync::sync_map::Ref;
use gomap_sync::{SyncMap, SyncMapStats};
use parking_lot::Mutex;

use crate::builder::SyncBuilder;
use crate::cell::{MapCell, MapReport};
use crate::error::Refused;
use crate::figures::Figures;
use crate::level::Level;

/// The figures of a `SyncMap`'s stats: see the module's invariants.
fn figures_of(stats: &SyncMapStats) -> Figures {
    let mut figures = Figures::of(&stats.read);
    if let Some(dirty) = &stats.dirty {
        figures += Figures::of(dirty);
    }
    figures.len = stats.len as u64;
    figures
}

/// A [`SyncMap`] the registry knows: like [`Governed`](crate::Governed),
/// for read-mostly maps shared between threads. Every write publishes the
/// map's figures ([`SyncMap::mem_stats`]) and moves its level; at red,
/// [`try_store`](Self::try_store) refuses new keys; reaching orange
/// promotes the dirty map (so one table remains, not two) and calls the
/// `on_orange` hook, after the write, with no lock held.
///
/// Loads go through [`SyncReadOnly`] (`GovernedSyncMap` derefs to it) and
/// take no lock, as a bare `SyncMap`'s do. Every write takes the map's
/// mutex once to read its stats, even a store to a key the read snapshot
/// holds (lock-free in a bare `SyncMap`): see the module docs.
///
/// ```
/// use gomap_govern::{GovernedSyncMap, Level, Registry, Watermarks};
///
/// let registry = Registry::new();
/// let config: GovernedSyncMap<String, String> = GovernedSyncMap::builder("config")
///     .registry(&registry)
///     .watermarks(Watermarks::entries(2, 3, 4).unwrap())
///     .build();
/// std::thread::scope(|s| {
///     for t in 0..2 {
///         let config = &config;
///         s.spawn(move || config.store(format!("key-{t}"), "on".to_string()));
///     }
/// });
/// assert_eq!(config.level(), Level::Yellow);
/// assert_eq!(registry.maps()[0].figures.len, 2);
/// assert_eq!(*config.load("key-1").unwrap(), "on");
/// ```
pub struct GovernedSyncMap<K, V, S = DefaultHashBuilder> {
    view: SyncReadOnly<K, V, S>,
    cell: Arc<MapCell>,
    /// Held while a write's figures are read and published (see the
    /// module's invariants).
    publishing: Mutex<()>,
}

/// The read half of a [`GovernedSyncMap`]: loads and stats of a
/// [`SyncMap`], and no write, so nothing changes the map behind its
/// governance.
///
/// ```
/// use gomap_govern::GovernedSyncMap;
///
/// let map: GovernedSyncMap<u32, &str> = GovernedSyncMap::new("names");
/// map.store(1, "one");
/// let view: &gomap_govern::SyncReadOnly<u32, &str> = &map;
/// assert_eq!(*view.load(&1).unwrap(), "one");
/// assert_eq!(view.mem_stats().len, 1);
/// ```
///
/// Writing through the view does not compile:
///
/// ```compile_fail
/// let map: gomap_govern::GovernedSyncMap<u32, u32> = gomap_govern::GovernedSyncMap::new("m");
/// (*map).store(1, 1); // no `store` on `SyncReadOnly`
/// ```
pub struct SyncReadOnly<K, V, S = DefaultHashBuilder> {
    map: SyncMap<K, V, S>,
}

impl<K, V, S: Clone> SyncReadOnly<K, V, S> {
    /// Live entries (see [`SyncMap::len`]).
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// Whether [`len`](Self::len) is 0.
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// The memory of both of the map's tables (see [`SyncMap::mem_stats`];
    /// takes the map's mutex).
    pub fn mem_stats(&self) -> SyncMapStats {
        self.map.mem_stats()
    }
}

impl<K: Hash + Eq + Clone, V, S: BuildHasher + Clone> SyncReadOnly<K, V, S> {
    /// The key's value; no lock when the key is in the read snapshot (see
    /// [`SyncMap::load`]).
    pub fn load<Q>(&self, key: &Q) -> Option<Ref<V>>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.map.load(key)
    }

    /// Whether the key has a value.
    pub fn contains_key<Q>(&self, key: &Q) -> bool
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.map.load(key).is_some()
    }
}

impl<K: Hash + Eq + Clone + fmt::Debug, V: fmt::Debug, S: BuildHasher + Clone> fmt::Debug
    for SyncReadOnly<K, V, S>
{
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.map.fmt(f)
    }
}

/// Publishes the map's figures when dropped: at the end of a write, or
/// while its panic unwinds.
struct Publish<'a, K, V, S: Clone> {
    map: &'a GovernedSyncMap<K, V, S>,
}

impl<K, V, S: Clone> Drop for Publish<'_, K, V, S> {
    fn drop(&mut self) {
        self.map.publish();
    }
}

impl GovernedSyncMap<(), ()> {
    /// Starts a builder for a map named `name`.
    pub fn builder(name: impl Into<String>) -> SyncBuilder<'static> {
        SyncBuilder::new(name.into())
    }
}

impl<K, V> GovernedSyncMap<K, V> {
    /// A map named `name` in [`Registry::global`](crate::Registry::global),
    /// without watermarks; its creation site is the caller's.
    #[track_caller]
    pub fn new(name: impl Into<String>) -> Self {
        GovernedSyncMap::builder(name).build()
    }
}

impl<K, V, S> Deref for GovernedSyncMap<K, V, S> {
    type Target = SyncReadOnly<K, V, S>;
    fn deref(&self) -> &SyncReadOnly<K, V, S> {
        &self.view
    }
}

impl<K, V, S> fmt::Debug for GovernedSyncMap<K, V, S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GovernedSyncMap")
            .field("name", &self.cell.name)
            .field("site", &self.cell.site)
            .field("level", &self.level())
            .finish()
    }
}

impl<K, V, S> GovernedSyncMap<K, V, S> {
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
}

impl<K, V, S: Clone> GovernedSyncMap<K, V, S> {
    pub(crate) fn with_cell(cell: Arc<MapCell>, hasher: S) -> Self {
        let map = GovernedSyncMap {
            view: SyncReadOnly {
                map: SyncMap::with_hasher(hasher),
            },
            cell,
            publishing: Mutex::new(()),
        };
        map.publish();
        map
    }

    /// Publishes the map's figures now and moves its level to match.
    /// Every write does this; call it to show at once what a promotion made
    /// by loads gave back (see the module docs), e.g. from an idle task.
    pub fn publish(&self) {
        let _publishing = self.publishing.lock();
        let figures = figures_of(&self.view.map.mem_stats());
        let cell = &self.cell;
        cell.figures.store(&figures);
        let Some(marks) = cell.watermarks else {
            return;
        };
        let from = cell.level();
        let to = marks.next_level(from, figures.value(marks.measure()));
        if to != from {
            cell.store_level(to);
            // Reported once `publishing` is released (`after_write`).
            cell.defer_report(from, to, &figures);
        }
    }

    /// Drops every entry in one atomic step (see [`SyncMap::clear`]);
    /// counted in `clears`.
    pub fn clear(&self) {
        self.cell.counters.clears.fetch_add(1, Relaxed);
        {
            let _publish = Publish { map: self };
            self.view.map.clear();
        }
        // Report the level changes the publishes recorded (no orange
        // action: `clear` only lowers levels).
        self.cell.flush();
    }
}

impl<K: Hash + Eq + Clone, V, S: BuildHasher + Clone> GovernedSyncMap<K, V, S> {
    /// Runs one write, then publishes (also if it panics) and takes the
    /// actions it made due.
    fn write<R>(&self, f: impl FnOnce(&SyncMap<K, V, S>) -> R) -> R {
        let result = {
            let _publish = Publish { map: self };
            f(&self.view.map)
        };
        self.after_write();
        result
    }

    /// After a write, with no lock held (see `MapCell::after_write`).
    /// Orange's action promotes the dirty map, so one table is left
    /// instead of two (the old snapshot's goes once its last reader lets
    /// go), then publishes and rechecks the level. Dropping the old
    /// snapshot may drop keys (user code): a panic there does not skip the
    /// hook.
    #[inline]
    fn after_write(&self) {
        self.cell.after_write(|| {
            let _publish = Publish { map: self };
            self.view.map.range(|_, _| false);
        });
    }

    fn refusing(&self) -> bool {
        self.cell.refusing()
    }

    /// Stores a value for a key (always: shed load with
    /// [`try_store`](Self::try_store)).
    pub fn store(&self, key: K, value: V) {
        self.write(|map| map.store(key, value));
    }

    /// Stores a value unless the key is new and the map (or the registry
    /// total) is at red; existing keys are still updated. (Another thread
    /// may store the same key between the check and the store: the breaker
    /// is a load shedder, not a hard limit.)
    ///
    /// ```
    /// use gomap_govern::{GovernedSyncMap, Registry, Watermarks};
    ///
    /// let registry = Registry::new();
    /// let map: GovernedSyncMap<u32, u32> = GovernedSyncMap::builder("flags")
    ///     .registry(&registry)
    ///     .watermarks(Watermarks::entries(1, 2, 3).unwrap())
    ///     .build();
    /// for k in 0..3 {
    ///     map.store(k, 0);
    /// }
    /// assert!(map.try_store(99, 0).is_err()); // new key at red: refused
    /// assert!(map.try_store(1, 7).is_ok()); // existing key: updated
    /// assert_eq!(*map.load(&1).unwrap(), 7);
    /// ```
    pub fn try_store(&self, key: K, value: V) -> Result<(), Refused<K, V>> {
        if self.refusing() && !self.view.contains_key(&key) {
            // The level may be stale-high after promotions made by loads:
            // look again with fresh figures before refusing.
            self.publish();
            self.after_write();
            if self.refusing() {
                return Err(Refused::count(&self.cell, key, value));
            }
        }
        self.store(key, value);
        Ok(())
    }

    /// Stores a value for a key; returns the previous value, if any.
    pub fn swap(&self, key: K, value: V) -> Option<Ref<V>> {
        self.write(|map| map.swap(key, value))
    }

    /// The key's value if it has one (`loaded` = true), else stores
    /// `value` and returns it (`loaded` = false). Always stores a new key:
    /// the breaker is [`try_store`](Self::try_store)'s.
    pub fn load_or_store(&self, key: K, value: V) -> (Ref<V>, bool) {
        self.write(|map| map.load_or_store(key, value))
    }

    /// Removes a key; returns its value, if it had one.
    pub fn load_and_delete<Q>(&self, key: &Q) -> Option<Ref<V>>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.write(|map| map.load_and_delete(key))
    }

    /// Removes a key.
    pub fn delete<Q>(&self, key: &Q)
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.write(|map| map.delete(key));
    }

    /// Stores `new` if the key's value equals `old`; returns whether it did.
    pub fn compare_and_swap<Q>(&self, key: &Q, old: &V, new: V) -> bool
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
        V: PartialEq,
    {
        self.write(|map| map.compare_and_swap(key, old, new))
    }

    /// Removes the key if its value equals `old`; returns whether it did.
    pub fn compare_and_delete<Q>(&self, key: &Q, old: &V) -> bool
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
        V: PartialEq,
    {
        self.write(|map| map.compare_and_delete(key, old))
    }

    /// Calls `f` on every live pair until it returns `false` (see
    /// [`SyncMap::range`]). Like Go's `Range` it first promotes the dirty
    /// map, which gives a table back: the figures are published after.
    pub fn range(&self, f: impl FnMut(&K, &V) -> bool) {
        self.write(|map| map.range(f));
    }
}
