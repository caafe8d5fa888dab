//! [`GovernedSet`]: a governed `HashSet`, a [`Governed`] map of `T → ()`.

use std::borrow::Borrow;
use std::fmt;
use std::hash::{BuildHasher, Hash};
use std::panic::Location;

use gomap::{DefaultHashBuilder, MemStats, TryReserveError};

use crate::{Builder, Governed, Level, MapReport, Refused};

/// A set registered, measured and watermarked like a [`Governed`] map:
/// every write publishes its figures and moves its level; at red,
/// [`try_insert`](Self::try_insert) refuses new elements.
///
/// ```
/// use gomap_govern::{GovernedSet, Level, Registry, Watermarks};
///
/// let registry = Registry::new();
/// let mut seen: GovernedSet<u64> = GovernedSet::builder("seen-ids")
///     .registry(&registry)
///     .watermarks(Watermarks::entries(100, 200, 300)?)
///     .build_set();
/// for id in 0..150 {
///     seen.insert(id);
/// }
/// assert_eq!(seen.level(), Level::Yellow);
/// assert!(seen.contains(&7));
/// # Ok::<(), gomap_govern::WatermarkError>(())
/// ```
pub struct GovernedSet<T, S = DefaultHashBuilder> {
    map: Governed<T, (), S>,
}

impl GovernedSet<()> {
    /// Starts a builder for a set named `name`; finish it with
    /// [`Builder::build_set`].
    pub fn builder(name: impl Into<String>) -> Builder<'static> {
        Governed::builder(name)
    }
}

impl<T> GovernedSet<T> {
    /// A set named `name` in [`Registry::global`](crate::Registry::global),
    /// without watermarks; its creation site is the caller's.
    #[track_caller]
    pub fn new(name: impl Into<String>) -> Self {
        Governed::builder(name).build_set()
    }
}

impl<T, S> GovernedSet<T, S> {
    pub(crate) fn from_map(map: Governed<T, (), S>) -> Self {
        GovernedSet { map }
    }

    /// The name given at construction.
    pub fn name(&self) -> &str {
        self.map.name()
    }

    /// Where the set was created.
    pub fn site(&self) -> &'static Location<'static> {
        self.map.site()
    }

    /// The set's level.
    pub fn level(&self) -> Level {
        self.map.level()
    }

    /// The set's figures, level and trend, as the registry has them.
    pub fn report(&self) -> MapReport {
        self.map.report()
    }

    /// Elements in the set.
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// Whether the set is empty.
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// Elements it can hold without allocating.
    pub fn capacity(&self) -> usize {
        self.map.capacity()
    }

    /// Its table's memory.
    pub fn mem_stats(&self) -> MemStats {
        self.map.mem_stats()
    }

    /// Every element, in the table's order.
    pub fn iter(&self) -> gomap::hash_map::Keys<'_, T, ()> {
        self.map.keys()
    }
}

impl<T: Eq + Hash, S: BuildHasher> GovernedSet<T, S> {
    /// Adds `value`; `false` if it was there already. Always adds, even at
    /// red: shed load with [`try_insert`](Self::try_insert).
    pub fn insert(&mut self, value: T) -> bool {
        self.map.insert(value, ()).is_none()
    }

    /// Adds `value` unless it is new and the set (or the registry total) is
    /// at red; the refusal hands the element back in `key`.
    pub fn try_insert(&mut self, value: T) -> Result<bool, Refused<T, ()>> {
        self.map.try_insert(value, ()).map(|old| old.is_none())
    }

    /// Whether `value` is in the set.
    pub fn contains<Q: Hash + Eq + ?Sized>(&self, value: &Q) -> bool
    where
        T: Borrow<Q>,
    {
        self.map.contains_key(value)
    }

    /// Removes `value`; whether it was there.
    pub fn remove<Q: Hash + Eq + ?Sized>(&mut self, value: &Q) -> bool
    where
        T: Borrow<Q>,
    {
        self.map.remove(value).is_some()
    }

    /// Removes `value` and returns the element the set held.
    pub fn take<Q: Hash + Eq + ?Sized>(&mut self, value: &Q) -> Option<T>
    where
        T: Borrow<Q>,
    {
        self.map.remove_entry(value).map(|(k, ())| k)
    }

    /// Keeps the elements for which `f` returns `true`.
    pub fn retain(&mut self, mut f: impl FnMut(&T) -> bool) {
        self.map.retain(|k, ()| f(k));
    }

    /// Drops every element; the table keeps its buckets (and, under
    /// `ShrinkPolicy::Auto`, gives them back over the next writes).
    pub fn clear(&mut self) {
        self.map.clear();
    }

    /// Drops every element and frees the table now.
    pub fn reset(&mut self) {
        self.map.reset();
    }

    /// Gives back what the table holds beyond its elements.
    pub fn shrink_to_fit(&mut self) {
        self.map.shrink_to_fit();
    }

    /// Room for `additional` more elements.
    pub fn reserve(&mut self, additional: usize) {
        self.map.reserve(additional);
    }

    /// Room for `additional` more elements, or an error (the set unchanged).
    pub fn try_reserve(&mut self, additional: usize) -> Result<(), TryReserveError> {
        self.map.try_reserve(additional)
    }

    /// Also counts the bytes each element owns (a `String`'s text, say) in
    /// the set's figures and watermarks.
    pub fn track_owned_bytes(&mut self, element_bytes: fn(&T) -> usize) {
        self.map.track_owned_bytes(element_bytes, |_| 0);
    }
}

impl<T: Eq + Hash, S: BuildHasher> Extend<T> for GovernedSet<T, S> {
    fn extend<I: IntoIterator<Item = T>>(&mut self, iter: I) {
        for value in iter {
            self.insert(value);
        }
    }
}

impl<T, S> fmt::Debug for GovernedSet<T, S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GovernedSet")
            .field("name", &self.name())
            .field("site", &self.site())
            .field("len", &self.len())
            .field("level", &self.level())
            .finish()
    }
}
