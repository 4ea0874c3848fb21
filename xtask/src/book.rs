//! `cargo xtask book`: the results book.
//!
//! `docs/` is an mdBook (`docs/book.toml`, `docs/SUMMARY.md`). This module
//!
//! - copies the `report.json` files of finished runs into `docs/results/<paper>/<profile>/`
//!   ([`collect`]), reading paper and profile from each report, not from its path;
//! - generates the claims dashboard, `docs/dashboard.md`, from those committed reports and the
//!   papers' descriptors ([`dashboard`]): one row per claim of every paper, its verdict at
//!   each profile, the key number, the device and the commit;
//! - installs a pinned mdbook into `<target dir>/tools` on first use ([`mdbook`]) and builds
//!   the book into `<target dir>/book` ([`build`]);
//! - checks that every local link and image of the built HTML resolves ([`check_links`]);
//! - serves the built book on 127.0.0.1 and opens every page in headless Chromium, failing
//!   on an image that did not load ([`browser_check`]), and saves a screenshot of the
//!   dashboard ([`screenshot`]).

mod browser;
mod dashboard;
mod links;
mod reports;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

use anyhow::{Context, Result, bail};
use repro_core::experiment::PaperInfo;
use repro_core::report::write_atomic;

use crate::papers::PAPERS;

pub use browser::{PageCheck, Server, browser_check, chromium, screenshot};
pub use dashboard::{
    check_summary, dashboard, format_number, inconclusive_reason, key_number, md_text,
};
pub use links::{Broken, Problem, check_links};
pub use reports::{Run, collect, read_runs};

/// The mdbook release the book is built with, installed from crates.io on first use.
pub const MDBOOK_VERSION: &str = "0.5.4";

/// Arguments of `cargo xtask book`.
#[derive(clap::Args, Debug, Default)]
#[command(after_help = "\
Steps, in order: [--collect DIR] copy reports; regenerate docs/dashboard.md from \
docs/results/<paper>/<profile>/report.json; install mdbook (once, into <target dir>/tools); \
build the book into <target dir>/book; check every local link and image; [--browser] render \
every page in headless Chromium; [--screenshot] save docs/dashboard.png; [--open] open it.")]
pub struct Args {
    /// First copy every `report.json` found under DIR (a `reproduce --out` folder, or a tree
    /// of them) into `docs/results/<paper>/<profile>/report.json`, paper and profile read from
    /// the report itself. Existing reports of the same paper and profile are replaced.
    #[arg(long, value_name = "DIR")]
    pub collect: Option<PathBuf>,
    /// Leave docs/dashboard.md alone and fail if it is not what the committed reports give
    /// (what CI runs).
    #[arg(long, conflicts_with = "collect")]
    pub check: bool,
    /// Also open every page in headless Chromium (`chromium`, or `$REPRO_CHROMIUM`) and fail
    /// on a page that does not render or an image that does not load.
    #[arg(long)]
    pub browser: bool,
    /// Also save a 1280×1400 screenshot of the dashboard to docs/dashboard.png (implies
    /// --browser).
    #[arg(long)]
    pub screenshot: bool,
    /// Open the built book with xdg-open (or print where it is).
    #[arg(long)]
    pub open: bool,
}

/// The workspace root (the xtask crate sits one level below it).
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask lives inside the workspace")
        .to_path_buf()
}

/// The workspace's target dir: `CARGO_TARGET_DIR` when set (relative to the workspace),
/// else `target/`.
pub fn target_dir() -> PathBuf {
    match std::env::var_os("CARGO_TARGET_DIR") {
        Some(t) => workspace_root().join(t),
        None => workspace_root().join("target"),
    }
}

/// The book's source folder, `docs/`.
pub fn docs_dir() -> PathBuf {
    workspace_root().join("docs")
}

/// Where the built book goes: `<target dir>/book`.
pub fn book_dir() -> PathBuf {
    target_dir().join("book")
}

/// `cargo xtask book`.
pub fn run(args: &Args) -> Result<()> {
    let docs = docs_dir();
    let results = docs.join("results");
    if let Some(from) = &args.collect {
        let copied = collect(from, &results)?;
        for (src, dst) in &copied {
            eprintln!("collected {} -> {}", src.display(), dst.display());
        }
        eprintln!(
            "{} reports collected into {}",
            copied.len(),
            results.display()
        );
    }
    let page = committed_dashboard()?;
    let page_path = docs.join("dashboard.md");
    let current = std::fs::read_to_string(&page_path).unwrap_or_default();
    if args.check {
        if current != page {
            bail!(
                "{} is not what the committed reports give: run `cargo xtask book` and commit it",
                page_path.display()
            );
        }
    } else if current != page {
        write_atomic(&page_path, page.as_bytes())?;
        eprintln!("wrote {}", page_path.display());
    }
    let infos: Vec<&PaperInfo> = PAPERS.iter().map(|p| p.info).collect();
    check_summary(&docs.join("SUMMARY.md"), &infos)?;
    let mdbook = mdbook()?;
    let out = book_dir();
    build(&mdbook, &docs, &out)?;
    if args.screenshot {
        // The screenshot is of the page just built; the introduction shows it, so the book
        // is built again with it before the checks.
        let png = docs.join("dashboard.png");
        screenshot(&chromium()?, &out, "dashboard.html", &png)?;
        eprintln!("wrote {}", png.display());
        build(&mdbook, &docs, &out)?;
    }
    links_resolve(&out)?;
    eprintln!(
        "book built in {}; every local link and image resolves",
        out.display()
    );
    if args.browser || args.screenshot {
        let pages = browser_check(&chromium()?, &out)?;
        let images: usize = pages.iter().map(|p| p.images).sum();
        eprintln!(
            "chromium rendered {} pages with their {images} images",
            pages.len()
        );
    }
    let index = out.join("index.html");
    if args.open {
        let opened = Command::new("xdg-open")
            .arg(&index)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if !opened {
            println!("open {} in a browser", index.display());
        }
    } else {
        println!("{}", index.display());
    }
    Ok(())
}

/// The dashboard page the committed reports (`docs/results/`) and the papers' descriptors
/// give, as `cargo xtask book` writes it to `docs/dashboard.md`.
pub fn committed_dashboard() -> Result<String> {
    let infos: Vec<&PaperInfo> = PAPERS.iter().map(|p| p.info).collect();
    let runs = read_runs(&docs_dir().join("results"))?;
    Ok(dashboard(&infos, &runs))
}

/// [`check_links`] on the built book in `out`, as an error listing every broken target.
pub fn links_resolve(out: &Path) -> Result<()> {
    let broken = check_links(out)?;
    if broken.is_empty() {
        return Ok(());
    }
    let mut msg = format!(
        "{} broken links or images in the book built in {}:",
        broken.len(),
        out.display()
    );
    for b in &broken {
        msg += &format!("\n  {b}");
    }
    bail!("{msg}")
}

/// The pinned mdbook, `<target dir>/tools/bin/mdbook`, installed with `cargo install
/// --locked --no-default-features` (no `serve`, `watch` or search index) when it is missing
/// or another version.
pub fn mdbook() -> Result<PathBuf> {
    let root = target_dir().join("tools");
    let bin = root.join("bin").join("mdbook");
    let wanted = format!("mdbook v{MDBOOK_VERSION}");
    let version = |bin: &Path| {
        Command::new(bin)
            .arg("--version")
            .output()
            .ok()
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
    };
    if version(&bin).as_deref() == Some(wanted.as_str()) {
        return Ok(bin);
    }
    eprintln!(
        "installing mdbook {MDBOOK_VERSION} into {} (once; a few minutes)",
        root.display()
    );
    let started = Instant::now();
    let build = root.join("build");
    let status = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()))
        .args(["install", "mdbook", "--version"])
        .arg(format!("={MDBOOK_VERSION}"))
        .args(["--locked", "--no-default-features", "--force", "--root"])
        .arg(&root)
        .arg("--target-dir")
        .arg(&build)
        .status()
        .context("cannot run cargo install")?;
    if !status.success() {
        bail!(
            "`cargo install mdbook --version ={MDBOOK_VERSION}` failed ({status}); is crates.io reachable?"
        );
    }
    // The build folder is a few hundred MB and only needed again for another version.
    let _ = std::fs::remove_dir_all(&build);
    match version(&bin) {
        Some(v) if v == wanted => {
            eprintln!("installed {v} in {:.0} s", started.elapsed().as_secs_f64());
            Ok(bin)
        }
        other => bail!(
            "{} reports {other:?} after installing, not {wanted}",
            bin.display()
        ),
    }
}

/// Builds the book in `docs` into `out` (emptied first) with `mdbook`.
pub fn build(mdbook: &Path, docs: &Path, out: &Path) -> Result<()> {
    if out.exists() {
        std::fs::remove_dir_all(out).with_context(|| format!("cannot empty {}", out.display()))?;
    }
    let output = Command::new(mdbook)
        .arg("build")
        .arg("--dest-dir")
        .arg(out)
        .arg(docs)
        .output()
        .with_context(|| format!("cannot run {}", mdbook.display()))?;
    let log = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    if !output.status.success() {
        bail!("mdbook build {} failed:\n{log}", docs.display());
    }
    // mdbook logs a missing include or a bad link target as a warning and goes on.
    let warnings: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("WARN") || l.contains("ERROR"))
        .collect();
    if !warnings.is_empty() {
        bail!(
            "mdbook build {} warned:\n{}",
            docs.display(),
            warnings.join("\n")
        );
    }
    Ok(())
}
