//! The source line behind a site, when the Go source is at hand: at the
//! path the binary recorded, or under a `--source` directory (matched by
//! the path's last components).

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use super::profile::Frame;

/// One line of Go source.
#[derive(Clone, Debug)]
pub struct Line {
    /// The text, as in the file.
    pub text: String,
}

impl Line {
    /// The line without its `//` comment.
    fn code(&self) -> &str {
        self.text.split("//").next().unwrap_or("")
    }

    /// It makes a map, or writes one: `make(map[…`, a `map[…]…{` literal,
    /// or `x[k] = v` / `x[k] += v` / `x[k]++` whose right side allocates
    /// nothing itself (else that would be what the profile saw).
    pub fn says_map(&self) -> bool {
        let code = self.code();
        let literal = code.find("map[").is_some_and(|at| code[at..].contains('{'));
        if code.contains("make(map[") || literal {
            return true;
        }
        let mut depth = 0i32;
        for (i, c) in code.char_indices() {
            match c {
                '[' => depth += 1,
                ']' => {
                    depth -= 1;
                    if depth != 0 {
                        continue;
                    }
                    let rest = code[i + 1..].trim_start();
                    let assign = ["=", "+=", "-=", "|=", "&=", "^=", "*=", "++", "--"]
                        .iter()
                        .find(|op| rest.starts_with(**op) && !rest.starts_with("=="));
                    if let Some(op) = assign {
                        let rhs = &rest[op.len()..];
                        return !allocates(rhs);
                    }
                }
                _ => {}
            }
        }
        false
    }

    /// It makes a map: `make(map[…` or a `map[…]…{` literal.
    pub fn makes_map(&self) -> bool {
        let code = self.code();
        code.contains("make(map[") || code.find("map[").is_some_and(|at| code[at..].contains('{'))
    }

    /// It visibly allocates something that is not a map: `append(`,
    /// `make([]…`, `new(`, `&T{…}`, a slice literal.
    pub fn says_not_map(&self) -> bool {
        let code = self.code();
        !code.contains("map[") && allocates(code)
    }
}

fn allocates(code: &str) -> bool {
    code.contains("append(")
        || code.contains("make([]")
        || code.contains("make(chan")
        || code.contains("new(")
        || code.contains("&")
            && code
                .split('&')
                .skip(1)
                .any(|s| s.split_whitespace().next().is_some_and(|w| w.contains('{')))
        || code.contains("[]") && code.contains('{') && !code.trim_end().ends_with('{')
}

/// Finds and caches source files.
#[derive(Default)]
pub struct Sources {
    roots: Vec<PathBuf>,
    files: HashMap<String, Option<Vec<String>>>,
}

impl Sources {
    /// Looks at recorded paths, then under `roots`.
    pub fn new(roots: Vec<PathBuf>) -> Self {
        Sources {
            roots,
            files: HashMap::new(),
        }
    }

    fn candidates(&self, file: &str) -> Vec<PathBuf> {
        let mut out = vec![PathBuf::from(file)];
        let parts: Vec<&str> = file.split('/').filter(|p| !p.is_empty()).collect();
        for root in &self.roots {
            // Longest suffix first: a/b/c.go, b/c.go, c.go.
            for start in 0..parts.len() {
                out.push(root.join(parts[start..].join("/")));
            }
        }
        out
    }

    /// The text of `frame`'s line, if its file is found.
    pub fn line(&mut self, frame: &Frame) -> Option<Line> {
        if !self.files.contains_key(&frame.file) {
            let found = self
                .candidates(&frame.file)
                .into_iter()
                .find(|p| Path::new(p).is_file())
                .and_then(|p| std::fs::read_to_string(p).ok())
                .map(|s| s.lines().map(String::from).collect());
            self.files.insert(frame.file.clone(), found);
        }
        let lines = self.files.get(&frame.file)?.as_ref()?;
        let i = usize::try_from(frame.line).ok()?.checked_sub(1)?;
        lines.get(i).map(|t| Line { text: t.clone() })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(text: &str) -> Line {
        Line { text: text.into() }
    }

    #[test]
    fn map_lines_and_others() {
        for yes in [
            "\tleaky[\"user:\"+strconv.Itoa(i)] = uint64(i)",
            "\tcounts[k]++",
            "m[k] += 2 // note: &x{}",
            "healthy = make(map[int32]int32, 1024)",
            "seen := map[string]bool{}",
            "burst[uint64(i)*0x9e37] = [4]uint64{uint64(i)}",
        ] {
            assert!(line(yes).says_map(), "{yes}");
            assert!(!line(yes).says_not_map(), "{yes}");
        }
        for no in [
            "slice = append(slice, uint64(len(slice)))",
            "items = append(items, &item{id: uint64(len(items))})",
            "buf := make([]byte, n)",
            "p := &item{id: 1}",
            "x := new(item)",
            "xs := []int{1, 2}",
        ] {
            assert!(!line(no).says_map(), "{no}");
            assert!(line(no).says_not_map(), "{no}");
        }
        assert!(!line("items[i] = &item{}").says_map());
        assert!(!line("if a[i] == b {").says_map());
    }
}
