//! Sign-in, sign-out, cookies, the throttle and first-run setup, through the pages as a browser
//! would post them.

use reqwest::StatusCode;

use crate::common::{ADMIN_PASSWORD, Gateway, Recorded, TestApp, spawn_app, spawn_app_with};

/// Posts the sign-in form as `username`/`password` from `app`'s origin.
pub async fn sign_in(app: &TestApp, username: &str, password: &str) -> Recorded {
    app.send(
        app.client
            .post(format!("{}/signin", app.url))
            .header("origin", app.origin())
            .form(&[
                ("username", username),
                ("password", password),
                ("next", "/api/workspaces"),
            ]),
    )
    .await
}

/// The `name=value` of the response's session cookie.
pub fn session_cookie(r: &Recorded) -> String {
    let set = r
        .header("set-cookie")
        .unwrap_or_else(|| panic!("no cookie: {}", r.text()));
    set.split(';').next().unwrap_or_default().to_owned()
}

/// A cookie-less client of `gw` that sends `cookie` with every request.
pub fn with_cookie(app: &TestApp, cookie: &str) -> TestApp {
    let mut headers = reqwest::header::HeaderMap::new();
    headers.insert(
        reqwest::header::COOKIE,
        cookie.parse().expect("cookie header"),
    );
    app.with_client(
        reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .default_headers(headers)
            .build()
            .expect("client"),
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn signing_in_sets_an_http_only_lax_cookie_that_opens_the_api_until_sign_out() {
    let gw = spawn_app().await;
    let anonymous = gw.anonymous();
    let r = sign_in(&anonymous, "admin", ADMIN_PASSWORD).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text());
    assert_eq!(r.header("location"), Some("/api/workspaces"));
    let set = r.header("set-cookie").expect("cookie");
    assert!(
        set.starts_with("fastgate="),
        "plain http uses the plain name: {set}"
    );
    for flag in ["HttpOnly", "SameSite=Lax", "Path=/"] {
        assert!(set.contains(flag), "{flag} in {set}");
    }
    assert!(!set.contains("Secure"), "no Secure on plain http: {set}");
    let signed_in = with_cookie(&anonymous, &session_cookie(&r));
    let listing = signed_in.get("/api/workspaces").await;
    assert_eq!(listing.status, StatusCode::OK, "{}", listing.text());
    assert_eq!(listing.json()["items"][0]["id"], gw.workspace.as_str());

    let out = signed_in
        .send(
            signed_in
                .client
                .post(format!("{}/signout", gw.url))
                .header("origin", gw.origin()),
        )
        .await;
    assert_eq!(out.status, StatusCode::SEE_OTHER);
    assert_eq!(out.header("location"), Some("/signin"));
    assert!(
        out.header("set-cookie")
            .is_some_and(|c| c.contains("Max-Age=0"))
    );
    let after = signed_in.get("/api/workspaces").await;
    assert_eq!(after.status, StatusCode::UNAUTHORIZED, "the session ended");
}

#[tokio::test(flavor = "multi_thread")]
async fn on_an_https_public_url_the_cookie_is_host_prefixed_and_secure() {
    let gw = spawn_app_with(
        &[("FASTGATE_PUBLIC_URL", "https://files.example.com")],
        |_| {},
    )
    .await;
    let r = gw
        .anonymous()
        .send(
            gw.anonymous()
                .client
                .post(format!("{}/signin", gw.url))
                .header("origin", "https://files.example.com")
                .form(&[("username", "admin"), ("password", ADMIN_PASSWORD)]),
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text());
    let set = r.header("set-cookie").expect("cookie");
    assert!(set.starts_with("__Host-fastgate="), "{set}");
    for flag in ["Secure", "HttpOnly", "SameSite=Lax", "Path=/"] {
        assert!(set.contains(flag), "{flag} in {set}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_wrong_name_and_a_wrong_password_get_the_same_answer_and_five_failures_throttle() {
    let gw = spawn_app().await;
    let anonymous = gw.anonymous();
    let unknown = sign_in(&anonymous, "nobody", "whatever-it-is").await;
    let wrong = sign_in(&anonymous, "admin", "not-the-password").await;
    assert_eq!(unknown.status, StatusCode::UNAUTHORIZED);
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
    assert!(unknown.header("set-cookie").is_none() && wrong.header("set-cookie").is_none());
    let message = |r: &Recorded| {
        let text = r.text();
        let start = text.find("role=\"alert\">").expect("an alert");
        text[start..]
            .split('<')
            .next()
            .unwrap_or_default()
            .to_owned()
    };
    assert_eq!(message(&unknown), message(&wrong), "one message for both");
    // Five failures from this IP in all: the two above and three more.
    for _ in 0..3 {
        assert_eq!(
            sign_in(&anonymous, "admin", "still-wrong").await.status,
            401
        );
    }
    let throttled = sign_in(&anonymous, "admin", ADMIN_PASSWORD).await;
    assert_eq!(
        throttled.status,
        StatusCode::TOO_MANY_REQUESTS,
        "even the right password waits"
    );
    let retry: u64 = throttled
        .header("retry-after")
        .and_then(|v| v.parse().ok())
        .expect("Retry-After");
    assert!((1..=15 * 60).contains(&retry), "{retry}");
    assert_failures_audited(&gw, 5).await;
}

async fn assert_failures_audited(gw: &Gateway, at_least: usize) {
    let r = gw.get("/api/audit?action=sign_in_failed&limit=50").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let items = r.json()["items"].as_array().cloned().unwrap_or_default();
    assert!(items.len() >= at_least, "{items:?}");
    assert!(items.iter().all(|i| i["ip"] == "127.0.0.1"), "{items:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_setup_link_creates_the_first_admin_once() {
    let gw = spawn_app().await;
    // A gateway of its own with no admin yet: its access database is fresh.
    let dir = tempfile::tempdir().expect("tempdir");
    let (router, state) = crate::common::build_gateway(
        "http://127.0.0.1:1",
        &gw.emulator.base_url(),
        &gw.key,
        dir.path(),
        vec![],
    )
    .await;
    drop(router);
    let token = {
        use secrecy::ExposeSecret as _;
        let token = state
            .access
            .issue_setup_token()
            .await
            .expect("db")
            .expect("no admin yet");
        token.expose_secret().to_owned()
    };
    let app = TestApp::serve_async(
        async move |_url: String| fastgate::web::app(state),
        vec![gw.key.clone()],
    )
    .await;
    let page = app.get(&format!("/setup?token={token}")).await;
    assert_eq!(page.status, StatusCode::OK);
    let post = |user: &'static str| {
        app.client
            .post(format!("{}/setup", app.url))
            .header("origin", "http://127.0.0.1:1")
            .form(&[
                ("token", token.as_str()),
                ("username", user),
                ("password", "first-admin-pw"),
            ])
    };
    let made = app.send(post("root")).await;
    assert_eq!(made.status, StatusCode::SEE_OTHER, "{}", made.text());
    assert!(
        made.header("set-cookie")
            .is_some_and(|c| c.starts_with("fastgate="))
    );
    let again = app.send(post("second")).await;
    assert_eq!(
        again.status,
        StatusCode::FORBIDDEN,
        "the link works once: {}",
        again.text()
    );
    assert_eq!(app.get(&format!("/setup?token={token}")).await.status, 403);
    let signed_in = with_cookie(&app, &session_cookie(&made));
    assert_eq!(
        signed_in.get("/api/users").await.status,
        200,
        "the new user is an admin"
    );
}
