//! Upload flows against the emulator, spoken as raw HTTP from `fastio-api.md` §7.

use std::time::{Duration, Instant};

use crate::common::emulator::*;
use crate::common::payload::{bytes, sha256_hex};
use crate::common::wait_until;
use reqwest::StatusCode;
use reqwest::multipart::{Form, Part};

#[tokio::test]
async fn chunks_sent_out_of_order_and_in_parallel_assemble_into_a_byte_identical_file() {
    let t = spawn().await;
    let body = bytes(3 * MIB + MIB / 2, 1);
    let id = t.create_session("big.bin", body.len(), "root").await;
    let pieces: Vec<(usize, Vec<u8>)> = body
        .chunks(MIB)
        .enumerate()
        .map(|(i, c)| (i + 1, c.to_vec()))
        .collect();
    // Last chunk first, then the other three at once.
    let (status, v) = t.put_chunk(&id, 4, pieces[3].1.clone()).await;
    assert_eq!(status, StatusCode::OK, "{v}");
    let sends = pieces[..3]
        .iter()
        .map(|(o, c)| t.put_chunk(&id, *o, c.clone()));
    for (status, v) in futures_util::future::join_all(sends).await {
        assert_eq!(status, StatusCode::OK, "{v}");
    }
    let (_, v) = t.get(&format!("/upload/{id}/details/")).await;
    assert_eq!(v["session"]["status"], "uploading");
    assert_eq!(v["session"]["chunks"]["4"], MIB / 2);
    let (status, v) = t.complete(&id).await;
    assert_eq!(status, StatusCode::OK, "{v}");
    let session = t.wait_terminal(&id).await;
    assert_eq!(session["status"], "stored", "{session}");
    let node = session["new_file_id"]
        .as_str()
        .expect("new_file_id")
        .to_owned();
    assert_eq!(node.len(), 30);

    let (_, v) = t
        .get(&format!("/workspace/{}/storage/{node}/details/", t.ws))
        .await;
    assert_eq!(v["node"]["size"], body.len());
    assert_eq!(v["node"]["hash"], sha256_hex(&body));
    assert_eq!(v["node"]["hash_algo"], "sha256");

    let res = t.download(&node, None).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(
        res.headers()["content-length"],
        body.len().to_string().as_str()
    );
    assert_eq!(res.bytes().await.expect("bytes").as_ref(), body.as_slice());

    let res = t.download(&node, Some("bytes=1048570-1048589")).await;
    assert_eq!(res.status(), StatusCode::PARTIAL_CONTENT);
    assert_eq!(
        res.headers()["content-range"],
        format!("bytes 1048570-1048589/{}", body.len()).as_str()
    );
    assert_eq!(
        res.bytes().await.expect("bytes").as_ref(),
        &body[1048570..1048590]
    );
    assert!(t.emu.stats().max_in_flight(&id) <= 3);
    assert!(t.leftover_files().is_empty(), "{:?}", t.leftover_files());
}

async fn single_call(t: &TestEmu, name: &str, bytes: Vec<u8>) -> (StatusCode, serde_json::Value) {
    let size = bytes.len().to_string();
    let form = Form::new()
        .text("name", name.to_owned())
        .text("size", size)
        .text("action", "create")
        .text("instance_id", t.ws.clone())
        .text("folder_id", "root")
        .text("profile_type", "workspace")
        .part("chunk", Part::bytes(bytes).file_name(name.to_owned()));
    json(
        t.http
            .post(t.url("/upload/"))
            .bearer_auth(KEY)
            .multipart(form)
            .send()
            .await
            .expect("send"),
    )
    .await
}

#[tokio::test]
async fn single_call_upload_answers_new_file_id_and_the_file_is_listed() {
    let t = spawn().await;
    let body = bytes(300_000, 2);
    let (status, v) = single_call(&t, "a.txt", body.clone()).await;
    assert_eq!(status, StatusCode::OK, "{v}");
    assert_eq!(v["result"], true);
    let node = v["new_file_id"].as_str().expect("new_file_id");
    assert_eq!(t.names("root").await, vec!["a.txt"]);
    let res = t.download(node, None).await;
    assert_eq!(res.bytes().await.expect("bytes").as_ref(), body.as_slice());
}

#[tokio::test]
async fn a_zero_byte_file_is_stored_with_the_empty_hash() {
    let t = spawn().await;
    let (status, v) = single_call(&t, "empty.txt", Vec::new()).await;
    assert_eq!(status, StatusCode::OK, "{v}");
    let node = v["new_file_id"].as_str().expect("new_file_id");
    let (_, v) = t
        .get(&format!("/workspace/{}/storage/{node}/details/", t.ws))
        .await;
    assert_eq!(v["node"]["size"], 0);
    assert_eq!(v["node"]["hash"], sha256_hex(&[]));
    let res = t.download(node, None).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert!(res.bytes().await.expect("bytes").is_empty());
}

#[tokio::test]
async fn a_single_call_over_4_mib_is_refused_with_413() {
    let t = spawn().await;
    let (status, v) = single_call(&t, "big.bin", bytes(4 * MIB + 1, 3)).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{v}");
    assert!(t.names("root").await.is_empty());
    assert!(t.leftover_files().is_empty());
}

#[tokio::test]
async fn a_size_mismatch_at_complete_gives_10522_kills_the_session_and_leaves_nothing() {
    let t = spawn().await;
    let id = t.create_session("short.bin", 3 * MIB, "root").await;
    assert_eq!(t.put_chunk(&id, 1, bytes(MIB, 4)).await.0, StatusCode::OK);
    let (status, v) = t.complete(&id).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(code(&v), 10522, "{v}");
    // The session is dead: more chunks and complete are refused, only DELETE works.
    let (status, _) = t.put_chunk(&id, 2, bytes(MIB, 5)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(t.delete(&format!("/upload/{id}/")).await.0, StatusCode::OK);
    let (status, v) = t.get(&format!("/upload/{id}/details/")).await;
    assert_eq!((status, code(&v)), (StatusCode::NOT_FOUND, 1609));
    assert!(t.names("root").await.is_empty());
    assert!(t.leftover_files().is_empty(), "{:?}", t.leftover_files());
}

#[tokio::test]
async fn a_chunk_whose_hash_does_not_match_is_refused_with_1605() {
    let t = spawn().await;
    let id = t.create_session("h.bin", MIB, "root").await;
    let form = Form::new().part("chunk", Part::bytes(bytes(MIB, 6)).file_name("chunk.bin"));
    let wrong = sha256_hex(b"something else");
    let (status, v) = json(
        t.http
            .post(t.url(&format!(
                "/upload/{id}/chunk/?order=1&size={MIB}&hash={wrong}&hash_algo=sha256"
            )))
            .bearer_auth(KEY)
            .multipart(form)
            .send()
            .await
            .expect("send"),
    )
    .await;
    assert_eq!((status, code(&v)), (StatusCode::BAD_REQUEST, 1605), "{v}");
    // Order, size and hash may also ride as multipart text fields.
    let good = bytes(MIB, 6);
    let form = Form::new()
        .text("order", "1")
        .text("size", MIB.to_string())
        .text("hash", sha256_hex(&good))
        .text("hash_algo", "sha256")
        .part("chunk", Part::bytes(good).file_name("chunk.bin"));
    let (status, v) = json(
        t.http
            .post(t.url(&format!("/upload/{id}/chunk/")))
            .bearer_auth(KEY)
            .multipart(form)
            .send()
            .await
            .expect("send"),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{v}");
}

#[tokio::test]
async fn a_fourth_parallel_chunk_request_gets_429() {
    let t = spawn_with(|c| c.faults.latency_ms = 0).await;
    let id = t.create_session("p.bin", 8 * MIB, "root").await;
    // Four slow bodies at once: the server sees all four in flight together.
    let slow = |order: usize| {
        let http = t.http.clone();
        let url = t.url(&format!("/upload/{id}/chunk/?order={order}&size={MIB}"));
        async move {
            let bytes = bytes(MIB, order as u64);
            let stream = futures_util::stream::unfold(0usize, move |off| {
                let bytes = bytes.clone();
                async move {
                    if off >= bytes.len() {
                        return None;
                    }
                    tokio::time::sleep(Duration::from_millis(40)).await;
                    let end = (off + 256 * 1024).min(bytes.len());
                    Some((Ok::<_, std::io::Error>(bytes[off..end].to_vec()), end))
                }
            });
            let part = Part::stream_with_length(reqwest::Body::wrap_stream(stream), MIB as u64)
                .file_name("chunk.bin");
            let form = Form::new().part("chunk", part);
            json(
                http.post(url)
                    .bearer_auth(KEY)
                    .multipart(form)
                    .send()
                    .await
                    .expect("send"),
            )
            .await
        }
    };
    let results = futures_util::future::join_all((1..=4).map(slow)).await;
    let limited: Vec<_> = results
        .iter()
        .filter(|(s, _)| *s == StatusCode::TOO_MANY_REQUESTS)
        .collect();
    assert_eq!(limited.len(), 1, "{results:?}");
    assert_eq!(code(&limited[0].1), 10368);
    assert_eq!(t.emu.stats().max_in_flight(&id), 3);
}

#[tokio::test]
async fn an_emulator_restarted_mid_upload_keeps_the_session_and_finishes_it() {
    let t = spawn().await;
    let body = bytes(2 * MIB + 10, 7);
    let id = t.create_session("resume.bin", body.len(), "root").await;
    assert_eq!(
        t.put_chunk(&id, 1, body[..MIB].to_vec()).await.0,
        StatusCode::OK
    );
    let TestEmu { emu, dir, .. } = t;
    emu.shutdown().await;
    let config = test_config(&dir);
    let t = start_on(dir, config).await;
    let (status, v) = t.get(&format!("/upload/{id}/details/")).await;
    assert_eq!(status, StatusCode::OK, "{v}");
    assert_eq!(v["session"]["chunks"]["1"], MIB);
    assert_eq!(
        t.put_chunk(&id, 2, body[MIB..2 * MIB].to_vec()).await.0,
        StatusCode::OK
    );
    assert_eq!(
        t.put_chunk(&id, 3, body[2 * MIB..].to_vec()).await.0,
        StatusCode::OK
    );
    assert_eq!(t.complete(&id).await.0, StatusCode::OK);
    let session = t.wait_terminal(&id).await;
    assert_eq!(session["status"], "stored");
    let res = t
        .download(session["new_file_id"].as_str().expect("id"), None)
        .await;
    assert_eq!(res.bytes().await.expect("bytes").as_ref(), body.as_slice());
}

#[tokio::test]
async fn a_long_poll_returns_as_soon_as_the_status_changes() {
    // Each asynchronous step takes 300 ms, so whichever status the long-poll first sees, the
    // next transition comes well before its 30 s wait ends.
    let t = spawn_with(|c| c.step_delay = (Duration::from_millis(300), Duration::from_millis(300)))
        .await;
    let id = t.create_session("lp.bin", 10, "root").await;
    assert_eq!(t.put_chunk(&id, 1, bytes(10, 8)).await.0, StatusCode::OK);
    assert_eq!(t.complete(&id).await.0, StatusCode::OK);
    let seen = std::sync::Mutex::new(Vec::new());
    let details = format!("/upload/{id}/details/?wait=30");
    wait_until("the session stored", Duration::from_secs(30), || async {
        let started = Instant::now();
        let (status, v) = t.get(&details).await;
        let elapsed = started.elapsed();
        assert_eq!(status, StatusCode::OK);
        assert!(elapsed < Duration::from_secs(5), "{elapsed:?}");
        let s = v["session"]["status"].as_str().expect("status").to_owned();
        if s == "stored" {
            return Ok(());
        }
        seen.lock().expect("seen").push(s.clone());
        Err(s)
    })
    .await;
    let seen = seen.into_inner().expect("seen");
    // At least some intermediate states were observed one by one.
    assert!(
        seen.iter().any(|s| s == "storing" || s == "store"),
        "{seen:?}"
    );
}

#[tokio::test]
async fn cancelling_a_session_leaves_no_trace_in_listings_or_on_disk() {
    let t = spawn().await;
    let id = t.create_session("gone.bin", 2 * MIB, "root").await;
    assert_eq!(t.put_chunk(&id, 1, bytes(MIB, 9)).await.0, StatusCode::OK);
    assert!(!t.leftover_files().is_empty());
    let (status, v) = t.delete(&format!("/upload/{id}/")).await;
    assert_eq!(status, StatusCode::OK, "{v}");
    assert!(t.leftover_files().is_empty(), "{:?}", t.leftover_files());
    assert!(t.names("root").await.is_empty());
    let (_, v) = t.get("/upload/details/").await;
    assert_eq!(v["sessions"].as_array().map(Vec::len), Some(0));
    let (status, v) = t.put_chunk(&id, 2, bytes(MIB, 9)).await;
    assert_eq!((status, code(&v)), (StatusCode::NOT_FOUND, 1609));
}

#[tokio::test]
async fn an_injected_assembly_failure_ends_in_assembly_failed_with_a_message() {
    let t = spawn().await;
    t.emu.faults().set_fail_assembly(true);
    let id = t.create_session("f.bin", 100, "root").await;
    assert_eq!(t.put_chunk(&id, 1, bytes(100, 10)).await.0, StatusCode::OK);
    assert_eq!(t.complete(&id).await.0, StatusCode::OK);
    let session = t.wait_terminal(&id).await;
    assert_eq!(session["status"], "assembly_failed");
    assert!(
        session["status_message"]
            .as_str()
            .is_some_and(|m| !m.is_empty())
    );
    assert!(t.names("root").await.is_empty());
}

async fn stream_session(t: &TestEmu, name: &str, max_size: Option<usize>) -> String {
    let mut form = vec![
        ("name", name.to_owned()),
        ("stream", "true".to_owned()),
        ("action", "create".to_owned()),
        ("instance_id", t.ws.clone()),
        ("folder_id", "root".to_owned()),
        ("profile_type", "workspace".to_owned()),
    ];
    if let Some(m) = max_size {
        form.push(("max_size", m.to_string()));
    }
    let form: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let (status, v) = t.post_form("/upload/", &form).await;
    assert_eq!(status, StatusCode::OK, "{v}");
    v["id"].as_str().expect("id").to_owned()
}

#[tokio::test]
async fn a_stream_upload_stores_itself_and_one_past_max_size_fails() {
    let t = spawn().await;
    let body = bytes(3 * MIB, 11);
    let id = stream_session(&t, "s.bin", None).await;
    let (status, v) = json(
        t.http
            .post(t.url(&format!(
                "/upload/{id}/stream/?hash={}&hash_algo=sha256",
                sha256_hex(&body)
            )))
            .bearer_auth(KEY)
            .header("content-type", "application/octet-stream")
            // No Content-Length: chunked transfer-encoding is accepted too (§7.10).
            .body(reqwest::Body::wrap_stream(futures_util::stream::iter(
                body.chunks(100_000)
                    .map(|c| Ok::<_, std::io::Error>(c.to_vec()))
                    .collect::<Vec<_>>(),
            )))
            .send()
            .await
            .expect("send"),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{v}");
    let session = t.wait_terminal(&id).await;
    assert_eq!(session["status"], "stored");
    // chunk on a stream session → 406
    assert_eq!(
        t.put_chunk(&id, 1, bytes(10, 1)).await.0,
        StatusCode::NOT_ACCEPTABLE
    );

    let id = stream_session(&t, "too-big.bin", Some(MIB)).await;
    let (status, _) = json(
        t.http
            .post(t.url(&format!("/upload/{id}/stream/")))
            .bearer_auth(KEY)
            .body(bytes(2 * MIB, 12))
            .send()
            .await
            .expect("send"),
    )
    .await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    let (_, v) = t.get(&format!("/upload/{id}/details/")).await;
    assert_eq!(v["session"]["status"], "assembly_failed");
    assert_eq!(t.names("root").await, vec!["s.bin"]);
    assert!(
        t.leftover_files()
            .iter()
            .all(|p| !p.starts_with(t.dir.path().join("tmp")))
    );
}

#[tokio::test]
async fn a_same_name_upload_overwrites_in_place_and_keeps_the_node_id() {
    let t = spawn().await;
    let (_, v1) = single_call(&t, "same.txt", b"first".to_vec()).await;
    let (_, v2) = single_call(&t, "same.txt", b"second!".to_vec()).await;
    let (n1, n2) = (v1["new_file_id"].as_str(), v2["new_file_id"].as_str());
    assert!(n1.is_some());
    assert_eq!(n1, n2);
    assert_eq!(t.names("root").await, vec!["same.txt"]);
    let res = t.download(n1.expect("id"), None).await;
    assert_eq!(res.bytes().await.expect("bytes").as_ref(), b"second!");
}
