//! Runs a flowdiff profile restricted to one dataset and one noise level (what
//! `cargo xtask reproduce flowdiff` cannot express), writing the report into a folder:
//!
//! `cargo run -p repro-flowdiff --example flowdiff_reproduce -- <smoke|quick|full> <out_dir> [seeds] [ring8|moons] [sigma]`
//!
//! With a dataset and no sigma, sigma is 0.5.

use anyhow::{Context, bail};
use repro_core::report::{Options, Profile};
use repro_flowdiff::config::{Dataset2d, ExperimentConfig};

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.len() < 2 {
        bail!(
            "usage: flowdiff_reproduce <smoke|quick|full> <out_dir> [seeds] [ring8|moons] [sigma]"
        );
    }
    let profile: Profile = args[0].parse().map_err(anyhow::Error::msg)?;
    let mut opts = Options::new(profile);
    opts.seeds = args
        .get(2)
        .map(|s| s.parse())
        .transpose()
        .context("seeds must be an integer")?;
    let mut cfg = ExperimentConfig::for_profile(profile);
    if let Some(name) = args.get(3) {
        let ds = [Dataset2d::Ring8, Dataset2d::Moons]
            .into_iter()
            .find(|d| d.as_str() == name)
            .with_context(|| format!("unknown dataset `{name}`: expected ring8 or moons"))?;
        cfg.datasets = vec![ds];
        cfg.sigmas = vec![
            args.get(4)
                .map(|s| s.parse())
                .transpose()
                .context("sigma must be a number")?
                .unwrap_or(0.5),
        ];
    }
    let report = repro_flowdiff::reproduce::run_config(&opts, &cfg)?.into_report()?;
    report.write(std::path::Path::new(&args[1]))?;
    println!("{}", report.claims_table());
    Ok(())
}
