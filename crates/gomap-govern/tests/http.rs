//! `/metrics` and `/debug/maps` over real HTTP (feature `http`).
#![cfg(feature = "http")]

use gomap_govern::{http, Governed, Registry, Watermarks};

fn get(url: &str) -> (u16, String, String) {
    match ureq::get(url).call() {
        Ok(r) => (
            r.status(),
            r.content_type().to_string(),
            r.into_string().unwrap(),
        ),
        Err(ureq::Error::Status(code, r)) => {
            (code, r.content_type().to_string(), r.into_string().unwrap())
        }
        Err(e) => panic!("GET {url}: {e}"),
    }
}

#[test]
fn metrics_and_debug_maps_over_http() {
    let registry = Registry::new();
    let marks = Watermarks::entries(2, 4, 8).unwrap();
    let builder = Governed::builder("sessions").registry(&registry);
    let line = line!() + 1;
    let mut sessions: Governed<u64, u64> = builder.watermarks(marks).build();
    sessions.extend([(1, 1), (2, 2), (3, 3)]);
    let server = http::serve(&registry, "127.0.0.1:0".parse().unwrap()).unwrap();
    let base = format!("http://{}", server.addr());

    let (status, content_type, body) = get(&format!("{base}/metrics"));
    assert_eq!((status, content_type.as_str()), (200, "text/plain"));
    let site = format!("{}:{line}:", file!());
    let len_line = body
        .lines()
        .find(|l| l.starts_with("gomap_map_len{") && l.contains("map=\"sessions\""))
        .unwrap_or_else(|| panic!("no gomap_map_len for sessions in:\n{body}"));
    assert!(len_line.contains(&format!("site=\"{site}")), "{len_line}");
    assert!(len_line.ends_with(" 3"), "{len_line}");
    assert!(body.contains("gomap_map_level{"), "{body}");
    assert!(body.contains("gomap_total_len 3"), "{body}");
    assert!(
        body.lines().any(|l| l.starts_with("gomap_map_watermark{")
            && l.contains("level=\"red\"")
            && l.contains("measure=\"entries\"")
            && l.ends_with(" 8")),
        "{body}"
    );

    let (status, content_type, body) = get(&format!("{base}/debug/maps"));
    assert_eq!((status, content_type.as_str()), (200, "application/json"));
    let json: serde_json::Value = serde_json::from_str(&body).unwrap();
    let map = &json["maps"][0];
    assert_eq!(map["name"], "sessions");
    assert_eq!(map["level"], "yellow");
    assert_eq!(map["figures"]["len"], 3);
    assert!(map["site"].as_str().unwrap().starts_with(&site));
    assert_eq!(json["totals"]["maps"], 1);
    assert_eq!(json["events"][0]["to"], "yellow");
    assert_eq!(json["events"][0]["map"], "sessions");

    assert_eq!(get(&format!("{base}/nope")).0, 404);

    // A dropped map's series disappear with it.
    drop(sessions);
    let (_, _, body) = get(&format!("{base}/metrics"));
    assert!(!body.contains("map=\"sessions\""), "{body}");
    assert!(body.contains("gomap_total_maps 0"), "{body}");
}

#[test]
fn only_loopback_addresses_are_served() {
    let err = http::serve(&Registry::new(), "0.0.0.0:0".parse().unwrap())
        .err()
        .expect("refused");
    assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput);
    assert!(err.to_string().contains("loopback"), "{err}");
}
