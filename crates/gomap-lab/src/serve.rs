//! A demo service: governed maps under synthetic load, one of them leaking
//! on purpose, serving `/metrics` and `/debug/maps` for Prometheus.

use std::time::{Duration, Instant};

use gomap_govern::{http, Governed, GovernedSharded, Registry, RegistryConfig, Watermarks};

/// Runs until `duration` seconds pass, or forever (stop with Ctrl-C).
pub fn run(port: u16, duration: Option<u64>) -> Result<(), String> {
    let registry = Registry::with_config(RegistryConfig {
        window: 6,
        ..RegistryConfig::default()
    });
    let server = http::serve(&registry, ([127, 0, 0, 1], port).into())
        .map_err(|e| format!("cannot serve on 127.0.0.1:{port}: {e}"))?;
    let _sampler = registry
        .start_sampler(Duration::from_secs(5))
        .map_err(|e| format!("cannot start the sampler thread: {e}"))?;
    println!(
        "serving http://{0}/metrics and http://{0}/debug/maps",
        server.addr()
    );
    println!("scrape it with deploy/prometheus (see README); stop with Ctrl-C");

    // Steady: sessions come and go around 10 000.
    let sessions: GovernedSharded<u64, [u8; 32]> = GovernedSharded::builder("sessions")
        .registry(&registry)
        .watermarks(Watermarks::entries(50_000, 100_000, 200_000).expect("increasing"))
        .build();
    // Leaking on purpose: request contexts nobody removes.
    let mut contexts: Governed<u64, Vec<u8>> = Governed::builder("request-contexts (leaks)")
        .registry(&registry)
        .watermarks(Watermarks::bytes(8 << 20, 32 << 20, 128 << 20).expect("increasing"))
        .build();
    // A burst once a minute, then mostly emptied: gives memory back.
    let mut batch: Governed<u64, u64> = Governed::builder("batch").registry(&registry).build();

    let start = Instant::now();
    let mut tick = 0u64;
    while duration.is_none_or(|d| start.elapsed() < Duration::from_secs(d)) {
        tick += 1;
        for i in 0..200 {
            let id = tick * 200 + i;
            sessions.insert(id, [0; 32]);
            sessions.remove(&id.saturating_sub(10_000));
            contexts.insert(id, vec![0; 64]);
        }
        if tick.is_multiple_of(600) {
            batch.extend((0..200_000).map(|i| (i, i)));
        } else if tick % 600 == 10 {
            batch.retain(|k, _| *k < 1_000);
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    Ok(())
}
