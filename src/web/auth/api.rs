//! The JSON API of access (DESIGN §3b): API tokens (`/api/tokens`), users (`/api/users`,
//! admin) and the audit log (`/api/audit`, admin, with `?format=jsonl` export), plus the pages
//! over them: `/account` (one's tokens) and `/audit`. Every change is audited by
//! [`crate::access`] in the same call.

use std::time::Duration;

use axum::Json;
use axum::body::Body;
use axum::extract::{Path, Query, RawQuery, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use futures_util::StreamExt as _;
use secrecy::{ExposeSecret as _, SecretString};
use serde::{Deserialize, Serialize};

use super::caller::Caller;
use super::guard::Need;
use crate::access::{
    AuditAction, AuditItem, AuditPage, AuditQuery, Capability, NewToken, NewUser, Principal, Role,
    TokenInfo, User, UserChange,
};
use crate::web::AppState;
use crate::web::error::{AppError, ErrorBody};
use crate::web::routes::Routes;
use crate::web::templates::{AccountPage, AuditLogPage, AuditRow, Chrome, Notice, TokenRow};

/// This module's routes.
pub fn routes(r: Routes) -> Routes {
    let admin = Need::Global(Capability::Admin);
    r.get("/api/tokens", Need::SignedIn, list_tokens)
        .post("/api/tokens", Need::SignedIn, create_token)
        .delete("/api/tokens/{id}", Need::SignedIn, revoke_token)
        .get("/api/users", admin, list_users)
        .post("/api/users", admin, create_user)
        .patch("/api/users/{username}", admin, change_user)
        .get("/api/audit", admin, audit)
        .get("/audit", admin, audit_page)
        .get("/account", Need::SignedIn, account_page)
        .post("/account", Need::SignedIn, account_action)
}

/// The username a principal acts for, or 403 for callers that are nobody's (open mode, links,
/// proxy users without an account row).
fn owner(principal: &Principal) -> Result<String, AppError> {
    match principal.kind {
        crate::access::PrincipalKind::User { .. } | crate::access::PrincipalKind::Token { .. } => {
            principal
                .username()
                .map(str::to_owned)
                .ok_or(AppError::Denied)
        }
        _ => Err(AppError::Forbidden(
            "API tokens belong to accounts; sign in with one".into(),
        )),
    }
}

/// A token as the API lists it.
#[derive(Serialize, utoipa::ToSchema)]
struct TokenJson {
    id: i64,
    name: String,
    role: Role,
    workspace: Option<String>,
    owner: String,
    created_at: String,
    expires_at: Option<String>,
    last_used_at: Option<String>,
    revoked: bool,
}

impl From<TokenInfo> for TokenJson {
    fn from(t: TokenInfo) -> Self {
        Self {
            id: t.id,
            name: t.name,
            role: t.role,
            workspace: t.workspace,
            owner: t.owner,
            created_at: rfc3339(t.created_at),
            expires_at: t.expires_at.map(rfc3339),
            last_used_at: t.last_used_at.map(rfc3339),
            revoked: t.revoked_at.is_some(),
        }
    }
}

/// `{"items": [token…]}`.
#[derive(Serialize, utoipa::ToSchema)]
pub struct TokenList {
    items: Vec<TokenJson>,
}

/// `GET /api/tokens`: one's own tokens; an admin sees every token.
#[utoipa::path(get, path = "/api/tokens", tag = "access",
    responses(
        (status = 200, description = "The caller's tokens (every token for an admin)", body = TokenList),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 403, description = "The caller has no account (open mode, proxy, link)", body = ErrorBody),
        (status = 503, description = "The access database is unreachable", body = ErrorBody),
    ))]
async fn list_tokens(
    State(app): State<AppState>,
    caller: Caller,
) -> Result<Json<TokenList>, AppError> {
    let principal = caller.principal()?;
    let tokens = if principal.is_admin() {
        app.access.all_tokens().await?
    } else {
        app.access.tokens_of(&owner(principal)?).await?
    };
    let items: Vec<TokenJson> = tokens.into_iter().map(TokenJson::from).collect();
    Ok(Json(TokenList { items }))
}

/// The body of `POST /api/tokens`.
#[derive(Deserialize, utoipa::ToSchema)]
struct NewTokenBody {
    name: String,
    role: Role,
    #[serde(default)]
    workspace: Option<String>,
    /// Seconds.
    #[serde(default)]
    expires_in: Option<u64>,
}

/// A token just made: the only time its secret is shown.
#[derive(Serialize, utoipa::ToSchema)]
pub struct CreatedToken {
    id: i64,
    /// `fgt_…`, shown this once.
    token: String,
    name: String,
    role: Role,
    workspace: Option<String>,
    #[schema(format = DateTime)]
    expires_at: Option<String>,
}

/// `POST /api/tokens` → 201 with the token, shown this once.
#[utoipa::path(post, path = "/api/tokens", tag = "access", request_body = NewTokenBody,
    responses(
        (status = 201, description = "The token, shown this once", body = CreatedToken),
        (status = 400, description = "A bad name, role, workspace or lifetime", body = ErrorBody),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 403, description = "A role above the caller's, or a caller without an account", body = ErrorBody),
        (status = 409, description = "The caller has a token by that name", body = ErrorBody),
        (status = 415, description = "The body is not JSON", body = ErrorBody),
        (status = 422, description = "The JSON lacks a field or has one of the wrong type", body = ErrorBody),
        (status = 503, description = "The access database is unreachable", body = ErrorBody),
    ))]
async fn create_token(
    State(app): State<AppState>,
    caller: Caller,
    Json(body): Json<NewTokenBody>,
) -> Result<(StatusCode, Json<CreatedToken>), AppError> {
    let principal = caller.principal()?;
    let created = app
        .access
        .create_token(
            &caller.ctx(),
            &owner(principal)?,
            NewToken {
                name: body.name,
                role: body.role,
                workspace: body.workspace.filter(|w| !w.is_empty()),
                expires_in: body.expires_in.map(Duration::from_secs),
            },
        )
        .await?;
    let info = created.info;
    Ok((
        StatusCode::CREATED,
        Json(CreatedToken {
            id: info.id,
            token: created.token.expose_secret().to_owned(),
            name: info.name,
            role: info.role,
            workspace: info.workspace,
            expires_at: info.expires_at.map(rfc3339),
        }),
    ))
}

/// `DELETE /api/tokens/{id}` → 204: its owner or an admin; anyone else 404.
#[utoipa::path(delete, path = "/api/tokens/{id}", tag = "access",
    params(("id" = i64, Path, description = "Token id")),
    responses(
        (status = 204, description = "Revoked"),
        (status = 400, description = "The id is not a number", body = ErrorBody),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 403, description = "Refused", body = ErrorBody),
        (status = 404, description = "No such token of the caller's", body = ErrorBody),
        (status = 503, description = "The access database is unreachable", body = ErrorBody),
    ))]
async fn revoke_token(
    State(app): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
) -> Result<StatusCode, AppError> {
    let principal = caller.principal()?;
    app.access
        .revoke_token(&caller.ctx(), principal, id)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// A user as the API shows it.
#[derive(Serialize, utoipa::ToSchema)]
struct UserJson {
    username: String,
    disabled: bool,
    created_at: String,
    grants: Vec<crate::access::Grant>,
}

impl From<User> for UserJson {
    fn from(u: User) -> Self {
        Self {
            username: u.username,
            disabled: u.disabled,
            created_at: rfc3339(u.created_at),
            grants: u.grants,
        }
    }
}

/// `{"items": [user…]}`.
#[derive(Serialize, utoipa::ToSchema)]
pub struct UserList {
    items: Vec<UserJson>,
}

/// `GET /api/users`.
#[utoipa::path(get, path = "/api/users", tag = "access",
    responses(
        (status = 200, description = "Every user", body = UserList),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 403, description = "Not an admin", body = ErrorBody),
        (status = 503, description = "The access database is unreachable", body = ErrorBody),
    ))]
async fn list_users(State(app): State<AppState>) -> Result<Json<UserList>, AppError> {
    let users: Vec<UserJson> = app
        .access
        .users()
        .await?
        .into_iter()
        .map(Into::into)
        .collect();
    Ok(Json(UserList { items: users }))
}

/// The body of `POST /api/users`.
#[derive(Deserialize, utoipa::ToSchema)]
struct NewUserBody {
    username: String,
    password: String,
    role: Role,
    #[serde(default)]
    workspace: Option<String>,
}

/// `POST /api/users` → 201.
#[utoipa::path(post, path = "/api/users", tag = "access", request_body = NewUserBody,
    responses(
        (status = 201, description = "The user made", body = UserJson),
        (status = 400, description = "A bad username, password, role or workspace", body = ErrorBody),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 403, description = "Not an admin", body = ErrorBody),
        (status = 409, description = "That username is taken", body = ErrorBody),
        (status = 415, description = "The body is not JSON", body = ErrorBody),
        (status = 422, description = "The JSON lacks a field or has one of the wrong type", body = ErrorBody),
        (status = 503, description = "The access database is unreachable", body = ErrorBody),
    ))]
async fn create_user(
    State(app): State<AppState>,
    caller: Caller,
    Json(body): Json<NewUserBody>,
) -> Result<(StatusCode, Json<UserJson>), AppError> {
    let user = app
        .access
        .add_user(
            &caller.ctx(),
            NewUser {
                username: body.username,
                password: SecretString::from(body.password),
                role: body.role,
                workspace: body.workspace.filter(|w| !w.is_empty() && w != "*"),
            },
        )
        .await?;
    Ok((StatusCode::CREATED, Json(user.into())))
}

/// The body of `PATCH /api/users/{username}`.
#[derive(Deserialize, utoipa::ToSchema)]
struct UserChangeBody {
    #[serde(default)]
    role: Option<Role>,
    #[serde(default)]
    disabled: Option<bool>,
    #[serde(default)]
    password: Option<String>,
}

/// `PATCH /api/users/{username}`: role, disabled, password (the last two end their sessions).
#[utoipa::path(patch, path = "/api/users/{username}", tag = "access", request_body = UserChangeBody,
    params(("username" = String, Path, min_length = 1, description = "Username")),
    responses(
        (status = 200, description = "The user as changed", body = UserJson),
        (status = 400, description = "A bad role or password, or the last admin demoted or disabled", body = ErrorBody),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 403, description = "Not an admin", body = ErrorBody),
        (status = 404, description = "No such user", body = ErrorBody),
        (status = 409, description = "The change conflicts with the current state", body = ErrorBody),
        (status = 415, description = "The body is not JSON", body = ErrorBody),
        (status = 422, description = "The JSON has a field of the wrong type", body = ErrorBody),
        (status = 503, description = "The access database is unreachable", body = ErrorBody),
    ))]
async fn change_user(
    State(app): State<AppState>,
    caller: Caller,
    Path(username): Path<String>,
    Json(body): Json<UserChangeBody>,
) -> Result<Json<UserJson>, AppError> {
    let change = UserChange {
        role: body.role,
        disabled: body.disabled,
        password: body.password.map(SecretString::from),
    };
    let user = app
        .access
        .update_user(&caller.ctx(), &username, change)
        .await?;
    Ok(Json(user.into()))
}

/// The query of `GET /api/audit`.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
struct AuditParams {
    #[serde(default)]
    since: Option<String>,
    #[serde(default)]
    action: Option<String>,
    #[serde(default)]
    limit: Option<usize>,
    #[serde(default)]
    cursor: Option<String>,
    #[serde(default)]
    format: Option<String>,
}

impl AuditParams {
    fn query(&self) -> Result<AuditQuery, AppError> {
        let since = match self.since.as_deref().filter(|s| !s.is_empty()) {
            Some(s) => Some(AuditQuery::parse_since(s)?),
            None => None,
        };
        let action = match self.action.as_deref().filter(|s| !s.is_empty()) {
            Some(a) => Some(
                a.parse::<AuditAction>()
                    .map_err(|_| AppError::BadRequest(format!("unknown audit action “{a}”")))?,
            ),
            None => None,
        };
        if let Some(limit) = self.limit
            && !(1..=500).contains(&limit)
        {
            return Err(AppError::BadRequest(
                "limit must be between 1 and 500".into(),
            ));
        }
        Ok(AuditQuery {
            since,
            action,
            limit: self.limit.unwrap_or(100),
            cursor: self.cursor.clone().filter(|c| !c.is_empty()),
        })
    }
}

/// `GET /api/audit` → a page of entries, newest first; `?format=jsonl` streams every entry.
#[utoipa::path(get, path = "/api/audit", tag = "access", params(AuditParams),
    responses(
        (status = 200, description = "A page of entries, newest first; with `format=jsonl` every entry, one JSON object a line",
            content((AuditPage = "application/json"), (AuditItem = "application/jsonl"))),
        (status = 400, description = "A bad since, action, limit, cursor or format", body = ErrorBody),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 403, description = "Not an admin", body = ErrorBody),
        (status = 503, description = "The access database is unreachable", body = ErrorBody),
    ))]
async fn audit(
    State(app): State<AppState>,
    Query(params): Query<AuditParams>,
) -> Result<Response, AppError> {
    let query = params.query()?;
    match params.format.as_deref() {
        None | Some("json") => {
            let page = app.access.audit_query(&query).await?;
            Ok(Json(page).into_response())
        }
        Some("jsonl") => {
            let lines = app
                .access
                .audit_export(query.since, query.action)
                .map(|item| {
                    item.map(|item| {
                        let mut line = serde_json::to_vec(&item).unwrap_or_default();
                        line.push(b'\n');
                        line
                    })
                });
            let mut response = Body::from_stream(lines).into_response();
            response.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/jsonl; charset=utf-8"),
            );
            Ok(response)
        }
        Some(other) => Err(AppError::BadRequest(format!(
            "unknown format “{other}”: use json or jsonl"
        ))),
    }
}

/// `GET /audit`: the same entries as a page, with an action filter and an "older" link.
async fn audit_page(
    State(app): State<AppState>,
    caller: Caller,
    Query(params): Query<AuditParams>,
) -> Result<AuditLogPage, AppError> {
    let query = params.query()?;
    let page = app.access.audit_query(&query).await?;
    let action = params.action.clone().unwrap_or_default();
    let next_href = page.next_cursor.map(|c| {
        let pairs = [("action", action.as_str()), ("cursor", c.as_str())];
        format!(
            "/audit?{}",
            serde_urlencoded::to_string(pairs).unwrap_or_default()
        )
    });
    let actions = AuditAction::ALL
        .iter()
        .map(|a| (a.as_str(), a.as_str() == action))
        .collect();
    Ok(AuditLogPage {
        chrome: Chrome::of(&caller, None),
        action,
        actions,
        rows: page.items.into_iter().map(AuditRow::from).collect(),
        next_href,
    })
}

/// `GET /account`: one's grants and tokens.
async fn account_page(State(app): State<AppState>, caller: Caller) -> Result<Response, AppError> {
    Ok(account(&app, &caller, None, None).await?.into_response())
}

/// The account page, with a token just created or a notice.
async fn account(
    app: &AppState,
    caller: &Caller,
    created: Option<String>,
    notice: Option<Notice>,
) -> Result<AccountPage, AppError> {
    let principal = caller.principal()?;
    let username = owner(principal)?;
    let tokens = app.access.tokens_of(&username).await?;
    let text = |t: Option<i64>| t.map_or_else(|| "never".to_owned(), rfc3339);
    Ok(AccountPage {
        chrome: Chrome::of(caller, None),
        grants: principal
            .grants
            .iter()
            .map(|g| {
                let on = if g.workspace == "*" {
                    "every workspace"
                } else {
                    &g.workspace
                };
                format!("{} on {on}", g.role)
            })
            .collect(),
        username,
        tokens: tokens
            .into_iter()
            .map(|t| TokenRow {
                id: t.id,
                scope: t
                    .workspace
                    .clone()
                    .unwrap_or_else(|| "every workspace".into()),
                role: t.role.to_string(),
                created: rfc3339(t.created_at),
                expires: text(t.expires_at),
                last_used: text(t.last_used_at),
                revoked: t.revoked_at.is_some(),
                name: t.name,
            })
            .collect(),
        created,
        notice,
    })
}

/// The forms of the account page: `?/token` creates a token, `?/revoke` revokes one.
#[derive(Deserialize)]
struct AccountForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    role: Option<Role>,
    #[serde(default)]
    workspace: String,
    #[serde(default)]
    expires_in: String,
    #[serde(default)]
    id: Option<i64>,
}

/// `POST /account?/token|revoke`.
async fn account_action(
    State(app): State<AppState>,
    caller: Caller,
    RawQuery(query): RawQuery,
    axum::Form(form): axum::Form<AccountForm>,
) -> Result<Response, AppError> {
    let principal = caller.principal()?.clone();
    match query.as_deref() {
        Some("/token") => {
            let expires_in = match form.expires_in.trim() {
                "" => None,
                secs => Some(Duration::from_secs(secs.parse().map_err(|_| {
                    AppError::BadRequest("expires_in is a number of seconds".into())
                })?)),
            };
            let new = NewToken {
                name: form.name,
                role: form.role.unwrap_or(Role::Viewer),
                workspace: Some(form.workspace.trim().to_owned()).filter(|w| !w.is_empty()),
                expires_in,
            };
            let result = app
                .access
                .create_token(&caller.ctx(), &owner(&principal)?, new)
                .await;
            let page = match result {
                Ok(created) => {
                    let token = created.token.expose_secret().to_owned();
                    account(&app, &caller, Some(token), None).await?
                }
                Err(e) => {
                    let error = AppError::from(e);
                    let notice = Notice {
                        success: false,
                        text: error.public_message(),
                    };
                    let page = account(&app, &caller, None, Some(notice)).await?;
                    return Ok((error.status(), page).into_response());
                }
            };
            let mut response = page.into_response();
            // The token is on this page only: never cache it.
            response
                .headers_mut()
                .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            Ok(response)
        }
        Some("/revoke") => {
            let id = form
                .id
                .ok_or_else(|| AppError::BadRequest("which token? (id)".into()))?;
            app.access
                .revoke_token(&caller.ctx(), &principal, id)
                .await?;
            Ok(Redirect::to("/account").into_response())
        }
        _ => Err(AppError::BadRequest(
            "unknown action: post to ?/token or ?/revoke".into(),
        )),
    }
}

/// Epoch milliseconds as RFC 3339.
fn rfc3339(ms: i64) -> String {
    chrono::DateTime::<chrono::Utc>::from_timestamp_millis(ms)
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
        .unwrap_or_default()
}
