//! Growth is incremental. Every insert timed while
//! growing to N, and gomap's timeline of buckets and migrations.

use std::collections::HashMap as StdMap;
use std::hint::black_box;
use std::time::Instant;

use gomap::MigrationKind;
use serde::Serialize;

use crate::claims::{Attempts, Claim};
use crate::measure::{keys, progress, quantile};
use crate::Outcome;

/// The claim: gomap's slowest insert is at least this many times faster
/// than std's and hashbrown's.
pub const MAX_FACTOR: u64 = 10;
/// Attempts at most, when they disagree (each times every insert of all
/// three maps).
const BUDGET: usize = 7;

type Hasher = foldhash::fast::RandomState;

/// One map's insert latencies, in nanoseconds.
#[derive(Clone, Debug, Serialize)]
pub struct Latency {
    pub map: &'static str,
    pub p50: u64,
    pub p99: u64,
    pub p999: u64,
    pub p9999: u64,
    pub max: u64,
    pub total_ms: f64,
    /// The distribution, p50 to max, for the chart.
    pub tail: Vec<Quantile>,
}

/// One point of a latency distribution.
#[derive(Clone, Copy, Debug, Serialize)]
pub struct Quantile {
    /// Which quantile (0.5 = p50, 1 = max).
    pub q: f64,
    pub ns: u64,
}

/// The slowest insert of each map in one attempt, ns.
#[derive(Clone, Copy, Debug, Serialize)]
pub struct Maxima {
    pub gomap: u64,
    pub std: u64,
    pub hashbrown: u64,
}

impl Maxima {
    /// Whether this attempt showed the claim.
    fn bounded(&self) -> bool {
        self.gomap.saturating_mul(MAX_FACTOR) <= self.std.min(self.hashbrown)
    }
    /// How many times faster gomap's slowest insert was than the better of
    /// the other two.
    fn factor(&self) -> f64 {
        self.std.min(self.hashbrown) as f64 / self.gomap.max(1) as f64
    }
}

/// gomap's table at one point of the growth.
#[derive(Clone, Debug, Serialize)]
pub struct Moment {
    pub inserted: usize,
    /// log2 of the current buckets (Go's B).
    pub b: u32,
    /// The running migration: "grow", "compact", "shrink" or "".
    pub migration: &'static str,
    /// Its progress, 0..=1.
    pub progress: f64,
}

#[derive(Clone, Debug, Serialize)]
pub struct Grow {
    pub n: usize,
    /// Each attempt's slowest inserts.
    pub attempts: Vec<Maxima>,
    /// Which attempt `latencies` are from: the median one by `factor`.
    pub shown_attempt: usize,
    /// gomap, std, hashbrown.
    pub latencies: [Latency; 3],
    pub timeline: Vec<Moment>,
}

/// The quantiles the chart shows, and their names.
pub const QUANTILES: [(f64, &str); 8] = [
    (0.0, "min"),
    (0.5, "p50"),
    (0.9, "p90"),
    (0.99, "p99"),
    (0.999, "p99.9"),
    (0.9999, "p99.99"),
    (0.99999, "p99.999"),
    (1.0, "max"),
];

fn latency(map: &'static str, mut ns: Vec<u64>, total_ms: f64) -> Latency {
    ns.sort_unstable();
    let tail = QUANTILES
        .iter()
        .map(|&(q, _)| Quantile {
            q,
            ns: quantile(&ns, q),
        })
        .collect();
    Latency {
        map,
        p50: quantile(&ns, 0.5),
        p99: quantile(&ns, 0.99),
        p999: quantile(&ns, 0.999),
        p9999: quantile(&ns, 0.9999),
        max: *ns.last().unwrap_or(&0),
        total_ms,
        tail,
    }
}

/// Times every insert of `keys` into an empty map.
fn timed(keys: &[u64], mut insert: impl FnMut(u64)) -> (Vec<u64>, f64) {
    let mut ns = Vec::with_capacity(keys.len());
    let start = Instant::now();
    for &k in keys {
        let t = Instant::now();
        insert(k);
        ns.push(t.elapsed().as_nanos() as u64);
    }
    (ns, start.elapsed().as_secs_f64() * 1e3)
}

/// gomap, std and hashbrown each grown to `keys.len()`, every insert
/// timed; gomap's table looked at after every 2 % more inserts (the
/// timeline's x axis is logarithmic) when `timeline` is given.
fn attempt(keys: &[u64], mut timeline: Option<&mut Vec<Moment>>) -> [Latency; 3] {
    let mut next_look = 1usize;
    let mut go: gomap::HashMap<u64, u64, Hasher> = gomap::HashMap::with_hasher(Hasher::default());
    // gomap: timed like the others, plus looks at its table (outside the
    // timed call).
    let mut ns = Vec::with_capacity(keys.len());
    let start = Instant::now();
    for (i, &k) in keys.iter().enumerate() {
        let t = Instant::now();
        go.insert(k, k);
        ns.push(t.elapsed().as_nanos() as u64);
        if let Some(timeline) = timeline.as_deref_mut() {
            if i + 1 >= next_look || i + 1 == keys.len() {
                timeline.push(moment(i + 1, &go));
                next_look = (next_look + 1).max(next_look * 51 / 50);
            }
        }
    }
    let ms = start.elapsed().as_secs_f64() * 1e3;
    black_box(&go);
    drop(go);
    let gomap = latency("gomap", ns, ms);

    let mut std: StdMap<u64, u64, Hasher> = StdMap::with_hasher(Hasher::default());
    let (ns, ms) = timed(keys, |k| {
        black_box(std.insert(k, k));
    });
    black_box(&std);
    drop(std);
    let std = latency("std HashMap", ns, ms);

    let mut brown: hashbrown::HashMap<u64, u64, Hasher> =
        hashbrown::HashMap::with_hasher(Hasher::default());
    let (ns, ms) = timed(keys, |k| {
        black_box(brown.insert(k, k));
    });
    black_box(&brown);
    drop(brown);
    [gomap, std, latency("hashbrown", ns, ms)]
}

/// gomap's table after `inserted` inserts.
fn moment(inserted: usize, go: &gomap::HashMap<u64, u64, Hasher>) -> Moment {
    let s = go.mem_stats();
    Moment {
        inserted,
        b: s.buckets.max(1).trailing_zeros(),
        migration: match s.migration.map(|m| m.kind) {
            Some(MigrationKind::Grow) => "grow",
            Some(MigrationKind::Compact) => "compact",
            Some(MigrationKind::Shrink) => "shrink",
            None => "",
        },
        progress: s
            .migration
            .map_or(0.0, |m| m.evacuated as f64 / m.total as f64),
    }
}

/// Grows the three maps to `n` again and again, until the first attempts
/// agree on the claim or `BUDGET` runs out (a stray preemption of the
/// machine can make any one insert slow).
pub fn run(n: usize) -> Grow {
    let keys = keys(n, 3);
    let bar = progress(Attempts::AGREEING as u64, "grow: every insert timed");
    let mut timeline = Vec::new();
    let mut runs: Vec<[Latency; 3]> = Vec::new();
    let mut attempts: Vec<Maxima> = Vec::new();
    let mut outcomes = Vec::new();
    while !Attempts::settled(&outcomes, BUDGET) {
        if runs.len() >= Attempts::AGREEING {
            bar.inc_length(1);
        }
        let first = runs.is_empty();
        let latencies = attempt(&keys, first.then_some(&mut timeline));
        let maxima = Maxima {
            gomap: latencies[0].max,
            std: latencies[1].max,
            hashbrown: latencies[2].max,
        };
        outcomes.push(maxima.bounded());
        attempts.push(maxima);
        runs.push(latencies);
        bar.inc(1);
    }
    bar.finish_and_clear();
    let mut order: Vec<usize> = (0..attempts.len()).collect();
    order.sort_by(|&a, &b| attempts[a].factor().total_cmp(&attempts[b].factor()));
    let shown_attempt = order[order.len() / 2];
    Grow {
        n,
        attempts,
        shown_attempt,
        latencies: runs.swap_remove(shown_attempt),
        timeline,
    }
}

impl Grow {
    fn verdicts(&self) -> Vec<Claim> {
        let shown = &self.attempts[self.shown_attempt];
        let ms = |ns: u64| ns as f64 / 1e6;
        let outcomes: Vec<bool> = self.attempts.iter().map(Maxima::bounded).collect();
        vec![Claim::by_attempts(
            "insert-latency-bounded",
            format!(
                "No insert rehashes the whole map: growing an empty map to {} entries, \
                 gomap's slowest insert is at least {MAX_FACTOR}× faster than std's and \
                 hashbrown's, which move every entry at once when they grow.",
                self.n
            ),
            Attempts::of(&outcomes, BUDGET),
            format!(
                "slowest insert in the median attempt: gomap {:.3} ms, std {:.3} ms, \
                 hashbrown {:.3} ms ({:.0}× faster than the better of them)",
                ms(shown.gomap),
                ms(shown.std),
                ms(shown.hashbrown),
                shown.factor()
            ),
            format!(
                "gomap's slowest insert was within {MAX_FACTOR}× of the others' in most attempts"
            ),
        )]
    }

    /// The quantiles at which gomap's inserts were slower than both std's
    /// and hashbrown's in the attempt shown: name and ns of gomap, std and
    /// hashbrown.
    pub fn gomap_slower_at(&self) -> Vec<(&'static str, [u64; 3])> {
        let [go, std, brown] = [0, 1, 2].map(|i| &self.latencies[i].tail);
        QUANTILES
            .iter()
            .enumerate()
            .map(|(i, (_, name))| (*name, [go[i].ns, std[i].ns, brown[i].ns]))
            .filter(|(_, [g, s, b])| g > s && g > b)
            .collect()
    }
}

impl Outcome for Grow {
    fn claims(&self) -> Vec<Claim> {
        self.verdicts()
    }

    fn text(&self) -> String {
        let mut out = format!(
            "grow: every insert timed while growing an empty map to {} u64 keys (ns; \
             attempt {} of {}, the median by gomap's margin)\n\n",
            self.n,
            self.shown_attempt + 1,
            self.attempts.len()
        );
        out += &format!(
            "{:<12} {:>8} {:>8} {:>8} {:>9} {:>12} {:>10}\n",
            "map", "p50", "p99", "p99.9", "p99.99", "max", "total ms"
        );
        for l in &self.latencies {
            out += &format!(
                "{:<12} {:>8} {:>8} {:>8} {:>9} {:>12} {:>10.1}\n",
                l.map, l.p50, l.p99, l.p999, l.p9999, l.max, l.total_ms
            );
        }
        let grows = self.timeline.windows(2).filter(|w| w[1].b > w[0].b).count();
        out += &format!(
            "\ngomap's timeline: {} samples, B went up {grows} times (sampled)\n",
            self.timeline.len()
        );
        out
    }

    fn markdown(&self) -> String {
        let mut out = format!(
            "### Insert latency while growing to {} (ns; attempt {} of {}, the median by gomap's margin)\n\n| map | p50 | p99 | p99.9 | p99.99 | max | total ms |\n|---|---:|---:|---:|---:|---:|---:|\n",
            self.n,
            self.shown_attempt + 1,
            self.attempts.len()
        );
        for l in &self.latencies {
            out += &format!(
                "| {} | {} | {} | {} | {} | {} | {:.1} |\n",
                l.map, l.p50, l.p99, l.p999, l.p9999, l.max, l.total_ms
            );
        }
        out += "\n| attempt | gomap max (ns) | std max (ns) | hashbrown max (ns) |\n|---:|---:|---:|---:|\n";
        for (i, a) in self.attempts.iter().enumerate() {
            out += &format!(
                "| {} | {} | {} | {} |\n",
                i + 1,
                a.gomap,
                a.std,
                a.hashbrown
            );
        }
        out
    }
}
