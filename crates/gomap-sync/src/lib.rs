//! Concurrent maps built on [`gomap::HashMap`].
//!
//! - [`ShardedMap`] — a power-of-two number of `gomap::HashMap` shards, each
//!   behind a parking_lot `RwLock`: the general-purpose concurrent map.
//!   Its [`clear`](ShardedMap::clear) and [`take`](ShardedMap::take) hold
//!   every shard's write lock at once, so no reader ever sees half a clear —
//!   readers iterating while another thread deletes (under a `sync.RWMutex`
//!   used the wrong way, in Go) cannot see a half-cleared map.
//! - [`ShardedSet`] — the same as a set: a `ShardedMap` of `T → ()`.
//! - [`SyncMap`] — Go's `sync.Map` for read-mostly data: lock-free loads of
//!   keys in an atomically swapped read-only snapshot, new keys in a dirty
//!   map under a mutex, promotion after as many misses as the dirty map has
//!   entries, and a [`clear`](SyncMap::clear) that is one atomic swap.
//!
//! Both report their memory: [`ShardedMap::mem_stats`] sums its shards'
//! [`gomap::MemStats`]; [`SyncMap::mem_stats`] gives both of its maps.
//!
//! Feature `rayon`: parallel iterators, `ParallelExtend` and
//! `FromParallelIterator` for both sharded types, one shard per task
//! (the `rayon` module, when the feature is on).
//!
//! The concurrency protocols are model-checked with loom:
//! `RUSTFLAGS="--cfg loom" CARGO_TARGET_DIR=target/loom cargo test --release
//! -p gomap-sync --test loom` (as CI runs it).

#![warn(missing_docs)]
#![forbid(unsafe_code)]
#![cfg_attr(docsrs, feature(doc_cfg))]

#[cfg(all(feature = "rayon", not(loom)))]
#[cfg_attr(docsrs, doc(cfg(feature = "rayon")))]
pub mod rayon;
#[cfg(feature = "serde")]
mod serde;
pub mod sharded;
pub mod sharded_set;
mod sync;
pub mod sync_map;

pub use sharded::ShardedMap;
pub use sharded_set::ShardedSet;
pub use sync_map::{SyncMap, SyncMapStats};

/// The crate README's examples, compiled and run as doctests so they stay
/// true.
#[doc = include_str!("../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;
