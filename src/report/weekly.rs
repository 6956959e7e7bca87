//! The merchant's view (`poslens report weekly`): one merchant, one ISO week against the week
//! before, in plain words. The figures are queries over the cube (merchant × terminal × code
//! and merchant × hour × code, windowed to each week); the terminal verdicts, outages and
//! card-testing bursts come from the fleet analysis of the week, because a terminal is only
//! faulty against the whole fleet.
//!
//! [`MerchantWeek`] is the data (written as JSON beside the reports); [`document`] words it.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{Datelike, NaiveDate, Timelike, Weekday};
use chrono_tz::Tz;
use serde::Serialize;

use crate::analyze::periods::{date_start, label, next_period};
use crate::analyze::{Analysis, ClassCounts, Status};
use crate::classify::{Catalog, Class};
use crate::config::{Bucket, Lang};
use crate::cube::{Cube, CODE, HOUR, MERCHANT, MERCHANT_NAME, TERMINAL};
use crate::error::{Error, Result};
use crate::render::text::{fmt_int, pct};
use crate::words::WeeklyWords;

use super::doc::{num, strong, text, Card, Cell, Document, Section, Table, Tone};
use super::{BurstLine, Report};

/// Failure codes listed in the "why" table.
pub const CODES_SHOWN: usize = 10;
/// Hours named in "when failures clustered".
pub const HOURS_SHOWN: usize = 3;

/// An ISO week in the report time zone, and the week before it.
#[derive(Debug, Clone, Serialize)]
pub struct Week {
    /// `2026-W45`.
    pub label: String,
    pub previous_label: String,
    /// First and last day, `2026-11-02` and `2026-11-08`.
    pub first_day: String,
    pub last_day: String,
    #[serde(skip)]
    pub start: i64,
    #[serde(skip)]
    pub end: i64,
    #[serde(skip)]
    pub previous_start: i64,
}

/// `YYYY-Www` (also `YYYY-ww`, `YYYYWww`) to the week's instants in `tz`.
pub fn parse_week(s: &str, tz: Tz) -> Result<Week> {
    let bad = || {
        Error::Usage(format!(
            "--week {s:?}: expected an ISO week such as 2026-W45 (year, W, week number 01-53)"
        ))
    };
    let t = s.trim().to_ascii_uppercase();
    let (y, w) = t
        .split_once("-W")
        .or_else(|| t.split_once('W'))
        .ok_or_else(bad)?;
    let y: i32 = y.trim_end_matches('-').parse().map_err(|_| bad())?;
    let w: u32 = w.parse().map_err(|_| bad())?;
    let monday = NaiveDate::from_isoywd_opt(y, w, Weekday::Mon).ok_or_else(bad)?;
    let start = date_start(monday, tz);
    let end = next_period(start, Bucket::Week, tz);
    let previous_start = date_start(monday - chrono::Duration::days(7), tz);
    Ok(Week {
        label: label(start, Bucket::Week, tz),
        previous_label: label(previous_start, Bucket::Week, tz),
        first_day: label(start, Bucket::Day, tz),
        last_day: label(end - 1, Bucket::Day, tz),
        start,
        end,
        previous_start,
    })
}

/// A week's headline figures for one merchant or terminal.
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct Figures {
    pub transactions: u64,
    pub failures: u64,
    pub failure_rate: f64,
    pub terminal_faults: u64,
    pub terminal_fault_rate: f64,
}

impl From<&ClassCounts> for Figures {
    fn from(c: &ClassCounts) -> Figures {
        Figures {
            transactions: c.transactions,
            failures: c.failures(),
            failure_rate: c.failure_rate(),
            terminal_faults: c.get(Class::Terminal),
            terminal_fault_rate: c.terminal_fault_rate(),
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct TerminalWeek {
    pub terminal_id: String,
    pub current: Figures,
    pub previous: Figures,
    /// Failure rate this week minus last week's (a fraction; 0.05 = 5 percentage points).
    pub failure_rate_change: f64,
    /// The fleet analysis's verdict on this terminal this week.
    pub status: Status,
    /// The evidence when flagged.
    pub reason: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct CodeWeek {
    pub response_code: String,
    pub class: Class,
    pub meaning: String,
    pub action: String,
    pub who: String,
    pub transactions: u64,
    pub previous_transactions: u64,
}

#[derive(Debug, Clone, Serialize)]
pub struct DayWeek {
    pub day: String,
    pub weekday: String,
    pub current: Figures,
    /// The same weekday of the previous week.
    pub previous: Figures,
}

#[derive(Debug, Clone, Serialize)]
pub struct HourWeek {
    /// `2026-11-04 14:00 – 15:00`, local time.
    pub label: String,
    pub failures: u64,
    pub transactions: u64,
    pub main_class: Class,
}

/// A fleet outage and what it did to this merchant.
#[derive(Debug, Clone, Serialize)]
pub struct OutageTouch {
    pub label: String,
    pub network_failures: u64,
    pub transactions: u64,
}

/// Purchases lost this week (see cube/purchases.rs), and where and when most were lost.
#[derive(Debug, Clone, Default, Serialize)]
pub struct LostWeek {
    pub purchases: u64,
    pub lost_purchases: u64,
    pub lost_amount_minor: i64,
    pub currency: Option<String>,
    /// The terminal with the largest lost amount, and that amount.
    pub top_terminal: Option<(String, i64)>,
    /// The two local hours of the day (start hour, 0–23) in which the top terminal lost the
    /// most, and that amount.
    pub top_hours: Option<(u32, i64)>,
}

impl WeekData<'_> {
    /// The merchant's lost sales in the week.
    fn lost(&self, id: &str, cube: &Cube) -> Result<LostWeek> {
        let (s, e) = (self.week.start, self.week.end);
        let mut lost = LostWeek {
            currency: self.currency.clone(),
            ..LostWeek::default()
        };
        let mut per_terminal: BTreeMap<&str, i64> = BTreeMap::new();
        let rollup = cube.rollup_window(&[MERCHANT, TERMINAL, HOUR], s, e)?;
        for c in rollup.iter().filter(|c| c.merchant() == id) {
            lost.purchases += c.purchases;
            lost.lost_purchases += c.lost_purchases;
            lost.lost_amount_minor += c.lost_amount_minor;
            *per_terminal.entry(c.terminal()).or_default() += c.lost_amount_minor;
        }
        // Largest amount first; ties by terminal id (BTreeMap order, max_by keeps the last).
        let top = per_terminal
            .iter()
            .filter(|(_, a)| **a > 0)
            .max_by(|a, b| a.1.cmp(b.1).then(b.0.cmp(a.0)))
            .map(|(t, a)| (t.to_string(), *a));
        if let Some((t, _)) = &top {
            let mut by_hour = [0i64; 24];
            for c in rollup
                .iter()
                .filter(|c| c.merchant() == id && c.terminal() == t)
            {
                let h = chrono::DateTime::from_timestamp(c.hour(), 0)
                    .unwrap_or_default()
                    .with_timezone(&self.tz)
                    .hour();
                by_hour[h as usize] += c.lost_amount_minor;
            }
            lost.top_hours = (0..23u32)
                .map(|h| (h, by_hour[h as usize] + by_hour[h as usize + 1]))
                .filter(|(_, a)| *a > 0)
                .max_by(|a, b| a.1.cmp(&b.1).then(b.0.cmp(&a.0)));
        }
        lost.top_terminal = top;
        Ok(lost)
    }
}

/// Everything one merchant's weekly report says.
#[derive(Debug, Clone, Serialize)]
pub struct MerchantWeek {
    pub merchant_id: String,
    pub merchant_name: String,
    pub week: Week,
    pub time_zone: String,
    pub generated_at: String,
    pub current: Figures,
    pub previous: Figures,
    pub failure_rate_change: f64,
    pub terminals: Vec<TerminalWeek>,
    pub codes: Vec<CodeWeek>,
    pub days: Vec<DayWeek>,
    pub worst_hours: Vec<HourWeek>,
    pub outages: Vec<OutageTouch>,
    pub fraud_bursts: Vec<BurstLine>,
    /// Sales lost to failed payments this week.
    pub lost: LostWeek,
    /// Where the merchant's whole data set starts and ends (for the no-data message).
    pub data_from: String,
    pub data_to: String,
}

impl MerchantWeek {
    pub fn has_data(&self) -> bool {
        self.current.transactions > 0
    }
}

/// Per merchant: counts per (key, code) for one week.
type PerMerchant<K> = BTreeMap<String, BTreeMap<K, BTreeMap<String, u64>>>;

fn fold_text(cube: &Cube, dim: &str, from: i64, to: i64) -> Result<PerMerchant<String>> {
    let mut m: PerMerchant<String> = BTreeMap::new();
    for c in cube.rollup_window(&[MERCHANT, dim, CODE], from, to)?.iter() {
        *m.entry(c.merchant().to_string())
            .or_default()
            .entry(c.text(dim).to_string())
            .or_default()
            .entry(c.code().to_string())
            .or_default() += c.transactions;
    }
    Ok(m)
}

fn fold_hours(cube: &Cube, from: i64, to: i64) -> Result<PerMerchant<i64>> {
    let mut m: PerMerchant<i64> = BTreeMap::new();
    for c in cube
        .rollup_window(&[MERCHANT, HOUR, CODE], from, to)?
        .iter()
    {
        *m.entry(c.merchant().to_string())
            .or_default()
            .entry(c.hour())
            .or_default()
            .entry(c.code().to_string())
            .or_default() += c.transactions;
    }
    Ok(m)
}

/// The cube's figures for the week and the one before, grouped per merchant once for all the
/// merchants of a run.
pub struct WeekData<'a> {
    catalog: &'a Catalog,
    tz: Tz,
    week: Week,
    terminals: [PerMerchant<String>; 2],
    hours: [PerMerchant<i64>; 2],
    names: BTreeMap<String, BTreeMap<String, u64>>,
    /// First and last hour of each merchant in the whole data set.
    spans: BTreeMap<String, (i64, i64)>,
    /// The logs' one currency, for amounts (`¥`); None when mixed, absent or from cubes.
    pub currency: Option<String>,
}

impl<'a> WeekData<'a> {
    pub fn new(cube: &Cube, catalog: &'a Catalog, tz: Tz, week: Week) -> Result<WeekData<'a>> {
        let (p, s, e) = (week.previous_start, week.start, week.end);
        let mut names: BTreeMap<String, BTreeMap<String, u64>> = BTreeMap::new();
        for c in cube.rollup_window(&[MERCHANT, MERCHANT_NAME], p, e)?.iter() {
            if !c.merchant_name().is_empty() {
                *names
                    .entry(c.merchant().to_string())
                    .or_default()
                    .entry(c.merchant_name().to_string())
                    .or_default() += c.transactions;
            }
        }
        let mut spans: BTreeMap<String, (i64, i64)> = BTreeMap::new();
        for c in cube.rollup(&[MERCHANT, HOUR])? {
            let h = c.hour();
            let e = spans.entry(c.merchant().to_string()).or_insert((h, h));
            e.0 = e.0.min(h);
            e.1 = e.1.max(h);
        }
        Ok(WeekData {
            catalog,
            tz,
            terminals: [
                fold_text(cube, TERMINAL, s, e)?,
                fold_text(cube, TERMINAL, p, s)?,
            ],
            hours: [fold_hours(cube, s, e)?, fold_hours(cube, p, s)?],
            week,
            names,
            spans,
            currency: None,
        })
    }

    /// Every merchant id in the data set, sorted.
    pub fn merchants(&self) -> Vec<String> {
        self.spans.keys().cloned().collect()
    }

    /// Merchants with transactions in the week or the one before.
    pub fn active_merchants(&self) -> Vec<String> {
        let mut v: BTreeSet<String> = self.terminals[0].keys().cloned().collect();
        v.extend(self.terminals[1].keys().cloned());
        v.into_iter().collect()
    }

    fn counts(&self, codes: &BTreeMap<String, u64>) -> ClassCounts {
        let mut c = ClassCounts::default();
        for (code, n) in codes {
            if self.catalog.is_transaction(code) {
                c.add(self.catalog.class_of(code), *n);
            }
        }
        c
    }

    /// One merchant's week. `fleet`: the fleet analysis of the two weeks and its report (None
    /// when the fleet had no transaction in them).
    pub fn merchant(
        &self,
        id: &str,
        fleet: Option<(&Analysis, &Report)>,
        cube: &Cube,
        lang: Lang,
        generated_at: &str,
    ) -> Result<MerchantWeek> {
        let zh = lang == Lang::Zh;
        let empty = BTreeMap::new();
        let cur_t = self.terminals[0].get(id).unwrap_or(&empty);
        let prev_t = self.terminals[1].get(id).unwrap_or(&empty);

        // Merchant totals and codes, both weeks.
        let mut cur = ClassCounts::default();
        let mut prev = ClassCounts::default();
        let mut codes: BTreeMap<&str, (u64, u64)> = BTreeMap::new();
        for (week, side) in [(cur_t, 0), (prev_t, 1)] {
            for per_code in week.values() {
                let c = self.counts(per_code);
                if side == 0 {
                    cur.merge(&c);
                } else {
                    prev.merge(&c);
                }
                for (code, n) in per_code {
                    if self.catalog.is_transaction(code) {
                        let e = codes.entry(code.as_str()).or_default();
                        if side == 0 {
                            e.0 += n;
                        } else {
                            e.1 += n;
                        }
                    }
                }
            }
        }

        let terminals = self.terminals(cur_t, prev_t, fleet.map(|f| f.1));
        let lost = self.lost(id, cube)?;
        let codes = self.codes(&codes, zh);
        let (days, worst_hours) = self.when(id, zh);
        let (outages, fraud_bursts) = match fleet {
            Some((a, r)) => self.events(id, a, r, cube, cur_t)?,
            None => (Vec::new(), Vec::new()),
        };
        let (from, to) = self.spans.get(id).copied().unwrap_or_default();
        let name = self
            .names
            .get(id)
            .and_then(|n| n.iter().max_by(|a, b| a.1.cmp(b.1).then(b.0.cmp(a.0))))
            .map(|(n, _)| n.clone())
            .unwrap_or_default();
        Ok(MerchantWeek {
            merchant_id: id.to_string(),
            merchant_name: name,
            week: self.week.clone(),
            time_zone: self.tz.name().to_string(),
            generated_at: generated_at.to_string(),
            current: (&cur).into(),
            previous: (&prev).into(),
            failure_rate_change: cur.failure_rate() - prev.failure_rate(),
            terminals,
            codes,
            days,
            worst_hours,
            outages,
            fraud_bursts,
            lost,
            data_from: label(from, Bucket::Hour, self.tz),
            data_to: label(to + 3600, Bucket::Hour, self.tz),
        })
    }

    /// Each terminal of the merchant in either week; flagged first, then by failures.
    fn terminals(
        &self,
        cur: &BTreeMap<String, BTreeMap<String, u64>>,
        prev: &BTreeMap<String, BTreeMap<String, u64>>,
        fleet: Option<&Report>,
    ) -> Vec<TerminalWeek> {
        let ids: BTreeSet<&String> = cur.keys().chain(prev.keys()).collect();
        let mut v: Vec<TerminalWeek> = ids
            .into_iter()
            .filter(|t| t.as_str() != crate::analyze::NO_TERMINAL)
            .map(|t| {
                let c = cur.get(t).map(|x| self.counts(x)).unwrap_or_default();
                let p = prev.get(t).map(|x| self.counts(x)).unwrap_or_default();
                let line = fleet.and_then(|r| r.terminals.iter().find(|l| &l.terminal_id == t));
                let reason = fleet
                    .and_then(|r| r.flagged.iter().find(|f| &f.terminal_id == t))
                    .map(|f| f.reason.clone());
                TerminalWeek {
                    terminal_id: t.clone(),
                    current: (&c).into(),
                    previous: (&p).into(),
                    failure_rate_change: c.failure_rate() - p.failure_rate(),
                    status: line.map_or(Status::InsufficientData, |l| l.status),
                    reason,
                }
            })
            .collect();
        v.sort_by(|a, b| {
            (b.status == Status::Flagged)
                .cmp(&(a.status == Status::Flagged))
                .then(b.current.failures.cmp(&a.current.failures))
                .then(a.terminal_id.cmp(&b.terminal_id))
        });
        v
    }

    /// Failure codes of the week, most frequent first, with the catalog's advice.
    fn codes(&self, codes: &BTreeMap<&str, (u64, u64)>, zh: bool) -> Vec<CodeWeek> {
        let mut v: Vec<CodeWeek> = codes
            .iter()
            .filter(|(code, n)| n.0 > 0 && self.catalog.class_of(code) != Class::Approved)
            .map(|(code, n)| {
                let e = self.catalog.lookup(code);
                CodeWeek {
                    response_code: code.to_string(),
                    class: self.catalog.class_of(code),
                    meaning: e.map_or_else(
                        || crate::words::not_in_catalog(zh).to_string(),
                        |e| e.text(zh).meaning.clone(),
                    ),
                    action: e.map(|e| e.text(zh).action.clone()).unwrap_or_default(),
                    who: e
                        .map(|e| {
                            e.who
                                .iter()
                                .map(|w| w.label(zh))
                                .collect::<Vec<_>>()
                                .join(if zh { "、" } else { ", " })
                        })
                        .unwrap_or_default(),
                    transactions: n.0,
                    previous_transactions: n.1,
                }
            })
            .collect();
        v.sort_by(|a, b| {
            b.transactions
                .cmp(&a.transactions)
                .then(a.response_code.cmp(&b.response_code))
        });
        v.truncate(CODES_SHOWN);
        v
    }

    /// The seven days against the same weekdays last week, and the hours with most failures.
    fn when(&self, id: &str, zh: bool) -> (Vec<DayWeek>, Vec<HourWeek>) {
        let empty = BTreeMap::new();
        let mut days = Vec::with_capacity(7);
        let mut day = self.week.start;
        let mut prev_day = self.week.previous_start;
        let per_day = |hours: &BTreeMap<i64, BTreeMap<String, u64>>, from: i64, to: i64| {
            let mut c = ClassCounts::default();
            for (_, codes) in hours.range(from..to) {
                c.merge(&self.counts(codes));
            }
            c
        };
        let cur = self.hours[0].get(id).unwrap_or(&empty);
        let prev = self.hours[1].get(id).unwrap_or(&empty);
        for _ in 0..7 {
            let next = next_period(day, Bucket::Day, self.tz);
            let prev_next = next_period(prev_day, Bucket::Day, self.tz);
            let weekday = chrono::DateTime::from_timestamp(day, 0)
                .unwrap_or_default()
                .with_timezone(&self.tz)
                .weekday();
            days.push(DayWeek {
                day: label(day, Bucket::Day, self.tz),
                weekday: crate::words::weekday(weekday, zh).to_string(),
                current: (&per_day(cur, day, next)).into(),
                previous: (&per_day(prev, prev_day, prev_next)).into(),
            });
            day = next;
            prev_day = prev_next;
        }
        let mut hours: Vec<HourWeek> = cur
            .iter()
            .map(|(h, codes)| {
                let c = self.counts(codes);
                let main_class = [
                    Class::Declined,
                    Class::Fraud,
                    Class::Network,
                    Class::Terminal,
                    Class::Unknown,
                ]
                .into_iter()
                .max_by_key(|k| (c.get(*k), std::cmp::Reverse(k.index())))
                .unwrap_or(Class::Unknown);
                HourWeek {
                    label: format!(
                        "{} {} – {}",
                        crate::words::weekday(
                            chrono::DateTime::from_timestamp(*h, 0)
                                .unwrap_or_default()
                                .with_timezone(&self.tz)
                                .weekday(),
                            zh
                        ),
                        label(*h, Bucket::Hour, self.tz),
                        label(*h + 3600, Bucket::Hour, self.tz)
                            .get(11..)
                            .unwrap_or_default()
                    ),
                    failures: c.failures(),
                    transactions: c.transactions,
                    main_class,
                }
            })
            .filter(|h| h.failures >= 2)
            .collect();
        // Most failures first; ties to the earlier hour (the map is in time order and the
        // sort is stable).
        hours.sort_by_key(|h| std::cmp::Reverse(h.failures));
        hours.truncate(HOURS_SHOWN);
        (days, hours)
    }

    /// Fleet outages in which this merchant's payments hit network errors, and card-testing
    /// bursts on its terminals.
    fn events(
        &self,
        id: &str,
        a: &Analysis,
        r: &Report,
        cube: &Cube,
        terminals: &BTreeMap<String, BTreeMap<String, u64>>,
    ) -> Result<(Vec<OutageTouch>, Vec<BurstLine>)> {
        let mut outages = Vec::new();
        // The fleet analysis spans both weeks: only this week's events are news.
        for (o, line) in a.outages.iter().zip(&r.outages) {
            if o.start < self.week.start {
                continue;
            }
            let mut c = ClassCounts::default();
            for cell in cube
                .rollup_window(&[MERCHANT, CODE], o.start, o.end)?
                .iter()
            {
                if cell.merchant() == id && self.catalog.is_transaction(cell.code()) {
                    c.add(self.catalog.class_of(cell.code()), cell.transactions);
                }
            }
            if c.get(Class::Network) > 0 {
                outages.push(OutageTouch {
                    label: line.label.clone(),
                    network_failures: c.get(Class::Network),
                    transactions: c.transactions,
                });
            }
        }
        let bursts = a
            .fraud_bursts
            .iter()
            .zip(&r.fraud_bursts)
            .filter(|(b, _)| b.start >= self.week.start && terminals.contains_key(&b.terminal_id))
            .map(|(_, line)| line.clone())
            .collect();
        Ok((outages, bursts))
    }
}

/// Signed change in percentage points: `+5.17 pp`.
pub fn pp(x: f64) -> String {
    format!("{:+.2} pp", x * 100.0)
}

/// Words a merchant's week. `stem`: the report's file stem (its chart is
/// `charts/STEM-daily.svg` beside the Markdown file).
pub fn document(m: &MerchantWeek, lang: Lang, stem: &str) -> Document {
    let w = WeeklyWords::new(lang);
    let who = w.merchant_display(&m.merchant_id, &m.merchant_name);
    let mut doc = Document {
        lang,
        title: w.title(&who),
        subtitle: w.subtitle(m),
        cards: Vec::new(),
        sections: Vec::new(),
    };
    if !m.has_data() {
        doc.sections
            .push(Section::new("no_data", w.no_data_heading()).alert(w.no_data(m)));
        return doc;
    }
    doc.cards = vec![
        Card {
            value: fmt_int(m.current.transactions),
            label: w.card_transactions().into(),
            alert: false,
        },
        Card {
            value: pct(m.current.failure_rate),
            label: w.card_failure_rate().into(),
            alert: false,
        },
        Card {
            value: pp(m.failure_rate_change),
            label: w.card_change(&m.week.previous_label),
            alert: m.failure_rate_change >= 0.01,
        },
        Card {
            value: fmt_int(
                m.terminals
                    .iter()
                    .filter(|t| t.status == Status::Flagged)
                    .count() as u64,
            ),
            label: w.card_flagged().into(),
            alert: m.terminals.iter().any(|t| t.status == Status::Flagged),
        },
    ];
    doc.sections = vec![
        compare(m, &w),
        terminals(m, &w),
        why(m, &w),
        when(m, &w, stem),
        events(m, &w),
    ];
    doc
}

fn compare(m: &MerchantWeek, w: &WeeklyWords) -> Section {
    let c = w.compare_columns(&m.week);
    let mut t = Table::aligned(&c, "lrrr");
    let (p, n) = (&m.previous, &m.current);
    t.rows.push(vec![
        text(w.row_transactions()),
        num(fmt_int(p.transactions)),
        num(fmt_int(n.transactions)),
        num(w.count_change(p.transactions, n.transactions)),
    ]);
    t.rows.push(vec![
        text(w.row_failed()),
        num(fmt_int(p.failures)),
        num(fmt_int(n.failures)),
        num(w.count_change(p.failures, n.failures)),
    ]);
    t.rows.push(vec![
        text(w.row_failure_rate()),
        num(pct(p.failure_rate)),
        num(pct(n.failure_rate)),
        num(pp(m.failure_rate_change)),
    ]);
    t.rows.push(vec![
        text(w.row_terminal_rate()),
        num(pct(p.terminal_fault_rate)),
        num(pct(n.terminal_fault_rate)),
        num(pp(n.terminal_fault_rate - p.terminal_fault_rate)),
    ]);
    let s = Section::new("compare", w.compare_heading()).paragraph(w.compare_sentence(m));
    let s = match lost_sentence(&m.lost, w.zh) {
        Some(p) => s.paragraph(p),
        None => s,
    };
    s.table(t)
}

/// "This week about ¥X of sales were lost to failed payments, most on till T3 between 18:00
/// and 20:00": what a shop owner counts (customers who did not pay), not attempts.
pub fn lost_sentence(l: &LostWeek, zh: bool) -> Option<String> {
    if l.purchases == 0 {
        return None;
    }
    let amount = crate::render::text::money(l.lost_amount_minor, l.currency.as_deref());
    if l.lost_purchases == 0 {
        return Some(if zh {
            format!(
                "本周 {} 笔购买全部成功付款：没有因支付失败而流失的销售。",
                fmt_int(l.purchases)
            )
        } else {
            format!(
                "All {} purchases this week were paid in the end: no sale was lost to a failed payment.",
                fmt_int(l.purchases)
            )
        });
    }
    let place = match (&l.top_terminal, l.top_hours) {
        (Some((t, _)), Some((h, _))) => Some((t, h)),
        _ => None,
    };
    Some(if zh {
        let mut s = format!(
            "本周约有 {amount} 的销售因支付失败而流失（{} 笔购买中 {} 笔顾客最终没有付款）",
            fmt_int(l.purchases),
            fmt_int(l.lost_purchases)
        );
        if let Some((t, h)) = place {
            s.push_str(&format!(
                "，主要在收银台 {t} 的 {h:02}:00 至 {:02}:00",
                h + 2
            ));
        }
        s.push_str("。重试成功的交易不计入流失。");
        s
    } else {
        let mut s = format!(
            "This week about {amount} of sales were lost to failed payments ({} of {} purchases ended without the customer paying)",
            fmt_int(l.lost_purchases),
            fmt_int(l.purchases)
        );
        if let Some((t, h)) = place {
            s.push_str(&format!(
                ", most on till {t} between {h:02}:00 and {:02}:00",
                h + 2
            ));
        }
        s.push_str(". Payments that succeeded on a retry are not counted as lost.");
        s
    })
}

fn terminals(m: &MerchantWeek, w: &WeeklyWords) -> Section {
    let c = w.terminal_columns();
    let mut t = Table::aligned(&c, "lrrrrrl");
    for term in &m.terminals {
        t.rows.push(vec![
            strong(&term.terminal_id),
            num(fmt_int(term.current.transactions)),
            num(pct(term.previous.failure_rate)),
            num(pct(term.current.failure_rate)),
            num(pp(term.failure_rate_change)),
            num(pct(term.current.terminal_fault_rate)),
            Cell::Badge {
                text: w.status(term.status).to_string(),
                tone: Tone::Status(term.status),
            },
        ]);
    }
    let advice: Vec<String> = m
        .terminals
        .iter()
        .filter(|t| t.status == Status::Flagged)
        .map(|t| w.flagged_advice(t))
        .collect();
    let s = Section::new("terminals", w.terminals_heading()).table(t);
    if advice.is_empty() {
        s.paragraph(w.no_flagged())
    } else {
        s.list(advice)
    }
}

fn why(m: &MerchantWeek, w: &WeeklyWords) -> Section {
    let s = Section::new("why", w.why_heading());
    if m.codes.is_empty() {
        return s.paragraph(w.no_failures());
    }
    let c = w.code_columns(&m.week);
    let mut t = Table::aligned(&c, "llrrll");
    for code in &m.codes {
        t.rows.push(vec![
            strong(&code.response_code),
            Cell::Badge {
                text: format!("{} · {}", code.meaning, code.class.label(w.zh)),
                tone: Tone::Class(code.class),
            },
            num(fmt_int(code.previous_transactions)),
            num(fmt_int(code.transactions)),
            text(&code.who),
            text(&code.action),
        ]);
    }
    s.paragraph(w.why_sentence(m)).table(t)
}

fn when(m: &MerchantWeek, w: &WeeklyWords, stem: &str) -> Section {
    let c = w.day_columns();
    let mut t = Table::aligned(&c, "lrrrr");
    for d in &m.days {
        t.rows.push(vec![
            text(format!("{} {}", d.weekday, d.day)),
            num(fmt_int(d.current.transactions)),
            num(fmt_int(d.current.failures)),
            num(pct(d.current.failure_rate)),
            num(pct(d.previous.failure_rate)),
        ]);
    }
    Section::new("when", w.when_heading())
        .paragraph(w.when_sentence(m))
        .chart(
            "daily.svg",
            &format!("charts/{stem}-daily.svg"),
            w.chart().daily,
        )
        .table(t)
}

fn events(m: &MerchantWeek, w: &WeeklyWords) -> Section {
    let mut items: Vec<String> = m.outages.iter().map(|o| w.outage(o)).collect();
    items.extend(m.fraud_bursts.iter().map(|b| w.burst(b)));
    let s = Section::new("events", w.events_heading());
    if items.is_empty() {
        s.paragraph(w.no_events())
    } else {
        s.list(items)
    }
}

/// A file name for a merchant id that can neither leave the output folder nor collide with
/// another id's: the id's safe characters, lowercased (so case-insensitive file systems see
/// the same names), then the first 10 hex digits of the SHA-256 of the exact id (so ids
/// differing only in case or in unsafe characters still get different names). The
/// `merchant-` prefix keeps device names (`CON`, `NUL`) and dot files out.
pub fn file_stem(id: &str) -> String {
    let slug: String = id
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c.to_ascii_lowercase()
            } else {
                '_'
            }
        })
        .take(40)
        .collect();
    let slug = slug.trim_matches('_');
    let hash = crate::render::sha256_hex(id.as_bytes());
    if slug.is_empty() {
        format!("merchant-{}", &hash[..10])
    } else {
        format!("merchant-{slug}-{}", &hash[..10])
    }
}

/// The index page of `--all-merchants`: every merchant, worst failure-rate rise first.
pub fn index(weeks: &[(String, MerchantWeek)], lang: Lang) -> Document {
    let w = WeeklyWords::new(lang);
    let week = weeks.first().map(|(_, m)| m.week.clone());
    let c = w.index_columns();
    let mut t = Table::aligned(&c, "lrrrrl");
    let mut order: Vec<&(String, MerchantWeek)> = weeks.iter().collect();
    order.sort_by(|a, b| {
        b.1.failure_rate_change
            .total_cmp(&a.1.failure_rate_change)
            .then(a.1.merchant_id.cmp(&b.1.merchant_id))
    });
    for (stem, m) in order {
        let flagged = m
            .terminals
            .iter()
            .filter(|t| t.status == Status::Flagged)
            .count();
        t.rows.push(vec![
            Cell::Link {
                text: w.merchant_display(&m.merchant_id, &m.merchant_name),
                href: format!("{stem}.html"),
            },
            num(fmt_int(m.current.transactions)),
            num(pct(m.current.failure_rate)),
            num(if m.has_data() {
                pp(m.failure_rate_change)
            } else {
                "—".into()
            }),
            num(flagged.to_string()),
            Cell::Link {
                text: "Markdown".into(),
                href: format!("{stem}.md"),
            },
        ]);
    }
    Document {
        lang,
        title: w.index_title(week.as_ref()),
        subtitle: week.map(|wk| w.index_subtitle(&wk)).unwrap_or_default(),
        cards: Vec::new(),
        sections: vec![Section::new("merchants", &w.index_heading(weeks.len())).table(t)],
    }
}
