//! AI chat over workspace files (§8) and the activity long-poll (§8.1), against the emulator
//! as raw HTTP written from `fastio-api.md`: indexing on upload, answers quoted from the right
//! page or row, honest "not found", scope and attachments, follow-ups, clarifications, cancel,
//! and the contract's errors (402, 406, 409, 400/1605 for intelligence off).

use std::time::{Duration, Instant};

use crate::common::documents::{self, NOTES_MD, REPORT_PAGES, SUPPLIERS_CSV};
use crate::common::emulator::*;
use reqwest::StatusCode;
use reqwest::multipart::{Form, Part};
use serde_json::{Value, json};

/// An emulator whose AI steps take no time (the contract's "0 in tests").
async fn emu() -> TestEmu {
    emu_with(|_| {}).await
}

async fn emu_with(tweak: impl FnOnce(&mut fastgate::emulator::EmulatorConfig)) -> TestEmu {
    spawn_with(|c| {
        c.ai.index_delay = Duration::ZERO;
        c.ai.answer_delay = Duration::ZERO;
        c.preview_delay = Duration::ZERO;
        tweak(c);
    })
    .await
}

/// Uploads `bytes` as `name` into `folder` with one single-call upload; the node id.
async fn upload(t: &TestEmu, name: &str, bytes: &[u8], folder: &str) -> String {
    let form = Form::new()
        .text("name", name.to_owned())
        .text("size", bytes.len().to_string())
        .text("action", "create")
        .text("instance_id", t.ws.clone())
        .text("folder_id", folder.to_owned())
        .text("profile_type", "workspace")
        .part(
            "chunk",
            Part::bytes(bytes.to_vec()).file_name(name.to_owned()),
        );
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
    assert_eq!(status, StatusCode::OK, "upload {name}: {v}");
    v["new_file_id"].as_str().expect("new_file_id").to_owned()
}

async fn folder(t: &TestEmu, name: &str) -> String {
    let (status, v) = t
        .post_form(
            &format!("/workspace/{}/storage/root/createfolder/", t.ws),
            &[("name", name)],
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{v}");
    v["node"]["id"].as_str().expect("folder id").to_owned()
}

async fn node(t: &TestEmu, id: &str, output: &str) -> Value {
    let (status, v) = t
        .get(&format!(
            "/workspace/{}/storage/{id}/details/?output={output}",
            t.ws
        ))
        .await;
    assert_eq!(status, StatusCode::OK, "{v}");
    v["node"].clone()
}

/// The newest activity marker (a poll without `lastactivity` answers at once).
async fn marker(t: &TestEmu) -> String {
    let (status, v) = t.get(&format!("/activity/poll/{}/", t.ws)).await;
    assert_eq!(status, StatusCode::OK, "{v}");
    v["lastactivity"].as_str().expect("lastactivity").to_owned()
}

/// Long-polls the workspace's activity until `done` holds (re-checked after every return).
async fn wait_for<F, Fut>(t: &TestEmu, what: &str, mut done: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let mut last = marker(t).await;
    let deadline = Instant::now() + Duration::from_secs(60);
    while !done().await {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        let (status, v) = t
            .get(&format!(
                "/activity/poll/{}/?wait=5&lastactivity={last}&updated=1",
                t.ws
            ))
            .await;
        assert_eq!(status, StatusCode::OK, "{v}");
        last = v["lastactivity"].as_str().expect("marker").to_owned();
    }
}

async fn wait_ready(t: &TestEmu, ids: &[&str]) {
    wait_for(t, "ai.state ready", || async {
        for id in ids {
            if node(t, id, "standard").await["ai"]["state"] != "ready" {
                return false;
            }
        }
        true
    })
    .await;
}

struct Docs {
    pdf: String,
    notes: String,
    csv: String,
}

/// The three documents of the issue, uploaded and `ready`.
async fn three_documents(t: &TestEmu) -> Docs {
    let pdf = upload(t, "report.pdf", &documents::pdf(&REPORT_PAGES), "root").await;
    let notes = upload(t, "notes.md", NOTES_MD.as_bytes(), "root").await;
    let csv = upload(t, "suppliers.csv", SUPPLIERS_CSV.as_bytes(), "root").await;
    wait_ready(t, &[&pdf, &notes, &csv]).await;
    Docs { pdf, notes, csv }
}

fn agent(t: &TestEmu) -> String {
    format!("/workspace/{}/ai/agent/", t.ws)
}

async fn details(t: &TestEmu, chat: &str, msg: &str) -> Value {
    let (status, v) = t
        .get(&format!(
            "/workspace/{}/ai/agent/{chat}/message/{msg}/details/",
            t.ws
        ))
        .await;
    assert_eq!(status, StatusCode::OK, "{v}");
    v["message"].clone()
}

/// Waits (on the activity poll) until the message is terminal; its details.
async fn answer(t: &TestEmu, chat: &str, msg: &str) -> Value {
    wait_for(t, "a terminal message", || async {
        let s = details(t, chat, msg).await["state"].clone();
        s == "complete" || s == "errored" || s == "needs_input"
    })
    .await;
    details(t, chat, msg).await
}

/// Creates a chat with `question` and extra form fields; (chat, message).
async fn ask(t: &TestEmu, question: &str, extra: &[(&str, &str)]) -> (String, String) {
    let mut form = vec![("question", question)];
    form.extend_from_slice(extra);
    let (status, v) = t.post_form(&agent(t), &form).await;
    assert_eq!(status, StatusCode::OK, "{v}");
    assert_eq!(v["result"], true);
    (
        v["thread"]["thread_id"]
            .as_str()
            .expect("thread_id")
            .to_owned(),
        v["turn"]["turn_id"].as_str().expect("turn_id").to_owned(),
    )
}

async fn follow_up(t: &TestEmu, chat: &str, question: &str) -> String {
    let (status, v) = t
        .post_form(
            &format!("/workspace/{}/ai/agent/{chat}/message/", t.ws),
            &[("question", question)],
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{v}");
    assert_eq!(v["thread_id"], chat);
    assert!(v["seq"].is_number(), "{v}");
    assert!(v["status"].is_string(), "{v}");
    v["turn_id"].as_str().expect("turn_id").to_owned()
}

/// The quote marked `[n]` in an answer text (`"…" [n]`).
fn quote(text: &str, n: usize) -> String {
    let marker = format!("\" [{n}]");
    let end = text
        .find(&marker)
        .unwrap_or_else(|| panic!("no [{n}] in {text}"));
    let start = text[..end].rfind('"').expect("opening quote") + 1;
    text[start..end].to_owned()
}

fn file_ref(id: &str) -> Value {
    json!({"type": "file", "id": id, "file_details": {"node_id": id, "version_id": ""}})
}

fn folder_ref(id: &str) -> Value {
    json!({"type": "folder", "id": id, "folder_details": {"node_id": id}})
}

#[tokio::test]
async fn stored_files_go_pending_to_ready_and_media_is_disabled() {
    let t = emu_with(|c| c.ai.index_delay = Duration::from_millis(600)).await;
    let start = marker(&t).await;
    let notes = upload(&t, "notes.md", NOTES_MD.as_bytes(), "root").await;
    let png = upload(&t, "logo.png", b"\x89PNG\r\n\x1a\nnot really", "root").await;
    assert_eq!(node(&t, &notes, "standard").await["ai"]["state"], "pending");
    wait_ready(&t, &[&notes]).await;
    let full = node(&t, &notes, "full").await;
    assert_eq!(full["ai"]["attach"], true);
    assert!(
        full["ai"]["summary"]
            .as_str()
            .unwrap_or_default()
            .contains("Sales notes")
    );
    assert!(node(&t, &notes, "terse").await.get("ai").is_none());
    wait_for(&t, "the image disabled", || async {
        node(&t, &png, "full").await["ai"]["state"] == "disabled"
    })
    .await;
    assert_eq!(node(&t, &png, "full").await["ai"]["attach"], false);
    let (_, v) = t
        .get(&format!(
            "/activity/poll/{}/?wait=0&lastactivity={start}",
            t.ws
        ))
        .await;
    let keys: Vec<&str> = v["activity"]
        .as_array()
        .expect("activity")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert!(keys.contains(&format!("ai_state:{notes}").as_str()), "{v}");
    assert!(keys.contains(&format!("storage:{notes}").as_str()), "{v}");
}

#[tokio::test]
async fn a_question_answered_from_page_two_cites_that_page_with_a_verbatim_quote() {
    let t = emu().await;
    let d = three_documents(&t).await;
    let (chat, msg) = ask(&t, "How deep were the geothermal wells drilled?", &[]).await;
    let m = answer(&t, &chat, &msg).await;
    assert_eq!(m["state"], "complete", "{m}");
    let text = m["response"]["text"].as_str().expect("text");
    assert!(text.starts_with("Quoted verbatim"), "{text}");
    let q = quote(text, 1);
    let c = &m["response"]["citations"][0];
    assert_eq!(c["nodeId"], d.pdf.as_str(), "{m}");
    assert_eq!(
        c["versionId"],
        node(&t, &d.pdf, "standard").await["version"]
    );
    assert_eq!(c["entries"][0]["page"], 2, "{m}");
    let page2 = documents::page_text(REPORT_PAGES[1]);
    assert!(page2.contains(&q), "quote {q:?} not in page 2 {page2:?}");
    assert!(
        c["entries"][0]["snippet"]
            .as_str()
            .expect("snippet")
            .contains(&q)
    );
    assert!(q.contains("geothermal wells drilled to 180 metres"), "{q}");
    assert_eq!(m["response"]["citations"].as_array().map(Vec::len), Some(1));
}

#[tokio::test]
async fn a_csv_value_question_cites_its_row_and_an_unrelated_one_is_not_found() {
    let t = emu().await;
    let d = three_documents(&t).await;
    let (chat, msg) = ask(&t, "Which supplier delivers irrigation pipes?", &[]).await;
    let m = answer(&t, &chat, &msg).await;
    let c = &m["response"]["citations"][0];
    assert_eq!(c["nodeId"], d.csv.as_str(), "{m}");
    assert_eq!(c["entries"][0]["row"], 2, "{m}");
    assert!(
        quote(m["text"].as_str().expect("text"), 1).contains("Birchwood Ltd"),
        "{m}"
    );
    assert_eq!(
        c["entries"][0]["snippet"],
        "supplier: Birchwood Ltd; city: Braga; product: irrigation pipes; delivery day: Thursday"
    );

    let (chat, msg) = ask(&t, "What is the boiling point of mercury?", &[]).await;
    let m = answer(&t, &chat, &msg).await;
    assert_eq!(m["state"], "complete");
    assert_eq!(
        m["response"]["text"],
        "Not found in the 3 files in scope (0 still indexing)."
    );
    assert_eq!(m["response"]["citations"], json!([]));
}

#[tokio::test]
async fn scope_to_a_folder_or_a_file_excludes_everything_outside_it() {
    let t = emu().await;
    let d = three_documents(&t).await;
    let archive = folder(&t, "archive").await;
    let old = upload(
        &t,
        "budget.md",
        b"Revenue in February was 12,000 euros in the old shop.",
        &archive,
    )
    .await;
    wait_ready(&t, &[&old]).await;
    let q = "What was the revenue in February?";
    let scope = json!([folder_ref(&archive)]).to_string();
    let (chat, msg) = ask(&t, q, &[("references", &scope)]).await;
    let m = answer(&t, &chat, &msg).await;
    let cites = m["response"]["citations"]
        .as_array()
        .expect("citations")
        .clone();
    assert!(!cites.is_empty(), "{m}");
    assert!(cites.iter().all(|c| c["nodeId"] == old.as_str()), "{m}");

    let scope = json!([file_ref(&d.notes)]).to_string();
    let (chat, msg) = ask(&t, q, &[("references", &scope)]).await;
    let m = answer(&t, &chat, &msg).await;
    let cites = m["response"]["citations"]
        .as_array()
        .expect("citations")
        .clone();
    assert_eq!(cites.len(), 1, "{m}");
    assert_eq!(cites[0]["nodeId"], d.notes.as_str());
    assert!(quote(m["text"].as_str().expect("text"), 1).contains("41,000 euros"));

    // The PDF alone holds nothing about revenue.
    let scope = json!([file_ref(&d.pdf)]).to_string();
    let (chat, msg) = ask(&t, q, &[("references", &scope)]).await;
    let m = answer(&t, &chat, &msg).await;
    assert_eq!(
        m["response"]["text"],
        "Not found in the 1 file in scope (0 still indexing)."
    );

    // A trashed file drops out of the workspace scope.
    let (status, _) = t
        .delete(&format!("/workspace/{}/storage/{old}/delete/", t.ws))
        .await;
    assert_eq!(status, StatusCode::OK);
    let (chat, msg) = ask(&t, "How much revenue did the old shop make?", &[]).await;
    let m = answer(&t, &chat, &msg).await;
    assert_eq!(m["response"]["citations"], json!([]), "{m}");
}

#[tokio::test]
async fn a_vague_question_needs_input_and_a_follow_up_borrows_the_previous_terms() {
    let t = emu().await;
    let d = three_documents(&t).await;
    let (chat, msg) = ask(&t, "Tell me about these files", &[]).await;
    let m = answer(&t, &chat, &msg).await;
    assert_eq!(m["state"], "needs_input", "{m}");
    assert_eq!(m["text"], "Tell me about these files");
    let clarify = m["clarification"]["question"].as_str().expect("question");
    assert!(clarify.contains("3 files in scope"), "{clarify}");

    let msg = follow_up(&t, &chat, "What was the revenue in February?").await;
    let m = answer(&t, &chat, &msg).await;
    assert!(
        quote(m["text"].as_str().expect("text"), 1).contains("41,000"),
        "{m}"
    );
    let msg = follow_up(&t, &chat, "and in March?").await;
    let m = answer(&t, &chat, &msg).await;
    assert_eq!(m["state"], "complete", "{m}");
    let q = quote(m["response"]["text"].as_str().expect("text"), 1);
    assert_eq!(
        q,
        "Revenue in March was 57,500 euros after the spring fair."
    );
    assert_eq!(m["response"]["citations"][0]["nodeId"], d.notes.as_str());

    let (status, v) = t
        .get(&format!(
            "/workspace/{}/ai/agent/{chat}/messages/list/",
            t.ws
        ))
        .await;
    assert_eq!(status, StatusCode::OK);
    let seqs: Vec<i64> = v["messages"]
        .as_array()
        .expect("messages")
        .iter()
        .filter_map(|m| m["seq"].as_i64())
        .collect();
    assert_eq!(seqs, [1, 2, 3]);
    assert_eq!(v["pagination"]["total"], 3);
}

#[tokio::test]
async fn attachments_are_read_whole_and_answered_without_citations() {
    let t = emu().await;
    let d = three_documents(&t).await;
    let subjects = json!([file_ref(&d.pdf)]).to_string();
    let (chat, msg) = ask(
        &t,
        "How deep were the geothermal wells drilled?",
        &[("subjects", &subjects)],
    )
    .await;
    let m = answer(&t, &chat, &msg).await;
    assert_eq!(m["state"], "complete", "{m}");
    assert_eq!(m["response"]["citations"], json!([]));
    let text = m["response"]["text"].as_str().expect("text");
    assert!(
        text.contains("\"Its heating system uses geothermal wells drilled to 180 metres.\" (report.pdf, page 2)"),
        "{text}"
    );

    let archive = folder(&t, "archive").await;
    let subjects = json!([folder_ref(&archive)]).to_string();
    let (status, v) = t
        .post_form(
            &agent(&t),
            &[("question", "wells?"), ("subjects", &subjects)],
        )
        .await;
    assert_eq!(status, StatusCode::NOT_ACCEPTABLE, "{v}");
    assert_eq!(v["result"], false);

    let many = json!(vec![file_ref(&d.pdf); 21]).to_string();
    let (status, v) = t
        .post_form(&agent(&t), &[("question", "wells?"), ("subjects", &many)])
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{v}");
    assert_eq!(code(&v), 1685);

    let refs = json!([file_ref(&d.notes)]).to_string();
    let (status, v) = t
        .post_form(
            &agent(&t),
            &[
                ("question", "wells?"),
                ("subjects", &subjects),
                ("references", &refs),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{v}");
    assert_eq!(code(&v), 1605);
}

#[tokio::test]
async fn a_file_still_indexing_is_counted_in_the_not_found_text() {
    let t = emu_with(|c| c.ai.index_delay = Duration::from_secs(3)).await;
    let notes = upload(&t, "notes.md", NOTES_MD.as_bytes(), "root").await;
    wait_ready(&t, &[&notes]).await;
    let csv = upload(&t, "suppliers.csv", SUPPLIERS_CSV.as_bytes(), "root").await;
    let (chat, msg) = ask(&t, "What is the boiling point of mercury?", &[]).await;
    let m = answer(&t, &chat, &msg).await;
    assert_eq!(
        m["response"]["text"],
        "Not found in the 2 files in scope (1 still indexing)."
    );
    assert_eq!(node(&t, &csv, "standard").await["ai"]["state"], "pending");
}

#[tokio::test]
async fn the_activity_poll_wakes_on_a_message_change_and_times_out_otherwise() {
    let t = emu_with(|c| c.ai.answer_delay = Duration::from_millis(300)).await;
    let d = three_documents(&t).await;
    let last = marker(&t).await;
    let (chat, msg) = ask(&t, "Which city is Birchwood Ltd in?", &[]).await;
    let started = Instant::now();
    let (status, v) = t
        .get(&format!(
            "/activity/poll/{}/?wait=30&lastactivity={last}",
            t.ws
        ))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert!(started.elapsed() < Duration::from_secs(10));
    assert!(
        v["activity"]
            .as_array()
            .expect("activity")
            .contains(&json!(format!("ai_chat:{chat}"))),
        "{v}"
    );
    assert_ne!(v["lastactivity"], last.as_str());
    let m = answer(&t, &chat, &msg).await;
    assert_eq!(
        m["response"]["citations"][0]["nodeId"],
        d.csv.as_str(),
        "{m}"
    );

    let last = marker(&t).await;
    let started = Instant::now();
    let (_, v) = t
        .get(&format!(
            "/activity/poll/{}/?wait=1&lastactivity={last}",
            t.ws
        ))
        .await;
    assert!(started.elapsed() >= Duration::from_millis(900));
    assert_eq!(v["activity"], json!([]));
    assert_eq!(v["lastactivity"], last.as_str());

    // A client that goes away leaves no waiter behind.
    let quick = reqwest::Client::builder()
        .timeout(Duration::from_millis(300))
        .build()
        .expect("client");
    let gone = quick
        .get(t.url(&format!(
            "/activity/poll/{}/?wait=60&lastactivity={last}",
            t.ws
        )))
        .bearer_auth(KEY)
        .send()
        .await;
    assert!(gone.is_err());
    crate::common::wait_until("the waiter to leave", Duration::from_secs(5), || async {
        match t.emu.activity_waiters() {
            0 => Ok(()),
            n => Err(n),
        }
    })
    .await;
}

#[tokio::test]
async fn cancel_ends_the_running_message_and_is_idempotent() {
    let t = emu_with(|c| c.ai.answer_delay = Duration::from_secs(2)).await;
    let (chat, msg) = ask(&t, "Where is the greenhouse?", &[]).await;
    let cancel = |chat: String| {
        let t = &t;
        async move {
            let res = t
                .http
                .post(t.url(&format!("/workspace/{}/ai/agent/{chat}/cancel/", t.ws)))
                .bearer_auth(KEY)
                .send()
                .await
                .expect("send");
            json(res).await
        }
    };
    let (status, v) = cancel(chat.clone()).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(v["success"], true, "{v}");
    assert!(v.get("result").is_none(), "{v}");
    assert_eq!(v["message"]["state"], "errored");
    assert_eq!(details(&t, &chat, &msg).await["state"], "errored");
    let (status, v) = cancel(chat.clone()).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(v, json!({"success": true, "no_pending_message": true}));
    let (status, v) = cancel("nosuchchat".into()).await;
    assert_eq!(status, StatusCode::NOT_ACCEPTABLE);
    assert_eq!(v["result"], false);
    assert!(
        v["error_message"].is_string() && v["error_id"].is_number(),
        "{v}"
    );
}

#[tokio::test]
async fn credits_intelligence_and_chat_length_give_the_contract_errors() {
    let t = emu_with(|c| {
        c.ai.max_messages = 2;
        c.ai.max_conversation_bytes = 600;
    })
    .await;
    let d = three_documents(&t).await;
    let big = json!([file_ref(&d.pdf)]).to_string();
    let (status, v) = t
        .post_form(&agent(&t), &[("question", "wells?"), ("subjects", &big)])
        .await;
    assert_eq!((status, code(&v)), (StatusCode::CONFLICT, 153795), "{v}");
    t.emu.faults().set_ai_credits_exhausted(true);
    let (status, v) = t.post_form(&agent(&t), &[("question", "wells?")]).await;
    assert_eq!(status, StatusCode::PAYMENT_REQUIRED, "{v}");
    assert_eq!(code(&v), 1688);
    t.emu.faults().set_ai_credits_exhausted(false);

    let (_, ws) = t.get(&format!("/workspace/{}/details/", t.ws)).await;
    assert_eq!(ws["workspace"]["intelligence"], true);
    t.emu.faults().set_intelligence(&t.ws, false);
    let (_, ws) = t.get(&format!("/workspace/{}/details/", t.ws)).await;
    assert_eq!(ws["workspace"]["intelligence"], false);
    let (status, v) = t.post_form(&agent(&t), &[("question", "wells?")]).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{v}");
    assert_eq!(code(&v), 1605);
    let subjects = json!([file_ref(&d.csv)]).to_string();
    ask(
        &t,
        "Which city is Birchwood in?",
        &[("subjects", &subjects)],
    )
    .await;
    t.emu.faults().set_intelligence(&t.ws, true);

    let (status, v) = t.post_form(&agent(&t), &[("question", "")]).await;
    assert_eq!((status, code(&v)), (StatusCode::BAD_REQUEST, 1605));
    let long = "a".repeat(12_769);
    let (status, _) = t.post_form(&agent(&t), &[("question", &long)]).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let bad = json!([file_ref("nosuchnode")]).to_string();
    let (status, v) = t
        .post_form(&agent(&t), &[("question", "wells?"), ("references", &bad)])
        .await;
    assert_eq!((status, code(&v)), (StatusCode::NOT_FOUND, 1609));

    let (chat, _) = ask(&t, "Where is the greenhouse?", &[]).await;
    follow_up(&t, &chat, "and the wells?").await;
    let (status, v) = t
        .post_form(
            &format!("/workspace/{}/ai/agent/{chat}/message/", t.ws),
            &[("question", "and the staff?")],
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{v}");
    assert_eq!(code(&v), 168116);
}

#[tokio::test]
async fn chats_are_listed_renamed_published_and_soft_deleted() {
    let t = emu().await;
    let (chat, _) = ask(&t, "Where is the greenhouse?", &[("kind", "user")]).await;
    let (agent_chat, _) = ask(&t, "Anything on wells?", &[("kind", "agent")]).await;
    let (_, v) = t.get(&format!("{}list/", agent(&t))).await;
    let ids: Vec<&str> = v["chats"]
        .as_array()
        .expect("chats")
        .iter()
        .filter_map(|c| c["id"].as_str())
        .collect();
    assert_eq!(ids, [chat.as_str()], "{v}");
    let (_, v) = t.get(&format!("{}list/?kind=all", agent(&t))).await;
    assert_eq!(v["pagination"]["total"], 2);
    assert!(v["chats"].to_string().contains(&agent_chat));

    let base = format!("{}{chat}/", agent(&t));
    let (status, v) = t
        .post_form(&format!("{base}update/"), &[("name", "Greenhouse")])
        .await;
    assert_eq!(status, StatusCode::OK, "{v}");
    assert_eq!(v["chat"]["name"], "Greenhouse");
    assert_eq!(v["chat"]["privacy"], "private");
    let (_, v) = t.post_form(&format!("{base}publish/"), &[]).await;
    assert_eq!(v["chat"]["privacy"], "public");
    let (status, v) = t.delete(&base).await;
    assert_eq!(
        (status, &v["result"]),
        (StatusCode::OK, &json!(true)),
        "{v}"
    );
    for path in ["list/deleted", "list/deleted/"] {
        let (status, v) = t.get(&format!("{}{path}", agent(&t))).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(v["chats"][0]["id"], chat.as_str(), "{v}");
    }
    let (_, v) = t.get(&format!("{base}details/")).await;
    assert_eq!(v["chat"]["deleted"], true);
    let (status, _) = t
        .post_form(&format!("{base}message/"), &[("question", "and later?")])
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, v) = t.get(&format!("{base}message/whatever/read/")).await;
    assert_eq!((status, code(&v)), (StatusCode::NOT_FOUND, 9992));
}

#[tokio::test]
async fn a_new_version_replaces_the_old_passages_and_a_restart_rebuilds_the_index() {
    let t = emu().await;
    let notes = upload(&t, "notes.md", NOTES_MD.as_bytes(), "root").await;
    wait_ready(&t, &[&notes]).await;
    let again = upload(
        &t,
        "notes.md",
        b"Revenue in February was corrected to 39,000 euros.",
        "root",
    )
    .await;
    assert_eq!(again, notes);
    wait_ready(&t, &[&notes]).await;
    let (chat, msg) = ask(&t, "What was the revenue in February?", &[]).await;
    let m = answer(&t, &chat, &msg).await;
    assert_eq!(
        m["response"]["citations"].as_array().map(Vec::len),
        Some(1),
        "{m}"
    );
    assert!(
        quote(m["text"].as_str().expect("text"), 1).contains("39,000"),
        "{m}"
    );

    let TestEmu { emu, dir, .. } = t;
    emu.shutdown().await;
    let mut config = test_config(&dir);
    config.ai.index_delay = Duration::ZERO;
    config.ai.answer_delay = Duration::ZERO;
    let t = start_on(dir, config).await;
    let found = crate::common::poll_until(Duration::from_secs(30), || async {
        let (chat, msg) = ask(&t, "What was the revenue in February?", &[]).await;
        let m = answer(&t, &chat, &msg).await;
        if m["response"]["citations"]
            .as_array()
            .is_some_and(|c| !c.is_empty())
        {
            Ok(m)
        } else {
            Err(m)
        }
    })
    .await
    .expect("the rebuilt index answers");
    assert!(quote(found["text"].as_str().expect("text"), 1).contains("39,000"));
}
