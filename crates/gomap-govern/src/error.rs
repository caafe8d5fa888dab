//! The errors of this crate: bad watermarks, and a new key refused at red.

use std::fmt;

use crate::cell::MapCell;

/// Why watermarks were rejected.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum WatermarkError {
    /// A watermark of zero would make every map alarming from the start.
    Zero,
    /// The watermarks must increase strictly: yellow < orange < red.
    NotIncreasing {
        /// The yellow watermark given.
        yellow: u64,
        /// The orange watermark given.
        orange: u64,
        /// The red watermark given.
        red: u64,
    },
}

impl fmt::Display for WatermarkError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            WatermarkError::Zero => f.write_str("watermarks must be above zero"),
            WatermarkError::NotIncreasing {
                yellow,
                orange,
                red,
            } => write!(
                f,
                "watermarks must increase: yellow < orange < red, got yellow={yellow}, orange={orange}, red={red}"
            ),
        }
    }
}

impl std::error::Error for WatermarkError {}

/// A new key refused because its map, or all governed maps together, are
/// at red. Carries the pair back.
pub struct Refused<K, V> {
    /// The key that was not inserted.
    pub key: K,
    /// Its value.
    pub value: V,
    /// The map's name.
    pub map: String,
    /// Where the map was created.
    pub site: String,
}

impl<K, V> Refused<K, V> {
    /// Counts a refusal on `cell` and hands the pair back.
    pub(crate) fn count(cell: &MapCell, key: K, value: V) -> Self {
        cell.counters
            .refused_inserts
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        Refused {
            key,
            value,
            map: cell.name.clone(),
            site: cell.site.to_string(),
        }
    }
}

impl<K, V> fmt::Debug for Refused<K, V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Refused")
            .field("map", &self.map)
            .field("site", &self.site)
            .finish_non_exhaustive()
    }
}

impl<K, V> fmt::Display for Refused<K, V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "gomap: map '{}' (created at {}) is at red: new keys are refused until it falls under orange",
            self.map, self.site
        )
    }
}

impl<K, V> std::error::Error for Refused<K, V> {}
