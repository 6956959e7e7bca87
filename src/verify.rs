//! `poslens verify DIR`: the auditor's check of an output folder against its `manifest.json`.
//! Every output the manifest lists is re-hashed (SHA-256) and sized; every file in the folder
//! that the manifest does not list is named too, so nothing can be swapped, dropped or
//! slipped in unnoticed.

use std::collections::BTreeSet;
use std::path::{Component, Path, PathBuf};

use serde::Deserialize;

use crate::error::{Error, Result};

#[derive(Deserialize)]
struct Manifest {
    outputs: Vec<Listed>,
}

#[derive(Deserialize)]
struct Listed {
    path: String,
    sha256: String,
    bytes: u64,
}

/// What is wrong with one file.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Problem {
    Changed { path: String, why: String },
    Missing { path: String },
    Unlisted { path: String },
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Problem::Changed { path, why } => write!(f, "changed   {path} ({why})"),
            Problem::Missing { path } => write!(f, "missing   {path}"),
            Problem::Unlisted { path } => write!(f, "unlisted  {path} (not in manifest.json)"),
        }
    }
}

/// The outcome: files checked and the problems found (sorted: changed, missing, unlisted).
pub struct Verdict {
    pub checked: usize,
    pub problems: Vec<Problem>,
}

/// A manifest path must stay inside the folder: relative, no `..`.
fn inside(dir: &Path, rel: &str) -> Option<PathBuf> {
    let p = Path::new(rel);
    p.components()
        .all(|c| matches!(c, Component::Normal(_)))
        .then(|| dir.join(p))
}

fn walk(dir: &Path, rel: &Path, out: &mut Vec<String>) -> Result<()> {
    let here = dir.join(rel);
    let entries = std::fs::read_dir(&here).map_err(|source| Error::Open {
        path: here.clone(),
        source,
    })?;
    let mut names: Vec<_> = entries.filter_map(|e| e.ok()).collect();
    names.sort_by_key(|e| e.file_name());
    for e in names {
        let r = rel.join(e.file_name());
        let ft = e.file_type().map_err(|source| Error::Open {
            path: dir.join(&r),
            source,
        })?;
        if ft.is_dir() {
            walk(dir, &r, out)?;
        } else {
            // Manifest paths use `/` on every platform.
            let parts: Vec<String> = r
                .components()
                .map(|c| c.as_os_str().to_string_lossy().into_owned())
                .collect();
            out.push(parts.join("/"));
        }
    }
    Ok(())
}

pub fn verify(dir: &Path) -> Result<Verdict> {
    let mpath = dir.join("manifest.json");
    let bytes = std::fs::read(&mpath).map_err(|source| Error::Open {
        path: mpath.clone(),
        source,
    })?;
    let manifest: Manifest = serde_json::from_slice(&bytes).map_err(|e| Error::BadInput {
        path: mpath.clone(),
        reason: format!("not a poslens manifest ({e})"),
    })?;
    let mut problems = Vec::new();
    let mut listed = BTreeSet::new();
    for o in &manifest.outputs {
        listed.insert(o.path.clone());
        // The manifest lists itself with the hash it had before it was written: skip it.
        if o.path == "manifest.json" {
            continue;
        }
        let Some(path) = inside(dir, &o.path) else {
            problems.push(Problem::Changed {
                path: o.path.clone(),
                why: "path leaves the folder; not checked".into(),
            });
            continue;
        };
        match std::fs::read(&path) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => problems.push(Problem::Missing {
                path: o.path.clone(),
            }),
            Err(source) => return Err(Error::Open { path, source }),
            Ok(b) => {
                let sha = crate::render::sha256_hex(&b);
                if sha != o.sha256 || b.len() as u64 != o.bytes {
                    problems.push(Problem::Changed {
                        path: o.path.clone(),
                        why: format!(
                            "sha256 {}… and {} bytes, manifest says {}… and {} bytes",
                            &sha[..12],
                            b.len(),
                            o.sha256.get(..12).unwrap_or(&o.sha256),
                            o.bytes
                        ),
                    });
                }
            }
        }
    }
    let mut present = Vec::new();
    walk(dir, Path::new(""), &mut present)?;
    for p in present {
        if p != "manifest.json" && !listed.contains(&p) {
            problems.push(Problem::Unlisted { path: p });
        }
    }
    problems.sort();
    Ok(Verdict {
        checked: manifest.outputs.len(),
        problems,
    })
}
