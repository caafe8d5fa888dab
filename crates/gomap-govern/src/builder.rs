//! Builders: [`Builder`] makes a [`Governed`], [`ShardedBuilder`] a
//! [`GovernedSharded`], [`SyncBuilder`] a [`GovernedSyncMap`]; each builds
//! only its own kind. They share their settings (name, registry,
//! watermarks, orange hook; capacity for the first two).

use std::hash::BuildHasher;
use std::panic::Location;
use std::sync::Arc;

use gomap::DefaultHashBuilder;

use crate::cell::MapCell;
use crate::events::Event;
use crate::governed::Governed;
use crate::governed_sync::GovernedSyncMap;
use crate::level::Watermarks;
use crate::registry::{OrangeHook, Registry};
use crate::sharded::GovernedSharded;
use crate::GovernedSet;

/// What both builders set.
struct Settings<'r> {
    name: String,
    registry: Option<&'r Registry>,
    watermarks: Option<Watermarks>,
    hook: Option<OrangeHook>,
    capacity: usize,
}

impl<'r> Settings<'r> {
    fn new(name: String) -> Self {
        Settings {
            name,
            registry: None,
            watermarks: None,
            hook: None,
            capacity: 0,
        }
    }

    fn register(self, kind: &'static str, site: &'static Location<'static>) -> Arc<MapCell> {
        let registry = self.registry.unwrap_or_else(|| Registry::global());
        registry.register(self.name, site, kind, self.watermarks, self.hook)
    }
}

/// The setters both builders share.
macro_rules! settings {
    () => {
        /// Join `registry` instead of [`Registry::global`].
        pub fn registry(mut self, registry: &'r Registry) -> Self {
            self.settings.registry = Some(registry);
            self
        }

        /// The map's own watermarks (build them with [`Watermarks::bytes`]
        /// or [`Watermarks::entries`], which reject bad ones).
        pub fn watermarks(mut self, watermarks: Watermarks) -> Self {
            self.settings.watermarks = Some(watermarks);
            self
        }

        /// Called when the map rises to orange, after the map was shrunk
        /// and its level rechecked, on the writing thread with no lock
        /// held. It may call the registry and other maps; a panic in it is
        /// caught, logged, counted and recorded as an event, and changes
        /// nothing else.
        pub fn on_orange(mut self, hook: impl Fn(&Event) + Send + Sync + 'static) -> Self {
            self.settings.hook = Some(Arc::new(hook));
            self
        }
    };
}

/// The capacity setter, for the builders whose maps can reserve room.
macro_rules! capacity_setting {
    () => {
        /// Room for `capacity` entries up front.
        pub fn capacity(mut self, capacity: usize) -> Self {
            self.settings.capacity = capacity;
            self
        }
    };
}

/// How to make a [`Governed`] map: start with [`Governed::builder`].
///
/// ```
/// use gomap_govern::{Governed, Registry, Watermarks};
///
/// let registry = Registry::new();
/// let map: Governed<u64, String> = Governed::builder("users")
///     .registry(&registry)
///     .watermarks(Watermarks::bytes(1 << 20, 4 << 20, 16 << 20)?)
///     .capacity(100)
///     .build();
/// assert!(map.capacity() >= 100);
/// # Ok::<(), gomap_govern::WatermarkError>(())
/// ```
#[must_use]
pub struct Builder<'r> {
    settings: Settings<'r>,
}

impl<'r> Builder<'r> {
    pub(crate) fn new(name: String) -> Self {
        Builder {
            settings: Settings::new(name),
        }
    }

    settings!();
    capacity_setting!();

    /// The map; its creation site is the caller's.
    #[track_caller]
    pub fn build<K, V>(self) -> Governed<K, V> {
        self.build_with_hasher(DefaultHashBuilder::default())
    }

    /// The map, hashing with `hasher`; its creation site is the caller's.
    #[track_caller]
    pub fn build_with_hasher<K, V, S: BuildHasher>(self, hasher: S) -> Governed<K, V, S> {
        let capacity = self.settings.capacity;
        let cell = self.settings.register("map", Location::caller());
        Governed::with_cell(cell, capacity, hasher)
    }

    /// A [`GovernedSet`] instead of a map; its creation site is the
    /// caller's.
    #[track_caller]
    pub fn build_set<T>(self) -> GovernedSet<T> {
        GovernedSet::from_map(self.build())
    }
}

/// How to make a [`GovernedSharded`] map: start with
/// [`GovernedSharded::builder`].
///
/// ```
/// use gomap_govern::{GovernedSharded, Registry};
///
/// let registry = Registry::new();
/// let map: GovernedSharded<u64, u64> = GovernedSharded::builder("sessions")
///     .registry(&registry)
///     .shard_amount(8)
///     .build();
/// assert_eq!(map.shard_amount(), 8);
/// ```
///
/// It builds only a `GovernedSharded`:
///
/// ```compile_fail
/// let map: gomap_govern::Governed<u32, u32> = gomap_govern::GovernedSharded::builder("x").build();
/// ```
#[must_use]
pub struct ShardedBuilder<'r> {
    settings: Settings<'r>,
    shard_amount: Option<usize>,
}

impl<'r> ShardedBuilder<'r> {
    pub(crate) fn new(name: String) -> Self {
        ShardedBuilder {
            settings: Settings::new(name),
            shard_amount: None,
        }
    }

    settings!();
    capacity_setting!();

    /// The number of shards (rounded up to a power of two, at least 1; see
    /// `gomap_sync::ShardedMap::with_shard_amount`). Default: the next
    /// power of two at or above four times the available parallelism.
    pub fn shard_amount(mut self, shard_amount: usize) -> Self {
        self.shard_amount = Some(shard_amount);
        self
    }

    /// The map; its creation site is the caller's. (The bounds let the
    /// registry's sampler step its idle shards' migrations: see
    /// [`Registry::sample`].)
    #[track_caller]
    pub fn build<K, V>(self) -> GovernedSharded<K, V>
    where
        K: Eq + std::hash::Hash + Send + Sync + 'static,
        V: Send + Sync + 'static,
    {
        let capacity = self.settings.capacity;
        let shard_amount = self
            .shard_amount
            .unwrap_or_else(gomap_sync::sharded::default_shard_amount);
        let cell = self.settings.register("sharded", Location::caller());
        GovernedSharded::with_cell(cell, capacity, shard_amount)
    }
}

/// How to make a [`GovernedSyncMap`]: start with
/// [`GovernedSyncMap::builder`]. (No capacity: a `SyncMap` reserves no
/// room up front.)
///
/// ```
/// use gomap_govern::{GovernedSyncMap, Registry, Watermarks};
///
/// let registry = Registry::new();
/// let flags: GovernedSyncMap<String, bool> = GovernedSyncMap::builder("flags")
///     .registry(&registry)
///     .watermarks(Watermarks::entries(1_000, 5_000, 10_000)?)
///     .build();
/// assert_eq!(registry.maps()[0].kind, "sync");
/// # Ok::<(), gomap_govern::WatermarkError>(())
/// ```
///
/// It builds only a `GovernedSyncMap`:
///
/// ```compile_fail
/// let map: gomap_govern::Governed<u32, u32> = gomap_govern::GovernedSyncMap::builder("x").build();
/// ```
#[must_use]
pub struct SyncBuilder<'r> {
    settings: Settings<'r>,
}

impl<'r> SyncBuilder<'r> {
    pub(crate) fn new(name: String) -> Self {
        SyncBuilder {
            settings: Settings::new(name),
        }
    }

    settings!();

    /// The map; its creation site is the caller's.
    #[track_caller]
    pub fn build<K, V>(self) -> GovernedSyncMap<K, V> {
        self.build_with_hasher(DefaultHashBuilder::default())
    }

    /// The map, hashing with `hasher`; its creation site is the caller's.
    #[track_caller]
    pub fn build_with_hasher<K, V, S: BuildHasher + Clone>(
        self,
        hasher: S,
    ) -> GovernedSyncMap<K, V, S> {
        let cell = self.settings.register("sync", Location::caller());
        GovernedSyncMap::with_cell(cell, hasher)
    }
}
