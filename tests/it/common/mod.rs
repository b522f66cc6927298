//! The one test harness: serve a router on port 0 and talk HTTP to it, recording every response
//! and scanning its headers and body for secrets (the API key, any `Bearer ` value);
//! [`spawn_app`] starts the real gateway in front of the real emulator.

pub mod browser;
pub mod documents;
pub mod emulator;
mod fixtures;
pub mod forms;
mod gateway;
pub mod links;
pub mod payload;
pub mod postgres;
pub mod process;
mod wait;

pub use gateway::{
    ADMIN_PASSWORD, Gateway, build_gateway, spawn_app, spawn_app_with, spawn_second_gateway,
    start_emulator,
};
pub use wait::{poll_until, wait_until};

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use axum::Router;
use bytes::Bytes;
use reqwest::StatusCode;
use reqwest::header::HeaderMap;

/// A running app and a client aimed at it.
pub struct TestApp {
    /// `http://127.0.0.1:PORT`, no trailing slash.
    pub url: String,
    /// A client that follows no redirects (tests look at 303s) and keeps no cookies.
    pub client: reqwest::Client,
    /// Strings that must never appear in a response (the API key, …).
    secrets: Vec<String>,
    /// Responses scanned so far.
    scanned: Arc<AtomicUsize>,
}

/// One response, fully read and already scanned for leaks.
#[derive(Debug)]
pub struct Recorded {
    /// Status.
    pub status: StatusCode,
    /// Headers.
    pub headers: HeaderMap,
    /// Body bytes.
    pub body: Bytes,
}

impl Recorded {
    /// The body as text.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The body as JSON (panics with the body when it is not).
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("body is not JSON ({e}): {}", self.text()))
    }

    /// A header as text, if present.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

/// The header-read timeout of test servers: the gateway's default.
pub const SERVER_HEADER_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

impl TestApp {
    /// Binds 127.0.0.1:0, builds the router from its URL (the app's public URL, which the Origin
    /// check needs), serves it on that very listener (never "find a free port, then bind") with the
    /// gateway's own server loop, and
    /// watches for `secrets` in every response.
    pub async fn serve(make_router: impl FnOnce(&str) -> Router, secrets: Vec<String>) -> Self {
        Self::serve_async(async |url: String| make_router(&url), secrets).await
    }

    /// [`Self::serve`] with a router that takes awaiting to build (the gateway opens its access
    /// database). Peers' addresses reach the app (`ConnectInfo`), as under `fastgate serve`.
    pub async fn serve_async(
        make_router: impl AsyncFnOnce(String) -> Router,
        secrets: Vec<String>,
    ) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind port 0");
        let addr = listener.local_addr().expect("local addr");
        let router = make_router(format!("http://{addr}")).await;
        // The server loop `fastgate serve` runs (read-ahead bound, header timeout, ConnectInfo).
        tokio::spawn(fastgate::server::serve_app(
            listener,
            router,
            SERVER_HEADER_TIMEOUT,
            std::future::pending(),
        ));
        let client = plain_client();
        Self {
            url: format!("http://{addr}"),
            client,
            secrets,
            scanned: Arc::default(),
        }
    }

    /// The same app seen through another client (signed in as someone else, or anonymous).
    pub fn with_client(&self, client: reqwest::Client) -> Self {
        Self {
            url: self.url.clone(),
            client,
            secrets: self.secrets.clone(),
            scanned: self.scanned.clone(),
        }
    }

    /// The same app with no credentials at all.
    pub fn anonymous(&self) -> Self {
        self.with_client(plain_client())
    }

    /// A recording client for a gateway served elsewhere (another runtime or process) at `url`,
    /// watching for `secrets` like [`Self::serve`] does.
    pub fn attach(url: &str, secrets: Vec<String>) -> Self {
        let client = plain_client();
        Self {
            url: url.trim_end_matches('/').to_owned(),
            client,
            secrets,
            scanned: Arc::default(),
        }
    }

    /// `GET {url}{path}`.
    pub async fn get(&self, path: &str) -> Recorded {
        self.send(self.client.get(format!("{}{path}", self.url)))
            .await
    }

    /// Sends any request built from [`Self::client`], records and scans the response.
    pub async fn send(&self, request: reqwest::RequestBuilder) -> Recorded {
        let response = request.send().await.expect("request sent");
        let status = response.status();
        let headers = response.headers().clone();
        let body = response.bytes().await.expect("body read");
        assert_no_leak(&self.secrets, &headers, &body);
        self.scanned.fetch_add(1, Ordering::Relaxed);
        Recorded {
            status,
            headers,
            body,
        }
    }

    /// How many responses were scanned (a suite can assert it scanned something).
    pub fn scanned(&self) -> usize {
        self.scanned.load(Ordering::Relaxed)
    }

    /// The origin browsers would send for this app.
    pub fn origin(&self) -> &str {
        &self.url
    }
}

/// A client that follows no redirects (tests look at 303s), keeps no cookies and sends no
/// credentials.
pub fn plain_client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client")
}

/// A client that sends `Authorization: Bearer <token>` with every request.
pub fn bearer_client(token: &str) -> reqwest::Client {
    let mut headers = HeaderMap::new();
    let mut value = reqwest::header::HeaderValue::from_str(&format!("Bearer {token}"))
        .expect("token is a header value");
    value.set_sensitive(true);
    headers.insert(reqwest::header::AUTHORIZATION, value);
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .default_headers(headers)
        .build()
        .expect("client")
}

/// Panics if any secret, or any `Bearer ` credential, appears in `headers` or `body`.
pub fn assert_no_leak(secrets: &[String], headers: &HeaderMap, body: &[u8]) {
    let body_text = String::from_utf8_lossy(body);
    let mut places: Vec<(String, String)> = headers
        .iter()
        .map(|(k, v)| {
            (
                format!("header {k}"),
                String::from_utf8_lossy(v.as_bytes()).into_owned(),
            )
        })
        .collect();
    places.push(("body".to_owned(), body_text.into_owned()));
    for (place, text) in &places {
        for secret in secrets.iter().filter(|s| !s.is_empty()) {
            assert!(
                !text.contains(secret.as_str()),
                "a secret leaked in the {place}"
            );
        }
        assert!(
            !text.to_ascii_lowercase().contains("bearer "),
            "a Bearer credential leaked in the {place}: {text}"
        );
    }
}
