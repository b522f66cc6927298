//! The shared test harness (skeleton): serve a router on port 0 and talk HTTP to it, recording
//! every response and scanning its headers and body for secrets (the API key, any `Bearer `
//! value). The lead completes it with `spawn_app()` (real app + real emulator) once the app is
//! wired; for now [`TestApp::serve`] takes any router.
#![allow(dead_code)]

mod fixtures;

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

impl TestApp {
    /// Binds 127.0.0.1:0, builds the router from its URL (the app's public URL, which the Origin
    /// check needs), serves it on that very listener (never "find a free port, then bind") and
    /// watches for `secrets` in every response.
    pub async fn serve(make_router: impl FnOnce(&str) -> Router, secrets: Vec<String>) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind port 0");
        let addr = listener.local_addr().expect("local addr");
        let router = make_router(&format!("http://{addr}"));
        tokio::spawn(async move {
            axum::serve(listener, router).await.expect("server");
        });
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("client");
        Self {
            url: format!("http://{addr}"),
            client,
            secrets,
            scanned: Arc::default(),
        }
    }

    /// A recording client for a gateway served elsewhere (another runtime or process) at `url`,
    /// watching for `secrets` like [`Self::serve`] does.
    pub fn attach(url: &str, secrets: Vec<String>) -> Self {
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("client");
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

/// The real gateway in front of the real emulator, both on loopback port 0.
pub struct Gateway {
    /// The gateway, with its recording client.
    pub app: TestApp,
    /// The emulator the gateway talks to (faults and stats are reachable through it).
    pub emulator: fastgate::emulator::RunningEmulator,
    /// The emulator's seeded workspace id.
    pub workspace: String,
    /// The emulator's API key (never to be seen in a gateway response).
    pub key: String,
    /// The gateway's state (budget peaks, config).
    pub state: fastgate::web::AppState,
    /// Temporary data directory, removed on drop.
    pub dir: tempfile::TempDir,
}

impl std::ops::Deref for Gateway {
    type Target = TestApp;
    fn deref(&self) -> &TestApp {
        &self.app
    }
}

/// Starts the emulator and the gateway with the default test configuration.
pub async fn spawn_app() -> Gateway {
    spawn_app_with(&[], |_| {}).await
}

/// Starts the emulator (after `tune` adjusts its config) and the gateway with extra environment
/// variables `vars` (e.g. `("FASTGATE_MAX_FILE_SIZE", "5MiB")`).
pub async fn spawn_app_with(
    vars: &[(&str, &str)],
    tune: impl FnOnce(&mut fastgate::emulator::EmulatorConfig),
) -> Gateway {
    use fastgate::emulator::{EmulatorConfig, start};
    use std::time::Duration;

    let dir = tempfile::tempdir().expect("tempdir");
    let key = format!("k_test_{}", rand_suffix());
    let mut emu_config = EmulatorConfig::new(dir.path().join("emulator"), key.clone());
    emu_config.step_delay = (Duration::from_millis(5), Duration::from_millis(20));
    tune(&mut emu_config);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind emulator");
    let emulator = start(emu_config, listener).await.expect("emulator starts");
    let workspace = emulator.workspace_id();
    let base_url = emulator.base_url();

    let (app, state) = serve_gateway(&base_url, &key, &dir.path().join("gateway"), vars).await;
    Gateway {
        app,
        emulator,
        workspace,
        key,
        state,
        dir,
    }
}

/// A second gateway in front of `gw`'s emulator, as another replica behind a load balancer:
/// give both the same `FASTGATE_SECRET` in `vars` and either serves any upload of the other.
pub async fn spawn_second_gateway(gw: &Gateway, vars: &[(&str, &str)]) -> TestApp {
    let dir = gw.dir.path().join(format!("gateway-{}", rand_suffix()));
    serve_gateway(&gw.emulator.base_url(), &gw.key, &dir, vars)
        .await
        .0
}

/// Serves a gateway on port 0 against the emulator at `base_url` with key `key`, the test
/// defaults and `vars` on top; returns it and its state.
async fn serve_gateway(
    base_url: &str,
    key: &str,
    data_dir: &std::path::Path,
    vars: &[(&str, &str)],
) -> (TestApp, fastgate::web::AppState) {
    let secrets = vec![key.to_owned()];
    let (base_url, key, data_dir) = (base_url.to_owned(), key.to_owned(), data_dir.to_owned());
    let vars: Vec<(String, String)> = vars
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    let state_slot: Arc<std::sync::Mutex<Option<fastgate::web::AppState>>> = Arc::default();
    let slot = state_slot.clone();
    let app = TestApp::serve(
        move |url| {
            let (router, state) = build_gateway(url, &base_url, &key, &data_dir, vars);
            *slot.lock().expect("slot") = Some(state);
            router
        },
        secrets,
    )
    .await;
    let state = state_slot
        .lock()
        .expect("slot")
        .take()
        .expect("state built");
    (app, state)
}

/// The gateway's router and state as the tests run it: public URL `url`, the emulator at
/// `base_url` with key `key`, quick client retries, and `vars` on top of the test defaults.
pub fn build_gateway(
    url: &str,
    base_url: &str,
    key: &str,
    data_dir: &std::path::Path,
    vars: Vec<(String, String)>,
) -> (Router, fastgate::web::AppState) {
    use std::time::Duration;

    let mut all = vec![
        ("FASTIO_API_KEY".to_owned(), key.to_owned()),
        ("FASTIO_BASE_URL".to_owned(), base_url.to_owned()),
        ("FASTGATE_PUBLIC_URL".to_owned(), url.to_owned()),
        (
            "FASTGATE_DATA_DIR".to_owned(),
            data_dir.display().to_string(),
        ),
    ];
    all.extend(vars);
    let config = fastgate::config::Config::from_vars(all).expect("test config is valid");
    let mut client_config = fastgate::fastio::ClientConfig::new(
        base_url.to_owned(),
        secrecy::SecretString::from(key.to_owned()),
    );
    client_config.retry = fastgate::fastio::RetryPolicy {
        max_attempts: 4,
        base_delay: Duration::from_millis(20),
        chunk_base_delay: Duration::from_millis(20),
        max_delay: Duration::from_millis(200),
        max_rate_limit_wait: Duration::from_secs(5),
    };
    let client = fastgate::fastio::Client::new(client_config).expect("client");
    let state = fastgate::web::AppState::new(config, client);
    (fastgate::web::app(state.clone()), state)
}

fn rand_suffix() -> String {
    use std::time::{SystemTime, UNIX_EPOCH};
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    format!("{nanos:09}{}", std::process::id())
}
