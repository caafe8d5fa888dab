//! The metrics export: every figure through the `metrics` facade, names,
//! labels, and how many series a registry makes.

use gomap_govern::{Governed, Registry, Watermarks};
use metrics_util::debugging::{DebugValue, DebuggingRecorder};

#[test]
fn every_figure_goes_through_the_metrics_facade() {
    let registry = Registry::new();
    let mut map: Governed<u64, u64> = Governed::builder("users")
        .registry(&registry)
        .watermarks(Watermarks::bytes(1 << 20, 1 << 21, 1 << 22).unwrap())
        .build();
    for i in 0..1000 {
        map.insert(i, i); // grows a few times (extend would reserve at once)
    }
    map.clear();
    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    metrics::with_local_recorder(&recorder, || registry.export_metrics());
    let snapshot = snapshotter.snapshot().into_vec();
    let find = |name: &str, extra: Option<(&str, &str)>| {
        snapshot
            .iter()
            .find(|(key, _, _, _)| {
                let k = key.key();
                k.name() == name
                    && k.labels().any(|l| l.key() == "map" && l.value() == "users")
                    && k.labels()
                        .any(|l| l.key() == "site" && l.value().contains("export.rs:"))
                    && extra
                        .is_none_or(|(lk, lv)| k.labels().any(|l| l.key() == lk && l.value() == lv))
            })
            .map(|(_, _, _, v)| v)
            .unwrap_or_else(|| panic!("no {name} {extra:?}"))
    };
    assert_eq!(find("gomap_map_len", None), &DebugValue::Gauge(0.0.into()));
    assert_eq!(
        find("gomap_map_allocated_bytes", None),
        &DebugValue::Gauge((map.mem_stats().allocated_bytes as f64).into())
    );
    assert_eq!(
        find("gomap_map_clears_total", None),
        &DebugValue::Counter(1)
    );
    assert!(
        matches!(find("gomap_map_migrations_total", Some(("kind", "grow"))), DebugValue::Counter(n) if *n > 0)
    );
    assert_eq!(
        find("gomap_map_watermark", Some(("level", "orange"))),
        &DebugValue::Gauge(((1u64 << 21) as f64).into())
    );
    assert_eq!(
        find("gomap_map_level", None),
        &DebugValue::Gauge(0.0.into())
    );
    assert!(snapshot
        .iter()
        .any(|(k, _, _, _)| k.key().name() == "gomap_total_allocated_bytes"));
}

/// Maps with one name and site (one per connection) share their series.
#[test]
fn same_name_and_site_are_summed_in_metrics() {
    let registry = Registry::new();
    let make =
        || -> Governed<u64, u64> { Governed::builder("per-conn").registry(&registry).build() };
    let (mut a, mut b) = (make(), make());
    a.extend((0..10).map(|i| (i, i)));
    b.extend((0..5).map(|i| (i, i)));
    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    metrics::with_local_recorder(&recorder, || registry.export_metrics());
    let lens: Vec<_> = snapshotter
        .snapshot()
        .into_vec()
        .into_iter()
        .filter(|(k, _, _, _)| k.key().name() == "gomap_map_len")
        .map(|(_, _, _, v)| v)
        .collect();
    assert_eq!(lens, [DebugValue::Gauge(15.0.into())]);
}
