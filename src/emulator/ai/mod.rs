//! AI chat over workspace files ("Ripley", `fastio-api.md` §8) as an honest, offline answer
//! engine, plus the activity long-poll (§8.1) that clients wait on.
//!
//! - `extract.rs`: file bytes → passages (PDF per page, DOCX, Markdown, HTML, text and code,
//!   CSV per row), bounded and panic-safe.
//! - `index.rs`: the per-workspace `tantivy` BM25 index (a leaf, held by `state.rs`).
//! - `indexing.rs`: `ai.state` `pending → in_progress → ready | failed` (or `disabled`) after
//!   each stored content, and the rebuild at start (the index is in memory only).
//! - `answer.rs`: content terms, the honesty gate, verbatim quotes and citations.
//! - `scope.rs`: `references` (scope) and `subjects` (attachments) as the contract encodes them.
//! - `chats.rs`: chats and messages in SQLite and their JSON; `turns.rs` runs one message
//!   through its states; `agent.rs`: the `/ai/agent/` routes; `activity.rs`: `/activity/poll/`.
//!
//! Imports: `agent.rs` → `turns.rs` → `answer.rs`, `scope.rs`, `indexing.rs` → `extract.rs` →
//! `storage::nodes`, and everything → `state.rs`. Storage reaches this module only through the
//! state's `IndexQueue` (it queues stored content) and `Activity` (it posts events).

pub mod activity;
pub mod agent;
pub mod answer;
pub mod chats;
pub mod extract;
pub mod index;
pub mod indexing;
pub mod scope;
pub mod turns;

use std::sync::Arc;

use super::state::EmulatorState;
use super::store;
use super::transport::error::EmulatorError;

/// Starts the indexer, queues the index rebuild and resumes unfinished messages.
pub async fn start(state: &Arc<EmulatorState>) -> Result<(), EmulatorError> {
    let user = state.store.call(|c| store::user_id(c)).await?;
    state.notifier.set_user(user);
    let st = state.clone();
    state.tasks.spawn(indexing::run(st));
    indexing::rebuild(state).await?;
    turns::resume(state).await?;
    Ok(())
}
