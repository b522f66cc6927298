//! The upload pipeline of the form path (DESIGN §4a): one file's byte stream in, a verified
//! receipt out, nothing half-written left behind on any failure.
//!
//! For each file: the name is sanitised ([`names`](super::names)); the [`chunker`] cuts the
//! stream into parts of at most [`SINGLE_CALL_MAX_BYTES`] under the global [`Budget`], so the
//! first part shows whether the file ends within one Fast.io single call; the type is checked
//! on the first bytes ([`rules`](super::rules)) before anything goes upstream. A one-part file is
//! handed back as a [`Buffered`] upload the caller may run concurrently with reading the next
//! file (multipart parts arrive in order; their uploads need not). A longer file feeds a Fast.io
//! stream session from the bounded part channel while it is being read. Either way the session
//! is long-polled until `stored` and the stored node's size and hash are compared with what was
//! read. A [`SessionGuard`] cancels the session on every failure, including a dropped future.

use std::time::Duration;

use bytes::Bytes;
use futures_util::Stream;
use tokio::sync::mpsc;

use super::budget::Budget;
use super::chunker::{ChunkConfig, ChunkError, Part, StreamSummary, part_channel, produce_parts};
use super::error::FileError;
use super::names::sanitize_filename;
use super::registry::LiveUploads;
use super::rules::AllowedTypes;
use super::session::{PartBody, SessionGuard};
use super::stored::{self, Expected};
use crate::fastio::{self, SINGLE_CALL_MAX_BYTES, UploadTarget};
use crate::telemetry::{self, UploadMeter, UploadOutcome, UploadPath};

/// Parts waiting between the reader and a stream session (beyond the one being sent). After the
/// first part they are the request body's own pieces (~32 KiB, each holding its budget), so 64
/// keep up to ~2 MiB between the hashing reader and the upstream writer. With one, the two
/// handed over every 32 KiB in turn and a 1 GiB form post kept about one core busy of two.
const STREAM_QUEUE: usize = 64;

/// The rules every file of the pipeline obeys.
#[derive(Clone, Debug)]
pub struct Limits {
    /// Largest file, in bytes; one byte more is [`FileError::TooLarge`].
    pub max_size: u64,
    /// Allowed types, checked on the name and the first bytes.
    pub allowed: AllowedTypes,
    /// How long to wait for Fast.io to store a file once it has every byte.
    pub store_timeout: Duration,
}

/// Streams files to Fast.io; cheap to clone.
#[derive(Clone, Debug)]
pub struct Pipeline {
    client: fastio::Client,
    budget: Budget,
    limits: Limits,
    /// Sessions open for a running request, cancelled by a shutdown that cannot wait for them.
    live: LiveUploads,
}

/// A file stored and verified.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Receipt {
    /// The sanitised name it was stored under.
    pub name: String,
    /// Its size in bytes.
    pub size: u64,
    /// SHA-256 of its bytes, lower-case hex (equal to the stored node's hash).
    pub sha256: String,
    /// The stored node's id.
    pub node: String,
}

/// What [`Pipeline::start`] gives back once it has read a file's bytes.
pub enum Started {
    /// The file was large and has been streamed up already (or failed): the final outcome.
    Finished(Result<Receipt, FileError>),
    /// The file fits one single call and is held in memory (under the budget); upload it with
    /// [`Buffered::finish`], which may run concurrently with reading the next file.
    Buffered(Box<Buffered>),
}

/// A small file read whole, ready for one single-call upload.
pub struct Buffered {
    pipeline: Pipeline,
    target: UploadTarget,
    name: String,
    summary: StreamSummary,
    /// Holds the bytes and their budget; `None` for an empty file.
    part: Option<Part>,
    /// Counts the upload as in flight until it ends.
    meter: UploadMeter,
}

impl Pipeline {
    /// A pipeline sending to `client`, holding upload bytes under `budget`.
    pub fn new(client: fastio::Client, budget: Budget, limits: Limits) -> Self {
        Self {
            client,
            budget,
            limits,
            live: LiveUploads::new(),
        }
    }

    /// Registers every session this pipeline opens in `live` while it runs, so a graceful
    /// shutdown can cancel the ones that cannot finish.
    pub fn with_registry(mut self, live: LiveUploads) -> Self {
        self.live = live;
        self
    }

    /// The budget its bytes are counted in (its `peak()` is the most ever held at once).
    pub fn budget(&self) -> &Budget {
        &self.budget
    }

    /// Uploads one file from start to end: [`Pipeline::start`] then, for a small file,
    /// [`Buffered::finish`].
    pub async fn upload<S, E>(
        &self,
        target: &UploadTarget,
        raw_name: &str,
        stream: S,
    ) -> Result<Receipt, FileError>
    where
        S: Stream<Item = Result<Bytes, E>>,
        E: Into<Box<dyn std::error::Error + Send + Sync>>,
    {
        match self.start(target, raw_name, stream).await {
            Started::Finished(outcome) => outcome,
            Started::Buffered(small) => small.finish().await,
        }
    }

    /// Reads `stream` (the file called `raw_name` by its sender): a file that ends within one
    /// single call is returned [`Started::Buffered`]; a longer one is streamed to a Fast.io
    /// stream session while it is read and returned [`Started::Finished`]. The stream is always
    /// read to its end or its first error, except after a refusal (type, size).
    pub async fn start<S, E>(&self, target: &UploadTarget, raw_name: &str, stream: S) -> Started
    where
        S: Stream<Item = Result<Bytes, E>>,
        E: Into<Box<dyn std::error::Error + Send + Sync>>,
    {
        let meter = telemetry::upload_started(UploadPath::Form);
        match self.read(target, raw_name, stream, meter).await {
            Read::Finished(outcome, meter) => Started::Finished(metered(meter, outcome)),
            Read::Buffered(small) => Started::Buffered(small),
        }
    }

    async fn read<S, E>(
        &self,
        target: &UploadTarget,
        raw_name: &str,
        stream: S,
        meter: UploadMeter,
    ) -> Read
    where
        S: Stream<Item = Result<Bytes, E>>,
        E: Into<Box<dyn std::error::Error + Send + Sync>>,
    {
        let name = sanitize_filename(raw_name);
        let config = ChunkConfig {
            chunk_size: self.part_size(),
            max_size: self.limits.max_size,
            // The parts go up as one stream: only the whole digest is checked.
            part_hashes: false,
            pass_through: true,
        };
        let (tx, rx) = part_channel(STREAM_QUEUE);
        let produce = produce_parts(stream, config, Some(&self.budget), tx);
        let consume = self.consume(target, &name, rx);
        let (produced, consumed) = tokio::join!(produce, consume);
        match (produced, consumed) {
            // The reader's own failure (size, interrupted body) is the cause; the consumer only
            // saw its channel close.
            (Err(e), consumed) if !matches!(e, ChunkError::ConsumerGone) => {
                if let Consumed::Streamed(guard, _) = consumed {
                    guard.cancel().await;
                }
                Read::Finished(Err(e.into()), meter)
            }
            (_, Consumed::Refused(e)) => Read::Finished(Err(e), meter),
            // The reader stopped because the upstream stream died under it (Fast.io failed or
            // reset mid-body): that failure is the cause, not the client.
            (Err(e), Consumed::Streamed(guard, result)) => {
                guard.cancel().await;
                let cause = match result {
                    Err(upstream) => upstream.into(),
                    Ok(()) => e.into(),
                };
                Read::Finished(Err(cause), meter)
            }
            (Err(e), Consumed::Small(_)) => Read::Finished(Err(e.into()), meter),
            (Ok(summary), Consumed::Small(part)) => Read::Buffered(Box::new(Buffered {
                pipeline: self.clone(),
                target: target.clone(),
                name,
                summary,
                part,
                meter,
            })),
            (Ok(summary), Consumed::Streamed(guard, result)) => {
                let outcome = match result {
                    Ok(()) => self.settle(guard, target, &name, &summary).await,
                    Err(e) => {
                        guard.cancel().await;
                        Err(e.into())
                    }
                };
                Read::Finished(outcome, meter)
            }
        }
    }

    /// The part size: one single call's worth, or less when the budget is smaller.
    fn part_size(&self) -> usize {
        let bytes = SINGLE_CALL_MAX_BYTES.min(self.budget.capacity());
        usize::try_from(bytes).unwrap_or(usize::MAX)
    }

    /// Takes the first part: decides the type, then either keeps it (a one-part file) or opens a
    /// stream session and feeds it every part.
    async fn consume(
        &self,
        target: &UploadTarget,
        name: &str,
        mut rx: mpsc::Receiver<Part>,
    ) -> Consumed {
        let first = rx.recv().await;
        let head = first.as_ref().map_or(&[][..], |p| &p.bytes[..]);
        if let Err(e) = self.limits.allowed.check(name, head) {
            return Consumed::Refused(e.into());
        }
        match first {
            None => Consumed::Small(None),
            Some(part) if part.last => Consumed::Small(Some(part)),
            Some(part) => {
                let id = match self
                    .client
                    .create_stream_upload(target, name, self.limits.max_size)
                    .await
                {
                    Ok(id) => id,
                    Err(e) => return Consumed::Refused(e.into()),
                };
                let guard = SessionGuard::new(self.client.clone(), id, &self.live);
                let body = PartBody::new(part, rx);
                let result = self.client.upload_stream(guard.id(), body, None).await;
                Consumed::Streamed(guard, result)
            }
        }
    }

    /// After a stream session got every byte: waits until stored, then verifies.
    async fn settle(
        &self,
        guard: SessionGuard,
        target: &UploadTarget,
        name: &str,
        summary: &StreamSummary,
    ) -> Result<Receipt, FileError> {
        let node = self.stored_node(guard).await?;
        self.verify(&target.workspace, node, name, summary).await
    }

    /// Long-polls the guarded session until `stored` and names the stored node; any failure
    /// cancels the session.
    async fn stored_node(&self, guard: SessionGuard) -> Result<String, FileError> {
        match stored::wait_for_node(&self.client, guard.id(), self.limits.store_timeout).await {
            // Stored (even if unnamed): nothing left to cancel.
            result @ (Ok(_) | Err(FileError::Mismatch { .. })) => {
                guard.disarm();
                result
            }
            Err(e) => {
                guard.cancel().await;
                Err(e)
            }
        }
    }

    /// Compares the stored node's size and hash with what was read.
    async fn verify(
        &self,
        workspace: &str,
        node_id: String,
        name: &str,
        summary: &StreamSummary,
    ) -> Result<Receipt, FileError> {
        let sha256 = summary.sha256.to_hex();
        let expected = Expected {
            size: summary.size,
            sha256: Some(&sha256),
        };
        let stored = stored::verify(&self.client, workspace, node_id, expected).await?;
        Ok(Receipt {
            name: name.to_owned(),
            size: summary.size,
            sha256,
            node: stored.node,
        })
    }
}

impl Buffered {
    /// The sanitised name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Its size in bytes (read whole).
    pub fn size(&self) -> u64 {
        self.summary.size
    }

    /// Where it goes.
    pub fn target(&self) -> &UploadTarget {
        &self.target
    }

    /// The file as one entry of a Fast.io batch upload (bytes shared, SHA-256 from the read).
    pub(super) fn batch_file(&self) -> fastio::BatchFile {
        fastio::BatchFile {
            name: self.name.clone(),
            body: self
                .part
                .as_ref()
                .map_or_else(Bytes::new, |p| p.bytes.clone()),
            sha256: self.summary.sha256.to_hex(),
        }
    }

    /// After a batch upload said `outcome` about this file: releases its bytes, waits until
    /// stored (its session cancelled on any failure) and verifies it, as [`Buffered::finish`].
    pub(super) async fn finish_batched(
        self: Box<Self>,
        outcome: fastio::BatchOutcome,
        gate: &tokio::sync::Semaphore,
    ) -> Result<Receipt, FileError> {
        let Buffered {
            pipeline,
            target,
            name,
            summary,
            part,
            meter,
        } = *self;
        drop(part);
        let result = async {
            let node = match outcome {
                fastio::BatchOutcome::Refused { code, message } => {
                    return Err(FileError::Upstream(fastio::Error::Upstream {
                        status: 200,
                        code: code.and_then(|c| c.parse().ok()),
                        message,
                    }));
                }
                fastio::BatchOutcome::Accepted {
                    node: Some(node), ..
                } => {
                    let _turn = gate.acquire().await;
                    node
                }
                fastio::BatchOutcome::Accepted { upload_id, .. } => {
                    // Guarded before waiting for a turn, so an abandoned post cancels it.
                    let guard =
                        SessionGuard::new(pipeline.client.clone(), upload_id, &pipeline.live);
                    let _turn = gate.acquire().await;
                    pipeline.stored_node(guard).await?
                }
            };
            let _turn = gate.acquire().await;
            pipeline
                .verify(&target.workspace, node, &name, &summary)
                .await
        }
        .await;
        metered(meter, result)
    }

    /// The client of its pipeline.
    pub(super) fn client(&self) -> &fastio::Client {
        &self.pipeline.client
    }

    /// Uploads the file in one single call, waits until stored and verifies it. `'static`, so
    /// it can be spawned.
    pub async fn finish(self: Box<Self>) -> Result<Receipt, FileError> {
        let Buffered {
            pipeline,
            target,
            name,
            summary,
            part,
            meter,
        } = *self;
        let outcome = Self::send(pipeline, target, name, summary, part).await;
        metered(meter, outcome)
    }

    async fn send(
        pipeline: Pipeline,
        target: UploadTarget,
        name: String,
        summary: StreamSummary,
        part: Option<Part>,
    ) -> Result<Receipt, FileError> {
        let body = part.as_ref().map_or_else(Bytes::new, |p| p.bytes.clone());
        let single = pipeline.client.upload_single(&target, &name, body).await?;
        // The bytes are upstream: release their budget before waiting.
        drop(part);
        let node = match single.new_file_id {
            Some(node) => node,
            None => {
                let guard =
                    SessionGuard::new(pipeline.client.clone(), single.upload_id, &pipeline.live);
                pipeline.stored_node(guard).await?
            }
        };
        pipeline
            .verify(&target.workspace, node, &name, &summary)
            .await
    }
}

/// What reading one file ended with, the meter still running.
enum Read {
    Finished(Result<Receipt, FileError>, UploadMeter),
    Buffered(Box<Buffered>),
}

/// Records how an upload ended (its bytes are counted by the client as they go up).
fn metered(meter: UploadMeter, outcome: Result<Receipt, FileError>) -> Result<Receipt, FileError> {
    let label = match &outcome {
        Ok(_) => UploadOutcome::Stored,
        Err(FileError::TooLarge { .. } | FileError::Type(_)) => UploadOutcome::Rejected,
        Err(FileError::Interrupted(_)) => UploadOutcome::Cancelled,
        Err(_) => UploadOutcome::Failed,
    };
    meter.finish(label);
    outcome
}

/// What the consumer side ended with.
enum Consumed {
    /// Refused before or at session creation; nothing is left upstream.
    Refused(FileError),
    /// A file of at most one part (none when empty).
    Small(Option<Part>),
    /// A stream session was fed; its result.
    Streamed(SessionGuard, Result<(), fastio::Error>),
}
