//! The Fast.io emulator: an independent implementation of `fastio-api.md` (§11 is its checklist).
//!
//! It owns its configuration ([`EmulatorConfig`]), start-up and shutdown ([`start`],
//! [`RunningEmulator`]) and the router ([`router`]). Metadata lives in SQLite and bytes in blob
//! files under `data_dir`, so a restart keeps workspaces, files and unfinished upload sessions.
//! Nothing here imports the gateway's Fast.io client: tests between the two prove something only
//! because both are written from the contract alone.

mod args;
mod assembly;
mod auth;
mod batch;
mod downloads;
mod envelope;
mod error;
mod faults;
mod ids;
mod ingest;
mod nodes;
mod ratelimit;
mod routes;
mod sessions;
mod shares;
mod stats;
mod storage;
mod store;
mod transfer;
mod uploads;
mod workspaces;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

pub use args::EmulatorArgs;
pub use envelope::{EnvelopeStyle, ExpiresFormat, HeaderStyle};
pub use error::{ApiError, EmulatorError};
pub use faults::{FaultControls, Faults, RateLimit};
pub use routes::router;
pub use stats::Stats;

use tokio::sync::watch;

/// Plan limits reported by `/upload/limits/` and enforced on uploads (§7.1, §7.2).
#[derive(Debug, Clone)]
pub struct Limits {
    /// Largest chunk accepted (`chunk_size` in `/upload/limits/`).
    pub chunk_size: u64,
    /// Smallest chunk except the final one (1 MiB per §7.1; not reported by the API).
    pub min_chunk_size: u64,
    /// Largest file (`size`).
    pub max_file_size: u64,
    /// Most chunks per session (`chunks`).
    pub max_chunks: u64,
    /// Most open sessions per key (`sessions`).
    pub sessions: u64,
    /// Total declared bytes of open sessions (`sessions_size_max`).
    pub sessions_size_max: u64,
    /// Largest single-call upload (4 MiB, §7.4).
    pub single_call_max: u64,
    /// Chunk requests allowed in flight per session; one more gets 429 (§11).
    pub parallel_chunks: usize,
    /// Most files in one batch (§7.12).
    pub batch_max_files: usize,
}

impl Default for Limits {
    fn default() -> Self {
        // Pro/Business-like figures (SK-old "Upload Limits API") so 1 GiB benchmarks fit.
        Self {
            chunk_size: 100 * 1024 * 1024,
            min_chunk_size: 1024 * 1024,
            max_file_size: 50 * 1024 * 1024 * 1024,
            max_chunks: 550,
            sessions: 7500,
            sessions_size_max: 500 * 1024 * 1024 * 1024,
            single_call_max: 4 * 1024 * 1024,
            parallel_chunks: 3,
            batch_max_files: 200,
        }
    }
}

/// Everything the emulator needs to run. Build with [`EmulatorConfig::new`] and adjust fields.
#[derive(Debug, Clone)]
pub struct EmulatorConfig {
    /// Where SQLite and blob files live; created if missing.
    pub data_dir: PathBuf,
    /// The one API key accepted as `Authorization: Bearer <key>`.
    pub api_key: String,
    /// Plan limits.
    pub limits: Limits,
    /// Initial fault injection settings (changeable at runtime through [`FaultControls`]).
    pub faults: Faults,
    /// Delay range for each asynchronous upload step (§11 "State machine and timings").
    pub step_delay: (Duration, Duration),
    /// Envelope shape switches (legacy `"yes"`/`"no"`, `response` wrapping, string codes).
    pub envelope: EnvelopeStyle,
    /// Rate-limit header names and `expires` format.
    pub headers: HeaderStyle,
    /// Lifetime of `requestread/` tokens (about 2 h upstream).
    pub download_token_ttl: Duration,
    /// Origin used in `web_url` links; defaults to `http://<local addr>`.
    pub public_base: Option<String>,
    /// Name of the workspace seeded on first start.
    pub seed_workspace_name: String,
}

impl EmulatorConfig {
    /// A config with the contract's defaults: step delays 20–200 ms, 2 h download tokens.
    pub fn new(data_dir: impl Into<PathBuf>, api_key: impl Into<String>) -> Self {
        Self {
            data_dir: data_dir.into(),
            api_key: api_key.into(),
            limits: Limits::default(),
            faults: Faults::default(),
            step_delay: (Duration::from_millis(20), Duration::from_millis(200)),
            envelope: EnvelopeStyle::default(),
            headers: HeaderStyle::default(),
            download_token_ttl: Duration::from_secs(2 * 3600),
            public_base: None,
            seed_workspace_name: "General".to_owned(),
        }
    }
}

/// Shared state behind every handler. Build it with [`open_state`] to mount [`router`]
/// in another app; [`start`] does both and serves.
pub struct AppState {
    /// Immutable configuration.
    pub(crate) config: EmulatorConfig,
    /// SQLite metadata.
    pub(crate) store: store::Store,
    /// Blob, chunk and temp directories.
    pub(crate) blobs: store::BlobDirs,
    /// Runtime-changeable faults.
    pub(crate) faults: FaultControls,
    /// Request counters for tests.
    pub(crate) stats: stats::Recorder,
    /// Rate-limit windows per key and endpoint family.
    pub(crate) limiter: ratelimit::Limiter,
    /// Wakes long-polls on session transitions.
    pub(crate) notifier: sessions::Notifier,
    /// Chunk requests in flight per session.
    pub(crate) inflight: uploads::Inflight,
    /// Background state-machine drivers, aborted on shutdown.
    pub(crate) tasks: assembly::Tasks,
    /// The seeded workspace.
    pub(crate) workspace_id: String,
    /// Origin for `web_url` links.
    pub(crate) public_base: String,
}

impl AppState {
    /// The seeded workspace id.
    pub fn workspace_id(&self) -> &str {
        &self.workspace_id
    }

    /// The runtime fault controls.
    pub fn faults(&self) -> FaultControls {
        self.faults.clone()
    }

    /// A snapshot of the request counters.
    pub fn stats(&self) -> Stats {
        self.stats.snapshot()
    }

    /// Stops background upload steps and closes SQLite (for mounted use; [`RunningEmulator`]
    /// calls it on shutdown).
    pub async fn close(&self) {
        self.tasks.abort_all().await;
        self.store.close();
    }
}

/// Opens the data dir, seeds it if new and resumes unfinished sessions. `public_base` is the
/// origin browsers reach the emulator at (used in share links).
pub async fn open_state(
    config: EmulatorConfig,
    public_base: &str,
) -> Result<Arc<AppState>, EmulatorError> {
    let blobs = store::BlobDirs::create(&config.data_dir)?;
    let (store, workspace_id) =
        store::Store::open(&config.data_dir, &config.seed_workspace_name).await?;
    let public_base = config
        .public_base
        .clone()
        .unwrap_or_else(|| public_base.to_owned())
        .trim_end_matches('/')
        .to_owned();
    let state = Arc::new(AppState {
        faults: FaultControls::new(config.faults.clone()),
        config,
        store,
        blobs,
        stats: stats::Recorder::default(),
        limiter: ratelimit::Limiter::default(),
        notifier: sessions::Notifier::default(),
        inflight: uploads::Inflight::default(),
        tasks: assembly::Tasks::default(),
        workspace_id,
        public_base,
    });
    assembly::resume_unfinished(&state).await?;
    Ok(state)
}

/// A started emulator. Drop it or call [`RunningEmulator::shutdown`] to stop it.
pub struct RunningEmulator {
    state: Arc<AppState>,
    addr: SocketAddr,
    stop: watch::Sender<bool>,
    server: tokio::task::JoinHandle<()>,
}

/// Opens the data dir, seeds it if new, resumes unfinished sessions and serves on `listener`.
pub async fn start(
    config: EmulatorConfig,
    listener: tokio::net::TcpListener,
) -> Result<RunningEmulator, EmulatorError> {
    let addr = listener.local_addr()?;
    let state = open_state(config, &format!("http://{addr}")).await?;
    let app = router(state.clone()).into_make_service_with_connect_info::<SocketAddr>();
    let (stop, mut stopped) = watch::channel(false);
    let server = tokio::spawn(async move {
        let shutdown = async move {
            let _ = stopped.wait_for(|s| *s).await;
        };
        if let Err(e) = axum::serve(listener, app)
            .with_graceful_shutdown(shutdown)
            .await
        {
            tracing::error!(error = %e, "emulator server ended with an error");
        }
    });
    tracing::info!(%addr, "fast.io emulator listening");
    Ok(RunningEmulator {
        state,
        addr,
        stop,
        server,
    })
}

impl RunningEmulator {
    /// The API base, e.g. `http://127.0.0.1:PORT/current`.
    pub fn base_url(&self) -> String {
        format!("http://{}/current", self.addr)
    }

    /// The bound socket address.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// The seeded workspace id (19 digits, named "General").
    pub fn workspace_id(&self) -> String {
        self.state.workspace_id.clone()
    }

    /// A handle to change faults while running.
    pub fn faults(&self) -> FaultControls {
        self.state.faults.clone()
    }

    /// A snapshot of request counters and chunk concurrency.
    pub fn stats(&self) -> Stats {
        self.state.stats.snapshot()
    }

    /// Stops accepting, waits for in-flight requests and background steps, then closes SQLite.
    /// Long-polls still waiting are released by aborting the connections after 2 s.
    pub async fn shutdown(self) {
        let _ = self.stop.send(true);
        let mut server = self.server;
        if tokio::time::timeout(Duration::from_secs(2), &mut server)
            .await
            .is_err()
        {
            server.abort();
            let _ = server.await;
        }
        self.state.close().await;
    }
}
