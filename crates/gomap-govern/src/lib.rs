//! Governed maps: know every map, where it was made, how big it is, and
//! alert before it runs away.
//!
//! - [`Governed`] wraps a [`gomap::HashMap`], [`GovernedSharded`] a
//!   [`gomap_sync::ShardedMap`]; each has a name and records where it was
//!   created (`#[track_caller]`), and publishes its figures on every write
//!   into atomics (relaxed stores, no lock on the hot path).
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
//!   flags `suspected_leak` when a map only grew over the whole window.
//! - [`Registry::export_metrics`] sets every figure through the `metrics`
//!   facade (labels `map` and `site`); with the `http` feature,
//!   [`http::serve`] answers `/metrics` (Prometheus text) and `/debug/maps`
//!   (JSON). `deploy/prometheus/` in the repository holds alert rules for
//!   the three levels.
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
//! let rises: Vec<Level> = events.try_iter().map(|e| e.to).collect();
//! assert_eq!(rises, [Level::Yellow, Level::Orange]);
//! ```

#![warn(missing_docs)]
#![forbid(unsafe_code)]

mod export;
mod governed;
#[cfg(feature = "http")]
pub mod http;
mod level;
mod registry;
mod sharded;

pub use governed::{Builder, Governed, Refused};
pub use level::{Level, Measure, WatermarkError, Watermarks};
pub use registry::{
    Counters, Event, Figures, MapReport, OrangeHook, Registry, RegistryConfig, Sampler, Snapshot,
    Totals, Trend,
};
pub use sharded::GovernedSharded;
