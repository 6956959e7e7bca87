//! `poslens cube-sql`: the SQL that computes the cube (`docs/cube.md`, version 1) where the
//! data lives — DuckDB, Spark SQL or Trino — from a table of raw transactions with the
//! canonical columns (or mapped ones).
//!
//! The SQL follows ingest's rules for the shapes such a table holds: the same trimming, the
//! same reasons to reject a row (in the same order), the same response-code normalisation
//! (`5` → `05`, upper case, quotes and spaces trimmed), amounts to integer minor units by the
//! currency's exponent (the same ISO 4217 lists; refunds, negative amounts, add nothing to the
//! sum), the same duplicate key, and the hour cut in
//! the zone by the instant's own offset. It prints two queries: the cube, and the
//! reconciliation (rows read, accepted, rejected by reason, duplicate). Classification stays
//! at render time, as for cubes poslens saves itself.
//!
//! Timestamps: RFC 3339 / ISO 8601 text (`2026-11-05T14:30:05+08:00`, `… 14:30:05.123Z`,
//! `2026/11/05 14:30:05`), with an offset or naive in `--tz`. Other shapes poslens reads from
//! files (epoch numbers, `YYYYMMDDHHMMSS`, Excel serials) are counted as unparseable here: a
//! lake table holds them as the engine's own timestamp type or this text.

use std::fmt::Write as _;

use chrono_tz::Tz;

use crate::cube::{AMOUNT, CODE, COUNT, HOUR, MERCHANT, MERCHANT_NAME, TERMINAL, TIME_ZONE};
use crate::error::{Error, Result};
use crate::ingest::normalize::{EXPONENT_0, EXPONENT_3};

/// The SQL engines `cube-sql` writes for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Dialect {
    Duckdb,
    Spark,
    Trino,
}

/// The raw columns the cube needs, by canonical field name.
const FIELDS: [&str; 8] = [
    "timestamp",
    "terminal_id",
    "merchant_id",
    "merchant_name",
    "txn_id",
    "amount",
    "currency",
    "response_code",
];

/// What to generate.
#[derive(Debug, Clone)]
pub struct Options {
    pub dialect: Dialect,
    pub tz: Tz,
    /// Table name, or (DuckDB, Spark) a file path or glob.
    pub source: String,
    /// `field=column` pairs; an empty column means the table has no such column.
    pub map: Vec<String>,
}

/// The two queries, cube first, each introduced by a `-- poslens:` comment line.
pub fn generate(opts: &Options) -> Result<String> {
    let d = opts.dialect;
    let columns = columns(opts)?;
    let body = rows_cte(d, opts.tz, &opts.source, &columns);
    let tz = opts.tz.name();
    let mut out = String::new();
    let _ = writeln!(
        out,
        "-- poslens cube v1 ({}) from {}, hours cut in {tz} (docs/cube.md)",
        dialect_name(d),
        opts.source
    );
    if let Some(set) = session_utc(d) {
        let _ = writeln!(out, "{set};");
    }
    let _ = writeln!(out, "\n-- poslens:cube");
    let _ = write!(
        out,
        "{body}\nSELECT terminal_id AS {TERMINAL}, merchant_id AS {MERCHANT},
       merchant_name AS {MERCHANT_NAME},
       CAST(hour AS BIGINT) AS {HOUR}, code AS {CODE},
       CAST(COUNT(*) AS BIGINT) AS {COUNT},
       CAST(SUM(CASE WHEN amount_minor > 0 THEN amount_minor ELSE 0 END) AS BIGINT) AS {AMOUNT},
       '{tz}' AS {TIME_ZONE}
FROM unique_rows
GROUP BY terminal_id, merchant_id, merchant_name, hour, code
ORDER BY {TERMINAL}, {MERCHANT}, {MERCHANT_NAME}, {HOUR}, {CODE};\n"
    );
    let _ = writeln!(out, "\n-- poslens:reconciliation");
    let _ = write!(
        out,
        "{body}
SELECT 'rows_read' AS item, CAST(COUNT(*) AS BIGINT) AS row_count FROM checked
UNION ALL
SELECT 'rows_accepted', CAST(COUNT(*) AS BIGINT) FROM unique_rows
UNION ALL
SELECT 'rows_duplicate', CAST((SELECT COUNT(*) FROM accepted) - (SELECT COUNT(*) FROM unique_rows) AS BIGINT)
UNION ALL
SELECT 'rejected: ' || reject, CAST(COUNT(*) AS BIGINT) FROM checked WHERE reject IS NOT NULL GROUP BY reject
ORDER BY item;\n"
    );
    Ok(out)
}

fn dialect_name(d: Dialect) -> &'static str {
    match d {
        Dialect::Duckdb => "DuckDB",
        Dialect::Spark => "Spark SQL",
        Dialect::Trino => "Trino",
    }
}

/// Timestamps without an offset are turned into instants explicitly; the session zone is set
/// to UTC so that nothing else depends on it.
fn session_utc(d: Dialect) -> Option<&'static str> {
    match d {
        Dialect::Duckdb => Some("SET TimeZone = 'UTC'"),
        Dialect::Spark => Some("SET spark.sql.session.timeZone = UTC"),
        // Trino's session zone is a client property; nothing below depends on it.
        Dialect::Trino => None,
    }
}

/// Per canonical field, the source column (quoted) or None when the table has none.
fn columns(opts: &Options) -> Result<Vec<(&'static str, Option<String>)>> {
    let mut cols: Vec<(&'static str, Option<String>)> = FIELDS
        .iter()
        .map(|f| (*f, Some(quote_ident(opts.dialect, f))))
        .collect();
    for pair in &opts.map {
        let (field, column) = pair
            .split_once('=')
            .ok_or_else(|| Error::Usage(format!("--map expects field=column, got {pair:?}")))?;
        let slot = cols
            .iter_mut()
            .find(|(f, _)| *f == field.trim())
            .ok_or_else(|| {
                Error::Usage(format!(
                    "--map: cube-sql reads the fields {}; got {field:?}",
                    FIELDS.join(", ")
                ))
            })?;
        let column = column.trim();
        slot.1 = (!column.is_empty()).then(|| quote_ident(opts.dialect, column));
    }
    for required in ["timestamp", "terminal_id", "response_code"] {
        if cols.iter().any(|(f, c)| *f == required && c.is_none()) {
            return Err(Error::Usage(format!(
                "--map: {required} is required and cannot be left out"
            )));
        }
    }
    Ok(cols)
}

fn quote_ident(d: Dialect, name: &str) -> String {
    match d {
        Dialect::Spark => format!("`{}`", name.replace('`', "``")),
        Dialect::Duckdb | Dialect::Trino => format!("\"{}\"", name.replace('"', "\"\"")),
    }
}

fn quote_str(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

/// The FROM item for `--source`: a table name as given, or a file path read by the engine.
fn from_item(d: Dialect, source: &str) -> String {
    let lower = source.to_ascii_lowercase();
    let is_csv = [".csv", ".csv.gz", ".tsv", ".tsv.gz"]
        .iter()
        .any(|e| lower.ends_with(e));
    let is_path = source.contains('/') || source.contains('*') || lower.ends_with(".parquet");
    match d {
        Dialect::Duckdb if is_csv => format!(
            "read_csv({}, all_varchar = true, header = true, null_padding = true)",
            quote_str(source)
        ),
        Dialect::Duckdb if is_path => format!(
            "read_parquet({}, hive_partitioning = true, union_by_name = true)",
            quote_str(source)
        ),
        Dialect::Spark if is_path => format!("parquet.`{}`", source.replace('`', "``")),
        _ => source.to_string(),
    }
}

/// `^…$` regular-expression test in each dialect. Patterns avoid backslashes (`[.]`, not
/// `\.`): Spark SQL unescapes them inside string literals.
fn matches(d: Dialect, expr: &str, pattern: &str) -> String {
    let p = quote_str(&format!("^(?:{pattern})$"));
    match d {
        Dialect::Duckdb => format!("regexp_matches({expr}, {p})"),
        Dialect::Spark => format!("({expr} RLIKE {p})"),
        Dialect::Trino => format!("regexp_like({expr}, {p})"),
    }
}

fn text_of(d: Dialect, col: &Option<String>) -> String {
    let ty = if d == Dialect::Spark {
        "STRING"
    } else {
        "VARCHAR"
    };
    match col {
        Some(c) => format!("NULLIF(TRIM(CAST({c} AS {ty})), '')"),
        None => format!("CAST(NULL AS {ty})"),
    }
}

/// Epoch seconds of timestamp text with an offset (`+08:00`, `Z`).
fn instant_with_offset(d: Dialect, t: &str) -> String {
    match d {
        Dialect::Duckdb => {
            format!("CAST(floor(epoch(TRY_CAST({t} AS TIMESTAMPTZ))) AS BIGINT)")
        }
        Dialect::Spark => format!("unix_seconds(try_cast({t} AS TIMESTAMP))"),
        Dialect::Trino => format!(
            "CAST(floor(to_unixtime(try(from_iso8601_timestamp(replace({t}, ' ', 'T'))))) AS BIGINT)"
        ),
    }
}

/// Epoch seconds of naive timestamp text read as wall-clock time in `tz`.
fn instant_in_zone(d: Dialect, t: &str, tz: &str) -> String {
    let z = quote_str(tz);
    match d {
        Dialect::Duckdb => format!(
            "CAST(floor(epoch(timezone({z}, TRY_CAST({t} AS TIMESTAMP)))) AS BIGINT)"
        ),
        Dialect::Spark => {
            format!("unix_seconds(to_utc_timestamp(try_cast({t} AS TIMESTAMP), {z}))")
        }
        Dialect::Trino => format!(
            "CAST(floor(to_unixtime(with_timezone(try(CAST(replace({t}, 'T', ' ') AS TIMESTAMP(6))), {z}))) AS BIGINT)"
        ),
    }
}

/// Start of the local hour holding instant `e` (epoch seconds), as epoch seconds: the
/// instant minus its local wall-clock time within the hour, by the zone's offset at `e`
/// (so half-hour zones and DST days come out as poslens cuts them).
fn local_hour(d: Dialect, e: &str, tz: &str) -> String {
    let z = quote_str(tz);
    let wall = match d {
        Dialect::Duckdb => format!("CAST(epoch(timezone({z}, to_timestamp({e}))) AS BIGINT)"),
        Dialect::Spark => format!("unix_seconds(from_utc_timestamp(timestamp_seconds({e}), {z}))"),
        Dialect::Trino => format!(
            "({e} + timezone_hour(at_timezone(from_unixtime({e}), {z})) * 3600 + timezone_minute(at_timezone(from_unixtime({e}), {z})) * 60)"
        ),
    };
    format!("{e} - ((({wall}) % 3600) + 3600) % 3600")
}

/// Amount text (commas dropped) to minor units, or NULL when poslens would not read it.
fn amount_minor(d: Dialect, a: &str, exponent: &str) -> String {
    // Digits with at most `e` significant decimals (more are allowed only as zeros), as
    // ingest's parse_plain_amount: `5.`, `.5` and `-12.50` read, `.`, `+5` and `1e3` do not.
    let pattern = |e: usize| {
        let frac = if e == 0 {
            "0*".to_string()
        } else {
            format!("[0-9]{{0,{e}}}0*")
        };
        let dot_only = if e == 0 {
            "0+".to_string()
        } else {
            format!("[0-9]{{1,{e}}}0*")
        };
        format!("-?(?:[0-9]+(?:[.]{frac})?|[.]{dot_only})")
    };
    let cast = |ty: &str| match d {
        Dialect::Trino => format!("try(CAST({a} AS {ty}))"),
        Dialect::Duckdb => format!("TRY_CAST({a} AS {ty})"),
        Dialect::Spark => format!("try_cast({a} AS {ty})"),
    };
    let scaled = format!(
        "{} * CASE {exponent} WHEN 0 THEN 1 WHEN 3 THEN 1000 ELSE 100 END",
        cast("DECIMAL(38, 10)")
    );
    let to_bigint = match d {
        Dialect::Trino => format!("try(CAST({scaled} AS BIGINT))"),
        Dialect::Duckdb => format!("TRY_CAST({scaled} AS BIGINT)"),
        Dialect::Spark => format!("try_cast({scaled} AS BIGINT)"),
    };
    format!(
        "CASE WHEN CASE {exponent} WHEN 0 THEN {} WHEN 3 THEN {} ELSE {} END THEN {to_bigint} END",
        matches(d, a, &pattern(0)),
        matches(d, a, &pattern(3)),
        matches(d, a, &pattern(2)),
    )
}

/// The CTEs shared by both queries: `checked` (every row with its reject reason or its
/// values), `accepted`, `unique_rows` (duplicates dropped).
fn rows_cte(
    d: Dialect,
    tz: Tz,
    source: &str,
    columns: &[(&'static str, Option<String>)],
) -> String {
    let col = |f: &str| {
        columns
            .iter()
            .find(|(name, _)| *name == f)
            .map(|(_, c)| c.clone())
            .unwrap_or(None)
    };
    let tz = tz.name();
    let list = |l: &[&str]| {
        l.iter()
            .map(|c| quote_str(c))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let ts_shape = "[0-9]{4}-[0-9]{2}-[0-9]{2}[ T][0-9]{2}:[0-9]{2}:[0-9]{2}(?:[.][0-9]{1,9})?";
    let offset = "(?:Z|[+-][0-9]{2}:?[0-9]{2})";
    let ts_text = "replace(ts_text, '/', '-')";
    let has_offset = matches(d, ts_text, &format!("{ts_shape} ?{offset}"));
    let naive = matches(d, ts_text, ts_shape);
    let code_ok = matches(d, "code_text", "[0-9A-Za-z]{1,8}");
    let one_digit = matches(d, "code_text", "[0-9]");
    format!(
        "WITH raw AS (
  SELECT {ts} AS ts_text,
         {terminal} AS terminal_id,
         COALESCE({merchant}, '') AS merchant_id,
         COALESCE({name}, '') AS merchant_name,
         {txn} AS txn_id,
         {amount} AS amount_raw,
         replace({amount}, ',', '') AS amount_text,
         {currency} AS currency_text,
         {code} AS code_raw,
         NULLIF(TRIM(TRIM(BOTH '\"' FROM {code})), '') AS code_text
  FROM {from}
),
parsed AS (
  SELECT raw.*,
         CASE WHEN {has_offset} THEN {with_offset}
              WHEN {naive} THEN {in_zone} END AS ts,
         CASE WHEN UPPER(currency_text) IN ({e0}) THEN 0
              WHEN UPPER(currency_text) IN ({e3}) THEN 3 ELSE 2 END AS exponent
  FROM raw
),
checked AS (
  SELECT parsed.*,
         CASE WHEN ts_text IS NULL THEN 'empty timestamp'
              WHEN ts IS NULL THEN 'unparseable timestamp'
              WHEN terminal_id IS NULL THEN 'empty terminal_id'
              WHEN code_text IS NULL THEN 'empty response code'
              WHEN NOT {code_ok} THEN 'invalid response code' END AS reject,
         CASE WHEN {one_digit} THEN '0' || code_text ELSE UPPER(code_text) END AS code,
         {amount_minor} AS amount_minor
  FROM parsed
),
accepted AS (
  SELECT * FROM checked WHERE reject IS NULL
),
-- The duplicate key: the same transaction exported twice (README, Input). Rows without a
-- txn_id are never duplicates.
unique_rows AS (
  SELECT terminal_id, merchant_id, merchant_name, hour, code, amount_minor FROM (
    SELECT DISTINCT terminal_id, txn_id, ts_text, code_raw, amount_raw, currency_text,
           merchant_id, merchant_name, {hour} AS hour, code, amount_minor
    FROM accepted WHERE txn_id IS NOT NULL
  ) AS distinct_rows
  UNION ALL
  SELECT terminal_id, merchant_id, merchant_name, {hour} AS hour, code, amount_minor
  FROM accepted WHERE txn_id IS NULL
)",
        ts = text_of(d, &col("timestamp")),
        terminal = text_of(d, &col("terminal_id")),
        merchant = text_of(d, &col("merchant_id")),
        name = text_of(d, &col("merchant_name")),
        txn = text_of(d, &col("txn_id")),
        amount = text_of(d, &col("amount")),
        currency = text_of(d, &col("currency")),
        code = text_of(d, &col("response_code")),
        from = from_item(d, source),
        with_offset = instant_with_offset(d, ts_text),
        in_zone = instant_in_zone(d, ts_text, tz),
        e0 = list(&EXPONENT_0),
        e3 = list(&EXPONENT_3),
        amount_minor = amount_minor(d, "amount_text", "exponent"),
        hour = local_hour(d, "ts", tz),
    )
}
