//! Form uploads end to end (DESIGN §4a): a browser-style multipart post to the gateway, files
//! streamed to the real emulator, receipts checked against what the emulator stores and serves.

use std::time::Duration;

use crate::common::forms::*;
use crate::common::payload::{MIB, bytes, sha256_hex};
use crate::common::spawn_app;

#[tokio::test(flavor = "multi_thread")]
async fn a_multi_file_post_stores_every_file_byte_identical_with_clean_names() {
    let gw = spawn_app().await;
    let big = bytes(12 * MIB + 123, 7);
    let small = b"hello, fast.io\n".to_vec();
    let secret = b"root:x:0:0\n".to_vec();
    let files = vec![
        ("empty.txt", Vec::new()),
        ("big.bin", big.clone()),
        ("résumé ✓.txt", small.clone()),
        ("../../etc/passwd", secret.clone()),
    ];
    let r = post_form(&gw, "/upload", form_for(&gw, files), true).await;
    assert_eq!(r.status, 200, "{}", r.text());
    let body = r.json();
    assert_eq!(body["type"], "success");
    assert_eq!(body["status"], 200);
    let outcomes = files_of(&body);
    let names: Vec<&str> = outcomes.iter().filter_map(|o| o["name"].as_str()).collect();
    assert_eq!(names, ["empty.txt", "big.bin", "résumé ✓.txt", "passwd"]);
    let expected = [
        (0u64, sha256_hex(b"")),
        (big.len() as u64, sha256_hex(&big)),
        (small.len() as u64, sha256_hex(&small)),
        (secret.len() as u64, sha256_hex(&secret)),
    ];
    for (outcome, (size, sha)) in outcomes.iter().zip(&expected) {
        assert_eq!(outcome["status"], "stored", "{outcome}");
        assert_eq!(outcome["size"].as_u64(), Some(*size), "{outcome}");
        assert_eq!(outcome["sha256"].as_str(), Some(sha.as_str()), "{outcome}");
    }

    let listed = root_files(&gw).await;
    assert_eq!(listed.len(), 4, "{listed:?}");
    for (outcome, (size, sha)) in outcomes.iter().zip(&expected) {
        let node = outcome["node"].as_str().expect("node id");
        let stored = listed.iter().find(|n| n.id == node).expect("listed");
        assert_eq!(stored.name, outcome["name"].as_str().expect("name"));
        assert_eq!(stored.size, Some(*size));
        assert!(!stored.name.contains('/') && !stored.name.contains(".."));
        assert_eq!(download_sha(&gw, node).await, (sha.clone(), *size));
    }
    wait_until_no_sessions(&gw, Duration::from_secs(5)).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_file_over_one_single_call_goes_through_a_stream_session() {
    let gw = spawn_app().await;
    let data = bytes(4 * MIB + 1, 3);
    let r = post_form(
        &gw,
        "/upload",
        form_for(&gw, vec![("edge.bin", data.clone())]),
        true,
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let stats = gw.emulator.stats();
    assert_eq!(
        stats.total("POST", "/current/upload/{id}/stream/"),
        1,
        "stream path"
    );
    let exactly = bytes(4 * MIB, 4);
    let r = post_form(
        &gw,
        "/upload",
        form_for(&gw, vec![("four.bin", exactly)]),
        true,
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(
        gw.emulator
            .stats()
            .total("POST", "/current/upload/{id}/stream/"),
        1,
        "exactly 4 MiB is one single call"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn many_small_files_are_uploaded_several_at_a_time() {
    let gw = spawn_app().await;
    gw.emulator.faults().set_latency_ms(150);
    let files: Vec<(String, Vec<u8>)> = (0..12)
        .map(|i| (format!("note-{i:02}.txt"), bytes(1000 + i, i as u64)))
        .collect();
    let form = files.iter().fold(
        reqwest::multipart::Form::new()
            .text("workspace", gw.workspace.clone())
            .text("folder", "root"),
        |form, (name, data)| form.part("file", file_part(name, data.clone())),
    );
    let started = std::time::Instant::now();
    let r = post_form(&gw, "/upload", form, true).await;
    let took = started.elapsed();
    assert_eq!(r.status, 200, "{}", r.text());
    let outcomes = files_of(&r.json());
    assert_eq!(outcomes.len(), 12);
    for ((name, data), outcome) in files.iter().zip(&outcomes) {
        assert_eq!(outcome["name"].as_str(), Some(name.as_str()));
        assert_eq!(outcome["sha256"].as_str(), Some(sha256_hex(data).as_str()));
    }
    // Each file costs at least two upstream calls of 150 ms (upload, node details); twelve in
    // series would take over 3.6 s.
    assert!(took < Duration::from_millis(2500), "took {took:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn an_upload_answer_closes_the_connection_so_keep_alive_clients_do_not_reuse_it() {
    let gw = spawn_app().await;
    let form = reqwest::multipart::Form::new()
        .text("workspace", gw.workspace.clone())
        .part("file", file_part("a.txt", b"abc".to_vec()));
    let r = post_form(&gw, "/upload", form, true).await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.header("connection"), Some("close"));
    // The next request on the same client gets a fresh connection and an answer.
    let again = gw.get("/api/workspaces").await;
    assert_eq!(again.status, 200);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_upload_page_form_posts_to_its_action_and_shows_the_results() {
    let gw = spawn_app().await;
    let page = gw.get(&format!("/upload?workspace={}", gw.workspace)).await;
    assert_eq!(page.status, 200, "{}", page.text());
    let html = page.text();
    let form_start = html
        .find("enctype=\"multipart/form-data\"")
        .expect("upload form");
    let form_tag = &html[html[..form_start].rfind("<form").expect("form tag")..];
    let action = form_tag
        .split("action=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("action attribute");
    assert!(html.contains(&format!("value=\"{}\"", gw.workspace)));
    let r = post_form(
        &gw,
        action,
        form_for(&gw, vec![("<i>report<i>.txt", b"quarterly".to_vec())]),
        false,
    )
    .await;
    assert_eq!(r.status, 200);
    assert!(
        r.header("content-type")
            .unwrap_or("")
            .starts_with("text/html")
    );
    let html = r.text();
    assert!(html.contains("Stored"), "{html}");
    assert!(
        html.contains("&#60;i&#62;report&#60;i&#62;.txt"),
        "name shown escaped: {html}"
    );
    assert!(!html.contains("<i>report"));
    assert_eq!(root_files(&gw).await.len(), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_post_without_a_chosen_file_is_a_clear_400() {
    let gw = spawn_app().await;
    let empty_input = reqwest::multipart::Part::bytes(Vec::new())
        .file_name("")
        .mime_str("application/octet-stream")
        .expect("mime");
    let form = reqwest::multipart::Form::new()
        .text("workspace", gw.workspace.clone())
        .text("folder", "root")
        .part("file", empty_input);
    let r = post_form(&gw, "/upload", form, true).await;
    assert_eq!(r.status, 400, "{}", r.text());
    assert!(
        r.json()["error"]["message"]
            .as_str()
            .unwrap_or("")
            .contains("no file chosen")
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn an_unexposed_workspace_is_404_and_nothing_is_uploaded() {
    let gw =
        crate::common::spawn_app_with(&[("FASTGATE_WORKSPACES", "1234567890123456789")], |_| {})
            .await;
    let r = post_form(
        &gw,
        "/upload",
        form_for(&gw, vec![("a.txt", b"a".to_vec())]),
        true,
    )
    .await;
    assert_eq!(r.status, 404, "{}", r.text());
    assert_eq!(r.json()["error"]["code"], "not_found");
    assert!(root_files(&gw).await.is_empty());
    let page = gw.get(&format!("/upload?workspace={}", gw.workspace)).await;
    assert_eq!(page.status, 404);
}
