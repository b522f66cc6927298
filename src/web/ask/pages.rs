//! The ask pages: `/w/{ws}/ask` (a question box, the scope, a banner of files still indexing,
//! the caller's recent chats) and `/w/{ws}/ask/{chat}` (the thread: each question, its answer
//! with `[n]` links to citation cards, a reply box for a clarifying question, a follow-up box).
//! Both work without JavaScript: the forms post here and redirect to the thread, and a thread
//! whose last answer is not final refreshes itself (a `<noscript>` meta refresh, CSP-safe);
//! with JavaScript, `ask.js` follows the answer's event stream instead.
//!
//! The scope comes as `folder=<id>` (search within it) or `files=<id>` repeated (attach them;
//! `node=<id>` too, the name of the folder page's checkboxes), in the query of the page or the
//! fields of the form, so the folder page's "Ask about selected…" button lands here.

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Path, RawQuery, Request, State};
use axum::response::{IntoResponse, Redirect, Response};
use chrono::{TimeZone, Utc};

use super::service::{self, Answer, Indexing, Question};
use super::text::{self, AnswerPiece, SnippetPiece};
use crate::access::AskMode;
use crate::web::AppState;
use crate::web::auth::Caller;
use crate::web::display;
use crate::web::error::AppError;
use crate::web::format;
use crate::web::listing::{self, ROOT};
use crate::web::templates::Chrome;

/// The largest question form read (a 12,768-character question, percent-encoded, fits).
const FORM_LIMIT: usize = 256 * 1024;

/// How many recent chats the ask page lists.
const RECENT_CHATS: i64 = 10;

/// `GET /w/{ws}/ask`.
#[derive(Template, WebTemplate)]
#[template(path = "ask.html")]
pub struct AskPage {
    /// The frame.
    pub chrome: Chrome,
    /// Where the question form posts.
    pub action: String,
    /// Workspace id.
    pub workspace_id: String,
    /// Workspace name.
    pub workspace_name: String,
    /// The folder the page was opened from (`root` for the workspace).
    pub folder: String,
    /// Its name.
    pub folder_name: String,
    /// Its browse page.
    pub folder_href: String,
    /// Opened from a folder other than the root.
    pub in_folder: bool,
    /// Files picked to attach.
    pub files: Vec<FileChoice>,
    /// Files in scope still being indexed.
    pub indexing: usize,
    /// The caller's recent chats here.
    pub chats: Vec<ChatLink>,
}

/// `GET /w/{ws}/ask/{chat}`.
#[derive(Template, WebTemplate)]
#[template(path = "ask_chat.html")]
pub struct AskChatPage {
    /// The frame.
    pub chrome: Chrome,
    /// Where the follow-up form posts.
    pub action: String,
    /// The ask page (a new question).
    pub ask_href: String,
    /// The first question.
    pub title: String,
    /// Workspace id.
    pub workspace_id: String,
    /// Workspace name.
    pub workspace_name: String,
    /// The thread.
    pub messages: Vec<MessageView>,
    /// An answer is still coming (the page refreshes itself without JavaScript).
    pub waiting: bool,
}

/// A file chosen on the folder page.
#[derive(Clone, Debug)]
pub struct FileChoice {
    /// Node id.
    pub id: String,
    /// Its name.
    pub name: String,
}

/// A chat in the recent list.
#[derive(Clone, Debug)]
pub struct ChatLink {
    /// Its page.
    pub href: String,
    /// Its first question.
    pub title: String,
    /// When, for people.
    pub when: String,
}

/// One question of a thread with its answer, ready to render.
#[derive(Clone, Debug)]
pub struct MessageView {
    /// Message id.
    pub id: String,
    /// The question.
    pub question: String,
    /// What it was asked over, for people.
    pub mode: &'static str,
    /// The contract's state.
    pub state: String,
    /// Whether the answer is final.
    pub is_final: bool,
    /// `needs_input`.
    pub needs_input: bool,
    /// `errored`.
    pub errored: bool,
    /// Complete but not in the files.
    pub not_found: bool,
    /// The clarifying question.
    pub clarification: Option<String>,
    /// The answer, split at its `[n]` markers.
    pub pieces: Vec<PieceView>,
    /// The citation cards.
    pub citations: Vec<CitationView>,
    /// The event stream of this answer (for `ask.js`).
    pub events_url: String,
}

/// A piece of an answer: text, or a link to citation card `n`.
#[derive(Clone, Debug)]
pub struct PieceView {
    /// The text (`[n]` for a marker).
    pub text: String,
    /// The card's anchor, for a marker whose citation is shown.
    pub anchor: Option<String>,
}

/// A citation card.
#[derive(Clone, Debug)]
pub struct CitationView {
    /// Its number.
    pub n: usize,
    /// Its anchor id.
    pub anchor: String,
    /// The file's name.
    pub name: String,
    /// The file page at the first cited page.
    pub url: String,
    /// The cited places.
    pub entries: Vec<EntryView>,
}

/// One cited place of a card.
#[derive(Clone, Debug)]
pub struct EntryView {
    /// `page 2`, or empty.
    pub label: String,
    /// The file page at this page.
    pub url: String,
    /// The snippet, with the question's words marked.
    pub pieces: Vec<SnippetPiece>,
}

/// `folder` and `files` from query or form pairs.
fn scope_of(pairs: &[(String, String)]) -> (Option<String>, Vec<String>) {
    let folder = pairs
        .iter()
        .find(|(k, v)| k == "folder" && !v.is_empty())
        .map(|(_, v)| v.clone());
    let files = pairs
        .iter()
        .filter(|(k, v)| (k == "files" || k == "node") && !v.is_empty())
        .map(|(_, v)| v.clone())
        .collect();
    (folder, files)
}

fn pairs_of(query: Option<&str>) -> Result<Vec<(String, String)>, AppError> {
    serde_urlencoded::from_str(query.unwrap_or(""))
        .map_err(|e| AppError::BadRequest(format!("the query could not be read: {e}")))
}

async fn read_form(req: Request) -> Result<Vec<(String, String)>, AppError> {
    let body = axum::body::to_bytes(req.into_body(), FORM_LIMIT)
        .await
        .map_err(|_| AppError::BadRequest("the form is too large".into()))?;
    serde_urlencoded::from_bytes(&body)
        .map_err(|e| AppError::BadRequest(format!("the form could not be read: {e}")))
}

fn field(pairs: &[(String, String)], name: &str) -> String {
    pairs
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.clone())
        .unwrap_or_default()
}

/// `GET /w/{workspace}/ask`.
pub async fn ask_page(
    State(state): State<AppState>,
    caller: Caller,
    Path(ws): Path<String>,
    RawQuery(query): RawQuery,
) -> Result<AskPage, AppError> {
    let (folder, files) = scope_of(&pairs_of(query.as_deref())?);
    let folder = folder.unwrap_or_else(|| ROOT.to_owned());
    let owner = service::owner(&caller)?;
    let workspace_name = listing::workspace_name(&state, &ws).await?;
    let folder_name = if folder == ROOT {
        workspace_name.clone()
    } else {
        listing::folder_node(&state, &ws, &folder).await?.name
    };
    let mut chosen = Vec::with_capacity(files.len());
    for id in &files {
        let node = crate::web::files::lookup(&state, &ws, id).await?;
        chosen.push(FileChoice {
            id: node.id,
            name: node.name,
        });
    }
    let (indexing, chats) = tokio::join!(
        service::indexing(&state, &ws, &folder, &files),
        state.access.ask_chats(&ws, &owner, RECENT_CHATS)
    );
    let indexing = indexing.unwrap_or_else(|error| {
        tracing::warn!(%error, "could not count the files still indexing");
        Indexing::default()
    });
    let now = Utc::now();
    let chats = chats?
        .into_iter()
        .map(|c| ChatLink {
            href: chat_href(&ws, &c.chat),
            title: c.title,
            when: Utc
                .timestamp_millis_opt(c.created_at)
                .single()
                .map(|t| format::human_date(t, now))
                .unwrap_or_default(),
        })
        .collect();
    Ok(AskPage {
        chrome: Chrome::of(&caller, Some(&ws)),
        action: ask_href(&ws),
        folder_href: display::folder_href(&ws, &folder),
        in_folder: folder != ROOT,
        workspace_id: ws,
        workspace_name,
        folder,
        folder_name,
        files: chosen,
        indexing: indexing.pending,
        chats,
    })
}

/// `POST /w/{workspace}/ask`: asks, then shows the thread.
pub async fn ask_post(
    State(state): State<AppState>,
    caller: Caller,
    Path(ws): Path<String>,
    req: Request,
) -> Result<Response, AppError> {
    let pairs = read_form(req).await?;
    let (folder, files) = scope_of(&pairs);
    let folder = match field(&pairs, "scope").as_str() {
        "workspace" => None,
        _ => folder,
    };
    let q = Question {
        text: field(&pairs, "question"),
        folder,
        files,
        chat: None,
    };
    let asked = service::ask(&state, &caller, &ws, q).await?;
    Ok(Redirect::to(&chat_href(&ws, &asked.chat)).into_response())
}

/// `POST /w/{workspace}/ask/{chat}`: a follow-up (or the reply to a clarifying question).
pub async fn follow_up_post(
    State(state): State<AppState>,
    caller: Caller,
    Path((ws, chat)): Path<(String, String)>,
    req: Request,
) -> Result<Response, AppError> {
    let pairs = read_form(req).await?;
    let (folder, files) = scope_of(&pairs);
    let q = Question {
        text: field(&pairs, "question"),
        folder,
        files,
        chat: Some(chat.clone()),
    };
    let asked = service::ask(&state, &caller, &ws, q).await?;
    Ok(Redirect::to(&format!("{}#m-{}", chat_href(&ws, &chat), asked.message)).into_response())
}

/// `GET /w/{workspace}/ask/{chat}`: the thread.
pub async fn chat_page(
    State(state): State<AppState>,
    caller: Caller,
    Path((ws, chat)): Path<(String, String)>,
) -> Result<AskChatPage, AppError> {
    let (found, messages) = service::chat(&state, &caller, &ws, &chat).await?;
    let workspace_name = listing::workspace_name(&state, &ws).await?;
    let answers = futures_util::future::join_all(
        messages
            .iter()
            .map(|m| service::answer(&state, &ws, &chat, m)),
    )
    .await;
    let mut views = Vec::with_capacity(messages.len());
    for (asked, answer) in messages.iter().zip(answers) {
        views.push(message_view(&ws, &chat, asked, &answer?));
    }
    let waiting = views.iter().any(|m| !m.is_final);
    Ok(AskChatPage {
        chrome: Chrome::of(&caller, Some(&ws)),
        action: chat_href(&ws, &chat),
        ask_href: ask_href(&ws),
        title: found.title,
        workspace_id: ws,
        workspace_name,
        messages: views,
        waiting,
    })
}

fn ask_href(ws: &str) -> String {
    format!("/w/{}/ask", display::segment(ws))
}

fn chat_href(ws: &str, chat: &str) -> String {
    format!("/w/{}/ask/{}", display::segment(ws), display::segment(chat))
}

fn message_view(
    ws: &str,
    chat: &str,
    asked: &crate::access::AskMessage,
    a: &Answer,
) -> MessageView {
    let words = text::question_words(&asked.question);
    let anchor = |n: usize| format!("c-{}-{n}", asked.message);
    let citations: Vec<CitationView> = a
        .citations
        .iter()
        .map(|c| CitationView {
            n: c.n,
            anchor: anchor(c.n),
            name: c.name.clone(),
            url: c.url.clone(),
            entries: c
                .entries
                .iter()
                .map(|e| EntryView {
                    label: match (e.page, e.row) {
                        (Some(p), _) => format!("page {p}"),
                        (None, Some(r)) => format!("row {r}"),
                        (None, None) => String::new(),
                    },
                    url: e.url.clone(),
                    pieces: text::snippet_pieces(&e.snippet, &words),
                })
                .collect(),
        })
        .collect();
    let highest = a.citations.iter().map(|c| c.n).max().unwrap_or(0);
    let pieces = a
        .answer
        .as_deref()
        .map(|answer| text::answer_pieces(answer, highest))
        .unwrap_or_default()
        .into_iter()
        .map(|piece| match piece {
            AnswerPiece::Text(text) => PieceView { text, anchor: None },
            AnswerPiece::Cite(n) => PieceView {
                text: format!("[{n}]"),
                anchor: citations.iter().any(|c| c.n == n).then(|| anchor(n)),
            },
        })
        .collect();
    let state = fastio_state(&a.state);
    MessageView {
        id: asked.message.clone(),
        question: asked.question.clone(),
        mode: match asked.mode {
            AskMode::Workspace => "the whole workspace",
            AskMode::References => "one folder",
            AskMode::Attachments => "the attached files",
        },
        is_final: a.is_final(),
        needs_input: state == crate::fastio::MessageState::NeedsInput,
        errored: state == crate::fastio::MessageState::Errored,
        not_found: state == crate::fastio::MessageState::Complete && !a.found,
        clarification: a.clarification.clone(),
        state: a.state.clone(),
        pieces,
        citations,
        events_url: format!(
            "/api/ask/{}/{}/{}/events",
            display::segment(ws),
            display::segment(chat),
            display::segment(&asked.message)
        ),
    }
}

fn fastio_state(s: &str) -> crate::fastio::MessageState {
    crate::fastio::MessageState::parse(s)
}
