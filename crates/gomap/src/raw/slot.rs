//! Slot handles: an entry's position as a plain value ([`Slot`]), found by
//! key or by walking the table, and read or written again later without a
//! lookup — what hashbrown's `HashTable` bucket indices are, for gomap's
//! layout.
//!
//! A position names the array (the old one of a running migration, or the
//! current one), the primary bucket, the depth in its overflow chain and
//! the slot. Nothing about it is trusted: every use walks from the array
//! down the chain, checking each step against the table as it is now
//! (array present, bucket in range and, in an old array, not evacuated,
//! chain long enough, slot full). So a position from another map, or one a
//! write has made stale, reads whatever entry sits there now, or nothing —
//! never freed memory. Walking the chain costs its depth, as a lookup
//! does; nothing here moves an entry.

use super::bucket::{search_chain, Bucket, BucketArray};
use super::entry::RawOccupied;
use super::group::BitMask;
use super::layout::Part;
use super::tophash::Tophash;
use super::{ArrayId, RawTable, BUCKET_SLOTS};
use allocator_api2::alloc::{Allocator, Global};

/// Where an entry sits in a [`HashMap`](crate::HashMap): which array (the
/// old one while a migration runs, or the current one), the primary
/// bucket, the depth in that bucket's overflow chain, and the slot.
///
/// Got from [`HashMap::find_slot`](crate::HashMap::find_slot),
/// [`first_slot`](crate::HashMap::first_slot)/[`next_slot`](crate::HashMap::next_slot)
/// or an occupied entry's [`slot`](crate::hash_map::OccupiedEntry::slot);
/// used with [`get_slot`](crate::HashMap::get_slot) and its kin, which
/// look at that position without a lookup. A slot stays the entry's while
/// the map is not written to. A write may move entries (an insert, a
/// removal, any step of a migration), and then an old slot names whatever
/// entry is at that position now, or none: using it is never undefined
/// behaviour, and it never panics, but it may give another entry (as
/// hashbrown's bucket indices do).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub struct Slot {
    pub(super) array: ArrayId,
    /// The primary bucket's index in its array.
    pub(super) bucket: usize,
    /// 0 for the primary bucket, then one more per overflow bucket.
    pub(super) depth: usize,
    /// 0..8.
    pub(super) slot: u8,
}

/// A map's entries seen by position, without its hasher type: what
/// [`HashMap::slot_view`](crate::HashMap::slot_view) lends. It lets a
/// holder that must not name the hasher (a lock guard mapped to it, say)
/// read the entries by [`Slot`].
#[repr(transparent)]
pub struct SlotView<K, V, A: Allocator = Global> {
    pub(crate) table: RawTable<K, V, A>,
}

impl<K, V, A: Allocator> SlotView<K, V, A> {
    /// The table seen as a `SlotView`.
    pub(crate) fn of(table: &RawTable<K, V, A>) -> &Self {
        // SAFETY: `SlotView` is `repr(transparent)` over `RawTable`, so the
        // two have one layout, and the reference keeps `table`'s lifetime.
        unsafe { &*(table as *const RawTable<K, V, A>).cast::<Self>() }
    }
}

/// The full slots of `bucket` at or after `from`.
///
/// # Safety
/// `bucket` is live.
unsafe fn full_from(bucket: Bucket, from: usize) -> BitMask {
    // SAFETY: the caller's.
    let full = unsafe { bucket.tophash() }.match_full();
    BitMask(full.0 & u64::MAX.checked_shl(from as u32).unwrap_or(0))
}

impl<K, V, A: Allocator> RawTable<K, V, A> {
    /// The array `which` names, if the table has it now.
    fn slot_array(&self, which: ArrayId) -> Option<&BucketArray> {
        match which {
            ArrayId::Old => self.migration.as_ref().map(|m| &m.old),
            ArrayId::Current => Some(&self.current).filter(|a| a.allocated),
        }
    }

    /// Primary bucket `index` of array `which`, if it is there and live
    /// (in range and, in an old array, not evacuated: its tail may be
    /// released, and an evacuated bucket holds nothing).
    fn live_head(&self, which: ArrayId, index: usize) -> Option<Bucket> {
        let array = self.slot_array(which)?;
        if index >= array.buckets() || (which == ArrayId::Old && array.is_evacuated(index)) {
            return None;
        }
        Some(array.head::<K, V>(index))
    }

    /// The bucket `depth` links down the chain at `head`.
    ///
    /// # Safety
    /// The chain at `head` is live.
    unsafe fn chain_at(head: Bucket, depth: usize) -> Option<Bucket> {
        let mut bucket = head;
        for _ in 0..depth {
            // SAFETY: the chain is live (caller), and a live chain's links
            // are null or live overflow buckets of the same table.
            bucket = unsafe { bucket.overflow::<K, V>() }?;
        }
        Some(bucket)
    }

    /// The bucket and slot `at` names, if that slot is full now.
    pub(super) fn resolve(&self, at: Slot) -> Option<(Bucket, usize)> {
        let head = self.live_head(at.array, at.bucket)?;
        // SAFETY: `live_head` gives the head of a live chain, whose
        // buckets are live.
        let bucket = unsafe { Self::chain_at(head, at.depth) }?;
        let slot = usize::from(at.slot);
        // SAFETY: as above.
        let full = unsafe { full_from(bucket, slot) };
        (slot < BUCKET_SLOTS && full.lowest() == Some(slot)).then_some((bucket, slot))
    }

    /// Where the entry for `hash`/`eq` is. Moves nothing. Each array's
    /// chain is searched once, current first as `find` does, and the depth
    /// counted only in the chain the entry is in.
    pub(crate) fn find_slot(&self, hash: u64, mut eq: impl FnMut(&K) -> bool) -> Option<Slot> {
        let top = Tophash::of(hash);
        let at = |array: ArrayId, mask: usize, head: Bucket, (bucket, slot): (Bucket, usize)| {
            // SAFETY: `bucket` was just found in the live chain at `head`.
            let depth = unsafe { depth_in::<K, V>(head, bucket) }.expect("found in this chain");
            Slot::at(array, hash as usize & mask, depth, slot)
        };
        let head = self.current.head::<K, V>(hash as usize);
        head.prefetch();
        // SAFETY: every chain of the current array is live.
        if let Ok(found) = unsafe { search_chain::<K, V, false>(head, top, &mut eq) } {
            return Some(at(ArrayId::Current, self.current.mask(), head, found));
        }
        let head = self.live_old_bucket(hash)?;
        let mask = self.migration.as_ref()?.old.mask();
        // SAFETY: `live_old_bucket` gives a bucket not evacuated: live.
        let found = unsafe { search_chain::<K, V, false>(head, top, &mut eq) }.ok()?;
        Some(at(ArrayId::Old, mask, head, found))
    }

    pub(crate) fn get_slot(&self, at: Slot) -> Option<(&K, &V)> {
        let (bucket, slot) = self.resolve(at)?;
        // SAFETY: a full slot of a live bucket, borrowed through `&self`.
        unsafe { Some((&*bucket.key::<K, V>(slot), &*bucket.value::<K, V>(slot))) }
    }

    pub(crate) fn get_slot_mut(&mut self, at: Slot) -> Option<(&K, &mut V)> {
        self.settle();
        let (bucket, slot) = self.resolve(at)?;
        // SAFETY: a full slot of a live bucket, borrowed through `&mut
        // self`; lent before the `&mut` to it is made.
        unsafe {
            let value = bucket.value::<K, V>(slot);
            self.lend(value);
            Some((&*bucket.key::<K, V>(slot), &mut *value))
        }
    }

    /// The occupied entry at `at`, if its slot is full.
    pub(crate) fn slot_entry(&mut self, at: Slot) -> Option<RawOccupied<'_, K, V, A>> {
        let head = self.live_head(at.array, at.bucket)?;
        let (bucket, slot) = self.resolve(at)?;
        Some(RawOccupied {
            table: self,
            head,
            bucket,
            slot,
            array: at.array,
        })
    }

    /// The first full slot after `after` (from the start when `None`), in
    /// the order (array: old then current, bucket, depth, slot). Visits
    /// every entry of an unchanged table once; a stale `after` resumes at
    /// the next position that exists now.
    pub(crate) fn next_slot(&self, after: Option<Slot>) -> Option<Slot> {
        let (mut which, mut index, mut depth, mut from) = match after {
            None => (ArrayId::Old, 0, 0, 0),
            Some(at) => (at.array, at.bucket, at.depth, usize::from(at.slot) + 1),
        };
        loop {
            if let Some(array) = self.slot_array(which) {
                while index < array.buckets() {
                    if let Some(found) = self.next_in_chain(which, index, depth, from) {
                        return Some(found);
                    }
                    (index, depth, from) = (index + 1, 0, 0);
                }
            }
            if which == ArrayId::Current {
                return None;
            }
            (which, index, depth, from) = (ArrayId::Current, 0, 0, 0);
        }
    }

    /// The first full slot of chain `index` at or after (`depth`, `from`).
    fn next_in_chain(
        &self,
        which: ArrayId,
        index: usize,
        mut depth: usize,
        from: usize,
    ) -> Option<Slot> {
        let head = self.live_head(which, index)?;
        // SAFETY: `live_head` gives the head of a live chain.
        let mut bucket = unsafe { Self::chain_at(head, depth) }?;
        let mut from = from;
        loop {
            // SAFETY: `bucket` is in that live chain.
            if let Some(slot) = unsafe { full_from(bucket, from) }.lowest() {
                return Some(Slot::at(which, index, depth, slot));
            }
            // SAFETY: `bucket` is in a live chain.
            if unsafe { bucket.tophash() }.has_empty_rest() {
                return None;
            }
            // SAFETY: as in `chain_at`.
            bucket = unsafe { bucket.overflow::<K, V>() }?;
            (depth, from) = (depth + 1, 0);
        }
    }
}

impl Slot {
    fn at(array: ArrayId, bucket: usize, depth: usize, slot: usize) -> Slot {
        debug_assert!(slot < BUCKET_SLOTS);
        Slot {
            array,
            bucket,
            depth,
            slot: slot as u8,
        }
    }
}

/// How many links down the chain at `head` `bucket` is, if it is in that
/// chain.
///
/// # Safety
/// The chain at `head` is live.
unsafe fn depth_in<K, V>(head: Bucket, bucket: Bucket) -> Option<usize> {
    let mut at = head;
    let mut depth = 0;
    while !at.same(bucket) {
        // SAFETY: the chain is live (caller).
        at = unsafe { at.overflow::<K, V>() }?;
        depth += 1;
    }
    Some(depth)
}

impl<K, V, A: Allocator> RawOccupied<'_, K, V, A> {
    /// Where this entry sits.
    pub(crate) fn slot(&self) -> Slot {
        let array = self
            .table
            .slot_array(self.array)
            .expect("the entry's array is there");
        // The head's index from its tophash word's address: no hash kept.
        let base = array.block(Part::Tophash).ptr.as_ptr() as usize;
        let index =
            (self.head.tophash.as_ptr() as usize - base) / Part::Tophash.bucket_bytes::<K, V>();
        // SAFETY: the entry's chain is live while the entry borrows the table.
        let depth =
            unsafe { depth_in::<K, V>(self.head, self.bucket) }.expect("the entry is in its chain");
        Slot::at(self.array, index, depth, self.slot)
    }
}
