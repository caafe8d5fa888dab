//! # gomap — Go's runtime hash map, rebuilt in Rust, with its memory flaw fixed
//!
//! [`HashMap`] is a drop-in for [`std::collections::HashMap`] built the way
//! Go's runtime builds `map`: 8-slot buckets with tophash bytes, overflow
//! chains, a load factor of 6.5, and growth spread over many writes so no
//! single insert stalls to rehash the whole table. Unlike Go's map it
//! **gives memory back** (an incremental shrink, [`HashMap::reset`]),
//! **reports its bytes exactly** ([`HashMap::mem_stats`]), and can live in
//! any [`Allocator`], such as a `bumpalo` arena.
//!
//! ```
//! use gomap::HashMap;
//!
//! let mut sessions: HashMap<u64, String> = HashMap::new();
//! for id in 0..10_000 {
//!     sessions.insert(id, format!("user-{id}"));
//! }
//! assert_eq!(sessions.get(&42).map(String::as_str), Some("user-42"));
//!
//! let stats = sessions.mem_stats();
//! assert_eq!(stats.len, 10_000);
//! println!("{} buckets, {} bytes", stats.buckets, stats.allocated_bytes);
//!
//! sessions.reset(); // drop every entry and free every bucket now
//! assert_eq!(sessions.mem_stats().allocated_bytes, 0);
//! ```
//!
//! ## Every way to empty a map, and what each costs
//!
//! | call | entries | memory | cost |
//! |---|---|---|---|
//! | [`clear`](HashMap::clear) | dropped | bucket array kept (std and Go's `clear`); overflow buckets freed; under [`ShrinkPolicy::Auto`] later writes shrink it | O(buckets) |
//! | [`reset`](HashMap::reset) | dropped | everything freed now (Go's `m = make(...)`) | O(buckets) |
//! | [`shrink_to_fit`](HashMap::shrink_to_fit) / [`shrink_to`](HashMap::shrink_to) | kept | finishes any migration and rebuilds at the size the entries need, now | O(entries + buckets) |
//! | [`finish_migration`](HashMap::finish_migration) | kept | completes a running grow or shrink now instead of over the next writes | O(old buckets) |
//! | [`step_migration`](HashMap::step_migration) | kept | a bounded piece of a running grow or shrink, for idle time | O(budget) |
//! | removing keys (`remove`, [`retain`](HashMap::retain), [`drain`](HashMap::drain)) | dropped | under `Auto`, once fewer than 1.625 entries per bucket remain, halves the array, about 16 entries per write (or idle-time [`step_migration`](HashMap::step_migration)); `Never` keeps it, as Go does | O(1) per write |
//!
//! ## Maps in an arena
//!
//! Maps take any [`Allocator`], so a group of short-lived maps (say, the
//! per-request caches of a service's requests) can live in one
//! `bumpalo` arena and be freed together when the request ends. A bump
//! arena reclaims nothing on `shrink`, `clear` or `reset` — only when the
//! arena itself is reset or dropped.
//!
//! ```
//! use bumpalo::Bump;
//! use gomap::HashMap;
//!
//! fn handle_request(arena: &Bump, user: u64) -> usize {
//!     let mut seen = HashMap::new_in(arena);
//!     let mut per_key = HashMap::new_in(arena);
//!     for i in 0..1000u64 {
//!         seen.insert(i % 97, user);
//!         *per_key.entry(i % 13).or_insert(0) += 1;
//!     }
//!     seen.len() + per_key.len()
//! } // the maps drop here; their bytes stay in the arena until it resets
//!
//! let mut arena = Bump::new();
//! for user in 0..3 {
//!     assert_eq!(handle_request(&arena, user), 97 + 13);
//!     arena.reset(); // every map of the request, freed at once
//! }
//! ```
//!
//! The design and its departures from Go are documented at the top of the
//! raw table module (`src/raw/mod.rs`).

#![no_std]
#![warn(missing_docs)]
#![deny(unsafe_code)]
#![cfg_attr(docsrs, feature(doc_cfg))]

// `no_std`: the map needs only `alloc` (through its allocator). std is
// linked for the unit tests (`Vec`, printing), for feature `std` (feature
// `rayon`, which turns it on, collects into a `Vec`), and for the docs'
// links to std's items (`std::collections::HashMap`).
extern crate alloc;
#[cfg(any(test, doc, feature = "std"))]
extern crate std;

mod equivalent;
#[cfg(feature = "get-size2")]
mod get_size;
mod map;
// The one place with `unsafe` (see its module essay).
#[allow(unsafe_code)]
mod raw;
#[cfg(feature = "serde")]
mod serde;
mod set;

pub use allocator_api2::alloc::{Allocator, Global};
pub use equivalent::Equivalent;
pub use map::{
    Drain, Entry, ExtractIf, HashMap, IntoIter, IntoKeys, IntoValues, Iter, IterMut, Keys,
    OccupiedEntry, VacantEntry, Values, ValuesMut,
};
pub use set::HashSet;

/// Iterators and other items of [`HashSet`], as in `std::collections::hash_set`.
pub mod hash_set {
    #[cfg(feature = "rayon")]
    pub use crate::set::rayon;
    pub use crate::set::{
        Difference, Drain, ExtractIf, HashSet, Intersection, IntoIter, Iter, SymmetricDifference,
        Union,
    };
}

/// Iterators, entries, the default hasher and other items of [`HashMap`],
/// as in `std::collections::hash_map`.
pub mod hash_map {
    #[cfg(feature = "rayon")]
    pub use crate::map::rayon;
    pub use crate::map::{
        DefaultHasher, Drain, Entry, ExtractIf, HashMap, IntoIter, IntoKeys, IntoValues, Iter,
        IterMut, Keys, LentSlot, OccupiedEntry, RandomState, Slot, SlotLender, SlotView,
        VacantEntry, Values, ValuesMut,
    };
    pub use crate::map::{EntryRef, VacantEntryRef};
}

use core::alloc::Layout;
use core::fmt;

/// The default hasher builder: [`hash_map::RandomState`] (foldhash, seeded
/// at random for every map, like Go's per-map `hash0`).
pub type DefaultHashBuilder = hash_map::RandomState;

/// Whether a map gives memory back by itself as it empties.
///
/// ```
/// use gomap::{HashMap, ShrinkPolicy};
///
/// let mut go_like: HashMap<u32, u32> = HashMap::new().with_shrink_policy(ShrinkPolicy::Never);
/// go_like.extend((0..1000).map(|i| (i, i)));
/// let peak = go_like.mem_stats().buckets;
/// go_like.retain(|_, _| false);
/// assert_eq!(go_like.mem_stats().buckets, peak); // Go's behaviour: the array stays
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum ShrinkPolicy {
    /// When a write leaves fewer than 1.625 entries per bucket (a quarter of
    /// the grow threshold), migrate to a smaller array, incrementally, never
    /// below the capacity reserved with `with_capacity` or `reserve`.
    #[default]
    Auto,
    /// Never shrink by itself: Go's behaviour. `shrink_to_fit`, `shrink_to`
    /// and `reset` still do.
    Never,
}

/// Which migration is running (see [`Migration`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum MigrationKind {
    /// To twice as many buckets (or more, after `reserve`): the load passed 6.5.
    Grow,
    /// To as many buckets, packed tight: overflow buckets piled up.
    Compact,
    /// To fewer buckets: the load fell under 1.625.
    Shrink,
}

/// A migration in progress: old buckets move to the new array a couple per
/// write.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Migration {
    /// Why the table is moving.
    pub kind: MigrationKind,
    /// Old buckets already moved.
    pub evacuated: usize,
    /// Old buckets in all.
    pub total: usize,
}

/// A map's memory, exactly.
///
/// `allocated_bytes` is every byte the map holds from its allocator right
/// now: bucket arrays (both, during a migration) and overflow buckets. Memory
/// owned by the keys and values themselves (a `String`'s text, a `Vec`'s
/// buffer) is theirs, not the map's, and is not counted.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct MemStats {
    /// Entries.
    pub len: usize,
    /// Buckets of the current array (`2^B`); 0 when nothing is allocated.
    pub buckets: usize,
    /// Buckets of the array being migrated from; 0 when none.
    pub old_buckets: usize,
    /// Overflow buckets allocated now, in both arrays.
    pub overflow_buckets: usize,
    /// Bytes of one bucket: tophash word, overflow pointer, 8 keys, 8 values.
    pub bucket_size: usize,
    /// Every byte held from the allocator right now.
    pub allocated_bytes: usize,
    /// `len * (size_of::<K>() + size_of::<V>())`.
    pub payload_bytes: usize,
    /// Bytes the keys and values own on the heap (a `String`'s text, a
    /// `Vec`'s buffer), when the map measures them
    /// ([`HashMap::track_owned_bytes`]); 0 otherwise. Not part of
    /// `allocated_bytes`, which is the table's own memory: the two add up
    /// to everything the map and its contents hold.
    pub owned_bytes: usize,
    /// The running migration, if any.
    pub migration: Option<Migration>,
}

/// The error of `try_reserve`: the map is left unchanged.
#[derive(Clone, PartialEq, Eq, Debug)]
pub enum TryReserveError {
    /// The capacity asked for does not fit in `usize` bytes.
    CapacityOverflow,
    /// The allocator could not provide a block of this layout.
    AllocError {
        /// The layout that was asked for.
        layout: Layout,
    },
}

impl TryReserveError {
    /// What an infallible method does with the error: panic on overflow,
    /// `handle_alloc_error` on allocation failure (as std does).
    pub(crate) fn handle(self) -> ! {
        match self {
            TryReserveError::CapacityOverflow => panic!("gomap: capacity overflow"),
            TryReserveError::AllocError { layout } => {
                allocator_api2::alloc::handle_alloc_error(layout)
            }
        }
    }
}

impl fmt::Display for TryReserveError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TryReserveError::CapacityOverflow => {
                f.write_str("memory allocation failed because the computed capacity exceeded the collection's maximum")
            }
            TryReserveError::AllocError { layout } => write!(
                f,
                "memory allocation of {} bytes (align {}) failed",
                layout.size(),
                layout.align()
            ),
        }
    }
}

impl core::error::Error for TryReserveError {}

/// The crate README's examples, compiled and run as doctests so they stay
/// true.
#[doc = include_str!("../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;
