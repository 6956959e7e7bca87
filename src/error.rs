//! One error type for the whole tool, carrying enough context (file, line, what to do next)
//! that a user can act on the message, and the exit status it maps to (SPEC "Exit status").

use std::path::PathBuf;

/// Everything that can stop a run.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Bad options or arguments: exit status 2.
    #[error("{0}")]
    Usage(String),

    #[error("cannot read {path}: {source}")]
    Open {
        path: PathBuf,
        source: std::io::Error,
    },

    #[error("error while reading {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },

    #[error("cannot write {path}: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },

    /// A file that cannot be read as a data set at all (e.g. a required column is missing).
    #[error("{path}: {reason}")]
    BadInput { path: PathBuf, reason: String },

    /// A problem at a known line of a user-supplied file (code tables, config).
    #[error("{path}:{line}: {reason}")]
    BadLine {
        path: PathBuf,
        line: u64,
        reason: String,
    },

    #[error("no valid transactions in the input ({rejected} rows rejected; see rejects.csv or run `poslens validate`)")]
    NoValidRows { rejected: u64 },

    #[error("--strict: {rejected} rows were rejected (first: {first})")]
    Strict { rejected: u64, first: String },

    /// `terminals --fail-on-flagged` found flagged terminals: exit status 3.
    #[error("{count} terminal(s) flagged (--fail-on-flagged)")]
    Flagged { count: usize },

    /// `terminals --fail-on-silent` found silent terminals or volume drops: exit status 3.
    #[error("{count} terminal(s) silent or far below their usual volume (--fail-on-silent)")]
    Silent { count: usize },

    /// `verify` found files that do not match the manifest.
    #[error("{dir}: {problems} file(s) changed, missing or not in manifest.json (listed above)")]
    VerifyFailed { dir: PathBuf, problems: usize },

    /// An I/O error from a reader; [`crate::ingest`] adds the path before it reaches the user.
    #[error("{0}")]
    Io(#[from] std::io::Error),

    /// Failures inside polars or plotters: should not happen on validated data.
    #[error("internal error in {stage}: {message}")]
    Internal {
        stage: &'static str,
        message: String,
    },
}

impl Error {
    /// The process exit status for this error (SPEC: 1 runtime error, 2 usage error, 3
    /// flagged terminals under `terminals --fail-on-flagged`).
    pub fn exit_code(&self) -> i32 {
        match self {
            Error::Usage(_) => 2,
            Error::Flagged { .. } | Error::Silent { .. } => 3,
            _ => 1,
        }
    }

    pub(crate) fn internal(stage: &'static str, e: impl std::fmt::Display) -> Error {
        Error::Internal {
            stage,
            message: e.to_string(),
        }
    }
}

impl From<polars::error::PolarsError> for Error {
    fn from(e: polars::error::PolarsError) -> Self {
        Error::internal("polars", e)
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
