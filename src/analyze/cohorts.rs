//! Cohorts: each terminal model, and each firmware within a model, against the whole fleet.
//! A model that runs hot is a model (or firmware) matter, not hundreds of faulty terminals:
//! the terminal verdicts judge each terminal against its own cohort, and this table says which
//! cohorts differ from the fleet.
//!
//! The p-value is two-sided for "this cohort's pooled terminal-fault rate differs from the rest
//! of the fleet's", with the variance of a pooled rate under the fleet's beta-binomial spread
//! (μ(1−μ)/N · (1 + (n̄−1)ρ), n̄ the volume-weighted mean volume): terminals differ by site and
//! card mix, so 300 terminals are not 300 × their volume of independent coin flips. A cohort
//! of one terminal, or with fewer than ten expected faults, gets the exact beta-binomial tail.

use std::collections::BTreeMap;

use serde::Serialize;

use super::stats::{self, BetaBinomial};
use super::{ratio, TerminalRow};
use crate::classify::Class;
use crate::cube::attrs::AttrMap;

#[derive(Debug, Clone, Serialize)]
pub struct CohortRow {
    /// `model` or `firmware`.
    pub cohort_field: String,
    /// The model, or `model / firmware`.
    pub cohort: String,
    pub terminals: u64,
    pub transactions: u64,
    pub terminal_faults: u64,
    pub terminal_fault_rate: f64,
    pub ratio_to_fleet: f64,
    pub p_value: f64,
}

/// A cohort runs hot (the report says so) at this ratio to the fleet...
pub const HOT_RATIO: f64 = 1.5;
/// ...with this p-value at most, over at least [`HOT_TERMINALS`] terminals.
pub const HOT_P: f64 = 1e-3;
pub const HOT_TERMINALS: u64 = 10;
/// Below this many expected faults the p-value is exact, not the normal approximation.
const MIN_EXPECTED: f64 = 10.0;

impl CohortRow {
    pub fn runs_hot(&self) -> bool {
        self.ratio_to_fleet >= HOT_RATIO && self.p_value <= HOT_P && self.terminals >= HOT_TERMINALS
    }
}

/// The cohorts worth a sentence: the models that run hot, then the firmwares that run hot
/// within a model that as a whole does not (else the model's sentence says it).
pub fn hot(cohorts: &[CohortRow]) -> Vec<&CohortRow> {
    let hot_model = |name: &str| {
        cohorts.iter().any(|c| {
            c.cohort_field == "model"
                && c.runs_hot()
                && name.starts_with(&format!("{} / ", c.cohort))
        })
    };
    let mut out: Vec<&CohortRow> = cohorts
        .iter()
        .filter(|c| c.runs_hot() && (c.cohort_field == "model" || !hot_model(&c.cohort)))
        .collect();
    out.sort_by_key(|c| c.cohort_field != "model");
    out
}

/// The cohort table: models, then firmwares, by name. Empty when no terminal has a model.
pub fn table(rows: &[TerminalRow], attrs: &AttrMap) -> Vec<CohortRow> {
    let kn = |r: &TerminalRow| (r.counts.get(Class::Terminal), r.counts.transactions);
    let (fk, fn_) = rows
        .iter()
        .map(kn)
        .fold((0, 0), |a, x| (a.0 + x.0, a.1 + x.1));
    let fleet_rate = ratio(fk, fn_);
    // The fleet's spread between terminals, from the healthy judged ones.
    let healthy: Vec<(u64, u64)> = rows
        .iter()
        .filter(|r| r.status == super::Status::Ok)
        .map(kn)
        .collect();
    let rho = BetaBinomial::fit(&healthy).map_or(0.0, |b| b.rho);
    let mut groups: BTreeMap<(&'static str, String), Vec<(u64, u64)>> = BTreeMap::new();
    for r in rows {
        let Some(a) = attrs.get(&r.terminal_id) else {
            continue;
        };
        if a.model.is_empty() {
            continue;
        }
        groups
            .entry(("model", a.model.clone()))
            .or_default()
            .push(kn(r));
        if !a.firmware.is_empty() {
            groups
                .entry(("firmware", format!("{} / {}", a.model, a.firmware)))
                .or_default()
                .push(kn(r));
        }
    }
    groups
        .into_iter()
        .map(|((field, name), units)| {
            let (k, n) = units.iter().fold((0, 0), |a, x| (a.0 + x.0, a.1 + x.1));
            let (rk, rn) = (fk - k, fn_ - n);
            let rest = if rn > 0 { ratio(rk, rn) } else { fleet_rate };
            let rate = ratio(k, n);
            let n2: f64 = units.iter().map(|u| (u.1 as f64).powi(2)).sum();
            let nbar = if n > 0 { n2 / n as f64 } else { 0.0 };
            let var = rest * (1.0 - rest) / (n.max(1) as f64) * (1.0 + (nbar - 1.0).max(0.0) * rho);
            let p_value = if (n as f64) * rest < MIN_EXPECTED || units.len() < 2 {
                // Too few expected faults for the normal approximation (one terminal of three
                // transactions with one fault would read as p = 1e-19): the exact two-sided
                // tail, the cohort taken as one terminal of the fleet's spread (wider than the
                // pooled count of several terminals, so on the safe side).
                let null = BetaBinomial {
                    mean: rest.max(0.5 / fn_.max(1) as f64),
                    rho,
                };
                let upper = null.sf(k, n);
                let lower = 1.0 - null.sf(k + 1, n);
                (2.0 * upper.min(lower)).min(1.0)
            } else if var > 0.0 {
                (2.0 * stats::normal_sf(((rate - rest) / var.sqrt()).abs())).min(1.0)
            } else {
                1.0
            };
            CohortRow {
                cohort_field: field.to_string(),
                cohort: name,
                terminals: units.len() as u64,
                transactions: n,
                terminal_faults: k,
                terminal_fault_rate: rate,
                ratio_to_fleet: if fleet_rate > 0.0 {
                    rate / fleet_rate
                } else {
                    0.0
                },
                p_value,
            }
        })
        .collect()
}
