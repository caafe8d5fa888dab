//! A demo service: governed maps under synthetic load, one of them leaking
//! on purpose, serving `/metrics` and `/debug/maps` for Prometheus.
//!
//! It says what it serves when it starts and what happened when it stops
//! (after `--duration`, Ctrl-C or SIGTERM). `--demo-fast` shortens the
//! sampler's interval and the leak window and lowers the leaky map's
//! watermarks, so that with `deploy/prometheus/demo-fast/` every alert of
//! the leaky map fires within two minutes.
//!
//! Everything is printed with `writeln!` on a locked stdout and write
//! errors are ignored: a reader that goes away (`serve | head`) must not
//! stop the service or make it panic.

use std::collections::HashMap;
use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use gomap_govern::{
    http, EventKind, Governed, GovernedSharded, MapReport, Measure, Registry, RegistryConfig,
    Watermarks,
};

use crate::measure::{human_bytes, splitmix};

/// `gomap-lab serve`'s arguments.
#[derive(clap::Args, Debug)]
pub struct ServeArgs {
    /// Loopback port to serve on.
    #[arg(long, default_value_t = 9464)]
    pub port: u16,
    /// Stop after this many seconds (default: run until Ctrl-C or SIGTERM).
    #[arg(long, value_name = "SECONDS", value_parser = clap::value_parser!(u64).range(1..=86_400))]
    pub duration: Option<u64>,
    /// Short sampler interval and leak window, low watermarks: the leaky
    /// map goes yellow, orange and red and is flagged a suspected leak within
    /// about a minute; scrape it with deploy/prometheus/demo-fast/.
    #[arg(long, default_value_t = false)]
    pub demo_fast: bool,
}

/// The knobs that differ between the normal demo and `--demo-fast`.
struct Profile {
    name: &'static str,
    /// Between two samples of the registry (trends, the total's level).
    sample_every: Duration,
    /// Samples in a leak window.
    window: usize,
    /// Request contexts leaked per tick (a tick is 100 ms).
    leaked_per_tick: u64,
    /// The leaky map's watermarks, in table bytes.
    leak_marks: [u64; 3],
    /// When the leak crosses them.
    leak_timeline: &'static str,
    /// Between two batch bursts.
    batch_every: Duration,
    /// The Prometheus configuration that scrapes this profile.
    prometheus_config: &'static str,
}

const MIB: u64 = 1 << 20;

/// Normal: the leaky map turns yellow after about 2 minutes, orange after
/// about 9 and red after about 35 (the bucket array doubles at those
/// points, and holds both arrays while it migrates); it is flagged after a
/// minute. With deploy/prometheus/prometheus.yml (`for:` of minutes) its
/// yellow alert fires at about 7 minutes, orange at 11, suspected leak at
/// 16 and red at 36.
const NORMAL: Profile = Profile {
    name: "normal",
    sample_every: Duration::from_secs(5),
    window: 12,
    leaked_per_tick: 20,
    leak_marks: [2 * MIB, 8 * MIB, 32 * MIB],
    leak_timeline: "yellow after about 2 min, orange after 9, red after 35",
    batch_every: Duration::from_secs(60),
    prometheus_config: "deploy/prometheus/prometheus.yml",
};

/// Fast: ten times the leak, a sample a second, and watermarks the leak
/// crosses at about 13, 27 and 53 seconds; it is flagged after 10. With
/// deploy/prometheus/demo-fast/ (`for:` of seconds) every alert of the
/// leaky map fires within about 70 seconds.
const DEMO_FAST: Profile = Profile {
    name: "demo-fast",
    sample_every: Duration::from_secs(1),
    window: 10,
    leaked_per_tick: 200,
    leak_marks: [2 * MIB, 6 * MIB, 12 * MIB],
    leak_timeline: "yellow after about 13 s, orange after 27, red after 53",
    batch_every: Duration::from_secs(20),
    prometheus_config: "deploy/prometheus/demo-fast/prometheus.yml",
};

/// The port deploy/prometheus's configurations scrape.
const DEFAULT_PORT: u16 = 9464;

const TICK: Duration = Duration::from_millis(100);

/// Sessions live around this many; each tick picks a new count within
/// `SESSION_SPREAD` of it.
const SESSIONS: u64 = 10_000;
const SESSION_SPREAD: u64 = 1_000;
/// New sessions per tick.
const SESSIONS_PER_TICK: u64 = 200;

/// The batch burst, and what is kept of it.
const BATCH_BURST: u64 = 200_000;
const BATCH_KEPT: u64 = 1_000;

const SESSIONS_NAME: &str = "sessions";
const CONTEXTS_NAME: &str = "request-contexts (leaks)";
const BATCH_NAME: &str = "batch";

/// Entries' worth of migration work each idle tick does per map.
const BATCH_STEP: usize = 4_096;

/// Writes a line to stdout; a closed or broken stdout is ignored.
macro_rules! say {
    ($out:expr) => {{
        let _ = writeln!($out);
    }};
    ($out:expr, $($arg:tt)*) => {{
        let _ = writeln!($out, $($arg)*);
    }};
}

/// Runs until `--duration` seconds pass, Ctrl-C or SIGTERM; then prints a
/// summary and returns.
pub fn run(args: &ServeArgs) -> Result<(), String> {
    let profile = if args.demo_fast { &DEMO_FAST } else { &NORMAL };
    let stop = Arc::new(AtomicBool::new(false));
    {
        let stop = stop.clone();
        ctrlc::set_handler(move || stop.store(true, Ordering::SeqCst))
            .map_err(|e| format!("cannot handle Ctrl-C and SIGTERM: {e}"))?;
    }

    let registry = Registry::with_config(RegistryConfig {
        window: profile.window,
        ..RegistryConfig::default()
    });
    let [yellow, orange, red] = profile.leak_marks;

    // Steady: sessions come and go, around 10 000 at any time; the count
    // moves up and down at random, so it never only grows.
    let sessions: GovernedSharded<u64, [u8; 32]> = GovernedSharded::builder(SESSIONS_NAME)
        .registry(&registry)
        .watermarks(Watermarks::entries(50_000, 100_000, 200_000).expect("increasing"))
        .build();
    // Leaking on purpose: request contexts that nobody removes. It uses
    // `insert`, not `try_insert`, so red does not stop it: the leak goes on
    // until the process ends, as in a service that never sheds load.
    let mut contexts: Governed<u64, Vec<u8>> = Governed::builder(CONTEXTS_NAME)
        .registry(&registry)
        .watermarks(Watermarks::bytes(yellow, orange, red).expect("increasing"))
        .build();
    // A burst of work every batch period, then all but the kept keys
    // removed and the table shrunk back: it gives the memory back, and
    // between bursts it is idle. A sample that lands between a burst and
    // its emptying sees entries that only grew and flags it until the next
    // sample sees them fall: far shorter than any alert's `for:`.
    let mut batch: Governed<u64, u64> = Governed::builder(BATCH_NAME).registry(&registry).build();

    // Sessions and the batch start at their steady count, so the first
    // samples do not see them grow.
    let mut sessions_oldest = 0u64;
    let mut sessions_next = 0u64;
    while sessions_next < SESSIONS {
        sessions.insert(sessions_next, [0; 32]);
        sessions_next += 1;
    }
    batch.extend((0..BATCH_KEPT).map(|i| (i, i)));

    let server = http::serve(&registry, ([127, 0, 0, 1], args.port).into())
        .map_err(|e| format!("cannot serve on 127.0.0.1:{}: {e}", args.port))?;
    let _sampler = registry
        .start_sampler(profile.sample_every)
        .map_err(|e| format!("cannot start the sampler thread: {e}"))?;
    let start = Instant::now();
    let start_unix = unix_now();

    {
        let mut out = std::io::stdout().lock();
        let addr = server.addr();
        say!(out, "gomap-lab serve ({} profile)", profile.name);
        say!(
            out,
            "  http://{addr}/metrics     Prometheus text: every gomap_* series"
        );
        say!(
            out,
            "  http://{addr}/debug/maps  JSON: every map, its level, trend and the last events"
        );
        say!(
            out,
            "sampler every {} s; a map whose entries only grew over {} samples ({} s) is flagged suspected_leak",
            profile.sample_every.as_secs(),
            profile.window,
            profile.sample_every.as_secs() * profile.window as u64
        );
        say!(out, "maps:");
        say!(
            out,
            "  {SESSIONS_NAME:<26} about 10 000 entries that come and go; watermarks 50 000 / 100 000 / 200 000 entries: stays green, never flagged"
        );
        say!(
            out,
            "  {CONTEXTS_NAME:<26} {} new entries a second, never removed; watermarks {} / {} / {} of table bytes: climbs {}, and is flagged suspected_leak",
            profile.leaked_per_tick * 10,
            human_bytes(yellow as usize),
            human_bytes(orange as usize),
            human_bytes(red as usize),
            profile.leak_timeline
        );
        say!(
            out,
            "  {BATCH_NAME:<26} 1 000 entries, every {} s a burst to 200 000 emptied a second later: its table shrinks back (no watermarks; flagged only while a burst is in, never for an alert's `for:`)",
            profile.batch_every.as_secs()
        );
        say!(
            out,
            "Prometheus with gomap's alert rules, from the repository root:"
        );
        say!(
            out,
            "  prometheus --config.file={} --storage.tsdb.path=/tmp/gomap-prometheus",
            profile.prometheus_config
        );
        if args.port != DEFAULT_PORT {
            say!(
                out,
                "  (it scrapes 127.0.0.1:{DEFAULT_PORT}: change its target to 127.0.0.1:{})",
                args.port
            );
        }
        say!(out, "  then open http://127.0.0.1:9090/alerts");
        match args.duration {
            Some(d) => say!(out, "stops after {d} s, or on Ctrl-C or SIGTERM"),
            None => say!(out, "stop with Ctrl-C or SIGTERM"),
        }
        let _ = out.flush();
    }

    let mut rng = 0u64;
    let mut next_tick = start;
    let mut next_burst = start + profile.batch_every;
    let mut empty_batch_at: Option<Instant> = None;
    let mut next_look = start;
    // Per map: when it was first seen flagged suspected_leak, and in how
    // many looks (one per sampler interval).
    let mut flagged: HashMap<String, (Duration, u32)> = HashMap::new();
    let mut batch_peak = 0u64;
    let mut leak_id = 0u64;
    let end = args.duration.map(|d| start + Duration::from_secs(d));

    while !stop.load(Ordering::SeqCst) && end.is_none_or(|end| Instant::now() < end) {
        // Sessions: a new count near the steady one, reached by adding new
        // sessions and ending the oldest.
        rng = splitmix(rng);
        let target = SESSIONS - SESSION_SPREAD + rng % (2 * SESSION_SPREAD + 1);
        for _ in 0..SESSIONS_PER_TICK {
            sessions.insert(sessions_next, [0; 32]);
            sessions_next += 1;
        }
        while sessions_next - sessions_oldest > target {
            sessions.remove(&sessions_oldest);
            sessions_oldest += 1;
        }

        for _ in 0..profile.leaked_per_tick {
            contexts.insert(leak_id, vec![0; 64]);
            leak_id += 1;
        }

        let now = Instant::now();
        if now >= next_burst {
            batch.extend((0..BATCH_BURST).map(|i| (i, i)));
            batch_peak = batch_peak.max(batch.report().figures.allocated_bytes);
            next_burst += profile.batch_every;
            empty_batch_at = Some(now + Duration::from_secs(1));
        } else if empty_batch_at.is_some_and(|at| now >= at) {
            // Removing most keys starts a shrink (ShrinkPolicy::Auto), which
            // later writes would carry on; the batch writes nothing more
            // until its next burst, so its idle ticks finish it, a bounded
            // step each (below), or it would hold both arrays.
            batch.retain(|k, _| *k < BATCH_KEPT);
            empty_batch_at = None;
        }
        // Idle-time maintenance: a bounded piece of any migration left
        // running by the last write.
        batch.step_migration(BATCH_STEP);
        sessions.step_migrations(BATCH_STEP);

        if now >= next_look {
            for map in registry.maps() {
                if map.trend.suspected_leak {
                    flagged
                        .entry(map.name.clone())
                        .or_insert((now.duration_since(start), 0))
                        .1 += 1;
                }
            }
            next_look = now + profile.sample_every;
        }

        next_tick += TICK;
        let now = Instant::now();
        if next_tick > now {
            std::thread::sleep(next_tick - now);
        } else if now - next_tick > Duration::from_secs(1) {
            // Far behind (a stopped process, a loaded machine): do not
            // rush to catch up.
            next_tick = now;
        }
    }

    let ran = start.elapsed();
    let maps = registry.maps();
    drop(server);
    let mut out = std::io::stdout().lock();
    let seen = Seen {
        ran,
        start_unix,
        flagged,
        sample_every: profile.sample_every,
        batch_peak,
    };
    summary(&mut out, &seen, &maps, &registry);
    let _ = out.flush();
    Ok(())
}

fn unix_now() -> f64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

/// What the run saw besides the registry's own record.
struct Seen {
    ran: Duration,
    /// When it started, in seconds since the Unix epoch (as events are).
    start_unix: f64,
    /// Per map: when it was first seen flagged suspected_leak, and in how
    /// many looks (one per sampler interval).
    flagged: HashMap<String, (Duration, u32)>,
    sample_every: Duration,
    /// The batch table's bytes right after a burst.
    batch_peak: u64,
}

/// What happened, in a few lines.
fn summary(out: &mut impl Write, seen: &Seen, maps: &[MapReport], registry: &Registry) {
    let &Seen {
        ran,
        start_unix,
        ref flagged,
        sample_every,
        batch_peak,
    } = seen;
    say!(out);
    say!(out, "stopped after {:.1} s", ran.as_secs_f64());
    say!(
        out,
        "  {:<26} {:>10} {:>11}  {:<7} suspected_leak",
        "map",
        "entries",
        "table",
        "level"
    );
    for map in maps {
        let seen = flagged.get(&map.name).map(|&(first, looks)| {
            format!(
                "first at {} s, seen in {looks} looks {} s apart",
                first.as_secs(),
                sample_every.as_secs()
            )
        });
        let flagged = match (map.trend.suspected_leak, seen) {
            (true, Some(seen)) => format!("yes ({seen})"),
            (true, None) => "yes".to_string(),
            (false, Some(seen)) => format!("no, not now ({seen})"),
            (false, None) => "no".to_string(),
        };
        say!(
            out,
            "  {:<26} {:>10} {:>11}  {:<7} {flagged}",
            map.name,
            map.figures.len,
            human_bytes(map.figures.allocated_bytes as usize),
            map.level.name()
        );
        if map.name == BATCH_NAME && batch_peak > 0 {
            say!(
                out,
                "  {:<26} its table held {} at its bursts' height",
                "",
                human_bytes(batch_peak as usize)
            );
        }
    }
    let events = registry.events();
    let changes: Vec<_> = events
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::Level {
                from,
                to,
                value,
                measure,
            } => Some((e, *from, *to, *value, *measure)),
            _ => None,
        })
        .collect();
    if changes.is_empty() {
        say!(out, "no level changes");
    } else {
        say!(
            out,
            "level changes (the registry keeps the last {}):",
            registry.config().kept_events
        );
        for (e, from, to, value, measure) in changes {
            let at = (e.at_unix_secs - start_unix).max(0.0);
            let figure = match measure {
                Measure::Entries => format!("{value} entries"),
                _ => human_bytes(value as usize),
            };
            say!(
                out,
                "  {at:>6.1} s  {:<26} {} -> {} at {figure}",
                e.map.as_deref().unwrap_or("(all maps)"),
                from.name(),
                to.name()
            );
        }
    }
    let others = events.iter().filter(|e| e.level_change().is_none()).count();
    if others > 0 {
        say!(
            out,
            "{others} other events (caught panics): see /debug/maps while serving"
        );
    }
}
