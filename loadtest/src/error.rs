//! Errors of the load tester's library.

use std::path::PathBuf;

/// Everything that can stop a load test before or after its run (failures of
/// single requests are counted, not raised).
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// A `--target` is not a usable base URL.
    #[error("invalid target {target:?}: {reason}")]
    InvalidTarget {
        /// The target as given.
        target: String,
        /// Why it was refused.
        reason: String,
    },
    /// A `--target` host is not an IP literal or `localhost`.
    #[error(
        "refusing remote target {target:?}: its host is not an IP literal or localhost (pass --allow-remote to load a remote server)"
    )]
    RemoteTarget {
        /// The target as given.
        target: String,
    },
    /// An actor type, id or method that would not stay one path segment.
    #[error("invalid {what} {value:?}: {reason}")]
    InvalidName {
        /// Which name (actor type, method, ...).
        what: &'static str,
        /// The name as given.
        value: String,
        /// Why it was refused.
        reason: &'static str,
    },
    /// An option value that makes no sense.
    #[error("invalid option: {0}")]
    InvalidOption(String),
    /// Spawning or watching the `wapr dev` cluster failed.
    #[error("spawned cluster: {0}")]
    Spawn(String),
    /// A target did not answer its health or cluster probe.
    #[error("target {target} is not ready: {reason}")]
    NotReady {
        /// The target base URL.
        target: String,
        /// What the probe saw.
        reason: String,
    },
    /// Building the HTTP client failed.
    #[error("cannot build the HTTP client: {0}")]
    Client(#[from] reqwest::Error),
    /// Reading or writing a file failed.
    #[error("{path}: {source}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// A peer report (`--peer`, e.g. the Ray peer's JSON) that cannot be used.
    #[error("peer report {path}: {reason}")]
    Peer {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// A task of the run failed unexpectedly.
    #[error("internal error: {0}")]
    Internal(String),
    /// Drawing a plot of the report failed.
    #[error("cannot draw {plot}: {reason}")]
    Plot {
        /// The plot's file name.
        plot: &'static str,
        /// What went wrong.
        reason: String,
    },
    /// Serialising the report failed.
    #[error("cannot serialise the report: {0}")]
    Json(#[from] serde_json::Error),
}

impl LoadError {
    /// An [`LoadError::Io`] for `path`.
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        LoadError::Io {
            path: path.into(),
            source,
        }
    }
}
