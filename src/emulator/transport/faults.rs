//! Fault injection (§11 "Transport faults", "Rate limits", "State machine"): what can go wrong
//! on purpose, set in [`Faults`] at start and changed at runtime through [`FaultControls`].
//!
//! The [`inject`] middleware applies latency, random 5xx (HTML or empty bodies) and "429 on the
//! Nth request of a path" before a request reaches its handler, cuts chunk and stream bodies
//! with a connection reset, and delays response headers (slow first bytes); assembly and store
//! failures are read by the upload driver, the rest by the handlers they concern.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use axum::body::Body;
use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderValue, StatusCode, header::CONTENT_TYPE};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use futures_util::StreamExt;
use parking_lot::{Mutex, RwLock};
use rand::RngExt as _;

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
    /// `(path, n)`: the n-th request of `path`, counted like [`Faults::nth_429`], gets a
    /// 502 with an HTML body (a deterministic "5xx, then success" for retry tests).
    pub nth_5xx: Vec<(String, u64)>,
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
    /// Once more than this many bytes of a chunk or stream body have arrived, the emulator stops
    /// reading and drops the connection without an answer (§11 "connection resets in the middle
    /// of a chunk body"). The handler still cleans up first (no chunk is recorded; a stream
    /// session ends in `assembly_failed`).
    pub reset_body_after: Option<u64>,
    /// Delay after a request was handled and before its response headers go out (§11 "slow
    /// first bytes"): the work is done, the client waits. `latency_ms` delays before the work.
    pub slow_first_byte_ms: u64,
    /// AI chat create and follow-up answer 402/1688 (credits exhausted, §8).
    pub ai_credits_exhausted: bool,
    /// Workspaces whose `intelligence` is off: details say `false` and scoped chat answers
    /// 400/1605 (§5, §8 "Preconditions"). Every other workspace has it on.
    pub intelligence_off_workspaces: Vec<String>,
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

    /// Makes the n-th request (counted from now) of `path` answer 502.
    pub fn fail_nth_with_5xx(&self, path: impl Into<String>, n: u64) {
        let path = path.into();
        self.path_counts.lock().remove(&format!("5xx {path}"));
        self.update(|f| f.nth_5xx.push((path, n)));
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

    /// Cuts every later chunk or stream body after `bytes` (`None` stops it).
    pub fn set_reset_body_after(&self, bytes: Option<u64>) {
        self.update(|f| f.reset_body_after = bytes);
    }

    /// Sets the delay before response headers.
    pub fn set_slow_first_byte_ms(&self, ms: u64) {
        self.update(|f| f.slow_first_byte_ms = ms);
    }

    /// Sets whether AI chat answers 402 (credits exhausted).
    pub fn set_ai_credits_exhausted(&self, on: bool) {
        self.update(|f| f.ai_credits_exhausted = on);
    }

    /// Turns workspace intelligence on or off for `workspace`.
    pub fn set_intelligence(&self, workspace: &str, on: bool) {
        self.update(|f| {
            f.intelligence_off_workspaces.retain(|w| w != workspace);
            if !on {
                f.intelligence_off_workspaces.push(workspace.to_owned());
            }
        });
    }

    /// Whether `workspace` has intelligence on (the default).
    pub fn intelligence_on(&self, workspace: &str) -> bool {
        !self
            .inner
            .read()
            .intelligence_off_workspaces
            .iter()
            .any(|w| w == workspace)
    }

    /// Whether AI chat answers 402.
    pub fn ai_credits_exhausted(&self) -> bool {
        self.inner.read().ai_credits_exhausted
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
        self.nth_hit(&rules, "", template, path)
    }

    fn nth_5xx_hit(&self, template: &str, path: &str) -> bool {
        let rules = self.inner.read().nth_5xx.clone();
        self.nth_hit(&rules, "5xx ", template, path)
    }

    /// Counts this request against every rule naming its template or path (under `kind`, so
    /// the 429 and 5xx rules of one path count apart); true when one reaches its n.
    fn nth_hit(&self, rules: &[(String, u64)], kind: &str, template: &str, path: &str) -> bool {
        let mut counts = self.path_counts.lock();
        // Each path named by a rule counts this request once, however many rules name it.
        let mut named: Vec<&str> = rules
            .iter()
            .map(|(p, _)| p.as_str())
            .filter(|p| *p == template || *p == path)
            .collect();
        named.sort_unstable();
        named.dedup();
        let mut hit = false;
        for p in named {
            let c = counts.entry(format!("{kind}{p}")).or_insert(0);
            *c += 1;
            let seen = *c;
            hit |= rules.iter().any(|(q, n)| q == p && *n == seen);
        }
        hit
    }
}

/// Middleware: latency, random 5xx, n-th-request 429, bodies cut with a connection reset, and
/// slow first bytes.
pub async fn inject(State(controls): State<FaultControls>, req: Request, next: Next) -> Response {
    let faults = controls.get();
    if faults.latency_ms > 0 {
        tokio::time::sleep(Duration::from_millis(faults.latency_ms)).await;
    }
    if faults.error_rate > 0.0 {
        let roll: (f64, usize, bool) = {
            let mut rng = rand::rng();
            (rng.random(), rng.random_range(0..3), rng.random())
        };
        if roll.0 < faults.error_rate {
            return gateway_error(roll.1, roll.2);
        }
    }
    let template = req
        .extensions()
        .get::<MatchedPath>()
        .map(|m| m.as_str().to_owned())
        .unwrap_or_default();
    if !faults.nth_5xx.is_empty() && controls.nth_5xx_hit(&template, req.uri().path()) {
        return gateway_error(0, true);
    }
    if !faults.nth_429.is_empty() && controls.nth_429_hit(&template, req.uri().path()) {
        return ApiError::RateLimited("too many requests (injected)".into()).into_response();
    }
    let cut = faults
        .reset_body_after
        .filter(|_| BODY_ROUTES.contains(&template.as_str()))
        .map(|limit| (limit, Arc::new(AtomicBool::new(false))));
    let req = match &cut {
        Some((limit, tripped)) => cut_body(req, *limit, tripped.clone()),
        None => req,
    };
    let res = next.run(req).await;
    if cut.is_some_and(|(_, tripped)| tripped.load(Ordering::SeqCst)) {
        drop_connection();
    }
    if faults.slow_first_byte_ms > 0 {
        tokio::time::sleep(Duration::from_millis(faults.slow_first_byte_ms)).await;
    }
    res
}

/// The routes whose bodies [`Faults::reset_body_after`] cuts.
const BODY_ROUTES: [&str; 2] = [
    "/current/upload/{id}/chunk/",
    "/current/upload/{id}/stream/",
];

/// The request with its body ending in an error once more than `limit` bytes were read, and
/// `tripped` set, so the handler fails (and cleans up) as it would on a broken connection.
fn cut_body(req: Request, limit: u64, tripped: Arc<AtomicBool>) -> Request {
    let (parts, body) = req.into_parts();
    let mut seen = 0u64;
    let body = body.into_data_stream().map(move |piece| {
        let piece = piece?;
        seen += piece.len() as u64;
        if seen > limit {
            tripped.store(true, Ordering::SeqCst);
            return Err(axum::Error::new(std::io::Error::from(
                std::io::ErrorKind::ConnectionReset,
            )));
        }
        Ok(piece)
    });
    Request::from_parts(parts, Body::from_stream(body))
}

/// Ends the connection with no response. A handler has no handle on its socket, so this unwinds
/// out of the connection's task: the task ends, the socket closes with unread bytes, and the
/// kernel answers the client with a reset. `resume_unwind` skips the panic hook, so nothing is
/// reported as a crash. (Mounted behind a panic-catching layer it would become a 500 instead.)
fn drop_connection() -> ! {
    std::panic::resume_unwind(Box::new("injected connection reset"))
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
