//! Five ways to empty a map, and what each costs.

use std::collections::HashMap as StdMap;
use std::time::Instant;

use bumpalo::Bump;
use gomap::ShrinkPolicy;
use hashbrown::HashMap as BrownMap;
use serde::Serialize;

use crate::claims::Claim;
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
            (MAPS[0], go(ShrinkPolicy::Auto)),
            (MAPS[1], go(ShrinkPolicy::Never)),
            (
                MAPS[2],
                Box::new(Std(StdMap::with_hasher(Hasher::default()))),
            ),
            (
                MAPS[3],
                Box::new(Brown(hashbrown::HashMap::with_hasher(Hasher::default()))),
            ),
        ];
        for (name, map) in maps {
            rows.push(one(name, map, method, &keys));
            bar.inc(1);
        }
    }
    rows.push(arena(ARENA_MAPS[0], &keys, true));
    bar.inc(1);
    rows.push(arena(ARENA_MAPS[1], &keys, false));
    bar.inc(1);
    bar.finish_and_clear();
    Clear { n, rows }
}

/// The four maps every method but the arena runs on.
pub const MAPS: [&str; 4] = ["gomap (Auto)", "gomap (Never)", "std HashMap", "hashbrown"];

/// The two maps the arena method runs on.
pub const ARENA_MAPS: [&str; 2] = [
    "gomap (in a bumpalo arena)",
    "hashbrown (in a bumpalo arena)",
];

/// A map "keeps" its memory when it still holds this share of its full
/// size (not all of it: a grow running when the map was full ends as it
/// empties, freeing the old array), and "gives it back" when it holds at
/// most `GAVE_BACK` of it.
const KEPT: f64 = 0.5;
const GAVE_BACK: f64 = 0.05;

impl Row {
    /// What it holds emptied, as a share of what it held full.
    fn after_share(&self) -> f64 {
        self.bytes_after as f64 / self.bytes_before.max(1) as f64
    }
    fn refill_share(&self) -> f64 {
        self.bytes_after_refill as f64 / self.bytes_before.max(1) as f64
    }
}

impl Clear {
    /// The row of `map` emptied by method `method` (an index of `METHODS`).
    pub fn row(&self, map: &str, method: usize) -> Option<&Row> {
        self.rows
            .iter()
            .find(|r| r.map == map && r.method == METHODS[method])
    }

    /// The rows of `method`, for the maps named.
    fn rows_of<'a>(&'a self, method: usize, maps: &'a [&str]) -> Vec<&'a Row> {
        maps.iter().filter_map(|m| self.row(m, method)).collect()
    }

    /// What the claims of this experiment came to.
    fn verdicts(&self) -> Vec<Claim> {
        let n = self.n;
        let emptied = |rows: &[&Row]| {
            rows.iter()
                .map(|r| {
                    format!(
                        "{} {} → {}",
                        r.map,
                        human_bytes(r.bytes_before),
                        human_bytes(r.bytes_after)
                    )
                })
                .collect::<Vec<_>>()
                .join(", ")
        };
        let names = |rows: &[&&Row]| rows.iter().map(|r| r.map).collect::<Vec<_>>().join(", ");
        let mut out = Vec::new();

        let rows = self.rows_of(0, &MAPS);
        let (auto, others) = rows
            .split_first()
            .map_or((None, &[][..]), |(a, o)| (Some(*a), o));
        let auto_gave = auto.is_some_and(|r| r.after_share() <= GAVE_BACK);
        let stuck: Vec<_> = others.iter().filter(|r| r.after_share() < KEPT).collect();
        out.push(Claim::judged(
            "empty-remove-loop",
            "Removing every key one by one gives the memory back only in gomap with \
             ShrinkPolicy::Auto, which shrinks as it empties; std's HashMap, hashbrown and gomap \
             with ShrinkPolicy::Never (Go's behaviour) keep their peak.",
            rows.len() == 4 && auto_gave && stuck.is_empty(),
            emptied(&rows),
            if !auto_gave {
                "gomap (Auto) kept more than 5 % of its peak".to_string()
            } else {
                format!("{} gave memory back without being told", names(&stuck))
            },
        ));

        let rows = self.rows_of(1, &MAPS);
        let kept: Vec<_> = rows.iter().filter(|r| r.after_share() > 0.01).collect();
        out.push(Claim::judged(
            "empty-new-map",
            "Replacing a map with a new, empty one gives all its memory back, in every map.",
            rows.len() == 4 && kept.is_empty(),
            emptied(&rows),
            format!("{} still held more than 1 % of the peak", names(&kept)),
        ));

        let rows = self.rows_of(2, &MAPS);
        let let_go: Vec<_> = rows.iter().filter(|r| r.after_share() < KEPT).collect();
        let refilled = rows
            .iter()
            .map(|r| format!("{} {}", r.map, human_bytes(r.bytes_after_refill)))
            .collect::<Vec<_>>()
            .join(", ");
        let auto_back = rows.first().is_some_and(|r| r.refill_share() <= 0.1);
        let others_kept: Vec<_> = rows[1.min(rows.len())..]
            .iter()
            .filter(|r| r.refill_share() < KEPT)
            .collect();
        out.push(Claim::judged(
            "empty-clear",
            format!(
                "After clear() every map still holds its bucket array; refilled with 1 % of \
                 its {n} entries, gomap (Auto) gives the array back over those writes, while \
                 std's HashMap, hashbrown and gomap (Never) keep it."
            ),
            rows.len() == 4 && let_go.is_empty() && auto_back && others_kept.is_empty(),
            format!(
                "cleared: {}; after refilling 1 %: {refilled}",
                emptied(&rows)
            ),
            if !let_go.is_empty() {
                format!("{} let its array go at clear()", names(&let_go))
            } else if !auto_back {
                "gomap (Auto) still held more than 10 % of its full size after the refill".into()
            } else {
                format!("{} gave its array back on refilling", names(&others_kept))
            },
        ));

        let rows = self.rows_of(3, &MAPS);
        let kept: Vec<_> = rows.iter().filter(|r| r.after_share() > 0.01).collect();
        out.push(Claim::judged(
            "empty-reset",
            "gomap's reset(), and clear() then shrink_to_fit() for std's HashMap and \
             hashbrown, give the memory back at once.",
            rows.len() == 4 && kept.is_empty(),
            emptied(&rows),
            format!("{} still held more than 1 % of the peak", names(&kept)),
        ));

        let rows = self.rows_of(4, &ARENA_MAPS);
        let kept: Vec<_> = rows.iter().filter(|r| r.bytes_after > 0).collect();
        out.push(Claim::judged(
            "empty-arena",
            "Maps built in a bumpalo arena are freed all at once, to the last byte, by \
             dropping the arena.",
            rows.len() == 2 && kept.is_empty(),
            emptied(&rows),
            format!("{} left bytes behind", names(&kept)),
        ));

        let checked: Vec<_> = self
            .rows
            .iter()
            .filter(|r| r.mem_stats_agrees.is_some())
            .collect();
        let wrong: Vec<String> = checked
            .iter()
            .filter(|r| r.mem_stats_agrees == Some(false))
            .map(|r| format!("{} / {}", r.map, r.method))
            .collect();
        out.push(Claim::judged(
            "mem-stats-exact",
            "gomap's mem_stats().allocated_bytes equals the bytes a counting allocator \
             saw the map hold, full, emptied and refilled, by every method.",
            !checked.is_empty() && wrong.is_empty(),
            format!(
                "{} checks on {} gomap rows",
                3 * checked.len(),
                checked.len()
            ),
            format!("it differed for {}", wrong.join(", ")),
        ));
        out
    }
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

    fn claims(&self) -> Vec<Claim> {
        self.verdicts()
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
