#![no_main]
//! Fuzz target `webkb` (see docs/reliability.md).

use libfuzzer_sys::fuzz_target;
use std::path::Path;
use repro_core::data::parsers::webkb::{parse_edges, parse_node_features, parse_split};

// First byte: which file; the rest: its bytes (node counts from the second byte).
fuzz_target!(|data: &[u8]| {
    let Some((&which, rest)) = data.split_first() else { return };
    let origin = Path::new("fuzz.txt");
    match which % 3 {
        0 => drop(parse_node_features(rest, origin)),
        1 => {
            let n = rest.first().map_or(0, |&b| usize::from(b));
            drop(parse_edges(rest, origin, n));
        }
        _ => {
            let n = rest.first().map_or(0, |&b| usize::from(b));
            drop(parse_split(rest, origin, n));
        }
    }
});
