//! The emulator's API errors (§2) and their one conversion into an error envelope (§1.1).
//!
//! Each variant's doc names its HTTP status and Fast.io code; choices the contract leaves open
//! ("unverified") follow §11.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::envelope::EnvelopeMarker;

/// Errors answered to API callers as `{"result":false,"error":{"code":…,"text":…}}`.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// 401 / 10011: missing or unknown Bearer.
    #[error("authentication required")]
    Unauthenticated,
    /// 401 / 10545: authenticated but not a member of the workspace.
    #[error("you are not a member of this workspace")]
    NotMember,
    /// 400 / 1605: bad input.
    #[error("{0}")]
    Invalid(String),
    /// 400 / 1605: a session in the wrong state for the call ("not in a valid state").
    #[error("{0}")]
    InvalidState(String),
    /// 404 / 1609: no such node, session, token or share.
    #[error("{0}")]
    NotFound(String),
    /// 404 / 9992: no such route.
    #[error("the requested route does not exist")]
    UnknownRoute,
    /// 405 / "405": method not allowed on an existing route.
    #[error("method not allowed")]
    MethodNotAllowed,
    /// 406 / 1605: wrong session kind (chunk on a stream session, stream on a chunked one, …).
    #[error("{0}")]
    WrongSessionKind(String),
    /// 400 / 10522: the chunks do not add up to the declared size; the session is dead.
    #[error("chunks ({chunks}) do not match size ({size})")]
    SizeMismatch {
        /// Sum of the received chunk sizes.
        chunks: u64,
        /// Declared size.
        size: u64,
    },
    /// 413 / 1605: body larger than allowed.
    #[error("{0}")]
    TooLarge(String),
    /// 429 / 10368: rate limited (or too many chunk requests in flight).
    #[error("{0}")]
    RateLimited(String),
    /// 429 / 1671: the batch bucket is empty.
    #[error("too many batch uploads")]
    BatchRateLimited,
    /// 400 / 115519: bulk details with more than 25 ids.
    #[error("bulk details take at most 25 ids")]
    TooManyIds,
    /// 403 / 10756: QuickShare creation is closed.
    #[error("QuickShare creation is no longer available; use a File Share")]
    QuickShareClosed,
    /// 403 / 1685: a plan limit was reached.
    #[error("{0}")]
    PlanLimit(String),
    /// 401 / 10011 on a share that needs a password (sent in `x-ve-password`).
    #[error("a valid password is required")]
    PasswordRequired,
    /// 404 / 143705: no preview of that type for this file (not ready, failed, or not
    /// applicable), or an image transform of a file that is not an image (§6.10).
    #[error("{0}")]
    PreviewUnavailable(String),
    /// 406 / 1605: a folder passed as an AI chat attachment (§2.1, §8 "Preconditions").
    #[error("{0}")]
    NotAcceptable(String),
    /// 402 / 1688: no credits left for AI chat (§2.1; a fault switch, §8 "Chats cost credits").
    #[error("AI credits are exhausted for this account")]
    CreditsExhausted,
    /// 400 / 1605: workspace intelligence is off, so scoped (RAG) chat is not available (§2.2
    /// 1605 "intelligence not allowed", §8 "Preconditions").
    #[error("workspace intelligence is disabled; enable it to ask questions about its files")]
    IntelligenceOff,
    /// 409 with one of the "conversation too large" codes (§2.2: 168116 workspace follow-up,
    /// 153795 workspace new chat): start a new chat.
    #[error("{text}")]
    ConversationTooLarge {
        /// 168116 or 153795.
        code: u32,
        /// What exceeded the limit.
        text: String,
    },
    /// 500 / 500: the emulator failed (I/O, SQLite). Details go to the log only.
    #[error("internal error")]
    Internal(String),
}

impl ApiError {
    /// HTTP status and Fast.io code for this error.
    pub fn status_and_code(&self) -> (StatusCode, u32) {
        match self {
            Self::Unauthenticated | Self::PasswordRequired => (StatusCode::UNAUTHORIZED, 10011),
            Self::NotMember => (StatusCode::UNAUTHORIZED, 10545),
            Self::Invalid(_) | Self::InvalidState(_) => (StatusCode::BAD_REQUEST, 1605),
            Self::NotFound(_) => (StatusCode::NOT_FOUND, 1609),
            Self::UnknownRoute => (StatusCode::NOT_FOUND, 9992),
            Self::MethodNotAllowed => (StatusCode::METHOD_NOT_ALLOWED, 405),
            Self::WrongSessionKind(_) => (StatusCode::NOT_ACCEPTABLE, 1605),
            Self::SizeMismatch { .. } => (StatusCode::BAD_REQUEST, 10522),
            Self::TooLarge(_) => (StatusCode::PAYLOAD_TOO_LARGE, 1605),
            Self::RateLimited(_) => (StatusCode::TOO_MANY_REQUESTS, 10368),
            Self::BatchRateLimited => (StatusCode::TOO_MANY_REQUESTS, 1671),
            Self::TooManyIds => (StatusCode::BAD_REQUEST, 115519),
            Self::QuickShareClosed => (StatusCode::FORBIDDEN, 10756),
            Self::PlanLimit(_) => (StatusCode::FORBIDDEN, 1685),
            Self::PreviewUnavailable(_) => (StatusCode::NOT_FOUND, 143705),
            Self::NotAcceptable(_) => (StatusCode::NOT_ACCEPTABLE, 1605),
            Self::CreditsExhausted => (StatusCode::PAYMENT_REQUIRED, 1688),
            Self::IntelligenceOff => (StatusCode::BAD_REQUEST, 1605),
            Self::ConversationTooLarge { code, .. } => (StatusCode::CONFLICT, *code),
            Self::Internal(_) => (StatusCode::INTERNAL_SERVER_ERROR, 500),
        }
    }

    /// Shorthand for an invalid-input error.
    pub fn invalid(text: impl Into<String>) -> Self {
        Self::Invalid(text.into())
    }

    /// Shorthand for a not-found error.
    pub fn not_found(text: impl Into<String>) -> Self {
        Self::NotFound(text.into())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if let Self::Internal(cause) = &self {
            tracing::error!(%cause, "emulator internal error");
        }
        let (status, code) = self.status_and_code();
        let body = json!({"result": false, "error": {"code": code, "text": self.to_string()}});
        let mut res = (status, axum::Json(body)).into_response();
        res.extensions_mut().insert(EnvelopeMarker);
        res
    }
}

impl From<rusqlite::Error> for ApiError {
    fn from(e: rusqlite::Error) -> Self {
        Self::Internal(format!("sqlite: {e}"))
    }
}

impl From<std::io::Error> for ApiError {
    fn from(e: std::io::Error) -> Self {
        Self::Internal(format!("io: {e}"))
    }
}

impl From<tokio::task::JoinError> for ApiError {
    fn from(e: tokio::task::JoinError) -> Self {
        Self::Internal(format!("task: {e}"))
    }
}

/// Start-up, configuration and shutdown failures (not API answers).
#[derive(Debug, thiserror::Error)]
pub enum EmulatorError {
    /// The data dir or a socket could not be used.
    #[error("emulator I/O error: {0}")]
    Io(#[from] std::io::Error),
    /// SQLite could not be opened or migrated.
    #[error("emulator database error: {0}")]
    Database(String),
    /// A command-line value is invalid.
    #[error("invalid emulator option: {0}")]
    Config(String),
}

impl From<ApiError> for EmulatorError {
    fn from(e: ApiError) -> Self {
        Self::Database(match e {
            ApiError::Internal(s) => s,
            other => other.to_string(),
        })
    }
}
