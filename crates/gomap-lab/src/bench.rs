//! Throughput and bytes per entry, gomap against std's HashMap and
//! hashbrown in the same run — and Go's map, when a Go toolchain is there.

use std::collections::HashMap as StdMap;
use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use serde::{Deserialize, Serialize};

use crate::measure::{bytes_since, keys, live_bytes, median, progress};
use crate::Outcome;

type Hasher = foldhash::fast::RandomState;

pub const OPS: [&str; 5] = ["insert", "lookup_hit", "lookup_miss", "remove", "iterate"];
const ROUNDS: usize = 5;

/// One operation's figures.
#[derive(Clone, Debug, Serialize)]
pub struct OpRow {
    pub op: &'static str,
    /// Median ns per operation: gomap, std, hashbrown.
    pub ns: [f64; 3],
    /// Median of per-round ratios gomap / std and gomap / hashbrown (< 1:
    /// gomap is faster).
    pub vs_std: f64,
    pub vs_hashbrown: f64,
    /// Go's map, ns per operation, when Go ran.
    pub go_ns: Option<f64>,
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
    pub ns_per_op: f64,
}

#[derive(Clone, Debug, Serialize)]
pub struct Bench {
    pub n: usize,
    pub rounds: usize,
    pub ops: Vec<OpRow>,
    /// Bytes per entry after inserting n: gomap, std, hashbrown.
    pub bytes_per_entry: [f64; 3],
    /// The Go run, or why there was none.
    pub go: Result<GoRun, String>,
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
    // times[map][op][round]
    let mut times = vec![vec![Vec::new(); OPS.len()]; 3];
    let mut bytes = [0usize; 3];
    for round in 0..ROUNDS {
        for i in 0..3 {
            let m = (i + round) % 3;
            let (ns, b) = measure[m](&present, &absent);
            for (op, t) in ns.iter().enumerate() {
                times[m][op].push(*t);
            }
            bytes[m] = b;
            bar.inc(1);
        }
    }
    bar.set_message("bench: Go");
    let go = run_go(go, n);
    bar.finish_and_clear();
    let ops = OPS
        .iter()
        .enumerate()
        .map(|(op, &name)| {
            let ratio = |other: usize| {
                median(
                    (0..ROUNDS)
                        .map(|r| times[0][op][r] / times[other][op][r])
                        .collect(),
                )
            };
            OpRow {
                op: name,
                ns: [0, 1, 2].map(|m| median(times[m][op].clone())),
                vs_std: ratio(1),
                vs_hashbrown: ratio(2),
                go_ns: go
                    .as_ref()
                    .ok()
                    .and_then(|g| g.results.iter().find(|r| r.op == name))
                    .map(|r| r.ns_per_op),
            }
        })
        .collect();
    Bench {
        n,
        rounds: ROUNDS,
        ops,
        bytes_per_entry: bytes.map(|b| b as f64 / n as f64),
        go,
    }
}

impl Bench {
    fn go_label(&self) -> String {
        match &self.go {
            Ok(g) => format!("Go {} map", g.version),
            Err(_) => "Go".into(),
        }
    }
}

impl Outcome for Bench {
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
                r.ns[0],
                r.ns[1],
                r.ns[2],
                r.go_ns.map_or("–".into(), |g| format!("{g:.1}")),
                r.vs_std,
                r.vs_hashbrown
            );
        }
        out += &format!(
            "\nbytes per entry: gomap {:.1}, std {:.1}, hashbrown {:.1}{}\n",
            self.bytes_per_entry[0],
            self.bytes_per_entry[1],
            self.bytes_per_entry[2],
            match &self.go {
                Ok(g) => format!(", {} {:.1}", self.go_label(), g.bytes_per_entry),
                Err(e) => format!("\n(Go column empty: {e})"),
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
                r.ns[0],
                r.ns[1],
                r.ns[2],
                r.go_ns.map_or("–".into(), |g| format!("{g:.1}")),
                r.vs_std,
                r.vs_hashbrown
            );
        }
        out += &format!(
            "\nBytes per entry: gomap {:.1}, std {:.1}, hashbrown {:.1}{}.\n",
            self.bytes_per_entry[0],
            self.bytes_per_entry[1],
            self.bytes_per_entry[2],
            match &self.go {
                Ok(g) => format!(", {} {:.1}", self.go_label(), g.bytes_per_entry),
                Err(e) => format!(" (no Go column: {e})"),
            }
        );
        out
    }
}
