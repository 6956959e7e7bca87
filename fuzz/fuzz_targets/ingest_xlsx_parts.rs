//! The real ingest pipeline on an `.xlsx` built around fuzzed XML parts (sheet, shared
//! strings, styles; see `pipeline::xlsx_from_parts`): the same invariants as the other ingest
//! targets. `ingest_excel` feeds raw bytes, which reach `.xls` well but seldom get an `.xlsx`
//! past its zip CRCs; this one starts inside the package.
#![no_main]

mod pipeline;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    pipeline::let_calamine_panics_through();
    pipeline::check(&pipeline::xlsx_from_parts(data), "input.xlsx")
});
