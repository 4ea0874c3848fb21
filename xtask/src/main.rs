//! `cargo xtask`: the workspace's command line.
//!
//! ```text
//! cargo xtask list                                   papers and their claims
//! cargo xtask reproduce <paper>|all [--profile quick] [--device cpu] [--seeds N] [--out DIR]
//!                                  [--only EXPERIMENT,...] [--shard I/N] [--merge] [--fresh]
//!                                  [--jobs N] [--dry-run]
//! cargo xtask report <paper> --out DIR               merge shards' job results into the report
//! cargo xtask plots <report.json> [--out DIR]        redraw a stored report's plots
//! cargo xtask data list|verify|fetch [<dataset>]     the dataset registry
//! cargo xtask bench [<paper>] [--no-twin]            benchmarks beside their PyTorch twins
//! cargo xtask fuzz [<target>] [--runs N] [--secs S]  libFuzzer targets (nightly cargo-fuzz)
//! cargo xtask book [--collect DIR] [--check] [--browser] [--screenshot] [--open]
//!                                  the results book (docs/ as an mdBook) and its dashboard
//! cargo xtask ci                                     fmt check, clippy, docs, tests, book, ndarray smoke
//! ```

mod bench;
mod ci;
mod data;
mod fuzz;
mod reproduce;

use xtask::papers;

use clap::{Parser, Subcommand};

/// Reproductions of recent ML papers on one Burn core.
#[derive(Parser, Debug)]
#[command(name = "cargo xtask", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// List the implemented papers with their claims.
    List,
    /// Rerun a paper's headline experiment and check its claims.
    Reproduce(reproduce::Args),
    /// Build a paper's report from the job results its shards wrote into --out.
    Report(reproduce::ReportArgs),
    /// Redraw the plots (SVG) of a stored report.json without rerunning anything, e.g.
    /// after a change to the plot renderer.
    Plots {
        /// The report.json.
        report: std::path::PathBuf,
        /// Where the SVGs go (default: beside the report).
        #[arg(long)]
        out: Option<std::path::PathBuf>,
    },
    /// Inspect, verify or download the registered datasets.
    Data {
        #[command(subcommand)]
        command: data::Command,
    },
    /// Run the benchmarks the crates define.
    Bench {
        /// Only this paper's benchmarks.
        paper: Option<String>,
        /// Skip the PyTorch twins.
        #[arg(long)]
        no_twin: bool,
    },
    /// Fuzz the parsers and the files the workspace reads back (nightly `cargo fuzz`).
    Fuzz(fuzz::Args),
    /// Build the results book: regenerate the claims dashboard from the committed reports
    /// (`docs/results/<paper>/<profile>/report.json`), build docs/ with a pinned mdbook into
    /// `<target dir>/book` and check every local link and image.
    Book(xtask::book::Args),
    /// What CI runs: `cargo fmt --check`, `cargo clippy -D warnings`, `cargo doc`, `cargo test`,
    /// `cargo xtask book --check`, then every paper's smoke profile on the ndarray backend.
    Ci,
}

fn main() {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::List => {
            papers::list();
            Ok(())
        }
        Command::Reproduce(args) => reproduce::run(&args),
        Command::Report(args) => reproduce::report(&args),
        Command::Plots { report, out } => plots(&report, out.as_deref()),
        Command::Data { command } => data::run(&command),
        Command::Bench { paper, no_twin } => bench::run(paper.as_deref(), !no_twin),
        Command::Fuzz(args) => fuzz::run(&args),
        Command::Book(args) => xtask::book::run(&args),
        Command::Ci => ci::run(),
    };
    if let Err(e) = result {
        eprintln!("error: {e:#}");
        std::process::exit(1);
    }
}

/// `cargo xtask plots`: the SVGs of a stored report, redrawn.
fn plots(report: &std::path::Path, out: Option<&std::path::Path>) -> anyhow::Result<()> {
    let r = repro_core::Report::read(report)?;
    let dir = match out {
        Some(d) => d.to_path_buf(),
        None => report
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(std::path::Path::new("."))
            .to_path_buf(),
    };
    std::fs::create_dir_all(&dir)
        .map_err(|e| anyhow::anyhow!("cannot create {}: {e}", dir.display()))?;
    let written = r.write_plots(&dir)?;
    println!(
        "{} plots of {} written to {}",
        written.len(),
        r.paper,
        dir.display()
    );
    Ok(())
}

/// The workspace root (the xtask crate sits one level below it).
fn workspace_root() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask lives inside the workspace")
        .to_path_buf()
}

/// Where the xtask is rebuilt with an extra backend feature: `gpu/` inside the target dir
/// (`CARGO_TARGET_DIR` when set, else `target/`), so the default build stays untouched.
fn gpu_target_dir() -> std::path::PathBuf {
    xtask::book::target_dir().join("gpu")
}

/// The cargo that runs us (`$CARGO`), or `cargo`.
fn cargo() -> std::process::Command {
    let mut c =
        std::process::Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
    c.current_dir(workspace_root());
    c
}
