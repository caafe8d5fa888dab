//! Parallel walks for rayon (feature `rayon`): every full slot of a table,
//! split into ranges of primary buckets that rayon's threads walk at once.
//!
//! A walk covers two spans: the old array's buckets not yet evacuated
//! (during a migration) and every bucket of the current array — the same
//! places the serial walk of `iter.rs` visits, and each key lives in
//! exactly one of them. A span splits in half by primary bucket, and a
//! bucket's overflow chain always goes with its primary bucket, so the
//! ranges of two producers never share a bucket: every entry is handed out
//! exactly once, and the only writes (the drain's `EMPTY_ONE` marks) touch
//! buckets no other thread reads. Nothing else moves while a walk runs: it
//! borrows the table for as long as any producer lives.
//!
//! Draining in parallel cannot keep `len` and the migration's counts right
//! from many threads, so it does not try: each producer marks a slot
//! `EMPTY_ONE` before it reads the entry out (as `take_out` does), and when
//! the drive ends — by return or unwinding — [`RawParDrain`]'s drop runs
//! the table's ordinary `clear`, which drops every entry still marked full
//! (those a consumer stopped short of or a panic left behind) and resets
//! `len`, the old array and the chains. So nothing leaks and nothing is
//! dropped twice, whatever the consumer does.

use super::bucket::{Bucket, BucketArray};
use super::layout::Part;
use super::tophash::Tophash;
use super::RawTable;
use allocator_api2::alloc::Allocator;
use core::marker::PhantomData;
use core::ops::ControlFlow;
use rayon::iter::plumbing::{bridge_unindexed, Folder, UnindexedConsumer, UnindexedProducer};

/// Primary buckets `start..end` of one array.
struct Span {
    array: BucketArray,
    /// The old array of a migration: pass over evacuated buckets.
    old: bool,
    start: usize,
    end: usize,
}

impl Span {
    /// Every primary bucket of `array` that may hold entries: all of them,
    /// but for an old array only those below its released tail (every
    /// bucket at or past the tophash block's `held` is evacuated).
    fn whole(array: &BucketArray, old: bool) -> Self {
        let end = match (array.allocated, old) {
            (false, _) => 0,
            (true, false) => array.buckets(),
            (true, true) => array.buckets().min(array.block(Part::Tophash).held),
        };
        Span {
            array: array.shallow(),
            old,
            start: 0,
            end,
        }
    }

    fn empty() -> Self {
        Span::whole(&BucketArray::unallocated(), false)
    }

    fn len(&self) -> usize {
        self.end - self.start
    }

    fn split_at(self, mid: usize) -> (Span, Span) {
        let right = Span {
            array: self.array.shallow(),
            old: self.old,
            start: mid,
            end: self.end,
        };
        (Span { end: mid, ..self }, right)
    }
}

/// Where one producer walks: a range of the old array, then one of the
/// current array (either may be empty). Raw pointers only; the producers
/// below tie it to a borrow of the table.
struct ParSlots<K, V> {
    spans: [Span; 2],
    marker: PhantomData<(K, V)>,
}

impl<K, V> ParSlots<K, V> {
    fn new<A: Allocator>(table: &RawTable<K, V, A>) -> Self {
        let old = match &table.migration {
            Some(m) => Span::whole(&m.old, true),
            None => Span::empty(),
        };
        ParSlots {
            spans: [old, Span::whole(&table.current, false)],
            marker: PhantomData,
        }
    }

    fn of(spans: [Span; 2]) -> Self {
        ParSlots {
            spans,
            marker: PhantomData,
        }
    }

    /// Two halves covering the same buckets, or `self` alone when it has a
    /// single bucket left: the old array's range from the current one's,
    /// else one range cut in the middle.
    fn split(self) -> (Self, Option<Self>) {
        let [old, current] = self.spans;
        match (old.len(), current.len()) {
            (0, 0 | 1) | (1, 0) => (Self::of([old, current]), None),
            (0, n) => {
                let mid = current.start + n / 2;
                let (left, right) = current.split_at(mid);
                (
                    Self::of([Span::empty(), left]),
                    Some(Self::of([Span::empty(), right])),
                )
            }
            (n, 0) => {
                let mid = old.start + n / 2;
                let (left, right) = old.split_at(mid);
                (
                    Self::of([left, Span::empty()]),
                    Some(Self::of([right, Span::empty()])),
                )
            }
            _ => (
                Self::of([old, Span::empty()]),
                Some(Self::of([Span::empty(), current])),
            ),
        }
    }

    /// Folds every full slot of the ranges into `acc` until `f` breaks.
    /// The table must be live and unchanged since `new`, except for slots
    /// this walk handed out being marked empty.
    fn fold_slots<B>(
        &self,
        mut acc: B,
        mut f: impl FnMut(B, Bucket, usize) -> ControlFlow<B, B>,
    ) -> B {
        for span in &self.spans {
            for index in span.start..span.end {
                if span.old && span.array.is_evacuated(index) {
                    continue;
                }
                let mut bucket = span.array.head::<K, V>(index);
                loop {
                    // SAFETY: 1. the table is live and unchanged (caller);
                    // 2. `bucket` is a primary bucket of an allocated array
                    // below its released tail and not evacuated, or a link
                    // of its chain: live.
                    let group = unsafe { bucket.tophash() };
                    for slot in group.match_full() {
                        acc = match f(acc, bucket, slot) {
                            ControlFlow::Continue(acc) => acc,
                            ControlFlow::Break(acc) => return acc,
                        };
                    }
                    // A bucket with an `EMPTY_REST` slot ends its chain.
                    if group.has_empty_rest() {
                        break;
                    }
                    // SAFETY: as above; a non-null link is a live overflow
                    // bucket of this table, holding `(K, V)`.
                    match unsafe { bucket.overflow::<K, V>() } {
                        Some(next) => bucket = next,
                        None => break,
                    }
                }
            }
        }
        acc
    }

    fn shallow(&self) -> Self {
        let copy = |span: &Span| Span {
            array: span.array.shallow(),
            ..*span
        };
        Self::of([copy(&self.spans[0]), copy(&self.spans[1])])
    }
}

/// Feeds `item` to `folder`; stops the walk once the folder is full.
fn feed<T, F: Folder<T>>(folder: F, item: T) -> ControlFlow<F, F> {
    let folder = folder.consume(item);
    if folder.full() {
        ControlFlow::Break(folder)
    } else {
        ControlFlow::Continue(folder)
    }
}

/// Shared references to every entry, split across threads.
pub(crate) struct RawParIter<'a, K, V> {
    slots: ParSlots<K, V>,
    marker: PhantomData<&'a (K, V)>,
}

impl<'a, K, V> RawParIter<'a, K, V> {
    pub(crate) fn new<A: Allocator>(table: &'a RawTable<K, V, A>) -> Self {
        RawParIter {
            slots: ParSlots::new(table),
            marker: PhantomData,
        }
    }
}

impl<K, V> Clone for RawParIter<'_, K, V> {
    fn clone(&self) -> Self {
        RawParIter {
            slots: self.slots.shallow(),
            marker: PhantomData,
        }
    }
}

impl<'a, K: Sync, V: Sync> UnindexedProducer for RawParIter<'a, K, V> {
    type Item = (&'a K, &'a V);

    fn split(self) -> (Self, Option<Self>) {
        let (left, right) = self.slots.split();
        let wrap = |slots| RawParIter {
            slots,
            marker: PhantomData,
        };
        (wrap(left), right.map(wrap))
    }

    fn fold_with<F: Folder<Self::Item>>(self, folder: F) -> F {
        self.slots.fold_slots(folder, |folder, bucket, slot| {
            // SAFETY: a full slot of the table borrowed shared for 'a.
            let item = unsafe { (&*bucket.key::<K, V>(slot), &*bucket.value::<K, V>(slot)) };
            feed(folder, item)
        })
    }
}

/// Shared keys and mutable values of every entry, split across threads.
/// The table lends every value (`lend_all`) when this is made, so owned
/// bytes are measured again at the table's next write, as after `iter_mut`:
/// the threads never touch the figure.
pub(crate) struct RawParIterMut<'a, K, V> {
    slots: ParSlots<K, V>,
    marker: PhantomData<(&'a K, &'a mut V)>,
}

impl<'a, K, V> RawParIterMut<'a, K, V> {
    pub(crate) fn new<A: Allocator>(table: &'a mut RawTable<K, V, A>) -> Self {
        table.lend_all();
        RawParIterMut {
            slots: ParSlots::new(table),
            marker: PhantomData,
        }
    }
}

impl<'a, K: Sync, V: Send> UnindexedProducer for RawParIterMut<'a, K, V> {
    type Item = (&'a K, &'a mut V);

    fn split(self) -> (Self, Option<Self>) {
        let (left, right) = self.slots.split();
        let wrap = |slots| RawParIterMut {
            slots,
            marker: PhantomData,
        };
        (wrap(left), right.map(wrap))
    }

    fn fold_with<F: Folder<Self::Item>>(self, folder: F) -> F {
        self.slots.fold_slots(folder, |folder, bucket, slot| {
            // SAFETY: a full slot of the table borrowed mutably for 'a; the
            // producers' ranges are disjoint and each slot is handed out
            // once, so the `&mut V`s never alias.
            let item = unsafe { (&*bucket.key::<K, V>(slot), &mut *bucket.value::<K, V>(slot)) };
            feed(folder, item)
        })
    }
}

/// One thread's share of a parallel drain: moves its entries out, each
/// marked `EMPTY_ONE` first.
struct DrainProducer<'a, K, V> {
    slots: ParSlots<K, V>,
    marker: PhantomData<&'a mut (K, V)>,
}

impl<K: Send, V: Send> UnindexedProducer for DrainProducer<'_, K, V> {
    type Item = (K, V);

    fn split(self) -> (Self, Option<Self>) {
        let (left, right) = self.slots.split();
        let wrap = |slots| DrainProducer {
            slots,
            marker: PhantomData,
        };
        (wrap(left), right.map(wrap))
    }

    fn fold_with<F: Folder<Self::Item>>(self, folder: F) -> F {
        self.slots.fold_slots(folder, |folder, bucket, slot| {
            // SAFETY: 1. a full slot of the table `RawParDrain` borrows
            // mutably; 2. only this producer reads or writes this bucket
            // (disjoint ranges); 3. marked empty before it is read out, so
            // the entry has one owner: the consumer now, and never the
            // `clear` that ends the drain.
            let item = unsafe {
                bucket.set_slot(slot, Tophash::EMPTY_ONE);
                (
                    bucket.key::<K, V>(slot).read(),
                    bucket.value::<K, V>(slot).read(),
                )
            };
            feed(folder, item)
        })
    }
}

/// Removes every entry in parallel. When it is dropped — after a drive, or
/// without one — the table is cleared (keeping its array, as `drain` does):
/// every entry no producer handed out is dropped then.
pub(crate) struct RawParDrain<'a, K, V, A: Allocator> {
    table: &'a mut RawTable<K, V, A>,
    /// Keep the bucket array (`par_drain`), or give every byte back (the
    /// table is consumed: no point zeroing an array about to be freed).
    keep_array: bool,
}

impl<'a, K, V, A: Allocator> RawParDrain<'a, K, V, A> {
    /// A drain that leaves the table empty with its array, as `drain`.
    pub(crate) fn new(table: &'a mut RawTable<K, V, A>) -> Self {
        table.count_all_gone();
        RawParDrain {
            table,
            keep_array: true,
        }
    }

    /// A drain of a table that is dropped after it (`into_par_iter`).
    pub(crate) fn consuming(table: &'a mut RawTable<K, V, A>) -> Self {
        let mut drain = Self::new(table);
        drain.keep_array = false;
        drain
    }

    /// The table's entries not yet drained.
    pub(crate) fn len(&self) -> usize {
        self.table.len()
    }

    /// Hands every entry to `consumer`, split across rayon's threads.
    pub(crate) fn drive<C>(self, consumer: C) -> C::Result
    where
        K: Send,
        V: Send,
        C: UnindexedConsumer<(K, V)>,
    {
        let producer = DrainProducer {
            slots: ParSlots::new(self.table),
            marker: PhantomData,
        };
        bridge_unindexed(producer, consumer)
        // `self` drops here, also while a panic unwinds: see the module docs.
    }
}

impl<K, V, A: Allocator> Drop for RawParDrain<'_, K, V, A> {
    fn drop(&mut self) {
        if self.keep_array {
            self.table.clear();
        } else {
            self.table.reset();
        }
    }
}

// SAFETY: the producers behave like what they hand out: `&'a (K, V)`,
// `(&'a K, &'a mut V)` and owned `(K, V)` (the tables they walk are
// borrowed, or owned by `RawParDrain`'s caller, for as long as they live),
// and no two of them reach the same bucket.
unsafe impl<K: Sync, V: Sync> Send for RawParIter<'_, K, V> {}
// SAFETY: as above.
unsafe impl<K: Sync, V: Sync> Sync for RawParIter<'_, K, V> {}
// SAFETY: as above.
unsafe impl<K: Sync, V: Send> Send for RawParIterMut<'_, K, V> {}
// SAFETY: as above.
unsafe impl<K: Sync, V: Sync> Sync for RawParIterMut<'_, K, V> {}
// SAFETY: as above.
unsafe impl<K: Send, V: Send> Send for DrainProducer<'_, K, V> {}

#[cfg(test)]
mod tests {
    use super::*;
    use allocator_api2::alloc::Global;
    use core::hash::BuildHasher;
    use std::vec::Vec;

    /// Splits `slots` as far as it goes, as rayon may.
    fn pieces<K, V>(slots: ParSlots<K, V>, out: &mut Vec<ParSlots<K, V>>) {
        match slots.split() {
            (left, Some(right)) => {
                pieces(left, out);
                pieces(right, out);
            }
            (whole, None) => out.push(whole),
        }
    }

    #[test]
    fn splitting_to_single_buckets_covers_both_arrays_and_yields_every_entry_once() {
        let state = foldhash::fast::FixedState::with_seed(7);
        let hasher = |k: &u64| state.hash_one(k);
        let mut table = RawTable::<u64, u64, Global>::new_in(Global);
        let mut key = 0;
        while !(key >= 200 && table.migration.is_some()) {
            if let crate::raw::RawEntry::Vacant(vacant) =
                table.entry(hasher(&key), |k| *k == key, hasher)
            {
                vacant.insert_value(key, key, hasher);
            }
            key += 1;
        }
        let m = table.migration.as_ref().expect("mid-migration");
        let old_live = (0..m.old.buckets())
            .filter(|&i| !m.old.is_evacuated(i))
            .count();
        assert!(old_live > 0, "entries wait in the old array");

        let mut parts = Vec::new();
        pieces(ParSlots::new(&table), &mut parts);
        let buckets: usize = parts
            .iter()
            .map(|p| p.spans[0].len() + p.spans[1].len())
            .sum();
        assert!(parts
            .iter()
            .all(|p| p.spans[0].len() + p.spans[1].len() == 1));
        assert!(buckets >= old_live + table.current.buckets());

        let mut keys: Vec<u64> = parts
            .iter()
            .flat_map(|part| {
                part.fold_slots(Vec::new(), |mut keys, bucket, slot| {
                    // SAFETY: a full slot of the live, unchanged table.
                    keys.push(unsafe { *bucket.key::<u64, u64>(slot) });
                    ControlFlow::Continue(keys)
                })
            })
            .collect();
        keys.sort_unstable();
        assert_eq!(keys, (0..key).collect::<Vec<_>>());
    }
}
