//! The one error type of the Fast.io client. Every failure, whether from the network, from an
//! envelope or from an upload session that went wrong, ends up as a variant here, so callers map
//! it to their own responses in one `match`.

use std::error::Error as StdError;
use std::fmt;
use std::time::Duration;

use super::session::UploadStatus;

/// What went wrong talking to Fast.io. Messages never contain the API key, download tokens or
/// other query strings.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// HTTP 401: missing, invalid or expired key. With code 10545 (not a workspace member) or
    /// 115069 (not shared with this account) the key is valid but lacks access, see
    /// [`Error::is_bad_key`].
    #[error("Fast.io refused the credentials{}: {message}", CodeSuffix(*code))]
    Unauthorized {
        /// Fast.io's application error code, when the body had one.
        code: Option<i64>,
        /// Fast.io's human-readable text, or `HTTP 401`.
        message: String,
    },
    /// HTTP 403: role, plan or scope forbids the operation (codes 1670, 1680, 1685, 10756 …).
    #[error("Fast.io forbids this{}: {message}", CodeSuffix(*code))]
    Forbidden {
        /// Fast.io's application error code.
        code: Option<i64>,
        /// Fast.io's text, or `HTTP 403`.
        message: String,
    },
    /// HTTP 404: no such workspace, node, upload session or route (codes 1609, 9992 …).
    #[error("not found on Fast.io{}: {message}", CodeSuffix(*code))]
    NotFound {
        /// Fast.io's application error code.
        code: Option<i64>,
        /// Fast.io's text, or `HTTP 404`.
        message: String,
    },
    /// HTTP 413: the body is larger than Fast.io accepts (single call over 4 MiB, stream past
    /// `max_size`, plan limit).
    #[error("too large for Fast.io{}: {message}", CodeSuffix(*code))]
    TooLarge {
        /// Fast.io's application error code.
        code: Option<i64>,
        /// Fast.io's text, or `HTTP 413`.
        message: String,
    },
    /// HTTP 402 (codes 1688, 1695, 1696): no active plan, or the credits are used up.
    #[error("Fast.io wants payment{}: {message}", CodeSuffix(*code))]
    PaymentRequired {
        /// Fast.io's application error code.
        code: Option<i64>,
        /// Fast.io's text, or `HTTP 402`.
        message: String,
    },
    /// An AI question Fast.io refused for a reason the caller can act on (`fastio-api.md` §8).
    #[error("Fast.io refused the question ({reason}){}: {message}", CodeSuffix(*code))]
    AiRefused {
        /// Which refusal.
        reason: AiRefusal,
        /// Fast.io's application error code.
        code: Option<i64>,
        /// Fast.io's text.
        message: String,
    },
    /// HTTP 429 (codes 10368, 1671): rate limited, and waiting was not allowed or not enough.
    /// `retry_after` comes from the rate-limit headers (60 s when they are unreadable).
    #[error("rate limited by Fast.io{}; retry in {}s", CodeSuffix(*code), retry_after.as_secs())]
    RateLimited {
        /// How long until the bucket refills.
        retry_after: Duration,
        /// Fast.io's application error code.
        code: Option<i64>,
    },
    /// Any other failure Fast.io reported: 4xx validation errors (1605, 10522, 406 …) and 5xx.
    /// For a `result:false` arriving with a 2xx status, `status` is that 2xx status.
    #[error("Fast.io answered HTTP {status}{}: {message}", CodeSuffix(*code))]
    Upstream {
        /// The HTTP status of the response.
        status: u16,
        /// Fast.io's application error code.
        code: Option<i64>,
        /// Fast.io's text, or `HTTP <status>`.
        message: String,
    },
    /// The request did not complete: DNS, connect, TLS, reset, timeout, or the caller's body
    /// stream failed. The URL is stripped, so no token leaks through the message.
    #[error("could not complete the request to Fast.io: {}", SourceChain(.0))]
    Transport(#[source] reqwest::Error),
    /// The response could not be understood (not JSON where JSON was needed, missing fields).
    #[error("unexpected response from Fast.io: {0}")]
    InvalidResponse(String),
    /// The upload session ended in `assembly_failed` or `store_failed` (or another state that
    /// cannot become `stored`); `message` is the session's `status_message`.
    #[error("upload failed ({status}): {message}")]
    UploadFailed {
        /// The session's final status.
        status: UploadStatus,
        /// Fast.io's `status_message`, or a description.
        message: String,
    },
    /// The session did not reach `stored` within the time the caller allowed. It may still
    /// finish later; the caller decides whether to cancel it.
    #[error("upload not stored in time (last status {status})")]
    UploadTimedOut {
        /// The last status seen.
        status: UploadStatus,
    },
    /// The caller passed something that cannot be sent (empty id, malformed base URL).
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
}

impl Error {
    /// Wraps a reqwest error, dropping its URL (which may carry a download token).
    pub(crate) fn transport(err: reqwest::Error) -> Self {
        Error::Transport(err.without_url())
    }

    /// The HTTP status Fast.io answered with, when the error came from a response.
    pub fn http_status(&self) -> Option<u16> {
        match self {
            Error::Unauthorized { .. } => Some(401),
            Error::Forbidden { .. } => Some(403),
            Error::NotFound { .. } => Some(404),
            Error::TooLarge { .. } => Some(413),
            Error::PaymentRequired { .. } => Some(402),
            Error::AiRefused { reason, .. } => Some(reason.http_status()),
            Error::RateLimited { .. } => Some(429),
            Error::Upstream { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// Fast.io's application error code (e.g. 10522, 10368), when there was one.
    pub fn code(&self) -> Option<i64> {
        match self {
            Error::Unauthorized { code, .. }
            | Error::Forbidden { code, .. }
            | Error::NotFound { code, .. }
            | Error::TooLarge { code, .. }
            | Error::PaymentRequired { code, .. }
            | Error::AiRefused { code, .. }
            | Error::RateLimited { code, .. }
            | Error::Upstream { code, .. } => *code,
            _ => None,
        }
    }

    /// Whether Fast.io said there is no preview of that type for the file (404 / 143705, or a
    /// bare 404 on a preview read, §6.10): still generating, failed, or not applicable.
    pub fn is_preview_unavailable(&self) -> bool {
        matches!(
            self,
            Error::NotFound {
                code: Some(143705) | None,
                ..
            }
        )
    }

    /// Whether repeating the same request later may succeed: rate limits, 502–504, connect
    /// failures and timeouts. The client already retried these as far as its policy allowed.
    pub fn is_retryable(&self) -> bool {
        match self {
            Error::RateLimited { .. } => true,
            Error::Upstream { status, .. } => matches!(status, 502..=504),
            Error::Transport(err) => err.is_connect() || err.is_timeout(),
            _ => false,
        }
    }

    /// How long Fast.io asked us to wait, for rate-limit errors.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            Error::RateLimited { retry_after, .. } => Some(*retry_after),
            _ => None,
        }
    }

    /// True for a 401 that means the key itself is bad, not a missing membership (10545) or
    /// share grant (115069).
    pub fn is_bad_key(&self) -> bool {
        matches!(self, Error::Unauthorized { code, .. } if !matches!(code, Some(10545 | 115069)))
    }

    /// True when Fast.io may have received the request even though we saw a failure: a 5xx
    /// answer, or a transport error after the connection was made. Such a request must not be
    /// replayed blindly.
    pub(crate) fn may_have_reached_server(&self) -> bool {
        match self {
            Error::Upstream { status, .. } => *status >= 500,
            Error::Transport(err) => !err.is_connect(),
            Error::InvalidResponse(_) => true,
            _ => false,
        }
    }
}

/// Why Fast.io would not take an AI question.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AiRefusal {
    /// 406: a folder was given as an attachment (only files can be attached).
    FolderAttachment,
    /// 409 (168116, 153795, 148135, 144657): the conversation is too large; start a new chat.
    ConversationTooLarge,
    /// 400/1605: intelligence is off for the workspace (or not on its plan).
    IntelligenceOff,
}

impl AiRefusal {
    /// The HTTP status Fast.io answered with.
    pub fn http_status(self) -> u16 {
        match self {
            AiRefusal::FolderAttachment => 406,
            AiRefusal::ConversationTooLarge => 409,
            AiRefusal::IntelligenceOff => 400,
        }
    }
}

impl fmt::Display for AiRefusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            AiRefusal::FolderAttachment => "a folder cannot be attached",
            AiRefusal::ConversationTooLarge => "the conversation is too large",
            AiRefusal::IntelligenceOff => "intelligence is off",
        })
    }
}

/// Formats ` (code N)` when a code is present.
struct CodeSuffix(Option<i64>);

impl fmt::Display for CodeSuffix {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some(code) => write!(f, " (code {code})"),
            None => Ok(()),
        }
    }
}

/// Formats an error with its sources, `outer: inner: innermost`.
struct SourceChain<'a>(&'a reqwest::Error);

impl fmt::Display for SourceChain<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)?;
        let mut source = self.0.source();
        while let Some(err) = source {
            write!(f, ": {err}")?;
            source = err.source();
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_code_and_retryability_follow_the_variant() {
        let limited = Error::RateLimited {
            retry_after: Duration::from_secs(7),
            code: Some(10368),
        };
        assert_eq!(limited.http_status(), Some(429));
        assert_eq!(limited.code(), Some(10368));
        assert!(limited.is_retryable());
        assert_eq!(limited.retry_after(), Some(Duration::from_secs(7)));

        let bad_gateway = Error::Upstream {
            status: 502,
            code: None,
            message: "HTTP 502".into(),
        };
        assert!(bad_gateway.is_retryable());
        assert!(bad_gateway.may_have_reached_server());
        let server_error = Error::Upstream {
            status: 500,
            code: None,
            message: "HTTP 500".into(),
        };
        assert!(!server_error.is_retryable());
        let invalid = Error::Upstream {
            status: 400,
            code: Some(1605),
            message: "bad".into(),
        };
        assert!(!invalid.is_retryable());
        assert!(!invalid.may_have_reached_server());
    }

    #[test]
    fn membership_401_is_not_a_bad_key() {
        let not_member = Error::Unauthorized {
            code: Some(10545),
            message: "not a member".into(),
        };
        let bad = Error::Unauthorized {
            code: Some(10011),
            message: "no".into(),
        };
        assert!(!not_member.is_bad_key());
        assert!(bad.is_bad_key());
    }

    #[test]
    fn display_names_the_code() {
        let err = Error::Upstream {
            status: 400,
            code: Some(10522),
            message: "chunks (4443) do not match size (8000)".into(),
        };
        assert_eq!(
            err.to_string(),
            "Fast.io answered HTTP 400 (code 10522): chunks (4443) do not match size (8000)"
        );
    }
}
