//! Issue 11: real exports as people get them. Excel workbooks with title and totals rows,
//! split date and time columns, response codes with their text, amounts as people write
//! them. (Every shape is also in the equivalence test of tests/ingest.rs.)

use crate::common;

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use common::{analyze, bin, fails, fixture, json, manifest_totals, outputs_holding, read_csv};

/// rejects.csv as (line, reason, excerpt).
fn rejects(out: &Path) -> Vec<(u64, String, String)> {
    let (_, rows) = read_csv(&out.join("rejects.csv"));
    rows.into_iter()
        .map(|r| {
            (
                r["line"].parse().unwrap(),
                r["reason"].clone(),
                r["excerpt"].clone(),
            )
        })
        .collect()
}

/// A CSV output as its rows keyed by the first column.
fn by_key(out: &Path, file: &str) -> BTreeMap<String, BTreeMap<String, String>> {
    let (header, rows) = read_csv(&out.join("csv").join(file));
    rows.into_iter()
        .map(|r| (r[&header[0]].clone(), r))
        .collect()
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::File::create(&p)
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    p
}

/// The acceptance case: a Chinese portal workbook with two title rows and a blank row above
/// the header, split 交易日期 (date cells) + 交易时间 (HHMMSS text), codes with Chinese text,
/// ¥ amounts, a settlement date beside them, and a 合计 totals row at the bottom.
#[test]
fn chinese_portal_workbook_issue_11() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    analyze(
        &[fixture("equiv/portal_zh.xlsx")],
        &out,
        &["--tz", "Asia/Shanghai", "--bucket", "day"],
    );
    let t = manifest_totals(&out);
    assert_eq!(
        (
            t["rows_read"],
            t["rows_accepted"],
            t["rows_rejected"],
            t["rows_duplicate"]
        ),
        (23, 22, 1, 0)
    );
    assert_eq!(
        t["rows_read"],
        t["rows_accepted"] + t["rows_rejected"] + t["rows_duplicate"]
    );
    assert_eq!(
        t["codes_with_text"], 22,
        "every code came with its Chinese text"
    );
    assert_eq!(t["amounts_invalid"], 0, "every ¥ amount was read");
    let manifest = json(&out.join("manifest.json"));
    assert_eq!(manifest["inputs"][0]["format"], "xlsx");

    // The totals row, with its own reason and the sheet's row number (2 titles, a blank
    // row, the header, 22 transactions: row 27).
    let r = rejects(&out);
    assert_eq!(r.len(), 1, "{r:?}");
    assert_eq!(r[0].0, 27);
    assert!(r[0].1.starts_with("totals row"), "{}", r[0].1);
    assert!(r[0].1.contains("合计"), "{}", r[0].1);

    // The transaction date was read, not the settlement date (a day later): 11 rows fall on
    // the 9th and 11 on the 10th, local time.
    let periods = by_key(&out, "by_period.csv");
    assert_eq!(periods["2026-11-09T00:00:00+08:00"]["transactions"], "11");
    assert_eq!(periods["2026-11-10T00:00:00+08:00"]["transactions"], "11");
    assert!(!periods.contains_key("2026-11-11T00:00:00+08:00"));
    let codes = by_key(&out, "by_code.csv");
    assert_eq!(codes["51"]["transactions"], "1");
    assert_eq!(codes["00"]["transactions"], "12");
    assert_eq!(codes["9997"]["transactions"], "2");
    let summary = json(&out.join("summary.json"));
    assert_eq!(summary["headline"]["amount_minor"], 36047);
}

/// A gzip-compressed workbook is read like any other `.gz` input; it is hashed as stored.
#[test]
fn gzip_workbook_issue_11() {
    let dir = tempfile::tempdir().unwrap();
    let bytes = std::fs::read(fixture("equiv/portal_zh.xlsx")).unwrap();
    let gz = dir.path().join("portal_zh.xlsx.gz");
    let mut enc = flate2::write::GzEncoder::new(
        std::fs::File::create(&gz).unwrap(),
        flate2::Compression::default(),
    );
    enc.write_all(&bytes).unwrap();
    enc.finish().unwrap();
    let out = dir.path().join("out");
    analyze(&[&gz], &out, &["--tz", "Asia/Shanghai"]);
    let t = manifest_totals(&out);
    assert_eq!((t["rows_accepted"], t["rows_rejected"]), (22, 1));
}

/// Ids stored as numbers keep their digits (no `.0`, no exponent), a one-digit numeric code
/// is padded like a CSV one, date-time cells and a bare serial number are converted exactly,
/// and the card-number column never reaches an output in full.
#[test]
fn numbers_in_cells_read_as_text_issue_11() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    analyze(
        &[fixture("equiv/numeric_ids.xlsx")],
        &out,
        &["--bucket", "hour"],
    );
    let t = manifest_totals(&out);
    assert_eq!((t["rows_accepted"], t["rows_rejected"]), (2, 1));
    assert_eq!(t["codes_padded"], 2, "5 → 05 and 0 → 00");
    let terminals = by_key(&out, "by_terminal.csv");
    assert_eq!(
        terminals.keys().collect::<Vec<_>>(),
        ["10000001", "10000002"]
    );
    assert_eq!(terminals["10000001"]["merchant_id"], "898310000000001");
    let codes = by_key(&out, "by_code.csv");
    assert_eq!(codes.keys().collect::<Vec<_>>(), ["00", "05"]);
    // 10:00:00 from a date-time cell, 12:00:00 from a bare serial (46335.5).
    let periods = by_key(&out, "by_period.csv");
    assert_eq!(periods["2026-11-09T10:00:00+00:00"]["transactions"], "1");
    assert_eq!(periods["2026-11-09T12:00:00+00:00"]["transactions"], "1");

    let r = rejects(&out);
    assert_eq!(r.len(), 1, "{r:?}");
    assert_eq!(r[0].0, 3, "the sheet's row number");
    assert!(r[0].1.contains("invalid response code"), "{}", r[0].1);
    // The reference as digits: not `123456789013.0`, not `1.23456789013e11`.
    assert!(r[0].2.contains("txn_id=123456789013 "), "{}", r[0].2);
    assert!(r[0].2.contains("pan=411111******1111"), "{}", r[0].2);
    let leaks = outputs_holding(&out, "4111111111111111");
    assert!(leaks.is_empty(), "PAN in {leaks:?}");
}

/// `--sheet`: the first sheet by default; a summary first sheet gets a message that names
/// the other sheets; an unknown name lists them; an HTML table named `.xls` is named as such.
#[test]
fn sheet_choice_and_non_workbooks_issue_11() {
    let dir = tempfile::tempdir().unwrap();
    let en = fixture("equiv/portal_en.xlsx");
    let err = fails(bin().arg("validate").arg(&en), 1);
    assert!(err.contains("--sheet"), "{err}");
    assert!(err.contains("\"Transactions\""), "{err}");
    let err = fails(bin().args(["validate", "--sheet", "Nope"]).arg(&en), 1);
    assert!(err.contains("no sheet named \"Nope\""), "{err}");
    assert!(err.contains("\"Summary\", \"Transactions\""), "{err}");
    let out = bin()
        .args(["validate", "--sheet", "Transactions"])
        .arg(&en)
        .output()
        .unwrap();
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("22"));

    let html = write(
        dir.path(),
        "export.xls",
        "<html><body><table><tr><td>TID</td></tr></table></body></html>",
    );
    let err = fails(bin().arg("validate").arg(&html), 1);
    assert!(err.contains("HTML table"), "{err}");

    // A directory walk picks up workbooks but not Excel's lock files.
    let walk = dir.path().join("walk");
    std::fs::create_dir(&walk).unwrap();
    std::fs::copy(fixture("equiv/portal.xls"), walk.join("a.xls")).unwrap();
    std::fs::write(walk.join("~$a.xls"), b"lock").unwrap();
    let out = dir.path().join("out");
    analyze(&[&walk], &out, &["--tz", "Asia/Shanghai"]);
    let manifest = json(&out.join("manifest.json"));
    assert_eq!(manifest["inputs"].as_array().unwrap().len(), 1);
    assert_eq!(manifest["inputs"][0]["format"], "xls");
}

/// Split date and time columns, and what is rejected when they cannot be combined.
#[test]
fn split_date_and_time_issue_11() {
    let dir = tempfile::tempdir().unwrap();
    let csv = write(
        dir.path(),
        "split.csv",
        "txn_date,txn_time,tid,rrn,rc\n\
         2026-11-05,14:30:05,T1,000001,00\n\
         20261106,143005,T1,000001,00\n\
         2026/11/07,,T1,000002,00\n\
         05/11/2026,14:30:05,T1,000003,00\n\
         2026-11-05,14:30:05,T1,000001,00\n",
    );
    let out = dir.path().join("out");
    analyze(&[&csv], &out, &["--bucket", "day"]);
    let t = manifest_totals(&out);
    // Row 3 repeats row 1's time and id on another day: not a duplicate. Row 6 is row 2
    // exported twice: a duplicate.
    assert_eq!(
        (
            t["rows_read"],
            t["rows_accepted"],
            t["rows_rejected"],
            t["rows_duplicate"]
        ),
        (5, 2, 2, 1)
    );
    let r = rejects(&out);
    assert_eq!(r[0].0, 4);
    assert!(r[0].1.contains("has a date but no time"), "{}", r[0].1);
    assert_eq!(r[1].0, 5);
    assert!(r[1].1.contains("unparseable date"), "{}", r[1].1);
    let periods = by_key(&out, "by_period.csv");
    assert_eq!(periods["2026-11-05T00:00:00+00:00"]["transactions"], "1");
    assert_eq!(periods["2026-11-06T00:00:00+00:00"]["transactions"], "1");
}

/// Codes exported with their text: the code is taken and the text counted; values that are
/// not a code and its description are still rejected.
#[test]
fn codes_with_their_text_issue_11() {
    let dir = tempfile::tempdir().unwrap();
    let csv = write(
        dir.path(),
        "codes.csv",
        "timestamp,terminal_id,response_code\n\
         2026-11-05 10:00:00,T1,05-Do not honour\n\
         2026-11-05 10:01:00,T1,51 资金不足\n\
         2026-11-05 10:02:00,T1,\"00 \"\n\
         2026-11-05 10:03:00,T1,Z3: offline declined\n\
         2026-11-05 10:04:00,T1,0 5\n\
         2026-11-05 10:05:00,T1,05/51\n",
    );
    let out = dir.path().join("out");
    analyze(&[&csv], &out, &[]);
    let t = manifest_totals(&out);
    assert_eq!((t["rows_accepted"], t["rows_rejected"]), (4, 2));
    assert_eq!(t["codes_with_text"], 3);
    let codes = by_key(&out, "by_code.csv");
    assert_eq!(codes.keys().collect::<Vec<_>>(), ["00", "05", "51", "Z3"]);
    assert_eq!(codes["Z3"]["class"], "declined");
    let r = rejects(&out);
    assert_eq!(r.iter().map(|x| x.0).collect::<Vec<_>>(), [6, 7], "{r:?}");
    assert!(r.iter().all(|x| x.1.contains("invalid response code")));
    // The text is kept nowhere: no output holds it.
    let leaks = outputs_holding(&out, "资金不足");
    assert!(leaks.is_empty(), "code text in {leaks:?}");
}

/// Amounts as people write them; refunds counted as transactions but kept out of the sums;
/// an amount that still cannot be read keeps its row and is counted.
#[test]
fn amounts_and_refunds_issue_11() {
    let dir = tempfile::tempdir().unwrap();
    let csv = write(
        dir.path(),
        "amounts.csv",
        "timestamp,terminal_id,response_code,amount\n\
         2026-11-05 10:00:00,T1,00,\"1,234.50\"\n\
         2026-11-05 10:01:00,T1,00,¥9.00\n\
         2026-11-05 10:02:00,T1,00,RMB 12.00\n\
         2026-11-05 10:03:00,T1,00,-20.00\n\
         2026-11-05 10:04:00,T1,51,twelve\n",
    );
    let out = dir.path().join("out");
    analyze(&[&csv], &out, &[]);
    let t = manifest_totals(&out);
    assert_eq!((t["rows_accepted"], t["rows_rejected"]), (5, 0));
    assert_eq!((t["amounts_negative"], t["amounts_invalid"]), (1, 1));
    let summary = json(&out.join("summary.json"));
    assert_eq!(summary["headline"]["amount_minor"], 123450 + 900 + 1200);
    let codes = by_key(&out, "by_code.csv");
    assert_eq!(
        codes["00"]["transactions"], "4",
        "the refund is a transaction"
    );

    // A ';' export writes decimal commas.
    let eu = write(
        dir.path(),
        "eu.csv",
        "timestamp;terminal_id;response_code;amount\n\
         2026-11-05 10:00:00;T1;00;12,50\n\
         2026-11-05 10:01:00;T1;00;1.234,50 €\n",
    );
    let out = dir.path().join("out-eu");
    analyze(&[&eu], &out, &[]);
    let summary = json(&out.join("summary.json"));
    assert_eq!(summary["headline"]["amount_minor"], 1250 + 123450);
    assert_eq!(manifest_totals(&out)["amounts_invalid"], 0);
}
