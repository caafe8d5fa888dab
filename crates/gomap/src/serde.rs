//! Feature `serde`: [`HashMap`] serialises as a map and [`HashSet`] as a
//! sequence, in iteration order; both deserialise from them.
//!
//! Deserialising pre-sizes the table from the input's length when the
//! format gives one (bincode, MessagePack and CBOR do; JSON does not), so a
//! large map is built in one allocation instead of one grow per doubling.
//! The pre-size is capped (`PRESIZE_BYTES`): a length prefix is the input's
//! word, and a hostile one must not make us allocate more than the entries
//! that actually arrive. A key that comes twice keeps its last value, as
//! std's `HashMap` does.

use core::fmt;
use core::hash::{BuildHasher, Hash};
use core::marker::PhantomData;
use core::mem::size_of;

use allocator_api2::alloc::Allocator;
use serde::de::{Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::ser::{Serialize, Serializer};

use crate::{HashMap, HashSet};

/// The most bytes of entries a length prefix may make us reserve before
/// the entries arrive.
const PRESIZE_BYTES: usize = 1 << 20;

/// How many entries of `T` to reserve for a claimed `hint`.
fn presize<T>(hint: Option<usize>) -> usize {
    hint.unwrap_or(0).min(PRESIZE_BYTES / size_of::<T>().max(1))
}

impl<K, V, S, A> Serialize for HashMap<K, V, S, A>
where
    K: Serialize,
    V: Serialize,
    A: Allocator,
{
    fn serialize<Ser: Serializer>(&self, serializer: Ser) -> Result<Ser::Ok, Ser::Error> {
        serializer.collect_map(self.iter())
    }
}

impl<T, S, A> Serialize for HashSet<T, S, A>
where
    T: Serialize,
    A: Allocator,
{
    fn serialize<Ser: Serializer>(&self, serializer: Ser) -> Result<Ser::Ok, Ser::Error> {
        serializer.collect_seq(self.iter())
    }
}

impl<'de, K, V, S, A> Deserialize<'de> for HashMap<K, V, S, A>
where
    K: Deserialize<'de> + Eq + Hash,
    V: Deserialize<'de>,
    S: BuildHasher + Default,
    A: Allocator + Default,
{
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct MapVisitor<K, V, S, A: Allocator>(PhantomData<HashMap<K, V, S, A>>);

        impl<'de, K, V, S, A> Visitor<'de> for MapVisitor<K, V, S, A>
        where
            K: Deserialize<'de> + Eq + Hash,
            V: Deserialize<'de>,
            S: BuildHasher + Default,
            A: Allocator + Default,
        {
            type Value = HashMap<K, V, S, A>;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a map")
            }

            fn visit_map<M: MapAccess<'de>>(self, mut entries: M) -> Result<Self::Value, M::Error> {
                let mut map = HashMap::with_capacity_and_hasher_in(
                    presize::<(K, V)>(entries.size_hint()),
                    S::default(),
                    A::default(),
                );
                while let Some((key, value)) = entries.next_entry()? {
                    map.insert(key, value);
                }
                Ok(map)
            }
        }

        deserializer.deserialize_map(MapVisitor(PhantomData))
    }
}

impl<'de, T, S, A> Deserialize<'de> for HashSet<T, S, A>
where
    T: Deserialize<'de> + Eq + Hash,
    S: BuildHasher + Default,
    A: Allocator + Default,
{
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct SeqVisitor<T, S, A: Allocator>(PhantomData<HashSet<T, S, A>>);

        impl<'de, T, S, A> Visitor<'de> for SeqVisitor<T, S, A>
        where
            T: Deserialize<'de> + Eq + Hash,
            S: BuildHasher + Default,
            A: Allocator + Default,
        {
            type Value = HashSet<T, S, A>;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a sequence")
            }

            fn visit_seq<Q: SeqAccess<'de>>(self, mut items: Q) -> Result<Self::Value, Q::Error> {
                let mut set = HashSet::with_capacity_and_hasher_in(
                    presize::<T>(items.size_hint()),
                    S::default(),
                    A::default(),
                );
                while let Some(item) = items.next_element()? {
                    set.insert(item);
                }
                Ok(set)
            }
        }

        deserializer.deserialize_seq(SeqVisitor(PhantomData))
    }
}
