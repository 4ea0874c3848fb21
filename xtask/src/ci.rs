//! `cargo xtask ci`: formatting, lints, docs, tests, the results book and every paper's smoke
//! profile on the ndarray backend, as CI runs them.

use anyhow::Context;

fn step(name: &str, args: &[&str], env: &[(&str, &str)]) -> anyhow::Result<()> {
    eprintln!("==> cargo {}", args.join(" "));
    let started = std::time::Instant::now();
    let status = crate::cargo()
        .args(args)
        .envs(env.iter().copied())
        .status()
        .with_context(|| format!("cannot run {name}"))?;
    eprintln!(
        "    {name}: {status} in {:.0} s",
        started.elapsed().as_secs_f64()
    );
    if !status.success() {
        anyhow::bail!("{name} failed");
    }
    Ok(())
}

/// Runs the checks in order, stopping at the first failure.
pub fn run() -> anyhow::Result<()> {
    step("fmt", &["fmt", "--all", "--", "--check"], &[])?;
    step(
        "clippy",
        &[
            "clippy",
            "--workspace",
            "--all-targets",
            "--",
            "-D",
            "warnings",
        ],
        &[],
    )?;
    // Broken intra-doc links and bad HTML are denied by the workspace lints.
    step(
        "docs",
        &["doc", "--workspace", "--no-deps"],
        &[("RUSTDOCFLAGS", "-D warnings")],
    )?;
    step("tests", &["test", "--workspace"], &[])?;
    // The results book: the committed dashboard must be current, and the built book must
    // have no broken local link or missing image. The tests above installed the pinned
    // mdbook into the target dir (xtask/tests/book.rs also renders every page in Chromium).
    step(
        "book",
        &[
            "run",
            "--quiet",
            "--package",
            "xtask",
            "--",
            "book",
            "--check",
        ],
        &[],
    )?;
    // Every paper's smoke profile on a second backend: `--device ndarray` rebuilds the
    // xtask with that feature in the target dir's `gpu/` (the default build stays Flex-only).
    let out = crate::gpu_target_dir().join("ci-ndarray-smoke");
    let out = out.to_string_lossy();
    step(
        "ndarray smoke",
        &[
            "run",
            "--quiet",
            "--package",
            "xtask",
            "--",
            "reproduce",
            "all",
            "--profile",
            "smoke",
            "--device",
            "ndarray",
            "--fresh",
            "--out",
            &out,
        ],
        &[],
    )?;
    eprintln!("ci: all checks passed");
    Ok(())
}
