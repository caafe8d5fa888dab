//! Five ways to empty a map, and what each costs.

use std::collections::HashMap as StdMap;
use std::time::Instant;

use bumpalo::Bump;
use gomap::ShrinkPolicy;
use hashbrown::HashMap as BrownMap;
use serde::Serialize;

use crate::measure::{bytes_since, human_bytes, keys, live_bytes, progress};
use crate::Outcome;

type Hasher = foldhash::fast::RandomState;

/// The five methods.
pub const METHODS: [&str; 5] = [
    "remove every key in a loop",
    "replace with a new map",
    "clear()",
    "reset() / clear()+shrink_to_fit() (memory back now)",
    "drop an arena of maps",
];

/// One map, one method.
#[derive(Clone, Debug, Serialize)]
pub struct Row {
    pub map: &'static str,
    pub method: &'static str,
    /// How long emptying took.
    pub millis: f64,
    /// Bytes the map held full.
    pub bytes_before: usize,
    /// Bytes it holds emptied.
    pub bytes_after: usize,
    /// Bytes after putting back 1 % of the entries.
    pub bytes_after_refill: usize,
    /// For gomap: whether `mem_stats().allocated_bytes` agreed with the
    /// counting allocator at every step.
    pub mem_stats_agrees: Option<bool>,
}

#[derive(Clone, Debug, Serialize)]
pub struct Clear {
    pub n: usize,
    pub rows: Vec<Row>,
}

/// The maps under test, behind one face.
trait Map {
    fn insert(&mut self, k: u64);
    fn remove(&mut self, k: u64);
    fn clear(&mut self);
    fn release(&mut self);
    fn renew(&mut self);
    /// The map's own account of its bytes, if it keeps one.
    fn reported(&self) -> Option<usize>;
}

struct Go(gomap::HashMap<u64, u64, Hasher>);
struct Std(StdMap<u64, u64, Hasher>);
struct Brown(BrownMap<u64, u64, Hasher>);

impl Map for Go {
    fn insert(&mut self, k: u64) {
        self.0.insert(k, k);
    }
    fn remove(&mut self, k: u64) {
        self.0.remove(&k);
    }
    fn clear(&mut self) {
        self.0.clear();
    }
    fn release(&mut self) {
        self.0.reset();
    }
    fn renew(&mut self) {
        let policy = self.0.shrink_policy();
        self.0 = gomap::HashMap::with_hasher(Hasher::default()).with_shrink_policy(policy);
    }
    fn reported(&self) -> Option<usize> {
        Some(self.0.mem_stats().allocated_bytes)
    }
}

/// std's `HashMap` and hashbrown's share an API: one impl for both.
macro_rules! std_like {
    ($wrapper:ident, $map:ident) => {
        impl Map for $wrapper {
            fn insert(&mut self, k: u64) {
                self.0.insert(k, k);
            }
            fn remove(&mut self, k: u64) {
                self.0.remove(&k);
            }
            fn clear(&mut self) {
                self.0.clear();
            }
            fn release(&mut self) {
                self.0.clear();
                self.0.shrink_to_fit();
            }
            fn renew(&mut self) {
                self.0 = $map::with_hasher(Hasher::default());
            }
            fn reported(&self) -> Option<usize> {
                None
            }
        }
    };
}

std_like!(Std, StdMap);
std_like!(Brown, BrownMap);

fn go(policy: ShrinkPolicy) -> Box<dyn Map> {
    Box::new(Go(
        gomap::HashMap::with_hasher(Hasher::default()).with_shrink_policy(policy)
    ))
}

/// Fills `map`, empties it by `method` (0..4), refills 1 %.
fn one(name: &'static str, mut map: Box<dyn Map>, method: usize, keys: &[u64]) -> Row {
    let base = live_bytes();
    let mut agrees = map.reported().map(|_| true);
    let mut check = |map: &dyn Map, counted: usize| {
        if let (Some(ok), Some(reported)) = (agrees.as_mut(), map.reported()) {
            *ok &= reported == counted;
        }
    };
    for &k in keys {
        map.insert(k);
    }
    let bytes_before = bytes_since(base);
    check(&*map, bytes_before);
    let start = Instant::now();
    match method {
        0 => keys.iter().for_each(|&k| map.remove(k)),
        1 => map.renew(),
        2 => map.clear(),
        _ => map.release(),
    }
    let millis = start.elapsed().as_secs_f64() * 1e3;
    let bytes_after = bytes_since(base);
    check(&*map, bytes_after);
    for &k in &keys[..keys.len() / 100] {
        map.insert(k);
    }
    let bytes_after_refill = bytes_since(base);
    check(&*map, bytes_after_refill);
    Row {
        map: name,
        method: METHODS[method],
        millis,
        bytes_before,
        bytes_after,
        bytes_after_refill,
        mem_stats_agrees: agrees,
    }
}

/// Fills a map of the kind `gomap_map` says in `bump` with `keys`, and
/// leaves it there (an arena frees everything at once).
fn fill_in(bump: &Bump, keys: &[u64], gomap_map: bool) {
    if gomap_map {
        let mut m = gomap::HashMap::with_hasher_in(Hasher::default(), bump);
        keys.iter().for_each(|&k| {
            m.insert(k, k);
        });
        std::mem::forget(m);
    } else {
        let mut m = BrownMap::with_hasher_in(Hasher::default(), bump);
        keys.iter().for_each(|&k| {
            m.insert(k, k);
        });
        std::mem::forget(m);
    }
}

/// Method 4: maps in a bumpalo arena, freed all at once by dropping it.
/// (The bytes are the arena's chunks, not the map's own account, so there
/// is no `mem_stats` cross-check on these rows.)
fn arena(name: &'static str, keys: &[u64], gomap_map: bool) -> Row {
    let base = live_bytes();
    let bump = Bump::new();
    fill_in(&bump, keys, gomap_map);
    let bytes_before = bytes_since(base);
    let start = Instant::now();
    drop(bump);
    let millis = start.elapsed().as_secs_f64() * 1e3;
    let bytes_after = bytes_since(base);
    let bump = Bump::new();
    fill_in(&bump, &keys[..keys.len() / 100], gomap_map);
    let bytes_after_refill = bytes_since(base);
    drop(bump);
    Row {
        map: name,
        method: METHODS[4],
        millis,
        bytes_before,
        bytes_after,
        bytes_after_refill,
        mem_stats_agrees: None,
    }
}

pub fn run(n: usize) -> Clear {
    let keys = keys(n, 1);
    let bar = progress(18, "clear: five ways");
    let mut rows = Vec::new();
    for method in 0..4 {
        let maps: [(&'static str, Box<dyn Map>); 4] = [
            ("gomap (Auto)", go(ShrinkPolicy::Auto)),
            ("gomap (Never)", go(ShrinkPolicy::Never)),
            (
                "std HashMap",
                Box::new(Std(StdMap::with_hasher(Hasher::default()))),
            ),
            (
                "hashbrown",
                Box::new(Brown(hashbrown::HashMap::with_hasher(Hasher::default()))),
            ),
        ];
        for (name, map) in maps {
            rows.push(one(name, map, method, &keys));
            bar.inc(1);
        }
    }
    rows.push(arena("gomap (in a bumpalo arena)", &keys, true));
    bar.inc(1);
    rows.push(arena("hashbrown (in a bumpalo arena)", &keys, false));
    bar.inc(1);
    bar.finish_and_clear();
    Clear { n, rows }
}

impl Outcome for Clear {
    fn text(&self) -> String {
        let mut out = format!(
            "clear: five ways to empty a map of {} u64 → u64 entries\n\n",
            self.n
        );
        out += &format!(
            "{:<31} {:<58} {:>9} {:>11} {:>11} {:>11}\n",
            "map", "method", "ms", "full", "emptied", "refilled 1%"
        );
        for r in &self.rows {
            out += &format!(
                "{:<31} {:<58} {:>9.2} {:>11} {:>11} {:>11}\n",
                r.map,
                r.method,
                r.millis,
                human_bytes(r.bytes_before),
                human_bytes(r.bytes_after),
                human_bytes(r.bytes_after_refill)
            );
        }
        out
    }

    fn markdown(&self) -> String {
        let mut out = format!(
            "### Five ways to empty a map ({} entries)\n\n| map | method | ms | bytes full | bytes emptied | bytes after refilling 1 % | mem_stats agrees |\n|---|---|---:|---:|---:|---:|---|\n",
            self.n
        );
        for r in &self.rows {
            out += &format!(
                "| {} | {} | {:.2} | {} | {} | {} | {} |\n",
                r.map,
                r.method,
                r.millis,
                human_bytes(r.bytes_before),
                human_bytes(r.bytes_after),
                human_bytes(r.bytes_after_refill),
                r.mem_stats_agrees
                    .map_or("–", |ok| if ok { "yes" } else { "NO" })
            );
        }
        out
    }
}
