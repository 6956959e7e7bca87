//! The command line as the user types it (clap derive). Doc comments here are the `--help`
//! text. Nothing below `config.rs` sees these types: [`crate::config::Config`] is built from
//! them and validated there.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// Analyse card-payment terminal (POS) transaction logs: failure rates, response-code
/// explanations, faulty terminals.
#[derive(Debug, Parser)]
#[command(name = "poslens", version, about, propagate_version = true)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Read logs, classify every response code, and write reports, charts and CSV summaries.
    Analyze(AnalyzeArgs),
    /// Ingest only: reconciliation and reject reasons, no analysis.
    Validate(InputArgs),
    /// Explain response codes: class, meaning, likely causes, who acts, what to do.
    Codes(CodesArgs),
    /// Write realistic sample logs with known faults (the repo's sample_logs/ is made with it).
    Sample(SampleArgs),
    /// Print the SQL that computes the cube where the data lives (DuckDB, Spark SQL, Trino);
    /// render the cube files it makes with `analyze --cube`. Schema: docs/cube.md.
    CubeSql(CubeSqlArgs),
    /// Reports for one reader: `report weekly` writes merchant weekly reports.
    Report(ReportArgs),
    /// The acquirer's view: flagged terminals ranked by excess faults, with their evidence, on
    /// stdout. Exit status 3 with --fail-on-flagged when any terminal is flagged.
    // The input format keeps its meaning as --input-format here: --format is the output's.
    #[command(mut_arg("format", |a| a.long("input-format")))]
    Terminals(TerminalsArgs),
    /// The auditor's check: re-hash an output folder against its manifest.json and name every
    /// changed, missing or unlisted file (exit status 1 then).
    Verify(VerifyArgs),
}

#[derive(Debug, Args)]
pub struct ReportArgs {
    #[command(subcommand)]
    pub kind: ReportKind,
}

#[derive(Debug, Subcommand)]
pub enum ReportKind {
    /// Merchant weekly report(s): one week against the previous one, per merchant, as HTML,
    /// Markdown and JSON.
    Weekly(WeeklyArgs),
}

/// Options of the views that analyse like `analyze` but write one reader's view.
#[derive(Debug, Args, Clone, Default)]
pub struct ViewArgs {
    /// Minimum transactions before a terminal can be judged (below: insufficient_data).
    #[arg(long, value_name = "N")]
    pub min_volume: Option<u64>,

    /// False discovery rate for flagging terminals (Benjamini-Hochberg q).
    #[arg(long, value_name = "Q")]
    pub fdr: Option<f64>,

    /// Render from saved cubes instead of reading logs (repeatable; cubes are added up).
    #[arg(long = "cube", value_name = "FILE.parquet")]
    pub cubes: Vec<PathBuf>,
}

#[derive(Debug, Args)]
pub struct WeeklyArgs {
    #[command(flatten)]
    pub input: InputArgs,

    #[command(flatten)]
    pub view: ViewArgs,

    /// The ISO week to report, e.g. 2026-W45 (Monday to Sunday in --tz).
    #[arg(long, value_name = "YYYY-Www")]
    pub week: String,

    /// The merchant id to report on.
    #[arg(
        long,
        value_name = "ID",
        required_unless_present = "all_merchants",
        conflicts_with = "all_merchants"
    )]
    pub merchant: Option<String>,

    /// One report per merchant with data in the week or the one before, and an index page.
    #[arg(long)]
    pub all_merchants: bool,

    /// Output directory [default: reports/weekly-YYYY-Www].
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,

    /// Language of the report text.
    #[arg(long, value_enum)]
    pub lang: Option<LangArg>,
}

#[derive(Debug, Args)]
pub struct TerminalsArgs {
    #[command(flatten)]
    pub input: InputArgs,

    #[command(flatten)]
    pub view: ViewArgs,

    /// Output format on stdout (csv: the columns of flagged_terminals.csv).
    #[arg(long = "format", id = "output_format", value_enum, default_value_t = TerminalsFormat::Table)]
    pub output: TerminalsFormat,

    /// Exit with status 3 when any terminal is flagged (for cron jobs and monitoring).
    #[arg(long)]
    pub fail_on_flagged: bool,

    /// Exit with status 3 when any terminal went silent or far below its usual volume.
    #[arg(long)]
    pub fail_on_silent: bool,
}

#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// An output folder of `poslens analyze` (with its manifest.json).
    #[arg(value_name = "DIR")]
    pub dir: PathBuf,
}

#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum TerminalsFormat {
    Table,
    Csv,
    Json,
}

/// Options shared by every command that reads logs.
#[derive(Debug, Args, Clone, Default)]
pub struct InputArgs {
    /// Log files or directories (walked in sorted order); `.gz` files are decompressed.
    #[arg(value_name = "INPUT")]
    pub inputs: Vec<PathBuf>,

    /// Time zone (IANA name) for naive timestamps and for cutting periods.
    #[arg(long, value_name = "ZONE")]
    pub tz: Option<String>,

    /// Input text encoding.
    #[arg(long, value_enum)]
    pub encoding: Option<EncodingArg>,

    /// Column mapping, `field=Header` (repeatable), checked before the built-in aliases.
    #[arg(long = "map", value_name = "FIELD=HEADER")]
    pub map: Vec<String>,

    /// Input format (default: detected from the file name and content).
    #[arg(long, value_enum)]
    pub format: Option<FormatArg>,

    /// Excel inputs: the sheet to read (default: the first sheet).
    #[arg(long, value_name = "NAME")]
    pub sheet: Option<String>,

    /// Treat any rejected row as an error (exit status 1).
    #[arg(long)]
    pub strict: bool,

    /// Response-code profile: `auto` (default: ISO 8583:1987, 3-digit codes as ISO 8583:1993
    /// action codes), `iso8583`, `iso8583-1993` (alias `iso8583-2003`), `jpos-cmf`, `cup`, or a
    /// code file (TOML or CSV).
    #[arg(long, value_name = "P")]
    pub profile: Option<String>,

    /// Extra code table (TOML or CSV) that extends or overrides the profile.
    #[arg(long, value_name = "FILE")]
    pub codes: Option<PathBuf>,

    /// Only transactions at or after this time (RFC 3339 or YYYY-MM-DD, in --tz).
    #[arg(long, value_name = "TIME")]
    pub since: Option<String>,

    /// Only transactions before this time (RFC 3339 or YYYY-MM-DD, in --tz).
    #[arg(long, value_name = "TIME")]
    pub until: Option<String>,

    /// Attempts on one terminal for the same amount and card at most this far apart are one
    /// purchase (a customer retrying): `10m` (default), `90s`, `1h`.
    #[arg(long, value_name = "DURATION")]
    pub retry_window: Option<String>,

    /// Terminal attributes (CSV, TSV or Excel): `terminal_id` and any of model, firmware,
    /// app_version, store, region. Terminals are judged against their model's cohort.
    #[arg(long, value_name = "FILE")]
    pub inventory: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct AnalyzeArgs {
    #[command(flatten)]
    pub input: InputArgs,

    /// Output directory [default: reports/latest].
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,

    /// Period for rates over time.
    #[arg(long, value_enum)]
    pub bucket: Option<BucketArg>,

    /// Also write PNG charts beside the SVG ones.
    #[arg(long)]
    pub png: bool,

    /// Language of the report text.
    #[arg(long, value_enum)]
    pub lang: Option<LangArg>,

    /// Minimum transactions before a terminal can be judged (below: insufficient_data).
    #[arg(long, value_name = "N")]
    pub min_volume: Option<u64>,

    /// False discovery rate for flagging terminals (Benjamini-Hochberg q).
    #[arg(long, value_name = "Q")]
    pub fdr: Option<f64>,

    /// Also save the hourly cube (terminal × merchant × hour × code) as Parquet.
    #[arg(long, value_name = "FILE.parquet")]
    pub save_cube: Option<PathBuf>,

    /// Render from cube files instead of reading logs: files, folders of `*.parquet` or glob
    /// patterns (repeatable; cubes are added up; docs/cube.md).
    #[arg(long = "cube", value_name = "CUBE")]
    pub cubes: Vec<PathBuf>,
}

#[derive(Debug, Args)]
pub struct CodesArgs {
    /// The code to explain; without it, list the whole profile.
    pub code: Option<String>,

    /// Response-code profile: `auto` (default), `iso8583`, `iso8583-1993` (alias
    /// `iso8583-2003`), `jpos-cmf`, `cup`, or a code file.
    #[arg(long, value_name = "P")]
    pub profile: Option<String>,

    /// Extra code table (TOML or CSV) that extends or overrides the profile.
    #[arg(long, value_name = "FILE")]
    pub codes: Option<PathBuf>,

    /// Language of the explanation.
    #[arg(long, value_enum)]
    pub lang: Option<LangArg>,

    /// Output format.
    #[arg(long, value_enum, default_value_t = CodesFormat::Table)]
    pub format: CodesFormat,
}

#[derive(Debug, Args)]
pub struct CubeSqlArgs {
    /// SQL dialect.
    #[arg(long, value_enum)]
    pub dialect: crate::cubesql::Dialect,

    /// Time zone (IANA name) the hours are cut in, and naive timestamps are read in
    /// (default UTC); render the cube with the same --tz.
    #[arg(long, value_name = "ZONE")]
    pub tz: Option<String>,

    /// Table of raw transactions with the canonical columns; or, for DuckDB, a CSV or Parquet
    /// path or glob, and for Spark a Parquet path.
    #[arg(long, value_name = "TABLE_OR_PATH", default_value = "transactions")]
    pub source: String,

    /// Column mapping, `field=column` (repeatable); `field=` when the table has no such column.
    #[arg(long = "map", value_name = "FIELD=COLUMN")]
    pub map: Vec<String>,
}

#[derive(Debug, Args)]
pub struct SampleArgs {
    /// Directory to write the sample logs into.
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,

    /// Number of terminals.
    #[arg(long, default_value_t = 30)]
    pub terminals: u32,

    /// Number of days (starting on a Monday).
    #[arg(long, default_value_t = 28)]
    pub days: u32,

    /// Approximate total number of rows (default: about 110 per terminal and day).
    #[arg(long)]
    pub rows: Option<u64>,

    /// Random seed; the same seed gives the same bytes.
    #[arg(long, default_value_t = 42)]
    pub seed: u64,

    /// Write one uncompressed `transactions.csv`, streamed day by day (for benchmarks at tens
    /// of millions of rows), instead of weekly gzip files and the jPOS host log.
    #[arg(long)]
    pub one_file: bool,

    /// Days start at local midnight in this zone and timestamps are written as RFC 3339 with
    /// its offset (`2026-10-19T08:06:27+08:00`); default: naive UTC times.
    #[arg(long, value_name = "ZONE")]
    pub tz: Option<String>,

    /// Write a realistic acquirer fleet instead: `fleet.csv` (one CSV, time order),
    /// `inventory.csv` and the exact truth in `injected.toml`; 1500 terminals unless
    /// --terminals says otherwise (30, the plain default, is read as "not given").
    #[arg(long)]
    pub fleet: bool,
}

#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum EncodingArg {
    #[value(name = "utf-8", alias = "utf8")]
    Utf8,
    Gbk,
    Gb18030,
    Latin1,
}

#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum FormatArg {
    Csv,
    Tsv,
    Jsonl,
    Jpos,
    Parquet,
    /// Excel 2007+ workbook (`.xlsx`, `.xlsm`).
    Xlsx,
    /// Excel 97–2003 workbook (`.xls`).
    Xls,
}

#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum BucketArg {
    Hour,
    Day,
    Week,
}

#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum LangArg {
    En,
    Zh,
}

#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum CodesFormat {
    Table,
    Json,
    Csv,
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_definition_is_consistent() {
        Cli::command().debug_assert();
    }
}
