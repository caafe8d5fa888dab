//! The repository README's Rust examples are the published crates' README
//! examples, which those crates run as doctests: each published crate's
//! README must stay inside its package, so the repository README is checked
//! here, where reaching across the workspace is fine.

use std::path::Path;

/// The ```rust blocks of a Markdown file, in order.
fn rust_blocks(path: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut blocks = Vec::new();
    let mut current: Option<String> = None;
    for line in text.lines() {
        match (&mut current, line.trim_end()) {
            (None, "```rust") => current = Some(String::new()),
            (Some(block), "```") => {
                blocks.push(std::mem::take(block));
                current = None;
            }
            (Some(block), line) => {
                block.push_str(line);
                block.push('\n');
            }
            (None, _) => {}
        }
    }
    assert!(
        current.is_none(),
        "{}: a ```rust block is never closed",
        path.display()
    );
    blocks
}

#[test]
fn every_rust_example_of_the_repository_readme_is_a_doctested_crate_readme_example() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let tested: Vec<String> = ["gomap", "gomap-sync", "gomap-govern"]
        .iter()
        .flat_map(|krate| rust_blocks(&root.join("crates").join(krate).join("README.md")))
        .collect();
    let shown = rust_blocks(&root.join("README.md"));
    assert!(!shown.is_empty(), "README.md has no ```rust example");
    for block in shown {
        assert!(
            tested.contains(&block),
            "this README.md example is in no crate README, so no doctest runs it:\n{block}"
        );
    }
}
