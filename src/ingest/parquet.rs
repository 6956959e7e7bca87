//! Parquet input with the canonical column names (or their aliases / `--map`).
//!
//! Columns are cast to text and handed over as [`Item::Record`]s, so Parquet rows go through
//! the same validation as CSV rows. Timestamps may be text in any SPEC form or integer epoch
//! seconds/milliseconds. "Line" numbers in rejects are 1-based row numbers.

use std::fs::File;
use std::path::Path;

use polars::prelude::*;

use super::schema::{Field, Item, Mapping, RawFields};
use crate::error::{Error, Result};

pub fn read(
    path: &Path,
    mapping: &Mapping,
    emit: &mut dyn FnMut(Item) -> Result<()>,
) -> Result<()> {
    let file = File::open(path).map_err(|source| Error::Open {
        path: path.into(),
        source,
    })?;
    let bad = |e: PolarsError| Error::BadInput {
        path: path.into(),
        reason: format!("not a readable Parquet file: {e}"),
    };
    let df = ParquetReader::new(file).finish().map_err(bad)?;
    let names: Vec<String> = df
        .get_column_names()
        .iter()
        .map(|n| n.to_string())
        .collect();
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
    let mut columns = Vec::new();
    for (name, field) in names.iter().zip(&fields) {
        let Some(field) = field else { continue };
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
            line: row as u64 + 1,
            fields: raw,
        })?;
    }
    Ok(())
}
