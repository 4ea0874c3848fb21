//! Renders the digits sample sheets recorded in a flowdiff `report.json` (rows with
//! `"kind": "sheet"`) as SVG grids of 8x8 images, one file per (corruption, method):
//!
//! `cargo run -p repro-flowdiff --example flowdiff_sheets -- <report.json> <out_dir>`
//!
//! The report writer only renders line and scatter plots, so image grids are drawn here.

use anyhow::{Context, bail};
use repro_core::Report;

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.len() != 2 {
        bail!("usage: flowdiff_sheets <report.json> <out_dir>");
    }
    let report = Report::read(std::path::Path::new(&args[0]))?;
    let out = std::path::Path::new(&args[1]);
    std::fs::create_dir_all(out).with_context(|| format!("cannot create {}", out.display()))?;
    let sheets = repro_flowdiff::reproduce::digits::sample_sheets(&report);
    if sheets.is_empty() {
        bail!(
            "{} has no digits sample sheets (was `digits` run?)",
            args[0]
        );
    }
    for (stem, svg) in sheets {
        let path = out.join(format!("{stem}.svg"));
        std::fs::write(&path, svg).with_context(|| format!("cannot write {}", path.display()))?;
        println!("{}", path.display());
    }
    Ok(())
}
