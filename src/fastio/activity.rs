//! The activity long-poll (`fastio-api.md` §8.1): `GET /activity/poll/{entity}/?wait=&lastactivity=`
//! holds until something changes on the entity (a workspace, a share, the user for uploads) or
//! `wait` seconds pass, so a caller waits for an answer without a tight loop.
//!
//! The marker (`lastactivity`) is opaque and only ever sent back. The change list's container
//! is unverified for the long-poll, so it is read as an array of keys (strings, or objects with
//! a `key`) or as an object keyed by activity key; callers treat it as a hint and re-read what
//! they care about.

use std::time::Duration;

use serde_json::Value;

use super::client::{Client, segment};
use super::de;
use super::envelope::Payload;
use super::error::Error;
use super::retry::Replay;
use super::types::Activity;

/// The longest hold Fast.io grants (about 95 s); longer waits are clamped to it.
pub const MAX_ACTIVITY_WAIT: Duration = Duration::from_secs(95);

/// Added to the request timeout over the wait, for the answer to come back.
const WAIT_MARGIN: Duration = Duration::from_secs(15);

impl Client {
    /// One long-poll on `entity`: returns at once when there is activity newer than `marker`
    /// (or no marker was given), otherwise after up to `wait` (clamped to 95 s, whole seconds).
    /// Dropping the future closes the request, so the server stops holding it.
    pub async fn poll_activity(
        &self,
        entity: &str,
        wait: Duration,
        marker: Option<&str>,
    ) -> Result<Activity, Error> {
        let wait_secs = wait.min(MAX_ACTIVITY_WAIT).as_secs_f64().ceil() as u64;
        let path = format!("/activity/poll/{}/", segment(entity, "entity id")?);
        let mut query = vec![("wait", wait_secs.to_string())];
        if let Some(marker) = marker.filter(|m| !m.is_empty()) {
            query.push(("lastactivity", marker.to_owned()));
            query.push(("updated", "1".to_owned()));
        }
        let mut op = self.op("GET /activity/poll/{entity}/", Replay::Idempotent);
        op.timeout = op.timeout.max(Duration::from_secs(wait_secs) + WAIT_MARGIN);
        let payload = self
            .call(op, |http| http.get(self.url(&path)).query(&query))
            .await?;
        Ok(activity_from(&payload, marker))
    }
}

/// Reads a poll answer; without a new marker the one sent stays in force.
pub(crate) fn activity_from(payload: &Payload, sent: Option<&str>) -> Activity {
    let marker = payload
        .0
        .get("lastactivity")
        .and_then(de::id)
        .or_else(|| payload.0.get("server_date").and_then(de::id))
        .or_else(|| sent.map(str::to_owned));
    let keys = match payload.0.get("activity") {
        Some(Value::Array(items)) => items
            .iter()
            .filter_map(|item| match item {
                Value::String(s) => Some(s.clone()),
                Value::Object(m) => ["key", "activity", "name"]
                    .iter()
                    .find_map(|k| m.get(*k).and_then(Value::as_str))
                    .map(str::to_owned),
                _ => None,
            })
            .collect(),
        Some(Value::Object(map)) => map.keys().cloned().collect(),
        Some(Value::String(s)) if !s.is_empty() => vec![s.clone()],
        _ => Vec::new(),
    };
    Activity { keys, marker }
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
    fn activity_reads_an_array_of_keys_and_the_marker() {
        let a = activity_from(
            &payload(json!({"activity": ["ai_chat:c1", "storage:f1"], "lastactivity": "17.5"})),
            None,
        );
        assert_eq!(a.keys, ["ai_chat:c1", "storage:f1"]);
        assert!(a.mentions("ai_chat:c1"));
        assert_eq!(a.marker.as_deref(), Some("17.5"));
    }

    #[test]
    fn activity_reads_an_object_keyed_by_activity_and_keeps_the_old_marker() {
        let a = activity_from(
            &payload(json!({"activity": {"ai_chat:c1": {"at": 1}, "members": true}})),
            Some("m1"),
        );
        assert!(a.mentions("ai_chat:c1"));
        assert!(a.mentions("members"));
        assert_eq!(a.marker.as_deref(), Some("m1"));
        let a = activity_from(
            &payload(json!({"activity": [{"key": "ai_state:f1"}], "lastactivity": 1767225600})),
            None,
        );
        assert_eq!(a.keys, ["ai_state:f1"]);
        assert_eq!(a.marker.as_deref(), Some("1767225600"));
        let empty = activity_from(&payload(json!({"activity": []})), Some("m2"));
        assert!(empty.keys.is_empty());
        assert_eq!(empty.marker.as_deref(), Some("m2"));
    }
}
