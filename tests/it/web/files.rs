//! File management over the JSON API against the real emulator (DESIGN §3c): rename, move,
//! delete to the trash and restore, purge, versions, search; bad input refused before any
//! upstream call; every action refused for a viewer and audited for an editor.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::common::payload::sha256_hex;
use crate::common::{Gateway, Recorded, TestApp, spawn_app};

async fn patch(app: &TestApp, path: &str, body: Value) -> Recorded {
    app.send(app.client.patch(format!("{}{path}", app.url)).json(&body))
        .await
}

async fn delete(app: &TestApp, path: &str) -> Recorded {
    app.send(app.client.delete(format!("{}{path}", app.url)))
        .await
}

async fn post(app: &TestApp, path: &str) -> Recorded {
    app.send(app.client.post(format!("{}{path}", app.url)))
        .await
}

/// Names in a listing answer.
fn names(listing: &Value) -> Vec<String> {
    let mut v: Vec<String> = listing["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|i| i["name"].as_str().unwrap_or_default().to_owned())
        .collect();
    v.sort();
    v
}

async fn list(gw: &Gateway, folder: &str) -> Vec<String> {
    let r = gw
        .get(&format!("/api/files/{}/{folder}", gw.workspace))
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    names(&r.json())
}

fn assert_error(r: &Recorded, status: u16, needle: &str) {
    assert_eq!(r.status.as_u16(), status, "{}", r.text());
    let body = r.json();
    let message = body["error"]["message"].as_str().unwrap_or_default();
    assert!(body["error"]["code"].is_string(), "{body}");
    assert!(message.contains(needle), "{message:?} lacks {needle:?}");
}

fn blob_count(gw: &Gateway) -> usize {
    fn walk(dir: &std::path::Path) -> usize {
        std::fs::read_dir(dir).map_or(0, |rd| {
            rd.flatten()
                .map(|e| {
                    let p = e.path();
                    if p.is_dir() { walk(&p) } else { 1 }
                })
                .sum()
        })
    }
    walk(&gw.dir.path().join("emulator").join("blobs"))
}

#[tokio::test(flavor = "multi_thread")]
async fn rename_then_list_and_a_name_clash_is_409_naming_the_name() {
    let gw = spawn_app().await;
    let ws = gw.workspace.clone();
    let a = gw.put_file("root", "a.txt", b"aaa").await;
    gw.put_file("root", "b.txt", b"bbb").await;

    let r = patch(
        &gw,
        &format!("/api/files/{ws}/{a}"),
        json!({"name": "renamed.txt"}),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["name"], "renamed.txt");
    assert_eq!(r.json()["id"], a.as_str());
    assert_eq!(list(&gw, "root").await, ["b.txt", "renamed.txt"]);

    let r = patch(
        &gw,
        &format!("/api/files/{ws}/{a}"),
        json!({"name": "b.txt"}),
    )
    .await;
    assert_error(&r, 409, "b.txt");
    assert_eq!(list(&gw, "root").await, ["b.txt", "renamed.txt"]);
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_names_bad_moves_and_foreign_nodes_are_refused_with_the_reason() {
    let gw = spawn_app().await;
    let ws = gw.workspace.clone();
    let a = gw.put_file("root", "a.txt", b"aaa").await;
    let top = gw.put_folder("root", "Top").await;
    let mid = gw.put_folder(&top, "Mid").await;
    let low = gw.put_folder(&mid, "Low").await;
    let path = format!("/api/files/{ws}/{a}");
    let long = "x".repeat(256);
    for (name, why) in [
        ("", "empty"),
        ("   ", "empty"),
        (long.as_str(), "longer"),
        (".", "“.”"),
        ("..", "“.”"),
        ("a/b", "slash"),
        ("a\\b", "slash"),
        ("a\u{7}b", "control"),
        ("a\nb", "control"),
    ] {
        assert_error(&patch(&gw, &path, json!({ "name": name })).await, 400, why);
    }
    assert_error(&patch(&gw, &path, json!({})).await, 400, "name");
    // A folder into itself or its own subtree: refused, nothing moved.
    let top_path = format!("/api/files/{ws}/{top}");
    assert_error(
        &patch(&gw, &top_path, json!({ "parent": top })).await,
        400,
        "itself",
    );
    assert_error(
        &patch(&gw, &top_path, json!({ "parent": low })).await,
        400,
        "subfolder",
    );
    assert_error(
        &patch(&gw, &top_path, json!({ "parent": mid })).await,
        400,
        "subfolder",
    );
    assert_eq!(list(&gw, &mid).await, ["Low"]);
    // Another workspace's node, an unknown node, an unexposed workspace: 404.
    for path in [
        format!("/api/files/{ws}/nosuchnode123"),
        format!("/api/files/999999999/{a}"),
    ] {
        assert_eq!(patch(&gw, &path, json!({"name": "x"})).await.status, 404);
        assert_eq!(delete(&gw, &path).await.status, 404);
    }
    // Moving into a file or a missing folder: 404.
    assert_eq!(
        patch(&gw, &top_path, json!({ "parent": a })).await.status,
        404
    );
    // Purge of a live node: 409.
    assert_error(
        &delete(&gw, &format!("/api/trash/{ws}/{a}")).await,
        409,
        "a.txt",
    );
    // Restore of a live node: 409.
    assert_eq!(
        post(&gw, &format!("/api/files/{ws}/{a}/restore"))
            .await
            .status,
        409
    );
    // Search: too long, too short.
    let q = "q".repeat(1025);
    assert_error(
        &gw.get(&format!("/api/search/{ws}?q={q}")).await,
        400,
        "1024",
    );
    assert_error(&gw.get(&format!("/api/search/{ws}?q=a")).await, 400, "2");
    assert_error(
        &gw.get(&format!("/api/search/{ws}?q=ab&limit=0")).await,
        400,
        "limit",
    );
    assert_eq!(
        gw.get(&format!("/api/search/{ws}?q=ab&cursor=forged"))
            .await
            .status,
        400
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn move_across_folders_and_into_a_new_folder() {
    let gw = spawn_app().await;
    let ws = gw.workspace.clone();
    let one = gw.put_folder("root", "One").await;
    let two = gw.put_folder("root", "Two").await;
    let f = gw.put_file(&one, "doc.txt", b"doc").await;

    let r = patch(&gw, &format!("/api/files/{ws}/{f}"), json!({"parent": two})).await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["parent"], two.as_str());
    assert!(list(&gw, &one).await.is_empty());
    assert_eq!(list(&gw, &two).await, ["doc.txt"]);

    let fresh = gw.put_folder(&two, "Fresh").await;
    let r = patch(
        &gw,
        &format!("/api/files/{ws}/{f}"),
        json!({"parent": fresh, "name": "moved.txt"}),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(list(&gw, &fresh).await, ["moved.txt"]);
    assert_eq!(list(&gw, &two).await, ["Fresh"]);
    // A folder moves with its content, to the root too.
    let r = patch(
        &gw,
        &format!("/api/files/{ws}/{fresh}"),
        json!({"parent": "root"}),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(list(&gw, &fresh).await, ["moved.txt"]);
    assert_eq!(list(&gw, "root").await, ["Fresh", "One", "Two"]);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_deleted_folder_of_three_goes_to_the_trash_and_comes_back_byte_identical() {
    let gw = spawn_app().await;
    let ws = gw.workspace.clone();
    let dir = gw.put_folder("root", "Box").await;
    let files: Vec<(String, Vec<u8>)> = (0..3)
        .map(|i| {
            (
                format!("f{i}.bin"),
                crate::common::payload::bytes(1000 + i, i as u64),
            )
        })
        .collect();
    for (name, bytes) in &files {
        gw.put_file(&dir, name, bytes).await;
    }
    let r = delete(&gw, &format!("/api/files/{ws}/{dir}")).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.text());
    assert!(list(&gw, "root").await.is_empty());
    let trash = gw.get(&format!("/api/trash/{ws}")).await;
    assert_eq!(trash.status, 200, "{}", trash.text());
    assert_eq!(names(&trash.json()), ["Box"]);
    assert_eq!(trash.json()["folder"]["id"], "trash");
    // Deleting again is harmless; restore brings all three back.
    let r = post(&gw, &format!("/api/files/{ws}/{dir}/restore")).await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["parent"], "root");
    assert_eq!(list(&gw, "root").await, ["Box"]);
    let listing = gw.get(&format!("/api/files/{ws}/{dir}")).await.json();
    assert_eq!(names(&listing), ["f0.bin", "f1.bin", "f2.bin"]);
    for item in listing["items"].as_array().expect("items") {
        let name = item["name"].as_str().expect("name");
        let want = &files.iter().find(|(n, _)| n == name).expect("known").1;
        let got = gw
            .get(&format!(
                "/download/{ws}/{}",
                item["id"].as_str().expect("id")
            ))
            .await;
        assert_eq!(got.status, 200);
        assert_eq!(sha256_hex(&got.body), sha256_hex(want), "{name}");
    }
    assert!(names(&gw.get(&format!("/api/trash/{ws}")).await.json()).is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn purge_removes_the_blob_from_the_emulators_disk() {
    let gw = spawn_app().await;
    let ws = gw.workspace.clone();
    let before = blob_count(&gw);
    let f = gw.put_file("root", "gone.bin", &[9u8; 4096]).await;
    assert_eq!(blob_count(&gw), before + 1);
    assert_eq!(
        delete(&gw, &format!("/api/files/{ws}/{f}")).await.status,
        204
    );
    assert_eq!(blob_count(&gw), before + 1, "the trash keeps the bytes");
    let r = delete(&gw, &format!("/api/trash/{ws}/{f}")).await;
    assert_eq!(r.status, 204, "{}", r.text());
    assert_eq!(blob_count(&gw), before);
    assert!(names(&gw.get(&format!("/api/trash/{ws}")).await.json()).is_empty());
    assert_eq!(
        delete(&gw, &format!("/api/trash/{ws}/{f}")).await.status,
        404
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn two_same_name_uploads_make_two_versions_and_the_older_one_can_be_restored() {
    let gw = spawn_app().await;
    let ws = gw.workspace.clone();
    let old = b"first content".to_vec();
    let new = b"second, longer content".to_vec();
    let id = gw.put_file("root", "v.txt", &old).await;
    let again = gw.put_file("root", "v.txt", &new).await;
    assert_eq!(
        id, again,
        "a same-name upload is a new version of the same node"
    );
    let r = gw.get(&format!("/api/files/{ws}/{id}/versions")).await;
    assert_eq!(r.status, 200, "{}", r.text());
    let items = r.json()["items"].as_array().cloned().expect("items");
    assert_eq!(items.len(), 2, "{items:?}");
    let current: Vec<&Value> = items.iter().filter(|v| v["current"] == true).collect();
    assert_eq!(current.len(), 1);
    let older = items
        .iter()
        .find(|v| v["current"] == false)
        .expect("an older version");
    assert_eq!(older["size"], old.len());
    for v in &items {
        let vid = v["id"].as_str().expect("id");
        let got = gw.get(&format!("/download/{ws}/{id}?version={vid}")).await;
        assert_eq!(got.status, 200, "{}", got.text());
        let hash = sha256_hex(&got.body);
        if let Some(sha) = v["sha256"].as_str() {
            assert_eq!(hash, sha);
        }
        let want = if v["current"] == true { &new } else { &old };
        assert_eq!(hash, sha256_hex(want));
    }
    let vid = older["id"].as_str().expect("id");
    let r = post(&gw, &format!("/api/files/{ws}/{id}/versions/{vid}/restore")).await;
    assert_eq!(r.status, 200, "{}", r.text());
    let got = gw.get(&format!("/download/{ws}/{id}")).await;
    assert_eq!(sha256_hex(&got.body), sha256_hex(&old));
}

#[tokio::test(flavor = "multi_thread")]
async fn search_finds_by_part_of_a_name_and_pages_with_a_signed_cursor() {
    let gw = spawn_app().await;
    let ws = gw.workspace.clone();
    let dir = gw.put_folder("root", "Reports").await;
    for i in 0..5 {
        gw.put_file(&dir, &format!("Quarterly-{i}.pdf"), b"%PDF-1.4")
            .await;
    }
    gw.put_file("root", "unrelated.txt", b"x").await;
    let mut seen = Vec::new();
    let mut url = format!("/api/search/{ws}?q=TERLY&limit=2");
    for _ in 0..10 {
        let r = gw.get(&url).await;
        assert_eq!(r.status, 200, "{}", r.text());
        let body = r.json();
        let items = body["items"].as_array().cloned().expect("items");
        assert!(items.len() <= 2);
        for i in &items {
            assert_eq!(i["parent"], dir.as_str());
            seen.push(i["name"].as_str().expect("name").to_owned());
        }
        match body["next_cursor"].as_str() {
            Some(c) => url = format!("/api/search/{ws}?q=TERLY&cursor={c}"),
            None => break,
        }
    }
    seen.sort();
    let want: Vec<String> = (0..5).map(|i| format!("Quarterly-{i}.pdf")).collect();
    assert_eq!(seen, want);
    // A cursor of one search does not serve another.
    let first = gw
        .get(&format!("/api/search/{ws}?q=TERLY&limit=2"))
        .await
        .json();
    let c = first["next_cursor"].as_str().expect("more");
    assert_eq!(
        gw.get(&format!("/api/search/{ws}?q=other&cursor={c}"))
            .await
            .status,
        400
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn every_action_is_refused_for_a_viewer_and_audited_for_an_editor() {
    let gw = spawn_app().await;
    let ws = gw.workspace.clone();
    let (_, viewer) = gw.user("vera", "viewer", Some(&ws)).await;
    let (_, editor) = gw.user("eddie", "editor", Some(&ws)).await;
    let f = gw.put_file("root", "x.txt", b"x1").await;
    gw.put_file("root", "x.txt", b"x2, newer").await;
    let dir = gw.put_folder("root", "Dest").await;

    // The viewer reads but changes nothing.
    assert_eq!(viewer.get(&format!("/api/trash/{ws}")).await.status, 200);
    assert_eq!(
        viewer.get(&format!("/api/search/{ws}?q=x.t")).await.status,
        200
    );
    let versions = viewer.get(&format!("/api/files/{ws}/{f}/versions")).await;
    assert_eq!(versions.status, 200);
    let vid = versions.json()["items"]
        .as_array()
        .and_then(|v| v.iter().find(|v| v["current"] == false).cloned())
        .expect("older")["id"]
        .as_str()
        .expect("id")
        .to_owned();
    let refused = [
        patch(
            &viewer,
            &format!("/api/files/{ws}/{f}"),
            json!({"name": "y.txt"}),
        )
        .await,
        patch(
            &viewer,
            &format!("/api/files/{ws}/{f}"),
            json!({"parent": dir}),
        )
        .await,
        delete(&viewer, &format!("/api/files/{ws}/{f}")).await,
        post(&viewer, &format!("/api/files/{ws}/{f}/restore")).await,
        delete(&viewer, &format!("/api/trash/{ws}/{f}")).await,
        post(
            &viewer,
            &format!("/api/files/{ws}/{f}/versions/{vid}/restore"),
        )
        .await,
    ];
    for r in &refused {
        assert_error(r, 403, "not allowed");
    }
    assert_eq!(list(&gw, "root").await, ["Dest", "x.txt"]);

    // The editor does each, and each is in the audit log.
    let ok = |r: Recorded| {
        assert!(r.status.is_success(), "{} {}", r.status, r.text());
    };
    ok(patch(
        &editor,
        &format!("/api/files/{ws}/{f}"),
        json!({"name": "y.txt"}),
    )
    .await);
    ok(patch(
        &editor,
        &format!("/api/files/{ws}/{f}"),
        json!({"parent": dir}),
    )
    .await);
    ok(post(
        &editor,
        &format!("/api/files/{ws}/{f}/versions/{vid}/restore"),
    )
    .await);
    ok(delete(&editor, &format!("/api/files/{ws}/{f}")).await);
    ok(post(&editor, &format!("/api/files/{ws}/{f}/restore")).await);
    ok(delete(&editor, &format!("/api/files/{ws}/{f}")).await);
    ok(delete(&editor, &format!("/api/trash/{ws}/{f}")).await);

    let audit = gw.get("/api/audit?limit=100").await.json();
    let items = audit["items"].as_array().cloned().expect("items");
    for action in [
        "node_renamed",
        "node_moved",
        "version_restored",
        "node_deleted",
        "node_restored",
        "node_purged",
    ] {
        let entry = items
            .iter()
            .find(|i| i["action"] == action)
            .unwrap_or_else(|| panic!("no {action} in {items:?}"));
        assert_eq!(entry["actor"], "token:tests@eddie", "{entry}");
        assert_eq!(entry["workspace"], ws.as_str());
        assert_eq!(entry["target"], f.as_str());
    }
    assert!(
        !items
            .iter()
            .any(|i| i["actor"].as_str().is_some_and(|a| a.contains("vera"))
                && i["action"].as_str().is_some_and(|a| a.starts_with("node_"))),
        "nothing the viewer was refused is recorded as done"
    );
}
