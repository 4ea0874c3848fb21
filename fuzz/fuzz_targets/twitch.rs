#![no_main]
//! Fuzz target `twitch` (see docs/reliability.md).

use libfuzzer_sys::fuzz_target;
use std::path::Path;
use repro_core::data::parsers::twitch::{parse_edges_csv, parse_features_json, parse_target_csv};

// First byte: which file; the rest: its bytes.
fuzz_target!(|data: &[u8]| {
    let Some((&which, rest)) = data.split_first() else { return };
    let origin = Path::new("fuzz.csv");
    match which % 3 {
        0 => drop(parse_edges_csv(rest, origin)),
        1 => drop(parse_features_json(rest, origin)),
        _ => drop(parse_target_csv(rest, origin)),
    }
});
