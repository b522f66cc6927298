//! Ask your files as a person does it, in real headless Chromium: type a question on the ask
//! page, watch the answer stream into the thread (the page is not reloaded), click the cited
//! file, and land on its file page at the cited page.

use std::time::Duration;

use reqwest::multipart::Form;
use serde_json::json;

use crate::common::browser::Site;
use crate::common::documents::{self, NOTES_MD, REPORT_PAGES, SUPPLIERS_CSV};
use crate::common::forms::{file_part, files_of};
use crate::common::wait_until;
use fastgate::fastio::AiIndexState;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_question_asked_on_the_page_streams_in_and_its_citation_opens_the_cited_page() {
    let site = Site::start(&[], |c| {
        c.ai.index_delay = Duration::ZERO;
        c.ai.answer_delay = Duration::from_millis(1200);
    })
    .await;
    let app = site.app();
    let ws = site.workspace.clone();
    let pdf = documents::pdf(&REPORT_PAGES);
    let form = [
        ("report.pdf", pdf),
        ("notes.md", NOTES_MD.as_bytes().to_vec()),
        ("suppliers.csv", SUPPLIERS_CSV.as_bytes().to_vec()),
    ]
    .into_iter()
    .fold(
        Form::new()
            .text("workspace", ws.clone())
            .text("folder", "root"),
        |form, (name, data)| form.part("file", file_part(name, data)),
    );
    let r = app
        .send(
            app.client
                .post(format!("{}/upload", app.url))
                .header("origin", app.origin())
                .header("accept", "application/json")
                .multipart(form),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let ids: Vec<String> = files_of(&r.json())
        .iter()
        .map(|o| o["node"].as_str().expect("node").to_owned())
        .collect();
    let state = site.state();
    for id in &ids {
        wait_until("indexed", Duration::from_secs(20), || async {
            let node = state
                .fastio
                .node(&ws, id)
                .await
                .map_err(|e| e.to_string())?;
            if node.ai.state == AiIndexState::Ready {
                Ok(())
            } else {
                Err(format!("{:?}", node.ai.state))
            }
        })
        .await;
    }

    let browser = site.browser(true).await;
    browser.goto(&format!("{}/w/{ws}/ask", site.url())).await;
    browser
        .eval(
            "document.querySelector('#ask-question').value = 'How deep were the geothermal wells drilled?';
             document.querySelector('form[data-ask] button[type=submit]').click();
             return true;",
        )
        .await;
    browser
        .wait_until(
            "the thread page",
            Duration::from_secs(10),
            "return location.pathname.includes('/ask/') && !!document.querySelector('article[data-message]');",
        )
        .await;
    // Marks this page load: if the answer arrives by a reload, the mark is gone.
    let streaming = browser
        .eval(
            "window.__sameLoad = true;
             return !!document.querySelector('article[data-events]');",
        )
        .await;
    assert_eq!(streaming, json!(true), "the answer was not still coming");
    browser
        .wait_until(
            "the answer streamed in",
            Duration::from_secs(20),
            "return !!document.querySelector('[data-answer]') && !!document.querySelector('.ask-citation');",
        )
        .await;
    assert_eq!(
        browser.eval("return window.__sameLoad === true;").await,
        json!(true),
        "the answer came in by a reload, not the event stream"
    );
    browser.screenshot("ask-answer").await;
    let marked = browser
        .eval("return [...document.querySelectorAll('.ask-snippet mark')].map(m => m.textContent.toLowerCase());")
        .await;
    assert!(
        marked
            .as_array()
            .expect("marks")
            .iter()
            .any(|m| m == "geothermal"),
        "{marked}"
    );
    let href = browser
        .eval("return document.querySelector('a.ask-cite-file').getAttribute('href');")
        .await;
    assert_eq!(href, json!(format!("/w/{ws}/f/{}?page=2", ids[0])));
    browser
        .eval("document.querySelector('a.cite-ref').click(); return true;")
        .await;
    browser
        .wait_until(
            "the [1] link to point at its card",
            Duration::from_secs(5),
            "return location.hash.startsWith('#c-');",
        )
        .await;
    browser
        .eval("document.querySelector('a.ask-cite-file').click(); return true;")
        .await;
    browser
        .wait_until(
            "the file page",
            Duration::from_secs(10),
            &format!(
                "return location.pathname === '/w/{ws}/f/{}' && location.search === '?page=2'
                   && document.body.innerText.includes('report.pdf');",
                ids[0]
            ),
        )
        .await;
    browser.screenshot("ask-citation-file-page").await;
    browser.close().await;
}
