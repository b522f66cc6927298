//! File management against the emulator, spoken to as raw HTTP written from `fastio-api.md`
//! (§6.5 rename/move/copy/trash, §6.6 search, §6.9 versions, §6.10 previews and transforms):
//! what a caller sees in listings, the trash, the bytes and the disk, and the contract's error
//! for each bad input. Previews and transforms are in `files/previews.rs`.

use crate::common::emulator::*;
use crate::common::payload::{bytes as data, sha256_hex as sha256};
use reqwest::StatusCode;
use serde_json::Value;

mod previews;

/// Uploads `bytes` as `name` into `folder` (one chunk) and waits for `stored`; the node id.
async fn upload(t: &TestEmu, name: &str, bytes: &[u8], folder: &str) -> String {
    let id = t.create_session(name, bytes.len(), folder).await;
    assert_eq!(t.put_chunk(&id, 1, bytes.to_vec()).await.0, StatusCode::OK);
    assert_eq!(t.complete(&id).await.0, StatusCode::OK);
    let s = t.wait_terminal(&id).await;
    assert_eq!(s["status"], "stored", "{s}");
    s["new_file_id"].as_str().expect("new_file_id").to_owned()
}

async fn folder(t: &TestEmu, parent: &str, name: &str) -> String {
    let (status, v) = t
        .post_form(
            &format!("/workspace/{}/storage/{parent}/createfolder/", t.ws),
            &[("name", name)],
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{v}");
    v["node"]["id"].as_str().expect("id").to_owned()
}

fn node_path(t: &TestEmu, node: &str, tail: &str) -> String {
    format!("/workspace/{}/storage/{node}/{tail}", t.ws)
}

async fn details(t: &TestEmu, node: &str) -> (StatusCode, Value) {
    t.get(&node_path(t, node, "details/")).await
}

async fn bytes_of(t: &TestEmu, node: &str) -> Vec<u8> {
    let res = t.download(node, None).await;
    assert_eq!(res.status(), StatusCode::OK);
    res.bytes().await.expect("bytes").to_vec()
}

#[tokio::test]
async fn a_rename_shows_in_the_listing_and_a_sibling_name_is_400_1605() {
    let t = spawn().await;
    let a = upload(&t, "a.txt", b"alpha", "root").await;
    upload(&t, "b.txt", b"beta", "root").await;
    let (status, v) = t
        .post_form(&node_path(&t, &a, "update/"), &[("name", "renamed.txt")])
        .await;
    assert_eq!(status, StatusCode::OK, "{v}");
    assert_eq!(v["node"]["name"], "renamed.txt");
    assert_eq!(t.names("root").await, ["b.txt", "renamed.txt"]);
    let (status, v) = t
        .post_form(&node_path(&t, &a, "update/"), &[("name", "B.TXT")])
        .await;
    assert_eq!((status, code(&v)), (StatusCode::BAD_REQUEST, 1605), "{v}");
}

#[tokio::test]
async fn bad_names_are_refused_with_400_1605_and_the_reason() {
    let t = spawn().await;
    let a = upload(&t, "a.txt", b"alpha", "root").await;
    let long = "x".repeat(256);
    for bad in [
        "",
        "   ",
        ".",
        "..",
        "a/b",
        "a\\b",
        "tab\there",
        long.as_str(),
    ] {
        let (status, v) = t
            .post_form(&node_path(&t, &a, "update/"), &[("name", bad)])
            .await;
        assert_eq!(
            (status, code(&v)),
            (StatusCode::BAD_REQUEST, 1605),
            "{bad:?}: {v}"
        );
        assert!(!v["error"]["text"].as_str().unwrap_or_default().is_empty());
    }
    assert_eq!(t.names("root").await, ["a.txt"]);
}

#[tokio::test]
async fn a_move_across_folders_trashes_a_same_named_file_in_the_target() {
    let t = spawn().await;
    let src = folder(&t, "root", "src").await;
    let dst = folder(&t, "root", "dst").await;
    let moved = upload(&t, "report.txt", b"new", &src).await;
    let old = upload(&t, "report.txt", b"old", &dst).await;
    let (status, v) = t
        .post_form(&node_path(&t, &moved, "move/"), &[("parent", &dst)])
        .await;
    assert_eq!(status, StatusCode::OK, "{v}");
    assert_eq!(v["node"]["parent"], dst.as_str());
    assert!(v.get("replaced").is_none(), "no replaced flag: {v}");
    assert!(t.names(&src).await.is_empty());
    assert_eq!(t.names(&dst).await, ["report.txt"]);
    assert_eq!(bytes_of(&t, &moved).await, b"new");
    let (_, old_node) = details(&t, &old).await;
    assert_eq!(old_node["node"]["parent"], "trash");
    assert_eq!(old_node["node"]["deleted"], true);
    // A folder clash renames the incoming folder instead.
    let inner = folder(&t, &src, "dst").await;
    let (_, v) = t
        .post_form(&node_path(&t, &inner, "move/"), &[("parent", "root")])
        .await;
    assert_eq!(v["node"]["name"], "dst (2)");
}

#[tokio::test]
async fn moving_a_folder_into_its_own_subtree_root_or_the_trash_is_400_and_an_unknown_target_404() {
    let t = spawn().await;
    let top = folder(&t, "root", "top").await;
    let mid = folder(&t, &top, "mid").await;
    let low = folder(&t, &mid, "low").await;
    for target in [top.as_str(), low.as_str(), "trash"] {
        let (status, v) = t
            .post_form(&node_path(&t, &top, "move/"), &[("parent", target)])
            .await;
        assert_eq!(
            (status, code(&v)),
            (StatusCode::BAD_REQUEST, 1605),
            "{target}: {v}"
        );
    }
    let (status, v) = t
        .post_form(&node_path(&t, "root", "move/"), &[("parent", &top)])
        .await;
    assert_eq!((status, code(&v)), (StatusCode::BAD_REQUEST, 1605), "{v}");
    let (status, v) = t
        .post_form(
            &node_path(&t, &mid, "move/"),
            &[("parent", "zzzzzzzzzzzzzzzzzzzzzzzzzzzzzz")],
        )
        .await;
    assert_eq!((status, code(&v)), (StatusCode::NOT_FOUND, 1609), "{v}");
    assert_eq!(t.names(&top).await, ["mid"]);
}

#[tokio::test]
async fn a_copy_is_deep_with_new_ids_and_a_copy_into_its_own_folder_is_renamed() {
    let t = spawn().await;
    let docs = folder(&t, "root", "docs").await;
    let f = upload(&t, "a.txt", b"copied bytes", &docs).await;
    let (status, v) = t
        .post_form(&node_path(&t, &docs, "copy/"), &[("parent", "root")])
        .await;
    assert_eq!(status, StatusCode::OK, "{v}");
    let copy = v["node"]["id"].as_str().expect("id").to_owned();
    assert_ne!(copy, docs);
    assert_eq!(v["node"]["name"], "docs (2)");
    let (_, list) = t.get(&node_path(&t, &copy, "list/")).await;
    let inner = list["nodes"][0]["id"].as_str().expect("child").to_owned();
    assert_ne!(inner, f);
    assert_eq!(bytes_of(&t, &inner).await, b"copied bytes");
    let (_, v) = t
        .post_form(&node_path(&t, &f, "copy/"), &[("parent", &docs)])
        .await;
    assert_eq!(v["node"]["name"], "a (2).txt");
}

#[tokio::test]
async fn deleting_a_folder_of_three_files_trashes_it_whole_and_restore_brings_all_three_back() {
    let t = spawn().await;
    let dir = folder(&t, "root", "album").await;
    let mut files = Vec::new();
    for i in 0..3 {
        let body = data(10_000 + i * 77, i as u64);
        let id = upload(&t, &format!("f{i}.bin"), &body, &dir).await;
        files.push((id, sha256(&body)));
    }
    let (status, v) = t.delete(&node_path(&t, &dir, "delete/")).await;
    assert_eq!(status, StatusCode::OK, "{v}");
    assert_eq!(v, serde_json::json!({"result": true}));
    assert!(t.names("root").await.is_empty());
    assert_eq!(t.names("trash").await, ["album"], "only the top-level node");
    let (_, d) = details(&t, &dir).await;
    assert_eq!(d["node"]["deleted"], true);
    assert_eq!(d["node"]["deleted_from"], "root");
    let (status, _) = t.get(&node_path(&t, &dir, "list/")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = t.delete(&node_path(&t, &dir, "delete/")).await;
    assert_eq!(status, StatusCode::OK, "a repeated delete succeeds");

    let (status, v) = t.post_form(&node_path(&t, &dir, "restore/"), &[]).await;
    assert_eq!(status, StatusCode::OK, "{v}");
    assert_eq!(v["node"]["parent"], "root");
    assert!(t.names("trash").await.is_empty());
    assert_eq!(t.names(&dir).await, ["f0.bin", "f1.bin", "f2.bin"]);
    for (id, hash) in &files {
        assert_eq!(&sha256(&bytes_of(&t, id).await), hash);
    }
    let (status, v) = t.post_form(&node_path(&t, &dir, "restore/"), &[]).await;
    assert_eq!(
        (status, code(&v)),
        (StatusCode::BAD_REQUEST, 1605),
        "live: {v}"
    );
}

#[tokio::test]
async fn a_restore_goes_to_root_when_its_folder_is_trashed_and_trashes_a_same_named_file() {
    let t = spawn().await;
    let dir = folder(&t, "root", "box").await;
    let f = upload(&t, "note.txt", b"first", &dir).await;
    assert_eq!(
        t.delete(&node_path(&t, &f, "delete/")).await.0,
        StatusCode::OK
    );
    assert_eq!(
        t.delete(&node_path(&t, &dir, "delete/")).await.0,
        StatusCode::OK
    );
    let other = upload(&t, "note.txt", b"second", "root").await;
    let (status, v) = t.post_form(&node_path(&t, &f, "restore/"), &[]).await;
    assert_eq!(status, StatusCode::OK, "{v}");
    assert_eq!(v["node"]["parent"], "root");
    assert_eq!(v["node"]["name"], "note.txt");
    let (_, o) = details(&t, &other).await;
    assert_eq!(
        o["node"]["parent"], "trash",
        "the clashing file went to the trash"
    );
    assert_eq!(bytes_of(&t, &f).await, b"first");
}

#[tokio::test]
async fn purge_removes_the_blob_from_disk_and_the_id_then_answers_404_1609() {
    let t = spawn().await;
    let body = data(50_000, 9);
    let f = upload(&t, "gone.bin", &body, "root").await;
    let blobs = t.dir.path().join("blobs");
    let holding = |dir: &std::path::Path| -> Vec<std::path::PathBuf> {
        std::fs::read_dir(dir)
            .expect("blobs")
            .flatten()
            .map(|e| e.path())
            .filter(|p| std::fs::read(p).is_ok_and(|b| b == body))
            .collect()
    };
    let files = holding(&blobs);
    assert_eq!(files.len(), 1, "one blob holds the bytes");
    let (status, v) = t.delete(&node_path(&t, &f, "purge/")).await;
    assert_eq!(
        (status, code(&v)),
        (StatusCode::BAD_REQUEST, 1605),
        "live: {v}"
    );
    assert!(files[0].exists());
    assert_eq!(
        t.delete(&node_path(&t, &f, "delete/")).await.0,
        StatusCode::OK
    );
    let (status, v) = t.delete(&node_path(&t, &f, "purge/")).await;
    assert_eq!(status, StatusCode::OK, "{v}");
    assert!(!files[0].exists(), "the blob is gone from disk");
    assert!(t.names("trash").await.is_empty());
    let (status, v) = details(&t, &f).await;
    assert_eq!((status, code(&v)), (StatusCode::NOT_FOUND, 1609), "{v}");
    let (status, v) = t.delete(&node_path(&t, &f, "purge/")).await;
    assert_eq!((status, code(&v)), (StatusCode::NOT_FOUND, 1609), "{v}");
}

#[tokio::test]
async fn emptying_the_trash_purges_everything_in_it() {
    let t = spawn().await;
    let dir = folder(&t, "root", "old").await;
    let a = upload(&t, "a.bin", &data(3000, 1), &dir).await;
    let b = upload(&t, "b.bin", &data(3000, 2), "root").await;
    for n in [&dir, &b] {
        assert_eq!(
            t.delete(&node_path(&t, n, "delete/")).await.0,
            StatusCode::OK
        );
    }
    let (status, v) = t.delete(&node_path(&t, "trash", "delete/")).await;
    assert_eq!(status, StatusCode::OK, "{v}");
    assert!(t.names("trash").await.is_empty());
    for n in [&dir, &a, &b] {
        assert_eq!(details(&t, n).await.0, StatusCode::NOT_FOUND);
    }
    let (status, v) = t.delete(&node_path(&t, "root", "delete/")).await;
    assert_eq!((status, code(&v)), (StatusCode::BAD_REQUEST, 1605), "{v}");
}

#[tokio::test]
async fn two_same_name_uploads_make_two_versions_and_restoring_the_older_makes_it_current() {
    let t = spawn().await;
    let (one, two) = (data(4000, 11), data(5000, 12));
    let n1 = upload(&t, "v.bin", &one, "root").await;
    let n2 = upload(&t, "v.bin", &two, "root").await;
    assert_eq!(n1, n2, "overwrite in place keeps the node id");
    let (status, v) = t.get(&node_path(&t, &n1, "versions/")).await;
    assert_eq!(status, StatusCode::OK, "{v}");
    let versions = v["versions"].as_array().expect("versions").clone();
    assert_eq!(versions.len(), 2);
    assert_eq!(versions[0]["current"], true);
    assert_eq!(versions[1]["current"], false);
    for (entry, body) in versions.iter().zip([&two, &one]) {
        for key in [
            "id",
            "name",
            "size",
            "hash",
            "hash_algo",
            "created",
            "creator",
        ] {
            assert!(!entry[key].is_null(), "{key} in {entry}");
        }
        let vid = entry["id"].as_str().expect("id");
        let res = t
            .http
            .get(t.url(&node_path(&t, &n1, &format!("read/?version_id={vid}"))))
            .bearer_auth(KEY)
            .send()
            .await
            .expect("read");
        assert_eq!(sha256(&res.bytes().await.expect("bytes")), sha256(body));
        assert_eq!(entry["hash"], sha256(body));
    }
    let older = versions[1]["id"].as_str().expect("id");
    let (status, v) = t
        .post_form(
            &node_path(&t, &n1, "restore-version/"),
            &[("version_id", older)],
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{v}");
    assert_eq!(v["node"]["hash"], sha256(&one));
    assert_eq!(sha256(&bytes_of(&t, &n1).await), sha256(&one));
    let (_, v) = t.get(&node_path(&t, &n1, "versions/")).await;
    assert_eq!(
        v["versions"].as_array().expect("versions").len(),
        3,
        "history only grows"
    );
    assert_eq!(v["versions"][0]["hash"], sha256(&one));
    let (status, v) = t
        .post_form(
            &node_path(&t, &n1, "restore-version/"),
            &[("version_id", "nope")],
        )
        .await;
    assert_eq!((status, code(&v)), (StatusCode::NOT_FOUND, 1609), "{v}");
    let (status, _) = t
        .get(&node_path(&t, &n1, &format!("versions/{older}/restore/")))
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "no such route");
}

#[tokio::test]
async fn search_finds_by_part_of_a_name_in_any_case_and_pages_with_limit_and_offset() {
    let t = spawn().await;
    let dir = folder(&t, "root", "Quarterly").await;
    for i in 0..5 {
        upload(&t, &format!("Report-{i}.txt"), b"r", &dir).await;
    }
    upload(&t, "other.txt", b"o", "root").await;
    let path = |q: &str| format!("/workspace/{}/storage/search/?{q}", t.ws);
    let (status, v) = t.get(&path("search=rEpOrT&limit=2&offset=0")).await;
    assert_eq!(status, StatusCode::OK, "{v}");
    let files = v["files"].as_object().expect("shape A map");
    assert_eq!(files.len(), 2);
    assert_eq!(v["pagination"]["total"], 5);
    assert_eq!(v["pagination"]["has_more"], true);
    let mut seen: Vec<String> = files
        .values()
        .map(|e| e["name"].as_str().unwrap_or_default().to_owned())
        .collect();
    for (id, e) in files {
        assert!(e.get("id").is_none(), "the id is only the key");
        assert_eq!(e["parent_id"], dir.as_str());
        assert_eq!(details(&t, id).await.0, StatusCode::OK);
    }
    for offset in [2, 4] {
        let (_, v) = t
            .get(&path(&format!("search=report&limit=2&offset={offset}")))
            .await;
        seen.extend(
            v["files"]
                .as_object()
                .expect("map")
                .values()
                .map(|e| e["name"].as_str().unwrap_or_default().to_owned()),
        );
    }
    seen.sort();
    assert_eq!(
        seen,
        (0..5)
            .map(|i| format!("Report-{i}.txt"))
            .collect::<Vec<_>>()
    );

    let (_, b) = t.get(&path("search=report&details=true")).await;
    let results = b["results"].as_array().expect("shape B");
    assert_eq!(results.len(), 5);
    assert_eq!(b["pagination"]["limit"], 10, "details defaults to 10");
    assert!(results[0]["node_id"].is_string() && results[0]["node"]["id"].is_string());

    let victim = files.keys().next().expect("hit").clone();
    assert_eq!(
        t.delete(&node_path(&t, &victim, "delete/")).await.0,
        StatusCode::OK
    );
    let (_, v) = t.get(&path("search=report")).await;
    assert_eq!(
        v["files"][&victim]["deleted"], true,
        "trashed hits are flagged: {v}"
    );

    for bad in [
        "search=a",
        "search=",
        "limit=2",
        "search=report&limit=0",
        "search=report&limit=501",
    ] {
        let (status, v) = t.get(&path(bad)).await;
        assert_eq!(
            (status, code(&v)),
            (StatusCode::BAD_REQUEST, 1605),
            "{bad}: {v}"
        );
    }
    let long = "q".repeat(1001);
    let (status, _) = t.get(&path(&format!("search={long}"))).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn a_data_dir_from_before_trash_and_previews_opens_and_keeps_its_trash() {
    let dir = tempfile::tempdir().expect("tempdir");
    {
        let c = rusqlite::Connection::open(dir.path().join("emulator.sqlite")).expect("open");
        c.execute_batch(
            "CREATE TABLE meta(k TEXT PRIMARY KEY, v TEXT NOT NULL);
             CREATE TABLE workspaces(id TEXT PRIMARY KEY, name TEXT NOT NULL,
                 folder_name TEXT NOT NULL, created TEXT NOT NULL);
             CREATE TABLE nodes(id TEXT PRIMARY KEY, workspace_id TEXT NOT NULL,
                 parent TEXT NOT NULL, type TEXT NOT NULL, name TEXT NOT NULL,
                 size INTEGER NOT NULL DEFAULT 0, mimetype TEXT, hash TEXT, blob TEXT,
                 version TEXT NOT NULL, created TEXT NOT NULL, updated TEXT NOT NULL,
                 deleted INTEGER NOT NULL DEFAULT 0, deleted_from TEXT, origin_type TEXT,
                 upload_session TEXT);
             CREATE TABLE versions(node_id TEXT NOT NULL, version TEXT NOT NULL, blob TEXT,
                 size INTEGER NOT NULL, hash TEXT, created TEXT NOT NULL,
                 PRIMARY KEY(node_id, version));
             INSERT INTO workspaces VALUES ('4687730903718774523', 'General', 'general',
                 '2026-01-01 00:00:00 UTC');
             INSERT INTO nodes(id, workspace_id, parent, type, name, version, created, updated,
                 deleted, deleted_from) VALUES ('aaaaaaaaaaaaaaaaaaaaaaaaaaaaaa',
                 '4687730903718774523', 'root', 'folder', 'Old', 'v1', '2026-01-01 00:00:00 UTC',
                 '2026-01-01 00:00:00 UTC', 1, 'root');",
        )
        .expect("old schema");
    }
    let config = test_config(&dir);
    let t = start_on(dir, config).await;
    assert_eq!(t.ws, "4687730903718774523");
    assert_eq!(t.names("trash").await, ["Old"]);
    let (status, v) = t
        .post_form(
            &node_path(&t, "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", "restore/"),
            &[],
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{v}");
    assert_eq!(t.names("root").await, ["Old"]);
    let f = upload(&t, "new.txt", b"fresh", "root").await;
    let (_, d) = details(&t, &f).await;
    assert_eq!(d["node"]["previews"]["thumbnail"]["state"], "not possible");
}
