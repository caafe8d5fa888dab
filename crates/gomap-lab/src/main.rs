//! `gomap-lab`: the project's command line. The lab itself (the seed's
//! experiments, charts and report) is built in its own issue; until then
//! this binary says so, and points at what already measures gomap.

use std::process::ExitCode;

const NOT_YET: &str = "\
gomap-lab: the lab is not built yet (its issue is open).

What measures gomap today:
  cargo bench -p gomap --bench ops                        criterion: gomap vs hashbrown vs std
  python3 scripts/bench_table.py                          the ratio table from that run
  cargo run --release -p gomap --example latency          every insert/remove timed at 1e7, vs std
  cargo run --release -p gomap --example lookup_probe     quick hit/miss ratios vs hashbrown";

const USAGE: &str = "usage: gomap-lab <report|clear|leak|grow|bench|serve> [options]";

fn main() -> ExitCode {
    let command = std::env::args().nth(1);
    match command.as_deref() {
        Some("report" | "clear" | "leak" | "grow" | "bench" | "serve") => {
            println!("{NOT_YET}");
            ExitCode::SUCCESS
        }
        Some("-h" | "--help" | "help") => {
            println!("{USAGE}\n\n{NOT_YET}");
            ExitCode::SUCCESS
        }
        Some(other) => {
            eprintln!("gomap-lab: unknown command '{other}'\n{USAGE}");
            ExitCode::from(2)
        }
        None => {
            eprintln!("{USAGE}");
            ExitCode::from(2)
        }
    }
}
