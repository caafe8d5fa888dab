//! Matching a bucket's eight tophash bytes at once (SSE2, or SWAR).
//!
//! A bucket's tophash bytes are kept in one `u64`; slot `i` is byte `i`
//! counted from the least significant end (`(word >> 8 * i) as u8`), so the
//! code is the same on every endianness. Each query returns a [`BitMask`]
//! with bit `i` set when slot `i` matches. All the matchers below are
//! *exact*: no false positives, because a false "empty" would overwrite
//! a live entry.

use super::tophash::Tophash;

const EMPTY_ONE: u8 = Tophash::EMPTY_ONE.0;
const EMPTY_REST: u8 = Tophash::EMPTY_REST.0;
const MIN_TOPHASH: u8 = Tophash::MIN.0;

const LSB: u64 = 0x0101_0101_0101_0101;
#[cfg_attr(target_arch = "x86_64", allow(dead_code))]
const MSB: u64 = 0x8080_8080_8080_8080;

/// Bit 7 of every byte of `x` that is zero. Exact: `(x & 0x7f) + 0x7f`
/// cannot carry into the next byte.
#[cfg_attr(target_arch = "x86_64", allow(dead_code))]
#[inline(always)]
const fn zero_bytes(x: u64) -> u64 {
    !(((x & !MSB) + !MSB) | x) & MSB
}

/// One bit per byte: bit 7 of byte `i` becomes bit `i`.
#[cfg_attr(target_arch = "x86_64", allow(dead_code))]
#[inline(always)]
const fn gather_msbs(x: u64) -> u64 {
    ((x >> 7).wrapping_mul(0x0102_0408_1020_4080)) >> 56
}

/// The portable matchers: SWAR on the `u64`. Used where SSE2 is not
/// available, and tested against the SSE2 ones everywhere.
#[cfg_attr(target_arch = "x86_64", allow(dead_code))]
mod swar {
    use super::*;

    pub(super) const fn match_byte(word: u64, byte: u8) -> u64 {
        gather_msbs(zero_bytes(word ^ (LSB * byte as u64)))
    }

    pub(super) const fn match_empty(word: u64) -> u64 {
        gather_msbs(zero_bytes(word & !(LSB * EMPTY_ONE as u64)))
    }

    pub(super) const fn match_full(word: u64) -> u64 {
        gather_msbs(!zero_bytes(word & !(LSB * (MIN_TOPHASH as u64 - 1))) & MSB)
    }
}

/// The x86-64 matchers: SSE2 (always present on x86-64) compares the eight
/// bytes at once and `pmovmskb` yields one bit per slot, a few instructions
/// fewer than SWAR on the lookup path.
#[cfg(target_arch = "x86_64")]
mod sse2 {
    use super::*;
    use core::arch::x86_64::*;

    #[inline(always)]
    fn bytes_equal(word: u64, byte: u8) -> u64 {
        // SAFETY: SSE2 is part of the x86-64 baseline.
        unsafe {
            let group = _mm_cvtsi64_si128(word as i64);
            // The byte repeated by a multiply and one move (the upper lanes
            // then hold zero, and only the low eight are kept): two
            // instructions where `_mm_set1_epi8` takes four shuffles.
            let repeated = _mm_cvtsi64_si128((LSB * byte as u64) as i64);
            let equal = _mm_cmpeq_epi8(group, repeated);
            // The upper eight lanes are zero in `group`: keep the low eight.
            (_mm_movemask_epi8(equal) as u64) & 0xff
        }
    }

    #[inline(always)]
    pub(super) fn match_byte(word: u64, byte: u8) -> u64 {
        bytes_equal(word, byte)
    }

    #[inline(always)]
    pub(super) fn match_empty(word: u64) -> u64 {
        bytes_equal(word & !(LSB * EMPTY_ONE as u64), EMPTY_REST)
    }

    #[inline(always)]
    pub(super) fn match_full(word: u64) -> u64 {
        !bytes_equal(word & !(LSB * (MIN_TOPHASH as u64 - 1)), 0) & 0xff
    }
}

#[cfg(target_arch = "x86_64")]
use sse2 as arch;
#[cfg(not(target_arch = "x86_64"))]
use swar as arch;

/// The tophash word of one bucket. Transparent: the tophash block is an
/// array of `u64`s read and written as `Group`s.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
#[repr(transparent)]
pub(crate) struct Group(pub(crate) u64);

impl Group {
    /// Every slot holds `EMPTY_REST`: a freshly zeroed bucket.
    pub(crate) const EMPTY: Group = Group(0);

    #[inline(always)]
    pub(crate) const fn repeat(byte: Tophash) -> Group {
        Group(LSB * byte.0 as u64)
    }

    #[inline(always)]
    pub(crate) const fn get(self, slot: usize) -> Tophash {
        Tophash((self.0 >> (8 * slot)) as u8)
    }

    /// The word with slot `slot` set to `byte`.
    #[inline(always)]
    pub(crate) const fn with(self, slot: usize, byte: Tophash) -> Group {
        let shift = 8 * slot;
        Group((self.0 & !(0xff << shift)) | ((byte.0 as u64) << shift))
    }

    /// Slots whose tophash equals `top`.
    #[inline(always)]
    pub(crate) fn match_tophash(self, top: Tophash) -> BitMask {
        BitMask(arch::match_byte(self.0, top.0))
    }

    /// Slots that are free (`EMPTY_REST` or `EMPTY_ONE`, i.e. byte 0 or 1).
    #[inline(always)]
    pub(crate) fn match_empty(self) -> BitMask {
        BitMask(arch::match_empty(self.0))
    }

    /// Slots holding an entry (tophash `>= MIN_TOPHASH`, i.e. not 0..=3).
    #[inline(always)]
    pub(crate) fn match_full(self) -> BitMask {
        BitMask(arch::match_full(self.0))
    }

    /// True when some slot is `EMPTY_REST`: nothing follows it in this bucket
    /// or in the rest of the overflow chain, so a probe can stop here.
    ///
    /// `EMPTY_REST` slots always form a suffix of the bucket (they are
    /// created only at the end of a bucket and spread backwards), so this is
    /// the same as "the last slot is `EMPTY_REST`": one comparison.
    #[inline(always)]
    pub(crate) const fn has_empty_rest(self) -> bool {
        self.0 >> 56 == EMPTY_REST as u64
    }
}

/// A set of slots, bit `i` for slot `i`; iterates slot indices in ascending
/// order.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) struct BitMask(pub(crate) u64);

impl BitMask {
    /// How many slots are set.
    #[inline(always)]
    pub(crate) const fn count_slots(self) -> usize {
        self.0.count_ones() as usize
    }

    #[inline(always)]
    pub(crate) const fn any(self) -> bool {
        self.0 != 0
    }

    #[inline(always)]
    pub(crate) const fn lowest(self) -> Option<usize> {
        if self.0 == 0 {
            None
        } else {
            Some(self.0.trailing_zeros() as usize)
        }
    }

    /// The same slots with slot `offset` first: bit `i` of the result is
    /// slot `(i + offset) % 8`.
    #[inline(always)]
    pub(crate) const fn rotate(self, offset: usize) -> BitMask {
        BitMask((self.0 as u8).rotate_right(offset as u32) as u64)
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
    use std::{vec, vec::Vec};

    fn slots(m: BitMask) -> Vec<usize> {
        m.collect()
    }

    #[test]
    fn matches_are_exact_for_every_byte_pair() {
        // Every byte value in slot 3 next to every value in slot 4: no
        // borrow or carry may leak between neighbouring bytes. (Under Miri,
        // every 15th value: the markers, the edges and some of each range.)
        let step = if cfg!(miri) { 15 } else { 1 };
        for a in (0..=255u8).step_by(step) {
            for b in (0..=255u8).step_by(step) {
                let g = Group::repeat(Tophash::MIN)
                    .with(3, Tophash(a))
                    .with(4, Tophash(b));
                let full: Vec<usize> = (0..8).filter(|&i| g.get(i).0 >= MIN_TOPHASH).collect();
                let empty: Vec<usize> = (0..8).filter(|&i| g.get(i).0 <= EMPTY_ONE).collect();
                assert_eq!(slots(g.match_full()), full);
                assert_eq!(slots(g.match_empty()), empty);
                assert_eq!(slots(BitMask(swar::match_full(g.0))), full);
                assert_eq!(slots(BitMask(swar::match_empty(g.0))), empty);
                let top = Tophash(a.max(MIN_TOPHASH));
                let hits: Vec<usize> = (0..8).filter(|&i| g.get(i) == top).collect();
                assert_eq!(slots(g.match_tophash(top)), hits);
                assert_eq!(slots(BitMask(swar::match_byte(g.0, top.0))), hits);
            }
        }
    }

    #[test]
    fn empty_rest_is_read_from_the_suffix() {
        for first_rest in 0..=8 {
            let mut g = Group::repeat(Tophash::MIN);
            for slot in first_rest..8 {
                g = g.with(slot, Tophash::EMPTY_REST);
            }
            assert_eq!(g.has_empty_rest(), first_rest < 8);
            assert_eq!(g.has_empty_rest(), zero_bytes(g.0) != 0);
        }
    }

    #[test]
    fn markers_are_neither_full_nor_matchable() {
        let g = Group::EMPTY
            .with(0, Tophash::EMPTY_ONE)
            .with(1, Tophash::EVACUATED)
            .with(2, Tophash(3));
        assert_eq!(slots(g.match_full()), Vec::<usize>::new());
        assert_eq!(slots(g.match_empty()), vec![0, 3, 4, 5, 6, 7]);
    }
}
