//! `ShardedMap::mem_stats` is exact: after every step, the bytes the process
//! holds beyond what it held before the map had buckets equal the summed
//! `allocated_bytes` of the shards (keys and values are plain numbers, so
//! the map's tables are all it allocates between steps).
//!
//! One test in its own binary: the counting allocator is process-wide.
#![cfg(not(loom))]

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

use gomap_sync::ShardedMap;

struct Counting;

static LIVE_BYTES: AtomicUsize = AtomicUsize::new(0);

// SAFETY: every call forwards to `System` with the caller's arguments
// unchanged, so `System`'s guarantees are kept; the counter only observes.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: the caller's contract for `alloc` is passed on unchanged.
        let ptr = unsafe { System.alloc(layout) };
        if !ptr.is_null() {
            LIVE_BYTES.fetch_add(layout.size(), Ordering::Relaxed);
        }
        ptr
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE_BYTES.fetch_sub(layout.size(), Ordering::Relaxed);
        // SAFETY: the caller's contract for `dealloc` is passed on unchanged.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: the caller's contract for `realloc` is passed on unchanged.
        let new = unsafe { System.realloc(ptr, layout, new_size) };
        if !new.is_null() {
            LIVE_BYTES.fetch_add(new_size, Ordering::Relaxed);
            LIVE_BYTES.fetch_sub(layout.size(), Ordering::Relaxed);
        }
        new
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

#[test]
fn mem_stats_equals_the_allocator_after_every_step() {
    let map: ShardedMap<u64, u64> = ShardedMap::with_shard_amount(8);
    // Threads, and threads parking on a contended lock, make std and
    // parking_lot allocate per-process tables once (parking_lot's grows
    // with the number of threads parked at once): let that happen before
    // the baseline, with the same two writers on one shard, which contend
    // on every write.
    for _ in 0..3 {
        concurrent_writes(&ShardedMap::with_shard_amount(1));
    }
    let base = LIVE_BYTES.load(Ordering::Relaxed);
    let check = |step: &str| {
        let stats = map.mem_stats();
        let held = LIVE_BYTES.load(Ordering::Relaxed) - base;
        assert_eq!(held, stats.allocated_bytes, "after {step}: {stats:?}");
        stats
    };
    for i in 0..100_000u64 {
        map.insert(i, i);
        if i % 997 == 0 {
            check("insert");
        }
    }
    let peak = check("fill").allocated_bytes;
    for i in 0..99_000u64 {
        map.remove(&i);
        if i % 997 == 0 {
            check("remove");
        }
    }
    // Every shard gave memory back by itself as it emptied.
    let after = check("removal").allocated_bytes;
    assert!(
        after * 10 < peak,
        "{after} of {peak} bytes still held after 99% removal"
    );

    // Concurrent writers, checked once they are done.
    concurrent_writes(&map);
    check("threads");
    map.shrink_to_fit();
    check("shrink_to_fit");
    map.clear();
    check("clear");
    map.insert(1, 1);
    check("insert after clear");
    map.reset();
    assert_eq!(check("reset").allocated_bytes, 0);
    (&map).extend((0..1000).map(|i| (i, i)));
    let taken = map.take_shards();
    let in_taken: usize = taken.iter().map(|m| m.mem_stats().allocated_bytes).sum();
    let vec = taken.capacity() * std::mem::size_of::<gomap::HashMap<u64, u64>>();
    let held = LIVE_BYTES.load(Ordering::Relaxed) - base;
    assert_eq!(held, in_taken + vec + map.mem_stats().allocated_bytes);
    assert_eq!(map.mem_stats().allocated_bytes, 0);
}

/// Two writers; joined explicitly, which (unlike the scope's implicit
/// join) also waits for their thread-local destructors, so nothing of the
/// threads is still allocated when the bytes are counted.
fn concurrent_writes(map: &ShardedMap<u64, u64>) {
    std::thread::scope(|s| {
        let writers: Vec<_> = (0..2u64)
            .map(|t| {
                s.spawn(move || {
                    for i in 0..50_000u64 {
                        map.insert(1_000_000 * (t + 1) + i, i);
                        if i % 2 == 0 {
                            map.remove(&(1_000_000 * (t + 1) + i / 2));
                        }
                    }
                })
            })
            .collect();
        for writer in writers {
            writer.join().unwrap();
        }
    });
}
