//! Roles and API tokens: a viewer browses but cannot upload, a workspace without a grant does
//! not exist for its caller, a token never exceeds its role or workspace, and a revoked token
//! stops at once.

use reqwest::StatusCode;
use serde_json::json;

use crate::common::forms::{file_part, root_files};
use crate::common::{TestApp, bearer_client, spawn_app};

async fn upload(app: &TestApp, workspace: &str) -> crate::common::Recorded {
    let form = reqwest::multipart::Form::new().part("file", file_part("a.txt", b"hello".to_vec()));
    app.send(
        app.client
            .post(format!("{}/w/{workspace}/root?/upload", app.url))
            .header("origin", app.origin())
            .header("accept", "application/json")
            .multipart(form),
    )
    .await
}

#[tokio::test(flavor = "multi_thread")]
async fn a_viewer_browses_and_downloads_but_cannot_upload_create_folders_or_share() {
    let gw = spawn_app().await;
    let node = gw.put_file("root", "shared.txt", b"for everyone").await;
    let (_, viewer) = gw.user("vera", "viewer", Some(&gw.workspace)).await;
    let ws = &gw.workspace;
    assert_eq!(
        viewer.get(&format!("/api/files/{ws}/root")).await.status,
        200
    );
    assert_eq!(viewer.get(&format!("/w/{ws}/root")).await.status, 200);
    assert_eq!(
        viewer.get(&format!("/download/{ws}/{node}")).await.status,
        200
    );
    let refused = upload(&viewer, ws).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN, "{}", refused.text());
    assert_eq!(refused.json()["error"]["code"], "forbidden");
    for action in ["mkdir", "share"] {
        let r = viewer
            .send(
                viewer
                    .client
                    .post(format!("{}/w/{ws}/root?/{action}", viewer.url))
                    .header("origin", viewer.origin())
                    .form(&[("name", "x"), ("node", node.as_str())]),
            )
            .await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "?/{action}");
    }
    let api = viewer
        .send(
            viewer
                .client
                .post(format!("{}/api/uploads", viewer.url))
                .json(&json!({"workspace": ws, "folder": "root", "name": "b.bin", "size": 10})),
        )
        .await;
    assert_eq!(api.status, StatusCode::FORBIDDEN, "{}", api.text());
    // The page offers no forms it would refuse.
    let page = viewer.get(&format!("/w/{ws}/root")).await.text();
    assert!(
        !page.contains("?/upload") && !page.contains("?/share"),
        "{page}"
    );
    assert_eq!(root_files(&gw).await.len(), 1, "nothing was stored");
    for admin_only in ["/api/users", "/api/audit", "/metrics"] {
        assert_eq!(viewer.get(admin_only).await.status, 403, "{admin_only}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_workspace_without_a_grant_answers_404_as_if_it_did_not_exist() {
    let gw = spawn_app().await;
    let (_, other) = gw.user("olga", "editor", Some("1234567890")).await;
    let ws = &gw.workspace;
    for path in [format!("/api/files/{ws}/root"), format!("/download/{ws}/x")] {
        let r = other.get(&path).await;
        assert_eq!(r.status, StatusCode::NOT_FOUND, "{path}: {}", r.text());
    }
    assert_eq!(upload(&other, ws).await.status, StatusCode::NOT_FOUND);
    let listed = other.get("/api/workspaces").await.json();
    assert_eq!(
        listed["items"],
        json!([]),
        "an ungranted workspace is not even listed"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn an_uploader_uploads_and_a_token_never_exceeds_its_role_or_workspace() {
    let gw = spawn_app().await;
    let ws = gw.workspace.clone();
    let (_, uploader) = gw.user("uma", "uploader", None).await;
    let stored = upload(&uploader, &ws).await;
    assert_eq!(stored.status, StatusCode::OK, "{}", stored.text());
    // A viewer token of the uploader: reads, never writes.
    let make = |body: serde_json::Value| {
        let uploader = &uploader;
        async move {
            let r = uploader
                .send(
                    uploader
                        .client
                        .post(format!("{}/api/tokens", uploader.url))
                        .json(&body),
                )
                .await;
            assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
            r.json()
        }
    };
    let viewer_token = make(json!({"name": "read-only", "role": "viewer"})).await;
    let reader = uploader.with_client(bearer_client(
        viewer_token["token"].as_str().expect("token"),
    ));
    assert_eq!(
        reader.get(&format!("/api/files/{ws}/root")).await.status,
        200
    );
    assert_eq!(upload(&reader, &ws).await.status, StatusCode::FORBIDDEN);
    // No token above one's own role.
    let above = uploader
        .send(
            uploader
                .client
                .post(format!("{}/api/tokens", uploader.url))
                .json(&json!({"name": "too-much", "role": "admin"})),
        )
        .await;
    assert!(above.status.is_client_error(), "{}", above.text());
    // A token for another workspace does not see this one.
    let elsewhere = make(json!({"name": "elsewhere", "role": "uploader", "workspace": "42"})).await;
    let narrow = uploader.with_client(bearer_client(elsewhere["token"].as_str().expect("token")));
    assert_eq!(
        narrow.get(&format!("/api/files/{ws}/root")).await.status,
        404
    );
    // Revoked: refused at the next request.
    let id = viewer_token["id"].as_i64().expect("id");
    let revoked = uploader
        .send(
            uploader
                .client
                .delete(format!("{}/api/tokens/{id}", uploader.url)),
        )
        .await;
    assert_eq!(revoked.status, StatusCode::NO_CONTENT);
    let after = reader.get(&format!("/api/files/{ws}/root")).await;
    assert_eq!(after.status, StatusCode::UNAUTHORIZED);
    assert_eq!(after.json()["error"]["code"], "unauthenticated");
    let listed = uploader.get("/api/tokens").await.json();
    let mine = listed["items"].as_array().cloned().unwrap_or_default();
    assert!(
        mine.iter().any(|t| t["id"] == id && t["revoked"] == true),
        "{mine:?}"
    );
    assert!(
        mine.iter().all(|t| t.get("token").is_none()),
        "a token is shown only once"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_disabled_user_is_refused_at_once_and_an_admin_manages_users() {
    let gw = spawn_app().await;
    let created = gw
        .send(
            gw.client
                .post(format!("{}/api/users", gw.url))
                .json(&json!({
                    "username": "dan", "password": "dan-password-1", "role": "uploader"
                })),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.text());
    let signed = crate::access::signin::sign_in(&gw.anonymous(), "dan", "dan-password-1").await;
    let dan = crate::access::signin::with_cookie(
        &gw.anonymous(),
        &crate::access::signin::session_cookie(&signed),
    );
    assert_eq!(dan.get("/api/workspaces").await.status, 200);
    let disabled = gw
        .send(
            gw.client
                .patch(format!("{}/api/users/dan", gw.url))
                .json(&json!({"disabled": true})),
        )
        .await;
    assert_eq!(disabled.status, StatusCode::OK, "{}", disabled.text());
    assert_eq!(
        dan.get("/api/workspaces").await.status,
        401,
        "the session ended"
    );
    let users = gw.get("/api/users").await.json();
    assert!(
        users["items"].as_array().is_some_and(|u| u
            .iter()
            .any(|u| u["username"] == "dan" && u["disabled"] == true)),
        "{users}"
    );
}
