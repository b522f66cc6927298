//! Reachability, key check and workspaces (`fastio-api.md` §4, §5).

use reqwest::Method;
use serde_json::Value;

use super::client::{Client, Op, segment};
use super::envelope::parse;
use super::error::Error;
use super::retry::Replay;
use super::types::Workspace;

/// Workspaces fetched per page (the API allows up to 500).
const WORKSPACE_PAGE: usize = 100;

/// A bound on pages, so that a server that always says `has_more` cannot loop us forever.
const MAX_WORKSPACE_PAGES: usize = 1000;

impl Client {
    /// `GET /ping/` without auth: is the API reachable?
    pub async fn ping(&self) -> Result<(), Error> {
        let op = Op {
            authorized: false,
            ..self.op("GET /ping/", Replay::Idempotent)
        };
        self.call(op, |http| http.request(Method::GET, self.url("/ping/")))
            .await?;
        Ok(())
    }

    /// `GET /user/auth/check/`: is the key valid? Returns the user id, normalised to a string.
    pub async fn auth_check(&self) -> Result<String, Error> {
        let op = self.op("GET /user/auth/check/", Replay::Idempotent);
        let payload = self
            .call(op, |http| http.get(self.url("/user/auth/check/")))
            .await?;
        payload
            .id(&["id", "user_id", "profile_id"])
            .or_else(|| {
                let user = payload.record(&["user"]);
                user.get("id").and_then(super::de::id)
            })
            .ok_or_else(|| Error::InvalidResponse("auth check: no user id in the reply".into()))
    }

    /// `GET /workspaces/all/`, following `limit`/`offset` pagination to the end.
    pub async fn list_workspaces(&self) -> Result<Vec<Workspace>, Error> {
        let op = self.op("GET /workspaces/all/", Replay::Idempotent);
        let mut all: Vec<Workspace> = Vec::new();
        for _ in 0..MAX_WORKSPACE_PAGES {
            let offset = all.len();
            let payload = self
                .call(op, |http| {
                    http.get(self.url("/workspaces/all/"))
                        .query(&[("limit", WORKSPACE_PAGE), ("offset", offset)])
                })
                .await?;
            let page = payload.collection(&["workspaces", "items"]);
            let fetched = page.len();
            for record in page {
                all.push(parse(record, "workspace")?);
            }
            let has_more = payload
                .paginated("has_more")
                .and_then(super::de::flag)
                .unwrap_or(fetched >= WORKSPACE_PAGE);
            if !has_more || fetched == 0 {
                return Ok(all);
            }
        }
        Ok(all)
    }

    /// `GET /workspace/{ws}/details/`.
    pub async fn workspace(&self, ws: &str) -> Result<Workspace, Error> {
        let path = format!("/workspace/{}/details/", segment(ws, "workspace id")?);
        let op = self.op("GET /workspace/{ws}/details/", Replay::Idempotent);
        let payload = self.call(op, |http| http.get(self.url(&path))).await?;
        parse(Value::Object(payload.record(&["workspace"])), "workspace")
    }
}
