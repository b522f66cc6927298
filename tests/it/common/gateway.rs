//! The real gateway in front of the real emulator, both on loopback port 0, and the invariant
//! every test that uses them ends with: no Fast.io upload session is left open (checked when the
//! [`Gateway`] is dropped, the way crates.io's `TestApp` checks for leftover jobs).

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use serde_json::Value;

use super::TestApp;
use super::wait::wait_until;

/// How long a dropped gateway waits for sessions that are still being cancelled (a failure
/// cancels its session in the background).
const SESSIONS_SETTLE: Duration = Duration::from_secs(5);

/// The real gateway in front of the real emulator, both on loopback port 0.
///
/// Dropping it asserts that the emulator lists no open upload session, unless the test said
/// which ones it leaves on purpose ([`Gateway::expect_open_sessions`]). The check talks to the
/// emulator from its own thread while the test's runtime keeps serving the gateway and the
/// emulator, so tests that hold a `Gateway` run on `#[tokio::test(flavor = "multi_thread")]`.
pub struct Gateway {
    /// The gateway, with its recording client.
    pub app: TestApp,
    /// The emulator the gateway talks to (faults and stats are reachable through it).
    pub emulator: fastgate::emulator::RunningEmulator,
    /// The emulator's seeded workspace id.
    pub workspace: String,
    /// The gateway's API key (never to be seen in a gateway response).
    pub key: String,
    /// The gateway's state (budget peaks, config).
    pub state: fastgate::web::AppState,
    /// Temporary data directory, removed on drop.
    pub dir: tempfile::TempDir,
    /// The key the emulator accepts (a test may give the gateway another one).
    emulator_key: String,
    /// Upload sessions the test leaves open on purpose.
    left_open: Mutex<BTreeSet<String>>,
    /// The admin every test gateway starts with (its token is on [`TestApp::client`]).
    pub admin: Account,
}

/// A user of a test gateway and an API token of theirs.
#[derive(Clone, Debug)]
pub struct Account {
    /// Username.
    pub username: String,
    /// Password.
    pub password: String,
    /// An API token with the user's full role (`fgt_…`).
    pub token: String,
}

/// The admin's password in every test gateway.
pub const ADMIN_PASSWORD: &str = "admin-password-for-tests";

impl std::ops::Deref for Gateway {
    type Target = TestApp;
    fn deref(&self) -> &TestApp {
        &self.app
    }
}

impl Gateway {
    /// Adds user `username` with `role` on `workspace` (`None`: every workspace) and makes an
    /// API token of theirs; returns the account and a client of the gateway that uses it.
    pub async fn user(
        &self,
        username: &str,
        role: &str,
        workspace: Option<&str>,
    ) -> (Account, TestApp) {
        let account = add_account(&self.state, username, role, workspace).await;
        let app = self.app.with_client(super::bearer_client(&account.token));
        (account, app)
    }

    /// Declares that the test leaves these upload sessions open on purpose (say why at the
    /// call): the drop check then allows them, and only them.
    pub fn expect_open_sessions<S: AsRef<str>>(&self, ids: impl IntoIterator<Item = S>) {
        let mut left = self.left_open.lock().unwrap_or_else(|e| e.into_inner());
        left.extend(ids.into_iter().map(|id| id.as_ref().to_owned()));
    }
}

impl Drop for Gateway {
    fn drop(&mut self) {
        if std::thread::panicking() {
            return;
        }
        let allowed = self
            .left_open
            .get_mut()
            .map(std::mem::take)
            .unwrap_or_default();
        // Faults a test injected (rate limits, 5xx, latency) must not stand in the check's way.
        self.emulator.faults().set(Default::default());
        assert_no_open_sessions(&self.emulator.base_url(), &self.emulator_key, allowed);
    }
}

/// Asks the emulator over its own API (`GET /upload/details/`, fastio-api.md §7.11) which upload
/// sessions of `key` are open, waiting up to [`SESSIONS_SETTLE`] for all but `allowed` to go;
/// panics with the ones left. Runs on a thread of its own with its own runtime, so it may be
/// called from `Drop` inside a test's (multi-threaded) runtime.
pub fn assert_no_open_sessions(base_url: &str, key: &str, allowed: BTreeSet<String>) {
    if let Ok(handle) = tokio::runtime::Handle::try_current() {
        assert!(
            handle.runtime_flavor() != tokio::runtime::RuntimeFlavor::CurrentThread,
            "a test holding a Gateway must run on #[tokio::test(flavor = \"multi_thread\")]: \
             the open-session check blocks this thread while the runtime serves the emulator"
        );
    }
    let (url, key) = (format!("{base_url}/upload/details/"), key.to_owned());
    let checked = std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("check runtime");
        runtime.block_on(async move {
            let http = reqwest::Client::new();
            wait_until("no upload session left open", SESSIONS_SETTLE, || async {
                let open = open_sessions(&http, &url, &key).await;
                let unexpected: Vec<String> = open
                    .iter()
                    .filter(|s| !s["id"].as_str().is_some_and(|id| allowed.contains(id)))
                    .map(|s| format!("{} {} ({})", s["id"], s["name"], s["status"]))
                    .collect();
                if unexpected.is_empty() {
                    Ok(())
                } else {
                    Err(unexpected)
                }
            })
            .await;
        });
    })
    .join();
    if let Err(panic) = checked {
        std::panic::resume_unwind(panic);
    }
}

/// The emulator's list of open sessions for `key`.
async fn open_sessions(http: &reqwest::Client, url: &str, key: &str) -> Vec<Value> {
    let response = http
        .get(url)
        .bearer_auth(key)
        .send()
        .await
        .expect("session list request");
    let status = response.status();
    let body: Value = response.json().await.unwrap_or_default();
    assert!(status.is_success(), "session list: HTTP {status}: {body}");
    body["sessions"]
        .as_array()
        .cloned()
        .unwrap_or_else(|| panic!("no sessions collection in {body}"))
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
    let dir = tempfile::tempdir().expect("tempdir");
    let key = format!("k_test_{}", rand_suffix());
    let mut emulator_key = key.clone();
    let emulator = start_emulator(&dir.path().join("emulator"), &key, |config| {
        tune(config);
        emulator_key = config.api_key.clone();
    })
    .await;
    let workspace = emulator.workspace_id();
    let base_url = emulator.base_url();

    let (app, state) = serve_gateway(&base_url, &key, &dir.path().join("gateway"), vars).await;
    let admin = add_account(&state, "admin", "admin", None).await;
    let app = app.with_client(super::bearer_client(&admin.token));
    Gateway {
        admin,
        app,
        emulator,
        workspace,
        key,
        state,
        dir,
        emulator_key,
        left_open: Mutex::default(),
    }
}

/// Starts the emulator on loopback port 0 with its data in `data_dir` and API key `key`, its
/// asynchronous steps quick (5–20 ms) as every test wants them, after `tune` has its say.
pub async fn start_emulator(
    data_dir: &std::path::Path,
    key: &str,
    tune: impl FnOnce(&mut fastgate::emulator::EmulatorConfig),
) -> fastgate::emulator::RunningEmulator {
    let mut config = fastgate::emulator::EmulatorConfig::new(data_dir, key);
    config.step_delay = (Duration::from_millis(5), Duration::from_millis(20));
    tune(&mut config);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind emulator");
    fastgate::emulator::start(config, listener)
        .await
        .expect("emulator starts")
}

/// A second gateway in front of `gw`'s emulator, as another replica behind a load balancer:
/// it shares `gw`'s access database (so `gw`'s admin token works on it); give both the same
/// `FASTGATE_SECRET` in `vars` and either serves any upload of the other.
pub async fn spawn_second_gateway(gw: &Gateway, vars: &[(&str, &str)]) -> TestApp {
    let dir = gw.dir.path().join("gateway");
    let (app, _) = serve_gateway(&gw.emulator.base_url(), &gw.key, &dir, vars).await;
    app.with_client(super::bearer_client(&gw.admin.token))
}

/// Creates user `username` with `role` (on `workspace`, or every one) straight in the access
/// database, and an API token with that role.
pub async fn add_account(
    state: &fastgate::web::AppState,
    username: &str,
    role: &str,
    workspace: Option<&str>,
) -> Account {
    use fastgate::access::{Ctx, NewToken, NewUser, Role};
    let role: Role = role.parse().expect("a role");
    let password = if username == "admin" {
        ADMIN_PASSWORD.to_owned()
    } else {
        format!("{username}-password-for-tests")
    };
    state
        .access
        .add_user(
            &Ctx::system(),
            NewUser {
                username: username.to_owned(),
                password: secrecy::SecretString::from(password.clone()),
                role,
                workspace: workspace.map(str::to_owned),
            },
        )
        .await
        .expect("user added");
    let token = state
        .access
        .create_token(
            &Ctx::system(),
            username,
            NewToken {
                name: "tests".into(),
                role,
                workspace: None,
                expires_in: None,
            },
        )
        .await
        .expect("token made");
    use secrecy::ExposeSecret as _;
    Account {
        username: username.to_owned(),
        password,
        token: token.token.expose_secret().to_owned(),
    }
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
    let app = TestApp::serve_async(
        async move |url: String| {
            let (router, state) = build_gateway(&url, &base_url, &key, &data_dir, vars).await;
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
pub async fn build_gateway(
    url: &str,
    base_url: &str,
    key: &str,
    data_dir: &std::path::Path,
    vars: Vec<(String, String)>,
) -> (Router, fastgate::web::AppState) {
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
    let state = fastgate::web::AppState::open(config, client)
        .await
        .expect("access database opens");
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
