use std::hint::black_box;
#[path = "../tests/common/keys.rs"]
mod keys;
use keys::keys;

#[inline(never)]
fn gomap_grow(keys: &[u64]) -> gomap::HashMap<u64, u64> {
    let mut map = gomap::HashMap::new();
    for &k in keys {
        map.insert(k, k);
    }
    map
}
#[inline(never)]
fn hashbrown_grow(keys: &[u64]) -> hashbrown::HashMap<u64, u64, foldhash::fast::RandomState> {
    let mut map = hashbrown::HashMap::with_hasher(Default::default());
    for &k in keys {
        map.insert(k, k);
    }
    map
}
fn main() {
    let n: usize = std::env::args().nth(1).map_or(200_000, |s| s.parse().unwrap());
    let ks = keys(n, 7);
    black_box(gomap_grow(&ks));
    black_box(hashbrown_grow(&ks));
}
