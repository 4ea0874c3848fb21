//! A small benchmark harness, shared by every crate's `benches/*.rs` (`harness = false`).
//!
//! Each benchmark prints one `BENCH_JSON {...}` line that `cargo xtask bench` collects and
//! compares with the same-named line of the crate's PyTorch twin (`benches/<name>_torch.py`).
//! criterion is not used: its dependency tree would change features of crates Burn shares,
//! and so rebuild the Burn stack.
//!
//! ```
//! use repro_core::bench;
//! let r = bench::run("sum", 2, 5, || {
//!     std::hint::black_box((0..1000u64).sum::<u64>());
//! });
//! assert_eq!(r.iters, 5);
//! assert!(r.min_ms <= r.median_ms && r.median_ms <= r.max_ms);
//! ```

use std::time::Instant;

use serde::{Deserialize, Serialize};

/// The prefix of machine-readable result lines.
pub const LINE_PREFIX: &str = "BENCH_JSON ";

/// Timing of one benchmark, in milliseconds per iteration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BenchResult {
    /// Benchmark name, shared with the PyTorch twin.
    pub name: String,
    /// Timed iterations.
    pub iters: usize,
    /// Median time.
    pub median_ms: f64,
    /// Mean time.
    pub mean_ms: f64,
    /// Fastest iteration.
    pub min_ms: f64,
    /// Slowest iteration.
    #[serde(default)]
    pub max_ms: f64,
    /// Floating-point operations of one iteration, where the side that measured it counted
    /// them (the PyTorch twins count matrix-product FLOPs, forward and backward, with
    /// `torch.utils.flop_counter`); `None` otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub flops: Option<f64>,
}

/// Runs `f` `warmup` times untimed, then `iters` times timed one by one.
///
/// `f` must finish its work before returning: read a scalar back (`into_scalar`) or call
/// `device.sync()`, since Burn backends may run asynchronously.
///
/// # Panics
/// If `iters` is zero.
pub fn run<F: FnMut()>(name: &str, warmup: usize, iters: usize, mut f: F) -> BenchResult {
    assert!(iters > 0, "bench `{name}`: iters must be positive");
    for _ in 0..warmup {
        f();
    }
    let mut times: Vec<f64> = (0..iters)
        .map(|_| {
            let t = Instant::now();
            f();
            t.elapsed().as_secs_f64() * 1e3
        })
        .collect();
    times.sort_by(f64::total_cmp);
    let median = if iters % 2 == 1 {
        times[iters / 2]
    } else {
        0.5 * (times[iters / 2 - 1] + times[iters / 2])
    };
    BenchResult {
        name: name.into(),
        iters,
        median_ms: median,
        mean_ms: times.iter().sum::<f64>() / iters as f64,
        min_ms: times[0],
        max_ms: times[iters - 1],
        flops: None,
    }
}

/// Prints a human line and a `BENCH_JSON` line per result.
pub fn emit(results: &[BenchResult]) {
    for r in results {
        println!(
            "{:<32} median {:>9.3} ms  mean {:>9.3} ms  min {:>9.3} ms  ({} iters)",
            r.name, r.median_ms, r.mean_ms, r.min_ms, r.iters
        );
        println!(
            "{LINE_PREFIX}{}",
            serde_json::to_string(r).unwrap_or_default()
        );
    }
}

/// Parses every `BENCH_JSON` line of a program's output (other lines are ignored).
pub fn parse_lines(output: &str) -> Vec<BenchResult> {
    output
        .lines()
        .filter_map(|l| l.trim().strip_prefix(LINE_PREFIX))
        .filter_map(|j| serde_json::from_str(j).ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statistics_and_round_trip() {
        let mut k = 0u64;
        // Iteration i sleeps about i ms: the median of 1..=3 ms is the middle one.
        let r = run("sleep", 0, 3, || {
            k += 1;
            std::thread::sleep(std::time::Duration::from_millis(k));
        });
        assert!(
            r.min_ms >= 1.0
                && r.max_ms >= 3.0
                && r.min_ms <= r.median_ms
                && r.median_ms <= r.max_ms
        );
        let out = format!(
            "noise\n{LINE_PREFIX}{}\n{LINE_PREFIX}not json\n",
            serde_json::to_string(&r).unwrap()
        );
        // serde_json parses floats to within an ulp (no `float_roundtrip` feature).
        let back = parse_lines(&out);
        assert_eq!(back.len(), 1);
        assert_eq!((back[0].name.as_str(), back[0].iters), ("sleep", 3));
        for (a, b) in [
            (back[0].median_ms, r.median_ms),
            (back[0].min_ms, r.min_ms),
            (back[0].max_ms, r.max_ms),
        ] {
            assert!((a - b).abs() <= 1e-12 * b.abs(), "{a} vs {b}");
        }
        // The twin's lines may omit max_ms.
        let twin = parse_lines(
            r#"BENCH_JSON {"name": "a", "iters": 1, "median_ms": 2.0, "mean_ms": 2.0, "min_ms": 2.0}"#,
        );
        assert_eq!((twin[0].max_ms, twin[0].flops), (0.0, None));
        // A twin's FLOP count survives the parse; our own lines carry none.
        let counted = parse_lines(
            r#"BENCH_JSON {"name": "b", "iters": 1, "median_ms": 2.0, "mean_ms": 2.0, "min_ms": 2.0, "flops": 1.5e7}"#,
        );
        assert_eq!(counted[0].flops, Some(1.5e7));
        assert!(!serde_json::to_string(&r).unwrap().contains("flops"));
    }
}
