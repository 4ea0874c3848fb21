//! The table of implemented papers: each crate's [`Paper`] descriptor. A paper appears here
//! once its crate reproduces something real; there are no placeholders.

pub use repro_core::experiment::Paper;

/// Every implemented paper, in the order of the README's table.
pub const PAPERS: &[Paper] = &[
    repro_graph_ood::PAPER,
    repro_long_context::PAPER,
    repro_monosemantic::PAPER,
    repro_flowdiff::PAPER,
    repro_llm_issues::PAPER,
    repro_icl_ood::PAPER,
    repro_contrastive_fa::PAPER,
    repro_factual_recall::PAPER,
    repro_mim_tokens::PAPER,
    repro_generative_ssl::PAPER,
];

/// Finds a paper by name, with a helpful error.
pub fn find(name: &str) -> anyhow::Result<&'static Paper> {
    PAPERS.iter().find(|p| p.info.name == name).ok_or_else(|| {
        let known: Vec<&str> = PAPERS.iter().map(|p| p.info.name).collect();
        anyhow::anyhow!(
            "unknown or not yet implemented paper `{name}`; implemented: {}",
            known.join(", ")
        )
    })
}

/// `cargo xtask list`: papers, their experiments (`--only` names) and claims.
pub fn list() {
    for p in PAPERS {
        let i = p.info;
        println!("{:<16} {}", i.name, i.title);
        println!(
            "{:<16}   experiments (--only): {}",
            "",
            i.experiment_names().join(", ")
        );
        for c in i.claims {
            println!("{:<16}   {}: {}", "", c.id, c.statement);
        }
    }
}
