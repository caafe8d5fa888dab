//! A global allocator that counts per thread, and only while a test runs
//! `counted(..)`: bytes held (allocated minus freed) and allocation calls.
//! Tests may then run side by side, and a model's allocations outside
//! `counted` are not counted. Each test binary that includes this file
//! (`#[path]`) installs it with
//! `#[global_allocator] static ALLOCATOR: ThreadCounting = ThreadCounting;`.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

pub struct ThreadCounting;

thread_local! {
    /// Bytes this thread allocated minus what it freed, while `ON`.
    static LIVE: Cell<isize> = const { Cell::new(0) };
    /// Calls that allocated (or grew an allocation), while `ON`.
    static CALLS: Cell<usize> = const { Cell::new(0) };
    static ON: Cell<bool> = const { Cell::new(false) };
}

fn count(delta: isize) {
    // `try_with`: nothing to count during thread teardown.
    let _ = ON.try_with(|on| {
        if on.get() {
            LIVE.with(|live| live.set(live.get() + delta));
            if delta > 0 {
                CALLS.with(|calls| calls.set(calls.get() + 1));
            }
        }
    });
}

// SAFETY: every call forwards to `System` with the caller's arguments
// unchanged; the counter only observes.
unsafe impl GlobalAlloc for ThreadCounting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count(layout.size() as isize);
        // SAFETY: the caller's contract, passed on.
        unsafe { System.alloc(layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        count(layout.size() as isize);
        // SAFETY: the caller's contract, passed on.
        unsafe { System.alloc_zeroed(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        count(-(layout.size() as isize));
        // SAFETY: the caller's contract, passed on.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        count(new_size as isize - layout.size() as isize);
        // SAFETY: the caller's contract, passed on.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

/// Runs `f` with this thread's allocations counted.
pub fn counted<R>(f: impl FnOnce() -> R) -> R {
    ON.with(|on| on.set(true));
    let result = f();
    ON.with(|on| on.set(false));
    result
}

/// Bytes this thread holds from counted allocations.
pub fn live() -> isize {
    LIVE.with(Cell::get)
}

/// Counted calls that allocated on this thread.
#[allow(dead_code)] // not every including test counts calls
pub fn calls() -> usize {
    CALLS.with(Cell::get)
}
