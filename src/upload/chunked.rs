//! The JS path (DESIGN §4 b): a browser or script sends one file as numbered chunks, in any
//! order and a few at once, then asks for it to be completed.
//!
//! Stateless on the gateway: at [`ChunkedUploads::create`] the Fast.io chunked session is opened
//! and a signed [`UploadClaims`] token binds it to one file, folder, size and chunk size, so any
//! replica sharing the secret checks any later request from the token alone. Each chunk is held
//! whole (it must be hashed before it goes upstream) under the gateway-wide in-flight budget,
//! admitted only if the budget has room right now — otherwise [`FileError::Busy`], so memory
//! never piles up behind slow uploads. [`ChunkedUploads::complete`] ends in the same
//! [`stored`](super::stored) wait-and-verify as the form path.

use std::time::Duration;

use bytes::Bytes;
use futures_util::Stream;
use serde::Serialize;

use super::budget::Budget;
use super::chunk_plan::{ChunkPlan, ChunkRefused, PARALLEL_CHUNKS, PlanError, collect_chunk};
use super::digest::Sha256Digest;
use super::error::FileError;
use super::names::sanitize_filename;
use super::rules::{AllowedTypes, SNIFF_LEN};
use super::stored::{self, Expected};
use super::token::{LinkClaims, TokenKey, UploadClaims};
use crate::fastio::{self, UploadStatus, UploadTarget};

/// How long a client is told to wait when the in-flight budget is full.
const BUDGET_RETRY_AFTER: Duration = Duration::from_secs(1);

/// The rules of the JS path, from the configuration.
#[derive(Clone, Debug)]
pub struct ChunkedRules {
    /// Preferred chunk size (clamped to Fast.io's limits).
    pub chunk_size: u64,
    /// Largest file, in bytes.
    pub max_file_size: u64,
    /// Allowed types, checked on the name at create and on chunk 1's first bytes.
    pub allowed: AllowedTypes,
    /// How long `complete` waits for Fast.io to store the file.
    pub store_timeout: Duration,
    /// How long an upload token stays valid.
    pub token_ttl: Duration,
}

/// The JS path's services; cheap to clone.
#[derive(Clone, Debug)]
pub struct ChunkedUploads {
    client: fastio::Client,
    budget: Budget,
    tokens: TokenKey,
    rules: ChunkedRules,
}

/// A file announced by the client.
#[derive(Clone, Debug)]
pub struct NewUpload {
    /// Workspace id (already checked as exposed by the caller).
    pub workspace: String,
    /// Folder id; `root` for the root.
    pub folder: String,
    /// The name the client sent (sanitised here).
    pub name: String,
    /// Declared size in bytes.
    pub size: u64,
    /// The file's path inside a dropped or picked folder (`photos/2024/a.jpg`): its folders are
    /// created under `folder` (or reused) and the file goes into the innermost one.
    pub relative_path: Option<String>,
    /// The upload-request link it is sent through, whose limits apply on top of the gateway's.
    pub link: Option<LinkUpload>,
}

/// A file announced through an upload-request link (its quota already reserved by the caller).
#[derive(Clone, Debug)]
pub struct LinkUpload {
    /// What the token will carry: link, submission, the link's types.
    pub claims: LinkClaims,
    /// The link's per-file limit, if it has one.
    pub max_file_size: Option<u64>,
}

/// What the client needs to send the chunks.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct Ticket {
    /// Upload id (the Fast.io session id).
    pub id: String,
    /// The signed capability to send with every later request.
    pub token: String,
    /// Bytes per chunk (the last may be shorter).
    pub chunk_size: u64,
    /// Number of chunks, numbered from 1.
    pub chunks: u32,
    /// Chunks to keep in flight at once.
    pub parallel: u32,
    /// The sanitised name the file will have.
    pub name: String,
    /// Workspace id.
    pub workspace: String,
    /// The folder it goes into (the innermost one of `relative_path`).
    pub folder: String,
    /// When the token expires (Unix seconds).
    pub expires: i64,
}

/// The gateway's own word for where an upload is; Fast.io's internal state names stay in
/// `fastio`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum UploadState {
    /// Chunks are still being received.
    Receiving,
    /// Every byte is in; Fast.io is assembling and storing the file.
    Assembling,
    /// Stored and ready.
    Stored,
    /// Fast.io could not assemble or store it.
    Failed,
    /// Cancelled.
    Cancelled,
}

impl UploadState {
    /// The gateway state of a Fast.io session status.
    pub fn of(status: &UploadStatus) -> Self {
        if status.is_stored() {
            Self::Stored
        } else if status.is_cancelled() {
            Self::Cancelled
        } else if status.is_failed() {
            Self::Failed
        } else if status.is_past_upload() {
            Self::Assembling
        } else {
            Self::Receiving
        }
    }

    /// The wire word.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Receiving => "receiving",
            Self::Assembling => "assembling",
            Self::Stored => "stored",
            Self::Failed => "failed",
            Self::Cancelled => "cancelled",
        }
    }
}

/// One chunk accepted and passed on.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct ChunkReceipt {
    /// Its number.
    pub n: u32,
    /// Its size in bytes.
    pub size: u64,
    /// Its SHA-256, lower-case hex.
    pub sha256: String,
}

/// Where an upload is, and which chunks Fast.io holds.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct Progress {
    /// Upload id.
    pub id: String,
    /// The gateway's state.
    pub state: UploadState,
    /// Chunk numbers Fast.io holds at their full planned length.
    pub received: Vec<u32>,
    /// Number of chunks.
    pub chunks: u32,
    /// Bytes per chunk.
    pub chunk_size: u64,
    /// Declared size.
    pub size: u64,
    /// File name.
    pub name: String,
    /// The stored node, once stored.
    pub node_id: Option<String>,
    /// Fast.io's reason, when failed.
    pub message: Option<String>,
}

/// A stored, verified upload: the answer to `complete`.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct StoredUpload {
    /// The stored node.
    pub node_id: String,
    /// Its name on Fast.io.
    pub name: String,
    /// Its size in bytes.
    pub size: u64,
    /// Fast.io's SHA-256 of the stored file.
    pub sha256: Option<String>,
    /// Workspace id.
    pub workspace: String,
    /// Folder id.
    pub folder: String,
}

impl ChunkedUploads {
    /// The JS path over `client`, holding chunks under `budget`, signing with `tokens`.
    pub fn new(
        client: fastio::Client,
        budget: Budget,
        tokens: TokenKey,
        rules: ChunkedRules,
    ) -> Self {
        Self {
            client,
            budget,
            tokens,
            rules,
        }
    }

    /// Checks the file against the limits, picks the chunk plan, creates its folders and the
    /// Fast.io session, and signs the ticket.
    pub async fn create(&self, req: NewUpload) -> Result<Ticket, FileError> {
        let name = sanitize_filename(&req.name);
        let link = req.link.as_ref();
        let max_file_size = link
            .and_then(|l| l.max_file_size)
            .map_or(self.rules.max_file_size, |m| {
                m.min(self.rules.max_file_size)
            });
        if req.size > max_file_size {
            return Err(FileError::TooLarge {
                limit: max_file_size,
            });
        }
        self.allowed(link.map(|l| &l.claims)).check_name(&name)?;
        let limits = self.client.upload_limits().await?;
        if req.size > limits.size {
            return Err(FileError::TooLarge { limit: limits.size });
        }
        let plan = ChunkPlan::choose(
            req.size,
            self.rules.chunk_size,
            limits.chunk_size,
            limits.chunks,
        )
        .map_err(|e| match e {
            PlanError::TooManyChunks { .. } => FileError::TooLarge {
                limit: limits.size.min(self.rules.max_file_size),
            },
            empty => FileError::Plan(empty),
        })?;
        let folder = self
            .nested_folder(&req.workspace, req.folder, req.relative_path.as_deref())
            .await?;
        let target = UploadTarget {
            workspace: req.workspace,
            folder,
        };
        let id = self
            .client
            .create_chunked_upload(&target, &name, req.size, None)
            .await?;
        let ttl = i64::try_from(self.rules.token_ttl.as_secs()).unwrap_or(i64::MAX / 2);
        let claims = UploadClaims {
            session: id.clone(),
            workspace: target.workspace,
            folder: target.folder,
            name,
            size: req.size,
            chunk_size: plan.chunk_size,
            expires: chrono::Utc::now().timestamp().saturating_add(ttl),
            link: req.link.map(|l| l.claims),
        };
        Ok(Ticket {
            token: self.tokens.sign(&claims),
            id,
            chunk_size: plan.chunk_size,
            chunks: plan.chunks,
            parallel: PARALLEL_CHUNKS,
            name: claims.name,
            workspace: claims.workspace,
            folder: claims.folder,
            expires: claims.expires,
        })
    }

    /// The gateway's allowed types, narrowed by a link's.
    fn allowed(&self, link: Option<&LinkClaims>) -> AllowedTypes {
        let narrowed = link
            .and_then(|l| l.types.as_deref())
            .and_then(|t| t.parse::<AllowedTypes>().ok());
        match narrowed {
            Some(types) => self.rules.allowed.clone().and(types),
            None => self.rules.allowed.clone(),
        }
    }

    /// Creates (or finds: `create_folder` is idempotent) each folder of `relative_path` but its
    /// last segment (the file itself) under `base`, returning the innermost folder's id.
    async fn nested_folder(
        &self,
        workspace: &str,
        base: String,
        relative_path: Option<&str>,
    ) -> Result<String, FileError> {
        let Some(path) = relative_path else {
            return Ok(base);
        };
        let segments: Vec<&str> = path.split(['/', '\\']).filter(|s| !s.is_empty()).collect();
        let folders = segments.split_last().map_or(&[][..], |(_, dirs)| dirs);
        if folders.iter().any(|s| matches!(s.trim(), "." | "..")) {
            return Err(FileError::BadPath(
                "relative_path may not contain . or .. segments".to_owned(),
            ));
        }
        let mut parent = base;
        for segment in folders {
            let name = sanitize_filename(segment);
            parent = self
                .client
                .create_folder(workspace, &parent, &name)
                .await?
                .id;
        }
        Ok(parent)
    }

    /// Checks a request's token for upload `id`.
    pub fn claims(&self, token: &str, id: &str) -> Result<UploadClaims, super::token::TokenError> {
        self.tokens.verify_now(token, id)
    }

    /// Receives chunk `n` of the upload `claims` describes: its announced length and claimed
    /// digest checked against the plan, admitted under the budget, read and hashed, chunk 1's
    /// leading bytes type-checked (a refused type cancels the session), then sent upstream.
    pub async fn put_chunk<S, E>(
        &self,
        claims: &UploadClaims,
        n: u32,
        announced: Option<u64>,
        content_digest: Option<&str>,
        body: S,
    ) -> Result<ChunkReceipt, FileError>
    where
        S: Stream<Item = Result<Bytes, E>>,
        E: std::fmt::Display,
    {
        let plan = ChunkPlan::new(claims.size, claims.chunk_size);
        let expected = plan.check_length(n, announced)?;
        let claimed = match content_digest {
            None => None,
            Some(value) => Some(
                Sha256Digest::from_content_digest(value).ok_or(ChunkRefused::BadDigestHeader)?,
            ),
        };
        let permit = self.budget.try_acquire(expected).ok_or(FileError::Busy {
            retry_after: BUDGET_RETRY_AFTER,
        })?;
        let buffer = self
            .budget
            .buffer(usize::try_from(expected).unwrap_or(usize::MAX));
        let chunk = collect_chunk(body, n, expected, claimed, buffer).await?;
        if n == 1 {
            let head = &chunk.bytes[..chunk.bytes.len().min(SNIFF_LEN)];
            if let Err(rejected) = self.allowed(claims.link.as_ref()).check(&claims.name, head) {
                // The file can never be accepted: drop its session so nothing is left behind.
                if let Err(error) = self.client.cancel_upload(&claims.session).await {
                    tracing::warn!(%error, "could not cancel a refused upload session");
                }
                return Err(rejected.into());
            }
        }
        let sha256 = chunk.sha256.to_hex();
        // The permit goes with the bytes: released (and the buffer kept for the next chunk)
        // when the upstream request has dropped its last reference.
        let bytes = self.budget.freeze(chunk.bytes, permit);
        self.client
            .upload_chunk(&claims.session, n, bytes, &sha256)
            .await?;
        Ok(ChunkReceipt {
            n,
            size: expected,
            sha256,
        })
    }

    /// Where the upload is, and which chunks Fast.io holds at their planned length.
    pub async fn progress(&self, claims: &UploadClaims) -> Result<Progress, FileError> {
        let plan = ChunkPlan::new(claims.size, claims.chunk_size);
        let session = self.client.upload_details(&claims.session, None).await?;
        let received = session
            .chunks
            .iter()
            .filter(|(n, bytes)| plan.expected_len(**n).is_ok_and(|len| len == **bytes))
            .map(|(n, _)| *n)
            .collect();
        Ok(Progress {
            id: claims.session.clone(),
            state: UploadState::of(&session.status),
            received,
            chunks: plan.chunks,
            chunk_size: plan.chunk_size,
            size: plan.size,
            name: claims.name.clone(),
            node_id: session.new_file_id,
            message: session.status_message,
        })
    }

    /// Every chunk present → assembly triggered → long-polled until stored → verified. Safe to
    /// repeat: a session already assembling or stored is only waited for.
    pub async fn complete(&self, claims: &UploadClaims) -> Result<StoredUpload, FileError> {
        let plan = ChunkPlan::new(claims.size, claims.chunk_size);
        let id = &claims.session;
        let session = self.client.upload_details(id, None).await?;
        let state = UploadState::of(&session.status);
        if matches!(state, UploadState::Failed | UploadState::Cancelled) {
            return Err(FileError::Ended {
                state: state.as_str(),
                message: session.status_message.unwrap_or_default(),
            });
        }
        if state == UploadState::Receiving {
            let missing: Vec<u32> = (1..=plan.chunks)
                .filter(|n| session.chunks.get(n) != plan.expected_len(*n).ok().as_ref())
                .collect();
            if let Some(&first) = missing.first() {
                return Err(FileError::Incomplete {
                    missing: missing.len(),
                    chunks: plan.chunks,
                    first,
                });
            }
            self.client.complete_upload(id).await?;
        }
        // A session already stored names its node: no need to ask again.
        let known = session.new_file_id.filter(|_| state == UploadState::Stored);
        let node = match known {
            Some(node) => node,
            None => stored::wait_for_node(&self.client, id, self.rules.store_timeout).await?,
        };
        let expected = Expected {
            size: claims.size,
            sha256: None,
        };
        let stored = stored::verify(&self.client, &claims.workspace, node, expected).await?;
        Ok(StoredUpload {
            node_id: stored.node,
            name: stored.name,
            size: stored.size,
            sha256: stored.sha256,
            workspace: claims.workspace.clone(),
            folder: claims.folder.clone(),
        })
    }

    /// Cancels the upload; Fast.io drops its chunks. Safe to repeat.
    pub async fn cancel(&self, claims: &UploadClaims) -> Result<UploadState, FileError> {
        self.client.cancel_upload(&claims.session).await?;
        Ok(UploadState::Cancelled)
    }
}
