//! When an upload goes wrong (the client goes away, Fast.io fails), the Fast.io session is
//! cancelled, nothing appears in the listing, and the user reads what happened.

use std::time::Duration;

use crate::common::forms::*;
use crate::common::payload::{MIB, bytes};
use crate::common::spawn_app;
use bytes::Bytes;
use reqwest::multipart::{Form, Part};

#[tokio::test(flavor = "multi_thread")]
async fn a_client_that_disconnects_mid_upload_leaves_no_session_and_no_file() {
    let gw = spawn_app().await;
    let (drop_tx, drop_rx) = tokio::sync::oneshot::channel::<()>();
    // 6 MiB (past one single call, so a stream session is open), then a stall, then the
    // connection breaks.
    let head = futures_util::stream::iter(
        (0..6).map(|i| Ok::<Bytes, std::io::Error>(Bytes::from(bytes(MIB, i)))),
    );
    let tail = futures_util::stream::once(async move {
        let _ = drop_rx.await;
        Err::<Bytes, std::io::Error>(std::io::Error::other("client went away"))
    });
    let body = reqwest::Body::wrap_stream(futures_util::StreamExt::chain(head, tail));
    let form = Form::new()
        .text("workspace", gw.workspace.clone())
        .text("folder", "root")
        .part("file", Part::stream(body).file_name("abandoned.bin"));
    // No response ever arrives, so there is nothing for the harness's leak scan to read.
    let request = gw
        .client
        .post(format!("{}/upload", gw.url))
        .header("origin", gw.origin())
        .multipart(form)
        .send();
    let sent = tokio::spawn(request);

    wait_until_a_session_is_open(&gw, Duration::from_secs(5)).await;
    drop_tx.send(()).expect("client still streaming");
    let outcome = sent.await.expect("join");
    assert!(outcome.is_err(), "the request broke off: {outcome:?}");

    wait_until_no_sessions(&gw, Duration::from_secs(5)).await;
    assert!(root_files(&gw).await.is_empty(), "nothing in the listing");
}

#[tokio::test(flavor = "multi_thread")]
async fn an_upstream_assembly_failure_is_reported_and_its_sessions_cancelled() {
    let gw = spawn_app().await;
    gw.emulator.faults().set_fail_assembly(true);
    let files = vec![
        ("small.txt", b"small".to_vec()),
        ("large.bin", bytes(6 * MIB, 8)),
    ];
    let r = post_form(&gw, "/upload", form_for(&gw, files), true).await;
    assert_eq!(r.status, 502, "{}", r.text());
    let outcomes = files_of(&r.json());
    assert_eq!(outcomes.len(), 2);
    for outcome in &outcomes {
        assert_eq!(outcome["status"], "failed", "{outcome}");
        let message = outcome["message"].as_str().unwrap_or("");
        assert!(
            message.contains("Fast.io could not store the file"),
            "{message}"
        );
    }
    wait_until_no_sessions(&gw, Duration::from_secs(5)).await;
    assert!(root_files(&gw).await.is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn an_upstream_store_failure_on_a_page_post_is_shown_to_the_user() {
    let gw = spawn_app().await;
    gw.emulator.faults().set_fail_store(true);
    let r = post_form(
        &gw,
        "/upload",
        form_for(&gw, vec![("doomed.bin", bytes(5 * MIB, 2))]),
        false,
    )
    .await;
    assert_eq!(r.status, 502);
    let html = r.text();
    assert!(
        html.contains("Failed") && html.contains("doomed.bin"),
        "{html}"
    );
    assert!(html.contains("Fast.io could not store the file"), "{html}");
    wait_until_no_sessions(&gw, Duration::from_secs(5)).await;
    assert!(root_files(&gw).await.is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn an_upload_past_the_time_limit_is_cut_reported_408_and_its_session_cancelled() {
    let gw = crate::common::spawn_app_with(&[("FASTGATE_UPLOAD_TIMEOUT", "1s")], |_| {}).await;
    let head = futures_util::stream::iter(
        (0..6).map(|i| Ok::<Bytes, std::io::Error>(Bytes::from(bytes(MIB, i)))),
    );
    // Then the client stalls and never finishes.
    let stall = futures_util::stream::pending::<Result<Bytes, std::io::Error>>();
    let body = reqwest::Body::wrap_stream(futures_util::StreamExt::chain(head, stall));
    let form = Form::new()
        .text("workspace", gw.workspace.clone())
        .text("folder", "root")
        .part("file", Part::stream(body).file_name("slow.bin"));
    let r = post_form(&gw, "/upload", form, true).await;
    assert_eq!(r.status, 408, "{}", r.text());
    let outcome = &files_of(&r.json())[0];
    assert_eq!(outcome["name"], "slow.bin");
    let message = outcome["message"].as_str().unwrap_or("");
    assert!(message.contains("longer than the limit"), "{message}");
    wait_until_no_sessions(&gw, Duration::from_secs(5)).await;
    assert!(root_files(&gw).await.is_empty());
}
