//! Per-terminal figures and the faulty-terminal test.
//!
//! A terminal is `flagged` when its terminal-class failure rate is significantly above what a
//! healthy terminal of its cohort shows:
//! - Only terminal-class codes count (card-read, format, MAC/key, set-up errors). Declines and
//!   fraud codes are the cardholder's or issuer's business, and network codes are upstream, so
//!   a shop with many declines or a fleet-wide issuer outage can never flag a terminal. Hours
//!   of a fleet incident (every terminal failing at once: a key roll-over at the acquirer) are
//!   left out of every terminal's counts.
//! - Cohort: the terminal's model, or model and firmware where that firmware has enough judged
//!   terminals of its own ([`COHORT_MIN`]); the whole fleet when the logs and the inventory say
//!   nothing, or the model has too few terminals to measure its spread.
//! - Null model: real fleets are overdispersed (healthy terminals differ by site, card mix,
//!   age), so one binomial rate calls a hundred healthy terminals faulty. Each cohort's healthy
//!   terminals are a beta-binomial: every terminal has its own rate, drawn from a Beta around
//!   the cohort's mean with intra-terminal correlation ρ. Mean and ρ are fitted by moments
//!   ([`stats::BetaBinomial::fit`]) on the cohort's judged terminals that are neither flagged
//!   nor extreme (p < [`TRIM_P`]), refitted until the flagged set settles: faulty terminals
//!   cannot widen the null they are tested against.
//! - Tests per terminal, each against the cohort's null: its whole period; the period after
//!   its own change point (a terminal that broke on day 20 is diluted by 19 good days), the
//!   p-value multiplied by the number of days it could have started on; and each card reader
//!   (entry mode) against the cohort's rate for that reader, multiplied by the number of
//!   readers. The smallest p-value of a test that also clears the effect-size floor counts;
//!   Benjamini–Hochberg across the judged terminals at q = `--fdr` (default 0.01).
//! - Minimum volume (`--min-volume`, default 200): below it, `insufficient_data`.
//! - Effect-size floor: the rate must be at least twice the cohort's mean and 0.5 percentage
//!   points above it, so a huge terminal is not flagged for a trivial excess.
//! - `first_bad_period` and `recovered_period`: the best of four shapes of the terminal's daily
//!   series by likelihood with a penalty per change (bad throughout; healthy then bad; bad then
//!   healthy again; healthy, bad, healthy), see [`history`].

use std::collections::BTreeMap;

use chrono_tz::Tz;
use rayon::prelude::*;
use serde::Serialize;

use super::periods::{day_start, next_period};
use super::stats::BetaBinomial;
use super::CodeClasses as Catalog;
use super::{ratio, stats, ClassCounts};
use crate::classify::Class;
use crate::config::{AnalyzeConfig, Bucket};
use crate::cube::attrs::AttrMap;
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

/// A card reader, as the entry mode tells it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Reader {
    Contactless,
    Chip,
    /// Magstripe, fallbacks included (the same reader).
    Swipe,
    Keyed,
}

impl Reader {
    pub const ALL: [Reader; 4] = [
        Reader::Contactless,
        Reader::Chip,
        Reader::Swipe,
        Reader::Keyed,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Reader::Contactless => "contactless",
            Reader::Chip => "chip",
            Reader::Swipe => "swipe",
            Reader::Keyed => "keyed",
        }
    }

    fn index(self) -> usize {
        self as usize
    }
}

/// Transactions and terminal faults per reader.
type ByReader = [(u64, u64); 4];

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
    /// The terminal's p-value against its cohort's null (None when not judged).
    pub p_value: Option<f64>,
    /// Benjamini–Hochberg adjusted p-value.
    pub q_value: Option<f64>,
    pub status: Status,
    /// The cohort it was judged in (`fleet`, a model, `model / firmware`).
    pub cohort: String,
}

/// What made the strongest case against a flagged terminal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Basis {
    /// Its whole period against the cohort.
    Overall,
    /// The days since its own change point.
    SinceChange,
    /// One card reader against the cohort's rate for that reader.
    Reader(Reader),
}

/// Evidence for one flagged terminal.
#[derive(Debug, Clone, Serialize)]
pub struct Flag {
    pub terminal_id: String,
    pub merchant_id: String,
    pub transactions: u64,
    pub terminal_faults: u64,
    pub terminal_fault_rate: f64,
    /// The cohort's healthy mean (for a reader flag: the cohort's rate for that reader).
    pub baseline_rate: f64,
    pub p_value: f64,
    pub q_value: f64,
    /// Start of the first local day the terminal looked bad.
    pub first_bad_period: i64,
    /// Start of the first local day it was healthy again, if it recovered.
    pub recovered_period: Option<i64>,
    /// Terminal-class codes of this terminal, most frequent first.
    pub top_codes: Vec<(String, u64)>,
    /// The rate before and after `first_bad_period` (equal when bad from the start).
    pub rate_before: f64,
    pub rate_after: f64,
    pub cohort: String,
    pub basis: Basis,
    /// The reader at fault, when the fault sits in one reader.
    pub entry_mode: Option<Reader>,
    /// (reader, faults, transactions) of each reader the terminal used.
    pub readers: Vec<(Reader, u64, u64)>,
    /// The cohort's rate per reader, for the reason.
    pub cohort_reader_rates: Vec<(Reader, f64)>,
}

/// The fitted null of one cohort, for the report ("healthy PAX A920: mean 0.25%, …").
#[derive(Debug, Clone, Serialize)]
pub struct CohortModel {
    /// `fleet`, `model` or `firmware`.
    pub field: String,
    pub cohort: String,
    /// Judged terminals in the cohort, and the healthy ones the fit used.
    pub judged: u64,
    pub fitted_on: u64,
    pub mean: f64,
    pub rho: f64,
    pub alpha: f64,
    pub beta: f64,
    /// Standard deviation of the healthy terminals' own rates.
    pub rate_sd: f64,
    /// 5% and 95% quantiles of the healthy terminals' own rates: nine in ten lie between.
    pub rate_p05: f64,
    pub rate_p95: f64,
    pub flagged: u64,
}

pub struct TerminalAnalysis {
    /// Transactions under the terminal id `(none)`, left out of the terminal figures.
    pub unattributed: u64,
    pub rows: Vec<TerminalRow>,
    pub flagged: Vec<Flag>,
    /// The healthy fleet's pooled terminal-class rate (every cohort).
    pub baseline_rate: f64,
    /// Pearson chi-square / degrees of freedom of the healthy judged terminals around their
    /// cohort's mean under one binomial rate: about 1 when the binomial model would fit; well
    /// above 1 is why the null is a beta-binomial.
    pub dispersion: Option<f64>,
    pub models: Vec<CohortModel>,
    pub daily: Vec<(String, i64, ClassCounts)>,
    /// Per terminal: transactions per local day (incident hours included), for the silent
    /// terminals (`silent.rs`).
    pub volume: BTreeMap<String, Vec<(i64, u64)>>,
}

/// Effect-size floor: flagged rates must be at least this many times the cohort's mean...
const MIN_RATIO: f64 = 2.0;
/// ...and this far above it in absolute terms.
const MIN_EXCESS: f64 = 0.005;
/// Judged terminals a model (or a firmware within it) needs to be a cohort of its own: fewer
/// cannot measure their spread.
pub const COHORT_MIN: usize = 20;
/// Terminals with a p-value below this under the current fit are left out of the next fit.
const TRIM_P: f64 = 1e-3;
/// Log-likelihood one change in a terminal's daily series must buy to be believed.
const CHANGE_PENALTY: f64 = 2.0;
/// Log-likelihood a recovery must buy (see [`history`]).
const RECOVERY_PENALTY: f64 = 6.0;
/// Days of a series the bad-stretch search works on: longer series are grouped into stretches
/// of several days (the search is quadratic in them).
const MAX_SEARCH_BINS: usize = 62;
/// A stretch of days is healthy when its faults are no surprise under the cohort's null.
const HEALTHY_P: f64 = 1e-3;
/// Transactions a test's slice (the days since a change, one reader) needs.
const MIN_SLICE: u64 = 50;

/// What the terminal verdicts read besides the cells.
pub struct Context<'a> {
    pub attrs: &'a AttrMap,
    /// Incident windows `[start, end)`, sorted: their hours count against no terminal.
    pub excluded: &'a [(i64, i64)],
}

pub fn analyze<'a>(
    term_hour_code: impl Iterator<Item = Cell<'a>>,
    term_merchant: &[Cell<'a>],
    catalog: &Catalog,
    cfg: &AnalyzeConfig,
    tz: Tz,
    ctx: &Context<'_>,
) -> Result<TerminalAnalysis> {
    let folded = fold(term_hour_code, catalog, tz, ctx.excluded);
    let counts = &folded.all;
    let merchant_of = main_merchant(term_merchant);
    let j = judge(&folded, cfg, ctx.attrs);

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
            flagged.push(flag(
                term,
                &merchant_id,
                &folded.counts[term],
                &folded,
                &j,
                i,
            ));
        }
        rows.push(TerminalRow {
            terminal_id: term.to_string(),
            merchant_id,
            counts: *c,
            fault_ci_low: lo,
            fault_ci_high: hi,
            p_value: idx.map(|i| j.tests[i].p),
            q_value: idx.map(|i| j.q_values[i]),
            status,
            cohort: idx
                .map(|i| j.cohorts[j.cohort_of[i]].name.clone())
                .unwrap_or_default(),
        });
    }
    // Strongest evidence first; ties by terminal id.
    flagged.sort_by(|a, b| {
        a.p_value
            .total_cmp(&b.p_value)
            .then(b.terminal_fault_rate.total_cmp(&a.terminal_fault_rate))
            .then(a.terminal_id.cmp(&b.terminal_id))
    });
    let models = j
        .cohorts
        .iter()
        .enumerate()
        .map(|(ci, c)| {
            let members: Vec<usize> = (0..j.judged.len())
                .filter(|&i| j.cohort_of[i] == ci)
                .collect();
            CohortModel {
                field: c.field.to_string(),
                cohort: c.name.clone(),
                judged: members.len() as u64,
                fitted_on: c.fitted_on,
                mean: c.null.mean,
                rho: c.null.rho,
                alpha: if c.null.rho > 0.0 {
                    c.null.alpha()
                } else {
                    0.0
                },
                beta: if c.null.rho > 0.0 { c.null.beta() } else { 0.0 },
                rate_sd: c.null.rate_sd(),
                rate_p05: c.null.rate_quantile(0.05),
                rate_p95: c.null.rate_quantile(0.95),
                flagged: members.iter().filter(|&&i| j.flagged[i]).count() as u64,
            }
        })
        .collect();
    let (k, n) = (0..j.judged.len())
        .filter(|&i| !j.flagged[i])
        .map(|i| &folded.counts[j.judged[i]])
        .fold((0, 0), |(k, n), c| {
            (k + c.get(Class::Terminal), n + c.transactions)
        });
    let baseline_rate = if j.judged.is_empty() {
        let (k, n) = counts.values().fold((0, 0), |(k, n), c| {
            (k + c.get(Class::Terminal), n + c.transactions)
        });
        ratio(k, n)
    } else {
        ratio(k, n)
    };
    Ok(TerminalAnalysis {
        unattributed: folded.unattributed,
        rows,
        flagged,
        baseline_rate,
        dispersion: dispersion(&folded.counts, &j),
        models,
        volume: folded
            .volume
            .iter()
            .map(|(t, v)| (t.to_string(), v.clone()))
            .collect(),
        daily: folded
            .daily
            .into_iter()
            .map(|(t, d, c)| (t.to_string(), d, c))
            .collect(),
    })
}

/// The cells summed per terminal, per terminal × local day, per reader, and terminal-class
/// codes per terminal.
struct Folded<'a> {
    /// Every transaction of the terminal (by_terminal.csv).
    all: BTreeMap<&'a str, ClassCounts>,
    /// What it is judged on: incident hours left out.
    counts: BTreeMap<&'a str, ClassCounts>,
    /// (terminal, local day, counts) in terminal and day order (the cells' order), and where
    /// each terminal's days are in it.
    daily: Vec<(&'a str, i64, ClassCounts)>,
    daily_of: BTreeMap<&'a str, (usize, usize)>,
    readers: BTreeMap<&'a str, ByReader>,
    fault_codes: BTreeMap<&'a str, BTreeMap<&'a str, u64>>,
    /// Transactions per local day, incident hours included (a terminal that traded through
    /// an incident was not silent).
    volume: BTreeMap<&'a str, Vec<(i64, u64)>>,
    /// Transactions of [`super::NO_TERMINAL`], never judged.
    unattributed: u64,
}

/// Cells come sorted by terminal and hour, so runs of one terminal (and one day) are summed
/// locally and stored once: a map operation per run, not per cell (3M cells in a big fleet).
fn fold<'a>(
    cells: impl Iterator<Item = Cell<'a>>,
    catalog: &Catalog,
    tz: Tz,
    excluded: &[(i64, i64)],
) -> Folded<'a> {
    let mut f = Folded {
        all: BTreeMap::new(),
        counts: BTreeMap::new(),
        daily: Vec::new(),
        daily_of: BTreeMap::new(),
        readers: BTreeMap::new(),
        fault_codes: BTreeMap::new(),
        volume: BTreeMap::new(),
        unattributed: 0,
    };
    let mut run_term: Option<&str> = None;
    let mut run_counts = ClassCounts::default();
    let mut run_all = ClassCounts::default();
    let mut run_readers: ByReader = [(0, 0); 4];
    let mut run_day: Option<i64> = None;
    let mut day_counts = ClassCounts::default();
    let mut day_volume = 0u64;
    // (hour, day) of the last lookup: a local day spans 24 consecutive hours.
    let mut day_of: (i64, i64, i64) = (i64::MIN, i64::MIN, 0);
    // The current terminal's days, moved into `volume` when the terminal changes, and where
    // its days start in `daily`.
    let mut run_volume: Vec<(i64, u64)> = Vec::new();
    let mut run_daily_start = 0usize;
    let close_day = |f: &mut Folded<'a>,
                     days: &mut Vec<(i64, u64)>,
                     t: &'a str,
                     d: i64,
                     c: &ClassCounts,
                     v: u64| {
        if c.transactions > 0 {
            f.daily.push((t, d, *c));
        }
        match days.last_mut() {
            Some(last) if last.0 == d => last.1 += v,
            _ => days.push((d, v)),
        }
    };
    for c in cells {
        let term = c.terminal();
        if term == super::NO_TERMINAL {
            // Responses nobody could tie to a terminal: not a terminal to judge or list.
            f.unattributed += c.transactions;
            continue;
        }
        let hour = c.hour();
        if run_term != Some(term) {
            if let Some(t) = run_term {
                f.counts.entry(t).or_default().merge(&run_counts);
                f.all.entry(t).or_default().merge(&run_all);
                let r = f.readers.entry(t).or_insert([(0, 0); 4]);
                for (a, b) in r.iter_mut().zip(run_readers) {
                    a.0 += b.0;
                    a.1 += b.1;
                }
                if let Some(d) = run_day {
                    close_day(&mut f, &mut run_volume, t, d, &day_counts, day_volume);
                }
                f.volume.insert(t, std::mem::take(&mut run_volume));
                f.daily_of.insert(t, (run_daily_start, f.daily.len()));
            }
            run_term = Some(term);
            run_daily_start = f.daily.len();
            run_counts = ClassCounts::default();
            run_all = ClassCounts::default();
            run_readers = [(0, 0); 4];
            run_day = None;
        }
        if !(day_of.0..day_of.1).contains(&hour) {
            let d = day_start(hour, tz);
            day_of = (d, next_period(d, Bucket::Day, tz), d);
        }
        let day = day_of.2;
        if run_day != Some(day) {
            if let Some(d) = run_day {
                close_day(&mut f, &mut run_volume, term, d, &day_counts, day_volume);
            }
            run_day = Some(day);
            day_counts = ClassCounts::default();
            day_volume = 0;
        }
        day_volume += c.transactions;
        let class = catalog.of(&c);
        run_all.add(class, c.transactions);
        let i = excluded.partition_point(|w| w.1 <= hour);
        if i < excluded.len() && excluded[i].0 <= hour {
            continue;
        }
        run_counts.add(class, c.transactions);
        day_counts.add(class, c.transactions);
        let fault = class == Class::Terminal;
        let by_reader = [
            c.contactless,
            c.chip_reads.saturating_sub(c.contactless),
            c.swipes + c.fallbacks,
            c.keyed,
        ];
        for (r, n) in run_readers.iter_mut().zip(by_reader) {
            r.0 += n;
            if fault {
                r.1 += n;
            }
        }
        if fault {
            *f.fault_codes
                .entry(term)
                .or_default()
                .entry(c.code())
                .or_default() += c.transactions;
        }
    }
    if let Some(t) = run_term {
        f.counts.entry(t).or_default().merge(&run_counts);
        f.all.entry(t).or_default().merge(&run_all);
        let r = f.readers.entry(t).or_insert([(0, 0); 4]);
        for (a, b) in r.iter_mut().zip(run_readers) {
            a.0 += b.0;
            a.1 += b.1;
        }
        if let Some(d) = run_day {
            close_day(&mut f, &mut run_volume, t, d, &day_counts, day_volume);
        }
        f.volume.insert(t, run_volume);
        f.daily_of.insert(t, (run_daily_start, f.daily.len()));
    }
    f
}

/// One cohort and its fitted null.
struct CohortFit {
    field: &'static str,
    name: String,
    null: BetaBinomial,
    /// Pooled terminal-fault rate per reader over the cohort's healthy terminals.
    reader_means: [f64; 4],
    fitted_on: u64,
}

/// One judged terminal's tests: the p-value that counts, the rate and mean it compared.
#[derive(Debug, Clone, Copy)]
struct Test {
    p: f64,
    /// Overall p-value against the cohort (what the trimming of the fit uses).
    p_overall: f64,
    basis: Basis,
    mean: f64,
    /// Whether the test behind `p` cleared the effect-size floor.
    strong: bool,
}

/// The verdict on the terminals with enough volume (`judged`, in id order), index by index.
struct Judgement<'a> {
    judged: Vec<&'a str>,
    flagged: Vec<bool>,
    cohort_of: Vec<usize>,
    cohorts: Vec<CohortFit>,
    tests: Vec<Test>,
    q_values: Vec<f64>,
    /// Per judged terminal, its daily series (day, faults, transactions).
    series: Vec<Vec<(i64, u64, u64)>>,
}

/// Which cohort each judged terminal belongs to: model / firmware where that firmware has
/// [`COHORT_MIN`] judged terminals, else the model where it has as many, else the fleet.
fn assign_cohorts(judged: &[&str], attrs: &AttrMap) -> (Vec<usize>, Vec<(&'static str, String)>) {
    let model_of = |t: &str| attrs.get(t).map(|a| a.model.trim()).unwrap_or("");
    let fw_of = |t: &str| attrs.get(t).map(|a| a.firmware.trim()).unwrap_or("");
    let mut models: BTreeMap<&str, usize> = BTreeMap::new();
    let mut firmwares: BTreeMap<(&str, &str), usize> = BTreeMap::new();
    for t in judged {
        let m = model_of(t);
        if !m.is_empty() {
            *models.entry(m).or_default() += 1;
            let fw = fw_of(t);
            if !fw.is_empty() {
                *firmwares.entry((m, fw)).or_default() += 1;
            }
        }
    }
    let mut names: Vec<(&'static str, String)> = Vec::new();
    let mut index: BTreeMap<(&'static str, String), usize> = BTreeMap::new();
    let mut of = Vec::with_capacity(judged.len());
    for t in judged {
        let (m, fw) = (model_of(t), fw_of(t));
        // A model split into firmwares only when the model has more than one of them.
        let split = firmwares
            .range((m, "")..)
            .take_while(|e| e.0 .0 == m)
            .count()
            > 1;
        let key = if !m.is_empty()
            && split
            && firmwares.get(&(m, fw)).copied().unwrap_or(0) >= COHORT_MIN
        {
            ("firmware", format!("{m} / {fw}"))
        } else if !m.is_empty() && models[m] >= COHORT_MIN {
            ("model", m.to_string())
        } else {
            ("fleet", "fleet".to_string())
        };
        let next = names.len();
        let i = *index.entry(key.clone()).or_insert(next);
        if i == next {
            names.push(key);
        }
        of.push(i);
    }
    (of, names)
}

/// Test each terminal with enough volume against its cohort's null; the nulls are fitted on
/// the terminals not flagged, so they are refitted until the flagged set settles.
fn judge<'a>(folded: &Folded<'a>, cfg: &AnalyzeConfig, attrs: &AttrMap) -> Judgement<'a> {
    let counts = &folded.counts;
    let judged: Vec<&str> = counts
        .iter()
        .filter(|(_, c)| c.transactions >= cfg.min_volume)
        .map(|(t, _)| *t)
        .collect();
    let (cohort_of, names) = assign_cohorts(&judged, attrs);
    let series: Vec<Vec<(i64, u64, u64)>> = judged
        .iter()
        .map(|t| {
            let (a, b) = folded.daily_of.get(t).copied().unwrap_or((0, 0));
            folded.daily[a..b]
                .iter()
                .map(|(_, d, c)| (*d, c.get(Class::Terminal), c.transactions))
                .collect()
        })
        .collect();
    let no_readers = [(0u64, 0u64); 4];
    let readers: Vec<&ByReader> = judged
        .iter()
        .map(|t| folded.readers.get(t).unwrap_or(&no_readers))
        .collect();
    let kn: Vec<(u64, u64)> = judged
        .iter()
        .map(|t| (counts[t].get(Class::Terminal), counts[t].transactions))
        .collect();
    let mut j = Judgement {
        flagged: vec![false; judged.len()],
        cohort_of,
        cohorts: Vec::new(),
        tests: Vec::new(),
        q_values: vec![1.0; judged.len()],
        series,
        judged,
    };
    let stretches: Vec<Stretches> = (0..j.judged.len())
        .into_par_iter()
        .map(|i| Stretches::of(kn[i], &j.series[i]))
        .collect();
    // Terminals left out of the next fit: flagged or extreme under the current one.
    let mut trimmed = vec![false; j.judged.len()];
    for _ in 0..20 {
        j.cohorts = names
            .iter()
            .enumerate()
            .map(|(ci, (field, name))| {
                let members: Vec<usize> = (0..j.judged.len())
                    .filter(|&i| j.cohort_of[i] == ci && !trimmed[i])
                    .collect();
                let units: Vec<(u64, u64)> = members.iter().map(|&i| kn[i]).collect();
                let null = BetaBinomial::fit_robust(&units).unwrap_or_else(|| {
                    // One terminal or none left to fit on: its pooled rate, binomial.
                    let (k, n) = units.iter().fold((0, 0), |a, u| (a.0 + u.0, a.1 + u.1));
                    BetaBinomial {
                        mean: if k == 0 {
                            0.5 / n.max(1) as f64
                        } else {
                            ratio(k, n)
                        },
                        rho: 0.0,
                    }
                });
                let mut reader_means = [0.0; 4];
                for (r, mean) in reader_means.iter_mut().enumerate() {
                    let (n, k) = members.iter().fold((0, 0), |a, &i| {
                        (a.0 + readers[i][r].0, a.1 + readers[i][r].1)
                    });
                    *mean = if k == 0 {
                        0.5 / n.max(1) as f64
                    } else {
                        ratio(k, n)
                    };
                }
                CohortFit {
                    field,
                    name: name.clone(),
                    null,
                    reader_means,
                    fitted_on: members.len() as u64,
                }
            })
            .collect();
        // Independent per terminal: on both cores (the other analyses finish first).
        j.tests = (0..j.judged.len())
            .into_par_iter()
            .map(|i| test(kn[i], &stretches[i], readers[i], &j.cohorts[j.cohort_of[i]]))
            .collect();
        let p: Vec<f64> = j.tests.iter().map(|t| t.p).collect();
        j.q_values = stats::benjamini_hochberg(&p);
        let next: Vec<bool> = j
            .tests
            .iter()
            .zip(&j.q_values)
            .map(|(t, q)| *q <= cfg.fdr && t.strong)
            .collect();
        let next_trim: Vec<bool> = next
            .iter()
            .zip(&j.tests)
            .map(|(f, t)| *f || t.p_overall < TRIM_P)
            .collect();
        if next == j.flagged && next_trim == trimmed {
            break;
        }
        j.flagged = next;
        trimmed = next_trim;
    }
    j
}

/// Whether `rate` clears the effect-size floor over `mean`.
fn strong(rate: f64, mean: f64) -> bool {
    rate >= mean * MIN_RATIO && rate - mean >= MIN_EXCESS
}

/// A terminal's tests against its cohort: overall, since its own change point, per reader.
/// The stretches of a terminal's daily series its history tests use: they depend on its
/// counts only, so they are found once, not at every refit of the cohorts' nulls.
#[derive(Debug, Clone, Copy, Default)]
struct Stretches {
    /// Faults and transactions before and after its change point, and the days it could
    /// have started on; None without a rise.
    change: Option<(u64, u64, u64, u64, u64)>,
    /// Faults and transactions of its worst stretch and of the rest, and the stretches
    /// searched.
    stretch: Option<(u64, u64, u64, u64, u64)>,
}

impl Stretches {
    fn of(kn: (u64, u64), series: &[(i64, u64, u64)]) -> Stretches {
        let (k, n) = kn;
        let ks: Vec<u64> = series.iter().map(|s| s.1).collect();
        let ns: Vec<u64> = series.iter().map(|s| s.2).collect();
        let change = stats::change_point(&ks, &ns).and_then(|cp| {
            let (k1, n1) = (
                ks[..cp.index].iter().sum::<u64>(),
                ns[..cp.index].iter().sum::<u64>(),
            );
            let (k2, n2) = (k - k1.min(k), n - n1.min(n));
            (cp.rate_after > cp.rate_before && n2 >= MIN_SLICE && cp.index > 0).then_some((
                k1,
                n1,
                k2,
                n2,
                (series.len() - 1) as u64,
            ))
        });
        Stretches {
            change,
            stretch: bad_stretch(&ks, &ns),
        }
    }
}

fn test(kn: (u64, u64), st: &Stretches, readers: &ByReader, c: &CohortFit) -> Test {
    let (k, n) = kn;
    let p_overall = c.null.sf(k, n);
    let rate = ratio(k, n);
    let mut best = Test {
        p: p_overall,
        p_overall,
        basis: Basis::Overall,
        mean: c.null.mean,
        strong: strong(rate, c.null.mean),
    };
    let mut consider = |p: f64, basis: Basis, rate: f64, mean: f64| {
        let s = strong(rate, mean);
        // A test that clears the floor beats one that does not; then the smaller p-value.
        if (s && !best.strong) || (s == best.strong && p < best.p) {
            best = Test {
                p,
                p_overall,
                basis,
                mean,
                strong: s,
            };
        }
    };
    // The days since its change point against its own days before: the cohort's null
    // updated by what the terminal showed before the change (a terminal that ran at 0.2% for
    // two weeks is not a healthy terminal with a high rate of its own when it jumps to 3%).
    // The p-value is multiplied by the days the change could have started on.
    if let Some((k1, n1, k2, n2, days)) = st.change {
        // The floor: well above the cohort's mean and above its own rate before.
        let after = ratio(k2, n2);
        if strong(after, c.null.mean) && after >= MIN_RATIO * ratio(k1, n1) {
            let own = c.null.updated(k1, n1);
            let p = (own.sf(k2, n2) * days as f64).min(1.0);
            consider(p, Basis::SinceChange, after, c.null.mean);
        }
    }
    // A bad stretch that ended (a terminal broken for a week, then repaired): the most
    // likely stretch against the rest of its days, the p-value multiplied by the number of
    // stretches it could have been.
    if let Some((kb, nb, kr, nr, choices)) = st.stretch {
        let bad = ratio(kb, nb);
        if nb >= MIN_SLICE && strong(bad, c.null.mean) && bad >= MIN_RATIO * ratio(kr, nr) {
            let own = c.null.updated(kr, nr);
            let p = (own.sf(kb, nb) * choices as f64).min(1.0);
            consider(p, Basis::SinceChange, bad, c.null.mean);
        }
    }
    // Each reader against the cohort's rate for it, times the readers tested.
    for r in Reader::ALL {
        let (n, k) = readers[r.index()];
        if n < MIN_SLICE || n == kn.1 {
            // A terminal with one reader only is the overall test already.
            continue;
        }
        let mean = c.reader_means[r.index()];
        let null = BetaBinomial {
            mean,
            rho: c.null.rho,
        };
        let p = (null.sf(k, n) * Reader::ALL.len() as f64).min(1.0);
        consider(p, Basis::Reader(r), ratio(k, n), mean);
    }
    best
}

/// The stretch of consecutive days whose fault rate stands out most from the rest (binomial
/// likelihood ratio, rate above the rest's): (its faults and transactions, the rest's, and
/// the number of stretches searched). None for series of fewer than three days. Series longer
/// than [`MAX_SEARCH_BINS`] days are searched in groups of days.
fn bad_stretch(ks: &[u64], ns: &[u64]) -> Option<(u64, u64, u64, u64, u64)> {
    let group = ks.len().div_ceil(MAX_SEARCH_BINS).max(1);
    let kb: Vec<u64> = ks.chunks(group).map(|c| c.iter().sum()).collect();
    let nb: Vec<u64> = ns.chunks(group).map(|c| c.iter().sum()).collect();
    let len = kb.len();
    if len < 3 {
        return None;
    }
    let mut pk = vec![0u64; len + 1];
    let mut pn = vec![0u64; len + 1];
    for i in 0..len {
        pk[i + 1] = pk[i] + kb[i].min(nb[i]);
        pn[i + 1] = pn[i] + nb[i];
    }
    let (tk, tn) = (pk[len], pn[len]);
    let ll = |k: u64, n: u64| stats::binomial_max_log_likelihood(k.into(), n.into());
    let whole = ll(tk, tn);
    let mut best: Option<(f64, usize, usize)> = None;
    for a in 0..len {
        for b in (a + 1)..=len {
            if a == 0 && b == len {
                continue;
            }
            let (k1, n1) = (pk[b] - pk[a], pn[b] - pn[a]);
            let (k2, n2) = (tk - k1, tn - n1);
            if n1 == 0 || n2 == 0 || ratio(k1, n1) <= ratio(k2, n2) {
                continue;
            }
            let gain = ll(k1, n1) + ll(k2, n2) - whole;
            if best.is_none_or(|x| gain > x.0) {
                best = Some((gain, a, b));
            }
        }
    }
    let (_, a, b) = best?;
    let (k1, n1) = (pk[b] - pk[a], pn[b] - pn[a]);
    let choices = (len * (len + 1) / 2 - 1) as u64;
    Some((k1, n1, tk - k1, tn - n1, choices))
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
    let cohort = &j.cohorts[j.cohort_of[i]];
    let series = &j.series[i];
    let h = history(series, &cohort.null);
    let mut top: Vec<(String, u64)> = folded
        .fault_codes
        .get(term)
        .map(|m| m.iter().map(|(k, v)| (k.to_string(), *v)).collect())
        .unwrap_or_default();
    top.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    let t = j.tests[i];
    let readers: Vec<(Reader, u64, u64)> = folded
        .readers
        .get(term)
        .map(|r| {
            Reader::ALL
                .iter()
                .filter(|m| r[m.index()].0 > 0)
                .map(|m| (*m, r[m.index()].1, r[m.index()].0))
                .collect()
        })
        .unwrap_or_default();
    // The fault sits in one reader when that reader's test made the case and no other
    // reader shows a fault of its own (each is no surprise under the cohort's rate for it).
    let entry_mode = match t.basis {
        Basis::Reader(r) => {
            let others_fine = readers.iter().filter(|x| x.0 != r).all(|x| {
                let null = BetaBinomial {
                    mean: cohort.reader_means[x.0.index()],
                    rho: cohort.null.rho,
                };
                null.sf(x.1, x.2) >= HEALTHY_P
            });
            others_fine.then_some(r)
        }
        _ => None,
    };
    Flag {
        terminal_id: term.to_string(),
        merchant_id: merchant_id.to_string(),
        transactions: c.transactions,
        terminal_faults: c.get(Class::Terminal),
        terminal_fault_rate: c.terminal_fault_rate(),
        baseline_rate: t.mean,
        p_value: t.p,
        q_value: j.q_values[i],
        first_bad_period: h.first_bad,
        recovered_period: h.recovered,
        top_codes: top,
        rate_before: h.rate_before,
        rate_after: h.rate_bad,
        cohort: cohort.name.clone(),
        basis: t.basis,
        entry_mode,
        readers,
        cohort_reader_rates: Reader::ALL
            .iter()
            .map(|r| (*r, cohort.reader_means[r.index()]))
            .collect(),
    }
}

/// Pearson chi-square over degrees of freedom of the healthy terminals' fault counts around
/// their cohort's mean, as if one binomial rate fitted each cohort.
fn dispersion(counts: &BTreeMap<&str, ClassCounts>, j: &Judgement<'_>) -> Option<f64> {
    let healthy: Vec<(f64, &ClassCounts)> = (0..j.judged.len())
        .filter(|&i| !j.flagged[i])
        .map(|i| (j.cohorts[j.cohort_of[i]].null.mean, &counts[j.judged[i]]))
        .collect();
    (healthy.len() >= 2 && healthy.iter().all(|h| h.0 > 0.0)).then(|| {
        let chi2: f64 = healthy
            .iter()
            .map(|(mean, c)| {
                let expected = c.transactions as f64 * mean;
                let diff = c.get(Class::Terminal) as f64 - expected;
                diff * diff / (expected * (1.0 - mean))
            })
            .sum();
        chi2 / (healthy.len() - 1) as f64
    })
}

/// When a flagged terminal went bad and whether it recovered.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct History {
    pub first_bad: i64,
    pub recovered: Option<i64>,
    pub rate_before: f64,
    pub rate_bad: f64,
}

/// The shape of a flagged terminal's daily series (day, faults, transactions): of "bad
/// throughout", "healthy then bad", "bad then healthy" and "healthy, bad, healthy", the one
/// with the highest binomial log-likelihood less [`CHANGE_PENALTY`] per change, where a
/// healthy stretch must run below half the bad one's rate and be no surprise under the
/// cohort's `null` (upper-tail p-value at least [`HEALTHY_P`]: a few days with two faults
/// where the cohort expects 0.3 are still healthy days). Prefix sums make every split O(1):
/// O(days²) for the two-change shapes.
pub fn history(series: &[(i64, u64, u64)], null: &BetaBinomial) -> History {
    let len = series.len();
    let first_day = series.first().map_or(0, |s| s.0);
    let mut pk = vec![0u64; len + 1];
    let mut pn = vec![0u64; len + 1];
    for (i, s) in series.iter().enumerate() {
        pk[i + 1] = pk[i] + s.1.min(s.2);
        pn[i + 1] = pn[i] + s.2;
    }
    let seg = |a: usize, b: usize| (pk[b] - pk[a], pn[b] - pn[a]);
    let ll = |(k, n): (u64, u64)| stats::binomial_max_log_likelihood(k.into(), n.into());
    // A healthy stretch is scored at its rate shrunk towards the cohort's (the cohort's Beta
    // updated by the stretch): two unlucky early days with three faults between them stay
    // in the bad stretch instead of pushing its start later.
    let ll_healthy = |(k, n): (u64, u64)| -> f64 {
        if n == 0 {
            return 0.0;
        }
        let q = null.updated(k, n).mean.clamp(1e-12, 1.0 - 1e-12);
        k as f64 * q.ln() + (n - k) as f64 * (1.0 - q).ln()
    };
    let rate = |(k, n): (u64, u64)| ratio(k, n);
    // Healthy stretches are prefixes or suffixes: their test against the null, once each.
    let plausible = |h: (u64, u64)| h.1 > 0 && null.sf(h.0, h.1) >= HEALTHY_P;
    let prefix_ok: Vec<bool> = (0..=len).map(|a| plausible(seg(0, a))).collect();
    let suffix_ok: Vec<bool> = (0..=len).map(|b| plausible(seg(b, len))).collect();
    let healthy_vs = |h: (u64, u64), bad: (u64, u64), ok: bool| ok && rate(h) * 2.0 <= rate(bad);
    let whole = seg(0, len);
    let mut best = (
        ll(whole),
        History {
            first_bad: first_day,
            recovered: None,
            rate_before: rate(whole),
            rate_bad: rate(whole),
        },
    );
    let mut offer = |score: f64, h: History| {
        if score > best.0 {
            best = (score, h);
        }
    };
    for a in 0..len {
        for b in (a + 1)..=len {
            if a == 0 && b == len {
                continue;
            }
            let (before, bad, after) = (seg(0, a), seg(a, b), seg(b, len));
            if bad.1 == 0 {
                continue;
            }
            if a > 0 && !healthy_vs(before, bad, prefix_ok[a]) {
                continue;
            }
            if b < len && !healthy_vs(after, bad, suffix_ok[b]) {
                continue;
            }
            // A recovery must buy more than a start: a few quiet days at the end of the data
            // are easily a broken terminal's luck.
            let penalty =
                CHANGE_PENALTY * (a > 0) as u32 as f64 + RECOVERY_PENALTY * (b < len) as u32 as f64;
            let score = ll_healthy(before) + ll(bad) + ll_healthy(after) - penalty;
            offer(
                score,
                History {
                    first_bad: series[a].0,
                    recovered: (b < len).then(|| series[b].0),
                    rate_before: if a > 0 { rate(before) } else { rate(bad) },
                    rate_bad: rate(bad),
                },
            );
        }
    }
    best.1
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

#[cfg(test)]
mod tests {
    use super::*;

    fn days(rates: &[(u64, u64)]) -> Vec<(i64, u64, u64)> {
        rates
            .iter()
            .enumerate()
            .map(|(i, &(k, n))| (i as i64 * 86_400, k, n))
            .collect()
    }

    const NULL: BetaBinomial = BetaBinomial {
        mean: 0.003,
        rho: 0.0,
    };

    #[test]
    fn history_dates_a_break_and_a_recovery() {
        // 10 healthy days (0.2%), 8 bad (6%), 10 healthy again.
        let mut s = vec![(1u64, 500u64); 10];
        s.extend(vec![(30, 500); 8]);
        s.extend(vec![(1, 500); 10]);
        let h = history(&days(&s), &NULL);
        assert_eq!(h.first_bad, 10 * 86_400);
        assert_eq!(h.recovered, Some(18 * 86_400));
        assert!((h.rate_bad - 0.06).abs() < 1e-12);
        // Bad from the first day, never better.
        let h = history(&days(&[(25, 500); 12]), &NULL);
        assert_eq!((h.first_bad, h.recovered), (0, None));
        // Healthy then bad to the end.
        let mut s = vec![(1u64, 400u64); 15];
        s.extend(vec![(20, 400); 5]);
        let h = history(&days(&s), &NULL);
        assert_eq!((h.first_bad, h.recovered), (15 * 86_400, None));
    }
}
