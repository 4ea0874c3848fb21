#![no_main]
//! Fuzz target `shakespeare` (see docs/reliability.md).

use libfuzzer_sys::fuzz_target;
use std::path::Path;
use repro_core::data::parsers::shakespeare::parse_text;

fuzz_target!(|data: &[u8]| {
    let _ = parse_text(data, Path::new("input.txt"));
});
