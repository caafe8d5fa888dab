//! `GovernedSharded`: a `ShardedMap` the registry knows.

use std::borrow::Borrow;
use std::fmt;
use std::hash::{BuildHasher, Hash};
use std::ops::Deref;
use std::panic::Location;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::Arc;

use gomap::hash_map::Entry;
use gomap::{DefaultHashBuilder, HashMap, MigrationKind};
use gomap_sync::ShardedMap;

use crate::governed::Refused;
use crate::level::Level;
use crate::registry::{Figures, MapCell, MapReport};

/// One shard's last figures, written only under that shard's write lock.
#[derive(Default)]
#[repr(align(128))]
struct ShardSlot {
    figures: [AtomicU64; 7],
    migrations: [AtomicU64; 3],
}

/// What the observer shares with the map.
struct State {
    cell: Arc<MapCell>,
    slots: Box<[ShardSlot]>,
    /// Sums over the shards, kept by deltas.
    len: AtomicU64,
    bytes: AtomicU64,
    /// The level rose to orange under a shard lock: shrink once it is
    /// released.
    orange_pending: AtomicBool,
}

fn to_array(f: &Figures) -> [u64; 7] {
    [
        f.len,
        f.allocated_bytes,
        f.buckets,
        f.old_buckets,
        f.overflow_buckets,
        f.migration_evacuated,
        f.migration_total,
    ]
}

impl State {
    /// Called under shard `index`'s write lock after every write to it.
    fn observe<K, V, S>(&self, index: usize, shard: &HashMap<K, V, S>) {
        let stats = shard.mem_stats();
        let new = to_array(&Figures::of(&stats));
        let slot = &self.slots[index];
        // Only this shard's lock holder writes its slot: load and store.
        let old_len = slot.figures[0].swap(new[0], Relaxed);
        let old_bytes = slot.figures[1].swap(new[1], Relaxed);
        let len = if new[0] != old_len {
            self.len
                .fetch_add(new[0].wrapping_sub(old_len), Relaxed)
                .wrapping_add(new[0].wrapping_sub(old_len))
        } else {
            self.len.load(Relaxed)
        };
        let bytes = if new[1] != old_bytes {
            self.bytes
                .fetch_add(new[1].wrapping_sub(old_bytes), Relaxed)
                .wrapping_add(new[1].wrapping_sub(old_bytes))
        } else {
            self.bytes.load(Relaxed)
        };
        self.cell.len.store(len, Relaxed);
        self.cell.allocated_bytes.store(bytes, Relaxed);
        if new[1] != old_bytes || stats.migration.is_some() || slot.figures[6].load(Relaxed) != 0 {
            for (i, v) in new.iter().enumerate().skip(2) {
                slot.figures[i].store(*v, Relaxed);
            }
            for kind in [
                MigrationKind::Grow,
                MigrationKind::Compact,
                MigrationKind::Shrink,
            ] {
                slot.migrations[kind as usize].store(shard.migrations_started(kind), Relaxed);
            }
            self.publish_shape();
        }
        if let Some(marks) = self.cell.watermarks {
            let value = match marks.measure() {
                crate::Measure::Bytes => bytes,
                crate::Measure::Entries => len,
            };
            let from = self.cell.level();
            let (low, high) = marks.band(from);
            if value < low || value >= high {
                self.level_moved(value);
            }
        }
    }

    /// Sums the shards' shape figures and migration counts into the cell.
    fn publish_shape(&self) {
        let mut sum = [0u64; 7];
        let mut migrations = [0u64; 3];
        for slot in self.slots.iter() {
            for (s, a) in sum.iter_mut().zip(&slot.figures) {
                *s += a.load(Relaxed);
            }
            for (m, a) in migrations.iter_mut().zip(&slot.migrations) {
                *m += a.load(Relaxed);
            }
        }
        let c = &self.cell;
        c.buckets.store(sum[2], Relaxed);
        c.old_buckets.store(sum[3], Relaxed);
        c.overflow_buckets.store(sum[4], Relaxed);
        c.migration_evacuated.store(sum[5], Relaxed);
        c.migration_total.store(sum[6], Relaxed);
        for kind in [
            MigrationKind::Grow,
            MigrationKind::Compact,
            MigrationKind::Shrink,
        ] {
            c.set_migrations(kind, migrations[kind as usize]);
        }
    }

    #[cold]
    #[inline(never)]
    fn level_moved(&self, value: u64) {
        let Some(marks) = self.cell.watermarks else {
            return;
        };
        let mut from = self.cell.level();
        loop {
            let to = marks.next_level(from, value);
            if to == from {
                return;
            }
            match self
                .cell
                .level
                .compare_exchange(from as u8, to as u8, Relaxed, Relaxed)
            {
                Ok(_) => {
                    self.cell.level_changed(from, to, &self.cell.figures());
                    if to >= Level::Orange && from < Level::Orange {
                        self.orange_pending.store(true, Relaxed);
                    }
                    return;
                }
                Err(now) => from = Level::from_u8(now),
            }
        }
    }
}

/// A [`ShardedMap`] the registry knows: like [`Governed`](crate::Governed),
/// for maps shared between threads. Every shard reports its figures under
/// its own write lock (through [`ShardedMap::with_observer`]); the map's
/// totals are kept by deltas, so no write takes another lock.
///
/// Reads go straight to the map (`GovernedSharded` derefs to
/// `&ShardedMap`); writes go through the methods below. Orange's shrink runs
/// after the write that reached it, once its shard lock is released.
///
/// ```
/// use gomap_govern::{GovernedSharded, Registry};
///
/// let registry = Registry::new();
/// let sessions: GovernedSharded<u64, u64> =
///     GovernedSharded::builder("sessions").registry(&registry).build_sharded();
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
/// ```
pub struct GovernedSharded<K, V, S = DefaultHashBuilder> {
    map: ShardedMap<K, V, S>,
    state: Arc<State>,
}

impl GovernedSharded<(), ()> {
    /// Starts a builder; finish with
    /// [`build_sharded`](crate::Builder::build_sharded).
    pub fn builder(name: impl Into<String>) -> crate::Builder<'static> {
        crate::Governed::builder(name)
    }
}

impl<K, V> GovernedSharded<K, V> {
    /// A map named `name` in [`Registry::global`](crate::Registry::global),
    /// without watermarks; its creation site is the caller's.
    #[track_caller]
    pub fn new(name: impl Into<String>) -> Self {
        crate::Governed::builder(name).build_sharded()
    }

    pub(crate) fn with_cell(cell: Arc<MapCell>, capacity: usize) -> Self {
        let map: ShardedMap<K, V> = ShardedMap::with_capacity(capacity);
        let state = Arc::new(State {
            cell,
            slots: (0..map.shard_amount())
                .map(|_| ShardSlot::default())
                .collect(),
            len: AtomicU64::new(0),
            bytes: AtomicU64::new(0),
            orange_pending: AtomicBool::new(false),
        });
        // The shards as built (`with_capacity` allocates); later figures
        // come from the observer.
        for (slot, stats) in state.slots.iter().zip(map.shard_stats()) {
            for (a, v) in slot.figures.iter().zip(to_array(&Figures::of(&stats))) {
                a.store(v, Relaxed);
            }
            state.len.fetch_add(stats.len as u64, Relaxed);
            state.bytes.fetch_add(stats.allocated_bytes as u64, Relaxed);
        }
        state.cell.len.store(state.len.load(Relaxed), Relaxed);
        state
            .cell
            .allocated_bytes
            .store(state.bytes.load(Relaxed), Relaxed);
        state.publish_shape();
        let observer = state.clone();
        let map = map.with_observer(move |index, shard| observer.observe(index, shard));
        GovernedSharded { map, state }
    }
}

impl<K, V, S> Deref for GovernedSharded<K, V, S> {
    type Target = ShardedMap<K, V, S>;
    fn deref(&self) -> &ShardedMap<K, V, S> {
        &self.map
    }
}

impl<K, V, S> fmt::Debug for GovernedSharded<K, V, S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GovernedSharded")
            .field("name", &self.state.cell.name)
            .field("site", &self.state.cell.site)
            .field("level", &self.level())
            .finish()
    }
}

impl<K, V, S> GovernedSharded<K, V, S> {
    /// The name given at construction.
    pub fn name(&self) -> &str {
        &self.state.cell.name
    }

    /// Where the map was created.
    pub fn site(&self) -> &'static Location<'static> {
        self.state.cell.site
    }

    /// The map's level now.
    pub fn level(&self) -> Level {
        self.state.cell.level()
    }

    /// What the registry reports of this map.
    pub fn report(&self) -> MapReport {
        self.state.cell.report()
    }

    /// Drops every entry at one instant (every shard's write lock held);
    /// counted in `clears`.
    pub fn clear(&self) {
        self.map.clear();
        self.state.cell.clears.fetch_add(1, Relaxed);
    }

    /// Drops every entry and frees every bucket, at one instant; counted in
    /// `resets`.
    pub fn reset(&self)
    where
        S: Clone,
    {
        self.map.reset();
        self.state.cell.resets.fetch_add(1, Relaxed);
    }
}

impl<K: Eq + Hash, V, S: BuildHasher> GovernedSharded<K, V, S> {
    /// Orange's action, after the write that reached it; and the registry's
    /// shrink request.
    #[inline]
    fn after_write(&self) {
        let cell = &self.state.cell;
        if self.state.orange_pending.load(Relaxed) || cell.shrink_requested.load(Relaxed) {
            self.act();
        }
    }

    #[cold]
    #[inline(never)]
    fn act(&self) {
        let cell = &self.state.cell;
        let orange = self.state.orange_pending.swap(false, Relaxed);
        if orange || cell.shrink_requested.swap(false, Relaxed) {
            self.map.shrink_to_fit();
        }
        if orange {
            if let Some(hook) = &cell.hook {
                let figures = cell.figures();
                let measure = cell
                    .watermarks
                    .map_or(crate::Measure::Bytes, |w| w.measure());
                hook(&crate::Event {
                    map: Some(cell.name.clone()),
                    site: Some(cell.site.to_string()),
                    from: Level::Orange,
                    to: cell.level(),
                    value: figures.value(measure),
                    measure,
                    at_unix_secs: crate::registry::now_unix_secs(),
                });
            }
        }
    }

    fn refusing(&self) -> bool {
        let cell = &self.state.cell;
        cell.level() == Level::Red || cell.registry.refusing.load(Relaxed)
    }

    /// Inserts a pair; returns the old value, if any (always inserts: shed
    /// load with [`try_insert`](Self::try_insert)).
    pub fn insert(&self, key: K, value: V) -> Option<V> {
        let old = self.map.insert(key, value);
        self.after_write();
        old
    }

    /// Inserts unless the key is new and the map (or the registry total) is
    /// at red. (Between the check and the insert another thread may insert
    /// the same key; the breaker is a load shedder, not a hard limit.)
    pub fn try_insert(&self, key: K, value: V) -> Result<Option<V>, Refused<K, V>> {
        if self.refusing() && !self.map.contains_key(&key) {
            return Err(Refused::count(&self.state.cell, key, value));
        }
        Ok(self.insert(key, value))
    }

    /// Removes a key; returns its value.
    pub fn remove<Q: Hash + Eq + ?Sized>(&self, key: &Q) -> Option<V>
    where
        K: Borrow<Q>,
    {
        let old = self.map.remove(key);
        self.after_write();
        old
    }

    /// Read-modify-write of one key under its shard's write lock.
    pub fn update<R>(&self, key: K, f: impl FnOnce(Entry<'_, K, V, S>) -> R) -> R {
        let result = self.map.update(key, f);
        self.after_write();
        result
    }

    /// Keeps the entries for which `f` returns `true`, shard by shard.
    pub fn retain(&self, f: impl FnMut(&K, &mut V) -> bool) {
        self.map.retain(f);
        self.after_write();
    }

    /// Gives memory back in every shard now.
    pub fn shrink_to_fit(&self) {
        self.map.shrink_to_fit();
    }
}
