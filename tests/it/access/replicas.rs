//! Two replicas on one PostgreSQL: the sign-in throttle, sessions, sign-out and disabling a
//! user hold on both at once, because the database is the only truth.

use reqwest::StatusCode;
use serde_json::json;

use super::signin::{session_cookie, sign_in, with_cookie};
use crate::common::postgres::fresh_database;
use crate::common::{ADMIN_PASSWORD, spawn_app_with, spawn_second_gateway};

#[tokio::test(flavor = "multi_thread")]
async fn the_sign_in_throttle_is_shared_by_replicas_on_postgresql() {
    let url = fresh_database().await;
    let vars = [
        ("FASTGATE_DATABASE_URL", url.as_str()),
        ("FASTGATE_SECRET", SECRET),
    ];
    let a = spawn_app_with(&vars, |_| {}).await;
    let b = spawn_second_gateway(&a, &vars).await;
    for _ in 0..5 {
        assert_eq!(
            sign_in(&a.anonymous(), "admin", "wrong-password")
                .await
                .status,
            401
        );
    }
    let r = sign_in(&b.anonymous(), "admin", ADMIN_PASSWORD).await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS, "{}", r.text());
    assert!(r.header("retry-after").is_some());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_session_signed_out_or_disabled_on_one_replica_is_refused_on_the_other() {
    let url = fresh_database().await;
    let vars = [
        ("FASTGATE_DATABASE_URL", url.as_str()),
        ("FASTGATE_SECRET", SECRET),
    ];
    let a = spawn_app_with(&vars, |_| {}).await;
    let b = spawn_second_gateway(&a, &vars).await;
    let signed = sign_in(&a.anonymous(), "admin", ADMIN_PASSWORD).await;
    assert_eq!(signed.status, StatusCode::SEE_OTHER, "{}", signed.text());
    let cookie = session_cookie(&signed);
    let on_a = with_cookie(&a, &cookie);
    let on_b = with_cookie(&b, &cookie);
    assert_eq!(
        on_b.get("/api/workspaces").await.status,
        200,
        "b knows a's session"
    );
    let out = on_a
        .send(
            on_a.client
                .post(format!("{}/signout", a.url))
                .header("origin", a.origin()),
        )
        .await;
    assert_eq!(out.status, StatusCode::SEE_OTHER);
    assert_eq!(
        on_b.get("/api/workspaces").await.status,
        401,
        "signed out everywhere"
    );

    let made = a
        .send(a.client.post(format!("{}/api/users", a.url)).json(&json!({
            "username": "eve", "password": "eve-password-1", "role": "viewer"
        })))
        .await;
    assert_eq!(made.status, StatusCode::CREATED, "{}", made.text());
    let eve = with_cookie(
        &b,
        &session_cookie(&sign_in(&b.anonymous(), "eve", "eve-password-1").await),
    );
    assert_eq!(eve.get("/api/workspaces").await.status, 200);
    let disabled = a
        .send(
            a.client
                .patch(format!("{}/api/users/eve", a.url))
                .json(&json!({"disabled": true})),
        )
        .await;
    assert_eq!(disabled.status, StatusCode::OK, "{}", disabled.text());
    assert_eq!(
        eve.get("/api/workspaces").await.status,
        401,
        "disabled on a, refused on b"
    );
}

const SECRET: &str = "replica-secret-0123456789abcdef0123456789abcdef";
