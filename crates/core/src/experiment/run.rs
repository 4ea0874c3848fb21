//! Running a plan: job files, fingerprints, resume, shards and merge.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Instant;

use anyhow::Context;
use rayon::prelude::*;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use super::info::PartialRun;
use super::plan::{Job, Plan};
use super::results::{Results, Row};
use crate::report::{Options, Profile, Report, write_atomic};
use crate::train::Checkpoint;

/// What a job returns: typed rows for the tables and claims, and any payload the paper
/// needs to build its report (curves, per-class numbers, sample images).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JobOutput<T> {
    /// Typed rows (usually one per method the job ran).
    pub rows: Vec<Row>,
    /// The paper's own payload, stored exactly (CBOR) in `<job>.cbor`.
    pub data: T,
}

impl<T> JobOutput<T> {
    /// Rows and a payload.
    pub fn new(rows: Vec<Row>, data: T) -> Self {
        Self { rows, data }
    }
}

impl<T: Default> JobOutput<T> {
    /// Rows and an empty payload.
    pub fn rows(rows: Vec<Row>) -> Self {
        Self {
            rows,
            data: T::default(),
        }
    }
}

/// Progress of one job, forwarded to the run's bar. A job that reports nothing advances the
/// bar by its weight when it finishes.
#[derive(Debug)]
pub struct JobProgress {
    bar: indicatif::ProgressBar,
    weight: u64,
    done: AtomicU64,
}

impl JobProgress {
    /// Advances by `n` units (capped at the job's weight).
    pub fn inc(&self, n: u64) {
        crate::testing::kill_point("job-progress");
        let before = self
            .done
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |d| {
                Some((d + n).min(self.weight))
            })
            .unwrap_or(0);
        self.bar.inc((before + n).min(self.weight) - before);
    }

    fn finish(&self) {
        let d = self.done.swap(self.weight, Ordering::Relaxed);
        self.bar.inc(self.weight.saturating_sub(d));
    }

    /// The underlying bar (for messages).
    pub fn bar(&self) -> &indicatif::ProgressBar {
        &self.bar
    }
}

/// What a job sees of the run: its dependencies' outputs, its progress and its checkpoint.
pub struct Ctx<'a, T> {
    job: &'a Job,
    plan: &'a Plan,
    outputs: &'a [Option<JobOutput<T>>],
    progress: JobProgress,
    checkpoint: Option<PathBuf>,
}

impl<T> Ctx<'_, T> {
    /// The output of dependency `id` (declared with [`Job::after`]).
    pub fn dep(&self, id: &str) -> anyhow::Result<&JobOutput<T>> {
        if !self.job.deps.iter().any(|d| d == id) {
            anyhow::bail!("job `{}` reads `{id}` without depending on it", self.job.id);
        }
        let i = self
            .plan
            .position(id)
            .with_context(|| format!("no job `{id}` in the plan"))?;
        self.outputs[i]
            .as_ref()
            .with_context(|| format!("job `{id}` has no result yet"))
    }

    /// The outputs of all declared dependencies, in declaration order.
    pub fn deps(&self) -> anyhow::Result<Vec<(&Job, &JobOutput<T>)>> {
        self.job
            .deps
            .iter()
            .map(|d| {
                let job = self.plan.get(d).with_context(|| format!("no job `{d}`"))?;
                Ok((job, self.dep(d)?))
            })
            .collect()
    }

    /// Progress reporting for this job.
    pub fn progress(&self) -> &JobProgress {
        &self.progress
    }

    /// A checkpoint folder private to this job and its fingerprint (`None` without an
    /// output folder). A job that trains for minutes saves into it and resumes from it; the
    /// runner deletes it once the job's result is written.
    pub fn checkpoint(&self) -> Option<Checkpoint> {
        self.checkpoint.clone().map(Checkpoint::new)
    }
}

/// Every job's output, in plan order.
#[derive(Debug, Clone)]
pub struct Done<T> {
    jobs: Vec<Job>,
    outputs: Vec<JobOutput<T>>,
    /// Jobs run by this invocation.
    pub ran: usize,
    /// Jobs read back from the output folder.
    pub reused: usize,
}

impl<T> Done<T> {
    /// The output of job `id`.
    pub fn get(&self, id: &str) -> Option<&JobOutput<T>> {
        self.jobs
            .iter()
            .position(|j| j.id == id)
            .map(|i| &self.outputs[i])
    }

    /// Jobs with their outputs, in plan order.
    pub fn iter(&self) -> impl Iterator<Item = (&Job, &JobOutput<T>)> {
        self.jobs.iter().zip(&self.outputs)
    }

    /// Jobs of one experiment with their outputs, in plan order.
    pub fn experiment<'a>(
        &'a self,
        name: &'a str,
    ) -> impl Iterator<Item = (&'a Job, &'a JobOutput<T>)> + 'a {
        self.iter().filter(move |(j, _)| j.experiment == name)
    }

    /// All rows, in plan order.
    pub fn results(&self) -> Results {
        self.outputs
            .iter()
            .flat_map(|o| o.rows.iter().cloned())
            .collect()
    }

    /// The common start of a paper's report from a finished run: [`Report::new`]`(paper,
    /// opts, config)` with `seeds`, every job's payload entries (`entries` of its data) in
    /// `results` and every typed row in `rows`, both in plan order. The paper then adds its
    /// claims, tables, plots and notes.
    pub fn report(
        &self,
        paper: &str,
        opts: &Options,
        config: impl Serialize,
        seeds: &[u64],
        entries: impl Fn(&T) -> &[serde_json::Value],
    ) -> Report {
        let mut report = Report::new(paper, opts, config);
        report.seeds = seeds.to_vec();
        for o in &self.outputs {
            report.results.extend(entries(&o.data).iter().cloned());
        }
        report.push_rows(&self.results());
        report
    }
}

/// A complete run, or a slice of one.
#[derive(Debug, Clone)]
pub enum RunState<T> {
    /// Every job of the plan has an output.
    Complete(Done<T>),
    /// Some jobs have no output yet (another shard's, or `--shard` ran a slice).
    Partial(PartialRun),
}

impl<T> RunState<T> {
    /// The outputs when complete.
    pub fn complete(self) -> Option<Done<T>> {
        match self {
            Self::Complete(d) => Some(d),
            Self::Partial(_) => None,
        }
    }
}

/// The readable record beside each job's exact payload.
#[derive(Debug, Serialize, Deserialize)]
struct JobRecord {
    paper: String,
    id: String,
    fingerprint: String,
    experiment: String,
    setting: String,
    method: String,
    seed: Option<u64>,
    seconds: f64,
    rows: Vec<Row>,
}

#[derive(Deserialize)]
struct Stored<T> {
    fingerprint: String,
    output: JobOutput<T>,
}

#[derive(Serialize)]
struct StoredRef<'a, T> {
    fingerprint: &'a str,
    output: &'a JobOutput<T>,
}

/// What `<out>/plan.json` records, so that `cargo xtask report` rebuilds the same plan.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PlanFile {
    /// Paper name.
    pub paper: String,
    /// Profile.
    pub profile: Profile,
    /// `--seeds`.
    pub seeds: Option<usize>,
    /// `--only`.
    pub only: Vec<String>,
    /// Job ids with their fingerprints, in plan order.
    pub jobs: Vec<(String, String)>,
    /// Each job's weight (its progress units, usually training steps), in plan order
    /// (empty in plan files written before weights were recorded).
    #[serde(default)]
    pub weights: Vec<u64>,
}

/// Reads `<out>/plan.json`: the profile, seeds and `--only` of the shards that wrote `out`.
pub fn read_plan_options(out: &Path) -> anyhow::Result<PlanFile> {
    let path = out.join("plan.json");
    let text = std::fs::read_to_string(&path).with_context(|| {
        format!(
            "cannot read {} (was a reproduction run with this --out?)",
            path.display()
        )
    })?;
    serde_json::from_str(&text).with_context(|| format!("{} is not a plan file", path.display()))
}

/// Decodes a job record (`<out>/jobs/<job>.json`) and returns its fingerprint; the runner
/// reads every record through this (and the fuzz target `job_files` too).
///
/// # Errors
/// Text that is not a job record.
pub fn decode_job_record(text: &str) -> anyhow::Result<String> {
    let record: JobRecord = serde_json::from_str(text)?;
    Ok(record.fingerprint)
}

/// Decodes a job payload (`<out>/jobs/<job>.cbor`): its fingerprint and output.
///
/// # Errors
/// Bytes that are not a payload of `T`.
pub fn decode_job_payload<T: DeserializeOwned>(
    bytes: &[u8],
) -> anyhow::Result<(String, JobOutput<T>)> {
    let s: Stored<T> = ciborium::from_reader(bytes)?;
    Ok((s.fingerprint, s.output))
}

/// Environment variable for resume tests: abort the process (as abruptly as a SIGKILL)
/// right after this many jobs have been stored.
pub const KILL_AFTER_ENV: &str = "REPRO_KILL_AFTER_JOBS";

/// A job's position and its output, or its error.
type Finished<T> = (usize, anyhow::Result<JobOutput<T>>);

/// Runs a [`Plan`] under [`Options`]: resume from `opts.out`, `opts.shard`, `opts.merge`.
pub struct Runner<'a> {
    plan: &'a Plan,
    opts: &'a Options,
    parallel: bool,
}

impl<'a> Runner<'a> {
    /// A sequential runner.
    pub fn new(plan: &'a Plan, opts: &'a Options) -> Self {
        Self {
            plan,
            opts,
            parallel: false,
        }
    }

    /// Runs independent jobs on rayon's pool (jobs must then draw no shared randomness:
    /// seed each job's own generator, as graph-ood's training does).
    pub fn parallel(mut self, yes: bool) -> Self {
        self.parallel = yes;
        self
    }

    fn jobs_dir(&self) -> Option<PathBuf> {
        self.opts.out.as_ref().map(|o| o.join("jobs"))
    }

    fn paths(&self, dir: &Path, i: usize) -> (PathBuf, PathBuf, PathBuf) {
        let stem = self.plan.jobs()[i].file_stem();
        (
            dir.join(format!("{stem}.json")),
            dir.join(format!("{stem}.cbor")),
            dir.join(format!("{stem}.{}.ckpt", self.plan.fingerprint(i))),
        )
    }

    /// A finished job's stored output, if its fingerprint matches. A file that cannot be
    /// read, a truncated pair or a foreign fingerprint is never reused: it is named in a
    /// warning and the job runs again.
    fn load<T: DeserializeOwned>(&self, dir: &Path, i: usize) -> Option<JobOutput<T>> {
        match self.load_status(dir, i) {
            Loaded::Missing => None,
            Loaded::Redo(why) => {
                eprintln!("warning: {why}; the job runs again");
                None
            }
            Loaded::Ok(o) => Some(o),
        }
    }

    fn load_status<T: DeserializeOwned>(&self, dir: &Path, i: usize) -> Loaded<T> {
        let (json, cbor, _) = self.paths(dir, i);
        let fp = self.plan.fingerprint(i);
        let text = match std::fs::read_to_string(&json) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Loaded::Missing,
            Err(e) => return Loaded::Redo(format!("{} cannot be read ({e})", json.display())),
        };
        let record_fp = match decode_job_record(&text) {
            Ok(f) => f,
            Err(e) => {
                return Loaded::Redo(format!("{} is not a job record ({e})", json.display()));
            }
        };
        if record_fp != fp {
            return Loaded::Redo(format!(
                "{} was written for another configuration (fingerprint {record_fp}, now {fp})",
                json.display(),
            ));
        }
        let bytes = match std::fs::read(&cbor) {
            Ok(b) => b,
            Err(e) => {
                return Loaded::Redo(format!(
                    "{} has no readable payload {} ({e})",
                    json.display(),
                    cbor.display()
                ));
            }
        };
        match decode_job_payload::<T>(&bytes) {
            Ok((f, output)) if f == fp => Loaded::Ok(output),
            Ok((f, _)) => Loaded::Redo(format!(
                "{} was written for another configuration (fingerprint {f}, now {fp})",
                cbor.display(),
            )),
            Err(e) => Loaded::Redo(format!("{} cannot be read ({e})", cbor.display())),
        }
    }

    fn store<T: Serialize>(
        &self,
        dir: &Path,
        i: usize,
        output: &JobOutput<T>,
        seconds: f64,
    ) -> anyhow::Result<()> {
        let job = &self.plan.jobs()[i];
        let (json, cbor, ckpt) = self.paths(dir, i);
        let fingerprint = self.plan.fingerprint(i).to_owned();
        let mut bytes = Vec::new();
        ciborium::into_writer(
            &StoredRef {
                fingerprint: &fingerprint,
                output,
            },
            &mut bytes,
        )
        .with_context(|| format!("cannot encode the result of job `{}`", job.id))?;
        // Payload first, record last: the record's presence means the job is done.
        write_atomic(&cbor, &bytes)?;
        crate::testing::kill_point("job-payload");
        let record = JobRecord {
            paper: self.plan.paper().into(),
            id: job.id.clone(),
            fingerprint,
            experiment: job.experiment.clone(),
            setting: job.setting.clone(),
            method: job.method.clone(),
            seed: job.seed,
            seconds,
            rows: output.rows.clone(),
        };
        write_atomic(&json, serde_json::to_string_pretty(&record)?.as_bytes())?;
        if ckpt.exists() {
            let _ = std::fs::remove_dir_all(&ckpt);
        }
        Ok(())
    }

    fn write_plan_file(&self, out: &Path) -> anyhow::Result<()> {
        std::fs::create_dir_all(out.join("jobs"))
            .with_context(|| format!("cannot create {}", out.join("jobs").display()))?;
        let file = PlanFile {
            paper: self.plan.paper().into(),
            profile: self.opts.profile,
            seeds: self.opts.seeds,
            only: self.opts.only.clone(),
            jobs: (0..self.plan.len())
                .map(|i| {
                    (
                        self.plan.jobs()[i].id.clone(),
                        self.plan.fingerprint(i).to_owned(),
                    )
                })
                .collect(),
            weights: self.plan.jobs().iter().map(|j| j.weight).collect(),
        };
        write_atomic(
            &out.join("plan.json"),
            serde_json::to_string_pretty(&file)?.as_bytes(),
        )
    }

    /// Runs this invocation's jobs (all, a shard's, or none when merging) and returns every
    /// output when the plan is complete.
    ///
    /// Jobs already finished in `<out>/jobs` with a matching fingerprint are read back, not
    /// rerun. When a job fails, the jobs finished before it keep their files and the error
    /// is returned: rerunning resumes after them.
    pub fn run<T, F>(&self, f: F) -> anyhow::Result<RunState<T>>
    where
        T: Serialize + DeserializeOwned + Send + Sync,
        F: Fn(&Job, &Ctx<'_, T>) -> anyhow::Result<JobOutput<T>> + Sync,
    {
        let opts = self.opts;
        let plan = self.plan;
        let dir = self.jobs_dir();
        if dir.is_none() && (opts.shard.is_some() || opts.merge) {
            anyhow::bail!("--shard and --merge need an output folder (--out) shared by the shards");
        }
        if let Some(out) = &opts.out
            && !opts.merge
            && opts.worker_job.is_none()
        {
            self.write_plan_file(out)?;
        }
        let mine = if opts.merge {
            Default::default()
        } else if let Some(id) = &opts.worker_job {
            std::iter::once(plan.position(id).with_context(|| {
                format!("worker: no job `{id}` in the plan of {}", plan.paper())
            })?)
            .collect()
        } else {
            plan.select(opts.shard)
        };
        let mut outputs: Vec<Option<JobOutput<T>>> = (0..plan.len()).map(|_| None).collect();
        let mut reused = 0;
        if let Some(d) = &dir {
            for (i, slot) in outputs.iter_mut().enumerate() {
                *slot = self.load(d, i);
                reused += usize::from(slot.is_some());
            }
        }
        let mut pending: Vec<usize> = mine
            .iter()
            .copied()
            .filter(|&i| outputs[i].is_none())
            .collect();
        if opts.dry_run {
            return Ok(RunState::Partial(PartialRun {
                paper: plan.paper().into(),
                planned: plan.len(),
                ran: 0,
                reused,
                missing: pending.iter().map(|&i| plan.jobs()[i].id.clone()).collect(),
            }));
        }
        let total: u64 = pending.iter().map(|&i| plan.jobs()[i].weight).sum();
        let waves = Waves {
            bar: crate::train::progress_bar(
                total,
                &format!("{} jobs", plan.paper()),
                opts.progress,
            ),
            dir: dir.as_deref(),
            kill_after: std::env::var(KILL_AFTER_ENV)
                .ok()
                .and_then(|v| v.parse::<usize>().ok()),
            stored: AtomicUsize::new(0),
        };
        let mut ran = 0;
        if let (Some(workers), Some(d)) = (self.worker_pool(), dir.as_deref()) {
            ran = self.run_in_workers(workers, d, pending, &mut outputs, &waves)?;
            pending = Vec::new();
        }
        while !pending.is_empty() {
            // The jobs whose dependencies all have outputs.
            let (ready, rest): (Vec<usize>, Vec<usize>) = pending.iter().partition(|&&i| {
                plan.jobs()[i]
                    .deps
                    .iter()
                    .all(|d| plan.position(d).is_some_and(|p| outputs[p].is_some()))
            });
            if ready.is_empty() {
                let stuck = &plan.jobs()[rest[0]];
                anyhow::bail!(
                    "job `{}` depends on jobs that did not run in this invocation",
                    stuck.id
                );
            }
            let wave = if self.parallel {
                &ready[..]
            } else {
                &ready[..1]
            };
            let mut first_err = None;
            for (i, r) in self.run_wave(wave, &f, &outputs, &waves) {
                match r {
                    Ok(o) => {
                        outputs[i] = Some(o);
                        ran += 1;
                    }
                    Err(e) => {
                        first_err.get_or_insert(e);
                    }
                }
            }
            if let Some(e) = first_err {
                waves.bar.abandon();
                return Err(e);
            }
            pending.retain(|i| outputs[*i].is_none());
        }
        waves.bar.finish_and_clear();
        self.outcome(outputs, ran, reused, dir.as_deref())
    }

    /// Runs one wave of ready jobs (side by side when the runner is parallel), storing each
    /// result as soon as it finishes.
    fn run_wave<T, F>(
        &self,
        wave: &[usize],
        f: &F,
        outputs: &[Option<JobOutput<T>>],
        w: &Waves<'_>,
    ) -> Vec<Finished<T>>
    where
        T: Serialize + DeserializeOwned + Send + Sync,
        F: Fn(&Job, &Ctx<'_, T>) -> anyhow::Result<JobOutput<T>> + Sync,
    {
        let plan = self.plan;
        let run_one = |i: usize| -> Finished<T> {
            let job = &plan.jobs()[i];
            let ctx = Ctx {
                job,
                plan,
                outputs,
                progress: JobProgress {
                    bar: w.bar.clone(),
                    weight: job.weight,
                    done: AtomicU64::new(0),
                },
                checkpoint: w.dir.map(|d| self.paths(d, i).2),
            };
            let t = Instant::now();
            let r = f(job, &ctx).with_context(|| format!("job `{}`", job.id));
            ctx.progress.finish();
            // Stored as soon as it finishes, even while the rest of a parallel wave runs: a
            // killed run loses only the jobs in flight.
            let r = r.and_then(|o| {
                if let Some(d) = w.dir {
                    self.store(d, i, &o, t.elapsed().as_secs_f64())?;
                }
                let n = w.stored.fetch_add(1, Ordering::SeqCst) + 1;
                if w.kill_after.is_some_and(|k| n >= k) {
                    // Test hook: die like a SIGKILL (no unwinding, no cleanup).
                    std::process::abort();
                }
                Ok(o)
            });
            (i, r)
        };
        if self.parallel {
            wave.par_iter().map(|&i| run_one(i)).collect()
        } else {
            wave.iter().map(|&i| run_one(i)).collect()
        }
    }

    /// Every output when the plan is complete; otherwise what this invocation ran (a shard),
    /// or, when merging, an error naming the jobs still missing.
    fn outcome<T>(
        &self,
        outputs: Vec<Option<JobOutput<T>>>,
        ran: usize,
        reused: usize,
        dir: Option<&Path>,
    ) -> anyhow::Result<RunState<T>> {
        let plan = self.plan;
        let missing: Vec<String> = outputs
            .iter()
            .enumerate()
            .filter(|(_, o)| o.is_none())
            .map(|(i, _)| plan.jobs()[i].id.clone())
            .collect();
        // A worker never builds the report: its parent does, once every job is back.
        if missing.is_empty() && self.opts.worker_job.is_none() {
            return Ok(RunState::Complete(Done {
                jobs: plan.jobs().to_vec(),
                outputs: outputs.into_iter().map(|o| o.expect("checked")).collect(),
                ran,
                reused,
            }));
        }
        if self.opts.merge {
            let shown: Vec<&str> = missing.iter().take(20).map(String::as_str).collect();
            anyhow::bail!(
                "{}: {} of {} jobs have no result in {}: {}{}",
                plan.paper(),
                missing.len(),
                plan.len(),
                dir.map_or("memory".into(), |d| d.display().to_string()),
                shown.join(", "),
                if missing.len() > shown.len() {
                    ", ..."
                } else {
                    ""
                }
            );
        }
        Ok(RunState::Partial(PartialRun {
            paper: plan.paper().into(),
            planned: plan.len(),
            ran,
            reused,
            missing,
        }))
    }
}

/// `--jobs N`: how the runner starts a worker process for one job.
///
/// Burn's random generator is one per process, so jobs that draw from it cannot share a
/// process side by side; a worker process of their own can. A worker is the same program
/// run with `args` plus the job's id: it runs that job alone, with its dependencies read
/// from `<out>/jobs/`, and stores the result there like any job (the caller sets
/// [`Options::worker_job`] from that last argument). Since every job seeds what it draws
/// (a resumed run gives the uninterrupted run's numbers, tested), the numbers do not depend
/// on N. Each worker's output goes to `<out>/jobs/<job>.log`, kept only when it fails.
#[derive(Debug, Clone)]
pub struct Workers {
    /// Jobs run at once (at least 2; 1 runs in this process).
    pub n: usize,
    /// The worker program (usually `std::env::current_exe()`).
    pub program: PathBuf,
    /// Its arguments; the job's id is appended.
    pub args: Vec<std::ffi::OsString>,
}

/// Rayon threads per worker when `n` workers share the machine: the cores divided among
/// them, at least one.
fn worker_threads(n: usize) -> usize {
    let cores = std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get);
    (cores / n.max(1)).max(1)
}

/// A worker process in flight.
struct Running {
    index: usize,
    child: std::process::Child,
    log: PathBuf,
}

impl Runner<'_> {
    /// The worker pool to use, if `--jobs` asks for one and this runner can use it (an
    /// output folder, not itself a worker, not already running jobs side by side).
    fn worker_pool(&self) -> Option<&Workers> {
        let w = self.opts.workers.as_ref()?;
        (w.n > 1 && !self.parallel && self.opts.worker_job.is_none() && self.opts.out.is_some())
            .then_some(w)
    }

    /// Runs `pending` in worker processes, up to `w.n` at once, each started as soon as
    /// its dependencies have results; returns how many ran. After a failure no new worker
    /// starts, the running ones finish (their results are kept for the rerun), and the
    /// first error is returned with the end of the worker's log.
    fn run_in_workers<T: DeserializeOwned>(
        &self,
        w: &Workers,
        dir: &Path,
        mut pending: Vec<usize>,
        outputs: &mut [Option<JobOutput<T>>],
        waves: &Waves<'_>,
    ) -> anyhow::Result<usize> {
        let plan = self.plan;
        let mut running: Vec<Running> = Vec::new();
        let mut ran = 0;
        let mut failed: Option<anyhow::Error> = None;
        loop {
            while failed.is_none() && running.len() < w.n {
                let ready = pending.iter().position(|&i| {
                    plan.jobs()[i]
                        .deps
                        .iter()
                        .all(|d| plan.position(d).is_some_and(|p| outputs[p].is_some()))
                });
                let Some(k) = ready else { break };
                let i = pending.remove(k);
                match self.spawn_worker(w, dir, i) {
                    Ok(r) => running.push(r),
                    Err(e) => failed = Some(e),
                }
            }
            if running.is_empty() {
                if let Some(e) = failed {
                    return Err(e);
                }
                if let Some(&i) = pending.first() {
                    anyhow::bail!(
                        "job `{}` depends on jobs that did not run in this invocation",
                        plan.jobs()[i].id
                    );
                }
                return Ok(ran);
            }
            waves.bar.set_message(
                running
                    .iter()
                    .map(|r| plan.jobs()[r.index].id.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
            );
            std::thread::sleep(std::time::Duration::from_millis(20));
            let mut k = 0;
            while k < running.len() {
                let status = running[k].child.try_wait().with_context(|| {
                    format!(
                        "cannot wait for the worker of `{}`",
                        plan.jobs()[running[k].index].id
                    )
                })?;
                let Some(status) = status else {
                    k += 1;
                    continue;
                };
                let r = running.swap_remove(k);
                let job = &plan.jobs()[r.index];
                let result = if status.success() {
                    self.load(dir, r.index).with_context(|| {
                        format!(
                            "the worker of job `{}` finished but left no readable result in {}",
                            job.id,
                            dir.display()
                        )
                    })
                } else {
                    Err(anyhow::anyhow!(
                        "job `{}` failed in its worker process ({status}); its log, {}, ends:\n{}",
                        job.id,
                        r.log.display(),
                        log_tail(&r.log, 20)
                    ))
                };
                match result {
                    Ok(o) => {
                        let _ = std::fs::remove_file(&r.log);
                        outputs[r.index] = Some(o);
                        ran += 1;
                        waves.bar.inc(job.weight);
                        let n = waves.stored.fetch_add(1, Ordering::SeqCst) + 1;
                        if waves.kill_after.is_some_and(|k| n >= k) {
                            std::process::abort();
                        }
                    }
                    Err(e) => {
                        failed.get_or_insert(e);
                    }
                }
            }
        }
    }

    fn spawn_worker(&self, w: &Workers, dir: &Path, i: usize) -> anyhow::Result<Running> {
        let job = &self.plan.jobs()[i];
        let log = dir.join(format!("{}.log", job.file_stem()));
        let file = std::fs::File::create(&log)
            .with_context(|| format!("cannot create the worker log {}", log.display()))?;
        let mut command = std::process::Command::new(&w.program);
        // Each worker's rayon pool gets its share of the cores, so that `n` workers do not
        // oversubscribe them during their matrix products (a value the user set wins).
        if std::env::var_os("RAYON_NUM_THREADS").is_none() {
            command.env("RAYON_NUM_THREADS", worker_threads(w.n).to_string());
        }
        let child = command
            .args(&w.args)
            .arg(&job.id)
            .env_remove(KILL_AFTER_ENV)
            .env("REPRO_QUIET", "1")
            .stdin(std::process::Stdio::null())
            .stdout(file.try_clone()?)
            .stderr(file)
            .spawn()
            .with_context(|| {
                format!(
                    "cannot start a worker ({}) for job `{}`",
                    w.program.display(),
                    job.id
                )
            })?;
        Ok(Running {
            index: i,
            child,
            log,
        })
    }
}

/// The last `n` lines of a worker's log.
fn log_tail(path: &Path, n: usize) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

/// What `<out>/jobs` holds for one job.
enum Loaded<T> {
    /// No file: the job has not run.
    Missing,
    /// A file that must not be reused, and why.
    Redo(String),
    /// The stored output, fingerprint checked.
    Ok(JobOutput<T>),
}

/// What every wave of one [`Runner::run`] shares.
struct Waves<'a> {
    bar: indicatif::ProgressBar,
    dir: Option<&'a Path>,
    kill_after: Option<usize>,
    stored: AtomicUsize,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn workers_share_the_cores_and_get_at_least_one_thread() {
        let cores = std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get);
        assert_eq!(worker_threads(1), cores);
        assert_eq!(worker_threads(0), cores, "0 workers is treated as 1");
        for n in 1..=4 * cores {
            let t = worker_threads(n);
            assert!(t >= 1, "{n} workers");
            if n <= cores {
                // As many threads as fit: n workers never exceed the cores, one more each would.
                assert!(
                    n * t <= cores && n * (t + 1) > cores,
                    "{n} workers, {t} threads"
                );
            } else {
                assert_eq!(t, 1, "{n} workers");
            }
        }
    }

    /// Job files keep rows as JSON: every f64 must read back bit for bit, or a resumed
    /// run's paired differences move in the last digit (serde_json's `float_roundtrip`).
    #[test]
    fn metrics_round_trip_through_json_exactly() {
        let mut rng = crate::rng::SplitMix64::new(7);
        for _ in 0..10_000 {
            let x = f64::from_bits(rng.next_u64() >> 2)
                * if rng.next_u64().is_multiple_of(2) {
                    1.0
                } else {
                    -1.0
                };
            if !x.is_finite() {
                continue;
            }
            let back: f64 = serde_json::from_str(&serde_json::to_string(&x).unwrap()).unwrap();
            assert_eq!(back.to_bits(), x.to_bits(), "{x:e}");
        }
        let tricky = 0.09999999999999788f64;
        let back: f64 = serde_json::from_str(&serde_json::to_string(&tricky).unwrap()).unwrap();
        assert_eq!(back.to_bits(), tricky.to_bits());
    }
    use crate::experiment::Shard;
    use crate::testing::TempDir;

    /// Six training jobs and an evaluation of each; the evaluation reads its training.
    fn plan(scale: f64) -> Plan {
        let mut p = Plan::new("demo");
        for m in ["a", "b"] {
            for s in 0..3 {
                let t = p
                    .push(Job::new("e", "train", m, Some(s)).config(&scale))
                    .unwrap();
                p.push(Job::new("e", "eval", m, Some(s)).after(&t)).unwrap();
            }
        }
        p
    }

    fn job(
        job: &Job,
        ctx: &Ctx<'_, Vec<f32>>,
        calls: &AtomicUsize,
    ) -> anyhow::Result<JobOutput<Vec<f32>>> {
        calls.fetch_add(1, Ordering::Relaxed);
        let s = job.seed.unwrap() as f32;
        let base = if job.method == "a" { 1.0 } else { 2.0 };
        let data = if job.setting == "train" {
            vec![base * s, f32::NAN, 1.0 / 3.0]
        } else {
            let (_, t) = ctx.deps()?[0];
            t.data.iter().map(|x| x + 0.1).collect()
        };
        let row = Row::of(job)
            .metric("v", f64::from(data[0]))
            .metric("nan", f64::NAN);
        Ok(JobOutput::new(vec![row], data))
    }

    fn opts(out: Option<&Path>) -> Options {
        let mut o = Options::new(Profile::Smoke);
        o.progress = false;
        o.out = out.map(Path::to_path_buf);
        o
    }

    fn same(a: &Done<Vec<f32>>, b: &Done<Vec<f32>>) {
        let bits = |d: &Done<Vec<f32>>| {
            d.iter()
                .map(|(j, o)| {
                    (
                        j.id.clone(),
                        o.data.iter().map(|x| x.to_bits()).collect::<Vec<_>>(),
                        o.rows[0].metrics["v"].to_bits(),
                    )
                })
                .collect::<Vec<_>>()
        };
        assert_eq!(bits(a), bits(b));
    }

    #[test]
    fn in_memory_run_is_complete_and_ordered() {
        let calls = AtomicUsize::new(0);
        let p = plan(1.0);
        let o = opts(None);
        let done = Runner::new(&p, &o)
            .run(|j, c| job(j, c, &calls))
            .unwrap()
            .complete()
            .unwrap();
        assert_eq!((done.ran, done.reused), (12, 0));
        assert_eq!(done.get("e/eval/b/2").unwrap().data[0], 4.1);
        let r = done.results();
        assert_eq!(
            r.values("e", "train", "b", "v").unwrap(),
            vec![0.0, 2.0, 4.0]
        );
        let mut sharded = o.clone();
        sharded.shard = Some(Shard { index: 0, count: 2 });
        assert!(
            Runner::new(&p, &sharded)
                .run(|j, c| job(j, c, &calls))
                .is_err()
        );
    }

    #[test]
    fn corrupt_truncated_and_foreign_job_files_are_named_and_redone() {
        let tmp = TempDir::new("runner-corrupt");
        let p = plan(1.0);
        let o = opts(Some(tmp.path()));
        let calls = AtomicUsize::new(0);
        let first = Runner::new(&p, &o)
            .run(|j, c| job(j, c, &calls))
            .unwrap()
            .complete()
            .unwrap();
        let runner = Runner::new(&p, &o);
        let dir = tmp.path().join("jobs");
        let (json, cbor, _) = runner.paths(&dir, 0);
        let status = |r: &Runner<'_>| match r.load_status::<Vec<f32>>(&dir, 0) {
            Loaded::Missing => "missing".to_string(),
            Loaded::Redo(why) => why,
            Loaded::Ok(_) => "ok".to_string(),
        };
        assert_eq!(status(&runner), "ok");
        // A truncated payload.
        let good = std::fs::read(&cbor).unwrap();
        std::fs::write(&cbor, &good[..good.len() / 2]).unwrap();
        assert!(
            status(&runner).contains("cannot be read"),
            "{}",
            status(&runner)
        );
        std::fs::write(&cbor, &good).unwrap();
        // A record that is not JSON.
        let record = std::fs::read_to_string(&json).unwrap();
        std::fs::write(&json, "{ not json").unwrap();
        assert!(
            status(&runner).contains("is not a job record"),
            "{}",
            status(&runner)
        );
        // A record from another configuration.
        std::fs::write(&json, record.replace(p.fingerprint(0), "0000000000000000")).unwrap();
        let s = status(&runner);
        assert!(
            s.contains("another configuration") && s.contains("0000000000000000"),
            "{s}"
        );
        // A missing payload beside its record.
        std::fs::write(&json, &record).unwrap();
        std::fs::remove_file(&cbor).unwrap();
        assert!(
            status(&runner).contains("no readable payload"),
            "{}",
            status(&runner)
        );
        // Rerunning redoes exactly that job and gives the same results.
        std::fs::remove_file(&json).unwrap();
        assert_eq!(status(&runner), "missing");
        let calls = AtomicUsize::new(0);
        let again = runner
            .run(|j, c| job(j, c, &calls))
            .unwrap()
            .complete()
            .unwrap();
        assert_eq!((again.ran, again.reused), (1, 11));
        same(&first, &again);
    }

    #[test]
    fn interrupted_run_resumes_with_identical_results() {
        let tmp = TempDir::new("runner-resume");
        let p = plan(1.0);
        let full = {
            let calls = AtomicUsize::new(0);
            Runner::new(&p, &opts(None))
                .run(|j, c| job(j, c, &calls))
                .unwrap()
                .complete()
                .unwrap()
        };
        // Fail at the fifth job: four are stored.
        let calls = AtomicUsize::new(0);
        let o = opts(Some(tmp.path()));
        let err = Runner::new(&p, &o)
            .run(|j, c| {
                if calls.load(Ordering::Relaxed) == 4 {
                    anyhow::bail!("killed");
                }
                job(j, c, &calls)
            })
            .unwrap_err();
        assert!(format!("{err:#}").contains("killed"));
        let stored = std::fs::read_dir(tmp.path().join("jobs"))
            .unwrap()
            .filter(|e| {
                e.as_ref()
                    .unwrap()
                    .path()
                    .extension()
                    .is_some_and(|x| x == "json")
            })
            .count();
        assert_eq!(stored, 4);
        let calls = AtomicUsize::new(0);
        let resumed = Runner::new(&p, &o)
            .run(|j, c| job(j, c, &calls))
            .unwrap()
            .complete()
            .unwrap();
        assert_eq!(
            calls.load(Ordering::Relaxed),
            8,
            "only the 8 unfinished jobs rerun"
        );
        assert_eq!((resumed.ran, resumed.reused), (8, 4));
        same(&full, &resumed);
        assert!(resumed.results().rows()[0].metrics["nan"].is_nan());
        // A changed configuration invalidates the training jobs and, through them, the
        // evaluations.
        let p2 = plan(2.0);
        let calls = AtomicUsize::new(0);
        let again = Runner::new(&p2, &o)
            .run(|j, c| job(j, c, &calls))
            .unwrap()
            .complete()
            .unwrap();
        assert_eq!((again.ran, again.reused), (12, 0));
        assert_eq!(read_plan_options(tmp.path()).unwrap().jobs.len(), 12);
    }

    #[test]
    fn shards_merge_to_the_unsharded_run_and_a_missing_shard_is_named() {
        let tmp = TempDir::new("runner-shards");
        let p = plan(1.0);
        let calls = AtomicUsize::new(0);
        let full = Runner::new(&p, &opts(None))
            .run(|j, c| job(j, c, &calls))
            .unwrap()
            .complete()
            .unwrap();
        let mut o = opts(Some(tmp.path()));
        o.shard = Some(Shard { index: 1, count: 2 });
        let state = Runner::new(&p, &o)
            .parallel(true)
            .run(|j, c| job(j, c, &calls))
            .unwrap();
        let RunState::Partial(part) = state else {
            panic!("one shard of two cannot complete the plan")
        };
        assert_eq!((part.ran, part.missing.len()), (6, 6));
        // Merging now names the missing jobs.
        let mut merge = opts(Some(tmp.path()));
        merge.merge = true;
        let err = Runner::new(&p, &merge)
            .run(|j, c| job(j, c, &calls))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("6 of 12 jobs have no result") && err.contains("e/train/a/0"),
            "{err}"
        );
        o.shard = Some(Shard { index: 0, count: 2 });
        Runner::new(&p, &o).run(|j, c| job(j, c, &calls)).unwrap();
        let calls_before = calls.load(Ordering::Relaxed);
        let merged = Runner::new(&p, &merge)
            .run(|j, c| job(j, c, &calls))
            .unwrap()
            .complete()
            .unwrap();
        assert_eq!(
            calls.load(Ordering::Relaxed),
            calls_before,
            "a merge runs nothing"
        );
        same(&full, &merged);
    }

    #[test]
    fn progress_is_capped_at_the_weight() {
        let p = JobProgress {
            bar: indicatif::ProgressBar::hidden(),
            weight: 10,
            done: AtomicU64::new(0),
        };
        p.inc(4);
        p.inc(9);
        assert_eq!(p.bar.position(), 10);
        p.finish();
        assert_eq!(p.bar.position(), 10);
    }
}
