//! [`EmulatorState`]: what every handler shares. Named apart from the gateway's `AppState` so
//! the two are never confused.
//!
//! It holds the parts below it (configuration, the store, fault controls, counters, the rate
//! limiter, and the upload state machine's in-memory coordination) and imports no handler: the
//! handlers and the router import it.

use std::future::Future;
use std::sync::Arc;

use axum::extract::FromRef;
use parking_lot::Mutex;
use tokio::task::JoinSet;

use super::config::EmulatorConfig;
use super::store::{BlobDirs, Store};
use super::transport::auth::ApiKey;
use super::transport::faults::FaultControls;
use super::transport::ratelimit::Limiter;
use super::transport::stats::{Recorder, Stats};
use super::upload::inflight::Inflight;
use super::upload::notifier::Notifier;

/// Shared state behind every handler. Build it with [`open_state`](super::open_state) to mount
/// [`router`](super::router) in another app; [`start`](super::start) does both and serves.
pub struct EmulatorState {
    /// Immutable configuration.
    pub(crate) config: EmulatorConfig,
    /// Digest of the accepted key (what [`Caller`](super::transport::auth::Caller) checks).
    pub(crate) api_key: ApiKey,
    /// SQLite metadata.
    pub(crate) store: Store,
    /// Blob, chunk and temp directories.
    pub(crate) blobs: BlobDirs,
    /// Runtime-changeable faults.
    pub(crate) faults: FaultControls,
    /// Request counters for tests (the stats middleware's state).
    pub(crate) stats: Arc<Recorder>,
    /// Rate-limit windows per key and endpoint family (the rate-limit middleware's state).
    pub(crate) limiter: Arc<Limiter>,
    /// Wakes long-polls on session transitions.
    pub(crate) notifier: Notifier,
    /// Chunk requests in flight per session.
    pub(crate) inflight: Inflight,
    /// Background state-machine drivers, aborted on shutdown.
    pub(crate) tasks: Tasks,
    /// The seeded workspace.
    pub(crate) workspace_id: String,
    /// Origin for `web_url` links.
    pub(crate) public_base: String,
    /// Origin of redirected reads.
    pub(crate) cdn_base: String,
}

impl EmulatorState {
    /// Assembles the state over an opened store. `public_base` is the origin browsers reach the
    /// emulator at, unless the config names one.
    pub(crate) fn new(
        config: EmulatorConfig,
        store: Store,
        blobs: BlobDirs,
        workspace_id: String,
        public_base: &str,
    ) -> Self {
        let public_base = config
            .public_base
            .clone()
            .unwrap_or_else(|| public_base.to_owned())
            .trim_end_matches('/')
            .to_owned();
        let cdn_base = config
            .cdn_base
            .clone()
            .unwrap_or_else(|| public_base.replacen("127.0.0.1", "localhost", 1))
            .trim_end_matches('/')
            .to_owned();
        let faults = FaultControls::new(config.faults.clone());
        Self {
            api_key: ApiKey::new(&config.api_key),
            limiter: Arc::new(Limiter::new(faults.clone(), config.headers.clone())),
            faults,
            config,
            store,
            blobs,
            stats: Arc::default(),
            notifier: Notifier::default(),
            inflight: Inflight::default(),
            tasks: Tasks::default(),
            workspace_id,
            public_base,
            cdn_base,
        }
    }

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

    /// Stops background upload steps and closes SQLite (for mounted use;
    /// [`RunningEmulator`](super::RunningEmulator) calls it on shutdown).
    pub async fn close(&self) {
        self.notifier.close_all();
        self.tasks.abort_all().await;
        self.store.close();
    }
}

impl FromRef<Arc<EmulatorState>> for ApiKey {
    fn from_ref(state: &Arc<EmulatorState>) -> Self {
        state.api_key
    }
}

/// Background drivers, so shutdown can stop them before SQLite closes.
#[derive(Default)]
pub struct Tasks {
    set: Mutex<JoinSet<()>>,
}

impl Tasks {
    /// Runs `fut` in the background until it ends or [`Tasks::abort_all`].
    pub fn spawn(&self, fut: impl Future<Output = ()> + Send + 'static) {
        let mut set = self.set.lock();
        while set.try_join_next().is_some() {}
        set.spawn(fut);
    }

    /// Aborts every driver and waits for them to end.
    pub async fn abort_all(&self) {
        let mut set = std::mem::take(&mut *self.set.lock());
        set.abort_all();
        while set.join_next().await.is_some() {}
    }
}
