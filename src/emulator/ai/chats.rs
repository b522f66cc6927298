//! Chats and messages in SQLite (tables `ai_chats`, `ai_messages`) and their JSON (§8).
//!
//! Shapes where the contract is unsure (emulator choices): a chat is `{id, thread_id, name,
//! privacy, kind, created, updated, deleted, message_count}`; a message is `{id, turn_id,
//! thread_id, seq, state, question, text?, response:{text, citations}, clarification?, created,
//! updated}`. `text` is the answer once `complete`/`errored`, and **the user's own question on
//! `needs_input`** (§8); it is absent before a terminal state, where `response.text` is "".
//! Lists answer `chats[]` / `messages[]` with `pagination{total, limit, offset, has_more}`.

use rusqlite::{Connection, OptionalExtension, Row};
use serde_json::{Value, json};

use crate::emulator::transport::error::ApiError;

/// Message states (§8); the last three are terminal.
pub const READY: &str = "ready";
/// Retrieving.
pub const IN_PROGRESS: &str = "in_progress";
/// Writing the answer.
pub const POST_PROCESSING: &str = "post_processing";
/// Answered (found or "not found").
pub const COMPLETE: &str = "complete";
/// Failed or cancelled.
pub const ERRORED: &str = "errored";
/// Waiting for the user to clarify.
pub const NEEDS_INPUT: &str = "needs_input";

/// Whether `state` is terminal.
pub fn is_terminal(state: &str) -> bool {
    matches!(state, COMPLETE | ERRORED | NEEDS_INPUT)
}

/// One chat row.
#[derive(Debug, Clone)]
pub struct Chat {
    pub id: String,
    pub workspace_id: String,
    pub name: String,
    pub privacy: String,
    pub kind: String,
    pub created: String,
    pub updated: String,
    pub deleted: bool,
}

/// One message row.
#[derive(Debug, Clone)]
pub struct Message {
    pub id: String,
    pub chat_id: String,
    pub seq: i64,
    pub question: String,
    /// The [`Scope`](super::scope::Scope) as JSON.
    pub scope: String,
    pub state: String,
    /// `{text, citations, clarification}` once terminal.
    pub answer: Option<String>,
    /// Content terms a follow-up may borrow (JSON array).
    pub terms: Option<String>,
    pub created: String,
    pub updated: String,
}

const CHAT_COLS: &str = "id, workspace_id, name, privacy, kind, created, updated, deleted";
const MSG_COLS: &str = "id, chat_id, seq, question, scope, state, answer, terms, created, updated";

fn chat_row(r: &Row<'_>) -> rusqlite::Result<Chat> {
    Ok(Chat {
        id: r.get(0)?,
        workspace_id: r.get(1)?,
        name: r.get(2)?,
        privacy: r.get(3)?,
        kind: r.get(4)?,
        created: r.get(5)?,
        updated: r.get(6)?,
        deleted: r.get::<_, i64>(7)? != 0,
    })
}

fn msg_row(r: &Row<'_>) -> rusqlite::Result<Message> {
    Ok(Message {
        id: r.get(0)?,
        chat_id: r.get(1)?,
        seq: r.get(2)?,
        question: r.get(3)?,
        scope: r.get(4)?,
        state: r.get(5)?,
        answer: r.get(6)?,
        terms: r.get(7)?,
        created: r.get(8)?,
        updated: r.get(9)?,
    })
}

/// Inserts a chat.
pub fn insert_chat(c: &Connection, chat: &Chat) -> Result<(), ApiError> {
    c.execute(
        &format!("INSERT INTO ai_chats({CHAT_COLS}) VALUES (?1,?2,?3,?4,?5,?6,?7,?8)"),
        rusqlite::params![
            chat.id,
            chat.workspace_id,
            chat.name,
            chat.privacy,
            chat.kind,
            chat.created,
            chat.updated,
            chat.deleted as i64
        ],
    )?;
    Ok(())
}

/// Inserts a message.
pub fn insert_message(c: &Connection, m: &Message) -> Result<(), ApiError> {
    c.execute(
        &format!("INSERT INTO ai_messages({MSG_COLS}) VALUES (?1,?2,?3,?4,?5,?6,?7,?8,?9,?10)"),
        rusqlite::params![
            m.id, m.chat_id, m.seq, m.question, m.scope, m.state, m.answer, m.terms, m.created,
            m.updated
        ],
    )?;
    c.execute(
        "UPDATE ai_chats SET updated = ?2 WHERE id = ?1",
        (&m.chat_id, &m.created),
    )?;
    Ok(())
}

/// A chat of `ws` (deleted ones included), or 404/1609.
pub fn chat(c: &Connection, ws: &str, id: &str) -> Result<Chat, ApiError> {
    c.query_row(
        &format!("SELECT {CHAT_COLS} FROM ai_chats WHERE workspace_id = ?1 AND id = ?2"),
        (ws, id),
        chat_row,
    )
    .optional()?
    .ok_or_else(|| ApiError::not_found(format!("chat {id} not found")))
}

/// A live (not deleted) chat of `ws`, or 404/1609.
pub fn live_chat(c: &Connection, ws: &str, id: &str) -> Result<Chat, ApiError> {
    let chat = chat(c, ws, id)?;
    if chat.deleted {
        return Err(ApiError::not_found(format!("chat {id} was deleted")));
    }
    Ok(chat)
}

/// One message of a chat, or 404/1609.
pub fn message(c: &Connection, chat: &str, id: &str) -> Result<Message, ApiError> {
    c.query_row(
        &format!("SELECT {MSG_COLS} FROM ai_messages WHERE chat_id = ?1 AND id = ?2"),
        (chat, id),
        msg_row,
    )
    .optional()?
    .ok_or_else(|| ApiError::not_found(format!("message {id} not found")))
}

/// The messages of a chat, oldest first.
pub fn messages(c: &Connection, chat: &str) -> Result<Vec<Message>, ApiError> {
    let mut stmt = c.prepare(&format!(
        "SELECT {MSG_COLS} FROM ai_messages WHERE chat_id = ?1 ORDER BY seq"
    ))?;
    let rows = stmt.query_map([chat], msg_row)?.collect::<Result<_, _>>()?;
    Ok(rows)
}

/// Every message not yet in a terminal state (to resume after a restart).
pub fn unfinished(c: &Connection) -> Result<Vec<(String, Message)>, ApiError> {
    let mut stmt = c.prepare(&format!(
        "SELECT ai_chats.workspace_id, {} FROM ai_messages JOIN ai_chats \
         ON ai_chats.id = ai_messages.chat_id \
         WHERE ai_messages.state NOT IN ('complete', 'errored', 'needs_input')",
        MSG_COLS
            .split(", ")
            .map(|c| format!("ai_messages.{c}"))
            .collect::<Vec<_>>()
            .join(", ")
    ))?;
    let rows = stmt
        .query_map([], |r| {
            let ws: String = r.get(0)?;
            let m = Message {
                id: r.get(1)?,
                chat_id: r.get(2)?,
                seq: r.get(3)?,
                question: r.get(4)?,
                scope: r.get(5)?,
                state: r.get(6)?,
                answer: r.get(7)?,
                terms: r.get(8)?,
                created: r.get(9)?,
                updated: r.get(10)?,
            };
            Ok((ws, m))
        })?
        .collect::<Result<_, _>>()?;
    Ok(rows)
}

/// The chats of `ws`, newest first, `deleted` or live, of `kind` (`all` = any).
pub fn chats(c: &Connection, ws: &str, deleted: bool, kind: &str) -> Result<Vec<Chat>, ApiError> {
    let mut stmt = c.prepare(&format!(
        "SELECT {CHAT_COLS} FROM ai_chats WHERE workspace_id = ?1 AND deleted = ?2 \
         AND (?3 = 'all' OR kind = ?3) ORDER BY updated DESC, id DESC"
    ))?;
    let rows = stmt
        .query_map((ws, deleted as i64, kind), chat_row)?
        .collect::<Result<_, _>>()?;
    Ok(rows)
}

/// How many messages a chat has.
pub fn count(c: &Connection, chat: &str) -> Result<i64, ApiError> {
    Ok(c.query_row(
        "SELECT count(*) FROM ai_messages WHERE chat_id = ?1",
        [chat],
        |r| r.get(0),
    )?)
}

/// The chat object.
pub fn chat_json(chat: &Chat, messages: i64) -> Value {
    json!({
        "id": chat.id, "thread_id": chat.id, "name": chat.name, "privacy": chat.privacy,
        "kind": chat.kind, "created": chat.created, "updated": chat.updated,
        "deleted": chat.deleted, "message_count": messages,
    })
}

/// The message object.
pub fn message_json(m: &Message) -> Value {
    let answer: Value = m
        .answer
        .as_deref()
        .and_then(|a| serde_json::from_str(a).ok())
        .unwrap_or(Value::Null);
    let answer_text = answer["text"].as_str().unwrap_or_default().to_owned();
    let citations = match &answer["citations"] {
        Value::Array(a) => Value::Array(a.clone()),
        _ => json!([]),
    };
    let mut v = json!({
        "id": m.id, "turn_id": m.id, "thread_id": m.chat_id, "seq": m.seq, "state": m.state,
        "question": m.question, "response": {"text": answer_text, "citations": citations},
        "created": m.created, "updated": m.updated,
    });
    match m.state.as_str() {
        NEEDS_INPUT => {
            v["text"] = json!(m.question);
            v["clarification"] = answer["clarification"].clone();
        }
        COMPLETE | ERRORED => v["text"] = json!(answer_text),
        _ => {}
    }
    v
}
