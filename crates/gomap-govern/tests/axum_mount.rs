//! `examples/mount_on_axum.rs`: its router, served by axum on 127.0.0.1,
//! answers `/metrics` and `/debug/maps` (feature `http`).
#![cfg(feature = "http")]

#[path = "../examples/mount_on_axum.rs"]
mod example;

use std::time::Duration;

use gomap_govern::{Governed, Registry};

#[test]
fn both_pages_mount_on_an_axum_router() {
    let registry = Registry::new();
    let mut sessions: Governed<u64, u64> =
        Governed::builder("sessions").registry(&registry).build();
    sessions.extend([(1, 1), (2, 2)]);

    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let listener = runtime
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let router = example::router(registry);
    let server = std::thread::spawn(move || {
        runtime.block_on(async {
            axum::serve(listener, router)
                .with_graceful_shutdown(async {
                    let _ = stopped.await;
                })
                .await
        })
    });

    let agent = ureq::AgentBuilder::new()
        .timeout(Duration::from_secs(10))
        .build();
    let metrics = agent.get(&format!("http://{addr}/metrics")).call().unwrap();
    assert_eq!(
        metrics.header("content-type"),
        Some("text/plain; version=0.0.4; charset=utf-8")
    );
    let body = metrics.into_string().unwrap();
    assert!(body.contains("map=\"sessions\""), "{body}");
    assert!(body.lines().any(|l| l.starts_with("# TYPE ")), "{body}");

    let maps = agent
        .get(&format!("http://{addr}/debug/maps"))
        .call()
        .unwrap();
    assert_eq!(maps.header("content-type"), Some("application/json"));
    let json: serde_json::Value = maps.into_json().unwrap();
    assert!(json["totals"].is_object(), "{json}");
    assert_eq!(json["maps"].as_array().map(Vec::len), Some(1), "{json}");
    assert!(json.to_string().contains("\"sessions\""), "{json}");

    drop(agent);
    stop.send(()).unwrap();
    server.join().unwrap().unwrap();
}
