//! The xtask binary end to end: exit codes and messages users see.

use std::path::Path;
use std::process::{Command, Output};

use repro_core::testing::TempDir;

fn xtask(args: &[&str], envs: &[(&str, &Path)]) -> Output {
    let mut c = Command::new(env!("CARGO_BIN_EXE_xtask"));
    c.args(args)
        .env_remove("REPRO_DATA_MIRROR")
        .env("REPRO_QUIET", "1");
    for (k, v) in envs {
        c.env(k, v);
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

#[test]
fn verify_names_corrupt_and_missing_files() {
    let tmp = TempDir::new("xtask-verify");
    let (cache, mirror) = (tmp.path().join("cache"), tmp.path().join("mirror"));
    std::fs::create_dir_all(mirror.join("webkb/cornell")).unwrap();
    // A truncated copy of a registered file.
    std::fs::write(
        mirror.join("webkb/cornell/out1_graph_edges.txt"),
        "node_id\tnode_id\n0\t1\n",
    )
    .unwrap();
    let out = xtask(
        &["data", "verify", "webkb"],
        &[("REPRO_DATA_DIR", &cache), ("REPRO_DATA_MIRROR", &mirror)],
    );
    let t = text(&out);
    assert!(!out.status.success(), "{t}");
    assert!(
        t.contains("CORRUPT") && t.contains("webkb/cornell/out1_graph_edges.txt"),
        "{t}"
    );
    assert!(
        t.contains("missing  webkb/texas/out1_graph_edges.txt"),
        "{t}"
    );
    assert!(t.contains("0 verified"), "{t}");
}

#[test]
fn verify_passes_on_embedded_digits() {
    let tmp = TempDir::new("xtask-digits");
    let out = xtask(
        &["data", "verify", "digits"],
        &[("REPRO_DATA_DIR", tmp.path())],
    );
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("1 verified, 0 missing, 0 corrupt"));
}

#[test]
fn bad_arguments_are_explained() {
    let out = xtask(&["reproduce", "no-such-paper", "--profile", "smoke"], &[]);
    assert!(!out.status.success());
    assert!(
        text(&out).contains("unknown or not yet implemented paper `no-such-paper`"),
        "{}",
        text(&out)
    );
    let out = xtask(&["reproduce", "x", "--profile", "fast"], &[]);
    assert!(
        text(&out).contains("expected smoke, quick or full"),
        "{}",
        text(&out)
    );
    let out = xtask(&["reproduce", "x", "--device", "tpu"], &[]);
    assert!(
        text(&out).contains("unknown device `tpu`"),
        "{}",
        text(&out)
    );
    let out = xtask(&["reproduce", "graph-ood", "--seeds", "0"], &[]);
    assert!(!out.status.success());
    assert!(text(&out).contains("at least 1 seed"), "{}", text(&out));
    let out = xtask(&["reproduce", "graph-ood", "--jobs", "0"], &[]);
    assert!(!out.status.success());
    assert!(
        text(&out).contains("not a number of jobs"),
        "{}",
        text(&out)
    );
    let out = xtask(&["reproduce", "graph-ood", "--shard", "3/2"], &[]);
    assert!(!out.status.success());
    assert!(text(&out).contains("invalid shard `3/2`"), "{}", text(&out));
    let out = xtask(
        &[
            "reproduce",
            "graph-ood",
            "--profile",
            "smoke",
            "--only",
            "cbass",
        ],
        &[],
    );
    assert!(!out.status.success());
    assert!(
        text(&out).contains("unknown experiment `cbass`"),
        "{}",
        text(&out)
    );
    // An output folder that cannot be created, and a merge of a folder no run wrote.
    let out = xtask(
        &[
            "reproduce",
            "graph-ood",
            "--profile",
            "smoke",
            "--out",
            "/proc/no/such/dir",
        ],
        &[],
    );
    assert!(!out.status.success());
    assert!(
        text(&out).contains("cannot create /proc/no/such/dir"),
        "{}",
        text(&out)
    );
    let tmp = repro_core::testing::TempDir::new("cli-report");
    let dir = tmp.path().to_str().unwrap();
    let out = xtask(&["report", "graph-ood", "--out", dir], &[]);
    assert!(!out.status.success());
    assert!(text(&out).contains("plan.json"), "{}", text(&out));
    let out = xtask(&["report", "nope", "--out", dir], &[]);
    assert!(!out.status.success());
    assert!(text(&out).contains("unknown or not yet implemented paper `nope`"));
    let out = xtask(&["frobnicate"], &[]);
    assert!(!out.status.success());
    let out = xtask(&["fuzz", "no-such-target"], &[]);
    assert!(!out.status.success());
    assert!(
        text(&out).contains("unknown fuzz target `no-such-target`; targets: npy, npz"),
        "{}",
        text(&out)
    );
    let out = xtask(&["fuzz", "npy", "--runs", "many"], &[]);
    assert!(!out.status.success());
    let out = xtask(&["data", "verify", "coraa"], &[]);
    assert!(
        text(&out).contains("unknown dataset `coraa`"),
        "{}",
        text(&out)
    );
}

#[test]
fn plots_redraws_a_stored_report_and_names_a_missing_one() {
    let report =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/results/mim-tokens/quick/report.json");
    let stored = repro_core::Report::read(&report).unwrap();
    let tmp = TempDir::new("cli-plots");
    let out = xtask(
        &[
            "plots",
            report.to_str().unwrap(),
            "--out",
            tmp.path().to_str().unwrap(),
        ],
        &[],
    );
    assert!(out.status.success(), "{}", text(&out));
    for p in &stored.plots {
        let svg = std::fs::read_to_string(tmp.path().join(format!("{}.svg", p.name))).unwrap();
        assert!(svg.starts_with("<svg"), "{}", p.name);
    }
    let out = xtask(&["plots", "/no/such/report.json"], &[]);
    assert!(!out.status.success());
    assert!(
        text(&out).contains("cannot read /no/such/report.json"),
        "{}",
        text(&out)
    );
}
