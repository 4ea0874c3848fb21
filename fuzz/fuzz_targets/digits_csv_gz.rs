#![no_main]
//! Fuzz target `digits_csv_gz` (see docs/reliability.md).

use libfuzzer_sys::fuzz_target;
use std::path::Path;
use repro_core::data::digits::parse_csv_gz;

fuzz_target!(|data: &[u8]| {
    let _ = parse_csv_gz(data, Path::new("digits.csv.gz"));
});
