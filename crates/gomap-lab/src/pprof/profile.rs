//! Reading a Go heap profile: pprof's `profile.proto`, gzipped or not, from
//! a file or a loopback URL, checked and flattened to one record per stack
//! and object size.
//!
//! The message types below are the subset of
//! [`profile.proto`](https://github.com/google/pprof/blob/main/proto/profile.proto)
//! this tool reads, written by hand with pprof's field numbers (prost skips
//! the fields not declared).

use std::io::Read;

use prost::Message;

/// The biggest profile accepted, compressed or not (a heap profile of a big
/// service is a few MB).
const MAX_BYTES: u64 = 1 << 30;

/// `perftools.profiles.Profile`, the fields used.
#[derive(Clone, PartialEq, Message)]
pub struct Profile {
    /// What each value of a sample is (`inuse_space`/`bytes`, …).
    #[prost(message, repeated, tag = "1")]
    pub sample_type: Vec<ValueType>,
    /// The recorded stacks and their values.
    #[prost(message, repeated, tag = "2")]
    pub sample: Vec<Sample>,
    /// Program counters and the source lines they stand for.
    #[prost(message, repeated, tag = "4")]
    pub location: Vec<Location>,
    /// Functions named by the lines.
    #[prost(message, repeated, tag = "5")]
    pub function: Vec<Function>,
    /// Every string, referred to by index; index 0 is "".
    #[prost(string, repeated, tag = "6")]
    pub string_table: Vec<String>,
    /// When the profile was taken (ns since the Unix epoch).
    #[prost(int64, tag = "9")]
    pub time_nanos: i64,
    /// What `period` counts (`space`/`bytes` for a heap profile).
    #[prost(message, optional, tag = "11")]
    pub period_type: Option<ValueType>,
    /// The sampling period: Go's `runtime.MemProfileRate`.
    #[prost(int64, tag = "12")]
    pub period: i64,
}

/// `ValueType`: a type and a unit, as string-table indices.
#[derive(Clone, PartialEq, Message)]
pub struct ValueType {
    /// e.g. "inuse_space".
    #[prost(int64, tag = "1")]
    pub r#type: i64,
    /// e.g. "bytes".
    #[prost(int64, tag = "2")]
    pub unit: i64,
}

/// `Sample`: a stack (leaf first) and one value per sample type.
#[derive(Clone, PartialEq, Message)]
pub struct Sample {
    /// Location ids, the leaf first.
    #[prost(uint64, repeated, tag = "1")]
    pub location_id: Vec<u64>,
    /// One value per `Profile::sample_type`.
    #[prost(int64, repeated, tag = "2")]
    pub value: Vec<i64>,
    /// Go puts the object size here, as the numeric label "bytes".
    #[prost(message, repeated, tag = "3")]
    pub label: Vec<Label>,
}

/// `Label`: a key with a string or a number.
#[derive(Clone, PartialEq, Message)]
pub struct Label {
    /// String-table index of the key.
    #[prost(int64, tag = "1")]
    pub key: i64,
    /// String-table index of the value, if a string.
    #[prost(int64, tag = "2")]
    pub str: i64,
    /// The value, if a number.
    #[prost(int64, tag = "3")]
    pub num: i64,
}

/// `Location`: one program counter; `line` has several entries when calls
/// were inlined there (the innermost first).
#[derive(Clone, PartialEq, Message)]
pub struct Location {
    /// Referred to by `Sample::location_id`; not 0.
    #[prost(uint64, tag = "1")]
    pub id: u64,
    /// The source lines, innermost first.
    #[prost(message, repeated, tag = "4")]
    pub line: Vec<Line>,
}

/// `Line`: a function and a line number in it.
#[derive(Clone, PartialEq, Message)]
pub struct Line {
    /// Referred `Function::id`.
    #[prost(uint64, tag = "1")]
    pub function_id: u64,
    /// The line number.
    #[prost(int64, tag = "2")]
    pub line: i64,
}

/// `Function`: a name and a source file.
#[derive(Clone, PartialEq, Message)]
pub struct Function {
    /// Referred to by `Line::function_id`; not 0.
    #[prost(uint64, tag = "1")]
    pub id: u64,
    /// String-table index of the name (e.g. `main.(*cache).put`).
    #[prost(int64, tag = "2")]
    pub name: i64,
    /// String-table index of the source file's path.
    #[prost(int64, tag = "4")]
    pub filename: i64,
}

/// One frame of a stack.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Frame {
    /// The function, as Go names it (`main.grow`, `pkg.(*T).m`).
    pub function: String,
    /// The source file, as recorded when the program was built.
    pub file: String,
    /// The line in `file`.
    pub line: i64,
}

/// One stack and object size with its four numbers, as pprof scaled them.
#[derive(Clone, Debug)]
pub struct Record {
    /// The stack, leaf first, inlined frames expanded.
    pub stack: Vec<Frame>,
    /// The size of each object, in bytes (Go's size-class or page-rounded
    /// size).
    pub size: u64,
    /// Objects and bytes allocated since the program started.
    pub alloc_objects: i64,
    /// See `alloc_objects`.
    pub alloc_bytes: i64,
    /// Objects and bytes live at the last garbage collection.
    pub inuse_objects: i64,
    /// See `inuse_objects`.
    pub inuse_bytes: i64,
}

/// A heap profile, flattened.
#[derive(Clone, Debug)]
pub struct Heap {
    /// The records, in the profile's order.
    pub records: Vec<Record>,
    /// Bytes between samples (`runtime.MemProfileRate`); 1 when every
    /// allocation was recorded.
    pub period: i64,
    /// When it was taken, ns since the Unix epoch (0 if not said).
    pub time_nanos: i64,
}

/// Reads a profile from a path or a loopback `http://` URL.
pub fn load(source: &str) -> Result<Heap, String> {
    let raw = if source.starts_with("http://") || source.starts_with("https://") {
        fetch(source)?
    } else {
        let file = std::fs::File::open(source).map_err(|e| format!("cannot read {source}: {e}"))?;
        let mut raw = Vec::new();
        file.take(MAX_BYTES + 1)
            .read_to_end(&mut raw)
            .map_err(|e| format!("cannot read {source}: {e}"))?;
        raw
    };
    parse(&raw).map_err(|e| format!("{source}: {e}"))
}

/// The host of an `http://` URL, if it is a loopback one (127.0.0.0/8,
/// `localhost`, `[::1]`).
fn loopback_host(url: &str) -> Option<&str> {
    let rest = url.strip_prefix("http://")?;
    let authority = rest.split(['/', '?', '#']).next()?;
    let host = if let Some(v6) = authority.strip_prefix('[') {
        v6.split(']').next()?
    } else {
        authority.split(':').next()?
    };
    let loopback = host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback());
    loopback.then_some(host)
}

fn fetch(url: &str) -> Result<Vec<u8>, String> {
    if loopback_host(url).is_none() {
        return Err(format!(
            "{url}: only loopback URLs are fetched (http://127.0.0.1:PORT/debug/pprof/heap, \
             http://localhost:PORT/…); save the profile to a file first"
        ));
    }
    let agent = ureq::AgentBuilder::new()
        .timeout(std::time::Duration::from_secs(60))
        .redirects(0)
        .build();
    let response = agent.get(url).call().map_err(|e| {
        let e = e.to_string();
        format!(
            "cannot fetch {url}: {}",
            e.lines().next().unwrap_or("error")
        )
    })?;
    let mut raw = Vec::new();
    response
        .into_reader()
        .take(MAX_BYTES + 1)
        .read_to_end(&mut raw)
        .map_err(|e| format!("cannot fetch {url}: {e}"))?;
    Ok(raw)
}

/// Decodes a profile's bytes (gzipped or not) into a [`Heap`].
pub fn parse(raw: &[u8]) -> Result<Heap, String> {
    if raw.is_empty() {
        return Err("empty file, not a heap profile".into());
    }
    if raw.len() as u64 > MAX_BYTES {
        return Err(format!("bigger than {} MiB", MAX_BYTES >> 20));
    }
    let unzipped;
    let bytes = if raw.starts_with(&[0x1f, 0x8b]) {
        let mut out = Vec::new();
        flate2::read::MultiGzDecoder::new(raw)
            .take(MAX_BYTES + 1)
            .read_to_end(&mut out)
            .map_err(|e| format!("not a valid gzip stream ({e}): truncated or damaged"))?;
        if out.len() as u64 > MAX_BYTES {
            return Err(format!("unzips to more than {} MiB", MAX_BYTES >> 20));
        }
        unzipped = out;
        &unzipped[..]
    } else {
        raw
    };
    if bytes.starts_with(b"heap profile:") || bytes.starts_with(b"goroutine profile:") {
        return Err(
            "a text profile (debug=1); ask for the protobuf one (…/debug/pprof/heap without ?debug=)"
                .into(),
        );
    }
    let profile = Profile::decode(bytes)
        .map_err(|e| format!("not a pprof protobuf profile ({e}): truncated or not a profile"))?;
    flatten(&profile)
}

fn flatten(p: &Profile) -> Result<Heap, String> {
    let strings = &p.string_table;
    if strings.first().is_none_or(|s| !s.is_empty()) {
        return Err("not a pprof profile: its string table does not start with \"\"".into());
    }
    let string = |i: i64| -> Result<&str, String> {
        usize::try_from(i)
            .ok()
            .and_then(|i| strings.get(i))
            .map(String::as_str)
            .ok_or_else(|| format!("damaged profile: string index {i} out of range"))
    };
    let mut types = Vec::with_capacity(p.sample_type.len());
    for t in &p.sample_type {
        types.push((string(t.r#type)?, string(t.unit)?));
    }
    let index = |name: &str| types.iter().position(|t| t.0 == name);
    let (Some(ao), Some(ab), Some(io), Some(ib)) = (
        index("alloc_objects"),
        index("alloc_space"),
        index("inuse_objects"),
        index("inuse_space"),
    ) else {
        let had: Vec<String> = types.iter().map(|(t, u)| format!("{t}/{u}")).collect();
        return Err(format!(
            "not a Go heap profile: no alloc_objects, alloc_space, inuse_objects and inuse_space \
             sample types (it has {})",
            if had.is_empty() {
                "none".to_string()
            } else {
                had.join(", ")
            }
        ));
    };
    let functions: std::collections::HashMap<u64, (&str, &str)> = p
        .function
        .iter()
        .map(|f| Ok((f.id, (string(f.name)?, string(f.filename)?))))
        .collect::<Result<_, String>>()?;
    let mut locations: std::collections::HashMap<u64, Vec<Frame>> =
        std::collections::HashMap::with_capacity(p.location.len());
    for l in &p.location {
        let mut frames = Vec::with_capacity(l.line.len());
        for line in &l.line {
            let (function, file) = functions.get(&line.function_id).ok_or_else(|| {
                format!(
                    "damaged profile: location {} names function {}, which is not there",
                    l.id, line.function_id
                )
            })?;
            frames.push(Frame {
                function: function.to_string(),
                file: file.to_string(),
                line: line.line,
            });
        }
        locations.insert(l.id, frames);
    }
    let bytes_key = strings.iter().position(|s| s == "bytes").map(|i| i as i64);
    let mut records = Vec::with_capacity(p.sample.len());
    for s in &p.sample {
        if s.value.len() != types.len() {
            return Err(format!(
                "damaged profile: a sample has {} values for {} sample types",
                s.value.len(),
                types.len()
            ));
        }
        let mut stack = Vec::new();
        for id in &s.location_id {
            let frames = locations.get(id).ok_or_else(|| {
                format!("damaged profile: a sample names location {id}, which is not there")
            })?;
            stack.extend(frames.iter().cloned());
        }
        let v = |i: usize| s.value[i];
        let labelled = s
            .label
            .iter()
            .find(|l| Some(l.key) == bytes_key && l.num > 0)
            .map(|l| l.num as u64);
        let size = labelled.or_else(|| {
            [(v(ab), v(ao)), (v(ib), v(io))]
                .into_iter()
                .find(|&(b, o)| o > 0 && b > 0)
                .map(|(b, o)| (b / o) as u64)
        });
        let Some(size) = size else { continue };
        records.push(Record {
            stack,
            size,
            alloc_objects: v(ao).max(0),
            alloc_bytes: v(ab).max(0),
            inuse_objects: v(io).max(0),
            inuse_bytes: v(ib).max(0),
        });
    }
    Ok(Heap {
        records,
        period: p.period,
        time_nanos: p.time_nanos,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_loopback_hosts_are_fetched() {
        for ok in [
            "http://127.0.0.1:6060/debug/pprof/heap",
            "http://localhost:8080/debug/pprof/heap?gc=1",
            "http://[::1]:6060/debug/pprof/heap",
            "http://127.3.4.5/debug/pprof/heap",
        ] {
            assert!(loopback_host(ok).is_some(), "{ok}");
        }
        for bad in [
            "http://10.0.0.1:6060/debug/pprof/heap",
            "http://example.com/debug/pprof/heap",
            "http://127.0.0.1.example.com/heap",
            "https://127.0.0.1/heap",
            "http://user@127.0.0.1/heap",
        ] {
            assert!(loopback_host(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn bad_bytes_are_errors_not_panics() {
        assert!(parse(b"").unwrap_err().contains("empty"));
        assert!(parse(&[0x1f, 0x8b, 8, 0, 1, 2])
            .unwrap_err()
            .contains("gzip"));
        let e = parse(b"heap profile: 1: 2 [3: 4] @ heap/1048576").unwrap_err();
        assert!(e.contains("text profile"), "{e}");
        // Some garbage decodes as an empty message: then it is no heap profile.
        for garbage in [&b"\x00\x01\x02\xff\xfe"[..], b"hello, world", &[0xff; 64]] {
            assert!(parse(garbage).is_err());
        }
        let cpu = Profile {
            sample_type: vec![ValueType { r#type: 1, unit: 2 }],
            string_table: vec!["".into(), "cpu".into(), "nanoseconds".into()],
            ..Profile::default()
        };
        let e = parse(&cpu.encode_to_vec()).unwrap_err();
        assert!(
            e.contains("not a Go heap profile") && e.contains("cpu/nanoseconds"),
            "{e}"
        );
    }
}
