//! Parsers for the value syntaxes of configuration variables (sizes, durations, origins…).
//! Each returns the reason in words; the caller turns it into a [`super::Problem`].

use std::time::Duration;

use rand::Rng as _;
use secrecy::SecretSlice;

use super::{LogFormat, WorkspaceSelection};

pub(super) fn generated_secret() -> SecretSlice<u8> {
    let mut bytes = vec![0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    SecretSlice::from(bytes)
}

pub(super) fn parse_http_url(s: &str) -> Result<String, String> {
    let rest = s
        .strip_prefix("https://")
        .or_else(|| s.strip_prefix("http://"))
        .ok_or("it must start with http:// or https://")?;
    if rest.is_empty() || rest.starts_with('/') {
        return Err("it has no host".into());
    }
    Ok(s.trim_end_matches('/').to_owned())
}

/// An origin: scheme and authority only, lower-cased; a trailing slash is forgiven.
pub(super) fn parse_origin(s: &str) -> Result<String, String> {
    let url = parse_http_url(s)?;
    let (scheme, authority) = url.split_once("://").ok_or("no scheme")?;
    if authority.contains(['/', '?', '#', '@']) {
        return Err("an origin has no path, query or user part".into());
    }
    Ok(format!("{scheme}://{}", authority.to_ascii_lowercase()))
}

pub(super) fn parse_workspaces(s: &str) -> Result<WorkspaceSelection, String> {
    if s == "*" {
        return Ok(WorkspaceSelection::All);
    }
    let ids: Vec<String> = s
        .split(',')
        .map(str::trim)
        .filter(|i| !i.is_empty())
        .map(str::to_owned)
        .collect();
    if ids.is_empty() {
        return Err("no ids listed".into());
    }
    if let Some(bad) = ids
        .iter()
        .find(|i| !i.chars().all(|c| c.is_ascii_alphanumeric() || c == '-'))
    {
        return Err(format!("“{bad}” is not a workspace id"));
    }
    Ok(WorkspaceSelection::Only(ids))
}

pub(super) fn parse_positive(s: &str) -> Result<u64, String> {
    match s.parse::<u64>() {
        Ok(n) if n >= 1 => Ok(n),
        _ => Err("not a whole number ≥ 1".into()),
    }
}

/// `1048576`, `500MB`, `5 MiB`, `2gib` → bytes. Units: B, KB/MB/GB/TB (1000ⁿ), KiB/MiB/GiB/TiB
/// (1024ⁿ), case-insensitive.
pub fn parse_size(s: &str) -> Result<u64, String> {
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (digits, unit) = s.split_at(split);
    let n: u64 = digits
        .parse()
        .map_err(|_| "it must start with a whole number".to_owned())?;
    let factor: u64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "kb" => 1_000,
        "mb" => 1_000_000,
        "gb" => 1_000_000_000,
        "tb" => 1_000_000_000_000,
        "kib" => 1 << 10,
        "mib" => 1 << 20,
        "gib" => 1 << 30,
        "tib" => 1 << 40,
        other => {
            return Err(format!(
                "unknown unit “{other}” (use B, KB, MB, GB, TB, KiB, MiB, GiB or TiB)"
            ));
        }
    };
    match n.checked_mul(factor) {
        Some(0) => Err("it must be more than zero".into()),
        Some(bytes) => Ok(bytes),
        None => Err("it is too large".into()),
    }
}

/// `90` (seconds), `500ms`, `90s`, `30m`, `2h`, `7d`.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (digits, unit) = s.split_at(split);
    let n: u64 = digits
        .parse()
        .map_err(|_| "it must start with a whole number".to_owned())?;
    let d = match unit.trim() {
        "" | "s" => Duration::from_secs(n),
        "ms" => Duration::from_millis(n),
        "m" | "min" => Duration::from_secs(n.saturating_mul(60)),
        "h" => Duration::from_secs(n.saturating_mul(3600)),
        "d" => Duration::from_secs(n.saturating_mul(86_400)),
        other => return Err(format!("unknown unit “{other}” (use ms, s, m, h or d)")),
    };
    if d.is_zero() {
        Err("it must be more than zero".into())
    } else {
        Ok(d)
    }
}

pub(super) fn parse_log_format(s: &str) -> Result<LogFormat, String> {
    match s.to_ascii_lowercase().as_str() {
        "pretty" => Ok(LogFormat::Pretty),
        "json" => Ok(LogFormat::Json),
        _ => Err("expected pretty or json".into()),
    }
}
