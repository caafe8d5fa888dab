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
pub(crate) enum Lent<V> {
    None,
    /// One value, owning `before` bytes when it was lent.
    One {
        value: NonNull<V>,
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
    pub(crate) lent: Lent<V>,
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
