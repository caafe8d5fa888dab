//! Instructions per insert, `ShardedMap` against DashMap (same foldhash),
//! one thread growing an empty map to `N` keys, for callgrind, which counts
//! instructions repeatably on a noisy machine:
//!
//! ```text
//! cargo build --release -p gomap-sync --example sharded_instructions
//! for m in sharded dashmap; do
//!   valgrind --tool=callgrind --callgrind-out-file=/dev/null --collect-atstart=no \
//!     --toggle-collect="sharded_instructions::${m}_grow" target/release/examples/sharded_instructions 2>&1 \
//!     | grep Collected | sed "s/^/$m /"; done
//! ```
//! Divide by `N` (100 000). gomap's own `instructions` example counts the
//! core map's growing insert the same way, against hashbrown's.

use std::hint::black_box;

#[path = "../../gomap/tests/common/keys.rs"]
mod keys;
use keys::keys;

const N: usize = 100_000;

#[inline(never)]
fn sharded_grow(keys: &[u64]) -> gomap_sync::ShardedMap<u64, u64> {
    let map = gomap_sync::ShardedMap::new();
    for &k in keys {
        map.insert(k, k);
    }
    map
}

#[inline(never)]
fn dashmap_grow(keys: &[u64]) -> dashmap::DashMap<u64, u64, foldhash::fast::RandomState> {
    let map = dashmap::DashMap::with_hasher(foldhash::fast::RandomState::default());
    for &k in keys {
        map.insert(k, k);
    }
    map
}

fn main() {
    let keys = keys(N, 1);
    black_box(sharded_grow(black_box(&keys)).len());
    black_box(dashmap_grow(black_box(&keys)).len());
}
