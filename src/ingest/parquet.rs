//! Parquet input with the canonical column names (or their aliases / `--map`).
//!
//! Columns are cast to text and handed over as [`Item::Record`]s, so Parquet rows go through
//! the same validation as CSV rows. Timestamps may be text in any SPEC form or integer epoch
//! seconds/milliseconds. "Line" numbers in rejects are 1-based row numbers. The file is
//! read in slices of rows, decoding only the mapped columns.

use std::fs::File;
use std::path::Path;

use polars::prelude::*;

use super::schema::{Field, Item, Mapping, RawFields};
use crate::error::{Error, Result};

/// Rows decoded per slice: memory for a Parquet input stays bounded by one slice of the
/// mapped columns, not the file.
const SLICE_ROWS: usize = 100_000;

pub fn read(
    path: &Path,
    mapping: &Mapping,
    emit: &mut dyn FnMut(Item) -> Result<()>,
) -> Result<()> {
    let open = || {
        File::open(path).map_err(|source| Error::Open {
            path: path.into(),
            source,
        })
    };
    let bad = |e: PolarsError| Error::BadInput {
        path: path.into(),
        reason: format!("not a readable Parquet file: {e}"),
    };
    let mut reader = ParquetReader::new(open()?);
    let names: Vec<String> = reader
        .schema()
        .map_err(bad)?
        .iter_names()
        .map(|n| n.to_string())
        .collect();
    let total = reader.num_rows().map_err(bad)?;
    let fields = mapping.resolve(&names);
    for f in Field::REQUIRED {
        if !fields.contains(&Some(f)) {
            return Err(Error::BadInput {
                path: path.into(),
                reason: format!(
                    "missing required column {} (found columns: {}); map one with --map {}=Column",
                    f.name(),
                    names.join(", "),
                    f.name()
                ),
            });
        }
    }
    // Only the mapped columns are decoded.
    let wanted: Vec<(String, Field)> = names
        .iter()
        .zip(&fields)
        .filter_map(|(n, f)| f.map(|f| (n.clone(), f)))
        .collect();
    let projection: Vec<String> = wanted.iter().map(|(n, _)| n.clone()).collect();

    let mut offset = 0;
    while offset < total {
        let df = ParquetReader::new(open()?)
            .with_columns(Some(projection.clone()))
            .with_slice(Some((offset, SLICE_ROWS)))
            .finish()
            .map_err(|e| Error::BadInput {
                path: path.into(),
                reason: format!(
                    "cannot read rows {}-{} of the {total} its footer claims, the file is damaged or truncated: {e}",
                    offset + 1,
                    total.min(offset + SLICE_ROWS)
                ),
            })?;
        let mut columns = Vec::with_capacity(wanted.len());
        for (name, field) in &wanted {
            let text = df
                .column(name)
                .and_then(|c| c.cast(&DataType::String))
                .map_err(bad)?;
            columns.push((*field, text));
        }
        for row in 0..df.height() {
            let mut raw = RawFields::default();
            for (field, col) in &columns {
                if let Some(v) = col.str().map_err(bad)?.get(row) {
                    let v = v.trim();
                    if !v.is_empty() {
                        raw.set(*field, v);
                    }
                }
            }
            emit(Item::Record {
                line: (offset + row) as u64 + 1,
                fields: raw,
            })?;
        }
        if df.height() == 0 {
            // The footer claims more rows than the pages hold (a damaged file, or a crafted
            // one claiming a billion): stop, and count the missing tail as one reject, as for
            // a gzip file cut short, so the shortfall is on record and not silent.
            emit(Item::Reject {
                line: offset as u64 + 1,
                reason: format!(
                    "file is damaged: its footer claims {total} rows but the data end after {offset}; the rest is lost"
                ),
                excerpt: String::new(),
            })?;
            break;
        }
        offset += df.height();
    }
    Ok(())
}
