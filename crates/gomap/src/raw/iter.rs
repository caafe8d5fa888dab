//! Iteration: every entry exactly once, also in the middle of a migration.
//!
//! A walk visits the old array's buckets that are not evacuated, then every
//! bucket of the current array; each key lives in exactly one of those
//! places, and nothing can move while an iterator borrows the table. Like
//! Go, a walk starts at a random bucket and a random slot offset, so no
//! caller can come to depend on an order — but, unlike Go, the start is
//! drawn once per table (when its array is allocated, see
//! `RawTable::iter_seed`), not per walk: two walks of an unchanged table
//! agree, as std's do, and different maps still differ.

use super::bucket::{Bucket, BucketArray};
use super::group::BitMask;
use super::{ArrayId, RawTable};
use allocator_api2::alloc::Allocator;
use core::hash::BuildHasher;
use core::iter::FusedIterator;
use core::marker::PhantomData;

/// A fresh random number per call: a table's iteration seed. Each foldhash
/// `RandomState` has a seed of its own (from a per-thread or, without
/// `std`, a global counter mixed with an address) on top of the
/// per-process random seed, so no global state of ours is needed.
pub(super) fn random_seed() -> u64 {
    foldhash::fast::RandomState::default().hash_one(0u64)
}

/// One array's primary buckets, visited from a random start, wrapping.
struct ArrayWalk {
    array: BucketArray,
    /// Skip evacuated buckets (set for the old array of a migration).
    old: bool,
    /// The next bucket is `next & mask`; the walk ends at `end`.
    next: usize,
    end: usize,
}

impl ArrayWalk {
    fn new(array: &BucketArray, old: bool, start: usize) -> Self {
        let (next, end) = if array.allocated {
            (
                start & array.mask(),
                (start & array.mask()) + array.buckets(),
            )
        } else {
            (0, 0)
        };
        ArrayWalk {
            array: array.shallow(),
            old,
            next,
            end,
        }
    }

    fn clone(&self) -> Self {
        ArrayWalk {
            array: self.array.shallow(),
            ..*self
        }
    }
}

/// The position of a walk over every full slot of a table. Holds raw
/// pointers only; the wrappers below tie it to a borrow or an owned table.
pub(super) struct RawSlots<K, V> {
    /// The old array (when migrating), then the current one.
    walks: [ArrayWalk; 2],
    /// Index into `walks`.
    walk: usize,
    /// The bucket being read; before the first, a static empty one.
    bucket: Bucket,
    /// Its full slots not yet handed out, rotated by `offset`.
    pending: BitMask,
    /// It has an `EMPTY_REST` slot: its chain holds nothing further.
    chain_ends: bool,
    offset: usize,
    /// Entries not yet handed out; the walk stops at zero.
    remaining: usize,
    marker: PhantomData<(K, V)>,
}

impl<K, V> RawSlots<K, V> {
    pub(super) fn new<A: Allocator>(table: &RawTable<K, V, A>) -> Self {
        let r = table.iter_seed;
        let old = match &table.migration {
            Some(m) => ArrayWalk::new(&m.old, true, r as usize),
            None => ArrayWalk::new(&BucketArray::unallocated(), true, 0),
        };
        RawSlots {
            walks: [old, ArrayWalk::new(&table.current, false, r as usize)],
            walk: 0,
            bucket: BucketArray::unallocated().head::<K, V>(0),
            pending: BitMask(0),
            chain_ends: true,
            offset: (r >> 56) as usize % super::BUCKET_SLOTS,
            remaining: table.len,
            marker: PhantomData,
        }
    }

    /// A walk over nothing (the iterators' `Default`).
    fn empty() -> Self {
        let nothing = || ArrayWalk::new(&BucketArray::unallocated(), false, 0);
        RawSlots {
            walks: [nothing(), nothing()],
            walk: 0,
            bucket: BucketArray::unallocated().head::<K, V>(0),
            pending: BitMask(0),
            chain_ends: true,
            offset: 0,
            remaining: 0,
            marker: PhantomData,
        }
    }

    /// The next full slot. The table must be live and unchanged since
    /// `new`, except for slots this walk handed out being marked empty.
    #[inline]
    pub(super) fn next_slot(&mut self) -> Option<(Bucket, usize)> {
        if self.remaining == 0 {
            return None;
        }
        loop {
            if let Some(rotated) = self.pending.lowest() {
                self.pending.0 &= self.pending.0 - 1;
                self.remaining -= 1;
                return Some((self.bucket, (rotated + self.offset) % super::BUCKET_SLOTS));
            }
            if !self.advance() {
                return None;
            }
        }
    }

    /// Every slot not yet handed out, folded into `init` in the order
    /// `next_slot` would give them: the same walk without its per-slot
    /// bookkeeping (no count of what remains, no return to the loop after
    /// each slot), for `fold` and everything built on it (`sum`,
    /// `for_each`, `extend`, …). The table must be live and unchanged since
    /// `new`.
    #[inline]
    pub(super) fn fold_slots<B>(self, init: B, mut f: impl FnMut(B, Bucket, usize) -> B) -> B {
        let offset = self.offset;
        // A chain from `bucket` on, whose first bucket's full slots not yet
        // handed out are `pending`.
        let mut chain = |mut acc: B, mut bucket: Bucket, mut pending: BitMask, mut ends: bool| loop {
            for rotated in pending {
                acc = f(acc, bucket, (rotated + offset) % super::BUCKET_SLOTS);
            }
            if ends {
                return acc;
            }
            // SAFETY: the table is live (caller), and so is this chain.
            unsafe {
                match bucket.overflow::<K, V>() {
                    Some(next) => bucket = next,
                    None => return acc,
                }
                let group = bucket.tophash();
                ends = group.has_empty_rest();
                pending = group.match_full().rotate(offset);
            }
        };
        let mut acc = chain(init, self.bucket, self.pending, self.chain_ends);
        for walk in &self.walks[self.walk..] {
            let mask = walk.array.mask();
            for i in walk.next..walk.end {
                let index = i & mask;
                if walk.old && walk.array.is_evacuated(index) {
                    continue;
                }
                let head = walk.array.head::<K, V>(index);
                // SAFETY: a primary bucket of a live array, not evacuated.
                let group = unsafe { head.tophash() };
                acc = chain(
                    acc,
                    head,
                    group.match_full().rotate(offset),
                    group.has_empty_rest(),
                );
            }
        }
        acc
    }

    /// Move to the next bucket: along the chain, else the next primary
    /// bucket of the walk. False at the end. A bucket with an `EMPTY_REST`
    /// slot has nothing after it in its chain, so its link is not read.
    #[inline]
    fn advance(&mut self) -> bool {
        // SAFETY: the table is live (caller); the current bucket's chain
        // (or the static empty bucket) and every primary bucket handed out
        // by `next_head` are live.
        unsafe {
            let next = if self.chain_ends {
                None
            } else {
                self.bucket.overflow::<K, V>()
            };
            self.bucket = match next {
                Some(next) => next,
                None => match self.next_head() {
                    Some(head) => head,
                    None => return false,
                },
            };
            let group = self.bucket.tophash();
            self.chain_ends = group.has_empty_rest();
            self.pending = group.match_full().rotate(self.offset);
        }
        true
    }

    /// The next primary bucket to read, skipping evacuated old buckets.
    fn next_head(&mut self) -> Option<Bucket> {
        while self.walk < self.walks.len() {
            let walk = &mut self.walks[self.walk];
            while walk.next < walk.end {
                let index = walk.next & walk.array.mask();
                walk.next += 1;
                if !(walk.old && walk.array.is_evacuated(index)) {
                    return Some(walk.array.head::<K, V>(index));
                }
            }
            self.walk += 1;
        }
        None
    }

    fn len(&self) -> usize {
        self.remaining
    }

    /// The array of the slot `next_slot` handed out last.
    pub(super) fn array(&self) -> ArrayId {
        if self.walk == 0 {
            ArrayId::Old
        } else {
            ArrayId::Current
        }
    }
}

impl<K, V> Clone for RawSlots<K, V> {
    fn clone(&self) -> Self {
        RawSlots {
            walks: [self.walks[0].clone(), self.walks[1].clone()],
            walk: self.walk,
            bucket: self.bucket,
            pending: self.pending,
            chain_ends: self.chain_ends,
            offset: self.offset,
            remaining: self.remaining,
            marker: PhantomData,
        }
    }
}

/// Shared references to every entry.
pub(crate) struct RawIter<'a, K, V> {
    slots: RawSlots<K, V>,
    marker: PhantomData<&'a (K, V)>,
}

impl<'a, K, V> RawIter<'a, K, V> {
    pub(super) fn new<A: Allocator>(table: &'a RawTable<K, V, A>) -> Self {
        RawIter {
            slots: RawSlots::new(table),
            marker: PhantomData,
        }
    }
}

impl<'a, K, V> Iterator for RawIter<'a, K, V> {
    type Item = (&'a K, &'a V);

    #[inline]
    fn next(&mut self) -> Option<Self::Item> {
        let (bucket, slot) = self.slots.next_slot()?;
        // SAFETY: a full slot of the table borrowed shared for 'a.
        unsafe { Some((&*bucket.key::<K, V>(slot), &*bucket.value::<K, V>(slot))) }
    }

    #[inline]
    fn fold<B, F: FnMut(B, Self::Item) -> B>(self, init: B, mut f: F) -> B {
        self.slots.fold_slots(init, |acc, bucket, slot| {
            // SAFETY: a full slot of the table borrowed shared for 'a.
            let item = unsafe { (&*bucket.key::<K, V>(slot), &*bucket.value::<K, V>(slot)) };
            f(acc, item)
        })
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.slots.len(), Some(self.slots.len()))
    }
}

impl<K, V> Default for RawIter<'_, K, V> {
    fn default() -> Self {
        RawIter {
            slots: RawSlots::empty(),
            marker: PhantomData,
        }
    }
}

impl<K, V> Default for RawIterMut<'_, K, V> {
    fn default() -> Self {
        RawIterMut {
            slots: RawSlots::empty(),
            marker: PhantomData,
        }
    }
}

impl<K, V, A: Allocator + Default> Default for RawIntoIter<K, V, A> {
    fn default() -> Self {
        RawIntoIter::new(RawTable::new_in(A::default()))
    }
}

impl<K, V> Clone for RawIter<'_, K, V> {
    fn clone(&self) -> Self {
        RawIter {
            slots: self.slots.clone(),
            marker: PhantomData,
        }
    }
}

/// Shared keys and mutable values of every entry.
pub(crate) struct RawIterMut<'a, K, V> {
    slots: RawSlots<K, V>,
    marker: PhantomData<(&'a K, &'a mut V)>,
}

impl<'a, K, V> RawIterMut<'a, K, V> {
    pub(super) fn new<A: Allocator>(table: &'a mut RawTable<K, V, A>) -> Self {
        RawIterMut {
            slots: RawSlots::new(table),
            marker: PhantomData,
        }
    }

    /// The entries not yet visited, as shared references.
    pub(crate) fn rest(&self) -> RawIter<'_, K, V> {
        RawIter {
            slots: self.slots.clone(),
            marker: PhantomData,
        }
    }
}

impl<'a, K, V> Iterator for RawIterMut<'a, K, V> {
    type Item = (&'a K, &'a mut V);

    #[inline]
    fn next(&mut self) -> Option<Self::Item> {
        let (bucket, slot) = self.slots.next_slot()?;
        // SAFETY: a full slot of the table borrowed mutably for 'a; each
        // slot is handed out once, so the `&mut V`s never alias.
        unsafe { Some((&*bucket.key::<K, V>(slot), &mut *bucket.value::<K, V>(slot))) }
    }

    #[inline]
    fn fold<B, F: FnMut(B, Self::Item) -> B>(self, init: B, mut f: F) -> B {
        self.slots.fold_slots(init, |acc, bucket, slot| {
            // SAFETY: a full slot of the table borrowed mutably for 'a; each
            // slot is handed out once, so the `&mut V`s never alias.
            let item = unsafe { (&*bucket.key::<K, V>(slot), &mut *bucket.value::<K, V>(slot)) };
            f(acc, item)
        })
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.slots.len(), Some(self.slots.len()))
    }
}

/// Removes every entry, handing each out; on drop the rest are dropped and
/// the table is cleared (keeping its array). If the `RawDrain` is leaked,
/// the table keeps what was not handed out: nothing is dropped twice.
pub(crate) struct RawDrain<'a, K, V, A: Allocator> {
    table: &'a mut RawTable<K, V, A>,
    slots: RawSlots<K, V>,
}

impl<'a, K, V, A: Allocator> RawDrain<'a, K, V, A> {
    pub(super) fn new(table: &'a mut RawTable<K, V, A>) -> Self {
        let slots = RawSlots::new(table);
        RawDrain { table, slots }
    }

    pub(crate) fn rest(&self) -> RawIter<'_, K, V> {
        RawIter {
            slots: self.slots.clone(),
            marker: PhantomData,
        }
    }
}

impl<K, V, A: Allocator> Iterator for RawDrain<'_, K, V, A> {
    type Item = (K, V);

    #[inline]
    fn next(&mut self) -> Option<(K, V)> {
        let (bucket, slot) = self.slots.next_slot()?;
        // SAFETY: a full slot of the table, not handed out before.
        unsafe { Some(self.table.take_out(self.slots.array(), bucket, slot)) }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.slots.len(), Some(self.slots.len()))
    }
}

impl<K, V, A: Allocator> Drop for RawDrain<'_, K, V, A> {
    fn drop(&mut self) {
        self.table.clear();
    }
}

/// Owns the table and moves every entry out of it; dropping it drops the
/// rest with the table.
pub(crate) struct RawIntoIter<K, V, A: Allocator> {
    slots: RawSlots<K, V>,
    table: RawTable<K, V, A>,
}

impl<K, V, A: Allocator> RawIntoIter<K, V, A> {
    pub(super) fn new(table: RawTable<K, V, A>) -> Self {
        RawIntoIter {
            slots: RawSlots::new(&table),
            table,
        }
    }

    pub(crate) fn rest(&self) -> RawIter<'_, K, V> {
        RawIter {
            slots: self.slots.clone(),
            marker: PhantomData,
        }
    }
}

impl<K, V, A: Allocator> Iterator for RawIntoIter<K, V, A> {
    type Item = (K, V);

    #[inline]
    fn next(&mut self) -> Option<(K, V)> {
        let (bucket, slot) = self.slots.next_slot()?;
        // SAFETY: a full slot of the owned table, not handed out before.
        unsafe { Some(self.table.take_out(self.slots.array(), bucket, slot)) }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.slots.len(), Some(self.slots.len()))
    }
}

macro_rules! exact_and_fused {
    ($($t:ty),*) => {$(
        impl<K, V, A: Allocator> ExactSizeIterator for $t {}
        impl<K, V, A: Allocator> FusedIterator for $t {}
    )*};
}
exact_and_fused!(RawDrain<'_, K, V, A>, RawIntoIter<K, V, A>);
impl<K, V> ExactSizeIterator for RawIter<'_, K, V> {}
impl<K, V> FusedIterator for RawIter<'_, K, V> {}
impl<K, V> ExactSizeIterator for RawIterMut<'_, K, V> {}
impl<K, V> FusedIterator for RawIterMut<'_, K, V> {}

// SAFETY: these behave like `&'a (K, V)` / `(&K, &mut V)` / owned `(K, V)`.
unsafe impl<K: Sync, V: Sync> Send for RawIter<'_, K, V> {}
unsafe impl<K: Sync, V: Sync> Sync for RawIter<'_, K, V> {}
unsafe impl<K: Sync, V: Send> Send for RawIterMut<'_, K, V> {}
unsafe impl<K: Sync, V: Sync> Sync for RawIterMut<'_, K, V> {}
unsafe impl<K: Send, V: Send, A: Allocator + Send> Send for RawDrain<'_, K, V, A> {}
unsafe impl<K: Sync, V: Sync, A: Allocator + Sync> Sync for RawDrain<'_, K, V, A> {}
unsafe impl<K: Send, V: Send, A: Allocator + Send> Send for RawIntoIter<K, V, A> {}
unsafe impl<K: Sync, V: Sync, A: Allocator + Sync> Sync for RawIntoIter<K, V, A> {}

impl<K, V, A: Allocator> RawTable<K, V, A> {
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
