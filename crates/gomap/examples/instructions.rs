//! Instructions per operation, gomap against hashbrown (same foldhash), for
//! callgrind, which counts instructions repeatably on a noisy machine. Each
//! operation sits in its own function so callgrind can count it alone:
//!
//! ```text
//! cargo build --release -p gomap --example instructions
//! for f in grow insert hit miss remove iterate; do for m in gomap hashbrown; do
//!   valgrind --tool=callgrind --callgrind-out-file=/dev/null --collect-atstart=no \
//!     --toggle-collect="instructions::${m}_$f" target/release/examples/instructions 2>&1 \
//!     | grep Collected | sed "s/^/$m $f /"; done; done
//! ```
//! Divide by `N` (100 000; `remove` takes half of them).

use std::hint::black_box;

#[path = "../tests/common/keys.rs"]
mod keys;
use keys::keys;

const N: usize = 100_000;

macro_rules! ops {
    ($map:ty, $grow:ident, $insert:ident, $hit:ident, $miss:ident, $remove:ident, $iterate:ident) => {
        #[inline(never)]
        fn $grow(keys: &[u64]) -> $map {
            let mut map = <$map>::default();
            for &k in keys {
                map.insert(k, k);
            }
            map
        }
        #[inline(never)]
        fn $insert(keys: &[u64]) -> $map {
            let mut map = <$map>::with_capacity(keys.len());
            for &k in keys {
                map.insert(k, k);
            }
            map
        }
        #[inline(never)]
        fn $hit(map: &$map, keys: &[u64]) -> u64 {
            keys.iter().filter_map(|k| map.get(black_box(k))).sum()
        }
        #[inline(never)]
        fn $miss(map: &$map, keys: &[u64]) -> usize {
            keys.iter()
                .filter(|k| map.contains_key(black_box(*k)))
                .count()
        }
        #[inline(never)]
        fn $remove(map: &mut $map, keys: &[u64]) {
            for k in keys {
                black_box(map.remove(k));
            }
        }
        #[inline(never)]
        fn $iterate(map: &$map) -> u64 {
            map.values().sum()
        }
    };
}

ops!(gomap::HashMap<u64, u64>, gomap_grow, gomap_insert, gomap_hit, gomap_miss, gomap_remove, gomap_iterate);
ops!(hashbrown::HashMap<u64, u64>, hashbrown_grow, hashbrown_insert, hashbrown_hit, hashbrown_miss, hashbrown_remove, hashbrown_iterate);

fn main() {
    let present = keys(N, 1);
    let absent = keys(N, 2);
    let mut go = gomap_insert(&present);
    let mut hb = hashbrown_insert(&present);
    black_box((gomap_hit(&go, &present), hashbrown_hit(&hb, &present)));
    black_box((gomap_miss(&go, &absent), hashbrown_miss(&hb, &absent)));
    black_box((gomap_iterate(&go), hashbrown_iterate(&hb)));
    gomap_remove(&mut go, &present[..N / 2]);
    hashbrown_remove(&mut hb, &present[..N / 2]);
    // Last: the maps it frees would otherwise change what later
    // allocations cost (calloc of reused memory is a memset).
    black_box((gomap_grow(&present), hashbrown_grow(&present)));
}
