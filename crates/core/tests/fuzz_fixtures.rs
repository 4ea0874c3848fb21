//! Every crafted or fuzz-found input under `fuzz/fixtures/<target>/` goes through the parser
//! its target fuzzes, on stable, in every `cargo xtask ci`: none may panic, and each is
//! refused with an error (they are all malformed: huge shapes, overflowing dimensions, an
//! archive member claiming 4 GiB). The crafted valid seeds under `fuzz/seeds/<target>/`
//! must parse, or they would seed nothing.

use std::path::{Path, PathBuf};

use repro_core::data::npy::{parse_npy, parse_npz};
use repro_core::data::parsers::citation::parse_sparse_graph_npz;

fn fixtures(target: &str) -> Vec<PathBuf> {
    files("fixtures", target)
}

fn files(kind: &str, target: &str) -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../fuzz")
        .join(kind)
        .join(target);
    let mut out: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .collect();
    out.sort();
    out
}

#[test]
fn hostile_npy_headers_are_refused_before_allocating() {
    let files = fixtures("npy");
    assert!(files.len() >= 3, "{files:?}");
    for f in files {
        let bytes = std::fs::read(&f).unwrap();
        let e = parse_npy(&bytes, &f).expect_err(&f.display().to_string());
        assert!(e.to_string().contains(&*f.to_string_lossy()), "{e}");
    }
}

#[test]
fn hostile_npz_archives_are_refused() {
    let files = fixtures("npz");
    assert!(!files.is_empty());
    for f in files {
        let bytes = std::fs::read(&f).unwrap();
        let e = parse_npz(&bytes, &f).expect_err(&f.display().to_string());
        assert!(!e.to_string().is_empty());
    }
}

#[test]
fn crafted_seeds_parse() {
    let files = files("seeds", "citation_npz");
    assert_eq!(files.len(), 2);
    for f in files {
        let bytes = std::fs::read(&f).unwrap();
        let g = parse_sparse_graph_npz(&bytes, &f).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(g.labels.len(), 4, "{}", f.display());
    }
}
