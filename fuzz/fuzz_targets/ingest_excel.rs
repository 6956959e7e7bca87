//! The real ingest pipeline on arbitrary bytes as `input.xlsx`: reconciliation holds, no empty
//! terminal or code is accepted, no card number reaches a reject.
#![no_main]

mod pipeline;

libfuzzer_sys::fuzz_target!(|data: &[u8]| pipeline::check(data, "input.xlsx"));
