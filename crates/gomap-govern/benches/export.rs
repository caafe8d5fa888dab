//! The cost of a scrape: listing the maps (`Registry::maps`, the floor),
//! `Registry::export_metrics` into a no-op recorder
//! (grouping, the cap, the `metrics` calls), and export plus Prometheus
//! rendering in a fresh recorder (what `/metrics` does per scrape), at
//! 1 000, 10 000 and 100 000 governed maps with distinct names — with the
//! default cap of 500 map series, and with the cap raised to every map.
//!
//! ```text
//! cargo bench -p gomap-govern --features http --bench export
//! ```
//!
//! Ten samples each, so the whole run takes about three minutes. On a
//! shared 2-core machine (medians):
//!
//! | maps | `list_maps` | `noop_cap500` | `render_cap500` | `noop_cap_n` | `render_cap_n` |
//! |---:|---:|---:|---:|---:|---:|
//! | 1 000 | 0.16 ms | 0.58 ms | 11.4 ms | 0.96 ms | 34.8 ms |
//! | 10 000 | 3.1 ms | 6.9 ms | 25.7 ms | 13.6 ms | 672 ms |
//! | 100 000 | 40.8 ms | 97.3 ms | 108 ms | 145 ms | 10.8 s |
//!
//! The export grows linearly with the maps (about 1 µs a map at 100 000,
//! 0.4 µs of it listing them); rendering grows with the series, and past a
//! few hundred thousand series the exporter's rendering dominates — which
//! is what `max_map_series` is for.

use std::hint::black_box;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use gomap_govern::{Governed, Registry, RegistryConfig};
use metrics_exporter_prometheus::PrometheusBuilder;

/// A registry with `n` maps named `map-0` .. (1 to 16 entries each), with
/// `max_map_series` set to `cap`.
fn registry(n: usize, cap: usize) -> (Registry, Vec<Governed<u64, u64>>) {
    let registry = Registry::with_config(RegistryConfig {
        max_map_series: cap,
        ..RegistryConfig::default()
    });
    let maps = (0..n as u64)
        .map(|i| {
            let mut map: Governed<u64, u64> = Governed::builder(format!("map-{i}"))
                .registry(&registry)
                .build();
            map.extend((0..=i % 16).map(|k| (k, k)));
            map
        })
        .collect();
    (registry, maps)
}

/// What `/metrics` does: a fresh recorder, the export, the text.
fn render(registry: &Registry) -> String {
    let recorder = PrometheusBuilder::new().build_recorder();
    metrics::with_local_recorder(&recorder, || registry.export_metrics());
    recorder.handle().render()
}

fn bench(c: &mut Criterion) {
    let mut group = c.benchmark_group("export");
    group
        .sample_size(10)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2));
    for n in [1_000, 10_000, 100_000] {
        group.throughput(Throughput::Elements(n as u64));
        for (cap, label) in [(500, "cap500"), (n, "cap_n")] {
            let (registry, maps) = registry(n, cap);
            if cap == 500 {
                // The floor: listing the maps (`Registry::maps`), which the
                // export starts with.
                group.bench_with_input(BenchmarkId::new("list_maps", n), &registry, |b, r| {
                    b.iter(|| r.maps().len())
                });
            }
            group.bench_with_input(
                BenchmarkId::new(format!("noop_{label}"), n),
                &registry,
                |b, r| {
                    b.iter(|| {
                        metrics::with_local_recorder(&metrics::NoopRecorder, || r.export_metrics())
                    })
                },
            );
            group.bench_with_input(
                BenchmarkId::new(format!("render_{label}"), n),
                &registry,
                |b, r| b.iter(|| black_box(render(r)).len()),
            );
            drop(maps);
        }
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
