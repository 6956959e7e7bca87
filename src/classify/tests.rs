//! Tests of the built-in catalogs as data (duplicates, classes, languages, SPEC's fixed points)
//! and of user tables (override, extend, prefix stripping, clear errors).

use super::*;
use std::io::Write;

fn iso() -> Catalog {
    Catalog::load("iso8583", None).unwrap()
}

fn cup() -> Catalog {
    Catalog::load("cup", None).unwrap()
}

#[test]
fn builtin_files_have_no_duplicate_codes() {
    for text in [ISO8583, CUP] {
        let raw: RawCatalog = toml::from_str(text).unwrap();
        let mut seen = std::collections::BTreeSet::new();
        for e in &raw.codes {
            assert!(
                seen.insert(e.code.get_ref().clone()),
                "duplicate {}",
                e.code.get_ref()
            );
        }
    }
}

#[test]
fn every_entry_has_a_class_and_both_languages() {
    for cat in [iso(), cup()] {
        assert!(
            cat.len() >= 100,
            "{} has only {} codes",
            cat.profile,
            cat.len()
        );
        for e in cat.entries() {
            assert_ne!(e.class, Class::Unknown, "{}", e.code);
            for (lang, t) in [("en", &e.en), ("zh", &e.zh)] {
                assert!(!t.meaning.trim().is_empty(), "{} {lang} meaning", e.code);
                assert!(!t.action.trim().is_empty(), "{} {lang} action", e.code);
                assert!(!t.causes.is_empty(), "{} {lang} causes", e.code);
            }
            assert!(
                e.zh.meaning
                    .chars()
                    .any(|c| ('\u{4e00}'..='\u{9fff}').contains(&c)),
                "{}: zh meaning is not Chinese: {}",
                e.code,
                e.zh.meaning
            );
            assert!(!e.who.is_empty(), "{} who", e.code);
            assert!(!e.source.trim().is_empty(), "{} source", e.code);
            // The two languages say the same things: one Chinese cause or reading per English one.
            assert_eq!(e.en.causes.len(), e.zh.causes.len(), "{} causes", e.code);
            assert_eq!(
                e.en.readings.len(),
                e.zh.readings.len(),
                "{} readings",
                e.code
            );
        }
    }
}

#[test]
fn iso8583_covers_00_to_99_and_emv_codes() {
    let cat = iso();
    for n in 0..100 {
        let code = format!("{n:02}");
        assert!(cat.lookup(&code).is_some(), "missing {code}");
    }
    for code in ["Y1", "Y3", "Z1", "Z3", "9997"] {
        assert!(cat.lookup(code).is_some(), "missing {code}");
    }
}

/// SPEC's fixed points, which the default profile must keep.
const FIXED_POINTS: &[(&str, Class)] = &[
    ("00", Class::Approved),
    ("05", Class::Declined),
    ("51", Class::Declined),
    ("54", Class::Declined),
    ("55", Class::Declined),
    ("61", Class::Declined),
    ("04", Class::Fraud),
    ("07", Class::Fraud),
    ("34", Class::Fraud),
    ("41", Class::Fraud),
    ("43", Class::Fraud),
    ("59", Class::Fraud),
    ("68", Class::Network),
    ("91", Class::Network),
    ("96", Class::Network),
    ("03", Class::Terminal),
    ("30", Class::Terminal),
    ("58", Class::Terminal),
    ("9997", Class::Terminal),
];

/// Where the `cup` profile departs from a fixed point because UnionPay's own table reads the
/// code differently (README names these): Q/CUP 006.6-2014 answers 59 (CVN check failed) with a
/// plain failure, not a capture.
const CUP_DEPARTURES: &[(&str, Class)] = &[("59", Class::Declined)];

#[test]
fn spec_fixed_points_hold() {
    let iso = iso();
    for (code, class) in FIXED_POINTS {
        assert_eq!(iso.class_of(code), *class, "{code} in iso8583");
    }
    assert_eq!(iso.class_of("QQ"), Class::Unknown);
    let cup = cup();
    for (code, class) in FIXED_POINTS {
        let want = CUP_DEPARTURES
            .iter()
            .find(|(c, _)| c == code)
            .map_or(*class, |(_, d)| *d);
        assert_eq!(cup.class_of(code), want, "{code} in cup");
    }
    assert_eq!(cup.class_of("QQ"), Class::Unknown);
}

#[test]
fn code_34_and_9997_explain_their_readings() {
    let cat = iso();
    let e34 = cat.lookup("34").unwrap();
    assert!(!e34.en.readings.is_empty() && !e34.zh.readings.is_empty());
    let e9997 = cat.lookup("9997").unwrap();
    assert!(
        e9997.en.causes.len() >= 4,
        "9997 causes: {:?}",
        e9997.en.causes
    );
}

#[test]
fn cup_profile_adds_a_codes_and_overrides_meanings() {
    let (iso, cup) = (iso(), cup());
    for n in 0..8 {
        let code = format!("A{n}");
        assert!(cup.lookup(&code).is_some(), "cup lacks {code}");
        assert!(iso.lookup(&code).is_none(), "iso has {code}");
    }
    for code in ["22", "97", "98", "99"] {
        assert_ne!(
            cup.lookup(code).unwrap().en.meaning,
            iso.lookup(code).unwrap().en.meaning,
            "cup should give its own meaning of {code}"
        );
    }
    assert!(cup.lookup("00").unwrap().cup_class.is_some());
    assert!(!cup.cup_classes.is_empty());
}

fn user_file(ext: &str, text: &str) -> tempfile::NamedTempFile {
    let mut f = tempfile::Builder::new().suffix(ext).tempfile().unwrap();
    f.write_all(text.as_bytes()).unwrap();
    f
}

#[test]
fn user_toml_overrides_extends_and_strips_prefix() {
    let f = user_file(
        ".toml",
        r#"
strip_prefix = ["00"]
[[codes]]
code = "N7"
class = "declined"
meaning = "CVV2 mismatch"
causes = ["wrong security code typed"]
action = "Ask for the card again"
[[codes]]
code = "91"
class = "terminal"
meaning = "Host link down at our acquirer"
"#,
    );
    let cat = Catalog::load("iso8583", Some(f.path())).unwrap();
    assert_eq!(cat.class_of("N7"), Class::Declined);
    assert_eq!(cat.class_of("91"), Class::Terminal);
    assert_eq!(
        cat.lookup("91").unwrap().en.meaning,
        "Host link down at our acquirer"
    );
    assert_eq!(cat.class_of("0051"), Class::Declined);
    assert_eq!(cat.lookup("0051").unwrap().code, "51");
    assert_ne!(cat.sha256, iso().sha256);
}

#[test]
fn user_csv_table_works() {
    let f = user_file(
        ".csv",
        "code,class,meaning,causes,action,retry\nN7,declined,CVV2 mismatch,typo;wrong card,Ask again,yes\nstrip_prefix:200,,,,,\n",
    );
    let cat = Catalog::load("iso8583", Some(f.path())).unwrap();
    let e = cat.lookup("N7").unwrap();
    assert_eq!(e.class, Class::Declined);
    assert_eq!(e.en.causes, vec!["typo", "wrong card"]);
    assert!(e.retry);
    assert_eq!(cat.class_of("20051"), Class::Declined);
}

#[test]
fn malformed_user_files_name_file_and_line() {
    let f = user_file(".toml", "[[codes]]\ncode = \"X1\"\nclass = \"declined\"\nmeaning = \"x\"\n\n[[codes]]\ncode = \"X2\"\nclass = \"broken\"\nmeaning = \"y\"\n");
    let err = Catalog::load("iso8583", Some(f.path()))
        .unwrap_err()
        .to_string();
    assert!(
        err.contains(":7:") && err.contains("unknown class \"broken\""),
        "{err}"
    );

    let f = user_file(".toml", "[[codes]]\ncode = \"X1\"\nclass = \n");
    let err = Catalog::load("iso8583", Some(f.path()))
        .unwrap_err()
        .to_string();
    assert!(err.contains(":3:"), "{err}");

    let f = user_file(
        ".csv",
        "code,class,meaning\nX1,declined,ok\nX2,nonsense,bad\n",
    );
    let err = Catalog::load("iso8583", Some(f.path()))
        .unwrap_err()
        .to_string();
    assert!(err.contains(":3:") && err.contains("nonsense"), "{err}");

    let f = user_file(
        ".toml",
        "[[codes]]\ncode = \"X9\"\nmeaning = \"no class\"\n",
    );
    let err = Catalog::load("iso8583", Some(f.path()))
        .unwrap_err()
        .to_string();
    assert!(err.contains("class is missing"), "{err}");
}

/// Issue 15: only terminal-class codes count against a terminal, so an answer that reports
/// success must never be classed `terminal`. Every code whose meaning reads as an approval is
/// classed `approved` (the class is the only thing analysis looks at, so this is structural).
#[test]
fn approval_codes_are_never_counted_against_a_terminal() {
    let approval_words = [
        "approved",
        "honour with",
        "success",
        "completed partially",
        "no reason to decline",
        "purchase amount only",
    ];
    for cat in [iso(), cup()] {
        for e in cat.entries() {
            let m = e.en.meaning.to_lowercase();
            let negated = m.contains("declined") || m.contains("not success");
            if approval_words.iter().any(|w| m.contains(w)) && !negated {
                assert_eq!(e.class, Class::Approved, "{} {}: {m}", cat.profile, e.code);
                assert_ne!(cat.class_of(&e.code), Class::Terminal);
            }
        }
    }
}

/// Issue 15: hotel terminals doing account verifications were flagged for `85`.
#[test]
fn code_85_is_an_approval_and_87_a_partial_approval() {
    for cat in [iso(), cup()] {
        for code in ["85", "87"] {
            let e = cat.lookup(code).unwrap();
            assert_eq!(e.class, Class::Approved, "{code} in {}", cat.profile);
            assert!(e.transaction, "{code} is a real answer");
        }
        assert!(cat
            .lookup("85")
            .unwrap()
            .en
            .meaning
            .contains("No reason to decline"));
        assert!(cat
            .lookup("87")
            .unwrap()
            .en
            .meaning
            .contains("no cash back"));
    }
}

/// Issue 15: offline declines are the card's or the terminal's risk decision, not a fault.
#[test]
fn offline_declines_z1_z3_are_declines() {
    for cat in [iso(), cup()] {
        for code in ["Z1", "Z3"] {
            assert_eq!(
                cat.class_of(code),
                Class::Declined,
                "{code} in {}",
                cat.profile
            );
        }
        for code in ["Y1", "Y3"] {
            assert_eq!(
                cat.class_of(code),
                Class::Approved,
                "{code} in {}",
                cat.profile
            );
        }
    }
    // Y1 reused by Chinese vendors for a track-2 read error: a reading, not a new class.
    let y1 = iso().lookup("Y1").unwrap().clone();
    assert!(y1.en.readings.iter().any(|r| r.contains("track-2")));
    assert!(y1.zh.readings.iter().any(|r| r.contains("二磁道")));
}

/// Issue 15: refusals caused by the card's issuer (or its bank's reachability) are not the
/// terminal's doing; the private-use range follows the card schemes' meanings.
#[test]
fn issuer_side_refusals_are_not_terminal_faults() {
    let iso = iso();
    for code in [
        "15", "31", "40", "76", "77", "78", "79", "80", "82", "83", "84", "86", "88", "89",
    ] {
        assert_eq!(iso.class_of(code), Class::Declined, "{code}");
    }
    // 81 stays terminal: Visa's PIN cryptographic error, GICC's message-flow error.
    assert_eq!(iso.class_of("81"), Class::Terminal);
    // A pick-up code is fraud by SPEC's definition; other readings are readings.
    let e04 = iso.lookup("04").unwrap();
    assert_eq!(e04.class, Class::Fraud);
    assert!(e04.en.readings.iter().any(|r| r.contains("no fraud")));
    let e33 = iso.lookup("33").unwrap();
    assert_eq!(e33.class, Class::Fraud);
    assert!(e33.en.readings.iter().any(|r| r.contains("GICC")));
    // UnionPay: PIN tries exceeded and CVN failure are plain failures, no capture.
    let cup = cup();
    assert_eq!(iso.class_of("38"), Class::Fraud);
    assert_eq!(cup.class_of("38"), Class::Declined);
    assert_eq!(cup.class_of("59"), Class::Declined);
    // Chinese POS hosts' 77-79 are terminal-side (batch, download, offline upload).
    for code in ["77", "78", "79"] {
        assert_eq!(cup.class_of(code), Class::Terminal, "{code} in cup");
    }
}

/// The catalog's rule: `terminal` only when the terminal, its set-up or the acquirer's side
/// caused it, so someone on that side (merchant or acquirer) is always the one to act.
#[test]
fn terminal_codes_are_for_the_merchant_or_acquirer_to_fix() {
    for cat in [iso(), cup()] {
        for e in cat.entries().filter(|e| e.class == Class::Terminal) {
            assert!(
                e.who
                    .iter()
                    .any(|w| matches!(w, Who::Merchant | Who::Acquirer)),
                "{} {}: who {:?}",
                cat.profile,
                e.code,
                e.who
            );
        }
    }
}

#[test]
fn cup_profile_has_every_annex_a2_transaction_code() {
    let (iso, cup) = (iso(), cup());
    for code in ["A8", "B1", "C1", "N1", "P1"] {
        let e = cup
            .lookup(code)
            .unwrap_or_else(|| panic!("cup lacks {code}"));
        assert!(e.source.contains("Q/CUP 006.6-2014"), "{code}");
        assert!(iso.lookup(code).is_none(), "iso has {code}");
    }
    assert_eq!(cup.class_of("A8"), Class::Terminal);
    assert_eq!(cup.class_of("C1"), Class::Terminal);
    for code in ["B1", "N1", "P1"] {
        assert_eq!(cup.class_of(code), Class::Declined, "{code}");
    }
}

/// Issue 15: ISO `09` "request in progress" is an intermediate message (GICC hosts send several
/// "wait" messages before the real answer), not a transaction; UnionPay's table makes it a final
/// "resubmit" failure, which is one.
#[test]
fn request_in_progress_is_not_a_transaction() {
    let (iso, cup) = (iso(), cup());
    assert!(!iso.is_transaction("09"));
    assert!(!iso.lookup("09").unwrap().transaction);
    assert!(cup.is_transaction("09"));
    assert_eq!(cup.class_of("09"), Class::Network);
    // Nothing else is marked, and codes the catalog does not know still count.
    for cat in [&iso, &cup] {
        let marked: Vec<&str> = cat
            .entries()
            .filter(|e| !e.transaction)
            .map(|e| e.code.as_str())
            .collect();
        let want: &[&str] = if cat.profile == "iso8583" {
            &["09"]
        } else {
            &[]
        };
        assert_eq!(marked, want, "{}", cat.profile);
        assert!(cat.is_transaction("QQ"));
        assert!(cat.is_transaction("00"));
    }
    // Prefix stripping applies as for the class.
    let f = user_file(".toml", "strip_prefix = [\"00\"]\n");
    let cat = Catalog::load("iso8583", Some(f.path())).unwrap();
    assert!(!cat.is_transaction("0009"));
}

#[test]
fn user_files_can_mark_non_transaction_codes() {
    let f = user_file(
        ".toml",
        "[[codes]]\ncode = \"W9\"\nclass = \"network\"\nmeaning = \"Wait\"\ntransaction = false\n[[codes]]\ncode = \"09\"\ntransaction = true\n",
    );
    let cat = Catalog::load("iso8583", Some(f.path())).unwrap();
    assert!(!cat.is_transaction("W9"));
    assert!(
        cat.is_transaction("09"),
        "a user file can turn 09 back into a transaction"
    );
    assert_eq!(
        cat.class_of("09"),
        Class::Network,
        "only the attribute changed"
    );

    let f = user_file(
        ".csv",
        "code,class,meaning,transaction\nW9,network,Wait,no\nW8,declined,Refused,\n",
    );
    let cat = Catalog::load("iso8583", Some(f.path())).unwrap();
    assert!(!cat.is_transaction("W9"));
    assert!(cat.is_transaction("W8"));

    let f = user_file(
        ".csv",
        "code,class,meaning,transaction\nW9,network,Wait,maybe\n",
    );
    let err = Catalog::load("iso8583", Some(f.path()))
        .unwrap_err()
        .to_string();
    assert!(
        err.contains(":2:") && err.contains("transaction must be yes or no"),
        "{err}"
    );
}
