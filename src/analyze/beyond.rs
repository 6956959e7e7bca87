//! Beyond field 39 (SPEC "Analysis"): purchases and lost sales, chip-to-magstripe fallback as
//! an early warning, and response times. All from the cube's additive measures, so the same
//! from logs as from merged daily cubes.

use std::collections::BTreeMap;

use serde::Serialize;

use super::{ratio, stats, Period};
use crate::config::AnalyzeConfig;
use crate::cube::latency::{self, Hist, BUCKETS};
use crate::cube::{Cell, Cube};

/// Purchases, lost sales, fallbacks and response times of one terminal (all its merchants).
#[derive(Debug, Clone, Default, Serialize)]
pub struct TerminalExtra {
    pub purchases: u64,
    pub lost_purchases: u64,
    pub lost_amount_minor: i64,
    pub chip_reads: u64,
    pub fallbacks: u64,
    /// Transactions with a response time.
    pub timed: u64,
    pub latency_p50_ms: Option<f64>,
    pub latency_p95_ms: Option<f64>,
}

impl TerminalExtra {
    /// fallbacks / (chip reads + fallbacks); None without chip-card reads.
    pub fn fallback_rate(&self) -> Option<f64> {
        let n = self.chip_reads + self.fallbacks;
        (n > 0).then(|| ratio(self.fallbacks, n))
    }
}

/// Purchases and lost sales of one merchant.
#[derive(Debug, Clone, Default, Serialize)]
pub struct MerchantExtra {
    pub purchases: u64,
    pub lost_purchases: u64,
    pub lost_amount_minor: i64,
}

/// Lost sales and response times of one period (the periods of `by_period`).
#[derive(Debug, Clone, Default, Serialize)]
pub struct PeriodExtra {
    pub start: i64,
    pub purchases: u64,
    pub lost_purchases: u64,
    pub lost_amount_minor: i64,
    pub latency_p50_ms: Option<f64>,
    pub latency_p95_ms: Option<f64>,
}

/// A terminal whose chip reads fall back to magstripe significantly more often than the
/// fleet's: a card reader on its way out, before its error codes climb. Not a flag.
#[derive(Debug, Clone, Serialize)]
pub struct FallbackWarning {
    pub terminal_id: String,
    pub merchant_id: String,
    pub chip_reads: u64,
    pub fallbacks: u64,
    pub fallback_rate: f64,
    pub baseline_rate: f64,
    pub p_value: f64,
    pub q_value: f64,
}

/// A terminal whose typical (median) response time is above the fleet's 95th percentile.
#[derive(Debug, Clone, Serialize)]
pub struct SlowTerminal {
    pub terminal_id: String,
    pub merchant_id: String,
    pub timed: u64,
    pub p50_ms: f64,
    pub p95_ms: f64,
    pub fleet_p95_ms: f64,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct Beyond {
    pub purchases: u64,
    pub lost_purchases: u64,
    pub lost_amount_minor: i64,
    pub chip_reads: u64,
    pub fallbacks: u64,
    pub fallback_baseline: f64,
    pub timed: u64,
    pub latency_p50_ms: Option<f64>,
    pub latency_p95_ms: Option<f64>,
    pub by_terminal: BTreeMap<String, TerminalExtra>,
    pub by_merchant: BTreeMap<String, MerchantExtra>,
    pub by_period: Vec<PeriodExtra>,
    pub fallback_warnings: Vec<FallbackWarning>,
    pub slow_terminals: Vec<SlowTerminal>,
}

/// The three purchase measures, added up from rollup rows the same way wherever they are
/// kept (fleet, terminal, merchant, period).
trait Sales {
    fn sales(&mut self) -> (&mut u64, &mut u64, &mut i64);

    fn add_sales(&mut self, c: &Cell<'_>) {
        let (p, l, a) = self.sales();
        *p += c.purchases;
        *l += c.lost_purchases;
        *a += c.lost_amount_minor;
    }
}

macro_rules! sales {
    ($($t:ty),*) => {$(
        impl Sales for $t {
            fn sales(&mut self) -> (&mut u64, &mut u64, &mut i64) {
                (&mut self.purchases, &mut self.lost_purchases, &mut self.lost_amount_minor)
            }
        }
    )*};
}

sales!(Beyond, TerminalExtra, MerchantExtra, PeriodExtra);

impl Beyond {
    /// lost purchases / purchases (0 without purchases).
    pub fn purchase_failure_rate(&self) -> f64 {
        ratio(self.lost_purchases, self.purchases)
    }
}

/// Compute every beyond-field-39 figure. `merchant_of` names each terminal's main merchant
/// (as `by_terminal` does), `periods` are `by_period`'s.
/// `term_merchant` and `hour_code` are the rollups the rest of the analysis made already
/// (terminal × merchant, hour × code): no second pass over the cells.
pub fn analyze(
    cube: &Cube,
    term_merchant: &[Cell<'_>],
    hour_code: &[Cell<'_>],
    merchant_of: &BTreeMap<String, String>,
    periods: &[Period],
    cfg: &AnalyzeConfig,
) -> Beyond {
    let mut b = Beyond::default();
    for c in term_merchant {
        let t = b.by_terminal.entry(c.terminal().to_string()).or_default();
        t.add_sales(c);
        t.chip_reads += c.chip_reads;
        t.fallbacks += c.fallbacks;
        b.by_merchant
            .entry(c.merchant().to_string())
            .or_default()
            .add_sales(c);
        b.add_sales(c);
        b.chip_reads += c.chip_reads;
        b.fallbacks += c.fallbacks;
    }

    // Response times per terminal, and the fleet's.
    let mut fleet: Hist = [0; BUCKETS];
    let mut per_terminal: BTreeMap<&str, Hist> = BTreeMap::new();
    for (t, _, h) in cube.latency_by_terminal(i64::MIN, i64::MAX) {
        latency::add(per_terminal.entry(t).or_insert([0; BUCKETS]), &h);
        latency::add(&mut fleet, &h);
    }
    b.timed = latency::count(&fleet);
    b.latency_p50_ms = latency::quantile(&fleet, 0.5);
    b.latency_p95_ms = latency::quantile(&fleet, 0.95);
    for (t, h) in &per_terminal {
        let e = b.by_terminal.entry(t.to_string()).or_default();
        e.timed = latency::count(h);
        e.latency_p50_ms = latency::quantile(h, 0.5);
        e.latency_p95_ms = latency::quantile(h, 0.95);
    }
    if let Some(fleet_p95) = b.latency_p95_ms {
        for (t, e) in &b.by_terminal {
            if let (Some(p50), Some(p95)) = (e.latency_p50_ms, e.latency_p95_ms) {
                if e.timed >= cfg.min_volume && p50 > fleet_p95 && !t.is_empty() {
                    b.slow_terminals.push(SlowTerminal {
                        terminal_id: t.clone(),
                        merchant_id: merchant_of.get(t).cloned().unwrap_or_default(),
                        timed: e.timed,
                        p50_ms: p50,
                        p95_ms: p95,
                        fleet_p95_ms: fleet_p95,
                    });
                }
            }
        }
        b.slow_terminals.sort_by(|x, y| {
            y.p50_ms
                .total_cmp(&x.p50_ms)
                .then(x.terminal_id.cmp(&y.terminal_id))
        });
    }

    b.fallback_warnings = fallback_warnings(&b, merchant_of, cfg);
    b.fallback_baseline = ratio(b.fallbacks, b.chip_reads + b.fallbacks);
    b.by_period = by_period(cube, hour_code, periods);
    b
}

/// Terminals whose fallback rate is significantly above the fleet's: each terminal's
/// fallbacks among its chip-card reads against the healthy fleet's own spread (a robustly
/// fitted beta-binomial, as for the terminal flags: terminals' fallback rates differ with their
/// customers' cards, so one binomial rate would warn about dozens of healthy terminals),
/// Benjamini–Hochberg across the terminals with enough reads (`--min-volume`), as for flags.
fn fallback_warnings(
    b: &Beyond,
    merchant_of: &BTreeMap<String, String>,
    cfg: &AnalyzeConfig,
) -> Vec<FallbackWarning> {
    let n_all = b.chip_reads + b.fallbacks;
    if n_all == 0 || b.fallbacks == 0 {
        return Vec::new();
    }
    let judged: Vec<(&String, &TerminalExtra)> = b
        .by_terminal
        .iter()
        .filter(|(t, e)| !t.is_empty() && e.chip_reads + e.fallbacks >= cfg.min_volume)
        .collect();
    let units: Vec<(u64, u64)> = judged
        .iter()
        .map(|(_, e)| (e.fallbacks, e.chip_reads + e.fallbacks))
        .collect();
    let null = stats::BetaBinomial::fit_robust(&units).unwrap_or(stats::BetaBinomial {
        mean: ratio(b.fallbacks, n_all),
        rho: 0.0,
    });
    let baseline = null.mean;
    let p: Vec<f64> = units
        .iter()
        .map(|&(k, n)| if k == 0 { 1.0 } else { null.sf(k, n) })
        .collect();
    let q = stats::benjamini_hochberg(&p);
    let mut out: Vec<FallbackWarning> = judged
        .iter()
        .zip(p.iter().zip(&q))
        .filter(|((_, e), (_, q))| {
            **q <= cfg.fdr && e.fallback_rate().is_some_and(|r| r > baseline)
        })
        .map(|((t, e), (p, q))| FallbackWarning {
            terminal_id: t.to_string(),
            merchant_id: merchant_of.get(*t).cloned().unwrap_or_default(),
            chip_reads: e.chip_reads,
            fallbacks: e.fallbacks,
            fallback_rate: e.fallback_rate().unwrap_or(0.0),
            baseline_rate: baseline,
            p_value: *p,
            q_value: *q,
        })
        .collect();
    out.sort_by(|x, y| {
        y.fallback_rate
            .total_cmp(&x.fallback_rate)
            .then(x.terminal_id.cmp(&y.terminal_id))
    });
    out
}

/// Lost sales and response times per period of `by_period`.
fn by_period(cube: &Cube, hour_code: &[Cell<'_>], periods: &[Period]) -> Vec<PeriodExtra> {
    let mut out: Vec<PeriodExtra> = periods
        .iter()
        .map(|p| PeriodExtra {
            start: p.start,
            ..PeriodExtra::default()
        })
        .collect();
    // The period holding an hour: the last one starting at or before it.
    let index = |hour: i64| periods.partition_point(|p| p.start <= hour).checked_sub(1);
    for c in hour_code {
        if let Some(i) = index(c.hour()) {
            out[i].add_sales(c);
        }
    }
    let mut hists: Vec<Hist> = vec![[0; BUCKETS]; periods.len()];
    for (hour, h) in cube.latency_by_hour(i64::MIN, i64::MAX) {
        if let Some(i) = index(*hour) {
            latency::add(&mut hists[i], h);
        }
    }
    for (o, h) in out.iter_mut().zip(&hists) {
        o.latency_p50_ms = latency::quantile(h, 0.5);
        o.latency_p95_ms = latency::quantile(h, 0.95);
    }
    out
}
