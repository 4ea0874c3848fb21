//! `cargo xtask reproduce <paper>|all`.

use std::path::PathBuf;

use anyhow::Context;
use repro_core::device::DeviceChoice;
use repro_core::{Options, Profile, Verdict};

use xtask::papers::{self, PAPERS};

/// Arguments of `reproduce`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Paper crate name (see `cargo xtask list`), or `all`.
    pub paper: String,
    /// smoke (seconds), quick (at most 10 minutes on 2 CPU cores) or full.
    #[arg(long, default_value = "quick")]
    pub profile: Profile,
    /// cpu (= flex), flex, ndarray, wgpu[:N] or cuda[:N]. A GPU device rebuilds the
    /// xtask with its feature in target/gpu, leaving the CPU build alone.
    #[arg(long, default_value = "cpu")]
    pub device: DeviceChoice,
    /// Number of seeds (default: the profile's).
    #[arg(long)]
    pub seeds: Option<usize>,
    /// Output folder (default: results/<paper>/<profile>/).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Folder for checkpoints, so an interrupted run resumes (default: none).
    #[arg(long)]
    pub checkpoints: Option<PathBuf>,
    /// Run only these experiments (comma-separated names from the paper's docs page);
    /// default: the profile's set.
    #[arg(long, value_delimiter = ',')]
    pub only: Vec<String>,
}

/// Runs one paper or all of them.
pub fn run(args: &Args) -> anyhow::Result<()> {
    if !args.device.is_compiled() {
        return reexec_with_feature(args);
    }
    let device = args.device.device()?;
    let targets: Vec<&papers::Paper> = if args.paper == "all" {
        if PAPERS.is_empty() {
            println!("No paper is implemented yet; nothing to reproduce.");
            return Ok(());
        }
        PAPERS.iter().collect()
    } else {
        vec![papers::find(&args.paper)?]
    };
    for paper in targets {
        let opts = Options {
            profile: args.profile,
            device: device.clone(),
            device_name: args.device.to_string(),
            seeds: args.seeds,
            checkpoint_dir: args.checkpoints.as_ref().map(|c| c.join(paper.name)),
            progress: true,
            only: args.only.clone(),
        };
        eprintln!(
            "reproducing {} (profile {}, device {})",
            paper.name, args.profile, args.device
        );
        let report = (paper.reproduce)(&opts)
            .with_context(|| format!("reproduction of {} failed", paper.name))?;
        let out = match &args.out {
            Some(o) if args.paper == "all" => o.join(paper.name),
            Some(o) => o.clone(),
            None => crate::workspace_root()
                .join("results")
                .join(paper.name)
                .join(args.profile.as_str()),
        };
        report.write(&out)?;
        println!(
            "\n{} — {} ({:.1} s)\n",
            paper.name, paper.title, report.wall_seconds
        );
        println!("{}", report.claims_table());
        let count = |v| report.claims.iter().filter(|c| c.verdict == v).count();
        println!(
            "{} reproduced, {} not reproduced, {} inconclusive; report in {}",
            count(Verdict::Reproduced),
            count(Verdict::NotReproduced),
            count(Verdict::Inconclusive),
            out.display()
        );
    }
    Ok(())
}

/// Re-runs this command through cargo with the device's feature, in its own target dir.
fn reexec_with_feature(args: &Args) -> anyhow::Result<()> {
    let feature = args.device.feature().unwrap_or_default();
    if std::env::var_os("REPRO_XTASK_REEXEC").is_some() {
        anyhow::bail!(
            "device {} still unavailable after rebuilding with feature `{feature}`",
            args.device
        );
    }
    eprintln!(
        "device {} needs feature `{feature}`: building the xtask with it in target/gpu",
        args.device
    );
    let status = crate::cargo()
        .args([
            "run",
            "--quiet",
            "--package",
            "xtask",
            "--features",
            feature,
            "--target-dir",
        ])
        .arg(crate::workspace_root().join("target/gpu"))
        .arg("--")
        .args(std::env::args_os().skip(1))
        .env("REPRO_XTASK_REEXEC", "1")
        .status()
        .context("cannot run cargo")?;
    if !status.success() {
        anyhow::bail!("the {feature} build or run failed ({status})");
    }
    Ok(())
}
