//! CSV/TSV exports: header row, delimiter detected among `, ; | TAB`, RFC 4180 quoting, BOM and
//! CRLF accepted.
//!
//! Rows are read with the `csv` crate as byte records in flexible mode, so a ragged or
//! undecodable row never stops the file: it becomes a [`Row::Reject`] with its line, and
//! reading goes on. (polars' CSV reader cannot be this layer: it pads short rows and turns bad
//! values into nulls.)
//!
//! The file is cut into chunks at record boundaries ([`split_point`], quote-aware) so that
//! chunks can be parsed on several threads ([`parse_chunk`]); fields are borrowed from the
//! record, never copied.

use std::path::Path;

use super::normalize::{excerpt_of, mask_pan, masked_excerpt};
use super::schema::{Field, Mapping, RefFields};
use crate::error::{Error, Result};

/// Delimiters we detect, in order of preference on a tie.
const DELIMITERS: [u8; 4] = [b',', b';', b'\t', b'|'];

/// How the bytes reaching the reader were decoded, for reject reasons.
#[derive(Debug, Clone, Copy)]
pub enum Decoding {
    /// Raw bytes that should be UTF-8: check each field.
    Utf8,
    /// Already transcoded to UTF-8 from this encoding; U+FFFD marks undecodable input bytes.
    Transcoded(&'static encoding_rs::Encoding),
}

/// Pick the delimiter that occurs most often (outside quotes) in the header line.
pub fn detect_delimiter(first_line: &[u8]) -> u8 {
    let mut counts = [0usize; 4];
    let mut in_quotes = false;
    for &b in first_line {
        if b == b'"' {
            in_quotes = !in_quotes;
        } else if !in_quotes {
            if let Some(i) = DELIMITERS.iter().position(|&d| d == b) {
                counts[i] += 1;
            }
        }
    }
    let best = (0..4).max_by_key(|&i| (counts[i], 4 - i)).unwrap_or(0);
    if counts[best] == 0 {
        b','
    } else {
        DELIMITERS[best]
    }
}

/// What a CSV file's header row says: the delimiter, the columns and the fields they feed.
#[derive(Debug, Clone)]
pub struct Layout {
    pub delimiter: u8,
    pub columns: Vec<Option<Field>>,
    pub pan_col: Option<usize>,
    pub decoding: Decoding,
}

/// Read the header row from the start of a file's (decoded) bytes. Returns the layout and how
/// many bytes the header took, or None when `head` holds no complete header yet (read more)
/// or the file is empty (`at_eof`).
pub fn read_header(
    head: &[u8],
    at_eof: bool,
    path: &Path,
    delimiter: Option<u8>,
    decoding: Decoding,
    mapping: &Mapping,
) -> Result<Option<(Layout, usize)>> {
    if head.is_empty() {
        return Ok(None); // empty file: nothing to read, nothing lost
    }
    let first_line_end = head.iter().position(|&b| b == b'\n').unwrap_or(head.len());
    let delimiter = delimiter.unwrap_or_else(|| detect_delimiter(&head[..first_line_end]));
    let mut reader = reader_for(head, delimiter);
    let mut record = csv::ByteRecord::new();
    let more = reader
        .read_byte_record(&mut record)
        .map_err(|e| read_err(e, path))?;
    let consumed = reader.position().byte() as usize;
    // The header is complete once the reader has gone past its terminator (or the file ends).
    if !more || (consumed >= head.len() && !at_eof) {
        return Ok(None);
    }
    let headers: Vec<String> = record
        .iter()
        .map(|h| decode_lossy(h, decoding).trim().to_string())
        .collect();
    let columns = mapping.resolve(&headers);
    check_required(path, &headers, &columns)?;
    let pan_col = columns.iter().position(|c| *c == Some(Field::Pan));
    Ok(Some((
        Layout {
            delimiter,
            columns,
            pan_col,
            decoding,
        },
        consumed,
    )))
}

fn reader_for(bytes: &[u8], delimiter: u8) -> csv::Reader<&[u8]> {
    csv::ReaderBuilder::new()
        .delimiter(delimiter)
        .has_headers(false)
        .flexible(true)
        .from_reader(bytes)
}

fn read_err(e: csv::Error, path: &Path) -> Error {
    match e.into_kind() {
        csv::ErrorKind::Io(source) => Error::Read {
            path: path.into(),
            source,
        },
        other => Error::BadInput {
            path: path.into(),
            reason: format!("{other:?}"),
        },
    }
}

/// Where a chunk of CSV may end: just after the last newline that is not inside a quoted
/// field, so chunks can be parsed independently and in parallel. `bytes` must start at the
/// start of a record. Quoting follows the csv crate: a quote opens a quoted field only at the
/// start of a field, `""` inside one is a literal quote, and any other quote is data. Returns
/// None when no such newline exists yet.
pub fn split_point(bytes: &[u8], delimiter: u8) -> Option<usize> {
    // The common case, a chunk without quotes: the last newline.
    let Some(first_quote) = memchr::memchr(b'"', bytes) else {
        return memchr::memrchr(b'\n', bytes).map(|i| i + 1);
    };
    let mut last = memchr::memrchr(b'\n', &bytes[..first_quote]).map(|i| i + 1);
    let mut in_quotes = false;
    let mut i = first_quote;
    while i < bytes.len() {
        match memchr::memchr2(b'"', b'\n', &bytes[i..]) {
            None => break,
            Some(off) => {
                let p = i + off;
                if bytes[p] == b'\n' {
                    if !in_quotes {
                        last = Some(p + 1);
                    }
                    i = p + 1;
                } else if in_quotes {
                    match bytes.get(p + 1) {
                        Some(b'"') => i = p + 2, // an escaped quote
                        Some(_) => {
                            in_quotes = false;
                            i = p + 1;
                        }
                        None => break, // the next byte decides: read more first
                    }
                } else {
                    let field_start = p == 0
                        || matches!(bytes[p - 1], b'\n' | b'\r')
                        || bytes[p - 1] == delimiter;
                    in_quotes = field_start;
                    i = p + 1;
                }
            }
        }
    }
    last
}

/// One row of a chunk, as the pipeline needs it.
pub enum Row<'f, 'r> {
    /// A candidate transaction (validation happens downstream). The fields (slices of the
    /// chunk, one per canonical field: a few hundred bytes) stay on the parser's stack and are
    /// lent, not moved, once per row.
    Fields {
        line: u64,
        fields: &'f RefFields<'r>,
    },
    /// A row that cannot be used at all: wrong number of fields, NUL or undecodable bytes.
    /// The excerpt is already masked and cut.
    Reject {
        line: u64,
        reason: String,
        excerpt: String,
    },
}

/// Parse one chunk of records (starting at a record boundary, `first_line` being the line
/// the chunk starts on) and hand every row to `on_row`. Blank lines are skipped. Returns the
/// number of newlines in the chunk.
pub fn parse_chunk(
    chunk: &[u8],
    first_line: u64,
    layout: &Layout,
    path: &Path,
    on_row: &mut dyn FnMut(Row<'_, '_>) -> Result<()>,
) -> Result<u64> {
    if matches!(layout.decoding, Decoding::Utf8) && memchr::memchr2(b'"', b'\r', chunk).is_none() {
        return parse_plain_chunk(chunk, first_line, layout, on_row);
    }
    let mut reader = reader_for(chunk, layout.delimiter);
    let mut record = csv::ByteRecord::new();
    // Line numbers are counted here, from the bytes: the csv crate does not count the newline
    // of a skipped blank line, so its numbers drift after one (and would differ by chunk).
    let (mut line, mut counted_to) = (first_line, 0usize);
    while reader
        .read_byte_record(&mut record)
        .map_err(|e| read_err(e, path))?
    {
        let start = record.position().map_or(counted_to, |p| p.byte() as usize);
        let mut start = start.clamp(counted_to, chunk.len());
        // The position of a record that follows blank lines is that of the blank lines.
        while matches!(chunk.get(start), Some(b'\r' | b'\n')) {
            start += 1;
        }
        line += memchr::memchr_iter(b'\n', &chunk[counted_to..start]).count() as u64;
        counted_to = start;
        let line = line;
        if record.len() == 1 && record[0].iter().all(|b| b.is_ascii_whitespace()) {
            continue; // a blank line is not a row
        }
        let excerpt = |r: &csv::ByteRecord| {
            row_excerpt(r.iter(), layout.delimiter, layout.pan_col, layout.decoding)
        };
        if record.len() != layout.columns.len() {
            on_row(Row::Reject {
                line,
                reason: format!(
                    "wrong number of fields: expected {}, found {}",
                    layout.columns.len(),
                    record.len()
                ),
                excerpt: excerpt(&record),
            })?;
            continue;
        }
        match row_fields(record.iter(), &layout.columns, layout.decoding) {
            Ok(fields) => on_row(Row::Fields {
                line,
                fields: &fields,
            })?,
            Err(reason) => on_row(Row::Reject {
                line,
                reason,
                excerpt: excerpt(&record),
            })?,
        }
    }
    Ok(line - first_line + memchr::memchr_iter(b'\n', &chunk[counted_to..]).count() as u64)
}

/// [`parse_chunk`] for the common chunk without quotes and carriage returns: every line is a
/// record and every delimiter ends a field, so lines and fields are found with `memchr` and
/// borrowed from the chunk. It reads exactly what the csv crate reads in such a chunk (blank
/// lines skipped, fields untouched) at about twice its speed, and never copies a field.
fn parse_plain_chunk(
    chunk: &[u8],
    first_line: u64,
    layout: &Layout,
    on_row: &mut dyn FnMut(Row<'_, '_>) -> Result<()>,
) -> Result<u64> {
    let d = layout.delimiter;
    let mut line = first_line;
    let mut start = 0;
    while start < chunk.len() {
        let end = memchr::memchr(b'\n', &chunk[start..]).map_or(chunk.len(), |i| start + i);
        let rec = &chunk[start..end];
        let this_line = line;
        start = end + 1;
        line += 1;
        if rec.is_empty() {
            continue; // a blank line is not a row
        }
        let n = memchr::memchr_iter(d, rec).count() + 1;
        if n == 1 && rec.iter().all(|b| b.is_ascii_whitespace()) {
            continue;
        }
        if n != layout.columns.len() {
            on_row(Row::Reject {
                line: this_line,
                reason: format!(
                    "wrong number of fields: expected {}, found {n}",
                    layout.columns.len()
                ),
                excerpt: row_excerpt(split_fields(rec, d), d, layout.pan_col, layout.decoding),
            })?;
            continue;
        }
        // One check of the whole line instead of one per field: if it is valid UTF-8 without
        // NUL bytes, so is every field (fields end at an ASCII delimiter).
        let line = match memchr::memchr(0, rec) {
            None => std::str::from_utf8(rec).ok(),
            Some(_) => None,
        };
        let fields = match line {
            Some(line) => Ok(line_fields(line, d, &layout.columns)),
            None => row_fields(split_fields(rec, d), &layout.columns, layout.decoding),
        };
        match fields {
            Ok(f) => on_row(Row::Fields {
                line: this_line,
                fields: &f,
            })?,
            Err(reason) => on_row(Row::Reject {
                line: this_line,
                reason,
                excerpt: row_excerpt(split_fields(rec, d), d, layout.pan_col, layout.decoding),
            })?,
        }
    }
    // Every line but a last one without a newline ended in one.
    Ok((line - first_line).saturating_sub(u64::from(!chunk.ends_with(b"\n"))))
}

fn split_fields(rec: &[u8], delimiter: u8) -> impl Iterator<Item = &[u8]> {
    let mut rest = Some(rec);
    std::iter::from_fn(move || {
        let r = rest?;
        match memchr::memchr(delimiter, r) {
            Some(i) => {
                rest = Some(&r[i + 1..]);
                Some(&r[..i])
            }
            None => {
                rest = None;
                Some(r)
            }
        }
    })
}

/// The mapped fields of a line already known to be clean UTF-8 without NUL bytes.
fn line_fields<'r>(line: &'r str, delimiter: u8, columns: &[Option<Field>]) -> RefFields<'r> {
    let mut fields = RefFields::default();
    let mut start = 0;
    let mut ends = memchr::memchr_iter(delimiter, line.as_bytes()).chain([line.len()]);
    for col in columns {
        let Some(end) = ends.next() else { break };
        // The delimiter is ASCII, so these are character boundaries.
        let raw = line.get(start..end).unwrap_or("");
        start = end + 1;
        if let Some(field) = col {
            let text = super::normalize::trim_fast(raw);
            if !text.is_empty() {
                fields.set(*field, text);
            }
        }
    }
    fields
}

fn row_fields<'r>(
    record: impl Iterator<Item = &'r [u8]>,
    columns: &[Option<Field>],
    decoding: Decoding,
) -> Result<RefFields<'r>, String> {
    let mut fields = RefFields::default();
    for (raw, col) in record.zip(columns) {
        let Some(field) = col else { continue };
        if raw.contains(&0) {
            return Err(format!("NUL byte in {}", field.name()));
        }
        let text = match decoding {
            Decoding::Utf8 => std::str::from_utf8(raw).map_err(|_| {
                format!(
                    "undecodable bytes in {} (not valid UTF-8; if the file is a Chinese export, try --encoding gbk)",
                    field.name()
                )
            })?,
            Decoding::Transcoded(enc) => {
                let s = std::str::from_utf8(raw).map_err(|_| "undecodable bytes".to_string())?;
                if s.contains('\u{fffd}') {
                    return Err(format!(
                        "undecodable bytes in {} (not valid {})",
                        field.name(),
                        enc.name()
                    ));
                }
                s
            }
        };
        let text = super::normalize::trim_fast(text);
        if !text.is_empty() {
            fields.set(*field, text);
        }
    }
    Ok(fields)
}

fn decode_lossy(raw: &[u8], _decoding: Decoding) -> String {
    String::from_utf8_lossy(raw).into_owned()
}

/// The row as text for `rejects.csv`, with the PAN column cut to six and four. (The pipeline
/// also masks any Luhn-valid digit run in it before writing.)
pub fn row_excerpt<'r>(
    record: impl Iterator<Item = &'r [u8]>,
    delimiter: u8,
    pan_col: Option<usize>,
    decoding: Decoding,
) -> String {
    let parts: Vec<String> = record
        .enumerate()
        .map(|(i, f)| {
            let s = decode_lossy(f, decoding).replace('\0', "\\0");
            if Some(i) == pan_col && !s.trim().is_empty() {
                mask_pan(&s)
            } else {
                s
            }
        })
        .collect();
    masked_excerpt(&parts.join(&(delimiter as char).to_string()), 200)
}

/// A file without a required field cannot be read at all: say which field is missing, what
/// headers were found, and how to map one.
pub(crate) fn check_required(
    path: &Path,
    headers: &[String],
    columns: &[Option<Field>],
) -> Result<()> {
    let missing: Vec<&str> = Field::REQUIRED
        .iter()
        .filter(|f| !columns.contains(&Some(**f)))
        .map(|f| f.name())
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    let found: Vec<String> = headers.iter().map(|h| format!("{h:?}")).collect();
    // Garbled headers are the usual sign of a GBK export read as UTF-8: say so.
    let hint = if headers.iter().any(|h| h.contains('\u{fffd}')) {
        "; the header is not valid UTF-8: if this is a Chinese export, try --encoding gbk"
    } else {
        ""
    };
    Err(Error::BadInput {
        path: path.into(),
        reason: format!(
            "missing required column {} (found columns: {}); name it in the header or map one with --map {}=YourHeader{hint}",
            missing.join(", "),
            excerpt_of(&found.join(", "), 300),
            missing[0]
        ),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delimiter_detection() {
        assert_eq!(detect_delimiter(b"a,b,c"), b',');
        assert_eq!(detect_delimiter(b"a;b;c"), b';');
        assert_eq!(detect_delimiter(b"a\tb\tc"), b'\t');
        assert_eq!(detect_delimiter(b"a|b|c"), b'|');
        assert_eq!(detect_delimiter(b"\"x;y\",b,c"), b',');
        assert_eq!(detect_delimiter(b"single"), b',');
    }
}
