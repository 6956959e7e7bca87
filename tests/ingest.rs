//! Ingest tests (issue 3): every format, every malformed kind, reconciliation as a property,
//! the same transactions in four shapes giving the same figures, and no PAN in any output.

use crate::common;

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use common::{analyze, bin, fails, fixture, manifest_totals, ok};

use proptest::prelude::*;

fn rejects(out: &Path) -> Vec<(String, String)> {
    let mut r = csv::Reader::from_path(out.join("rejects.csv")).unwrap();
    r.records()
        .map(|x| {
            let x = x.unwrap();
            (x[1].to_string(), x[2].to_string())
        })
        .collect()
}

/// The same 22 transactions in every shape poslens reads give identical `by_terminal.csv`,
/// `by_period.csv`, `by_code.csv` and `by_merchant.csv`, and the same amount sum: canonical
/// CSV, a GBK ';' gzip export with Chinese alias headers and naive local times, JSON Lines, a
/// jPOS XML log, and (issue 11) split date and time columns with codes carrying their text
/// and amounts with currency signs, the Chinese `交易日期` + `交易时间` form, a ';' export with
/// decimal commas, a Chinese and an English portal workbook (.xlsx) and an old .xls.
#[test]
fn every_shape_of_the_same_transactions_agrees() {
    // (file, extra options, rows rejected: the workbooks' totals rows)
    let shapes: [(&str, &[&str], u64); 10] = [
        ("canonical.csv", &[], 0),
        ("export_gbk.csv.gz", &["--encoding", "gbk"], 0),
        ("transactions.jsonl", &[], 0),
        ("host.xml", &[], 0),
        ("split_date_time.csv", &[], 0),
        ("cn_split.csv", &[], 0),
        ("european.csv", &[], 0),
        ("portal_zh.xlsx", &[], 1),
        ("portal_en.xlsx", &["--sheet", "Transactions"], 1),
        ("portal.xls", &[], 1),
    ];
    let mut outputs = Vec::new();
    for (shape, more, rejected) in shapes {
        let dir = tempfile::tempdir().unwrap();
        let mut extra = vec!["--tz", "Asia/Shanghai"];
        extra.extend(more);
        analyze(&[fixture(&format!("equiv/{shape}"))], dir.path(), &extra);
        let t = manifest_totals(dir.path());
        assert_eq!(
            (t["rows_accepted"], t["rows_rejected"], t["rows_duplicate"]),
            (22, rejected, 0),
            "{shape}"
        );
        assert_eq!(t["rows_read"], 22 + rejected, "{shape}");
        let read = |f: &str| std::fs::read_to_string(dir.path().join("csv").join(f)).unwrap();
        let summary = common::json(&dir.path().join("summary.json"));
        outputs.push((
            shape,
            read("by_terminal.csv"),
            read("by_period.csv"),
            read("by_merchant.csv"),
            read("by_code.csv"),
            summary["headline"]["amount_minor"].as_i64().unwrap(),
        ));
    }
    let first = &outputs[0];
    for o in &outputs[1..] {
        // Response times come from request/response pairs in a jPOS log, not from the CSV
        // shapes: the last two columns (latency p50/p95) are left out of the comparison.
        let cut = |t: &str| -> String {
            t.lines()
                .map(|l| l.rsplitn(3, ',').nth(2).unwrap_or(l).to_string() + "\n")
                .collect()
        };
        assert_eq!(
            cut(&o.1),
            cut(&first.1),
            "by_terminal: {} vs {}",
            o.0,
            first.0
        );
        assert_eq!(
            cut(&o.2),
            cut(&first.2),
            "by_period: {} vs {}",
            o.0,
            first.0
        );
        assert_eq!(o.4, first.4, "by_code: {} vs {}", o.0, first.0);
        assert_eq!(o.5, first.5, "amount sum: {} vs {}", o.0, first.0);
        // A jPOS host log carries no merchant name (field 43 is not read), so for it the
        // name column is left out of the comparison.
        let without_names = |s: &str| -> Vec<Vec<String>> {
            s.lines()
                .map(|l| {
                    let mut v: Vec<String> = l.split(',').map(String::from).collect();
                    v.remove(1);
                    v
                })
                .collect()
        };
        if o.0 == "host.xml" {
            assert_eq!(
                without_names(&o.3),
                without_names(&first.3),
                "by_merchant: host.xml"
            );
        } else {
            assert_eq!(o.3, first.3, "by_merchant: {} vs {}", o.0, first.0);
        }
    }
    assert!(first.3.contains("王记超市"));
    assert!(first.2.starts_with("period_start,") && first.2.contains("2026-11-09T00:00:00+08:00"));
    // 12.50 + 0.37 per row over 22 rows: the amounts were all read, in every shape.
    assert_eq!(first.5, (0..22).map(|i| 1250 + 37 * i).sum::<i64>());
}

fn write(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let p = dir.join(name);
    std::fs::File::create(&p).unwrap().write_all(bytes).unwrap();
    p
}

const HEADER: &str = "timestamp,terminal_id,txn_id,response_code\n";

/// Each malformed kind is rejected with its line and a reason, and the rows around it survive.
#[test]
fn malformed_rows_are_rejected_with_reasons() {
    let dir = tempfile::tempdir().unwrap();
    let mut bytes = HEADER.as_bytes().to_vec();
    let cases: &[(&[u8], &str)] = &[
        (b"2026-11-09 10:00:00,T1,1\n", "wrong number of fields"),
        (
            b"2026-11-09 10:00:00,T1,2,00,extra\n",
            "wrong number of fields",
        ),
        (b"2026-11-09 25:00:00,T1,3,00\n", "unparseable timestamp"),
        (b",T1,4,00\n", "empty timestamp"),
        (b"2026-11-09 10:00:00,,5,00\n", "empty terminal_id"),
        (b"2026-11-09 10:00:00,T1,6,\n", "empty response code"),
        (b"2026-11-09 10:00:00,T1\x00,7,00\n", "NUL byte"),
        (
            b"2026-11-09 10:00:00,\xd6\xd5\xb6\xcb,8,00\n",
            "undecodable bytes",
        ),
    ];
    let good = b"2026-11-09 11:00:00,T2,100,00\n";
    for (row, _) in cases {
        bytes.extend_from_slice(row);
        bytes.extend_from_slice(good);
    }
    // An unterminated quote swallows the rest of the file into one bad record: it must be
    // reported, not silently dropped.
    bytes.extend_from_slice(b"2026-11-09 12:00:00,\"T3,9,00\n2026-11-09 12:00:01,T3,10,00\n");
    let f = write(dir.path(), "bad.csv", &bytes);
    analyze(&[f], &dir.path().join("o"), &[]);
    let rej = rejects(&dir.path().join("o"));
    for (i, (_, reason)) in cases.iter().enumerate() {
        let line = (2 + 2 * i).to_string();
        let r = rej
            .iter()
            .find(|r| r.0 == line)
            .unwrap_or_else(|| panic!("line {line} not rejected: {rej:?}"));
        assert!(
            r.1.contains(reason),
            "line {line}: {} does not mention {reason}",
            r.1
        );
    }
    assert!(
        rej.iter().any(|r| r.0 == "18"),
        "unterminated quote not reported: {rej:?}"
    );
    let t = manifest_totals(&dir.path().join("o"));
    assert_eq!(
        t["rows_read"],
        t["rows_accepted"] + t["rows_rejected"] + t["rows_duplicate"]
    );
    // The good rows between the bad ones: 8 of T2, all with txn_id 100 -> 1 accepted, 7 duplicates.
    assert_eq!(t["rows_accepted"], 1);
    assert_eq!(t["rows_duplicate"], 7);
}

#[test]
fn bom_crlf_and_delimiters() {
    let dir = tempfile::tempdir().unwrap();
    for (name, delim) in [
        ("comma.csv", ","),
        ("semi.csv", ";"),
        ("pipe.csv", "|"),
        ("tab.tsv", "\t"),
    ] {
        let text = format!(
            "\u{feff}Trans_Time{d}TID{d}RC\r\n2026-11-09 10:00:00{d}T1{d}00\r\n2026-11-09 10:05:00{d}T1{d}\"05\"\r\n",
            d = delim
        );
        let f = write(dir.path(), name, text.as_bytes());
        let out = dir.path().join(format!("o-{name}"));
        analyze(&[f], &out, &[]);
        let t = manifest_totals(&out);
        assert_eq!((t["rows_accepted"], t["rows_rejected"]), (2, 0), "{name}");
    }
}

#[test]
fn empty_and_header_only_files_read_zero_rows() {
    let dir = tempfile::tempdir().unwrap();
    let empty = write(dir.path(), "empty.csv", b"");
    let header = write(dir.path(), "header.csv", HEADER.as_bytes());
    let good = write(
        dir.path(),
        "good.csv",
        format!("{HEADER}2026-11-09 10:00:00,T1,1,00\n").as_bytes(),
    );
    analyze(
        &[empty.clone(), header.clone(), good],
        &dir.path().join("o"),
        &[],
    );
    let m: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("o/manifest.json")).unwrap())
            .unwrap();
    let inputs = m["inputs"].as_array().unwrap();
    assert_eq!(inputs.len(), 3);
    assert_eq!(inputs[0]["rows_read"], 0);
    assert_eq!(inputs[1]["rows_read"], 0);
    // Only empty input: no valid rows is a runtime error with a clear message.
    let err = fails(
        bin()
            .arg("analyze")
            .arg(&empty)
            .arg(&header)
            .arg("--out")
            .arg(dir.path().join("e")),
        1,
    );
    assert!(err.contains("no valid transactions"));
}

#[test]
fn broken_json_line_and_truncated_xml_lose_nothing_else() {
    let dir = tempfile::tempdir().unwrap();
    let jsonl = write(
        dir.path(),
        "t.jsonl",
        b"{\"timestamp\":\"2026-11-09T10:00:00Z\",\"tid\":\"T1\",\"rc\":\"00\"}\n{\"timestamp\": broken\n{\"timestamp\":\"2026-11-09T11:00:00Z\",\"tid\":\"T1\",\"rc\":5}\n",
    );
    let out = dir.path().join("j");
    analyze(&[jsonl], &out, &[]);
    let t = manifest_totals(&out);
    assert_eq!(
        (
            t["rows_read"],
            t["rows_accepted"],
            t["rows_rejected"],
            t["codes_padded"]
        ),
        (3, 2, 1, 1)
    );
    assert_eq!(rejects(&out)[0].0, "2");

    let out = dir.path().join("x");
    analyze(&[fixture("jpos/truncated.xml")], &out, &[]);
    let t = manifest_totals(&out);
    assert!(t["rows_accepted"] >= 1, "{t:?}");
    let rej = rejects(&out);
    assert_eq!(rej.len(), 1, "{rej:?}");
    assert!(rej[0].1.contains("truncated"));
}

#[test]
fn map_option_and_config_file_and_missing_column_message() {
    let dir = tempfile::tempdir().unwrap();
    let f = write(
        dir.path(),
        "x.csv",
        b"When,Device,Result\n2026-11-09 10:00:00,D1,00\n",
    );
    let err = fails(
        bin()
            .arg("analyze")
            .arg(&f)
            .arg("--out")
            .arg(dir.path().join("o")),
        1,
    );
    assert!(
        err.contains("missing required column timestamp") && err.contains("\"Device\""),
        "{err}"
    );
    analyze(
        std::slice::from_ref(&f),
        &dir.path().join("o"),
        &[
            "--map",
            "timestamp=When",
            "--map",
            "terminal_id=Device",
            "--map",
            "response_code=Result",
        ],
    );
    // The same mapping from poslens.toml in the working directory.
    std::fs::write(
        dir.path().join("poslens.toml"),
        "[map]\ntimestamp = \"When\"\nterminal_id = \"Device\"\nresponse_code = \"Result\"\n",
    )
    .unwrap();
    ok(bin()
        .current_dir(dir.path())
        .args(["analyze", "x.csv", "--out", "o2"])
        .output()
        .unwrap());
    assert!(dir.path().join("o2/csv/by_terminal.csv").exists());
}

/// Luhn-valid PANs anywhere in the input (pan column, a rejected row, a JSON key, XML field 2)
/// never appear in any output file or on the terminal.
#[test]
fn luhn_valid_pans_never_reach_any_output() {
    let pans = [
        "4111111111111111",
        "5555555555554444",
        "6222021234567890128",
        "378282246310005",
    ];
    let dir = tempfile::tempdir().unwrap();
    let mut csv = String::from("timestamp,terminal_id,response_code,card_no,note\n");
    for (i, p) in pans.iter().enumerate() {
        csv.push_str(&format!("2026-11-09 10:0{i}:00,T1,00,{p},ok\n"));
        csv.push_str(&format!("bad time,T1,00,{p},{p}\n"));
        csv.push_str(&format!("2026-11-09 10:0{i}:00,T1,00,{p},{p},extra\n"));
    }
    // A ragged row whose excerpt is cut at 200 characters in the middle of a PAN: the PAN is
    // masked before the cut, so not even its first 13 digits survive.
    csv.push_str(&format!(
        "2026-11-09 10:00:00,T1,00,,{},5555555555554444,extra\n",
        "x".repeat(158)
    ));
    // A card number in the timestamp column: the reject reason quotes the value.
    csv.push_str(&format!("{},T1,00,,swapped\n", pans[2]));
    let f = write(dir.path(), "cards.csv", csv.as_bytes());
    let j = write(
        dir.path(),
        "cards.jsonl",
        format!(
            "{{\"timestamp\":\"x\",\"tid\":\"T1\",\"rc\":\"00\",\"pan\":\"{}\"}}\n{{\"broken {}\n",
            pans[0], pans[1]
        )
        .as_bytes(),
    );
    let out_dir = dir.path().join("o");
    let out = analyze(&[f.clone(), j.clone()], &out_dir, &[]);
    let v = ok(bin().arg("validate").arg(&f).arg(&j).output().unwrap());
    let mut texts = vec![
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    ];
    texts.push(String::from_utf8_lossy(&v.stdout).into_owned());
    for entry in common::files_under(&out_dir) {
        texts.push(String::from_utf8_lossy(&std::fs::read(&entry).unwrap()).into_owned());
    }
    for t in &texts {
        for p in pans {
            assert!(!t.contains(p), "a full PAN leaked: {p}");
            assert!(
                !t.contains(&p[..13]),
                "the first 13 digits of a PAN leaked: {p}"
            );
        }
    }
    assert!(texts.iter().any(|t| t.contains("411111******1111")));

    // A file without a header row: its first data row is read as the header, and the error
    // that lists the "headers" found must not repeat the card number in it.
    let headerless = write(
        dir.path(),
        "noheader.csv",
        format!("2026-11-09 10:00:00,T1,00,{}\n", pans[0]).as_bytes(),
    );
    let err = fails(
        bin()
            .arg("analyze")
            .arg(&headerless)
            .arg("--out")
            .arg(dir.path().join("h")),
        1,
    );
    assert!(
        err.contains("missing required column") && !err.contains(pans[0]),
        "{err}"
    );
}

#[test]
fn validate_reports_reasons_with_file_and_line() {
    let out = ok(bin()
        .arg("validate")
        .arg(fixture("csv/small.csv"))
        .output()
        .unwrap());
    let s = String::from_utf8_lossy(&out.stdout);
    assert!(
        s.contains("rows_read 14 = accepted + rejected + duplicate: yes"),
        "{s}"
    );
    assert!(s.contains("small.csv:11: unparseable timestamp"), "{s}");
    assert!(s.contains("wrong number of fields"), "{s}");
    assert!(!Path::new("reports/latest/never-written").exists());
}

/// A row for the property test: good, or one of the bad kinds; `id` may repeat.
#[derive(Debug, Clone)]
enum Row {
    Good {
        term: u8,
        hour: u8,
        code: &'static str,
        id: u16,
    },
    BadTime {
        id: u16,
    },
    NoTerminal {
        id: u16,
    },
    Ragged,
}

fn row_strategy() -> impl Strategy<Value = Row> {
    prop_oneof![
        6 => (0u8..4, 0u8..48, prop::sample::select(vec!["00", "05", "51", "91", "9997", "43", "ZZ"]), 0u16..60)
            .prop_map(|(term, hour, code, id)| Row::Good { term, hour, code, id }),
        1 => (0u16..60).prop_map(|id| Row::BadTime { id }),
        1 => (0u16..60).prop_map(|id| Row::NoTerminal { id }),
        1 => Just(Row::Ragged),
    ]
}

fn line(r: &Row) -> String {
    match r {
        Row::Good {
            term,
            hour,
            code,
            id,
        } => {
            format!(
                "2026-11-{:02} {:02}:15:00,T{term},{id},{code}",
                9 + hour / 24,
                hour % 24
            )
        }
        Row::BadTime { id } => format!("2026-11-09 99:00:00,T1,{id},00"),
        Row::NoTerminal { id } => format!("2026-11-09 10:00:00,,{id},00"),
        Row::Ragged => "2026-11-09 10:00:00,T1".into(),
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    /// rows_read = accepted + rejected + duplicate for any mix, and by_terminal does not depend
    /// on how the rows are split into files or in which order the files come.
    #[test]
    fn reconciliation_holds_and_order_does_not_matter(rows in prop::collection::vec(row_strategy(), 1..80), split in 1usize..5) {
        // Exact copies only repeat ids, so which copy is kept cannot change any count.
        let mut by_id: BTreeMap<(String, u16), String> = BTreeMap::new();
        let rows: Vec<String> = rows
            .iter()
            .map(|r| {
                let l = line(r);
                match r {
                    Row::Good { term, id, .. } => by_id.entry((format!("T{term}"), *id)).or_insert(l).clone(),
                    _ => l,
                }
            })
            .collect();
        let dir = tempfile::tempdir().unwrap();
        let one = write(dir.path(), "all.csv", format!("{HEADER}{}\n", rows.join("\n")).as_bytes());
        let chunk = rows.len().div_ceil(split);
        let mut parts = Vec::new();
        for (i, c) in rows.chunks(chunk).enumerate().rev() {
            parts.push(write(dir.path(), &format!("part{i}.csv"), format!("{HEADER}{}\n", c.join("\n")).as_bytes()));
        }
        let a = dir.path().join("a");
        let b = dir.path().join("b");
        let ra = bin().arg("analyze").arg(&one).arg("--out").arg(&a).output().unwrap();
        let rb = bin().arg("analyze").args(&parts).arg("--out").arg(&b).output().unwrap();
        prop_assert_eq!(ra.status.code(), rb.status.code());
        if ra.status.success() {
            let (ta, tb) = (manifest_totals(&a), manifest_totals(&b));
            prop_assert_eq!(ta["rows_read"], rows.len() as u64);
            prop_assert_eq!(ta["rows_read"], ta["rows_accepted"] + ta["rows_rejected"] + ta["rows_duplicate"]);
            prop_assert_eq!(tb["rows_read"], tb["rows_accepted"] + tb["rows_rejected"] + tb["rows_duplicate"]);
            // Everything but the byte count (two files' headers vs one) must agree.
            let (mut ta, mut tb) = (ta, tb);
            ta.remove("bytes");
            tb.remove("bytes");
            prop_assert_eq!(&ta, &tb);
            prop_assert_eq!(
                std::fs::read(a.join("csv/by_terminal.csv")).unwrap(),
                std::fs::read(b.join("csv/by_terminal.csv")).unwrap()
            );
        }
    }
}

/// Parquet with canonical column names (amount as a float column, time as text) gives the same
/// figures as the canonical CSV it was made from.
#[test]
fn parquet_input_matches_csv() {
    use polars::prelude::*;
    let dir = tempfile::tempdir().unwrap();
    let src = fixture("equiv/canonical.csv");
    let mut r = csv::Reader::from_path(&src).unwrap();
    let mut cols: Vec<Vec<String>> = vec![Vec::new(); 8];
    for rec in r.records() {
        let rec = rec.unwrap();
        for (i, c) in cols.iter_mut().enumerate() {
            c.push(rec[i].to_string());
        }
    }
    let amount: Vec<f64> = cols[5].iter().map(|a| a.parse().unwrap()).collect();
    let n = amount.len();
    let mut df = DataFrame::new(
        n,
        vec![
            Column::new("timestamp".into(), cols[0].clone()),
            Column::new("terminal_id".into(), cols[1].clone()),
            Column::new("merchant_id".into(), cols[2].clone()),
            Column::new("merchant_name".into(), cols[3].clone()),
            Column::new("txn_id".into(), cols[4].clone()),
            Column::new("amount".into(), amount),
            Column::new("currency".into(), cols[6].clone()),
            Column::new("response_code".into(), cols[7].clone()),
        ],
    )
    .unwrap();
    let pq = dir.path().join("t.parquet");
    ParquetWriter::new(std::fs::File::create(&pq).unwrap())
        .finish(&mut df)
        .unwrap();

    let (a, b) = (dir.path().join("a"), dir.path().join("b"));
    analyze(&[pq], &a, &["--tz", "Asia/Shanghai"]);
    analyze(&[src], &b, &["--tz", "Asia/Shanghai"]);
    for f in [
        "csv/by_terminal.csv",
        "csv/by_period.csv",
        "csv/by_merchant.csv",
        "csv/by_code.csv",
    ] {
        assert_eq!(
            std::fs::read_to_string(a.join(f)).unwrap(),
            std::fs::read_to_string(b.join(f)).unwrap(),
            "{f}"
        );
    }
    let s: serde_json::Value =
        serde_json::from_slice(&std::fs::read(a.join("summary.json")).unwrap()).unwrap();
    let t: serde_json::Value =
        serde_json::from_slice(&std::fs::read(b.join("summary.json")).unwrap()).unwrap();
    assert_eq!(s["headline"]["amount_minor"], t["headline"]["amount_minor"]);
}

/// A gzip file cut short: the rows before the cut are kept, the lost tail is one reject, and
/// the run still succeeds (nothing is silently dropped, nothing fails the whole batch).
#[test]
fn truncated_gzip_keeps_rows_before_the_cut() {
    let dir = tempfile::tempdir().unwrap();
    let mut text = String::from(HEADER);
    for i in 0..20_000 {
        text.push_str(&format!(
            "2026-11-09 {:02}:{:02}:00,T{},{i},00\n",
            i / 1000 % 24,
            i % 60,
            i % 7
        ));
    }
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    enc.write_all(text.as_bytes()).unwrap();
    let gz = enc.finish().unwrap();
    let f = write(dir.path(), "cut.csv.gz", &gz[..gz.len() / 2]);
    let out = dir.path().join("o");
    analyze(&[f], &out, &[]);
    let t = manifest_totals(&out);
    assert!(
        t["rows_accepted"] > 1000 && t["rows_accepted"] < 20_000,
        "{t:?}"
    );
    assert_eq!(
        t["rows_read"],
        t["rows_accepted"] + t["rows_rejected"] + t["rows_duplicate"]
    );
    let rej = rejects(&out);
    assert!(
        rej.iter().any(|r| r.1.contains("file is truncated")),
        "{rej:?}"
    );
}

/// A Parquet file larger than one read slice: every row is read exactly once, line numbers
/// run on across slices, and an integer epoch-seconds timestamp column works.
#[test]
fn large_parquet_is_read_in_slices_without_loss() {
    use polars::prelude::*;
    let n = 250_001usize;
    let ts: Vec<i64> = (0..n as i64).map(|i| 1_794_189_600 + i).collect();
    let term: Vec<String> = (0..n).map(|i| format!("T{}", i % 13)).collect();
    let code: Vec<String> = (0..n)
        .map(|i| {
            if i % 97 == 0 {
                String::new()
            } else {
                "00".into()
            }
        })
        .collect();
    let mut df = DataFrame::new(
        n,
        vec![
            Column::new("time".into(), ts),
            Column::new("TID".into(), term),
            Column::new("rc".into(), code),
        ],
    )
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let pq = dir.path().join("big.parquet");
    ParquetWriter::new(std::fs::File::create(&pq).unwrap())
        .finish(&mut df)
        .unwrap();
    let out = dir.path().join("o");
    analyze(&[pq], &out, &[]);
    let t = manifest_totals(&out);
    let empty_codes = n.div_ceil(97) as u64;
    assert_eq!(t["rows_read"], n as u64);
    assert_eq!(t["rows_rejected"], empty_codes);
    assert_eq!(t["rows_accepted"], n as u64 - empty_codes);
    let rej = rejects(&out);
    assert_eq!(
        rej.last().unwrap().0,
        (97 * (empty_codes - 1) + 1).to_string()
    );
}
