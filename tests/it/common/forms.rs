//! Helpers for the form-upload tests: build multipart posts as a browser does, post them through
//! the harness (so every response is leak-scanned), and inspect what Fast.io (the emulator)
//! holds through the gateway's own client.

use std::time::Duration;

use bytes::Bytes;
use futures_util::StreamExt;
use reqwest::multipart::{Form, Part};
use sha2::{Digest, Sha256};

use super::{Gateway, Recorded, wait_until};
use fastgate::fastio::{ListQuery, Node, NodeType, PageSize};

/// A file part named `file` with `filename`, as a browser sends it.
pub fn file_part(filename: &str, data: Vec<u8>) -> Part {
    Part::bytes(data)
        .file_name(filename.to_owned())
        .mime_str("application/octet-stream")
        .expect("mime")
}

/// A form with the stand-alone page's `workspace` and `folder` fields, then the files.
pub fn form_for(gw: &Gateway, files: Vec<(&str, Vec<u8>)>) -> Form {
    files.into_iter().fold(
        Form::new()
            .text("workspace", gw.workspace.clone())
            .text("folder", "root"),
        |form, (name, data)| form.part("file", file_part(name, data)),
    )
}

/// POSTs `form` to `path` with our Origin; asks for JSON when `json`.
pub async fn post_form(gw: &Gateway, path: &str, form: Form, json: bool) -> Recorded {
    let mut request = gw
        .client
        .post(format!("{}{path}", gw.url))
        .header("origin", gw.origin())
        .multipart(form);
    if json {
        request = request.header("accept", "application/json");
    }
    gw.send(request).await
}

/// Every node in the workspace's root folder.
pub async fn root_nodes(gw: &Gateway) -> Vec<Node> {
    let query = ListQuery {
        page_size: PageSize::P500,
        ..ListQuery::default()
    };
    gw.state
        .fastio
        .list_folder(&gw.workspace, "root", &query)
        .await
        .expect("listing")
        .nodes
}

/// The files (not folders) in the root, by name.
pub async fn root_files(gw: &Gateway) -> Vec<Node> {
    root_nodes(gw)
        .await
        .into_iter()
        .filter(|n| n.node_type == NodeType::File)
        .collect()
}

/// Downloads `node` through the client and returns the SHA-256 of its bytes and their count.
pub async fn download_sha(gw: &Gateway, node: &str) -> (String, u64) {
    let fastio = &gw.state.fastio;
    let token = fastio
        .request_read(&gw.workspace, node)
        .await
        .expect("read token");
    let download = fastio
        .read(&gw.workspace, node, &token, None)
        .await
        .expect("download");
    let mut body = download.body;
    let mut hash = Sha256::new();
    let mut len = 0u64;
    while let Some(chunk) = body.next().await {
        let chunk: Bytes = chunk.expect("chunk");
        len += chunk.len() as u64;
        hash.update(&chunk);
    }
    (hex::encode(hash.finalize()), len)
}

/// Waits until the emulator lists no upload session at all (it lists every session not
/// `stored`, failed ones included; cancelled ones are gone); panics with the sessions left.
pub async fn wait_until_no_sessions(gw: &Gateway, within: Duration) {
    wait_until("no upload session", within, || async {
        let open = gw.state.fastio.list_uploads().await.expect("sessions");
        if open.is_empty() { Ok(()) } else { Err(open) }
    })
    .await;
}

/// Waits until at least one upload session is open (uploading).
pub async fn wait_until_a_session_is_open(gw: &Gateway, within: Duration) {
    wait_until("an open upload session", within, || async {
        let sessions = gw.state.fastio.list_uploads().await.expect("sessions");
        let open = sessions
            .iter()
            .any(|s| !s.status.is_failed() && s.status.as_str() != "stored");
        if open { Ok(()) } else { Err(sessions) }
    })
    .await;
}

/// The `files` of a JSON action result.
pub fn files_of(body: &serde_json::Value) -> Vec<serde_json::Value> {
    body["data"]["files"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}
