//! The fields of a new session (§7.3, shared by §7.4 single-call and §7.10 stream): name rules
//! (§7.1 "Filenames"), `size` (required unless `stream`), `action` with `file_id`, the hash pair,
//! the target workspace and folder, and the plan limits on file size and open sessions.

use std::collections::HashMap;

use super::sessions::{self, Kind, SessionRow};
use crate::emulator::state::EmulatorState;
use crate::emulator::storage::{nodes, workspaces};
use crate::emulator::transport::error::ApiError;

fn bad_name(name: &str) -> bool {
    name.is_empty()
        || name.chars().count() > 255
        || name == "."
        || name == ".."
        || name.ends_with(' ')
        || name.ends_with('.')
        || name
            .chars()
            .any(|c| c == '/' || c == '\\' || c.is_control())
}

/// Validates create fields into a new session (§7.3).
pub async fn session_from_fields(
    state: &EmulatorState,
    f: &HashMap<String, String>,
    kind: Kind,
) -> Result<SessionRow, ApiError> {
    let get = |k: &str| f.get(k).map(|v| v.trim()).filter(|v| !v.is_empty());
    let name = get("name").ok_or_else(|| ApiError::invalid("name is required"))?;
    if bad_name(name) {
        return Err(ApiError::invalid("invalid file name"));
    }
    let stream = matches!(get("stream"), Some("true" | "1" | "yes"));
    let kind = if stream { Kind::Stream } else { kind };
    let mut s = SessionRow::new(kind, name.to_owned());
    let limits = &state.config.limits;
    let parse = |k: &str| -> Result<Option<u64>, ApiError> {
        get(k)
            .map(|v| {
                v.parse::<u64>()
                    .map_err(|_| ApiError::invalid(format!("invalid {k}")))
            })
            .transpose()
    };
    s.size = parse("size")?;
    s.max_size = parse("max_size")?;
    if kind != Kind::Stream && s.size.is_none() {
        return Err(ApiError::invalid("size is required"));
    }
    if s.size.unwrap_or(0) > limits.max_file_size || s.max_size.unwrap_or(0) > limits.max_file_size
    {
        return Err(ApiError::PlanLimit(format!(
            "the file size limit is {} bytes",
            limits.max_file_size
        )));
    }
    s.action = get("action").unwrap_or("create").to_owned();
    if s.action != "create" && s.action != "update" {
        return Err(ApiError::invalid("action must be create or update"));
    }
    s.file_id = get("file_id").map(str::to_owned);
    if s.action == "update" && s.file_id.is_none() {
        return Err(ApiError::invalid("file_id is required with action=update"));
    }
    s.hash = get("hash").map(str::to_owned);
    s.hash_algo = get("hash_algo").map(str::to_owned);
    if let Some(ws) = get("instance_id") {
        let profile = get("profile_type").unwrap_or("workspace");
        if profile != "workspace" {
            return Err(ApiError::invalid("only workspace targets are emulated"));
        }
        let ws = workspaces::resolve(state, ws).await?;
        let folder = get("folder_id").unwrap_or("root").to_owned();
        let (w, fo) = (ws.clone(), folder.clone());
        state
            .store
            .call(move |c| nodes::resolve_folder(c, &w, &fo))
            .await?;
        s.instance_id = Some(ws);
        s.profile_type = Some(profile.to_owned());
        s.folder_id = Some(folder);
    }
    let open = state.store.call(|c| sessions::count_unstored(c)).await?;
    if open >= limits.sessions {
        return Err(ApiError::PlanLimit("too many open upload sessions".into()));
    }
    Ok(s)
}
