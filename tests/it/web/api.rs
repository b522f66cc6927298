//! The JSON listing API over real HTTP against the real emulator: the contract's fields, paging
//! that gives every item exactly once in order whatever `limit`, sort and order are, the one
//! JSON error shape for bad parameters, 404 for what is not exposed or not there, and upstream
//! failures mapped (429 with Retry-After, a refused key and 5xx as 502).

use std::collections::HashSet;
use std::time::Duration;

use crate::common::{Gateway, spawn_app, spawn_app_with};
use futures_util::{StreamExt, stream};
use serde_json::Value;

/// Every page of a listing, following `next_cursor`.
async fn all_pages(app: &Gateway, query: &str) -> Vec<Value> {
    let mut items = Vec::new();
    let mut cursor: Option<String> = None;
    for _ in 0..1000 {
        let mut url = format!("/api/files/{}/root?{query}", app.workspace);
        if let Some(c) = &cursor {
            url.push_str(&format!("&cursor={c}"));
        }
        let r = app.get(&url).await;
        assert_eq!(r.status, 200, "{url}: {}", r.text());
        let body = r.json();
        items.extend(body["items"].as_array().expect("items").iter().cloned());
        match body["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => return items,
        }
    }
    panic!("paging never ended for {query}");
}

#[tokio::test(flavor = "multi_thread")]
async fn listing_has_the_contract_fields_and_exact_sizes() {
    let app = spawn_app().await;
    let folder = app.put_folder("root", "Docs").await;
    app.put_file("root", "a.txt", b"hello").await;
    app.put_file(&folder, "inner.bin", &[7u8; 1234]).await;

    let r = app.get(&format!("/api/files/{}", app.workspace)).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-type"), Some("application/json"));
    let body = r.json();
    assert_eq!(body["workspace"], app.workspace.as_str());
    assert_eq!(body["folder"]["id"], "root");
    assert_eq!(body["folder"]["name"], "General");
    assert_eq!(body["next_cursor"], Value::Null);
    let items = body["items"].as_array().expect("items");
    assert_eq!(items.len(), 2);
    let file = items.iter().find(|i| i["name"] == "a.txt").expect("a.txt");
    assert_eq!(file["type"], "file");
    assert_eq!(file["size"], 5);
    assert_eq!(file["mime"], "text/plain");
    for key in ["id", "created", "modified"] {
        assert!(file[key].is_string(), "{key}: {file}");
    }
    chrono::DateTime::parse_from_rfc3339(file["modified"].as_str().expect("time"))
        .expect("rfc3339");
    let dir = items.iter().find(|i| i["name"] == "Docs").expect("Docs");
    assert_eq!(dir["type"], "folder");
    assert_eq!(dir["id"], folder.as_str());

    let r = app
        .get(&format!("/api/files/{}/{}", app.workspace, folder))
        .await;
    assert_eq!(r.status, 200);
    let body = r.json();
    assert_eq!(body["folder"]["name"], "Docs");
    assert_eq!(body["items"][0]["name"], "inner.bin");
    assert_eq!(body["items"][0]["size"], 1234);
}

#[tokio::test(flavor = "multi_thread")]
async fn every_item_comes_exactly_once_and_in_order_whatever_limit_sort_and_order() {
    let app = spawn_app().await;
    // 250 children, folders and files interleaved in name order.
    stream::iter(0..250)
        .map(|i| {
            let app = &app;
            async move {
                if i % 5 == 0 {
                    app.put_folder("root", &format!("item-{i:03}-dir")).await;
                } else {
                    app.put_file("root", &format!("Item-{i:03}.txt"), &vec![b'x'; i])
                        .await;
                }
            }
        })
        .buffer_unordered(16)
        .collect::<Vec<()>>()
        .await;

    for sort in ["name", "modified", "created", "type"] {
        for order in ["asc", "desc"] {
            // The reference: one request of 500 is one upstream page, in Fast.io's order.
            let whole = all_pages(&app, &format!("limit=500&sort={sort}&order={order}")).await;
            assert_eq!(whole.len(), 250, "{sort} {order}");
            let ids: Vec<&str> = whole
                .iter()
                .map(|i| i["id"].as_str().expect("id"))
                .collect();
            assert_eq!(ids.iter().collect::<HashSet<_>>().len(), 250);
            assert_sorted(&whole, sort, order);
            for limit in [7, 100, 250] {
                let paged =
                    all_pages(&app, &format!("limit={limit}&sort={sort}&order={order}")).await;
                let paged_ids: Vec<&str> = paged
                    .iter()
                    .map(|i| i["id"].as_str().expect("id"))
                    .collect();
                assert_eq!(paged_ids, ids, "limit {limit}, {sort} {order}");
            }
        }
    }
    // The default page is 100 items by name, ascending.
    let r = app
        .get(&format!("/api/files/{}", app.workspace))
        .await
        .json();
    assert_eq!(r["items"].as_array().map(Vec::len), Some(100));
    assert_eq!(r["items"][0]["name"], "item-000-dir");
    assert_eq!(r["items"][1]["name"], "Item-001.txt");
}

fn assert_sorted(items: &[Value], sort: &str, order: &str) {
    let key = |i: &Value| -> String {
        match sort {
            "name" => i["name"].as_str().unwrap_or("").to_lowercase(),
            "modified" => i["modified"].as_str().unwrap_or("").to_owned(),
            "created" => i["created"].as_str().unwrap_or("").to_owned(),
            _ => i["type"].as_str().unwrap_or("").to_owned(),
        }
    };
    for pair in items.windows(2) {
        let (a, b) = (key(&pair[0]), key(&pair[1]));
        let ok = if order == "asc" { a <= b } else { a >= b };
        assert!(ok, "{sort} {order}: {a:?} then {b:?}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_query_parameters_are_400_with_the_one_json_error_shape() {
    let app = spawn_app().await;
    for i in 0..3 {
        app.put_file("root", &format!("f{i}.txt"), b"x").await;
    }
    let first = app
        .get(&format!("/api/files/{}?limit=1&sort=name", app.workspace))
        .await
        .json();
    let cursor = first["next_cursor"].as_str().expect("cursor").to_owned();
    let (body, sig) = cursor.split_once('.').expect("two parts");
    let tampered = format!("{}A.{sig}", &body[..body.len() - 1]);
    let ws = &app.workspace;
    for query in [
        "limit=0".to_owned(),
        "limit=501".into(),
        "limit=ten".into(),
        "limit=-1".into(),
        "sort=size".into(),
        "order=up".into(),
        format!("cursor={tampered}"),
        "cursor=not-ours".into(),
        // A cursor is bound to its sort and order.
        format!("limit=1&sort=modified&cursor={cursor}"),
        format!("limit=1&sort=name&order=desc&cursor={cursor}"),
    ] {
        let r = app.get(&format!("/api/files/{ws}/root?{query}")).await;
        assert_eq!(r.status, 400, "{query}: {}", r.text());
        let body = r.json();
        assert_eq!(body["error"]["code"], "bad_request", "{query}");
        assert!(
            body["error"]["message"]
                .as_str()
                .is_some_and(|m| !m.is_empty())
        );
    }
    // The cursor is also bound to its folder.
    let other = app.put_folder("root", "Other").await;
    let r = app
        .get(&format!(
            "/api/files/{ws}/{}?limit=1&cursor={cursor}",
            other
        ))
        .await;
    assert_eq!(r.status, 400);
}

#[tokio::test(flavor = "multi_thread")]
async fn unexposed_workspaces_and_unknown_folders_are_404() {
    let app = spawn_app_with(&[("FASTGATE_WORKSPACES", "1234567890123456789")], |_| {}).await;
    let ws = &app.workspace;
    let r = app.get("/api/workspaces").await;
    assert_eq!(r.status, 200);
    assert_eq!(r.json(), serde_json::json!({"items": []}));
    for path in [format!("/api/files/{ws}"), format!("/api/files/{ws}/root")] {
        let r = app.get(&path).await;
        assert_eq!(r.status, 404, "{path}");
        assert_eq!(r.json()["error"]["code"], "not_found");
    }

    let app = spawn_app().await;
    let ws = &app.workspace;
    let r = app.get("/api/workspaces").await.json();
    assert_eq!(
        r,
        serde_json::json!({"items": [{"id": ws, "name": "General"}]})
    );
    let file = app.put_file("root", "plain.txt", b"x").await;
    for path in [
        format!("/api/files/{ws}/nosuchfolder"),
        format!("/api/files/{ws}/{file}"),
        "/api/files/9999999999999999999/root".to_owned(),
    ] {
        let r = app.get(&path).await;
        assert_eq!(r.status, 404, "{path}: {}", r.text());
        assert_eq!(r.json()["error"]["code"], "not_found");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn an_upstream_rate_limit_is_a_429_with_retry_after() {
    let app = spawn_app().await;
    app.emulator
        .faults()
        .set_rate_limit(1, Duration::from_secs(600));
    // The first call may pass; the bucket is empty after it.
    let mut limited = None;
    for _ in 0..3 {
        let r = app.get(&format!("/api/files/{}", app.workspace)).await;
        if r.status == 429 {
            limited = Some(r);
            break;
        }
    }
    let r = limited.expect("a 429");
    assert_eq!(r.json()["error"]["code"], "rate_limited");
    let wait: u64 = r
        .header("retry-after")
        .expect("Retry-After")
        .parse()
        .expect("seconds");
    assert!((1..=600).contains(&wait), "{wait}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_refused_api_key_is_a_502_that_names_the_operator() {
    let app = spawn_app_with(&[], |c| c.api_key = "another-key".into()).await;
    let r = app.get(&format!("/api/files/{}", app.workspace)).await;
    assert_eq!(r.status, 502);
    let body = r.json();
    assert_eq!(body["error"]["code"], "upstream_auth");
    assert!(
        body["error"]["message"]
            .as_str()
            .expect("message")
            .contains("operator")
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn upstream_server_errors_are_502() {
    let app = spawn_app().await;
    app.emulator.faults().set_error_rate(1.0);
    let r = app.get(&format!("/api/files/{}", app.workspace)).await;
    assert!(matches!(r.status.as_u16(), 502 | 503), "{}", r.status);
    assert!(r.json()["error"]["code"].is_string());
    app.emulator.faults().set_error_rate(0.0);
    let r = app.get(&format!("/api/files/{}", app.workspace)).await;
    assert_eq!(r.status, 200);
}
