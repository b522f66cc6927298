//! AI chat over workspace files (`fastio-api.md` §8, "Ripley", `/ai/agent/`): create a chat with
//! its first question, ask a follow-up, read an answer, list and delete chats and messages, and
//! cancel a running answer.
//!
//! Scope travels as `references` and attachments as `subjects`, each a JSON array inside a form
//! field with the item shape of §8 ([`ref_json`]). Fast.io's sources disagree on combining both,
//! so [`AiScope`] holds one or the other. The replies vary (nested `thread`/`turn` ids on create,
//! flat ids on a follow-up, ids as strings or numbers, the answer and citations and clarifying
//! question in several places), so the readers here are pure functions tested without a server.
//! Waiting is not done here: callers read [`Client::ai_message`] once and, while the state is not
//! terminal, long-poll [`Client::poll_activity`] and read again (§8 "Waiting"). SSE (§8.2) is
//! unverified on `/ai/agent/`, so this client has no SSE reader.
//!
//! Failures Fast.io names for AI become [`Error::AiRefused`]: a folder as an attachment (406), a
//! conversation too large to continue (409 with one of [`CONVERSATION_TOO_LARGE_CODES`]), and
//! intelligence off for the workspace (400/1605 saying so); no credits is
//! [`Error::PaymentRequired`] (402), decoded for every endpoint by the envelope.

use serde_json::{Map, Value, json};

use super::client::{Client, segment};
use super::de;
use super::envelope::Payload;
use super::error::{AiRefusal, Error};
use super::retry::Replay;
use super::types::{
    AiChat, AiMessage, AiRef, AiScope, AskReceipt, CancelOutcome, Citation, CitationEntry,
    MAX_QUESTION_CHARS, MessageState,
};

/// 409 codes meaning "start a new chat": workspace follow-up, workspace new chat, share
/// follow-up, share new chat (§2.2).
pub const CONVERSATION_TOO_LARGE_CODES: [i64; 4] = [168116, 153795, 148135, 144657];

impl Client {
    /// `…/ai/agent/{tail}` of workspace `ws`.
    fn agent_path(&self, ws: &str, tail: &str) -> Result<String, Error> {
        Ok(format!(
            "/workspace/{}/ai/agent/{tail}",
            segment(ws, "workspace id")?
        ))
    }

    /// `POST /workspace/{ws}/ai/agent/`: a new chat with its first `question` over `scope`.
    /// Sent once (a replay would open a second chat). An empty or over-long question is refused
    /// before sending.
    pub async fn ask(
        &self,
        ws: &str,
        question: &str,
        scope: &AiScope,
    ) -> Result<AskReceipt, Error> {
        let form = question_form(question, scope)?;
        let path = self.agent_path(ws, "")?;
        let op = self.op("POST /workspace/{ws}/ai/agent/", Replay::Once);
        let payload = self
            .call(op, |http| http.post(self.url(&path)).form(&form))
            .await
            .map_err(refine)?;
        receipt_from(&payload, None)
    }

    /// `POST …/ai/agent/{chat}/message/`: a follow-up (or the reply to a clarifying question)
    /// in `chat`. Sent once.
    pub async fn follow_up(
        &self,
        ws: &str,
        chat: &str,
        question: &str,
        scope: &AiScope,
    ) -> Result<AskReceipt, Error> {
        let form = question_form(question, scope)?;
        let path = self.agent_path(ws, &format!("{}/message/", segment(chat, "chat id")?))?;
        let op = self.op(
            "POST /workspace/{ws}/ai/agent/{chat}/message/",
            Replay::Once,
        );
        let payload = self
            .call(op, |http| http.post(self.url(&path)).form(&form))
            .await
            .map_err(refine)?;
        receipt_from(&payload, Some(chat))
    }

    /// `GET …/ai/agent/{chat}/message/{message}/details/`: the answer as it stands.
    pub async fn ai_message(
        &self,
        ws: &str,
        chat: &str,
        message: &str,
    ) -> Result<AiMessage, Error> {
        let path = self.agent_path(
            ws,
            &format!(
                "{}/message/{}/details/",
                segment(chat, "chat id")?,
                segment(message, "message id")?
            ),
        )?;
        let op = self.op(
            "GET /workspace/{ws}/ai/agent/{chat}/message/{message}/details/",
            Replay::Idempotent,
        );
        let payload = self.call(op, |http| http.get(self.url(&path))).await?;
        Ok(message_from(&payload))
    }

    /// `GET …/ai/agent/{chat}/messages/list/`: a page of the chat's messages (the collection
    /// key is unverified: `messages`, `turns`, `items` or `results`).
    pub async fn ai_messages(
        &self,
        ws: &str,
        chat: &str,
        limit: u32,
        offset: u32,
    ) -> Result<Vec<AiMessage>, Error> {
        let path = self.agent_path(ws, &format!("{}/messages/list/", segment(chat, "chat id")?))?;
        let op = self.op(
            "GET /workspace/{ws}/ai/agent/{chat}/messages/list/",
            Replay::Idempotent,
        );
        let query = [("limit", limit.to_string()), ("offset", offset.to_string())];
        let payload = self
            .call(op, |http| http.get(self.url(&path)).query(&query))
            .await?;
        Ok(payload
            .collection(&["messages", "turns", "items", "results"])
            .iter()
            .filter_map(Value::as_object)
            .map(|record| message_from(&Payload(record.clone())))
            .collect())
    }

    /// `GET …/ai/agent/list/`: a page of the key's chats (`kind=user`; the collection key is
    /// unverified: `chats`, `threads`, `items` or `results`).
    pub async fn ai_chats(&self, ws: &str, limit: u32, offset: u32) -> Result<Vec<AiChat>, Error> {
        let path = self.agent_path(ws, "list/")?;
        let op = self.op("GET /workspace/{ws}/ai/agent/list/", Replay::Idempotent);
        let query = [
            ("limit", limit.to_string()),
            ("offset", offset.to_string()),
            ("kind", "user".to_owned()),
        ];
        let payload = self
            .call(op, |http| http.get(self.url(&path)).query(&query))
            .await?;
        Ok(payload
            .collection(&["chats", "threads", "items", "results"])
            .iter()
            .filter_map(Value::as_object)
            .filter_map(chat_from)
            .collect())
    }

    /// `GET …/ai/agent/{chat}/details/`.
    pub async fn ai_chat(&self, ws: &str, chat: &str) -> Result<AiChat, Error> {
        let path = self.agent_path(ws, &format!("{}/details/", segment(chat, "chat id")?))?;
        let op = self.op(
            "GET /workspace/{ws}/ai/agent/{chat}/details/",
            Replay::Idempotent,
        );
        let payload = self.call(op, |http| http.get(self.url(&path))).await?;
        let record = payload.record(&["chat", "thread"]);
        let mut found = chat_from(&record).unwrap_or(AiChat {
            id: String::new(),
            name: String::new(),
        });
        if found.id.is_empty() {
            found.id = chat.to_owned();
        }
        Ok(found)
    }

    /// `DELETE …/ai/agent/{chat}/`: a soft delete (the chat moves to the deleted list).
    pub async fn delete_ai_chat(&self, ws: &str, chat: &str) -> Result<(), Error> {
        let path = self.agent_path(ws, &format!("{}/", segment(chat, "chat id")?))?;
        let op = self.op(
            "DELETE /workspace/{ws}/ai/agent/{chat}/",
            Replay::Idempotent,
        );
        self.call(op, |http| http.delete(self.url(&path))).await?;
        Ok(())
    }

    /// `POST …/ai/agent/{chat}/cancel/` with no body and no `Content-Type`. Answers without
    /// `result`: `{"success":true,"message":{…}}` or `{"success":true,"no_pending_message":true}`;
    /// an error is 406 with the flat `error_message`. Idempotent.
    pub async fn cancel_ai(&self, ws: &str, chat: &str) -> Result<CancelOutcome, Error> {
        let path = self.agent_path(ws, &format!("{}/cancel/", segment(chat, "chat id")?))?;
        let op = self.op(
            "POST /workspace/{ws}/ai/agent/{chat}/cancel/",
            Replay::Idempotent,
        );
        let payload = self.call(op, |http| http.post(self.url(&path))).await?;
        Ok(cancel_from(&payload))
    }
}

/// The form of a question: `question` and, by scope, `references` or `subjects`.
fn question_form(question: &str, scope: &AiScope) -> Result<Vec<(&'static str, String)>, Error> {
    if question.trim().is_empty() {
        return Err(Error::InvalidArgument("the question is empty".into()));
    }
    if question.chars().count() > MAX_QUESTION_CHARS {
        return Err(Error::InvalidArgument(format!(
            "the question is longer than {MAX_QUESTION_CHARS} characters"
        )));
    }
    let mut form = vec![("question", question.to_owned())];
    match scope {
        AiScope::Workspace => {}
        AiScope::References(refs) if !refs.is_empty() => {
            form.push(("references", refs_json(refs)));
        }
        AiScope::Attachments(refs) if !refs.is_empty() => {
            form.push(("subjects", refs_json(refs)));
        }
        AiScope::References(_) | AiScope::Attachments(_) => {}
    }
    Ok(form)
}

/// The JSON array text of `refs` (§8 "Reference item").
pub(crate) fn refs_json(refs: &[AiRef]) -> String {
    Value::Array(refs.iter().map(ref_json).collect()).to_string()
}

/// One reference item: a file `{"type":"file","id":N,"file_details":{"node_id":N,"version_id":V|""}}`
/// or a folder `{"type":"folder","id":N,"folder_details":{"node_id":N}}`.
pub(crate) fn ref_json(item: &AiRef) -> Value {
    match item {
        AiRef::File { node, version } => json!({
            "type": "file",
            "id": node,
            "file_details": {"node_id": node, "version_id": version.as_deref().unwrap_or("")},
        }),
        AiRef::Folder { node } => json!({
            "type": "folder",
            "id": node,
            "folder_details": {"node_id": node},
        }),
    }
}

/// The ids of a create (nested `thread.thread_id`, `turn.turn_id`) or follow-up (flat
/// `turn_id`, `thread_id`) answer, read either way; a follow-up may omit the chat id.
pub(crate) fn receipt_from(payload: &Payload, chat: Option<&str>) -> Result<AskReceipt, Error> {
    let nested = |outer: &str, keys: &[&str]| {
        payload.0.get(outer).and_then(|o| match o {
            Value::Object(m) => keys.iter().find_map(|k| m.get(*k).and_then(de::id)),
            other => de::id(other),
        })
    };
    let chat_id = nested("thread", &["thread_id", "id"])
        .or_else(|| nested("chat", &["chat_id", "id"]))
        .or_else(|| payload.id(&["thread_id", "chat_id"]))
        .or_else(|| chat.map(str::to_owned))
        .ok_or_else(|| Error::InvalidResponse("ask: no thread_id in the reply".into()))?;
    let message_id = nested("turn", &["turn_id", "id"])
        .or_else(|| nested("message", &["message_id", "turn_id", "id"]))
        .or_else(|| payload.id(&["turn_id", "message_id"]))
        .ok_or_else(|| Error::InvalidResponse("ask: no turn_id in the reply".into()))?;
    Ok(AskReceipt {
        chat: chat_id,
        message: message_id,
    })
}

/// A message from a details reply (`message:{…}`, `turn:{…}` on shares, or flat).
pub(crate) fn message_from(payload: &Payload) -> AiMessage {
    let top = &payload.0;
    let msg = ["message", "turn"]
        .iter()
        .find_map(|k| top.get(*k).and_then(Value::as_object))
        .unwrap_or(top);
    let state = [msg, top]
        .iter()
        .find_map(|m| {
            m.get("state")
                .or_else(|| m.get("status"))
                .and_then(Value::as_str)
        })
        .map(MessageState::parse)
        .unwrap_or_else(|| MessageState::Other(String::new()));
    let response = |m: &Map<String, Value>| m.get("response").and_then(Value::as_object).cloned();
    let text = |m: &Map<String, Value>| {
        m.get("text")
            .and_then(Value::as_str)
            .filter(|t| !t.is_empty())
            .map(str::to_owned)
    };
    let answer = response(msg)
        .as_ref()
        .and_then(text)
        .or_else(|| response(top).as_ref().and_then(text))
        .or_else(|| text(top))
        .or_else(|| text(msg));
    let citations = response(msg)
        .and_then(|r| r.get("citations").cloned())
        .or_else(|| msg.get("citations").cloned())
        .or_else(|| response(top).and_then(|r| r.get("citations").cloned()))
        .or_else(|| top.get("citations").cloned())
        .map(|v| citations_from(&v))
        .unwrap_or_default();
    let clarification = clarification_from(top, msg);
    AiMessage {
        id: ["id", "message_id", "turn_id"]
            .iter()
            .find_map(|k| msg.get(*k).and_then(de::id)),
        answer: if state == MessageState::NeedsInput {
            None
        } else {
            answer
        },
        state,
        citations,
        clarification,
    }
}

/// The clarifying question: `clarification.question` at the top level, in the message, under
/// `result`, under `response`; a bare string `clarification` counts too.
fn clarification_from(top: &Map<String, Value>, msg: &Map<String, Value>) -> Option<String> {
    let within = |m: &Map<String, Value>| -> Option<String> {
        match m.get("clarification")? {
            Value::Object(c) => c
                .get("question")
                .or_else(|| c.get("text"))
                .and_then(Value::as_str)
                .map(str::to_owned),
            Value::String(s) => Some(s.clone()),
            _ => None,
        }
        .filter(|q| !q.trim().is_empty())
    };
    let under =
        |m: &Map<String, Value>, key: &str| m.get(key).and_then(Value::as_object).and_then(within);
    within(top)
        .or_else(|| within(msg))
        .or_else(|| under(top, "result"))
        .or_else(|| under(msg, "result"))
        .or_else(|| under(msg, "response"))
        .or_else(|| under(top, "response"))
}

/// Citations: `[{nodeId, versionId, entries:[{page, snippet, timestamp}]}]` (snake_case
/// spellings accepted), or a map keyed by node id.
pub(crate) fn citations_from(value: &Value) -> Vec<Citation> {
    let items: Vec<(Option<String>, &Value)> = match value {
        Value::Array(items) => items.iter().map(|v| (None, v)).collect(),
        Value::Object(map) => map.iter().map(|(k, v)| (Some(k.clone()), v)).collect(),
        _ => Vec::new(),
    };
    items
        .into_iter()
        .filter_map(|(key, item)| {
            let m = item.as_object()?;
            let pick = |keys: &[&str]| keys.iter().find_map(|k| m.get(*k).and_then(de::id));
            let node = pick(&["nodeId", "node_id", "node", "id"]).or(key)?;
            let entries = m
                .get("entries")
                .and_then(Value::as_array)
                .map(|entries| entries.iter().filter_map(entry_from).collect())
                .unwrap_or_default();
            Some(Citation {
                node,
                version: pick(&["versionId", "version_id", "version"]),
                entries,
            })
        })
        .collect()
}

fn entry_from(value: &Value) -> Option<CitationEntry> {
    let m = value.as_object()?;
    Some(CitationEntry {
        page: m.get("page").and_then(de::u64_lenient),
        row: m.get("row").and_then(de::u64_lenient),
        snippet: m
            .get("snippet")
            .or_else(|| m.get("text"))
            .and_then(Value::as_str)
            .map(str::to_owned),
        timestamp: m.get("timestamp").and_then(|t| {
            t.as_f64()
                .or_else(|| t.as_str().and_then(|s| s.trim().parse().ok()))
        }),
    })
}

fn chat_from(m: &Map<String, Value>) -> Option<AiChat> {
    let id = ["id", "chat_id", "thread_id"]
        .iter()
        .find_map(|k| m.get(*k).and_then(de::id))?;
    Some(AiChat {
        id,
        name: m
            .get("name")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned(),
    })
}

fn cancel_from(payload: &Payload) -> CancelOutcome {
    let none_pending = payload
        .0
        .get("no_pending_message")
        .and_then(de::flag)
        .unwrap_or(false);
    if none_pending {
        CancelOutcome::NothingPending
    } else {
        CancelOutcome::Cancelled
    }
}

/// Names the AI refusals the caller can act on; every other error passes unchanged.
fn refine(e: Error) -> Error {
    match e {
        Error::Upstream {
            status: 406,
            code,
            message,
        } => Error::AiRefused {
            reason: AiRefusal::FolderAttachment,
            code,
            message,
        },
        Error::Upstream {
            status: 409,
            code: Some(code),
            message,
        } if CONVERSATION_TOO_LARGE_CODES.contains(&code) => Error::AiRefused {
            reason: AiRefusal::ConversationTooLarge,
            code: Some(code),
            message,
        },
        Error::Upstream {
            status: 400,
            code: Some(1605),
            message,
        } if message.to_ascii_lowercase().contains("intelligence") => Error::AiRefused {
            reason: AiRefusal::IntelligenceOff,
            code: Some(1605),
            message,
        },
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn payload(v: Value) -> Payload {
        match v {
            Value::Object(m) => Payload(m),
            _ => Payload::default(),
        }
    }

    #[test]
    fn references_and_subjects_use_the_contracts_item_shapes() {
        let refs = [
            AiRef::File {
                node: "f1".into(),
                version: None,
            },
            AiRef::File {
                node: "f2".into(),
                version: Some("v9".into()),
            },
            AiRef::Folder { node: "d1".into() },
        ];
        let text = refs_json(&refs);
        let back: Value = serde_json::from_str(&text).expect("json");
        assert_eq!(
            back,
            json!([
                {"type": "file", "id": "f1", "file_details": {"node_id": "f1", "version_id": ""}},
                {"type": "file", "id": "f2", "file_details": {"node_id": "f2", "version_id": "v9"}},
                {"type": "folder", "id": "d1", "folder_details": {"node_id": "d1"}}
            ])
        );
        let form = question_form("why?", &AiScope::References(refs.to_vec())).expect("form");
        assert_eq!(form[0], ("question", "why?".to_owned()));
        assert_eq!(form[1].0, "references");
        let form = question_form("why?", &AiScope::Attachments(refs[..1].to_vec())).expect("f");
        assert_eq!(form[1].0, "subjects");
        assert_eq!(
            question_form("why?", &AiScope::Workspace).expect("f").len(),
            1
        );
    }

    #[test]
    fn questions_are_checked_before_sending() {
        assert!(question_form("  ", &AiScope::Workspace).is_err());
        let long = "é".repeat(MAX_QUESTION_CHARS + 1);
        assert!(question_form(&long, &AiScope::Workspace).is_err());
        let max = "é".repeat(MAX_QUESTION_CHARS);
        assert!(question_form(&max, &AiScope::Workspace).is_ok());
    }

    #[test]
    fn create_answers_are_nested_and_follow_ups_flat_with_ids_as_strings_or_numbers() {
        let created = payload(json!({"thread": {"thread_id": 123}, "turn": {"turn_id": "t1"}}));
        assert_eq!(
            receipt_from(&created, None).expect("ids"),
            AskReceipt {
                chat: "123".into(),
                message: "t1".into()
            }
        );
        let flat = payload(json!({"turn_id": 77, "thread_id": "c1", "seq": 2, "status": "ready"}));
        let r = receipt_from(&flat, Some("c1")).expect("ids");
        assert_eq!((r.chat.as_str(), r.message.as_str()), ("c1", "77"));
        let no_chat = payload(json!({"turn_id": "t2"}));
        assert_eq!(receipt_from(&no_chat, Some("c9")).expect("ids").chat, "c9");
        assert!(receipt_from(&payload(json!({})), Some("c9")).is_err());
    }

    #[test]
    fn an_answer_is_read_from_response_text_with_its_citations() {
        let p = payload(json!({"message": {
            "id": "m1",
            "state": "complete",
            "text": "what is Q3 revenue?",
            "response": {"text": "Revenue was 4.2M [1].", "citations": [
                {"nodeId": "f1", "versionId": "v1",
                 "entries": [{"page": 2, "snippet": "revenue was 4.2M", "timestamp": null}]}
            ]}
        }}));
        let m = message_from(&p);
        assert_eq!(m.state, MessageState::Complete);
        assert_eq!(m.answer.as_deref(), Some("Revenue was 4.2M [1]."));
        assert_eq!(m.id.as_deref(), Some("m1"));
        assert_eq!(m.citations.len(), 1);
        assert_eq!(m.citations[0].node, "f1");
        assert_eq!(m.citations[0].version.as_deref(), Some("v1"));
        assert_eq!(m.citations[0].entries[0].page, Some(2));
        assert_eq!(
            m.citations[0].entries[0].snippet.as_deref(),
            Some("revenue was 4.2M")
        );
    }

    #[test]
    fn a_bare_text_and_citations_outside_response_are_found_too() {
        let p = payload(
            json!({"text": "top answer", "message": {"state": "complete",
            "citations": [{"node_id": 5, "entries": [{"page": "3", "snippet": "x", "row": 4}]}]}}),
        );
        let m = message_from(&p);
        assert_eq!(m.answer.as_deref(), Some("top answer"));
        assert_eq!(m.citations[0].node, "5");
        assert_eq!(m.citations[0].entries[0].page, Some(3));
        assert_eq!(m.citations[0].entries[0].row, Some(4));
        let flat = payload(json!({"state": "in_progress"}));
        let m = message_from(&flat);
        assert_eq!(m.state, MessageState::InProgress);
        assert_eq!(m.answer, None);
        assert!(m.citations.is_empty());
    }

    #[test]
    fn needs_input_gives_the_clarifying_question_not_the_echoed_question() {
        let p = payload(
            json!({"message": {"state": "needs_input", "text": "tell me about these",
            "clarification": {"type": "scope", "question": "Which files do you mean?"}}}),
        );
        let m = message_from(&p);
        assert_eq!(m.state, MessageState::NeedsInput);
        assert_eq!(m.answer, None);
        assert_eq!(m.clarification.as_deref(), Some("Which files do you mean?"));
        for p in [
            json!({"clarification": {"question": "top?"}, "message": {"state": "needs_input"}}),
            json!({"message": {"state": "needs_input", "result": {"clarification": {"question": "top?"}}}}),
            json!({"message": {"state": "needs_input", "response": {"clarification": {"question": "top?"}}}}),
            json!({"message": {"state": "needs_input", "clarification": "top?"}}),
        ] {
            assert_eq!(
                message_from(&payload(p.clone())).clarification.as_deref(),
                Some("top?"),
                "{p}"
            );
        }
    }

    #[test]
    fn cancel_knows_nothing_pending_from_a_cancelled_message() {
        let none = payload(json!({"success": true, "no_pending_message": true}));
        assert_eq!(cancel_from(&none), CancelOutcome::NothingPending);
        let done = payload(json!({"success": true, "message": {"state": "errored"}}));
        assert_eq!(cancel_from(&done), CancelOutcome::Cancelled);
    }

    #[test]
    fn ai_failures_become_named_refusals() {
        let up = |status, code, message: &str| Error::Upstream {
            status,
            code,
            message: message.into(),
        };
        let reason = |e: Error| match e {
            Error::AiRefused { reason, .. } => Some(reason),
            _ => None,
        };
        assert_eq!(
            reason(refine(up(406, None, "folders cannot be attached"))),
            Some(AiRefusal::FolderAttachment)
        );
        assert_eq!(
            reason(refine(up(409, Some(168116), "too large"))),
            Some(AiRefusal::ConversationTooLarge)
        );
        assert_eq!(
            reason(refine(up(400, Some(1605), "Intelligence is not enabled"))),
            Some(AiRefusal::IntelligenceOff)
        );
        assert_eq!(reason(refine(up(409, Some(1), "busy"))), None);
        assert_eq!(
            reason(refine(up(400, Some(1605), "question too long"))),
            None
        );
    }

    #[test]
    fn chats_take_their_id_from_any_of_the_names() {
        let m = json!({"chat_id": 42, "name": "Q3"});
        let chat = chat_from(m.as_object().expect("obj")).expect("chat");
        assert_eq!((chat.id.as_str(), chat.name.as_str()), ("42", "Q3"));
        let m = json!({"name": "no id"});
        assert!(chat_from(m.as_object().expect("obj")).is_none());
    }
}
