//! The raw Entry API: safe handles to a found entry or a vacant place,
//! which `map/entry.rs` builds std's Entry API on.

use super::bucket::Bucket;
use super::{ArrayId, RawTable};
use allocator_api2::alloc::Allocator;
use core::ptr;

/// A found entry, borrowed for writing.
pub(crate) struct RawOccupied<'a, K, V, A: Allocator> {
    pub(super) table: &'a mut RawTable<K, V, A>,
    pub(super) head: Bucket,
    pub(super) bucket: Bucket,
    pub(super) slot: usize,
    /// The array the chain is in: the old one while a migration runs and
    /// the key's old bucket is not evacuated yet.
    pub(super) array: ArrayId,
}

/// A key known to be absent, with its hash, borrowed for inserting.
pub(crate) struct RawVacant<'a, K, V, A: Allocator> {
    pub(super) table: &'a mut RawTable<K, V, A>,
    pub(super) hash: u64,
    /// The first free slot of the key's chain, if it has one.
    pub(super) free: Option<(Bucket, usize)>,
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
        // SAFETY: as in `get_mut`: the slot is full, and the new key
        // replaces the old one in place (the caller's key is equal, so its
        // place stays right too — not a matter of safety).
        unsafe { ptr::replace(self.bucket.key::<K, V>(self.slot), key) }
    }

    #[inline]
    pub(crate) fn remove(self) -> (K, V) {
        // A lent value (this one, through `get_mut`) is measured first.
        self.table.settle();
        // SAFETY: the slot is full, in the live chain at `head`, of the
        // array `array` names; the table was borrowed since it was found.
        unsafe {
            self.table.count_gone(self.bucket, self.slot);
            match self.array {
                ArrayId::Old => self
                    .table
                    .remove_from_old(self.head, self.bucket, self.slot),
                ArrayId::Current => {
                    self.table
                        .remove_at(self.head, self.bucket, self.slot, None::<&fn(&K) -> u64>)
                }
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
            array: ArrayId::Current,
        }
    }
}
