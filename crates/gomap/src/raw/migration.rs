//! Migration: start, step, end — the grow, compact and shrink of the design
//! (see the module essay in `mod.rs`) — and the two calls that run one to
//! its end on purpose, `reserve` and `shrink_to`.

use super::bucket::{prefetch, BucketArray};
use super::group::Group;
use super::guard::guard;
use super::layout::{primary_bucket_bytes, Block, Part};
use super::tophash::Tophash;
use super::{capacity_of, log2_for, ArrayId, RawTable, BUCKET_SLOTS, SHRINK_DIVISOR};
use crate::{MigrationKind, ShrinkPolicy, TryReserveError};
use allocator_api2::alloc::Allocator;
use core::mem;
use core::ptr;

/// Compact when there are as many overflow buckets as buckets. Go writes
/// `noverflow >= 1 << min(B, 15)`, but for `B >= 16` its `noverflow` is a
/// sampled count (incremented with probability `2^(15-B)`), so its real
/// threshold is also about `2^B`. We count exactly and compare with `2^B`.
/// Migrations started so far, one count per kind.
#[derive(Clone, Copy, Debug)]
pub(super) struct MigrationCounts {
    grow: u64,
    compact: u64,
    shrink: u64,
}

impl MigrationCounts {
    pub(super) const fn new() -> Self {
        MigrationCounts {
            grow: 0,
            compact: 0,
            shrink: 0,
        }
    }

    pub(super) fn get(&self, kind: MigrationKind) -> u64 {
        match kind {
            MigrationKind::Grow => self.grow,
            MigrationKind::Compact => self.compact,
            MigrationKind::Shrink => self.shrink,
        }
    }

    fn count(&mut self, kind: MigrationKind) {
        let count = match kind {
            MigrationKind::Grow => &mut self.grow,
            MigrationKind::Compact => &mut self.compact,
            MigrationKind::Shrink => &mut self.shrink,
        };
        *count += 1;
    }
}

/// Whether a reservation raises the floor automatic shrinking keeps to.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Floor {
    /// The user asked for the room (`with_capacity`, `reserve`): automatic
    /// shrinking will not go below it.
    Raise,
    /// A reservation of the map's own (`extend`'s): the floor stays.
    Keep,
}

const fn compact_threshold(log2: u8) -> usize {
    1 << log2
}
/// A write's share of a running migration, in entries moved: what two full
/// buckets hold, about what two old buckets of a grow hold (6.5 each). Kept
/// in entries, not buckets, so a shrink of a sparse table, whose buckets
/// hold one entry or none, moves as many entries per write as a grow.
pub(super) const WRITE_BUDGET: usize = 2 * BUCKET_SLOTS;
/// Passing over an evacuated or empty old bucket (one load of its tophash
/// word, in order) costs this many times less than moving an entry (hash,
/// copy, find a slot). With `WRITE_BUDGET` a write that moves nothing
/// passes over 1 024 buckets, as a Go write may.
pub(super) const SKIPS_PER_ENTRY: usize = 64;
/// The small remainder: a write that leaves no more than this much work
/// (eight writes' worth, in the units of `migrate`: 128 entries to move, or
/// 8 192 old buckets to pass over — 64 KiB of tophash words) finishes the
/// migration there and then.
pub(super) const FINISH_WORK: usize = 8 * WRITE_BUDGET * SKIPS_PER_ENTRY;
/// The old array's bodies are released from the tail in pieces of at least
/// this size, each one `realloc` that shrinks the block in place.
pub(super) const RELEASE_CHUNK_BYTES: usize = 1 << 20;

/// A migration in progress from `old` to the table's current array.
pub(super) struct MigrationState {
    pub(super) kind: MigrationKind,
    pub(super) old: BucketArray,
    /// Overflow buckets hanging off `old`.
    pub(super) old_overflow: usize,
    /// Every old bucket at index `>= cursor` is evacuated.
    pub(super) cursor: usize,
    /// Old buckets evacuated so far; the migration ends at `2^old.log2`.
    pub(super) evacuated: usize,
    /// Entries still in the old array (updated in place as each leaves, so
    /// a panic cannot lose a change).
    pub(super) old_len: usize,
}

impl MigrationState {
    /// What is left to do, in the units of `migrate`: every entry still in
    /// the old array to move, every old bucket below the cursor to look at.
    pub(super) fn remaining_work(&self) -> usize {
        self.old_len
            .saturating_mul(SKIPS_PER_ENTRY)
            .saturating_add(self.cursor)
    }
}

impl<K, V, A: Allocator> RawTable<K, V, A> {
    /// Whether `start_migration_if_due` could start anything: a few
    /// comparisons, inlined into every write; a false positive (a shrink
    /// under `ShrinkPolicy::Never`) only costs the call.
    #[inline(always)]
    pub(super) fn migration_may_be_due(&self, len: usize) -> bool {
        len > self.current.capacity
            || self.overflow > self.current.mask
            || self.shrink_may_be_due(len)
    }

    /// Whether a shrink could be due with `len` entries: the only migration
    /// a write that takes entries out can make due (a grow needs more
    /// entries, a compaction more overflow buckets; like Go, only an insert
    /// starts one).
    #[inline(always)]
    pub(super) fn shrink_may_be_due(&self, len: usize) -> bool {
        len * SHRINK_DIVISOR < self.current.capacity && self.current.log2 > self.min_log2
    }

    /// Start a migration if the table is due one with `len` entries:
    /// grow, compact or (under `ShrinkPolicy::Auto`) shrink. Returns whether
    /// one started. A shrink that cannot get memory is simply not started.
    #[cold]
    #[inline(never)]
    pub(super) fn start_migration_if_due(&mut self, len: usize) -> bool {
        let log2 = self.current.log2;
        if len > capacity_of(log2) {
            let grown = self.allocate_array(log2 + 1, 1 << (log2 + 1));
            self.begin_migration(MigrationKind::Grow, grown.unwrap_or_else(|e| e.handle()));
        } else if self.overflow >= compact_threshold(log2) {
            let same = self.allocate_array(log2, 1 << log2);
            self.begin_migration(MigrationKind::Compact, same.unwrap_or_else(|e| e.handle()));
        } else if self.policy == ShrinkPolicy::Auto
            && self.shrink_armed
            && log2 > self.min_log2
            && len * SHRINK_DIVISOR < capacity_of(log2)
        {
            // Land at no more than half load, inside the hysteresis band.
            let target = log2_for(len.saturating_mul(2)).map_or(log2, |t| t.max(self.min_log2));
            if target >= log2 {
                return false;
            }
            match self.allocate_array(target, 1 << target) {
                Ok(smaller) => self.begin_migration(MigrationKind::Shrink, smaller),
                Err(_) => return false,
            }
        } else {
            return false;
        }
        true
    }

    pub(super) fn begin_migration(&mut self, kind: MigrationKind, new: BucketArray) {
        debug_assert!(self.migration.is_none() && self.current.allocated);
        self.started.count(kind);
        if kind != MigrationKind::Compact {
            self.shrink_armed = false;
        }
        let old = mem::replace(&mut self.current, new);
        let buckets = old.buckets();
        self.migration = Some(MigrationState {
            kind,
            old,
            old_overflow: mem::replace(&mut self.overflow, 0),
            cursor: buckets,
            evacuated: 0,
            old_len: self.len,
        });
    }

    /// A write's share of the running migration: [`WRITE_BUDGET`] entries'
    /// worth of work, then — if what is left is small — the rest, so a map
    /// whose writes stop is not left holding two arrays.
    pub(super) fn migrate_for_write(&mut self, hasher: &impl Fn(&K) -> u64) {
        self.migrate(WRITE_BUDGET, hasher);
        if self
            .migration
            .as_ref()
            .is_some_and(|m| m.remaining_work() <= FINISH_WORK)
        {
            self.migrate(usize::MAX, hasher);
        }
    }

    /// Do up to `budget` entries' worth of the running migration, and at
    /// least one step: walk the cursor down, passing over evacuated and
    /// empty old buckets (each costs `1 / SKIPS_PER_ENTRY` of an entry)
    /// and evacuating loaded ones (each costs the entries it moves, at
    /// least one). Releases the evacuated tail; ends the migration when
    /// every old bucket is evacuated. A bucket started is always finished,
    /// so a step may go over budget by one bucket's chain.
    pub(super) fn migrate(&mut self, budget: usize, hasher: &impl Fn(&K) -> u64) {
        let mut work = budget.max(1).saturating_mul(SKIPS_PER_ENTRY);
        while work > 0 {
            let Some(m) = self.migration.as_mut() else {
                return;
            };
            if m.cursor == 0 {
                break;
            }
            let index = m.cursor - 1;
            let head = m.old.head::<K, V>(index);
            // SAFETY: below the cursor, old buckets are allocated.
            let group = unsafe { head.tophash() };
            if group.get(0) == Tophash::EVACUATED {
                m.cursor -= 1;
                work -= 1;
            } else if !group.match_full().any() && unsafe { head.overflow::<K, V>() }.is_none() {
                // SAFETY: as above; an empty bucket with no chain is
                // evacuated by marking it.
                unsafe { head.set_tophash(Group::repeat(Tophash::EVACUATED)) };
                m.evacuated += 1;
                m.cursor -= 1;
                work -= 1;
            } else {
                // The walk reads the old array downward, body by body: ask
                // for the body two buckets on (its first two cache lines,
                // or its one if it is no bigger)
                // while this one moves. Measured at 1e6 keys, growing from
                // empty: 1.78-1.93x hashbrown's time without, 1.63-1.82x
                // with (a distance of 4, or prefetching the destination
                // buckets or the next chain too, measured no better).
                if index >= 2 {
                    let ahead = m.old.head::<K, V>(index - 2).body.as_ptr();
                    prefetch(ahead);
                    if Part::Bodies.bucket_bytes::<K, V>() > 64 {
                        prefetch(ahead.wrapping_add(64));
                    }
                }
                let moved = self.evacuate(index, hasher);
                self.migration.as_mut().expect("migrating").cursor -= 1;
                work = work.saturating_sub(moved.max(1).saturating_mul(SKIPS_PER_ENTRY));
            }
        }
        if self.migration.is_some() {
            self.release_evacuated_tail();
        }
        let m = self.migration.as_ref().expect("migrating");
        if m.evacuated == m.old.buckets() {
            self.end_migration();
        }
    }

    /// Move every entry of old bucket `index` (and its chain) to the current
    /// array, then free the chain and mark the bucket `EVACUATED`. Returns
    /// how many entries moved.
    pub(super) fn evacuate(&mut self, index: usize, hasher: &impl Fn(&K) -> u64) -> usize {
        let head = self
            .migration
            .as_ref()
            .expect("migrating")
            .old
            .head::<K, V>(index);
        let mut moved = 0;
        // SAFETY: the old bucket is not evacuated, so it and its chain are
        // live; destination slots come from `free_slot`, empty and live.
        unsafe {
            let mut bucket = head;
            loop {
                // User code first: if a hash panics, nothing of this bucket
                // has moved yet (earlier buckets of the chain are moved and
                // their slots marked empty, so a chain can be split between
                // the two arrays — each key still in one place).
                let full = bucket.tophash().match_full();
                let mut hashes = [0u64; BUCKET_SLOTS];
                for slot in full {
                    hashes[slot] = hasher(&*bucket.key::<K, V>(slot));
                }
                for slot in full {
                    let hash = hashes[slot];
                    let (dst, dst_slot) = self.free_slot(hash);
                    ptr::copy_nonoverlapping(
                        bucket.key::<K, V>(slot),
                        dst.key::<K, V>(dst_slot),
                        1,
                    );
                    ptr::copy_nonoverlapping(
                        bucket.value::<K, V>(slot),
                        dst.value::<K, V>(dst_slot),
                        1,
                    );
                    dst.set_slot_in_word(dst_slot, Tophash::of(hash));
                    // Moved: the old slot lets go of it before anything
                    // else can unwind (`free_slot` may call the allocator).
                    bucket.set_slot(slot, Tophash::EMPTY_ONE);
                }
                // Counted per bucket: nothing between the hashes and here
                // unwinds (an allocation failure in `free_slot` aborts).
                moved += full.count_slots();
                let m = self.migration.as_mut().expect("migrating");
                m.old_len = m.old_len.saturating_sub(full.count_slots());
                match bucket.overflow::<K, V>() {
                    Some(next) => bucket = next,
                    None => break,
                }
            }
            let mut next = head.overflow::<K, V>();
            head.set_overflow(None);
            head.set_tophash(Group::repeat(Tophash::EVACUATED));
            let mut freed = 0;
            while let Some(bucket) = next {
                next = bucket.overflow::<K, V>();
                self.free_overflow(bucket);
                freed += 1;
            }
            let m = self.migration.as_mut().expect("migrating");
            m.old_overflow -= freed;
            m.evacuated += 1;
        }
        moved
    }

    /// Give back the old array's evacuated tail (`>= cursor`), all three
    /// parts, once there is at least `RELEASE_CHUNK_BYTES` of it. Each part
    /// shrinks on its own; one the allocator will not shrink stays as it is.
    pub(super) fn release_evacuated_tail(&mut self) {
        let m = self.migration.as_mut().expect("migrating");
        let per_bucket = primary_bucket_bytes::<K, V>();
        let held = m.old.block(Part::Tophash).held;
        if m.cursor == 0 || held <= m.cursor || (held - m.cursor) * per_bucket < RELEASE_CHUNK_BYTES
        {
            return;
        }
        for part in Part::ALL {
            let Block { ptr, held } = m.old.block(part);
            let (Ok(Some(old_layout)), Ok(Some(new_layout))) =
                (part.layout::<K, V>(held), part.layout::<K, V>(m.cursor))
            else {
                continue;
            };
            self.allocator_calls += 1;
            // SAFETY: the block has `old_layout`; the new one is smaller with
            // the same alignment; the buckets past the cursor are evacuated,
            // and nothing reads them but `is_evacuated`, which checks `held`.
            if let Ok(block) = unsafe { self.alloc.shrink(ptr, old_layout, new_layout) } {
                m.old.blocks[part.index()] = Block {
                    ptr: block.cast(),
                    held: m.cursor,
                };
            }
        }
    }

    pub(super) fn end_migration(&mut self) {
        let m = self.migration.take().expect("migrating");
        debug_assert_eq!(m.old_overflow, 0);
        self.free_array(m.old);
    }

    /// Complete a running migration now.
    pub(crate) fn finish_migration(&mut self, hasher: impl Fn(&K) -> u64) {
        self.settle();
        while self.migration.is_some() {
            self.migrate(usize::MAX, &hasher);
        }
    }

    /// Do up to `budget` entries' worth of a running migration (at least one
    /// step; see `migrate`). Returns whether a migration still runs.
    pub(crate) fn step_migration(&mut self, budget: usize, hasher: impl Fn(&K) -> u64) -> bool {
        self.settle();
        if self.migration.is_some() {
            self.migrate(budget, &hasher);
        }
        self.migration.is_some()
    }

    /// The count of entries in the old array, when `which` is it and a
    /// migration runs: for the primitives that take entries out of either.
    pub(super) fn old_len_of(&mut self, which: ArrayId) -> Option<&mut usize> {
        match &mut self.migration {
            Some(m) if which == ArrayId::Old => Some(&mut m.old_len),
            _ => None,
        }
    }

    /// Make room for `additional` more entries without a grow; with
    /// `Floor::Raise`, automatic shrinking will not go below that. Allocates
    /// first, so on error nothing has changed; then finishes any running
    /// migration and starts one to the bigger array, which later writes
    /// complete (no stall here for a big table).
    pub(crate) fn try_reserve(
        &mut self,
        additional: usize,
        floor: Floor,
        hasher: impl Fn(&K) -> u64,
    ) -> Result<(), TryReserveError> {
        self.settle();
        let wanted = self
            .len
            .checked_add(additional)
            .ok_or(TryReserveError::CapacityOverflow)?;
        let log2 = log2_for(wanted)?;
        if !self.current.allocated {
            if wanted > 0 {
                self.allocate_current(log2)?;
                if floor == Floor::Raise {
                    self.min_log2 = log2;
                }
            }
            // Room asked for is room to fill: no shrink until entries leave.
            self.shrink_armed = false;
            return Ok(());
        }
        if log2 <= self.current.log2 {
            if floor == Floor::Raise {
                self.min_log2 = self.min_log2.max(log2);
            }
            // Room for a quarter of the array or more is room to fill (a
            // shrink would take it away); a small reserve (`extend` of a few
            // entries after `clear`) leaves a due shrink due.
            if wanted.saturating_mul(SHRINK_DIVISOR) >= self.current.capacity {
                self.shrink_armed = false;
            }
            return Ok(());
        }
        let bigger = self.allocate_array(log2, 1 << log2)?;
        // Finishing the migration runs `Hash`: free `bigger` if it panics.
        let mut held = guard((&mut *self, Some(bigger)), |(table, array)| {
            if let Some(array) = array.take() {
                table.free_array(array);
            }
        });
        let (table, array) = &mut *held;
        table.finish_migration(&hasher);
        let bigger = array.take().expect("still held");
        if floor == Floor::Raise {
            table.min_log2 = log2;
        }
        table.begin_migration(MigrationKind::Grow, bigger);
        Ok(())
    }

    /// Finish any migration, then move to the smallest array that holds
    /// `max(len, min_capacity)` entries, with no overflow buckets if one
    /// rebuild can do it. Frees everything when that is zero.
    pub(crate) fn shrink_to(&mut self, min_capacity: usize, hasher: impl Fn(&K) -> u64) {
        self.finish_migration(&hasher);
        let wanted = self.len.max(min_capacity);
        if wanted == 0 {
            self.reset();
            return;
        }
        let Ok(log2) = log2_for(wanted) else { return };
        self.min_log2 = self.min_log2.min(log2);
        if !self.current.allocated || (log2 >= self.current.log2 && self.overflow == 0) {
            return;
        }
        let log2 = log2.min(self.current.log2);
        let kind = if log2 < self.current.log2 {
            MigrationKind::Shrink
        } else {
            MigrationKind::Compact
        };
        if let Ok(array) = self.allocate_array(log2, 1 << log2) {
            self.begin_migration(kind, array);
            self.finish_migration(&hasher);
        }
    }
}
