//! The table of implemented papers. A paper appears here once its crate reproduces
//! something real; there are no placeholders.

use repro_core::{Options, Report};

/// One implemented paper.
pub struct Paper {
    /// Crate folder name, used on the command line.
    pub name: &'static str,
    /// Title, authors and venue.
    pub title: &'static str,
    /// `(id, statement)` of each checked claim.
    pub claims: &'static [(&'static str, &'static str)],
    /// Runs the reproduction.
    pub reproduce: fn(&Options) -> anyhow::Result<Report>,
}

/// Every implemented paper, in the order of the README's table.
pub const PAPERS: &[Paper] = &[
    Paper {
        name: "graph-ood",
        title: "Dissecting the Failure of Invariant Learning on Graphs (CIA, CIA-LRA; NeurIPS 2024)",
        claims: repro_graph_ood::CLAIMS,
        reproduce: repro_graph_ood::reproduce,
    },
    Paper {
        name: "long-context",
        title: "What is Wrong with Perplexity for Long-context Language Modeling? (LongPPL, LongCE; ICLR 2025)",
        claims: repro_long_context::CLAIMS,
        reproduce: repro_long_context::reproduce,
    },
    Paper {
        name: "monosemantic",
        title: "Beyond Interpretability: The Gains of Feature Monosemanticity on Model Robustness (ICLR 2025)",
        claims: repro_monosemantic::CLAIMS,
        reproduce: repro_monosemantic::reproduce,
    },
    Paper {
        name: "flowdiff",
        title: "FlowDiff: Integrating Amortized Inference with Diffusion Models for Learning Clean Distribution from Corrupted Images (2024)",
        claims: repro_flowdiff::CLAIMS,
        reproduce: repro_flowdiff::reproduce,
    },
];

/// Finds a paper by name, with a helpful error.
pub fn find(name: &str) -> anyhow::Result<&'static Paper> {
    PAPERS.iter().find(|p| p.name == name).ok_or_else(|| {
        let known: Vec<&str> = PAPERS.iter().map(|p| p.name).collect();
        anyhow::anyhow!(
            "unknown or not yet implemented paper `{name}`; implemented: {}",
            if known.is_empty() {
                "none yet (see the README's paper table)".to_owned()
            } else {
                known.join(", ")
            }
        )
    })
}

/// `cargo xtask list`.
pub fn list() {
    if PAPERS.is_empty() {
        println!(
            "No paper is implemented yet: the workspace holds repro-core only (see README.md)."
        );
        return;
    }
    for p in PAPERS {
        println!("{:<16} {}", p.name, p.title);
        for (id, statement) in p.claims {
            println!("{:<16}   {id}: {statement}", "");
        }
    }
}
