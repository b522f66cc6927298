//! The test PostgreSQL: `FASTGATE_TEST_DATABASE_URL` when set (`.ci/run` starts a throwaway
//! cluster and exports it), otherwise a throwaway cluster this test process starts itself with
//! `scripts/ci-postgres.sh --stop-with <its PID>`, which stops that server once the process has
//! ended (Debian's `postgresql` package must be installed). Never skipped: with no server to be
//! had, the test fails and says how to get one. Each caller gets its own schema, so tests share
//! the server and still run in parallel.

use std::sync::OnceLock;

/// The server's URL, found or started once per process.
fn server_url() -> &'static str {
    static URL: OnceLock<String> = OnceLock::new();
    URL.get_or_init(|| {
        if let Ok(url) = std::env::var("FASTGATE_TEST_DATABASE_URL")
            && url.starts_with("postgres")
        {
            return url;
        }
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/ci-postgres.sh");
        let output = std::process::Command::new("bash")
            .arg(script)
            .args(["--stop-with", &std::process::id().to_string()])
            .output()
            .unwrap_or_else(|e| panic!("could not run {script}: {e}"));
        assert!(
            output.status.success(),
            "no PostgreSQL for the database tests: install Debian's postgresql package \
             (apt-get install -y postgresql) or set FASTGATE_TEST_DATABASE_URL. {script} said: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8_lossy(&output.stdout).trim().to_owned()
    })
}

/// A `postgres://` URL whose connections use a fresh, empty schema of their own.
pub async fn fresh_database() -> String {
    let url = server_url().to_owned();
    let schema = format!("fg_it_{:016x}", rand_seed());
    let (client, connection) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
        .await
        .unwrap_or_else(|e| panic!("PostgreSQL at {url}: {e}"));
    let task = tokio::spawn(connection);
    client
        .batch_execute(&format!("CREATE SCHEMA {schema}"))
        .await
        .expect("create schema");
    drop(client);
    let _ = task.await;
    let sep = if url.contains('?') { '&' } else { '?' };
    format!("{url}{sep}options=-c%20search_path%3D{schema}")
}

fn rand_seed() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64);
    nanos ^ (u64::from(std::process::id()) << 32) ^ NEXT.fetch_add(1, Ordering::Relaxed)
}
