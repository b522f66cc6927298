//! The rules of a form upload, enforced while streaming (DESIGN §4, §5): size (413, the stream
//! cut at max+1 and its session cancelled), type (415, decided before anything goes upstream),
//! files per post (413 for the extras, the others' outcome still clear).

use std::time::Duration;

use crate::common::forms::*;
use crate::common::payload::{MIB, bytes, sha256_hex};
use crate::common::spawn_app_with;

#[tokio::test(flavor = "multi_thread")]
async fn upload_over_size_limit_returns_413_and_leaves_nothing() {
    let gw = spawn_app_with(&[("FASTGATE_MAX_FILE_SIZE", "5MiB")], |_| {}).await;
    let files = vec![
        ("too-big.bin", bytes(6 * MIB, 1)),
        ("fine.txt", b"fits".to_vec()),
    ];
    let r = post_form(&gw, "/upload", form_for(&gw, files), true).await;
    assert_eq!(r.status, 413, "{}", r.text());
    let body = r.json();
    assert_eq!(body["type"], "failure");
    assert_eq!(body["status"], 413);
    let outcomes = files_of(&body);
    assert_eq!(outcomes[0]["status"], "failed");
    let message = outcomes[0]["message"].as_str().unwrap_or("");
    assert!(message.contains("larger than the limit of 5"), "{message}");
    assert_eq!(
        outcomes[1]["status"], "stored",
        "a failure never hides a success"
    );

    let names: Vec<String> = root_files(&gw).await.into_iter().map(|n| n.name).collect();
    assert_eq!(names, ["fine.txt"]);
    wait_until_no_sessions(&gw, Duration::from_secs(5)).await;
    // Two sessions were opened (the big file's stream, the small file's single call); the
    // stream was cut and its session cancelled.
    let creates = gw.emulator.stats().total("POST", "/current/upload/");
    assert_eq!(creates, 2, "the big file began streaming and was cut");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_file_of_exactly_the_limit_is_accepted() {
    let gw = spawn_app_with(&[("FASTGATE_MAX_FILE_SIZE", "5MiB")], |_| {}).await;
    let r = post_form(
        &gw,
        "/upload",
        form_for(&gw, vec![("edge.bin", bytes(5 * MIB, 9))]),
        true,
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());
}

#[tokio::test(flavor = "multi_thread")]
async fn disallowed_types_are_415_before_anything_goes_upstream() {
    let gw = spawn_app_with(&[("FASTGATE_ALLOWED_TYPES", ".pdf")], |_| {}).await;
    let mut elf = b"\x7fELF\x02\x01\x01\0".to_vec();
    elf.extend(bytes(5000, 2));
    let mut png = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR".to_vec();
    png.extend(bytes(6 * MIB, 3));
    let mut pdf = b"%PDF-1.7\n".to_vec();
    pdf.extend(bytes(2000, 4));
    let files = vec![
        ("setup.exe", bytes(3000, 5)),
        ("invoice.pdf", elf),
        ("photo.pdf", png),
        ("real.pdf", pdf.clone()),
    ];
    let r = post_form(&gw, "/upload", form_for(&gw, files), true).await;
    assert_eq!(r.status, 415, "{}", r.text());
    let outcomes = files_of(&r.json());
    let statuses: Vec<&str> = outcomes
        .iter()
        .filter_map(|o| o["status"].as_str())
        .collect();
    assert_eq!(statuses, ["failed", "failed", "failed", "stored"]);
    let messages: Vec<&str> = outcomes[..3]
        .iter()
        .filter_map(|o| o["message"].as_str())
        .collect();
    assert!(messages[0].contains(".exe"), "{messages:?}");
    assert!(messages[1].contains("looks like"), "{messages:?}");
    assert!(messages[2].contains("image/png"), "{messages:?}");
    assert_eq!(
        outcomes[3]["sha256"].as_str(),
        Some(sha256_hex(&pdf).as_str())
    );

    let stats = gw.emulator.stats();
    assert_eq!(
        stats.total("POST", "/current/upload/"),
        1,
        "only the real PDF went up"
    );
    let names: Vec<String> = root_files(&gw).await.into_iter().map(|n| n.name).collect();
    assert_eq!(names, ["real.pdf"]);
}

#[tokio::test(flavor = "multi_thread")]
async fn too_many_files_are_413_for_the_extras_and_the_rest_are_stored() {
    let gw = spawn_app_with(&[("FASTGATE_MAX_FILES", "2")], |_| {}).await;
    let files = vec![
        ("one.txt", b"1".to_vec()),
        ("two.txt", b"2".to_vec()),
        ("three.txt", b"3".to_vec()),
    ];
    let r = post_form(&gw, "/upload", form_for(&gw, files), true).await;
    assert_eq!(r.status, 413, "{}", r.text());
    let outcomes = files_of(&r.json());
    assert_eq!(outcomes.len(), 3, "the extra file is reported, not dropped");
    assert_eq!(outcomes[0]["status"], "stored");
    assert_eq!(outcomes[1]["status"], "stored");
    assert_eq!(outcomes[2]["status"], "failed");
    assert_eq!(outcomes[2]["name"], "three.txt");
    let message = outcomes[2]["message"].as_str().unwrap_or("");
    assert!(message.contains("at most 2 files"), "{message}");
    let mut names: Vec<String> = root_files(&gw).await.into_iter().map(|n| n.name).collect();
    names.sort();
    assert_eq!(names, ["one.txt", "two.txt"]);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_failed_page_post_shows_the_failure_and_the_successes() {
    let gw = spawn_app_with(&[("FASTGATE_MAX_FILES", "1")], |_| {}).await;
    let files = vec![("kept.txt", b"k".to_vec()), ("extra.txt", b"e".to_vec())];
    let r = post_form(&gw, "/upload", form_for(&gw, files), false).await;
    assert_eq!(r.status, 413);
    let html = r.text();
    assert!(
        html.contains("kept.txt") && html.contains("extra.txt"),
        "{html}"
    );
    assert!(html.contains("1 of 2 files were stored"), "{html}");
    assert!(html.contains("at most 1 files"), "{html}");
}
