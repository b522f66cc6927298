//! Deterministic test files made on the fly: block `i` of file `seed` is a fixed pseudo-random
//! 1 MiB pattern tagged with `(seed, i)`, so every block differs, nothing is held whole in
//! memory, and the expected SHA-256 is computed once up front.

use std::io;
use std::sync::{Arc, OnceLock};

use bytes::Bytes;
use futures_util::Stream;
use sha2::{Digest, Sha256};

/// Bytes per generated block.
pub const BLOCK: usize = 1024 * 1024;

fn pattern() -> &'static Arc<Vec<u8>> {
    static PATTERN: OnceLock<Arc<Vec<u8>>> = OnceLock::new();
    PATTERN.get_or_init(|| {
        let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
        let mut out = Vec::with_capacity(BLOCK);
        while out.len() < BLOCK {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            out.extend_from_slice(&state.to_le_bytes());
        }
        Arc::new(out)
    })
}

/// A generated file: `size` bytes identified by `seed`.
#[derive(Clone, Copy, Debug)]
pub struct File {
    /// Distinguishes files of the same size.
    pub seed: u64,
    /// Length in bytes.
    pub size: u64,
}

impl File {
    /// The bytes from `offset`, at most `len` of them (never crossing the end).
    pub fn range(&self, offset: u64, len: usize) -> Bytes {
        let len = len.min((self.size - offset) as usize);
        let mut out = Vec::with_capacity(len);
        let mut at = offset;
        while out.len() < len {
            let block = at / BLOCK as u64;
            let inner = (at % BLOCK as u64) as usize;
            let take = (BLOCK - inner).min(len - out.len());
            let start = out.len();
            out.extend_from_slice(&pattern()[inner..inner + take]);
            // The tag lives in the first 16 bytes of each block.
            let tag = [self.seed.to_le_bytes(), block.to_le_bytes()].concat();
            for (i, byte) in out[start..].iter_mut().enumerate() {
                let pos = inner + i;
                if pos >= 16 {
                    break;
                }
                *byte ^= tag[pos];
            }
            at += take as u64;
        }
        Bytes::from(out)
    }

    /// The whole file as a stream of `BLOCK`-sized pieces.
    pub fn stream(self) -> impl Stream<Item = Result<Bytes, io::Error>> + Send + Sync + 'static {
        futures_util::stream::unfold(0u64, move |offset| async move {
            (offset < self.size).then(|| {
                let piece = self.range(offset, BLOCK);
                let next = offset + piece.len() as u64;
                (Ok(piece), next)
            })
        })
    }

    /// SHA-256 of the whole file, hex.
    pub fn sha256(&self) -> String {
        let mut hasher = Sha256::new();
        let mut offset = 0;
        while offset < self.size {
            let piece = self.range(offset, BLOCK);
            offset += piece.len() as u64;
            hasher.update(&piece);
        }
        hex::encode(hasher.finalize())
    }

    /// Writes the file to `path` (for curl-driven peers).
    pub fn write_to(&self, path: &std::path::Path) -> io::Result<()> {
        use std::io::Write as _;
        let mut out = io::BufWriter::new(std::fs::File::create(path)?);
        let mut offset = 0;
        while offset < self.size {
            let piece = self.range(offset, BLOCK);
            offset += piece.len() as u64;
            out.write_all(&piece)?;
        }
        out.flush()
    }
}
