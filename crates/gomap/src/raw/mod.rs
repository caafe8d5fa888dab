//! The raw table: Go's bucket hash map, and the only place in gomap that
//! touches raw pointers.
//!
//! # Layout
//!
//! A table holds `2^B` *buckets*. A bucket has eight slots and, like Go's
//! `bmap`, eight tophash bytes, eight keys, eight values and an overflow
//! pointer. Two departures from Go's exact byte order, both measured on a
//! prototype (lookup miss was 1.6–3× hashbrown's with Go's layout):
//!
//! * The tophash words of all primary buckets sit together in one dense
//!   array of `u64`s, apart from the keys and values, and their overflow
//!   pointers in a second dense array beside it ([`BucketArray`]). A miss
//!   reads one word of tophash (8 bytes a bucket: at a million entries the
//!   words fit in a 2 MiB L2 cache) and never touches the cold, much larger
//!   slot bodies; the overflow pointer is read only when the bucket has no
//!   `EMPTY_REST` slot.
//! * When `(K, V)` has no padding, keys and values are stored as pairs
//!   (`k0 v0 k1 v1 …`), so a hit reads one cache line instead of two.
//!   Otherwise keys are stored together and values together, as in Go, so no
//!   padding sits between them. [`Shape`] hides the difference behind two
//!   strides.
//!
//! An overflow bucket is one allocation: its tophash word, its overflow
//! pointer, then its body. So a bucket, primary or overflow, is a triple of
//! pointers ([`Bucket`](bucket::Bucket)): tophash word, overflow pointer, body.
//!
//! # Tophash
//!
//! The top byte of the 64-bit hash, kept per slot ([`Tophash`](tophash::Tophash)).
//! Values below `Tophash::MIN` are markers, so a real tophash below it is
//! raised to `MIN` (Go adds 5 instead; clamping is fewer instructions and
//! merges only 4 of 256 values):
//!
//! | byte | meaning |
//! |---|---|
//! | `EMPTY_REST` = 0 | this slot is empty, and so is every later slot of this bucket and of its overflow chain: a probe stops here. Always a suffix of the bucket, so one look at slot 7 tells |
//! | `EMPTY_ONE` = 1 | this slot is empty; later ones may not be |
//! | `EVACUATED` = 2 | (every slot of an old bucket) the bucket has been moved to the new array |
//! | 3 | unused |
//! | 4..=255 | a live entry |
//!
//! Go needs three evacuation markers (X, Y, empty) because its iterators
//! survive writes. In Rust no iterator can be alive while the map is written,
//! so one marker does.
//!
//! All eight tophash bytes of a bucket load as one `u64` and are matched at
//! once: SSE2 on x86-64, SWAR bit tricks elsewhere ([`group`]). A lookup
//! prefetches the bucket's body as soon as it knows the bucket, before the
//! tophash word arrives: a hit in a big map then waits for one memory round
//! trip instead of two (measured: hits 1.5–1.7× hashbrown without it, ~1.2×
//! with it), at the price of a wasted fetch on a miss. Inserts and removes
//! prefetch the same way (at 1e6 keys: insert into a reserved map 1.4× →
//! 1.15× hashbrown's time, remove a tenth 1.27× → 1.0×). Every lookup and
//! write also prefetches the bucket's overflow link, which a bucket with
//! no `EMPTY_REST` slot needs next and which sits in its own array (misses
//! at 1e7 keys: 1.72–1.90× → 1.53–1.68× hashbrown's time; growing from
//! empty at 1e6: 1.62–1.96× → 1.55–1.66×). A migration's cursor prefetches
//! the old body two buckets ahead of the one it moves (growing from empty:
//! at 1e6 keys about 7 % faster, at 1e7 about 9 %).
//!
//! A write sets one slot's byte with a one-byte store. A `u64` load right
//! after a byte store to the same word cannot be forwarded from the store
//! and waits for it, so a migration filling a destination bucket entry
//! after entry rewrites the whole word instead (measured: growing to 1e5
//! keys 1.29× hashbrown's time that way, 1.51× with byte stores). A
//! removal's `EMPTY_REST` walk (`mark_erased`) also reads a word it has
//! just stored to, but only when the slot removed ends its bucket's run;
//! keeping that word in a local copy measured no faster.
//!
//! # Load factor, and the three migrations
//!
//! * **Grow** (Go's "double-size grow"): inserting a new key when the table
//!   holds more than 8 entries and more than 6.5 per bucket
//!   ([`LOAD_FACTOR_NUM`]`/`[`LOAD_FACTOR_DEN`]). Go chose 6.5 from its own
//!   table: at 6.5, about 21 % of buckets have an overflow bucket and a hit
//!   probes 4.25 slots on average, at 10.8 bytes of overhead per 8-byte pair.
//! * **Compact** (Go's "same-size grow"): inserting when there are about as
//!   many overflow buckets as buckets (`overflow >= 2^B`, what Go's sampled
//!   `noverflow >= 2^min(B, 15)` amounts to). Rebuilds
//!   the same number of buckets with the entries packed tight.
//! * **Shrink** (ours; Go never shrinks): under [`ShrinkPolicy::Auto`], a
//!   write that leaves fewer than 6.5 / 4 = 1.625 entries per bucket moves
//!   the table to the smallest array that holds the entries at no more than
//!   half its capacity, never below the capacity the user reserved — once
//!   entries have left (remove, retain, clear) since the last grow, shrink
//!   or `reserve`: a map being filled into room it asked for keeps it.
//!
//! The hysteresis band: a grow doubles the buckets at load 6.5, leaving load
//! ~3.25; a shrink needs load under 1.625 and leaves load at most ~3.25. A
//! key inserted and removed again and again at either boundary therefore
//! starts at most one migration: the load must fall (or rise) by half of
//! what it is before the opposite migration can start.
//!
//! All three are the same thing: a *migration* from an old array to a new
//! one, of any size. While it runs:
//!
//! * Every write (insert, `entry`, remove) to a migrating table first does
//!   its share of the work, [`WRITE_BUDGET`](migration::WRITE_BUDGET) = 16
//!   entries' worth: a cursor walks the old array downward, evacuating one
//!   bucket (with its chain) at a time — each costs the entries it moves —
//!   and passing over buckets already evacuated or empty, each costing 1/64
//!   of an entry ([`SKIPS_PER_ENTRY`](migration::SKIPS_PER_ENTRY)), so a
//!   write that finds nothing to move passes over 1 024 buckets, as Go's
//!   may. A bucket started is finished, so a write moves at most 16 entries
//!   plus the rest of the last chain it started. The budget is counted in
//!   entries, not buckets, so a shrink of a sparse table (a bucket or less
//!   per entry) moves as many entries per write as a grow does (measured
//!   in the unit tests: ~17 and ~20). Then the write looks for its key in
//!   the key's old bucket if that is not evacuated yet, and updates or
//!   removes it there, in place. (Go evacuates the key's own old bucket
//!   instead; moving only at the cursor reads the old array front to back
//!   and writes the new one in order: inserts while growing measured ~1.6x
//!   faster at 1e5 and 1e6 keys.) The write that starts a migration does
//!   its share too — but for one that starts a shrink through `retain` or
//!   the Entry API's `remove`, which have no hasher to move entries with.
//! * **No migration lingers on a small remainder.** A write that leaves a
//!   migration with at most [`FINISH_WORK`](migration::FINISH_WORK) to do —
//!   eight writes' worth: 128 entries still in the old array, or 8 192 old
//!   buckets to look at (64 KiB of tophash words), or a mix — finishes it
//!   there and then. So that write does at most nine writes' share, and a
//!   map whose writes stop is left with two arrays only when more than that
//!   remained (every migration of a map under ~120 entries ends within the
//!   write that starts it). For the rest, `HashMap::step_migration(budget)`
//!   does a bounded piece on request — the maintenance step an owner runs
//!   in idle time (`ShardedMap` on its idle shards).
//! * Reads never move anything. They look in the new array, then in the
//!   key's old bucket if it is not evacuated yet.
//! * **Invariant: each key lives in exactly one place** — in its old bucket
//!   (only while that bucket is not evacuated) or in the new array. A write
//!   finds its key in either before it inserts, and new keys are written
//!   only to the new array; evacuation moves a key without looking for a
//!   copy, since there is none.
//! * The old array (tophash words, links and bodies alike) is given back to
//!   the allocator from the tail while the cursor walks down
//!   ([`RELEASE_CHUNK_BYTES`](migration::RELEASE_CHUNK_BYTES) at a time), so the end of a migration never
//!   frees hundreds of megabytes in one call (measured on the prototype: an
//!   18 ms stall for 150 MB).
//!
//! New arrays take their tophash words and overflow pointers from
//! `allocate_zeroed` (zero is `EMPTY_REST` and a null overflow pointer) with
//! the alignment of a word (8, or 4 on 32-bit targets) — the system allocator serves alignments up to 16
//! through `calloc`, so big arrays get fresh, lazily zeroed pages rather than
//! a `memset`. Bodies are left uninitialised.
//!
//! # Panic safety
//!
//! User code (`Hash`, `Eq`, `Clone`, `Drop`, `retain`'s predicate) runs only
//! at points where the table is consistent: an entry is marked empty *before*
//! it is dropped, an evacuated entry is marked empty in the old bucket only
//! after it is written to the new one, and a cloned entry is marked full only
//! after both its key and value are cloned. A panic therefore leaves the
//! table usable and every entry owned exactly once; memory is always freed.
//! Where a cleanup must run even if user code panics half way (dropping
//! every entry, freeing the table, freeing a fresh array while `reserve`
//! finishes a migration), it sits in the one scope guard of `guard.rs`.
//!
//! # Iteration order
//!
//! A walk visits the old array's buckets not yet evacuated, then the
//! current array's, each from the same starting bucket (wrapping) and, in
//! every bucket, from the same slot offset. Like Go, the start is random,
//! so no caller can come to depend on an order; unlike Go, it is drawn once
//! per table, into `iter_seed`, when the current array is allocated from
//! nothing (the first insert or reservation, `with_capacity`, a clone, the
//! first write after `reset`), not once per walk. So every walk of an
//! unchanged table — `iter`, `keys`, `values`, `iter_mut`, `drain`,
//! `into_iter` — gives the same order, as std's does, and `keys()` zipped
//! with `values()` pairs up, while two maps with the same keys still
//! iterate differently. A write may change the order (an insert or a
//! migration step moves entries). The seed is one word of the table; a walk
//! reads it instead of drawing a random number, so iterating got no dearer.
//!
//! # Where things are
//!
//! | file | what |
//! |---|---|
//! | `mod.rs` | this essay; `RawTable`'s fields, construction, `mem_stats`; the load factor |
//! | `tophash.rs` | `Tophash`: the slot byte and its markers |
//! | `group.rs` | matching a bucket's eight tophash bytes at once (SSE2, SWAR) |
//! | `layout.rs` | the one place that knows sizes: `Shape` (a body), `OverflowHeader`, `Part` (a bucket's bytes, alignment and zeroing in each block of an array) |
//! | `bucket.rs` | `Bucket`, `BucketArray`, the chain search and the `EMPTY_REST` upkeep of a removal |
//! | `memory.rs` | allocating and freeing arrays and overflow buckets |
//! | `entries.rs` | lookups, and the insert and remove primitives (`take`, `take_out`, `remove_at`) |
//! | `entry.rs` | the raw Entry handles |
//! | `migration.rs` | start, step and end of a migration; `reserve`, `shrink_to` |
//! | `lifecycle.rs` | `clear`, `reset`, `retain`, `Clone`, `Drop` |
//! | `extract.rs` | `extract_if`: `retain`'s walk, one removal at a time |
//! | `disjoint.rs` | `get_disjoint_mut`: several `&mut V` at once |
//! | `iter.rs` | walks over every entry, also mid-migration; the iteration seed |
//! | `par.rs` | (feature `rayon`) the walks split into bucket ranges for rayon's threads, and the parallel drain |
//! | `lend.rs` | `SlotLender`: every entry lent out by slot, each keeping the map's owner (a lock guard) alive; why that is sound |
//! | `slot.rs` | `Slot`: an entry's position as a value, found, walked and used again without a lookup, checked on every use |
//! | `owned.rs` | owned bytes and the table's hooks for them |
//! | `guard.rs` | the scope guard |

mod bucket;
mod disjoint;
mod entries;
mod entry;
mod extract;
mod group;
mod guard;
mod iter;
mod layout;
mod lend;
mod lifecycle;
mod memory;
mod migration;
mod owned;
#[cfg(feature = "rayon")]
mod par;
mod slot;
#[cfg(test)]
mod tests;
mod tophash;

pub(crate) use entry::{RawEntry, RawOccupied, RawVacant};
pub(crate) use extract::RawExtractIf;
pub(crate) use iter::{RawDrain, RawIntoIter, RawIter, RawIterMut};
pub use lend::{LentSlot, SlotLender};
pub(crate) use migration::Floor;
pub(crate) use owned::Measure;
#[cfg(feature = "rayon")]
pub(crate) use par::{RawParDrain, RawParIter, RawParIterMut};
pub use slot::{Slot, SlotView};

use crate::{MemStats, Migration, MigrationKind, ShrinkPolicy, TryReserveError};
use allocator_api2::alloc::Allocator;
use bucket::BucketArray;
use core::marker::PhantomData;
use core::mem::size_of;
use layout::{primary_bucket_bytes, Shape};
use migration::{MigrationCounts, MigrationState};
use owned::Owned;

/// Slots per bucket.
pub(crate) const BUCKET_SLOTS: usize = 8;
/// Grow past `LOAD_FACTOR_NUM / LOAD_FACTOR_DEN` = 6.5 entries per bucket.
const LOAD_FACTOR_NUM: usize = 13;
const LOAD_FACTOR_DEN: usize = 2;
/// Shrink under a quarter of the grow threshold (1.625 entries per bucket).
const SHRINK_DIVISOR: usize = 4;

/// Which of a table's two arrays: the one a running migration moves
/// entries out of, or the one new keys go to.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
enum ArrayId {
    Old,
    Current,
}

/// Go's map as a raw table of `(K, V)` entries: no hasher inside, hashes are
/// passed in, and `hasher` closures are asked for when entries must move.
pub(crate) struct RawTable<K, V, A: Allocator> {
    /// The array new keys go to.
    current: BucketArray,
    /// Overflow buckets hanging off `current`.
    overflow: usize,
    migration: Option<MigrationState>,
    len: usize,
    /// The array never shrinks below this (from `with_capacity`/`reserve`).
    min_log2: u8,
    policy: ShrinkPolicy,
    /// Migrations started so far, by kind.
    started: MigrationCounts,
    /// Entries have left since the last grow, shrink or reserve: only then
    /// may a write start a shrink. (A map being filled after `reserve`, or
    /// growing, keeps its room; one that emptied shrinks on its next writes.)
    shrink_armed: bool,
    /// Calls made to the allocator (allocate, free, shrink in place): a
    /// cheap signal that `allocated_bytes` may have moved. A plain counter:
    /// every allocator call happens under `&mut self` (a `Cell` here would
    /// make `&HashMap` neither `Sync`-safe by itself nor `RefUnwindSafe`).
    allocator_calls: u64,
    /// Where every walk over the entries starts (bucket and slot offset):
    /// drawn at random each time the current array is allocated from
    /// nothing, so each map has its own order (Go's intent: no caller may
    /// depend on one), but two walks of an unchanged map agree, as std's do
    /// (`keys()` zipped with `values()` pairs up).
    iter_seed: u64,
    /// The bytes keys and values own, when the map measures them (see
    /// `owned.rs`, and its invariant on the lent value).
    owned: Option<Owned<K, V>>,
    /// `owned` has a lent value (the hot paths' one check).
    lent_any: bool,
    alloc: A,
    marker: PhantomData<(K, V)>,
}

// SAFETY: the table owns its keys, values and allocations, like a `Vec`;
// the lent value `owned` may point at is one of its own values.
unsafe impl<K: Send, V: Send, A: Allocator + Send> Send for RawTable<K, V, A> {}
// SAFETY: `&RawTable` only hands out shared references to keys and values,
// and has no interior mutability. The lent value `owned` may point at is
// only read through `&RawTable`.
unsafe impl<K: Sync, V: Sync, A: Allocator + Sync> Sync for RawTable<K, V, A> {}

/// Entries a `2^log2` array holds before it must grow (Go's
/// `overLoadFactor`: more than 8 and more than 6.5 per bucket).
pub(crate) fn capacity_of(log2: u8) -> usize {
    let half = (1usize << log2) / LOAD_FACTOR_DEN;
    (LOAD_FACTOR_NUM * half).max(BUCKET_SLOTS)
}

/// The smallest `log2` whose array holds `entries` without growing.
fn log2_for(entries: usize) -> Result<u8, TryReserveError> {
    let mut log2 = 0u8;
    while capacity_of(log2) < entries {
        log2 += 1;
        // Stop well before `1 << log2` overflows; the layout check rejects it.
        if usize::BITS as u8 - 4 <= log2 {
            return Err(TryReserveError::CapacityOverflow);
        }
    }
    Ok(log2)
}

impl<K, V, A: Allocator> RawTable<K, V, A> {
    pub(crate) const fn new_in(alloc: A) -> Self {
        RawTable {
            current: BucketArray::unallocated(),
            overflow: 0,
            migration: None,
            len: 0,
            min_log2: 0,
            policy: ShrinkPolicy::Auto,
            started: MigrationCounts::new(),
            shrink_armed: false,
            allocator_calls: 0,
            iter_seed: 0,
            owned: None,
            lent_any: false,
            alloc,
            marker: PhantomData,
        }
    }

    /// A table that holds `capacity` entries before its first grow.
    pub(crate) fn try_with_capacity_in(capacity: usize, alloc: A) -> Result<Self, TryReserveError> {
        let mut table = Self::new_in(alloc);
        if capacity > 0 {
            let log2 = log2_for(capacity)?;
            table.allocate_current(log2)?;
            table.min_log2 = log2;
        }
        Ok(table)
    }

    #[inline]
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    pub(crate) fn allocator(&self) -> &A {
        &self.alloc
    }

    /// Entries the current array holds before its next grow.
    pub(crate) fn capacity(&self) -> usize {
        self.current.capacity
    }

    pub(crate) fn shrink_policy(&self) -> ShrinkPolicy {
        self.policy
    }

    pub(crate) fn set_shrink_policy(&mut self, policy: ShrinkPolicy) {
        self.policy = policy;
    }

    /// See the field.
    #[inline]
    pub(crate) fn allocator_calls(&self) -> u64 {
        self.allocator_calls
    }

    /// Allocate the current array, `2^log2` buckets, in a table that has
    /// none, and draw the table's iteration seed.
    pub(super) fn allocate_current(&mut self, log2: u8) -> Result<(), TryReserveError> {
        debug_assert!(!self.current.allocated);
        self.current = self.allocate_array(log2, 1 << log2)?;
        self.iter_seed = iter::random_seed();
        Ok(())
    }

    /// Migrations of `kind` started so far.
    pub(crate) fn migrations_started(&self, kind: MigrationKind) -> u64 {
        self.started.get(kind)
    }

    /// The old or the current array, as a copy of its pointers (the current
    /// one when no migration runs).
    fn array(&self, which: ArrayId) -> BucketArray {
        match &self.migration {
            Some(m) if which == ArrayId::Old => m.old.shallow(),
            _ => self.current.shallow(),
        }
    }

    /// The overflow bucket count of the old or the current array. Counted
    /// in place, never in a local, so a panic cannot lose a change.
    fn overflow_count(&mut self, which: ArrayId) -> &mut usize {
        match &mut self.migration {
            Some(m) if which == ArrayId::Old => &mut m.old_overflow,
            _ => &mut self.overflow,
        }
    }

    #[inline]
    pub(crate) fn mem_stats(&self) -> MemStats {
        let overflow_bytes = Shape::<K, V>::OVERFLOW_LAYOUT.size();
        let mut stats = MemStats {
            len: self.len,
            buckets: if self.current.allocated {
                self.current.buckets()
            } else {
                0
            },
            old_buckets: 0,
            overflow_buckets: self.overflow,
            bucket_size: primary_bucket_bytes::<K, V>(),
            allocated_bytes: self.current.bytes::<K, V>() + self.overflow * overflow_bytes,
            payload_bytes: self.len * (size_of::<K>() + size_of::<V>()),
            owned_bytes: self.owned_bytes().unwrap_or(0),
            migration: None,
        };
        if let Some(m) = &self.migration {
            stats.old_buckets = m.old.buckets();
            stats.overflow_buckets += m.old_overflow;
            stats.allocated_bytes += m.old.bytes::<K, V>() + m.old_overflow * overflow_bytes;
            stats.migration = Some(Migration {
                kind: m.kind,
                evacuated: m.evacuated,
                total: m.old.buckets(),
            });
        }
        stats
    }
}
