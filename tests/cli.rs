//! Integration tests: run the built `poslens` binary on fixtures and compare parsed values.

use crate::common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use common::{analyze, bin, csv_exports, fails, fixture, json, read_csv, run_ok};

const SPEC_FILES: &[&str] = &[
    "report.html",
    "report.md",
    "summary.json",
    "manifest.json",
    "rejects.csv",
    "charts/failure_rate_over_time.svg",
    "csv/by_terminal.csv",
    "csv/by_period.csv",
    "csv/by_code.csv",
    "csv/by_merchant.csv",
    "csv/flagged_terminals.csv",
    "csv/cohorts.csv",
    "csv/silent_terminals.csv",
    "csv/incidents.csv",
    "csv/evidence.csv",
];

#[test]
fn analyze_writes_every_spec_file_with_exact_columns() {
    let dir = tempfile::tempdir().unwrap();
    analyze(&[&fixture("csv/small.csv")], dir.path(), &[]);
    for f in SPEC_FILES {
        let p = dir.path().join(f);
        assert!(
            p.metadata().map(|m| m.len() > 0).unwrap_or(false),
            "{f} missing or empty"
        );
    }
    let expect: &[(&str, &str)] = &[
        ("csv/by_terminal.csv", "terminal_id,merchant_id,transactions,approved,declined,fraud,network,terminal,unknown,failure_rate,terminal_fault_rate,fault_ci_low,fault_ci_high,status"),
        ("csv/by_period.csv", "period_start,transactions,approved,declined,fraud,network,terminal,unknown,failure_rate"),
        ("csv/by_code.csv", "response_code,class,meaning,transactions,share"),
        ("csv/by_merchant.csv", "merchant_id,merchant_name,terminals,transactions,approved,declined,fraud,network,terminal,unknown,failure_rate"),
        ("csv/flagged_terminals.csv", "terminal_id,merchant_id,transactions,terminal_faults,terminal_fault_rate,baseline_rate,p_value,first_bad_period,top_codes,reason,cohort,entry_mode,recovered_period"),
        ("csv/cohorts.csv", "cohort_field,cohort,terminals,transactions,terminal_faults,terminal_fault_rate,ratio_to_fleet,p_value"),
        ("csv/silent_terminals.csv", "terminal_id,merchant_id,status,last_seen,since,expected_per_day,seen_per_day"),
        ("csv/incidents.csv", "start,end,scope,issuer_bin,class,top_codes,terminals_hit,transactions,failures"),
        ("csv/evidence.csv", "terminal_id,file,line,timestamp,response_code"),
        ("rejects.csv", "file,line,reason,excerpt"),
    ];
    // SPEC's columns first and exactly; issue 12's columns may follow them (SPEC: "more
    // columns may follow"), and only those.
    let after: &[(&str, &str)] = &[
        ("csv/by_terminal.csv", ",purchases,lost_purchases,lost_amount_minor,purchase_failure_rate,chip_reads,fallbacks,fallback_rate,latency_p50_ms,latency_p95_ms"),
        ("csv/by_period.csv", ",purchases,lost_purchases,lost_amount_minor,purchase_failure_rate,latency_p50_ms,latency_p95_ms"),
        ("csv/by_merchant.csv", ",purchases,lost_purchases,lost_amount_minor,purchase_failure_rate"),
    ];
    for (f, cols) in expect {
        let (header, _) = read_csv(&dir.path().join(f));
        let extra = after.iter().find(|(g, _)| g == f).map_or("", |(_, e)| *e);
        assert_eq!(header.join(","), format!("{cols}{extra}"), "{f}");
    }
}

/// Recompute by_terminal from the fixture's rows, independently of poslens' code: the fixture
/// uses only SPEC's fixed-point codes (plus one unknown code).
#[test]
fn by_terminal_matches_counts_recomputed_from_rows() {
    let dir = tempfile::tempdir().unwrap();
    let input = fixture("csv/small.csv");
    analyze(&[&input], dir.path(), &[]);

    let class_of = |code: &str| match code {
        "00" => "approved",
        "05" | "51" | "54" | "55" | "61" => "declined",
        "04" | "07" | "34" | "41" | "43" | "59" => "fraud",
        "68" | "91" | "96" => "network",
        "03" | "30" | "58" | "9997" => "terminal",
        _ => "unknown",
    };
    let mut expected: BTreeMap<String, BTreeMap<&str, u64>> = BTreeMap::new();
    let mut seen = BTreeSet::new();
    let mut rdr = csv::ReaderBuilder::new()
        .flexible(true)
        .from_path(&input)
        .unwrap();
    for rec in rdr.records() {
        let rec = rec.unwrap();
        if rec.len() != 9 {
            continue; // wrong number of fields: rejected
        }
        let (ts, term, id, code) = (&rec[0], &rec[1], &rec[4], &rec[7]);
        if !ts.starts_with("2026-") || term.is_empty() || code.is_empty() {
            continue; // bad timestamp, empty terminal or code: rejected
        }
        if !seen.insert((term.to_string(), id.to_string())) {
            continue; // duplicate export
        }
        let code = if code.len() == 1 {
            format!("0{code}")
        } else {
            code.to_string()
        };
        let e = expected.entry(term.to_string()).or_default();
        *e.entry("transactions").or_default() += 1;
        *e.entry(class_of(&code)).or_default() += 1;
    }

    let (_, rows) = read_csv(&dir.path().join("csv/by_terminal.csv"));
    assert_eq!(rows.len(), expected.len());
    for row in rows {
        let want = &expected[&row["terminal_id"]];
        for col in [
            "transactions",
            "approved",
            "declined",
            "fraud",
            "network",
            "terminal",
            "unknown",
        ] {
            let got: u64 = row[col].parse().unwrap();
            assert_eq!(
                got,
                want.get(col).copied().unwrap_or(0),
                "{} {col}",
                row["terminal_id"]
            );
        }
        let n: f64 = row["transactions"].parse().unwrap();
        let fails = n - row["approved"].parse::<f64>().unwrap();
        let rate: f64 = row["failure_rate"].parse().unwrap();
        assert!((rate - fails / n).abs() < 1e-6);
        let (lo, hi): (f64, f64) = (
            row["fault_ci_low"].parse().unwrap(),
            row["fault_ci_high"].parse().unwrap(),
        );
        let fr: f64 = row["terminal_fault_rate"].parse().unwrap();
        assert!(lo <= fr && fr <= hi, "{row:?}");
        // Three transactions each: far below the default minimum volume.
        assert_eq!(row["status"], "insufficient_data");
    }
}

#[test]
fn manifest_reconciles_rows_per_input_and_in_total() {
    let dir = tempfile::tempdir().unwrap();
    analyze(&[&fixture("csv/small.csv")], dir.path(), &[]);
    let m = json(&dir.path().join("manifest.json"));
    let t = &m["totals"];
    let get =
        |v: &serde_json::Value, k: &str| v[k].as_u64().unwrap_or_else(|| panic!("{k} missing"));
    assert_eq!(get(t, "rows_read"), 14);
    assert_eq!(get(t, "rows_rejected"), 4);
    assert_eq!(get(t, "rows_duplicate"), 1);
    assert_eq!(get(t, "rows_accepted"), 9);
    assert_eq!(
        get(t, "rows_read"),
        get(t, "rows_accepted") + get(t, "rows_rejected") + get(t, "rows_duplicate")
    );
    for i in m["inputs"].as_array().unwrap() {
        assert_eq!(
            get(i, "rows_read"),
            get(i, "rows_accepted") + get(i, "rows_rejected") + get(i, "rows_duplicate")
        );
        assert_eq!(i["sha256"].as_str().unwrap().len(), 64);
    }
    // Every output is listed with its real hash.
    let outputs = m["outputs"].as_array().unwrap();
    for f in SPEC_FILES.iter().filter(|f| **f != "manifest.json") {
        let o = outputs
            .iter()
            .find(|o| o["path"] == *f)
            .unwrap_or_else(|| panic!("{f} not in manifest"));
        let bytes = std::fs::read(dir.path().join(f)).unwrap();
        assert_eq!(o["bytes"].as_u64().unwrap(), bytes.len() as u64);
    }
    // rejects.csv holds every rejected row with file and line.
    let (_, rejects) = read_csv(&dir.path().join("rejects.csv"));
    let lines: Vec<&str> = rejects.iter().map(|r| r["line"].as_str()).collect();
    assert_eq!(lines, ["11", "12", "13", "14"]);
    assert!(rejects[0]["reason"].contains("timestamp"));
    assert!(rejects[3]["reason"].contains("wrong number of fields"));
}

#[test]
fn no_full_pan_and_no_formula_reaches_outputs() {
    let dir = tempfile::tempdir().unwrap();
    analyze(&[&fixture("csv/small.csv")], dir.path(), &[]);
    for f in SPEC_FILES {
        let text =
            String::from_utf8_lossy(&std::fs::read(dir.path().join(f)).unwrap()).into_owned();
        for pan in ["4111111111111111", "5555555555554444"] {
            assert!(!text.contains(pan), "{f} contains a full PAN");
        }
    }
    let (_, merchants) = read_csv(&dir.path().join("csv/by_merchant.csv"));
    let m2 = merchants.iter().find(|m| m["merchant_id"] == "M2").unwrap();
    assert!(m2["merchant_name"].starts_with("'="), "{m2:?}");
    let html = std::fs::read_to_string(dir.path().join("report.html")).unwrap();
    assert!(!html.contains("<script"));
}

#[test]
fn same_input_gives_identical_bytes() {
    let a = tempfile::tempdir().unwrap();
    let b = tempfile::tempdir().unwrap();
    analyze(&[&fixture("csv/small.csv")], a.path(), &[]);
    analyze(&[&fixture("csv/small.csv")], b.path(), &[]);
    for f in SPEC_FILES {
        assert_eq!(
            std::fs::read(a.path().join(f)).unwrap(),
            std::fs::read(b.path().join(f)).unwrap(),
            "{f} differs between runs"
        );
    }
}

#[test]
fn exit_codes_and_messages() {
    let dir = tempfile::tempdir().unwrap();
    // Missing input: runtime error, 1.
    let err = fails(
        bin()
            .args(["analyze", "/nonexistent/x.csv", "--out"])
            .arg(dir.path()),
        1,
    );
    assert!(err.contains("/nonexistent/x.csv"));
    // Usage error, 2.
    fails(bin().args(["analyze", "--bucket", "fortnight", "x"]), 2);
    // Missing required column: names the field and the headers found.
    let f = dir.path().join("nocode.csv");
    std::fs::write(&f, "time,tid\n2026-11-09 10:00:00,T1\n").unwrap();
    let err = fails(
        bin()
            .arg("analyze")
            .arg(&f)
            .arg("--out")
            .arg(dir.path().join("o")),
        1,
    );
    assert!(
        err.contains("response_code") && err.contains("\"tid\""),
        "{err}"
    );
    // --strict with rejects: 1.
    let err = fails(
        bin()
            .arg("analyze")
            .arg(fixture("csv/small.csv"))
            .arg("--strict")
            .arg("--out")
            .arg(dir.path().join("s")),
        1,
    );
    assert!(err.contains("4 rows were rejected"));
}

#[test]
fn terminal_summary_shows_reconciliation_and_rates() {
    let dir = tempfile::tempdir().unwrap();
    let out = analyze(&[&fixture("csv/small.csv")], dir.path(), &[]);
    let s = String::from_utf8_lossy(&out.stdout);
    assert!(
        s.contains("rows read 14  = accepted 9 + rejected 4 + duplicate 1"),
        "{s}"
    );
    assert!(s.contains("failure rate 66.67%"), "{s}");
    assert!(s.contains("flagged terminals"), "{s}");
}

/// Issue 5 acceptance on `poslens sample` data over three seeds: exactly the injected faulty
/// terminals are flagged, first_bad_period within a day, the outage found within an hour.
#[test]
fn sample_trouble_is_found_over_three_seeds() {
    for seed in [1u64, 7, 42] {
        let dir = tempfile::tempdir().unwrap();
        let logs = dir.path().join("logs");
        run_ok(
            bin()
                .args(["sample", "--seed", &seed.to_string(), "--out"])
                .arg(&logs),
        );
        let truth: toml::Value =
            toml::from_str(&std::fs::read_to_string(logs.join("injected.toml")).unwrap()).unwrap();
        let out = dir.path().join("out");
        analyze(&[&logs], &out, &[]);

        let (_, flagged) = read_csv(&out.join("csv/flagged_terminals.csv"));
        let got: BTreeSet<&str> = flagged.iter().map(|f| f["terminal_id"].as_str()).collect();
        let faulty = truth["faulty"].as_array().unwrap();
        let want: BTreeSet<&str> = faulty
            .iter()
            .map(|f| f["terminal_id"].as_str().unwrap())
            .collect();
        assert_eq!(got, want, "seed {seed}: flagged terminals");
        for f in faulty {
            let id = f["terminal_id"].as_str().unwrap();
            let from = f["from"].as_str().unwrap();
            let row = flagged.iter().find(|r| r["terminal_id"] == id).unwrap();
            let got_day =
                chrono::NaiveDate::parse_from_str(&row["first_bad_period"][..10], "%Y-%m-%d")
                    .unwrap();
            let want_day = chrono::NaiveDate::parse_from_str(from, "%Y-%m-%d").unwrap();
            assert!(
                (got_day - want_day).num_days().abs() <= 1,
                "seed {seed} {id}: first bad {got_day}, injected {want_day}"
            );
        }

        let (_, terms) = read_csv(&out.join("csv/by_terminal.csv"));
        let status =
            |id: &str| terms.iter().find(|t| t["terminal_id"] == id).unwrap()["status"].clone();
        for t in truth["high_declines"]["terminals"].as_array().unwrap() {
            assert_ne!(
                status(t.as_str().unwrap()),
                "flagged",
                "seed {seed}: high-decline shop flagged"
            );
        }
        assert_eq!(
            status(truth["low_volume"]["terminal_id"].as_str().unwrap()),
            "insufficient_data"
        );

        let summary = json(&out.join("summary.json"));
        // The host log's burst of unanswered requests (NO_RESPONSE, class network) is found
        // as a network spike of its own; the fleet outage is the other one.
        let burst = truth["host_log"]["unanswered_burst"]["start"]
            .as_str()
            .map(|s| s[..13].to_string());
        let outages: Vec<&serde_json::Value> = summary["outages"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|o| burst.as_deref() != Some(&o["start"].as_str().unwrap()[..13]))
            .collect();
        assert_eq!(outages.len(), 1, "seed {seed}: {outages:?}");
        let parse = |s: &str| chrono::DateTime::parse_from_rfc3339(s).unwrap().timestamp();
        let want_start = parse(truth["outage"]["start"].as_str().unwrap());
        let want_end = parse(truth["outage"]["end"].as_str().unwrap());
        assert!((parse(outages[0]["start"].as_str().unwrap()) - want_start).abs() <= 3600);
        assert!((parse(outages[0]["end"].as_str().unwrap()) - want_end).abs() <= 3600);

        let bursts = summary["fraud_bursts"].as_array().unwrap();
        let burst_term = truth["fraud_burst"]["terminal_id"].as_str().unwrap();
        assert!(
            bursts.iter().any(|b| b["terminal_id"] == burst_term),
            "seed {seed}: {bursts:?}"
        );
    }
}

#[test]
fn sample_is_deterministic() {
    let a = tempfile::tempdir().unwrap();
    let b = tempfile::tempdir().unwrap();
    for d in [a.path(), b.path()] {
        run_ok(
            bin()
                .args([
                    "sample",
                    "--seed",
                    "3",
                    "--terminals",
                    "8",
                    "--days",
                    "7",
                    "--out",
                ])
                .arg(d),
        );
    }
    let names: Vec<_> = std::fs::read_dir(a.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert!(names.len() >= 2);
    for n in names {
        assert_eq!(
            std::fs::read(a.path().join(&n)).unwrap(),
            std::fs::read(b.path().join(&n)).unwrap()
        );
    }
}

/// Cubes saved from two halves of the input and rendered together give the same figures as
/// analysing the whole input at once.
#[test]
fn saved_cubes_merge_to_the_same_report() {
    let dir = tempfile::tempdir().unwrap();
    let logs = dir.path().join("logs");
    run_ok(
        bin()
            .args([
                "sample",
                "--seed",
                "5",
                "--terminals",
                "10",
                "--days",
                "14",
                "--out",
            ])
            .arg(&logs),
    );
    let weeks = csv_exports(&logs);
    assert_eq!(weeks.len(), 2);
    let whole = dir.path().join("whole");
    analyze(
        &[&logs],
        &whole,
        &[
            "--save-cube",
            dir.path().join("all.parquet").to_str().unwrap(),
        ],
    );
    // The jPOS host log covers the last week: it goes with the second half.
    let host = logs.join("host_2026-W44.xml");
    assert!(host.is_file());
    for (i, w) in weeks.iter().enumerate() {
        let cube = dir.path().join(format!("w{i}.parquet"));
        let half: Vec<&PathBuf> = if i == 1 { vec![w, &host] } else { vec![w] };
        analyze(
            &half,
            &dir.path().join(format!("o{i}")),
            &["--save-cube", cube.to_str().unwrap()],
        );
    }
    let merged = dir.path().join("merged");
    run_ok(
        bin()
            .arg("analyze")
            .arg("--cube")
            .arg(dir.path().join("w0.parquet"))
            .arg("--cube")
            .arg(dir.path().join("w1.parquet"))
            .arg("--out")
            .arg(&merged),
    );
    // The weekly files overlap by a few re-exported rows (duplicates within one run, but each
    // half keeps its copy), so compare against the whole-input cube rendered the same way.
    let from_all = dir.path().join("from_all");
    run_ok(
        bin()
            .arg("analyze")
            .arg("--cube")
            .arg(dir.path().join("all.parquet"))
            .arg("--out")
            .arg(&from_all),
    );
    for f in [
        "csv/by_terminal.csv",
        "csv/by_period.csv",
        "csv/by_code.csv",
        "csv/flagged_terminals.csv",
    ] {
        assert_eq!(
            std::fs::read_to_string(from_all.join(f)).unwrap(),
            std::fs::read_to_string(whole.join(f)).unwrap(),
            "{f}: cube render differs from direct analysis"
        );
    }
    let (_, a) = read_csv(&merged.join("csv/by_terminal.csv"));
    let (_, b) = read_csv(&whole.join("csv/by_terminal.csv"));
    let total = |rows: &[BTreeMap<String, String>]| {
        rows.iter()
            .map(|r| r["transactions"].parse::<u64>().unwrap())
            .sum::<u64>()
    };
    let dup = json(&whole.join("manifest.json"))["totals"]["rows_duplicate"]
        .as_u64()
        .unwrap();
    assert_eq!(
        total(&a),
        total(&b) + dup,
        "merged halves = whole + the overlap counted once per half"
    );
    // A cube built in another zone is refused with a clear message.
    let err = fails(
        bin()
            .args(["analyze", "--tz", "Asia/Shanghai", "--cube"])
            .arg(dir.path().join("w0.parquet"))
            .arg("--out")
            .arg(dir.path().join("x")),
        2,
    );
    assert!(err.contains("--tz UTC"));
}

/// A terminal whose failures jump from the previous week to the last one is a regression.
#[test]
fn week_over_week_regression_is_found() {
    let dir = tempfile::tempdir().unwrap();
    let mut csv = String::from("timestamp,terminal_id,merchant_id,txn_id,response_code\n");
    let mut id = 0;
    // Two full ISO weeks: 2026-11-02 (Mon) .. 2026-11-15 (Sun).
    for day in 0..14 {
        let date =
            chrono::NaiveDate::from_ymd_opt(2026, 11, 2).unwrap() + chrono::Duration::days(day);
        for i in 0..40 {
            for term in ["T1", "T2"] {
                id += 1;
                let bad = term == "T2" && day >= 7 && i % 4 == 0; // 25% failures in week 2
                let base_fail = i == 0; // 2.5% everywhere
                let code = if bad {
                    "51"
                } else if base_fail {
                    "05"
                } else {
                    "00"
                };
                csv.push_str(&format!(
                    "{} {:02}:{:02}:00,{term},M1,{id},{code}\n",
                    date,
                    8 + i / 6,
                    (i % 6) * 10
                ));
            }
        }
    }
    let f = dir.path().join("w.csv");
    std::fs::write(&f, csv).unwrap();
    let out = dir.path().join("o");
    analyze(&[&f], &out, &[]);
    let s = json(&out.join("summary.json"));
    let regs = s["regressions"].as_array().unwrap();
    let t: Vec<&serde_json::Value> = regs.iter().filter(|r| r["kind"] == "terminal").collect();
    assert_eq!(t.len(), 1, "{regs:?}");
    assert_eq!(t[0]["id"], "T2");
    assert_eq!(t[0]["week"], "2026-W46");
    assert_eq!(t[0]["previous_week"], "2026-W45");
    assert_eq!(t[0]["main_class"], "declined");
    assert!(regs
        .iter()
        .any(|r| r["kind"] == "merchant" && r["id"] == "M1"));
    // Declines never flag a terminal as faulty.
    assert_eq!(s["flagged_terminals"].as_array().unwrap().len(), 0);
}

/// `--bucket` cuts periods in `--tz`, zero-filled; `--since/--until` limit the window, for logs
/// and for saved cubes alike.
#[test]
fn buckets_and_windows() {
    let dir = tempfile::tempdir().unwrap();
    let logs = dir.path().join("logs");
    run_ok(
        bin()
            .args([
                "sample",
                "--seed",
                "9",
                "--terminals",
                "6",
                "--days",
                "14",
                "--out",
            ])
            .arg(&logs),
    );
    let week = dir.path().join("week");
    analyze(
        &[&logs],
        &week,
        &["--bucket", "week", "--tz", "Asia/Shanghai"],
    );
    let (_, rows) = read_csv(&week.join("csv/by_period.csv"));
    let starts: Vec<&str> = rows.iter().map(|r| r["period_start"].as_str()).collect();
    // Every period is an ISO week starting Monday 00:00 in Shanghai, consecutive.
    assert!(starts.len() >= 2, "{starts:?}");
    assert_eq!(starts[0], "2026-10-19T00:00:00+08:00");
    for w in starts.windows(2) {
        let (a, b) = (
            chrono::DateTime::parse_from_rfc3339(w[0]).unwrap(),
            chrono::DateTime::parse_from_rfc3339(w[1]).unwrap(),
        );
        assert_eq!((b - a).num_days(), 7);
        assert_eq!(chrono::Datelike::weekday(&b), chrono::Weekday::Mon);
    }
    let total: u64 = rows
        .iter()
        .map(|r| r["transactions"].parse::<u64>().unwrap())
        .sum();
    let m = json(&week.join("manifest.json"));
    assert_eq!(total, m["totals"]["rows_accepted"].as_u64().unwrap());
    let hour = dir.path().join("hour");
    analyze(&[&logs], &hour, &["--bucket", "hour"]);
    let (_, rows) = read_csv(&hour.join("csv/by_period.csv"));
    let first = chrono::DateTime::parse_from_rfc3339(&rows[0]["period_start"]).unwrap();
    let last = chrono::DateTime::parse_from_rfc3339(&rows[rows.len() - 1]["period_start"]).unwrap();
    assert_eq!(
        rows.len() as i64,
        (last - first).num_hours() + 1,
        "hours are zero-filled"
    );
    assert!(rows.iter().any(|r| r["transactions"] == "0"));

    let win = dir.path().join("win");
    analyze(
        &[&logs],
        &win,
        &[
            "--since",
            "2026-10-20",
            "--until",
            "2026-10-22",
            "--save-cube",
            dir.path().join("c.parquet").to_str().unwrap(),
        ],
    );
    let (_, rows) = read_csv(&win.join("csv/by_period.csv"));
    let starts: Vec<&str> = rows.iter().map(|r| r["period_start"].as_str()).collect();
    assert_eq!(
        starts,
        ["2026-10-20T00:00:00+00:00", "2026-10-21T00:00:00+00:00"]
    );
    let m = json(&win.join("manifest.json"));
    let t = &m["totals"];
    assert!(t["rows_outside_window"].as_u64().unwrap() > 0);
    // The same window on a full saved cube.
    let full = dir.path().join("full.parquet");
    analyze(
        &[&logs],
        &dir.path().join("f"),
        &["--save-cube", full.to_str().unwrap()],
    );
    let cw = dir.path().join("cw");
    run_ok(
        bin()
            .args([
                "analyze",
                "--since",
                "2026-10-20",
                "--until",
                "2026-10-22",
                "--cube",
            ])
            .arg(&full)
            .arg("--out")
            .arg(&cw),
    );
    assert_eq!(
        std::fs::read_to_string(cw.join("csv/by_terminal.csv")).unwrap(),
        std::fs::read_to_string(win.join("csv/by_terminal.csv")).unwrap()
    );
}

/// `poslens codes` explains codes the way a merchant needs, in both languages and profiles,
/// and exports the catalog as JSON and CSV.
#[test]
fn codes_command_explains_and_exports() {
    let text =
        |args: &[&str]| String::from_utf8(run_ok(bin().arg("codes").args(args)).stdout).unwrap();
    let c9997 = text(&["9997"]);
    assert!(c9997.starts_with("9997 — "), "{c9997}");
    assert!(
        c9997.contains("Class: terminal")
            && c9997.contains("Likely causes:")
            && c9997.contains("What to do:")
    );
    let c34 = text(&["34", "--lang", "zh"]);
    assert!(
        c34.contains("类别: fraud") && c34.contains("卡片异常"),
        "{c34}"
    );
    let cup = text(&["34", "--profile", "cup"]);
    assert!(cup.contains("UnionPay action class: D"), "{cup}");
    assert!(
        text(&["5"]).starts_with("05 — "),
        "one-digit codes are read as two digits"
    );

    let all: serde_json::Value = serde_json::from_str(&text(&["--format", "json"])).unwrap();
    // The default profile is `auto`: the 1987 table plus the 1993 action codes (issue 14).
    assert_eq!(all["profile"], "auto");
    assert!(all["codes"].as_array().unwrap().len() >= 104);
    let csv_text = text(&["--profile", "cup", "--format", "csv"]);
    assert!(csv_text.starts_with("code,class,meaning,causes,action,retry,who\n"));
    assert!(csv_text.lines().any(|l| l.starts_with("A0,terminal,")));

    let err = fails(bin().args(["codes", "QQ"]), 2);
    assert!(err.contains("unknown"));
}

/// The Chinese report under the UnionPay profile: Chinese text in HTML and Markdown, CUP
/// meanings in by_code.csv, and the same numbers as the English run.
#[test]
fn chinese_report_with_cup_profile() {
    let dir = tempfile::tempdir().unwrap();
    let (en, zh) = (dir.path().join("en"), dir.path().join("zh"));
    analyze(&[&fixture("csv/small.csv")], &en, &[]);
    analyze(
        &[&fixture("csv/small.csv")],
        &zh,
        &["--lang", "zh", "--profile", "cup"],
    );
    let html = std::fs::read_to_string(zh.join("report.html")).unwrap();
    assert!(html.contains("<html lang=\"zh\">") && html.contains("交易为什么失败"));
    assert!(std::fs::read_to_string(zh.join("report.md"))
        .unwrap()
        .contains("## 数据质量"));
    let (_, codes) = read_csv(&zh.join("csv/by_code.csv"));
    let c51 = codes.iter().find(|c| c["response_code"] == "51").unwrap();
    assert!(
        c51["meaning"]
            .chars()
            .any(|c| ('\u{4e00}'..='\u{9fff}').contains(&c)),
        "{c51:?}"
    );
    assert_eq!(
        std::fs::read_to_string(en.join("csv/by_terminal.csv")).unwrap(),
        std::fs::read_to_string(zh.join("csv/by_terminal.csv")).unwrap()
    );
}

/// Issue 14: without --profile, a 3-digit code is explained from the ISO 8583:1993 table, with
/// a note saying why; --profile iso8583 forces the 1987 table and the error points at the 1993
/// profile; the 1993 profile (and its 2003 alias) explains codes in Chinese.
#[test]
fn codes_reads_iso8583_1993_action_codes_issue_14() {
    let text =
        |args: &[&str]| String::from_utf8(run_ok(bin().arg("codes").args(args)).stdout).unwrap();
    let c911 = text(&["911"]);
    assert!(c911.starts_with("911 — Card issuer timed out\n"), "{c911}");
    assert!(c911.contains("Class: network"), "{c911}");
    assert!(
        c911.contains("3-digit codes are ISO 8583:1993/2003 action codes"),
        "{c911}"
    );
    assert!(
        !text(&["05"]).contains("action codes"),
        "no note for 1987 codes"
    );

    let err = fails(bin().args(["codes", "911", "--profile", "iso8583"]), 2);
    assert!(
        err.contains("unknown") && err.contains("--profile iso8583-1993"),
        "{err}"
    );

    let zh = text(&["116", "--profile", "iso8583-1993", "--lang", "zh"]);
    assert!(zh.starts_with("116 — 余额不足\n"), "{zh}");
    assert!(
        zh.contains("类别: declined") && zh.contains("怎么办:"),
        "{zh}"
    );
    assert!(
        !zh.contains("注："),
        "no note when the profile was named: {zh}"
    );
    assert_eq!(
        text(&["116", "--profile", "iso8583-2003", "--lang", "zh"]),
        zh,
        "iso8583-2003 is an alias"
    );

    let cmf = text(&["1016", "--profile", "jpos-cmf"]);
    assert!(cmf.contains("Class: declined"), "{cmf}");
    let err = fails(bin().args(["codes", "1016"]), 2);
    assert!(err.contains("--profile jpos-cmf"), "{err}");
}

/// Issue 14: an ISO 8583:1993 switch log (3-digit codes) is classified by the 1993 table by
/// default: `000` is approved, not `unknown`, and the manifest and report say which table read
/// the codes. Forcing --profile iso8583 gives the old answer (every code unknown).
#[test]
fn analyze_reads_iso8583_1993_logs_issue_14() {
    let dir = tempfile::tempdir().unwrap();
    let (auto, forced) = (dir.path().join("auto"), dir.path().join("forced"));
    analyze(&[&fixture("csv/iso1993.csv")], &auto, &[]);

    let (_, codes) = read_csv(&auto.join("csv/by_code.csv"));
    let class: BTreeMap<&str, (&str, &str)> = codes
        .iter()
        .map(|c| {
            (
                c["response_code"].as_str(),
                (c["class"].as_str(), c["transactions"].as_str()),
            )
        })
        .collect();
    assert_eq!(class["000"], ("approved", "272"));
    assert_eq!(class["100"], ("declined", "16"));
    assert_eq!(class["116"], ("declined", "24"));
    assert_eq!(class["911"], ("network", "8"));

    let summary = json(&auto.join("summary.json"));
    assert_eq!(summary["profile"], "auto");
    assert!((summary["headline"]["failure_rate"].as_f64().unwrap() - 48.0 / 320.0).abs() < 1e-12);
    assert_eq!(summary["unknown_codes"].as_array().unwrap().len(), 0);

    let manifest = json(&auto.join("manifest.json"));
    assert_eq!(manifest["catalog"]["profile"], "auto");
    let tables = manifest["catalog_tables"].as_array().unwrap();
    let row = |name: &str| {
        tables
            .iter()
            .find(|t| t["table"] == name)
            .unwrap_or_else(|| panic!("no {name} in {tables:?}"))
    };
    assert_eq!(row("iso8583-1993")["reads"], "three_digit_codes");
    assert_eq!(row("iso8583-1993")["codes"], 4);
    assert_eq!(row("iso8583-1993")["transactions"], 320);
    assert_eq!(row("iso8583")["transactions"], 0);
    assert_eq!(row("unknown")["transactions"], 0);

    let md = std::fs::read_to_string(auto.join("report.md")).unwrap();
    assert!(
        md.contains("iso8583-1993 (ISO 8583:1993/2003 field 39 action codes (3 digits); 3-digit codes: 4 codes, 320 transactions)"),
        "{md}"
    );
    let html = std::fs::read_to_string(auto.join("report.html")).unwrap();
    assert!(html.contains("3-digit codes were read as ISO 8583:1993/2003 action codes"));

    analyze(
        &[&fixture("csv/iso1993.csv")],
        &forced,
        &["--profile", "iso8583"],
    );
    let summary = json(&forced.join("summary.json"));
    assert_eq!(summary["headline"]["failure_rate"], 1.0);
    let (_, codes) = read_csv(&forced.join("csv/by_code.csv"));
    assert!(codes.iter().all(|c| c["class"] == "unknown"));
}

#[test]
fn committed_sample_logs_are_what_sample_writes() {
    // README: `sample_logs/` was written by `poslens sample --out sample_logs`; the goldens
    // and the README's figures are of these bytes.
    let dir = tempfile::tempdir().unwrap();
    run_ok(bin().args(["sample", "--out"]).arg(dir.path()));
    let committed = Path::new(env!("CARGO_MANIFEST_DIR")).join("sample_logs");
    let mut names: Vec<_> = std::fs::read_dir(&committed)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    names.sort();
    // Four weekly CSV exports, the jPOS host log of the last week, injected.toml.
    assert_eq!(names.len(), 6, "{names:?}");
    for n in names {
        assert!(
            std::fs::read(committed.join(&n)).unwrap()
                == std::fs::read(dir.path().join(&n)).unwrap(),
            "{n:?} differs from what `poslens sample` writes"
        );
    }
}

/// With no terminal at `--min-volume`, nothing is judged: the summary says so, and the
/// baseline shown is the fleet's own terminal-error rate (it read 50% before).
#[test]
fn a_fleet_too_small_to_judge_shows_its_own_terminal_error_rate() {
    let dir = tempfile::tempdir().unwrap();
    let out = analyze(&[&fixture("csv/small.csv")], dir.path(), &[]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("flagged terminals: none judged"),
        "{stdout}"
    );
    let (_, rows) = read_csv(&dir.path().join("csv/by_terminal.csv"));
    assert!(rows.iter().all(|r| r["status"] == "insufficient_data"));
    let sum = |col: &str| -> u64 { rows.iter().map(|r| r[col].parse::<u64>().unwrap()).sum() };
    let (faults, transactions) = (sum("terminal"), sum("transactions"));
    let expected = if faults == 0 {
        0.5 / transactions as f64
    } else {
        faults as f64 / transactions as f64
    };
    let baseline = json(&dir.path().join("summary.json"))["baseline_rate"]
        .as_f64()
        .unwrap();
    assert!(
        (baseline - expected).abs() < 1e-12,
        "{baseline} vs {expected}"
    );
    assert!(baseline < 0.5);
}
