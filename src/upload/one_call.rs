//! How the JS path's one-call uploads ended. A file whose size fits one single call
//! (`fastio-api.md` §7.4, ≤ 4 MiB) and one chunk opens no Fast.io session at create: its only
//! chunk goes up in one single call that stores itself, so the upload costs one request of the
//! `/upload/` rate-limit bucket instead of five or more (create, chunk, details, complete,
//! long-polls). Fast.io then holds the file but nothing that leads from the ticket to it, so the
//! outcome is a row in the gateway's database — the one every replica shares — kept until the
//! upload token expires: `stored` (the verified node) or `cancelled` (a `DELETE` before the
//! chunk, which refuses any later chunk). No row means the chunk has not been stored yet.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::db::{self, Db};

/// Rows written between two prunes of expired rows.
const PRUNE_EVERY: u64 = 256;

/// How a one-call upload ended, as recorded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Stored and verified.
    Stored {
        /// The stored node.
        node: String,
        /// Its name on Fast.io.
        name: String,
        /// Its SHA-256 (Fast.io's).
        sha256: Option<String>,
    },
    /// Cancelled before its chunk was stored.
    Cancelled,
}

/// The records; cheap to clone.
#[derive(Clone, Debug)]
pub struct OneCallRecords {
    db: Db,
    writes: Arc<AtomicU64>,
}

impl OneCallRecords {
    /// The records in `db` (migrated by [`Db::open`]).
    pub fn new(db: Db) -> Self {
        Self {
            db,
            writes: Arc::new(AtomicU64::new(0)),
        }
    }

    /// How upload `id` ended, if it has.
    pub async fn get(&self, id: &str) -> db::Result<Option<Outcome>> {
        let row = self
            .db
            .query_opt(
                "SELECT state, node, name, sha256 FROM one_call_uploads WHERE id = $1",
                vec![id.into()],
            )
            .await?;
        let Some(row) = row else { return Ok(None) };
        Ok(Some(match row.text(0)?.as_str() {
            "stored" => Outcome::Stored {
                node: row.text(1)?,
                name: row.text(2)?,
                sha256: row.opt_text(3)?,
            },
            _ => Outcome::Cancelled,
        }))
    }

    /// Records upload `id` stored as `outcome`'s node, kept until `expires` (Unix seconds). A
    /// cancel that came while the chunk was being stored came too late: stored wins.
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
                     name = excluded.name, sha256 = excluded.sha256",
                vec![
                    id.into(),
                    node.into(),
                    name.into(),
                    sha256.into(),
                    expires.saturating_mul(1000).into(),
                ],
            )
            .await?;
        self.wrote().await;
        Ok(())
    }

    /// Records upload `id` cancelled unless it is stored already; returns how it ended.
    pub async fn cancel(&self, id: &str, expires: i64) -> db::Result<Outcome> {
        self.db
            .execute(
                "INSERT INTO one_call_uploads (id, state, expires_at) VALUES ($1, 'cancelled', $2)
                 ON CONFLICT (id) DO NOTHING",
                vec![id.into(), expires.saturating_mul(1000).into()],
            )
            .await?;
        self.wrote().await;
        Ok(self.get(id).await?.unwrap_or(Outcome::Cancelled))
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
