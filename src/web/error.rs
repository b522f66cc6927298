//! `AppError`: every way a request can fail, with its HTTP status, stable code and JSON body
//! `{"error":{"code","message"}}` (429 with `Retry-After`). This is the one mapping from a
//! failure to a status: the JSON API, the form actions and the per-file outcomes of an upload all
//! go through [`AppError`] (`From<fastio::Error>`, `From<FileError>`), so one failure gets one
//! status on every path. Pages get the same error rendered as HTML by
//! [`super::error_page::render_errors`], which keeps this module free of templates. 5xx bodies
//! are opaque; their real cause goes to the log inside the request's span.
//!
//! From `fastio::Error`: Unauthorized → `UpstreamAuth` (a bad key is an operator problem: 502)
//! unless the key is fine but lacks access (10545/115069 → `NotFound`); Forbidden → 403;
//! NotFound → 404; TooLarge → `UpstreamTooLarge` (413); RateLimited → 429 + Retry-After;
//! Upstream 409 → `Conflict`, 416 → `RangeNotSatisfiable`, other 4xx → `UpstreamRefused` (400:
//! Fast.io refused what this request asked for), 5xx and unreadable answers → `Upstream` (502);
//! PaymentRequired → 402; AiRefused → `AiRefused` (a folder attached: 400, conversation too
//! large: 409, intelligence off: 403); Transport and UploadTimedOut → `Unavailable` (503); UploadFailed (assembly or storage failed)
//! → `UploadFailed` (502); InvalidArgument → `BadRequest`.

use std::time::Duration;

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::format::human_size;
use crate::access;
use crate::fastio;
use crate::upload::budget::BudgetError;
use crate::upload::chunk_plan::ChunkRefused;
use crate::upload::error::FileError;
use crate::upload::rules::TypeRejected;
use crate::upload::token::TokenError;

/// Why a request failed. Each variant's doc names its HTTP status.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// 400: malformed request or value out of range; the message says which.
    #[error("{0}")]
    BadRequest(String),
    /// 401: no valid session or API token; pages redirect to `/signin` instead.
    #[error("sign in first")]
    Unauthenticated,
    /// 401: wrong username or password, or a wrong upload-link password (the same message for
    /// every wrong part).
    #[error("{0}")]
    BadCredentials(String),
    /// 403: signed in, but the role does not allow this.
    #[error("you are not allowed to do this")]
    Denied,
    /// 410: an upload-request link that was revoked, expired or used up; the message says which.
    #[error("{0}")]
    Gone(String),
    /// 401: the upload token is missing, malformed, forged, expired or for another upload.
    #[error(transparent)]
    Token(#[from] TokenError),
    /// 403: a state-changing request from a foreign (or, for forms, missing) `Origin`.
    #[error("cross-origin request refused")]
    CrossOrigin,
    /// 403: Fast.io refused the operation (permission, plan or scope).
    #[error("{0}")]
    Forbidden(String),
    /// 404: no such workspace, folder or file, or one the gateway does not expose.
    #[error("{0}")]
    NotFound(String),
    /// 408: the request (an upload) took longer than `FASTGATE_UPLOAD_TIMEOUT`; nothing was kept.
    #[error("the upload took longer than the limit of {}s", limit.as_secs())]
    TimedOut {
        /// The limit.
        limit: Duration,
    },
    /// 409: conflicts with the current state (e.g. completing a cancelled upload).
    #[error("{0}")]
    Conflict(String),
    /// 413: a file larger than `FASTGATE_MAX_FILE_SIZE` (or Fast.io's limit).
    #[error("the file is larger than the limit of {}", human_size(*limit))]
    TooLarge {
        /// The limit, in bytes.
        limit: u64,
    },
    /// 413: more files in one post than `FASTGATE_MAX_FILES`.
    #[error("at most {limit} files can be uploaded at once")]
    TooManyFiles {
        /// The limit.
        limit: usize,
    },
    /// 413: more bytes in one post (an upload-request link's submission) than it accepts.
    #[error("this upload link accepts at most {} per submission", human_size(*limit))]
    PostTooLarge {
        /// The limit, in bytes.
        limit: u64,
    },
    /// 413: Fast.io refused the body as too large (its own limit, not ours); its text is shown.
    #[error("too large for Fast.io: {0}")]
    UpstreamTooLarge(String),
    /// A chunk of the upload API refused before it went upstream: 404 (no such chunk number),
    /// 411 (no Content-Length), 400 (wrong size, digest mismatch, interrupted).
    #[error(transparent)]
    Chunk(#[from] ChunkRefused),
    /// 416 with `Content-Range: bytes */size`: a download's `Range` lies outside the file.
    #[error("the requested range is outside the file")]
    RangeNotSatisfiable {
        /// The file's size, when known.
        size: Option<u64>,
    },
    /// 415: a file type `FASTGATE_ALLOWED_TYPES` does not allow.
    #[error(transparent)]
    UnsupportedType(#[from] TypeRejected),
    /// 429 with `Retry-After`: Fast.io (or the gateway) asks the client to slow down.
    #[error("too many requests")]
    RateLimited {
        /// How long to wait, when known.
        retry_after: Option<Duration>,
    },
    /// 400: Fast.io refused what this request asked for (a 4xx other than those above); its
    /// message is shown.
    #[error("Fast.io refused this: {0}")]
    UpstreamRefused(String),
    /// 402: Fast.io wants payment (no active plan, or the AI credits are used up): the
    /// operator has to act.
    #[error(
        "Fast.io wants payment for this (no active plan, or the credits are used up); please tell the operator"
    )]
    PaymentRequired,
    /// Fast.io would not take the question: a folder as an attachment (400), a conversation
    /// too large to continue (409), intelligence off for the workspace (403).
    #[error("{}", ai_refusal_text(*.0))]
    AiRefused(fastio::AiRefusal),
    /// 502: Fast.io could not assemble or store an upload; its reason is shown.
    #[error("Fast.io could not store the file: {0}")]
    UploadFailed(String),
    /// 502: Fast.io stored something other than what was sent; which check failed is shown.
    #[error("Fast.io stored something other than what was sent: {0}")]
    Unverified(String),
    /// 502: Fast.io answered with an error or an answer we could not read (detail logged only).
    #[error("upstream error: {0}")]
    Upstream(String),
    /// 502: Fast.io refused the gateway's API key: an operator problem (detail logged only).
    #[error("upstream refused the API key: {0}")]
    UpstreamAuth(String),
    /// 503: Fast.io cannot be reached or timed out, or the gateway is shutting down.
    #[error("unavailable: {0}")]
    Unavailable(String),
    /// 500: a bug or an environment failure (detail logged only).
    #[error("internal error: {0}")]
    Internal(String),
}

/// What an error response says, attached to it as an extension so [`render_errors`] can render
/// the HTML page without knowing the variant.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ErrorReport {
    /// HTTP status.
    pub status: StatusCode,
    /// Stable snake_case code.
    pub code: &'static str,
    /// Text safe to show (opaque for 5xx).
    pub message: String,
}

/// The one JSON error shape of every route: `{"error": {"code", "message"}}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ErrorBody {
    /// What went wrong.
    pub error: ErrorDetail,
}

/// The inside of [`ErrorBody`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ErrorDetail {
    /// Stable snake_case code (`not_found`, `invalid_token`, …).
    #[schema(pattern = "^[a-z_]+$")]
    pub code: String,
    /// Text safe to show a person.
    pub message: String,
}

impl ErrorReport {
    /// The JSON error body as its type.
    pub fn shape(&self) -> ErrorBody {
        ErrorBody {
            error: ErrorDetail {
                code: self.code.to_owned(),
                message: self.message.clone(),
            },
        }
    }

    /// The JSON error body: `{"error":{"code","message"}}`.
    pub fn body(&self) -> serde_json::Value {
        json!({"error": {"code": self.code, "message": self.message}})
    }

    /// The JSON error response (status and body; no extension attached).
    pub fn json_response(&self) -> Response {
        (self.status, Json(self.shape())).into_response()
    }
}

impl AppError {
    /// The HTTP status.
    pub fn status(&self) -> StatusCode {
        match self {
            Self::BadRequest(_) | Self::UpstreamRefused(_) => StatusCode::BAD_REQUEST,
            Self::Token(_) | Self::Unauthenticated | Self::BadCredentials(_) => {
                StatusCode::UNAUTHORIZED
            }
            Self::Denied => StatusCode::FORBIDDEN,
            Self::Gone(_) => StatusCode::GONE,
            Self::PaymentRequired => StatusCode::PAYMENT_REQUIRED,
            Self::AiRefused(fastio::AiRefusal::FolderAttachment) => StatusCode::BAD_REQUEST,
            Self::AiRefused(fastio::AiRefusal::ConversationTooLarge) => StatusCode::CONFLICT,
            Self::AiRefused(fastio::AiRefusal::IntelligenceOff) => StatusCode::FORBIDDEN,
            Self::CrossOrigin | Self::Forbidden(_) => StatusCode::FORBIDDEN,
            Self::NotFound(_) => StatusCode::NOT_FOUND,
            Self::TimedOut { .. } => StatusCode::REQUEST_TIMEOUT,
            Self::Conflict(_) => StatusCode::CONFLICT,
            Self::TooLarge { .. }
            | Self::TooManyFiles { .. }
            | Self::PostTooLarge { .. }
            | Self::UpstreamTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            Self::UnsupportedType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::Chunk(ChunkRefused::OutOfRange { .. }) => StatusCode::NOT_FOUND,
            Self::Chunk(ChunkRefused::LengthRequired) => StatusCode::LENGTH_REQUIRED,
            Self::Chunk(_) => StatusCode::BAD_REQUEST,
            Self::RangeNotSatisfiable { .. } => StatusCode::RANGE_NOT_SATISFIABLE,
            Self::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
            Self::Upstream(_)
            | Self::UpstreamAuth(_)
            | Self::UploadFailed(_)
            | Self::Unverified(_) => StatusCode::BAD_GATEWAY,
            Self::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The stable snake_case code of the JSON body.
    pub fn code(&self) -> &'static str {
        match self {
            Self::BadRequest(_) => "bad_request",
            Self::Unauthenticated => "unauthenticated",
            Self::BadCredentials(_) => "invalid_credentials",
            Self::Denied => "forbidden",
            Self::Gone(_) => "gone",
            Self::PaymentRequired => "payment_required",
            Self::AiRefused(fastio::AiRefusal::FolderAttachment) => "folder_not_attachable",
            Self::AiRefused(fastio::AiRefusal::ConversationTooLarge) => "conversation_too_large",
            Self::AiRefused(fastio::AiRefusal::IntelligenceOff) => "intelligence_off",
            Self::Token(TokenError::Expired) => "token_expired",
            Self::Token(_) => "invalid_token",
            Self::CrossOrigin => "cross_origin",
            Self::Forbidden(_) => "forbidden",
            Self::NotFound(_) => "not_found",
            Self::TimedOut { .. } => "request_timeout",
            Self::Conflict(_) => "conflict",
            Self::TooLarge { .. } | Self::UpstreamTooLarge(_) => "file_too_large",
            Self::TooManyFiles { .. } => "too_many_files",
            Self::PostTooLarge { .. } => "submission_too_large",
            Self::UnsupportedType(_) => "unsupported_type",
            Self::Chunk(ChunkRefused::OutOfRange { .. }) => "chunk_out_of_range",
            Self::Chunk(ChunkRefused::LengthRequired) => "length_required",
            Self::Chunk(ChunkRefused::WrongSize { .. }) => "wrong_chunk_size",
            Self::Chunk(ChunkRefused::BadDigestHeader) => "bad_digest_header",
            Self::Chunk(ChunkRefused::DigestMismatch { .. }) => "digest_mismatch",
            Self::Chunk(ChunkRefused::Interrupted(_)) => "chunk_interrupted",
            Self::Chunk(ChunkRefused::AlreadyStored) => "already_stored",
            Self::RangeNotSatisfiable { .. } => "range_not_satisfiable",
            Self::RateLimited { .. } => "rate_limited",
            Self::UpstreamRefused(_) => "upstream_refused",
            Self::UploadFailed(_) => "upload_failed",
            Self::Unverified(_) => "stored_mismatch",
            Self::Upstream(_) => "upstream_error",
            Self::UpstreamAuth(_) => "upstream_auth",
            Self::Unavailable(_) => "unavailable",
            Self::Internal(_) => "internal",
        }
    }

    /// The text shown to the user: the real message for 4xx, a fixed sentence for 5xx.
    pub fn public_message(&self) -> String {
        match self {
            Self::CrossOrigin => "This request came from another site and was refused.".into(),
            Self::RateLimited { .. } => {
                "Too many requests; please wait a moment and try again.".into()
            }
            Self::Upstream(_) => "Fast.io answered with an error. Please try again.".into(),
            Self::UpstreamAuth(_) => {
                "The gateway could not sign in to Fast.io. Please tell the operator.".into()
            }
            Self::Unavailable(_) => {
                "Fast.io cannot be reached right now. Please try again shortly.".into()
            }
            Self::Internal(_) => "Something went wrong on our side.".into(),
            other => other.to_string(),
        }
    }

    /// The report attached to the response.
    pub fn report(&self) -> ErrorReport {
        ErrorReport {
            status: self.status(),
            code: self.code(),
            message: self.public_message(),
        }
    }
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        let report = self.report();
        if report.status.is_server_error() {
            tracing::error!(error = %self, code = report.code, "request failed");
        } else {
            tracing::debug!(error = %self, code = report.code, "request refused");
        }
        let mut response = report.json_response();
        match self {
            Self::RateLimited { retry_after } => {
                let secs = retry_after.map_or(1, |d| d.as_secs_f64().ceil().max(1.0) as u64);
                response
                    .headers_mut()
                    .insert(header::RETRY_AFTER, HeaderValue::from(secs));
            }
            Self::RangeNotSatisfiable { size: Some(size) } => {
                if let Ok(v) = HeaderValue::from_str(&format!("bytes */{size}")) {
                    response.headers_mut().insert(header::CONTENT_RANGE, v);
                }
            }
            _ => {}
        }
        response.extensions_mut().insert(report);
        response
    }
}

impl From<FileError> for AppError {
    fn from(e: FileError) -> Self {
        match e {
            FileError::TooLarge { limit } => Self::TooLarge { limit },
            FileError::Type(t) => Self::UnsupportedType(t),
            FileError::Interrupted(_) => Self::BadRequest(
                "the upload was interrupted before the file ended; nothing was kept".into(),
            ),
            FileError::Mismatch { what } => Self::Unverified(what),
            FileError::Upstream(f) => f.into(),
            FileError::Budget(BudgetError::Closed) => {
                Self::Unavailable("the gateway is shutting down; please try again".into())
            }
            FileError::Budget(e @ BudgetError::ExceedsCapacity { .. }) => {
                Self::Internal(e.to_string())
            }
            FileError::Busy { retry_after } => Self::RateLimited {
                retry_after: Some(retry_after),
            },
            FileError::Chunk(c) => Self::Chunk(c),
            FileError::Plan(p) => Self::BadRequest(p.to_string()),
            FileError::Database(e) => Self::Unavailable(format!("access database: {e}")),
            e @ (FileError::Incomplete { .. }
            | FileError::Ended { .. }
            | FileError::AlreadyStored) => Self::Conflict(e.to_string()),
            FileError::BadPath(why) => Self::BadRequest(why),
        }
    }
}

impl From<access::Error> for AppError {
    fn from(e: access::Error) -> Self {
        use access::Error as A;
        match e {
            A::Unauthenticated => Self::Unauthenticated,
            e @ (A::InvalidCredentials | A::WrongPassword | A::PasswordRequired) => {
                Self::BadCredentials(e.to_string())
            }
            A::NotFound => Self::NotFound("there is nothing here by that name".into()),
            A::Forbidden => Self::Denied,
            e @ A::SetupClosed => Self::Forbidden(e.to_string()),
            A::Throttled { retry_after } => Self::RateLimited {
                retry_after: Some(retry_after),
            },
            A::Invalid(why) => Self::BadRequest(why),
            A::Conflict(why) => Self::Conflict(why),
            e @ (A::LinkRevoked | A::LinkExpired | A::LinkExhausted) => Self::Gone(e.to_string()),
            A::TooManyFiles(limit) => Self::TooManyFiles {
                limit: usize::try_from(limit).unwrap_or(usize::MAX),
            },
            A::TooManyBytes(limit) => Self::PostTooLarge { limit },
            A::FileTooLarge(limit) => Self::TooLarge { limit },
            A::Db(e) => Self::Unavailable(format!("access database: {e}")),
            A::Internal(why) => Self::Internal(why),
        }
    }
}

impl From<fastio::Error> for AppError {
    fn from(e: fastio::Error) -> Self {
        use fastio::Error as F;
        match e {
            // 10545/115069: the key is fine but has no access here; to a visitor that is "not
            // found", like an unexposed workspace.
            F::Unauthorized { .. } if !e.is_bad_key() => {
                Self::NotFound("no such workspace, or the gateway has no access to it".into())
            }
            F::Unauthorized { .. } => Self::UpstreamAuth(e.to_string()),
            F::Forbidden { message, .. } => {
                Self::Forbidden(format!("Fast.io forbids this: {message}"))
            }
            F::NotFound { message, .. } => Self::NotFound(format!("not found: {message}")),
            F::TooLarge { message, .. } => Self::UpstreamTooLarge(message),
            F::PaymentRequired { .. } => Self::PaymentRequired,
            F::AiRefused { reason, .. } => Self::AiRefused(reason),
            F::RateLimited { retry_after, .. } => Self::RateLimited {
                retry_after: Some(retry_after),
            },
            F::Upstream { status: 416, .. } => Self::RangeNotSatisfiable { size: None },
            F::Upstream {
                status: 409,
                message,
                ..
            } => Self::Conflict(message),
            F::Upstream {
                status: 400..=499,
                message,
                ..
            } => Self::UpstreamRefused(message),
            F::Upstream { .. } | F::InvalidResponse(_) => Self::Upstream(e.to_string()),
            F::Transport(_) | F::UploadTimedOut { .. } => Self::Unavailable(e.to_string()),
            F::UploadFailed { message, .. } => Self::UploadFailed(message),
            F::InvalidArgument(why) => Self::BadRequest(why),
        }
    }
}

/// What the user is told about an AI refusal.
fn ai_refusal_text(reason: fastio::AiRefusal) -> &'static str {
    match reason {
        fastio::AiRefusal::FolderAttachment => {
            "only files can be attached to a question, not folders; to ask about a folder, choose it as the scope"
        }
        fastio::AiRefusal::ConversationTooLarge => {
            "this conversation is too long to continue; please start a new question"
        }
        fastio::AiRefusal::IntelligenceOff => {
            "AI answers are off for this workspace (its Fast.io intelligence setting); a workspace admin can turn them on"
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_variant_has_the_documented_status_and_a_snake_case_code() {
        let cases = [
            (AppError::BadRequest("x".into()), 400),
            (AppError::Token(TokenError::Expired), 401),
            (AppError::CrossOrigin, 403),
            (AppError::NotFound("x".into()), 404),
            (
                AppError::TimedOut {
                    limit: Duration::from_secs(1),
                },
                408,
            ),
            (AppError::Conflict("x".into()), 409),
            (AppError::UpstreamRefused("x".into()), 400),
            (AppError::UploadFailed("x".into()), 502),
            (AppError::Unverified("x".into()), 502),
            (AppError::TooLarge { limit: 1 }, 413),
            (AppError::TooManyFiles { limit: 1 }, 413),
            (AppError::RateLimited { retry_after: None }, 429),
            (AppError::Upstream("x".into()), 502),
            (AppError::Unavailable("x".into()), 503),
            (AppError::Internal("x".into()), 500),
        ];
        for (e, status) in cases {
            assert_eq!(e.status().as_u16(), status, "{e:?}");
            assert!(e.code().chars().all(|c| c.is_ascii_lowercase() || c == '_'));
        }
    }

    #[test]
    fn fastio_errors_map_to_the_documented_statuses() {
        let cases = [
            (
                fastio::Error::Unauthorized {
                    code: None,
                    message: "bad key".into(),
                },
                502,
            ),
            (
                fastio::Error::NotFound {
                    code: Some(1609),
                    message: "no node".into(),
                },
                404,
            ),
            (
                fastio::Error::RateLimited {
                    retry_after: Duration::from_secs(3),
                    code: None,
                },
                429,
            ),
            (
                fastio::Error::Upstream {
                    status: 500,
                    code: None,
                    message: "HTTP 500".into(),
                },
                502,
            ),
            (fastio::Error::InvalidResponse("x".into()), 502),
            (fastio::Error::InvalidArgument("empty id".into()), 400),
            (
                fastio::Error::PaymentRequired {
                    code: Some(1696),
                    message: "credit limit".into(),
                },
                402,
            ),
            (
                fastio::Error::AiRefused {
                    reason: fastio::AiRefusal::FolderAttachment,
                    code: None,
                    message: "folder".into(),
                },
                400,
            ),
            (
                fastio::Error::AiRefused {
                    reason: fastio::AiRefusal::ConversationTooLarge,
                    code: Some(168116),
                    message: "too large".into(),
                },
                409,
            ),
            (
                fastio::Error::AiRefused {
                    reason: fastio::AiRefusal::IntelligenceOff,
                    code: Some(1605),
                    message: "intelligence off".into(),
                },
                403,
            ),
        ];
        for (e, status) in cases {
            assert_eq!(AppError::from(e).status().as_u16(), status);
        }
        let e = AppError::from(fastio::Error::Unauthorized {
            code: None,
            message: "x".into(),
        });
        assert!(e.public_message().contains("operator"));
    }

    #[test]
    fn server_errors_hide_their_cause() {
        let e = AppError::Internal("db password=hunter2".into());
        assert!(!e.public_message().contains("hunter2"));
        let e = AppError::UpstreamAuth("Bearer abc".into());
        assert!(!e.public_message().contains("abc"));
    }

    #[test]
    fn rate_limits_carry_retry_after_in_whole_seconds() {
        let r = AppError::RateLimited {
            retry_after: Some(Duration::from_millis(1500)),
        }
        .into_response();
        assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(r.headers()[header::RETRY_AFTER], "2");
        assert!(r.extensions().get::<ErrorReport>().is_some());
    }
}
