//! Measuring tools shared by the experiments: counted bytes, keys, progress
//! bars, statistics.

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::io::IsTerminal;

/// Bytes the whole process holds from the allocator right now (a counting
/// global allocator). Experiments measure a map as the difference around
/// it, with nothing else allocating in between.
pub fn live_bytes() -> usize {
    crate::ALLOCATOR.allocated()
}

/// Bytes held now beyond `base` (0 if fewer: something measured before was
/// freed since).
pub fn bytes_since(base: usize) -> usize {
    live_bytes().saturating_sub(base)
}

/// `n` distinct pseudo-random keys (splitmix64 of a counter), the same for
/// every map and every run with the same `seed`.
pub fn keys(n: usize, seed: u64) -> Vec<u64> {
    (0..n as u64)
        .map(|i| splitmix(i.wrapping_add(seed.wrapping_mul(0x1000_0000_0000))))
        .collect()
}

pub fn splitmix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// A progress bar for `len` steps, drawn on stderr only when stdout is a
/// terminal (so piped and JSON output stay clean). It redraws only when a
/// step ends — no ticking thread, which would allocate while bytes are
/// being counted.
pub fn progress(len: u64, what: &str) -> ProgressBar {
    let bar = ProgressBar::new(len);
    if std::io::stdout().is_terminal() && std::io::stderr().is_terminal() {
        bar.set_draw_target(ProgressDrawTarget::stderr());
        bar.set_style(
            ProgressStyle::with_template("{spinner} {msg:<28} [{bar:30}] {pos}/{len} {elapsed}")
                .expect("a valid template")
                .progress_chars("=> "),
        );
    } else {
        bar.set_draw_target(ProgressDrawTarget::hidden());
    }
    bar.set_message(what.to_string());
    bar
}

/// The median of some numbers (the upper one for an even count).
pub fn median(mut xs: Vec<f64>) -> f64 {
    if xs.is_empty() {
        return f64::NAN;
    }
    xs.sort_by(f64::total_cmp);
    xs[xs.len() / 2]
}

/// The `q` quantile (0..=1) of sorted values.
pub fn quantile(sorted: &[u64], q: f64) -> u64 {
    if sorted.is_empty() {
        return 0;
    }
    let i = ((sorted.len() - 1) as f64 * q).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

/// Bytes as a short human figure.
pub fn human_bytes(b: usize) -> String {
    let b = b as f64;
    if b >= 1024.0 * 1024.0 * 1024.0 {
        format!("{:.2} GiB", b / (1024.0 * 1024.0 * 1024.0))
    } else if b >= 1024.0 * 1024.0 {
        format!("{:.1} MiB", b / (1024.0 * 1024.0))
    } else if b >= 1024.0 {
        format!("{:.1} KiB", b / 1024.0)
    } else {
        format!("{b} B")
    }
}

/// What a caught panic said.
pub fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a panic without a message".into())
}
