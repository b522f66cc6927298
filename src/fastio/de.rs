//! Tolerant readers for the places where Fast.io's JSON varies (`fastio-api.md` §1.1, §6.2):
//! ids as strings or numbers, sizes as numbers or numeric strings, timestamps in RFC 3339 or
//! `YYYY-MM-DD HH:MM:SS UTC`, flags as booleans or `"yes"`/`"no"`. Each reader returns `None`
//! for a value it cannot read, so one odd field never fails a whole listing.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fmt;

use chrono::{DateTime, NaiveDateTime, TimeZone, Utc};
use serde::de::{IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Deserializer};
use serde_json::Value;

/// An id given as a non-empty string or as an integer.
pub(crate) fn id(value: &Value) -> Option<String> {
    Scalar::of(value).into_id()
}

/// A non-negative integer given as a number or a numeric string.
pub(crate) fn u64_lenient(value: &Value) -> Option<u64> {
    Scalar::of(value).u64_lenient()
}

/// A signed integer given as a number or a numeric string (error codes such as `"405"`).
pub(crate) fn i64_lenient(value: &Value) -> Option<i64> {
    Scalar::of(value).i64_lenient()
}

/// A flag given as a boolean, `"yes"`/`"no"`, `"true"`/`"false"` or `1`/`0`.
pub(crate) fn flag(value: &Value) -> Option<bool> {
    Scalar::of(value).flag()
}

/// A timestamp in RFC 3339, `YYYY-MM-DD HH:MM:SS UTC` (what the live API sends), the same
/// without the zone (read as UTC), or Unix epoch seconds.
pub(crate) fn timestamp(value: &Value) -> Option<DateTime<Utc>> {
    Scalar::of(value).timestamp()
}

/// One JSON value as the tolerant readers see it: text borrowed from the input where the
/// deserializer allows it, numbers and booleans as they are, and objects or arrays only as
/// `Nested` (their contents skipped). Reading a field through it allocates only for text that
/// is kept, which is what a listing of 500 nodes spends most of its time on otherwise.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Scalar<'a> {
    Text(Cow<'a, str>),
    Number(serde_json::Number),
    Bool(bool),
    Null,
    Nested,
}

impl<'a> Scalar<'a> {
    /// The scalar view of an already parsed value.
    pub(crate) fn of(value: &'a Value) -> Self {
        match value {
            Value::String(s) => Scalar::Text(Cow::Borrowed(s)),
            Value::Number(n) => Scalar::Number(n.clone()),
            Value::Bool(b) => Scalar::Bool(*b),
            Value::Null => Scalar::Null,
            Value::Array(_) | Value::Object(_) => Scalar::Nested,
        }
    }

    /// The text, if this is a string.
    pub(crate) fn text(&self) -> Option<&str> {
        match self {
            Scalar::Text(s) => Some(s),
            _ => None,
        }
    }

    /// An id: a non-empty string, or an integer written out.
    pub(crate) fn into_id(self) -> Option<String> {
        match self {
            Scalar::Text(s) if !s.is_empty() => Some(s.into_owned()),
            Scalar::Number(n) => Some(n.to_string()),
            _ => None,
        }
    }

    /// A non-negative integer given as a number or a numeric string.
    pub(crate) fn u64_lenient(&self) -> Option<u64> {
        match self {
            Scalar::Number(n) => n.as_u64().or_else(|| {
                n.as_f64()
                    .filter(|f| *f >= 0.0 && f.fract() == 0.0 && *f < u64::MAX as f64)
                    .map(|f| f as u64)
            }),
            Scalar::Text(s) => s.trim().parse().ok(),
            _ => None,
        }
    }

    /// A signed integer given as a number or a numeric string.
    pub(crate) fn i64_lenient(&self) -> Option<i64> {
        match self {
            Scalar::Number(n) => n.as_i64(),
            Scalar::Text(s) => s.trim().parse().ok(),
            _ => None,
        }
    }

    /// A flag given as a boolean, `"yes"`/`"no"`, `"true"`/`"false"` or `1`/`0`.
    pub(crate) fn flag(&self) -> Option<bool> {
        match self {
            Scalar::Bool(b) => Some(*b),
            Scalar::Number(n) => n.as_i64().map(|n| n != 0),
            Scalar::Text(s) => match s.trim().to_ascii_lowercase().as_str() {
                "yes" | "true" | "1" => Some(true),
                "no" | "false" | "0" => Some(false),
                _ => None,
            },
            _ => None,
        }
    }

    /// A timestamp in any form [`timestamp`] accepts.
    pub(crate) fn timestamp(&self) -> Option<DateTime<Utc>> {
        match self {
            Scalar::Text(s) => parse_timestamp(s),
            Scalar::Number(n) => n
                .as_i64()
                .and_then(|secs| Utc.timestamp_opt(secs, 0).single()),
            _ => None,
        }
    }
}

impl<'de> Deserialize<'de> for Scalar<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(ScalarVisitor)
    }
}

/// Reads any JSON value as a [`Scalar`], skipping what is inside objects and arrays.
struct ScalarVisitor;

impl<'de> Visitor<'de> for ScalarVisitor {
    type Value = Scalar<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_bool<E: serde::de::Error>(self, b: bool) -> Result<Self::Value, E> {
        Ok(Scalar::Bool(b))
    }

    fn visit_i64<E: serde::de::Error>(self, n: i64) -> Result<Self::Value, E> {
        Ok(Scalar::Number(n.into()))
    }

    fn visit_u64<E: serde::de::Error>(self, n: u64) -> Result<Self::Value, E> {
        Ok(Scalar::Number(n.into()))
    }

    fn visit_f64<E: serde::de::Error>(self, n: f64) -> Result<Self::Value, E> {
        Ok(serde_json::Number::from_f64(n).map_or(Scalar::Null, Scalar::Number))
    }

    fn visit_borrowed_str<E: serde::de::Error>(self, s: &'de str) -> Result<Self::Value, E> {
        Ok(Scalar::Text(Cow::Borrowed(s)))
    }

    fn visit_str<E: serde::de::Error>(self, s: &str) -> Result<Self::Value, E> {
        Ok(Scalar::Text(Cow::Owned(s.to_owned())))
    }

    fn visit_string<E: serde::de::Error>(self, s: String) -> Result<Self::Value, E> {
        Ok(Scalar::Text(Cow::Owned(s)))
    }

    fn visit_unit<E: serde::de::Error>(self) -> Result<Self::Value, E> {
        Ok(Scalar::Null)
    }

    fn visit_none<E: serde::de::Error>(self) -> Result<Self::Value, E> {
        Ok(Scalar::Null)
    }

    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        Scalar::deserialize(d)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(Scalar::Nested)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(Scalar::Nested)
    }
}

/// A record read field by field straight from the input, that falls back to its default (or
/// to what [`LenientObject::not_an_object`] makes of the value) when the value is not an
/// object: the tolerant way to read `ai` or `previews` on each of a listing's nodes without
/// building a JSON tree for them.
pub(crate) trait LenientObject<'de>: Default {
    /// Reads (or skips, with `IgnoredAny`) the value of `key`; it must read it either way.
    fn field<A: MapAccess<'de>>(&mut self, key: &str, map: &mut A) -> Result<(), A::Error>;

    /// What a value other than an object gives; by default, the default.
    fn not_an_object(value: Scalar<'de>) -> Self {
        let _ = value;
        Self::default()
    }
}

/// Deserializes a [`LenientObject`] from any JSON value.
pub(crate) fn lenient_object<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: LenientObject<'de>,
{
    struct ObjectVisitor<T>(std::marker::PhantomData<T>);

    impl<'de, T: LenientObject<'de>> Visitor<'de> for ObjectVisitor<T> {
        type Value = T;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("any JSON value")
        }

        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<T, A::Error> {
            let mut record = T::default();
            while let Some(key) = map.next_key::<Scalar<'de>>()? {
                match key.text() {
                    Some(key) => record.field(key, &mut map)?,
                    None => {
                        map.next_value::<IgnoredAny>()?;
                    }
                }
            }
            Ok(record)
        }

        fn visit_bool<E: serde::de::Error>(self, b: bool) -> Result<T, E> {
            ScalarVisitor.visit_bool(b).map(T::not_an_object)
        }

        fn visit_i64<E: serde::de::Error>(self, n: i64) -> Result<T, E> {
            ScalarVisitor.visit_i64(n).map(T::not_an_object)
        }

        fn visit_u64<E: serde::de::Error>(self, n: u64) -> Result<T, E> {
            ScalarVisitor.visit_u64(n).map(T::not_an_object)
        }

        fn visit_f64<E: serde::de::Error>(self, n: f64) -> Result<T, E> {
            ScalarVisitor.visit_f64(n).map(T::not_an_object)
        }

        fn visit_borrowed_str<E: serde::de::Error>(self, s: &'de str) -> Result<T, E> {
            ScalarVisitor.visit_borrowed_str(s).map(T::not_an_object)
        }

        fn visit_str<E: serde::de::Error>(self, s: &str) -> Result<T, E> {
            ScalarVisitor.visit_str(s).map(T::not_an_object)
        }

        fn visit_string<E: serde::de::Error>(self, s: String) -> Result<T, E> {
            ScalarVisitor.visit_string(s).map(T::not_an_object)
        }

        fn visit_unit<E: serde::de::Error>(self) -> Result<T, E> {
            Ok(T::not_an_object(Scalar::Null))
        }

        fn visit_none<E: serde::de::Error>(self) -> Result<T, E> {
            Ok(T::not_an_object(Scalar::Null))
        }

        fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<T, D::Error> {
            lenient_object(d)
        }

        fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<T, A::Error> {
            ScalarVisitor.visit_seq(seq).map(T::not_an_object)
        }
    }

    d.deserialize_any(ObjectVisitor(std::marker::PhantomData))
}

/// Parses the textual timestamp forms accepted by [`timestamp`].
pub(crate) fn parse_timestamp(text: &str) -> Option<DateTime<Utc>> {
    let text = text.trim();
    if let Some(parsed) = parse_utc_seconds(text) {
        return Some(parsed);
    }
    if let Ok(parsed) = DateTime::parse_from_rfc3339(text) {
        return Some(parsed.with_timezone(&Utc));
    }
    let naive = text.strip_suffix("UTC").unwrap_or(text).trim_end();
    NaiveDateTime::parse_from_str(naive, "%Y-%m-%d %H:%M:%S")
        .or_else(|_| NaiveDateTime::parse_from_str(naive, "%Y-%m-%dT%H:%M:%S"))
        .ok()
        .map(|naive| naive.and_utc())
}

/// The two forms a listing carries hundreds of — `YYYY-MM-DD HH:MM:SS UTC` and
/// `YYYY-MM-DDTHH:MM:SSZ` — read digit by digit; chrono's format-string parser costs a
/// microsecond each. Anything else (offsets, fractions, no zone) is left to the general path.
fn parse_utc_seconds(text: &str) -> Option<DateTime<Utc>> {
    let b = text.as_bytes();
    let zone_ok = match b.len() {
        23 => b[10] == b' ' && &b[19..] == b" UTC",
        20 => matches!(b[10], b'T' | b't') && matches!(b[19], b'Z' | b'z'),
        _ => false,
    };
    if !zone_ok || b[4] != b'-' || b[7] != b'-' || b[13] != b':' || b[16] != b':' {
        return None;
    }
    let num = |from: usize, to: usize| -> Option<u32> {
        b[from..to].iter().try_fold(0u32, |n, c| {
            c.is_ascii_digit().then(|| n * 10 + u32::from(c - b'0'))
        })
    };
    let date =
        chrono::NaiveDate::from_ymd_opt(i32::try_from(num(0, 4)?).ok()?, num(5, 7)?, num(8, 10)?)?;
    let time = date.and_hms_opt(num(11, 13)?, num(14, 16)?, num(17, 19)?)?;
    Some(time.and_utc())
}

/// A chunk map (`fastio-api.md` §7.6): `{"<order>": <bytes>}`, or a list of `{order, size}`.
pub(crate) fn chunk_map(value: &Value) -> BTreeMap<u32, u64> {
    match value {
        Value::Object(map) => map
            .iter()
            .filter_map(|(order, size)| {
                let size = u64_lenient(size).or_else(|| size.get("size").and_then(u64_lenient));
                Some((order.trim().parse().ok()?, size?))
            })
            .collect(),
        Value::Array(items) => items
            .iter()
            .filter_map(|item| {
                let order = item.get("order").and_then(u64_lenient)?;
                let size = item.get("size").and_then(u64_lenient)?;
                Some((u32::try_from(order).ok()?, size))
            })
            .collect(),
        _ => BTreeMap::new(),
    }
}

/// serde adapter: required id, string or number.
pub(crate) fn de_id<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    Scalar::deserialize(d)?
        .into_id()
        .ok_or_else(|| serde::de::Error::custom("id is neither a string nor a number"))
}

/// serde adapter: optional id, string or number.
pub(crate) fn de_opt_id<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    Ok(Scalar::deserialize(d)?.into_id())
}

/// serde adapter: optional non-negative integer.
pub(crate) fn de_opt_u64<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
    Ok(Scalar::deserialize(d)?.u64_lenient())
}

/// serde adapter: optional timestamp in any accepted form.
pub(crate) fn de_opt_time<'de, D: Deserializer<'de>>(
    d: D,
) -> Result<Option<DateTime<Utc>>, D::Error> {
    Ok(Scalar::deserialize(d)?.timestamp())
}

/// serde adapter: optional flag.
pub(crate) fn de_opt_flag<'de, D: Deserializer<'de>>(d: D) -> Result<Option<bool>, D::Error> {
    Ok(Scalar::deserialize(d)?.flag())
}

/// serde adapter: optional non-empty string (numbers are turned into strings).
pub(crate) fn de_opt_string<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    de_opt_id(d)
}

/// serde adapter: chunk map, empty when absent or unreadable.
pub(crate) fn de_chunks<'de, D: Deserializer<'de>>(d: D) -> Result<BTreeMap<u32, u64>, D::Error> {
    Ok(Option::<Value>::deserialize(d)?
        .as_ref()
        .map(chunk_map)
        .unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// Every tolerant field of a node reads the same from text (strings borrowed from the input,
    /// or copied when they hold escapes) as from a parsed `Value` (strings owned), and an odd
    /// `ai` or `previews` never fails the node.
    #[test]
    fn a_node_reads_alike_from_text_and_from_a_tree() {
        use crate::fastio::types::{AiIndexState, Node, PreviewState, PreviewType};
        let text = r#"{
            "id": 4687730903718774523, "name": "caf\u00e9 \"menu\".pdf", "type": "file",
            "parent": "r\u006fot", "size": "10205", "mimetype": "application/pdf",
            "created": "2026-05-18 19:26:25 UTC", "modified": 1779132385,
            "deleted": "no", "deleted_from": null, "version": 7, "origin": {"type": "upload"},
            "ai": {"state": "IN-PROGRESS", "attach": "yes", "summary": {"a": [1, 2]}},
            "previews": {"thumbnail": {"state": "in_progress", "ready": true},
                         "image": {"ready": 1}, "pdf": "Not-Generated", "hls_stream": true,
                         "audio": null, "mp4": [1], "bogus": {"state": "ready"}}
        }"#;
        let from_text: Node = serde_json::from_str(text).expect("from text");
        let tree: Value = serde_json::from_str(text).expect("tree");
        let from_tree: Node = serde_json::from_value(tree).expect("from tree");
        assert_eq!(from_text, from_tree);
        assert_eq!(from_text.id, "4687730903718774523");
        assert_eq!(from_text.name, "café \"menu\".pdf");
        assert_eq!(from_text.parent.as_deref(), Some("root"));
        assert_eq!(from_text.size, Some(10205));
        assert_eq!(from_text.version.as_deref(), Some("7"));
        assert_eq!(from_text.deleted, Some(false));
        assert_eq!(from_text.deleted_from, None);
        assert_eq!(from_text.created, parse_timestamp("2026-05-18T19:26:25Z"));
        assert_eq!(from_text.modified, parse_timestamp("2026-05-18T19:26:25Z"));
        assert_eq!(from_text.ai.state, AiIndexState::InProgress);
        assert_eq!(from_text.ai.attach, Some(true));
        let p = &from_text.previews;
        assert_eq!(p.get(PreviewType::Thumbnail), PreviewState::InProgress);
        assert_eq!(p.get(PreviewType::Image), PreviewState::Ready);
        assert_eq!(p.get(PreviewType::Pdf), PreviewState::NotGenerated);
        assert_eq!(p.get(PreviewType::HlsStream), PreviewState::Ready);
        assert_eq!(p.get(PreviewType::Audio), PreviewState::Unknown);
        assert_eq!(p.get(PreviewType::Mp4), PreviewState::Unknown);
        assert_eq!(p.0.len(), 6, "the unknown type is skipped: {p:?}");

        for (ai, previews) in [
            ("\"ready\"", "null"),
            ("42", "\"ready\""),
            ("[{\"state\": \"ready\"}]", "[1, {\"a\": 2}]"),
            ("null", "7"),
        ] {
            let text = format!(r#"{{"id": "n1", "ai": {ai}, "previews": {previews}}}"#);
            let node: Node = serde_json::from_str(&text).expect(&text);
            let tree: Node =
                serde_json::from_value(serde_json::from_str(&text).expect("tree")).expect(&text);
            assert_eq!(node, tree, "{text}");
            assert!(node.previews.0.is_empty(), "{text}");
            let want = if ai == "\"ready\"" {
                AiIndexState::Ready
            } else {
                AiIndexState::Unknown
            };
            assert_eq!(node.ai.state, want, "{text}");
        }
        let err = serde_json::from_str::<Node>(r#"{"id": {"no": 1}}"#);
        assert!(err.is_err(), "an id that is an object is still refused");
    }

    #[test]
    fn ids_are_strings_or_numbers() {
        assert_eq!(
            id(&json!("2947763503651577469")).as_deref(),
            Some("2947763503651577469")
        );
        assert_eq!(
            id(&json!(2947763503651577469_u64)).as_deref(),
            Some("2947763503651577469")
        );
        assert_eq!(id(&json!("")), None);
        assert_eq!(id(&json!(null)), None);
    }

    #[test]
    fn sizes_and_codes_accept_numeric_strings() {
        assert_eq!(u64_lenient(&json!(10205)), Some(10205));
        assert_eq!(u64_lenient(&json!("10205")), Some(10205));
        assert_eq!(u64_lenient(&json!(1.0e3)), Some(1000));
        assert_eq!(u64_lenient(&json!(-1)), None);
        assert_eq!(i64_lenient(&json!("405")), Some(405));
        assert_eq!(i64_lenient(&json!(10522)), Some(10522));
        assert_eq!(i64_lenient(&json!("abc")), None);
    }

    #[test]
    fn flags_accept_bool_and_yes_no() {
        assert_eq!(flag(&json!(true)), Some(true));
        assert_eq!(flag(&json!("yes")), Some(true));
        assert_eq!(flag(&json!("No")), Some(false));
        assert_eq!(flag(&json!(0)), Some(false));
        assert_eq!(flag(&json!("maybe")), None);
    }

    #[test]
    fn timestamps_accept_both_documented_formats() {
        let expected = Utc.with_ymd_and_hms(2026, 5, 18, 19, 26, 25).single();
        assert_eq!(timestamp(&json!("2026-05-18 19:26:25 UTC")), expected);
        assert_eq!(timestamp(&json!("2026-05-18T19:26:25Z")), expected);
        assert_eq!(timestamp(&json!("2026-05-18T21:26:25+02:00")), expected);
        assert_eq!(timestamp(&json!("2026-05-18 19:26:25")), expected);
        assert_eq!(timestamp(&json!(1779132385)), expected);
        assert_eq!(timestamp(&json!("yesterday")), None);
        // The digit-by-digit path refuses what is not a date and leaves the rest to chrono.
        assert_eq!(timestamp(&json!("2026-02-30 19:26:25 UTC")), None);
        assert_eq!(timestamp(&json!("2026-05-18 24:26:25 UTC")), None);
        assert_eq!(timestamp(&json!("2026-05-18 19:26:2x UTC")), None);
        assert_eq!(timestamp(&json!("2026-05-18 19:26:25 GMT")), None);
        assert_eq!(
            timestamp(&json!("2026-05-18T19:26:25.5Z")).map(|t| t.timestamp_millis()),
            expected.map(|t| t.timestamp_millis() + 500)
        );
    }

    #[test]
    fn chunk_maps_accept_objects_and_lists() {
        let from_object = chunk_map(&json!({"1": 1048576, "2": "1048576", "3": {"size": 5}}));
        assert_eq!(
            from_object,
            BTreeMap::from([(1, 1048576), (2, 1048576), (3, 5)])
        );
        let from_list = chunk_map(&json!([{"order": 2, "size": 7}, {"order": "1", "size": 9}]));
        assert_eq!(from_list, BTreeMap::from([(1, 9), (2, 7)]));
        assert!(chunk_map(&json!(null)).is_empty());
    }
}
