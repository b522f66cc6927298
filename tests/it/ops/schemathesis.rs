//! The published description, tested by a tool nobody here wrote: schemathesis (PyPI) reads
//! `/openapi.json` from a throwaway gateway on the emulator and sends every operation generated
//! requests (its coverage, fuzzing and stateful phases, a fixed example budget and seed) with an
//! admin API token; no answer may be a server error, have a status the document does not list,
//! or break the schema it documents. `.ci/run` installs the pinned version; without it this test
//! fails, never skips.
//!
//! Destructive operations stay harmless: the run's own token and admin are not reachable
//! (`DELETE /api/tokens/{id}` is pointed at a victim's token, `PATCH /api/users/{username}` at a
//! victim user), and each run has a gateway of its own.

use std::time::Duration;

use serde_json::{Value, json};

use crate::common::{Gateway, spawn_app};

/// The version `.ci/run` installs.
pub const SCHEMATHESIS_VERSION: &str = "4.32.5";
/// Test cases per operation and phase.
const MAX_EXAMPLES: &str = "40";
/// The fixed seed of every run (a failure replays the same way).
const SEED: &str = "20261202";
/// The most a run may take (it takes about a minute on 2 cores).
const RUN_LIMIT: Duration = Duration::from_secs(240);

/// `st` (schemathesis' command), or a loud failure saying how to install it.
fn schemathesis() -> String {
    for name in ["st", "schemathesis"] {
        let found = std::process::Command::new(name)
            .arg("--version")
            .output()
            .is_ok_and(|o| o.status.success());
        if found {
            return name.to_owned();
        }
    }
    panic!(
        "schemathesis is not installed: `pip install schemathesis=={SCHEMATHESIS_VERSION}` \
         (.ci/run does it)"
    );
}

/// A stored file of `gw` (through the JS upload API) and its node id.
async fn stored_file(gw: &Gateway, name: &str) -> String {
    let body = b"schemathesis";
    let r = gw
        .send(
            gw.client
                .post(format!("{}/api/uploads", gw.url))
                .json(&json!({
                    "workspace": gw.workspace, "folder": "root", "name": name, "size": body.len(),
                })),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text());
    let ticket = r.json();
    let (id, token) = (ticket_id(&ticket), ticket_token(&ticket));
    let r = gw
        .send(
            gw.client
                .put(format!("{}/api/uploads/{id}/chunks/1", gw.url))
                .header("upload-token", &token)
                .body(body.to_vec()),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let r = gw
        .send(
            gw.client
                .post(format!("{}/api/uploads/{id}/complete", gw.url))
                .header("upload-token", &token),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    r.json()["node_id"].as_str().expect("node id").to_owned()
}

fn ticket_id(ticket: &Value) -> String {
    ticket["id"].as_str().expect("id").to_owned()
}

fn ticket_token(ticket: &Value) -> String {
    ticket["token"].as_str().expect("token").to_owned()
}

/// The run's configuration: the seeded workspace, a stored file and an open upload for the
/// operations that need one, and the victims of the destructive operations.
fn config(gw: &Gateway, file: &str, upload: &Value, victim_token: i64) -> String {
    let (id, token) = (ticket_id(upload), ticket_token(upload));
    let mut toml = format!(
        "[parameters]\n\"path.workspace\" = \"{ws}\"\n\n\
         [[operations]]\ninclude-name = \"DELETE /api/tokens/{{id}}\"\n\
         parameters = {{ \"path.id\" = {victim_token} }}\n\n\
         [[operations]]\ninclude-name = \"PATCH /api/users/{{username}}\"\n\
         parameters = {{ \"path.username\" = \"victim\" }}\n",
        ws = gw.workspace
    );
    for op in [
        "GET /api/uploads/{id}",
        "DELETE /api/uploads/{id}",
        "PUT /api/uploads/{id}/chunks/{n}",
        "POST /api/uploads/{id}/complete",
    ] {
        toml.push_str(&format!(
            "\n[[operations]]\ninclude-name = \"{op}\"\n\
             parameters = {{ \"path.id\" = \"{id}\", \"header.upload-token\" = \"{token}\" }}\n"
        ));
    }
    for op in [
        "PATCH /api/files/{workspace}/{folder}",
        "DELETE /api/files/{workspace}/{folder}",
        "POST /api/files/{workspace}/{folder}/restore",
        "GET /api/files/{workspace}/{folder}/versions",
    ] {
        toml.push_str(&format!(
            "\n[[operations]]\ninclude-name = \"{op}\"\n\
             parameters = {{ \"path.folder\" = \"{file}\" }}\n"
        ));
    }
    toml
}

#[tokio::test(flavor = "multi_thread")]
async fn schemathesis_finds_no_server_error_undocumented_status_or_schema_violation() {
    let st = schemathesis();
    let gw = spawn_app().await;
    let (_victim, _) = gw.user("victim", "viewer", None).await;
    let tokens = gw.get("/api/tokens").await.json();
    let victim_token = tokens["items"]
        .as_array()
        .and_then(|items| items.iter().find(|t| t["owner"] == "victim"))
        .and_then(|t| t["id"].as_i64())
        .expect("the victim's token");
    let file = stored_file(&gw, "schemathesis.txt").await;
    let r = gw
        .send(
            gw.client
                .post(format!("{}/api/uploads", gw.url))
                .json(&json!({
                    "workspace": gw.workspace, "folder": "root", "name": "open.bin", "size": 4096,
                })),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text());
    let upload = r.json();

    let dir = tempfile::tempdir().expect("tempdir");
    let config_path = dir.path().join("schemathesis.toml");
    std::fs::write(&config_path, config(&gw, &file, &upload, victim_token)).expect("config");
    let schema = format!("{}/openapi.json", gw.url);
    let run = tokio::process::Command::new(&st)
        .current_dir(dir.path())
        .arg("--config-file")
        .arg(&config_path)
        .args(["run", &schema])
        .args([
            "--header",
            &format!("Authorization: Bearer {}", gw.admin.token),
        ])
        // The form actions answer JSON to scripts that ask for it, and need our Origin.
        .args(["--header", "Accept: application/json"])
        .args(["--header", &format!("Origin: {}", gw.origin())])
        .args([
            "--checks",
            "not_a_server_error,status_code_conformance,response_schema_conformance,\
             content_type_conformance",
        ])
        .args(["--max-examples", MAX_EXAMPLES, "--seed", SEED])
        .args(["--workers", "1", "--request-timeout", "30"])
        .kill_on_drop(true)
        .output();
    let output = tokio::time::timeout(RUN_LIMIT, run)
        .await
        .expect("schemathesis finished within its limit")
        .expect("schemathesis ran");
    let report = format!(
        "{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        output.status.success(),
        "schemathesis found problems:\n{report}"
    );
    let generated = report
        .lines()
        .find_map(|l| {
            l.trim()
                .strip_suffix(" passed")?
                .split(" generated, ")
                .nth(1)
        })
        .and_then(|n| n.trim().parse::<u64>().ok())
        .unwrap_or_else(|| panic!("no test-case count in the report:\n{report}"));
    assert!(generated > 1000, "only {generated} cases ran:\n{report}");
    eprintln!("schemathesis: {generated} test cases passed");

    // The gateway still serves, and its own admin is still in.
    assert_eq!(gw.get("/healthz").await.status, 200);
    assert_eq!(gw.get("/api/workspaces").await.status, 200);
    // Upload sessions schemathesis opened through the JS API (and the one opened above) are the
    // client's to finish or cancel, as with any abandoned browser upload; a form upload's
    // session (a stream session) must never be left open.
    let open = open_sessions(&gw).await;
    let stream: Vec<&Value> = open.iter().filter(|s| s["stream"] == true).collect();
    assert!(stream.is_empty(), "form sessions left open: {stream:?}");
    gw.expect_open_sessions(open.iter().filter_map(|s| s["id"].as_str()));
}

/// The emulator's open upload sessions.
async fn open_sessions(gw: &Gateway) -> Vec<Value> {
    let body: Value = reqwest::Client::new()
        .get(format!("{}/upload/details/", gw.emulator.base_url()))
        .bearer_auth(&gw.key)
        .send()
        .await
        .expect("session list")
        .json()
        .await
        .expect("session list json");
    body["sessions"].as_array().cloned().unwrap_or_default()
}
