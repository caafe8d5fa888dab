//! Entries: lookups, and the insert and remove primitives every write is
//! built from. Reads never move anything; a write during a migration does
//! its share of the migration first (see `migration.rs`).

use super::bucket::{mark_erased, search_chain, Bucket};
use super::entry::{RawEntry, RawOccupied, RawVacant};
use super::tophash::Tophash;
use super::{ArrayId, RawTable};
use allocator_api2::alloc::Allocator;

impl<K, V, A: Allocator> RawTable<K, V, A> {
    /// Find the entry for which `eq` holds among those with this hash.
    /// Moves nothing.
    #[inline(always)]
    pub(super) fn find(
        &self,
        hash: u64,
        mut eq: impl FnMut(&K) -> bool,
    ) -> Option<(Bucket, usize)> {
        let top = Tophash::of(hash);
        let head = self.current.head::<K, V>(hash as usize);
        head.prefetch();
        // SAFETY: every primary bucket of the current array is live.
        let found = unsafe { search_chain::<K, V, false>(head, top, &mut eq) }.ok();
        // Each key lives in exactly one place (given true hashes; after a
        // wrong one, see `HashMap`'s hash-given methods, either of two equal
        // keys may be found), so the order of the two searches is free: the
        // current array first keeps the common path (no migration) free of
        // any check.
        if found.is_none() && self.migration.is_some() {
            return self.find_in_old(hash, top, eq);
        }
        found
    }

    /// The old-array half of `find`, kept out of line: only lookups during a
    /// migration need it.
    #[cold]
    #[inline(never)]
    pub(super) fn find_in_old(
        &self,
        hash: u64,
        top: Tophash,
        mut eq: impl FnMut(&K) -> bool,
    ) -> Option<(Bucket, usize)> {
        let head = self.live_old_bucket(hash)?;
        // SAFETY: `live_old_bucket` returns a bucket not evacuated: live.
        unsafe { search_chain::<K, V, false>(head, top, &mut eq) }.ok()
    }

    /// The old bucket `hash` maps to, if a migration runs and that bucket is
    /// not evacuated yet (so it and its chain are live).
    #[inline]
    pub(super) fn live_old_bucket(&self, hash: u64) -> Option<Bucket> {
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
                    array: ArrayId::Old,
                });
            }
        }
        let head = self.current.head::<K, V>(hash as usize);
        head.prefetch();
        // SAFETY: every primary bucket of the current array is live.
        match unsafe { search_chain::<K, V, true>(head, Tophash::of(hash), &mut eq) } {
            Ok((bucket, slot)) => RawEntry::Occupied(RawOccupied {
                table: self,
                head,
                bucket,
                slot,
                array: ArrayId::Current,
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
        head.prefetch();
        // SAFETY: every primary bucket of the current array is live; a
        // found slot is full and in that chain.
        unsafe {
            let (bucket, slot) =
                search_chain::<K, V, false>(head, Tophash::of(hash), &mut eq).ok()?;
            self.count_gone(bucket, slot);
            Some(self.remove_at(head, bucket, slot, Some(&hasher)))
        }
    }

    /// A write's migration half: its share of the migration work, then the
    /// key's old bucket if that is not evacuated yet. Returns where the key sits
    /// in the old array (chain head, bucket, slot), if it does.
    #[inline(never)]
    pub(super) fn entry_while_migrating(
        &mut self,
        hash: u64,
        eq: &mut impl FnMut(&K) -> bool,
        hasher: &impl Fn(&K) -> u64,
    ) -> Option<(Bucket, Bucket, usize)> {
        self.migrate_for_write(hasher);
        let head = self.live_old_bucket(hash)?;
        // SAFETY: a bucket not evacuated and its chain are live.
        let (bucket, slot) =
            unsafe { search_chain::<K, V, false>(head, Tophash::of(hash), eq) }.ok()?;
        Some((head, bucket, slot))
    }

    /// `remove`'s migration half: `entry_while_migrating`, then the key is
    /// taken out of its old bucket in place.
    #[inline(never)]
    pub(super) fn remove_while_migrating(
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
    pub(super) unsafe fn remove_from_old(
        &mut self,
        head: Bucket,
        bucket: Bucket,
        slot: usize,
    ) -> (K, V) {
        debug_assert!(
            self.migration.is_some(),
            "the old array exists only while migrating"
        );
        // SAFETY: forwarded from the caller.
        unsafe {
            let entry = self.take(ArrayId::Old, head, bucket, slot);
            if self.unlink_if_empty(head, bucket) {
                *self.overflow_count(ArrayId::Old) -= 1;
            }
            entry
        }
    }

    /// Insert a key known to be absent; returns where it went. `free` is the
    /// first free slot of its chain, found by `entry`, if still valid.
    #[inline]
    pub(super) fn insert_new(
        &mut self,
        hash: u64,
        key: K,
        value: V,
        hasher: &impl Fn(&K) -> u64,
        mut free: Option<(Bucket, usize)>,
    ) -> (Bucket, usize) {
        self.count_new(&key, &value);
        if !self.current.allocated {
            self.allocate_current(self.min_log2)
                .unwrap_or_else(|e| e.handle());
            free = None;
        } else if self.migration.is_none()
            && self.migration_may_be_due(self.len + 1)
            && self.start_migration_if_due(self.len + 1)
        {
            // This write's share of the new migration; the key is absent
            // from the old array, so it goes straight to the new one.
            self.migrate_for_write(hasher);
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
            bucket.set_slot(slot, Tophash::of(hash));
        }
        self.len += 1;
        (bucket, slot)
    }

    /// The first free slot of `hash`'s chain in the current array, adding an
    /// overflow bucket when the chain is full. Filling the first free slot
    /// keeps `EMPTY_REST` true: every slot before it is full.
    pub(super) fn free_slot(&mut self, hash: u64) -> (Bucket, usize) {
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

    /// Take the entry at `slot` out of its chain in array `which`, keeping
    /// `EMPTY_REST` true.
    ///
    /// # Safety
    /// `bucket` is in the live chain starting at `head`, in array `which`;
    /// `slot` is full.
    #[inline]
    pub(super) unsafe fn take(
        &mut self,
        which: ArrayId,
        head: Bucket,
        bucket: Bucket,
        slot: usize,
    ) -> (K, V) {
        // SAFETY: a full slot of a live bucket (caller); it is marked empty
        // right after the read, so the entry is owned once.
        unsafe {
            let entry = (
                bucket.key::<K, V>(slot).read(),
                bucket.value::<K, V>(slot).read(),
            );
            mark_erased::<K, V>(head, bucket, slot);
            self.len -= 1;
            if let Some(old_len) = self.old_len_of(which) {
                *old_len -= 1;
            }
            self.shrink_armed = true;
            entry
        }
    }

    /// Move the entry at `slot` out, marking the slot `EMPTY_ONE` first:
    /// the removal primitive of the walks that empty a table (`drain`,
    /// `into_iter`, dropping every entry). `EMPTY_ONE` never breaks
    /// `EMPTY_REST`, and the walk leaves nothing behind, so no chain
    /// bookkeeping is needed.
    ///
    /// # Safety
    /// `slot` is full, in a live bucket of this table's array `which`.
    #[inline]
    pub(super) unsafe fn take_out(
        &mut self,
        which: ArrayId,
        bucket: Bucket,
        slot: usize,
    ) -> (K, V) {
        // SAFETY: a full slot of a live bucket (caller), marked empty
        // before it is read out, so the entry is owned once; `len` stays
        // equal to the full slots.
        unsafe {
            bucket.set_slot(slot, Tophash::EMPTY_ONE);
            self.len -= 1;
            if let Some(old_len) = self.old_len_of(which) {
                *old_len -= 1;
            }
            (
                bucket.key::<K, V>(slot).read(),
                bucket.value::<K, V>(slot).read(),
            )
        }
    }

    /// Remove the entry at `slot` (see `take`), then give back its overflow
    /// bucket if that is now empty, and start a shrink if one is due —
    /// with this write's share of it when there is a `hasher` to move
    /// entries with (a remove through the Entry API has none: its shrink
    /// waits for the next write or `step_migration`).
    ///
    /// # Safety
    /// As for `take`, and the chain is in the current array.
    #[inline]
    pub(super) unsafe fn remove_at<H: Fn(&K) -> u64>(
        &mut self,
        head: Bucket,
        bucket: Bucket,
        slot: usize,
        hasher: Option<&H>,
    ) -> (K, V) {
        // SAFETY: forwarded from the caller.
        let entry = unsafe { self.take(ArrayId::Current, head, bucket, slot) };
        // SAFETY: the chain is live and in the current array.
        if unsafe { self.unlink_if_empty(head, bucket) } {
            self.overflow -= 1;
        }
        if self.migration.is_none()
            && self.shrink_may_be_due(self.len)
            && self.start_migration_if_due(self.len)
        {
            if let Some(hasher) = hasher {
                self.migrate_for_write(hasher);
            }
        }
        entry
    }

    /// Free `bucket` if it is an overflow bucket with no entry left.
    /// Returns whether it did (the caller counts it off).
    ///
    /// # Safety
    /// `bucket` is in the live chain starting at `head`.
    #[inline]
    pub(super) unsafe fn unlink_if_empty(&mut self, head: Bucket, bucket: Bucket) -> bool {
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
}
