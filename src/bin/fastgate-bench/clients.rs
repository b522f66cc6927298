//! The uploads the benchmark times, each ending with the file stored and its SHA-256 checked:
//! through the gateway (form action, JSON upload API) and straight to the emulator with the
//! same HTTP stack (stream session; chunked session with long-poll or with status polls).

use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::Engine as _;
use fastgate::fastio::{self, UploadTarget};
use serde_json::Value;
use sha2::{Digest, Sha256};
use tokio::sync::Semaphore;

use crate::payload::File;
use crate::procs::Gateway;

/// How a chunked client learns that its file is stored.
#[derive(Clone, Copy, Debug)]
pub enum Poll {
    /// Long-poll the session (`wait`), as fastgate does.
    LongPoll,
    /// Ask for the status every so often, as the official CLI does (2 s).
    Every(Duration),
}

/// Deletes every file at the top of `workspace` for good, outside any timed window. The emulator
/// writes each stored GiB to its disk; purged at once, the page cache drops those dirty pages
/// instead of writing them back during the next upload, whose wall time the writeback (several
/// GiB per round) otherwise made swing by up to 2×.
pub async fn purge_top_files(direct: &fastio::Client, workspace: &str) -> Result<(), String> {
    let mut query = fastio::ListQuery::default();
    let mut files = Vec::new();
    loop {
        let page = direct
            .list_folder_of::<fastio::ListedNode>(workspace, "root", &query)
            .await
            .map_err(|e| format!("listing before the purge: {e}"))?;
        files.extend(
            page.nodes
                .into_iter()
                .filter(|n| n.node_type == fastio::NodeType::File)
                .map(|n| n.id),
        );
        match page.next_cursor {
            Some(cursor) => query.cursor = Some(cursor),
            None => break,
        }
    }
    for id in &files {
        direct
            .delete_node(workspace, id)
            .await
            .map_err(|e| format!("deleting {id}: {e}"))?;
    }
    if !files.is_empty() {
        direct
            .empty_trash(workspace)
            .await
            .map_err(|e| format!("emptying the trash: {e}"))?;
    }
    Ok(())
}

/// Finds the first string field `key` anywhere in `value`.
fn find_str<'a>(value: &'a Value, key: &str) -> Option<&'a str> {
    match value {
        Value::Object(map) => map
            .get(key)
            .and_then(Value::as_str)
            .or_else(|| map.values().find_map(|v| find_str(v, key))),
        Value::Array(items) => items.iter().find_map(|v| find_str(v, key)),
        _ => None,
    }
}

fn check_hash(receipt: &Value, expected: &str) -> Result<(), String> {
    match find_str(receipt, "sha256").or_else(|| find_str(receipt, "hash")) {
        Some(hash) if hash.eq_ignore_ascii_case(expected) => Ok(()),
        Some(hash) => Err(format!("hash mismatch: stored {hash}, sent {expected}")),
        None => Err(format!("no hash in the receipt: {receipt}")),
    }
}

async fn json_of(response: reqwest::Response, what: &str) -> Result<Value, String> {
    let status = response.status();
    let body = response.bytes().await.map_err(|e| e.to_string())?;
    let value: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    if !status.is_success() {
        return Err(format!(
            "{what}: HTTP {status}: {}",
            String::from_utf8_lossy(&body)
                .chars()
                .take(300)
                .collect::<String>()
        ));
    }
    Ok(value)
}

/// A multipart form post of `file` to the folder page's `?/upload` action.
pub async fn gateway_form(
    http: &reqwest::Client,
    gateway: &Gateway,
    workspace: &str,
    file: File,
    name: &str,
    sha256: &str,
) -> Result<Duration, String> {
    let started = Instant::now();
    let part = reqwest::multipart::Part::stream_with_length(
        reqwest::Body::wrap_stream(file.stream()),
        file.size,
    )
    .file_name(name.to_owned())
    .mime_str("application/octet-stream")
    .map_err(|e| e.to_string())?;
    let response = http
        .post(format!("{}/w/{workspace}/root?/upload", gateway.url))
        .header("origin", &gateway.origin)
        .header("accept", "application/json")
        .multipart(reqwest::multipart::Form::new().part("file", part))
        .send()
        .await
        .map_err(|e| e.to_string())?;
    let receipt = json_of(response, "form upload").await?;
    if receipt["type"] != "success" {
        return Err(format!("form upload failed: {receipt}"));
    }
    check_hash(&receipt, sha256)?;
    Ok(started.elapsed())
}

/// The JSON upload API as `upload.js` drives it: create, PUT chunks (`parallel` in flight, each
/// with its `Content-Digest`), complete.
pub async fn gateway_api(
    http: &reqwest::Client,
    gateway: &str,
    workspace: &str,
    file: File,
    name: &str,
    sha256: &str,
) -> Result<Duration, String> {
    let started = Instant::now();
    let created = http
        .post(format!("{gateway}/api/uploads"))
        .json(&serde_json::json!({
            "workspace": workspace, "folder": "root", "name": name, "size": file.size,
        }))
        .send()
        .await
        .map_err(|e| e.to_string())?;
    let created = json_of(created, "create upload").await?;
    let id = created["id"].as_str().ok_or("no id")?.to_owned();
    let token = created["token"].as_str().ok_or("no token")?.to_owned();
    let chunk = created["chunk_size"].as_u64().ok_or("no chunk_size")?;
    let parallel = created["parallel"].as_u64().unwrap_or(3).max(1) as usize;
    let chunks = file.size.div_ceil(chunk);
    let gate = Arc::new(Semaphore::new(parallel));
    let mut tasks = Vec::new();
    for n in 1..=chunks {
        let permit = gate
            .clone()
            .acquire_owned()
            .await
            .map_err(|e| e.to_string())?;
        let body = file.range((n - 1) * chunk, chunk as usize);
        let digest = base64::engine::general_purpose::STANDARD.encode(Sha256::digest(&body));
        let request = http
            .put(format!("{gateway}/api/uploads/{id}/chunks/{n}"))
            .header("upload-token", &token)
            .header("content-digest", format!("sha-256=:{digest}:"))
            .body(body.clone());
        let retry = http
            .put(format!("{gateway}/api/uploads/{id}/chunks/{n}"))
            .header("upload-token", &token)
            .header("content-digest", format!("sha-256=:{digest}:"));
        tasks.push(tokio::spawn(async move {
            // A busy gateway (its in-flight budget full) answers 429 with Retry-After; the chunk
            // is sent again after it, as upload.js does.
            let mut request = request;
            let mut tries = 0;
            let result = loop {
                match request.send().await {
                    Ok(r) if r.status().is_success() => break Ok(()),
                    Ok(r) if r.status() == reqwest::StatusCode::TOO_MANY_REQUESTS => {
                        let wait = r
                            .headers()
                            .get("retry-after")
                            .and_then(|v| v.to_str().ok())
                            .and_then(|v| v.parse().ok())
                            .unwrap_or(1u64);
                        tokio::time::sleep(Duration::from_secs(wait)).await;
                        request = retry.try_clone().ok_or("cannot resend")?.body(body.clone());
                    }
                    Ok(r) => break Err(format!("chunk {n}: HTTP {}", r.status())),
                    // A busy answer can come before the body was read, and the gateway then
                    // closes the connection under the body still being sent: the client sees
                    // a transport error. A chunk is idempotent by its number, so upload.js
                    // sends it again, and so does this client (a few times).
                    Err(e) if tries < 5 => {
                        tries += 1;
                        let _ = e;
                        tokio::time::sleep(Duration::from_millis(500)).await;
                        request = retry.try_clone().ok_or("cannot resend")?.body(body.clone());
                    }
                    Err(e) => break Err(format!("chunk {n}: {e}")),
                }
            };
            drop(permit);
            result
        }));
    }
    for task in tasks {
        task.await.map_err(|e| e.to_string())??;
    }
    let completed = http
        .post(format!("{gateway}/api/uploads/{id}/complete"))
        .header("upload-token", &token)
        .send()
        .await
        .map_err(|e| e.to_string())?;
    let receipt = json_of(completed, "complete").await?;
    check_hash(&receipt, sha256)?;
    Ok(started.elapsed())
}

/// Checks that the stored node of `session` has the SHA-256 `sha256`.
pub async fn verify_stored(
    client: &fastio::Client,
    workspace: &str,
    session: fastio::UploadSession,
    sha256: &str,
) -> Result<(), String> {
    let node = session.new_file_id.ok_or("stored without a node id")?;
    let node = client
        .node(workspace, &node)
        .await
        .map_err(|e| e.to_string())?;
    match node.hash {
        Some(hash) if hash.eq_ignore_ascii_case(sha256) => Ok(()),
        other => Err(format!("stored hash {other:?}, sent {sha256}")),
    }
}

fn target(workspace: &str) -> UploadTarget {
    UploadTarget {
        workspace: workspace.to_owned(),
        folder: "root".to_owned(),
    }
}

/// [`direct_stream`], answering the stored node's id.
pub async fn direct_stream_node(
    client: &fastio::Client,
    workspace: &str,
    file: File,
    name: &str,
    sha256: &str,
) -> Result<String, String> {
    let id = client
        .create_stream_upload(&target(workspace), name, file.size)
        .await
        .map_err(|e| e.to_string())?;
    client
        .upload_stream(&id, file.stream(), None)
        .await
        .map_err(|e| e.to_string())?;
    let session = client
        .wait_until_stored(&id, Duration::from_secs(600))
        .await
        .map_err(|e| e.to_string())?;
    let node = session
        .new_file_id
        .clone()
        .ok_or("stored without a node id")?;
    verify_stored(client, workspace, session, sha256).await?;
    Ok(node)
}

/// Straight to the emulator as one stream session (what the form path does upstream).
pub async fn direct_stream(
    client: &fastio::Client,
    workspace: &str,
    file: File,
    name: &str,
    sha256: &str,
) -> Result<Duration, String> {
    let started = Instant::now();
    let id = client
        .create_stream_upload(&target(workspace), name, file.size)
        .await
        .map_err(|e| e.to_string())?;
    client
        .upload_stream(&id, file.stream(), None)
        .await
        .map_err(|e| e.to_string())?;
    let session = client
        .wait_until_stored(&id, Duration::from_secs(600))
        .await
        .map_err(|e| e.to_string())?;
    verify_stored(client, workspace, session, sha256).await?;
    Ok(started.elapsed())
}

/// Straight to the emulator as a chunked session: `chunk`-byte chunks, `parallel` in flight,
/// completion learnt by `poll`.
pub async fn direct_chunked(
    client: &fastio::Client,
    workspace: &str,
    file: File,
    name: &str,
    sha256: &str,
    (chunk, parallel, poll): (u64, usize, Poll),
) -> Result<Duration, String> {
    let started = Instant::now();
    let id = client
        .create_chunked_upload(&target(workspace), name, file.size, Some(sha256))
        .await
        .map_err(|e| e.to_string())?;
    let gate = Arc::new(Semaphore::new(parallel));
    let mut tasks = Vec::new();
    for n in 1..=file.size.div_ceil(chunk) {
        let permit = gate
            .clone()
            .acquire_owned()
            .await
            .map_err(|e| e.to_string())?;
        let body = file.range((n - 1) * chunk, chunk as usize);
        let hash = hex::encode(Sha256::digest(&body));
        let (client, id) = (client.clone(), id.clone());
        tasks.push(tokio::spawn(async move {
            let result = client.upload_chunk(&id, n as u32, body, &hash).await;
            drop(permit);
            result.map_err(|e| format!("chunk {n}: {e}"))
        }));
    }
    for task in tasks {
        task.await.map_err(|e| e.to_string())??;
    }
    client
        .complete_upload(&id)
        .await
        .map_err(|e| e.to_string())?;
    let session = match poll {
        Poll::LongPoll => client
            .wait_until_stored(&id, Duration::from_secs(600))
            .await
            .map_err(|e| e.to_string())?,
        Poll::Every(every) => loop {
            let session = client
                .upload_details(&id, None)
                .await
                .map_err(|e| e.to_string())?;
            if session.status.as_str() == "stored" {
                break session;
            }
            if session.status.is_failed() {
                return Err(format!("upload ended {}", session.status.as_str()));
            }
            tokio::time::sleep(every).await;
        },
    };
    verify_stored(client, workspace, session, sha256).await?;
    Ok(started.elapsed())
}
