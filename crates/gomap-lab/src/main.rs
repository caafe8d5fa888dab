//! gomap-lab: why maps keep memory and what gomap does about it, measured on
//! this machine, drawn and reported.
//!
//! `cargo run --release -p gomap-lab -- report` runs everything and writes
//! `report/index.html`, `report/report.md` and `report/results.json`; each
//! part also runs alone (`clear`, `leak`, `grow`, `bench`), `serve`
//! runs a demo service for Prometheus to scrape, and `pprof` names the Go
//! maps that hold the memory in a Go heap profile.

mod bench;
mod chart;
mod claims;
mod clear;
mod grow;
mod leak;
mod measure;
mod pprof;
mod report;
mod serve;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand, ValueEnum};
use serde::Serialize;

/// Every byte the process holds, counted (see `measure::live_bytes`).
#[global_allocator]
static ALLOCATOR: cap::Cap<std::alloc::System> = cap::Cap::new(std::alloc::System, usize::MAX);

#[derive(Parser)]
#[command(
    name = "gomap-lab",
    version,
    about = "Go's map rebuilt in Rust, measured: what the project claims, as experiments on this machine",
    long_about = "Each command turns one of the project's claims into measurements on this \
                  machine, gomap against std's HashMap, hashbrown and (with `bench --go`) Go. \
                  Each claim gets a verdict computed from this run's numbers: reproduced, \
                  not reproduced or not measured; docs/claims.md says what each claim is and why. \
                  `report` runs them all and writes an HTML page with charts."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run clear, leak, grow and bench, judge every claim (docs/claims.md)
    /// and write index.html (charts), report.md and results.json into DIR.
    /// The files are written beside DIR first and moved into place at the
    /// end, so a run that fails leaves any earlier report as it was.
    Report {
        #[command(flatten)]
        common: Common,
        /// Where to write index.html, report.md, results.json and charts/.
        #[arg(long, default_value = "report", value_name = "DIR")]
        out: PathBuf,
        /// A Go toolchain for the Go columns and the Go section; checked
        /// before any work [default: `go` on PATH, else the newest
        /// /usr/lib/go-*/bin/go, else none: Go's claims are not measured].
        #[arg(long, value_name = "PATH")]
        go: Option<PathBuf>,
    },
    /// The five ways to empty a map: time taken, bytes
    /// before, after, and after refilling 1 %, for gomap (Auto, Never), std
    /// and hashbrown.
    Clear(Common),
    /// Three production cases where maps keep memory, and a request cache
    /// governed on total bytes, leaky pattern beside the fixed one, memory
    /// over simulated time, and the governance layer catching the leaky one.
    Leak {
        /// Which case to run.
        #[arg(long, value_enum, default_value_t = Case::All)]
        case: Case,
        #[command(flatten)]
        common: Common,
    },
    /// Per-insert latency while growing to N (p50 … max) for gomap, std and
    /// hashbrown, and gomap's timeline of buckets and migrations
    /// (incremental growth).
    Grow(Common),
    /// Throughput of insert, lookup hit/miss, remove and iterate, and bytes
    /// per entry, as ratios to std and hashbrown from the same run; with a
    /// Go toolchain, the same workloads in Go beside them.
    Bench {
        #[command(flatten)]
        common: Common,
        /// A Go toolchain, checked before any work [default: `go` on PATH,
        /// else the newest /usr/lib/go-*/bin/go, else none].
        #[arg(long, value_name = "PATH")]
        go: Option<PathBuf>,
    },
    /// A demo service: governed maps under synthetic load, one leaking on
    /// purpose, serving /metrics and /debug/maps on a loopback port for
    /// Prometheus (deploy/prometheus has the configuration and the rules).
    /// Says what it serves; stops after --duration, on Ctrl-C or SIGTERM,
    /// with a summary of what happened.
    Serve(serve::ServeArgs),
    /// Which Go map holds the memory: reads a Go heap profile (pprof
    /// protobuf, gzipped or not, a file or a loopback
    /// http://127.0.0.1:PORT/debug/pprof/heap URL), recognises the
    /// allocations that are map bucket arrays, overflow buckets and Swiss
    /// tables by their sizes, and ranks the lines that made or wrote those
    /// maps, with the change since --base.
    Pprof {
        /// The heap profile: a file, or a loopback http:// URL.
        #[arg(value_name = "PROFILE")]
        profile: String,
        /// An earlier heap profile of the same program: rank by growth since it.
        #[arg(long, value_name = "OLD")]
        base: Option<String>,
        /// Where the Go source is, to read the allocating lines (repeatable;
        /// the paths recorded in the profile are tried first).
        #[arg(long, value_name = "DIR")]
        source: Vec<PathBuf>,
        /// How results are printed.
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
    },
}

/// Flags every measuring command takes.
#[derive(Args, Clone, Debug)]
struct Common {
    /// How big: small (1e5 entries), medium (1e6), large (1e7).
    #[arg(long, value_enum, default_value_t = Size::Medium, conflicts_with = "n")]
    size: Size,
    /// An explicit entry count instead of --size (1 000 ..= 50 000 000).
    #[arg(long, value_parser = clap::value_parser!(u64).range(1_000..=50_000_000))]
    n: Option<u64>,
    /// How results are printed.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,
}

impl Common {
    fn n(&self) -> usize {
        match (self.n, self.size) {
            (Some(n), _) => n as usize,
            (None, Size::Small) => 100_000,
            (None, Size::Medium) => 1_000_000,
            (None, Size::Large) => 10_000_000,
        }
    }
}

#[derive(ValueEnum, Clone, Copy, Debug)]
enum Size {
    Small,
    Medium,
    Large,
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
enum Format {
    Text,
    Json,
    Markdown,
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Case {
    /// (a) a per-request cache hung on a long-lived context, never cleaned.
    HttpContext,
    /// (b) a periodic task's map after a burst of entries.
    PeriodicBurst,
    /// (c) a clear done shard by shard while readers iterate.
    RwlockClear,
    /// (d) a `String → Vec<u8>` request cache that leaks, governed on the
    /// bytes its keys and values own.
    StringCache,
    /// All four.
    All,
}

/// Something a command measured: printable three ways, with the claims it
/// judged.
pub trait Outcome: Serialize {
    /// Plain text for a terminal.
    fn text(&self) -> String;
    /// Markdown (tables), as in report.md.
    fn markdown(&self) -> String;
    /// The claims these measurements decide (docs/claims.md).
    fn claims(&self) -> Vec<claims::Claim> {
        Vec::new()
    }
}

/// Version of the layout of the JSON the lab writes: 2 has named fields
/// throughout, the claims, the tool and the machine.
pub const SCHEMA_VERSION: u32 = 2;

/// An outcome as JSON: the tool, the machine, the claims and their
/// summary, then the outcome's own fields.
#[derive(Serialize)]
struct Json<'a, O: Serialize> {
    tool: &'static str,
    version: &'static str,
    schema_version: u32,
    machine: &'a report::Machine,
    summary: claims::Summary,
    claims: &'a [claims::Claim],
    #[serde(flatten)]
    outcome: &'a O,
}

/// `outcome` as the lab's JSON.
pub fn to_json(outcome: &impl Outcome) -> Result<String, String> {
    let claims = outcome.claims();
    serde_json::to_string_pretty(&Json {
        tool: env!("CARGO_PKG_NAME"),
        version: env!("CARGO_PKG_VERSION"),
        schema_version: SCHEMA_VERSION,
        machine: &report::machine(),
        summary: claims::Summary::of(&claims),
        claims: &claims,
        outcome,
    })
    .map_err(|e| format!("cannot encode the results: {e}"))
}

/// Prints `outcome` on stdout. A reader that went away (a closed pipe) ends
/// the output quietly: that is what it asked for.
fn print(outcome: &impl Outcome, format: Format) -> Result<(), String> {
    use std::io::Write;
    let claims = outcome.claims();
    let out = match format {
        Format::Text if claims.is_empty() => outcome.text(),
        Format::Text => format!("{}\n{}", outcome.text(), claims::text(&claims)),
        Format::Markdown if claims.is_empty() => outcome.markdown(),
        Format::Markdown => format!("{}\n{}", claims::markdown(&claims), outcome.markdown()),
        Format::Json => to_json(outcome)? + "\n",
    };
    let mut stdout = std::io::stdout().lock();
    match stdout
        .write_all(out.as_bytes())
        .and_then(|()| stdout.flush())
    {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => {
            Err(format!("cannot write to standard output: {e}"))
        }
        _ => Ok(()),
    }
}

/// The Go toolchain a command was given, checked before any work: it must
/// run and say it is Go.
fn usable_go(go: Option<PathBuf>) -> Result<Option<PathBuf>, String> {
    let Some(go) = go else { return Ok(None) };
    let output = std::process::Command::new(&go)
        .arg("version")
        .output()
        .map_err(|e| format!("--go {}: cannot run it: {e}", go.display()))?;
    let said = String::from_utf8_lossy(&output.stdout);
    if !output.status.success() || !said.starts_with("go version") {
        return Err(format!(
            "--go {}: not a Go toolchain (`{} version` did not print a Go version)",
            go.display(),
            go.display()
        ));
    }
    Ok(Some(go))
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            use clap::error::ErrorKind;
            if matches!(
                e.kind(),
                ErrorKind::DisplayHelp
                    | ErrorKind::DisplayVersion
                    | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand
            ) {
                e.exit();
            }
            // One line: clap's first, without the usage it appends.
            let rendered = e.render().to_string();
            let line = rendered.lines().next().unwrap_or("error: bad arguments");
            eprintln!("{line} (see --help)");
            return ExitCode::from(2);
        }
    };
    let result = match cli.command {
        Command::Report { common, out, go } => usable_go(go)
            .and_then(|go| report::run(&common, &out, go.as_deref()))
            .and_then(|r| print(&r, common.format)),
        Command::Clear(common) => print(&clear::run(common.n()), common.format),
        Command::Leak { case, common } => print(&leak::run(case, common.n()), common.format),
        Command::Grow(common) => print(&grow::run(common.n()), common.format),
        Command::Bench { common, go } => usable_go(go)
            .and_then(|go| print(&bench::run(common.n(), go.as_deref()), common.format)),
        Command::Serve(args) => serve::run(&args),
        Command::Pprof {
            profile,
            base,
            source,
            format,
        } => pprof::run(&profile, base.as_deref(), &source).and_then(|r| print(&r, format)),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
