//! The reproduction's job functions: E1 (collector pipeline on the loopback fixture), E2
//! (labellers on NLBSE'24), E3 (Open-LLM-Failures tables) and E4 (tables of a coded
//! sample and the paper-order check).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use burn::tensor::Device;
use repro_core::data::parsers::llm_failures::FailureRecord;
use repro_core::experiment::Row;
use serde::{Deserialize, Serialize};

use crate::classifier::{
    CvGrid, FastTextConfig, LinearTextConfig, cross_validate_lambda, train_fasttext, train_linear,
};
use crate::collect::{CollectOpts, CollectStats, Issue, IssueCache, collect_closed_issues};
use crate::config::CollectConfig;
use crate::data::{CodedRow, RepoSplit, nlbse_classes};
use crate::eval::{BootstrapCi, ClsReport, classification_report, cohen_kappa, paired_bootstrap};
use crate::fixture::{
    FixtureConfig, FixtureRepo, FixtureResponse, FixtureServer, install_repo, install_search,
    issues_target, page_target,
};
use crate::github::{FakeTime, GithubClient, NetworkPolicy, RepoId};
use crate::label::{Labeller, RuleLabeller};
use crate::paper::{PaperOrder, paper_order_check};
use crate::sample::{allocate, cochran_sample_size, simple_random_sample};
use crate::select::{
    Date, Relevance, RepoFacts, SelectionCriteria, SelectionVerdict, relevance_filter, select,
};
use crate::synthetic::{Truth, synthetic_repo};
use crate::tables::{Contingency, PrevRow, contingency, prevalence};
use crate::taxonomy::{Crosswalk, Level, Taxonomy};
use crate::text::Doc;

/// The discovery query (the paper's keywords).
pub const QUERY: &str = "LLM OR \"large language model\"";

/// The fake clock's start (2024-09-01 00:00 UTC).
const FAKE_EPOCH: u64 = 1_725_148_800;

/// Names of the selected synthetic repositories.
const SELECTED: [(&str, &str); 6] = [
    ("llmforge", "llm-serve"),
    ("openmind", "chat-llm"),
    ("tinyai", "llm-finetune"),
    ("quantlab", "llm-quant"),
    ("ragworks", "rag-llm"),
    ("agentsmith", "llm-agents"),
];

/// One candidate of the E1 world.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Candidate {
    /// `owner/name`.
    pub repo: String,
    /// Stars.
    pub stars: u64,
    /// Contributors.
    pub contributors: u64,
    /// Closed issues.
    pub closed_issues: u64,
    /// Manual LLM-core flag.
    pub llm_core: bool,
    /// Failed rules (empty: selected).
    pub verdict: SelectionVerdict,
}

/// What the E1 job found.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CollectData {
    /// Candidates as discovered, with their verdicts.
    pub candidates: Vec<Candidate>,
    /// Per selected repository: the uninterrupted run's statistics.
    pub stats: Vec<(String, CollectStats)>,
    /// Waits the client made during the uninterrupted run (seconds).
    pub waits: Vec<f64>,
    /// The scripted waits: `(lower, upper)` bounds in seconds, in order.
    pub expected_waits: Vec<(f64, f64)>,
    /// Every scripted wait was honoured, in order.
    pub waits_honoured: bool,
    /// The interrupted run failed as scripted before resuming.
    pub interrupted: bool,
    /// After resuming, every cache file equals the uninterrupted run's bytes.
    pub resume_equal: bool,
    /// A rerun revalidated every page (all 304) and rewrote nothing.
    pub etag_ok: bool,
    /// No pull request reached the cache and every issue did.
    pub prs_excluded: bool,
    /// Issues collected.
    pub issues: usize,
    /// Pull requests skipped.
    pub prs: u64,
    /// Issues kept by the relevance filter.
    pub kept: usize,
    /// Dropped issues per reason.
    pub drops: BTreeMap<String, usize>,
    /// Cochran's n for the kept population.
    pub sample_n: u64,
    /// Proportional allocation of the sample over the repositories.
    pub allocation: Vec<(String, usize)>,
    /// Requests the fixture served.
    pub requests: usize,
    /// The sample coded by the codebook rules (`rules:codebook_v0`).
    pub coded: Vec<CodedRow>,
    /// The generator's categories of the same issues (`generator`).
    pub truth: Vec<CodedRow>,
    /// `(N, n)` of Cochran's formula at the paper's settings: 14 476 and 14 588.
    pub paper_sample_sizes: Vec<(u64, u64)>,
}

/// Rejected candidates: one per rule, in this order.
fn rejected(c: &CollectConfig) -> Vec<(FixtureRepo, bool, &'static str)> {
    let mk = |name: &str, k: u64| synthetic_repo("others", name, 120, 0, c.seed + 100 + k).repo;
    let as_of = Date::parse(&c.as_of).map(|d| d.days()).unwrap_or(0);
    let old = Date::from_days(as_of - 400).to_string() + "T00:00:00Z";
    let mut out = Vec::new();
    let mut r = mk("llm-almost", 0);
    r.meta.stars = 8999;
    out.push((r, true, "stars"));
    let mut r = mk("llm-chat-ui", 1);
    r.meta.description = "A web front-end that calls a hosted LLM API".into();
    out.push((r, false, "llm_core"));
    let mut r = mk("llm-old", 2);
    r.meta.pushed_at = old;
    out.push((r, true, "recency"));
    let mut r = mk("llm-archive", 3);
    r.meta.archived = true;
    out.push((r, true, "archived"));
    let mut r = mk("llm-solo", 4);
    r.contributors = 9;
    out.push((r, true, "contributors"));
    out.truncate(c.rejected.min(5));
    out
}

/// The documents each level is coded from (our operationalisation): the issue from title
/// and body, the cause from the body and every comment but the last, the solution from
/// the last comment.
pub fn level_docs(i: &Issue) -> [Doc; 3] {
    let body = i.body.clone().unwrap_or_default();
    let comments: Vec<String> = i.comments.iter().map(|c| c.body.clone()).collect();
    let (last, rest) = match comments.split_last() {
        Some((l, r)) => (l.clone(), r.to_vec()),
        None => (String::new(), Vec::new()),
    };
    [
        Doc::new(&i.title, &body),
        Doc::new("", &body).with_comments(rest),
        Doc::new("", &last),
    ]
}

fn same_files(a: &std::path::Path, b: &std::path::Path) -> bool {
    let list = |d: &std::path::Path| -> BTreeMap<String, Vec<u8>> {
        let mut m = BTreeMap::new();
        let mut stack = vec![d.to_path_buf()];
        while let Some(p) = stack.pop() {
            for e in std::fs::read_dir(&p).into_iter().flatten().flatten() {
                let path = e.path();
                if path.is_dir() {
                    stack.push(path);
                } else if let Ok(bytes) = std::fs::read(&path) {
                    let rel = path
                        .strip_prefix(d)
                        .map(|r| r.display().to_string())
                        .unwrap_or_default();
                    m.insert(rel, bytes);
                }
            }
        }
        m
    };
    let (x, y) = (list(a), list(b));
    !x.is_empty() && x == y
}

/// E1: serve a synthetic world on loopback, discover, select, collect (with scripted rate
/// limits, an interruption and a resume, then an ETag revalidation), filter, size and draw
/// the sample, and code it with the codebook rules.
pub fn run_collect(c: &CollectConfig) -> anyhow::Result<(Vec<Row>, CollectData)> {
    anyhow::ensure!(
        (1..=SELECTED.len()).contains(&c.selected),
        "collect.selected = {} must be in 1..={}",
        c.selected,
        SELECTED.len()
    );
    let time = Arc::new(FakeTime::new(FAKE_EPOCH));
    let server = FixtureServer::start_with_clock(
        FixtureConfig {
            max_requests: 100_000,
            max_duration: Duration::from_secs(600),
        },
        time.clone(),
    )
    .context("cannot start the loopback fixture server")?;
    let chosen_world: Vec<_> = SELECTED[..c.selected]
        .iter()
        .enumerate()
        .map(|(k, (o, n))| {
            synthetic_repo(o, n, c.items_per_repo, c.prs_per_repo, c.seed + k as u64)
        })
        .collect();
    let others = rejected(c);
    let mut flags: BTreeMap<RepoId, bool> = BTreeMap::new();
    let mut metas = Vec::new();
    let mut truth_by: BTreeMap<(String, u64), Truth> = BTreeMap::new();
    let mut pr_numbers: BTreeSet<(String, u64)> = BTreeSet::new();
    let mut n_issues = 0usize;
    for s in &chosen_world {
        install_repo(&server, &s.repo, c.per_page);
        flags.insert(s.repo.meta.id.clone(), true);
        metas.push(s.repo.meta.clone());
        n_issues += s.repo.issue_count();
        for (n, t) in &s.truth {
            truth_by.insert((s.repo.meta.id.to_string(), *n), t.clone());
        }
        for it in s
            .repo
            .items
            .iter()
            .filter(|i| i.get("pull_request").is_some())
        {
            pr_numbers.insert((
                s.repo.meta.id.to_string(),
                it["number"].as_u64().unwrap_or(0),
            ));
        }
    }
    for (r, core, _) in &others {
        install_repo(&server, r, c.per_page);
        flags.insert(r.meta.id.clone(), *core);
        metas.push(r.meta.clone());
    }
    metas.sort_by(|a, b| b.stars.cmp(&a.stars).then_with(|| a.id.cmp(&b.id)));
    install_search(&server, QUERY, &metas, 100);

    let client = GithubClient::new(&server.base_url(), NetworkPolicy::LoopbackOnly)?
        .with_time(time.clone(), time.clone())
        .with_jitter_seed(c.seed)
        .with_max_retries(c.max_retries);
    // Discover and select.
    let found = client.search_repos(QUERY, 1000)?;
    let mut facts = Vec::new();
    for m in &found {
        let meta = client.repo_meta(&m.id.owner, &m.id.name)?;
        facts.push(RepoFacts {
            contributors: client.contributors_count(&m.id.owner, &m.id.name)?,
            closed_issues: client.closed_issue_count(&m.id.owner, &m.id.name)?,
            llm_core: flags.get(&m.id).copied().unwrap_or(false),
            meta,
        });
    }
    let as_of = Date::parse(&c.as_of).map_err(anyhow::Error::msg)?;
    let verdicts = select(&facts, &SelectionCriteria::paper(as_of));
    let candidates: Vec<Candidate> = facts
        .iter()
        .zip(&verdicts)
        .map(|(f, (_, v))| Candidate {
            repo: f.meta.id.to_string(),
            stars: f.meta.stars,
            contributors: f.contributors,
            closed_issues: f.closed_issues,
            llm_core: f.llm_core,
            verdict: v.clone(),
        })
        .collect();
    let chosen: Vec<RepoId> = verdicts
        .iter()
        .filter(|(_, v)| v.accepted())
        .map(|(r, _)| r.clone())
        .collect();
    let expected: BTreeSet<RepoId> = chosen_world
        .iter()
        .map(|s| s.repo.meta.id.clone())
        .collect();
    anyhow::ensure!(
        chosen.iter().cloned().collect::<BTreeSet<_>>() == expected,
        "fixture selection went wrong: selected {chosen:?}, expected {expected:?} (verdicts: {verdicts:?})"
    );

    let opts = CollectOpts {
        per_page: c.per_page,
        ..CollectOpts::default()
    };
    let first = |r: &RepoId| issues_target(&r.owner, &r.name, c.per_page);
    let pages = c.items_per_repo.div_ceil(c.per_page.max(1)).max(1);
    // Scripted waits on the uninterrupted run.
    let mut expected_waits = Vec::new();
    if pages >= 2 {
        server.script(
            &page_target(&first(&chosen[0]), 2),
            FixtureResponse::status(403)
                .header("x-ratelimit-remaining", "0")
                .header("x-ratelimit-reset", "{now+120}"),
        );
        expected_waits.push((121.0, 121.0));
    }
    if pages >= 3 {
        server.script(
            &page_target(&first(&chosen[0]), 3),
            FixtureResponse::status(429).header("retry-after", "7"),
        );
        expected_waits.push((7.0, 7.0));
    }
    let other = &chosen[1 % chosen.len()];
    for a in 0..2 {
        server.script(&first(other), FixtureResponse::status(502));
        let base = f64::from(1u32 << a);
        expected_waits.push((base, base + 1.0));
    }
    // The scripts are consumed in request order: repo 0's pages come first.
    if chosen.len() == 1 {
        expected_waits.rotate_right(2);
    }
    let dir_a = repro_core::testing::TempDir::new("llm-issues-e1-a");
    let dir_b = repro_core::testing::TempDir::new("llm-issues-e1-b");
    let cache_a = IssueCache::new(dir_a.path());
    let cache_b = IssueCache::new(dir_b.path());
    time.clear_waits();
    let mut stats = Vec::new();
    for r in &chosen {
        stats.push((
            r.to_string(),
            collect_closed_issues(&client, r, &cache_a, &opts)?,
        ));
    }
    let waits: Vec<f64> = time.waits().iter().map(Duration::as_secs_f64).collect();
    let waits_honoured = waits.len() == expected_waits.len()
        && waits.iter().zip(&expected_waits).all(|(w, (lo, hi))| {
            if lo == hi {
                (w - lo).abs() < 1e-9
            } else {
                (*lo..*hi).contains(w)
            }
        });
    // The interrupted run: every attempt at the last page of repo 0 is dropped.
    for _ in 0..=c.max_retries {
        server.script(
            &page_target(&first(&chosen[0]), pages),
            FixtureResponse::dropped(),
        );
    }
    let mut interrupted = false;
    for r in &chosen {
        match collect_closed_issues(&client, r, &cache_b, &opts) {
            Ok(_) => {}
            Err(_) if r == &chosen[0] && !interrupted => {
                interrupted = true;
                collect_closed_issues(&client, r, &cache_b, &opts)?;
            }
            Err(e) => return Err(e.into()),
        }
    }
    let resume_equal = chosen
        .iter()
        .all(|r| same_files(&cache_a.repo_dir(r), &cache_b.repo_dir(r)));
    // Revalidation: all 304, nothing rewritten.
    let mut etag_ok = true;
    for (r, (_, s0)) in chosen.iter().zip(&stats) {
        let s = collect_closed_issues(&client, r, &cache_a, &opts)?;
        etag_ok &= s.pages_fetched == 0 && !s.rewritten && s.pages_not_modified == s0.pages_fetched;
    }
    // Issues, pull requests excluded.
    let mut issues: Vec<Issue> = Vec::new();
    for r in &chosen {
        issues.extend(cache_a.load_issues(r)?);
    }
    let prs: u64 = stats.iter().map(|(_, s)| s.prs_skipped).sum();
    let prs_excluded = issues.len() == n_issues
        && prs as usize == c.prs_per_repo * chosen.len()
        && issues
            .iter()
            .all(|i| !pr_numbers.contains(&(i.repo.to_string(), i.number)));
    // Relevance, sample size, sample.
    let mut drops: BTreeMap<String, usize> = BTreeMap::new();
    let kept: Vec<Issue> = issues
        .iter()
        .filter(|i| match relevance_filter(i) {
            Relevance::Keep => true,
            Relevance::Drop(r) => {
                *drops.entry(r.to_string()).or_default() += 1;
                false
            }
        })
        .cloned()
        .collect();
    let sample_n = cochran_sample_size(kept.len() as u64, c.z, c.margin, c.p)?;
    let sample = simple_random_sample(&kept, sample_n as usize, c.seed)?;
    let sizes: Vec<usize> = chosen
        .iter()
        .map(|r| kept.iter().filter(|i| &i.repo == r).count())
        .collect();
    let allocation = chosen
        .iter()
        .map(ToString::to_string)
        .zip(allocate(&sizes, sample_n as usize)?)
        .collect();
    // Code the sample.
    let v0 = Taxonomy::builtin("codebook_v0")?;
    let rules: Vec<RuleLabeller> = Level::ALL
        .iter()
        .map(|&l| RuleLabeller::from_taxonomy(&v0, l))
        .collect::<Result<_, _>>()?;
    let mut coded = Vec::new();
    let mut truth = Vec::new();
    for i in &sample {
        let docs = level_docs(i);
        let t = truth_by.get(&(i.repo.to_string(), i.number));
        for (k, level) in Level::ALL.into_iter().enumerate() {
            let row = |label: String, coder: &str| CodedRow {
                repo: i.repo.to_string(),
                number: i.number,
                url: i.url(),
                level,
                label,
                coder: coder.into(),
            };
            coded.push(row(
                rules[k].classes()[rules[k].label(&docs[k])].clone(),
                "rules:codebook_v0",
            ));
            if let Some(t) = t {
                truth.push(row(t[k].clone(), "generator"));
            }
        }
    }
    let paper_sample_sizes = [crate::paper::RELEVANT_ISSUES, crate::paper::CLOSED_ISSUES]
        .iter()
        .map(|&n| Ok((n, cochran_sample_size(n, 1.96, 0.03, 0.5)?)))
        .collect::<Result<Vec<_>, crate::sample::SampleError>>()?;
    let data = CollectData {
        candidates,
        waits,
        expected_waits,
        waits_honoured,
        interrupted,
        resume_equal,
        etag_ok,
        prs_excluded,
        issues: issues.len(),
        prs,
        kept: kept.len(),
        drops,
        sample_n,
        allocation,
        requests: server.requests().len(),
        coded,
        truth,
        paper_sample_sizes,
        stats,
    };
    let b = |x: bool| f64::from(u8::from(x));
    let row = Row::new(crate::reproduce::COLLECT, "fixture", "pipeline", None)
        .metric("candidates", data.candidates.len() as f64)
        .metric("selected", chosen.len() as f64)
        .metric("issues", data.issues as f64)
        .metric("prs_skipped", data.prs as f64)
        .metric("kept", data.kept as f64)
        .metric("sample_n", data.sample_n as f64)
        .metric("requests", data.requests as f64)
        .metric("waits", data.waits.len() as f64)
        .metric("waits_honoured", b(data.waits_honoured))
        .metric("resume_equal", b(data.resume_equal && data.interrupted))
        .metric("etag_ok", b(data.etag_ok))
        .metric("prs_excluded", b(data.prs_excluded));
    Ok((vec![row], data))
}

/// One labeller's test predictions on one repository.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Predictions {
    /// Repository.
    pub repo: String,
    /// `rules`, `linear`, `fasttext`.
    pub method: String,
    /// Seed (`None` for the rules).
    pub seed: Option<u64>,
    /// Gold test labels.
    pub gold: Vec<usize>,
    /// Predicted test labels.
    pub pred: Vec<usize>,
    /// The report.
    pub report: ClsReport,
    /// λ used (linear).
    pub lambda: Option<f64>,
    /// Top-weighted n-grams per class (full profile).
    pub top_ngrams: Vec<Vec<(String, f32)>>,
    /// First and last training loss (linear).
    pub loss_first_last: Option<(f64, f64)>,
}

fn report_rows(p: &Predictions) -> Vec<Row> {
    let classes = nlbse_classes();
    let mut row = Row::new(crate::reproduce::NLBSE, &p.repo, &p.method, p.seed)
        .metric("macro_f1", p.report.macro_f1)
        .metric("micro_f1", p.report.micro_f1)
        .metric("accuracy", p.report.accuracy)
        .metric("macro_precision", p.report.macro_precision)
        .metric("macro_recall", p.report.macro_recall);
    for (c, m) in classes.iter().zip(&p.report.per_class) {
        row = row
            .metric(&format!("{c}_precision"), m.precision)
            .metric(&format!("{c}_recall"), m.recall)
            .metric(&format!("{c}_f1"), m.f1);
    }
    vec![row]
}

/// E2, rules on one repository's test set.
pub fn run_rules(split: &RepoSplit) -> anyhow::Result<(Vec<Row>, Predictions)> {
    let rules = RuleLabeller::nlbse();
    let pred = rules.label_all(&split.test_docs);
    let report = classification_report(&split.test_y, &pred, 3)?;
    let p = Predictions {
        repo: split.repo.clone(),
        method: "rules".into(),
        seed: None,
        gold: split.test_y.clone(),
        pred,
        report,
        lambda: None,
        top_ngrams: Vec::new(),
        loss_first_last: None,
    };
    Ok((report_rows(&p), p))
}

/// E2, the λ chosen by cross-validation on one repository's training set (seed 0).
pub fn run_cv(
    split: &RepoSplit,
    cfg: &LinearTextConfig,
    lambdas: &[f64],
    folds: usize,
    device: &Device,
) -> anyhow::Result<(f64, Vec<(f64, f64)>)> {
    let spec = CvGrid {
        lambdas: lambdas.to_vec(),
        folds,
        seed: 0,
    };
    let grid = cross_validate_lambda(
        cfg,
        &split.train_docs,
        &split.train_y,
        &nlbse_classes(),
        &spec,
        device,
    )?;
    // Highest mean macro-F1; ties to the earlier λ of the grid.
    let best = grid
        .iter()
        .fold(None::<(f64, f64)>, |b, &(l, f)| match b {
            Some((_, bf)) if bf >= f => b,
            _ => Some((l, f)),
        })
        .map_or(cfg.lambda, |b| b.0);
    Ok((best, grid))
}

/// E2, the linear classifier trained on one repository with `seed`.
pub fn run_linear(
    split: &RepoSplit,
    cfg: &LinearTextConfig,
    top_ngrams: usize,
    device: &Device,
    seed: u64,
) -> anyhow::Result<(Vec<Row>, Predictions)> {
    let classes = nlbse_classes();
    let m = train_linear(
        cfg,
        &split.train_docs,
        &split.train_y,
        &classes,
        device,
        seed,
    )?;
    let pred = m.label_all(&split.test_docs);
    let report = classification_report(&split.test_y, &pred, 3)?;
    let p = Predictions {
        repo: split.repo.clone(),
        method: "linear".into(),
        seed: Some(seed),
        gold: split.test_y.clone(),
        pred,
        report,
        lambda: Some(cfg.lambda),
        top_ngrams: if top_ngrams > 0 {
            (0..classes.len())
                .map(|c| m.top_features(c, top_ngrams))
                .collect()
        } else {
            Vec::new()
        },
        loss_first_last: Some((
            m.losses.first().copied().unwrap_or(f64::NAN),
            m.losses.last().copied().unwrap_or(f64::NAN),
        )),
    };
    Ok((report_rows(&p), p))
}

/// E2, the fastText-style classifier on one repository with `seed`.
pub fn run_fasttext(
    split: &RepoSplit,
    cfg: &FastTextConfig,
    device: &Device,
    seed: u64,
) -> anyhow::Result<(Vec<Row>, Predictions)> {
    let m = train_fasttext(
        cfg,
        &split.train_docs,
        &split.train_y,
        &nlbse_classes(),
        device,
        seed,
    )?;
    let pred = m.predict(&split.test_docs);
    let report = classification_report(&split.test_y, &pred, 3)?;
    let p = Predictions {
        repo: split.repo.clone(),
        method: "fasttext".into(),
        seed: Some(seed),
        gold: split.test_y.clone(),
        pred,
        report,
        lambda: None,
        top_ngrams: Vec::new(),
        loss_first_last: None,
    };
    Ok((report_rows(&p), p))
}

/// E2, the paired bootstrap of `F1_overall(linear, seed) − F1_overall(rules)` with test
/// issues resampled within repositories (bootstrap generator seed 0).
pub fn run_bootstrap(
    linear: &[&Predictions],
    rules: &[&Predictions],
    resamples: usize,
    seed: u64,
) -> anyhow::Result<(Vec<Row>, BootstrapCi)> {
    let mut gold = Vec::new();
    let mut a = Vec::new();
    let mut b = Vec::new();
    let mut strata = Vec::new();
    for (k, l) in linear.iter().enumerate() {
        let r = rules
            .iter()
            .find(|r| r.repo == l.repo)
            .with_context(|| format!("no rules predictions for {}", l.repo))?;
        anyhow::ensure!(
            r.gold == l.gold,
            "{}: gold labels differ between jobs",
            l.repo
        );
        gold.extend(&l.gold);
        a.extend(&l.pred);
        b.extend(&r.pred);
        strata.extend(std::iter::repeat_n(k, l.gold.len()));
    }
    let ci = paired_bootstrap(&gold, &a, &b, &strata, 3, resamples, 0)?;
    let overall =
        linear.iter().map(|p| p.report.macro_f1).sum::<f64>() / linear.len().max(1) as f64;
    let rows = vec![
        Row::new(crate::reproduce::NLBSE, "overall", "linear", Some(seed))
            .metric("macro_f1", overall),
        Row::new(crate::reproduce::NLBSE, "overall", "bootstrap", Some(seed))
            .metric("d_observed", ci.observed)
            .metric("d_lo", ci.lo)
            .metric("d_hi", ci.hi),
    ];
    Ok((rows, ci))
}

/// E3's tables.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FailuresData {
    /// Whether the records were synthetic (no mirror in this profile).
    pub synthetic: bool,
    /// Records.
    pub n: usize,
    /// Closed records.
    pub n_closed: usize,
    /// Distinct links.
    pub links: usize,
    /// Repositories.
    pub repositories: usize,
    /// Prevalence tables by name (`symptom`, `symptom_closed`, `root_cause`, ...).
    pub prevalence: BTreeMap<String, Vec<PrevRow>>,
    /// SYMPTOM (top level) × ROOT CAUSE (top level), all records.
    pub symptom_root_cause: Contingency,
    /// Root causes under the cross-walk (codebook_v0 causes), all and closed.
    pub crosswalk: BTreeMap<String, Vec<PrevRow>>,
}

/// E3: prevalence and contingency tables of Open-LLM-Failures and the cross-walk.
///
/// # Errors
/// A root-cause category without a cross-walk entry (naming the label and the file).
pub fn run_failures(
    records: &[FailureRecord],
    synthetic: bool,
    z: f64,
) -> anyhow::Result<(Vec<Row>, FailuresData)> {
    anyhow::ensure!(!records.is_empty(), "no Open-LLM-Failures records");
    let closed: Vec<&FailureRecord> = records.iter().filter(|r| r.status == "closed").collect();
    let all: Vec<&FailureRecord> = records.iter().collect();
    type Field = fn(&FailureRecord) -> String;
    let fields: [(&str, Field); 7] = [
        ("symptom", |r| r.symptom_parts().category.to_owned()),
        ("symptom_sub", |r| {
            let s = r.symptom_parts();
            format!("{} - {}", s.category, s.subcategory)
        }),
        ("root_cause", |r| r.root_cause_parts().category.to_owned()),
        ("root_cause_sub", |r| {
            let s = r.root_cause_parts();
            format!("{} - {}", s.category, s.subcategory)
        }),
        ("stage", |r| r.stage.clone()),
        ("model", |r| r.model.clone()),
        ("architecture", |r| r.architecture.clone()),
    ];
    let mut prev = BTreeMap::new();
    for (name, f) in fields {
        prev.insert(
            name.to_owned(),
            prevalence(&all.iter().map(|r| f(r)).collect::<Vec<_>>(), z)?,
        );
        if matches!(name, "symptom" | "root_cause" | "stage") && !closed.is_empty() {
            prev.insert(
                format!("{name}_closed"),
                prevalence(&closed.iter().map(|r| f(r)).collect::<Vec<_>>(), z)?,
            );
        }
    }
    prev.insert(
        "status".into(),
        prevalence(&all.iter().map(|r| r.status.clone()).collect::<Vec<_>>(), z)?,
    );
    let sym: Vec<String> = all
        .iter()
        .map(|r| r.symptom_parts().category.to_owned())
        .collect();
    let cause: Vec<String> = all
        .iter()
        .map(|r| r.root_cause_parts().category.to_owned())
        .collect();
    let table = contingency(&sym, &cause)?;
    let cw = Crosswalk::builtin_olf_v0()?;
    cw.validate_against(&Taxonomy::builtin("codebook_v0")?)?;
    let map = |rs: &[&FailureRecord]| -> anyhow::Result<Vec<String>> {
        rs.iter()
            .map(|r| Ok(cw.map(r.root_cause_parts().category)?.to_owned()))
            .collect()
    };
    let mut crosswalk = BTreeMap::new();
    crosswalk.insert("all".to_owned(), prevalence(&map(&all)?, z)?);
    if !closed.is_empty() {
        crosswalk.insert("closed".to_owned(), prevalence(&map(&closed)?, z)?);
    }
    let links: BTreeSet<&str> = records.iter().map(|r| r.link.as_str()).collect();
    let repos: BTreeSet<&str> = records
        .iter()
        .filter_map(FailureRecord::repository)
        .collect();
    let mut rows = Vec::new();
    for (name, table) in prev.iter().chain(crosswalk.iter()) {
        for r in table {
            rows.push(
                Row::new(crate::reproduce::FAILURES, name, &r.label, None)
                    .metric("count", r.count as f64),
            );
        }
    }
    rows.push(
        Row::new(
            crate::reproduce::FAILURES,
            "symptom_x_root_cause",
            "chi2",
            None,
        )
        .metric("chi2", table.chi2)
        .metric("dof", table.dof as f64)
        .metric("p", table.p)
        .metric("cramers_v", table.cramers_v)
        .metric("frac_expected_below_5", table.frac_expected_below_5),
    );
    Ok((
        rows,
        FailuresData {
            synthetic,
            n: records.len(),
            n_closed: closed.len(),
            links: links.len(),
            repositories: repos.len(),
            prevalence: prev,
            symptom_root_cause: table,
            crosswalk,
        },
    ))
}

/// E4's tables.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CodedData {
    /// Coded items.
    pub items: usize,
    /// Coder.
    pub coder: String,
    /// Prevalence per level.
    pub prevalence: BTreeMap<Level, Vec<PrevRow>>,
    /// Repository × category per level.
    pub per_project: BTreeMap<Level, Contingency>,
    /// Issue × cause.
    pub issue_cause: Contingency,
    /// Cause × solution.
    pub cause_solution: Contingency,
    /// κ of the coder against the generator's categories, per level (`None`: undefined).
    pub kappa: BTreeMap<Level, Option<f64>>,
    /// The L4 check on `cai2025.toml`.
    pub paper_order: PaperOrder,
}

/// Labels of one level, keyed by issue, in key order.
fn by_issue(rows: &[CodedRow], level: Level) -> BTreeMap<(String, u64), String> {
    rows.iter()
        .filter(|r| r.level == level)
        .map(|r| ((r.repo.clone(), r.number), r.label.clone()))
        .collect()
}

/// E4: prevalence per level, the issue × cause and cause × solution tables, per-project
/// tables and κ against a second coder, plus the paper-order check (L4).
pub fn run_coded(
    coded: &[CodedRow],
    second: &[CodedRow],
    z: f64,
) -> anyhow::Result<(Vec<Row>, CodedData)> {
    anyhow::ensure!(!coded.is_empty(), "empty sample: no coded rows");
    let levels: BTreeMap<Level, BTreeMap<(String, u64), String>> = Level::ALL
        .iter()
        .map(|&l| (l, by_issue(coded, l)))
        .collect();
    let keys: Vec<(String, u64)> = levels[&Level::Issue].keys().cloned().collect();
    for l in Level::ALL {
        anyhow::ensure!(
            levels[&l].len() == keys.len() && levels[&l].keys().eq(keys.iter()),
            "the coded sample does not code every issue at the {l} level"
        );
    }
    let col = |l: Level| {
        keys.iter()
            .map(|k| levels[&l][k].clone())
            .collect::<Vec<_>>()
    };
    let mut prevalence_t = BTreeMap::new();
    let mut per_project = BTreeMap::new();
    let repos: Vec<String> = keys.iter().map(|k| k.0.clone()).collect();
    let mut rows = Vec::new();
    for l in Level::ALL {
        let p = prevalence(&col(l), z)?;
        for r in &p {
            rows.push(
                Row::new(crate::reproduce::CODED, l.as_str(), &r.label, None)
                    .metric("count", r.count as f64),
            );
        }
        prevalence_t.insert(l, p);
        per_project.insert(l, contingency(&repos, &col(l))?);
    }
    let issue_cause = contingency(&col(Level::Issue), &col(Level::Cause))?;
    let cause_solution = contingency(&col(Level::Cause), &col(Level::Solution))?;
    let mut kappa = BTreeMap::new();
    for l in Level::ALL {
        let other = by_issue(second, l);
        let shared: Vec<&(String, u64)> = keys.iter().filter(|k| other.contains_key(*k)).collect();
        if shared.is_empty() {
            continue;
        }
        let names: Vec<String> = shared
            .iter()
            .flat_map(|k| [levels[&l][*k].clone(), other[*k].clone()])
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        let idx = |s: &String| names.iter().position(|n| n == s).unwrap_or(0);
        let a: Vec<usize> = shared.iter().map(|k| idx(&levels[&l][*k])).collect();
        let b: Vec<usize> = shared.iter().map(|k| idx(&other[*k])).collect();
        let k = cohen_kappa(&a, &b, names.len())?;
        rows.push(
            Row::new(crate::reproduce::CODED, l.as_str(), "kappa", None)
                .metric("kappa", k.unwrap_or(f64::NAN)),
        );
        kappa.insert(l, k);
    }
    let paper_order = paper_order_check(&Taxonomy::builtin("cai2025")?);
    Ok((
        rows,
        CodedData {
            items: keys.len(),
            coder: coded[0].coder.clone(),
            prevalence: prevalence_t,
            per_project,
            issue_cause,
            cause_solution,
            kappa,
            paper_order,
        },
    ))
}
