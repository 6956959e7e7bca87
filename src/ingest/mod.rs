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
pub mod jpos;
pub mod jsonl;
#[cfg(test)]
mod mutate;
pub mod normalize;
pub mod parquet;
pub mod rejects;
pub mod schema;

use std::collections::HashSet;
use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::rc::Rc;

use serde::Serialize;

use crate::config::{Format, IngestConfig};
use crate::error::{Error, Result};
use decode::{Hashing, Transcoder};
use normalize::{
    currency_exponent, excerpt_of, mask_pan, normalize_code, parse_amount, parse_timestamp,
    scrub_pans,
};
use schema::{Field, Item, RawFields};

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
    "csv", "tsv", "tab", "txt", "jsonl", "ndjson", "json", "xml", "log", "parquet",
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
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|source| Error::Open {
            path: dir.into(),
            source,
        })?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            !p.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with('.'))
        })
        .collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            walk(&p, files)?;
        } else if is_data_file(&p) {
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
    let name = name.strip_suffix(".gz").unwrap_or(&name);
    name.rsplit_once('.')
        .is_some_and(|(_, ext)| DATA_EXTENSIONS.contains(&ext))
}

/// Guess the format from the first bytes of the (decompressed) content, then the file name.
fn detect_format(path: &Path, head: &[u8]) -> Format {
    if head.starts_with(b"PAR1") {
        return Format::Parquet;
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

/// Read every input; hand each clean, first-seen transaction to `sink`.
pub fn ingest(
    cfg: &IngestConfig,
    sink: &mut dyn FnMut(Txn) -> Result<()>,
) -> Result<IngestOutcome> {
    let files = discover(&cfg.inputs)?;
    let mut outcome = IngestOutcome::default();
    let mut seen: HashSet<u128> = HashSet::new();
    let bar = progress_bar(&files);
    for path in &files {
        let summary = ingest_file(
            cfg,
            path,
            &mut seen,
            &mut outcome.rejects,
            bar.clone(),
            sink,
        )?;
        outcome.inputs.push(summary);
    }
    if let Some(b) = bar {
        b.finish_and_clear();
    }
    Ok(outcome)
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

fn ingest_file(
    cfg: &IngestConfig,
    path: &Path,
    seen: &mut HashSet<u128>,
    rejects: &mut RejectLog,
    bar: Option<indicatif::ProgressBar>,
    sink: &mut dyn FnMut(Txn) -> Result<()>,
) -> Result<InputSummary> {
    let display = path.display().to_string();
    let file = File::open(path).map_err(|source| Error::Open {
        path: path.into(),
        source,
    })?;
    let (hashing, tally) = Hashing::new(file);
    let hashing = hashing.with_progress(bar);
    let mut raw = BufReader::with_capacity(1 << 16, hashing);
    let head = raw.fill_buf().map_err(|source| Error::Read {
        path: path.into(),
        source,
    })?;
    let gz = head.starts_with(&[0x1f, 0x8b]);
    let (mut content, cut): (Box<dyn BufRead>, _) = if gz {
        let (guarded, cut) = decode::Truncation::new(flate2::bufread::MultiGzDecoder::new(raw));
        (
            Box::new(BufReader::with_capacity(1 << 16, guarded)),
            Some(cut),
        )
    } else {
        (Box::new(raw), None)
    };
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
    let amount_minor = format == Format::Jpos;
    let mut last_line = 0u64;
    let mut on_item = |item: Item| -> Result<()> {
        let (Item::Record { line, .. } | Item::Reject { line, .. } | Item::Skip { line }) = &item;
        last_line = last_line.max(*line);
        match item {
            Item::Skip { .. } => summary.events_skipped += 1,
            Item::Reject {
                line,
                reason,
                excerpt,
            } => {
                summary.rows_read += 1;
                summary.rows_rejected += 1;
                rejects.push(Reject {
                    file: display.clone(),
                    line,
                    // Reasons quote values, and a value may be a card number in the wrong column.
                    reason: scrub_pans(&reason),
                    // One line per reject: multi-line XML events are flattened.
                    excerpt: excerpt_of(&scrub_pans(&flatten_whitespace(&excerpt)), 200),
                })?;
            }
            Item::Record { line, fields } => {
                summary.rows_read += 1;
                match validate(&fields, cfg, amount_minor) {
                    Err(reason) => {
                        summary.rows_rejected += 1;
                        rejects.push(Reject {
                            file: display.clone(),
                            line,
                            reason: scrub_pans(&reason),
                            excerpt: fields_excerpt(&fields),
                        })?;
                    }
                    Ok(v) => {
                        if let Some(id) = fields.get(Field::TxnId) {
                            if !seen.insert(txn_key(&v.txn.terminal_id, id)) {
                                summary.rows_duplicate += 1;
                                return Ok(());
                            }
                        }
                        summary.rows_accepted += 1;
                        summary.codes_padded += v.code_padded as u64;
                        summary.amounts_invalid += v.amount_invalid as u64;
                        let in_window = cfg.since.is_none_or(|s| v.txn.ts >= s)
                            && cfg.until.is_none_or(|u| v.txn.ts < u);
                        if in_window {
                            sink(v.txn)?;
                        } else {
                            summary.rows_outside_window += 1;
                        }
                    }
                }
            }
        }
        Ok(())
    };

    match format {
        Format::Csv | Format::Tsv => {
            let delim = (format == Format::Tsv).then_some(b'\t');
            if cfg.encoding == encoding_rs::UTF_8 {
                csv::read(
                    &mut content,
                    path,
                    delim,
                    csv::Decoding::Utf8,
                    &cfg.mapping,
                    &mut on_item,
                )?;
            } else {
                let t = Transcoder::new(&mut content, cfg.encoding);
                csv::read(
                    t,
                    path,
                    delim,
                    csv::Decoding::Transcoded(cfg.encoding),
                    &cfg.mapping,
                    &mut on_item,
                )?;
            }
        }
        Format::Jsonl => {
            jsonl::read(&mut content, &cfg.mapping, &mut on_item).map_err(|e| with_path(e, path))?
        }
        Format::Jpos => {
            jpos::read(&mut content, &cfg.mapping, &mut on_item).map_err(|e| with_path(e, path))?
        }
        Format::Cube => {
            return Err(Error::BadInput {
                path: path.into(),
                reason: "this is a saved cube: render it with `poslens analyze --cube FILE`".into(),
            });
        }
        Format::Parquet => {
            if gz {
                return Err(Error::BadInput {
                    path: path.into(),
                    reason: "gzip-compressed Parquet is not supported (Parquet compresses its own pages): decompress it first".into(),
                });
            }
            // Parquet needs random access: read it by path (still hashed below as a stream).
            parquet::read(path, &cfg.mapping, &mut on_item)?
        }
    }

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

/// The identity of a transaction for duplicate detection: (terminal, txn_id), because STANs
/// and many RRNs are only unique per terminal. Kept as a 128-bit hash (two SipHash passes with
/// fixed keys, so deterministic) rather than the strings: 16 bytes per transaction bounds the
/// memory of a long run, and a collision needs about 2^64 transactions. (The hasher is fixed
/// within a run; nothing hashed here is ever stored.)
fn txn_key(terminal: &str, txn_id: &str) -> u128 {
    use std::hash::{Hash, Hasher};
    let half = |salt: u8| {
        let mut h = std::hash::DefaultHasher::new();
        salt.hash(&mut h);
        terminal.hash(&mut h);
        txn_id.hash(&mut h);
        h.finish()
    };
    ((half(1) as u128) << 64) | half(2) as u128
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

struct Valid {
    txn: Txn,
    code_padded: bool,
    amount_invalid: bool,
}

/// Check one candidate row: required fields present and parseable.
fn validate(f: &RawFields, cfg: &IngestConfig, amount_minor: bool) -> Result<Valid, String> {
    let ts_raw = f.get(Field::Timestamp).ok_or("empty timestamp")?;
    let ts = parse_timestamp(ts_raw, cfg.tz)?;
    let terminal_id = f
        .get(Field::TerminalId)
        .ok_or("empty terminal_id")?
        .to_string();
    let (response_code, code_padded) = normalize_code(f.get(Field::ResponseCode).unwrap_or(""))?;
    let exponent = currency_exponent(f.get(Field::Currency));
    let (amount_minor, amount_invalid) = match f.get(Field::Amount) {
        None => (None, false),
        Some(a) => match parse_amount(a, amount_minor, exponent) {
            Some(v) => (Some(v), false),
            None => (None, true),
        },
    };
    Ok(Valid {
        txn: Txn {
            ts,
            terminal_id,
            merchant_id: f.get(Field::MerchantId).unwrap_or("").to_string(),
            merchant_name: f.get(Field::MerchantName).unwrap_or("").to_string(),
            response_code,
            amount_minor,
        },
        code_padded,
        amount_invalid,
    })
}

/// Runs of whitespace (newlines, indentation) as one space.
fn flatten_whitespace(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The canonical fields of a rejected record as `name=value` pairs, PAN cut and scrubbed.
fn fields_excerpt(f: &RawFields) -> String {
    let parts: Vec<String> = Field::ALL
        .iter()
        .filter_map(|&field| {
            let v = f.get(field)?;
            let v = if field == Field::Pan {
                mask_pan(v)
            } else {
                v.to_string()
            };
            Some(format!("{}={}", field.name(), v))
        })
        .collect();
    excerpt_of(&scrub_pans(&parts.join(" ")), 200)
}
