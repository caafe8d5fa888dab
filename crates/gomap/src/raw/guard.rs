//! The one scope guard: a value with a closure that runs on it when the
//! guard is dropped — at the end of the scope, or while a panic in user
//! code (`Hash`, `Drop`, `Clone`) unwinds through it. The table uses it to
//! stay consistent and leak nothing whatever user code does.

use core::ops::{Deref, DerefMut};

pub(super) struct ScopeGuard<T, F: FnMut(&mut T)> {
    value: T,
    on_drop: F,
}

/// `value`, with `on_drop` run on it when the guard goes.
pub(super) fn guard<T, F: FnMut(&mut T)>(value: T, on_drop: F) -> ScopeGuard<T, F> {
    ScopeGuard { value, on_drop }
}

impl<T, F: FnMut(&mut T)> Deref for ScopeGuard<T, F> {
    type Target = T;

    fn deref(&self) -> &T {
        &self.value
    }
}

impl<T, F: FnMut(&mut T)> DerefMut for ScopeGuard<T, F> {
    fn deref_mut(&mut self) -> &mut T {
        &mut self.value
    }
}

impl<T, F: FnMut(&mut T)> Drop for ScopeGuard<T, F> {
    fn drop(&mut self) {
        (self.on_drop)(&mut self.value);
    }
}
