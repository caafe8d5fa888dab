//! A map's figures and counters: the plain report types, and the one typed
//! atomic store each is kept in.
//!
//! Each set of numbers is declared once, by `numbers!`, which makes both the
//! plain struct that reports carry (`Figures`, `Counters`) and its atomic
//! twin (`AtomicFigures`, `AtomicCounters`) that maps publish into and the
//! registry reads. Adding a figure is one line here.

use std::ops::AddAssign;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed, Ordering::SeqCst};

use gomap::{MemStats, MigrationKind};
use serde::Serialize;

macro_rules! numbers {
    (
        $(#[$meta:meta])*
        $vis:vis struct $plain:ident / $atomic:ident {
            $( $(#[$field_meta:meta])* $field:ident, )*
        }
    ) => {
        $(#[$meta])*
        #[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
        $vis struct $plain {
            $( $(#[$field_meta])* pub $field: u64, )*
        }

        impl AddAssign for $plain {
            fn add_assign(&mut self, other: $plain) {
                $( self.$field += other.$field; )*
            }
        }

        #[doc = concat!("[`", stringify!($plain), "`] in relaxed atomics: written by a map's writes, read by reports.")]
        #[derive(Default)]
        pub(crate) struct $atomic {
            $( pub(crate) $field: AtomicU64, )*
        }

        #[allow(dead_code)] // not every store uses every method
        impl $atomic {
            /// Every number now (each one exact; together, as close to one
            /// instant as separate loads give). Sequentially consistent, with
            /// [`add_delta`](Self::add_delta): a writer that moved a total
            /// and then a level sees every delta ordered before its own
            /// (free on x86, where these are plain loads).
            pub(crate) fn load(&self) -> $plain {
                $plain { $( $field: self.$field.load(SeqCst), )* }
            }

            /// Stores every number (the single writer's publish).
            pub(crate) fn store(&self, value: &$plain) {
                $( self.$field.store(value.$field, Relaxed); )*
            }

            /// Adds `new - old`, number by number, touching only those that
            /// moved: totals kept by deltas from many writers never
            /// overwrite each other. Returns the totals right after.
            pub(crate) fn add_delta(&self, old: &$plain, new: &$plain) -> $plain {
                let mut now = $plain::default();
                $(
                    now.$field = if new.$field != old.$field {
                        let delta = new.$field.wrapping_sub(old.$field);
                        self.$field.fetch_add(delta, SeqCst).wrapping_add(delta)
                    } else {
                        self.$field.load(SeqCst)
                    };
                )*
                now
            }
        }
    };
}

numbers! {
    /// A map's figures at one moment.
    pub struct Figures / AtomicFigures {
        /// Entries.
        len,
        /// `MemStats::allocated_bytes`: every byte the map's table holds.
        allocated_bytes,
        /// `MemStats::owned_bytes`: the bytes keys and values own, when the
        /// map measures them (0 otherwise).
        owned_bytes,
        /// Buckets of the current array(s).
        buckets,
        /// Buckets of the array(s) being migrated from.
        old_buckets,
        /// Overflow buckets.
        overflow_buckets,
        /// Old buckets already moved by running migrations.
        migration_evacuated,
        /// Old buckets in all of the running migrations (0: none running).
        migration_total,
    }
}

numbers! {
    /// Counters of things that happened to a map since it was created.
    pub struct Counters / AtomicCounters {
        /// Grow migrations started.
        grows,
        /// Compacting (same-size) migrations started.
        compactions,
        /// Shrink migrations started.
        shrinks,
        /// `clear` calls.
        clears,
        /// `reset` and `take` calls.
        resets,
        /// New keys `try_insert` refused at red.
        refused_inserts,
    }
}

impl Figures {
    /// The figures of a map's (or a shard's) `MemStats`.
    pub(crate) fn of(stats: &MemStats) -> Figures {
        let (evacuated, total) = stats.migration.map_or((0, 0), |m| (m.evacuated, m.total));
        Figures {
            len: stats.len as u64,
            allocated_bytes: stats.allocated_bytes as u64,
            owned_bytes: stats.owned_bytes as u64,
            buckets: stats.buckets as u64,
            old_buckets: stats.old_buckets as u64,
            overflow_buckets: stats.overflow_buckets as u64,
            migration_evacuated: evacuated as u64,
            migration_total: total as u64,
        }
    }

    /// The figure watermarks in `measure` look at.
    pub fn value(&self, measure: crate::Measure) -> u64 {
        match measure {
            crate::Measure::Bytes => self.allocated_bytes,
            crate::Measure::Entries => self.len,
            crate::Measure::TotalBytes => self.total_bytes(),
        }
    }

    /// Table bytes plus owned bytes: everything the map and its contents
    /// hold (when it measures what they own).
    pub fn total_bytes(&self) -> u64 {
        self.allocated_bytes + self.owned_bytes
    }
}

numbers! {
    /// The migrations a map has started, by kind: the part of [`Counters`]
    /// a `gomap::HashMap` counts itself.
    pub(crate) struct Migrations / AtomicMigrations {
        grows,
        compactions,
        shrinks,
    }
}

impl Migrations {
    /// What `map` has started so far.
    pub(crate) fn of<K, V, S>(map: &gomap::HashMap<K, V, S>) -> Migrations {
        Migrations {
            grows: map.migrations_started(MigrationKind::Grow),
            compactions: map.migrations_started(MigrationKind::Compact),
            shrinks: map.migrations_started(MigrationKind::Shrink),
        }
    }

    /// Adds `self - last` to `counters`, kind by kind, touching only the
    /// kinds that moved. A smaller count than `last` is a fresh map swapped
    /// in (`take`, `reset`): all of its count is new.
    pub(crate) fn add_since(&self, last: &Migrations, counters: &AtomicCounters) {
        for (now, last, counter) in [
            (self.grows, last.grows, &counters.grows),
            (self.compactions, last.compactions, &counters.compactions),
            (self.shrinks, last.shrinks, &counters.shrinks),
        ] {
            if now != last {
                let started = if now > last { now - last } else { now };
                counter.fetch_add(started, Relaxed);
            }
        }
    }
}
