//! The sample's truth checked against what it writes: the purchase rule written out again
//! here, the real ingest pipeline and jPOS reader, the host log paired by hand.

use super::host::HOST_MERCHANT;
use super::*;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::io::Read as _;

fn args(seed: u64, terminals: u32, days: u32, tz: Option<&str>) -> SampleArgs {
    SampleArgs {
        out: std::path::PathBuf::from("unused"),
        terminals,
        days,
        rows: None,
        seed,
        one_file: false,
        tz: tz.map(str::to_string),
        fleet: false,
    }
}

/// One accepted CSV row, as analysis would see it.
struct Attempt {
    ts: i64,
    terminal: String,
    merchant: String,
    amount: i64,
    card: String,
    approved: bool,
    entry: String,
}

/// The rows analysis accepts from the weekly exports: well-formed rows, a one-digit code
/// read as two digits, the same transaction exported twice counted once.
fn accepted(files: &[(String, Vec<u8>)]) -> Vec<Attempt> {
    let mut seen = HashSet::new();
    let mut out = Vec::new();
    for (name, bytes) in files.iter().filter(|f| f.0.ends_with(".csv.gz")) {
        let mut text = String::new();
        flate2::read::GzDecoder::new(&bytes[..])
            .read_to_string(&mut text)
            .unwrap();
        for line in text.lines().skip(1) {
            let f: Vec<&str> = line.split(',').collect();
            if f.len() != 13 || f[1].is_empty() || f[10].is_empty() {
                continue;
            }
            let ts = match chrono::NaiveDateTime::parse_from_str(f[0], "%Y-%m-%d %H:%M:%S") {
                Ok(t) => t.and_utc().timestamp(),
                Err(_) => match chrono::DateTime::parse_from_rfc3339(f[0]) {
                    Ok(t) => t.timestamp(),
                    Err(_) => continue,
                },
            };
            if !seen.insert([f[1], f[4], f[0], f[10], f[6]].join(",")) {
                continue; // the overlapping export
            }
            let (major, minor) = f[6].split_once('.').unwrap();
            assert_eq!(minor.len(), 2, "{name}: {line}");
            out.push(Attempt {
                ts,
                terminal: f[1].to_string(),
                merchant: f[2].to_string(),
                amount: major.parse::<i64>().unwrap() * 100 + minor.parse::<i64>().unwrap(),
                card: f[12].to_string(),
                approved: f[10] == "00",
                entry: f[9].to_string(),
            });
        }
    }
    out
}

/// The purchase rule, written out independently of the generator: the attempts that end
/// a lost purchase (failed, and no attempt with the same key follows within 600 s).
fn lost_ends(rows: &[Attempt]) -> (u64, Vec<&Attempt>) {
    let mut keys: HashMap<(&str, &str, i64, &str), Vec<&Attempt>> = HashMap::new();
    for r in rows {
        keys.entry((&r.terminal, &r.merchant, r.amount, &r.card))
            .or_default()
            .push(r);
    }
    let mut approved = 0;
    let mut lost = Vec::new();
    for v in keys.values_mut() {
        v.sort_by_key(|r| (r.ts, r.approved));
        for (i, r) in v.iter().enumerate() {
            if r.approved {
                approved += 1;
            } else if v.get(i + 1).is_none_or(|n| n.ts > r.ts + 600) {
                lost.push(*r);
            }
        }
    }
    (approved, lost)
}

fn int(v: &toml::Value, key: &str) -> i64 {
    v[key]
        .as_integer()
        .unwrap_or_else(|| panic!("{key} in {v}"))
}

fn check_truth(a: &SampleArgs) {
    let tz = sample_tz(a).unwrap();
    let files = generate(a).unwrap();
    let toml_text = String::from_utf8(files.last().unwrap().1.clone()).unwrap();
    let truth: toml::Value = toml::from_str(&toml_text).unwrap();
    let rows = accepted(&files);
    let (approved, lost) = lost_ends(&rows);
    let p = &truth["purchases"];
    let failed = rows.iter().filter(|r| !r.approved).count() as i64;
    assert_eq!(int(p, "attempts"), rows.len() as i64);
    assert_eq!(int(p, "failed_attempts"), failed);
    assert_eq!(int(p, "recovered"), approved as i64);
    assert_eq!(int(p, "lost"), lost.len() as i64);
    assert_eq!(int(p, "purchases"), (approved as usize + lost.len()) as i64);
    let amount: i64 = lost.iter().map(|r| r.amount).sum();
    assert_eq!(int(p, "lost_amount_minor"), amount);
    assert!(int(p, "retried") > 0 && int(p, "recovered_after_retry") > 0);

    // Per terminal, and the chip reads and fallbacks.
    let mut per: BTreeMap<&str, [i64; 6]> = BTreeMap::new();
    for r in &rows {
        let e = per.entry(&r.terminal).or_default();
        e[0] += 1;
        e[1] += r.approved as i64;
        match r.entry.as_str() {
            "fallback" => e[4] += 1,
            "chip" | "contactless" => e[5] += 1,
            _ => {}
        }
    }
    for r in &lost {
        let e = per.get_mut(r.terminal.as_str()).unwrap();
        e[2] += 1;
        e[3] += r.amount;
    }
    let by_terminal = truth["purchases"]["by_terminal"].as_table().unwrap();
    assert_eq!(by_terminal.len(), per.len());
    for (id, e) in &per {
        let t = &by_terminal[*id];
        assert_eq!(int(t, "attempts"), e[0], "{id}");
        assert_eq!(int(t, "recovered"), e[1], "{id}");
        assert_eq!(int(t, "lost"), e[2], "{id}");
        assert_eq!(int(t, "purchases"), e[1] + e[2], "{id}");
        assert_eq!(int(t, "lost_amount_minor"), e[3], "{id}");
        assert_eq!(int(t, "fallbacks"), e[4], "{id}");
        assert_eq!(int(t, "chip_reads"), e[5], "{id}");
    }
    let merchants: i64 = truth["purchases"]["by_merchant"]
        .as_table()
        .unwrap()
        .values()
        .map(|m| int(m, "lost_amount_minor"))
        .sum();
    assert_eq!(merchants, amount);

    // The walk-away till: most of its lost purchases in the evening, from its first day.
    let w = &truth["walk_away"];
    let id = w["terminal_id"].as_str().unwrap();
    let from = NaiveDate::parse_from_str(w["from"].as_str().unwrap(), "%Y-%m-%d").unwrap();
    let from = local_midnight(from, tz);
    let evening: Vec<&&Attempt> = lost
        .iter()
        .filter(|r| r.terminal == id && r.ts >= from && matches!(local_hour(r.ts, tz), 18 | 19))
        .collect();
    assert_eq!(int(w, "lost_evening"), evening.len() as i64);
    assert_eq!(
        int(w, "lost_evening_amount_minor"),
        evening.iter().map(|r| r.amount).sum::<i64>()
    );
    assert_eq!(int(w, "lost"), per[id][2]);
    // It loses the most of its merchant's tills, most of it at 18:00-20:00.
    let merchant = w["merchant_id"].as_str().unwrap();
    let mut tills: BTreeMap<&str, i64> = BTreeMap::new();
    let mut windows: BTreeMap<(&str, u32), i64> = BTreeMap::new();
    for r in lost.iter().filter(|r| r.merchant == merchant) {
        *tills.entry(&r.terminal).or_default() += r.amount;
        *windows
            .entry((&r.terminal, local_hour(r.ts, tz) / 2))
            .or_default() += r.amount;
    }
    fn top<K: Copy>(m: &BTreeMap<K, i64>) -> Option<K> {
        m.iter().max_by_key(|e| *e.1).map(|e| *e.0)
    }
    assert_eq!(top(&tills), Some(id), "{tills:?}");
    assert_eq!(top(&windows), Some((id, 9)), "{windows:?}");
}

#[test]
fn sample_truth_is_exact_under_the_purchase_rule() {
    check_truth(&args(42, 30, 28, None));
}

#[test]
fn sample_truth_is_exact_in_a_zone_with_a_clock_change() {
    // Europe/Berlin leaves summer time on 2026-10-25: a 25-hour day.
    check_truth(&args(7, 30, 14, Some("Europe/Berlin")));
}

#[test]
fn sample_attempts_are_what_the_pipeline_accepts() {
    let a = args(42, 30, 28, None);
    let files = generate(&a).unwrap();
    let truth: toml::Value =
        toml::from_str(std::str::from_utf8(&files.last().unwrap().1).unwrap()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut inputs = Vec::new();
    for (name, bytes) in files.iter().filter(|f| f.0.ends_with(".csv.gz")) {
        std::fs::write(dir.path().join(name), bytes).unwrap();
        inputs.push(dir.path().join(name));
    }
    let cfg = crate::config::IngestConfig {
        evidence: None,
        inputs,
        tz: chrono_tz::UTC,
        encoding: encoding_rs::UTF_8,
        mapping: Default::default(),
        format: None,
        sheet: None,
        strict: false,
        since: None,
        until: None,
        retry: None,
    };
    let (outcome, _) = crate::ingest::ingest(&cfg, false).unwrap();
    let totals = outcome.totals();
    assert_eq!(
        totals.rows_accepted as i64,
        int(&truth["purchases"], "attempts")
    );
    assert!(totals.codes_padded > 0 && totals.rows_duplicate > 0);
}

/// The host log read back: pairs by terminal and STAN, a request unanswered when no
/// response came and the log goes on for 60 s after it.
#[test]
fn sample_host_log_truth_is_exact() {
    for tz in [None, Some("Asia/Shanghai")] {
        let a = args(42, 30, 28, tz);
        let files = generate(&a).unwrap();
        let truth: toml::Value =
            toml::from_str(std::str::from_utf8(&files.last().unwrap().1).unwrap()).unwrap();
        let h = &truth["host_log"];
        let (name, bytes) = files.iter().find(|f| f.0.ends_with(".xml")).unwrap();
        assert_eq!(name, "host_2026-W46.xml");
        assert_eq!(h["file"].as_str(), Some(name.as_str()));
        let text = std::str::from_utf8(bytes).unwrap();

        let value = |event: &str, id: u32| {
            let tag = format!("<field id=\"{id}\" value=\"");
            event
                .find(&tag)
                .map(|i| &event[i + tag.len()..])
                .map(|v| v[..v.find('"').unwrap()].to_string())
        };
        let mut open: HashMap<(String, String), i64> = HashMap::new();
        let mut answered: BTreeMap<String, i64> = BTreeMap::new();
        let mut approved_stans: HashSet<(String, String)> = HashSet::new();
        let mut reversals = 0;
        let mut end = 0;
        for event in text.split("<log ").skip(1) {
            let at = &event[event.find("at=\"").unwrap() + 4..];
            let at = &at[..at.find('"').unwrap()];
            let ms = chrono::DateTime::parse_from_rfc3339(at)
                .unwrap()
                .timestamp_millis();
            assert!(ms >= end, "events in time order");
            end = ms;
            let (Some(mti), Some(stan)) = (value(event, 0), value(event, 11)) else {
                continue;
            };
            let term = value(event, 41).unwrap_or_default();
            match mti.as_str() {
                "0200" | "0420" => {
                    assert!(open.insert((term.clone(), stan), ms).is_none());
                    if mti == "0420" {
                        reversals += 1;
                        let f90 = value(event, 90).unwrap();
                        assert_eq!(f90.len(), 42);
                        assert!(f90.starts_with("0200"));
                        assert!(approved_stans.contains(&(term, f90[4..10].to_string())));
                    }
                }
                "0210" | "0430" => {
                    let sent = open.remove(&(term.clone(), stan.clone())).unwrap();
                    assert!((150..=900).contains(&(ms - sent)), "{event}");
                    if mti == "0210" {
                        *answered.entry(term.clone()).or_default() += 1;
                        if value(event, 39).as_deref() == Some("00") {
                            approved_stans.insert((term, stan));
                        }
                    }
                }
                _ => {}
            }
        }
        let mut unanswered: BTreeMap<String, i64> = BTreeMap::new();
        let mut pending = 0;
        for ((term, _), ms) in &open {
            if ms + 60_000 <= end {
                *unanswered.entry(term.clone()).or_default() += 1;
            } else {
                assert!(ms + 30_000 >= end);
                pending += 1;
            }
        }
        assert_eq!(int(h, "pending_at_end"), pending);
        assert_eq!(pending, 2);
        assert_eq!(int(h, "reversals"), reversals);
        assert!(reversals > 0);
        let by = h["by_terminal"].as_table().unwrap();
        for (id, t) in by {
            assert_eq!(int(t, "answered"), answered.get(id).copied().unwrap_or(0));
            assert_eq!(
                int(t, "unanswered"),
                unanswered.get(id).copied().unwrap_or(0)
            );
        }
        let burst = &h["unanswered_burst"];
        assert_eq!(burst["terminal_id"].as_str(), Some("H0003"));
        assert!(int(burst, "unanswered") >= 5);
        assert!(unanswered["H0003"] > 2 * unanswered.get("H0001").copied().unwrap_or(0));
        let hours: i64 = h["unanswered_hours"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| int(x, "unanswered"))
            .sum();
        assert_eq!(hours, int(h, "unanswered"));

        // The jPOS reader: one record per response (0210 and 0430), all on host terminals.
        let mut records = 0;
        let mut skipped = 0;
        crate::ingest::jpos::read(
            bytes.as_slice(),
            &Default::default(),
            &mut |item| -> std::result::Result<(), std::io::Error> {
                match item {
                    crate::ingest::schema::Item::Record { fields, .. } => {
                        use crate::ingest::schema::Field;
                        records += 1;
                        assert!(fields.get(Field::TerminalId).unwrap().starts_with('H'));
                        assert_eq!(fields.get(Field::MerchantId), Some(HOST_MERCHANT));
                    }
                    crate::ingest::schema::Item::Skip { .. } => skipped += 1,
                    crate::ingest::schema::Item::Reject { reason, .. } => panic!("{reason}"),
                }
                Ok(())
            },
        )
        .unwrap();
        // Rows the reader makes: the responses, and one NO_RESPONSE row per unanswered request.
        assert_eq!(records, int(h, "transactions") + int(h, "unanswered"));
        assert_eq!(
            int(h, "transactions"),
            int(h, "answered") + int(h, "reversal_responses")
        );
        assert!(skipped > 0);
    }
}

#[test]
fn sample_injections_keep_off_each_other() {
    let files = generate(&args(1, 30, 28, None)).unwrap();
    let truth: toml::Value =
        toml::from_str(std::str::from_utf8(&files.last().unwrap().1).unwrap()).unwrap();
    let mut ids = vec![
        truth["walk_away"]["terminal_id"].as_str().unwrap(),
        truth["fallback"]["terminal_id"].as_str().unwrap(),
        truth["slow"]["terminal_id"].as_str().unwrap(),
        truth["low_volume"]["terminal_id"].as_str().unwrap(),
        truth["fraud_burst"]["terminal_id"].as_str().unwrap(),
    ];
    for f in truth["faulty"].as_array().unwrap() {
        ids.push(f["terminal_id"].as_str().unwrap());
    }
    for t in truth["high_declines"]["terminals"].as_array().unwrap() {
        ids.push(t.as_str().unwrap());
    }
    let unique: HashSet<&str> = ids.iter().copied().collect();
    assert_eq!(unique.len(), ids.len(), "{ids:?}");
    assert_eq!(ids[..3], ["T0012", "T0004", "T0008"]);
}

#[test]
fn sample_rows_mode_hits_its_target() {
    let dir = tempfile::tempdir().unwrap();
    let mut a = args(3, 40, 10, Some("Asia/Shanghai"));
    a.out = dir.path().to_path_buf();
    a.one_file = true;
    a.rows = Some(60_000);
    let n = write_one_file(&a).unwrap();
    assert!((57_000..63_000).contains(&n), "{n} rows");
    let truth: toml::Value =
        toml::from_str(&std::fs::read_to_string(dir.path().join("injected.toml")).unwrap())
            .unwrap();
    let text = std::fs::read_to_string(dir.path().join("transactions.csv")).unwrap();
    let bad = text.lines().filter(|l| l.contains(",9000")).count() as i64;
    // Every written row but the rejected malformed ones is an attempt.
    let lines = text.lines().count() as i64 - 1;
    let rejected = text
        .lines()
        .skip(1)
        .filter(|l| {
            let f: Vec<&str> = l.split(',').collect();
            f.len() != 13
                || f[1].is_empty()
                || f[10].is_empty()
                || chrono::DateTime::parse_from_rfc3339(f[0]).is_err()
        })
        .count() as i64;
    assert!(bad > 0);
    assert_eq!(int(&truth["purchases"], "attempts"), lines - rejected);
}
