//! Name search (`fastio-api.md` §6.6): `GET /workspace/{ws}/storage/search/`.
//!
//! Which of the two answer shapes arrives cannot be told from the request, so the body is
//! sniffed: an object under `files` is shape A (keyed by node id), an array under `results` is
//! shape B, and an array under `files` is read as shape-A entries carrying their own id. Each
//! hit becomes a [`SearchHit`]. Keyword search returns trashed nodes, so the client asks for
//! `output=standard` and drops hits flagged `deleted:true` or under `trash`. Paging is
//! `limit`/`offset`; without `pagination` a full page means "more".

use serde_json::{Map, Value};

use super::client::{Client, segment};
use super::de;
use super::envelope::{Payload, parse};
use super::error::Error;
use super::retry::Replay;
use super::types::{Node, NodeType, SearchHit, SearchPage, SearchQuery};

/// Query length the storage search accepts (characters).
const QUERY_CHARS: std::ops::RangeInclusive<usize> = 2..=1000;

impl Client {
    /// One page of a workspace name search. A query outside 2–1,000 characters or a `limit`
    /// outside 1–500 is refused before sending ([`Error::InvalidArgument`]).
    pub async fn search(&self, ws: &str, q: &SearchQuery) -> Result<SearchPage, Error> {
        let query = q.query.trim();
        if !QUERY_CHARS.contains(&query.chars().count()) {
            return Err(Error::InvalidArgument(
                "a search needs 2 to 1000 characters".into(),
            ));
        }
        if !(1..=500).contains(&q.limit) {
            return Err(Error::InvalidArgument("limit must be 1 to 500".into()));
        }
        let path = format!(
            "/workspace/{}/storage/search/",
            segment(ws, "workspace id")?
        );
        let mut params = vec![
            ("search", query.to_owned()),
            ("limit", q.limit.to_string()),
            ("offset", q.offset.to_string()),
            ("output", "standard".to_owned()),
        ];
        if q.details {
            params.push(("details", "true".to_owned()));
        }
        let op = self.op("GET /workspace/{ws}/storage/search/", Replay::Idempotent);
        let payload = self
            .call(op, |http| http.get(self.url(&path)).query(&params))
            .await?;
        page_from(&payload, q)
    }
}

/// Normalises either shape into a page (pure, so both shapes are tested without a server).
pub(crate) fn page_from(payload: &Payload, q: &SearchQuery) -> Result<SearchPage, Error> {
    let (raw, sort): (Vec<(Option<String>, &Value)>, bool) =
        match (payload.0.get("files"), payload.0.get("results")) {
            (Some(Value::Object(map)), _) => (
                map.iter().map(|(k, v)| (Some(k.clone()), v)).collect(),
                true,
            ),
            (Some(Value::Array(items)), _) | (_, Some(Value::Array(items))) => {
                (items.iter().map(|v| (None, v)).collect(), false)
            }
            _ => (Vec::new(), false),
        };
    let count = raw.len() as u64;
    let mut hits = Vec::with_capacity(raw.len());
    for (key, entry) in raw {
        if let Some(hit) = hit_from(key, entry)? {
            hits.push(hit);
        }
    }
    if sort {
        hits.sort_by(|a, b| (a.name.to_lowercase(), &a.id).cmp(&(b.name.to_lowercase(), &b.id)));
    }
    let pagination = payload.0.get("pagination");
    let total = pagination
        .and_then(|p| p.get("total"))
        .and_then(de::u64_lenient);
    let more = match (
        pagination
            .and_then(|p| p.get("has_more"))
            .and_then(de::flag),
        total,
    ) {
        (Some(more), _) => more,
        (None, Some(total)) => q.offset + count < total,
        (None, None) => count >= u64::from(q.limit),
    };
    Ok(SearchPage {
        hits,
        total,
        next_offset: (more && count > 0).then_some(q.offset + count),
    })
}

/// One hit, or `None` when it is trashed (or has no id at all).
fn hit_from(key: Option<String>, entry: &Value) -> Result<Option<SearchHit>, Error> {
    let Some(map) = entry.as_object() else {
        return Ok(None);
    };
    let node: Option<Node> = match map.get("node") {
        Some(v @ Value::Object(_)) => Some(parse(v.clone(), "search hit node")?),
        _ => None,
    };
    let text = |m: &Map<String, Value>, k: &str| m.get(k).and_then(de::id);
    let id = key
        .or_else(|| text(map, "node_id"))
        .or_else(|| text(map, "id"))
        .or_else(|| node.as_ref().map(|n| n.id.clone()));
    let Some(id) = id else {
        return Ok(None);
    };
    let parent_id = text(map, "parent_id")
        .or_else(|| text(map, "parent"))
        .or_else(|| node.as_ref().and_then(|n| n.parent.clone()));
    let trashed = map.get("deleted").and_then(de::flag) == Some(true)
        || parent_id.as_deref() == Some("trash")
        || node.as_ref().is_some_and(Node::is_trashed);
    if trashed {
        return Ok(None);
    }
    let node_type = match map.get("type").and_then(Value::as_str) {
        Some(t) => parse(Value::String(t.to_owned()), "search hit type")?,
        None => node
            .as_ref()
            .map(|n| n.node_type.clone())
            .unwrap_or(NodeType::Other(String::new())),
    };
    Ok(Some(SearchHit {
        name: text(map, "name")
            .or_else(|| node.as_ref().map(|n| n.name.clone()))
            .unwrap_or_default(),
        id,
        parent_id,
        node_type,
        score: ["relevance_score", "score"]
            .iter()
            .find_map(|k| map.get(*k).and_then(Value::as_f64)),
        snippet: text(map, "content_snippet").or_else(|| text(map, "content")),
        node,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn payload(v: Value) -> Payload {
        match v {
            Value::Object(m) => Payload(m),
            _ => Payload::default(),
        }
    }

    #[test]
    fn shape_a_takes_the_id_from_the_key_and_drops_trashed_hits() {
        let p = payload(json!({
            "files": {
                "n2": {"name": "b.txt", "parent_id": "root", "type": "file"},
                "n1": {"name": "A.txt", "parent_id": null, "type": "file"},
                "n3": {"name": "gone.txt", "parent_id": "trash", "type": "file", "deleted": true}
            },
            "pagination": {"total": 3, "limit": 100, "offset": 0, "has_more": false}
        }));
        let page = page_from(&p, &SearchQuery::new("xt", 100)).expect("page");
        let ids: Vec<&str> = page.hits.iter().map(|h| h.id.as_str()).collect();
        assert_eq!(ids, ["n1", "n2"]);
        assert_eq!(page.hits[1].parent_id.as_deref(), Some("root"));
        assert_eq!(page.total, Some(3));
        assert_eq!(page.next_offset, None);
    }

    #[test]
    fn shape_b_reads_node_id_score_content_and_node() {
        let p = payload(json!({
            "results": [
                {"node_id": "n1", "content": "q3 revenue", "score": 0.95,
                 "node": {"id": "n1", "type": "file", "name": "q3.pdf", "parent": "root"}},
                {"node_id": "n9", "content": null, "score": 0.1, "node": null}
            ]
        }));
        let page = page_from(&p, &SearchQuery::new("q3", 2)).expect("page");
        assert_eq!(page.hits.len(), 2);
        assert_eq!(page.hits[0].name, "q3.pdf");
        assert_eq!(page.hits[0].node_type, NodeType::File);
        assert_eq!(page.hits[0].snippet.as_deref(), Some("q3 revenue"));
        assert_eq!(page.hits[0].score, Some(0.95));
        assert_eq!(
            page.next_offset,
            Some(2),
            "a full page without pagination means more"
        );
    }

    #[test]
    fn an_array_under_files_carries_its_own_ids() {
        let p = payload(
            json!({"files": [{"id": "x", "name": "x.txt", "type": "file"}],
                               "pagination": {"total": 5}}),
        );
        let q = SearchQuery {
            offset: 3,
            ..SearchQuery::new("xt", 1)
        };
        let page = page_from(&p, &q).expect("page");
        assert_eq!(page.hits[0].id, "x");
        assert_eq!(page.next_offset, Some(4));
    }
}
