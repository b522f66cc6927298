//! How the JS path's one-call uploads stand. A file whose size fits one single call
//! (`fastio-api.md` §7.4, ≤ 4 MiB) and one chunk opens no Fast.io session at create: its only
//! chunk goes up in one single call that stores itself, so the upload costs one request of the
//! `/upload/` rate-limit bucket instead of five or more (create, chunk, details, complete,
//! long-polls). Fast.io then holds the file but nothing that leads from the ticket to it, so the
//! upload's state is a row in the gateway's database — the one every replica shares — kept until
//! the upload token expires:
//!
//! - `storing`: a chunk PUT has *claimed* the upload (with the chunk's SHA-256) and its single
//!   call is under way. The claim is taken before anything goes upstream, so a second PUT of the
//!   same chunk — a retry, a double click, another replica — joins it instead of storing the file
//!   twice. A claim older than its lifetime (the replica that held it stopped) may be taken over.
//! - `stored` (the verified node), `failed` (with the reason; the chunk may be sent again), or
//!   `cancelled` (a `DELETE` before the chunk, which refuses any later chunk).
//!
//! No row means no chunk has been sent yet. [`OneCallRecords::wait`] waits for a claim to end:
//! woken at once on the replica that holds it, by polling the database on the others.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::sync::Notify;

use crate::db::{self, Db};

/// Rows written between two prunes of expired rows.
const PRUNE_EVERY: u64 = 256;

/// How often a waiter on another replica than the claim's reads the row again.
const POLL_OTHER_REPLICA: Duration = Duration::from_millis(100);

/// How often a waiter on the claim's own replica reads the row again, in case a wake-up was
/// missed (it is woken as soon as the outcome is recorded).
const POLL_OWN_REPLICA: Duration = Duration::from_secs(1);

/// Where a one-call upload stands, as recorded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Its chunk is being stored.
    Storing {
        /// The SHA-256 (hex) of the chunk being stored.
        sha256: String,
        /// When the claim was taken (Unix milliseconds).
        claimed_at: i64,
    },
    /// Stored and verified.
    Stored {
        /// The stored node.
        node: String,
        /// Its name on Fast.io.
        name: String,
        /// Its SHA-256 (Fast.io's).
        sha256: Option<String>,
    },
    /// Its single call failed; the chunk may be sent again.
    Failed {
        /// Why, for people.
        message: String,
    },
    /// Cancelled before its chunk was stored.
    Cancelled,
}

/// The answer to [`OneCallRecords::claim`].
#[derive(Debug, PartialEq, Eq)]
pub enum Claim {
    /// This caller holds the claim and must send the chunk, then record how it went.
    Granted,
    /// The upload is claimed, stored or cancelled already; nothing to send.
    Held(Outcome),
}

/// The records; cheap to clone.
#[derive(Clone, Debug)]
pub struct OneCallRecords {
    db: Db,
    writes: Arc<AtomicU64>,
    /// Claims held by this replica, each with the wake-up of its waiters.
    held: Arc<parking_lot::Mutex<HashMap<String, Arc<Notify>>>>,
}

/// A claim held by this replica: dropping it (once the outcome is recorded, or if the store
/// task ends any other way) wakes the waiters on this replica.
#[derive(Debug)]
pub struct HeldClaim {
    records: OneCallRecords,
    id: String,
}

impl Drop for HeldClaim {
    fn drop(&mut self) {
        if let Some(notify) = self.records.held.lock().remove(&self.id) {
            notify.notify_waiters();
        }
    }
}

impl OneCallRecords {
    /// The records in `db` (migrated by [`Db::open`]).
    pub fn new(db: Db) -> Self {
        Self {
            db,
            writes: Arc::new(AtomicU64::new(0)),
            held: Arc::default(),
        }
    }

    /// Where upload `id` stands, if a chunk was sent or it was cancelled.
    pub async fn get(&self, id: &str) -> db::Result<Option<Outcome>> {
        let row = self
            .db
            .query_opt(
                "SELECT state, node, name, sha256, message, claimed_at
                 FROM one_call_uploads WHERE id = $1",
                vec![id.into()],
            )
            .await?;
        let Some(row) = row else { return Ok(None) };
        Ok(Some(match row.text(0)?.as_str() {
            "storing" => Outcome::Storing {
                sha256: row.opt_text(3)?.unwrap_or_default(),
                claimed_at: row.opt_int(5)?.unwrap_or(0),
            },
            "stored" => Outcome::Stored {
                node: row.text(1)?,
                name: row.text(2)?,
                sha256: row.opt_text(3)?,
            },
            "failed" => Outcome::Failed {
                message: row.opt_text(4)?.unwrap_or_default(),
            },
            _ => Outcome::Cancelled,
        }))
    }

    /// Claims upload `id` for sending a chunk of SHA-256 `sha256`, kept until `expires` (Unix
    /// seconds): granted when nothing was sent yet, when the last try failed, or when a claim is
    /// older than `lifetime`; otherwise how the upload stands.
    pub async fn claim(
        &self,
        id: &str,
        expires: i64,
        sha256: &str,
        lifetime: Duration,
    ) -> db::Result<Claim> {
        let now = chrono::Utc::now().timestamp_millis();
        let stale = stale_before(lifetime);
        // A row pruned between the two statements (it cannot be: it lives until the token
        // expires) would only make the loop go round once more.
        for _ in 0..3 {
            let inserted = self
                .db
                .execute(
                    "INSERT INTO one_call_uploads (id, state, sha256, claimed_at, expires_at)
                     VALUES ($1, 'storing', $2, $3, $4) ON CONFLICT (id) DO NOTHING",
                    vec![
                        id.into(),
                        sha256.into(),
                        now.into(),
                        expires.saturating_mul(1000).into(),
                    ],
                )
                .await?;
            let granted = inserted == 1
                || self
                    .db
                    .execute(
                        "UPDATE one_call_uploads
                         SET state = 'storing', sha256 = $2, claimed_at = $3, message = NULL
                         WHERE id = $1
                           AND (state = 'failed' OR (state = 'storing' AND claimed_at < $4))",
                        vec![id.into(), sha256.into(), now.into(), stale.into()],
                    )
                    .await?
                    == 1;
            if granted {
                self.wrote().await;
                return Ok(Claim::Granted);
            }
            if let Some(outcome) = self.get(id).await? {
                return Ok(Claim::Held(outcome));
            }
        }
        Err(db::Error::Query(
            "a one-call upload row kept vanishing while being claimed".into(),
        ))
    }

    /// Marks the claim on `id` as held by this replica until the returned guard drops, so that
    /// [`Self::wait`] here is woken as soon as the outcome is recorded.
    pub fn hold(&self, id: &str) -> HeldClaim {
        self.held
            .lock()
            .insert(id.to_owned(), Arc::new(Notify::new()));
        HeldClaim {
            records: self.clone(),
            id: id.to_owned(),
        }
    }

    /// Waits until upload `id` is no longer being stored, or until its claim is older than
    /// `lifetime` (its replica stopped), and says where it stands then.
    pub async fn wait(&self, id: &str, lifetime: Duration) -> db::Result<Option<Outcome>> {
        let lifetime_ms = i64::try_from(lifetime.as_millis()).unwrap_or(i64::MAX);
        loop {
            // Registered before the row is read, so an outcome recorded in between still wakes.
            let local = self.held.lock().get(id).cloned();
            let mut woken = local.map(|notify| Box::pin(notify.notified_owned()));
            if let Some(woken) = woken.as_mut() {
                woken.as_mut().enable();
            }
            let outcome = self.get(id).await?;
            let Some(Outcome::Storing { claimed_at, .. }) = &outcome else {
                return Ok(outcome);
            };
            let age = chrono::Utc::now().timestamp_millis() - claimed_at;
            if age >= lifetime_ms {
                return Ok(outcome);
            }
            let left = Duration::from_millis(u64::try_from(lifetime_ms - age).unwrap_or(0));
            match woken {
                Some(woken) => {
                    let _ = tokio::time::timeout(POLL_OWN_REPLICA.min(left), woken).await;
                }
                None => tokio::time::sleep(POLL_OTHER_REPLICA.min(left)).await,
            }
        }
    }

    /// Records upload `id` stored as `node`, kept until `expires` (Unix seconds). A cancel that
    /// came while the chunk was being stored came too late: stored wins.
    pub async fn stored(
        &self,
        id: &str,
        expires: i64,
        node: &str,
        name: &str,
        sha256: Option<&str>,
    ) -> db::Result<()> {
        self.db
            .execute(
                "INSERT INTO one_call_uploads (id, state, node, name, sha256, expires_at)
                 VALUES ($1, 'stored', $2, $3, $4, $5)
                 ON CONFLICT (id) DO UPDATE SET state = 'stored', node = excluded.node,
                     name = excluded.name, sha256 = excluded.sha256, message = NULL",
                vec![
                    id.into(),
                    node.into(),
                    name.into(),
                    sha256.into(),
                    expires.saturating_mul(1000).into(),
                ],
            )
            .await?;
        Ok(())
    }

    /// Records that the single call of upload `id` failed, for `message`'s reason.
    pub async fn failed(&self, id: &str, message: &str) -> db::Result<()> {
        self.db
            .execute(
                "UPDATE one_call_uploads SET state = 'failed', message = $2
                 WHERE id = $1 AND state = 'storing'",
                vec![id.into(), message.into()],
            )
            .await?;
        Ok(())
    }

    /// Records upload `id` cancelled unless a chunk is stored or being stored under a claim
    /// younger than `lifetime`; returns where it stands then.
    pub async fn cancel(&self, id: &str, expires: i64, lifetime: Duration) -> db::Result<Outcome> {
        self.mark_cancelled(id, expires, lifetime).await?;
        self.after_cancel(id, expires, lifetime).await
    }

    /// The update of [`Self::cancel`]: applies to a missing row, a failed one or a lapsed claim.
    async fn mark_cancelled(&self, id: &str, expires: i64, lifetime: Duration) -> db::Result<()> {
        self.db
            .execute(
                "INSERT INTO one_call_uploads (id, state, expires_at) VALUES ($1, 'cancelled', $2)
                 ON CONFLICT (id) DO UPDATE SET state = 'cancelled'
                 WHERE one_call_uploads.state = 'failed'
                    OR (one_call_uploads.state = 'storing' AND one_call_uploads.claimed_at < $3)",
                vec![
                    id.into(),
                    expires.saturating_mul(1000).into(),
                    stale_before(lifetime).into(),
                ],
            )
            .await?;
        self.wrote().await;
        Ok(())
    }

    /// Where upload `id` stands after [`Self::mark_cancelled`]. A single call that failed
    /// between that update (which found it `storing`) and this read would leave it `failed`,
    /// open to a new claim although the caller was told it is cancelled: it is marked again,
    /// which always applies to a failed row.
    async fn after_cancel(
        &self,
        id: &str,
        expires: i64,
        lifetime: Duration,
    ) -> db::Result<Outcome> {
        match self.get(id).await? {
            Some(Outcome::Failed { .. }) => {
                self.mark_cancelled(id, expires, lifetime).await?;
                Ok(self.get(id).await?.unwrap_or(Outcome::Cancelled))
            }
            outcome => Ok(outcome.unwrap_or(Outcome::Cancelled)),
        }
    }

    /// Now and then, drops the rows whose token has expired (nobody can ask about them).
    async fn wrote(&self) {
        if self.writes.fetch_add(1, Ordering::Relaxed) % PRUNE_EVERY != PRUNE_EVERY - 1 {
            return;
        }
        let now = chrono::Utc::now().timestamp_millis();
        let pruned = self
            .db
            .execute(
                "DELETE FROM one_call_uploads WHERE expires_at < $1",
                vec![now.into()],
            )
            .await;
        if let Err(error) = pruned {
            tracing::warn!(%error, "could not prune expired one-call upload records");
        }
    }
}

/// The claim time (Unix milliseconds) before which a claim of `lifetime` has lapsed.
fn stale_before(lifetime: Duration) -> i64 {
    let lifetime = i64::try_from(lifetime.as_millis()).unwrap_or(i64::MAX);
    chrono::Utc::now()
        .timestamp_millis()
        .saturating_sub(lifetime)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::tests::{TestDb, both};

    const LIFETIME: Duration = Duration::from_secs(60);

    fn expires() -> i64 {
        chrono::Utc::now().timestamp() + 3600
    }

    async fn records(db: &TestDb) -> OneCallRecords {
        OneCallRecords::new(db.open().await)
    }

    /// A cancel before any chunk refuses every later claim.
    async fn a_cancel_before_the_chunk_refuses_it(db: TestDb) {
        let r = records(&db).await;
        assert_eq!(
            r.cancel("u1", expires(), LIFETIME).await.expect("cancel"),
            Outcome::Cancelled
        );
        let claim = r
            .claim("u1", expires(), "aa", LIFETIME)
            .await
            .expect("claim");
        assert_eq!(claim, Claim::Held(Outcome::Cancelled));
    }
    both!(
        cancel_before_the_chunk,
        a_cancel_before_the_chunk_refuses_it
    );

    /// A cancel while the chunk is being stored changes nothing and says so; the outcome
    /// recorded after it stands.
    async fn a_cancel_during_the_single_call_comes_too_late(db: TestDb) {
        let r = records(&db).await;
        assert_eq!(
            r.claim("u2", expires(), "aa", LIFETIME)
                .await
                .expect("claim"),
            Claim::Granted
        );
        let outcome = r.cancel("u2", expires(), LIFETIME).await.expect("cancel");
        assert!(
            matches!(outcome, Outcome::Storing { ref sha256, .. } if sha256 == "aa"),
            "{outcome:?}"
        );
        r.stored("u2", expires(), "node-1", "a.txt", Some("bb"))
            .await
            .expect("stored");
        assert!(matches!(
            r.cancel("u2", expires(), LIFETIME).await.expect("cancel"),
            Outcome::Stored { ref node, .. } if node == "node-1"
        ));
    }
    both!(
        cancel_during_the_call,
        a_cancel_during_the_single_call_comes_too_late
    );

    /// A failed single call may be claimed again, unless the upload is cancelled first.
    async fn a_failed_upload_is_claimed_again_or_cancelled(db: TestDb) {
        let r = records(&db).await;
        assert_eq!(
            r.claim("u3", expires(), "aa", LIFETIME)
                .await
                .expect("claim"),
            Claim::Granted
        );
        r.failed("u3", "upstream said 500").await.expect("failed");
        assert_eq!(
            r.claim("u3", expires(), "aa", LIFETIME)
                .await
                .expect("claim"),
            Claim::Granted
        );
        r.failed("u3", "upstream said 500 again")
            .await
            .expect("failed");
        assert_eq!(
            r.cancel("u3", expires(), LIFETIME).await.expect("cancel"),
            Outcome::Cancelled
        );
        let claim = r
            .claim("u3", expires(), "aa", LIFETIME)
            .await
            .expect("claim");
        assert_eq!(claim, Claim::Held(Outcome::Cancelled));
    }
    both!(
        failed_then_cancelled,
        a_failed_upload_is_claimed_again_or_cancelled
    );

    /// The interleaving CI once hit: the cancel's update finds the chunk being stored, the
    /// single call then fails, and only then does the cancel read the row. The upload ends
    /// cancelled, as the caller is told, and a chunk sent again is refused.
    async fn a_call_failing_between_a_cancels_update_and_its_read_ends_cancelled(db: TestDb) {
        let r = records(&db).await;
        assert_eq!(
            r.claim("u4", expires(), "aa", LIFETIME)
                .await
                .expect("claim"),
            Claim::Granted
        );
        r.mark_cancelled("u4", expires(), LIFETIME)
            .await
            .expect("update");
        assert!(matches!(
            r.get("u4").await.expect("get"),
            Some(Outcome::Storing { .. })
        ));
        r.failed("u4", "upstream said 500").await.expect("failed");
        let outcome = r
            .after_cancel("u4", expires(), LIFETIME)
            .await
            .expect("read back");
        assert_eq!(outcome, Outcome::Cancelled);
        assert_eq!(r.get("u4").await.expect("get"), Some(Outcome::Cancelled));
        let claim = r
            .claim("u4", expires(), "aa", LIFETIME)
            .await
            .expect("claim");
        assert_eq!(claim, Claim::Held(Outcome::Cancelled));
    }
    both!(
        failure_inside_a_cancel,
        a_call_failing_between_a_cancels_update_and_its_read_ends_cancelled
    );

    /// A claim older than its lifetime (its replica stopped) can be cancelled.
    async fn a_lapsed_claim_can_be_cancelled(db: TestDb) {
        let r = records(&db).await;
        assert_eq!(
            r.claim("u5", expires(), "aa", LIFETIME)
                .await
                .expect("claim"),
            Claim::Granted
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
        let outcome = r
            .cancel("u5", expires(), Duration::from_millis(5))
            .await
            .expect("cancel");
        assert_eq!(outcome, Outcome::Cancelled);
    }
    both!(lapsed_claim_cancelled, a_lapsed_claim_can_be_cancelled);
}
