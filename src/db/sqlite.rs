//! The SQLite backend: one connection in WAL mode, used from blocking threads so a slow disk
//! never stalls the async workers.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rusqlite::{Connection, TransactionBehavior};

use super::migrate::{self, Migration};
use super::value::{Row, Value, from_sqlite};
use super::{Atomic, Error, Result, Step};

/// How long a statement waits for another process's write lock before failing.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

#[derive(Clone)]
pub(super) struct Sqlite {
    conn: Arc<Mutex<Connection>>,
}

impl From<rusqlite::Error> for Error {
    fn from(e: rusqlite::Error) -> Self {
        match e.sqlite_error_code() {
            Some(rusqlite::ErrorCode::ConstraintViolation) => Self::Conflict,
            Some(rusqlite::ErrorCode::CannotOpen) => Self::Unavailable(e.to_string()),
            _ => Self::Query(e.to_string()),
        }
    }
}

/// An exclusive OS lock on `<database>-open`, held while one handle sets its connection up.
///
/// The lock is `flock`-style (per open file, so handles within one process exclude each other
/// too) and is released when the file closes, even if the process dies.
struct OpenTurn {
    _file: std::fs::File,
}

impl OpenTurn {
    fn take(db: &Path) -> Result<Self> {
        let mut name = db.as_os_str().to_owned();
        name.push("-open");
        let path = PathBuf::from(name);
        let unavailable =
            |e: std::io::Error| Error::Unavailable(format!("{}: {e}", path.display()));
        let file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(unavailable)?;
        file.lock().map_err(unavailable)?;
        Ok(Self { _file: file })
    }
}

/// `$1` → `?1`: SQLite's numbered placeholders, so one SQL text serves both engines.
fn dialect(sql: &str) -> String {
    sql.replace('$', "?")
}

fn rows(conn: &Connection, sql: &str, params: &[Value]) -> rusqlite::Result<Vec<Row>> {
    let mut stmt = conn.prepare_cached(&dialect(sql))?;
    let columns = stmt.column_count();
    let mapped = stmt.query_map(rusqlite::params_from_iter(params), |r| {
        from_sqlite(r, columns)
    })?;
    mapped.collect()
}

impl Sqlite {
    pub(super) async fn open(path: PathBuf) -> Result<Self> {
        let conn = tokio::task::spawn_blocking(move || -> Result<Connection> {
            if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                std::fs::create_dir_all(dir).map_err(|e| {
                    Error::Unavailable(format!("cannot create {}: {e}", dir.display()))
                })?;
            }
            // SQLite does not call its busy handler while switching a fresh file to WAL, so two
            // replicas opening it together can get "database is locked" at once; they take
            // turns through an OS lock on a file beside it instead.
            let _turn = OpenTurn::take(&path)?;
            let conn = Connection::open(&path)
                .map_err(|e| Error::Unavailable(format!("{}: {e}", path.display())))?;
            conn.busy_timeout(BUSY_TIMEOUT)?;
            conn.pragma_update(None, "journal_mode", "WAL")?;
            conn.pragma_update(None, "synchronous", "NORMAL")?;
            conn.pragma_update(None, "foreign_keys", "ON")?;
            Ok(conn)
        })
        .await
        .map_err(|e| Error::Unavailable(e.to_string()))??;
        Ok(Self {
            conn: Arc::new(Mutex::new(conn)),
        })
    }

    /// Runs `f` with the connection on a blocking thread.
    async fn with<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Connection) -> Result<T> + Send + 'static,
    ) -> Result<T> {
        let conn = Arc::clone(&self.conn);
        tokio::task::spawn_blocking(move || {
            // A panic while holding the lock leaves the connection itself usable.
            let mut guard = conn.lock().unwrap_or_else(|p| p.into_inner());
            f(&mut guard)
        })
        .await
        .map_err(|e| Error::Query(e.to_string()))?
    }

    pub(super) async fn query(&self, sql: &'static str, params: Vec<Value>) -> Result<Vec<Row>> {
        self.with(move |c| Ok(rows(c, sql, &params)?)).await
    }

    pub(super) async fn execute(&self, sql: &'static str, params: Vec<Value>) -> Result<u64> {
        self.with(move |c| {
            let mut stmt = c.prepare_cached(&dialect(sql))?;
            Ok(stmt.execute(rusqlite::params_from_iter(&params))? as u64)
        })
        .await
    }

    pub(super) async fn atomic(&self, steps: Vec<Step>) -> Result<Atomic> {
        self.with(move |c| {
            let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let mut out = Vec::with_capacity(steps.len());
            for (i, step) in steps.iter().enumerate() {
                let got = rows(&tx, step.sql, &step.params)?;
                if step.require_row && got.is_empty() {
                    tx.rollback()?;
                    return Ok(Atomic::RolledBack(i));
                }
                out.push(got);
            }
            tx.commit()?;
            Ok(Atomic::Committed(out))
        })
        .await
    }

    pub(super) async fn migrate(&self, migrations: &'static [Migration]) -> Result<()> {
        self.with(move |c| {
            let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
            tx.execute_batch(migrate::CREATE_TABLE)?;
            let applied = rows(&tx, migrate::SELECT_APPLIED, &[])?;
            let pending = migrate::pending(&applied, migrations)?;
            for m in pending {
                tx.execute_batch(m.sqlite)?;
                rows(
                    &tx,
                    migrate::INSERT_APPLIED,
                    &migrate::record(m, migrate::now_ms()),
                )?;
            }
            tx.commit()?;
            Ok(())
        })
        .await
    }
}
