//! Throughput and bytes per entry, gomap against std's HashMap and
//! hashbrown in the same run — and Go's map, when a Go toolchain is there.

use std::collections::HashMap as StdMap;
use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use serde::{Deserialize, Serialize};

use crate::claims::{Attempts, Claim};
use crate::measure::{bytes_since, keys, live_bytes, median, progress};
use crate::Outcome;

type Hasher = foldhash::fast::RandomState;

pub const OPS: [&str; 5] = ["insert", "lookup_hit", "lookup_miss", "remove", "iterate"];
/// Rounds always run; more run, up to `MAX_ROUNDS`, while the rounds
/// disagree on the timing claim (`HIT_RATIO`).
const ROUNDS: usize = 5;
const MAX_ROUNDS: usize = 11;
/// The hit claim: a gomap hit costs at most this much of std's and
/// hashbrown's.
const HIT_RATIO: f64 = 1.10;

/// A figure for each of the three Rust maps.
#[derive(Clone, Copy, Debug, Serialize)]
pub struct PerMap {
    pub gomap: f64,
    pub std: f64,
    pub hashbrown: f64,
}

impl PerMap {
    fn of(f: impl Fn(usize) -> f64) -> PerMap {
        PerMap {
            gomap: f(0),
            std: f(1),
            hashbrown: f(2),
        }
    }
}

/// One operation's figures.
#[derive(Clone, Debug, Serialize)]
pub struct OpRow {
    pub op: &'static str,
    /// Median ns per operation.
    pub ns: PerMap,
    /// Median of per-round ratios gomap / std and gomap / hashbrown (< 1:
    /// gomap is faster).
    pub gomap_vs_std: f64,
    pub gomap_vs_hashbrown: f64,
    /// Go's map, ns per operation, when Go ran.
    pub go_ns: Option<f64>,
    /// gomap's figure in each round, in round order.
    pub gomap_rounds_ns: Vec<f64>,
}

/// Go's side, as bench/go prints it.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct GoRun {
    pub version: String,
    pub results: Vec<GoResult>,
    pub bytes_per_entry: f64,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct GoResult {
    pub op: String,
    /// The median over the rounds.
    pub ns_per_op: f64,
    /// Each round's figure, in round order.
    #[serde(default)]
    pub rounds_ns: Vec<f64>,
}

/// Go's column: its run, or why there was none.
#[derive(Clone, Debug, Serialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum GoColumn {
    Ran(GoRun),
    NotRun { why: String },
}

impl GoColumn {
    pub fn ran(&self) -> Option<&GoRun> {
        match self {
            GoColumn::Ran(go) => Some(go),
            GoColumn::NotRun { .. } => None,
        }
    }
}

#[derive(Clone, Debug, Serialize)]
pub struct Bench {
    pub n: usize,
    /// Alternating rounds run (each map once per round).
    pub rounds: usize,
    pub ops: Vec<OpRow>,
    /// Bytes per entry after inserting n.
    pub bytes_per_entry: PerMap,
    /// Per round, whether gomap's hits cost at most `HIT_RATIO` of std's
    /// and hashbrown's.
    pub hit_rounds: Vec<bool>,
    pub go: GoColumn,
}

/// ns per op for each of `OPS`, and the bytes the full map held.
type Measured = ([f64; 5], usize);
type Measure = fn(&[u64], &[u64]) -> Measured;

trait Subject {
    fn measure(keys: &[u64], absent: &[u64]) -> Measured;
}

macro_rules! subject {
    ($name:ident, $map:ty, $new:expr) => {
        struct $name;
        impl Subject for $name {
            fn measure(keys: &[u64], absent: &[u64]) -> Measured {
                let n = keys.len() as f64;
                let per = |t: Instant| t.elapsed().as_nanos() as f64 / n;
                let base = live_bytes();
                let t = Instant::now();
                let mut map: $map = $new;
                for &k in keys {
                    map.insert(k, k);
                }
                let insert = per(t);
                let bytes = bytes_since(base);
                let t = Instant::now();
                black_box(
                    keys.iter()
                        .filter_map(|k| map.get(black_box(k)))
                        .fold(0u64, |a, v| a.wrapping_add(*v)),
                );
                let hit = per(t);
                let t = Instant::now();
                black_box(
                    absent
                        .iter()
                        .filter(|k| map.contains_key(black_box(*k)))
                        .count(),
                );
                let miss = per(t);
                let t = Instant::now();
                black_box(map.values().fold(0u64, |a, v| a.wrapping_add(*v)));
                let iterate = per(t);
                let t = Instant::now();
                for k in keys {
                    black_box(map.remove(k));
                }
                let remove = per(t);
                ([insert, hit, miss, remove, iterate], bytes)
            }
        }
    };
}

subject!(Gomap, gomap::HashMap<u64, u64, Hasher>, gomap::HashMap::with_hasher(Hasher::default()));
subject!(Std, StdMap<u64, u64, Hasher>, StdMap::with_hasher(Hasher::default()));
subject!(Brown, hashbrown::HashMap<u64, u64, Hasher>, hashbrown::HashMap::with_hasher(Hasher::default()));

/// The Go toolchain to use: the one given, `go` on PATH, or Debian's
/// versioned package (`/usr/lib/go-*/bin/go`).
pub(crate) fn find_go(given: Option<&Path>) -> Option<PathBuf> {
    if let Some(go) = given {
        return Some(go.to_path_buf());
    }
    let on_path = std::env::var_os("PATH").and_then(|path| {
        std::env::split_paths(&path)
            .map(|dir| dir.join("go"))
            .find(|p| p.is_file())
    });
    on_path.or_else(|| {
        let mut debian: Vec<PathBuf> = std::fs::read_dir("/usr/lib")
            .ok()?
            .filter_map(|e| e.ok())
            .filter(|e| e.file_name().to_string_lossy().starts_with("go-"))
            .map(|e| e.path().join("bin/go"))
            .filter(|p| p.is_file())
            .collect();
        debian.sort();
        debian.pop()
    })
}

/// Where bench/go is: next to the workspace this binary was built from.
pub(crate) fn go_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../bench/go")
}

fn run_go(go: Option<&Path>, n: usize) -> Result<GoRun, String> {
    let go = find_go(go)
        .ok_or("no Go toolchain: none given with --go, no `go` on PATH, none in /usr/lib/go-*")?;
    let output = Command::new(&go)
        .args([
            "run",
            ".",
            "-n",
            &n.to_string(),
            "-rounds",
            &ROUNDS.to_string(),
        ])
        .current_dir(go_dir())
        .output()
        .map_err(|e| format!("cannot run {}: {e}", go.display()))?;
    if !output.status.success() {
        return Err(format!(
            "{} failed: {}",
            go.display(),
            String::from_utf8_lossy(&output.stderr).trim()
        ));
    }
    serde_json::from_slice(&output.stdout)
        .map_err(|e| format!("bench/go printed something unexpected: {e}"))
}

pub fn run(n: usize, go: Option<&Path>) -> Bench {
    let present = keys(n, 1);
    let absent = keys(n, 2);
    let bar = progress((ROUNDS * 3 + 1) as u64, "bench: throughput");
    let measure: [Measure; 3] = [Gomap::measure, Std::measure, Brown::measure];
    const HIT: usize = 1;
    // times[map][op][round]
    let mut times = vec![vec![Vec::new(); OPS.len()]; 3];
    let mut bytes = [0usize; 3];
    let mut hit_rounds = Vec::new();
    let mut round = 0;
    // At least ROUNDS; then on while the rounds disagree about the hit
    // claim, up to MAX_ROUNDS.
    while round < ROUNDS || !Attempts::settled(&hit_rounds, MAX_ROUNDS) {
        if round >= ROUNDS {
            bar.inc_length(3);
        }
        for i in 0..3 {
            let m = (i + round) % 3;
            let (ns, b) = measure[m](&present, &absent);
            for (op, t) in ns.iter().enumerate() {
                times[m][op].push(*t);
            }
            bytes[m] = b;
            bar.inc(1);
        }
        let hit = |m: usize| times[0][HIT][round] / times[m][HIT][round];
        hit_rounds.push(hit(1) <= HIT_RATIO && hit(2) <= HIT_RATIO);
        round += 1;
    }
    bar.set_message("bench: Go");
    let go = match run_go(go, n) {
        Ok(g) => GoColumn::Ran(g),
        Err(why) => GoColumn::NotRun { why },
    };
    bar.finish_and_clear();
    let ops = OPS
        .iter()
        .enumerate()
        .map(|(op, &name)| {
            let ratio = |other: usize| {
                median(
                    (0..round)
                        .map(|r| times[0][op][r] / times[other][op][r])
                        .collect(),
                )
            };
            OpRow {
                op: name,
                ns: PerMap::of(|m| median(times[m][op].clone())),
                gomap_vs_std: ratio(1),
                gomap_vs_hashbrown: ratio(2),
                go_ns: go
                    .ran()
                    .and_then(|g| g.results.iter().find(|r| r.op == name))
                    .map(|r| r.ns_per_op),
                gomap_rounds_ns: times[0][op].clone(),
            }
        })
        .collect();
    Bench {
        n,
        rounds: round,
        ops,
        bytes_per_entry: PerMap::of(|m| bytes[m] as f64 / n as f64),
        hit_rounds,
        go,
    }
}

/// The operations the Go claim covers (not remove: gomap's remove also
/// shrinks the map as it empties, which Go's never does).
const VS_GO: [&str; 4] = ["insert", "lookup_hit", "lookup_miss", "iterate"];

impl Bench {
    fn go_label(&self) -> String {
        match self.go.ran() {
            Some(g) => format!("Go {} map", g.version),
            None => "Go".into(),
        }
    }

    fn op(&self, name: &str) -> Option<&OpRow> {
        self.ops.iter().find(|o| o.op == name)
    }

    fn verdicts(&self) -> Vec<Claim> {
        let mut out = Vec::new();
        let hit = self.op("lookup_hit");
        out.push(Claim::by_attempts(
            "hit-vs-hashbrown",
            "A lookup that hits costs no more than in std's HashMap and hashbrown \
             (within 10 %), with the same keys and the same hasher.",
            Attempts::of(&self.hit_rounds, MAX_ROUNDS),
            hit.map_or_else(String::new, |h| {
                format!(
                    "{} keys, median ns: gomap {:.1}, std {:.1}, hashbrown {:.1}; \
                     median ratio gomap/std {:.2}, gomap/hashbrown {:.2}",
                    self.n,
                    h.ns.gomap,
                    h.ns.std,
                    h.ns.hashbrown,
                    h.gomap_vs_std,
                    h.gomap_vs_hashbrown
                )
            }),
            "in most rounds a gomap hit cost more than 1.10× std's or hashbrown's",
        ));
        let go_statement = "gomap is faster than Go's map on insert, lookup hit, lookup miss \
                            and iteration, on the same keys.";
        let bytes_statement = "gomap holds no more bytes per u64 → u64 entry than Go's map.";
        match &self.go {
            GoColumn::NotRun { why } => {
                out.push(Claim::not_measured(
                    "speed-vs-go",
                    go_statement,
                    why.clone(),
                ));
                out.push(Claim::not_measured(
                    "bytes-vs-go",
                    bytes_statement,
                    why.clone(),
                ));
            }
            GoColumn::Ran(go) => {
                let go_op = |op: &str| go.results.iter().find(|r| r.op == op);
                let missing: Vec<&str> = VS_GO
                    .iter()
                    .copied()
                    .filter(|op| {
                        self.op(op).is_none() || go_op(op).is_none_or(|r| r.rounds_ns.is_empty())
                    })
                    .collect();
                if !missing.is_empty() {
                    out.push(Claim::not_measured(
                        "speed-vs-go",
                        go_statement,
                        format!("Go reported no rounds for {}", missing.join(", ")),
                    ));
                } else {
                    // Round r of gomap against round r of Go: did gomap win
                    // every operation?
                    let rounds = VS_GO
                        .iter()
                        .map(|op| go_op(op).map_or(0, |r| r.rounds_ns.len()))
                        .chain(std::iter::once(self.rounds))
                        .min()
                        .unwrap_or(0);
                    let outcomes: Vec<bool> = (0..rounds)
                        .map(|r| {
                            VS_GO.iter().all(|op| {
                                let ours = self.op(op).map_or(f64::NAN, |o| o.gomap_rounds_ns[r]);
                                go_op(op).is_some_and(|g| ours < g.rounds_ns[r])
                            })
                        })
                        .collect();
                    let evidence = VS_GO
                        .iter()
                        .map(|op| {
                            format!(
                                "{op} {:.1} vs {:.1}",
                                self.op(op).map_or(f64::NAN, |o| o.ns.gomap),
                                go_op(op).map_or(f64::NAN, |g| g.ns_per_op)
                            )
                        })
                        .collect::<Vec<_>>()
                        .join(", ");
                    out.push(Claim::by_attempts(
                        "speed-vs-go",
                        go_statement,
                        Attempts::of(&outcomes, rounds),
                        format!("median ns per op, gomap vs Go {}: {evidence}; a round counts when gomap won all four", go.version),
                        "in most rounds Go's map was faster on at least one of the four",
                    ));
                }
                out.push(Claim::judged(
                    "bytes-vs-go",
                    bytes_statement,
                    self.bytes_per_entry.gomap <= go.bytes_per_entry,
                    format!(
                        "{} entries: gomap {:.1} B, Go {} {:.1} B (std {:.1}, hashbrown {:.1})",
                        self.n,
                        self.bytes_per_entry.gomap,
                        go.version,
                        go.bytes_per_entry,
                        self.bytes_per_entry.std,
                        self.bytes_per_entry.hashbrown
                    ),
                    "gomap held more bytes per entry",
                ));
            }
        }
        out
    }
}

impl Outcome for Bench {
    fn claims(&self) -> Vec<Claim> {
        self.verdicts()
    }

    fn text(&self) -> String {
        let mut out = format!(
            "bench: {} u64 keys, median of {} alternating rounds (ns per op; ratio < 1: gomap faster)\n\n",
            self.n, self.rounds
        );
        out += &format!(
            "{:<12} {:>8} {:>8} {:>10} {:>8} {:>12} {:>14}\n",
            "op",
            "gomap",
            "std",
            "hashbrown",
            self.go_label().split(' ').next().unwrap_or("Go"),
            "gomap/std",
            "gomap/hashbrown"
        );
        for r in &self.ops {
            out += &format!(
                "{:<12} {:>8.1} {:>8.1} {:>10.1} {:>8} {:>12.2} {:>14.2}\n",
                r.op,
                r.ns.gomap,
                r.ns.std,
                r.ns.hashbrown,
                r.go_ns.map_or("–".into(), |g| format!("{g:.1}")),
                r.gomap_vs_std,
                r.gomap_vs_hashbrown
            );
        }
        out += &format!(
            "\nbytes per entry: gomap {:.1}, std {:.1}, hashbrown {:.1}{}\n",
            self.bytes_per_entry.gomap,
            self.bytes_per_entry.std,
            self.bytes_per_entry.hashbrown,
            match &self.go {
                GoColumn::Ran(g) => format!(", {} {:.1}", self.go_label(), g.bytes_per_entry),
                GoColumn::NotRun { why } => format!("\n(Go column empty: {why})"),
            }
        );
        out
    }

    fn markdown(&self) -> String {
        let mut out = format!(
            "### Throughput ({} keys, median of {} alternating rounds, ns per op)\n\n| op | gomap | std | hashbrown | {} | gomap/std | gomap/hashbrown |\n|---|---:|---:|---:|---:|---:|---:|\n",
            self.n,
            self.rounds,
            self.go_label()
        );
        for r in &self.ops {
            out += &format!(
                "| {} | {:.1} | {:.1} | {:.1} | {} | {:.2} | {:.2} |\n",
                r.op,
                r.ns.gomap,
                r.ns.std,
                r.ns.hashbrown,
                r.go_ns.map_or("–".into(), |g| format!("{g:.1}")),
                r.gomap_vs_std,
                r.gomap_vs_hashbrown
            );
        }
        out += &format!(
            "\nBytes per entry: gomap {:.1}, std {:.1}, hashbrown {:.1}{}.\n",
            self.bytes_per_entry.gomap,
            self.bytes_per_entry.std,
            self.bytes_per_entry.hashbrown,
            match &self.go {
                GoColumn::Ran(g) => format!(", {} {:.1}", self.go_label(), g.bytes_per_entry),
                GoColumn::NotRun { why } => format!(" (no Go column: {why})"),
            }
        );
        out
    }
}
