//! The metrics export: every figure through the `metrics` facade, names,
//! units, help, labels, grouping, and how many series a registry makes.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use gomap_govern::{Governed, Registry, RegistryConfig, SiteLabel, Watermarks};
use metrics::Unit;
use metrics_util::debugging::{DebugValue, DebuggingRecorder};
use metrics_util::MetricKind;

/// One exported series.
#[derive(Debug)]
struct Series {
    name: String,
    labels: BTreeMap<String, String>,
    counter: bool,
    unit: Option<Unit>,
    help: Option<String>,
    value: f64,
}

impl Series {
    fn label(&self, key: &str) -> Option<&str> {
        self.labels.get(key).map(String::as_str)
    }
}

/// Everything `registry.export_metrics()` sets, in a fresh recorder.
fn export(registry: &Registry) -> Vec<Series> {
    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    metrics::with_local_recorder(&recorder, || registry.export_metrics());
    snapshotter
        .snapshot()
        .into_vec()
        .into_iter()
        .map(|(key, unit, help, value)| Series {
            name: key.key().name().to_string(),
            labels: key
                .key()
                .labels()
                .map(|l| (l.key().to_string(), l.value().to_string()))
                .collect(),
            counter: key.kind() == MetricKind::Counter,
            unit,
            help: help.map(|h| h.to_string()),
            value: match value {
                DebugValue::Counter(n) => n as f64,
                DebugValue::Gauge(g) => g.into_inner(),
                DebugValue::Histogram(_) => panic!("no histograms"),
            },
        })
        .collect()
}

/// The series named `name` whose labels include every one of `labels`.
fn find<'s>(series: &'s [Series], name: &str, labels: &[(&str, &str)]) -> Vec<&'s Series> {
    series
        .iter()
        .filter(|s| s.name == name && labels.iter().all(|(k, v)| s.label(k) == Some(v)))
        .collect()
}

/// The value of the one series named `name` with `labels`.
fn value(series: &[Series], name: &str, labels: &[(&str, &str)]) -> f64 {
    match find(series, name, labels).as_slice() {
        [one] => one.value,
        other => panic!("{} series {name} {labels:?}: {other:?}", other.len()),
    }
}

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
    let series = export(&registry);
    let users = [("map", "users")];
    let site = find(&series, "gomap_map_entries", &users)[0]
        .label("site")
        .unwrap()
        .to_string();
    assert!(site.contains("export.rs:"), "{site}");
    assert_eq!(value(&series, "gomap_map_entries", &users), 0.0);
    assert_eq!(
        value(&series, "gomap_map_allocated_bytes", &users),
        map.mem_stats().allocated_bytes as f64
    );
    assert_eq!(value(&series, "gomap_map_clears_total", &users), 1.0);
    assert!(
        value(
            &series,
            "gomap_map_migrations_total",
            &[("map", "users"), ("kind", "grow")]
        ) > 0.0
    );
    assert_eq!(
        value(
            &series,
            "gomap_map_watermark_bytes",
            &[("map", "users"), ("level", "orange")]
        ),
        (1u64 << 21) as f64
    );
    assert!(find(&series, "gomap_map_watermark_entries", &users).is_empty());
    assert_eq!(value(&series, "gomap_map_level", &users), 0.0);
    assert_eq!(value(&series, "gomap_map_suspected_leak", &users), 0.0);
    assert_eq!(value(&series, "gomap_registry_maps", &[]), 1.0);
    assert_eq!(
        value(&series, "gomap_registry_allocated_bytes", &[]),
        map.mem_stats().allocated_bytes as f64
    );
    assert_eq!(value(&series, "gomap_registry_other_maps", &[]), 0.0);
    // No per-minute rates any more: deriv() in PromQL gives them.
    assert!(!series.iter().any(|s| s.name.contains("per_minute")));
}

/// Every family, across two registries (the total's watermarks come in one
/// measure per registry).
const FAMILIES: [&str; 30] = [
    "gomap_map_entries",
    "gomap_map_allocated_bytes",
    "gomap_map_buckets",
    "gomap_map_old_buckets",
    "gomap_map_overflow_buckets",
    "gomap_map_migration_remaining_buckets",
    "gomap_map_migrations_total",
    "gomap_map_clears_total",
    "gomap_map_resets_total",
    "gomap_map_refused_inserts_total",
    "gomap_map_level",
    "gomap_map_watermark_bytes",
    "gomap_map_watermark_entries",
    "gomap_map_suspected_leak",
    "gomap_registry_maps",
    "gomap_registry_entries",
    "gomap_registry_allocated_bytes",
    "gomap_registry_level",
    "gomap_registry_watermark_bytes",
    "gomap_registry_watermark_entries",
    "gomap_registry_other_maps",
    "gomap_registry_map_handles",
    "gomap_hook_panics_total",
    "gomap_sampler_panics_total",
    "gomap_sampler_running",
    "gomap_events_dropped_total",
    "gomap_map_owned_bytes",
    "gomap_registry_owned_bytes",
    "gomap_map_watermark_total_bytes",
    "gomap_registry_watermark_total_bytes",
];

#[test]
fn every_family_has_help_and_one_unit() {
    let mut series = Vec::new();
    for total in [
        Watermarks::bytes(1 << 30, 1 << 31, 1 << 32).unwrap(),
        Watermarks::entries(1 << 30, 1 << 31, 1 << 32).unwrap(),
        Watermarks::total_bytes(1 << 30, 1 << 31, 1 << 32).unwrap(),
    ] {
        let registry = Registry::with_config(RegistryConfig {
            total_watermarks: Some(total),
            ..RegistryConfig::default()
        });
        let mut by_bytes: Governed<u64, u64> = Governed::builder("by-bytes")
            .registry(&registry)
            .watermarks(Watermarks::bytes(1 << 20, 1 << 21, 1 << 22).unwrap())
            .build();
        let mut by_entries: Governed<u64, u64> = Governed::builder("by-entries")
            .registry(&registry)
            .watermarks(Watermarks::entries(100, 200, 300).unwrap())
            .build();
        let mut by_total: Governed<u64, Vec<u8>> = Governed::builder("by-total")
            .registry(&registry)
            .watermarks(Watermarks::total_bytes(1 << 20, 1 << 21, 1 << 22).unwrap())
            .build();
        by_total.track_owned_bytes(|_| 0, Vec::capacity);
        by_bytes.insert(1, 1);
        by_entries.insert(1, 1);
        by_total.insert(1, vec![0; 100]);
        series.extend(export(&registry));
    }

    let mut units: HashMap<&str, BTreeSet<String>> = HashMap::new();
    for s in &series {
        let help = s.help.as_deref().unwrap_or("");
        assert!(!help.is_empty(), "{} has no help", s.name);
        let unit = s.unit.unwrap_or_else(|| panic!("{} has no unit", s.name));
        units
            .entry(s.name.as_str())
            .or_default()
            .insert(unit.as_str().to_string());
        assert_eq!(
            s.counter,
            s.name.ends_with("_total"),
            "{}: counters, and only counters, end in _total",
            s.name
        );
        assert_eq!(
            unit == Unit::Bytes,
            s.name.ends_with("_bytes"),
            "{}: bytes, and only bytes, end in _bytes",
            s.name
        );
        assert!(
            !s.labels.contains_key("measure"),
            "{}: one unit per metric, no measure label",
            s.name
        );
    }
    for (name, units) in &units {
        assert_eq!(units.len(), 1, "{name} has units {units:?}");
    }
    let names: BTreeSet<&str> = units.keys().copied().collect();
    assert_eq!(names, FAMILIES.into_iter().collect::<BTreeSet<_>>());
}

/// Maps with one name and site (one per connection) share their series.
#[test]
fn same_name_and_site_are_summed_in_metrics() {
    let registry = Registry::new();
    let make = || -> Governed<u64, u64> {
        Governed::builder("per-conn")
            .registry(&registry)
            .watermarks(Watermarks::entries(8, 100, 200).unwrap())
            .build()
    };
    let (mut a, mut b) = (make(), make());
    a.extend((0..10).map(|i| (i, i)));
    b.extend((0..5).map(|i| (i, i)));
    b.clear();
    b.extend((0..5).map(|i| (i, i)));
    let series = export(&registry);
    let per_conn = [("map", "per-conn")];
    assert_eq!(find(&series, "gomap_map_entries", &per_conn).len(), 1);
    assert_eq!(value(&series, "gomap_map_entries", &per_conn), 15.0);
    assert_eq!(
        value(&series, "gomap_map_allocated_bytes", &per_conn),
        (a.mem_stats().allocated_bytes + b.mem_stats().allocated_bytes) as f64
    );
    assert_eq!(value(&series, "gomap_map_clears_total", &per_conn), 1.0);
    // The level is the highest: a is yellow, b green.
    assert_eq!(value(&series, "gomap_map_level", &per_conn), 1.0);
}

/// Two maps of one name made on two lines of this file.
fn two_sites(registry: &Registry) -> (Governed<u64, u64>, Governed<u64, u64>) {
    let mut a: Governed<u64, u64> = Governed::builder("cache").registry(registry).build();
    let mut b: Governed<u64, u64> = Governed::builder("cache").registry(registry).build();
    a.extend((0..3).map(|i| (i, i)));
    b.extend((0..4).map(|i| (i, i)));
    (a, b)
}

#[test]
fn the_site_label_is_full_file_or_off() {
    let full = Registry::new();
    let _maps = two_sites(&full);
    let series = export(&full);
    let cache = find(&series, "gomap_map_entries", &[("map", "cache")]);
    assert_eq!(cache.len(), 2, "two lines, two series: {cache:?}");
    for s in &cache {
        let site = s.label("site").unwrap();
        assert!(
            site.starts_with(&format!("{}:", file!())) && site.matches(':').count() == 2,
            "{site}"
        );
    }

    for (how, label) in [(SiteLabel::File, file!()), (SiteLabel::Off, "")] {
        let registry = Registry::with_config(RegistryConfig {
            site_label: how,
            ..RegistryConfig::default()
        });
        let _maps = two_sites(&registry);
        let mut other: Governed<u64, u64> =
            Governed::builder("other-name").registry(&registry).build();
        other.insert(1, 1);
        let series = export(&registry);
        // One file (or none): the two maps are one group, summed.
        let cache = find(&series, "gomap_map_entries", &[("map", "cache")]);
        assert_eq!(cache.len(), 1, "{how:?}: {cache:?}");
        assert_eq!(cache[0].label("site"), Some(label), "{how:?}");
        assert_eq!(cache[0].value, 7.0, "{how:?}");
        assert_eq!(
            value(
                &series,
                "gomap_map_entries",
                &[("map", "other-name"), ("site", label)]
            ),
            1.0
        );
        // /debug/maps keeps the full site.
        assert!(registry
            .maps()
            .iter()
            .all(|m| m.site.matches(':').count() == 2));
    }
}

#[test]
fn the_cap_keeps_the_biggest_maps_and_sums_the_rest() {
    let registry = Registry::with_config(RegistryConfig {
        max_map_series: 100,
        window: 2,
        ..RegistryConfig::default()
    });
    let maps: Vec<Governed<u64, u64>> = (0..2_000u64)
        .map(|i| {
            let mut map: Governed<u64, u64> = Governed::builder(format!("map-{i:04}"))
                .registry(&registry)
                .build();
            map.extend((0..(i * 7919) % 500).map(|k| (k, k)));
            map
        })
        .collect();
    let series = export(&registry);

    let entries = find(&series, "gomap_map_entries", &[]);
    assert_eq!(entries.len(), 101, "100 maps and other");
    let other = value(
        &series,
        "gomap_map_entries",
        &[("map", "other"), ("site", "")],
    );
    let kept: BTreeSet<&str> = entries
        .iter()
        .map(|s| s.label("map").unwrap())
        .filter(|&m| m != "other")
        .collect();
    assert_eq!(kept.len(), 100);

    // The biggest by bytes (ties by name) are kept.
    let mut reports = registry.maps();
    reports.sort_by(|a, b| {
        b.figures
            .allocated_bytes
            .cmp(&a.figures.allocated_bytes)
            .then_with(|| a.name.cmp(&b.name))
    });
    let biggest: BTreeSet<&str> = reports[..100].iter().map(|r| r.name.as_str()).collect();
    assert_eq!(kept, biggest);
    let smallest_kept = reports[99].figures.allocated_bytes;
    assert!(reports[100..]
        .iter()
        .all(|r| r.figures.allocated_bytes <= smallest_kept));

    // "other" sums the rest, figures and counters.
    let rest_entries: u64 = reports[100..].iter().map(|r| r.figures.len).sum();
    assert_eq!(other, rest_entries as f64);
    let rest_bytes: u64 = reports[100..]
        .iter()
        .map(|r| r.figures.allocated_bytes)
        .sum();
    assert_eq!(
        value(&series, "gomap_map_allocated_bytes", &[("map", "other")]),
        rest_bytes as f64
    );
    let rest_grows: u64 = reports[100..].iter().map(|r| r.counters.grows).sum();
    assert_eq!(
        value(
            &series,
            "gomap_map_migrations_total",
            &[("map", "other"), ("kind", "grow")]
        ),
        rest_grows as f64
    );
    let kept_entries: f64 = entries
        .iter()
        .filter(|s| s.label("map") != Some("other"))
        .map(|s| s.value)
        .sum();
    assert_eq!(
        kept_entries + other,
        value(&series, "gomap_registry_entries", &[])
    );
    assert_eq!(value(&series, "gomap_registry_other_maps", &[]), 1_900.0);
    assert_eq!(value(&series, "gomap_registry_maps", &[]), 2_000.0);
    // Every per-map family has 101 series (migrations: 3 kinds each).
    assert_eq!(find(&series, "gomap_map_level", &[]).len(), 101);
    assert_eq!(find(&series, "gomap_map_migrations_total", &[]).len(), 303);
    drop(maps);
}

#[test]
fn other_takes_the_highest_level_and_any_leak_and_no_watermarks() {
    let registry = Registry::with_config(RegistryConfig {
        max_map_series: 1,
        window: 2,
        ..RegistryConfig::default()
    });
    let mut big: Governed<u64, u64> = Governed::builder("big").registry(&registry).build();
    big.extend((0..10_000).map(|i| (i, i)));
    let mut red: Governed<u64, u64> = Governed::builder("small-red")
        .registry(&registry)
        .watermarks(Watermarks::entries(1, 2, 3).unwrap())
        .build();
    red.extend((0..4).map(|i| (i, i)));
    let mut leaky: Governed<u64, u64> =
        Governed::builder("small-leaky").registry(&registry).build();
    let t0 = std::time::Instant::now();
    registry.sample_at(t0);
    leaky.insert(1, 1);
    registry.sample_at(t0 + std::time::Duration::from_secs(60));
    let series = export(&registry);
    let other = [("map", "other")];
    assert_eq!(value(&series, "gomap_map_level", &other), 3.0);
    assert_eq!(value(&series, "gomap_map_suspected_leak", &other), 1.0);
    assert_eq!(value(&series, "gomap_map_entries", &other), 5.0);
    assert!(find(&series, "gomap_map_watermark_entries", &[]).is_empty());
    assert_eq!(value(&series, "gomap_map_level", &[("map", "big")]), 0.0);
    assert_eq!(value(&series, "gomap_registry_other_maps", &[]), 2.0);
}

/// A real map named "other" with an empty site label gets the rest added,
/// rather than two series with one set of labels.
#[test]
fn a_map_named_other_takes_the_rest() {
    let registry = Registry::with_config(RegistryConfig {
        max_map_series: 1,
        site_label: SiteLabel::Off,
        ..RegistryConfig::default()
    });
    let mut named: Governed<u64, u64> = Governed::builder("other").registry(&registry).build();
    named.extend((0..1_000).map(|i| (i, i)));
    let mut small: Governed<u64, u64> = Governed::builder("small").registry(&registry).build();
    small.insert(1, 1);
    let series = export(&registry);
    assert_eq!(find(&series, "gomap_map_entries", &[]).len(), 1);
    assert_eq!(
        value(
            &series,
            "gomap_map_entries",
            &[("map", "other"), ("site", "")]
        ),
        1_001.0
    );
}

#[test]
fn migrations_and_health_are_exported() {
    let registry = Registry::new();
    let mut growing: Governed<u64, u64> = Governed::builder("growing").registry(&registry).build();
    let mut i = 0;
    while growing.mem_stats().migration.is_none() {
        growing.insert(i, i);
        i += 1;
    }
    let migration = growing.mem_stats().migration.unwrap();
    let mut panicky: Governed<u64, u64> = Governed::builder("panicky")
        .registry(&registry)
        .watermarks(Watermarks::entries(1, 2, 100).unwrap())
        .on_orange(|_| panic!("a hook that panics (on purpose, in a test)"))
        .build();
    panicky.extend((0..3).map(|i| (i, i)));
    let series = export(&registry);
    assert_eq!(
        value(
            &series,
            "gomap_map_migration_remaining_buckets",
            &[("map", "growing")]
        ),
        (migration.total - migration.evacuated) as f64
    );
    assert!(value(&series, "gomap_map_old_buckets", &[("map", "growing")]) > 0.0);
    assert_eq!(
        value(
            &series,
            "gomap_map_migration_remaining_buckets",
            &[("map", "panicky")]
        ),
        0.0
    );
    assert_eq!(
        value(&series, "gomap_hook_panics_total", &[("hook", "on_orange")]),
        1.0
    );
    assert_eq!(
        value(
            &series,
            "gomap_hook_panics_total",
            &[("hook", "on_total_orange")]
        ),
        0.0
    );
    assert_eq!(value(&series, "gomap_sampler_panics_total", &[]), 0.0);
    assert_eq!(value(&series, "gomap_sampler_running", &[]), 0.0);
    assert_eq!(value(&series, "gomap_events_dropped_total", &[]), 0.0);
    assert!(value(&series, "gomap_registry_map_handles", &[]) >= 2.0);

    let sampler = registry
        .start_sampler(std::time::Duration::from_secs(3600))
        .unwrap();
    assert_eq!(value(&export(&registry), "gomap_sampler_running", &[]), 1.0);
    drop(sampler);
    assert_eq!(value(&export(&registry), "gomap_sampler_running", &[]), 0.0);
}
