//! `cargo xtask fuzz [target] [--runs N] [--secs S]`: the coverage-guided fuzz targets of
//! `fuzz/` (libFuzzer through `cargo +nightly fuzz`), seeded with the real files of the data
//! mirror, the repository's own files and files the workspace itself writes.
//!
//! Seeds are rebuilt in `target/fuzz/seeds/<target>/` on every call, beside the committed
//! `fuzz/seeds/<target>/` (crafted valid inputs) and `fuzz/fixtures/<target>/` (malformed
//! inputs and crash reproductions); the growing corpus
//! lives in `target/fuzz/corpus/<target>/`, crashes in `fuzz/artifacts/<target>/`. Every run
//! is bounded: `-rss_limit_mb=1024` (an allocation over 1 GiB is a finding), `-timeout=1`
//! (an input taking over a second is a finding).

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, bail};

/// How a target's seeds are made.
enum Seeds {
    /// Mirror files under these prefixes (relative to the mirror root), each cut to its first
    /// `cut` bytes (text formats stay parseable up to the cut; 0 = whole file).
    Mirror(&'static [&'static str], usize),
    /// As `Mirror`, for a target whose first input byte selects the parser: the selector, then
    /// the file.
    Selected(&'static [(u8, &'static str)], usize),
    /// Files of the repository (relative to the workspace root).
    Repo(&'static [&'static str]),
    /// Files this workspace writes, generated on the spot.
    Written,
}

/// Every fuzz target with its seeds and its longest input.
const TARGETS: &[(&str, Seeds, usize)] = &[
    ("npy", Seeds::Written, 65_536),
    (
        "npz",
        Seeds::Mirror(&["webkb/cornell/cornell_split"], 0),
        65_536,
    ),
    // The real Cora / CiteSeer archives (0.5 and 1.3 MB) run at about 250 executions a
    // second; the crafted 4-node graphs in fuzz/seeds/ keep the target fast, and the first
    // 64 KB of the real ones still exercise the zip reader.
    (
        "citation_npz",
        Seeds::Mirror(&["cora/cora.npz", "citeseer/citeseer.npz"], 0),
        65_536,
    ),
    ("digits_csv_gz", Seeds::Repo(&["datasets/digits"]), 65_536),
    (
        "webkb",
        Seeds::Selected(
            &[
                (0, "webkb/cornell/out1_node_feature_label.txt"),
                (1, "webkb/cornell/out1_graph_edges.txt"),
                (2, "webkb/cornell/cornell_split_0.6_0.2_0.npz"),
            ],
            0,
        ),
        65_536,
    ),
    (
        "twitch",
        Seeds::Selected(
            &[
                (0, "twitch/edges"),
                (1, "twitch/features"),
                (2, "twitch/target"),
            ],
            16_384,
        ),
        65_536,
    ),
    (
        "shakespeare",
        Seeds::Mirror(&["tinyshakespeare"], 16_384),
        65_536,
    ),
    (
        "pararel",
        Seeds::Selected(
            &[
                (0, "pararel/trex_lms_vocab/P1"),
                (1, "pararel/graphs_json/P1"),
            ],
            16_384,
        ),
        65_536,
    ),
    (
        "nlbse",
        Seeds::Mirror(&["nlbse24/issues_test.csv"], 16_384),
        65_536,
    ),
    (
        "llm_failures",
        Seeds::Mirror(&["open-llm-failures"], 0),
        65_536,
    ),
    ("registry", Seeds::Repo(&["datasets/registry.toml"]), 65_536),
    ("report", Seeds::Written, 65_536),
    ("job_files", Seeds::Written, 65_536),
];

/// The target names, for `--help` and errors.
pub fn names() -> Vec<&'static str> {
    TARGETS.iter().map(|t| t.0).collect()
}

/// Options of `cargo xtask fuzz`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// One target (default: all of them, one after the other).
    pub target: Option<String>,
    /// Executions per target (libFuzzer `-runs`).
    #[arg(long, default_value_t = 1_000_000)]
    pub runs: u64,
    /// Stop a target after this many seconds even if `--runs` is not reached.
    #[arg(long)]
    pub secs: Option<u64>,
    /// Only write the seeds and build the targets.
    #[arg(long)]
    pub build_only: bool,
}

/// Runs `cargo xtask fuzz`.
pub fn run(args: &Args) -> anyhow::Result<()> {
    let root = crate::workspace_root();
    let selected: Vec<&(&str, Seeds, usize)> = match &args.target {
        Some(t) => vec![TARGETS.iter().find(|x| x.0 == t).with_context(|| {
            format!("unknown fuzz target `{t}`; targets: {}", names().join(", "))
        })?],
        None => TARGETS.iter().collect(),
    };
    let fuzz = || {
        let mut c = Command::new("cargo");
        c.current_dir(&root).args(["+nightly", "fuzz"]);
        c
    };
    let ok = fuzz()
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        bail!(
            "`cargo +nightly fuzz` is not available: install it with `cargo install cargo-fuzz` \
             (the nightly toolchain builds the targets; the workspace stays on stable)"
        );
    }
    let mirror = std::env::var_os(repro_core::data::ENV_MIRROR).map(PathBuf::from);
    let mut summary = Vec::new();
    for (name, seeds, max_len) in selected {
        let seed_dir = root.join("target/fuzz/seeds").join(name);
        let corpus = root.join("target/fuzz/corpus").join(name);
        let _ = std::fs::remove_dir_all(&seed_dir);
        std::fs::create_dir_all(&seed_dir)?;
        std::fs::create_dir_all(&corpus)?;
        let n = write_seeds(name, seeds, &seed_dir, &root, mirror.as_deref())?;
        // Committed inputs: crafted valid seeds, and malformed fixtures (crash reproductions
        // and hostile headers, which crates/core/tests/fuzz_fixtures.rs also runs on stable).
        let committed: Vec<PathBuf> = ["fuzz/seeds", "fuzz/fixtures"]
            .iter()
            .map(|d| root.join(d).join(name))
            .filter(|d| d.is_dir())
            .collect();
        eprintln!("fuzz {name}: {n} seeds");
        let mut c = fuzz();
        if args.build_only {
            c.args(["build", "--fuzz-dir", "fuzz", name]);
        } else {
            c.args(["run", "--fuzz-dir", "fuzz", name])
                .arg(&corpus)
                .arg(&seed_dir);
            c.args(&committed);
            c.arg("--").args([
                format!("-runs={}", args.runs),
                format!("-max_len={max_len}"),
                "-rss_limit_mb=1024".into(),
                "-malloc_limit_mb=1024".into(),
                "-timeout=1".into(),
                "-print_final_stats=1".into(),
            ]);
            if let Some(s) = args.secs {
                c.arg(format!("-max_total_time={s}"));
            }
        }
        let out = c
            .output()
            .with_context(|| format!("cannot run cargo fuzz for {name}"))?;
        let log = String::from_utf8_lossy(&out.stderr).into_owned();
        let stat = |key: &str| {
            log.lines()
                .find_map(|l| l.strip_prefix(key))
                .map(|v| v.trim().to_owned())
                .unwrap_or_else(|| "-".into())
        };
        let execs = stat("stat::number_of_executed_units:");
        let rate = stat("stat::average_exec_per_sec:");
        let rss = stat("stat::peak_rss_mb:");
        if !out.status.success() {
            let tail: Vec<&str> = log.lines().rev().take(30).collect();
            let tail: Vec<&str> = tail.into_iter().rev().collect();
            bail!(
                "fuzz target `{name}` failed (finding in fuzz/artifacts/{name}/):\n{}",
                tail.join("\n")
            );
        }
        summary.push((name.to_string(), n, execs, rate, rss));
    }
    if !args.build_only {
        println!(
            "| target | seeds | executions | exec/s | peak RSS (MB) | findings |\n|---|---|---|---|---|---|"
        );
        for (name, n, execs, rate, rss) in summary {
            println!("| {name} | {n} | {execs} | {rate} | {rss} | none |");
        }
    }
    Ok(())
}

/// Writes a target's seeds into `dir`; returns how many.
fn write_seeds(
    name: &str,
    seeds: &Seeds,
    dir: &Path,
    root: &Path,
    mirror: Option<&Path>,
) -> anyhow::Result<usize> {
    let mut n = 0;
    let mut put = |bytes: &[u8]| -> anyhow::Result<()> {
        n += 1;
        std::fs::write(dir.join(format!("seed-{n:04}")), bytes)?;
        Ok(())
    };
    let cut = |mut b: Vec<u8>, at: usize| {
        if at > 0 {
            b.truncate(at);
        }
        b
    };
    match seeds {
        Seeds::Mirror(prefixes, at) => {
            for f in mirror_files(mirror, prefixes)? {
                put(&cut(std::fs::read(&f)?, *at))?;
            }
        }
        Seeds::Selected(pairs, at) => {
            for (sel, prefix) in *pairs {
                for f in mirror_files(mirror, &[prefix])? {
                    let mut b = vec![*sel];
                    b.extend(cut(std::fs::read(&f)?, *at));
                    put(&b)?;
                }
            }
        }
        Seeds::Repo(paths) => {
            for p in *paths {
                for f in files_under(&root.join(p))? {
                    put(&std::fs::read(&f)?)?;
                }
            }
        }
        Seeds::Written => {
            for b in written_seeds(name)? {
                put(&b)?;
            }
        }
    }
    Ok(n)
}

/// Mirror files whose path (relative to the mirror) starts with one of `prefixes`, sorted.
fn mirror_files(mirror: Option<&Path>, prefixes: &[&str]) -> anyhow::Result<Vec<PathBuf>> {
    let Some(m) = mirror else {
        eprintln!(
            "  (no {} set: no mirror seeds)",
            repro_core::data::ENV_MIRROR
        );
        return Ok(Vec::new());
    };
    let mut out: Vec<PathBuf> = files_under(m)?
        .into_iter()
        .filter(|f| {
            let rel = f
                .strip_prefix(m)
                .unwrap_or(f)
                .to_string_lossy()
                .replace('\\', "/");
            prefixes.iter().any(|p| rel.starts_with(p))
        })
        .collect();
    out.sort();
    Ok(out)
}

fn files_under(p: &Path) -> anyhow::Result<Vec<PathBuf>> {
    if p.is_file() {
        return Ok(vec![p.to_path_buf()]);
    }
    let mut out = Vec::new();
    for e in std::fs::read_dir(p).with_context(|| format!("cannot read {}", p.display()))? {
        let path = e?.path();
        if path.is_dir() {
            out.extend(files_under(&path)?);
        } else {
            out.push(path);
        }
    }
    out.sort();
    Ok(out)
}

/// Seeds for the formats this workspace writes itself: a small `.npy`, a report, a job's
/// record and payload and `plan.json`, produced by the real writers.
fn written_seeds(name: &str) -> anyhow::Result<Vec<Vec<u8>>> {
    use repro_core::experiment::{Job, JobOutput, Plan, Row, RunState, Runner};
    use repro_core::report::{Claim, Options, Plot, Profile, Report};
    match name {
        "npy" => {
            // Version 1.0 headers for an i32 vector and a 2 x 2 little-endian f32 matrix.
            let npy = |descr: &str, shape: &str, data: &[u8]| {
                let mut h =
                    format!("{{'descr': '{descr}', 'fortran_order': False, 'shape': {shape}, }}");
                while (10 + h.len() + 1) % 64 != 0 {
                    h.push(' ');
                }
                h.push('\n');
                let mut b = b"\x93NUMPY\x01\x00".to_vec();
                b.extend((h.len() as u16).to_le_bytes());
                b.extend(h.as_bytes());
                b.extend(data);
                b
            };
            let ints: Vec<u8> = [7i32, -1, 3].iter().flat_map(|v| v.to_le_bytes()).collect();
            let floats: Vec<u8> = [1f32, 2., 3., 4.]
                .iter()
                .flat_map(|v| v.to_le_bytes())
                .collect();
            Ok(vec![
                npy("<i4", "(3,)", &ints),
                npy("<f4", "(2, 2)", &floats),
            ])
        }
        "report" | "job_files" => {
            let tmp = repro_core::testing::TempDir::new("fuzz-seeds");
            let mut opts = Options::new(Profile::Smoke);
            opts.progress = false;
            opts.out = Some(tmp.path().to_path_buf());
            let mut plan = Plan::new("fuzz-seeds");
            plan.push(Job::new("e", "s", "m", Some(0)).config(&serde_json::json!({"k": 1})))?;
            let state = Runner::new(&plan, &opts).run(|job, _| {
                Ok(JobOutput::new(
                    vec![Row::of(job).metric("acc", 0.5).metric("gap", f64::NAN)],
                    serde_json::json!({"curve": [1.0, 0.5]}),
                ))
            })?;
            let RunState::Complete(done) = state else {
                bail!("the seed run did not complete");
            };
            if name == "job_files" {
                let mut out = Vec::new();
                for f in files_under(&tmp.path().join("jobs"))? {
                    let sel = if f.extension().is_some_and(|e| e == "cbor") {
                        1
                    } else {
                        0
                    };
                    let mut b = vec![sel];
                    b.extend(std::fs::read(&f)?);
                    out.push(b);
                }
                let mut b = vec![2];
                b.extend(std::fs::read(tmp.path().join("plan.json"))?);
                out.push(b);
                return Ok(out);
            }
            let mut r = Report::new("fuzz-seeds", &opts, serde_json::json!({"k": 1}));
            r.seeds = vec![0];
            r.push_rows(&done.results());
            r.claims.push(
                Claim::new("C1", "s", "acc > 0.4")
                    .measure("acc", 0.5)
                    .decide(true),
            );
            r.plots
                .push(Plot::line("curve", "t", "x", "y").series("m", vec![(0.0, 1.0), (1.0, 0.5)]));
            Ok(vec![serde_json::to_vec_pretty(&r.finish())?])
        }
        other => bail!("no written seeds for `{other}`"),
    }
}
