//! Every input the fuzz targets (`fuzz/`, README "Fuzzing") ever broke poslens with, kept in
//! `tests/fixtures/fuzz/<target>/` and replayed here with the target's own checks, so a fixed
//! bug stays fixed without the nightly toolchain.

#[path = "../fuzz/fuzz_targets/csv_reference.rs"]
mod csv_reference;
#[path = "../fuzz/fuzz_targets/pipeline.rs"]
mod pipeline;

use std::path::Path;

use poslens::ingest::csv::split_point;
use poslens::ingest::normalize::{normalize_code, parse_timestamp};

fn findings(target: &str) -> Vec<(String, Vec<u8>)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/fuzz")
        .join(target);
    let Ok(entries) = std::fs::read_dir(&dir) else {
        return Vec::new();
    };
    let mut out: Vec<(String, Vec<u8>)> = entries
        .map(|e| {
            let p = e.unwrap().path();
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            (name, std::fs::read(&p).unwrap())
        })
        .collect();
    out.sort();
    out
}

#[test]
fn every_fuzz_finding_stays_fixed() {
    let mut replayed = 0;
    for (name, data) in findings("csv_split") {
        for delimiter in [b',', b';', b'\t'] {
            assert_eq!(
                split_point(&data, delimiter),
                csv_reference::reference(&data, delimiter),
                "csv_split/{name}"
            );
        }
        replayed += 1;
    }
    for (name, data) in findings("timestamp") {
        let s = String::from_utf8_lossy(&data);
        for tz in [
            chrono_tz::Tz::UTC,
            chrono_tz::Tz::Asia__Kolkata,
            chrono_tz::Tz::America__New_York,
        ] {
            if let Ok(t) = parse_timestamp(&s, tz) {
                assert!(
                    (-62_167_305_600..=253_402_387_200).contains(&t),
                    "timestamp/{name}: {s:?} -> {t}"
                );
            }
        }
        replayed += 1;
    }
    for (name, data) in findings("normalise") {
        let s = String::from_utf8_lossy(&data);
        if let Ok((code, _)) = normalize_code(&s) {
            assert!(
                code.bytes()
                    .all(|b| b.is_ascii_digit() || b.is_ascii_uppercase()),
                "normalise/{name}: {code:?}"
            );
            assert_eq!(
                normalize_code(&code).map(|(c, _)| c),
                Ok(code.clone()),
                "normalise/{name}"
            );
        }
        replayed += 1;
    }
    for (target, file) in [
        ("ingest_csv", "input.csv"),
        ("ingest_jsonl", "input.jsonl"),
        ("ingest_jpos", "input.xml"),
        ("ingest_excel", "input.xlsx"),
    ] {
        for (_, data) in findings(target) {
            pipeline::check(&data, file);
            replayed += 1;
        }
    }
    // The findings of the first campaign at least (a five-digit year, a quote inside an
    // unquoted field, a workbook that made the Excel reader panic).
    assert!(replayed >= 3, "no findings replayed");
}
