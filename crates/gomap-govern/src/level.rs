//! Alert levels and the watermarks that set them.

use std::fmt;

use serde::Serialize;

use crate::error::WatermarkError;

/// How alarming a map's (or the registry total's) size is.
///
/// Three levels: yellow — look (a warning and a stats snapshot);
/// orange — act (shrink now, call the user's hook); red — shed load
/// (`try_insert` of a new key is refused until the size falls under orange).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
#[repr(u8)]
pub enum Level {
    /// Under the yellow watermark.
    #[default]
    Green = 0,
    /// At or over yellow.
    Yellow = 1,
    /// At or over orange.
    Orange = 2,
    /// At or over red.
    Red = 3,
}

impl Level {
    /// The level stored as `u8` by [`Level as u8`](Level).
    pub(crate) fn from_u8(v: u8) -> Level {
        match v {
            0 => Level::Green,
            1 => Level::Yellow,
            2 => Level::Orange,
            _ => Level::Red,
        }
    }

    /// Lower-case name, as in metrics labels and JSON.
    pub fn name(self) -> &'static str {
        match self {
            Level::Green => "green",
            Level::Yellow => "yellow",
            Level::Orange => "orange",
            Level::Red => "red",
        }
    }
}

impl fmt::Display for Level {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// What watermarks measure.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Measure {
    /// `MemStats::allocated_bytes`: the bytes the map's table holds.
    Bytes,
    /// `len`: the entries.
    Entries,
    /// Table bytes plus the bytes keys and values own
    /// (`MemStats::owned_bytes`, kept when the map measures them: see
    /// [`Governed::track_owned_bytes`](crate::Governed::track_owned_bytes)):
    /// everything the map and its contents hold.
    TotalBytes,
}

/// Three thresholds, in bytes or entries: `0 < yellow < orange < red`.
///
/// Levels rise at once when a watermark is reached, and fall with
/// hysteresis, so a map hovering at a watermark does not flap: a map leaves
/// red only under the orange watermark, orange only under yellow, and
/// yellow only under 90 % of yellow.
///
/// ```
/// use gomap_govern::{Level, Watermarks};
///
/// let w = Watermarks::bytes(100, 200, 300).unwrap();
/// assert_eq!(w.next_level(Level::Green, 250), Level::Orange);
/// assert_eq!(w.next_level(Level::Red, 250), Level::Red); // not under orange yet
/// assert_eq!(w.next_level(Level::Red, 150), Level::Yellow);
/// assert!(Watermarks::bytes(300, 200, 100).is_err());
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
pub struct Watermarks {
    measure: Measure,
    yellow: u64,
    orange: u64,
    red: u64,
}

impl Watermarks {
    /// Watermarks on the bytes a map holds.
    pub fn bytes(yellow: u64, orange: u64, red: u64) -> Result<Self, WatermarkError> {
        Self::new(Measure::Bytes, yellow, orange, red)
    }

    /// Watermarks on a map's entries.
    pub fn entries(yellow: u64, orange: u64, red: u64) -> Result<Self, WatermarkError> {
        Self::new(Measure::Entries, yellow, orange, red)
    }

    /// Watermarks on the bytes a map's table and its keys and values hold
    /// together ([`Measure::TotalBytes`]).
    ///
    /// ```
    /// let marks = gomap_govern::Watermarks::total_bytes(1 << 20, 4 << 20, 16 << 20).unwrap();
    /// assert_eq!(marks.measure(), gomap_govern::Measure::TotalBytes);
    /// ```
    pub fn total_bytes(yellow: u64, orange: u64, red: u64) -> Result<Self, WatermarkError> {
        Self::new(Measure::TotalBytes, yellow, orange, red)
    }

    /// Watermarks on `measure`; `0 < yellow < orange < red` or an error.
    pub fn new(
        measure: Measure,
        yellow: u64,
        orange: u64,
        red: u64,
    ) -> Result<Self, WatermarkError> {
        if yellow == 0 {
            return Err(WatermarkError::Zero);
        }
        if !(yellow < orange && orange < red) {
            return Err(WatermarkError::NotIncreasing {
                yellow,
                orange,
                red,
            });
        }
        Ok(Watermarks {
            measure,
            yellow,
            orange,
            red,
        })
    }

    /// What the watermarks measure.
    pub fn measure(&self) -> Measure {
        self.measure
    }

    /// The watermark of `level` (`None` for green).
    pub fn threshold(&self, level: Level) -> Option<u64> {
        match level {
            Level::Green => None,
            Level::Yellow => Some(self.yellow),
            Level::Orange => Some(self.orange),
            Level::Red => Some(self.red),
        }
    }

    /// The level `value` reaches, without hysteresis.
    fn reached(&self, value: u64) -> Level {
        if value >= self.red {
            Level::Red
        } else if value >= self.orange {
            Level::Orange
        } else if value >= self.yellow {
            Level::Yellow
        } else {
            Level::Green
        }
    }

    /// While at `level`, the values that keep it: `low <= value < high`.
    pub(crate) fn band(&self, level: Level) -> (u64, u64) {
        match level {
            Level::Green => (0, self.yellow),
            Level::Yellow => (self.yellow - self.yellow / 10, self.orange),
            Level::Orange => (self.yellow, self.red),
            Level::Red => (self.orange, u64::MAX),
        }
    }

    /// The level after `current` sees `value`: up at once to the highest
    /// watermark reached; down only when `value` leaves the band of
    /// `current` (see the type's docs), to the level `value` reaches.
    pub fn next_level(&self, current: Level, value: u64) -> Level {
        let (low, high) = self.band(current);
        if (low..high).contains(&value) {
            current
        } else {
            self.reached(value)
        }
    }
}
