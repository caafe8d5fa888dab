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
//! pointers ([`Bucket`]): tophash word, overflow pointer, body.
//!
//! # Tophash
//!
//! The top byte of the 64-bit hash, kept per slot. Values below
//! [`MIN_TOPHASH`] are markers, so a real tophash below it is raised to
//! `MIN_TOPHASH` (Go adds 5 instead; clamping is fewer instructions and
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
//! with it), at the price of a wasted fetch on a miss.
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
//! * Every write (insert, `entry`, remove) to a migrating table first
//!   advances the cursor twice: the cursor walks the old array downward,
//!   evacuating one bucket (with its chain) per step and passing over up to
//!   [`CURSOR_SKIP_LIMIT`] buckets that are already evacuated or empty. Then
//!   the write looks for its key in the key's old bucket if that is not
//!   evacuated yet, and updates or removes it there, in place. (Go
//!   evacuates the key's own old bucket instead; moving only at the cursor
//!   reads the old array front to back and writes the new one in order:
//!   inserts while growing measured ~1.6x faster at 1e5 and 1e6 keys.) So
//!   a write moves at most two old buckets of a running migration (the
//!   insert that starts one moves one; one that ends a migration and then
//!   starts a shrink or compact may move one more of the new one), and a
//!   migration ends after at most `2^oldB` writes.
//! * Reads never move anything. They look in the new array, then in the
//!   key's old bucket if it is not evacuated yet.
//! * **Invariant: each key lives in exactly one place** — in its old bucket
//!   (only while that bucket is not evacuated) or in the new array. A write
//!   finds its key in either before it inserts, and new keys are written
//!   only to the new array; evacuation moves a key without looking for a
//!   copy, since there is none.
//! * The old array (tophash words, links and bodies alike) is given back to
//!   the allocator from the tail while the cursor walks down
//!   ([`RELEASE_CHUNK_BYTES`] at a time), so the end of a migration never
//!   frees hundreds of megabytes in one call (measured on the prototype: an
//!   18 ms stall for 150 MB).
//!
//! New arrays take their tophash words and overflow pointers from
//! `allocate_zeroed` (zero is `EMPTY_REST` and a null overflow pointer) with
//! an alignment of 8 — the system allocator serves alignments up to 16
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

mod group;
mod iter;
mod owned;

pub(crate) use iter::{RawDrain, RawIntoIter, RawIter, RawIterMut};

use crate::{MemStats, Migration, MigrationKind, ShrinkPolicy, TryReserveError};
use allocator_api2::alloc::{handle_alloc_error, Allocator};
use core::alloc::Layout;
use core::cell::Cell;
use core::marker::PhantomData;
use core::mem::{self, align_of, size_of};
use core::ptr::{self, NonNull};
use group::Group;
pub(crate) use owned::Measure;
use owned::{Lent, Owned};

/// Slots per bucket.
pub(crate) const BUCKET_SLOTS: usize = 8;
/// Tophash marker: this slot and every later one in the chain are empty.
pub(crate) const EMPTY_REST: u8 = 0;
/// Tophash marker: this slot is empty.
pub(crate) const EMPTY_ONE: u8 = 1;
/// Tophash marker written to every slot of an old bucket once evacuated.
pub(crate) const EVACUATED: u8 = 2;
/// The smallest tophash of a live entry.
pub(crate) const MIN_TOPHASH: u8 = 4;
/// Grow past `LOAD_FACTOR_NUM / LOAD_FACTOR_DEN` = 6.5 entries per bucket.
const LOAD_FACTOR_NUM: usize = 13;
const LOAD_FACTOR_DEN: usize = 2;
/// Shrink under a quarter of the grow threshold (1.625 entries per bucket).
const SHRINK_DIVISOR: usize = 4;
/// Compact when there are as many overflow buckets as buckets. Go writes
/// `noverflow >= 1 << min(B, 15)`, but for `B >= 16` its `noverflow` is a
/// sampled count (incremented with probability `2^(15-B)`), so its real
/// threshold is also about `2^B`. We count exactly and compare with `2^B`.
const fn compact_threshold(log2: u8) -> usize {
    1 << log2
}
/// How many already-evacuated or empty old buckets one write may pass over
/// (Go uses 1024 too); each costs one load of a tophash word.
const CURSOR_SKIP_LIMIT: usize = 1024;
/// The old array's bodies are released from the tail in pieces of at least
/// this size, each one `realloc` that shrinks the block in place.
const RELEASE_CHUNK_BYTES: usize = 1 << 20;

/// The head of an overflow bucket allocation: its tophash word and the
/// link to the next overflow bucket; the body follows.
#[repr(C)]
struct OverflowHeader {
    tophash: Group,
    /// The next overflow bucket (its `OverflowHeader`), or null.
    next: *mut OverflowHeader,
}

/// What the unallocated table points at: one tophash word, all
/// `EMPTY_REST`, and one null overflow link, laid out as an allocated
/// one-bucket array is, so lookups in an empty map need no branch. Never
/// written.
struct StaticMetas([u64; 2]);
static UNALLOCATED: StaticMetas = StaticMetas([0, 0]);

/// `K` then `V` with C layout: the pair layout, used only when it has no
/// padding.
#[repr(C)]
struct Pair<K, V>(K, V);

/// Where keys and values live inside a bucket body, for one `(K, V)`.
struct Shape<K, V>(PhantomData<(K, V)>);

const fn round_up(n: usize, align: usize) -> usize {
    (n + align - 1) & !(align - 1)
}

const fn max(a: usize, b: usize) -> usize {
    if a > b {
        a
    } else {
        b
    }
}

impl<K, V> Shape<K, V> {
    const PAIRED: bool = size_of::<K>() + size_of::<V>() == size_of::<Pair<K, V>>();
    const KEY_STRIDE: usize = if Self::PAIRED {
        size_of::<Pair<K, V>>()
    } else {
        size_of::<K>()
    };
    const VALUE_STRIDE: usize = if Self::PAIRED {
        size_of::<Pair<K, V>>()
    } else {
        size_of::<V>()
    };
    /// Offset of value 0 in a body.
    const VALUES_AT: usize = if Self::PAIRED {
        size_of::<K>()
    } else {
        round_up(BUCKET_SLOTS * size_of::<K>(), align_of::<V>())
    };
    const BODY_ALIGN: usize = max(align_of::<K>(), align_of::<V>());
    const BODY_SIZE: usize = round_up(
        Self::VALUES_AT + (BUCKET_SLOTS - 1) * Self::VALUE_STRIDE + size_of::<V>(),
        Self::BODY_ALIGN,
    );
    /// Offset of the body in an overflow bucket.
    const OVERFLOW_BODY_AT: usize = round_up(size_of::<OverflowHeader>(), Self::BODY_ALIGN);
    const OVERFLOW_LAYOUT: Layout = {
        let align = max(align_of::<OverflowHeader>(), Self::BODY_ALIGN);
        match Layout::from_size_align(
            round_up(Self::OVERFLOW_BODY_AT + Self::BODY_SIZE, align),
            align,
        ) {
            Ok(layout) => layout,
            Err(_) => panic!("gomap: key and value types too large for a bucket"),
        }
    };
}

/// One bucket, primary or overflow: where its tophash word, its overflow
/// link and its body are.
///
/// A `Bucket` is a plain triple of pointers; every method is `unsafe` and
/// requires that the bucket is live (its array or allocation not freed) and,
/// for the slot accessors, that `slot < BUCKET_SLOTS`.
#[derive(Clone, Copy)]
struct Bucket {
    tophash: NonNull<Group>,
    next: NonNull<*mut OverflowHeader>,
    body: NonNull<u8>,
}

impl Bucket {
    #[inline(always)]
    unsafe fn tophash(self) -> Group {
        // SAFETY: the caller guarantees the bucket is live.
        unsafe { *self.tophash.as_ptr() }
    }

    #[inline(always)]
    unsafe fn set_tophash(self, group: Group) {
        // SAFETY: the caller guarantees the bucket is live and not the
        // static `UNALLOCATED` (only allocated tables are written).
        unsafe { *self.tophash.as_ptr() = group }
    }

    #[inline(always)]
    unsafe fn set_slot(self, slot: usize, byte: u8) {
        // SAFETY: as for `tophash` and `set_tophash`.
        unsafe { self.set_tophash(self.tophash().with(slot, byte)) }
    }

    #[inline(always)]
    unsafe fn overflow<K, V>(self) -> Option<Bucket> {
        // SAFETY: the caller guarantees the bucket is live; a non-null
        // link always points at a live overflow bucket.
        let next = unsafe { *self.next.as_ptr() };
        NonNull::new(next).map(|header| unsafe { Bucket::overflow_bucket::<K, V>(header) })
    }

    #[inline(always)]
    unsafe fn set_overflow(self, next: Option<Bucket>) {
        let next = next.map_or(ptr::null_mut(), |b| b.tophash.as_ptr().cast());
        // SAFETY: the caller guarantees the bucket is live and allocated.
        unsafe { *self.next.as_ptr() = next }
    }

    /// The bucket whose overflow allocation starts at `header`.
    #[inline(always)]
    unsafe fn overflow_bucket<K, V>(header: NonNull<OverflowHeader>) -> Bucket {
        // SAFETY: `header` starts an allocation of `OVERFLOW_LAYOUT`: the
        // header's fields, then the body at `OVERFLOW_BODY_AT`, inside it.
        unsafe {
            Bucket {
                tophash: header.cast(),
                next: NonNull::new_unchecked(&raw mut (*header.as_ptr()).next),
                body: header.cast::<u8>().add(Shape::<K, V>::OVERFLOW_BODY_AT),
            }
        }
    }

    #[inline(always)]
    unsafe fn key<K, V>(self, slot: usize) -> *mut K {
        // SAFETY: slot < 8 keeps the offset inside the body.
        unsafe {
            self.body
                .as_ptr()
                .add(slot * Shape::<K, V>::KEY_STRIDE)
                .cast()
        }
    }

    #[inline(always)]
    unsafe fn value<K, V>(self, slot: usize) -> *mut V {
        let offset = Shape::<K, V>::VALUES_AT + slot * Shape::<K, V>::VALUE_STRIDE;
        // SAFETY: slot < 8 keeps the offset inside the body.
        unsafe { self.body.as_ptr().add(offset).cast() }
    }

    fn same(self, other: Bucket) -> bool {
        self.tophash == other.tophash
    }
}

/// The three blocks of a bucket array. This type is the one place that
/// knows what a bucket takes in each — its bytes, its alignment, whether it
/// comes zeroed — and allocation, release, `clear` and `mem_stats` all ask
/// it, so they cannot disagree (when each wrote its own sizes, `clear`
/// zeroed 8 bytes of links a bucket, twice the block on a 32-bit target).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Part {
    /// One tophash word a bucket.
    Tophash,
    /// One overflow link a bucket.
    Links,
    /// One body (keys and values) a bucket.
    Bodies,
}

impl Part {
    const ALL: [Part; 3] = [Part::Tophash, Part::Links, Part::Bodies];

    /// Bytes one bucket takes in this part.
    const fn bucket_bytes<K, V>(self) -> usize {
        match self {
            Part::Tophash => size_of::<Group>(),
            Part::Links => size_of::<*mut OverflowHeader>(),
            Part::Bodies => Shape::<K, V>::BODY_SIZE,
        }
    }

    const fn align<K, V>(self) -> usize {
        match self {
            Part::Tophash => align_of::<Group>(),
            Part::Links => align_of::<*mut OverflowHeader>(),
            Part::Bodies => Shape::<K, V>::BODY_ALIGN,
        }
    }

    /// Whether the block is allocated zeroed (and zeroed again by `clear`):
    /// an all-zero tophash word is all `EMPTY_REST`, an all-zero link is
    /// null. Bodies are left uninitialised.
    const fn zeroed(self) -> bool {
        !matches!(self, Part::Bodies)
    }

    fn index(self) -> usize {
        self as usize
    }

    /// The layout of `buckets` buckets' worth of this part; `None` when
    /// that is zero bytes (zero-sized bodies).
    fn layout<K, V>(self, buckets: usize) -> Result<Option<Layout>, TryReserveError> {
        let size = buckets
            .checked_mul(self.bucket_bytes::<K, V>())
            .ok_or(TryReserveError::CapacityOverflow)?;
        if size == 0 {
            return Ok(None);
        }
        Layout::from_size_align(size, self.align::<K, V>())
            .map(Some)
            .map_err(|_| TryReserveError::CapacityOverflow)
    }
}

/// Bytes one primary bucket takes, all three parts together.
const fn primary_bucket_bytes<K, V>() -> usize {
    Part::Tophash.bucket_bytes::<K, V>()
        + Part::Links.bucket_bytes::<K, V>()
        + Part::Bodies.bucket_bytes::<K, V>()
}

/// One block of a bucket array: room for `held` buckets' worth of a part.
#[derive(Clone, Copy)]
struct Block {
    ptr: NonNull<u8>,
    held: usize,
}

/// An array of `2^log2` primary buckets in three blocks: the tophash words
/// (8 bytes a bucket, zeroed), the overflow links (a pointer a bucket,
/// zeroed) and the bodies. A lookup miss reads one word of the dense
/// tophash block; a link is read only when a bucket has no `EMPTY_REST`.
/// An old array gives all three back from the tail as its migration moves
/// down, so none of them is ever freed in one big call.
struct BucketArray {
    /// One block per `Part`, in `Part::ALL` order. Each holds `2^log2`
    /// buckets, except in an old array whose evacuated tail has been
    /// released: every bucket at or past a block's `held` is evacuated.
    /// Zero-sized bodies hold nothing.
    blocks: [Block; 3],
    /// `2^log2 - 1`, kept to save the shift on every lookup.
    mask: usize,
    /// `capacity_of(log2)`, kept for the check on every write; 0 when
    /// unallocated.
    capacity: usize,
    log2: u8,
    allocated: bool,
}

impl BucketArray {
    const fn unallocated() -> Self {
        let words = NonNull::from_ref(&UNALLOCATED.0).cast::<u64>();
        BucketArray {
            blocks: [
                Block {
                    ptr: words.cast(),
                    held: 0,
                },
                Block {
                    // SAFETY: the static has two words.
                    ptr: unsafe { words.add(1) }.cast(),
                    held: 0,
                },
                Block {
                    ptr: NonNull::dangling(),
                    held: 0,
                },
            ],
            mask: 0,
            capacity: 0,
            log2: 0,
            allocated: false,
        }
    }

    #[inline(always)]
    fn block(&self, part: Part) -> Block {
        self.blocks[part.index()]
    }

    #[inline(always)]
    fn buckets(&self) -> usize {
        self.mask + 1
    }

    #[inline(always)]
    fn mask(&self) -> usize {
        self.mask
    }

    /// The primary bucket at `index & mask`. Pointers are computed without
    /// touching memory, so it is fine to ask for a released bucket; using
    /// it is not.
    #[inline(always)]
    fn head<K, V>(&self, index: usize) -> Bucket {
        let index = index & self.mask();
        let at = |part: Part| {
            let ptr = self
                .block(part)
                .ptr
                .as_ptr()
                .wrapping_add(index * part.bucket_bytes::<K, V>());
            // SAFETY: a non-null block address plus an offset within (or,
            // for a released tail, just past) the block never wraps to null.
            unsafe { NonNull::new_unchecked(ptr) }
        };
        Bucket {
            tophash: at(Part::Tophash).cast(),
            next: at(Part::Links).cast(),
            body: at(Part::Bodies),
        }
    }

    /// Whether old bucket `index` has been moved to the new array.
    #[inline(always)]
    fn is_evacuated(&self, index: usize) -> bool {
        let index = index & self.mask();
        // SAFETY: below `held`, the tophash word is allocated.
        index >= self.block(Part::Tophash).held
            || unsafe { self.head::<(), ()>(index).tophash().get(0) == EVACUATED }
    }

    fn bytes<K, V>(&self) -> usize {
        if !self.allocated {
            return 0;
        }
        Part::ALL
            .iter()
            .map(|&part| self.block(part).held * part.bucket_bytes::<K, V>())
            .sum()
    }

    /// A copy of the pointers, for walking an array while `&mut` the table.
    fn shallow(&self) -> BucketArray {
        BucketArray { ..*self }
    }
}

/// A migration in progress from `old` to the table's current array.
struct MigrationState {
    kind: MigrationKind,
    old: BucketArray,
    /// Overflow buckets hanging off `old`.
    old_overflow: usize,
    /// Every old bucket at index `>= cursor` is evacuated.
    cursor: usize,
    /// Old buckets evacuated so far; the migration ends at `2^old.log2`.
    evacuated: usize,
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
    /// Migrations started so far, by `MigrationKind` (grow, compact, shrink).
    started: [u64; 3],
    /// Entries have left since the last grow, shrink or reserve: only then
    /// may a write start a shrink. (A map being filled after `reserve`, or
    /// growing, keeps its room; one that emptied shrinks on its next writes.)
    shrink_armed: bool,
    /// Calls made to the allocator (allocate, free, shrink in place): a
    /// cheap signal that `allocated_bytes` may have moved. A `Cell` so the
    /// `&self` helpers that call the allocator can count; every such call
    /// happens under `&mut self` further up (see the `Sync` impl).
    allocator_calls: Cell<u64>,
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
// SAFETY: `&RawTable` only hands out shared references to keys and values.
// Its one interior-mutable field, the `allocator_calls` cell, is written only
// by the helpers that call the allocator, and those run only inside methods
// that hold `&mut RawTable` (lookups, iteration and stats never allocate):
// two threads sharing `&RawTable` never write it, so it cannot race. The
// lent value `owned` may point at is only read through `&RawTable`.
unsafe impl<K: Sync, V: Sync, A: Allocator + Sync> Sync for RawTable<K, V, A> {}

/// The tophash of `hash`: its top byte, kept clear of the markers. (Go adds
/// `MIN_TOPHASH` to small values; clamping costs fewer instructions and
/// merges only 4 of 256 values.)
#[inline(always)]
fn tophash(hash: u64) -> u8 {
    ((hash >> 56) as u8).max(MIN_TOPHASH)
}

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

/// Start loading a bucket's body as soon as its index is known, before its
/// tophash word arrives: a hit in a big map then waits for one memory round
/// trip instead of two.
#[inline(always)]
fn prefetch(ptr: *const u8) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: a prefetch is only a hint; it never faults, whatever the address.
    unsafe {
        core::arch::x86_64::_mm_prefetch::<{ core::arch::x86_64::_MM_HINT_T0 }>(ptr.cast());
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = ptr;
}

/// Look for `top`/`eq` in the chain starting at `bucket`: `Ok` where it
/// is, or `Err` with — for a write (`NOTE_FREE`) — the chain's first free
/// slot, where the key goes if it is absent. Lookups pass `false`, and the
/// free-slot tracking compiles away.
///
/// # Safety
/// The chain must be live.
#[inline(always)]
unsafe fn search_chain<K, V, const NOTE_FREE: bool>(
    mut bucket: Bucket,
    top: u8,
    eq: &mut impl FnMut(&K) -> bool,
) -> Result<(Bucket, usize), Option<(Bucket, usize)>> {
    let mut free = None;
    loop {
        // SAFETY: the chain is live (caller), so are its buckets and slots.
        unsafe {
            let group = bucket.tophash();
            for slot in group.match_tophash(top) {
                if eq(&*bucket.key::<K, V>(slot)) {
                    return Ok((bucket, slot));
                }
            }
            if NOTE_FREE && free.is_none() {
                free = group.match_empty().lowest().map(|slot| (bucket, slot));
            }
            if group.has_empty_rest() {
                return Err(free);
            }
            match bucket.overflow::<K, V>() {
                Some(next) => bucket = next,
                None => return Err(free),
            }
        }
    }
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
            started: [0; 3],
            shrink_armed: false,
            allocator_calls: Cell::new(0),
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
            table.current = table.allocate_array(log2, 1 << log2)?;
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
        self.allocator_calls.get()
    }

    fn count_allocator_call(&self) {
        self.allocator_calls.set(self.allocator_calls.get() + 1);
    }

    /// Migrations started so far: grow, compact, shrink.
    pub(crate) fn migrations_started(&self) -> [u64; 3] {
        self.started
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

    // ----- owned bytes (see `owned.rs`) ---------------------------------

    /// Keeps owned bytes from now on, measuring every entry now (if that
    /// panics, the table keeps none and is unchanged).
    pub(crate) fn track_owned(&mut self, measure: Measure<K, V>) {
        self.owned = None;
        self.lent_any = false;
        let bytes = self.iter().map(|(k, v)| measure.entry(k, v)).sum();
        self.owned = Some(Owned::new(measure, bytes));
    }

    /// Stops keeping owned bytes.
    pub(crate) fn untrack_owned(&mut self) {
        self.owned = None;
        self.lent_any = false;
    }

    /// The owned bytes now (a lent value measured again), or `None` when
    /// they are not kept.
    pub(crate) fn owned_bytes(&self) -> Option<usize> {
        let owned = self.owned.as_ref()?;
        Some(match owned.lent {
            Lent::None => owned.bytes,
            Lent::One { value, before } => {
                // SAFETY: `owned.rs`'s invariant: a live value of this
                // table; `&self` means no `&mut` to it is alive.
                let now = (owned.measure.value)(unsafe { value.as_ref() });
                (owned.bytes + now).saturating_sub(before)
            }
            Lent::All => self.iter().map(|(k, v)| owned.measure.entry(k, v)).sum(),
        })
    }

    /// Measures the lent value(s) again: the first thing every method that
    /// may move or drop an entry does (and every lend).
    #[inline(always)]
    fn settle(&mut self) {
        if self.lent_any {
            self.settle_lent();
        }
    }

    #[cold]
    #[inline(never)]
    fn settle_lent(&mut self) {
        // Forget the loan first: a measure that panics leaves the value
        // counted at its size when lent, and the table usable.
        self.lent_any = false;
        let Some(owned) = &mut self.owned else {
            return;
        };
        match mem::replace(&mut owned.lent, Lent::None) {
            Lent::None => {}
            Lent::One { value, before } => {
                // SAFETY: `owned.rs`'s invariant: a live value of this
                // table, its `&mut` borrow over (we hold `&mut self`).
                let now = (owned.measure.value)(unsafe { value.as_ref() });
                owned.bytes = (owned.bytes + now).saturating_sub(before);
            }
            Lent::All => {
                let measure = owned.measure;
                let bytes = self.iter().map(|(k, v)| measure.entry(k, v)).sum();
                if let Some(owned) = &mut self.owned {
                    owned.bytes = bytes;
                }
            }
        }
    }

    /// `value` is about to be handed out as `&mut V`: remember it and its
    /// size now.
    ///
    /// # Safety
    /// `value` is a live value of this table, not borrowed now.
    #[inline]
    unsafe fn lend(&mut self, value: *mut V) {
        if self.owned.is_some() {
            // SAFETY: the caller's.
            unsafe { self.lend_slow(value) };
        }
    }

    /// # Safety
    /// As [`lend`](Self::lend).
    #[cold]
    #[inline(never)]
    unsafe fn lend_slow(&mut self, value: *mut V) {
        self.settle();
        let Some(owned) = &mut self.owned else {
            return;
        };
        let Some(value) = NonNull::new(value) else {
            return;
        };
        // SAFETY: the caller's: a live value of this table, not borrowed yet.
        let before = (owned.measure.value)(unsafe { value.as_ref() });
        owned.lent = Lent::One { value, before };
        self.lent_any = true;
    }

    /// Every value is about to be handed out mutably (`iter_mut`): measure
    /// them all at the next settle.
    fn lend_all(&mut self) {
        self.settle();
        if let Some(owned) = &mut self.owned {
            owned.lent = Lent::All;
            self.lent_any = true;
        }
    }

    /// An entry about to be placed: its bytes count from now (measured
    /// before anything moves; a measure that panics changes nothing).
    #[inline(always)]
    fn count_new(&mut self, key: &K, value: &V) {
        if self.owned.is_some() {
            self.count_new_slow(key, value);
        }
    }

    #[cold]
    #[inline(never)]
    fn count_new_slow(&mut self, key: &K, value: &V) {
        if let Some(owned) = &mut self.owned {
            owned.bytes += owned.measure.entry(key, value);
        }
    }

    /// The entry at `slot` of `bucket` is about to be taken out: its bytes
    /// stop counting (measured in place, before anything moves).
    ///
    /// # Safety
    /// The slot is full, in a live bucket of this table.
    #[inline(always)]
    unsafe fn count_gone(&mut self, bucket: Bucket, slot: usize) {
        if self.owned.is_some() {
            // SAFETY: the caller's.
            unsafe { self.count_gone_slow(bucket, slot) };
        }
    }

    /// # Safety
    /// As [`count_gone`](Self::count_gone).
    #[cold]
    #[inline(never)]
    unsafe fn count_gone_slow(&mut self, bucket: Bucket, slot: usize) {
        if let Some(owned) = &mut self.owned {
            // SAFETY: the caller's.
            let bytes = unsafe {
                owned
                    .measure
                    .entry(&*bucket.key::<K, V>(slot), &*bucket.value::<K, V>(slot))
            };
            owned.bytes = owned.bytes.saturating_sub(bytes);
        }
    }

    /// Every entry is about to go (`clear`, `reset`, `drain`).
    fn count_all_gone(&mut self) {
        if let Some(owned) = &mut self.owned {
            owned.bytes = 0;
            owned.lent = Lent::None;
        }
        self.lent_any = false;
    }

    // ----- allocation -------------------------------------------------

    /// Allocate a `2^log2` array whose parts hold `held` buckets (all of
    /// them, but for a copy of a partly released old array). Tophash words
    /// and links come zeroed: `EMPTY_REST`, no overflow.
    fn allocate_array(&self, log2: u8, held: usize) -> Result<BucketArray, TryReserveError> {
        let buckets = 1usize
            .checked_shl(log2.into())
            .filter(|&b| b < usize::MAX / 2)
            .ok_or(TryReserveError::CapacityOverflow)?;
        let mut array = BucketArray::unallocated();
        array.blocks[Part::Bodies.index()].ptr = Self::dangling_body();
        for part in Part::ALL {
            let layout = match part.layout::<K, V>(held) {
                Ok(Some(layout)) => layout,
                Ok(None) => continue,
                Err(e) => {
                    self.free_parts(&array);
                    return Err(e);
                }
            };
            self.count_allocator_call();
            let block = if part.zeroed() {
                self.alloc.allocate_zeroed(layout)
            } else {
                self.alloc.allocate(layout)
            };
            match block {
                Ok(block) => {
                    array.blocks[part.index()] = Block {
                        ptr: block.cast(),
                        held,
                    }
                }
                Err(_) => {
                    self.free_parts(&array);
                    return Err(TryReserveError::AllocError { layout });
                }
            }
        }
        array.mask = buckets - 1;
        array.capacity = capacity_of(log2);
        array.log2 = log2;
        array.allocated = true;
        Ok(array)
    }

    fn dangling_body() -> NonNull<u8> {
        // Zero-sized bodies still need an aligned, non-null address.
        let addr = ptr::without_provenance_mut::<u8>(Shape::<K, V>::BODY_ALIGN);
        // SAFETY: an alignment is never zero.
        unsafe { NonNull::new_unchecked(addr) }
    }

    /// Free the parts of `array` that hold anything (not its overflow buckets).
    fn free_parts(&self, array: &BucketArray) {
        for part in Part::ALL {
            let Block { ptr, held } = array.block(part);
            if held == 0 {
                continue;
            }
            if let Ok(Some(layout)) = part.layout::<K, V>(held) {
                self.count_allocator_call();
                // SAFETY: allocated by `allocate_array` with this layout, or
                // shrunk to it by `release_evacuated_tail`.
                unsafe { self.alloc.deallocate(ptr, layout) };
            }
        }
    }

    /// Free an array's blocks (not its overflow buckets).
    fn free_array(&self, array: BucketArray) {
        if array.allocated {
            self.free_parts(&array);
        }
    }

    fn allocate_overflow(&mut self) -> Bucket {
        let layout = Shape::<K, V>::OVERFLOW_LAYOUT;
        self.count_allocator_call();
        let header = match self.alloc.allocate(layout) {
            Ok(block) => block.cast::<OverflowHeader>(),
            Err(_) => handle_alloc_error(layout),
        };
        // SAFETY: a fresh block of OVERFLOW_LAYOUT begins with room for the
        // header.
        unsafe {
            header.as_ptr().write(OverflowHeader {
                tophash: Group::EMPTY,
                next: ptr::null_mut(),
            });
            Bucket::overflow_bucket::<K, V>(header)
        }
    }

    /// # Safety
    /// `bucket` is an overflow bucket of this table, unlinked, holding no entry.
    unsafe fn free_overflow(&self, bucket: Bucket) {
        self.count_allocator_call();
        // SAFETY: allocated by `allocate_overflow` with this layout.
        unsafe {
            self.alloc
                .deallocate(bucket.tophash.cast(), Shape::<K, V>::OVERFLOW_LAYOUT)
        }
    }

    // ----- lookups ----------------------------------------------------

    /// Find the entry for which `eq` holds among those with this hash.
    /// Moves nothing.
    #[inline(always)]
    fn find(&self, hash: u64, mut eq: impl FnMut(&K) -> bool) -> Option<(Bucket, usize)> {
        let top = tophash(hash);
        let head = self.current.head::<K, V>(hash as usize);
        prefetch(head.body.as_ptr());
        // SAFETY: every primary bucket of the current array is live.
        let found = unsafe { search_chain::<K, V, false>(head, top, &mut eq) }.ok();
        // Each key lives in exactly one place, so the order of the two
        // searches is free: the current array first keeps the common path
        // (no migration) free of any check.
        if found.is_none() && self.migration.is_some() {
            return self.find_in_old(hash, top, eq);
        }
        found
    }

    /// The old-array half of `find`, kept out of line: only lookups during a
    /// migration need it.
    #[cold]
    #[inline(never)]
    fn find_in_old(
        &self,
        hash: u64,
        top: u8,
        mut eq: impl FnMut(&K) -> bool,
    ) -> Option<(Bucket, usize)> {
        let head = self.live_old_bucket(hash)?;
        // SAFETY: `live_old_bucket` returns a bucket not evacuated: live.
        unsafe { search_chain::<K, V, false>(head, top, &mut eq) }.ok()
    }

    /// The old bucket `hash` maps to, if a migration runs and that bucket is
    /// not evacuated yet (so it and its chain are live).
    #[inline]
    fn live_old_bucket(&self, hash: u64) -> Option<Bucket> {
        let m = self.migration.as_ref()?;
        let index = hash as usize;
        (!m.old.is_evacuated(index)).then(|| m.old.head::<K, V>(index))
    }

    #[inline(always)]
    pub(crate) fn get(&self, hash: u64, eq: impl FnMut(&K) -> bool) -> Option<(&K, &V)> {
        let (bucket, slot) = self.find(hash, eq)?;
        // SAFETY: `find` returns a full slot of a live bucket.
        unsafe { Some((&*bucket.key::<K, V>(slot), &*bucket.value::<K, V>(slot))) }
    }

    #[inline]
    pub(crate) fn get_mut(
        &mut self,
        hash: u64,
        eq: impl FnMut(&K) -> bool,
    ) -> Option<(&K, &mut V)> {
        self.settle();
        let (bucket, slot) = self.find(hash, eq)?;
        // SAFETY: a full slot of a live bucket, borrowed through `&mut self`;
        // lent before the `&mut` to it is made.
        unsafe {
            let value = bucket.value::<K, V>(slot);
            self.lend(value);
            Some((&*bucket.key::<K, V>(slot), &mut *value))
        }
    }

    // ----- writes -----------------------------------------------------

    /// Look `hash`/`eq` up for writing. During a migration the write first
    /// advances the cursor twice (its share of the work, moved in order: the
    /// old array is read front to back, not at the key's random bucket), then
    /// looks in the key's old bucket if that is not evacuated yet: a key
    /// found there is updated (or removed) in place. A new key always goes to
    /// the current array.
    #[inline]
    pub(crate) fn entry(
        &mut self,
        hash: u64,
        mut eq: impl FnMut(&K) -> bool,
        hasher: impl Fn(&K) -> u64,
    ) -> RawEntry<'_, K, V, A> {
        self.settle();
        if self.migration.is_some() {
            if let Some((head, bucket, slot)) = self.entry_while_migrating(hash, &mut eq, &hasher) {
                return RawEntry::Occupied(RawOccupied {
                    table: self,
                    head,
                    bucket,
                    slot,
                    in_old: true,
                });
            }
        }
        let head = self.current.head::<K, V>(hash as usize);
        // SAFETY: every primary bucket of the current array is live.
        match unsafe { search_chain::<K, V, true>(head, tophash(hash), &mut eq) } {
            Ok((bucket, slot)) => RawEntry::Occupied(RawOccupied {
                table: self,
                head,
                bucket,
                slot,
                in_old: false,
            }),
            Err(free) => RawEntry::Vacant(RawVacant {
                table: self,
                hash,
                free,
            }),
        }
    }

    /// Remove the entry for `hash`/`eq`. During a migration a remove needs
    /// no evacuation to find its key (it may take it out of its old bucket
    /// in place), so its share of the work goes to the cursor: two old
    /// buckets, the same bound as any write, and a shrink that keeps pace
    /// with a map that keeps emptying.
    #[inline]
    pub(crate) fn remove(
        &mut self,
        hash: u64,
        mut eq: impl FnMut(&K) -> bool,
        hasher: impl Fn(&K) -> u64,
    ) -> Option<(K, V)> {
        self.settle();
        if self.migration.is_some() {
            if let Some(entry) = self.remove_while_migrating(hash, &mut eq, &hasher) {
                return Some(entry);
            }
        }
        let head = self.current.head::<K, V>(hash as usize);
        // SAFETY: every primary bucket of the current array is live; a
        // found slot is full and in that chain.
        unsafe {
            let (bucket, slot) = search_chain::<K, V, false>(head, tophash(hash), &mut eq).ok()?;
            self.count_gone(bucket, slot);
            Some(self.remove_at(head, bucket, slot))
        }
    }

    /// A write's migration half: two steps of the cursor, then the key's
    /// old bucket if that is not evacuated yet. Returns where the key sits
    /// in the old array (chain head, bucket, slot), if it does.
    #[inline(never)]
    fn entry_while_migrating(
        &mut self,
        hash: u64,
        eq: &mut impl FnMut(&K) -> bool,
        hasher: &impl Fn(&K) -> u64,
    ) -> Option<(Bucket, Bucket, usize)> {
        self.evacuate_next(hasher);
        if self.migration.is_some() {
            self.evacuate_next(hasher);
        }
        let head = self.live_old_bucket(hash)?;
        // SAFETY: a bucket not evacuated and its chain are live.
        let (bucket, slot) =
            unsafe { search_chain::<K, V, false>(head, tophash(hash), eq) }.ok()?;
        Some((head, bucket, slot))
    }

    /// `remove`'s migration half: `entry_while_migrating`, then the key is
    /// taken out of its old bucket in place.
    #[inline(never)]
    fn remove_while_migrating(
        &mut self,
        hash: u64,
        eq: &mut impl FnMut(&K) -> bool,
        hasher: &impl Fn(&K) -> u64,
    ) -> Option<(K, V)> {
        let (head, bucket, slot) = self.entry_while_migrating(hash, eq, hasher)?;
        // SAFETY: a full slot of a live old chain, found just now.
        unsafe {
            self.count_gone(bucket, slot);
            Some(self.remove_from_old(head, bucket, slot))
        }
    }

    /// Take an entry out of a live chain of the old array, freeing its
    /// overflow bucket if that empties.
    ///
    /// # Safety
    /// As for `take`, with the chain in the old array of the running
    /// migration.
    unsafe fn remove_from_old(&mut self, head: Bucket, bucket: Bucket, slot: usize) -> (K, V) {
        debug_assert!(
            self.migration.is_some(),
            "the old array exists only while migrating"
        );
        // SAFETY: forwarded from the caller.
        unsafe {
            let entry = self.take(head, bucket, slot);
            if self.unlink_if_empty(head, bucket) {
                *self.overflow_count(true) -= 1;
            }
            entry
        }
    }

    /// Insert a key known to be absent; returns where it went. `free` is the
    /// first free slot of its chain, found by `entry`, if still valid.
    #[inline]
    fn insert_new(
        &mut self,
        hash: u64,
        key: K,
        value: V,
        hasher: &impl Fn(&K) -> u64,
        mut free: Option<(Bucket, usize)>,
    ) -> (Bucket, usize) {
        self.count_new(&key, &value);
        if !self.current.allocated {
            self.current = self
                .allocate_array(self.min_log2, 1 << self.min_log2)
                .unwrap_or_else(|e| e.handle());
            free = None;
        } else if self.migration.is_none()
            && self.migration_may_be_due(self.len + 1)
            && self.start_migration_if_due(self.len + 1)
        {
            // This write's share of the new migration; the key is absent
            // from the old array, so it goes straight to the new one.
            self.evacuate_next(hasher);
            free = None;
        }
        let (bucket, slot) = match free {
            Some(free) => free,
            None => self.free_slot(hash),
        };
        // SAFETY: an empty slot of a live bucket of the current array.
        unsafe {
            bucket.key::<K, V>(slot).write(key);
            bucket.value::<K, V>(slot).write(value);
            bucket.set_slot(slot, tophash(hash));
        }
        self.len += 1;
        (bucket, slot)
    }

    /// The first free slot of `hash`'s chain in the current array, adding an
    /// overflow bucket when the chain is full. Filling the first free slot
    /// keeps `EMPTY_REST` true: every slot before it is full.
    fn free_slot(&mut self, hash: u64) -> (Bucket, usize) {
        let mut bucket = self.current.head::<K, V>(hash as usize);
        // SAFETY: the current array is allocated and its chains are live.
        unsafe {
            loop {
                if let Some(slot) = bucket.tophash().match_empty().lowest() {
                    return (bucket, slot);
                }
                match bucket.overflow::<K, V>() {
                    Some(next) => bucket = next,
                    None => {
                        let fresh = self.allocate_overflow();
                        bucket.set_overflow(Some(fresh));
                        self.overflow += 1;
                        return (fresh, 0);
                    }
                }
            }
        }
    }

    /// Take the entry at `slot` out of its chain, keeping `EMPTY_REST` true.
    ///
    /// # Safety
    /// `bucket` is in the live chain starting at `head`; `slot` is full.
    #[inline]
    unsafe fn take(&mut self, head: Bucket, bucket: Bucket, slot: usize) -> (K, V) {
        // SAFETY: a full slot of a live bucket (caller); it is marked empty
        // right after the read, so the entry is owned once.
        unsafe {
            let entry = (
                bucket.key::<K, V>(slot).read(),
                bucket.value::<K, V>(slot).read(),
            );
            mark_erased::<K, V>(head, bucket, slot);
            self.len -= 1;
            self.shrink_armed = true;
            entry
        }
    }

    /// Remove the entry at `slot` (see `take`), then give back its overflow
    /// bucket if that is now empty, and start a shrink if one is due.
    ///
    /// # Safety
    /// As for `take`, and the chain is in the current array.
    #[inline]
    unsafe fn remove_at(&mut self, head: Bucket, bucket: Bucket, slot: usize) -> (K, V) {
        // SAFETY: forwarded from the caller.
        let entry = unsafe { self.take(head, bucket, slot) };
        // SAFETY: the chain is live and in the current array.
        if unsafe { self.unlink_if_empty(head, bucket) } {
            self.overflow -= 1;
        }
        if self.migration.is_none() && self.migration_may_be_due(self.len) {
            self.start_migration_if_due(self.len);
        }
        entry
    }

    /// Free `bucket` if it is an overflow bucket with no entry left.
    /// Returns whether it did (the caller counts it off).
    ///
    /// # Safety
    /// `bucket` is in the live chain starting at `head`.
    #[inline]
    unsafe fn unlink_if_empty(&self, head: Bucket, bucket: Bucket) -> bool {
        // SAFETY: the chain is live (caller); `bucket` is found from `head`.
        unsafe {
            if bucket.same(head) || bucket.tophash().match_full().any() {
                return false;
            }
            let mut prev = head;
            loop {
                let next = prev.overflow::<K, V>().expect("bucket is in the chain");
                if next.same(bucket) {
                    break;
                }
                prev = next;
            }
            // An empty bucket holds nothing `EMPTY_REST` could promise about.
            prev.set_overflow(bucket.overflow::<K, V>());
            self.free_overflow(bucket);
            true
        }
    }

    /// Whether `start_migration_if_due` could start anything: a few
    /// comparisons, inlined into every write; a false positive (a shrink
    /// under `ShrinkPolicy::Never`) only costs the call.
    #[inline(always)]
    fn migration_may_be_due(&self, len: usize) -> bool {
        let capacity = self.current.capacity;
        len > capacity
            || self.overflow > self.current.mask
            || (len * SHRINK_DIVISOR < capacity && self.current.log2 > self.min_log2)
    }

    /// Start a migration if the table is due one with `len` entries:
    /// grow, compact or (under `ShrinkPolicy::Auto`) shrink. Returns whether
    /// one started. A shrink that cannot get memory is simply not started.
    #[cold]
    #[inline(never)]
    fn start_migration_if_due(&mut self, len: usize) -> bool {
        let log2 = self.current.log2;
        if len > capacity_of(log2) {
            let grown = self.allocate_array(log2 + 1, 1 << (log2 + 1));
            self.begin_migration(MigrationKind::Grow, grown.unwrap_or_else(|e| e.handle()));
        } else if self.overflow >= compact_threshold(log2) {
            let same = self.allocate_array(log2, 1 << log2);
            self.begin_migration(MigrationKind::Compact, same.unwrap_or_else(|e| e.handle()));
        } else if self.policy == ShrinkPolicy::Auto
            && self.shrink_armed
            && log2 > self.min_log2
            && len * SHRINK_DIVISOR < capacity_of(log2)
        {
            // Land at no more than half load, inside the hysteresis band.
            let target = log2_for(len.saturating_mul(2)).map_or(log2, |t| t.max(self.min_log2));
            if target >= log2 {
                return false;
            }
            match self.allocate_array(target, 1 << target) {
                Ok(smaller) => self.begin_migration(MigrationKind::Shrink, smaller),
                Err(_) => return false,
            }
        } else {
            return false;
        }
        true
    }

    fn begin_migration(&mut self, kind: MigrationKind, new: BucketArray) {
        debug_assert!(self.migration.is_none() && self.current.allocated);
        self.started[kind as usize] += 1;
        if kind != MigrationKind::Compact {
            self.shrink_armed = false;
        }
        let old = mem::replace(&mut self.current, new);
        let buckets = old.buckets();
        self.migration = Some(MigrationState {
            kind,
            old,
            old_overflow: mem::replace(&mut self.overflow, 0),
            cursor: buckets,
            evacuated: 0,
        });
    }

    /// Advance the cursor past up to `CURSOR_SKIP_LIMIT` buckets that are
    /// evacuated or empty, evacuate the next one, release the evacuated tail,
    /// and end the migration when every bucket is moved.
    fn evacuate_next(&mut self, hasher: &impl Fn(&K) -> u64) {
        let m = self.migration.as_mut().expect("migrating");
        let mut skips = CURSOR_SKIP_LIMIT;
        while m.cursor > 0 && skips > 0 {
            let index = m.cursor - 1;
            let head = m.old.head::<K, V>(index);
            // SAFETY: below the cursor, old buckets are allocated.
            let group = unsafe { head.tophash() };
            if group.get(0) == EVACUATED {
                m.cursor -= 1;
            } else if !group.match_full().any() && unsafe { head.overflow::<K, V>() }.is_none() {
                // SAFETY: as above; an empty bucket with no chain is
                // evacuated by marking it.
                unsafe { head.set_tophash(Group::repeat(EVACUATED)) };
                m.evacuated += 1;
                m.cursor -= 1;
            } else {
                break;
            }
            skips -= 1;
        }
        if skips > 0 && m.cursor > 0 {
            let index = m.cursor - 1;
            self.evacuate(index, hasher);
            self.migration.as_mut().expect("migrating").cursor -= 1;
        }
        self.release_evacuated_tail();
        let m = self.migration.as_ref().expect("migrating");
        if m.evacuated == m.old.buckets() {
            self.end_migration();
        }
    }

    /// Move every entry of old bucket `index` (and its chain) to the current
    /// array, then free the chain and mark the bucket `EVACUATED`.
    fn evacuate(&mut self, index: usize, hasher: &impl Fn(&K) -> u64) {
        let head = self
            .migration
            .as_ref()
            .expect("migrating")
            .old
            .head::<K, V>(index);
        // SAFETY: the old bucket is not evacuated, so it and its chain are
        // live; destination slots come from `free_slot`, empty and live.
        unsafe {
            let mut bucket = head;
            loop {
                // User code first: if a hash panics, nothing of this bucket
                // has moved yet (earlier buckets of the chain are moved and
                // their slots marked empty, so a chain can be split between
                // the two arrays — each key still in one place).
                let full = bucket.tophash().match_full();
                let mut hashes = [0u64; BUCKET_SLOTS];
                for slot in full {
                    hashes[slot] = hasher(&*bucket.key::<K, V>(slot));
                }
                for slot in full {
                    let hash = hashes[slot];
                    let (dst, dst_slot) = self.free_slot(hash);
                    ptr::copy_nonoverlapping(
                        bucket.key::<K, V>(slot),
                        dst.key::<K, V>(dst_slot),
                        1,
                    );
                    ptr::copy_nonoverlapping(
                        bucket.value::<K, V>(slot),
                        dst.value::<K, V>(dst_slot),
                        1,
                    );
                    dst.set_slot(dst_slot, tophash(hash));
                    // Moved: the old slot lets go of it before anything
                    // else can unwind (`free_slot` may call the allocator).
                    bucket.set_slot(slot, EMPTY_ONE);
                }
                match bucket.overflow::<K, V>() {
                    Some(next) => bucket = next,
                    None => break,
                }
            }
            let mut next = head.overflow::<K, V>();
            head.set_overflow(None);
            head.set_tophash(Group::repeat(EVACUATED));
            let mut freed = 0;
            while let Some(bucket) = next {
                next = bucket.overflow::<K, V>();
                self.free_overflow(bucket);
                freed += 1;
            }
            let m = self.migration.as_mut().expect("migrating");
            m.old_overflow -= freed;
            m.evacuated += 1;
        }
    }

    /// Give back the old array's evacuated tail (`>= cursor`), all three
    /// parts, once there is at least `RELEASE_CHUNK_BYTES` of it. Each part
    /// shrinks on its own; one the allocator will not shrink stays as it is.
    fn release_evacuated_tail(&mut self) {
        let m = self.migration.as_mut().expect("migrating");
        let per_bucket = primary_bucket_bytes::<K, V>();
        let held = m.old.block(Part::Tophash).held;
        if m.cursor == 0 || held <= m.cursor || (held - m.cursor) * per_bucket < RELEASE_CHUNK_BYTES
        {
            return;
        }
        for part in Part::ALL {
            let Block { ptr, held } = m.old.block(part);
            let (Ok(Some(old_layout)), Ok(Some(new_layout))) =
                (part.layout::<K, V>(held), part.layout::<K, V>(m.cursor))
            else {
                continue;
            };
            self.allocator_calls.set(self.allocator_calls.get() + 1);
            // SAFETY: the block has `old_layout`; the new one is smaller with
            // the same alignment; the buckets past the cursor are evacuated,
            // and nothing reads them but `is_evacuated`, which checks `held`.
            if let Ok(block) = unsafe { self.alloc.shrink(ptr, old_layout, new_layout) } {
                m.old.blocks[part.index()] = Block {
                    ptr: block.cast(),
                    held: m.cursor,
                };
            }
        }
    }

    fn end_migration(&mut self) {
        let m = self.migration.take().expect("migrating");
        debug_assert_eq!(m.old_overflow, 0);
        self.free_array(m.old);
    }

    /// Complete a running migration now.
    pub(crate) fn finish_migration(&mut self, hasher: impl Fn(&K) -> u64) {
        self.settle();
        while self.migration.is_some() {
            self.evacuate_next(&hasher);
        }
    }

    /// Make room for `additional` more entries without a grow; with
    /// `floor`, automatic shrinking will not go below that (the user asked
    /// for the room; `extend`'s own reservation does not set a floor). Allocates
    /// first, so on error nothing has changed; then finishes any running
    /// migration and starts one to the bigger array, which later writes
    /// complete (no stall here for a big table).
    pub(crate) fn try_reserve(
        &mut self,
        additional: usize,
        floor: bool,
        hasher: impl Fn(&K) -> u64,
    ) -> Result<(), TryReserveError> {
        self.settle();
        let wanted = self
            .len
            .checked_add(additional)
            .ok_or(TryReserveError::CapacityOverflow)?;
        let log2 = log2_for(wanted)?;
        if !self.current.allocated {
            if wanted > 0 {
                self.current = self.allocate_array(log2, 1 << log2)?;
                if floor {
                    self.min_log2 = log2;
                }
            }
            // Room asked for is room to fill: no shrink until entries leave.
            self.shrink_armed = false;
            return Ok(());
        }
        if log2 <= self.current.log2 {
            if floor {
                self.min_log2 = self.min_log2.max(log2);
            }
            // Room for a quarter of the array or more is room to fill (a
            // shrink would take it away); a small reserve (`extend` of a few
            // entries after `clear`) leaves a due shrink due.
            if wanted.saturating_mul(SHRINK_DIVISOR) >= self.current.capacity {
                self.shrink_armed = false;
            }
            return Ok(());
        }
        let bigger = self.allocate_array(log2, 1 << log2)?;
        // Finishing the migration runs `Hash`: free `bigger` if it panics.
        struct FreeOnUnwind<'a, K, V, A: Allocator> {
            table: &'a mut RawTable<K, V, A>,
            array: Option<BucketArray>,
        }
        impl<K, V, A: Allocator> Drop for FreeOnUnwind<'_, K, V, A> {
            fn drop(&mut self) {
                if let Some(array) = self.array.take() {
                    self.table.free_array(array);
                }
            }
        }
        let mut guard = FreeOnUnwind {
            table: self,
            array: Some(bigger),
        };
        guard.table.finish_migration(&hasher);
        let bigger = guard.array.take().expect("still held");
        if floor {
            guard.table.min_log2 = log2;
        }
        guard.table.begin_migration(MigrationKind::Grow, bigger);
        Ok(())
    }

    /// Finish any migration, then move to the smallest array that holds
    /// `max(len, min_capacity)` entries, with no overflow buckets if one
    /// rebuild can do it. Frees everything when that is zero.
    pub(crate) fn shrink_to(&mut self, min_capacity: usize, hasher: impl Fn(&K) -> u64) {
        self.finish_migration(&hasher);
        let wanted = self.len.max(min_capacity);
        if wanted == 0 {
            self.reset();
            return;
        }
        let Ok(log2) = log2_for(wanted) else { return };
        self.min_log2 = self.min_log2.min(log2);
        if !self.current.allocated || (log2 >= self.current.log2 && self.overflow == 0) {
            return;
        }
        let log2 = log2.min(self.current.log2);
        let kind = if log2 < self.current.log2 {
            MigrationKind::Shrink
        } else {
            MigrationKind::Compact
        };
        if let Ok(array) = self.allocate_array(log2, 1 << log2) {
            self.begin_migration(kind, array);
            self.finish_migration(&hasher);
        }
    }

    /// Drop every entry; keep the current array (std's and Go's `clear`).
    /// Overflow buckets and a migration's old array are freed.
    pub(crate) fn clear(&mut self) {
        self.shrink_armed = true;
        self.count_all_gone();
        self.drop_entries();
        self.free_overflow_and_old();
        if self.current.allocated {
            for part in Part::ALL.into_iter().filter(|part| part.zeroed()) {
                let Block { ptr, held } = self.current.block(part);
                // SAFETY: the current array's blocks hold `held` (= 2^log2)
                // buckets' worth of their part, exactly this many bytes;
                // all-zero is `EMPTY_REST` with no overflow.
                unsafe { ptr::write_bytes(ptr.as_ptr(), 0, held * part.bucket_bytes::<K, V>()) };
            }
        }
    }

    /// Drop every entry and free every byte now (Go's `m = make(...)`).
    pub(crate) fn reset(&mut self) {
        self.count_all_gone();
        self.drop_entries();
        self.free_all();
        self.min_log2 = 0;
    }

    /// Drop every entry, each marked empty before it is dropped. If a drop
    /// panics, the rest are still dropped while unwinding (a second panic
    /// aborts, as with a `Vec`), so none leaks and none is dropped twice.
    fn drop_entries(&mut self) {
        /// Drops what the loop did not reach when unwinding.
        struct DropRest<'a, K, V, A: Allocator> {
            table: &'a mut RawTable<K, V, A>,
            slots: iter::RawSlots<K, V>,
        }
        impl<K, V, A: Allocator> DropRest<'_, K, V, A> {
            fn drop_next(&mut self) -> bool {
                let Some((bucket, slot)) = self.slots.next_slot() else {
                    return false;
                };
                // SAFETY: a full slot of a live bucket, marked empty before
                // its entry is read out and dropped: owned exactly once.
                // `EMPTY_ONE` never breaks `EMPTY_REST`.
                unsafe {
                    bucket.set_slot(slot, EMPTY_ONE);
                    self.table.len -= 1;
                    drop((
                        bucket.key::<K, V>(slot).read(),
                        bucket.value::<K, V>(slot).read(),
                    ));
                }
                true
            }
        }
        impl<K, V, A: Allocator> Drop for DropRest<'_, K, V, A> {
            fn drop(&mut self) {
                while self.drop_next() {}
            }
        }
        if mem::needs_drop::<K>() || mem::needs_drop::<V>() {
            let slots = iter::RawSlots::new(self);
            let mut rest = DropRest { table: self, slots };
            while rest.drop_next() {}
        }
        self.len = 0;
    }

    /// Free every overflow bucket and the old array, leaving the current
    /// array's primary buckets. Entries must have been dropped.
    fn free_overflow_and_old(&mut self) {
        if self.migration.is_some() {
            self.free_chains(true);
            let m = self.migration.take().expect("migrating");
            self.free_array(m.old);
        }
        self.free_chains(false);
    }

    fn free_all(&mut self) {
        self.free_overflow_and_old();
        let current = mem::replace(&mut self.current, BucketArray::unallocated());
        self.free_array(current);
    }

    /// Free the overflow buckets of every chain of the old (`in_old`) or
    /// current array.
    fn free_chains(&mut self, in_old: bool) {
        let array = self.array(in_old);
        let mut index = 0;
        // Chains hang only off buckets not evacuated, all below every `held`.
        while *self.overflow_count(in_old) > 0 && index < array.block(Part::Links).held {
            let head = array.head::<K, V>(index);
            // SAFETY: links of an allocated array are live (a nonzero count
            // implies allocated); each overflow bucket is read before it is
            // freed.
            unsafe {
                let mut next = head.overflow::<K, V>();
                head.set_overflow(None);
                while let Some(bucket) = next {
                    next = bucket.overflow::<K, V>();
                    self.free_overflow(bucket);
                    *self.overflow_count(in_old) -= 1;
                }
            }
            index += 1;
        }
    }

    /// Keep the entries for which `keep` returns true. Removes in place
    /// (no migration work); gives back emptied overflow buckets and may
    /// start a shrink.
    pub(crate) fn retain(&mut self, mut keep: impl FnMut(&K, &mut V) -> bool) {
        // `keep` sees every value mutably: measure them all again after it
        // (also if it panics: the next settle does).
        self.lend_all();
        self.shrink_armed = true;
        if self.migration.is_some() {
            self.retain_array(true, &mut keep);
        }
        self.retain_array(false, &mut keep);
        if self.migration.is_none() && self.current.allocated {
            self.start_migration_if_due(self.len);
        }
        self.settle();
    }

    /// The old (`in_old`) or current array, as a copy of its pointers.
    fn array(&self, in_old: bool) -> BucketArray {
        match &self.migration {
            Some(m) if in_old => m.old.shallow(),
            _ => self.current.shallow(),
        }
    }

    /// The overflow bucket count of the old (`in_old`) or current array.
    /// Counted in place, never in a local, so a panic cannot lose a change.
    fn overflow_count(&mut self, in_old: bool) -> &mut usize {
        match &mut self.migration {
            Some(m) if in_old => &mut m.old_overflow,
            _ => &mut self.overflow,
        }
    }

    fn retain_array(&mut self, in_old: bool, keep: &mut impl FnMut(&K, &mut V) -> bool) {
        let array = self.array(in_old);
        if !array.allocated {
            return;
        }
        for index in 0..array.buckets() {
            if array.is_evacuated(index) {
                continue;
            }
            let head = array.head::<K, V>(index);
            let mut bucket = Some(head);
            // SAFETY: a bucket not evacuated and its chain are live; the
            // next bucket is read before the current one may be freed.
            unsafe {
                while let Some(b) = bucket {
                    for slot in b.tophash().match_full() {
                        if !keep(&*b.key::<K, V>(slot), &mut *b.value::<K, V>(slot)) {
                            drop(self.take(head, b, slot));
                        }
                    }
                    bucket = b.overflow::<K, V>();
                    if self.unlink_if_empty(head, b) {
                        *self.overflow_count(in_old) -= 1;
                    }
                }
            }
        }
    }

    pub(crate) fn iter(&self) -> RawIter<'_, K, V> {
        RawIter::new(self)
    }

    pub(crate) fn iter_mut(&mut self) -> RawIterMut<'_, K, V> {
        self.lend_all();
        RawIterMut::new(self)
    }

    pub(crate) fn drain(&mut self) -> RawDrain<'_, K, V, A> {
        self.count_all_gone();
        RawDrain::new(self)
    }

    pub(crate) fn into_iter(self) -> RawIntoIter<K, V, A> {
        RawIntoIter::new(self)
    }
}

/// Mark `slot` empty, turning a trailing run of empties into `EMPTY_REST`
/// (Go's `mapdelete` tail).
///
/// # Safety
/// `bucket` is in the live chain starting at `head`; `slot < 8`.
#[inline]
unsafe fn mark_erased<K, V>(head: Bucket, bucket: Bucket, slot: usize) {
    // SAFETY: all buckets touched are in the live chain (caller).
    unsafe {
        let rest_is_empty = if slot == BUCKET_SLOTS - 1 {
            bucket
                .overflow::<K, V>()
                .is_none_or(|next| next.tophash().get(0) == EMPTY_REST)
        } else {
            bucket.tophash().get(slot + 1) == EMPTY_REST
        };
        if !rest_is_empty {
            bucket.set_slot(slot, EMPTY_ONE);
            return;
        }
        let (mut bucket, mut slot) = (bucket, slot);
        loop {
            bucket.set_slot(slot, EMPTY_REST);
            if slot == 0 {
                if bucket.same(head) {
                    return;
                }
                let last = bucket;
                bucket = head;
                while let Some(next) = bucket.overflow::<K, V>().filter(|n| !n.same(last)) {
                    bucket = next;
                }
                slot = BUCKET_SLOTS - 1;
            } else {
                slot -= 1;
            }
            if bucket.tophash().get(slot) != EMPTY_ONE {
                return;
            }
        }
    }
}

impl<K, V, A: Allocator> Drop for RawTable<K, V, A> {
    fn drop(&mut self) {
        /// Frees the memory even if dropping an entry panics.
        struct FreeOnDrop<'a, K, V, A: Allocator>(&'a mut RawTable<K, V, A>);
        impl<K, V, A: Allocator> Drop for FreeOnDrop<'_, K, V, A> {
            fn drop(&mut self) {
                self.0.free_all();
            }
        }
        let guard = FreeOnDrop(self);
        guard.0.drop_entries();
    }
}

impl<K: Clone, V: Clone, A: Allocator + Clone> Clone for RawTable<K, V, A> {
    /// A copy with the same structure: same arrays, chains, migration
    /// state and slot positions, so no hasher is needed.
    fn clone(&self) -> Self {
        let mut copy = Self::new_in(self.alloc.clone());
        copy.min_log2 = self.min_log2;
        copy.policy = self.policy;
        copy.started = self.started;
        copy.shrink_armed = self.shrink_armed;
        copy.allocator_calls = Cell::new(self.allocator_calls());
        copy.owned = self
            .owned
            .as_ref()
            .map(|o| Owned::new(o.measure, self.owned_bytes().unwrap_or(0)));
        copy.lent_any = false;
        if !self.current.allocated {
            return copy;
        }
        copy.current = copy
            .allocate_array(self.current.log2, self.current.buckets())
            .unwrap_or_else(|e| e.handle());
        if let Some(m) = &self.migration {
            let old = copy
                .allocate_array(m.old.log2, m.old.block(Part::Tophash).held)
                .unwrap_or_else(|e| e.handle());
            copy.migration = Some(MigrationState {
                kind: m.kind,
                old,
                old_overflow: 0,
                cursor: m.cursor,
                evacuated: m.evacuated,
            });
            copy.clone_array(&m.old, true);
        }
        copy.clone_array(&self.current, false);
        copy
    }
}

impl<K: Clone, V: Clone, A: Allocator> RawTable<K, V, A> {
    /// Copy every chain of `from` into the same places of this table's old
    /// (`into_old`) or current array, freshly allocated with the same shape.
    /// Entries and overflow buckets are counted as they are added, so a
    /// panic in `clone` leaves a copy that drops cleanly.
    fn clone_array(&mut self, from: &BucketArray, into_old: bool) {
        let to = self.array(into_old);
        for index in 0..from.buckets() {
            // SAFETY: `from` is live where not evacuated; `to` was just
            // allocated with the same shape. A slot of the copy is marked
            // full only once both clones succeeded.
            unsafe {
                if from.is_evacuated(index) {
                    if !to.is_evacuated(index) {
                        to.head::<K, V>(index).set_tophash(Group::repeat(EVACUATED));
                    }
                    continue;
                }
                let (mut src, mut dst) = (from.head::<K, V>(index), to.head::<K, V>(index));
                loop {
                    let group = src.tophash();
                    for slot in group.match_full() {
                        let key = (*src.key::<K, V>(slot)).clone();
                        let value = (*src.value::<K, V>(slot)).clone();
                        dst.key::<K, V>(slot).write(key);
                        dst.value::<K, V>(slot).write(value);
                        dst.set_slot(slot, group.get(slot));
                        self.len += 1;
                    }
                    dst.set_tophash(group);
                    let Some(next) = src.overflow::<K, V>() else {
                        break;
                    };
                    let fresh = self.allocate_overflow();
                    dst.set_overflow(Some(fresh));
                    *self.overflow_count(into_old) += 1;
                    (src, dst) = (next, fresh);
                }
            }
        }
    }
}

/// A found entry, borrowed for writing.
pub(crate) struct RawOccupied<'a, K, V, A: Allocator> {
    table: &'a mut RawTable<K, V, A>,
    head: Bucket,
    bucket: Bucket,
    slot: usize,
    /// The chain is in the old array (a migration runs, the key's old bucket
    /// is not evacuated yet).
    in_old: bool,
}

/// A key known to be absent, with its hash, borrowed for inserting.
pub(crate) struct RawVacant<'a, K, V, A: Allocator> {
    table: &'a mut RawTable<K, V, A>,
    hash: u64,
    /// The first free slot of the key's chain, if it has one.
    free: Option<(Bucket, usize)>,
}

pub(crate) enum RawEntry<'a, K, V, A: Allocator> {
    Occupied(RawOccupied<'a, K, V, A>),
    Vacant(RawVacant<'a, K, V, A>),
}

impl<'a, K, V, A: Allocator> RawOccupied<'a, K, V, A> {
    pub(crate) fn key(&self) -> &K {
        // SAFETY: the slot is full and the table borrowed for 'a.
        unsafe { &*self.bucket.key::<K, V>(self.slot) }
    }

    pub(crate) fn get(&self) -> &V {
        // SAFETY: as in `key`.
        unsafe { &*self.bucket.value::<K, V>(self.slot) }
    }

    pub(crate) fn get_mut(&mut self) -> &mut V {
        // SAFETY: as in `key`, with the table borrowed mutably; lent before
        // the `&mut` to it is made.
        unsafe {
            let value = self.bucket.value::<K, V>(self.slot);
            self.table.lend(value);
            &mut *value
        }
    }

    pub(crate) fn into_mut(self) -> &'a mut V {
        // SAFETY: as in `get_mut`, for the whole borrow.
        unsafe {
            let value = self.bucket.value::<K, V>(self.slot);
            self.table.lend(value);
            &mut *value
        }
    }

    /// Swap in a new value, returning the old one (measured directly, no
    /// loan: the new value before anything changes, so a measure that
    /// panics changes nothing).
    pub(crate) fn replace_value(&mut self, value: V) -> V {
        self.table.settle();
        if let Some(owned) = &mut self.table.owned {
            let new = (owned.measure.value)(&value);
            // SAFETY: as in `key`.
            let old = (owned.measure.value)(unsafe { &*self.bucket.value::<K, V>(self.slot) });
            owned.bytes = (owned.bytes + new).saturating_sub(old);
        }
        // SAFETY: as in `get_mut`.
        unsafe { ptr::replace(self.bucket.value::<K, V>(self.slot), value) }
    }

    /// Swap in a new key (for `HashSet::replace` and `Entry::insert_entry`).
    pub(crate) fn replace_key(&mut self, key: K) -> K {
        if let Some(owned) = &mut self.table.owned {
            // SAFETY: as in `key`.
            let old = (owned.measure.key)(unsafe { &*self.bucket.key::<K, V>(self.slot) });
            let new = (owned.measure.key)(&key);
            owned.bytes = (owned.bytes + new).saturating_sub(old);
        }
        // SAFETY: as in `get_mut`; the caller's key is equal, so the slot
        // and tophash stay right.
        unsafe { ptr::replace(self.bucket.key::<K, V>(self.slot), key) }
    }

    #[inline]
    pub(crate) fn remove(self) -> (K, V) {
        // A lent value (this one, through `get_mut`) is measured first.
        self.table.settle();
        // SAFETY: the slot is full, in the live chain at `head`, of the
        // array `in_old` names; the table was borrowed since it was found.
        unsafe {
            self.table.count_gone(self.bucket, self.slot);
            if self.in_old {
                self.table
                    .remove_from_old(self.head, self.bucket, self.slot)
            } else {
                self.table.remove_at(self.head, self.bucket, self.slot)
            }
        }
    }
}

impl<'a, K, V, A: Allocator> RawVacant<'a, K, V, A> {
    #[inline]
    pub(crate) fn insert(self, key: K, value: V, hasher: impl Fn(&K) -> u64) -> (&'a K, &'a mut V) {
        let (bucket, slot) = self
            .table
            .insert_new(self.hash, key, value, &hasher, self.free);
        // SAFETY: just written; the table stays borrowed for 'a; lent
        // before the `&mut` to it is made.
        unsafe {
            let value = bucket.value::<K, V>(slot);
            self.table.lend(value);
            (&*bucket.key::<K, V>(slot), &mut *value)
        }
    }

    /// Insert, handing nothing out (no loan to measure again).
    #[inline]
    pub(crate) fn insert_value(self, key: K, value: V, hasher: impl Fn(&K) -> u64) {
        self.table
            .insert_new(self.hash, key, value, &hasher, self.free);
    }

    /// Insert and keep the entry borrowed as occupied.
    pub(crate) fn insert_entry(
        self,
        key: K,
        value: V,
        hasher: impl Fn(&K) -> u64,
    ) -> RawOccupied<'a, K, V, A> {
        let (bucket, slot) = self
            .table
            .insert_new(self.hash, key, value, &hasher, self.free);
        let head = self.table.current.head::<K, V>(self.hash as usize);
        RawOccupied {
            table: self.table,
            head,
            bucket,
            slot,
            in_old: false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use allocator_api2::alloc::Global;
    use core::hash::BuildHasher;

    /// Old buckets that still hold something: what a write could move.
    fn loaded_old_buckets<K, V>(table: &RawTable<K, V, Global>) -> Option<Vec<usize>> {
        let m = table.migration.as_ref()?;
        let loaded = (0..m.old.buckets())
            .filter(|&i| !m.old.is_evacuated(i))
            .filter(|&i| {
                let head = m.old.head::<K, V>(i);
                // SAFETY: not evacuated, so live.
                unsafe { head.tophash().match_full().any() || head.overflow::<K, V>().is_some() }
            })
            .collect();
        Some(loaded)
    }

    /// How many of `loaded` (old buckets that held entries) are evacuated now.
    fn evacuated_since<K, V>(table: &RawTable<K, V, Global>, loaded: &[usize]) -> usize {
        table.migration.as_ref().map_or(loaded.len(), |m| {
            loaded.iter().filter(|&&i| m.old.is_evacuated(i)).count()
        })
    }

    #[test]
    fn writes_move_at_most_two_loaded_old_buckets_in_grow_and_shrink() {
        let state = foldhash::fast::FixedState::with_seed(1);
        let hasher = |k: &u64| state.hash_one(k);
        let mut table = RawTable::<u64, u64, Global>::new_in(Global);
        let (mut grows, mut shrinks) = (0, 0);
        let step = |table: &mut RawTable<u64, u64, Global>, key: u64, insert: bool| {
            let before = loaded_old_buckets(table);
            let kind = table.migration.as_ref().map(|m| m.kind);
            let hash = hasher(&key);
            if insert {
                match table.entry(hash, |k| *k == key, hasher) {
                    RawEntry::Vacant(v) => drop(v.insert(key, key, hasher)),
                    RawEntry::Occupied(_) => panic!("{key} inserted twice"),
                }
            } else {
                assert_eq!(table.remove(hash, |k| *k == key, hasher), Some((key, key)));
            }
            if let Some(before) = before {
                let moved = evacuated_since(table, &before);
                assert!(
                    moved <= 2,
                    "{kind:?}: one write moved {moved} loaded buckets"
                );
            }
            kind
        };
        for key in 0..20_000 {
            grows += usize::from(step(&mut table, key, true) == Some(MigrationKind::Grow));
        }
        for key in 0..20_000 {
            shrinks += usize::from(step(&mut table, key, false) == Some(MigrationKind::Shrink));
        }
        assert!(
            grows > 1000 && shrinks > 1000,
            "grows {grows}, shrinks {shrinks}"
        );
        assert_eq!(table.len(), 0);
        assert!(
            table.current.log2 <= 1,
            "shrunk back to {} buckets",
            table.current.buckets()
        );
    }

    #[test]
    fn reads_never_move_anything() {
        let state = foldhash::fast::FixedState::with_seed(2);
        let hasher = |k: &u64| state.hash_one(k);
        let mut table = RawTable::<u64, u64, Global>::new_in(Global);
        for key in 0..1000u64 {
            let hash = hasher(&key);
            if let RawEntry::Vacant(v) = table.entry(hash, |k| *k == key, hasher) {
                v.insert(key, key, hasher);
            }
            if table.migration.is_some() {
                let before = (loaded_old_buckets(&table), table.mem_stats());
                for probe in 0..=key + 10 {
                    let found = table.get(hasher(&probe), |k| *k == probe).map(|(_, v)| *v);
                    assert_eq!(found, (probe <= key).then_some(probe));
                }
                assert!(before == (loaded_old_buckets(&table), table.mem_stats()));
            }
        }
    }

    #[test]
    fn capacity_follows_go_over_load_factor() {
        // Go: grow when count > 8 && count > 6.5 * 2^B.
        assert_eq!(capacity_of(0), 8);
        assert_eq!(capacity_of(1), 13);
        assert_eq!(capacity_of(2), 26);
        assert_eq!(capacity_of(10), 6656);
        assert_eq!(log2_for(0).unwrap(), 0);
        assert_eq!(log2_for(8).unwrap(), 0);
        assert_eq!(log2_for(9).unwrap(), 1);
        assert_eq!(log2_for(6657).unwrap(), 11);
        assert!(log2_for(usize::MAX).is_err());
    }

    #[test]
    fn pairs_only_without_padding() {
        assert_eq!(Shape::<u64, u64>::KEY_STRIDE, 16); // paired: k0 v0 k1 v1 …
        assert_eq!(Shape::<u64, u64>::BODY_SIZE, 128);
        assert_eq!(Shape::<u8, u64>::KEY_STRIDE, 1); // split: keys together
                                                     // Split: 8 one-byte keys, then 8 values aligned to 8.
        assert_eq!(Shape::<u8, u64>::VALUES_AT, 8);
        assert_eq!(Shape::<u8, u64>::BODY_SIZE, 72);
        assert_eq!(Shape::<(), ()>::BODY_SIZE, 0);
        // Tophash word, then the link, padded to the word's alignment.
        assert_eq!(
            size_of::<OverflowHeader>(),
            round_up(
                size_of::<Group>() + size_of::<*mut u8>(),
                align_of::<Group>()
            )
        );
    }

    #[test]
    fn tophash_never_collides_with_markers() {
        for top in 0..=255u64 {
            assert!(tophash(top << 56) >= MIN_TOPHASH);
        }
    }
}
