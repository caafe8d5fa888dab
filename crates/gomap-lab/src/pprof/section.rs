//! The report's Go section: run bench/go/leaky with a Go toolchain, read
//! its two heap profiles with `pprof`, and judge the claim that the leaky
//! map is named first, by growth, the burst map second.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde::Serialize;

use super::PprofReport;
use crate::claims::{Claim, Verdict};
use crate::measure::human_bytes;

/// One series of a bar chart: its name and a value per category.
pub type Series = (String, Vec<f64>);

/// The Go section of the report.
#[derive(Clone, Debug, Serialize)]
pub struct GoMaps {
    /// What is claimed.
    pub claim: &'static str,
    /// The verdict.
    pub verdict: Verdict,
    /// Why that verdict.
    pub reason: String,
    /// `go version` of the toolchain used.
    pub go_version: Option<String>,
    /// The ranking, when Go ran.
    pub pprof: Option<PprofReport>,
}

/// The claim's id (docs/claims.md).
pub const CLAIM_ID: &str = "go-heap-profile";

const CLAIM: &str = "From two heap profiles of a Go service, `gomap-lab pprof` names the map \
                     that only grows first (kind growth) and the map that burst and was kept \
                     second, above a healthy map; a growing slice and a pile of structs are not \
                     reported as maps.";

fn leaky_dir() -> PathBuf {
    crate::bench::go_dir().join("leaky")
}

fn measure(go: &Path, dir: &Path) -> Result<(String, PprofReport), String> {
    let version = Command::new(go)
        .arg("version")
        .output()
        .map_err(|e| format!("cannot run {}: {e}", go.display()))?;
    let version = String::from_utf8_lossy(&version.stdout).trim().to_string();
    let bin = dir.join("leaky");
    let built = Command::new(go)
        .args(["build", "-o"])
        .arg(&bin)
        .arg("./leaky")
        .current_dir(crate::bench::go_dir())
        .env("GOTOOLCHAIN", "local")
        .env("GOPROXY", "off")
        .output()
        .map_err(|e| format!("cannot run {}: {e}", go.display()))?;
    if !built.status.success() {
        return Err(format!(
            "go build ./leaky failed: {}",
            String::from_utf8_lossy(&built.stderr).trim()
        ));
    }
    let ran = Command::new(&bin)
        .arg("-out")
        .arg(dir)
        .args(["-rate", "1"])
        .output()
        .map_err(|e| format!("cannot run the leaky service: {e}"))?;
    if !ran.status.success() {
        return Err(format!(
            "the leaky service failed: {}",
            String::from_utf8_lossy(&ran.stderr).trim()
        ));
    }
    let new = dir.join("heap2.pb.gz").display().to_string();
    let old = dir.join("heap1.pb.gz").display().to_string();
    let report = super::run(&new, Some(&old), &[leaky_dir()])?;
    Ok((version, report))
}

/// Runs the leaky service with `go` (or the one found) and judges.
pub fn run(go: Option<&Path>) -> GoMaps {
    let Some(go) = crate::bench::find_go(go) else {
        return GoMaps {
            claim: CLAIM,
            verdict: Verdict::NotMeasured,
            reason: "no Go toolchain: none given with --go, no `go` on PATH, none in /usr/lib/go-*"
                .into(),
            go_version: None,
            pprof: None,
        };
    };
    let dir = std::env::temp_dir().join(format!("gomap-lab-go-maps-{}", std::process::id()));
    let _ = std::fs::create_dir_all(&dir);
    let measured = measure(&go, &dir);
    let _ = std::fs::remove_dir_all(&dir);
    match measured {
        Err(reason) => GoMaps {
            claim: CLAIM,
            verdict: Verdict::NotMeasured,
            reason,
            go_version: None,
            pprof: None,
        },
        Ok((version, report)) => {
            let name = |i: usize| report.sites.get(i).map(|s| s.function.as_str());
            let leaky_first = name(0) == Some("main.grow")
                && report.sites[0].finding.kind == super::sites::Kind::Growth;
            let burst_second = name(1) == Some("main.bursty");
            let controls = report
                .sites
                .iter()
                .all(|s| s.function != "main.pile" && s.function != "main.appendTo");
            let (verdict, reason) = if leaky_first && burst_second && controls {
                (
                    Verdict::Reproduced,
                    format!(
                        "leaky map first ({} in use, {} since the first profile, by growth), burst map second, controls not reported",
                        human_bytes(report.sites[0].inuse_bytes.max(0) as usize),
                        super::signed(report.sites[0].inuse_bytes_delta.unwrap_or(0))
                    ),
                )
            } else {
                (
                    Verdict::NotReproduced,
                    format!(
                        "ranking was {}",
                        report
                            .sites
                            .iter()
                            .map(|s| format!("{} ({})", s.function, s.finding.kind.word()))
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                )
            };
            GoMaps {
                claim: CLAIM,
                verdict,
                reason,
                go_version: Some(version),
                pprof: Some(report),
            }
        }
    }
}

impl GoMaps {
    /// The claim, judged.
    pub fn claim(&self) -> Claim {
        let evidence = self.go_version.clone().unwrap_or_default();
        match self.verdict {
            Verdict::NotMeasured => Claim::not_measured(CLAIM_ID, self.claim, self.reason.clone()),
            v => Claim::judged(
                CLAIM_ID,
                self.claim,
                v == Verdict::Reproduced,
                if v == Verdict::Reproduced {
                    format!("{}; {evidence}", self.reason)
                } else {
                    evidence
                },
                self.reason.clone(),
            ),
        }
    }

    /// The verdict line.
    pub fn verdict_line(&self) -> String {
        format!(
            "Verdict: {} — {}{}.",
            self.verdict.word(),
            self.reason,
            self.go_version
                .as_ref()
                .map_or(String::new(), |v| format!(" ({v})"))
        )
    }

    /// Bars of live MiB per site, in the first and the second profile:
    /// categories and series for `chart::bars`; `None` when Go did not run.
    pub fn chart_data(&self) -> Option<(Vec<String>, Vec<Series>)> {
        let report = self.pprof.as_ref()?;
        let sites: Vec<_> = report.sites.iter().take(6).collect();
        if sites.is_empty() {
            return None;
        }
        let mib = |b: i64| b as f64 / (1024.0 * 1024.0);
        Some((
            sites
                .iter()
                .map(|s| format!("{}:{}", s.function.trim_start_matches("main."), s.line))
                .collect(),
            vec![
                (
                    "first profile".into(),
                    sites
                        .iter()
                        .map(|s| mib(s.base_inuse_bytes.unwrap_or(0)))
                        .collect(),
                ),
                (
                    "second profile".into(),
                    sites.iter().map(|s| mib(s.inuse_bytes)).collect(),
                ),
            ],
        ))
    }

    /// The section for report.md and the terminal.
    pub fn markdown(&self) -> String {
        let mut out = format!(
            "### Go maps in a heap profile (`gomap-lab pprof`)\n\n{}\n\n**{}**\n\n",
            self.claim,
            self.verdict_line()
        );
        if let Some(r) = &self.pprof {
            out += &crate::Outcome::markdown(r);
        }
        out
    }

    /// Plain text.
    pub fn text(&self) -> String {
        let mut out = format!("Go maps in a heap profile: {}\n", self.verdict_line());
        if let Some(r) = &self.pprof {
            for (i, s) in r.sites.iter().enumerate() {
                let _ = writeln!(
                    out,
                    "  {}. {} {}:{} {} in use, {} since the first profile, {}",
                    i + 1,
                    s.function,
                    super::short_file(&s.file),
                    s.line,
                    human_bytes(s.inuse_bytes.max(0) as usize),
                    super::signed(s.inuse_bytes_delta.unwrap_or(0)),
                    s.finding.kind.word()
                );
            }
        }
        out
    }
}
