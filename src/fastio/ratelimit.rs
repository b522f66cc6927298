//! Reading Fast.io's rate-limit headers (`fastio-api.md` §3). The modern `x-ve-limit-*` family
//! is read first, then the legacy `X-Rate-Limit-*` one. The reset time is disputed upstream, so
//! it is accepted as epoch seconds, `YYYY-MM-DD HH:MM:SS UTC` or RFC 3339; anything else means
//! the contract's 60 s.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use reqwest::header::HeaderMap;

use super::de::parse_timestamp;

/// The wait used when no reset time can be read (the official CLI's choice).
pub const DEFAULT_RATE_LIMIT_WAIT: Duration = Duration::from_secs(60);

/// Below this many remaining requests the client logs a warning, as the CLI does.
const LOW_REMAINING_WARNING: u64 = 5;

/// Integers below this are taken as a relative number of seconds rather than an epoch (no
/// epoch second in this century is that small; an unverified but harmless tolerance).
const SMALLEST_EPOCH: i64 = 1_000_000_000;

const EXPIRES_HEADERS: [&str; 2] = ["x-ve-limit-expires", "x-rate-limit-expiry"];
const AVAILABLE_HEADERS: [&str; 2] = ["x-ve-limit-avail", "x-rate-limit-available"];

/// How long to wait after a 429, read from the headers at time `now`.
pub(crate) fn retry_after(headers: &HeaderMap, now: SystemTime) -> Duration {
    if let Some(expires) = first_header(headers, &EXPIRES_HEADERS)
        && let Some(wait) = wait_until(expires, now)
    {
        return wait;
    }
    // `Retry-After` is not documented by Fast.io, but when a proxy or the emulator sends one it
    // is better than a blind minute.
    first_header(headers, &["retry-after"])
        .and_then(|value| value.trim().parse::<u64>().ok())
        .map(Duration::from_secs)
        .unwrap_or(DEFAULT_RATE_LIMIT_WAIT)
}

/// The time from `now` until the reset described by an `…-expires` value, or `None` when the
/// value is in no accepted form. A reset in the past means no wait.
pub(crate) fn wait_until(expires: &str, now: SystemTime) -> Option<Duration> {
    let now_secs = now.duration_since(UNIX_EPOCH).ok()?.as_secs_f64();
    let expires = expires.trim();
    let reset_secs = if let Ok(number) = expires.parse::<i64>() {
        if number < SMALLEST_EPOCH {
            return Some(Duration::from_secs(number.max(0).unsigned_abs()));
        }
        number as f64
    } else {
        parse_timestamp(expires)?.timestamp() as f64
    };
    Some(Duration::from_secs_f64((reset_secs - now_secs).max(0.0)))
}

/// Logs when the remaining budget of a bucket runs low.
pub(crate) fn note_remaining(headers: &HeaderMap) {
    let remaining = first_header(headers, &AVAILABLE_HEADERS)
        .and_then(|value| value.trim().parse::<u64>().ok());
    if let Some(remaining) = remaining.filter(|left| *left <= LOW_REMAINING_WARNING) {
        tracing::warn!(remaining, "Fast.io rate-limit budget is running low");
    }
}

/// The value of the first header in `names` that is present and readable as text.
fn first_header<'a>(headers: &'a HeaderMap, names: &[&str]) -> Option<&'a str> {
    names
        .iter()
        .find_map(|name| headers.get(*name).and_then(|value| value.to_str().ok()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    fn at(secs: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(secs)
    }

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.insert(*name, HeaderValue::from_str(value).expect("valid header"));
        }
        map
    }

    #[test]
    fn expires_as_epoch_seconds() {
        let now = at(1_767_225_600);
        assert_eq!(wait_until("1767225660", now), Some(Duration::from_secs(60)));
        assert_eq!(wait_until("1767225000", now), Some(Duration::ZERO));
    }

    #[test]
    fn expires_as_utc_datetime_and_rfc3339() {
        // 2026-01-01 00:00:00 UTC = 1767225600
        let now = at(1_767_225_600);
        assert_eq!(
            wait_until("2026-01-01 00:00:05 UTC", now),
            Some(Duration::from_secs(5))
        );
        assert_eq!(
            wait_until("2026-01-01T00:00:07Z", now),
            Some(Duration::from_secs(7))
        );
        assert_eq!(
            wait_until("2026-01-01T01:00:09+01:00", now),
            Some(Duration::from_secs(9))
        );
    }

    #[test]
    fn small_integers_are_relative_seconds() {
        assert_eq!(
            wait_until("3", at(1_767_225_600)),
            Some(Duration::from_secs(3))
        );
    }

    #[test]
    fn unreadable_expires_falls_back_to_sixty_seconds() {
        assert_eq!(wait_until("soon", at(0)), None);
        let map = headers(&[("x-ve-limit-expires", "soon")]);
        assert_eq!(
            retry_after(&map, at(1_767_225_600)),
            DEFAULT_RATE_LIMIT_WAIT
        );
        assert_eq!(
            retry_after(&HeaderMap::new(), at(0)),
            DEFAULT_RATE_LIMIT_WAIT
        );
    }

    #[test]
    fn modern_header_wins_over_legacy() {
        let now = at(1_767_225_600);
        let map = headers(&[
            ("x-ve-limit-expires", "1767225602"),
            ("X-Rate-Limit-Expiry", "1767225630"),
        ]);
        assert_eq!(retry_after(&map, now), Duration::from_secs(2));
        let legacy = headers(&[("X-Rate-Limit-Expiry", "1767225630")]);
        assert_eq!(retry_after(&legacy, now), Duration::from_secs(30));
    }

    #[test]
    fn retry_after_header_is_a_fallback() {
        let map = headers(&[("retry-after", "4")]);
        assert_eq!(retry_after(&map, at(1_767_225_600)), Duration::from_secs(4));
    }
}
