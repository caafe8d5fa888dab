//! Lookups by `gomap::Equivalent`: std's `Borrow` rule always, and with the
//! `equivalent` feature any key type implementing `equivalent::Equivalent`.

use gomap::{HashMap, HashSet};

#[test]
fn borrowed_forms_find_their_owned_keys() {
    let mut map: HashMap<String, u32> = HashMap::new();
    map.insert("apples".to_string(), 3);
    assert_eq!(map.get("apples"), Some(&3));
    assert!(map.contains_key("apples"));
    assert_eq!(map["apples"], 3);
    *map.get_mut("apples").unwrap() += 1;
    assert_eq!(map.get_key_value("apples").map(|(_, v)| *v), Some(4));
    assert_eq!(
        map.get_disjoint_mut(["apples", "pears"]),
        [Some(&mut 4), None]
    );
    assert_eq!(map.remove_entry("apples"), Some(("apples".to_string(), 4)));
    assert_eq!(map.remove("apples"), None);

    let mut bytes: HashSet<Vec<u8>> = HashSet::new();
    bytes.insert(b"xyz".to_vec());
    assert!(bytes.contains(&b"xyz"[..]));
    assert_eq!(bytes.get(&b"xyz"[..]).map(Vec::len), Some(3));
    assert_eq!(bytes.take(&b"xyz"[..]), Some(b"xyz".to_vec()));
    assert!(!bytes.remove(&b"xyz"[..]));
}

/// A borrowed view of a `(String, String)` key: not a `Borrow` form of it
/// (no `&(String, String)` can be made from two `&str`s), but equivalent,
/// and hashed the way the tuple hashes.
#[cfg(feature = "equivalent")]
#[derive(Hash)]
struct NamePair<'a>(&'a str, &'a str);

#[cfg(feature = "equivalent")]
impl equivalent::Equivalent<(String, String)> for NamePair<'_> {
    fn equivalent(&self, key: &(String, String)) -> bool {
        self.0 == key.0 && self.1 == key.1
    }
}

#[cfg(feature = "equivalent")]
#[test]
fn an_equivalent_key_type_finds_tuple_keys_by_borrowed_parts() {
    let mut people: HashMap<(String, String), u32> = HashMap::new();
    people.insert(("ada".to_string(), "lovelace".to_string()), 1815);
    people.insert(("alan".to_string(), "turing".to_string()), 1912);

    assert_eq!(people.get(&NamePair("ada", "lovelace")), Some(&1815));
    assert!(!people.contains_key(&NamePair("ada", "turing")));
    assert_eq!(people[&NamePair("alan", "turing")], 1912);
    let [ada, alan] =
        people.get_disjoint_mut([&NamePair("ada", "lovelace"), &NamePair("alan", "turing")]);
    std::mem::swap(ada.unwrap(), alan.unwrap());
    assert_eq!(people.remove(&NamePair("ada", "lovelace")), Some(1912));
    assert_eq!(people.len(), 1);

    let set: HashSet<(String, String)> = [("x".to_string(), "y".to_string())].into();
    assert!(set.contains(&NamePair("x", "y")));
    assert!(!set.contains(&NamePair("y", "x")));
    // Borrow forms keep working with the feature on.
    let names: HashSet<String> = ["ann".to_string()].into();
    assert!(names.contains("ann"));
}
