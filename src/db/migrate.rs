//! Versioned migrations, embedded in the binary: one SQL file per version per backend under
//! `src/db/migrations/{sqlite,postgres}/`. [`super::Db::open`] applies the pending ones in one
//! transaction and records each in `schema_migrations` with the SHA-256 of its SQL; a file
//! changed after it was applied is refused, so the schema never drifts silently.

use sha2::{Digest, Sha256};

use super::value::{Row, Value};
use super::{Error, Result};

/// One schema version, in both dialects.
#[derive(Clone, Copy, Debug)]
pub struct Migration {
    /// Version number, from 1, in order.
    pub version: i64,
    /// A short name (`access`).
    pub name: &'static str,
    /// The SQLite text.
    pub sqlite: &'static str,
    /// The PostgreSQL text.
    pub postgres: &'static str,
}

/// Every migration of this binary, in order. Append; never edit one that shipped.
pub const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        name: "access",
        sqlite: include_str!("migrations/sqlite/0001_access.sql"),
        postgres: include_str!("migrations/postgres/0001_access.sql"),
    },
    Migration {
        version: 2,
        name: "ask",
        sqlite: include_str!("migrations/sqlite/0002_ask.sql"),
        postgres: include_str!("migrations/postgres/0002_ask.sql"),
    },
    Migration {
        version: 3,
        name: "one_call_uploads",
        sqlite: include_str!("migrations/sqlite/0003_one_call_uploads.sql"),
        postgres: include_str!("migrations/postgres/0003_one_call_uploads.sql"),
    },
    Migration {
        version: 4,
        name: "one_call_claims",
        sqlite: include_str!("migrations/sqlite/0004_one_call_claims.sql"),
        postgres: include_str!("migrations/postgres/0004_one_call_claims.sql"),
    },
];

impl Migration {
    /// SHA-256 (hex) of both dialects' text: a change to either is drift.
    pub fn checksum(&self) -> String {
        let mut h = Sha256::new();
        h.update(self.sqlite.as_bytes());
        h.update([0]);
        h.update(self.postgres.as_bytes());
        hex::encode(h.finalize())
    }
}

pub(super) const CREATE_TABLE: &str = "CREATE TABLE IF NOT EXISTS schema_migrations (
    version BIGINT PRIMARY KEY,
    name TEXT NOT NULL,
    checksum TEXT NOT NULL,
    applied_at BIGINT NOT NULL
)";
pub(super) const SELECT_APPLIED: &str =
    "SELECT version, name, checksum FROM schema_migrations ORDER BY version";
pub(super) const INSERT_APPLIED: &str =
    "INSERT INTO schema_migrations (version, name, checksum, applied_at) VALUES ($1, $2, $3, $4)";

/// The parameters of [`INSERT_APPLIED`] for `m`.
pub(super) fn record(m: &Migration, now_ms: i64) -> Vec<Value> {
    vec![
        m.version.into(),
        m.name.into(),
        m.checksum().into(),
        now_ms.into(),
    ]
}

/// Checks the applied rows against `migrations` and returns those still to apply.
pub(super) fn pending<'m>(
    applied: &[Row],
    migrations: &'m [Migration],
) -> Result<Vec<&'m Migration>> {
    let mut done = Vec::with_capacity(applied.len());
    for row in applied {
        let version = row.int(0)?;
        let Some(m) = migrations.iter().find(|m| m.version == version) else {
            return Err(Error::NewerSchema(version));
        };
        let recorded = row.text(2)?;
        let embedded = m.checksum();
        if recorded != embedded {
            return Err(Error::MigrationChanged {
                version,
                name: m.name.to_owned(),
                applied: recorded,
                embedded,
            });
        }
        done.push(version);
    }
    Ok(migrations
        .iter()
        .filter(|m| !done.contains(&m.version))
        .collect())
}

/// Wall-clock epoch milliseconds (only for `applied_at`).
pub(super) fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}
