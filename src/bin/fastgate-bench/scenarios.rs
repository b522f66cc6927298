//! The five scenarios of the benchmark (DESIGN §7). Each returns its rows for the table and a
//! JSON object with every figure.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use fastgate::fastio;
use fastgate::web::format::human_size;
use serde_json::{Value, json};

use crate::clients::{self, Poll};
use crate::payload::File;
use crate::procs::{self, Emulator, Gateway};
use crate::usage::{Floors, Meter, Usage};

/// One table row: scenario, measure, value, target.
pub type Row = [String; 4];

/// Everything a scenario needs.
pub struct Ctx {
    pub bin: PathBuf,
    pub dir: PathBuf,
    pub http: reqwest::Client,
    pub big: File,
    pub big_sha: String,
    /// The floors of this run (SHA-256 pass, curl into a discard sink).
    pub floors: Floors,
}

/// The three processes of a measurement through the gateway.
pub fn all_three(emu: &Emulator, gw: &Gateway) -> [(&'static str, u32); 3] {
    [
        ("client", std::process::id()),
        ("gateway", gw.proc.pid()),
        ("emulator", emu.proc.pid()),
    ]
}

/// The two processes of a measurement straight to the emulator.
pub fn direct_two(emu: &Emulator) -> [(&'static str, u32); 2] {
    [("client", std::process::id()), ("emulator", emu.proc.pid())]
}

/// A row with the gateway's CPU per GiB against the SHA-256 floor.
pub fn cpu_row(s: &str, m: &str, usage: &Usage, bytes: u64, floors: &Floors, target: &str) -> Row {
    let per_gib = usage.cpu("gateway") / crate::usage::gib(bytes);
    row(
        s,
        m,
        format!(
            "{per_gib:.2} s/GiB = {:.2}× SHA-256 ({:.2} s/GiB)",
            per_gib / floors.sha256_s_per_gib,
            floors.sha256_s_per_gib
        ),
        target,
    )
}

pub fn mb_s(bytes: u64, d: Duration) -> f64 {
    bytes as f64 / 1_000_000.0 / d.as_secs_f64()
}

fn mib(bytes: u64) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}

/// One row of the table.
pub fn row(s: &str, m: &str, v: String, t: &str) -> Row {
    [s.to_owned(), m.to_owned(), v, t.to_owned()]
}

pub fn direct_client(emulator: &Emulator) -> Result<fastio::Client, String> {
    let mut config = fastio::ClientConfig::new(
        &emulator.base_url,
        secrecy::SecretString::from(procs::KEY.to_owned()),
    );
    config.stream_timeout = Duration::from_secs(1800);
    fastio::Client::new(config).map_err(|e| e.to_string())
}

/// Rounds of scenarios 1 and 7; their throughput ratios are medians over them.
pub const ROUNDS: usize = 5;

/// The position of the median of `values` (the upper middle for an even count); 0 for none.
pub fn median_index(values: &[f64]) -> usize {
    let mut order: Vec<usize> = (0..values.len()).collect();
    order.sort_by(|&a, &b| values[a].total_cmp(&values[b]));
    order.get(values.len() / 2).copied().unwrap_or(0)
}

/// The median of `values` (the mean of the middle two for an even count; 0 for none).
pub fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    let n = values.len();
    match n {
        0 => 0.0,
        _ if n % 2 == 1 => values[n / 2],
        _ => (values[n / 2 - 1] + values[n / 2]) / 2.0,
    }
}

/// 1: one big file, form and JS API through the gateway vs the same bytes straight upstream,
/// in [`ROUNDS`] interleaved rounds.
pub async fn throughput(
    ctx: &Ctx,
    emu: &Emulator,
    gw: &Gateway,
) -> Result<(Vec<Row>, Value), String> {
    let direct = direct_client(emu)?;
    let (size, sha) = (ctx.big.size, ctx.big_sha.as_str());
    let ws = &emu.workspace;
    // Each round runs the four uploads back to back, so a gateway run and its direct run see
    // the same machine load; the ratios are the medians of the rounds' own ratios.
    let mut rounds: Vec<[Usage; 4]> = Vec::new();
    for r in 1..=ROUNDS {
        let m = Meter::start(&direct_two(emu));
        let name = format!("direct-stream-{r}.bin");
        clients::direct_stream(&direct, ws, ctx.big, &name, sha).await?;
        let u_stream = m.finish();
        clients::purge_top_files(&direct, ws).await?;
        let m = Meter::start(&all_three(emu, gw));
        let name = format!("form-{r}.bin");
        let form = clients::gateway_form(&ctx.http, gw, ws, ctx.big, &name, sha).await;
        let u_form = m.finish();
        form?;
        clients::purge_top_files(&direct, ws).await?;
        let m = Meter::start(&direct_two(emu));
        let name = format!("direct-chunked-{r}.bin");
        let plan = (8 << 20, 3, Poll::LongPoll);
        clients::direct_chunked(&direct, ws, ctx.big, &name, sha, plan).await?;
        let u_chunk = m.finish();
        clients::purge_top_files(&direct, ws).await?;
        let m = Meter::start(&all_three(emu, gw));
        let name = format!("api-{r}.bin");
        let api = clients::gateway_api(&ctx.http, &gw.url, ws, ctx.big, &name, sha).await;
        let u_api = m.finish();
        api?;
        clients::purge_top_files(&direct, ws).await?;
        rounds.push([u_stream, u_form, u_chunk, u_api]);
    }
    let ratio = |direct: usize, via: usize| {
        median(
            rounds
                .iter()
                .map(|u| u[direct].wall.as_secs_f64() / u[via].wall.as_secs_f64())
                .collect(),
        )
    };
    let (form_ratio, api_ratio) = (ratio(0, 1), ratio(2, 3));
    // The per-process figures are those of the round with the median gateway CPU; peak RSS is
    // the highest of all rounds.
    let typical = |k: usize| -> Usage {
        let cpu: Vec<f64> = rounds
            .iter()
            .map(|u| u[k].cpu("gateway") + u[k].cpu("emulator"))
            .collect();
        rounds[median_index(&cpu)][k].clone()
    };
    let (u_stream, u_form, u_chunk, u_api) = (typical(0), typical(1), typical(2), typical(3));
    let peak = |k: usize| {
        rounds
            .iter()
            .map(|u| u[k].peak("gateway"))
            .max()
            .unwrap_or(0)
    };
    let (form_rss, api_rss) = (peak(1), peak(3));
    let walls = |k: usize| -> Vec<f64> { rounds.iter().map(|u| u[k].wall.as_secs_f64()).collect() };
    let (d_stream, form, d_chunk, api) = (
        Duration::from_secs_f64(median(walls(0))),
        Duration::from_secs_f64(median(walls(1))),
        Duration::from_secs_f64(median(walls(2))),
        Duration::from_secs_f64(median(walls(3))),
    );
    let floors = &ctx.floors;
    let s = &format!("{} upload", human_size(size));
    let rows = vec![
        row(
            s,
            "direct stream session (emulator)",
            format!("{:.0} MB/s", mb_s(size, d_stream)),
            "",
        ),
        row(
            s,
            "gateway form action",
            format!(
                "{:.0} MB/s = {form_ratio:.2}× direct (median of {ROUNDS} interleaved)",
                mb_s(size, form),
            ),
            "≥ 0.90×",
        ),
        row(
            s,
            "gateway peak RSS, form",
            format!("{:.1} MiB", mib(form_rss)),
            "< 64 MiB",
        ),
        cpu_row(s, "gateway CPU, form", &u_form, size, floors, "≤ 1.5×"),
        row(
            s,
            "form: wall and CPU per process",
            u_form.cell(size, floors),
            "",
        ),
        row(
            s,
            "direct stream: wall and CPU",
            u_stream.cell(size, floors),
            "",
        ),
        row(
            s,
            "direct chunked 8 MiB × 3 (emulator)",
            format!("{:.0} MB/s", mb_s(size, d_chunk)),
            "",
        ),
        row(
            s,
            "gateway JS API (8 MiB × 3)",
            format!(
                "{:.0} MB/s = {api_ratio:.2}× direct (median of {ROUNDS} interleaved)",
                mb_s(size, api),
            ),
            "≥ 0.90×",
        ),
        row(
            s,
            "gateway peak RSS, JS API",
            format!("{:.1} MiB", mib(api_rss)),
            "< 40 MiB",
        ),
        cpu_row(s, "gateway CPU, JS API", &u_api, size, floors, "≤ 1.5×"),
        row(
            s,
            "JS API: wall and CPU per process",
            u_api.cell(size, floors),
            "",
        ),
        row(
            s,
            "direct chunked: wall and CPU",
            u_chunk.cell(size, floors),
            "",
        ),
    ];
    let json = json!({
        "bytes": size,
        "direct_stream_s": d_stream.as_secs_f64(), "form_s": form.as_secs_f64(),
        "form_ratio": form_ratio, "form_peak_rss": form_rss,
        "direct_chunked_s": d_chunk.as_secs_f64(), "api_s": api.as_secs_f64(),
        "api_ratio": api_ratio, "api_peak_rss": api_rss, "rounds": ROUNDS,
        "walls_s": {"direct_stream": walls(0), "form": walls(1), "direct_chunked": walls(2), "api": walls(3)},
        "usage": {
            "direct_stream": u_stream.json(size, floors), "form": u_form.json(size, floors),
            "direct_chunked": u_chunk.json(size, floors), "api": u_api.json(size, floors),
        },
    });
    Ok((rows, json))
}

/// 2: the same file with 100 ms upstream latency: the JS API pipeline vs one chunk at a time.
pub async fn latency(ctx: &Ctx, emu: &Emulator, gw: &Gateway) -> Result<(Vec<Row>, Value), String> {
    let direct = direct_client(emu)?;
    let ws = &emu.workspace;
    let sha = ctx.big_sha.as_str();
    let pipeline =
        clients::gateway_api(&ctx.http, &gw.url, ws, ctx.big, "latency-api.bin", sha).await?;
    let sequential = clients::direct_chunked(
        &direct,
        ws,
        ctx.big,
        "latency-seq.bin",
        sha,
        (4 << 20, 1, Poll::Every(Duration::from_secs(2))),
    )
    .await?;
    let ratio = sequential.as_secs_f64() / pipeline.as_secs_f64();
    let s = "100 ms upstream latency";
    let rows = vec![
        row(
            s,
            "gateway JS API (8 MiB × 3, long-poll)",
            format!("{:.1} s", pipeline.as_secs_f64()),
            "",
        ),
        row(
            s,
            "sequential 4 MiB, 2 s poll (CLI strategy)",
            format!("{:.1} s", sequential.as_secs_f64()),
            "",
        ),
        row(s, "speed-up", format!("{ratio:.2}×"), "≥ 2.5×"),
    ];
    Ok((
        rows,
        json!({"pipeline_s": pipeline.as_secs_f64(), "sequential_s": sequential.as_secs_f64(), "ratio": ratio}),
    ))
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

/// 3: `GET /api/files` of a 1,000-item folder vs the direct listing call (one 500-item page).
pub async fn listing(ctx: &Ctx, emu: &Emulator, gw: &Gateway) -> Result<(Vec<Row>, Value), String> {
    let direct = direct_client(emu)?;
    let ws = &emu.workspace;
    let folder = direct
        .create_folder(ws, "root", "listing-1000")
        .await
        .map_err(|e| e.to_string())?
        .id;
    let names: Vec<String> = (0..1000).map(|i| format!("item-{i:04}")).collect();
    for batch in names.chunks(20) {
        let made = futures_util::future::join_all(
            batch.iter().map(|n| direct.create_folder(ws, &folder, n)),
        )
        .await;
        for m in made {
            m.map_err(|e| e.to_string())?;
        }
    }
    // Both sides are timed until the whole answer has arrived, and parsed after the clock stops:
    // the overhead is what the gateway adds to the wait, not how long a client takes to read a
    // bigger JSON document.
    let url = format!("{}/api/files/{ws}/{folder}?limit=500", gw.url);
    let direct_url = format!("{}/workspace/{ws}/storage/{folder}/list/", emu.base_url);
    let direct_query = [
        ("sort_by", "name"),
        ("sort_dir", "asc"),
        ("page_size", "500"),
        ("output", "standard"),
    ];
    let (mut via, mut straight) = (Vec::new(), Vec::new());
    for i in 0..420 {
        let t = Instant::now();
        let body = fetch_whole(ctx.http.get(&url)).await?;
        let through = t.elapsed().as_secs_f64() * 1000.0;
        let t = Instant::now();
        let direct_body = fetch_whole(
            ctx.http
                .get(&direct_url)
                .query(&direct_query)
                .bearer_auth(procs::KEY),
        )
        .await?;
        let plain = t.elapsed().as_secs_f64() * 1000.0;
        let items = |body: &[u8], key: &str| {
            serde_json::from_slice::<Value>(body)
                .ok()
                .and_then(|v| v[key].as_array().map(Vec::len))
        };
        let (ours, theirs) = (items(&body, "items"), items(&direct_body, "nodes"));
        if ours.is_none() || ours != theirs || ours == Some(0) {
            return Err(format!(
                "the gateway's page ({ours:?} items) and the direct page ({theirs:?}) differ"
            ));
        }
        if i >= 20 {
            via.push(through);
            straight.push(plain);
        }
    }
    via.sort_by(f64::total_cmp);
    straight.sort_by(f64::total_cmp);
    let (vm, v99) = (percentile(&via, 0.5), percentile(&via, 0.99));
    let (dm, d99) = (percentile(&straight, 0.5), percentile(&straight, 0.99));
    let s = "listing 1,000 items (500/page)";
    let rows = vec![
        row(
            s,
            "direct median / p99",
            format!("{dm:.2} / {d99:.2} ms"),
            "",
        ),
        row(
            s,
            "gateway median / p99",
            format!("{vm:.2} / {v99:.2} ms"),
            "",
        ),
        row(
            s,
            "overhead (median)",
            format!("{:.2} ms", vm - dm),
            "< 1 ms",
        ),
    ];
    Ok((
        rows,
        json!({"samples": via.len(), "direct_median_ms": dm, "direct_p99_ms": d99, "gateway_median_ms": vm, "gateway_p99_ms": v99, "overhead_median_ms": vm - dm}),
    ))
}

/// Sends `request` and reads its whole body; an error status is an error.
async fn fetch_whole(request: reqwest::RequestBuilder) -> Result<bytes::Bytes, String> {
    let response = request.send().await.map_err(|e| e.to_string())?;
    if !response.status().is_success() {
        return Err(format!("listing: HTTP {}", response.status()));
    }
    response.bytes().await.map_err(|e| e.to_string())
}

/// The gateway's in-flight budget in the bench (its default).
pub const BUDGET: u64 = 64 << 20;

/// 4: 50 concurrent 20 MiB uploads through the gateway, as form posts and through the JS API.
pub async fn concurrent(
    ctx: &Ctx,
    emu: &Emulator,
    gw: &Gateway,
) -> Result<(Vec<Row>, Value), String> {
    let files: Vec<(File, String)> = (0..50)
        .map(|i| {
            let f = File {
                seed: 1000 + i,
                size: 20 << 20,
            };
            (f, f.sha256())
        })
        .collect();
    let total = 50 * (20u64 << 20);
    let mut rows = Vec::new();
    let mut out = serde_json::Map::new();
    for path in ["form", "JS API"] {
        let m = Meter::start(&all_three(emu, gw));
        let uploads = files.iter().enumerate().map(|(i, (f, sha))| {
            let name = format!("many-{}-{i:02}.bin", path.replace(' ', "-"));
            async move {
                if path == "form" {
                    clients::gateway_form(&ctx.http, gw, &emu.workspace, *f, &name, sha).await
                } else {
                    clients::gateway_api(&ctx.http, &gw.url, &emu.workspace, *f, &name, sha).await
                }
            }
        });
        let results = futures_util::future::join_all(uploads).await;
        let usage = m.finish();
        let (took, peak) = (usage.wall, usage.peak("gateway"));
        let stored = results.iter().filter(|r| r.is_ok()).count();
        if let Some(Err(e)) = results.iter().find(|r| r.is_err()) {
            eprintln!("concurrent {path}: first failure: {e}");
        }
        let s = format!("50 × 20 MiB concurrent ({path})");
        let limit = mib(BUDGET + (32 << 20));
        rows.extend([
            row(
                &s,
                "stored with equal hashes",
                format!("{stored}/50"),
                "50/50",
            ),
            row(
                &s,
                "total time",
                format!(
                    "{:.1} s ({:.0} MB/s)",
                    took.as_secs_f64(),
                    mb_s(total, took)
                ),
                "",
            ),
            row(
                &s,
                "gateway peak RSS",
                format!("{:.1} MiB", mib(peak)),
                &format!("≤ budget + 32 = {limit:.0} MiB"),
            ),
            cpu_row(&s, "gateway CPU", &usage, total, &ctx.floors, "≤ 1.5×"),
        ]);
        let key = if path == "form" { "form" } else { "api" };
        out.insert(
            key.into(),
            json!({"stored": stored, "total_s": took.as_secs_f64(), "peak_rss": peak,
                   "usage": usage.json(total, &ctx.floors)}),
        );
    }
    // The form figures stay at the top level, as before.
    let form = out.get("form").cloned().unwrap_or(Value::Null);
    out.insert("stored".into(), form["stored"].clone());
    out.insert("total_s".into(), form["total_s"].clone());
    out.insert("peak_rss".into(), form["peak_rss"].clone());
    Ok((rows, Value::Object(out)))
}

/// Finds a `miniserve` binary on PATH or in `~/.cargo/bin`.
pub fn miniserve() -> Option<PathBuf> {
    let home = std::env::var("HOME")
        .ok()
        .map(|h| Path::new(&h).join(".cargo/bin/miniserve"));
    std::env::var("PATH")
        .ok()
        .into_iter()
        .flat_map(|p| {
            p.split(':')
                .map(|d| Path::new(d).join("miniserve"))
                .collect::<Vec<_>>()
        })
        .chain(home)
        .find(|p| p.is_file())
}

#[cfg(test)]
mod tests {
    use super::{median, median_index};

    #[test]
    fn the_median_round_is_the_middle_one_by_value_not_by_position() {
        assert_eq!(median_index(&[3.0, 1.0, 2.0]), 2);
        assert_eq!(median_index(&[4.0, 1.0, 3.0, 2.0]), 2);
        assert_eq!(median_index(&[]), 0);
        assert_eq!(median(vec![3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(vec![4.0, 1.0, 3.0, 2.0]), 2.5);
    }
}
