//! The seed's section 3: three production cases, leaky beside fixed, memory
//! over simulated time, and the governance layer catching the leaky one.

use std::collections::{HashMap as StdMap, HashSet};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Barrier;
use std::time::{Duration, Instant};

use gomap::ShrinkPolicy;
use gomap_govern::{Event, EventKind, Governed, Registry, RegistryConfig, Watermarks};
use gomap_sync::ShardedMap;
use serde::Serialize;

use crate::measure::{bytes_since, human_bytes, live_bytes, progress};
use crate::{Case, Outcome};

/// Simulated minutes per case.
const TICKS: u64 = 30;

/// A memory curve: `(tick, bytes)`.
#[derive(Clone, Debug, Serialize)]
pub struct Series {
    pub name: String,
    pub points: Vec<(u64, usize)>,
}

/// Something the governance layer said, and when.
#[derive(Clone, Debug, Serialize)]
pub struct Flag {
    pub tick: u64,
    pub map: String,
    pub what: String,
}

#[derive(Clone, Debug, Serialize)]
pub struct CaseResult {
    pub case: Case,
    pub title: String,
    /// What the seed says, and what this case shows of it.
    pub claim: &'static str,
    /// Memory over time, leaky and fixed patterns.
    pub series: Vec<Series>,
    /// The registry flagging the leaky map.
    pub flags: Vec<Flag>,
    /// Case (c): snapshots taken and half-cleared ones seen, per pattern.
    pub observations: Vec<(String, usize, usize)>,
    pub summary: String,
}

#[derive(Clone, Debug, Serialize)]
pub struct Leak {
    pub n: usize,
    pub cases: Vec<CaseResult>,
}

pub fn run(case: Case, n: usize) -> Leak {
    let mut cases = Vec::new();
    if matches!(case, Case::HttpContext | Case::All) {
        cases.push(http_context(n));
    }
    if matches!(case, Case::PeriodicBurst | Case::All) {
        cases.push(periodic_burst(n));
    }
    if matches!(case, Case::RwlockClear | Case::All) {
        cases.push(rwlock_clear(n));
    }
    Leak { n, cases }
}

fn minute(t0: Instant, tick: u64) -> Instant {
    t0 + Duration::from_secs(60 * tick)
}

/// An event about `map`, as the report shows it.
fn flag(tick: u64, map: &str, e: &Event) -> Flag {
    let what = match &e.kind {
        EventKind::Level {
            from,
            to,
            value,
            measure,
        } => format!("level {from} → {to} at {value} {measure:?}").to_lowercase(),
        other => format!("{other:?}"),
    };
    Flag {
        tick,
        map: map.into(),
        what,
    }
}

/// A request's cache: what a handler memoises while it runs.
type RequestCache = gomap::HashMap<u64, Vec<u8>>;

fn request_cache(id: u64) -> RequestCache {
    (0..8).map(|field| (field, vec![id as u8; 128])).collect()
}

/// Removes a request's cache from the shared map when the request ends.
struct CacheGuard<'a> {
    map: &'a mut Governed<u64, RequestCache>,
    id: u64,
}

impl<'a> CacheGuard<'a> {
    fn new(map: &'a mut Governed<u64, RequestCache>, id: u64) -> Self {
        map.insert(id, request_cache(id));
        CacheGuard { map, id }
    }
}

impl Drop for CacheGuard<'_> {
    fn drop(&mut self) {
        self.map.remove(&self.id);
    }
}

/// (a) Per-request caches hung on a long-lived context map and never taken
/// off, against the same map with an RAII guard that takes each off when its
/// request ends.
fn http_context(n: usize) -> CaseResult {
    let per_tick = (n / 1_000).clamp(50, 5_000) as u64;
    let bar = progress(2 * TICKS, "leak (a): per-request cache");
    let mut series = Vec::new();
    let mut flags = Vec::new();
    for leaky in [true, false] {
        let registry = Registry::with_config(RegistryConfig {
            window: 10,
            ..RegistryConfig::default()
        });
        let events = registry.subscribe();
        let name = if leaky {
            "contexts (leaky)"
        } else {
            "contexts (RAII guard)"
        };
        let base = live_bytes();
        let mut contexts: Governed<u64, RequestCache> = Governed::builder(name)
            .registry(&registry)
            .watermarks(
                Watermarks::entries(per_tick * 5, per_tick * 10, per_tick * 20)
                    .expect("increasing watermarks"),
            )
            .build();
        let t0 = Instant::now();
        let mut points = Vec::new();
        let mut flagged = false;
        for tick in 0..TICKS {
            for r in 0..per_tick {
                let id = tick * per_tick + r;
                if leaky {
                    contexts.insert(id, request_cache(id));
                } else {
                    let guard = CacheGuard::new(&mut contexts, id);
                    drop(guard);
                }
            }
            registry.sample_at(minute(t0, tick));
            points.push((tick, bytes_since(base)));
            flags.extend(events.try_iter().map(|e| flag(tick, name, &e)));
            if !flagged && registry.maps()[0].trend.suspected_leak {
                flagged = true;
                flags.push(Flag {
                    tick,
                    map: name.into(),
                    what: format!(
                        "suspected_leak: grew over every sample, {:.0} entries/min",
                        registry.maps()[0].trend.len_per_second * 60.0
                    ),
                });
            }
            bar.inc(1);
        }
        series.push(Series {
            name: name.into(),
            points,
        });
    }
    bar.finish_and_clear();
    let last = |i: usize| series[i].points.last().map_or(0, |p| p.1);
    let grew = series[0].points.windows(2).all(|w| w[1].1 >= w[0].1);
    let summary = format!(
        "after {TICKS} simulated minutes of {per_tick} requests each: leaky {}{}, guarded {}",
        human_bytes(last(0)),
        if grew { " and still growing" } else { "" },
        human_bytes(last(1))
    );
    CaseResult {
        case: Case::HttpContext,
        title: "(a) a per-request cache hung on a long-lived context, never cleaned".into(),
        claim: "Seed 3.1: the map keeps request objects alive across reused connections. \
                Fixed by an RAII guard; the governed map is flagged suspected_leak and climbs the watermarks.",
        series,
        flags,
        observations: Vec::new(),
        summary,
    }
}

/// One periodic task's map, whatever it is.
trait Periodic {
    fn insert(&mut self, k: u64);
    fn remove(&mut self, k: u64);
}

impl Periodic for StdMap<u64, u64> {
    fn insert(&mut self, k: u64) {
        StdMap::insert(self, k, k);
    }
    fn remove(&mut self, k: u64) {
        StdMap::remove(self, &k);
    }
}

impl Periodic for Governed<u64, u64> {
    fn insert(&mut self, k: u64) {
        Governed::insert(self, k, k);
    }
    fn remove(&mut self, k: u64) {
        Governed::remove(self, &k);
    }
}

/// (b) A periodic task's map takes a burst of `n` entries, then settles to
/// 1 000 with steady churn. std and gomap `Never` keep the peak; gomap
/// `Auto` gives it back.
fn periodic_burst(n: usize) -> CaseResult {
    const BURST_TICK: u64 = 5;
    const SETTLED: u64 = 1_000;
    // A burst is a burst: at least ten times what the map settles to.
    let n = (n as u64).max(10 * SETTLED);
    let bar = progress(3 * TICKS, "leak (b): burst then settle");
    let mut series = Vec::new();
    let mut flags = Vec::new();
    // Bytes watermarks from what n entries take (~18 bytes each in gomap).
    let marks = Watermarks::bytes(4 * n, 10 * n, 1_000 * n).expect("increasing watermarks");
    for which in 0..3 {
        let registry = Registry::new();
        let events = registry.subscribe();
        let base = live_bytes();
        let (name, mut map): (&str, Box<dyn Periodic>) = match which {
            0 => ("std HashMap", Box::new(StdMap::new())),
            1 => {
                let mut m: Governed<u64, u64> = Governed::builder("burst (gomap Never)")
                    .registry(&registry)
                    .watermarks(marks)
                    .build();
                m.set_shrink_policy(ShrinkPolicy::Never);
                ("gomap Never (Go's policy, governed)", Box::new(m))
            }
            _ => (
                "gomap Auto",
                Box::new(
                    Governed::builder("burst (gomap Auto)")
                        .registry(&registry)
                        .watermarks(marks)
                        .build::<u64, u64>(),
                ),
            ),
        };
        let t0 = Instant::now();
        let mut points = Vec::new();
        let mut next = 0u64; // keys live in [oldest, next)
        let mut oldest = 0u64;
        for tick in 0..TICKS {
            if tick == BURST_TICK {
                for _ in 0..n {
                    map.insert(next);
                    next += 1;
                }
            } else {
                for _ in 0..100 {
                    map.insert(next);
                    next += 1;
                }
            }
            while next - oldest > SETTLED && tick != BURST_TICK {
                map.remove(oldest);
                oldest += 1;
            }
            registry.sample_at(minute(t0, tick));
            points.push((tick, bytes_since(base)));
            flags.extend(events.try_iter().map(|e| flag(tick, name, &e)));
            bar.inc(1);
        }
        drop(map);
        series.push(Series {
            name: name.into(),
            points,
        });
    }
    bar.finish_and_clear();
    let last = |i: usize| series[i].points.last().map_or(0, |p| p.1);
    let peak = |i: usize| series[i].points.iter().map(|p| p.1).max().unwrap_or(0);
    let summary = format!(
        "peak → end: std {} → {}, gomap Never {} → {}, gomap Auto {} → {}",
        human_bytes(peak(0)),
        human_bytes(last(0)),
        human_bytes(peak(1)),
        human_bytes(last(1)),
        human_bytes(peak(2)),
        human_bytes(last(2))
    );
    CaseResult {
        case: Case::PeriodicBurst,
        title: format!("(b) a periodic task's map after a burst: {n} entries, then {SETTLED}"),
        claim: "Seed 1 and 3.2: Go's map never shrinks, so the bucket array stays at its peak. \
                gomap Auto migrates to fewer buckets as it empties. The Never map is governed: crossing \
                orange made it finish its running grow at once (orange's action), and it stays at orange.",
        series,
        flags,
        observations: Vec::new(),
        summary,
    }
}

/// (c) A writer refills and empties a sharded map while two readers take
/// snapshots. Emptied shard by shard (`retain(|_, _| false)`, one shard lock
/// at a time), readers see half-cleared maps; with `ShardedMap::clear`
/// (every shard lock at once) they never do.
fn rwlock_clear(n: usize) -> CaseResult {
    let keys = (n / 100).clamp(256, 10_000) as u64;
    let rounds = 200u64;
    let bar = progress(2, "leak (c): clear while reading");
    let mut observations = Vec::new();
    for atomic in [false, true] {
        let map: ShardedMap<u64, u64> = ShardedMap::with_shard_amount(16);
        let done = AtomicBool::new(false);
        let (snapshots, half) = (AtomicUsize::new(0), AtomicUsize::new(0));
        let start = Barrier::new(3);
        std::thread::scope(|s| {
            s.spawn(|| {
                start.wait();
                for generation in 0..rounds {
                    for k in 0..keys {
                        map.insert(k, generation);
                    }
                    if atomic {
                        map.clear();
                    } else {
                        map.retain(|_, _| false);
                    }
                }
                done.store(true, Ordering::Release);
            });
            for _ in 0..2 {
                s.spawn(|| {
                    start.wait();
                    loop {
                        let finished = done.load(Ordering::Acquire);
                        let seen: HashSet<u64> = map.iter().map(|(k, _)| k).collect();
                        // Keys go in 0, 1, 2, …: a whole map at one instant
                        // holds a prefix of them; a hole is a half clear.
                        if !(0..seen.len() as u64).all(|k| seen.contains(&k)) {
                            half.fetch_add(1, Ordering::Relaxed);
                        }
                        snapshots.fetch_add(1, Ordering::Relaxed);
                        if finished {
                            break;
                        }
                    }
                });
            }
        });
        let name = if atomic {
            "ShardedMap::clear (every shard lock at once)"
        } else {
            "shard by shard (one lock at a time)"
        };
        observations.push((name.to_string(), snapshots.into_inner(), half.into_inner()));
        bar.inc(1);
    }
    bar.finish_and_clear();
    let summary = format!(
        "half-cleared snapshots seen: shard by shard {} of {}, ShardedMap::clear {} of {}",
        observations[0].2, observations[0].1, observations[1].2, observations[1].1
    );
    CaseResult {
        case: Case::RwlockClear,
        title: "(c) a clear done shard by shard while readers iterate".into(),
        claim: "Seed 3.3: readers iterating while another goroutine deletes. In Rust the \
                type system rules out the crash; what remains is readers seeing half a clear, \
                which one all-shards clear removes.",
        series: Vec::new(),
        flags: Vec::new(),
        observations,
        summary,
    }
}

impl Outcome for Leak {
    fn text(&self) -> String {
        let mut out = String::new();
        for c in &self.cases {
            out += &format!("leak {}\n  {}\n", c.title, c.summary);
            for f in c.flags.iter().take(12) {
                out += &format!("  minute {:>2}: {}: {}\n", f.tick, f.map, f.what);
            }
            out += "\n";
        }
        out
    }

    fn markdown(&self) -> String {
        let mut out = String::from("### Production cases\n\n");
        for c in &self.cases {
            out += &format!("**{}** — {}\n\n{}\n\n", c.title, c.claim, c.summary);
            if !c.flags.is_empty() {
                out += "| minute | map | what the registry said |\n|---:|---|---|\n";
                for f in &c.flags {
                    out += &format!("| {} | {} | {} |\n", f.tick, f.map, f.what);
                }
                out += "\n";
            }
            if !c.observations.is_empty() {
                out += "| clear | snapshots | half-cleared |\n|---|---:|---:|\n";
                for (name, snaps, half) in &c.observations {
                    out += &format!("| {name} | {snaps} | {half} |\n");
                }
                out += "\n";
            }
        }
        out
    }
}
