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

#[test]
fn spec_fixed_points_hold() {
    for cat in [iso(), cup()] {
        let fixed: &[(&str, Class)] = &[
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
        for (code, class) in fixed {
            assert_eq!(cat.class_of(code), *class, "{} in {}", code, cat.profile);
        }
        assert_eq!(cat.class_of("QQ"), Class::Unknown);
    }
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
