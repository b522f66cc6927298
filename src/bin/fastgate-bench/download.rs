//! Scenario 7, a download: the big file through the gateway's `/download/{ws}/{node}` vs the
//! same bytes straight from the emulator (`requestread` then `read`), both read by `curl` into
//! `/dev/null`, with the CPU seconds of curl, the gateway and the emulator.

use std::process::Command;
use std::time::Instant;

use serde_json::{Value, json};

use crate::clients;
use crate::procs::{Emulator, Gateway};
use crate::scenarios::{Ctx, Row, direct_client, mb_s, row};
use crate::usage::{self, Meter};

/// Uploads the big file straight to the emulator, then reads it both ways.
pub async fn download(
    ctx: &Ctx,
    emu: &Emulator,
    gw: &Gateway,
) -> Result<(Vec<Row>, Value), String> {
    let direct = direct_client(emu)?;
    let ws = &emu.workspace;
    let size = ctx.big.size;
    let node =
        clients::direct_stream_node(&direct, ws, ctx.big, "download.bin", &ctx.big_sha).await?;
    let token = direct
        .request_read(ws, &node)
        .await
        .map_err(|e| e.to_string())?;
    let straight = format!(
        "{}/workspace/{ws}/storage/{node}/read/?token={token}",
        emu.base_url
    );
    let through = format!("{}/download/{ws}/{node}", gw.url);
    let mut measured = Vec::new();
    for (label, url, procs) in [
        ("direct", straight, vec![("emulator", emu.proc.pid())]),
        (
            "gateway",
            through,
            vec![("gateway", gw.proc.pid()), ("emulator", emu.proc.pid())],
        ),
    ] {
        let m = Meter::start(&procs);
        let started = Instant::now();
        let ran = tokio::task::spawn_blocking(move || {
            let mut command = Command::new("curl");
            command
                .args(["-s", "-f", "-o", "/dev/null", "-w", "%{size_download}"])
                .arg(&url);
            usage::child_cpu(&mut command)
        })
        .await
        .map_err(|e| e.to_string())?
        .ok_or("curl is not installed")?;
        let wall = started.elapsed();
        let u = m.finish();
        if !ran.1.success() {
            return Err(format!("{label} download: curl failed ({})", ran.1));
        }
        measured.push((label, wall, ran.0, u));
    }
    let s = "1 GiB download";
    let gib = usage::gib(size);
    let mut rows = Vec::new();
    let mut out = serde_json::Map::new();
    for (label, wall, curl_cpu, u) in &measured {
        rows.push(row(
            s,
            &format!("{label}: wall, curl / gateway / emulator CPU per GiB"),
            format!(
                "{:.0} MB/s; {:.2} / {:.2} / {:.2} s",
                mb_s(size, *wall),
                curl_cpu / gib,
                u.cpu("gateway") / gib,
                u.cpu("emulator") / gib
            ),
            if *label == "gateway" {
                "gateway ≤ 0.5 s/GiB"
            } else {
                ""
            },
        ));
        out.insert(
            (*label).to_owned(),
            json!({"wall_s": wall.as_secs_f64(), "curl_cpu_s": curl_cpu, "usage": u.json(size, &ctx.floors)}),
        );
    }
    if let [(_, d, ..), (_, g, ..)] = measured.as_slice() {
        let ratio = d.as_secs_f64() / g.as_secs_f64();
        rows.push(row(
            s,
            "gateway vs direct throughput",
            format!("{ratio:.2}×"),
            "≥ 0.90×",
        ));
        out.insert("ratio".into(), json!(ratio));
    }
    out.insert("bytes".into(), json!(size));
    Ok((rows, Value::Object(out)))
}
