//! The one way a test waits for something: ask again every 20 ms until the answer is yes or the
//! time is up. No test sleeps to let something happen; it waits for the thing itself.

use std::fmt::Debug;
use std::future::Future;
use std::time::{Duration, Instant};

/// How long between two probes.
const EVERY: Duration = Duration::from_millis(20);

/// Runs `probe` until it returns `Ok`, at most for `within`; on timeout returns the last `Err`
/// (what the probe saw), for callers that add their own evidence before failing.
pub async fn poll_until<T, E, F, Fut>(within: Duration, mut probe: F) -> Result<T, E>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, E>>,
{
    let deadline = Instant::now() + within;
    loop {
        match probe().await {
            Ok(done) => return Ok(done),
            Err(seen) if Instant::now() >= deadline => return Err(seen),
            Err(_) => tokio::time::sleep(EVERY).await,
        }
    }
}

/// Like [`poll_until`], but panics on timeout with `what` was awaited and what was last seen.
pub async fn wait_until<T, E, F, Fut>(what: &str, within: Duration, probe: F) -> T
where
    E: Debug,
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, E>>,
{
    poll_until(within, probe).await.unwrap_or_else(|seen| {
        panic!("timed out after {within:?} waiting for {what}; last seen: {seen:?}")
    })
}
