//! Long-poll support (§7.8, §11 "Long-poll"): one watch channel per session, bumped on every
//! status transition, and [`Notifier::wait_for`], which re-reads the session on each wake-up
//! until a condition holds or the wait ends. Waiters survive the client disconnecting (the
//! future is simply dropped) and are released at once on shutdown.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use parking_lot::Mutex;
use tokio::sync::watch;

use super::sessions::{self, SessionRow};
use crate::emulator::store::Store;
use crate::emulator::transport::error::ApiError;

/// Wakes waiters when a session changes: one watch channel per session, created on demand.
#[derive(Default)]
pub struct Notifier {
    channels: Mutex<HashMap<String, watch::Sender<u64>>>,
    closing: AtomicBool,
}

impl Notifier {
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
        let mut map = self.channels.lock();
        if let Some(tx) = map.get(id) {
            tx.send_modify(|v| *v += 1);
            if tx.receiver_count() == 0 {
                map.remove(id);
            }
        }
    }

    /// Waits (up to `max`) until `done` holds for session `id`, re-reading it from `store` on
    /// every notification. Subscribe (`rx`) before the action whose outcome is awaited, so no
    /// transition is missed.
    pub async fn wait_for(
        &self,
        store: &Store,
        id: &str,
        rx: &mut watch::Receiver<u64>,
        max: Duration,
        done: impl Fn(&SessionRow) -> bool,
    ) -> Result<SessionRow, ApiError> {
        let deadline = tokio::time::Instant::now() + max;
        loop {
            let s = sessions::load(store, id).await?;
            if done(&s) || self.is_closing() {
                return Ok(s);
            }
            match tokio::time::timeout_at(deadline, rx.changed()).await {
                Ok(Ok(())) => continue,
                _ => return Ok(s),
            }
        }
    }
}
