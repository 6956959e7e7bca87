//! The cube: transaction counts and amount sums per terminal × merchant × hour × response code.
//!
//! It is the one intermediate between ingest and analysis (SPEC "Analysis"): every report is a
//! query over it, so analysis time depends on the number of cells, not rows. It is mergeable
//! (adding cubes = adding the counts of equal cells), so input is folded in chunk by chunk, on
//! several threads, and memory stays bounded by the cube, not the input.
//!
//! Layout: each text dimension (terminal, merchant id, merchant name, code) is a dictionary of
//! distinct strings, and a cell is a 128-bit key of dictionary ids plus two integer sums. A
//! [`CubeBuilder`] interns strings in first-seen order and aggregates in a hash map; the
//! finished [`Cube`] has sorted dictionaries (so id order is string order) and its cells sorted
//! by key, which makes every rollup a projection of integer keys and its output order total.
//! This replaced polars group-bys over `String` columns: on 3.1M cells the analysis went from
//! 6.4 s to well under a second (see bench/RESULTS.md). polars stays for Parquet in and out.
//!
//! `hour` is the instant (epoch seconds) at which the local hour in the report time zone
//! starts; for zones with half-hour offsets that is not a UTC hour boundary.

use std::collections::HashMap;
use std::hash::BuildHasher;
use std::sync::Arc;

use chrono::Offset;
use chrono::TimeZone;
use chrono_tz::Tz;
use polars::prelude::*;

use crate::error::{Error, Result};
use crate::ingest::normalize::EntryMode;
use crate::ingest::Txn;

pub mod attrs;
pub mod issuers;
pub mod latency;
mod purchases;

use latency::{Hist, BUCKETS};

pub const TERMINAL: &str = "terminal_id";
pub const MERCHANT: &str = "merchant_id";
pub const MERCHANT_NAME: &str = "merchant_name";
pub const HOUR: &str = "hour";
pub const CODE: &str = "response_code";
pub const COUNT: &str = "transactions";
pub const AMOUNT: &str = "amount_minor";
/// Column of a saved cube naming the zone its hours were cut in.
pub const TIME_ZONE: &str = "time_zone";
/// Version 2 measures (docs/cube.md, "Beyond field 39").
pub const PURCHASES: &str = "purchases";
pub const LOST_PURCHASES: &str = "lost_purchases";
pub const LOST_AMOUNT: &str = "lost_amount_minor";
pub const CHIP_READS: &str = "chip_reads";
pub const FALLBACKS: &str = "fallbacks";
/// Version 3 measures: transactions by how the card was read (docs/cube.md, "Verdicts"). Chip
/// contact reads are `chip_reads - contactless`.
pub const CONTACTLESS: &str = "contactless";
pub const SWIPES: &str = "swipes";
pub const KEYED: &str = "keyed";
/// Version 2: non-null on the rows of a response-time histogram (docs/cube.md), whose count
/// is in [`LATENCY_COUNT`] (their `transactions` is 0, so sums over the file stay right).
pub const LATENCY_BUCKET: &str = "latency_bucket";
pub const LATENCY_COUNT: &str = "latency_count";
/// Version 3: the cell's terminal's attributes as last seen, and when (docs/cube.md).
pub const TERMINAL_MODEL: &str = "terminal_model";
pub const FIRMWARE_VERSION: &str = "firmware_version";
pub const APP_VERSION: &str = "app_version";
pub const ATTRS_SEEN: &str = "attrs_seen";
/// Version 3: non-null on the rows of the issuer table (docs/cube.md), whose count is in
/// [`ISSUER_COUNT`] (their `transactions` is 0).
pub const ISSUER_BIN: &str = "issuer_bin";
pub const ISSUER_COUNT: &str = "issuer_count";

#[cfg(test)]
const KEYS: [&str; 5] = [TERMINAL, MERCHANT, MERCHANT_NAME, HOUR, CODE];

/// A fast, fixed-seed hasher for the cube's maps: deterministic across runs and machines (no
/// output depends on it: every result is sorted), and much cheaper than SipHash on short keys.
pub type FastState = foldhash::fast::FixedState;

pub(crate) fn fast_state() -> FastState {
    FastState::with_seed(0x5eed_c0be)
}

// ---------------------------------------------------------------------------------------------
// Cell keys: terminal 24 bits | merchant 24 | name 24 | hour 40 | code 16, most significant
// first, so that comparing keys compares (terminal, merchant, name, hour, code).

const TERM_BITS: u32 = 24;
const MERCH_BITS: u32 = 24;
const NAME_BITS: u32 = 24;
const HOUR_BITS: u32 = 40;
const CODE_BITS: u32 = 16;
const CODE_SHIFT: u32 = 0;
const HOUR_SHIFT: u32 = CODE_BITS;
const NAME_SHIFT: u32 = HOUR_SHIFT + HOUR_BITS;
const MERCH_SHIFT: u32 = NAME_SHIFT + NAME_BITS;
const TERM_SHIFT: u32 = MERCH_SHIFT + MERCH_BITS;
/// Hours are stored as seconds offset by 2^39, so instants before 1970 sort correctly.
const HOUR_BIAS: i64 = 1 << (HOUR_BITS - 1);

/// One dimension of the cube.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dim {
    Terminal,
    Merchant,
    MerchantName,
    Hour,
    Code,
}

impl Dim {
    fn from_name(name: &str) -> Result<Dim> {
        Ok(match name {
            TERMINAL => Dim::Terminal,
            MERCHANT => Dim::Merchant,
            MERCHANT_NAME => Dim::MerchantName,
            HOUR => Dim::Hour,
            CODE => Dim::Code,
            other => return Err(Error::internal("cube", format!("no dimension {other}"))),
        })
    }

    fn shift_bits(self) -> (u32, u32) {
        match self {
            Dim::Terminal => (TERM_SHIFT, TERM_BITS),
            Dim::Merchant => (MERCH_SHIFT, MERCH_BITS),
            Dim::MerchantName => (NAME_SHIFT, NAME_BITS),
            Dim::Hour => (HOUR_SHIFT, HOUR_BITS),
            Dim::Code => (CODE_SHIFT, CODE_BITS),
        }
    }

    fn get(self, key: u128) -> u64 {
        let (shift, bits) = self.shift_bits();
        ((key >> shift) & ((1u128 << bits) - 1)) as u64
    }

    fn limit(self) -> u64 {
        1 << self.shift_bits().1
    }

    fn what(self) -> &'static str {
        match self {
            Dim::Terminal => "terminal ids",
            Dim::Merchant => "merchant ids",
            Dim::MerchantName => "merchant names",
            Dim::Hour => "hours",
            Dim::Code => "response codes",
        }
    }
}

fn pack(term: u32, merch: u32, name: u32, hour: i64, code: u32) -> u128 {
    ((term as u128) << TERM_SHIFT)
        | ((merch as u128) << MERCH_SHIFT)
        | ((name as u128) << NAME_SHIFT)
        | (((hour + HOUR_BIAS) as u128) << HOUR_SHIFT)
        | ((code as u128) << CODE_SHIFT)
}

fn hour_of(key: u128) -> i64 {
    Dim::Hour.get(key) as i64 - HOUR_BIAS
}

/// The measures of one cell. The beyond-field-39 counts are `u32` (they never exceed a
/// cell's transactions: one terminal, hour and code), which keeps a cell at 64 bytes with its
/// key; rollups add them up in `u64` ([`Wide`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Sums {
    transactions: u64,
    amount_minor: i64,
    /// Lost purchases' amount (minor units), at the cell of their last attempt.
    lost_amount_minor: i64,
    /// Purchases whose last attempt is in this cell (see `purchases.rs`).
    purchases: u32,
    /// Of those, the ones not approved in the end.
    lost_purchases: u32,
    /// Card reads by chip (contact or contactless), and chip cards read by magstripe after the
    /// chip failed (fallback): the fallback rate is fallbacks / (chip reads + fallbacks).
    chip_reads: u32,
    fallbacks: u32,
    /// Contactless reads (also counted in `chip_reads`), magstripe reads that were not a
    /// fallback, and keyed entries.
    contactless: u32,
    swipes: u32,
    keyed: u32,
}

impl Sums {
    fn add(&mut self, o: &Sums) {
        self.transactions += o.transactions;
        self.amount_minor += o.amount_minor;
        self.lost_amount_minor += o.lost_amount_minor;
        // Saturate rather than wrap if a foreign cube file claims more than a cell can hold.
        self.purchases = self.purchases.saturating_add(o.purchases);
        self.lost_purchases = self.lost_purchases.saturating_add(o.lost_purchases);
        self.chip_reads = self.chip_reads.saturating_add(o.chip_reads);
        self.fallbacks = self.fallbacks.saturating_add(o.fallbacks);
        self.contactless = self.contactless.saturating_add(o.contactless);
        self.swipes = self.swipes.saturating_add(o.swipes);
        self.keyed = self.keyed.saturating_add(o.keyed);
    }
}

/// What one row adds to its cell while rows are read: 24 bytes, so that the hour being read
/// stays in the CPU cache; lost purchases are settled when the builders are added up.
/// The counts are `u16`: none exceeds `transactions`, and a cell whose `transactions` reaches
/// `u16::MAX` (one terminal, code and hour of a builder: 18 a second) is moved to the flat
/// list whole and starts again ([`CubeBuilder::add_row`]), so none can wrap.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct RowSums {
    amount_minor: i64,
    transactions: u16,
    purchases: u16,
    chip_reads: u16,
    fallbacks: u16,
    contactless: u16,
    swipes: u16,
    keyed: u16,
}

impl RowSums {
    fn widen(self) -> Sums {
        Sums {
            transactions: self.transactions as u64,
            amount_minor: self.amount_minor,
            purchases: self.purchases as u32,
            chip_reads: self.chip_reads as u32,
            fallbacks: self.fallbacks as u32,
            contactless: self.contactless as u32,
            swipes: self.swipes as u32,
            keyed: self.keyed as u32,
            ..Sums::default()
        }
    }
}

/// Sums of a rollup row, wide enough for a fleet's year.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Wide {
    transactions: u64,
    amount_minor: i64,
    purchases: u64,
    lost_purchases: u64,
    lost_amount_minor: i64,
    chip_reads: u64,
    fallbacks: u64,
    contactless: u64,
    swipes: u64,
    keyed: u64,
}

impl From<&Sums> for Wide {
    fn from(s: &Sums) -> Wide {
        let mut w = Wide::default();
        w.add(s);
        w
    }
}

impl Wide {
    fn add(&mut self, o: &Sums) {
        self.transactions += o.transactions;
        self.amount_minor += o.amount_minor;
        self.purchases += o.purchases as u64;
        self.lost_purchases += o.lost_purchases as u64;
        self.lost_amount_minor += o.lost_amount_minor;
        self.chip_reads += o.chip_reads as u64;
        self.fallbacks += o.fallbacks as u64;
        self.contactless += o.contactless as u64;
        self.swipes += o.swipes as u64;
        self.keyed += o.keyed as u64;
    }

    fn add_wide(&mut self, o: &Wide) {
        self.transactions += o.transactions;
        self.amount_minor += o.amount_minor;
        self.purchases += o.purchases;
        self.lost_purchases += o.lost_purchases;
        self.lost_amount_minor += o.lost_amount_minor;
        self.chip_reads += o.chip_reads;
        self.fallbacks += o.fallbacks;
        self.contactless += o.contactless;
        self.swipes += o.swipes;
        self.keyed += o.keyed;
    }
}

/// How purchases are counted (see `purchases.rs`): the retry window and which codes approve
/// (the active catalog's class `approved`).
#[derive(Clone)]
pub struct RetryRule {
    /// Seconds.
    pub window: i64,
    pub approved: Arc<dyn Fn(&str) -> bool + Send + Sync>,
}

impl std::fmt::Debug for RetryRule {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "RetryRule {{ window: {} }}", self.window)
    }
}

/// One accepted row, as the cube takes it.
#[derive(Debug, Clone, Copy)]
pub struct Row<'a> {
    /// Epoch seconds.
    pub ts: i64,
    pub terminal: &'a str,
    pub merchant: &'a str,
    pub name: &'a str,
    pub code: &'a str,
    /// What goes into the amount sums (0 for refunds and rows without an amount).
    pub amount_minor: i64,
    /// What makes the purchase key, for attempts that take part in purchases.
    pub purchase: Option<PurchaseParts<'a>>,
    /// How the card was read, when the input says.
    pub entry: Option<EntryMode>,
    /// The terminal's model, firmware and application version, when the input says.
    pub attrs: Option<RowAttrs<'a>>,
    /// The card's BIN (first six digits), when the input has a card number.
    pub bin: Option<u32>,
    pub latency_ms: Option<f64>,
    /// False for a row after `--until` kept only as a possible retry (no cell).
    pub in_window: bool,
}

// ---------------------------------------------------------------------------------------------

/// Strings of one dimension, numbered in first-seen order.
#[derive(Debug, Default)]
struct Interner {
    /// Strings of up to 7 bytes (codes, short terminal ids), packed with their length into one
    /// integer: hashed and compared as a number, in a table half the size of the next one.
    tiny: HashMap<u64, u32, FastState>,
    /// Strings of 8 to 15 bytes (an ISO 8583 terminal id is 8), packed the same way.
    short: HashMap<u128, u32, FastState>,
    long: HashMap<Box<str>, u32, FastState>,
    strings: Vec<Box<str>>,
}

/// A string as a number, its length in the last byte: strings of different lengths differ.
#[derive(Clone, Copy)]
enum Packed {
    Tiny(u64),
    Short(u128),
    Long,
}

fn pack_str(s: &str) -> Packed {
    let b = s.as_bytes();
    if b.len() <= 7 {
        let mut buf = [0u8; 8];
        buf[..b.len()].copy_from_slice(b);
        buf[7] = b.len() as u8;
        Packed::Tiny(u64::from_le_bytes(buf))
    } else if b.len() <= 15 {
        let mut buf = [0u8; 16];
        buf[..b.len()].copy_from_slice(b);
        buf[15] = b.len() as u8;
        Packed::Short(u128::from_le_bytes(buf))
    } else {
        Packed::Long
    }
}

impl Interner {
    fn new() -> Interner {
        Interner {
            tiny: HashMap::with_hasher(fast_state()),
            short: HashMap::with_hasher(fast_state()),
            long: HashMap::with_hasher(fast_state()),
            strings: Vec::new(),
        }
    }

    fn id(&mut self, s: &str, dim: Dim) -> Result<u32> {
        let packed = pack_str(s);
        let found = match packed {
            Packed::Tiny(p) => self.tiny.get(&p),
            Packed::Short(p) => self.short.get(&p),
            Packed::Long => self.long.get(s),
        };
        if let Some(&id) = found {
            return Ok(id);
        }
        let id = self.strings.len() as u64;
        if id >= dim.limit() {
            return Err(Error::Usage(format!(
                "more than {} distinct {} in the input: poslens' cube cannot hold them",
                dim.limit(),
                dim.what()
            )));
        }
        match packed {
            Packed::Tiny(p) => self.tiny.insert(p, id as u32),
            Packed::Short(p) => self.short.insert(p, id as u32),
            Packed::Long => self.long.insert(s.into(), id as u32),
        };
        self.strings.push(s.into());
        Ok(id as u32)
    }
}

/// Hashing for keys that are already hashes (fingerprints): they are used as they are.
#[derive(Clone, Copy, Default, Debug)]
pub(crate) struct KeyIsHash;

impl BuildHasher for KeyIsHash {
    type Hasher = PassThrough;
    fn build_hasher(&self) -> PassThrough {
        PassThrough(0)
    }
}

#[derive(Default)]
pub(crate) struct PassThrough(u64);

impl std::hash::Hasher for PassThrough {
    fn finish(&self) -> u64 {
        self.0
    }
    /// Only for keys that are not one `u64`: mixed byte by byte, never used on the hot path.
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0.rotate_left(8) ^ b as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

/// A builder's cells, one hash map per hour. Rows arrive roughly in time order, so the map of
/// the hour being read is small and stays in the CPU cache; one map for every cell of a big
/// fleet (millions) missed the cache on almost every row, and cost a third of the ingest.
///
/// Within an hour a cell is keyed by `combo << 16 | code`: the builder's number for the
/// (terminal, merchant, name) it was seen with, and its code number. Half the key of a full
/// cube key, so twice as many cells of the hour fit in the cache.
#[derive(Default)]
struct HourCells {
    maps: Vec<HashMap<u64, RowSums, FastState>>,
    /// The hour of each map.
    hours: Vec<i64>,
    index: HashMap<i64, usize, FastState>,
    last: Option<(i64, usize)>,
}

impl HourCells {
    #[inline]
    fn of_hour(&mut self, hour: i64) -> &mut HashMap<u64, RowSums, FastState> {
        let i = match self.last {
            Some((h, i)) if h == hour => i,
            _ => {
                let next = self.maps.len();
                let i = *self.index.entry(hour).or_insert(next);
                if i == next {
                    self.maps.push(HashMap::with_hasher(fast_state()));
                    self.hours.push(hour);
                }
                self.last = Some((hour, i));
                i
            }
        };
        &mut self.maps[i]
    }

    fn len(&self) -> usize {
        self.maps.iter().map(HashMap::len).sum()
    }
}

/// Folds transactions into a cube. One per ingest thread; [`Cube::from_builders`] adds them.
pub struct CubeBuilder {
    tz: Tz,
    terminals: Interner,
    merchants: Interner,
    names: Interner,
    codes: Interner,
    /// (terminal, merchant, name) seen together, by a 64-bit fingerprint of the three strings:
    /// one lookup per row in a small table, instead of looking up three strings (a terminal
    /// almost always reports the same merchant). Two different triples would have to share a
    /// fingerprint to be mixed up: about 1e-11 for 20,000 terminals.
    combos: HashMap<u64, u32, KeyIsHash>,
    /// Per combo number, its (terminal, merchant, name) numbers.
    combo_ids: Vec<(u32, u32, u32)>,
    cells: HourCells,
    /// Cells added from cube files ([`CubeBuilder::add_parquet`]), keyed with this builder's
    /// numbers: they are already aggregated, so a flat list sorted and folded once at the end
    /// (32 bytes a cell) beats hour maps (about 40 with their empty slots, in random order).
    flat: Vec<(u128, Sums)>,
    print_state: foldhash::quality::FixedState,
    /// (UTC hour, offset seconds) of the last lookup: offsets change a few times a year.
    offset_cache: (i64, i64),
    /// Purchases: the rule, whether each code number approves, and the attempts kept.
    retry: Option<RetryRule>,
    approves: Vec<Option<bool>>,
    attempts: purchases::Attempts,
    /// Response-time histograms per (combo, local day) and per local hour (`latency.rs`):
    /// stores and their indexes. Rows add to their combo's [`ComboState`] first.
    lat_days: Vec<((u32, i64), [u32; BUCKETS])>,
    lat_day_index: HashMap<(u32, i64), u32, FastState>,
    lat_hours: Vec<(i64, Hist)>,
    lat_hour_index: HashMap<i64, u32, FastState>,
    lat_hour_last: (i64, u32),
    /// Per combo, what its rows need besides their cell.
    combo_state: Vec<ComboState>,
    /// Per combo, its terminal's attributes as last seen (rows that carry them).
    combo_attrs: Vec<Option<attrs::Seen>>,
    /// Attributes read from cube files, by terminal.
    file_attrs: std::collections::BTreeMap<String, attrs::Seen>,
    /// Transactions per hour and card BIN, failures per hour, BIN, code and terminal.
    issuers: issuers::IssuerBuilder,
}

/// What a combo's rows need besides their cell, in one cache line: rows of a big fleet come
/// in time order, terminals interleaved, so anything kept per terminal is a cache miss per
/// row; the (terminal, day) histogram looked up per row was such a miss (36% of the time
/// spent adding rows to the cube), so the current day's counts sit beside the fingerprint.
#[derive(Debug, Clone, Copy)]
#[repr(align(64))]
struct ComboState {
    /// The fingerprint of the (terminal, merchant, name): the start of a purchase key, the
    /// same in every builder.
    print: u64,
    /// The local day (its start) of `hist`; `i64::MIN` before the first response time.
    day: i64,
    /// That day's response times not yet added to `lat_days` (moved there when the day
    /// changes, before a count would overflow, and when the builders are added up).
    hist: [u16; BUCKETS],
}

/// A row's terminal attributes (empty: not given).
#[derive(Debug, Clone, Copy, Default)]
pub struct RowAttrs<'a> {
    pub model: &'a str,
    pub firmware: &'a str,
    pub app_version: &'a str,
}

impl RowAttrs<'_> {
    fn same(&self, a: &attrs::TerminalAttrs) -> bool {
        a.model == self.model && a.firmware == self.firmware && a.app_version == self.app_version
    }

    fn owned(&self) -> attrs::TerminalAttrs {
        attrs::TerminalAttrs {
            model: self.model.to_string(),
            firmware: self.firmware.to_string(),
            app_version: self.app_version.to_string(),
            ..Default::default()
        }
    }
}

/// What makes an attempt's purchase key besides its terminal and merchant.
#[derive(Debug, Clone, Copy)]
pub struct PurchaseParts<'a> {
    pub amount_minor: i64,
    pub currency: &'a str,
    /// First six and last four of the card (`normalize::card_print`), 0 without a card.
    pub card: u64,
}

impl CubeBuilder {
    pub fn new(tz: Tz) -> Self {
        CubeBuilder {
            tz,
            terminals: Interner::new(),
            merchants: Interner::new(),
            names: Interner::new(),
            codes: Interner::new(),
            combos: HashMap::with_hasher(KeyIsHash),
            combo_ids: Vec::new(),
            cells: HourCells::default(),
            flat: Vec::new(),
            print_state: foldhash::quality::FixedState::with_seed(0x6d65_7263),
            offset_cache: (i64::MIN, 0),
            retry: None,
            approves: Vec::new(),
            attempts: purchases::Attempts::default(),
            lat_days: Vec::new(),
            lat_day_index: HashMap::with_hasher(fast_state()),
            lat_hours: Vec::new(),
            lat_hour_index: HashMap::with_hasher(fast_state()),
            lat_hour_last: (i64::MIN, 0),
            combo_state: Vec::new(),
            combo_attrs: Vec::new(),
            file_attrs: std::collections::BTreeMap::new(),
            issuers: issuers::IssuerBuilder::default(),
        }
    }

    /// Note a row's terminal attributes: the latest row's win, ties to the larger values.
    fn see_attrs(&mut self, combo: u32, ts: i64, a: &RowAttrs<'_>) {
        let i = combo as usize;
        if self.combo_attrs.len() <= i {
            self.combo_attrs.resize(i + 1, None);
        }
        match &mut self.combo_attrs[i] {
            Some(seen) if a.same(&seen.attrs) => seen.at = seen.at.max(ts),
            slot => {
                let new = attrs::Seen {
                    at: ts,
                    attrs: a.owned(),
                };
                match slot {
                    Some(seen) => seen.merge(&new),
                    None => *slot = Some(new),
                }
            }
        }
    }

    /// A row of another cube's issuer table.
    fn add_issuer(
        &mut self,
        hour: i64,
        bin: u32,
        code: Option<&str>,
        terminal: Option<&str>,
        n: u64,
    ) -> Result<()> {
        match (code, terminal) {
            (Some(c), Some(t)) => {
                let c = self.codes.id(c, Dim::Code)?;
                let t = self.terminals.id(t, Dim::Terminal)?;
                self.issuers.fail(hour, bin, c, t, n);
            }
            _ => self.issuers.add_total(hour, bin, n),
        }
        Ok(())
    }

    /// Attributes of a terminal read from a cube file.
    fn add_attrs(&mut self, terminal: &str, seen: attrs::Seen) {
        self.file_attrs
            .entry(terminal.to_string())
            .or_default()
            .merge(&seen);
    }

    /// Count purchases and lost sales under `rule` (rows then need their purchase key).
    pub fn with_retry_rule(mut self, rule: Option<RetryRule>) -> Self {
        self.retry = rule;
        self
    }

    /// The UTC offset (seconds) of the report zone at `ts`, cached per UTC hour.
    fn offset(&mut self, ts: i64) -> i64 {
        let utc_hour = ts.div_euclid(3600);
        if self.offset_cache.0 != utc_hour {
            let offset = self
                .tz
                .offset_from_utc_datetime(
                    &chrono::DateTime::from_timestamp(ts, 0)
                        .unwrap_or_default()
                        .naive_utc(),
                )
                .fix()
                .local_minus_utc() as i64;
            self.offset_cache = (utc_hour, offset);
        }
        self.offset_cache.1
    }

    /// Whether code number `code` approves under the retry rule (looked up once per code).
    fn approves(&mut self, code: u32, text: &str) -> bool {
        let i = code as usize;
        if self.approves.len() <= i {
            self.approves.resize(i + 1, None);
        }
        match self.approves[i] {
            Some(a) => a,
            None => {
                let a = self.retry.as_ref().is_some_and(|r| (r.approved)(text));
                self.approves[i] = Some(a);
                a
            }
        }
    }

    /// The index of the histogram of (combo, day) in `lat_days`, made if new.
    fn day_hist(&mut self, combo: u32, day: i64) -> usize {
        let next = self.lat_days.len() as u32;
        let i = *self.lat_day_index.entry((combo, day)).or_insert(next);
        if i == next {
            self.lat_days.push(((combo, day), [0; BUCKETS]));
        }
        i as usize
    }

    /// Move a combo's response times of its current day into `lat_days`, and start `day`.
    fn flush_day(&mut self, combo: u32, day: i64) {
        let st = self.combo_state[combo as usize];
        if st.hist.iter().any(|&c| c > 0) {
            let d = self.day_hist(combo, st.day);
            for (into, &c) in self.lat_days[d].1.iter_mut().zip(&st.hist) {
                *into = into.saturating_add(c as u32);
            }
        }
        let st = &mut self.combo_state[combo as usize];
        st.day = day;
        st.hist = [0; BUCKETS];
    }

    /// Move every combo's pending response times into `lat_days`.
    fn flush_days(&mut self) {
        for c in 0..self.combo_state.len() as u32 {
            self.flush_day(c, i64::MIN);
        }
    }

    /// The index of the fleet's histogram of `hour` in `lat_hours`, made if new.
    fn hour_hist(&mut self, hour: i64) -> usize {
        if self.lat_hour_last.0 == hour {
            return self.lat_hour_last.1 as usize;
        }
        let next = self.lat_hours.len() as u32;
        let i = *self.lat_hour_index.entry(hour).or_insert(next);
        if i == next {
            self.lat_hours.push((hour, [0; BUCKETS]));
        }
        self.lat_hour_last = (hour, i);
        i as usize
    }

    /// Add one accepted row with every measure it carries.
    pub fn add_row(&mut self, row: &Row<'_>) -> Result<()> {
        let combo = self.combo(row.terminal, row.merchant, row.name)?;
        let code = self.codes.id(row.code, Dim::Code)?;
        let hour = self.local_hour(row.ts);
        let key = (combo as u64) << 16 | code as u64;
        let purchase = match (&self.retry, row.purchase) {
            (Some(_), Some(p)) => Some(fast_state().hash_one((
                self.combo_state[combo as usize].print,
                p.amount_minor,
                p.currency,
                p.card,
            ))),
            _ => None,
        };
        let approved = purchase.is_some() && self.approves(code, row.code);
        if let Some(a) = &row.attrs {
            self.see_attrs(combo, row.ts, a);
        }
        if let (true, Some(bin)) = (row.in_window, row.bin) {
            self.issuers.count(hour, bin);
            // Approvals are most rows: only the others keep their code and terminal.
            let ok = if self.retry.is_some() {
                self.approves(code, row.code)
            } else {
                row.code == "00"
            };
            if !ok {
                let term = self.combo_ids[combo as usize].0;
                self.issuers.fail(hour, bin, code, term, 1);
            }
        }
        if row.in_window {
            let s = self.cells.of_hour(hour).entry(key).or_default();
            if s.transactions == u16::MAX {
                // Full: the cell goes to the flat list as it is (added up with the rest at
                // the end) and starts again.
                let full = std::mem::take(s).widen();
                let (ti, mi, ni) = self.combo_ids[combo as usize];
                self.flat.push((pack(ti, mi, ni, hour, code), full));
            }
            let s = self.cells.of_hour(hour).entry(key).or_default();
            s.transactions += 1;
            s.amount_minor += row.amount_minor;
            match row.entry {
                Some(EntryMode::Chip) => s.chip_reads += 1,
                Some(EntryMode::Contactless) => {
                    s.chip_reads += 1;
                    s.contactless += 1;
                }
                Some(EntryMode::Fallback) => s.fallbacks += 1,
                Some(EntryMode::Swipe) => s.swipes += 1,
                Some(EntryMode::Keyed) => s.keyed += 1,
                Some(EntryMode::Other) | None => {}
            }
            // Every approved attempt ends one purchase; lost ones are settled at the end.
            s.purchases += approved as u16;
            if let Some(ms) = row.latency_ms {
                let b = latency::bucket(ms);
                let day = row.ts - (row.ts + self.offset(row.ts)).rem_euclid(86_400);
                let st = &self.combo_state[combo as usize];
                if st.day != day || st.hist[b] == u16::MAX {
                    self.flush_day(combo, day);
                }
                self.combo_state[combo as usize].hist[b] += 1;
                let h = self.hour_hist(hour);
                self.lat_hours[h].1[b] += 1;
            }
        }
        if let Some(pk) = purchase {
            if approved {
                self.attempts.approve(purchases::Approval {
                    key: pk,
                    ts: row.ts,
                });
            } else {
                self.attempts.failures.push(purchases::Failure {
                    key: pk,
                    ts: row.ts,
                    hour,
                    cell: key,
                    amount_minor: row.amount_minor,
                    in_window: row.in_window,
                });
            }
        }
        Ok(())
    }

    /// Start of the local hour containing `ts`, as an instant.
    pub fn local_hour(&mut self, ts: i64) -> i64 {
        let offset = self.offset(ts);
        ts - (ts + offset).rem_euclid(3600)
    }

    /// Add one transaction at instant `ts` (amount and code only: tests and simple callers).
    pub fn add(
        &mut self,
        ts: i64,
        terminal: &str,
        merchant: &str,
        name: &str,
        code: &str,
        amount_minor: i64,
    ) -> Result<()> {
        self.add_row(&Row {
            ts,
            terminal,
            merchant,
            name,
            code,
            amount_minor,
            purchase: None,
            entry: None,
            attrs: None,
            bin: None,
            latency_ms: None,
            in_window: true,
        })
    }

    /// Add a whole cell (another cube's) with every measure: kept in the flat list.
    fn add_sums(&mut self, hour: i64, keys: [&str; 4], sums: Sums) -> Result<()> {
        let [terminal, merchant, name, code] = keys;
        let combo = self.combo(terminal, merchant, name)?;
        let (ti, mi, ni) = self.combo_ids[combo as usize];
        let ci = self.codes.id(code, Dim::Code)?;
        self.flat.push((pack(ti, mi, ni, hour, ci), sums));
        Ok(())
    }

    /// The builder's number for a (terminal, merchant, name) triple.
    fn combo(&mut self, terminal: &str, merchant: &str, name: &str) -> Result<u32> {
        let print = self.print_state.hash_one((terminal, merchant, name));
        let combo = match self.combos.get(&print) {
            Some(&c) => c,
            None => {
                let ids = (
                    self.terminals.id(terminal, Dim::Terminal)?,
                    self.merchants.id(merchant, Dim::Merchant)?,
                    self.names.id(name, Dim::MerchantName)?,
                );
                let c = self.combo_ids.len() as u32;
                self.combo_ids.push(ids);
                self.combo_state.push(ComboState {
                    print,
                    day: i64::MIN,
                    hist: [0; BUCKETS],
                });
                self.combos.insert(print, c);
                c
            }
        };
        Ok(combo)
    }

    /// Add the cells of a cube file (docs/cube.md, version 1); returns the file's zone and its
    /// transactions. Many files (one per day or partition) go into one builder, so a year of
    /// daily cubes costs one pass, not a merge per file.
    /// A file another engine wrote is checked column by column: a missing column, a wrong
    /// type, a null or a negative count is refused with the column's name.
    pub fn add_parquet(&mut self, path: &std::path::Path) -> Result<(Option<String>, u64)> {
        let bad = |reason: String| Error::BadInput {
            path: path.into(),
            reason,
        };
        let open = || {
            std::fs::File::open(path).map_err(|source| Error::Open {
                path: path.into(),
                source,
            })
        };
        let unreadable = |e: PolarsError| bad(format!("not a Parquet cube file: {e}"));
        let mut reader = ParquetReader::new(open()?);
        let names: Vec<String> = reader
            .schema()
            .map_err(unreadable)?
            .iter_names()
            .map(|n| n.to_string())
            .collect();
        for (name, what) in CUBE_COLUMNS {
            if !names.iter().any(|n| n == name) {
                return Err(bad(missing_column(name, what)));
            }
        }
        let total = reader.num_rows().map_err(unreadable)?;
        // Read in slices of rows, only the cube's columns: a year of cells never sits in
        // memory as a decoded table beside the builder.
        // Version 2 columns when the file has them (a version 1 file reads as zeros).
        let mut projection: Vec<String> = CUBE_COLUMNS.iter().map(|(n, _)| n.to_string()).collect();
        projection.extend(
            V2_COLUMNS
                .iter()
                .filter(|c| names.iter().any(|n| n == *c))
                .map(|c| c.to_string()),
        );
        let mut zone: Option<String> = None;
        let mut transactions = 0u64;
        let mut offset = 0;
        loop {
            let df = ParquetReader::new(open()?)
                .with_columns(Some(projection.clone()))
                .with_slice(Some((offset, CUBE_SLICE_ROWS)))
                .finish()
                .map_err(unreadable)?;
            transactions += self.add_cube_slice(&df, offset, &mut zone).map_err(bad)?;
            offset += CUBE_SLICE_ROWS;
            if offset >= total {
                break;
            }
        }
        Ok((zone, transactions))
    }

    /// One slice of a cube file; `first_row` numbers rows in messages, `zone` is the file's.
    fn add_cube_slice(
        &mut self,
        df: &DataFrame,
        first_row: usize,
        zone: &mut Option<String>,
    ) -> std::result::Result<u64, String> {
        let text = |name: &str| -> std::result::Result<StringChunked, String> {
            let c = df
                .column(name)
                .map_err(|_| missing_column(name, "string"))?;
            let c = c
                .str()
                .map_err(|_| wrong_type(name, c.dtype(), "string"))?
                .clone();
            no_nulls(name, c.null_count())?;
            Ok(c)
        };
        let int = |name: &str, what: &str| -> std::result::Result<Int64Chunked, String> {
            let c = df.column(name).map_err(|_| missing_column(name, what))?;
            if !c.dtype().is_integer() {
                return Err(wrong_type(name, c.dtype(), what));
            }
            let c = c
                .cast(&DataType::Int64)
                .map_err(|_| wrong_type(name, c.dtype(), what))?;
            let c = c
                .i64()
                .map_err(|_| wrong_type(name, c.dtype(), what))?
                .clone();
            no_nulls(name, c.null_count())?;
            Ok(c)
        };
        let zones = text(TIME_ZONE)?;
        if zone.is_none() {
            if let Some(z) = zones.get(0) {
                if z.parse::<Tz>().is_err() {
                    return Err(format!(
                        "column {TIME_ZONE}: {z:?} is not an IANA time zone name"
                    ));
                }
                *zone = Some(z.to_string());
            }
        }
        if let Some(z) = zone.as_deref() {
            if zones.iter().any(|v| v != Some(z)) {
                return Err(format!(
                    "column {TIME_ZONE} holds more than one zone: a cube file is cut in one"
                ));
            }
        }
        let (terminal, merchant, name, code) = (
            text(TERMINAL)?,
            text(MERCHANT)?,
            text(MERCHANT_NAME)?,
            text(CODE)?,
        );
        let hour = int(HOUR, HOUR_TYPE)?;
        let count = int(COUNT, "INT64")?;
        let amount = int(AMOUNT, AMOUNT_TYPE)?;
        if let Some(i) = count.iter().position(|v| v.is_some_and(|v| v < 0)) {
            return Err(format!(
                "column {COUNT} is negative at row {}",
                first_row + i + 1
            ));
        }
        // Version 2 measures, zeros when the file is version 1 (it has none of them).
        let optional = |name: &str| -> std::result::Result<Vec<i64>, String> {
            if df.column(name).is_err() {
                return Ok(vec![0; df.height()]);
            }
            let c = int(name, "INT64")?;
            if name != LOST_AMOUNT {
                if let Some(i) = c.iter().position(|v| v.is_some_and(|v| v < 0)) {
                    return Err(format!(
                        "column {name} is negative at row {}",
                        first_row + i + 1
                    ));
                }
            }
            Ok(c.iter().map(|v| v.unwrap_or(0)).collect())
        };
        let (purchases, lost, lost_amount, chip, fallbacks, latency_count) = (
            optional(PURCHASES)?,
            optional(LOST_PURCHASES)?,
            optional(LOST_AMOUNT)?,
            optional(CHIP_READS)?,
            optional(FALLBACKS)?,
            optional(LATENCY_COUNT)?,
        );
        // Version 3 measures, zeros when the file is older.
        let (contactless, swipes, keyed) =
            (optional(CONTACTLESS)?, optional(SWIPES)?, optional(KEYED)?);
        // Version 3: the terminal's attributes on its cell rows (absent in older files).
        let opt_text = |name: &str| -> std::result::Result<Option<StringChunked>, String> {
            match df.column(name) {
                Err(_) => Ok(None),
                Ok(c) => Ok(Some(
                    c.str()
                        .map_err(|_| wrong_type(name, c.dtype(), "string"))?
                        .clone(),
                )),
            }
        };
        let (models, firmwares, apps) = (
            opt_text(TERMINAL_MODEL)?,
            opt_text(FIRMWARE_VERSION)?,
            opt_text(APP_VERSION)?,
        );
        let attrs_at: Option<Vec<Option<i64>>> = match df.column(ATTRS_SEEN) {
            Err(_) => None,
            Ok(c) => {
                let c = c
                    .cast(&DataType::Int64)
                    .map_err(|_| wrong_type(ATTRS_SEEN, c.dtype(), "INT64"))?;
                Some(
                    c.i64()
                        .map_err(|_| wrong_type(ATTRS_SEEN, c.dtype(), "INT64"))?
                        .iter()
                        .collect(),
                )
            }
        };
        let issuer_bins = opt_text(ISSUER_BIN)?;
        let issuer_count = optional(ISSUER_COUNT)?;
        let text_at = |col: &Option<StringChunked>, i: usize| -> String {
            col.as_ref()
                .and_then(|c| c.get(i))
                .unwrap_or("")
                .to_string()
        };
        // Null on cells; a bucket number on the rows of a response-time histogram.
        let buckets: Vec<Option<i64>> = match df.column(LATENCY_BUCKET) {
            Err(_) => vec![None; df.height()],
            Ok(c) => {
                if !c.dtype().is_integer() {
                    return Err(wrong_type(LATENCY_BUCKET, c.dtype(), "INT32"));
                }
                let c = c
                    .cast(&DataType::Int64)
                    .map_err(|_| wrong_type(LATENCY_BUCKET, c.dtype(), "INT32"))?;
                let c = c
                    .i64()
                    .map_err(|_| wrong_type(LATENCY_BUCKET, c.dtype(), "INT32"))?;
                c.iter().collect()
            }
        };
        let rows = terminal
            .iter()
            .zip(merchant.iter())
            .zip(name.iter())
            .zip(code.iter())
            .zip(hour.iter())
            .zip(count.iter())
            .zip(amount.iter());
        let mut transactions = 0u64;
        for (i, ((((((t, m), n), c), h), k), a)) in rows.enumerate() {
            // Nulls were refused above.
            let (t, m, n, c) = (
                t.unwrap_or(""),
                m.unwrap_or(""),
                n.unwrap_or(""),
                c.unwrap_or(""),
            );
            let (h, k, a) = (h.unwrap_or(0), k.unwrap_or(0), a.unwrap_or(0));
            if let Some(bin) = issuer_bins.as_ref().and_then(|c| c.get(i)) {
                let bin = issuers::bin_of(&format!("{bin}0000")).ok_or_else(|| {
                    format!(
                        "column {ISSUER_BIN} at row {} is not six digits: {bin:?}",
                        first_row + i + 1
                    )
                })?;
                let (code, term) = ((!c.is_empty()).then_some(c), (!t.is_empty()).then_some(t));
                self.add_issuer(h, bin, code, term, issuer_count[i] as u64)
                    .map_err(|e| e.to_string())?;
                continue;
            }
            if let Some(b) = buckets[i] {
                if !(0..BUCKETS as i64).contains(&b) {
                    return Err(format!(
                        "column {LATENCY_BUCKET} is out of range at row {} ({b}: 0 to {})",
                        first_row + i + 1,
                        BUCKETS - 1
                    ));
                }
                self.add_latency(h, t, m, n, b as usize, latency_count[i] as u64)
                    .map_err(|e| e.to_string())?;
                continue;
            }
            if t.is_empty() || c.is_empty() {
                let col = if t.is_empty() { TERMINAL } else { CODE };
                return Err(format!(
                    "column {col} is empty at row {}",
                    first_row + i + 1
                ));
            }
            if h.checked_add(HOUR_BIAS)
                .is_none_or(|b| b < 0 || b as u64 >= Dim::Hour.limit())
            {
                return Err(format!(
                    "column {HOUR} is out of range at row {} ({h}: not epoch seconds)",
                    first_row + i + 1
                ));
            }
            // Counts beyond u32 cannot be one terminal's hour: saturate (see [`Sums`]).
            let narrow = |v: i64| u32::try_from(v).unwrap_or(u32::MAX);
            let sums = Sums {
                transactions: k as u64,
                amount_minor: a,
                purchases: narrow(purchases[i]),
                lost_purchases: narrow(lost[i]),
                lost_amount_minor: lost_amount[i],
                chip_reads: narrow(chip[i]),
                fallbacks: narrow(fallbacks[i]),
                contactless: narrow(contactless[i]),
                swipes: narrow(swipes[i]),
                keyed: narrow(keyed[i]),
            };
            self.add_sums(h, [t, m, n, c], sums)
                .map_err(|e| e.to_string())?;
            if let Some(at) = attrs_at.as_ref().and_then(|v| v[i]) {
                let a = attrs::TerminalAttrs {
                    model: text_at(&models, i),
                    firmware: text_at(&firmwares, i),
                    app_version: text_at(&apps, i),
                    ..Default::default()
                };
                if !a.is_empty() {
                    self.add_attrs(t, attrs::Seen { at, attrs: a });
                }
            }
            transactions += k as u64;
        }
        Ok(transactions)
    }

    /// Add `count` response times of bucket `b`: at a terminal's local day (`at` is the day's
    /// start), or, with an empty terminal, at the fleet's hour `at` (docs/cube.md).
    fn add_latency(
        &mut self,
        at: i64,
        terminal: &str,
        merchant: &str,
        name: &str,
        b: usize,
        count: u64,
    ) -> Result<()> {
        if terminal.is_empty() {
            let h = self.hour_hist(at);
            self.lat_hours[h].1[b] += count;
        } else {
            let combo = self.combo(terminal, merchant, name)?;
            let d = self.day_hist(combo, at);
            let e = &mut self.lat_days[d].1[b];
            *e = e.saturating_add(u32::try_from(count).unwrap_or(u32::MAX));
        }
        Ok(())
    }

    pub fn push(&mut self, t: Txn) -> Result<()> {
        self.add(
            t.ts,
            &t.terminal_id,
            &t.merchant_id,
            &t.merchant_name,
            &t.response_code,
            t.amount_minor.unwrap_or(0),
        )
    }

    pub fn finish(self) -> Result<Cube> {
        Cube::from_builders(vec![self])
    }
}

// ---------------------------------------------------------------------------------------------

/// The aggregated cube: sorted dictionaries and cells sorted by key.
#[derive(Debug, Clone, Default)]
pub struct Cube {
    terminals: Vec<Arc<str>>,
    merchants: Vec<Arc<str>>,
    names: Vec<Arc<str>>,
    codes: Vec<Arc<str>>,
    cells: Vec<(u128, Sums)>,
    /// Response-time histograms per (terminal, merchant, name, local day): keys packed like a
    /// cell's, the day's start in the hour field, code 0; sorted by key.
    lat_days: Vec<(u128, [u32; BUCKETS])>,
    /// The fleet's response-time histogram per local hour, sorted by hour.
    lat_hours: Vec<(i64, Hist)>,
    /// Terminal attributes as last seen (version 3), by terminal id.
    attrs: std::collections::BTreeMap<String, attrs::Seen>,
    /// The issuer table (version 3, `issuers.rs`), sorted by key; code and terminal are ids
    /// of this cube's dictionaries.
    issuers: Vec<(issuers::Key, u64)>,
}

/// One row of a rollup: the key values asked for, by name, and the sums. Text keys borrow
/// the cube's dictionaries, so a rollup row costs no allocation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cell<'a> {
    pub keys: Keys<'a>,
    pub transactions: u64,
    pub amount_minor: i64,
    /// Purchases whose last attempt falls in the row (see `purchases.rs`).
    pub purchases: u64,
    /// Of those, the ones not approved in the end, and their amount (minor units).
    pub lost_purchases: u64,
    pub lost_amount_minor: i64,
    /// Chip reads and chip-to-magstripe fallbacks.
    pub chip_reads: u64,
    pub fallbacks: u64,
    /// Version 3: transactions read contactless (also in `chip_reads`), by magstripe (not a
    /// fallback), keyed.
    pub contactless: u64,
    pub swipes: u64,
    pub keyed: u64,
}

/// Most keys a rollup can ask for.
pub const MAX_KEYS: usize = 4;

/// The key values of a rollup row, by dimension: a value is there iff the rollup asked for
/// its dimension. Read through [`Cell`]'s accessors, which name what they return, so a
/// caller cannot read the code where it meant the terminal (positions could be swapped and
/// still compile).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Keys<'a> {
    terminal: Option<&'a str>,
    merchant: Option<&'a str>,
    merchant_name: Option<&'a str>,
    hour: Option<i64>,
    code: Option<&'a str>,
    /// The code's number in the cube's dictionary ([`Cube::codes`]).
    code_id: Option<u32>,
}

impl<'a> Cell<'a> {
    pub fn terminal(&self) -> &'a str {
        asked(self.keys.terminal, TERMINAL)
    }

    pub fn merchant(&self) -> &'a str {
        asked(self.keys.merchant, MERCHANT)
    }

    pub fn merchant_name(&self) -> &'a str {
        asked(self.keys.merchant_name, MERCHANT_NAME)
    }

    /// The start of the hour, epoch seconds (docs/cube.md).
    pub fn hour(&self) -> i64 {
        asked(self.keys.hour, HOUR)
    }

    pub fn code(&self) -> &'a str {
        asked(self.keys.code, CODE)
    }

    /// The code's number in its cube's [`Cube::codes`]: per-code tables indexed by it cost
    /// no string lookup per row.
    pub fn code_id(&self) -> usize {
        asked(self.keys.code_id, CODE) as usize
    }

    /// A text key by its dimension's name ([`TERMINAL`], [`MERCHANT`], [`MERCHANT_NAME`],
    /// [`CODE`]), for code that walks one of several dimensions.
    pub fn text(&self, dim: &str) -> &'a str {
        match dim {
            TERMINAL => self.terminal(),
            MERCHANT => self.merchant(),
            MERCHANT_NAME => self.merchant_name(),
            CODE => self.code(),
            other => panic!("internal error: {other} is not a text key"),
        }
    }
}

/// A key the rollup was asked for; reading one it was not asked for is a bug in the caller,
/// caught by the first test that walks that code.
fn asked<T>(value: Option<T>, dim: &str) -> T {
    value.unwrap_or_else(|| panic!("internal error: a rollup read without its {dim} key"))
}

/// A rollup, ready to be walked (as often as needed) in key order; see [`Cube::rollup_iter`].
pub struct Rollup<'a> {
    cube: &'a Cube,
    dims: Vec<Dim>,
    /// Only cells of hours in this range.
    hours: (i64, i64),
    walk: Walk,
}

/// How a rollup is walked.
enum Walk {
    /// The projection keeps the cube's order: folded while walking.
    InOrder,
    /// The first `n` keys asked for are the cube's first `n` (say, terminal first): cells of
    /// one value of those keys are together, so each such group is folded and sorted on its
    /// own while walking (a few thousand cells at most, no map of the whole cube).
    Groups(usize),
    /// Any other projection: summed in a hash map and sorted first.
    Sorted(Vec<(u128, Wide)>),
}

impl<'a> Rollup<'a> {
    fn project(&self, k: u128) -> u128 {
        project(&self.dims, k)
    }

    fn inside(&self, k: u128) -> bool {
        (self.hours.0..self.hours.1).contains(&hour_of(k))
    }

    /// The rows, sorted by their keys.
    pub fn iter(&self) -> impl Iterator<Item = Cell<'a>> + '_ {
        let mut cells = self
            .cube
            .cells
            .iter()
            .filter(|(k, _)| self.inside(*k))
            .map(|(k, s)| (*k, s))
            .peekable();
        let folded: Box<dyn Iterator<Item = (u128, Wide)> + '_> = match &self.walk {
            Walk::Sorted(rows) => Box::new(rows.iter().copied()),
            Walk::InOrder => {
                // Cells of one row agree on the bits of the keys asked for: one compare.
                let mask = self.dims.iter().fold(0u128, |m, d| {
                    let (shift, bits) = d.shift_bits();
                    m | ((1u128 << bits) - 1) << shift
                });
                Box::new(std::iter::from_fn(move || {
                    let (k, first) = cells.next()?;
                    let mut s = Wide::from(first);
                    while let Some((_, more)) = cells.next_if(|(k2, _)| (k2 ^ k) & mask == 0) {
                        s.add(more);
                    }
                    Some((self.project(k), s))
                }))
            }
            Walk::Groups(n) => {
                // Cells of a group share the key's top bits down to the n-th dimension.
                let (shift, _) = self.dims[n - 1].shift_bits();
                let mut group: std::vec::IntoIter<(u128, Wide)> = Vec::new().into_iter();
                Box::new(std::iter::from_fn(move || {
                    if group.len() == 0 {
                        let (k, first) = cells.next()?;
                        let mut rows = vec![(self.project(k), Wide::from(first))];
                        while let Some((k2, more)) =
                            cells.next_if(|(k2, _)| k2 >> shift == k >> shift)
                        {
                            rows.push((self.project(k2), Wide::from(more)));
                        }
                        // A group is small: sorted on this thread, kept at its size.
                        rows.sort_unstable_by_key(|r| r.0);
                        rows.dedup_by(|later, kept| {
                            if later.0 == kept.0 {
                                kept.1.add_wide(&later.1);
                                true
                            } else {
                                false
                            }
                        });
                        group = rows.into_iter();
                    }
                    group.next()
                }))
            }
        };
        folded.map(move |(p, s)| Cell {
            keys: self.unpack(p),
            transactions: s.transactions,
            amount_minor: s.amount_minor,
            purchases: s.purchases,
            lost_purchases: s.lost_purchases,
            lost_amount_minor: s.lost_amount_minor,
            chip_reads: s.chip_reads,
            fallbacks: s.fallbacks,
            contactless: s.contactless,
            swipes: s.swipes,
            keyed: s.keyed,
        })
    }

    /// The key values of a projected key, unpacked from its least significant end.
    fn unpack(&self, p: u128) -> Keys<'a> {
        let cube = self.cube;
        let mut keys = Keys::default();
        let mut rest = p;
        for d in self.dims.iter().rev() {
            let (_, bits) = d.shift_bits();
            let v = (rest & ((1u128 << bits) - 1)) as usize;
            rest >>= bits;
            match d {
                Dim::Hour => keys.hour = Some(v as i64 - HOUR_BIAS),
                Dim::Terminal => keys.terminal = Some(&cube.terminals[v]),
                Dim::Merchant => keys.merchant = Some(&cube.merchants[v]),
                Dim::MerchantName => keys.merchant_name = Some(&cube.names[v]),
                Dim::Code => {
                    keys.code = Some(&cube.codes[v]);
                    keys.code_id = Some(v as u32);
                }
            }
        }
        keys
    }
}

/// The projection of a cell key on `dims`, packed in their order.
fn project(dims: &[Dim], k: u128) -> u128 {
    dims.iter().fold(0u128, |acc, d| {
        let (_, bits) = d.shift_bits();
        (acc << bits) | d.get(k) as u128
    })
}

/// Union of several dictionaries, sorted; and for each input dictionary, its ids' new ids.
fn unify<'a>(
    dicts: impl Iterator<Item = &'a [Box<str>]> + Clone,
) -> (Vec<Arc<str>>, Vec<Vec<u32>>) {
    let mut all: Vec<&str> = dicts.clone().flat_map(|d| d.iter().map(|s| &**s)).collect();
    all.sort_unstable();
    all.dedup();
    let index: HashMap<&str, u32, FastState> = all
        .iter()
        .enumerate()
        .map(|(i, s)| (*s, i as u32))
        .collect_with(fast_state());
    let maps = dicts
        .map(|d| d.iter().map(|s| index[&**s]).collect())
        .collect();
    (all.into_iter().map(Arc::from).collect(), maps)
}

trait CollectWith<K, V> {
    fn collect_with<S: BuildHasher>(self, s: S) -> HashMap<K, V, S>;
}

impl<K: std::hash::Hash + Eq, V, I: Iterator<Item = (K, V)>> CollectWith<K, V> for I {
    fn collect_with<S: BuildHasher>(self, s: S) -> HashMap<K, V, S> {
        let mut m = HashMap::with_hasher(s);
        m.extend(self);
        m
    }
}

/// Measures that add up.
trait Add: Copy + Send {
    fn add_to(&self, into: &mut Self);
}

impl Add for Sums {
    fn add_to(&self, into: &mut Self) {
        into.add(self)
    }
}

impl Add for Wide {
    fn add_to(&self, into: &mut Self) {
        into.add_wide(self)
    }
}

impl Add for [u32; BUCKETS] {
    fn add_to(&self, into: &mut Self) {
        for (a, b) in into.iter_mut().zip(self) {
            *a = a.saturating_add(*b);
        }
    }
}

impl Add for Hist {
    fn add_to(&self, into: &mut Self) {
        latency::add(into, self)
    }
}

/// Sort cells by key and add up equal keys.
fn sort_and_fold<K: Ord + Copy + Send, S: Add>(mut cells: Vec<(K, S)>) -> Vec<(K, S)> {
    use rayon::slice::ParallelSliceMut;
    if !cells.is_sorted_by_key(|c| c.0) {
        cells.par_sort_unstable_by_key(|c| c.0);
    }
    // Folded in place: a year of cells is gigabytes, and a second vector would double it.
    cells.dedup_by(|later, kept| {
        if later.0 == kept.0 {
            later.1.add_to(&mut kept.1);
            true
        } else {
            false
        }
    });
    cells.shrink_to_fit();
    cells
}

/// Add sorted `more` into sorted, folded `cells`. A lost purchase is counted at the cell of
/// its last attempt, which is there: one walk over both adds them in place; any key that is
/// not (none is expected) is added by sorting the whole again.
fn add_sorted(mut cells: Vec<(u128, Sums)>, more: Vec<(u128, Sums)>) -> Vec<(u128, Sums)> {
    let mut stray = Vec::new();
    let mut at = 0;
    for (k, s) in more {
        while at < cells.len() && cells[at].0 < k {
            at += 1;
        }
        match cells.get_mut(at) {
            Some(c) if c.0 == k => c.1.add(&s),
            _ => stray.push((k, s)),
        }
    }
    if stray.is_empty() {
        cells
    } else {
        cells.extend(stray);
        sort_and_fold(cells)
    }
}

impl Cube {
    /// Add up builders (one per ingest thread). Integer sums over sorted keys, so the result
    /// does not depend on how rows were spread over threads or chunks.
    pub fn from_builders(mut builders: Vec<CubeBuilder>) -> Result<Cube> {
        for b in &mut builders {
            b.flush_days();
        }
        let (terminals, tmap) = unify(builders.iter().map(|b| &b.terminals.strings[..]));
        let (merchants, mmap) = unify(builders.iter().map(|b| &b.merchants.strings[..]));
        let (names, nmap) = unify(builders.iter().map(|b| &b.names.strings[..]));
        let (codes, cmap) = unify(builders.iter().map(|b| &b.codes.strings[..]));
        let mut seen_attrs: std::collections::BTreeMap<String, attrs::Seen> = Default::default();
        let mut issuer_rows: Vec<(issuers::Key, u64)> = Vec::new();
        for (i, b) in builders.iter_mut().enumerate() {
            b.issuers.flush();
            let remap = |(h, bin, c, t): issuers::Key| {
                let c = if c == issuers::ANY {
                    c
                } else {
                    cmap[i][c as usize]
                };
                let t = if t == issuers::ANY {
                    t
                } else {
                    tmap[i][t as usize]
                };
                (h, bin, c, t)
            };
            issuer_rows.extend(
                std::mem::take(&mut b.issuers.rows)
                    .into_iter()
                    .map(|(k, n)| (remap(k), n)),
            );
        }
        for b in &mut builders {
            for (t, seen) in std::mem::take(&mut b.file_attrs) {
                attrs::merge_into(&mut seen_attrs, &t, &seen);
            }
            for (c, seen) in b.combo_attrs.iter().enumerate() {
                if let Some(seen) = seen {
                    let t = &b.terminals.strings[b.combo_ids[c].0 as usize];
                    attrs::merge_into(&mut seen_attrs, t, seen);
                }
            }
        }
        // Purchases are settled over every builder's attempts (a purchase's attempts may have
        // been read by different threads, from different files).
        let window = builders
            .iter()
            .find_map(|b| b.retry.as_ref().map(|r| r.window))
            .unwrap_or(0);
        let attempts = builders
            .iter_mut()
            .map(|b| std::mem::take(&mut b.attempts))
            .collect();
        let total: usize = builders
            .iter()
            .map(|b| b.cells.len() + b.flat.len())
            .sum::<usize>();
        let mut lat_days: Vec<(u128, [u32; BUCKETS])> = Vec::new();
        let mut lat_hours: Vec<(i64, Hist)> = Vec::new();
        // Per builder, per combo: its cube key without hour and code (one lookup per cell
        // below instead of four).
        let bases: Vec<Vec<u128>> = builders
            .iter()
            .enumerate()
            .map(|(i, b)| {
                b.combo_ids
                    .iter()
                    .map(|&(t, m, n)| {
                        let (t, m, n) = (
                            tmap[i][t as usize],
                            mmap[i][m as usize],
                            nmap[i][n as usize],
                        );
                        pack(t, m, n, -HOUR_BIAS, 0)
                    })
                    .collect()
            })
            .collect();
        // A builder's (combo, code) as a cube key.
        let global = |i: usize, hour: i64, k: u64| {
            bases[i][(k >> 16) as usize]
                | (((hour + HOUR_BIAS) as u128) << HOUR_SHIFT)
                | cmap[i][(k & 0xffff) as usize] as u128
        };
        for (i, b) in builders.iter_mut().enumerate() {
            let days = std::mem::take(&mut b.lat_days);
            lat_days.extend(
                days.into_iter()
                    .map(|((combo, day), h)| (global(i, day, (combo as u64) << 16), h)),
            );
            lat_hours.append(&mut b.lat_hours);
        }
        // The cells are gathered and sorted while the purchases are settled (each is about
        // a tenth of a second on 10M rows, and the sort leaves a core idle at times).
        let (lost, cells) = rayon::join(
            || purchases::lost_purchases(attempts, window),
            || {
                let mut cells: Vec<(u128, Sums)> = Vec::new();
                // Builders are taken apart as they are read: each hour's map is freed once
                // copied.
                for (i, b) in builders.into_iter().enumerate() {
                    let (t, m, n, c) = (&tmap[i], &mmap[i], &nmap[i], &cmap[i]);
                    // Cells from cube files are renumbered where they are; the first
                    // builder's list becomes the cube's (no copy of a year of cells).
                    let mut flat = b.flat;
                    for (k, _) in flat.iter_mut() {
                        *k = pack(
                            t[Dim::Terminal.get(*k) as usize],
                            m[Dim::Merchant.get(*k) as usize],
                            n[Dim::MerchantName.get(*k) as usize],
                            hour_of(*k),
                            c[Dim::Code.get(*k) as usize],
                        );
                    }
                    if cells.is_empty() {
                        cells = flat;
                        cells.reserve(total - cells.len());
                    } else {
                        cells.extend(flat);
                    }
                    for (map, hour) in b.cells.maps.into_iter().zip(b.cells.hours) {
                        cells.extend(
                            map.into_iter()
                                .map(|(k, s)| (global(i, hour, k), s.widen())),
                        );
                    }
                }
                sort_and_fold(cells)
            },
        );
        let mut lost: Vec<(u128, Sums)> = lost
            .iter()
            .map(|l| {
                let sums = Sums {
                    purchases: 1,
                    lost_purchases: 1,
                    lost_amount_minor: l.amount_minor,
                    ..Sums::default()
                };
                (global(l.builder, l.hour, l.cell), sums)
            })
            .collect();
        lost.sort_unstable_by_key(|c| c.0);
        Ok(Cube {
            terminals,
            merchants,
            names,
            codes,
            cells: add_sorted(cells, lost),
            lat_days: sort_and_fold(lat_days),
            lat_hours: sort_and_fold(lat_hours),
            attrs: seen_attrs,
            issuers: issuers::sort_and_fold(issuer_rows),
        })
    }

    /// The cells of the given hours (sorted) as (terminal, hour, code, code number,
    /// transactions), straight from the cells in one scan, no rollup: for the few hours an
    /// incident is judged on. A terminal seen with two merchants has two rows an hour.
    pub fn cells_in_hours(&self, hours: &[i64]) -> Vec<(&str, i64, &str, usize, u64)> {
        if hours.is_empty() {
            return Vec::new();
        }
        use rayon::prelude::*;
        let (lo, hi) = (hours[0], hours[hours.len() - 1]);
        self.cells
            .par_iter()
            .filter(|(k, _)| {
                let h = hour_of(*k);
                h >= lo && h <= hi && hours.binary_search(&h).is_ok()
            })
            .map(|(k, s)| {
                let code = Dim::Code.get(*k) as usize;
                (
                    &*self.terminals[Dim::Terminal.get(*k) as usize],
                    hour_of(*k),
                    &*self.codes[code],
                    code,
                    s.transactions,
                )
            })
            .collect()
    }

    /// The issuer table with codes as this cube's code numbers (as [`Cell::code_id`]).
    pub fn issuer_rows_by_id(
        &self,
    ) -> impl Iterator<Item = (i64, u32, Option<usize>, Option<u32>, u64)> + '_ {
        self.issuers.iter().map(|&((h, bin, c, t), n)| {
            let code = (c != issuers::ANY).then_some(c as usize);
            let term = (t != issuers::ANY).then_some(t);
            (h, bin, code, term, n)
        })
    }

    /// The issuer table: (local hour, BIN, code, terminal, count); code and terminal are None
    /// on the rows that count every transaction of the hour and BIN.
    pub fn issuer_rows(&self) -> impl Iterator<Item = (i64, u32, Option<&str>, Option<&str>, u64)> {
        self.issuer_rows_by_id().map(|(h, bin, c, t, n)| {
            let code = c.map(|c| &*self.codes[c]);
            let term = t.map(|t| &*self.terminals[t as usize]);
            (h, bin, code, term, n)
        })
    }

    /// Each terminal's attributes as last seen in the logs (model, firmware, app version).
    pub fn attrs(&self) -> attrs::AttrMap {
        self.attrs
            .iter()
            .map(|(t, s)| (t.clone(), s.attrs.clone()))
            .collect()
    }

    /// Add another cube to this one.
    pub fn merge(self, other: Cube) -> Result<Cube> {
        let mut b = CubeBuilder::new(Tz::UTC);
        for cube in [self, other] {
            for (t, seen) in &cube.attrs {
                b.add_attrs(t, seen.clone());
            }
            for (h, bin, code, term, n) in cube.issuer_rows() {
                b.add_issuer(h, bin, code, term, n)?;
            }
            for (k, s) in &cube.cells {
                b.add_sums(hour_of(*k), cube.keys_of(*k), *s)?;
            }
            for (k, h) in &cube.lat_days {
                let [t, m, n, _] = cube.keys_of(*k);
                for (bucket, &c) in h.iter().enumerate().filter(|(_, c)| **c > 0) {
                    b.add_latency(hour_of(*k), t, m, n, bucket, c as u64)?;
                }
            }
            for (hour, h) in &cube.lat_hours {
                for (bucket, &c) in h.iter().enumerate().filter(|(_, c)| **c > 0) {
                    b.add_latency(*hour, "", "", "", bucket, c)?;
                }
            }
        }
        b.finish()
    }

    /// The text keys of a cell key: terminal, merchant, name, code (code 0 of an empty cube
    /// dictionary reads as "").
    fn keys_of(&self, k: u128) -> [&str; 4] {
        let code = self
            .codes
            .get(Dim::Code.get(k) as usize)
            .map_or("", |c| &**c);
        [
            &self.terminals[Dim::Terminal.get(k) as usize],
            &self.merchants[Dim::Merchant.get(k) as usize],
            &self.names[Dim::MerchantName.get(k) as usize],
            code,
        ]
    }

    /// The cube as Parquet bytes, with the time zone its hours were cut in (a constant
    /// column, so the file stands alone).
    pub fn to_parquet(&self, tz: Tz) -> Result<Vec<u8>> {
        // Cells first, then the histogram rows (docs/cube.md): a row per non-empty bucket.
        let mut keys: Vec<[&str; 4]> = self.cells.iter().map(|(k, _)| self.keys_of(*k)).collect();
        let mut hours: Vec<i64> = self.cells.iter().map(|(k, _)| hour_of(*k)).collect();
        let mut sums: Vec<Sums> = self.cells.iter().map(|(_, s)| *s).collect();
        let mut buckets: Vec<Option<i32>> = vec![None; self.cells.len()];
        let mut counts: Vec<i64> = vec![0; self.cells.len()];
        for (k, h) in &self.lat_days {
            let [t, m, n, _] = self.keys_of(*k);
            for (b, &c) in h.iter().enumerate().filter(|(_, c)| **c > 0) {
                keys.push([t, m, n, ""]);
                hours.push(hour_of(*k));
                sums.push(Sums::default());
                buckets.push(Some(b as i32));
                counts.push(c as i64);
            }
        }
        for (hour, h) in &self.lat_hours {
            for (b, &c) in h.iter().enumerate().filter(|(_, c)| **c > 0) {
                keys.push(["", "", "", ""]);
                hours.push(*hour);
                sums.push(Sums::default());
                buckets.push(Some(b as i32));
                counts.push(c as i64);
            }
        }
        // The issuer table (version 3): a row per (hour, BIN, code, terminal); totals have an
        // empty code and terminal.
        let before_issuers = keys.len();
        let mut issuer_bins: Vec<Option<String>> = vec![None; before_issuers];
        let mut issuer_counts: Vec<i64> = vec![0; before_issuers];
        for (h, bin, code, term, n) in self.issuer_rows() {
            keys.push([term.unwrap_or(""), "", "", code.unwrap_or("")]);
            hours.push(h);
            sums.push(Sums::default());
            buckets.push(None);
            counts.push(0);
            issuer_bins.push(Some(issuers::bin_text(bin)));
            issuer_counts.push(n as i64);
        }
        let n = keys.len();
        let text = |i: usize| keys.iter().map(|k| k[i]).collect::<Vec<&str>>();
        let int = |f: fn(&Sums) -> i64| sums.iter().map(f).collect::<Vec<i64>>();
        // Version 3: each cell row carries its terminal's attributes as last seen (dictionary
        // encoded by Parquet, so a repeated model costs next to nothing).
        let seen: Vec<Option<&attrs::Seen>> = (0..n)
            .map(|i| {
                (i < self.cells.len())
                    .then(|| self.attrs.get(keys[i][0]))
                    .flatten()
            })
            .collect();
        let attr = |f: fn(&attrs::TerminalAttrs) -> &str| {
            seen.iter()
                .map(|s| s.map_or("", |s| f(&s.attrs)))
                .collect::<Vec<&str>>()
        };
        let attrs_seen: Vec<Option<i64>> = seen.iter().map(|s| s.map(|s| s.at)).collect();
        let mut df = DataFrame::new(
            n,
            vec![
                Column::new(TERMINAL.into(), text(0)),
                Column::new(MERCHANT.into(), text(1)),
                Column::new(MERCHANT_NAME.into(), text(2)),
                Column::new(HOUR.into(), std::mem::take(&mut hours)),
                Column::new(CODE.into(), text(3)),
                Column::new(COUNT.into(), int(|s| s.transactions as i64)),
                Column::new(AMOUNT.into(), int(|s| s.amount_minor)),
                Column::new(TIME_ZONE.into(), vec![tz.name(); n]),
                Column::new(PURCHASES.into(), int(|s| s.purchases as i64)),
                Column::new(LOST_PURCHASES.into(), int(|s| s.lost_purchases as i64)),
                Column::new(LOST_AMOUNT.into(), int(|s| s.lost_amount_minor)),
                Column::new(CHIP_READS.into(), int(|s| s.chip_reads as i64)),
                Column::new(FALLBACKS.into(), int(|s| s.fallbacks as i64)),
                Column::new(CONTACTLESS.into(), int(|s| s.contactless as i64)),
                Column::new(SWIPES.into(), int(|s| s.swipes as i64)),
                Column::new(KEYED.into(), int(|s| s.keyed as i64)),
                Column::new(LATENCY_BUCKET.into(), std::mem::take(&mut buckets)),
                Column::new(LATENCY_COUNT.into(), std::mem::take(&mut counts)),
                Column::new(TERMINAL_MODEL.into(), attr(|a| &a.model)),
                Column::new(FIRMWARE_VERSION.into(), attr(|a| &a.firmware)),
                Column::new(APP_VERSION.into(), attr(|a| &a.app_version)),
                Column::new(ATTRS_SEEN.into(), attrs_seen),
                Column::new(ISSUER_BIN.into(), issuer_bins),
                Column::new(ISSUER_COUNT.into(), issuer_counts),
            ],
        )?;
        let mut buf = Vec::new();
        ParquetWriter::new(&mut buf).finish(&mut df)?;
        Ok(buf)
    }

    /// Read one cube file (docs/cube.md). Returns the cube and the zone its hours were cut in.
    pub fn from_parquet(path: &std::path::Path) -> Result<(Cube, Option<String>)> {
        let mut b = CubeBuilder::new(Tz::UTC);
        let (tz, _) = b.add_parquet(path)?;
        Ok((b.finish()?, tz))
    }

    /// Keep the hours in `[since, until)`: the analysis window for saved cubes, at hour
    /// granularity (logs are windowed per transaction at ingest).
    pub fn window(mut self, since: Option<i64>, until: Option<i64>) -> Result<Cube> {
        let inside = |h: i64| since.is_none_or(|s| h >= s) && until.is_none_or(|u| h < u);
        self.cells.retain(|(k, _)| inside(hour_of(*k)));
        // Per-terminal histograms are per local day: a day is in when it starts inside.
        self.lat_days.retain(|(k, _)| inside(hour_of(*k)));
        self.lat_hours.retain(|(h, _)| inside(*h));
        self.issuers.retain(|(k, _)| inside(k.0));
        Ok(self)
    }

    /// Drop every cell whose code `drop` picks; returns the transactions dropped.
    pub fn remove_codes(&mut self, drop: impl Fn(&str) -> bool) -> u64 {
        let gone: Vec<bool> = self.codes.iter().map(|c| drop(c)).collect();
        if !gone.contains(&true) {
            return 0;
        }
        self.issuers
            .retain(|(k, _)| k.2 == issuers::ANY || !gone[k.2 as usize]);
        let mut removed = 0;
        self.cells.retain(|(k, s)| {
            let keep = !gone[Dim::Code.get(*k) as usize];
            if !keep {
                removed += s.transactions;
            }
            keep
        });
        removed
    }

    /// Response-time histograms per (terminal, merchant) over the local days starting in
    /// `[since, until)`, sorted by terminal then merchant; only those with a response time.
    pub fn latency_by_terminal(&self, since: i64, until: i64) -> Vec<(&str, &str, Hist)> {
        let mut out: Vec<(&str, &str, Hist)> = Vec::new();
        for (k, h) in &self.lat_days {
            if !(since..until).contains(&hour_of(*k)) {
                continue;
            }
            let [t, m, _, _] = self.keys_of(*k);
            let wide: Hist = std::array::from_fn(|i| h[i] as u64);
            // Sorted by terminal, merchant, name, day: a pair's days are together.
            match out.last_mut().filter(|(t2, m2, _)| *t2 == t && *m2 == m) {
                Some((_, _, acc)) => latency::add(acc, &wide),
                None => out.push((t, m, wide)),
            }
        }
        out
    }

    /// The fleet's response-time histogram per local hour in `[since, until)`.
    pub fn latency_by_hour(&self, since: i64, until: i64) -> &[(i64, Hist)] {
        let a = self.lat_hours.partition_point(|(h, _)| *h < since);
        let b = self.lat_hours.partition_point(|(h, _)| *h < until);
        &self.lat_hours[a..b]
    }

    /// The response codes of the cube, by number ([`Cell::code_id`]).
    pub fn codes(&self) -> impl Iterator<Item = &str> {
        self.codes.iter().map(|c| &**c)
    }

    /// Number of cells.
    pub fn cells(&self) -> usize {
        self.cells.len()
    }

    /// Total transactions in the cube.
    pub fn transactions(&self) -> Result<u64> {
        Ok(self.cells.iter().map(|(_, s)| s.transactions).sum())
    }

    /// Sum transactions and amounts over every dimension not named in `keys` (any of
    /// [`TERMINAL`], [`MERCHANT`], [`MERCHANT_NAME`], [`HOUR`], [`CODE`]); rows sorted by keys.
    pub fn rollup(&self, keys: &[&str]) -> Result<Vec<Cell<'_>>> {
        Ok(self.rollup_iter(keys)?.iter().collect())
    }

    /// [`Cube::rollup`] without holding the rows: a projection that keeps the cube's order (a
    /// prefix of its key, or terminal × hour × code when each terminal has one merchant) is
    /// folded while it is walked, at no cost in memory; one that starts with the cube's first
    /// keys (terminal, …) is folded a group at a time; any other is summed in hash maps (one
    /// per core) and sorted first. Analysis walks the terminal × hour × code rollup of a big
    /// fleet (millions of rows) this way, several times, instead of keeping it; its other
    /// rollups start with the terminal where they can, so no map of the whole cube is made.
    pub fn rollup_iter(&self, keys: &[&str]) -> Result<Rollup<'_>> {
        self.rollup_hours(keys, None)
    }

    /// A rollup of the hours in `[since, until)` only.
    pub fn rollup_window(&self, keys: &[&str], since: i64, until: i64) -> Result<Rollup<'_>> {
        self.rollup_hours(keys, Some((since, until)))
    }

    fn rollup_hours(&self, keys: &[&str], hours: Option<(i64, i64)>) -> Result<Rollup<'_>> {
        if keys.len() > MAX_KEYS {
            return Err(Error::internal("cube", "too many rollup keys"));
        }
        use rayon::prelude::*;
        let dims: Vec<Dim> = keys
            .iter()
            .map(|k| Dim::from_name(k))
            .collect::<Result<_>>()?;
        // How many of the keys asked for are the cube's own first keys, in its order.
        const ORDER: [Dim; 5] = [
            Dim::Terminal,
            Dim::Merchant,
            Dim::MerchantName,
            Dim::Hour,
            Dim::Code,
        ];
        let lead = dims
            .iter()
            .zip(ORDER)
            .take_while(|(d, o)| **d == *o)
            .count();
        let walk = if lead == dims.len()
            || self
                .cells
                .par_windows(2)
                .all(|w| project(&dims, w[0].0) <= project(&dims, w[1].0))
        {
            Walk::InOrder
        } else if lead > 0 {
            Walk::Groups(lead)
        } else {
            let (since, until) = hours.unwrap_or((i64::MIN, i64::MAX));
            Walk::Sorted(self.hash_rollup(&dims, since, until))
        };
        Ok(Rollup {
            cube: self,
            dims,
            hours: hours.unwrap_or((i64::MIN, i64::MAX)),
            walk,
        })
    }

    /// A rollup summed in hash maps (one per core, over its share of the cells), sorted.
    fn hash_rollup(&self, dims: &[Dim], since: i64, until: i64) -> Vec<(u128, Wide)> {
        use rayon::prelude::*;
        if dims == [Dim::Code] {
            // Per code only (a few dozen): an array indexed by the code's number.
            let mut sums: Vec<Option<Wide>> = vec![None; self.codes.len().max(1)];
            for (k, s) in &self.cells {
                if (since..until).contains(&hour_of(*k)) {
                    sums[Dim::Code.get(*k) as usize]
                        .get_or_insert_default()
                        .add(s);
                }
            }
            return sums
                .into_iter()
                .enumerate()
                .filter_map(|(c, w)| Some((c as u128, w?)))
                .collect();
        }
        type Map = HashMap<u128, Wide, FastState>;
        let maps: Vec<Map> = self
            .cells
            .par_chunks(1 << 18)
            .map(|chunk| {
                let mut sums: Map = HashMap::with_hasher(fast_state());
                for (k, s) in chunk {
                    if (since..until).contains(&hour_of(*k)) {
                        sums.entry(project(dims, *k)).or_default().add(s);
                    }
                }
                sums
            })
            .collect();
        sort_and_fold(maps.into_iter().flatten().collect())
    }
}

/// The cube files named on the command line: files as given, directories walked for
/// `*.parquet` (recursively, in sorted order, skipping `.`/`_` names such as Spark's
/// `_SUCCESS`), and glob patterns (`cubes/2026-*.parquet`, for shells that do not expand
/// them) expanded in sorted order.
pub fn discover_cubes(args: &[std::path::PathBuf]) -> Result<Vec<std::path::PathBuf>> {
    let is_parquet = |p: &std::path::Path| {
        p.extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("parquet"))
    };
    let mut out = Vec::new();
    for arg in args {
        let text = arg.to_string_lossy();
        if !arg.exists() && text.contains(['*', '?', '[']) {
            let mut found: Vec<std::path::PathBuf> = glob::glob(&text)
                .map_err(|e| Error::Usage(format!("--cube {text}: {e}")))?
                .filter_map(|p| p.ok())
                .filter(|p| p.is_file())
                .collect();
            if found.is_empty() {
                return Err(Error::Usage(format!("--cube {text}: no file matches")));
            }
            found.sort();
            out.extend(found);
        } else if arg.is_dir() {
            let before = out.len();
            crate::ingest::walk_files(arg, &['.', '_'], &is_parquet, &mut out)?;
            if out.len() == before {
                return Err(Error::Usage(format!(
                    "--cube {text}: no .parquet file in this folder"
                )));
            }
        } else {
            out.push(arg.clone());
        }
    }
    Ok(out)
}

/// Rows of a cube file decoded at a time.
const CUBE_SLICE_ROWS: usize = 1 << 20;

const HOUR_TYPE: &str = "INT64 (epoch seconds of the local hour's start)";
const AMOUNT_TYPE: &str = "INT64 (minor units)";

/// The columns of a version-1 cube (docs/cube.md) and their types, for messages.
/// The columns version 2 adds (docs/cube.md); each may be missing (version 1).
const V2_COLUMNS: [&str; 16] = [
    ISSUER_BIN,
    ISSUER_COUNT,
    TERMINAL_MODEL,
    FIRMWARE_VERSION,
    APP_VERSION,
    ATTRS_SEEN,
    PURCHASES,
    LOST_PURCHASES,
    LOST_AMOUNT,
    CHIP_READS,
    FALLBACKS,
    CONTACTLESS,
    SWIPES,
    KEYED,
    LATENCY_BUCKET,
    LATENCY_COUNT,
];

const CUBE_COLUMNS: [(&str, &str); 8] = [
    (TERMINAL, "string"),
    (MERCHANT, "string"),
    (MERCHANT_NAME, "string"),
    (HOUR, HOUR_TYPE),
    (CODE, "string"),
    (COUNT, "INT64"),
    (AMOUNT, AMOUNT_TYPE),
    (TIME_ZONE, "string"),
];

fn missing_column(name: &str, what: &str) -> String {
    format!(
        "not a poslens cube: column {name} ({what}) is missing (the columns are in docs/cube.md; `poslens cube-sql` writes the SQL that makes them)"
    )
}

fn wrong_type(name: &str, found: &DataType, what: &str) -> String {
    format!("not a poslens cube: column {name} is {found}, expected {what} (docs/cube.md)")
}

fn no_nulls(name: &str, nulls: usize) -> std::result::Result<(), String> {
    match nulls {
        0 => Ok(()),
        n => Err(format!(
            "column {name} has {n} null value(s): a cube cell has every key (use '' for no merchant)"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn txn(ts: i64, term: &str, code: &str, amount: i64) -> Txn {
        Txn {
            ts,
            terminal_id: term.into(),
            merchant_id: "M1".into(),
            merchant_name: "Shop".into(),
            response_code: code.into(),
            amount_minor: Some(amount),
        }
    }

    fn build(txns: &[Txn], tz: &str) -> Cube {
        let mut b = CubeBuilder::new(tz.parse().unwrap());
        for t in txns {
            b.push(t.clone()).unwrap();
        }
        b.finish().unwrap()
    }

    #[test]
    fn counts_and_amounts_per_cell() {
        let c = build(
            &[
                txn(3600 * 10 + 5, "T1", "00", 100),
                txn(3600 * 10 + 50, "T1", "00", 250),
                txn(3600 * 11, "T1", "05", 10),
                txn(3600 * 10, "T2", "00", 1),
            ],
            "UTC",
        );
        assert_eq!(c.cells(), 3);
        assert_eq!(c.transactions().unwrap(), 4);
        let by = c.rollup(&[TERMINAL, HOUR, CODE]).unwrap();
        assert_eq!(
            (by[0].terminal(), by[0].hour(), by[0].code()),
            ("T1", 36000, "00")
        );
        assert_eq!((by[0].transactions, by[0].amount_minor), (2, 350));
    }

    #[test]
    fn a_cell_past_u16_rows_in_one_builder_keeps_every_count() {
        // 150,000 rows of one terminal, hour and code in one builder: its in-hour counts
        // are u16, so the cell moves whole to the flat list twice and starts again.
        let mut b = CubeBuilder::new(Tz::UTC);
        for i in 0..150_000i64 {
            b.add_row(&Row {
                ts: 3600 * 5 + i % 3600,
                terminal: "T1",
                merchant: "M1",
                name: "",
                code: "00",
                amount_minor: 2,
                purchase: None,
                entry: Some(if i % 3 == 0 {
                    EntryMode::Contactless
                } else {
                    EntryMode::Keyed
                }),
                attrs: None,
                bin: None,
                latency_ms: None,
                in_window: true,
            })
            .unwrap();
        }
        let c = b.finish().unwrap();
        assert_eq!(c.cells(), 1);
        let cell = c.rollup(&[TERMINAL, HOUR, CODE]).unwrap()[0];
        assert_eq!(cell.transactions, 150_000);
        assert_eq!(cell.amount_minor, 300_000);
        assert_eq!(
            (cell.contactless, cell.chip_reads, cell.keyed),
            (50_000, 50_000, 100_000)
        );
    }

    #[test]
    fn a_terminal_moving_between_merchants_keeps_each_cell_apart() {
        // Ids of every packed length (tiny, short, long), and a terminal that goes back and
        // forth between two merchants and names within one hour.
        let long = "TERMINAL-ID-LONGER-THAN-15";
        let mut rows = Vec::new();
        for (i, (term, merchant, name)) in [
            ("T1", "M1", "Shop"),
            ("T1", "M2", "Shop"),
            ("T1", "M1", "Shop 2"),
            ("T1", "M1", "Shop"),
            ("TERM0001", "M1", "Shop"),
            (long, "M1", "Shop"),
            (long, "MERCHANT-ID-0000000001", "Shop"),
            ("T1", "M2", "Shop"),
        ]
        .into_iter()
        .enumerate()
        {
            let mut t = txn(60 * i as i64, term, "00", 1 + i as i64);
            t.merchant_id = merchant.into();
            t.merchant_name = name.into();
            rows.push(t);
        }
        let c = build(&rows, "UTC");
        let got: Vec<(String, String, String, u64, i64)> = c
            .rollup(&[TERMINAL, MERCHANT, MERCHANT_NAME])
            .unwrap()
            .iter()
            .map(|x| {
                (
                    x.terminal().to_string(),
                    x.merchant().to_string(),
                    x.merchant_name().to_string(),
                    x.transactions,
                    x.amount_minor,
                )
            })
            .collect();
        let want = [
            ("T1", "M1", "Shop", 2, 1 + 4),
            ("T1", "M1", "Shop 2", 1, 3),
            ("T1", "M2", "Shop", 2, 2 + 8),
            ("TERM0001", "M1", "Shop", 1, 5),
            (long, "M1", "Shop", 1, 6),
            (long, "MERCHANT-ID-0000000001", "Shop", 1, 7),
        ]
        .map(|(a, b, c, n, s)| (a.to_string(), b.to_string(), c.to_string(), n, s));
        assert_eq!(got, want);
    }

    #[test]
    fn rollups_sort_by_the_asked_keys_as_strings() {
        // Interned in the order T9, T10, T1; rolled up in string order.
        let c = build(
            &[
                txn(7200, "T9", "91", 1),
                txn(0, "T10", "00", 2),
                txn(3600, "T1", "05", 3),
                txn(0, "T1", "00", 4),
            ],
            "UTC",
        );
        let by = c.rollup(&[CODE, TERMINAL]).unwrap();
        let keys: Vec<(String, String)> = by
            .iter()
            .map(|c| (c.code().into(), c.terminal().into()))
            .collect();
        assert_eq!(
            keys,
            [("00", "T1"), ("00", "T10"), ("05", "T1"), ("91", "T9")]
                .map(|(a, b)| (a.to_string(), b.to_string()))
        );
        let hours: Vec<i64> = c
            .rollup(&[HOUR])
            .unwrap()
            .iter()
            .map(|c| c.hour())
            .collect();
        assert_eq!(hours, [0, 3600, 7200]);
        assert_eq!(c.rollup(&[]).unwrap()[0].transactions, 4);
    }

    #[test]
    fn spreading_rows_over_builders_does_not_change_the_cube() {
        let txns: Vec<Txn> = (0..200)
            .map(|i| {
                txn(
                    i * 977 % 86400 - 40000,
                    ["T1", "T2", "T3"][i as usize % 3],
                    ["00", "05", "91"][i as usize % 2],
                    i,
                )
            })
            .collect();
        let whole_cube = build(&txns, "UTC");
        let whole = whole_cube.rollup(&KEYS[1..]).unwrap();
        for parts in [2, 3, 17] {
            let mut bs: Vec<CubeBuilder> = (0..parts).map(|_| CubeBuilder::new(Tz::UTC)).collect();
            for (i, t) in txns.iter().enumerate() {
                bs[(i * 7) % parts].push(t.clone()).unwrap();
            }
            let cube = Cube::from_builders(bs).unwrap();
            assert_eq!(cube.rollup(&KEYS[1..]).unwrap(), whole, "{parts} builders");
            assert_eq!(
                cube.rollup(&KEYS[..4]).unwrap(),
                whole_cube.rollup(&KEYS[..4]).unwrap()
            );
        }
    }

    #[test]
    fn parquet_round_trip_keeps_every_cell() {
        let c = build(
            &[txn(0, "T1", "00", 5), txn(3600, "T2", "9997", 7)],
            "Asia/Kolkata",
        );
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("c.parquet");
        std::fs::write(&p, c.to_parquet("Asia/Kolkata".parse().unwrap()).unwrap()).unwrap();
        let (back, tz) = Cube::from_parquet(&p).unwrap();
        assert_eq!(tz.as_deref(), Some("Asia/Kolkata"));
        assert_eq!(
            back.rollup(&KEYS[1..]).unwrap(),
            c.rollup(&KEYS[1..]).unwrap()
        );
    }

    #[test]
    fn hours_follow_half_hour_zones() {
        // India is UTC+05:30: 10:10 UTC is 15:40 local, whose hour starts at 09:30 UTC.
        let c = build(&[txn(36600, "T1", "00", 1)], "Asia/Kolkata");
        let cells = c.rollup(&[HOUR]).unwrap();
        assert_eq!(cells[0].hour(), 34200);
    }

    #[test]
    fn merge_equals_building_at_once() {
        let a = [txn(0, "T1", "00", 1), txn(10, "T2", "05", 2)];
        let b = [txn(20, "T1", "00", 3), txn(7200, "T1", "91", 4)];
        let all: Vec<Txn> = a.iter().chain(b.iter()).cloned().collect();
        let merged = build(&a, "UTC").merge(build(&b, "UTC")).unwrap();
        let whole = build(&all, "UTC");
        assert_eq!(
            merged.rollup(&KEYS[1..]).unwrap(),
            whole.rollup(&KEYS[1..]).unwrap()
        );
    }

    #[test]
    fn window_keeps_hours_in_range() {
        let c = build(
            &[
                txn(0, "T1", "00", 1),
                txn(3600, "T1", "00", 1),
                txn(7200, "T1", "00", 1),
            ],
            "UTC",
        )
        .window(Some(3600), Some(7200))
        .unwrap();
        assert_eq!(c.transactions().unwrap(), 1);
    }
}
