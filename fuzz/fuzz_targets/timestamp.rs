//! The timestamp parser (hand-written fast path and the general one): never panics, the same
//! text always gives the same instant, and an instant read is in a sane range.
#![no_main]

use poslens::ingest::normalize::parse_timestamp;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
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
});
