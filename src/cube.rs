//! The cube: transaction counts and amount sums per terminal × merchant × hour × response code.
//!
//! It is the one intermediate between ingest and analysis (SPEC "Analysis"): every report is a
//! query over it, so analysis time depends on the number of cells, not rows. It is mergeable
//! (adding cubes = concatenating and re-aggregating), so input is folded in chunk by chunk and
//! memory stays bounded by the cube, not the input.
//!
//! `hour` is the instant (epoch seconds) at which the local hour in the report time zone
//! starts; for zones with half-hour offsets that is not a UTC hour boundary.

use chrono::Offset;
use chrono::TimeZone;
use chrono_tz::Tz;
use polars::prelude::*;

use crate::error::Result;
use crate::ingest::Txn;

/// Rows buffered before they are aggregated into a partial cube.
const CHUNK_ROWS: usize = 250_000;
/// Partial cubes kept before they are merged.
const MAX_PARTS: usize = 8;

pub const TERMINAL: &str = "terminal_id";
pub const MERCHANT: &str = "merchant_id";
pub const MERCHANT_NAME: &str = "merchant_name";
pub const HOUR: &str = "hour";
pub const CODE: &str = "response_code";
pub const COUNT: &str = "transactions";
pub const AMOUNT: &str = "amount_minor";
/// Column of a saved cube naming the zone its hours were cut in.
pub const TIME_ZONE: &str = "time_zone";

const KEYS: [&str; 5] = [TERMINAL, MERCHANT, MERCHANT_NAME, HOUR, CODE];

/// The aggregated cube.
#[derive(Debug, Clone)]
pub struct Cube {
    df: DataFrame,
}

/// Folds transactions into a cube in fixed-size chunks.
pub struct CubeBuilder {
    tz: Tz,
    chunk_rows: usize,
    terminal: Vec<String>,
    merchant: Vec<String>,
    name: Vec<String>,
    hour: Vec<i64>,
    code: Vec<String>,
    amount: Vec<i64>,
    parts: Vec<DataFrame>,
    /// (UTC hour, offset seconds) of the last lookup: offsets change a few times a year.
    offset_cache: (i64, i64),
}

impl CubeBuilder {
    pub fn new(tz: Tz) -> Self {
        Self::with_chunk_rows(tz, CHUNK_ROWS)
    }

    /// A builder that aggregates every `chunk_rows` rows (tests use tiny chunks to show the
    /// result does not depend on chunking).
    pub fn with_chunk_rows(tz: Tz, chunk_rows: usize) -> Self {
        CubeBuilder {
            tz,
            chunk_rows: chunk_rows.max(1),
            terminal: Vec::new(),
            merchant: Vec::new(),
            name: Vec::new(),
            hour: Vec::new(),
            code: Vec::new(),
            amount: Vec::new(),
            parts: Vec::new(),
            offset_cache: (i64::MIN, 0),
        }
    }

    /// Start of the local hour containing `ts`, as an instant.
    fn local_hour(&mut self, ts: i64) -> i64 {
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
        let offset = self.offset_cache.1;
        ts - (ts + offset).rem_euclid(3600)
    }

    pub fn push(&mut self, t: Txn) -> Result<()> {
        let hour = self.local_hour(t.ts);
        self.terminal.push(t.terminal_id);
        self.merchant.push(t.merchant_id);
        self.name.push(t.merchant_name);
        self.hour.push(hour);
        self.code.push(t.response_code);
        self.amount.push(t.amount_minor.unwrap_or(0));
        if self.hour.len() >= self.chunk_rows {
            self.flush()?;
        }
        Ok(())
    }

    fn flush(&mut self) -> Result<()> {
        if self.hour.is_empty() {
            return Ok(());
        }
        let n = self.hour.len();
        let df = DataFrame::new(
            n,
            vec![
                Column::new(TERMINAL.into(), std::mem::take(&mut self.terminal)),
                Column::new(MERCHANT.into(), std::mem::take(&mut self.merchant)),
                Column::new(MERCHANT_NAME.into(), std::mem::take(&mut self.name)),
                Column::new(HOUR.into(), std::mem::take(&mut self.hour)),
                Column::new(CODE.into(), std::mem::take(&mut self.code)),
                Column::new(AMOUNT.into(), std::mem::take(&mut self.amount)),
            ],
        )?;
        let part = df
            .lazy()
            .group_by(KEYS.map(col))
            .agg([
                len().cast(DataType::Int64).alias(COUNT),
                col(AMOUNT).sum().alias(AMOUNT),
            ])
            .collect()?;
        self.parts.push(part);
        if self.parts.len() >= MAX_PARTS {
            let merged = merge_frames(std::mem::take(&mut self.parts))?;
            self.parts.push(merged);
        }
        Ok(())
    }

    pub fn finish(mut self) -> Result<Cube> {
        self.flush()?;
        let df = if self.parts.is_empty() {
            empty_cube()?
        } else {
            merge_frames(self.parts)?
        };
        Cube::sorted(df)
    }
}

fn empty_cube() -> Result<DataFrame> {
    Ok(DataFrame::new(
        0,
        vec![
            Column::new(TERMINAL.into(), Vec::<String>::new()),
            Column::new(MERCHANT.into(), Vec::<String>::new()),
            Column::new(MERCHANT_NAME.into(), Vec::<String>::new()),
            Column::new(HOUR.into(), Vec::<i64>::new()),
            Column::new(CODE.into(), Vec::<String>::new()),
            Column::new(COUNT.into(), Vec::<i64>::new()),
            Column::new(AMOUNT.into(), Vec::<i64>::new()),
        ],
    )?)
}

/// Add cubes: concatenate and re-aggregate. Integer sums, so the result does not depend on
/// the order or chunking of the input.
fn merge_frames(parts: Vec<DataFrame>) -> Result<DataFrame> {
    let lazies: Vec<LazyFrame> = parts.into_iter().map(DataFrame::lazy).collect();
    Ok(concat(lazies, UnionArgs::default())?
        .group_by(KEYS.map(col))
        .agg([
            col(COUNT).sum().alias(COUNT),
            col(AMOUNT).sum().alias(AMOUNT),
        ])
        .collect()?)
}

/// One row of a rollup: the key values (in the order asked) and the sums.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cell {
    pub keys: Vec<KeyValue>,
    pub transactions: u64,
    pub amount_minor: i64,
}

/// A key value: text for terminal/merchant/code, an instant for the hour.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum KeyValue {
    Text(String),
    Hour(i64),
}

impl KeyValue {
    pub fn text(&self) -> &str {
        match self {
            KeyValue::Text(s) => s,
            KeyValue::Hour(_) => "",
        }
    }

    pub fn hour(&self) -> i64 {
        match self {
            KeyValue::Hour(h) => *h,
            KeyValue::Text(_) => 0,
        }
    }
}

impl Cube {
    /// Polars' group order is not stable: the cube is always kept sorted by its keys.
    fn sorted(df: DataFrame) -> Result<Cube> {
        let df = df.sort(KEYS, SortMultipleOptions::default())?;
        Ok(Cube { df })
    }

    /// Add another cube to this one.
    pub fn merge(self, other: Cube) -> Result<Cube> {
        Cube::sorted(merge_frames(vec![self.df, other.df])?)
    }

    /// The cube as Parquet bytes, with the time zone its hours were cut in (a constant
    /// column, so the file stands alone).
    pub fn to_parquet(&self, tz: Tz) -> Result<Vec<u8>> {
        let mut df = self.df.clone();
        let n = df.height();
        df.with_column(Column::new(TIME_ZONE.into(), vec![tz.name(); n]))?;
        let mut buf = Vec::new();
        ParquetWriter::new(&mut buf).finish(&mut df)?;
        Ok(buf)
    }

    /// Read a cube saved by [`Cube::to_parquet`]; returns it with the zone it was built in.
    pub fn from_parquet(path: &std::path::Path) -> Result<(Cube, Option<String>)> {
        let bad = |reason: String| crate::error::Error::BadInput {
            path: path.into(),
            reason,
        };
        let file = std::fs::File::open(path).map_err(|source| crate::error::Error::Open {
            path: path.into(),
            source,
        })?;
        let mut df = ParquetReader::new(file)
            .finish()
            .map_err(|e| bad(format!("not a poslens cube: {e}")))?;
        let tz = match df.column(TIME_ZONE) {
            Ok(c) => c.str().ok().and_then(|s| s.get(0)).map(str::to_string),
            Err(_) => None,
        };
        if tz.is_some() {
            df = df.drop(TIME_ZONE)?;
        }
        for (name, text) in [
            (TERMINAL, true),
            (MERCHANT, true),
            (MERCHANT_NAME, true),
            (HOUR, false),
            (CODE, true),
            (COUNT, false),
            (AMOUNT, false),
        ] {
            let ok = match df.column(name) {
                Ok(c) => {
                    if text {
                        c.dtype() == &DataType::String
                    } else {
                        c.dtype() == &DataType::Int64
                    }
                }
                Err(_) => false,
            };
            if !ok {
                return Err(bad(format!(
                    "not a poslens cube: column {name} missing or of the wrong type (write cubes with `poslens analyze --save-cube`)"
                )));
            }
        }
        let df = df.select(KEYS.iter().copied().chain([COUNT, AMOUNT]))?;
        Ok((Cube::sorted(merge_frames(vec![df])?)?, tz))
    }

    /// Keep the hours in `[since, until)`: the analysis window for saved cubes, at hour
    /// granularity (logs are windowed per transaction at ingest).
    pub fn window(self, since: Option<i64>, until: Option<i64>) -> Result<Cube> {
        if since.is_none() && until.is_none() {
            return Ok(self);
        }
        let mut keep = lit(true);
        if let Some(s) = since {
            keep = keep.and(col(HOUR).gt_eq(lit(s)));
        }
        if let Some(u) = until {
            keep = keep.and(col(HOUR).lt(lit(u)));
        }
        Cube::sorted(self.df.lazy().filter(keep).collect()?)
    }

    /// Number of cells.
    pub fn cells(&self) -> usize {
        self.df.height()
    }

    /// Total transactions in the cube.
    pub fn transactions(&self) -> Result<u64> {
        Ok(self.rollup(&[])?.first().map_or(0, |c| c.transactions))
    }

    /// Sum transactions and amounts over every dimension not named in `keys` (any of
    /// [`TERMINAL`], [`MERCHANT`], [`MERCHANT_NAME`], [`HOUR`], [`CODE`]); rows sorted by keys.
    pub fn rollup(&self, keys: &[&str]) -> Result<Vec<Cell>> {
        let aggs = [
            col(COUNT).sum().alias(COUNT),
            col(AMOUNT).sum().alias(AMOUNT),
        ];
        let df = if keys.is_empty() {
            self.df.clone().lazy().select(aggs).collect()?
        } else {
            self.df
                .clone()
                .lazy()
                .group_by(keys.iter().map(|k| col(*k)).collect::<Vec<_>>())
                .agg(aggs)
                .sort(keys.to_vec(), SortMultipleOptions::default())
                .collect()?
        };
        let counts = df.column(COUNT)?.i64()?;
        let amounts = df.column(AMOUNT)?.i64()?;
        let mut key_cols = Vec::new();
        for k in keys {
            key_cols.push(df.column(k)?.clone());
        }
        let mut out = Vec::with_capacity(df.height());
        for i in 0..df.height() {
            let mut kv = Vec::with_capacity(keys.len());
            for (k, c) in keys.iter().zip(&key_cols) {
                if *k == HOUR {
                    kv.push(KeyValue::Hour(c.i64()?.get(i).unwrap_or(0)));
                } else {
                    kv.push(KeyValue::Text(c.str()?.get(i).unwrap_or("").to_string()));
                }
            }
            out.push(Cell {
                keys: kv,
                transactions: counts.get(i).unwrap_or(0).max(0) as u64,
                amount_minor: amounts.get(i).unwrap_or(0),
            });
        }
        Ok(out)
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
            by[0].keys,
            vec![
                KeyValue::Text("T1".into()),
                KeyValue::Hour(36000),
                KeyValue::Text("00".into())
            ]
        );
        assert_eq!((by[0].transactions, by[0].amount_minor), (2, 350));
    }

    #[test]
    fn chunk_size_does_not_change_the_cube() {
        let txns: Vec<Txn> = (0..200)
            .map(|i| {
                txn(
                    i * 977 % 86400,
                    ["T1", "T2", "T3"][i as usize % 3],
                    ["00", "05", "91"][i as usize % 2],
                    i,
                )
            })
            .collect();
        let whole = build(&txns, "UTC").rollup(&KEYS).unwrap();
        for chunk in [1, 3, 17, 64] {
            let mut b = CubeBuilder::with_chunk_rows("UTC".parse().unwrap(), chunk);
            for t in &txns {
                b.push(t.clone()).unwrap();
            }
            assert_eq!(
                b.finish().unwrap().rollup(&KEYS).unwrap(),
                whole,
                "chunk {chunk}"
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
        assert_eq!(back.rollup(&KEYS).unwrap(), c.rollup(&KEYS).unwrap());
    }

    #[test]
    fn hours_follow_half_hour_zones() {
        // India is UTC+05:30: 10:10 UTC is 15:40 local, whose hour starts at 09:30 UTC.
        let c = build(&[txn(36600, "T1", "00", 1)], "Asia/Kolkata");
        let cells = c.rollup(&[HOUR]).unwrap();
        assert_eq!(cells[0].keys[0], KeyValue::Hour(34200));
    }

    #[test]
    fn merge_equals_building_at_once() {
        let a = [txn(0, "T1", "00", 1), txn(10, "T2", "05", 2)];
        let b = [txn(20, "T1", "00", 3), txn(7200, "T1", "91", 4)];
        let all: Vec<Txn> = a.iter().chain(b.iter()).cloned().collect();
        let merged = build(&a, "UTC").merge(build(&b, "UTC")).unwrap();
        let whole = build(&all, "UTC");
        assert_eq!(merged.rollup(&KEYS).unwrap(), whole.rollup(&KEYS).unwrap());
    }
}
