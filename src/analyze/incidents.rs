//! Incidents: hours in which many terminals fail at once, in any class, and spikes confined to
//! one issuer's cards. Neither is a terminal's fault, so their hours are kept out of the
//! terminal verdicts (`terminals.rs`).
//!
//! - Fleet (scope `fleet`): an hour whose rate of one failure class is far above the fleet's
//!   usual hour (robust z ≥ [`Z_THRESHOLD`] against the median and MAD of every hour's rate,
//!   with a floor on the spread of 1 percentage point) and that hits many terminals at once
//!   (at least [`MIN_TERMINALS`] terminals and [`MIN_SHARE`] of the terminals trading that
//!   hour). Consecutive hours merge. A terminal-class incident is the acquirer's side (a key
//!   roll-over, a host set-up change); the network-class ones are the outages of `mod.rs`.
//! - Issuer (scope `issuer`): the same test on the cards of one issuer (first six digits of
//!   the card), across terminals, in an hour when the rest of the fleet is normal.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use super::{ratio, stats, ClassCounts, CodeClasses, Outage};
use crate::classify::Class;
use crate::cube::{issuers, Cell, Cube};

pub const Z_THRESHOLD: f64 = 6.0;
pub const MIN_TERMINALS: u64 = 5;
pub const MIN_SHARE: f64 = 0.2;
const MIN_FAILURES: u64 = 10;
const SPREAD_FLOOR: f64 = 0.01;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Scope {
    Fleet,
    Issuer,
}

impl Scope {
    pub fn name(self) -> &'static str {
        match self {
            Scope::Fleet => "fleet",
            Scope::Issuer => "issuer",
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Incident {
    pub start: i64,
    /// Exclusive: the hour after the last bad hour.
    pub end: i64,
    pub scope: Scope,
    /// First six digits of the cards, for scope `issuer`.
    pub issuer_bin: String,
    pub class: Class,
    /// The class's codes in the incident, most frequent first.
    pub top_codes: Vec<(String, u64)>,
    pub terminals_hit: u64,
    pub transactions: u64,
    pub failures: u64,
}

/// Per hour, what the fleet test needs: terminals trading, and per failure class the
/// terminals hit and the codes.
#[derive(Default)]
struct Hour<'a> {
    counts: ClassCounts,
    active: u64,
    /// Per class, the terminals with such a failure in the hour.
    hit: [Vec<&'a str>; 6],
    codes: BTreeMap<(usize, &'a str), u64>,
}

/// Fleet incidents of every failure class but network (those are `outages`, converted by
/// [`from_outages`]).
pub fn fleet<'a>(
    term_hour_code: impl Iterator<Item = Cell<'a>>,
    classes: &CodeClasses,
) -> Vec<Incident> {
    let mut hours: BTreeMap<i64, Hour<'a>> = BTreeMap::new();
    // Cells come sorted by (terminal, hour): one terminal-hour is one run.
    let mut run: Option<(&str, i64, [bool; 6])> = None;
    let close =
        |hours: &mut BTreeMap<i64, Hour<'a>>, t: &'a str, h: i64, classes_hit: [bool; 6]| {
            let e = hours.entry(h).or_default();
            e.active += 1;
            for (a, b) in e.hit.iter_mut().zip(classes_hit) {
                if b {
                    a.push(t);
                }
            }
        };
    for c in term_hour_code {
        let (t, h) = (c.terminal(), c.hour());
        if t == super::NO_TERMINAL {
            continue;
        }
        if run.is_none_or(|r| (r.0, r.1) != (t, h)) {
            if let Some((rt, rh, hit)) = run {
                close(&mut hours, rt, rh, hit);
            }
            run = Some((t, h, [false; 6]));
        }
        let class = classes.of(&c);
        let e = hours.entry(h).or_default();
        e.counts.add(class, c.transactions);
        if class != Class::Approved {
            *e.codes.entry((class.index(), c.code())).or_default() += c.transactions;
            if let Some(r) = run.as_mut() {
                r.2[class.index()] = true;
            }
        }
    }
    if let Some((rt, rh, hit)) = run {
        close(&mut hours, rt, rh, hit);
    }
    let mut out = Vec::new();
    for class in [
        Class::Terminal,
        Class::Declined,
        Class::Fraud,
        Class::Unknown,
    ] {
        let rates: Vec<f64> = hours
            .values()
            .filter(|h| h.counts.transactions >= MIN_FAILURES)
            .map(|h| ratio(h.counts.get(class), h.counts.transactions))
            .collect();
        let (Some(med), Some(mad)) = (stats::median(&rates), stats::mad(&rates)) else {
            continue;
        };
        let mut cur: Option<(Incident, BTreeSet<&str>)> = None;
        for (&h, e) in &hours {
            let k = e.counts.get(class);
            let terms = &e.hit[class.index()];
            let hit = terms.len() as u64;
            let bad = k >= MIN_FAILURES
                && hit >= MIN_TERMINALS
                && hit as f64 >= MIN_SHARE * e.active as f64
                && stats::robust_z(ratio(k, e.counts.transactions), med, mad, SPREAD_FLOOR)
                    >= Z_THRESHOLD;
            if !bad {
                if let Some((mut i, t)) = cur.take() {
                    i.terminals_hit = t.len() as u64;
                    out.push(i);
                }
                continue;
            }
            let codes = e
                .codes
                .iter()
                .filter(|((ci, _), _)| *ci == class.index())
                .map(|((_, code), n)| (code.to_string(), *n));
            match cur.as_mut() {
                Some((i, t)) if i.end == h => {
                    i.end = h + 3600;
                    i.transactions += e.counts.transactions;
                    i.failures += k;
                    t.extend(terms.iter().copied());
                    for (code, n) in codes {
                        add_code(&mut i.top_codes, code, n);
                    }
                }
                _ => {
                    if let Some((mut i, t)) = cur.take() {
                        i.terminals_hit = t.len() as u64;
                        out.push(i);
                    }
                    let mut top = Vec::new();
                    for (code, n) in codes {
                        add_code(&mut top, code, n);
                    }
                    cur = Some((
                        Incident {
                            start: h,
                            end: h + 3600,
                            scope: Scope::Fleet,
                            issuer_bin: String::new(),
                            class,
                            top_codes: top,
                            terminals_hit: 0,
                            transactions: e.counts.transactions,
                            failures: k,
                        },
                        terms.iter().copied().collect(),
                    ));
                }
            }
        }
        if let Some((mut i, t)) = cur.take() {
            i.terminals_hit = t.len() as u64;
            out.push(i);
        }
    }
    for i in &mut out {
        i.top_codes
            .sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    }
    out
}

fn add_code(top: &mut Vec<(String, u64)>, code: String, n: u64) {
    match top.iter_mut().find(|c| c.0 == code) {
        Some(c) => c.1 += n,
        None => top.push((code, n)),
    }
}

/// The network-class fleet incidents: the outages, with their codes.
pub fn from_outages<'a>(
    outages: &[Outage],
    term_hour_code: impl Iterator<Item = Cell<'a>>,
    classes: &CodeClasses,
) -> Vec<Incident> {
    let mut out: Vec<Incident> = outages
        .iter()
        .map(|o| Incident {
            start: o.start,
            end: o.end,
            scope: Scope::Fleet,
            issuer_bin: String::new(),
            class: Class::Network,
            top_codes: Vec::new(),
            terminals_hit: o.terminals_hit,
            transactions: o.transactions,
            failures: o.network_failures,
        })
        .collect();
    if out.is_empty() {
        return out;
    }
    for c in term_hour_code {
        let h = c.hour();
        let i = out.partition_point(|o| o.end <= h);
        if i < out.len() && out[i].start <= h && classes.of(&c) == Class::Network {
            add_code(&mut out[i].top_codes, c.code().to_string(), c.transactions);
        }
    }
    for i in &mut out {
        i.top_codes
            .sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    }
    out
}

/// Transactions a BIN needs in the data before its hours are judged.
const MIN_BIN_VOLUME: u64 = 100;
/// Distinct terminals an issuer incident must reach (else it is one shop's trouble).
const MIN_ISSUER_TERMINALS: usize = 3;
/// The rest of the fleet's rate of the class in that hour must be at most this share of the
/// BIN's: the spike is confined to the issuer's cards.
const CONFINED: f64 = 0.2;

#[derive(Default)]
struct BinHour<'a> {
    transactions: u64,
    failures: [u64; 6],
    terminals: [BTreeSet<&'a str>; 6],
    codes: BTreeMap<(usize, &'a str), u64>,
}

/// Issuer incidents: hours in which one BIN's cards failed in one class far above that BIN's
/// usual hour, across terminals, while the rest of the fleet was normal.
pub fn issuers(
    cube: &Cube,
    classes: &CodeClasses,
    hourly: &BTreeMap<i64, ClassCounts>,
) -> Vec<Incident> {
    let mut bins: BTreeMap<u32, BTreeMap<i64, BinHour<'_>>> = BTreeMap::new();
    for (h, bin, code, term, n) in cube.issuer_rows() {
        let e = bins.entry(bin).or_default().entry(h).or_default();
        match (code, term) {
            (Some(code), Some(term)) => {
                let class = classes.class_of(code);
                if class == Class::Approved {
                    continue;
                }
                e.failures[class.index()] += n;
                e.terminals[class.index()].insert(term);
                *e.codes.entry((class.index(), code)).or_default() += n;
            }
            _ => e.transactions += n,
        }
    }
    let mut out = Vec::new();
    for (bin, hours) in &bins {
        let volume: u64 = hours.values().map(|h| h.transactions).sum();
        if volume < MIN_BIN_VOLUME {
            continue;
        }
        for class in [
            Class::Network,
            Class::Declined,
            Class::Terminal,
            Class::Fraud,
        ] {
            let ci = class.index();
            let rates: Vec<f64> = hours
                .values()
                .filter(|h| h.transactions >= 5)
                .map(|h| ratio(h.failures[ci], h.transactions))
                .collect();
            let (Some(med), Some(mad)) = (stats::median(&rates), stats::mad(&rates)) else {
                continue;
            };
            let mut cur: Option<(Incident, BTreeSet<&str>)> = None;
            for (&h, e) in hours {
                let k = e.failures[ci];
                let rate = ratio(k, e.transactions);
                let fleet = hourly.get(&h).copied().unwrap_or_default();
                let rest = ratio(
                    fleet.get(class).saturating_sub(k),
                    fleet.transactions.saturating_sub(e.transactions),
                );
                let bad = k >= MIN_FAILURES
                    && e.terminals[ci].len() >= MIN_ISSUER_TERMINALS
                    && stats::robust_z(rate, med, mad, SPREAD_FLOOR) >= Z_THRESHOLD
                    && rest <= rate * CONFINED;
                if !bad {
                    if let Some((mut i, t)) = cur.take() {
                        i.terminals_hit = t.len() as u64;
                        out.push(i);
                    }
                    continue;
                }
                let codes: Vec<(String, u64)> = e
                    .codes
                    .iter()
                    .filter(|((c, _), _)| *c == ci)
                    .map(|((_, code), n)| (code.to_string(), *n))
                    .collect();
                match cur.as_mut() {
                    Some((i, t)) if i.end == h => {
                        i.end = h + 3600;
                        i.transactions += e.transactions;
                        i.failures += k;
                        t.extend(e.terminals[ci].iter().copied());
                        for (code, n) in codes {
                            add_code(&mut i.top_codes, code, n);
                        }
                    }
                    _ => {
                        if let Some((mut i, t)) = cur.take() {
                            i.terminals_hit = t.len() as u64;
                            out.push(i);
                        }
                        let mut top = Vec::new();
                        for (code, n) in codes {
                            add_code(&mut top, code, n);
                        }
                        cur = Some((
                            Incident {
                                start: h,
                                end: h + 3600,
                                scope: Scope::Issuer,
                                issuer_bin: issuers::bin_text(*bin),
                                class,
                                top_codes: top,
                                terminals_hit: 0,
                                transactions: e.transactions,
                                failures: k,
                            },
                            e.terminals[ci].clone(),
                        ));
                    }
                }
            }
            if let Some((mut i, t)) = cur.take() {
                i.terminals_hit = t.len() as u64;
                out.push(i);
            }
        }
    }
    for i in &mut out {
        i.top_codes
            .sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    }
    out
}

/// Whether an outage is one issuer's: a network-class issuer incident in its hours holds at
/// least half of its network failures.
pub fn explained_by_issuer(o: &Outage, issuer: &[Incident]) -> bool {
    let held: u64 = issuer
        .iter()
        .filter(|i| i.scope == Scope::Issuer && i.class == Class::Network)
        .filter(|i| i.start < o.end && o.start < i.end)
        .map(|i| i.failures)
        .sum();
    held * 2 >= o.network_failures
}

/// Sort incidents for output: by start, then scope, class and issuer.
pub fn sort(v: &mut [Incident]) {
    v.sort_by(|a, b| {
        a.start
            .cmp(&b.start)
            .then(a.scope.cmp(&b.scope))
            .then(a.class.index().cmp(&b.class.index()))
            .then(a.issuer_bin.cmp(&b.issuer_bin))
    });
}
