//! Renders the digits sample sheets recorded in a flowdiff `report.json` (rows with
//! `"kind": "sheet"`) as SVG grids of 8x8 images, one file per corruption with a labelled
//! row per method (at most `per_row` images each, default 16):
//!
//! `cargo run -p repro-flowdiff --example flowdiff_sheets -- <report.json> <out_dir> [per_row]`
//!
//! Reports written since the sheets became image-grid plots already carry them as SVG files;
//! this redraws them from an older `report.json`.

use anyhow::{Context, bail};
use repro_core::Report;

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if !(2..=3).contains(&args.len()) {
        bail!("usage: flowdiff_sheets <report.json> <out_dir> [per_row]");
    }
    let per_row: usize = args
        .get(2)
        .map(|s| s.parse())
        .transpose()
        .context("per_row must be an integer")?
        .unwrap_or(16);
    let report = Report::read(std::path::Path::new(&args[0]))?;
    let out = std::path::Path::new(&args[1]);
    std::fs::create_dir_all(out).with_context(|| format!("cannot create {}", out.display()))?;
    let sheets = repro_flowdiff::reproduce::digits::sample_sheets(&report, per_row);
    if sheets.is_empty() {
        bail!(
            "{} has no digits sample sheets (was `digits` run?)",
            args[0]
        );
    }
    for plot in sheets {
        let path = out.join(format!("{}.svg", plot.name));
        std::fs::write(&path, plot.to_svg()?)
            .with_context(|| format!("cannot write {}", path.display()))?;
        println!("{}", path.display());
    }
    Ok(())
}
