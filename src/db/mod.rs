//! The access database: one [`Db`] handle over embedded SQLite (the default, at
//! `FASTGATE_DATA_DIR/fastgate.db`) or PostgreSQL (`FASTGATE_DATABASE_URL=postgres://…`, for
//! several replicas sharing one truth).
//!
//! The handle speaks a deliberately small, portable SQL surface so `access` writes each query
//! once: `$1`-style placeholders (rewritten to `?1` for SQLite), `BIGINT` epoch milliseconds and
//! `TEXT` columns only, `RETURNING` instead of last-insert ids, and [`Db::atomic`] for the few
//! operations that must happen together. Migrations are embedded in the binary, one file per
//! version per backend, and applied at [`Db::open`] (see `migrate`).
//!
//! PostgreSQL connections are plain TCP without TLS: meant for loopback or a private network.
//! Put the database on a trusted network or behind a TLS-terminating proxy.

use std::fmt;
use std::path::PathBuf;

mod migrate;
mod postgres;
mod sqlite;
mod value;

pub use migrate::{MIGRATIONS, Migration};
pub use value::{Row, Value};

/// Where the database lives.
#[derive(Clone, PartialEq, Eq)]
pub enum Target {
    /// An SQLite file (WAL mode), created with its directory when missing.
    Sqlite(PathBuf),
    /// A PostgreSQL URL (`postgres://user@host:port/db`, `?options=-c search_path=…` allowed).
    Postgres(String),
}

impl fmt::Debug for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Sqlite(path) => write!(f, "sqlite:{}", path.display()),
            // The URL may hold a password: show only the scheme.
            Self::Postgres(_) => f.write_str("postgres://…"),
        }
    }
}

/// Which engine a [`Db`] runs on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    /// Embedded SQLite.
    Sqlite,
    /// PostgreSQL.
    Postgres,
}

/// A database failure. The web layer answers 500 (503 for [`Error::Unavailable`]) and logs the
/// cause; only [`Error::Conflict`] is the caller's fault (409).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The database cannot be reached or opened (503).
    #[error("the database is unavailable: {0}")]
    Unavailable(String),
    /// A uniqueness rule was broken, such as a taken username (409).
    #[error("already exists")]
    Conflict,
    /// An applied migration differs from the one in this binary (start-up error).
    #[error(
        "migration {version} ({name}) was changed after it was applied (checksum {applied} in the database, {embedded} in this binary); restore it and add a new migration instead"
    )]
    MigrationChanged {
        /// The version number.
        version: i64,
        /// Its name.
        name: String,
        /// Checksum recorded when it was applied.
        applied: String,
        /// Checksum of the embedded file.
        embedded: String,
    },
    /// The database has a migration this binary does not know: it was upgraded by a newer
    /// fastgate (start-up error).
    #[error("the database has migration {0}, newer than this fastgate; upgrade fastgate")]
    NewerSchema(i64),
    /// A column held something other than what the code expected (500).
    #[error("unexpected value in column {0}")]
    Decode(usize),
    /// Any other engine error (500).
    #[error("database error: {0}")]
    Query(String),
}

/// Result of the database layer.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// One statement of an [`Db::atomic`] unit.
#[derive(Clone, Debug)]
pub struct Step {
    /// The SQL, with `$1`… placeholders.
    pub sql: &'static str,
    /// Its parameters.
    pub params: Vec<Value>,
    /// When true, a statement that yields no row rolls the whole unit back.
    pub require_row: bool,
}

impl Step {
    /// A step that must yield at least one row (use `RETURNING` on writes).
    pub fn require(sql: &'static str, params: Vec<Value>) -> Self {
        Self {
            sql,
            params,
            require_row: true,
        }
    }

    /// A step whose result does not decide anything.
    pub fn run(sql: &'static str, params: Vec<Value>) -> Self {
        Self {
            sql,
            params,
            require_row: false,
        }
    }
}

/// What an [`Db::atomic`] unit did.
#[derive(Debug)]
pub enum Atomic {
    /// Every step ran and the unit was committed; the rows of each step, in order.
    Committed(Vec<Vec<Row>>),
    /// Step number `.0` (0-based) yielded no row: everything was rolled back.
    RolledBack(usize),
}

/// The database handle; cheap to clone, shared by every request.
#[derive(Clone)]
pub struct Db {
    inner: Inner,
}

#[derive(Clone)]
enum Inner {
    Sqlite(sqlite::Sqlite),
    Postgres(postgres::Postgres),
}

impl fmt::Debug for Db {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Db({:?})", self.backend())
    }
}

impl Db {
    /// Opens (or creates) the database and applies pending migrations, refusing a changed one.
    pub async fn open(target: &Target) -> Result<Self> {
        Self::open_with(target, MIGRATIONS).await
    }

    /// [`Db::open`] with another migration list (tests prove drift detection with it).
    pub async fn open_with(target: &Target, migrations: &'static [Migration]) -> Result<Self> {
        let inner = match target {
            Target::Sqlite(path) => Inner::Sqlite(sqlite::Sqlite::open(path.clone()).await?),
            Target::Postgres(url) => Inner::Postgres(postgres::Postgres::open(url)?),
        };
        let db = Self { inner };
        match &db.inner {
            Inner::Sqlite(s) => s.migrate(migrations).await?,
            Inner::Postgres(p) => p.migrate(migrations).await?,
        }
        Ok(db)
    }

    /// The engine behind this handle.
    pub fn backend(&self) -> Backend {
        match self.inner {
            Inner::Sqlite(_) => Backend::Sqlite,
            Inner::Postgres(_) => Backend::Postgres,
        }
    }

    /// Runs one statement and returns its rows (`RETURNING` rows for writes).
    pub async fn query(&self, sql: &'static str, params: Vec<Value>) -> Result<Vec<Row>> {
        match &self.inner {
            Inner::Sqlite(s) => s.query(sql, params).await,
            Inner::Postgres(p) => p.query(sql, params).await,
        }
    }

    /// Runs one statement and returns its first row, if any.
    pub async fn query_opt(&self, sql: &'static str, params: Vec<Value>) -> Result<Option<Row>> {
        Ok(self.query(sql, params).await?.into_iter().next())
    }

    /// Runs one statement and returns the number of rows it changed.
    pub async fn execute(&self, sql: &'static str, params: Vec<Value>) -> Result<u64> {
        match &self.inner {
            Inner::Sqlite(s) => s.execute(sql, params).await,
            Inner::Postgres(p) => p.execute(sql, params).await,
        }
    }

    /// Runs the steps in one transaction, rolling back if a `require_row` step yields nothing.
    ///
    /// SQLite takes the write lock at `BEGIN IMMEDIATE`, so units never interleave; on
    /// PostgreSQL (read committed) a guarded `UPDATE … WHERE …` locks its row and re-checks the
    /// condition after a concurrent commit, which is what makes "take the last use" safe.
    pub async fn atomic(&self, steps: Vec<Step>) -> Result<Atomic> {
        match &self.inner {
            Inner::Sqlite(s) => s.atomic(steps).await,
            Inner::Postgres(p) => p.atomic(steps).await,
        }
    }
}

#[cfg(test)]
pub(crate) mod tests;
