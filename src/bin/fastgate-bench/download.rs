//! Scenario 7, a download: the big file through the gateway's `/download/{ws}/{node}` vs the
//! same bytes straight from the emulator (`requestread` then `read`), both read by `curl` into
//! `/dev/null`, with the CPU seconds of curl, the gateway and the emulator, in
//! [`ROUNDS`] interleaved rounds.

use std::process::Command;
use std::time::{Duration, Instant};

use fastgate::web::format::human_size;
use serde_json::{Value, json};

use crate::clients;
use crate::procs::{Emulator, Gateway};
use crate::scenarios::{Ctx, ROUNDS, Row, direct_client, mb_s, median, median_index, row};
use crate::usage::{self, Meter, Usage};

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
    let gateway_procs = [("gateway", gw.proc.pid()), ("emulator", emu.proc.pid())];
    let ways = [
        ("direct", straight.as_str(), &gateway_procs[1..]),
        ("gateway", through.as_str(), &gateway_procs[..]),
    ];
    // Each round reads the file both ways back to back, so the two see the same machine load;
    // one read of each swung 0.67–0.89× between runs.
    let mut rounds: Vec<[Read; 2]> = Vec::new();
    for _ in 0..ROUNDS {
        let direct = read_with_curl(ways[0]).await?;
        let gateway = read_with_curl(ways[1]).await?;
        rounds.push([direct, gateway]);
    }
    let ratio = median(
        rounds
            .iter()
            .map(|[d, g]| d.wall.as_secs_f64() / g.wall.as_secs_f64())
            .collect(),
    );
    // The per-process figures are those of the round with the median gateway CPU.
    let gateway_cpu: Vec<f64> = rounds.iter().map(|[_, g]| g.usage.cpu("gateway")).collect();
    let typical = &rounds[median_index(&gateway_cpu)];
    let s = &format!("{} download", human_size(size));
    let gib = usage::gib(size);
    let mut rows = Vec::new();
    let mut out = serde_json::Map::new();
    for (way, ((label, ..), read)) in ways.iter().zip(typical).enumerate() {
        let walls: Vec<f64> = rounds.iter().map(|r| r[way].wall.as_secs_f64()).collect();
        let wall = median(walls.clone());
        rows.push(row(
            s,
            &format!("{label}: wall (median), curl / gateway / emulator CPU per GiB"),
            format!(
                "{:.0} MB/s; {:.2} / {:.2} / {:.2} s{}",
                mb_s(size, Duration::from_secs_f64(wall)),
                read.curl_cpu / gib,
                read.usage.cpu("gateway") / gib,
                read.usage.cpu("emulator") / gib,
                read.usage.busy_text()
            ),
            if *label == "gateway" {
                "gateway ≤ 0.5 s/GiB"
            } else {
                ""
            },
        ));
        out.insert(
            (*label).to_owned(),
            json!({"wall_s": wall, "walls_s": walls, "curl_cpu_s": read.curl_cpu, "usage": read.usage.json(size, &ctx.floors)}),
        );
    }
    rows.push(row(
        s,
        "gateway vs direct throughput",
        format!("{ratio:.2}× (median of {ROUNDS} interleaved)"),
        "≥ 0.90×",
    ));
    out.insert("ratio".into(), json!(ratio));
    out.insert("rounds".into(), json!(ROUNDS));
    out.insert("bytes".into(), json!(size));
    Ok((rows, Value::Object(out)))
}

/// One read of the file by `curl` into `/dev/null`.
struct Read {
    wall: Duration,
    /// curl's own user + system seconds.
    curl_cpu: f64,
    usage: Usage,
}

/// Reads `url` with `curl`, measuring `procs` meanwhile; fails unless curl succeeded.
async fn read_with_curl(
    (label, url, procs): (&'static str, &str, &[(&'static str, u32)]),
) -> Result<Read, String> {
    let m = Meter::start(procs);
    let started = Instant::now();
    let url = url.to_owned();
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
    let usage = m.finish();
    if !ran.1.success() {
        return Err(format!("{label} download: curl failed ({})", ran.1));
    }
    Ok(Read {
        wall,
        curl_cpu: ran.0,
        usage,
    })
}
