//! Database tests, each run on both backends: SQLite in a temp dir and PostgreSQL at
//! `FASTGATE_TEST_DATABASE_URL`, every test in a fresh schema so they run in parallel.
//!
//! Without that variable the tests start a throwaway cluster themselves ([`postgres_url`]).

use rand::Rng as _;

use super::*;

/// A database for one test, which can be opened several times ("replicas").
pub(crate) struct TestDb {
    /// Where it lives.
    pub target: Target,
    _dir: Option<tempfile::TempDir>,
}

/// The test server: `FASTGATE_TEST_DATABASE_URL` when set (`.ci/run` exports one), else a
/// throwaway cluster this test process starts once with `scripts/ci-postgres.sh` (Debian's
/// `postgresql` must be installed). Never skipped in CI; locally, and only when `CI` is unset,
/// `FASTGATE_TEST_DATABASE_URL=off` runs the SQLite half alone and says so.
fn postgres_url() -> Option<String> {
    static STARTED: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    let ci = std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "false");
    match std::env::var("FASTGATE_TEST_DATABASE_URL") {
        Ok(url) if url == "off" && !ci => {
            eprintln!("FASTGATE_TEST_DATABASE_URL=off: PostgreSQL half NOT run");
            None
        }
        Ok(url) if url.starts_with("postgres://") || url.starts_with("postgresql://") => Some(url),
        Ok(other) => panic!(
            "FASTGATE_TEST_DATABASE_URL must be a postgres:// URL{}, not “{other}”",
            if ci { "" } else { " (or off, outside CI)" }
        ),
        Err(_) => Some(STARTED.get_or_init(start_throwaway_cluster).clone()),
    }
}

/// Runs `scripts/ci-postgres.sh`, which stops the server once this process has ended, and returns
/// the URL it prints; fails the test, saying how to get PostgreSQL, when it cannot.
fn start_throwaway_cluster() -> String {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/ci-postgres.sh");
    let output = std::process::Command::new("bash")
        .arg(script)
        .args(["--stop-with", &std::process::id().to_string()])
        .output()
        .unwrap_or_else(|e| panic!("could not run {script}: {e}"));
    assert!(
        output.status.success(),
        "the PostgreSQL half of the database tests needs a server: install Debian's postgresql \
         (apt-get install -y postgresql) or set FASTGATE_TEST_DATABASE_URL. {script} said: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).trim().to_owned()
}

impl TestDb {
    /// A fresh SQLite file in a temp dir.
    pub(crate) fn sqlite() -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        Self {
            target: Target::Sqlite(dir.path().join("fastgate.db")),
            _dir: Some(dir),
        }
    }

    /// A fresh schema on the test PostgreSQL; `None` only for the explicit local `off`.
    pub(crate) async fn postgres() -> Option<Self> {
        let url = postgres_url()?;
        let mut bytes = [0u8; 8];
        rand::rng().fill_bytes(&mut bytes);
        let schema = format!("fg_test_{}", hex::encode(bytes));
        let (client, conn) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
            .await
            .unwrap_or_else(|e| panic!("PostgreSQL at FASTGATE_TEST_DATABASE_URL: {e}"));
        let task = tokio::spawn(conn);
        client
            .batch_execute(&format!("CREATE SCHEMA {schema}"))
            .await
            .expect("create schema");
        drop(client);
        let _ = task.await;
        let sep = if url.contains('?') { '&' } else { '?' };
        Some(Self {
            target: Target::Postgres(format!("{url}{sep}options=-c%20search_path%3D{schema}")),
            _dir: None,
        })
    }

    /// Opens a handle with the real migrations.
    pub(crate) async fn open(&self) -> Db {
        Db::open(&self.target).await.expect("open database")
    }
}

/// `both!(name, body)`: `name::sqlite` and `name::postgres`, each calling `body(TestDb)`.
macro_rules! both {
    ($name:ident, $body:ident) => {
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                super::$body($crate::db::tests::TestDb::sqlite()).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                if let Some(db) = $crate::db::tests::TestDb::postgres().await {
                    super::$body(db).await;
                }
            }
        }
    };
}
pub(crate) use both;

static V1: &[Migration] = &[Migration {
    version: 1,
    name: "t",
    sqlite: "CREATE TABLE t (x BIGINT NOT NULL UNIQUE)",
    postgres: "CREATE TABLE t (x BIGINT NOT NULL UNIQUE)",
}];
static V1_CHANGED: &[Migration] = &[Migration {
    version: 1,
    name: "t",
    sqlite: "CREATE TABLE t (x BIGINT NOT NULL UNIQUE, y TEXT)",
    postgres: "CREATE TABLE t (x BIGINT NOT NULL UNIQUE, y TEXT)",
}];
static V1_V2: &[Migration] = &[
    V1[0],
    Migration {
        version: 2,
        name: "u",
        sqlite: "CREATE TABLE u (y TEXT)",
        postgres: "CREATE TABLE u (y TEXT)",
    },
];

async fn applied(db: &Db) -> Vec<(i64, String)> {
    db.query(
        "SELECT version, checksum FROM schema_migrations ORDER BY version",
        vec![],
    )
    .await
    .expect("query")
    .iter()
    .map(|r| (r.int(0).expect("version"), r.text(1).expect("checksum")))
    .collect()
}

async fn migrations_apply_once_and_reopening_changes_nothing(t: TestDb) {
    let first = t.open().await;
    let rows = applied(&first).await;
    assert_eq!(rows.len(), MIGRATIONS.len());
    assert_eq!(rows[0], (1, MIGRATIONS[0].checksum()));
    let second = t.open().await;
    assert_eq!(applied(&second).await, rows);
}
both!(
    migrations_idempotent,
    migrations_apply_once_and_reopening_changes_nothing
);

async fn a_changed_applied_migration_is_a_startup_error(t: TestDb) {
    Db::open_with(&t.target, V1).await.expect("v1");
    let err = Db::open_with(&t.target, V1_CHANGED)
        .await
        .expect_err("drift");
    assert!(
        matches!(err, Error::MigrationChanged { version: 1, .. }),
        "{err}"
    );
    // A new version on top is fine, and an older binary is refused.
    Db::open_with(&t.target, V1_V2).await.expect("v2 on top");
    let err = Db::open_with(&t.target, V1)
        .await
        .expect_err("older binary");
    assert!(matches!(err, Error::NewerSchema(2)), "{err}");
}
both!(
    checksum_drift_refused,
    a_changed_applied_migration_is_a_startup_error
);

async fn replicas_opening_together_apply_each_migration_once(t: TestDb) {
    let (a, b, c) = tokio::join!(
        Db::open(&t.target),
        Db::open(&t.target),
        Db::open(&t.target)
    );
    for db in [a, b, c] {
        assert_eq!(applied(&db.expect("open")).await.len(), MIGRATIONS.len());
    }
}
both!(
    concurrent_open,
    replicas_opening_together_apply_each_migration_once
);

async fn atomic_rolls_back_when_a_required_step_finds_nothing(t: TestDb) {
    let db = Db::open_with(&t.target, V1).await.expect("open");
    let out = db
        .atomic(vec![
            Step::run("INSERT INTO t (x) VALUES ($1)", vec![1.into()]),
            Step::require("SELECT x FROM t WHERE x = $1", vec![2.into()]),
        ])
        .await
        .expect("atomic");
    assert!(matches!(out, Atomic::RolledBack(1)));
    assert!(
        db.query("SELECT x FROM t", vec![])
            .await
            .expect("q")
            .is_empty()
    );
    let out = db
        .atomic(vec![Step::require(
            "INSERT INTO t (x) VALUES ($1) RETURNING x",
            vec![7.into()],
        )])
        .await
        .expect("atomic");
    assert!(matches!(out, Atomic::Committed(ref rows) if rows[0][0].int(0).ok() == Some(7)));
    let dup = db
        .execute("INSERT INTO t (x) VALUES ($1)", vec![7.into()])
        .await;
    assert!(matches!(dup, Err(Error::Conflict)), "{dup:?}");
    // Placeholders may repeat and come in any order; NULL binds to any type.
    let rows = db
        .query(
            "SELECT x FROM t WHERE x = $2 AND (CAST($1 AS TEXT) IS NULL OR $1 = 'y')",
            vec![Value::Null, 7.into()],
        )
        .await
        .expect("q");
    assert_eq!(rows.len(), 1);
}
both!(
    atomic_units,
    atomic_rolls_back_when_a_required_step_finds_nothing
);
