-- One-call uploads (0003) also record the chunk being stored: a chunk PUT claims the upload
-- (`storing`, with `claimed_at` and the chunk's SHA-256) before its single call, so a second PUT
-- of the same chunk, on any replica, waits for that call instead of storing the file twice; the
-- PUT answers once the chunk is checked and `complete` waits for the outcome. A call that fails
-- leaves `failed` with its `message`, and the chunk may be sent again. A claim older than the
-- store timeout (its replica stopped) may be taken over.

ALTER TABLE one_call_uploads DROP CONSTRAINT one_call_uploads_state_check;
ALTER TABLE one_call_uploads ADD CONSTRAINT one_call_uploads_state_check
    CHECK (state IN ('storing', 'stored', 'failed', 'cancelled'));
ALTER TABLE one_call_uploads ADD COLUMN message TEXT;
ALTER TABLE one_call_uploads ADD COLUMN claimed_at BIGINT;
