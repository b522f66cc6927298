//! Placement paths against the emulator: batch upload (§7.12) and sessions without
//! `instance_id` that stop at `complete` until `addfile` places them (§6.5, §7.9).

use crate::common::emulator::*;
use std::time::Duration;

use crate::common::payload::{bytes, sha256_hex};
use crate::common::wait_until;
use reqwest::StatusCode;
use reqwest::multipart::{Form, Part};
use serde_json::json;

#[tokio::test]
async fn a_batch_upload_stores_good_files_and_reports_a_bad_hash_per_file() {
    let t = spawn().await;
    let (a, b) = (bytes(1000, 31), bytes(2000, 32));
    let manifest = json!([
        {"index": 0, "filename": "a.bin", "hash_algo": "sha256", "hash": sha256_hex(&a)},
        {"index": 1, "filename": "b.bin", "hash_algo": "sha256", "hash": sha256_hex(b"other")},
    ]);
    let form = Form::new()
        .text("instance_id", t.ws.clone())
        .text("manifest", manifest.to_string())
        .text("folder_id", "root")
        .part("file_0", Part::bytes(a.clone()).file_name("a.bin"))
        .part("file_1", Part::bytes(b).file_name("b.bin"));
    let (status, v) = json(
        t.http
            .post(t.url("/upload/batch/"))
            .bearer_auth(KEY)
            .multipart(form)
            .send()
            .await
            .expect("send"),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{v}");
    assert_eq!(v["count_total"], 2);
    assert_eq!(v["count_succeeded"], 1);
    assert_eq!(v["partial"], true);
    assert_eq!(v["results"][0]["status"], "ok");
    assert_eq!(v["results"][1]["status"], "error");
    assert_eq!(v["results"][1]["error_code"], 1605);
    let upload = v["results"][0]["upload_id"].as_str().expect("upload_id");
    let session = t.wait_terminal(upload).await;
    assert_eq!(session["status"], "stored");
    assert_eq!(t.names("root").await, vec!["a.bin"]);
    assert!(t.leftover_files().is_empty(), "{:?}", t.leftover_files());
}

#[tokio::test]
async fn a_session_without_instance_id_stops_at_complete_until_addfile_places_it() {
    let t = spawn().await;
    let body = bytes(4096, 33);
    let size = body.len().to_string();
    let (status, v) = t
        .post_form(
            "/upload/",
            &[("name", "loose.bin"), ("size", &size), ("action", "create")],
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{v}");
    let id = v["id"].as_str().expect("id").to_owned();
    assert_eq!(t.put_chunk(&id, 1, body.clone()).await.0, StatusCode::OK);
    assert_eq!(t.complete(&id).await.0, StatusCode::OK);
    let details = format!("/upload/{id}/details/?wait=5");
    wait_until(
        "the session to stop at complete",
        Duration::from_secs(30),
        || async {
            let (_, v) = t.get(&details).await;
            match v["session"]["status"].as_str() {
                Some("complete") => Ok(()),
                other => Err(format!("{other:?}")),
            }
        },
    )
    .await;
    assert!(t.names("root").await.is_empty());

    let path = format!("/workspace/{}/storage/root/addfile/", t.ws);
    let from = json!({"type": "upload", "upload": {"id": id}}).to_string();
    let (status, v) = t
        .post_form(&path, &[("name", "placed.bin"), ("from", &from)])
        .await;
    assert_eq!(status, StatusCode::OK, "{v}");
    let node = v["node"]["id"].as_str().expect("node id").to_owned();
    assert_eq!(v["node"]["hash"], sha256_hex(&body));
    assert_eq!(t.names("root").await, vec!["placed.bin"]);
    let (_, v) = t.get(&format!("/upload/{id}/details/")).await;
    assert_eq!(v["session"]["status"], "stored");
    assert_eq!(v["session"]["new_file_id"], node.as_str());
}

#[tokio::test]
async fn complete_on_a_single_call_session_is_a_benign_state_error() {
    let t = spawn().await;
    let form = Form::new()
        .text("name", "one.txt")
        .text("size", "3")
        .text("action", "create")
        .text("instance_id", t.ws.clone())
        .text("folder_id", "root")
        .text("profile_type", "workspace")
        .part("chunk", Part::bytes(b"abc".to_vec()).file_name("one.txt"));
    let (status, v) = json(
        t.http
            .post(t.url("/upload/"))
            .bearer_auth(KEY)
            .multipart(form)
            .send()
            .await
            .expect("send"),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{v}");
    let id = v["id"].as_str().expect("id");
    let (status, v) = t.complete(id).await;
    assert_eq!((status, code(&v)), (StatusCode::BAD_REQUEST, 1605), "{v}");
}

#[tokio::test]
async fn the_batch_bucket_is_separate_and_answers_429_with_code_1671() {
    let t = spawn().await;
    t.emu.faults().set_rate_limit(1, Duration::from_secs(60));
    let batch = || {
        let form = Form::new()
            .text("instance_id", t.ws.clone())
            .text("manifest", "[]");
        t.http
            .post(t.url("/upload/batch/"))
            .bearer_auth(KEY)
            .multipart(form)
            .send()
    };
    assert_eq!(batch().await.expect("send").status(), StatusCode::OK);
    let (status, v) = json(batch().await.expect("send")).await;
    assert_eq!(
        (status, code(&v)),
        (StatusCode::TOO_MANY_REQUESTS, 1671),
        "{v}"
    );
    // The single-file upload family still has its own request left.
    assert_eq!(t.get("/upload/limits/").await.0, StatusCode::OK);
}
