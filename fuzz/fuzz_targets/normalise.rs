//! Response-code and amount normalisers: a code read is 1-8 upper-case ASCII letters or digits
//! (a single digit padded), reading is idempotent, and amounts never panic or overflow.
#![no_main]

use poslens::ingest::normalize::{normalize_code, parse_amount};

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok((code, _)) = normalize_code(s) {
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
});
