#![no_main]
//! Fuzz target `npz` (see docs/reliability.md).

use libfuzzer_sys::fuzz_target;
use std::path::Path;
use repro_core::data::npy::parse_npz;

fuzz_target!(|data: &[u8]| {
    let _ = parse_npz(data, Path::new("fuzz.npz"));
});
