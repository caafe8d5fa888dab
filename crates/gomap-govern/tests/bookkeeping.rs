//! The registry's own memory is O(live maps), whatever the churn: short-lived
//! maps, subscribers that never read, a long run of events. Bytes are
//! counted by a counting global allocator (one test binary, one test, so
//! nothing else allocates meanwhile).

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicIsize, Ordering::Relaxed};

use gomap_govern::{Governed, GovernedSharded, Registry, RegistryConfig, Watermarks};

struct Counting;

static LIVE: AtomicIsize = AtomicIsize::new(0);

// SAFETY: every call forwards to `System` with the caller's arguments
// unchanged, so `System`'s guarantees are kept; the counter only observes.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LIVE.fetch_add(layout.size() as isize, Relaxed);
        // SAFETY: the caller's contract for `alloc` is passed on unchanged.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size() as isize, Relaxed);
        // SAFETY: the caller's contract for `dealloc` is passed on unchanged.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        LIVE.fetch_add(new_size as isize - layout.size() as isize, Relaxed);
        // SAFETY: the caller's contract for `realloc` is passed on unchanged.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

#[test]
fn bookkeeping_is_bounded_by_the_live_maps() {
    let config = RegistryConfig {
        kept_events: 32,
        subscription_capacity: 16,
        ..RegistryConfig::default()
    };
    let registry = Registry::with_config(config);
    // A subscriber that never reads.
    let deaf = registry.subscribe();
    // 100 maps that live throughout.
    let keep: Vec<Governed<u64, u64>> = (0..100)
        .map(|i| {
            Governed::builder(format!("kept {i}"))
                .registry(&registry)
                .build()
        })
        .collect();

    // Warm up (the first prunes size the handle list), then measure the
    // churn of 1e5 short-lived maps, each changing level twice (an event
    // each time), with no listing and no sampler.
    let churn = |n: u64| {
        for i in 0..n {
            let mut map: Governed<u64, u64> = Governed::builder("per request")
                .registry(&registry)
                .watermarks(Watermarks::entries(1, 1_000, 2_000).unwrap())
                .build();
            map.insert(i, i);
            map.clear();
            if i % 10 == 0 {
                let sharded: GovernedSharded<u64, u64> = GovernedSharded::builder("sharded")
                    .registry(&registry)
                    .shard_amount(2)
                    .build();
                sharded.insert(i, i);
            }
        }
    };
    churn(1_000);
    let before = LIVE.load(Relaxed);
    churn(100_000);
    let grown = LIVE.load(Relaxed) - before;

    let health = registry.health();
    // At most 2 × live + 64 handles (the prune rule), whatever the churn.
    assert!(
        health.map_handles <= 2 * 100 + 64,
        "{} handles for 100 live maps",
        health.map_handles
    );
    // The unread subscription holds its capacity, and says what it lost.
    assert_eq!(deaf.try_iter().count(), 16);
    assert!(deaf.dropped() >= 200_000 - 16, "{}", deaf.dropped());
    assert_eq!(health.events_dropped, deaf.dropped());
    assert!(registry.events().len() <= 32);
    // The bytes: what one churn of 1e3 left behind, not 1e5 × ~400 bytes.
    assert!(grown < 64 << 10, "the registry grew by {grown} bytes");
    assert_eq!(registry.maps().len(), 100);
    drop(keep);
    assert!(registry.maps().is_empty());
    assert_eq!(registry.health().map_handles, 0);

    // A thousand live maps, all but one dropped: the next registration
    // brings the handles down to the bound of the two live ones.
    let mut many: Vec<Governed<u64, u64>> = (0..1_000)
        .map(|_| Governed::builder("many").registry(&registry).build())
        .collect();
    many.truncate(1);
    let _one_more: Governed<u64, u64> = Governed::builder("one more").registry(&registry).build();
    let handles = registry.health().map_handles;
    assert!(handles <= 2 * 2 + 64, "{handles} handles for 2 live maps");
}
