//! Production cases where a map keeps memory, leaky beside fixed, memory
//! over simulated time, and the governance layer catching the leaky one;
//! and (d) a `String → Vec<u8>` request cache governed on total bytes, its
//! report checked against the counting allocator.

use std::collections::{HashMap as StdMap, HashSet};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{mpsc, Barrier};
use std::time::{Duration, Instant};

use gomap::ShrinkPolicy;
use gomap_govern::{Event, EventKind, Governed, Measure, Registry, RegistryConfig, Watermarks};
use gomap_sync::ShardedMap;
use serde::Serialize;

use crate::claims::Claim;
use crate::measure::{bytes_since, human_bytes, live_bytes, progress, splitmix};
use crate::{Case, Outcome};

/// Simulated minutes per case.
const TICKS: u64 = 30;

/// A memory curve.
#[derive(Clone, Debug, Serialize)]
pub struct Series {
    pub name: String,
    pub points: Vec<Point>,
}

/// Bytes held at the end of a simulated minute.
#[derive(Clone, Copy, Debug, Serialize)]
pub struct Point {
    pub minute: u64,
    pub bytes: usize,
}

impl Series {
    fn last(&self) -> usize {
        self.points.last().map_or(0, |p| p.bytes)
    }
    fn peak(&self) -> usize {
        self.points.iter().map(|p| p.bytes).max().unwrap_or(0)
    }
}

/// Case (c): what the readers saw of one way of emptying the map.
#[derive(Clone, Debug, Serialize)]
pub struct Snapshots {
    /// How the writer emptied the map.
    pub pattern: String,
    /// Times it filled and emptied the map.
    pub rounds: usize,
    /// Snapshots the free-running readers took, and how many of them held
    /// a half-cleared map.
    pub snapshots: usize,
    pub half_cleared: usize,
    /// Snapshots taken on the writer's cue while it was emptying the map
    /// (half way, between two shards, for the shard-by-shard writer; while
    /// `clear` runs, for the other), and how many were half cleared.
    pub cued: usize,
    pub cued_half_cleared: usize,
    /// Cues the reader did not answer in time (the writer went on).
    pub cues_missed: usize,
    /// A thread of the experiment panicked: what it said.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub failed: Option<String>,
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
    /// Why the case matters, in a sentence or two (the claim it decides is
    /// in the outcome's `claims`).
    pub background: &'static str,
    /// Memory over time, leaky and fixed patterns.
    pub series: Vec<Series>,
    /// The registry flagging the leaky map.
    pub flags: Vec<Flag>,
    /// Case (c): what the readers saw, per way of emptying.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub observations: Vec<Snapshots>,
    pub summary: String,
    /// Case (d): what the governed leaky map reported at the end, table
    /// bytes plus the bytes its keys and values own.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reported_bytes: Option<usize>,
    /// Case (d): what the counting allocator held for the leaky map and its
    /// contents at the end (the bytes it gave back when they were dropped).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub counted_bytes: Option<usize>,
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
    if matches!(case, Case::StringCache | Case::All) {
        cases.push(string_cache(n));
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
        } => format!("level {from} → {to} at {value} {}", measure_name(*measure)),
        other => format!("{other:?}"),
    };
    Flag {
        tick,
        map: map.into(),
        what,
    }
}

/// What a watermark measure is called in a flag.
fn measure_name(measure: Measure) -> &'static str {
    match measure {
        Measure::Bytes => "bytes",
        Measure::Entries => "entries",
        Measure::TotalBytes => "total bytes",
    }
}

/// The flag of the registry's first `suspected_leak` on its one map, if
/// this sample raised it (`flagged` remembers that it did).
fn first_leak_flag(flagged: &mut bool, tick: u64, map: &str, registry: &Registry) -> Option<Flag> {
    let trend = registry.maps()[0].trend;
    if *flagged || !trend.suspected_leak {
        return None;
    }
    *flagged = true;
    Some(Flag {
        tick,
        map: map.into(),
        what: format!(
            "suspected_leak: grew over every sample, {:.0} entries/min",
            trend.len_per_second * 60.0
        ),
    })
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
            points.push(Point {
                minute: tick,
                bytes: bytes_since(base),
            });
            flags.extend(events.try_iter().map(|e| flag(tick, name, &e)));
            flags.extend(first_leak_flag(&mut flagged, tick, name, &registry));
            bar.inc(1);
        }
        series.push(Series {
            name: name.into(),
            points,
        });
    }
    bar.finish_and_clear();
    let last = |i: usize| series[i].last();
    let summary = format!(
        "after {TICKS} simulated minutes of {per_tick} requests each: leaky {}, guarded {}",
        human_bytes(last(0)),
        human_bytes(last(1))
    );
    CaseResult {
        case: Case::HttpContext,
        title: "(a) a per-request cache hung on a long-lived context, never cleaned".into(),
        background: "A request context's map keeps request objects alive across reused connections. \
                Fixed by an RAII guard; the governed map is flagged suspected_leak and climbs the watermarks.",
        series,
        flags,
        observations: Vec::new(),
        summary,
        reported_bytes: None,
        counted_bytes: None,
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
            points.push(Point {
                minute: tick,
                bytes: bytes_since(base),
            });
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
    let last = |i: usize| series[i].last();
    let peak = |i: usize| series[i].peak();
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
        background: "Go's map never shrinks, so the bucket array stays at its peak. \
                gomap Auto migrates to fewer buckets as it empties. The Never map is governed: crossing \
                orange made it finish its running grow at once (orange's action), and it stays at orange.",
        series,
        flags,
        observations: Vec::new(),
        summary,
        reported_bytes: None,
        counted_bytes: None,
    }
}

/// Sets its flag when dropped, also while a panic unwinds.
struct SetOnDrop<'a>(&'a AtomicBool);

impl Drop for SetOnDrop<'_> {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Release);
    }
}

/// Cues the reader to look during `during` (or right after it, if it is
/// quick) and waits for its answer to this cue — answers to earlier cues
/// that came too late are passed over — for at most `CUE_WAIT`. `None`: the
/// cue was missed (the reader was still busy with an earlier one, or did
/// not answer in time); the writer never waits longer.
fn look(
    cue: &mpsc::SyncSender<u64>,
    answers: &mpsc::Receiver<(u64, bool)>,
    generation: u64,
    during: impl FnOnce(),
) -> Option<bool> {
    let sent = cue.try_send(generation).is_ok();
    during();
    if !sent {
        return None;
    }
    let deadline = Instant::now() + CUE_WAIT;
    loop {
        let left = deadline.checked_duration_since(Instant::now())?;
        match answers.recv_timeout(left) {
            Ok((answered, half)) if answered == generation => return Some(half),
            Ok(_) => continue,
            Err(_) => return None,
        }
    }
}

/// Shards of case (c)'s map.
const SHARDS: usize = 16;

/// How long the shard-by-shard writer waits, half way, for the reader it
/// cued (bounded, so a stalled reader never wedges the run).
const CUE_WAIT: Duration = Duration::from_secs(5);

/// Whether a snapshot of case (c)'s map is half cleared. Keys go in 0, 1,
/// 2, …, so the whole map at one instant holds a prefix of them: a hole
/// means some shards were emptied and others not yet.
fn half_cleared(seen: &HashSet<u64>) -> bool {
    !(0..seen.len() as u64).all(|k| seen.contains(&k))
}

/// The keys of case (c)'s map at one instant: copied out under every
/// shard's read lock, then hashed into a set after the locks are released
/// (building the set under them would hold the writer up for as long).
fn snapshot(map: &ShardedMap<u64, u64>) -> HashSet<u64> {
    let keys: Vec<u64> = map.read_all().iter().map(|(&k, _)| k).collect();
    keys.into_iter().collect()
}

/// (c) A writer fills and empties a sharded map `rounds` times while two
/// readers take whole-map snapshots (`read_all`, every shard's read
/// lock at once), and a third looks when the writer cues it. Emptied shard by shard
/// — each shard's keys removed in turn, so the writer holds no lock between
/// two shards — a snapshot can catch the map half cleared, and the cue
/// makes sure one looks at that moment, half way, in every round instead of
/// by luck. `ShardedMap::clear` takes every shard's write lock at once: a
/// snapshot sees all of the map or none of it, even when cued while
/// `clear` runs.
fn rwlock_clear(n: usize) -> CaseResult {
    let keys = (n / 100).clamp(256, 10_000) as u64;
    let rounds = 200usize;
    let bar = progress(2, "leak (c): clear while reading");
    let mut observations = Vec::new();
    for atomic in [false, true] {
        let map: ShardedMap<u64, u64> = ShardedMap::with_shard_amount(SHARDS);
        let done = AtomicBool::new(false);
        let (snapshots, half) = (AtomicUsize::new(0), AtomicUsize::new(0));
        let (mut cued, mut cued_half, mut missed) = (0, 0, 0);
        let start = Barrier::new(4);
        // One cue at a time waits in the channel; each answer names its cue.
        let (cue, cues) = mpsc::sync_channel::<u64>(1);
        let (answer, answers) = mpsc::channel::<(u64, bool)>();
        let ran = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            std::thread::scope(|s| {
                // The cued reader: one snapshot per cue, until the writer
                // hangs up.
                {
                    let (map, start) = (&map, &start);
                    s.spawn(move || {
                        start.wait();
                        while let Ok(generation) = cues.recv() {
                            let _ = answer.send((generation, half_cleared(&snapshot(map))));
                        }
                    });
                }
                for _ in 0..2 {
                    s.spawn(|| {
                        start.wait();
                        loop {
                            let finished = done.load(Ordering::Acquire);
                            if half_cleared(&snapshot(&map)) {
                                half.fetch_add(1, Ordering::Relaxed);
                            }
                            snapshots.fetch_add(1, Ordering::Relaxed);
                            if finished {
                                break;
                            }
                        }
                    });
                }
                // The writer. However it ends, the readers stop: `done` is
                // set and the cue channel closed when these two drop.
                let cue = cue;
                let _done = SetOnDrop(&done);
                start.wait();
                let mut record = |seen: Option<bool>| match seen {
                    Some(half) => {
                        cued += 1;
                        cued_half += usize::from(half);
                    }
                    None => missed += 1,
                };
                for generation in 0..rounds as u64 {
                    for k in 0..keys {
                        map.insert(k, generation);
                    }
                    if atomic {
                        // Cue the reader and clear at once: its snapshot
                        // races the clear.
                        record(look(&cue, &answers, generation, || map.clear()));
                    } else {
                        // Which keys each shard holds, then each shard
                        // emptied in turn; half way, between two shards,
                        // the reader looks.
                        let by_shard: Vec<Vec<u64>> = map
                            .read_all()
                            .shards()
                            .map(|shard| shard.keys().copied().collect())
                            .collect();
                        for (i, shard) in by_shard.iter().enumerate() {
                            if i == SHARDS / 2 {
                                record(look(&cue, &answers, generation, || ()));
                            }
                            for k in shard {
                                map.remove(k);
                            }
                        }
                    }
                }
            })
        }));
        let pattern = if atomic {
            "ShardedMap::clear (every shard lock at once)"
        } else {
            "shard by shard (each shard's keys removed in turn)"
        };
        observations.push(Snapshots {
            pattern: pattern.to_string(),
            rounds,
            snapshots: snapshots.into_inner(),
            half_cleared: half.into_inner(),
            cued,
            cued_half_cleared: cued_half,
            cues_missed: missed,
            failed: ran.err().map(|e| crate::measure::panic_message(&*e)),
        });
        bar.inc(1);
    }
    bar.finish_and_clear();
    let [piecemeal, clear] = [&observations[0], &observations[1]];
    let summary = format!(
        "{rounds} rounds of {keys} keys in {SHARDS} shards. Shard by shard: the reader cued half way \
         saw a half-cleared map {} times in {}, free-running readers {} times in {} snapshots. \
         ShardedMap::clear: {} in {} cued while it ran, {} in {} snapshots",
        piecemeal.cued_half_cleared,
        piecemeal.cued,
        piecemeal.half_cleared,
        piecemeal.snapshots,
        clear.cued_half_cleared,
        clear.cued,
        clear.half_cleared,
        clear.snapshots
    );
    CaseResult {
        case: Case::RwlockClear,
        title: "(c) a sharded map emptied shard by shard while readers take snapshots".into(),
        background:
            "In Go, a goroutine ranging over a map while another deletes from it can crash \
                the process; in Rust the locks rule that out, and what remains is readers seeing \
                a map half cleared, which one clear under every shard's lock removes.",
        series: Vec::new(),
        flags: Vec::new(),
        observations,
        summary,
        reported_bytes: None,
        counted_bytes: None,
    }
}

/// What one request stores in the string cache: its response body and a
/// rendered summary of it, each under its own key.
const PARTS: [&str; 2] = ["body", "summary"];

/// Smallest and largest stored response, in bytes.
const BODY_BYTES: (usize, usize) = (256, 4096);

/// The minutes at which the leaky string cache's watermarks are set to be
/// crossed: yellow, orange, red.
pub const STRING_CACHE_CROSSINGS: [u64; 3] = [5, 10, 20];

/// Table bytes per entry the string cache's watermarks allow for: a
/// `(String, Vec<u8>)` slot is 48 bytes and a tophash byte, in buckets 40
/// to 80 % full.
const TABLE_BYTES_PER_ENTRY: usize = 96;

/// The cache key of a request's `part`: method, path and request id.
fn cache_key(id: u64, part: usize) -> String {
    format!(
        "GET /items/{}/{}?request={id}",
        splitmix(id) % 10_000,
        PARTS[part]
    )
}

/// How long the response stored under a request's `part` is (the lab's
/// deterministic generator, spread over `BODY_BYTES`).
fn body_len(id: u64, part: usize) -> usize {
    let (lo, hi) = BODY_BYTES;
    let r = splitmix((id << 1 | part as u64) ^ 0x5eed_cafe_f00d);
    lo + (r % (hi - lo + 1) as u64) as usize
}

/// The response stored under a request's `part`.
fn body(id: u64, part: usize) -> Vec<u8> {
    vec![id as u8 ^ part as u8; body_len(id, part)]
}

/// A request's entries in the shared string cache, removed when the
/// request ends.
struct RequestEntries<'a> {
    cache: &'a mut Governed<String, Vec<u8>>,
    keys: Vec<String>,
}

impl<'a> RequestEntries<'a> {
    fn new(cache: &'a mut Governed<String, Vec<u8>>) -> Self {
        RequestEntries {
            cache,
            keys: Vec::with_capacity(PARTS.len()),
        }
    }

    fn store(&mut self, key: String, value: Vec<u8>) {
        self.keys.push(key.clone());
        self.cache.insert(key, value);
    }
}

impl Drop for RequestEntries<'_> {
    fn drop(&mut self) {
        for key in self.keys.drain(..) {
            self.cache.remove(&key);
        }
    }
}

/// Total-bytes watermarks for the string cache: each halfway between what
/// the leaky cache is expected to hold at the end of the minute before its
/// crossing and at the end of that minute — the bytes its keys and values
/// own, computed from the same generator, plus `TABLE_BYTES_PER_ENTRY` per
/// entry.
fn string_cache_watermarks(per_tick: u64) -> Watermarks {
    let last = STRING_CACHE_CROSSINGS[2];
    let mut expected = Vec::with_capacity(last as usize + 1);
    let mut bytes = 0usize;
    for tick in 0..=last {
        for r in 0..per_tick {
            let id = tick * per_tick + r;
            for part in 0..PARTS.len() {
                bytes +=
                    cache_key(id, part).capacity() + body_len(id, part) + TABLE_BYTES_PER_ENTRY;
            }
        }
        expected.push(bytes as u64);
    }
    let mark = |minute: u64| (expected[minute as usize - 1] + expected[minute as usize]) / 2;
    let [yellow, orange, red] = STRING_CACHE_CROSSINGS.map(mark);
    Watermarks::total_bytes(yellow, orange, red).expect("increasing watermarks")
}

/// (d) A `String → Vec<u8>` request cache, governed on total bytes (table
/// plus what keys and values own): leaky, it keeps every request's entries;
/// fixed, each request removes its own when it ends. At the end the leaky
/// map's report is checked against the counting allocator.
fn string_cache(n: usize) -> CaseResult {
    let per_tick = (n / 2_000).clamp(100, 1_000) as u64;
    let marks = string_cache_watermarks(per_tick);
    let bar = progress(2 * TICKS, "leak (d): string cache");
    let mut series = Vec::new();
    let mut flags = Vec::new();
    let (mut reported, mut counted) = (0, 0);
    let mut ends = Vec::new();
    for leaky in [true, false] {
        let registry = Registry::with_config(RegistryConfig {
            window: 10,
            ..RegistryConfig::default()
        });
        let events = registry.subscribe();
        let name = if leaky {
            "string cache (leaky)"
        } else {
            "string cache (fixed)"
        };
        let mut cache: Governed<String, Vec<u8>> = Governed::builder(name)
            .registry(&registry)
            .watermarks(marks)
            .build();
        cache.track_owned_bytes(String::capacity, Vec::capacity);
        let t0 = Instant::now();
        let (mut total, mut table) = (Vec::new(), Vec::new());
        let mut flagged = false;
        for tick in 0..TICKS {
            for r in 0..per_tick {
                let id = tick * per_tick + r;
                if leaky {
                    for part in 0..PARTS.len() {
                        cache.insert(cache_key(id, part), body(id, part));
                    }
                } else {
                    let mut request = RequestEntries::new(&mut cache);
                    for part in 0..PARTS.len() {
                        request.store(cache_key(id, part), body(id, part));
                    }
                }
            }
            registry.sample_at(minute(t0, tick));
            let figures = cache.report().figures;
            total.push(Point {
                minute: tick,
                bytes: figures.total_bytes() as usize,
            });
            table.push(Point {
                minute: tick,
                bytes: figures.allocated_bytes as usize,
            });
            flags.extend(events.try_iter().map(|e| flag(tick, name, &e)));
            flags.extend(first_leak_flag(&mut flagged, tick, name, &registry));
            bar.inc(1);
        }
        ends.push(cache.report().figures);
        if leaky {
            // What gomap says the map and its contents hold, then what the
            // allocator gets back when they go: the bytes it held for them.
            // `take` leaves the governed handle (and the registry's record of
            // it) alone and hands over the map with every entry.
            let figures = cache.report().figures;
            reported = figures.total_bytes() as usize;
            let contents = cache.take();
            let held = live_bytes();
            drop(contents);
            counted = held.saturating_sub(live_bytes());
        }
        series.push(Series {
            name: format!("{name}: total bytes (table + keys + values)"),
            points: total,
        });
        if leaky {
            series.push(Series {
                name: format!("{name}: table bytes only"),
                points: table,
            });
        }
    }
    bar.finish_and_clear();
    let minute = |m: Option<u64>| m.map_or_else(|| "never".to_string(), |m| m.to_string());
    let crossed = |level: &str| minute(first_flag(&flags, "(leaky)", &format!("→ {level} ")));
    let suspected = minute(first_flag(&flags, "(leaky)", "suspected_leak"));
    let fixed_left_green = first_flag(&flags, "(fixed)", "level").is_some();
    let [y, o, r] = STRING_CACHE_CROSSINGS;
    let summary = format!(
        "after {TICKS} simulated minutes of {per_tick} requests each ({} entries of {}–{} B per request): \
         the leaky cache holds {} in total, {} of it table bytes; it crossed yellow, orange and red at \
         minutes {}, {} and {} (watermarks set for {y}, {o} and {r}) and was flagged suspected_leak at \
         minute {suspected}. The fixed cache ends at {}, {}. gomap reported {reported} bytes for the \
         leaky cache; the counting allocator held {counted} bytes for it{}",
        PARTS.len(),
        BODY_BYTES.0,
        BODY_BYTES.1,
        human_bytes(ends[0].total_bytes() as usize),
        human_bytes(ends[0].allocated_bytes as usize),
        crossed("yellow"),
        crossed("orange"),
        crossed("red"),
        human_bytes(ends[1].total_bytes() as usize),
        if fixed_left_green {
            "having left green"
        } else {
            "green throughout"
        },
        if reported == counted {
            " (equal)".to_string()
        } else {
            format!(" (they differ by {} bytes)", reported.abs_diff(counted))
        },
    );
    CaseResult {
        case: Case::StringCache,
        title: "(d) a String → Vec<u8> request cache that leaks, governed on total bytes".into(),
        background: "A map of String keys and Vec<u8> values keeps 48 bytes a slot in its table; the \
                bytes are in what the keys and values own. Told how to measure them \
                (track_owned_bytes(String::capacity, Vec::capacity)), gomap keeps that figure exact \
                on every write, so watermarks on total bytes catch the leaky cache as its contents \
                grow, while its table bytes alone stay small. The fixed cache removes a request's \
                entries when the request ends and stays green.",
        series,
        flags,
        observations: Vec::new(),
        summary,
        reported_bytes: Some(reported),
        counted_bytes: Some(counted),
    }
}

/// Minute of the first flag of `map` (by the end of its name) whose text
/// contains `what`.
fn first_flag(flags: &[Flag], map: &str, what: &str) -> Option<u64> {
    flags
        .iter()
        .find(|f| f.map.ends_with(map) && f.what.contains(what))
        .map(|f| f.tick)
}

/// "the guarded map never left green", or when it did.
fn stayed_green(map: &str, left: Option<u64>) -> String {
    match left {
        None => format!("the {map} never left green"),
        Some(m) => format!("the {map} left green at minute {m}"),
    }
}

/// "minute 7" or "never".
fn when(minute: Option<u64>) -> String {
    minute.map_or_else(|| "never".into(), |m| format!("minute {m}"))
}

impl CaseResult {
    fn verdict(&self) -> Claim {
        match self.case {
            Case::HttpContext => {
                let (leaky, guarded) = (&self.series[0], &self.series[1]);
                let flagged = first_flag(&self.flags, "(leaky)", "suspected_leak");
                let red = first_flag(&self.flags, "(leaky)", "→ red");
                let guarded_moved = first_flag(&self.flags, "(RAII guard)", "level");
                // Its bytes dip when a grow frees the old array, so it is
                // judged over spans: growing by half from minute 7 to 15
                // and again to the end, and far above the guarded map.
                let at = |minute: u64| leaky.points.get(minute as usize).map_or(0, |p| p.bytes);
                let (early, mid) = (at(TICKS / 4), at(TICKS / 2));
                let grew = 2 * mid >= 3 * early
                    && 2 * leaky.last() >= 3 * mid
                    && leaky.last() > 10 * guarded.last().max(1);
                Claim::judged(
                    "case-request-context",
                    "A request's cache hung on a long-lived context and never taken off grows \
                     for as long as the service runs; governed, the map is flagged \
                     suspected_leak and climbs its watermarks to red, while the same map with an \
                     RAII guard stays small and green.",
                    grew && flagged.is_some() && red.is_some() && guarded_moved.is_none(),
                    format!(
                        "after {TICKS} minutes: leaky {}, guarded {}; leaky flagged suspected_leak at {}, \
                         red at {}; {}",
                        human_bytes(leaky.last()),
                        human_bytes(guarded.last()),
                        when(flagged),
                        when(red),
                        stayed_green("guarded map", guarded_moved)
                    ),
                    if !grew {
                        "the leaky map did not grow by half from minute 7 to 15 and again to the end, to ten times the guarded map"
                    } else if flagged.is_none() || red.is_none() {
                        "governance did not flag the leaky map and take it to red"
                    } else {
                        "the guarded map left green"
                    },
                )
            }
            Case::PeriodicBurst => {
                let kept = |s: &Series| 2 * s.last() >= s.peak();
                let gave_back = |s: &Series| 20 * s.last() <= s.peak();
                let [std, never, auto] = [&self.series[0], &self.series[1], &self.series[2]];
                let orange = first_flag(&self.flags, "governed)", "→ orange");
                // Held: its last level change took it to orange or red.
                let held = self
                    .flags
                    .iter()
                    .rev()
                    .find(|f| f.map.ends_with("governed)") && f.what.starts_with("level"))
                    .is_some_and(|f| f.what.contains("→ orange") || f.what.contains("→ red"));
                Claim::judged(
                    "case-periodic-burst",
                    "After a burst, std's HashMap and gomap with ShrinkPolicy::Never (Go's \
                     policy) keep the burst's memory while the map settles small; gomap with \
                     ShrinkPolicy::Auto gives it back; governed, the Never map is held at orange.",
                    kept(std) && kept(never) && gave_back(auto) && held,
                    format!(
                        "{}; the Never map went orange at {}",
                        self.summary,
                        when(orange)
                    ),
                    if !(kept(std) && kept(never)) {
                        "std or gomap Never ended under half its peak"
                    } else if !gave_back(auto) {
                        "gomap Auto kept more than 5 % of its peak"
                    } else {
                        "the governed Never map did not stay at orange"
                    },
                )
            }
            Case::RwlockClear => {
                let statement = "Readers taking snapshots of a sharded map emptied shard by shard \
                     see it half cleared whenever they look between two shards; with \
                     ShardedMap::clear, which holds every shard's lock at once, no snapshot is \
                     ever half cleared.";
                if let Some(failed) = self.observations.iter().find_map(|o| o.failed.as_ref()) {
                    return Claim::not_measured(
                        "case-half-clear",
                        statement,
                        format!("a thread of the experiment panicked: {failed}"),
                    );
                }
                let [piecemeal, clear] = [&self.observations[0], &self.observations[1]];
                let caught = piecemeal.cued == piecemeal.rounds
                    && piecemeal.cued_half_cleared == piecemeal.cued;
                let never = clear.cued_half_cleared == 0 && clear.half_cleared == 0;
                Claim::judged(
                    "case-half-clear",
                    statement,
                    caught && never,
                    self.summary.clone(),
                    if !caught {
                        format!(
                            "of {} rounds, the reader cued between shards saw a half-cleared map \
                             {} times ({} cues missed)",
                            piecemeal.rounds, piecemeal.cued_half_cleared, piecemeal.cues_missed
                        )
                    } else {
                        "a snapshot of the map emptied by ShardedMap::clear was half cleared".into()
                    },
                )
            }
            Case::StringCache | Case::All => {
                let crossed =
                    |level: &str| first_flag(&self.flags, "(leaky)", &format!("→ {level} "));
                let at = [crossed("yellow"), crossed("orange"), crossed("red")];
                let on_time = at == STRING_CACHE_CROSSINGS.map(Some);
                let flagged = first_flag(&self.flags, "(leaky)", "suspected_leak");
                let fixed_moved = first_flag(&self.flags, "(fixed)", "level");
                let exact =
                    self.reported_bytes.is_some() && self.reported_bytes == self.counted_bytes;
                Claim::judged(
                    "case-string-cache",
                    "A leaking String → Vec<u8> cache, governed on total bytes (its table plus \
                     what its keys and values own), crosses yellow, orange and red at the minutes \
                     its watermarks were set for and is flagged suspected_leak; gomap's figure \
                     equals the bytes a counting allocator saw it hold, and the fixed cache stays \
                     green.",
                    on_time && flagged.is_some() && exact && fixed_moved.is_none(),
                    format!(
                        "crossed at {}, {}, {} (set for {:?}); suspected_leak at {}; reported {} B, \
                         counted {} B; {}",
                        when(at[0]),
                        when(at[1]),
                        when(at[2]),
                        STRING_CACHE_CROSSINGS,
                        when(flagged),
                        self.reported_bytes.unwrap_or(0),
                        self.counted_bytes.unwrap_or(0),
                        stayed_green("fixed cache", fixed_moved)
                    ),
                    if !on_time {
                        "the watermarks were not crossed at the minutes they were set for"
                    } else if flagged.is_none() {
                        "the leaky cache was not flagged suspected_leak"
                    } else if !exact {
                        "gomap's figure and the counting allocator's differ"
                    } else {
                        "the fixed cache left green"
                    },
                )
            }
        }
    }
}

impl Outcome for Leak {
    fn claims(&self) -> Vec<Claim> {
        self.cases.iter().map(CaseResult::verdict).collect()
    }

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
            out += &format!("**{}** — {}\n\n{}\n\n", c.title, c.background, c.summary);
            if !c.flags.is_empty() {
                out += "| minute | map | what the registry said |\n|---:|---|---|\n";
                for f in &c.flags {
                    out += &format!("| {} | {} | {} |\n", f.tick, f.map, f.what);
                }
                out += "\n";
            }
            if let (Some(reported), Some(counted)) = (c.reported_bytes, c.counted_bytes) {
                out += &format!(
                    "| leaky cache at the end | bytes |\n|---|---:|\n\
                     | reported by gomap (table + owned) | {reported} |\n\
                     | held, by the counting allocator | {counted} |\n\n"
                );
            }
            if !c.observations.is_empty() {
                out += "| emptied | cued looks | half cleared | free snapshots | half cleared | cues missed |\n|---|---:|---:|---:|---:|---:|\n";
                for o in &c.observations {
                    out += &format!(
                        "| {} | {} | {} | {} | {} | {} |\n",
                        o.pattern,
                        o.cued,
                        o.cued_half_cleared,
                        o.snapshots,
                        o.half_cleared,
                        o.cues_missed
                    );
                }
                out += "\n";
            }
        }
        out
    }
}
