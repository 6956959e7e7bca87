//! Renderers turn the [`Report`] into bytes; [`write_all`] is the one place that decides where
//! bytes go. Each file is written atomically (temp file + rename), `manifest.json` last, with
//! the SHA-256 of everything written before it.

pub mod charts;
pub mod codes;
pub mod csv;
pub mod export;
pub mod html;
pub mod json;
pub mod markdown;
pub mod text;

use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;

use sha2::{Digest, Sha256};

use crate::error::{Error, Result};
use crate::report::Report;
use json::OutputFile;

/// Every output of `analyze` as (path relative to the output directory, bytes), manifest
/// excluded (it needs the others' hashes).
pub fn outputs(r: &Report, png: bool) -> Result<Vec<(String, Vec<u8>)>> {
    let charts = charts::all_svg(r)?;
    let mut files = vec![
        (
            "report.html".to_string(),
            html::render(&r.document, &charts),
        ),
        ("report.md".to_string(), markdown::render(&r.document)),
        ("summary.json".to_string(), json::summary(r)?),
        ("csv/by_terminal.csv".to_string(), csv::by_terminal(r)?),
        ("csv/by_period.csv".to_string(), csv::by_period(r)?),
        ("csv/by_code.csv".to_string(), csv::by_code(r)?),
        ("csv/by_merchant.csv".to_string(), csv::by_merchant(r)?),
        (
            "csv/flagged_terminals.csv".to_string(),
            csv::flagged_terminals(r)?,
        ),
        ("csv/cohorts.csv".to_string(), csv::cohorts(r)?),
        (
            "csv/silent_terminals.csv".to_string(),
            csv::silent_terminals(r)?,
        ),
        ("csv/incidents.csv".to_string(), csv::incidents(r)?),
        ("csv/evidence.csv".to_string(), csv::evidence(r)?),
        ("csv/EXPORT.md".to_string(), export::render(r)),
    ];
    files.extend(charts.into_iter().map(|(n, b)| (format!("charts/{n}"), b)));
    if png {
        files.extend(
            charts::all_png(r)?
                .into_iter()
                .map(|(n, b)| (format!("charts/{n}"), b)),
        );
    }
    Ok(files)
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Write the files, `rejects.csv` (streamed from the reject log) and then the manifest into
/// `out`, as a whole: everything goes into a staging folder beside it, manifest last, and the
/// staging folder then replaces `out` by two renames. A run killed at any point leaves `out`
/// holding the previous complete report, or (between the two renames) no folder — never a
/// mix of two runs or a truncated file; the next run clears what a killed one left.
pub fn write_all(
    out: &Path,
    r: &Report,
    rejects: &mut crate::ingest::RejectLog,
    options: &BTreeMap<String, String>,
    catalog_sha256: &str,
    png: bool,
) -> Result<Vec<OutputFile>> {
    let files = outputs(r, png)?;
    check_replaceable(out)?;
    let staging = beside(out, "new");
    let old = beside(out, "old");
    for stale in [&staging, &old] {
        remove_dir(stale)?;
    }
    let dir = staging.as_path();
    let mut written = Vec::with_capacity(files.len() + 2);
    written.push(write_streamed(dir, "rejects.csv", &mut |w| {
        csv::rejects(rejects, w)
    })?);
    for (rel, bytes) in &files {
        test_pause();
        write_atomic(&dir.join(rel), bytes)?;
        written.push(OutputFile {
            path: rel.clone(),
            sha256: sha256_hex(bytes),
            bytes: bytes.len() as u64,
        });
    }
    written.sort_by(|a, b| a.path.cmp(&b.path));
    let manifest = json::manifest(r, options, catalog_sha256, &written)?;
    write_atomic(&dir.join("manifest.json"), &manifest)?;
    written.push(OutputFile {
        path: "manifest.json".into(),
        sha256: sha256_hex(&manifest),
        bytes: manifest.len() as u64,
    });
    test_pause();
    // The commit: the old folder out of the way, the new one in, the old one removed.
    let werr = |path: &Path| {
        let path = path.to_path_buf();
        move |source| Error::Write { path, source }
    };
    if out.exists() {
        std::fs::rename(out, &old).map_err(werr(out))?;
        test_pause();
    }
    std::fs::rename(&staging, out).map_err(werr(out))?;
    remove_dir(&old)?;
    Ok(written)
}

/// `.NAME.poslens-WHAT` beside `out`: on the same file system, so renames are atomic.
fn beside(out: &Path, what: &str) -> std::path::PathBuf {
    let name = out
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "out".into());
    out.with_file_name(format!(".{name}.poslens-{what}"))
}

fn remove_dir(path: &Path) -> Result<()> {
    match std::fs::remove_dir_all(path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(Error::Write {
            path: path.into(),
            source: e,
        }),
        _ => Ok(()),
    }
}

/// The output folder is replaced as a whole, so it must be new, empty, or a poslens report
/// (its manifest names the tool): never a folder of the user's own files.
fn check_replaceable(out: &Path) -> Result<()> {
    let Ok(mut entries) = std::fs::read_dir(out) else {
        return Ok(()); // does not exist yet (or is not a folder: the rename will say)
    };
    if entries.next().is_none() {
        return Ok(());
    }
    let is_report = std::fs::read(out.join("manifest.json"))
        .ok()
        .and_then(|b| serde_json::from_slice::<serde_json::Value>(&b).ok())
        .is_some_and(|m| m["tool"] == "poslens");
    if is_report {
        Ok(())
    } else {
        Err(Error::Usage(format!(
            "--out {} holds files that are not a poslens report; poslens replaces its output folder as a whole, so give a new or empty folder",
            out.display()
        )))
    }
}

/// A pause between the steps of writing, for the crash-safety test only
/// (`POSLENS_TEST_WRITE_PAUSE_MS`), so that it can kill the process mid-write.
fn test_pause() {
    if let Some(ms) = std::env::var("POSLENS_TEST_WRITE_PAUSE_MS")
        .ok()
        .and_then(|v| v.parse::<u64>().ok())
    {
        std::thread::sleep(std::time::Duration::from_millis(ms));
    }
}

/// A writer that hashes and counts what passes through it.
struct HashingWriter<W> {
    inner: W,
    hasher: Sha256,
    bytes: u64,
}

impl<W: Write> Write for HashingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hasher.update(&buf[..n]);
        self.bytes += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

/// Write an output too large to hold as bytes: streamed into a temporary file beside the
/// target, hashed on the way, then renamed into place.
fn write_streamed(
    dir: &Path,
    rel: &str,
    fill: &mut dyn FnMut(&mut dyn Write) -> Result<()>,
) -> Result<OutputFile> {
    let path = dir.join(rel);
    let werr = |source| Error::Write {
        path: path.clone(),
        source,
    };
    std::fs::create_dir_all(dir).map_err(werr)?;
    let tmp = dir.join(format!(".{rel}.tmp{}", std::process::id()));
    let file = std::fs::File::create(&tmp).map_err(werr)?;
    let mut w = HashingWriter {
        inner: std::io::BufWriter::new(file),
        hasher: Sha256::new(),
        bytes: 0,
    };
    fill(&mut w)?;
    w.flush().map_err(werr)?;
    let HashingWriter {
        inner,
        hasher,
        bytes,
    } = w;
    let file = inner.into_inner().map_err(|e| werr(e.into_error()))?;
    file.sync_all().map_err(werr)?;
    drop(file);
    std::fs::rename(&tmp, &path).map_err(werr)?;
    Ok(OutputFile {
        path: rel.to_string(),
        sha256: hasher
            .finalize()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect(),
        bytes,
    })
}

/// Write to a temporary file beside the target, then rename: a reader never sees half a file.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let werr = |source| Error::Write {
        path: path.into(),
        source,
    };
    std::fs::create_dir_all(dir).map_err(werr)?;
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = dir.join(format!(".{name}.tmp{}", std::process::id()));
    let mut f = std::fs::File::create(&tmp).map_err(werr)?;
    f.write_all(bytes).map_err(werr)?;
    f.sync_all().map_err(werr)?;
    drop(f);
    std::fs::rename(&tmp, path).map_err(werr)
}
