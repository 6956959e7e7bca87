//! A validated configuration, built from the command line and an optional `poslens.toml` in the
//! working directory (command-line values win). Nothing below this module sees clap types, and
//! nothing past this point has to re-check a user's option.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use chrono::{NaiveDate, TimeZone};
use chrono_tz::Tz;
use serde::Deserialize;

use crate::classify::Catalog;
use crate::cli::{AnalyzeArgs, BucketArg, CodesArgs, EncodingArg, FormatArg, InputArgs, LangArg};
use crate::error::{Error, Result};
use crate::ingest::schema::Mapping;

/// Input formats poslens reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    Csv,
    Tsv,
    Jsonl,
    Jpos,
    Parquet,
    /// Excel 2007+ workbook.
    Xlsx,
    /// Excel 97–2003 workbook.
    Xls,
    /// A cube saved by `analyze --save-cube`.
    Cube,
}

/// Period for rates over time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Bucket {
    Hour,
    Day,
    /// ISO weeks, Monday start, in the report time zone.
    Week,
}

/// Language of explanations and report text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Lang {
    En,
    Zh,
}

/// How to read the inputs.
#[derive(Debug, Clone)]
pub struct IngestConfig {
    /// Files and directories as given; directories are walked in sorted order.
    pub inputs: Vec<PathBuf>,
    /// Zone in which naive timestamps are read.
    pub tz: Tz,
    /// Text encoding of CSV inputs.
    pub encoding: &'static encoding_rs::Encoding,
    /// User column mapping on top of the built-in aliases.
    pub mapping: Mapping,
    /// Forced format; None = detect per file.
    pub format: Option<Format>,
    /// The sheet of Excel inputs to read; None = the first.
    pub sheet: Option<String>,
    /// Any rejected row makes the run fail.
    pub strict: bool,
    /// Analysis window, epoch seconds, `[since, until)`.
    pub since: Option<i64>,
    pub until: Option<i64>,
    /// Purchases and lost sales: the retry window and which codes approve. None: not
    /// counted (`validate`, which has no catalog).
    pub retry: Option<crate::cube::RetryRule>,
    /// Which codes are terminal-class: their rows are kept as evidence (file, line) for the
    /// flags. None: no evidence (`validate`).
    pub evidence: Option<CodeRule>,
}

/// A question about a code that ingest asks the catalog (ingest knows no classes).
#[derive(Clone)]
pub struct CodeRule(pub std::sync::Arc<dyn Fn(&str) -> bool + Send + Sync>);

impl std::fmt::Debug for CodeRule {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CodeRule")
    }
}

/// How to analyse and report.
#[derive(Debug, Clone)]
pub struct AnalyzeConfig {
    pub bucket: Bucket,
    pub lang: Lang,
    /// Minimum transactions before a terminal is judged.
    pub min_volume: u64,
    /// Benjamini-Hochberg false discovery rate for flagged terminals.
    pub fdr: f64,
    pub out: PathBuf,
    pub png: bool,
    /// Where to save the cube, if asked.
    pub save_cube: Option<PathBuf>,
    /// Saved cubes to render from instead of reading logs.
    pub cubes: Vec<PathBuf>,
    /// Terminal attributes from `--inventory` (the logs' own values win).
    pub inventory: crate::cube::attrs::AttrMap,
}

/// Everything `analyze` needs, validated.
pub struct Config {
    pub ingest: IngestConfig,
    pub analyze: AnalyzeConfig,
    pub catalog: Catalog,
    /// The options as the user set them, for the manifest (sorted for stable output).
    pub options: BTreeMap<String, String>,
}

/// `poslens.toml`: any option of the command line, by its long name.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    tz: Option<String>,
    inventory: Option<PathBuf>,
    bucket: Option<String>,
    since: Option<String>,
    until: Option<String>,
    profile: Option<String>,
    codes: Option<PathBuf>,
    encoding: Option<String>,
    format: Option<String>,
    sheet: Option<String>,
    strict: Option<bool>,
    png: Option<bool>,
    lang: Option<String>,
    out: Option<PathBuf>,
    min_volume: Option<u64>,
    fdr: Option<f64>,
    retry_window: Option<String>,
    #[serde(default)]
    map: BTreeMap<String, String>,
}

const CONFIG_FILE: &str = "poslens.toml";

fn load_file_config() -> Result<FileConfig> {
    let path = Path::new(CONFIG_FILE);
    if !path.exists() {
        return Ok(FileConfig::default());
    }
    let text = std::fs::read_to_string(path).map_err(|source| Error::Open {
        path: path.into(),
        source,
    })?;
    toml::from_str(&text).map_err(|e| Error::Usage(format!("{CONFIG_FILE}: {e}")))
}

pub fn parse_tz(s: &str) -> Result<Tz> {
    s.parse::<Tz>().map_err(|_| {
        Error::Usage(format!(
            "unknown time zone {s:?}: use an IANA name such as UTC, Asia/Shanghai or Europe/Berlin"
        ))
    })
}

fn parse_encoding(s: &str) -> Result<&'static encoding_rs::Encoding> {
    match s.to_ascii_lowercase().as_str() {
        "utf-8" | "utf8" => Ok(encoding_rs::UTF_8),
        "gbk" => Ok(encoding_rs::GBK),
        "gb18030" => Ok(encoding_rs::GB18030),
        // encoding_rs (per the WHATWG standard) reads latin1 as windows-1252, a superset in
        // which every byte decodes.
        "latin1" | "iso-8859-1" => Ok(encoding_rs::WINDOWS_1252),
        _ => Err(Error::Usage(format!(
            "unknown encoding {s:?}: use utf-8, gbk, gb18030 or latin1"
        ))),
    }
}

fn encoding_name(e: EncodingArg) -> &'static str {
    match e {
        EncodingArg::Utf8 => "utf-8",
        EncodingArg::Gbk => "gbk",
        EncodingArg::Gb18030 => "gb18030",
        EncodingArg::Latin1 => "latin1",
    }
}

fn parse_format(s: &str) -> Result<Format> {
    Ok(match s {
        "csv" => Format::Csv,
        "tsv" => Format::Tsv,
        "jsonl" => Format::Jsonl,
        "jpos" => Format::Jpos,
        "parquet" => Format::Parquet,
        "xlsx" => Format::Xlsx,
        "xls" => Format::Xls,
        _ => {
            return Err(Error::Usage(format!(
                "unknown format {s:?}: use csv, tsv, jsonl, jpos, parquet, xlsx or xls"
            )))
        }
    })
}

fn format_from_arg(f: FormatArg) -> Format {
    match f {
        FormatArg::Csv => Format::Csv,
        FormatArg::Tsv => Format::Tsv,
        FormatArg::Jsonl => Format::Jsonl,
        FormatArg::Jpos => Format::Jpos,
        FormatArg::Parquet => Format::Parquet,
        FormatArg::Xlsx => Format::Xlsx,
        FormatArg::Xls => Format::Xls,
    }
}

fn parse_bucket(s: &str) -> Result<Bucket> {
    Ok(match s {
        "hour" => Bucket::Hour,
        "day" => Bucket::Day,
        "week" => Bucket::Week,
        _ => {
            return Err(Error::Usage(format!(
                "unknown bucket {s:?}: use hour, day or week"
            )))
        }
    })
}

fn parse_lang(s: &str) -> Result<Lang> {
    Ok(match s {
        "en" => Lang::En,
        "zh" => Lang::Zh,
        _ => {
            return Err(Error::Usage(format!(
                "unknown language {s:?}: use en or zh"
            )))
        }
    })
}

/// A window bound: RFC 3339, or a naive date / date-time read in `tz`.
fn parse_bound(s: &str, tz: Tz, what: &str) -> Result<i64> {
    if let Ok(t) = crate::ingest::normalize::parse_timestamp(s, tz) {
        return Ok(t);
    }
    if let Ok(d) = NaiveDate::parse_from_str(s, "%Y-%m-%d") {
        let local = d.and_hms_opt(0, 0, 0).expect("midnight exists");
        if let Some(t) = tz.from_local_datetime(&local).earliest() {
            return Ok(t.timestamp());
        }
    }
    Err(Error::Usage(format!(
        "--{what} {s:?}: use YYYY-MM-DD or an RFC 3339 time"
    )))
}

impl IngestConfig {
    /// Build from `validate`/`analyze` input options and the config file.
    fn build(
        args: &InputArgs,
        file: &FileConfig,
        options: &mut BTreeMap<String, String>,
    ) -> Result<IngestConfig> {
        let tz_name = args
            .tz
            .clone()
            .or(file.tz.clone())
            .unwrap_or_else(|| "UTC".into());
        let tz = parse_tz(&tz_name)?;
        options.insert("tz".into(), tz_name);

        let enc_name = match (args.encoding, &file.encoding) {
            (Some(e), _) => encoding_name(e).to_string(),
            (None, Some(s)) => s.clone(),
            (None, None) => "utf-8".into(),
        };
        let encoding = parse_encoding(&enc_name)?;
        options.insert("encoding".into(), enc_name);

        let mut pairs: Vec<String> = file.map.iter().map(|(k, v)| format!("{k}={v}")).collect();
        pairs.extend(args.map.iter().cloned());
        let mapping = Mapping::parse(&pairs).map_err(Error::Usage)?;
        if !pairs.is_empty() {
            options.insert("map".into(), pairs.join(","));
        }

        let format = match (args.format, &file.format) {
            (Some(f), _) => Some(format_from_arg(f)),
            (None, Some(s)) => Some(parse_format(s)?),
            (None, None) => None,
        };
        if let Some(f) = format {
            options.insert("format".into(), format!("{f:?}").to_lowercase());
        }
        let sheet = args.sheet.clone().or(file.sheet.clone());
        if let Some(name) = &sheet {
            options.insert("sheet".into(), name.clone());
        }
        let strict = args.strict || file.strict.unwrap_or(false);
        options.insert("strict".into(), strict.to_string());

        let since = match args.since.as_ref().or(file.since.as_ref()) {
            Some(s) => {
                options.insert("since".into(), s.clone());
                Some(parse_bound(s, tz, "since")?)
            }
            None => None,
        };
        let until = match args.until.as_ref().or(file.until.as_ref()) {
            Some(s) => {
                options.insert("until".into(), s.clone());
                Some(parse_bound(s, tz, "until")?)
            }
            None => None,
        };
        if let (Some(a), Some(b)) = (since, until) {
            if a >= b {
                return Err(Error::Usage("--since must be before --until".into()));
            }
        }
        Ok(IngestConfig {
            evidence: None,
            inputs: args.inputs.clone(),
            tz,
            encoding,
            mapping,
            format,
            sheet,
            strict,
            since,
            until,
            retry: None,
        })
    }
}

/// `--retry-window`: `600`, `600s`, `10m`, `1h`; at most a day (a customer does not come back
/// to the till a day later for the same purchase).
fn parse_retry_window(s: &str) -> Result<i64> {
    let t = s.trim();
    let (num, unit) = t.split_at(t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len()));
    let scale = match unit.trim() {
        "" | "s" => 1,
        "m" | "min" => 60,
        "h" => 3600,
        _ => 0,
    };
    match num.parse::<i64>() {
        Ok(n) if scale > 0 && n * scale <= 86_400 => Ok(n * scale),
        _ => Err(Error::Usage(format!(
            "--retry-window {s:?}: give a duration such as 10m, 90s or 1h (at most 24h)"
        ))),
    }
}

fn load_catalog(
    profile: Option<&String>,
    codes: Option<&PathBuf>,
    file: &FileConfig,
    options: &mut BTreeMap<String, String>,
) -> Result<Catalog> {
    let profile = profile
        .cloned()
        .or(file.profile.clone())
        .unwrap_or_else(|| crate::classify::AUTO.into());
    let codes = codes.cloned().or(file.codes.clone());
    options.insert("profile".into(), profile.clone());
    if let Some(c) = &codes {
        options.insert("codes".into(), c.display().to_string());
    }
    Catalog::load(&profile, codes.as_deref())
}

/// Validated configuration for `analyze`.
pub fn for_analyze(args: &AnalyzeArgs) -> Result<Config> {
    let file = load_file_config()?;
    let mut options = BTreeMap::new();
    match (args.input.inputs.is_empty(), args.cubes.is_empty()) {
        (true, true) => return Err(Error::Usage(
            "give the logs to read (files or directories), or --cube FILE to render saved cubes"
                .into(),
        )),
        (false, false) => {
            return Err(Error::Usage(
                "give either logs to read or --cube files, not both".into(),
            ))
        }
        _ => {}
    }
    let ingest = IngestConfig::build(&args.input, &file, &mut options)?;
    let catalog = load_catalog(
        args.input.profile.as_ref(),
        args.input.codes.as_ref(),
        &file,
        &mut options,
    )?;
    let mut ingest = ingest;
    let window = match args
        .input
        .retry_window
        .as_ref()
        .or(file.retry_window.as_ref())
    {
        Some(w) => parse_retry_window(w)?,
        None => 600,
    };
    options.insert("retry_window".into(), format!("{window}s"));
    let approving = std::sync::Arc::new(catalog.clone());
    let faulting = approving.clone();
    ingest.evidence = Some(CodeRule(std::sync::Arc::new(move |code: &str| {
        faulting.class_of(code) == crate::classify::Class::Terminal
    })));
    ingest.retry = Some(crate::cube::RetryRule {
        window,
        approved: std::sync::Arc::new(move |code: &str| {
            approving.class_of(code) == crate::classify::Class::Approved
        }),
    });

    let bucket = match (args.bucket, &file.bucket) {
        (Some(BucketArg::Hour), _) => Bucket::Hour,
        (Some(BucketArg::Day), _) => Bucket::Day,
        (Some(BucketArg::Week), _) => Bucket::Week,
        (None, Some(s)) => parse_bucket(s)?,
        (None, None) => Bucket::Day,
    };
    options.insert("bucket".into(), format!("{bucket:?}").to_lowercase());
    let lang = lang_of(args.lang, &file)?;
    options.insert("lang".into(), format!("{lang:?}").to_lowercase());
    let min_volume = args.min_volume.or(file.min_volume).unwrap_or(200);
    options.insert("min_volume".into(), min_volume.to_string());
    let fdr = args.fdr.or(file.fdr).unwrap_or(0.01);
    if !(fdr > 0.0 && fdr < 1.0) {
        return Err(Error::Usage(format!(
            "--fdr must be between 0 and 1, got {fdr}"
        )));
    }
    options.insert("fdr".into(), fdr.to_string());
    let png = args.png || file.png.unwrap_or(false);
    options.insert("png".into(), png.to_string());
    let inventory_path = args.input.inventory.clone().or(file.inventory.clone());
    let inventory = match &inventory_path {
        Some(p) => {
            options.insert("inventory".into(), p.display().to_string());
            crate::ingest::inventory::read(p)?
        }
        None => Default::default(),
    };
    let out = args
        .out
        .clone()
        .or(file.out.clone())
        .unwrap_or_else(|| PathBuf::from("reports/latest"));
    Ok(Config {
        ingest,
        analyze: AnalyzeConfig {
            bucket,
            lang,
            min_volume,
            fdr,
            out,
            png,
            save_cube: args.save_cube.clone(),
            cubes: args.cubes.clone(),
            inventory,
        },
        catalog,
        options,
    })
}

/// Validated configuration for `validate` (ingest only).
pub fn for_validate(args: &InputArgs) -> Result<IngestConfig> {
    if args.inputs.is_empty() {
        return Err(Error::Usage(
            "give the logs to validate (files or directories)".into(),
        ));
    }
    let file = load_file_config()?;
    IngestConfig::build(args, &file, &mut BTreeMap::new())
}

/// The catalog and language for `codes`.
pub fn for_codes(args: &CodesArgs) -> Result<(Catalog, Lang)> {
    let file = load_file_config()?;
    let catalog = load_catalog(
        args.profile.as_ref(),
        args.codes.as_ref(),
        &file,
        &mut BTreeMap::new(),
    )?;
    Ok((catalog, lang_of(args.lang, &file)?))
}

fn lang_of(arg: Option<LangArg>, file: &FileConfig) -> Result<Lang> {
    Ok(match (arg, &file.lang) {
        (Some(LangArg::En), _) => Lang::En,
        (Some(LangArg::Zh), _) => Lang::Zh,
        (None, Some(s)) => parse_lang(s)?,
        (None, None) => Lang::En,
    })
}

/// Validated configuration for a view that analyses as `analyze` does (`terminals`,
/// `report weekly`): the same inputs, `poslens.toml`, catalog and judgement options.
pub fn for_view(
    input: &InputArgs,
    view: &crate::cli::ViewArgs,
    lang: Option<LangArg>,
    out: Option<PathBuf>,
) -> Result<Config> {
    for_analyze(&AnalyzeArgs {
        input: input.clone(),
        out,
        bucket: None,
        png: false,
        lang,
        min_volume: view.min_volume,
        fdr: view.fdr,
        save_cube: None,
        cubes: view.cubes.clone(),
    })
}
