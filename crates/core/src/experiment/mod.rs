//! The experiment layer: a paper declares itself once ([`PaperInfo`]), plans its jobs
//! ([`Plan`]), runs them through a [`Runner`] that resumes, shards and merges, keeps their
//! numbers as typed [`Results`] paired by seed, and decides its claims from them.
//!
//! A reproduction is three steps:
//!
//! 1. **Plan.** Enumerate every job (experiment, setting, method, seed, what it depends
//!    on, the configuration it runs) before running anything. Progress totals come from
//!    the plan, `--shard i/n` slices it, and a merge knows which jobs are missing.
//! 2. **Run.** [`Runner::run`] calls the paper's job function for each job of this
//!    invocation. With an output folder (`Options::out`), each finished job is written
//!    atomically to `<out>/jobs/<job>.json` (readable) and `<job>.cbor` (exact payload),
//!    with a fingerprint of its configuration: a rerun skips finished jobs whose
//!    fingerprint still matches, reruns stale ones, and a killed run loses at most the
//!    jobs that were in flight (long jobs checkpoint through [`Ctx::checkpoint`]).
//! 3. **Report.** Once every job of the plan has a result (run now, read back, or
//!    written by other shards), the paper builds its tables from [`Results`] and decides
//!    its claims with [`PaperInfo::claim`]; a claim whose experiments did not run is
//!    `inconclusive` with the reason ([`PaperInfo::finish_claims`]).
//!
//! ```
//! use repro_core::experiment::{ClaimInfo, ExperimentInfo, Job, JobOutput, PaperInfo, Plan, Row, Runner};
//! use repro_core::{Options, Profile};
//!
//! static INFO: PaperInfo = PaperInfo {
//!     name: "demo",
//!     title: "A demonstration",
//!     experiments: &[ExperimentInfo { name: "toy", about: "two methods on three seeds" }],
//!     claims: &[ClaimInfo {
//!         id: "D1",
//!         statement: "B beats A",
//!         criterion: "paired 95% CI of B − A above 0",
//!         experiments: &["toy"],
//!     }],
//! };
//!
//! let opts = Options::new(Profile::Smoke);
//! let mut plan = Plan::new(INFO.name);
//! for method in ["A", "B"] {
//!     for seed in 0..3 {
//!         plan.push(Job::new("toy", "default", method, Some(seed)).config(&method))?;
//!     }
//! }
//! let done = Runner::new(&plan, &opts)
//!     .run(|job, _ctx| {
//!         let seed = job.seed.unwrap() as f64;
//!         let acc = if job.method == "B" { 0.9 + 0.01 * seed } else { 0.8 };
//!         Ok(JobOutput::<()>::rows(vec![Row::of(job).metric("acc", acc)]))
//!     })?
//!     .complete()
//!     .expect("no shard was asked for");
//! let results = done.results();
//! let gap = results.paired("toy", "default", "B", "A", "acc")?.difference();
//! let claim = INFO.claim("D1").measure("gap", gap.mean).decide(gap.ci_above(0.0));
//! assert_eq!(claim.verdict, repro_core::Verdict::Reproduced);
//! # Ok::<(), anyhow::Error>(())
//! ```

mod info;
mod plan;
mod results;
mod run;

pub use info::{ClaimInfo, ExperimentInfo, Outcome, Paper, PaperInfo, PartialRun};
pub use plan::{Job, Plan, Shard, job_file_stem};
pub use results::{Paired, Results, Row, SeedPolicy};
pub use run::{
    Ctx, Done, JobOutput, JobProgress, KILL_AFTER_ENV, PlanFile, RunState, Runner, Workers,
    decode_job_payload, decode_job_record, read_plan_options,
};
