//! The default hasher: foldhash behind gomap's own names, so a foldhash
//! upgrade changes no public type.

use core::fmt;
use core::hash::{BuildHasher, Hasher};

/// gomap's default [`BuildHasher`] (also named [`DefaultHashBuilder`](crate::DefaultHashBuilder)):
/// foldhash, seeded at random for every map, like Go's per-map `hash0`.
///
/// Fast, and only minimally resistant to HashDoS: foldhash's seed keeps an
/// attacker who cannot see hashes or iteration order from picking colliding
/// keys cheaply, but it is not a keyed cryptographic hash. For keys chosen
/// by an adversary who can observe the map, use a keyed hasher such as
/// `std::hash::RandomState` (SipHash) with
/// [`HashMap::with_hasher`](crate::HashMap::with_hasher).
///
/// ```
/// use gomap::hash_map::{HashMap, RandomState};
///
/// let mut map = HashMap::with_hasher(RandomState::new());
/// map.insert(1, "one");
/// assert_eq!(map[&1], "one");
/// ```
#[derive(Clone, Default)]
pub struct RandomState(foldhash::fast::RandomState);

impl RandomState {
    /// A builder with a fresh random seed.
    #[inline]
    pub fn new() -> Self {
        Self::default()
    }
}

impl BuildHasher for RandomState {
    type Hasher = DefaultHasher;

    #[inline]
    fn build_hasher(&self) -> DefaultHasher {
        DefaultHasher(self.0.build_hasher())
    }
}

impl fmt::Debug for RandomState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The seed stays private, as std's `RandomState` keeps its keys.
        f.debug_struct("RandomState").finish_non_exhaustive()
    }
}

/// The [`Hasher`] of [`RandomState`]: foldhash's fast hasher.
///
/// [`new`](DefaultHasher::new) and [`Default`] give a hasher with a fixed
/// seed, the same in every process, like std's `DefaultHasher::new()`: for
/// hashes that must be reproducible, not for a map's keys (a map hashes with
/// [`RandomState`]'s random seed). The hashes themselves are foldhash's and
/// may change with a gomap release, as std's may with a Rust release.
///
/// ```
/// use gomap::hash_map::DefaultHasher;
/// use std::hash::{Hash, Hasher};
///
/// let hash = |s: &str| {
///     let mut h = DefaultHasher::new();
///     s.hash(&mut h);
///     h.finish()
/// };
/// assert_eq!(hash("gopher"), hash("gopher"));
/// ```
#[derive(Clone)]
pub struct DefaultHasher(foldhash::fast::FoldHasher<'static>);

impl DefaultHasher {
    /// A hasher with a fixed seed (see the type's docs).
    #[inline]
    pub fn new() -> Self {
        DefaultHasher(foldhash::fast::FixedState::default().build_hasher())
    }
}

impl Default for DefaultHasher {
    /// [`DefaultHasher::new`]: a fixed seed.
    #[inline]
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Debug for DefaultHasher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DefaultHasher").finish_non_exhaustive()
    }
}

/// Forwards every `Hasher` method foldhash specialises, so hashing through
/// the newtype costs exactly what hashing with foldhash does.
macro_rules! forward_writes {
    ($($method:ident($t:ty)),* $(,)?) => {$(
        #[inline(always)]
        fn $method(&mut self, i: $t) {
            self.0.$method(i);
        }
    )*};
}

impl Hasher for DefaultHasher {
    #[inline(always)]
    fn finish(&self) -> u64 {
        self.0.finish()
    }

    #[inline(always)]
    fn write(&mut self, bytes: &[u8]) {
        self.0.write(bytes);
    }

    forward_writes!(
        write_u8(u8),
        write_u16(u16),
        write_u32(u32),
        write_u64(u64),
        write_u128(u128),
        write_usize(usize),
        write_i8(i8),
        write_i16(i16),
        write_i32(i32),
        write_i64(i64),
        write_i128(i128),
        write_isize(isize),
    );
}
