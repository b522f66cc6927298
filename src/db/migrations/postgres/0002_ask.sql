-- Ask your files: which fastgate caller started each Fast.io AI chat, and the questions asked
-- in it. Every upstream call uses the one API key, so Fast.io cannot tell fastgate's users
-- apart; this table is what keeps one user's chats from another (and what lists the thread).
-- `owner` is `user:<id>` (a token acts for its owner), `proxy:<name>` or `open`.
-- `mode` says what the question was over: `workspace`, `references` or `attachments`.

CREATE TABLE ask_chats (
    workspace TEXT NOT NULL,
    chat TEXT NOT NULL,
    owner TEXT NOT NULL,
    title TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (workspace, chat)
);
CREATE INDEX ask_chats_owner ON ask_chats(owner, workspace, created_at);

CREATE TABLE ask_messages (
    workspace TEXT NOT NULL,
    chat TEXT NOT NULL,
    message TEXT NOT NULL,
    seq BIGINT NOT NULL,
    question TEXT NOT NULL,
    mode TEXT NOT NULL CHECK (mode IN ('workspace', 'references', 'attachments')),
    created_at BIGINT NOT NULL,
    PRIMARY KEY (workspace, chat, message),
    FOREIGN KEY (workspace, chat) REFERENCES ask_chats(workspace, chat) ON DELETE CASCADE
);
