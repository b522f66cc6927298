//! [`FileError`]: why one file was not stored, on either upload path. The web layer gives each
//! variant its HTTP status in one place (`web::error`), so the form path and the JSON upload API
//! answer the same failure with the same status.

use std::time::Duration;

use super::budget::BudgetError;
use super::chunk_plan::{ChunkRefused, PlanError};
use super::chunker::ChunkError;
use super::rules::TypeRejected;
use crate::fastio;

/// Why one file was not stored. Display is a message for people.
#[derive(Debug, thiserror::Error)]
pub enum FileError {
    /// The file passed `max_size`; the session (if any) was cancelled.
    #[error("the file is larger than the limit of {limit} bytes")]
    TooLarge {
        /// The limit in bytes.
        limit: u64,
    },
    /// The type is not allowed; nothing went upstream.
    #[error(transparent)]
    Type(#[from] TypeRejected),
    /// The request body ended or failed before the file did (client gone, malformed body).
    #[error("the upload was interrupted before the file ended")]
    Interrupted(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// Fast.io stored something other than what was sent.
    #[error("the stored file does not match what was sent ({what})")]
    Mismatch {
        /// Which check failed, for people.
        what: String,
    },
    /// Fast.io refused or failed the upload.
    #[error(transparent)]
    Upstream(#[from] fastio::Error),
    /// The in-flight budget refused (shutdown, or a budget too small for one part).
    #[error(transparent)]
    Budget(#[from] BudgetError),
    /// The in-flight budget is full right now: try again after `retry_after` (JS path).
    #[error("the gateway is busy; try again shortly")]
    Busy {
        /// How long the client should wait.
        retry_after: Duration,
    },
    /// A chunk of the JS path refused before it went upstream.
    #[error(transparent)]
    Chunk(#[from] ChunkRefused),
    /// No chunk plan fits this file (empty, or too many chunks for Fast.io).
    #[error(transparent)]
    Plan(#[from] PlanError),
    /// `complete` was asked for while chunks are missing.
    #[error(
        "{missing} of {chunks} chunks are missing (first: {first}); send them before completing"
    )]
    Incomplete {
        /// How many are missing.
        missing: usize,
        /// How many the upload has.
        chunks: u32,
        /// The first missing chunk number.
        first: u32,
    },
    /// The upload already ended without being stored (failed or cancelled upstream).
    #[error("this upload ended {state}: {message}")]
    Ended {
        /// The gateway's word for how it ended.
        state: &'static str,
        /// Fast.io's reason, if any.
        message: String,
    },
    /// `DELETE` of an upload that is already stored: too late to cancel.
    #[error("this upload is already stored; delete the file instead")]
    AlreadyStored,
    /// The gateway's database (where one-call uploads record how they ended) failed.
    #[error("the gateway's database: {0}")]
    Database(#[from] crate::db::Error),
    /// A destination path is malformed (`relative_path` with `.` or `..`).
    #[error("{0}")]
    BadPath(String),
}

impl From<ChunkError> for FileError {
    fn from(e: ChunkError) -> Self {
        match e {
            ChunkError::TooLarge { max } => Self::TooLarge { limit: max },
            ChunkError::Source(why) => Self::Interrupted(why),
            ChunkError::ConsumerGone => Self::Interrupted("the upload was abandoned".into()),
            ChunkError::Budget(b) => Self::Budget(b),
        }
    }
}
