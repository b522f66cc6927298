//! The end both upload paths share: wait until Fast.io has stored a session's file, then check
//! the stored node against what the gateway knows it sent (size, and SHA-256 when it has one). A
//! file is reported stored only after [`verify`] says so.

use std::time::Duration;

use super::error::FileError;
use crate::fastio;

/// What the gateway knows about the bytes it sent.
#[derive(Clone, Copy, Debug)]
pub struct Expected<'a> {
    /// Bytes sent.
    pub size: u64,
    /// SHA-256 of the whole file, lower-case hex, when the gateway saw the bytes in order (the
    /// form path); the JS path sends chunks in any order and relies on Fast.io's per-chunk check.
    pub sha256: Option<&'a str>,
}

/// A stored file that passed [`verify`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredFile {
    /// The node's id.
    pub node: String,
    /// The name Fast.io stored it under.
    pub name: String,
    /// Its size in bytes.
    pub size: u64,
    /// Its SHA-256 (Fast.io's, or the one sent when Fast.io names none).
    pub sha256: Option<String>,
}

/// Long-polls session `id` until `stored` and names the stored node. Fails when the session
/// ends otherwise or `timeout` passes; the caller decides whether to cancel it.
pub async fn wait_for_node(
    client: &fastio::Client,
    id: &str,
    timeout: Duration,
) -> Result<String, FileError> {
    let session = client.wait_until_stored(id, timeout).await?;
    session.new_file_id.ok_or_else(|| FileError::Mismatch {
        what: "Fast.io reported it stored but named no file".into(),
    })
}

/// Compares stored node `node_id` with what was sent.
pub async fn verify(
    client: &fastio::Client,
    workspace: &str,
    node_id: String,
    expected: Expected<'_>,
) -> Result<StoredFile, FileError> {
    let node = client.node(workspace, &node_id).await?;
    let stored_hash = node
        .hash
        .filter(|_| node.hash_algo.as_deref().is_none_or(|a| a == "sha256"));
    let mismatch = match (node.size, stored_hash.as_deref(), expected.sha256) {
        (Some(size), _, _) if size != expected.size => Some(format!(
            "Fast.io stored {size} bytes, {} were sent",
            expected.size
        )),
        (_, Some(stored), Some(sent)) if !stored.eq_ignore_ascii_case(sent) => {
            Some("its SHA-256 differs from the bytes sent".to_owned())
        }
        (_, None, _) => {
            tracing::warn!(node = %node_id, "stored node carries no hash to verify");
            None
        }
        _ => None,
    };
    if let Some(what) = mismatch {
        // The node stays (deleting could destroy older versions of a same-name file), but it is
        // never reported stored.
        tracing::error!(node = %node_id, what, "stored file does not match the upload");
        return Err(FileError::Mismatch { what });
    }
    Ok(StoredFile {
        node: node_id,
        name: node.name,
        size: expected.size,
        sha256: stored_hash.or_else(|| expected.sha256.map(str::to_owned)),
    })
}
