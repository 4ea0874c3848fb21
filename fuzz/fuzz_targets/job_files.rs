#![no_main]
//! Fuzz target `job_files` (see docs/reliability.md).

use libfuzzer_sys::fuzz_target;
use repro_core::experiment::{PlanFile, decode_job_payload, decode_job_record};

// First byte: job record (JSON), payload (CBOR) or plan.json.
fuzz_target!(|data: &[u8]| {
    let Some((&which, rest)) = data.split_first() else { return };
    match which % 3 {
        0 => {
            if let Ok(text) = std::str::from_utf8(rest) {
                let _ = decode_job_record(text);
            }
        }
        1 => drop(decode_job_payload::<serde_json::Value>(rest)),
        _ => {
            if let Ok(text) = std::str::from_utf8(rest) {
                let _ = serde_json::from_str::<PlanFile>(text);
            }
        }
    }
});
