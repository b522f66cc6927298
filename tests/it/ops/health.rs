//! Operability endpoints: `/healthz`, `/readyz` (upstream reachable, key valid, not
//! rate-limited, cached) and `/metrics` (Prometheus text).

mod common;

use std::time::Duration;

use common::{TestApp, spawn_app, spawn_app_with};
use fastgate::web::AppState;

/// A gateway whose client uses `key` against `base_url` (for readiness failures).
async fn gateway_with_client(base_url: String, key: &str) -> TestApp {
    let key = key.to_owned();
    let secret = key.clone();
    TestApp::serve(
        move |url| {
            let dir = std::env::temp_dir().display().to_string();
            let config = fastgate::config::Config::from_vars([
                ("FASTIO_API_KEY".to_owned(), key.clone()),
                ("FASTIO_BASE_URL".to_owned(), base_url.clone()),
                ("FASTGATE_PUBLIC_URL".to_owned(), url.to_owned()),
                ("FASTGATE_DATA_DIR".to_owned(), dir),
            ])
            .expect("valid config");
            let mut client_config =
                fastgate::fastio::ClientConfig::new(base_url, secrecy::SecretString::from(key));
            client_config.retry.max_attempts = 1;
            client_config.connect_timeout = Duration::from_secs(2);
            let client = fastgate::fastio::Client::new(client_config).expect("client");
            fastgate::web::app(AppState::new(config, client))
        },
        vec![secret],
    )
    .await
}

#[tokio::test]
async fn healthz_answers_ok_without_calling_upstream() {
    let app = spawn_app().await;
    let response = app.get("/healthz").await;
    assert_eq!(response.status, 200);
    assert_eq!(response.json()["status"], "ok");
    assert_eq!(app.emulator.stats().total("GET", "/current/ping/"), 0);
}

#[tokio::test]
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

#[tokio::test]
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

#[tokio::test]
async fn readyz_reports_an_invalid_key_with_503() {
    let upstream = spawn_app().await;
    let app = gateway_with_client(upstream.emulator.base_url(), "k_wrong_key_123").await;
    let response = app.get("/readyz").await;
    assert_eq!(response.status, 503, "{}", response.text());
    assert_eq!(response.json()["error"]["code"], "key_invalid");
}

#[tokio::test]
async fn readyz_reports_an_unreachable_upstream_with_503() {
    let closed = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = closed.local_addr().expect("addr");
    drop(closed);
    let app = gateway_with_client(format!("http://{addr}/current"), "k_some_key_123").await;
    let response = app.get("/readyz").await;
    assert_eq!(response.status, 503, "{}", response.text());
    assert_eq!(response.json()["error"]["code"], "upstream_unreachable");
}

/// The value of the sample whose line starts with `series` (name and labels), if present.
fn sample(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find_map(|line| line.strip_prefix(series)?.trim().parse().ok())
}

#[tokio::test]
async fn metrics_count_http_requests_by_route_template_and_upstream_calls_by_endpoint() {
    let app = spawn_app().await;
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
    let at_least_one = |series: &str| {
        assert!(
            sample(&text, series).is_some_and(|v| v >= 1.0),
            "no {series} in:\n{text}"
        );
    };
    at_least_one("fastgate_http_requests_total{method=\"GET\",route=\"/healthz\",status=\"200\"}");
    at_least_one("fastgate_http_requests_total{method=\"GET\",route=\"unmatched\",status=\"404\"}");
    at_least_one("fastgate_http_request_duration_seconds_count{method=\"GET\",route=\"/readyz\"}");
    at_least_one("fastgate_upstream_requests_total{endpoint=\"GET /ping/\",status=\"200\"}");
    at_least_one(
        "fastgate_upstream_request_duration_seconds_count{endpoint=\"GET /user/auth/check/\"}",
    );
    assert!(text.contains("fastgate_http_request_duration_seconds_bucket{"));
    assert!(text.contains("# TYPE fastgate_upload_bytes_in_flight gauge"));
}

#[tokio::test]
async fn metrics_count_retries_and_429s_received_from_upstream() {
    let app = spawn_app().await;
    app.emulator
        .faults()
        .fail_nth_with_429("/current/workspaces/all/", 1);
    assert!(app.state.fastio.list_workspaces().await.is_err());
    app.emulator.faults().set_error_rate(1.0);
    assert!(app.state.fastio.ping().await.is_err());
    let text = app.get("/metrics").await.text();
    let at_least_one = |series: &str| {
        assert!(
            sample(&text, series).is_some_and(|v| v >= 1.0),
            "no {series} in:\n{text}"
        );
    };
    at_least_one("fastgate_upstream_rate_limited_total{endpoint=\"GET /workspaces/all/\"}");
    at_least_one("fastgate_upstream_retries_total{endpoint=\"GET /ping/\"}");
}

#[tokio::test]
async fn metrics_count_upload_bytes_sent_upstream() {
    let app = spawn_app().await;
    let before = sample(
        &app.get("/metrics").await.text(),
        "fastgate_upload_bytes_total",
    )
    .unwrap_or(0.0);
    let target = fastgate::fastio::UploadTarget {
        workspace: app.workspace.clone(),
        folder: "root".to_owned(),
    };
    app.state
        .fastio
        .upload_single(
            &target,
            "counted.txt",
            bytes::Bytes::from(vec![b'a'; 12_345]),
        )
        .await
        .expect("uploaded");
    let after = sample(
        &app.get("/metrics").await.text(),
        "fastgate_upload_bytes_total",
    )
    .expect("the counter exists");
    assert!(after - before >= 12_345.0, "{before} → {after}");
}

#[tokio::test]
async fn metrics_count_form_uploads_by_outcome() {
    let app = spawn_app_with(&[("FASTGATE_MAX_FILE_SIZE", "1KiB")], |_| {}).await;
    let series_stored = "fastgate_uploads_total{path=\"form\",outcome=\"stored\"}";
    let series_rejected = "fastgate_uploads_total{path=\"form\",outcome=\"rejected\"}";
    let text = app.get("/metrics").await.text();
    let stored_before = sample(&text, series_stored).unwrap_or(0.0);
    let rejected_before = sample(&text, series_rejected).unwrap_or(0.0);
    let form = reqwest::multipart::Form::new()
        .part(
            "file",
            reqwest::multipart::Part::bytes(vec![b'a'; 100]).file_name("small.txt"),
        )
        .part(
            "file",
            reqwest::multipart::Part::bytes(vec![b'b'; 5000]).file_name("big.txt"),
        );
    let response = app
        .send(
            app.client
                .post(format!("{}/w/{}/root?/upload", app.url, app.workspace))
                .header("origin", app.origin())
                .header("accept", "application/json")
                .multipart(form),
        )
        .await;
    assert_eq!(response.status, 413, "{}", response.text());
    let text = app.get("/metrics").await.text();
    let stored = sample(&text, series_stored).expect("stored series");
    let rejected = sample(&text, series_rejected).expect("rejected series");
    assert!(stored - stored_before >= 1.0, "{text}");
    assert!(rejected - rejected_before >= 1.0, "{text}");
}
