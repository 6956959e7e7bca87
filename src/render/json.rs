//! `summary.json` (headline figures, flagged terminals, outages, for machines) and
//! `manifest.json` (what was read and written, with hashes, for auditors).

use std::collections::BTreeMap;

use serde::Serialize;

use crate::classify::TableUsage;
use crate::error::{Error, Result};
use crate::ingest::InputSummary;
use crate::report::{BurstLine, ClassLine, FlagLine, Headline, OutageLine, RegressionLine, Report};

#[derive(Serialize)]
struct Summary<'a> {
    tool: &'a str,
    version: &'a str,
    generated_at: &'a str,
    time_zone: &'a str,
    profile: &'a str,
    data_from: &'a str,
    data_to: &'a str,
    headline: &'a Headline,
    classes: &'a [ClassLine],
    baseline_rate: f64,
    baseline_dispersion: Option<f64>,
    flagged_terminals: &'a [FlagLine],
    /// The null each cohort's terminals were judged against (beta-binomial fits).
    terminal_models: &'a [crate::analyze::CohortModel],
    cohorts: &'a [crate::analyze::CohortRow],
    silent_terminals: &'a [crate::report::SilentLine],
    /// Every incident; `outages` below are its network-class fleet ones, kept as they were.
    incidents: &'a [crate::report::IncidentLine],
    outages: &'a [OutageLine],
    fraud_bursts: &'a [BurstLine],
    regressions: &'a [RegressionLine],
    unknown_codes: &'a [(String, u64)],
    reject_reasons: &'a [(String, u64)],
    beyond: BeyondSummary<'a>,
}

/// Beyond field 39, for machines: purchases and lost sales, fallback warnings, slow terminals.
#[derive(Serialize)]
struct BeyondSummary<'a> {
    purchases: u64,
    recovered_purchases: u64,
    lost_purchases: u64,
    lost_amount_minor: i64,
    attempt_failure_rate: f64,
    purchase_failure_rate: f64,
    chip_reads: u64,
    fallbacks: u64,
    fallback_baseline_rate: f64,
    fallback_warnings: &'a [crate::analyze::beyond::FallbackWarning],
    timed_transactions: u64,
    latency_p50_ms: Option<f64>,
    latency_p95_ms: Option<f64>,
    slow_terminals: &'a [crate::analyze::beyond::SlowTerminal],
}

pub fn to_bytes(v: &impl Serialize) -> Result<Vec<u8>> {
    let mut b = serde_json::to_vec_pretty(v).map_err(|e| Error::internal("json", e))?;
    b.push(b'\n');
    Ok(b)
}

pub fn summary(r: &Report) -> Result<Vec<u8>> {
    to_bytes(&Summary {
        tool: r.tool,
        version: r.version,
        generated_at: &r.generated_at,
        time_zone: &r.time_zone,
        profile: &r.profile,
        data_from: &r.data_from,
        data_to: &r.data_to,
        headline: &r.headline,
        classes: &r.classes,
        baseline_rate: r.baseline_rate,
        baseline_dispersion: r.baseline_dispersion,
        flagged_terminals: &r.flagged,
        terminal_models: &r.cohort_models,
        cohorts: &r.cohorts,
        silent_terminals: &r.silent,
        incidents: &r.incidents,
        outages: &r.outages,
        fraud_bursts: &r.fraud_bursts,
        regressions: &r.regressions,
        unknown_codes: &r.unknown_codes,
        reject_reasons: &r.reject_reasons,
        beyond: BeyondSummary {
            purchases: r.beyond.purchases,
            recovered_purchases: r.beyond.purchases - r.beyond.lost_purchases,
            lost_purchases: r.beyond.lost_purchases,
            lost_amount_minor: r.beyond.lost_amount_minor,
            attempt_failure_rate: r.headline.failure_rate,
            purchase_failure_rate: r.beyond.purchase_failure_rate(),
            chip_reads: r.beyond.chip_reads,
            fallbacks: r.beyond.fallbacks,
            fallback_baseline_rate: r.beyond.fallback_baseline,
            fallback_warnings: &r.beyond.fallback_warnings,
            timed_transactions: r.beyond.timed,
            latency_p50_ms: r.beyond.latency_p50_ms,
            latency_p95_ms: r.beyond.latency_p95_ms,
            slow_terminals: &r.beyond.slow_terminals,
        },
    })
}

/// One written file, relative to the output directory.
#[derive(Debug, Clone, Serialize)]
pub struct OutputFile {
    pub path: String,
    pub sha256: String,
    pub bytes: u64,
}

#[derive(Serialize)]
struct Catalog<'a> {
    profile: &'a str,
    sha256: &'a str,
}

#[derive(Serialize)]
struct Totals {
    rows_read: u64,
    rows_accepted: u64,
    rows_rejected: u64,
    rows_duplicate: u64,
    rows_outside_window: u64,
    events_skipped: u64,
    codes_padded: u64,
    amounts_invalid: u64,
    codes_with_text: u64,
    amounts_negative: u64,
    requests_unanswered: u64,
    requests_pending_at_end: u64,
    reversals: u64,
    reversals_linked: u64,
    bytes: u64,
}

#[derive(Serialize)]
struct Manifest<'a> {
    tool: &'a str,
    version: &'a str,
    generated_at: &'a str,
    options: &'a BTreeMap<String, String>,
    catalog: Catalog<'a>,
    /// Which code tables explained the data, and how much of it.
    catalog_tables: &'a [TableUsage],
    inputs: &'a [InputSummary],
    totals: Totals,
    outputs: &'a [OutputFile],
}

pub fn manifest(
    r: &Report,
    options: &BTreeMap<String, String>,
    catalog_sha256: &str,
    outputs: &[OutputFile],
) -> Result<Vec<u8>> {
    let t = &r.totals;
    to_bytes(&Manifest {
        tool: r.tool,
        version: r.version,
        generated_at: &r.generated_at,
        options,
        catalog: Catalog {
            profile: &r.profile,
            sha256: catalog_sha256,
        },
        catalog_tables: &r.catalog_tables,
        inputs: &r.inputs,
        totals: Totals {
            rows_read: t.rows_read,
            rows_accepted: t.rows_accepted,
            rows_rejected: t.rows_rejected,
            rows_duplicate: t.rows_duplicate,
            rows_outside_window: t.rows_outside_window,
            events_skipped: t.events_skipped,
            codes_padded: t.codes_padded,
            amounts_invalid: t.amounts_invalid,
            codes_with_text: t.codes_with_text,
            amounts_negative: t.amounts_negative,
            requests_unanswered: t.requests_unanswered,
            requests_pending_at_end: t.requests_pending_at_end,
            reversals: t.reversals,
            reversals_linked: t.reversals_linked,
            bytes: t.bytes,
        },
        outputs,
    })
}
