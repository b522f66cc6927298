//! What a question reads (§8 "Reference item", "Preconditions"): the scope (`references`: files
//! by node and version, folders by subtree; none = the whole workspace) or attachments
//! (`subjects`: files only, read whole).
//!
//! Emulator choices where the contract is unsure: `references` and `subjects` together →
//! 400/1605 (SK and SK-REF call it an error; fastgate sends one or the other). A folder among
//! the subjects → 406; more than 20 subjects or 200 MB → 403/1685 (the plan-limit code, as for
//! a batch of too many files); a subject AI cannot read (`ai.attach` false) → 400/1605. A
//! reference to a version other than the current one → 400/1605 (only current content is
//! indexed). An id that is not a live node of the workspace → 404/1609.

use rusqlite::Connection;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::emulator::config::AiConfig;
use crate::emulator::storage::nodes::{self, NodeRow};
use crate::emulator::transport::error::ApiError;

/// A parsed scope, as stored with each message.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct Scope {
    /// Referenced files and the version named (`None` = current).
    pub files: Vec<(String, Option<String>)>,
    /// Referenced folders (`root` = the whole workspace).
    pub folders: Vec<String>,
    /// Attached files.
    pub attach: Vec<String>,
}

impl Scope {
    /// Whether this is attachment mode.
    pub fn is_attachments(&self) -> bool {
        !self.attach.is_empty()
    }
}

/// A JSON id, string or number, as a string.
fn id_string(v: &Value) -> Option<String> {
    match v {
        Value::String(s) if !s.trim().is_empty() => Some(s.trim().to_owned()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// One reference item: (node id, version id if any, the `type` it claims).
fn item(v: &Value) -> Result<(String, Option<String>, String), ApiError> {
    let bad = || ApiError::invalid("each reference needs a type and a node id");
    let kind = v.get("type").and_then(Value::as_str).ok_or_else(bad)?;
    let details = match kind {
        "file" => v.get("file_details"),
        "folder" => v.get("folder_details"),
        other => return Err(ApiError::invalid(format!("unknown reference type {other}"))),
    };
    let id = details
        .and_then(|d| d.get("node_id"))
        .and_then(id_string)
        .or_else(|| v.get("id").and_then(id_string))
        .ok_or_else(bad)?;
    let version = details
        .and_then(|d| d.get("version_id"))
        .and_then(id_string);
    Ok((id, version, kind.to_owned()))
}

fn array(field: &str, raw: &str) -> Result<Vec<Value>, ApiError> {
    match serde_json::from_str::<Value>(raw) {
        Ok(Value::Array(a)) => Ok(a),
        _ => Err(ApiError::invalid(format!("{field} must be a JSON array"))),
    }
}

/// Parses the form fields; `None` when neither is given (a follow-up then keeps the previous
/// message's scope).
pub fn parse(references: Option<&str>, subjects: Option<&str>) -> Result<Option<Scope>, ApiError> {
    let refs = references
        .filter(|r| !r.trim().is_empty())
        .map(|r| array("references", r))
        .transpose()?
        .unwrap_or_default();
    let subs = subjects
        .filter(|r| !r.trim().is_empty())
        .map(|r| array("subjects", r))
        .transpose()?
        .unwrap_or_default();
    if references.is_none() && subjects.is_none() {
        return Ok(None);
    }
    if !refs.is_empty() && !subs.is_empty() {
        return Err(ApiError::invalid(
            "references (scope) and subjects (attachments) cannot be combined: send one or the other",
        ));
    }
    let mut scope = Scope::default();
    for v in &refs {
        let (id, version, kind) = item(v)?;
        if kind == "folder" {
            scope.folders.push(id);
        } else {
            scope.files.push((id, version.filter(|v| !v.is_empty())));
        }
    }
    for v in &subs {
        let (id, _, kind) = item(v)?;
        if kind == "folder" {
            return Err(ApiError::NotAcceptable(
                "a folder cannot be attached; attach files or use it as the scope".into(),
            ));
        }
        scope.attach.push(id);
    }
    Ok(Some(scope))
}

fn live(c: &Connection, ws: &str, id: &str) -> Result<NodeRow, ApiError> {
    match nodes::get(c, ws, id)? {
        Some(n) if !n.deleted => Ok(n),
        _ => Err(ApiError::not_found(format!("node {id} not found"))),
    }
}

/// Checks `scope` against the workspace. `too_large_code` is the 409 code for this call
/// (153795 new chat, 168116 follow-up).
pub fn check(
    c: &Connection,
    ws: &str,
    scope: &Scope,
    cfg: &AiConfig,
    too_large_code: u32,
) -> Result<(), ApiError> {
    for (id, version) in &scope.files {
        let n = live(c, ws, id)?;
        if let Some(v) = version.as_ref().filter(|_| n.kind == "file")
            && *v != n.version
        {
            return Err(ApiError::invalid(format!(
                "version {v} of {id} is not the current one; only current versions are indexed"
            )));
        }
    }
    for id in &scope.folders {
        if id != "root" {
            live(c, ws, id)?;
        }
    }
    if scope.attach.len() > cfg.max_attachments {
        return Err(ApiError::PlanLimit(format!(
            "at most {} files can be attached",
            cfg.max_attachments
        )));
    }
    let mut bytes = 0u64;
    for id in &scope.attach {
        let n = live(c, ws, id)?;
        if n.kind == "folder" {
            return Err(ApiError::NotAcceptable(
                "a folder cannot be attached; attach files or use it as the scope".into(),
            ));
        }
        if n.kind != "file"
            || nodes::doc_kind(&n.name, n.mimetype.as_deref().unwrap_or_default()).is_none()
        {
            return Err(ApiError::invalid(format!(
                "{} cannot be attached (ai.attach is false)",
                n.name
            )));
        }
        bytes += n.size;
    }
    if bytes > cfg.max_attachment_bytes {
        return Err(ApiError::PlanLimit(format!(
            "attachments may total at most {} bytes",
            cfg.max_attachment_bytes
        )));
    }
    if bytes > cfg.max_conversation_bytes {
        return Err(ApiError::ConversationTooLarge {
            code: too_large_code,
            text: "the conversation is too large to continue; start a new chat".into(),
        });
    }
    Ok(())
}

/// The live files a RAG question reads: the referenced files, every file under the referenced
/// folders, or (no reference) every file of the workspace. Each once, in a stable order.
pub fn files_in(c: &Connection, ws: &str, scope: &Scope) -> Result<Vec<NodeRow>, ApiError> {
    let mut out: Vec<NodeRow> = Vec::new();
    let push = |n: NodeRow, out: &mut Vec<NodeRow>| {
        if n.kind == "file" && !n.deleted && !out.iter().any(|o| o.id == n.id) {
            out.push(n);
        }
    };
    if scope.files.is_empty() && scope.folders.is_empty() {
        for n in nodes::all_in(c, ws)? {
            push(n, &mut out);
        }
        return Ok(out);
    }
    for (id, _) in &scope.files {
        if let Some(n) = nodes::get(c, ws, id)? {
            if n.kind == "folder" {
                for sub in nodes::subtree(c, ws, &n.id)? {
                    if let Some(s) = nodes::get(c, ws, &sub)? {
                        push(s, &mut out);
                    }
                }
            } else {
                push(n, &mut out);
            }
        }
    }
    for folder in &scope.folders {
        let folder_live =
            folder == "root" || nodes::get(c, ws, folder)?.is_some_and(|f| !f.deleted);
        if !folder_live {
            continue;
        }
        for sub in nodes::subtree(c, ws, folder)? {
            if let Some(s) = nodes::get(c, ws, &sub)? {
                push(s, &mut out);
            }
        }
    }
    Ok(out)
}

/// The attached files, live ones only.
pub fn attached(c: &Connection, ws: &str, scope: &Scope) -> Result<Vec<NodeRow>, ApiError> {
    let mut out = Vec::new();
    for id in &scope.attach {
        out.push(live(c, ws, id)?);
    }
    Ok(out)
}
