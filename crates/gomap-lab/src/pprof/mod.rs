//! `gomap-lab pprof`: which Go map holds the memory, from a Go heap profile.
//!
//! `go tool pprof` points at a function and a line. It cannot tell a
//! map's bucket arrays from anything else allocated there, because Go's
//! `runtime/pprof` hides the leading `runtime.` (and, since Go 1.24,
//! `internal/runtime/`) frames of every stack: the `hashGrow` that
//! allocated a bucket array shows up as the user's `m[k] = v`. This module
//! recognises map allocations by their sizes instead.
//!
//! # Signatures
//!
//! Sizes below are the bytes a heap profile records per object (its
//! `bytes` label): the request, rounded by Go's allocator.
//!
//! | allocation | request | from |
//! |---|---|---|
//! | classic bucket | `8 + 8·key + 8·elem + 8` (keys/elems > 128 B as 8-byte pointers) | `runtime/map.go` `bmap`, `cmd/compile/internal/reflectdata` `MapBucketType` |
//! | classic bucket array, B ≥ 1 | bucket × (2^B + 2^(B−4) when B ≥ 4) | `runtime/map.go` `makeBucketArray` |
//! | classic first / overflow bucket | one bucket | `mapassign` `newobject(t.bucket)`, `newoverflow` |
//! | Swiss group | `8 + 8·slot`, slot = key + elem padded | `internal/runtime/maps/group.go`, `reflectdata/map.go` `MapGroupType` |
//! | Swiss group array | group × 2^k, k ≤ 7 (a table holds 1 024 slots at most, then splits in two full tables) | `internal/runtime/maps/table.go` `newTable`, `rehash`, `split`, `maxTableCapacity` |
//! | Swiss small map | one group | `internal/runtime/maps/map.go` `growToSmall` |
//! | beside them | classic `hmap` 48, `mapextra` 24; Swiss `Map` 48, `table` 32; pointer arrays (overflow lists, directories) | the struct definitions |
//!
//! Rounding: objects up to 32 768 B take the next of Go's 68 size classes
//! (`runtime/sizeclasses.go` in Go 1.19, `internal/runtime/gc/sizeclasses.go`
//! in Go 1.27: the same table); bigger ones whole 8 192-byte pages. From Go
//! 1.22 on, objects that hold pointers and are bigger than 512 B carry an
//! 8-byte malloc header inside their size class (`runtime/msize.go`
//! `roundupsize`).
//!
//! Verified on real profiles (`bench/go/leaky`, `runtime.MemProfileRate =
//! 1`), every size below read from the profile and equal to the rule:
//!
//! | Go | map | unit | sizes at the writing line |
//! |---|---|---|---|
//! | 1.19.8 | `map[string]uint64` | 208 B bucket | 208 (overflow), 28 672 (B=7), 57 344 (B=8) … 7 241 728 (B=15), 14 483 456 (B=16) |
//! | 1.19.8 | `map[uint64][4]uint64` | 336 B bucket | 352 (overflow, size class), 2 924 544 (B=13) |
//! | 1.19.8 | `map[int32]int32`, hint 1 024 | 80 B bucket | 21 760 (B=8, at the `make`) |
//! | 1.27.3 | `map[string]uint64` | 200 B group, pointers | 208, 416, 896, 1 792, 3 456, 6 528, 13 568, 27 264 (2^0 … 2^7 groups), table headers 32 |
//! | 1.27.3 | `map[uint64][4]uint64` | 328 B group, no pointers | 49 152 (128 groups: a large object, 6 pages) |
//! | 1.27.3 | `map[int32]int32`, hint 1 024 | 72 B group | 9 472 (two tables of 128 groups) |
//!
//! # Evidence and confidence
//!
//! A size alone proves little: almost every size class is one bucket of
//! some map type. What does: a run of consecutive doublings of one
//! bucket size at one line (classic: three in a row, one of them with B ≥ 4,
//! where the extra 2^(B−4) buckets make the size unlike any slice's), or
//! (Swiss) a run plus several full 1 024-slot tables; map functions in the
//! stack (when Go kept them); and the line's source when it is at hand
//! (`m[k] = v`, `make(map…)` raise it, `append(`, `&T{…}` lower it).
//! Slices grow by 2× then about 1.25×, leaving bigger sizes no map explains,
//! which lowers a site too. Sites with one kind of evidence are listed as
//! possible, not as maps.

mod profile;
pub mod section;
mod signature;
mod sites;
mod source;

use std::fmt::Write as _;
use std::path::PathBuf;

use serde::Serialize;

use crate::measure::human_bytes;
use crate::Outcome;
pub use sites::MapSite;
use sites::Ranked;
use source::Sources;

/// Go versions whose real profiles this was tested on.
pub const TESTED: &str = "Go 1.19.8 (classic buckets) and Go 1.27.3 (Swiss tables)";

/// Bytes in maps against the whole profile.
#[derive(Clone, Debug, Serialize)]
pub struct Totals {
    /// Live bytes of the map sites.
    pub map_inuse_bytes: i64,
    /// Live bytes of the whole profile.
    pub profile_inuse_bytes: i64,
    /// Bytes the map sites allocated since the program started.
    pub map_alloc_bytes: i64,
    /// Bytes the whole program allocated.
    pub profile_alloc_bytes: i64,
    /// Live bytes of the map sites in the base profile (with `--base`).
    pub base_map_inuse_bytes: Option<i64>,
    /// Live bytes of the whole base profile (with `--base`).
    pub base_profile_inuse_bytes: Option<i64>,
}

/// What `gomap-lab pprof` found.
#[derive(Clone, Debug, Serialize)]
pub struct PprofReport {
    /// The profile read.
    pub profile: String,
    /// The base profile, with `--base`.
    pub base: Option<String>,
    /// The map layout the sizes fit best.
    pub layout: signature::Layout,
    /// That layout in words.
    pub layout_described: String,
    /// `runtime.MemProfileRate` the profile was taken with.
    pub sample_period: i64,
    /// When the profile was taken, seconds since the Unix epoch (0: not said).
    pub profile_time_unix: i64,
    /// Map sites, ranked: by growth since the base, else by live bytes.
    pub sites: Vec<MapSite>,
    /// Sites whose sizes alone fit a map: not counted as maps.
    pub possible: Vec<MapSite>,
    /// Map sites with nothing live (and no change since the base): how
    /// many, and how many bytes they allocated.
    pub idle_sites: usize,
    /// Bytes the idle sites allocated.
    pub idle_alloc_bytes: i64,
    /// Bytes in maps and in all.
    pub totals: Totals,
    /// What a heap profile cannot show.
    pub limits: Vec<String>,
    /// The Go versions tested.
    pub tested: String,
}

fn totals(heap: &profile::Heap) -> (i64, i64) {
    heap.records
        .iter()
        .fold((0, 0), |(i, a), r| (i + r.inuse_bytes, a + r.alloc_bytes))
}

/// Reads `profile` (and `base`), finds and ranks the map sites.
pub fn run(profile: &str, base: Option<&str>, roots: &[PathBuf]) -> Result<PprofReport, String> {
    let heap = profile::load(profile)?;
    let base_heap = base.map(profile::load).transpose()?;
    let mut sources = Sources::new(roots.to_vec());
    let grouped = sites::group(&heap);
    let base_grouped = base_heap.as_ref().map(sites::group);
    let layout = sites::choose_layout(&grouped, &mut sources);
    let Ranked {
        sites,
        possible,
        idle,
    } = sites::rank(&grouped, base_grouped.as_ref(), layout, &mut sources);
    let (inuse, alloc) = totals(&heap);
    let base_totals = base_heap.as_ref().map(totals);
    let totals = Totals {
        map_inuse_bytes: sites.iter().map(|s| s.inuse_bytes).sum(),
        profile_inuse_bytes: inuse,
        map_alloc_bytes: sites.iter().map(|s| s.alloc_bytes).sum(),
        profile_alloc_bytes: alloc,
        base_map_inuse_bytes: base.map(|_| sites.iter().filter_map(|s| s.base_inuse_bytes).sum()),
        base_profile_inuse_bytes: base_totals.map(|t| t.0),
    };
    let period = heap.period;
    Ok(PprofReport {
        profile: profile.to_string(),
        base: base.map(String::from),
        layout,
        layout_described: layout.describe().to_string(),
        sample_period: period,
        profile_time_unix: heap.time_nanos / 1_000_000_000,
        sites,
        possible: possible.into_iter().take(5).collect(),
        idle_sites: idle.len(),
        idle_alloc_bytes: idle.iter().map(|s| s.alloc_bytes).sum(),
        totals,
        limits: limits(period),
        tested: TESTED.to_string(),
    })
}

fn sampling(period: i64) -> String {
    if period <= 1 {
        "every allocation recorded (MemProfileRate 1)".into()
    } else {
        format!(
            "one allocation per {} on average (MemProfileRate {period})",
            human_bytes(period as usize)
        )
    }
}

fn limits(period: i64) -> Vec<String> {
    let mut out = vec![];
    if period > 1 {
        out.push(format!(
            "Sampled: Go recorded about one allocation per {} and pprof scaled the counts up, so \
             objects and bytes are estimates and arrays much smaller than that may be missing \
             from a series (sizes are exact). Set runtime.MemProfileRate lower to see everything.",
            human_bytes(period as usize)
        ));
    }
    out.push(
        "In use means live at the last garbage collection before the profile was written; \
         allocated counts everything since the program started."
            .into(),
    );
    out.push(
        "Go hides the runtime frames at the top of each stack, so map allocations are \
         recognised by their sizes: a site is the line that made or wrote the map, and maps of \
         one type written at one line are one site."
            .into(),
    );
    out.push(
        "Only the map's own arrays are counted: keys and values that point elsewhere (a \
         string's bytes, *T) were allocated at other lines; memory outside Go's heap is not in \
         the profile."
            .into(),
    );
    out.push(format!(
        "Tested with {TESTED}; Go 1.22–1.23's malloc headers are derived from Go's sources."
    ));
    out
}

fn signed(delta: i64) -> String {
    if delta >= 0 {
        format!("+{}", human_bytes(delta as usize))
    } else {
        format!("−{}", human_bytes(delta.unsigned_abs() as usize))
    }
}

fn short_file(file: &str) -> &str {
    file.rsplit('/').next().unwrap_or(file)
}

fn percent(part: i64, whole: i64) -> String {
    if whole <= 0 {
        "–".into()
    } else {
        format!("{:.0} %", 100.0 * part as f64 / whole as f64)
    }
}

fn key_elem(s: &MapSite) -> String {
    match (s.finding.key_elem_bytes, s.finding.key_elem_range) {
        (Some(b), _) => format!("{b} B"),
        (None, Some(r)) => format!("{}–{} B", r.min, r.max),
        _ => "?".into(),
    }
}

impl PprofReport {
    fn headline(&self) -> String {
        let t = &self.totals;
        if self.sites.is_empty() {
            return format!(
                "No map allocations found in {} ({} in use).",
                self.profile,
                human_bytes(t.profile_inuse_bytes as usize)
            );
        }
        let top = &self.sites[0];
        let mut s = format!(
            "Maps hold {} of {} in use ({}) at {} site{}. Biggest{}: the map at {}:{} ({}), {} in use",
            human_bytes(t.map_inuse_bytes as usize),
            human_bytes(t.profile_inuse_bytes as usize),
            percent(t.map_inuse_bytes, t.profile_inuse_bytes),
            self.sites.len(),
            if self.sites.len() == 1 { "" } else { "s" },
            if self.base.is_some() { " growth" } else { "" },
            short_file(&top.file),
            top.line,
            top.function,
            human_bytes(top.inuse_bytes as usize),
        );
        if let Some(d) = top.inuse_bytes_delta {
            let _ = write!(s, ", {} since the base", signed(d));
        }
        let _ = write!(s, ", by {}.", top.finding.kind.word());
        s
    }
}

impl Outcome for PprofReport {
    fn text(&self) -> String {
        let mut out = format!(
            "gomap-lab pprof: {}{}\nlayout: {} · sampling: {}\n\n{}\n",
            self.profile,
            self.base
                .as_ref()
                .map_or(String::new(), |b| format!(" (base {b})")),
            self.layout_described,
            sampling(self.sample_period),
            self.headline()
        );
        if !self.sites.is_empty() {
            let rows: Vec<[String; 10]> = self
                .sites
                .iter()
                .enumerate()
                .map(|(i, s)| {
                    [
                        (i + 1).to_string(),
                        s.function.clone(),
                        format!("{}:{}", short_file(&s.file), s.line),
                        human_bytes(s.inuse_bytes as usize),
                        s.inuse_bytes_delta.map_or("–".into(), signed),
                        s.inuse_objects.to_string(),
                        human_bytes(s.alloc_bytes as usize),
                        s.finding.kind.word().to_string(),
                        key_elem(s),
                        format!("{:?}", s.finding.confidence).to_lowercase(),
                    ]
                })
                .collect();
            let head = [
                "#",
                "function",
                "file:line",
                "in use",
                "Δ base",
                "objects",
                "allocated",
                "kind",
                "key+elem",
                "confidence",
            ]
            .map(String::from);
            let width = |c: usize| {
                rows.iter()
                    .chain(std::iter::once(&head))
                    .map(|r| r[c].chars().count())
                    .max()
                    .unwrap_or(0)
            };
            let widths: Vec<usize> = (0..10).map(width).collect();
            out += "\n";
            for row in std::iter::once(&head).chain(&rows) {
                let mut line = String::new();
                for (c, cell) in row.iter().enumerate() {
                    let pad = widths[c].saturating_sub(cell.chars().count());
                    // Text columns left, numbers right.
                    if matches!(c, 1 | 2 | 7 | 9) {
                        line += cell;
                        line += &" ".repeat(pad);
                    } else {
                        line += &" ".repeat(pad);
                        line += cell;
                    }
                    line += "  ";
                }
                out += line.trim_end();
                out += "\n";
            }
            out += "\nevidence:\n";
            for (i, s) in self.sites.iter().enumerate() {
                let _ = writeln!(out, "{:>2}. {} at {}:{}", i + 1, s.function, s.file, s.line);
                for e in &s.finding.evidence {
                    let _ = writeln!(out, "    - {e}");
                }
            }
        }
        if self.idle_sites > 0 {
            let _ = writeln!(
                out,
                "\n{} more map site{} hold nothing live ({} allocated in all).",
                self.idle_sites,
                if self.idle_sites == 1 { "" } else { "s" },
                human_bytes(self.idle_alloc_bytes as usize)
            );
        }
        if !self.possible.is_empty() {
            out += "\npossibly maps (sizes fit, nothing else agrees; not counted):\n";
            for s in &self.possible {
                let _ = writeln!(
                    out,
                    "    {} at {}:{}: {} in use; {}",
                    s.function,
                    short_file(&s.file),
                    s.line,
                    human_bytes(s.inuse_bytes as usize),
                    s.finding.evidence.join("; ")
                );
            }
        }
        out += "\nwhat a heap profile cannot show:\n";
        for l in &self.limits {
            let _ = writeln!(out, "    - {l}");
        }
        out
    }

    fn markdown(&self) -> String {
        let mut out = format!(
            "### Go maps in {}{}\n\n{}\n\nLayout: {}. Sampling: {}.\n\n",
            self.profile,
            self.base
                .as_ref()
                .map_or(String::new(), |b| format!(" (base {b})")),
            self.headline(),
            self.layout_described,
            sampling(self.sample_period)
        );
        if !self.sites.is_empty() {
            out += "| # | function | file:line | in use | Δ base | objects | allocated | kind | key+elem | confidence |\n|---:|---|---|---:|---:|---:|---:|---|---:|---|\n";
            for (i, s) in self.sites.iter().enumerate() {
                let _ = writeln!(
                    out,
                    "| {} | `{}` | `{}:{}` | {} | {} | {} | {} | {} | {} | {} |",
                    i + 1,
                    s.function,
                    short_file(&s.file),
                    s.line,
                    human_bytes(s.inuse_bytes as usize),
                    s.inuse_bytes_delta.map_or("–".into(), signed),
                    s.inuse_objects,
                    human_bytes(s.alloc_bytes as usize),
                    s.finding.kind.word(),
                    key_elem(s),
                    format!("{:?}", s.finding.confidence).to_lowercase()
                );
            }
            out += "\nEvidence:\n\n";
            for (i, s) in self.sites.iter().enumerate() {
                let _ = writeln!(
                    out,
                    "{}. `{}` at `{}:{}`",
                    i + 1,
                    s.function,
                    s.file,
                    s.line
                );
                for e in &s.finding.evidence {
                    let _ = writeln!(out, "   - {e}");
                }
            }
        }
        if !self.possible.is_empty() {
            out += "\nPossibly maps (sizes fit, nothing else agrees; not counted):\n\n";
            for s in &self.possible {
                let _ = writeln!(
                    out,
                    "- `{}` at `{}:{}`: {} in use",
                    s.function,
                    short_file(&s.file),
                    s.line,
                    human_bytes(s.inuse_bytes as usize)
                );
            }
        }
        out += "\nWhat a heap profile cannot show:\n\n";
        for l in &self.limits {
            let _ = writeln!(out, "- {l}");
        }
        out
    }
}
