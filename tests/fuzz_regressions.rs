//! Every input the fuzz targets (`fuzz/`, README "Fuzzing") ever broke poslens with, kept in
//! `tests/fixtures/fuzz/<target>/`, and the minimised corpus of the last campaign
//! (`tests/fixtures/fuzz/corpus/`), replayed here with the checks the fuzzer runs, so a fixed
//! bug stays fixed and the corpus stays clean without the nightly toolchain.

#[path = "../fuzz/fuzz_targets/checks.rs"]
mod checks;
#[path = "../fuzz/fuzz_targets/csv_reference.rs"]
mod csv_reference;
#[path = "../fuzz/fuzz_targets/pipeline.rs"]
mod pipeline;

use std::path::Path;

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

/// The corpus a fuzzing campaign ended with, minimised (`fuzz/pack.sh`): one input per line,
/// in hex, in `tests/fixtures/fuzz/corpus/<target>.hex`.
fn corpus(target: &str) -> Vec<(String, Vec<u8>)> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/fuzz/corpus")
        .join(format!("{target}.hex"));
    let Ok(text) = std::fs::read_to_string(&path) else {
        return Vec::new();
    };
    text.lines()
        .enumerate()
        .map(|(i, line)| {
            let bytes = (0..line.len())
                .step_by(2)
                .map(|j| u8::from_str_radix(&line[j..j + 2], 16).expect("hex"))
                .collect();
            (format!("corpus line {}", i + 1), bytes)
        })
        .collect()
}

/// A target's checks: they panic on a broken invariant.
type Check = fn(&[u8]);

/// Every target with the checks its fuzzer runs.
const TARGETS: [(&str, Check); 8] = [
    ("csv_split", checks::csv_split),
    ("timestamp", checks::timestamp),
    ("normalise", checks::normalise),
    ("ingest_csv", |d| pipeline::check(d, "input.csv")),
    ("ingest_jsonl", |d| pipeline::check(d, "input.jsonl")),
    ("ingest_jpos", |d| pipeline::check(d, "input.xml")),
    ("ingest_excel", |d| pipeline::check(d, "input.xlsx")),
    ("ingest_xlsx_parts", |d| {
        pipeline::check(&pipeline::xlsx_from_parts(d), "input.xlsx")
    }),
];

fn replay(target: &str, inputs: Vec<(String, Vec<u8>)>, check: Check) -> usize {
    for (name, data) in &inputs {
        if std::panic::catch_unwind(|| check(data)).is_err() {
            panic!("{target}/{name} breaks the target's checks again");
        }
    }
    inputs.len()
}

#[test]
fn every_fuzz_finding_stays_fixed() {
    let replayed: usize = TARGETS
        .iter()
        .map(|(target, check)| replay(target, findings(target), *check))
        .sum();
    // Every finding of the campaigns in fuzz/RESULTS.md: a five-digit year, a quote inside
    // an unquoted field, a Luhn run made by an excerpt's cut, five damaged workbooks.
    assert!(replayed >= 8, "only {replayed} findings replayed");
}

#[test]
fn the_fuzz_corpus_replays_clean() {
    let mut packed = Vec::new();
    for (target, check) in TARGETS {
        if replay(target, corpus(target), check) > 0 {
            packed.push(target);
        }
    }
    // Every target's corpus is packed (fuzz/pack.sh): one missing is a lost file.
    assert_eq!(packed.len(), TARGETS.len(), "corpora replayed: {packed:?}");
}

/// The ingest_xlsx_parts target starts from the portal workbooks' parts: the package it
/// builds around them must read as the workbook did, or the fuzzer explores nothing.
#[test]
fn the_xlsx_parts_seed_reads_as_its_workbook() {
    let seed = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/seeds/ingest_xlsx_parts/portal_en");
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("seed.xlsx");
    std::fs::write(
        &path,
        pipeline::xlsx_from_parts(&std::fs::read(seed).unwrap()),
    )
    .unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_poslens"))
        .arg("validate")
        .arg(&path)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let total = stdout
        .lines()
        .find(|l| l.starts_with("TOTAL"))
        .unwrap_or_else(|| panic!("no totals in {stdout}"));
    let figures: Vec<&str> = total.split_whitespace().skip(1).collect();
    assert_eq!(figures, ["23", "22", "1", "0"], "{stdout}");
}
