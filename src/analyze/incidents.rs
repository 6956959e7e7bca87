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
use crate::cube::{issuers, Cube};

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

/// Fleet incidents of every failure class but network (those are `outages`, converted by
/// [`from_outages`]). The hourly rates come from `hourly`; only when some hour's rate of a
/// class stands out are the cells walked (once) to see how many terminals those hours hit.
pub fn fleet<'a>(
    cube: &'a Cube,
    hourly: &BTreeMap<i64, ClassCounts>,
    classes: &CodeClasses,
) -> Vec<Incident> {
    const CLASSES: [Class; 4] = [
        Class::Terminal,
        Class::Declined,
        Class::Fraud,
        Class::Unknown,
    ];
    // Hours whose rate of a class spikes, per class.
    let mut spikes: BTreeMap<i64, Vec<Class>> = BTreeMap::new();
    for class in CLASSES {
        let rates: Vec<f64> = hourly
            .values()
            .filter(|h| h.transactions >= MIN_FAILURES)
            .map(|h| ratio(h.get(class), h.transactions))
            .collect();
        let (Some(med), Some(mad)) = (stats::median(&rates), stats::mad(&rates)) else {
            continue;
        };
        for (&h, c) in hourly {
            let k = c.get(class);
            if k >= MIN_FAILURES
                && stats::robust_z(ratio(k, c.transactions), med, mad, SPREAD_FLOOR) >= Z_THRESHOLD
            {
                spikes.entry(h).or_default().push(class);
            }
        }
    }
    if spikes.is_empty() {
        return Vec::new();
    }
    // Breadth of the spiking hours: terminals trading, terminals hit and codes per class.
    #[derive(Default)]
    struct Breadth<'a> {
        active: BTreeSet<&'a str>,
        hit: BTreeMap<usize, BTreeSet<&'a str>>,
        codes: BTreeMap<(usize, &'a str), u64>,
    }
    let mut breadth: BTreeMap<i64, Breadth<'a>> = BTreeMap::new();
    let hours: Vec<i64> = spikes.keys().copied().collect();
    for (t, h, code, code_id, n) in cube.cells_in_hours(&hours) {
        if t == super::NO_TERMINAL {
            continue;
        }
        let b = breadth.entry(h).or_default();
        b.active.insert(t);
        let class = classes.of_code_id(code_id);
        if spikes[&h].contains(&class) {
            b.hit.entry(class.index()).or_default().insert(t);
            *b.codes.entry((class.index(), code)).or_default() += n;
        }
    }
    let mut out = Vec::new();
    let none = BTreeSet::new();
    for class in CLASSES {
        let ci = class.index();
        let mut cur: Option<(Incident, BTreeSet<&str>)> = None;
        for (&h, wanted) in &spikes {
            let b = breadth.get(&h);
            let hit = b.and_then(|b| b.hit.get(&ci)).unwrap_or(&none);
            let active = b.map_or(0, |b| b.active.len());
            let bad = wanted.contains(&class)
                && hit.len() as u64 >= MIN_TERMINALS
                && hit.len() as f64 >= MIN_SHARE * active as f64;
            let adjacent = cur.as_ref().is_some_and(|(i, _)| i.end == h);
            if !bad || !adjacent {
                if let Some((mut i, t)) = cur.take() {
                    i.terminals_hit = t.len() as u64;
                    out.push(i);
                }
            }
            if !bad {
                continue;
            }
            let c = hourly[&h];
            let codes = b
                .map(|b| {
                    b.codes
                        .iter()
                        .filter(|((x, _), _)| *x == ci)
                        .map(|((_, code), n)| (code.to_string(), *n))
                        .collect::<Vec<_>>()
                })
                .unwrap_or_default();
            match cur.as_mut() {
                Some((i, t)) => {
                    i.end = h + 3600;
                    i.transactions += c.transactions;
                    i.failures += c.get(class);
                    t.extend(hit.iter().copied());
                    for (code, n) in codes {
                        add_code(&mut i.top_codes, code, n);
                    }
                }
                None => {
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
                            transactions: c.transactions,
                            failures: c.get(class),
                        },
                        hit.clone(),
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
pub fn from_outages(outages: &[Outage], cube: &Cube, classes: &CodeClasses) -> Vec<Incident> {
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
    let hours: Vec<i64> = outages
        .iter()
        .flat_map(|o| (o.start..o.end).step_by(3600))
        .collect();
    for (_, h, code, code_id, n) in cube.cells_in_hours(&hours) {
        let i = out.partition_point(|o| o.end <= h);
        if i < out.len() && out[i].start <= h && classes.of_code_id(code_id) == Class::Network {
            add_code(&mut out[i].top_codes, code.to_string(), n);
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

/// (BIN, local hour).
type BinHour = (u32, i64);
/// Transactions, and failures per class.
type HourCounts = (u64, [u64; 6]);
/// Terminals hit and codes of a candidate hour.
type Detail<'a> = (BTreeSet<&'a str>, BTreeMap<&'a str, u64>);

/// Issuer incidents: hours in which one BIN's cards failed in one class far above that BIN's
/// usual hour, across terminals, while the rest of the fleet was normal. Two passes over the
/// issuer table: counts per BIN and hour first; terminals and codes then only for the hours
/// that stand out.
pub fn issuers(
    cube: &Cube,
    classes: &CodeClasses,
    hourly: &BTreeMap<i64, ClassCounts>,
) -> Vec<Incident> {
    const CLASSES: [Class; 4] = [
        Class::Network,
        Class::Declined,
        Class::Terminal,
        Class::Fraud,
    ];
    // (bin, hour) -> transactions, failures per class.
    let mut counts: BTreeMap<BinHour, HourCounts> = BTreeMap::new();
    let mut e: Option<(BinHour, HourCounts)> = None;
    // Rows come sorted by (hour, bin, code, terminal): runs of one (bin, hour) are summed
    // locally and stored once.
    for (h, bin, code, _, n) in cube.issuer_rows_by_id() {
        let key = (bin, h);
        if e.as_ref().is_none_or(|x| x.0 != key) {
            if let Some((k, v)) = e.take() {
                counts.insert(k, v);
            }
            e = Some((key, (0, [0; 6])));
        }
        if let Some((_, v)) = e.as_mut() {
            match code {
                None => v.0 += n,
                Some(c) => v.1[classes.of_code_id(c).index()] += n,
            }
        }
    }
    if let Some((k, v)) = e {
        counts.insert(k, v);
    }
    // Candidate hours per (bin, class), in that order, so an incident's hours are adjacent.
    let mut candidates: BTreeMap<(u32, usize, i64), (u64, u64)> = BTreeMap::new();
    let mut start = 0;
    let keys: Vec<&(u32, i64)> = counts.keys().collect();
    while start < keys.len() {
        let bin = keys[start].0;
        let end = start + keys[start..].iter().take_while(|k| k.0 == bin).count();
        let hours: Vec<(i64, &(u64, [u64; 6]))> = keys[start..end]
            .iter()
            .map(|k| (k.1, &counts[*k]))
            .collect();
        start = end;
        if hours.iter().map(|h| h.1 .0).sum::<u64>() < MIN_BIN_VOLUME {
            continue;
        }
        for class in CLASSES {
            let ci = class.index();
            let rates: Vec<f64> = hours
                .iter()
                .filter(|h| h.1 .0 >= 5)
                .map(|h| ratio(h.1 .1[ci], h.1 .0))
                .collect();
            let (Some(med), Some(mad)) = (stats::median(&rates), stats::mad(&rates)) else {
                continue;
            };
            for &(h, &(n, f)) in &hours {
                let k = f[ci];
                let rate = ratio(k, n);
                let fleet = hourly.get(&h).copied().unwrap_or_default();
                let rest = ratio(
                    fleet.get(class).saturating_sub(k),
                    fleet.transactions.saturating_sub(n),
                );
                if k >= MIN_FAILURES
                    && stats::robust_z(rate, med, mad, SPREAD_FLOOR) >= Z_THRESHOLD
                    && rest <= rate * CONFINED
                {
                    candidates.insert((bin, ci, h), (n, k));
                }
            }
        }
    }
    if candidates.is_empty() {
        return Vec::new();
    }
    // Terminals and codes of the candidate hours.
    let mut detail: BTreeMap<(u32, usize, i64), Detail<'_>> = BTreeMap::new();
    for (h, bin, code, term, n) in cube.issuer_rows() {
        let (Some(code), Some(term)) = (code, term) else {
            continue;
        };
        let ci = classes.class_of(code).index();
        if !candidates.contains_key(&(bin, ci, h)) {
            continue;
        }
        let d = detail.entry((bin, ci, h)).or_default();
        d.0.insert(term);
        *d.1.entry(code).or_default() += n;
    }
    let mut out: Vec<Incident> = Vec::new();
    let mut terms: BTreeSet<&str> = BTreeSet::new();
    for (&(bin, ci, h), &(n, k)) in &candidates {
        let Some((t, codes)) = detail.get(&(bin, ci, h)) else {
            continue;
        };
        if t.len() < MIN_ISSUER_TERMINALS {
            continue;
        }
        let class = Class::ALL[ci];
        let bin_text = issuers::bin_text(bin);
        match out.last_mut() {
            Some(i) if i.end == h && i.issuer_bin == bin_text && i.class == class => {
                i.end = h + 3600;
                i.transactions += n;
                i.failures += k;
                terms.extend(t.iter().copied());
                i.terminals_hit = terms.len() as u64;
                for (code, n) in codes {
                    add_code(&mut i.top_codes, code.to_string(), *n);
                }
            }
            _ => {
                terms = t.clone();
                let mut top = Vec::new();
                for (code, n) in codes {
                    add_code(&mut top, code.to_string(), *n);
                }
                out.push(Incident {
                    start: h,
                    end: h + 3600,
                    scope: Scope::Issuer,
                    issuer_bin: bin_text,
                    class,
                    top_codes: top,
                    terminals_hit: terms.len() as u64,
                    transactions: n,
                    failures: k,
                });
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
