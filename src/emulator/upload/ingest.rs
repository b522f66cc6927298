//! Streaming bodies to disk while hashing them (SHA-256), never holding a whole chunk or file in
//! memory (§11; DESIGN §6).
//!
//! The async side only forwards `Bytes` through a small bounded channel; a blocking thread hashes
//! and writes through a 1 MiB buffer. That keeps per-byte work off the runtime and overlaps
//! receiving with hashing and writing.

use std::io::Write;
use std::path::PathBuf;

use bytes::Bytes;
use futures_util::{Stream, StreamExt};
use sha2::{Digest, Sha256};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use crate::emulator::transport::error::ApiError;

/// A file that was fully written.
#[derive(Debug)]
pub struct Ingested {
    /// Where the bytes are (a temp path until the caller renames it).
    pub path: PathBuf,
    /// Byte count.
    pub size: u64,
    /// Lowercase hex SHA-256.
    pub sha256: String,
}

/// Receives a body piece by piece and writes it to `path`.
pub struct FileSink {
    tx: Option<mpsc::Sender<Bytes>>,
    writer: JoinHandle<std::io::Result<String>>,
    path: PathBuf,
    size: u64,
    max: Option<u64>,
}

impl FileSink {
    /// Starts writing to `path`; more than `max` bytes fail with 413.
    pub fn create(path: PathBuf, max: Option<u64>) -> Self {
        let (tx, mut rx) = mpsc::channel::<Bytes>(32);
        let file_path = path.clone();
        let writer = tokio::task::spawn_blocking(move || {
            let file = std::fs::File::create(&file_path)?;
            let mut out = std::io::BufWriter::with_capacity(1 << 20, file);
            let mut hasher = Sha256::new();
            while let Some(piece) = rx.blocking_recv() {
                hasher.update(&piece);
                out.write_all(&piece)?;
            }
            out.flush()?;
            Ok(hex::encode(hasher.finalize()))
        });
        Self {
            tx: Some(tx),
            writer,
            path,
            size: 0,
            max,
        }
    }

    /// Appends a piece; fails past the limit or when the disk write failed.
    pub async fn write(&mut self, piece: Bytes) -> Result<(), ApiError> {
        self.size += piece.len() as u64;
        if let Some(max) = self.max
            && self.size > max
        {
            return Err(ApiError::TooLarge(format!("body exceeds {max} bytes")));
        }
        let Some(tx) = &self.tx else {
            return Err(ApiError::Internal("sink closed".into()));
        };
        if tx.send(piece).await.is_err() {
            self.tx = None;
            return Err(ApiError::Internal("file writer stopped".into()));
        }
        Ok(())
    }

    /// Waits for the writer and returns the file's size and hash.
    pub async fn finish(mut self) -> Result<Ingested, ApiError> {
        self.tx = None;
        match (&mut self.writer).await? {
            Ok(sha256) => Ok(Ingested {
                path: self.path.clone(),
                size: self.size,
                sha256,
            }),
            Err(e) => {
                let _ = tokio::fs::remove_file(&self.path).await;
                Err(e.into())
            }
        }
    }

    /// Stops writing and removes the partial file.
    pub async fn abort(mut self) {
        self.tx = None;
        let _ = (&mut self.writer).await;
        let _ = tokio::fs::remove_file(&self.path).await;
    }
}

/// The 400/1605 answer to a multipart body that cannot be read.
pub fn multipart_err(e: impl std::fmt::Display) -> ApiError {
    ApiError::invalid(format!("bad multipart body: {e}"))
}

/// Streams a body (a multipart field or a raw request body) into `sink`: the finished file, or
/// the sink aborted (its partial file removed) and the error. `broken` maps a read error.
pub async fn stream_to_file<E>(
    body: impl Stream<Item = Result<Bytes, E>>,
    mut sink: FileSink,
    broken: impl Fn(E) -> ApiError,
) -> Result<Ingested, ApiError> {
    let mut body = std::pin::pin!(body);
    let copied = async {
        while let Some(piece) = body.next().await {
            sink.write(piece.map_err(&broken)?).await?;
        }
        Ok(())
    }
    .await;
    match copied {
        Ok(()) => sink.finish().await,
        Err(e) => {
            sink.abort().await;
            Err(e)
        }
    }
}

/// Checks an optional client hash against what was received (§11: mismatch → 400/1605).
pub fn verify_hash(
    expected: Option<&str>,
    algo: Option<&str>,
    actual_sha256: &str,
) -> Result<(), ApiError> {
    let Some(expected) = expected.filter(|h| !h.is_empty()) else {
        return Ok(());
    };
    match algo.unwrap_or("sha256").to_ascii_lowercase().as_str() {
        "sha256" => {
            if expected.eq_ignore_ascii_case(actual_sha256) {
                Ok(())
            } else {
                Err(ApiError::invalid(
                    "bad hash: the data does not match the given sha256",
                ))
            }
        }
        // Only sha256 is computed while streaming; other algorithms are accepted unchecked.
        "md5" | "sha1" | "sha384" => Ok(()),
        other => Err(ApiError::invalid(format!("unsupported hash_algo {other}"))),
    }
}
