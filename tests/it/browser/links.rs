//! An upload-request link as its visitor uses it, in real headless Chromium: an anonymous
//! browser opens `/r/{token}`, types a name, picks files, and `upload.js` sends them through
//! the link's JS path (`/r/{token}/uploads`, the chunks, `complete`, then `done`) into one
//! submission in its own subfolder; the page never offers a download.

use std::time::Duration;

use serde_json::{Value, json};

use crate::common::browser::{Browser, Site, make_file};
use crate::common::payload::MIB;
use crate::common::wait_until;

const SECRET: &str = "a-browser-test-secret-of-more-than-32-bytes!";
const FILE_INPUT: &str = "form[data-upload] input[type=file][name=file]";
const UPLOAD_TIMEOUT: Duration = Duration::from_secs(60);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_visitor_uploads_through_a_link_page_into_one_submission_with_no_download_offered() {
    let site = Site::start(
        &[("FASTGATE_SECRET", SECRET), ("FASTGATE_CHUNK_SIZE", "1MiB")],
        |_| {},
    )
    .await;
    let app = site.app();
    let created = app
        .send(
            app.client
                .post(format!("{}/api/links", app.url))
                .json(&json!({
                    "workspace": site.workspace, "label": "Send us your photos", "expires_in": 3600,
                    "subfolder_per_submission": true, "max_files": 2,
                })),
        )
        .await;
    assert_eq!(created.status, 201, "{}", created.text());
    let link = created.json();
    let files = tempfile::tempdir().expect("files");
    let picked = [
        make_file(files.path(), "holiday.bin", 3 * MIB + 5, 1),
        make_file(files.path(), "notes.txt", 700, 2),
    ];
    let browser = Browser::start(true).await;
    browser.goto(link["url"].as_str().expect("url")).await;
    browser
        .eval("document.querySelector('#link-uploader').value = 'Erin'; return true;")
        .await;
    let paths: Vec<_> = picked.iter().map(|(p, _)| p.clone()).collect();
    browser.pick(FILE_INPUT, &paths).await;
    browser
        .wait_until(
            "both files stored",
            UPLOAD_TIMEOUT,
            "const s = document.querySelector('.upload-summary');
             return !!s && s.dataset.stored === '2' && s.dataset.total === '2';",
        )
        .await;
    browser.screenshot("link-two-files-stored").await;
    let downloads = browser
        .eval("return document.querySelectorAll('a[href*=\"/download/\"]').length;")
        .await;
    assert_eq!(downloads, json!(0), "a link page offered a download");
    let rows = browser.rows().await;
    for (_, sha) in &picked {
        assert!(
            rows.as_array()
                .expect("rows")
                .iter()
                .any(|r| r["sha256"].as_str() == Some(sha.as_str())),
            "no receipt with {sha}: {rows:#}"
        );
    }
    let path = format!("/api/links/{}", link["id"]);
    let details: Value = wait_until(
        "the submission recorded",
        Duration::from_secs(10),
        || async {
            let d = app.get(&path).await.json();
            let files = d["submissions"][0]["files"].as_array().map_or(0, Vec::len);
            if files == 2 { Ok(d) } else { Err(d) }
        },
    )
    .await;
    assert_eq!(
        details["uses"], 1,
        "one submission for the visit: {details:#}"
    );
    assert_eq!(details["submissions"][0]["uploader"], "Erin");
    browser.close().await;
}
