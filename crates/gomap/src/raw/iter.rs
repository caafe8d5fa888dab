//! Iteration: every entry exactly once, also in the middle of a migration.
//!
//! A walk visits the old array's buckets that are not evacuated, then every
//! bucket of the current array; each key lives in exactly one of those
//! places, and nothing can move while an iterator borrows the table. Like
//! Go, each walk starts at a random bucket and a random slot offset, so no
//! caller can come to depend on an order.

use super::{Bucket, BucketArray, RawTable};
use allocator_api2::alloc::Allocator;
use core::cell::Cell;
use core::hash::BuildHasher;
use core::iter::FusedIterator;
use core::marker::PhantomData;

/// A fresh random number per call, from a per-thread generator (wyrand)
/// seeded from foldhash's per-process random seed.
fn random() -> u64 {
    thread_local! {
        static STATE: Cell<u64> = Cell::new(foldhash::fast::RandomState::default().hash_one(0u64));
    }
    STATE.with(|state| {
        let s = state.get().wrapping_add(0xa076_1d64_78bd_642f);
        state.set(s);
        let t = u128::from(s) * u128::from(s ^ 0xe703_7ed1_a0b4_28db);
        (t as u64) ^ ((t >> 64) as u64)
    })
}

/// One array's primary buckets, visited from a random start, wrapping.
struct ArrayWalk {
    array: BucketArray,
    /// Skip evacuated buckets (set for the old array of a migration).
    old: bool,
    start: usize,
    visited: usize,
}

/// The position of a walk over every full slot of a table. Holds raw
/// pointers only; the wrappers below tie it to a borrow or an owned table.
pub(super) struct RawSlots<K, V> {
    walks: [Option<ArrayWalk>; 2],
    /// The bucket being read, with its full slots not yet handed out
    /// (rotated by `offset`).
    bucket: Option<Bucket>,
    pending: super::group::BitMask,
    offset: usize,
    /// Entries not yet handed out; the walk stops at zero.
    remaining: usize,
    marker: PhantomData<(K, V)>,
}

impl<K, V> RawSlots<K, V> {
    pub(super) fn new<A: Allocator>(table: &RawTable<K, V, A>) -> Self {
        let r = random();
        let walk = |array: &BucketArray, old| {
            array.allocated.then(|| ArrayWalk {
                array: array.shallow(),
                old,
                start: r as usize & array.mask(),
                visited: 0,
            })
        };
        RawSlots {
            walks: [
                table.migration.as_ref().and_then(|m| walk(&m.old, true)),
                walk(&table.current, false),
            ],
            bucket: None,
            pending: super::group::BitMask(0),
            offset: (r >> 56) as usize % super::BUCKET_SLOTS,
            remaining: table.len,
            marker: PhantomData,
        }
    }

    /// The next primary bucket to read, or `None` at the end.
    fn next_head(&mut self) -> Option<Bucket> {
        for walk in self.walks.iter_mut().flatten() {
            while walk.visited < walk.array.buckets() {
                let index = (walk.start + walk.visited) & walk.array.mask();
                walk.visited += 1;
                if !(walk.old && walk.array.is_evacuated(index)) {
                    return Some(walk.array.head::<K, V>(index));
                }
            }
        }
        None
    }

    /// The next full slot. The table must be live and unchanged since
    /// `new`, except for slots this walk handed out being marked empty.
    pub(super) fn next_slot(&mut self) -> Option<(Bucket, usize)> {
        loop {
            if self.remaining == 0 {
                return None;
            }
            if let Some(rotated) = self.pending.next() {
                self.remaining -= 1;
                let slot = (rotated + self.offset) % super::BUCKET_SLOTS;
                return Some((self.bucket.expect("pending slots have a bucket"), slot));
            }
            // SAFETY: the table is live (caller); the current bucket's
            // chain and the next primary bucket are live.
            let next = match self.bucket {
                Some(bucket) => unsafe { bucket.overflow::<K, V>() },
                None => None,
            };
            let bucket = match next {
                Some(next) => next,
                None => self.next_head()?,
            };
            self.bucket = Some(bucket);
            // SAFETY: as above.
            self.pending = unsafe { bucket.tophash() }.match_full().rotate(self.offset);
        }
    }

    fn len(&self) -> usize {
        self.remaining
    }
}

impl<K, V> Clone for RawSlots<K, V> {
    fn clone(&self) -> Self {
        let walk = |w: &Option<ArrayWalk>| {
            w.as_ref().map(|w| ArrayWalk {
                array: w.array.shallow(),
                ..*w
            })
        };
        RawSlots {
            walks: [walk(&self.walks[0]), walk(&self.walks[1])],
            bucket: self.bucket,
            pending: self.pending,
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

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.slots.len(), Some(self.slots.len()))
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

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.slots.len(), Some(self.slots.len()))
    }
}

/// Move the entry at `slot` out of the table, marking it empty first.
///
/// # Safety
/// `slot` is full, in a live bucket of `table`.
unsafe fn take_out<K, V, A: Allocator>(
    table: &mut RawTable<K, V, A>,
    bucket: Bucket,
    slot: usize,
) -> (K, V) {
    // SAFETY: forwarded; `EMPTY_ONE` never breaks `EMPTY_REST`, and the
    // table's `len` stays equal to its full slots.
    unsafe {
        bucket.set_slot(slot, super::EMPTY_ONE);
        table.len -= 1;
        (
            bucket.key::<K, V>(slot).read(),
            bucket.value::<K, V>(slot).read(),
        )
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
        unsafe { Some(take_out(self.table, bucket, slot)) }
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
        unsafe { Some(take_out(&mut self.table, bucket, slot)) }
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
