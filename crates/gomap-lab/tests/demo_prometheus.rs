//! The demo, end to end: `gomap-lab serve --demo-fast` scraped by a real
//! Prometheus with deploy/prometheus/demo-fast/, until the leaky map's red
//! and suspected-leak alerts fire; the steady `sessions` map must never
//! fire one. Needs a `prometheus` binary on PATH: without one the test says
//! so and passes, unless GOMAP_REQUIRE_PROMETHEUS=1, when it fails.
//!
//! Also here, without Prometheus: the demo's rules are gomap's rules with
//! shorter `for:`, and nothing else changed.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

mod common;
use common::free_port;

const LEAKY: &str = "request-contexts (leaks)";
const STEADY: &str = "sessions";
/// The alerts that must fire for the leaky map.
const MUST_FIRE: [&str; 2] = ["GomapMapRed", "GomapMapSuspectedLeak"];

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The children and the scratch directory of one run: killed, reaped and
/// removed however the test ends.
struct Run {
    dir: PathBuf,
    children: Vec<(&'static str, Child)>,
}

impl Run {
    fn log(&self, name: &str) -> String {
        fs::read_to_string(self.dir.join(name)).unwrap_or_default()
    }

    /// Panics with both logs if a child has ended.
    fn check_alive(&mut self) {
        for (name, child) in &mut self.children {
            if let Some(status) = child.try_wait().unwrap() {
                panic!(
                    "{name} ended early ({status})\n--- serve.log\n{}\n--- prometheus.log\n{}",
                    fs::read_to_string(self.dir.join("serve.log")).unwrap_or_default(),
                    fs::read_to_string(self.dir.join("prometheus.log")).unwrap_or_default()
                );
            }
        }
    }
}

impl Drop for Run {
    fn drop(&mut self) {
        for (_, child) in &mut self.children {
            let _ = child.kill();
            let _ = child.wait();
        }
        let _ = fs::remove_dir_all(&self.dir);
    }
}

fn prometheus_installed() -> bool {
    Command::new("prometheus")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// `(alertname, map, state)` of every alert Prometheus has now.
fn alerts(web: u16) -> Option<Vec<(String, String, String)>> {
    let body: serde_json::Value = ureq::get(&format!("http://127.0.0.1:{web}/api/v1/alerts"))
        .timeout(Duration::from_secs(5))
        .call()
        .ok()?
        .into_json()
        .ok()?;
    let list = body.pointer("/data/alerts")?.as_array()?;
    Some(
        list.iter()
            .map(|a| {
                let s = |p: &str| {
                    a.pointer(p)
                        .and_then(|v| v.as_str())
                        .unwrap_or("")
                        .to_string()
                };
                (s("/labels/alertname"), s("/labels/map"), s("/state"))
            })
            .collect(),
    )
}

#[test]
fn demo_fast_fires_the_leaky_maps_alerts_in_prometheus_and_none_for_sessions() {
    if !prometheus_installed() {
        let reason = "no `prometheus` on PATH (apt-get install prometheus)";
        if std::env::var("GOMAP_REQUIRE_PROMETHEUS").as_deref() == Ok("1") {
            panic!("GOMAP_REQUIRE_PROMETHEUS=1 but {reason}");
        }
        eprintln!("skipped: {reason}; set GOMAP_REQUIRE_PROMETHEUS=1 to make this a failure");
        return;
    }

    let demo = repo().join("deploy/prometheus/demo-fast");
    let rules = fs::read_to_string(demo.join("gomap-alerts.yml")).unwrap();
    for name in MUST_FIRE {
        assert!(
            rules.contains(&format!("- alert: {name}\n")),
            "no alert {name}"
        );
    }
    let config = fs::read_to_string(demo.join("prometheus.yml")).unwrap();
    assert!(
        config.contains("\"127.0.0.1:9464\""),
        "the demo scrapes serve's default port"
    );

    let port = free_port();
    let web = free_port();
    let dir = std::env::temp_dir().join(format!(
        "gomap-demo-prometheus-{}-{port}",
        std::process::id()
    ));
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(dir.join("data")).unwrap();
    let mut run = Run {
        dir: dir.clone(),
        children: Vec::new(),
    };
    fs::write(dir.join("gomap-alerts.yml"), &rules).unwrap();
    fs::write(
        dir.join("prometheus.yml"),
        config.replace("127.0.0.1:9464", &format!("127.0.0.1:{port}")),
    )
    .unwrap();

    let started = Instant::now();
    let serve = Command::new(env!("CARGO_BIN_EXE_gomap-lab"))
        .args([
            "serve",
            "--demo-fast",
            "--port",
            &port.to_string(),
            "--duration",
            "170",
        ])
        .stdout(fs::File::create(dir.join("serve.log")).unwrap())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    run.children.push(("serve", serve));
    let prometheus_log = fs::File::create(dir.join("prometheus.log")).unwrap();
    let prometheus = Command::new("prometheus")
        .arg(format!(
            "--config.file={}",
            dir.join("prometheus.yml").display()
        ))
        .arg(format!(
            "--storage.tsdb.path={}",
            dir.join("data").display()
        ))
        .arg(format!("--web.listen-address=127.0.0.1:{web}"))
        .stdout(prometheus_log.try_clone().unwrap())
        .stderr(prometheus_log)
        .current_dir(&dir)
        .spawn()
        .unwrap();
    run.children.push(("prometheus", prometheus));

    // When each (alert, map) was first seen firing, in seconds from start.
    let mut fired: BTreeMap<(String, String), f64> = BTreeMap::new();
    let deadline = started + Duration::from_secs(150);
    loop {
        run.check_alive();
        for (name, map, state) in alerts(web).unwrap_or_default() {
            if state == "firing" {
                assert_ne!(
                    map,
                    STEADY,
                    "{name} fired for {STEADY}\n--- serve.log\n{}",
                    run.log("serve.log")
                );
                fired
                    .entry((name, map))
                    .or_insert_with(|| started.elapsed().as_secs_f64());
            }
        }
        if MUST_FIRE
            .iter()
            .all(|name| fired.contains_key(&(name.to_string(), LEAKY.to_string())))
        {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "after 150 s these fired: {fired:?}\n--- serve.log\n{}\n--- prometheus.log\n{}",
            run.log("serve.log"),
            run.log("prometheus.log")
        );
        std::thread::sleep(Duration::from_secs(1));
    }
    for ((name, map), at) in &fired {
        println!("{at:6.1} s  {name} firing for {map}");
    }
}

/// A line of a rules file, as the comparison sees it.
fn normalized(line: &str) -> String {
    let trimmed = line.trim_start();
    if trimmed.starts_with("for:") {
        return "for: <duration>".to_string();
    }
    if trimmed.starts_with("description:") {
        // The durations a description quotes change with `for:`.
        return line
            .split(' ')
            .filter(|w| {
                let w = w.trim_end_matches([',', '.', ':', ';', ')']);
                !(!w.is_empty() && w.chars().all(|c| c.is_ascii_digit())
                    || matches!(w, "minute" | "minutes" | "second" | "seconds"))
            })
            .collect::<Vec<_>>()
            .join(" ");
    }
    line.to_string()
}

/// The rules, without the leading comment block.
fn rules_body(text: &str) -> Vec<&str> {
    text.lines().skip_while(|l| l.starts_with('#')).collect()
}

/// `for:` durations, in seconds, in file order.
fn for_durations(text: &str) -> Vec<(String, u64)> {
    text.lines()
        .filter_map(|l| l.trim_start().strip_prefix("for: "))
        .map(|d| {
            let (n, unit) = d.split_at(d.len() - 1);
            let n: u64 = n.parse().unwrap_or_else(|_| panic!("a duration: {d}"));
            let seconds = match unit {
                "s" => n,
                "m" => n * 60,
                "h" => n * 3600,
                _ => panic!("a duration: {d}"),
            };
            (d.to_string(), seconds)
        })
        .collect()
}

#[test]
fn demo_rules_are_the_main_rules_with_for_in_seconds() {
    let prom = repo().join("deploy/prometheus");
    let main = fs::read_to_string(prom.join("gomap-alerts.yml")).unwrap();
    let demo = fs::read_to_string(prom.join("demo-fast/gomap-alerts.yml")).unwrap();
    let (main_body, demo_body) = (rules_body(&main), rules_body(&demo));
    assert_eq!(main_body.len(), demo_body.len(), "as many lines");
    for (i, (m, d)) in main_body.iter().zip(&demo_body).enumerate() {
        assert_eq!(
            normalized(m),
            normalized(d),
            "line {} of the rules (after the comments) differs beyond durations",
            i + 1
        );
    }
    let (main_for, demo_for) = (for_durations(&main), for_durations(&demo));
    assert_eq!(main_for.len(), demo_for.len());
    assert!(!demo_for.is_empty());
    for ((m, ms), (d, ds)) in main_for.iter().zip(&demo_for) {
        assert!(d.ends_with('s'), "the demo's for: is in seconds: {d}");
        assert!(ds < ms && *ds <= 30, "demo for: {d} against {m}");
    }
}

/// promtool, when installed, accepts both configurations and passes both
/// rule tests.
#[test]
fn promtool_accepts_both_configurations_and_their_rule_tests() {
    let ok = Command::new("promtool")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !ok {
        if std::env::var("GOMAP_REQUIRE_PROMETHEUS").as_deref() == Ok("1") {
            panic!("GOMAP_REQUIRE_PROMETHEUS=1 but no `promtool` on PATH");
        }
        eprintln!("skipped: no `promtool` on PATH");
        return;
    }
    let prom = repo().join("deploy/prometheus");
    for args in [
        ["check", "config", "prometheus.yml"],
        ["check", "config", "demo-fast/prometheus.yml"],
        ["test", "rules", "gomap-alerts.test.yml"],
        ["test", "rules", "demo-fast/gomap-alerts.test.yml"],
    ] {
        let out = Command::new("promtool")
            .args(args)
            .current_dir(&prom)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "promtool {}: {}{}",
            args.join(" "),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}
