//! Chunk requests in flight per session (§7.1 "Parallelism": at most 3; §11: the 4th gets
//! 429/10368). The most seen at once is counted for tests.

use std::collections::HashMap;
use std::sync::Arc;

use parking_lot::Mutex;

use crate::emulator::transport::error::ApiError;
use crate::emulator::transport::stats::Recorder;

/// Chunk requests in flight, per session id.
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
