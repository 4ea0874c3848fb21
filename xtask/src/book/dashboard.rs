//! The claims dashboard, `docs/dashboard.md`: generated from the committed reports and the
//! papers' descriptors, never typed by hand.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::{Context, Result, bail};
use repro_core::experiment::PaperInfo;
use repro_core::report::{Claim, Profile, Verdict};
use serde_json::Value;

use super::reports::Run;

/// What one claim shows at one profile.
#[derive(Debug, Clone, PartialEq)]
enum Cell {
    /// No committed report of this paper at this profile.
    NoReport,
    /// The report exists but does not list the claim.
    NotInReport,
    /// The claim as the report decided it.
    Decided(Claim),
}

impl Cell {
    fn class(&self) -> &'static str {
        match self {
            Cell::Decided(c) => c.verdict.as_str(),
            _ => "not_run",
        }
    }
}

/// Measured keys that describe the run rather than measure the claim; never the key number.
const NOT_KEY_NUMBERS: &[&str] = &[
    "note", "status", "profile", "seeds", "kind", "schedule", "pooling", "label", "labels", "sign",
];

/// Words of a measured key that do not count when matching it against the criterion.
const NEUTRAL_WORDS: &[&str] = &[
    "a", "and", "at", "in", "minus", "of", "on", "per", "the", "to", "vs", "with",
];

/// The key number of a claim, with its name. Candidates are the measured values that are a
/// finite number, a map's finite `mean`, or a list of one to three finite numbers (one per
/// seed, or an interval); the keys that describe the run (`NOT_KEY_NUMBERS`) are skipped.
/// The one shown is, in this order of preference: a real number over a list over a count
/// or a yes/no; the name whose words (split at non-alphanumerics, `NEUTRAL_WORDS` aside)
/// most often appear in the criterion, as a share, then as a count (a word matches a
/// criterion word it equals, or that it starts or that starts it, from 3 letters); the one
/// the criterion mentions earliest; the first key. A deterministic function of the claim.
pub fn key_number(claim: &Claim) -> Option<(String, String)> {
    let criterion = words(&claim.criterion);
    let matches = |w: &str, c: &str| {
        w == c || (w.len() >= 3 && c.len() >= 3 && (c.starts_with(w) || w.starts_with(c)))
    };
    // (class, -share, -matched words, mean position of the matches): smallest wins.
    type Rank = (u8, i64, i64, i64);
    let mut best: Option<(Rank, &String, String)> = None;
    for (key, value) in &claim.measured {
        if NOT_KEY_NUMBERS.contains(&key.as_str()) {
            continue;
        }
        let Some((class, shown)) = candidate(value) else {
            continue;
        };
        let parts: Vec<String> = words(key)
            .into_iter()
            .filter(|w| !NEUTRAL_WORDS.contains(&w.as_str()))
            .collect();
        let positions: Vec<usize> = parts
            .iter()
            .filter_map(|w| criterion.iter().position(|c| matches(w, c)))
            .collect();
        let n = positions.len() as i64;
        // Share in thousandths, so that ties compare exactly.
        let share = if parts.is_empty() {
            0
        } else {
            1000 * n / parts.len() as i64
        };
        let earliest = if n == 0 {
            i64::MAX
        } else {
            1000 * positions.iter().sum::<usize>() as i64 / n
        };
        let rank = (class, -share, -n, earliest);
        if best.as_ref().is_none_or(|(r, ..)| rank < *r) {
            best = Some((rank, key, shown));
        }
    }
    best.map(|(_, k, v)| (k.clone(), v))
}

/// A measured value that can be the key number: its class (0 a real number, 1 a short
/// list of numbers, 2 an integer or a boolean) and how it is shown.
fn candidate(v: &Value) -> Option<(u8, String)> {
    let finite = |v: &Value| v.as_f64().filter(|x| x.is_finite() && !v.is_boolean());
    match v {
        Value::Bool(b) => Some((2, b.to_string())),
        Value::Number(n) => {
            let x = finite(v)?;
            Some((if n.is_f64() { 0 } else { 2 }, format_number(x)))
        }
        Value::Object(o) => {
            let mean = o.get("mean")?;
            let x = finite(mean)?;
            Some((0, format_number(x)))
        }
        Value::Array(a) if a.len() == 1 => candidate(&a[0]).filter(|(c, _)| *c < 2),
        Value::Array(a) if (2..=3).contains(&a.len()) => {
            let xs: Option<Vec<String>> = a.iter().map(|x| finite(x).map(format_number)).collect();
            Some((1, format!("[{}]", xs?.join(", "))))
        }
        _ => None,
    }
}

/// Lower-case alphanumeric words of `s` (`gap_mean` gives `gap`, `mean`).
fn words(s: &str) -> Vec<String> {
    s.split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
        .collect()
}

/// Four significant digits, integers as integers, no exponent between 1e-3 and 1e6.
pub fn format_number(x: f64) -> String {
    if x == x.trunc() && x.abs() < 1e15 {
        return format!("{x:.0}");
    }
    let a = x.abs();
    if !(1e-3..1e6).contains(&a) {
        return format!("{x:.3e}");
    }
    let digits = (3 - a.log10().floor() as i32).clamp(0, 6) as usize;
    let s = format!("{x:.digits$}");
    let s = if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_owned()
    } else {
        s
    };
    if s == "-0" { "0".into() } else { s }
}

/// Why an inconclusive claim is undecided, from what the claim records: its `note` (where
/// the crates put the reason), else its `status`, else a measured list of what did not run,
/// else the measured values that are not finite, else that nothing was measured.
pub fn inconclusive_reason(claim: &Claim) -> String {
    for key in ["note", "status"] {
        if let Some(s) = claim.measured.get(key).and_then(Value::as_str) {
            return s.to_owned();
        }
    }
    if let Some((key, value)) = claim.measured.iter().find(|(k, _)| k.contains("not run")) {
        return match value.as_array() {
            Some(items) => {
                let names: Vec<String> = items
                    .iter()
                    .take(3)
                    .map(|v| v.as_str().map_or_else(|| v.to_string(), str::to_owned))
                    .collect();
                let more = if items.len() > 3 {
                    format!(", … ({} in all)", items.len())
                } else {
                    String::new()
                };
                format!("{key}: {}{more}", names.join(", "))
            }
            None => format!("{key}: {value}"),
        };
    }
    let nan = claim.non_finite_keys();
    if !nan.is_empty() {
        return format!("not finite (NaN): {}", nan.join(", "));
    }
    if claim.measured.is_empty() {
        return "nothing was measured for it in this run".into();
    }
    "no reason recorded with the claim (see the report's notes)".into()
}

/// The claims dashboard as Markdown (with inline HTML for the colours): one table per paper
/// in `papers`' order, one row per claim the paper declares plus any claim a report holds
/// that the paper no longer declares, one column per profile. A deterministic function of
/// its inputs, so `cargo xtask book --check` can compare it with the committed page.
pub fn dashboard(papers: &[&PaperInfo], runs: &[Run]) -> String {
    let report_of = |paper: &str, profile: Profile| {
        runs.iter()
            .find(|r| r.paper == paper && r.profile == profile)
    };
    let mut sections = String::new();
    let mut counts: BTreeMap<(&'static str, &'static str), usize> = BTreeMap::new();
    let mut total = 0;
    for info in papers {
        let runs: Vec<Option<&Run>> = Profile::ALL
            .iter()
            .map(|&p| report_of(info.name, p))
            .collect();
        // Declared claims first, in the paper's order, then claims only a report has.
        let mut ids: Vec<(String, String, String, bool)> = info
            .claims
            .iter()
            .map(|c| (c.id.into(), c.statement.into(), c.criterion.into(), true))
            .collect();
        for r in runs.iter().flatten() {
            for c in &r.claims {
                if !ids.iter().any(|(id, ..)| *id == c.id) {
                    ids.push((
                        c.id.clone(),
                        c.statement.clone(),
                        c.criterion.clone(),
                        false,
                    ));
                }
            }
        }
        sections += &format!("## {}\n\n{}\n\n", info.name, md_text(info.title));
        sections += &format!(
            "| [{}](papers/{}.md) | smoke | quick | full |\n|---|---|---|---|\n",
            info.name, info.name
        );
        sections += "| *run* |";
        for (run, profile) in runs.iter().zip(Profile::ALL) {
            sections += &format!(" {} |", run_cell(info.name, profile, *run));
        }
        sections += "\n";
        for (id, statement, criterion, declared) in &ids {
            total += 1;
            let mut row = format!(
                "| **{}** {}<br><span class=\"criterion\">criterion: {}{}</span> |",
                md_text(id),
                md_text(statement),
                md_text(criterion),
                if *declared {
                    ""
                } else {
                    " (no longer declared by the paper)"
                }
            );
            for (run, profile) in runs.iter().zip(Profile::ALL) {
                let cell = match run {
                    None => Cell::NoReport,
                    Some(r) => match r.claims.iter().find(|c| c.id == *id) {
                        Some(c) => Cell::Decided(c.clone()),
                        None => Cell::NotInReport,
                    },
                };
                *counts.entry((profile.as_str(), cell.class())).or_default() += 1;
                row += &format!(" {} |", verdict_cell(&cell));
            }
            sections += &row;
            sections += "\n";
        }
        sections += "\n";
    }
    let mut md = String::from(
        "<!-- Generated by `cargo xtask book` from docs/results/<paper>/<profile>/report.json \
         and the papers' descriptors (xtask/src/papers.rs). Do not edit: rerun the command. -->\n\n",
    );
    md += "# Claims dashboard\n\n";
    md += STYLE;
    md += "\nEvery claim of every paper, with the verdict of the committed report at each profile \
           (smoke: seconds, a test of the pipeline; quick: at most 10 minutes on 2 CPU cores; \
           full: the paper's setting). Nothing here is typed by hand: the page is generated \
           from the `report.json` files in `docs/results/<paper>/<profile>/` (each table's \
           *run* row links them) and the papers' claim lists, so it cannot disagree with a \
           run.\n\n";
    md += "- <span class=\"verdict reproduced\">reproduced</span> the criterion, fixed before \
           the run, held;\n";
    md += "- <span class=\"verdict not_reproduced\">not reproduced</span> the criterion \
           failed;\n";
    md += "- <span class=\"verdict inconclusive\">inconclusive</span> the run cannot decide, \
           and *why* says what the report gives as the reason (a sanity gate failed, the \
           profile is too small, an experiment was not selected, a number is not finite);\n";
    md += "- <span class=\"verdict not_run\">not run</span> no committed report of that \
           profile holds the claim.\n\n";
    md += "The **key number** under a verdict is one measured value, named: the real number \
           (or else a short list, or else a count or yes/no) whose name best matches the \
           words of the criterion, the earliest-mentioned on a tie. The criterion decides \
           the verdict, often from several numbers; the paper's chapter and the report have \
           them all.\n\n";
    md += &format!("{total} claims of {} papers:\n\n", papers.len());
    md += "| profile | reproduced | not reproduced | inconclusive | not run |\n|---|---|---|---|---|\n";
    for p in Profile::ALL {
        let n = |class| counts.get(&(p.as_str(), class)).copied().unwrap_or(0);
        md += &format!(
            "| {p} | {} | {} | {} | {} |\n",
            n("reproduced"),
            n("not_reproduced"),
            n("inconclusive"),
            n("not_run")
        );
    }
    md += "\n<div class=\"claims\">\n\n";
    md += &sections;
    md.truncate(md.trim_end().len());
    md += "\n\n</div>\n";
    md
}

const STYLE: &str = "<style>
.verdict { display: inline-block; padding: 0 0.4em; border-radius: 0.3em; font-weight: 600; color: #1b1b1b; white-space: nowrap; }
.verdict.reproduced { background: #8fd9a0; }
.verdict.not_reproduced { background: #f2a0a0; }
.verdict.inconclusive { background: #f5d27f; }
.verdict.not_run { background: #d4d4d4; color: #444; }
.criterion, .key, .why, .run { font-size: 0.82em; }
.criterion, .why { opacity: 0.8; }
.content main { max-width: 1100px; }
.claims table { table-layout: fixed; width: 100%; }
.claims td, .claims th { vertical-align: top; overflow-wrap: anywhere; }
.claims th:first-child { width: 40%; }
</style>
";

fn run_cell(paper: &str, profile: Profile, run: Option<&Run>) -> String {
    let Some(r) = run else {
        return "<span class=\"run\">no report</span>".into();
    };
    format!(
        "<span class=\"run\">{} · `{}` · {} seed{} · {} · [report.json](results/{paper}/{profile}/report.json)</span>",
        md_text(&r.device),
        // A commit is hex with `-dirty` at most; nothing else can break the cell.
        r.git_commit
            .chars()
            .filter(|c| c.is_ascii_alphanumeric() || *c == '-')
            .collect::<String>(),
        r.seeds.len(),
        if r.seeds.len() == 1 { "" } else { "s" },
        format_duration(r.wall_seconds),
    )
}

fn verdict_cell(cell: &Cell) -> String {
    match cell {
        Cell::NoReport => "<span class=\"verdict not_run\">not run</span>".into(),
        Cell::NotInReport => {
            "<span class=\"verdict not_run\">not run</span><br><span class=\"why\">not in this report</span>"
                .into()
        }
        Cell::Decided(c) => {
            let label = match c.verdict {
                Verdict::Reproduced => "reproduced",
                Verdict::NotReproduced => "not reproduced",
                Verdict::Inconclusive => "inconclusive",
            };
            let mut s = format!("<span class=\"verdict {}\">{label}</span>", c.verdict);
            if let Some((k, v)) = key_number(c) {
                s += &format!(
                    "<br><span class=\"key\">{} = {}</span>",
                    md_text(&k),
                    md_text(&v)
                );
            }
            if c.verdict == Verdict::Inconclusive {
                s += &format!(
                    "<br><span class=\"why\">why: {}</span>",
                    md_text(&inconclusive_reason(c))
                );
            }
            s
        }
    }
}

fn format_duration(s: f64) -> String {
    if !s.is_finite() || s < 0.0 {
        "? s".into()
    } else if s < 100.0 {
        format!("{s:.0} s")
    } else if s < 6000.0 {
        format!("{:.0} min", s / 60.0)
    } else {
        format!("{:.1} h", s / 3600.0)
    }
}

/// `s` as literal text inside Markdown (and a table cell): Markdown punctuation escaped,
/// `&`, `<`, `>` as entities, newlines as spaces.
pub fn md_text(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for ch in s.chars() {
        match ch {
            '&' => out += "&amp;",
            '<' => out += "&lt;",
            '>' => out += "&gt;",
            '\n' | '\r' => out.push(' '),
            '\\' | '`' | '*' | '_' | '[' | ']' | '|' | '~' | '#' | '!' | '$' => {
                out.push('\\');
                out.push(ch);
            }
            _ => out.push(ch),
        }
    }
    out
}

/// Checks that `SUMMARY.md` has a chapter `papers/<name>.md` for every paper, in the
/// papers' order, so that a new paper cannot be left out of the book.
pub fn check_summary(summary: &Path, papers: &[&PaperInfo]) -> Result<()> {
    let text = std::fs::read_to_string(summary)
        .with_context(|| format!("cannot read {}", summary.display()))?;
    let mut last = 0;
    for info in papers {
        let link = format!("(papers/{}.md)", info.name);
        match text.find(&link) {
            None => bail!(
                "{} has no chapter for {}: add `- [{}: ...]{link}`",
                summary.display(),
                info.name,
                info.name
            ),
            Some(at) if at < last => bail!(
                "{}: the chapter of {} comes before the one above it in xtask/src/papers.rs; \
                 list the papers in that order",
                summary.display(),
                info.name
            ),
            Some(at) => last = at,
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use repro_core::Report;
    use repro_core::experiment::ClaimInfo;
    use repro_core::testing::TempDir;

    fn claim(id: &str, verdict: Verdict, measured: &[(&str, Value)]) -> Claim {
        let mut c = Claim::new(id, "s", "gap_mean above 0").with_verdict(verdict);
        for (k, v) in measured {
            c.measured.insert((*k).into(), v.clone());
        }
        c
    }

    #[test]
    fn key_number_prefers_the_criterion_then_key_order() {
        use serde_json::json;
        let c = claim(
            "C1",
            Verdict::Reproduced,
            &[
                ("a_first", json!(1.5)),
                ("gap_mean", json!(0.031234)),
                ("note", json!("x")),
            ],
        );
        assert_eq!(key_number(&c), Some(("gap_mean".into(), "0.03123".into())));
        let c = claim(
            "C1",
            Verdict::Reproduced,
            &[("b", json!(null)), ("c", json!(2.0)), ("seeds", json!(3))],
        );
        assert_eq!(key_number(&c), Some(("c".into(), "2".into())));
        let c = claim(
            "C1",
            Verdict::Reproduced,
            &[("ci", json!([0.1, 0.25])), ("ok", json!(true))],
        );
        assert_eq!(key_number(&c), Some(("ci".into(), "[0.1, 0.25]".into())));
        let c = claim("C1", Verdict::Reproduced, &[("ok", json!(true))]);
        assert_eq!(key_number(&c), Some(("ok".into(), "true".into())));
        assert_eq!(key_number(&claim("C1", Verdict::Reproduced, &[])), None);
    }

    #[test]
    fn numbers_are_formatted_to_four_significant_digits() {
        // 4 significant digits: 0.031234 -> 0.03123; 123.456 -> 123.5; integers stay.
        assert_eq!(format_number(0.031234), "0.03123");
        assert_eq!(format_number(123.456), "123.5");
        assert_eq!(format_number(-0.5), "-0.5");
        assert_eq!(format_number(3.0), "3");
        assert_eq!(format_number(1.0e-5), "1.000e-5");
        assert_eq!(format_number(-0.00001), "-1.000e-5");
    }

    #[test]
    fn inconclusive_reasons_come_from_the_note_or_the_numbers() {
        use serde_json::json;
        let c = claim(
            "C1",
            Verdict::Inconclusive,
            &[("note", json!("gate failed")), ("x", json!(1))],
        );
        assert_eq!(inconclusive_reason(&c), "gate failed");
        let c = claim("C1", Verdict::Inconclusive, &[("gap", json!([0.1, null]))]);
        assert_eq!(inconclusive_reason(&c), "not finite (NaN): gap");
        let c = claim("C1", Verdict::Inconclusive, &[("x", json!(1))]);
        assert_eq!(
            inconclusive_reason(&c),
            "no reason recorded with the claim (see the report's notes)"
        );
    }

    static INFO: PaperInfo = PaperInfo {
        name: "demo",
        title: "A *demo* | paper",
        experiments: &[],
        claims: &[
            ClaimInfo {
                id: "D1",
                statement: "the gap is positive",
                criterion: "gap_mean above 0",
                experiments: &[],
            },
            ClaimInfo {
                id: "D2",
                statement: "never run",
                criterion: "c",
                experiments: &[],
            },
        ],
    };

    /// A run of the demo paper, read back from the JSON a report writes.
    fn report(profile: Profile, claims: Vec<Claim>) -> Run {
        let opts = repro_core::Options::new(profile);
        let mut r = Report::new("demo", &opts, serde_json::json!({}));
        r.git_commit = "abc123".into();
        r.seeds = vec![0, 1];
        r.wall_seconds = 12.3;
        r.claims = claims;
        Run::from_json(&serde_json::to_string(&r).unwrap()).unwrap()
    }

    #[test]
    fn dashboard_lists_every_declared_claim_with_its_verdicts() {
        use serde_json::json;
        let smoke = report(
            Profile::Smoke,
            vec![
                claim(
                    "D1",
                    Verdict::Inconclusive,
                    &[("note", json!("smoke: too few seeds"))],
                ),
                claim("X9", Verdict::Reproduced, &[("v", json!(2))]),
            ],
        );
        let quick = report(
            Profile::Quick,
            vec![claim(
                "D1",
                Verdict::Reproduced,
                &[("gap_mean", json!(0.25))],
            )],
        );
        let md = dashboard(&[&INFO], &[smoke.clone(), quick.clone()]);
        let rows: Vec<&str> = md.lines().filter(|l| l.starts_with("| **")).collect();
        assert_eq!(rows.len(), 3, "{md}");
        assert!(
            rows[0].starts_with("| **D1** the gap is positive"),
            "{}",
            rows[0]
        );
        assert!(
            rows[0]
                .contains("inconclusive</span><br><span class=\"why\">why: smoke: too few seeds"),
            "{}",
            rows[0]
        );
        assert!(
            rows[0].contains("reproduced</span><br><span class=\"key\">gap\\_mean = 0.25"),
            "{}",
            rows[0]
        );
        assert!(
            rows[0].trim_end().ends_with("not run</span> |"),
            "{}",
            rows[0]
        );
        // D2 is in no report: not run at every profile, and still listed.
        assert!(rows[1].starts_with("| **D2** never run"), "{}", rows[1]);
        assert_eq!(rows[1].matches("not run</span>").count(), 3, "{}", rows[1]);
        assert_eq!(
            rows[1].matches("not in this report").count(),
            2,
            "{}",
            rows[1]
        );
        // A claim only a report has is listed, marked.
        assert!(
            rows[2].contains("**X9**") && rows[2].contains("no longer declared"),
            "{}",
            rows[2]
        );
        assert!(md.contains("A \\*demo\\* \\| paper"), "{md}");
        assert!(
            md.contains(
                "flex · `abc123` · 2 seeds · 12 s · [report.json](results/demo/smoke/report.json)"
            ),
            "{md}"
        );
        assert!(md.contains("| smoke | 1 | 0 | 1 | 1 |"), "{md}");
        assert!(md.contains("| quick | 1 | 0 | 0 | 2 |"), "{md}");
        assert!(md.contains("| full | 0 | 0 | 0 | 3 |"), "{md}");
        // Deterministic.
        assert_eq!(md, dashboard(&[&INFO], &[smoke, quick]));
    }

    #[test]
    fn summary_must_list_every_paper_in_order() {
        let tmp = TempDir::new("book-summary");
        let s = tmp.path().join("SUMMARY.md");
        std::fs::write(&s, "- [demo](papers/demo.md)\n").unwrap();
        check_summary(&s, &[&INFO]).unwrap();
        std::fs::write(&s, "- [other](papers/other.md)\n").unwrap();
        let err = check_summary(&s, &[&INFO]).unwrap_err().to_string();
        assert!(err.contains("no chapter for demo"), "{err}");
    }

    #[test]
    fn markdown_text_is_escaped() {
        assert_eq!(
            md_text("a_b | <c> & *d*"),
            "a\\_b \\| &lt;c&gt; &amp; \\*d\\*"
        );
    }
}
