//! The chunk plan of a JS-path upload and the checks each chunk passes before it goes upstream.
//!
//! The browser declares a file's size; the gateway picks a chunk size ([`ChunkPlan::choose`]) and
//! from then on every replica can tell, from the size and chunk size carried in the signed token
//! alone, which chunk numbers exist and exactly how long each must be ([`ChunkPlan::expected_len`];
//! only the last may be short). [`collect_chunk`] reads one chunk's body whole, hashing as it goes
//! and refusing the moment it runs past its length, so a chunk that does not match its plan or
//! its `Content-Digest` never reaches Fast.io; [`verify_while_streaming`] makes the same checks
//! on a chunk passed upstream as it arrives, ending it in an error (an aborted request, which
//! Fast.io drops) instead of its end when one fails.

use bytes::Bytes;
use futures_util::{Stream, StreamExt as _};
use sha2::{Digest as _, Sha256};

use super::digest::Sha256Digest;

/// Fast.io's smallest chunk except the last (`fastio-api.md` §7.1): 1 MiB.
pub const MIN_CHUNK_SIZE: u64 = 1024 * 1024;

/// Chunk requests one file may have in flight (Fast.io's per-session limit).
pub const PARALLEL_CHUNKS: u32 = 3;

/// How a file of `size` bytes is cut: `chunks` chunks of `chunk_size`, the last one shorter.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ChunkPlan {
    /// The file's declared size in bytes (≥ 1).
    pub size: u64,
    /// Bytes per chunk (every chunk but the last).
    pub chunk_size: u64,
    /// Number of chunks, numbered 1..=chunks.
    pub chunks: u32,
}

/// Why no plan fits a file.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PlanError {
    /// An empty file has no chunks; the form path stores it.
    #[error("an empty file cannot be sent in chunks; upload it with the form instead")]
    Empty,
    /// Even chunks of the largest size would be more than Fast.io allows per session.
    #[error("the file needs more than {max_chunks} chunks of {max_chunk_size} bytes")]
    TooManyChunks {
        /// Fast.io's most chunks per session.
        max_chunks: u64,
        /// Fast.io's largest chunk.
        max_chunk_size: u64,
    },
}

/// Why a chunk was refused. Each variant's doc names the HTTP status the web layer gives it.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ChunkRefused {
    /// 404: there is no chunk `n` in this upload.
    #[error("chunk {n} does not exist: this upload has chunks 1 to {chunks}")]
    OutOfRange {
        /// The number asked for.
        n: u32,
        /// How many chunks the upload has.
        chunks: u32,
    },
    /// 411: the chunk came without a `Content-Length`, so its size cannot be checked up front.
    #[error("a chunk must be sent with a Content-Length header")]
    LengthRequired,
    /// 400: the body is not exactly as long as the plan says chunk `n` is.
    #[error("chunk {n} must be exactly {expected} bytes, got {got}")]
    WrongSize {
        /// The chunk number.
        n: u32,
        /// Its length by the plan.
        expected: u64,
        /// The length announced or received.
        got: u64,
    },
    /// 400: the `Content-Digest` header is not a SHA-256 digest we can read.
    #[error("the Content-Digest header must be sha-256=:<base64>:")]
    BadDigestHeader,
    /// 400: the bytes received do not hash to the `Content-Digest` the client sent.
    #[error("chunk {n} does not match its Content-Digest (received sha-256 {received})")]
    DigestMismatch {
        /// The chunk number.
        n: u32,
        /// Hex SHA-256 of what arrived.
        received: String,
    },
    /// 400: the client stopped sending before the chunk ended.
    #[error("the chunk was interrupted before it ended ({0})")]
    Interrupted(String),
    /// 400: the upload is stored already, with other bytes than these (the same bytes sent
    /// again get the same receipt); its token cannot write again.
    #[error("this upload is already stored with other bytes; start a new upload to replace it")]
    AlreadyStored,
}

impl ChunkPlan {
    /// The plan for `size` bytes: the `configured` chunk size (`FASTGATE_CHUNK_SIZE`) clamped to
    /// Fast.io's range (≥ [`MIN_CHUNK_SIZE`], ≤ `max_chunk_size`), grown in whole MiB when the
    /// file would otherwise need more than `max_chunks` chunks.
    pub fn choose(
        size: u64,
        configured: u64,
        max_chunk_size: u64,
        max_chunks: Option<u64>,
    ) -> Result<Self, PlanError> {
        if size == 0 {
            return Err(PlanError::Empty);
        }
        let ceiling = max_chunk_size.max(MIN_CHUNK_SIZE);
        let mut chunk_size = configured.clamp(MIN_CHUNK_SIZE, ceiling);
        let max_chunks = max_chunks.unwrap_or(u64::from(u32::MAX)).max(1);
        if size.div_ceil(chunk_size) > max_chunks {
            let needed = size.div_ceil(max_chunks).div_ceil(MIN_CHUNK_SIZE) * MIN_CHUNK_SIZE;
            if needed > ceiling {
                return Err(PlanError::TooManyChunks {
                    max_chunks,
                    max_chunk_size: ceiling,
                });
            }
            chunk_size = needed;
        }
        Ok(Self::new(size, chunk_size))
    }

    /// The plan of a `size`-byte file in `chunk_size` chunks (as a token carries them).
    pub fn new(size: u64, chunk_size: u64) -> Self {
        let chunk_size = chunk_size.max(1);
        let chunks = u32::try_from(size.div_ceil(chunk_size)).unwrap_or(u32::MAX);
        Self {
            size,
            chunk_size,
            chunks,
        }
    }

    /// The exact length of chunk `n` (1-based), or why there is no such chunk.
    pub fn expected_len(&self, n: u32) -> Result<u64, ChunkRefused> {
        if n == 0 || n > self.chunks {
            return Err(ChunkRefused::OutOfRange {
                n,
                chunks: self.chunks,
            });
        }
        let start = u64::from(n - 1) * self.chunk_size;
        Ok(self.chunk_size.min(self.size - start))
    }

    /// Checks an announced `Content-Length` against chunk `n`'s length, returning that length.
    pub fn check_length(&self, n: u32, announced: Option<u64>) -> Result<u64, ChunkRefused> {
        let expected = self.expected_len(n)?;
        match announced {
            None => Err(ChunkRefused::LengthRequired),
            Some(got) if got != expected => Err(ChunkRefused::WrongSize { n, expected, got }),
            Some(_) => Ok(expected),
        }
    }
}

/// One chunk, received whole and hashed.
#[derive(Clone, Debug)]
pub struct ReceivedChunk {
    /// The bytes, in the buffer that was passed in (freeze it with its budget permit, so it is
    /// shared with the upstream request without copying and reused afterwards).
    pub bytes: Vec<u8>,
    /// Their SHA-256.
    pub sha256: Sha256Digest,
}

/// Reads chunk `n`'s body from `body`, hashing as it arrives. Fails as soon as more than
/// `expected` bytes come, when fewer arrive, or when the stream breaks; then checks the digest the
/// client claimed (`claimed`), if any. Holds at most `expected` bytes.
pub async fn collect_chunk<S, E>(
    body: S,
    n: u32,
    expected: u64,
    claimed: Option<Sha256Digest>,
    mut buffer: Vec<u8>,
) -> Result<ReceivedChunk, ChunkRefused>
where
    S: Stream<Item = Result<Bytes, E>>,
    E: std::fmt::Display,
{
    buffer.clear();
    let mut check = ChunkCheck::new(n, expected);
    let mut body = std::pin::pin!(body);
    while let Some(piece) = body.next().await {
        let piece = piece.map_err(|e| ChunkRefused::Interrupted(e.to_string()))?;
        check.piece(&piece)?;
        buffer.extend_from_slice(&piece);
    }
    let sha256 = check.finish(claimed)?;
    Ok(ReceivedChunk {
        bytes: buffer,
        sha256,
    })
}

/// The running checks of one chunk's body, fed piece by piece: never longer than its plan
/// length, exactly that long at the end, and hashing to the client's digest when it sent one.
struct ChunkCheck {
    n: u32,
    expected: u64,
    got: u64,
    hasher: Sha256,
}

impl ChunkCheck {
    fn new(n: u32, expected: u64) -> Self {
        Self {
            n,
            expected,
            got: 0,
            hasher: Sha256::new(),
        }
    }

    /// Counts and hashes `piece`; refused the moment the body runs past its length.
    fn piece(&mut self, piece: &[u8]) -> Result<(), ChunkRefused> {
        self.got += piece.len() as u64;
        if self.got > self.expected {
            return Err(self.wrong_size());
        }
        self.hasher.update(piece);
        Ok(())
    }

    /// The body's SHA-256, once it has ended at its length and matches `claimed` (if any).
    fn finish(&mut self, claimed: Option<Sha256Digest>) -> Result<Sha256Digest, ChunkRefused> {
        if self.got != self.expected {
            return Err(self.wrong_size());
        }
        let sha256 = Sha256Digest(std::mem::take(&mut self.hasher).finalize().into());
        match claimed {
            Some(claimed) if claimed != sha256 => Err(ChunkRefused::DigestMismatch {
                n: self.n,
                received: sha256.to_hex(),
            }),
            _ => Ok(sha256),
        }
    }

    fn wrong_size(&self) -> ChunkRefused {
        ChunkRefused::WrongSize {
            n: self.n,
            expected: self.expected,
            got: self.got,
        }
    }
}

/// Where [`verify_while_streaming`] leaves its refusal, if it refused.
pub type Refusal = std::sync::Arc<parking_lot::Mutex<Option<ChunkRefused>>>;

/// Chunk `n`'s body passed on piece by piece as it arrives, after `head` (pieces already read),
/// hashed on the way and checked against its plan length `expected` and the client's `claimed`
/// digest. Whatever breaks a rule (too long, too short, the wrong digest, the client gone) ends
/// the stream with an error *instead of its end*, so a request carrying it is aborted before
/// its body closes and the receiver keeps nothing; the reason is left in the [`Refusal`].
/// `hold` (the chunk's budget permit) is kept until the stream is done with.
pub fn verify_while_streaming<S, E, H>(
    head: Vec<Bytes>,
    body: S,
    n: u32,
    expected: u64,
    claimed: Sha256Digest,
    hold: H,
) -> (
    impl Stream<Item = Result<Bytes, std::io::Error>> + Send + 'static,
    Refusal,
)
where
    S: Stream<Item = Result<Bytes, E>> + Send + 'static,
    E: std::fmt::Display,
    H: Send + 'static,
{
    struct State<S, H> {
        head: std::collections::VecDeque<Bytes>,
        body: std::pin::Pin<Box<S>>,
        check: ChunkCheck,
        refusal: Refusal,
        _hold: H,
    }
    let refusal = Refusal::default();
    let state = State {
        head: head.into(),
        body: Box::pin(body),
        check: ChunkCheck::new(n, expected),
        refusal: refusal.clone(),
        _hold: hold,
    };
    let stream = futures_util::stream::unfold(Some(state), move |state| async move {
        let mut st = state?;
        let next = match st.head.pop_front() {
            Some(piece) => Some(Ok(piece)),
            None => st.body.next().await,
        };
        let checked = match next {
            Some(Ok(piece)) => st.check.piece(&piece).map(|()| Some(piece)),
            Some(Err(e)) => Err(ChunkRefused::Interrupted(e.to_string())),
            None => st.check.finish(Some(claimed)).map(|_| None),
        };
        match checked {
            Ok(Some(piece)) => Some((Ok(piece), Some(st))),
            Ok(None) => None,
            Err(refused) => {
                let error = std::io::Error::other(refused.to_string());
                *st.refusal.lock() = Some(refused);
                Some((Err(error), None))
            }
        }
    });
    (stream, refusal)
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures_util::stream;

    const MIB: u64 = 1024 * 1024;

    #[test]
    fn the_configured_size_is_clamped_to_fast_io_limits() {
        let plan = ChunkPlan::choose(20 * MIB, 8 * MIB, 100 * MIB, Some(550)).expect("plan");
        assert_eq!((plan.chunk_size, plan.chunks), (8 * MIB, 3));
        let small = ChunkPlan::choose(3 * MIB, 1024, 100 * MIB, None).expect("plan");
        assert_eq!(small.chunk_size, MIB);
        let capped = ChunkPlan::choose(20 * MIB, 64 * MIB, 4 * MIB, None).expect("plan");
        assert_eq!(capped.chunk_size, 4 * MIB);
    }

    #[test]
    fn chunks_grow_when_the_session_would_have_too_many() {
        let plan = ChunkPlan::choose(1000 * MIB, MIB, 100 * MIB, Some(100)).expect("plan");
        assert_eq!(plan.chunk_size, 10 * MIB);
        assert!(plan.chunks <= 100);
        assert_eq!(
            ChunkPlan::choose(1000 * MIB, MIB, 2 * MIB, Some(100)),
            Err(PlanError::TooManyChunks {
                max_chunks: 100,
                max_chunk_size: 2 * MIB
            })
        );
        assert_eq!(ChunkPlan::choose(0, MIB, MIB, None), Err(PlanError::Empty));
    }

    #[test]
    fn only_the_last_chunk_is_short_and_numbers_are_one_based() {
        let plan = ChunkPlan::new(2 * MIB + 5, MIB);
        assert_eq!(plan.chunks, 3);
        assert_eq!(plan.expected_len(1), Ok(MIB));
        assert_eq!(plan.expected_len(3), Ok(5));
        assert_eq!(
            plan.expected_len(0),
            Err(ChunkRefused::OutOfRange { n: 0, chunks: 3 })
        );
        assert_eq!(
            plan.expected_len(4),
            Err(ChunkRefused::OutOfRange { n: 4, chunks: 3 })
        );
        assert_eq!(
            plan.check_length(3, Some(6)),
            Err(ChunkRefused::WrongSize {
                n: 3,
                expected: 5,
                got: 6
            })
        );
        assert_eq!(
            plan.check_length(3, None),
            Err(ChunkRefused::LengthRequired)
        );
    }

    fn body(parts: &[&'static [u8]]) -> impl Stream<Item = Result<Bytes, String>> {
        stream::iter(
            parts
                .iter()
                .map(|p| Ok(Bytes::from_static(p)))
                .collect::<Vec<_>>(),
        )
    }

    #[tokio::test]
    async fn a_chunk_is_collected_and_hashed_and_its_digest_checked() {
        let good = Sha256Digest::of(b"hello world");
        let chunk = collect_chunk(body(&[b"hello ", b"world"]), 1, 11, Some(good), Vec::new())
            .await
            .expect("collected");
        assert_eq!(&chunk.bytes[..], b"hello world");
        assert_eq!(chunk.sha256, good);
        let wrong = Sha256Digest::of(b"other");
        let refused = collect_chunk(body(&[b"hello world"]), 2, 11, Some(wrong), Vec::new()).await;
        assert!(matches!(
            refused,
            Err(ChunkRefused::DigestMismatch { n: 2, .. })
        ));
    }

    #[tokio::test]
    async fn a_body_longer_or_shorter_than_the_plan_is_refused() {
        let long = collect_chunk(body(&[b"hello ", b"world!"]), 1, 11, None, Vec::new()).await;
        assert_eq!(
            long.map(|c| c.bytes),
            Err(ChunkRefused::WrongSize {
                n: 1,
                expected: 11,
                got: 12
            })
        );
        let short = collect_chunk(body(&[b"hello"]), 1, 11, None, Vec::new()).await;
        assert!(matches!(short, Err(ChunkRefused::WrongSize { got: 5, .. })));
        let broken = stream::iter(vec![Ok(Bytes::from_static(b"he")), Err("reset".to_owned())]);
        assert!(matches!(
            collect_chunk(broken, 1, 11, None, Vec::new()).await,
            Err(ChunkRefused::Interrupted(_))
        ));
    }

    /// Everything a streamed chunk yields, and its refusal.
    async fn stream_all(
        head: &[&'static [u8]],
        rest: Vec<Result<Bytes, String>>,
        expected: u64,
        claimed: &[u8],
    ) -> (Vec<Result<Bytes, String>>, Option<ChunkRefused>) {
        let head = head.iter().map(|p| Bytes::from_static(p)).collect();
        let (s, refusal) = verify_while_streaming(
            head,
            stream::iter(rest),
            2,
            expected,
            Sha256Digest::of(claimed),
            (),
        );
        let items = s.map(|r| r.map_err(|e| e.to_string())).collect().await;
        let refused = refusal.lock().take();
        (items, refused)
    }

    #[tokio::test]
    async fn a_streamed_chunk_passes_its_bytes_on_and_ends_only_when_they_check_out() {
        let rest = vec![Ok(Bytes::from_static(b"world"))];
        let (items, refused) = stream_all(&[b"hello ", b""], rest, 11, b"hello world").await;
        let got: Vec<Bytes> = items.into_iter().map(|r| r.expect("piece")).collect();
        assert_eq!(got.concat(), b"hello world");
        assert_eq!(refused, None);
        // The wrong digest: every byte passed on, then an error instead of the end.
        let rest = vec![Ok(Bytes::from_static(b"world"))];
        let (items, refused) = stream_all(&[b"hello "], rest, 11, b"hello there").await;
        assert_eq!(items.len(), 3);
        assert!(items[2].is_err(), "{items:?}");
        assert!(matches!(
            refused,
            Some(ChunkRefused::DigestMismatch { n: 2, .. })
        ));
        // Too long: refused at the piece that passes the length, which is not passed on.
        let rest = vec![Ok(Bytes::from_static(b"world!"))];
        let (items, refused) = stream_all(&[b"hello "], rest, 11, b"hello world").await;
        assert_eq!((items.len(), items[1].is_err()), (2, true));
        assert_eq!(
            refused,
            Some(ChunkRefused::WrongSize {
                n: 2,
                expected: 11,
                got: 12
            })
        );
        // Too short, and a client gone mid-body.
        let (items, refused) = stream_all(&[b"hello"], vec![], 11, b"hello").await;
        assert!(items.last().is_some_and(Result::is_err));
        assert!(matches!(
            refused,
            Some(ChunkRefused::WrongSize { got: 5, .. })
        ));
        let rest = vec![Err("reset".to_owned())];
        let (items, refused) = stream_all(&[b"he"], rest, 11, b"hello world").await;
        assert!(items.last().is_some_and(Result::is_err));
        assert!(matches!(refused, Some(ChunkRefused::Interrupted(_))));
    }
}
