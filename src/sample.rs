//! `poslens sample`: realistic terminal logs with known trouble, seeded and deterministic.
//!
//! The data look like an acquirer's daily export: merchants of several kinds with their own
//! daily and weekly rhythm, about 95% approvals, cardholder declines (51/05/55/54/61), a little
//! network trouble (91/96/68), rare fraud codes, and a fleet-wide terminal-error baseline of
//! about 0.1%. On top of that it injects trouble an analyst should find (listed in
//! `injected.toml` beside the logs, which `analyze` does not read):
//! - a terminal whose card reader fails on ~5% of transactions from the start;
//! - a terminal that turns bad half-way through (~4% from a given day);
//! - a subtle one: ~1.5% against the 0.1% fleet, over a few thousand transactions;
//! - a liquor shop whose customers' cards are declined a lot (not a terminal fault);
//! - a two-hour issuer outage hitting every terminal (not a terminal fault);
//! - a low-volume terminal (too few transactions to judge);
//! - a burst of fraud codes at night on one terminal (card testing);
//! - a handful of malformed rows and overlapping exports (duplicates).
//!
//! The generator uses its own SplitMix64 so the bytes never change with a dependency upgrade.

use std::fmt::Write as _;
use std::io::Write as _;
use std::path::Path;

use chrono::{Datelike, Duration, NaiveDate, Offset, TimeZone};

use crate::cli::SampleArgs;
use crate::error::{Error, Result};
use crate::render::write_atomic;

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
/// overlapping exports in a single file.
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
    let (truth, _) = generate_days(args, &mut |_week, rows| {
        for r in rows {
            let mut text = r.line.clone();
            text.push('\n');
            if n % 4001 == 1000 {
                text.push_str(&malformed(&mut bad_rng, (n / 4001) as usize, &r.line));
                text.push('\n');
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
    write_atomic(&args.out.join("injected.toml"), truth.as_bytes())?;
    Ok(n)
}

const HEADER: &str = "timestamp,terminal_id,merchant_id,merchant_name,txn_id,txn_type,amount,currency,card_scheme,entry_mode,response_code,latency_ms,pan";

/// The sample as (file name, bytes): one gzip CSV per ISO week plus `injected.toml`.
pub fn generate(args: &SampleArgs) -> Result<Vec<(String, Vec<u8>)>> {
    let mut weeks: Vec<(String, Vec<Row>)> = Vec::new();
    let (truth, rng) = generate_days(args, &mut |week, rows| {
        if weeks.last().map(|w| &w.0) != Some(&week) {
            weeks.push((week, Vec::new()));
        }
        if let Some(w) = weeks.last_mut() {
            w.1.extend(rows);
        }
    })?;
    // Malformed rows draw from the main stream after all rows, as the sample always did, so
    // `sample_logs/` stays byte for byte what it was.
    write_weeks(rng, weeks, truth)
}

/// Generate the rows day by day (each day's rows sorted by time) and hand them to `on_day`
/// with their ISO week; returns `injected.toml` and the random stream, to be continued.
fn generate_days(
    args: &SampleArgs,
    on_day: &mut dyn FnMut(String, Vec<Row>),
) -> Result<(String, Rng)> {
    let tz = sample_tz(args)?;
    let mut rng = Rng(args.seed ^ 0x005E_ED0F_1A75);
    let days = args.days;
    let (merchants, mut terminals) = fleet(&mut rng, args.terminals as usize);
    let (truth, plan) = inject(args, &merchants, &mut terminals);
    let scale = match args.rows {
        None => 1.0,
        Some(target) => {
            let expected: f64 = terminals
                .iter()
                .map(|t| merchants[t.merchant].kind.daily() * t.volume * 1.07)
                .sum::<f64>()
                * days as f64;
            target as f64 / expected.max(1.0)
        }
    };

    // Generate day by day so rows come out in time order within each week file.
    let mut seq: u64 = 0;
    for d in 0..days {
        let date = start_date() + Duration::days(d as i64);
        let week = format!("{}-W{:02}", date.iso_week().year(), date.iso_week().week());
        let midnight = local_midnight(date, tz);
        let weekend = date.weekday().num_days_from_monday() >= 5;
        let mut rows: Vec<Row> = Vec::new();
        for (i, t) in terminals.iter().enumerate() {
            let mer = &merchants[t.merchant];
            let mean = mer.kind.daily()
                * t.volume
                * scale
                * if weekend { mer.kind.weekend() } else { 1.0 };
            let count = (mean * (0.85 + 0.3 * rng.f64())).round() as u64;
            let hours = mer.kind.hours();
            let weights: Vec<(usize, f64)> = hours.iter().copied().enumerate().collect();
            for _ in 0..count {
                let hour = rng.pick(&weights);
                let secs = hour as i64 * 3600 + rng.below(3600) as i64;
                let ts = midnight + secs;
                let in_outage = (plan.outage.0..plan.outage.1).contains(&ts);
                let code = pick_code(&mut rng, t, mer, d, in_outage);
                seq += 1;
                rows.push(row(&mut rng, ts, tz, t, mer, code, seq));
            }
            if plan.burst == Some((i, d)) {
                // Card testing: 30 attempts in 20 minutes at 03:00, mostly fraud codes.
                let base = date
                    .and_hms_opt(3, 0, 0)
                    .expect("valid")
                    .and_utc()
                    .timestamp();
                for k in 0..30 {
                    let code = if k % 5 == 4 { "14" } else { rng.pick(FRAUD) };
                    seq += 1;
                    rows.push(row(&mut rng, base + k * 40, tz, t, mer, code, seq));
                }
            }
        }
        rows.sort_by(|a, b| a.ts.cmp(&b.ts).then(a.line.cmp(&b.line)));
        on_day(week, rows);
    }
    Ok((truth, rng))
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
            });
        }
        m += 1;
    }
    (merchants, terminals)
}

/// Trouble that is not a terminal's own fault rate: the fleet-wide outage (UTC instants,
/// end exclusive) and the card-testing burst (terminal index, day).
struct Plan {
    outage: (i64, i64),
    burst: Option<(usize, u32)>,
}

/// Inject trouble on terminals chosen by kind (the first that fits, so seeds differ only in
/// the noise) and write down which in `injected.toml`.
fn inject(args: &SampleArgs, merchants: &[Merchant], terminals: &mut [Terminal]) -> (String, Plan) {
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
    if let Some(li) = merchants.iter().position(|m| m.kind == Kind::Liquor) {
        let ids: Vec<String> = terminals
            .iter()
            .filter(|t| t.merchant == li)
            .map(|t| format!("\"{}\"", t.id))
            .collect();
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
        let _ = writeln!(
            truth,
            "[fraud_burst]\nterminal_id = \"{}\"\nstart = \"{}T03:00:00+00:00\"\n",
            terminals[i].id,
            start_date() + Duration::days(burst_day as i64)
        );
    }
    let plan = Plan {
        outage: (
            outage_start.and_utc().timestamp(),
            outage_end.and_utc().timestamp(),
        ),
        burst: burst_terminal.map(|i| (i, burst_day)),
    };
    (truth, plan)
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
/// exports do, with a few malformed rows spread through it), plus `injected.toml`.
fn write_weeks(
    mut rng: Rng,
    weeks: Vec<(String, Vec<Row>)>,
    truth: String,
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
                let bad = malformed(&mut rng, wi * 10 + i / 4001, &r.line);
                text.push_str(&bad);
                text.push('\n');
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
    files.push(("injected.toml".to_string(), truth.into_bytes()));
    Ok(files)
}

fn pick_code(rng: &mut Rng, t: &Terminal, m: &Merchant, day: u32, in_outage: bool) -> &'static str {
    if in_outage && rng.f64() < 0.55 {
        return rng.pick(NETWORK);
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

fn row(
    rng: &mut Rng,
    ts: i64,
    tz: Option<chrono_tz::Tz>,
    t: &Terminal,
    m: &Merchant,
    code: &str,
    seq: u64,
) -> Row {
    let when = chrono::DateTime::from_timestamp(ts, 0).unwrap_or_default();
    let stamp = match tz {
        None => when.format("%Y-%m-%d %H:%M:%S").to_string(),
        Some(tz) => when
            .with_timezone(&tz)
            .format("%Y-%m-%dT%H:%M:%S%:z")
            .to_string(),
    };
    let (lo, hi) = m.kind.amount();
    let amount = lo + (hi - lo) * rng.f64() * rng.f64();
    let (bin, scheme) = rng.pick(&[
        (("622848", "UnionPay"), 0.5),
        (("411111", "Visa"), 0.3),
        (("545454", "Mastercard"), 0.2),
    ]);
    let entry = rng.pick(&[("chip", 0.6), ("contactless", 0.35), ("magstripe", 0.05)]);
    let latency = if matches!(code, "91" | "68") {
        30000
    } else {
        250 + rng.below(1500)
    };
    let name = if m.name.contains(',') {
        format!("\"{}\"", m.name)
    } else {
        m.name.to_string()
    };
    let rest = format!(
        ",{},{},{},{:012},sale,{:.2},CNY,{},{},{},{},{}******{:04}",
        t.id,
        m.id,
        name,
        seq,
        amount,
        scheme,
        entry,
        code,
        latency,
        bin,
        rng.below(10000)
    );
    Row {
        ts,
        line: format!("{stamp}{rest}"),
    }
}

/// A malformed variant of a good row, cycling through the kinds real exports contain.
fn malformed(rng: &mut Rng, k: usize, good: &str) -> String {
    let f: Vec<&str> = good.split(',').collect();
    let id = format!(
        "{:012}",
        900_000_000_000u64 + k as u64 * 1000 + rng.below(1000)
    );
    let mut g: Vec<String> = f.iter().map(|s| s.to_string()).collect();
    g[4] = id;
    match k % 6 {
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
    }
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
