#![no_main]
//! Fuzz target `npy` (see docs/reliability.md).

use libfuzzer_sys::fuzz_target;
use std::path::Path;
use repro_core::data::npy::parse_npy;

fuzz_target!(|data: &[u8]| {
    let origin = Path::new("fuzz.npy");
    if let Ok(a) = parse_npy(data, origin) {
        let _ = a.to_i64_vec(origin);
        let _ = a.as_f32(origin);
        let _ = a.as_strings(origin);
        let _ = a.vector_len(origin);
    }
});
