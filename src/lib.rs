//! poslens: a batch analyzer for card-payment terminal (POS) transaction logs.
//!
//! Data flows one way through the stages:
//!
//! ```text
//!  INPUT files ──► ingest ──► classify ──► cube ──────► analyze ──► report ──► render ──► DIR/
//!  (csv, gz, …)   (readers,   (catalog:    (terminal ×  (rates,     (one      (html, md,
//!                  rejects,    code →       merchant ×   terminals,  model)    csv, json,
//!                  dedupe)     class)       hour × code) outages)              charts)
//! ```
//!
//! - [`ingest`] turns every input into clean transactions and accounts for every row
//!   (`rows_read = rows_accepted + rows_rejected + rows_duplicate`).
//! - [`classify`] holds the response-code catalog; classes are applied at query time, so a saved
//!   cube can be re-read under another profile.
//! - [`cube`] adds rows up into cells of integer keys and sums (polars only reads and writes
//!   Parquet), chunk by chunk on every core; it is the only thing analysis sees.
//! - [`analyze`] answers each question as a query over the cube.
//! - [`report`] is the one model every renderer in [`render`] reads; renderers return bytes.
//!
//! `main.rs` only parses arguments, calls [`run`] and maps errors to exit codes.

pub mod analyze;
pub mod classify;
pub mod cli;
pub mod config;
pub mod cube;
pub mod cubesql;
pub mod error;
pub mod ingest;
pub mod render;
pub mod report;
pub mod sample;
pub mod verify;
pub mod words;

use std::io::Write;
use std::time::Instant;

use cli::{Cli, CodesFormat, Command};
use error::{Error, Result};

/// Run one command.
pub fn run(cli: Cli) -> Result<()> {
    match cli.command {
        Command::Analyze(args) => analyze_command(&config::for_analyze(&args)?),
        Command::Validate(args) => validate_command(&config::for_validate(&args)?),
        Command::Codes(args) => codes_command(&args),
        Command::Sample(args) => sample::run(&args),
        Command::CubeSql(args) => cube_sql_command(&args),
        Command::Report(args) => match args.kind {
            cli::ReportKind::Weekly(a) => weekly_command(&a),
        },
        Command::Terminals(args) => terminals_command(&args),
        Command::Verify(args) => verify_command(&args),
    }
}

/// Write data to stdout. A reader that went away (`| head -1`) ends the output quietly: that
/// is the reader's choice, not an error.
fn print(bytes: &[u8]) -> Result<()> {
    let mut out = std::io::stdout().lock();
    match out.write_all(bytes).and_then(|_| out.flush()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(Error::Write {
            path: "<stdout>".into(),
            source: e,
        }),
        _ => Ok(()),
    }
}

/// The data set of a view: logs ingested, or saved cubes added up; it must hold transactions.
fn load(cfg: &config::Config) -> Result<(ingest::IngestOutcome, cube::Cube)> {
    let (outcome, cube) = if cfg.analyze.cubes.is_empty() {
        ingest_to_cube(&cfg.ingest)?
    } else {
        load_cubes(cfg)?
    };
    let totals = outcome.totals();
    if totals.rows_accepted == 0 {
        return Err(Error::NoValidRows {
            rejected: totals.rows_rejected,
        });
    }
    Ok((outcome, cube))
}

/// `poslens terminals`: the fleet analysed as `analyze` does, flagged terminals on stdout.
fn terminals_command(args: &cli::TerminalsArgs) -> Result<()> {
    let cfg = config::for_view(&args.input, &args.view, None, None)?;
    let (outcome, cube) = load(&cfg)?;
    let analysis = analyze::analyze(&cube, &cfg.catalog, &cfg.analyze, cfg.ingest.tz)?;
    let r = report::build(
        &outcome,
        &analysis,
        &cfg.catalog,
        cfg.ingest.tz,
        cfg.analyze.lang,
        generated_at(),
    );
    let list = report::terminals::ranked(&r);
    let bytes = match args.output {
        cli::TerminalsFormat::Table => render::text::terminals_table(&list).into_bytes(),
        cli::TerminalsFormat::Csv => render::csv::write_rows(&report::terminals::csv_rows(&list))?,
        cli::TerminalsFormat::Json => render::json::to_bytes(&list)?,
    };
    print(&bytes)?;
    if args.fail_on_flagged && !list.terminals.is_empty() {
        return Err(Error::Flagged {
            count: list.terminals.len(),
        });
    }
    if args.fail_on_silent && !list.silent.is_empty() {
        return Err(Error::Silent {
            count: list.silent.len(),
        });
    }
    Ok(())
}

/// `poslens verify DIR`: every problem on stdout, one per line; exit 1 when any.
fn verify_command(args: &cli::VerifyArgs) -> Result<()> {
    let v = verify::verify(&args.dir)?;
    let mut text = String::new();
    for p in &v.problems {
        text.push_str(&format!("{p}\n"));
    }
    if v.problems.is_empty() {
        text.push_str(&format!(
            "ok: {} files match {}\n",
            v.checked,
            args.dir.join("manifest.json").display()
        ));
    }
    print(text.as_bytes())?;
    if v.problems.is_empty() {
        Ok(())
    } else {
        Err(Error::VerifyFailed {
            dir: args.dir.clone(),
            problems: v.problems.len(),
        })
    }
}

/// `poslens report weekly`: per merchant `STEM.html`, `STEM.md`, `STEM.json` and
/// `charts/STEM-daily.svg`; with `--all-merchants` also `index.html` and `index.md`.
fn weekly_command(args: &cli::WeeklyArgs) -> Result<()> {
    let mut cfg = config::for_view(&args.input, &args.view, args.lang, None)?;
    let week = report::weekly::parse_week(&args.week, cfg.ingest.tz)?;
    let out = args
        .out
        .clone()
        .unwrap_or_else(|| std::path::PathBuf::from(format!("reports/weekly-{}", week.label)));
    cfg.analyze.out = out.clone();
    let tz = cfg.ingest.tz;
    let lang = cfg.analyze.lang;
    let (outcome, cube) = load(&cfg)?;
    let generated = generated_at();

    // The fleet's verdicts: terminals are judged against every terminal, not against the
    // merchant's own few, over the two weeks compared, so a terminal that broke this week is
    // dated ("bad since Monday, 0.06% before") rather than bad "from the first day".
    let week_cube = cube
        .clone()
        .window(Some(week.previous_start), Some(week.end))?;
    let fleet = if week_cube.transactions()? > 0 {
        let a = analyze::analyze(&week_cube, &cfg.catalog, &cfg.analyze, tz)?;
        let r = report::build(&outcome, &a, &cfg.catalog, tz, lang, generated.clone());
        Some((a, r))
    } else {
        None
    };
    let mut data = report::weekly::WeekData::new(&cube, &cfg.catalog, tz, week.clone())?;
    data.currency = outcome.totals().currency.single().map(String::from);
    let merchants = match &args.merchant {
        Some(id) => {
            let known = data.merchants();
            if !known.contains(id) {
                let some: Vec<&str> = known.iter().take(8).map(String::as_str).collect();
                return Err(Error::Usage(format!(
                    "merchant {id:?} is not in the data ({} merchants, e.g. {}); --all-merchants writes them all",
                    known.len(),
                    some.join(", ")
                )));
            }
            vec![id.clone()]
        }
        None => data.active_merchants(),
    };
    if merchants.is_empty() {
        return Err(Error::Usage(format!(
            "no merchant has transactions in {} or {}",
            week.label, week.previous_label
        )));
    }
    let mut written: Vec<(String, report::weekly::MerchantWeek)> = Vec::new();
    let mut stems = std::collections::BTreeSet::new();
    for id in &merchants {
        let m = data.merchant(
            id,
            fleet.as_ref().map(|(a, r)| (a, r)),
            &cube,
            lang,
            &generated,
        )?;
        let stem = report::weekly::file_stem(id);
        // Cannot happen short of a SHA-256 collision on the first 40 bits; checked anyway,
        // because a collision would silently overwrite a merchant's report.
        if !stems.insert(stem.clone()) {
            return Err(Error::internal("weekly", format!("file name {stem} twice")));
        }
        let doc = report::weekly::document(&m, lang, &stem);
        let mut charts = Vec::new();
        if m.has_data() {
            let svg = render::charts::weekly_daily(&m, &crate::words::ChartWords::new(lang))?;
            render::write_atomic(&out.join(format!("charts/{stem}-daily.svg")), &svg)?;
            charts.push(("daily.svg".to_string(), svg));
        }
        render::write_atomic(
            &out.join(format!("{stem}.html")),
            &render::html::render(&doc, &charts),
        )?;
        render::write_atomic(
            &out.join(format!("{stem}.md")),
            &render::markdown::render(&doc),
        )?;
        render::write_atomic(
            &out.join(format!("{stem}.json")),
            &render::json::to_bytes(&m)?,
        )?;
        let name = if m.merchant_id.is_empty() {
            "(no merchant id)"
        } else {
            m.merchant_id.as_str()
        };
        let line = format!("{}\t{}\n", name, out.join(format!("{stem}.html")).display());
        if !m.has_data() {
            eprintln!(
                "poslens: merchant {name:?} has no transactions in {}; its report says so",
                week.label
            );
        }
        print(line.as_bytes())?;
        written.push((stem, m));
    }
    if args.all_merchants {
        let doc = report::weekly::index(&written, lang);
        render::write_atomic(&out.join("index.html"), &render::html::render(&doc, &[]))?;
        render::write_atomic(&out.join("index.md"), &render::markdown::render(&doc))?;
        print(format!("index\t{}\n", out.join("index.html").display()).as_bytes())?;
    }
    Ok(())
}

/// `generated_at`: `SOURCE_DATE_EPOCH` when set (reproducible builds convention), else now.
fn generated_at() -> String {
    let secs = std::env::var("SOURCE_DATE_EPOCH")
        .ok()
        .and_then(|s| s.trim().parse::<i64>().ok());
    let t = match secs {
        Some(s) => chrono::DateTime::from_timestamp(s, 0).unwrap_or_default(),
        None => chrono::Utc::now(),
    };
    t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// Ingest every input into a cube.
fn ingest_to_cube(cfg: &config::IngestConfig) -> Result<(ingest::IngestOutcome, cube::Cube)> {
    let (outcome, cube) = ingest::ingest(cfg, true)?;
    let totals = outcome.totals();
    if cfg.strict && totals.rows_rejected > 0 {
        let first = outcome
            .rejects
            .first()
            .map(|r| format!("{}:{}: {}", r.file, r.line, r.reason))
            .unwrap_or_default();
        return Err(Error::Strict {
            rejected: totals.rows_rejected,
            first,
        });
    }
    Ok((outcome, cube))
}

/// Load and add up saved cubes (files, folders or globs). Their hours must have been cut in
/// the zone of this run.
fn load_cubes(cfg: &config::Config) -> Result<(ingest::IngestOutcome, cube::Cube)> {
    let mut outcome = ingest::IngestOutcome::default();
    let mut builder = cube::CubeBuilder::new(cfg.ingest.tz);
    for path in cube::discover_cubes(&cfg.analyze.cubes)? {
        let (tz, n) = builder.add_parquet(&path)?;
        if let Some(tz) = tz {
            if tz != cfg.ingest.tz.name() {
                return Err(Error::Usage(format!(
                    "{} was built with --tz {tz}; render it with the same --tz",
                    path.display()
                )));
            }
        }
        let bytes = std::fs::read(&path).map_err(|source| Error::Open {
            path: path.clone(),
            source,
        })?;
        // A cube holds accepted transactions only: the reconciliation of the original rows is
        // in the manifest of the run that saved it.
        outcome.inputs.push(ingest::InputSummary {
            path: path.display().to_string(),
            format: Some(config::Format::Cube),
            sha256: render::sha256_hex(&bytes),
            bytes: bytes.len() as u64,
            rows_read: n,
            rows_accepted: n,
            ..Default::default()
        });
    }
    let cube = builder
        .finish()?
        .window(cfg.ingest.since, cfg.ingest.until)?;
    Ok((outcome, cube))
}

fn analyze_command(cfg: &config::Config) -> Result<()> {
    let started = Instant::now();
    let (mut outcome, cube) = if cfg.analyze.cubes.is_empty() {
        ingest_to_cube(&cfg.ingest)?
    } else {
        load_cubes(cfg)?
    };
    let totals = outcome.totals();
    if totals.rows_accepted == 0 {
        return Err(Error::NoValidRows {
            rejected: totals.rows_rejected,
        });
    }
    let ingest_time = started.elapsed();
    let t_analysis = Instant::now();
    let analysis = analyze::analyze(&cube, &cfg.catalog, &cfg.analyze, cfg.ingest.tz)?;
    let analysis_time = t_analysis.elapsed();
    let report = report::build(
        &outcome,
        &analysis,
        &cfg.catalog,
        cfg.ingest.tz,
        cfg.analyze.lang,
        generated_at(),
    );
    render::write_all(
        &cfg.analyze.out,
        &report,
        &mut outcome.rejects,
        &cfg.options,
        &cfg.catalog.sha256,
        cfg.analyze.png,
    )?;
    // After the report: the output folder is replaced as a whole, and the cube may be saved
    // into it.
    if let Some(path) = &cfg.analyze.save_cube {
        render::write_atomic(path, &cube.to_parquet(cfg.ingest.tz)?)?;
    }
    let summary = render::text::terminal_summary(&report, &cfg.analyze.out, cube.cells());
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(summary.as_bytes());
    // Stage timings go to stderr: they are about this run, not about the data.
    eprintln!(
        "poslens: ingest {:.2}s, analysis {:.3}s, total {:.2}s",
        ingest_time.as_secs_f64(),
        analysis_time.as_secs_f64(),
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

fn validate_command(cfg: &config::IngestConfig) -> Result<()> {
    let (outcome, _) = ingest::ingest(cfg, false)?;
    let text = render::text::validation(&outcome);
    let _ = std::io::stdout().lock().write_all(text.as_bytes());
    let totals = outcome.totals();
    if cfg.strict && totals.rows_rejected > 0 {
        return Err(Error::Strict {
            rejected: totals.rows_rejected,
            first: outcome
                .rejects
                .first()
                .map(|r| format!("{}:{}: {}", r.file, r.line, r.reason))
                .unwrap_or_default(),
        });
    }
    Ok(())
}

fn cube_sql_command(args: &cli::CubeSqlArgs) -> Result<()> {
    let opts = cubesql::Options {
        dialect: args.dialect,
        tz: config::parse_tz(args.tz.as_deref().unwrap_or("UTC"))?,
        source: args.source.clone(),
        map: args.map.clone(),
    };
    let sql = cubesql::generate(&opts)?;
    // A closed pipe (`| head`) is not an error.
    let _ = std::io::stdout().lock().write_all(sql.as_bytes());
    Ok(())
}

fn codes_command(args: &cli::CodesArgs) -> Result<()> {
    let (catalog, lang) = config::for_codes(args)?;
    let zh = lang == config::Lang::Zh;
    let entries: Vec<&classify::Entry> = match &args.code {
        Some(code) => {
            let (norm, _) = ingest::normalize::normalize_code(code).map_err(Error::Usage)?;
            match catalog.lookup(&norm) {
                Some(e) => vec![e],
                None => {
                    return Err(Error::Usage(format!(
                        "code {norm} is not in the {} profile; it would be classed `unknown`. Add it with --codes FILE{}",
                        catalog.profile,
                        render::codes::shape_hint(&catalog, &norm)
                    )))
                }
            }
        }
        None => catalog.entries().collect(),
    };
    let text = match args.format {
        CodesFormat::Table => match &args.code {
            Some(_) => {
                render::codes::explain(&catalog, entries[0], zh)
                    + &render::codes::action_code_note(&catalog, &entries[0].code, zh)
            }
            None => render::codes::table(&catalog, zh),
        },
        CodesFormat::Json => render::codes::json(&catalog, entries)?,
        CodesFormat::Csv => render::codes::csv(entries, zh)?,
    };
    let _ = std::io::stdout().lock().write_all(text.as_bytes());
    Ok(())
}
