#![no_main]
//! Fuzz target `llm_failures` (see docs/reliability.md).

use libfuzzer_sys::fuzz_target;
use std::path::Path;
use repro_core::data::parsers::llm_failures::parse_failures_json;

fuzz_target!(|data: &[u8]| {
    let _ = parse_failures_json(data, Path::new("failures.json"));
});
