//! Governed maps: know every map, where it was made, how big it is, and
//! alert before it runs away.
//!
//! - [`Governed`] wraps a [`gomap::HashMap`], [`GovernedSharded`] a
//!   [`gomap_sync::ShardedMap`], [`GovernedSyncMap`] a
//!   [`gomap_sync::SyncMap`]; each has a name and records where it was
//!   created (`#[track_caller]`), and publishes its figures on every write
//!   into atomics (relaxed stores; no lock on the hot path of the first
//!   two; for the third, each write takes a per-map publishing mutex and,
//!   inside it, `SyncMap`'s own mutex to read its figures).
//! - A [`Registry`] (a process-wide [`Registry::global`], or your own) lists
//!   every live governed map with its figures, level and leak trend, and
//!   sums them; dropped maps disappear from it.
//! - [`Watermarks`] `{ yellow, orange, red }` in bytes or entries, per map
//!   and for the registry total: yellow warns (`tracing`) and keeps a stats
//!   snapshot; orange shrinks the map and calls your hook; red makes
//!   `try_insert` refuse new keys until the map falls under orange. Every
//!   change of level is an [`Event`] ([`Registry::subscribe`]).
//! - Leak trends: [`Registry::sample`] (or the thread of
//!   [`Registry::start_sampler`]) keeps a window of samples per map and
//!   flags `suspected_leak` when a map's entries only grew over the whole
//!   window.
//! - Idle maintenance: each sample also finishes, a bounded step at a time
//!   ([`RegistryConfig::maintenance_budget`]), the migrations that a
//!   [`GovernedSharded`]'s last writes left running, in the shards whose
//!   locks are free at that instant, so a map whose writes stopped part
//!   way through a grow or shrink does not keep two bucket arrays. A
//!   [`Governed`] map (and a [`GovernedSet`]) is its owner's alone and out
//!   of the sampler's reach: call [`Governed::step_migration`] on idle time.
//! - [`Registry::export_metrics`] sets every figure through the `metrics`
//!   facade (labels `map` and `site`, with [`RegistryConfig::site_label`]
//!   and [`RegistryConfig::max_map_series`] to bound cardinality); with the
//!   `http` feature, `http::serve` answers `/metrics` (Prometheus text) and
//!   `/debug/maps` (JSON) on a server no client can stall, and
//!   `http::render_metrics`/`http::render_debug_json` serve the same from
//!   your own router. `deploy/prometheus/` in the repository holds alert
//!   rules, their runbooks (`docs/runbooks/`) and a Prometheus config.
//!
//! # Built to run next to production traffic
//!
//! - **User code is isolated.** Hooks run with no registry or map lock
//!   held, after the level change they report took effect, under
//!   `catch_unwind`: a panicking hook is logged (`tracing::error!`),
//!   recorded as an [`EventKind::HookPanicked`] event and counted
//!   ([`Registry::health`]); a hook may call any registry method.
//! - **Levels are never stale.** After every write — also one whose
//!   `update`/`retain` closure, `Hash`, `Eq` or `Drop` panicked — a map's
//!   figures are published and its level is the one they give, so a map at
//!   red whose bytes fell under orange takes new keys on its next write.
//!   (Orange's shrink and hook, which run user code, wait for the next write
//!   when the write that reached orange panicked.)
//! - **Bookkeeping is bounded.** The registry's memory is O(live maps)
//!   whatever the churn of short-lived maps; a [`Subscription`] that is never
//!   read holds a bounded number of events and counts what it dropped; the
//!   event ring is bounded.
//! - **The sampler survives**, and says when it could not
//!   ([`Health::sampler`]). It never waits for a map's lock (its
//!   maintenance steps pass over held shards) and never keeps a dropped
//!   map alive; a `Hash` that panics in one of its steps is caught and
//!   logged, and that map is not stepped again.
//!
//! ```
//! use gomap_govern::{Governed, Level, Registry, Watermarks};
//!
//! let registry = Registry::new();
//! let events = registry.subscribe();
//! let mut sessions: Governed<u64, [u8; 64]> = Governed::builder("sessions")
//!     .registry(&registry)
//!     .watermarks(Watermarks::entries(1_000, 5_000, 10_000).unwrap())
//!     .on_orange(|event| eprintln!("{event:?}: paging someone"))
//!     .build();
//! for id in 0..6_000 {
//!     sessions.insert(id, [0; 64]);
//! }
//! assert_eq!(sessions.level(), Level::Orange);
//! let rises: Vec<Level> = events.try_iter().filter_map(|e| e.level_change()).map(|(_, to)| to).collect();
//! assert_eq!(rises, [Level::Yellow, Level::Orange]);
//! ```

#![warn(missing_docs)]
#![forbid(unsafe_code)]
#![cfg_attr(docsrs, feature(doc_cfg))]

mod builder;
mod cell;
mod config;
mod error;
mod events;
mod export;
mod figures;
mod governed;
mod governed_set;
mod governed_sync;
#[cfg(feature = "http")]
pub mod http;
mod level;
mod registry;
mod sampler;
mod sharded;

pub use builder::{Builder, ShardedBuilder, SyncBuilder};
pub use cell::{MapReport, Snapshot, Trend};
pub use config::{RegistryConfig, SiteLabel};
pub use error::{Refused, WatermarkError};
pub use events::{Event, EventKind, Hook, Subscription};
pub use figures::{Counters, Figures};
pub use governed::{Governed, ValueMut};
pub use governed_set::GovernedSet;
pub use governed_sync::{GovernedSyncMap, SyncReadOnly};
pub use level::{Level, Measure, Watermarks};
pub use registry::{Health, OrangeHook, Registry, TotalHook, Totals};
pub use sampler::{Sampler, SamplerState};
pub use sharded::{GovernedSharded, ReadOnly};

/// The crate README's examples, compiled and run as doctests so they stay
/// true.
#[doc = include_str!("../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;
