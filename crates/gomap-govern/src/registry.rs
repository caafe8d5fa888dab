//! The registry of live governed maps: listing, totals, sampling, the
//! total's watermarks, and the calling of user hooks.
//!
//! # Design
//!
//! Every governed map owns an `Arc<MapCell>` (see `cell.rs`): its identity,
//! watermarks, and figures in atomics that the map's writes update with
//! relaxed stores (no lock, no cache line shared with other maps). The
//! registry holds `Weak<MapCell>`s: everything it does — listing, sampling
//! trends, totals, exporting metrics — reads those atomics. Actions that
//! need a map (orange's shrink) are taken by the map on its next write,
//! when the registry asks through a flag.
//!
//! One thing a sample does to maps itself: it finishes migrations that
//! idle maps' writes left running, a bounded step at a time
//! ([`RegistryConfig::maintenance_budget`]). Only `GovernedSharded` maps
//! can be reached: a cell holds a `Weak` handle to the map's shared state
//! (`cell::Maintain`), which does not keep the map alive, and the step
//! takes each shard's write lock with `try_write`, passing over held
//! shards, so a sample never waits for a map. A `Governed` map is written
//! through its owner's `&mut` and cannot be reached from another thread.
//!
//! # Bounded bookkeeping
//!
//! A dropped map leaves a dead `Weak` behind (it keeps the cell's
//! allocation). The registry counts its live maps (a cell's drop counts
//! down), and a registration that finds `2 × live + PRUNE_FLOOR` handles or
//! more prunes the dead ones first: after every registration the list holds
//! at most that many, at amortised O(1) per registration (a prune removes
//! at least half of what it walks), with no listing or sampler needed — a
//! million short-lived maps cost what the live ones cost. Listing prunes
//! too. Events are a bounded ring, subscriptions bounded queues
//! (`events.rs`).
//!
//! # User code
//!
//! Hooks run on the thread whose write (or sample) reached orange, after
//! every lock is released and the level change has taken effect, under
//! `catch_unwind`: a panicking hook is logged (`tracing::error!`), recorded
//! as an event, counted ([`Health`]), and changes nothing else. A hook may
//! call any registry method, and write to other maps.
//!
//! A maintenance step runs user code too (moving entries hashes their
//! keys): the cells are collected under the list's lock and stepped after
//! it is released, before the sampling lock is taken, each under
//! `catch_unwind`. A step whose `Hash` panicked leaves its map consistent
//! (the shard's lock is released and its figures published as the panic
//! unwinds); it is logged (`tracing::error!`) and the sampler steps that
//! map no more (its writes still do their share). No [`Health`] counter
//! counts these: they are not the hooks' or the sampler's panics.

use std::any::Any;
use std::panic::{catch_unwind, AssertUnwindSafe, Location};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicU8, AtomicUsize, Ordering::Relaxed};
use std::sync::{Arc, OnceLock, Weak};
use std::time::Instant;

use parking_lot::Mutex;
use serde::Serialize;

use crate::cell::{MapCell, MapReport, SHRINK_REQUEST};
use crate::config::RegistryConfig;
use crate::events::{now_unix_secs, Event, EventKind, EventLog, Hook, Subscription};
use crate::figures::Figures;
use crate::level::{Level, Watermarks};
use crate::sampler::SamplerState;

/// The hook called when a map reaches orange.
pub type OrangeHook = Arc<dyn Fn(&Event) + Send + Sync>;

/// The hook called when the registry total reaches orange; it is handed
/// the registry (so it need not hold a clone of it, which would keep the
/// registry alive forever).
pub type TotalHook = Arc<dyn Fn(&Registry, &Event) + Send + Sync>;

/// The sum over every live map.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize)]
pub struct Totals {
    /// Live governed maps.
    pub maps: usize,
    /// Entries in all of them.
    pub len: u64,
    /// Bytes all of their tables hold.
    pub allocated_bytes: u64,
    /// Bytes their keys and values own (of the maps that measure them).
    pub owned_bytes: u64,
    /// The registry total's level (against the registry's watermarks).
    pub level: Level,
    /// Maps flagged `suspected_leak`.
    pub suspected_leaks: usize,
}

/// How the registry itself is doing: what it keeps, and what went wrong in
/// user code and the sampler. Exported as metrics and in `/debug/maps`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Health {
    /// Map handles the registry holds: the live maps, plus dropped ones
    /// not yet pruned (at most `2 × live + 64` after each registration).
    pub map_handles: usize,
    /// Subscriptions not yet dropped.
    pub subscriptions: usize,
    /// Events subscriptions lost because they fell behind.
    pub events_dropped: u64,
    /// Panics caught in maps' `on_orange` hooks.
    pub on_orange_panics: u64,
    /// Panics caught in the `on_total_orange` hook.
    pub on_total_orange_panics: u64,
    /// Sampler ticks that panicked (caught; the sampler went on).
    pub sampler_panics: u64,
    /// Whether a sampler thread runs, and whether one died.
    pub sampler: SamplerState,
}

/// Registrations between prunes never drop under this, so a registry with
/// few maps does not prune on every registration.
const PRUNE_FLOOR: usize = 64;

/// The registry's list of map handles. Invariant, after every
/// registration: `handles.len() <= 2 × live + PRUNE_FLOOR`.
struct Handles {
    handles: Vec<Weak<MapCell>>,
}

impl Handles {
    fn prune(&mut self) {
        self.handles.retain(|w| w.strong_count() > 0);
    }
}

pub(crate) struct Inner {
    pub(crate) config: RegistryConfig,
    next_id: AtomicU64,
    maps: Mutex<Handles>,
    /// Maps registered and not yet dropped (a cell's drop counts down).
    pub(crate) live_maps: AtomicUsize,
    pub(crate) events: EventLog,
    total_level: AtomicU8,
    /// The total is red: every map's `try_insert` refuses new keys.
    pub(crate) refusing: AtomicBool,
    total_hook: Mutex<Option<TotalHook>>,
    /// One sample at a time (a sampler thread and a manual call).
    sampling: Mutex<()>,
    on_orange_panics: AtomicU64,
    on_total_orange_panics: AtomicU64,
    pub(crate) sampler: crate::sampler::SamplerStatus,
}

/// The message of a caught panic.
pub(crate) fn panic_message(payload: &(dyn Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "(a panic without a message)".to_string()
    }
}

/// Runs `f`, catching a panic as its message. The payload is user data
/// too, so it is dropped under `catch_unwind` as well: nothing unwinds out
/// of here.
pub(crate) fn catch_message<R>(f: impl FnOnce() -> R) -> Result<R, String> {
    catch_unwind(AssertUnwindSafe(f)).map_err(|payload| {
        let message = panic_message(&*payload);
        let _ = catch_unwind(AssertUnwindSafe(move || drop(payload)));
        message
    })
}

impl Inner {
    fn live(&self) -> Vec<Arc<MapCell>> {
        let mut maps = self.maps.lock();
        maps.prune();
        maps.handles.iter().filter_map(Weak::upgrade).collect()
    }

    /// Calls `hook`, catching a panic: it is logged, counted and recorded
    /// as an event about `map` (or the registry). The caller holds no lock.
    pub(crate) fn call_hook(&self, which: Hook, hook: impl FnOnce(), map: Option<&MapCell>) {
        let Err(message) = catch_message(hook) else {
            return;
        };
        match which {
            Hook::OnOrange => &self.on_orange_panics,
            Hook::OnTotalOrange => &self.on_total_orange_panics,
        }
        .fetch_add(1, Relaxed);
        let name = map.map_or("(all maps)", |m| m.name.as_str());
        tracing::error!(hook = %which, map = %name, %message, "gomap: a user hook panicked (caught)");
        let kind = EventKind::HookPanicked {
            hook: which,
            message,
        };
        let event = match map {
            Some(map) => map.event(kind),
            None => registry_event(kind),
        };
        self.events.emit(event);
    }
}

/// An event about the registry itself.
pub(crate) fn registry_event(kind: EventKind) -> Event {
    Event {
        map: None,
        site: None,
        at_unix_secs: now_unix_secs(),
        kind,
    }
}

/// Knows every live governed map: lists them with their figures, level and
/// trend, sums them, samples their growth, and exports it all as metrics.
///
/// [`Registry::global`] is the process-wide one that governed maps join by
/// default; tests make their own with [`Registry::new`]. Cloning a
/// `Registry` gives another handle to the same one.
///
/// ```
/// use gomap_govern::{Governed, Registry};
///
/// let registry = Registry::new();
/// let mut users: Governed<u64, String> = Governed::builder("users").registry(&registry).build();
/// users.insert(1, "ada".into());
/// let report = &registry.maps()[0];
/// assert_eq!((report.name.as_str(), report.figures.len), ("users", 1));
/// assert!(report.site.contains(".rs:"));
/// drop(users);
/// assert!(registry.maps().is_empty());
/// ```
#[derive(Clone)]
pub struct Registry {
    pub(crate) inner: Arc<Inner>,
}

impl Default for Registry {
    fn default() -> Self {
        Registry::new()
    }
}

impl std::fmt::Debug for Registry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Registry")
            .field("config", &self.inner.config)
            .field("totals", &self.totals())
            .finish()
    }
}

impl Registry {
    /// An empty registry with the default configuration.
    pub fn new() -> Registry {
        Registry::with_config(RegistryConfig::default())
    }

    /// An empty registry. A `window` under 2 is taken as 2, a
    /// `subscription_capacity` under 1 as 1.
    pub fn with_config(mut config: RegistryConfig) -> Registry {
        config.window = config.window.max(2);
        config.subscription_capacity = config.subscription_capacity.max(1);
        Registry {
            inner: Arc::new(Inner {
                events: EventLog::new(config.kept_events, config.subscription_capacity),
                config,
                next_id: AtomicU64::new(1),
                maps: Mutex::new(Handles {
                    handles: Vec::new(),
                }),
                live_maps: AtomicUsize::new(0),
                total_level: AtomicU8::new(Level::Green as u8),
                refusing: AtomicBool::new(false),
                total_hook: Mutex::new(None),
                sampling: Mutex::new(()),
                on_orange_panics: AtomicU64::new(0),
                on_total_orange_panics: AtomicU64::new(0),
                sampler: Default::default(),
            }),
        }
    }

    /// The process-wide registry, with the default configuration.
    pub fn global() -> &'static Registry {
        static GLOBAL: OnceLock<Registry> = OnceLock::new();
        GLOBAL.get_or_init(Registry::new)
    }

    /// The hook called when the registry total reaches orange (after every
    /// map has been asked to shrink at its next write), with the registry
    /// and the event. It runs on the sampling thread with no lock held, may
    /// call the registry, and a panic in it is caught (see
    /// [`Health::on_total_orange_panics`]).
    ///
    /// ```
    /// let registry = gomap_govern::Registry::new();
    /// registry.on_total_orange(|registry, event| {
    ///     eprintln!("{event:?}; biggest maps: {:?}", registry.maps());
    /// });
    /// ```
    pub fn on_total_orange(&self, hook: impl Fn(&Registry, &Event) + Send + Sync + 'static) {
        let old = self.inner.total_hook.lock().replace(Arc::new(hook));
        // A hook's captures are user data: dropped with no lock held.
        drop(old);
    }

    /// Every event from now on (maps' and the registry's), in a bounded
    /// queue: see [`Subscription`]. Dropping it unsubscribes.
    pub fn subscribe(&self) -> Subscription {
        self.inner.events.subscribe()
    }

    /// The last events, oldest first (at most the configuration's
    /// `kept_events`).
    pub fn events(&self) -> Vec<Event> {
        self.inner.events.kept()
    }

    /// Every live governed map, in creation order.
    pub fn maps(&self) -> Vec<MapReport> {
        self.inner.live().iter().map(|c| c.report()).collect()
    }

    /// The registry total's level (moved by samples).
    pub(crate) fn total_level(&self) -> Level {
        Level::from_u8(self.inner.total_level.load(Relaxed))
    }

    /// The sum over every live map, and the total's level.
    pub fn totals(&self) -> Totals {
        let maps = self.inner.live();
        let mut totals = Totals {
            maps: maps.len(),
            level: self.total_level(),
            ..Totals::default()
        };
        for cell in &maps {
            totals.len += cell.figures.len.load(Relaxed);
            totals.allocated_bytes += cell.figures.allocated_bytes.load(Relaxed);
            totals.owned_bytes += cell.figures.owned_bytes.load(Relaxed);
            totals.suspected_leaks += usize::from(cell.trend().suspected_leak);
        }
        totals
    }

    /// How the registry itself is doing.
    ///
    /// ```
    /// let registry = gomap_govern::Registry::new();
    /// let health = registry.health();
    /// assert_eq!((health.map_handles, health.on_orange_panics), (0, 0));
    /// ```
    pub fn health(&self) -> Health {
        let inner = &self.inner;
        Health {
            map_handles: inner.maps.lock().handles.len(),
            subscriptions: inner.events.subscribers(),
            events_dropped: inner.events.dropped.load(Relaxed),
            on_orange_panics: inner.on_orange_panics.load(Relaxed),
            on_total_orange_panics: inner.on_total_orange_panics.load(Relaxed),
            sampler_panics: inner.sampler.panics.load(Relaxed),
            sampler: inner.sampler.state(),
        }
    }

    /// The registry's configuration.
    pub fn config(&self) -> &RegistryConfig {
        &self.inner.config
    }

    /// Takes one sample now: see [`sample_at`](Self::sample_at). That
    /// includes a bounded step of the migrations idle
    /// [`GovernedSharded`](crate::GovernedSharded) maps were left in (held
    /// shards passed over, never waited for); plain
    /// [`Governed`](crate::Governed) maps are out of its reach.
    pub fn sample(&self) {
        self.sample_at(Instant::now());
    }

    /// Takes one sample of every map's `len` and bytes, stamped `now` (tests
    /// pass made-up instants), updates leak trends, reports level changes
    /// that maps could not report yet (made under a lock, or by a write that
    /// panicked), and checks the registry total against its watermarks:
    /// yellow warns, orange asks every map to shrink at its next write and
    /// calls the total hook, red makes every map's `try_insert` refuse new
    /// keys until the total falls under orange.
    ///
    /// The total's level moves only here: with no sampler running, or
    /// between two samples, it is as fresh as the last sample (a map's own
    /// level, by contrast, follows every write).
    ///
    /// Before it samples, it does a bounded piece of every migration an
    /// idle [`GovernedSharded`](crate::GovernedSharded) was left in by its
    /// last write (a grow or shrink that writes would have carried on), so
    /// a map whose writes stopped does not keep two bucket arrays: in each
    /// shard whose write lock is free at that instant,
    /// [`RegistryConfig::maintenance_budget`] entries' worth (see
    /// `GovernedSharded::step_migrations`). Only maps whose figures say
    /// they migrate are stepped; a held shard is passed over, never waited
    /// for; a map is never kept alive by it. A `Hash` that panics in such
    /// a step is caught and logged, and the sample goes on; that map is not
    /// stepped again. Plain [`Governed`](crate::Governed) maps (and
    /// `GovernedSet`s) are their owner's alone and cannot be reached from
    /// here: call [`Governed::step_migration`](crate::Governed::step_migration)
    /// on idle time yourself. `GovernedSyncMap`s are not stepped either:
    /// `SyncMap` has no step to call, so a dirty map its writes left in the
    /// middle of a migration finishes it through its next writes.
    pub fn sample_at(&self, now: Instant) {
        let maps = self.inner.live();
        self.maintain(&maps);
        for cell in &maps {
            cell.flush();
        }
        let total = self.sample_locked(now, &maps);
        // Every lock is released: the hook may call the registry, and the
        // last handle to a map may drop here.
        drop(maps);
        let Some((event, orange)) = total else {
            return;
        };
        if orange {
            let hook = self.inner.total_hook.lock().clone();
            if let Some(hook) = hook {
                self.inner
                    .call_hook(Hook::OnTotalOrange, || hook(self, &event), None);
            }
        }
    }

    /// Steps the migrations of every map in `maps` that has a maintenance
    /// handle and is migrating (see [`sample_at`](Self::sample_at)). Called
    /// with no lock held: the steps run user code, and may drop a map
    /// whose last handle went away meanwhile.
    fn maintain(&self, maps: &[Arc<MapCell>]) {
        let budget = self.inner.config.maintenance_budget;
        if budget == 0 {
            return;
        }
        for cell in maps {
            let Err(message) = catch_message(|| cell.maintain(budget)) else {
                continue;
            };
            cell.stop_maintenance();
            tracing::error!(
                map = %cell.name, site = %cell.site, %message,
                "gomap: a migration step of the sampler panicked in user code (caught; \
                 the map is consistent, and the sampler steps it no more)"
            );
        }
    }

    /// The part of a sample done under the sampling lock. Returns the
    /// total's change of level, if any (already emitted), and whether it
    /// rose to orange or above from below.
    fn sample_locked(&self, now: Instant, maps: &[Arc<MapCell>]) -> Option<(Event, bool)> {
        let _sampling = self.inner.sampling.lock();
        let window = self.inner.config.window;
        for cell in maps {
            cell.sample(now, window);
        }
        let marks = self.inner.config.total_watermarks?;
        let total = maps.iter().fold(Figures::default(), |mut sum, c| {
            sum += c.figures.load();
            sum
        });
        let value = total.value(marks.measure());
        let from = Level::from_u8(self.inner.total_level.load(Relaxed));
        let to = marks.next_level(from, value);
        if to == from {
            return None;
        }
        self.inner.total_level.store(to as u8, Relaxed);
        self.inner.refusing.store(to == Level::Red, Relaxed);
        if to > from {
            tracing::warn!(level = %to, value, "gomap: all governed maps together rose to {to}");
        }
        let orange = to >= Level::Orange && from < Level::Orange;
        if orange {
            for cell in maps {
                cell.shrink_requested.store(true, Relaxed);
                cell.seen_calls.store(SHRINK_REQUEST, Relaxed);
            }
        }
        let event = registry_event(EventKind::Level {
            from,
            to,
            value,
            measure: marks.measure(),
        });
        self.inner.events.emit(event.clone());
        Some((event, orange))
    }

    pub(crate) fn register(
        &self,
        name: String,
        site: &'static Location<'static>,
        kind: &'static str,
        watermarks: Option<Watermarks>,
        hook: Option<OrangeHook>,
    ) -> Arc<MapCell> {
        let id = self.inner.next_id.fetch_add(1, Relaxed);
        let cell = Arc::new(MapCell::new(
            id,
            name,
            site,
            kind,
            watermarks,
            hook,
            self.inner.clone(),
        ));
        let live = self.inner.live_maps.fetch_add(1, Relaxed) + 1;
        let mut maps = self.inner.maps.lock();
        if maps.handles.len() >= 2 * live + PRUNE_FLOOR {
            maps.prune();
        }
        maps.handles.push(Arc::downgrade(&cell));
        cell
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::GovernedSharded;

    /// A map dropped while a sample holds its cell (another thread dropped
    /// it, or a step of an earlier map ran code that did): its handle is
    /// dead, and the sample passes over it.
    #[test]
    fn a_map_dropped_while_a_sample_holds_its_cell_is_passed_over() {
        let registry = Registry::new();
        let map: GovernedSharded<u64, u64> = GovernedSharded::builder("gone")
            .registry(&registry)
            .shard_amount(2)
            .build();
        for i in 0..100_000 {
            map.insert(i, i);
        }
        map.retain(|&k, _| k < 100);
        let maps = registry.inner.live();
        assert!(maps[0].migrating());
        assert!(maps[0].maintain(1).is_some(), "a live map is stepped");

        drop(map);

        assert!(maps[0].migrating(), "the cell's figures still say so");
        assert_eq!(maps[0].maintain(1024), None);
        registry.maintain(&maps);
    }
}
