//! `extract_if`: `retain`'s walk, one entry at a time, handing out what it
//! removes.
//!
//! The walk is `retain_array`'s — the old array's buckets not evacuated
//! (when a migration runs), then the current array, each chain front to
//! back — with its position kept between calls. While the extractor
//! borrows the table nothing else can write it, so no migration step runs
//! under it and the arrays stay where they are. Each removal is `take`,
//! complete before the predicate is asked about the next entry; a bucket's
//! full slots are read once, on entering it, and a removal never turns a
//! later full slot of its bucket into anything else, so they stay valid.
//!
//! What `retain` does after each bucket and at the end, the extractor does
//! when it leaves a bucket and when it is dropped: give back an emptied
//! overflow bucket, then start a shrink if one is due (without moving
//! anything: like `retain`, it has no hasher). Dropping it early — or while
//! a panicking predicate unwinds — keeps every entry it did not remove.
//! If it is leaked instead, the table is still consistent: at most one
//! emptied overflow bucket stays linked (and counted) until a later write
//! or walk finds it.

use super::bucket::Bucket;
use super::group::BitMask;
use super::{ArrayId, RawTable};
use allocator_api2::alloc::Allocator;

/// Where the walk stands inside a chain.
struct ChainPosition {
    head: Bucket,
    bucket: Bucket,
    /// Full slots of `bucket` not yet shown to the predicate.
    pending: BitMask,
}

/// Removes and hands out the entries a predicate picks (see the module
/// docs). The predicate is passed to each `next`, so the safe wrapper keeps
/// it and this type holds no user code.
pub(crate) struct RawExtractIf<'a, K, V, A: Allocator> {
    table: &'a mut RawTable<K, V, A>,
    /// The array being walked: `Old` first when migrating, then `Current`.
    which: ArrayId,
    /// The next primary bucket of `which` to enter.
    next_index: usize,
    at: Option<ChainPosition>,
    /// Entries not yet shown to the predicate; the walk stops at zero.
    remaining: usize,
}

impl<'a, K, V, A: Allocator> RawExtractIf<'a, K, V, A> {
    pub(super) fn new(table: &'a mut RawTable<K, V, A>) -> Self {
        // The predicate sees every value mutably: measure them all again
        // afterwards (as `retain` and `iter_mut` do).
        table.lend_all();
        let which = if table.migration.is_some() {
            ArrayId::Old
        } else {
            ArrayId::Current
        };
        let remaining = table.len;
        RawExtractIf {
            table,
            which,
            next_index: 0,
            at: None,
            remaining,
        }
    }

    /// The next entry for which `pred` returns true, removed; `None` once
    /// every entry has been shown to `pred`.
    pub(crate) fn next_where(
        &mut self,
        pred: &mut impl FnMut(&K, &mut V) -> bool,
    ) -> Option<(K, V)> {
        loop {
            if self.remaining == 0 {
                return None;
            }
            let Some(pos) = &mut self.at else {
                self.enter_next_chain();
                continue;
            };
            let Some(slot) = pos.pending.lowest() else {
                self.leave_bucket();
                continue;
            };
            pos.pending.0 &= pos.pending.0 - 1;
            self.remaining -= 1;
            let (head, bucket) = (pos.head, pos.bucket);
            // SAFETY: a full slot of a live bucket (not evacuated, in the
            // chain being walked); the table is borrowed mutably, so these
            // are the only references to it while `pred` runs.
            let picked =
                unsafe { pred(&*bucket.key::<K, V>(slot), &mut *bucket.value::<K, V>(slot)) };
            if picked {
                // SAFETY: as above: `bucket` is in the live chain from
                // `head`, in array `which`, and `slot` is still full (a
                // predicate cannot reach the table).
                return Some(unsafe { self.table.take(self.which, head, bucket, slot) });
            }
        }
    }

    /// Entries not yet shown to the predicate: the most `next_where` can
    /// still return.
    pub(crate) fn remaining(&self) -> usize {
        self.remaining
    }

    /// Enter the next chain of the walk: the next primary bucket not
    /// evacuated of the current array of the walk, else of the next array.
    /// Only called while entries remain, so one is found.
    fn enter_next_chain(&mut self) {
        loop {
            let array = self.table.array(self.which);
            if array.allocated {
                while self.next_index < array.buckets() {
                    let index = self.next_index;
                    self.next_index += 1;
                    if array.is_evacuated(index) {
                        continue;
                    }
                    let head = array.head::<K, V>(index);
                    // SAFETY: a primary bucket not evacuated: live.
                    let pending = unsafe { head.tophash() }.match_full();
                    self.at = Some(ChainPosition {
                        head,
                        bucket: head,
                        pending,
                    });
                    return;
                }
            }
            assert!(
                self.which == ArrayId::Old,
                "extract_if: fewer entries than len"
            );
            self.which = ArrayId::Current;
            self.next_index = 0;
        }
    }

    /// Every full slot of the bucket has been shown: move along its chain,
    /// giving the bucket back if it is an emptied overflow bucket.
    fn leave_bucket(&mut self) {
        let Some(pos) = self.at.take() else {
            return;
        };
        // SAFETY: the chain is live; the next bucket is read before this
        // one may be freed.
        unsafe {
            let next = pos.bucket.overflow::<K, V>();
            if self.table.unlink_if_empty(pos.head, pos.bucket) {
                *self.table.overflow_count(self.which) -= 1;
            }
            if let Some(next) = next {
                self.at = Some(ChainPosition {
                    head: pos.head,
                    bucket: next,
                    pending: next.tophash().match_full(),
                });
            }
        }
    }
}

impl<K, V, A: Allocator> Drop for RawExtractIf<'_, K, V, A> {
    /// `retain`'s end: the bucket the walk stopped in is given back if it
    /// emptied, then a shrink starts if one is due. No user code runs here,
    /// so this is also what a panicking predicate leaves.
    fn drop(&mut self) {
        if let Some(pos) = self.at.take() {
            // SAFETY: the chain the walk stopped in is live.
            if unsafe { self.table.unlink_if_empty(pos.head, pos.bucket) } {
                *self.table.overflow_count(self.which) -= 1;
            }
        }
        let table = &mut *self.table;
        if table.migration.is_none()
            && table.current.allocated
            && table.shrink_may_be_due(table.len)
        {
            table.start_migration_if_due(table.len);
        }
    }
}

// SAFETY: behaves like `&'a mut RawTable` (it hands out owned entries).
unsafe impl<K: Send, V: Send, A: Allocator + Send> Send for RawExtractIf<'_, K, V, A> {}
// SAFETY: behaves like `&'a mut RawTable`.
unsafe impl<K: Sync, V: Sync, A: Allocator + Sync> Sync for RawExtractIf<'_, K, V, A> {}

impl<K, V, A: Allocator> RawTable<K, V, A> {
    pub(crate) fn extract_if(&mut self) -> RawExtractIf<'_, K, V, A> {
        RawExtractIf::new(self)
    }
}
