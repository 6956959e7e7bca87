//! Issue 13: a run killed while it writes never leaves a mix of two reports or a truncated
//! file; the outputs are the same bytes whatever the host's time zone, locale, thread count,
//! input order or the way the rows are split over files; hostile inputs (a 20 MB field, a
//! 1 GiB line, gzip of gzip, a billion-row Parquet footer) end with a clear message within a
//! memory bound measured by the kernel. The fuzzing findings are replayed by fuzz_regressions.rs.

use crate::common;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use common::{analyze, bin, csv_exports, fails, files_under, run_ok, sample_logs};

/// Every file under `dir` with its bytes, by relative path.
fn snapshot(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut files: Vec<(PathBuf, Vec<u8>)> = files_under(dir)
        .into_iter()
        .map(|p| {
            let bytes = std::fs::read(&p).unwrap();
            (p.strip_prefix(dir).unwrap().to_path_buf(), bytes)
        })
        .collect();
    files.sort();
    files
}

fn assert_same_folder(a: &Path, b: &Path, what: &str) {
    let (x, y) = (snapshot(a), snapshot(b));
    let names = |s: &[(PathBuf, Vec<u8>)]| s.iter().map(|(p, _)| p.clone()).collect::<Vec<_>>();
    assert_eq!(names(&x), names(&y), "{what}: different files");
    for ((p, bx), (_, by)) in x.iter().zip(&y) {
        assert!(bx == by, "{what}: {} differs", p.display());
    }
}

#[test]
fn a_run_killed_while_writing_leaves_the_previous_report_or_none() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("report");
    analyze(&[sample_logs()], &out, &[]);
    let before = snapshot(&out);
    run_ok(bin().arg("verify").arg(&out));

    // The same data in Chinese: every file but the CSVs differs from the report on disk, so a
    // mix would show. Writing pauses 150 ms before each file and between the two renames; the
    // kills are timed from the moment the staging folder appears (whatever the machine's
    // speed), plus one during the reading.
    let staging = dir.path().join(".report.poslens-new");
    let mut killed_mid_write = 0;
    let mut killed_between_renames = 0;
    for step in 0..14u64 {
        let mut child = bin()
            .env("POSLENS_TEST_WRITE_PAUSE_MS", "150")
            .args(["analyze", "--lang", "zh", "--out"])
            .arg(&out)
            .arg(sample_logs())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let started = Instant::now();
        if step > 0 {
            while !staging.exists() && started.elapsed() < Duration::from_secs(120) {
                if child.try_wait().unwrap().is_some() {
                    break;
                }
                std::thread::sleep(Duration::from_millis(5));
            }
            std::thread::sleep(Duration::from_millis((step - 1) * 350));
        }
        let finished = child.try_wait().unwrap().is_some();
        child.kill().ok(); // SIGKILL
        child.wait().unwrap();
        if staging.exists() && !staging.join("manifest.json").exists() {
            killed_mid_write += 1;
            // The half-written folder is never taken for a report.
            fails(bin().arg("verify").arg(&staging), 1);
        }
        if finished {
            // The run ended before the kill: its report is whole.
            run_ok(bin().arg("verify").arg(&out));
            break;
        }
        if out.exists() {
            let now = snapshot(&out);
            if now != before && !staging.exists() {
                // The kill came after the run's last rename but before the process exited (a
                // race the `try_wait` above cannot close): the report is the new one, whole.
                run_ok(bin().arg("verify").arg(&out));
                let manifest = std::fs::read_to_string(out.join("manifest.json")).unwrap();
                assert!(
                    manifest.contains("\"zh\""),
                    "killed at step {step}: {manifest}"
                );
                break;
            }
            assert_eq!(now, before, "killed at step {step}: the folder changed");
            run_ok(bin().arg("verify").arg(&out));
        } else {
            // Between the two renames: no folder, the previous one is kept beside it.
            killed_between_renames += 1;
        }
    }
    eprintln!(
        "killed while writing files: {killed_mid_write}, between the renames: {killed_between_renames}"
    );
    assert!(
        killed_mid_write > 0,
        "no kill fell while the files were being written"
    );
    // The next run succeeds and clears what the killed ones left.
    analyze(&[sample_logs()], &out, &["--lang", "zh"]);
    run_ok(bin().arg("verify").arg(&out));
    let left: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(left, ["report"], "left behind: {left:?}");
}

#[test]
fn a_folder_of_other_files_is_not_replaced() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("my-notes.txt"), "mine").unwrap();
    let err = fails(
        bin()
            .args(["analyze", "--out"])
            .arg(dir.path())
            .arg(sample_logs()),
        2,
    );
    assert!(err.contains("not a poslens report"), "{err}");
    assert_eq!(
        std::fs::read_to_string(dir.path().join("my-notes.txt")).unwrap(),
        "mine"
    );
}

#[test]
fn same_bytes_whatever_the_host_zone_locale_and_threads() {
    let dir = tempfile::tempdir().unwrap();
    let reference = dir.path().join("ref");
    analyze(&[sample_logs()], &reference, &["--tz", "Asia/Shanghai"]);
    let variants: [(&str, &str, &str); 5] = [
        ("UTC", "C", "2"),
        ("Asia/Shanghai", "zh_CN.UTF-8", "2"),
        ("America/New_York", "C", "1"),
        ("America/New_York", "zh_CN.UTF-8", "2"),
        ("UTC", "zh_CN.UTF-8", "1"),
    ];
    for (i, (tz, lang, threads)) in variants.into_iter().enumerate() {
        let out = dir.path().join(format!("v{i}"));
        run_ok(
            bin()
                .env("TZ", tz)
                .env("LANG", lang)
                .env("LC_ALL", lang)
                .env("RAYON_NUM_THREADS", threads)
                .env("POLARS_MAX_THREADS", threads)
                .args(["analyze", "--tz", "Asia/Shanghai", "--out"])
                .arg(&out)
                .arg(sample_logs()),
        );
        assert_same_folder(
            &reference,
            &out,
            &format!("TZ={tz} LANG={lang} threads={threads}"),
        );
    }
}

#[test]
fn same_figures_whatever_the_input_order_or_split() {
    let dir = tempfile::tempdir().unwrap();
    let weeks = csv_exports(&sample_logs());
    let reference = dir.path().join("ref");
    analyze(&weeks, &reference, &[]);

    // The same files named in reverse order.
    let reversed: Vec<PathBuf> = weeks.iter().rev().cloned().collect();
    let rev = dir.path().join("rev");
    analyze(&reversed, &rev, &[]);

    // The same rows cut into three plain files at other places (each with the header).
    let mut lines: Vec<String> = Vec::new();
    let mut header = String::new();
    for w in &weeks {
        let mut text = String::new();
        use std::io::Read;
        flate2::read::GzDecoder::new(std::fs::File::open(w).unwrap())
            .read_to_string(&mut text)
            .unwrap();
        let mut it = text.lines();
        header = it.next().unwrap().to_string();
        lines.extend(it.map(str::to_string));
    }
    let split_dir = dir.path().join("split");
    std::fs::create_dir(&split_dir).unwrap();
    let cuts = [0, lines.len() / 7, lines.len() / 2 + 13, lines.len()];
    for (i, pair) in cuts.windows(2).enumerate() {
        let body = lines[pair[0]..pair[1]].join("\n");
        std::fs::write(
            split_dir.join(format!("part{i}.csv")),
            format!("{header}\n{body}\n"),
        )
        .unwrap();
    }
    let split = dir.path().join("split-out");
    analyze(&[&split_dir], &split, &[]);

    // Per-input lines (paths, hashes, line numbers) differ by construction; every figure does
    // not.
    for other in [&rev, &split] {
        for f in [
            "by_terminal.csv",
            "by_period.csv",
            "by_code.csv",
            "by_merchant.csv",
            "flagged_terminals.csv",
        ] {
            assert_eq!(
                std::fs::read(reference.join("csv").join(f)).unwrap(),
                std::fs::read(other.join("csv").join(f)).unwrap(),
                "{} {f}",
                other.display()
            );
        }
        let headline = |d: &Path| common::json(&d.join("summary.json"))["headline"].clone();
        assert_eq!(headline(&reference), headline(other));
        for chart in ["failure_rate_over_time.svg", "worst_terminals.svg"] {
            assert_eq!(
                std::fs::read(reference.join("charts").join(chart)).unwrap(),
                std::fs::read(other.join("charts").join(chart)).unwrap(),
                "{chart}"
            );
        }
    }
}

#[test]
fn limits_end_with_a_clear_message() {
    use std::io::Write;
    let dir = tempfile::tempdir().unwrap();
    let header = "timestamp,terminal_id,merchant_id,merchant_name,response_code\n";
    // A 20 MB field: that row is rejected with its reason, the others are read.
    let big = dir.path().join("big_field.csv");
    let mut f = std::fs::File::create(&big).unwrap();
    write!(
        f,
        "{header}2026-11-05 10:00:00,T1,M1,Shop,00\n2026-11-05 10:01:00,T1,M1,\"{}\",00\n2026-11-05 10:02:00,T1,M1,Shop,05\n",
        "x".repeat(20_000_000)
    )
    .unwrap();
    drop(f);
    let out = dir.path().join("big");
    bounded(&big, &out, 0);
    let reject = the_one_reject(&out, (3, 2, 1), "3");
    assert!(
        reject["reason"].starts_with("merchant_name is 20000000 bytes long"),
        "{:?}",
        reject["reason"]
    );
    assert!(reject["excerpt"].len() < 1000);

    // 1 GiB without a line end, as a plain file (sparse: it reads as NUL bytes) and as gzip
    // (1,024 gzip members of 1 MiB each, which a gzip reader reads as one stream): a message
    // naming the bound, not an attempt to hold it all.
    let long = dir.path().join("no_line_end.csv");
    let mut f = std::fs::File::create(&long).unwrap();
    writeln!(f, "{header}2026-11-05 10:00:00,T1,M1,Shop,00").unwrap();
    f.set_len(1 << 30).unwrap();
    drop(f);
    let long_gz = dir.path().join("no_line_end.csv.gz");
    let member = |data: &[u8]| {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        e.write_all(data).unwrap();
        e.finish().unwrap()
    };
    let mut gz = member(format!("{header}2026-11-05 10:00:00,T1,M1,Shop,00\n").as_bytes());
    let block = member(&vec![b'y'; 1 << 20]);
    for _ in 0..1024 {
        gz.extend_from_slice(&block);
    }
    std::fs::write(&long_gz, gz).unwrap();
    for (input, out) in [(&long, "long"), (&long_gz, "long_gz")] {
        let err = bounded(input, &dir.path().join(out), 1);
        assert!(
            err.contains("a record of more than 64 MiB without a line end"),
            "{err}"
        );
    }

    // gzip inside gzip, ten levels deep.
    let mut data = std::fs::read(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/cube_sql/edge.csv"),
    )
    .unwrap();
    for _ in 0..10 {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        e.write_all(&data).unwrap();
        data = e.finish().unwrap();
    }
    let nested = dir.path().join("nested.csv.gz");
    std::fs::write(&nested, data).unwrap();
    let err = bounded(&nested, &dir.path().join("nested"), 1);
    assert!(err.contains("gzip inside gzip"), "{err}");
}

/// What a hostile input may cost (README "Input limits"): the limits are per record (64 MiB)
/// and per slice, so a run over any of them stays well under this.
const LIMIT_KIB: u64 = 512 * 1024;

/// `poslens analyze INPUT --out OUT`, which must exit with `code` within [`LIMIT_KIB`], by
/// the peak memory poslens reports under `POSLENS_TEST_PEAK_RSS` (its `VmHWM`); its stderr.
fn bounded(input: &Path, out: &Path, code: i32) -> String {
    bounded_with(input, out, code, &[])
}

/// The same, with more options for `analyze`.
fn bounded_with(input: &Path, out: &Path, code: i32, options: &[&str]) -> String {
    let mut cmd = bin();
    cmd.args(["analyze", "--out"])
        .arg(out)
        .args(options)
        .arg(input)
        .env("POSLENS_TEST_PEAK_RSS", "1");
    let stderr = fails(&mut cmd, code);
    let peak: u64 = stderr
        .lines()
        .find_map(|l| l.strip_prefix("poslens: peak memory "))
        .and_then(|l| l.strip_suffix(" KiB"))
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no peak memory line in {stderr}"));
    assert!(peak < LIMIT_KIB, "{} KiB for {}", peak, input.display());
    stderr
}

/// The reconciliation (read, accepted, rejected) of the report in `out`, and its one reject,
/// which must be at `line`.
fn the_one_reject(
    out: &Path,
    (read, accepted, rejected): (u64, u64, u64),
    line: &str,
) -> std::collections::BTreeMap<String, String> {
    let t = common::manifest_totals(out);
    assert_eq!(
        (t["rows_read"], t["rows_accepted"], t["rows_rejected"]),
        (read, accepted, rejected)
    );
    let (_, mut rejects) = common::read_csv(&out.join("rejects.csv"));
    assert_eq!(rejects.len(), 1);
    assert_eq!(rejects[0]["line"], line);
    rejects.remove(0)
}

/// A Parquet file of `rows` real rows whose footer is rewritten to claim `claimed` rows (the
/// file's, each row group's and each column chunk's count). Footer counts are Thrift compact
/// i64 fields: a field header 0x16 (next field, type i64) then the zigzag varint; `rows` is
/// chosen so that pattern is unique to the counts, and the caller checks the claim is read.
fn parquet_claiming(path: &Path, rows: usize, claimed: i64, which: &[usize]) {
    use polars::prelude::*;
    let ts: Vec<String> = (0..rows)
        .map(|i| format!("2026-11-05 10:{:02}:00", i % 60))
        .collect();
    let mut df = DataFrame::new(
        rows,
        vec![
            Column::new("timestamp".into(), ts),
            Column::new("terminal_id".into(), vec!["T1"; rows]),
            Column::new("merchant_id".into(), vec!["M1"; rows]),
            Column::new("response_code".into(), vec!["00"; rows]),
        ],
    )
    .unwrap();
    let mut bytes = Vec::new();
    ParquetWriter::new(&mut bytes).finish(&mut df).unwrap();
    let n = bytes.len();
    let footer_len = u32::from_le_bytes(bytes[n - 8..n - 4].try_into().unwrap()) as usize;
    let footer = &bytes[n - 8 - footer_len..n - 8];
    let varint = |v: i64| {
        let mut z = ((v << 1) ^ (v >> 63)) as u64;
        let mut out = Vec::new();
        loop {
            let b = (z & 0x7f) as u8;
            z >>= 7;
            if z == 0 {
                out.push(b);
                return out;
            }
            out.push(b | 0x80);
        }
    };
    let from = [vec![0x16], varint(rows as i64)].concat();
    let to = [vec![0x16], varint(claimed)].concat();
    let mut patched = Vec::new();
    let (mut i, mut seen) = (0, 0);
    while i < footer.len() {
        if footer[i..].starts_with(&from) {
            let w = if which.contains(&seen) { &to } else { &from };
            seen += 1;
            patched.extend_from_slice(w);
            i += from.len();
        } else {
            patched.push(footer[i]);
            i += 1;
        }
    }
    let mut out = bytes[..n - 8 - footer_len].to_vec();
    out.extend_from_slice(&patched);
    out.extend_from_slice(&(patched.len() as u32).to_le_bytes());
    out.extend_from_slice(b"PAR1");
    assert_eq!(
        seen, 6,
        "the six counts of a one-row-group, four-column file"
    );
    std::fs::write(path, out).unwrap();
    let read = ParquetReader::new(std::fs::File::open(path).unwrap())
        .num_rows()
        .unwrap();
    assert_eq!(read as i64, claimed, "the rewritten footer is read back");
}

#[test]
fn a_parquet_footer_claiming_a_billion_rows() {
    let dir = tempfile::tempdir().unwrap();
    // Counts in footer order: the file's, the four column chunks', the row group's.
    let pq = dir.path().join("file_claims.parquet");
    parquet_claiming(&pq, 57, 1_000_000_000, &[0]);
    let out = dir.path().join("file");
    bounded(&pq, &out, 0);
    assert_eq!(
        the_one_reject(&out, (58, 57, 1), "58")["reason"],
        "file is damaged: its footer claims 1000000000 rows but the data end after 57; the rest is lost"
    );

    let pq = dir.path().join("all_claim.parquet");
    parquet_claiming(&pq, 57, 1_000_000_000, &[0, 1, 2, 3, 4, 5]);
    let err = bounded(&pq, &dir.path().join("all"), 1);
    assert!(
        err.contains("cannot read rows 1-100000 of the 1000000000 its footer claims, the file is damaged or truncated"),
        "{err}"
    );
}

/// `portal_en.xlsx` with each part passed through `edit(name, xml)`, zipped again.
fn rewritten_workbook(to: &Path, edit: impl Fn(&str, String) -> String) {
    use std::io::{Read, Write};
    let from = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/equiv/portal_en.xlsx");
    let mut zin = zip::ZipArchive::new(std::fs::File::open(from).unwrap()).unwrap();
    let mut zout = zip::ZipWriter::new(std::fs::File::create(to).unwrap());
    for i in 0..zin.len() {
        let mut part = zin.by_index(i).unwrap();
        let name = part.name().to_string();
        let mut xml = String::new();
        part.read_to_string(&mut xml).unwrap();
        let options = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Deflated);
        zout.start_file(name.as_str(), options).unwrap();
        zout.write_all(edit(&name, xml).as_bytes()).unwrap();
    }
    zout.finish().unwrap();
}

#[test]
fn a_workbook_that_lies_about_its_size() {
    let dir = tempfile::tempdir().unwrap();
    // A shared-string table claiming four billion strings: calamine would reserve 96 GB for
    // them before reading one, and the failed allocation would abort the run.
    let claim = dir.path().join("claim.xlsx");
    rewritten_workbook(&claim, |name, xml| {
        if name == "xl/sharedStrings.xml" {
            let at = xml.find("uniqueCount=\"").expect("a uniqueCount") + 13;
            let end = at + xml[at..].find('"').unwrap();
            format!("{}4000000000{}", &xml[..at], &xml[end..])
        } else {
            xml
        }
    });
    let err = bounded(&claim, &dir.path().join("claim"), 1);
    assert!(
        err.contains("the workbook is damaged: its shared-string table claims 4000000000 strings"),
        "{err}"
    );

    // One more cell, at XFD1048576, the last cell a sheet can have: a dense layout of the
    // sheet would be 17 billion cells; the rows are read as before.
    let far = dir.path().join("far.xlsx");
    rewritten_workbook(&far, |name, xml| {
        if name == "xl/worksheets/sheet2.xml" {
            let cell = r#"<row r="1048576"><c r="XFD1048576"><v>1</v></c></row></sheetData>"#;
            assert!(xml.contains("</sheetData>"));
            xml.replace("</sheetData>", cell)
        } else {
            xml
        }
    });
    let out = dir.path().join("far");
    bounded_with(&far, &out, 0, &["--sheet", "Transactions"]);
    let reject = the_one_reject(&out, (23, 22, 1), "25");
    assert!(reject["reason"].starts_with("totals row"), "{reject:?}");

    // portal.xls with its last NUMBER cell moved to IV65536, the last cell of an .xls
    // sheet: calamine would lay out 16.7 million cells, twice (1 GB), for 150.
    let mut xls = std::fs::read(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/equiv/portal.xls"),
    )
    .unwrap();
    let at = xls
        .windows(4)
        .rposition(|w| w == [0x03, 0x02, 0x0E, 0x00])
        .expect("a NUMBER record");
    xls[at + 4..at + 8].copy_from_slice(&[0xFF, 0xFF, 0xFF, 0x00]);
    let spread = dir.path().join("spread.xls");
    std::fs::write(&spread, xls).unwrap();
    let err = bounded(&spread, &dir.path().join("spread"), 1);
    assert!(
        err.contains("the workbook is damaged: its few cells are spread over a far larger sheet"),
        "{err}"
    );

    // A workbook calamine panics on: the user reads the message, not calamine's assertion
    // and a backtrace.
    let damaged = dir.path().join("damaged.xls");
    std::fs::copy(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/fuzz/ingest_excel/damaged-record-length"),
        &damaged,
    )
    .unwrap();
    let err = bounded(&damaged, &dir.path().join("damaged"), 1);
    assert!(
        err.contains("the workbook is damaged: the Excel reader could not read its structure"),
        "{err}"
    );
    assert!(!err.contains("panicked"), "{err}");
}
