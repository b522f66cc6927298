//! The container image's runtime contract, proven without a container engine: read the final
//! stage of the `Dockerfile` (ENV, USER, WORKDIR, VOLUME, EXPOSE, ENTRYPOINT + CMD, HEALTHCHECK),
//! run that very command with that very environment (the volume mapped to a temporary
//! directory, the port moved off 3000 so parallel runs do not collide), and check the app comes
//! up healthy through the image's own HEALTHCHECK command.

use std::collections::BTreeMap;
use std::time::Duration;

use crate::common::process::Process;
use crate::common::wait_until;

/// What the final stage of the Dockerfile says about running the image.
#[derive(Debug, Default)]
struct Image {
    env: BTreeMap<String, String>,
    user: String,
    workdir: String,
    volumes: Vec<String>,
    expose: Vec<String>,
    entrypoint: Vec<String>,
    cmd: Vec<String>,
    healthcheck: Vec<String>,
}

/// Joins continuation lines and keeps the instructions after the last `FROM`.
fn final_stage(dockerfile: &str) -> Vec<String> {
    let mut lines = Vec::new();
    let mut current = String::new();
    for raw in dockerfile.lines() {
        let line = raw.trim();
        if current.is_empty() && (line.is_empty() || line.starts_with('#')) {
            continue;
        }
        if let Some(part) = line.strip_suffix('\\') {
            current.push_str(part);
            current.push(' ');
        } else {
            current.push_str(line);
            lines.push(std::mem::take(&mut current));
        }
    }
    let last_from = lines
        .iter()
        .rposition(|l| l.to_ascii_uppercase().starts_with("FROM "))
        .expect("a FROM");
    lines.split_off(last_from)
}

fn json_array(text: &str) -> Vec<String> {
    serde_json::from_str(text.trim()).unwrap_or_else(|e| panic!("exec form expected ({e}): {text}"))
}

fn parse(dockerfile: &str) -> Image {
    let mut image = Image::default();
    for line in final_stage(dockerfile) {
        let (word, rest) = line.split_once(' ').unwrap_or((&line, ""));
        let rest = rest.trim();
        match word.to_ascii_uppercase().as_str() {
            "ENV" => {
                for pair in rest.split_whitespace() {
                    let (k, v) = pair.split_once('=').expect("ENV key=value");
                    image
                        .env
                        .insert(k.to_owned(), v.trim_matches('"').to_owned());
                }
            }
            "USER" => image.user = rest.to_owned(),
            "WORKDIR" => image.workdir = rest.to_owned(),
            "VOLUME" => image.volumes = json_array(rest),
            "EXPOSE" => image.expose = rest.split_whitespace().map(str::to_owned).collect(),
            "ENTRYPOINT" => image.entrypoint = json_array(rest),
            "CMD" => image.cmd = json_array(rest),
            "HEALTHCHECK" => {
                let (_, command) = rest.split_once("CMD ").expect("HEALTHCHECK … CMD");
                image.healthcheck = json_array(command);
            }
            _ => {}
        }
    }
    image
}

fn dockerfile() -> Image {
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/Dockerfile"))
        .expect("Dockerfile");
    parse(&text)
}

#[test]
fn the_image_runs_as_a_non_root_user_with_the_contracts_defaults() {
    let image = dockerfile();
    assert!(!image.user.is_empty(), "USER must be set");
    assert!(!matches!(image.user.split(':').next(), Some("root" | "0")));
    assert_eq!(image.env["FASTGATE_BIND"], "0.0.0.0:3000");
    assert_eq!(image.env["FASTGATE_DATA_DIR"], "/data");
    assert_eq!(image.volumes, ["/data"]);
    assert_eq!(image.expose, ["3000"]);
    assert_eq!(
        image.healthcheck.first().map(String::as_str),
        Some("fastgate")
    );
    let command: Vec<_> = image.entrypoint.iter().chain(&image.cmd).collect();
    assert_eq!(command.first().map(|s| s.as_str()), Some("fastgate"));
}

/// `fastgate …` of the image, as argv for this build's binary.
fn argv(command: &[String]) -> (String, Vec<String>) {
    let binary = env!("CARGO_BIN_EXE_fastgate").to_owned();
    assert_eq!(command[0], "fastgate", "the image runs the fastgate binary");
    (binary, command[1..].to_vec())
}

#[tokio::test]
async fn the_images_command_and_environment_come_up_healthy_by_its_own_healthcheck() {
    let image = dockerfile();
    let dir = tempfile::tempdir().expect("tempdir");
    // The VOLUME becomes a user-writable temporary directory; everything else is the image's.
    let data = dir.path().join("data");
    std::fs::create_dir_all(&data).expect("data dir");
    let map = |value: &str| {
        image.volumes.iter().fold(value.to_owned(), |v, vol| {
            v.replace(vol, &data.display().to_string())
        })
    };
    let port = {
        let probe = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        probe.local_addr().expect("addr").port()
    };
    let mut env: Vec<(String, String)> =
        image.env.iter().map(|(k, v)| (k.clone(), map(v))).collect();
    for (k, v) in &mut env {
        if k == "FASTGATE_BIND" {
            *v = v.replace(":3000", &format!(":{port}"));
        }
    }
    let workdir = std::path::PathBuf::from(map(&image.workdir));
    let health = argv(&image.healthcheck);
    let health_args: Vec<&str> = health.1.iter().map(String::as_str).collect();

    let (before, _) = crate::common::process::run(&health_args, &env, &workdir);
    assert!(
        !before.success(),
        "the healthcheck must fail while nothing serves"
    );

    let command: Vec<String> = image.entrypoint.iter().chain(&image.cmd).cloned().collect();
    let (program, args) = argv(&command);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let mut server = Process::spawn(&program, &args, &env, &workdir);
    server.wait_for(Duration::from_secs(20), |l| {
        l.contains("fastgate listening").then_some(())
    });

    let healthy = wait_until(
        "the healthcheck to pass",
        Duration::from_secs(10),
        || async {
            let (status, output) = crate::common::process::run(&health_args, &env, &workdir);
            if status.success() {
                Ok(output)
            } else {
                Err(output)
            }
        },
    )
    .await;
    assert!(healthy.contains("/healthz: ok"), "{healthy}");
    // The JSON logs the image asks for, and the embedded emulator's data in the volume.
    let lines = server.output();
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with('{') && l.contains("fastgate listening")),
        "{lines:?}"
    );
    assert!(
        data.join("emulator").is_dir(),
        "the embedded emulator stores under the volume"
    );
    server.terminate();
    assert_eq!(server.wait(Duration::from_secs(20)).await.code(), Some(0));
}
