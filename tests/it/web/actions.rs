//! The folder page's form actions over real HTTP against the real emulator, as a browser without
//! JavaScript and as a script asking for JSON: `?/mkdir` (303 after success, 400 re-rendered
//! page for a bad name), `?/share` (a File Share link that really downloads the file), unknown
//! actions, small-form body limits, and the Origin check.

use crate::common::{Gateway, spawn_app};
use serde_json::Value;

async fn post_form(
    app: &Gateway,
    folder: &str,
    action: &str,
    form: &[(&str, &str)],
) -> crate::common::Recorded {
    let url = format!("{}/w/{}/{folder}?/{action}", app.url, app.workspace);
    app.send(
        app.client
            .post(url)
            .header("origin", app.origin())
            .form(form),
    )
    .await
}

async fn post_json(app: &Gateway, folder: &str, action: &str, form: &[(&str, &str)]) -> Value {
    let url = format!("{}/w/{}/{folder}?/{action}", app.url, app.workspace);
    let r = app
        .send(
            app.client
                .post(url)
                .header("origin", app.origin())
                .header("accept", "application/json")
                .form(form),
        )
        .await;
    let body = r.json();
    assert_eq!(
        body["status"].as_u64(),
        Some(u64::from(r.status.as_u16())),
        "{body}"
    );
    body
}

async fn names_in(app: &Gateway, folder: &str) -> Vec<String> {
    let body = app
        .get(&format!("/api/files/{}/{folder}", app.workspace))
        .await
        .json();
    body["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|i| i["name"].as_str().expect("name").to_owned())
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn mkdir_redirects_to_the_folder_page_and_the_listing_shows_the_new_folder() {
    let app = spawn_app().await;
    let r = post_form(&app, "root", "mkdir", &[("name", "  Invoices 2026 ")]).await;
    assert_eq!(r.status, 303);
    assert_eq!(
        r.header("location"),
        Some(format!("/w/{}/root", app.workspace).as_str())
    );
    assert_eq!(names_in(&app, "root").await, ["Invoices 2026"]);

    let body = post_json(&app, "root", "mkdir", &[("name", "../Sub\u{202E}dir")]).await;
    assert_eq!(body["type"], "success");
    let id = body["data"]["folder"]["id"]
        .as_str()
        .expect("id")
        .to_owned();
    assert_eq!(body["data"]["folder"]["name"], "Subdir");
    assert_eq!(
        body["data"]["location"],
        format!("/w/{}/{id}", app.workspace).as_str()
    );
    // Nested: a folder inside the new one.
    let r = post_form(&app, &id, "mkdir", &[("name", "Inner")]).await;
    assert_eq!(r.status, 303);
    assert_eq!(names_in(&app, &id).await, ["Inner"]);
}

#[tokio::test(flavor = "multi_thread")]
async fn mkdir_without_a_usable_name_is_a_400_that_re_renders_the_page() {
    let app = spawn_app().await;
    for name in ["", "   ", ".."] {
        let r = post_form(&app, "root", "mkdir", &[("name", name)]).await;
        assert_eq!(r.status, 400, "{name:?}");
        let html = r.text();
        assert!(html.contains(r#"class="panel panel-error""#), "{html}");
        assert!(html.contains("?/mkdir"), "the page with its forms");
        let body = post_json(&app, "root", "mkdir", &[("name", name)]).await;
        assert_eq!(body["type"], "failure");
        assert_eq!(body["status"], 400);
        assert_eq!(body["data"]["error"]["code"], "bad_request");
    }
    assert!(names_in(&app, "root").await.is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_share_link_is_shown_and_downloads_the_file() {
    let app = spawn_app().await;
    let node = app
        .put_file("root", "report.txt", b"quarterly numbers")
        .await;

    let r = post_form(
        &app,
        "root",
        "share",
        &[("node", &node), ("expires", "3600"), ("password", "")],
    )
    .await;
    assert_eq!(r.status, 200);
    let html = r.text();
    assert!(html.contains("Share link for report.txt"), "{html}");
    assert!(html.contains("Expires "));

    let body = post_json(&app, "root", "share", &[("node", &node)]).await;
    assert_eq!(body["type"], "success");
    let share = &body["data"]["share"];
    assert_eq!(share["name"], "report.txt");
    assert_eq!(share["expires"], Value::Null);
    assert_eq!(share["password_protected"], false);
    let url = share["url"].as_str().expect("url");
    assert!(html.contains("value=\"http"), "the page shows a link");
    // The link is Fast.io's (here: the emulator's), opened without any key.
    let got = reqwest::get(url).await.expect("share link");
    assert_eq!(got.status(), 200);
    assert_eq!(&got.bytes().await.expect("body")[..], b"quarterly numbers");
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_share_requests_are_refused_with_the_reason() {
    let app = spawn_app().await;
    let node = app.put_file("root", "a.txt", b"x").await;
    let folder = app.put_folder("root", "Docs").await;
    for (form, status) in [
        (vec![("node", "")], 400),
        (vec![("node", node.as_str()), ("expires", "soon")], 400),
        (vec![("node", node.as_str()), ("expires", "0")], 400),
        (vec![("node", folder.as_str())], 400),
    ] {
        let body = post_json(&app, "root", "share", &form).await;
        assert_eq!(body["type"], "failure", "{form:?}");
        assert_eq!(body["status"], status, "{form:?}");
    }
    let r = post_form(&app, "root", "share", &[("node", "nosuchnode")]).await;
    assert_eq!(r.status, 404);
}

#[tokio::test(flavor = "multi_thread")]
async fn unknown_or_missing_actions_are_400() {
    let app = spawn_app().await;
    for action in ["explode", "", "mkdir/"] {
        let r = post_form(&app, "root", action, &[("name", "x")]).await;
        assert_eq!(r.status, 400, "{action:?}");
        assert!(r.text().contains("unknown action"));
    }
    let url = format!("{}/w/{}/root", app.url, app.workspace);
    let r = app
        .send(
            app.client
                .post(url)
                .header("origin", app.origin())
                .form(&[("name", "x")]),
        )
        .await;
    assert_eq!(r.status, 400);
    assert!(names_in(&app, "root").await.is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_small_form_over_its_body_limit_is_refused() {
    let app = spawn_app().await;
    let long = "x".repeat(20 * 1024);
    let r = post_form(&app, "root", "mkdir", &[("name", &long)]).await;
    assert_eq!(r.status, 400);
    assert!(r.text().contains("too large"));
    assert!(names_in(&app, "root").await.is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_form_post_without_our_origin_is_403_and_does_nothing() {
    let app = spawn_app().await;
    let url = format!("{}/w/{}/root?/mkdir", app.url, app.workspace);
    let r = app.send(app.client.post(&url).form(&[("name", "x")])).await;
    assert_eq!(r.status, 403);
    let r = app
        .send(
            app.client
                .post(&url)
                .header("origin", "https://evil.example")
                .form(&[("name", "x")]),
        )
        .await;
    assert_eq!(r.status, 403);
    assert!(names_in(&app, "root").await.is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn actions_on_an_unexposed_workspace_are_404() {
    let app =
        crate::common::spawn_app_with(&[("FASTGATE_WORKSPACES", "1234567890123456789")], |_| {})
            .await;
    let r = post_form(&app, "root", "mkdir", &[("name", "x")]).await;
    assert_eq!(r.status, 404);
}

#[tokio::test(flavor = "multi_thread")]
async fn mkdir_then_upload_into_the_new_folder_lists_the_files_with_their_sizes() {
    let app = spawn_app().await;
    let made = post_json(&app, "root", "mkdir", &[("name", "Incoming")]).await;
    let folder = made["data"]["folder"]["id"]
        .as_str()
        .expect("id")
        .to_owned();
    let url = format!("{}/w/{}/{folder}?/upload", app.url, app.workspace);
    let form = || {
        reqwest::multipart::Form::new()
            .part(
                "file",
                reqwest::multipart::Part::bytes(vec![1u8; 1000]).file_name("one.bin"),
            )
            .part(
                "file",
                reqwest::multipart::Part::bytes(b"two".to_vec()).file_name("two.txt"),
            )
    };
    // Without JS: the page again, with a result per file.
    let r = app
        .send(
            app.client
                .post(&url)
                .header("origin", app.origin())
                .multipart(form()),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let html = r.text();
    assert!(
        html.contains("Upload results") && html.contains(">one.bin</a>"),
        "{html}"
    );
    assert!(html.contains("2 files uploaded."));
    let mut names = names_in(&app, &folder).await;
    names.sort();
    assert_eq!(names, ["one.bin", "two.txt"]);
    // As a script: the action result.
    let r = app
        .send(
            app.client
                .post(&url)
                .header("origin", app.origin())
                .header("accept", "application/json")
                .multipart(form()),
        )
        .await;
    let body = r.json();
    assert_eq!(body["type"], "success", "{body}");
    assert_eq!(body["data"]["files"][0]["status"], "stored");
    assert_eq!(body["data"]["files"][0]["size"], 1000);
    let listing = app
        .get(&format!("/api/files/{}/{folder}", app.workspace))
        .await
        .json();
    let sizes: Vec<u64> = listing["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter_map(|i| i["size"].as_u64())
        .collect();
    assert!(sizes.contains(&1000) && sizes.contains(&3), "{listing}");
}
