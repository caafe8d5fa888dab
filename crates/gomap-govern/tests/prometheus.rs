//! With the real Prometheus tools: `promtool check metrics` finds nothing
//! to say about a busy registry's `/metrics`; the files in
//! `deploy/prometheus/` pass `promtool check config`, `check rules` and
//! `test rules`; and a real Prometheus scrapes this process's `/metrics`,
//! loads `deploy/prometheus/gomap-alerts.yml`, and the gomap series and an
//! alert on a map at red show up in its HTTP API.
//!
//! Needs the `prometheus` and `promtool` binaries (Debian's `prometheus`
//! package; `.ci/run` installs it). Without them each test prints why and
//! passes — unless `GOMAP_REQUIRE_PROMETHEUS` is set, as CI sets it, where
//! it fails.
#![cfg(feature = "http")]

use std::io::Write;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use gomap_govern::{http, Governed, Registry, RegistryConfig, Watermarks};

/// `binary` on `PATH`, or `None` when the test may be skipped (it panics
/// when `GOMAP_REQUIRE_PROMETHEUS` is set).
fn require(binary: &str) -> Option<PathBuf> {
    let found = std::env::var_os("PATH").and_then(|path| {
        std::env::split_paths(&path)
            .map(|dir| dir.join(binary))
            .find(|p| p.is_file())
    });
    if found.is_none() {
        if std::env::var_os("GOMAP_REQUIRE_PROMETHEUS").is_some() {
            panic!("GOMAP_REQUIRE_PROMETHEUS is set but no {binary} binary is on PATH");
        }
        eprintln!("skipped: no `{binary}` on PATH (apt-get install prometheus)");
    }
    found
}

/// `deploy/prometheus/` in the repository.
fn deploy_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../deploy/prometheus")
        .canonicalize()
        .unwrap()
}

/// A registry with a bit of everything: watermarks in bytes and in
/// entries, a map at red that refused a key, a migrating map, a suspected
/// leak, an `on_orange` hook that panicked, total watermarks, and more maps
/// than `max_map_series` so `map="other"` shows. Returns the maps to keep
/// them alive.
fn busy_registry() -> (Registry, Vec<Governed<u64, u64>>) {
    let registry = Registry::with_config(RegistryConfig {
        window: 2,
        max_map_series: 6,
        total_watermarks: Some(Watermarks::bytes(1 << 30, 1 << 31, 1 << 32).unwrap()),
        ..RegistryConfig::default()
    });
    let mut maps = Vec::new();
    let mut by_bytes: Governed<u64, u64> = Governed::builder("by-bytes")
        .registry(&registry)
        .watermarks(Watermarks::bytes(1 << 20, 1 << 21, 1 << 22).unwrap())
        .build();
    by_bytes.extend((0..1_000).map(|i| (i, i)));
    maps.push(by_bytes);
    let mut red: Governed<u64, u64> = Governed::builder("at-red")
        .registry(&registry)
        .watermarks(Watermarks::entries(10, 20, 30).unwrap())
        .build();
    red.extend((0..40).map(|i| (i, i)));
    assert!(red.try_insert(1_000, 0).is_err(), "red refuses new keys");
    maps.push(red);
    let mut migrating: Governed<u64, u64> =
        Governed::builder("migrating").registry(&registry).build();
    let mut i = 0;
    while migrating.mem_stats().migration.is_none() {
        migrating.insert(i, i);
        i += 1;
    }
    maps.push(migrating);
    let mut panicky: Governed<u64, u64> = Governed::builder("panicky hook")
        .registry(&registry)
        .watermarks(Watermarks::entries(1, 2, 100).unwrap())
        .on_orange(|_| panic!("a hook that panics (on purpose, in a test)"))
        .build();
    panicky.extend((0..3).map(|i| (i, i)));
    assert_eq!(registry.health().on_orange_panics, 1);
    maps.push(panicky);
    let mut leaky: Governed<u64, u64> = Governed::builder("leaky").registry(&registry).build();
    let t0 = Instant::now();
    registry.sample_at(t0);
    leaky.insert(1, 1);
    registry.sample_at(t0 + Duration::from_secs(60));
    maps.push(leaky);
    for n in 0..10 {
        let mut small: Governed<u64, u64> = Governed::builder(format!("small-{n}"))
            .registry(&registry)
            .build();
        small.insert(n, n);
        maps.push(small);
    }
    assert!(registry.maps().iter().any(|m| m.trend.suspected_leak));
    (registry, maps)
}

#[test]
fn promtool_check_metrics_finds_nothing_to_say() {
    let Some(promtool) = require("promtool") else {
        return;
    };
    let (registry, _maps) = busy_registry();
    // A map watermarked on total bytes, whose values own bytes (built big
    // enough to be among the maps with series of their own).
    let mut bodies: Governed<u64, Vec<u8>> = Governed::builder("bodies")
        .registry(&registry)
        .watermarks(Watermarks::total_bytes(64 << 20, 128 << 20, 256 << 20).unwrap())
        .capacity(200_000)
        .build();
    bodies.track_owned_bytes(|_| 0, Vec::capacity);
    bodies.insert(1, vec![0; 4096]);
    // A real scrape, over HTTP.
    let server = http::serve(&registry, "127.0.0.1:0".parse().unwrap()).unwrap();
    let text = ureq::get(&format!("http://{}/metrics", server.addr()))
        .call()
        .unwrap()
        .into_string()
        .unwrap();
    for expected in [
        "gomap_map_owned_bytes{map=\"bodies\"",
        "gomap_map_watermark_total_bytes{",
        "gomap_map_watermark_bytes{",
        "gomap_map_watermark_entries{",
        "gomap_registry_watermark_bytes{",
        "gomap_map_level{map=\"at-red\"",
        "gomap_map_refused_inserts_total{map=\"at-red\"",
        "gomap_map_suspected_leak{map=\"leaky\"",
        "gomap_map_entries{map=\"other\",site=\"\"}",
        "gomap_hook_panics_total{hook=\"on_orange\"} 1",
        "# HELP gomap_map_migration_remaining_buckets ",
    ] {
        assert!(text.contains(expected), "no {expected} in:\n{text}");
    }
    let mut child = Command::new(promtool)
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("starting promtool");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let said: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .chain(String::from_utf8_lossy(&out.stderr).lines())
        .filter(|l| !l.trim().is_empty())
        .map(str::to_string)
        .collect();
    assert!(
        out.status.success() && said.is_empty(),
        "promtool check metrics ({}) said:\n{}\non:\n{text}",
        out.status,
        said.join("\n")
    );
}

/// What CI runs on `deploy/prometheus/`, from the repository root.
#[test]
fn the_deploy_files_pass_promtool() {
    let Some(promtool) = require("promtool") else {
        return;
    };
    let root = deploy_dir().join("../..");
    for args in [
        &["check", "config", "deploy/prometheus/prometheus.yml"][..],
        &["check", "rules", "deploy/prometheus/gomap-alerts.yml"],
        &["test", "rules", "deploy/prometheus/gomap-alerts.test.yml"],
    ] {
        let out = Command::new(&promtool)
            .args(args)
            .current_dir(&root)
            .output()
            .expect("running promtool");
        assert!(
            out.status.success(),
            "promtool {args:?}:\n{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

/// Every alert has a `summary`, a `description` and a `runbook_url` that
/// names a page in `docs/runbooks/` (relative to the repository root), and
/// the runbooks' index lists it. Needs no Prometheus.
#[test]
fn every_alert_has_its_annotations_and_runbook() {
    let root = deploy_dir().join("../..");
    let rules = std::fs::read_to_string(root.join("deploy/prometheus/gomap-alerts.yml")).unwrap();
    let index = std::fs::read_to_string(root.join("docs/runbooks/README.md")).unwrap();
    let mut alerts = 0;
    for rule in rules.split("- alert: ").skip(1) {
        alerts += 1;
        let name = rule.split_whitespace().next().unwrap();
        for key in ["summary: ", "description: ", "runbook_url: "] {
            assert!(rule.contains(key), "{name} has no {key}");
        }
        let url = rule
            .lines()
            .find_map(|l| l.trim().strip_prefix("runbook_url: "))
            .unwrap()
            .trim_matches('"');
        assert!(
            url.starts_with("docs/runbooks/") && url.ends_with(".md"),
            "{name}: {url}"
        );
        let page = std::fs::read_to_string(root.join(url))
            .unwrap_or_else(|e| panic!("{name}: runbook {url}: {e}"));
        assert!(
            page.starts_with(&format!("# {name}\n")),
            "{url} is not {name}'s page"
        );
        let file = url.trim_start_matches("docs/runbooks/");
        assert!(
            index.contains(&format!("`{name}`")) && index.contains(&format!("({file})")),
            "the runbook index lacks {name}"
        );
    }
    assert_eq!(alerts, 10);
}

/// Kills Prometheus and removes its directory however the test ends.
struct Running {
    child: Child,
    dir: PathBuf,
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// `data.result` of a Prometheus API answer, polled until `ready` accepts
/// it or the deadline passes.
fn poll(
    url: &str,
    deadline: Instant,
    log: &Path,
    ready: impl Fn(&serde_json::Value) -> bool,
) -> serde_json::Value {
    loop {
        if let Ok(response) = ureq::get(url).call() {
            if let Ok(json) = response.into_json::<serde_json::Value>() {
                if ready(&json["data"]) {
                    return json["data"].clone();
                }
            }
        }
        if Instant::now() > deadline {
            let log = std::fs::read_to_string(log).unwrap_or_default();
            panic!("Prometheus never answered {url} as expected; its log:\n{log}");
        }
        std::thread::sleep(Duration::from_millis(250));
    }
}

#[test]
fn a_real_prometheus_scrapes_the_maps_and_loads_the_alert_rules() {
    let Some(prometheus) = require("prometheus") else {
        return;
    };

    let registry = Registry::new();
    let mut orders: Governed<u64, u64> = Governed::builder("orders")
        .registry(&registry)
        .watermarks(Watermarks::entries(10, 20, 30).unwrap())
        .build();
    orders.extend((0..40).map(|i| (i, i)));
    let server = http::serve(&registry, "127.0.0.1:0".parse().unwrap()).unwrap();

    let dir = std::env::temp_dir().join(format!("gomap-prometheus-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let rules = deploy_dir().join("gomap-alerts.yml");
    let config = dir.join("prometheus.yml");
    std::fs::write(
        &config,
        format!(
            "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n\
             rule_files:\n  - {}\n\
             scrape_configs:\n  - job_name: gomap\n    static_configs:\n      - targets: ['{}']\n",
            rules.display(),
            server.addr()
        ),
    )
    .unwrap();
    let port = free_port();
    let log = dir.join("prometheus.log");
    let child = Command::new(&prometheus)
        .arg(format!("--config.file={}", config.display()))
        .arg(format!(
            "--storage.tsdb.path={}",
            dir.join("data").display()
        ))
        .arg(format!("--web.listen-address=127.0.0.1:{port}"))
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .expect("starting prometheus");
    let _running = Running { child, dir };
    let api = format!("http://127.0.0.1:{port}/api/v1");
    let deadline = Instant::now() + Duration::from_secs(120);

    // The map's series, as Prometheus scraped them.
    let result = poll(
        &format!("{api}/query?query=gomap_map_entries%7Bmap%3D%22orders%22%7D"),
        deadline,
        &log,
        |data| data["result"].as_array().is_some_and(|r| !r.is_empty()),
    );
    let series = &result["result"][0];
    assert_eq!(series["metric"]["job"], "gomap");
    assert!(series["metric"]["site"]
        .as_str()
        .unwrap()
        .contains("prometheus.rs:"));
    assert_eq!(series["value"][1], "40");

    // The rules loaded, and the map at red is pending or firing in them.
    let rules = poll(&format!("{api}/rules"), deadline, &log, |data| {
        data["groups"].as_array().is_some_and(|groups| {
            groups.iter().any(|g| {
                g["name"] == "gomap-maps"
                    && g["rules"].as_array().unwrap().iter().any(|r| {
                        r["name"] == "GomapMapRed"
                            && r["alerts"].as_array().is_some_and(|a| !a.is_empty())
                    })
            })
        })
    });
    let groups = rules["groups"].as_array().unwrap();
    assert!(groups.iter().all(|g| g["rules"]
        .as_array()
        .unwrap()
        .iter()
        .all(|r| r["health"] == "ok")));
    let red = groups
        .iter()
        .flat_map(|g| g["rules"].as_array().unwrap())
        .find(|r| r["name"] == "GomapMapRed")
        .unwrap();
    assert_eq!(red["alerts"][0]["labels"]["map"], "orders");
}
