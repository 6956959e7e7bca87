//! CSV/TSV exports: header row, delimiter detected among `, ; | TAB`, RFC 4180 quoting, BOM and
//! CRLF accepted.
//!
//! Rows are read with the `csv` crate as byte records in flexible mode, so a ragged or
//! undecodable row never stops the file: it becomes an [`Item::Reject`] with its line, and
//! reading goes on. (polars' CSV reader cannot be this layer: it pads short rows and turns bad
//! values into nulls.)

use std::io::{BufRead, BufReader, Read};
use std::path::Path;

use super::normalize::{excerpt_of, mask_pan, scrub_pans};
use super::schema::{Field, Item, Mapping, RawFields};
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

/// Read one CSV/TSV stream. `delimiter` forces one (TSV); otherwise it is detected.
pub fn read<R: Read>(
    input: R,
    path: &Path,
    delimiter: Option<u8>,
    decoding: Decoding,
    mapping: &Mapping,
    emit: &mut dyn FnMut(Item) -> Result<()>,
) -> Result<()> {
    let mut buffered = BufReader::with_capacity(1 << 16, input);
    let peek = buffered.fill_buf().map_err(|source| Error::Read {
        path: path.into(),
        source,
    })?;
    if peek.is_empty() {
        return Ok(()); // empty file: nothing to read, nothing lost
    }
    let first_line_end = peek.iter().position(|&b| b == b'\n').unwrap_or(peek.len());
    let delimiter = delimiter.unwrap_or_else(|| detect_delimiter(&peek[..first_line_end]));

    let mut reader = csv::ReaderBuilder::new()
        .delimiter(delimiter)
        .has_headers(false)
        .flexible(true)
        .from_reader(buffered);
    let mut record = csv::ByteRecord::new();
    let read_err = |e: csv::Error| match e.into_kind() {
        csv::ErrorKind::Io(source) => Error::Read {
            path: path.into(),
            source,
        },
        other => Error::BadInput {
            path: path.into(),
            reason: format!("{other:?}"),
        },
    };

    // Header row.
    if !reader.read_byte_record(&mut record).map_err(read_err)? {
        return Ok(());
    }
    let headers: Vec<String> = record
        .iter()
        .map(|h| decode_lossy(h, decoding).trim().to_string())
        .collect();
    let columns = mapping.resolve(&headers);
    check_required(path, &headers, &columns)?;
    let pan_col = columns.iter().position(|c| *c == Some(Field::Pan));

    while reader.read_byte_record(&mut record).map_err(read_err)? {
        let line = record.position().map(|p| p.line()).unwrap_or(0);
        if record.len() == 1 && record[0].iter().all(|b| b.is_ascii_whitespace()) {
            continue; // a blank line is not a row
        }
        let excerpt = || row_excerpt(&record, delimiter, pan_col, decoding);
        if record.len() != headers.len() {
            emit(Item::Reject {
                line,
                reason: format!(
                    "wrong number of fields: expected {}, found {}",
                    headers.len(),
                    record.len()
                ),
                excerpt: excerpt(),
            })?;
            continue;
        }
        match row_fields(&record, &columns, decoding) {
            Ok(fields) => emit(Item::Record { line, fields })?,
            Err(reason) => emit(Item::Reject {
                line,
                reason,
                excerpt: excerpt(),
            })?,
        }
    }
    Ok(())
}

fn row_fields(
    record: &csv::ByteRecord,
    columns: &[Option<Field>],
    decoding: Decoding,
) -> Result<RawFields, String> {
    let mut fields = RawFields::default();
    for (raw, col) in record.iter().zip(columns) {
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
        let text = text.trim();
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
fn row_excerpt(
    record: &csv::ByteRecord,
    delimiter: u8,
    pan_col: Option<usize>,
    decoding: Decoding,
) -> String {
    let parts: Vec<String> = record
        .iter()
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
    // Masked before the cut, so a card number straddling it cannot survive.
    excerpt_of(
        &scrub_pans(&parts.join(&(delimiter as char).to_string())),
        200,
    )
}

/// A file without a required field cannot be read at all: say which field is missing, what
/// headers were found, and how to map one.
fn check_required(path: &Path, headers: &[String], columns: &[Option<Field>]) -> Result<()> {
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
