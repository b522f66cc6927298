-- One-call uploads (0003) also record the chunk being stored: a chunk PUT claims the upload
-- (`storing`, with `claimed_at` and the chunk's SHA-256) before its single call, so a second PUT
-- of the same chunk, on any replica, waits for that call instead of storing the file twice; the
-- PUT answers once the chunk is checked and `complete` waits for the outcome. A call that fails
-- leaves `failed` with its `message`, and the chunk may be sent again. A claim older than the
-- store timeout (its replica stopped) may be taken over.
-- SQLite cannot change a CHECK in place: the table is rebuilt (its rows live minutes).

CREATE TABLE one_call_uploads_new (
    id TEXT PRIMARY KEY,
    state TEXT NOT NULL CHECK (state IN ('storing', 'stored', 'failed', 'cancelled')),
    node TEXT,
    name TEXT,
    sha256 TEXT,
    message TEXT,
    claimed_at BIGINT,
    expires_at BIGINT NOT NULL
);
INSERT INTO one_call_uploads_new (id, state, node, name, sha256, expires_at)
    SELECT id, state, node, name, sha256, expires_at FROM one_call_uploads;
DROP TABLE one_call_uploads;
ALTER TABLE one_call_uploads_new RENAME TO one_call_uploads;
CREATE INDEX one_call_uploads_expiry ON one_call_uploads(expires_at);
