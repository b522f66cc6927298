//! The JSON side of asking (DESIGN §3d): `POST /api/ask/{ws}` starts a question, `GET
//! /api/ask/{ws}/{chat}/{message}` reads its answer, and `…/events` streams it as server-sent
//! events, fed by Fast.io's activity long-poll and the answer's details (never a tight loop).
//!
//! The stream sends `state` events (`{"state"}`) as the answer moves, then one `answer` event
//! with the same body as the `GET`, and ends; a failure ends it with a `failed` event
//! (`{"error":{"code","message"}}`). When the client goes away the stream is dropped, and with
//! it the long-poll in flight: the request to Fast.io is closed, so nothing keeps waiting for a
//! reader that is gone ([`super::Waits`] counts the waits held).

use std::convert::Infallible;
use std::time::{Duration, Instant};

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use futures_util::Stream;
use serde::Deserialize;
use serde_json::json;

use super::service::Asked;
use super::service::{self, Answer, Question};
use crate::access::AskMessage;
use crate::fastio::MessageState;
use crate::web::AppState;
use crate::web::auth::Caller;
use crate::web::error::{AppError, ErrorBody};

/// How long one activity long-poll may hold.
const POLL_WAIT: Duration = Duration::from_secs(20);

/// How long a stream waits for an answer in all (the CLI's cap).
const MAX_WAIT: Duration = Duration::from_secs(300);

/// How often a comment keeps the stream alive (and notices a client that left).
const KEEP_ALIVE: Duration = Duration::from_secs(3);

/// The body of `POST /api/ask/{ws}`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AskBody {
    /// The question.
    pub question: String,
    /// A folder to search within.
    #[serde(default)]
    pub folder: Option<String>,
    /// Files to attach.
    #[serde(default)]
    pub files: Vec<String>,
    /// The chat this follows up.
    #[serde(default)]
    pub chat: Option<String>,
}

/// `POST /api/ask/{workspace}` → 202 `{chat, message, state}`.
#[utoipa::path(post, path = "/api/ask/{workspace}", tag = "ask", request_body = AskBody,
    params(("workspace" = String, Path, min_length = 1, description = "Workspace id")),
    responses(
        (status = 202, description = "Asked; poll the answer or follow its events", body = Asked),
        (status = 400, description = "A bad body, question, scope or id", body = ErrorBody),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 403, description = "The role does not allow this, or Fast.io forbids it", body = ErrorBody),
        (status = 404, description = "No such workspace, chat, message or file here", body = ErrorBody),
        (status = 409, description = "Conflicts with the chat's state", body = ErrorBody),
        (status = 429, description = "Too many requests (with Retry-After)", body = ErrorBody),
        (status = 502, description = "Fast.io answered with an error", body = ErrorBody),
        (status = 503, description = "Fast.io cannot be reached", body = ErrorBody),
    ))]
pub async fn ask(
    State(state): State<AppState>,
    caller: Caller,
    Path(ws): Path<String>,
    body: Result<Json<AskBody>, axum::extract::rejection::JsonRejection>,
) -> Result<Response, AppError> {
    let Json(body) = body.map_err(|e| AppError::BadRequest(e.body_text()))?;
    let q = Question {
        text: body.question,
        folder: body.folder,
        files: body.files,
        chat: body.chat,
    };
    let asked = service::ask(&state, &caller, &ws, q).await?;
    Ok((StatusCode::ACCEPTED, Json(asked)).into_response())
}

/// `GET /api/ask/{workspace}/{chat}/{message}` → the answer as it stands.
#[utoipa::path(get, path = "/api/ask/{workspace}/{chat}/{message}", tag = "ask",
    params(("workspace" = String, Path, min_length = 1, description = "Workspace id"), ("chat" = String, Path, min_length = 1, description = "Chat id"), ("message" = String, Path, min_length = 1, description = "Message id")),
    responses(
        (status = 200, description = "The answer as it stands", body = Answer),
        (status = 400, description = "A bad body, question, scope or id", body = ErrorBody),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 403, description = "The role does not allow this, or Fast.io forbids it", body = ErrorBody),
        (status = 404, description = "No such workspace, chat, message or file here", body = ErrorBody),
        (status = 409, description = "Conflicts with the chat's state", body = ErrorBody),
        (status = 429, description = "Too many requests (with Retry-After)", body = ErrorBody),
        (status = 502, description = "Fast.io answered with an error", body = ErrorBody),
        (status = 503, description = "Fast.io cannot be reached", body = ErrorBody),
    ))]
pub async fn answer(
    State(state): State<AppState>,
    caller: Caller,
    Path((ws, chat, message)): Path<(String, String, String)>,
) -> Result<Json<Answer>, AppError> {
    let asked = service::message(&state, &caller, &ws, &chat, &message).await?;
    Ok(Json(service::answer(&state, &ws, &chat, &asked).await?))
}

/// One server-sent event of the answer stream, as a client parses it: `event` is `state` (each
/// change), then `answer` (the final body of `GET …/{message}`) or `failed` (an error body);
/// `data` is that JSON as text.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)] // describes the wire for /openapi.json; the stream is built by axum's Sse
pub struct StreamEvent {
    /// `state`, `answer` or `failed`.
    event: Option<String>,
    /// The event's JSON body, as text.
    data: String,
}

/// `GET /api/ask/{workspace}/{chat}/{message}/events` → `text/event-stream`.
#[utoipa::path(get, path = "/api/ask/{workspace}/{chat}/{message}/events", tag = "ask",
    params(("workspace" = String, Path, min_length = 1, description = "Workspace id"), ("chat" = String, Path, min_length = 1, description = "Chat id"), ("message" = String, Path, min_length = 1, description = "Message id")),
    responses(
        (status = 200, description = "Server-sent events: the answer as it changes, until final", content_type = "text/event-stream", body = StreamEvent),
        (status = 400, description = "A bad body, question, scope or id", body = ErrorBody),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 403, description = "The role does not allow this, or Fast.io forbids it", body = ErrorBody),
        (status = 404, description = "No such workspace, chat, message or file here", body = ErrorBody),
        (status = 409, description = "Conflicts with the chat's state", body = ErrorBody),
        (status = 429, description = "Too many requests (with Retry-After)", body = ErrorBody),
        (status = 502, description = "Fast.io answered with an error", body = ErrorBody),
        (status = 503, description = "Fast.io cannot be reached", body = ErrorBody),
    ))]
pub async fn events(
    State(state): State<AppState>,
    caller: Caller,
    Path((ws, chat, message)): Path<(String, String, String)>,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, AppError> {
    let asked = service::message(&state, &caller, &ws, &chat, &message).await?;
    let watch = Watch {
        state,
        ws,
        chat,
        asked,
        last: None,
        marker: None,
        started: Instant::now(),
        done: false,
    };
    let stream = futures_util::stream::unfold(watch, |mut w| async move {
        if w.done {
            return None;
        }
        let event = w.next().await;
        Some((Ok(event), w))
    });
    Ok(Sse::new(stream).keep_alive(KeepAlive::new().interval(KEEP_ALIVE)))
}

/// One answer being watched for a stream.
struct Watch {
    state: AppState,
    ws: String,
    chat: String,
    asked: AskMessage,
    last: Option<MessageState>,
    marker: Option<String>,
    started: Instant,
    done: bool,
}

impl Watch {
    /// The next event: waits (long-polling) until the state changes or the answer is final.
    async fn next(&mut self) -> Event {
        loop {
            let answer = match service::answer(&self.state, &self.ws, &self.chat, &self.asked).await
            {
                Ok(answer) => answer,
                Err(e) => return self.fail(e),
            };
            if answer.is_final() {
                self.done = true;
                return json_event("answer", &answer);
            }
            let now = MessageState::parse(&answer.state);
            if self.last.as_ref() != Some(&now) {
                self.last = Some(now);
                return json_event("state", &json!({"state": answer.state}));
            }
            if self.started.elapsed() > MAX_WAIT {
                return self.fail(AppError::Unavailable(format!(
                    "no answer after {} s; reload to look again",
                    MAX_WAIT.as_secs()
                )));
            }
            let held = self.state.ask_waits.hold();
            let polled = self
                .state
                .fastio
                .poll_activity(&self.ws, POLL_WAIT, self.marker.as_deref())
                .await;
            drop(held);
            match polled {
                Ok(activity) => self.marker = activity.marker.or(self.marker.take()),
                Err(e) => return self.fail(e.into()),
            }
        }
    }

    fn fail(&mut self, e: AppError) -> Event {
        self.done = true;
        let report = e.report();
        tracing::warn!(chat = %self.chat, code = report.code, "answer stream failed");
        json_event("failed", &report.body())
    }
}

fn json_event(name: &str, data: &impl serde::Serialize) -> Event {
    Event::default()
        .event(name)
        .json_data(data)
        .unwrap_or_else(|_| Event::default().event(name).data("{}"))
}
