-- One-chunk files of the JSON upload API: no Fast.io session exists until their only chunk
-- arrives, and then it goes up in one single call that stores itself, so how the upload ended
-- is kept here, for `complete`, the status and `DELETE` on any replica, until its upload token
-- expires (`expires_at`, epoch milliseconds; expired rows are pruned).
-- `state` is `stored` (with the verified node, its stored name and SHA-256) or `cancelled`.

CREATE TABLE one_call_uploads (
    id TEXT PRIMARY KEY,
    state TEXT NOT NULL CHECK (state IN ('stored', 'cancelled')),
    node TEXT,
    name TEXT,
    sha256 TEXT,
    expires_at BIGINT NOT NULL
);
CREATE INDEX one_call_uploads_expiry ON one_call_uploads(expires_at);
