//! The registry of live governed maps, their shared figures, level events
//! and leak trends.
//!
//! # Design
//!
//! Every governed map owns an `Arc<MapCell>`: its name, creation site,
//! watermarks, and its figures in atomics that the map's writes update with
//! plain relaxed stores (no lock, no shared cache line with other maps). The
//! registry holds `Weak<MapCell>`s: a dropped map disappears from it at the
//! next listing. Everything the registry does — listing, sampling trends,
//! totals, exporting metrics — reads those atomics; it never touches a map.
//! Actions that need the map itself (orange's shrink) are taken by the map
//! on its next write, when the registry asks for them through a flag.

use std::collections::VecDeque;
use std::panic::Location;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicU8, Ordering::Relaxed};
use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::{Arc, OnceLock, Weak};
use std::time::{Duration, Instant, SystemTime};

use gomap::{MemStats, MigrationKind};
use parking_lot::Mutex;
use serde::Serialize;

use crate::level::{Level, Measure, Watermarks};

/// The hook called when a map (or the registry total) reaches orange.
pub type OrangeHook = Arc<dyn Fn(&Event) + Send + Sync>;

/// One change of level: of a map, or of the registry total (`map` is then
/// `None`).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Event {
    /// The map's name, or `None` for the registry total.
    pub map: Option<String>,
    /// Where the map was created (`file:line:column`).
    pub site: Option<String>,
    /// The level before.
    pub from: Level,
    /// The level now.
    pub to: Level,
    /// The figure that moved it, in `measure`.
    pub value: u64,
    /// Bytes or entries.
    pub measure: Measure,
    /// When, as seconds since the Unix epoch.
    pub at_unix_secs: f64,
}

/// A map's figures at one moment (from its atomics).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Figures {
    /// Entries.
    pub len: u64,
    /// `MemStats::allocated_bytes`.
    pub allocated_bytes: u64,
    /// Buckets of the current array(s).
    pub buckets: u64,
    /// Buckets of the array(s) being migrated from.
    pub old_buckets: u64,
    /// Overflow buckets.
    pub overflow_buckets: u64,
    /// Old buckets already moved by running migrations.
    pub migration_evacuated: u64,
    /// Old buckets in all of the running migrations (0: none running).
    pub migration_total: u64,
}

impl Figures {
    pub(crate) fn of(stats: &MemStats) -> Figures {
        let (evacuated, total) = stats.migration.map_or((0, 0), |m| (m.evacuated, m.total));
        Figures {
            len: stats.len as u64,
            allocated_bytes: stats.allocated_bytes as u64,
            buckets: stats.buckets as u64,
            old_buckets: stats.old_buckets as u64,
            overflow_buckets: stats.overflow_buckets as u64,
            migration_evacuated: evacuated as u64,
            migration_total: total as u64,
        }
    }

    /// The figure watermarks in `measure` look at.
    pub fn value(&self, measure: Measure) -> u64 {
        match measure {
            Measure::Bytes => self.allocated_bytes,
            Measure::Entries => self.len,
        }
    }
}

impl std::ops::AddAssign for Figures {
    fn add_assign(&mut self, o: Figures) {
        self.len += o.len;
        self.allocated_bytes += o.allocated_bytes;
        self.buckets += o.buckets;
        self.old_buckets += o.old_buckets;
        self.overflow_buckets += o.overflow_buckets;
        self.migration_evacuated += o.migration_evacuated;
        self.migration_total += o.migration_total;
    }
}

/// Counters of things that happened to a map.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Counters {
    /// Grow migrations started.
    pub grows: u64,
    /// Compacting (same-size) migrations started.
    pub compactions: u64,
    /// Shrink migrations started.
    pub shrinks: u64,
    /// `clear` calls.
    pub clears: u64,
    /// `reset` calls.
    pub resets: u64,
    /// New keys `try_insert` refused at red.
    pub refused_inserts: u64,
}

impl std::ops::AddAssign for Counters {
    fn add_assign(&mut self, o: Counters) {
        self.grows += o.grows;
        self.compactions += o.compactions;
        self.shrinks += o.shrinks;
        self.clears += o.clears;
        self.resets += o.resets;
        self.refused_inserts += o.refused_inserts;
    }
}

/// Stats kept when a map rises to yellow or above.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct Snapshot {
    /// The level reached.
    pub level: Level,
    /// The map's figures then.
    pub figures: Figures,
    /// When, as seconds since the Unix epoch.
    pub at_unix_secs: f64,
}

/// A map's growth over the sampler's window.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize)]
pub struct Trend {
    /// Samples in the window (at most the registry's `window`).
    pub samples: usize,
    /// The window is full and `len` never fell and ended higher than it
    /// began: the shape of a leak.
    pub suspected_leak: bool,
    /// Entries gained per minute over the window.
    pub len_per_minute: f64,
    /// Bytes gained per minute over the window.
    pub bytes_per_minute: f64,
}

/// Everything the registry knows of one live map.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct MapReport {
    /// Unique within the process.
    pub id: u64,
    /// The name given at construction.
    pub name: String,
    /// Where it was constructed (`file:line:column`).
    pub site: String,
    /// `"map"` (`Governed`) or `"sharded"` (`GovernedSharded`).
    pub kind: &'static str,
    /// Figures now.
    pub figures: Figures,
    /// Counters since creation.
    pub counters: Counters,
    /// The level now.
    pub level: Level,
    /// The map's watermarks, if it has any.
    pub watermarks: Option<Watermarks>,
    /// Growth over the sampling window.
    pub trend: Trend,
    /// The stats kept at the last rise to yellow or above.
    pub last_snapshot: Option<Snapshot>,
}

/// The sum over every live map.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize)]
pub struct Totals {
    /// Live governed maps.
    pub maps: usize,
    /// Entries in all of them.
    pub len: u64,
    /// Bytes all of them hold.
    pub allocated_bytes: u64,
    /// The registry total's level (against the registry's watermarks).
    pub level: Level,
    /// Maps flagged `suspected_leak`.
    pub suspected_leaks: usize,
}

pub(crate) fn now_unix_secs() -> f64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

/// See [`MapCell::seen_calls`].
pub(crate) const MIGRATING: u64 = u64::MAX;
/// See [`MapCell::seen_calls`].
pub(crate) const SHRINK_REQUEST: u64 = u64::MAX - 1;

/// One map's shared state: identity, configuration, and figures in atomics.
pub(crate) struct MapCell {
    pub(crate) id: u64,
    pub(crate) name: String,
    pub(crate) site: &'static Location<'static>,
    pub(crate) kind: &'static str,
    pub(crate) watermarks: Option<Watermarks>,
    pub(crate) hook: Option<OrangeHook>,
    pub(crate) registry: Arc<Inner>,
    // Figures.
    pub(crate) len: AtomicU64,
    pub(crate) allocated_bytes: AtomicU64,
    pub(crate) buckets: AtomicU64,
    pub(crate) old_buckets: AtomicU64,
    pub(crate) overflow_buckets: AtomicU64,
    pub(crate) migration_evacuated: AtomicU64,
    pub(crate) migration_total: AtomicU64,
    // Counters.
    pub(crate) migrations: [AtomicU64; 3],
    pub(crate) clears: AtomicU64,
    pub(crate) resets: AtomicU64,
    pub(crate) refused: AtomicU64,
    pub(crate) level: AtomicU8,
    /// Set by the registry at orange: shrink at the next write
    /// (`GovernedSharded` reads this; `Governed` reads `seen_calls`).
    pub(crate) shrink_requested: AtomicBool,
    /// For `Governed`: the map's `allocator_calls` at its last full publish,
    /// which its hot path compares against; [`MIGRATING`] while a migration
    /// runs, [`SHRINK_REQUEST`] when the registry asks for a shrink. Neither
    /// is a count a map reaches, so both send the next write down the slow
    /// path, which swaps the value out and so cannot miss a request.
    pub(crate) seen_calls: AtomicU64,
    pub(crate) snapshot: Mutex<Option<Snapshot>>,
    /// Sampler state: `(when, len, bytes)`, oldest first.
    window: Mutex<VecDeque<(Instant, u64, u64)>>,
}

impl MapCell {
    /// Publishes figures (relaxed stores: other threads only read them for
    /// reports).
    #[inline]
    pub(crate) fn publish(&self, f: &Figures) {
        self.len.store(f.len, Relaxed);
        self.allocated_bytes.store(f.allocated_bytes, Relaxed);
        self.buckets.store(f.buckets, Relaxed);
        self.old_buckets.store(f.old_buckets, Relaxed);
        self.overflow_buckets.store(f.overflow_buckets, Relaxed);
        self.migration_evacuated
            .store(f.migration_evacuated, Relaxed);
        self.migration_total.store(f.migration_total, Relaxed);
    }

    pub(crate) fn figures(&self) -> Figures {
        Figures {
            len: self.len.load(Relaxed),
            allocated_bytes: self.allocated_bytes.load(Relaxed),
            buckets: self.buckets.load(Relaxed),
            old_buckets: self.old_buckets.load(Relaxed),
            overflow_buckets: self.overflow_buckets.load(Relaxed),
            migration_evacuated: self.migration_evacuated.load(Relaxed),
            migration_total: self.migration_total.load(Relaxed),
        }
    }

    pub(crate) fn set_migrations(&self, kind: MigrationKind, count: u64) {
        self.migrations[kind as usize].store(count, Relaxed);
    }

    pub(crate) fn counters(&self) -> Counters {
        Counters {
            grows: self.migrations[MigrationKind::Grow as usize].load(Relaxed),
            compactions: self.migrations[MigrationKind::Compact as usize].load(Relaxed),
            shrinks: self.migrations[MigrationKind::Shrink as usize].load(Relaxed),
            clears: self.clears.load(Relaxed),
            resets: self.resets.load(Relaxed),
            refused_inserts: self.refused.load(Relaxed),
        }
    }

    pub(crate) fn level(&self) -> Level {
        Level::from_u8(self.level.load(Relaxed))
    }

    fn trend(&self) -> Trend {
        trend_of(&self.window.lock(), self.registry.config.window)
    }

    pub(crate) fn report(&self) -> MapReport {
        MapReport {
            id: self.id,
            name: self.name.clone(),
            site: self.site.to_string(),
            kind: self.kind,
            figures: self.figures(),
            counters: self.counters(),
            level: self.level(),
            watermarks: self.watermarks,
            trend: self.trend(),
            last_snapshot: *self.snapshot.lock(),
        }
    }

    /// Records a change of level: the event, and yellow's warning and
    /// snapshot on a rise. (Orange's action needs the map: its owner takes
    /// it.)
    pub(crate) fn level_changed(&self, from: Level, to: Level, figures: &Figures) -> Event {
        let measure = self.watermarks.map_or(Measure::Bytes, |w| w.measure());
        let event = Event {
            map: Some(self.name.clone()),
            site: Some(self.site.to_string()),
            from,
            to,
            value: figures.value(measure),
            measure,
            at_unix_secs: now_unix_secs(),
        };
        if to > from && to >= Level::Yellow {
            tracing::warn!(
                map = %self.name, site = %self.site, level = %to, value = event.value,
                measure = ?measure, "gomap: map rose to {to}"
            );
            *self.snapshot.lock() = Some(Snapshot {
                level: to,
                figures: *figures,
                at_unix_secs: event.at_unix_secs,
            });
        } else {
            tracing::info!(map = %self.name, site = %self.site, from = %from, to = %to, "gomap: map level fell");
        }
        self.registry.emit(event.clone());
        event
    }
}

/// Registry configuration.
#[derive(Clone, Debug)]
pub struct RegistryConfig {
    /// Samples in a leak-trend window: a map that only grew over this many
    /// samples is flagged `suspected_leak`. At least 2.
    pub window: usize,
    /// Watermarks on the sum over every map.
    pub total_watermarks: Option<Watermarks>,
    /// Level events kept for `/debug/maps`.
    pub kept_events: usize,
}

impl Default for RegistryConfig {
    fn default() -> Self {
        RegistryConfig {
            window: 10,
            total_watermarks: None,
            kept_events: 64,
        }
    }
}

pub(crate) struct Inner {
    config: RegistryConfig,
    next_id: AtomicU64,
    maps: Mutex<Vec<Weak<MapCell>>>,
    events: Mutex<VecDeque<Event>>,
    subscribers: Mutex<Vec<Sender<Event>>>,
    total_level: AtomicU8,
    /// The total is red: every map's `try_insert` refuses new keys.
    pub(crate) refusing: AtomicBool,
    total_hook: Mutex<Option<OrangeHook>>,
    sampling: Mutex<()>,
}

impl Inner {
    fn emit(&self, event: Event) {
        {
            let mut events = self.events.lock();
            if events.len() == self.config.kept_events {
                events.pop_front();
            }
            if self.config.kept_events > 0 {
                events.push_back(event.clone());
            }
        }
        self.subscribers
            .lock()
            .retain(|tx| tx.send(event.clone()).is_ok());
    }

    fn live(&self) -> Vec<Arc<MapCell>> {
        let mut maps = self.maps.lock();
        maps.retain(|w| w.strong_count() > 0);
        maps.iter().filter_map(Weak::upgrade).collect()
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

impl Registry {
    /// An empty registry with the default configuration.
    pub fn new() -> Registry {
        Registry::with_config(RegistryConfig::default())
    }

    /// An empty registry. A `window` under 2 is taken as 2.
    pub fn with_config(mut config: RegistryConfig) -> Registry {
        config.window = config.window.max(2);
        Registry {
            inner: Arc::new(Inner {
                config,
                next_id: AtomicU64::new(1),
                maps: Mutex::new(Vec::new()),
                events: Mutex::new(VecDeque::new()),
                subscribers: Mutex::new(Vec::new()),
                total_level: AtomicU8::new(Level::Green as u8),
                refusing: AtomicBool::new(false),
                total_hook: Mutex::new(None),
                sampling: Mutex::new(()),
            }),
        }
    }

    /// The process-wide registry, with the default configuration.
    pub fn global() -> &'static Registry {
        static GLOBAL: OnceLock<Registry> = OnceLock::new();
        GLOBAL.get_or_init(Registry::new)
    }

    /// The hook called when the registry total reaches orange (after every
    /// map has been asked to shrink at its next write).
    pub fn on_total_orange(&self, hook: impl Fn(&Event) + Send + Sync + 'static) {
        *self.inner.total_hook.lock() = Some(Arc::new(hook));
    }

    /// A channel that receives every level event from now on (maps' and the
    /// total's). Dropping the receiver unsubscribes.
    pub fn subscribe(&self) -> Receiver<Event> {
        let (tx, rx) = mpsc::channel();
        self.inner.subscribers.lock().push(tx);
        rx
    }

    /// The last level events, oldest first.
    pub fn events(&self) -> Vec<Event> {
        self.inner.events.lock().iter().cloned().collect()
    }

    /// Every live governed map, in creation order.
    pub fn maps(&self) -> Vec<MapReport> {
        self.inner.live().iter().map(|c| c.report()).collect()
    }

    /// The sum over every live map, and the total's level.
    pub fn totals(&self) -> Totals {
        let maps = self.inner.live();
        let mut totals = Totals {
            maps: maps.len(),
            level: Level::from_u8(self.inner.total_level.load(Relaxed)),
            ..Totals::default()
        };
        for cell in &maps {
            totals.len += cell.len.load(Relaxed);
            totals.allocated_bytes += cell.allocated_bytes.load(Relaxed);
            totals.suspected_leaks += usize::from(cell.trend().suspected_leak);
        }
        totals
    }

    /// The registry's configuration.
    pub fn config(&self) -> &RegistryConfig {
        &self.inner.config
    }

    /// Takes one sample now: see [`sample_at`](Self::sample_at).
    pub fn sample(&self) {
        self.sample_at(Instant::now());
    }

    /// Takes one sample of every map's `len` and bytes, stamped `now` (tests
    /// pass made-up instants), updates leak trends, and checks the registry
    /// total against its watermarks: yellow warns, orange asks every map to
    /// shrink at its next write and calls the total hook, red makes every
    /// map's `try_insert` refuse new keys until the total falls under orange.
    pub fn sample_at(&self, now: Instant) {
        // One sample at a time (a sampler thread and a manual call).
        let _sampling = self.inner.sampling.lock();
        let maps = self.inner.live();
        let window = self.inner.config.window;
        for cell in &maps {
            let mut w = cell.window.lock();
            if w.len() == window {
                w.pop_front();
            }
            w.push_back((
                now,
                cell.len.load(Relaxed),
                cell.allocated_bytes.load(Relaxed),
            ));
        }
        let Some(marks) = self.inner.config.total_watermarks else {
            return;
        };
        let total = maps.iter().fold(Figures::default(), |mut sum, c| {
            sum += c.figures();
            sum
        });
        let value = total.value(marks.measure());
        let from = Level::from_u8(self.inner.total_level.load(Relaxed));
        let to = marks.next_level(from, value);
        if to == from {
            return;
        }
        self.inner.total_level.store(to as u8, Relaxed);
        self.inner.refusing.store(to == Level::Red, Relaxed);
        let event = Event {
            map: None,
            site: None,
            from,
            to,
            value,
            measure: marks.measure(),
            at_unix_secs: now_unix_secs(),
        };
        if to > from {
            tracing::warn!(level = %to, value, "gomap: all governed maps together rose to {to}");
        }
        if to >= Level::Orange && from < Level::Orange {
            for cell in &maps {
                cell.shrink_requested.store(true, Relaxed);
                cell.seen_calls.store(SHRINK_REQUEST, Relaxed);
            }
            let hook = self.inner.total_hook.lock().clone();
            if let Some(hook) = hook {
                hook(&event);
            }
        }
        self.inner.emit(event);
    }

    /// Starts a thread that calls [`sample`](Self::sample) and
    /// [`export_metrics`](Self::export_metrics) every `interval`, until the
    /// returned handle is dropped. (It exports into the global `metrics`
    /// recorder, which keeps a dropped map's last values; the `http`
    /// feature's `/metrics` renders afresh and shows live maps only.)
    pub fn start_sampler(&self, interval: Duration) -> Sampler {
        let (stop, stopped) = mpsc::channel::<()>();
        let registry = self.clone();
        let thread = std::thread::Builder::new()
            .name("gomap-sampler".into())
            .spawn(move || {
                while let Err(mpsc::RecvTimeoutError::Timeout) = stopped.recv_timeout(interval) {
                    registry.sample();
                    registry.export_metrics();
                }
            })
            .expect("spawning the sampler thread");
        Sampler {
            stop: Some(stop),
            thread: Some(thread),
        }
    }

    pub(crate) fn register(
        &self,
        name: String,
        site: &'static Location<'static>,
        kind: &'static str,
        watermarks: Option<Watermarks>,
        hook: Option<OrangeHook>,
    ) -> Arc<MapCell> {
        let cell = Arc::new(MapCell {
            id: self.inner.next_id.fetch_add(1, Relaxed),
            name,
            site,
            kind,
            watermarks,
            hook,
            registry: self.inner.clone(),
            len: AtomicU64::new(0),
            allocated_bytes: AtomicU64::new(0),
            buckets: AtomicU64::new(0),
            old_buckets: AtomicU64::new(0),
            overflow_buckets: AtomicU64::new(0),
            migration_evacuated: AtomicU64::new(0),
            migration_total: AtomicU64::new(0),
            migrations: Default::default(),
            clears: AtomicU64::new(0),
            resets: AtomicU64::new(0),
            refused: AtomicU64::new(0),
            level: AtomicU8::new(Level::Green as u8),
            shrink_requested: AtomicBool::new(false),
            seen_calls: AtomicU64::new(MIGRATING),
            snapshot: Mutex::new(None),
            window: Mutex::new(VecDeque::new()),
        });
        self.inner.maps.lock().push(Arc::downgrade(&cell));
        cell
    }
}

/// The sampler thread of [`Registry::start_sampler`]; dropping it stops the
/// thread (and waits for it).
pub struct Sampler {
    stop: Option<Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Drop for Sampler {
    fn drop(&mut self) {
        drop(self.stop.take());
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// The trend of a window of `(when, len, bytes)` samples.
fn trend_of(window: &VecDeque<(Instant, u64, u64)>, size: usize) -> Trend {
    let samples = window.len();
    let (Some(first), Some(last)) = (window.front(), window.back()) else {
        return Trend::default();
    };
    let minutes = last.0.saturating_duration_since(first.0).as_secs_f64() / 60.0;
    let per_minute = |a: u64, b: u64| {
        if minutes > 0.0 {
            (b as f64 - a as f64) / minutes
        } else {
            0.0
        }
    };
    let never_fell = window
        .iter()
        .zip(window.iter().skip(1))
        .all(|(a, b)| b.1 >= a.1);
    Trend {
        samples,
        suspected_leak: samples >= size && never_fell && last.1 > first.1,
        len_per_minute: per_minute(first.1, last.1),
        bytes_per_minute: per_minute(first.2, last.2),
    }
}
