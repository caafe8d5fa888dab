//! `Governed`: a `gomap::HashMap` with a name, a creation site, figures the
//! registry can read, and watermarks with actions.

use std::borrow::Borrow;
use std::fmt;
use std::hash::{BuildHasher, Hash};
use std::ops::Deref;
use std::panic::Location;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;

use gomap::hash_map::Entry;
use gomap::{DefaultHashBuilder, HashMap, MigrationKind, ShrinkPolicy, TryReserveError};

use crate::level::{Level, Watermarks};
use crate::registry::{
    Event, Figures, MapCell, MapReport, OrangeHook, Registry, MIGRATING, SHRINK_REQUEST,
};
use crate::sharded::GovernedSharded;

/// How to make a governed map: its name, registry, watermarks and orange
/// hook. Start with [`Governed::builder`].
#[must_use]
pub struct Builder<'r> {
    name: String,
    registry: Option<&'r Registry>,
    watermarks: Option<Watermarks>,
    hook: Option<OrangeHook>,
    capacity: usize,
}

impl<'r> Builder<'r> {
    /// Join `registry` instead of [`Registry::global`].
    pub fn registry(mut self, registry: &'r Registry) -> Self {
        self.registry = Some(registry);
        self
    }

    /// The map's own watermarks (build them with [`Watermarks::bytes`] or
    /// [`Watermarks::entries`], which reject bad ones).
    pub fn watermarks(mut self, watermarks: Watermarks) -> Self {
        self.watermarks = Some(watermarks);
        self
    }

    /// Called (on the writing thread) when the map reaches orange, after it
    /// has been shrunk.
    pub fn on_orange(mut self, hook: impl Fn(&Event) + Send + Sync + 'static) -> Self {
        self.hook = Some(Arc::new(hook));
        self
    }

    /// Room for `capacity` entries up front.
    pub fn capacity(mut self, capacity: usize) -> Self {
        self.capacity = capacity;
        self
    }

    fn register(self, kind: &'static str, site: &'static Location<'static>) -> Arc<MapCell> {
        let registry = self.registry.unwrap_or_else(|| Registry::global());
        registry.register(self.name, site, kind, self.watermarks, self.hook)
    }

    /// A [`Governed`] map; its creation site is the caller's.
    #[track_caller]
    pub fn build<K, V>(self) -> Governed<K, V> {
        self.build_with_hasher(DefaultHashBuilder::default())
    }

    /// A [`Governed`] map hashing with `hasher`.
    #[track_caller]
    pub fn build_with_hasher<K, V, S: BuildHasher>(self, hasher: S) -> Governed<K, V, S> {
        let map = HashMap::with_capacity_and_hasher(self.capacity, hasher);
        let entries_measured = self
            .watermarks
            .is_some_and(|w| w.measure() == crate::Measure::Entries);
        let cell = self.register("map", Location::caller());
        let mut governed = Governed {
            map,
            cell,
            low: 0,
            high: u64::MAX,
            len_low: 0,
            len_span: u64::MAX,
            last_bytes: 0,
            entries_measured,
            migrations_base: [0; 3],
        };
        governed.set_band(Level::Green);
        // Figures now; `seen_calls` stays `MIGRATING`, so the first write
        // takes the slow path and checks the level (a map built with a large
        // capacity may start above a watermark).
        governed.publish_figures();
        governed
    }

    /// A [`GovernedSharded`] map with the default shard amount.
    #[track_caller]
    pub fn build_sharded<K, V>(self) -> GovernedSharded<K, V> {
        let capacity = self.capacity;
        let cell = self.register("sharded", Location::caller());
        GovernedSharded::with_cell(cell, capacity)
    }
}

/// A [`gomap::HashMap`] that the registry knows: a name, the place it was
/// created, figures published on every write (relaxed atomic stores, no
/// lock), and watermarks with actions.
///
/// Reads go straight to the map (`Governed` derefs to `&HashMap`); writes
/// go through the methods below, which publish the map's figures and check
/// its level. Levels (see [`Watermarks`]): rising to yellow logs a warning
/// and keeps a stats snapshot; reaching orange shrinks the map at once and
/// calls the `on_orange` hook; at red, [`try_insert`](Self::try_insert)
/// refuses new keys (updates of existing keys still work) until the map
/// falls under orange. Every change of level is an [`Event`]
/// ([`Registry::subscribe`]).
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
    /// The watermarks count entries, not bytes.
    entries_measured: bool,
    /// Migrations started by maps this one replaced (`take`), so the
    /// published counts never go backwards.
    migrations_base: [u64; 3],
}

impl Governed<(), ()> {
    /// Starts a builder for a map named `name`.
    pub fn builder(name: impl Into<String>) -> Builder<'static> {
        Builder {
            name: name.into(),
            registry: None,
            watermarks: None,
            hook: None,
            capacity: 0,
        }
    }
}

impl<K, V> Governed<K, V> {
    /// A map named `name` in [`Registry::global`], without watermarks; its
    /// creation site is the caller's.
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

/// A new key refused because its map, or all governed maps together, are
/// at red. Carries the pair back.
pub struct Refused<K, V> {
    /// The key that was not inserted.
    pub key: K,
    /// Its value.
    pub value: V,
    /// The map's name.
    pub map: String,
    /// Where the map was created.
    pub site: String,
}

impl<K, V> Refused<K, V> {
    /// Counts a refusal on `cell` and hands the pair back.
    pub(crate) fn count(cell: &MapCell, key: K, value: V) -> Self {
        cell.refused.fetch_add(1, Relaxed);
        Refused {
            key,
            value,
            map: cell.name.clone(),
            site: cell.site.to_string(),
        }
    }
}

impl<K, V> fmt::Debug for Refused<K, V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Refused")
            .field("map", &self.map)
            .field("site", &self.site)
            .finish_non_exhaustive()
    }
}

impl<K, V> fmt::Display for Refused<K, V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "gomap: map '{}' (created at {}) is at red: new keys are refused until it falls under orange",
            self.map, self.site
        )
    }
}

impl<K, V> std::error::Error for Refused<K, V> {}

impl<K, V, S> Governed<K, V, S> {
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
        self.cell.level() == Level::Red || self.cell.registry.refusing.load(Relaxed)
    }

    /// Publishes every figure and counter. Returns whether the registry had
    /// asked for a shrink (the request is taken).
    #[inline(never)]
    fn publish_all(&mut self) -> bool {
        let seen = self.publish_figures();
        self.cell.seen_calls.swap(seen, Relaxed) == SHRINK_REQUEST
    }

    /// Publishes every figure and counter; returns the `seen_calls` value
    /// that goes with them (`MIGRATING` while a migration runs: no count
    /// matches it, so every write republishes).
    fn publish_figures(&mut self) -> u64 {
        let stats = self.map.mem_stats();
        self.cell.publish(&Figures::of(&stats));
        for kind in [
            MigrationKind::Grow,
            MigrationKind::Compact,
            MigrationKind::Shrink,
        ] {
            let count = self.migrations_base[kind as usize] + self.map.migrations_started(kind);
            self.cell.set_migrations(kind, count);
        }
        self.last_bytes = stats.allocated_bytes as u64;
        match stats.migration {
            Some(_) => MIGRATING,
            None => self.map.allocator_calls(),
        }
    }

    fn set_band(&mut self, level: Level) {
        (self.low, self.high) = self
            .cell
            .watermarks
            .map_or((0, u64::MAX), |w| w.band(level));
        (self.len_low, self.len_span) = if self.entries_measured {
            (self.low, self.high - self.low)
        } else {
            (0, u64::MAX)
        };
    }
}

impl<K: Eq + Hash, V, S: BuildHasher> Governed<K, V, S> {
    /// Inserts a pair; returns the old value of the key, if any. Always
    /// inserts, even at red: shed load with [`try_insert`](Self::try_insert).
    #[inline]
    pub fn insert(&mut self, key: K, value: V) -> Option<V> {
        let old = self.map.insert(key, value);
        self.after_write();
        old
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
        let old = self.map.remove(key);
        self.after_write();
        old
    }

    /// Removes a key; returns the stored key and its value.
    pub fn remove_entry<Q: Hash + Eq + ?Sized>(&mut self, key: &Q) -> Option<(K, V)>
    where
        K: Borrow<Q>,
    {
        let old = self.map.remove_entry(key);
        self.after_write();
        old
    }

    /// The key's value, mutably (changing a value moves no figure).
    pub fn get_mut<Q: Hash + Eq + ?Sized>(&mut self, key: &Q) -> Option<&mut V>
    where
        K: Borrow<Q>,
    {
        self.map.get_mut(key)
    }

    /// Read-modify-write through the key's [`Entry`]; figures are published
    /// after `f` returns.
    ///
    /// ```
    /// let mut hits: gomap_govern::Governed<&str, u64> = gomap_govern::Governed::new("hits");
    /// hits.update("/", |e| *e.or_insert(0) += 1);
    /// assert_eq!(hits.get("/"), Some(&1));
    /// ```
    pub fn update<R>(&mut self, key: K, f: impl FnOnce(Entry<'_, K, V, S>) -> R) -> R {
        let result = f(self.map.entry(key));
        self.after_write();
        result
    }

    /// Keeps the entries for which `f` returns `true`.
    pub fn retain(&mut self, f: impl FnMut(&K, &mut V) -> bool) {
        self.map.retain(f);
        self.after_write();
    }

    /// Drops every entry, keeping the buckets (see `gomap::HashMap::clear`);
    /// counted in `clears`.
    pub fn clear(&mut self) {
        self.map.clear();
        self.cell.clears.fetch_add(1, Relaxed);
        self.after_write();
    }

    /// Drops every entry and frees every bucket now; counted in `resets`.
    pub fn reset(&mut self) {
        self.map.reset();
        self.cell.resets.fetch_add(1, Relaxed);
        self.after_write();
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
        for kind in [
            MigrationKind::Grow,
            MigrationKind::Compact,
            MigrationKind::Shrink,
        ] {
            self.migrations_base[kind as usize] += taken.migrations_started(kind);
        }
        self.cell.resets.fetch_add(1, Relaxed);
        self.after_write();
        taken
    }

    /// Gives memory back now.
    pub fn shrink_to_fit(&mut self) {
        self.map.shrink_to_fit();
        self.after_write();
    }

    /// Gives memory back now, keeping room for `min_capacity` entries.
    pub fn shrink_to(&mut self, min_capacity: usize) {
        self.map.shrink_to(min_capacity);
        self.after_write();
    }

    /// Room for `additional` more entries.
    pub fn reserve(&mut self, additional: usize) {
        self.map.reserve(additional);
        self.after_write();
    }

    /// Room for `additional` more entries, or an error with the map
    /// unchanged.
    pub fn try_reserve(&mut self, additional: usize) -> Result<(), TryReserveError> {
        let result = self.map.try_reserve(additional);
        self.after_write();
        result
    }

    /// Sets the shrink policy.
    pub fn set_shrink_policy(&mut self, policy: ShrinkPolicy) {
        self.map.set_shrink_policy(policy);
    }

    /// Completes a running migration now.
    pub fn finish_migration(&mut self) {
        self.map.finish_migration();
        self.after_write();
    }

    /// After every write: publish, then check the level and the registry's
    /// shrink request. The map's bytes move only with an allocator call
    /// (`allocator_calls`), so the common case is one relaxed store (`len`)
    /// and two comparisons: the slow path runs when the map called its
    /// allocator, during a migration (its progress is a figure), when the
    /// registry asks for a shrink (see `MapCell::seen_calls`), or when `len`
    /// leaves an entries band.
    #[inline]
    fn after_write(&mut self) {
        let len = self.map.len() as u64;
        self.cell.len.store(len, Relaxed);
        if self.map.allocator_calls() != self.cell.seen_calls.load(Relaxed)
            || len.wrapping_sub(self.len_low) >= self.len_span
        {
            self.after_write_slow();
        }
    }

    #[cold]
    #[inline(never)]
    fn after_write_slow(&mut self) {
        // A shrink the registry asked for first, so the level below sees
        // the bytes after it.
        if self.publish_all() {
            self.map.shrink_to_fit();
            let _ = self.publish_all();
        }
        let value = if self.entries_measured {
            self.cell.len.load(Relaxed)
        } else {
            self.last_bytes
        };
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
        let figures = self.cell.figures();
        let to = marks.next_level(from, figures.value(marks.measure()));
        self.move_to(from, to, &figures);
        if to >= Level::Orange && from < Level::Orange {
            // Orange's action: give memory back now, then tell the user.
            self.map.shrink_to_fit();
            self.publish_all();
            let event = Event {
                from,
                to,
                ..self.last_event(&figures, to)
            };
            if let Some(hook) = &self.cell.hook {
                hook(&event);
            }
            let figures = self.cell.figures();
            let after = marks.next_level(to, figures.value(marks.measure()));
            self.move_to(to, after, &figures);
        }
    }

    fn last_event(&self, figures: &Figures, to: Level) -> Event {
        let measure = self
            .cell
            .watermarks
            .map_or(crate::Measure::Bytes, |w| w.measure());
        Event {
            map: Some(self.cell.name.clone()),
            site: Some(self.cell.site.to_string()),
            from: to,
            to,
            value: figures.value(measure),
            measure,
            at_unix_secs: crate::registry::now_unix_secs(),
        }
    }

    fn move_to(&mut self, from: Level, to: Level, figures: &Figures) {
        if from != to {
            self.cell.level.store(to as u8, Relaxed);
            self.cell.level_changed(from, to, figures);
        }
        self.set_band(to);
    }
}

impl<K: Eq + Hash, V, S: BuildHasher> Extend<(K, V)> for Governed<K, V, S> {
    fn extend<I: IntoIterator<Item = (K, V)>>(&mut self, iter: I) {
        self.map.extend(iter);
        self.after_write();
    }
}
