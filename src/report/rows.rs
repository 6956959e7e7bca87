//! The rows of the CSV exports, one serde struct per file: the field order is the column
//! order and the field names are SPEC's column names, so a column is added, renamed or moved
//! here and nowhere else. Each file's column descriptions sit beside its struct; they are
//! what `csv/EXPORT.md` prints, and a test checks that every column has exactly one.
//!
//! Cell types carry the formatting the exports promise: [`Safe`] neutralises text a
//! spreadsheet would run as a formula, [`Rate`] writes six decimals (byte-stable files),
//! [`Sci`] writes p-values in scientific notation.

use serde::{Serialize, Serializer};

use crate::analyze::{ratio, Status};
use crate::classify::Class;

use super::Report;

/// A text cell, neutralised against CSV/formula injection (OWASP): cells starting with
/// `= + - @`, tab or CR get a leading `'`.
#[derive(Debug, Clone, Default)]
pub struct Safe(pub String);

pub fn safe_text(s: &str) -> String {
    match s.chars().next() {
        Some('=' | '+' | '-' | '@' | '\t' | '\r') => format!("'{s}"),
        _ => s.to_string(),
    }
}

impl Serialize for Safe {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&safe_text(&self.0))
    }
}

/// A rate in [0, 1] with six decimals.
#[derive(Debug, Clone, Copy, Default)]
pub struct Rate(pub f64);

impl Serialize for Rate {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&format!("{:.6}", self.0))
    }
}

/// A count per day, `41.25`.
#[derive(Debug, Clone, Copy, Default)]
pub struct PerDay(pub f64);

impl Serialize for PerDay {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&format!("{:.2}", self.0))
    }
}

/// A p-value, `5.871e-276`.
#[derive(Debug, Clone, Copy, Default)]
pub struct Sci(pub f64);

impl Serialize for Sci {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&format!("{:.3e}", self.0))
    }
}

fn safe(s: &str) -> Safe {
    Safe(s.to_string())
}

/// `csv/by_terminal.csv`.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ByTerminal {
    pub terminal_id: Safe,
    pub merchant_id: Safe,
    pub transactions: u64,
    pub approved: u64,
    pub declined: u64,
    pub fraud: u64,
    pub network: u64,
    pub terminal: u64,
    pub unknown: u64,
    pub failure_rate: Rate,
    pub terminal_fault_rate: Rate,
    pub fault_ci_low: Rate,
    pub fault_ci_high: Rate,
    pub status: Status,
    pub purchases: u64,
    pub lost_purchases: u64,
    pub lost_amount_minor: i64,
    pub purchase_failure_rate: Rate,
    pub chip_reads: u64,
    pub fallbacks: u64,
    pub fallback_rate: Option<Rate>,
    pub latency_p50_ms: Option<f64>,
    pub latency_p95_ms: Option<f64>,
}

/// The purchase columns, after SPEC's columns in three exports.
const LOST_DOCS: [(&str, &str); 4] = [
    ("purchases", "purchases: attempts on one terminal for the same amount and card, each within --retry-window of the one before, are one purchase (README \"Beyond field 39\"); counted where their last attempt is"),
    ("lost_purchases", "purchases whose last attempt failed: the customer did not pay"),
    ("lost_amount_minor", "the amount of the lost purchases, in minor units (cents, fen)"),
    ("purchase_failure_rate", "lost_purchases / purchases, beside failure_rate, which counts attempts"),
];

/// `csv/by_period.csv`.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ByPeriod {
    pub period_start: String,
    pub transactions: u64,
    pub approved: u64,
    pub declined: u64,
    pub fraud: u64,
    pub network: u64,
    pub terminal: u64,
    pub unknown: u64,
    pub failure_rate: Rate,
    pub purchases: u64,
    pub lost_purchases: u64,
    pub lost_amount_minor: i64,
    pub purchase_failure_rate: Rate,
    pub latency_p50_ms: Option<f64>,
    pub latency_p95_ms: Option<f64>,
}

/// `csv/by_code.csv`.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ByCode {
    pub response_code: Safe,
    pub class: Class,
    pub meaning: Safe,
    pub transactions: u64,
    pub share: Rate,
}

/// `csv/by_merchant.csv`.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ByMerchant {
    pub merchant_id: Safe,
    pub merchant_name: Safe,
    pub terminals: u64,
    pub transactions: u64,
    pub approved: u64,
    pub declined: u64,
    pub fraud: u64,
    pub network: u64,
    pub terminal: u64,
    pub unknown: u64,
    pub failure_rate: Rate,
    pub purchases: u64,
    pub lost_purchases: u64,
    pub lost_amount_minor: i64,
    pub purchase_failure_rate: Rate,
}

/// `csv/flagged_terminals.csv`, and `poslens terminals --format csv`.
#[derive(Debug, Clone, Default, Serialize)]
pub struct FlaggedTerminal {
    pub terminal_id: Safe,
    pub merchant_id: Safe,
    pub transactions: u64,
    pub terminal_faults: u64,
    pub terminal_fault_rate: Rate,
    pub baseline_rate: Rate,
    pub p_value: Sci,
    pub first_bad_period: String,
    pub top_codes: Safe,
    pub reason: Safe,
    pub cohort: Safe,
    pub entry_mode: String,
    pub recovered_period: String,
}

/// `csv/cohorts.csv`.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Cohort {
    pub cohort_field: String,
    pub cohort: Safe,
    pub terminals: u64,
    pub transactions: u64,
    pub terminal_faults: u64,
    pub terminal_fault_rate: Rate,
    pub ratio_to_fleet: Rate,
    pub p_value: Sci,
}

/// `csv/silent_terminals.csv`.
#[derive(Debug, Clone, Default, Serialize)]
pub struct SilentTerminal {
    pub terminal_id: Safe,
    pub merchant_id: Safe,
    pub status: String,
    pub last_seen: String,
    pub since: String,
    pub expected_per_day: PerDay,
    pub seen_per_day: PerDay,
}

/// `csv/evidence.csv`.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Evidence {
    pub terminal_id: Safe,
    pub file: Safe,
    pub line: u64,
    pub timestamp: String,
    pub response_code: Safe,
}

/// `csv/incidents.csv`.
#[derive(Debug, Clone, Default, Serialize)]
pub struct IncidentRow {
    pub start: String,
    pub end: String,
    pub scope: String,
    pub issuer_bin: Safe,
    pub class: String,
    pub top_codes: Safe,
    pub terminals_hit: u64,
    pub transactions: u64,
    pub failures: u64,
}

const COUNTS: [(&str, &str); 7] = [
    ("transactions", "transactions (response messages) counted, intermediate messages such as `09` excluded"),
    ("approved", "transactions whose response code is in class `approved`"),
    ("declined", "class `declined`: the issuer refused for the cardholder's account (funds, expiry, PIN, limits)"),
    ("fraud", "class `fraud`: suspected fraud, lost/stolen, pick-up"),
    ("network", "class `network`: issuer or switch unavailable, timeouts, upstream malfunction"),
    ("terminal", "class `terminal`: caused at the terminal, merchant set-up or acquirer side"),
    ("unknown", "codes not in the active catalog"),
];

/// Every export with its row count's meaning and its columns, described: the source of
/// `csv/EXPORT.md`.
pub struct FileDoc {
    pub file: &'static str,
    pub rows: &'static str,
    pub columns: Vec<(&'static str, &'static str)>,
}

pub fn docs() -> Vec<FileDoc> {
    // SPEC's columns (the counts between `before` and `after`), then the purchase columns,
    // then `extra`.
    let with_counts = |before: &[(&'static str, &'static str)],
                       after: &[(&'static str, &'static str)],
                       extra: &[(&'static str, &'static str)]| {
        let mut v = before.to_vec();
        v.extend(COUNTS);
        v.extend_from_slice(after);
        v.extend(LOST_DOCS);
        v.extend_from_slice(extra);
        v
    };
    vec![
        FileDoc {
            file: "by_terminal.csv",
            rows: "one row per terminal id, sorted by terminal id; `(none)` (responses without a terminal id) is not a terminal and is left out",
            columns: with_counts(
                &[
                    ("terminal_id", "terminal id as logged (field 41)"),
                    ("merchant_id", "the merchant with most of the terminal's transactions"),
                ],
                &[
                    ("failure_rate", "(transactions - approved) / transactions"),
                    ("terminal_fault_rate", "terminal / transactions"),
                    ("fault_ci_low", "lower end of the Wilson 95% interval of terminal_fault_rate"),
                    ("fault_ci_high", "upper end of the Wilson 95% interval of terminal_fault_rate"),
                    ("status", "`flagged` (terminal-class rate significantly above the fleet baseline, see flagged_terminals.csv), `ok`, or `insufficient_data` (fewer transactions than --min-volume: not judged)"),
                ],
                &[
                    ("chip_reads", "transactions whose entry_mode is a chip read (contact or contactless: `05`, `07`, `chip`, `contactless`…)"),
                    ("fallbacks", "chip cards read by magstripe after the chip failed (entry_mode `80`, or a spelling with `fallback`)"),
                    ("fallback_rate", "fallbacks / (chip_reads + fallbacks); empty without either"),
                    ("latency_p50_ms", "median response time in milliseconds (latency_ms, or request to response in jPOS logs), from a log-scale histogram: within about 19%; empty without response times"),
                    ("latency_p95_ms", "95th percentile response time, as latency_p50_ms"),
                ],
            ),
        },
        FileDoc {
            file: "by_period.csv",
            rows: "one row per period (--bucket), zero-filled from the first to the last period with data",
            columns: with_counts(
                &[("period_start", "start of the period, RFC 3339 in the report time zone")],
                &[("failure_rate", "(transactions - approved) / transactions")],
                &[
                    ("latency_p50_ms", "the fleet's median response time in the period, milliseconds (log-scale histogram, within about 19%)"),
                    ("latency_p95_ms", "the fleet's 95th percentile response time in the period"),
                ],
            ),
        },
        FileDoc {
            file: "by_code.csv",
            rows: "one row per response code, most frequent first (ties by code)",
            columns: vec![
                ("response_code", "the response code (field 39) as text: `05` is not `5`"),
                ("class", "its class under the active catalog profile"),
                ("meaning", "short meaning from the catalog, in the report language (--lang)"),
                ("transactions", "transactions with this code"),
                ("share", "transactions / all transactions"),
            ],
        },
        FileDoc {
            file: "by_merchant.csv",
            rows: "one row per merchant id, sorted by merchant id",
            columns: with_counts(
                &[
                    ("merchant_id", "merchant id as logged (field 42); empty when the logs carry none"),
                    ("merchant_name", "the most used spelling of the merchant's name"),
                    ("terminals", "distinct terminal ids seen at this merchant"),
                ],
                &[("failure_rate", "(transactions - approved) / transactions")],
                &[],
            ),
        },
        FileDoc {
            file: "flagged_terminals.csv",
            rows: "one row per terminal with status `flagged` in by_terminal.csv",
            columns: vec![
                ("terminal_id", "terminal id"),
                ("merchant_id", "its main merchant"),
                ("transactions", "its transactions (as in by_terminal.csv)"),
                ("terminal_faults", "its terminal-class failures (column `terminal` of by_terminal.csv)"),
                ("terminal_fault_rate", "terminal_faults / transactions"),
                ("baseline_rate", "the fleet's terminal-class rate the terminal was tested against"),
                ("p_value", "one-sided exact binomial test of terminal_faults against baseline_rate (Benjamini-Hochberg across terminals decides the flag)"),
                ("first_bad_period", "start of the first day the terminal looked bad (change point), RFC 3339"),
                ("top_codes", "its terminal-class codes with counts, most frequent first: `9997:40;30:8`"),
                ("reason", "the evidence in one sentence"),
                ("cohort", "the cohort it was judged in: its model, `model / firmware`, or `fleet` when nothing says what it is"),
                ("entry_mode", "the card reader at fault (`contactless`, `chip`, `swipe`, `keyed`) when the fault sits in one reader; empty otherwise"),
                ("recovered_period", "start of the first day it was healthy again, RFC 3339; empty when it did not recover"),
            ],
        },
        FileDoc {
            file: "cohorts.csv",
            rows: "one row per terminal model (`cohort_field` = `model`) and per model and firmware (`firmware`), sorted by field and name; empty when neither the logs nor `--inventory` name a model",
            columns: vec![
                ("cohort_field", "`model` or `firmware`"),
                ("cohort", "the model, or `model / firmware`"),
                ("terminals", "terminals of the cohort"),
                ("transactions", "their transactions"),
                ("terminal_faults", "their terminal-class failures"),
                ("terminal_fault_rate", "terminal_faults / transactions"),
                ("ratio_to_fleet", "terminal_fault_rate / the whole fleet's terminal-class rate (a ratio, not a rate in [0, 1])"),
                ("p_value", "two-sided test of the cohort's rate against the rest of the fleet's, with the variance widened by the fleet's spread between terminals (beta-binomial ρ)"),
            ],
        },
        FileDoc {
            file: "silent_terminals.csv",
            rows: "one row per terminal that went silent or whose volume fell, silent first, then by `since`",
            columns: vec![
                ("terminal_id", "terminal id"),
                ("merchant_id", "its main merchant"),
                ("status", "`silent`: no transaction on 3 or more of its usual trading days in a row up to the end of the data; `volume_drop`: at most 35% of its usual daily volume on its last 3 or more trading days"),
                ("last_seen", "start of its last day with a transaction, RFC 3339"),
                ("since", "start of its first quiet (or low) trading day, RFC 3339"),
                ("expected_per_day", "its usual transactions per trading day before (a count, not a rate)"),
                ("seen_per_day", "its transactions per trading day since (a count)"),
            ],
        },
        FileDoc {
            file: "incidents.csv",
            rows: "one row per incident, by start: hours in which many terminals (scope `fleet`) or one issuer's cards (scope `issuer`) failed at once; their hours count against no terminal",
            columns: vec![
                ("start", "first hour, RFC 3339"),
                ("end", "end (exclusive), RFC 3339"),
                ("scope", "`fleet` (most terminals at once: acquirer side or upstream) or `issuer` (cards of one BIN, across terminals)"),
                ("issuer_bin", "first six digits of the cards, scope `issuer`; empty otherwise"),
                ("class", "the failure class that spiked"),
                ("top_codes", "its codes with counts in the incident, most frequent first"),
                ("terminals_hit", "distinct terminals with a failure of the class in the incident's scope and hours"),
                ("transactions", "transactions in the incident's scope and hours"),
                ("failures", "failures of the class in it"),
            ],
        },
        FileDoc {
            file: "evidence.csv",
            rows: "one row per terminal-class row of each flagged terminal (outside fleet incidents), by terminal, file and line; empty when the report was made from saved cubes (a cube keeps counts, not rows)",
            columns: vec![
                ("terminal_id", "the flagged terminal"),
                ("file", "the input file, as listed in manifest.json"),
                ("line", "the row's line in that file (its record or event number for JSON lines, jPOS, Parquet and Excel)"),
                ("timestamp", "the row's time, RFC 3339 in the report's zone"),
                ("response_code", "its terminal-class code; no card data is written"),
            ],
        },
    ]
}

fn counts(c: &crate::analyze::ClassCounts) -> [u64; 7] {
    [
        c.transactions,
        c.get(Class::Approved),
        c.get(Class::Declined),
        c.get(Class::Fraud),
        c.get(Class::Network),
        c.get(Class::Terminal),
        c.get(Class::Unknown),
    ]
}

pub fn by_terminal(r: &Report) -> Vec<ByTerminal> {
    r.terminals
        .iter()
        .map(|t| {
            let [transactions, approved, declined, fraud, network, terminal, unknown] =
                counts(&t.counts);
            let none = Default::default();
            let x = r.beyond.by_terminal.get(&t.terminal_id).unwrap_or(&none);
            ByTerminal {
                terminal_id: safe(&t.terminal_id),
                merchant_id: safe(&t.merchant_id),
                transactions,
                approved,
                declined,
                fraud,
                network,
                terminal,
                unknown,
                failure_rate: Rate(t.failure_rate),
                terminal_fault_rate: Rate(t.terminal_fault_rate),
                fault_ci_low: Rate(t.fault_ci_low),
                fault_ci_high: Rate(t.fault_ci_high),
                status: t.status,
                purchases: x.purchases,
                lost_purchases: x.lost_purchases,
                lost_amount_minor: x.lost_amount_minor,
                purchase_failure_rate: Rate(ratio(x.lost_purchases, x.purchases)),
                chip_reads: x.chip_reads,
                fallbacks: x.fallbacks,
                fallback_rate: x.fallback_rate().map(Rate),
                latency_p50_ms: x.latency_p50_ms,
                latency_p95_ms: x.latency_p95_ms,
            }
        })
        .collect()
}

pub fn by_period(r: &Report) -> Vec<ByPeriod> {
    r.periods
        .iter()
        .enumerate()
        .map(|(i, p)| {
            let none = Default::default();
            let x = r.beyond.by_period.get(i).unwrap_or(&none);
            let [transactions, approved, declined, fraud, network, terminal, unknown] =
                counts(&p.counts);
            ByPeriod {
                period_start: p.period_start.clone(),
                transactions,
                approved,
                declined,
                fraud,
                network,
                terminal,
                unknown,
                failure_rate: Rate(p.failure_rate),
                purchases: x.purchases,
                lost_purchases: x.lost_purchases,
                lost_amount_minor: x.lost_amount_minor,
                purchase_failure_rate: Rate(ratio(x.lost_purchases, x.purchases)),
                latency_p50_ms: x.latency_p50_ms,
                latency_p95_ms: x.latency_p95_ms,
            }
        })
        .collect()
}

pub fn by_code(r: &Report) -> Vec<ByCode> {
    r.codes
        .iter()
        .map(|c| ByCode {
            response_code: safe(&c.response_code),
            class: c.class,
            meaning: safe(&c.meaning),
            transactions: c.transactions,
            share: Rate(c.share),
        })
        .collect()
}

pub fn by_merchant(r: &Report) -> Vec<ByMerchant> {
    r.merchants
        .iter()
        .map(|m| {
            let [transactions, approved, declined, fraud, network, terminal, unknown] =
                counts(&m.counts);
            let none = Default::default();
            let x = r.beyond.by_merchant.get(&m.merchant_id).unwrap_or(&none);
            ByMerchant {
                merchant_id: safe(&m.merchant_id),
                merchant_name: safe(&m.merchant_name),
                terminals: m.terminals,
                transactions,
                approved,
                declined,
                fraud,
                network,
                terminal,
                unknown,
                failure_rate: Rate(m.failure_rate),
                purchases: x.purchases,
                lost_purchases: x.lost_purchases,
                lost_amount_minor: x.lost_amount_minor,
                purchase_failure_rate: Rate(ratio(x.lost_purchases, x.purchases)),
            }
        })
        .collect()
}

pub fn flagged_terminal(f: &super::FlagLine) -> FlaggedTerminal {
    FlaggedTerminal {
        terminal_id: safe(&f.terminal_id),
        merchant_id: safe(&f.merchant_id),
        transactions: f.transactions,
        terminal_faults: f.terminal_faults,
        terminal_fault_rate: Rate(f.terminal_fault_rate),
        baseline_rate: Rate(f.baseline_rate),
        p_value: Sci(f.p_value),
        first_bad_period: f.first_bad_period.clone(),
        top_codes: safe(&f.top_codes),
        reason: safe(&f.reason),
        cohort: safe(&f.cohort),
        entry_mode: f.entry_mode.clone(),
        recovered_period: f.recovered_period.clone(),
    }
}

pub fn cohorts(r: &Report) -> Vec<Cohort> {
    r.cohorts
        .iter()
        .map(|c| Cohort {
            cohort_field: c.cohort_field.clone(),
            cohort: safe(&c.cohort),
            terminals: c.terminals,
            transactions: c.transactions,
            terminal_faults: c.terminal_faults,
            terminal_fault_rate: Rate(c.terminal_fault_rate),
            ratio_to_fleet: Rate(c.ratio_to_fleet),
            p_value: Sci(c.p_value),
        })
        .collect()
}

pub fn silent_terminals(r: &Report) -> Vec<SilentTerminal> {
    r.silent
        .iter()
        .map(|x| SilentTerminal {
            terminal_id: safe(&x.terminal_id),
            merchant_id: safe(&x.merchant_id),
            status: x.status.clone(),
            last_seen: x.last_seen.clone(),
            since: x.since.clone(),
            expected_per_day: PerDay(x.expected_per_day),
            seen_per_day: PerDay(x.seen_per_day),
        })
        .collect()
}

pub fn evidence(r: &Report) -> Vec<Evidence> {
    r.evidence
        .iter()
        .map(|e| Evidence {
            terminal_id: safe(&e.terminal_id),
            file: safe(&e.file),
            line: e.line,
            timestamp: e.timestamp.clone(),
            response_code: safe(&e.response_code),
        })
        .collect()
}

pub fn incidents(r: &Report) -> Vec<IncidentRow> {
    r.incidents
        .iter()
        .map(|i| IncidentRow {
            start: i.start.clone(),
            end: i.end.clone(),
            scope: i.scope.clone(),
            issuer_bin: safe(&i.issuer_bin),
            class: i.class.clone(),
            top_codes: safe(&i.top_codes),
            terminals_hit: i.terminals_hit,
            transactions: i.transactions,
            failures: i.failures,
        })
        .collect()
}

pub fn flagged_terminals(r: &Report) -> Vec<FlaggedTerminal> {
    r.flagged.iter().map(flagged_terminal).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The header a row struct writes (from a default row).
    fn header<T: Serialize + Default>() -> Vec<String> {
        let bytes = crate::render::csv::write_rows::<T>(&[]).unwrap();
        String::from_utf8(bytes)
            .unwrap()
            .trim_end()
            .split(',')
            .map(String::from)
            .collect()
    }

    #[test]
    fn every_column_is_described_once_in_export_md() {
        let headers = [
            ("by_terminal.csv", header::<ByTerminal>()),
            ("by_period.csv", header::<ByPeriod>()),
            ("by_code.csv", header::<ByCode>()),
            ("by_merchant.csv", header::<ByMerchant>()),
            ("flagged_terminals.csv", header::<FlaggedTerminal>()),
            ("cohorts.csv", header::<Cohort>()),
            ("silent_terminals.csv", header::<SilentTerminal>()),
            ("incidents.csv", header::<IncidentRow>()),
            ("evidence.csv", header::<Evidence>()),
        ];
        let docs = docs();
        assert_eq!(docs.len(), headers.len());
        for (file, cols) in headers {
            let d = docs.iter().find(|d| d.file == file).expect(file);
            let described: Vec<String> = d.columns.iter().map(|c| c.0.to_string()).collect();
            assert_eq!(described, cols, "{file}");
        }
    }

    #[test]
    fn formula_cells_are_neutralised() {
        assert_eq!(safe_text("=HYPERLINK(\"x\")"), "'=HYPERLINK(\"x\")");
        assert_eq!(safe_text("+1"), "'+1");
        assert_eq!(safe_text("@SUM"), "'@SUM");
        assert_eq!(safe_text("\tx"), "'\tx");
        assert_eq!(safe_text("Shop"), "Shop");
    }
}
