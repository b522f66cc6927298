//! Scenario 5, the peer anchor: miniserve (a well-known Rust upload server) receiving the big
//! file from `curl -F` with its SHA-256 check on (`X-File-Hash`), against the emulator ingesting
//! the same file from the same curl as a stream session with its hash.

use std::net::TcpStream;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::procs::{self, Emulator};
use crate::scenarios::{self, Ctx, Row, mb_s};

/// Runs curl with `args`, its standard input read from `stdin` when given.
fn curl(args: &[&str], stdin: Option<&Path>) -> Result<(Duration, String), String> {
    let input = match stdin {
        Some(path) => Stdio::from(std::fs::File::open(path).map_err(|e| e.to_string())?),
        None => Stdio::null(),
    };
    let started = Instant::now();
    let out = Command::new("curl")
        .args(["-sS", "--fail-with-body", "-o", "-", "-w", "\n%{http_code}"])
        .args(args)
        .stdin(input)
        .output()
        .map_err(|e| format!("curl: {e}"))?;
    let took = started.elapsed();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    if !out.status.success() {
        return Err(format!(
            "curl failed: {text} {}",
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    Ok((took, text))
}

fn free_port() -> Result<u16, String> {
    let probe = std::net::TcpListener::bind("127.0.0.1:0").map_err(|e| e.to_string())?;
    Ok(probe.local_addr().map_err(|e| e.to_string())?.port())
}

/// Runs the anchor; `Ok(None)` when miniserve is not installed.
pub async fn anchor(ctx: &Ctx, emu: &Emulator) -> Result<Option<(Vec<Row>, Value)>, String> {
    let Some(miniserve) = scenarios::miniserve() else {
        return Ok(None);
    };
    let path = ctx.dir.join("peer-1gib.bin");
    ctx.big.write_to(&path).map_err(|e| e.to_string())?;
    let served = ctx.dir.join("miniserve-root");
    std::fs::create_dir_all(&served).map_err(|e| e.to_string())?;
    let port = free_port()?;
    let mut child = procs_child(&miniserve, port, &served)?;
    let deadline = Instant::now() + Duration::from_secs(20);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        if Instant::now() > deadline {
            let _ = child.kill();
            return Err("miniserve did not start".into());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let file_arg = format!("file=@{}", path.display());
    let hash_header = format!("X-File-Hash: {}", ctx.big_sha);
    let url = format!("http://127.0.0.1:{port}/upload?path=/");
    let peer = tokio::task::spawn_blocking(move || {
        curl(
            &[
                "-F",
                &file_arg,
                "-H",
                &hash_header,
                "-H",
                "X-File-Hash-Function: SHA256",
                &url,
            ],
            None,
        )
    })
    .await
    .map_err(|e| e.to_string())?;
    let _ = child.kill();
    let _ = child.wait();
    let (peer_took, _) = peer?;
    let stored = std::fs::metadata(served.join("peer-1gib.bin"))
        .map(|m| m.len())
        .unwrap_or(0);
    if stored != ctx.big.size {
        return Err(format!("miniserve stored {stored} bytes"));
    }

    // The emulator, from the same curl: one stream session with the hash, until stored.
    let direct = scenarios::direct_client(emu)?;
    let target = fastgate::fastio::UploadTarget {
        workspace: emu.workspace.clone(),
        folder: "root".into(),
    };
    let started = Instant::now();
    let id = direct
        .create_stream_upload(&target, "peer-curl.bin", ctx.big.size)
        .await
        .map_err(|e| e.to_string())?;
    let url = format!(
        "{}/upload/{id}/stream/?hash={}&hash_algo=sha256",
        emu.base_url, ctx.big_sha
    );
    // `-T -` streams the file from stdin (`--data-binary @file` would read it all into memory
    // first, and `-T file` would append the file name to the URL).
    let source = path.clone();
    let auth = format!("Authorization: Bearer {}", procs::KEY);
    tokio::task::spawn_blocking(move || {
        curl(
            &[
                "-T",
                "-",
                "-X",
                "POST",
                "-H",
                &auth,
                "-H",
                "Content-Type: application/octet-stream",
                &url,
            ],
            Some(&source),
        )
    })
    .await
    .map_err(|e| e.to_string())??;
    direct
        .wait_until_stored(&id, Duration::from_secs(600))
        .await
        .map_err(|e| e.to_string())?;
    let emu_took = started.elapsed();
    let _ = std::fs::remove_file(&path);
    let _ = std::fs::remove_dir_all(&served);

    let size = ctx.big.size;
    let ratio = peer_took.as_secs_f64() / emu_took.as_secs_f64();
    let s = "peer anchor (curl, 1 GiB, SHA-256 on)";
    let rows = vec![
        [
            s.into(),
            "miniserve -u, X-File-Hash".into(),
            format!("{:.0} MB/s", mb_s(size, peer_took)),
            String::new(),
        ],
        [
            s.into(),
            "emulator stream session + hash".into(),
            format!("{:.0} MB/s = {ratio:.2}× miniserve", mb_s(size, emu_took)),
            "≥ 1.0×".into(),
        ],
    ];
    Ok(Some((
        rows,
        json!({"miniserve_s": peer_took.as_secs_f64(), "emulator_s": emu_took.as_secs_f64(), "ratio": ratio}),
    )))
}

fn procs_child(miniserve: &Path, port: u16, dir: &Path) -> Result<std::process::Child, String> {
    Command::new(miniserve)
        .args([
            "--upload-files",
            "--interfaces",
            "127.0.0.1",
            "--port",
            &port.to_string(),
        ])
        .arg(dir)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("miniserve: {e}"))
}
