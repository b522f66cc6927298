//! The live uploads of this process whose Fast.io session is tied to one running request (the
//! form path's stream and single-call sessions). Graceful shutdown ([`crate::server`]) cancels
//! the sessions still registered when the grace period ends, so an upload cut short by a
//! restart leaves nothing half-written upstream.
//!
//! Sessions of the JSON upload API are not registered: they outlive any one request, and the
//! browser resumes them on another replica (a one-call upload's single call stores itself).

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use parking_lot::Mutex;

use crate::fastio;

/// The registry; cheap to clone (clones share one table).
#[derive(Clone, Debug, Default)]
pub struct LiveUploads {
    inner: Arc<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    next: AtomicU64,
    sessions: Mutex<HashMap<u64, String>>,
}

/// One registered session; dropping it (the upload ended, however) unregisters it.
#[derive(Debug)]
#[must_use = "the session is only registered while the guard lives"]
pub struct LiveUpload {
    key: u64,
    inner: Arc<Inner>,
}

impl LiveUploads {
    /// An empty registry.
    pub fn new() -> Self {
        Self::default()
    }

    /// Registers the Fast.io session `upload_id` until the returned guard is dropped.
    pub fn register(&self, upload_id: impl Into<String>) -> LiveUpload {
        let key = self.inner.next.fetch_add(1, Ordering::Relaxed);
        self.inner.sessions.lock().insert(key, upload_id.into());
        LiveUpload {
            key,
            inner: self.inner.clone(),
        }
    }

    /// The session ids registered right now.
    pub fn sessions(&self) -> Vec<String> {
        self.inner.sessions.lock().values().cloned().collect()
    }

    /// How many sessions are registered.
    pub fn len(&self) -> usize {
        self.inner.sessions.lock().len()
    }

    /// Whether none is registered.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Cancels every registered session on Fast.io (all at once) and returns how many were
    /// cancelled; failures are logged, not returned: this runs on the way out.
    pub async fn cancel_all(&self, client: &fastio::Client) -> usize {
        let ids = self.sessions();
        let results =
            futures_util::future::join_all(ids.iter().map(|id| client.cancel_upload(id))).await;
        let mut cancelled = 0;
        for result in results {
            match result {
                Ok(()) => cancelled += 1,
                Err(error) => tracing::warn!(%error, "could not cancel an unfinished upload"),
            }
        }
        cancelled
    }
}

impl LiveUpload {
    /// Points this registration at another session id (e.g. after a form part switched from
    /// a single call to a stream session).
    pub fn set_session(&self, upload_id: impl Into<String>) {
        if let Some(slot) = self.inner.sessions.lock().get_mut(&self.key) {
            *slot = upload_id.into();
        }
    }
}

impl Drop for LiveUpload {
    fn drop(&mut self) {
        self.inner.sessions.lock().remove(&self.key);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_guard_registers_until_dropped() {
        let registry = LiveUploads::new();
        let first = registry.register("u1");
        let second = registry.register("u2");
        second.set_session("u3");
        let mut ids = registry.sessions();
        ids.sort();
        assert_eq!(ids, ["u1", "u3"]);
        drop(first);
        assert_eq!(registry.sessions(), ["u3"]);
        drop(second);
        assert!(registry.is_empty());
    }
}
