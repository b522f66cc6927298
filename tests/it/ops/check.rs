//! `fastgate check`, run as the built binary: validates the configuration, reaches the upstream
//! with the key, prints a short report, and its exit code says the result (0 ok, 1 upstream or
//! key failure, 2 configuration problems).

use crate::common::start_emulator;
use fastgate::emulator::RunningEmulator;

const KEY: &str = "k_check_test_key_0123456789";

async fn emulator(dir: &std::path::Path) -> RunningEmulator {
    start_emulator(&dir.join("emulator"), KEY, |_| {}).await
}

async fn check(env: Vec<(String, String)>, dir: std::path::PathBuf) -> (Option<i32>, String) {
    tokio::task::spawn_blocking(move || {
        let (status, output) = crate::common::process::run(&["check"], &env, &dir);
        (status.code(), output)
    })
    .await
    .expect("join")
}

fn vars(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn check_reports_ok_and_exits_0_against_a_reachable_upstream_with_a_valid_key() {
    let dir = tempfile::tempdir().expect("tempdir");
    let emulator = emulator(dir.path()).await;
    let env = vars(&[
        ("FASTIO_API_KEY", KEY),
        ("FASTIO_BASE_URL", &emulator.base_url()),
    ]);
    let (code, output) = check(env, dir.path().to_owned()).await;
    assert_eq!(code, Some(0), "{output}");
    for expected in [
        "configuration: ok",
        "ping: ok",
        "key: valid",
        "workspaces: 1 visible, 1 exposed",
        "check: ok",
    ] {
        assert!(
            output.contains(expected),
            "missing {expected:?} in:\n{output}"
        );
    }
    assert!(!output.contains(KEY), "the key must never be printed");
}

#[tokio::test(flavor = "multi_thread")]
async fn check_exits_1_when_the_key_is_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let emulator = emulator(dir.path()).await;
    let env = vars(&[
        ("FASTIO_API_KEY", "k_not_the_right_key_999"),
        ("FASTIO_BASE_URL", &emulator.base_url()),
    ]);
    let (code, output) = check(env, dir.path().to_owned()).await;
    assert_eq!(code, Some(1), "{output}");
    assert!(output.contains("check failed"), "{output}");
    assert!(!output.contains("k_not_the_right_key_999"));
}

#[tokio::test(flavor = "multi_thread")]
async fn check_exits_1_when_the_upstream_is_unreachable() {
    let dir = tempfile::tempdir().expect("tempdir");
    let closed = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let url = format!("http://{}/current", closed.local_addr().expect("addr"));
    drop(closed);
    let env = vars(&[("FASTIO_API_KEY", KEY), ("FASTIO_BASE_URL", &url)]);
    let (code, output) = check(env, dir.path().to_owned()).await;
    assert_eq!(code, Some(1), "{output}");
    assert!(output.contains("check failed"), "{output}");
}

#[tokio::test(flavor = "multi_thread")]
async fn check_exits_2_and_lists_every_problem_of_a_bad_configuration() {
    let dir = tempfile::tempdir().expect("tempdir");
    let env = vars(&[
        ("FASTGATE_MAX_FILE_SIZE", "banana"),
        ("FASTGATE_LOG_FORMAT", "xml"),
    ]);
    let (code, output) = check(env, dir.path().to_owned()).await;
    assert_eq!(code, Some(2), "{output}");
    assert!(output.contains("FASTGATE_MAX_FILE_SIZE"), "{output}");
    assert!(output.contains("FASTGATE_LOG_FORMAT"), "{output}");
}

#[tokio::test(flavor = "multi_thread")]
async fn check_without_a_key_reaches_the_embedded_emulator() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data").display().to_string();
    let env = vars(&[("FASTGATE_DATA_DIR", &data)]);
    let (code, output) = check(env, dir.path().to_owned()).await;
    assert_eq!(code, Some(0), "{output}");
    assert!(output.contains("embedded emulator"), "{output}");
}
