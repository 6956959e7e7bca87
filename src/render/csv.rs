//! The CSV exports: each file is a list of the serde row structs in [`crate::report::rows`]
//! (field order = column order, so the header and the cells come from one place). Rows end in
//! `\n` so files are byte-stable across platforms.

use serde::Serialize;

use crate::error::{Error, Result};
use crate::report::rows;
pub use crate::report::rows::safe_text;
use crate::report::Report;

/// A header line and one line per row. The header comes from a default row, so a file with no
/// rows still names its columns.
pub fn write_rows<T: Serialize + Default>(rows: &[T]) -> Result<Vec<u8>> {
    let err = |e: csv::Error| Error::internal("csv", e);
    let mut header = csv::WriterBuilder::new()
        .terminator(csv::Terminator::Any(b'\n'))
        .from_writer(Vec::new());
    header.serialize(T::default()).map_err(err)?;
    let header = header.into_inner().map_err(|e| Error::internal("csv", e))?;
    let first_line = header
        .iter()
        .position(|b| *b == b'\n')
        .map_or(header.len(), |i| i + 1);
    let mut w = csv::WriterBuilder::new()
        .terminator(csv::Terminator::Any(b'\n'))
        .has_headers(false)
        .from_writer(header[..first_line].to_vec());
    for r in rows {
        w.serialize(r).map_err(err)?;
    }
    w.into_inner().map_err(|e| Error::internal("csv", e))
}

pub fn by_terminal(r: &Report) -> Result<Vec<u8>> {
    write_rows(&rows::by_terminal(r))
}

pub fn by_period(r: &Report) -> Result<Vec<u8>> {
    write_rows(&rows::by_period(r))
}

pub fn by_code(r: &Report) -> Result<Vec<u8>> {
    write_rows(&rows::by_code(r))
}

pub fn by_merchant(r: &Report) -> Result<Vec<u8>> {
    write_rows(&rows::by_merchant(r))
}

pub fn flagged_terminals(r: &Report) -> Result<Vec<u8>> {
    write_rows(&rows::flagged_terminals(r))
}

pub fn cohorts(r: &Report) -> Result<Vec<u8>> {
    write_rows(&rows::cohorts(r))
}

pub fn silent_terminals(r: &Report) -> Result<Vec<u8>> {
    write_rows(&rows::silent_terminals(r))
}

pub fn evidence(r: &Report) -> Result<Vec<u8>> {
    write_rows(&rows::evidence(r))
}

pub fn incidents(r: &Report) -> Result<Vec<u8>> {
    write_rows(&rows::incidents(r))
}

/// `rejects.csv`, streamed from the reject log into `out` (it can be larger than memory).
pub fn rejects(log: &mut crate::ingest::RejectLog, out: &mut dyn std::io::Write) -> Result<()> {
    let mut w = csv::WriterBuilder::new()
        .terminator(csv::Terminator::Any(b'\n'))
        .from_writer(out);
    let err = |e: csv::Error| Error::internal("csv", e);
    w.write_record(["file", "line", "reason", "excerpt"])
        .map_err(err)?;
    log.for_each(|x| {
        w.write_record([
            safe_text(&x.file),
            x.line.to_string(),
            safe_text(&x.reason),
            safe_text(&x.excerpt),
        ])
        .map_err(err)
    })?;
    w.flush().map_err(|e| Error::internal("csv", e))
}
