//! Keyword search over a workspace's names (§6.6, §11 "Search").
//!
//! Case-insensitive substring match (Unicode lower case) on every node of the workspace,
//! trashed ones included so that clients prove they filter them (`deleted:true` at standard
//! output and above; a top-level trashed node's `parent_id` is `trash`). Ordered by name, then
//! id. `search` must be 2–1,000 characters (§6.6; 400/1605 otherwise); `limit` 1–500, default
//! 100, or 10 with `details=true`; `offset` ≥ 0; `page_size`/`cursor` are ignored.
//!
//! Answer shapes: shape A (`files` map keyed by node id, with `pagination`) by default, shape B
//! (`results[]` with `node_id`, `score`, `content`, `node`) for `details=true`;
//! [`SearchStyle`](crate::emulator::SearchStyle) forces either and can drop `pagination`. In
//! shape B, `content` is the matched name and `score` a keyword score in 0–0.5 (the share of the
//! name the query covers, halved).

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::{Path, Query, State};
use serde_json::{Map, Value, json};

use super::nodes::{self, NodeRow, Output};
use super::workspaces;
use crate::emulator::config::SearchShape;
use crate::emulator::state::EmulatorState;
use crate::emulator::transport::auth::Caller;
use crate::emulator::transport::envelope::Envelope;
use crate::emulator::transport::error::ApiError;

fn number(q: &HashMap<String, String>, key: &str, default: u64) -> Result<u64, ApiError> {
    match q.get(key).map(|v| v.trim()) {
        None => Ok(default),
        Some(v) => v
            .parse()
            .map_err(|_| ApiError::invalid(format!("{key} must be a non-negative integer"))),
    }
}

/// `GET /workspace/{ws}/storage/search/` (§6.6).
pub async fn search(
    State(state): State<Arc<EmulatorState>>,
    _: Caller,
    Path(ws): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Envelope, ApiError> {
    let ws = workspaces::resolve(&state, &ws).await?;
    let query = q
        .get("search")
        .map(|s| s.trim().to_owned())
        .unwrap_or_default();
    let chars = query.chars().count();
    if !(2..=1000).contains(&chars) {
        return Err(ApiError::invalid(format!(
            "search must be 2 to 1000 characters (got {chars})"
        )));
    }
    let details = matches!(q.get("details").map(String::as_str), Some("true" | "1"));
    let limit = number(&q, "limit", if details { 10 } else { 100 })?;
    if !(1..=500).contains(&limit) {
        return Err(ApiError::invalid("limit must be between 1 and 500"));
    }
    let offset = number(&q, "offset", 0)?;
    let out = Output::parse(q.get("output").map(String::as_str))?;
    let style = state.config.search;
    let shape_b = match style.shape {
        SearchShape::ByRequest => details,
        SearchShape::Files => false,
        SearchShape::Results => true,
    };
    let base = state.public_base.clone();
    let needle = query.to_lowercase();
    state
        .store
        .call(move |c| {
            let hits: Vec<NodeRow> = nodes::all_in(c, &ws)?
                .into_iter()
                .filter(|n| n.name.to_lowercase().contains(&needle))
                .collect();
            let total = hits.len() as u64;
            let page: Vec<NodeRow> = hits
                .into_iter()
                .skip(offset as usize)
                .take(limit as usize)
                .collect();
            let has_more = offset + (page.len() as u64) < total;
            let mut body = if shape_b {
                let results: Vec<Value> = page
                    .iter()
                    .map(|n| {
                        let score = 0.5 * chars as f64 / n.name.chars().count().max(1) as f64;
                        json!({"node_id": n.id, "score": score.min(0.5), "content": n.name,
                               "node": nodes::node_json(n, Output::Full, &base)})
                    })
                    .collect();
                json!({"results": results})
            } else {
                let files: Map<String, Value> = page
                    .iter()
                    .map(|n| (n.id.clone(), entry(n, out, &base, &ws)))
                    .collect();
                json!({"files": files})
            };
            if !style.drop_pagination {
                body["pagination"] = json!({"total": total, "limit": limit, "offset": offset,
                                            "has_more": has_more});
            }
            Ok(Envelope(body))
        })
        .await
}

/// A shape-A entry: no `id` (the map key is the id).
fn entry(n: &NodeRow, out: Output, base: &str, ws: &str) -> Value {
    let mut v = json!({
        "name": n.name, "parent_id": n.parent, "type": n.kind,
        "web_url": format!("{base}/workspace/{ws}/preview/{}", n.id),
    });
    if out != Output::Terse {
        v["deleted"] = json!(n.deleted);
        if n.kind == "file" {
            v["mimetype"] = json!(n.mimetype);
        }
    }
    v
}
