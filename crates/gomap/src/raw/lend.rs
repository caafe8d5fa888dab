//! Lending a map's entries out one by one, each to an owner of its own,
//! while one owner of the whole map (a lock guard, typically) is kept
//! alive by all of them: what a concurrent map's `iter_mut` needs to hand
//! out items that outlive the iterator and sit side by side, each with its
//! value mutable, without taking the entries out of the map.
//!
//! # Why this is sound
//!
//! [`SlotLender::new`] takes the map's owner `G`, puts it in an `Arc`
//! (where it never moves again), borrows the map through it mutably once,
//! and keeps a pointer to the table. From then on:
//!
//! 1. `G` is not touched again until it is dropped, after the last item
//!    (each holds the `Arc`), so the map stays borrowed exclusively by
//!    the lender for as long as any item lives. `G` sits in an
//!    `UnsafeCell`, so a shared reference to the lender asserts nothing
//!    about `G`'s bytes (a `G` that holds the map inline included).
//! 2. Nothing changes the table meanwhile: the walk and the items only
//!    read tophash words, links and keys, and write values.
//! 3. Each slot is handed out once: there is one walk per lender, and a
//!    walk of an unchanged table visits each entry once. So the `&mut V`
//!    of two items never alias.

use super::slot::Slot;
use super::RawTable;
use crate::HashMap;
use alloc::sync::Arc;
use allocator_api2::alloc::{Allocator, Global};
use core::cell::UnsafeCell;
use core::fmt;
use core::ops::DerefMut;
use core::ptr::NonNull;

/// What every lent entry shares: the map's owner and the table it lends.
struct Shared<G, K, V, A: Allocator> {
    /// Never accessed after `new`; dropped after the last entry.
    owner: UnsafeCell<G>,
    /// The table behind `owner`, borrowed mutably through it once.
    table: NonNull<RawTable<K, V, A>>,
}

// SAFETY: a lender and its entries may be dropped and used on any thread:
// `G` is dropped on whichever thread drops the last entry (`G: Send`);
// entries on several threads read keys (`K: Sync`) and read or write each
// its own value (`V: Send + Sync`: a `&LentSlot` reads its value from any
// thread). `G` itself is never reached through `&Shared`. No `A: Sync`: the
// paths reached through `&Shared` from several threads (`resolve`,
// `next_slot`, `len`) read the table's arrays and never its allocator or
// its owned-bytes state; keep it so, or require `A: Sync` here.
unsafe impl<G: Send, K: Sync, V: Send + Sync, A: Allocator> Send for Shared<G, K, V, A> {}
// SAFETY: as for `Send`.
unsafe impl<G: Send, K: Sync, V: Send + Sync, A: Allocator> Sync for Shared<G, K, V, A> {}

impl<G, K, V, A: Allocator> Shared<G, K, V, A> {
    fn table(&self) -> &RawTable<K, V, A> {
        // SAFETY: the table stays borrowed through `owner` while `self`
        // lives, and only values of lent slots are written (module docs).
        // `&RawTable` covers the table's own fields, not the buckets' bytes.
        unsafe { self.table.as_ref() }
    }
}

/// A walk over every entry of a map that lends each one out as a
/// [`LentSlot`]: the key shared, the value mutable, each entry keeping the
/// map's owner `G` (a lock guard, a `Box`, a `&mut`) alive. Entries may
/// outlive the walk and sit side by side, on any thread; the owner is
/// dropped with the last of them (a lock guard then releases its lock).
/// Nothing is moved or taken out of the map, and the map's owned bytes,
/// when tracked, are measured again at its next use, as after
/// [`HashMap::iter_mut`].
///
/// ```
/// use gomap::hash_map::{HashMap, SlotLender};
///
/// let mut map: HashMap<u32, u32> = (0..10).map(|k| (k, k)).collect();
/// let mut lent: Vec<_> = SlotLender::new(&mut map).collect();
/// for entry in &mut lent {
///     *entry.value_mut() *= 2;
/// }
/// drop(lent);
/// assert_eq!(map[&7], 14);
/// ```
pub struct SlotLender<G, K, V, A: Allocator = Global> {
    shared: Arc<Shared<G, K, V, A>>,
    /// The next entry's slot.
    next: Option<Slot>,
}

/// One entry lent by a [`SlotLender`]: its key, and its value to change.
/// It keeps the map's owner alive.
pub struct LentSlot<G, K, V, A: Allocator = Global> {
    shared: Arc<Shared<G, K, V, A>>,
    slot: Slot,
}

impl<G, K, V, A: Allocator> SlotLender<G, K, V, A> {
    /// Lends every entry of the map `owner` derefs to. The map is
    /// borrowed through `owner` once, here, and `owner` is kept untouched
    /// until the walk and all its entries are dropped.
    pub fn new<S>(owner: G) -> Self
    where
        G: DerefMut<Target = HashMap<K, V, S, A>>,
    {
        let mut shared = Arc::new(Shared {
            owner: UnsafeCell::new(owner),
            table: NonNull::dangling(),
        });
        let unique = Arc::get_mut(&mut shared).expect("just made");
        let table = unique.owner.get_mut().table_mut();
        // Every value is about to be lent mutably.
        table.lend_all();
        let next = table.next_slot(None);
        unique.table = NonNull::from(table);
        SlotLender { shared, next }
    }
}

impl<G, K, V, A: Allocator> Iterator for SlotLender<G, K, V, A> {
    type Item = LentSlot<G, K, V, A>;

    fn next(&mut self) -> Option<LentSlot<G, K, V, A>> {
        let slot = self.next?;
        self.next = self.shared.table().next_slot(Some(slot));
        Some(LentSlot {
            shared: self.shared.clone(),
            slot,
        })
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let most = if self.next.is_some() {
            self.shared.table().len()
        } else {
            0
        };
        (usize::from(self.next.is_some()), Some(most))
    }
}

const LENT: &str = "a lent slot is full while its lender's map is unchanged";

impl<G, K, V, A: Allocator> LentSlot<G, K, V, A> {
    /// Where the entry sits in the map.
    pub fn slot(&self) -> Slot {
        self.slot
    }

    /// The key and the value.
    pub fn pair(&self) -> (&K, &V) {
        let (bucket, slot) = self.shared.table().resolve(self.slot).expect(LENT);
        // SAFETY: a full slot of the lent table (module docs, 2); only this
        // entry writes its value, and it is borrowed shared here.
        unsafe { (&*bucket.key::<K, V>(slot), &*bucket.value::<K, V>(slot)) }
    }

    /// The key and the value, to change.
    pub fn pair_mut(&mut self) -> (&K, &mut V) {
        let (bucket, slot) = self.shared.table().resolve(self.slot).expect(LENT);
        // SAFETY: as in `pair`; this entry is the only one lent this slot
        // (module docs, 3) and is borrowed mutably here, so the `&mut V`
        // is unique.
        unsafe { (&*bucket.key::<K, V>(slot), &mut *bucket.value::<K, V>(slot)) }
    }

    /// The key as stored in the map.
    pub fn key(&self) -> &K {
        self.pair().0
    }

    /// The value.
    pub fn value(&self) -> &V {
        self.pair().1
    }

    /// The value, to change.
    pub fn value_mut(&mut self) -> &mut V {
        self.pair_mut().1
    }
}

impl<G, K: fmt::Debug, V: fmt::Debug, A: Allocator> fmt::Debug for LentSlot<G, K, V, A> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (k, v) = self.pair();
        f.debug_tuple("LentSlot").field(k).field(v).finish()
    }
}
