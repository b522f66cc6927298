//! [`EmulatorState`]: what every handler shares. Named apart from the gateway's `AppState` so
//! the two are never confused.
//!
//! It holds the parts below it (configuration, the store, fault controls, counters, the rate
//! limiter, the AI passage index of `ai/index.rs`, a leaf) and defines those that live only in
//! memory: [`Notifier`] (wakes long-polls on session transitions, §7.8), [`Inflight`] (chunk
//! requests in flight per session, §7.1), [`Tasks`] (background drivers), [`Activity`] (the
//! activity feed behind `/activity/poll/`, §8.1) and [`IndexQueue`] (files whose content changed,
//! for AI indexing). It imports no handler and nothing of `upload/` or `storage/`: they import
//! it.

use std::collections::{HashMap, VecDeque};
use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};

use axum::extract::FromRef;
use parking_lot::Mutex;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinSet;

use super::ai::index::Library;
use super::config::EmulatorConfig;
use super::store::{BlobDirs, Store};
use super::transport::auth::ApiKey;
use super::transport::error::ApiError;
use super::transport::faults::FaultControls;
use super::transport::ratelimit::Limiter;
use super::transport::stats::{Recorder, Stats};

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
    /// One image decode at a time, so the memory previews take is bounded by one image.
    pub(crate) imaging: tokio::sync::Semaphore,
    /// The activity feed (§8.1).
    pub(crate) activity: Arc<Activity>,
    /// Files whose content was stored, waiting for AI indexing (`ai/indexing.rs` drains it).
    pub(crate) index_queue: IndexQueue,
    /// The AI passage index, one per workspace (§8, `ai/index.rs`).
    pub(crate) library: Library,
    /// One text extraction at a time, so the memory indexing takes is bounded by one document.
    pub(crate) extracting: tokio::sync::Semaphore,
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
        let activity = Arc::new(Activity::default());
        Self {
            api_key: ApiKey::new(&config.api_key),
            limiter: Arc::new(Limiter::new(faults.clone(), config.headers.clone())),
            faults,
            config,
            store,
            blobs,
            stats: Arc::default(),
            notifier: Notifier::with_activity(activity.clone()),
            activity,
            index_queue: IndexQueue::default(),
            library: Library::default(),
            extracting: tokio::sync::Semaphore::new(1),
            inflight: Inflight::default(),
            tasks: Tasks::default(),
            workspace_id,
            public_base,
            cdn_base,
            imaging: tokio::sync::Semaphore::new(1),
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
        self.activity.wake_all();
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

/// Wakes waiters when a session changes: one watch channel per session, created on demand.
/// Waiters survive the client disconnecting (their future is dropped); shutdown wakes them all.
/// Each transition also posts `upload:{id}` to the activity feed of the user (§8.1: upload
/// sessions belong to the user), once [`Notifier::set_user`] named them.
#[derive(Default)]
pub struct Notifier {
    channels: Mutex<HashMap<String, watch::Sender<u64>>>,
    closing: AtomicBool,
    activity: Arc<Activity>,
    user: OnceLock<String>,
}

impl Notifier {
    /// A notifier that also posts session transitions to `activity`.
    pub fn with_activity(activity: Arc<Activity>) -> Self {
        Self {
            activity,
            ..Self::default()
        }
    }

    /// Names the user whose activity feed gets `upload:{id}` keys (set once at start).
    pub fn set_user(&self, user: String) {
        let _ = self.user.set(user);
    }

    /// A receiver that sees every later [`Notifier::notify`] for `id`.
    pub fn subscribe(&self, id: &str) -> watch::Receiver<u64> {
        let mut map = self.channels.lock();
        map.entry(id.to_owned())
            .or_insert_with(|| watch::channel(0).0)
            .subscribe()
    }

    /// Shutdown: wakes every waiter and makes later waits return at once.
    pub fn close_all(&self) {
        self.closing.store(true, Ordering::SeqCst);
        self.activity.wake_all();
        for tx in self.channels.lock().values() {
            tx.send_modify(|v| *v += 1);
        }
    }

    /// Whether the emulator is shutting down.
    pub fn is_closing(&self) -> bool {
        self.closing.load(Ordering::SeqCst)
    }

    /// Signals a transition of `id`.
    pub fn notify(&self, id: &str) {
        if let Some(user) = self.user.get() {
            self.activity.post(user, format!("upload:{id}"));
        }
        let mut map = self.channels.lock();
        if let Some(tx) = map.get(id) {
            tx.send_modify(|v| *v += 1);
            if tx.receiver_count() == 0 {
                map.remove(id);
            }
        }
    }
}

/// Chunk requests in flight, per session id (§7.1 "Parallelism": at most 3; §11: the 4th
/// gets 429/10368). The most seen at once is counted for tests.
#[derive(Default)]
pub struct Inflight {
    map: Arc<Mutex<HashMap<String, usize>>>,
}

/// Decrements the in-flight count when the chunk request ends.
pub struct InflightGuard {
    map: Arc<Mutex<HashMap<String, usize>>>,
    id: String,
}

impl Inflight {
    /// Enters a chunk request for `id`, or fails with 429/10368 when `limit` are in flight.
    pub fn enter(
        &self,
        id: &str,
        limit: usize,
        stats: &Recorder,
    ) -> Result<InflightGuard, ApiError> {
        let mut map = self.map.lock();
        let n = map.entry(id.to_owned()).or_insert(0);
        if *n >= limit {
            return Err(ApiError::RateLimited(format!(
                "at most {limit} chunk uploads may be in flight per session"
            )));
        }
        *n += 1;
        stats.saw_in_flight(id, *n);
        Ok(InflightGuard {
            map: self.map.clone(),
            id: id.to_owned(),
        })
    }
}

impl Drop for InflightGuard {
    fn drop(&mut self) {
        let mut map = self.map.lock();
        if let Some(n) = map.get_mut(&self.id) {
            *n -= 1;
            if *n == 0 {
                map.remove(&self.id);
            }
        }
    }
}

/// How many events the activity feed keeps; a marker older than the oldest kept gets every
/// kept key of its entity (a client that fell behind re-reads what it cares about anyway).
const ACTIVITY_KEPT: usize = 20_000;

/// The activity feed of §8.1: events `(marker, entity, key)` in marker order, in memory only (a
/// restart starts it empty; markers stay monotonic because they are microseconds of the clock).
/// Waiters subscribe to one watch channel that ticks on every post.
pub struct Activity {
    log: Mutex<ActivityLog>,
    tick: watch::Sender<u64>,
    /// Long-polls waiting right now (a client that disconnects is dropped, and leaves).
    pub waiting: AtomicUsize,
}

#[derive(Default)]
struct ActivityLog {
    last: u64,
    events: VecDeque<(u64, String, String)>,
}

impl Default for Activity {
    fn default() -> Self {
        Self {
            log: Mutex::default(),
            tick: watch::channel(0).0,
            waiting: AtomicUsize::new(0),
        }
    }
}

impl Activity {
    /// Records `key` (e.g. `ai_chat:{id}`) for `entity` (a workspace or user id) and wakes
    /// waiters. Returns the event's marker.
    pub fn post(&self, entity: &str, key: String) -> u64 {
        let mut log = self.log.lock();
        let now = u64::try_from(chrono::Utc::now().timestamp_micros()).unwrap_or(0);
        let marker = now.max(log.last + 1);
        log.last = marker;
        log.events.push_back((marker, entity.to_owned(), key));
        while log.events.len() > ACTIVITY_KEPT {
            log.events.pop_front();
        }
        drop(log);
        self.tick.send_modify(|v| *v += 1);
        marker
    }

    /// The newest marker handed out (0 before any event).
    pub fn latest(&self) -> u64 {
        self.log.lock().last
    }

    /// The distinct keys posted for `entity` after `marker`, oldest first, and the newest marker
    /// among them (or `marker` when there are none).
    pub fn since(&self, entity: &str, marker: u64) -> (Vec<String>, u64) {
        let log = self.log.lock();
        let mut keys: Vec<String> = Vec::new();
        let mut newest = marker;
        for (m, e, k) in log.events.iter().rev() {
            if *m <= marker {
                break;
            }
            if e == entity {
                newest = newest.max(*m);
                if !keys.contains(k) {
                    keys.push(k.clone());
                }
            }
        }
        keys.reverse();
        (keys, newest)
    }

    /// A receiver that changes on every later post.
    pub fn subscribe(&self) -> watch::Receiver<u64> {
        self.tick.subscribe()
    }

    /// Wakes every waiter (shutdown).
    pub fn wake_all(&self) {
        self.tick.send_modify(|v| *v += 1);
    }
}

/// Files whose content was stored (upload, `addfile`, copy, version restore), as
/// `(workspace, node)`, for the AI indexer. Storage pushes; `ai/indexing.rs` takes the receiver
/// once at start and drains it.
pub struct IndexQueue {
    tx: mpsc::UnboundedSender<(String, String)>,
    rx: Mutex<Option<mpsc::UnboundedReceiver<(String, String)>>>,
}

impl Default for IndexQueue {
    fn default() -> Self {
        let (tx, rx) = mpsc::unbounded_channel();
        Self {
            tx,
            rx: Mutex::new(Some(rx)),
        }
    }
}

impl IndexQueue {
    /// Asks for `node` of `ws` to be (re)indexed.
    pub fn push(&self, ws: &str, node: &str) {
        let _ = self.tx.send((ws.to_owned(), node.to_owned()));
    }

    /// The receiving end, once.
    pub fn take(&self) -> Option<mpsc::UnboundedReceiver<(String, String)>> {
        self.rx.lock().take()
    }
}
