//! Browser test support: real headless Chromium driven over WebDriver (fantoccini), and a
//! gateway that can be killed and started again on the same address while the emulator keeps
//! running, as a crashed and restarted replica would.
//!
//! One chromedriver serves every test of the binary: the first test to need it starts it (on a
//! port chromedriver picks itself), the last one to finish stops it. A missing browser or driver
//! fails the test with instructions; browser tests never skip.

use std::io::{BufRead as _, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::time::Duration;

use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{Value, json};

use super::gateway::assert_no_open_sessions;
use super::gateway::{Account, add_account};
use super::payload::{bytes, sha256_hex};
use super::{TestApp, build_gateway, poll_until, start_emulator};

/// Debian's Chromium and its WebDriver.
pub const CHROMIUM: &str = "/usr/bin/chromium";
/// Debian's chromedriver (package `chromium-driver`).
pub const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
/// How long a lookup or a page change may take on a loaded 2-core CI machine.
pub const FIND_WAIT: Duration = Duration::from_secs(20);

struct DriverProcess {
    child: Child,
    port: u16,
    users: usize,
}

static DRIVER: Mutex<Option<DriverProcess>> = Mutex::new(None);

/// A share of the running chromedriver; the last one dropped stops it.
pub struct DriverLease {
    port: u16,
}

impl DriverLease {
    /// Starts chromedriver if no test holds it yet.
    pub fn acquire() -> Self {
        for path in [CHROMIUM, CHROMEDRIVER] {
            assert!(
                Path::new(path).exists(),
                "{path} is missing: browser tests need Debian's chromium and chromium-driver \
                 (apt-get install -y chromium chromium-driver; .ci/run does it)"
            );
        }
        let mut slot = DRIVER.lock().unwrap_or_else(|e| e.into_inner());
        if slot.is_none() {
            *slot = Some(start_driver());
        }
        let driver = slot.as_mut().expect("driver started");
        driver.users += 1;
        Self { port: driver.port }
    }

    /// The WebDriver endpoint.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }
}

impl Drop for DriverLease {
    fn drop(&mut self) {
        let mut slot = DRIVER.lock().unwrap_or_else(|e| e.into_inner());
        let last = slot.as_mut().is_some_and(|d| {
            d.users -= 1;
            d.users == 0
        });
        if last && let Some(mut driver) = slot.take() {
            let _ = driver.child.kill();
            let _ = driver.child.wait();
        }
    }
}

/// Runs chromedriver on a port it picks (`--port=0`) and reads the port from its banner.
fn start_driver() -> DriverProcess {
    let mut child = Command::new(CHROMEDRIVER)
        .arg("--port=0")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("could not start {CHROMEDRIVER}: {e}"));
    let stdout = child.stdout.take().expect("piped stdout");
    let mut lines = BufReader::new(stdout).lines();
    let port = loop {
        let line = lines
            .next()
            .expect("chromedriver exited before reporting its port")
            .expect("chromedriver output");
        if let Some(rest) = line.split("started successfully on port ").nth(1) {
            break rest
                .trim_end_matches('.')
                .trim()
                .parse::<u16>()
                .expect("port number");
        }
    };
    // Keep draining its output so it never blocks on a full pipe.
    std::thread::spawn(move || for _ in lines {});
    DriverProcess {
        child,
        port,
        users: 0,
    }
}

/// One headless Chromium session with its own profile.
pub struct Browser {
    /// The WebDriver client.
    pub client: Client,
    _profile: tempfile::TempDir,
    _lease: DriverLease,
}

impl Browser {
    /// A fresh headless Chromium, with JavaScript on or off.
    pub async fn start(javascript: bool) -> Self {
        let lease = DriverLease::acquire();
        let profile = tempfile::tempdir().expect("profile dir");
        let mut options = json!({
            "binary": CHROMIUM,
            "args": [
                "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--disable-background-networking", "--disable-component-update", "--disable-sync",
                "--no-first-run", "--window-size=1280,1000",
                format!("--user-data-dir={}", profile.path().display()),
            ],
        });
        if !javascript {
            options["prefs"] = json!({"profile.managed_default_content_settings.javascript": 2});
        }
        let mut caps = serde_json::Map::new();
        caps.insert("browserName".into(), json!("chrome"));
        caps.insert("goog:chromeOptions".into(), options);
        let client = ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
            .capabilities(caps)
            .connect(&lease.url())
            .await
            .unwrap_or_else(|e| panic!("could not open a Chromium session: {e}"));
        Self {
            client,
            _profile: profile,
            _lease: lease,
        }
    }

    /// Signs in on `site`'s sign-in page with `account`'s name and password; panics unless it
    /// lands signed in (the page shows the sign-out button).
    pub async fn sign_in(&self, site: &str, account: &Account) {
        self.goto(&format!("{site}/signin")).await;
        let form = self
            .client
            .form(Locator::Css("form[action='/signin']"))
            .await
            .expect("the sign-in form");
        form.set_by_name("username", &account.username)
            .await
            .expect("username");
        form.set_by_name("password", &account.password)
            .await
            .expect("password");
        form.submit().await.expect("submit");
        // The submit's navigation may still be under way when the click returns (seen with
        // JavaScript off, under load): wait for the signed-in page rather than look once.
        let signed_in = self
            .client
            .wait()
            .at_most(FIND_WAIT)
            .for_element(Locator::Css("form[action='/signout']"))
            .await;
        assert!(signed_in.is_ok(), "not signed in after the sign-in form");
    }

    /// Navigates to `url` and waits for the load.
    pub async fn goto(&self, url: &str) {
        self.client.goto(url).await.expect("navigate");
    }

    /// The element matching `locator`, waiting up to [`FIND_WAIT`] for it to appear: a page
    /// that is still loading, or a script that has not yet drawn it, is not a failure.
    pub async fn find(&self, locator: Locator<'_>) -> fantoccini::elements::Element {
        self.client
            .wait()
            .at_most(FIND_WAIT)
            .for_element(locator)
            .await
            .unwrap_or_else(|e| panic!("nothing matches {locator:?} within {FIND_WAIT:?}: {e}"))
    }

    /// Clicks the element matching `locator` and waits until the page it leads to has loaded.
    pub async fn click_to_next_page(&self, locator: Locator<'_>) {
        let element = self.find(locator).await;
        self.mark_this_page().await;
        element
            .click()
            .await
            .unwrap_or_else(|e| panic!("click on {locator:?}: {e}"));
        self.wait_for_next_page(&format!("the page after clicking {locator:?}"))
            .await;
    }

    /// Marks the page on show, for [`Self::wait_for_next_page`]. A click that submits a form or
    /// follows a link returns before the next page has replaced this one, so a lookup right
    /// after it can still find (or go stale on) the old page; a new document has no mark.
    pub async fn mark_this_page(&self) {
        self.eval("window.__fastgateLeaving = true; return true;")
            .await;
    }

    /// Waits until a page without [`Self::mark_this_page`]'s mark has loaded.
    pub async fn wait_for_next_page(&self, what: &str) {
        self.wait_until(
            what,
            FIND_WAIT,
            "return window.__fastgateLeaving !== true && document.readyState === 'complete';",
        )
        .await;
    }

    /// Resizes the window so the page's viewport is `w`×`h` CSS pixels. A resize lands
    /// asynchronously, so the viewport is read until it has the new size; when a window frame
    /// keeps it smaller, the window grows by the frame.
    pub async fn set_viewport(&self, w: u32, h: u32) {
        self.resize_window(w, h).await;
        let Err((iw, ih)) = self.viewport_becomes(w, Some(h)).await else {
            return;
        };
        self.resize_window(w + w.saturating_sub(iw), h + h.saturating_sub(ih))
            .await;
        if let Err(got) = self.viewport_becomes(w, None).await {
            panic!("viewport: wanted {w}×{h}, have {got:?} after growing the window by its frame");
        }
    }

    async fn resize_window(&self, w: u32, h: u32) {
        self.client
            .set_window_size(w, h)
            .await
            .unwrap_or_else(|e| panic!("window size {w}×{h}: {e}"));
    }

    /// Waits up to 5 s for the viewport to be `w` wide (and `h` high, when given); the last
    /// size read when it is not.
    async fn viewport_becomes(&self, w: u32, h: Option<u32>) -> Result<(), (u32, u32)> {
        poll_until(Duration::from_secs(5), || async {
            let got = self
                .eval("return [window.innerWidth, window.innerHeight];")
                .await;
            let size = (
                got[0].as_u64().unwrap_or(0) as u32,
                got[1].as_u64().unwrap_or(0) as u32,
            );
            if size.0 == w && h.is_none_or(|h| size.1 == h) {
                Ok(())
            } else {
                Err(size)
            }
        })
        .await
    }

    /// Chooses `files` in the file input matching `css`, as a person picking them would.
    pub async fn pick(&self, css: &str, files: &[PathBuf]) {
        let paths: Vec<String> = files.iter().map(|p| p.display().to_string()).collect();
        self.client
            .find(Locator::Css(css))
            .await
            .unwrap_or_else(|e| panic!("no {css} on the page: {e}"))
            .send_keys(&paths.join("\n"))
            .await
            .expect("pick files");
    }

    /// Runs `script` (a function body; `return` its value) in the page.
    pub async fn eval(&self, script: &str) -> Value {
        self.client
            .execute(script, vec![])
            .await
            .unwrap_or_else(|e| panic!("script failed: {e}\n{script}"))
    }

    /// Polls `script` (returning true when done) until it is true; on timeout saves a screenshot
    /// and panics with the page's upload rows.
    pub async fn wait_until(&self, what: &str, timeout: Duration, script: &str) {
        let done = poll_until(timeout, || async {
            match self.client.execute(script, vec![]).await {
                Ok(Value::Bool(true)) => Ok(()),
                other => Err(other.map_err(|e| e.to_string())),
            }
        })
        .await;
        if done.is_err() {
            let shot = self.screenshot(&format!("timeout-{}", slug(what))).await;
            let rows = self.rows().await;
            panic!(
                "timed out after {timeout:?} waiting for {what}; rows: {rows:#}; screenshot: {}",
                shot.display()
            );
        }
    }

    /// The upload rows as the page shows them: name, state, receipt hash, resumed chunks, text.
    pub async fn rows(&self) -> Value {
        self.eval(
            "return [...document.querySelectorAll('.progress-item')].map(r => ({
                name: r.dataset.name, state: r.dataset.state, resumed: r.dataset.resumed || null,
                sha256: (r.querySelector('[data-sha256]') || {dataset: {}}).dataset.sha256 || null,
                text: r.innerText }));",
        )
        .await
    }

    /// Saves a PNG of the page under the target dir and returns its path.
    pub async fn screenshot(&self, name: &str) -> PathBuf {
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("screenshots");
        std::fs::create_dir_all(&dir).expect("screenshot dir");
        let path = dir.join(format!("{name}.png"));
        match self.client.screenshot().await {
            Ok(png) => std::fs::write(&path, png).expect("write screenshot"),
            Err(e) => eprintln!("screenshot {name} failed: {e}"),
        }
        path
    }

    /// Ends the session.
    pub async fn close(self) {
        let _ = self.client.close().await;
    }
}

fn slug(text: &str) -> String {
    text.chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect()
}

/// The emulator plus a gateway that runs on its own runtime thread, so it can be killed (every
/// connection dropped mid-request) and started again on the same address.
pub struct Site {
    /// The emulator, in the test's runtime; it outlives gateway restarts.
    pub emulator: fastgate::emulator::RunningEmulator,
    /// The seeded workspace.
    pub workspace: String,
    /// The emulator's API key.
    pub key: String,
    /// The gateway's address (kept across restarts).
    pub addr: SocketAddr,
    vars: Vec<(String, String)>,
    server: Option<ServerThread>,
    /// Data directories, removed on drop.
    pub dir: tempfile::TempDir,
    /// The admin the gateway starts with (browsers sign in as them; [`Self::app`] uses their
    /// token).
    pub admin: Account,
}

struct ServerThread {
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
    state: fastgate::web::AppState,
}

impl Site {
    /// Starts the emulator (after `tune`) and a gateway with `vars` on a fresh port.
    pub async fn start(
        vars: &[(&str, &str)],
        tune: impl FnOnce(&mut fastgate::emulator::EmulatorConfig),
    ) -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let key = "k_browser_test_key_0123456789".to_owned();
        let emulator = start_emulator(&dir.path().join("emulator"), &key, tune).await;
        let vars: Vec<(String, String)> = vars
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        let mut site = Self {
            workspace: emulator.workspace_id(),
            emulator,
            key,
            addr: "127.0.0.1:0".parse().expect("addr"),
            vars,
            server: None,
            dir,
            admin: Account {
                username: String::new(),
                password: String::new(),
                token: String::new(),
            },
        };
        site.start_gateway();
        site.admin = add_account(&site.state(), "admin", "admin", None).await;
        site
    }

    /// A fresh headless Chromium (JavaScript on or off), signed in as the admin through the
    /// sign-in page, as a person would.
    pub async fn browser(&self, javascript: bool) -> Browser {
        let browser = Browser::start(javascript).await;
        browser.sign_in(&self.url(), &self.admin).await;
        browser
    }

    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// A recording client for the gateway (every response scanned for the key).
    pub fn app(&self) -> TestApp {
        TestApp::attach(&self.url(), vec![self.key.clone()])
            .with_client(super::bearer_client(&self.admin.token))
    }

    /// The running gateway's state.
    pub fn state(&self) -> fastgate::web::AppState {
        self.server.as_ref().expect("gateway running").state.clone()
    }

    /// Kills the gateway: its runtime is dropped with every connection and request in it.
    pub fn kill_gateway(&mut self) {
        if let Some(mut server) = self.server.take() {
            if let Some(stop) = server.stop.take() {
                let _ = stop.send(());
            }
            if let Some(thread) = server.thread.take() {
                thread.join().expect("gateway thread");
            }
        }
    }

    /// Starts the gateway (again) on [`Self::addr`], or on a fresh port the first time.
    pub fn start_gateway(&mut self) {
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let addr = self.addr;
        let base_url = self.emulator.base_url();
        let key = self.key.clone();
        let data_dir = self.dir.path().join("gateway");
        let vars = self.vars.clone();
        let thread = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .expect("gateway runtime");
            runtime.block_on(async move {
                let listener = bind_again(addr).await;
                let addr = listener.local_addr().expect("local addr");
                let (router, state) =
                    build_gateway(&format!("http://{addr}"), &base_url, &key, &data_dir, vars)
                        .await;
                ready_tx.send((addr, state)).expect("report ready");
                let served = fastgate::server::serve_app(
                    listener,
                    router,
                    super::SERVER_HEADER_TIMEOUT,
                    std::future::pending(),
                );
                tokio::select! {
                    served = served => served.expect("gateway serves"),
                    _ = stop_rx => {}
                }
            });
            runtime.shutdown_background();
        });
        let (addr, state) = ready_rx.recv().expect("gateway started");
        self.addr = addr;
        self.server = Some(ServerThread {
            stop: Some(stop_tx),
            thread: Some(thread),
            state,
        });
    }
}

/// Binds `addr` (tokio sets SO_REUSEADDR, so a port just released binds again), trying again
/// briefly while the old listener's socket is still closing.
async fn bind_again(addr: SocketAddr) -> tokio::net::TcpListener {
    poll_until(Duration::from_secs(5), || {
        tokio::net::TcpListener::bind(addr)
    })
    .await
    .unwrap_or_else(|e| panic!("could not bind {addr} again: {e}"))
}

impl Drop for Site {
    /// Asserts, as [`super::Gateway`] does, that no upload session was left open (checked while
    /// the gateway still runs, so cancellations under way can finish), then stops the gateway.
    fn drop(&mut self) {
        if !std::thread::panicking() {
            self.emulator.faults().set(Default::default());
            assert_no_open_sessions(&self.emulator.base_url(), &self.key, Default::default());
        }
        self.kill_gateway();
    }
}

/// Writes `len` deterministic test bytes to `dir/name` and returns the path and their hex
/// SHA-256.
pub fn make_file(dir: &Path, name: &str, len: usize, seed: u64) -> (PathBuf, String) {
    let data = bytes(len, seed);
    let path = dir.join(name);
    std::fs::write(&path, &data).expect("write test file");
    (path, sha256_hex(&data))
}
