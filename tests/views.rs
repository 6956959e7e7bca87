//! Issue 10: the merchant weekly report, the acquirer's terminal list and the auditor's
//! bundle, run through the real binary on `sample_logs` and on small hostile fixtures.

use crate::common;

use std::collections::BTreeSet;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Stdio;

use common::{bin, fails, json, read_csv, run_ok, sample_logs};

/// Every file under `dir`, as paths relative to it.
fn files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.push(p.strip_prefix(dir).unwrap().to_path_buf());
            }
        }
    }
    out.sort();
    out
}

/// The terminal ids `poslens sample` made faulty in `sample_logs` (its injected.toml).
fn injected_faulty() -> BTreeSet<String> {
    let text = std::fs::read_to_string(sample_logs().join("injected.toml")).unwrap();
    let v: toml::Value = toml::from_str(&text).unwrap();
    v["faulty"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["terminal_id"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn weekly_report_names_the_terminal_that_broke_mid_period_issue_10() {
    // T0005 (merchant M0002) has set-up errors from 2026-11-02, the Monday of 2026-W45.
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("weekly");
    let stdout = run_ok(
        bin()
            .args([
                "report",
                "weekly",
                "--week",
                "2026-W45",
                "--merchant",
                "M0002",
            ])
            .arg(sample_logs())
            .arg("--out")
            .arg(&out),
    )
    .stdout;
    let listed = String::from_utf8(stdout).unwrap();
    let html_path = PathBuf::from(listed.trim().split('\t').nth(1).unwrap());
    assert!(html_path.starts_with(&out), "{listed}");
    let stem = html_path.file_stem().unwrap().to_str().unwrap().to_string();
    let m = json(&out.join(format!("{stem}.json")));
    assert_eq!(m["merchant_id"], "M0002");
    assert_eq!(m["week"]["label"], "2026-W45");
    assert_eq!(m["week"]["previous_label"], "2026-W44");

    let terminals = m["terminals"].as_array().unwrap();
    let t5 = terminals
        .iter()
        .find(|t| t["terminal_id"] == "T0005")
        .expect("T0005 in the report");
    assert_eq!(t5["status"], "flagged");
    // Flagged terminals come first.
    assert_eq!(terminals[0]["terminal_id"], "T0005");
    let before = t5["previous"]["terminal_fault_rate"].as_f64().unwrap();
    let after = t5["current"]["terminal_fault_rate"].as_f64().unwrap();
    assert!(before < 0.005 && after > 0.03, "{before} -> {after}");
    let change = m["failure_rate_change"].as_f64().unwrap();
    let cur = m["current"]["failure_rate"].as_f64().unwrap();
    let prev = m["previous"]["failure_rate"].as_f64().unwrap();
    assert!((change - (cur - prev)).abs() < 1e-12);
    assert!(
        change > 0.0,
        "the merchant's failure rate rose: {prev} -> {cur}"
    );
    // The merchant's counts are those of the cube: its terminals' counts add up.
    let sum: u64 = terminals
        .iter()
        .map(|t| t["current"]["transactions"].as_u64().unwrap())
        .sum();
    assert_eq!(sum, m["current"]["transactions"].as_u64().unwrap());
    // Codes come with the catalog's advice.
    let c58 = m["codes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["response_code"] == "58")
        .expect("code 58 explained");
    assert_eq!(c58["class"], "terminal");
    assert!(!c58["action"].as_str().unwrap().is_empty());
    assert_eq!(c58["previous_transactions"], 0);

    // The words say it: the terminal, its verdict and the week-over-week change.
    let md = std::fs::read_to_string(out.join(format!("{stem}.md"))).unwrap();
    let html = std::fs::read_to_string(&html_path).unwrap();
    let pp = format!("{:+.2} pp", change * 100.0);
    for text in [&md, &html] {
        assert!(text.contains("Terminal T0005 looks faulty"), "advice");
        // Injected from 2026-11-02 (README: "bad since 2026-11-02 or the day after").
        assert!(
            text.contains("bad since 2026-11-02") || text.contains("bad since 2026-11-03"),
            "dated"
        );
        assert!(text.contains(&pp), "change {pp}");
        assert!(text.contains("Riverside Fuel"));
    }
    // Other merchants' terminals are not in this merchant's report.
    assert!(!md.contains("T0001"));
    assert!(out.join(format!("charts/{stem}-daily.svg")).is_file());

    // Chinese: the same figures in Chinese words.
    let zh = dir.path().join("zh");
    run_ok(
        bin()
            .args([
                "report",
                "weekly",
                "--week",
                "2026-W45",
                "--merchant",
                "M0002",
            ])
            .args(["--lang", "zh"])
            .arg(sample_logs())
            .arg("--out")
            .arg(&zh),
    );
    let md_zh = std::fs::read_to_string(zh.join(format!("{stem}.md"))).unwrap();
    assert!(md_zh.contains("终端 T0005 疑似故障"));
    assert!(md_zh.contains(&pp));
    let svg = std::fs::read_to_string(zh.join(format!("charts/{stem}-daily.svg"))).unwrap();
    assert!(svg.contains("每天失败的交易笔数"));
}

#[test]
fn weekly_index_and_a_week_without_data() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("all");
    run_ok(
        bin()
            .args(["report", "weekly", "--week", "2026-W44", "--all-merchants"])
            .arg(sample_logs())
            .arg("--out")
            .arg(&out),
    );
    let (_, merchants) = read_csv(&common::fixture("golden/sample_logs/csv/by_merchant.csv"));
    let index = std::fs::read_to_string(out.join("index.html")).unwrap();
    let htmls: Vec<PathBuf> = files(&out)
        .into_iter()
        .filter(|p| p.extension().is_some_and(|e| e == "html") && !p.ends_with("index.html"))
        .collect();
    // The host log's merchant has data in 2026-W46 only: no report for W44.
    let host = common::fixture("../../sample_logs/injected.toml");
    let host: toml::Value = toml::from_str(&std::fs::read_to_string(host).unwrap()).unwrap();
    let host_merchant = host["host_log"]["merchant_id"].as_str().unwrap();
    assert_eq!(
        htmls.len(),
        merchants
            .iter()
            .filter(|m| m["merchant_id"] != host_merchant)
            .count()
    );
    for h in &htmls {
        assert!(index.contains(&format!("href=\"{}\"", h.display())));
    }
    // The outage of 2026-10-28 (W44) touched merchants: at least one report says so.
    let said = htmls
        .iter()
        .filter(|h| {
            std::fs::read_to_string(out.join(h))
                .unwrap()
                .contains("2026-10-28 14:00 – 2026-10-28 16:00")
        })
        .count();
    assert!(said > 0);

    // A week after the data: a clear message, not an empty report.
    let none = dir.path().join("none");
    let err = String::from_utf8(
        run_ok(
            bin()
                .args([
                    "report",
                    "weekly",
                    "--week",
                    "2026-W50",
                    "--merchant",
                    "M0001",
                ])
                .arg(sample_logs())
                .arg("--out")
                .arg(&none),
        )
        .stderr,
    )
    .unwrap();
    assert!(err.contains("no transactions in 2026-W50"), "{err}");
    let md = files(&none)
        .into_iter()
        .find(|p| p.extension().is_some_and(|e| e == "md"))
        .unwrap();
    let md = std::fs::read_to_string(none.join(md)).unwrap();
    assert!(md.contains("No card payments were recorded for this merchant in week 2026-W50"));
    assert!(md.contains("2026-10-19"), "names the data range: {md}");
    assert!(!md.contains("| Terminal |"), "no empty tables: {md}");

    // An id that is not in the data at all is a usage error that names some real ones.
    let err = fails(
        bin()
            .args([
                "report",
                "weekly",
                "--week",
                "2026-W45",
                "--merchant",
                "M9999",
            ])
            .arg(sample_logs())
            .arg("--out")
            .arg(dir.path().join("x")),
        2,
    );
    assert!(err.contains("M9999") && err.contains("M0001"), "{err}");
    // A malformed week is a usage error too.
    fails(
        bin()
            .args(["report", "weekly", "--week", "2026-45", "--all-merchants"])
            .arg(sample_logs()),
        2,
    );
}

#[test]
fn hostile_merchant_ids_stay_inside_the_folder_and_do_not_collide() {
    let dir = tempfile::tempdir().unwrap();
    let ids = [
        "../x",
        "/etc/passwd",
        "CON",
        "a/b",
        "商户一",
        "Shop",
        "shop",
        "..",
        "a_b",
        "nul.txt",
    ];
    let input = dir.path().join("in.csv");
    let mut f = std::fs::File::create(&input).unwrap();
    writeln!(f, "timestamp,terminal_id,merchant_id,response_code").unwrap();
    for (i, id) in ids.iter().enumerate() {
        for k in 0..20 {
            let code = if k % 5 == 0 { "05" } else { "00" };
            writeln!(
                f,
                "2026-11-0{} 1{}:00:00,T{i:03},\"{id}\",{code}",
                2 + k % 5,
                k % 10
            )
            .unwrap();
        }
    }
    drop(f);
    let out = dir.path().join("reports");
    run_ok(
        bin()
            .args(["report", "weekly", "--week", "2026-W45", "--all-merchants"])
            .arg(&input)
            .arg("--out")
            .arg(&out),
    );
    // Nothing was written beside the output folder (or anywhere above it).
    let mut outside: Vec<PathBuf> = files(dir.path())
        .into_iter()
        .filter(|p| !p.starts_with("reports"))
        .collect();
    outside.sort();
    assert_eq!(outside, vec![PathBuf::from("in.csv")]);
    assert!(!Path::new("/etc/passwd.html").exists());

    let written = files(&out);
    let jsons: Vec<&PathBuf> = written
        .iter()
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    // One report per id, each at the top of the folder, each naming its own id.
    assert_eq!(jsons.len(), ids.len(), "{written:?}");
    let mut seen = BTreeSet::new();
    let mut lower = BTreeSet::new();
    for j in &jsons {
        assert_eq!(j.components().count(), 1, "{}", j.display());
        let name = j.to_str().unwrap();
        assert!(name.is_ascii() && name.starts_with("merchant-"), "{name}");
        // Distinct even on a case-insensitive file system.
        assert!(lower.insert(name.to_lowercase()), "{name}");
        let m = json(&out.join(j));
        assert_eq!(m["current"]["transactions"], 20);
        seen.insert(m["merchant_id"].as_str().unwrap().to_string());
    }
    let expected: BTreeSet<String> = ids.iter().map(|s| s.to_string()).collect();
    assert_eq!(seen, expected);
    // Every html/md/json/chart stays inside the folder.
    for p in &written {
        let real = out.join(p).canonicalize().unwrap();
        assert!(real.starts_with(out.canonicalize().unwrap()));
    }
}

#[test]
fn terminals_csv_lists_every_injected_faulty_terminal() {
    let out = run_ok(
        bin()
            .args(["terminals", "--format", "csv"])
            .arg(sample_logs()),
    )
    .stdout;
    let mut r = csv::Reader::from_reader(out.as_slice());
    let header: Vec<String> = r.headers().unwrap().iter().map(String::from).collect();
    // The columns of flagged_terminals.csv, exactly.
    let (golden_header, _) = read_csv(&common::fixture(
        "golden/sample_logs/csv/flagged_terminals.csv",
    ));
    assert_eq!(header, golden_header);
    let rows: Vec<csv::StringRecord> = r.records().map(|x| x.unwrap()).collect();
    let ids: BTreeSet<String> = rows.iter().map(|r| r[0].to_string()).collect();
    for t in injected_faulty() {
        assert!(ids.contains(&t), "{t} missing from {ids:?}");
    }
    // Ranked by excess faults: terminal_faults - baseline_rate * transactions, descending.
    let excess: Vec<f64> = rows
        .iter()
        .map(|r| {
            let n: f64 = r[2].parse().unwrap();
            let k: f64 = r[3].parse().unwrap();
            let base: f64 = r[5].parse().unwrap();
            k - base * n
        })
        .collect();
    assert!(excess.windows(2).all(|w| w[0] >= w[1]), "{excess:?}");

    // JSON carries the same terminals with their evidence.
    let out = run_ok(
        bin()
            .args(["terminals", "--format", "json"])
            .arg(sample_logs()),
    )
    .stdout;
    let v: serde_json::Value = serde_json::from_slice(&out).unwrap();
    let listed: Vec<&str> = v["terminals"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["terminal_id"].as_str().unwrap())
        .collect();
    let csv_order: Vec<&str> = rows.iter().map(|r| r.get(0).unwrap()).collect();
    assert_eq!(listed, csv_order);
    for t in v["terminals"].as_array().unwrap() {
        assert!(t["fault_ci_low"].as_f64().unwrap() < t["terminal_fault_rate"].as_f64().unwrap());
        assert!(t["p_value"].as_f64().unwrap() < 1e-6);
    }
    // The table names them too.
    let table = run_ok(bin().arg("terminals").arg(sample_logs())).stdout;
    let table = String::from_utf8(table).unwrap();
    for t in injected_faulty() {
        assert!(table.contains(&t), "{table}");
    }
}

#[test]
fn fail_on_flagged_exit_codes_and_a_closed_pipe() {
    // Flagged terminals: exit 3 with --fail-on-flagged, 0 without.
    fails(
        bin()
            .args(["terminals", "--fail-on-flagged"])
            .arg(sample_logs()),
        3,
    );
    run_ok(bin().arg("terminals").arg(sample_logs()));
    // No terminal can be judged under an impossible minimum volume: nothing flagged, exit 0.
    let out = run_ok(
        bin()
            .args([
                "terminals",
                "--fail-on-flagged",
                "--min-volume",
                "100000000",
            ])
            .args(["--format", "csv"])
            .arg(sample_logs()),
    );
    let (header_only, rows) = {
        let mut r = csv::Reader::from_reader(out.stdout.as_slice());
        let h = r.headers().unwrap().len();
        (h, r.records().count())
    };
    assert_eq!((header_only, rows), (13, 0));
    // The input format keeps its own flag here (a CSV export: the folder also holds the
    // jPOS host log, which is not CSV).
    run_ok(
        bin()
            .args(["terminals", "--input-format", "csv", "--format", "json"])
            .arg(sample_logs().join("transactions_2026-W46.csv.gz")),
    );

    // A reader that goes away (`| head -0`) ends the output quietly, with the exit status the
    // run would have had.
    let mut child = bin()
        .args(["terminals", "--format", "csv"])
        .arg(sample_logs())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(
        !stderr.contains("panicked") && !stderr.contains("error"),
        "{stderr}"
    );
}

#[test]
fn verify_names_changed_missing_and_unlisted_files() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    common::analyze(&[sample_logs()], &out, &[]);
    let ok = run_ok(bin().arg("verify").arg(&out)).stdout;
    assert!(String::from_utf8(ok).unwrap().starts_with("ok: "));

    // One changed byte.
    let by_code = out.join("csv/by_code.csv");
    let original = std::fs::read(&by_code).unwrap();
    let mut changed = original.clone();
    let i = changed.len() / 2;
    changed[i] = if changed[i] == b'1' { b'2' } else { b'1' };
    std::fs::write(&by_code, &changed).unwrap();
    let mut v = bin();
    v.arg("verify").arg(&out);
    let o = v.output().unwrap();
    assert_eq!(o.status.code(), Some(1));
    let text = String::from_utf8(o.stdout).unwrap();
    assert_eq!(text.lines().count(), 1, "{text}");
    assert!(text.starts_with("changed   csv/by_code.csv"), "{text}");
    std::fs::write(&by_code, &original).unwrap();
    run_ok(bin().arg("verify").arg(&out));

    // One missing file, one extra file, and the change again: all three named.
    std::fs::remove_file(out.join("charts/top_codes.svg")).unwrap();
    std::fs::write(out.join("csv/extra.csv"), "a,b\n1,2\n").unwrap();
    std::fs::write(&by_code, &changed).unwrap();
    let o = bin().arg("verify").arg(&out).output().unwrap();
    assert_eq!(o.status.code(), Some(1));
    let text = String::from_utf8(o.stdout).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 3, "{text}");
    assert!(lines[0].starts_with("changed   csv/by_code.csv"));
    assert_eq!(lines[1], "missing   charts/top_codes.svg");
    assert!(lines[2].starts_with("unlisted  csv/extra.csv"));
    let stderr = String::from_utf8(o.stderr).unwrap();
    assert!(stderr.contains("3 file(s)"), "{stderr}");

    // A folder without a manifest is a runtime error that says which file is missing.
    let err = fails(bin().arg("verify").arg(dir.path()), 1);
    assert!(err.contains("manifest.json"), "{err}");
}

#[test]
fn export_md_describes_every_column_of_the_bundle() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    common::analyze(&[sample_logs()], &out, &[]);
    let export = std::fs::read_to_string(out.join("csv/EXPORT.md")).unwrap();
    let manifest = json(&out.join("manifest.json"));
    let listed: Vec<&str> = manifest["outputs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["path"].as_str().unwrap())
        .collect();
    assert!(listed.contains(&"csv/EXPORT.md"));
    for file in [
        "by_terminal.csv",
        "by_period.csv",
        "by_code.csv",
        "by_merchant.csv",
        "flagged_terminals.csv",
    ] {
        let section = export
            .split(&format!("## `{file}`"))
            .nth(1)
            .unwrap_or_else(|| panic!("{file} not described"));
        let section = section.split("\n## ").next().unwrap();
        let (header, _) = read_csv(&out.join("csv").join(file));
        for col in header {
            assert!(section.contains(&format!("| `{col}` |")), "{file}: {col}");
        }
    }
    // The reconciliation it states holds for the files next to it.
    let totals = common::manifest_totals(&out);
    let sum = |file: &str, col: &str| -> u64 {
        read_csv(&out.join("csv").join(file))
            .1
            .iter()
            .map(|r| r[col].parse::<u64>().unwrap())
            .sum()
    };
    let transactions = sum("by_period.csv", "transactions");
    assert_eq!(transactions, sum("by_code.csv", "transactions"));
    assert_eq!(transactions, sum("by_merchant.csv", "transactions"));
    assert!(export.contains(&format!(
        "`rows_read` {} = `rows_accepted` {} + `rows_rejected` {} + `rows_duplicate` {}",
        totals["rows_read"],
        totals["rows_accepted"],
        totals["rows_rejected"],
        totals["rows_duplicate"]
    )));
    assert!(export.contains(&format!("Transactions: {transactions} = `rows_accepted`")));
}

#[test]
fn chinese_charts_and_the_worst_terminals_chart_leave_out_unjudged_terminals() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("zh");
    common::analyze(&[sample_logs()], &out, &["--lang", "zh", "--png"]);
    let worst = std::fs::read_to_string(out.join("charts/worst_terminals.svg")).unwrap();
    assert!(worst.contains("终端类错误率最高的终端"));
    // T0025 has 61 transactions: insufficient_data, so not charted (it used to top the chart).
    let (_, rows) = read_csv(&out.join("csv/by_terminal.csv"));
    let unjudged: Vec<&str> = rows
        .iter()
        .filter(|r| r["status"] == "insufficient_data")
        .map(|r| r["terminal_id"].as_str())
        .collect();
    assert!(unjudged.contains(&"T0025"));
    for t in unjudged {
        assert!(!worst.contains(&format!("\n{t}\n")), "{t} charted");
    }
    for t in injected_faulty() {
        assert!(worst.contains(&format!("\n{t}\n")), "{t} not charted");
    }
    let over_time = std::fs::read_to_string(out.join("charts/failure_rate_over_time.svg")).unwrap();
    assert!(over_time.contains("各类失败率走势"));
    // PNGs stay English (the bundled font has no CJK glyphs) and are real PNGs.
    let png = std::fs::read(out.join("charts/worst_terminals.png")).unwrap();
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
    // The page and the Markdown show the same tables: same terminal rows in both.
    let md = std::fs::read_to_string(out.join("report.md")).unwrap();
    let html = std::fs::read_to_string(out.join("report.html")).unwrap();
    for r in &rows {
        let t = &r["terminal_id"];
        assert_eq!(
            md.contains(&format!("| {t} |")),
            html.contains(&format!("<td>{t}</td>")),
            "{t}"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Issue 24: verdicts on a fleet shaped like a real one (`poslens sample --fleet`), checked
// against the generator's injected.toml, counted while it wrote the rows.

/// A date `YYYY-MM-DD` (the start of an RFC 3339 value) as days since 1970-01-01.
fn day_number(s: &str) -> i64 {
    let (y, m, d): (i64, i64, i64) = (
        s[0..4].parse().unwrap(),
        s[5..7].parse().unwrap(),
        s[8..10].parse().unwrap(),
    );
    // Days from civil (H. Hinnant's algorithm).
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * (m + if m > 2 { -3 } else { 9 }) + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// `poslens sample --fleet ARGS --out DIR`.
fn make_fleet(dir: &Path, args: &[&str]) {
    run_ok(
        bin()
            .args(["sample", "--fleet"])
            .args(args)
            .arg("--out")
            .arg(dir),
    );
}

fn fleet_truth(dir: &Path) -> toml::Value {
    toml::from_str(&std::fs::read_to_string(dir.join("injected.toml")).unwrap()).unwrap()
}

fn ids(v: &toml::Value, table: &str) -> BTreeSet<String> {
    v[table]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["terminal_id"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn issue24_a_heterogeneous_fleet_is_judged_against_its_cohorts() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("fleet");
    // The default fleet: 1,500 terminals of three models, 28 days.
    make_fleet(&data, &["--seed", "42"]);
    let truth = fleet_truth(&data);
    let out = dir.path().join("out");
    let printed = common::analyze(&[data.join("fleet.csv")], &out, &["--profile", "cup"]);
    let summary = String::from_utf8(printed.stdout).unwrap();
    let healthy = truth["healthy"].as_integer().unwrap() as usize;
    assert!(healthy >= 1_000);

    // Flags: every plain break, its first bad day within one day, the readers named, false
    // flags at most 0.5% of the healthy terminals.
    let (_, flagged) = read_csv(&out.join("csv/flagged_terminals.csv"));
    let by_id: std::collections::BTreeMap<&str, &std::collections::BTreeMap<String, String>> =
        flagged
            .iter()
            .map(|r| (r["terminal_id"].as_str(), r))
            .collect();
    let broken = truth["broken"].as_array().unwrap();
    let injected: BTreeSet<String> = ids(&truth, "broken")
        .union(&ids(&truth, "reader"))
        .cloned()
        .collect();
    let false_flags: Vec<&&str> = by_id.keys().filter(|t| !injected.contains(**t)).collect();
    assert!(
        false_flags.len() * 200 <= healthy,
        "false flags {false_flags:?} of {healthy} healthy terminals"
    );
    for b in broken
        .iter()
        .filter(|b| b["kind"].as_str() == Some("plain"))
    {
        let id = b["terminal_id"].as_str().unwrap();
        let f = by_id
            .get(id)
            .unwrap_or_else(|| panic!("plain broken {id} not flagged"));
        let from = day_number(b["from"].as_str().unwrap());
        let got = day_number(&f["first_bad_period"]);
        assert!((got - from).abs() <= 1, "{id}: first bad {got} vs {from}");
        match b.get("until").and_then(|u| u.as_str()) {
            Some(until) => {
                let rec = &f["recovered_period"];
                assert!(!rec.is_empty(), "{id} recovered on {until}: {f:?}");
                assert!(
                    (day_number(rec) - day_number(until)).abs() <= 1,
                    "{id}: {rec} vs {until}"
                );
            }
            None => assert_eq!(f["recovered_period"], "", "{id}"),
        }
        assert!(
            !f["cohort"].is_empty() && f["cohort"] != "fleet",
            "{id}: {f:?}"
        );
    }
    for r in truth["reader"].as_array().unwrap() {
        let id = r["terminal_id"].as_str().unwrap();
        let f = by_id
            .get(id)
            .unwrap_or_else(|| panic!("reader fault {id} not flagged"));
        assert_eq!(f["entry_mode"], "contactless", "{id}: {f:?}");
        assert!(
            f["reason"].starts_with("contactless reader:"),
            "{}",
            f["reason"]
        );
    }

    // The hot model is named in cohorts.csv and in the summary.
    let (_, cohorts) = read_csv(&out.join("csv/cohorts.csv"));
    let hot = cohorts
        .iter()
        .find(|c| c["cohort_field"] == "model" && c["cohort"] == "Ingenico Move5000")
        .expect("the Move5000 cohort");
    let ratio: f64 = hot["ratio_to_fleet"].parse().unwrap();
    let p: f64 = hot["p_value"].parse().unwrap();
    assert!(ratio > 1.4 && p < 1e-6, "{hot:?}");
    for c in cohorts
        .iter()
        .filter(|c| c["cohort_field"] == "model" && c["cohort"] != "Ingenico Move5000")
    {
        let ratio: f64 = c["ratio_to_fleet"].parse().unwrap();
        assert!(ratio < 1.0, "{c:?}");
    }
    assert!(
        summary.contains("model Ingenico Move5000 runs hot"),
        "{summary}"
    );

    // Silent terminals and volume drops, exactly.
    let (_, silent) = read_csv(&out.join("csv/silent_terminals.csv"));
    let got: BTreeSet<(String, String, String)> = silent
        .iter()
        .map(|s| {
            let day = if s["status"] == "silent" {
                &s["last_seen"]
            } else {
                &s["since"]
            };
            (
                s["terminal_id"].clone(),
                s["status"].clone(),
                day[..10].to_string(),
            )
        })
        .collect();
    let mut want = BTreeSet::new();
    for s in truth["silent"].as_array().unwrap() {
        want.insert((
            s["terminal_id"].as_str().unwrap().to_string(),
            "silent".to_string(),
            s["last_seen"].as_str().unwrap().to_string(),
        ));
    }
    for s in truth["volume_drop"].as_array().unwrap() {
        want.insert((
            s["terminal_id"].as_str().unwrap().to_string(),
            "volume_drop".to_string(),
            s["since"].as_str().unwrap().to_string(),
        ));
    }
    assert_eq!(got, want);
    // The weekend-only shops trade on their own days: not silent.
    for w in truth["weekend_only"]["terminal_ids"].as_array().unwrap() {
        assert!(!got.iter().any(|g| g.0 == w.as_str().unwrap()));
    }

    // Both incidents, with the generator's counts; no terminal flagged for them.
    let (_, incidents) = read_csv(&out.join("csv/incidents.csv"));
    for i in truth["incident"].as_array().unwrap() {
        let scope = i["scope"].as_str().unwrap();
        let start = i["start"].as_str().unwrap();
        let code = i["code"].as_str().unwrap();
        let found = incidents
            .iter()
            .find(|r| r["scope"] == scope && r["start"][..13] == start[..13])
            .unwrap_or_else(|| panic!("{scope} incident at {start} not found: {incidents:?}"));
        assert_eq!(found["class"], i["class"].as_str().unwrap());
        assert!(found["end"][..16] >= i["end"].as_str().unwrap()[..16]);
        let top = found["top_codes"].split(';').next().unwrap();
        assert_eq!(
            top,
            format!("{code}:{}", i["failures"].as_integer().unwrap()),
            "{found:?}"
        );
        let hit: i64 = found["terminals_hit"].parse().unwrap();
        let want_hit = i["terminals_hit"].as_integer().unwrap();
        // The fleet incident's hours also hold a few ordinary terminal faults elsewhere.
        assert!(
            hit >= want_hit && hit <= want_hit + want_hit / 100,
            "{found:?}"
        );
        if scope == "issuer" {
            assert_eq!(found["issuer_bin"], i["issuer_bin"].as_str().unwrap());
            assert_eq!(hit, want_hit);
        }
        for f in &flagged {
            assert!(!f["top_codes"].contains(&format!("{code}:")), "{f:?}");
        }
    }

    // Evidence: each flag's terminal-class rows, each pointing at its line of the input.
    let (_, evidence) = read_csv(&out.join("csv/evidence.csv"));
    let lines: Vec<String> = std::fs::read_to_string(data.join("fleet.csv"))
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect();
    for f in &flagged {
        let rows: Vec<_> = evidence
            .iter()
            .filter(|e| e["terminal_id"] == f["terminal_id"])
            .collect();
        assert_eq!(
            rows.len().to_string(),
            f["terminal_faults"],
            "{}",
            f["terminal_id"]
        );
        for e in rows.iter().take(20) {
            let line: usize = e["line"].parse().unwrap();
            let cells: Vec<&str> = lines[line - 1].split(',').collect();
            assert_eq!(cells[1], e["terminal_id"]);
            assert_eq!(cells[9], e["response_code"]);
            assert_eq!(cells[0], &e["timestamp"][..19].replace('T', " "));
        }
    }
}

#[test]
fn issue24_daily_cubes_give_the_verdicts_of_the_logs() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("fleet");
    make_fleet(
        &data,
        &["--terminals", "160", "--days", "14", "--seed", "3"],
    );
    let input = data.join("fleet.csv");
    let cubes = dir.path().join("cubes");
    std::fs::create_dir(&cubes).unwrap();
    let mut args: Vec<std::ffi::OsString> = vec!["analyze".into()];
    for d in 0..14 {
        let (from, to) = (
            day_number("2026-10-19") + d,
            day_number("2026-10-19") + d + 1,
        );
        let date = |n: i64| {
            // Back from a day number to YYYY-MM-DD for the 14 days of the sample (October and
            // November 2026).
            let oct1 = day_number("2026-10-01");
            if n - oct1 < 31 {
                format!("2026-10-{:02}", n - oct1 + 1)
            } else {
                format!("2026-11-{:02}", n - oct1 - 30)
            }
        };
        let cube = cubes.join(format!("d{d:02}.parquet"));
        common::analyze(
            &[&input],
            &dir.path().join(format!("day{d}")),
            &[
                "--profile",
                "cup",
                "--since",
                &date(from),
                "--until",
                &date(to),
                "--save-cube",
                cube.to_str().unwrap(),
            ],
        );
        args.push("--cube".into());
        args.push(cube.into());
    }
    let whole = dir.path().join("whole");
    common::analyze(&[&input], &whole, &["--profile", "cup"]);
    let merged = dir.path().join("merged");
    run_ok(
        bin()
            .args(&args)
            .args(["--profile", "cup", "--out"])
            .arg(&merged),
    );
    let (_, flagged) = read_csv(&whole.join("csv/flagged_terminals.csv"));
    assert!(!flagged.is_empty());
    let (_, cohorts) = read_csv(&whole.join("csv/cohorts.csv"));
    assert!(cohorts.len() >= 3);
    for f in [
        "by_terminal.csv",
        "flagged_terminals.csv",
        "cohorts.csv",
        "silent_terminals.csv",
        "incidents.csv",
    ] {
        let a = std::fs::read(whole.join("csv").join(f)).unwrap();
        let b = std::fs::read(merged.join("csv").join(f)).unwrap();
        assert!(
            a == b,
            "{f} differs between the logs and the merged daily cubes"
        );
    }
    // A cube keeps counts, not rows: no evidence from cubes, said in EXPORT.md.
    let (_, evidence) = read_csv(&merged.join("csv/evidence.csv"));
    assert!(evidence.is_empty());
}

#[test]
fn issue24_an_inventory_gives_the_cohorts_the_logs_do_not_and_cron_fails_on_silence() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("fleet");
    make_fleet(
        &data,
        &["--terminals", "300", "--days", "21", "--seed", "5"],
    );
    // The same rows without the model and firmware columns (an export that does not carry
    // them), and the inventory beside it.
    let text = std::fs::read_to_string(data.join("fleet.csv")).unwrap();
    let bare: String = text
        .lines()
        .map(|l| {
            let cells: Vec<&str> = l.split(',').collect();
            format!("{}\n", cells[..cells.len() - 2].join(","))
        })
        .collect();
    assert!(bare.starts_with("timestamp,") && bare.lines().next().unwrap().ends_with(",pan"));
    let bare_path = dir.path().join("bare.csv");
    std::fs::write(&bare_path, bare).unwrap();

    let with_columns = dir.path().join("with");
    common::analyze(
        &[data.join("fleet.csv")],
        &with_columns,
        &["--profile", "cup"],
    );
    let with_inventory = dir.path().join("inv");
    common::analyze(
        &[&bare_path],
        &with_inventory,
        &[
            "--profile",
            "cup",
            "--inventory",
            data.join("inventory.csv").to_str().unwrap(),
        ],
    );
    let without = dir.path().join("without");
    common::analyze(&[&bare_path], &without, &["--profile", "cup"]);
    for f in ["cohorts.csv", "flagged_terminals.csv"] {
        let a = std::fs::read(with_columns.join("csv").join(f)).unwrap();
        let b = std::fs::read(with_inventory.join("csv").join(f)).unwrap();
        assert!(a == b, "{f}: the inventory must give what the columns gave");
    }
    let (_, cohorts) = read_csv(&with_inventory.join("csv/cohorts.csv"));
    assert_eq!(
        cohorts
            .iter()
            .filter(|c| c["cohort_field"] == "model")
            .count(),
        3,
        "{cohorts:?}"
    );
    // Nothing says what the terminals are: one cohort, the fleet, and no cohort table.
    let (_, none) = read_csv(&without.join("csv/cohorts.csv"));
    assert!(none.is_empty());
    let (_, flagged) = read_csv(&without.join("csv/flagged_terminals.csv"));
    assert!(flagged.iter().all(|f| f["cohort"] == "fleet"));

    // Cron: silent terminals fail the check with --fail-on-silent (exit 3), not without it.
    let truth = fleet_truth(&data);
    assert!(!truth["silent"].as_array().unwrap().is_empty());
    let mut cmd = bin();
    cmd.args([
        "terminals",
        "--profile",
        "cup",
        "--fail-on-silent",
        "--format",
        "json",
    ])
    .arg(data.join("fleet.csv"));
    let stderr = fails(&mut cmd, 3);
    assert!(stderr.contains("--fail-on-silent"), "{stderr}");
    let out = run_ok(
        bin()
            .args(["terminals", "--profile", "cup", "--format", "json"])
            .arg(data.join("fleet.csv")),
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let silent: BTreeSet<String> = v["silent"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["status"] == "silent")
        .map(|s| s["terminal_id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(silent, ids(&truth, "silent"));
}
