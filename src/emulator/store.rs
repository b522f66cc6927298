//! Durable state: one SQLite database (WAL) for metadata and plain files for bytes.
//!
//! The connection belongs to one thread of its own, and every query is sent to it through
//! [`Store::call`], so the async runtime never waits on disk. One owner instead of a mutex shared
//! by the blocking pool: under many small uploads the pool's threads spent more time waking,
//! spinning and sleeping on the lock than SQLite spent on the queries. Bytes live under `data_dir`:
//! `chunks/<session>/<order>` while a chunked session is open, `blobs/<id>` once assembled (a
//! file received whole is moved there at once), and `tmp/` for files still being written
//! (renamed into place only when complete). Restarting on the same directory keeps everything
//! (§11 "Long-poll": sessions persist across restarts).

use std::panic::AssertUnwindSafe;
use std::path::{Path, PathBuf};
use std::sync::mpsc;

use rusqlite::{Connection, OptionalExtension};
use tokio::sync::oneshot;

use super::transport::error::{ApiError, EmulatorError};
use super::transport::ids;

const SCHEMA: &str = "
PRAGMA journal_mode=WAL;
PRAGMA synchronous=NORMAL;
CREATE TABLE IF NOT EXISTS meta(k TEXT PRIMARY KEY, v TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS workspaces(id TEXT PRIMARY KEY, name TEXT NOT NULL,
    folder_name TEXT NOT NULL, created TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS nodes(id TEXT PRIMARY KEY, workspace_id TEXT NOT NULL,
    parent TEXT NOT NULL, type TEXT NOT NULL, name TEXT NOT NULL, size INTEGER NOT NULL DEFAULT 0,
    mimetype TEXT, hash TEXT, blob TEXT, version TEXT NOT NULL, created TEXT NOT NULL,
    updated TEXT NOT NULL, deleted INTEGER NOT NULL DEFAULT 0, deleted_from TEXT,
    origin_type TEXT, upload_session TEXT);
CREATE INDEX IF NOT EXISTS nodes_parent ON nodes(workspace_id, parent, deleted);
CREATE TABLE IF NOT EXISTS versions(node_id TEXT NOT NULL, version TEXT NOT NULL, blob TEXT,
    size INTEGER NOT NULL, hash TEXT, created TEXT NOT NULL, PRIMARY KEY(node_id, version));
CREATE TABLE IF NOT EXISTS sessions(id TEXT PRIMARY KEY, kind TEXT NOT NULL, name TEXT NOT NULL,
    size INTEGER, max_size INTEGER, action TEXT NOT NULL, instance_id TEXT, profile_type TEXT,
    folder_id TEXT, file_id TEXT, hash TEXT, hash_algo TEXT, status TEXT NOT NULL,
    status_message TEXT, new_file_id TEXT, blob TEXT, blob_size INTEGER, blob_hash TEXT,
    dead INTEGER NOT NULL DEFAULT 0, created TEXT NOT NULL, updated TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS chunks(session_id TEXT NOT NULL, ord INTEGER NOT NULL,
    size INTEGER NOT NULL, sha256 TEXT NOT NULL, PRIMARY KEY(session_id, ord));
CREATE TABLE IF NOT EXISTS tokens(token TEXT PRIMARY KEY, workspace_id TEXT NOT NULL,
    node_id TEXT NOT NULL, expires INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS fileshares(id TEXT PRIMARY KEY, workspace_id TEXT NOT NULL,
    node_id TEXT NOT NULL, title TEXT, access_option TEXT NOT NULL, password TEXT,
    expires INTEGER, created TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS preview_blobs(node_id TEXT NOT NULL, kind TEXT NOT NULL,
    version TEXT NOT NULL, blob TEXT NOT NULL, mimetype TEXT NOT NULL,
    PRIMARY KEY(node_id, kind));
CREATE TABLE IF NOT EXISTS ai_chats(id TEXT PRIMARY KEY, workspace_id TEXT NOT NULL,
    name TEXT NOT NULL, privacy TEXT NOT NULL, kind TEXT NOT NULL, created TEXT NOT NULL,
    updated TEXT NOT NULL, deleted INTEGER NOT NULL DEFAULT 0);
CREATE TABLE IF NOT EXISTS ai_messages(id TEXT PRIMARY KEY, chat_id TEXT NOT NULL,
    seq INTEGER NOT NULL, question TEXT NOT NULL, scope TEXT NOT NULL, state TEXT NOT NULL,
    answer TEXT, terms TEXT, created TEXT NOT NULL, updated TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS ai_messages_chat ON ai_messages(chat_id, seq);
";

/// Columns added after the first release, as (table, column, declaration). Added when missing,
/// so a data dir made by an older emulator still opens (§11 "Sessions persist across restarts").
const ADDED_COLUMNS: &[(&str, &str, &str)] = &[
    // Preview states per type as a JSON object (§6.10), e.g. {"thumbnail":"ready"}.
    ("nodes", "previews", "TEXT"),
    // Version records (§6.9): what the version was called and who made it.
    ("versions", "name", "TEXT"),
    ("versions", "mimetype", "TEXT"),
    ("versions", "creator", "TEXT"),
    // AI indexing (§6.2 `ai`): state, the version it belongs to, the extractive summary.
    ("nodes", "ai_state", "TEXT"),
    ("nodes", "ai_version", "TEXT"),
    ("nodes", "ai_summary", "TEXT"),
];

/// Data fixes that are safe to run on every start. Older emulators left a trashed node under
/// its old parent with `deleted_from` set; a top-level trashed node now reads `parent = 'trash'`
/// (§6.5), its subtree keeps its parents and is flagged `deleted`.
const FIXUPS: &str = "
UPDATE nodes SET parent = 'trash'
    WHERE deleted = 1 AND deleted_from IS NOT NULL AND parent <> 'trash';
";

/// Adds every column of [`ADDED_COLUMNS`] that `c` does not have yet, then runs [`FIXUPS`].
fn migrate(c: &Connection) -> rusqlite::Result<()> {
    for (table, column, decl) in ADDED_COLUMNS {
        let present: bool = c.query_row(
            "SELECT count(*) FROM pragma_table_info(?1) WHERE name = ?2",
            (table, column),
            |r| r.get::<_, i64>(0).map(|n| n > 0),
        )?;
        if !present {
            c.execute_batch(&format!("ALTER TABLE {table} ADD COLUMN {column} {decl}"))?;
        }
    }
    c.execute_batch(FIXUPS)
}

/// A query for the store's thread: it gets the connection, or `None` once closed.
type Job = Box<dyn FnOnce(&mut Option<Connection>) + Send>;

/// The SQLite handle: a queue to the thread that owns the connection. Cloning it shares the
/// thread, which ends when the last clone is dropped.
#[derive(Clone)]
pub struct Store {
    jobs: mpsc::Sender<Job>,
}

/// Runs the queued jobs in order until every [`Store`] is gone.
fn serve(mut conn: Option<Connection>, jobs: mpsc::Receiver<Job>) {
    while let Ok(job) = jobs.recv() {
        job(&mut conn);
    }
}

impl Store {
    /// Opens (creating and seeding if new) `data_dir/emulator.sqlite`; returns the seeded
    /// workspace id.
    pub async fn open(data_dir: &Path, seed_name: &str) -> Result<(Self, String), EmulatorError> {
        let path = data_dir.join("emulator.sqlite");
        let seed_name = seed_name.to_owned();
        let conn = tokio::task::spawn_blocking(move || -> rusqlite::Result<Connection> {
            let conn = Connection::open(path)?;
            conn.execute_batch(SCHEMA)?;
            migrate(&conn)?;
            Ok(conn)
        })
        .await
        .map_err(|e| EmulatorError::Database(e.to_string()))?
        .map_err(|e| EmulatorError::Database(e.to_string()))?;
        let (jobs, queue) = mpsc::channel();
        std::thread::Builder::new()
            .name("emulator-sqlite".into())
            .spawn(move || serve(Some(conn), queue))
            .map_err(|e| EmulatorError::Database(e.to_string()))?;
        let store = Self { jobs };
        let ws = store
            .call(move |c| {
                let existing: Option<String> = c
                    .query_row("SELECT id FROM workspaces ORDER BY created LIMIT 1", [], |r| {
                        r.get(0)
                    })
                    .optional()?;
                if let Some(id) = existing {
                    return Ok(id);
                }
                let id = ids::profile_id();
                c.execute(
                    "INSERT INTO workspaces(id, name, folder_name, created) VALUES (?1, ?2, ?3, ?4)",
                    (&id, &seed_name, seed_name.to_lowercase(), ids::now()),
                )?;
                c.execute(
                    "INSERT OR IGNORE INTO meta(k, v) VALUES ('user_id', ?1)",
                    [ids::profile_id()],
                )?;
                Ok(id)
            })
            .await?;
        Ok((store, ws))
    }

    /// Runs `f` with the connection on the store's thread, after the queries sent before it. A
    /// panic in `f` fails this call only (an open transaction rolls back as it unwinds).
    pub async fn call<R, F>(&self, f: F) -> Result<R, ApiError>
    where
        R: Send + 'static,
        F: FnOnce(&mut Connection) -> Result<R, ApiError> + Send + 'static,
    {
        let (reply, answer) = oneshot::channel();
        let job: Job = Box::new(move |conn| {
            let result = match conn.as_mut() {
                Some(c) => std::panic::catch_unwind(AssertUnwindSafe(|| f(c)))
                    .unwrap_or_else(|_| Err(ApiError::Internal("a store query panicked".into()))),
                None => Err(closed()),
            };
            let _ = reply.send(result);
        });
        self.jobs.send(job).map_err(|_| closed())?;
        answer.await.map_err(|_| closed())?
    }

    /// Closes the connection once the queries already queued have run, and waits for that.
    pub fn close(&self) {
        let (done, closed) = mpsc::channel();
        let job: Job = Box::new(move |conn| {
            conn.take();
            let _ = done.send(());
        });
        if self.jobs.send(job).is_ok() {
            let _ = closed.recv();
        }
    }
}

fn closed() -> ApiError {
    ApiError::Internal("store closed".into())
}

/// The caller's user id (one user per emulator: the owner of the API key).
pub fn user_id(c: &Connection) -> Result<String, ApiError> {
    Ok(
        c.query_row("SELECT v FROM meta WHERE k = 'user_id'", [], |r| r.get(0))
            .optional()?
            .unwrap_or_else(|| "1000000000000000001".to_owned()),
    )
}

/// Where bytes live on disk.
#[derive(Debug, Clone)]
pub struct BlobDirs {
    root: PathBuf,
}

impl BlobDirs {
    /// Creates the directories and empties `tmp/` (half-written files from a previous run).
    pub fn create(data_dir: &Path) -> std::io::Result<Self> {
        let root = data_dir.to_path_buf();
        for d in ["blobs", "chunks", "tmp"] {
            std::fs::create_dir_all(root.join(d))?;
        }
        for entry in std::fs::read_dir(root.join("tmp"))? {
            let _ = std::fs::remove_file(entry?.path());
        }
        Ok(Self { root })
    }

    /// A fresh temp file path.
    pub fn tmp_path(&self) -> PathBuf {
        self.root.join("tmp").join(ids::opaque_id())
    }

    /// The directory holding a session's chunks.
    pub fn session_dir(&self, session: &str) -> PathBuf {
        self.root.join("chunks").join(session)
    }

    /// The file of one chunk.
    pub fn chunk_path(&self, session: &str, order: u64) -> PathBuf {
        self.session_dir(session).join(order.to_string())
    }

    /// A blob, assembled or derived (thumbnails).
    pub fn blob_path(&self, blob: &str) -> PathBuf {
        self.root.join("blobs").join(blob)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn queries_run_in_order_a_panic_fails_only_its_call_and_close_ends_the_rest() {
        let dir = tempfile::tempdir().expect("temp dir");
        let (store, ws) = Store::open(dir.path(), "General")
            .await
            .expect("store opens");
        let writes: Vec<_> = (0..50)
            .map(|i| {
                let store = store.clone();
                async move {
                    store
                        .call(move |c| {
                            c.execute(
                                "INSERT INTO meta(k, v) VALUES (?1, 'x')",
                                [format!("k{i}")],
                            )?;
                            Ok(())
                        })
                        .await
                }
            })
            .collect();
        for w in futures_util::future::join_all(writes).await {
            w.expect("insert");
        }
        let panicked = store
            .call(|_| -> Result<(), ApiError> { panic!("a query that panics") })
            .await;
        assert!(matches!(panicked, Err(ApiError::Internal(m)) if m.contains("panicked")));
        let count: i64 = store
            .call(|c| {
                Ok(
                    c.query_row("SELECT count(*) FROM meta WHERE k LIKE 'k%'", [], |r| {
                        r.get(0)
                    })?,
                )
            })
            .await
            .expect("count");
        assert_eq!(count, 50);
        let seeded = store
            .call(|c| Ok(c.query_row("SELECT id FROM workspaces", [], |r| r.get::<_, String>(0))?))
            .await
            .expect("seeded workspace");
        assert_eq!(seeded, ws);
        store.close();
        let after = store.call(|_| Ok(())).await;
        assert!(matches!(after, Err(ApiError::Internal(m)) if m.contains("closed")));
    }
}
