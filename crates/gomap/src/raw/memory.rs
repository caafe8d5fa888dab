//! Allocation: bucket arrays and overflow buckets from the table's
//! allocator, sized by [`Part`] and [`Shape`], each call counted.

use super::bucket::{Bucket, BucketArray};
use super::group::Group;
use super::layout::{Block, OverflowHeader, Part, Shape};
use super::{capacity_of, RawTable};
use crate::TryReserveError;
use allocator_api2::alloc::{handle_alloc_error, Allocator};
use core::ptr::{self, NonNull};

impl<K, V, A: Allocator> RawTable<K, V, A> {
    pub(super) fn count_allocator_call(&mut self) {
        self.allocator_calls += 1;
    }

    /// Allocate a `2^log2` array whose parts hold `held` buckets (all of
    /// them, but for a copy of a partly released old array). Tophash words
    /// and links come zeroed: `EMPTY_REST`, no overflow.
    pub(super) fn allocate_array(
        &mut self,
        log2: u8,
        held: usize,
    ) -> Result<BucketArray, TryReserveError> {
        let buckets = 1usize
            .checked_shl(log2.into())
            .filter(|&b| b < usize::MAX / 2)
            .ok_or(TryReserveError::CapacityOverflow)?;
        let mut array = BucketArray::unallocated();
        array.blocks[Part::Bodies.index()].ptr = Self::dangling_body();
        for part in Part::ALL {
            let layout = match part.layout::<K, V>(held) {
                Ok(Some(layout)) => layout,
                Ok(None) => continue,
                Err(e) => {
                    self.free_parts(&array);
                    return Err(e);
                }
            };
            self.count_allocator_call();
            let block = if part.zeroed() {
                self.alloc.allocate_zeroed(layout)
            } else {
                self.alloc.allocate(layout)
            };
            match block {
                Ok(block) => {
                    array.blocks[part.index()] = Block {
                        ptr: block.cast(),
                        held,
                    }
                }
                Err(_) => {
                    self.free_parts(&array);
                    return Err(TryReserveError::AllocError { layout });
                }
            }
        }
        array.mask = buckets - 1;
        array.capacity = capacity_of(log2);
        array.log2 = log2;
        array.allocated = true;
        Ok(array)
    }

    pub(super) fn dangling_body() -> NonNull<u8> {
        // Zero-sized bodies still need an aligned, non-null address.
        let addr = ptr::without_provenance_mut::<u8>(Shape::<K, V>::BODY_ALIGN);
        // SAFETY: an alignment is never zero.
        unsafe { NonNull::new_unchecked(addr) }
    }

    /// Free the parts of `array` that hold anything (not its overflow buckets).
    pub(super) fn free_parts(&mut self, array: &BucketArray) {
        for part in Part::ALL {
            let Block { ptr, held } = array.block(part);
            if held == 0 {
                continue;
            }
            if let Ok(Some(layout)) = part.layout::<K, V>(held) {
                self.count_allocator_call();
                // SAFETY: allocated by `allocate_array` with this layout, or
                // shrunk to it by `release_evacuated_tail`.
                unsafe { self.alloc.deallocate(ptr, layout) };
            }
        }
    }

    /// Free an array's blocks (not its overflow buckets).
    pub(super) fn free_array(&mut self, array: BucketArray) {
        if array.allocated {
            self.free_parts(&array);
        }
    }

    pub(super) fn allocate_overflow(&mut self) -> Bucket {
        let layout = Shape::<K, V>::OVERFLOW_LAYOUT;
        self.count_allocator_call();
        let header = match self.alloc.allocate(layout) {
            Ok(block) => block.cast::<OverflowHeader>(),
            Err(_) => handle_alloc_error(layout),
        };
        // SAFETY: a fresh block of OVERFLOW_LAYOUT begins with room for the
        // header.
        unsafe {
            header.as_ptr().write(OverflowHeader {
                tophash: Group::EMPTY,
                next: ptr::null_mut(),
            });
            Bucket::overflow_bucket::<K, V>(header)
        }
    }

    /// # Safety
    /// `bucket` is an overflow bucket of this table, unlinked, holding no entry.
    pub(super) unsafe fn free_overflow(&mut self, bucket: Bucket) {
        self.count_allocator_call();
        // SAFETY: allocated by `allocate_overflow` with this layout.
        unsafe {
            self.alloc
                .deallocate(bucket.tophash.cast(), Shape::<K, V>::OVERFLOW_LAYOUT)
        }
    }
}
