//! Upload-request links end to end (issue 10): the real gateway (accounts mode, SQLite access
//! database) in front of the real emulator, over loopback HTTP. An admin token manages links;
//! anonymous visitors use `/r/{token}`: its limits refuse files mid-stream with nothing left
//! behind, passwords are throttled, revoked / expired / used-up links answer 410 each with its
//! own words, submissions get their own subfolders, the webhook arrives signed, the link's
//! pages never reveal the folder's other files, the audit log names the link, and the JS path
//! (`/r/{token}/uploads`) shares the submission's limits.

use std::time::Duration;

use reqwest::multipart::{Form, Part};
use serde_json::{Value, json};

use crate::common::links::{World, sha256_hex, webhook_listener};

/// `n` bytes of text (no type signature, so any `.txt` rule passes).
fn text(n: usize, seed: u8) -> Vec<u8> {
    (0..n)
        .map(|i| b'a' + ((i as u8).wrapping_add(seed) % 26))
        .collect()
}

fn file(name: &str, bytes: Vec<u8>) -> Part {
    Part::bytes(bytes)
        .file_name(name.to_owned())
        .mime_str("application/octet-stream")
        .expect("mime")
}

#[tokio::test(flavor = "multi_thread")]
async fn a_link_is_created_listed_shown_and_revoked_through_the_api() {
    let w = World::spawn(&[("FASTGATE_MAX_FILE_SIZE", "10MiB")]).await;
    let anonymous = w.send(w.client.get(w.at("/api/links"))).await;
    assert_eq!(anonymous.status.as_u16(), 401);

    let too_big = w
        .admin_json(
            "POST",
            "/api/links",
            json!({"workspace": w.ws, "label": "x",
            "expires_in": 3600, "max_file_size": 11 * 1024 * 1024}),
        )
        .await;
    assert_eq!(too_big.status.as_u16(), 400, "{}", too_big.text());
    let unknown_ws = w
        .admin_json(
            "POST",
            "/api/links",
            json!({"workspace": "nope", "label": "x", "expires_in": 60}),
        )
        .await;
    assert_eq!(unknown_ws.status.as_u16(), 404);

    let (link, token) = w.create_link(json!({"label": "Tax documents 2026"})).await;
    assert_eq!(link["label"], "Tax documents 2026");
    assert_eq!(link["password"], false);
    assert!(link.get("token_hash").is_none() && link.get("password_hash").is_none());
    let id = link["id"].as_i64().expect("id");

    let list = w.admin_json("GET", "/api/links", Value::Null).await;
    assert_eq!(list.status.as_u16(), 200);
    assert_eq!(list.json()["items"][0]["id"], id);
    let details = w
        .admin_json("GET", &format!("/api/links/{id}"), Value::Null)
        .await;
    assert_eq!(details.json()["submissions"], json!([]));
    // The token is shown once: no listing carries it.
    assert!(!list.text().contains(&token) && !details.text().contains(&token));

    let page = w.send(w.client.get(w.at(&format!("/r/{token}")))).await;
    assert_eq!(page.status.as_u16(), 200);
    assert!(page.text().contains("Tax documents 2026"));
    assert_eq!(page.header("cache-control"), Some("no-store"));

    let revoked = w
        .admin_json("DELETE", &format!("/api/links/{id}"), Value::Null)
        .await;
    assert_eq!(revoked.status.as_u16(), 204);
    let gone = w.send(w.client.get(w.at(&format!("/r/{token}")))).await;
    assert_eq!(gone.status.as_u16(), 410);
    assert!(gone.text().contains("revoked"), "{}", gone.text());
    let post = w
        .post_link(
            &token,
            Form::new().part("file", file("a.txt", text(10, 1))),
            true,
        )
        .await;
    assert_eq!(post.status.as_u16(), 410);
    assert_eq!(post.json()["error"]["code"], "gone");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_link_pages_never_reveal_the_folders_other_files() {
    let w = World::spawn(&[]).await;
    let folder = w.folder("Inbox").await;
    let secret_name = "secret-payroll-q4-zz91.txt";
    let secret_node = w.admin_upload(&folder, secret_name, b"salaries").await;
    let (_, token) = w
        .create_link(json!({"folder": folder, "label": "Drop here", "password": "open sesame"}))
        .await;
    let mut seen = Vec::new();
    seen.push(w.send(w.client.get(w.at(&format!("/r/{token}")))).await);
    let form = |pw: &str| {
        Form::new()
            .text("password", pw.to_owned())
            .text("uploader", "Mallory".to_owned())
            .part("file", file("mine.txt", text(100, 2)))
    };
    seen.push(w.post_link(&token, form("wrong"), false).await);
    seen.push(w.post_link(&token, form("open sesame"), false).await);
    seen.push(w.post_link(&token, form("open sesame"), true).await);
    assert_eq!(seen[1].status.as_u16(), 401);
    assert_eq!(seen[2].status.as_u16(), 200, "{}", seen[2].text());
    assert_eq!(seen[3].status.as_u16(), 200, "{}", seen[3].text());
    assert!(seen[2].text().contains("mine.txt"), "the receipt is shown");
    for r in &seen {
        let body = r.text();
        assert!(
            !body.contains(secret_name),
            "a link page named the secret file"
        );
        assert!(
            !body.contains(&secret_node),
            "a link page carried the secret node id"
        );
        assert!(
            !body.contains("/download/"),
            "a link page offers a download: {body}"
        );
        assert!(!body.contains(&folder), "a link page carried the folder id");
    }
    // The visitor's own receipts carry size and SHA-256.
    let files = &seen[3].json()["data"]["files"];
    assert_eq!(files[0]["sha256"], sha256_hex(&text(100, 2)));
    assert!(seen[3].json()["data"].get("workspace").is_none());
}

#[tokio::test(flavor = "multi_thread")]
async fn each_submission_goes_into_its_own_subfolder_and_the_links_page_lists_it() {
    let w = World::spawn(&[]).await;
    let folder = w.folder("Applications").await;
    let (link, token) = w
        .create_link(json!({"folder": folder, "label": "CVs", "subfolder_per_submission": true}))
        .await;
    let id = link["id"].as_i64().expect("id");
    for (who, name) in [("Alice", "alice.txt"), ("Bob", "bob.txt")] {
        let form = Form::new()
            .text("uploader", who.to_owned())
            .part("file", file(name, text(300, 3)));
        let r = w.post_link(&token, form, true).await;
        assert_eq!(r.status.as_u16(), 200, "{}", r.text());
    }
    let subfolders = w.names(&folder).await;
    assert_eq!(subfolders.len(), 2, "{subfolders:?}");
    let today = chrono::Utc::now().format("%Y-%m-%d").to_string();
    for who in ["Alice", "Bob"] {
        let sub = subfolders
            .iter()
            .find(|(name, _)| name.ends_with(&format!(" {who}")))
            .unwrap_or_else(|| panic!("no subfolder for {who}: {subfolders:?}"));
        assert!(sub.0.starts_with(&today), "{}", sub.0);
        let inside = w.names(&sub.1).await;
        assert_eq!(inside.len(), 1, "{inside:?}");
    }
    let details = w
        .admin_json("GET", &format!("/api/links/{id}"), Value::Null)
        .await
        .json();
    let subs = details["submissions"].as_array().expect("submissions");
    assert_eq!(subs.len(), 2);
    assert_eq!(subs[0]["uploader"], "Alice");
    assert_eq!(subs[0]["files"][0]["name"], "alice.txt");
    assert_eq!(subs[0]["files"][0]["size"], 300);
    assert_eq!(subs[0]["files"][0]["sha256"], sha256_hex(&text(300, 3)));
    let page = w
        .send(w.admin(w.client.get(w.at(&format!("/links/{id}")))))
        .await;
    assert_eq!(page.status.as_u16(), 200);
    assert!(page.text().contains("alice.txt") && page.text().contains(&sha256_hex(&text(300, 3))));
}

#[tokio::test(flavor = "multi_thread")]
async fn link_limits_refuse_files_mid_stream_and_leave_nothing_behind() {
    let w = World::spawn(&[("FASTGATE_MAX_FILE_SIZE", "64MiB")]).await;
    let folder = w.folder("Limited").await;
    let (_, token) = w
        .create_link(
            json!({"folder": folder, "label": "Small things", "max_files": 2,
            "max_bytes": 6 * 1024 * 1024, "max_file_size": 5 * 1024 * 1024,
            "allowed_types": ".txt"}),
        )
        .await;
    // 6 MiB: past one single call (4 MiB), so it streams into a Fast.io session that the
    // per-file limit must cut off and cancel.
    let big = Form::new().part("file", file("big.txt", text(6 * 1024 * 1024, 4)));
    let r = w.post_link(&token, big, true).await;
    assert_eq!(r.status.as_u16(), 413, "{}", r.text());
    assert_eq!(r.json()["data"]["files"][0]["status"], "failed");

    let typed = Form::new().part("file", file("photo.png", text(10, 5)));
    let r = w.post_link(&token, typed, true).await;
    assert_eq!(r.status.as_u16(), 415, "{}", r.text());

    // Total: 4 MiB + 4 MiB > 6 MiB: the second is cut off at the 2 MiB left.
    let total = Form::new()
        .part("file", file("one.txt", text(4 * 1024 * 1024, 6)))
        .part("file", file("two.txt", text(4 * 1024 * 1024, 7)));
    let r = w.post_link(&token, total, true).await;
    assert_eq!(r.status.as_u16(), 413, "{}", r.text());
    let files = r.json()["data"]["files"].clone();
    assert_eq!(files[0]["status"], "stored");
    assert_eq!(files[1]["status"], "failed");
    assert!(
        files[1]["message"]
            .as_str()
            .unwrap_or("")
            .contains("per submission"),
        "{files}"
    );

    let count = Form::new()
        .part("file", file("a.txt", text(10, 8)))
        .part("file", file("b.txt", text(10, 9)))
        .part("file", file("c.txt", text(10, 10)));
    let r = w.post_link(&token, count, true).await;
    assert_eq!(r.status.as_u16(), 413, "{}", r.text());
    let statuses: Vec<Value> = r.json()["data"]["files"]
        .as_array()
        .expect("files")
        .iter()
        .map(|f| f["status"].clone())
        .collect();
    assert_eq!(
        statuses,
        [json!("stored"), json!("stored"), json!("failed")]
    );

    let mut stored: Vec<String> = w.names(&folder).await.into_iter().map(|(n, _)| n).collect();
    stored.sort();
    assert_eq!(stored, ["a.txt", "b.txt", "one.txt"]);
    w.assert_no_upload_sessions().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_wrong_password_answers_401_and_then_429_like_sign_in() {
    let w = World::spawn(&[]).await;
    let (_, token) = w
        .create_link(json!({"label": "Locked", "password": "correct horse"}))
        .await;
    let page = w.send(w.client.get(w.at(&format!("/r/{token}")))).await;
    assert!(page.text().contains("name=\"password\""));
    let post = |pw: Option<&str>| {
        let mut form = Form::new();
        if let Some(pw) = pw {
            form = form.text("password", pw.to_owned());
        }
        w.post_link(&token, form.part("file", file("a.txt", text(10, 1))), true)
    };
    let missing = post(None).await;
    assert_eq!(missing.status.as_u16(), 401);
    assert!(
        missing.text().contains("needs a password"),
        "{}",
        missing.text()
    );
    for _ in 0..5 {
        let wrong = post(Some("guess")).await;
        assert_eq!(wrong.status.as_u16(), 401, "{}", wrong.text());
    }
    let throttled = post(Some("correct horse")).await;
    assert_eq!(throttled.status.as_u16(), 429, "{}", throttled.text());
    assert!(throttled.header("retry-after").is_some());
    assert!(w.names("root").await.is_empty(), "nothing was stored");
}

#[tokio::test(flavor = "multi_thread")]
async fn expired_and_used_up_links_answer_410_each_with_its_own_message() {
    let w = World::spawn(&[]).await;
    let (_, short) = w
        .create_link(json!({"label": "Brief", "expires_in": 1}))
        .await;
    let (_, once) = w.create_link(json!({"label": "Once", "max_uses": 1})).await;
    let first = w
        .post_link(
            &once,
            Form::new().part("file", file("a.txt", text(10, 1))),
            true,
        )
        .await;
    assert_eq!(first.status.as_u16(), 200, "{}", first.text());
    let used = w.send(w.client.get(w.at(&format!("/r/{once}")))).await;
    assert_eq!(used.status.as_u16(), 410);
    assert!(
        used.text().contains("used as many times"),
        "{}",
        used.text()
    );
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let expired = w.send(w.client.get(w.at(&format!("/r/{short}")))).await;
    assert_eq!(expired.status.as_u16(), 410);
    assert!(expired.text().contains("expired"), "{}", expired.text());
    assert!(!expired.text().contains("used as many times"));
}

#[tokio::test(flavor = "multi_thread")]
async fn the_notify_url_receives_a_summary_signed_with_the_gateway_secret() {
    let (hook_url, mut received) = webhook_listener().await;
    let secret = "s".repeat(48);
    let w = World::spawn(&[("FASTGATE_SECRET", secret.as_str())]).await;
    let (link, token) = w
        .create_link(json!({"label": "Hooked", "notify_url": hook_url}))
        .await;
    let form = Form::new()
        .text("uploader", "Carol".to_owned())
        .part("file", file("report.txt", text(1234, 2)));
    let r = w.post_link(&token, form, true).await;
    assert_eq!(r.status.as_u16(), 200, "{}", r.text());
    let (signature, body) = tokio::time::timeout(Duration::from_secs(10), received.recv())
        .await
        .expect("webhook within 10 s")
        .expect("webhook");
    assert_eq!(
        signature,
        fastgate::web::links::notify::signature(secret.as_bytes(), &body)
    );
    let summary: Value = serde_json::from_slice(&body).expect("json");
    assert_eq!(summary["event"], "submission");
    assert_eq!(summary["link"]["id"], link["id"]);
    assert_eq!(summary["link"]["label"], "Hooked");
    assert_eq!(summary["submission"]["uploader"], "Carol");
    assert_eq!(summary["files"][0]["name"], "report.txt");
    assert_eq!(summary["files"][0]["size"], 1234);
    assert_eq!(summary["files"][0]["sha256"], sha256_hex(&text(1234, 2)));
    assert!(
        summary["files"][0]["node"]
            .as_str()
            .is_some_and(|n| !n.is_empty())
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_audit_log_names_the_link_for_its_creation_uses_uploads_and_revocation() {
    let w = World::spawn(&[]).await;
    let (link, token) = w.create_link(json!({"label": "Audited"})).await;
    let id = link["id"].as_i64().expect("id");
    let r = w
        .post_link(
            &token,
            Form::new().part("file", file("a.txt", text(42, 1))),
            true,
        )
        .await;
    assert_eq!(r.status.as_u16(), 200, "{}", r.text());
    w.admin_json("DELETE", &format!("/api/links/{id}"), Value::Null)
        .await;
    let audit = w
        .admin_json("GET", "/api/audit?limit=500", Value::Null)
        .await
        .json();
    let items = audit["items"].as_array().expect("items");
    let find = |action: &str| {
        items
            .iter()
            .find(|i| i["action"] == action)
            .unwrap_or_else(|| panic!("no {action} in {audit}"))
    };
    assert_eq!(find("link_created")["actor"], "token:tests@admin");
    assert_eq!(find("link_revoked")["actor"], "token:tests@admin");
    let actor = format!("link:{id}");
    assert_eq!(find("link_used")["actor"], actor.as_str());
    let stored = find("upload_stored");
    assert_eq!(stored["actor"], actor.as_str());
    assert_eq!(stored["size"], 42);
    assert_eq!(stored["sha256"], sha256_hex(&text(42, 1)));
}

#[tokio::test(flavor = "multi_thread")]
async fn the_js_path_sends_a_visits_files_into_one_submission_under_its_limits() {
    let w = World::spawn(&[("FASTGATE_CHUNK_SIZE", "1MiB")]).await;
    let folder = w.folder("Chunked").await;
    let (link, token) = w
        .create_link(
            json!({"folder": folder, "label": "Big files", "max_files": 2,
            "subfolder_per_submission": true}),
        )
        .await;
    let id = link["id"].as_i64().expect("id");
    let one = text(1024 * 1024 + 10, 1);
    let first = w
        .link_create(
            &token,
            json!({"name": "one.txt", "size": one.len(), "uploader": "Dan"}),
        )
        .await;
    assert_eq!(first.status.as_u16(), 201, "{}", first.text());
    let ticket = first.json();
    let submission = ticket["submission"]
        .as_str()
        .expect("submission")
        .to_owned();
    assert_eq!(ticket["chunks"], 2);
    let stored = w.send_chunks_and_complete(&ticket, &one).await;
    assert_eq!(stored["size"], one.len());

    let two = text(20, 2);
    let second = w
        .link_create(
            &token,
            json!({"name": "two.txt", "size": two.len(), "submission": submission}),
        )
        .await;
    assert_eq!(second.status.as_u16(), 201, "{}", second.text());
    assert_eq!(second.json()["submission_id"], ticket["submission_id"]);
    assert_eq!(
        second.json()["folder"],
        ticket["folder"],
        "the same subfolder"
    );
    w.send_chunks_and_complete(&second.json(), &two).await;

    let third = w
        .link_create(
            &token,
            json!({"name": "three.txt", "size": 5, "submission": submission}),
        )
        .await;
    assert_eq!(third.status.as_u16(), 413, "{}", third.text());
    w.assert_no_upload_sessions().await;

    let done = w
        .send(
            w.client
                .post(w.at(&format!("/r/{token}/done")))
                .json(&json!({"submission": submission})),
        )
        .await;
    assert_eq!(done.status.as_u16(), 200, "{}", done.text());
    assert_eq!(done.json()["files"].as_array().map(Vec::len), Some(2));
    let details = w
        .admin_json("GET", &format!("/api/links/{id}"), Value::Null)
        .await
        .json();
    assert_eq!(details["uses"], 1, "one submission for the whole visit");
    assert_eq!(details["submissions"][0]["uploader"], "Dan");
    let names: Vec<Value> = details["submissions"][0]["files"]
        .as_array()
        .expect("files")
        .iter()
        .map(|f| f["name"].clone())
        .collect();
    assert_eq!(names, [json!("one.txt"), json!("two.txt")]);

    // Revoked mid-upload: the next chunk is refused with 410 and the session cancelled.
    let fresh = w
        .link_create(&token, json!({"name": "late.txt", "size": one.len()}))
        .await;
    assert_eq!(fresh.status.as_u16(), 201, "{}", fresh.text());
    w.admin_json("DELETE", &format!("/api/links/{id}"), Value::Null)
        .await;
    let t = fresh.json();
    let put = w
        .send(
            w.client
                .put(w.at(&format!(
                    "/api/uploads/{}/chunks/1",
                    t["id"].as_str().expect("id")
                )))
                .header("upload-token", t["token"].as_str().expect("token"))
                .body(one[..1024 * 1024].to_vec()),
        )
        .await;
    assert_eq!(put.status.as_u16(), 410, "{}", put.text());
    w.assert_no_upload_sessions().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn an_editor_requests_files_from_the_folder_page_and_revokes_on_the_links_page() {
    let w = World::spawn(&[]).await;
    let folder = w.folder("Requests").await;
    let page = w
        .send(w.admin(w.client.get(w.at(&format!("/w/{}/{folder}", w.ws)))))
        .await;
    assert_eq!(page.status.as_u16(), 200);
    let html = page.text();
    assert!(html.contains("action=\"/links?/create\""), "{html}");
    assert!(html.contains(&format!("name=\"folder\" value=\"{folder}\"")));

    let form = [
        ("workspace", w.ws.as_str()),
        ("folder", folder.as_str()),
        ("label", "Receipts please"),
        ("expires_in", "86400"),
        ("max_bytes", "1MiB"),
        ("subfolder_per_submission", "on"),
    ];
    let created = w
        .send(
            w.admin(w.client.post(w.at("/links?/create")))
                .header("origin", &w.url)
                .form(&form),
        )
        .await;
    assert_eq!(created.status.as_u16(), 200, "{}", created.text());
    assert_eq!(created.header("cache-control"), Some("no-store"));
    let html = created.text();
    let prefix = format!("value=\"{}/r/", w.url);
    let start = html.find(&prefix).expect("the new link's URL") + prefix.len();
    let token = html[start..].split('"').next().expect("token").to_owned();
    assert!(
        w.send(w.client.get(w.at(&format!("/r/{token}"))))
            .await
            .status
            .is_success()
    );

    let list = w.admin_json("GET", "/api/links", Value::Null).await.json();
    let link = &list["items"][0];
    assert_eq!(link["max_bytes"], 1024 * 1024);
    assert_eq!(link["subfolder_per_submission"], true);
    let id = link["id"].as_i64().expect("id");
    let listed = w.send(w.admin(w.client.get(w.at("/links")))).await;
    assert!(listed.text().contains("Receipts please"));
    assert!(
        !listed.text().contains(&token),
        "the list never shows a token"
    );

    let bad = w
        .send(
            w.admin(w.client.post(w.at("/links?/create")))
                .header("origin", &w.url)
                .form(&[
                    ("workspace", w.ws.as_str()),
                    ("label", "x"),
                    ("allowed_types", "pdf"),
                ]),
        )
        .await;
    assert_eq!(bad.status.as_u16(), 400, "{}", bad.text());

    let revoked = w
        .send(
            w.admin(w.client.post(w.at("/links?/revoke")))
                .header("origin", &w.url)
                .form(&[("id", id.to_string())]),
        )
        .await;
    assert_eq!(revoked.status.as_u16(), 303);
    assert_eq!(
        w.send(w.client.get(w.at(&format!("/r/{token}"))))
            .await
            .status
            .as_u16(),
        410
    );
    let details = w
        .send(w.admin(w.client.get(w.at(&format!("/links/{id}")))))
        .await;
    assert!(details.text().contains("revoked"));
}

#[tokio::test(flavor = "multi_thread")]
async fn only_editors_create_links_and_each_sees_only_their_own() {
    let w = World::spawn(&[]).await;
    let uploader = w.user_token("uploader", "uploader").await;
    let editor = w.user_token("editor", "editor").await;
    let body = json!({"workspace": w.ws, "label": "x", "expires_in": 60});
    let as_user = |token: &str, method: reqwest::Method, path: &str| {
        w.client
            .request(method, w.at(path))
            .bearer_auth(token.to_owned())
    };
    let refused = w
        .send(as_user(&uploader, reqwest::Method::POST, "/api/links").json(&body))
        .await;
    assert_eq!(refused.status.as_u16(), 403, "{}", refused.text());
    let mine = w
        .send(as_user(&editor, reqwest::Method::POST, "/api/links").json(&body))
        .await;
    assert_eq!(mine.status.as_u16(), 201, "{}", mine.text());
    let (admins, _) = w.create_link(json!({})).await;
    let path = format!("/api/links/{}", admins["id"]);
    let hidden = w.send(as_user(&editor, reqwest::Method::GET, &path)).await;
    assert_eq!(hidden.status.as_u16(), 404);
    let kept = w
        .send(as_user(&editor, reqwest::Method::DELETE, &path))
        .await;
    assert_eq!(kept.status.as_u16(), 404);
    let list = w
        .send(as_user(&editor, reqwest::Method::GET, "/api/links"))
        .await
        .json();
    assert_eq!(list["items"].as_array().map(Vec::len), Some(1));
    // The admin sees both.
    let all = w.admin_json("GET", "/api/links", Value::Null).await.json();
    assert_eq!(all["items"].as_array().map(Vec::len), Some(2));
}
