//! The one error type of the access boundary; each variant says the HTTP status the web layer
//! answers with.

use std::time::Duration;

use super::principal::Refusal;
use crate::db;

/// An access failure.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// No valid session or token (401 `unauthenticated`; pages redirect to `/signin`).
    #[error("sign in first")]
    Unauthenticated,
    /// Wrong username or wrong password: the same error for both (401 on the JSON API, the
    /// sign-in page re-rendered with one message).
    #[error("wrong username or password")]
    InvalidCredentials,
    /// No grant on that workspace, or an unknown id among what the caller may see (404).
    #[error("not found")]
    NotFound,
    /// Authenticated, but not allowed (403 `forbidden`).
    #[error("you are not allowed to do this")]
    Forbidden,
    /// Too many failures for this account, IP or link (429 with `Retry-After`).
    #[error("too many failed attempts; try again in {} s", retry_after.as_secs().max(1))]
    Throttled {
        /// How long until the next attempt may succeed.
        retry_after: Duration,
    },
    /// Input that breaks a rule (400 `invalid`): the message says which.
    #[error("{0}")]
    Invalid(String),
    /// A name already taken, or a change that would leave no admin (409 `conflict`).
    #[error("{0}")]
    Conflict(String),
    /// First-run setup is over (an admin exists), or the setup token is unknown or expired
    /// (403 on `/setup`).
    #[error("setup is not available: an admin exists or the setup link is no longer valid")]
    SetupClosed,
    /// The upload-request link was revoked (410 Gone).
    #[error("this upload link was revoked")]
    LinkRevoked,
    /// The upload-request link expired (410 Gone).
    #[error("this upload link has expired")]
    LinkExpired,
    /// The upload-request link used up its uses (410 Gone, with its own message).
    #[error("this upload link has been used as many times as it allows")]
    LinkExhausted,
    /// The link has a password and none was given (401).
    #[error("this upload link needs a password")]
    PasswordRequired,
    /// The link's password was wrong (401; throttled like sign-in).
    #[error("wrong password")]
    WrongPassword,
    /// A submission would pass the link's file count (413).
    #[error("this upload link accepts at most {0} file(s) per submission")]
    TooManyFiles(u64),
    /// A submission would pass the link's total size (413).
    #[error("this upload link accepts at most {0} bytes per submission")]
    TooManyBytes(u64),
    /// A file larger than the link's per-file limit (413).
    #[error("this upload link accepts files of at most {0} bytes")]
    FileTooLarge(u64),
    /// The database failed (500, or 503 when unreachable); the cause goes to the log.
    #[error(transparent)]
    Db(#[from] db::Error),
    /// A hashing thread failed (500).
    #[error("internal error: {0}")]
    Internal(String),
}

impl From<Refusal> for Error {
    fn from(r: Refusal) -> Self {
        match r {
            Refusal::NotFound => Self::NotFound,
            Refusal::Forbidden => Self::Forbidden,
        }
    }
}
