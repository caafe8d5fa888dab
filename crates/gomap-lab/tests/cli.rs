//! The command line: bad flags get one line and exit code 2; the
//! measuring commands run and print what they promise.

use std::process::{Command, Output};

mod common;

fn lab(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_gomap-lab"))
        .args(args)
        .output()
        .expect("running gomap-lab")
}

/// The lab's JSON output for `args`, which must succeed.
fn lab_json(args: &[&str]) -> serde_json::Value {
    let out = lab(args);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

fn refused(args: &[&str], mentions: &str) {
    let out = lab(args);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
    assert_eq!(
        stderr.trim_end().lines().count(),
        1,
        "{args:?}: one line, got:\n{stderr}"
    );
    assert!(stderr.starts_with("error:"), "{stderr}");
    assert!(stderr.contains(mentions), "{args:?}: {stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}

#[test]
fn bad_flags_get_one_line_and_exit_code_2() {
    refused(&["clear", "--n", "10"], "10");
    refused(&["clear", "--n", "999999999"], "999999999");
    refused(&["clear", "--n", "ten"], "ten");
    refused(
        &["grow", "--size", "small", "--n", "5000"],
        "cannot be used with",
    );
    refused(&["bench", "--size", "huge"], "huge");
    refused(&["leak", "--case", "everything"], "everything");
    refused(&["clear", "--format", "yaml"], "yaml");
    refused(&["serve", "--duration", "0"], "0");
    refused(&["serve", "--port", "70000"], "70000");
    refused(&["frobnicate"], "frobnicate");
}

#[test]
fn every_command_says_what_it_measures() {
    for (command, says) in [
        ("report", "index.html"),
        ("clear", "five ways"),
        ("leak", "production cases"),
        ("grow", "latency"),
        ("bench", "Throughput"),
        ("serve", "/metrics"),
    ] {
        let out = lab(&[command, "--help"]);
        assert_eq!(out.status.code(), Some(0));
        let help = String::from_utf8_lossy(&out.stdout);
        assert!(help.contains(says), "{command} --help: {help}");
    }
}

#[test]
fn clear_prints_json_with_every_map_and_method() {
    let json = lab_json(&["clear", "--n", "2000", "--format", "json"]);
    let rows = json["rows"].as_array().unwrap();
    assert_eq!(rows.len(), 18);
    for row in rows {
        let full = row["bytes_before"].as_u64().unwrap();
        assert!(full > 0, "{row}");
        if let Some(agrees) = row["mem_stats_agrees"].as_bool() {
            assert!(
                agrees,
                "mem_stats disagrees with the counting allocator: {row}"
            );
        }
    }
    let find = |map: &str, method: &str| {
        rows.iter()
            .find(|r| r["map"] == map && r["method"].as_str().unwrap().starts_with(method))
            .unwrap_or_else(|| panic!("{map} / {method}"))
    };
    // The claims, on this run: a loop of removes keeps the peak in
    // std (and Go, and gomap Never); gomap Auto gives it back; reset frees.
    let std_loop = find("std HashMap", "remove every key");
    assert_eq!(std_loop["bytes_after"], std_loop["bytes_before"]);
    let auto_loop = find("gomap (Auto)", "remove every key");
    assert!(
        auto_loop["bytes_after"].as_u64().unwrap() * 4
            < auto_loop["bytes_before"].as_u64().unwrap()
    );
    assert_eq!(find("gomap (Never)", "reset()")["bytes_after"], 0);
}

#[test]
fn leak_and_grow_and_bench_run() {
    let json = lab_json(&[
        "leak",
        "--case",
        "periodic-burst",
        "--n",
        "20000",
        "--format",
        "json",
    ]);
    let case = &json["cases"][0];
    let end = |i: usize| {
        case["series"][i]["points"]
            .as_array()
            .unwrap()
            .last()
            .unwrap()["bytes"]
            .as_u64()
            .unwrap()
    };
    let peak = |i: usize| {
        case["series"][i]["points"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["bytes"].as_u64().unwrap())
            .max()
            .unwrap()
    };
    assert_eq!(case["series"][0]["name"], "std HashMap");
    assert!(end(0) * 2 > peak(0), "std keeps its peak");
    assert!(end(1) * 2 > peak(1), "gomap Never keeps its peak");
    assert!(end(2) * 4 < peak(2), "gomap Auto gives it back");

    let out = lab(&["grow", "--n", "5000", "--format", "markdown"]);
    assert!(out.status.success());
    let md = String::from_utf8_lossy(&out.stdout);
    assert!(
        md.contains("| gomap |") && md.contains("| std HashMap |") && md.contains("| hashbrown |"),
        "{md}"
    );

    let json = lab_json(&["bench", "--n", "2000", "--format", "json"]);
    let hit = json["ops"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["op"] == "lookup_hit")
        .unwrap();
    for map in ["gomap", "std", "hashbrown"] {
        assert!(hit["ns"][map].as_f64().unwrap() > 0.0, "{hit}");
    }
    assert!(json["rounds"].as_u64().unwrap() >= 5);
    // Without Go, Go's claims are not measured, and say why.
    if json["go"]["status"] == "not_run" {
        let claim = claim(&json, "speed-vs-go");
        assert_eq!(claim["verdict"], "not_measured");
        assert!(!claim["reason"].as_str().unwrap().is_empty());
    }
}

/// The claim `id` of a command's JSON.
fn claim<'a>(json: &'a serde_json::Value, id: &str) -> &'a serde_json::Value {
    json["claims"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == id)
        .unwrap_or_else(|| panic!("no claim {id} in {json}"))
}

#[test]
fn json_names_its_tool_schema_machine_and_claims() {
    let json = lab_json(&["clear", "--n", "2000", "--format", "json"]);
    assert_eq!(json["tool"], "gomap-lab");
    assert_eq!(json["version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(json["schema_version"], 2);
    assert!(json["machine"]["cores"].as_u64().unwrap() >= 1);
    let claims = json["claims"].as_array().unwrap();
    assert_eq!(claims.len(), 6, "{claims:?}");
    let mut counted = [0u64; 3];
    for c in claims {
        let i = ["reproduced", "not_reproduced", "not_measured"]
            .iter()
            .position(|v| c["verdict"] == *v)
            .unwrap_or_else(|| panic!("a verdict outside the three: {c}"));
        counted[i] += 1;
        assert!(!c["statement"].as_str().unwrap().is_empty());
        if i > 0 {
            assert!(!c["reason"].as_str().unwrap().is_empty(), "{c}");
        }
    }
    let summary = &json["summary"];
    assert_eq!(
        [
            summary["reproduced"].as_u64().unwrap(),
            summary["not_reproduced"].as_u64().unwrap(),
            summary["not_measured"].as_u64().unwrap()
        ],
        counted
    );
    // Exactness of mem_stats is not a matter of timing: it holds on every run.
    assert_eq!(claim(&json, "mem-stats-exact")["verdict"], "reproduced");
    assert_eq!(claim(&json, "empty-arena")["verdict"], "reproduced");
}

#[test]
fn every_claim_id_is_explained_in_docs_claims_md() {
    let doc = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/claims.md"))
        .expect("docs/claims.md");
    let mut ids = Vec::new();
    for args in [
        &["clear", "--n", "1000"][..],
        &["leak", "--n", "1000"],
        &["grow", "--n", "1000"],
        &["bench", "--n", "1000"],
    ] {
        let mut args = args.to_vec();
        args.extend(["--format", "json"]);
        let json = lab_json(&args);
        for c in json["claims"].as_array().unwrap() {
            ids.push(c["id"].as_str().unwrap().to_string());
        }
    }
    ids.push("go-heap-profile".into());
    for id in &ids {
        assert!(
            doc.contains(&format!("`{id}`")),
            "docs/claims.md does not explain {id}"
        );
    }
    assert_eq!(ids.len(), 15);
}

#[test]
fn the_half_clear_is_caught_on_every_cue_and_a_whole_clear_never() {
    // The default size, as `report` runs it.
    let json = lab_json(&["leak", "--case", "rwlock-clear", "--format", "json"]);
    let seen = &json["cases"][0]["observations"];
    let (piecemeal, whole) = (&seen[0], &seen[1]);
    assert_eq!(
        piecemeal["cued"], piecemeal["rounds"],
        "every cue answered: {piecemeal}"
    );
    assert_eq!(piecemeal["cues_missed"], 0, "{piecemeal}");
    assert_eq!(
        piecemeal["cued_half_cleared"], piecemeal["cued"],
        "every look between two shards sees a half-cleared map: {piecemeal}"
    );
    assert_eq!(whole["cued_half_cleared"], 0, "{whole}");
    assert_eq!(whole["half_cleared"], 0, "{whole}");
    assert!(whole["snapshots"].as_u64().unwrap() > 0);
    assert_eq!(claim(&json, "case-half-clear")["verdict"], "reproduced");
}

#[test]
fn an_unusable_go_is_refused_before_any_work() {
    for go in ["/nonexistent/go", "/bin/true"] {
        let out = lab(&["bench", "--n", "5000000", "--go", go]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{go}: {stderr}");
        assert_eq!(stderr.trim_end().lines().count(), 1, "{stderr}");
        assert!(stderr.starts_with("error: --go"), "{stderr}");
        assert!(out.stdout.is_empty(), "no work done, nothing printed");
    }
    let out = lab(&[
        "report",
        "--n",
        "5000",
        "--go",
        "/nonexistent/go",
        "--out",
        "/tmp/never",
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(!std::path::Path::new("/tmp/never").exists());
}

#[test]
fn a_closed_pipe_ends_the_output_quietly() {
    use std::process::Stdio;
    let mut child = Command::new(env!("CARGO_BIN_EXE_gomap-lab"))
        .args(["clear", "--n", "20000"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // The reader goes away before a byte is written.
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(out.status.success(), "{:?}: {stderr}", out.status);
}

#[test]
fn help_shows_the_defaults() {
    let out = lab(&["report", "--help"]);
    let help = String::from_utf8_lossy(&out.stdout);
    for default in [
        "[default: medium]",
        "[default: report]",
        "[default: text]",
        "docs/claims.md",
    ] {
        assert!(
            help.contains(default),
            "report --help lacks {default}: {help}"
        );
    }
}

#[test]
fn leak_string_cache_reports_what_the_allocator_counts() {
    let json = lab_json(&[
        "leak",
        "--case",
        "string-cache",
        "--n",
        "20000",
        "--format",
        "json",
    ]);
    let cases = json["cases"].as_array().unwrap();
    assert_eq!(cases.len(), 1);
    let case = &cases[0];
    assert_eq!(case["case"], "string-cache");

    // What gomap reported for the leaky map is what the allocator held.
    let reported = case["reported_bytes"].as_u64().unwrap();
    let counted = case["counted_bytes"].as_u64().unwrap();
    assert!(reported > 1 << 20, "{reported}");
    assert_eq!(reported, counted, "reported_bytes against counted_bytes");

    // The leaky map climbs yellow, orange, red in that order, at the
    // minutes its watermarks were set for, and is flagged.
    let flags = case["flags"].as_array().unwrap();
    let of = |map: &str| -> Vec<(u64, String)> {
        flags
            .iter()
            .filter(|f| f["map"] == map)
            .map(|f| {
                (
                    f["tick"].as_u64().unwrap(),
                    f["what"].as_str().unwrap().to_string(),
                )
            })
            .collect()
    };
    let leaky = of("string cache (leaky)");
    let levels: Vec<(u64, &str)> = leaky
        .iter()
        .filter(|(_, what)| what.starts_with("level"))
        .map(|(tick, what)| (*tick, what.split(' ').nth(3).unwrap()))
        .collect();
    assert_eq!(
        levels,
        [(5, "yellow"), (10, "orange"), (20, "red")],
        "{leaky:?}"
    );
    assert!(
        leaky
            .iter()
            .all(|(_, what)| !what.starts_with("level") || what.ends_with("total bytes")),
        "{leaky:?}"
    );
    assert!(
        leaky
            .iter()
            .any(|(_, what)| what.starts_with("suspected_leak")),
        "{leaky:?}"
    );
    // The fixed map never leaves green and is never flagged.
    assert_eq!(of("string cache (fixed)"), [], "the fixed map was flagged");

    // Table bytes alone stay a small part of what the leaky map holds.
    let series = case["series"].as_array().unwrap();
    let end = |name: &str| {
        series
            .iter()
            .find(|s| s["name"].as_str().unwrap().starts_with(name))
            .unwrap_or_else(|| panic!("no series {name}"))["points"]
            .as_array()
            .unwrap()
            .last()
            .unwrap()["bytes"]
            .as_u64()
            .unwrap()
    };
    let total = end("string cache (leaky): total");
    let table = end("string cache (leaky): table");
    assert_eq!(total, reported);
    assert!(table * 10 < total, "table {table} of {total}");
    assert!(end("string cache (fixed): total") < 64 << 10);
}

#[test]
fn serve_answers_metrics_and_stops_after_its_duration() {
    let port = common::free_port();
    let mut child = Command::new(env!("CARGO_BIN_EXE_gomap-lab"))
        .args(["serve", "--port", &port.to_string(), "--duration", "4"])
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let url = format!("http://127.0.0.1:{port}/metrics");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    let body = loop {
        if let Ok(r) = ureq::get(&url).call() {
            let body = r.into_string().unwrap();
            if body.contains("request-contexts (leaks)") {
                break body;
            }
        }
        assert!(
            std::time::Instant::now() < deadline,
            "serve never answered {url}"
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    };
    assert!(
        body.contains("gomap_map_entries{map=\"sessions\""),
        "{body}"
    );
    let maps: serde_json::Value = ureq::get(&format!("http://127.0.0.1:{port}/debug/maps"))
        .call()
        .unwrap()
        .into_json()
        .unwrap();
    assert_eq!(maps["totals"]["maps"], 3);
    assert!(
        child.wait().unwrap().success(),
        "serve stops by itself after --duration"
    );
}
