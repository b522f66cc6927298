//! Scenario 7, a download: the big file through the gateway's `/download/{ws}/{node}` vs the
//! same bytes straight from the emulator (`requestread` then `read`) and through a bare relay
//! ([`relay`]: what one more hop costs at the least), each read by `curl` into `/dev/null`, with
//! the CPU seconds of curl, the hop and the emulator, in [`ROUNDS`] interleaved rounds.

use std::process::Command;
use std::time::{Duration, Instant};

use fastgate::web::format::human_size;
use serde_json::{Value, json};

use crate::clients;
use crate::procs::{Emulator, Gateway};
use crate::relay;
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
    let upstream = emu
        .base_url
        .strip_prefix("http://")
        .and_then(|rest| rest.split('/').next())
        .ok_or("the emulator's URL has no host")?;
    let relay = relay::start(upstream)?;
    let relayed = straight.replacen(upstream, &relay.addr, 1);
    let ways = [
        Way::new("direct", &straight, None, emu),
        Way::new("gateway", &through, Some(("gateway", gw.proc.pid())), emu),
        Way::new("relay", &relayed, Some(("relay", relay.proc.pid())), emu),
    ];
    // Each round reads the file every way back to back, so they see the same machine load; one
    // read of each swung 0.67–0.89× between runs.
    let mut rounds: Vec<Vec<Read>> = Vec::new();
    for _ in 0..ROUNDS {
        let mut round = Vec::with_capacity(ways.len());
        for way in &ways {
            round.push(read_with_curl(way).await?);
        }
        rounds.push(round);
    }
    // Per round, the way's throughput against the direct read's: the median of those.
    let ratio_of = |way: usize| {
        median(
            rounds
                .iter()
                .map(|r| r[0].wall.as_secs_f64() / r[way].wall.as_secs_f64())
                .collect(),
        )
    };
    let (ratio, relay_ratio) = (ratio_of(1), ratio_of(2));
    // The per-process figures are those of the round with the median gateway CPU.
    let gateway_cpu: Vec<f64> = rounds.iter().map(|r| r[1].usage.cpu("gateway")).collect();
    let typical = &rounds[median_index(&gateway_cpu)];
    let s = &format!("{} download", human_size(size));
    let gib = usage::gib(size);
    let mut rows = Vec::new();
    let mut out = serde_json::Map::new();
    for (i, (way, read)) in ways.iter().zip(typical).enumerate() {
        let walls: Vec<f64> = rounds.iter().map(|r| r[i].wall.as_secs_f64()).collect();
        let wall = median(walls.clone());
        let hop = way.hop.map_or("-".to_owned(), |(name, _)| {
            format!("{name} {:.2}", read.usage.cpu(name) / gib)
        });
        rows.push(row(
            s,
            &format!("{}: wall (median), CPU s per GiB", way.label),
            format!(
                "{:.0} MB/s; curl {:.2} / {hop} / emulator {:.2}{}",
                mb_s(size, Duration::from_secs_f64(wall)),
                read.curl_cpu / gib,
                read.usage.cpu("emulator") / gib,
                read.usage.busy_text()
            ),
            if way.label == "gateway" {
                "gateway ≤ 0.5 s/GiB"
            } else {
                ""
            },
        ));
        out.insert(
            way.label.to_owned(),
            json!({"wall_s": wall, "walls_s": walls, "curl_cpu_s": read.curl_cpu, "usage": read.usage.json(size, &ctx.floors)}),
        );
    }
    rows.push(row(
        s,
        "bare relay vs direct throughput: the floor of one more hop",
        format!("{relay_ratio:.2}× (median of {ROUNDS} interleaved)"),
        "",
    ));
    rows.push(row(
        s,
        "gateway vs direct throughput",
        format!("{ratio:.2}× (median of {ROUNDS} interleaved)"),
        "≥ 0.90×",
    ));
    out.insert("ratio".into(), json!(ratio));
    out.insert("relay_ratio".into(), json!(relay_ratio));
    out.insert("rounds".into(), json!(ROUNDS));
    out.insert("bytes".into(), json!(size));
    Ok((rows, Value::Object(out)))
}

/// One way to read the file: its URL, and the processes measured meanwhile.
struct Way {
    label: &'static str,
    url: String,
    /// The process between curl and the emulator, if any.
    hop: Option<(&'static str, u32)>,
    emulator: u32,
}

impl Way {
    fn new(
        label: &'static str,
        url: &str,
        hop: Option<(&'static str, u32)>,
        emu: &Emulator,
    ) -> Self {
        Self {
            label,
            url: url.to_owned(),
            hop,
            emulator: emu.proc.pid(),
        }
    }

    /// The hop, if any, and the emulator.
    fn procs(&self) -> Vec<(&'static str, u32)> {
        self.hop
            .into_iter()
            .chain([("emulator", self.emulator)])
            .collect()
    }
}

/// One read of the file by `curl` into `/dev/null`.
struct Read {
    wall: Duration,
    /// curl's own user + system seconds.
    curl_cpu: f64,
    usage: Usage,
}

/// Reads `way`'s URL with `curl`, measuring its processes meanwhile; fails unless curl succeeded.
async fn read_with_curl(way: &Way) -> Result<Read, String> {
    let m = Meter::start(&way.procs());
    let started = Instant::now();
    let url = way.url.clone();
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
        return Err(format!("{} download: curl failed ({})", way.label, ran.1));
    }
    Ok(Read {
        wall,
        curl_cpu: ran.0,
        usage,
    })
}
