//! `cargo xtask bench [<paper>] [--no-twin]`: runs the benchmarks the crates define
//! (`crates/<crate>/benches/*.rs`, timed by `repro_core::bench`) and their PyTorch twins
//! (`benches/<name>_torch.py`) on the same machine in the same command, and prints the
//! ratio per benchmark. Results go to `results/bench/<crate>.json`, and a summary table of
//! every benchmark run (medians, ratio, the twin-counted matrix-product FLOPs, both sides'
//! GFLOP/s and the machine's sgemm throughput) to `results/bench/summary.md`.
//!
//! Benchmarks build in the `dev` profile, whose dependencies are at opt-level 3: a
//! `release` build would compile the Burn stack a second time. The twins run in a local
//! virtual environment (`target/bench-venv`) with torch from PyPI, limited to 2 threads.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::Context;
use repro_core::bench::parse_lines;
use repro_core::report::write_atomic;

/// The torch version the twins are measured with.
const TORCH: &str = "torch==2.11.0";
/// Threads for both sides (the CI and reference machines have 2 cores).
const THREADS: &str = "2";

/// Runs benchmarks of one crate or of every crate that has them.
pub fn run(paper: Option<&str>, twin: bool) -> anyhow::Result<()> {
    let root = crate::workspace_root();
    let mut crates = Vec::new();
    for entry in std::fs::read_dir(root.join("crates")).context("cannot list crates/")? {
        let entry = entry?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if entry.path().join("benches").is_dir() && paper.is_none_or(|p| p == name) {
            crates.push(name);
        }
    }
    crates.sort();
    if crates.is_empty() {
        match paper {
            Some(p) => anyhow::bail!("crate `{p}` defines no benchmarks (no crates/{p}/benches/)"),
            None => println!("No crate defines benchmarks yet."),
        }
        return Ok(());
    }
    // One crate's failure (a missing dataset, a twin that errors) does not stop the others;
    // the command still fails at the end and names them.
    let mut rows = Vec::new();
    let mut failed = Vec::new();
    for name in &crates {
        match bench_crate(&root, name, twin) {
            Ok(r) => rows.extend(r),
            Err(e) => {
                eprintln!("error: {e:#}");
                failed.push(name.clone());
            }
        }
    }
    let peak = if twin { sgemm_peak(&root) } else { None };
    let summary = summary_table(&rows, peak);
    println!("\nSummary of {} crate(s):\n\n{summary}", crates.len());
    let path = root.join("results/bench/summary.md");
    write_atomic(&path, summary.as_bytes())?;
    println!("written to {}", path.display());
    anyhow::ensure!(
        failed.is_empty(),
        "benchmarks failed for {} (see the errors above)",
        failed.join(", ")
    );
    Ok(())
}

/// One benchmark's line in the summary: ours beside the twin's, with the twin's FLOPs.
struct Row {
    krate: String,
    name: String,
    burn_ms: f64,
    torch_ms: Option<f64>,
    flops: Option<f64>,
}

/// The summary `docs/performance.md` quotes: the machine and its sgemm throughput, then
/// [`table`].
fn summary_table(rows: &[Row], peak: Option<f64>) -> String {
    format!(
        "Machine: {}; {THREADS} threads each side. sgemm peak (torch, 2048³ f32): {}.\n\n{}",
        machine(),
        peak.map_or("not measured".into(), |p| format!("{p:.0} GFLOP/s")),
        table(rows)
    )
}

/// Per benchmark: both medians, the ratio, the matrix-product GFLOP of one iteration
/// (counted by the twin) and both sides' GFLOP/s.
fn table(rows: &[Row]) -> String {
    let gflops = |flops: Option<f64>, ms: Option<f64>| match (flops, ms) {
        (Some(f), Some(ms)) if ms > 0.0 && f > 0.0 => format!("{:.1}", f / (ms * 1e6)),
        _ => "–".into(),
    };
    let mut out = String::from(
        "| crate | benchmark | burn ms | pytorch ms | burn / pytorch | GFLOP / iter | burn GFLOP/s | pytorch GFLOP/s |\n\
         |---|---|---|---|---|---|---|---|\n",
    );
    for r in rows {
        out.push_str(&format!(
            "| {} | `{}` | {:.3} | {} | {} | {} | {} | {} |\n",
            r.krate,
            r.name,
            r.burn_ms,
            r.torch_ms.map_or("–".into(), |t| format!("{t:.3}")),
            r.torch_ms
                .map_or("–".into(), |t| format!("{:.2}", r.burn_ms / t)),
            r.flops.map_or("–".into(), |f| format!("{:.4}", f / 1e9)),
            gflops(r.flops, Some(r.burn_ms)),
            gflops(r.flops, r.torch_ms),
        ));
    }
    out
}

/// The sgemm throughput of this machine through torch (`xtask/python/repro_bench.py`
/// run as a script), or `None` where the twin's Python is unavailable.
fn sgemm_peak(root: &Path) -> Option<f64> {
    let python = python_with_torch(root).ok()?;
    let out = python_script(&python, &root.join("xtask/python/repro_bench.py")).ok()?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    let line = stdout.lines().find_map(|l| l.strip_prefix("PEAK_JSON "))?;
    serde_json::from_str::<serde_json::Value>(line).ok()?["gflops"].as_f64()
}

/// Runs a Python script of the twins with the threads both sides are limited to.
fn python_script(python: &Path, script: &Path) -> anyhow::Result<std::process::Output> {
    Command::new(python)
        .arg(script)
        .env("OMP_NUM_THREADS", THREADS)
        .env("MKL_NUM_THREADS", THREADS)
        .env("REPRO_THREADS", THREADS)
        .stderr(Stdio::inherit())
        .output()
        .with_context(|| format!("cannot run {}", script.display()))
}

fn bench_crate(root: &Path, name: &str, twin: bool) -> anyhow::Result<Vec<Row>> {
    let package = if name == "core" {
        "repro-core".to_owned()
    } else {
        format!("repro-{name}")
    };
    eprintln!("==> benchmarks of {package} ({THREADS} threads)");
    let out = crate::cargo()
        .args(["bench", "--profile", "dev", "--package", &package])
        .env("RAYON_NUM_THREADS", THREADS)
        .stderr(Stdio::inherit())
        .output()
        .context("cannot run cargo bench")?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    print!("{stdout}");
    if !out.status.success() {
        anyhow::bail!("benchmarks of {package} failed ({})", out.status);
    }
    let ours = parse_lines(&stdout);

    let mut theirs = Vec::new();
    let mut twin_note = String::from("no PyTorch twin");
    let scripts = twin_scripts(&root.join("crates").join(name).join("benches"))?;
    if twin && !scripts.is_empty() {
        match python_with_torch(root) {
            Ok(python) => {
                for script in &scripts {
                    eprintln!("==> PyTorch twin {}", script.display());
                    let out = python_script(&python, script)?;
                    let stdout = String::from_utf8_lossy(&out.stdout);
                    print!("{stdout}");
                    if !out.status.success() {
                        anyhow::bail!("{} failed ({})", script.display(), out.status);
                    }
                    theirs.extend(parse_lines(&stdout));
                }
                twin_note = format!("PyTorch {}", TORCH.trim_start_matches("torch=="));
            }
            Err(e) => {
                twin_note = format!("PyTorch twin unavailable: {e:#}");
                eprintln!("{twin_note}");
            }
        }
    } else if !twin {
        twin_note = "PyTorch twin skipped (--no-twin)".into();
    }

    println!("\n{package}: median ms per iteration, {THREADS} threads ({twin_note})");
    let rows: Vec<Row> = ours
        .iter()
        .map(|r| {
            let t = theirs.iter().find(|t| t.name == r.name);
            Row {
                krate: name.to_owned(),
                name: r.name.clone(),
                burn_ms: r.median_ms,
                torch_ms: t.map(|t| t.median_ms),
                flops: t.and_then(|t| t.flops),
            }
        })
        .collect();
    print!("{}", table(&rows));
    let record = serde_json::json!({
        "crate": package,
        "threads": THREADS,
        "machine": machine(),
        "twin": twin_note,
        "burn": ours,
        "pytorch": theirs,
        "git_commit": repro_core::report::git_commit(),
    });
    let path = root.join("results/bench").join(format!("{name}.json"));
    std::fs::create_dir_all(path.parent().expect("has a parent"))?;
    write_atomic(&path, serde_json::to_string_pretty(&record)?.as_bytes())?;
    println!("\nwritten to {}", path.display());
    Ok(rows)
}

fn twin_scripts(dir: &Path) -> anyhow::Result<Vec<PathBuf>> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .with_context(|| format!("cannot list {}", dir.display()))?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.to_string_lossy().ends_with("_torch.py"))
        .collect();
    v.sort();
    Ok(v)
}

/// A python with torch: `target/bench-venv`, created and filled on first use.
fn python_with_torch(root: &Path) -> anyhow::Result<PathBuf> {
    let venv = root.join("target/bench-venv");
    let python = venv.join("bin/python");
    let has_torch = |p: &Path| {
        Command::new(p)
            .args(["-c", "import torch"])
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    };
    if python.is_file() && has_torch(&python) {
        return Ok(python);
    }
    eprintln!(
        "==> creating {} with {TORCH} (once; a large download)",
        venv.display()
    );
    let ok = Command::new("python3")
        .args(["-m", "venv"])
        .arg(&venv)
        .status()
        .context("python3 not found")?;
    anyhow::ensure!(ok.success(), "python3 -m venv failed");
    let ok = Command::new(&python)
        .args(["-m", "pip", "install", "--quiet", TORCH, "numpy"])
        .status()
        .context("cannot run pip")?;
    anyhow::ensure!(ok.success(), "pip install {TORCH} failed");
    anyhow::ensure!(has_torch(&python), "torch installed but does not import");
    Ok(python)
}

fn machine() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|m| m.trim().to_owned())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let cores = std::thread::available_parallelism().map_or(0, usize::from);
    format!("{cpu}, {cores} cores available")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_gives_ratio_and_both_sides_gflops() {
        let rows = [
            Row {
                krate: "core".into(),
                name: "step".into(),
                burn_ms: 20.0,
                torch_ms: Some(10.0),
                flops: Some(1e9),
            },
            Row {
                krate: "core".into(),
                name: "alone".into(),
                burn_ms: 5.0,
                torch_ms: None,
                flops: None,
            },
        ];
        let t = table(&rows);
        let lines: Vec<&str> = t.lines().collect();
        assert_eq!(lines.len(), 4, "{t}");
        // 1 GFLOP in 20 ms is 50 GFLOP/s, in 10 ms 100; the ratio is 2.
        assert_eq!(
            lines[2],
            "| core | `step` | 20.000 | 10.000 | 2.00 | 1.0000 | 50.0 | 100.0 |"
        );
        assert_eq!(lines[3], "| core | `alone` | 5.000 | – | – | – | – | – |");
        assert!(summary_table(&rows, Some(155.4)).contains("155 GFLOP/s"));
        assert!(summary_table(&rows, None).contains("not measured"));
    }
}
