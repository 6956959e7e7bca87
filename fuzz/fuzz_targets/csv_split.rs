//! Fuzz target: the invariants of `checks::csv_split` (fuzz_targets/checks.rs).
#![no_main]

mod checks;
mod csv_reference;

libfuzzer_sys::fuzz_target!(|data: &[u8]| checks::csv_split(data));
