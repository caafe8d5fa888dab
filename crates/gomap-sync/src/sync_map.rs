//! [`SyncMap`]: Go's `sync.Map` for read-mostly data.
//!
//! # Design (Go's, in Rust terms)
//!
//! Two maps share their entries. The *read* map sits in an immutable
//! snapshot behind an atomic `Arc` cell (arc-swap): readers load it without a
//! lock. The *dirty* map lives under a mutex and holds every key of the read
//! map that is not expunged, plus the keys stored since the last promotion.
//! An entry is an `Arc<Entry>` reachable from both maps, so a value stored
//! for a key the read map already has is swapped into the entry atomically,
//! without the mutex.
//!
//! # Invariants
//!
//! An entry's cell `p` is in one of three states:
//! - `None` — deleted. Either there is no dirty map, or the dirty map holds
//!   this entry (it may be in the dirty map only).
//! - `Some(Slot::Expunged)` — deleted, a dirty map exists, and the entry is
//!   **not** in it. Only code holding the mutex moves an entry into or out of
//!   this state, so under the mutex "expunged" is stable.
//! - `Some(Slot::Value(v))` — live; in the read map, the dirty map, or both.
//!
//! Map-level:
//! - `amended` of the current snapshot is true once the dirty map may hold
//!   a key the read map lacks; it is set under the mutex and never cleared
//!   (a new snapshot replaces the old one instead). `amended` implies a
//!   dirty map.
//! - The snapshot is replaced only under the mutex: by a promotion (the
//!   dirty map becomes the read map, after as many misses as it has entries,
//!   or at `range`) or by `clear` (an empty read map, no dirty map).
//! - `live` counts entries in the `Value` state of the snapshot's generation;
//!   a `clear` starts a new generation, so a store that raced with the clear
//!   into an entry of the old generation cannot skew `len`.

use std::borrow::Borrow;
use std::fmt;
use std::hash::{BuildHasher, Hash};
use std::ops::Deref;
use std::sync::Arc;

use gomap::{DefaultHashBuilder, HashMap, MemStats};

use crate::sync::{ArcCell, AtomicBool, AtomicIsize, Guard, Mutex, Ordering};

/// What a live or expunged entry's cell points at.
enum Slot<V> {
    Value(V),
    Expunged,
}

type Cell<V> = Option<Arc<Slot<V>>>;

fn addr<V>(cell: &Cell<V>) -> *const Slot<V> {
    cell.as_ref().map_or(std::ptr::null(), Arc::as_ptr)
}

fn is_expunged<V>(cell: &Cell<V>) -> bool {
    matches!(cell.as_deref(), Some(Slot::Expunged))
}

/// One key's value, shared by the read and the dirty map.
struct Entry<V> {
    p: ArcCell<Cell<V>>,
    /// The live counter of the generation this entry was made in.
    live: Arc<AtomicIsize>,
}

impl<V> Entry<V> {
    /// A live entry; the caller counts it in `live` once it is in a map.
    fn new(value: Arc<Slot<V>>, live: Arc<AtomicIsize>) -> Self {
        Entry {
            p: ArcCell::new(Some(value)),
            live,
        }
    }

    /// The value, if live.
    fn load(&self) -> Option<Ref<V>> {
        Ref::of(self.p.load())
    }

    /// Stores `new` unless the entry is expunged; returns the previous value.
    fn try_swap(&self, new: &Arc<Slot<V>>) -> Result<Option<Ref<V>>, ()> {
        let mut current = self.p.load();
        loop {
            if is_expunged(&current) {
                return Err(());
            }
            let previous = self.p.compare_and_swap(&current, Some(new.clone()));
            if addr(&previous) == addr(&current) {
                if previous.is_none() {
                    self.live.fetch_add(1, Ordering::Relaxed);
                }
                return Ok(Ref::of(previous));
            }
            current = previous;
        }
    }

    /// Expunged → deleted. Returns whether it was expunged (the caller then
    /// puts the entry back into the dirty map). Needs the mutex.
    fn unexpunge_locked(&self) -> bool {
        let current = self.p.load();
        is_expunged(&current) && {
            let previous = self.p.compare_and_swap(&current, None);
            addr(&previous) == addr(&current)
        }
    }

    /// Stores `new` unconditionally; the entry must not be expunged (the
    /// caller holds the mutex and has checked).
    fn swap_locked(&self, new: Arc<Slot<V>>) -> Option<Ref<V>> {
        let previous = self.p.swap(Some(new));
        if previous.is_none() {
            self.live.fetch_add(1, Ordering::Relaxed);
        }
        Ref::of(Guard::from_inner(previous))
    }

    /// The live value, or `new` stored if the entry is deleted; `Err` if it
    /// is expunged. `Ok((value, loaded))`.
    fn try_load_or_store(&self, new: &Arc<Slot<V>>) -> Result<(Ref<V>, bool), ()> {
        let mut current = self.p.load();
        loop {
            if is_expunged(&current) {
                return Err(());
            }
            if current.is_some() {
                return Ok((Ref(current), true));
            }
            let previous = self.p.compare_and_swap(&current, Some(new.clone()));
            if addr(&previous) == addr(&current) {
                self.live.fetch_add(1, Ordering::Relaxed);
                return Ok((Ref(Guard::from_inner(Some(new.clone()))), false));
            }
            current = previous;
        }
    }

    /// Live → deleted, if `matches` the live value. Returns the value taken.
    fn delete_if(&self, mut matches: impl FnMut(&V) -> bool) -> Option<Ref<V>> {
        let mut current = self.p.load();
        loop {
            match current.as_deref() {
                Some(Slot::Value(v)) if matches(v) => {}
                _ => return None,
            }
            let previous = self.p.compare_and_swap(&current, None);
            if addr(&previous) == addr(&current) {
                self.live.fetch_sub(1, Ordering::Relaxed);
                return Ref::of(previous);
            }
            current = previous;
        }
    }

    /// Live and equal to `old` → `new`. Returns whether it swapped.
    fn try_compare_and_swap(&self, old: &V, new: &Arc<Slot<V>>) -> bool
    where
        V: PartialEq,
    {
        let mut current = self.p.load();
        loop {
            match current.as_deref() {
                Some(Slot::Value(v)) if v == old => {}
                _ => return false,
            }
            let previous = self.p.compare_and_swap(&current, Some(new.clone()));
            if addr(&previous) == addr(&current) {
                return true;
            }
            current = previous;
        }
    }

    /// Deleted → expunged. Returns whether the entry is expunged now (and so
    /// stays out of the new dirty map). Needs the mutex.
    fn try_expunge_locked(&self, expunged: &Arc<Slot<V>>) -> bool {
        let mut current = self.p.load();
        while current.is_none() {
            let previous = self.p.compare_and_swap(&current, Some(expunged.clone()));
            if addr(&previous) == addr(&current) {
                return true;
            }
            current = previous;
        }
        is_expunged(&current)
    }
}

/// A value loaded from a [`SyncMap`]: a cheap handle that keeps the value
/// alive (it may have been replaced in the map since) and derefs to it.
///
/// Meant to be short-lived, like arc-swap's guards it is built on: a thread
/// holding many at once makes its later loads take a slower path (a
/// reference count instead of a thread-local slot).
pub struct Ref<V>(Guard<Cell<V>>);

impl<V> Ref<V> {
    /// The handle of a cell's value, if the cell holds one.
    fn of(cell: Guard<Cell<V>>) -> Option<Self> {
        matches!(cell.as_deref(), Some(Slot::Value(_))).then_some(Ref(cell))
    }
}

impl<V> Deref for Ref<V> {
    type Target = V;
    fn deref(&self) -> &V {
        match self.0.as_deref() {
            Some(Slot::Value(v)) => v,
            // `Ref::of` and the map only make a `Ref` of a value.
            _ => unreachable!("a Ref always holds a value"),
        }
    }
}

impl<V: fmt::Debug> fmt::Debug for Ref<V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        (**self).fmt(f)
    }
}

impl<V: PartialEq> PartialEq<V> for Ref<V> {
    fn eq(&self, other: &V) -> bool {
        **self == *other
    }
}

/// The read-only snapshot.
struct ReadOnly<K, V, S> {
    m: HashMap<K, Arc<Entry<V>>, S>,
    /// The dirty map may hold keys `m` lacks. Only ever set (under the
    /// mutex), never cleared.
    amended: AtomicBool,
    /// Live entries of this generation (see the module invariants).
    live: Arc<AtomicIsize>,
}

impl<K, V, S> ReadOnly<K, V, S> {
    fn amended(&self) -> bool {
        self.amended.load(Ordering::SeqCst)
    }
}

/// What the mutex guards.
struct Dirty<K, V, S> {
    /// `None` while the read map holds everything.
    m: Option<HashMap<K, Arc<Entry<V>>, S>>,
    /// Lookups that missed the read map since the last promotion.
    misses: usize,
    /// One `Expunged` slot shared by every expunged entry.
    expunged: Arc<Slot<V>>,
}

/// Go's `sync.Map`: a concurrent map for keys written once and read many
/// times, or for goroutines (threads) that work on disjoint keys.
///
/// Loads of keys already promoted to the read snapshot take no lock; stores
/// to keys the snapshot holds swap the value in place without a lock. New
/// keys go to a dirty map under a mutex, and the dirty map becomes the
/// snapshot once lookups have missed the snapshot as many times as the dirty
/// map has entries. [`clear`](Self::clear) swaps in an empty snapshot in one
/// atomic step.
///
/// For write-heavy or mixed work use [`ShardedMap`](crate::ShardedMap): every
/// new key after a promotion copies the read map into a new dirty map, as in
/// Go.
///
/// ```
/// use gomap_sync::SyncMap;
///
/// let config: SyncMap<&str, String> = SyncMap::new();
/// config.store("region", "eu-west".to_string());
/// assert_eq!(*config.load("region").unwrap(), "eu-west");
/// let (v, loaded) = config.load_or_store("region", "us-east".to_string());
/// assert!(loaded && *v == "eu-west");
/// assert!(config.compare_and_swap("region", &"eu-west".to_string(), "ap-south".to_string()));
/// config.clear();
/// assert!(config.load("region").is_none());
/// ```
pub struct SyncMap<K, V, S = DefaultHashBuilder> {
    read: ArcCell<Arc<ReadOnly<K, V, S>>>,
    mu: Mutex<Dirty<K, V, S>>,
    hasher: S,
}

/// The memory of a [`SyncMap`]: both of its maps.
///
/// The maps hold `(K, Arc<entry>)` pairs; each entry and each stored value
/// is a separate small allocation that these numbers do not include.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SyncMapStats {
    /// Live entries.
    pub len: usize,
    /// The read snapshot's map.
    pub read: MemStats,
    /// The dirty map, if there is one.
    pub dirty: Option<MemStats>,
    /// Misses counted towards the next promotion.
    pub misses: usize,
}

impl<K, V> SyncMap<K, V, DefaultHashBuilder> {
    /// An empty map with a random seed.
    pub fn new() -> Self {
        Self::with_hasher(DefaultHashBuilder::default())
    }
}

impl<K, V> Default for SyncMap<K, V, DefaultHashBuilder> {
    fn default() -> Self {
        Self::new()
    }
}

impl<K, V, S: Clone> SyncMap<K, V, S> {
    /// An empty map hashing with `hasher`.
    pub fn with_hasher(hasher: S) -> Self {
        SyncMap {
            read: ArcCell::new(Arc::new(Self::empty_snapshot(&hasher))),
            mu: Mutex::new(Dirty {
                m: None,
                misses: 0,
                expunged: Arc::new(Slot::Expunged),
            }),
            hasher,
        }
    }

    fn empty_snapshot(hasher: &S) -> ReadOnly<K, V, S> {
        ReadOnly {
            m: HashMap::with_hasher(hasher.clone()),
            amended: AtomicBool::new(false),
            live: Arc::new(AtomicIsize::new(0)),
        }
    }

    /// Live entries. Exact when no write is running; approximate under
    /// concurrent writes (each write counts itself just after it lands).
    pub fn len(&self) -> usize {
        self.read.load().live.load(Ordering::Relaxed).max(0) as usize
    }

    /// Whether [`len`](Self::len) is 0.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Removes every entry in one atomic step: the snapshot is swapped for an
    /// empty one and the dirty map is dropped, under the mutex. Both maps'
    /// memory goes back once the last reader of the old snapshot lets go.
    pub fn clear(&self) {
        let mut dirty = self.mu.lock();
        let old_read = self.read.swap(Arc::new(Self::empty_snapshot(&self.hasher)));
        let old_dirty = dirty.m.take();
        dirty.misses = 0;
        drop(dirty);
        drop((old_read, old_dirty));
    }

    /// The memory of both maps.
    pub fn mem_stats(&self) -> SyncMapStats {
        let dirty = self.mu.lock();
        let read = self.read.load();
        SyncMapStats {
            len: self.len(),
            read: read.m.mem_stats(),
            dirty: dirty.m.as_ref().map(HashMap::mem_stats),
            misses: dirty.misses,
        }
    }

    /// The dirty map becomes the snapshot (a no-op when there is none).
    fn promote_locked(&self, dirty: &mut Dirty<K, V, S>) {
        if let Some(m) = dirty.m.take() {
            let live = self.read.load().live.clone();
            self.read.store(Arc::new(ReadOnly {
                m,
                amended: AtomicBool::new(false),
                live,
            }));
        }
        dirty.misses = 0;
    }

    /// Counts a lookup that missed the snapshot; promotes the dirty map once
    /// the misses have paid for copying it.
    fn miss_locked(&self, dirty: &mut Dirty<K, V, S>) {
        dirty.misses += 1;
        if dirty.misses >= dirty.m.as_ref().map_or(0, HashMap::len) {
            self.promote_locked(dirty);
        }
    }
}

impl<K: Hash + Eq + Clone, V, S: BuildHasher + Clone> SyncMap<K, V, S> {
    /// The key's value. Takes no lock when the key is in the snapshot, or
    /// when no new key has been stored since the last promotion.
    pub fn load<Q>(&self, key: &Q) -> Option<Ref<V>>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let read = self.read.load();
        if let Some(entry) = read.m.get(key) {
            return entry.load();
        }
        if !read.amended() {
            return None;
        }
        drop(read);
        self.in_dirty(key, true, |entry, _| entry.load())
    }

    /// Looks a key up under the mutex: the snapshot again (it may have been
    /// promoted), then the dirty map, counting a miss (when the key is
    /// absent too only if `count_absent`, as Go's operations differ). `f`
    /// gets the entry and, when it came from the dirty map, that map.
    fn in_dirty<Q, R>(
        &self,
        key: &Q,
        count_absent: bool,
        f: impl FnOnce(&Entry<V>, Option<&mut HashMap<K, Arc<Entry<V>>, S>>) -> Option<R>,
    ) -> Option<R>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let mut dirty = self.mu.lock();
        let read = self.read.load();
        if let Some(entry) = read.m.get(key) {
            return f(entry, None);
        }
        if !read.amended() {
            return None;
        }
        let m = dirty.m.as_mut()?;
        let result = match m.get(key).cloned() {
            Some(entry) => f(&entry, Some(m)),
            None if count_absent => None,
            None => return None,
        };
        self.miss_locked(&mut dirty);
        result
    }

    /// Stores a value for a key.
    pub fn store(&self, key: K, value: V) {
        self.swap(key, value);
    }

    /// Stores a value for a key; returns the previous value, if any.
    pub fn swap(&self, key: K, value: V) -> Option<Ref<V>> {
        let new = Arc::new(Slot::Value(value));
        if let Some(entry) = self.read.load().m.get(&key) {
            if let Ok(previous) = entry.try_swap(&new) {
                return previous;
            }
        }
        let mut dirty = self.mu.lock();
        let read = self.read.load();
        if let Some(entry) = read.m.get(&key) {
            if entry.unexpunge_locked() {
                self.dirty_map(&mut dirty).insert(key, entry.clone());
            }
            entry.swap_locked(new)
        } else if let Some(entry) = dirty.m.as_ref().and_then(|m| m.get(&key)) {
            entry.swap_locked(new)
        } else {
            self.add_locked(&mut dirty, &read, key, new);
            None
        }
    }

    /// The key's value if it has one (`loaded` = true), else stores `value`
    /// and returns it (`loaded` = false). Go's `LoadOrStore`.
    pub fn load_or_store(&self, key: K, value: V) -> (Ref<V>, bool) {
        let new = Arc::new(Slot::Value(value));
        if let Some(entry) = self.read.load().m.get(&key) {
            if let Ok(loaded) = entry.try_load_or_store(&new) {
                return loaded;
            }
        }
        let mut dirty = self.mu.lock();
        let read = self.read.load();
        if let Some(entry) = read.m.get(&key) {
            if entry.unexpunge_locked() {
                self.dirty_map(&mut dirty).insert(key, entry.clone());
            }
            entry
                .try_load_or_store(&new)
                .unwrap_or_else(|()| unreachable!("only the mutex holder expunges"))
        } else if let Some(entry) = dirty.m.as_ref().and_then(|m| m.get(&key)).cloned() {
            let loaded = entry
                .try_load_or_store(&new)
                .unwrap_or_else(|()| unreachable!("dirty entries are never expunged"));
            self.miss_locked(&mut dirty);
            loaded
        } else {
            self.add_locked(&mut dirty, &read, key, new.clone());
            (Ref(Guard::from_inner(Some(new))), false)
        }
    }

    /// Removes a key; returns its value, if it had one.
    pub fn load_and_delete<Q>(&self, key: &Q) -> Option<Ref<V>>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let read = self.read.load();
        if let Some(entry) = read.m.get(key) {
            return entry.delete_if(|_| true);
        }
        if !read.amended() {
            return None;
        }
        drop(read);
        self.in_dirty(key, true, |entry, dirty| {
            if let Some(m) = dirty {
                m.remove(key);
            }
            entry.delete_if(|_| true)
        })
    }

    /// Removes a key.
    pub fn delete<Q>(&self, key: &Q)
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.load_and_delete(key);
    }

    /// Stores `new` if the key's value equals `old`; returns whether it did.
    pub fn compare_and_swap<Q>(&self, key: &Q, old: &V, new: V) -> bool
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
        V: PartialEq,
    {
        let new = Arc::new(Slot::Value(new));
        let read = self.read.load();
        if let Some(entry) = read.m.get(key) {
            return entry.try_compare_and_swap(old, &new);
        }
        if !read.amended() {
            return false;
        }
        drop(read);
        self.in_dirty(key, false, |entry, _| {
            entry.try_compare_and_swap(old, &new).then_some(())
        })
        .is_some()
    }

    /// Removes the key if its value equals `old`; returns whether it did.
    /// (The entry stays in the maps as deleted, like Go's.)
    pub fn compare_and_delete<Q>(&self, key: &Q, old: &V) -> bool
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
        V: PartialEq,
    {
        let read = self.read.load();
        if let Some(entry) = read.m.get(key) {
            return entry.delete_if(|v| v == old).is_some();
        }
        if !read.amended() {
            return false;
        }
        drop(read);
        self.in_dirty(key, true, |entry, _| entry.delete_if(|v| v == old))
            .is_some()
    }

    /// Calls `f` on every live pair until it returns `false`. Like Go's
    /// `Range`: first promotes the dirty map (so the walk takes no lock and
    /// sees every key stored before the call), then walks that snapshot; a
    /// key stored or deleted during the walk may or may not be seen.
    pub fn range(&self, mut f: impl FnMut(&K, &V) -> bool) {
        if self.read.load().amended() {
            let mut dirty = self.mu.lock();
            if self.read.load().amended() {
                self.promote_locked(&mut dirty);
            }
        }
        let read = Guard::into_inner(self.read.load());
        for (key, entry) in read.m.iter() {
            if let Some(value) = entry.load() {
                if !f(key, &value) {
                    break;
                }
            }
        }
    }

    /// The dirty map, made from the snapshot if there is none: every entry
    /// of the snapshot but the deleted ones, which are expunged instead.
    fn dirty_map<'d>(&self, dirty: &'d mut Dirty<K, V, S>) -> &'d mut HashMap<K, Arc<Entry<V>>, S> {
        let Dirty { m, expunged, .. } = dirty;
        m.get_or_insert_with(|| {
            let read = self.read.load();
            let mut m = HashMap::with_capacity_and_hasher(read.m.len(), self.hasher.clone());
            for (key, entry) in read.m.iter() {
                if !entry.try_expunge_locked(expunged) {
                    m.insert(key.clone(), entry.clone());
                }
            }
            m
        })
    }

    /// Adds a key neither map has to the dirty map and marks the snapshot
    /// amended.
    fn add_locked(
        &self,
        dirty: &mut Dirty<K, V, S>,
        read: &ReadOnly<K, V, S>,
        key: K,
        value: Arc<Slot<V>>,
    ) {
        let entry = Arc::new(Entry::new(value, read.live.clone()));
        // User code (`Hash`, `Eq`) runs in `insert`: count the entry after.
        self.dirty_map(dirty).insert(key, entry);
        read.live.fetch_add(1, Ordering::Relaxed);
        if !read.amended() {
            read.amended.store(true, Ordering::SeqCst);
        }
    }
}

impl<K: Hash + Eq + Clone + fmt::Debug, V: fmt::Debug, S: BuildHasher + Clone> fmt::Debug
    for SyncMap<K, V, S>
{
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut map = f.debug_map();
        self.range(|k, v| {
            map.entry(k, v);
            true
        });
        map.finish()
    }
}

impl<K: Hash + Eq + Clone, V, S: BuildHasher + Clone + Default> FromIterator<(K, V)>
    for SyncMap<K, V, S>
{
    fn from_iter<I: IntoIterator<Item = (K, V)>>(iter: I) -> Self {
        let map = Self::with_hasher(S::default());
        for (k, v) in iter {
            map.store(k, v);
        }
        map
    }
}
