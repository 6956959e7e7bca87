//! Issue 16: the cube computed where the data lives. The SQL `cube-sql` prints is stable
//! (snapshots), runs in DuckDB and renders the same as poslens' own cube, parses as Trino SQL;
//! foreign cube files that break docs/cube.md are refused naming the column; daily cubes add
//! up to the cube of the whole period.
//!
//! DuckDB and sqlglot come from the Python named by `POSLENS_TEST_PYTHON` (`.ci/run` makes a
//! venv with both). Without it those two tests say so and pass locally; under CI they fail.

use crate::common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::{
    analyze, bin, csv_exports, fails, fixture, json, manifest_totals, run_ok, sample_logs,
};
use polars::prelude::*;

fn cube_sql(dialect: &str, extra: &[&str]) -> String {
    let out = run_ok(bin().args(["cube-sql", "--dialect", dialect]).args(extra));
    String::from_utf8(out.stdout).expect("SQL is UTF-8")
}

/// The Python with duckdb and sqlglot, or None (a message; a failure under CI).
fn python() -> Option<String> {
    match std::env::var("POSLENS_TEST_PYTHON") {
        Ok(p) if !p.is_empty() => Some(p),
        _ => {
            assert!(
                std::env::var_os("CI").is_none(),
                "POSLENS_TEST_PYTHON must name a Python with duckdb and sqlglot under CI (.ci/run makes one)"
            );
            eprintln!(
                "skipped: set POSLENS_TEST_PYTHON to a Python with duckdb and sqlglot (see .ci/run)"
            );
            None
        }
    }
}

fn run_python(python: &str, script: &str, args: &[&str]) -> String {
    let out = Command::new(python)
        .arg("-c")
        .arg(script)
        .args(args)
        .output()
        .expect("python runs");
    assert!(
        out.status.success(),
        "python failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn same_file(a: &Path, b: &Path) {
    let (x, y) = (std::fs::read(a).unwrap(), std::fs::read(b).unwrap());
    assert!(
        x == y,
        "{} and {} differ:\n{}\n---\n{}",
        a.display(),
        b.display(),
        String::from_utf8_lossy(&x),
        String::from_utf8_lossy(&y)
    );
}

/// The columns SPEC names, byte for byte: `cube-sql` computes the version 1 cube
/// (docs/cube.md), so the beyond-field-39 columns after them (purchases, fallbacks, response
/// times: version 2) are what poslens' own cubes carry, and zeros or empty from a foreign one.
fn same_spec_columns(a: &Path, b: &Path) {
    let cut = |p: &Path| -> Vec<String> {
        let text = std::fs::read_to_string(p).unwrap();
        let spec = ["purchases", "lost_purchases"];
        let header: Vec<&str> = text.lines().next().unwrap().split(',').collect();
        let n = header
            .iter()
            .position(|c| spec.contains(c))
            .unwrap_or(header.len());
        let mut rdr = csv::ReaderBuilder::new()
            .has_headers(false)
            .from_reader(text.as_bytes());
        rdr.records()
            .map(|r| {
                let r = r.unwrap();
                r.iter().take(n).collect::<Vec<_>>().join("\u{1f}")
            })
            .collect()
    };
    assert_eq!(cut(a), cut(b), "{} and {} differ", a.display(), b.display());
}

#[test]
fn generated_sql_is_stable_for_each_dialect() {
    for dialect in ["duckdb", "spark", "trino"] {
        let sql = cube_sql(
            dialect,
            &["--tz", "Asia/Shanghai", "--source", "pos.transactions"],
        );
        let snapshot = fixture(&format!("cube_sql/{dialect}.sql"));
        if std::env::var_os("POSLENS_UPDATE_SNAPSHOTS").is_some() {
            std::fs::create_dir_all(snapshot.parent().unwrap()).unwrap();
            std::fs::write(&snapshot, &sql).unwrap();
        }
        let want = std::fs::read_to_string(&snapshot).expect("snapshot exists");
        assert_eq!(
            sql, want,
            "{dialect} SQL changed; if on purpose, rerun with POSLENS_UPDATE_SNAPSHOTS=1"
        );
        // The parts a reader relies on.
        assert!(sql.contains("-- poslens:cube\n") && sql.contains("-- poslens:reconciliation\n"));
        assert!(sql.contains("'Asia/Shanghai' AS time_zone"));
        assert!(sql.contains("FROM pos.transactions"));
    }
    // --map renames a column and leaves one out; a required one cannot be left out.
    let mapped = cube_sql(
        "spark",
        &[
            "--map",
            "terminal_id=TID",
            "--map",
            "txn_id=",
            "--source",
            "t",
        ],
    );
    assert!(mapped.contains("CAST(`TID` AS STRING)"));
    assert!(!mapped.contains("`txn_id`"));
    let err = fails(
        bin().args(["cube-sql", "--dialect", "duckdb", "--map", "response_code="]),
        2,
    );
    assert!(err.contains("response_code is required"), "{err}");
}

#[test]
fn duckdb_runs_the_sql_and_its_cube_renders_like_poslens_own() {
    let Some(py) = python() else { return };
    // The sample (bad rows, re-exported rows, naive times) and a file of edge cases: offsets
    // and Z, `/` dates and fractions, thousands commas, refunds, zero- and three-decimal
    // currencies, too many decimals, unreadable amounts, padded/lower-case/quoted codes, an
    // over-long code, empty fields, a repeated txn_id at another time.
    // The CSV exports only: the sample's jPOS host log is not for the SQL.
    let glob = sample_logs().join("*.csv.gz");
    let weeks = csv_exports(&sample_logs());
    for (name, source, input) in [
        ("sample", glob.to_str().unwrap().to_string(), weeks),
        (
            "edge",
            fixture("cube_sql/edge.csv").to_str().unwrap().to_string(),
            vec![fixture("cube_sql/edge.csv")],
        ),
    ] {
        duckdb_matches_poslens(&py, name, &source, &input);
    }
}

fn duckdb_matches_poslens(py: &str, name: &str, source: &str, input: &[PathBuf]) {
    let dir = tempfile::tempdir().unwrap();
    let sql = cube_sql("duckdb", &["--tz", "Asia/Shanghai", "--source", source]);
    let sql_file = dir.path().join("cube.sql");
    std::fs::write(&sql_file, sql).unwrap();
    let duck_cube = dir.path().join("duck.parquet");
    let script = r#"
import duckdb, re, sys
text = open(sys.argv[1]).read()
parts = re.split(r'^-- poslens:(\w+)\n', text, flags=re.M)
q = {k: v.strip().rstrip(';') for k, v in zip(parts[1::2], parts[2::2])}
con = duckdb.connect()
con.execute(parts[0])
con.execute(f"COPY ({q['cube']}) TO '{sys.argv[2]}' (FORMAT parquet)")
for item, n in con.execute(q['reconciliation']).fetchall():
    print(f"{item}={n}")
"#;
    let recon = run_python(
        py,
        script,
        &[sql_file.to_str().unwrap(), duck_cube.to_str().unwrap()],
    );

    let logs_out = dir.path().join("logs");
    analyze(input, &logs_out, &["--tz", "Asia/Shanghai"]);
    let totals = manifest_totals(&logs_out);
    // The same reconciliation as poslens' own (the rows poslens rejects as "wrong number of
    // fields" are short rows, which DuckDB pads and the SQL rejects by their missing field).
    for key in ["rows_read", "rows_accepted", "rows_duplicate"] {
        assert!(
            recon.contains(&format!("{key}={}\n", totals[key])),
            "{name} {key}: {recon}"
        );
    }
    let rejected: u64 = recon
        .lines()
        .filter(|l| l.starts_with("rejected: "))
        .map(|l| l.rsplit('=').next().unwrap().parse::<u64>().unwrap())
        .sum();
    assert_eq!(rejected, totals["rows_rejected"], "{name}: {recon}");

    let cube_out = dir.path().join("cube");
    analyze::<&Path>(
        &[],
        &cube_out,
        &[
            "--cube",
            duck_cube.to_str().unwrap(),
            "--tz",
            "Asia/Shanghai",
        ],
    );
    for f in [
        "by_terminal.csv",
        "by_period.csv",
        "flagged_terminals.csv",
        "by_code.csv",
        "by_merchant.csv",
    ] {
        same_spec_columns(&logs_out.join("csv").join(f), &cube_out.join("csv").join(f));
    }
    let headline = |run: &Path| json(&run.join("summary.json"))["headline"].clone();
    for key in ["transactions", "amount_minor", "failures"] {
        assert_eq!(
            headline(&logs_out)[key],
            headline(&cube_out)[key],
            "{name}: {key}"
        );
    }
}

#[test]
fn trino_and_spark_sql_parse() {
    let Some(py) = python() else { return };
    let script = r#"
import sqlglot, sys
for dialect, path in zip(sys.argv[1::2], sys.argv[2::2]):
    stmts = [s for s in sqlglot.parse(open(path).read(), read=dialect) if s is not None]
    print(dialect, len(stmts))
"#;
    let dir = tempfile::tempdir().unwrap();
    let mut args = Vec::new();
    for d in ["trino", "spark"] {
        let p = dir.path().join(format!("{d}.sql"));
        std::fs::write(&p, cube_sql(d, &["--tz", "Europe/Berlin"])).unwrap();
        args.push(d.to_string());
        args.push(p.to_str().unwrap().to_string());
    }
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let out = run_python(&py, script, &args);
    // Trino: the two queries; Spark: the session zone, then the two queries.
    assert_eq!(out, "trino 2\nspark 3\n");
}

/// A cube file as another engine might write it, with `hour` of the given column.
fn write_cube(path: &Path, hour: Column, zone: &str) {
    let n = hour.len();
    let mut df = DataFrame::new(
        n,
        vec![
            Column::new("terminal_id".into(), vec!["T1"; n]),
            Column::new("merchant_id".into(), vec!["M1"; n]),
            Column::new("merchant_name".into(), vec!["Shop"; n]),
            hour,
            Column::new("response_code".into(), vec!["00"; n]),
            Column::new("transactions".into(), vec![3i64; n]),
            Column::new("amount_minor".into(), vec![100i64; n]),
            Column::new("time_zone".into(), vec![zone; n]),
        ],
    )
    .unwrap();
    let f = std::fs::File::create(path).unwrap();
    ParquetWriter::new(f).finish(&mut df).unwrap();
}

#[test]
fn foreign_cubes_that_break_the_schema_are_refused_naming_the_column() {
    let dir = tempfile::tempdir().unwrap();
    let render = |cube: &Path| {
        let mut c = bin();
        c.args(["analyze", "--cube"])
            .arg(cube)
            .arg("--out")
            .arg(dir.path().join("out"));
        c
    };
    // hour as text (an engine that wrote a formatted time) and as a float.
    let text_hour = dir.path().join("text.parquet");
    write_cube(
        &text_hour,
        Column::new("hour".into(), vec!["2026-11-05 14:00"]),
        "UTC",
    );
    let err = fails(&mut render(&text_hour), 1);
    assert!(
        err.contains("column hour is") && err.contains("expected INT64"),
        "{err}"
    );
    let float_hour = dir.path().join("float.parquet");
    write_cube(
        &float_hour,
        Column::new("hour".into(), vec![1.7e9f64]),
        "UTC",
    );
    let err = fails(&mut render(&float_hour), 1);
    assert!(err.contains("column hour is f64"), "{err}");
    // A 32-bit integer hour follows the contract's meaning: read.
    let int_hour = dir.path().join("int32.parquet");
    write_cube(
        &int_hour,
        Column::new("hour".into(), vec![1_762_351_200i32]),
        "UTC",
    );
    run_ok(&mut render(&int_hour));
    // A missing column and an unknown zone.
    let df = ParquetReader::new(std::fs::File::open(&int_hour).unwrap())
        .finish()
        .unwrap();
    let mut no_code = df.drop("response_code").unwrap();
    let missing = dir.path().join("missing.parquet");
    ParquetWriter::new(std::fs::File::create(&missing).unwrap())
        .finish(&mut no_code)
        .unwrap();
    let err = fails(&mut render(&missing), 1);
    assert!(
        err.contains("column response_code (string) is missing"),
        "{err}"
    );
    let bad_zone = dir.path().join("zone.parquet");
    write_cube(
        &bad_zone,
        Column::new("hour".into(), vec![1_762_351_200i64]),
        "Mars/Olympus",
    );
    let err = fails(&mut render(&bad_zone), 1);
    assert!(
        err.contains("\"Mars/Olympus\" is not an IANA time zone"),
        "{err}"
    );
}

#[test]
fn daily_cubes_added_up_equal_the_cube_of_the_whole_period() {
    let dir = tempfile::tempdir().unwrap();
    let week = sample_logs().join("transactions_2026-W44.csv.gz");
    let whole = dir.path().join("whole.parquet");
    analyze(
        &[&week],
        &dir.path().join("whole"),
        &["--save-cube", whole.to_str().unwrap()],
    );
    // One cube per day (the UTC days the file covers: 2026-10-25 23:00 .. 2026-11-01), in a
    // folder, as a partitioned job would leave them.
    let days = dir.path().join("days");
    for d in 25..=32 {
        let (since, until) = (day(d), day(d + 1));
        let cube = days.join(format!("day={since}")).join("part-0.parquet");
        std::fs::create_dir_all(cube.parent().unwrap()).unwrap();
        analyze(
            &[&week],
            &dir.path().join(format!("d{d}")),
            &[
                "--since",
                &since,
                "--until",
                &until,
                "--save-cube",
                cube.to_str().unwrap(),
            ],
        );
    }
    // Added up from the folder, re-saved: the same cube, byte for byte, and the same CSVs.
    let merged = dir.path().join("merged.parquet");
    analyze::<&Path>(
        &[],
        &dir.path().join("merged"),
        &[
            "--cube",
            days.to_str().unwrap(),
            "--save-cube",
            merged.to_str().unwrap(),
        ],
    );
    same_file(&whole, &merged);
    for f in ["by_terminal.csv", "by_period.csv", "flagged_terminals.csv"] {
        same_file(
            &dir.path().join("whole/csv").join(f),
            &dir.path().join("merged/csv").join(f),
        );
    }
    // The manifest lists every daily cube it read, and their transactions add up.
    let totals = manifest_totals(&dir.path().join("merged"));
    let whole_totals = manifest_totals(&dir.path().join("whole"));
    assert_eq!(totals["rows_accepted"], whole_totals["rows_accepted"]);
    // A glob selects part of them; --since/--until selects a period from all of them.
    let glob = days.join("day=2026-10-2*").join("*.parquet");
    let out = dir.path().join("glob");
    analyze::<&Path>(&[], &out, &["--cube", glob.to_str().unwrap()]);
    let transactions = |run: &Path| {
        json(&run.join("summary.json"))["headline"]["transactions"]
            .as_u64()
            .unwrap()
    };
    let want: u64 = (25..=29)
        .map(|d| transactions(&dir.path().join(format!("d{d}"))))
        .sum();
    assert!(want > 0);
    assert_eq!(transactions(&out), want);
}

/// `2026-10-DD` for DD up to 31, then November.
fn day(d: i32) -> String {
    if d <= 31 {
        format!("2026-10-{d:02}")
    } else {
        format!("2026-11-{:02}", d - 31)
    }
}
