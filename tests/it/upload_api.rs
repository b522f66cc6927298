//! The JSON upload API without a browser: stateless tokens served by any replica, the precise
//! 4xx of every chunk that does not fit its plan (and that nothing of it is stored), admission
//! control, nested folders, type checks on the name and on the first bytes.

use std::time::Duration;

use crate::common::payload::{MIB, bytes};
use crate::common::{Gateway, Recorded, TestApp, spawn_app_with, spawn_second_gateway, wait_until};
use bytes::Bytes;
use fastgate::upload::digest::Sha256Digest;
use fastgate::upload::token::{TokenKey, UploadClaims};
use serde_json::{Value, json};

const SECRET: &str = "an-upload-api-test-secret-of-more-than-32-bytes";

/// The vars every gateway of this file runs with: small chunks so files stay small.
const VARS: &[(&str, &str)] = &[("FASTGATE_SECRET", SECRET), ("FASTGATE_CHUNK_SIZE", "1MiB")];

async fn gateway() -> Gateway {
    spawn_app_with(VARS, |_| {}).await
}

async fn create(app: &TestApp, body: Value) -> Recorded {
    app.send(
        app.client
            .post(format!("{}/api/uploads", app.url))
            .json(&body),
    )
    .await
}

async fn create_ok(gw: &Gateway, name: &str, size: usize) -> Value {
    let r = create(
        gw,
        json!({"workspace": gw.workspace, "folder": "root", "name": name, "size": size}),
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.text());
    r.json()
}

async fn put_chunk(
    app: &TestApp,
    ticket: &Value,
    n: u32,
    bytes: &[u8],
    digest: Option<String>,
) -> Recorded {
    let id = ticket["id"].as_str().expect("id");
    let mut request = app
        .client
        .put(format!("{}/api/uploads/{id}/chunks/{n}", app.url))
        .header("Upload-Token", ticket["token"].as_str().expect("token"))
        // A refused chunk is answered before its body is read, and the gateway then closes the
        // connection without saying so: a keep-alive client must not send the next request on it.
        .header("connection", "close")
        .body(bytes.to_vec());
    if let Some(digest) = digest {
        request = request.header("Content-Digest", digest);
    }
    app.send(request).await
}

fn digest(bytes: &[u8]) -> String {
    Sha256Digest::of(bytes).to_content_digest()
}

fn chunk(file: &[u8], n: usize) -> &[u8] {
    let start = (n - 1) * MIB;
    &file[start..(start + MIB).min(file.len())]
}

async fn post_with_token(app: &TestApp, ticket: &Value, suffix: &str) -> Recorded {
    let id = ticket["id"].as_str().expect("id");
    app.send(
        app.client
            .post(format!("{}/api/uploads/{id}{suffix}", app.url))
            .header("Upload-Token", ticket["token"].as_str().expect("token")),
    )
    .await
}

async fn state_of(app: &TestApp, ticket: &Value) -> Value {
    let id = ticket["id"].as_str().expect("id");
    let r = app
        .send(
            app.client
                .get(format!("{}/api/uploads/{id}", app.url))
                .header("Upload-Token", ticket["token"].as_str().expect("token")),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    r.json()
}

fn error_code(r: &Recorded) -> String {
    r.json()["error"]["code"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

/// Chunk POSTs that reached the emulator, any status.
fn upstream_chunk_posts(gw: &Gateway) -> u64 {
    gw.emulator
        .stats()
        .total("POST", "/current/upload/{id}/chunk/")
}

#[tokio::test(flavor = "multi_thread")]
async fn one_upload_served_by_two_replicas_alternately_is_stored_with_its_hash() {
    let a = gateway().await;
    let b = spawn_second_gateway(&a, VARS).await;
    let file = bytes(3 * MIB + 12_345, 1);
    let ticket = create_ok(&a, "replicas.bin", file.len()).await;
    assert_eq!(ticket["chunk_size"], MIB);
    assert_eq!(ticket["chunks"], 4);
    assert_eq!(ticket["parallel"], 3);
    for n in 1..=4 {
        let replica: &TestApp = if n % 2 == 1 { &a } else { &b };
        let r = put_chunk(
            replica,
            &ticket,
            n as u32,
            chunk(&file, n),
            Some(digest(chunk(&file, n))),
        )
        .await;
        assert_eq!(r.status, 200, "chunk {n}: {}", r.text());
    }
    let before = state_of(&b, &ticket).await;
    assert_eq!(before["received"], json!([1, 2, 3, 4]));
    // The gateway's own word, never Fast.io's (`ready`, `uploading`, `assemble`, …).
    assert_eq!(before["state"], "receiving");
    assert_eq!(
        upstream_chunk_posts(&a),
        4,
        "one upstream chunk POST per chunk"
    );
    let r = post_with_token(&b, &ticket, "/complete").await;
    assert_eq!(r.status, 200, "{}", r.text());
    let receipt = r.json();
    assert_eq!(receipt["sha256"], Sha256Digest::of(&file).to_hex());
    assert_eq!(receipt["size"], file.len());
    assert_eq!(receipt["name"], "replicas.bin");
    assert_eq!(state_of(&a, &ticket).await["state"], "stored");
    let node = a
        .state
        .fastio
        .node(&a.workspace, receipt["node_id"].as_str().expect("node"))
        .await
        .expect("stored node");
    assert_eq!(node.size, Some(file.len() as u64));
    // Completing again is harmless: the same receipt.
    let again = post_with_token(&a, &ticket, "/complete").await;
    assert_eq!(again.json()["node_id"], receipt["node_id"]);
}

#[tokio::test(flavor = "multi_thread")]
async fn forged_expired_and_other_session_tokens_get_401_and_store_nothing() {
    let gw = gateway().await;
    let file = bytes(MIB + 10, 2);
    let ticket = create_ok(&gw, "guarded.bin", file.len()).await;
    let other = create_ok(&gw, "other.bin", file.len()).await;
    let id = ticket["id"].as_str().expect("id");

    let token = ticket["token"].as_str().expect("token");
    let (claims_part, _) = token.split_once('.').expect("two parts");
    let forged = json!({"id": id, "token": format!("{claims_part}.AAAA")});
    let r = put_chunk(&gw, &forged, 1, chunk(&file, 1), None).await;
    assert_eq!(
        (r.status.as_u16(), error_code(&r)),
        (401, "invalid_token".into())
    );

    let key = TokenKey::new(secrecy::SecretSlice::from(SECRET.as_bytes().to_vec()));
    let expired = key.sign(&UploadClaims {
        session: id.to_owned(),
        workspace: gw.workspace.clone(),
        folder: "root".into(),
        name: "guarded.bin".into(),
        size: file.len() as u64,
        chunk_size: MIB as u64,
        expires: chrono::Utc::now().timestamp() - 1,
        link: None,
        one_call: false,
    });
    let r = put_chunk(
        &gw,
        &json!({"id": id, "token": expired}),
        1,
        chunk(&file, 1),
        None,
    )
    .await;
    assert_eq!(
        (r.status.as_u16(), error_code(&r)),
        (401, "token_expired".into())
    );

    let borrowed = json!({"id": id, "token": other["token"]});
    let r = put_chunk(&gw, &borrowed, 1, chunk(&file, 1), None).await;
    assert_eq!(
        (r.status.as_u16(), error_code(&r)),
        (401, "invalid_token".into())
    );
    assert!(r.text().contains("another upload"), "{}", r.text());

    let none = gw
        .send(
            gw.client
                .put(format!("{}/api/uploads/{id}/chunks/1", gw.url))
                .header("connection", "close")
                .body(vec![0u8; 10]),
        )
        .await;
    assert_eq!(none.status, 401);

    assert_eq!(state_of(&gw, &ticket).await["received"], json!([]));
    assert_eq!(upstream_chunk_posts(&gw), 0);
    // Both sessions stay open: JS-path sessions belong to the browser's token, and a refused
    // chunk must not cost the real owner their upload.
    gw.expect_open_sessions([id, other["id"].as_str().expect("id")]);
}

#[tokio::test(flavor = "multi_thread")]
async fn chunks_out_of_range_of_the_wrong_size_or_without_length_get_precise_4xx() {
    let gw = gateway().await;
    let file = bytes(2 * MIB + 100, 3);
    let ticket = create_ok(&gw, "sizes.bin", file.len()).await;
    let id = ticket["id"].as_str().expect("id");

    for n in [0, 4] {
        let r = put_chunk(&gw, &ticket, n, &file[..100], None).await;
        assert_eq!(
            (r.status.as_u16(), error_code(&r)),
            (404, "chunk_out_of_range".into())
        );
    }
    // A middle chunk must be whole; the last exactly its remainder.
    let r = put_chunk(&gw, &ticket, 1, &file[..MIB - 1], None).await;
    assert_eq!(
        (r.status.as_u16(), error_code(&r)),
        (400, "wrong_chunk_size".into())
    );
    let mut long_last = file[2 * MIB..].to_vec();
    long_last.push(0);
    let r = put_chunk(&gw, &ticket, 3, &long_last, None).await;
    assert_eq!(
        (r.status.as_u16(), error_code(&r)),
        (400, "wrong_chunk_size".into())
    );
    assert!(r.text().contains("exactly 100 bytes"), "{}", r.text());

    // A body without a length (chunked) that sends nothing yet: the gateway refuses on the
    // headers alone. Sending bytes it never reads would race its close (a reset can swallow
    // the answer), and the connection must not be reused after the refusal.
    let unsent = futures_util::stream::pending::<Result<Bytes, std::io::Error>>();
    let refused = gw.send(
        gw.client
            .put(format!("{}/api/uploads/{id}/chunks/3", gw.url))
            .header("Upload-Token", ticket["token"].as_str().expect("token"))
            .header("connection", "close")
            .body(reqwest::Body::wrap_stream(unsent)),
    );
    let r = tokio::time::timeout(Duration::from_secs(10), refused)
        .await
        .expect("refused on the headers, without waiting for a body");
    assert_eq!(
        (r.status.as_u16(), error_code(&r)),
        (411, "length_required".into())
    );

    let r = put_chunk(&gw, &ticket, 1, chunk(&file, 1), Some("md5=:abc:".into())).await;
    assert_eq!(
        (r.status.as_u16(), error_code(&r)),
        (400, "bad_digest_header".into())
    );

    assert_eq!(state_of(&gw, &ticket).await["received"], json!([]));
    assert_eq!(upstream_chunk_posts(&gw), 0);
    // A chunk that does not fit its plan is refused; the upload itself stays resumable.
    gw.expect_open_sessions([id]);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_digest_mismatch_is_refused_and_fast_io_keeps_nothing_of_the_chunk() {
    let gw = gateway().await;
    let file = bytes(MIB + 5, 4);
    let ticket = create_ok(&gw, "digest.bin", file.len()).await;
    // Each chunk streams upstream as it arrives; one that does not match its digest is cut off
    // before its part closes, so Fast.io drops it. Both chunks, the last one first.
    for n in [2u32, 1] {
        let r = put_chunk(
            &gw,
            &ticket,
            n,
            chunk(&file, n as usize),
            Some(digest(b"something else")),
        )
        .await;
        assert_eq!(
            (r.status.as_u16(), error_code(&r)),
            (400, "digest_mismatch".into())
        );
        assert_eq!(state_of(&gw, &ticket).await["received"], json!([]));
    }
    // The right digest then passes, and completing with a chunk missing is a conflict.
    let r = put_chunk(
        &gw,
        &ticket,
        1,
        chunk(&file, 1),
        Some(digest(chunk(&file, 1))),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let r = post_with_token(&gw, &ticket, "/complete").await;
    assert_eq!(r.status, 409, "{}", r.text());
    assert!(r.text().contains("missing"), "{}", r.text());
    // Completing too early is a conflict, not a failure: the upload stays open to finish.
    gw.expect_open_sessions(ticket["id"].as_str());
    // A chunk without a digest is hashed whole before it goes up; the file is then whole.
    let r = put_chunk(&gw, &ticket, 2, chunk(&file, 2), None).await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(
        r.json()["sha256"],
        Sha256Digest::of(chunk(&file, 2)).to_hex()
    );
    let r = post_with_token(&gw, &ticket, "/complete").await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["sha256"], Sha256Digest::of(&file).to_hex());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_full_in_flight_budget_answers_429_with_retry_after_instead_of_queueing() {
    let vars = [
        ("FASTGATE_SECRET", SECRET),
        ("FASTGATE_CHUNK_SIZE", "1MiB"),
        ("FASTGATE_INFLIGHT_BUDGET", "1MiB"),
    ];
    let gw = spawn_app_with(&vars, |_| {}).await;
    let file = bytes(2 * MIB, 5);
    let ticket = create_ok(&gw, "busy.bin", file.len()).await;
    let id = ticket["id"].as_str().expect("id").to_owned();

    // Chunk 1 arrives slowly: its first half, then nothing until we say so.
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<Bytes, std::io::Error>>(2);
    let slow = tokio_stream_from(rx);
    let first = chunk(&file, 1).to_vec();
    tx.send(Ok(Bytes::from(first[..MIB / 2].to_vec())))
        .await
        .expect("send");
    let request = gw
        .client
        .put(format!("{}/api/uploads/{id}/chunks/1", gw.url))
        .header("Upload-Token", ticket["token"].as_str().expect("token"))
        .header("Content-Length", MIB.to_string())
        .body(reqwest::Body::wrap_stream(slow));
    let in_flight = tokio::spawn(request.send());
    // Wait until the gateway has admitted chunk 1 (it holds the whole budget).
    let budget = gw.state.budget.clone();
    wait_until("chunk 1 admitted", Duration::from_secs(5), || async {
        match budget.in_use() {
            0 => Err("nothing admitted"),
            _ => Ok(()),
        }
    })
    .await;

    let r = put_chunk(&gw, &ticket, 2, chunk(&file, 2), None).await;
    assert_eq!(
        (r.status.as_u16(), error_code(&r)),
        (429, "rate_limited".into())
    );
    assert_eq!(r.header("retry-after"), Some("1"));

    tx.send(Ok(Bytes::from(first[MIB / 2..].to_vec())))
        .await
        .expect("send");
    drop(tx);
    let done = in_flight.await.expect("join").expect("sent");
    assert_eq!(done.status(), 200);
    let r = put_chunk(&gw, &ticket, 2, chunk(&file, 2), None).await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert!(gw.state.budget.peak() <= MIB as u64);
    // Never completed: the test is about admission, and the session waits for its `complete`.
    gw.expect_open_sessions([&id]);
}

fn tokio_stream_from(
    mut rx: tokio::sync::mpsc::Receiver<Result<Bytes, std::io::Error>>,
) -> impl futures_util::Stream<Item = Result<Bytes, std::io::Error>> {
    futures_util::stream::poll_fn(move |cx| rx.poll_recv(cx))
}

#[tokio::test(flavor = "multi_thread")]
async fn creation_refuses_unexposed_workspaces_oversize_files_and_disallowed_names() {
    let vars = [
        ("FASTGATE_SECRET", SECRET),
        ("FASTGATE_MAX_FILE_SIZE", "5MiB"),
        ("FASTGATE_ALLOWED_TYPES", ".png,.txt"),
    ];
    let gw = spawn_app_with(&vars, |_| {}).await;
    let hidden = spawn_app_with(&[("FASTGATE_WORKSPACES", "1234567890")], |_| {}).await;
    let body =
        json!({"workspace": hidden.workspace, "folder": "root", "name": "a.txt", "size": 10});
    let r = create(&hidden, body).await;
    assert_eq!(
        (r.status.as_u16(), error_code(&r)),
        (404, "not_found".into())
    );
    let cases = [
        (
            json!({"workspace": gw.workspace, "folder": "root", "name": "a.txt", "size": 6 * MIB}),
            413,
            "file_too_large",
        ),
        (
            json!({"workspace": gw.workspace, "folder": "root", "name": "a.exe", "size": 10}),
            415,
            "unsupported_type",
        ),
        (
            json!({"workspace": gw.workspace, "folder": "root", "name": "a.txt", "size": 0}),
            400,
            "bad_request",
        ),
        (
            json!({"workspace": gw.workspace, "name": "a.txt"}),
            422,
            "unprocessable",
        ),
    ];
    for (body, status, code) in cases {
        let r = create(&gw, body.clone()).await;
        assert_eq!(
            (r.status.as_u16(), error_code(&r)),
            (status, code.into()),
            "{body}"
        );
    }
    assert_eq!(gw.emulator.stats().total("POST", "/current/upload/"), 0);
    assert_eq!(hidden.emulator.stats().total("POST", "/current/upload/"), 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_first_chunk_whose_bytes_are_not_the_allowed_type_gets_415_and_the_session_is_cancelled()
{
    let vars = [
        ("FASTGATE_SECRET", SECRET),
        ("FASTGATE_ALLOWED_TYPES", ".png"),
    ];
    let gw = spawn_app_with(&vars, |_| {}).await;
    let exe = b"MZ\x90\0\x03\0\0\0\x04\0\0\0\xff\xff\0\0 pretending to be a picture";
    let ticket = create_ok(&gw, "holiday.png", exe.len()).await;
    let r = put_chunk(&gw, &ticket, 1, exe, None).await;
    assert_eq!(
        (r.status.as_u16(), error_code(&r)),
        (415, "unsupported_type".into())
    );
    assert_eq!(upstream_chunk_posts(&gw), 0);
    let sessions = gw.state.fastio.list_uploads().await.expect("sessions");
    assert!(
        sessions
            .iter()
            .all(|s| s.id.as_deref() != ticket["id"].as_str()),
        "the refused session is still open: {sessions:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_relative_path_creates_its_folders_once_and_the_file_lands_inside() {
    let gw = gateway().await;
    let mut folders = Vec::new();
    for name in ["one.txt", "two.txt"] {
        let body = json!({"workspace": gw.workspace, "folder": "root", "name": name,
            "size": 5, "relative_path": format!("album/2024/{name}")});
        let r = create(&gw, body).await;
        assert_eq!(r.status, 201, "{}", r.text());
        let ticket = r.json();
        folders.push(ticket["folder"].as_str().expect("folder").to_owned());
        let r = put_chunk(&gw, &ticket, 1, b"hello", Some(digest(b"hello"))).await;
        assert_eq!(r.status, 200, "{}", r.text());
        let r = post_with_token(&gw, &ticket, "/complete").await;
        assert_eq!(r.status, 200, "{}", r.text());
    }
    assert_eq!(folders[0], folders[1], "the second file reused the folders");
    let query = fastgate::fastio::ListQuery::default();
    let root = gw
        .state
        .fastio
        .list_folder(&gw.workspace, "root", &query)
        .await
        .expect("root");
    let album: Vec<_> = root.nodes.iter().filter(|n| n.name == "album").collect();
    assert_eq!(album.len(), 1);
    let inner = gw
        .state
        .fastio
        .list_folder(&gw.workspace, &album[0].id, &query)
        .await
        .expect("album");
    assert_eq!(inner.nodes.len(), 1);
    assert_eq!(inner.nodes[0].name, "2024");
    let files = gw
        .state
        .fastio
        .list_folder(&gw.workspace, &folders[0], &query)
        .await
        .expect("2024");
    let mut names: Vec<_> = files.nodes.iter().map(|n| n.name.clone()).collect();
    names.sort();
    assert_eq!(names, ["one.txt", "two.txt"]);

    let bad = json!({"workspace": gw.workspace, "name": "x.txt", "size": 5, "relative_path": "../x.txt/y.txt"});
    assert_eq!(create(&gw, bad).await.status, 400);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_cancelled_upload_leaves_nothing_behind() {
    let gw = gateway().await;
    let file = bytes(2 * MIB, 6);
    let ticket = create_ok(&gw, "cancel-me.bin", file.len()).await;
    let r = put_chunk(&gw, &ticket, 1, chunk(&file, 1), None).await;
    assert_eq!(r.status, 200);
    let id = ticket["id"].as_str().expect("id");
    let r = gw
        .send(
            gw.client
                .delete(format!("{}/api/uploads/{id}", gw.url))
                .header("Upload-Token", ticket["token"].as_str().expect("token")),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["state"], "cancelled");
    let sessions = gw.state.fastio.list_uploads().await.expect("sessions");
    assert!(sessions.iter().all(|s| s.id.as_deref() != Some(id)));
    let root = gw
        .state
        .fastio
        .list_folder(
            &gw.workspace,
            "root",
            &fastgate::fastio::ListQuery::default(),
        )
        .await
        .expect("root");
    assert!(root.nodes.is_empty(), "{:?}", root.nodes);
}

/// Requests of the emulator's `/upload/` rate-limit bucket (every upload route but batch), any
/// method and status.
fn upload_bucket_requests(gw: &Gateway) -> u64 {
    gw.emulator
        .stats()
        .requests
        .iter()
        .filter(|((_, template, _), _)| {
            template.starts_with("/current/upload")
                && !template.starts_with("/current/upload/batch")
        })
        .map(|(_, n)| n)
        .sum()
}

async fn delete_upload(app: &TestApp, ticket: &Value) -> Recorded {
    let id = ticket["id"].as_str().expect("id");
    app.send(
        app.client
            .delete(format!("{}/api/uploads/{id}", app.url))
            .header("Upload-Token", ticket["token"].as_str().expect("token")),
    )
    .await
}

#[tokio::test(flavor = "multi_thread")]
async fn a_one_chunk_file_costs_one_single_call_is_verified_and_completes_on_any_replica() {
    let a = gateway().await;
    let b = spawn_second_gateway(&a, VARS).await;
    let mut receipts = Vec::new();
    for i in 0..3u8 {
        let file = bytes(16 * 1024 + usize::from(i), 20 + u64::from(i));
        let name = format!("small-{i}.bin");
        let ticket = create_ok(&a, &name, file.len()).await;
        assert_eq!(
            (ticket["chunks"].as_u64(), ticket["parallel"].as_u64()),
            (Some(1), Some(3))
        );
        assert_eq!(state_of(&b, &ticket).await["state"], "receiving");
        let r = put_chunk(&a, &ticket, 1, &file, Some(digest(&file))).await;
        assert_eq!(r.status, 200, "{}", r.text());
        assert_eq!(r.json()["sha256"], Sha256Digest::of(&file).to_hex());
        // The PUT answers once the chunk is checked and claimed; the single call runs on.
        let progress = state_of(&b, &ticket).await;
        assert!(
            ["assembling", "stored"].contains(&progress["state"].as_str().unwrap_or("")),
            "{progress}"
        );
        assert_eq!(progress["received"], json!([1]));
        // The other replica waits for the outcome in the shared record.
        let r = post_with_token(&b, &ticket, "/complete").await;
        assert_eq!(r.status, 200, "{}", r.text());
        let receipt = r.json();
        let progress = state_of(&b, &ticket).await;
        assert_eq!(progress["state"], "stored", "{progress}");
        assert_eq!(receipt["name"], name.as_str());
        assert_eq!(receipt["size"], file.len());
        assert_eq!(receipt["sha256"], Sha256Digest::of(&file).to_hex());
        assert_eq!(progress["node_id"], receipt["node_id"]);
        // What Fast.io stored is what was sent.
        let node = a
            .state
            .fastio
            .node(&a.workspace, receipt["node_id"].as_str().expect("node"))
            .await
            .expect("stored node");
        assert_eq!(node.size, Some(file.len() as u64));
        assert_eq!(
            node.hash.as_deref(),
            Some(Sha256Digest::of(&file).to_hex().as_str())
        );
        // Completing again is harmless: the same receipt. Cancelling is too late.
        let again = post_with_token(&a, &ticket, "/complete").await;
        assert_eq!(again.json()["node_id"], receipt["node_id"]);
        let r = delete_upload(&a, &ticket).await;
        assert_eq!(r.status, 409, "{}", r.text());
        // The same bytes again (a retry after a lost answer) get the same receipt without
        // going upstream; other bytes cannot replace the stored file through this token.
        let r = put_chunk(&b, &ticket, 1, &file, Some(digest(&file))).await;
        assert_eq!(r.status, 200, "{}", r.text());
        assert_other_bytes_are_refused(&b, &ticket, &file).await;
        receipts.push(receipt);
    }
    let nodes: std::collections::HashSet<_> = receipts.iter().map(|r| &r["node_id"]).collect();
    assert_eq!(nodes.len(), 3, "each file its own node");
    // Per file one single call (`POST /upload/`), plus one limits read for all three: no
    // session, chunk, complete or details call.
    let stats = a.emulator.stats();
    assert_eq!(stats.total("POST", "/current/upload/"), 3);
    assert_eq!(stats.total("GET", "/current/upload/limits/"), 1);
    assert_eq!(upload_bucket_requests(&a), 4, "{:?}", stats.requests);
    assert_eq!(upstream_chunk_posts(&a), 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_same_one_chunk_file_sent_many_times_at_once_on_two_replicas_is_stored_once() {
    let a = gateway().await;
    let b = spawn_second_gateway(&a, VARS).await;
    let file = bytes(64 * 1024, 40);
    let ticket = create_ok(&a, "twice.bin", file.len()).await;
    // A double click, a retry after a lost answer, a second tab: eight PUTs of the one chunk.
    let puts = (0..8).map(|i| {
        let app = if i % 2 == 0 { &a } else { &b };
        put_chunk(app, &ticket, 1, &file, Some(digest(&file)))
    });
    for r in futures_util::future::join_all(puts).await {
        assert_eq!(r.status, 200, "{}", r.text());
    }
    // Other bytes cannot join the claim.
    assert_other_bytes_are_refused(&b, &ticket, &file).await;
    let completes = [&a, &b].map(|app| post_with_token(app, &ticket, "/complete"));
    let receipts: Vec<Value> = futures_util::future::join_all(completes)
        .await
        .into_iter()
        .map(|r| {
            assert_eq!(r.status, 200, "{}", r.text());
            r.json()
        })
        .collect();
    assert_eq!(receipts[0]["node_id"], receipts[1]["node_id"]);
    assert_eq!(receipts[0]["sha256"], Sha256Digest::of(&file).to_hex());
    assert_eq!(a.emulator.stats().total("POST", "/current/upload/"), 1);
    let node = a
        .state
        .fastio
        .node(&a.workspace, receipts[0]["node_id"].as_str().expect("node"))
        .await
        .expect("stored node");
    let versions = a
        .state
        .fastio
        .versions(&a.workspace, &node.id)
        .await
        .expect("versions");
    assert_eq!(
        versions.len(),
        1,
        "one version, not one per PUT: {versions:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_one_chunk_file_whose_single_call_fails_says_so_and_can_be_sent_again() {
    let gw = gateway().await;
    let file = bytes(30_000, 41);
    let ticket = create_ok(&gw, "fails-once.bin", file.len()).await;
    gw.emulator
        .faults()
        .fail_nth_with_5xx("/current/upload/", 1);
    let r = put_chunk(&gw, &ticket, 1, &file, Some(digest(&file))).await;
    assert_eq!(r.status, 200, "{}", r.text());
    let r = post_with_token(&gw, &ticket, "/complete").await;
    assert_eq!(r.status, 409, "{}", r.text());
    assert!(r.text().contains("send the chunk again"), "{}", r.text());
    let progress = state_of(&gw, &ticket).await;
    assert_eq!(
        (progress["state"].as_str(), &progress["received"]),
        (Some("failed"), &json!([]))
    );
    assert!(
        progress["message"].as_str().is_some_and(|m| !m.is_empty()),
        "{progress}"
    );
    assert_nothing_stored_or_open(&gw).await;
    // Sent again, it is stored.
    let r = put_chunk(&gw, &ticket, 1, &file, Some(digest(&file))).await;
    assert_eq!(r.status, 200, "{}", r.text());
    let r = post_with_token(&gw, &ticket, "/complete").await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["sha256"], Sha256Digest::of(&file).to_hex());
    assert_eq!(gw.emulator.stats().total("POST", "/current/upload/"), 2);
    // A failed upload may also be cancelled instead.
    let other = create_ok(&gw, "fails-then-cancelled.bin", file.len()).await;
    gw.emulator
        .faults()
        .fail_nth_with_5xx("/current/upload/", 1);
    assert_eq!(
        put_chunk(&gw, &other, 1, &file, Some(digest(&file)))
            .await
            .status,
        200
    );
    let r = delete_upload(&gw, &other).await;
    assert_eq!(
        (r.status.as_u16(), r.json()["state"].clone()),
        (200, json!("cancelled"))
    );
    let r = put_chunk(&gw, &other, 1, &file, Some(digest(&file))).await;
    assert_eq!(r.status, 409, "{}", r.text());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_one_chunk_file_with_a_wrong_digest_is_refused_and_leaves_nothing() {
    let gw = gateway().await;
    let file = bytes(4096, 30);
    let ticket = create_ok(&gw, "wrong-digest.bin", file.len()).await;
    let r = put_chunk(&gw, &ticket, 1, &file, Some(digest(b"other bytes"))).await;
    assert_eq!(
        (r.status.as_u16(), error_code(&r)),
        (400, "digest_mismatch".into())
    );
    assert_eq!(gw.emulator.stats().total("POST", "/current/upload/"), 0);
    let progress = state_of(&gw, &ticket).await;
    assert_eq!(
        (progress["state"].as_str(), &progress["received"]),
        (Some("receiving"), &json!([]))
    );
    let r = post_with_token(&gw, &ticket, "/complete").await;
    assert_eq!(r.status, 409, "{}", r.text());
    assert!(r.text().contains("missing"), "{}", r.text());
    assert_nothing_stored_or_open(&gw).await;
    // The right bytes then go up: nothing to resume, the chunk is simply sent.
    let r = put_chunk(&gw, &ticket, 1, &file, Some(digest(&file))).await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(post_with_token(&gw, &ticket, "/complete").await.status, 200);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_one_chunk_file_cancelled_before_its_chunk_leaves_nothing_and_refuses_the_chunk() {
    let gw = gateway().await;
    let file = bytes(10_000, 31);
    let ticket = create_ok(&gw, "cancelled-small.bin", file.len()).await;
    for _ in 0..2 {
        // Safe to repeat.
        let r = delete_upload(&gw, &ticket).await;
        assert_eq!(r.status, 200, "{}", r.text());
        assert_eq!(r.json()["state"], "cancelled");
    }
    assert_eq!(state_of(&gw, &ticket).await["state"], "cancelled");
    let r = put_chunk(&gw, &ticket, 1, &file, Some(digest(&file))).await;
    assert_eq!(r.status, 409, "{}", r.text());
    let r = post_with_token(&gw, &ticket, "/complete").await;
    assert_eq!(r.status, 409, "{}", r.text());
    assert!(r.text().contains("cancelled"), "{}", r.text());
    assert_eq!(gw.emulator.stats().total("POST", "/current/upload/"), 0);
    assert_nothing_stored_or_open(&gw).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_one_chunk_file_larger_than_a_single_call_keeps_its_chunked_session() {
    let vars = [("FASTGATE_SECRET", SECRET), ("FASTGATE_CHUNK_SIZE", "8MiB")];
    let gw = spawn_app_with(&vars, |_| {}).await;
    let file = bytes(5 * MIB, 32);
    let ticket = create_ok(&gw, "five.bin", file.len()).await;
    assert_eq!(ticket["chunks"], 1);
    let id = ticket["id"].as_str().expect("id");
    let sessions = gw.state.fastio.list_uploads().await.expect("sessions");
    assert!(
        sessions.iter().any(|s| s.id.as_deref() == Some(id)),
        "{sessions:?}"
    );
    let r = put_chunk(&gw, &ticket, 1, &file, Some(digest(&file))).await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(upstream_chunk_posts(&gw), 1);
    let r = post_with_token(&gw, &ticket, "/complete").await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["sha256"], Sha256Digest::of(&file).to_hex());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_one_call_upload_is_completed_and_cancelled_across_replicas_on_postgresql() {
    let url = crate::common::postgres::fresh_database().await;
    let vars = [
        ("FASTGATE_SECRET", SECRET),
        ("FASTGATE_DATABASE_URL", url.as_str()),
    ];
    let a = spawn_app_with(&vars, |_| {}).await;
    let b = spawn_second_gateway(&a, &vars).await;
    let file = bytes(20_000, 33);
    let ticket = create_ok(&a, "pg-small.bin", file.len()).await;
    let r = put_chunk(&a, &ticket, 1, &file, Some(digest(&file))).await;
    assert_eq!(r.status, 200, "{}", r.text());
    let r = post_with_token(&b, &ticket, "/complete").await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["sha256"], Sha256Digest::of(&file).to_hex());
    // Cancelled on one replica, refused on the other.
    let cancelled = create_ok(&a, "pg-cancelled.bin", file.len()).await;
    assert_eq!(delete_upload(&b, &cancelled).await.status, 200);
    let r = put_chunk(&a, &cancelled, 1, &file, Some(digest(&file))).await;
    assert_eq!(r.status, 409, "{}", r.text());
    assert_eq!(a.emulator.stats().total("POST", "/current/upload/"), 1);
}

/// A one-call upload's chunk with other bytes than `file`'s, once `file`'s is stored or being
/// stored, gets 400 `already_stored`.
async fn assert_other_bytes_are_refused(app: &TestApp, ticket: &Value, file: &[u8]) {
    let mut other = file.to_vec();
    other[0] ^= 1;
    let r = put_chunk(app, ticket, 1, &other, None).await;
    assert_eq!(
        (r.status.as_u16(), error_code(&r)),
        (400, "already_stored".into())
    );
}

/// Fast.io holds no file in the root and no upload session.
async fn assert_nothing_stored_or_open(gw: &Gateway) {
    let root = gw
        .state
        .fastio
        .list_folder(
            &gw.workspace,
            "root",
            &fastgate::fastio::ListQuery::default(),
        )
        .await
        .expect("root");
    assert!(root.nodes.is_empty(), "{:?}", root.nodes);
    let sessions = gw.state.fastio.list_uploads().await.expect("sessions");
    assert!(sessions.is_empty(), "{sessions:?}");
}
