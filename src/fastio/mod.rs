//! The typed Fast.io client: the only code in fastgate that knows Fast.io's wire format
//! (`/work/shared/fastio-api.md`).
//!
//! Data flow: `web` and `upload` call typed methods on [`Client`] (ids, names, `Bytes`, byte
//! streams) → the method builds a path that starts and ends with `/`, a form-urlencoded body,
//! a multipart part `chunk`, or a raw stream → `client.rs` adds the Bearer key, sends through
//! reqwest and retries as the operation allows (`retry.rs`, with 429 waits from `ratelimit.rs`)
//! → `envelope.rs` decodes the reply and maps every failure to the one [`Error`] enum → `de.rs`
//! and `types.rs` turn the tolerant JSON into typed records.
//!
//! What it owns: the API key (held in a `SecretString`, sent only as a sensitive header, never
//! to a redirect target, never logged), the retry and no-replay rules, the upload session
//! protocol (single call, chunked, stream, long-poll), file management (`files.rs` rename, move,
//! copy, trash; `versions.rs`; `search.rs`; `preview.rs` previews and image transforms), AI chat
//! (`ai.rs`) and the activity long-poll that waits for it (`activity.rs`), and
//! the tracing span of every call
//! (`endpoint`, `attempt`, `status`; never ids with tokens, never the key).

mod activity;
mod ai;
mod client;
mod de;
mod envelope;
mod error;
mod files;
mod preview;
mod ratelimit;
mod retry;
mod search;
mod session;
mod storage;
mod stream;
mod types;
mod upload;
mod versions;
mod workspace;

pub use activity::MAX_ACTIVITY_WAIT;
pub use ai::CONVERSATION_TOO_LARGE_CODES;
pub use client::{Client, ClientConfig, DEFAULT_BASE_URL};
pub use error::{AiRefusal, Error};
pub use ratelimit::DEFAULT_RATE_LIMIT_WAIT;
pub use retry::RetryPolicy;
pub use session::{UploadSession, UploadStatus};
pub use types::{
    Activity, AiChat, AiIndexState, AiMessage, AiRef, AiScope, AskReceipt, ByteStream,
    CancelOutcome, Citation, CitationEntry, Crop, Download, Expiry, FileShare, FileShareParams,
    FolderPage, ListQuery, ListedNode, MAX_QUESTION_CHARS, MessageState, Node, NodeAi, NodeType,
    OutputFormat, PageSize, PreviewState, PreviewType, Previews, SearchHit, SearchPage,
    SearchQuery, ShareAccess, SharedFile, SingleUpload, SizePreset, SortBy, SortDir, TokenUrl,
    TransformParams, UploadLimits, UploadTarget, Version, Workspace,
};
pub use upload::{
    BATCH_MAX_BYTES, BATCH_MAX_FILES, BatchFile, BatchOutcome, MAX_LONG_POLL, SINGLE_CALL_MAX_BYTES,
};
