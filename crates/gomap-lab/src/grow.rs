//! Growth is incremental. Every insert timed while
//! growing to N, and gomap's timeline of buckets and migrations.

use std::collections::HashMap as StdMap;
use std::hint::black_box;
use std::time::Instant;

use gomap::MigrationKind;
use serde::Serialize;

use crate::measure::{keys, progress, quantile};
use crate::Outcome;

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
    /// `(fraction of inserts, ns)` points of the tail, for the chart.
    pub tail: Vec<(f64, u64)>,
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
    pub latencies: Vec<Latency>,
    pub timeline: Vec<Moment>,
}

fn latency(map: &'static str, mut ns: Vec<u64>, total_ms: f64) -> Latency {
    ns.sort_unstable();
    let tail = [0.5, 0.9, 0.99, 0.999, 0.9999, 0.99999, 1.0]
        .iter()
        .map(|&q| (q, quantile(&ns, q)))
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

pub fn run(n: usize) -> Grow {
    let keys = keys(n, 3);
    let bar = progress(3, "grow: every insert timed");
    let mut latencies = Vec::new();
    let mut timeline = Vec::new();
    let every = (n / 400).max(1);

    let mut go: gomap::HashMap<u64, u64, Hasher> = gomap::HashMap::with_hasher(Hasher::default());
    // gomap: timed like the others, plus a look at its table every
    // `every` inserts (outside the timed call).
    let mut ns = Vec::with_capacity(keys.len());
    let start = Instant::now();
    for (i, &k) in keys.iter().enumerate() {
        let t = Instant::now();
        go.insert(k, k);
        ns.push(t.elapsed().as_nanos() as u64);
        if i % every == 0 || i + 1 == keys.len() {
            let s = go.mem_stats();
            timeline.push(Moment {
                inserted: i + 1,
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
            });
        }
    }
    let ms = start.elapsed().as_secs_f64() * 1e3;
    black_box(&go);
    drop(go);
    latencies.push(latency("gomap", ns, ms));
    bar.inc(1);

    let mut std: StdMap<u64, u64, Hasher> = StdMap::with_hasher(Hasher::default());
    let (ns, ms) = timed(&keys, |k| {
        black_box(std.insert(k, k));
    });
    black_box(&std);
    drop(std);
    latencies.push(latency("std HashMap", ns, ms));
    bar.inc(1);

    let mut brown: hashbrown::HashMap<u64, u64, Hasher> =
        hashbrown::HashMap::with_hasher(Hasher::default());
    let (ns, ms) = timed(&keys, |k| {
        black_box(brown.insert(k, k));
    });
    black_box(&brown);
    drop(brown);
    latencies.push(latency("hashbrown", ns, ms));
    bar.inc(1);
    bar.finish_and_clear();

    Grow {
        n,
        latencies,
        timeline,
    }
}

impl Outcome for Grow {
    fn text(&self) -> String {
        let mut out = format!(
            "grow: every insert timed while growing an empty map to {} u64 keys (ns)\n\n",
            self.n
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
            "### Insert latency while growing to {} (ns)\n\n| map | p50 | p99 | p99.9 | p99.99 | max | total ms |\n|---|---:|---:|---:|---:|---:|---:|\n",
            self.n
        );
        for l in &self.latencies {
            out += &format!(
                "| {} | {} | {} | {} | {} | {} | {:.1} |\n",
                l.map, l.p50, l.p99, l.p999, l.p9999, l.max, l.total_ms
            );
        }
        out
    }
}
