//! What asking does, shared by the pages, the JSON API and the event stream: check the question
//! and its scope, ask Fast.io, record who owns the chat, audit; and read an answer back with
//! its citations resolved to files of the asker's workspace.
//!
//! Scope: `folder` becomes Fast.io `references` (retrieval within that subtree; `root` is the
//! whole workspace), `files` become `subjects` (attachments, read whole, answered without
//! citations). Fast.io's sources disagree on combining the two, so a question with both is
//! refused (400). Every named node is looked up in the route's workspace first: one of another
//! workspace (or none at all) is 404 before anything is asked. A folder among `files` goes to
//! Fast.io as it is and comes back as its 406, mapped to a clear 400.

use std::collections::{HashMap, HashSet};

use futures_util::future::join_all;
use serde::Serialize;

use crate::access::{self, AskChat, AskMessage, AskMode, AuditAction, Event};
use crate::fastio::{
    self, AiRef, AiScope, Citation, MAX_QUESTION_CHARS, MessageState, Node, NodeType,
};
use crate::web::AppState;
use crate::web::auth::{Caller, audit};
use crate::web::display;
use crate::web::error::AppError;
use crate::web::listing::{self, ROOT};

/// At most this many files can be attached to one question (Fast.io: 20 files or 200 MB).
pub const MAX_ATTACHMENTS: usize = 20;

/// The reason given when scope and attachments come together (`fastio-api.md` §8).
pub const SCOPE_AND_ATTACHMENTS: &str = "ask either within a folder (scope) or about attached files, not both: Fast.io's documentation calls scope and attachments together an error";

/// A question as the pages and the API take it.
#[derive(Clone, Debug, Default)]
pub struct Question {
    /// The text.
    pub text: String,
    /// A folder to search within (`root` or absent: the whole workspace).
    pub folder: Option<String>,
    /// Files to attach.
    pub files: Vec<String>,
    /// The chat this follows up, if any.
    pub chat: Option<String>,
}

/// What a question started.
#[derive(Clone, Debug, Serialize)]
pub struct Asked {
    /// The chat id.
    pub chat: String,
    /// The message id.
    pub message: String,
    /// Its state right after asking.
    pub state: String,
}

/// An answer as `GET /api/ask/{ws}/{chat}/{message}` shows it.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct Answer {
    /// The contract's state (`ready` … `complete`, `errored`, `needs_input`).
    pub state: String,
    /// The question asked.
    pub question: String,
    /// The answer text (none until complete, none on `needs_input`).
    pub answer: Option<String>,
    /// False when the files do not hold the answer (then there are no citations).
    pub found: bool,
    /// The clarifying question on `needs_input`.
    pub clarification: Option<String>,
    /// The cited files of this workspace, in the answer's `[n]` order.
    pub citations: Vec<Cited>,
}

impl Answer {
    /// Whether the answer is final (`complete`, `errored` or `needs_input`).
    pub fn is_final(&self) -> bool {
        MessageState::parse(&self.state).is_terminal()
    }
}

/// A cited file.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct Cited {
    /// Its number in the answer's `[n]` markers (Fast.io's order, from 1; kept when another
    /// citation was dropped).
    pub n: usize,
    /// Node id.
    pub node: String,
    /// Version cited, when given.
    pub version: Option<String>,
    /// The file's name.
    pub name: String,
    /// Its file page, at the first cited page.
    pub url: String,
    /// Where in the file.
    pub entries: Vec<CitedEntry>,
}

/// One cited place.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct CitedEntry {
    /// Page (PDF).
    pub page: Option<u64>,
    /// Row (CSV), when Fast.io gives one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub row: Option<u64>,
    /// The quoted passage.
    pub snippet: String,
    /// The file page at this page.
    pub url: String,
}

/// The owner key of the caller's chats (403 for an upload-request link).
pub fn owner(caller: &Caller) -> Result<String, AppError> {
    access::chat_owner(caller.principal()?).ok_or(AppError::Denied)
}

/// Checks a question's text: not blank, at most 12,768 characters.
pub fn check_text(text: &str) -> Result<(), AppError> {
    if text.trim().is_empty() {
        return Err(AppError::BadRequest("the question is empty".into()));
    }
    if text.chars().count() > MAX_QUESTION_CHARS {
        return Err(AppError::BadRequest(format!(
            "the question is longer than {MAX_QUESTION_CHARS} characters"
        )));
    }
    Ok(())
}

/// Asks `q` in workspace `ws` for `caller`: a new chat, or a follow-up in the caller's chat.
pub async fn ask(
    state: &AppState,
    caller: &Caller,
    ws: &str,
    q: Question,
) -> Result<Asked, AppError> {
    listing::ensure_exposed(state, ws)?;
    let owner = owner(caller)?;
    check_text(&q.text)?;
    let folder = q.folder.filter(|f| !f.is_empty());
    let files = dedupe(q.files);
    if folder.is_some() && !files.is_empty() {
        return Err(AppError::BadRequest(SCOPE_AND_ATTACHMENTS.into()));
    }
    if files.len() > MAX_ATTACHMENTS {
        return Err(AppError::BadRequest(format!(
            "at most {MAX_ATTACHMENTS} files can be attached to one question"
        )));
    }
    if let Some(chat) = &q.chat {
        state.access.ask_chat(ws, chat, &owner).await?;
    }
    let (scope, mode, scope_text) = resolve_scope(state, ws, folder.as_deref(), &files).await?;
    let receipt = match &q.chat {
        Some(chat) => state.fastio.follow_up(ws, chat, &q.text, &scope).await?,
        None => state.fastio.ask(ws, &q.text, &scope).await?,
    };
    match &q.chat {
        Some(_) => {
            state
                .access
                .record_question(ws, &receipt.chat, &receipt.message, &q.text, mode)
                .await?
        }
        None => {
            state
                .access
                .record_chat(ws, &receipt.chat, &owner, &receipt.message, &q.text, mode)
                .await?
        }
    }
    let shown: String = q.text.chars().take(200).collect();
    let event = Event::new(AuditAction::QuestionAsked)
        .workspace(ws)
        .target(&receipt.chat)
        .detail(&format!("{scope_text}: {shown}"));
    audit::record(state, caller, event).await;
    tracing::info!(workspace = ws, chat = %receipt.chat, message = %receipt.message, scope = %scope_text, "question asked");
    let current = state
        .fastio
        .ai_message(ws, &receipt.chat, &receipt.message)
        .await
        .map(|m| m.state.as_str().to_owned())
        .unwrap_or_else(|_| MessageState::Ready.as_str().to_owned());
    Ok(Asked {
        chat: receipt.chat,
        message: receipt.message,
        state: current,
    })
}

fn dedupe(files: Vec<String>) -> Vec<String> {
    let mut seen = HashSet::new();
    files
        .into_iter()
        .map(|f| f.trim().to_owned())
        .filter(|f| !f.is_empty() && seen.insert(f.clone()))
        .collect()
}

/// The upstream scope, the stored mode and a line for the audit log.
async fn resolve_scope(
    state: &AppState,
    ws: &str,
    folder: Option<&str>,
    files: &[String],
) -> Result<(AiScope, AskMode, String), AppError> {
    if let Some(folder) = folder.filter(|f| *f != ROOT) {
        let node = listing::folder_node(state, ws, folder).await?;
        if node.is_trashed() {
            return Err(AppError::NotFound("no such folder".into()));
        }
        let scope = AiScope::References(vec![AiRef::Folder { node: node.id }]);
        return Ok((scope, AskMode::References, format!("folder {folder}")));
    }
    if files.is_empty() {
        return Ok((AiScope::Workspace, AskMode::Workspace, "workspace".into()));
    }
    let nodes = join_all(files.iter().map(|f| file_node(state, ws, f))).await;
    let mut refs = Vec::with_capacity(files.len());
    for node in nodes {
        let node = node?;
        refs.push(match node.node_type {
            NodeType::Folder => AiRef::Folder { node: node.id },
            _ => AiRef::File {
                node: node.id,
                version: None,
            },
        });
    }
    let text = format!("{} attached", files.len());
    Ok((AiScope::Attachments(refs), AskMode::Attachments, text))
}

/// Node `id` of `ws`, 404 when it is not there (another workspace's included) or trashed.
async fn file_node(state: &AppState, ws: &str, id: &str) -> Result<Node, AppError> {
    let missing = || AppError::NotFound(format!("no file “{id}” in this workspace"));
    let node = state.fastio.node(ws, id).await.map_err(|e| match e {
        fastio::Error::NotFound { .. } | fastio::Error::InvalidArgument(_) => missing(),
        other => other.into(),
    })?;
    if node.is_trashed() {
        return Err(missing());
    }
    Ok(node)
}

/// The caller's chat `chat` of `ws` and its questions (404 for anyone else's).
pub async fn chat(
    state: &AppState,
    caller: &Caller,
    ws: &str,
    chat: &str,
) -> Result<(AskChat, Vec<AskMessage>), AppError> {
    listing::ensure_exposed(state, ws)?;
    let owner = owner(caller)?;
    let found = state.access.ask_chat(ws, chat, &owner).await?;
    let messages = state.access.ask_messages(ws, chat).await?;
    Ok((found, messages))
}

/// Message `message` of the caller's chat `chat` (404 when either is not theirs).
pub async fn message(
    state: &AppState,
    caller: &Caller,
    ws: &str,
    chat_id: &str,
    message: &str,
) -> Result<AskMessage, AppError> {
    let (_, messages) = chat(state, caller, ws, chat_id).await?;
    messages
        .into_iter()
        .find(|m| m.message == message)
        .ok_or_else(|| AppError::NotFound("no such question in this chat".into()))
}

/// The answer to `asked` as it stands, citations resolved.
pub async fn answer(
    state: &AppState,
    ws: &str,
    chat: &str,
    asked: &AskMessage,
) -> Result<Answer, AppError> {
    let m = state.fastio.ai_message(ws, chat, &asked.message).await?;
    let citations = if m.state == MessageState::Complete {
        resolve_citations(state, ws, &m.citations).await
    } else {
        Vec::new()
    };
    let answered = m.answer.as_deref().is_some_and(|a| !a.trim().is_empty());
    let found = m.state == MessageState::Complete
        && match asked.mode {
            AskMode::Attachments => answered,
            AskMode::Workspace | AskMode::References => !citations.is_empty(),
        };
    Ok(Answer {
        state: m.state.as_str().to_owned(),
        question: asked.question.clone(),
        answer: m.answer.filter(|_| m.state.is_terminal()),
        found,
        clarification: m.clarification,
        citations,
    })
}

/// Cited files that are live files of `ws`; any other is dropped and logged.
async fn resolve_citations(state: &AppState, ws: &str, citations: &[Citation]) -> Vec<Cited> {
    let ids: Vec<&str> = {
        let mut seen = HashSet::new();
        citations
            .iter()
            .map(|c| c.node.as_str())
            .filter(|id| seen.insert(*id))
            .collect()
    };
    let looked_up = join_all(ids.iter().map(|id| state.fastio.node(ws, id))).await;
    let mut nodes: HashMap<&str, Node> = HashMap::new();
    for (id, result) in ids.iter().zip(looked_up) {
        match result {
            Ok(node) if node.node_type != NodeType::Folder && !node.is_trashed() => {
                nodes.insert(id, node);
            }
            Ok(_) => tracing::warn!(
                workspace = ws,
                node = id,
                "dropped a citation of a folder or trashed file"
            ),
            Err(error) => {
                tracing::warn!(workspace = ws, node = id, %error, "dropped a citation that does not resolve in this workspace")
            }
        }
    }
    citations
        .iter()
        .enumerate()
        .filter_map(|(i, c)| {
            let node = nodes.get(c.node.as_str())?;
            let entries: Vec<CitedEntry> = c
                .entries
                .iter()
                .map(|e| CitedEntry {
                    page: e.page,
                    row: e.row,
                    snippet: e.snippet.clone().unwrap_or_default(),
                    url: file_href(ws, &node.id, e.page),
                })
                .collect();
            Some(Cited {
                n: i + 1,
                node: node.id.clone(),
                version: c.version.clone(),
                name: node.name.clone(),
                url: file_href(ws, &node.id, entries.first().and_then(|e| e.page)),
                entries,
            })
        })
        .collect()
}

/// `/w/{ws}/f/{node}` (the file page), at `?page=N` when given.
pub fn file_href(ws: &str, node: &str, page: Option<u64>) -> String {
    let base = format!("/w/{}/f/{}", display::segment(ws), display::segment(node));
    match page {
        Some(page) => format!("{base}?page={page}"),
        None => base,
    }
}

/// How many files in a scope are still being indexed, of how many files seen.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Indexing {
    /// Files whose `ai.state` is `pending` or `in_progress`.
    pub pending: usize,
    /// Files looked at.
    pub files: usize,
}

/// The most folders walked for the indexing banner (it is a hint, not an inventory).
const MAX_FOLDERS_WALKED: usize = 50;

/// Counts the files still indexing under `folder` (`root`: the workspace), walking subfolders
/// breadth-first up to a bound, or among `files` when those are given.
pub async fn indexing(
    state: &AppState,
    ws: &str,
    folder: &str,
    files: &[String],
) -> Result<Indexing, AppError> {
    let mut count = Indexing::default();
    if !files.is_empty() {
        for node in join_all(files.iter().map(|f| file_node(state, ws, f))).await {
            let node = node?;
            if node.node_type != NodeType::Folder {
                count.files += 1;
                count.pending += usize::from(node.ai.state.is_indexing());
            }
        }
        return Ok(count);
    }
    let mut queue = std::collections::VecDeque::from([folder.to_owned()]);
    let mut walked = 0;
    while let Some(current) = queue.pop_front() {
        walked += 1;
        if walked > MAX_FOLDERS_WALKED {
            break;
        }
        let mut query = fastio::ListQuery {
            page_size: fastio::PageSize::P500,
            ..fastio::ListQuery::default()
        };
        loop {
            let page = state.fastio.list_folder(ws, &current, &query).await?;
            for node in &page.nodes {
                match node.node_type {
                    NodeType::Folder => queue.push_back(node.id.clone()),
                    _ => {
                        count.files += 1;
                        count.pending += usize::from(node.ai.state.is_indexing());
                    }
                }
            }
            match page.next_cursor {
                Some(cursor) => query.cursor = Some(cursor),
                None => break,
            }
        }
    }
    Ok(count)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn questions_must_be_non_blank_and_within_the_limit() {
        assert!(check_text("  \n").is_err());
        assert!(check_text(&"x".repeat(MAX_QUESTION_CHARS)).is_ok());
        let e = check_text(&"x".repeat(MAX_QUESTION_CHARS + 1)).expect_err("too long");
        assert_eq!(e.status().as_u16(), 400);
    }

    #[test]
    fn file_links_carry_the_cited_page() {
        assert_eq!(file_href("w1", "f 1", Some(2)), "/w/w1/f/f%201?page=2");
        assert_eq!(file_href("w1", "f1", None), "/w/w1/f/f1");
    }

    #[test]
    fn attached_files_are_deduplicated_in_order() {
        let files = dedupe(vec!["b".into(), " a ".into(), "b".into(), "".into()]);
        assert_eq!(files, ["b", "a"]);
    }
}
