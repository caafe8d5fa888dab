//! `report` writes its three files, and the page renders in a real
//! headless Chromium: every chart drawn (non-blank), every referenced SVG
//! file present.
//!
//! Needs `chromium` (Debian's package; `.ci/run` installs it). Without it
//! the browser half prints why and passes — unless `GOMAP_REQUIRE_CHROMIUM`
//! is set, as CI sets it.

use std::path::{Path, PathBuf};
use std::process::Command;

const CHARTS: [&str; 9] = [
    "clear-emptied",
    "clear-refilled",
    "leak-http-context",
    "leak-periodic-burst",
    "leak-rwlock-clear",
    "leak-string-cache",
    "grow-latency",
    "grow-timeline",
    "bench-ratios",
];

fn chromium() -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .flat_map(|dir| [dir.join("chromium"), dir.join("chromium-browser")])
        .find(|p| p.is_file())
}

fn headless(browser: &Path, profile: &Path) -> Command {
    let mut cmd = Command::new(browser);
    cmd.args([
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        // Containers often give /dev/shm only 64 MiB.
        "--disable-dev-shm-usage",
        "--hide-scrollbars",
    ])
    .arg(format!("--user-data-dir={}", profile.display()));
    cmd
}

#[test]
fn report_writes_a_page_whose_charts_render() {
    let out = std::env::temp_dir().join(format!("gomap-lab-report-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&out);
    let status = Command::new(env!("CARGO_BIN_EXE_gomap-lab"))
        .args(["report", "--n", "3000", "--out"])
        .arg(&out)
        .status()
        .unwrap();
    assert!(status.success());

    // The files, and what they hold.
    let results: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("results.json")).unwrap()).unwrap();
    assert_eq!(results["n"], 3000);
    for part in ["clear", "leak", "grow", "bench"] {
        assert!(results[part].is_object(), "results.json lacks {part}");
    }
    let md = std::fs::read_to_string(out.join("report.md")).unwrap();
    let page = std::fs::read_to_string(out.join("index.html")).unwrap();
    // A verdict per claim, in all three files, and the count at the top.
    let claims = results["claims"].as_array().unwrap();
    assert_eq!(claims.len(), 15);
    let reproduced = results["summary"]["reproduced"].as_u64().unwrap();
    let summary = format!("{reproduced} of 15 claims reproduced");
    assert!(
        page.contains(&summary) && md.contains(&summary),
        "{summary}"
    );
    for c in claims {
        if c["verdict"] != "reproduced" {
            assert!(
                !c["reason"].as_str().unwrap_or_default().is_empty(),
                "a claim not reproduced says why: {c}"
            );
        }
        let id = c["id"].as_str().unwrap();
        assert!(
            page.contains(id) && md.contains(id),
            "{id} missing from the page or report.md"
        );
    }
    // Every table of report.md is on the page too.
    let md_tables = md.lines().filter(|l| l.starts_with("|---")).count();
    assert!(md_tables >= 8, "{md_tables} tables in report.md");
    assert_eq!(
        page.matches("<table>").count(),
        md_tables,
        "tables on the page"
    );
    // Nothing of an earlier attempt is left beside it.
    assert!(!out
        .with_file_name(format!(
            "{}.partial",
            out.file_name().unwrap().to_string_lossy()
        ))
        .exists());
    // The Go section's chart is there whenever a Go toolchain is (CI has one).
    let go_chart = out.join("charts/go-pprof-sites.svg").is_file();
    if std::env::var_os("GOMAP_REQUIRE_GO").is_some() {
        assert!(
            go_chart,
            "GOMAP_REQUIRE_GO is set but the report has no Go section chart"
        );
    }
    let charts: Vec<&str> = CHARTS
        .iter()
        .copied()
        .chain(go_chart.then_some("go-pprof-sites"))
        .collect();
    for &chart in &charts {
        let file = out.join("charts").join(format!("{chart}.svg"));
        let svg =
            std::fs::read_to_string(&file).unwrap_or_else(|_| panic!("{} missing", file.display()));
        assert!(
            svg.contains("<svg") && svg.contains("<rect") || svg.contains("<polyline"),
            "{chart} is empty"
        );
        assert!(!svg.contains("chart failed"), "{chart}: {svg}");
        assert!(
            page.contains(&format!("data-chart=\"{chart}\"")),
            "the page lacks {chart}"
        );
        assert!(
            page.contains(&format!("href=\"charts/{chart}.svg\"")),
            "the page does not link {chart}"
        );
        assert!(
            md.contains(&format!("charts/{chart}.svg")),
            "report.md lacks {chart}"
        );
    }
    // Every SVG the page refers to exists.
    for reference in page
        .split("href=\"")
        .skip(1)
        .filter_map(|s| s.split('"').next())
    {
        if reference.ends_with(".svg") {
            assert!(
                out.join(reference).is_file(),
                "{reference} referenced but missing"
            );
        }
    }

    let Some(browser) = chromium() else {
        if std::env::var_os("GOMAP_REQUIRE_CHROMIUM").is_some() {
            panic!("GOMAP_REQUIRE_CHROMIUM is set but no chromium is on PATH");
        }
        eprintln!("skipped the browser half: no chromium on PATH (apt-get install chromium)");
        return;
    };
    let profile = out.join("chromium-profile");
    let url = format!("file://{}", out.join("index.html").display());

    // The DOM after the page loaded: one rendered <svg> per chart.
    let dom = headless(&browser, &profile)
        .arg("--dump-dom")
        .arg(&url)
        .output()
        .unwrap();
    assert!(
        dom.status.success(),
        "{}",
        String::from_utf8_lossy(&dom.stderr)
    );
    let dom = String::from_utf8_lossy(&dom.stdout);
    assert_eq!(
        dom.matches("<svg").count(),
        charts.len(),
        "inline charts in the DOM"
    );

    // A screenshot, decoded: not blank, and the charts' colours are there.
    let shot = out.join("screenshot.png");
    let status = headless(&browser, &profile)
        .arg(format!("--screenshot={}", shot.display()))
        .arg("--window-size=1000,6000")
        .arg(&url)
        .output()
        .unwrap();
    assert!(
        status.status.success(),
        "{}",
        String::from_utf8_lossy(&status.stderr)
    );
    let decoder = png::Decoder::new(std::io::BufReader::new(std::fs::File::open(&shot).unwrap()));
    let mut reader = decoder.read_info().unwrap();
    let mut buf = vec![0; reader.output_buffer_size()];
    let info = reader.next_frame(&mut buf).unwrap();
    let channels = info.line_size / info.width as usize;
    let pixels: Vec<&[u8]> = buf[..info.buffer_size()].chunks(channels).collect();
    let inked = pixels.iter().filter(|p| p[..3] != [255, 255, 255]).count();
    assert!(
        inked * 50 > pixels.len(),
        "the page is (nearly) blank: {inked} of {} pixels",
        pixels.len()
    );
    // The first three series colours of every chart (blue, orange, green).
    for rgb in [[31u8, 119, 180], [255, 127, 14], [44, 160, 44]] {
        let n = pixels.iter().filter(|p| p[..3] == rgb).count();
        assert!(n > 500, "colour {rgb:?} drawn on only {n} pixels");
    }
    std::fs::copy(
        &shot,
        std::env::temp_dir().join("gomap-lab-report-screenshot.png"),
    )
    .ok();
    let _ = std::fs::remove_dir_all(&out);
}

#[test]
fn a_report_that_dies_while_writing_leaves_the_earlier_one_alone() {
    let out = std::env::temp_dir().join(format!("gomap-lab-killed-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&out);
    std::fs::create_dir_all(&out).unwrap();
    std::fs::write(out.join("index.html"), "the earlier report").unwrap();
    // A file size limit of 16 KiB: the first big chart or page exceeds it,
    // as a full disk would stop the write.
    let status = Command::new("bash")
        .arg("-c")
        .arg(format!(
            "ulimit -f 16; exec {} report --n 2000 --out {}",
            env!("CARGO_BIN_EXE_gomap-lab"),
            out.display()
        ))
        .stdout(std::process::Stdio::null())
        .status()
        .unwrap();
    assert!(!status.success(), "the write was meant to fail");
    assert_eq!(
        std::fs::read_to_string(out.join("index.html")).unwrap(),
        "the earlier report"
    );
    assert_eq!(
        std::fs::read_dir(&out).unwrap().count(),
        1,
        "nothing new in the report directory"
    );
    let _ = std::fs::remove_dir_all(&out);
    let _ = std::fs::remove_dir_all(out.with_file_name(format!(
        "{}.partial",
        out.file_name().unwrap().to_string_lossy()
    )));
}
