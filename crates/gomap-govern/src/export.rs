//! Every figure through the `metrics` facade, named and described the
//! Prometheus way.
//!
//! # Names
//!
//! Base units only (bytes, entries, buckets; no per-minute rates: PromQL's
//! `deriv()` gives any rate from the figures), one unit per metric, every
//! family described (`# HELP`) with a [`metrics::Unit`], counters end in
//! `_total` and nothing else does. `promtool check metrics` has nothing to
//! say about them (`tests/prometheus.rs` checks).
//!
//! Per map (labels `map`, `site`; see *Series* below for which maps get
//! their own):
//!
//! | metric | type | unit | what |
//! |---|---|---|---|
//! | `gomap_map_entries` | gauge | count | entries (`len`) |
//! | `gomap_map_allocated_bytes` | gauge | bytes | every byte the map's table holds |
//! | `gomap_map_owned_bytes` | gauge | bytes | bytes its keys and values own, when the map measures them (else 0) |
//! | `gomap_map_buckets` | gauge | count | buckets of the current array(s) |
//! | `gomap_map_old_buckets` | gauge | count | buckets of the array(s) being migrated from |
//! | `gomap_map_overflow_buckets` | gauge | count | overflow buckets |
//! | `gomap_map_migration_remaining_buckets` | gauge | count | old buckets running migrations have not evacuated yet (0: none running) |
//! | `gomap_map_migrations_total{kind}` | counter | count | migrations started; `kind` is `grow`, `compact` or `shrink` |
//! | `gomap_map_clears_total` | counter | count | `clear` calls |
//! | `gomap_map_resets_total` | counter | count | `reset` and `take` calls |
//! | `gomap_map_refused_inserts_total` | counter | count | new keys `try_insert` refused at red |
//! | `gomap_map_level` | gauge | count | 0 green, 1 yellow, 2 orange, 3 red |
//! | `gomap_map_watermark_bytes{level}` | gauge | bytes | the map's watermarks, if they are in bytes; `level` is `yellow`, `orange` or `red` |
//! | `gomap_map_watermark_entries{level}` | gauge | count | the map's watermarks, if they are in entries |
//! | `gomap_map_watermark_total_bytes{level}` | gauge | bytes | the map's watermarks, if they are on table plus owned bytes |
//! | `gomap_map_suspected_leak` | gauge | count | 1 when the entries only grew over the sampler's window, else 0 |
//!
//! For the registry (no labels, except where shown):
//!
//! | metric | type | unit | what |
//! |---|---|---|---|
//! | `gomap_registry_maps` | gauge | count | live governed maps |
//! | `gomap_registry_entries` | gauge | count | entries in all of them |
//! | `gomap_registry_allocated_bytes` | gauge | bytes | bytes all of their tables hold |
//! | `gomap_registry_owned_bytes` | gauge | bytes | bytes their keys and values own |
//! | `gomap_registry_level` | gauge | count | the total's level, 0 to 3 |
//! | `gomap_registry_watermark_bytes{level}` | gauge | bytes | the total's watermarks, if in bytes |
//! | `gomap_registry_watermark_entries{level}` | gauge | count | the total's watermarks, if in entries |
//! | `gomap_registry_watermark_total_bytes{level}` | gauge | bytes | the total's watermarks, if on table plus owned bytes |
//! | `gomap_registry_other_maps` | gauge | count | maps summed into the `map="other"` series (0: every map has its own) |
//! | `gomap_registry_map_handles` | gauge | count | map handles the registry holds (live maps and dropped ones not yet pruned) |
//! | `gomap_hook_panics_total{hook}` | counter | count | panics caught in user hooks; `hook` is `on_orange` or `on_total_orange` |
//! | `gomap_sampler_panics_total` | counter | count | sampler ticks that panicked (caught) |
//! | `gomap_sampler_running` | gauge | count | 1 while a sampler thread runs, else 0 |
//! | `gomap_events_dropped_total` | counter | count | events subscriptions lost by falling behind |
//!
//! # Series, and what they cost
//!
//! A map group with its own series makes 18 of them (15 without
//! watermarks); the registry's are 15 whatever the maps. So a process
//! exports about `18 × map groups + 15` series, each scraped instance
//! multiplies that, and every series costs Prometheus memory for as long
//! as it lives — and again each time a label value changes (a new series
//! starts; the old one goes stale). 20 000 per-tenant maps named by tenant
//! would be 340 000 series per instance. Three things bound that:
//!
//! - **Groups.** Maps with the same name and site label are one group: one
//!   set of series, figures and counters summed, the level the highest,
//!   `suspected_leak` set if any member's is, the watermark series those of
//!   the first member that has watermarks. A map made per connection is
//!   one group, not one per connection. (A group's counters are sums over
//!   its live members, so they fall when a member is dropped; Prometheus's
//!   `rate()` and `increase()` read a fall as a counter reset. And a
//!   group's summed figures may pass one member's watermark while every
//!   member is green: alert on `gomap_map_level`, as
//!   `deploy/prometheus/gomap-alerts.yml` does.)
//! - **`RegistryConfig::site_label`** ([`SiteLabel`]) says what the `site`
//!   label holds. `Full` (`file:line:column`, the default) tells apart maps
//!   of one name made on two lines, but every deploy that moves the line
//!   starts new series (and resets alerts' `for:` clocks); `File` survives
//!   edits elsewhere in the file and merges the maps of one name in one
//!   file; `Off` merges every map of one name, and is the one to use when
//!   names are unique anyway.
//! - **`RegistryConfig::max_map_series`** (default 500): after grouping,
//!   only that many groups, those holding the most bytes, get series of
//!   their own; every other group is summed into one `map="other",
//!   site=""` group (level the highest, `suspected_leak` if any, no
//!   watermark series), and `gomap_registry_other_maps` says how many maps
//!   went there. The export is then at most about
//!   `18 × max_map_series + 30` series however many maps a process makes
//!   (9 030 at the default), at the price of naming only the biggest: the
//!   others are in `/debug/maps`, and a group near the cut may move in and
//!   out of it between scrapes (its series come and go). (Should a real map
//!   be named `other` with an empty site label, the rest is added to it.)
//!
//! # Cost
//!
//! One pass over the registry's maps with a hash map of borrowed labels,
//! one selection (`select_nth_unstable`) for the cap: O(n) in maps, plus
//! the series of the groups kept. `benches/export.rs` measures it: with
//! 100 000 maps, about 0.1 s to export and 0.11 s to export and render at
//! the default cap; with the cap raised to every map (1.7 million series),
//! 0.15 s to export but 11 s to render.

use std::collections::HashMap;
use std::sync::Arc;

use gomap::DefaultHashBuilder;
use metrics::{counter, describe_counter, describe_gauge, gauge, Label, Unit};

use crate::cell::MapReport;
use crate::config::SiteLabel;
use crate::events::Hook;
use crate::figures::{Counters, Figures};
use crate::level::{Level, Measure, Watermarks};
use crate::registry::Registry;

/// Gauge or counter.
#[derive(Clone, Copy)]
enum Kind {
    Gauge,
    Counter,
}

/// One metric family: its name, type, unit and help text.
struct Family {
    name: &'static str,
    kind: Kind,
    unit: Unit,
    help: &'static str,
}

const fn gauge_family(name: &'static str, unit: Unit, help: &'static str) -> Family {
    Family {
        name,
        kind: Kind::Gauge,
        unit,
        help,
    }
}

const fn counter_family(name: &'static str, help: &'static str) -> Family {
    Family {
        name,
        kind: Kind::Counter,
        unit: Unit::Count,
        help,
    }
}

const MAP_ENTRIES: &str = "gomap_map_entries";
const MAP_BYTES: &str = "gomap_map_allocated_bytes";
const MAP_BUCKETS: &str = "gomap_map_buckets";
const MAP_OLD_BUCKETS: &str = "gomap_map_old_buckets";
const MAP_OVERFLOW_BUCKETS: &str = "gomap_map_overflow_buckets";
const MAP_MIGRATION_REMAINING: &str = "gomap_map_migration_remaining_buckets";
const MAP_MIGRATIONS: &str = "gomap_map_migrations_total";
const MAP_CLEARS: &str = "gomap_map_clears_total";
const MAP_RESETS: &str = "gomap_map_resets_total";
const MAP_REFUSED: &str = "gomap_map_refused_inserts_total";
const MAP_LEVEL: &str = "gomap_map_level";
const MAP_WATERMARK_BYTES: &str = "gomap_map_watermark_bytes";
const MAP_WATERMARK_ENTRIES: &str = "gomap_map_watermark_entries";
const MAP_WATERMARK_TOTAL: &str = "gomap_map_watermark_total_bytes";
const MAP_OWNED: &str = "gomap_map_owned_bytes";
const MAP_LEAK: &str = "gomap_map_suspected_leak";
const REG_MAPS: &str = "gomap_registry_maps";
const REG_ENTRIES: &str = "gomap_registry_entries";
const REG_BYTES: &str = "gomap_registry_allocated_bytes";
const REG_LEVEL: &str = "gomap_registry_level";
const REG_WATERMARK_BYTES: &str = "gomap_registry_watermark_bytes";
const REG_WATERMARK_ENTRIES: &str = "gomap_registry_watermark_entries";
const REG_WATERMARK_TOTAL: &str = "gomap_registry_watermark_total_bytes";
const REG_OWNED: &str = "gomap_registry_owned_bytes";
const REG_OTHER_MAPS: &str = "gomap_registry_other_maps";
const REG_HANDLES: &str = "gomap_registry_map_handles";
const HOOK_PANICS: &str = "gomap_hook_panics_total";
const SAMPLER_PANICS: &str = "gomap_sampler_panics_total";
pub(crate) const SAMPLER_RUNNING: &str = "gomap_sampler_running";
const EVENTS_DROPPED: &str = "gomap_events_dropped_total";

/// Every family this module exports (the table in the module's docs).
const FAMILIES: &[Family] = &[
    gauge_family(MAP_ENTRIES, Unit::Count, "Entries in the map (summed over maps with the same name and site label)."),
    gauge_family(MAP_BYTES, Unit::Bytes, "Bytes the map's table holds."),
    gauge_family(MAP_OWNED, Unit::Bytes, "Bytes the map's keys and values own on the heap, when the map measures them (else 0); with gomap_map_allocated_bytes, everything the map holds."),
    gauge_family(MAP_BUCKETS, Unit::Count, "Buckets of the map's current bucket array(s)."),
    gauge_family(MAP_OLD_BUCKETS, Unit::Count, "Buckets of the array(s) a running migration moves from."),
    gauge_family(MAP_OVERFLOW_BUCKETS, Unit::Count, "Overflow buckets of the map."),
    gauge_family(MAP_MIGRATION_REMAINING, Unit::Count, "Old buckets running migrations have not evacuated yet; 0 when none runs."),
    counter_family(MAP_MIGRATIONS, "Migrations the map started, by kind (grow, compact, shrink)."),
    counter_family(MAP_CLEARS, "Calls of clear on the map."),
    counter_family(MAP_RESETS, "Calls of reset and take on the map."),
    counter_family(MAP_REFUSED, "New keys try_insert refused while the map (or the registry total) was red."),
    gauge_family(MAP_LEVEL, Unit::Count, "The map's level: 0 green, 1 yellow, 2 orange, 3 red."),
    gauge_family(MAP_WATERMARK_BYTES, Unit::Bytes, "The map's watermark at each level, for watermarks in bytes."),
    gauge_family(MAP_WATERMARK_ENTRIES, Unit::Count, "The map's watermark at each level, for watermarks in entries."),
    gauge_family(MAP_WATERMARK_TOTAL, Unit::Bytes, "The map's watermark at each level, for watermarks on table plus owned bytes."),
    gauge_family(MAP_LEAK, Unit::Count, "1 when the map's entries only grew over the sampler's whole window (the shape of a leak), else 0."),
    gauge_family(REG_MAPS, Unit::Count, "Live governed maps in the registry."),
    gauge_family(REG_ENTRIES, Unit::Count, "Entries in every live governed map."),
    gauge_family(REG_BYTES, Unit::Bytes, "Bytes the tables of every live governed map hold."),
    gauge_family(REG_OWNED, Unit::Bytes, "Bytes the keys and values of every live governed map own (of the maps that measure them)."),
    gauge_family(REG_LEVEL, Unit::Count, "The level of all maps together: 0 green, 1 yellow, 2 orange, 3 red."),
    gauge_family(REG_WATERMARK_BYTES, Unit::Bytes, "The registry total's watermark at each level, for watermarks in bytes."),
    gauge_family(REG_WATERMARK_ENTRIES, Unit::Count, "The registry total's watermark at each level, for watermarks in entries."),
    gauge_family(REG_WATERMARK_TOTAL, Unit::Bytes, "The registry total's watermark at each level, for watermarks on table plus owned bytes."),
    gauge_family(REG_OTHER_MAPS, Unit::Count, "Maps summed into the map=\"other\" series because max_map_series groups hold more bytes."),
    gauge_family(REG_HANDLES, Unit::Count, "Map handles the registry holds: live maps and dropped ones not yet pruned."),
    counter_family(HOOK_PANICS, "Panics caught in user hooks, by hook (on_orange, on_total_orange)."),
    counter_family(SAMPLER_PANICS, "Sampler ticks that panicked (caught; the sampler went on)."),
    gauge_family(SAMPLER_RUNNING, Unit::Count, "1 while a sampler thread runs, else 0."),
    counter_family(EVENTS_DROPPED, "Events subscriptions lost because they fell behind."),
];

/// Describes every family (help text and unit) to the current recorder.
fn describe_families() {
    for family in FAMILIES {
        match family.kind {
            Kind::Gauge => describe_gauge!(family.name, family.unit, family.help),
            Kind::Counter => describe_counter!(family.name, family.unit, family.help),
        }
    }
}

/// One group of maps (same name and site label), or the rest. Borrows its
/// name and label from the maps' reports.
struct Group<'a> {
    name: &'a str,
    site: &'a str,
    /// Members.
    maps: usize,
    figures: Figures,
    counters: Counters,
    level: Level,
    /// The first member's that has any.
    watermarks: Option<Watermarks>,
    suspected_leak: bool,
}

impl<'a> Group<'a> {
    fn new(name: &'a str, site: &'a str) -> Group<'a> {
        Group {
            name,
            site,
            maps: 0,
            figures: Figures::default(),
            counters: Counters::default(),
            level: Level::Green,
            watermarks: None,
            suspected_leak: false,
        }
    }

    fn add_map(&mut self, map: &MapReport) {
        self.maps += 1;
        self.figures += map.figures;
        self.counters += map.counters;
        self.level = self.level.max(map.level);
        self.watermarks = self.watermarks.or(map.watermarks);
        self.suspected_leak |= map.trend.suspected_leak;
    }

    fn add_group(&mut self, other: &Group) {
        self.maps += other.maps;
        self.figures += other.figures;
        self.counters += other.counters;
        self.level = self.level.max(other.level);
        self.suspected_leak |= other.suspected_leak;
    }
}

/// The name of the group the maps outside the cap are summed into.
const OTHER: &str = "other";

/// The groups with series of their own (in no particular order), and the
/// rest summed (`None` when nothing was left over): see the module's docs.
///
/// One pass with a hash map of borrowed labels, then a selection over
/// `(bytes, index)` pairs: O(n), and nothing copied but the sums.
fn grouped(maps: &[MapReport], how: SiteLabel, cap: usize) -> (Vec<Group<'_>>, Option<Group<'_>>) {
    let mut index: HashMap<(&str, &str), usize, DefaultHashBuilder> =
        HashMap::with_capacity_and_hasher(maps.len(), DefaultHashBuilder::default());
    let mut groups: Vec<Group> = Vec::with_capacity(maps.len());
    for map in maps {
        let key = (map.name.as_str(), how.of_site(&map.site));
        let i = *index.entry(key).or_insert_with(|| {
            groups.push(Group::new(key.0, key.1));
            groups.len() - 1
        });
        groups[i].add_map(map);
    }
    drop(index);
    if groups.len() <= cap {
        return (groups, None);
    }
    // Most bytes first; ties by name and site, so the same maps are kept
    // from one scrape to the next.
    let mut order: Vec<(u64, usize)> = groups
        .iter()
        .enumerate()
        .map(|(i, g)| (g.figures.allocated_bytes, i))
        .collect();
    let first = |&(a_bytes, a): &(u64, usize), &(b_bytes, b): &(u64, usize)| {
        b_bytes.cmp(&a_bytes).then_with(|| {
            let (a, b) = (&groups[a], &groups[b]);
            (a.name, a.site).cmp(&(b.name, b.site))
        })
    };
    if cap > 0 {
        order.select_nth_unstable_by(cap - 1, first);
    }
    let mut keep = vec![false; groups.len()];
    for &(_, i) in &order[..cap] {
        keep[i] = true;
    }
    let mut other = Group::new(OTHER, "");
    let mut kept = Vec::with_capacity(cap);
    for (group, keep) in groups.into_iter().zip(keep) {
        if keep {
            kept.push(group);
        } else {
            other.add_group(&group);
        }
    }
    if let Some(named) = kept
        .iter_mut()
        .find(|g| g.name == OTHER && g.site.is_empty())
    {
        named.add_group(&other);
        named.watermarks = None;
        return (kept, None);
    }
    (kept, Some(other))
}

/// A metric's labels: the group's, plus one more.
fn with(labels: &[Label], key: &'static str, value: &'static str) -> Vec<Label> {
    let mut l = Vec::with_capacity(labels.len() + 1);
    l.extend_from_slice(labels);
    l.push(Label::from_static_parts(key, value));
    l
}

/// The watermark gauges of `marks` (one family per measure: bytes,
/// entries, total bytes), with `labels`.
fn watermark_gauges(marks: &Watermarks, labels: &[Label], families: [&'static str; 3]) {
    let [bytes, entries, total] = families;
    let name = match marks.measure() {
        Measure::Bytes => bytes,
        Measure::Entries => entries,
        Measure::TotalBytes => total,
    };
    for level in [Level::Yellow, Level::Orange, Level::Red] {
        gauge!(name, with(labels, "level", level.name()))
            .set(marks.threshold(level).unwrap_or(0) as f64);
    }
}

/// Every per-map series of one group.
fn export_group(group: &Group, watermarks: bool) {
    let labels = vec![
        Label::new("map", Arc::<str>::from(group.name)),
        Label::new("site", Arc::<str>::from(group.site)),
    ];
    let f = &group.figures;
    gauge!(MAP_ENTRIES, labels.clone()).set(f.len as f64);
    gauge!(MAP_BYTES, labels.clone()).set(f.allocated_bytes as f64);
    gauge!(MAP_OWNED, labels.clone()).set(f.owned_bytes as f64);
    gauge!(MAP_BUCKETS, labels.clone()).set(f.buckets as f64);
    gauge!(MAP_OLD_BUCKETS, labels.clone()).set(f.old_buckets as f64);
    gauge!(MAP_OVERFLOW_BUCKETS, labels.clone()).set(f.overflow_buckets as f64);
    gauge!(MAP_MIGRATION_REMAINING, labels.clone())
        .set(f.migration_total.saturating_sub(f.migration_evacuated) as f64);
    let c = &group.counters;
    for (kind, n) in [
        ("grow", c.grows),
        ("compact", c.compactions),
        ("shrink", c.shrinks),
    ] {
        counter!(MAP_MIGRATIONS, with(&labels, "kind", kind)).absolute(n);
    }
    counter!(MAP_CLEARS, labels.clone()).absolute(c.clears);
    counter!(MAP_RESETS, labels.clone()).absolute(c.resets);
    counter!(MAP_REFUSED, labels.clone()).absolute(c.refused_inserts);
    gauge!(MAP_LEVEL, labels.clone()).set(f64::from(group.level as u8));
    if let (true, Some(marks)) = (watermarks, &group.watermarks) {
        watermark_gauges(
            marks,
            &labels,
            [
                MAP_WATERMARK_BYTES,
                MAP_WATERMARK_ENTRIES,
                MAP_WATERMARK_TOTAL,
            ],
        );
    }
    gauge!(MAP_LEAK, labels).set(f64::from(u8::from(group.suspected_leak)));
}

impl Registry {
    /// Sets every `gomap_*` series (the table is in this module's source,
    /// `src/export.rs`) in the current `metrics` recorder — the global one,
    /// or a local one inside `metrics::with_local_recorder` — and describes
    /// each family (help text and unit) to it. The sampler thread calls it
    /// after each sample; the `http` feature's `/metrics` calls it before
    /// rendering.
    ///
    /// Maps with the same name and `site` label (one per connection, say;
    /// see [`RegistryConfig::site_label`](crate::RegistryConfig::site_label))
    /// share their series: figures and counters are summed, the level is
    /// the highest, `suspected_leak` is set if any is. At most
    /// [`RegistryConfig::max_map_series`](crate::RegistryConfig::max_map_series)
    /// such groups, those holding the most bytes, get series of their own;
    /// the rest are summed into `map="other", site=""`.
    ///
    /// O(n) in maps (one pass, a hash map, one selection), plus the series
    /// of the groups kept.
    pub fn export_metrics(&self) {
        describe_families();
        let config = self.config();
        let maps = self.maps();
        let count = maps.len();
        let (entries, bytes, owned) = maps.iter().fold((0u64, 0u64, 0u64), |(e, b, o), m| {
            (
                e + m.figures.len,
                b + m.figures.allocated_bytes,
                o + m.figures.owned_bytes,
            )
        });
        let (groups, other) = grouped(&maps, config.site_label, config.max_map_series);
        for group in &groups {
            export_group(group, true);
        }
        if let Some(other) = &other {
            export_group(other, false);
        }

        gauge!(REG_MAPS).set(count as f64);
        gauge!(REG_ENTRIES).set(entries as f64);
        gauge!(REG_BYTES).set(bytes as f64);
        gauge!(REG_OWNED).set(owned as f64);
        gauge!(REG_LEVEL).set(f64::from(self.total_level() as u8));
        if let Some(marks) = &config.total_watermarks {
            watermark_gauges(
                marks,
                &[],
                [
                    REG_WATERMARK_BYTES,
                    REG_WATERMARK_ENTRIES,
                    REG_WATERMARK_TOTAL,
                ],
            );
        }
        gauge!(REG_OTHER_MAPS).set(other.as_ref().map_or(0, |o| o.maps) as f64);

        let health = self.health();
        gauge!(REG_HANDLES).set(health.map_handles as f64);
        for (hook, n) in [
            (Hook::OnOrange, health.on_orange_panics),
            (Hook::OnTotalOrange, health.on_total_orange_panics),
        ] {
            counter!(HOOK_PANICS, "hook" => hook.name()).absolute(n);
        }
        counter!(SAMPLER_PANICS).absolute(health.sampler_panics);
        counter!(EVENTS_DROPPED).absolute(health.events_dropped);
        let running = health.sampler == crate::SamplerState::Running;
        gauge!(SAMPLER_RUNNING).set(f64::from(u8::from(running)));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn site_labels_cut_at_the_line() {
        fn label(site: &str, how: SiteLabel) -> &str {
            how.of_site(site)
        }
        let site = "src/cache.rs:42:17";
        assert_eq!(label(site, SiteLabel::Full), site);
        assert_eq!(label(site, SiteLabel::File), "src/cache.rs");
        assert_eq!(label(site, SiteLabel::Off), "");
        assert_eq!(
            label(r"C:\app\src\cache.rs:42:17", SiteLabel::File),
            r"C:\app\src\cache.rs"
        );
        assert_eq!(label("odd", SiteLabel::File), "odd");
        assert_eq!(label("odd:1", SiteLabel::File), "odd:1");
    }

    #[test]
    fn every_family_follows_the_conventions() {
        let mut names = std::collections::HashSet::new();
        for f in FAMILIES {
            assert!(names.insert(f.name), "{} twice", f.name);
            assert!(f.name.starts_with("gomap_"), "{}", f.name);
            let counter = matches!(f.kind, Kind::Counter);
            assert_eq!(f.name.ends_with("_total"), counter, "{}", f.name);
            assert_eq!(
                f.name.ends_with("_bytes"),
                f.unit == Unit::Bytes,
                "{}",
                f.name
            );
            assert!(!f.help.is_empty());
        }
    }
}
