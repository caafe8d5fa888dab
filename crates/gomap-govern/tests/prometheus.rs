//! End to end with a real Prometheus: it scrapes this process's `/metrics`,
//! loads `deploy/prometheus/gomap-alerts.yml`, and the gomap series and an
//! alert on a map at red show up in its HTTP API.
//!
//! Needs the `prometheus` binary (Debian's package; `.ci/run` installs it).
//! Without it the test prints why and passes — unless
//! `GOMAP_REQUIRE_PROMETHEUS` is set, as CI sets it, where it fails.
#![cfg(feature = "http")]

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use gomap_govern::{http, Governed, Registry, Watermarks};

fn find_prometheus() -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join("prometheus"))
        .find(|p| p.is_file())
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
    let Some(prometheus) = find_prometheus() else {
        if std::env::var_os("GOMAP_REQUIRE_PROMETHEUS").is_some() {
            panic!("GOMAP_REQUIRE_PROMETHEUS is set but no prometheus binary is on PATH");
        }
        eprintln!("skipped: no `prometheus` on PATH (apt-get install prometheus)");
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
    let rules =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../deploy/prometheus/gomap-alerts.yml");
    let config = dir.join("prometheus.yml");
    std::fs::write(
        &config,
        format!(
            "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n\
             rule_files:\n  - {}\n\
             scrape_configs:\n  - job_name: gomap\n    static_configs:\n      - targets: ['{}']\n",
            rules.canonicalize().unwrap().display(),
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
        &format!("{api}/query?query=gomap_map_len%7Bmap%3D%22orders%22%7D"),
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
