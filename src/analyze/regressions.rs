//! Regressions: terminals and merchants whose failure rate rose significantly from the
//! previous week to the last full week in the data (ISO weeks, Monday start, in `--tz`).
//!
//! Test: one-sided two-proportion z-test (pooled), Benjamini–Hochberg across the entities of
//! each kind at the run's `--fdr`; plus a floor (both weeks at least 50 transactions, the rate
//! at least one percentage point higher) so a quiet till with 1 of 3 failing is not news.

use std::collections::BTreeMap;

use chrono_tz::Tz;
use serde::Serialize;

use super::periods::{day_start, next_period, week_start};

use super::CodeClasses as Catalog;
use super::{stats, ClassCounts};
use crate::classify::Class;
use crate::cube::Cell;

/// One entity whose failure rate rose.
#[derive(Debug, Clone, Serialize)]
pub struct Regression {
    /// `terminal` or `merchant`.
    pub kind: &'static str,
    pub id: String,
    /// Start of the week compared (instant).
    pub week: i64,
    pub previous_week: i64,
    pub previous: ClassCounts,
    pub current: ClassCounts,
    pub p_value: f64,
    pub q_value: f64,
    /// The failure class that grew most.
    pub main_class: Class,
}

const MIN_WEEK_VOLUME: u64 = 50;
const MIN_RISE: f64 = 0.01;

/// The last week whose seven days all have data, and the week before it (which must also lie
/// within the data). A week counts as covered when the data reach into its Sunday.
pub fn weeks(first_hour: i64, last_hour: i64, tz: Tz) -> Option<(i64, i64)> {
    use crate::config::Bucket;
    let end_of_data = next_period(day_start(last_hour, tz), Bucket::Day, tz);
    let mut week = week_start(last_hour, tz);
    if next_period(week, Bucket::Week, tz) > end_of_data {
        week = week_start(week - 1, tz);
    }
    let previous = week_start(week - 1, tz);
    (previous >= day_start(first_hour, tz)).then_some((previous, week))
}

/// `previous` and `current`: the two weeks' cells keyed by (`key`, code); `kind` names the
/// entity in the results.
pub fn find<'a>(
    kind: &'static str,
    key: &str,
    previous: impl Iterator<Item = Cell<'a>>,
    current: impl Iterator<Item = Cell<'a>>,
    catalog: &Catalog,
    weeks: (i64, i64),
    fdr: f64,
) -> Vec<Regression> {
    let (prev, cur) = weeks;
    let mut per: BTreeMap<&str, (ClassCounts, ClassCounts)> = BTreeMap::new();
    for (week, cells) in [
        (0, Box::new(previous) as Box<dyn Iterator<Item = Cell<'a>>>),
        (1, Box::new(current)),
    ] {
        for c in cells {
            let id = c.text(key);
            if id == super::NO_TERMINAL {
                continue;
            }
            let e = per.entry(id).or_default();
            let counts = if week == 0 { &mut e.0 } else { &mut e.1 };
            counts.add(catalog.of(&c), c.transactions);
        }
    }
    let judged: Vec<(&str, ClassCounts, ClassCounts)> = per
        .into_iter()
        .filter(|(_, (a, b))| {
            a.transactions >= MIN_WEEK_VOLUME && b.transactions >= MIN_WEEK_VOLUME
        })
        .map(|(id, (a, b))| (id, a, b))
        .collect();
    let p: Vec<f64> = judged
        .iter()
        .map(|(_, a, b)| {
            stats::two_proportion_z(a.failures(), a.transactions, b.failures(), b.transactions).1
        })
        .collect();
    let q = stats::benjamini_hochberg(&p);
    let mut out: Vec<Regression> = judged
        .into_iter()
        .zip(p.into_iter().zip(q))
        .filter(|((_, a, b), (_, q))| *q <= fdr && b.failure_rate() - a.failure_rate() >= MIN_RISE)
        .map(|((id, a, b), (p, q))| {
            let main_class = [
                Class::Declined,
                Class::Fraud,
                Class::Network,
                Class::Terminal,
                Class::Unknown,
            ]
            .into_iter()
            .max_by(|x, y| {
                let d = |c: Class| {
                    b.get(c) as f64 / b.transactions as f64
                        - a.get(c) as f64 / a.transactions as f64
                };
                d(*x).total_cmp(&d(*y))
            })
            .unwrap_or(Class::Unknown);
            Regression {
                kind,
                id: id.to_string(),
                week: cur,
                previous_week: prev,
                previous: a,
                current: b,
                p_value: p,
                q_value: q,
                main_class,
            }
        })
        .collect();
    out.sort_by(|a, b| a.p_value.total_cmp(&b.p_value).then(a.id.cmp(&b.id)));
    out
}
