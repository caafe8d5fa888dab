//! [`ShardedMap::iter`](super::ShardedMap::iter): every pair, shard by
//! shard, each handed out behind its shard's read lock.

use std::hash::{BuildHasher, Hash};
use std::sync::Arc;

use gomap::hash_map::Slot;
use gomap::{DefaultHashBuilder, HashMap};

use super::mapref::{RefMulti, SlotGuard};
use super::ShardedMap;
use crate::sync::{ReadGuard, RwLock};

/// The iterator of [`ShardedMap::iter`](super::ShardedMap::iter).
///
/// It read-locks one shard at a time, in shard order: when it reaches a
/// shard it takes one read guard of it, shared by the shard's
/// [`RefMulti`]s, and walks the shard by slot (no lookup). So a shard is
/// read-locked while the iterator is on it or any of its items lives, and
/// no longer. Writers of that shard wait meanwhile; writing to the same
/// map from the thread that holds the iterator or an item can deadlock
/// (as with dashmap), and so can taking another guard of a shard it holds
/// while another thread waits to write to that shard.
pub struct Iter<'a, K, V, S = DefaultHashBuilder> {
    map: &'a ShardedMap<K, V, S>,
    next_shard: usize,
    /// The shard the iterator is on.
    items: Option<ShardItems<'a, K, V>>,
}

impl<'a, K, V, S> Iter<'a, K, V, S> {
    pub(super) fn new(map: &'a ShardedMap<K, V, S>) -> Self {
        Iter {
            map,
            next_shard: 0,
            items: None,
        }
    }
}

/// A read reference to every pair of one shard, walked by slot under one
/// read guard that the items share.
pub(crate) struct ShardItems<'a, K, V> {
    shard: Arc<SlotGuard<'a, K, V>>,
    /// The slot of the next item.
    next: Option<Slot>,
}

/// Takes `lock`'s read guard: its pairs, to hand out.
pub(crate) fn shard_items<K, V, S>(lock: &RwLock<HashMap<K, V, S>>) -> ShardItems<'_, K, V> {
    let shard = ReadGuard::map(lock.read(), HashMap::slot_view);
    let next = shard.first_slot();
    ShardItems {
        shard: Arc::new(shard),
        next,
    }
}

impl<'a, K, V> Iterator for ShardItems<'a, K, V> {
    type Item = RefMulti<'a, K, V>;

    fn next(&mut self) -> Option<RefMulti<'a, K, V>> {
        let slot = self.next?;
        // The guard keeps the shard unchanged: the walk sees each pair once.
        self.next = self.shard.next_slot(slot);
        Some(RefMulti::new(self.shard.clone(), slot))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let most = if self.next.is_some() {
            self.shard.len()
        } else {
            0
        };
        (usize::from(self.next.is_some()), Some(most))
    }
}

impl<'a, K: Eq + Hash, V, S: BuildHasher> Iterator for Iter<'a, K, V, S> {
    type Item = RefMulti<'a, K, V>;

    fn next(&mut self) -> Option<RefMulti<'a, K, V>> {
        loop {
            if let Some(item) = self.items.as_mut().and_then(Iterator::next) {
                return Some(item);
            }
            // Leave the shard: its lock goes once its items are dropped.
            self.items = None;
            let shard = self.map.shards.get(self.next_shard)?;
            self.next_shard += 1;
            self.items = Some(shard_items(&shard.0));
        }
    }
}
