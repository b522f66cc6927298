//! The gateway's configuration: one typed [`Config`] built once at start-up from the environment
//! (and `.env`), validated as a whole so an operator sees every mistake in one go.
//!
//! [`ENV_EXAMPLE`] documents every variable with its default; `.env.example` is written from it
//! and a test checks that every variable read here appears in it.

use std::collections::HashMap;
use std::fmt;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use secrecy::{SecretSlice, SecretString};

use crate::upload::rules::AllowedTypes;

mod access;
mod values;
pub use access::{AccessConfig, AuthMode};
use values::{
    generated_secret, parse_http_url, parse_log_format, parse_origin, parse_positive,
    parse_workspaces,
};
pub use values::{parse_duration, parse_size};

/// Every variable, its default and its meaning, in `.env.example` form.
pub const ENV_EXAMPLE: &str = r#"# fastgate configuration. Every variable is optional; the defaults are shown.

# Fast.io API key. Unset: fastgate starts an embedded Fast.io emulator (local development).
# Never logged, never rendered.
# FASTIO_API_KEY=
# Upstream API base, `/current` included. For a stand-alone emulator: http://127.0.0.1:PORT/current
# FASTIO_BASE_URL=https://api.fast.io/current

# Listen address (the container sets 0.0.0.0:3000).
# FASTGATE_BIND=127.0.0.1:3000
# The origin browsers use to reach fastgate (scheme://host[:port]); state-changing requests must
# carry it as their Origin. Default: http:// + FASTGATE_BIND.
# FASTGATE_PUBLIC_URL=https://files.example.com
# Workspace ids the gateway exposes, comma-separated, or * for every workspace the key can see.
# FASTGATE_WORKSPACES=*

# Largest accepted file: bytes, or with a unit (KB/MB/GB/TB = 1000^n, KiB/MiB/GiB/TiB = 1024^n).
# FASTGATE_MAX_FILE_SIZE=1GiB
# Most files in one form post.
# FASTGATE_MAX_FILES=100
# Allowed types, comma-separated extensions and MIME types (wildcards allowed), or * for any.
# Checked on the name and on the first bytes of the content.
# FASTGATE_ALLOWED_TYPES=.pdf,image/*
# FASTGATE_ALLOWED_TYPES=*

# Storage of the embedded emulator.
# FASTGATE_DATA_DIR=./data
# Log format: pretty (people) or json (log collectors).
# FASTGATE_LOG_FORMAT=pretty
# Key that signs upload tokens and cookies, at least 32 bytes. Unset: generated at start, which
# is fine for one replica only; replicas behind one load balancer must share it.
# FASTGATE_SECRET=

# Size of the chunks the browser PUTs and the gateway sends upstream (1MiB to 100MiB).
# FASTGATE_CHUNK_SIZE=8MiB
# Upload bytes held in memory across all uploads at once; readers wait when it is full.
# Must hold at least one chunk.
# FASTGATE_INFLIGHT_BUDGET=64MiB
# Longest time one upload request (a form post or a chunk PUT) may take: 90s, 30m, 2h, or seconds.
# FASTGATE_UPLOAD_TIMEOUT=30m
# Longest time any other request may take.
# FASTGATE_REQUEST_TIMEOUT=30s
# Lifetime of an upload token handed to the browser.
# FASTGATE_UPLOAD_TOKEN_TTL=24h
# On shutdown, how long running requests may finish before the process exits.
# FASTGATE_SHUTDOWN_GRACE=30s
# How often (and once at start-up) the gateway lists its Fast.io upload sessions and cancels the
# orphaned ones, left open by a replica killed mid-upload; off disables it. Form uploads use
# stream sessions, the JS path sized ones: a stream session older than FASTGATE_ORPHAN_AGE, or a
# sized one older than FASTGATE_UPLOAD_TOKEN_TTL + FASTGATE_ORPHAN_AGE (no browser can resume it
# any more), is cancelled. Sessions belong to the API key: give the gateway a key of its own.
# FASTGATE_ORPHAN_SWEEP=10m
# Age past which such a session cannot belong to a running request on any replica; at least
# FASTGATE_UPLOAD_TIMEOUT. Default: FASTGATE_UPLOAD_TIMEOUT + 5m.
# FASTGATE_ORPHAN_AGE=35m
# Longest time a client may take to send a request's headers; a slower one (slowloris) is
# disconnected.
# FASTGATE_HEADER_TIMEOUT=10s

# Who may do what. accounts: users sign in (first run prints a one-time /setup URL), scripts use
# API tokens. proxy: an authenticating reverse proxy (oauth2-proxy, Authelia…) names the user in
# FASTGATE_AUTH_PROXY_HEADER. open: no identity at all, anyone reaching the port may browse,
# upload and share (explicit opt-in; a warning is logged and every page says so).
# FASTGATE_AUTH=accounts
# The access database (users, sessions, tokens, links, audit log). Unset: SQLite at
# FASTGATE_DATA_DIR/fastgate.db. Several replicas must share one PostgreSQL. Connections are plain
# TCP without TLS: keep the database on loopback or a private network.
# FASTGATE_DATABASE_URL=postgres://fastgate:PASSWORD@127.0.0.1:5432/fastgate
# proxy mode: the header holding the username, believed only from FASTGATE_TRUSTED_PROXIES.
# FASTGATE_AUTH_PROXY_HEADER=Remote-User
# Addresses of the reverse proxies (comma-separated CIDRs or IPs); required in proxy mode. Their
# X-Forwarded-For also gives the client IP used by the sign-in throttle and the audit log.
# FASTGATE_TRUSTED_PROXIES=127.0.0.1/32,::1/128
# proxy mode: the role every proxy user has on every workspace (viewer, uploader, editor, admin),
# on top of grants an admin gives their username; none: only those grants.
# FASTGATE_PROXY_DEFAULT_ROLE=none
# A session unused this long ends (sign in again). Durations: 90s, 30m, 12h, 7d.
# FASTGATE_SESSION_IDLE=12h
# A session ends this long after sign-in, however much it is used.
# FASTGATE_SESSION_MAX=7d
"#;

/// The upstream API used when `FASTIO_BASE_URL` is unset.
pub const DEFAULT_BASE_URL: &str = "https://api.fast.io/current";
const MIB: u64 = 1024 * 1024;
/// The default `FASTGATE_ORPHAN_AGE` is the upload timeout plus this (clock skew, the wait for
/// `stored`).
const ORPHAN_MARGIN: Duration = Duration::from_secs(300);

/// The validated configuration; handlers reach it through the app state.
#[derive(Clone, Debug)]
pub struct Config {
    /// `FASTIO_API_KEY`; `None` starts the embedded emulator.
    pub api_key: Option<SecretString>,
    /// `FASTIO_BASE_URL` without a trailing slash.
    pub base_url: String,
    /// `FASTGATE_BIND`.
    pub bind: SocketAddr,
    /// `FASTGATE_PUBLIC_URL` without a trailing slash; the expected `Origin`.
    pub public_url: String,
    /// `FASTGATE_WORKSPACES`.
    pub workspaces: WorkspaceSelection,
    /// `FASTGATE_MAX_FILE_SIZE` in bytes.
    pub max_file_size: u64,
    /// `FASTGATE_MAX_FILES`.
    pub max_files: usize,
    /// `FASTGATE_ALLOWED_TYPES`.
    pub allowed_types: AllowedTypes,
    /// `FASTGATE_DATA_DIR`.
    pub data_dir: PathBuf,
    /// `FASTGATE_LOG_FORMAT`.
    pub log_format: LogFormat,
    /// `FASTGATE_SECRET` (or generated; see [`Config::secret_generated`]).
    pub secret: SecretSlice<u8>,
    /// True when no secret was configured and one was generated: single replica only.
    pub secret_generated: bool,
    /// `FASTGATE_CHUNK_SIZE` in bytes.
    pub chunk_size: u64,
    /// `FASTGATE_INFLIGHT_BUDGET` in bytes.
    pub inflight_budget: u64,
    /// `FASTGATE_UPLOAD_TIMEOUT`.
    pub upload_timeout: Duration,
    /// `FASTGATE_REQUEST_TIMEOUT`.
    pub request_timeout: Duration,
    /// `FASTGATE_UPLOAD_TOKEN_TTL`.
    pub upload_token_ttl: Duration,
    /// `FASTGATE_SHUTDOWN_GRACE`.
    pub shutdown_grace: Duration,
    /// `FASTGATE_ORPHAN_SWEEP`: how often orphaned upload sessions are swept; `None` = off.
    pub orphan_sweep: Option<Duration>,
    /// `FASTGATE_ORPHAN_AGE`: past it a form session cannot be live on any replica.
    pub orphan_age: Duration,
    /// `FASTGATE_HEADER_TIMEOUT`: how long a connection may take to send a request's headers.
    pub header_timeout: Duration,
    /// The access-control variables (`FASTGATE_AUTH`, `FASTGATE_DATABASE_URL`, …).
    pub access: AccessConfig,
}

/// Which workspaces the gateway exposes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum WorkspaceSelection {
    /// Every workspace the key can see (`*`).
    All,
    /// Only these ids, in the configured order.
    Only(Vec<String>),
}

impl WorkspaceSelection {
    /// Is `id` exposed? Anything else answers 404.
    pub fn allows(&self, id: &str) -> bool {
        match self {
            Self::All => true,
            Self::Only(ids) => ids.iter().any(|w| w == id),
        }
    }
}

/// Log output format.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LogFormat {
    /// Human-readable lines.
    Pretty,
    /// One JSON object per line.
    Json,
}

/// One thing wrong with the configuration.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Problem {
    /// The variable at fault.
    pub variable: &'static str,
    /// What is wrong with its value.
    pub message: String,
    /// How to fix it.
    pub fix: String,
}

/// Every problem found, reported together.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub struct ConfigError {
    /// The problems, in variable order.
    pub problems: Vec<Problem>,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "the configuration has {} problem(s):",
            self.problems.len()
        )?;
        for p in &self.problems {
            writeln!(f, "  - {}: {}. Fix: {}", p.variable, p.message, p.fix)?;
        }
        Ok(())
    }
}

impl LogFormat {
    /// `FASTGATE_LOG_FORMAT` as the environment (and `.env`) says, before the rest of the
    /// configuration is read: so that even a configuration or command-line error is logged in
    /// the format a log collector expects. Unset or invalid: pretty.
    pub fn from_env() -> Self {
        let _ = dotenvy::dotenv();
        std::env::var("FASTGATE_LOG_FORMAT")
            .ok()
            .and_then(|v| parse_log_format(v.trim()).ok())
            .unwrap_or(LogFormat::Pretty)
    }
}

impl Config {
    /// The session cookie's name: `__Host-fastgate` when `FASTGATE_PUBLIC_URL` is https (with
    /// `Secure`), `fastgate` on plain http, where browsers refuse `__Host-` cookies.
    pub fn session_cookie_name(&self) -> &'static str {
        if self.cookie_secure() {
            "__Host-fastgate"
        } else {
            "fastgate"
        }
    }

    /// Whether cookies carry `Secure` (the public URL is https).
    pub fn cookie_secure(&self) -> bool {
        self.public_url.starts_with("https://")
    }

    /// Loads `.env` (if present, without overriding the environment), then reads the environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        // A missing .env is normal; a malformed one shows up as missing variables.
        let _ = dotenvy::dotenv();
        Self::from_vars(std::env::vars())
    }

    /// Builds the configuration from name/value pairs; empty values count as unset.
    pub fn from_vars(
        vars: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Self, ConfigError> {
        let vars: HashMap<String, String> = vars
            .into_iter()
            .map(|(k, v)| (k, v.trim().to_owned()))
            .filter(|(_, v)| !v.is_empty())
            .collect();
        let mut r = Reader {
            vars: &vars,
            problems: Vec::new(),
        };

        let api_key = r
            .get("FASTIO_API_KEY")
            .map(|k| SecretString::from(k.to_owned()));
        let base_url = r.parse(
            "FASTIO_BASE_URL",
            DEFAULT_BASE_URL,
            parse_http_url,
            "an http(s) URL such as https://api.fast.io/current",
        );
        let bind: Option<SocketAddr> = r.parse(
            "FASTGATE_BIND",
            "127.0.0.1:3000",
            |s| s.parse().map_err(|_| "not an address".into()),
            "an address with a port, such as 127.0.0.1:3000 or 0.0.0.0:3000",
        );
        let default_public = bind.map_or_else(String::new, |b| format!("http://{b}"));
        // With a broken FASTGATE_BIND the default origin is unknown; that problem is already listed.
        let public_url = if bind.is_none() && r.get("FASTGATE_PUBLIC_URL").is_none() {
            None
        } else {
            r.parse(
                "FASTGATE_PUBLIC_URL",
                &default_public,
                parse_origin,
                "the origin browsers use, such as https://files.example.com (no path)",
            )
        };
        let workspaces = r.parse(
            "FASTGATE_WORKSPACES",
            "*",
            parse_workspaces,
            "* or comma-separated workspace ids such as 4687730903718774523,1234",
        );
        let max_file_size = r.parse(
            "FASTGATE_MAX_FILE_SIZE",
            "1GiB",
            parse_size,
            "a size such as 1GiB, 500MB or 1048576",
        );
        let max_files = r.parse(
            "FASTGATE_MAX_FILES",
            "100",
            |s| parse_positive(s).map(|n| n as usize),
            "a whole number ≥ 1, such as 100",
        );
        let allowed_types = r.parse(
            "FASTGATE_ALLOWED_TYPES",
            "*",
            |s| s.parse::<AllowedTypes>().map_err(|e| e.to_string()),
            "a list such as .pdf,image/*,text/csv, or *",
        );
        let data_dir = PathBuf::from(r.get("FASTGATE_DATA_DIR").unwrap_or("./data"));
        let log_format = r.parse(
            "FASTGATE_LOG_FORMAT",
            "pretty",
            parse_log_format,
            "pretty or json",
        );
        let (secret, secret_generated) = match r.get("FASTGATE_SECRET") {
            Some(s) if s.len() >= 32 => (Some(SecretSlice::from(s.as_bytes().to_vec())), false),
            Some(s) => {
                r.problem(
                    "FASTGATE_SECRET",
                    format!("is {} bytes long; at least 32 are needed", s.len()),
                    "use 32+ random characters, e.g. the output of `openssl rand -base64 48`",
                );
                (None, false)
            }
            None => (Some(generated_secret()), true),
        };
        let chunk_size = r.parse(
            "FASTGATE_CHUNK_SIZE",
            "8MiB",
            parse_size,
            "a size between 1MiB and 100MiB, such as 8MiB",
        );
        if let Some(c) = chunk_size.filter(|c| !(MIB..=100 * MIB).contains(c)) {
            r.problem(
                "FASTGATE_CHUNK_SIZE",
                format!("{c} bytes is outside 1MiB–100MiB (Fast.io's chunk limits)"),
                "choose a size such as 8MiB",
            );
        }
        let inflight_budget = r.parse(
            "FASTGATE_INFLIGHT_BUDGET",
            "64MiB",
            parse_size,
            "a size such as 64MiB",
        );
        if let (Some(b), Some(c)) = (inflight_budget, chunk_size)
            && b < c
        {
            r.problem(
                "FASTGATE_INFLIGHT_BUDGET",
                format!("{b} bytes cannot hold one chunk of {c} bytes"),
                "make it at least FASTGATE_CHUNK_SIZE (3× or more lets uploads run in parallel)",
            );
        }
        let upload_timeout = r.parse(
            "FASTGATE_UPLOAD_TIMEOUT",
            "30m",
            parse_duration,
            "a duration such as 90s, 30m or 2h",
        );
        let request_timeout = r.parse(
            "FASTGATE_REQUEST_TIMEOUT",
            "30s",
            parse_duration,
            "a duration such as 30s",
        );
        let upload_token_ttl = r.parse(
            "FASTGATE_UPLOAD_TOKEN_TTL",
            "24h",
            parse_duration,
            "a duration such as 24h",
        );
        let shutdown_grace = r.parse(
            "FASTGATE_SHUTDOWN_GRACE",
            "30s",
            parse_duration,
            "a duration such as 30s",
        );

        let orphan_sweep = r.parse(
            "FASTGATE_ORPHAN_SWEEP",
            "10m",
            |s| {
                if s.eq_ignore_ascii_case("off") {
                    Ok(None)
                } else {
                    parse_duration(s).map(Some)
                }
            },
            "a duration such as 10m, or off",
        );
        let default_age = upload_timeout.map_or(String::from("35m"), |t| {
            format!("{}ms", (t + ORPHAN_MARGIN).as_millis())
        });
        let orphan_age = r.parse(
            "FASTGATE_ORPHAN_AGE",
            &default_age,
            parse_duration,
            "a duration at least FASTGATE_UPLOAD_TIMEOUT, such as 35m",
        );
        if let (Some(age), Some(timeout)) = (orphan_age, upload_timeout)
            && age < timeout
        {
            r.problem(
                    "FASTGATE_ORPHAN_AGE",
                    format!(
                        "{}s is shorter than FASTGATE_UPLOAD_TIMEOUT ({}s): a running form upload could be cancelled",
                        age.as_secs_f64(),
                        timeout.as_secs_f64()
                    ),
                    "make it at least FASTGATE_UPLOAD_TIMEOUT, or leave it unset",
                );
        }
        let header_timeout = r.parse(
            "FASTGATE_HEADER_TIMEOUT",
            "10s",
            |s| {
                parse_duration(s).and_then(|d| {
                    if d.is_zero() {
                        Err("must be more than 0".to_owned())
                    } else {
                        Ok(d)
                    }
                })
            },
            "a duration such as 10s",
        );

        let access = access::read(&mut r, &data_dir);

        // Every value was read (and every problem recorded) above; build only if all are good.
        let built = (|| {
            Some(Self {
                api_key,
                base_url: base_url?,
                bind: bind?,
                public_url: public_url?,
                workspaces: workspaces?,
                max_file_size: max_file_size?,
                max_files: max_files?,
                allowed_types: allowed_types?,
                data_dir,
                log_format: log_format?,
                secret: secret?,
                secret_generated,
                chunk_size: chunk_size?,
                inflight_budget: inflight_budget?,
                upload_timeout: upload_timeout?,
                request_timeout: request_timeout?,
                upload_token_ttl: upload_token_ttl?,
                shutdown_grace: shutdown_grace?,
                orphan_sweep: orphan_sweep?,
                orphan_age: orphan_age?,
                header_timeout: header_timeout?,
                access: access?,
            })
        })();
        match built {
            Some(config) if r.problems.is_empty() => Ok(config),
            _ => Err(ConfigError {
                problems: r.problems,
            }),
        }
    }
}

/// Collects values and problems while reading variables.
struct Reader<'a> {
    vars: &'a HashMap<String, String>,
    problems: Vec<Problem>,
}

impl Reader<'_> {
    fn get(&self, name: &str) -> Option<&str> {
        self.vars.get(name).map(String::as_str)
    }

    fn problem(&mut self, variable: &'static str, message: String, fix: &str) {
        self.problems.push(Problem {
            variable,
            message,
            fix: fix.to_owned(),
        });
    }

    /// Parses `name` (or `default`), recording a problem and returning `None` on failure.
    fn parse<T>(
        &mut self,
        name: &'static str,
        default: &str,
        parse: impl FnOnce(&str) -> Result<T, String>,
        fix: &str,
    ) -> Option<T> {
        let raw = self.get(name).unwrap_or(default).to_owned();
        match parse(&raw) {
            Ok(v) => Some(v),
            Err(why) => {
                self.problem(name, format!("“{raw}” is not valid: {why}"), fix);
                None
            }
        }
    }
}

#[cfg(test)]
mod tests;
