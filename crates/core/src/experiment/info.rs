//! A paper's descriptor: its experiments and claims, declared once.

use serde::{Deserialize, Serialize};

use crate::report::{Claim, Options, Report, Verdict};

/// One experiment a paper can run, selectable with `--only NAME`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExperimentInfo {
    /// Name on the command line (`--only NAME`).
    pub name: &'static str,
    /// One line on what it runs.
    pub about: &'static str,
}

/// A pre-registered claim: what the paper says, the pass criterion, and the experiments
/// whose results decide it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClaimInfo {
    /// `C1`, `G4a`, ...
    pub id: &'static str,
    /// What the paper says, in one sentence.
    pub statement: &'static str,
    /// The pass criterion, fixed before running.
    pub criterion: &'static str,
    /// Experiments that must have run for the claim to be decided.
    pub experiments: &'static [&'static str],
}

/// Everything `cargo xtask list`, `--only` validation and the report need to know about a
/// paper, declared once by its crate.
#[derive(Debug, Clone, Copy)]
pub struct PaperInfo {
    /// Crate folder name, used on the command line (`graph-ood`).
    pub name: &'static str,
    /// Title, venue and year.
    pub title: &'static str,
    /// The experiments `--only` can select, in the paper's order.
    pub experiments: &'static [ExperimentInfo],
    /// The claims, in the paper's order (the report lists them in this order).
    pub claims: &'static [ClaimInfo],
}

impl PaperInfo {
    /// The experiment names.
    pub fn experiment_names(&self) -> Vec<&'static str> {
        self.experiments.iter().map(|e| e.name).collect()
    }

    /// Checks `--only` against the declared experiments: a typo is a clear error naming the
    /// paper and the experiments it has.
    pub fn check_only(&self, opts: &Options) -> anyhow::Result<()> {
        for o in &opts.only {
            if !self.experiments.iter().any(|e| e.name == o) {
                anyhow::bail!(
                    "unknown experiment `{o}` for --only: {} has {}",
                    self.name,
                    self.experiment_names().join(", ")
                );
            }
        }
        Ok(())
    }

    /// Whether experiment `name` runs: selected with `--only`, or part of the profile's
    /// default set (`by_default`) when nothing was selected.
    ///
    /// # Panics
    /// If `name` is not a declared experiment (a programming error of the paper crate).
    pub fn runs(&self, opts: &Options, name: &str, by_default: bool) -> bool {
        assert!(
            self.experiments.iter().any(|e| e.name == name),
            "{}: experiment `{name}` is not declared",
            self.name
        );
        if opts.only.is_empty() {
            by_default
        } else {
            opts.selects(name)
        }
    }

    /// The declared claim `id`.
    ///
    /// # Panics
    /// If `id` is not declared (a programming error of the paper crate).
    pub fn claim_info(&self, id: &str) -> &'static ClaimInfo {
        self.claims
            .iter()
            .find(|c| c.id == id)
            .unwrap_or_else(|| panic!("{}: claim `{id}` is not declared", self.name))
    }

    /// A claim to measure and decide, with the declared statement and criterion.
    pub fn claim(&self, id: &str) -> Claim {
        let c = self.claim_info(id);
        Claim::new(c.id, c.statement, c.criterion)
    }

    /// Puts the decided claims in declared order and fills the gaps: a declared claim one
    /// of whose experiments did not run (`ran` says which did) is `inconclusive` with the
    /// experiments named; any other declared claim missing from `decided` is an error.
    pub fn finish_claims(
        &self,
        decided: Vec<Claim>,
        ran: impl Fn(&str) -> bool,
    ) -> anyhow::Result<Vec<Claim>> {
        let mut decided = decided;
        let mut out = Vec::with_capacity(self.claims.len());
        for info in self.claims {
            let missing: Vec<&str> = info
                .experiments
                .iter()
                .copied()
                .filter(|e| !ran(e))
                .collect();
            let pos = decided.iter().position(|c| c.id == info.id);
            if !missing.is_empty() {
                out.push(
                    Claim::new(info.id, info.statement, info.criterion)
                        .measure(
                            "note",
                            format!(
                                "not run: experiment{} {} not selected",
                                if missing.len() > 1 { "s" } else { "" },
                                missing
                                    .iter()
                                    .map(|m| format!("`{m}`"))
                                    .collect::<Vec<_>>()
                                    .join(", ")
                            ),
                        )
                        .with_verdict(Verdict::Inconclusive),
                );
                if let Some(p) = pos {
                    decided.remove(p);
                }
                continue;
            }
            match pos {
                Some(p) => out.push(decided.remove(p)),
                None => anyhow::bail!("{}: claim {} was not decided", self.name, info.id),
            }
        }
        if let Some(extra) = decided.first() {
            anyhow::bail!("{}: claim {} is not declared", self.name, extra.id);
        }
        Ok(out)
    }
}

/// What a paper crate exports for the xtask: its descriptor and its reproduction.
#[derive(Debug, Clone, Copy)]
pub struct Paper {
    /// The descriptor.
    pub info: &'static PaperInfo,
    /// Runs the reproduction (or this shard of it).
    pub reproduce: fn(&Options) -> anyhow::Result<Outcome>,
}

/// A shard's run, or a resumed run still missing jobs: what ran and what is left.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PartialRun {
    /// Paper name.
    pub paper: String,
    /// Jobs of the plan.
    pub planned: usize,
    /// Jobs run by this invocation.
    pub ran: usize,
    /// Finished jobs read back from the output folder.
    pub reused: usize,
    /// Jobs of the plan without a result yet (other shards' or not yet run), by id.
    pub missing: Vec<String>,
}

/// What a reproduction returns: the report, or (for a shard) what it ran.
#[derive(Debug, Clone)]
pub enum Outcome {
    /// Every job of the plan had a result: the report.
    Report(Box<Report>),
    /// This invocation ran a slice of the plan; `cargo xtask report` merges the slices.
    Partial(PartialRun),
}

impl Outcome {
    /// The report, or an error naming the missing jobs.
    pub fn into_report(self) -> anyhow::Result<Report> {
        match self {
            Self::Report(r) => Ok(*r),
            Self::Partial(p) => anyhow::bail!(
                "{}: {} of {} jobs have no result yet (first: {})",
                p.paper,
                p.missing.len(),
                p.planned,
                p.missing.first().map_or("none", String::as_str)
            ),
        }
    }
}

impl From<Report> for Outcome {
    fn from(r: Report) -> Self {
        Self::Report(Box::new(r))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::Profile;

    static INFO: PaperInfo = PaperInfo {
        name: "demo",
        title: "Demo",
        experiments: &[
            ExperimentInfo {
                name: "a",
                about: "first",
            },
            ExperimentInfo {
                name: "b",
                about: "second",
            },
        ],
        claims: &[
            ClaimInfo {
                id: "C1",
                statement: "s1",
                criterion: "k1",
                experiments: &["a"],
            },
            ClaimInfo {
                id: "C2",
                statement: "s2",
                criterion: "k2",
                experiments: &["a", "b"],
            },
        ],
    };

    #[test]
    fn only_typos_are_errors_naming_the_experiments() {
        let mut opts = Options::new(Profile::Smoke);
        opts.only = vec!["a".into(), "bb".into()];
        let e = INFO.check_only(&opts).unwrap_err().to_string();
        assert!(e.contains("`bb`") && e.contains("a, b"), "{e}");
        opts.only = vec!["b".into()];
        INFO.check_only(&opts).unwrap();
        assert!(INFO.runs(&opts, "b", false));
        assert!(!INFO.runs(&opts, "a", true));
        opts.only.clear();
        assert!(INFO.runs(&opts, "a", true) && !INFO.runs(&opts, "b", false));
    }

    #[test]
    fn claims_of_unselected_experiments_are_inconclusive_and_ordered() {
        let c1 = INFO.claim("C1").measure("x", 1.0).decide(true);
        let c2 = INFO.claim("C2").measure("x", 1.0).decide(true);
        // Both ran: declared order whatever the order given.
        let all = INFO
            .finish_claims(vec![c2.clone(), c1.clone()], |_| true)
            .unwrap();
        assert_eq!(all[0].id, "C1");
        assert_eq!(all[1].verdict, Verdict::Reproduced);
        // `b` did not run: C2 is inconclusive with the reason, even if it was decided.
        let some = INFO
            .finish_claims(vec![c1.clone(), c2], |e| e == "a")
            .unwrap();
        assert_eq!(some[1].verdict, Verdict::Inconclusive);
        assert_eq!(
            some[1].measured["note"],
            "not run: experiment `b` not selected"
        );
        // A claim that should have been decided and was not is an error.
        let e = INFO.finish_claims(vec![c1], |_| true).unwrap_err();
        assert!(e.to_string().contains("C2 was not decided"), "{e}");
    }
}
