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
//! - [`cube`] aggregates with polars in chunks; it is the only thing analysis sees.
//! - [`analyze`] answers each question as a query over the cube.
//! - [`report`] is the one model every renderer in [`render`] reads; renderers return bytes.
//!
//! `main.rs` only parses arguments, calls [`run`] and maps errors to exit codes.

pub mod analyze;
pub mod classify;
pub mod cli;
pub mod config;
pub mod cube;
pub mod error;
pub mod ingest;
pub mod render;
pub mod report;
pub mod sample;
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
    }
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

/// Load and add up saved cubes. Their hours must have been cut in the zone of this run.
fn load_cubes(cfg: &config::Config) -> Result<(ingest::IngestOutcome, cube::Cube)> {
    let mut outcome = ingest::IngestOutcome::default();
    let mut total: Option<cube::Cube> = None;
    for path in &cfg.analyze.cubes {
        let (c, tz) = cube::Cube::from_parquet(path)?;
        if let Some(tz) = tz {
            if tz != cfg.ingest.tz.name() {
                return Err(Error::Usage(format!(
                    "{} was built with --tz {tz}; render it with the same --tz",
                    path.display()
                )));
            }
        }
        let bytes = std::fs::read(path).map_err(|source| Error::Open {
            path: path.clone(),
            source,
        })?;
        let n = c.transactions()?;
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
        total = Some(match total {
            None => c,
            Some(t) => t.merge(c)?,
        });
    }
    let cube = total
        .ok_or_else(|| Error::Usage("no --cube given".into()))?
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
    if let Some(path) = &cfg.analyze.save_cube {
        render::write_atomic(path, &cube.to_parquet(cfg.ingest.tz)?)?;
    }
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
