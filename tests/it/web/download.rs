//! Downloads through the gateway over real HTTP against the real emulator: byte-identical bodies
//! (SHA-256), the headers a browser needs, Range requests (206, 416), RFC 6266 names, and clear
//! refusals for folders and for what is missing or not exposed. The key never reaches the
//! client (the harness scans every response).

use crate::common::{spawn_app, spawn_app_with};
use sha2::{Digest, Sha256};

fn pseudo_random(len: usize) -> Vec<u8> {
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_download_is_byte_identical_with_length_type_and_attachment_name() {
    let app = spawn_app().await;
    let body = pseudo_random(3 * 1024 * 1024 + 17);
    let node = app.put_file("root", "data.bin", &body).await;
    let r = app
        .get(&format!("/download/{}/{node}", app.workspace))
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(
        hex::encode(Sha256::digest(&r.body)),
        hex::encode(Sha256::digest(&body))
    );
    assert_eq!(
        r.header("content-length"),
        Some(body.len().to_string().as_str())
    );
    assert_eq!(r.header("accept-ranges"), Some("bytes"));
    assert_eq!(r.header("content-type"), Some("application/octet-stream"));
    assert_eq!(
        r.header("content-disposition"),
        Some("attachment; filename=\"data.bin\"; filename*=UTF-8''data.bin")
    );
    assert_eq!(r.header("x-content-type-options"), Some("nosniff"));
}

#[tokio::test(flavor = "multi_thread")]
async fn range_requests_answer_206_with_the_slice_and_416_outside_the_file() {
    let app = spawn_app().await;
    let body = pseudo_random(10_000);
    let node = app.put_file("root", "r.bin", &body).await;
    let url = format!("{}/download/{}/{node}", app.url, app.workspace);
    let get = |range: &'static str| app.send(app.client.get(&url).header("range", range));

    let r = get("bytes=100-199").await;
    assert_eq!(r.status, 206);
    assert_eq!(&r.body[..], &body[100..200]);
    assert_eq!(r.header("content-range"), Some("bytes 100-199/10000"));
    assert_eq!(r.header("content-length"), Some("100"));

    let r = get("bytes=-10").await;
    assert_eq!(r.status, 206);
    assert_eq!(&r.body[..], &body[9_990..]);

    let r = get("bytes=9000-").await;
    assert_eq!(r.status, 206);
    assert_eq!(&r.body[..], &body[9_000..]);

    let r = get("bytes=10000-").await;
    assert_eq!(r.status, 416);
    assert_eq!(r.header("content-range"), Some("bytes */10000"));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_unicode_name_gets_an_ascii_fallback_and_an_rfc_5987_filename() {
    let app = spawn_app().await;
    let node = app
        .put_file("root", "Grüße – 報告 \"Q1\".txt", b"hallo")
        .await;
    let r = app
        .get(&format!("/download/{}/{node}", app.workspace))
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-type"), Some("text/plain"));
    let cd = std::str::from_utf8(r.headers["content-disposition"].as_bytes()).expect("ascii");
    assert_eq!(
        cd,
        "attachment; filename=\"Gr__e _ __ _Q1_.txt\"; \
         filename*=UTF-8''Gr%C3%BC%C3%9Fe%20%E2%80%93%20%E5%A0%B1%E5%91%8A%20%22Q1%22.txt"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn folders_missing_nodes_and_unexposed_workspaces_are_refused_clearly() {
    let app = spawn_app().await;
    let ws = &app.workspace;
    let folder = app.put_folder("root", "Docs").await;
    let r = app.get(&format!("/download/{ws}/{folder}")).await;
    assert_eq!(r.status, 400);
    assert!(r.text().contains("is a folder"), "{}", r.text());
    let r = app.get(&format!("/download/{ws}/nosuchnode")).await;
    assert_eq!(r.status, 404);

    let app = spawn_app_with(&[("FASTGATE_WORKSPACES", "1234567890123456789")], |_| {}).await;
    let node = app.put_file("root", "x.txt", b"x").await;
    let r = app
        .get(&format!("/download/{}/{node}", app.workspace))
        .await;
    assert_eq!(r.status, 404);
}
