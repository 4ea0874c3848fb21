#![no_main]
//! Fuzz target `nlbse` (see docs/reliability.md).

use libfuzzer_sys::fuzz_target;
use std::path::Path;
use repro_core::data::parsers::nlbse::parse_issues_csv;

fuzz_target!(|data: &[u8]| {
    let _ = parse_issues_csv(data, Path::new("issues.csv"));
});
