//! Every figure through the `metrics` facade.
//!
//! Names (all gauges or counters set to the registry's current figures;
//! labels `map` and `site` on per-map series):
//!
//! | series | type | what |
//! |---|---|---|
//! | `gomap_map_len` | gauge | entries |
//! | `gomap_map_allocated_bytes` | gauge | bytes held |
//! | `gomap_map_buckets`, `gomap_map_old_buckets`, `gomap_map_overflow_buckets` | gauge | table shape |
//! | `gomap_map_migrating` | gauge | 1 while a migration runs |
//! | `gomap_map_migration_evacuated`, `gomap_map_migration_total` | gauge | its progress, in old buckets |
//! | `gomap_map_migrations_total{kind}` | counter | migrations started: `grow`, `compact`, `shrink` |
//! | `gomap_map_clears_total`, `gomap_map_resets_total`, `gomap_map_refused_inserts_total` | counter | |
//! | `gomap_map_level` | gauge | 0 green, 1 yellow, 2 orange, 3 red |
//! | `gomap_map_watermark{level, measure}` | gauge | the map's watermarks |
//! | `gomap_map_suspected_leak` | gauge | 1 when the trend looks like a leak |
//! | `gomap_map_growth_len_per_minute`, `gomap_map_growth_bytes_per_minute` | gauge | the trend's rates |
//! | `gomap_total_len`, `gomap_total_allocated_bytes`, `gomap_total_maps`, `gomap_total_level` | gauge | over every map |
//! | `gomap_total_watermark{level, measure}` | gauge | the registry's watermarks |

use metrics::{counter, gauge};

use crate::cell::MapReport;
use crate::level::{Level, Measure, Watermarks};
use crate::registry::Registry;

fn measure_name(m: Measure) -> &'static str {
    match m {
        Measure::Bytes => "bytes",
        Measure::Entries => "entries",
    }
}

fn watermark_gauges(name: &'static str, marks: &Watermarks, labels: &[(&'static str, String)]) {
    for level in [Level::Yellow, Level::Orange, Level::Red] {
        let mut l = labels.to_vec();
        l.push(("level", level.name().to_string()));
        l.push(("measure", measure_name(marks.measure()).to_string()));
        gauge!(name, &l).set(marks.threshold(level).unwrap_or(0) as f64);
    }
}

impl Registry {
    /// Sets every `gomap_*` series (see the table in this module's source
    /// and README) in the current `metrics` recorder — the global one, or a
    /// local one inside `metrics::with_local_recorder`. The sampler thread
    /// calls it after each sample; the `http` feature's `/metrics` calls it
    /// before rendering.
    ///
    /// Maps with the same name and creation site (one per connection, say)
    /// share their series: figures, counters and rates are summed, the
    /// level is the highest, `suspected_leak` is set if any is.
    pub fn export_metrics(&self) {
        for map in merged(self.maps()) {
            let labels = [("map", map.name.clone()), ("site", map.site.clone())];
            let f = &map.figures;
            gauge!("gomap_map_len", &labels).set(f.len as f64);
            gauge!("gomap_map_allocated_bytes", &labels).set(f.allocated_bytes as f64);
            gauge!("gomap_map_buckets", &labels).set(f.buckets as f64);
            gauge!("gomap_map_old_buckets", &labels).set(f.old_buckets as f64);
            gauge!("gomap_map_overflow_buckets", &labels).set(f.overflow_buckets as f64);
            gauge!("gomap_map_migrating", &labels).set(f64::from(u8::from(f.migration_total > 0)));
            gauge!("gomap_map_migration_evacuated", &labels).set(f.migration_evacuated as f64);
            gauge!("gomap_map_migration_total", &labels).set(f.migration_total as f64);
            let c = &map.counters;
            for (kind, n) in [
                ("grow", c.grows),
                ("compact", c.compactions),
                ("shrink", c.shrinks),
            ] {
                let mut l = labels.to_vec();
                l.push(("kind", kind.to_string()));
                counter!("gomap_map_migrations_total", &l).absolute(n);
            }
            counter!("gomap_map_clears_total", &labels).absolute(c.clears);
            counter!("gomap_map_resets_total", &labels).absolute(c.resets);
            counter!("gomap_map_refused_inserts_total", &labels).absolute(c.refused_inserts);
            gauge!("gomap_map_level", &labels).set(f64::from(map.level as u8));
            if let Some(marks) = &map.watermarks {
                watermark_gauges("gomap_map_watermark", marks, &labels);
            }
            gauge!("gomap_map_suspected_leak", &labels)
                .set(f64::from(u8::from(map.trend.suspected_leak)));
        }
        let totals = self.totals();
        gauge!("gomap_total_maps").set(totals.maps as f64);
        gauge!("gomap_total_len").set(totals.len as f64);
        gauge!("gomap_total_allocated_bytes").set(totals.allocated_bytes as f64);
        gauge!("gomap_total_level").set(f64::from(totals.level as u8));
        if let Some(marks) = &self.config().total_watermarks {
            watermark_gauges("gomap_total_watermark", marks, &[]);
        }
    }
}

/// One report per `(name, site)`: see `Registry::export_metrics`.
fn merged(maps: Vec<MapReport>) -> Vec<MapReport> {
    let mut out: Vec<MapReport> = Vec::with_capacity(maps.len());
    for map in maps {
        let Some(into) = out
            .iter_mut()
            .find(|m| m.name == map.name && m.site == map.site)
        else {
            out.push(map);
            continue;
        };
        into.figures += map.figures;
        into.counters += map.counters;
        into.level = into.level.max(map.level);
        into.trend.suspected_leak |= map.trend.suspected_leak;
        into.trend.len_per_second += map.trend.len_per_second;
        into.trend.bytes_per_second += map.trend.bytes_per_second;
    }
    out
}
