//! How sizes and dates read to people: `1.5 KiB`, `5 minutes ago`. A leaf module (it imports
//! nothing of the crate), so error messages and pages can both use it without importing each
//! other. Pure functions: the clock is a parameter.

use chrono::{DateTime, Utc};

/// `1536` → `1.5 KiB`; bytes below 1 KiB are exact (`512 B`).
pub fn human_size(bytes: u64) -> String {
    const UNITS: [&str; 6] = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];
    if bytes < 1024 {
        return format!("{bytes} B");
    }
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    if value < 10.0 {
        format!("{value:.1} {}", UNITS[unit])
    } else {
        format!("{value:.0} {}", UNITS[unit])
    }
}

/// A date as people read it in a file list, relative to `now`: `just now`, `5 minutes ago`,
/// `3 hours ago`, `yesterday`, then `18 May 2026` (UTC).
pub fn human_date(at: DateTime<Utc>, now: DateTime<Utc>) -> String {
    let secs = (now - at).num_seconds();
    match secs {
        s if s < 0 => at.format("%-d %b %Y").to_string(),
        0..60 => "just now".into(),
        60..120 => "1 minute ago".into(),
        120..3600 => format!("{} minutes ago", secs / 60),
        3600..7200 => "1 hour ago".into(),
        7200..86_400 => format!("{} hours ago", secs / 3600),
        86_400..172_800 => "yesterday".into(),
        _ => at.format("%-d %b %Y").to_string(),
    }
}

/// The full timestamp for a `title` tooltip: `2026-05-18 19:26 UTC`.
pub fn full_date(at: DateTime<Utc>) -> String {
    at.format("%Y-%m-%d %H:%M UTC").to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_read_like_people_write_them() {
        assert_eq!(human_size(0), "0 B");
        assert_eq!(human_size(1023), "1023 B");
        assert_eq!(human_size(1536), "1.5 KiB");
        assert_eq!(human_size(10 * 1024 * 1024), "10 MiB");
        assert_eq!(human_size(3 * 1024 * 1024 * 1024 / 2), "1.5 GiB");
    }

    #[test]
    fn dates_are_relative_when_recent() {
        let now: DateTime<Utc> = "2026-05-18T12:00:00Z".parse().expect("date");
        let ago = |s: i64| human_date(now - chrono::Duration::seconds(s), now);
        assert_eq!(ago(5), "just now");
        assert_eq!(ago(90), "1 minute ago");
        assert_eq!(ago(600), "10 minutes ago");
        assert_eq!(ago(3 * 3600), "3 hours ago");
        assert_eq!(ago(30 * 3600), "yesterday");
        assert_eq!(ago(40 * 86_400), "8 Apr 2026");
        assert_eq!(full_date(now), "2026-05-18 12:00 UTC");
    }
}
