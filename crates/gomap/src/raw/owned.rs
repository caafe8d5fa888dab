//! Owned bytes: what a table's keys and values own on the heap (a
//! `String`'s text, a `Vec`'s buffer), kept exact on every write, O(1) per
//! write, when the map was told how to measure them.
//!
//! # How the figure stays exact
//!
//! `bytes` is the sum of `key(k) + value(v)` over every entry, as last
//! measured. Each write adjusts it by what it adds or takes out, measured
//! while the table is consistent and before anything moves, so a measuring
//! function that panics leaves the table and the figure as they were:
//!
//! * a new entry is measured before it is placed;
//! * an entry is measured before it is taken out;
//! * `clear`, `reset` and `drain` set the figure to zero (every entry goes);
//! * `retain` measures each entry before and after its predicate ran.
//!
//! A value handed out as `&mut V` (`get_mut`, the entry API, a vacant
//! insert) may change while lent: the table remembers it, **lent**, with
//! its size at that moment. A `&mut V` borrows the map, so the borrow has
//! ended by the time the map is used again: every method that takes
//! `&mut self` first measures the lent value again and adjusts the figure
//! (`settle`); `&self` readers (`mem_stats`) compute the adjusted figure
//! without storing it. `iter_mut` lends every value at once: the next call
//! measures the whole table again (O(n), as the iteration was).
//!
//! Invariant: `lent` points at a live value of this table. Every table
//! method that may move or drop an entry settles (and so forgets) the lent
//! value first; nothing else writes a value's slot.
//!
//! What it cannot see: bytes changed through interior mutability (a
//! `RefCell`, a `Mutex`, an atomic inside a value) without a `&mut` from
//! the map — those are counted at their size when last measured.

use super::bucket::Bucket;
use super::RawTable;
use allocator_api2::alloc::Allocator;
use core::mem;
use core::ptr::NonNull;

/// How to measure the bytes a key and a value own (not their own
/// `size_of`, which the table counts).
pub(crate) struct Measure<K, V> {
    pub(crate) key: fn(&K) -> usize,
    pub(crate) value: fn(&V) -> usize,
}

// Manual impls: `fn` pointers are `Copy` whatever `K` and `V` are.
impl<K, V> Clone for Measure<K, V> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<K, V> Copy for Measure<K, V> {}

impl<K, V> Measure<K, V> {
    #[inline]
    pub(crate) fn entry(&self, key: &K, value: &V) -> usize {
        (self.key)(key) + (self.value)(value)
    }
}

/// A value handed out as `&mut V`, to measure again once the borrow ended.
pub(crate) enum Lent {
    None,
    /// One value (a `V`, its type erased: a `NonNull<V>` field would make
    /// the map `UnwindSafe` only for `V: RefUnwindSafe`, where std's asks
    /// `V: UnwindSafe`), owning `before` bytes when it was lent.
    One {
        value: NonNull<u8>,
        before: usize,
    },
    /// Every value (`iter_mut`).
    All,
}

/// A table's owned-bytes state: see the module docs.
pub(crate) struct Owned<K, V> {
    pub(crate) measure: Measure<K, V>,
    /// Owned bytes of every entry, as last measured.
    pub(crate) bytes: usize,
    pub(crate) lent: Lent,
}

impl<K, V> Owned<K, V> {
    pub(crate) fn new(measure: Measure<K, V>, bytes: usize) -> Self {
        Owned {
            measure,
            bytes,
            lent: Lent::None,
        }
    }
}

// The table's hooks: every write of the table calls these.
impl<K, V, A: Allocator> RawTable<K, V, A> {
    /// Keeps owned bytes from now on, measuring every entry now (if that
    /// panics, the table keeps none and is unchanged).
    pub(crate) fn track_owned(&mut self, measure: Measure<K, V>) {
        self.owned = None;
        self.lent_any = false;
        let bytes = self.iter().map(|(k, v)| measure.entry(k, v)).sum();
        self.owned = Some(Owned::new(measure, bytes));
    }

    /// How the table measures owned bytes, if it keeps them.
    pub(crate) fn owned_measure(&self) -> Option<Measure<K, V>> {
        self.owned.as_ref().map(|owned| owned.measure)
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
                let now = (owned.measure.value)(unsafe { value.cast::<V>().as_ref() });
                (owned.bytes + now).saturating_sub(before)
            }
            Lent::All => self.iter().map(|(k, v)| owned.measure.entry(k, v)).sum(),
        })
    }

    /// Measures the lent value(s) again: the first thing every method that
    /// may move or drop an entry does (and every lend).
    #[inline(always)]
    pub(super) fn settle(&mut self) {
        if self.lent_any {
            self.settle_lent();
        }
    }

    #[cold]
    #[inline(never)]
    pub(super) fn settle_lent(&mut self) {
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
                let now = (owned.measure.value)(unsafe { value.cast::<V>().as_ref() });
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
    pub(super) unsafe fn lend(&mut self, value: *mut V) {
        if self.owned.is_some() {
            // SAFETY: the caller's.
            unsafe { self.lend_slow(value) };
        }
    }

    /// # Safety
    /// As [`lend`](Self::lend).
    #[cold]
    #[inline(never)]
    pub(super) unsafe fn lend_slow(&mut self, value: *mut V) {
        self.settle();
        let Some(owned) = &mut self.owned else {
            return;
        };
        let Some(value) = NonNull::new(value) else {
            return;
        };
        // SAFETY: the caller's: a live value of this table, not borrowed yet.
        let before = (owned.measure.value)(unsafe { value.as_ref() });
        owned.lent = Lent::One {
            value: value.cast(),
            before,
        };
        self.lent_any = true;
    }

    /// Every value is about to be handed out mutably (`iter_mut`): measure
    /// them all at the next settle.
    pub(super) fn lend_all(&mut self) {
        self.settle();
        if let Some(owned) = &mut self.owned {
            owned.lent = Lent::All;
            self.lent_any = true;
        }
    }

    /// An entry about to be placed: its bytes count from now (measured
    /// before anything moves; a measure that panics changes nothing).
    #[inline(always)]
    pub(super) fn count_new(&mut self, key: &K, value: &V) {
        if self.owned.is_some() {
            self.count_new_slow(key, value);
        }
    }

    #[cold]
    #[inline(never)]
    pub(super) fn count_new_slow(&mut self, key: &K, value: &V) {
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
    pub(super) unsafe fn count_gone(&mut self, bucket: Bucket, slot: usize) {
        if self.owned.is_some() {
            // SAFETY: the caller's.
            unsafe { self.count_gone_slow(bucket, slot) };
        }
    }

    /// # Safety
    /// As [`count_gone`](Self::count_gone).
    #[cold]
    #[inline(never)]
    pub(super) unsafe fn count_gone_slow(&mut self, bucket: Bucket, slot: usize) {
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
    pub(super) fn count_all_gone(&mut self) {
        if let Some(owned) = &mut self.owned {
            owned.bytes = 0;
            owned.lent = Lent::None;
        }
        self.lent_any = false;
    }
}
