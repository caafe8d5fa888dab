//! Lifecycle: emptying (`clear`, `reset`), `retain`, `Clone` and `Drop` —
//! the operations that walk every bucket of both arrays.

use super::bucket::BucketArray;
use super::group::Group;
use super::guard::guard;
use super::iter::RawSlots;
use super::layout::{Block, Part};
use super::migration::MigrationState;
use super::owned::Owned;
use super::tophash::Tophash;
use super::{ArrayId, RawTable};
use allocator_api2::alloc::Allocator;
use core::mem;
use core::ptr;

impl<K, V, A: Allocator> RawTable<K, V, A> {
    /// Drop every entry; keep the current array (std's and Go's `clear`).
    /// Overflow buckets and a migration's old array are freed.
    pub(crate) fn clear(&mut self) {
        self.shrink_armed = true;
        self.count_all_gone();
        self.drop_entries();
        self.free_overflow_and_old();
        if self.current.allocated {
            // The links are all null already: `free_chains` nulled each one
            // it followed, and its exact count says no chain is left. So
            // only the tophash words are zeroed (all `EMPTY_REST`).
            let part = Part::Tophash;
            let Block { ptr, held } = self.current.block(part);
            // SAFETY: the current array's blocks hold `held` (= 2^log2)
            // buckets' worth of their part, exactly this many bytes.
            unsafe { ptr::write_bytes(ptr.as_ptr(), 0, held * part.bucket_bytes::<K, V>()) };
            debug_assert_eq!(self.overflow, 0);
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
    pub(super) fn drop_entries(&mut self) {
        /// Takes out and drops the walk's next entry; false at the end.
        fn drop_next<K, V, A: Allocator>(
            table: &mut RawTable<K, V, A>,
            slots: &mut RawSlots<K, V>,
        ) -> bool {
            let Some((bucket, slot)) = slots.next_slot() else {
                return false;
            };
            // SAFETY: a full slot of a live bucket of the walk's array, not
            // handed out before.
            drop(unsafe { table.take_out(slots.array(), bucket, slot) });
            true
        }
        if mem::needs_drop::<K>() || mem::needs_drop::<V>() {
            let slots = RawSlots::new(self);
            // Should a drop panic, the guard drops what the loop did not reach.
            let mut rest = guard(
                (&mut *self, slots),
                |(table, slots)| {
                    while drop_next(table, slots) {}
                },
            );
            let (table, slots) = &mut *rest;
            while drop_next(table, slots) {}
        }
        self.len = 0;
    }

    /// Free every overflow bucket and the old array, leaving the current
    /// array's primary buckets. Entries must have been dropped.
    pub(super) fn free_overflow_and_old(&mut self) {
        if self.migration.is_some() {
            self.free_chains(ArrayId::Old);
            let m = self.migration.take().expect("migrating");
            self.free_array(m.old);
        }
        self.free_chains(ArrayId::Current);
    }

    pub(super) fn free_all(&mut self) {
        self.free_overflow_and_old();
        let current = mem::replace(&mut self.current, BucketArray::unallocated());
        self.free_array(current);
    }

    /// Free the overflow buckets of every chain of one array.
    pub(super) fn free_chains(&mut self, which: ArrayId) {
        let array = self.array(which);
        let mut index = 0;
        // Chains hang only off buckets not evacuated, all below every `held`.
        while *self.overflow_count(which) > 0 && index < array.block(Part::Links).held {
            let head = array.head::<K, V>(index);
            // SAFETY: links of an allocated array are live (a nonzero count
            // implies allocated); each overflow bucket is read before it is
            // freed.
            unsafe {
                let mut next = head.overflow::<K, V>();
                if next.is_some() {
                    // Only links that had a chain are written: a clear of
                    // a big map does not dirty every link's cache line.
                    head.set_overflow(None);
                }
                while let Some(bucket) = next {
                    next = bucket.overflow::<K, V>();
                    self.free_overflow(bucket);
                    *self.overflow_count(which) -= 1;
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
            self.retain_array(ArrayId::Old, &mut keep);
        }
        self.retain_array(ArrayId::Current, &mut keep);
        if self.migration.is_none() && self.current.allocated {
            self.start_migration_if_due(self.len);
        }
        self.settle();
    }

    pub(super) fn retain_array(
        &mut self,
        which: ArrayId,
        keep: &mut impl FnMut(&K, &mut V) -> bool,
    ) {
        let array = self.array(which);
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
                            drop(self.take(which, head, b, slot));
                        }
                    }
                    bucket = b.overflow::<K, V>();
                    if self.unlink_if_empty(head, b) {
                        *self.overflow_count(which) -= 1;
                    }
                }
            }
        }
    }
}

impl<K, V, A: Allocator> Drop for RawTable<K, V, A> {
    fn drop(&mut self) {
        // Frees the memory even if dropping an entry panics.
        let mut table = guard(self, |table| table.free_all());
        table.drop_entries();
    }
}

impl<K: Clone, V: Clone, A: Allocator + Clone> Clone for RawTable<K, V, A> {
    /// A copy with the same structure: same arrays, chains, migration
    /// state and slot positions, so no hasher is needed.
    fn clone(&self) -> Self {
        let mut copy = Self::new_in(self.alloc.clone());
        copy.allocator_calls = self.allocator_calls;
        copy.copy_from(self);
        copy
    }

    /// Drops this table's entries, then copies `source`'s into it as
    /// `clone` does, keeping this table's allocator, and its current array
    /// when that has the shape the copy needs.
    fn clone_from(&mut self, source: &Self) {
        let reusable = self.current.allocated
            && source.current.allocated
            && self.current.log2 == source.current.log2
            && source.migration.is_none();
        // Zero the array only when the copy will use it.
        if reusable {
            self.clear();
        } else {
            self.reset();
        }
        self.copy_from(source);
    }
}

impl<K: Clone, V: Clone, A: Allocator> RawTable<K, V, A> {
    /// Make this table a copy of `source`. It holds no entry, no overflow
    /// bucket and no migration, and either no array or a zeroed current
    /// array of `source`'s size (which the copy then uses).
    fn copy_from(&mut self, source: &Self) {
        debug_assert!(self.len == 0 && self.overflow == 0 && self.migration.is_none());
        self.min_log2 = source.min_log2;
        self.policy = source.policy;
        self.started = source.started;
        self.shrink_armed = source.shrink_armed;
        self.owned = source
            .owned
            .as_ref()
            .map(|o| Owned::new(o.measure, source.owned_bytes().unwrap_or(0)));
        self.lent_any = false;
        if !source.current.allocated {
            return;
        }
        if !self.current.allocated {
            // A copy is another map: it draws its own iteration order.
            self.allocate_current(source.current.log2)
                .unwrap_or_else(|e| e.handle());
        }
        if let Some(m) = &source.migration {
            let old = self
                .allocate_array(m.old.log2, m.old.block(Part::Tophash).held)
                .unwrap_or_else(|e| e.handle());
            self.migration = Some(MigrationState {
                kind: m.kind,
                old,
                old_overflow: 0,
                cursor: m.cursor,
                evacuated: m.evacuated,
                old_len: 0,
            });
            self.clone_array(&m.old, ArrayId::Old);
        }
        self.clone_array(&source.current, ArrayId::Current);
    }

    /// Copy every chain of `from` into the same places of this table's
    /// array `into`, freshly allocated (or zeroed) with the same shape.
    /// Entries and overflow buckets are counted as they are added, so a
    /// panic in `clone` leaves a copy that drops cleanly.
    pub(super) fn clone_array(&mut self, from: &BucketArray, into: ArrayId) {
        let to = self.array(into);
        for index in 0..from.buckets() {
            // SAFETY: `from` is live where not evacuated; `to` was just
            // allocated with the same shape. A slot of the copy is marked
            // full only once both clones succeeded.
            unsafe {
                if from.is_evacuated(index) {
                    if !to.is_evacuated(index) {
                        to.head::<K, V>(index)
                            .set_tophash(Group::repeat(Tophash::EVACUATED));
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
                        if let Some(old_len) = self.old_len_of(into) {
                            *old_len += 1;
                        }
                    }
                    dst.set_tophash(group);
                    let Some(next) = src.overflow::<K, V>() else {
                        break;
                    };
                    let fresh = self.allocate_overflow();
                    dst.set_overflow(Some(fresh));
                    *self.overflow_count(into) += 1;
                    (src, dst) = (next, fresh);
                }
            }
        }
    }
}
