//! [`Equivalent`]: what a lookup key must be to find a stored key.

#[cfg(not(feature = "equivalent"))]
use core::borrow::Borrow;

/// A lookup key `Self` that can find a stored key `K`: every lookup
/// (`get`, `get_mut`, `contains_key`, `remove`, `Index`,
/// `get_disjoint_mut`, the set's `contains`, `get`, `take`, `remove`)
/// takes `&Q` where `Q: Hash + Equivalent<K>`. `Q` must hash as the
/// equivalent stored key does.
///
/// Without the `equivalent` feature it is std's rule: `Q: Eq` and
/// `K: Borrow<Q>` (a `&str` finds a `String`, a `&[u8]` a `Vec<u8>`). With
/// the feature it holds for every `Q` that implements
/// [`equivalent::Equivalent<K>`](https://docs.rs/equivalent) — the trait
/// hashbrown, indexmap and dashmap share, which itself covers the
/// `Borrow` rule — so a lookup key need not be a borrowed form of `K`
/// (say, a `(&str, &str)` finding a `(String, String)` key). The feature
/// only adds lookups; it never takes one away. Implement
/// `equivalent::Equivalent`, not this trait, for your own key types.
///
/// ```
/// let mut map: gomap::HashMap<String, u32> = gomap::HashMap::new();
/// map.insert("apples".to_string(), 3);
/// assert_eq!(map.get("apples"), Some(&3)); // `String: Borrow<str>`
/// ```
pub trait Equivalent<K: ?Sized> {
    /// Whether `self` and the stored `key` are equal.
    fn equivalent(&self, key: &K) -> bool;
}

#[cfg(not(feature = "equivalent"))]
impl<Q: Eq + ?Sized, K: Borrow<Q> + ?Sized> Equivalent<K> for Q {
    #[inline]
    fn equivalent(&self, key: &K) -> bool {
        *self == *key.borrow()
    }
}

#[cfg(feature = "equivalent")]
impl<Q: equivalent::Equivalent<K> + ?Sized, K: ?Sized> Equivalent<K> for Q {
    #[inline]
    fn equivalent(&self, key: &K) -> bool {
        equivalent::Equivalent::equivalent(self, key)
    }
}
