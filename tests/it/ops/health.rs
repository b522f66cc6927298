//! Operability endpoints: `/healthz`, `/readyz` (upstream reachable, key valid, not
//! rate-limited, cached) and `/metrics` (Prometheus text).
//!
//! The Prometheus recorder is one per process, and this test binary runs every test in one
//! process: counts read in-process would mix in every other test's traffic. So the metrics tests
//! read a gateway *process* of their own ([`Measured`]), whose counters start at zero and count
//! only what the test did, and assert exact values.

use std::time::Duration;

use crate::common::process::{self, Process};
use crate::common::{TestApp, spawn_app, start_emulator};
use fastgate::emulator::{EmulatorConfig, RunningEmulator};
use fastgate::web::AppState;

/// A gateway whose client uses `key` against `base_url` (for readiness failures), with its
/// data directory.
async fn gateway_with_client(base_url: String, key: &str) -> (TestApp, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().display().to_string();
    let key = key.to_owned();
    let secret = key.clone();
    let app = TestApp::serve_async(
        async move |url: String| {
            let config = fastgate::config::Config::from_vars([
                ("FASTIO_API_KEY".to_owned(), key.clone()),
                ("FASTIO_BASE_URL".to_owned(), base_url.clone()),
                ("FASTGATE_PUBLIC_URL".to_owned(), url.clone()),
                ("FASTGATE_DATA_DIR".to_owned(), data),
                ("FASTGATE_AUTH".to_owned(), "open".to_owned()),
            ])
            .expect("valid config");
            let mut client_config =
                fastgate::fastio::ClientConfig::new(base_url, secrecy::SecretString::from(key));
            client_config.retry.max_attempts = 1;
            client_config.connect_timeout = Duration::from_secs(2);
            let client = fastgate::fastio::Client::new(client_config).expect("client");
            let state = AppState::open(config, client).await.expect("state");
            fastgate::web::app(state)
        },
        vec![secret],
    )
    .await;
    (app, dir)
}

#[tokio::test(flavor = "multi_thread")]
async fn healthz_answers_ok_without_calling_upstream() {
    let app = spawn_app().await;
    let response = app.get("/healthz").await;
    assert_eq!(response.status, 200);
    assert_eq!(response.json()["status"], "ok");
    assert_eq!(app.emulator.stats().total("GET", "/current/ping/"), 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn readyz_is_ready_when_upstream_answers_and_the_verdict_is_cached() {
    let app = spawn_app().await;
    let first = app.get("/readyz").await;
    assert_eq!(first.status, 200, "{}", first.text());
    assert_eq!(first.json()["status"], "ready");
    let pings = app.emulator.stats().total("GET", "/current/ping/");
    assert_eq!(pings, 1);
    let second = app.get("/readyz").await;
    assert_eq!(second.status, 200);
    assert_eq!(
        app.emulator.stats().total("GET", "/current/ping/"),
        pings,
        "a second probe within the cache window must not call Fast.io"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn readyz_reports_a_rate_limited_key_with_503_and_retry_after() {
    let app = spawn_app().await;
    app.emulator
        .faults()
        .set_rate_limit(0, Duration::from_secs(600));
    let response = app.get("/readyz").await;
    assert_eq!(response.status, 503, "{}", response.text());
    assert_eq!(response.json()["error"]["code"], "rate_limited");
    let retry: u64 = response
        .header("retry-after")
        .expect("Retry-After")
        .parse()
        .expect("seconds");
    assert!(retry > 1, "retry-after {retry}");
}

#[tokio::test(flavor = "multi_thread")]
async fn readyz_reports_an_invalid_key_with_503() {
    let upstream = spawn_app().await;
    let (app, _dir) = gateway_with_client(upstream.emulator.base_url(), "k_wrong_key_123").await;
    let response = app.get("/readyz").await;
    assert_eq!(response.status, 503, "{}", response.text());
    assert_eq!(response.json()["error"]["code"], "key_invalid");
}

#[tokio::test(flavor = "multi_thread")]
async fn readyz_reports_an_unreachable_upstream_with_503() {
    let closed = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = closed.local_addr().expect("addr");
    drop(closed);
    let (app, _dir) = gateway_with_client(format!("http://{addr}/current"), "k_some_key_123").await;
    let response = app.get("/readyz").await;
    assert_eq!(response.status, 503, "{}", response.text());
    assert_eq!(response.json()["error"]["code"], "upstream_unreachable");
}

const METRICS_KEY: &str = "k_metrics_test_key_5d1e07";

/// The real emulator (after `tune`) and a `fastgate serve` process of the test's own in front of
/// it, with `vars` on top: its `/metrics` counts this test's requests and nothing else.
struct Measured {
    emulator: RunningEmulator,
    app: TestApp,
    _process: Process,
    _dir: tempfile::TempDir,
}

impl Measured {
    async fn start(vars: &[(&str, &str)], tune: impl FnOnce(&mut EmulatorConfig)) -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let emulator = start_emulator(&dir.path().join("emulator"), METRICS_KEY, tune).await;
        let mut env = vec![
            ("FASTIO_API_KEY".to_owned(), METRICS_KEY.to_owned()),
            ("FASTIO_BASE_URL".to_owned(), emulator.base_url()),
            (
                "FASTGATE_DATA_DIR".to_owned(),
                dir.path().join("gateway").display().to_string(),
            ),
            // What is counted, not who may ask: /metrics in accounts mode is tested with access.
            ("FASTGATE_AUTH".to_owned(), "open".to_owned()),
        ];
        env.extend(vars.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())));
        let (process, url) = process::serve(&env, dir.path());
        Self {
            emulator,
            app: TestApp::attach(&url, vec![METRICS_KEY.to_owned()]),
            _process: process,
            _dir: dir,
        }
    }

    /// The value of `series` (name and labels) in the process's `/metrics`; 0 when absent.
    async fn sample(&self, series: &str) -> f64 {
        sample(&self.app.get("/metrics").await.text(), series).unwrap_or(0.0)
    }

    fn workspace(&self) -> String {
        self.emulator.workspace_id()
    }
}

/// The value of the sample whose line starts with `series` (name and labels), if present.
fn sample(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find_map(|line| line.strip_prefix(series)?.trim().parse().ok())
}

#[tokio::test(flavor = "multi_thread")]
async fn metrics_count_http_requests_by_route_template_and_upstream_calls_by_endpoint() {
    let gw = Measured::start(&[], |_| {}).await;
    let app = &gw.app;
    assert_eq!(app.get("/healthz").await.status, 200);
    assert_eq!(app.get("/readyz").await.status, 200);
    assert_eq!(app.get("/no/such/page").await.status, 404);
    let response = app.get("/metrics").await;
    assert_eq!(response.status, 200);
    assert!(
        response
            .header("content-type")
            .is_some_and(|ct| ct.starts_with("text/plain; version=0.0.4"))
    );
    let text = response.text();
    let exactly = |series: &str, expected: f64| {
        assert_eq!(
            sample(&text, series),
            Some(expected),
            "{series} in:\n{text}"
        );
    };
    exactly(
        "fastgate_http_requests_total{method=\"GET\",route=\"/healthz\",status=\"200\"}",
        1.0,
    );
    exactly(
        "fastgate_http_requests_total{method=\"GET\",route=\"unmatched\",status=\"404\"}",
        1.0,
    );
    exactly(
        "fastgate_http_request_duration_seconds_count{method=\"GET\",route=\"/readyz\"}",
        1.0,
    );
    exactly(
        "fastgate_upstream_requests_total{endpoint=\"GET /ping/\",status=\"200\"}",
        1.0,
    );
    exactly(
        "fastgate_upstream_request_duration_seconds_count{endpoint=\"GET /user/auth/check/\"}",
        1.0,
    );
    assert!(text.contains("fastgate_http_request_duration_seconds_bucket{"));
    assert!(text.contains("# TYPE fastgate_upload_bytes_in_flight gauge"));
}

#[tokio::test(flavor = "multi_thread")]
async fn metrics_count_retries_and_429s_received_from_upstream() {
    // A one-second window, so the injected 429's reset is close and the gateway waits it out.
    let gw = Measured::start(&[], |c| {
        c.faults.rate_limit = fastgate::emulator::RateLimit {
            max: 10_000,
            window: Duration::from_secs(1),
        };
    })
    .await;
    gw.emulator
        .faults()
        .fail_nth_with_429("/current/workspaces/all/", 1);
    let listed = gw.app.get("/api/workspaces").await;
    assert_eq!(listed.status, 200, "{}", listed.text());
    let endpoint = "{endpoint=\"GET /workspaces/all/\"}";
    assert_eq!(
        gw.sample(&format!("fastgate_upstream_rate_limited_total{endpoint}"))
            .await,
        1.0
    );
    assert_eq!(
        gw.sample(&format!("fastgate_upstream_retries_total{endpoint}"))
            .await,
        1.0
    );
    let stats = gw.emulator.stats();
    assert_eq!(stats.count("GET", "/current/workspaces/all/", 429), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn metrics_count_upload_bytes_sent_upstream() {
    let gw = Measured::start(&[], |_| {}).await;
    assert_eq!(gw.sample("fastgate_upload_bytes_total").await, 0.0);
    let form = reqwest::multipart::Form::new().part(
        "file",
        reqwest::multipart::Part::bytes(vec![b'a'; 12_345]).file_name("counted.txt"),
    );
    let response = post_upload(&gw, form).await;
    assert_eq!(response.status, 200, "{}", response.text());
    assert_eq!(gw.sample("fastgate_upload_bytes_total").await, 12_345.0);
}

/// Posts `form` to the root folder's upload action, asking for JSON.
async fn post_upload(gw: &Measured, form: reqwest::multipart::Form) -> crate::common::Recorded {
    let app = &gw.app;
    app.send(
        app.client
            .post(format!("{}/w/{}/root?/upload", app.url, gw.workspace()))
            .header("origin", app.origin())
            .header("accept", "application/json")
            .multipart(form),
    )
    .await
}

#[tokio::test(flavor = "multi_thread")]
async fn metrics_count_form_uploads_by_outcome() {
    let gw = Measured::start(&[("FASTGATE_MAX_FILE_SIZE", "1KiB")], |_| {}).await;
    let form = reqwest::multipart::Form::new()
        .part(
            "file",
            reqwest::multipart::Part::bytes(vec![b'a'; 100]).file_name("small.txt"),
        )
        .part(
            "file",
            reqwest::multipart::Part::bytes(vec![b'b'; 5000]).file_name("big.txt"),
        );
    let response = post_upload(&gw, form).await;
    assert_eq!(response.status, 413, "{}", response.text());
    let series =
        |outcome: &str| format!("fastgate_uploads_total{{path=\"form\",outcome=\"{outcome}\"}}");
    assert_eq!(gw.sample(&series("stored")).await, 1.0);
    assert_eq!(gw.sample(&series("rejected")).await, 1.0);
}
