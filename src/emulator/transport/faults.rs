//! Fault injection (§11 "Transport faults", "Rate limits", "State machine"): what can go wrong
//! on purpose, set in [`Faults`] at start and changed at runtime through [`FaultControls`].
//!
//! The [`inject`] middleware applies latency, random 5xx (HTML or empty bodies) and "429 on the
//! Nth request of a path" before a request reaches its handler; assembly and store failures are
//! read by the upload driver.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderValue, StatusCode, header::CONTENT_TYPE};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use parking_lot::{Mutex, RwLock};
use rand::Rng;

use super::error::ApiError;

/// A fixed window rate limit: `max` requests per `window` per key and endpoint family.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimit {
    /// Requests allowed per window (`x-ve-limit-max`).
    pub max: u32,
    /// Window length.
    pub window: Duration,
}

impl Default for RateLimit {
    /// Generous enough for benchmarks (limits per plan are not published, §3).
    fn default() -> Self {
        Self {
            max: 10_000,
            window: Duration::from_secs(60),
        }
    }
}

/// Fault settings. `Default` injects nothing.
#[derive(Debug, Clone, Default)]
pub struct Faults {
    /// Added before every request is handled.
    pub latency_ms: u64,
    /// Probability (0–1) that a request gets a 502/503/504 with an HTML or empty body.
    pub error_rate: f64,
    /// Rate limit per key and endpoint family.
    pub rate_limit: RateLimit,
    /// `(path, n)`: the n-th request (1-based) whose route template or concrete path equals
    /// `path` gets 429/10368 (e.g. `("/current/upload/{id}/chunk/", 2)`).
    pub nth_429: Vec<(String, u64)>,
    /// Assembly ends in `assembly_failed`.
    pub fail_assembly: bool,
    /// Storage import ends in `store_failed`.
    pub fail_store: bool,
    /// Workspaces whose calls answer 401/10545 (not a member).
    pub not_member_workspaces: Vec<String>,
    /// Probability (0–1) that a single-call upload answers without `new_file_id` (§7.4).
    pub defer_new_file_id_rate: f64,
    /// Single-call and stream uploads answer 500 after the file was stored (§11: proves no
    /// replay).
    pub fail_after_store: bool,
    /// `read/` answers 302 to the same bytes on a second origin (`cdn_base`), so tests prove
    /// the client follows without forwarding `Authorization` (§1 "Redirects").
    pub redirect_reads: bool,
}

/// A shared, runtime-changeable handle on [`Faults`].
#[derive(Clone, Default)]
pub struct FaultControls {
    inner: Arc<RwLock<Faults>>,
    path_counts: Arc<Mutex<HashMap<String, u64>>>,
}

impl FaultControls {
    /// Wraps initial settings.
    pub fn new(faults: Faults) -> Self {
        Self {
            inner: Arc::new(RwLock::new(faults)),
            path_counts: Arc::default(),
        }
    }

    /// A copy of the current settings.
    pub fn get(&self) -> Faults {
        self.inner.read().clone()
    }

    /// Replaces all settings.
    pub fn set(&self, faults: Faults) {
        *self.inner.write() = faults;
    }

    /// Changes settings in place, e.g. `faults.update(|f| f.fail_assembly = true)`.
    pub fn update(&self, f: impl FnOnce(&mut Faults)) {
        f(&mut self.inner.write());
    }

    /// Sets the latency added to every request.
    pub fn set_latency_ms(&self, ms: u64) {
        self.update(|f| f.latency_ms = ms);
    }

    /// Sets the random 5xx probability.
    pub fn set_error_rate(&self, rate: f64) {
        self.update(|f| f.error_rate = rate);
    }

    /// Sets the rate limit.
    pub fn set_rate_limit(&self, max: u32, window: Duration) {
        self.update(|f| f.rate_limit = RateLimit { max, window });
    }

    /// Makes the n-th request (counted from now) of `path` answer 429.
    pub fn fail_nth_with_429(&self, path: impl Into<String>, n: u64) {
        let path = path.into();
        self.path_counts.lock().remove(&path);
        self.update(|f| f.nth_429.push((path, n)));
    }

    /// Sets whether assembly fails.
    pub fn set_fail_assembly(&self, on: bool) {
        self.update(|f| f.fail_assembly = on);
    }

    /// Sets whether the storage import fails.
    pub fn set_fail_store(&self, on: bool) {
        self.update(|f| f.fail_store = on);
    }

    /// Whether calls on `workspace` answer "not a member".
    pub fn is_not_member(&self, workspace: &str) -> bool {
        self.inner
            .read()
            .not_member_workspaces
            .iter()
            .any(|w| w == workspace)
    }

    fn nth_429_hit(&self, template: &str, path: &str) -> bool {
        let rules = self.inner.read().nth_429.clone();
        let mut counts = self.path_counts.lock();
        let mut hit = false;
        for (p, n) in rules {
            if p == template || p == path {
                let c = counts.entry(p).or_insert(0);
                *c += 1;
                hit |= *c == n;
            }
        }
        hit
    }
}

/// Middleware: latency, random 5xx, n-th-request 429.
pub async fn inject(State(controls): State<FaultControls>, req: Request, next: Next) -> Response {
    let faults = controls.get();
    if faults.latency_ms > 0 {
        tokio::time::sleep(Duration::from_millis(faults.latency_ms)).await;
    }
    if faults.error_rate > 0.0 {
        let roll: (f64, usize, bool) = {
            let mut rng = rand::thread_rng();
            (rng.r#gen(), rng.gen_range(0..3), rng.r#gen())
        };
        if roll.0 < faults.error_rate {
            return gateway_error(roll.1, roll.2);
        }
    }
    if !faults.nth_429.is_empty() {
        let template = req
            .extensions()
            .get::<MatchedPath>()
            .map(|m| m.as_str().to_owned())
            .unwrap_or_default();
        if controls.nth_429_hit(&template, req.uri().path()) {
            return ApiError::RateLimited("too many requests (injected)".into()).into_response();
        }
    }
    next.run(req).await
}

fn gateway_error(which: usize, html: bool) -> Response {
    let status = [
        StatusCode::BAD_GATEWAY,
        StatusCode::SERVICE_UNAVAILABLE,
        StatusCode::GATEWAY_TIMEOUT,
    ][which];
    let mut res = if html {
        let body = format!(
            "<html><head><title>{status}</title></head><body><center><h1>{status}</h1></center>\
             <hr><center>nginx</center></body></html>"
        );
        let mut r = Response::new(Body::from(body));
        r.headers_mut()
            .insert(CONTENT_TYPE, HeaderValue::from_static("text/html"));
        r
    } else {
        Response::new(Body::empty())
    };
    *res.status_mut() = status;
    res
}
