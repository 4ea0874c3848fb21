#![no_main]
//! Fuzz target `pararel` (see docs/reliability.md).

use libfuzzer_sys::fuzz_target;
use std::path::Path;
use repro_core::data::parsers::pararel::{parse_facts_jsonl, parse_patterns_jsonl};

fuzz_target!(|data: &[u8]| {
    let Some((&which, rest)) = data.split_first() else { return };
    let origin = Path::new("fuzz.jsonl");
    if which % 2 == 0 {
        drop(parse_facts_jsonl(rest, origin));
    } else {
        drop(parse_patterns_jsonl(rest, origin));
    }
});
