//! The sizes Go's map allocations can have: bucket arrays, overflow
//! buckets and Swiss-table group arrays for every key/element size, after
//! Go's allocator rounded them. Everything here is derived from Go's
//! sources (see the module docs of [`crate::pprof`] for the table and
//! where each rule comes from), not fitted to profiles.

use std::collections::HashMap;
use std::sync::OnceLock;

/// `class_to_size` of `runtime/sizeclasses.go` (Go 1.19) and
/// `SizeClassToSize` of `internal/runtime/gc/sizeclasses.go` (Go 1.27):
/// the same 68 classes.
pub const SIZE_CLASSES: [u64; 68] = [
    0, 8, 16, 24, 32, 48, 64, 80, 96, 112, 128, 144, 160, 176, 192, 208, 224, 240, 256, 288, 320,
    352, 384, 416, 448, 480, 512, 576, 640, 704, 768, 896, 1024, 1152, 1280, 1408, 1536, 1792,
    2048, 2304, 2688, 3072, 3200, 3456, 4096, 4864, 5376, 6144, 6528, 6784, 6912, 8192, 9472, 9728,
    10240, 10880, 12288, 13568, 14336, 16384, 18432, 19072, 20480, 21760, 24576, 27264, 28672,
    32768,
];

/// `_MaxSmallSize`: bigger objects get whole pages.
const MAX_SMALL: u64 = 32768;
/// `_PageSize`.
const PAGE: u64 = 8192;
/// Go ≥ 1.22 prefixes objects that hold pointers and are bigger than this
/// with an 8-byte malloc header (`minSizeForMallocHeader`).
const HEADER_ABOVE: u64 = 512;
/// `mallocHeaderSize`.
const HEADER: u64 = 8;
/// Biggest array considered (arrays are capped well below Go's maxAlloc).
const MAX_ARRAY: u64 = 1 << 42;

/// The bytes Go's allocator hands out (and a heap profile records) for a
/// request of `req` bytes. `scan`: the object holds pointers; `headers`:
/// Go ≥ 1.22's malloc headers (`runtime/msize.go: roundupsize`).
pub fn alloc_size(req: u64, scan: bool, headers: bool) -> u64 {
    let limit = if headers {
        MAX_SMALL - HEADER
    } else {
        MAX_SMALL
    };
    if req <= limit {
        let need = if headers && scan && req > HEADER_ABOVE {
            req + HEADER
        } else {
            req
        };
        if let Some(&class) = SIZE_CLASSES.iter().find(|&&c| c >= need) {
            return class;
        }
    }
    req.div_ceil(PAGE) * PAGE
}

/// How a Go version lays out a map.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Layout {
    /// Go ≤ 1.21: buckets of 8 slots, `runtime/map.go` (tested: Go 1.19).
    Buckets,
    /// Go 1.22 and 1.23: the same buckets, with malloc headers (not tested
    /// on a real Go; derived from `runtime/msize.go`).
    BucketsWithHeaders,
    /// Go ≥ 1.24: Swiss tables, `internal/runtime/maps` (tested: Go 1.27).
    Swiss,
}

impl Layout {
    /// Words for people.
    pub fn describe(self) -> &'static str {
        match self {
            Layout::Buckets => "classic buckets (Go ≤ 1.21)",
            Layout::BucketsWithHeaders => "classic buckets with malloc headers (Go 1.22–1.23)",
            Layout::Swiss => "Swiss tables (Go ≥ 1.24)",
        }
    }

    /// Buckets or Swiss groups.
    pub fn is_swiss(self) -> bool {
        self == Layout::Swiss
    }

    fn headers(self) -> bool {
        self != Layout::Buckets
    }
}

/// One map type's allocations, as far as sizes tell: a layout, whether
/// its buckets hold pointers, and the size of one bucket (classic) or one
/// group (Swiss).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Shape {
    /// Which Go.
    pub layout: Layout,
    /// The bucket or group holds pointers (matters with malloc headers).
    pub scan: bool,
    /// Bytes in one bucket (8 + 8·key + 8·elem + 8) or one group
    /// (8 + 8·slot), before rounding.
    pub unit: u64,
}

impl Shape {
    /// The key and element bytes of one slot, together (with padding; keys
    /// and elements over 128 bytes are stored as 8-byte pointers).
    pub fn key_elem_bytes(self) -> u64 {
        if self.layout.is_swiss() {
            (self.unit - 8) / 8
        } else {
            (self.unit - 16) / 8
        }
    }

    /// The size of the allocation number `k` of this shape: k = 0 is one
    /// bucket (a first bucket or an overflow bucket) or one group (a small
    /// map); k ≥ 1 is a bucket array of 2^k buckets (plus 2^(k−4)
    /// preallocated overflow buckets from k = 4 on), or a table of 2^k
    /// groups (k ≤ 7: 1 024 slots at most).
    pub fn size(self, k: u32) -> Option<u64> {
        let count = if self.layout.is_swiss() {
            if k > 7 {
                return None;
            }
            1u64 << k
        } else {
            (1u64 << k) + if k >= 4 { 1u64 << (k - 4) } else { 0 }
        };
        let req = self.unit.checked_mul(count)?;
        (req <= MAX_ARRAY).then(|| alloc_size(req, self.scan, self.layout.headers()))
    }

    /// Words for people: "208-byte buckets" or "200-byte groups".
    pub fn describe(self) -> String {
        if self.layout.is_swiss() {
            format!("{}-byte groups", self.unit)
        } else {
            format!("{}-byte buckets", self.unit)
        }
    }
}

/// The biggest k a shape can have.
pub fn max_k(layout: Layout) -> u32 {
    if layout.is_swiss() {
        7
    } else {
        36
    }
}

/// A size explained as allocation `k` of `shape`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Member {
    /// The map's shape.
    pub shape: Shape,
    /// Which allocation: see [`Shape::size`].
    pub k: u32,
}

/// Every shape of every layout: units from the smallest (no key and element
/// bytes beyond one) to the biggest (two 128-byte values).
pub fn shapes() -> impl Iterator<Item = Shape> {
    [Layout::Buckets, Layout::BucketsWithHeaders, Layout::Swiss]
        .into_iter()
        .flat_map(|layout| {
            let scans: &[bool] = if layout.headers() {
                &[false, true]
            } else {
                &[false]
            };
            scans.iter().flat_map(move |&scan| {
                // key+elem (with padding) 1 ..= 256 bytes.
                (1..=256u64).map(move |slot| Shape {
                    layout,
                    scan,
                    unit: if layout.is_swiss() {
                        8 + 8 * slot
                    } else {
                        16 + 8 * slot
                    },
                })
            })
        })
}

/// size → every (shape, k) that allocates exactly that many bytes.
pub fn index() -> &'static HashMap<u64, Vec<Member>> {
    static INDEX: OnceLock<HashMap<u64, Vec<Member>>> = OnceLock::new();
    INDEX.get_or_init(|| {
        let mut index: HashMap<u64, Vec<Member>> = HashMap::new();
        for shape in shapes() {
            for k in 0..=max_k(shape.layout) {
                if let Some(size) = shape.size(k) {
                    index.entry(size).or_default().push(Member { shape, k });
                }
            }
        }
        index
    })
}

/// The small objects a map also allocates beside its arrays: the classic
/// `hmap` (48 B) and `mapextra` (24 B), the Swiss `Map` (48 B) and `table`
/// (32 B), and pointer arrays (overflow lists, Swiss directories).
pub fn is_auxiliary(size: u64, layout: Layout) -> bool {
    matches!(size, 24 | 32 | 48)
        || (0..20).any(|d| alloc_size(8 << d, true, layout.headers()) == size)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn classic(unit: u64) -> Shape {
        Shape {
            layout: Layout::Buckets,
            scan: false,
            unit,
        }
    }

    fn swiss(unit: u64, scan: bool) -> Shape {
        Shape {
            layout: Layout::Swiss,
            scan,
            unit,
        }
    }

    #[test]
    fn classic_bucket_arrays_match_go_1_19() {
        // map[string]uint64: 8 + 8·16 + 8·8 + 8 = 208-byte buckets; sizes
        // read from a Go 1.19.8 heap profile (MemProfileRate = 1).
        let s = classic(208);
        assert_eq!(s.key_elem_bytes(), 24);
        let seen = [
            (0, 208),
            (7, 28_672),
            (8, 57_344),
            (13, 1_810_432),
            (14, 3_620_864),
            (15, 7_241_728),
            (16, 14_483_456),
        ];
        for (k, bytes) in seen {
            assert_eq!(s.size(k), Some(bytes), "B = {k}");
        }
        // map[uint64][4]uint64: 336-byte buckets, one rounds to 352.
        let b = classic(336);
        assert_eq!(b.size(0), Some(352));
        assert_eq!(b.size(13), Some(2_924_544));
        // map[int32]int32 made with hint 1024: B = 8, 272 buckets of 80 B.
        assert_eq!(classic(80).size(8), Some(21_760));
    }

    #[test]
    fn swiss_groups_match_go_1_27() {
        // map[string]uint64: 8 + 8·24 = 200-byte groups, with pointers:
        // sizes read from a Go 1.27.3 heap profile.
        let s = swiss(200, true);
        let seen = [208, 416, 896, 1_792, 3_456, 6_528, 13_568, 27_264];
        for (k, bytes) in seen.into_iter().enumerate() {
            assert_eq!(s.size(k as u32), Some(bytes), "2^{k} groups");
        }
        assert_eq!(s.size(8), None, "a table holds 1 024 slots at most");
        // map[uint64][4]uint64: 328-byte groups, no pointers, a full table
        // is a large object (whole pages).
        assert_eq!(swiss(328, false).size(7), Some(49_152));
        // map[int32]int32, hint 1024: two tables of 128 groups of 72 B.
        assert_eq!(swiss(72, false).size(7), Some(9_472));
    }

    #[test]
    fn rounding_follows_go() {
        assert_eq!(alloc_size(1, false, false), 8);
        assert_eq!(alloc_size(336, false, false), 352);
        assert_eq!(alloc_size(32768, true, false), 32768);
        assert_eq!(alloc_size(32769, true, false), 40960);
        // A malloc header pushes 25 608 bytes into the 27 264 class; without
        // pointers there is none.
        assert_eq!(alloc_size(25_600, true, true), 27_264);
        assert_eq!(alloc_size(6_400, true, true), 6_528);
        assert_eq!(alloc_size(6_400, false, true), 6_528);
        assert_eq!(alloc_size(4_096, true, true), 4_864);
        assert_eq!(alloc_size(4_096, false, true), 4_096);
    }

    #[test]
    fn the_index_knows_every_shape() {
        let index = index();
        let has = |size: u64, shape: Shape, k: u32| {
            index
                .get(&size)
                .is_some_and(|m| m.contains(&Member { shape, k }))
        };
        assert!(has(14_483_456, classic(208), 16));
        assert!(has(27_264, swiss(200, true), 7));
        // A malloc header only where the group holds pointers: 8 groups of
        // 512 B are 4 096 B without pointers, 4 864 B with.
        assert!(has(4_864, swiss(512, true), 3));
        assert!(!has(4_864, swiss(512, false), 3));
        assert!(has(4_096, swiss(512, false), 3));
        assert!(is_auxiliary(48, Layout::Swiss));
        assert!(is_auxiliary(4_864, Layout::Swiss));
        assert!(!is_auxiliary(208, Layout::Buckets));
    }
}
