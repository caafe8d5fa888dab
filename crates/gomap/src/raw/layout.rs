//! Layout: the one place that knows where each part of a bucket lives and
//! how many bytes it takes — a body's keys and values ([`Shape`]), an
//! overflow bucket's allocation ([`OverflowHeader`], `Shape::OVERFLOW_LAYOUT`)
//! and the three blocks of a bucket array ([`Part`]). Everything that
//! allocates, frees, releases, zeroes or counts bytes asks here.

use super::group::Group;
use super::BUCKET_SLOTS;
use crate::TryReserveError;
use core::alloc::Layout;
use core::marker::PhantomData;
use core::mem::{align_of, size_of};
use core::ptr::NonNull;

/// The head of an overflow bucket allocation: its tophash word and the
/// link to the next overflow bucket; the body follows.
#[repr(C)]
pub(super) struct OverflowHeader {
    pub(super) tophash: Group,
    /// The next overflow bucket (its `OverflowHeader`), or null.
    pub(super) next: *mut OverflowHeader,
}

/// `K` then `V` with C layout: the pair layout, used only when it has no
/// padding.
#[repr(C)]
pub(super) struct Pair<K, V>(K, V);

/// Where keys and values live inside a bucket body, for one `(K, V)`.
pub(super) struct Shape<K, V>(PhantomData<(K, V)>);

pub(super) const fn round_up(n: usize, align: usize) -> usize {
    (n + align - 1) & !(align - 1)
}

pub(super) const fn max(a: usize, b: usize) -> usize {
    if a > b {
        a
    } else {
        b
    }
}

impl<K, V> Shape<K, V> {
    pub(super) const PAIRED: bool = size_of::<K>() + size_of::<V>() == size_of::<Pair<K, V>>();
    pub(super) const KEY_STRIDE: usize = if Self::PAIRED {
        size_of::<Pair<K, V>>()
    } else {
        size_of::<K>()
    };
    pub(super) const VALUE_STRIDE: usize = if Self::PAIRED {
        size_of::<Pair<K, V>>()
    } else {
        size_of::<V>()
    };
    /// Offset of value 0 in a body.
    pub(super) const VALUES_AT: usize = if Self::PAIRED {
        size_of::<K>()
    } else {
        round_up(BUCKET_SLOTS * size_of::<K>(), align_of::<V>())
    };
    pub(super) const BODY_ALIGN: usize = max(align_of::<K>(), align_of::<V>());
    pub(super) const BODY_SIZE: usize = round_up(
        Self::VALUES_AT + (BUCKET_SLOTS - 1) * Self::VALUE_STRIDE + size_of::<V>(),
        Self::BODY_ALIGN,
    );
    /// Offset of the body in an overflow bucket.
    pub(super) const OVERFLOW_BODY_AT: usize =
        round_up(size_of::<OverflowHeader>(), Self::BODY_ALIGN);
    pub(super) const OVERFLOW_LAYOUT: Layout = {
        let align = max(align_of::<OverflowHeader>(), Self::BODY_ALIGN);
        match Layout::from_size_align(
            round_up(Self::OVERFLOW_BODY_AT + Self::BODY_SIZE, align),
            align,
        ) {
            Ok(layout) => layout,
            Err(_) => panic!("gomap: key and value types too large for a bucket"),
        }
    };
}

/// The three blocks of a bucket array. This type is the one place that
/// knows what a bucket takes in each — its bytes, its alignment, whether it
/// comes zeroed — and allocation, release, `clear` and `mem_stats` all ask
/// it, so they cannot disagree (when each wrote its own sizes, `clear`
/// zeroed 8 bytes of links a bucket, twice the block on a 32-bit target).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(super) enum Part {
    /// One tophash word a bucket.
    Tophash,
    /// One overflow link a bucket.
    Links,
    /// One body (keys and values) a bucket.
    Bodies,
}

impl Part {
    pub(super) const ALL: [Part; 3] = [Part::Tophash, Part::Links, Part::Bodies];

    /// Bytes one bucket takes in this part.
    pub(super) const fn bucket_bytes<K, V>(self) -> usize {
        match self {
            Part::Tophash => size_of::<Group>(),
            Part::Links => size_of::<*mut OverflowHeader>(),
            Part::Bodies => Shape::<K, V>::BODY_SIZE,
        }
    }

    pub(super) const fn align<K, V>(self) -> usize {
        match self {
            Part::Tophash => align_of::<Group>(),
            Part::Links => align_of::<*mut OverflowHeader>(),
            Part::Bodies => Shape::<K, V>::BODY_ALIGN,
        }
    }

    /// Whether the block is allocated zeroed: an all-zero tophash word is
    /// all `EMPTY_REST`, an all-zero link is null. Bodies are left
    /// uninitialised. (`clear` zeroes the tophash words again; the links
    /// are null by then, each nulled as its chain was freed.)
    pub(super) const fn zeroed(self) -> bool {
        !matches!(self, Part::Bodies)
    }

    pub(super) fn index(self) -> usize {
        self as usize
    }

    /// The layout of `buckets` buckets' worth of this part; `None` when
    /// that is zero bytes (zero-sized bodies).
    pub(super) fn layout<K, V>(self, buckets: usize) -> Result<Option<Layout>, TryReserveError> {
        let size = buckets
            .checked_mul(self.bucket_bytes::<K, V>())
            .ok_or(TryReserveError::CapacityOverflow)?;
        if size == 0 {
            return Ok(None);
        }
        Layout::from_size_align(size, self.align::<K, V>())
            .map(Some)
            .map_err(|_| TryReserveError::CapacityOverflow)
    }
}

/// Bytes one primary bucket takes, all three parts together.
pub(super) const fn primary_bucket_bytes<K, V>() -> usize {
    Part::Tophash.bucket_bytes::<K, V>()
        + Part::Links.bucket_bytes::<K, V>()
        + Part::Bodies.bucket_bytes::<K, V>()
}

/// One block of a bucket array: room for `held` buckets' worth of a part.
#[derive(Clone, Copy)]
pub(super) struct Block {
    pub(super) ptr: NonNull<u8>,
    pub(super) held: usize,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pairs_only_without_padding() {
        assert_eq!(Shape::<u64, u64>::KEY_STRIDE, 16); // paired: k0 v0 k1 v1 …
        assert_eq!(Shape::<u64, u64>::BODY_SIZE, 128);
        assert_eq!(Shape::<u8, u64>::KEY_STRIDE, 1); // split: keys together
                                                     // Split: 8 one-byte keys, then 8 values aligned to 8.
        assert_eq!(Shape::<u8, u64>::VALUES_AT, 8);
        assert_eq!(Shape::<u8, u64>::BODY_SIZE, 72);
        assert_eq!(Shape::<(), ()>::BODY_SIZE, 0);
        // Tophash word, then the link, padded to the word's alignment.
        assert_eq!(
            size_of::<OverflowHeader>(),
            round_up(
                size_of::<Group>() + size_of::<*mut u8>(),
                align_of::<Group>()
            )
        );
    }
}
