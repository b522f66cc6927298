//! The JSON envelope (§1.1) and its configurable legacy shapes (§11 "Envelope").
//!
//! Handlers answer [`Envelope`] (boolean `result` + top-level named keys). When a legacy switch
//! is on, [`restyle`] rewrites marked responses: `"yes"`/`"no"`, payload under `response`,
//! string error codes, `message` instead of `text`. Doing it in one middleware keeps every
//! handler on the canonical shape.

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::header::{CONTENT_LENGTH, CONTENT_TYPE};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value};

/// Marks a response whose body is a JSON envelope (so [`restyle`] may rewrite it).
#[derive(Debug, Clone, Copy)]
pub struct EnvelopeMarker;

/// Which legacy envelope forms to produce. All off = the current Fast.io shape.
#[derive(Debug, Clone, Default)]
pub struct EnvelopeStyle {
    /// `result` as `"yes"`/`"no"` strings.
    pub legacy_result: bool,
    /// Success payloads wrapped in `response:{…}`.
    pub wrap_response: bool,
    /// Error `code` sent as a numeric string.
    pub string_codes: bool,
    /// Error text under `message` instead of `text`.
    pub message_key: bool,
}

impl EnvelopeStyle {
    /// The legacy form of everything at once (`--legacy-envelope`).
    pub fn legacy() -> Self {
        Self {
            legacy_result: true,
            wrap_response: true,
            string_codes: true,
            message_key: true,
        }
    }

    fn is_default(&self) -> bool {
        !(self.legacy_result || self.wrap_response || self.string_codes || self.message_key)
    }
}

/// A success envelope: `{"result":true, …payload keys}`.
pub struct Envelope(pub Value);

impl IntoResponse for Envelope {
    fn into_response(self) -> Response {
        let mut map = match self.0 {
            Value::Object(m) => m,
            other => {
                let mut m = Map::new();
                m.insert("response".into(), other);
                m
            }
        };
        let mut out = Map::with_capacity(map.len() + 1);
        out.insert("result".into(), Value::Bool(true));
        out.append(&mut map);
        let mut res = axum::Json(Value::Object(out)).into_response();
        res.extensions_mut().insert(EnvelopeMarker);
        res
    }
}

/// Middleware: rewrites marked envelopes when a legacy style is configured.
pub async fn restyle(State(style): State<EnvelopeStyle>, req: Request, next: Next) -> Response {
    let res = next.run(req).await;
    if style.is_default() || res.extensions().get::<EnvelopeMarker>().is_none() {
        return res;
    }
    let (mut parts, body) = res.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, 16 * 1024 * 1024).await else {
        return Response::from_parts(parts, Body::empty());
    };
    let Ok(Value::Object(map)) = serde_json::from_slice::<Value>(&bytes) else {
        return Response::from_parts(parts, Body::from(bytes));
    };
    let out = serde_json::to_vec(&legacy_shape(map, &style)).unwrap_or_else(|_| bytes.to_vec());
    parts.headers.remove(CONTENT_LENGTH);
    parts.headers.insert(
        CONTENT_TYPE,
        axum::http::HeaderValue::from_static("application/json"),
    );
    Response::from_parts(parts, Body::from(out))
}

fn legacy_shape(mut map: Map<String, Value>, style: &EnvelopeStyle) -> Value {
    let ok = map.get("result").and_then(Value::as_bool).unwrap_or(false);
    if let Some(Value::Object(err)) = map.get_mut("error") {
        if style.string_codes
            && let Some(code) = err.get("code").cloned()
        {
            err.insert("code".into(), Value::String(code.to_string()));
        }
        if style.message_key
            && let Some(text) = err.remove("text")
        {
            err.insert("message".into(), text);
        }
    }
    if style.wrap_response && ok {
        let mut payload = Map::new();
        let keys: Vec<String> = map.keys().filter(|k| *k != "result").cloned().collect();
        for k in keys {
            if let Some(v) = map.remove(&k) {
                payload.insert(k, v);
            }
        }
        map.insert("response".into(), Value::Object(payload));
    }
    if style.legacy_result {
        map.insert(
            "result".into(),
            Value::String(if ok { "yes" } else { "no" }.into()),
        );
    }
    Value::Object(map)
}
