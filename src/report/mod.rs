//! The report model: the one serialisable structure every renderer reads (HTML, Markdown,
//! CSV, JSON, charts). Numbers are computed once in `analyze`; here they get their labels,
//! their local-time formatting and their plain-language sentences, so no two formats can
//! tell a different story.

pub mod analyze_doc;
pub mod beyond_doc;
pub mod doc;
pub mod rows;
pub mod terminals;
pub mod weekly;

use chrono_tz::Tz;
use serde::Serialize;

use crate::analyze::periods::{label, rfc3339};
use crate::analyze::{
    Analysis, ClassCounts, CodeRow, Flag, FraudBurst, MerchantRow, Outage, Period, Regression,
    Status, TerminalRow,
};
use crate::classify::{Catalog, Class, TableUsage};
use crate::config::{Bucket, Lang};
use crate::ingest::{IngestOutcome, InputSummary};

/// Everything a reader of the report sees.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub tool: &'static str,
    pub version: &'static str,
    pub generated_at: String,
    pub time_zone: String,
    pub bucket: Bucket,
    pub lang: Lang,
    pub profile: String,
    /// Which code tables explained the data (under `auto`: ISO 8583:1987 and, for 3-digit
    /// codes, ISO 8583:1993), with the codes and transactions each one read.
    pub catalog_tables: Vec<TableUsage>,
    /// Intermediate messages (e.g. `09` request in progress) left out of every count.
    pub non_transactions: u64,
    /// Transactions without a terminal id, kept under `(none)` and never judged.
    pub unattributed: u64,
    /// First and last hour with data, local time.
    pub data_from: String,
    pub data_to: String,
    pub headline: Headline,
    pub classes: Vec<ClassLine>,
    pub periods: Vec<PeriodLine>,
    pub terminals: Vec<TerminalLine>,
    pub codes: Vec<CodeLine>,
    pub merchants: Vec<MerchantLine>,
    pub baseline_rate: f64,
    /// Pearson chi-square / df of healthy terminals around the baseline (about 1: binomial fits).
    pub baseline_dispersion: Option<f64>,
    pub flagged: Vec<FlagLine>,
    /// The fitted null of each cohort the terminals were judged in.
    pub cohort_models: Vec<crate::analyze::CohortModel>,
    pub cohorts: Vec<crate::analyze::CohortRow>,
    pub silent: Vec<SilentLine>,
    pub incidents: Vec<IncidentLine>,
    /// The terminal-class rows behind each flag (from logs; none from saved cubes).
    pub evidence: Vec<EvidenceLine>,
    pub outages: Vec<OutageLine>,
    pub fraud_bursts: Vec<BurstLine>,
    pub regressions: Vec<RegressionLine>,
    /// Codes the catalog does not know, with counts, so users can add them.
    pub unknown_codes: Vec<(String, u64)>,
    pub reject_reasons: Vec<(String, u64)>,
    pub inputs: Vec<InputSummary>,
    pub totals: InputSummary,
    /// Terminal × day cells for the heatmap (worst terminals first).
    pub heatmap: Heatmap,
    /// The judged terminals with the highest terminal-error rate, worst first, for the
    /// worst-terminals chart: `insufficient_data` terminals are left out (a 4-transaction
    /// terminal with a 0–85% interval says nothing).
    pub worst_terminals: Vec<TerminalLine>,
    /// The most frequent failure codes, for the top-codes chart.
    pub chart_codes: Vec<CodeLine>,
    /// Chart titles and labels in the report language.
    pub chart_words: crate::words::ChartWords,
    /// Purchases and lost sales, chip fallback, response times.
    #[serde(skip)]
    pub beyond: crate::analyze::beyond::Beyond,
    /// What report.html and report.md show.
    #[serde(skip)]
    pub document: doc::Document,
}

/// Bars in the worst-terminals chart.
pub const WORST_TERMINALS_CHARTED: usize = 15;
/// Bars in the top-codes chart.
pub const CODES_CHARTED: usize = 12;

#[derive(Debug, Clone, Serialize)]
pub struct Headline {
    pub rows_read: u64,
    pub rows_accepted: u64,
    pub rows_rejected: u64,
    pub rows_duplicate: u64,
    pub transactions: u64,
    pub failures: u64,
    pub failure_rate: f64,
    pub terminal_faults: u64,
    pub terminal_fault_rate: f64,
    pub terminals: u64,
    pub merchants: u64,
    pub flagged_terminals: u64,
    pub amount_minor: i64,
}

#[derive(Debug, Clone, Serialize)]
pub struct ClassLine {
    pub class: Class,
    pub label: String,
    pub transactions: u64,
    pub share: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct PeriodLine {
    pub period_start: String,
    pub label: String,
    pub counts: ClassCounts,
    pub failure_rate: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct TerminalLine {
    pub terminal_id: String,
    pub merchant_id: String,
    pub counts: ClassCounts,
    pub failure_rate: f64,
    pub terminal_fault_rate: f64,
    pub fault_ci_low: f64,
    pub fault_ci_high: f64,
    pub p_value: Option<f64>,
    pub status: Status,
}

#[derive(Debug, Clone, Serialize)]
pub struct CodeLine {
    pub response_code: String,
    pub class: Class,
    pub meaning: String,
    pub action: String,
    pub transactions: u64,
    pub share: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct MerchantLine {
    pub merchant_id: String,
    pub merchant_name: String,
    pub terminals: u64,
    pub counts: ClassCounts,
    pub failure_rate: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct FlagLine {
    pub terminal_id: String,
    pub merchant_id: String,
    pub transactions: u64,
    pub terminal_faults: u64,
    pub terminal_fault_rate: f64,
    pub baseline_rate: f64,
    pub p_value: f64,
    pub first_bad_period: String,
    pub first_bad_label: String,
    /// `9997:40;30:8`
    pub top_codes: String,
    pub reason: String,
    /// The cohort it was judged in.
    pub cohort: String,
    /// The reader at fault (`contactless`, `chip`, `swipe`, `keyed`), when the fault sits in one.
    pub entry_mode: String,
    /// Start of the first day it was healthy again, RFC 3339; empty when it did not recover.
    pub recovered_period: String,
}

/// One failing row behind a flag.
#[derive(Debug, Clone, Serialize)]
pub struct EvidenceLine {
    pub terminal_id: String,
    pub file: String,
    pub line: u64,
    pub timestamp: String,
    pub response_code: String,
}

/// A silent terminal or a volume drop.
#[derive(Debug, Clone, Serialize)]
pub struct SilentLine {
    pub terminal_id: String,
    pub merchant_id: String,
    /// `silent` or `volume_drop`.
    pub status: String,
    /// Start of its last day with a transaction, RFC 3339.
    pub last_seen: String,
    /// Start of its first quiet (or low) trading day, RFC 3339.
    pub since: String,
    pub since_label: String,
    pub expected_per_day: f64,
    pub seen_per_day: f64,
}

/// An incident: many terminals, or one issuer's cards, failing at once.
#[derive(Debug, Clone, Serialize)]
pub struct IncidentLine {
    pub start: String,
    pub end: String,
    pub label: String,
    /// `fleet` or `issuer`.
    pub scope: String,
    pub issuer_bin: String,
    pub class: String,
    /// `A0:812;96:3`
    pub top_codes: String,
    pub terminals_hit: u64,
    pub transactions: u64,
    pub failures: u64,
}

#[derive(Debug, Clone, Serialize)]
pub struct OutageLine {
    pub start: String,
    pub end: String,
    pub label: String,
    pub hours: u64,
    pub transactions: u64,
    pub network_failures: u64,
    pub network_failure_rate: f64,
    pub terminals_hit: u64,
}

#[derive(Debug, Clone, Serialize)]
pub struct BurstLine {
    pub terminal_id: String,
    /// `2026-11-08 03:00 – 2026-11-08 04:00`, local time.
    pub label: String,
    pub start: String,
    pub end: String,
    pub fraud: u64,
    pub transactions: u64,
    pub p_value: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct RegressionLine {
    /// `terminal` or `merchant`.
    pub kind: &'static str,
    pub id: String,
    pub week: String,
    pub previous_week: String,
    pub transactions_before: u64,
    pub failures_before: u64,
    pub failure_rate_before: f64,
    pub transactions: u64,
    pub failures: u64,
    pub failure_rate: f64,
    pub p_value: f64,
    pub main_class: Class,
}

#[derive(Debug, Clone, Serialize)]
pub struct Heatmap {
    pub days: Vec<String>,
    pub terminals: Vec<String>,
    /// `rates[t][d]`: terminal-fault rate, None where the terminal had no transactions.
    pub rates: Vec<Vec<Option<f64>>>,
}

/// The report of one `analyze` run: each analysis result gets its labels (local time), its
/// catalog words and its sentences here, once, for every renderer.
pub fn build(
    ingest: &IngestOutcome,
    analysis: &Analysis,
    catalog: &Catalog,
    tz: Tz,
    lang: Lang,
    generated_at: String,
) -> Report {
    let zh = lang == Lang::Zh;
    let totals = ingest.totals();
    let a = analysis;
    let words = CodeWords { catalog, zh };
    let codes: Vec<CodeLine> = a.by_code.iter().map(|c| words.line(c)).collect();
    let terminals: Vec<TerminalLine> = a.by_terminal.iter().map(TerminalLine::new).collect();
    let mut report = Report {
        tool: "poslens",
        version: env!("CARGO_PKG_VERSION"),
        generated_at,
        time_zone: tz.name().to_string(),
        bucket: a.bucket,
        lang,
        profile: catalog.profile.clone(),
        catalog_tables: catalog
            .table_usage(a.by_code.iter().map(|c| (c.code.as_str(), c.transactions))),
        non_transactions: a.non_transactions,
        unattributed: a.unattributed,
        data_from: a
            .first_hour
            .map(|h| label(h, Bucket::Hour, tz))
            .unwrap_or_default(),
        data_to: a
            .last_hour
            .map(|h| label(h + 3600, Bucket::Hour, tz))
            .unwrap_or_default(),
        headline: Headline::new(&totals, a),
        classes: Class::ALL
            .iter()
            .map(|&c| ClassLine::new(c, &a.totals, zh))
            .collect(),
        periods: a
            .by_period
            .iter()
            .map(|p| PeriodLine::new(p, a.bucket, tz))
            .collect(),
        worst_terminals: worst_terminals(&terminals),
        terminals,
        chart_codes: codes
            .iter()
            .filter(|c| c.class != Class::Approved)
            .take(CODES_CHARTED)
            .cloned()
            .collect(),
        codes,
        merchants: a.by_merchant.iter().map(MerchantLine::new).collect(),
        baseline_rate: a.baseline_rate,
        baseline_dispersion: a.baseline_dispersion,
        flagged: a.flagged.iter().map(|f| words.flag(f, tz)).collect(),
        cohort_models: a.cohort_models.clone(),
        cohorts: a.cohorts.clone(),
        silent: a
            .silent
            .iter()
            .map(|x| SilentLine {
                terminal_id: x.terminal_id.clone(),
                merchant_id: x.merchant_id.clone(),
                status: x.status.name().to_string(),
                last_seen: rfc3339(x.last_seen, tz),
                since: rfc3339(x.since, tz),
                since_label: label(x.since, Bucket::Day, tz),
                expected_per_day: x.expected_per_day,
                seen_per_day: x.seen_per_day,
            })
            .collect(),
        evidence: evidence(ingest, a, tz),
        incidents: a
            .incidents
            .iter()
            .map(|i| IncidentLine {
                start: rfc3339(i.start, tz),
                end: rfc3339(i.end, tz),
                label: hour_span(i.start, i.end, tz),
                scope: i.scope.name().to_string(),
                issuer_bin: i.issuer_bin.clone(),
                class: i.class.name().to_string(),
                top_codes: i
                    .top_codes
                    .iter()
                    .map(|(c, n)| format!("{c}:{n}"))
                    .collect::<Vec<_>>()
                    .join(";"),
                terminals_hit: i.terminals_hit,
                transactions: i.transactions,
                failures: i.failures,
            })
            .collect(),
        outages: a.outages.iter().map(|o| OutageLine::new(o, tz)).collect(),
        fraud_bursts: a
            .fraud_bursts
            .iter()
            .map(|b| BurstLine::new(b, tz))
            .collect(),
        regressions: a
            .regressions
            .iter()
            .map(|g| RegressionLine::new(g, tz))
            .collect(),
        unknown_codes: a
            .by_code
            .iter()
            .filter(|c| c.class == Class::Unknown)
            .map(|c| (c.code.clone(), c.transactions))
            .collect(),
        reject_reasons: ingest.reasons(),
        inputs: ingest.inputs.clone(),
        totals,
        heatmap: heatmap(a, tz),
        chart_words: crate::words::ChartWords::new(lang),
        beyond: a.beyond.clone(),
        document: doc::Document {
            lang,
            title: String::new(),
            subtitle: String::new(),
            cards: Vec::new(),
            sections: Vec::new(),
        },
    };
    report.document = analyze_doc::document(&report);
    report
}

/// A range of hours as the report shows it: `2026-11-03 18:00 – 2026-11-03 20:00`.
fn hour_span(start: i64, end: i64, tz: Tz) -> String {
    format!(
        "{} – {}",
        label(start, Bucket::Hour, tz),
        label(end, Bucket::Hour, tz)
    )
}

impl Headline {
    fn new(totals: &InputSummary, a: &Analysis) -> Headline {
        Headline {
            rows_read: totals.rows_read,
            rows_accepted: totals.rows_accepted,
            rows_rejected: totals.rows_rejected,
            rows_duplicate: totals.rows_duplicate,
            transactions: a.totals.transactions,
            failures: a.totals.failures(),
            failure_rate: a.totals.failure_rate(),
            terminal_faults: a.totals.get(Class::Terminal),
            terminal_fault_rate: a.totals.terminal_fault_rate(),
            terminals: a.by_terminal.len() as u64,
            merchants: a.by_merchant.len() as u64,
            flagged_terminals: a.flagged.len() as u64,
            amount_minor: a.amount_minor,
        }
    }
}

impl ClassLine {
    fn new(class: Class, totals: &ClassCounts, zh: bool) -> ClassLine {
        ClassLine {
            class,
            label: class.label(zh).to_string(),
            transactions: totals.get(class),
            share: crate::analyze::ratio(totals.get(class), totals.transactions),
        }
    }
}

impl PeriodLine {
    fn new(p: &Period, bucket: Bucket, tz: Tz) -> PeriodLine {
        PeriodLine {
            period_start: rfc3339(p.start, tz),
            label: label(p.start, bucket, tz),
            counts: p.counts,
            failure_rate: p.counts.failure_rate(),
        }
    }
}

impl TerminalLine {
    fn new(t: &TerminalRow) -> TerminalLine {
        TerminalLine {
            terminal_id: t.terminal_id.clone(),
            merchant_id: t.merchant_id.clone(),
            counts: t.counts,
            failure_rate: t.counts.failure_rate(),
            terminal_fault_rate: t.counts.terminal_fault_rate(),
            fault_ci_low: t.fault_ci_low,
            fault_ci_high: t.fault_ci_high,
            p_value: t.p_value,
            status: t.status,
        }
    }
}

impl MerchantLine {
    fn new(m: &MerchantRow) -> MerchantLine {
        MerchantLine {
            merchant_id: m.merchant_id.clone(),
            merchant_name: m.merchant_name.clone(),
            terminals: m.terminals,
            counts: m.counts,
            failure_rate: m.counts.failure_rate(),
        }
    }
}

impl OutageLine {
    fn new(o: &Outage, tz: Tz) -> OutageLine {
        OutageLine {
            start: rfc3339(o.start, tz),
            end: rfc3339(o.end, tz),
            label: hour_span(o.start, o.end, tz),
            hours: ((o.end - o.start) / 3600) as u64,
            transactions: o.transactions,
            network_failures: o.network_failures,
            network_failure_rate: crate::analyze::ratio(o.network_failures, o.transactions),
            terminals_hit: o.terminals_hit,
        }
    }
}

impl BurstLine {
    fn new(b: &FraudBurst, tz: Tz) -> BurstLine {
        BurstLine {
            terminal_id: b.terminal_id.clone(),
            label: hour_span(b.start, b.end, tz),
            start: rfc3339(b.start, tz),
            end: rfc3339(b.end, tz),
            fraud: b.fraud,
            transactions: b.transactions,
            p_value: b.p_value,
        }
    }
}

impl RegressionLine {
    fn new(g: &Regression, tz: Tz) -> RegressionLine {
        RegressionLine {
            kind: g.kind,
            id: g.id.clone(),
            week: label(g.week, Bucket::Week, tz),
            previous_week: label(g.previous_week, Bucket::Week, tz),
            transactions_before: g.previous.transactions,
            failures_before: g.previous.failures(),
            failure_rate_before: g.previous.failure_rate(),
            transactions: g.current.transactions,
            failures: g.current.failures(),
            failure_rate: g.current.failure_rate(),
            p_value: g.p_value,
            main_class: g.main_class,
        }
    }
}

/// What the catalog says of codes, in the report's language: a code's meaning and action,
/// and a flagged terminal's reason, which names its top codes.
struct CodeWords<'a> {
    catalog: &'a Catalog,
    zh: bool,
}

impl CodeWords<'_> {
    fn meaning(&self, code: &str) -> String {
        self.catalog
            .lookup(code)
            .map(|e| e.text(self.zh).meaning.clone())
            .unwrap_or_else(|| crate::words::not_in_catalog(self.zh).to_string())
    }

    fn line(&self, c: &CodeRow) -> CodeLine {
        CodeLine {
            response_code: c.code.clone(),
            class: c.class,
            meaning: self.meaning(&c.code),
            action: self
                .catalog
                .lookup(&c.code)
                .map(|e| e.text(self.zh).action.clone())
                .unwrap_or_default(),
            transactions: c.transactions,
            share: c.share,
        }
    }

    fn flag(&self, f: &Flag, tz: Tz) -> FlagLine {
        let top: Vec<String> = f
            .top_codes
            .iter()
            .map(|(c, n)| format!("{c}:{n}"))
            .collect();
        let named: Vec<(String, String)> = f
            .top_codes
            .iter()
            .take(2)
            .map(|(c, _)| (c.clone(), self.meaning(c)))
            .collect();
        let since = label(f.first_bad_period, Bucket::Day, tz);
        let recovered = f.recovered_period.map(|d| label(d, Bucket::Day, tz));
        let reason = crate::words::flag_reason(f, &named, &since, recovered.as_deref(), self.zh);
        FlagLine {
            terminal_id: f.terminal_id.clone(),
            merchant_id: f.merchant_id.clone(),
            transactions: f.transactions,
            terminal_faults: f.terminal_faults,
            terminal_fault_rate: f.terminal_fault_rate,
            baseline_rate: f.baseline_rate,
            p_value: f.p_value,
            first_bad_period: rfc3339(f.first_bad_period, tz),
            first_bad_label: since,
            top_codes: top.join(";"),
            reason,
            cohort: f.cohort.clone(),
            entry_mode: f
                .entry_mode
                .map(|r| r.name().to_string())
                .unwrap_or_default(),
            recovered_period: f
                .recovered_period
                .map(|d| rfc3339(d, tz))
                .unwrap_or_default(),
        }
    }
}

/// The terminal-class rows of the flagged terminals, outside the fleet incidents' hours (which
/// count against no terminal), by terminal, file and line.
fn evidence(ingest: &IngestOutcome, a: &Analysis, tz: Tz) -> Vec<EvidenceLine> {
    let flagged: std::collections::BTreeSet<&str> =
        a.flagged.iter().map(|f| f.terminal_id.as_str()).collect();
    let excluded: Vec<(i64, i64)> = a
        .incidents
        .iter()
        .filter(|i| {
            i.class == Class::Terminal && i.scope == crate::analyze::incidents::Scope::Fleet
        })
        .map(|i| (i.start, i.end))
        .collect();
    let mut rows: Vec<&crate::ingest::EvidenceRow> = ingest
        .inputs
        .iter()
        .flat_map(|i| &i.evidence)
        .filter(|e| flagged.contains(e.terminal_id.as_str()))
        .filter(|e| !excluded.iter().any(|w| w.0 <= e.ts && e.ts < w.1))
        .collect();
    rows.sort();
    rows.into_iter()
        .map(|e| EvidenceLine {
            terminal_id: e.terminal_id.clone(),
            file: e.file.clone(),
            line: e.line,
            timestamp: rfc3339(e.ts, tz),
            response_code: e.response_code.clone(),
        })
        .collect()
}

/// Judged terminals, highest terminal-error rate first (ties by id).
fn worst_terminals(terminals: &[TerminalLine]) -> Vec<TerminalLine> {
    let mut v: Vec<&TerminalLine> = terminals
        .iter()
        .filter(|t| t.status != Status::InsufficientData)
        .collect();
    v.sort_by(|a, b| {
        b.terminal_fault_rate
            .total_cmp(&a.terminal_fault_rate)
            .then(a.terminal_id.cmp(&b.terminal_id))
    });
    v.into_iter()
        .take(WORST_TERMINALS_CHARTED)
        .cloned()
        .collect()
}

/// The heatmap shows flagged terminals first, then the worst others, at most 25 rows.
fn heatmap(a: &Analysis, tz: Tz) -> Heatmap {
    let mut order: Vec<(&str, bool, f64)> = a
        .by_terminal
        .iter()
        .map(|t| {
            (
                t.terminal_id.as_str(),
                t.status == Status::Flagged,
                t.counts.terminal_fault_rate(),
            )
        })
        .collect();
    order.sort_by(|x, y| y.1.cmp(&x.1).then(y.2.total_cmp(&x.2)).then(x.0.cmp(y.0)));
    let terminals: Vec<String> = order.iter().take(25).map(|t| t.0.to_string()).collect();
    let mut days: Vec<i64> = a.daily_by_terminal.iter().map(|d| d.1).collect();
    days.sort_unstable();
    days.dedup();
    let cells: std::collections::BTreeMap<(&str, i64), &ClassCounts> = a
        .daily_by_terminal
        .iter()
        .map(|(t, d, c)| ((t.as_str(), *d), c))
        .collect();
    let rates = terminals
        .iter()
        .map(|t| {
            days.iter()
                .map(|d| {
                    cells
                        .get(&(t.as_str(), *d))
                        .filter(|c| c.transactions > 0)
                        .map(|c| c.terminal_fault_rate())
                })
                .collect()
        })
        .collect();
    Heatmap {
        days: days.iter().map(|d| label(*d, Bucket::Day, tz)).collect(),
        terminals,
        rates,
    }
}
