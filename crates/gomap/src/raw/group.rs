//! SWAR matching on a bucket's eight tophash bytes.
//!
//! A bucket's tophash bytes are kept in one `u64`; slot `i` is byte `i`
//! counted from the least significant end (`(word >> 8 * i) as u8`), so the
//! code is the same on every endianness. Each query returns a [`BitMask`]
//! with bit 7 of byte `i` set when slot `i` matches. All the tricks below
//! are *exact*: no false positives, because a false "empty" would overwrite
//! a live entry.

use super::{EMPTY_ONE, MIN_TOPHASH};

const LSB: u64 = 0x0101_0101_0101_0101;
const MSB: u64 = 0x8080_8080_8080_8080;

/// Bit 7 of every byte of `x` that is zero. Exact: `(x & 0x7f) + 0x7f`
/// cannot carry into the next byte.
#[inline(always)]
const fn zero_bytes(x: u64) -> u64 {
    !(((x & !MSB) + !MSB) | x) & MSB
}

/// The tophash word of one bucket.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) struct Group(pub(crate) u64);

impl Group {
    /// Every slot holds `EMPTY_REST`: a freshly zeroed bucket.
    pub(crate) const EMPTY: Group = Group(0);

    #[inline(always)]
    pub(crate) const fn repeat(byte: u8) -> Group {
        Group(LSB * byte as u64)
    }

    #[inline(always)]
    pub(crate) const fn get(self, slot: usize) -> u8 {
        (self.0 >> (8 * slot)) as u8
    }

    #[inline(always)]
    pub(crate) const fn with(self, slot: usize, byte: u8) -> Group {
        let shift = 8 * slot;
        Group((self.0 & !(0xff << shift)) | ((byte as u64) << shift))
    }

    /// Slots whose tophash equals `top`.
    #[inline(always)]
    pub(crate) const fn match_tophash(self, top: u8) -> BitMask {
        BitMask(zero_bytes(self.0 ^ (LSB * top as u64)))
    }

    /// Slots that are free (`EMPTY_REST` or `EMPTY_ONE`, i.e. byte 0 or 1).
    #[inline(always)]
    pub(crate) const fn match_empty(self) -> BitMask {
        BitMask(zero_bytes(self.0 & !(LSB * EMPTY_ONE as u64)))
    }

    /// Slots holding an entry (tophash `>= MIN_TOPHASH`, i.e. not 0..=3).
    #[inline(always)]
    pub(crate) const fn match_full(self) -> BitMask {
        BitMask(!zero_bytes(self.0 & !(LSB * (MIN_TOPHASH as u64 - 1))) & MSB)
    }

    /// True when some slot is `EMPTY_REST`: nothing follows it in this bucket
    /// or in the rest of the overflow chain, so a probe can stop here.
    #[inline(always)]
    pub(crate) const fn has_empty_rest(self) -> bool {
        zero_bytes(self.0) != 0
    }
}

/// A set of slots, one bit 7 per byte; iterates slot indices in ascending order.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) struct BitMask(pub(crate) u64);

impl BitMask {
    #[inline(always)]
    pub(crate) const fn any(self) -> bool {
        self.0 != 0
    }

    #[inline(always)]
    pub(crate) const fn lowest(self) -> Option<usize> {
        if self.0 == 0 {
            None
        } else {
            Some(self.0.trailing_zeros() as usize / 8)
        }
    }
}

impl Iterator for BitMask {
    type Item = usize;

    #[inline(always)]
    fn next(&mut self) -> Option<usize> {
        let slot = self.lowest()?;
        self.0 &= self.0 - 1;
        Some(slot)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::raw::{EMPTY_REST, EVACUATED};

    fn slots(m: BitMask) -> Vec<usize> {
        m.collect()
    }

    #[test]
    fn matches_are_exact_for_every_byte_pair() {
        // Every byte value in slot 3 next to every value in slot 4: no
        // borrow or carry may leak between neighbouring bytes.
        for a in 0..=255u8 {
            for b in 0..=255u8 {
                let g = Group::repeat(MIN_TOPHASH).with(3, a).with(4, b);
                let full: Vec<usize> = (0..8).filter(|&i| g.get(i) >= MIN_TOPHASH).collect();
                let empty: Vec<usize> = (0..8).filter(|&i| g.get(i) <= EMPTY_ONE).collect();
                assert_eq!(slots(g.match_full()), full);
                assert_eq!(slots(g.match_empty()), empty);
                assert_eq!(g.has_empty_rest(), a == EMPTY_REST || b == EMPTY_REST);
                let top = a.max(MIN_TOPHASH);
                let hits: Vec<usize> = (0..8).filter(|&i| g.get(i) == top).collect();
                assert_eq!(slots(g.match_tophash(top)), hits);
            }
        }
    }

    #[test]
    fn markers_are_neither_full_nor_matchable() {
        let g = Group::EMPTY
            .with(0, EMPTY_ONE)
            .with(1, EVACUATED)
            .with(2, 3);
        assert_eq!(slots(g.match_full()), Vec::<usize>::new());
        assert_eq!(slots(g.match_empty()), vec![0, 3, 4, 5, 6, 7]);
    }
}
