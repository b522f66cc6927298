use super::*;
use secrecy::ExposeSecret;

fn vars(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn config(pairs: &[(&str, &str)]) -> Config {
    Config::from_vars(vars(pairs)).expect("valid config")
}

#[test]
fn defaults_follow_the_design_table() {
    let c = config(&[]);
    assert!(c.api_key.is_none());
    assert_eq!(c.base_url, "https://api.fast.io/current");
    assert_eq!(c.bind, "127.0.0.1:3000".parse().expect("addr"));
    assert_eq!(c.public_url, "http://127.0.0.1:3000");
    assert_eq!(c.workspaces, WorkspaceSelection::All);
    assert_eq!(c.max_file_size, 1 << 30);
    assert_eq!(c.max_files, 100);
    assert_eq!(c.allowed_types, AllowedTypes::Any);
    assert_eq!(c.data_dir, PathBuf::from("./data"));
    assert_eq!(c.log_format, LogFormat::Pretty);
    assert!(c.secret_generated);
    assert_eq!(c.secret.expose_secret().len(), 32);
    assert_eq!(c.chunk_size, 8 << 20);
    assert_eq!(c.inflight_budget, 64 << 20);
    assert_eq!(c.upload_timeout, Duration::from_secs(1800));
    assert_eq!(c.shutdown_grace, Duration::from_secs(30));
    assert_eq!(c.orphan_sweep, Some(Duration::from_secs(600)));
    assert_eq!(c.orphan_age, Duration::from_secs(35 * 60));
}

#[test]
fn the_orphan_sweep_can_be_off_and_its_age_follows_the_upload_timeout() {
    let c = config(&[
        ("FASTGATE_ORPHAN_SWEEP", "off"),
        ("FASTGATE_UPLOAD_TIMEOUT", "2h"),
    ]);
    assert_eq!(c.orphan_sweep, None);
    assert_eq!(c.orphan_age, Duration::from_secs(2 * 3600 + 300));
    let c = config(&[
        ("FASTGATE_ORPHAN_SWEEP", "1s"),
        ("FASTGATE_UPLOAD_TIMEOUT", "3s"),
        ("FASTGATE_ORPHAN_AGE", "4s"),
    ]);
    assert_eq!(c.orphan_sweep, Some(Duration::from_secs(1)));
    assert_eq!(c.orphan_age, Duration::from_secs(4));
}

#[test]
fn an_orphan_age_below_the_upload_timeout_is_refused() {
    let err = Config::from_vars(vars(&[
        ("FASTGATE_UPLOAD_TIMEOUT", "30m"),
        ("FASTGATE_ORPHAN_AGE", "10m"),
        ("FASTGATE_ORPHAN_SWEEP", "never"),
    ]))
    .expect_err("invalid");
    let named: Vec<&str> = err.problems.iter().map(|p| p.variable).collect();
    assert_eq!(named, ["FASTGATE_ORPHAN_SWEEP", "FASTGATE_ORPHAN_AGE"]);
}

#[test]
fn every_variable_is_read_when_set() {
    let c = config(&[
        ("FASTIO_API_KEY", "key-123"),
        ("FASTIO_BASE_URL", "http://127.0.0.1:9000/current/"),
        ("FASTGATE_BIND", "0.0.0.0:8080"),
        ("FASTGATE_PUBLIC_URL", "https://Files.Example.com/"),
        ("FASTGATE_WORKSPACES", "111, 222"),
        ("FASTGATE_MAX_FILE_SIZE", "500MB"),
        ("FASTGATE_MAX_FILES", "7"),
        ("FASTGATE_ALLOWED_TYPES", ".pdf,image/*"),
        ("FASTGATE_DATA_DIR", "/var/lib/fastgate"),
        ("FASTGATE_LOG_FORMAT", "JSON"),
        ("FASTGATE_SECRET", "0123456789abcdef0123456789abcdef"),
        ("FASTGATE_CHUNK_SIZE", "16MiB"),
        ("FASTGATE_INFLIGHT_BUDGET", "128MiB"),
        ("FASTGATE_UPLOAD_TIMEOUT", "2h"),
        ("FASTGATE_REQUEST_TIMEOUT", "10s"),
        ("FASTGATE_UPLOAD_TOKEN_TTL", "90m"),
        ("FASTGATE_SHUTDOWN_GRACE", "5s"),
    ]);
    assert_eq!(
        c.api_key.as_ref().map(|k| k.expose_secret().to_owned()),
        Some("key-123".into())
    );
    assert_eq!(c.base_url, "http://127.0.0.1:9000/current");
    assert_eq!(c.public_url, "https://files.example.com");
    assert_eq!(
        c.workspaces,
        WorkspaceSelection::Only(vec!["111".into(), "222".into()])
    );
    assert!(c.workspaces.allows("222") && !c.workspaces.allows("333"));
    assert_eq!(c.max_file_size, 500_000_000);
    assert_eq!(c.max_files, 7);
    assert_eq!(c.allowed_types.accept_attribute(), ".pdf,image/*");
    assert_eq!(c.log_format, LogFormat::Json);
    assert!(!c.secret_generated);
    assert_eq!(c.chunk_size, 16 << 20);
    assert_eq!(c.upload_token_ttl, Duration::from_secs(5400));
    assert_eq!(c.shutdown_grace, Duration::from_secs(5));
}

#[test]
fn the_public_url_defaults_to_the_bind_address() {
    assert_eq!(
        config(&[("FASTGATE_BIND", "0.0.0.0:3000")]).public_url,
        "http://0.0.0.0:3000"
    );
}

#[test]
fn empty_values_count_as_unset() {
    let c = config(&[("FASTIO_API_KEY", ""), ("FASTGATE_SECRET", "  ")]);
    assert!(c.api_key.is_none());
    assert!(c.secret_generated);
}

#[test]
fn every_problem_is_reported_at_once_with_a_fix() {
    let err = Config::from_vars(vars(&[
        ("FASTIO_BASE_URL", "ftp://x"),
        ("FASTGATE_BIND", "localhost"),
        ("FASTGATE_MAX_FILE_SIZE", "5 lots"),
        ("FASTGATE_MAX_FILES", "0"),
        ("FASTGATE_ALLOWED_TYPES", "pdf"),
        ("FASTGATE_LOG_FORMAT", "xml"),
        ("FASTGATE_SECRET", "short"),
        ("FASTGATE_CHUNK_SIZE", "100KiB"),
        ("FASTGATE_UPLOAD_TIMEOUT", "soon"),
    ]))
    .expect_err("invalid");
    let named: Vec<&str> = err.problems.iter().map(|p| p.variable).collect();
    assert_eq!(
        named,
        [
            "FASTIO_BASE_URL",
            "FASTGATE_BIND",
            "FASTGATE_MAX_FILE_SIZE",
            "FASTGATE_MAX_FILES",
            "FASTGATE_ALLOWED_TYPES",
            "FASTGATE_LOG_FORMAT",
            "FASTGATE_SECRET",
            "FASTGATE_CHUNK_SIZE",
            "FASTGATE_UPLOAD_TIMEOUT",
        ]
    );
    assert!(err.problems.iter().all(|p| !p.fix.is_empty()));
    let text = err.to_string();
    assert!(text.contains("9 problem(s)"), "{text}");
    assert!(text.contains("FASTGATE_SECRET: is 5 bytes long"), "{text}");
}

#[test]
fn a_short_secret_is_an_error_not_silently_replaced() {
    let err = Config::from_vars(vars(&[("FASTGATE_SECRET", "x".repeat(31).as_str())]))
        .expect_err("short");
    assert_eq!(err.problems[0].variable, "FASTGATE_SECRET");
    assert!(
        !err.to_string().contains("xxxxxxxx"),
        "the secret must not be echoed"
    );
}

#[test]
fn a_budget_smaller_than_a_chunk_is_refused() {
    let err = Config::from_vars(vars(&[("FASTGATE_INFLIGHT_BUDGET", "4MiB")])).expect_err("small");
    assert_eq!(err.problems[0].variable, "FASTGATE_INFLIGHT_BUDGET");
}

#[test]
fn public_urls_with_a_path_are_refused() {
    let err = Config::from_vars(vars(&[("FASTGATE_PUBLIC_URL", "https://x.example/app")]))
        .expect_err("path");
    assert_eq!(err.problems[0].variable, "FASTGATE_PUBLIC_URL");
}

#[test]
fn sizes_accept_decimal_and_binary_units() {
    assert_eq!(parse_size("1048576"), Ok(1_048_576));
    assert_eq!(parse_size("500MB"), Ok(500_000_000));
    assert_eq!(parse_size("5MiB"), Ok(5 << 20));
    assert_eq!(parse_size("2GiB"), Ok(2 << 30));
    assert_eq!(parse_size("2 gib"), Ok(2 << 30));
    assert_eq!(parse_size("10kb"), Ok(10_000));
    assert!(parse_size("1.5GB").is_err());
    assert!(parse_size("0").is_err());
    assert!(parse_size("5M").is_err());
    assert!(parse_size("99999999999TiB").is_err());
}

#[test]
fn durations_accept_common_units() {
    assert_eq!(parse_duration("90"), Ok(Duration::from_secs(90)));
    assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
    assert_eq!(parse_duration("30m"), Ok(Duration::from_secs(1800)));
    assert_eq!(parse_duration("2h"), Ok(Duration::from_secs(7200)));
    assert!(parse_duration("0s").is_err());
    assert_eq!(parse_duration("7d"), Ok(Duration::from_secs(7 * 86_400)));
    assert!(parse_duration("1w").is_err());
}

#[test]
fn the_env_example_documents_every_variable_read() {
    let source = concat!(include_str!("mod.rs"), include_str!("access.rs"));
    let mut seen = 0;
    for word in source.split('"') {
        let is_var = (word.starts_with("FASTIO_") || word.starts_with("FASTGATE_"))
            && word.chars().all(|c| c.is_ascii_uppercase() || c == '_');
        if is_var {
            seen += 1;
            assert!(
                ENV_EXAMPLE.contains(&format!("# {word}=")),
                "{word} is not in ENV_EXAMPLE"
            );
        }
    }
    assert!(seen >= 17, "only {seen} variables found");
}

#[test]
fn debug_output_hides_the_key_and_the_secret() {
    let c = config(&[
        ("FASTIO_API_KEY", "key-very-secret"),
        ("FASTGATE_SECRET", "0123456789abcdef0123456789abcdef-zz"),
    ]);
    let debug = format!("{c:?}");
    assert!(
        !debug.contains("key-very-secret") && !debug.contains("abcdef-zz"),
        "{debug}"
    );
}

#[test]
fn access_defaults_are_accounts_on_sqlite_in_the_data_dir() {
    let c = config(&[("FASTGATE_DATA_DIR", "/var/lib/fastgate")]);
    let a = &c.access;
    assert_eq!(a.auth, AuthMode::Accounts);
    assert_eq!(
        a.database,
        crate::db::Target::Sqlite(PathBuf::from("/var/lib/fastgate/fastgate.db"))
    );
    assert_eq!(a.proxy_header, "remote-user");
    assert!(a.trusted_proxies.is_empty());
    assert_eq!(a.proxy_default_role, None);
    assert_eq!(a.session_idle, Duration::from_secs(12 * 3600));
    assert_eq!(a.session_max, Duration::from_secs(7 * 86_400));
    assert_eq!(c.session_cookie_name(), "fastgate");
    assert!(!c.cookie_secure());
}

#[test]
fn access_variables_are_read_when_set() {
    let c = config(&[
        ("FASTGATE_PUBLIC_URL", "https://files.example.com"),
        ("FASTGATE_AUTH", "proxy"),
        (
            "FASTGATE_DATABASE_URL",
            "postgres://fg:pw@127.0.0.1:5432/fg",
        ),
        ("FASTGATE_AUTH_PROXY_HEADER", "X-Forwarded-User"),
        ("FASTGATE_TRUSTED_PROXIES", "127.0.0.1, 10.0.0.0/8,::1/128"),
        ("FASTGATE_PROXY_DEFAULT_ROLE", "uploader"),
        ("FASTGATE_SESSION_IDLE", "30m"),
        ("FASTGATE_SESSION_MAX", "1d"),
    ]);
    let a = &c.access;
    assert_eq!(a.auth, AuthMode::Proxy);
    assert!(matches!(&a.database, crate::db::Target::Postgres(u) if u.contains("5432")));
    assert!(
        !format!("{c:?}").contains(":pw@"),
        "the database password stays out of Debug"
    );
    assert_eq!(a.proxy_header, "x-forwarded-user");
    assert!(a.is_trusted_proxy("10.1.2.3".parse().expect("ip")));
    assert!(a.is_trusted_proxy("::ffff:127.0.0.1".parse().expect("ip")));
    assert!(!a.is_trusted_proxy("192.0.2.1".parse().expect("ip")));
    assert_eq!(a.proxy_default_role, Some(crate::access::Role::Uploader));
    assert_eq!(a.settings().session_idle, Duration::from_secs(1800));
    assert_eq!(a.settings().session_max, Duration::from_secs(86_400));
    assert_eq!(c.session_cookie_name(), "__Host-fastgate");
    assert!(c.cookie_secure());
}

#[test]
fn access_problems_are_reported_together() {
    let err = Config::from_vars(vars(&[
        ("FASTGATE_AUTH", "ldap"),
        ("FASTGATE_DATABASE_URL", "mysql://x"),
        ("FASTGATE_AUTH_PROXY_HEADER", "Remote User"),
        ("FASTGATE_TRUSTED_PROXIES", "10.0.0.0/33"),
        ("FASTGATE_PROXY_DEFAULT_ROLE", "owner"),
        ("FASTGATE_SESSION_IDLE", "forever"),
        ("FASTGATE_SESSION_MAX", "0s"),
    ]))
    .expect_err("invalid");
    let names: Vec<_> = err.problems.iter().map(|p| p.variable).collect();
    assert_eq!(
        names,
        [
            "FASTGATE_AUTH",
            "FASTGATE_DATABASE_URL",
            "FASTGATE_AUTH_PROXY_HEADER",
            "FASTGATE_TRUSTED_PROXIES",
            "FASTGATE_PROXY_DEFAULT_ROLE",
            "FASTGATE_SESSION_IDLE",
            "FASTGATE_SESSION_MAX",
        ]
    );
    let missing = Config::from_vars(vars(&[("FASTGATE_AUTH", "proxy")])).expect_err("no proxies");
    assert_eq!(missing.problems[0].variable, "FASTGATE_TRUSTED_PROXIES");
    let longer = Config::from_vars(vars(&[
        ("FASTGATE_SESSION_IDLE", "2d"),
        ("FASTGATE_SESSION_MAX", "1d"),
    ]))
    .expect_err("idle > max");
    assert_eq!(longer.problems[0].variable, "FASTGATE_SESSION_IDLE");
}
