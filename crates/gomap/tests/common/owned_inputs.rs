//! `String → Vec<u8>` inputs for measuring what keeping owned bytes costs
//! (the `owned` benchmark and the `owned_probe` example, included with
//! `#[path]`).

#![allow(dead_code)]

/// The map both variants use: gomap's default hasher.
pub type Map = gomap::HashMap<String, Vec<u8>>;

/// An empty map, keeping owned bytes (`String::capacity`,
/// `Vec::capacity`) or not.
pub fn map(tracked: bool) -> Map {
    let m = Map::default();
    if tracked {
        m.with_owned_bytes(String::capacity, Vec::capacity)
    } else {
        m
    }
}

/// `n` pairs from `seed`: distinct keys of 16 to 32 bytes, values of 64 to
/// 512 bytes. The keys depend only on the index, so two seeds give the same
/// keys with different values.
pub fn pairs(n: usize, seed: u64) -> Vec<(String, Vec<u8>)> {
    (0..n as u64)
        .map(|i| {
            let k = mix(i);
            // 16 hex digits (distinct for distinct `i`: `mix` is a
            // bijection), padded to 16..=32 bytes.
            let mut key = format!("{k:016x}");
            let len = 16 + (mix(k) % 17) as usize;
            while key.len() < len {
                key.push('.');
            }
            key.shrink_to_fit();
            let v = mix(i ^ seed.wrapping_mul(0x9e37_79b9_7f4a_7c15));
            let value = vec![v as u8; 64 + (v % 449) as usize];
            (key, value)
        })
        .collect()
}

/// splitmix64's finaliser.
fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}
