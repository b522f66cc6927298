//! Durability and consistency against the emulator: a restart in the middle of assembly, keyset
//! listings under concurrent writes, versions kept by overwrites, and redirected reads that must
//! arrive without `Authorization` (§6.1, §6.3, §11).

use std::collections::HashSet;
use std::time::Duration;

use crate::common::emulator::*;
use crate::common::payload::{bytes, sha256_hex};
use reqwest::StatusCode;

#[tokio::test]
async fn a_restart_during_assembly_resumes_the_state_machine_to_stored() {
    // Slow steps so the shutdown lands while the session is between `assemble` and `stored`.
    let t = spawn_with(|c| c.step_delay = (Duration::from_millis(400), Duration::from_millis(400)))
        .await;
    let body = bytes(MIB + 5, 41);
    let id = t.create_session("mid.bin", body.len(), "root").await;
    assert_eq!(
        t.put_chunk(&id, 1, body[..MIB].to_vec()).await.0,
        StatusCode::OK
    );
    assert_eq!(
        t.put_chunk(&id, 2, body[MIB..].to_vec()).await.0,
        StatusCode::OK
    );
    assert_eq!(t.complete(&id).await.0, StatusCode::OK);
    let TestEmu { emu, dir, .. } = t;
    emu.shutdown().await;
    let config = test_config(&dir);
    let t = start_on(dir, config).await;
    let (_, v) = t.get(&format!("/upload/{id}/details/")).await;
    assert_ne!(v["session"]["status"], "stored", "{v}");
    let session = t.wait_terminal(&id).await;
    assert_eq!(session["status"], "stored", "{session}");
    let res = t
        .download(session["new_file_id"].as_str().expect("id"), None)
        .await;
    assert_eq!(res.bytes().await.expect("bytes").as_ref(), body.as_slice());
}

#[tokio::test]
async fn a_keyset_listing_neither_skips_nor_repeats_items_while_the_folder_changes() {
    let t = spawn().await;
    let create = format!("/workspace/{}/storage/root/createfolder/", t.ws);
    for i in 0..150 {
        let name = format!("M {i:03}");
        assert_eq!(
            t.post_form(&create, &[("name", &name)]).await.0,
            StatusCode::OK
        );
    }
    let list = format!(
        "/workspace/{}/storage/root/list/?sort_by=name&page_size=100",
        t.ws
    );
    let (_, first) = t.get(&list).await;
    let cursor = first["next_cursor"].as_str().expect("cursor").to_owned();
    // Writes between pages: some sort before the cursor, some after, one is deleted.
    for name in ["A early", "Z late", "M 050x"] {
        assert_eq!(
            t.post_form(&create, &[("name", name)]).await.0,
            StatusCode::OK
        );
    }
    let (_, second) = t.get(&format!("{list}&cursor={cursor}")).await;
    let mut seen = HashSet::new();
    for n in first["nodes"]
        .as_array()
        .into_iter()
        .chain(second["nodes"].as_array())
        .flatten()
    {
        assert!(
            seen.insert(n["name"].as_str().expect("name").to_owned()),
            "repeated {n}"
        );
    }
    for i in 0..150 {
        assert!(seen.contains(&format!("M {i:03}")), "M {i:03} skipped");
    }
    assert!(seen.contains("Z late"));
    assert!(!seen.contains("A early"));
}

#[tokio::test]
async fn an_overwrite_keeps_the_old_content_as_a_version() {
    let t = spawn().await;
    let mut node = String::new();
    for content in [b"one".as_slice(), b"two two"] {
        let id = t.create_session("v.txt", content.len(), "root").await;
        assert_eq!(
            t.put_chunk(&id, 1, content.to_vec()).await.0,
            StatusCode::OK
        );
        assert_eq!(t.complete(&id).await.0, StatusCode::OK);
        node = t.wait_terminal(&id).await["new_file_id"]
            .as_str()
            .expect("id")
            .to_owned();
    }
    let (_, v) = t
        .get(&format!("/workspace/{}/storage/{node}/versions/", t.ws))
        .await;
    let versions = v["versions"].as_array().expect("versions");
    assert_eq!(versions.len(), 2, "{v}");
    assert_eq!(versions[0]["current"], true);
    assert_eq!(versions[0]["size"], 7);
    assert_eq!(versions[1]["hash"], sha256_hex(b"one"));
    let old = versions[1]["version"].as_str().expect("version");
    let res = t
        .http
        .get(t.url(&format!(
            "/workspace/{}/storage/{node}/read/?version_id={old}",
            t.ws
        )))
        .bearer_auth(KEY)
        .send()
        .await
        .expect("send");
    assert_eq!(res.bytes().await.expect("bytes").as_ref(), b"one");
}

#[tokio::test]
async fn a_redirected_read_reaches_the_second_origin_without_authorization() {
    let t = spawn().await;
    let body = bytes(70_000, 42);
    let id = t.create_session("r.bin", body.len(), "root").await;
    assert_eq!(t.put_chunk(&id, 1, body.clone()).await.0, StatusCode::OK);
    assert_eq!(t.complete(&id).await.0, StatusCode::OK);
    let node = t.wait_terminal(&id).await["new_file_id"]
        .as_str()
        .expect("id")
        .to_owned();
    t.emu.faults().update(|f| f.redirect_reads = true);
    // With the Bearer header (as the CLI's raw read does); reqwest drops it across origins.
    let res = t
        .http
        .get(t.url(&format!("/workspace/{}/storage/{node}/read/", t.ws)))
        .bearer_auth(KEY)
        .send()
        .await
        .expect("send");
    assert_eq!(res.status(), StatusCode::OK);
    assert!(
        res.url().as_str().starts_with("http://localhost:"),
        "{}",
        res.url()
    );
    assert_eq!(res.bytes().await.expect("bytes").as_ref(), body.as_slice());
    let stats = t.emu.stats();
    assert_eq!(
        (stats.cdn_reads, stats.cdn_reads_with_authorization),
        (1, 0)
    );
}
