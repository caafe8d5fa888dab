//! Feature `serde`: a [`ShardedMap`] serialises as one map — a snapshot
//! taken under every shard's read lock, so it is the whole map at one
//! instant — and deserialises from one, pre-sized from the input's length
//! when the format gives one (capped, as for `gomap::HashMap`). A key that
//! comes twice keeps its last value.

use core::fmt;
use core::hash::{BuildHasher, Hash};
use core::marker::PhantomData;
use core::mem::size_of;

use serde::de::{Deserialize, Deserializer, MapAccess, Visitor};
use serde::ser::{Serialize, Serializer};

use crate::ShardedMap;

/// The most bytes of entries a length prefix may make us reserve before
/// the entries arrive.
const PRESIZE_BYTES: usize = 1 << 20;

impl<K: Serialize, V: Serialize, S> Serialize for ShardedMap<K, V, S> {
    /// Holds every shard's read lock while it writes: writers wait (so a
    /// slow writer of the output stalls them — serialise into memory first
    /// if that matters), and a key's or value's `Serialize` must not write
    /// to this map (it would wait on itself).
    fn serialize<Ser: Serializer>(&self, serializer: Ser) -> Result<Ser::Ok, Ser::Error> {
        let view = self.read_all();
        serializer.collect_map(view.iter())
    }
}

impl<'de, K, V, S> Deserialize<'de> for ShardedMap<K, V, S>
where
    K: Deserialize<'de> + Eq + Hash,
    V: Deserialize<'de>,
    S: BuildHasher + Clone + Default,
{
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct MapVisitor<K, V, S>(PhantomData<ShardedMap<K, V, S>>);

        impl<'de, K, V, S> Visitor<'de> for MapVisitor<K, V, S>
        where
            K: Deserialize<'de> + Eq + Hash,
            V: Deserialize<'de>,
            S: BuildHasher + Clone + Default,
        {
            type Value = ShardedMap<K, V, S>;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a map")
            }

            fn visit_map<M: MapAccess<'de>>(self, mut entries: M) -> Result<Self::Value, M::Error> {
                let room = entries
                    .size_hint()
                    .unwrap_or(0)
                    .min(PRESIZE_BYTES / size_of::<(K, V)>().max(1));
                let map = ShardedMap::with_capacity_and_hasher(room, S::default());
                while let Some((key, value)) = entries.next_entry()? {
                    map.insert(key, value);
                }
                Ok(map)
            }
        }

        deserializer.deserialize_map(MapVisitor(PhantomData))
    }
}
