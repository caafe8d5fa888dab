//! Concurrent-map throughput in the manner of xacrimon's conc-map-bench:
//! fixed operation mixes, 1 and 2 threads, ShardedMap and SyncMap against
//! `dashmap::DashMap` and `RwLock<std::collections::HashMap>` in the same
//! run, all hashing with foldhash.
//!
//! ```text
//! cargo bench -p gomap-sync --bench conc              # full run (~2 min)
//! cargo bench -p gomap-sync --bench conc -- --quick   # a smoke run
//! ```
//!
//! Each round runs every map once, in rotating order, on the same
//! pre-generated operations; the ratio to DashMap is taken per round and the
//! median over rounds is reported, so machine noise that lasts a round hits
//! every map alike.

use std::collections::HashMap as StdMap;
use std::hint::black_box;
use std::sync::{Barrier, RwLock};
use std::time::{Duration, Instant};

use dashmap::DashMap;
use gomap_sync::{ShardedMap, SyncMap};

type Hasher = foldhash::fast::RandomState;

/// What a benchmarked map must do.
trait Map: Sync {
    const NAME: &'static str;
    fn new() -> Self;
    fn insert(&self, key: u64);
    fn get(&self, key: u64) -> bool;
    fn remove(&self, key: u64);
    fn update(&self, key: u64);
    /// Called once between prefill and the timed run (SyncMap promotes).
    fn settle(&self) {}
}

impl Map for ShardedMap<u64, u64, Hasher> {
    const NAME: &'static str = "gomap ShardedMap";
    fn new() -> Self {
        ShardedMap::with_hasher(Hasher::default())
    }
    fn insert(&self, key: u64) {
        ShardedMap::insert(self, key, key);
    }
    fn get(&self, key: u64) -> bool {
        ShardedMap::get(self, &key).is_some()
    }
    fn remove(&self, key: u64) {
        ShardedMap::remove(self, &key);
    }
    fn update(&self, key: u64) {
        if let Some(mut v) = self.get_mut(&key) {
            *v += 1;
        }
    }
}

impl Map for SyncMap<u64, u64, Hasher> {
    const NAME: &'static str = "gomap SyncMap";
    fn new() -> Self {
        SyncMap::with_hasher(Hasher::default())
    }
    fn insert(&self, key: u64) {
        self.store(key, key);
    }
    fn get(&self, key: u64) -> bool {
        self.load(&key).is_some()
    }
    fn remove(&self, key: u64) {
        self.delete(&key);
    }
    fn update(&self, key: u64) {
        if let Some(v) = self.load(&key) {
            self.compare_and_swap(&key, &v, *v + 1);
        }
    }
    fn settle(&self) {
        // A range promotes the dirty map: the prefilled keys are then read
        // without a lock, the state a read-mostly map lives in.
        self.range(|_, _| false);
    }
}

impl Map for DashMap<u64, u64, Hasher> {
    const NAME: &'static str = "DashMap";
    fn new() -> Self {
        DashMap::with_hasher(Hasher::default())
    }
    fn insert(&self, key: u64) {
        DashMap::insert(self, key, key);
    }
    fn get(&self, key: u64) -> bool {
        DashMap::get(self, &key).is_some()
    }
    fn remove(&self, key: u64) {
        DashMap::remove(self, &key);
    }
    fn update(&self, key: u64) {
        if let Some(mut v) = self.get_mut(&key) {
            *v += 1;
        }
    }
}

impl Map for RwLock<StdMap<u64, u64, Hasher>> {
    const NAME: &'static str = "RwLock<std HashMap>";
    fn new() -> Self {
        RwLock::new(StdMap::with_hasher(Hasher::default()))
    }
    fn insert(&self, key: u64) {
        self.write().unwrap().insert(key, key);
    }
    fn get(&self, key: u64) -> bool {
        self.read().unwrap().contains_key(&key)
    }
    fn remove(&self, key: u64) {
        self.write().unwrap().remove(&key);
    }
    fn update(&self, key: u64) {
        if let Some(v) = self.write().unwrap().get_mut(&key) {
            *v += 1;
        }
    }
}

#[derive(Clone, Copy)]
enum Op {
    Get(u64),
    Insert(u64),
    Remove(u64),
    Update(u64),
}

/// An operation mix, in percent.
#[derive(Clone, Copy)]
struct Mix {
    name: &'static str,
    get: u32,
    insert: u32,
    remove: u32,
    /// Keys put in before the timed run.
    prefill: Prefill,
}

#[derive(Clone, Copy)]
enum Prefill {
    None,
    /// The run's prefill size (`--prefill`).
    Default,
    /// A map that fits in cache, whatever `--prefill` says.
    Keys(u64),
}

const MIXES: [Mix; 5] = [
    Mix {
        name: "read-heavy (98% get, 1% insert, 1% remove)",
        get: 98,
        insert: 1,
        remove: 1,
        prefill: Prefill::Default,
    },
    Mix {
        name: "exchange (10% get, 40% insert, 40% remove, 10% update)",
        get: 10,
        insert: 40,
        remove: 40,
        prefill: Prefill::Default,
    },
    Mix {
        name: "rapid-grow (100% insert)",
        get: 0,
        insert: 100,
        remove: 0,
        prefill: Prefill::None,
    },
    Mix {
        name: "read-only, promoted keys (100% get)",
        get: 100,
        insert: 0,
        remove: 0,
        prefill: Prefill::Default,
    },
    Mix {
        name: "read-only, promoted keys, 1024-key map in cache (100% get)",
        get: 100,
        insert: 0,
        remove: 0,
        prefill: Prefill::Keys(1024),
    },
];

impl Mix {
    fn prefill(&self, default: u64) -> u64 {
        match self.prefill {
            Prefill::None => 0,
            Prefill::Default => default,
            Prefill::Keys(n) => n,
        }
    }
}

fn splitmix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// The operations of one thread: gets and updates of prefilled keys,
/// inserts of keys of its own, removes of its own keys inserted earlier
/// (so the map's size stays level where inserts and removes balance).
fn ops(mix: Mix, thread: u64, prefill: u64, count: usize) -> Vec<Op> {
    let mut state = splitmix(thread + 1);
    let mut next = move || {
        state = splitmix(state);
        state
    };
    let own = |i: u64| splitmix((thread + 1) << 40 | i);
    let (mut inserted, mut removed) = (0u64, 0u64);
    (0..count)
        .map(|_| {
            let r = next();
            let pct = (r % 100) as u32;
            let existing = splitmix((r >> 8) % mix.prefill(prefill).max(1));
            if pct < mix.get {
                Op::Get(existing)
            } else if pct < mix.get + mix.insert {
                inserted += 1;
                Op::Insert(own(inserted))
            } else if pct < mix.get + mix.insert + mix.remove && removed < inserted {
                removed += 1;
                Op::Remove(own(removed))
            } else {
                Op::Update(existing)
            }
        })
        .collect()
}

fn run<M: Map>(mix: Mix, prefill: u64, per_thread: &[Vec<Op>]) -> Duration {
    let map = M::new();
    for k in 0..mix.prefill(prefill) {
        map.insert(splitmix(k));
    }
    map.settle();
    let barrier = Barrier::new(per_thread.len() + 1);
    let elapsed = std::thread::scope(|s| {
        for ops in per_thread {
            let (map, barrier) = (&map, &barrier);
            s.spawn(move || {
                barrier.wait();
                let mut hits = 0u64;
                for op in ops {
                    match *op {
                        Op::Get(k) => hits += map.get(k) as u64,
                        Op::Insert(k) => map.insert(k),
                        Op::Remove(k) => map.remove(k),
                        Op::Update(k) => map.update(k),
                    }
                }
                black_box(hits);
            });
        }
        barrier.wait();
        let start = Instant::now();
        // Leaving the scope joins every thread.
        start
    });
    let took = elapsed.elapsed();
    drop(black_box(map));
    took
}

fn median(mut xs: Vec<f64>) -> f64 {
    xs.sort_by(f64::total_cmp);
    xs[xs.len() / 2]
}

type Runner = fn(Mix, u64, &[Vec<Op>]) -> Duration;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let flag = |name: &str| {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1))
    };
    let quick = args.iter().any(|a| a == "--quick");
    let (mut rounds, mut ops_per_thread, mut prefill): (usize, usize, u64) = if quick {
        (3, 50_000, 1 << 14)
    } else {
        (9, 1_000_000, 1 << 17)
    };
    let number = |name: &str, default: usize| -> usize {
        flag(name).map_or(default, |v| {
            v.parse()
                .unwrap_or_else(|_| panic!("{name} takes a number, not {v:?}"))
        })
    };
    rounds = number("--rounds", rounds);
    ops_per_thread = number("--ops", ops_per_thread);
    prefill = number("--prefill", prefill as usize) as u64;
    let only = flag("--only").cloned().unwrap_or_default();
    let threads_flag = flag("--threads").cloned();
    let map_flag = flag("--map").cloned().unwrap_or_default();
    let maps: [(&str, Runner); 4] = [
        (
            <DashMap<u64, u64, Hasher> as Map>::NAME,
            run::<DashMap<u64, u64, Hasher>>,
        ),
        (
            <ShardedMap<u64, u64, Hasher> as Map>::NAME,
            run::<ShardedMap<u64, u64, Hasher>>,
        ),
        (
            <SyncMap<u64, u64, Hasher> as Map>::NAME,
            run::<SyncMap<u64, u64, Hasher>>,
        ),
        (
            <RwLock<StdMap<u64, u64, Hasher>> as Map>::NAME,
            run::<RwLock<StdMap<u64, u64, Hasher>>>,
        ),
    ];
    println!(
        "{rounds} rounds, {ops_per_thread} ops per thread, prefill {prefill} keys; \
         Mops/s is the median over rounds, ratio is the median of per-round ratios to DashMap (> 1 is faster)\n"
    );
    println!("| workload | threads | map | Mops/s | vs DashMap |");
    println!("|---|---|---|---|---|");
    for mix in MIXES.into_iter().filter(|m| m.name.contains(only.as_str())) {
        for threads in [1u64, 2] {
            if threads_flag
                .as_ref()
                .is_some_and(|t| *t != threads.to_string())
            {
                continue;
            }
            let per_thread: Vec<Vec<Op>> = (0..threads)
                .map(|t| ops(mix, t, prefill, ops_per_thread))
                .collect();
            let total = (threads as usize * ops_per_thread) as f64;
            let mut mops = vec![Vec::new(); maps.len()];
            let mut ratios = vec![Vec::new(); maps.len()];
            for round in 0..rounds {
                let mut secs = vec![0.0; maps.len()];
                for i in 0..maps.len() {
                    let m = (i + round) % maps.len();
                    if m != 0 && !maps[m].0.contains(map_flag.as_str()) {
                        secs[m] = f64::NAN;
                        continue;
                    }
                    secs[m] = (maps[m].1)(mix, prefill, &per_thread).as_secs_f64();
                }
                for m in 0..maps.len() {
                    mops[m].push(total / secs[m] / 1e6);
                    ratios[m].push(secs[0] / secs[m]);
                }
            }
            for m in 0..maps.len() {
                if mops[m].iter().any(|x| x.is_nan()) {
                    continue;
                }
                println!(
                    "| {} | {threads} | {} | {:.1} | {:.2} |",
                    mix.name,
                    maps[m].0,
                    median(mops[m].clone()),
                    median(ratios[m].clone())
                );
            }
        }
    }
}
