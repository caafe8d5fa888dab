//! `report`: everything, measured, judged, drawn and written to one page.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::bench::Bench;
use crate::chart::{self, Bars, Line, Mark, YAxis};
use crate::claims::{self, Claim, Summary};
use crate::clear::{Clear, ARENA_MAPS, MAPS, METHODS};
use crate::grow::{Grow, QUANTILES};
use crate::leak::{CaseResult, Flag, Leak};
use crate::{bench, clear, grow, leak, Case, Common, Outcome};

/// Where the numbers came from.
#[derive(Clone, Debug, Serialize)]
pub struct Machine {
    pub cpu: String,
    pub cores: usize,
    pub os: String,
}

#[derive(Clone, Debug, Serialize)]
pub struct Report {
    #[serde(skip)]
    pub machine: Machine,
    pub generated_unix_secs: u64,
    pub n: usize,
    pub clear: Clear,
    pub leak: Leak,
    pub grow: Grow,
    pub bench: Bench,
    /// Go's maps in a Go service's heap profiles (`gomap-lab pprof`).
    pub go_maps: crate::pprof::section::GoMaps,
    /// Where the files went.
    #[serde(skip)]
    pub out: String,
}

pub fn machine() -> Machine {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|m| m.trim().to_string())
        })
        .unwrap_or_else(|| "unknown".into());
    Machine {
        cpu,
        cores: std::thread::available_parallelism().map_or(1, |n| n.get()),
        os: format!("{} {}", std::env::consts::OS, std::env::consts::ARCH),
    }
}

/// A chart for the page: its file name, SVG, and caption.
struct Figure {
    name: &'static str,
    svg: String,
    caption: String,
}

const MIB: f64 = 1024.0 * 1024.0;

/// Each claim a caption covers: its id, statement and verdict, with the
/// reason when it is not reproduced and how its attempts went (the numbers
/// are in the chart and the tables).
fn verdicts(claims: &[Claim], ids: &[&str]) -> String {
    ids.iter()
        .filter_map(|id| claims.iter().find(|c| c.id == *id))
        .map(|c| {
            let mut s = format!(
                "Claim {}: {} Verdict: {}",
                c.id,
                c.statement,
                c.verdict.word()
            );
            if !c.reason.is_empty() {
                s += " — ";
                s += &c.reason;
            }
            if let Some(a) = &c.attempts {
                s += &format!(" ({})", a.describe());
            }
            s + "."
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// A caption for a chart of one claim: what it shows, then the claim.
fn caption_of(claims: &[Claim], id: &str, shows: &str) -> String {
    format!("{shows} {}", verdicts(claims, &[id]))
}

/// Markers for a case's flags on its memory curves: each level change and
/// the first suspected leak of the maps whose names end with `map`.
fn marks(flags: &[Flag], map: &str) -> Vec<Mark> {
    let mut marks: Vec<Mark> = flags
        .iter()
        .filter(|f| f.map.ends_with(map))
        .filter_map(|f| {
            let (label, color) = if f.what.starts_with("suspected_leak") {
                ("leak flag", chart::GREY)
            } else if f.what.contains("→ red") {
                ("red", chart::RED)
            } else if f.what.contains("→ orange") {
                ("orange", chart::ORANGE)
            } else if f.what.contains("→ yellow") {
                ("yellow", chart::YELLOW)
            } else {
                return None;
            };
            Some(Mark {
                x: f.tick as f64,
                label: format!("{label} (min {})", f.tick),
                color,
            })
        })
        .collect();
    // A level left and reached again shows once, where it was first reached.
    let mut seen = std::collections::HashSet::new();
    marks.retain(|m| seen.insert(m.label.split(' ').next().unwrap_or_default().to_string()));
    marks
}

fn leak_figure(case: &CaseResult, claims: &[Claim]) -> Figure {
    let (name, claim, flagged) = match case.case {
        Case::HttpContext => ("leak-http-context", "case-request-context", "(leaky)"),
        Case::PeriodicBurst => ("leak-periodic-burst", "case-periodic-burst", "governed)"),
        Case::RwlockClear => ("leak-rwlock-clear", "case-half-clear", ""),
        Case::StringCache | Case::All => ("leak-string-cache", "case-string-cache", "(leaky)"),
    };
    if case.case == Case::RwlockClear {
        let share = |half: usize, of: usize| {
            if of == 0 {
                None
            } else {
                Some(100.0 * half as f64 / of as f64)
            }
        };
        let series: Vec<Bars> = case
            .observations
            .iter()
            .map(|o| {
                (
                    o.pattern.clone(),
                    vec![
                        share(o.cued_half_cleared, o.cued),
                        share(o.half_cleared, o.snapshots),
                    ],
                )
            })
            .collect();
        return Figure {
            name,
            svg: chart::bars(
                &case.title,
                &YAxis::linear("% of snapshots half cleared"),
                &[
                    "snapshots taken on the writer's cue".to_string(),
                    "free-running readers' snapshots".to_string(),
                ],
                &series,
            ),
            caption: caption_of(
                claims,
                claim,
                "Share of snapshots that held a half-cleared map, by how the map was emptied.",
            ),
        };
    }
    let lines: Vec<Line> = case
        .series
        .iter()
        .map(|s| Line {
            name: s.name.clone(),
            points: s
                .points
                .iter()
                .map(|p| (p.minute as f64, p.bytes as f64 / MIB))
                .collect(),
        })
        .collect();
    Figure {
        name,
        svg: chart::lines(
            &case.title,
            ("simulated minute", false),
            ("MiB held", false),
            &lines,
            &marks(&case.flags, flagged),
        ),
        caption: caption_of(
            claims,
            claim,
            "Memory held at the end of each simulated minute; the vertical marks are the \
             governed map's level changes and its first suspected_leak flag.",
        ),
    }
}

fn figures(r: &Report, claims: &[Claim]) -> Vec<Figure> {
    let mut out = Vec::new();
    // Clear: bytes held emptied, per method and map; the arena rows are
    // their own series.
    let methods = [
        "loop of remove",
        "new map",
        "clear()",
        "reset / shrink",
        "drop arena",
    ];
    let maps: Vec<&str> = MAPS.iter().chain(&ARENA_MAPS).copied().collect();
    let series: Vec<Bars> = maps
        .iter()
        .map(|&m| {
            let values = (0..METHODS.len())
                .map(|method| {
                    r.clear
                        .row(m, method)
                        .map(|row| row.bytes_after as f64 / MIB)
                })
                .collect();
            (m.to_string(), values)
        })
        .collect();
    out.push(Figure {
        name: "clear-emptied",
        svg: chart::bars(
            &format!(
                "Bytes still held after emptying a map of {} entries",
                r.clear.n
            ),
            &YAxis::linear("MiB"),
            &methods.map(String::from),
            &series,
        ),
        caption: format!(
            "What each map holds right after it is emptied, five ways (0: everything given \
             back). {}.",
            verdicts(
                claims,
                &[
                    "empty-remove-loop",
                    "empty-new-map",
                    "empty-reset",
                    "empty-arena"
                ]
            )
        ),
    });
    let stages = ["full", "after clear()", "after refilling 1 %"];
    let series: Vec<Bars> = MAPS
        .iter()
        .map(|&m| {
            let row = r.clear.row(m, 2);
            let values = [
                row.map(|r| r.bytes_before),
                row.map(|r| r.bytes_after),
                row.map(|r| r.bytes_after_refill),
            ]
            .map(|b| b.map(|b| b as f64 / MIB))
            .to_vec();
            (m.to_string(), values)
        })
        .collect();
    out.push(Figure {
        name: "clear-refilled",
        svg: chart::bars(
            "clear(), then 1 % of the entries put back",
            &YAxis::linear("MiB"),
            &stages.map(String::from),
            &series,
        ),
        caption: caption_of(
            claims,
            "empty-clear",
            "Bytes held by each map around a clear().",
        ),
    });
    for case in &r.leak.cases {
        out.push(leak_figure(case, claims));
    }
    // Grow: the whole latency distribution.
    let series: Vec<Bars> = r
        .grow
        .latencies
        .iter()
        .map(|l| {
            (
                l.map.to_string(),
                l.tail.iter().map(|q| Some(q.ns as f64 / 1e3)).collect(),
            )
        })
        .collect();
    let slower = r.grow.gomap_slower_at();
    let honest = match slower
        .iter()
        .max_by(|a, b| (a.1[0] as f64 / a.1[1] as f64).total_cmp(&(b.1[0] as f64 / b.1[1] as f64)))
    {
        None => "gomap's inserts were no slower than both std's and hashbrown's at any quantile."
            .to_string(),
        Some((worst, [g, s, b])) => format!(
            "gomap's inserts are slower than both std's and hashbrown's at {} (most at {worst}: \
             {:.2} µs against {:.2} and {:.2} µs): while a grow runs, each insert also moves a \
             few old buckets to the new array, so many inserts pay extra work for a worst case \
             that stays bounded.",
            slower.iter().map(|s| s.0).collect::<Vec<_>>().join(", "),
            *g as f64 / 1e3,
            *s as f64 / 1e3,
            *b as f64 / 1e3
        ),
    };
    out.push(Figure {
        name: "grow-latency",
        svg: chart::bars(
            &format!("Insert latency while growing to {}", r.grow.n),
            &YAxis {
                log: true,
                ..YAxis::linear("µs per insert (log scale)")
            },
            &QUANTILES.map(|q| q.1.to_string()),
            &series,
        ),
        caption: caption_of(
            claims,
            "insert-latency-bounded",
            &format!("Every insert timed, fastest to slowest. {honest}"),
        ),
    });
    out.push(Figure {
        name: "grow-timeline",
        svg: chart::lines(
            "gomap while growing: buckets",
            ("entries inserted (log scale)", true),
            ("B (log2 of buckets)", true),
            &[Line {
                name: "B".into(),
                points: r
                    .grow
                    .timeline
                    .iter()
                    .map(|m| (m.inserted as f64, m.b as f64))
                    .collect(),
            }],
            &[],
        ),
        caption: format!(
            "gomap's B (log2 of its buckets) while growing to {}: a grow starts at load 6.5 and \
             doubles the buckets; the entries move over the following inserts, a couple of old \
             buckets per write ({} of {} samples had a migration running).",
            r.grow.n,
            r.grow
                .timeline
                .iter()
                .filter(|m| !m.migration.is_empty())
                .count(),
            r.grow.timeline.len()
        ),
    });
    // Bench.
    let ops: Vec<String> = r.bench.ops.iter().map(|o| o.op.to_string()).collect();
    let mut series: Vec<Bars> = vec![
        (
            "gomap / std".to_string(),
            r.bench.ops.iter().map(|o| Some(o.gomap_vs_std)).collect(),
        ),
        (
            "gomap / hashbrown".to_string(),
            r.bench
                .ops
                .iter()
                .map(|o| Some(o.gomap_vs_hashbrown))
                .collect(),
        ),
    ];
    if let Some(go) = r.bench.go.ran() {
        series.push((
            format!("gomap / Go {}", go.version),
            r.bench
                .ops
                .iter()
                .map(|o| o.go_ns.map(|g| o.ns.gomap / g))
                .collect(),
        ));
    }
    out.push(Figure {
        name: "bench-ratios",
        svg: chart::bars(
            "Time per operation, gomap relative to each",
            &YAxis {
                reference: Some(1.0),
                ..YAxis::linear("ratio (line at 1: same speed; below: gomap faster)")
            },
            &ops,
            &series,
        ),
        caption: format!(
            "{} u64 keys, median of {} alternating rounds{}. {}",
            r.bench.n,
            r.bench.rounds,
            if r.bench.go.ran().is_none() {
                " (no Go column: Go was not measured)"
            } else {
                ""
            },
            verdicts(claims, &["hit-vs-hashbrown", "speed-vs-go", "bytes-vs-go"])
        ),
    });
    // Go maps in a heap profile.
    if let Some((sites, series)) = r.go_maps.chart_data() {
        let series: Vec<Bars> = series
            .into_iter()
            .map(|(name, v)| (name, v.into_iter().map(Some).collect()))
            .collect();
        out.push(Figure {
            name: "go-pprof-sites",
            svg: chart::bars(
                "Go map sites: MiB live in the first and second heap profile",
                &YAxis::linear("MiB"),
                &sites,
                &series,
            ),
            caption: caption_of(
                claims,
                crate::pprof::section::CLAIM_ID,
                "Live bytes per Go map site in two heap profiles of bench/go/leaky.",
            ),
        });
    }
    out
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// The tables of each part of the report, as Markdown.
fn tables(r: &Report) -> String {
    [
        r.clear.markdown(),
        r.leak.markdown(),
        r.grow.markdown(),
        r.bench.markdown(),
        r.go_maps.markdown(),
    ]
    .join("\n")
}

/// Markdown as HTML (tables on).
fn to_html(md: &str) -> String {
    let parser = pulldown_cmark::Parser::new_ext(md, pulldown_cmark::Options::ENABLE_TABLES);
    let mut html = String::new();
    pulldown_cmark::html::push_html(&mut html, parser);
    html
}

fn html(r: &Report, figures: &[Figure], claims: &[Claim]) -> String {
    let mut page = String::from(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>gomap-lab report</title>\n<style>\
         body{font-family:system-ui,sans-serif;max-width:980px;margin:2em auto;color:#222;line-height:1.45}\
         figure{margin:2em 0;border:1px solid #ddd;padding:8px}figcaption{font-size:.92em;color:#444}\
         table{border-collapse:collapse;font-size:.85em;margin:1em 0}td,th{border:1px solid #ccc;padding:3px 6px;vertical-align:top}\
         .summary{font-size:1.15em;font-weight:600}</style></head><body>\n",
    );
    let _ = write!(
        page,
        "<h1>gomap-lab report</h1>\n<p>Go's runtime map rebuilt in Rust, measured on {} ({} cores, {}), {} entries. \
         What each claim means is in <code>docs/claims.md</code>; every chart is also in <code>charts/</code>, \
         the numbers in <code>results.json</code> and <code>report.md</code>.</p>\n<p class=\"summary\">{}.</p>\n",
        escape(&r.machine.cpu),
        r.machine.cores,
        r.machine.os,
        r.n,
        Summary::of(claims).line()
    );
    page += &to_html(&claims::markdown(claims));
    page += "<h2>Charts</h2>\n";
    for f in figures {
        let _ = write!(
            page,
            "<figure id=\"{0}\" data-chart=\"{0}\">\n{1}\n<figcaption>{2} <a href=\"charts/{0}.svg\">(SVG)</a></figcaption></figure>\n",
            f.name,
            f.svg.trim_start_matches("<?xml version=\"1.0\" encoding=\"UTF-8\"?>").trim(),
            escape(&f.caption)
        );
    }
    page += "<h2>Tables</h2>\n";
    page += &to_html(&tables(r));
    page += "</body></html>\n";
    page
}

fn markdown(r: &Report, figures: &[Figure], claims: &[Claim]) -> String {
    let mut md = format!(
        "# gomap-lab report\n\nMachine: {} ({} cores, {}). Entries: {}. What each claim means: docs/claims.md.\n\n**{}.**\n\n",
        r.machine.cpu,
        r.machine.cores,
        r.machine.os,
        r.n,
        Summary::of(claims).line()
    );
    md += &claims::markdown(claims);
    md += "\n## Charts\n\n";
    for f in figures {
        let _ = write!(md, "![{0}](charts/{0}.svg)\n\n{1}\n\n", f.name, f.caption);
    }
    md += "## Tables\n\n";
    md += &tables(r);
    md
}

/// `<out>.partial`: where a run writes before moving into `out`.
fn partial(out: &Path) -> PathBuf {
    let mut name = out.file_name().unwrap_or_default().to_os_string();
    name.push(".partial");
    out.with_file_name(name)
}

/// Writes every file into `<out>.partial`, then puts it in place of `out`:
/// a run that fails or is killed never leaves a complete-looking report,
/// and leaves an earlier one as it was.
fn write_all(out: &Path, files: &[(PathBuf, Vec<u8>)]) -> Result<(), String> {
    let tmp = partial(out);
    let fail = |what: &str, e: std::io::Error| {
        let _ = std::fs::remove_dir_all(&tmp);
        format!("cannot write {what}: {e}")
    };
    if tmp.exists() {
        std::fs::remove_dir_all(&tmp).map_err(|e| fail(&tmp.display().to_string(), e))?;
    }
    for (path, bytes) in files {
        let path = tmp.join(path);
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|e| fail(&dir.display().to_string(), e))?;
        }
        std::fs::write(&path, bytes).map_err(|e| fail(&path.display().to_string(), e))?;
    }
    if out.exists() {
        let mut old = out.file_name().unwrap_or_default().to_os_string();
        old.push(".old");
        let old = out.with_file_name(old);
        let _ = std::fs::remove_dir_all(&old);
        std::fs::rename(out, &old).map_err(|e| fail(&out.display().to_string(), e))?;
        if let Err(e) = std::fs::rename(&tmp, out) {
            // Put the earlier report back where it was.
            let _ = std::fs::rename(&old, out);
            return Err(fail(&out.display().to_string(), e));
        }
        let _ = std::fs::remove_dir_all(&old);
    } else {
        std::fs::rename(&tmp, out).map_err(|e| fail(&out.display().to_string(), e))?;
    }
    Ok(())
}

pub fn run(common: &Common, out: &Path, go: Option<&Path>) -> Result<Report, String> {
    let n = common.n();
    // Fail on an unusable directory before minutes of work.
    let parent = match out.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    std::fs::create_dir_all(&parent)
        .map_err(|e| format!("cannot create {}: {e}", parent.display()))?;
    // What a run that was killed left beside it goes first.
    let probe = partial(out);
    if probe.exists() {
        std::fs::remove_dir_all(&probe)
            .map_err(|e| format!("cannot remove {}: {e}", probe.display()))?;
    }
    std::fs::create_dir_all(&probe)
        .and_then(|()| std::fs::remove_dir(&probe))
        .map_err(|e| format!("cannot write beside {}: {e}", out.display()))?;
    let report = Report {
        machine: machine(),
        generated_unix_secs: std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs()),
        n,
        clear: clear::run(n),
        leak: leak::run(Case::All, n),
        grow: grow::run(n),
        bench: bench::run(n, go),
        go_maps: crate::pprof::section::run(go),
        out: out.display().to_string(),
    };
    let claims = report.claims();
    let figures = figures(&report, &claims);
    let mut files: Vec<(PathBuf, Vec<u8>)> = figures
        .iter()
        .map(|f| {
            (
                Path::new("charts").join(format!("{}.svg", f.name)),
                f.svg.clone().into_bytes(),
            )
        })
        .collect();
    files.push(("results.json".into(), crate::to_json(&report)?.into_bytes()));
    files.push((
        "report.md".into(),
        markdown(&report, &figures, &claims).into_bytes(),
    ));
    files.push((
        "index.html".into(),
        html(&report, &figures, &claims).into_bytes(),
    ));
    write_all(out, &files)?;
    Ok(report)
}

impl Outcome for Report {
    fn claims(&self) -> Vec<Claim> {
        let mut claims = self.clear.claims();
        claims.extend(self.leak.claims());
        claims.extend(self.grow.claims());
        claims.extend(self.bench.claims());
        claims.push(self.go_maps.claim());
        claims
    }

    fn text(&self) -> String {
        let mut s = String::new();
        s += &self.clear.text();
        s += "\n";
        s += &self.leak.text();
        s += &self.grow.text();
        s += "\n";
        s += &self.bench.text();
        s += "\n";
        s += &self.go_maps.text();
        let _ = write!(
            s,
            "\nwrote {0}/index.html, {0}/report.md, {0}/results.json\n",
            self.out
        );
        s
    }

    fn markdown(&self) -> String {
        tables(self)
    }
}
