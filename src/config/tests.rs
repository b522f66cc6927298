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
    assert!(parse_duration("1d").is_err());
}

#[test]
fn the_env_example_documents_every_variable_read() {
    let source = include_str!("mod.rs");
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
