//! Request counters for tests (§11 "Observability for tests"): counts per method, route template
//! and status, the most chunk requests seen in flight per session, and preview generation runs.

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::{MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::Response;
use parking_lot::Mutex;

/// A snapshot of what the emulator has seen.
#[derive(Debug, Clone, Default)]
pub struct Stats {
    /// `(method, route template, status)` → count. Unknown paths use the template `"<unknown>"`.
    pub requests: HashMap<(String, String, u16), u64>,
    /// Upload session id → most chunk requests in flight at once.
    pub max_chunks_in_flight: HashMap<String, usize>,
    /// Reads served on the redirect target (the "CDN" origin).
    pub cdn_reads: u64,
    /// Of those, how many arrived carrying an `Authorization` header (should be 0).
    pub cdn_reads_with_authorization: u64,
    /// Preview generation runs (§6.10), in order: node id, time spent decoding and encoding, and
    /// whether the thumbnail was made.
    pub preview_runs: Vec<PreviewRun>,
}

/// One preview generation run.
#[derive(Debug, Clone)]
pub struct PreviewRun {
    /// The node the previews are for.
    pub node: String,
    /// Decode + resize + encode time.
    pub elapsed: std::time::Duration,
    /// `true` when the thumbnail is `ready`, `false` when it ended in `error`.
    pub ok: bool,
}

impl Stats {
    /// Requests with this method, template and status.
    pub fn count(&self, method: &str, template: &str, status: u16) -> u64 {
        self.requests
            .get(&(method.to_owned(), template.to_owned(), status))
            .copied()
            .unwrap_or(0)
    }

    /// Requests with this method and template, any status.
    pub fn total(&self, method: &str, template: &str) -> u64 {
        self.requests
            .iter()
            .filter(|((m, t, _), _)| m == method && t == template)
            .map(|(_, n)| n)
            .sum()
    }

    /// The most chunk requests seen in flight for a session.
    pub fn max_in_flight(&self, session: &str) -> usize {
        self.max_chunks_in_flight.get(session).copied().unwrap_or(0)
    }
}

/// Collects [`Stats`].
#[derive(Default)]
pub struct Recorder {
    inner: Mutex<Stats>,
}

impl Recorder {
    /// A copy of the counters.
    pub fn snapshot(&self) -> Stats {
        self.inner.lock().clone()
    }

    /// Notes `n` chunk requests in flight for `session`.
    pub fn saw_in_flight(&self, session: &str, n: usize) {
        let mut s = self.inner.lock();
        let e = s
            .max_chunks_in_flight
            .entry(session.to_owned())
            .or_insert(0);
        *e = (*e).max(n);
    }

    /// Notes one preview generation run.
    pub fn saw_preview(&self, run: PreviewRun) {
        self.inner.lock().preview_runs.push(run);
    }

    /// Notes one read on the redirect target.
    pub fn saw_cdn_read(&self, with_authorization: bool) {
        let mut s = self.inner.lock();
        s.cdn_reads += 1;
        s.cdn_reads_with_authorization += u64::from(with_authorization);
    }
}

/// Middleware: counts every response.
pub async fn record(State(stats): State<Arc<Recorder>>, req: Request, next: Next) -> Response {
    let method = req.method().to_string();
    let template = req
        .extensions()
        .get::<MatchedPath>()
        .map(|m| m.as_str().to_owned())
        .unwrap_or_else(|| "<unknown>".to_owned());
    let res = next.run(req).await;
    // Route template only: never the query (download tokens) nor headers (the Bearer key).
    tracing::debug!(%method, %template, status = res.status().as_u16(), "emulator request");
    let key = (method, template, res.status().as_u16());
    *stats.inner.lock().requests.entry(key).or_insert(0) += 1;
    res
}
