//! Resume, shards and merge through the xtask binary, on a real paper's smoke profile: a run
//! killed part-way resumes to the report of an uninterrupted run; two shards merged give the
//! unsharded report; a merge with a shard missing names the missing jobs.

use std::path::Path;
use std::process::{Command, Output};

use repro_core::testing::TempDir;

/// A paper whose smoke profile has several jobs and takes a few seconds.
const PAPER: &str = "monosemantic";

fn xtask(args: &[&str], kill_after: Option<usize>) -> Output {
    xtask_env(args, kill_after, None)
}

fn xtask_env(args: &[&str], kill_after: Option<usize>, kill_at: Option<&str>) -> Output {
    let mut c = Command::new(env!("CARGO_BIN_EXE_xtask"));
    c.args(args).env("REPRO_QUIET", "1");
    c.env_remove(repro_core::experiment::KILL_AFTER_ENV);
    c.env_remove(repro_core::testing::KILL_AT_ENV);
    if let Some(point) = kill_at {
        c.env(repro_core::testing::KILL_AT_ENV, point);
    }
    if let Some(k) = kill_after {
        c.env(repro_core::experiment::KILL_AFTER_ENV, k.to_string());
    }
    c.output().expect("xtask runs")
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// A smoke run into `out`, in one process unless `extra` sets `--jobs` (the kill points
/// count per process, and a killed parent leaves its workers running).
fn run(out: &Path, extra: &[&str], kill_after: Option<usize>) -> Output {
    let out = out.to_str().unwrap();
    let mut args = vec!["reproduce", PAPER, "--profile", "smoke", "--out", out];
    if !extra.contains(&"--jobs") {
        args.extend(["--jobs", "1"]);
    }
    args.extend_from_slice(extra);
    xtask(&args, kill_after)
}

/// The arguments of a smoke run into `out` with `--jobs jobs`.
fn smoke_args<'a>(out: &'a Path, jobs: &'a str) -> [&'a str; 8] {
    let out = out.to_str().unwrap();
    [
        "reproduce",
        PAPER,
        "--profile",
        "smoke",
        "--out",
        out,
        "--jobs",
        jobs,
    ]
}

/// `report.json` without its timing and commit fields.
fn report(dir: &Path) -> serde_json::Value {
    fn strip(v: &serde_json::Value) -> serde_json::Value {
        match v {
            serde_json::Value::Object(m) => m
                .iter()
                .filter(|(k, _)| {
                    !k.contains("seconds") && !k.ends_with("_ms") && k.as_str() != "git_commit"
                })
                .map(|(k, x)| (k.clone(), strip(x)))
                .collect(),
            serde_json::Value::Array(a) => a.iter().map(strip).collect(),
            other => other.clone(),
        }
    }
    let text = std::fs::read_to_string(dir.join("report.json"))
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    strip(&serde_json::from_str(&text).unwrap())
}

fn finished_jobs(dir: &Path) -> usize {
    std::fs::read_dir(dir.join("jobs")).map_or(0, |d| {
        d.filter(|e| {
            e.as_ref()
                .is_ok_and(|e| e.path().extension().is_some_and(|x| x == "json"))
        })
        .count()
    })
}

#[test]
fn a_killed_run_resumes_to_the_uninterrupted_report() {
    let tmp = TempDir::new("xtask-resume");
    let (whole, killed) = (tmp.path().join("whole"), tmp.path().join("killed"));
    let o = run(&whole, &[], None);
    assert!(o.status.success(), "{}", text(&o));
    let planned = finished_jobs(&whole);
    assert!(
        planned >= 3,
        "the smoke plan has {planned} jobs: too few to test resume"
    );

    // Killed (abort, no cleanup) right after the second job is stored.
    let o = run(&killed, &[], Some(2));
    assert!(
        !o.status.success(),
        "the kill hook did not fire: {}",
        text(&o)
    );
    assert_eq!(finished_jobs(&killed), 2);
    assert!(!killed.join("report.json").exists());

    let o = run(&killed, &[], None);
    assert!(o.status.success(), "{}", text(&o));
    assert_eq!(finished_jobs(&killed), planned);
    assert_eq!(report(&whole), report(&killed));

    // A rerun of a finished run runs nothing and writes the same report.
    let o = run(&killed, &[], Some(1));
    assert!(
        o.status.success(),
        "a complete run reran a job: {}",
        text(&o)
    );
    assert_eq!(report(&whole), report(&killed));
}

/// Every file in `dir` and below whose name ends in `suffix`.
fn files_ending(dir: &Path, suffix: &str) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(files_ending(&p, suffix));
        } else if p.to_string_lossy().contains(suffix) {
            out.push(p);
        }
    }
    out
}

#[test]
fn killed_while_writing_or_mid_job_resumes_to_the_uninterrupted_report() {
    let tmp = TempDir::new("xtask-kill-points");
    let whole = tmp.path().join("whole");
    let o = run(&whole, &[], None);
    assert!(o.status.success(), "{}", text(&o));
    let planned = finished_jobs(&whole);
    // Atomic writes in order: plan.json, then per job its payload and its record. So
    // `atomic-partial:4` dies half-way into the second job's payload, and
    // `atomic-renamed-not:3` with the first record complete in its temporary file.
    for point in [
        "job-progress:3",
        "atomic-partial:4",
        "atomic-renamed-not:3",
        "job-payload:2",
        "report-write",
    ] {
        let out = tmp.path().join(point.replace(':', "-"));
        let o = xtask_env(&smoke_args(&out, "1"), None, Some(point));
        assert!(
            !o.status.success(),
            "{point}: the kill point was not reached: {}",
            text(&o)
        );
        assert!(
            !out.join("report.json").exists(),
            "{point}: a report after the kill"
        );
        let done_before = finished_jobs(&out);
        assert!(done_before < planned || point == "report-write", "{point}");
        let o = run(&out, &[], None);
        assert!(o.status.success(), "{point}: {}", text(&o));
        assert_eq!(finished_jobs(&out), planned, "{point}");
        assert_eq!(
            report(&whole),
            report(&out),
            "{point}: the resumed report differs"
        );
        // What a killed write left behind is a temporary file, never read as a result.
        if point.starts_with("atomic") {
            assert!(
                !files_ending(&out, ".tmp").is_empty(),
                "{point}: no temporary file"
            );
        }
    }
}

#[test]
fn shards_merge_to_the_unsharded_report_and_a_missing_shard_is_named() {
    let tmp = TempDir::new("xtask-shards");
    let (whole, shared) = (tmp.path().join("whole"), tmp.path().join("shared"));
    assert!(run(&whole, &[], None).status.success());

    let o = run(&shared, &["--shard", "1/2"], None);
    assert!(o.status.success(), "{}", text(&o));
    assert!(text(&o).contains("cargo xtask report"), "{}", text(&o));
    assert!(!shared.join("report.json").exists());
    let shared_s = shared.to_str().unwrap();
    let o = xtask(&["report", PAPER, "--out", shared_s], None);
    assert!(!o.status.success());
    assert!(text(&o).contains("have no result"), "{}", text(&o));

    assert!(run(&shared, &["--shard", "0/2"], None).status.success());
    let o = xtask(&["report", PAPER, "--out", shared_s], None);
    assert!(o.status.success(), "{}", text(&o));
    assert_eq!(report(&whole), report(&shared));
}

#[test]
fn worker_processes_give_the_in_process_report_and_a_failed_worker_is_named() {
    let tmp = TempDir::new("xtask-workers");
    let (one, two, killed) = (
        tmp.path().join("one"),
        tmp.path().join("two"),
        tmp.path().join("killed"),
    );
    let o = run(&one, &[], None);
    assert!(o.status.success(), "{}", text(&o));
    let o = run(&two, &["--jobs", "2"], None);
    assert!(o.status.success(), "{}", text(&o));
    assert_eq!(report(&one), report(&two));
    assert_eq!(finished_jobs(&one), finished_jobs(&two));
    assert!(
        files_ending(&two.join("jobs"), ".log").is_empty(),
        "a successful worker left its log"
    );

    // Every worker dies at its first progress report: the run fails naming a job and the
    // log it left; a rerun finishes to the same report.
    let o = xtask_env(&smoke_args(&killed, "2"), None, Some("job-progress:1"));
    assert!(!o.status.success(), "no worker was killed: {}", text(&o));
    assert!(
        text(&o).contains("failed in its worker process") && text(&o).contains(".log"),
        "{}",
        text(&o)
    );
    assert!(!killed.join("report.json").exists());
    let o = run(&killed, &["--jobs", "2"], None);
    assert!(o.status.success(), "{}", text(&o));
    assert_eq!(report(&one), report(&killed));
}

#[test]
fn a_dry_run_writes_the_plan_and_runs_nothing() {
    let tmp = TempDir::new("xtask-dry-run");
    let out = tmp.path().join("out");
    let o = run(&out, &["--dry-run"], None);
    assert!(o.status.success(), "{}", text(&o));
    let plan = repro_core::experiment::read_plan_options(&out).unwrap();
    assert!(plan.jobs.len() >= 3);
    assert_eq!(plan.weights.len(), plan.jobs.len());
    assert_eq!(finished_jobs(&out), 0);
    assert!(!out.join("report.json").exists());
    let listed = text(&o);
    assert!(
        listed.contains(&format!("{} jobs", plan.jobs.len())) && listed.contains("| digits |"),
        "{listed}"
    );
    // After the run, the dry run counts every job as done.
    assert!(run(&out, &[], None).status.success());
    let o = run(&out, &["--dry-run"], None);
    let done: usize = text(&o)
        .lines()
        .filter(|l| l.starts_with("| ") && !l.starts_with("| experiment"))
        .map(|l| {
            l.trim_matches('|')
                .split('|')
                .nth(3)
                .unwrap()
                .trim()
                .parse::<usize>()
                .unwrap()
        })
        .sum();
    assert_eq!(done, plan.jobs.len(), "{}", text(&o));
}
