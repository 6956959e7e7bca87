//! The ingest engine (issue 9): parallel chunked CSV reading gives the same bytes for any
//! number of threads and any chunk size; the duplicate rule counts a re-export once and never
//! drops a transaction because its trace number came back; the outputs on `sample_logs` are
//! those of the engine before it (golden files written by the previous, single-threaded one).

use crate::common;

use std::collections::BTreeMap;
use std::path::Path;

use common::{bin, json, read_csv, run_ok};

/// Every file under `dir`, relative path → bytes.
fn tree(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    fn walk(root: &Path, dir: &Path, out: &mut BTreeMap<String, Vec<u8>>) {
        for e in std::fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                walk(root, &p, out);
            } else {
                let rel = p.strip_prefix(root).unwrap().to_string_lossy().into_owned();
                out.insert(rel, std::fs::read(&p).unwrap());
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(dir, dir, &mut out);
    out
}

/// A CSV that exercises the chunk cutter: quoted fields holding delimiters, escaped quotes
/// and newlines, a stray quote inside an unquoted field, CRLF lines, blank lines, and rows
/// that must be rejected, spread over many chunks.
fn tricky_csv() -> String {
    let mut s = String::from(
        "timestamp,terminal_id,merchant_id,merchant_name,txn_id,response_code,amount\r\n",
    );
    let codes = [
        "00", "00", "00", "05", "51", "9997", "91", "00", "30", "00", "5",
    ];
    for i in 0..1500u32 {
        let term = format!("T{:03}", i % 37);
        let ts = format!(
            "2026-11-{:02} {:02}:{:02}:{:02}",
            2 + i % 20,
            i % 24,
            (i * 7) % 60,
            (i * 13) % 60
        );
        let name = match i % 9 {
            0 => "\"Shop, \"\"the best\"\"\nsecond line\"".to_string(),
            1 => "Joe's 12\" pizza".to_string(), // a quote that is data
            2 => "\"Caf\u{e9} \u{2615}\"".to_string(),
            _ => format!("Shop {}", i % 5),
        };
        let code = codes[i as usize % codes.len()];
        let row = match i % 97 {
            13 => format!("not-a-time,{term},M1,{name},{i:06},{code},1.00"),
            29 => format!("{ts},,M1,{name},{i:06},{code},1.00"),
            41 => format!("{ts},{term},M1"), // truncated
            _ => format!(
                "{ts},{term},M{},{name},{:06},{code},{}.{:02}",
                i % 4,
                i % 300,
                i % 50,
                i % 100
            ),
        };
        s.push_str(&row);
        s.push_str(if i % 3 == 0 { "\r\n" } else { "\n" });
        if i % 250 == 0 {
            s.push('\n');
        }
    }
    s
}

#[test]
fn same_bytes_for_any_thread_count_and_chunk_size() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("tricky.csv");
    std::fs::write(&input, tricky_csv()).unwrap();
    let run = |threads: &str, chunk: Option<&str>, out: &str| {
        let mut c = bin();
        c.env("RAYON_NUM_THREADS", threads)
            .env("POLARS_MAX_THREADS", threads)
            .arg("analyze")
            .arg(&input)
            .arg("--out")
            .arg(dir.path().join(out));
        if let Some(n) = chunk {
            c.env("POSLENS_CHUNK_BYTES", n);
        }
        run_ok(&mut c);
        tree(&dir.path().join(out))
    };
    let reference = run("1", None, "one");
    let (_, rejects) = read_csv(&dir.path().join("one/rejects.csv"));
    assert!(rejects.len() >= 40, "{} rejects", rejects.len());
    let m = json(&dir.path().join("one/manifest.json"));
    let t = &m["totals"];
    assert_eq!(
        t["rows_read"].as_u64().unwrap(),
        t["rows_accepted"].as_u64().unwrap()
            + t["rows_rejected"].as_u64().unwrap()
            + t["rows_duplicate"].as_u64().unwrap()
    );
    assert_eq!(t["rows_read"].as_u64().unwrap(), 1500);
    for (threads, chunk) in [
        ("2", None),
        ("2", Some("64")),
        ("2", Some("333")),
        ("1", Some("5000")),
    ] {
        let name = format!("t{threads}-c{}", chunk.unwrap_or("default"));
        let other = run(threads, chunk, &name);
        assert_eq!(
            other.keys().collect::<Vec<_>>(),
            reference.keys().collect::<Vec<_>>()
        );
        for (file, bytes) in &reference {
            // The manifest names the output folder; everything else must match exactly.
            if file == "manifest.json" {
                continue;
            }
            assert!(other[file] == *bytes, "{file} differs with {name}");
        }
    }
}

/// Rows of (timestamp, terminal, txn_id, code, amount) as a CSV.
fn rows_csv(rows: &[(String, &str, String, &str, &str)]) -> String {
    let mut s = String::from("timestamp,terminal_id,merchant_id,txn_id,response_code,amount\n");
    for (ts, term, id, code, amount) in rows {
        s.push_str(&format!("{ts},{term},M1,{id},{code},{amount}\n"));
    }
    s
}

fn input_counts(manifest: &serde_json::Value, i: usize) -> [u64; 4] {
    let inp = &manifest["inputs"][i];
    [
        "rows_read",
        "rows_accepted",
        "rows_rejected",
        "rows_duplicate",
    ]
    .map(|k| inp[k].as_u64().unwrap_or_else(|| panic!("{k}")))
}

#[test]
fn trace_number_reset_every_day_keeps_every_transaction() {
    // A terminal closes its batch every night and starts again at STAN 000001: the same
    // txn_id comes back every day, sometimes with the same code and amount.
    let mut rows = Vec::new();
    for day in 1..=5 {
        for stan in 1..=40u32 {
            rows.push((
                format!(
                    "2026-11-{day:02} {:02}:{:02}:00",
                    8 + stan / 6,
                    (stan * 7) % 60
                ),
                "T1",
                format!("{stan:06}"),
                if stan % 10 == 0 { "05" } else { "00" },
                "10.00",
            ));
        }
    }
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("reset.csv");
    std::fs::write(&input, rows_csv(&rows)).unwrap();
    let out = dir.path().join("out");
    common::analyze(&[&input], &out, &[]);
    let m = json(&out.join("manifest.json"));
    assert_eq!(input_counts(&m, 0), [200, 200, 0, 0]);
    let (_, by_terminal) = read_csv(&out.join("csv/by_terminal.csv"));
    assert_eq!(by_terminal[0]["transactions"], "200");
    assert_eq!(by_terminal[0]["declined"], "20");
}

#[test]
fn overlapping_reexport_is_counted_once() {
    let rows: Vec<_> = (0..120u32)
        .map(|i| {
            (
                format!("2026-11-03 {:02}:{:02}:{:02}", i / 60 + 9, i % 60, i % 7),
                ["T1", "T2"][i as usize % 2],
                format!("{:06}", i / 2 + 1),
                ["00", "00", "51", "9997"][i as usize % 4],
                "12.50",
            )
        })
        .collect();
    let dir = tempfile::tempdir().unwrap();
    // Monday's export holds rows 0..80, Tuesday's repeats rows 60..80 and adds 80..120.
    let a = dir.path().join("a.csv");
    let b = dir.path().join("b.csv");
    std::fs::write(&a, rows_csv(&rows[..80])).unwrap();
    std::fs::write(&b, rows_csv(&rows[60..])).unwrap();
    let out = dir.path().join("out");
    common::analyze(&[&a, &b], &out, &[]);
    let m = json(&out.join("manifest.json"));
    assert_eq!(input_counts(&m, 0), [80, 80, 0, 0]);
    assert_eq!(input_counts(&m, 1), [60, 40, 0, 20]);
    let t = &m["totals"];
    assert_eq!(t["rows_read"], 140);
    assert_eq!(t["rows_accepted"], 120);
    assert_eq!(t["rows_duplicate"], 20);
    let (_, by_code) = read_csv(&out.join("csv/by_code.csv"));
    let n: u64 = by_code
        .iter()
        .map(|r| r["transactions"].parse::<u64>().unwrap())
        .sum();
    assert_eq!(n, 120);

    // The same file twice in one run: every row of the second copy is a duplicate, and the
    // cube (so every CSV) is the one of a single copy.
    let out2 = dir.path().join("twice");
    common::analyze(&[&a, &a], &out2, &[]);
    let m2 = json(&out2.join("manifest.json"));
    assert_eq!(input_counts(&m2, 1), [80, 0, 0, 80]);
    let once = dir.path().join("once");
    common::analyze(&[&a], &once, &[]);
    for f in ["by_terminal", "by_code", "by_period", "by_merchant"] {
        let p = format!("csv/{f}.csv");
        assert_eq!(
            std::fs::read(out2.join(&p)).unwrap(),
            std::fs::read(once.join(&p)).unwrap(),
            "{f}"
        );
    }
}

#[test]
fn sample_logs_outputs_are_those_of_the_previous_engine() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    // Relative input paths, so rejects.csv names files as the golden copy does.
    run_ok(
        bin()
            .current_dir(root)
            .args(["analyze", "sample_logs", "--out"])
            .arg(&out),
    );
    let golden = common::fixture("golden/sample_logs");
    for (file, bytes) in tree(&golden) {
        let got = std::fs::read(out.join(&file)).unwrap();
        assert!(
            got == bytes,
            "{file} differs from tests/fixtures/golden/sample_logs/{file}"
        );
    }
}

#[test]
fn issue15_request_in_progress_messages_are_not_transactions() {
    // A host that sends `09` (request in progress) before the real answer: 30 final answers,
    // 12 intermediate messages. The intermediate ones are left out of every count.
    let mut rows = Vec::new();
    for i in 0..30u32 {
        let ts = format!("2026-11-04 10:{:02}:{:02}", i, i % 60);
        if i % 5 == 0 {
            rows.push((ts.clone(), "T1", format!("{i:06}w"), "09", "5.00"));
            rows.push((ts.clone(), "T1", format!("{i:06}v"), "09", "5.00"));
        }
        rows.push((
            ts,
            "T1",
            format!("{i:06}"),
            if i % 10 == 3 { "51" } else { "00" },
            "5.00",
        ));
    }
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("wait.csv");
    std::fs::write(&input, rows_csv(&rows)).unwrap();
    let out = dir.path().join("out");
    common::analyze(&[&input], &out, &[]);
    let (_, by_code) = read_csv(&out.join("csv/by_code.csv"));
    let codes: Vec<(&str, &str)> = by_code
        .iter()
        .map(|r| (r["response_code"].as_str(), r["transactions"].as_str()))
        .collect();
    assert_eq!(codes, [("00", "27"), ("51", "3")]);
    let (_, by_terminal) = read_csv(&out.join("csv/by_terminal.csv"));
    assert_eq!(by_terminal[0]["transactions"], "30");
    let md = std::fs::read_to_string(out.join("report.md")).unwrap();
    assert!(
        md.contains("12 intermediate messages"),
        "report does not say what was left out"
    );
    // The rows themselves are accounted for in the reconciliation as accepted rows.
    assert_eq!(
        json(&out.join("manifest.json"))["totals"]["rows_accepted"],
        42
    );
    // Under the cup profile, 09 is a final failure and counts.
    let cup = dir.path().join("cup");
    common::analyze(&[&input], &cup, &["--profile", "cup"]);
    let (_, by_terminal) = read_csv(&cup.join("csv/by_terminal.csv"));
    assert_eq!(by_terminal[0]["transactions"], "42");
}
