//! Logs of the real binary: JSON lines with `FASTGATE_LOG_FORMAT=json`, every line of a request
//! carries its request id, SIGTERM ends the process with exit 0, and the API key never appears
//! in the log (at `debug`, with uploads, listings and readiness checks going upstream).

use std::time::Duration;

use crate::common::process::{self, Process};
use crate::common::start_emulator;
use fastgate::emulator::RunningEmulator;

const KEY: &str = "k_log_scan_key_e1f0a9c3b7";

async fn emulator(dir: &std::path::Path) -> RunningEmulator {
    start_emulator(&dir.join("emulator"), KEY, |_| {}).await
}

fn gateway(emulator: &RunningEmulator, dir: &std::path::Path, format: &str) -> (Process, String) {
    let env: Vec<(String, String)> = [
        ("FASTIO_API_KEY", KEY.to_owned()),
        ("FASTIO_BASE_URL", emulator.base_url()),
        ("FASTGATE_LOG_FORMAT", format.to_owned()),
        // The logs of every kind of request, not sign-in, are what this test reads.
        ("FASTGATE_AUTH", "open".to_owned()),
        ("FASTGATE_DATA_DIR", dir.join("data").display().to_string()),
        ("FASTGATE_SHUTDOWN_GRACE", "5s".to_owned()),
        ("RUST_LOG", "debug".to_owned()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect();
    process::serve(&env, dir)
}

/// Drives a little of everything that talks to Fast.io, scanning each response too.
async fn exercise(url: &str, workspace: &str) {
    let client = reqwest::Client::new();
    let send = |request: reqwest::RequestBuilder| async move {
        let response = request.send().await.expect("sent");
        let status = response.status();
        let headers = response.headers().clone();
        let body = response.bytes().await.expect("body");
        crate::common::assert_no_leak(&[KEY.to_owned()], &headers, &body);
        status.as_u16()
    };
    send(
        client
            .get(format!("{url}/readyz"))
            .header("x-request-id", "log-test-ready-1"),
    )
    .await;
    send(client.get(format!("{url}/api/workspaces"))).await;
    send(client.get(format!("{url}/api/files/{workspace}/root"))).await;
    send(client.get(format!("{url}/w/{workspace}/root"))).await;
    let form = reqwest::multipart::Form::new().part(
        "file",
        reqwest::multipart::Part::bytes(vec![b'x'; 300_000]).file_name("notes.txt"),
    );
    let uploaded = send(
        client
            .post(format!("{url}/w/{workspace}/root?/upload"))
            .header("origin", url)
            .header("accept", "application/json")
            .multipart(form),
    )
    .await;
    assert_eq!(uploaded, 200, "the form upload went through");
    let created = client
        .post(format!("{url}/api/uploads"))
        .json(&serde_json::json!({"workspace": workspace, "folder": "root", "name": "api.bin", "size": 5}))
        .send()
        .await
        .expect("sent");
    let body: serde_json::Value = created.json().await.unwrap_or_default();
    if let (Some(id), Some(token)) = (body["id"].as_str(), body["token"].as_str()) {
        send(
            client
                .put(format!("{url}/api/uploads/{id}/chunks/1"))
                .header("upload-token", token)
                .body("hello"),
        )
        .await;
        send(
            client
                .post(format!("{url}/api/uploads/{id}/complete"))
                .header("upload-token", token),
        )
        .await;
    }
    send(client.get(format!("{url}/metrics"))).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn json_logs_carry_the_request_id_never_the_key_and_sigterm_exits_0() {
    let dir = tempfile::tempdir().expect("tempdir");
    let emulator = emulator(dir.path()).await;
    let (mut process, url) = gateway(&emulator, dir.path(), "json");
    exercise(&url, &emulator.workspace_id()).await;
    process.terminate();
    let status = process.wait(Duration::from_secs(20)).await;
    let lines = process.output();
    let all = lines.join("\n");
    assert_eq!(status.code(), Some(0), "{all}");
    assert!(!all.contains(KEY), "the API key appeared in the logs");
    assert!(
        !all.to_ascii_lowercase().contains("bearer "),
        "a Bearer value appeared in the logs"
    );
    let json: Vec<serde_json::Value> = lines
        .iter()
        .filter(|l| l.starts_with('{'))
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect();
    assert!(json.len() > 5, "{all}");
    // The readiness probe's own line and the upstream calls it made are in its request span.
    let of_request: Vec<&serde_json::Value> = json
        .iter()
        .filter(|v| {
            v["spans"]
                .as_array()
                .is_some_and(|s| s.iter().any(|s| s["request_id"] == "log-test-ready-1"))
        })
        .collect();
    assert!(
        of_request
            .iter()
            .any(|v| v["fields"]["message"] == "response" && v["fields"]["status"] == 200),
        "{all}"
    );
    assert!(
        of_request.iter().any(|v| v["spans"]
            .as_array()
            .is_some_and(|s| s.iter().any(|s| s["endpoint"] == "GET /ping/"))),
        "the upstream call's log lines must carry the request id: {all}"
    );
    assert!(all.contains("shut down"), "{all}");
}

#[tokio::test(flavor = "multi_thread")]
async fn pretty_logs_are_the_default_and_never_show_the_key() {
    let dir = tempfile::tempdir().expect("tempdir");
    let emulator = emulator(dir.path()).await;
    let (mut process, url) = gateway(&emulator, dir.path(), "pretty");
    exercise(&url, &emulator.workspace_id()).await;
    process.terminate();
    let status = process.wait(Duration::from_secs(20)).await;
    let lines = process.output();
    let all = lines.join("\n");
    assert_eq!(status.code(), Some(0), "{all}");
    assert!(!all.contains(KEY));
    assert!(!all.to_ascii_lowercase().contains("bearer "));
    assert!(all.contains("request_id="), "{all}");
}

/// Every line of `lines` parses as one JSON object; panics naming the first that does not.
fn all_json(lines: &[String]) -> Vec<serde_json::Value> {
    assert!(!lines.is_empty(), "no output at all");
    lines
        .iter()
        .map(|l| match serde_json::from_str::<serde_json::Value>(l) {
            Ok(v) if v.is_object() => v,
            _ => panic!(
                "a line that is not a JSON object: {l:?}\nall output:\n{}",
                lines.join("\n")
            ),
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn with_json_logs_every_line_on_both_streams_is_json_banner_setup_link_and_errors_included() {
    let dir = tempfile::tempdir().expect("tempdir");
    let emulator = emulator(dir.path()).await;
    // Accounts mode with no admin yet: the setup link is printed too.
    let env: Vec<(String, String)> = [
        ("FASTIO_API_KEY", KEY.to_owned()),
        ("FASTIO_BASE_URL", emulator.base_url()),
        ("FASTGATE_LOG_FORMAT", "json".to_owned()),
        (
            "FASTGATE_DATA_DIR",
            dir.path().join("data").display().to_string(),
        ),
        ("FASTGATE_SHUTDOWN_GRACE", "2s".to_owned()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect();
    let (mut serving, url) = process::serve(&env, dir.path());
    let http = reqwest::Client::new();
    for path in [
        "/healthz",
        "/readyz",
        "/api/workspaces",
        "/signin",
        "/nowhere",
    ] {
        http.get(format!("{url}{path}"))
            .send()
            .await
            .expect("answered");
    }
    serving.terminate();
    assert_eq!(serving.wait(Duration::from_secs(20)).await.code(), Some(0));
    let lines = serving.output();
    let json = all_json(&lines);
    let messages: Vec<&str> = json
        .iter()
        .filter_map(|v| v["fields"]["message"].as_str())
        .collect();
    assert!(
        messages
            .iter()
            .any(|m| m.starts_with("fastgate is running at http://")),
        "{messages:?}"
    );
    assert!(
        json.iter().any(|v| v["fields"]["setup_url"]
            .as_str()
            .is_some_and(|u| u.contains("/setup?token="))),
        "the setup link: {messages:?}"
    );

    // A configuration error and a command-line error are JSON lines too, with their exit code.
    let mut bad = env.clone();
    bad.push(("FASTGATE_MAX_FILES".to_owned(), "none".to_owned()));
    let (status, out) = process::run(&["serve"], &bad, dir.path());
    assert_eq!(status.code(), Some(2), "{out}");
    let lines: Vec<String> = out.lines().map(str::to_owned).collect();
    let json = all_json(&lines);
    assert!(
        json[0]["fields"]["problems"]
            .as_str()
            .is_some_and(|p| p.contains("FASTGATE_MAX_FILES")),
        "{out}"
    );

    let (status, out) = process::run(&["serve", "--no-such-flag"], &env, dir.path());
    assert_eq!(status.code(), Some(2), "{out}");
    let lines: Vec<String> = out.lines().map(str::to_owned).collect();
    let json = all_json(&lines);
    assert_eq!(json.len(), 1, "{out}");
    assert!(
        json[0]["fields"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("--no-such-flag")),
        "{out}"
    );

    // The same binary without JSON logs prints plain text (the check above can fail).
    let mut plain = env.clone();
    plain.retain(|(k, _)| k != "FASTGATE_LOG_FORMAT");
    let (_, out) = process::run(&["serve", "--no-such-flag"], &plain, dir.path());
    assert!(
        out.lines()
            .any(|l| serde_json::from_str::<serde_json::Value>(l).is_err()),
        "{out}"
    );
}

/// Runs `fastgate args…` off the async threads (the emulator answers in this process).
async fn run(
    args: &[&str],
    env: &[(String, String)],
    dir: &std::path::Path,
) -> (Option<i32>, String) {
    let (args, env, dir): (Vec<String>, _, _) = (
        args.iter().map(|a| (*a).to_owned()).collect(),
        env.to_vec(),
        dir.to_owned(),
    );
    tokio::task::spawn_blocking(move || {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let (status, out) = process::run(&args, &env, &dir);
        (status.code(), out)
    })
    .await
    .expect("join")
}

/// The first JSON line of `json` for which `pick` finds something.
fn find<'a, T>(
    json: &'a [serde_json::Value],
    pick: impl Fn(&'a serde_json::Value) -> Option<T>,
) -> Option<T> {
    json.iter().find_map(pick)
}

#[tokio::test(flavor = "multi_thread")]
async fn with_json_logs_check_user_token_and_emulator_commands_write_only_json_lines() {
    let dir = tempfile::tempdir().expect("tempdir");
    let emulator = emulator(dir.path()).await;
    let env: Vec<(String, String)> = [
        ("FASTIO_API_KEY", KEY.to_owned()),
        ("FASTIO_BASE_URL", emulator.base_url()),
        ("FASTGATE_LOG_FORMAT", "json".to_owned()),
        (
            "FASTGATE_DATA_DIR",
            dir.path().join("data").display().to_string(),
        ),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect();

    let (code, out) = run(&["check"], &env, dir.path()).await;
    assert_eq!(code, Some(0), "{out}");
    let json = all_json(&out.lines().map(str::to_owned).collect::<Vec<_>>());
    assert!(
        find(&json, |v| (v["fields"]["message"] == "check: ok")
            .then_some(()))
        .is_some(),
        "{out}"
    );

    // `user add` with nothing on stdin generates a password: the answer is one JSON object.
    let (code, out) = run(
        &["user", "add", "ada", "--role", "editor"],
        &env,
        dir.path(),
    )
    .await;
    assert_eq!(code, Some(0), "{out}");
    let json = all_json(&out.lines().map(str::to_owned).collect::<Vec<_>>());
    let password = find(&json, |v| {
        (v["user"] == "ada").then(|| v["password"].clone())
    });
    assert!(
        password
            .as_ref()
            .and_then(|p| p.as_str())
            .is_some_and(|p| p.len() >= 16),
        "{out}"
    );
    assert_eq!(
        find(&json, |v| (v["user"] == "ada").then(|| v["role"].clone())),
        Some(serde_json::json!("editor")),
        "{out}"
    );

    let (code, out) = run(
        &["token", "add", "ci", "--user", "ada", "--role", "viewer"],
        &env,
        dir.path(),
    )
    .await;
    assert_eq!(code, Some(0), "{out}");
    let json = all_json(&out.lines().map(str::to_owned).collect::<Vec<_>>());
    let token = find(&json, |v| v["token"].as_str().map(str::to_owned)).unwrap_or_default();
    assert!(token.starts_with("fgt_"), "{out}");

    // A refusal is a JSON error event with exit 1.
    let (code, out) = run(
        &["token", "add", "ci", "--user", "nobody", "--role", "viewer"],
        &env,
        dir.path(),
    )
    .await;
    assert_eq!(code, Some(1), "{out}");
    let json = all_json(&out.lines().map(str::to_owned).collect::<Vec<_>>());
    assert!(
        find(&json, |v| {
            (v["level"] == "ERROR" && v["fields"]["message"].as_str()?.contains("nobody"))
                .then_some(())
        })
        .is_some(),
        "{out}"
    );

    // The stand-alone emulator announces its address, workspace and generated key as one event.
    let emulator_dir = dir.path().join("standalone");
    let standalone = Process::spawn(
        env!("CARGO_BIN_EXE_fastgate"),
        &[
            "emulator",
            "--bind",
            "127.0.0.1:0",
            "--data-dir",
            &emulator_dir.display().to_string(),
        ],
        &[("FASTGATE_LOG_FORMAT".to_owned(), "json".to_owned())],
        dir.path(),
    );
    let announced = standalone.wait_for(Duration::from_secs(20), |line| {
        let v: serde_json::Value = serde_json::from_str(line).ok()?;
        v["fields"]["base_url"].as_str().is_some().then_some(v)
    });
    assert!(
        announced["fields"]["workspace"]
            .as_str()
            .is_some_and(|w| !w.is_empty()),
        "{announced}"
    );
    assert!(
        announced["fields"]["api_key"]
            .as_str()
            .is_some_and(|k| k.starts_with("emu_")),
        "{announced}"
    );
    all_json(&standalone.output());
}

/// Set in the child process of the panic test: it installs the JSON logs and panics.
const PANIC_CHILD: &str = "FASTGATE_TEST_PANIC_CHILD";

/// The panic hook of JSON logs, run for real: this test starts its own test binary again as a
/// child that installs the JSON logs and panics; the child's stderr must carry the panic as one
/// JSON event (message, location, thread), and no plain `panicked at` text.
#[test]
fn with_json_logs_a_panic_is_one_json_event_with_its_location() {
    const NAME: &str = "ops::logs::with_json_logs_a_panic_is_one_json_event_with_its_location";
    if std::env::var_os(PANIC_CHILD).is_some() {
        fastgate::server::init_tracing(fastgate::config::LogFormat::Json);
        panic!("a deliberate panic to see the hook");
    }
    let output = std::process::Command::new(std::env::current_exe().expect("test binary"))
        .args([NAME, "--exact", "--nocapture", "--test-threads=1"])
        .env(PANIC_CHILD, "1")
        .env_remove("RUST_BACKTRACE")
        .output()
        .expect("the child runs");
    assert!(!output.status.success(), "the child did not panic");
    let stderr = String::from_utf8_lossy(&output.stderr);
    let events: Vec<serde_json::Value> = stderr
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect();
    let panic = events
        .iter()
        .find(|v| v["target"] == "panic")
        .unwrap_or_else(|| panic!("no panic event on stderr:\n{stderr}"));
    assert_eq!(panic["level"], "ERROR", "{panic}");
    assert_eq!(
        panic["fields"]["message"], "panicked: a deliberate panic to see the hook",
        "{panic}"
    );
    assert!(
        panic["fields"]["location"]
            .as_str()
            .is_some_and(|l| l.contains("tests/it/ops/logs.rs:")),
        "{panic}"
    );
    assert!(
        !stderr.contains("panicked at"),
        "the default hook printed a plain line too:\n{stderr}"
    );
}
