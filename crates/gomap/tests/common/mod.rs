//! Shared test kit: a counting allocator, deliberately bad hashers, values
//! that count their own drops, and keys whose `Hash`/`Eq`/`Clone` panic on
//! cue. Each test binary uses part of it.
#![allow(dead_code)]

pub mod keys;

/// Proptest cases: `normal`, or `PROPTEST_CASES` when set (valgrind runs
/// fewer), or two under Miri, which runs ~1000x slower.
pub fn cases(normal: u32) -> u32 {
    if cfg!(miri) {
        2
    } else {
        std::env::var("PROPTEST_CASES")
            .ok()
            .and_then(|n| n.parse().ok())
            .unwrap_or(normal)
    }
}

/// A size for a test: `normal`, or `miri` under Miri.
pub const fn sized(normal: usize, miri: usize) -> usize {
    if cfg!(miri) {
        miri
    } else {
        normal
    }
}

use allocator_api2::alloc::{AllocError, Allocator, Global};
use std::alloc::Layout;
use std::cell::Cell;
use std::hash::{BuildHasher, Hash, Hasher};
use std::ptr::NonNull;
use std::rc::Rc;

/// Counts the bytes live in it; can be told to refuse allocations above a
/// limit of live bytes. Clones share the count.
#[derive(Clone, Default)]
pub struct CountingAlloc {
    live: Rc<Cell<usize>>,
    limit: Rc<Cell<Option<usize>>>,
}

impl CountingAlloc {
    pub fn live(&self) -> usize {
        self.live.get()
    }

    /// Refuse any allocation that would bring live bytes above `limit`.
    pub fn set_limit(&self, limit: Option<usize>) {
        self.limit.set(limit);
    }

    fn admit(&self, size: usize) -> Result<(), AllocError> {
        match self.limit.get() {
            Some(limit) if self.live.get() + size > limit => Err(AllocError),
            _ => Ok(()),
        }
    }
}

// SAFETY: forwards to `Global`, only counting sizes.
unsafe impl Allocator for CountingAlloc {
    fn allocate(&self, layout: Layout) -> Result<NonNull<[u8]>, AllocError> {
        self.admit(layout.size())?;
        let block = Global.allocate(layout)?;
        self.live.set(self.live.get() + layout.size());
        Ok(block)
    }

    fn allocate_zeroed(&self, layout: Layout) -> Result<NonNull<[u8]>, AllocError> {
        self.admit(layout.size())?;
        let block = Global.allocate_zeroed(layout)?;
        self.live.set(self.live.get() + layout.size());
        Ok(block)
    }

    unsafe fn deallocate(&self, ptr: NonNull<u8>, layout: Layout) {
        self.live.set(self.live.get() - layout.size());
        unsafe { Global.deallocate(ptr, layout) }
    }

    unsafe fn shrink(
        &self,
        ptr: NonNull<u8>,
        old: Layout,
        new: Layout,
    ) -> Result<NonNull<[u8]>, AllocError> {
        let block = unsafe { Global.shrink(ptr, old, new)? };
        self.live.set(self.live.get() - old.size() + new.size());
        Ok(block)
    }
}

/// Every key hashes to the same value: one endless overflow chain.
#[derive(Clone, Copy, Default)]
pub struct ConstHash;

pub struct ConstHasher;

impl Hasher for ConstHasher {
    fn finish(&self) -> u64 {
        0x9e37_79b9_7f4a_7c15
    }
    fn write(&mut self, _: &[u8]) {}
}

impl BuildHasher for ConstHash {
    type Hasher = ConstHasher;
    fn build_hasher(&self) -> ConstHasher {
        ConstHasher
    }
}

/// Real low bits, but every hash has the same top byte: every tophash
/// matches, so every probe compares keys.
#[derive(Clone, Copy, Default)]
pub struct SameTopByte;

pub struct SameTopByteHasher(foldhash::fast::FoldHasher<'static>);

impl Hasher for SameTopByteHasher {
    fn finish(&self) -> u64 {
        (self.0.finish() & 0x00ff_ffff_ffff_ffff) | (0xab << 56)
    }
    fn write(&mut self, bytes: &[u8]) {
        self.0.write(bytes)
    }
}

impl BuildHasher for SameTopByte {
    type Hasher = SameTopByteHasher;
    fn build_hasher(&self) -> SameTopByteHasher {
        SameTopByteHasher(foldhash::fast::FixedState::with_seed(7).build_hasher())
    }
}

thread_local! {
    static LIVE_VALUES: Cell<isize> = const { Cell::new(0) };
    static PANIC_COUNTDOWN: Cell<u64> = const { Cell::new(0) };
}

/// Values alive right now on this thread.
pub fn live_values() -> isize {
    LIVE_VALUES.with(Cell::get)
}

/// A value that counts itself alive; dropping one twice drives the count
/// below what the map holds, and a leak leaves it above.
#[derive(Debug, PartialEq, Eq)]
pub struct Counted(pub u32);

impl Counted {
    pub fn new(v: u32) -> Self {
        LIVE_VALUES.with(|c| c.set(c.get() + 1));
        Counted(v)
    }
}

impl Clone for Counted {
    fn clone(&self) -> Self {
        Counted::new(self.0)
    }
}

impl Drop for Counted {
    fn drop(&mut self) {
        LIVE_VALUES.with(|c| c.set(c.get() - 1));
    }
}

/// After `n` more calls to `tick`, the next one panics. 0 disarms.
pub fn arm_panic(n: u64) {
    PANIC_COUNTDOWN.with(|c| c.set(n));
}

pub fn disarm_panic() {
    arm_panic(0);
}

/// Count one user-code call; panic when the countdown reaches it.
pub fn tick(what: &str) {
    let fire = PANIC_COUNTDOWN.with(|c| match c.get() {
        0 => false,
        1 => {
            c.set(0);
            true
        }
        n => {
            c.set(n - 1);
            false
        }
    });
    if fire {
        panic!("planned panic in {what}");
    }
}

/// A key whose `Hash`, `Eq` and `Clone` may panic (see `arm_panic`).
#[derive(Debug)]
pub struct PanicKey(pub u16);

impl Hash for PanicKey {
    fn hash<H: Hasher>(&self, state: &mut H) {
        tick("Hash");
        self.0.hash(state)
    }
}

impl PartialEq for PanicKey {
    fn eq(&self, other: &Self) -> bool {
        tick("Eq");
        self.0 == other.0
    }
}

impl Eq for PanicKey {}

impl Clone for PanicKey {
    fn clone(&self) -> Self {
        tick("Clone");
        PanicKey(self.0)
    }
}

/// A counted value whose `Drop` and `Clone` may panic (after counting).
#[derive(Debug)]
pub struct PanicValue(pub Counted);

impl PanicValue {
    pub fn new(v: u32) -> Self {
        PanicValue(Counted::new(v))
    }
}

impl Clone for PanicValue {
    fn clone(&self) -> Self {
        tick("Clone");
        PanicValue(self.0.clone())
    }
}

impl Drop for PanicValue {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            tick("Drop");
        }
    }
}
