#![no_main]
//! Fuzz target `citation_npz` (see docs/reliability.md).

use libfuzzer_sys::fuzz_target;
use std::path::Path;
use repro_core::data::parsers::citation::parse_sparse_graph_npz;

fuzz_target!(|data: &[u8]| {
    let _ = parse_sparse_graph_npz(data, Path::new("fuzz.npz"));
});
