//! A quick, noise-resistant lookup comparison for development: gomap and
//! hashbrown (same hasher) timed in alternating rounds, best round kept.
//!
//! `cargo run --release -p gomap --example lookup_probe -- [n ...]`
use std::hint::black_box;
use std::time::Instant;

#[path = "../tests/common/keys.rs"]
mod keys;
use keys::keys;

fn time(probes: &[u64], get: impl Fn(&u64) -> Option<u64>) -> f64 {
    let start = Instant::now();
    let mut acc = 0u64;
    for k in probes {
        acc = acc.wrapping_add(get(black_box(k)).unwrap_or(1));
    }
    black_box(acc);
    start.elapsed().as_nanos() as f64 / probes.len() as f64
}

fn main() {
    let sizes: Vec<usize> = std::env::args()
        .skip(1)
        .map(|a| a.parse().expect("sizes are numbers"))
        .collect();
    let sizes = if sizes.is_empty() {
        vec![1_000, 1_000_000, 10_000_000]
    } else {
        sizes
    };
    for n in sizes {
        let present = keys(n, 1);
        let absent = keys(50_000.min(n * 4), 2);
        let hits: Vec<u64> = present
            .iter()
            .step_by((n / 50_000).max(1))
            .copied()
            .collect();
        let go: gomap::HashMap<u64, u64> = present.iter().map(|&k| (k, k)).collect();
        let hb: hashbrown::HashMap<u64, u64> = present.iter().map(|&k| (k, k)).collect();
        black_box((probe_gomap_get(&go, &1), probe_hashbrown_get(&hb, &1)));
        // Each round times both maps back to back; the machine's speed
        // drifts between rounds, so compare within a round and take the
        // median ratio.
        let (mut hit, mut miss, mut abs) = (Vec::new(), Vec::new(), [0f64; 4]);
        for round in 0..31 {
            let (g_hit, h_hit, g_miss, h_miss);
            if round % 2 == 0 {
                g_hit = time(&hits, |k| go.get(k).copied());
                h_hit = time(&hits, |k| hb.get(k).copied());
                g_miss = time(&absent, |k| go.get(k).copied());
                h_miss = time(&absent, |k| hb.get(k).copied());
            } else {
                h_hit = time(&hits, |k| hb.get(k).copied());
                g_hit = time(&hits, |k| go.get(k).copied());
                h_miss = time(&absent, |k| hb.get(k).copied());
                g_miss = time(&absent, |k| go.get(k).copied());
            }
            hit.push(g_hit / h_hit);
            miss.push(g_miss / h_miss);
            for (a, v) in abs.iter_mut().zip([g_hit, h_hit, g_miss, h_miss]) {
                *a += v / 31.0;
            }
        }
        hit.sort_by(f64::total_cmp);
        miss.sort_by(f64::total_cmp);
        println!(
            "n={n:>9} hit ratio {:.2} (gomap {:.1} ns, hashbrown {:.1} ns) | miss ratio {:.2} (gomap {:.1} ns, hashbrown {:.1} ns)",
            hit[15], abs[0], abs[1], miss[15], abs[2], abs[3]
        );
    }
}

/// Kept out of line so its machine code can be read with objdump.
#[inline(never)]
#[no_mangle]
pub fn probe_gomap_get(map: &gomap::HashMap<u64, u64>, key: &u64) -> Option<u64> {
    map.get(key).copied()
}

/// hashbrown's, for comparison.
#[inline(never)]
#[no_mangle]
pub fn probe_hashbrown_get(map: &hashbrown::HashMap<u64, u64>, key: &u64) -> Option<u64> {
    map.get(key).copied()
}
