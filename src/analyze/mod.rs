//! Analysis: every question the reports answer, each as a query over the [`Cube`].
//!
//! Nothing here sees a row: the cube holds counts per terminal × merchant × hour × code, and
//! the catalog turns codes into classes. Results are plain sorted structs; the report model
//! turns them into words.

pub mod beyond;
pub mod cohorts;
pub mod incidents;
pub mod periods;
pub mod regressions;
pub mod silent;
pub mod stats;
pub mod terminals;

use std::collections::BTreeMap;

use serde::Serialize;

use crate::classify::{Catalog, Class};
use crate::config::{AnalyzeConfig, Bucket};
use crate::cube::{Cube, CODE, HOUR, MERCHANT, MERCHANT_NAME, TERMINAL};
use crate::error::Result;
use chrono_tz::Tz;

pub use crate::ingest::jpos::NO_TERMINAL;
pub use cohorts::CohortRow;
pub use incidents::Incident;
pub use periods::Period;
pub use regressions::Regression;
pub use silent::Silent;
pub use terminals::{CohortModel, Flag, Reader, Status, TerminalRow};

/// Counts per class for some slice of the data.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct ClassCounts {
    pub transactions: u64,
    /// Indexed by [`Class::index`].
    pub by_class: [u64; 6],
}

impl ClassCounts {
    pub fn add(&mut self, class: Class, n: u64) {
        self.transactions += n;
        self.by_class[class.index()] += n;
    }

    /// Add another slice's counts.
    pub fn merge(&mut self, other: &ClassCounts) {
        self.transactions += other.transactions;
        for (a, b) in self.by_class.iter_mut().zip(other.by_class) {
            *a += b;
        }
    }

    pub fn get(&self, class: Class) -> u64 {
        self.by_class[class.index()]
    }

    pub fn failures(&self) -> u64 {
        self.transactions - self.get(Class::Approved)
    }

    /// failures / transactions (0 when there are none).
    pub fn failure_rate(&self) -> f64 {
        ratio(self.failures(), self.transactions)
    }

    /// terminal-class failures / transactions.
    pub fn terminal_fault_rate(&self) -> f64 {
        ratio(self.get(Class::Terminal), self.transactions)
    }
}

/// The class of every code in the cube, looked up in the catalog once: analysis asks for the
/// class of millions of cells, and a hash lookup is much cheaper than the catalog's.
pub struct CodeClasses {
    classes: std::collections::HashMap<String, Class, crate::cube::FastState>,
    /// By the code's number in the cube ([`crate::cube::Cell::code_id`]).
    by_id: Vec<Class>,
}

impl CodeClasses {
    /// The classes of the cube's codes.
    pub fn new(catalog: &Catalog, cube: &Cube) -> CodeClasses {
        let by_id: Vec<Class> = cube.codes().map(|c| catalog.class_of(c)).collect();
        let mut classes = std::collections::HashMap::with_hasher(crate::cube::fast_state());
        for (code, class) in cube.codes().zip(&by_id) {
            classes.insert(code.to_string(), *class);
        }
        CodeClasses { classes, by_id }
    }

    pub fn class_of(&self, code: &str) -> Class {
        self.classes.get(code).copied().unwrap_or(Class::Unknown)
    }

    /// The class of the cube's code number `id` (as [`crate::cube::Cell::code_id`]).
    pub fn of_code_id(&self, id: usize) -> Class {
        self.by_id.get(id).copied().unwrap_or(Class::Unknown)
    }

    /// The class of a rollup row's code, for rows of the cube the classes were made from.
    pub fn of(&self, c: &crate::cube::Cell<'_>) -> Class {
        self.by_id
            .get(c.code_id())
            .copied()
            .unwrap_or(Class::Unknown)
    }
}

pub fn ratio(a: u64, b: u64) -> f64 {
    if b == 0 {
        0.0
    } else {
        a as f64 / b as f64
    }
}

/// Transactions per response code.
#[derive(Debug, Clone, Serialize)]
pub struct CodeRow {
    pub code: String,
    pub class: Class,
    pub transactions: u64,
    pub share: f64,
}

/// Per merchant.
#[derive(Debug, Clone, Serialize)]
pub struct MerchantRow {
    pub merchant_id: String,
    pub merchant_name: String,
    pub terminals: u64,
    pub counts: ClassCounts,
}

/// Hours in which the fleet's network-class failures spiked.
#[derive(Debug, Clone, Serialize)]
pub struct Outage {
    /// First hour (instant) of the outage.
    pub start: i64,
    /// End (exclusive): the hour after the last bad hour.
    pub end: i64,
    pub transactions: u64,
    pub network_failures: u64,
    pub terminals_hit: u64,
    /// Peak robust z-score of the hourly network-failure rate.
    pub peak_z: f64,
}

/// A terminal whose fraud-class codes cluster in a short window (card testing).
#[derive(Debug, Clone, Serialize)]
pub struct FraudBurst {
    pub terminal_id: String,
    pub start: i64,
    pub end: i64,
    pub fraud: u64,
    pub transactions: u64,
    pub p_value: f64,
}

/// Everything the reports need.
#[derive(Debug, Clone, Serialize)]
pub struct Analysis {
    pub totals: ClassCounts,
    /// Rows whose code the catalog marks as an intermediate message (not a transaction):
    /// left out of every count.
    pub non_transactions: u64,
    /// Transactions without a terminal id (jPOS responses with no field 41 and no request):
    /// counted in the totals, rates over time and by code, never judged as a terminal.
    pub unattributed: u64,
    pub amount_minor: i64,
    pub first_hour: Option<i64>,
    pub last_hour: Option<i64>,
    pub bucket: Bucket,
    pub by_period: Vec<Period>,
    pub by_terminal: Vec<TerminalRow>,
    pub by_code: Vec<CodeRow>,
    pub by_merchant: Vec<MerchantRow>,
    /// The fleet's terminal-class rate the flags were tested against.
    pub baseline_rate: f64,
    /// How well the binomial model fits the healthy fleet (see [`terminals::TerminalAnalysis`]).
    pub baseline_dispersion: Option<f64>,
    pub flagged: Vec<Flag>,
    pub outages: Vec<Outage>,
    pub fraud_bursts: Vec<FraudBurst>,
    /// Week-over-week rises in failure rate (terminals, then merchants).
    pub regressions: Vec<Regression>,
    /// Terminal × day terminal-fault rates for the heatmap: (terminal, day start, counts).
    pub daily_by_terminal: Vec<(String, i64, ClassCounts)>,
    /// Purchases and lost sales, chip fallback, response times.
    pub beyond: beyond::Beyond,
    /// The fitted null of each cohort the terminals were judged in.
    pub cohort_models: Vec<CohortModel>,
    /// Each model and firmware against the fleet (empty without terminal models).
    pub cohorts: Vec<CohortRow>,
    pub silent: Vec<Silent>,
    /// Fleet incidents of every class (the outages are the network ones), sorted by start.
    pub incidents: Vec<Incident>,
}

/// Run every analysis over the cube.
pub fn analyze(cube: &Cube, catalog: &Catalog, cfg: &AnalyzeConfig, tz: Tz) -> Result<Analysis> {
    // Intermediate messages (`09` "request in progress" where a network sends it before the
    // real answer) are not transactions: they are left out of every count and reported.
    let mut trimmed = None;
    let by_code_cells = cube.rollup(&[CODE])?;

    if by_code_cells
        .iter()
        .any(|c| !catalog.is_transaction(c.code()))
    {
        let mut t = cube.clone();
        t.remove_codes(|code| !catalog.is_transaction(code));
        trimmed = Some(t);
    }
    let non_transactions: u64 = by_code_cells
        .iter()
        .filter(|c| !catalog.is_transaction(c.code()))
        .map(|c| c.transactions)
        .sum();
    let cube = trimmed.as_ref().unwrap_or(cube);
    let by_code_cells = match trimmed {
        Some(_) => cube.rollup(&[CODE])?,
        None => by_code_cells,
    };
    let classes = CodeClasses::new(catalog, cube);
    let mut totals = ClassCounts::default();
    let mut amount_minor = 0;
    for c in &by_code_cells {
        totals.add(catalog.class_of(c.code()), c.transactions);
        amount_minor += c.amount_minor;
    }
    let by_code = by_code(&by_code_cells, catalog, totals.transactions);

    // Three rollups that only read the cube, side by side.
    let (hour_code, (term_hour_code, term_merchant)) = rayon::join(
        || cube.rollup(&[HOUR, CODE]),
        || {
            rayon::join(
                // Walked several times, never held: in a big fleet it has millions of rows.
                || cube.rollup_iter(&[TERMINAL, HOUR, CODE]),
                || cube.rollup(&[TERMINAL, MERCHANT]),
            )
        },
    );
    let (hour_code, term_hour_code, term_merchant) = (hour_code?, term_hour_code?, term_merchant?);

    let mut hourly: BTreeMap<i64, ClassCounts> = BTreeMap::new();
    for c in &hour_code {
        hourly
            .entry(c.hour())
            .or_default()
            .add(catalog.class_of(c.code()), c.transactions);
    }
    let first_hour = hourly.keys().next().copied();
    let last_hour = hourly.keys().next_back().copied();
    let by_period = periods::bucketize(&hourly, cfg.bucket, tz);
    let mut attrs = cube.attrs();
    for (t, a) in &cfg.inventory {
        attrs.entry(t.clone()).or_default().fill_from(a);
    }
    // The terminal verdicts and what follows from them, in order: fleet incidents first
    // (their hours count against no terminal), then the verdicts, the silent terminals, the
    // cohort table and the issuer incidents. One task: the other core takes the rest.
    let verdicts = || -> Result<_> {
        let fleet_incidents = incidents::fleet(cube, &hourly, &classes);
        let excluded: Vec<(i64, i64)> = fleet_incidents
            .iter()
            .filter(|i| i.class == Class::Terminal)
            .map(|i| (i.start, i.end))
            .collect();
        let ctx = terminals::Context {
            attrs: &attrs,
            excluded: &excluded,
        };
        let tt = terminals::analyze(
            term_hour_code.iter(),
            &term_merchant,
            &classes,
            cfg,
            tz,
            &ctx,
        )?;
        let merchant_of: BTreeMap<String, String> = tt
            .rows
            .iter()
            .map(|r| (r.terminal_id.clone(), r.merchant_id.clone()))
            .collect();
        let silent = silent::find(&tt.volume, &merchant_of, tz);
        let cohorts = cohorts::table(&tt.rows, &attrs);
        let issuer_incidents = incidents::issuers(cube, &classes, &hourly);
        Ok((
            tt,
            merchant_of,
            silent,
            cohorts,
            fleet_incidents,
            issuer_incidents,
        ))
    };

    // The terminal verdicts and the fleet-wide questions only read the cube: five tasks,
    // shared by the cores as they come free (the terminal verdicts are the longest).
    let regressions = || match first_hour
        .zip(last_hour)
        .and_then(|(f, l)| regressions::weeks(f, l, tz))
    {
        Some(weeks) => week_over_week(cube, &classes, weeks, cfg.fdr, tz),
        None => Ok(Vec::new()),
    };
    // The terminal verdicts are the longest task: alone on one core, the rest on the other
    // (and back to the first when it is done).
    let (verdicts, (by_merchant, ((outages, fraud_bursts), regressions))) =
        rayon::join(verdicts, || {
            rayon::join(
                || by_merchant(cube, &classes),
                || {
                    rayon::join(
                        || {
                            rayon::join(
                                || outages(&hourly, term_hour_code.iter(), &classes),
                                || fraud_bursts(term_hour_code.iter(), &classes, &totals),
                            )
                        },
                        regressions,
                    )
                },
            )
        });
    let (by_merchant, regressions) = (by_merchant?, regressions?);
    let (tt, merchant_of, silent, cohorts, fleet_incidents, issuer_incidents) = verdicts?;
    // An outage that is one issuer's cards is reported as that issuer's incident, not as the
    // fleet's outage.
    let mut outages = outages;
    outages.retain(|o| !incidents::explained_by_issuer(o, &issuer_incidents));
    let mut all_incidents = incidents::from_outages(&outages, cube, &classes);
    all_incidents.extend(fleet_incidents);
    all_incidents.extend(issuer_incidents);
    incidents::sort(&mut all_incidents);
    let beyond = beyond::analyze(
        cube,
        &term_merchant,
        &hour_code,
        &merchant_of,
        &by_period,
        cfg,
    );

    Ok(Analysis {
        totals,
        non_transactions,
        unattributed: tt.unattributed,
        amount_minor,
        first_hour,
        last_hour,
        bucket: cfg.bucket,
        by_period,
        by_terminal: tt.rows,
        by_code,
        by_merchant,
        baseline_rate: tt.baseline_rate,
        baseline_dispersion: tt.dispersion,
        flagged: tt.flagged,
        outages,
        fraud_bursts,
        regressions,
        daily_by_terminal: tt.daily,
        beyond,
        cohort_models: tt.models,
        cohorts,
        silent,
        incidents: all_incidents,
    })
}

/// Terminals, then merchants, whose failure rate rose from the previous week to the last
/// one: each week's counts per entity and code are small rollups of the two weeks' cells.
fn week_over_week(
    cube: &Cube,
    classes: &CodeClasses,
    weeks: (i64, i64),
    fdr: f64,
    tz: Tz,
) -> Result<Vec<Regression>> {
    let (prev, cur) = weeks;
    let cur_end = periods::next_period(cur, Bucket::Week, tz);
    // Terminal first for both: the cube's order, folded a terminal at a time (`find` adds
    // the rows up per `key`). Terminals and merchants on both cores.
    let find = |kind: &'static str, key: &str, dims: &[&str]| -> Result<Vec<Regression>> {
        let before = cube.rollup_window(dims, prev, cur)?;
        let after = cube.rollup_window(dims, cur, cur_end)?;
        Ok(regressions::find(
            kind,
            key,
            before.iter(),
            after.iter(),
            classes,
            weeks,
            fdr,
        ))
    };
    let (terminals, merchants) = rayon::join(
        || find("terminal", TERMINAL, &[TERMINAL, CODE]),
        || find("merchant", MERCHANT, &[TERMINAL, MERCHANT, CODE]),
    );
    let mut out = terminals?;
    out.extend(merchants?);
    Ok(out)
}

fn by_code(cells: &[crate::cube::Cell<'_>], catalog: &Catalog, total: u64) -> Vec<CodeRow> {
    let mut rows: Vec<CodeRow> = cells
        .iter()
        .map(|c| CodeRow {
            code: c.code().to_string(),
            class: catalog.class_of(c.code()),
            transactions: c.transactions,
            share: ratio(c.transactions, total),
        })
        .collect();
    // Most frequent first; ties by code, so the order is total.
    rows.sort_by(|a, b| {
        b.transactions
            .cmp(&a.transactions)
            .then(a.code.cmp(&b.code))
    });
    rows
}

/// Per merchant while rolling up: transactions per name spelling, terminals, class counts.
type MerchantAcc<'a> = (
    BTreeMap<&'a str, u64>,
    std::collections::BTreeSet<&'a str>,
    ClassCounts,
);

fn by_merchant(cube: &Cube, classes: &CodeClasses) -> Result<Vec<MerchantRow>> {
    // Terminal first: the cube's own order, so the rollup is folded one terminal at a time
    // (merchant first would sum the whole cube in a hash map).
    let cells = cube.rollup_iter(&[TERMINAL, MERCHANT, MERCHANT_NAME, CODE])?;
    let mut rows: BTreeMap<&str, MerchantAcc> = BTreeMap::new();
    for c in cells.iter() {
        let e = rows.entry(c.merchant()).or_default();
        let name = c.merchant_name();
        if !name.is_empty() {
            *e.0.entry(name).or_default() += c.transactions;
        }
        e.1.insert(c.terminal());
        e.2.add(classes.of(&c), c.transactions);
    }
    Ok(rows
        .into_iter()
        .map(|(merchant_id, (names, terminals, counts))| MerchantRow {
            merchant_id: merchant_id.to_string(),
            // The most used spelling of the name; ties to the first in sort order.
            merchant_name: names
                .iter()
                .max_by(|a, b| a.1.cmp(b.1).then(b.0.cmp(a.0)))
                .map(|(n, _)| n.to_string())
                .unwrap_or_default(),
            terminals: terminals.len() as u64,
            counts,
        })
        .collect())
}

/// Outages: hours whose fleet-wide network-failure rate is far above the usual hour
/// (robust z-score: median and MAD, so the outage itself does not hide in the spread).
fn outages<'a>(
    hourly: &BTreeMap<i64, ClassCounts>,
    term_hour_code: impl Iterator<Item = crate::cube::Cell<'a>>,
    catalog: &CodeClasses,
) -> Vec<Outage> {
    const MIN_HOUR_VOLUME: u64 = 10;
    const Z_THRESHOLD: f64 = 6.0;
    let rates: Vec<f64> = hourly
        .values()
        .filter(|c| c.transactions >= MIN_HOUR_VOLUME)
        .map(|c| ratio(c.get(Class::Network), c.transactions))
        .collect();
    let (Some(med), Some(mad)) = (stats::median(&rates), stats::mad(&rates)) else {
        return Vec::new();
    };
    // Floor on the spread: a fleet with almost no network errors must not call 2 errors an
    // outage.
    let floor = 0.01;
    let bad: Vec<(i64, f64)> = hourly
        .iter()
        .filter(|(_, c)| c.transactions >= MIN_HOUR_VOLUME && c.get(Class::Network) >= 5)
        .map(|(h, c)| {
            (
                *h,
                stats::robust_z(
                    ratio(c.get(Class::Network), c.transactions),
                    med,
                    mad,
                    floor,
                ),
            )
        })
        .filter(|(_, z)| *z >= Z_THRESHOLD)
        .collect();
    let mut out: Vec<Outage> = Vec::new();
    for (h, z) in bad {
        let c = hourly[&h];
        match out.last_mut() {
            Some(o) if o.end == h => {
                o.end = h + 3600;
                o.transactions += c.transactions;
                o.network_failures += c.get(Class::Network);
                o.peak_z = o.peak_z.max(z);
            }
            _ => out.push(Outage {
                start: h,
                end: h + 3600,
                transactions: c.transactions,
                network_failures: c.get(Class::Network),
                terminals_hit: 0,
                peak_z: z,
            }),
        }
    }
    // Terminals with network failures in each outage, in one walk over the cells (outages
    // are sorted and do not overlap).
    if !out.is_empty() {
        let mut hit: Vec<std::collections::BTreeSet<&str>> = vec![Default::default(); out.len()];
        for c in term_hour_code {
            let h = c.hour();
            let i = out.partition_point(|o| o.end <= h);
            if i < out.len() && out[i].start <= h && catalog.of(&c) == Class::Network {
                hit[i].insert(c.terminal());
            }
        }
        for (o, h) in out.iter_mut().zip(hit) {
            o.terminals_hit = h.len() as u64;
        }
    }
    out
}

/// Fraud bursts: a terminal-hour with at least 5 fraud-class codes, far more than the fleet's
/// fraud rate explains (p < 1e-6), merged over consecutive hours.
fn fraud_bursts<'a>(
    term_hour_code: impl Iterator<Item = crate::cube::Cell<'a>>,
    catalog: &CodeClasses,
    totals: &ClassCounts,
) -> Vec<FraudBurst> {
    let fleet = ratio(totals.get(Class::Fraud), totals.transactions).max(1e-6);
    let mut out: Vec<FraudBurst> = Vec::new();
    // A terminal-hour with enough fraud codes to matter joins the burst of the hour before.
    let mut judge = |term: &str, hour: i64, fraud: u64, n: u64| {
        if fraud < 5 {
            return;
        }
        let p = stats::binom_sf(fraud, n, fleet);
        if p >= 1e-6 {
            return;
        }
        match out.last_mut() {
            Some(b) if b.terminal_id == term && b.end == hour => {
                b.end = hour + 3600;
                b.fraud += fraud;
                b.transactions += n;
                b.p_value = b.p_value.min(p);
            }
            _ => out.push(FraudBurst {
                terminal_id: term.to_string(),
                start: hour,
                end: hour + 3600,
                fraud,
                transactions: n,
                p_value: p,
            }),
        }
    };
    // Cells come sorted by (terminal, hour): each terminal-hour is one run.
    let mut run: Option<((&str, i64), u64, u64)> = None;
    for c in term_hour_code {
        let key = (c.terminal(), c.hour());
        if key.0 == NO_TERMINAL {
            continue;
        }
        if run.is_none_or(|r| r.0 != key) {
            if let Some(((t, h), f, n)) = run {
                judge(t, h, f, n);
            }
            run = Some((key, 0, 0));
        }
        if let Some(r) = run.as_mut() {
            r.2 += c.transactions;
            if catalog.of(&c) == Class::Fraud {
                r.1 += c.transactions;
            }
        }
    }
    if let Some(((t, h), f, n)) = run {
        judge(t, h, f, n);
    }
    out
}
