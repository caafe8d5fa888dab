//! `get_disjoint_mut`: `&mut V`s to several entries at once. The one place
//! a map hands out more than one mutable reference into its table from a
//! lookup, so the aliasing check and the `unsafe` unchecked form live here.

use super::bucket::Bucket;
use super::RawTable;
use crate::{Equivalent, HashMap};
use allocator_api2::alloc::Allocator;
use core::hash::{BuildHasher, Hash};

impl<K, V, A: Allocator> RawTable<K, V, A> {
    /// Where each `(hash, eq(i, _))` lives, if it does. Lends every value
    /// (the caller hands out `&mut V`s), so owned bytes are measured again
    /// at the next write.
    fn find_each<const N: usize>(
        &mut self,
        hashes: [u64; N],
        mut eq: impl FnMut(usize, &K) -> bool,
    ) -> [Option<(Bucket, usize)>; N] {
        self.lend_all();
        let mut i = 0;
        hashes.map(|hash| {
            let found = self.find(hash, |k| eq(i, k));
            i += 1;
            found
        })
    }

    /// `&mut` to each found value.
    ///
    /// # Safety
    /// No two of `found` are the same slot; each is a full slot of this
    /// table, which stays borrowed mutably for as long as the references.
    unsafe fn values_mut<const N: usize>(
        &mut self,
        found: [Option<(Bucket, usize)>; N],
    ) -> [Option<&mut V>; N] {
        // SAFETY: distinct full slots of a table borrowed mutably (caller):
        // the `&mut V`s never alias.
        found.map(|at| at.map(|(bucket, slot)| unsafe { &mut *bucket.value::<K, V>(slot) }))
    }

    /// The value of each `(hashes[i], eq(i, _))`, mutably.
    ///
    /// # Panics
    /// `"duplicate keys found"` if two of them find the same entry (std's
    /// message).
    pub(crate) fn get_disjoint_mut<const N: usize>(
        &mut self,
        hashes: [u64; N],
        eq: impl FnMut(usize, &K) -> bool,
    ) -> [Option<&mut V>; N] {
        let found = self.find_each(hashes, eq);
        for (i, at) in found.iter().enumerate() {
            if let Some((bucket, slot)) = at {
                let same = |other: &Option<(Bucket, usize)>| {
                    other.is_some_and(|(b, s)| b.same(*bucket) && s == *slot)
                };
                if found[..i].iter().any(same) {
                    panic!("duplicate keys found");
                }
            }
        }
        // SAFETY: the slots are distinct (checked above) and full (found
        // just now); `self` stays borrowed for the references' lifetime.
        unsafe { self.values_mut(found) }
    }

    /// [`get_disjoint_mut`](Self::get_disjoint_mut) without the check.
    ///
    /// # Safety
    /// No two of the keys find the same entry.
    pub(crate) unsafe fn get_disjoint_unchecked_mut<const N: usize>(
        &mut self,
        hashes: [u64; N],
        eq: impl FnMut(usize, &K) -> bool,
    ) -> [Option<&mut V>; N] {
        let found = self.find_each(hashes, eq);
        // SAFETY: distinct (caller), full (found just now).
        unsafe { self.values_mut(found) }
    }
}

// The map's one `unsafe fn`: it sits here because `unsafe` is allowed only
// in this module.
impl<K: Eq + Hash, V, S: BuildHasher, A: Allocator> HashMap<K, V, S, A> {
    /// Mutable references to the values of `N` keys at once, without
    /// checking that the keys are distinct; `None` for a key that is
    /// absent.
    ///
    /// For a safe alternative see
    /// [`get_disjoint_mut`](HashMap::get_disjoint_mut).
    ///
    /// # Safety
    ///
    /// Calling this method with overlapping keys is *[undefined behavior]*
    /// even if the resulting references are not used.
    ///
    /// [undefined behavior]: https://doc.rust-lang.org/reference/behavior-considered-undefined.html
    ///
    /// ```
    /// use gomap::HashMap;
    ///
    /// let mut libraries = HashMap::new();
    /// libraries.insert("Bodleian Library".to_string(), 1602);
    /// libraries.insert("Athenæum".to_string(), 1807);
    ///
    /// // SAFETY: the keys do not overlap.
    /// let got = unsafe { libraries.get_disjoint_unchecked_mut(["Athenæum", "New York Public Library"]) };
    /// assert_eq!(got, [Some(&mut 1807), None]);
    /// ```
    pub unsafe fn get_disjoint_unchecked_mut<Q, const N: usize>(
        &mut self,
        ks: [&Q; N],
    ) -> [Option<&mut V>; N]
    where
        Q: Hash + Equivalent<K> + ?Sized,
    {
        let hashes = ks.map(|k| self.hasher().hash_one(k));
        // SAFETY: the caller's: the keys do not overlap.
        unsafe {
            self.table_mut()
                .get_disjoint_unchecked_mut(hashes, |i, k| ks[i].equivalent(k))
        }
    }
}
