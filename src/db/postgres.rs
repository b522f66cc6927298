//! The PostgreSQL backend: a small connection pool (deadpool), prepared statements cached per
//! connection, and an advisory lock around migrations so replicas starting together apply each
//! version once.

use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod};
use tokio_postgres::NoTls;
use tokio_postgres::error::SqlState;
use tokio_postgres::types::ToSql;

use super::migrate::{self, Migration};
use super::value::{Row, Value, from_pg};
use super::{Atomic, Error, Result, Step};

/// Connections per replica; sign-in hashing, not the database, is the bottleneck.
const POOL_SIZE: usize = 16;
/// `pg_advisory_xact_lock` key held while migrating ("fastgate" in ASCII, truncated).
const MIGRATION_LOCK: i64 = 0x6661_7374_6761_7465;

#[derive(Clone)]
pub(super) struct Postgres {
    pool: Pool,
}

impl From<tokio_postgres::Error> for Error {
    fn from(e: tokio_postgres::Error) -> Self {
        match e.code() {
            Some(code) if *code == SqlState::UNIQUE_VIOLATION => Self::Conflict,
            Some(_) => Self::Query(e.to_string()),
            None if e.is_closed() => Self::Unavailable(e.to_string()),
            None => Self::Query(e.to_string()),
        }
    }
}

impl From<deadpool_postgres::PoolError> for Error {
    fn from(e: deadpool_postgres::PoolError) -> Self {
        match e {
            deadpool_postgres::PoolError::Backend(e) => Self::Unavailable(e.to_string()),
            other => Self::Unavailable(other.to_string()),
        }
    }
}

fn refs(params: &[Value]) -> Vec<&(dyn ToSql + Sync)> {
    params.iter().map(|v| v as &(dyn ToSql + Sync)).collect()
}

impl Postgres {
    /// Builds the pool; connections are made on first use (the migration right after).
    pub(super) fn open(url: &str) -> Result<Self> {
        let config: tokio_postgres::Config = url
            .parse()
            .map_err(|e| Error::Unavailable(format!("FASTGATE_DATABASE_URL: {e}")))?;
        let manager = Manager::from_config(
            config,
            NoTls,
            ManagerConfig {
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let pool = Pool::builder(manager)
            .max_size(POOL_SIZE)
            .build()
            .map_err(|e| Error::Unavailable(e.to_string()))?;
        Ok(Self { pool })
    }

    pub(super) async fn query(&self, sql: &'static str, params: Vec<Value>) -> Result<Vec<Row>> {
        let client = self.pool.get().await?;
        let stmt = client.prepare_cached(sql).await?;
        client
            .query(&stmt, &refs(&params))
            .await?
            .iter()
            .map(from_pg)
            .collect()
    }

    pub(super) async fn execute(&self, sql: &'static str, params: Vec<Value>) -> Result<u64> {
        let client = self.pool.get().await?;
        let stmt = client.prepare_cached(sql).await?;
        Ok(client.execute(&stmt, &refs(&params)).await?)
    }

    pub(super) async fn atomic(&self, steps: Vec<Step>) -> Result<Atomic> {
        let mut client = self.pool.get().await?;
        let tx = client.transaction().await?;
        let mut out = Vec::with_capacity(steps.len());
        for (i, step) in steps.iter().enumerate() {
            let stmt = tx.prepare_cached(step.sql).await?;
            let rows = tx
                .query(&stmt, &refs(&step.params))
                .await?
                .iter()
                .map(from_pg)
                .collect::<Result<Vec<_>>>()?;
            if step.require_row && rows.is_empty() {
                tx.rollback().await?;
                return Ok(Atomic::RolledBack(i));
            }
            out.push(rows);
        }
        tx.commit().await?;
        Ok(Atomic::Committed(out))
    }

    pub(super) async fn migrate(&self, migrations: &'static [Migration]) -> Result<()> {
        let mut client = self.pool.get().await?;
        let tx = client.transaction().await?;
        tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])
            .await?;
        tx.batch_execute(migrate::CREATE_TABLE).await?;
        let applied = tx
            .query(migrate::SELECT_APPLIED, &[])
            .await?
            .iter()
            .map(from_pg)
            .collect::<Result<Vec<_>>>()?;
        for m in migrate::pending(&applied, migrations)? {
            tx.batch_execute(m.postgres).await?;
            tx.execute(
                migrate::INSERT_APPLIED,
                &refs(&migrate::record(m, migrate::now_ms())),
            )
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }
}
