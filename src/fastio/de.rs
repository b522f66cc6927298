//! Tolerant readers for the places where Fast.io's JSON varies (`fastio-api.md` §1.1, §6.2):
//! ids as strings or numbers, sizes as numbers or numeric strings, timestamps in RFC 3339 or
//! `YYYY-MM-DD HH:MM:SS UTC`, flags as booleans or `"yes"`/`"no"`. Each reader returns `None`
//! for a value it cannot read, so one odd field never fails a whole listing.

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDateTime, TimeZone, Utc};
use serde::{Deserialize, Deserializer};
use serde_json::Value;

/// An id given as a non-empty string or as an integer.
pub(crate) fn id(value: &Value) -> Option<String> {
    match value {
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// A non-negative integer given as a number or a numeric string.
pub(crate) fn u64_lenient(value: &Value) -> Option<u64> {
    match value {
        Value::Number(n) => n.as_u64().or_else(|| {
            n.as_f64()
                .filter(|f| *f >= 0.0 && f.fract() == 0.0 && *f < u64::MAX as f64)
                .map(|f| f as u64)
        }),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// A signed integer given as a number or a numeric string (error codes such as `"405"`).
pub(crate) fn i64_lenient(value: &Value) -> Option<i64> {
    match value {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// A flag given as a boolean, `"yes"`/`"no"`, `"true"`/`"false"` or `1`/`0`.
pub(crate) fn flag(value: &Value) -> Option<bool> {
    match value {
        Value::Bool(b) => Some(*b),
        Value::Number(n) => n.as_i64().map(|n| n != 0),
        Value::String(s) => match s.trim().to_ascii_lowercase().as_str() {
            "yes" | "true" | "1" => Some(true),
            "no" | "false" | "0" => Some(false),
            _ => None,
        },
        _ => None,
    }
}

/// A timestamp in RFC 3339, `YYYY-MM-DD HH:MM:SS UTC` (what the live API sends), the same
/// without the zone (read as UTC), or Unix epoch seconds.
pub(crate) fn timestamp(value: &Value) -> Option<DateTime<Utc>> {
    match value {
        Value::String(s) => parse_timestamp(s),
        Value::Number(n) => n
            .as_i64()
            .and_then(|secs| Utc.timestamp_opt(secs, 0).single()),
        _ => None,
    }
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
    let value = Value::deserialize(d)?;
    id(&value).ok_or_else(|| serde::de::Error::custom("id is neither a string nor a number"))
}

/// serde adapter: optional id, string or number.
pub(crate) fn de_opt_id<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    Ok(Option::<Value>::deserialize(d)?.as_ref().and_then(id))
}

/// serde adapter: optional non-negative integer.
pub(crate) fn de_opt_u64<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
    Ok(Option::<Value>::deserialize(d)?
        .as_ref()
        .and_then(u64_lenient))
}

/// serde adapter: optional timestamp in any accepted form.
pub(crate) fn de_opt_time<'de, D: Deserializer<'de>>(
    d: D,
) -> Result<Option<DateTime<Utc>>, D::Error> {
    Ok(Option::<Value>::deserialize(d)?
        .as_ref()
        .and_then(timestamp))
}

/// serde adapter: optional flag.
pub(crate) fn de_opt_flag<'de, D: Deserializer<'de>>(d: D) -> Result<Option<bool>, D::Error> {
    Ok(Option::<Value>::deserialize(d)?.as_ref().and_then(flag))
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
