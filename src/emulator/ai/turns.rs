//! Running one message (§8 "Read answer"): `ready → in_progress → post_processing →
//! complete | needs_input | errored`, a pause of [`AiConfig::answer_delay`] before each step,
//! `ai_chat:{chat}` posted to the workspace's activity feed on every change. A cancelled
//! message (`errored` by `cancel/`) stops at its next step. Unfinished messages resume after a
//! restart ([`resume`]).
//!
//! [`AiConfig::answer_delay`]: crate::emulator::AiConfig

use std::sync::Arc;

use serde_json::json;

use super::answer::{self, Attached, Outcome, Terms};
use super::chats::{self, COMPLETE, ERRORED, IN_PROGRESS, POST_PROCESSING};
use super::indexing::read_passages;
use super::scope::{self, Scope};
use crate::emulator::state::EmulatorState;
use crate::emulator::storage::nodes;
use crate::emulator::transport::error::ApiError;
use crate::emulator::transport::ids;

/// How many passages retrieval looks at.
const CANDIDATES: usize = 40;

/// Runs `message` of `chat` in the background.
pub fn spawn(state: &Arc<EmulatorState>, ws: String, chat: String, message: String) {
    let st = state.clone();
    state.tasks.spawn(async move {
        if let Err(e) = run(&st, &ws, &chat, &message).await {
            tracing::warn!(%chat, %message, error = %e, "AI answer failed");
            let text = "The answer could not be produced (emulator error).".to_owned();
            let done = Outcome {
                state: ERRORED,
                text,
                citations: Vec::new(),
                clarification: None,
                terms: Vec::new(),
            };
            let _ = finish(&st, &ws, &chat, &message, &done).await;
        }
    });
}

/// Moves a running message to `to`; false when it already ended (cancelled).
async fn step(
    state: &Arc<EmulatorState>,
    ws: &str,
    chat: &str,
    message: &str,
    to: &'static str,
) -> Result<bool, ApiError> {
    tokio::time::sleep(state.config.ai.answer_delay).await;
    let id = message.to_owned();
    let moved = state
        .store
        .call(move |c| {
            Ok(c.execute(
                "UPDATE ai_messages SET state = ?2, updated = ?3 WHERE id = ?1 \
                 AND state NOT IN ('complete', 'errored', 'needs_input')",
                (&id, to, ids::now()),
            )? == 1)
        })
        .await?;
    if moved {
        state.activity.post(ws, format!("ai_chat:{chat}"));
    }
    Ok(moved)
}

async fn finish(
    state: &Arc<EmulatorState>,
    ws: &str,
    chat: &str,
    message: &str,
    done: &Outcome,
) -> Result<bool, ApiError> {
    let id = message.to_owned();
    let answer = json!({
        "text": done.text, "citations": done.citations, "clarification": done.clarification,
    })
    .to_string();
    let terms = serde_json::to_string(&done.terms).unwrap_or_else(|_| "[]".into());
    let to = done.state;
    let moved = state
        .store
        .call(move |c| {
            Ok(c.execute(
                "UPDATE ai_messages SET state = ?2, answer = ?3, terms = ?4, updated = ?5 \
                 WHERE id = ?1 AND state NOT IN ('complete', 'errored', 'needs_input')",
                (&id, to, answer, terms, ids::now()),
            )? == 1)
        })
        .await?;
    if moved {
        state.activity.post(ws, format!("ai_chat:{chat}"));
    }
    Ok(moved)
}

async fn run(
    state: &Arc<EmulatorState>,
    ws: &str,
    chat: &str,
    message: &str,
) -> Result<(), ApiError> {
    if !step(state, ws, chat, message, IN_PROGRESS).await? {
        return Ok(());
    }
    let done = answer_for(state, ws, chat, message).await?;
    if !step(state, ws, chat, message, POST_PROCESSING).await? {
        return Ok(());
    }
    tokio::time::sleep(state.config.ai.answer_delay).await;
    finish(state, ws, chat, message, &done).await?;
    Ok(())
}

/// The answer to one message.
async fn answer_for(
    state: &Arc<EmulatorState>,
    ws: &str,
    chat: &str,
    message: &str,
) -> Result<Outcome, ApiError> {
    let (w, ch, id) = (ws.to_owned(), chat.to_owned(), message.to_owned());
    let (m, previous) = state
        .store
        .call(move |c| {
            let all = chats::messages(c, &ch)?;
            let m = all
                .iter()
                .find(|m| m.id == id)
                .cloned()
                .ok_or_else(|| ApiError::not_found("message not found"))?;
            // The latest earlier question with content terms (what a follow-up borrows).
            let previous: Vec<String> = all
                .iter()
                .filter(|p| p.seq < m.seq)
                .rev()
                .filter_map(|p| p.terms.as_deref())
                .filter_map(|t| serde_json::from_str::<Vec<String>>(t).ok())
                .find(|t| !t.is_empty())
                .unwrap_or_default();
            let _ = &w;
            Ok((m, previous))
        })
        .await?;
    let scope: Scope = serde_json::from_str(&m.scope).unwrap_or_default();
    let terms = Terms::follow_up(&m.question, &previous);
    let ai = &state.config.ai;
    if scope.is_attachments() {
        let (w, s) = (ws.to_owned(), scope.clone());
        let files = state
            .store
            .call(move |c| scope::attached(c, &w, &s))
            .await?;
        if terms.own.is_empty() {
            return Ok(answer::clarify(files.len(), true));
        }
        let mut read = Vec::with_capacity(files.len());
        for n in &files {
            let kind = nodes::doc_kind(&n.name, n.mimetype.as_deref().unwrap_or_default());
            let passages = match kind {
                Some(k) => read_passages(state, n, k).await.unwrap_or_default(),
                None => Vec::new(),
            };
            read.push(Attached {
                name: n.name.clone(),
                passages,
            });
        }
        return Ok(answer::from_attachments(&terms, &read, ai.min_coverage));
    }
    let (w, s) = (ws.to_owned(), scope.clone());
    let files = state
        .store
        .call(move |c| scope::files_in(c, &w, &s))
        .await?;
    if terms.own.is_empty() {
        return Ok(answer::clarify(files.len(), false));
    }
    let ready: Vec<(String, String)> = files
        .iter()
        .filter(|n| nodes::ai_state(n) == "ready")
        .map(|n| (n.id.clone(), n.version.clone()))
        .collect();
    let indexing = files
        .iter()
        .filter(|n| matches!(nodes::ai_state(n), "pending" | "in_progress"))
        .count();
    let ids: Vec<String> = ready.iter().map(|(id, _)| id.clone()).collect();
    let (st, w, all) = (state.clone(), ws.to_owned(), terms.all());
    let hits = tokio::task::spawn_blocking(move || st.library.search(&w, &all, &ids, CANDIDATES))
        .await?
        .map_err(ApiError::Internal)?;
    let hits: Vec<_> = hits
        .into_iter()
        .filter(|h| ready.iter().any(|(id, v)| *id == h.node && *v == h.version))
        .collect();
    Ok(answer::from_index(
        &terms,
        &hits,
        files.len(),
        indexing,
        ai.min_score,
        ai.min_coverage,
    ))
}

/// After a restart: runs every message that had not ended.
pub async fn resume(state: &Arc<EmulatorState>) -> Result<(), ApiError> {
    let open = state.store.call(|c| chats::unfinished(c)).await?;
    for (ws, m) in open {
        if m.state != COMPLETE && m.state != ERRORED {
            spawn(state, ws, m.chat_id, m.id);
        }
    }
    Ok(())
}
