//! Ingest: every input file becomes a stream of clean transactions, a list of rejects, and a
//! reconciliation that accounts for every row.
//!
//! ```text
//! path ─ walk ─ hash+count ─ gunzip? ─ detect format ─ reader ─ Items ─ validate ─ dedupe ─ Txn
//!                                                  (csv/jsonl/jpos/parquet)   └─ Reject
//! ```
//!
//! Readers only split input into [`schema::Item`]s with raw text per canonical field; this
//! module validates them (timestamp, terminal, code), masks card data, drops repeated
//! `txn_id`s, and keeps `rows_read = rows_accepted + rows_rejected + rows_duplicate` per input.

pub mod csv;
pub mod decode;
pub mod excel;
pub mod inventory;
pub mod jpos;
pub mod jsonl;
#[cfg(test)]
mod mutate;
pub mod normalize;
pub mod parquet;
pub mod rejects;
pub mod schema;

use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::rc::Rc;

use serde::Serialize;

use crate::config::{Format, IngestConfig};
use crate::cube::{Cube, CubeBuilder};
use crate::error::{Error, Result};
use decode::{Hashing, Transcoder};
use normalize::{
    mask_pan, masked_excerpt, normalize_code_ref, parse_amount, parse_date_time, parse_timestamp,
    scrub_pans,
};
use schema::{Field, FieldSource, Item};

/// One clean transaction, as the cube needs it. Card data is not carried past ingest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Txn {
    /// Epoch seconds (UTC).
    pub ts: i64,
    pub terminal_id: String,
    pub merchant_id: String,
    pub merchant_name: String,
    pub response_code: String,
    /// Integer minor units; None when the input had no (valid) amount.
    pub amount_minor: Option<i64>,
}

/// Reconciliation of one input file (manifest.json `inputs[]`).
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct InputSummary {
    pub path: String,
    pub format: Option<Format>,
    pub sha256: String,
    pub bytes: u64,
    pub rows_read: u64,
    pub rows_accepted: u64,
    pub rows_rejected: u64,
    pub rows_duplicate: u64,
    /// Accepted rows outside `--since/--until`: valid, but not analysed.
    pub rows_outside_window: u64,
    /// Log events that are not transactions (jPOS requests, session events).
    pub events_skipped: u64,
    /// One-digit codes read as two digits (`5` → `05`).
    pub codes_padded: u64,
    /// Accepted rows whose amount could not be read (counted without an amount).
    pub amounts_invalid: u64,
    /// Response codes that came with their text (`05-Do not honour`): the code was taken,
    /// the text dropped.
    pub codes_with_text: u64,
    /// Accepted rows with a negative amount (refunds): counted as transactions, their
    /// amount kept out of the amount sums.
    pub amounts_negative: u64,
    /// The currency of the accepted rows with an amount, when they all have the same one: the
    /// reports then write amounts with its symbol (`¥`). Not in the manifest.
    #[serde(skip)]
    pub currency: Currency,
    /// jPOS card requests that got no response within the reader's timeout: each is a row
    /// with code `NO_RESPONSE` (issue 12).
    pub requests_unanswered: u64,
    /// jPOS card requests still waiting for their response when the log ended, before their
    /// timeout: skipped events, not failures.
    pub requests_pending_at_end: u64,
    /// jPOS reversal requests (0400, 0420, repeats, 1993 forms), each counted once.
    pub reversals: u64,
    /// Of those, the ones whose original transaction was found earlier in the log.
    pub reversals_linked: u64,
    /// Rows the catalog classes `terminal`, kept with their place in the file: the evidence
    /// behind a flagged terminal (`csv/evidence.csv`). Not in the manifest.
    #[serde(skip)]
    pub evidence: Vec<EvidenceRow>,
}

/// A terminal-class row and where it is: what a technician checks behind a flag.
#[derive(Debug, Clone, Default, PartialEq, Eq, PartialOrd, Ord)]
pub struct EvidenceRow {
    pub terminal_id: String,
    pub file: String,
    pub line: u64,
    /// Epoch seconds.
    pub ts: i64,
    pub response_code: String,
}

/// The currencies of a set of rows.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Currency {
    #[default]
    None,
    One(String),
    Mixed,
}

impl Currency {
    fn see(&mut self, c: &str) {
        match self {
            Currency::None => *self = Currency::One(c.to_string()),
            Currency::One(seen) if seen != c => *self = Currency::Mixed,
            _ => {}
        }
    }

    fn merge(&mut self, o: &Currency) {
        match o {
            Currency::None => {}
            Currency::One(c) => self.see(c),
            Currency::Mixed => *self = Currency::Mixed,
        }
    }

    /// The one currency, if there is one.
    pub fn single(&self) -> Option<&str> {
        match self {
            Currency::One(c) => Some(c),
            _ => None,
        }
    }
}

pub use rejects::{Reject, RejectLog};

/// Everything ingest learned besides the transactions themselves.
#[derive(Debug, Default)]
pub struct IngestOutcome {
    pub inputs: Vec<InputSummary>,
    pub rejects: RejectLog,
}

impl IngestOutcome {
    /// Totals over all inputs.
    pub fn totals(&self) -> InputSummary {
        let mut t = InputSummary::default();
        for i in &self.inputs {
            t.bytes += i.bytes;
            t.rows_read += i.rows_read;
            t.rows_accepted += i.rows_accepted;
            t.rows_rejected += i.rows_rejected;
            t.rows_duplicate += i.rows_duplicate;
            t.rows_outside_window += i.rows_outside_window;
            t.events_skipped += i.events_skipped;
            t.codes_padded += i.codes_padded;
            t.amounts_invalid += i.amounts_invalid;
            t.codes_with_text += i.codes_with_text;
            t.amounts_negative += i.amounts_negative;
            t.currency.merge(&i.currency);
            t.requests_unanswered += i.requests_unanswered;
            t.requests_pending_at_end += i.requests_pending_at_end;
            t.reversals += i.reversals;
            t.reversals_linked += i.reversals_linked;
        }
        t
    }

    /// Reject counts per reason kind, most frequent first.
    pub fn reasons(&self) -> Vec<(String, u64)> {
        self.rejects.reasons()
    }
}

/// Extensions picked up when walking a directory (after an optional `.gz`).
const DATA_EXTENSIONS: &[&str] = &[
    "csv", "tsv", "tab", "txt", "jsonl", "ndjson", "json", "xml", "log", "parquet", "xlsx", "xlsm",
    "xls",
];

/// Expand inputs: files as given, directories walked recursively in sorted order (hidden
/// entries and files of other kinds skipped).
pub fn discover(inputs: &[PathBuf]) -> Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    for input in inputs {
        let meta = std::fs::metadata(input).map_err(|source| Error::Open {
            path: input.clone(),
            source,
        })?;
        if meta.is_dir() {
            walk(input, &mut files)?;
        } else {
            files.push(input.clone());
        }
    }
    Ok(files)
}

fn walk(dir: &Path, files: &mut Vec<PathBuf>) -> Result<()> {
    walk_files(dir, &['.'], &is_data_file, files)
}

/// The files under `dir` that `keep` wants, recursively in sorted order; entries whose name
/// starts with one of `skip` (hidden files, Spark's `_SUCCESS` and `_temporary`) are passed
/// over.
pub(crate) fn walk_files(
    dir: &Path,
    skip: &[char],
    keep: &dyn Fn(&Path) -> bool,
    files: &mut Vec<PathBuf>,
) -> Result<()> {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|source| Error::Open {
            path: dir.into(),
            source,
        })?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            !p.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with(skip))
        })
        .collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            walk_files(&p, skip, keep, files)?;
        } else if keep(&p) {
            files.push(p);
        }
    }
    Ok(())
}

fn is_data_file(p: &Path) -> bool {
    let name = p
        .file_name()
        .map(|n| n.to_string_lossy().to_lowercase())
        .unwrap_or_default();
    // `~$book.xlsx` is the lock file Excel leaves beside an open workbook, not data.
    if name.starts_with("~$") {
        return false;
    }
    let name = name.strip_suffix(".gz").unwrap_or(&name);
    name.rsplit_once('.')
        .is_some_and(|(_, ext)| DATA_EXTENSIONS.contains(&ext))
}

/// Guess the format from the first bytes of the (decompressed) content, then the file name.
fn detect_format(path: &Path, head: &[u8]) -> Format {
    if head.starts_with(b"PAR1") {
        return Format::Parquet;
    }
    // Excel by name before the content sniff below: portals hand out `.xls` files that are
    // really HTML (`<table>`), and those must reach the Excel reader to be named as such,
    // not be read as a jPOS log.
    if let Some(f) = excel::detect(path, head) {
        return f;
    }
    let body = head.strip_prefix(b"\xef\xbb\xbf").unwrap_or(head);
    match body.iter().find(|b| !b.is_ascii_whitespace()) {
        Some(b'<') => return Format::Jpos,
        Some(b'{') => return Format::Jsonl,
        _ => {}
    }
    let name = path.to_string_lossy().to_lowercase();
    let name = name.strip_suffix(".gz").unwrap_or(&name);
    if name.ends_with(".tsv") || name.ends_with(".tab") {
        Format::Tsv
    } else {
        Format::Csv
    }
}

/// Read every input into a cube (when `build_cube`), accounting for every row.
///
/// Files are read one after the other, in the order given; an uncompressed or gzip CSV/TSV
/// file is cut into chunks that all cores parse at once (see [`read_csv`]), the other formats
/// are read on one thread. Each thread folds its rows into its own [`CubeBuilder`]; they are
/// added up at the end, so the cube does not depend on the number of threads.
pub fn ingest(cfg: &IngestConfig, build_cube: bool) -> Result<(IngestOutcome, Cube)> {
    let files = discover(&cfg.inputs)?;
    let mut outcome = IngestOutcome::default();
    let dedup = Dedup::new();
    let threads = rayon::current_num_threads().max(1);
    let mut builders: Vec<CubeBuilder> = (0..threads)
        .map(|_| CubeBuilder::new(cfg.tz).with_retry_rule(cfg.retry.clone()))
        .collect();
    let bar = progress_bar(&files);
    for path in &files {
        let ctx = Accept {
            cfg,
            dedup: &dedup,
            amount_minor: false,
            decimal_comma: false,
            build_cube,
        };
        let summary = ingest_file(ctx, path, &mut outcome.rejects, bar.clone(), &mut builders)?;
        outcome.inputs.push(summary);
    }
    if let Some(b) = bar {
        b.finish_and_clear();
    }
    drop(dedup);
    let cube = Cube::from_builders(builders)?;
    Ok((outcome, cube))
}

/// A byte-based progress bar on stderr for inputs over 16 MiB; indicatif draws nothing when
/// stderr is not a terminal, so logs and pipes stay clean.
fn progress_bar(files: &[PathBuf]) -> Option<indicatif::ProgressBar> {
    let total: u64 = files
        .iter()
        .filter_map(|f| std::fs::metadata(f).ok())
        .map(|m| m.len())
        .sum();
    if total < 16 << 20 {
        return None;
    }
    let bar = indicatif::ProgressBar::with_draw_target(
        Some(total),
        indicatif::ProgressDrawTarget::stderr(),
    );
    if let Ok(style) = indicatif::ProgressStyle::with_template(
        "reading {bar:40} {bytes}/{total_bytes} ({bytes_per_sec}, {eta} left)",
    ) {
        bar.set_style(style);
    }
    Some(bar)
}

/// Row counts of one input, added up across threads.
#[derive(Debug, Default, Clone)]
struct Counts {
    read: u64,
    accepted: u64,
    rejected: u64,
    duplicate: u64,
    outside_window: u64,
    codes_padded: u64,
    amounts_invalid: u64,
    codes_with_text: u64,
    amounts_negative: u64,
    /// The highest line seen (for the truncated-gzip reject).
    last_line: u64,
    currency: Currency,
    /// Terminal-class rows: (terminal, line, instant, code); the file is the input's.
    evidence: Vec<(String, u64, i64, String)>,
    /// The catalog's answer per code seen (a chunk has a handful of codes, a catalog look-up
    /// costs more than a hash of two bytes).
    evidence_codes: std::collections::HashMap<String, bool, crate::cube::FastState>,
}

impl Counts {
    fn add(&mut self, o: &Counts) {
        self.read += o.read;
        self.accepted += o.accepted;
        self.rejected += o.rejected;
        self.duplicate += o.duplicate;
        self.outside_window += o.outside_window;
        self.codes_padded += o.codes_padded;
        self.amounts_invalid += o.amounts_invalid;
        self.codes_with_text += o.codes_with_text;
        self.amounts_negative += o.amounts_negative;
        self.last_line = self.last_line.max(o.last_line);
        self.currency.merge(&o.currency);
        self.evidence.extend(o.evidence.iter().cloned());
    }

    fn into_summary(self, s: &mut InputSummary) {
        s.rows_read += self.read;
        s.rows_accepted += self.accepted;
        s.rows_rejected += self.rejected;
        s.rows_duplicate += self.duplicate;
        s.rows_outside_window += self.outside_window;
        s.codes_padded += self.codes_padded;
        s.amounts_invalid += self.amounts_invalid;
        s.codes_with_text += self.codes_with_text;
        s.amounts_negative += self.amounts_negative;
        s.currency.merge(&self.currency);
        let file = s.path.clone();
        s.evidence.extend(
            self.evidence
                .into_iter()
                .map(|(t, line, ts, code)| EvidenceRow {
                    terminal_id: t,
                    file: file.clone(),
                    line,
                    ts,
                    response_code: code,
                }),
        );
    }
}

/// The transactions seen so far, for duplicate detection (see [`dedup_key`]).
///
/// Sharded by the minute of the transaction (modulo [`DEDUP_SLOTS`], 45 days of minutes), so
/// that a 64-bit fingerprint only has to be unique among the rows of one minute, and so that
/// the rows the threads read at one time — a time-ordered export, cut in chunks of a few hours
/// per thread — fall into a few small sets that stay in the CPU cache however big the fleet
/// is. Sharding by hour put a whole hour's rows of a 19,000-terminal fleet (120k keys, 1 MB of
/// table) under random access and made 30M rows 10% slower per row than 10M. Each thread
/// works on other minutes than the other's, so the locks are not contended.
///
/// Memory: about 12 bytes per row that has a `txn_id` (8-byte fingerprint plus hash-table
/// control byte, tables at most 7/8 full and grown by doubling), plus 2.6 MB of empty slots;
/// measured peak of `validate` (which holds nothing else): see README "Performance". Rows
/// without a `txn_id` cost nothing.
struct Dedup {
    slots: Vec<std::sync::Mutex<std::collections::HashSet<u64, crate::cube::KeyIsHash>>>,
}

/// Minutes of [`Dedup`] slots: 45.5 days. Data spanning longer shares slots between minutes
/// that are a multiple of this apart, which only makes those sets bigger.
const DEDUP_SLOTS: usize = 1 << 16;

impl Dedup {
    fn new() -> Dedup {
        Dedup {
            slots: (0..DEDUP_SLOTS)
                .map(|_| {
                    std::sync::Mutex::new(std::collections::HashSet::with_hasher(
                        crate::cube::KeyIsHash,
                    ))
                })
                .collect(),
        }
    }

    /// Record a transaction; false if it was seen before.
    fn insert(&self, ts: i64, key: u64) -> bool {
        let minute = ts.div_euclid(60).rem_euclid(DEDUP_SLOTS as i64) as usize;
        let mut set = match self.slots[minute].lock() {
            Ok(s) => s,
            Err(poisoned) => poisoned.into_inner(),
        };
        set.insert(key)
    }
}

/// The identity of a transaction for duplicate detection: the same row exported twice.
///
/// A repeated `txn_id` alone does not make a duplicate: terminals reset their trace number
/// (STAN) at every batch close and STANs wrap at 999999, so the same number comes back on the
/// same terminal on another day. The key is every field that describes the transaction as
/// written — terminal, `txn_id`, timestamp text, response code text, amount and currency
/// text, merchant id and name — so an overlapping re-export (byte-identical rows) is counted
/// once and two real transactions never collapse. Because the key holds everything the cube
/// records, which copy of a duplicate is kept cannot change any output. When the date is in
/// a column of its own, it is part of the key too (the time alone repeats every day).
fn dedup_key<F: FieldSource>(f: &F, txn_id: &str) -> u64 {
    use std::hash::BuildHasher;
    let get = |field| f.get(field).unwrap_or("");
    let hasher = foldhash::quality::FixedState::with_seed(0x0005_ca1e_d0d0);
    let key = (
        get(Field::TerminalId),
        txn_id,
        get(Field::Timestamp),
        get(Field::ResponseCode),
        get(Field::Amount),
        get(Field::Currency),
        get(Field::MerchantId),
        get(Field::MerchantName),
    );
    match f.get(Field::Date) {
        None => hasher.hash_one(key),
        Some(date) => hasher.hash_one((key, date)),
    }
}

/// The alphabetic ISO 4217 code of the currencies host logs give by number (jPOS field 49:
/// `156`), so a CSV export in `CNY` and a host log in `156` are one currency.
fn alpha_currency(c: &str) -> &str {
    match c {
        "156" => "CNY",
        "840" => "USD",
        "978" => "EUR",
        "826" => "GBP",
        "392" => "JPY",
        "344" => "HKD",
        other => other,
    }
}

/// Whether the row is a reversal message (jPOS MTI 0400/0410/0420/0430, 14xx).
fn is_reversal<F: FieldSource>(f: &F) -> bool {
    f.get(Field::TxnType)
        .is_some_and(|t| t.len() == 4 && (t.starts_with("04") || t.starts_with("14")))
}

/// What every thread needs to judge a row.
#[derive(Clone, Copy)]
struct Accept<'c> {
    cfg: &'c IngestConfig,
    dedup: &'c Dedup,
    /// jPOS amounts are in minor units already.
    amount_minor: bool,
    /// `12,50` is twelve and a half: the file is `;`-separated (a European export).
    decimal_comma: bool,
    build_cube: bool,
}

impl Accept<'_> {
    /// Validate one candidate row, drop it if it is a duplicate, fold it into the cube.
    /// Returns the reject reason when the row cannot be used.
    fn row<F: FieldSource>(
        &self,
        f: &F,
        line: u64,
        counts: &mut Counts,
        cube: &mut CubeBuilder,
    ) -> Result<Option<String>> {
        counts.read += 1;
        let v = match validate(f, self.cfg, self.amount_minor, self.decimal_comma) {
            Ok(v) => v,
            Err(reason) => {
                counts.rejected += 1;
                return Ok(Some(reason));
            }
        };
        if let Some(id) = f.get(Field::TxnId) {
            if !self.dedup.insert(v.ts, dedup_key(f, id)) {
                counts.duplicate += 1;
                return Ok(None);
            }
        }
        counts.accepted += 1;
        counts.codes_padded += v.code_padded as u64;
        counts.amounts_invalid += v.amount_invalid as u64;
        counts.codes_with_text += v.code_text_dropped as u64;
        // Refunds are transactions of their type (their code is counted like any other),
        // but their amount is money going back: it stays out of the amount sums, which are
        // what was charged.
        let amount = match v.amount_minor {
            Some(a) if a < 0 => {
                counts.amounts_negative += 1;
                0
            }
            a => a.unwrap_or(0),
        };
        let in_window =
            self.cfg.since.is_none_or(|s| v.ts >= s) && self.cfg.until.is_none_or(|u| v.ts < u);
        if let (Some(c), Some(_)) = (f.get(Field::Currency), v.amount_minor) {
            // One compare of a few bytes per row once the first currency is known.
            let c = alpha_currency(normalize::trim_fast(c));
            if counts.currency.single() != Some(c) {
                counts.currency.see(c);
            }
        }
        if !in_window {
            counts.outside_window += 1;
        }
        // Most rows approve (`00`): no look-up for them.
        let is_fault = |counts: &mut Counts, rule: &crate::config::CodeRule| {
            let code: &str = &v.response_code;
            match counts.evidence_codes.get(code) {
                Some(&f) => f,
                None => {
                    let f = (rule.0)(code);
                    counts.evidence_codes.insert(code.to_string(), f);
                    f
                }
            }
        };
        if in_window
            && v.response_code != "00"
            && self
                .cfg
                .evidence
                .as_ref()
                .is_some_and(|rule| is_fault(counts, rule))
        {
            counts.evidence.push((
                v.terminal_id.to_string(),
                line,
                v.ts,
                v.response_code.to_string(),
            ));
        }
        // A row up to one retry window after `--until` may still be a retry of a purchase
        // inside: kept as an attempt only (see cube/purchases.rs).
        let retry = self.cfg.retry.as_ref();
        let just_after = !in_window
            && retry.is_some_and(|r| {
                self.cfg
                    .until
                    .is_some_and(|u| v.ts >= u && v.ts - u <= r.window)
            });
        if self.build_cube && (in_window || just_after) {
            let purchase = match (retry, v.amount_minor) {
                // A reversal (MTI 04xx/14xx) undoes a payment: it is not a purchase.
                (Some(_), Some(a)) if a > 0 && !is_reversal(f) => {
                    Some(crate::cube::PurchaseParts {
                        amount_minor: a,
                        currency: normalize::trim_fast(f.get(Field::Currency).unwrap_or("")),
                        card: f.get(Field::Pan).map_or(0, normalize::card_print),
                    })
                }
                _ => None,
            };
            if in_window || purchase.is_some() {
                cube.add_row(&crate::cube::Row {
                    ts: v.ts,
                    terminal: v.terminal_id,
                    merchant: v.merchant_id,
                    name: v.merchant_name,
                    code: &v.response_code,
                    amount_minor: amount,
                    purchase,
                    entry: f.get(Field::EntryMode).map(normalize::entry_mode),
                    attrs: row_attrs(f),
                    bin: f.get(Field::Pan).and_then(crate::cube::issuers::bin_of),
                    latency_ms: f
                        .get(Field::LatencyMs)
                        .and_then(normalize::parse_latency_ms),
                    in_window,
                })?;
            }
        }
        Ok(None)
    }
}

/// A row's terminal attributes, when its input has any of the columns.
fn row_attrs<F: FieldSource>(f: &F) -> Option<crate::cube::RowAttrs<'_>> {
    let (model, firmware, app_version) = (
        f.get(Field::TerminalModel),
        f.get(Field::FirmwareVersion),
        f.get(Field::AppVersion),
    );
    if model.is_none() && firmware.is_none() && app_version.is_none() {
        return None;
    }
    Some(crate::cube::RowAttrs {
        model: normalize::trim_fast(model.unwrap_or("")),
        firmware: normalize::trim_fast(firmware.unwrap_or("")),
        app_version: normalize::trim_fast(app_version.unwrap_or("")),
    })
}

/// An input file opened for reading: its content (gzip undone), whether it was gzip, the
/// flag a cut-short gzip stream sets, and the hash and size of its bytes as read.
struct Opened {
    content: Box<dyn BufRead>,
    gz: bool,
    cut: Option<Rc<std::cell::RefCell<Option<String>>>>,
    tally: Rc<std::cell::RefCell<decode::Tally>>,
}

/// Open a file through the hashing reader, and through gzip when its bytes say so.
fn open_input(path: &Path, bar: Option<indicatif::ProgressBar>) -> Result<Opened> {
    let read_err = |source| Error::Read {
        path: path.into(),
        source,
    };
    let file = File::open(path).map_err(|source| Error::Open {
        path: path.into(),
        source,
    })?;
    let (hashing, tally) = Hashing::new(file);
    let mut raw = BufReader::with_capacity(1 << 16, hashing.with_progress(bar));
    let gz = raw.fill_buf().map_err(read_err)?.starts_with(&[0x1f, 0x8b]);
    let (mut content, cut): (Box<dyn BufRead>, _) = if gz {
        let (guarded, cut) = decode::Truncation::new(flate2::bufread::MultiGzDecoder::new(raw));
        (
            Box::new(BufReader::with_capacity(1 << 16, guarded)),
            Some(cut),
        )
    } else {
        (Box::new(raw), None)
    };
    // One level of gzip is read; gzip inside gzip (a stream compressed again and again, as in
    // a decompression bomb) is refused here rather than read as garbage rows.
    if gz
        && content
            .fill_buf()
            .map_err(read_err)?
            .starts_with(&[0x1f, 0x8b])
    {
        return Err(Error::BadInput {
            path: path.into(),
            reason: "gzip inside gzip: the file was compressed more than once; decompress it to one level (gzip -dc) and read that".into(),
        });
    }
    Ok(Opened {
        content,
        gz,
        cut,
        tally,
    })
}

/// Read a JSON-lines, jPOS, Parquet or Excel input, handing each item to `on_item`.
fn read_items(
    format: Format,
    content: &mut Box<dyn BufRead>,
    path: &Path,
    cfg: &IngestConfig,
    on_item: &mut dyn FnMut(Item) -> Result<()>,
) -> Result<()> {
    match format {
        Format::Jsonl => {
            jsonl::read(content, &cfg.mapping, on_item).map_err(|e| with_path(e, path))
        }
        Format::Jpos => jpos::read(content, &cfg.mapping, on_item).map_err(|e| with_path(e, path)),
        // A workbook is a zip (or an OLE file) that needs random access: it is read into
        // memory through the hashing reader (so `.xlsx.gz` works too).
        Format::Xlsx | Format::Xls => {
            let mut bytes = Vec::new();
            content
                .read_to_end(&mut bytes)
                .map_err(|source| Error::Read {
                    path: path.into(),
                    source,
                })?;
            excel::read(bytes, path, cfg.sheet.as_deref(), &cfg.mapping, on_item)
        }
        // Parquet needs random access: read it by path (still hashed below as a stream).
        Format::Parquet => parquet::read(path, &cfg.mapping, on_item),
        other => Err(Error::internal(
            "ingest",
            format!("{other:?} is not read item by item"),
        )),
    }
}

fn ingest_file(
    mut ctx: Accept<'_>,
    path: &Path,
    rejects: &mut RejectLog,
    bar: Option<indicatif::ProgressBar>,
    builders: &mut [CubeBuilder],
) -> Result<InputSummary> {
    let cfg = ctx.cfg;
    let display = path.display().to_string();
    let Opened {
        mut content,
        gz,
        cut,
        tally,
    } = open_input(path, bar)?;
    let head = content.fill_buf().map_err(|source| Error::Read {
        path: path.into(),
        source,
    })?;
    let format = cfg.format.unwrap_or_else(|| detect_format(path, head));

    let mut summary = InputSummary {
        path: display.clone(),
        format: Some(format),
        ..Default::default()
    };
    ctx.amount_minor = format == Format::Jpos;
    let mut counts = Counts::default();
    match format {
        Format::Csv | Format::Tsv => {
            let delim = (format == Format::Tsv).then_some(b'\t');
            let file_counts = if cfg.encoding == encoding_rs::UTF_8 {
                read_csv(
                    ctx,
                    &mut content,
                    path,
                    delim,
                    csv::Decoding::Utf8,
                    rejects,
                    builders,
                )?
            } else {
                let t = Transcoder::new(&mut content, cfg.encoding);
                read_csv(
                    ctx,
                    t,
                    path,
                    delim,
                    csv::Decoding::Transcoded(cfg.encoding),
                    rejects,
                    builders,
                )?
            };
            counts.add(&file_counts);
        }
        Format::Cube => {
            return Err(Error::BadInput {
                path: path.into(),
                reason: "this is a saved cube: render it with `poslens analyze --cube FILE`".into(),
            });
        }
        Format::Parquet if gz => {
            return Err(Error::BadInput {
                path: path.into(),
                reason: "gzip-compressed Parquet is not supported (Parquet compresses its own pages): decompress it first".into(),
            });
        }
        Format::Jsonl | Format::Jpos | Format::Parquet | Format::Xlsx | Format::Xls => {
            let cube = &mut builders[0];
            let mut on_item = |item: Item| -> Result<()> {
                let (Item::Record { line, .. }
                | Item::Reject { line, .. }
                | Item::Skip { line, .. }) = &item;
                counts.last_line = counts.last_line.max(*line);
                match item {
                    Item::Skip { note, .. } => {
                        summary.events_skipped += 1;
                        match note {
                            Some(schema::Note::PendingAtEnd) => {
                                summary.requests_pending_at_end += 1;
                            }
                            Some(schema::Note::Reversal { linked }) => {
                                summary.reversals += 1;
                                summary.reversals_linked += u64::from(linked);
                            }
                            None => {}
                        }
                    }
                    Item::Reject {
                        line,
                        reason,
                        excerpt,
                    } => {
                        counts.read += 1;
                        counts.rejected += 1;
                        rejects.push(reader_reject(&display, line, &reason, &excerpt))?;
                    }
                    Item::Record { line, fields } => {
                        // In a jPOS log this row is the reader's: a request that got no
                        // response. (Elsewhere the code is just a code.)
                        if format == Format::Jpos
                            && fields.get(Field::ResponseCode) == Some(jpos::NO_RESPONSE)
                        {
                            summary.requests_unanswered += 1;
                        }
                        if let Some(reason) = ctx.row(&fields, line, &mut counts, cube)? {
                            rejects.push(Reject {
                                file: display.clone(),
                                line,
                                reason: scrub_pans(&reason),
                                excerpt: fields_excerpt(&fields),
                            })?;
                        }
                    }
                }
                Ok(())
            };
            read_items(format, &mut content, path, cfg, &mut on_item)?;
        }
    }
    let last_line = counts.last_line;
    counts.into_summary(&mut summary);

    // A gzip file cut short: everything before the cut was read; the lost tail is one reject.
    if let Some(reason) = cut.and_then(|c| c.borrow_mut().take()) {
        summary.rows_read += 1;
        summary.rows_rejected += 1;
        rejects.push(Reject {
            file: display.clone(),
            line: last_line + 1,
            reason: format!("file is truncated: the compressed data end early ({reason}); rows after line {last_line} are lost"),
            excerpt: String::new(),
        })?;
    }

    // Hash the whole file even if a reader stopped early.
    std::io::copy(&mut content, &mut std::io::sink()).map_err(|source| Error::Read {
        path: path.into(),
        source,
    })?;
    drop(content);
    let tally = Rc::try_unwrap(tally)
        .map_err(|_| Error::internal("ingest", "input hash still shared"))?
        .into_inner();
    summary.bytes = tally.bytes;
    summary.sha256 = tally.hex();
    Ok(summary)
}

/// A unit a reader could not use at all, for `rejects.csv`: reason and excerpt masked, the
/// excerpt on one line and cut.
fn reader_reject(file: &str, line: u64, reason: &str, excerpt: &str) -> Reject {
    Reject {
        file: file.to_string(),
        line,
        // Reasons quote values, and a value may be a card number in the wrong column.
        reason: scrub_pans(reason),
        // One line per reject: multi-line XML events are flattened.
        excerpt: masked_excerpt(&flatten_whitespace(excerpt), 200),
    }
}

/// The longest CSV record read: the memory a file without line ends can take (with the
/// chunks in flight, about 200 MB).
const MAX_RECORD_BYTES: usize = 64 << 20;

/// The longest field value accepted: ids, codes and names are short, and a longer value is
/// a broken export (a field that swallowed the rest of the file), not a transaction.
const MAX_FIELD_BYTES: usize = 64 << 10;

/// Bytes of CSV handed to one thread at a time.
const CHUNK_BYTES: usize = 16 << 20;

/// The chunk size: [`CHUNK_BYTES`], or `POSLENS_CHUNK_BYTES` when set — a testing knob, so
/// the tests can cut small files into many chunks and show that the cut changes nothing.
fn chunk_bytes() -> usize {
    std::env::var("POSLENS_CHUNK_BYTES")
        .ok()
        .and_then(|v| v.parse::<usize>().ok())
        .map_or(CHUNK_BYTES, |n| n.max(1))
}

/// One chunk of a CSV file on its way to a parser thread.
struct Chunk {
    index: u64,
    bytes: Vec<u8>,
}

/// What a parser thread found in one chunk: the counts and the rejects, in line order, with
/// line numbers counted from the chunk's start (1); the collector makes them absolute.
struct ChunkDone {
    index: u64,
    counts: Counts,
    rejects: Vec<Reject>,
    newlines: u64,
    /// The chunk's buffer, for reuse.
    bytes: Vec<u8>,
}

/// Read one CSV/TSV stream on all threads.
///
/// This thread reads (and, through the readers below it, hashes and decompresses) the input,
/// cuts it into chunks of about [`CHUNK_BYTES`] at record boundaries ([`csv::split_point`]),
/// counts their lines and sends them to the parser threads; each parser folds its rows into
/// its own cube builder. Rejects come back per chunk and are written in chunk order, so
/// `rejects.csv` is the same for any number of threads.
fn read_csv<R: Read>(
    ctx: Accept<'_>,
    mut input: R,
    path: &Path,
    delimiter: Option<u8>,
    decoding: csv::Decoding,
    rejects: &mut RejectLog,
    builders: &mut [CubeBuilder],
) -> Result<Counts> {
    let read_err = |source| Error::Read {
        path: path.into(),
        source,
    };
    // The header row, in what becomes the first chunk's buffer.
    let chunk_size = chunk_bytes();
    let mut buf: Vec<u8> = Vec::with_capacity(chunk_size + (1 << 16));
    let mut eof = fill(&mut input, &mut buf, 1 << 16).map_err(read_err)?;
    let (layout, consumed) = loop {
        match csv::read_header(&buf, eof, path, delimiter, decoding, &ctx.cfg.mapping)? {
            Some(h) => break h,
            None if eof => return Ok(Counts::default()),
            None => {
                let want = buf.len() + (1 << 16);
                eof = fill(&mut input, &mut buf, want).map_err(read_err)?;
            }
        }
    };
    let first_line = 1 + memchr::memchr_iter(b'\n', &buf[..consumed]).count() as u64;
    let (free_tx, free_rx) = crossbeam_channel::unbounded::<Vec<u8>>();
    buf.drain(..consumed);

    let display = path.display().to_string();
    let (chunk_tx, chunk_rx) = crossbeam_channel::bounded::<Chunk>(builders.len());
    let (done_tx, done_rx) = crossbeam_channel::unbounded::<Result<ChunkDone>>();
    let layout = &layout;
    // Only known once the header is read: in a `;`-separated file `12,50` is 12.50.
    let ctx = Accept {
        decimal_comma: layout.delimiter == b';',
        ..ctx
    };
    let display = &display;
    std::thread::scope(|scope| -> Result<Counts> {
        for cube in builders.iter_mut() {
            let rx = chunk_rx.clone();
            let tx = done_tx.clone();
            scope.spawn(move || {
                for chunk in rx {
                    let done = parse_chunk(ctx, chunk, layout, path, display, cube);
                    let failed = done.is_err();
                    if tx.send(done).is_err() || failed {
                        break;
                    }
                }
            });
        }
        drop(chunk_rx);
        drop(done_tx);

        let mut collector = Collector {
            next: 0,
            pending: Default::default(),
            counts: Counts::default(),
            line: first_line,
            free: free_tx,
            chunk_size,
        };
        let mut index = 0u64;
        // Bytes of the file before `buf` (after the header), for messages.
        let mut offset = consumed as u64;
        let mut outcome: Result<()> = Ok(());
        while outcome.is_ok() {
            if !eof && buf.len() < chunk_size {
                eof = fill(&mut input, &mut buf, chunk_size).map_err(read_err)?;
            }
            if buf.is_empty() {
                break;
            }
            // Cut at the last record end within the chunk size, else at the last one we hold.
            let limit = chunk_size.min(buf.len());
            let cut = if eof && limit == buf.len() {
                buf.len()
            } else {
                match csv::split_point(&buf[..limit], layout.delimiter)
                    .or_else(|| csv::split_point(&buf, layout.delimiter))
                {
                    Some(cut) => cut,
                    // A record longer than anything a transaction export holds: a file with
                    // no line ends, or a quote never closed. Stop with a message instead of
                    // holding the rest of the file.
                    None if buf.len() >= MAX_RECORD_BYTES => {
                        return Err(Error::BadInput {
                            path: path.into(),
                            reason: format!(
                                "a record of more than {} MiB without a line end, starting at byte {}: an unclosed quote, or not a line-based text file",
                                MAX_RECORD_BYTES >> 20,
                                offset
                            ),
                        });
                    }
                    // A record longer than what we hold: read on until it ends.
                    None if !eof => {
                        let want = buf.len() + chunk_size.max(1 << 16);
                        eof = fill(&mut input, &mut buf, want).map_err(read_err)?;
                        continue;
                    }
                    None => buf.len(),
                }
            };
            // Buffers come back from the parsers: no fresh (zeroed, page-faulting) 4 MB per chunk.
            let mut next = free_rx
                .try_recv()
                .unwrap_or_else(|_| Vec::with_capacity(chunk_size + (1 << 16)));
            next.clear();
            next.extend_from_slice(&buf[cut..]);
            buf.truncate(cut);
            offset += cut as u64;
            let bytes = std::mem::replace(&mut buf, next);
            let chunk = Chunk { index, bytes };
            if chunk_tx.send(chunk).is_err() {
                break; // every parser stopped: one of them failed, its error is in the results
            }
            index += 1;
            while let Ok(done) = done_rx.try_recv() {
                outcome = outcome.and_then(|_| collector.take(done, rejects));
            }
        }
        drop(chunk_tx);
        for done in done_rx {
            outcome = outcome.and_then(|_| collector.take(done, rejects));
        }
        outcome?;
        if collector.next != index {
            return Err(Error::internal("ingest", "a CSV chunk was lost"));
        }
        Ok(collector.counts)
    })
}

/// Puts chunk results back in order: counts are added up, line numbers made absolute,
/// rejects written in line order, buffers handed back to the reader.
struct Collector {
    next: u64,
    pending: std::collections::BTreeMap<u64, ChunkDone>,
    counts: Counts,
    /// The line the next chunk in order starts on.
    line: u64,
    free: crossbeam_channel::Sender<Vec<u8>>,
    chunk_size: usize,
}

impl Collector {
    fn take(&mut self, done: Result<ChunkDone>, rejects: &mut RejectLog) -> Result<()> {
        let done = done?;
        self.pending.insert(done.index, done);
        while let Some(mut done) = self.pending.remove(&self.next) {
            let shift = self.line - 1;
            for e in &mut done.counts.evidence {
                e.1 += shift;
            }
            if done.counts.last_line > 0 {
                done.counts.last_line += shift;
            }
            self.counts.add(&done.counts);
            for mut r in done.rejects {
                r.line += shift;
                rejects.push(r)?;
            }
            self.line += done.newlines;
            // A buffer that grew to hold a very long record is dropped, not reused: kept, a
            // few of them would hold 64 MiB each for the rest of the file.
            if done.bytes.capacity() <= 2 * self.chunk_size + (1 << 16) {
                let _ = self.free.send(done.bytes);
            }
            self.next += 1;
        }
        Ok(())
    }
}

/// Read until `buf` holds at least `want` bytes or the input ends; true at the end.
fn fill<R: Read>(input: &mut R, buf: &mut Vec<u8>, want: usize) -> std::io::Result<bool> {
    while buf.len() < want {
        let need = (want - buf.len()).max(1 << 16);
        // Room for exactly what is wanted: left to itself the buffer doubles, and a record
        // near the 64 MiB limit would cost 128 MiB.
        buf.reserve_exact(need);
        let need = need as u64;
        // `take` + `read_to_end` reads into the spare capacity without zeroing it first.
        if input.by_ref().take(need).read_to_end(buf)? == 0 {
            return Ok(true);
        }
    }
    Ok(false)
}

/// Parse one chunk on a parser thread.
fn parse_chunk(
    ctx: Accept<'_>,
    chunk: Chunk,
    layout: &csv::Layout,
    path: &Path,
    display: &str,
    cube: &mut CubeBuilder,
) -> Result<ChunkDone> {
    let mut counts = Counts::default();
    let mut rejects = Vec::new();
    let newlines = csv::parse_chunk(&chunk.bytes, 1, layout, path, &mut |row| {
        match row {
            csv::Row::Fields { line, fields } => {
                counts.last_line = counts.last_line.max(line);
                if let Some(reason) = ctx.row(fields, line, &mut counts, cube)? {
                    rejects.push(Reject {
                        file: display.to_string(),
                        line,
                        reason: scrub_pans(&reason),
                        excerpt: fields_excerpt(fields),
                    });
                }
            }
            csv::Row::Reject {
                line,
                reason,
                excerpt,
            } => {
                counts.last_line = counts.last_line.max(line);
                counts.read += 1;
                counts.rejected += 1;
                rejects.push(reader_reject(display, line, &reason, &excerpt));
            }
        }
        Ok(())
    })?;
    Ok(ChunkDone {
        index: chunk.index,
        counts,
        rejects,
        newlines,
        bytes: chunk.bytes,
    })
}

/// Give a bare I/O error from a reader the path it happened on.
fn with_path(e: Error, path: &Path) -> Error {
    match e {
        Error::Io(source) => Error::Read {
            path: path.into(),
            source,
        },
        other => other,
    }
}

struct Valid<'a> {
    ts: i64,
    terminal_id: &'a str,
    merchant_id: &'a str,
    merchant_name: &'a str,
    response_code: std::borrow::Cow<'a, str>,
    /// Integer minor units; None when the input had no (valid) amount.
    amount_minor: Option<i64>,
    code_padded: bool,
    code_text_dropped: bool,
    amount_invalid: bool,
}

/// Check one candidate row: required fields present and parseable.
fn validate<'a, F: FieldSource>(
    f: &'a F,
    cfg: &IngestConfig,
    amount_minor: bool,
    decimal_comma: bool,
) -> Result<Valid<'a>, String> {
    for field in Field::ALL {
        if let Some(v) = f.get(field) {
            if v.len() > MAX_FIELD_BYTES {
                return Err(format!(
                    "{} is {} bytes long (more than {} KiB): not a value of a transaction",
                    field.name(),
                    v.len(),
                    MAX_FIELD_BYTES >> 10
                ));
            }
        }
    }
    let ts = match (f.get(Field::Date), f.get(Field::Timestamp)) {
        (None, Some(ts)) => parse_timestamp(ts, cfg.tz)?,
        (Some(date), Some(time)) => parse_date_time(date, time, cfg.tz)?,
        // No time (an empty time cell, or a JSON object with only a `date` key): the date is
        // the timestamp, and a date alone is rejected as "a date but no time".
        (Some(date), None) => parse_timestamp(date, cfg.tz)?,
        (None, None) => return Err("empty timestamp".into()),
    };
    let terminal_id = f.get(Field::TerminalId).ok_or("empty terminal_id")?;
    let (response_code, code_note) = normalize_code_ref(f.get(Field::ResponseCode).unwrap_or(""))?;
    let (amount_minor, amount_invalid) = match f.get(Field::Amount) {
        None => (None, false),
        Some(a) => match parse_amount(a, amount_minor, f.get(Field::Currency), decimal_comma) {
            Some(v) => (Some(v), false),
            None => (None, true),
        },
    };
    Ok(Valid {
        ts,
        terminal_id,
        merchant_id: f.get(Field::MerchantId).unwrap_or(""),
        merchant_name: f.get(Field::MerchantName).unwrap_or(""),
        response_code,
        amount_minor,
        code_padded: code_note.padded,
        code_text_dropped: code_note.text_dropped,
        amount_invalid,
    })
}

/// Runs of whitespace (newlines, indentation) as one space.
fn flatten_whitespace(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The canonical fields of a rejected record as `name=value` pairs, PAN cut and scrubbed.
fn fields_excerpt<F: FieldSource>(f: &F) -> String {
    let parts: Vec<String> = Field::ALL
        .iter()
        .filter_map(|&field| {
            // Only the start of a value can reach the 200-character excerpt: a 60 MB field
            // is not copied whole (the cut is far enough out that masking sees any card
            // number the excerpt could show in full).
            let v = f.get(field)?;
            let v = v.char_indices().nth(512).map_or(v, |(at, _)| &v[..at]);
            let v = if field == Field::Pan {
                mask_pan(v)
            } else {
                v.to_string()
            };
            Some(format!("{}={}", field.name(), v))
        })
        .collect();
    masked_excerpt(&parts.join(" "), 200)
}
