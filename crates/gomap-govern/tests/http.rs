//! `/metrics` and `/debug/maps` over real HTTP (feature `http`): what each
//! route answers. Hostile clients are in `http_hostile.rs`.
#![cfg(feature = "http")]

use std::time::Duration;

use gomap_govern::{http, Governed, Registry, Watermarks};

fn agent() -> ureq::Agent {
    ureq::AgentBuilder::new()
        .timeout(Duration::from_secs(10))
        .build()
}

/// Status, content type, `Allow` header and body of `method url`.
fn call(method: &str, url: &str) -> (u16, String, Option<String>, String) {
    let response = match agent().request(method, url).call() {
        Ok(r) => r,
        Err(ureq::Error::Status(_, r)) => r,
        Err(e) => panic!("{method} {url}: {e}"),
    };
    let status = response.status();
    let content_type = response.header("content-type").unwrap_or("").to_string();
    let allow = response.header("allow").map(str::to_string);
    (status, content_type, allow, response.into_string().unwrap())
}

#[test]
fn metrics_and_debug_maps_over_http() {
    let registry = Registry::new();
    let mut sessions: Governed<u64, u64> = Governed::builder("sessions")
        .registry(&registry)
        .watermarks(Watermarks::entries(2, 4, 8).unwrap())
        .build();
    sessions.extend([(1, 1), (2, 2), (3, 3)]);
    let server = http::serve(&registry, "127.0.0.1:0".parse().unwrap()).unwrap();
    let base = format!("http://{}", server.addr());

    let (status, content_type, _, body) = call("GET", &format!("{base}/metrics"));
    assert_eq!(status, 200);
    assert_eq!(content_type, "text/plain; version=0.0.4; charset=utf-8");
    assert!(body.contains("map=\"sessions\""), "{body}");
    assert!(body.lines().any(|l| l.starts_with("# TYPE ")), "{body}");
    // Query strings are ignored.
    let (status, _, _, with_query) = call("GET", &format!("{base}/metrics?name[]=x&y"));
    assert_eq!(status, 200);
    assert!(with_query.contains("map=\"sessions\""), "{with_query}");

    let (status, content_type, _, body) = call("GET", &format!("{base}/debug/maps"));
    assert_eq!((status, content_type.as_str()), (200, "application/json"));
    let json: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert!(json["totals"].is_object(), "{body}");
    assert!(json["events"].is_array(), "{body}");
    assert_eq!(json["maps"].as_array().map(Vec::len), Some(1), "{body}");
    assert!(body.contains("\"sessions\""), "{body}");

    // HEAD: the GET's headers, no body.
    let (status, content_type, _, body) = call("HEAD", &format!("{base}/metrics"));
    assert_eq!(
        (status, content_type.as_str(), body.as_str()),
        (200, "text/plain; version=0.0.4; charset=utf-8", "")
    );
    let (status, content_type, _, body) = call("HEAD", &format!("{base}/debug/maps"));
    assert_eq!(
        (status, content_type.as_str(), body.as_str()),
        (200, "application/json", "")
    );

    let (status, _, _, body) = call("GET", &format!("{base}/nope"));
    assert_eq!(status, 404);
    assert!(
        body.contains("/metrics") && body.contains("/debug/maps"),
        "{body}"
    );
    for method in ["POST", "PUT", "DELETE"] {
        let (status, _, allow, _) = call(method, &format!("{base}/metrics"));
        assert_eq!(
            (status, allow.as_deref()),
            (405, Some("GET, HEAD")),
            "{method}"
        );
    }

    // The standalone renderers give what the server serves.
    assert!(http::render_metrics(&registry).contains("map=\"sessions\""));
    let json: serde_json::Value =
        serde_json::from_str(&http::render_debug_json(&registry)).unwrap();
    assert_eq!(json["maps"].as_array().map(Vec::len), Some(1));

    // A dropped map's series disappear with it.
    drop(sessions);
    let (status, _, _, body) = call("GET", &format!("{base}/metrics"));
    assert_eq!(status, 200);
    assert!(!body.contains("map=\"sessions\""), "{body}");
    let (_, _, _, body) = call("GET", &format!("{base}/debug/maps"));
    let json: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(json["maps"].as_array().map(Vec::len), Some(0), "{body}");
}

#[test]
fn only_loopback_addresses_are_served() {
    let err = http::serve(&Registry::new(), "0.0.0.0:0".parse().unwrap()).expect_err("refused");
    assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput);
    assert!(err.to_string().contains("loopback"), "{err}");
}

#[test]
fn a_server_drops_while_idle_and_its_port_is_free_again() {
    let server = http::serve(&Registry::new(), "127.0.0.1:0".parse().unwrap()).unwrap();
    let addr = server.addr();
    assert!(format!("{server:?}").contains(&addr.to_string()));
    drop(server);
    // Nothing listens there any more.
    assert!(std::net::TcpStream::connect(addr).is_err());
}

/// Binding a port already in use from inside an async runtime (say, a
/// `#[tokio::main]` service) is an error, not a panic.
#[test]
fn a_port_in_use_is_an_error_even_inside_a_runtime() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let result = runtime.block_on(async { http::serve(&Registry::new(), addr).map(drop) });
    assert!(result.is_err());
}
