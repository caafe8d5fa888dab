//! The synchronisation primitives the maps are written against.
//!
//! In a normal build these are parking_lot's locks, std's atomics and
//! arc-swap's atomic `Arc` cell. Under `--cfg loom` they are stand-ins built
//! on loom's primitives with the same method names, so the loom tests explore
//! every interleaving of the maps' own protocol (lock order, snapshot swaps,
//! the entry state machine). The stand-in for arc-swap is a loom mutex around
//! the pointer: it models what the protocol relies on (load, store, swap and
//! compare-and-swap are each one atomic step), not arc-swap's own lock-free
//! internals, which arc-swap tests itself.

#[cfg(loom)]
pub(crate) use imp_loom::*;
#[cfg(not(loom))]
pub(crate) use imp_std::*;

#[cfg(not(loom))]
mod imp_std {
    pub(crate) use arc_swap::{ArcSwapAny as ArcCell, Guard};
    pub(crate) use parking_lot::{
        Mutex, RwLock, RwLockReadGuard as ReadGuard, RwLockWriteGuard as WriteGuard,
    };
    pub(crate) use std::sync::atomic::{AtomicBool, AtomicIsize, Ordering};
}

#[cfg(loom)]
mod imp_loom {
    use std::ops::Deref;
    use std::sync::Arc;

    pub(crate) use loom::sync::atomic::{AtomicBool, AtomicIsize, Ordering};
    pub(crate) type ReadGuard<'a, T> = loom::sync::RwLockReadGuard<'a, T>;
    pub(crate) type WriteGuard<'a, T> = loom::sync::RwLockWriteGuard<'a, T>;

    /// parking_lot's `Mutex` API over loom's.
    #[derive(Debug)]
    pub(crate) struct Mutex<T>(loom::sync::Mutex<T>);

    impl<T> Mutex<T> {
        pub(crate) fn new(value: T) -> Self {
            Mutex(loom::sync::Mutex::new(value))
        }
        pub(crate) fn lock(&self) -> loom::sync::MutexGuard<'_, T> {
            self.0.lock().expect("a loom test thread panicked")
        }
    }

    /// parking_lot's `RwLock` API over loom's.
    #[derive(Debug)]
    pub(crate) struct RwLock<T>(loom::sync::RwLock<T>);

    impl<T> RwLock<T> {
        pub(crate) fn new(value: T) -> Self {
            RwLock(loom::sync::RwLock::new(value))
        }
        pub(crate) fn read(&self) -> ReadGuard<'_, T> {
            self.0.read().expect("a loom test thread panicked")
        }
        pub(crate) fn write(&self) -> WriteGuard<'_, T> {
            self.0.write().expect("a loom test thread panicked")
        }
        pub(crate) fn try_write(&self) -> Option<WriteGuard<'_, T>> {
            self.0.try_write().ok()
        }
        pub(crate) fn get_mut(&mut self) -> &mut T {
            self.0.get_mut().expect("a loom test thread panicked")
        }
        pub(crate) fn into_inner(self) -> T {
            self.0.into_inner().expect("a loom test thread panicked")
        }
    }

    /// What the cell can hold: `Arc<T>` or `Option<Arc<T>>`, compared by
    /// address like arc-swap does.
    pub(crate) trait ArcLike: Clone {
        fn addr(&self) -> usize;
    }

    impl<T> ArcLike for Arc<T> {
        fn addr(&self) -> usize {
            Arc::as_ptr(self) as *const () as usize
        }
    }

    impl<T> ArcLike for Option<Arc<T>> {
        fn addr(&self) -> usize {
            self.as_ref().map_or(0, ArcLike::addr)
        }
    }

    /// arc-swap's `Guard`: a loaded value that keeps its target alive.
    #[derive(Debug)]
    pub(crate) struct Guard<T>(T);

    impl<T> Guard<T> {
        pub(crate) fn into_inner(guard: Self) -> T {
            guard.0
        }
        pub(crate) fn from_inner(inner: T) -> Self {
            Guard(inner)
        }
    }

    impl<T> Deref for Guard<T> {
        type Target = T;
        fn deref(&self) -> &T {
            &self.0
        }
    }

    /// arc-swap's `ArcSwapAny`, each operation one atomic step.
    #[derive(Debug)]
    pub(crate) struct ArcCell<T>(loom::sync::Mutex<T>);

    impl<T: ArcLike> ArcCell<T> {
        pub(crate) fn new(value: T) -> Self {
            ArcCell(loom::sync::Mutex::new(value))
        }
        pub(crate) fn load(&self) -> Guard<T> {
            Guard(self.0.lock().unwrap().clone())
        }
        pub(crate) fn store(&self, value: T) {
            drop(self.swap(value));
        }
        pub(crate) fn swap(&self, value: T) -> T {
            std::mem::replace(&mut *self.0.lock().unwrap(), value)
        }
        /// Stores `new` if the cell still holds `current`; returns what the
        /// cell held before either way.
        pub(crate) fn compare_and_swap(&self, current: &Guard<T>, new: T) -> Guard<T> {
            let mut cell = self.0.lock().unwrap();
            if cell.addr() == current.0.addr() {
                Guard(std::mem::replace(&mut *cell, new))
            } else {
                Guard(cell.clone())
            }
        }
    }
}
