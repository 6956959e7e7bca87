//! `poslens sample`: realistic terminal logs with known trouble, seeded and deterministic.
//!
//! The data look like an acquirer's daily export: merchants of several kinds with their own
//! daily and weekly rhythm, about 95% approvals, cardholder declines (51/05/55/54/61), a little
//! network trouble (91/96/68), rare fraud codes, and a fleet-wide terminal-error baseline of
//! about 0.1%. Every row is an attempt by a customer: a customer whose payment fails may try
//! again with the same card and amount 20-240 s later (at most three attempts), so attempts
//! group into purchases that are recovered or lost. On top of that it injects trouble an
//! analyst should find (listed in `injected.toml` beside the logs, which `analyze` does not
//! read):
//! - a terminal whose card reader fails on ~5% of transactions from the start;
//! - a terminal that turns bad half-way through (~4% from a given day);
//! - a subtle one: ~1.5% against the 0.1% fleet, over a few thousand transactions;
//! - a liquor shop whose customers' cards are declined a lot (not a terminal fault);
//! - a two-hour issuer outage hitting every terminal (not a terminal fault);
//! - a low-volume terminal (too few transactions to judge);
//! - a burst of fraud codes at night on one terminal (card testing);
//! - customers retrying after a decline or a failure, across the fleet;
//! - a till whose customers walk away after timeouts, in the evening, from a given day;
//! - a terminal whose chip fallback rate climbs from 1% to 20%;
//! - a slow terminal (3-9 s answers against the fleet's 0.25-1.75 s);
//! - a jPOS host log of a separate merchant's terminals, with requests never answered;
//! - a handful of malformed rows and overlapping exports (duplicates).
//!
//! # Exact truth
//!
//! `injected.toml` gives the purchases, recovered, lost and lost amount of the CSV exports
//! exactly, counted while generating (not by running an analysis over the rows), under the
//! purchase rule of `analyze`: attempts with the same terminal, merchant, amount (minor
//! units), currency and card (first six + last four) are one purchase while each follows the
//! one before within the retry window (600 s). That holds by construction:
//! - a retry comes 20-240 s after the attempt before it, so a purchase spans at most 480 s;
//! - a terminal hands out card numbers from its own counter, in the order its customers
//!   arrive, through a fixed permutation of the 10,000 last fours: two customers of a terminal
//!   share a last four only 10,000 customers apart, and should such two (same BIN too) start
//!   within 1,200 s of each other, the later one's amount goes up by 0.01 until it differs;
//!   so no attempt of one purchase is within 600 s after a failed attempt of another with the
//!   same key;
//! - amounts are whole minor units, written with two decimals;
//! - the malformed rows are extra rows: all are rejected but the one-digit-code kind (`5`),
//!   an accepted copy of a good row (same key and time, code 05): it adds a failed attempt
//!   but no purchase (it is followed, at the same second, by the row it copies or by that
//!   row's retry, or precedes it as the same lost purchase); its counts are added in;
//! - the overlapping exports repeat rows exactly, and duplicates are counted once.
//!
//! The generator uses its own SplitMix64 so the bytes never change with a dependency upgrade.

use std::fmt::Write as _;
use std::io::Write as _;
use std::path::Path;

use chrono::{Datelike, Duration, NaiveDate, Offset, TimeZone};

use crate::cli::SampleArgs;
use crate::error::{Error, Result};
use crate::render::write_atomic;

pub mod fleet;
mod host;
#[cfg(test)]
mod tests;

use host::{host_log, HostTruth};

/// SplitMix64 (Steele, Lea, Flood 2014): tiny, fast, and fixed forever.
struct Rng(u64);

impl Rng {
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    fn f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n.max(1)
    }

    fn pick<T: Copy>(&mut self, weighted: &[(T, f64)]) -> T {
        let total: f64 = weighted.iter().map(|w| w.1).sum();
        let mut x = self.f64() * total;
        for (v, w) in weighted {
            if x < *w {
                return *v;
            }
            x -= w;
        }
        weighted[weighted.len() - 1].0
    }
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Kind {
    Grocery,
    Restaurant,
    Fuel,
    Liquor,
    Electronics,
}

impl Kind {
    /// Transactions per terminal on an average weekday.
    fn daily(self) -> f64 {
        match self {
            Kind::Grocery => 150.0,
            Kind::Restaurant => 80.0,
            Kind::Fuel => 120.0,
            Kind::Liquor => 60.0,
            Kind::Electronics => 30.0,
        }
    }

    /// Saturday/Sunday multiplier.
    fn weekend(self) -> f64 {
        match self {
            Kind::Grocery => 1.25,
            Kind::Restaurant => 1.35,
            Kind::Fuel => 0.85,
            Kind::Liquor => 1.6,
            Kind::Electronics => 1.5,
        }
    }

    /// Relative volume per hour of day.
    fn hours(self) -> [f64; 24] {
        let mut w = [0.0; 24];
        for (h, v) in w.iter_mut().enumerate() {
            let h = h as f64;
            let bump = |c: f64, s: f64| (-(h - c) * (h - c) / (2.0 * s * s)).exp();
            *v = match self {
                Kind::Grocery => {
                    if (7.0..22.0).contains(&h) {
                        0.3 + bump(12.0, 1.5) + 1.4 * bump(18.0, 1.8)
                    } else {
                        0.0
                    }
                }
                Kind::Restaurant => {
                    if (11.0..23.0).contains(&h) {
                        0.1 + 1.2 * bump(12.5, 1.0) + 1.5 * bump(19.5, 1.3)
                    } else {
                        0.02
                    }
                }
                Kind::Fuel => 0.08 + bump(8.0, 1.5) + bump(17.5, 1.8) + 0.3 * bump(13.0, 3.0),
                Kind::Liquor => {
                    if (10.0..24.0).contains(&h) {
                        0.15 + 1.5 * bump(20.0, 2.0)
                    } else {
                        0.0
                    }
                }
                Kind::Electronics => {
                    if (10.0..21.0).contains(&h) {
                        0.5 + bump(15.0, 2.5)
                    } else {
                        0.0
                    }
                }
            };
        }
        w
    }

    /// Amount range in major units.
    fn amount(self) -> (f64, f64) {
        match self {
            Kind::Grocery => (3.0, 180.0),
            Kind::Restaurant => (12.0, 260.0),
            Kind::Fuel => (20.0, 150.0),
            Kind::Liquor => (8.0, 320.0),
            Kind::Electronics => (40.0, 4000.0),
        }
    }
}

struct Merchant {
    id: String,
    name: &'static str,
    kind: Kind,
}

/// Codes with weights.
type Mix = &'static [(&'static str, f64)];

/// An injected fault: terminal-class rate, first day (index), and the codes it produces.
type Fault = (f64, u32, Mix);

struct Terminal {
    id: String,
    merchant: usize,
    /// Volume multiplier (some tills are busier).
    volume: f64,
    /// Terminal-class failure rate and the day it starts.
    fault: Option<Fault>,
    /// Customers walk away after timeouts from this day (index) on.
    walk_from: Option<u32>,
    /// Chip fallback share of chip reads on the first and on the last day (else the fleet's).
    fallback: Option<(f64, f64)>,
    /// Answers take 3-9 s.
    slow: bool,
}

const NAMES: &[(&str, Kind)] = &[
    ("Green Basket Grocery", Kind::Grocery),
    ("Riverside Fuel", Kind::Fuel),
    ("Lucky Dragon Restaurant", Kind::Restaurant),
    ("Corner Cellar Liquor", Kind::Liquor),
    ("Volt Electronics", Kind::Electronics),
    ("FreshMart Supermarket", Kind::Grocery),
    ("老王小吃", Kind::Restaurant),
    ("Highway 9 Fuel & Go", Kind::Fuel),
    ("Daily Needs Mini-Mart", Kind::Grocery),
    ("Harbour Bistro", Kind::Restaurant),
    ("Pixel Phone Shop", Kind::Electronics),
    ("Northside Fuel", Kind::Fuel),
];

const DECLINES: &[(&str, f64)] = &[
    ("51", 0.45),
    ("05", 0.30),
    ("55", 0.13),
    ("54", 0.07),
    ("61", 0.05),
];
const NETWORK: &[(&str, f64)] = &[("91", 0.6), ("96", 0.3), ("68", 0.1)];
const FRAUD: &[(&str, f64)] = &[
    ("59", 0.35),
    ("43", 0.25),
    ("41", 0.2),
    ("04", 0.1),
    ("34", 0.1),
];
const TERMINAL_BASE: &[(&str, f64)] = &[
    ("9997", 0.4),
    ("30", 0.2),
    ("58", 0.2),
    ("03", 0.1),
    ("Z3", 0.1),
];
const READER_FAULT: &[(&str, f64)] = &[("9997", 0.75), ("30", 0.25)];
const SETUP_FAULT: &[(&str, f64)] = &[("58", 0.5), ("30", 0.3), ("03", 0.2)];
const SUBTLE_FAULT: &[(&str, f64)] = &[("9997", 1.0)];
/// The walk-away till's timeouts.
const TIMEOUTS: &[(&str, f64)] = &[("68", 0.6), ("91", 0.4)];

/// Card BINs (first six) and their schemes.
const BINS: &[(&str, &str)] = &[
    ("622848", "UnionPay"),
    ("411111", "Visa"),
    ("545454", "Mastercard"),
];
const BIN_WEIGHTS: &[(usize, f64)] = &[(0, 0.5), (1, 0.3), (2, 0.2)];

/// A customer never makes more than this many attempts at one purchase.
const MAX_ATTEMPTS: u32 = 3;
/// A retry comes this many seconds after the attempt before it (inclusive).
const RETRY_DELAY: (i64, i64) = (20, 240);
/// The chance of a second retry is the first's times this.
const SECOND_RETRY: f64 = 0.6;
/// Two customers of a terminal with the same card and amount start at least this far apart
/// (a purchase spans at most 2 x 240 s, and the retry window is 600 s).
const SAME_KEY_GAP: i64 = 1200;

/// The chance that a customer tries again after a failed attempt with `code` (the first
/// time; a second retry: [`SECOND_RETRY`] times it).
fn retry_chance(code: &str) -> f64 {
    match code {
        "55" => 0.6,        // wrong PIN: try again
        "51" | "05" => 0.3, // insufficient funds, do not honour: sometimes
        "61" => 0.1,        // over the limit
        "91" | "96" | "68" => 0.7,
        "9997" | "30" | "58" | "03" | "Z3" => 0.5,
        _ => 0.0, // 54 expired card, fraud codes, 14, E3: the customer leaves
    }
}

/// For a declined card, the chance that the retry is approved (else it is declined with the
/// same code again); other codes are drawn afresh for the retry.
fn retry_approved(code: &str) -> Option<f64> {
    match code {
        "55" => Some(0.8),
        "51" => Some(0.35),
        "05" => Some(0.45),
        "61" => Some(0.3),
        _ => None,
    }
}

/// The walk-away till: the chance an attempt times out outside and inside its evening spells
/// of bad connection, and the chance its customers retry after a first and a second timeout.
const WALK_TIMEOUT: f64 = 0.03;
const SPELL_TIMEOUT: f64 = 0.85;
/// A spell ends after this many network errors: the till's errors in one clock hour stay
/// few next to the fleet's, so the fleet's outage detection does not take them for an outage.
const SPELL_TIMEOUTS: u32 = 12;
/// The walk-away till is injected only in a fleet of at least this many terminals.
const WALK_MIN_FLEET: usize = 24;
const WALK_RETRY: [f64; 2] = [0.85, 0.5];

/// The chip fallback share of chip reads on healthy terminals.
const FLEET_FALLBACK: f64 = 0.002;
/// The injected fallback terminal's share on the first and on the last day.
const FALLBACK_RISE: (f64, f64) = (0.01, 0.20);

/// The first day of every sample: a Monday, so weeks are whole.
fn start_date() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 10, 19).expect("valid date")
}

/// One generated row, before it is written.
struct Row {
    ts: i64,
    line: String,
}

pub fn run(args: &SampleArgs) -> Result<()> {
    if args.fleet {
        return fleet::run(args);
    }
    if args.terminals == 0 || args.days == 0 {
        return Err(Error::Usage(
            "--terminals and --days must be at least 1".into(),
        ));
    }
    if args.one_file {
        let rows = write_one_file(args)?;
        println!(
            "poslens sample: wrote {rows} rows to {}",
            args.out.join("transactions.csv").display()
        );
        return Ok(());
    }
    let files = generate(args)?;
    for (name, bytes) in &files {
        write_atomic(&args.out.join(name), bytes)?;
    }
    let total: usize = files.iter().map(|f| f.1.len()).sum();
    println!(
        "poslens sample: wrote {} files ({} bytes) to {}",
        files.len(),
        total,
        args.out.display()
    );
    Ok(())
}

fn sample_tz(args: &SampleArgs) -> Result<Option<chrono_tz::Tz>> {
    args.tz
        .as_deref()
        .map(|z| {
            z.parse::<chrono_tz::Tz>()
                .map_err(|_| Error::Usage(format!("--tz: unknown time zone {z:?}")))
        })
        .transpose()
}

/// `--one-file`: the same data, written as they are generated, one day at a time, so memory
/// holds a day of rows, not the whole sample. Malformed rows come from a random stream of
/// their own (the weekly files draw them after generating everything); there are no
/// overlapping exports in a single file, and no jPOS host log.
fn write_one_file(args: &SampleArgs) -> Result<u64> {
    let path = args.out.join("transactions.csv");
    let werr = |source| Error::Write {
        path: path.clone(),
        source,
    };
    std::fs::create_dir_all(&args.out).map_err(werr)?;
    let file = std::fs::File::create(&path).map_err(werr)?;
    let mut out = std::io::BufWriter::with_capacity(1 << 20, file);
    let mut bad_rng = Rng(args.seed ^ 0xBAD0_DA7A);
    out.write_all(HEADER.as_bytes()).map_err(werr)?;
    out.write_all(b"\n").map_err(werr)?;
    let mut n: u64 = 0;
    let mut failed = None;
    let mut accepted_copies: Vec<String> = Vec::new();
    let (mut truth, _) = generate_days(args, &mut |_week, rows| {
        for r in rows {
            let mut text = r.line.clone();
            text.push('\n');
            if n % 4001 == 1000 {
                let (bad, accepted) = malformed(&mut bad_rng, (n / 4001) as usize, &r.line);
                text.push_str(&bad);
                text.push('\n');
                if accepted {
                    accepted_copies.push(bad);
                }
            }
            n += 1;
            if let Err(e) = out.write_all(text.as_bytes()) {
                failed.get_or_insert(e);
            }
        }
    })?;
    if let Some(e) = failed {
        return Err(werr(e));
    }
    out.flush().map_err(werr)?;
    for line in &accepted_copies {
        truth.accepted_copy(line);
    }
    write_atomic(
        &args.out.join("injected.toml"),
        truth.render(None).as_bytes(),
    )?;
    Ok(n)
}

const HEADER: &str = "timestamp,terminal_id,merchant_id,merchant_name,txn_id,txn_type,amount,currency,card_scheme,entry_mode,response_code,latency_ms,pan";

/// The sample as (file name, bytes): one gzip CSV per ISO week, the jPOS host log of the last
/// week, and `injected.toml`.
pub fn generate(args: &SampleArgs) -> Result<Vec<(String, Vec<u8>)>> {
    let mut weeks: Vec<(String, Vec<Row>)> = Vec::new();
    let (mut truth, rng) = generate_days(args, &mut |week, rows| {
        if weeks.last().map(|w| &w.0) != Some(&week) {
            weeks.push((week, Vec::new()));
        }
        if let Some(w) = weeks.last_mut() {
            w.1.extend(rows);
        }
    })?;
    // Malformed rows draw from the main stream after all rows.
    let mut files = write_weeks(rng, weeks, &mut truth)?;
    let (name, bytes, host) = host_log(args, sample_tz(args)?);
    files.push((name, bytes));
    files.push((
        "injected.toml".to_string(),
        truth.render(Some(&host)).into_bytes(),
    ));
    Ok(files)
}

/// The day's instant `secs` seconds of a nominal 24-hour day after local midnight, squeezed or
/// stretched onto the real day (23 or 25 hours when the clocks change), so that every
/// customer of a day starts within it.
fn day_instant(midnight: i64, day_len: i64, secs: i64) -> i64 {
    midnight + secs * day_len / 86_400
}

/// Generate the rows day by day (each day's rows sorted by time) and hand them to `on_day`
/// with their ISO week; returns the truth so far and the random stream, to be continued.
fn generate_days(
    args: &SampleArgs,
    on_day: &mut dyn FnMut(String, Vec<Row>),
) -> Result<(Truth, Rng)> {
    let tz = sample_tz(args)?;
    let mut rng = Rng(args.seed ^ 0x005E_ED0F_1A75);
    let days = args.days;
    let (merchants, mut terminals) = fleet(&mut rng, args.terminals as usize);
    let (mut truth, plan) = inject(args, tz, &merchants, &mut terminals);
    let scale = match args.rows {
        None => 1.0,
        Some(target) => {
            // 1.07 for the weekends, 1.01 for the retries.
            let expected: f64 = terminals
                .iter()
                .map(|t| merchants[t.merchant].kind.daily() * t.volume * 1.07 * 1.01)
                .sum::<f64>()
                * days as f64;
            target as f64 / expected.max(1.0)
        }
    };
    let mut cards: Vec<Cards> = (0..terminals.len())
        .map(|i| Cards::new(args.seed, i))
        .collect();

    // Generate day by day so rows come out in time order within each week file; a retry
    // after midnight goes with the next day.
    let mut seq: u64 = 0;
    let mut carry: Vec<Row> = Vec::new();
    for d in 0..days {
        let date = start_date() + Duration::days(d as i64);
        let week = format!("{}-W{:02}", date.iso_week().year(), date.iso_week().week());
        let midnight = local_midnight(date, tz);
        let next_midnight = local_midnight(date + Duration::days(1), tz);
        let day_len = next_midnight - midnight;
        let weekend = date.weekday().num_days_from_monday() >= 5;
        let mut rows: Vec<Row> = std::mem::take(&mut carry);
        for (i, t) in terminals.iter().enumerate() {
            let mer = &merchants[t.merchant];
            let mean = mer.kind.daily()
                * t.volume
                * scale
                * if weekend { mer.kind.weekend() } else { 1.0 };
            let count = (mean * (0.85 + 0.3 * rng.f64())).round() as u64;
            let hours = mer.kind.hours();
            let weights: Vec<(usize, f64)> = hours.iter().copied().enumerate().collect();
            let fallback = match t.fallback {
                Some((from, to)) => from + (to - from) * d as f64 / (days.max(2) - 1) as f64,
                None => FLEET_FALLBACK,
            };
            let mut customers: Vec<Customer> = Vec::with_capacity(count as usize);
            for _ in 0..count {
                let hour = rng.pick(&weights);
                let secs = hour as i64 * 3600 + rng.below(3600) as i64;
                let ts = day_instant(midnight, day_len, secs);
                customers.push(Customer::new(&mut rng, ts, mer.kind, fallback, None));
            }
            if plan.burst == Some((i, d)) {
                // Card testing: 30 attempts in 20 minutes at 03:00, mostly fraud codes, each
                // with another card; nobody retries.
                let base = day_instant(midnight, day_len, 3 * 3600);
                for k in 0..30 {
                    let code = if k % 5 == 4 { "14" } else { rng.pick(FRAUD) };
                    customers.push(Customer::new(
                        &mut rng,
                        base + k * 40,
                        mer.kind,
                        fallback,
                        Some(code),
                    ));
                }
            }
            // Card numbers are handed out in the order customers arrive.
            customers.sort_by_key(|c| c.ts);
            let spells = match t.walk_from {
                Some(from) if d >= from => walk_spells(&mut rng, midnight, day_len),
                _ => Vec::new(),
            };
            let mut till = Till {
                index: i,
                terminal: t,
                merchant: mer,
                day: d,
                spells,
                outage: plan.outage,
                tz,
            };
            for c in customers {
                till.serve(&mut rng, c, &mut cards[i], &mut seq, &mut rows, &mut truth);
            }
        }
        if d + 1 < days {
            let (today, later): (Vec<Row>, Vec<Row>) =
                rows.into_iter().partition(|r| r.ts < next_midnight);
            rows = today;
            carry = later;
        }
        rows.sort_by(|a, b| a.ts.cmp(&b.ts).then(a.line.cmp(&b.line)));
        on_day(week, rows);
    }
    Ok((truth, rng))
}

/// The walk-away till's spells of bad connection on one day: one starting in 18:00-18:20 and
/// one in 19:00-19:20 (local), each 25-40 minutes long, with at most [`SPELL_TIMEOUTS`]
/// timeouts each: (start, end, timeouts left).
fn walk_spells(rng: &mut Rng, midnight: i64, day_len: i64) -> Vec<(i64, i64, u32)> {
    [18, 19]
        .iter()
        .map(|h| {
            let start = day_instant(midnight, day_len, h * 3600 + rng.below(20 * 60) as i64);
            (
                start,
                start + 25 * 60 + rng.below(15 * 60 + 1) as i64,
                SPELL_TIMEOUTS,
            )
        })
        .collect()
}

/// One customer at a till: one purchase of one to three attempts, all with the same card
/// and amount.
struct Customer {
    ts: i64,
    /// Minor units.
    amount: i64,
    bin: usize,
    entry: &'static str,
    /// Card testing: the code, fixed in advance; nobody retries.
    forced: Option<&'static str>,
}

impl Customer {
    fn new(
        rng: &mut Rng,
        ts: i64,
        kind: Kind,
        fallback: f64,
        forced: Option<&'static str>,
    ) -> Customer {
        let (lo, hi) = kind.amount();
        let major = lo + (hi - lo) * rng.f64() * rng.f64();
        let amount = (major * 100.0).round() as i64;
        let bin = rng.pick(BIN_WEIGHTS);
        Customer {
            ts,
            amount,
            bin,
            entry: entry_mode(rng, fallback),
            forced,
        }
    }
}

/// 5% magstripe swipes; of the rest, a `fallback` share of chip fallbacks, then chip and
/// contactless reads 60:35.
fn entry_mode(rng: &mut Rng, fallback: f64) -> &'static str {
    let u = rng.f64();
    if u < 0.05 {
        return "magstripe";
    }
    let v = (u - 0.05) / 0.95;
    if v < fallback {
        "fallback"
    } else if (v - fallback) / (1.0 - fallback) < 0.6 / 0.95 {
        "chip"
    } else {
        "contactless"
    }
}

/// A terminal's card numbers: its customers take last fours from a counter, through a fixed
/// permutation of 0000-9999, in the order they arrive (see the module doc, "Exact truth").
struct Cards {
    next: u64,
    key: u64,
    /// The latest customers (start, BIN, amount) that started less than [`SAME_KEY_GAP`]
    /// before the newest: the counters `next - recent.len()` .. `next`.
    recent: std::collections::VecDeque<(i64, usize, i64)>,
}

impl Cards {
    fn new(seed: u64, terminal: usize) -> Cards {
        Cards {
            next: 0,
            key: Rng(seed ^ 0xCA4D_5EED ^ ((terminal as u64) << 20)).next_u64(),
            recent: Default::default(),
        }
    }

    /// The last four of the card of a customer starting at `ts` (not before the previous
    /// one); raises `amount` when a customer with the same card and amount started less
    /// than [`SAME_KEY_GAP`] before.
    fn assign(&mut self, ts: i64, bin: usize, amount: &mut i64) -> u16 {
        while self
            .recent
            .front()
            .is_some_and(|f| f.0 <= ts - SAME_KEY_GAP)
        {
            self.recent.pop_front();
        }
        let n = self.next;
        self.next += 1;
        // The same last four as this one: counters n - 10000 k, at index len - 10000 k.
        let len = self.recent.len();
        while (1..=len / 10_000).any(|k| {
            let e = self.recent[len - k * 10_000];
            e.1 == bin && e.2 == *amount
        }) {
            *amount += 1;
        }
        self.recent.push_back((ts, bin, *amount));
        last_four(n, self.key)
    }
}

/// A keyed permutation of 0000-9999 (a four-round Feistel network on two base-100 digits).
fn last_four(n: u64, key: u64) -> u16 {
    let x = n % 10_000;
    let (mut a, mut b) = (x / 100, x % 100);
    for round in 0..4u64 {
        let f = Rng(key ^ (round << 56) ^ b).next_u64() % 100;
        (a, b) = (b, (a + f) % 100);
    }
    (a * 100 + b) as u16
}

/// One terminal on one day, serving its customers.
struct Till<'a> {
    index: usize,
    terminal: &'a Terminal,
    merchant: &'a Merchant,
    day: u32,
    /// The walk-away till's spells of bad connection today, with the timeouts each has left.
    spells: Vec<(i64, i64, u32)>,
    outage: (i64, i64),
    tz: Option<chrono_tz::Tz>,
}

impl Till<'_> {
    /// Whether this is the walk-away till and its trouble has begun.
    fn walking(&self) -> bool {
        self.terminal.walk_from.is_some_and(|f| self.day >= f)
    }

    fn code_at(&mut self, rng: &mut Rng, ts: i64) -> &'static str {
        let in_outage = (self.outage.0..self.outage.1).contains(&ts);
        let spell = self
            .spells
            .iter()
            .position(|s| (s.0..s.1).contains(&ts) && s.2 > 0);
        let timeout = match (self.walking(), spell) {
            (false, _) => 0.0,
            (true, Some(_)) => SPELL_TIMEOUT,
            (true, None) => WALK_TIMEOUT,
        };
        let code = pick_code(
            rng,
            self.terminal,
            self.merchant,
            self.day,
            in_outage,
            timeout,
        );
        if let Some(k) = spell {
            if matches!(code, "68" | "91" | "96") {
                self.spells[k].2 -= 1;
            }
        }
        code
    }

    /// A customer's attempts, written as rows and counted in the truth.
    fn serve(
        &mut self,
        rng: &mut Rng,
        c: Customer,
        cards: &mut Cards,
        seq: &mut u64,
        rows: &mut Vec<Row>,
        truth: &mut Truth,
    ) {
        let mut amount = c.amount;
        let last4 = cards.assign(c.ts, c.bin, &mut amount);
        let card = Card {
            amount,
            bin: c.bin,
            last4,
            entry: c.entry,
        };
        let Truth {
            by_terminal, walk, ..
        } = truth;
        let tally = &mut by_terminal[self.index];
        let mut ts = c.ts;
        let mut code = match c.forced {
            Some(code) => code,
            None => self.code_at(rng, ts),
        };
        let mut n = 1;
        loop {
            *seq += 1;
            rows.push(row(
                rng,
                ts,
                self.tz,
                self.terminal,
                self.merchant,
                code,
                *seq,
                &card,
            ));
            tally.attempt(code, c.entry);
            if code == "00" {
                tally.recovered += 1;
                if n > 1 {
                    tally.recovered_after_retry += 1;
                }
                break;
            }
            let chance = if c.forced.is_some() || n >= MAX_ATTEMPTS {
                0.0
            } else if self.walking() && matches!(code, "68" | "91" | "96") {
                WALK_RETRY[n as usize - 1]
            } else {
                retry_chance(code) * if n == 1 { 1.0 } else { SECOND_RETRY }
            };
            if !(chance > 0.0 && rng.f64() < chance) {
                tally.lost += 1;
                tally.lost_amount += amount;
                if self.walking() {
                    if let Some(w) = walk.as_mut() {
                        if matches!(local_hour(ts, self.tz), 18 | 19) {
                            w.lost_evening += 1;
                            w.lost_evening_amount += amount;
                        }
                    }
                }
                break;
            }
            ts += RETRY_DELAY.0 + rng.below((RETRY_DELAY.1 - RETRY_DELAY.0 + 1) as u64) as i64;
            n += 1;
            code = match retry_approved(code) {
                Some(p) => {
                    if rng.f64() < p {
                        "00"
                    } else {
                        code
                    }
                }
                None => self.code_at(rng, ts),
            };
        }
        tally.purchases += 1;
        if n > 1 {
            tally.retried += 1;
        }
    }
}

/// What a customer's rows share.
struct Card {
    amount: i64,
    bin: usize,
    last4: u16,
    entry: &'static str,
}

/// The hour of the day (0-23) of an instant, in the sample's zone.
fn local_hour(ts: i64, tz: Option<chrono_tz::Tz>) -> u32 {
    use chrono::Timelike;
    let when = chrono::DateTime::from_timestamp(ts, 0).unwrap_or_default();
    match tz {
        None => when.hour(),
        Some(tz) => when.with_timezone(&tz).hour(),
    }
}

/// An instant as RFC 3339 in the sample's zone (`+00:00` without one).
fn rfc3339(ts: i64, tz: Option<chrono_tz::Tz>) -> String {
    let when = chrono::DateTime::from_timestamp(ts, 0).unwrap_or_default();
    match tz {
        None => when.format("%Y-%m-%dT%H:%M:%S+00:00").to_string(),
        Some(tz) => when
            .with_timezone(&tz)
            .format("%Y-%m-%dT%H:%M:%S%:z")
            .to_string(),
    }
}

/// Merchants with 1-3 terminals each (by kind), cycling through the names, until there are
/// `n_terms` terminals.
fn fleet(rng: &mut Rng, n_terms: usize) -> (Vec<Merchant>, Vec<Terminal>) {
    let mut merchants = Vec::new();
    let mut terminals: Vec<Terminal> = Vec::new();
    let mut m = 0;
    while terminals.len() < n_terms {
        let (name, kind) = NAMES[m % NAMES.len()];
        let per = match kind {
            Kind::Grocery | Kind::Fuel => 3,
            Kind::Restaurant | Kind::Liquor => 2,
            Kind::Electronics => 1,
        };
        merchants.push(Merchant {
            id: format!("M{:04}", m + 1),
            name,
            kind,
        });
        for _ in 0..per {
            if terminals.len() == n_terms {
                break;
            }
            terminals.push(Terminal {
                id: format!("T{:04}", terminals.len() + 1),
                merchant: m,
                volume: 0.8 + 0.4 * rng.f64(),
                fault: None,
                walk_from: None,
                fallback: None,
                slow: false,
            });
        }
        m += 1;
    }
    (merchants, terminals)
}

/// Trouble that is not a terminal's own: the fleet-wide outage (UTC instants, end
/// exclusive) and the card-testing burst (terminal index, day).
struct Plan {
    outage: (i64, i64),
    burst: Option<(usize, u32)>,
}

/// Inject trouble on terminals chosen by kind (the first that fits, so seeds differ only in
/// the noise) and write down which in `injected.toml`.
fn inject(
    args: &SampleArgs,
    tz: Option<chrono_tz::Tz>,
    merchants: &[Merchant],
    terminals: &mut [Terminal],
) -> (Truth, Plan) {
    let days = args.days;
    let mut truth = String::from(
        "# What `poslens sample` hid in these logs (analyze does not read this file).\n",
    );
    let _ = writeln!(
        truth,
        "seed = {}\nterminals = {}\ndays = {}\nstart = \"{}\"\n",
        args.seed,
        terminals.len(),
        days,
        start_date()
    );
    let find = |terms: &[Terminal], kind: Kind, skip: usize| {
        terms
            .iter()
            .enumerate()
            .filter(|(_, t)| merchants[t.merchant].kind == kind && t.fault.is_none())
            .nth(skip)
            .map(|(i, _)| i)
    };
    let mut faulty = Vec::new();
    let mid = days / 2;
    for (kind, skip, rate, from, codes, what) in [
        (
            Kind::Grocery,
            0,
            0.05,
            0,
            READER_FAULT,
            "card reader failing from the start",
        ),
        (
            Kind::Fuel,
            1,
            0.04,
            mid,
            SETUP_FAULT,
            "set-up/key errors from mid-period",
        ),
        (
            Kind::Grocery,
            1,
            0.015,
            0,
            SUBTLE_FAULT,
            "subtle: 1.5% unable-to-verify against a 0.1% fleet",
        ),
    ] {
        if let Some(i) = find(terminals, kind, skip) {
            terminals[i].fault = Some((rate, from, codes));
            if rate < 0.02 {
                terminals[i].volume = 1.2; // a busy till: a few thousand transactions
            }
            faulty.push((terminals[i].id.clone(), from, rate, what));
        }
    }
    for (id, from, rate, what) in &faulty {
        let _ = writeln!(
            truth,
            "[[faulty]]\nterminal_id = \"{id}\"\nrate = {rate}\nfrom = \"{}\"\nwhat = \"{what}\"\n",
            start_date() + Duration::days(*from as i64)
        );
    }
    // Terminals some injection uses: the new injections keep off them.
    let mut used: Vec<bool> = terminals.iter().map(|t| t.fault.is_some()).collect();
    if let Some(li) = merchants.iter().position(|m| m.kind == Kind::Liquor) {
        let ids: Vec<String> = terminals
            .iter()
            .filter(|t| t.merchant == li)
            .map(|t| format!("\"{}\"", t.id))
            .collect();
        for (i, t) in terminals.iter().enumerate() {
            if t.merchant == li {
                used[i] = true;
            }
        }
        let _ = writeln!(
            truth,
            "[high_declines]\nmerchant_id = \"{}\"\nterminals = [{}]\ndecline_rate = 0.18\n",
            merchants[li].id,
            ids.join(", ")
        );
    }
    let low_volume = terminals
        .iter()
        .rposition(|t| merchants[t.merchant].kind == Kind::Electronics && t.fault.is_none());
    if let Some(i) = low_volume {
        terminals[i].volume = 0.06;
        used[i] = true;
        let _ = writeln!(
            truth,
            "[low_volume]\nterminal_id = \"{}\"\n",
            terminals[i].id
        );
    }
    let outage_day = (days * 9 / 28).min(days - 1);
    let outage_start =
        start_date().and_hms_opt(14, 0, 0).expect("valid") + Duration::days(outage_day as i64);
    let outage_end = outage_start + Duration::hours(2);
    let _ = writeln!(
        truth,
        "[outage]\nstart = \"{}\"\nend = \"{}\"\nnetwork_failure_rate = 0.55\n",
        outage_start.format("%Y-%m-%dT%H:%M:%S+00:00"),
        outage_end.format("%Y-%m-%dT%H:%M:%S+00:00")
    );
    let burst_terminal = terminals
        .iter()
        .position(|t| merchants[t.merchant].kind == Kind::Restaurant && t.fault.is_none());
    let burst_day = (days * 20 / 28).min(days - 1);
    if let Some(i) = burst_terminal {
        used[i] = true;
        let date = start_date() + Duration::days(burst_day as i64);
        let midnight = local_midnight(date, tz);
        let day_len = local_midnight(date + Duration::days(1), tz) - midnight;
        let _ = writeln!(
            truth,
            "[fraud_burst]\nterminal_id = \"{}\"\nstart = \"{}\"\n",
            terminals[i].id,
            rfc3339(day_instant(midnight, day_len, 3 * 3600), tz)
        );
    }

    // The walk-away till: the first till of the first grocery no other injection touches,
    // so its merchant's lost sales are its story. Only in a fleet big enough that its evening
    // timeouts stay a small part of the fleet's hour (they must not look like an outage).
    let walk_from = (days * 5 / 14).min(days - 1);
    let walk = merchants
        .iter()
        .enumerate()
        .filter(|(_, m)| m.kind == Kind::Grocery)
        .map(|(mi, _)| {
            terminals
                .iter()
                .enumerate()
                .filter(move |(_, t)| t.merchant == mi)
                .map(|(i, _)| i)
                .collect::<Vec<usize>>()
        })
        .find(|tills| tills.iter().all(|&i| !used[i]))
        .map(|tills| tills[0])
        .filter(|_| terminals.len() >= WALK_MIN_FLEET);
    let mut walk_text = String::new();
    if let Some(i) = walk {
        terminals[i].walk_from = Some(walk_from);
        used[i] = true;
        let _ = writeln!(
            walk_text,
            "[walk_away]\nwhat = \"a till whose customers walk away after timeouts: from `from` on, \
             {:.0}% of its attempts time out (68/91) in two spells of bad connection each \
             evening, 25-40 minutes long (one starting 18:00-18:20, one 19:00-19:20 local; a \
             spell ends early after {SPELL_TIMEOUTS} network errors), {:.0}% at other times; \
             after a timeout a customer retries with {:.0}%, after a second with {:.0}%, never a \
             third time; the rest leave\"\nterminal_id = \"{}\"\nmerchant_id = \"{}\"\n\
             from = \"{}\"\nevening = \"18:00-20:00\"",
            SPELL_TIMEOUT * 100.0,
            WALK_TIMEOUT * 100.0,
            WALK_RETRY[0] * 100.0,
            WALK_RETRY[1] * 100.0,
            terminals[i].id,
            merchants[terminals[i].merchant].id,
            start_date() + Duration::days(walk_from as i64)
        );
    }
    // Rising chip fallback on a fuel till, a slow restaurant till.
    let free = |terms: &[Terminal], used: &[bool], kind: Kind| {
        terms
            .iter()
            .enumerate()
            .find(|(i, t)| merchants[t.merchant].kind == kind && !used[*i])
            .map(|(i, _)| i)
    };
    let fallback = free(terminals, &used, Kind::Fuel);
    let mut fallback_text = String::new();
    if let Some(i) = fallback {
        terminals[i].fallback = Some(FALLBACK_RISE);
        used[i] = true;
        let _ = writeln!(
            fallback_text,
            "[fallback]\nwhat = \"chip fallback rising: entry_mode `fallback` on a share of the \
             chip reads (chip, contactless, fallback) climbing linearly from `from_rate` on the \
             first day to `to_rate` on the last; every other terminal {FLEET_FALLBACK}\"\n\
             terminal_id = \"{}\"\nmerchant_id = \"{}\"\nfrom = \"{}\"\nto = \"{}\"\n\
             from_rate = {}\nto_rate = {}\nfleet_rate = {FLEET_FALLBACK}",
            terminals[i].id,
            merchants[terminals[i].merchant].id,
            start_date(),
            start_date() + Duration::days(days as i64 - 1),
            FALLBACK_RISE.0,
            FALLBACK_RISE.1,
        );
    }
    let slow = free(terminals, &used, Kind::Restaurant);
    let mut slow_text = String::new();
    if let Some(i) = slow {
        terminals[i].slow = true;
        let _ = writeln!(
            slow_text,
            "[slow]\nwhat = \"a slow terminal: latency_ms 3000-9000 against the fleet's \
             250-1749 (timeouts 91/68 are 30000 everywhere)\"\nterminal_id = \"{}\"\n\
             merchant_id = \"{}\"\nlatency_ms = [3000, 9000]\nfleet_latency_ms = [250, 1749]\n",
            terminals[i].id, merchants[terminals[i].merchant].id,
        );
    }

    let plan = Plan {
        outage: (
            outage_start.and_utc().timestamp(),
            outage_end.and_utc().timestamp(),
        ),
        burst: burst_terminal.map(|i| (i, burst_day)),
    };
    let truth = Truth {
        head: truth,
        terminal_ids: terminals.iter().map(|t| t.id.clone()).collect(),
        terminal_merchant: terminals.iter().map(|t| t.merchant).collect(),
        merchant_ids: merchants.iter().map(|m| m.id.clone()).collect(),
        by_terminal: vec![Tally::default(); terminals.len()],
        walk: walk.map(|terminal| WalkTruth {
            terminal,
            text: walk_text,
            lost_evening: 0,
            lost_evening_amount: 0,
        }),
        fallback: fallback.map(|i| (i, fallback_text)),
        slow: slow_text,
    };
    (truth, plan)
}

/// Counts kept while generating, for `injected.toml`'s exact figures.
#[derive(Default, Clone, Copy)]
struct Tally {
    /// Rows analysis accepts (duplicates counted once).
    attempts: u64,
    failed: u64,
    purchases: u64,
    recovered: u64,
    lost: u64,
    /// Minor units.
    lost_amount: i64,
    /// Purchases of more than one attempt.
    retried: u64,
    recovered_after_retry: u64,
    /// Rows whose entry mode is a chip read (`chip`, `contactless`) or a fallback.
    chip_reads: u64,
    fallbacks: u64,
}

impl Tally {
    fn attempt(&mut self, code: &str, entry: &str) {
        self.attempts += 1;
        if code != "00" {
            self.failed += 1;
        }
        match entry {
            "fallback" => self.fallbacks += 1,
            "chip" | "contactless" => self.chip_reads += 1,
            _ => {}
        }
    }

    fn add(&mut self, o: &Tally) {
        self.attempts += o.attempts;
        self.failed += o.failed;
        self.purchases += o.purchases;
        self.recovered += o.recovered;
        self.lost += o.lost;
        self.lost_amount += o.lost_amount;
        self.retried += o.retried;
        self.recovered_after_retry += o.recovered_after_retry;
        self.chip_reads += o.chip_reads;
        self.fallbacks += o.fallbacks;
    }

    /// As an inline TOML table.
    fn inline(&self) -> String {
        format!(
            "{{ attempts = {}, failed_attempts = {}, purchases = {}, recovered = {}, lost = {}, \
             lost_amount_minor = {}, chip_reads = {}, fallbacks = {} }}",
            self.attempts,
            self.failed,
            self.purchases,
            self.recovered,
            self.lost,
            self.lost_amount,
            self.chip_reads,
            self.fallbacks
        )
    }
}

struct WalkTruth {
    terminal: usize,
    /// The `[walk_away]` section's description.
    text: String,
    /// Lost purchases whose last attempt is at 18:00-19:59 local, from the injection's start.
    lost_evening: u64,
    lost_evening_amount: i64,
}

/// What `injected.toml` says: descriptions written when the trouble is planned, counts kept
/// while the rows are made.
struct Truth {
    head: String,
    terminal_ids: Vec<String>,
    terminal_merchant: Vec<usize>,
    merchant_ids: Vec<String>,
    by_terminal: Vec<Tally>,
    walk: Option<WalkTruth>,
    /// The fallback terminal and its section's description.
    fallback: Option<(usize, String)>,
    /// The `[slow]` section (empty: none).
    slow: String,
}

impl Truth {
    /// An accepted malformed row (a good row's copy with a one-digit code): one more failed
    /// attempt, no purchase (see the module doc).
    fn accepted_copy(&mut self, line: &str) {
        let f: Vec<&str> = line.split(',').collect();
        let index = f[1]
            .strip_prefix('T')
            .and_then(|n| n.parse::<usize>().ok())
            .and_then(|n| n.checked_sub(1))
            .filter(|&i| self.terminal_ids.get(i).is_some_and(|id| id == f[1]));
        if let Some(i) = index {
            self.by_terminal[i].attempt(f[10], f[9]);
        }
    }

    fn render(&self, host: Option<&HostTruth>) -> String {
        let mut s = self.head.clone();
        let mut total = Tally::default();
        for t in &self.by_terminal {
            total.add(t);
        }
        let _ =
            writeln!(
            s,
            "[retries]\nwhat = \"customers retry after a failed attempt with the same card and \
             amount, {}-{} s after the attempt before, at most {} attempts in all; the chance \
             of a retry depends on the code (a second retry: {} times it); a declined card's \
             retry is approved with `retry_approved`, network and terminal errors are drawn \
             afresh; the rest walk away (lost)\"\nwhere = \"every terminal\"\n\
             retry_chance = {{ \"55\" = 0.6, \"51\" = 0.3, \"05\" = 0.3, \"61\" = 0.1, \
             \"54\" = 0.0, \"91\" = 0.7, \"96\" = 0.7, \"68\" = 0.7, terminal_class = 0.5, \
             fraud_class = 0.0 }}\nsecond_retry_factor = {SECOND_RETRY}\n\
             retry_approved = {{ \"55\" = 0.8, \"51\" = 0.35, \"05\" = 0.45, \"61\" = 0.3 }}\n\
             retried_purchases = {}\nrecovered_after_retry = {}\n",
            RETRY_DELAY.0, RETRY_DELAY.1, MAX_ATTEMPTS, SECOND_RETRY,
            total.retried, total.recovered_after_retry
        );
        if let Some(w) = &self.walk {
            let t = &self.by_terminal[w.terminal];
            let mut merchant = Tally::default();
            let m = self.terminal_merchant[w.terminal];
            for (i, x) in self.by_terminal.iter().enumerate() {
                if self.terminal_merchant[i] == m {
                    merchant.add(x);
                }
            }
            let _ = writeln!(
                s,
                "{}attempts = {}\nfailed_attempts = {}\npurchases = {}\nrecovered = {}\n\
                 lost = {}\nlost_amount_minor = {}\nlost_evening = {}\n\
                 lost_evening_amount_minor = {}\nmerchant_purchases = {}\nmerchant_lost = {}\n\
                 merchant_lost_amount_minor = {}\n",
                w.text,
                t.attempts,
                t.failed,
                t.purchases,
                t.recovered,
                t.lost,
                t.lost_amount,
                w.lost_evening,
                w.lost_evening_amount,
                merchant.purchases,
                merchant.lost,
                merchant.lost_amount
            );
        }
        if let Some((i, text)) = &self.fallback {
            let t = &self.by_terminal[*i];
            let mut fleet = total;
            fleet.chip_reads -= t.chip_reads;
            fleet.fallbacks -= t.fallbacks;
            let _ = writeln!(
                s,
                "{text}fallbacks = {}\nchip_reads = {}\nfleet_fallbacks = {}\n\
                 fleet_chip_reads = {}\n",
                t.fallbacks, t.chip_reads, fleet.fallbacks, fleet.chip_reads
            );
        }
        s.push_str(&self.slow);
        let rate = |a: u64, b: u64| if b == 0 { 0.0 } else { a as f64 / b as f64 };
        let _ = writeln!(
            s,
            "[purchases]\n# The CSV exports only (transactions_*); the jPOS host log is in \
             [host_log].\nwhat = \"exact, counted while generating: attempts with the same \
             terminal, merchant, amount, currency and card (first six + last four), each within \
             600 s of the one before, are one purchase; it is recovered when an attempt is \
             approved, else lost; attempts are the rows analysis accepts (duplicates once, the \
             accepted one-digit-code rows included)\"\nretry_window_s = 600\nattempts = {}\n\
             failed_attempts = {}\nattempt_failure_rate = {:.6}\npurchases = {}\n\
             recovered = {}\nlost = {}\nlost_amount_minor = {}\npurchase_failure_rate = {:.6}\n\
             retried = {}\nrecovered_after_retry = {}\n",
            total.attempts,
            total.failed,
            rate(total.failed, total.attempts),
            total.purchases,
            total.recovered,
            total.lost,
            total.lost_amount,
            rate(total.lost, total.purchases),
            total.retried,
            total.recovered_after_retry
        );
        s.push_str("[purchases.by_merchant]\n");
        for (m, id) in self.merchant_ids.iter().enumerate() {
            let mut t = Tally::default();
            for (i, x) in self.by_terminal.iter().enumerate() {
                if self.terminal_merchant[i] == m {
                    t.add(x);
                }
            }
            let _ = writeln!(s, "{id} = {}", t.inline());
        }
        s.push_str("\n[purchases.by_terminal]\n");
        for (id, t) in self.terminal_ids.iter().zip(&self.by_terminal) {
            let _ = writeln!(s, "{id} = {}", t.inline());
        }
        if let Some(h) = host {
            s.push('\n');
            s.push_str(&h.render());
        }
        s
    }
}

/// The instant a sample day starts: midnight UTC, or local midnight with `--tz`.
fn local_midnight(date: NaiveDate, tz: Option<chrono_tz::Tz>) -> i64 {
    let noon = date.and_hms_opt(12, 0, 0).expect("noon");
    match tz {
        None => date
            .and_hms_opt(0, 0, 0)
            .expect("midnight")
            .and_utc()
            .timestamp(),
        Some(tz) => crate::analyze::periods::day_start(
            noon.and_utc().timestamp()
                - tz.offset_from_utc_datetime(&noon).fix().local_minus_utc() as i64,
            tz,
        ),
    }
}

/// One gzip CSV per week (each repeating the last rows of the week before, as overlapping
/// exports do, with a few malformed rows spread through it).
fn write_weeks(
    mut rng: Rng,
    weeks: Vec<(String, Vec<Row>)>,
    truth: &mut Truth,
) -> Result<Vec<(String, Vec<u8>)>> {
    let header = HEADER;
    let mut files = Vec::new();
    let mut previous_tail: Vec<String> = Vec::new();
    for (wi, (week, rows)) in weeks.iter().enumerate() {
        let mut text = String::with_capacity(rows.len() * 120);
        text.push_str(header);
        text.push('\n');
        // Overlapping exports: the last rows of the previous week appear again.
        for l in &previous_tail {
            text.push_str(l);
            text.push('\n');
        }
        for (i, r) in rows.iter().enumerate() {
            text.push_str(&r.line);
            text.push('\n');
            // A few malformed rows, spread through the file.
            if i % 4001 == 1000 {
                let (bad, accepted) = malformed(&mut rng, wi * 10 + i / 4001, &r.line);
                text.push_str(&bad);
                text.push('\n');
                if accepted {
                    truth.accepted_copy(&bad);
                }
            }
        }
        previous_tail = rows
            .iter()
            .rev()
            .take(12)
            .rev()
            .map(|r| r.line.clone())
            .collect();
        files.push((
            format!("transactions_{week}.csv.gz"),
            gzip(text.as_bytes())?,
        ));
    }
    Ok(files)
}

/// The code of one attempt: the outage first, then the walk-away till's timeouts (`timeout`:
/// their chance, 0 elsewhere), the terminal's own fault, then the fleet's usual mix.
fn pick_code(
    rng: &mut Rng,
    t: &Terminal,
    m: &Merchant,
    day: u32,
    in_outage: bool,
    timeout: f64,
) -> &'static str {
    if in_outage && rng.f64() < 0.55 {
        return rng.pick(NETWORK);
    }
    if timeout > 0.0 && rng.f64() < timeout {
        return rng.pick(TIMEOUTS);
    }
    if let Some((rate, from, codes)) = t.fault {
        if day >= from && rng.f64() < rate {
            return rng.pick(codes);
        }
    }
    let decline_rate = if m.kind == Kind::Liquor { 0.18 } else { 0.035 };
    let x = rng.f64();
    let mut edge = decline_rate;
    if x < edge {
        return rng.pick(DECLINES);
    }
    edge += 0.004;
    if x < edge {
        return rng.pick(NETWORK);
    }
    edge += 0.0004;
    if x < edge {
        return rng.pick(FRAUD);
    }
    edge += 0.001;
    if x < edge {
        return rng.pick(TERMINAL_BASE);
    }
    edge += 0.0002;
    if x < edge {
        return "E3"; // a code no catalog knows, so the report's unknown list is exercised
    }
    "00"
}

#[allow(clippy::too_many_arguments)]
fn row(
    rng: &mut Rng,
    ts: i64,
    tz: Option<chrono_tz::Tz>,
    t: &Terminal,
    m: &Merchant,
    code: &str,
    seq: u64,
    card: &Card,
) -> Row {
    let when = chrono::DateTime::from_timestamp(ts, 0).unwrap_or_default();
    let stamp = match tz {
        None => when.format("%Y-%m-%d %H:%M:%S").to_string(),
        Some(tz) => when
            .with_timezone(&tz)
            .format("%Y-%m-%dT%H:%M:%S%:z")
            .to_string(),
    };
    let (bin, scheme) = BINS[card.bin];
    let latency = if matches!(code, "91" | "68") {
        30000
    } else if t.slow {
        3000 + rng.below(6001)
    } else {
        250 + rng.below(1500)
    };
    let name = if m.name.contains(',') {
        format!("\"{}\"", m.name)
    } else {
        m.name.to_string()
    };
    let rest = format!(
        ",{},{},{},{:012},sale,{}.{:02},CNY,{},{},{},{},{}******{:04}",
        t.id,
        m.id,
        name,
        seq,
        card.amount / 100,
        card.amount % 100,
        scheme,
        card.entry,
        code,
        latency,
        bin,
        card.last4
    );
    Row {
        ts,
        line: format!("{stamp}{rest}"),
    }
}

/// A malformed variant of a good row, cycling through the kinds real exports contain, and
/// whether analysis accepts it (only the one-digit code, read as `05`).
fn malformed(rng: &mut Rng, k: usize, good: &str) -> (String, bool) {
    let f: Vec<&str> = good.split(',').collect();
    let id = format!(
        "{:012}",
        900_000_000_000u64 + k as u64 * 1000 + rng.below(1000)
    );
    let mut g: Vec<String> = f.iter().map(|s| s.to_string()).collect();
    g[4] = id;
    let bad = match k % 6 {
        0 => {
            g[0] = "2026-13-45 99:00:00".into();
            g.join(",")
        }
        1 => {
            g[1] = String::new();
            g.join(",")
        }
        2 => {
            g[10] = String::new();
            g.join(",")
        }
        3 => g[..8].join(","), // truncated export line
        4 => {
            g[0] = "N/A".into();
            g.join(",")
        }
        _ => {
            // A spreadsheet round-trip dropped the leading zero: read as 05, counted, accepted.
            g[10] = "5".into();
            g.join(",")
        }
    };
    (bad, k % 6 == 5)
}

fn gzip(bytes: &[u8]) -> Result<Vec<u8>> {
    // GzBuilder writes mtime 0 and no file name: the same input gives the same bytes.
    let mut enc = flate2::GzBuilder::new().write(Vec::new(), flate2::Compression::new(9));
    enc.write_all(bytes)
        .and_then(|_| enc.finish())
        .map_err(|source| Error::Write {
            path: Path::new("<gzip>").into(),
            source,
        })
}
