//! The real ingest pipeline on an `.xlsx` built around fuzzed XML parts (sheet, shared
//! strings, styles; see `pipeline::xlsx_from_parts`): the same invariants as the other ingest
//! targets. `ingest_excel` feeds raw bytes, which reach `.xls` well but seldom get an `.xlsx`
//! past its zip CRCs; this one starts inside the package.
#![no_main]

mod pipeline;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    static HOOK: std::sync::Once = std::sync::Once::new();
    HOOK.call_once(|| {
        // As in ingest_excel: a panic raised inside calamine is poslens' guard's to catch.
        let fuzzer_hook = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let in_calamine = info
                .location()
                .is_some_and(|l| l.file().contains("/calamine-"));
            if !in_calamine {
                fuzzer_hook(info);
            }
        }));
    });
    pipeline::check(&pipeline::xlsx_from_parts(data), "input.xlsx")
});
