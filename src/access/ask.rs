//! Who owns which AI chat. Every Fast.io call is made with the gateway's one API key, so
//! Fast.io sees one user; the access database records which fastgate caller started each chat
//! and the questions asked in it, and only that caller (in that workspace) finds it again —
//! everyone else gets [`Error::NotFound`], as for anything they may not see.

use super::{Access, Error, Principal, PrincipalKind, Result};
use crate::db::{Atomic, Row, Step};

/// What a question was asked over (the `mode` column).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AskMode {
    /// The whole workspace.
    Workspace,
    /// Retrieval limited to a folder or files.
    References,
    /// Files attached and read whole (answers carry no citations).
    Attachments,
}

impl AskMode {
    /// The stored word.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Workspace => "workspace",
            Self::References => "references",
            Self::Attachments => "attachments",
        }
    }

    fn parse(s: &str) -> Result<Self> {
        match s {
            "workspace" => Ok(Self::Workspace),
            "references" => Ok(Self::References),
            "attachments" => Ok(Self::Attachments),
            other => Err(Error::Internal(format!("unknown ask mode “{other}”"))),
        }
    }
}

/// A chat a caller started.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AskChat {
    /// Workspace id.
    pub workspace: String,
    /// Fast.io's chat id.
    pub chat: String,
    /// The first question, shortened, as its title.
    pub title: String,
    /// Epoch milliseconds.
    pub created_at: i64,
}

/// One question of a chat.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AskMessage {
    /// Fast.io's message id.
    pub message: String,
    /// 1 for the first question, then 2, 3, ….
    pub seq: i64,
    /// The question as asked.
    pub question: String,
    /// What it was asked over.
    pub mode: AskMode,
    /// Epoch milliseconds.
    pub created_at: i64,
}

/// The owner key of the chats `principal` starts: `user:<id>` for a user and for a token
/// (which acts for its owner), `proxy:<name>`, `open` (everyone, in open mode); `None` for an
/// upload-request link, which may not ask.
pub fn chat_owner(principal: &Principal) -> Option<String> {
    match &principal.kind {
        PrincipalKind::User { id, .. } => Some(format!("user:{id}")),
        PrincipalKind::Token { owner_id, .. } => Some(format!("user:{owner_id}")),
        PrincipalKind::Proxy { username } => Some(format!("proxy:{username}")),
        PrincipalKind::Open => Some("open".to_owned()),
        PrincipalKind::Link { .. } => None,
    }
}

/// The longest title kept, in characters.
const TITLE_CHARS: usize = 120;

const INSERT_MESSAGE: &str = "INSERT INTO ask_messages (workspace, chat, message, seq, question, mode, created_at)
     VALUES ($1, $2, $3, (SELECT COALESCE(MAX(seq), 0) + 1 FROM ask_messages WHERE workspace = $1 AND chat = $2), $4, $5, $6)";

impl Access {
    /// Records a new chat of `owner` in `workspace` with its first question.
    pub async fn record_chat(
        &self,
        workspace: &str,
        chat: &str,
        owner: &str,
        message: &str,
        question: &str,
        mode: AskMode,
    ) -> Result<()> {
        let title: String = question.trim().chars().take(TITLE_CHARS).collect();
        let now = self.now();
        let steps = vec![
            Step::run(
                "INSERT INTO ask_chats (workspace, chat, owner, title, created_at) VALUES ($1, $2, $3, $4, $5)",
                vec![
                    workspace.into(),
                    chat.into(),
                    owner.into(),
                    title.into(),
                    now.into(),
                ],
            ),
            Step::run(
                INSERT_MESSAGE,
                vec![
                    workspace.into(),
                    chat.into(),
                    message.into(),
                    question.into(),
                    mode.as_str().into(),
                    now.into(),
                ],
            ),
        ];
        match self.db.atomic(steps).await? {
            Atomic::Committed(_) => Ok(()),
            Atomic::RolledBack(_) => Err(Error::Conflict("that chat is already recorded".into())),
        }
    }

    /// Records a follow-up question in a chat already checked with [`Access::ask_chat`].
    pub async fn record_question(
        &self,
        workspace: &str,
        chat: &str,
        message: &str,
        question: &str,
        mode: AskMode,
    ) -> Result<()> {
        self.db
            .execute(
                INSERT_MESSAGE,
                vec![
                    workspace.into(),
                    chat.into(),
                    message.into(),
                    question.into(),
                    mode.as_str().into(),
                    self.now().into(),
                ],
            )
            .await?;
        Ok(())
    }

    /// `owner`'s chat `chat` in `workspace`; [`Error::NotFound`] for anyone else's, another
    /// workspace's, or one that does not exist.
    pub async fn ask_chat(&self, workspace: &str, chat: &str, owner: &str) -> Result<AskChat> {
        let row = self
            .db
            .query_opt(
                "SELECT workspace, chat, title, created_at FROM ask_chats
                 WHERE workspace = $1 AND chat = $2 AND owner = $3",
                vec![workspace.into(), chat.into(), owner.into()],
            )
            .await?
            .ok_or(Error::NotFound)?;
        chat_row(&row)
    }

    /// `owner`'s most recent chats in `workspace`, newest first.
    pub async fn ask_chats(
        &self,
        workspace: &str,
        owner: &str,
        limit: i64,
    ) -> Result<Vec<AskChat>> {
        let rows = self
            .db
            .query(
                "SELECT workspace, chat, title, created_at FROM ask_chats
                 WHERE workspace = $1 AND owner = $2 ORDER BY created_at DESC, chat LIMIT $3",
                vec![workspace.into(), owner.into(), limit.into()],
            )
            .await?;
        rows.iter().map(chat_row).collect()
    }

    /// The questions of a chat, in the order asked.
    pub async fn ask_messages(&self, workspace: &str, chat: &str) -> Result<Vec<AskMessage>> {
        let rows = self
            .db
            .query(
                "SELECT message, seq, question, mode, created_at FROM ask_messages
                 WHERE workspace = $1 AND chat = $2 ORDER BY seq",
                vec![workspace.into(), chat.into()],
            )
            .await?;
        rows.iter()
            .map(|row| {
                Ok(AskMessage {
                    message: row.text(0)?,
                    seq: row.int(1)?,
                    question: row.text(2)?,
                    mode: AskMode::parse(&row.text(3)?)?,
                    created_at: row.int(4)?,
                })
            })
            .collect()
    }
}

fn chat_row(row: &Row) -> Result<AskChat> {
    Ok(AskChat {
        workspace: row.text(0)?,
        chat: row.text(1)?,
        title: row.text(2)?,
        created_at: row.int(3)?,
    })
}
