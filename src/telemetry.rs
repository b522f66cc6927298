//! Metrics of the whole process, rendered as Prometheus text on `GET /metrics`.
//!
//! One recorder is installed per process ([`install`], called by `server::run`; idempotent: tests
//! build many apps in one process and share it). Everything else calls the small recording functions below, so metric
//! names and labels live in one file and stay low-cardinality: HTTP routes by their *template*
//! (`/w/{workspace}/{folder}`), Fast.io calls by their endpoint template, never ids or names.
//!
//! What each part records:
//! - `web::metrics::track_http` ([`http_response`]): requests by method, route and status, and
//!   their latency;
//! - `fastio::Client` ([`upstream_response`], [`upstream_retry`]): every attempt by endpoint and
//!   status, its latency, retries and 429s received;
//! - the upload pipelines ([`upload_started`], [`upload_bytes`], [`UploadMeter::finish`]): uploads
//!   and bytes in flight, bytes uploaded, uploads by outcome.

use std::sync::OnceLock;
use std::time::Duration;

use metrics::{counter, gauge, histogram};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

/// HTTP requests served: labels `method`, `route`, `status`.
pub const HTTP_REQUESTS: &str = "fastgate_http_requests_total";
/// Time to the response head, seconds: labels `method`, `route`.
pub const HTTP_DURATION: &str = "fastgate_http_request_duration_seconds";
/// Fast.io request attempts: labels `endpoint`, `status` (`error` when no response came).
pub const UPSTREAM_REQUESTS: &str = "fastgate_upstream_requests_total";
/// Time to Fast.io's response head, seconds: label `endpoint`.
pub const UPSTREAM_DURATION: &str = "fastgate_upstream_request_duration_seconds";
/// Fast.io attempts repeated after a failure: label `endpoint`.
pub const UPSTREAM_RETRIES: &str = "fastgate_upstream_retries_total";
/// 429 answers received from Fast.io: label `endpoint`.
pub const UPSTREAM_RATE_LIMITED: &str = "fastgate_upstream_rate_limited_total";
/// Upload bytes sent on to Fast.io (counted by `fastio::Client` as chunks, single calls and
/// stream pieces go out; a retried chunk counts again).
pub const UPLOAD_BYTES: &str = "fastgate_upload_bytes_total";
/// Finished uploads: labels `path` (`form`|`api`), `outcome`.
pub const UPLOADS: &str = "fastgate_uploads_total";
/// Uploads in progress.
pub const UPLOADS_IN_FLIGHT: &str = "fastgate_uploads_in_flight";
/// Upload bytes held by the gateway right now (the in-flight budget in use).
pub const UPLOAD_BYTES_IN_FLIGHT: &str = "fastgate_upload_bytes_in_flight";

/// Latency buckets (seconds) for HTTP and upstream histograms: 1 ms … 5 min.
const LATENCY_BUCKETS: [f64; 14] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0, 60.0, 300.0,
];

static HANDLE: OnceLock<Option<PrometheusHandle>> = OnceLock::new();

/// Installs the process-wide Prometheus recorder once and returns its handle; later calls return
/// the same handle. `None` when another recorder was installed first (metrics then go there).
pub fn install() -> Option<&'static PrometheusHandle> {
    HANDLE
        .get_or_init(|| {
            let builder = PrometheusBuilder::new()
                .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), &LATENCY_BUCKETS)
                .ok()?;
            let recorder = builder.build_recorder();
            let handle = recorder.handle();
            metrics::set_global_recorder(recorder).ok()?;
            describe();
            Some(handle)
        })
        .as_ref()
}

/// The current metrics in Prometheus text format (installing the recorder if needed).
pub fn render() -> String {
    install().map(PrometheusHandle::render).unwrap_or_default()
}

fn describe() {
    use metrics::{describe_counter, describe_gauge, describe_histogram};
    describe_counter!(
        HTTP_REQUESTS,
        "HTTP requests served, by method, route and status"
    );
    describe_histogram!(
        HTTP_DURATION,
        "Time to the response head, by method and route"
    );
    describe_counter!(
        UPSTREAM_REQUESTS,
        "Fast.io request attempts, by endpoint and status"
    );
    describe_histogram!(
        UPSTREAM_DURATION,
        "Time to Fast.io's response head, by endpoint"
    );
    describe_counter!(
        UPSTREAM_RETRIES,
        "Fast.io attempts repeated after a failure"
    );
    describe_counter!(UPSTREAM_RATE_LIMITED, "429 answers received from Fast.io");
    describe_counter!(UPLOAD_BYTES, "Upload bytes sent on to Fast.io");
    describe_counter!(UPLOADS, "Finished uploads, by path and outcome");
    describe_gauge!(UPLOADS_IN_FLIGHT, "Uploads in progress");
    describe_gauge!(
        UPLOAD_BYTES_IN_FLIGHT,
        "Upload bytes held in memory right now"
    );
}

/// One HTTP request answered: counted by method, route template and status, and its time to
/// the response head recorded.
pub fn http_response(method: &str, route: &str, status: u16, elapsed: Duration) {
    let (method, route) = (method.to_owned(), route.to_owned());
    counter!(HTTP_REQUESTS, "method" => method.clone(), "route" => route.clone(), "status" => status.to_string())
        .increment(1);
    histogram!(HTTP_DURATION, "method" => method, "route" => route).record(elapsed.as_secs_f64());
}

/// One Fast.io attempt ended: `status` is the HTTP status, or `None` when no response came.
pub fn upstream_response(endpoint: &'static str, status: Option<u16>, elapsed: Duration) {
    let status = status.map_or_else(|| "error".to_owned(), |s| s.to_string());
    if status == "429" {
        counter!(UPSTREAM_RATE_LIMITED, "endpoint" => endpoint).increment(1);
    }
    counter!(UPSTREAM_REQUESTS, "endpoint" => endpoint, "status" => status).increment(1);
    histogram!(UPSTREAM_DURATION, "endpoint" => endpoint).record(elapsed.as_secs_f64());
}

/// A Fast.io call is about to be tried again.
pub fn upstream_retry(endpoint: &'static str) {
    counter!(UPSTREAM_RETRIES, "endpoint" => endpoint).increment(1);
}

/// The way a file came in, for the `path` label.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UploadPath {
    /// A multipart form post.
    Form,
    /// The JSON upload API (upload.js, scripts).
    Api,
}

impl UploadPath {
    fn label(self) -> &'static str {
        match self {
            UploadPath::Form => "form",
            UploadPath::Api => "api",
        }
    }
}

/// How an upload ended, for the `outcome` label.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UploadOutcome {
    /// Stored and verified.
    Stored,
    /// Refused by a rule: size, type, name, count.
    Rejected,
    /// The client went away or cancelled.
    Cancelled,
    /// Fast.io or the gateway failed.
    Failed,
}

impl UploadOutcome {
    fn label(self) -> &'static str {
        match self {
            UploadOutcome::Stored => "stored",
            UploadOutcome::Rejected => "rejected",
            UploadOutcome::Cancelled => "cancelled",
            UploadOutcome::Failed => "failed",
        }
    }
}

/// An upload in progress: counted in `fastgate_uploads_in_flight` until [`UploadMeter::finish`]
/// or drop (a dropped meter counts as `cancelled`: the request future was dropped).
#[derive(Debug)]
#[must_use = "the upload counts as in flight while the meter lives"]
pub struct UploadMeter {
    path: UploadPath,
    done: bool,
}

/// An upload starts (one file on the form path; one `complete`d session on the API path).
pub fn upload_started(path: UploadPath) -> UploadMeter {
    gauge!(UPLOADS_IN_FLIGHT).increment(1.0);
    UploadMeter { path, done: false }
}

impl UploadMeter {
    /// The upload ended with `outcome`.
    pub fn finish(mut self, outcome: UploadOutcome) {
        self.record(outcome);
    }

    fn record(&mut self, outcome: UploadOutcome) {
        if !self.done {
            self.done = true;
            gauge!(UPLOADS_IN_FLIGHT).decrement(1.0);
            counter!(UPLOADS, "path" => self.path.label(), "outcome" => outcome.label())
                .increment(1);
        }
    }
}

impl Drop for UploadMeter {
    fn drop(&mut self) {
        self.record(UploadOutcome::Cancelled);
    }
}

/// `bytes` of an upload were sent on to Fast.io.
pub fn upload_bytes(bytes: u64) {
    counter!(UPLOAD_BYTES).increment(bytes);
}

/// Upload bytes the gateway holds right now (the budget in use); set by whoever reads it.
pub fn upload_bytes_in_flight(bytes: u64) {
    gauge!(UPLOAD_BYTES_IN_FLIGHT).set(bytes as f64);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn install_is_idempotent_and_renders_recorded_values() {
        let first = install().map(|h| h as *const _);
        assert!(first.is_some());
        assert_eq!(install().map(|h| h as *const _), first);
        upstream_response("GET /unit-test/", Some(429), Duration::from_millis(3));
        upload_started(UploadPath::Form).finish(UploadOutcome::Rejected);
        let text = render();
        assert!(
            text.contains("fastgate_upstream_rate_limited_total{endpoint=\"GET /unit-test/\"}")
        );
        assert!(text.contains("fastgate_uploads_total{path=\"form\",outcome=\"rejected\"}"));
    }
}
