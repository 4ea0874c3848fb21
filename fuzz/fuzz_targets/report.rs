#![no_main]
//! Fuzz target `report` (see docs/reliability.md).

use libfuzzer_sys::fuzz_target;
use repro_core::report::Report;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data)
        && let Ok(r) = Report::from_json(text)
    {
        // What `cargo xtask report` and the book do with a report read back.
        let _ = r.to_markdown();
        let _ = r.claims_table();
    }
});
