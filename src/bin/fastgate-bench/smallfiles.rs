//! Scenario 6, many small files: 2,000 files of 16 KiB in one form post and through the JS API,
//! against the official CLI's strategy (one single-call upload at a time, 2 s status polls; run
//! on a sample and given as files per second) and against the best the contract allows straight
//! to the emulator (batch uploads of 200, then each file long-polled and verified, 64 at once).
//! Every file ends stored with its SHA-256 checked.

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use fastgate::fastio::{self, BatchFile, BatchOutcome, UploadTarget};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use tokio::sync::Semaphore;

use crate::clients::verify_stored;
use crate::payload::File;
use crate::procs::{self, Emulator, Gateway};
use crate::scenarios::{Ctx, Row, all_three, direct_client, direct_two, row};
use crate::usage::Meter;

/// Bytes per file.
const SIZE: u64 = 16 << 10;
/// Files uploaded one at a time for the CLI strategy (its rate is extrapolated).
const CLI_SAMPLE: usize = 10;
/// Files the bench's JS client sends at once (the API allows any number; `upload.js` sends 2).
const JS_AT_ONCE: usize = 64;
/// Files the bench's JS client has waiting for their receipt at once: a one-call upload's PUT
/// answers once its chunk is checked, and `complete` waits while Fast.io stores it.
const JS_WAITS_AT_ONCE: usize = 256;

struct Small {
    name: String,
    bytes: Bytes,
    sha: String,
}

fn files(count: usize, tag: &str) -> Vec<Small> {
    (0..count)
        .map(|i| {
            let bytes = File {
                seed: 50_000 + i as u64,
                size: SIZE,
            }
            .range(0, SIZE as usize);
            Small {
                name: format!("{tag}-{i:04}.bin"),
                sha: hex::encode(Sha256::digest(&bytes)),
                bytes,
            }
        })
        .collect()
}

/// A fresh emulator (full rate-limit buckets: 10,000 requests a minute per endpoint family by
/// default, §3) and gateway for each measurement, so one does not pay for the last one's calls.
fn fresh(ctx: &Ctx, latency_ms: u64) -> Result<(Emulator, Gateway), String> {
    let emu = procs::emulator(&ctx.bin, &ctx.dir, latency_ms)?;
    let gw = procs::gateway(&ctx.bin, &ctx.dir, &emu)?;
    Ok((emu, gw))
}

/// Runs the scenario with `latency_ms` of upstream latency (the emulator's `--latency-ms`).
pub async fn small_files(
    ctx: &Ctx,
    latency_ms: u64,
    count: usize,
) -> Result<(Vec<Row>, Value), String> {
    let s = format!("{count} × 16 KiB, +{latency_ms} ms upstream");
    let mut rows = Vec::new();
    let mut out = serde_json::Map::new();
    let total = count as u64 * SIZE;

    let (emu, gw) = fresh(ctx, latency_ms)?;
    let (emu, gw, ws) = (&emu, &gw, &emu.workspace.clone());
    let form_files = files(count, &format!("form{latency_ms}"));
    let m = Meter::start(&all_three(emu, gw));
    let form = form_post(ctx, gw, ws, &form_files).await;
    let u = m.finish();
    let form = form.map(|()| u.wall);
    push(
        &mut rows,
        &mut out,
        &s,
        "form post (gateway)",
        form,
        count,
        "< 40 s at +100 ms; ≥ 300 files/s at +0",
    );
    out.insert("form_usage".into(), u.json(total, &ctx.floors));

    let (emu, gw) = fresh(ctx, latency_ms)?;
    let (emu, gw, ws) = (&emu, &gw, &emu.workspace.clone());
    let js_files = files(count, &format!("js{latency_ms}"));
    let m = Meter::start(&all_three(emu, gw));
    let js = js_path(ctx, gw, ws, &js_files).await;
    let u = m.finish();
    let js = js.map(|()| u.wall);
    push(
        &mut rows,
        &mut out,
        &s,
        &format!("JS API, {JS_AT_ONCE} sending + {JS_WAITS_AT_ONCE} waiting at once (gateway)"),
        js,
        count,
        "< 40 s at +100 ms",
    );
    out.insert("js_usage".into(), u.json(total, &ctx.floors));

    let (emu, _gw) = fresh(ctx, latency_ms)?;
    let (emu, ws) = (&emu, &emu.workspace.clone());
    let direct = direct_client(emu)?;
    let best_files = files(count, &format!("best{latency_ms}"));
    let m = Meter::start(&direct_two(emu));
    let best = best_direct(&direct, ws, &best_files).await;
    let u = m.finish();
    let best = best.map(|()| u.wall);
    push(
        &mut rows,
        &mut out,
        &s,
        "best the contract allows (direct batch 200 + 64 waits)",
        best,
        count,
        "",
    );

    let cli_files = files(CLI_SAMPLE, &format!("cli{latency_ms}"));
    let cli = cli_strategy(&direct, ws, &cli_files).await;
    push(
        &mut rows,
        &mut out,
        &s,
        &format!("CLI strategy: one at a time, 2 s polls ({CLI_SAMPLE}-file sample)"),
        cli,
        CLI_SAMPLE,
        "",
    );
    let rate = |out: &serde_json::Map<String, Value>, key: &str| {
        out.get(key).and_then(|v| v["files_per_s"].as_f64())
    };
    let cli_key = format!("CLI strategy: one at a time, 2 s polls ({CLI_SAMPLE}-file sample)");
    let (form_rate, cli_rate, best_rate) = (
        rate(&out, "form post (gateway)"),
        rate(&out, &cli_key),
        rate(
            &out,
            "best the contract allows (direct batch 200 + 64 waits)",
        ),
    );
    if let (Some(f), Some(c)) = (form_rate, cli_rate) {
        rows.push(row(
            &s,
            "form post vs CLI strategy",
            format!("{:.1}×", f / c),
            "≥ 10×",
        ));
        out.insert("form_vs_cli".into(), json!(f / c));
    }
    if let (Some(f), Some(b)) = (form_rate, best_rate) {
        rows.push(row(
            &s,
            "form post vs best direct",
            format!("{:.2}×", f / b),
            "",
        ));
        out.insert("form_vs_best".into(), json!(f / b));
    }
    Ok((rows, Value::Object(out)))
}

fn push(
    rows: &mut Vec<Row>,
    out: &mut serde_json::Map<String, Value>,
    s: &str,
    measure: &str,
    took: Result<Duration, String>,
    count: usize,
    target: &str,
) {
    match took {
        Ok(d) => {
            let rate = count as f64 / d.as_secs_f64();
            rows.push(row(
                s,
                measure,
                format!("{:.1} s = {rate:.0} files/s", d.as_secs_f64()),
                target,
            ));
            out.insert(
                measure.into(),
                json!({"files": count, "s": d.as_secs_f64(), "files_per_s": rate}),
            );
        }
        Err(e) => {
            eprintln!("{s}: {measure}: {e}");
            rows.push(row(
                s,
                measure,
                format!("failed: {}", e.chars().take(60).collect::<String>()),
                target,
            ));
            out.insert(measure.into(), json!({"error": e}));
        }
    }
}

/// Every file in one multipart post to the folder's `?/upload` action; each outcome checked.
async fn form_post(ctx: &Ctx, gw: &Gateway, ws: &str, files: &[Small]) -> Result<(), String> {
    let mut form = reqwest::multipart::Form::new();
    for f in files {
        let part =
            reqwest::multipart::Part::stream_with_length(f.bytes.clone(), f.bytes.len() as u64)
                .file_name(f.name.clone())
                .mime_str("application/octet-stream")
                .map_err(|e| e.to_string())?;
        form = form.part("file", part);
    }
    let response = ctx
        .http
        .post(format!("{}/w/{ws}/root?/upload", gw.url))
        .header("origin", &gw.origin)
        .header("accept", "application/json")
        .timeout(Duration::from_secs(1800))
        .multipart(form)
        .send()
        .await
        .map_err(|e| e.to_string())?;
    let status = response.status();
    let body: Value = response.json().await.map_err(|e| e.to_string())?;
    let outcomes = body["data"]["files"].as_array().ok_or_else(|| {
        format!(
            "HTTP {status}: no files in {}",
            body.to_string().chars().take(300).collect::<String>()
        )
    })?;
    if outcomes.len() != files.len() {
        return Err(format!(
            "{} outcomes for {} files",
            outcomes.len(),
            files.len()
        ));
    }
    let text = outcomes.iter().map(Value::to_string).collect::<Vec<_>>();
    for (f, o) in files.iter().zip(&text) {
        if !o.contains(&f.sha) {
            return Err(format!(
                "{}: {}",
                f.name,
                o.chars().take(300).collect::<String>()
            ));
        }
    }
    Ok(())
}

/// Each file through the JSON upload API (create, one chunk, complete): `JS_AT_ONCE` files
/// sending at once, and up to `JS_WAITS_AT_ONCE` waiting for their receipt.
async fn js_path(ctx: &Ctx, gw: &Gateway, ws: &str, files: &[Small]) -> Result<(), String> {
    let sending = Arc::new(Semaphore::new(JS_AT_ONCE));
    let waiting = Arc::new(Semaphore::new(JS_WAITS_AT_ONCE));
    let tasks = files.iter().map(|f| {
        let (sending, waiting) = (sending.clone(), waiting.clone());
        async move {
            let _wait = waiting.acquire().await.map_err(|e| e.to_string())?;
            let send = sending.acquire().await.map_err(|e| e.to_string())?;
            one_js(ctx, gw, ws, f, send)
                .await
                .map_err(|e| format!("{}: {e}", f.name))
        }
    });
    for r in futures_util::future::join_all(tasks).await {
        r?;
    }
    Ok(())
}

/// One file: create and PUT under `send`, which is given back before the wait for the receipt.
async fn one_js(
    ctx: &Ctx,
    gw: &Gateway,
    ws: &str,
    f: &Small,
    send: tokio::sync::SemaphorePermit<'_>,
) -> Result<(), String> {
    use base64::Engine as _;
    let created: Value = ctx
        .http
        .post(format!("{}/api/uploads", gw.url))
        .json(&json!({"workspace": ws, "folder": "root", "name": f.name, "size": SIZE}))
        .send()
        .await
        .map_err(|e| e.to_string())?
        .json()
        .await
        .map_err(|e| e.to_string())?;
    let id = created["id"]
        .as_str()
        .ok_or_else(|| format!("create: {created}"))?;
    let token = created["token"].as_str().ok_or("no token")?;
    let digest = base64::engine::general_purpose::STANDARD.encode(Sha256::digest(&f.bytes));
    let put = ctx
        .http
        .put(format!("{}/api/uploads/{id}/chunks/1", gw.url))
        .header("upload-token", token)
        .header("content-digest", format!("sha-256=:{digest}:"))
        .body(f.bytes.clone())
        .send()
        .await
        .map_err(|e| e.to_string())?;
    if !put.status().is_success() {
        return Err(format!("chunk: HTTP {}", put.status()));
    }
    drop(send);
    let done: Value = ctx
        .http
        .post(format!("{}/api/uploads/{id}/complete", gw.url))
        .header("upload-token", token)
        .send()
        .await
        .map_err(|e| e.to_string())?
        .json()
        .await
        .map_err(|e| e.to_string())?;
    if !done.to_string().contains(&f.sha) {
        return Err(format!("complete: {done}"));
    }
    Ok(())
}

fn root(ws: &str) -> UploadTarget {
    UploadTarget {
        workspace: ws.to_owned(),
        folder: "root".to_owned(),
    }
}

/// Batches of 200 straight to the emulator, then every file long-polled and verified, 64 at once.
async fn best_direct(client: &fastio::Client, ws: &str, files: &[Small]) -> Result<(), String> {
    let gate = Arc::new(Semaphore::new(64));
    let mut settles = Vec::new();
    let batches = files.chunks(200).map(|chunk| async move {
        let entries: Vec<BatchFile> = chunk
            .iter()
            .map(|f| BatchFile {
                name: f.name.clone(),
                body: f.bytes.clone(),
                sha256: f.sha.clone(),
            })
            .collect();
        client
            .upload_batch(&root(ws), &entries)
            .await
            .map(|o| (chunk, o))
            .map_err(|e| e.to_string())
    });
    for done in futures_util::future::join_all(batches).await {
        let (chunk, outcomes) = done?;
        for (f, o) in chunk.iter().zip(outcomes) {
            let BatchOutcome::Accepted { upload_id, .. } = o else {
                return Err(format!("{}: {o:?}", f.name));
            };
            let gate = gate.clone();
            settles.push(async move {
                let _turn = gate.acquire().await.map_err(|e| e.to_string())?;
                let session = client
                    .wait_until_stored(&upload_id, Duration::from_secs(600))
                    .await
                    .map_err(|e| e.to_string())?;
                verify_stored(client, ws, session, &f.sha).await
            });
        }
    }
    for r in futures_util::future::join_all(settles).await {
        r?;
    }
    Ok(())
}

/// The official CLI: one single-call upload at a time; when it names no node yet, the status is
/// asked every 2 s until stored.
async fn cli_strategy(
    client: &fastio::Client,
    ws: &str,
    files: &[Small],
) -> Result<Duration, String> {
    let started = Instant::now();
    for f in files {
        let single = client
            .upload_single(&root(ws), &f.name, f.bytes.clone())
            .await
            .map_err(|e| e.to_string())?;
        let node = match single.new_file_id {
            Some(node) => node,
            None => loop {
                tokio::time::sleep(Duration::from_secs(2)).await;
                let session = client
                    .upload_details(&single.upload_id, None)
                    .await
                    .map_err(|e| e.to_string())?;
                if session.status.as_str() == "stored" {
                    break session.new_file_id.ok_or("stored without a node")?;
                }
                if session.status.is_failed() {
                    return Err(format!("{}: {}", f.name, session.status.as_str()));
                }
            },
        };
        let stored = client.node(ws, &node).await.map_err(|e| e.to_string())?;
        if !stored.hash.is_some_and(|h| h.eq_ignore_ascii_case(&f.sha)) {
            return Err(format!("{}: hash differs", f.name));
        }
    }
    Ok(started.elapsed())
}
