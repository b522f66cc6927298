//! The part producer (tusd's shape): an async byte stream becomes fixed-size parts sent over a
//! bounded channel, so the reader runs at most a channel's worth ahead of the uploader and memory
//! stays at `chunk_size × (capacity + 1)` per upload. With [`ChunkConfig::pass_through`] only the
//! first part is cut (and copied); the pieces after it go on as they came, so a long stream holds
//! a few of the body's own pieces instead of whole parts and costs no copy.
//!
//! On the way it computes the whole stream's SHA-256 and, when [`ChunkConfig::part_hashes`] asks,
//! each part's SHA-256 (for `Content-Digest` and Fast.io's per-chunk hash; a second pass over every
//! byte, so a consumer that sends the parts as one stream turns it off). The whole digest is
//! compared with the stored node's `hash`. It stops at `max_size`: the first byte beyond the limit ends the stream with [`ChunkError::TooLarge`]. Each
//! part carries its [`BudgetPermit`], so the global budget is released only when the consumer
//! drops the part; consumers must not take from the same budget while holding parts. The
//! producer borrows the stream (no `'static` or `Sync` bound), which suits
//! axum's multipart fields: run it with `tokio::join!` beside the consumer.

use bytes::Bytes;
use futures_util::{Stream, StreamExt};
use sha2::{Digest as _, Sha256};
use tokio::sync::mpsc;

use super::budget::{Budget, BudgetError, BudgetPermit};
use super::digest::Sha256Digest;

/// How to cut a stream.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ChunkConfig {
    /// Size of every part but the last, in bytes (≥ 1).
    pub chunk_size: usize,
    /// The most bytes the stream may carry; one more is [`ChunkError::TooLarge`].
    pub max_size: u64,
    /// Whether each [`Part`] carries its own SHA-256 ([`Part::sha256`] is `None` otherwise).
    pub part_hashes: bool,
    /// After the first part, send each piece of the source as its own part as it arrives, with
    /// no copy, its budget taken by its length (for a consumer that sends the parts as one
    /// stream). The first part is still cut at `chunk_size`, so a one-part stream is still
    /// known as one. Off: every part but the last is `chunk_size` long.
    pub pass_through: bool,
}

/// One fixed-size piece of the stream.
#[derive(Debug)]
pub struct Part {
    /// 1-based position, as Fast.io's `order` counts.
    pub order: u32,
    /// Whether this is the stream's final part. A full part is held back until the next byte (or
    /// the end) shows which, so a consumer can upload a one-part stream in a single call.
    pub last: bool,
    /// Byte offset of the part's first byte in the stream.
    pub offset: u64,
    /// The bytes; `chunk_size` long except for the last part (and, with
    /// [`ChunkConfig::pass_through`], the parts after the first, which are as long as the
    /// source's pieces and hold their budget inside the `Bytes`, released when every clone is
    /// dropped — also one still queued in an HTTP client).
    pub bytes: Bytes,
    /// SHA-256 of `bytes`, when [`ChunkConfig::part_hashes`] asked for it.
    pub sha256: Option<Sha256Digest>,
    /// Budget held for `bytes` until the part is dropped (`None` when the bytes hold it).
    _permit: Option<BudgetPermit>,
    /// Bytes of budget held for this part, by `permit` or inside `bytes`.
    reserved: u64,
}

/// What the whole stream was, once it ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StreamSummary {
    /// Total bytes.
    pub size: u64,
    /// SHA-256 of all bytes.
    pub sha256: Sha256Digest,
    /// Number of parts sent (0 for an empty stream).
    pub parts: u32,
}

/// Why the producer stopped early.
#[derive(Debug, thiserror::Error)]
pub enum ChunkError {
    /// The stream carried more than `max_size` bytes.
    #[error("the file is larger than the limit of {max} bytes")]
    TooLarge {
        /// The limit that was passed.
        max: u64,
    },
    /// The source stream failed (client went away, malformed body…).
    #[error("reading the upload failed: {0}")]
    Source(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// The consumer dropped its receiver (it failed or was cancelled).
    #[error("the upload was abandoned by its consumer")]
    ConsumerGone,
    /// The in-flight budget refused the reservation.
    #[error(transparent)]
    Budget(#[from] BudgetError),
}

/// A bounded channel for parts: `capacity` parts may wait between producer and consumer.
pub fn part_channel(capacity: usize) -> (mpsc::Sender<Part>, mpsc::Receiver<Part>) {
    mpsc::channel(capacity.max(1))
}

impl Part {
    /// Bytes of budget this part holds (0 when produced without a budget).
    pub fn reserved(&self) -> u64 {
        self.reserved
    }

    /// A source piece passed on as it is ([`ChunkConfig::pass_through`]), its budget inside.
    async fn passed(
        order: u32,
        offset: u64,
        bytes: Bytes,
        config: ChunkConfig,
        budget: Option<&Budget>,
    ) -> Result<Self, ChunkError> {
        let sha256 = config
            .part_hashes
            .then(|| Sha256Digest(Sha256::digest(&bytes).into()));
        let (bytes, reserved) = match budget {
            Some(b) => {
                let permit = b.acquire(bytes.len() as u64).await?;
                let reserved = permit.bytes();
                let bytes = Bytes::from_owner(Budgeted {
                    bytes,
                    _permit: permit,
                });
                (bytes, reserved)
            }
            None => (bytes, 0),
        };
        Ok(Self {
            order,
            last: false,
            offset,
            bytes,
            sha256,
            _permit: None,
            reserved,
        })
    }
}

/// Bytes that keep their budget until the last clone is dropped.
struct Budgeted {
    bytes: Bytes,
    _permit: BudgetPermit,
}

impl AsRef<[u8]> for Budgeted {
    fn as_ref(&self) -> &[u8] {
        &self.bytes
    }
}

/// Reads `stream` to its end, sending parts into `tx`; returns the whole-stream summary.
pub async fn produce_parts<S, E>(
    stream: S,
    config: ChunkConfig,
    budget: Option<&Budget>,
    tx: mpsc::Sender<Part>,
) -> Result<StreamSummary, ChunkError>
where
    S: Stream<Item = Result<Bytes, E>>,
    E: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let chunk_size = config.chunk_size.max(1);
    let mut stream = std::pin::pin!(stream);
    let mut whole = Sha256::new();
    let mut size: u64 = 0;
    let mut current: Option<Filling> = None;
    let mut order: u32 = 0;
    // A full part is held until the next byte arrives or the stream ends, so that `last` is known.
    let mut ready: Option<Part> = None;

    while let Some(item) = stream.next().await {
        let mut data = item.map_err(|e| ChunkError::Source(e.into()))?;
        size += data.len() as u64;
        if size > config.max_size {
            return Err(ChunkError::TooLarge {
                max: config.max_size,
            });
        }
        whole.update(&data);
        while !data.is_empty() {
            if config.pass_through && order > 0 && current.is_none() {
                if let Some(part) = ready.take() {
                    send(&tx, part).await?;
                }
                let offset = size - data.len() as u64;
                order += 1;
                ready = Some(Part::passed(order, offset, data, config, budget).await?);
                break;
            }
            // More bytes follow the held part, so it is not the last: release it first (before
            // taking budget for the next one, so one budget-sized upload cannot deadlock).
            if let Some(part) = ready.take() {
                send(&tx, part).await?;
            }
            let filling = match current.as_mut() {
                Some(f) => f,
                None => {
                    let permit = match budget {
                        Some(b) => Some(b.acquire(chunk_size as u64).await?),
                        None => None,
                    };
                    let offset = u64::from(order) * chunk_size as u64;
                    let hash = config.part_hashes.then(Sha256::new);
                    current.insert(Filling::new(chunk_size, offset, hash, permit, budget))
                }
            };
            let take = (chunk_size - filling.buf.len()).min(data.len());
            let piece = data.split_to(take);
            if let Some(hash) = filling.hash.as_mut() {
                hash.update(&piece);
            }
            filling.buf.extend_from_slice(&piece);
            if filling.buf.len() == chunk_size
                && let Some(done) = current.take()
            {
                order += 1;
                ready = Some(done.finish(order, false, budget));
            }
        }
    }
    if let Some(rest) = current.take() {
        if let Some(part) = ready.take() {
            send(&tx, part).await?;
        }
        order += 1;
        send(&tx, rest.finish(order, true, budget)).await?;
    } else if let Some(mut part) = ready.take() {
        part.last = true;
        send(&tx, part).await?;
    }
    Ok(StreamSummary {
        size,
        sha256: Sha256Digest(whole.finalize().into()),
        parts: order,
    })
}

async fn send(tx: &mpsc::Sender<Part>, part: Part) -> Result<(), ChunkError> {
    tx.send(part).await.map_err(|_| ChunkError::ConsumerGone)
}

/// A part being filled, in a buffer from the budget's spares when there is a budget.
struct Filling {
    buf: Vec<u8>,
    size: usize,
    hash: Option<Sha256>,
    offset: u64,
    permit: Option<BudgetPermit>,
}

impl Filling {
    fn new(
        chunk_size: usize,
        offset: u64,
        hash: Option<Sha256>,
        permit: Option<BudgetPermit>,
        budget: Option<&Budget>,
    ) -> Self {
        let buf = budget.map_or_else(|| Vec::with_capacity(chunk_size), |b| b.buffer(chunk_size));
        Self {
            buf,
            size: chunk_size,
            hash,
            offset,
            permit,
        }
    }

    fn finish(self, order: u32, last: bool, budget: Option<&Budget>) -> Part {
        let mut permit = self.permit;
        let sha256 = self.hash.map(|h| Sha256Digest(h.finalize().into()));
        // A short last part (a small file, or a file's tail) keeps only its own bytes and their
        // budget, not a whole part's: many small files can then wait for a batch together.
        let short = self.buf.len() < self.size / 2;
        if short && let Some(p) = permit.as_mut() {
            p.shrink_to(self.buf.len() as u64);
        }
        let reserved = permit.as_ref().map_or(0, BudgetPermit::bytes);
        let (bytes, permit) = match (short, budget, permit) {
            (true, Some(b), permit) => {
                let bytes = Bytes::copy_from_slice(&self.buf);
                b.recycle(self.buf);
                (bytes, permit)
            }
            (true, None, permit) => (Bytes::copy_from_slice(&self.buf), permit),
            // The permit goes inside the bytes, so the buffer comes back for the next part.
            (false, Some(b), Some(p)) => (b.freeze(self.buf, p), None),
            (false, _, permit) => (Bytes::from(self.buf), permit),
        };
        Part {
            order,
            last,
            offset: self.offset,
            bytes,
            sha256,
            _permit: permit,
            reserved,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures_util::stream;

    type Item = Result<Bytes, std::io::Error>;

    fn pieces(data: &[u8], piece: usize) -> Vec<Item> {
        data.chunks(piece)
            .map(|c| Ok(Bytes::copy_from_slice(c)))
            .collect()
    }

    async fn run(
        items: Vec<Item>,
        config: ChunkConfig,
        budget: Option<&Budget>,
    ) -> (Result<StreamSummary, ChunkError>, Vec<Part>) {
        let (tx, mut rx) = part_channel(2);
        let consume = async move {
            let mut parts = Vec::new();
            while let Some(p) = rx.recv().await {
                parts.push(p);
            }
            parts
        };
        tokio::join!(
            produce_parts(stream::iter(items), config, budget, tx),
            consume
        )
    }

    #[tokio::test]
    async fn parts_are_fixed_size_with_a_short_last_one_and_correct_digests() {
        let data: Vec<u8> = (0..2500u32).map(|i| (i % 251) as u8).collect();
        let config = ChunkConfig {
            chunk_size: 1000,
            max_size: 10_000,
            part_hashes: true,
            pass_through: false,
        };
        let (summary, parts) = run(pieces(&data, 333), config, None).await;
        let summary = summary.expect("ok");
        assert_eq!(summary.size, 2500);
        assert_eq!(summary.parts, 3);
        assert_eq!(summary.sha256, Sha256Digest::of(&data));
        let lens: Vec<usize> = parts.iter().map(|p| p.bytes.len()).collect();
        assert_eq!(lens, [1000, 1000, 500]);
        let lasts: Vec<bool> = parts.iter().map(|p| p.last).collect();
        assert_eq!(lasts, [false, false, true]);
        for (i, p) in parts.iter().enumerate() {
            assert_eq!(p.order as usize, i + 1);
            assert_eq!(p.offset, i as u64 * 1000);
            assert_eq!(
                p.sha256,
                Some(Sha256Digest::of(&data[i * 1000..(i * 1000 + lens[i])]))
            );
        }
    }

    #[tokio::test]
    async fn without_part_hashes_parts_carry_none_and_the_whole_digest_is_unchanged() {
        let data: Vec<u8> = (0..2500u32).map(|i| (i % 251) as u8).collect();
        let config = ChunkConfig {
            chunk_size: 1000,
            max_size: 10_000,
            part_hashes: false,
            pass_through: false,
        };
        let (summary, parts) = run(pieces(&data, 333), config, None).await;
        assert_eq!(summary.expect("ok").sha256, Sha256Digest::of(&data));
        assert_eq!(parts.len(), 3);
        assert!(parts.iter().all(|p| p.sha256.is_none()));
    }

    #[tokio::test]
    async fn exactly_max_size_passes_and_one_more_byte_is_too_large() {
        let config = ChunkConfig {
            chunk_size: 4,
            max_size: 10,
            part_hashes: true,
            pass_through: false,
        };
        let (ok, parts) = run(pieces(&[1; 10], 3), config, None).await;
        assert_eq!(ok.expect("at the limit").size, 10);
        assert_eq!(parts.len(), 3);
        let (err, _) = run(pieces(&[1; 11], 3), config, None).await;
        assert!(
            matches!(err, Err(ChunkError::TooLarge { max: 10 })),
            "{err:?}"
        );
    }

    #[tokio::test]
    async fn a_stream_ending_on_a_part_boundary_marks_that_full_part_last() {
        let config = ChunkConfig {
            chunk_size: 4,
            max_size: 100,
            part_hashes: true,
            pass_through: false,
        };
        let (summary, parts) = run(pieces(&[9; 8], 4), config, None).await;
        assert_eq!(summary.expect("ok").parts, 2);
        assert_eq!(
            parts
                .iter()
                .map(|p| (p.bytes.len(), p.last))
                .collect::<Vec<_>>(),
            [(4, false), (4, true)]
        );
        let (_, one) = run(pieces(&[9; 4], 1), config, None).await;
        assert!(
            one.len() == 1 && one[0].last,
            "a one-part stream is a single call"
        );
    }

    #[tokio::test]
    async fn a_budget_of_one_chunk_still_makes_progress() {
        let budget = Budget::new(1024, 1024);
        let config = ChunkConfig {
            chunk_size: 1024,
            max_size: 1 << 20,
            part_hashes: true,
            pass_through: false,
        };
        let (tx, mut rx) = part_channel(1);
        let consume = async {
            let mut n = 0;
            while let Some(part) = rx.recv().await {
                drop(part); // uploaded: its budget returns
                n += 1;
            }
            n
        };
        let produce = produce_parts(
            stream::iter(pieces(&[1; 10 * 1024], 300)),
            config,
            Some(&budget),
            tx,
        );
        let (summary, n) = tokio::time::timeout(std::time::Duration::from_secs(5), async {
            tokio::join!(produce, consume)
        })
        .await
        .expect("no deadlock");
        assert_eq!(summary.expect("ok").parts, 10);
        assert_eq!(n, 10);
    }

    #[tokio::test]
    async fn passing_through_cuts_only_the_first_part_and_forwards_the_pieces_after_it_uncopied() {
        let data: Vec<u8> = (0..2600u32).map(|i| (i % 251) as u8).collect();
        let items = pieces(&data, 700);
        let sources: Vec<*const u8> = items
            .iter()
            .map(|i| i.as_ref().expect("piece").as_ptr())
            .collect();
        let config = ChunkConfig {
            chunk_size: 1000,
            max_size: 10_000,
            part_hashes: false,
            pass_through: true,
        };
        let (summary, parts) = run(items, config, None).await;
        let summary = summary.expect("ok");
        assert_eq!(summary.sha256, Sha256Digest::of(&data));
        let shape: Vec<(u32, u64, usize, bool)> = parts
            .iter()
            .map(|p| (p.order, p.offset, p.bytes.len(), p.last))
            .collect();
        // 700 + 300 of the second piece make the first part; the rest go on as they came.
        assert_eq!(
            shape,
            [
                (1, 0, 1000, false),
                (2, 1000, 400, false),
                (3, 1400, 700, false),
                (4, 2100, 500, true)
            ]
        );
        assert_eq!(summary.parts, 4);
        // The pieces after the first part are the source's own bytes, not copies.
        assert_eq!(parts[2].bytes.as_ptr(), sources[2]);
        assert_eq!(parts[3].bytes.as_ptr(), sources[3]);
        let joined: Vec<u8> = parts.iter().flat_map(|p| p.bytes.to_vec()).collect();
        assert_eq!(joined, data);
    }

    #[tokio::test]
    async fn a_passed_piece_keeps_its_budget_until_its_last_clone_is_dropped() {
        let budget = Budget::new(64 * 1024, 1024);
        let config = ChunkConfig {
            chunk_size: 1024,
            max_size: 1 << 20,
            part_hashes: false,
            pass_through: true,
        };
        let data = vec![9u8; 4096];
        let (summary, parts) = run(pieces(&data, 2048), config, Some(&budget)).await;
        assert_eq!(summary.expect("ok").parts, 3);
        // Part 1 (1 KiB, cut) + the rest of piece 1 (1 KiB) + piece 2 (2 KiB).
        assert_eq!(budget.in_use(), 4096);
        let mut parts = parts.into_iter();
        let first = parts.next().expect("first");
        let kept: Vec<Bytes> = parts.map(|p| p.bytes.clone()).collect();
        drop(first);
        // The parts are gone but their bytes live on (as in a client's send queue): still held.
        assert_eq!(budget.in_use(), 3072);
        drop(kept);
        assert_eq!(budget.in_use(), 0);
    }

    #[tokio::test]
    async fn an_empty_stream_has_no_parts_and_the_empty_digest() {
        let config = ChunkConfig {
            chunk_size: 4,
            max_size: 10,
            part_hashes: true,
            pass_through: false,
        };
        let (summary, parts) = run(vec![], config, None).await;
        let summary = summary.expect("ok");
        assert_eq!((summary.size, summary.parts, parts.len()), (0, 0, 0));
        assert_eq!(summary.sha256, Sha256Digest::of(b""));
    }

    #[tokio::test]
    async fn a_source_error_stops_the_producer() {
        let items = vec![
            Ok(Bytes::from_static(b"abc")),
            Err(std::io::Error::other("gone")),
        ];
        let config = ChunkConfig {
            chunk_size: 2,
            max_size: 100,
            part_hashes: true,
            pass_through: false,
        };
        let (err, _) = run(items, config, None).await;
        assert!(matches!(err, Err(ChunkError::Source(_))), "{err:?}");
    }

    #[tokio::test]
    async fn a_dropped_consumer_is_reported() {
        let (tx, rx) = part_channel(1);
        drop(rx);
        let config = ChunkConfig {
            chunk_size: 2,
            max_size: 100,
            part_hashes: true,
            pass_through: false,
        };
        let result = produce_parts(stream::iter(pieces(b"abcdef", 6)), config, None, tx).await;
        assert!(
            matches!(result, Err(ChunkError::ConsumerGone)),
            "{result:?}"
        );
    }

    #[tokio::test]
    async fn parts_hold_budget_until_dropped_and_the_peak_stays_bounded() {
        let budget = Budget::new(4 * 1024, 1024);
        let config = ChunkConfig {
            chunk_size: 1024,
            max_size: 1 << 20,
            part_hashes: true,
            pass_through: false,
        };
        let data = vec![7u8; 64 * 1024];
        let (tx, mut rx) = part_channel(1);
        let consume = async {
            let mut n = 0;
            while let Some(p) = rx.recv().await {
                assert_eq!(p.reserved(), 1024);
                tokio::task::yield_now().await;
                n += 1;
            }
            n
        };
        let (summary, n) = tokio::join!(
            produce_parts(stream::iter(pieces(&data, 700)), config, Some(&budget), tx),
            consume
        );
        assert_eq!(summary.expect("ok").parts, 64);
        assert_eq!(n, 64);
        assert_eq!(budget.in_use(), 0);
        assert!(budget.peak() <= 3 * 1024, "peak {}", budget.peak());
    }
}
