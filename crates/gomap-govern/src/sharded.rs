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
use crate::registry::{Event, Figures, MapCell, MapReport};
use parking_lot::Mutex;

/// One shard's last figures and migration counts, written only under that
/// shard's write lock.
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
    /// The level rose to orange under a shard lock: shrink once it is
    /// released, then call the hook with the event of that rise.
    orange_pending: AtomicBool,
    orange_event: Mutex<Option<Event>>,
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

const KINDS: [MigrationKind; 3] = [
    MigrationKind::Grow,
    MigrationKind::Compact,
    MigrationKind::Shrink,
];

impl State {
    /// The cell's atomic for figure `i` of `to_array`.
    fn total(&self, i: usize) -> &AtomicU64 {
        let c = &self.cell;
        [
            &c.len,
            &c.allocated_bytes,
            &c.buckets,
            &c.old_buckets,
            &c.overflow_buckets,
            &c.migration_evacuated,
            &c.migration_total,
        ][i]
    }

    /// Called under shard `index`'s write lock after every write to it: adds
    /// what changed in this shard to the cell's totals (each total is only
    /// ever moved by such deltas, so concurrent shards never overwrite each
    /// other), then checks the level.
    fn observe<K, V, S>(&self, index: usize, shard: &HashMap<K, V, S>) {
        let new = to_array(&Figures::of(&shard.mem_stats()));
        let slot = &self.slots[index];
        let mut now = [None; 2]; // the totals of len and bytes, if they moved
        for (i, &value) in new.iter().enumerate() {
            let old = slot.figures[i].load(Relaxed);
            if value != old {
                slot.figures[i].store(value, Relaxed);
                let delta = value.wrapping_sub(old);
                let total = self.total(i).fetch_add(delta, Relaxed).wrapping_add(delta);
                if i < 2 {
                    now[i] = Some(total);
                }
            }
        }
        for kind in KINDS {
            let k = kind as usize;
            let raw = shard.migrations_started(kind);
            // Only this shard's lock holder writes its slot: a plain load
            // and, when the count moved, a store (no read-modify-write).
            let last = slot.migrations[k].load(Relaxed);
            if raw != last {
                slot.migrations[k].store(raw, Relaxed);
                // A smaller count is a fresh map swapped in (`take`, `reset`).
                let started = if raw > last { raw - last } else { raw };
                self.cell.migrations[k].fetch_add(started, Relaxed);
            }
        }
        if let Some(marks) = self.cell.watermarks {
            let i = match marks.measure() {
                crate::Measure::Entries => 0,
                crate::Measure::Bytes => 1,
            };
            let value = now[i].unwrap_or_else(|| self.total(i).load(Relaxed));
            let (low, high) = marks.band(self.cell.level());
            if value < low || value >= high {
                self.level_moved(value);
            }
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
                    let event = self.cell.level_changed(from, to, &self.cell.figures());
                    if to >= Level::Orange && from < Level::Orange {
                        *self.orange_event.lock() = Some(event);
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
/// after the write that reached it, once its shard lock is released. (A
/// write made through the deref'd `ShardedMap` is still observed, so the
/// figures stay right, but it skips orange's action and the clears/resets
/// counters: use this type's methods.)
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
            orange_pending: AtomicBool::new(false),
            orange_event: Mutex::new(None),
        });
        // The shards as built (`with_capacity` allocates); later figures
        // come from the observer.
        for (index, shard) in map.read_all().shards().enumerate() {
            state.observe(index, shard);
        }
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
        let requested = cell.shrink_requested.swap(false, Relaxed);
        if !(orange || requested) {
            return;
        }
        self.map.shrink_to_fit();
        if orange {
            let event = self.state.orange_event.lock().take();
            if let (Some(hook), Some(event)) = (&cell.hook, event) {
                hook(&event);
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
