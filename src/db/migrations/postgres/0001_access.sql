-- Access control: users and their grants, sessions, API tokens, sign-in throttle, first-run
-- setup tokens, upload-request links with their submissions, and the audit log.
-- Times are epoch milliseconds; secrets are stored only as SHA-256 hex.

CREATE TABLE users (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    username TEXT NOT NULL UNIQUE,
    password_hash TEXT NOT NULL,
    disabled BIGINT NOT NULL DEFAULT 0,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);

CREATE TABLE grants (
    user_id BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    workspace TEXT NOT NULL,
    role TEXT NOT NULL CHECK (role IN ('viewer', 'uploader', 'editor', 'admin')),
    PRIMARY KEY (user_id, workspace)
);
CREATE INDEX grants_role ON grants(role);

CREATE TABLE sessions (
    id_hash TEXT PRIMARY KEY,
    user_id BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    created_at BIGINT NOT NULL,
    last_seen_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    ip TEXT,
    user_agent TEXT
);
CREATE INDEX sessions_user ON sessions(user_id);

CREATE TABLE api_tokens (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    token_hash TEXT NOT NULL UNIQUE,
    user_id BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    role TEXT NOT NULL CHECK (role IN ('viewer', 'uploader', 'editor', 'admin')),
    workspace TEXT,
    created_at BIGINT NOT NULL,
    expires_at BIGINT,
    last_used_at BIGINT,
    revoked_at BIGINT
);
CREATE INDEX api_tokens_user ON api_tokens(user_id);

CREATE TABLE auth_failures (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    scope TEXT NOT NULL,
    at BIGINT NOT NULL
);
CREATE INDEX auth_failures_scope_at ON auth_failures(scope, at);
CREATE INDEX auth_failures_at ON auth_failures(at);

CREATE TABLE setup_tokens (
    token_hash TEXT PRIMARY KEY,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);
-- One row, locked by every setup attempt so two replicas cannot both create the first admin.
CREATE TABLE setup_state (
    id BIGINT PRIMARY KEY CHECK (id = 1),
    attempts BIGINT NOT NULL
);
INSERT INTO setup_state (id, attempts) VALUES (1, 0);

CREATE TABLE upload_links (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    token_hash TEXT NOT NULL UNIQUE,
    workspace TEXT NOT NULL,
    folder TEXT NOT NULL,
    label TEXT NOT NULL,
    password_hash TEXT,
    max_files BIGINT,
    max_bytes BIGINT,
    max_file_size BIGINT,
    allowed_types TEXT,
    max_uses BIGINT,
    uses BIGINT NOT NULL DEFAULT 0,
    subfolder_per_submission BIGINT NOT NULL DEFAULT 0,
    notify_url TEXT,
    created_by TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    revoked_at BIGINT
);
CREATE INDEX upload_links_workspace ON upload_links(workspace);

CREATE TABLE link_submissions (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    link_id BIGINT NOT NULL REFERENCES upload_links(id) ON DELETE CASCADE,
    uploader TEXT,
    ip TEXT,
    started_at BIGINT NOT NULL,
    files BIGINT NOT NULL DEFAULT 0,
    bytes BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX link_submissions_link ON link_submissions(link_id);

CREATE TABLE link_files (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    submission_id BIGINT NOT NULL REFERENCES link_submissions(id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    size BIGINT NOT NULL,
    sha256 TEXT NOT NULL,
    node TEXT NOT NULL,
    stored_at BIGINT NOT NULL
);
CREATE INDEX link_files_submission ON link_files(submission_id);

CREATE TABLE audit_log (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at BIGINT NOT NULL,
    actor_kind TEXT NOT NULL,
    actor_name TEXT,
    action TEXT NOT NULL,
    workspace TEXT,
    target TEXT,
    size BIGINT,
    sha256 TEXT,
    request_id TEXT,
    ip TEXT,
    detail TEXT
);
CREATE INDEX audit_log_at ON audit_log(at);
CREATE INDEX audit_log_action ON audit_log(action, id);
