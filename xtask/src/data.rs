//! `cargo xtask data list|verify|fetch [<dataset>]`.

use repro_core::data::{DataRoots, DatasetEntry, FileStatus, registry};

/// Data subcommands.
#[derive(clap::Subcommand, Debug)]
pub enum Command {
    /// Registered datasets: files, size, licence, and where the data roots are.
    List,
    /// Check every registered file found in the cache or mirror against its SHA-256;
    /// fails naming each missing or corrupt file.
    Verify {
        /// Only this dataset.
        dataset: Option<String>,
    },
    /// Download missing files from their upstream URLs into the cache (verified).
    Fetch {
        /// Only this dataset.
        dataset: Option<String>,
    },
}

fn selected(name: Option<&str>) -> anyhow::Result<Vec<&'static DatasetEntry>> {
    Ok(match name {
        Some(n) => vec![registry().dataset(n)?],
        None => registry().datasets.iter().collect(),
    })
}

/// Runs a data subcommand.
pub fn run(cmd: &Command) -> anyhow::Result<()> {
    let roots = DataRoots::from_env();
    match cmd {
        Command::List => {
            println!("cache:  {} (REPRO_DATA_DIR)", roots.cache.display());
            match &roots.mirror {
                Some(m) => println!("mirror: {} (REPRO_DATA_MIRROR)", m.display()),
                None => println!("mirror: not set (REPRO_DATA_MIRROR)"),
            }
            println!();
            for d in &registry().datasets {
                let where_ = if d.committed { "committed" } else { "registry" };
                println!(
                    "{:<18} {:>4} files {:>10} bytes  {where_}",
                    d.name,
                    d.files.len(),
                    d.total_bytes()
                );
                println!("{:<18} {}", "", d.description);
                println!("{:<18} licence: {}", "", d.licence);
            }
            Ok(())
        }
        Command::Verify { dataset } => {
            let (mut ok, mut missing, mut corrupt) = (0, Vec::new(), Vec::new());
            for d in selected(dataset.as_deref())? {
                for f in &d.files {
                    match roots.status(f)? {
                        FileStatus::Verified(_) | FileStatus::Embedded => ok += 1,
                        FileStatus::Missing => missing.push(format!("{} ({})", f.path, d.name)),
                        FileStatus::Corrupt { path, found } => corrupt.push(format!(
                            "{}: expected {} bytes, sha256 {}; found {found}",
                            path.display(),
                            f.bytes,
                            f.sha256
                        )),
                    }
                }
            }
            for m in &missing {
                println!("missing  {m}");
            }
            for c in &corrupt {
                println!("CORRUPT  {c}");
            }
            println!(
                "{ok} verified, {} missing, {} corrupt",
                missing.len(),
                corrupt.len()
            );
            if !missing.is_empty() || !corrupt.is_empty() {
                anyhow::bail!(
                    "{} file(s) missing and {} corrupt: run `cargo xtask data fetch` (corrupt files: delete them first)",
                    missing.len(),
                    corrupt.len()
                );
            }
            Ok(())
        }
        Command::Fetch { dataset } => {
            let mut failures = 0;
            for d in selected(dataset.as_deref())? {
                for f in &d.files {
                    match roots.fetch(d, f) {
                        Ok(p) => println!("ok       {}", p.display()),
                        Err(e) => {
                            failures += 1;
                            println!("FAILED   {}: {e}", f.path);
                        }
                    }
                }
            }
            if failures > 0 {
                anyhow::bail!("{failures} file(s) could not be fetched");
            }
            Ok(())
        }
    }
}
