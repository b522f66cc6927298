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
//!
//! A file that fits one chunk and one single call (≤ 4 MiB) is a **one-call upload**
//! ([`super::one_call`]): create opens no session; the only chunk, checked as any other, claims
//! the upload in the shared database and the PUT answers, while one single call that stores
//! itself runs in the background and is verified; `complete` (and the status and `DELETE`)
//! wait for the recorded outcome on any replica. A second PUT of the chunk joins the claim
//! instead of storing the file twice. One request of the `/upload/` rate-limit bucket per file
//! instead of five or more, and a client is free to send its next files while Fast.io stores
//! this one. The upload limits are read once and kept for [`LIMITS_TTL`], not read per create.

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures_util::{Stream, StreamExt as _};
use serde::Serialize;

use super::budget::{Budget, BudgetPermit};
use super::chunk_plan::{
    ChunkPlan, ChunkRefused, PARALLEL_CHUNKS, PlanError, collect_chunk, verify_while_streaming,
};
use super::digest::Sha256Digest;
use super::error::FileError;
use super::names::sanitize_filename;
use super::one_call::{Claim, OneCallRecords, Outcome};
use super::rules::{AllowedTypes, SNIFF_LEN};
use super::stored::{self, Expected};
use super::token::{LinkClaims, TokenKey, UploadClaims};
use crate::fastio::{self, SINGLE_CALL_MAX_BYTES, UploadLimits, UploadStatus, UploadTarget};

/// What a one-call claim may last beyond the store timeout: the single call's own sending and
/// the check of the stored node.
const CLAIM_MARGIN: Duration = Duration::from_secs(120);

/// How long a client is told to wait when the in-flight budget is full.
const BUDGET_RETRY_AFTER: Duration = Duration::from_secs(1);

/// How long the plan's upload limits are trusted before they are read again: they change with
/// the plan, rarely, and Fast.io checks every upload against them anyway.
pub const LIMITS_TTL: Duration = Duration::from_secs(300);

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
    records: OneCallRecords,
    limits: Arc<parking_lot::Mutex<Option<(Instant, UploadLimits)>>>,
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
    /// The JS path over `client`, holding chunks under `budget`, signing with `tokens`,
    /// recording one-call uploads in `records`.
    pub fn new(
        client: fastio::Client,
        budget: Budget,
        tokens: TokenKey,
        rules: ChunkedRules,
        records: OneCallRecords,
    ) -> Self {
        Self {
            client,
            budget,
            tokens,
            rules,
            records,
            limits: Arc::default(),
        }
    }

    /// The plan's upload limits, read at most once per [`LIMITS_TTL`].
    async fn upload_limits(&self) -> Result<UploadLimits, FileError> {
        if let Some((read, limits)) = *self.limits.lock()
            && read.elapsed() < LIMITS_TTL
        {
            return Ok(limits);
        }
        let limits = self.client.upload_limits().await?;
        *self.limits.lock() = Some((Instant::now(), limits));
        Ok(limits)
    }

    /// Checks the file against the limits, picks the chunk plan, creates its folders and the
    /// Fast.io session (none for a one-call upload: its id is the gateway's), and signs the
    /// ticket.
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
        let limits = self.upload_limits().await?;
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
        let one_call = plan.chunks == 1 && req.size <= SINGLE_CALL_MAX_BYTES;
        let id = if one_call {
            one_call_id()
        } else {
            self.client
                .create_chunked_upload(&target, &name, req.size, None)
                .await?
        };
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
            one_call,
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
    /// digest checked against the plan, admitted under the budget, chunk 1's leading bytes
    /// type-checked (a refused type cancels the session), then sent upstream. A chunk of a
    /// chunked session with a `Content-Digest` is passed on as it arrives and checked on the
    /// way ([`verify_while_streaming`]); one without, and a one-call upload's (sent in the
    /// background, possibly twice), is read and hashed whole first.
    pub async fn put_chunk<S, E>(
        &self,
        claims: &UploadClaims,
        n: u32,
        announced: Option<u64>,
        content_digest: Option<&str>,
        body: S,
    ) -> Result<ChunkReceipt, FileError>
    where
        S: Stream<Item = Result<Bytes, E>> + Send + 'static,
        E: std::fmt::Display + Send + 'static,
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
        if let Some(claimed) = claimed.filter(|_| !claims.one_call) {
            return self
                .stream_chunk(claims, n, expected, claimed, body, permit)
                .await;
        }
        let buffer = self
            .budget
            .buffer(usize::try_from(expected).unwrap_or(usize::MAX));
        let chunk = collect_chunk(body, n, expected, claimed, buffer).await?;
        if n == 1 {
            let head = &chunk.bytes[..chunk.bytes.len().min(SNIFF_LEN)];
            self.check_first_bytes(claims, head).await?;
        }
        let sha256 = chunk.sha256.to_hex();
        // The permit goes with the bytes: released (and the buffer kept for the next chunk)
        // when the upstream request has dropped its last reference.
        let bytes = self.budget.freeze(chunk.bytes, permit);
        if claims.one_call {
            self.start_one_call(claims, bytes, &sha256).await?;
            return Ok(ChunkReceipt {
                n,
                size: expected,
                sha256,
            });
        }
        self.client
            .upload_chunk(&claims.session, n, bytes, &sha256)
            .await?;
        Ok(ChunkReceipt {
            n,
            size: expected,
            sha256,
        })
    }

    /// Chunk `n` passed upstream as it arrives, checked on the way; chunk 1's first
    /// [`SNIFF_LEN`] bytes are read (and type-checked) before anything goes upstream.
    async fn stream_chunk<S, E>(
        &self,
        claims: &UploadClaims,
        n: u32,
        expected: u64,
        claimed: Sha256Digest,
        body: S,
        permit: BudgetPermit,
    ) -> Result<ChunkReceipt, FileError>
    where
        S: Stream<Item = Result<Bytes, E>> + Send + 'static,
        E: std::fmt::Display + Send + 'static,
    {
        let mut body = Box::pin(body);
        let mut head = Vec::new();
        if n == 1 {
            let want = usize::try_from(expected)
                .unwrap_or(usize::MAX)
                .min(SNIFF_LEN);
            let mut sniff = Vec::with_capacity(want);
            while sniff.len() < want {
                match body.next().await {
                    Some(Ok(piece)) => {
                        let take = piece.len().min(want - sniff.len());
                        sniff.extend_from_slice(&piece[..take]);
                        head.push(piece);
                    }
                    Some(Err(e)) => return Err(ChunkRefused::Interrupted(e.to_string()).into()),
                    None => break,
                }
            }
            self.check_first_bytes(claims, &sniff).await?;
        }
        let (verified, refusal) = verify_while_streaming(head, body, n, expected, claimed, permit);
        let sha256 = claimed.to_hex();
        let sent = self
            .client
            .upload_chunk_stream(&claims.session, n, expected, verified, &sha256)
            .await;
        if let Some(refused) = refusal.lock().take() {
            return Err(refused.into());
        }
        sent?;
        Ok(ChunkReceipt {
            n,
            size: expected,
            sha256,
        })
    }

    /// Chunk 1's leading bytes against the allowed types: a refused file can never be
    /// accepted, so its session is cancelled and nothing is left behind (a one-call upload has
    /// none yet).
    async fn check_first_bytes(&self, claims: &UploadClaims, head: &[u8]) -> Result<(), FileError> {
        let Err(rejected) = self.allowed(claims.link.as_ref()).check(&claims.name, head) else {
            return Ok(());
        };
        if !claims.one_call
            && let Err(error) = self.client.cancel_upload(&claims.session).await
        {
            tracing::warn!(%error, "could not cancel a refused upload session");
        }
        Err(rejected.into())
    }

    /// Where the upload is, and which chunks Fast.io holds at their planned length.
    pub async fn progress(&self, claims: &UploadClaims) -> Result<Progress, FileError> {
        let plan = ChunkPlan::new(claims.size, claims.chunk_size);
        if claims.one_call {
            let outcome = self.records.get(&claims.session).await?;
            let (state, node_id, message) = match outcome {
                None => (UploadState::Receiving, None, None),
                Some(Outcome::Storing { .. }) => (UploadState::Assembling, None, None),
                Some(Outcome::Stored { node, .. }) => (UploadState::Stored, Some(node), None),
                Some(Outcome::Failed { message }) => (UploadState::Failed, None, Some(message)),
                Some(Outcome::Cancelled) => (UploadState::Cancelled, None, None),
            };
            let held = matches!(state, UploadState::Assembling | UploadState::Stored);
            return Ok(Progress {
                id: claims.session.clone(),
                state,
                received: if held { vec![1] } else { vec![] },
                chunks: plan.chunks,
                chunk_size: plan.chunk_size,
                size: plan.size,
                name: claims.name.clone(),
                node_id,
                message,
            });
        }
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
        if claims.one_call {
            let lifetime = self.claim_lifetime();
            return match self.records.wait(&claims.session, lifetime).await? {
                Some(Outcome::Stored { node, name, sha256 }) => Ok(StoredUpload {
                    node_id: node,
                    name,
                    size: claims.size,
                    sha256,
                    workspace: claims.workspace.clone(),
                    folder: claims.folder.clone(),
                }),
                Some(Outcome::Cancelled) => Err(cancelled_before_stored()),
                Some(Outcome::Failed { message }) => Err(FileError::Ended {
                    state: UploadState::Failed.as_str(),
                    message: format!("{message}; send the chunk again"),
                }),
                Some(Outcome::Storing { .. }) => Err(claim_lapsed()),
                None => Err(FileError::Incomplete {
                    missing: 1,
                    chunks: 1,
                    first: 1,
                }),
            };
        }
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

    /// Cancels the upload; Fast.io drops its chunks. Safe to repeat. A one-call upload is
    /// recorded cancelled, so its chunk is refused from then on; once stored it is too late
    /// ([`FileError::AlreadyStored`]).
    pub async fn cancel(&self, claims: &UploadClaims) -> Result<UploadState, FileError> {
        if claims.one_call {
            let (id, lifetime) = (&claims.session, self.claim_lifetime());
            let mut outcome = self.records.cancel(id, claims.expires, lifetime).await?;
            if let Outcome::Storing { .. } = outcome {
                // Too late to stop the single call: how it ends decides.
                if let Some(ended) = self.records.wait(id, lifetime).await? {
                    outcome = ended;
                }
                if !matches!(outcome, Outcome::Stored { .. }) {
                    outcome = self.records.cancel(id, claims.expires, lifetime).await?;
                }
            }
            return match outcome {
                Outcome::Stored { .. } => Err(FileError::AlreadyStored),
                Outcome::Storing { .. } => Err(claim_lapsed()),
                Outcome::Failed { .. } | Outcome::Cancelled => Ok(UploadState::Cancelled),
            };
        }
        self.client.cancel_upload(&claims.session).await?;
        Ok(UploadState::Cancelled)
    }

    /// How long a one-call claim may last: the single call, the wait for the node and the check.
    /// A claim older than this belongs to a replica that stopped, and may be taken over.
    fn claim_lifetime(&self) -> Duration {
        self.rules.store_timeout + CLAIM_MARGIN
    }

    /// The only chunk of a one-call upload, already checked: claims the upload and, unless it
    /// is cancelled, stored or being stored already (by a retry of this PUT, on any replica),
    /// sends it in the background. The PUT answers now; `complete` waits for the outcome.
    async fn start_one_call(
        &self,
        claims: &UploadClaims,
        bytes: Bytes,
        sha256: &str,
    ) -> Result<(), FileError> {
        let id = &claims.session;
        let claim = self
            .records
            .claim(id, claims.expires, sha256, self.claim_lifetime());
        let held = match claim.await? {
            Claim::Granted => self.records.hold(id),
            Claim::Held(Outcome::Cancelled) => return Err(cancelled_before_stored()),
            // Sent again (a retry after a lost answer): nothing to resend. Other bytes may not
            // replace the file through the same token.
            Claim::Held(Outcome::Storing { sha256: sent, .. })
            | Claim::Held(Outcome::Stored {
                sha256: Some(sent), ..
            }) if sent.eq_ignore_ascii_case(sha256) => return Ok(()),
            Claim::Held(_) => return Err(ChunkRefused::AlreadyStored.into()),
        };
        // Detached, so the outcome is recorded even when the client goes away.
        let this = self.clone();
        let claims = claims.clone();
        let sha256 = sha256.to_owned();
        tokio::spawn(async move {
            let _held = held;
            let id = &claims.session;
            let recorded = match this.send_one_call(&claims, bytes, sha256).await {
                Ok(()) => Ok(()),
                Err(error) => {
                    tracing::warn!(upload = %id, %error, "a one-call upload failed");
                    this.records.failed(id, &error.to_string()).await
                }
            };
            if let Err(error) = recorded {
                tracing::error!(upload = %id, %error, "could not record how a one-call upload ended");
            }
        });
        Ok(())
    }

    /// The single call of a claimed one-call upload (Fast.io stores it by itself), a wait only
    /// if Fast.io does not name the node yet, the stored node checked against the chunk's
    /// SHA-256, and the outcome recorded for `complete`.
    async fn send_one_call(
        &self,
        claims: &UploadClaims,
        bytes: Bytes,
        sha256: String,
    ) -> Result<(), FileError> {
        let target = UploadTarget {
            workspace: claims.workspace.clone(),
            folder: claims.folder.clone(),
        };
        let single = self
            .client
            .upload_single_hashed(&target, &claims.name, bytes, sha256.clone())
            .await?;
        let node = match single.new_file_id {
            Some(node) => node,
            None => {
                stored::wait_for_node(&self.client, &single.upload_id, self.rules.store_timeout)
                    .await?
            }
        };
        let expected = Expected {
            size: claims.size,
            sha256: Some(&sha256),
        };
        let stored = stored::verify(&self.client, &claims.workspace, node, expected).await?;
        self.records
            .stored(
                &claims.session,
                claims.expires,
                &stored.node,
                &stored.name,
                stored.sha256.as_deref(),
            )
            .await?;
        Ok(())
    }
}

/// How a one-call upload whose claim outlived its lifetime (the replica storing it stopped)
/// answers: the chunk may be sent again.
fn claim_lapsed() -> FileError {
    FileError::Ended {
        state: UploadState::Failed.as_str(),
        message: "its chunk was not stored in time; send the chunk again".to_owned(),
    }
}

/// How a one-call upload cancelled before its chunk was stored answers.
fn cancelled_before_stored() -> FileError {
    FileError::Ended {
        state: UploadState::Cancelled.as_str(),
        message: "cancelled before its chunk was stored".to_owned(),
    }
}

/// A fresh id for a one-call upload: 30 characters of `[a-z0-9]`, like Fast.io's own.
fn one_call_id() -> String {
    use rand::RngExt as _;
    const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
    let mut rng = rand::rng();
    (0..30)
        .map(|_| char::from(ALPHABET[rng.random_range(0..ALPHABET.len())]))
        .collect()
}
