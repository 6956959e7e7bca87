//! The invariants of the small fuzz targets, as functions, so `cargo test`
//! (tests/fuzz_regressions.rs) replays findings and the corpus with exactly the checks the
//! fuzzer ran. Each target uses one of them.
#![allow(dead_code)]

use poslens::ingest::csv::split_point;
use poslens::ingest::normalize::{normalize_code, parse_amount, parse_timestamp, NO_RESPONSE};

use super::csv_reference::reference;

/// The chunk splitter: its cut is exactly the last line end outside a quoted field, by the
/// csv crate's quoting rule (a quote opens a quoted field only at the start of a field, `""`
/// inside one is a literal quote, any other quote is data), so no record is ever split between
/// two chunks. Checked against a plain byte-by-byte reading of that rule.
pub fn csv_split(data: &[u8]) {
    for delimiter in [b',', b';', b'\t'] {
        let cut = split_point(data, delimiter);
        assert_eq!(cut, reference(data, delimiter), "delimiter {delimiter}");
        if let Some(cut) = cut {
            assert_eq!(data[cut - 1], b'\n', "cut not after a line end");
        }
    }
}

/// The timestamp parser (hand-written fast path and the general one): never panics, the same
/// text always gives the same instant, and an instant read is in a sane range.
pub fn timestamp(data: &[u8]) {
    let Ok(s) = std::str::from_utf8(data) else {
        return;
    };
    for tz in [
        chrono_tz::Tz::UTC,
        chrono_tz::Tz::Asia__Kolkata,
        chrono_tz::Tz::America__New_York,
    ] {
        let a = parse_timestamp(s, tz);
        assert_eq!(a, parse_timestamp(s, tz), "not deterministic");
        if let Ok(t) = a {
            // Years 0..=9999 (with a day of offsets either side).
            assert!(
                (-62_167_305_600..=253_402_387_200).contains(&t),
                "{s:?} -> {t}"
            );
        }
    }
}

/// Response-code and amount normalisers: a code read is 1-8 upper-case ASCII letters or
/// digits (a single digit padded), or exactly `NO_RESPONSE` (what the jPOS reader writes for
/// a request that got no answer); reading is idempotent, and amounts never panic or overflow.
pub fn normalise(data: &[u8]) {
    let Ok(s) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok((code, _)) = normalize_code(s) {
        if code == NO_RESPONSE {
            // only ever from that word itself, in any case, quoted or padded
            assert!(
                s.to_ascii_uppercase().contains(NO_RESPONSE),
                "{s:?} -> {code:?}"
            );
        } else {
            assert!(
                (2..=8).contains(&code.len())
                    || code.len() == 1 && !code.as_bytes()[0].is_ascii_digit(),
                "{code:?}"
            );
            assert!(
                code.bytes()
                    .all(|b| b.is_ascii_digit() || b.is_ascii_uppercase()),
                "{code:?}"
            );
        }
        assert_eq!(
            normalize_code(&code).map(|(c, _)| c),
            Ok(code.clone()),
            "not idempotent"
        );
    }
    for currency in [None, Some("CNY"), Some("JPY"), Some("KWD")] {
        for decimal_comma in [false, true] {
            let _ = parse_amount(s, false, currency, decimal_comma);
            let _ = parse_amount(s, true, currency, decimal_comma);
        }
    }
}
