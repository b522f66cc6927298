//! The `/workspace/{ws}/ai/agent/…` routes (§8): create a chat with its first question, follow
//! up, read a message, list messages and chats (live and deleted), read, rename, publish and
//! (soft) delete a chat, and cancel the running message.
//!
//! Checks on create and follow-up, in order: the Bearer, the workspace (10545), credits
//! (402/1688, a fault switch), the question (required, ≤ 12,768 characters → 400/1605),
//! `name` ≤ 100, `privacy` and `kind`, the scope or attachments (`scope.rs`), workspace
//! intelligence for a scoped question (off → 400/1605; attachments work without it), and the
//! chat's length (a follow-up past `max_messages` → 409/168116). A follow-up without
//! `references`/`subjects` keeps the previous message's scope. The answer is worked out in the
//! background (`turns.rs`); no SSE `read/` route is offered (§8.2 leaves it unverified and
//! fastgate does not use it: it gets the router's 404/9992).

use std::collections::HashMap;
use std::sync::Arc;

use axum::Form;
use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::chats::{self, Chat, Message};
use super::scope::{self, Scope};
use super::turns;
use crate::emulator::state::EmulatorState;
use crate::emulator::storage::workspaces;
use crate::emulator::transport::auth::Caller;
use crate::emulator::transport::envelope::Envelope;
use crate::emulator::transport::error::ApiError;
use crate::emulator::transport::ids;

type Fields = Form<HashMap<String, String>>;

/// Longest question (§8).
const QUESTION_MAX: usize = 12_768;
/// Longest chat name (§8).
const NAME_MAX: usize = 100;
/// 409 code for a workspace follow-up that is too large (§2.2).
const TOO_LARGE_FOLLOW_UP: u32 = 168_116;
/// 409 code for a workspace new chat that is too large (§2.2).
const TOO_LARGE_NEW_CHAT: u32 = 153_795;

fn question(form: &HashMap<String, String>) -> Result<String, ApiError> {
    let q = form.get("question").map(String::as_str).unwrap_or_default();
    bounded_text(q, "question", "is required", QUESTION_MAX)
}

/// `raw` trimmed: refused when empty (`field` + `when_empty`) or over `max` characters.
fn bounded_text(raw: &str, field: &str, when_empty: &str, max: usize) -> Result<String, ApiError> {
    let text = raw.trim();
    if text.is_empty() {
        return Err(ApiError::invalid(format!("{field} {when_empty}")));
    }
    if text.chars().count() > max {
        return Err(ApiError::invalid(format!(
            "{field} is longer than {max} characters"
        )));
    }
    Ok(text.to_owned())
}

fn choice(
    form: &HashMap<String, String>,
    field: &str,
    allowed: &[&str],
) -> Result<String, ApiError> {
    match form.get(field).map(|v| v.trim()).filter(|v| !v.is_empty()) {
        None => Ok(allowed[0].to_owned()),
        Some(v) if allowed.contains(&v) => Ok(v.to_owned()),
        Some(v) => Err(ApiError::invalid(format!(
            "{field} must be one of {}, not {v}",
            allowed.join(", ")
        ))),
    }
}

/// A generated chat name: the question's first 60 characters.
fn name_from(question: &str) -> String {
    let mut n: String = question.chars().take(60).collect();
    if question.chars().count() > 60 {
        n.push('…');
    }
    n
}

fn valid_name(raw: &str) -> Result<String, ApiError> {
    bounded_text(raw, "name", "must not be empty", NAME_MAX)
}

/// The checks every question shares: credits, the question, the scope and intelligence.
fn precheck(
    state: &EmulatorState,
    form: &HashMap<String, String>,
) -> Result<(String, Option<Scope>), ApiError> {
    if state.faults.ai_credits_exhausted() {
        return Err(ApiError::CreditsExhausted);
    }
    let q = question(form)?;
    let scope = scope::parse(
        form.get("references").map(String::as_str),
        form.get("subjects").map(String::as_str),
    )?;
    Ok((q, scope))
}

fn needs_intelligence(state: &EmulatorState, ws: &str, scope: &Scope) -> Result<(), ApiError> {
    if !scope.is_attachments() && !state.faults.intelligence_on(ws) {
        return Err(ApiError::IntelligenceOff);
    }
    Ok(())
}

fn new_message(chat: &str, seq: i64, question: String, scope: &Scope) -> Message {
    let now = ids::now();
    Message {
        id: ids::opaque_id(),
        chat_id: chat.to_owned(),
        seq,
        question,
        scope: serde_json::to_string(scope).unwrap_or_else(|_| "{}".into()),
        state: chats::READY.to_owned(),
        answer: None,
        terms: None,
        created: now.clone(),
        updated: now,
    }
}

/// `POST /workspace/{ws}/ai/agent/`: a new chat and its first question →
/// `{thread:{thread_id}, turn:{turn_id}}`.
pub async fn create(
    State(state): State<Arc<EmulatorState>>,
    _: Caller,
    Path(ws): Path<String>,
    Form(form): Fields,
) -> Result<Envelope, ApiError> {
    let ws = workspaces::resolve(&state, &ws).await?;
    let (q, scope) = precheck(&state, &form)?;
    let scope = scope.unwrap_or_default();
    let name = match form.get("name").filter(|n| !n.trim().is_empty()) {
        Some(n) => valid_name(n)?,
        None => name_from(&q),
    };
    let privacy = choice(&form, "privacy", &["private", "public"])?;
    let kind = choice(&form, "kind", &["user", "agent"])?;
    let now = ids::now();
    let chat = Chat {
        id: ids::opaque_id(),
        workspace_id: ws.clone(),
        name,
        privacy,
        kind,
        created: now.clone(),
        updated: now,
        deleted: false,
    };
    needs_intelligence(&state, &ws, &scope)?;
    let m = new_message(&chat.id, 1, q, &scope);
    let (w, cfg, ch, msg) = (ws.clone(), state.config.ai.clone(), chat.clone(), m.clone());
    state
        .store
        .call(move |c| {
            scope::check(c, &w, &scope, &cfg, TOO_LARGE_NEW_CHAT)?;
            let tx = c.transaction()?;
            chats::insert_chat(&tx, &ch)?;
            chats::insert_message(&tx, &msg)?;
            tx.commit()?;
            Ok(())
        })
        .await?;
    state.activity.post(&ws, format!("ai_chat:{}", chat.id));
    turns::spawn(&state, ws, chat.id.clone(), m.id.clone());
    Ok(Envelope(json!({
        "thread": {"thread_id": chat.id},
        "turn": {"turn_id": m.id},
    })))
}

/// `POST /workspace/{ws}/ai/agent/{chat}/message/`: a follow-up → flat
/// `{turn_id, thread_id, seq, status}`.
pub async fn follow_up(
    State(state): State<Arc<EmulatorState>>,
    _: Caller,
    Path((ws, chat)): Path<(String, String)>,
    Form(form): Fields,
) -> Result<Envelope, ApiError> {
    let ws = workspaces::resolve(&state, &ws).await?;
    let (q, scope) = precheck(&state, &form)?;
    let (w, cfg, ch) = (ws.clone(), state.config.ai.clone(), chat.clone());
    let intelligence = state.faults.intelligence_on(&ws);
    let m = state
        .store
        .call(move |c| {
            chats::live_chat(c, &w, &ch)?;
            let all = chats::messages(c, &ch)?;
            if all.len() >= cfg.max_messages {
                return Err(ApiError::ConversationTooLarge {
                    code: TOO_LARGE_FOLLOW_UP,
                    text: format!(
                        "the conversation is too large to continue ({} messages); start a new chat",
                        all.len()
                    ),
                });
            }
            let scope = match scope {
                Some(s) => s,
                None => all
                    .last()
                    .and_then(|m| serde_json::from_str(&m.scope).ok())
                    .unwrap_or_default(),
            };
            scope::check(c, &w, &scope, &cfg, TOO_LARGE_FOLLOW_UP)?;
            if !scope.is_attachments() && !intelligence {
                return Err(ApiError::IntelligenceOff);
            }
            let seq = all.last().map_or(1, |m| m.seq + 1);
            let m = new_message(&ch, seq, q, &scope);
            chats::insert_message(c, &m)?;
            Ok(m)
        })
        .await?;
    state.activity.post(&ws, format!("ai_chat:{chat}"));
    turns::spawn(&state, ws, chat.clone(), m.id.clone());
    Ok(Envelope(json!({
        "turn_id": m.id, "thread_id": chat, "seq": m.seq, "status": m.state,
    })))
}

/// `GET …/ai/agent/{chat}/message/{message}/details/` → `{message:{…}}`.
pub async fn message_details(
    State(state): State<Arc<EmulatorState>>,
    _: Caller,
    Path((ws, chat, message)): Path<(String, String, String)>,
) -> Result<Envelope, ApiError> {
    let ws = workspaces::resolve(&state, &ws).await?;
    let m = state
        .store
        .call(move |c| {
            chats::chat(c, &ws, &chat)?;
            chats::message(c, &chat, &message)
        })
        .await?;
    Ok(Envelope(json!({"message": chats::message_json(&m)})))
}

fn paging(q: &HashMap<String, String>) -> Result<(usize, usize), ApiError> {
    let num = |k: &str, d: usize| -> Result<usize, ApiError> {
        match q.get(k).map(|v| v.trim()).filter(|v| !v.is_empty()) {
            None => Ok(d),
            Some(v) => v
                .parse()
                .map_err(|_| ApiError::invalid(format!("{k} must be a non-negative integer"))),
        }
    };
    let limit = num("limit", 100)?;
    if !(1..=500).contains(&limit) {
        return Err(ApiError::invalid("limit must be between 1 and 500"));
    }
    Ok((limit, num("offset", 0)?))
}

fn page(items: Vec<Value>, key: &str, limit: usize, offset: usize) -> Envelope {
    let total = items.len();
    let page: Vec<Value> = items.into_iter().skip(offset).take(limit).collect();
    Envelope(json!({
        key: page,
        "pagination": {"total": total, "limit": limit, "offset": offset,
                        "has_more": offset + limit < total},
    }))
}

/// `GET …/ai/agent/{chat}/messages/list/` (`limit`, `offset`) → `{messages:[…], pagination}`,
/// oldest first.
pub async fn messages(
    State(state): State<Arc<EmulatorState>>,
    _: Caller,
    Path((ws, chat)): Path<(String, String)>,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Envelope, ApiError> {
    let (limit, offset) = paging(&q)?;
    let ws = workspaces::resolve(&state, &ws).await?;
    let all = state
        .store
        .call(move |c| {
            chats::chat(c, &ws, &chat)?;
            chats::messages(c, &chat)
        })
        .await?;
    let items = all.iter().map(chats::message_json).collect();
    Ok(page(items, "messages", limit, offset))
}

async fn list_chats(
    state: &EmulatorState,
    ws: &str,
    q: &HashMap<String, String>,
    deleted: bool,
) -> Result<Envelope, ApiError> {
    let (limit, offset) = paging(q)?;
    let kind = choice(q, "kind", &["user", "agent", "all"])?;
    let ws = workspaces::resolve(state, ws).await?;
    let rows = state
        .store
        .call(move |c| {
            let mut out = Vec::new();
            for chat in chats::chats(c, &ws, deleted, &kind)? {
                let n = chats::count(c, &chat.id)?;
                out.push(chats::chat_json(&chat, n));
            }
            Ok(out)
        })
        .await?;
    Ok(page(rows, "chats", limit, offset))
}

/// `GET …/ai/agent/list/` (`limit`, `offset`, `kind` ∈ user (default), agent, all) →
/// `{chats:[…], pagination}`, most recently active first.
pub async fn list(
    State(state): State<Arc<EmulatorState>>,
    _: Caller,
    Path(ws): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Envelope, ApiError> {
    list_chats(&state, &ws, &q, false).await
}

/// `GET …/ai/agent/list/deleted` (with or without the trailing slash): the deleted chats.
pub async fn list_deleted(
    State(state): State<Arc<EmulatorState>>,
    _: Caller,
    Path(ws): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Envelope, ApiError> {
    list_chats(&state, &ws, &q, true).await
}

async fn chat_answer(
    state: &EmulatorState,
    ws: String,
    chat: String,
) -> Result<Envelope, ApiError> {
    let v = state
        .store
        .call(move |c| {
            let ch = chats::chat(c, &ws, &chat)?;
            Ok(chats::chat_json(&ch, chats::count(c, &chat)?))
        })
        .await?;
    Ok(Envelope(json!({"chat": v})))
}

/// `GET …/ai/agent/{chat}/details/` → `{chat:{…}}` (deleted chats too, flagged).
pub async fn details(
    State(state): State<Arc<EmulatorState>>,
    _: Caller,
    Path((ws, chat)): Path<(String, String)>,
) -> Result<Envelope, ApiError> {
    let ws = workspaces::resolve(&state, &ws).await?;
    chat_answer(&state, ws, chat).await
}

/// Applies `change` to the live chat `chat` of the resolved workspace `ws` (404 when it does
/// not exist or was deleted) and answers the chat as it is afterwards: the one skeleton of the
/// update and publish endpoints.
async fn change_live_chat(
    state: &EmulatorState,
    ws: String,
    chat: String,
    change: impl FnOnce(&rusqlite::Connection, &str) -> rusqlite::Result<usize> + Send + 'static,
) -> Result<Envelope, ApiError> {
    let (w, ch) = (ws.clone(), chat.clone());
    state
        .store
        .call(move |c| {
            chats::live_chat(c, &w, &ch)?;
            change(c, &ch)?;
            Ok(())
        })
        .await?;
    chat_answer(state, ws, chat).await
}

/// `POST …/ai/agent/{chat}/update/` (`name`; a `kind` is ignored) → `{chat:{…}}`.
pub async fn update(
    State(state): State<Arc<EmulatorState>>,
    _: Caller,
    Path((ws, chat)): Path<(String, String)>,
    Form(form): Fields,
) -> Result<Envelope, ApiError> {
    let ws = workspaces::resolve(&state, &ws).await?;
    let name = valid_name(form.get("name").map(String::as_str).unwrap_or_default())?;
    change_live_chat(&state, ws, chat, move |c, id| {
        c.execute(
            "UPDATE ai_chats SET name = ?2, updated = ?3 WHERE id = ?1",
            (id, &name, ids::now()),
        )
    })
    .await
}

/// `POST …/ai/agent/{chat}/publish/` (empty form): private → public, one way; publishing a
/// public chat again is a no-op. → `{chat:{…}}`.
pub async fn publish(
    State(state): State<Arc<EmulatorState>>,
    _: Caller,
    Path((ws, chat)): Path<(String, String)>,
) -> Result<Envelope, ApiError> {
    let ws = workspaces::resolve(&state, &ws).await?;
    change_live_chat(&state, ws, chat, |c, id| {
        c.execute(
            "UPDATE ai_chats SET privacy = 'public', updated = ?2 WHERE id = ?1",
            (id, ids::now()),
        )
    })
    .await
}

/// `DELETE …/ai/agent/{chat}/`: a soft delete (the chat moves to the deleted list; a repeat is
/// a no-op) → `{"result":true}`.
pub async fn delete(
    State(state): State<Arc<EmulatorState>>,
    _: Caller,
    Path((ws, chat)): Path<(String, String)>,
) -> Result<Envelope, ApiError> {
    let ws = workspaces::resolve(&state, &ws).await?;
    let (w, ch) = (ws.clone(), chat.clone());
    state
        .store
        .call(move |c| {
            chats::chat(c, &w, &ch)?;
            c.execute("UPDATE ai_chats SET deleted = 1 WHERE id = ?1", [&ch])?;
            Ok(())
        })
        .await?;
    state.activity.post(&ws, format!("ai_chat:{chat}"));
    Ok(Envelope(json!({})))
}

/// The cancel endpoint's own flat error (§1.1 "Flat error variant"): HTTP 406,
/// `{"result":false,"error_message":…,"error_id":…}`, not restyled by the envelope switches.
fn cancel_error(e: &ApiError) -> Response {
    let (_, code) = e.status_and_code();
    (
        StatusCode::NOT_ACCEPTABLE,
        Json(json!({"result": false, "error_message": e.to_string(), "error_id": code})),
    )
        .into_response()
}

/// `POST …/ai/agent/{chat}/cancel/` with no body: ends the running message as `errored`
/// (`{"success":true,"message":{…}}`), or answers `{"success":true,"no_pending_message":true}`
/// when none is running (idempotent); neither carries `result` (§8 "Cancel"). An unknown chat or
/// workspace is the flat 406 error.
pub async fn cancel(
    State(state): State<Arc<EmulatorState>>,
    _: Caller,
    Path((ws, chat)): Path<(String, String)>,
) -> Response {
    let ws = match workspaces::resolve(&state, &ws).await {
        Ok(ws) => ws,
        Err(e) => return cancel_error(&e),
    };
    let (w, ch) = (ws.clone(), chat.clone());
    let done = state
        .store
        .call(move |c| {
            chats::live_chat(c, &w, &ch)?;
            let running = chats::messages(c, &ch)?
                .into_iter()
                .rfind(|m| !chats::is_terminal(&m.state));
            let Some(m) = running else {
                return Ok(None);
            };
            let answer = json!({"text": "Cancelled.", "citations": [], "clarification": null});
            c.execute(
                "UPDATE ai_messages SET state = 'errored', answer = ?2, terms = '[]', \
                 updated = ?3 WHERE id = ?1",
                (&m.id, answer.to_string(), ids::now()),
            )?;
            Ok(Some(chats::message(c, &ch, &m.id)?))
        })
        .await;
    match done {
        Ok(Some(m)) => {
            state.activity.post(&ws, format!("ai_chat:{chat}"));
            Json(json!({"success": true, "message": chats::message_json(&m)})).into_response()
        }
        Ok(None) => Json(json!({"success": true, "no_pending_message": true})).into_response(),
        Err(e) => cancel_error(&e),
    }
}
