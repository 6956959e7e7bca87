//! Per-terminal figures and the faulty-terminal test.
//!
//! A terminal is `flagged` when its terminal-class failure rate is significantly above the
//! fleet's baseline:
//! - Only terminal-class codes count (card-read, format, MAC/key, set-up errors). Declines and
//!   fraud codes are the cardholder's or issuer's business, and network codes are upstream, so
//!   a shop with many declines or a fleet-wide issuer outage can never flag a terminal.
//! - Baseline: the pooled terminal-class rate of the terminals *not* flagged, found by
//!   iteration (start from the whole fleet, flag, recompute without the flagged, until the set
//!   is stable). Faulty terminals therefore cannot inflate the baseline they are tested
//!   against, and unlike a trimmed mean no healthy terminal is dropped from it.
//! - Test: one-sided exact binomial P[X ≥ k | n, baseline] per terminal, Benjamini–Hochberg
//!   across the judged terminals at q = `--fdr` (default 0.01).
//! - Minimum volume (`--min-volume`, default 200): below it, `insufficient_data`.
//! - Effect-size floor: the rate must be at least twice the baseline and 0.5 percentage points
//!   above it, so a huge terminal is not flagged for a trivial excess.
//! - `first_bad_period`: a single change point (maximum likelihood) on the terminal's daily
//!   series; when the rate before it was already bad, the terminal's first day.

use std::collections::BTreeMap;

use chrono_tz::Tz;
use serde::Serialize;

use super::periods::{day_start, next_period};
use super::CodeClasses as Catalog;
use super::{ratio, stats, ClassCounts};
use crate::classify::Class;
use crate::config::{AnalyzeConfig, Bucket};
use crate::cube::Cell;
use crate::error::Result;

/// The verdict on a terminal.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    #[default]
    Ok,
    Flagged,
    InsufficientData,
}

impl Status {
    pub fn name(self) -> &'static str {
        match self {
            Status::Ok => "ok",
            Status::Flagged => "flagged",
            Status::InsufficientData => "insufficient_data",
        }
    }
}

/// One terminal's figures.
#[derive(Debug, Clone, Serialize)]
pub struct TerminalRow {
    pub terminal_id: String,
    /// The merchant with most of the terminal's transactions.
    pub merchant_id: String,
    pub counts: ClassCounts,
    /// Wilson 95% interval of the terminal-fault rate.
    pub fault_ci_low: f64,
    pub fault_ci_high: f64,
    /// One-sided binomial p-value against the baseline (None when not judged).
    pub p_value: Option<f64>,
    /// Benjamini–Hochberg adjusted p-value.
    pub q_value: Option<f64>,
    pub status: Status,
}

/// Evidence for one flagged terminal.
#[derive(Debug, Clone, Serialize)]
pub struct Flag {
    pub terminal_id: String,
    pub merchant_id: String,
    pub transactions: u64,
    pub terminal_faults: u64,
    pub terminal_fault_rate: f64,
    pub baseline_rate: f64,
    pub p_value: f64,
    pub q_value: f64,
    /// Start of the first local day the terminal looked bad.
    pub first_bad_period: i64,
    /// Terminal-class codes of this terminal, most frequent first.
    pub top_codes: Vec<(String, u64)>,
    /// The rate before and after `first_bad_period` (equal when bad from the start).
    pub rate_before: f64,
    pub rate_after: f64,
}

pub struct TerminalAnalysis {
    /// Transactions under the terminal id `(none)`, left out of the terminal figures.
    pub unattributed: u64,
    pub rows: Vec<TerminalRow>,
    pub flagged: Vec<Flag>,
    pub baseline_rate: f64,
    /// Pearson chi-square / degrees of freedom of the unflagged judged terminals around the
    /// baseline: about 1 when the binomial model fits; well above 1 means the fleet is
    /// overdispersed and p-values are optimistic.
    pub dispersion: Option<f64>,
    pub daily: Vec<(String, i64, ClassCounts)>,
}

/// Effect-size floor: flagged rates must be at least this many times the baseline...
const MIN_RATIO: f64 = 2.0;
/// ...and this far above it in absolute terms.
const MIN_EXCESS: f64 = 0.005;
/// Log-likelihood ratio a change point needs before we believe the terminal turned bad.
const MIN_CHANGE_LLR: f64 = 5.0;

pub fn analyze<'a>(
    term_hour_code: impl Iterator<Item = Cell<'a>>,
    term_merchant: &[Cell<'a>],
    catalog: &Catalog,
    cfg: &AnalyzeConfig,
    tz: Tz,
) -> Result<TerminalAnalysis> {
    let folded = fold(term_hour_code, catalog, tz);
    let counts = &folded.counts;
    let merchant_of = main_merchant(term_merchant);
    let j = judge(counts, cfg);

    let mut rows = Vec::with_capacity(counts.len());
    let mut flagged = Vec::new();
    for (term, c) in counts {
        let (lo, hi) = stats::wilson_interval(c.get(Class::Terminal), c.transactions, stats::Z95);
        // `judged` is in id order, like `counts`: a binary search, not a scan per terminal
        // (a scan made this quadratic: 0.4 s at 19,000 terminals).
        let idx = j.judged.binary_search(term).ok();
        let status = match idx {
            None => Status::InsufficientData,
            Some(i) if j.flagged[i] => Status::Flagged,
            Some(_) => Status::Ok,
        };
        let merchant_id = merchant_of.get(*term).cloned().unwrap_or_default();
        if let (Status::Flagged, Some(i)) = (status, idx) {
            flagged.push(flag(term, &merchant_id, c, &folded, &j, i));
        }
        rows.push(TerminalRow {
            terminal_id: term.to_string(),
            merchant_id,
            counts: *c,
            fault_ci_low: lo,
            fault_ci_high: hi,
            p_value: idx.map(|i| j.p_values[i]),
            q_value: idx.map(|i| j.q_values[i]),
            status,
        });
    }
    // Strongest evidence first; ties by terminal id.
    flagged.sort_by(|a, b| {
        a.p_value
            .total_cmp(&b.p_value)
            .then(b.terminal_fault_rate.total_cmp(&a.terminal_fault_rate))
            .then(a.terminal_id.cmp(&b.terminal_id))
    });
    Ok(TerminalAnalysis {
        unattributed: folded.unattributed,
        rows,
        flagged,
        baseline_rate: j.baseline,
        dispersion: dispersion(counts, &j),
        daily: folded
            .daily
            .into_iter()
            .map(|((t, d), c)| (t.to_string(), d, c))
            .collect(),
    })
}

/// The cells summed per terminal, per terminal × local day, and terminal-class codes per
/// terminal.
struct Folded<'a> {
    counts: BTreeMap<&'a str, ClassCounts>,
    daily: BTreeMap<(&'a str, i64), ClassCounts>,
    fault_codes: BTreeMap<&'a str, BTreeMap<&'a str, u64>>,
    /// Transactions of [`super::NO_TERMINAL`], never judged.
    unattributed: u64,
}

/// Cells come sorted by terminal and hour, so runs of one terminal (and one day) are summed
/// locally and stored once: a map operation per run, not per cell (3M cells in a big fleet).
fn fold<'a>(cells: impl Iterator<Item = Cell<'a>>, catalog: &Catalog, tz: Tz) -> Folded<'a> {
    let mut f = Folded {
        counts: BTreeMap::new(),
        daily: BTreeMap::new(),
        fault_codes: BTreeMap::new(),
        unattributed: 0,
    };
    let mut run_term: Option<&str> = None;
    let mut run_counts = ClassCounts::default();
    let mut run_day: Option<i64> = None;
    let mut day_counts = ClassCounts::default();
    // (hour, day) of the last lookup: a local day spans 24 consecutive hours.
    let mut day_of: (i64, i64, i64) = (i64::MIN, i64::MIN, 0);
    for c in cells {
        let term = c.terminal();
        if term == super::NO_TERMINAL {
            // Responses nobody could tie to a terminal: not a terminal to judge or list.
            f.unattributed += c.transactions;
            continue;
        }
        let hour = c.hour();
        let class = catalog.of(&c);
        if run_term != Some(term) {
            if let Some(t) = run_term {
                f.counts.entry(t).or_default().merge(&run_counts);
                if let Some(d) = run_day {
                    f.daily.entry((t, d)).or_default().merge(&day_counts);
                }
            }
            run_term = Some(term);
            run_counts = ClassCounts::default();
            run_day = None;
        }
        if !(day_of.0..day_of.1).contains(&hour) {
            let d = day_start(hour, tz);
            day_of = (d, next_period(d, Bucket::Day, tz), d);
        }
        let day = day_of.2;
        if run_day != Some(day) {
            if let Some(d) = run_day {
                f.daily.entry((term, d)).or_default().merge(&day_counts);
            }
            run_day = Some(day);
            day_counts = ClassCounts::default();
        }
        run_counts.add(class, c.transactions);
        day_counts.add(class, c.transactions);
        if class == Class::Terminal {
            *f.fault_codes
                .entry(term)
                .or_default()
                .entry(c.code())
                .or_default() += c.transactions;
        }
    }
    if let Some(t) = run_term {
        f.counts.entry(t).or_default().merge(&run_counts);
        if let Some(d) = run_day {
            f.daily.entry((t, d)).or_default().merge(&day_counts);
        }
    }
    f
}

/// The verdict on the terminals with enough volume (`judged`, in id order), index by index.
struct Judgement<'a> {
    judged: Vec<&'a str>,
    flagged: Vec<bool>,
    baseline: f64,
    p_values: Vec<f64>,
    q_values: Vec<f64>,
}

/// Test each terminal with enough volume against the fleet baseline; the baseline is taken
/// from the terminals not flagged, so it is recomputed until the flagged set settles.
fn judge<'a>(counts: &BTreeMap<&'a str, ClassCounts>, cfg: &AnalyzeConfig) -> Judgement<'a> {
    let judged: Vec<&str> = counts
        .iter()
        .filter(|(_, c)| c.transactions >= cfg.min_volume)
        .map(|(t, _)| *t)
        .collect();
    let mut j = Judgement {
        flagged: vec![false; judged.len()],
        baseline: 0.0,
        p_values: vec![1.0; judged.len()],
        q_values: vec![1.0; judged.len()],
        judged,
    };
    for _ in 0..20 {
        let (k, n) = j.judged.iter().zip(&j.flagged).filter(|(_, f)| !**f).fold(
            (0u64, 0u64),
            |(k, n), (t, _)| {
                (
                    k + counts[t].get(Class::Terminal),
                    n + counts[t].transactions,
                )
            },
        );
        // With no terminal to judge (each under --min-volume), the baseline is the whole
        // fleet's rate: nothing is tested against it, but it is shown.
        let (k, n) = if j.judged.is_empty() {
            counts.values().fold((0, 0), |(k, n), c| {
                (k + c.get(Class::Terminal), n + c.transactions)
            })
        } else {
            (k, n)
        };
        // A fleet with no terminal faults at all still needs a positive baseline to test
        // against: half a fault over the healthy volume.
        j.baseline = if k == 0 {
            0.5 / n.max(1) as f64
        } else {
            ratio(k, n)
        };
        j.p_values = j
            .judged
            .iter()
            .map(|t| {
                let c = &counts[t];
                stats::binom_sf(c.get(Class::Terminal), c.transactions, j.baseline)
            })
            .collect();
        j.q_values = stats::benjamini_hochberg(&j.p_values);
        let next: Vec<bool> = j
            .judged
            .iter()
            .zip(&j.q_values)
            .map(|(t, q)| {
                let rate = counts[t].terminal_fault_rate();
                *q <= cfg.fdr && rate >= j.baseline * MIN_RATIO && rate - j.baseline >= MIN_EXCESS
            })
            .collect();
        if next == j.flagged {
            break;
        }
        j.flagged = next;
    }
    j
}

/// The evidence for flagged terminal `term` (index `i` of the judgement).
fn flag(
    term: &str,
    merchant_id: &str,
    c: &ClassCounts,
    folded: &Folded<'_>,
    j: &Judgement<'_>,
    i: usize,
) -> Flag {
    let series: Vec<(i64, ClassCounts)> = folded
        .daily
        .range((term, i64::MIN)..=(term, i64::MAX))
        .map(|((_, d), c)| (*d, *c))
        .collect();
    let (first_bad_period, rate_before, rate_after) = first_bad(&series, j.baseline);
    let mut top: Vec<(String, u64)> = folded
        .fault_codes
        .get(term)
        .map(|m| m.iter().map(|(k, v)| (k.to_string(), *v)).collect())
        .unwrap_or_default();
    top.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    Flag {
        terminal_id: term.to_string(),
        merchant_id: merchant_id.to_string(),
        transactions: c.transactions,
        terminal_faults: c.get(Class::Terminal),
        terminal_fault_rate: c.terminal_fault_rate(),
        baseline_rate: j.baseline,
        p_value: j.p_values[i],
        q_value: j.q_values[i],
        first_bad_period,
        top_codes: top,
        rate_before,
        rate_after,
    }
}

/// Pearson chi-square over degrees of freedom of the healthy terminals' fault counts around
/// the baseline: about 1 when the binomial model fits, more when the fleet is overdispersed.
fn dispersion(counts: &BTreeMap<&str, ClassCounts>, j: &Judgement<'_>) -> Option<f64> {
    let healthy: Vec<&ClassCounts> = j
        .judged
        .iter()
        .zip(&j.flagged)
        .filter(|(_, f)| !**f)
        .map(|(t, _)| &counts[t])
        .collect();
    let baseline = j.baseline;
    (healthy.len() >= 2 && baseline > 0.0).then(|| {
        let chi2: f64 = healthy
            .iter()
            .map(|c| {
                let expected = c.transactions as f64 * baseline;
                let diff = c.get(Class::Terminal) as f64 - expected;
                diff * diff / (expected * (1.0 - baseline))
            })
            .sum();
        chi2 / (healthy.len() - 1) as f64
    })
}

/// The day a terminal turned bad: the maximum-likelihood change point of its daily
/// terminal-fault rate, if the rate rose there clearly and was not already bad before.
fn first_bad(series: &[(i64, ClassCounts)], baseline: f64) -> (i64, f64, f64) {
    let first_day = series.first().map_or(0, |s| s.0);
    let k: Vec<u64> = series.iter().map(|(_, c)| c.get(Class::Terminal)).collect();
    let n: Vec<u64> = series.iter().map(|(_, c)| c.transactions).collect();
    let overall = ratio(k.iter().sum(), n.iter().sum());
    if let Some(cp) = stats::change_point(&k, &n) {
        let healthy_before =
            cp.rate_before <= (baseline * MIN_RATIO).max(baseline + MIN_EXCESS / 2.0);
        if cp.rate_after > cp.rate_before
            && cp.log_likelihood_ratio >= MIN_CHANGE_LLR
            && healthy_before
        {
            return (series[cp.index].0, cp.rate_before, cp.rate_after);
        }
    }
    (first_day, overall, overall)
}

/// For each terminal, the merchant with most of its transactions (ties: smallest id).
fn main_merchant(term_merchant: &[Cell<'_>]) -> BTreeMap<String, String> {
    let mut best: BTreeMap<String, (u64, String)> = BTreeMap::new();
    for c in term_merchant {
        let (t, m) = (c.terminal(), c.merchant());
        let e = best.entry(t.to_string()).or_insert((0, String::new()));
        // Cells come sorted by merchant, so strict > keeps the smallest id on a tie.
        if c.transactions > e.0 {
            *e = (c.transactions, m.to_string());
        }
    }
    best.into_iter().map(|(t, (_, m))| (t, m)).collect()
}
