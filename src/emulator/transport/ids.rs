//! Identifier and timestamp formats (§11 "IDs and timestamps").
//!
//! Workspace and share ids are 19-digit strings; node, upload and version ids are 30 characters
//! of `[a-z0-9]` with no meaning in their prefix; timestamps are `YYYY-MM-DD HH:MM:SS UTC`.

use rand::RngExt as _;

const ALNUM: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";

/// A 30-character `[a-z0-9]` id (nodes, upload sessions, versions).
pub fn opaque_id() -> String {
    let mut rng = rand::rng();
    (0..30)
        .map(|_| ALNUM[rng.random_range(0..ALNUM.len())] as char)
        .collect()
}

/// A 19-digit numeric profile id (workspaces, file shares, users).
pub fn profile_id() -> String {
    let mut rng = rand::rng();
    let mut s = String::with_capacity(19);
    s.push(char::from(b'1' + rng.random_range(0..9u8)));
    for _ in 0..18 {
        s.push(char::from(b'0' + rng.random_range(0..10u8)));
    }
    s
}

/// A download token: 48 random `[a-z0-9]` characters.
pub fn token() -> String {
    let mut rng = rand::rng();
    (0..48)
        .map(|_| ALNUM[rng.random_range(0..ALNUM.len())] as char)
        .collect()
}

/// Formats a time as `YYYY-MM-DD HH:MM:SS UTC`.
pub fn format_time(t: chrono::DateTime<chrono::Utc>) -> String {
    t.format("%Y-%m-%d %H:%M:%S UTC").to_string()
}

/// Now, as `YYYY-MM-DD HH:MM:SS UTC`.
pub fn now() -> String {
    format_time(chrono::Utc::now())
}

/// Now as Unix seconds.
pub fn now_epoch() -> i64 {
    chrono::Utc::now().timestamp()
}
