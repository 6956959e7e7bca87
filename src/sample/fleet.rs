//! `poslens sample --fleet`: an acquirer's whole fleet (1,500 terminals by default) for a
//! month, with the trouble hidden in it written down exactly in `injected.toml`.
//!
//! The healthy fleet is overdispersed, as real fleets are: three terminal models with their
//! own terminal-class error rates (PAX A920 0.25%, Verifone V240m 0.45%, the older Ingenico
//! Move5000 0.9%), and each terminal's own rate drawn around its model's mean (log-normal,
//! sigma 0.35), so the healthy terminals spread wider than one binomial rate would. Volumes
//! range from tens to tens of thousands of transactions a month (log-normal daily mean,
//! median 45, sigma 1.1, clamped to 1-1,200), with a weekly rhythm per terminal, day-to-day
//! noise and shop hours.
//!
//! Hidden in it, each on terminals with enough volume to judge (at least 15 transactions a
//! day on average, most far more), and no terminal in two of the first six kinds:
//! 1. plain broken terminals (terminal-class rate 5-10% from a given day, at least 40
//!    transactions a day, at least the last ten days; one recovers);
//! 2. subtle broken terminals (4x their model's rate, on terminals with 80+ a day);
//! 3. silent terminals (nothing at all from a day in the middle of the month);
//! 4. volume drops (a fifth of the usual volume from a given day);
//! 5. weekend-only shops (trade on Saturday and Sunday only; not silent);
//! 6. contactless-reader faults (taps fail, other entry modes healthy);
//! 7. an issuer outage: one BIN's cards unanswered (`91`) for two hours, fleet-wide;
//! 8. an acquirer-side incident: `A0` (CUP MAC failure) on 40% of every terminal's
//!    transactions for 90 minutes.
//!
//! Counts in `injected.toml` (rows, incident failures and terminals hit, silent terminals'
//! last day) are counted while generating. Times are naive UTC; incident windows are
//! half-open, `[start, end)`.

use std::fmt::Write as _;
use std::io::Write as _;
use std::path::Path;

use chrono::{Datelike, Duration, Weekday};

use super::{start_date, Rng};
use crate::cli::SampleArgs;
use crate::error::{Error, Result};
use crate::render::write_atomic;

/// `--terminals` when the user left it at the plain sample's default.
const FLEET_TERMINALS: u32 = 1500;
/// The plain sample's `--terminals` default (clap cannot tell it from an explicit 30).
const SAMPLE_DEFAULT_TERMINALS: u32 = 30;

pub const HEADER: &str = "timestamp,terminal_id,merchant_id,merchant_name,txn_id,amount,currency,card_scheme,entry_mode,response_code,pan,terminal_model,firmware_version";

/// The injected kinds are fixed in number from this many terminals; fewer scale them down.
const FULL_FLEET: usize = 150;

const N_PLAIN: usize = 12;
const N_SUBTLE: usize = 3;
const N_SILENT: usize = 5;
const N_DROP: usize = 2;
const N_WEEKEND: usize = 3;
const N_READER: usize = 2;

/// Healthy outcome mix (besides the terminal-class rate of each terminal).
const P_NETWORK: f64 = 0.002;
const P_FRAUD: f64 = 0.0005;
const P_DECLINE: f64 = 0.04;

/// The issuer whose cards go unanswered, and the share of its rows hit in the window.
const OUTAGE_BIN: &str = "622848";
const OUTAGE_SHARE: f64 = 0.95;
const OUTAGE_CODE: &str = "91";
/// The acquirer-side incident's code and share.
const INCIDENT_CODE: &str = "A0";
const INCIDENT_SHARE: f64 = 0.40;
/// Share of a volume-drop terminal's usual volume after the drop.
const DROP_FACTOR: f64 = 0.2;

struct ModelDef {
    name: &'static str,
    healthy_rate: f64,
    firmware: [&'static str; 2],
    share: f64,
}

const MODELS: [ModelDef; 3] = [
    ModelDef {
        name: "PAX A920",
        healthy_rate: 0.0025,
        firmware: ["A920 v2.1.4", "A920 v2.2.0"],
        share: 0.37,
    },
    ModelDef {
        name: "Verifone V240m",
        healthy_rate: 0.0045,
        firmware: ["V240m v3.4.1", "V240m v3.6.0"],
        share: 0.30,
    },
    ModelDef {
        name: "Ingenico Move5000",
        healthy_rate: 0.009,
        firmware: ["Move5000 v11.2.0", "Move5000 v11.4.2"],
        share: 0.33,
    },
];

/// BIN, scheme, weight (share of cards). 622848 is common enough (20%) that an outage of its
/// issuer shows on hundreds of terminals within two hours.
const BINS: [(&str, &str, f64); 20] = [
    ("622848", "UnionPay", 20.0),
    ("621700", "UnionPay", 8.0),
    ("622202", "UnionPay", 8.0),
    ("625807", "UnionPay", 3.0),
    ("621226", "UnionPay", 6.0),
    ("622700", "UnionPay", 5.0),
    ("621483", "UnionPay", 4.0),
    ("622588", "UnionPay", 4.0),
    ("622262", "UnionPay", 4.0),
    ("621661", "UnionPay", 3.0),
    ("622609", "UnionPay", 3.0),
    ("623058", "UnionPay", 3.0),
    ("628288", "UnionPay", 3.0),
    ("621799", "UnionPay", 3.0),
    ("411111", "Visa", 4.0),
    ("427020", "Visa", 3.0),
    ("438088", "Visa", 3.0),
    ("520000", "Mastercard", 4.0),
    ("524070", "Mastercard", 3.0),
    ("552599", "Mastercard", 3.0),
];

const ENTRY: [&str; 5] = ["chip", "contactless", "swipe", "keyed", "fallback"];
const ENTRY_SHARE: [f64; 5] = [0.50, 0.35, 0.08, 0.02, 0.01];
const CONTACTLESS: u8 = 1;

/// Every code the generator writes; rows keep an index into it.
const CODES: [&str; 16] = [
    "00", "9997", "30", "58", "03", "05", "51", "55", "54", "61", "59", "41", "91", "96", "68",
    "A0",
];
const C_APPROVED: u8 = 0;
const C_OUTAGE: u8 = 12; // "91"
const C_INCIDENT: u8 = 15; // "A0"

/// (code index, weight) mixes.
const HEALTHY_TERMINAL: [(u8, f64); 4] = [(1, 0.45), (2, 0.35), (3, 0.12), (4, 0.08)];
const BROKEN_TERMINAL: [(u8, f64); 3] = [(1, 0.50), (2, 0.35), (3, 0.15)];
const TAP_FAILURE: [(u8, f64); 2] = [(1, 0.60), (2, 0.40)];
const DECLINES: [(u8, f64); 5] = [(5, 0.40), (6, 0.35), (7, 0.10), (8, 0.08), (9, 0.07)];
const FRAUD: [(u8, f64); 2] = [(10, 0.6), (11, 0.4)];
const NETWORK: [(u8, f64); 3] = [(12, 0.5), (13, 0.3), (14, 0.2)];

/// Relative volume per UTC hour of day: shop hours, 08:00-22:00 mostly.
const HOURS: [f64; 24] = [
    0.05, 0.02, 0.01, 0.01, 0.01, 0.02, 0.1, 0.4, 0.9, 1.0, 1.1, 1.3, 1.6, 1.3, 1.0, 1.0, 1.1, 1.3,
    1.6, 1.6, 1.3, 1.0, 0.5, 0.2,
];

const NAME_FIRST: [&str; 16] = [
    "Huaxin", "Jinling", "Dongfang", "Lianhua", "Meiyuan", "Hongxing", "Fuli", "Kangle", "Tianyi",
    "Baisheng", "Jiahe", "Yongfeng", "Ruixiang", "Shunda", "Xinyue", "Anping",
];
const NAME_KIND: [&str; 16] = [
    "Grocery",
    "Noodle House",
    "Bakery",
    "Pharmacy",
    "Tea Shop",
    "Fruit Market",
    "Hotpot",
    "Convenience",
    "Hardware",
    "Books",
    "Florist",
    "Dumplings",
    "Electronics",
    "Optical",
    "Cafe",
    "Supermarket",
];
const REGIONS: [(&str, [&str; 4]); 8] = [
    ("Shanghai", ["Xuhui", "Jing'an", "Pudong", "Yangpu"]),
    ("Beijing", ["Chaoyang", "Haidian", "Dongcheng", "Fengtai"]),
    ("Guangzhou", ["Tianhe", "Yuexiu", "Haizhu", "Baiyun"]),
    ("Shenzhen", ["Futian", "Nanshan", "Luohu", "Bao'an"]),
    ("Hangzhou", ["Xihu", "Gongshu", "Binjiang", "Shangcheng"]),
    ("Chengdu", ["Jinjiang", "Wuhou", "Qingyang", "Chenghua"]),
    ("Wuhan", ["Wuchang", "Hankou", "Hanyang", "Hongshan"]),
    ("Nanjing", ["Gulou", "Xuanwu", "Qinhuai", "Jianye"]),
];

/// What is wrong with a terminal (at most one thing).
#[derive(Clone, Copy, Debug, PartialEq)]
enum Fault {
    None,
    /// Terminal-class rate `rate` on days `from..until`.
    Broken {
        subtle: bool,
        from: u32,
        until: Option<u32>,
        rate: f64,
    },
    /// No rows from day `stop` on.
    Silent {
        stop: u32,
    },
    /// A fifth of the volume from day `since` on.
    Drop {
        since: u32,
    },
    WeekendOnly,
    /// Contactless taps fail at `tap_rate` (terminal class); `share` of rows are taps.
    Reader {
        tap_rate: f64,
        share: f64,
    },
}

struct Merchant {
    id: String,
    name: String,
    store: String,
    region: &'static str,
    /// Median amount in fen.
    amount: f64,
}

struct Terminal {
    id: String,
    merchant: usize,
    model: usize,
    firmware: usize,
    /// Mean daily volume over a week.
    volume: f64,
    /// Saturday/Sunday multiplier (weekdays take the rest so the week averages `volume`).
    weekend: f64,
    /// Its own healthy terminal-class rate.
    rate: f64,
    /// Cumulative entry-mode shares.
    entry: [f64; 5],
    fault: Fault,
}

/// One row before sorting and writing.
#[derive(Clone, Copy)]
struct Row {
    secs: u32,
    term: u32,
    seq: u32,
    amount: u32,
    last4: u16,
    code: u8,
    entry: u8,
    bin: u8,
}

/// An incident window and what was counted in it.
struct Incident {
    day: u32,
    /// Seconds of the day, `[start, end)`.
    start: u32,
    end: u32,
    failures: u64,
    hit: Vec<bool>,
}

impl Incident {
    fn new(day: u32, start: u32, end: u32, n_terms: usize) -> Incident {
        Incident {
            day,
            start,
            end,
            failures: 0,
            hit: vec![false; n_terms],
        }
    }

    fn covers(&self, day: u32, secs: u32) -> bool {
        day == self.day && (self.start..self.end).contains(&secs)
    }

    fn record(&mut self, term: usize) {
        self.failures += 1;
        self.hit[term] = true;
    }

    fn terminals_hit(&self) -> usize {
        self.hit.iter().filter(|h| **h).count()
    }
}

/// What `write_fleet` wrote.
#[derive(Debug, Clone)]
pub struct FleetSummary {
    pub rows: u64,
    pub terminals: u32,
    pub bytes: u64,
}

/// `poslens sample --fleet`.
pub fn run(args: &SampleArgs) -> Result<()> {
    let terminals = if args.terminals == SAMPLE_DEFAULT_TERMINALS {
        FLEET_TERMINALS
    } else {
        args.terminals
    };
    let s = write_fleet(&args.out, terminals, args.days, args.seed)?;
    println!(
        "poslens sample --fleet: wrote {} rows of {} terminals ({} bytes) to {}",
        s.rows,
        s.terminals,
        s.bytes,
        args.out.join("fleet.csv").display()
    );
    Ok(())
}

/// Writes `fleet.csv`, `inventory.csv` and `injected.toml` into `out`.
pub fn write_fleet(out: &Path, terminals: u32, days: u32, seed: u64) -> Result<FleetSummary> {
    if terminals == 0 || days == 0 {
        return Err(Error::Usage(
            "--terminals and --days must be at least 1".into(),
        ));
    }
    let mut rng = Rng(seed ^ 0xF1EE_7000_0000_0001);
    let (merchants, mut terms) = build_fleet(&mut rng, terminals as usize);
    let counts = Counts::for_fleet(terms.len(), days);
    inject(&mut rng, &mut terms, days, &counts);
    let n = terms.len();
    let (outage_day, incident_day) = incident_days(&mut rng, days);
    let mut outage = Incident::new(outage_day, 10 * 3600, 12 * 3600, n);
    let mut incident = Incident::new(incident_day, 14 * 3600, 15 * 3600 + 1800, n);

    let path = out.join("fleet.csv");
    let werr = |source| Error::Write {
        path: path.clone(),
        source,
    };
    std::fs::create_dir_all(out).map_err(werr)?;
    let tmp = out.join(format!(".fleet.csv.tmp{}", std::process::id()));
    let file = std::fs::File::create(&tmp).map_err(werr)?;
    let mut w = std::io::BufWriter::with_capacity(1 << 20, file);
    w.write_all(HEADER.as_bytes()).map_err(werr)?;
    w.write_all(b"\n").map_err(werr)?;
    let mut bytes = HEADER.len() as u64 + 1;

    let hour_cum = cumulative(&HOURS);
    let bin_cum = cumulative(&BINS.map(|b| b.2));
    let outage_bin = BINS
        .iter()
        .position(|b| b.0 == OUTAGE_BIN)
        .expect("outage BIN listed") as u8;
    let mut last_seen: Vec<Option<u32>> = vec![None; n];
    let mut rows: Vec<Row> = Vec::new();
    let mut line = String::with_capacity(256);
    let mut txn: u64 = 0;
    let start = start_date();
    for day in 0..days {
        let date = start + Duration::days(i64::from(day));
        let weekend = matches!(date.weekday(), Weekday::Sat | Weekday::Sun);
        rows.clear();
        for (ti, t) in terms.iter().enumerate() {
            let mean = day_volume(&mut rng, t, day, weekend);
            let mut count = poisson(&mut rng, mean);
            if let Fault::Silent { stop } = t.fault {
                if day >= stop {
                    count = 0;
                } else if day + 1 == stop {
                    count = count.max(1);
                }
            }
            for seq in 0..count {
                let secs = (pick_index(&mut rng, &hour_cum) * 3600) as u32 + rng.below(3600) as u32;
                let entry = pick_index(&mut rng, &t.entry) as u8;
                let bin = pick_index(&mut rng, &bin_cum) as u8;
                let last4 = rng.below(10_000) as u16;
                let m = &merchants[t.merchant];
                let amount = (m.amount * (0.8 * normal(&mut rng) - 0.32).exp())
                    .clamp(100.0, 2_000_000.0) as u32;
                let code = if bin == outage_bin && outage.covers(day, secs) {
                    if rng.f64() < OUTAGE_SHARE {
                        outage.record(ti);
                        C_OUTAGE
                    } else {
                        // The issuer answered this one: anything but unanswered.
                        outcome(&mut rng, t, day, entry, false)
                    }
                } else if incident.covers(day, secs) && rng.f64() < INCIDENT_SHARE {
                    incident.record(ti);
                    C_INCIDENT
                } else {
                    outcome(&mut rng, t, day, entry, true)
                };
                rows.push(Row {
                    secs,
                    term: ti as u32,
                    seq,
                    amount,
                    last4,
                    code,
                    entry,
                    bin,
                });
            }
            if count > 0 {
                last_seen[ti] = Some(day);
            }
        }
        rows.sort_unstable_by_key(|r| (r.secs, r.term, r.seq));
        let prefix = date.format("%Y-%m-%d ").to_string();
        for r in &rows {
            txn += 1;
            let t = &terms[r.term as usize];
            let m = &merchants[t.merchant];
            let b = &BINS[r.bin as usize];
            line.clear();
            line.push_str(&prefix);
            let _ = write!(
                line,
                "{:02}:{:02}:{:02},{},{},{},{:012},{}.{:02},CNY,{},{},{},{}******{:04},{},{}",
                r.secs / 3600,
                r.secs / 60 % 60,
                r.secs % 60,
                t.id,
                m.id,
                m.name,
                txn,
                r.amount / 100,
                r.amount % 100,
                b.1,
                ENTRY[r.entry as usize],
                CODES[r.code as usize],
                b.0,
                r.last4,
                MODELS[t.model].name,
                MODELS[t.model].firmware[t.firmware],
            );
            line.push('\n');
            bytes += line.len() as u64;
            w.write_all(line.as_bytes()).map_err(werr)?;
        }
    }
    w.flush().map_err(werr)?;
    drop(w);
    std::fs::rename(&tmp, &path).map_err(werr)?;

    write_atomic(
        &out.join("inventory.csv"),
        inventory(&merchants, &terms).as_bytes(),
    )?;
    let truth = Truth {
        seed,
        days,
        rows: txn,
        terms: &terms,
        last_seen: &last_seen,
        outage: &outage,
        incident: &incident,
    };
    write_atomic(&out.join("injected.toml"), truth.render().as_bytes())?;
    Ok(FleetSummary {
        rows: txn,
        terminals,
        bytes,
    })
}

/// How many terminals of each injected kind: fixed from `FULL_FLEET` terminals on, scaled
/// down below; the kinds that change on a day need a few days.
struct Counts {
    plain: usize,
    subtle: usize,
    silent: usize,
    drop: usize,
    weekend: usize,
    reader: usize,
}

impl Counts {
    fn for_fleet(n: usize, days: u32) -> Counts {
        let scale = |k: usize| {
            if n >= FULL_FLEET {
                k
            } else {
                k * n / FULL_FLEET
            }
        };
        let dated = days >= 4;
        Counts {
            plain: scale(N_PLAIN),
            subtle: scale(N_SUBTLE),
            silent: if dated { scale(N_SILENT) } else { 0 },
            drop: if dated { scale(N_DROP) } else { 0 },
            weekend: scale(N_WEEKEND),
            reader: scale(N_READER),
        }
    }
}

/// Uniform in [0, 1) → standard normal (Box-Muller, one of the pair).
fn normal(rng: &mut Rng) -> f64 {
    let u1 = 1.0 - rng.f64();
    let u2 = rng.f64();
    (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
}

/// Poisson counts: Knuth's product below 30, a rounded normal above.
fn poisson(rng: &mut Rng, lambda: f64) -> u32 {
    if lambda <= 0.0 {
        return 0;
    }
    if lambda < 30.0 {
        let limit = (-lambda).exp();
        let mut k = 0;
        let mut p = rng.f64();
        while p > limit {
            k += 1;
            p *= rng.f64();
        }
        k
    } else {
        (lambda + lambda.sqrt() * normal(rng)).round().max(0.0) as u32
    }
}

fn cumulative<const N: usize>(weights: &[f64; N]) -> [f64; N] {
    let total: f64 = weights.iter().sum();
    let mut acc = 0.0;
    let mut out = [0.0; N];
    for (o, w) in out.iter_mut().zip(weights) {
        acc += w / total;
        *o = acc;
    }
    out[N - 1] = 1.0;
    out
}

fn pick_index(rng: &mut Rng, cum: &[f64]) -> usize {
    let x = rng.f64();
    cum.iter().position(|c| x < *c).unwrap_or(cum.len() - 1)
}

fn pick_code(rng: &mut Rng, mix: &[(u8, f64)]) -> u8 {
    rng.pick(mix)
}

/// A day's expected volume for a terminal (weekly rhythm, day-to-day noise, its fault).
fn day_volume(rng: &mut Rng, t: &Terminal, day: u32, weekend: bool) -> f64 {
    let week = match t.fault {
        Fault::WeekendOnly => {
            if weekend {
                1.0
            } else {
                0.0
            }
        }
        _ if weekend => t.weekend,
        _ => (7.0 - 2.0 * t.weekend) / 5.0,
    };
    let drop = match t.fault {
        Fault::Drop { since } if day >= since => DROP_FACTOR,
        _ => 1.0,
    };
    let noise = (0.15 * normal(rng) - 0.011_25).exp();
    t.volume * week * drop * noise
}

/// A row's code away from the incidents. `network` false: the issuer answered (no network
/// class).
fn outcome(rng: &mut Rng, t: &Terminal, day: u32, entry: u8, network: bool) -> u8 {
    let (rate, mix): (f64, &[(u8, f64)]) = match t.fault {
        Fault::Broken {
            from, until, rate, ..
        } if day >= from && until.is_none_or(|u| day < u) => (rate, &BROKEN_TERMINAL),
        Fault::Reader { tap_rate, .. } if entry == CONTACTLESS => (tap_rate, &TAP_FAILURE),
        _ => (t.rate, &HEALTHY_TERMINAL),
    };
    let mut u = rng.f64();
    if u < rate {
        return pick_code(rng, mix);
    }
    u -= rate;
    if network {
        if u < P_NETWORK {
            return pick_code(rng, &NETWORK);
        }
        u -= P_NETWORK;
    }
    if u < P_FRAUD {
        return pick_code(rng, &FRAUD);
    }
    u -= P_FRAUD;
    if u < P_DECLINE {
        return pick_code(rng, &DECLINES);
    }
    C_APPROVED
}

/// Merchants of 1-4 terminals, each terminal with its model, firmware, volume and rate.
fn build_fleet(rng: &mut Rng, n: usize) -> (Vec<Merchant>, Vec<Terminal>) {
    let model_w: Vec<(usize, f64)> = MODELS
        .iter()
        .enumerate()
        .map(|(i, m)| (i, m.share))
        .collect();
    let mut merchants = Vec::new();
    let mut terms = Vec::with_capacity(n);
    while terms.len() < n {
        let size = rng.pick(&[(1usize, 0.45), (2, 0.30), (3, 0.15), (4, 0.10)]);
        let mi = merchants.len();
        let (region, districts) = REGIONS[rng.below(REGIONS.len() as u64) as usize];
        let name = format!(
            "{} {}",
            NAME_FIRST[rng.below(NAME_FIRST.len() as u64) as usize],
            NAME_KIND[rng.below(NAME_KIND.len() as u64) as usize]
        );
        let store = format!(
            "{name} {}",
            districts[rng.below(districts.len() as u64) as usize]
        );
        merchants.push(Merchant {
            id: format!("FM{:04}", mi + 1),
            name,
            store,
            region,
            amount: 4500.0 * (0.6 * normal(rng)).exp(),
        });
        // A merchant mostly buys one model; shop volume is shared by its tills.
        let own_model = rng.pick(&model_w);
        let shop = (45f64.ln() + 1.1 * normal(rng)).exp();
        for _ in 0..size.min(n - terms.len()) {
            let model = if rng.f64() < 0.85 {
                own_model
            } else {
                rng.pick(&model_w)
            };
            let firmware = usize::from(rng.f64() < 0.6);
            let volume = (shop * (0.3 * normal(rng)).exp()).clamp(1.0, 1200.0);
            let weekend = 0.6 + 0.9 * rng.f64();
            let rate = MODELS[model].healthy_rate * (0.35 * normal(rng) - 0.061_25).exp();
            let mut shares = ENTRY_SHARE;
            for s in shares.iter_mut() {
                *s *= (0.25 * normal(rng)).exp();
            }
            terms.push(Terminal {
                id: format!("F{:05}", terms.len() + 1),
                merchant: mi,
                model,
                firmware,
                volume,
                weekend,
                rate,
                entry: cumulative(&shares),
                fault: Fault::None,
            });
        }
    }
    (merchants, terms)
}

/// A day of `days` at the place `d` has in a 28-day month.
fn scaled(d: u32, days: u32) -> u32 {
    (d * days / 28).min(days.saturating_sub(1))
}

/// Two distinct weekdays: the issuer outage's (around the middle) and the acquirer
/// incident's (later).
fn incident_days(rng: &mut Rng, days: u32) -> (u32, u32) {
    let weekday = |d: u32| {
        !matches!(
            (start_date() + Duration::days(i64::from(d))).weekday(),
            Weekday::Sat | Weekday::Sun
        )
    };
    let choose = |rng: &mut Rng, lo: u32, hi: u32, not: Option<u32>| {
        let lo = scaled(lo, days);
        let hi = scaled(hi, days).max(lo);
        let first = lo + rng.below(u64::from(hi - lo + 1)) as u32;
        (first..=hi)
            .chain(lo..first)
            .find(|d| weekday(*d) && Some(*d) != not)
            .or_else(|| (0..days).find(|d| Some(*d) != not))
            .unwrap_or(first)
    };
    let outage = choose(rng, 12, 19, None);
    let incident = choose(rng, 20, 25, Some(outage));
    (outage, incident)
}

/// Picks the injected terminals among those with volume enough (raising a terminal's volume
/// when a small fleet has too few) and sets their faults.
fn inject(rng: &mut Rng, terms: &mut [Terminal], days: u32, c: &Counts) {
    let mut order: Vec<usize> = (0..terms.len()).collect();
    for i in (1..order.len()).rev() {
        order.swap(i, rng.below(i as u64 + 1) as usize);
    }
    let mut taken = vec![false; terms.len()];
    // Strictest volume first, so the big terminals go where they are needed.
    let mut choose = |rng: &mut Rng, terms: &mut [Terminal], k: usize, min: f64| {
        let mut got = Vec::new();
        for &i in &order {
            if got.len() == k {
                break;
            }
            if !taken[i] && terms[i].volume >= min {
                taken[i] = true;
                got.push(i);
            }
        }
        for &i in &order {
            if got.len() == k {
                break;
            }
            if !taken[i] {
                taken[i] = true;
                terms[i].volume = min * (1.0 + rng.f64());
                got.push(i);
            }
        }
        got.sort_unstable();
        got
    };
    let subtle = choose(rng, terms, c.subtle, 80.0);
    let weekend = choose(rng, terms, c.weekend, 60.0);
    let drop = choose(rng, terms, c.drop, 40.0);
    let silent = choose(rng, terms, c.silent, 40.0);
    let reader = choose(rng, terms, c.reader, 40.0);
    // "Plain" means a fault an acquirer must not miss, plain on a daily chart: at least 40
    // transactions a day, 5–10% of them failing, for at least the last ten days of the month.
    let plain = choose(rng, terms, c.plain, 40.0);

    for (k, &i) in plain.iter().enumerate() {
        // Two broken from the first day, the rest spread over days 3..18.
        let from = if k < 2 || days < 4 {
            0
        } else {
            scaled(3 + rng.below(16) as u32, days).max(1)
        };
        let rate = (50.0 + rng.below(51) as f64) / 1000.0;
        terms[i].fault = Fault::Broken {
            subtle: false,
            from,
            until: None,
            rate,
        };
    }
    // The plain one that broke earliest (after day 0) recovers a week or so later.
    let recovering = plain
        .iter()
        .copied()
        .filter_map(|i| match terms[i].fault {
            Fault::Broken { from, .. } if from > 0 => Some((from, i)),
            _ => None,
        })
        .min();
    if let Some((from, i)) = recovering {
        let until = (from + scaled(7, days).max(2) + rng.below(4) as u32).min(days - 1);
        if let Fault::Broken { until: u, .. } = &mut terms[i].fault {
            if until > from {
                *u = Some(until);
            }
        }
    }
    for &i in &subtle {
        let from = if days < 4 {
            0
        } else {
            scaled(3 + rng.below(16) as u32, days).max(1)
        };
        terms[i].fault = Fault::Broken {
            subtle: true,
            from,
            until: None,
            rate: 4.0 * MODELS[terms[i].model].healthy_rate,
        };
    }
    for &i in &silent {
        terms[i].fault = Fault::Silent {
            stop: scaled(10 + rng.below(9) as u32, days).max(1),
        };
    }
    for &i in &drop {
        terms[i].fault = Fault::Drop {
            since: scaled(10 + rng.below(9) as u32, days).max(1),
        };
    }
    for &i in &weekend {
        terms[i].fault = Fault::WeekendOnly;
    }
    for (k, &i) in reader.iter().enumerate() {
        let t = &mut terms[i];
        if k % 2 == 0 {
            let share = t.entry[1] - t.entry[0];
            t.fault = Fault::Reader {
                tap_rate: 0.30,
                share,
            };
        } else {
            // Taps fail often enough that customers mostly insert.
            let mut shares = [0.0; 5];
            let mut prev = 0.0;
            for (s, c) in shares.iter_mut().zip(t.entry) {
                *s = c - prev;
                prev = c;
            }
            let rest: f64 = shares.iter().sum::<f64>() - shares[1];
            for s in shares.iter_mut() {
                *s *= 0.85 / rest;
            }
            shares[1] = 0.15;
            t.entry = cumulative(&shares);
            t.fault = Fault::Reader {
                tap_rate: 0.08,
                share: 0.15,
            };
        }
    }
}

fn inventory(merchants: &[Merchant], terms: &[Terminal]) -> String {
    let mut s = String::from("terminal_id,model,firmware,store,region\n");
    for t in terms {
        let m = &merchants[t.merchant];
        let _ = writeln!(
            s,
            "{},{},{},{},{}",
            t.id, MODELS[t.model].name, MODELS[t.model].firmware[t.firmware], m.store, m.region
        );
    }
    s
}

struct Truth<'a> {
    seed: u64,
    days: u32,
    rows: u64,
    terms: &'a [Terminal],
    last_seen: &'a [Option<u32>],
    outage: &'a Incident,
    incident: &'a Incident,
}

impl Truth<'_> {
    fn render(&self) -> String {
        let date = |d: u32| (start_date() + Duration::days(i64::from(d))).format("%Y-%m-%d");
        let instant = |d: u32, secs: u32| {
            let t = start_date().and_hms_opt(0, 0, 0).expect("midnight")
                + Duration::days(i64::from(d))
                + Duration::seconds(i64::from(secs));
            t.format("%Y-%m-%dT%H:%M:%SZ").to_string()
        };
        let healthy = self
            .terms
            .iter()
            .filter(|t| !matches!(t.fault, Fault::Broken { .. } | Fault::Reader { .. }))
            .count();
        let mut s = String::new();
        let _ = writeln!(
            s,
            "# What `poslens sample --fleet` hid in fleet.csv (analysis does not read this file)."
        );
        let _ = writeln!(
            s,
            "# Dates are UTC; incident windows are [start, end); counts were taken while generating."
        );
        let _ = writeln!(s, "seed = {}", self.seed);
        let _ = writeln!(s, "terminals = {}", self.terms.len());
        let _ = writeln!(s, "days = {}", self.days);
        let _ = writeln!(s, "start = \"{}\"", date(0));
        let _ = writeln!(
            s,
            "rows = {}          # rows written to fleet.csv",
            self.rows
        );
        let _ = writeln!(
            s,
            "healthy = {healthy}          # terminals neither broken (plain, subtle) nor with a reader fault"
        );
        for (mi, m) in MODELS.iter().enumerate() {
            let count = self.terms.iter().filter(|t| t.model == mi).count();
            let _ = writeln!(s, "\n[[models]]");
            let _ = writeln!(s, "name = \"{}\"", m.name);
            let _ = writeln!(s, "healthy_rate = {}", m.healthy_rate);
            let _ = writeln!(s, "terminals = {count}");
        }
        for t in self.terms {
            if let Fault::Broken {
                subtle,
                from,
                until,
                rate,
            } = t.fault
            {
                let _ = writeln!(s, "\n[[broken]]");
                let _ = writeln!(s, "terminal_id = \"{}\"", t.id);
                let _ = writeln!(s, "kind = \"{}\"", if subtle { "subtle" } else { "plain" });
                let _ = writeln!(s, "from = \"{}\"", date(from));
                if let Some(u) = until {
                    let _ = writeln!(s, "until = \"{}\"", date(u));
                }
                let _ = writeln!(s, "rate = {}", round6(rate));
            }
        }
        for (t, seen) in self.terms.iter().zip(self.last_seen) {
            if let (Fault::Silent { .. }, Some(d)) = (t.fault, seen) {
                let _ = writeln!(s, "\n[[silent]]");
                let _ = writeln!(s, "terminal_id = \"{}\"", t.id);
                let _ = writeln!(s, "last_seen = \"{}\"", date(*d));
            }
        }
        for t in self.terms {
            if let Fault::Drop { since } = t.fault {
                let _ = writeln!(s, "\n[[volume_drop]]");
                let _ = writeln!(s, "terminal_id = \"{}\"", t.id);
                let _ = writeln!(s, "since = \"{}\"", date(since));
            }
        }
        let weekend: Vec<String> = self
            .terms
            .iter()
            .filter(|t| t.fault == Fault::WeekendOnly)
            .map(|t| format!("\"{}\"", t.id))
            .collect();
        let _ = writeln!(s, "\n[weekend_only]");
        let _ = writeln!(s, "terminal_ids = [{}]", weekend.join(", "));
        for t in self.terms {
            if let Fault::Reader { tap_rate, share } = t.fault {
                let _ = writeln!(s, "\n[[reader]]");
                let _ = writeln!(s, "terminal_id = \"{}\"", t.id);
                let _ = writeln!(s, "entry_mode = \"contactless\"");
                let _ = writeln!(s, "tap_failure_rate = {tap_rate}");
                let _ = writeln!(s, "contactless_share = {}", round6(share));
            }
        }
        let o = self.outage;
        let _ = writeln!(s, "\n[[incident]]");
        let _ = writeln!(s, "scope = \"issuer\"");
        let _ = writeln!(s, "issuer_bin = \"{OUTAGE_BIN}\"");
        let _ = writeln!(s, "class = \"network\"");
        let _ = writeln!(s, "code = \"{OUTAGE_CODE}\"");
        let _ = writeln!(s, "start = \"{}\"", instant(o.day, o.start));
        let _ = writeln!(s, "end = \"{}\"", instant(o.day, o.end));
        let _ = writeln!(s, "terminals_hit = {}", o.terminals_hit());
        let _ = writeln!(s, "failures = {}", o.failures);
        let i = self.incident;
        let _ = writeln!(s, "\n[[incident]]");
        let _ = writeln!(s, "scope = \"fleet\"");
        let _ = writeln!(s, "class = \"terminal\"");
        let _ = writeln!(s, "code = \"{INCIDENT_CODE}\"");
        let _ = writeln!(s, "start = \"{}\"", instant(i.day, i.start));
        let _ = writeln!(s, "end = \"{}\"", instant(i.day, i.end));
        let _ = writeln!(s, "terminals_hit = {}", i.terminals_hit());
        let _ = writeln!(s, "failures = {}", i.failures);
        s
    }
}

fn round6(x: f64) -> f64 {
    (x * 1e6).round() / 1e6
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{NaiveDate, NaiveDateTime};
    use std::collections::{HashMap, HashSet};

    struct Parsed {
        csv: String,
        inventory: String,
        truth: toml::Table,
    }

    fn generate(terminals: u32, days: u32, seed: u64) -> Parsed {
        let dir = tempfile::tempdir().expect("temp dir");
        write_fleet(dir.path(), terminals, days, seed).expect("fleet written");
        let read = |name: &str| std::fs::read_to_string(dir.path().join(name)).expect(name);
        Parsed {
            csv: read("fleet.csv"),
            inventory: read("inventory.csv"),
            truth: read("injected.toml")
                .parse()
                .expect("injected.toml is TOML"),
        }
    }

    fn ts(s: &str) -> NaiveDateTime {
        NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S").expect(s)
    }

    fn instant(v: &toml::Value) -> NaiveDateTime {
        NaiveDateTime::parse_from_str(v.as_str().expect("string"), "%Y-%m-%dT%H:%M:%SZ")
            .expect("instant")
    }

    fn date(v: &toml::Value) -> NaiveDate {
        NaiveDate::parse_from_str(v.as_str().expect("string"), "%Y-%m-%d").expect("date")
    }

    fn int(t: &toml::Table, key: &str) -> i64 {
        t[key].as_integer().expect(key)
    }

    fn array<'a>(t: &'a toml::Table, key: &str) -> Vec<&'a toml::Table> {
        t.get(key)
            .and_then(|v| v.as_array())
            .map(|a| a.iter().map(|v| v.as_table().expect("table")).collect())
            .unwrap_or_default()
    }

    fn id(t: &toml::Table) -> String {
        t["terminal_id"].as_str().expect("terminal_id").to_string()
    }

    #[test]
    fn fleet_csv_matches_its_truth() {
        let p = generate(200, 14, 7);
        let truth = &p.truth;
        assert_eq!(int(truth, "terminals"), 200);
        assert_eq!(int(truth, "days"), 14);
        assert_eq!(truth["start"].as_str(), Some("2026-10-19"));

        let mut lines = p.csv.lines();
        assert_eq!(lines.next(), Some(HEADER));
        let rows: Vec<Vec<&str>> = lines.map(|l| l.split(',').collect()).collect();
        let times: Vec<NaiveDateTime> = rows.iter().map(|r| ts(r[0])).collect();
        assert_eq!(rows.len() as i64, int(truth, "rows"));

        let codes: HashSet<&str> = CODES.into_iter().collect();
        let schemes: HashMap<&str, &str> = BINS.iter().map(|b| (b.0, b.1)).collect();
        let mut txn = HashSet::new();
        let mut prev = ts("2026-10-19 00:00:00");
        let mut kit: HashMap<&str, (&str, &str)> = HashMap::new();
        let mut merchant_terms: HashMap<&str, HashSet<&str>> = HashMap::new();
        for (r, &t) in rows.iter().zip(&times) {
            assert_eq!(r.len(), 13, "{r:?}");
            assert!(t >= prev, "rows in time order");
            prev = t;
            assert!(r[1].starts_with('F') && r[1].len() == 6, "{}", r[1]);
            assert!(r[2].starts_with("FM") && r[2].len() == 6, "{}", r[2]);
            merchant_terms.entry(r[2]).or_default().insert(r[1]);
            assert!(txn.insert(r[4]), "txn_id {} repeated", r[4]);
            let (major, minor) = r[5].split_once('.').expect("amount with decimals");
            assert!(minor.len() == 2 && major.parse::<u64>().is_ok(), "{}", r[5]);
            assert_eq!(r[6], "CNY");
            assert!(ENTRY.contains(&r[8]), "{}", r[8]);
            assert!(codes.contains(r[9]), "{}", r[9]);
            let pan = r[10];
            assert_eq!(pan.len(), 16);
            assert_eq!(&pan[6..12], "******");
            assert!(pan[12..].chars().all(|c| c.is_ascii_digit()));
            assert_eq!(schemes.get(&pan[..6]), Some(&r[7]), "{pan}");
            let k = kit.entry(r[1]).or_insert((r[11], r[12]));
            assert_eq!(*k, (r[11], r[12]), "one model and firmware per terminal");
        }
        assert!(merchant_terms.values().all(|t| (1..=4).contains(&t.len())));

        // The inventory lists every terminal with the model and firmware of its rows.
        let mut inv = p.inventory.lines();
        assert_eq!(inv.next(), Some("terminal_id,model,firmware,store,region"));
        let inv: Vec<Vec<&str>> = inv.map(|l| l.split(',').collect()).collect();
        assert_eq!(inv.len(), 200);
        for i in &inv {
            assert_eq!(i.len(), 5);
            if let Some(k) = kit.get(i[0]) {
                assert_eq!(*k, (i[1], i[2]), "{}", i[0]);
            }
        }
        let models = array(truth, "models");
        assert_eq!(models.len(), 3);
        for m in &models {
            let name = m["name"].as_str().expect("name");
            let n = inv.iter().filter(|i| i[1] == name).count() as i64;
            assert_eq!(int(m, "terminals"), n, "{name}");
        }

        // Per terminal: rows, days seen, terminal-class failures.
        // Per terminal: its rows as (date, fields).
        let mut by_term: HashMap<&str, Vec<(NaiveDate, &Vec<&str>)>> = HashMap::new();
        for (r, t) in rows.iter().zip(&times) {
            by_term.entry(r[1]).or_default().push((t.date(), r));
        }

        // No terminal in two kinds; healthy counts the others.
        let broken = array(truth, "broken");
        let readers = array(truth, "reader");
        let silent = array(truth, "silent");
        let drops = array(truth, "volume_drop");
        let weekend: Vec<String> = truth["weekend_only"]["terminal_ids"]
            .as_array()
            .expect("terminal_ids")
            .iter()
            .map(|v| v.as_str().expect("id").to_string())
            .collect();
        assert_eq!(
            broken
                .iter()
                .filter(|b| b["kind"].as_str() == Some("plain"))
                .count(),
            N_PLAIN
        );
        assert_eq!(broken.len(), N_PLAIN + N_SUBTLE);
        assert_eq!(silent.len(), N_SILENT);
        assert_eq!(drops.len(), N_DROP);
        assert_eq!(weekend.len(), N_WEEKEND);
        assert_eq!(readers.len(), N_READER);
        let mut all: Vec<String> = broken.iter().chain(&readers).map(|t| id(t)).collect();
        assert_eq!(int(truth, "healthy"), 200 - all.len() as i64);
        all.extend(silent.iter().chain(&drops).map(|t| id(t)));
        all.extend(weekend.iter().cloned());
        let distinct: HashSet<&String> = all.iter().collect();
        assert_eq!(distinct.len(), all.len(), "a terminal in two kinds");
        assert_eq!(
            broken.iter().filter(|b| b.contains_key("until")).count(),
            1,
            "one broken terminal recovers"
        );

        // Injected terminals have volume enough to judge.
        for t in &all {
            let n = by_term.get(t.as_str()).map_or(0, Vec::len);
            assert!(n >= 15 * 4, "{t}: {n} rows");
        }

        // Silent terminals: rows up to last_seen, none after.
        for s in &silent {
            let last = date(&s["last_seen"]);
            let mine = &by_term[id(s).as_str()];
            assert_eq!(mine.iter().map(|r| r.0).max(), Some(last), "{}", id(s));
            assert!(last < NaiveDate::from_ymd_opt(2026, 11, 1).expect("date"));
        }
        // Weekend-only shops trade on Saturday and Sunday only, every weekend.
        for w in &weekend {
            let days: HashSet<NaiveDate> = by_term[w.as_str()].iter().map(|r| r.0).collect();
            assert!(days
                .iter()
                .all(|d| matches!(d.weekday(), Weekday::Sat | Weekday::Sun)));
            assert_eq!(days.len(), 4, "{w}");
        }
        // Volume drops: a fifth after `since`, give or take the noise.
        for d in &drops {
            let since = date(&d["since"]);
            let mine = &by_term[id(d).as_str()];
            let before = mine.iter().filter(|r| r.0 < since).count() as f64;
            let after = mine.len() as f64 - before;
            let days_before = (since - start_date()).num_days() as f64;
            let ratio = (after / (14.0 - days_before)) / (before / days_before);
            assert!((0.08..0.4).contains(&ratio), "{}: {ratio}", id(d));
        }
        // Plain broken terminals fail far above any model's healthy rate while broken.
        for b in broken
            .iter()
            .filter(|b| b["kind"].as_str() == Some("plain"))
        {
            let from = date(&b["from"]);
            let until = b.get("until").map(date);
            let bad: Vec<_> = by_term[id(b).as_str()]
                .iter()
                .filter(|r| r.0 >= from && until.is_none_or(|u| r.0 < u))
                .collect();
            let fails = bad
                .iter()
                .filter(|r| ["9997", "30", "58"].contains(&r.1[9]))
                .count();
            assert!(
                fails as f64 / bad.len() as f64 > 0.015,
                "{}: {fails}/{}",
                id(b),
                bad.len()
            );
        }
        // The contactless faults stay on contactless rows.
        for r in &readers {
            let mine = &by_term[id(r).as_str()];
            let taps: Vec<_> = mine.iter().filter(|r| r.1[8] == "contactless").collect();
            let fails = taps
                .iter()
                .filter(|r| ["9997", "30"].contains(&r.1[9]))
                .count();
            let rate = fails as f64 / taps.len() as f64;
            let want = r["tap_failure_rate"].as_float().expect("rate");
            assert!((rate - want).abs() < 0.5 * want, "{}: {rate}", id(r));
        }

        // Incidents: the counts are what the CSV holds in the window.
        let incidents = array(truth, "incident");
        assert_eq!(incidents.len(), 2);
        for inc in incidents {
            let (start, end) = (instant(&inc["start"]), instant(&inc["end"]));
            let code = inc["code"].as_str().expect("code");
            let bin = inc.get("issuer_bin").and_then(|b| b.as_str());
            let hit: Vec<_> = rows
                .iter()
                .zip(&times)
                .filter(|(r, t)| {
                    **t >= start
                        && **t < end
                        && r[9] == code
                        && bin.is_none_or(|b| r[10].starts_with(b))
                })
                .map(|(r, _)| r)
                .collect();
            assert!(!hit.is_empty());
            assert_eq!(hit.len() as i64, int(inc, "failures"), "{code}");
            let terms: HashSet<&str> = hit.iter().map(|r| r[1]).collect();
            assert_eq!(terms.len() as i64, int(inc, "terminals_hit"), "{code}");
        }
        let a0 = rows.iter().filter(|r| r[9] == INCIDENT_CODE).count() as i64;
        assert_eq!(a0, int(array(truth, "incident")[1], "failures"));
    }

    #[test]
    fn same_seed_same_bytes() {
        let dirs = [(); 3].map(|_| tempfile::tempdir().expect("temp dir"));
        for (d, seed) in dirs.iter().zip([3, 3, 4]) {
            write_fleet(d.path(), 120, 9, seed).expect("fleet written");
        }
        for name in ["fleet.csv", "inventory.csv", "injected.toml"] {
            let read = |i: usize| std::fs::read(dirs[i].path().join(name)).expect(name);
            assert_eq!(read(0), read(1), "{name} differs under the same seed");
            assert_ne!(read(0), read(2), "{name} the same under another seed");
        }
    }

    #[test]
    fn tiny_fleets_still_write_consistent_files() {
        for (terminals, days) in [(1, 1), (7, 2), (40, 5)] {
            let p = generate(terminals, days, 1);
            let rows = p.csv.lines().count() as i64 - 1;
            assert_eq!(rows, int(&p.truth, "rows"), "{terminals}x{days}");
            assert_eq!(p.inventory.lines().count() as u32, terminals + 1);
        }
        let dir = tempfile::tempdir().expect("temp dir");
        assert!(write_fleet(dir.path(), 0, 5, 1).is_err());
    }
}
