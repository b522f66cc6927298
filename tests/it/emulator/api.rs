//! Auth, routing, envelope, storage, shares and fault injection against the emulator, spoken as
//! raw HTTP from `fastio-api.md` §1–§6 and §11.

use std::time::Duration;

use crate::common::emulator::*;
use crate::common::payload::bytes;
use crate::common::wait_until;
use fastgate::emulator::{EnvelopeStyle, ExpiresFormat, HeaderStyle};
use reqwest::StatusCode;
use serde_json::Value;

#[tokio::test]
async fn a_wrong_or_missing_key_gets_401_with_code_10011_but_ping_needs_none() {
    let t = spawn().await;
    let (status, v) = json(
        t.http
            .get(t.url("/user/auth/check/"))
            .bearer_auth("nope")
            .send()
            .await
            .expect("send"),
    )
    .await;
    assert_eq!((status, code(&v)), (StatusCode::UNAUTHORIZED, 10011), "{v}");
    assert_eq!(v["result"], false);
    let (status, v) = json(
        t.http
            .get(t.url("/upload/limits/"))
            .send()
            .await
            .expect("send"),
    )
    .await;
    assert_eq!((status, code(&v)), (StatusCode::UNAUTHORIZED, 10011));
    let (status, v) = json(t.http.get(t.url("/ping/")).send().await.expect("send")).await;
    assert_eq!((status, &v["result"]), (StatusCode::OK, &Value::Bool(true)));
    let (status, v) = t.get("/user/auth/check/").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(v["id"].as_str().map(str::len), Some(19));
}

#[tokio::test]
async fn an_unknown_path_or_a_missing_trailing_slash_gets_404_with_code_9992() {
    let t = spawn().await;
    for path in ["/no/such/thing/", "/user/auth/check", "/ai/chat/"] {
        let (status, v) = t.get(path).await;
        assert_eq!(
            (status, code(&v)),
            (StatusCode::NOT_FOUND, 9992),
            "{path}: {v}"
        );
    }
}

#[tokio::test]
async fn every_response_carries_the_rate_limit_headers() {
    let t = spawn().await;
    let res = t.http.get(t.url("/ping/")).send().await.expect("send");
    let h = res.headers();
    assert!(
        h["x-ve-limit-avail"]
            .to_str()
            .expect("ascii")
            .parse::<u64>()
            .is_ok()
    );
    assert!(
        h["x-ve-limit-max"]
            .to_str()
            .expect("ascii")
            .parse::<u64>()
            .is_ok()
    );
    assert!(
        h["x-ve-limit-expires"]
            .to_str()
            .expect("ascii")
            .parse::<i64>()
            .is_ok()
    );
}

#[tokio::test]
async fn the_seeded_workspace_is_listed_and_a_non_member_workspace_gets_10545() {
    let t =
        spawn_with(|c| c.faults.not_member_workspaces = vec!["1234567890123456789".into()]).await;
    let (status, v) = t.get("/workspaces/all/?limit=100&offset=0").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(v["workspaces"][0]["id"], t.ws.as_str());
    assert_eq!(v["workspaces"][0]["name"], "General");
    assert_eq!(v["pagination"]["total"], 1);
    assert_eq!(t.ws.len(), 19);
    let (_, v) = t.get(&format!("/workspace/{}/details/", t.ws)).await;
    assert_eq!(v["workspace"]["name"], "General");
    let (status, v) = t
        .get("/workspace/1234567890123456789/storage/root/list/")
        .await;
    assert_eq!((status, code(&v)), (StatusCode::UNAUTHORIZED, 10545));
}

fn sort_key(n: &Value, sort_by: &str) -> String {
    let name = n["name"].as_str().unwrap_or_default().to_lowercase();
    match sort_by {
        "name" => name,
        "type" => format!("{}/{name}", n["type"].as_str().unwrap_or_default()),
        "updated" => n["updated"].as_str().unwrap_or_default().to_owned(),
        _ => n["created"].as_str().unwrap_or_default().to_owned(),
    }
}

#[tokio::test]
async fn listing_250_items_pages_completely_and_in_order_for_every_sort() {
    let t = spawn().await;
    let folder = format!("/workspace/{}/storage/root/createfolder/", t.ws);
    for batch in 0..24 {
        let creates = (0..10).map(|i| {
            let name = format!("Folder {:03}", (batch * 10 + i) * 7 % 240);
            let folder = folder.clone();
            let t = &t;
            async move { t.post_form(&folder, &[("name", name.as_str())]).await }
        });
        for (status, v) in futures_util::future::join_all(creates).await {
            assert_eq!(status, StatusCode::OK, "{v}");
        }
    }
    for i in 0..10 {
        let id = t.create_session(&format!("file {i}.txt"), 1, "root").await;
        assert_eq!(t.put_chunk(&id, 1, vec![b'x']).await.0, StatusCode::OK);
        assert_eq!(t.complete(&id).await.0, StatusCode::OK);
        assert_eq!(t.wait_terminal(&id).await["status"], "stored");
    }
    for sort_by in ["name", "updated", "created", "type"] {
        for dir in ["asc", "desc"] {
            let mut all: Vec<Value> = Vec::new();
            let mut cursor: Option<String> = None;
            let mut pages = 0;
            loop {
                let mut path = format!(
                    "/workspace/{}/storage/root/list/?sort_by={sort_by}&sort_dir={dir}&page_size=100",
                    t.ws
                );
                if let Some(c) = &cursor {
                    path.push_str(&format!("&cursor={c}"));
                }
                let (status, v) = t.get(&path).await;
                assert_eq!(status, StatusCode::OK, "{v}");
                all.extend(v["nodes"].as_array().expect("nodes").iter().cloned());
                pages += 1;
                match v["next_cursor"].as_str() {
                    Some(c) => cursor = Some(c.to_owned()),
                    None => break,
                }
            }
            assert_eq!(pages, 3, "{sort_by} {dir}");
            assert_eq!(all.len(), 250, "{sort_by} {dir}");
            let mut ids: Vec<&str> = all.iter().map(|n| n["id"].as_str().expect("id")).collect();
            ids.sort_unstable();
            ids.dedup();
            assert_eq!(ids.len(), 250, "duplicates for {sort_by} {dir}");
            let keys: Vec<String> = all.iter().map(|n| sort_key(n, sort_by)).collect();
            let mut sorted = keys.clone();
            sorted.sort();
            if dir == "desc" {
                sorted.reverse();
            }
            assert_eq!(keys, sorted, "{sort_by} {dir}");
        }
    }
}

#[tokio::test]
async fn a_page_size_other_than_100_250_or_500_gets_400_with_code_1605() {
    let t = spawn().await;
    let (status, v) = t
        .get(&format!(
            "/workspace/{}/storage/root/list/?page_size=7",
            t.ws
        ))
        .await;
    assert_eq!((status, code(&v)), (StatusCode::BAD_REQUEST, 1605), "{v}");
}

#[tokio::test]
async fn createfolder_is_idempotent_unless_forced_and_delete_moves_to_trash() {
    let t = spawn().await;
    let path = format!("/workspace/{}/storage/root/createfolder/", t.ws);
    let (_, a) = t.post_form(&path, &[("name", "Docs")]).await;
    let (_, b) = t.post_form(&path, &[("name", "Docs")]).await;
    assert_eq!(a["node"]["id"], b["node"]["id"]);
    let (_, c) = t
        .post_form(&path, &[("name", "Docs"), ("force", "true")])
        .await;
    assert_ne!(a["node"]["id"], c["node"]["id"]);
    assert_eq!(c["node"]["name"], "Docs (2)");
    let id = a["node"]["id"].as_str().expect("id");
    let (status, _) = t
        .delete(&format!("/workspace/{}/storage/{id}/delete/", t.ws))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(t.names("root").await, vec!["Docs (2)"]);
    assert_eq!(t.names("trash").await, vec!["Docs"]);
}

#[tokio::test]
async fn the_rate_limit_answers_429_with_headers_and_recovers_after_expiry() {
    let t = spawn().await;
    t.emu.faults().set_rate_limit(3, Duration::from_secs(1));
    for _ in 0..3 {
        assert_eq!(t.get("/user/auth/check/").await.0, StatusCode::OK);
    }
    let res = t
        .http
        .get(t.url("/user/auth/check/"))
        .bearer_auth(KEY)
        .send()
        .await
        .expect("send");
    assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);
    let h = res.headers().clone();
    assert_eq!(h["x-ve-limit-avail"], "0");
    assert_eq!(h["x-ve-limit-max"], "3");
    let expires: i64 = h["x-ve-limit-expires"]
        .to_str()
        .expect("ascii")
        .parse()
        .expect("epoch");
    let (_, v) = json(res).await;
    assert_eq!(code(&v), 10368);
    // Other families have their own bucket.
    assert_eq!(t.get("/upload/limits/").await.0, StatusCode::OK);
    // Honour the reset time, as a client must.
    let wait = (expires - chrono::Utc::now().timestamp()).max(0) as u64;
    tokio::time::sleep(Duration::from_millis(wait * 1000 + 100)).await;
    wait_until("the bucket to refill", Duration::from_secs(2), || async {
        match t.get("/user/auth/check/").await.0 {
            StatusCode::OK => Ok(()),
            other => Err(other),
        }
    })
    .await;
}

#[tokio::test]
async fn injected_5xx_and_nth_request_429_faults_hit_and_then_go_away() {
    let t = spawn().await;
    t.emu.faults().set_error_rate(1.0);
    let res = t.http.get(t.url("/ping/")).send().await.expect("send");
    assert!([502, 503, 504].contains(&res.status().as_u16()));
    let body = res.text().await.expect("text");
    assert!(body.is_empty() || body.contains("<html>"));
    t.emu.faults().set_error_rate(0.0);
    assert_eq!(t.get("/ping/").await.0, StatusCode::OK);

    t.emu
        .faults()
        .fail_nth_with_429("/current/upload/limits/", 2);
    assert_eq!(t.get("/upload/limits/").await.0, StatusCode::OK);
    let (status, v) = t.get("/upload/limits/").await;
    assert_eq!((status, code(&v)), (StatusCode::TOO_MANY_REQUESTS, 10368));
    assert_eq!(t.get("/upload/limits/").await.0, StatusCode::OK);
    let stats = t.emu.stats();
    assert_eq!(stats.count("GET", "/current/upload/limits/", 429), 1);
    assert_eq!(stats.count("GET", "/current/upload/limits/", 200), 2);
}

#[tokio::test]
async fn a_file_share_link_downloads_without_any_key_and_quickshare_is_closed() {
    let t = spawn().await;
    let body = bytes(5000, 21);
    let id = t.create_session("shared.txt", body.len(), "root").await;
    assert_eq!(t.put_chunk(&id, 1, body.clone()).await.0, StatusCode::OK);
    assert_eq!(t.complete(&id).await.0, StatusCode::OK);
    let node = t.wait_terminal(&id).await["new_file_id"]
        .as_str()
        .expect("id")
        .to_owned();

    let path = format!("/workspace/{}/create/fileshare/", t.ws);
    let (status, v) = t
        .post_form(
            &path,
            &[
                ("node", &node),
                ("expires", "60"),
                ("expires_at", "2030-01-01 00:00:00"),
            ],
        )
        .await;
    assert_eq!((status, code(&v)), (StatusCode::BAD_REQUEST, 1605));
    let (status, v) = t
        .post_form(&path, &[("node", &node), ("expires", "3600")])
        .await;
    assert_eq!(status, StatusCode::OK, "{v}");
    let share = &v["fileshare"];
    assert_eq!(share["fileshare"].as_str().map(str::len), Some(19));
    assert_eq!(share["file"]["id"], node.as_str());
    assert_eq!(share["file"]["name"], "shared.txt");
    assert_eq!(share["file"]["size"], body.len());
    let url = share["web_url"].as_str().expect("web_url");
    let res = reqwest::get(url).await.expect("get");
    assert_eq!(res.status(), StatusCode::OK);
    assert!(
        res.headers()["content-disposition"]
            .to_str()
            .expect("ascii")
            .starts_with("attachment")
    );
    assert_eq!(res.bytes().await.expect("bytes").as_ref(), body.as_slice());

    let (status, v) = t
        .post_form(
            &format!("/workspace/{}/storage/{node}/quickshare/", t.ws),
            &[],
        )
        .await;
    assert_eq!((status, code(&v)), (StatusCode::FORBIDDEN, 10756));
}

#[tokio::test]
async fn bulk_details_report_found_nodes_and_per_id_errors() {
    let t = spawn().await;
    let (_, v) = t
        .post_form(
            &format!("/workspace/{}/storage/root/createfolder/", t.ws),
            &[("name", "A")],
        )
        .await;
    let a = v["node"]["id"].as_str().expect("id");
    let missing = "zzzzzzzzzzzzzzzzzzzzzzzzzzzzzz";
    let (status, v) = t
        .get(&format!(
            "/workspace/{}/storage/{a},{missing}/details/",
            t.ws
        ))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(v["format"], "multi");
    assert_eq!(v["node_count"], 1);
    assert_eq!(v["errors"][0]["code"], 133123);
    let (status, v) = t
        .get(&format!("/workspace/{}/storage/{missing}/details/", t.ws))
        .await;
    assert_eq!((status, code(&v)), (StatusCode::NOT_FOUND, 1609));
}

#[tokio::test]
async fn the_legacy_envelope_and_header_switches_produce_the_old_shapes() {
    let t = spawn_with(|c| {
        c.envelope = EnvelopeStyle::legacy();
        c.headers = HeaderStyle {
            legacy_names: true,
            expires: ExpiresFormat::Datetime,
        };
    })
    .await;
    let res = t
        .http
        .get(t.url("/user/auth/check/"))
        .bearer_auth(KEY)
        .send()
        .await
        .expect("send");
    let expiry = res.headers()["x-rate-limit-expiry"]
        .to_str()
        .expect("ascii")
        .to_owned();
    assert!(expiry.ends_with(" UTC") && expiry.len() == 23, "{expiry}");
    assert!(res.headers().get("x-ve-limit-avail").is_none());
    let (_, v) = json(res).await;
    assert_eq!(v["result"], "yes");
    assert_eq!(v["response"]["id"].as_str().map(str::len), Some(19));
    let (_, v) = t.get("/nope/").await;
    assert_eq!(v["result"], "no");
    assert_eq!(v["error"]["code"], "9992");
    assert!(v["error"]["message"].is_string());
}
