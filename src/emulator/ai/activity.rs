//! `GET /activity/poll/{entity_id}/?wait=&lastactivity=&updated=` (§8.1, §11 "Activity
//! long-poll"): answers `{"result":true,"activity":[keys…],"lastactivity":"<marker>"}`.
//!
//! At once when events newer than `lastactivity` exist for the entity, or when `lastactivity`
//! is absent (then `activity` is empty and the marker is the newest: an emulator choice, the
//! client re-reads what it cares about anyway). Otherwise it holds for up to
//! `min(wait, 95)` seconds (`wait` absent = 0: answer at once) and returns an empty list with the
//! same marker. `updated=1` is accepted; newer-only is what the emulator always does. The marker
//! is microseconds since the epoch as `secs.micros` (opaque to clients, monotonic). A waiter
//! whose client disconnects is dropped with its connection (nothing is left behind; shutdown
//! wakes every waiter). Entities: any workspace id (storage, preview, AI keys) and the user id
//! (`upload:{id}`); an unknown entity simply never has events.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use axum::extract::{Path, Query, State};
use serde_json::json;

use crate::emulator::state::EmulatorState;
use crate::emulator::transport::auth::Caller;
use crate::emulator::transport::envelope::Envelope;
use crate::emulator::transport::error::ApiError;

/// The longest hold (§8.1: about 95 s).
const WAIT_MAX: u64 = 95;

/// Formats a marker.
pub fn marker(m: u64) -> String {
    format!("{}.{:06}", m / 1_000_000, m % 1_000_000)
}

/// Reads a marker back; `None` when it is not one of ours.
pub fn parse_marker(s: &str) -> Option<u64> {
    let (secs, micros) = s.trim().split_once('.').unwrap_or((s.trim(), "0"));
    let secs: u64 = secs.parse().ok()?;
    let micros = format!("{micros:0<6}");
    let micros: u64 = micros.get(..6)?.parse().ok()?;
    secs.checked_mul(1_000_000)?.checked_add(micros)
}

/// Counts a waiter for as long as it waits (dropped with the request if the client leaves).
struct Waiting<'a>(&'a std::sync::atomic::AtomicUsize);

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

/// The long-poll handler.
pub async fn poll(
    State(state): State<Arc<EmulatorState>>,
    _: Caller,
    Path(entity): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Envelope, ApiError> {
    let wait = match q.get("wait").map(|w| w.trim()).filter(|w| !w.is_empty()) {
        None => 0.0,
        Some(w) => w
            .parse::<f64>()
            .ok()
            .filter(|w| w.is_finite() && *w >= 0.0)
            .ok_or_else(|| ApiError::invalid("wait must be a number of seconds"))?,
    };
    let wait = Duration::from_secs_f64(wait.min(WAIT_MAX as f64));
    let last = match q
        .get("lastactivity")
        .map(|l| l.trim())
        .filter(|l| !l.is_empty())
    {
        None => {
            return Ok(Envelope(json!({
                "activity": [], "lastactivity": marker(state.activity.latest()),
            })));
        }
        Some(l) => parse_marker(l).ok_or_else(|| ApiError::invalid("unknown lastactivity"))?,
    };
    let mut tick = state.activity.subscribe();
    let deadline = tokio::time::Instant::now() + wait;
    state.activity.waiting.fetch_add(1, Ordering::SeqCst);
    let _waiting = Waiting(&state.activity.waiting);
    loop {
        let (keys, newest) = state.activity.since(&entity, last);
        if !keys.is_empty() || state.notifier.is_closing() {
            return Ok(Envelope(
                json!({"activity": keys, "lastactivity": marker(newest)}),
            ));
        }
        if tokio::time::timeout_at(deadline, tick.changed())
            .await
            .is_err()
        {
            return Ok(Envelope(
                json!({"activity": [], "lastactivity": marker(last)}),
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markers_read_back() {
        assert_eq!(
            parse_marker(&marker(1_767_225_600_000_123)),
            Some(1_767_225_600_000_123)
        );
        assert_eq!(parse_marker("17"), Some(17_000_000));
        assert_eq!(parse_marker("x"), None);
    }
}
