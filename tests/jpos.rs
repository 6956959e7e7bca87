//! jPOS host logs as real q2 deployments write them (issue 14): today's `at` form, responses
//! that carry no terminal id, one JVM logging every message twice, ISO 8583:1993 switches.
//! Each fixture runs through the real binary; the counts are the manifest's `inputs[]`.

use crate::common;

use std::collections::BTreeMap;
use std::path::Path;

use common::{analyze, bin, files_under, fixture, json, outputs_holding, read_csv, run_ok};

/// What one analysed jPOS file gave.
#[derive(Debug)]
struct Run {
    /// rows_read, rows_accepted, rows_rejected, rows_duplicate, events_skipped
    counts: [u64; 5],
    /// terminal_id -> (merchant_id, transactions)
    terminals: BTreeMap<String, (String, u64)>,
    /// response_code -> transactions
    codes: BTreeMap<String, u64>,
}

fn run(name: &str, extra: &[&str]) -> Run {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    analyze(&[fixture(&format!("jpos/{name}"))], &out, extra);
    read_run(&out)
}

fn read_run(out: &Path) -> Run {
    let manifest = json(&out.join("manifest.json"));
    let inputs = manifest["inputs"].as_array().unwrap();
    assert_eq!(inputs.len(), 1);
    let n = |k: &str| inputs[0][k].as_u64().unwrap_or_else(|| panic!("{k}"));
    let counts = [
        n("rows_read"),
        n("rows_accepted"),
        n("rows_rejected"),
        n("rows_duplicate"),
        n("events_skipped"),
    ];
    let number = |s: &String| s.parse::<u64>().unwrap();
    let (_, rows) = read_csv(&out.join("csv/by_terminal.csv"));
    let terminals = rows
        .iter()
        .map(|r| {
            (
                r["terminal_id"].clone(),
                (r["merchant_id"].clone(), number(&r["transactions"])),
            )
        })
        .collect();
    let (_, rows) = read_csv(&out.join("csv/by_code.csv"));
    let codes = rows
        .iter()
        .map(|r| (r["response_code"].clone(), number(&r["transactions"])))
        .collect();
    Run {
        counts,
        terminals,
        codes,
    }
}

fn map<V: Clone>(pairs: &[(&str, V)]) -> BTreeMap<String, V> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.clone()))
        .collect()
}

/// (a) `at="Thu Oct 08 17:49:39.830 EAT 2020"`: millis before the zone, year last. Every
/// response of such a log used to be rejected as an unparseable timestamp.
#[test]
fn issue14_todays_at_form_is_read() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    analyze(
        &[fixture("jpos/q2-today-at.xml")],
        &out,
        &["--tz", "Africa/Nairobi"],
    );
    let r = read_run(&out);
    // 5 responses; info, session-start, 5 requests, 0800, 0810, peer-disconnect skipped
    assert_eq!(r.counts, [5, 5, 0, 0, 10], "{r:?}");
    assert_eq!(
        r.terminals,
        map(&[
            ("KE000101", ("254000000123456".to_string(), 3)),
            ("KE000102", ("254000000654321".to_string(), 2)),
        ])
    );
    assert_eq!(r.codes, map(&[("00", 2), ("05", 1), ("51", 1), ("91", 1)]));
    // EAT is dropped and the naive time read in --tz: all on 8 October, Nairobi time
    let (_, periods) = read_csv(&out.join("csv/by_period.csv"));
    let busy: Vec<(&str, &str)> = periods
        .iter()
        .filter(|p| p["transactions"] != "0")
        .map(|p| (p["period_start"].as_str(), p["transactions"].as_str()))
        .collect();
    assert_eq!(busy, [("2020-10-08T00:00:00+03:00", "5")]);
}

/// (b) A switch that answers with MTI, STAN, RRN and field 39 only: the terminal comes from
/// the request of the same STAN on the same channel (two terminals use STAN 000451 at once),
/// the merchant too when the response has 41 but no 42; a response without any request is
/// kept as terminal `(none)` instead of being rejected for an empty terminal.
#[test]
fn issue14_responses_without_41_take_it_from_their_request() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    analyze(
        &[fixture("jpos/switch-no-41.xml")],
        &out,
        &["--tz", "Asia/Shanghai"],
    );
    let r = read_run(&out);
    // 6 responses; 2 session-starts, 5 requests, peer-disconnect skipped
    assert_eq!(r.counts, [6, 6, 0, 0, 8], "{r:?}");
    // The orphan response counts by code and in the totals, but `(none)` is not a terminal:
    // not in by_terminal, never judged; the data-quality note says so.
    assert_eq!(
        r.terminals,
        map(&[
            ("POS00017", ("104110058120018".to_string(), 3)),
            ("POS00022", ("104110058120022".to_string(), 2)),
        ])
    );
    assert_eq!(r.codes, map(&[("00", 3), ("05", 1), ("51", 1), ("91", 1)]));
    let md = std::fs::read_to_string(out.join("report.md")).unwrap();
    assert!(
        md.contains("1 responses carried no terminal id"),
        "data-quality note missing"
    );
    assert_eq!(
        json(&out.join("summary.json"))["headline"]["transactions"],
        6
    );
}

/// (c) Server and client in one JVM log every message twice (server `send`, client
/// `receive`), and the transaction manager dumps it again in its `<context>`: each second
/// sighting is a skipped event, not a row. Four transactions, 19 skipped events: info,
/// session-start, connect, and per transaction 2 requests, the client's copy and the dump.
#[test]
fn issue14_double_logging_counts_each_response_once() {
    let r = run("one-jvm-double.xml", &[]);
    let [read, _, rejected, _, skipped] = r.counts;
    assert_eq!((read, rejected, skipped), (4, 0, 19), "{r:?}");
}

/// (c) continued: the test client reuses STAN 000001 for every message and the test host
/// assigns no RRN, so all four have txn_id 000001 on terminal TESTPOS1. Two are identical
/// (amount 10.00, code 00) 0.9 s apart, another identical one 40 s later: all are their own
/// transactions. Needs the pipeline's duplicate key (terminal, txn_id, timestamp text,
/// code, amount); with the older (terminal, txn_id) key three of them are duplicates.
#[test]
fn issue14_a_test_client_reusing_stan_000001_keeps_every_transaction() {
    let r = run("one-jvm-double.xml", &[]);
    assert_eq!(r.counts, [4, 4, 0, 0, 19], "{r:?}");
    assert_eq!(
        r.terminals,
        map(&[("TESTPOS1", ("TESTMERCHANT001".to_string(), 4))])
    );
    assert_eq!(r.codes, map(&[("00", 3), ("51", 1)]));
}

/// (d) An ISO 8583:1993 switch: MTIs 1100/1110 and 1200/1210, three-digit field 39, field 41
/// with an inner space (`TERM 001`) or space-padded (`TRM 02  `), subfields of a nested
/// `<isomsg id="48">` (holding a 39 and a 41 of their own) that must not leak, a 1804/1814
/// network-management pair, and one 1210 without field 41. Classes of three-digit codes
/// come from the 1993 catalog: only codes and counts are asserted here.
#[test]
fn issue14_iso_8583_1993_switch() {
    let r = run("iso1993-switch.xml", &[]);
    // 5 responses; session-start, 5 requests, 1804, 1814 skipped
    assert_eq!(r.counts, [5, 5, 0, 0, 8], "{r:?}");
    assert_eq!(
        r.terminals,
        map(&[
            ("TERM 001", ("MERCH0000000001".to_string(), 2)),
            ("TRM 02", ("MERCH0000000001".to_string(), 3)),
        ])
    );
    assert_eq!(
        r.codes,
        map(&[("000", 2), ("100", 1), ("116", 1), ("911", 1)])
    );
}

/// All four shapes in one run: the figures add up, each file keeps its own pairing and
/// copy detection (a request in one file never pairs with a response in another).
#[test]
fn issue14_all_shapes_together_reconcile() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let files = [
        "q2-today-at.xml",
        "switch-no-41.xml",
        "iso1993-switch.xml",
        "one-jvm-double.xml",
    ]
    .map(|f| fixture(&format!("jpos/{f}")));
    analyze(&files, &out, &[]);
    let manifest = json(&out.join("manifest.json"));
    let totals = &manifest["totals"];
    let t = |k: &str| totals[k].as_u64().unwrap();
    assert_eq!(t("rows_read"), 5 + 6 + 5 + 4);
    assert_eq!(t("events_skipped"), 10 + 8 + 8 + 19);
    assert_eq!(t("rows_rejected"), 0);
    // Issue 12: every request in these logs is answered in time; switch-no-41's one
    // reversal (0400) names its 0200 in field 90.
    assert_eq!(t("requests_unanswered"), 0);
    assert_eq!(t("requests_pending_at_end"), 0);
    assert_eq!((t("reversals"), t("reversals_linked")), (1, 1));
    assert_eq!(
        t("rows_read"),
        t("rows_accepted") + t("rows_rejected") + t("rows_duplicate")
    );
}

/// Issue 12, on a Q2 log of an acquirer host (tests/fixtures/jpos/unanswered.xml): terminal
/// POS00031 on its own channel, POS00032 through a store gateway in the same JVM (every
/// message logged twice), POS00033 on its own channel. 10 requests are answered; 5 get no
/// response within 60 s: POS00031's 0200 STAN 000103, 0100 000105 and 0200 000106 (answered
/// 65 s late: the late 0210 still counts as a transaction), POS00032's 0200 000204 and 000205
/// (each logged twice). 2 requests come in the last minute of the log without a response:
/// pending, not failures. 3 reversals: a 0400 with the STAN of POS00031's first unanswered
/// request, a 0420 naming 000106 in field 90, a 0420 naming a transaction from before the log.
#[test]
fn issue12_unanswered_requests_are_network_failures_per_terminal() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    analyze(
        &[fixture("jpos/unanswered.xml")],
        &out,
        &["--tz", "Asia/Shanghai"],
    );
    let r = read_run(&out);
    // 14 responses (10 answers, the late one, 0410, two 0430) + 5 NO_RESPONSE rows; 31 skipped:
    // 5 session events, 13 events of answered requests (the 3 through the gateway are logged
    // twice), 3 copies of gateway responses, 2 copies of the unanswered gateway requests, 3
    // reversals, 0800, 0810, 2 pending requests, the last info
    assert_eq!(r.counts, [19, 19, 0, 0, 31], "{r:?}");
    let manifest = json(&out.join("manifest.json"));
    let input = &manifest["inputs"][0];
    let n = |k: &str| input[k].as_u64().unwrap_or_else(|| panic!("{k}"));
    assert_eq!(n("requests_unanswered"), 5);
    assert_eq!(n("requests_pending_at_end"), 2);
    assert_eq!(n("reversals"), 3);
    assert_eq!(n("reversals_linked"), 2);
    assert_eq!(manifest["totals"]["requests_unanswered"], 5);

    // NO_RESPONSE is class network: by_terminal's network column is exactly each terminal's
    // unanswered requests (no other network code in this log)
    let (_, rows) = read_csv(&out.join("csv/by_terminal.csv"));
    let per_terminal: BTreeMap<&str, (&str, &str)> = rows
        .iter()
        .map(|r| {
            (
                r["terminal_id"].as_str(),
                (r["transactions"].as_str(), r["network"].as_str()),
            )
        })
        .collect();
    assert_eq!(
        per_terminal,
        BTreeMap::from([
            ("POS00031", ("9", "3")),
            ("POS00032", ("5", "2")),
            ("POS00033", ("5", "0")),
        ])
    );
    let (_, codes) = read_csv(&out.join("csv/by_code.csv"));
    let no_response = codes
        .iter()
        .find(|c| c["response_code"] == "NO_RESPONSE")
        .expect("NO_RESPONSE in by_code.csv");
    assert_eq!(no_response["class"], "network");
    assert_eq!(no_response["transactions"], "5");
    assert!(no_response["meaning"].starts_with("No response from the host"));
    assert_eq!(
        r.codes,
        map(&[("00", 12), ("05", 1), ("51", 1), ("NO_RESPONSE", 5)])
    );
    // the unanswered requests carried card numbers: none reaches an output
    for pan in ["6222021001115547", "6259071234567895", "6228480402564899"] {
        assert!(outputs_holding(&out, pan).is_empty(), "{pan} leaked");
    }
}

/// Issue 12: the same log gives byte-identical outputs run after run, and `validate` reports
/// the request counts.
#[test]
fn issue12_outputs_are_stable_and_validate_reports_the_counts() {
    let dir = tempfile::tempdir().unwrap();
    let input = fixture("jpos/unanswered.xml");
    let (a, b) = (dir.path().join("a"), dir.path().join("b"));
    analyze(&[&input], &a, &["--tz", "Asia/Shanghai"]);
    analyze(&[&input], &b, &["--tz", "Asia/Shanghai"]);
    let files = files_under(&a);
    assert!(files.len() > 5);
    for f in files {
        let rel = f.strip_prefix(&a).unwrap();
        assert_eq!(
            std::fs::read(&f).unwrap(),
            std::fs::read(b.join(rel)).unwrap(),
            "{} differs between runs",
            rel.display()
        );
    }
    let v = run_ok(bin().arg("validate").arg(&input));
    let text = String::from_utf8_lossy(&v.stdout);
    for line in [
        "jPOS requests with no response within 60 s: rows with code NO_RESPONSE: 5",
        "jPOS requests still waiting for a response when the log ended: not counted: 2",
        "jPOS reversals: 3",
        "jPOS reversals linked to the transaction they reverse: 2",
        "reconciliation: rows_read 19 = accepted + rejected + duplicate: yes",
    ] {
        assert!(text.contains(line), "{line:?} missing:\n{text}");
    }
}

/// Issue 12: `NO_RESPONSE` in a CSV export, in any case, is the catalog's code (class
/// network), not a rejected row.
#[test]
fn issue12_no_response_in_a_csv_is_the_same_code() {
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("t.csv");
    std::fs::write(
        &csv,
        "timestamp,terminal_id,response_code\n\
         2024-07-15 10:00:00,T1,no_response\n\
         2024-07-15 10:01:00,T1,NO_RESPONSE\n\
         2024-07-15 10:02:00,T1,00\n\
         2024-07-15 10:03:00,T1,NO_RESPONSES\n",
    )
    .unwrap();
    let out = dir.path().join("out");
    analyze(&[&csv], &out, &[]);
    let r = read_run(&out);
    assert_eq!(r.counts, [4, 3, 1, 0, 0], "{r:?}");
    assert_eq!(r.codes, map(&[("00", 1), ("NO_RESPONSE", 2)]));
    let (_, rows) = read_csv(&out.join("csv/by_terminal.csv"));
    assert_eq!(rows[0]["network"], "2");
    // not a jPOS request: the jPOS counter stays 0
    assert_eq!(
        json(&out.join("manifest.json"))["inputs"][0]["requests_unanswered"],
        0
    );
}
