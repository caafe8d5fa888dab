//! `MapCell`: one governed map's shared state — identity, configuration,
//! figures and counters in atomics, level, and sampler window.
//!
//! Invariants:
//! - Only the map's own writes store into `figures` (a `Governed`'s single
//!   writer with plain stores; a `GovernedSharded`'s shards by deltas under
//!   each shard's lock). Everyone else only loads.
//! - `level` is moved only by the map's writes (after its figures are
//!   published), so after every write it matches the figures.
//! - Nothing here calls user code while a lock is held: hooks are called by
//!   [`MapCell::call_hook`], which holds nothing and catches panics, and a
//!   map's maintenance step by [`MapCell::maintain`], which holds nothing
//!   either (the registry catches its panics).

use std::collections::VecDeque;
use std::panic::{catch_unwind, resume_unwind, AssertUnwindSafe, Location};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicU8, Ordering::Relaxed, Ordering::SeqCst};
use std::sync::{Arc, Weak};
use std::time::Instant;

use parking_lot::Mutex;
use serde::Serialize;

use crate::events::{now_unix_secs, Event, EventKind, Hook};
use crate::figures::{AtomicCounters, AtomicFigures, Counters, Figures};
use crate::level::{Level, Measure, Watermarks};
use crate::registry::{Inner, OrangeHook};

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
    /// began: the shape of a leak. (Entries, not bytes: a grow that frees
    /// its old array does not hide a leak.)
    pub suspected_leak: bool,
    /// Entries gained per second over the window.
    pub len_per_second: f64,
    /// Bytes gained per second over the window.
    pub bytes_per_second: f64,
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
    /// `"map"` (`Governed`), `"sharded"` (`GovernedSharded`) or `"sync"`
    /// (`GovernedSyncMap`).
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

/// One sample of the sampler's window.
#[derive(Clone, Copy)]
struct Sample {
    at: Instant,
    len: u64,
    bytes: u64,
}

/// A map the sampler may step: a bounded piece of its running migrations,
/// taken without waiting for any lock, its figures published. Implemented
/// by `GovernedSharded`'s shared state; the cell holds it by a `Weak`, so
/// the sampler never keeps a map alive.
pub(crate) trait Maintain: Send + Sync {
    /// Steps every migrating shard whose write lock is free right now by
    /// `budget` entries' worth; returns how many of them still migrate.
    /// Runs user code (`Hash`, as entries move): call it with no lock held.
    fn step(&self, budget: usize) -> usize;
}

/// See [`MapCell::seen_calls`].
pub(crate) const MIGRATING: u64 = u64::MAX;
/// See [`MapCell::seen_calls`].
pub(crate) const SHRINK_REQUEST: u64 = u64::MAX - 1;

/// One map's shared state (see the module's invariants).
pub(crate) struct MapCell {
    pub(crate) id: u64,
    pub(crate) name: String,
    pub(crate) site: &'static Location<'static>,
    pub(crate) kind: &'static str,
    pub(crate) watermarks: Option<Watermarks>,
    pub(crate) hook: Option<OrangeHook>,
    pub(crate) registry: Arc<Inner>,
    pub(crate) figures: AtomicFigures,
    pub(crate) counters: AtomicCounters,
    level: AtomicU8,
    /// Set by the registry at total orange: shrink at the next write
    /// (`GovernedSharded` reads this; `Governed` reads `seen_calls`).
    pub(crate) shrink_requested: AtomicBool,
    /// For `Governed`: the map's `allocator_calls` at its last full publish,
    /// which its hot path compares against; [`MIGRATING`] while a migration
    /// runs (or an action is pending), [`SHRINK_REQUEST`] when the registry
    /// asks for a shrink. Neither is a count a map reaches, so both send the
    /// next write down the slow path, which swaps the value out and so
    /// cannot miss a request.
    pub(crate) seen_calls: AtomicU64,
    snapshot: Mutex<Option<Snapshot>>,
    /// Sampler state, oldest first; at most the registry's `window` long.
    window: Mutex<VecDeque<Sample>>,
    /// Level changes that took effect where no user code may run (under a
    /// shard's lock, or while a panic unwinds), not yet reported: the log
    /// line and the user's `tracing` subscriber, the snapshot and the event
    /// wait for [`flush`](Self::flush), at the next write or sample.
    /// Holds at most a few entries: each is a change of level.
    unreported: Mutex<Vec<(Level, Level, Figures)>>,
    /// `unreported` is not empty (a cheap check for the write path).
    has_unreported: AtomicBool,
    /// The reported rise to orange whose action (shrink, hook) the map's
    /// owner has not taken yet: set by [`flush`](Self::flush), taken by
    /// the map's next write.
    orange_due: Mutex<Option<Event>>,
    has_orange_due: AtomicBool,
    /// The map's maintenance, if the sampler may step it (a
    /// `GovernedSharded`, set once it is built); taken away after a step
    /// panicked, so a `Hash` that panics is not called on every sample.
    maintenance: Mutex<Option<Weak<dyn Maintain>>>,
}

impl Drop for MapCell {
    fn drop(&mut self) {
        self.registry.live_maps.fetch_sub(1, Relaxed);
    }
}

impl MapCell {
    pub(crate) fn new(
        id: u64,
        name: String,
        site: &'static Location<'static>,
        kind: &'static str,
        watermarks: Option<Watermarks>,
        hook: Option<OrangeHook>,
        registry: Arc<Inner>,
    ) -> MapCell {
        MapCell {
            id,
            name,
            site,
            kind,
            watermarks,
            hook,
            registry,
            figures: AtomicFigures::default(),
            counters: AtomicCounters::default(),
            level: AtomicU8::new(Level::Green as u8),
            shrink_requested: AtomicBool::new(false),
            seen_calls: AtomicU64::new(MIGRATING),
            snapshot: Mutex::new(None),
            window: Mutex::new(VecDeque::new()),
            unreported: Mutex::new(Vec::new()),
            has_unreported: AtomicBool::new(false),
            orange_due: Mutex::new(None),
            has_orange_due: AtomicBool::new(false),
            maintenance: Mutex::new(None),
        }
    }

    pub(crate) fn level(&self) -> Level {
        Level::from_u8(self.level.load(SeqCst))
    }

    /// What the watermarks measure (bytes when there are none).
    pub(crate) fn measure(&self) -> Measure {
        self.watermarks.map_or(Measure::Bytes, |w| w.measure())
    }

    /// Sets the level (a `Governed`: its single writer).
    pub(crate) fn store_level(&self, to: Level) {
        self.level.store(to as u8, SeqCst);
    }

    /// Moves the level from `from` to `to` if it is still `from`, else
    /// returns the level it is at. (A `GovernedSharded`'s shards race here.)
    pub(crate) fn move_level(&self, from: Level, to: Level) -> Result<(), Level> {
        self.level
            .compare_exchange(from as u8, to as u8, SeqCst, SeqCst)
            .map(drop)
            .map_err(Level::from_u8)
    }

    pub(crate) fn report(&self) -> MapReport {
        MapReport {
            id: self.id,
            name: self.name.clone(),
            site: self.site.to_string(),
            kind: self.kind,
            figures: self.figures.load(),
            counters: self.counters.load(),
            level: self.level(),
            watermarks: self.watermarks,
            trend: self.trend(),
            last_snapshot: *self.snapshot.lock(),
        }
    }

    /// An event about this map.
    pub(crate) fn event(&self, kind: EventKind) -> Event {
        Event {
            map: Some(self.name.clone()),
            site: Some(self.site.to_string()),
            at_unix_secs: now_unix_secs(),
            kind,
        }
    }

    /// Keeps a change of level that took effect where nothing may be
    /// logged (see `unreported`), for [`flush`](Self::flush).
    pub(crate) fn defer_report(&self, from: Level, to: Level, figures: &Figures) {
        self.unreported.lock().push((from, to, *figures));
        self.has_unreported.store(true, SeqCst);
    }

    /// Whether changes of level wait to be reported, or orange's action to
    /// be taken: the owner's next write must call [`flush`](Self::flush)
    /// and [`take_orange`](Self::take_orange).
    #[inline]
    pub(crate) fn owes_work(&self) -> bool {
        self.has_unreported.load(Relaxed) || self.has_orange_due.load(Relaxed)
    }

    /// Reports the changes of level kept by [`defer_report`](Self::defer_report),
    /// in order; a rise to orange or above from below is kept for the
    /// owner's action ([`take_orange`](Self::take_orange)). Call with no
    /// lock held and not while a panic unwinds (it logs).
    pub(crate) fn flush(&self) {
        // A plain load first: the swap is a locked instruction.
        if !self.has_unreported.load(Relaxed) || !self.has_unreported.swap(false, SeqCst) {
            return;
        }
        let changes = std::mem::take(&mut *self.unreported.lock());
        for (from, to, figures) in changes {
            let event = self.level_changed(from, to, &figures);
            if to >= Level::Orange && from < Level::Orange {
                self.orange_is_due(event);
            }
        }
    }

    /// Whether red's breaker is on: this map, or the registry total, is at
    /// red, so `try_*` writes refuse new keys.
    pub(crate) fn refusing(&self) -> bool {
        self.level() == Level::Red || self.registry.refusing.load(Relaxed)
    }

    /// After a write of a map shared through `&self`, with no lock held:
    /// report level changes, take orange's action, honour the registry's
    /// shrink request. `shrink` is the map's way to give memory back.
    #[inline]
    pub(crate) fn after_write(&self, shrink: impl FnOnce()) {
        if self.owes_work() || self.shrink_requested.load(Relaxed) {
            self.act(shrink);
        }
    }

    /// `after_write`'s work, when there is some. A panic in `shrink` (a
    /// `Hash`, a `Drop`) does not skip the hook; it is resumed after it.
    #[cold]
    #[inline(never)]
    fn act(&self, shrink: impl FnOnce()) {
        self.flush();
        let orange = self.take_orange();
        let requested = self.shrink_requested.swap(false, Relaxed);
        if orange.is_none() && !requested {
            return;
        }
        let shrunk = catch_unwind(AssertUnwindSafe(shrink));
        self.flush();
        if let Some(event) = orange {
            self.call_hook(&event);
        }
        if let Err(panic) = shrunk {
            resume_unwind(panic);
        }
    }

    /// Keeps a reported rise to orange for the owner's action.
    pub(crate) fn orange_is_due(&self, event: Event) {
        *self.orange_due.lock() = Some(event);
        self.has_orange_due.store(true, SeqCst);
    }

    /// The rise to orange whose action is due, if any (taken).
    pub(crate) fn take_orange(&self) -> Option<Event> {
        if !self.has_orange_due.load(Relaxed) || !self.has_orange_due.swap(false, SeqCst) {
            return None;
        }
        self.orange_due.lock().take()
    }

    /// Reports a change of level that already took effect: the event, and
    /// yellow's warning and snapshot on a rise. Calls the user's `tracing`
    /// subscriber, so it runs with no lock held and not while a panic
    /// unwinds; the actions that need the map (orange's shrink and hook)
    /// are its owner's.
    pub(crate) fn level_changed(&self, from: Level, to: Level, figures: &Figures) -> Event {
        let measure = self.measure();
        let value = figures.value(measure);
        let event = self.event(EventKind::Level {
            from,
            to,
            value,
            measure,
        });
        if to > from && to >= Level::Yellow {
            tracing::warn!(
                map = %self.name, site = %self.site, level = %to, value, measure = ?measure,
                "gomap: map rose to {to}"
            );
            *self.snapshot.lock() = Some(Snapshot {
                level: to,
                figures: *figures,
                at_unix_secs: event.at_unix_secs,
            });
        } else {
            tracing::info!(map = %self.name, site = %self.site, %from, %to, "gomap: map level fell");
        }
        self.registry.events.emit(event.clone());
        event
    }

    /// Calls the map's `on_orange` hook, if any, with nothing locked; a
    /// panic in it is caught, logged, counted and recorded.
    pub(crate) fn call_hook(&self, event: &Event) {
        if let Some(hook) = &self.hook {
            self.registry
                .call_hook(Hook::OnOrange, || hook(event), Some(self));
        }
    }

    /// Lets the sampler step the map through `maintenance`.
    pub(crate) fn set_maintenance(&self, maintenance: Weak<dyn Maintain>) {
        *self.maintenance.lock() = Some(maintenance);
    }

    /// Whether the map's figures say a migration runs in it.
    pub(crate) fn migrating(&self) -> bool {
        self.figures.migration_total.load(Relaxed) > 0
    }

    /// Steps the map's running migrations by `budget` entries' worth per
    /// shard, if it has a maintenance handle, is still alive, and its
    /// figures say it migrates; returns how many of its shards still
    /// migrate, or `None` when it was not stepped. Holds no lock while the
    /// step runs (it runs user code, and may drop the map's last handle:
    /// the map is then dropped here). A panic is the caller's to catch.
    pub(crate) fn maintain(&self, budget: usize) -> Option<usize> {
        if !self.migrating() {
            return None;
        }
        let maintenance = self.maintenance.lock().as_ref()?.upgrade()?;
        Some(maintenance.step(budget))
    }

    /// Takes the map's maintenance away: the sampler steps it no more.
    pub(crate) fn stop_maintenance(&self) {
        let old = self.maintenance.lock().take();
        // A `Weak` runs no user code when dropped; still, nothing under a lock.
        drop(old);
    }

    /// Adds a sample to the window.
    pub(crate) fn sample(&self, at: Instant, window: usize) {
        let mut w = self.window.lock();
        if w.len() >= window {
            w.pop_front();
        }
        w.push_back(Sample {
            at,
            len: self.figures.len.load(Relaxed),
            bytes: self.figures.allocated_bytes.load(Relaxed),
        });
    }

    pub(crate) fn trend(&self) -> Trend {
        trend_of(&self.window.lock(), self.registry.config.window)
    }
}

/// The trend of a window of samples, oldest first, out of `size`.
fn trend_of(window: &VecDeque<Sample>, size: usize) -> Trend {
    let samples = window.len();
    let (Some(first), Some(last)) = (window.front(), window.back()) else {
        return Trend::default();
    };
    let seconds = last.at.saturating_duration_since(first.at).as_secs_f64();
    let per_second = |a: u64, b: u64| {
        if seconds > 0.0 {
            (b as f64 - a as f64) / seconds
        } else {
            0.0
        }
    };
    let never_fell = window
        .iter()
        .zip(window.iter().skip(1))
        .all(|(a, b)| b.len >= a.len);
    Trend {
        samples,
        suspected_leak: samples >= size && never_fell && last.len > first.len,
        len_per_second: per_second(first.len, last.len),
        bytes_per_second: per_second(first.bytes, last.bytes),
    }
}
