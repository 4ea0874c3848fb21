//! Jobs and the plan: every job of a reproduction, enumerated before any runs.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};

/// One unit of work: a training run, an evaluation, a sweep point.
///
/// Its id is `experiment/setting/method[/seed]`; its fingerprint hashes the paper name, the
/// id, the configuration and the fingerprints of the jobs it depends on, so a changed
/// configuration (or a changed dependency) invalidates its stored result.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Job {
    /// `experiment/setting/method[/seed]`, unique in the plan.
    pub id: String,
    /// Experiment name (as declared in the paper's [`PaperInfo`](super::PaperInfo)).
    pub experiment: String,
    /// Setting within the experiment (dataset and shift, noise level, ...).
    pub setting: String,
    /// Method (or a run's role, `evaluator`, `sweep:λ=0.1`, ...).
    pub method: String,
    /// Seed, when the job is one seed's run.
    pub seed: Option<u64>,
    /// Ids of the jobs whose results this one reads (they come earlier in the plan).
    pub deps: Vec<String>,
    /// The configuration the job runs with: everything that changes its numbers.
    pub config: Value,
    /// Units of progress (e.g. training steps) the job reports; 1 by default.
    pub weight: u64,
}

impl Job {
    /// A job with an empty configuration, no dependencies and weight 1.
    pub fn new(experiment: &str, setting: &str, method: &str, seed: Option<u64>) -> Self {
        let mut id = format!("{experiment}/{setting}/{method}");
        if let Some(s) = seed {
            id += &format!("/{s}");
        }
        Self {
            id,
            experiment: experiment.into(),
            setting: setting.into(),
            method: method.into(),
            seed,
            deps: Vec::new(),
            config: Value::Null,
            weight: 1,
        }
    }

    /// Sets the configuration (anything serialisable; `null` if it cannot be serialised).
    pub fn config(mut self, config: &impl Serialize) -> Self {
        self.config = serde_json::to_value(config).unwrap_or(Value::Null);
        self
    }

    /// Adds a dependency by id.
    pub fn after(mut self, dep: &str) -> Self {
        self.deps.push(dep.into());
        self
    }

    /// Sets the progress weight (e.g. the job's training steps).
    pub fn weight(mut self, units: u64) -> Self {
        self.weight = units.max(1);
        self
    }

    /// The job's file stem in `<out>/jobs/`: the id with `/` as `~` and any character
    /// outside `[A-Za-z0-9._=+-]` as `_`.
    pub fn file_stem(&self) -> String {
        job_file_stem(&self.id)
    }
}

/// The file stem in `<out>/jobs/` of the job with this id (see [`Job::file_stem`]).
pub fn job_file_stem(id: &str) -> String {
    id.chars()
        .map(|c| match c {
            '/' => '~',
            c if c.is_ascii_alphanumeric() || "._=+-".contains(c) => c,
            _ => '_',
        })
        .collect()
}

/// One slice of a plan: `--shard i/n` runs slice `i` (0-based) of `n`.
///
/// Jobs are sliced by connected groups (a job and everything it depends on, transitively,
/// stay in one slice), assigned round-robin in plan order, so a slice never waits for
/// another one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Shard {
    /// Slice index, `0..count`.
    pub index: usize,
    /// Number of slices.
    pub count: usize,
}

impl FromStr for Shard {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || format!("invalid shard `{s}`: expected i/n with 0 ≤ i < n, e.g. 0/4");
        let (i, n) = s.split_once('/').ok_or_else(bad)?;
        let (index, count) = (
            i.trim().parse::<usize>().map_err(|_| bad())?,
            n.trim().parse::<usize>().map_err(|_| bad())?,
        );
        if count == 0 || index >= count {
            return Err(bad());
        }
        Ok(Self { index, count })
    }
}

impl fmt::Display for Shard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

/// Every job of a reproduction, in an order where dependencies come first.
#[derive(Debug, Clone, Default)]
pub struct Plan {
    paper: String,
    jobs: Vec<Job>,
    index: BTreeMap<String, usize>,
    fingerprints: Vec<String>,
}

impl Plan {
    /// An empty plan for `paper`.
    pub fn new(paper: &str) -> Self {
        Self {
            paper: paper.into(),
            ..Self::default()
        }
    }

    /// The paper's name.
    pub fn paper(&self) -> &str {
        &self.paper
    }

    /// Appends a job and returns its id. Errors if the id (or its file name) is taken or a
    /// dependency is not already in the plan.
    pub fn push(&mut self, job: Job) -> anyhow::Result<String> {
        if self.index.contains_key(&job.id) {
            anyhow::bail!("{}: job `{}` is planned twice", self.paper, job.id);
        }
        let stem = job.file_stem();
        if let Some(other) = self.jobs.iter().find(|j| j.file_stem() == stem) {
            anyhow::bail!(
                "{}: jobs `{}` and `{}` share the file name `{stem}`",
                self.paper,
                other.id,
                job.id
            );
        }
        let mut h = Sha256::new();
        h.update(self.paper.as_bytes());
        h.update([0]);
        h.update(job.id.as_bytes());
        h.update([0]);
        h.update(job.config.to_string().as_bytes());
        for d in &job.deps {
            let i = *self.index.get(d).ok_or_else(|| {
                anyhow::anyhow!(
                    "{}: job `{}` depends on `{d}`, which is not planned before it",
                    self.paper,
                    job.id
                )
            })?;
            h.update([0]);
            h.update(self.fingerprints[i].as_bytes());
        }
        let fp: String = h.finalize()[..12]
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        let id = job.id.clone();
        self.index.insert(id.clone(), self.jobs.len());
        self.jobs.push(job);
        self.fingerprints.push(fp);
        Ok(id)
    }

    /// The jobs, in plan order.
    pub fn jobs(&self) -> &[Job] {
        &self.jobs
    }

    /// Number of jobs.
    pub fn len(&self) -> usize {
        self.jobs.len()
    }

    /// Whether the plan has no job.
    pub fn is_empty(&self) -> bool {
        self.jobs.is_empty()
    }

    /// The job with this id.
    pub fn get(&self, id: &str) -> Option<&Job> {
        self.index.get(id).map(|&i| &self.jobs[i])
    }

    /// Position of a job in the plan.
    pub(crate) fn position(&self, id: &str) -> Option<usize> {
        self.index.get(id).copied()
    }

    /// The fingerprint of job `i` (24 hex digits).
    pub fn fingerprint(&self, i: usize) -> &str {
        &self.fingerprints[i]
    }

    /// Which slice each job belongs to when cut into `count` slices (see [`Shard`]).
    pub fn slices(&self, count: usize) -> Vec<usize> {
        let count = count.max(1);
        // Union-find over dependency edges.
        let mut parent: Vec<usize> = (0..self.jobs.len()).collect();
        fn root(p: &mut [usize], mut i: usize) -> usize {
            while p[i] != i {
                p[i] = p[p[i]];
                i = p[i];
            }
            i
        }
        for (i, j) in self.jobs.iter().enumerate() {
            for d in &j.deps {
                let (a, b) = (root(&mut parent, i), root(&mut parent, self.index[d]));
                if a != b {
                    parent[a.max(b)] = a.min(b);
                }
            }
        }
        let mut group_slice = BTreeMap::new();
        (0..self.jobs.len())
            .map(|i| {
                let r = root(&mut parent, i);
                let next = group_slice.len();
                *group_slice.entry(r).or_insert(next) % count
            })
            .collect()
    }

    /// The positions of the jobs in `shard` (all jobs for `None`).
    pub fn select(&self, shard: Option<Shard>) -> BTreeSet<usize> {
        match shard {
            None => (0..self.jobs.len()).collect(),
            Some(s) => self
                .slices(s.count)
                .into_iter()
                .enumerate()
                .filter(|&(_, k)| k == s.index)
                .map(|(i, _)| i)
                .collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_files_and_dependencies_are_checked() {
        let mut p = Plan::new("demo");
        let a = p.push(Job::new("e", "s", "m", Some(0)).config(&1)).unwrap();
        assert_eq!(a, "e/s/m/0");
        assert_eq!(p.jobs()[0].file_stem(), "e~s~m~0");
        assert!(p.push(Job::new("e", "s", "m", Some(0))).is_err());
        let e = p
            .push(Job::new("e", "s", "n", None).after("nope"))
            .unwrap_err();
        assert!(e.to_string().contains("depends on `nope`"), "{e}");
        // `m?` and `m*` both become `m_` on disk: refused.
        p.push(Job::new("e", "s", "m?", None)).unwrap();
        assert!(p.push(Job::new("e", "s", "m*", None)).is_err());
    }

    #[test]
    fn fingerprints_follow_config_and_dependencies() {
        let build = |cfg_a: i32, cfg_b: i32| {
            let mut p = Plan::new("demo");
            p.push(Job::new("e", "s", "a", None).config(&cfg_a))
                .unwrap();
            p.push(Job::new("e", "s", "b", None).config(&cfg_b).after("e/s/a"))
                .unwrap();
            p.push(Job::new("e", "s", "c", None).config(&0)).unwrap();
            (0..3)
                .map(|i| p.fingerprint(i).to_owned())
                .collect::<Vec<_>>()
        };
        let base = build(1, 1);
        assert_eq!(base, build(1, 1));
        let changed_dep = build(2, 1);
        assert_ne!(base[0], changed_dep[0]);
        assert_ne!(
            base[1], changed_dep[1],
            "a changed dependency invalidates b"
        );
        assert_eq!(base[2], changed_dep[2]);
        assert_ne!(base[1], build(1, 2)[1]);
    }

    #[test]
    fn shards_keep_dependency_groups_together_and_cover_the_plan() {
        let mut p = Plan::new("demo");
        for g in 0..5 {
            let root = p
                .push(Job::new("e", &format!("g{g}"), "train", None))
                .unwrap();
            p.push(Job::new("e", &format!("g{g}"), "eval", None).after(&root))
                .unwrap();
        }
        p.push(Job::new("e", "lone", "x", None)).unwrap();
        let slices = p.slices(3);
        for g in 0..5 {
            assert_eq!(slices[2 * g], slices[2 * g + 1]);
        }
        assert_eq!(slices, vec![0, 0, 1, 1, 2, 2, 0, 0, 1, 1, 2]);
        let all: BTreeSet<usize> = (0..3)
            .flat_map(|i| p.select(Some(Shard { index: i, count: 3 })))
            .collect();
        assert_eq!(all, p.select(None));
    }

    #[test]
    fn shard_flags_parse() {
        assert_eq!(
            "1/4".parse::<Shard>().unwrap(),
            Shard { index: 1, count: 4 }
        );
        for bad in ["4/4", "1", "a/2", "0/0", "-1/2"] {
            assert!(bad.parse::<Shard>().unwrap_err().contains("i/n"), "{bad}");
        }
    }
}
