//! Rate limiting (§3): a fixed window per API key and endpoint family, with the
//! `x-ve-limit-avail/-max/-expires` headers on every response.
//!
//! Families follow §3 "Buckets": `/upload/batch/` has its own bucket (429 code 1671), the rest
//! of `/upload/…` shares one (code 10368), and every other top-level path segment is its own
//! family. The key is identified by a SHA-256 fingerprint, never the Bearer value itself.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::{Request, State};
use axum::http::header::{AUTHORIZATION, RETRY_AFTER};
use axum::http::{HeaderMap, HeaderName, HeaderValue};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use parking_lot::Mutex;
use sha2::{Digest, Sha256};

use super::error::ApiError;
use super::faults::FaultControls;
use super::ids;

/// Format of the rate-limit `expires` header (§3).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum ExpiresFormat {
    /// Unix epoch seconds (the CLI's reading; default).
    #[default]
    Epoch,
    /// `YYYY-MM-DD HH:MM:SS UTC` (SK-old's reading).
    Datetime,
}

/// Rate-limit header naming (§3).
#[derive(Debug, Clone, Default)]
pub struct HeaderStyle {
    /// Send `X-Rate-Limit-Available/-Max/-Expiry` instead of `x-ve-limit-*`.
    pub legacy_names: bool,
    /// How `expires` is written.
    pub expires: ExpiresFormat,
}

struct Window {
    started: Instant,
    started_epoch: i64,
    used: u32,
}

/// Windows per (key fingerprint, family), the rule (read from the fault controls, so tests can
/// change it at runtime) and the header style. The middleware's whole state.
pub struct Limiter {
    windows: Mutex<HashMap<(String, &'static str), Window>>,
    faults: FaultControls,
    headers: HeaderStyle,
}

/// The outcome of taking one request from a window.
struct Taken {
    allowed: bool,
    avail: u32,
    max: u32,
    expires_epoch: i64,
}

impl Limiter {
    /// A limiter with no windows open yet.
    pub fn new(faults: FaultControls, headers: HeaderStyle) -> Self {
        Self {
            windows: Mutex::default(),
            faults,
            headers,
        }
    }

    fn take(&self, key: String, family: &'static str, max: u32, window: Duration) -> Taken {
        let now = Instant::now();
        let mut map = self.windows.lock();
        let w = map.entry((key, family)).or_insert_with(|| Window {
            started: now,
            started_epoch: ids::now_epoch(),
            used: 0,
        });
        if now.duration_since(w.started) >= window {
            *w = Window {
                started: now,
                started_epoch: ids::now_epoch(),
                used: 0,
            };
        }
        let allowed = w.used < max;
        if allowed {
            w.used += 1;
        }
        Taken {
            allowed,
            avail: max.saturating_sub(w.used),
            max,
            expires_epoch: w.started_epoch + window.as_secs().max(1) as i64,
        }
    }
}

fn family(path: &str) -> &'static str {
    let rest = path.trim_start_matches("/current/");
    if rest.starts_with("upload/batch/") {
        "upload_batch"
    } else if rest.starts_with("upload/") || rest == "upload" {
        "upload"
    } else if rest.starts_with("workspace/") || rest.starts_with("workspaces/") {
        "workspace"
    } else if rest.starts_with("user/") {
        "user"
    } else {
        "other"
    }
}

fn fingerprint(headers: &HeaderMap) -> String {
    match headers.get(AUTHORIZATION) {
        Some(v) => hex::encode(&Sha256::digest(v.as_bytes())[..8]),
        None => "anonymous".to_owned(),
    }
}

/// Middleware: counts the request, answers 429 when the window is empty, adds the headers.
pub async fn limit(State(limiter): State<Arc<Limiter>>, req: Request, next: Next) -> Response {
    let fam = family(req.uri().path());
    let rule = limiter.faults.get().rate_limit;
    let taken = limiter.take(fingerprint(req.headers()), fam, rule.max, rule.window);
    let mut res = if taken.allowed {
        next.run(req).await
    } else if fam == "upload_batch" {
        ApiError::BatchRateLimited.into_response()
    } else {
        ApiError::RateLimited("too many requests".into()).into_response()
    };
    let wait = (taken.expires_epoch - ids::now_epoch()).max(1);
    let expires = match limiter.headers.expires {
        ExpiresFormat::Epoch => taken.expires_epoch.to_string(),
        ExpiresFormat::Datetime => chrono::DateTime::from_timestamp(taken.expires_epoch, 0)
            .map(ids::format_time)
            .unwrap_or_default(),
    };
    let names: [&'static str; 3] = if limiter.headers.legacy_names {
        [
            "x-rate-limit-available",
            "x-rate-limit-max",
            "x-rate-limit-expiry",
        ]
    } else {
        ["x-ve-limit-avail", "x-ve-limit-max", "x-ve-limit-expires"]
    };
    let values = [taken.avail.to_string(), taken.max.to_string(), expires];
    let limited = res.status().as_u16() == 429;
    let h = res.headers_mut();
    for (name, value) in names.into_iter().zip(values) {
        if let Ok(v) = HeaderValue::from_str(&value) {
            h.insert(HeaderName::from_static(name), v);
        }
    }
    if limited && let Ok(v) = HeaderValue::from_str(&wait.to_string()) {
        h.insert(RETRY_AFTER, v);
    }
    res
}
