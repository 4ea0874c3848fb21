//! Runs a profile and writes the report without the xtask (the library entry point as a
//! plain binary): `cargo run -p repro-graph-ood --example reproduce -- quick results/graph-ood`.
//! `cargo xtask reproduce graph-ood` does the same with every flag (`--shard`, `--merge`, ...).

use repro_core::report::{Options, Profile};

fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let profile: Profile = args
        .next()
        .unwrap_or_else(|| "quick".into())
        .parse()
        .map_err(anyhow::Error::msg)?;
    let out = args
        .next()
        .unwrap_or_else(|| format!("results/graph-ood-{profile}"));
    let report = repro_graph_ood::reproduce(&Options::new(profile))?.into_report()?;
    report.write(std::path::Path::new(&out))?;
    println!("{}", report.claims_table());
    println!("wall time {:.1} s; report in {out}", report.wall_seconds);
    Ok(())
}
