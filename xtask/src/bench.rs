//! `cargo xtask bench [<paper>]`: runs the benchmarks the crates define (`benches/`),
//! in release mode.

use anyhow::Context;

/// Runs benchmarks of one paper crate or of every crate that has them.
pub fn run(paper: Option<&str>) -> anyhow::Result<()> {
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
    for name in crates {
        let package = if name == "core" {
            "repro-core".to_owned()
        } else {
            format!("repro-{name}")
        };
        eprintln!("==> benchmarks of {package}");
        let status = crate::cargo()
            .args(["bench", "--package", &package])
            .status()?;
        if !status.success() {
            anyhow::bail!("benchmarks of {package} failed ({status})");
        }
    }
    Ok(())
}
