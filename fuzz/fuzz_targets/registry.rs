#![no_main]
//! Fuzz target `registry` (see docs/reliability.md).

use libfuzzer_sys::fuzz_target;
use repro_core::data::Registry;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = Registry::parse(text);
    }
});
