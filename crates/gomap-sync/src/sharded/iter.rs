//! [`ShardedMap::iter`](super::ShardedMap::iter): every pair, shard by
//! shard, each handed out behind its shard's read lock.

use std::borrow::Borrow;
use std::hash::{BuildHasher, Hash};

use gomap::{DefaultHashBuilder, HashMap};

use super::mapref::{ReadPair, RefMulti};
use super::ShardedMap;
use crate::sync::{ReadGuard, RwLock};

/// The iterator of [`ShardedMap::iter`](super::ShardedMap::iter).
///
/// It read-locks one shard at a time, in shard order: when it reaches a
/// shard it hands out a [`RefMulti`] for each of the shard's pairs, each
/// holding the shard's read lock (a reader's count on it) until dropped.
/// So a shard is read-locked while the iterator is on it or any of its
/// items lives, and no longer. Writers of that shard wait meanwhile;
/// writing to the same map from the thread that holds the iterator or an
/// item can deadlock (as with dashmap).
pub struct Iter<'a, K, V, S = DefaultHashBuilder> {
    map: &'a ShardedMap<K, V, S>,
    next_shard: usize,
    items: std::vec::IntoIter<RefMulti<'a, K, V>>,
}

impl<'a, K, V, S> Iter<'a, K, V, S> {
    pub(super) fn new(map: &'a ShardedMap<K, V, S>) -> Self {
        Iter {
            map,
            next_shard: 0,
            items: Vec::new().into_iter(),
        }
    }
}

/// A read reference to every pair of one shard. The shard is read once,
/// under one guard; each item then holds its own two reader's counts
/// (see [`mapref`](super::mapref)), taken with `read_recursive` so that a
/// writer queued meanwhile cannot make them wait on the guard held here.
pub(crate) fn shard_items<'a, K: Eq + Hash, V, S: BuildHasher>(
    lock: &'a RwLock<HashMap<K, V, S>>,
) -> Vec<RefMulti<'a, K, V>> {
    let base = lock.read();
    base.keys()
        .map(|key| RefMulti(read_pair(lock, key)))
        .collect()
}

/// `key`'s pair (which is in the shard: the caller holds a read lock)
/// behind two recursive read guards.
fn read_pair<'a, K: Eq + Hash, V, S: BuildHasher>(
    lock: &'a RwLock<HashMap<K, V, S>>,
    key: &K,
) -> ReadPair<'a, K, V> {
    const HELD: &str = "the caller holds the shard's read lock: the key stays";
    ReadPair {
        key: ReadGuard::map(lock.read_recursive(), |shard| {
            shard.get_key_value(key).expect(HELD).0
        }),
        value: ReadGuard::map(lock.read_recursive(), |shard| shard.get(key).expect(HELD)),
    }
}

/// `key`'s pair behind `first` (a read guard of `lock`, which becomes the
/// key's guard) and a recursive read guard for the value; `None` (and
/// `first` released) if the key is absent.
pub(super) fn read_pair_from<'a, K, V, S, Q>(
    lock: &'a RwLock<HashMap<K, V, S>>,
    first: ReadGuard<'a, HashMap<K, V, S>>,
    key: &Q,
) -> Option<ReadPair<'a, K, V>>
where
    K: Eq + Hash + Borrow<Q>,
    S: BuildHasher,
    Q: Hash + Eq + ?Sized,
{
    let key_guard =
        ReadGuard::try_map(first, |shard| shard.get_key_value(key).map(|(k, _)| k)).ok()?;
    // The key guard holds the lock: the pair stays.
    let value = ReadGuard::map(lock.read_recursive(), |shard| {
        shard.get(key).expect("the key's guard holds the shard")
    });
    Some(ReadPair {
        key: key_guard,
        value,
    })
}

impl<'a, K: Eq + Hash, V, S: BuildHasher> Iterator for Iter<'a, K, V, S> {
    type Item = RefMulti<'a, K, V>;

    fn next(&mut self) -> Option<RefMulti<'a, K, V>> {
        loop {
            if let Some(item) = self.items.next() {
                return Some(item);
            }
            let shard = self.map.shards.get(self.next_shard)?;
            self.next_shard += 1;
            self.items = shard_items(&shard.0).into_iter();
        }
    }
}
