//! How a registry is set up: trend window, total watermarks, how much it
//! keeps, and how its maps are labelled in metrics.

use std::panic::Location;

use serde::Serialize;

use crate::level::Watermarks;

/// Registry configuration. Start from `RegistryConfig::default()` and set
/// what you need:
///
/// ```
/// use gomap_govern::{Registry, RegistryConfig, SiteLabel};
///
/// let registry = Registry::with_config(RegistryConfig {
///     site_label: SiteLabel::File,
///     max_map_series: 200,
///     ..RegistryConfig::default()
/// });
/// assert_eq!(registry.config().window, 10);
/// ```
#[derive(Clone, Debug)]
pub struct RegistryConfig {
    /// Samples in a leak-trend window: a map whose entries only grew over
    /// this many samples is flagged `suspected_leak`. At least 2 (a smaller
    /// value is taken as 2). Default 10.
    pub window: usize,
    /// Watermarks on the sum over every map. Default none.
    pub total_watermarks: Option<Watermarks>,
    /// Events kept for `/debug/maps` and [`Registry::events`](crate::Registry::events)
    /// (a ring: the oldest go first). Default 64.
    pub kept_events: usize,
    /// Unread events one [`Subscription`](crate::Subscription) holds before
    /// it drops its oldest (at least 1). Default 1024.
    pub subscription_capacity: usize,
    /// What the `site` label of a map's metrics says. Default
    /// [`SiteLabel::Full`].
    pub site_label: SiteLabel,
    /// At most this many maps (after maps with one name and site are summed)
    /// get series of their own in metrics; the rest are summed into one
    /// `map="other"` series, so a process with many short-lived or
    /// per-tenant maps cannot flood Prometheus. The maps kept are the ones
    /// holding the most bytes. Default 500.
    pub max_map_series: usize,
    /// How much of a migration left running in an idle
    /// [`GovernedSharded`](crate::GovernedSharded) each sample finishes:
    /// entries' worth per shard (see `gomap::HashMap::step_migration`),
    /// taken only in shards whose write lock is free at that instant. Each
    /// such step holds its shard's write lock for as long as it takes:
    /// 64 writes' shares of a migration (a write moves 16 entries' worth),
    /// tens of microseconds for small entries; a shard with 100 000 entries
    /// still to move finishes in about 100 samples. 0 turns the sampler's
    /// maintenance off. Default 1 024.
    pub maintenance_budget: usize,
}

impl Default for RegistryConfig {
    fn default() -> Self {
        RegistryConfig {
            window: 10,
            total_watermarks: None,
            kept_events: 64,
            subscription_capacity: 1024,
            site_label: SiteLabel::Full,
            max_map_series: 500,
            maintenance_budget: 1024,
        }
    }
}

/// What the `site` label of a map's metrics says — a trade-off between
/// telling two maps apart and keeping series stable across deploys.
///
/// `Full` (`src/cache.rs:42:17`) names the exact line, but every deploy
/// that moves the line starts new series (and ends the old ones, which
/// resets alert `for:` clocks). `File` (`src/cache.rs`) survives edits
/// elsewhere in the file; `Off` leaves the label empty, so maps are told
/// apart by name alone. `/debug/maps` always shows the full site.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum SiteLabel {
    /// `file:line:column`.
    #[default]
    Full,
    /// The file only.
    File,
    /// An empty label.
    Off,
}

impl SiteLabel {
    /// The label for a map created at `site`.
    ///
    /// ```
    /// use gomap_govern::SiteLabel;
    ///
    /// let site = std::panic::Location::caller();
    /// assert!(SiteLabel::Full.label(site).starts_with(file!()));
    /// assert_eq!(SiteLabel::File.label(site), file!());
    /// assert_eq!(SiteLabel::Off.label(site), "");
    /// ```
    pub fn label(self, site: &Location<'_>) -> String {
        self.of_site(&site.to_string()).to_string()
    }

    /// The label for a map whose full site (`file:line:column`, as in
    /// `MapReport::site`) is `site`: a part of it.
    pub(crate) fn of_site(self, site: &str) -> &str {
        match self {
            SiteLabel::Full => site,
            // The line and column are the last two fields: a file name may
            // hold a `:` itself (a Windows drive).
            SiteLabel::File => site.rsplitn(3, ':').nth(2).unwrap_or(site),
            SiteLabel::Off => "",
        }
    }
}
