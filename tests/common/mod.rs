//! Shared helpers for the integration tests: run the built binary, read its outputs.
#![allow(dead_code)] // each test binary uses a different subset

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The built `poslens`, with a fixed `SOURCE_DATE_EPOCH` so outputs are byte-stable.
pub fn bin() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_poslens"));
    c.env("SOURCE_DATE_EPOCH", "1767225600");
    c
}

/// The committed sample logs.
pub fn sample_logs() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("sample_logs")
}

/// The gzip CSV exports in a folder of logs (the sample's jPOS host log left out), sorted.
pub fn csv_exports(dir: &Path) -> Vec<PathBuf> {
    let mut weeks: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.to_string_lossy().ends_with(".csv.gz"))
        .collect();
    weeks.sort();
    weeks
}

pub fn fixture(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(rel)
}

/// The output of a command that must succeed (else: fail with its stdout and stderr).
pub fn ok(out: Output) -> Output {
    assert!(
        out.status.success(),
        "exit {:?}\nstdout:\n{}\nstderr:\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

pub fn run_ok(cmd: &mut Command) -> Output {
    ok(cmd.output().expect("binary runs"))
}

/// Run a command that must fail with exit status `code`; returns its stderr.
pub fn fails(cmd: &mut Command, code: i32) -> String {
    let out = cmd.output().expect("binary runs");
    assert_eq!(
        out.status.code(),
        Some(code),
        "stdout:\n{}\nstderr:\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// `poslens analyze INPUTS --out OUT EXTRA...`, which must succeed.
pub fn analyze<P: AsRef<Path>>(inputs: &[P], out: &Path, extra: &[&str]) -> Output {
    let mut c = bin();
    c.arg("analyze");
    for i in inputs {
        c.arg(i.as_ref());
    }
    c.arg("--out").arg(out).args(extra);
    run_ok(&mut c)
}

/// A CSV file as (header, rows of column -> value).
pub fn read_csv(path: &Path) -> (Vec<String>, Vec<BTreeMap<String, String>>) {
    let mut r = csv::Reader::from_path(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let header: Vec<String> = r.headers().unwrap().iter().map(String::from).collect();
    let rows = r
        .records()
        .map(|rec| {
            let rec = rec.unwrap();
            header
                .iter()
                .cloned()
                .zip(rec.iter().map(String::from))
                .collect()
        })
        .collect();
    (header, rows)
}

pub fn json(path: &Path) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

/// manifest.json `totals` of an output directory, as numbers.
pub fn manifest_totals(out: &Path) -> BTreeMap<String, u64> {
    json(&out.join("manifest.json"))["totals"]
        .as_object()
        .unwrap()
        .iter()
        .filter_map(|(k, v)| v.as_u64().map(|v| (k.clone(), v)))
        .collect()
}

/// Every file under `dir`, recursively.
pub fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(files_under(&p));
        } else {
            out.push(p);
        }
    }
    out
}

/// The files under an output directory whose bytes hold `needle` (none should, for data
/// that must not leave ingest: card numbers, dropped text).
pub fn outputs_holding(dir: &Path, needle: &str) -> Vec<PathBuf> {
    files_under(dir)
        .into_iter()
        .filter(|f| String::from_utf8_lossy(&std::fs::read(f).unwrap()).contains(needle))
        .collect()
}
