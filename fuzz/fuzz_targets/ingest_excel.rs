//! The real ingest pipeline on arbitrary bytes as `input.xlsx`: reconciliation holds, no
//! empty terminal or code is accepted, no card number reaches a reject.
//!
//! calamine panics on some damaged workbooks; poslens catches that around each call into it
//! and reports the file as damaged (tests/fixtures/fuzz/ingest_excel/). libfuzzer-sys aborts
//! on every panic, caught or not, so here a panic raised inside calamine is let through to
//! poslens' guard; any other panic still aborts and is a finding.
#![no_main]

mod pipeline;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    pipeline::let_calamine_panics_through();
    pipeline::check(data, "input.xlsx")
});
