//! Ask your files through the gateway (DESIGN §3d) against the emulator's offline answer engine:
//! three documents uploaded through the gateway's own upload route (a 3-page PDF made here, a
//! Markdown file, a CSV), then questions over the JSON API, the event stream and the pages.

use std::time::{Duration, Instant};

use futures_util::StreamExt;
use reqwest::StatusCode;
use reqwest::multipart::Form;
use serde_json::{Value, json};

use crate::common::documents::{self, NOTES_MD, REPORT_PAGES, SUPPLIERS_CSV};
use crate::common::forms::{file_part, files_of, post_form};
use crate::common::{Gateway, Recorded, TestApp, spawn_app_with, wait_until};
use fastgate::fastio::AiIndexState;

/// A gateway whose emulator indexes and answers without delay.
async fn gateway() -> Gateway {
    spawn_app_with(&[], |c| {
        c.ai.index_delay = Duration::ZERO;
        c.ai.answer_delay = Duration::ZERO;
    })
    .await
}

/// Uploads `files` into `folder` through the gateway's `/upload` form; their node ids.
async fn upload(gw: &Gateway, folder: &str, files: &[(&str, &[u8])]) -> Vec<String> {
    let form = files.iter().fold(
        Form::new()
            .text("workspace", gw.workspace.clone())
            .text("folder", folder.to_owned()),
        |form, (name, data)| form.part("file", file_part(name, data.to_vec())),
    );
    let r = post_form(gw, "/upload", form, true).await;
    assert_eq!(r.status, 200, "{}", r.text());
    files_of(&r.json())
        .iter()
        .map(|o| o["node"].as_str().expect("stored node").to_owned())
        .collect()
}

/// Waits until every node in `ids` is indexed.
async fn wait_ready(gw: &Gateway, ids: &[String]) {
    for id in ids {
        wait_until("ai.state ready", Duration::from_secs(20), || async {
            let node = gw
                .state
                .fastio
                .node(&gw.workspace, id)
                .await
                .map_err(|e| e.to_string())?;
            match node.ai.state {
                AiIndexState::Ready => Ok(()),
                other => Err(format!("{other:?}")),
            }
        })
        .await;
    }
}

struct Docs {
    pdf: String,
    notes: String,
    csv: String,
}

async fn three_documents(gw: &Gateway) -> Docs {
    let pdf = documents::pdf(&REPORT_PAGES);
    let ids = upload(
        gw,
        "root",
        &[
            ("report.pdf", &pdf),
            ("notes.md", NOTES_MD.as_bytes()),
            ("suppliers.csv", SUPPLIERS_CSV.as_bytes()),
        ],
    )
    .await;
    wait_ready(gw, &ids).await;
    Docs {
        pdf: ids[0].clone(),
        notes: ids[1].clone(),
        csv: ids[2].clone(),
    }
}

async fn post_ask(app: &TestApp, ws: &str, body: Value) -> Recorded {
    app.send(
        app.client
            .post(format!("{}/api/ask/{ws}", app.url))
            .json(&body),
    )
    .await
}

/// Asks and returns `(chat, message)`.
async fn ask(gw: &Gateway, body: Value) -> (String, String) {
    let r = post_ask(gw, &gw.workspace, body).await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{}", r.text());
    let v = r.json();
    assert!(v["state"].is_string(), "{v}");
    (
        v["chat"].as_str().expect("chat").to_owned(),
        v["message"].as_str().expect("message").to_owned(),
    )
}

/// The answer once final.
async fn final_answer(app: &TestApp, ws: &str, chat: &str, msg: &str) -> Value {
    let path = format!("/api/ask/{ws}/{chat}/{msg}");
    wait_until("a final answer", Duration::from_secs(20), || async {
        let r = app.get(&path).await;
        let v = r.json();
        if r.status != 200 {
            return Err(format!("HTTP {}: {v}", r.status));
        }
        match v["state"].as_str() {
            Some("complete" | "errored" | "needs_input") => Ok(v),
            _ => Err(v.to_string()),
        }
    })
    .await
}

/// The quoted text of citation `n` in an answer (`"…" [n]`).
fn quote(answer: &str, n: usize) -> String {
    let marker = format!("[{n}]");
    let at = answer.find(&marker).expect("marker");
    let before = &answer[..at];
    let end = before.rfind('"').expect("closing quote");
    let start = before[..end].rfind('"').expect("opening quote");
    before[start + 1..end].to_owned()
}

fn assert_error(r: &Recorded, status: u16, code: &str) {
    assert_eq!(r.status.as_u16(), status, "{}", r.text());
    assert_eq!(r.json()["error"]["code"], code, "{}", r.text());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_question_answered_from_page_two_cites_the_pdf_at_page_two_with_a_verbatim_quote() {
    let gw = gateway().await;
    let ws = gw.workspace.clone();
    let d = three_documents(&gw).await;
    let started = Instant::now();
    let (chat, msg) = ask(
        &gw,
        json!({"question": "How deep were the geothermal wells drilled?"}),
    )
    .await;
    let a = final_answer(&gw, &ws, &chat, &msg).await;
    let latency = started.elapsed();
    eprintln!("answer latency through the gateway: {latency:?}");
    assert_eq!(a["state"], "complete", "{a}");
    assert_eq!(a["found"], true, "{a}");
    let c = &a["citations"][0];
    assert_eq!(c["node"], d.pdf.as_str(), "{a}");
    assert_eq!(c["name"], "report.pdf");
    assert_eq!(c["url"], format!("/w/{ws}/f/{}?page=2", d.pdf));
    assert_eq!(c["entries"][0]["page"], 2, "{a}");
    let q = quote(a["answer"].as_str().expect("answer"), 1);
    assert!(q.contains("geothermal wells drilled to 180 metres"), "{q}");
    let page2 = documents::page_text(REPORT_PAGES[1]);
    assert!(
        page2.contains(&q),
        "quote {q:?} not verbatim in page 2 {page2:?}"
    );
    assert!(
        c["entries"][0]["snippet"]
            .as_str()
            .expect("snippet")
            .contains(&q)
    );
    assert!(
        a["citations"]
            .as_array()
            .expect("list")
            .iter()
            .all(|c| c["node"] != d.notes.as_str())
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_csv_value_question_cites_the_row_holding_it() {
    let gw = gateway().await;
    let ws = gw.workspace.clone();
    let d = three_documents(&gw).await;
    let (chat, msg) = ask(
        &gw,
        json!({"question": "Which supplier delivers irrigation pipes?"}),
    )
    .await;
    let a = final_answer(&gw, &ws, &chat, &msg).await;
    let c = &a["citations"][0];
    assert_eq!(c["node"], d.csv.as_str(), "{a}");
    assert_eq!(c["entries"][0]["row"], 2, "{a}");
    assert!(
        c["entries"][0]["snippet"]
            .as_str()
            .expect("snippet")
            .contains("Birchwood Ltd"),
        "{a}"
    );
    assert!(quote(a["answer"].as_str().expect("answer"), 1).contains("Birchwood Ltd"));
}

#[tokio::test(flavor = "multi_thread")]
async fn an_unrelated_question_is_not_found_with_no_citations() {
    let gw = gateway().await;
    let ws = gw.workspace.clone();
    three_documents(&gw).await;
    let (chat, msg) = ask(
        &gw,
        json!({"question": "What is the boiling point of mercury?"}),
    )
    .await;
    let a = final_answer(&gw, &ws, &chat, &msg).await;
    assert_eq!(a["state"], "complete");
    assert_eq!(a["found"], false, "{a}");
    assert_eq!(a["citations"], json!([]));

    let page = gw.get(&format!("/w/{ws}/ask/{chat}")).await;
    assert_eq!(page.status, 200);
    let html = page.text();
    assert!(html.contains("Not found in the files."), "{html}");
    assert!(
        !html.contains("ask-citation"),
        "no citation cards on a not-found answer"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn folder_scope_excludes_files_outside_the_folder() {
    let gw = gateway().await;
    let ws = gw.workspace.clone();
    let d = three_documents(&gw).await;
    let sales = gw.put_folder("root", "sales").await;
    let inside = upload(&gw, &sales, &[("march.md", NOTES_MD.as_bytes())]).await;
    wait_ready(&gw, &inside).await;

    let (chat, msg) = ask(
        &gw,
        json!({"question": "How deep were the geothermal wells drilled?", "folder": sales}),
    )
    .await;
    let a = final_answer(&gw, &ws, &chat, &msg).await;
    assert_eq!(a["found"], false, "the report is outside the folder: {a}");
    assert_eq!(a["citations"], json!([]));

    let (chat, msg) = ask(
        &gw,
        json!({"question": "What was the revenue in March?", "folder": sales}),
    )
    .await;
    let a = final_answer(&gw, &ws, &chat, &msg).await;
    let cited: Vec<&str> = a["citations"]
        .as_array()
        .expect("citations")
        .iter()
        .filter_map(|c| c["node"].as_str())
        .collect();
    assert_eq!(cited, [inside[0].as_str()], "{a}");
    assert!(!cited.contains(&d.notes.as_str()));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_vague_question_needs_input_and_a_follow_up_finds_the_march_passage() {
    let gw = gateway().await;
    let ws = gw.workspace.clone();
    let d = three_documents(&gw).await;
    let (chat, msg) = ask(&gw, json!({"question": "Tell me about these files"})).await;
    let a = final_answer(&gw, &ws, &chat, &msg).await;
    assert_eq!(a["state"], "needs_input", "{a}");
    assert!(
        a["clarification"].as_str().is_some_and(|q| !q.is_empty()),
        "{a}"
    );
    assert_eq!(
        a["answer"],
        Value::Null,
        "the echoed question is not an answer"
    );
    let page = gw.get(&format!("/w/{ws}/ask/{chat}")).await.text();
    assert!(
        page.contains("Your reply"),
        "a reply box for the clarification"
    );

    let (chat, msg) = ask(
        &gw,
        json!({"question": "What was the revenue in February?"}),
    )
    .await;
    let a = final_answer(&gw, &ws, &chat, &msg).await;
    assert!(
        a["answer"].as_str().expect("answer").contains("41,000"),
        "{a}"
    );
    let (same, next) = ask(&gw, json!({"question": "and in March?", "chat": chat})).await;
    assert_eq!(same, chat);
    let a = final_answer(&gw, &ws, &chat, &next).await;
    assert_eq!(a["citations"][0]["node"], d.notes.as_str(), "{a}");
    assert!(
        a["citations"][0]["entries"][0]["snippet"]
            .as_str()
            .expect("snippet")
            .contains("57,500"),
        "{a}"
    );
    let thread = gw.get(&format!("/w/{ws}/ask/{chat}")).await.text();
    assert!(
        thread.contains(&format!("id=\"m-{msg}\"")) && thread.contains(&format!("id=\"m-{next}\""))
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn attached_files_are_answered_without_citations_and_a_folder_is_a_clear_400() {
    let gw = gateway().await;
    let ws = gw.workspace.clone();
    let d = three_documents(&gw).await;
    let (chat, msg) = ask(
        &gw,
        json!({"question": "How deep were the geothermal wells drilled?", "files": [d.pdf]}),
    )
    .await;
    let a = final_answer(&gw, &ws, &chat, &msg).await;
    assert_eq!(a["state"], "complete", "{a}");
    assert_eq!(a["found"], true, "{a}");
    assert_eq!(a["citations"], json!([]));
    assert!(
        a["answer"].as_str().expect("answer").contains("180 metres"),
        "{a}"
    );

    let folder = gw.put_folder("root", "archive").await;
    let r = post_ask(&gw, &ws, json!({"question": "wells?", "files": [folder]})).await;
    assert_error(&r, 400, "folder_not_attachable");
    assert!(
        r.json()["error"]["message"]
            .as_str()
            .expect("m")
            .contains("not folders")
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_questions_and_scopes_are_refused_with_the_reason() {
    let gw = gateway().await;
    let ws = gw.workspace.clone();
    let d = three_documents(&gw).await;
    assert_error(
        &post_ask(&gw, &ws, json!({"question": "   "})).await,
        400,
        "bad_request",
    );
    let long = "a".repeat(12_769);
    assert_error(
        &post_ask(&gw, &ws, json!({"question": long})).await,
        400,
        "bad_request",
    );
    let both = post_ask(
        &gw,
        &ws,
        json!({"question": "wells?", "folder": "root", "files": [d.pdf]}),
    )
    .await;
    assert_error(&both, 400, "bad_request");
    assert!(both.text().contains("not both"), "{}", both.text());
    // A node this workspace does not hold (another workspace's id) is 404 before asking.
    let foreign = "f3jm5zqzfxpxdr2dx8z5bvnb3rpjfm";
    for body in [
        json!({"question": "wells?", "folder": foreign}),
        json!({"question": "wells?", "files": [foreign]}),
    ] {
        assert_error(&post_ask(&gw, &ws, body).await, 404, "not_found");
    }
    let r = post_ask(&gw, &ws, json!({"question": "wells?", "chat": "nochat"})).await;
    assert_error(&r, 404, "not_found");
    let stats = gw.emulator.stats();
    assert_eq!(stats.total("POST", "/current/workspace/{ws}/ai/agent/"), 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_file_still_indexing_is_counted_in_the_banner() {
    let gw = spawn_app_with(&[], |c| {
        c.ai.index_delay = Duration::from_secs(60);
        c.ai.answer_delay = Duration::ZERO;
    })
    .await;
    let ws = gw.workspace.clone();
    upload(&gw, "root", &[("notes.md", NOTES_MD.as_bytes())]).await;
    let page = gw.get(&format!("/w/{ws}/ask")).await;
    assert_eq!(page.status, 200);
    let html = page.text();
    assert!(html.contains("1 file is still indexing"), "{html}");
    assert!(html.contains("data-indexing=\"1\""));
}

/// Reads server-sent events from `response` until `last` arrives; `(event, data)` in order.
async fn read_events(response: reqwest::Response, last: &str) -> Vec<(String, Value)> {
    let mut body = response.bytes_stream();
    let mut text = String::new();
    let mut events = Vec::new();
    while let Some(chunk) = tokio::time::timeout(Duration::from_secs(20), body.next())
        .await
        .expect("an event in time")
    {
        text.push_str(std::str::from_utf8(&chunk.expect("chunk")).expect("utf-8"));
        while let Some(end) = text.find("\n\n") {
            let block: String = text.drain(..end + 2).collect();
            let name = block
                .lines()
                .find_map(|l| l.strip_prefix("event: "))
                .map(str::to_owned);
            let data = block.lines().find_map(|l| l.strip_prefix("data: "));
            if let (Some(name), Some(data)) = (name, data) {
                let done = name == last;
                events.push((name, serde_json::from_str(data).expect("json data")));
                if done {
                    return events;
                }
            }
        }
    }
    events
}

#[tokio::test(flavor = "multi_thread")]
async fn the_event_stream_delivers_each_state_and_then_the_answer() {
    let gw = spawn_app_with(&[], |c| {
        c.ai.index_delay = Duration::ZERO;
        c.ai.answer_delay = Duration::from_millis(300);
    })
    .await;
    let ws = gw.workspace.clone();
    let d = three_documents(&gw).await;
    let (chat, msg) = ask(
        &gw,
        json!({"question": "How deep were the geothermal wells drilled?"}),
    )
    .await;
    let response = gw
        .client
        .get(format!("{}/api/ask/{ws}/{chat}/{msg}/events", gw.url))
        .send()
        .await
        .expect("events");
    assert_eq!(response.status(), 200);
    assert!(
        response.headers()["content-type"]
            .to_str()
            .expect("ct")
            .starts_with("text/event-stream")
    );
    let events = read_events(response, "answer").await;
    let names: Vec<&str> = events.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names.last(), Some(&"answer"), "{events:?}");
    assert!(
        names.contains(&"state"),
        "state changes come first: {names:?}"
    );
    let states: Vec<&str> = events
        .iter()
        .filter(|(n, _)| n == "state")
        .filter_map(|(_, v)| v["state"].as_str())
        .collect();
    let mut unique = states.clone();
    unique.dedup();
    assert_eq!(states, unique, "one event per state change");
    let (_, answer) = events.last().expect("answer");
    assert_eq!(answer["citations"][0]["node"], d.pdf.as_str(), "{answer}");
    assert_eq!(answer["state"], "complete");
    // The activity poll, not a tight loop on details: a handful of reads for 4 steps.
    let reads = gw.emulator.stats().total(
        "GET",
        "/current/workspace/{ws}/ai/agent/{chat}/message/{message}/details/",
    );
    assert!(reads < 20, "{reads} details reads");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_stream_whose_client_goes_away_stops_waiting_upstream() {
    let gw = spawn_app_with(&[], |c| {
        c.ai.index_delay = Duration::ZERO;
        c.ai.answer_delay = Duration::from_secs(30);
    })
    .await;
    let ws = gw.workspace.clone();
    upload(&gw, "root", &[("notes.md", NOTES_MD.as_bytes())]).await;
    let (chat, msg) = ask(&gw, json!({"question": "What was the revenue in March?"})).await;
    let response = gw
        .client
        .get(format!("{}/api/ask/{ws}/{chat}/{msg}/events", gw.url))
        .send()
        .await
        .expect("events");
    let mut body = response.bytes_stream();
    let first = tokio::time::timeout(Duration::from_secs(10), body.next())
        .await
        .expect("first event")
        .expect("chunk")
        .expect("bytes");
    assert!(String::from_utf8_lossy(&first).contains("event: state"));
    let waits = gw.state.ask_waits.clone();
    wait_until(
        "the stream to hold a long-poll",
        Duration::from_secs(10),
        || async {
            if waits.held() == 1 {
                Ok(())
            } else {
                Err(waits.held())
            }
        },
    )
    .await;
    drop(body);
    wait_until(
        "the long-poll to be let go",
        Duration::from_secs(10),
        || async {
            if waits.held() == 0 {
                Ok(())
            } else {
                Err(waits.held())
            }
        },
    )
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn another_users_chat_is_404_and_a_user_without_a_grant_cannot_ask() {
    let gw = gateway().await;
    let ws = gw.workspace.clone();
    upload(&gw, "root", &[("notes.md", NOTES_MD.as_bytes())]).await;
    let (_, viewer) = gw.user("vera", "viewer", Some(&ws)).await;
    let (_, other) = gw.user("otto", "viewer", Some(&ws)).await;
    let (_, outsider) = gw.user("nina", "editor", Some("9999999999999999999")).await;

    let r = post_ask(
        &viewer,
        &ws,
        json!({"question": "What was the revenue in March?"}),
    )
    .await;
    assert_eq!(
        r.status,
        StatusCode::ACCEPTED,
        "a viewer may ask: {}",
        r.text()
    );
    let v = r.json();
    let (chat, msg) = (
        v["chat"].as_str().expect("c"),
        v["message"].as_str().expect("m"),
    );
    let a = final_answer(&viewer, &ws, chat, msg).await;
    assert_eq!(a["state"], "complete");

    for path in [
        format!("/api/ask/{ws}/{chat}/{msg}"),
        format!("/api/ask/{ws}/{chat}/{msg}/events"),
        format!("/w/{ws}/ask/{chat}"),
    ] {
        assert_eq!(other.get(&path).await.status, 404, "{path}");
    }
    let r = post_ask(
        &other,
        &ws,
        json!({"question": "and in February?", "chat": chat}),
    )
    .await;
    assert_error(&r, 404, "not_found");
    let r = post_ask(
        &outsider,
        &ws,
        json!({"question": "What was the revenue in March?"}),
    )
    .await;
    assert_eq!(r.status, 404, "no grant on the workspace: {}", r.text());
    assert_eq!(outsider.get(&format!("/w/{ws}/ask")).await.status, 404);
}

#[tokio::test(flavor = "multi_thread")]
async fn every_question_is_audited_with_its_chat_and_scope() {
    let gw = gateway().await;
    let ws = gw.workspace.clone();
    upload(&gw, "root", &[("notes.md", NOTES_MD.as_bytes())]).await;
    let (chat, _) = ask(&gw, json!({"question": "What was the revenue in March?"})).await;
    let items = gw.get("/api/audit?action=question_asked").await.json();
    let item = &items["items"][0];
    assert_eq!(item["action"], "question_asked", "{items}");
    assert_eq!(item["workspace"], ws.as_str());
    assert_eq!(item["target"], chat.as_str());
    assert!(
        item["actor"].as_str().is_some_and(|a| a.ends_with("admin")),
        "{item}"
    );
    assert!(
        item["detail"]
            .as_str()
            .is_some_and(|d| d.starts_with("workspace: What was")),
        "{item}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_thread_page_links_markers_to_cards_marks_the_words_and_escapes() {
    let gw = gateway().await;
    let ws = gw.workspace.clone();
    let d = three_documents(&gw).await;
    // Without JavaScript: the form posts and redirects to the thread.
    let form = gw
        .client
        .post(format!("{}/w/{ws}/ask", gw.url))
        .header("origin", gw.origin())
        .form(&[
            (
                "question",
                "How deep were the <b>geothermal</b> wells drilled?",
            ),
            ("scope", "workspace"),
        ]);
    let r = gw.send(form).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text());
    let location = r.header("location").expect("location").to_owned();
    assert!(location.starts_with(&format!("/w/{ws}/ask/")), "{location}");
    let chat = location.rsplit('/').next().expect("chat").to_owned();
    let html = wait_until(
        "the answer on the page",
        Duration::from_secs(20),
        || async {
            let html = gw.get(&location).await.text();
            if html.contains("data-answer") {
                Ok(html)
            } else {
                Err(html)
            }
        },
    )
    .await;
    assert!(
        !html.contains("<b>geothermal</b>"),
        "the question is escaped"
    );
    assert!(
        html.contains("&lt;b&gt;geothermal") || html.contains("&#60;b&#62;geothermal"),
        "{html}"
    );
    let msg = html
        .split("data-message=\"")
        .nth(1)
        .and_then(|s| s.split('"').next())
        .expect("message id")
        .to_owned();
    assert!(
        html.contains(&format!("href=\"#c-{msg}-1\"")),
        "[1] links to its card"
    );
    assert!(html.contains(&format!("id=\"c-{msg}-1\"")));
    assert!(html.contains(&format!("href=\"/w/{ws}/f/{}?page=2\"", d.pdf)));
    assert!(html.contains("<mark>geothermal</mark>"), "{html}");
    assert!(
        !html.contains("http-equiv=\"refresh\""),
        "a final answer stops refreshing"
    );
    let _ = chat;
}

#[tokio::test(flavor = "multi_thread")]
async fn an_unfinished_answer_page_refreshes_itself_without_javascript() {
    let gw = spawn_app_with(&[], |c| {
        c.ai.index_delay = Duration::ZERO;
        c.ai.answer_delay = Duration::from_secs(30);
    })
    .await;
    let ws = gw.workspace.clone();
    let (chat, msg) = ask(&gw, json!({"question": "What was the revenue in March?"})).await;
    let html = gw.get(&format!("/w/{ws}/ask/{chat}")).await.text();
    assert!(
        html.contains("<noscript><meta http-equiv=\"refresh\""),
        "{html}"
    );
    assert!(html.contains(&format!(
        "data-events=\"/api/ask/{ws}/{chat}/{msg}/events\""
    )));
    assert!(html.contains("Answering"));
}
