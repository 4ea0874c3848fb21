//! `cargo xtask ci`: formatting, lints and tests, as CI runs them.

use anyhow::Context;

fn step(name: &str, args: &[&str]) -> anyhow::Result<()> {
    eprintln!("==> cargo {}", args.join(" "));
    let started = std::time::Instant::now();
    let status = crate::cargo()
        .args(args)
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
    step("fmt", &["fmt", "--all", "--", "--check"])?;
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
    )?;
    step("tests", &["test", "--workspace"])?;
    eprintln!("ci: all checks passed");
    Ok(())
}
