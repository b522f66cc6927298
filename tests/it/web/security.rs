//! The security layers and error shapes, over real HTTP: Origin checks, security headers,
//! request ids, JSON errors on API routes and HTML error pages elsewhere, and no secret in any
//! response (every response goes through the harness's leak scan).

use std::time::Duration;

use crate::common::TestApp;
use axum::Router;
use axum::routing::{get, post};
use fastgate::web::error::AppError;
use fastgate::web::error_page::ErrorFrame;
use fastgate::web::security::{OriginPolicy, harden};

const KEY: &str = "fio-test-key-1234567890";

async fn app() -> TestApp {
    TestApp::serve(
        |url| {
            let routes = Router::new()
                .route("/page", get(|| async { "hello" }))
                .route("/form", post(|| async { "posted" }))
                .route("/api/thing", post(|| async { "{}" }))
                .route(
                    "/api/slow-down",
                    get(|| async {
                        Err::<(), _>(AppError::RateLimited {
                            retry_after: Some(Duration::from_secs(7)),
                        })
                    }),
                )
                .route(
                    "/broken",
                    get(|| async { Err::<(), _>(AppError::Internal(format!("cause with {KEY}"))) }),
                )
                .route(
                    "/api/broken",
                    get(|| async { Err::<(), _>(AppError::Upstream(format!("Bearer {KEY}"))) }),
                );
            harden(routes, OriginPolicy::new(url), ErrorFrame::default())
        },
        vec![KEY.into()],
    )
    .await
}

#[tokio::test]
async fn every_response_carries_the_security_headers_and_a_request_id() {
    let app = app().await;
    let r = app.get("/page").await;
    assert_eq!(r.status, 200);
    let csp = r.header("content-security-policy").expect("csp");
    assert!(csp.contains("default-src 'self'") && csp.contains("frame-ancestors 'none'"));
    assert!(!csp.contains("unsafe-inline"));
    assert_eq!(r.header("x-content-type-options"), Some("nosniff"));
    assert_eq!(r.header("x-frame-options"), Some("DENY"));
    assert_eq!(r.header("referrer-policy"), Some("same-origin"));
    assert_eq!(r.header("x-request-id").map(str::len), Some(24));
    let missing = app.get("/nowhere").await;
    assert!(missing.header("content-security-policy").is_some());
    assert!(missing.header("x-request-id").is_some());
}

#[tokio::test]
async fn a_sane_request_id_is_honoured_and_a_hostile_one_replaced() {
    let app = app().await;
    let page = format!("{}/page", app.url);
    let r = app
        .send(app.client.get(&page).header("x-request-id", "abc-123"))
        .await;
    assert_eq!(r.header("x-request-id"), Some("abc-123"));
    let long = "x".repeat(200);
    let r = app
        .send(app.client.get(&page).header("x-request-id", long.as_str()))
        .await;
    assert_ne!(r.header("x-request-id"), Some(long.as_str()));
}

#[tokio::test]
async fn a_form_post_without_origin_is_refused_with_an_html_page() {
    let app = app().await;
    let r = app
        .send(
            app.client
                .post(format!("{}/form", app.url))
                .header("accept", "text/html")
                .form(&[("name", "x")]),
        )
        .await;
    assert_eq!(r.status, 403);
    assert!(
        r.header("content-type")
            .is_some_and(|c| c.starts_with("text/html"))
    );
    assert!(r.text().contains("another site"), "{}", r.text());
}

#[tokio::test]
async fn a_form_post_from_our_origin_passes_and_from_another_is_refused() {
    let app = app().await;
    let form = |origin: &str| {
        app.client
            .post(format!("{}/form", app.url))
            .header("origin", origin)
            .form(&[("a", "b")])
    };
    assert_eq!(app.send(form(app.origin())).await.status, 200);
    assert_eq!(app.send(form("https://evil.example")).await.status, 403);
    let multipart = reqwest::multipart::Form::new().text("a", "b");
    let r = app
        .send(
            app.client
                .post(format!("{}/form", app.url))
                .header("origin", "https://evil.example")
                .multipart(multipart),
        )
        .await;
    assert_eq!(r.status, 403);
}

#[tokio::test]
async fn json_api_calls_are_refused_only_with_a_foreign_origin() {
    let app = app().await;
    let call = || {
        app.client
            .post(format!("{}/api/thing", app.url))
            .json(&serde_json::json!({}))
    };
    assert_eq!(app.send(call()).await.status, 200, "scripts send no Origin");
    assert_eq!(
        app.send(call().header("origin", app.origin())).await.status,
        200
    );
    let r = app
        .send(call().header("origin", "https://evil.example"))
        .await;
    assert_eq!(r.status, 403);
    assert_eq!(r.json()["error"]["code"], "cross_origin");
}

#[tokio::test]
async fn api_errors_have_one_json_shape_including_framework_404s() {
    let app = app().await;
    let r = app.get("/api/nothing-here").await;
    assert_eq!(r.status, 404);
    assert_eq!(r.json()["error"]["code"], "not_found");
    assert!(r.json()["error"]["message"].is_string());
    let r = app.get("/api/slow-down").await;
    assert_eq!(r.status, 429);
    assert_eq!(r.header("retry-after"), Some("7"));
    assert_eq!(r.json()["error"]["code"], "rate_limited");
}

#[tokio::test]
async fn pages_get_an_html_error_page_with_the_request_id() {
    let app = app().await;
    let r = app
        .send(
            app.client
                .get(format!("{}/missing", app.url))
                .header("x-request-id", "req-42"),
        )
        .await;
    assert_eq!(r.status, 404);
    assert!(
        r.header("content-type")
            .is_some_and(|c| c.starts_with("text/html"))
    );
    let html = r.text();
    assert!(
        html.contains("Not found") && html.contains("req-42"),
        "{html}"
    );
    let r = app
        .send(app.client.get(format!("{}/api/slow-down", app.url)))
        .await;
    assert_eq!(r.status, 429);
}

#[tokio::test]
async fn server_errors_are_opaque_and_leak_nothing() {
    let app = app().await;
    let page = app.get("/broken").await;
    assert_eq!(page.status, 500);
    assert!(page.text().contains("Something went wrong"));
    let api = app.get("/api/broken").await;
    assert_eq!(api.status, 502);
    assert_eq!(api.json()["error"]["code"], "upstream_error");
    assert!(app.scanned() >= 2);
}

#[test]
#[should_panic(expected = "Bearer credential leaked")]
fn the_leak_scanner_catches_a_bearer_value() {
    crate::common::assert_no_leak(&[], &Default::default(), b"Authorization: Bearer abc");
}

#[test]
#[should_panic(expected = "a secret leaked in the header x-debug")]
fn the_leak_scanner_catches_a_secret_in_a_header() {
    let mut headers = reqwest::header::HeaderMap::new();
    headers.insert("x-debug", KEY.parse().expect("value"));
    crate::common::assert_no_leak(&[KEY.into()], &headers, b"");
}
