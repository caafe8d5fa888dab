//! gomap is a drop-in for std's `HashMap` and `HashSet`: one test body,
//! written against std's stable API (`std_api/body.rs`), compiled and run
//! twice — once over `std::collections`, once over gomap. The two modules
//! differ only in their `use` lines, so anything the body does that gomap
//! lacks, or does differently, fails to compile or fails a test here.

// The body calls each std method on purpose, where clippy would suggest a
// shorter spelling through another one.
#![allow(
    clippy::unwrap_or_default,
    clippy::manual_hash_one,
    clippy::iter_kv_map,
    clippy::iter_count,
    clippy::extra_unused_lifetimes
)]

mod with_std {
    use std::collections::hash_map::{self, Entry, RandomState};
    use std::collections::{hash_set, HashMap, HashSet};

    include!("std_api/body.rs");
}

mod with_gomap {
    use gomap::hash_map::{self, Entry, RandomState};
    use gomap::{hash_set, HashMap, HashSet};

    include!("std_api/body.rs");
}
