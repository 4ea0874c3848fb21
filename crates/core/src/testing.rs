//! Helpers for tests of crates built on repro-core: temporary folders and the data mirror.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use crate::data::DataRoots;

/// A temporary folder removed on drop.
#[derive(Debug)]
pub struct TempDir(PathBuf);

impl TempDir {
    /// Creates a fresh folder under the system temp dir, named after `tag`.
    pub fn new(tag: &str) -> Self {
        static COUNTER: AtomicUsize = AtomicUsize::new(0);
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        let path =
            std::env::temp_dir().join(format!("repro-{tag}-{}-{n}-{nanos}", std::process::id()));
        std::fs::create_dir_all(&path).expect("cannot create a temp dir");
        Self(path)
    }

    /// The folder.
    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Data roots for tests that read real dataset files: `REPRO_DATA_MIRROR` when set, else
/// `../shared/datasets` next to the workspace when it exists, else `None` (the test then
/// skips, with a message). With `REPRO_REQUIRE_DATA=1` (set by `.ci/run`) a missing mirror
/// panics instead, so CI never skips silently.
pub fn mirror_roots() -> Option<DataRoots> {
    let roots = DataRoots::from_env();
    if roots.mirror.is_some() {
        return Some(roots);
    }
    let guess = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/datasets");
    if guess.is_dir() {
        return Some(DataRoots::new(roots.cache, Some(guess)));
    }
    if std::env::var("REPRO_REQUIRE_DATA").is_ok_and(|v| v == "1") {
        panic!("REPRO_REQUIRE_DATA=1 but no data mirror: set REPRO_DATA_MIRROR");
    }
    eprintln!("skipped: no data mirror (set REPRO_DATA_MIRROR to run this test)");
    None
}

/// Environment variable of the kill tests: `point` or `point:n` makes the process abort
/// (as abruptly as a SIGKILL: no unwinding, no cleanup) the `n`-th time (default the first)
/// it reaches [`kill_point`]`(point)`. Points: `job-progress` (a job reports progress, i.e.
/// mid-job), `atomic-partial` (half of a file's bytes are in its temporary file),
/// `atomic-renamed-not` (a temporary file is complete, not yet renamed), `job-payload` (a
/// job's payload is stored, its record not yet), `report-write` (the report's SVG and
/// Markdown files are written, `report.json` not yet), `checkpoint-renames` (a checkpoint's
/// new weights are in place, its optimiser state and `state.json` not yet).
pub const KILL_AT_ENV: &str = "REPRO_KILL_AT";

/// The kill-test hook: aborts the process here when [`KILL_AT_ENV`] names `point` and this
/// is its `n`-th hit. Costs one atomic load when the variable is unset.
pub fn kill_point(point: &str) {
    use std::sync::OnceLock;
    static TARGET: OnceLock<Option<(String, usize)>> = OnceLock::new();
    static HITS: AtomicUsize = AtomicUsize::new(0);
    let target = TARGET.get_or_init(|| {
        let v = std::env::var(KILL_AT_ENV).ok()?;
        let (name, n) = match v.split_once(':') {
            Some((name, n)) => (name.to_owned(), n.parse().ok()?),
            None => (v, 1),
        };
        Some((name, n))
    });
    if let Some((name, n)) = target
        && name == point
        && HITS.fetch_add(1, Ordering::SeqCst) + 1 >= *n
    {
        std::process::abort();
    }
}
