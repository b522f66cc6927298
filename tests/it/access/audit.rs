//! The audit log: every action leaves a row naming who, from where, what and on what, readable
//! by an admin page by page and exported whole as JSON lines.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::common::forms::file_part;
use crate::common::spawn_app;

#[tokio::test(flavor = "multi_thread")]
async fn uploads_folders_shares_and_tokens_are_audited_with_actor_ip_and_request_id() {
    let gw = spawn_app().await;
    let ws = gw.workspace.clone();
    let form =
        reqwest::multipart::Form::new().part("file", file_part("audited.txt", b"12345".to_vec()));
    let stored = gw
        .send(
            gw.client
                .post(format!("{}/w/{ws}/root?/upload", gw.url))
                .header("origin", gw.origin())
                .header("accept", "application/json")
                .header("x-request-id", "audit-upload-1")
                .multipart(form),
        )
        .await;
    assert_eq!(stored.status, StatusCode::OK, "{}", stored.text());
    let file = &stored.json()["data"]["files"][0];
    let node = file["node"].as_str().expect("node").to_owned();
    let mkdir = gw
        .send(
            gw.client
                .post(format!("{}/w/{ws}/root?/mkdir", gw.url))
                .header("origin", gw.origin())
                .header("accept", "application/json")
                .form(&[("name", "Reports")]),
        )
        .await;
    assert_eq!(mkdir.status, StatusCode::OK, "{}", mkdir.text());
    let share = gw
        .send(
            gw.client
                .post(format!("{}/w/{ws}/root?/share", gw.url))
                .header("origin", gw.origin())
                .header("accept", "application/json")
                .form(&[("node", node.as_str())]),
        )
        .await;
    assert_eq!(share.status, StatusCode::OK, "{}", share.text());
    let token = gw
        .send(
            gw.client
                .post(format!("{}/api/tokens", gw.url))
                .json(&json!({"name": "ci", "role": "viewer"})),
        )
        .await
        .json();

    let page = gw.get("/api/audit?limit=100").await;
    assert_eq!(page.status, StatusCode::OK);
    let items = page.json()["items"].as_array().cloned().unwrap_or_default();
    let find = |action: &str| -> Value {
        items
            .iter()
            .find(|i| i["action"] == action)
            .cloned()
            .unwrap_or_else(|| panic!("no {action} in {items:?}"))
    };
    let upload = find("upload_stored");
    assert_eq!(upload["actor"], "token:tests@admin");
    assert_eq!(upload["workspace"], ws.as_str());
    assert_eq!(upload["target"], node.as_str());
    assert_eq!(upload["size"], 5);
    assert_eq!(upload["sha256"], file["sha256"]);
    assert_eq!(upload["request_id"], "audit-upload-1");
    assert_eq!(upload["ip"], "127.0.0.1");
    assert_eq!(find("folder_created")["workspace"], ws.as_str());
    assert_eq!(find("share_created")["target"], node.as_str());
    assert_eq!(find("token_created")["target"], "ci@admin");
    assert!(
        token["token"]
            .as_str()
            .is_some_and(|t| !items.iter().any(|i| i.to_string().contains(t)))
    );

    // Paging by cursor reaches every row exactly once; the export has them all as lines.
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            Some(c) => format!("/api/audit?limit=2&cursor={c}"),
            None => "/api/audit?limit=2".to_owned(),
        };
        let body = gw.get(&path).await.json();
        seen.extend(body["items"].as_array().cloned().unwrap_or_default());
        match body["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => break,
        }
    }
    assert_eq!(seen.len(), items.len());
    let export = gw.get("/api/audit?format=jsonl").await;
    assert_eq!(export.status, StatusCode::OK);
    assert!(
        export
            .header("content-type")
            .is_some_and(|t| t.starts_with("application/jsonl"))
    );
    let lines: Vec<Value> = export
        .text()
        .lines()
        .map(|l| serde_json::from_str(l).expect("each line is JSON"))
        .collect();
    assert_eq!(lines.len(), items.len());
    let only = gw.get("/api/audit?action=upload_stored").await.json();
    assert!(
        only["items"].as_array().is_some_and(|i| i.len() == 1),
        "{only}"
    );
    assert_eq!(gw.get("/api/audit?action=nonsense").await.status, 400);
    let html = gw.get("/audit").await;
    assert_eq!(html.status, 200);
    assert!(html.text().contains("upload_stored"));
}
