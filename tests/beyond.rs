//! Issue 12: beyond field 39. Purchases and lost sales from retries, on a log whose truth is
//! known by construction (tests/fixtures/retries/retries.csv, UTC):
//!
//! - T1 (M1, 2026-11-01): `05` then `00` for 12.50 on one card, a minute apart: 1 purchase,
//!   recovered. Three `91`s for 30.00 on one card: 1 purchase, lost (3000). Two `00`s for 5.00
//!   on one card: 2 purchases (an approval ends a purchase). `05` for 8.00 then `00` 15 minutes
//!   later: 2 purchases, the first lost (800), because 15 min > the 10 min window. `05` for
//!   9.00 then `00` for 9.00 on another card: 2 purchases, the first lost (900).
//!   => 8 purchases, 3 lost, 4700.
//! - T2 (M1): `96`, `96`, `00` for 20.00 at 12:00/12:05/12:09, written out of order (the
//!   approval first): 1 purchase, recovered. `91` at 23:58 and `00` at 00:03 the next day for
//!   40.00: 1 purchase, recovered, counted on 2026-11-02 (its last attempt). `91` for 15.00 at
//!   23:59 on 11-02 and nothing after: lost (1500). => 3 purchases, 1 lost, 1500.
//! - T3 (M2, 2026-11-02, no card numbers): three `91`s for 100.00 between 18:10 and 18:15,
//!   `00` for 50.00, a refund of 10.00: 2 purchases, 1 lost (10000); the refund is no purchase.
//!
//! Entry modes: T1 has 9 chip reads (`chip`, `051`, `contactless`, `07`) and 2 fallbacks
//! (`fallback`, `80`), T2 6 chip reads, T3 none. Response times: T1 380–950 ms, T2 4800–5200.

use crate::common;

use std::collections::BTreeMap;
use std::path::Path;

use common::{analyze, bin, fixture, outputs_holding, read_csv, run_ok};

/// (purchases, lost_purchases, lost_amount_minor) per first column of a CSV.
fn sales(path: &Path) -> BTreeMap<String, (u64, u64, i64)> {
    let (header, rows) = read_csv(path);
    rows.into_iter()
        .map(|r| {
            (
                r[&header[0]].clone(),
                (
                    r["purchases"].parse().unwrap(),
                    r["lost_purchases"].parse().unwrap(),
                    r["lost_amount_minor"].parse().unwrap(),
                ),
            )
        })
        .collect()
}

fn map(rows: &[(&str, (u64, u64, i64))]) -> BTreeMap<String, (u64, u64, i64)> {
    rows.iter().map(|(k, v)| (k.to_string(), *v)).collect()
}

#[test]
fn issue12_purchases_recovered_and_lost_are_exact() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    analyze(&[fixture("retries/retries.csv")], &out, &[]);
    let csv = out.join("csv");
    assert_eq!(
        sales(&csv.join("by_terminal.csv")),
        map(&[
            ("T1", (8, 3, 4700)),
            ("T2", (3, 1, 1500)),
            ("T3", (2, 1, 10000))
        ])
    );
    assert_eq!(
        sales(&csv.join("by_merchant.csv")),
        map(&[("M1", (11, 4, 6200)), ("M2", (2, 1, 10000))])
    );
    assert_eq!(
        sales(&csv.join("by_period.csv")),
        map(&[
            ("2026-11-01T00:00:00+00:00", (9, 3, 4700)),
            ("2026-11-02T00:00:00+00:00", (4, 2, 11500))
        ])
    );
    // Attempt failure rate vs purchase failure rate: T1 failed 6 of 11 attempts, but lost 3
    // of 8 customers.
    let (_, rows) = read_csv(&csv.join("by_terminal.csv"));
    let t1 = rows.iter().find(|r| r["terminal_id"] == "T1").unwrap();
    assert_eq!(t1["failure_rate"], "0.545455");
    assert_eq!(t1["purchase_failure_rate"], "0.375000");
    // Chip reads and fallbacks, exact; response times from the histogram, within a bucket
    // (T1's median 410 ms, 95th percentile 950; T2's 5000 and 5200).
    let t2 = rows.iter().find(|r| r["terminal_id"] == "T2").unwrap();
    let t3 = rows.iter().find(|r| r["terminal_id"] == "T3").unwrap();
    assert_eq!(
        (t1["chip_reads"].as_str(), t1["fallbacks"].as_str()),
        ("9", "2")
    );
    assert_eq!(t1["fallback_rate"], "0.181818");
    assert_eq!(
        (t2["chip_reads"].as_str(), t2["fallbacks"].as_str()),
        ("6", "0")
    );
    assert_eq!(
        (t3["fallback_rate"].as_str(), t3["latency_p50_ms"].as_str()),
        ("", "")
    );
    let ms = |r: &BTreeMap<String, String>, c: &str| r[c].parse::<f64>().unwrap();
    let within = |v: f64, truth: f64| v / truth < 1.42 && truth / v < 1.42;
    assert!(within(ms(t1, "latency_p50_ms"), 410.0), "{t1:?}");
    assert!(within(ms(t1, "latency_p95_ms"), 950.0), "{t1:?}");
    assert!(within(ms(t2, "latency_p50_ms"), 5000.0), "{t2:?}");
    assert!(within(ms(t2, "latency_p95_ms"), 5200.0), "{t2:?}");
    // The headline figures, for machines and for the report's sentence.
    let b = common::json(&out.join("summary.json"))["beyond"].clone();
    assert_eq!(b["purchases"], 13);
    assert_eq!(b["recovered_purchases"], 8);
    assert_eq!(b["lost_purchases"], 5);
    assert_eq!(b["lost_amount_minor"], 16200);
    let md = std::fs::read_to_string(out.join("report.md")).unwrap();
    assert!(
        md.contains("Customers made 13 purchases over 22 transactions: 8 were paid in the end and 5 were lost"),
        "{md}"
    );
    // The masked card is used to match attempts; no full number is written anywhere.
    assert!(outputs_holding(&out, "6222021234567890128").is_empty());
    assert!(outputs_holding(&out, "4111111111111111").is_empty());
}

#[test]
fn issue12_retry_window_decides_what_is_one_purchase() {
    let dir = tempfile::tempdir().unwrap();
    // 20 minutes: T1's 8.00 decline and the approval 15 minutes later are one purchase.
    let out = dir.path().join("w20");
    analyze(
        &[fixture("retries/retries.csv")],
        &out,
        &["--retry-window", "20m"],
    );
    assert_eq!(sales(&out.join("csv/by_terminal.csv"))["T1"], (7, 2, 3900));
    // 0: only an attempt in the same second retries; every T1 attempt is its own purchase and
    // each of its 6 failures is lost (12.50 + 3 × 30.00 + 8.00 + 9.00).
    let out = dir.path().join("w0");
    analyze(
        &[fixture("retries/retries.csv")],
        &out,
        &["--retry-window", "0"],
    );
    assert_eq!(
        sales(&out.join("csv/by_terminal.csv"))["T1"],
        (11, 6, 11950)
    );
    // Not a duration: refused with the option's name.
    let err = common::fails(
        bin()
            .arg("analyze")
            .arg(fixture("retries/retries.csv"))
            .arg("--retry-window")
            .arg("soon")
            .arg("--out")
            .arg(dir.path().join("bad")),
        2,
    );
    assert!(err.contains("--retry-window"), "{err}");
}

#[test]
fn issue12_row_order_and_threads_do_not_change_purchases() {
    let dir = tempfile::tempdir().unwrap();
    let text = std::fs::read_to_string(fixture("retries/retries.csv")).unwrap();
    let mut lines: Vec<&str> = text.lines().collect();
    let header = lines.remove(0);
    // Reversed, then every other row first: no terminal's attempts in time order.
    lines.reverse();
    let (even, odd): (Vec<_>, Vec<_>) = lines.iter().enumerate().partition(|(i, _)| i % 2 == 0);
    let mixed: Vec<&str> = even.into_iter().chain(odd).map(|(_, l)| *l).collect();
    let shuffled = dir.path().join("shuffled.csv");
    std::fs::write(&shuffled, format!("{header}\n{}\n", mixed.join("\n"))).unwrap();
    let mut results = Vec::new();
    for (input, threads) in [
        (fixture("retries/retries.csv"), "1"),
        (shuffled.clone(), "1"),
        (shuffled, "2"),
    ] {
        let out = dir.path().join(format!("out-{}", results.len()));
        run_ok(
            bin()
                .env("RAYON_NUM_THREADS", threads)
                .arg("analyze")
                .arg(&input)
                .arg("--out")
                .arg(&out),
        );
        results.push(std::fs::read(out.join("csv/by_terminal.csv")).unwrap());
    }
    assert_eq!(results[0], results[1]);
    assert_eq!(results[1], results[2]);
}

#[test]
fn issue12_daily_cubes_add_up_to_the_logs() {
    let dir = tempfile::tempdir().unwrap();
    let cubes = dir.path().join("cubes");
    std::fs::create_dir(&cubes).unwrap();
    // The purchase from 23:58 to 00:03 belongs to 2026-11-02 (its last attempt), not to both
    // days and not to neither.
    let day1 = dir.path().join("day1");
    analyze(
        &[fixture("retries/retries.csv")],
        &day1,
        &[
            "--since",
            "2026-11-01",
            "--until",
            "2026-11-02",
            "--save-cube",
            cubes.join("d1.parquet").to_str().unwrap(),
        ],
    );
    let day2 = dir.path().join("day2");
    analyze(
        &[fixture("retries/retries.csv")],
        &day2,
        &[
            "--since",
            "2026-11-02",
            "--until",
            "2026-11-03",
            "--save-cube",
            cubes.join("d2.parquet").to_str().unwrap(),
        ],
    );
    assert_eq!(sales(&day1.join("csv/by_terminal.csv"))["T2"], (1, 0, 0));
    assert_eq!(sales(&day2.join("csv/by_terminal.csv"))["T2"], (2, 1, 1500));

    let whole = dir.path().join("whole");
    analyze(&[fixture("retries/retries.csv")], &whole, &[]);
    let merged = dir.path().join("merged");
    run_ok(
        bin()
            .arg("analyze")
            .arg("--cube")
            .arg(cubes.join("d1.parquet"))
            .arg("--cube")
            .arg(cubes.join("d2.parquet"))
            .arg("--out")
            .arg(&merged),
    );
    // Every new measure (purchases, lost, fallbacks, response-time quantiles) as from the logs.
    for f in ["by_terminal.csv", "by_merchant.csv", "by_period.csv"] {
        let a = std::fs::read(whole.join("csv").join(f)).unwrap();
        let b = std::fs::read(merged.join("csv").join(f)).unwrap();
        assert_eq!(a, b, "{f}");
    }
}

/// The committed sample (`poslens sample`): its injected.toml holds the truth, counted by the
/// generator as it made the rows. The CSV exports plus the jPOS host log (whose purchases are
/// one attempt each: answered approved, declined or unanswered) add up exactly; the fallback
/// terminal and the slow terminal are found, and no other.
#[test]
fn issue12_the_sample_injections_are_found_exactly() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let truth: toml::Value =
        toml::from_str(&std::fs::read_to_string(root.join("sample_logs/injected.toml")).unwrap())
            .unwrap();
    let int = |path: &[&str]| -> i64 {
        let mut v = &truth;
        for p in path {
            v = &v[*p];
        }
        v.as_integer().unwrap_or_else(|| panic!("{path:?}"))
    };
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    run_ok(
        bin()
            .current_dir(root)
            .args(["analyze", "sample_logs", "--out"])
            .arg(&out),
    );
    let b = common::json(&out.join("summary.json"))["beyond"].clone();
    let host_lost = int(&["host_log", "declined"]) + int(&["host_log", "unanswered"]);
    assert_eq!(
        b["purchases"],
        int(&["purchases", "purchases"]) + int(&["host_log", "approved"]) + host_lost
    );
    assert_eq!(b["lost_purchases"], int(&["purchases", "lost"]) + host_lost);
    assert_eq!(
        b["lost_amount_minor"],
        int(&["purchases", "lost_amount_minor"])
            + int(&["host_log", "declined_amount_minor"])
            + int(&["host_log", "unanswered_amount_minor"])
    );
    let walk = truth["walk_away"]["terminal_id"].as_str().unwrap();
    let terms = sales(&out.join("csv/by_terminal.csv"));
    assert_eq!(
        terms[walk],
        (
            int(&["walk_away", "purchases"]) as u64,
            int(&["walk_away", "lost"]) as u64,
            int(&["walk_away", "lost_amount_minor"])
        )
    );
    let fallback = truth["fallback"]["terminal_id"].as_str().unwrap();
    let warned: Vec<&str> = b["fallback_warnings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w["terminal_id"].as_str().unwrap())
        .collect();
    assert_eq!(warned, [fallback]);
    let (_, rows) = read_csv(&out.join("csv/by_terminal.csv"));
    let row = rows.iter().find(|r| r["terminal_id"] == fallback).unwrap();
    assert_eq!(
        row["fallbacks"],
        int(&["fallback", "fallbacks"]).to_string()
    );
    assert_eq!(
        row["chip_reads"],
        int(&["fallback", "chip_reads"]).to_string()
    );
    let slow: Vec<&str> = b["slow_terminals"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w["terminal_id"].as_str().unwrap())
        .collect();
    assert_eq!(slow, [truth["slow"]["terminal_id"].as_str().unwrap()]);
    // Unanswered host requests: NO_RESPONSE rows, class network, per terminal as injected.
    for (t, v) in truth["host_log"]["by_terminal"].as_table().unwrap() {
        let row = rows.iter().find(|r| &r["terminal_id"] == t).unwrap();
        let unanswered = v["unanswered"].as_integer().unwrap();
        assert!(row["network"].parse::<i64>().unwrap() >= unanswered, "{t}");
    }
    let (_, codes) = read_csv(&out.join("csv/by_code.csv"));
    let nr = codes
        .iter()
        .find(|r| r["response_code"] == "NO_RESPONSE")
        .unwrap();
    assert_eq!(nr["class"], "network");
    assert_eq!(
        nr["transactions"],
        int(&["host_log", "unanswered"]).to_string()
    );
    let m = common::json(&out.join("manifest.json"));
    assert_eq!(
        m["totals"]["requests_unanswered"],
        int(&["host_log", "unanswered"])
    );
    assert_eq!(
        m["totals"]["requests_pending_at_end"],
        int(&["host_log", "pending_at_end"])
    );
    assert_eq!(m["totals"]["reversals"], int(&["host_log", "reversals"]));
}
