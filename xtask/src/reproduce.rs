//! `cargo xtask reproduce <paper>|all` and `cargo xtask report <paper> --out DIR`.

use std::path::{Path, PathBuf};

use anyhow::Context;
use repro_core::data::DataRoots;
use repro_core::device::DeviceChoice;
use repro_core::experiment::{Outcome, Shard, Workers, job_file_stem, read_plan_options};
use repro_core::{Options, Profile, Report, Verdict};

use xtask::papers::{self, PAPERS, Paper};

/// Arguments of `reproduce`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Paper crate name (see `cargo xtask list`), or `all`.
    pub paper: String,
    /// smoke (seconds), quick (at most 10 minutes on 2 CPU cores) or full.
    #[arg(long, default_value = "quick")]
    pub profile: Profile,
    /// cpu (= flex), flex, ndarray, wgpu[:N] or cuda[:N]. A device whose feature is not
    /// compiled in rebuilds the xtask with it in target/gpu, leaving the CPU build alone.
    #[arg(long, default_value = "cpu")]
    pub device: DeviceChoice,
    /// Number of seeds, at least 1 (default: the profile's).
    #[arg(long, value_parser = parse_seeds)]
    pub seeds: Option<usize>,
    /// Output folder (default: results/<paper>/<profile>/). Finished jobs are kept in
    /// <out>/jobs/, so rerunning the same command resumes where it stopped.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Run only these experiments (comma-separated; `cargo xtask list` names them).
    #[arg(long, value_delimiter = ',')]
    pub only: Vec<String>,
    /// Run slice i of n of the job plan (0-based), e.g. from a Slurm array task:
    /// `--shard $SLURM_ARRAY_TASK_ID/$SLURM_ARRAY_TASK_COUNT`. All shards share --out;
    /// `cargo xtask report <paper> --out DIR` then builds the report.
    #[arg(long)]
    pub shard: Option<Shard>,
    /// Run nothing: build the report from the job results already in --out.
    #[arg(long)]
    pub merge: bool,
    /// Discard finished jobs in --out and start again.
    #[arg(long)]
    pub fresh: bool,
    /// Run up to N jobs at once, each in a worker process of its own (default: the
    /// machine's cores). The numbers do not depend on N; 1 runs every job in this process.
    #[arg(long, value_parser = parse_jobs)]
    pub jobs: Option<usize>,
    /// Run nothing: write <out>/plan.json and list the plan (jobs and steps per
    /// experiment, how many are already done in --out), e.g. to size a Slurm array.
    #[arg(long)]
    pub dry_run: bool,
    /// Internal: run this one job as a worker of a `--jobs` run.
    #[arg(long, hide = true)]
    pub worker_job: Option<String>,
}

fn parse_jobs(s: &str) -> Result<usize, String> {
    match s.parse::<usize>() {
        Ok(n) if n >= 1 => Ok(n),
        _ => Err(format!(
            "`{s}` is not a number of jobs: expected an integer of at least 1"
        )),
    }
}

/// The worker pool of a run: `--jobs`, or the machine's cores.
fn workers(args: &Args, paper: &Paper, out: &Path) -> anyhow::Result<Option<Workers>> {
    let n = args.jobs.unwrap_or_else(|| {
        std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get)
    });
    if n < 2 {
        return Ok(None);
    }
    let mut worker_args: Vec<std::ffi::OsString> = vec![
        "reproduce".into(),
        paper.info.name.into(),
        "--profile".into(),
        args.profile.as_str().into(),
        "--device".into(),
        args.device.to_string().into(),
        "--out".into(),
        out.as_os_str().to_owned(),
    ];
    if let Some(s) = args.seeds {
        worker_args.extend(["--seeds".into(), s.to_string().into()]);
    }
    if !args.only.is_empty() {
        worker_args.extend(["--only".into(), args.only.join(",").into()]);
    }
    worker_args.push("--worker-job".into());
    let program =
        std::env::current_exe().context("cannot locate the xtask binary for its workers")?;
    Ok(Some(Workers {
        n,
        program,
        args: worker_args,
    }))
}

/// Arguments of `report`.
#[derive(clap::Args, Debug)]
pub struct ReportArgs {
    /// Paper crate name.
    pub paper: String,
    /// The folder the shards wrote (their --out).
    #[arg(long)]
    pub out: PathBuf,
}

fn out_dir(args: &Args, paper: &Paper) -> PathBuf {
    match &args.out {
        Some(o) if args.paper == "all" => o.join(paper.info.name),
        Some(o) => o.clone(),
        None => crate::workspace_root()
            .join("results")
            .join(paper.info.name)
            .join(args.profile.as_str()),
    }
}

/// Runs one paper or all of them.
pub fn run(args: &Args) -> anyhow::Result<()> {
    if !args.device.is_compiled() {
        return reexec_with_feature(args);
    }
    if args.merge && (args.shard.is_some() || args.fresh) {
        anyhow::bail!("--merge runs no job: it cannot be combined with --shard or --fresh");
    }
    let device = args.device.device()?;
    let targets: Vec<&Paper> = if args.paper == "all" {
        PAPERS.iter().collect()
    } else {
        vec![papers::find(&args.paper)?]
    };
    for paper in targets {
        let out = out_dir(args, paper);
        if args.fresh {
            let jobs = out.join("jobs");
            if jobs.exists() {
                std::fs::remove_dir_all(&jobs)
                    .with_context(|| format!("cannot remove {}", jobs.display()))?;
            }
        }
        let mut opts = Options::new(args.profile);
        opts.device = device.clone();
        opts.device_name = args.device.to_string();
        opts.seeds = args.seeds;
        opts.only = args.only.clone();
        opts.out = Some(out.clone());
        opts.shard = args.shard;
        opts.merge = args.merge;
        opts.data = DataRoots::from_env();
        if let Some(job) = &args.worker_job {
            // A worker of a `--jobs` run: this one job, quietly; the parent reports.
            opts.worker_job = Some(job.clone());
            opts.progress = false;
            (paper.reproduce)(&opts)
                .with_context(|| format!("job `{job}` of {} failed", paper.info.name))?;
            continue;
        }
        if args.dry_run {
            opts.dry_run = true;
            opts.progress = false;
            (paper.reproduce)(&opts)
                .with_context(|| format!("planning {} failed", paper.info.name))?;
            print_plan(paper, &out)?;
            continue;
        }
        opts.workers = workers(args, paper, &out)?;
        eprintln!(
            "reproducing {} (profile {}, device {}{}), jobs in {}",
            paper.info.name,
            args.profile,
            args.device,
            args.shard.map_or(String::new(), |s| format!(", shard {s}")),
            out.join("jobs").display()
        );
        finish(paper, &opts, &out)?;
    }
    Ok(())
}

/// `--dry-run`: the plan in `<out>/plan.json`, summarised per experiment.
fn print_plan(paper: &Paper, out: &Path) -> anyhow::Result<()> {
    let plan = read_plan_options(out)?;
    let done = |id: &str| {
        out.join("jobs")
            .join(format!("{}.json", job_file_stem(id)))
            .exists()
    };
    // (experiment, jobs, weight, done), in plan order.
    let mut rows: Vec<(String, usize, u64, usize)> = Vec::new();
    for (k, (id, _)) in plan.jobs.iter().enumerate() {
        let exp = id.split('/').next().unwrap_or(id).to_string();
        let w = plan.weights.get(k).copied().unwrap_or(0);
        let d = usize::from(done(id));
        match rows.iter_mut().find(|r| r.0 == exp) {
            Some(r) => {
                r.1 += 1;
                r.2 += w;
                r.3 += d;
            }
            None => rows.push((exp, 1, w, d)),
        }
    }
    println!(
        "{} --profile {}: {} jobs (plan in {})",
        paper.info.name,
        plan.profile,
        plan.jobs.len(),
        out.join("plan.json").display()
    );
    println!("| experiment | jobs | weight (steps) | done in --out |\n|---|---|---|---|");
    for (exp, n, w, d) in &rows {
        println!("| {exp} | {n} | {w} | {d} |");
    }
    Ok(())
}

/// `cargo xtask report <paper> --out DIR`: merges the shards' job results into the report.
pub fn report(args: &ReportArgs) -> anyhow::Result<()> {
    let paper = papers::find(&args.paper)?;
    let plan = read_plan_options(&args.out)?;
    if plan.paper != paper.info.name {
        anyhow::bail!(
            "{} holds jobs of `{}`, not `{}`",
            args.out.display(),
            plan.paper,
            paper.info.name
        );
    }
    let mut opts = Options::new(plan.profile);
    opts.seeds = plan.seeds;
    opts.only = plan.only;
    opts.out = Some(args.out.clone());
    opts.merge = true;
    finish(paper, &opts, &args.out)
}

fn finish(paper: &Paper, opts: &Options, out: &Path) -> anyhow::Result<()> {
    let outcome = (paper.reproduce)(opts)
        .with_context(|| format!("reproduction of {} failed", paper.info.name))?;
    match outcome {
        Outcome::Report(report) => print_report(paper, &report, out),
        Outcome::Partial(p) => {
            println!(
                "{}: ran {} jobs ({} already done); {} of {} jobs of the plan are left to other shards.\n\
                 When every shard has finished: cargo xtask report {} --out {}",
                p.paper,
                p.ran,
                p.reused,
                p.missing.len(),
                p.planned,
                p.paper,
                out.display()
            );
            Ok(())
        }
    }
}

fn print_report(paper: &Paper, report: &Report, out: &Path) -> anyhow::Result<()> {
    report.write(out)?;
    println!(
        "\n{} — {} ({:.1} s)\n",
        paper.info.name, paper.info.title, report.wall_seconds
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
        .arg(crate::gpu_target_dir())
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

/// `--seeds`: a positive count (0 seeds would decide every claim on nothing).
fn parse_seeds(s: &str) -> Result<usize, String> {
    match s.parse::<usize>() {
        Ok(0) => Err("at least 1 seed is needed".into()),
        Ok(n) => Ok(n),
        Err(_) => Err(format!("`{s}` is not a number of seeds")),
    }
}
