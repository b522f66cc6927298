//! The Fast.io emulator: an independent implementation of `fastio-api.md` (§11 is its checklist).
//!
//! It owns its configuration ([`EmulatorConfig`]), start-up and shutdown ([`start`],
//! [`RunningEmulator`]), its shared state ([`EmulatorState`]) and the router ([`router`]).
//! Metadata lives in SQLite and bytes in blob files under `data_dir`, so a restart keeps
//! workspaces, files and unfinished upload sessions.
//!
//! Four parts, each a folder: `upload/` (the session state machine, §7), `storage/`
//! (workspaces, nodes, downloads, shares, §4–§6), `ai/` (AI chat over the files and the
//! activity long-poll, §8) and `transport/` (envelope, errors, auth, rate limits, faults,
//! counters, §1–§3). Beside them: `routes.rs` (every route), `state.rs` (what handlers share),
//! `store.rs` (SQLite + blob files), `config.rs` and `args.rs` (the `fastgate emulator` flags).
//! Imports run one way only: `routes.rs` → `ai/` → `upload/` → `storage/` → `state.rs` →
//! `store.rs`, `config.rs` → `transport/`, and `ai/index.rs` (a leaf the state holds).
//!
//! Nothing here imports the gateway (`fastio`, `upload`, `web`): tests between the client and the
//! emulator prove something only because both are written from the contract alone.

mod ai;
mod args;
mod config;
mod routes;
mod state;
mod storage;
mod store;
mod transport;
mod upload;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

pub use args::EmulatorArgs;
pub use config::{AiConfig, EmulatorConfig, Limits, SearchShape, SearchStyle};
pub use routes::router;
pub use state::EmulatorState;
pub use transport::envelope::EnvelopeStyle;
pub use transport::error::{ApiError, EmulatorError};
pub use transport::faults::{FaultControls, Faults, RateLimit};
pub use transport::ratelimit::{ExpiresFormat, HeaderStyle};
pub use transport::stats::{PreviewRun, Stats};

use tokio::sync::watch;

/// Opens the data dir, seeds it if new and resumes unfinished sessions. `public_base` is the
/// origin browsers reach the emulator at (used in share links).
pub async fn open_state(
    config: EmulatorConfig,
    public_base: &str,
) -> Result<Arc<EmulatorState>, EmulatorError> {
    let blobs = store::BlobDirs::create(&config.data_dir)?;
    let (store, workspace_id) =
        store::Store::open(&config.data_dir, &config.seed_workspace_name).await?;
    let state = Arc::new(EmulatorState::new(
        config,
        store,
        blobs,
        workspace_id,
        public_base,
    ));
    upload::driver::resume_unfinished(&state).await?;
    ai::start(&state).await?;
    Ok(state)
}

/// A started emulator. [`RunningEmulator::shutdown`] stops it and closes SQLite; dropping it
/// only stops accepting new connections.
pub struct RunningEmulator {
    state: Arc<EmulatorState>,
    addr: SocketAddr,
    stop: watch::Sender<bool>,
    server: Option<tokio::task::JoinHandle<()>>,
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
        server: Some(server),
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

    /// How many activity long-polls are waiting right now (§8.1; a client that disconnects
    /// leaves at once).
    pub fn activity_waiters(&self) -> usize {
        self.state
            .activity
            .waiting
            .load(std::sync::atomic::Ordering::SeqCst)
    }

    /// Stops accepting, releases waiting long-polls, waits (up to 2 s) for in-flight requests,
    /// stops background steps, then closes SQLite.
    pub async fn shutdown(self) {
        let mut this = self;
        let _ = this.stop.send(true);
        this.state.notifier.close_all();
        this.state.activity.wake_all();
        if let Some(mut server) = this.server.take()
            && tokio::time::timeout(Duration::from_secs(2), &mut server)
                .await
                .is_err()
        {
            server.abort();
            let _ = server.await;
        }
        this.state.close().await;
    }
}

impl Drop for RunningEmulator {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
    }
}
