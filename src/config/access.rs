//! The access-control variables (DESIGN §3b): how callers are identified, where the access
//! database lives, and how long sessions last.

use std::net::IpAddr;
use std::path::Path;
use std::time::Duration;

use ipnet::IpNet;

use super::Reader;
use super::values::parse_duration;
use crate::access::{Role, Settings};
use crate::db::Target;

/// How callers are identified (`FASTGATE_AUTH`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AuthMode {
    /// Users sign in; scripts use API tokens (the default).
    Accounts,
    /// An authenticating reverse proxy names the user in a header.
    Proxy,
    /// No identity: anyone reaching the port may browse, upload and share (explicit opt-in).
    Open,
}

/// The validated access configuration.
#[derive(Clone, Debug)]
pub struct AccessConfig {
    /// `FASTGATE_AUTH`.
    pub auth: AuthMode,
    /// `FASTGATE_DATABASE_URL`, or SQLite at `FASTGATE_DATA_DIR/fastgate.db` when unset.
    pub database: Target,
    /// `FASTGATE_AUTH_PROXY_HEADER`, lower-cased (HTTP header names are case-insensitive).
    pub proxy_header: String,
    /// `FASTGATE_TRUSTED_PROXIES`: peers whose proxy header (and `X-Forwarded-For`) is
    /// believed. Required in proxy mode; empty otherwise unless set.
    pub trusted_proxies: Vec<IpNet>,
    /// `FASTGATE_PROXY_DEFAULT_ROLE`: the role on every workspace of any proxy user; `None`
    /// (the default, `none`): only the grants an admin gave that username.
    pub proxy_default_role: Option<Role>,
    /// `FASTGATE_SESSION_IDLE`.
    pub session_idle: Duration,
    /// `FASTGATE_SESSION_MAX`.
    pub session_max: Duration,
}

impl AccessConfig {
    /// The access service's tunables.
    pub fn settings(&self) -> Settings {
        Settings {
            session_idle: self.session_idle,
            session_max: self.session_max,
            ..Settings::default()
        }
    }

    /// Is `peer` one of `FASTGATE_TRUSTED_PROXIES`?
    pub fn is_trusted_proxy(&self, peer: IpAddr) -> bool {
        let peer = match peer {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(peer, IpAddr::V4),
            v4 => v4,
        };
        self.trusted_proxies.iter().any(|net| net.contains(&peer))
    }
}

fn parse_auth(s: &str) -> Result<AuthMode, String> {
    match s.to_ascii_lowercase().as_str() {
        "accounts" => Ok(AuthMode::Accounts),
        "proxy" => Ok(AuthMode::Proxy),
        "open" => Ok(AuthMode::Open),
        _ => Err("expected accounts, proxy or open".into()),
    }
}

fn parse_database_url(s: &str) -> Result<Target, String> {
    if !(s.starts_with("postgres://") || s.starts_with("postgresql://")) {
        return Err(
            "only postgres:// URLs are supported (unset means SQLite in FASTGATE_DATA_DIR)".into(),
        );
    }
    // Validate now so a typo is a start-up problem, not a failure at first use. The parser's
    // message never echoes the password.
    s.parse::<tokio_postgres::Config>()
        .map_err(|e| format!("not a PostgreSQL URL ({e})"))?;
    Ok(Target::Postgres(s.to_owned()))
}

fn parse_header(s: &str) -> Result<String, String> {
    let token = |c: char| c.is_ascii_alphanumeric() || "!#$%&'*+-.^_`|~".contains(c);
    if s.chars().all(token) {
        Ok(s.to_ascii_lowercase())
    } else {
        Err("not an HTTP header name".into())
    }
}

fn parse_cidrs(s: &str) -> Result<Vec<IpNet>, String> {
    s.split(',')
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(|p| {
            p.parse::<IpNet>()
                .or_else(|_| p.parse::<IpAddr>().map(IpNet::from))
                .map_err(|_| format!("“{p}” is not a CIDR or an IP address"))
        })
        .collect()
}

fn parse_role(s: &str) -> Result<Option<Role>, String> {
    if s.eq_ignore_ascii_case("none") {
        return Ok(None);
    }
    s.parse()
        .map(Some)
        .map_err(|e: crate::access::UnknownRole| e.to_string())
}

/// Reads the access variables, recording every problem in `r`.
pub(super) fn read(r: &mut Reader<'_>, data_dir: &Path) -> Option<AccessConfig> {
    let auth = r.parse(
        "FASTGATE_AUTH",
        "accounts",
        parse_auth,
        "accounts, proxy or open",
    );
    let database = match r.get("FASTGATE_DATABASE_URL") {
        None => Some(Target::Sqlite(data_dir.join("fastgate.db"))),
        Some(_) => r.parse(
            "FASTGATE_DATABASE_URL",
            "",
            parse_database_url,
            "a URL such as postgres://fastgate:PASSWORD@db:5432/fastgate, or unset for SQLite",
        ),
    };
    let proxy_header = r.parse(
        "FASTGATE_AUTH_PROXY_HEADER",
        "Remote-User",
        parse_header,
        "a header name such as Remote-User or X-Forwarded-User",
    );
    let trusted_proxies = r.parse(
        "FASTGATE_TRUSTED_PROXIES",
        "",
        parse_cidrs,
        "comma-separated CIDRs such as 127.0.0.1/32,10.0.0.0/8",
    );
    if auth == Some(AuthMode::Proxy) && trusted_proxies.as_ref().is_some_and(Vec::is_empty) {
        r.problem(
            "FASTGATE_TRUSTED_PROXIES",
            "is required with FASTGATE_AUTH=proxy".into(),
            "list the reverse proxy's addresses, such as 127.0.0.1/32",
        );
    }
    let proxy_default_role = r.parse(
        "FASTGATE_PROXY_DEFAULT_ROLE",
        "none",
        parse_role,
        "viewer, uploader, editor, admin or none",
    );
    let session_idle = r.parse(
        "FASTGATE_SESSION_IDLE",
        "12h",
        parse_duration,
        "a duration such as 12h or 30m",
    );
    let session_max = r.parse(
        "FASTGATE_SESSION_MAX",
        "7d",
        parse_duration,
        "a duration such as 7d or 24h",
    );
    if let (Some(idle), Some(max)) = (session_idle, session_max)
        && idle > max
    {
        r.problem(
            "FASTGATE_SESSION_IDLE",
            format!(
                "{}s is longer than FASTGATE_SESSION_MAX ({}s)",
                idle.as_secs(),
                max.as_secs()
            ),
            "make the idle timeout at most the maximum session length",
        );
    }
    Some(AccessConfig {
        auth: auth?,
        database: database?,
        proxy_header: proxy_header?,
        trusted_proxies: trusted_proxies?,
        proxy_default_role: proxy_default_role?,
        session_idle: session_idle?,
        session_max: session_max?,
    })
}
