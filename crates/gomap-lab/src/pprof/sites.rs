//! From records to map sites: group a heap profile's records by the line
//! that allocated them, recognise which lines' allocations are a map's
//! (by their sizes, their series, hidden map frames and the source line),
//! and rank them.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use serde::Serialize;

use super::profile::{Frame, Heap};
use super::signature::{self, Layout, Shape};
use super::source::{Line, Sources};

/// A heap profile's numbers for one object size at one site.
#[derive(Clone, Copy, Debug, Default, Serialize)]
pub struct SizeStat {
    /// Bytes per object.
    pub size: u64,
    /// Objects allocated since the program started.
    pub alloc_objects: i64,
    /// Bytes allocated since the program started.
    pub alloc_bytes: i64,
    /// Objects live at the last GC.
    pub inuse_objects: i64,
    /// Bytes live at the last GC.
    pub inuse_bytes: i64,
}

impl SizeStat {
    fn add(&mut self, other: &SizeStat) {
        self.alloc_objects += other.alloc_objects;
        self.alloc_bytes += other.alloc_bytes;
        self.inuse_objects += other.inuse_objects;
        self.inuse_bytes += other.inuse_bytes;
    }
}

/// Everything one source line allocated.
#[derive(Clone, Debug, Default)]
pub struct Site {
    /// The first frame below Go's hidden runtime frames.
    pub frame: Option<Frame>,
    /// Map functions seen in the stack (only when the profile kept runtime
    /// frames: then the site is a map for certain).
    pub map_frames: BTreeSet<String>,
    /// Per object size.
    pub sizes: BTreeMap<u64, SizeStat>,
}

impl Site {
    fn total(&self) -> SizeStat {
        let mut t = SizeStat::default();
        for s in self.sizes.values() {
            t.add(s);
        }
        t
    }
}

fn is_runtime(function: &str) -> bool {
    function.starts_with("runtime.") || function.starts_with("internal/runtime/")
}

fn is_map_function(function: &str) -> bool {
    function.starts_with("internal/runtime/maps.")
        || [
            "runtime.mapassign",
            "runtime.makemap",
            "runtime.hashGrow",
            "runtime.growWork",
            "runtime.newoverflow",
            "runtime.makeBucketArray",
            "runtime.evacuate",
            "runtime.mapaccess",
            "runtime.mapclone",
        ]
        .iter()
        .any(|p| function.starts_with(p))
}

/// Groups records by the line that allocated them (the leaf frame, below
/// any runtime frames the profile kept).
pub fn group(heap: &Heap) -> BTreeMap<Frame, Site> {
    let mut sites: BTreeMap<Frame, Site> = BTreeMap::new();
    for r in &heap.records {
        let user = r
            .stack
            .iter()
            .position(|f| !is_runtime(&f.function))
            .unwrap_or(0);
        let Some(frame) = r.stack.get(user) else {
            continue;
        };
        let site = sites.entry(frame.clone()).or_default();
        site.frame = Some(frame.clone());
        for f in &r.stack[..user] {
            if is_map_function(&f.function) {
                site.map_frames.insert(f.function.clone());
            }
        }
        let stat = site.sizes.entry(r.size).or_insert(SizeStat {
            size: r.size,
            ..SizeStat::default()
        });
        stat.add(&SizeStat {
            size: r.size,
            alloc_objects: r.alloc_objects,
            alloc_bytes: r.alloc_bytes,
            inuse_objects: r.inuse_objects,
            inuse_bytes: r.inuse_bytes,
        });
    }
    sites
}

/// How sure the tool is that a site's bytes are a map's.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Confidence {
    /// Sizes alone fit: not reported as a map.
    Low,
    /// Two kinds of evidence, or one strong one, agree.
    Medium,
    /// A series no other allocation makes, or map frames in the stack.
    High,
}

impl Confidence {
    fn from_level(level: i32) -> Self {
        match level {
            i32::MIN..=0 => Confidence::Low,
            1 => Confidence::Medium,
            _ => Confidence::High,
        }
    }
}

/// What the map's live bytes mostly are.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    /// Arrays sized once, by `make(map…, hint)` or a literal.
    Make,
    /// Arrays from doubling as entries were added.
    Growth,
    /// Classic overflow buckets: churn of inserts and deletes.
    Overflow,
    /// Many small maps of one bucket or group each.
    Small,
}

impl Kind {
    /// Words for the table.
    pub fn word(self) -> &'static str {
        match self {
            Kind::Make => "make",
            Kind::Growth => "growth",
            Kind::Overflow => "overflow",
            Kind::Small => "small maps",
        }
    }
}

/// A range of sizes, in bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct ByteRange {
    pub min: u64,
    pub max: u64,
}

/// What the analysis says of one site.
#[derive(Clone, Debug, Serialize)]
pub struct Finding {
    /// The layout the sizes were read with.
    pub layout: Layout,
    /// Bytes in one bucket (classic) or group (Swiss), if one shape fits
    /// best.
    pub unit_bytes: Option<u64>,
    /// Key + element bytes that unit implies (with padding), when only one
    /// fits.
    pub key_elem_bytes: Option<u64>,
    /// The smallest and biggest key + element bytes that fit as well.
    pub key_elem_range: Option<ByteRange>,
    /// The line or bigger unexplained objects speak against a map.
    #[serde(skip)]
    pub contradicted: bool,
    /// Sizes only this layout makes: a classic series, or several full
    /// Swiss tables (what tells the Go version apart).
    #[serde(skip)]
    pub distinctive: bool,
    /// The biggest array seen: log2 of its buckets (classic B) or groups.
    pub largest_log2: Option<u32>,
    /// What dominates.
    pub kind: Kind,
    /// How sure.
    pub confidence: Confidence,
    /// Why, in sentences.
    pub evidence: Vec<String>,
    /// The object sizes counted as this map's.
    #[serde(skip)]
    pub member_sizes: BTreeSet<u64>,
}

/// One shape's fit to a site.
struct Fit {
    shape: Shape,
    /// k → stats.
    members: BTreeMap<u32, SizeStat>,
    run: (u32, u32),
    distinctive: bool,
    explained: i64,
}

impl Fit {
    fn run_len(&self) -> u32 {
        if self.run.1 >= self.run.0 && self.run.0 >= 1 {
            self.run.1 - self.run.0 + 1
        } else {
            0
        }
    }
    /// Runs count only when they are distinctive; then the bytes
    /// explained; then the bigger unit (its half explains the same arrays,
    /// one step up).
    fn score(&self) -> (bool, bool, bool, i64, u64) {
        let run = self.run_len();
        (
            self.distinctive && run >= 3,
            self.distinctive && run >= 2,
            self.distinctive,
            self.explained,
            self.shape.unit,
        )
    }
}

/// Classic arrays this big are fine-grained enough in Go's rounding for
/// the 2^(B−4) extra buckets to show.
const DISTINCTIVE_BYTES: u64 = 8192;

fn fits(site: &Site, layout: Layout) -> Vec<Fit> {
    let index = signature::index();
    let mut per: HashMap<Shape, BTreeMap<u32, SizeStat>> = HashMap::new();
    for (size, stat) in &site.sizes {
        for m in index.get(size).into_iter().flatten() {
            if m.shape.layout == layout {
                per.entry(m.shape).or_default().insert(m.k, *stat);
            }
        }
    }
    per.into_iter()
        .filter_map(|(shape, mut members)| {
            // A map allocates each array size about as often as every other
            // (once per map that grew through it): a size allocated far more
            // often than the typical array is something else (most often the
            // single buckets of a map with twice this unit). Swiss full
            // tables are the exception: a big map has many.
            let mut counts: Vec<i64> = members
                .iter()
                .filter(|(k, _)| **k >= 1)
                .map(|(_, s)| s.alloc_objects)
                .collect();
            counts.sort_unstable();
            let median = counts
                .get(counts.len().saturating_sub(1) / 2)
                .copied()
                .unwrap_or(1)
                .max(1);
            members.retain(|&k, s| {
                // hmap / Map (48), mapextra (24), Swiss table (32): too
                // common to be taken for buckets or arrays.
                if matches!(s.size, 24 | 32 | 48) {
                    false
                } else if k == 0 {
                    true
                } else {
                    (layout.is_swiss() && k == 7) || s.alloc_objects <= 4 * median
                }
            });
            // The longest run of consecutive array sizes (k ≥ 1).
            let (mut best, mut cur) = ((0, 0), (0, 0));
            for &k in members.keys().filter(|&&k| k >= 1) {
                cur = if cur.1 >= 1 && k == cur.1 + 1 {
                    (cur.0, k)
                } else {
                    (k, k)
                };
                if best.0 == 0 || cur.1 - cur.0 > best.1 - best.0 {
                    best = cur;
                }
            }
            // What no slice or struct pile makes: a big classic array with
            // its 2^(B−4) extra buckets, or several full Swiss tables.
            let distinctive = if layout.is_swiss() {
                members.get(&7).is_some_and(|s| s.alloc_objects >= 2)
            } else {
                best.0 >= 1
                    && (best.0.max(4)..=best.1)
                        .any(|k| members.get(&k).is_some_and(|s| s.size >= DISTINCTIVE_BYTES))
            };
            let explained = members.values().map(|s| s.alloc_bytes).sum();
            (!members.is_empty()).then_some(Fit {
                shape,
                members,
                run: best,
                distinctive,
                explained,
            })
        })
        .collect()
}

fn human(bytes: i64) -> String {
    crate::measure::human_bytes(bytes.max(0) as usize)
}

fn group_digits(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i) % 3 == 0 {
            out.push('\u{202f}');
        }
        out.push(c);
    }
    out
}

/// Reads one site with one layout; `None` if no size at it fits any map.
pub fn analyze(site: &Site, layout: Layout, line: Option<&Line>) -> Option<Finding> {
    let mut all = fits(site, layout);
    if all.is_empty() && site.map_frames.is_empty() {
        return None;
    }
    all.sort_by_key(|f| std::cmp::Reverse(f.score()));
    let best = all.first();
    // Fits as good as the best: if they imply other key+elem sizes, the
    // size is not known, only its range.
    let mut key_elems: BTreeSet<u64> = BTreeSet::new();
    if let Some(a) = best {
        let sa = a.score();
        for b in &all {
            let sb = b.score();
            if sa.0 == sb.0
                && sa.1 == sb.1
                && sa.2 == sb.2
                && (a.explained - b.explained).abs() * 100 <= a.explained.max(1)
            {
                key_elems.insert(b.shape.key_elem_bytes());
            }
        }
    }
    let ambiguous = key_elems.len() > 1;
    let mut evidence = Vec::new();
    let mut level = 0;
    let mut contradicted = false;
    if !site.map_frames.is_empty() {
        level = 2;
        evidence.push(format!(
            "the stack shows map code: {}",
            site.map_frames
                .iter()
                .cloned()
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    let mut member_sizes = BTreeSet::new();
    let mut largest_log2 = None;
    let (mut arrays_in, mut units_in, mut arrays_alloc) = (0i64, 0i64, 0i64);
    let mut array_sizes = 0;
    let mut full_tables_alloc = 0;
    if let Some(fit) = best {
        let run = fit.run_len();
        if fit.distinctive && run >= 3 {
            level = 2;
        } else if fit.distinctive && run >= 2 {
            level = level.max(1);
        }
        for (&k, s) in &fit.members {
            member_sizes.insert(s.size);
            if k == 0 {
                units_in += s.inuse_bytes;
            } else {
                arrays_in += s.inuse_bytes;
                arrays_alloc += s.alloc_bytes;
                array_sizes += 1;
                largest_log2 = Some(k);
            }
        }
        full_tables_alloc = fit.members.get(&7).map_or(0, |s| s.alloc_objects);
        let arrays: Vec<(&u32, &SizeStat)> = fit.members.iter().filter(|(k, _)| **k >= 1).collect();
        let what = if layout.is_swiss() {
            "table"
        } else {
            "bucket array"
        };
        if !arrays.is_empty() {
            let (lo, hi) = fit.run;
            let list = |ks: &[(&u32, &SizeStat)]| {
                ks.iter()
                    .map(|(k, s)| {
                        format!(
                            "{}{}{}",
                            if layout.is_swiss() { "2^" } else { "B=" },
                            k,
                            if s.alloc_objects > 1 {
                                format!(" ×{}", group_digits(s.alloc_objects as u64))
                            } else {
                                String::new()
                            }
                        )
                    })
                    .collect::<Vec<_>>()
                    .join(", ")
            };
            evidence.push(format!(
                "{} sizes of {}{} ({}): {}; {} B … {} B{}",
                if layout.is_swiss() {
                    "Swiss table group-array"
                } else {
                    "bucket-array"
                },
                fit.shape.describe(),
                if fit.shape.scan { " with pointers" } else { "" },
                if layout.is_swiss() {
                    "2^k groups"
                } else {
                    "2^B + 2^(B−4) buckets"
                },
                list(&arrays),
                group_digits(arrays[0].1.size),
                group_digits(arrays[arrays.len() - 1].1.size),
                if run >= 2 {
                    format!(
                        "; {} doubling {} sizes in a row ({}{lo}…{hi})",
                        run,
                        what,
                        if layout.is_swiss() { "2^" } else { "B=" }
                    )
                } else {
                    String::new()
                }
            ));
        }
        if let Some(u) = fit.members.get(&0) {
            evidence.push(format!(
                "{} object{} of {} B ({} live): one {}",
                group_digits(u.alloc_objects as u64),
                if u.alloc_objects == 1 { "" } else { "s" },
                u.size,
                group_digits(u.inuse_objects as u64),
                if layout.is_swiss() {
                    "group each (a small map of ≤ 8 entries)"
                } else {
                    "bucket each (overflow buckets, or first buckets of small maps)"
                }
            ));
        }
        if layout.is_swiss() && full_tables_alloc >= 2 {
            let live = fit.members.get(&7).map_or(0, |s| s.inuse_objects);
            evidence.push(format!(
                "{} full tables (1 024 slots) allocated, {} live: a map split past 1 024 entries",
                group_digits(full_tables_alloc as u64),
                group_digits(live.max(0) as u64)
            ));
        }
        // Big objects the map does not explain: a slice that outgrew its
        // doubling phase, say.
        let biggest = fit.members.values().map(|s| s.size).max().unwrap_or(0);
        let unexplained: i64 = site
            .sizes
            .values()
            .filter(|s| s.size > biggest && !member_sizes.contains(&s.size))
            .map(|s| s.alloc_bytes)
            .sum();
        if arrays_alloc > 0 && unexplained >= arrays_alloc {
            // A map's arrays only double, so bigger objects beside them
            // that fit no map are a slice past its doubling phase (it then
            // grows by ~1.25x), whose doubling sizes merely look like
            // bucket arrays: not a map unless the line itself says so.
            level -= 2;
            contradicted = true;
            evidence.push(format!(
                "but bigger objects here ({}) fit no map: a growing slice?",
                human(unexplained)
            ));
        }
        if ambiguous {
            evidence.push(format!(
                "other {} sizes fit as well: key+elem is {} … {} B",
                if layout.is_swiss() { "group" } else { "bucket" },
                key_elems.first().copied().unwrap_or(0),
                key_elems.last().copied().unwrap_or(0)
            ));
        }
    }
    match line {
        Some(l) if l.says_map() => {
            level += 1;
            evidence.push(format!("the line is map code: `{}`", l.text.trim()));
        }
        Some(l) if l.says_not_map() && site.map_frames.is_empty() => {
            level -= 1;
            contradicted = true;
            evidence.push(format!(
                "the line allocates something else: `{}`",
                l.text.trim()
            ));
        }
        Some(l) => evidence.push(format!("the line: `{}`", l.text.trim())),
        None => {}
    }
    for s in site.sizes.values() {
        if !member_sizes.contains(&s.size) && signature::is_auxiliary(s.size, layout) {
            member_sizes.insert(s.size);
        }
    }
    let (arrays_in, units_in) = if arrays_in + units_in == 0 {
        // Nothing live: describe what was allocated.
        best.map_or((0, 0), |f| {
            f.members.iter().fold((0, 0), |(a, u), (k, s)| {
                if *k == 0 {
                    (a, u + s.alloc_bytes)
                } else {
                    (a + s.alloc_bytes, u)
                }
            })
        })
    } else {
        (arrays_in, units_in)
    };
    let says_make = line.is_some_and(Line::makes_map);
    let kind = if units_in > arrays_in {
        if !layout.is_swiss() && array_sizes > 0 {
            Kind::Overflow
        } else {
            Kind::Small
        }
    } else if says_make {
        Kind::Make
    } else if array_sizes >= 2 || full_tables_alloc >= 2 || line.is_some() {
        Kind::Growth
    } else {
        Kind::Make
    };
    let shape = best.map(|f| f.shape);
    Some(Finding {
        layout,
        unit_bytes: shape.filter(|_| !ambiguous).map(|s| s.unit),
        key_elem_bytes: shape.filter(|_| !ambiguous).map(|s| s.key_elem_bytes()),
        key_elem_range: (!key_elems.is_empty()).then(|| ByteRange {
            min: key_elems.first().copied().unwrap_or(0),
            max: key_elems.last().copied().unwrap_or(0),
        }),
        contradicted,
        distinctive: best.is_some_and(|f| f.distinctive && (layout.is_swiss() || f.run_len() >= 2)),
        largest_log2,
        kind,
        confidence: Confidence::from_level(level),
        evidence,
        member_sizes,
    })
}

/// One site of the ranking.
#[derive(Clone, Debug, Serialize)]
pub struct MapSite {
    /// Go's function name.
    pub function: String,
    /// The source file as recorded in the binary.
    pub file: String,
    /// The line.
    pub line: i64,
    /// The line's text, when the source was found.
    pub source: Option<String>,
    /// Live bytes of the map's allocations at this line.
    pub inuse_bytes: i64,
    /// Live objects of them.
    pub inuse_objects: i64,
    /// Bytes allocated for the map here since the program started.
    pub alloc_bytes: i64,
    /// Objects allocated for it.
    pub alloc_objects: i64,
    /// In-use bytes now minus in the base profile (with `--base`).
    pub inuse_bytes_delta: Option<i64>,
    /// In-use bytes in the base profile (with `--base`).
    pub base_inuse_bytes: Option<i64>,
    /// All live bytes allocated at this line, map or not.
    pub site_inuse_bytes: i64,
    /// What the analysis found.
    #[serde(flatten)]
    pub finding: Finding,
}

fn member_total(site: &Site, sizes: &BTreeSet<u64>) -> SizeStat {
    let mut t = SizeStat::default();
    for s in site.sizes.values().filter(|s| sizes.contains(&s.size)) {
        t.add(s);
    }
    t
}

/// The layout that explains a profile best: the one whose sure sites hold
/// the most bytes.
pub fn choose_layout(sites: &BTreeMap<Frame, Site>, sources: &mut Sources) -> Layout {
    let mut best = (Layout::Buckets, -1i64);
    for layout in [Layout::Buckets, Layout::BucketsWithHeaders, Layout::Swiss] {
        let mut score = 0i64;
        for (frame, site) in sites {
            let line = sources.line(frame);
            if let Some(f) = analyze(site, layout, line.as_ref()) {
                let weight = match f.confidence {
                    Confidence::High => 4,
                    Confidence::Medium => 1,
                    Confidence::Low => 0,
                } + if f.distinctive && !f.contradicted {
                    2
                } else {
                    0
                };
                score += weight * member_total(site, &f.member_sizes).alloc_bytes;
            }
        }
        if score > best.1 {
            best = (layout, score);
        }
    }
    best.0
}

/// Sites found, and the near misses.
pub struct Ranked {
    /// Map sites (medium or high confidence), ranked.
    pub sites: Vec<MapSite>,
    /// Sites whose sizes alone fit a map (low confidence), biggest first.
    pub possible: Vec<MapSite>,
    /// Map sites with nothing live and no change: counted, not listed.
    pub idle: Vec<MapSite>,
}

/// Finds the map sites of `heap` (and their change since `base`), ranked.
pub fn rank(
    heap: &BTreeMap<Frame, Site>,
    base: Option<&BTreeMap<Frame, Site>>,
    layout: Layout,
    sources: &mut Sources,
) -> Ranked {
    let mut sites = Vec::new();
    let mut possible = Vec::new();
    let mut idle = Vec::new();
    let empty = Site::default();
    // Sites of either profile: one freed since the base still shows.
    let mut frames: BTreeSet<&Frame> = heap.keys().collect();
    if let Some(base) = base {
        frames.extend(base.keys());
    }
    for frame in frames {
        let now = heap.get(frame).unwrap_or(&empty);
        let then = base.and_then(|b| b.get(frame));
        let line = sources.line(frame);
        let finding = match (analyze(now, layout, line.as_ref()), then) {
            (Some(f), _) if f.confidence >= Confidence::Medium || then.is_none() => Some(f),
            (f, Some(t)) => match analyze(t, layout, line.as_ref()) {
                Some(g) if g.confidence > f.as_ref().map_or(Confidence::Low, |f| f.confidence) => {
                    Some(g)
                }
                _ => f,
            },
            (f, None) => f,
        };
        let Some(finding) = finding else { continue };
        let totals = member_total(now, &finding.member_sizes);
        let base_bytes = then.map(|t| member_total(t, &finding.member_sizes).inuse_bytes);
        let site = MapSite {
            function: frame.function.clone(),
            file: frame.file.clone(),
            line: frame.line,
            source: line.map(|l| l.text.trim().to_string()),
            inuse_bytes: totals.inuse_bytes,
            inuse_objects: totals.inuse_objects,
            alloc_bytes: totals.alloc_bytes,
            alloc_objects: totals.alloc_objects,
            inuse_bytes_delta: base.map(|_| totals.inuse_bytes - base_bytes.unwrap_or(0)),
            base_inuse_bytes: base.map(|_| base_bytes.unwrap_or(0)),
            site_inuse_bytes: now.total().inuse_bytes,
            finding,
        };
        if site.finding.confidence >= Confidence::Medium {
            if site.inuse_bytes == 0 && site.inuse_bytes_delta.unwrap_or(0) == 0 {
                idle.push(site);
            } else {
                sites.push(site);
            }
        } else if site.alloc_bytes > 0
            && !site.finding.contradicted
            && site.finding.largest_log2.is_some()
        {
            // Arrays whose sizes fit, nothing against: worth a look.
            possible.push(site);
        }
    }
    let key = |s: &MapSite| {
        (
            std::cmp::Reverse(s.inuse_bytes_delta.unwrap_or(0)),
            std::cmp::Reverse(s.inuse_bytes),
            std::cmp::Reverse(s.alloc_bytes),
        )
    };
    sites.sort_by_key(key);
    possible.sort_by_key(|s| {
        (
            std::cmp::Reverse(s.inuse_bytes),
            std::cmp::Reverse(s.alloc_bytes),
        )
    });
    Ranked {
        sites,
        possible,
        idle,
    }
}
