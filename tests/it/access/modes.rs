//! The other two modes: `proxy` believes the identity header only from a trusted proxy, `open`
//! lets anyone in and says so on every page.

use reqwest::StatusCode;

use crate::common::spawn_app_with;

#[tokio::test(flavor = "multi_thread")]
async fn in_proxy_mode_a_trusted_proxy_names_the_user_and_gets_the_default_role() {
    let gw = spawn_app_with(
        &[
            ("FASTGATE_AUTH", "proxy"),
            ("FASTGATE_TRUSTED_PROXIES", "127.0.0.1/32"),
            ("FASTGATE_PROXY_DEFAULT_ROLE", "viewer"),
        ],
        |_| {},
    )
    .await;
    let visitor = gw.anonymous();
    let listing = format!("{}/api/files/{}/root", gw.url, gw.workspace);
    let named = visitor
        .send(visitor.client.get(&listing).header("Remote-User", "Alice"))
        .await;
    assert_eq!(named.status, StatusCode::OK, "{}", named.text());
    let upload = visitor
        .send(
            visitor
                .client
                .post(format!("{}/api/uploads", gw.url))
                .header("Remote-User", "alice")
                .json(&serde_json::json!({"workspace": gw.workspace, "name": "a.bin", "size": 4})),
        )
        .await;
    assert_eq!(upload.status, StatusCode::FORBIDDEN, "a viewer by default");
    let unnamed = visitor.send(visitor.client.get(&listing)).await;
    assert_eq!(unnamed.status, StatusCode::UNAUTHORIZED);
    // API tokens still work next to the proxy.
    assert_eq!(
        gw.get(&format!("/api/files/{}/root", gw.workspace))
            .await
            .status,
        200
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn in_proxy_mode_the_header_from_an_untrusted_peer_is_ignored() {
    let gw = spawn_app_with(
        &[
            ("FASTGATE_AUTH", "proxy"),
            // The tests' peer is 127.0.0.1: not this proxy.
            ("FASTGATE_TRUSTED_PROXIES", "10.0.0.0/8"),
            ("FASTGATE_PROXY_DEFAULT_ROLE", "admin"),
        ],
        |_| {},
    )
    .await;
    let visitor = gw.anonymous();
    let r = visitor
        .send(
            visitor
                .client
                .get(format!("{}/api/users", gw.url))
                .header("Remote-User", "admin"),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{}", r.text());
}

#[tokio::test(flavor = "multi_thread")]
async fn open_mode_lets_anyone_browse_and_upload_and_every_page_says_so() {
    let gw = spawn_app_with(&[("FASTGATE_AUTH", "open")], |_| {}).await;
    let visitor = gw.anonymous();
    let page = visitor.get(&format!("/w/{}/root", gw.workspace)).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.text().contains("Open mode"), "the banner");
    assert!(page.text().contains("?/upload"), "the upload form");
    let missing = visitor.get("/w/no-such-workspace/root").await;
    assert!(missing.text().contains("Open mode"), "error pages too");
    assert_eq!(visitor.get("/api/users").await.status, 403, "but no admin");
}
