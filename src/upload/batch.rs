//! Many small files of one form post (DESIGN §4a, §7): the [`Buffered`] files that
//! [`Pipeline::start`](super::pipeline::Pipeline::start) hands back go up together in Fast.io
//! batch uploads (`fastio-api.md` §7.12: ≤ 200 files, ≤ 4 MB each, ≤ 100 MB in all), while the
//! next parts of the post are still being read; each file still ends on its own — waited for
//! until `stored` and verified against its SHA-256 — and is reported on its own.
//!
//! A collector task takes the files in the order they were read. The first file of a quiet
//! stretch waits [`LINGER`] for company; files that arrive together go as one batch, up to the
//! contract's limits. A batch of one is a single call. A batch whose request fails as a whole
//! falls back to single calls, one per file, so a refused batch endpoint costs time, not files.
//! After a batch, each file's session is guarded (cancelled on any failure or when the post is
//! abandoned), and at most [`SETTLE_AT_ONCE`] waits and checks run at once per post.
//!
//! Memory: a file waiting here holds its bytes under the in-flight budget (its permit shrunk to
//! its own size by the chunker), and the caller stops reading once [`MAX_OUTSTANDING`] files are
//! not yet reported.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{Semaphore, mpsc};
use tokio::task::JoinSet;

use super::error::FileError;
use super::pipeline::{Buffered, Receipt};
use crate::fastio::{BATCH_MAX_BYTES, BATCH_MAX_FILES, BatchFile};

/// How long the first file of a batch waits for others read right after it.
pub const LINGER: Duration = Duration::from_millis(5);

/// Stored-waits and verifications of one post running at once.
pub const SETTLE_AT_ONCE: usize = 64;

/// Files read and not yet reported before the caller should wait for results.
pub const MAX_OUTSTANDING: usize = 1000;

/// One file's result: its index in the caller's list and its outcome.
pub type Settled = (usize, Result<Receipt, FileError>);

/// The small files of one form post on their way up; dropping it abandons them (their sessions
/// are cancelled).
pub struct SmallFiles {
    input: Option<mpsc::Sender<(usize, Box<Buffered>)>>,
    results: mpsc::UnboundedReceiver<Settled>,
    outstanding: usize,
    collector: JoinSet<()>,
}

impl Default for SmallFiles {
    fn default() -> Self {
        Self::new()
    }
}

impl SmallFiles {
    /// Starts the collector.
    pub fn new() -> Self {
        let (input, files) = mpsc::channel(BATCH_MAX_FILES);
        let (done, results) = mpsc::unbounded_channel();
        let mut collector = JoinSet::new();
        collector.spawn(collect(files, done));
        Self {
            input: Some(input),
            results,
            outstanding: 0,
            collector,
        }
    }

    /// Files handed in and not yet returned by [`SmallFiles::next`].
    pub fn outstanding(&self) -> usize {
        self.outstanding
    }

    /// Whether the caller should take results before handing in more.
    pub fn is_full(&self) -> bool {
        self.outstanding >= MAX_OUTSTANDING
    }

    /// Hands in file number `index`.
    pub async fn push(&mut self, index: usize, file: Box<Buffered>) {
        self.outstanding += 1;
        if let Some(input) = &self.input
            && let Err(mpsc::error::SendError((index, file))) = input.send((index, file)).await
        {
            // The collector is gone (it cannot be, short of a panic): upload it alone.
            let done = file.finish().await;
            let (tx, rx) = mpsc::unbounded_channel();
            let _ = tx.send((index, done));
            self.results = rx;
        }
    }

    /// No more files will come: what is waiting goes up now.
    pub fn close(&mut self) {
        self.input = None;
    }

    /// The next file to end, in the order they end; `None` once every file handed in has been
    /// returned (after [`SmallFiles::close`]) or when none is outstanding.
    pub async fn next(&mut self) -> Option<Settled> {
        if self.outstanding == 0 {
            return None;
        }
        let settled = self.results.recv().await?;
        self.outstanding -= 1;
        Some(settled)
    }

    /// Abandons every file not yet reported (their sessions are cancelled).
    pub fn abort_all(&mut self) {
        self.input = None;
        self.collector.abort_all();
    }
}

/// Gathers files into batches and runs them; ends when the input closes and every batch has.
async fn collect(
    mut files: mpsc::Receiver<(usize, Box<Buffered>)>,
    done: mpsc::UnboundedSender<Settled>,
) {
    let gate = Arc::new(Semaphore::new(SETTLE_AT_ONCE));
    let mut batches = JoinSet::new();
    while let Some(first) = files.recv().await {
        let mut batch = vec![first];
        let mut bytes = batch[0].1.size();
        let until = tokio::time::Instant::now() + LINGER;
        while batch.len() < BATCH_MAX_FILES {
            let next = match files.try_recv() {
                Ok(next) => next,
                Err(mpsc::error::TryRecvError::Disconnected) => break,
                Err(mpsc::error::TryRecvError::Empty) => {
                    match tokio::time::timeout_at(until, files.recv()).await {
                        Ok(Some(next)) => next,
                        Ok(None) | Err(_) => break,
                    }
                }
            };
            let fits = next.1.target() == batch[0].1.target()
                && next.1.size() > 0
                && bytes + next.1.size() <= BATCH_MAX_BYTES;
            if !fits {
                // Goes in a batch of its own, after this one.
                batches.spawn(run(vec![next], done.clone(), gate.clone()));
                continue;
            }
            bytes += next.1.size();
            batch.push(next);
        }
        batches.spawn(run(batch, done.clone(), gate.clone()));
        // Finished batches are reaped as we go, so the set does not grow.
        while batches.try_join_next().is_some() {}
    }
    while batches.join_next().await.is_some() {}
}

/// Uploads one batch and settles each of its files.
async fn run(
    batch: Vec<(usize, Box<Buffered>)>,
    done: mpsc::UnboundedSender<Settled>,
    gate: Arc<Semaphore>,
) {
    let single = batch.len() == 1 || batch.iter().any(|(_, f)| f.size() == 0);
    let outcomes = if single {
        None
    } else {
        let entries: Vec<BatchFile> = batch.iter().map(|(_, f)| f.batch_file()).collect();
        let first = &batch[0].1;
        match first.client().upload_batch(first.target(), &entries).await {
            Ok(outcomes) if outcomes.len() == batch.len() => Some(outcomes),
            Ok(_) => None,
            Err(e) => {
                tracing::warn!(error = %e, files = batch.len(), "batch upload failed; sending the files one by one");
                None
            }
        }
    };
    let mut settling = JoinSet::new();
    match outcomes {
        Some(outcomes) => {
            for ((index, file), outcome) in batch.into_iter().zip(outcomes) {
                let gate = gate.clone();
                settling.spawn(async move { (index, file.finish_batched(outcome, &gate).await) });
            }
        }
        None => {
            for (index, file) in batch {
                let gate = gate.clone();
                settling.spawn(async move {
                    let _turn = gate.acquire().await;
                    (index, file.finish().await)
                });
            }
        }
    }
    while let Some(joined) = settling.join_next().await {
        if let Ok(settled) = joined {
            let _ = done.send(settled);
        }
    }
}
