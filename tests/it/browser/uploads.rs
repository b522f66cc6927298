//! Uploads as a person makes them, in real headless Chromium (WebDriver): files picked on a
//! folder page and on /upload go through `upload.js` and the JSON API to stored, with honest
//! progress; cancel leaves nothing; a gateway restart plus a reload resumes without re-sending
//! what Fast.io has; injected 429s and 5xx still end stored; and with JavaScript off the same
//! form posts as multipart. Screenshots land in `target/tmp/screenshots/`.

use std::collections::HashMap;
use std::time::Duration;

use crate::common::browser::{Site, make_file};
use crate::common::payload::{MIB, sha256_hex};
use crate::common::wait_until;
use serde_json::Value;
const SECRET: &str = "a-browser-test-secret-of-more-than-32-bytes!";
const FILE_INPUT: &str = "form[data-upload] input[type=file][name=file]";
const UPLOAD_TIMEOUT: Duration = Duration::from_secs(60);

/// Chunk POSTs the emulator answered 200: chunks Fast.io stored.
fn stored_chunk_posts(site: &Site) -> u64 {
    site.emulator
        .stats()
        .count("POST", "/current/upload/{id}/chunk/", 200)
}

/// Waits until Fast.io has stored `n` chunks.
async fn wait_chunks_stored(site: &Site, n: u64) {
    wait_until("chunks stored", UPLOAD_TIMEOUT, || async {
        match stored_chunk_posts(site) {
            seen if seen >= n => Ok(()),
            seen => Err(seen),
        }
    })
    .await;
}

/// The JSON listing of the root folder: name → id.
async fn root_listing(site: &Site) -> HashMap<String, String> {
    let app = site.app();
    let r = app
        .get(&format!("/api/files/{}/root?limit=500", site.workspace))
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    r.json()["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|i| {
            (
                i["name"].as_str().expect("name").to_owned(),
                i["id"].as_str().expect("id").to_owned(),
            )
        })
        .collect()
}

/// SHA-256 of a download through the gateway.
async fn download_sha(site: &Site, node: &str) -> String {
    let app = site.app();
    let r = app
        .get(&format!("/download/{}/{node}", site.workspace))
        .await;
    assert_eq!(r.status, 200, "download {node}");
    sha256_hex(&r.body)
}

fn all_stored(n: usize) -> String {
    format!(
        "const s = document.querySelector('.upload-summary');
         return !!s && s.dataset.stored === '{n}' && s.dataset.total === '{n}';"
    )
}

/// Each picked file has a stored row whose receipt is its SHA-256, is in the root listing, and
/// downloads byte-identical.
async fn assert_each_stored_listed_and_downloadable(
    site: &Site,
    rows: &Value,
    picked: &[(std::path::PathBuf, String)],
) {
    let listing = root_listing(site).await;
    for (path, sha) in picked {
        let name = path
            .file_name()
            .expect("name")
            .to_string_lossy()
            .into_owned();
        let row = rows
            .as_array()
            .expect("rows")
            .iter()
            .find(|r| r["name"] == Value::String(name.clone()))
            .unwrap_or_else(|| panic!("no row for {name}: {rows:#}"));
        assert_eq!(row["state"], "stored");
        assert_eq!(
            row["sha256"].as_str(),
            Some(sha.as_str()),
            "receipt of {name}"
        );
        let node = listing
            .get(&name)
            .unwrap_or_else(|| panic!("{name} not listed: {listing:?}"));
        assert_eq!(&download_sha(site, node).await, sha, "download of {name}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_picked_files_reach_stored_and_listing_and_downloads_match_their_hashes() {
    let site = Site::start(
        &[("FASTGATE_SECRET", SECRET), ("FASTGATE_CHUNK_SIZE", "1MiB")],
        |_| {},
    )
    .await;
    site.emulator.faults().set_latency_ms(100);
    let files = tempfile::tempdir().expect("files");
    let picked = [
        make_file(files.path(), "big video.bin", 12 * MIB, 1),
        make_file(files.path(), "notes ünïcode.txt", 1500, 2),
        make_file(files.path(), "photo.raw", 3 * MIB + 7, 3),
    ];
    let browser = site.browser(true).await;
    browser
        .goto(&format!("{}/w/{}/root", site.url(), site.workspace))
        .await;
    let paths: Vec<_> = picked.iter().map(|(p, _)| p.clone()).collect();
    browser.pick(FILE_INPUT, &paths).await;
    browser
        .wait_until(
            "the big file a third sent",
            UPLOAD_TIMEOUT,
            "return [...document.querySelectorAll('.progress-item')]
                .some(r => r.dataset.state === 'uploading' && r.querySelector('progress').value > 4194304);",
        )
        .await;
    browser.screenshot("three-files-mid-upload").await;
    // Never "done" before Fast.io says stored: a row that is not stored shows no 100 %.
    let early = browser.rows().await;
    for row in early.as_array().expect("rows") {
        if row["state"] != "stored" {
            assert!(
                !row["text"].as_str().unwrap_or("").contains("100 %"),
                "{row}"
            );
        }
    }
    browser
        .wait_until("three files stored", UPLOAD_TIMEOUT, &all_stored(3))
        .await;
    browser.screenshot("three-files-stored").await;

    assert_each_stored_listed_and_downloadable(&site, &browser.rows().await, &picked).await;
    // The folder page offers to show the new files; following it lists them.
    browser
        .eval("document.querySelector('.upload-summary a').click(); return true;")
        .await;
    browser
        .wait_until(
            "the folder listing the files",
            Duration::from_secs(10),
            "return document.querySelectorAll('table.files tbody tr').length === 3;",
        )
        .await;
    browser.screenshot("three-files-listed").await;
    browser.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancelling_mid_upload_leaves_nothing_behind() {
    let site = Site::start(
        &[("FASTGATE_SECRET", SECRET), ("FASTGATE_CHUNK_SIZE", "1MiB")],
        |_| {},
    )
    .await;
    // Slow enough that the rest of the 16 chunks take seconds after the first two are stored,
    // so the click lands mid-upload even on a loaded machine.
    site.emulator.faults().set_latency_ms(400);
    let files = tempfile::tempdir().expect("files");
    let (path, _) = make_file(files.path(), "cancel me.bin", 16 * MIB, 4);
    let browser = site.browser(true).await;
    browser
        .goto(&format!("{}/w/{}/root", site.url(), site.workspace))
        .await;
    browser.pick(FILE_INPUT, &[path]).await;
    wait_chunks_stored(&site, 2).await;
    browser.screenshot("cancel-before").await;
    browser
        .eval("document.querySelector('.progress-cancel').click(); return true;")
        .await;
    browser
        .wait_until(
            "the row to say cancelled",
            Duration::from_secs(10),
            "return document.querySelector('.progress-item').dataset.state === 'cancelled';",
        )
        .await;
    browser.screenshot("cancel-after").await;
    let fastio = site.state().fastio.clone();
    wait_until("no upload session", Duration::from_secs(10), || async {
        let open = fastio.list_uploads().await.expect("sessions");
        if open.is_empty() { Ok(()) } else { Err(open) }
    })
    .await;
    assert!(root_listing(&site).await.is_empty());
    assert!(
        stored_chunk_posts(&site) < 16,
        "the upload was not cut short"
    );
    browser.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_a_gateway_restart_a_reload_and_reselect_resumes_without_resending_stored_chunks() {
    let mut site = Site::start(
        &[("FASTGATE_SECRET", SECRET), ("FASTGATE_CHUNK_SIZE", "1MiB")],
        |_| {},
    )
    .await;
    site.emulator.faults().set_latency_ms(120);
    let files = tempfile::tempdir().expect("files");
    let chunks = 20;
    let (path, sha) = make_file(files.path(), "resumable.bin", chunks * MIB - 3, 5);
    let browser = site.browser(true).await;
    let page = format!("{}/w/{}/root", site.url(), site.workspace);
    browser.goto(&page).await;
    browser.pick(FILE_INPUT, std::slice::from_ref(&path)).await;
    wait_chunks_stored(&site, 4).await;
    browser.screenshot("restart-before-kill").await;
    site.kill_gateway();
    // The page is left (its retries stop) while the gateway is down, then loaded again.
    browser.goto("about:blank").await;
    let before = stored_chunk_posts(&site);
    assert!(
        before < chunks as u64,
        "the upload finished before the restart"
    );
    site.start_gateway();
    browser.goto(&page).await;
    browser.pick(FILE_INPUT, &[path]).await;
    browser
        .wait_until("the resumed file stored", UPLOAD_TIMEOUT, &all_stored(1))
        .await;
    browser.screenshot("restart-resumed-stored").await;
    let rows = browser.rows().await;
    let row = &rows[0];
    assert_eq!(row["sha256"].as_str(), Some(sha.as_str()));
    let resumed: u64 = row["resumed"]
        .as_str()
        .and_then(|r| r.parse().ok())
        .unwrap_or_else(|| panic!("the row did not resume: {row}"));
    // A chunk already on its way when the gateway died may still be stored after `before` was
    // read; it is reused too. That none was sent twice is the exact count below.
    assert!(
        resumed >= before,
        "every chunk Fast.io had was reused ({resumed} of {before})"
    );
    eprintln!("resume reused {before} of {chunks} chunks: {before} chunk PUTs saved");
    assert_eq!(
        stored_chunk_posts(&site),
        chunks as u64,
        "no chunk was sent to Fast.io twice ({before} before the restart)"
    );
    let listing = root_listing(&site).await;
    assert_eq!(&download_sha(&site, &listing["resumable.bin"]).await, &sha);
    browser.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn injected_429s_and_5xx_still_end_with_every_file_stored() {
    let site = Site::start(
        &[
            ("FASTGATE_SECRET", SECRET),
            ("FASTGATE_CHUNK_SIZE", "1MiB"),
            // Two chunks in memory at once: three files of three chunks in flight meet 429s.
            ("FASTGATE_INFLIGHT_BUDGET", "2MiB"),
        ],
        |_| {},
    )
    .await;
    let faults = site.emulator.faults();
    // 5xx on three chunk uploads, deterministically (a chunk is retried by its order).
    for n in [2, 5, 9] {
        faults.fail_nth_with_5xx("/current/upload/{id}/chunk/", n);
    }
    // Fast.io's own limit: a short window the gateway waits out by its rate-limit headers.
    faults.set_rate_limit(10, Duration::from_secs(1));
    let files = tempfile::tempdir().expect("files");
    let picked = [
        make_file(files.path(), "a.bin", 5 * MIB + 1, 6),
        make_file(files.path(), "b.bin", 4 * MIB, 7),
        make_file(files.path(), "c.bin", 3 * MIB + 99, 8),
    ];
    let browser = site.browser(true).await;
    browser.goto(&format!("{}/upload", site.url())).await;
    let paths: Vec<_> = picked.iter().map(|(p, _)| p.clone()).collect();
    browser.pick(FILE_INPUT, &paths).await;
    browser
        .wait_until(
            "every file stored despite faults",
            UPLOAD_TIMEOUT,
            &all_stored(3),
        )
        .await;
    faults.set_rate_limit(10_000, Duration::from_secs(60));
    browser.screenshot("faults-all-stored").await;
    assert_each_stored_listed_and_downloadable(&site, &browser.rows().await, &picked).await;
    let stats = site.emulator.stats();
    let errors: u64 = stats
        .requests
        .iter()
        .filter(|((_, _, status), _)| *status == 429 || *status >= 500)
        .map(|(_, n)| n)
        .sum();
    assert!(errors >= 3, "the faults were injected ({errors} seen)");
    let throttled = browser
        .eval("return Number(document.querySelector('.upload-summary').dataset.throttled || 0);")
        .await;
    assert!(
        throttled.as_u64().unwrap_or(0) > 0,
        "the page met the gateway's 429 and paused"
    );
    browser.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_javascript_off_the_same_form_posts_the_files_and_stores_them() {
    let site = Site::start(&[("FASTGATE_SECRET", SECRET)], |_| {}).await;
    let files = tempfile::tempdir().expect("files");
    let picked = [
        make_file(files.path(), "plain one.txt", 2000, 9),
        make_file(files.path(), "plain two.bin", 5 * MIB + 3, 10),
    ];
    let browser = site.browser(false).await;
    browser
        .goto(&format!("{}/w/{}/root", site.url(), site.workspace))
        .await;
    let enhanced = browser
        .eval("return !!document.querySelector('.folder-pick');")
        .await;
    assert_eq!(
        enhanced,
        Value::Bool(false),
        "JavaScript ran although disabled"
    );
    let paths: Vec<_> = picked.iter().map(|(p, _)| p.clone()).collect();
    browser.pick(FILE_INPUT, &paths).await;
    browser
        .eval(
            "document.querySelector('form[data-upload] button[type=submit]').click(); return true;",
        )
        .await;
    browser
        .wait_until(
            "the results page",
            UPLOAD_TIMEOUT,
            "return document.readyState === 'complete' && !document.querySelector('.dropzone input').files.length;",
        )
        .await;
    browser.screenshot("no-js-result").await;
    let listing = root_listing(&site).await;
    for (path, sha) in &picked {
        let name = path
            .file_name()
            .expect("name")
            .to_string_lossy()
            .into_owned();
        let node = listing
            .get(&name)
            .unwrap_or_else(|| panic!("{name} not stored: {listing:?}"));
        assert_eq!(&download_sha(&site, node).await, sha);
    }
    let text = browser.eval("return document.body.innerText;").await;
    assert!(
        text.as_str().unwrap_or("").contains("plain one.txt"),
        "the result page names the files"
    );
    browser.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_picked_folder_keeps_its_tree() {
    let site = Site::start(&[("FASTGATE_SECRET", SECRET)], |_| {}).await;
    let files = tempfile::tempdir().expect("files");
    let album = files.path().join("album");
    std::fs::create_dir_all(album.join("2024")).expect("dirs");
    let (_, top_sha) = make_file(&album, "cover.txt", 300, 11);
    let (_, inner_sha) = make_file(&album.join("2024"), "beach.bin", 2 * MIB, 12);
    let browser = site.browser(true).await;
    browser
        .goto(&format!("{}/w/{}/root", site.url(), site.workspace))
        .await;
    browser.pick("input[data-folder-input]", &[album]).await;
    browser
        .wait_until("the folder's files stored", UPLOAD_TIMEOUT, &all_stored(2))
        .await;
    let fastio = site.state().fastio.clone();
    let query = fastgate::fastio::ListQuery::default();
    let find = |nodes: &[fastgate::fastio::Node], name: &str| {
        nodes
            .iter()
            .find(|n| n.name == name)
            .unwrap_or_else(|| panic!("no {name} in {nodes:?}"))
            .id
            .clone()
    };
    let root = fastio
        .list_folder(&site.workspace, "root", &query)
        .await
        .expect("root");
    let album_id = find(&root.nodes, "album");
    let inside = fastio
        .list_folder(&site.workspace, &album_id, &query)
        .await
        .expect("album");
    let cover = find(&inside.nodes, "cover.txt");
    let year = find(&inside.nodes, "2024");
    let deeper = fastio
        .list_folder(&site.workspace, &year, &query)
        .await
        .expect("2024");
    let beach = find(&deeper.nodes, "beach.bin");
    assert_eq!(download_sha(&site, &cover).await, top_sha);
    assert_eq!(download_sha(&site, &beach).await, inner_sha);
    browser.close().await;
}
