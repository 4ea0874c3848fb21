//! Synthetic data made by this crate, never taken from a real project: LLM-project issues
//! in GitHub's JSON shape for the fixture server (with the category each was generated
//! from, so a labeller's agreement with it can be measured), a three-class issue set for
//! the smoke profile, and Open-LLM-Failures-shaped records on the data's label names.
//!
//! Every text is filled from the templates below by a seeded [`SplitMix64`] stream, so the
//! same seed gives byte-identical repositories.
//!
//! ```
//! use repro_llm_issues::synthetic::fixture_repo;
//! let r = fixture_repo("acme", "llm-chat", 30, 4, 1);
//! assert_eq!(r.items.len(), 30);
//! assert_eq!(r.issue_count(), 26);
//! assert_eq!(r, fixture_repo("acme", "llm-chat", 30, 4, 1));
//! ```

use std::collections::BTreeMap;

use repro_core::data::parsers::llm_failures::FailureRecord;
use repro_core::rng::{SplitMix64, stream};
use serde_json::{Value, json};

use crate::fixture::FixtureRepo;
use crate::github::{RepoId, RepoMeta};
use crate::text::Doc;

/// Issue categories of codebook_v0 with their templates and weights.
const ISSUES: [(&str, f64, &[&str], &[&str]); 8] = [
    (
        "Model Issue",
        0.30,
        &[
            "Model outputs gibberish after loading {model}",
            "{model} hallucinates answers",
            "Fine-tuning {model} with LoRA diverges",
            "Cannot load {model} gguf weights",
        ],
        &[
            "After converting the checkpoint to gguf the output quality is bad.",
            "The model repeats itself and gives wrong answers.",
            "Loss goes to NaN after 100 steps of fine-tuning.",
        ],
    ),
    (
        "Installation & Dependency",
        0.12,
        &[
            "pip install fails on {os}",
            "ImportError: No module named {pkg}",
            "Build fails with {pkg} version conflict",
        ],
        &[
            "Installation fails while building the wheel.",
            "requirements.txt pins an old release of {pkg}.",
        ],
    ),
    (
        "Configuration",
        0.10,
        &[
            "Where to set {param} in the config",
            "config.yaml option {param} is ignored",
        ],
        &["I changed the settings in config.yaml but the parameter has no effect."],
    ),
    (
        "API/Connection",
        0.10,
        &[
            "ConnectionError when calling the server",
            "Request timed out behind a proxy",
            "401 with a valid API key",
        ],
        &["The endpoint returns ConnectionError after 30 s."],
    ),
    (
        "Performance & Memory",
        0.15,
        &[
            "CUDA out of memory with {model} on {gpu}",
            "Inference is slow: 2 tokens per second",
            "Memory leak during long chats",
        ],
        &[
            "OOM on a {gpu} with 24 GB of VRAM.",
            "Latency grows with every request.",
        ],
    ),
    (
        "Feature/Usage Question",
        0.13,
        &[
            "How do I use {model} with {feature}?",
            "Feature request: support for {feature}",
            "Is it possible to run on CPU only?",
        ],
        &["It would be nice to have this.", "A question about usage."],
    ),
    (
        "Documentation",
        0.05,
        &["Docs: README example is outdated", "Typo in the tutorial"],
        &["The documentation shows an old flag."],
    ),
    (
        "UI/Front-end",
        0.05,
        &["Web UI button does nothing", "Gradio page does not render"],
        &["The front-end shows a blank page in {os}."],
    ),
];

/// Cause sentences per codebook_v0 cause.
const CAUSES: [(&str, &[&str]); 8] = [
    (
        "Model Problem",
        &[
            "The checkpoint you downloaded is corrupted.",
            "The tokenizer of this model file is outdated.",
            "The chat template of the gguf file is wrong.",
        ],
    ),
    (
        "Configuration and Connection Problem",
        &[
            "Your api key is not set in the .env file.",
            "The proxy blocks the connection, so it hits a timeout.",
            "The base url is misconfigured.",
        ],
    ),
    (
        "Feature and Method Problem",
        &[
            "This method is not supported yet.",
            "Streaming is not implemented for this backend.",
            "That function is deprecated.",
        ],
    ),
    (
        "Dependency & Environment Problem",
        &[
            "Your torch build is incompatible with the CUDA version.",
            "There is a version conflict between {pkg} and peft.",
            "The driver is too old.",
        ],
    ),
    (
        "Resource (GPU/RAM) Problem",
        &[
            "The model needs more VRAM than your card has: out of memory.",
            "Not enough RAM for the 70B model.",
            "GPU memory is exhausted by the KV cache.",
        ],
    ),
    (
        "Data/Prompt Problem",
        &[
            "Your prompt exceeds the context length.",
            "The dataset has the wrong data format.",
            "The input is too long.",
        ],
    ),
    (
        "Code Defect",
        &[
            "There was a bug in our sampling code (off-by-one).",
            "A regression in the last release caused this.",
            "A race condition in the server loop.",
        ],
    ),
    (
        "User Misuse",
        &[
            "You ran the wrong command; this works as intended.",
            "This is not a bug, it is as documented.",
        ],
    ),
];

/// Solution sentences per codebook_v0 solution.
const SOLUTIONS: [(&str, &[&str]); 8] = [
    (
        "Optimize Model",
        &[
            "Switch to a different model or re-quantize it with q4_k_m.",
            "Lower the temperature and top_p and it works.",
            "Re-convert the model with the latest script.",
        ],
    ),
    (
        "Fix Configuration",
        &[
            "Set {param} to 512 in the config and it works.",
            "After I fixed the config it runs.",
            "Added the api key to the environment; solved.",
        ],
    ),
    (
        "Upgrade/Downgrade Dependency",
        &[
            "Upgrading {pkg} fixed it.",
            "Downgrade torch to 2.1 and it works.",
            "Pinned numpy==1.26 to solve it.",
        ],
    ),
    (
        "Patch Code",
        &[
            "Fixed in PR #{pr}, merged.",
            "The fix is merged in main.",
            "A patch landed in pull request #{pr}.",
        ],
    ),
    (
        "Add Feature",
        &[
            "We added support for this in v0.3.",
            "This is now supported, released in 1.2.",
        ],
    ),
    (
        "Improve Documentation",
        &[
            "We updated the docs to explain this.",
            "The README is clarified.",
        ],
    ),
    (
        "Change Hardware/Resources",
        &[
            "Use a bigger GPU or reduce the batch size.",
            "Enable cpu offload and lower the context.",
        ],
    ),
    (
        "Workaround/Other",
        &["As a workaround, restart the server.", "Closing as stale."],
    ),
];

/// Likely causes of each issue category (the rest share the leftover weight).
const ISSUE_CAUSE: [(&str, &[(&str, f64)]); 8] = [
    (
        "Model Issue",
        &[
            ("Model Problem", 0.5),
            ("Data/Prompt Problem", 0.2),
            ("Feature and Method Problem", 0.15),
        ],
    ),
    (
        "Installation & Dependency",
        &[("Dependency & Environment Problem", 0.7)],
    ),
    (
        "Configuration",
        &[
            ("Configuration and Connection Problem", 0.6),
            ("User Misuse", 0.2),
        ],
    ),
    (
        "API/Connection",
        &[("Configuration and Connection Problem", 0.7)],
    ),
    (
        "Performance & Memory",
        &[("Resource (GPU/RAM) Problem", 0.6), ("Code Defect", 0.2)],
    ),
    (
        "Feature/Usage Question",
        &[("Feature and Method Problem", 0.5), ("User Misuse", 0.3)],
    ),
    (
        "Documentation",
        &[("User Misuse", 0.5), ("Code Defect", 0.2)],
    ),
    ("UI/Front-end", &[("Code Defect", 0.6)]),
];

/// Likely solutions of each cause.
const CAUSE_SOLUTION: [(&str, &[(&str, f64)]); 8] = [
    ("Model Problem", &[("Optimize Model", 0.7)]),
    (
        "Configuration and Connection Problem",
        &[("Fix Configuration", 0.7)],
    ),
    (
        "Feature and Method Problem",
        &[("Add Feature", 0.6), ("Workaround/Other", 0.2)],
    ),
    (
        "Dependency & Environment Problem",
        &[("Upgrade/Downgrade Dependency", 0.8)],
    ),
    (
        "Resource (GPU/RAM) Problem",
        &[("Change Hardware/Resources", 0.6), ("Optimize Model", 0.3)],
    ),
    (
        "Data/Prompt Problem",
        &[("Optimize Model", 0.4), ("Fix Configuration", 0.3)],
    ),
    ("Code Defect", &[("Patch Code", 0.8)]),
    (
        "User Misuse",
        &[("Improve Documentation", 0.4), ("Workaround/Other", 0.4)],
    ),
];

const MODELS: [&str; 5] = [
    "Llama-3-8B",
    "Qwen2-7B",
    "Mistral-7B",
    "Phi-3-mini",
    "Gemma-2-9B",
];
const GPUS: [&str; 4] = ["RTX 3090", "A100", "RTX 4060", "M2 Max"];
const PKGS: [&str; 5] = ["transformers", "torch", "peft", "vllm", "llama-cpp-python"];
const OSES: [&str; 3] = ["Windows", "macOS", "Ubuntu 22.04"];
const PARAMS: [&str; 4] = ["max_tokens", "n_ctx", "top_k", "num_gpu"];
const FEATURES: [&str; 4] = ["function calling", "streaming", "multi-GPU", "JSON mode"];

fn pick<'a>(rng: &mut SplitMix64, v: &[&'a str]) -> &'a str {
    v[rng.below(v.len())]
}

/// Draws a name from `preferred` weights, the leftover weight spread over `all` equally.
fn weighted<'a>(rng: &mut SplitMix64, all: &[&'a str], preferred: &[(&str, f64)]) -> &'a str {
    let used: f64 = preferred.iter().map(|p| p.1).sum();
    let rest = (1.0 - used).max(0.0) / all.len() as f64;
    let weight = |n: &str| {
        rest + preferred
            .iter()
            .filter(|p| p.0 == n)
            .map(|p| p.1)
            .sum::<f64>()
    };
    let total: f64 = all.iter().map(|n| weight(n)).sum();
    let mut u = rng.next_f64() * total;
    for n in all {
        u -= weight(n);
        if u < 0.0 {
            return n;
        }
    }
    all[all.len() - 1]
}

fn fill(rng: &mut SplitMix64, t: &str) -> String {
    let mut s = t.to_owned();
    for (slot, pool) in [
        ("{model}", &MODELS[..]),
        ("{gpu}", &GPUS[..]),
        ("{pkg}", &PKGS[..]),
        ("{os}", &OSES[..]),
        ("{param}", &PARAMS[..]),
        ("{feature}", &FEATURES[..]),
    ] {
        while s.contains(slot) {
            let v = pick(rng, pool);
            s = s.replacen(slot, v, 1);
        }
    }
    while s.contains("{pr}") {
        let pr = 100 + rng.below(900);
        s = s.replacen("{pr}", &pr.to_string(), 1);
    }
    s
}

fn names<const N: usize, T>(table: &[(&'static str, T); N]) -> Vec<&'static str> {
    table.iter().map(|t| t.0).collect()
}

/// The generator's categories of one issue: `[issue, cause, solution]`.
pub type Truth = [String; 3];

/// A repository of synthetic issues and the categories each issue was generated from.
#[derive(Debug, Clone, PartialEq)]
pub struct SyntheticRepo {
    /// What the fixture serves.
    pub repo: FixtureRepo,
    /// Issue number → generated categories.
    pub truth: BTreeMap<u64, Truth>,
}

/// Generates `n_items` closed items (`n_prs` of them pull requests, at seeded positions)
/// of repository `owner/name` with metadata that passes the paper's selection; see
/// [`synthetic_repo`] for the categories.
pub fn fixture_repo(
    owner: &str,
    name: &str,
    n_items: usize,
    n_prs: usize,
    seed: u64,
) -> FixtureRepo {
    synthetic_repo(owner, name, n_items, n_prs, seed).repo
}

/// Like [`fixture_repo`], with the generated categories.
pub fn synthetic_repo(
    owner: &str,
    name: &str,
    n_items: usize,
    n_prs: usize,
    seed: u64,
) -> SyntheticRepo {
    let id = RepoId::new(owner, name);
    let mut rng = stream(seed, &format!("repo:{id}"));
    let meta = RepoMeta {
        id: id.clone(),
        stars: 9000 + rng.below(40_000) as u64,
        pushed_at: "2024-08-20T12:00:00Z".into(),
        archived: false,
        description: format!("{name}: run a Large Language Model locally"),
        topics: vec!["llm".into(), "inference".into()],
    };
    let mut pr_at: Vec<bool> = (0..n_items).map(|i| i < n_prs.min(n_items)).collect();
    rng.shuffle(&mut pr_at);
    let issue_names: Vec<&str> = ISSUES.iter().map(|t| t.0).collect();
    let cause_names = names(&CAUSES);
    let solution_names = names(&SOLUTIONS);
    let base_id =
        1_000_000 + (crate::text::fnv1a64(id.to_string().as_bytes()) % 1_000_000) * 10_000;
    let mut items = Vec::with_capacity(n_items);
    let mut comments = BTreeMap::new();
    let mut truth = BTreeMap::new();
    let mut comment_id = base_id * 10;
    for (i, &is_pr) in pr_at.iter().enumerate() {
        let number = i as u64 + 1;
        let day = 1 + (i * 28 / n_items.max(1)) as u32;
        let created = format!("2024-03-{day:02}T{:02}:{:02}:00Z", i % 24, (i * 7) % 60);
        let closed = format!("2024-04-{day:02}T{:02}:00:00Z", i % 24);
        if is_pr {
            items.push(json!({
                "id": base_id + number, "number": number, "title": format!("Fix {}", fill(&mut rng, "{pkg} pin")),
                "body": "Small fix.", "state": "closed", "state_reason": null, "labels": [],
                "created_at": created, "closed_at": closed, "comments": 0,
                "pull_request": {"url": format!("https://api.github.com/repos/{id}/pulls/{number}")},
            }));
            continue;
        }
        let issue_w: Vec<(&str, f64)> = ISSUES.iter().map(|t| (t.0, t.1)).collect();
        let issue = weighted(&mut rng, &issue_names, &issue_w);
        let cause_pref = ISSUE_CAUSE
            .iter()
            .find(|t| t.0 == issue)
            .map_or(&[][..], |t| t.1);
        let cause = weighted(&mut rng, &cause_names, cause_pref);
        let sol_pref = CAUSE_SOLUTION
            .iter()
            .find(|t| t.0 == cause)
            .map_or(&[][..], |t| t.1);
        let solution = weighted(&mut rng, &solution_names, sol_pref);
        let t = ISSUES
            .iter()
            .find(|t| t.0 == issue)
            .expect("issue template");
        let tpl = pick(&mut rng, t.2);
        let title = fill(&mut rng, tpl);
        let tpl = pick(&mut rng, t.3);
        let body = fill(&mut rng, tpl);
        let cause_s = CAUSES.iter().find(|c| c.0 == cause).expect("cause").1;
        let sol_s = SOLUTIONS
            .iter()
            .find(|c| c.0 == solution)
            .expect("solution")
            .1;
        let u = rng.next_f64();
        // Relevance-filter fodder: 4 % empty and silent, 3 % not planned and silent, 3 %
        // labelled duplicate or invalid.
        let (body, n_comments, state_reason, labels) = if u < 0.04 {
            (String::new(), 0, "completed", vec![])
        } else if u < 0.07 {
            (body, 0, "not_planned", vec![])
        } else if u < 0.10 {
            (
                body,
                1,
                "not_planned",
                vec![if rng.below(2) == 0 {
                    "duplicate"
                } else {
                    "invalid"
                }],
            )
        } else {
            (
                body,
                1 + rng.below(3),
                if rng.next_f64() < 0.05 {
                    "not_planned"
                } else {
                    "completed"
                },
                vec![],
            )
        };
        let mut cs = Vec::new();
        if n_comments > 0 {
            let tpl = pick(&mut rng, cause_s);
            let cause_text = fill(&mut rng, tpl);
            let tpl = pick(&mut rng, sol_s);
            let sol_text = fill(&mut rng, tpl);
            let mut texts = vec![format!("Thanks for the report. {cause_text}")];
            if n_comments >= 3 {
                texts.push("I can reproduce it with the steps above.".into());
            }
            if n_comments >= 2 {
                texts.push(sol_text);
            } else {
                texts[0] += &format!(" {sol_text}");
            }
            for (k, t) in texts.into_iter().enumerate() {
                comment_id += 1;
                cs.push(json!({
                    "id": comment_id,
                    "user": {"login": if k % 2 == 0 { "maintainer" } else { "reporter" }},
                    "body": t,
                    "created_at": closed,
                }));
            }
        }
        let labels: Vec<Value> = labels.into_iter().map(|l| json!({"name": l})).collect();
        items.push(json!({
            "id": base_id + number, "number": number, "title": title,
            "body": if body.is_empty() { Value::Null } else { Value::String(body) },
            "state": "closed", "state_reason": state_reason, "labels": labels,
            "created_at": created, "closed_at": closed, "comments": cs.len(),
        }));
        if !cs.is_empty() {
            comments.insert(number, cs);
        }
        truth.insert(
            number,
            [issue.to_owned(), cause.to_owned(), solution.to_owned()],
        );
    }
    SyntheticRepo {
        repo: FixtureRepo {
            meta,
            contributors: 10 + rng.below(200) as u64,
            items,
            comments,
        },
        truth,
    }
}

/// A three-class (bug 0, feature 1, question 2) set of `per_class` documents per class
/// from overlapping vocabularies, in class-interleaved order.
pub fn three_class_docs(per_class: usize, seed: u64) -> Vec<(Doc, usize)> {
    const SUBJECT: [&str; 6] = [
        "the editor",
        "the build",
        "the parser",
        "the CLI",
        "the plugin",
        "sync",
    ];
    const BUG_T: [&str; 4] = [
        "{s} crashes on save",
        "Error when opening {s}",
        "{s} is broken after update",
        "Unexpected output from {s}",
    ];
    const BUG_B: [&str; 4] = [
        "Steps to reproduce: open {s}. Expected it to work.",
        "Traceback attached, it fails every time.",
        "Since yesterday {s} shows a blank screen.",
        "It stopped responding, how can I get logs?",
    ];
    const FEAT_T: [&str; 4] = [
        "Add an option to configure {s}",
        "Support for themes in {s}",
        "Allow exporting from {s}",
        "Proposal: faster {s}",
    ];
    const FEAT_B: [&str; 4] = [
        "It would be nice to have this.",
        "Describe the solution you'd like: a toggle.",
        "Other tools have it; an error message would also help.",
        "Many users asked for it.",
    ];
    const Q_T: [&str; 4] = [
        "How do I configure {s}?",
        "Is it possible to disable {s}",
        "What does the flag in {s} mean",
        "Question about {s}",
    ];
    const Q_B: [&str; 4] = [
        "I could not find it in the documentation.",
        "Any help appreciated, I am new.",
        "Why does it behave like that?",
        "I want to add my own settings.",
    ];
    let mut rng = stream(seed, "three-class");
    let mut out = Vec::with_capacity(3 * per_class);
    for _ in 0..per_class {
        for (c, (ts, bs)) in [(&BUG_T, &BUG_B), (&FEAT_T, &FEAT_B), (&Q_T, &Q_B)]
            .into_iter()
            .enumerate()
        {
            let s = SUBJECT[rng.below(SUBJECT.len())];
            let t = ts[rng.below(ts.len())].replace("{s}", s);
            let b = bs[rng.below(bs.len())].replace("{s}", s);
            out.push((Doc::new(&t, &b), c));
        }
    }
    out
}

/// `n` records in Open-LLM-Failures' shape whose labels are drawn from the data's own
/// category names (the `open_llm_failures` taxonomy), for runs without the mirror.
pub fn failure_records(n: usize, seed: u64) -> Vec<FailureRecord> {
    let tax = crate::taxonomy::Taxonomy::builtin("open_llm_failures").expect("built-in taxonomy");
    let pairs = |level| {
        let cats = tax.categories(level);
        cats.iter()
            .filter_map(|c| {
                let p = c.parent.as_ref()?;
                let parent = cats.iter().find(|q| &q.id == p)?;
                Some(format!("{} - {}", parent.name, c.name))
            })
            .collect::<Vec<_>>()
    };
    let symptoms = pairs(crate::taxonomy::Level::Issue);
    let causes = pairs(crate::taxonomy::Level::Cause);
    let mut rng = stream(seed, "failure-records");
    (0..n)
        .map(|i| {
            // Skewed draws (the minimum of two uniforms) so the tables have a clear order.
            let skew = |rng: &mut SplitMix64, m: usize| rng.below(m).min(rng.below(m));
            FailureRecord {
                number: i as u32 + 1,
                link: format!(
                    "https://github.com/synthetic/model-{}/issues/{}",
                    i % 3,
                    10 + i
                ),
                status: if rng.next_f64() < 0.8 {
                    "closed"
                } else {
                    "open"
                }
                .into(),
                symptom: symptoms[skew(&mut rng, symptoms.len())].clone(),
                root_cause: causes[skew(&mut rng, causes.len())].clone(),
                stage: if rng.next_f64() < 0.75 {
                    "Inference"
                } else {
                    "Fine-tuning"
                }
                .into(),
                model: format!("Model-{}", i % 3),
                architecture: if i % 3 == 2 { "MoE" } else { "Dense" }.into(),
                source_file: "synthetic".into(),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::label::{Labeller, RuleLabeller};
    use crate::taxonomy::{Level, Taxonomy};

    #[test]
    fn repos_are_deterministic_and_shaped_like_github() {
        let a = synthetic_repo("o", "r", 120, 10, 5);
        assert_eq!(a, synthetic_repo("o", "r", 120, 10, 5));
        assert_ne!(
            a.repo.items,
            synthetic_repo("o", "r", 120, 10, 6).repo.items
        );
        assert_eq!(a.repo.items.len(), 120);
        assert_eq!(a.repo.issue_count(), 110);
        assert_eq!(a.truth.len(), 110);
        for (k, it) in a.repo.items.iter().enumerate() {
            assert_eq!(it["number"], k as u64 + 1);
            let n = it["comments"].as_u64().unwrap();
            assert_eq!(
                a.repo.comments.get(&(k as u64 + 1)).map_or(0, Vec::len) as u64,
                n
            );
        }
        // Every generated category is a codebook_v0 category.
        let v0 = Taxonomy::builtin("codebook_v0").unwrap();
        for t in a.truth.values() {
            for (l, name) in Level::ALL.iter().zip(t) {
                v0.check_label(*l, name).unwrap();
            }
        }
    }

    #[test]
    fn templates_carry_their_own_keywords() {
        // Each solution sentence is labelled with its own category by the codebook rules.
        let v0 = Taxonomy::builtin("codebook_v0").unwrap();
        let sol = RuleLabeller::from_taxonomy(&v0, Level::Solution).unwrap();
        for (name, sentences) in SOLUTIONS {
            for s in sentences {
                let s = s
                    .replace("{param}", "max_tokens")
                    .replace("{pkg}", "torch")
                    .replace("{pr}", "12");
                assert_eq!(sol.classes()[sol.label(&Doc::new("", &s))], name, "{s}");
            }
        }
        let cause = RuleLabeller::from_taxonomy(&v0, Level::Cause).unwrap();
        for (name, sentences) in CAUSES {
            for s in sentences {
                let s = s.replace("{pkg}", "torch");
                assert_eq!(cause.classes()[cause.label(&Doc::new("", &s))], name, "{s}");
            }
        }
    }

    #[test]
    fn three_class_and_failure_sets() {
        let d = three_class_docs(20, 0);
        assert_eq!(d.len(), 60);
        assert_eq!(d.iter().filter(|x| x.1 == 2).count(), 20);
        let f = failure_records(50, 0);
        assert_eq!(f.len(), 50);
        assert!(f.iter().all(|r| r.symptom_parts().subcategory.len() > 1));
        assert_eq!(f, failure_records(50, 0));
    }
}
