//! The file-management form actions of a folder page over HTTP (DESIGN §3c): `?/rename`,
//! `?/move` and `?/delete` (bulk: `node` repeated), `?/restore` and `?/purge` on the trash;
//! 303 after success without JS, an action result with `Accept: application/json`, and the
//! editor's capability required.

use crate::common::{Gateway, Recorded, TestApp, spawn_app};

/// POSTs urlencoded `fields` to `/w/{ws}/{folder}?/{action}` with our Origin.
async fn form(
    app: &TestApp,
    ws: &str,
    folder: &str,
    action: &str,
    fields: &[(&str, &str)],
    json: bool,
) -> Recorded {
    let mut request = app
        .client
        .post(format!("{}/w/{ws}/{folder}?/{action}", app.url))
        .header("origin", app.origin())
        .form(fields);
    if json {
        request = request.header("accept", "application/json");
    }
    app.send(request).await
}

async fn list(gw: &Gateway, folder: &str) -> Vec<String> {
    let r = gw
        .get(&format!("/api/files/{}/{folder}", gw.workspace))
        .await;
    let mut v: Vec<String> = r.json()["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|i| i["name"].as_str().unwrap_or_default().to_owned())
        .collect();
    v.sort();
    v
}

async fn trash(gw: &Gateway) -> Vec<String> {
    let r = gw.get(&format!("/api/trash/{}", gw.workspace)).await;
    let mut v: Vec<String> = r.json()["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|i| i["name"].as_str().unwrap_or_default().to_owned())
        .collect();
    v.sort();
    v
}

#[tokio::test(flavor = "multi_thread")]
async fn rename_move_delete_restore_and_purge_answer_303_back_to_the_page() {
    let gw = spawn_app().await;
    let ws = gw.workspace.clone();
    let a = gw.put_file("root", "a.txt", b"a").await;
    let dest = gw.put_folder("root", "Dest").await;

    let r = form(
        &gw,
        &ws,
        "root",
        "rename",
        &[("node", &a), ("name", "b.txt")],
        false,
    )
    .await;
    assert_eq!(r.status, 303, "{}", r.text());
    assert_eq!(r.header("location"), Some(format!("/w/{ws}/root").as_str()));
    assert_eq!(list(&gw, "root").await, ["Dest", "b.txt"]);

    let r = form(
        &gw,
        &ws,
        "root",
        "move",
        &[("node", &a), ("parent", &dest)],
        false,
    )
    .await;
    assert_eq!(r.status, 303, "{}", r.text());
    assert_eq!(list(&gw, &dest).await, ["b.txt"]);

    let r = form(&gw, &ws, &dest, "delete", &[("node", &a)], false).await;
    assert_eq!(r.status, 303, "{}", r.text());
    assert!(list(&gw, &dest).await.is_empty());
    assert_eq!(trash(&gw).await, ["b.txt"]);

    let r = form(&gw, &ws, "trash", "restore", &[("node", &a)], false).await;
    assert_eq!(r.status, 303, "{}", r.text());
    assert_eq!(
        r.header("location"),
        Some(format!("/w/{ws}/trash").as_str())
    );
    assert_eq!(list(&gw, &dest).await, ["b.txt"]);

    form(&gw, &ws, &dest, "delete", &[("node", &a)], false).await;
    let r = form(&gw, &ws, "trash", "purge", &[("node", &a)], false).await;
    assert_eq!(r.status, 303, "{}", r.text());
    assert!(trash(&gw).await.is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn bulk_move_and_delete_take_node_repeated_and_answer_json_results() {
    let gw = spawn_app().await;
    let ws = gw.workspace.clone();
    let ids: Vec<String> = futures_util::future::join_all((0..4).map(|i| {
        let gw = &gw;
        async move { gw.put_file("root", &format!("f{i}.txt"), b"x").await }
    }))
    .await;
    let dest = gw.put_folder("root", "Dest").await;
    let mut fields: Vec<(&str, &str)> = ids[..3].iter().map(|id| ("node", id.as_str())).collect();
    fields.push(("parent", &dest));
    let r = form(&gw, &ws, "root", "move", &fields, true).await;
    assert_eq!(r.status, 200, "{}", r.text());
    let body = r.json();
    assert_eq!(body["type"], "success");
    assert_eq!(body["data"]["nodes"].as_array().map(Vec::len), Some(3));
    assert_eq!(list(&gw, &dest).await, ["f0.txt", "f1.txt", "f2.txt"]);
    assert_eq!(list(&gw, "root").await, ["Dest", "f3.txt"]);

    let fields: Vec<(&str, &str)> = ids[..2].iter().map(|id| ("node", id.as_str())).collect();
    let r = form(&gw, &ws, &dest, "delete", &fields, true).await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(list(&gw, &dest).await, ["f2.txt"]);
    assert_eq!(trash(&gw).await, ["f0.txt", "f1.txt"]);

    // A bad member stops the whole bulk move before anything is sent: moving the folder into
    // itself along with a file.
    let r = form(
        &gw,
        &ws,
        "root",
        "move",
        &[("node", &ids[3]), ("node", &dest), ("parent", &dest)],
        true,
    )
    .await;
    assert_eq!(r.status, 400, "{}", r.text());
    assert_eq!(r.json()["type"], "failure");
    assert_eq!(list(&gw, "root").await, ["Dest", "f3.txt"]);
    // A name clash in JSON: a 409 failure naming the name.
    let r = form(
        &gw,
        &ws,
        "root",
        "rename",
        &[("node", &ids[3]), ("name", "Dest")],
        true,
    )
    .await;
    assert_eq!(r.status, 409, "{}", r.text());
    assert!(r.text().contains("Dest"));
    // Nothing chosen: 400.
    assert_eq!(
        form(&gw, &ws, "root", "delete", &[], true).await.status,
        400
    );
    // Without JS a failure is the error page with its status.
    let r = form(
        &gw,
        &ws,
        "root",
        "rename",
        &[("node", &ids[3]), ("name", "a/b")],
        false,
    )
    .await;
    assert_eq!(r.status, 400);
    assert!(r.text().contains("slash"));
}

#[tokio::test(flavor = "multi_thread")]
async fn the_actions_need_an_editor() {
    let gw = spawn_app().await;
    let ws = gw.workspace.clone();
    let (_, viewer) = gw.user("vera", "viewer", Some(&ws)).await;
    let (_, uploader) = gw.user("ula", "uploader", Some(&ws)).await;
    let a = gw.put_file("root", "a.txt", b"a").await;
    for app in [&viewer, &uploader] {
        for (action, fields) in [
            ("rename", vec![("node", a.as_str()), ("name", "b.txt")]),
            ("move", vec![("node", a.as_str()), ("parent", "root")]),
            ("delete", vec![("node", a.as_str())]),
        ] {
            let r = form(app, &ws, "root", action, &fields, true).await;
            assert_eq!(r.status, 403, "{action}: {}", r.text());
        }
        for action in ["restore", "purge"] {
            let r = form(app, &ws, "trash", action, &[("node", a.as_str())], true).await;
            assert_eq!(r.status, 403, "{action}: {}", r.text());
        }
    }
    assert_eq!(list(&gw, "root").await, ["a.txt"]);
}

#[tokio::test(flavor = "multi_thread")]
async fn an_editors_folder_page_offers_rename_move_and_trash_per_row_and_a_viewers_does_not() {
    let gw = spawn_app().await;
    let ws = gw.workspace.clone();
    let node = gw.put_file("root", "draft.txt", b"words").await;
    let page = gw.get(&format!("/w/{ws}/root")).await.text();
    let rename = format!(r#"action="/w/{ws}/root?/rename""#);
    let to_move = format!(r#"href="/w/{ws}/root/move?node={node}""#);
    let trash = format!(r#"href="/w/{ws}/root/delete?node={node}""#);
    assert!(
        page.contains(&rename) && page.contains(&to_move) && page.contains(&trash),
        "{page}"
    );
    assert!(page.contains(&format!(r#"name="node" value="{node}""#)));
    // The menu's "Move to trash…" asks first, on a page whose form posts ?/delete.
    let confirm = gw
        .get(&format!("/w/{ws}/root/delete?node={node}"))
        .await
        .text();
    assert!(
        confirm.contains(&format!(r#"action="/w/{ws}/root?/delete""#)),
        "{confirm}"
    );
    // The page's own rename form, posted as a browser without JS would.
    let r = form(
        &gw,
        &ws,
        "root",
        "rename",
        &[("node", &node), ("name", "final.txt")],
        false,
    )
    .await;
    assert_eq!(r.status, 303, "{}", r.text());
    assert_eq!(list(&gw, "root").await, vec!["final.txt".to_owned()]);
    let (_, viewer) = gw.user("vic", "viewer", Some(&ws)).await;
    let theirs = viewer.get(&format!("/w/{ws}/root")).await.text();
    assert!(
        !theirs.contains("?/rename") && !theirs.contains("/delete?") && !theirs.contains("/move?"),
        "{theirs}"
    );
    assert!(
        !theirs.contains(r#"form="bulk""#),
        "no checkboxes for a viewer"
    );
}
