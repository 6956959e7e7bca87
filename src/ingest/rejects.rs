//! The reject log: every row that could not be used, kept on disk rather than in memory, so a
//! file full of bad rows costs disk, not RAM (memory stays bounded by the cube and the set of
//! seen transaction ids). Counts per reason and the first few examples of each are kept in
//! memory for the terminal, `validate` and the report.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufRead, BufReader, BufWriter, Seek, SeekFrom, Write};

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// A row that could not be used, for `rejects.csv`. The excerpt is already scrubbed.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Reject {
    pub file: String,
    pub line: u64,
    pub reason: String,
    pub excerpt: String,
}

impl Reject {
    /// The kind of reason, without the values quoted in it (`unparseable timestamp "x"` →
    /// `unparseable timestamp`), for counting.
    pub fn kind(&self) -> &str {
        self.reason
            .split(['"', ':', '('])
            .next()
            .unwrap_or("")
            .trim()
    }
}

/// Examples kept per reason kind.
const EXAMPLES_PER_KIND: usize = 3;

/// Rejects spilled to an anonymous temporary file (JSON lines), in arrival order.
#[derive(Default)]
pub struct RejectLog {
    spill: Option<BufWriter<File>>,
    count: u64,
    kinds: BTreeMap<String, u64>,
    examples: Vec<Reject>,
}

fn spill_error(source: std::io::Error) -> Error {
    Error::Write {
        path: std::env::temp_dir(),
        source,
    }
}

impl RejectLog {
    pub fn push(&mut self, r: Reject) -> Result<()> {
        if self.spill.is_none() {
            self.spill = Some(BufWriter::new(tempfile::tempfile().map_err(spill_error)?));
        }
        let w = self.spill.as_mut().expect("created above");
        serde_json::to_writer(&mut *w, &r).map_err(|e| Error::internal("reject log", e))?;
        w.write_all(b"\n").map_err(spill_error)?;
        self.count += 1;
        let n = self.kinds.entry(r.kind().to_string()).or_default();
        *n += 1;
        if *n as usize <= EXAMPLES_PER_KIND {
            self.examples.push(r);
        }
        Ok(())
    }

    pub fn len(&self) -> u64 {
        self.count
    }

    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// The first reject, for one-line error messages.
    pub fn first(&self) -> Option<&Reject> {
        self.examples.first()
    }

    /// Counts per reason kind, most frequent first (ties by name).
    pub fn reasons(&self) -> Vec<(String, u64)> {
        let mut v: Vec<(String, u64)> = self.kinds.iter().map(|(k, n)| (k.clone(), *n)).collect();
        v.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
        v
    }

    /// The first few rejects of each kind, in arrival order.
    pub fn examples(&self) -> &[Reject] {
        &self.examples
    }

    /// Every reject, in arrival order, read back from the spill.
    pub fn for_each(&mut self, mut f: impl FnMut(Reject) -> Result<()>) -> Result<()> {
        let Some(w) = self.spill.as_mut() else {
            return Ok(());
        };
        w.flush().map_err(spill_error)?;
        let file = w.get_mut();
        file.seek(SeekFrom::Start(0)).map_err(spill_error)?;
        let mut reader = BufReader::new(&*file);
        let mut line = String::new();
        let result = loop {
            line.clear();
            match reader.read_line(&mut line) {
                Ok(0) => break Ok(()),
                Ok(_) => {
                    let r: Reject = serde_json::from_str(&line)
                        .map_err(|e| Error::internal("reject log", e))?;
                    f(r)?;
                }
                Err(e) => break Err(spill_error(e)),
            }
        };
        drop(reader);
        // Later pushes append after what was read.
        file.seek(SeekFrom::End(0)).map_err(spill_error)?;
        result
    }
}

impl std::fmt::Debug for RejectLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RejectLog")
            .field("count", &self.count)
            .field("kinds", &self.kinds)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(line: u64, reason: &str) -> Reject {
        Reject {
            file: "f.csv".into(),
            line,
            reason: reason.into(),
            excerpt: format!("row {line}"),
        }
    }

    #[test]
    fn spills_and_reads_back_in_order() {
        let mut log = RejectLog::default();
        for i in 0..10_000 {
            log.push(r(
                i,
                if i % 3 == 0 {
                    "empty terminal_id"
                } else {
                    "unparseable timestamp \"x\""
                },
            ))
            .unwrap();
        }
        assert_eq!(log.len(), 10_000);
        assert_eq!(
            log.reasons(),
            vec![
                ("unparseable timestamp".to_string(), 6666),
                ("empty terminal_id".to_string(), 3334)
            ]
        );
        assert_eq!(log.examples().len(), 6);
        let mut lines = Vec::new();
        log.for_each(|x| {
            lines.push(x.line);
            Ok(())
        })
        .unwrap();
        assert_eq!(lines, (0..10_000).collect::<Vec<_>>());
        // Pushing after a read appends, and a second read sees everything.
        log.push(r(10_000, "empty response code")).unwrap();
        let mut n = 0;
        log.for_each(|_| {
            n += 1;
            Ok(())
        })
        .unwrap();
        assert_eq!(n, 10_001);
    }
}
