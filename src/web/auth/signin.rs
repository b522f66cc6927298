//! Sign-in, sign-out and first-run setup (DESIGN §3b): `GET/POST /signin`, `POST /signout`,
//! `GET/POST /setup`. A successful sign-in or setup sets the session cookie — `__Host-fastgate`
//! with `Secure` when `FASTGATE_PUBLIC_URL` is https, `fastgate` on plain http; HttpOnly,
//! SameSite=Lax, Path=/ — and answers 303 to where the visitor was going.

use axum::Form;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use cookie::{Cookie, SameSite};
use secrecy::{ExposeSecret as _, SecretString};
use serde::Deserialize;

use super::caller::{Caller, session_cookie};
use super::guard::Need;
use crate::access::NewSession;
use crate::web::AppState;
use crate::web::error::AppError;
use crate::web::routes::Routes;
use crate::web::templates::{Chrome, Notice, SetupPage, SigninPage};

/// This module's routes: public (they are how one stops being anonymous), but sign-out.
pub fn routes(r: Routes) -> Routes {
    r.get("/signin", Need::Public, show_signin)
        .post("/signin", Need::Public, signin)
        .post("/signout", Need::SignedIn, signout)
        .get("/setup", Need::Public, show_setup)
        .post("/setup", Need::Public, setup)
}

/// `?next=` of the sign-in page.
#[derive(Debug, Default, Deserialize)]
struct NextQuery {
    #[serde(default)]
    next: Option<String>,
}

/// The sign-in form.
#[derive(Deserialize)]
struct SigninForm {
    username: String,
    password: String,
    #[serde(default)]
    next: Option<String>,
}

/// `GET /signin`.
async fn show_signin(caller: Caller, Query(q): Query<NextQuery>) -> SigninPage {
    SigninPage {
        chrome: Chrome::of(&caller, None),
        next: local_path(q.next.as_deref()),
        username: String::new(),
        notice: None,
    }
}

/// `POST /signin`: 303 with the cookie, or the page again with one message for every wrong
/// part (401), or 429 once throttled.
async fn signin(
    State(app): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    Form(form): Form<SigninForm>,
) -> Response {
    let agent = headers
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok());
    let next = local_path(form.next.as_deref());
    let result = app
        .access
        .sign_in(&caller.ctx(), &form.username, &form.password, agent)
        .await;
    match result {
        Ok((session, _)) => signed_in(&app, &session, &next),
        Err(e) => {
            let error = AppError::from(e);
            let status = error.status();
            let page = SigninPage {
                chrome: Chrome::of(&caller, None),
                next,
                username: form.username,
                notice: Some(Notice {
                    success: false,
                    text: error.public_message(),
                }),
            };
            if status.is_server_error() {
                return error.into_response();
            }
            let mut response = (status, page).into_response();
            if let AppError::RateLimited { retry_after } = error {
                let secs = retry_after.map_or(1, |d| d.as_secs().max(1));
                response
                    .headers_mut()
                    .insert(header::RETRY_AFTER, HeaderValue::from(secs));
            }
            response
        }
    }
}

/// `POST /signout`: ends this session (on every replica: it is a database row), clears the
/// cookie, 303 to `/signin`.
async fn signout(State(app): State<AppState>, caller: Caller, headers: HeaderMap) -> Response {
    let name = app.config.session_cookie_name();
    if let Some(token) = session_cookie(&headers, name)
        && let Err(e) = app.access.sign_out(&caller.ctx(), &token).await
    {
        return AppError::from(e).into_response();
    }
    let mut response = Redirect::to("/signin").into_response();
    set_cookie(&mut response, removal(&app));
    response
}

/// `?token=` of the setup page.
#[derive(Debug, Default, Deserialize)]
struct SetupQuery {
    #[serde(default)]
    token: String,
}

/// The setup form.
#[derive(Deserialize)]
struct SetupForm {
    token: String,
    username: String,
    password: String,
}

/// `GET /setup?token=…`: the form, while no admin exists (403 afterwards).
async fn show_setup(
    State(app): State<AppState>,
    caller: Caller,
    Query(q): Query<SetupQuery>,
) -> Result<SetupPage, AppError> {
    if app.access.admin_exists().await? {
        return Err(crate::access::Error::SetupClosed.into());
    }
    Ok(SetupPage {
        chrome: Chrome::of(&caller, None),
        token: q.token,
        username: String::new(),
        notice: None,
    })
}

/// `POST /setup`: creates the first admin, signs them in, 303 to `/`.
async fn setup(
    State(app): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    Form(form): Form<SetupForm>,
) -> Response {
    let ctx = caller.ctx();
    let password = SecretString::from(form.password);
    let created = app
        .access
        .consume_setup_token(&ctx, &form.token, &form.username, &password)
        .await;
    let user = match created {
        Ok(user) => user,
        Err(e @ crate::access::Error::Invalid(_)) => {
            let error = AppError::from(e);
            let page = SetupPage {
                chrome: Chrome::of(&caller, None),
                token: form.token,
                username: form.username,
                notice: Some(Notice {
                    success: false,
                    text: error.public_message(),
                }),
            };
            return (StatusCode::BAD_REQUEST, page).into_response();
        }
        Err(e) => return AppError::from(e).into_response(),
    };
    let agent = headers
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok());
    match app.access.start_session(user.id, &ctx, agent).await {
        Ok(session) => signed_in(&app, &session, "/"),
        Err(e) => AppError::from(e).into_response(),
    }
}

/// 303 to `next` with the session cookie set.
fn signed_in(app: &AppState, session: &NewSession, next: &str) -> Response {
    let now_ms = chrono::Utc::now().timestamp_millis();
    let max_age = (session.expires_at - now_ms).max(0) / 1000;
    let cookie = base_cookie(app, session.token.expose_secret().to_owned())
        .max_age(cookie::time::Duration::seconds(max_age))
        .build();
    let mut response = Redirect::to(next).into_response();
    set_cookie(&mut response, cookie);
    response
}

/// The session cookie's fixed attributes.
fn base_cookie(app: &AppState, value: String) -> cookie::CookieBuilder<'static> {
    Cookie::build((app.config.session_cookie_name(), value))
        .http_only(true)
        .same_site(SameSite::Lax)
        .path("/")
        .secure(app.config.cookie_secure())
}

/// A cookie that removes the session cookie.
fn removal(app: &AppState) -> Cookie<'static> {
    base_cookie(app, String::new())
        .max_age(cookie::time::Duration::ZERO)
        .build()
}

fn set_cookie(response: &mut Response, cookie: Cookie<'_>) {
    if let Ok(value) = HeaderValue::from_str(&cookie.to_string()) {
        response.headers_mut().append(header::SET_COOKIE, value);
    }
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
}

/// `next` if it is a path on this site, else `/` (no open redirects: `//evil`, `/\evil` and
/// absolute URLs are refused).
pub fn local_path(next: Option<&str>) -> String {
    match next {
        Some(n)
            if n.starts_with('/')
                && !n.starts_with("//")
                && !n.starts_with("/\\")
                && !n.chars().any(char::is_control) =>
        {
            n.to_owned()
        }
        _ => "/".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::local_path;

    #[test]
    fn only_local_paths_are_followed_after_sign_in() {
        assert_eq!(
            local_path(Some("/w/1/root?sort=name")),
            "/w/1/root?sort=name"
        );
        for evil in [
            "//evil.example",
            "/\\evil.example",
            "https://evil.example",
            "",
            "x",
        ] {
            assert_eq!(local_path(Some(evil)), "/", "{evil}");
        }
        assert_eq!(local_path(None), "/");
    }
}
