//! Buckets and chains: a bucket as a triple of pointers ([`Bucket`]), the
//! array of primary buckets in three blocks ([`BucketArray`]), and the walks
//! along an overflow chain — the search every lookup and write runs
//! ([`search_chain`]) and the `EMPTY_REST` bookkeeping of a removal
//! ([`mark_erased`]).

use super::group::Group;
use super::layout::{Block, OverflowHeader, Part, Shape};
use super::tophash::Tophash;
use super::BUCKET_SLOTS;
use core::ptr::{self, NonNull};

/// What the unallocated table points at: one tophash word, all
/// `EMPTY_REST`, and one null overflow link, laid out as an allocated
/// one-bucket array is, so lookups in an empty map need no branch. Never
/// written.
pub(super) struct StaticMetas([u64; 2]);
pub(super) static UNALLOCATED: StaticMetas = StaticMetas([0, 0]);

/// One bucket, primary or overflow: where its tophash word, its overflow
/// link and its body are.
///
/// A `Bucket` is a plain triple of pointers: making one is safe, using it
/// is not, so every accessor is an `unsafe fn` whose `# Safety` says what
/// its caller must know (a *live* bucket: its array or allocation not
/// freed, and for writes not the static `UNALLOCATED`).
#[derive(Clone, Copy)]
pub(super) struct Bucket {
    pub(super) tophash: NonNull<Group>,
    pub(super) next: NonNull<*mut OverflowHeader>,
    pub(super) body: NonNull<u8>,
}

impl Bucket {
    /// The bucket's tophash word.
    ///
    /// # Safety
    /// The bucket is live.
    #[inline(always)]
    pub(super) unsafe fn tophash(self) -> Group {
        // SAFETY: the caller guarantees the bucket is live.
        unsafe { *self.tophash.as_ptr() }
    }

    /// # Safety
    /// The bucket is live and allocated (not the static `UNALLOCATED`).
    #[inline(always)]
    pub(super) unsafe fn set_tophash(self, group: Group) {
        // SAFETY: the caller guarantees the bucket is live and not the
        // static `UNALLOCATED` (only allocated tables are written).
        unsafe { *self.tophash.as_ptr() = group }
    }

    /// Write one slot's tophash byte: one byte store, not a
    /// read-modify-write of the word.
    ///
    /// # Safety
    /// As for [`set_tophash`](Self::set_tophash), and `slot < BUCKET_SLOTS`.
    #[inline(always)]
    pub(super) unsafe fn set_slot(self, slot: usize, byte: Tophash) {
        // Slot `i` is the word's byte `i` counted from its least
        // significant end (see `group.rs`).
        let at = if cfg!(target_endian = "little") {
            slot
        } else {
            BUCKET_SLOTS - 1 - slot
        };
        // SAFETY: as for `set_tophash`; `slot < 8` keeps the byte inside
        // the word.
        unsafe { *self.tophash.cast::<u8>().as_ptr().add(at) = byte.0 }
    }

    /// Write one slot's tophash byte as a read-modify-write of the whole
    /// word: for a bucket whose word is read again right away (a migration
    /// filling its destination, one entry after another), where after a
    /// byte store that read would wait for the store to reach the cache
    /// instead of being forwarded (measured: growing to 1e5 keys 1.29×
    /// hashbrown's time this way, 1.51× with byte stores).
    ///
    /// # Safety
    /// As for [`set_slot`](Self::set_slot).
    #[inline(always)]
    pub(super) unsafe fn set_slot_in_word(self, slot: usize, byte: Tophash) {
        // SAFETY: as for `tophash` and `set_tophash`.
        unsafe { self.set_tophash(self.tophash().with(slot, byte)) }
    }

    /// The next bucket of the chain.
    ///
    /// # Safety
    /// The bucket is live, and its table's buckets hold `(K, V)`.
    #[inline(always)]
    pub(super) unsafe fn overflow<K, V>(self) -> Option<Bucket> {
        // SAFETY: the caller guarantees the bucket is live.
        let next = unsafe { *self.next.as_ptr() };
        // SAFETY: a non-null link always points at a live overflow bucket
        // of the same table, allocated with `(K, V)`'s layout.
        NonNull::new(next).map(|header| unsafe { Bucket::overflow_bucket::<K, V>(header) })
    }

    /// Link `next` (an overflow bucket, or none) after this one.
    ///
    /// # Safety
    /// The bucket is live and allocated; `next`, if any, is an overflow
    /// bucket of the same table.
    #[inline(always)]
    pub(super) unsafe fn set_overflow(self, next: Option<Bucket>) {
        let next = next.map_or(ptr::null_mut(), |b| b.tophash.as_ptr().cast());
        // SAFETY: the caller guarantees the bucket is live and allocated.
        unsafe { *self.next.as_ptr() = next }
    }

    /// The bucket whose overflow allocation starts at `header`.
    ///
    /// # Safety
    /// `header` starts a live allocation of `Shape::<K, V>::OVERFLOW_LAYOUT`.
    #[inline(always)]
    pub(super) unsafe fn overflow_bucket<K, V>(header: NonNull<OverflowHeader>) -> Bucket {
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

    /// Where key `slot` is (read or write it only if the slot is full, or
    /// being filled).
    ///
    /// # Safety
    /// The bucket is live, holds `(K, V)`, and `slot < BUCKET_SLOTS`.
    #[inline(always)]
    pub(super) unsafe fn key<K, V>(self, slot: usize) -> *mut K {
        // SAFETY: slot < 8 keeps the offset inside the body.
        unsafe {
            self.body
                .as_ptr()
                .add(slot * Shape::<K, V>::KEY_STRIDE)
                .cast()
        }
    }

    /// Where value `slot` is; as [`key`](Self::key).
    ///
    /// # Safety
    /// As for [`key`](Self::key).
    #[inline(always)]
    pub(super) unsafe fn value<K, V>(self, slot: usize) -> *mut V {
        let offset = Shape::<K, V>::VALUES_AT + slot * Shape::<K, V>::VALUE_STRIDE;
        // SAFETY: slot < 8 keeps the offset inside the body.
        unsafe { self.body.as_ptr().add(offset).cast() }
    }

    pub(super) fn same(self, other: Bucket) -> bool {
        self.tophash == other.tophash
    }

    /// Ask for the body and the overflow link of a primary bucket about to
    /// be searched, before its tophash word arrives: a hit then waits for
    /// one memory round trip instead of two, and so does a search that
    /// reads the link (a bucket with no `EMPTY_REST` slot; the links sit in
    /// their own array). Measured at 1e7 keys: misses 1.72-1.90x
    /// hashbrown's time with the body alone, 1.53-1.68x with the link too;
    /// see the essay for the body's share.
    #[inline(always)]
    pub(super) fn prefetch(self) {
        prefetch(self.body.as_ptr());
        prefetch(self.next.as_ptr().cast());
    }
}

/// An array of `2^log2` primary buckets in three blocks: the tophash words
/// (8 bytes a bucket, zeroed), the overflow links (a pointer a bucket,
/// zeroed) and the bodies. A lookup miss reads one word of the dense
/// tophash block; a link is read only when a bucket has no `EMPTY_REST`.
/// An old array gives all three back from the tail as its migration moves
/// down, so none of them is ever freed in one big call.
pub(super) struct BucketArray {
    /// One block per `Part`, in `Part::ALL` order. Each holds `2^log2`
    /// buckets, except in an old array whose evacuated tail has been
    /// released: every bucket at or past a block's `held` is evacuated.
    /// Zero-sized bodies hold nothing.
    pub(super) blocks: [Block; 3],
    /// `2^log2 - 1`, kept to save the shift on every lookup.
    pub(super) mask: usize,
    /// `capacity_of(log2)`, kept for the check on every write; 0 when
    /// unallocated.
    pub(super) capacity: usize,
    pub(super) log2: u8,
    pub(super) allocated: bool,
}

impl BucketArray {
    pub(super) const fn unallocated() -> Self {
        // SAFETY: a reference is never null. (`NonNull::from_ref` says the
        // same without `unsafe`, but is const only from Rust 1.89.)
        let words = unsafe { NonNull::new_unchecked(ptr::addr_of!(UNALLOCATED.0).cast_mut()) }
            .cast::<u64>();
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
    pub(super) fn block(&self, part: Part) -> Block {
        self.blocks[part.index()]
    }

    #[inline(always)]
    pub(super) fn buckets(&self) -> usize {
        self.mask + 1
    }

    #[inline(always)]
    pub(super) fn mask(&self) -> usize {
        self.mask
    }

    /// The primary bucket at `index & mask`. Pointers are computed without
    /// touching memory, so it is fine to ask for a released bucket; using
    /// it is not.
    #[inline(always)]
    pub(super) fn head<K, V>(&self, index: usize) -> Bucket {
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
    pub(super) fn is_evacuated(&self, index: usize) -> bool {
        let index = index & self.mask();
        // SAFETY: below `held`, the tophash word is allocated.
        index >= self.block(Part::Tophash).held
            || unsafe { self.head::<(), ()>(index).tophash().get(0) == Tophash::EVACUATED }
    }

    pub(super) fn bytes<K, V>(&self) -> usize {
        if !self.allocated {
            return 0;
        }
        Part::ALL
            .iter()
            .map(|&part| self.block(part).held * part.bucket_bytes::<K, V>())
            .sum()
    }

    /// A copy of the pointers, for walking an array while `&mut` the table.
    pub(super) fn shallow(&self) -> BucketArray {
        BucketArray { ..*self }
    }
}

/// Start loading a bucket's body as soon as its index is known, before its
/// tophash word arrives: a hit in a big map then waits for one memory round
/// trip instead of two.
#[inline(always)]
pub(super) fn prefetch(ptr: *const u8) {
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
pub(super) unsafe fn search_chain<K, V, const NOTE_FREE: bool>(
    mut bucket: Bucket,
    top: Tophash,
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

/// Mark `slot` empty, turning a trailing run of empties into `EMPTY_REST`
/// (Go's `mapdelete` tail).
///
/// # Safety
/// `bucket` is in the live chain starting at `head`; `slot < 8`.
#[inline]
pub(super) unsafe fn mark_erased<K, V>(head: Bucket, bucket: Bucket, slot: usize) {
    // SAFETY: all buckets touched are in the live chain (caller).
    unsafe {
        let rest_is_empty = if slot == BUCKET_SLOTS - 1 {
            bucket
                .overflow::<K, V>()
                .is_none_or(|next| next.tophash().get(0) == Tophash::EMPTY_REST)
        } else {
            bucket.tophash().get(slot + 1) == Tophash::EMPTY_REST
        };
        if !rest_is_empty {
            bucket.set_slot(slot, Tophash::EMPTY_ONE);
            return;
        }
        let (mut bucket, mut slot) = (bucket, slot);
        loop {
            bucket.set_slot(slot, Tophash::EMPTY_REST);
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
            if bucket.tophash().get(slot) != Tophash::EMPTY_ONE {
                return;
            }
        }
    }
}
