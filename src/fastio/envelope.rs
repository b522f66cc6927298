//! Decoding Fast.io's response envelope and mapping failures to [`Error`], in one place
//! (`fastio-api.md` §1.1, §2). Tolerant exactly where the API is known to vary: `result` as a
//! boolean or `"yes"`/`"no"`, the payload at the top level or under `response`, the error code as
//! a number or numeric string, `text` or `message`, the flat `error_message`, and non-JSON bodies.

use std::time::SystemTime;

use reqwest::StatusCode;
use reqwest::header::HeaderMap;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use super::de;
use super::error::Error;
use super::ratelimit;

/// The payload of a successful envelope: the named keys next to `result`, merged with the
/// contents of `response` when present (those win).
#[derive(Debug, Default, Clone, PartialEq)]
pub(crate) struct Payload(pub(crate) Map<String, Value>);

/// Decodes a complete response. A body that reads as failure is an error whatever the status,
/// and a non-2xx status is an error whatever the body says.
pub(crate) fn decode(
    status: StatusCode,
    headers: &HeaderMap,
    body: &[u8],
    now: SystemTime,
) -> Result<Payload, Error> {
    let object = match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(map)) => Some(map),
        _ => None,
    };
    if !status.is_success() {
        return Err(error_from(status, headers, object.as_ref(), now));
    }
    let Some(object) = object else {
        return if body.iter().all(u8::is_ascii_whitespace) {
            Ok(Payload::default())
        } else {
            Err(Error::InvalidResponse(format!(
                "HTTP {}: the body is not a JSON object",
                status.as_u16()
            )))
        };
    };
    let succeeded = object
        .get("result")
        .or_else(|| object.get("success"))
        .and_then(de::flag);
    if succeeded == Some(false) {
        return Err(error_from(status, headers, Some(&object), now));
    }
    Ok(Payload::from_envelope(object))
}

/// Builds the error for a failed response from its status, headers and (JSON) body.
fn error_from(
    status: StatusCode,
    headers: &HeaderMap,
    body: Option<&Map<String, Value>>,
    now: SystemTime,
) -> Error {
    let error_object = body.and_then(|b| b.get("error"));
    let code = error_object
        .and_then(|e| e.get("code"))
        .and_then(de::i64_lenient);
    let message = error_object
        .and_then(|e| text_field(e, &["text", "message"]))
        .or_else(|| error_object.and_then(Value::as_str).map(str::to_owned))
        .or_else(|| body.and_then(|b| text_field_map(b, &["error_message", "message"])))
        .unwrap_or_else(|| format!("HTTP {}", status.as_u16()));
    // A `result:false` under a 2xx status: classify by the code where it is unambiguous.
    let effective = if status.is_success() {
        code.and_then(status_for_code).unwrap_or(status.as_u16())
    } else {
        status.as_u16()
    };
    match effective {
        401 => Error::Unauthorized { code, message },
        402 => Error::PaymentRequired { code, message },
        403 => Error::Forbidden { code, message },
        404 => Error::NotFound { code, message },
        413 => Error::TooLarge { code, message },
        429 => Error::RateLimited {
            retry_after: ratelimit::retry_after(headers, now),
            code,
        },
        _ => Error::Upstream {
            status: status.as_u16(),
            code,
            message,
        },
    }
}

/// The HTTP status an application code implies (`fastio-api.md` §2.2), for failures that
/// arrive with a 2xx status.
fn status_for_code(code: i64) -> Option<u16> {
    match code {
        10011 | 10545 | 115069 => Some(401),
        1670 | 1680 | 1685 | 10756 => Some(403),
        1609 | 9992 => Some(404),
        10368 | 1671 => Some(429),
        _ => None,
    }
}

fn text_field(value: &Value, keys: &[&str]) -> Option<String> {
    value.as_object().and_then(|map| text_field_map(map, keys))
}

fn text_field_map(map: &Map<String, Value>, keys: &[&str]) -> Option<String> {
    keys.iter().find_map(|key| {
        map.get(*key)
            .and_then(Value::as_str)
            .filter(|s| !s.trim().is_empty())
            .map(str::to_owned)
    })
}

impl Payload {
    fn from_envelope(mut top: Map<String, Value>) -> Self {
        top.remove("result");
        top.remove("current_api_version");
        if let Some(Value::Object(inner)) = top.remove("response") {
            top.extend(inner);
        }
        Payload(top)
    }

    /// The first of `keys` holding an object, or else the whole payload: for responses that
    /// may or may not wrap their record (`session:{…}`, `workspace:{…}`, `node:{…}`).
    pub(crate) fn record(&self, keys: &[&str]) -> Map<String, Value> {
        keys.iter()
            .find_map(|key| self.0.get(*key).and_then(Value::as_object))
            .cloned()
            .unwrap_or_else(|| self.0.clone())
    }

    /// The first of `keys` readable as an id (string or number).
    pub(crate) fn id(&self, keys: &[&str]) -> Option<String> {
        keys.iter()
            .find_map(|key| self.0.get(*key).and_then(de::id))
    }

    /// A required id, or an `InvalidResponse` naming what was expected.
    pub(crate) fn require_id(&self, keys: &[&str], what: &str) -> Result<String, Error> {
        self.id(keys)
            .ok_or_else(|| Error::InvalidResponse(format!("{what}: no {} in the reply", keys[0])))
    }

    /// The records of the first collection found under `keys`. Arrays are taken in order; an
    /// id-keyed map gives its values, each with `id` filled from its key when missing.
    pub(crate) fn collection(&self, keys: &[&str]) -> Vec<Value> {
        let Some(found) = keys.iter().find_map(|key| self.0.get(*key)) else {
            return Vec::new();
        };
        match found {
            Value::Array(items) => items.clone(),
            Value::Object(map) => map
                .iter()
                .map(|(key, value)| {
                    let mut value = value.clone();
                    if let Value::Object(record) = &mut value {
                        record
                            .entry("id")
                            .or_insert_with(|| Value::String(key.clone()));
                    }
                    value
                })
                .collect(),
            _ => Vec::new(),
        }
    }

    /// [`Payload::collection`], moving an array's records out instead of copying them (a listing
    /// page holds up to 500).
    pub(crate) fn take_collection(&mut self, keys: &[&str]) -> Vec<Value> {
        let key = keys.iter().find(|key| self.0.contains_key(**key));
        if let Some(Value::Array(items)) = key.and_then(|key| self.0.get_mut(*key)) {
            return std::mem::take(items);
        }
        self.collection(keys)
    }

    /// A value at the top level or inside `pagination`.
    pub(crate) fn paginated(&self, key: &str) -> Option<&Value> {
        self.0
            .get(key)
            .filter(|value| !value.is_null())
            .or_else(|| self.0.get("pagination").and_then(|p| p.get(key)))
    }
}

/// Deserializes one record, turning a mismatch into `InvalidResponse` naming `what`.
pub(crate) fn parse<T: DeserializeOwned>(value: Value, what: &str) -> Result<T, Error> {
    serde_json::from_value(value).map_err(|err| Error::InvalidResponse(format!("{what}: {err}")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;
    use serde_json::json;
    use std::time::{Duration, UNIX_EPOCH};

    fn decode_json(status: u16, body: Value) -> Result<Payload, Error> {
        decode_raw(status, &HeaderMap::new(), body.to_string().as_bytes())
    }

    fn decode_raw(status: u16, headers: &HeaderMap, body: &[u8]) -> Result<Payload, Error> {
        let status = StatusCode::from_u16(status).expect("valid status");
        decode(
            status,
            headers,
            body,
            UNIX_EPOCH + Duration::from_secs(1_767_225_600),
        )
    }

    #[test]
    fn boolean_and_yes_no_results_are_both_success() {
        let boolean = decode_json(200, json!({"result": true, "id": "abc"})).expect("ok");
        let yes = decode_json(200, json!({"result": "yes", "id": "abc"})).expect("ok");
        assert_eq!(boolean, yes);
        assert_eq!(boolean.id(&["id"]).as_deref(), Some("abc"));
        assert!(!boolean.0.contains_key("result"));
    }

    #[test]
    fn payload_under_response_is_unwrapped() {
        let wrapped = decode_json(
            200,
            json!({"result": "yes", "current_api_version": "1.0", "response": {"id": 42}}),
        )
        .expect("ok");
        assert_eq!(wrapped.id(&["id"]).as_deref(), Some("42"));
        assert!(!wrapped.0.contains_key("current_api_version"));
    }

    #[test]
    fn result_false_with_200_is_an_error() {
        let err = decode_json(
            200,
            json!({"result": false, "error": {"code": 10522, "text": "chunks (4443) do not match size (8000)"}}),
        )
        .expect_err("must fail");
        match err {
            Error::Upstream {
                status,
                code,
                message,
            } => {
                assert_eq!((status, code), (200, Some(10522)));
                assert_eq!(message, "chunks (4443) do not match size (8000)");
            }
            other => panic!("unexpected {other:?}"),
        }
        let no = decode_json(
            200,
            json!({"result": "no", "error": {"code": "10545", "text": "x"}}),
        );
        assert!(matches!(
            no,
            Err(Error::Unauthorized {
                code: Some(10545),
                ..
            })
        ));
    }

    #[test]
    fn string_codes_and_message_key_are_read() {
        let err = decode_json(
            405,
            json!({"result": false, "error": {"code": "405", "message": "Method not allowed"}}),
        )
        .expect_err("fails");
        assert_eq!(err.code(), Some(405));
        assert!(err.to_string().contains("Method not allowed"), "{err}");
        assert_eq!(err.http_status(), Some(405));
    }

    #[test]
    fn text_wins_over_message() {
        let err = decode_json(
            400,
            json!({"result": false, "error": {"code": 1605, "text": "first", "message": "second"}}),
        )
        .expect_err("fails");
        assert!(matches!(err, Error::Upstream { ref message, .. } if message == "first"));
    }

    #[test]
    fn flat_error_message_is_read() {
        let err = decode_json(
            400,
            json!({"result": false, "error_message": "flat", "error_id": 3}),
        )
        .expect_err("fails");
        assert!(
            matches!(err, Error::Upstream { code: None, ref message, .. } if message == "flat")
        );
    }

    #[test]
    fn non_json_and_empty_bodies_fall_back_to_http_status() {
        let html =
            decode_raw(502, &HeaderMap::new(), b"<html>Bad Gateway</html>").expect_err("fails");
        assert!(
            matches!(html, Error::Upstream { status: 502, code: None, ref message } if message == "HTTP 502")
        );
        let empty = decode_raw(401, &HeaderMap::new(), b"").expect_err("fails");
        assert!(
            matches!(empty, Error::Unauthorized { code: None, ref message } if message == "HTTP 401")
        );
        assert_eq!(
            decode_raw(204, &HeaderMap::new(), b"").expect("ok"),
            Payload::default()
        );
        let garbage = decode_raw(200, &HeaderMap::new(), b"<html>").expect_err("fails");
        assert!(matches!(garbage, Error::InvalidResponse(_)));
    }

    #[test]
    fn status_maps_to_variants() {
        let body = json!({"result": false, "error": {"code": 1, "text": "t"}});
        assert!(matches!(
            decode_json(401, body.clone()),
            Err(Error::Unauthorized { .. })
        ));
        assert!(matches!(
            decode_json(403, body.clone()),
            Err(Error::Forbidden { .. })
        ));
        assert!(matches!(
            decode_json(404, body.clone()),
            Err(Error::NotFound { .. })
        ));
        assert!(matches!(
            decode_json(413, body.clone()),
            Err(Error::TooLarge { .. })
        ));
        assert!(matches!(
            decode_json(503, body),
            Err(Error::Upstream { status: 503, .. })
        ));
    }

    #[test]
    fn rate_limit_reads_the_reset_header() {
        let mut headers = HeaderMap::new();
        headers.insert("x-ve-limit-expires", HeaderValue::from_static("1767225612"));
        let body = json!({"result": false, "error": {"code": 10368, "text": "Too many requests"}});
        let err = decode_raw(429, &headers, body.to_string().as_bytes()).expect_err("fails");
        assert_eq!(err.retry_after(), Some(Duration::from_secs(12)));
        assert_eq!(err.code(), Some(10368));
    }

    #[test]
    fn error_on_non_2xx_even_if_result_true() {
        let err = decode_json(500, json!({"result": true})).expect_err("fails");
        assert_eq!(err.http_status(), Some(500));
    }

    #[test]
    fn collections_accept_arrays_and_id_keyed_maps() {
        let payload = decode_json(
            200,
            json!({"result": true, "files": {"n1": {"name": "a"}, "n2": {"id": "x", "name": "b"}}}),
        )
        .expect("ok");
        let items = payload.collection(&["nodes", "files", "items"]);
        assert_eq!(items.len(), 2);
        assert_eq!(items[0]["id"], "n1");
        assert_eq!(items[1]["id"], "x");
        let array = decode_json(200, json!({"result": true, "items": [{"id": "1"}]})).expect("ok");
        assert_eq!(array.collection(&["nodes", "files", "items"]).len(), 1);
    }

    #[test]
    fn cursor_is_found_top_level_or_in_pagination() {
        let top = decode_json(200, json!({"result": true, "next_cursor": "c1"})).expect("ok");
        assert_eq!(top.paginated("next_cursor"), Some(&json!("c1")));
        let nested = decode_json(
            200,
            json!({"result": true, "next_cursor": null, "pagination": {"next_cursor": "c2"}}),
        )
        .expect("ok");
        assert_eq!(nested.paginated("next_cursor"), Some(&json!("c2")));
    }
}
