//! `report`: everything, measured, drawn and written to one page.

use std::fmt::Write as _;
use std::path::Path;

use serde::Serialize;

use crate::bench::Bench;
use crate::chart::{self, Line};
use crate::clear::{Clear, METHODS};
use crate::grow::Grow;
use crate::leak::Leak;
use crate::measure::human_bytes;
use crate::{bench, clear, grow, leak, Case, Common, Outcome};
use plotters::chart::SeriesLabelPosition;

/// Where the numbers came from.
#[derive(Clone, Debug, Serialize)]
pub struct Machine {
    pub cpu: String,
    pub cores: usize,
    pub os: String,
}

#[derive(Clone, Debug, Serialize)]
pub struct Report {
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

fn machine() -> Machine {
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

fn figures(r: &Report) -> Vec<Figure> {
    let mut out = Vec::new();
    // Clear: bytes emptied and after refilling, per method and map.
    let short = [
        "loop remove",
        "new map",
        "clear()",
        "reset/shrink",
        "drop arena",
    ];
    let maps = ["gomap (Auto)", "gomap (Never)", "std HashMap", "hashbrown"];
    // The arena rows stand in the gomap (Auto) and hashbrown columns.
    let lookup = |map: &str, method: usize, f: fn(&clear::Row) -> usize| -> f64 {
        let wanted = match (method, map) {
            (4, "gomap (Auto)") => "gomap (in a bumpalo arena)",
            (4, "hashbrown") => "hashbrown (in a bumpalo arena)",
            _ => map,
        };
        r.clear
            .rows
            .iter()
            .find(|row| row.method == METHODS[method] && row.map == wanted)
            .map_or(f64::NAN, |row| f(row) as f64 / MIB)
    };
    for (name, title, f) in [
        (
            "clear-emptied",
            "Bytes still held after emptying (MiB)",
            (|row: &clear::Row| row.bytes_after) as fn(&clear::Row) -> usize,
        ),
        (
            "clear-refilled",
            "Bytes held after refilling 1 % (MiB)",
            |row: &clear::Row| row.bytes_after_refill,
        ),
    ] {
        let series = maps
            .iter()
            .map(|&m| {
                (
                    m.to_string(),
                    (0..5).map(|method| lookup(m, method, f)).collect(),
                )
            })
            .collect::<Vec<_>>();
        out.push(Figure {
            name,
            svg: chart::bars(title, "MiB", &short.map(String::from), &series, false),
            caption: format!(
                "Five ways to empty a map of {} entries. Through a loop of removes \
                 only gomap Auto gives memory back by itself, shrinking as it goes; after clear() every map \
                 still holds its array, and gomap Auto gives it back over the next writes (the refill \
                 chart); std, hashbrown and gomap Never keep their peak, as Go's map does.",
                r.clear.n
            ),
        });
    }
    // Leak cases.
    for case in &r.leak.cases {
        match case.case {
            Case::HttpContext | Case::PeriodicBurst => {
                let lines = mib_lines(&case.series);
                let flags: Vec<String> = case
                    .flags
                    .iter()
                    .filter(|f| {
                        f.what.contains("suspected")
                            || f.what.contains("→ orange")
                            || f.what.contains("→ red")
                    })
                    .take(4)
                    .map(flag_text)
                    .collect();
                let (name, legend) = if case.case == Case::HttpContext {
                    ("leak-http-context", SeriesLabelPosition::UpperLeft)
                } else {
                    ("leak-periodic-burst", SeriesLabelPosition::MiddleRight)
                };
                out.push(Figure {
                    name,
                    svg: chart::lines(&case.title, "simulated minute", "MiB held", &lines, legend),
                    caption: format!(
                        "{} {} Governance: {}.",
                        case.claim,
                        case.summary,
                        flags_text(&flags)
                    ),
                });
            }
            Case::StringCache => {
                let lines = mib_lines(&case.series);
                let flags: Vec<String> = case.flags.iter().map(flag_text).collect();
                out.push(Figure {
                    name: "leak-string-cache",
                    svg: chart::lines(
                        &case.title,
                        "simulated minute",
                        "MiB",
                        &lines,
                        SeriesLabelPosition::UpperLeft,
                    ),
                    caption: format!(
                        "{} {}. Governance: {}.",
                        case.claim,
                        case.summary,
                        flags_text(&flags)
                    ),
                });
            }
            _ => {
                let categories: Vec<String> =
                    case.observations.iter().map(|o| o.0.clone()).collect();
                let series = vec![(
                    "half-cleared snapshots seen".to_string(),
                    case.observations.iter().map(|o| o.2 as f64).collect(),
                )];
                out.push(Figure {
                    name: "leak-rwlock-clear",
                    svg: chart::bars(&case.title, "snapshots", &categories, &series, false),
                    caption: format!("{} {}.", case.claim, case.summary),
                });
            }
        }
    }
    // Grow: the latency tail.
    let quantiles = ["p50", "p90", "p99", "p99.9", "p99.99", "p99.999", "max"];
    let series = r
        .grow
        .latencies
        .iter()
        .map(|l| {
            (
                l.map.to_string(),
                l.tail.iter().map(|&(_, ns)| ns as f64 / 1e3).collect(),
            )
        })
        .collect::<Vec<_>>();
    let worst = |map: &str| {
        r.grow
            .latencies
            .iter()
            .find(|l| l.map == map)
            .map_or(0, |l| l.max)
    };
    out.push(Figure {
        name: "grow-latency",
        svg: chart::bars(
            &format!(
                "Insert latency while growing to {} (µs, log scale)",
                r.grow.n
            ),
            "µs",
            &quantiles.map(String::from),
            &series,
            true,
        ),
        caption: format!(
            "Growth is incremental, so no insert rehashes the whole map. Worst insert: \
             gomap {:.2} ms, std {:.2} ms, hashbrown {:.2} ms (they rehash everything at once).",
            worst("gomap") as f64 / 1e6,
            worst("std HashMap") as f64 / 1e6,
            worst("hashbrown") as f64 / 1e6
        ),
    });
    let timeline = |f: fn(&grow::Moment) -> f64, name: &str| Line {
        name: name.into(),
        points: r
            .grow
            .timeline
            .iter()
            .map(|m| (m.inserted as f64, f(m)))
            .collect(),
    };
    out.push(Figure {
        name: "grow-timeline",
        svg: chart::lines(
            "gomap while growing: B and the running migration",
            "entries inserted",
            "B  /  migration progress × 10",
            &[
                timeline(|m| m.b as f64, "B (log2 of buckets)"),
                timeline(
                    |m| {
                        if m.migration.is_empty() {
                            0.0
                        } else {
                            10.0 * m.progress
                        }
                    },
                    "grow progress × 10 (0 = none running)",
                ),
            ],
            SeriesLabelPosition::UpperLeft,
        ),
        caption: "A double-size grow starts at load 6.5 and moves a couple of old buckets \
                  per write while both arrays live; B steps up by one each time."
            .into(),
    });
    // Bench.
    let ops: Vec<String> = r.bench.ops.iter().map(|o| o.op.to_string()).collect();
    let mut series = vec![
        (
            "gomap / std".to_string(),
            r.bench.ops.iter().map(|o| o.vs_std).collect(),
        ),
        (
            "gomap / hashbrown".to_string(),
            r.bench.ops.iter().map(|o| o.vs_hashbrown).collect(),
        ),
    ];
    if let Ok(go) = &r.bench.go {
        series.push((
            format!("gomap / Go {}", go.version),
            r.bench
                .ops
                .iter()
                .map(|o| o.go_ns.map_or(f64::NAN, |g| o.ns[0] / g))
                .collect(),
        ));
    }
    out.push(Figure {
        name: "bench-ratios",
        svg: chart::bars("Time per operation, gomap relative to each (< 1: gomap faster)", "ratio", &ops, &series, false),
        caption: format!(
            "{} u64 keys, median of {} alternating rounds. Bytes per entry: gomap {:.1}, std {:.1}, hashbrown {:.1}{}.",
            r.bench.n,
            r.bench.rounds,
            r.bench.bytes_per_entry[0],
            r.bench.bytes_per_entry[1],
            r.bench.bytes_per_entry[2],
            match &r.bench.go {
                Ok(g) => format!(", Go {} {:.1}", g.version, g.bytes_per_entry),
                Err(e) => format!(" (no Go: {e})"),
            }
        ),
    });
    // Go maps in a heap profile.
    if let Some((sites, series)) = r.go_maps.chart_data() {
        out.push(Figure {
            name: "go-pprof-sites",
            svg: chart::bars(
                "Go map sites: MiB live in the first and second heap profile",
                "MiB",
                &sites,
                &series,
                false,
            ),
            caption: format!("{} {}", r.go_maps.claim, r.go_maps.verdict_line()),
        });
    }
    out
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

fn html(r: &Report, figures: &[Figure]) -> String {
    let mut page = String::from(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>gomap-lab report</title>\n<style>\
         body{font-family:system-ui,sans-serif;max-width:960px;margin:2em auto;color:#222;line-height:1.45}\
         figure{margin:2em 0;border:1px solid #ddd;padding:8px}figcaption{font-size:.92em;color:#444}\
         table{border-collapse:collapse;font-size:.85em}td,th{border:1px solid #ccc;padding:3px 6px;text-align:right}\
         td:first-child,td:nth-child(2),th{text-align:left}</style></head><body>\n",
    );
    let _ = write!(
        page,
        "<h1>gomap-lab report</h1>\n<p>Go's runtime map rebuilt in Rust, measured on {} ({} cores, {}), {} entries. \
         Every chart below is also in <code>charts/</code>; the numbers are in <code>results.json</code> and <code>report.md</code>.</p>\n",
        escape(&r.machine.cpu),
        r.machine.cores,
        r.machine.os,
        r.n
    );
    for f in figures {
        let _ = write!(
            page,
            "<figure id=\"{0}\" data-chart=\"{0}\">\n{1}\n<figcaption>{2} <a href=\"charts/{0}.svg\">(SVG)</a></figcaption></figure>\n",
            f.name,
            f.svg.trim_start_matches("<?xml version=\"1.0\" encoding=\"UTF-8\"?>").trim(),
            escape(&f.caption)
        );
    }
    page += "<h2>The clear table</h2>\n<table><tr><th>map</th><th>method</th><th>ms</th><th>full</th><th>emptied</th><th>refilled 1 %</th></tr>\n";
    for row in &r.clear.rows {
        let _ = writeln!(
            page,
            "<tr><td>{}</td><td>{}</td><td>{:.2}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            escape(row.map),
            escape(row.method),
            row.millis,
            human_bytes(row.bytes_before),
            human_bytes(row.bytes_after),
            human_bytes(row.bytes_after_refill)
        );
    }
    page += "</table>\n</body></html>\n";
    page
}

fn markdown(r: &Report, figures: &[Figure]) -> String {
    let mut md = format!(
        "# gomap-lab report\n\nMachine: {} ({} cores, {}). Entries: {}.\n\n",
        r.machine.cpu, r.machine.cores, r.machine.os, r.n
    );
    for f in figures {
        let _ = write!(md, "![{0}](charts/{0}.svg)\n\n{1}\n\n", f.name, f.caption);
    }
    md += &r.clear.markdown();
    md += "\n";
    md += &r.leak.markdown();
    md += &r.grow.markdown();
    md += "\n";
    md += &r.bench.markdown();
    md += "\n";
    md += &r.go_maps.markdown();
    md
}

pub fn run(common: &Common, out: &Path, go: Option<&Path>) -> Result<Report, String> {
    let n = common.n();
    let io =
        |what: &str, e: std::io::Error| format!("cannot write {what} in {}: {e}", out.display());
    std::fs::create_dir_all(out.join("charts")).map_err(|e| io("charts/", e))?;
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
    let figures = figures(&report);
    for f in &figures {
        std::fs::write(out.join("charts").join(format!("{}.svg", f.name)), &f.svg)
            .map_err(|e| io(f.name, e))?;
    }
    std::fs::write(out.join("index.html"), html(&report, &figures))
        .map_err(|e| io("index.html", e))?;
    std::fs::write(out.join("report.md"), markdown(&report, &figures))
        .map_err(|e| io("report.md", e))?;
    let json =
        serde_json::to_string_pretty(&report).map_err(|e| format!("cannot encode results: {e}"))?;
    std::fs::write(out.join("results.json"), json).map_err(|e| io("results.json", e))?;
    Ok(report)
}

impl Outcome for Report {
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
        let mut s = self.clear.markdown();
        s += &self.leak.markdown();
        s += &self.grow.markdown();
        s += &self.bench.markdown();
        s += &self.go_maps.markdown();
        s
    }
}

/// A case's series as chart lines, bytes in MiB.
fn mib_lines(series: &[crate::leak::Series]) -> Vec<Line> {
    series
        .iter()
        .map(|s| Line {
            name: s.name.clone(),
            points: s
                .points
                .iter()
                .map(|&(t, b)| (t as f64, b as f64 / MIB))
                .collect(),
        })
        .collect()
}

/// A flag as a caption says it.
fn flag_text(f: &crate::leak::Flag) -> String {
    format!("minute {}: {} — {}", f.tick, f.map, f.what)
}

/// The flags of a caption, or that there were none.
fn flags_text(flags: &[String]) -> String {
    if flags.is_empty() {
        "no flag".to_string()
    } else {
        flags.join("; ")
    }
}
