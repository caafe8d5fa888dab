//! The tophash byte: what a bucket keeps per slot.

/// One slot's tophash byte: the top byte of its entry's hash, or, below
/// [`Tophash::MIN`], a marker. A real top byte below `MIN` is raised to it
/// (Go adds 5 instead; clamping is fewer instructions and merges only 4 of
/// 256 values).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
#[repr(transparent)]
pub(crate) struct Tophash(pub(crate) u8);

impl Tophash {
    /// Marker: this slot and every later one in the chain are empty.
    pub(crate) const EMPTY_REST: Tophash = Tophash(0);
    /// Marker: this slot is empty.
    pub(crate) const EMPTY_ONE: Tophash = Tophash(1);
    /// Marker written to every slot of an old bucket once evacuated.
    pub(crate) const EVACUATED: Tophash = Tophash(2);
    /// The smallest tophash of a live entry (3 is unused).
    pub(crate) const MIN: Tophash = Tophash(4);

    /// The tophash of `hash`: its top byte, kept clear of the markers.
    #[inline(always)]
    pub(crate) fn of(hash: u64) -> Tophash {
        Tophash(((hash >> 56) as u8).max(Self::MIN.0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tophash_never_collides_with_markers() {
        for top in 0..=255u64 {
            assert!(Tophash::of(top << 56).0 >= Tophash::MIN.0);
        }
    }
}
