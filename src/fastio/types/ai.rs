//! AI chat records (`fastio-api.md` §8, §8.1): what a question is asked about, the chat and
//! message ids a question returns, an answer with its citations or clarifying question, a
//! node's indexing state, and what an activity long-poll reported. Reading is tolerant where
//! the contract says the wire varies; the readers live in `fastio::ai` and `fastio::activity`.

use std::fmt;

use serde::de::{IgnoredAny, MapAccess};
use serde::{Deserialize, Deserializer};

use crate::fastio::de::Scalar;

/// The longest question Fast.io takes, in characters (§8).
pub const MAX_QUESTION_CHARS: usize = 12_768;

/// Something a question is about: a file (at a version, or the current one) or a folder
/// (subtree). The same item shape serves `references` (scope) and `subjects` (attachments).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AiRef {
    /// A file; `version` `None` means its current version.
    File {
        /// The node id.
        node: String,
        /// A version id, or `None` for the current one.
        version: Option<String>,
    },
    /// A folder and everything under it (references only; as an attachment Fast.io answers 406).
    Folder {
        /// The folder's node id.
        node: String,
    },
}

/// What one question is asked over. Fast.io's sources disagree on combining both, so fastgate
/// sends one or the other (§8 "Preconditions").
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum AiScope {
    /// The whole workspace (no `references`).
    #[default]
    Workspace,
    /// Retrieval limited to these files and folders (`references`).
    References(Vec<AiRef>),
    /// These files read whole (`subjects`); answers carry no citations.
    Attachments(Vec<AiRef>),
}

/// The ids a new chat or a follow-up question returns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AskReceipt {
    /// The chat (thread) id.
    pub chat: String,
    /// The message (turn) id of this question.
    pub message: String,
}

/// The state of an answer (§8 "Read answer").
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum MessageState {
    /// Queued.
    Ready,
    /// Being answered.
    InProgress,
    /// Answer written, citations being attached.
    PostProcessing,
    /// Answered (possibly with "not found").
    Complete,
    /// Failed.
    Errored,
    /// Fast.io asks a clarifying question; reply with a follow-up in the same chat.
    NeedsInput,
    /// A state this client does not know, verbatim.
    Other(String),
}

impl MessageState {
    /// Reads a wire state (`inprogress` and `in progress` too).
    pub fn parse(text: &str) -> Self {
        match text
            .trim()
            .to_ascii_lowercase()
            .replace([' ', '-'], "_")
            .as_str()
        {
            "ready" | "pending" | "queued" => MessageState::Ready,
            "in_progress" | "inprogress" => MessageState::InProgress,
            "post_processing" | "postprocessing" => MessageState::PostProcessing,
            "complete" | "completed" | "done" => MessageState::Complete,
            "errored" | "error" | "failed" => MessageState::Errored,
            "needs_input" => MessageState::NeedsInput,
            other => MessageState::Other(other.to_owned()),
        }
    }

    /// The contract's spelling.
    pub fn as_str(&self) -> &str {
        match self {
            MessageState::Ready => "ready",
            MessageState::InProgress => "in_progress",
            MessageState::PostProcessing => "post_processing",
            MessageState::Complete => "complete",
            MessageState::Errored => "errored",
            MessageState::NeedsInput => "needs_input",
            MessageState::Other(text) => text,
        }
    }

    /// `complete`, `errored` and `needs_input` end a wait (§8).
    pub fn is_terminal(&self) -> bool {
        matches!(
            self,
            MessageState::Complete | MessageState::Errored | MessageState::NeedsInput
        )
    }
}

impl fmt::Display for MessageState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One place a cited file supports the answer.
#[derive(Debug, Clone, PartialEq)]
pub struct CitationEntry {
    /// The page (PDF), when given.
    pub page: Option<u64>,
    /// The row (CSV, 1 = the first row after the header), when given (an emulator addition,
    /// read when present).
    pub row: Option<u64>,
    /// The quoted passage.
    pub snippet: Option<String>,
    /// A media timestamp in seconds, when given.
    pub timestamp: Option<f64>,
}

/// A file an answer cites.
#[derive(Debug, Clone, PartialEq)]
pub struct Citation {
    /// The node id (`nodeId`).
    pub node: String,
    /// The version cited (`versionId`), when given.
    pub version: Option<String>,
    /// Where in the file.
    pub entries: Vec<CitationEntry>,
}

/// A question and its answer as `message/{id}/details/` reports them.
#[derive(Debug, Clone, PartialEq)]
pub struct AiMessage {
    /// The message id, when the reply carries it.
    pub id: Option<String>,
    /// Where the answer is.
    pub state: MessageState,
    /// The answer text (`response.text`, else a bare `text`); on `needs_input` Fast.io echoes
    /// the question here, so it is `None` then.
    pub answer: Option<String>,
    /// The cited files (empty with attachments, and when nothing was found).
    pub citations: Vec<Citation>,
    /// The clarifying question on `needs_input`.
    pub clarification: Option<String>,
}

/// A chat as the list and details calls show it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AiChat {
    /// The chat id (`id`, `chat_id` or `thread_id`, string or number).
    pub id: String,
    /// Its name (empty when not given).
    pub name: String,
}

/// What `cancel/` answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CancelOutcome {
    /// A running answer was stopped.
    Cancelled,
    /// Nothing was running (cancel is idempotent).
    NothingPending,
}

/// One return of the activity long-poll (§8.1).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Activity {
    /// The activity keys that changed (`ai_chat:{id}`, `storage:{node}`, …): a hint only;
    /// callers re-read what they care about.
    pub keys: Vec<String>,
    /// The opaque marker to send back as `lastactivity` next time.
    pub marker: Option<String>,
}

impl Activity {
    /// Whether `key` (e.g. `ai_chat:abc`) is among the changes.
    pub fn mentions(&self, key: &str) -> bool {
        self.keys.iter().any(|k| k == key)
    }
}

/// A node's AI indexing state (`ai.state`, §6.2).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum AiIndexState {
    /// Not reported.
    #[default]
    Unknown,
    /// Not indexed (media, or intelligence off).
    Disabled,
    /// Waiting to be indexed.
    Pending,
    /// Being indexed.
    InProgress,
    /// Indexed: questions can find it.
    Ready,
    /// Indexing failed.
    Failed,
    /// A state this client does not know, verbatim.
    Other(String),
}

impl AiIndexState {
    /// Reads a wire state (`inprogress` and `in_progress` alike).
    pub fn parse(text: &str) -> Self {
        // The spellings Fast.io sends match before anything is normalised (and allocated).
        if let Some(known) = Self::known(text) {
            return known;
        }
        let normal = text.trim().to_ascii_lowercase().replace([' ', '-'], "_");
        Self::known(&normal).unwrap_or(AiIndexState::Other(normal))
    }

    /// The state a canonical spelling names.
    fn known(text: &str) -> Option<Self> {
        Some(match text {
            "" => AiIndexState::Unknown,
            "disabled" => AiIndexState::Disabled,
            "pending" => AiIndexState::Pending,
            "in_progress" | "inprogress" => AiIndexState::InProgress,
            "ready" => AiIndexState::Ready,
            "failed" | "error" => AiIndexState::Failed,
            _ => return None,
        })
    }

    /// Still on its way to `ready`.
    pub fn is_indexing(&self) -> bool {
        matches!(self, AiIndexState::Pending | AiIndexState::InProgress)
    }
}

/// A node's `ai` object: `{state, attach, summary}`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct NodeAi {
    /// Indexing state.
    pub state: AiIndexState,
    /// Whether the file can be attached to a question.
    pub attach: Option<bool>,
}

impl<'de> Deserialize<'de> for NodeAi {
    /// `{state, attach}`, or a bare state string should a terse answer send one.
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        crate::fastio::de::lenient_object(d)
    }
}

impl<'de> crate::fastio::de::LenientObject<'de> for NodeAi {
    fn field<A: MapAccess<'de>>(&mut self, key: &str, map: &mut A) -> Result<(), A::Error> {
        match key {
            "state" => {
                let state: Scalar<'de> = map.next_value()?;
                self.state = state.text().map(AiIndexState::parse).unwrap_or_default();
            }
            "attach" => self.attach = map.next_value::<Scalar<'de>>()?.flag(),
            _ => {
                map.next_value::<IgnoredAny>()?;
            }
        }
        Ok(())
    }

    fn not_an_object(value: Scalar<'de>) -> Self {
        NodeAi {
            state: value.text().map(AiIndexState::parse).unwrap_or_default(),
            attach: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn message_states_read_every_spelling_and_know_the_terminal_ones() {
        assert_eq!(MessageState::parse("in_progress"), MessageState::InProgress);
        assert_eq!(MessageState::parse("inprogress"), MessageState::InProgress);
        assert_eq!(
            MessageState::parse("post_processing"),
            MessageState::PostProcessing
        );
        assert_eq!(MessageState::parse("NEEDS_INPUT"), MessageState::NeedsInput);
        for s in ["complete", "errored", "needs_input"] {
            assert!(MessageState::parse(s).is_terminal(), "{s}");
        }
        for s in ["ready", "in_progress", "post_processing", "thinking"] {
            assert!(!MessageState::parse(s).is_terminal(), "{s}");
        }
        assert_eq!(MessageState::parse("thinking").as_str(), "thinking");
    }

    #[test]
    fn node_ai_reads_the_object_and_a_bare_state() {
        let ai: NodeAi =
            serde_json::from_value(json!({"state": "inprogress", "attach": true})).expect("ai");
        assert_eq!(ai.state, AiIndexState::InProgress);
        assert!(ai.state.is_indexing());
        assert_eq!(ai.attach, Some(true));
        let ai: NodeAi = serde_json::from_value(json!("ready")).expect("ai");
        assert_eq!(ai.state, AiIndexState::Ready);
        let ai: NodeAi = serde_json::from_value(json!(null)).expect("ai");
        assert_eq!(ai.state, AiIndexState::Unknown);
    }
}
