//! The `assembling` step (§7.7, §7.9): the chunk files become one blob.
//!
//! Chunks are concatenated into a temp file while hashing, size and the optional whole-file
//! hash are verified, and the result is renamed to `blobs/<session id>`; a single chunk is
//! renamed directly, its hash already known from ingest.

use std::io::{Read, Write};

use sha2::{Digest, Sha256};

use super::chunks;
use super::sessions::{self, Kind, SessionRow};
use crate::emulator::state::EmulatorState;
use crate::emulator::transport::error::ApiError;

/// Why assembly failed: the `status_message` of `assembly_failed`.
pub struct AssemblyFailure(pub String);

impl From<ApiError> for AssemblyFailure {
    fn from(e: ApiError) -> Self {
        Self(e.to_string())
    }
}

/// Assembles the session's chunks into `blobs/<session id>` and records size and hash.
pub async fn assemble(state: &EmulatorState, s: &SessionRow) -> Result<(), AssemblyFailure> {
    let sid = s.id.clone();
    let chunks = state.store.call(move |c| chunks::list(c, &sid)).await?;
    let blob = state.blobs.blob_path(&s.id);
    let (size, sha256) = if chunks.len() == 1 {
        // One chunk (a one-chunk session): rename, hash already known. A file received whole
        // (single-call, batch, stream) has no chunk file: it is at the blob's path already.
        let src = state.blobs.chunk_path(&s.id, chunks[0].order);
        match tokio::fs::rename(&src, &blob).await {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                if tokio::fs::metadata(&blob).await.is_err() {
                    return Err(AssemblyFailure("chunk data is missing".into()));
                }
            }
            Err(e) => return Err(ApiError::from(e).into()),
        }
        (chunks[0].size, chunks[0].sha256.clone())
    } else {
        let paths: Vec<_> = chunks
            .iter()
            .map(|c| state.blobs.chunk_path(&s.id, c.order))
            .collect();
        let tmp = state.blobs.tmp_path();
        let target = blob.clone();
        tokio::task::spawn_blocking(move || concat(&paths, &tmp, &target))
            .await
            .map_err(ApiError::from)?
            .map_err(ApiError::from)?
    };
    if let Some(expected) = s.size
        && s.kind != Kind::Stream
        && expected != size
    {
        return Err(AssemblyFailure(format!(
            "chunks ({size}) do not match size ({expected})"
        )));
    }
    if let Some(h) = s.hash.as_deref().filter(|h| !h.is_empty()) {
        let algo = s.hash_algo.as_deref().unwrap_or("sha256");
        if algo.eq_ignore_ascii_case("sha256") && !h.eq_ignore_ascii_case(&sha256) {
            let _ = tokio::fs::remove_file(&blob).await;
            return Err(AssemblyFailure(format!(
                "hash mismatch: expected {h}, got {sha256}"
            )));
        }
    }
    let sid = s.id.clone();
    state
        .store
        .call(move |c| sessions::set_blob(c, &sid, &sid, size, &sha256))
        .await?;
    Ok(())
}

/// Concatenates `paths` into `tmp` and renames it to `target`, returning size and SHA-256.
/// The copy (kernel-side `copy_file_range` through `std::io::copy`) and the hashing read run on
/// two threads, so assembly costs about one pass over the data instead of two.
fn concat(
    paths: &[std::path::PathBuf],
    tmp: &std::path::Path,
    target: &std::path::Path,
) -> std::io::Result<(u64, String)> {
    let hash_paths = paths.to_vec();
    let hasher = std::thread::spawn(move || -> std::io::Result<String> {
        let mut hasher = Sha256::new();
        let mut buf = vec![0u8; 1 << 20];
        for p in &hash_paths {
            let mut f = std::fs::File::open(p)?;
            loop {
                let n = f.read(&mut buf)?;
                if n == 0 {
                    break;
                }
                hasher.update(&buf[..n]);
            }
        }
        Ok(hex::encode(hasher.finalize()))
    });
    let mut out = std::fs::File::create(tmp)?;
    let mut total = 0u64;
    for p in paths {
        total += std::io::copy(&mut std::fs::File::open(p)?, &mut out)?;
    }
    out.flush()?;
    drop(out);
    let sha256 = hasher
        .join()
        .map_err(|_| std::io::Error::other("hashing thread panicked"))??;
    std::fs::rename(tmp, target)?;
    Ok((total, sha256))
}
