//! The chunk splitter: its cut is exactly the last line end outside a quoted field, by the
//! csv crate's quoting rule (a quote opens a quoted field only at the start of a field, `""`
//! inside one is a literal quote, any other quote is data), so no record is ever split between
//! two chunks. Checked against a plain byte-by-byte reading of that rule.
#![no_main]

use poslens::ingest::csv::split_point;

mod csv_reference;
use csv_reference::reference;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    for delimiter in [b',', b';', b'\t'] {
        let cut = split_point(data, delimiter);
        assert_eq!(cut, reference(data, delimiter), "delimiter {delimiter}");
        if let Some(cut) = cut {
            assert_eq!(data[cut - 1], b'\n', "cut not after a line end");
        }
    }
});
